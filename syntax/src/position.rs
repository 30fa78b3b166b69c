//! Byte offsets to Monaco positions. tree-sitter counts bytes and splits rows at `\n`
//! only; Monaco splits lines at `\r\n`, `\n` and a lone `\r` and counts UTF-16 units, so
//! markers take their lines and columns from this index, never from tree-sitter's points.

/// A 1-based Monaco line and 1-based UTF-16 column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub line: u32,
    pub column: u32,
}

/// Where each Monaco line of one text starts and where its content ends (before the break).
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    /// Byte offset of each line's first byte, ascending; `starts[0] == 0`.
    starts: Vec<usize>,
    /// Byte offset of each line's end, excluding its line break.
    ends: Vec<usize>,
}

/// How far back a zero-width range looks for a character to show (keeps the cost bounded
/// on files of blank lines).
const LOOK_BACK_BYTES: usize = 4096;

impl<'t> LineIndex<'t> {
    pub fn new(text: &'t str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut ends = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    ends.push(i);
                    starts.push(i + 1);
                }
                b'\r' => {
                    ends.push(i);
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    starts.push(i + 1);
                }
                _ => {}
            }
            i += 1;
        }
        ends.push(bytes.len());
        LineIndex { text, starts, ends }
    }

    /// The 0-based line holding `byte` and `byte` clamped into that line's content, on a
    /// char boundary (so never inside a line break or a UTF-8 sequence).
    fn locate(&self, byte: usize) -> (usize, usize) {
        let byte = floor_char_boundary(self.text, byte.min(self.text.len()));
        let line = self.starts.partition_point(|&start| start <= byte) - 1;
        (line, byte.min(self.ends[line]))
    }

    /// The Monaco position of `byte`.
    pub fn position(&self, byte: usize) -> Position {
        let (line, byte) = self.locate(byte);
        let column: usize = self.text[self.starts[line]..byte]
            .chars()
            .map(char::len_utf16)
            .sum();
        Position {
            line: saturating_u32(line + 1),
            column: saturating_u32(column + 1),
        }
    }

    /// The byte where the content of `byte`'s line ends.
    pub fn line_end(&self, byte: usize) -> usize {
        let (line, _) = self.locate(byte);
        self.ends[line]
    }

    /// A byte range a user can see for a zero-width problem at `byte` (a MISSING token):
    /// the character there if it is not blank, else the last non-blank character before
    /// it (the end of the statement that lacks the token), else whatever is there.
    pub fn visible_range(&self, byte: usize) -> (usize, usize) {
        let (line, byte) = self.locate(byte);
        let next = self.text[byte..self.ends[line]].chars().next();
        if let Some(c) = next.filter(|c| !c.is_whitespace()) {
            return (byte, byte + c.len_utf8());
        }
        let from = floor_char_boundary(self.text, byte.saturating_sub(LOOK_BACK_BYTES));
        let before = self.text[from..byte]
            .char_indices()
            .rev()
            .find(|(_, c)| !c.is_whitespace());
        if let Some((i, c)) = before {
            return (from + i, from + i + c.len_utf8());
        }
        match next {
            Some(c) => (byte, byte + c.len_utf8()),
            None => (byte, byte),
        }
    }
}

fn floor_char_boundary(text: &str, mut byte: usize) -> usize {
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    byte
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(index: &LineIndex, byte: usize) -> (u32, u32) {
        let p = index.position(byte);
        (p.line, p.column)
    }

    #[test]
    fn splits_lines_like_monaco() {
        let text = "a\nb\r\nc\rd";
        let index = LineIndex::new(text);
        assert_eq!(pos(&index, 0), (1, 1));
        assert_eq!(pos(&index, 1), (1, 2)); // the `\n` itself: end of line 1
        assert_eq!(pos(&index, 2), (2, 1));
        assert_eq!(pos(&index, 4), (2, 2)); // between `\r` and `\n`: clamped to line end
        assert_eq!(pos(&index, 5), (3, 1));
        assert_eq!(pos(&index, 7), (4, 1));
        assert_eq!(pos(&index, 8), (4, 2));
        assert_eq!(pos(&index, 99), (4, 2));
    }

    #[test]
    fn counts_utf16_units() {
        // "é" is 2 bytes/1 unit, "中" 3 bytes/1 unit, "😀" 4 bytes/2 units.
        let text = "é中😀x";
        let index = LineIndex::new(text);
        assert_eq!(pos(&index, 2), (1, 2));
        assert_eq!(pos(&index, 5), (1, 3));
        assert_eq!(pos(&index, 9), (1, 5));
        // Inside the emoji: floored to its start, never inside the surrogate pair.
        assert_eq!(pos(&index, 7), (1, 3));
    }

    #[test]
    fn zero_width_ranges_become_visible() {
        let text = "let x = 1\n\n";
        let index = LineIndex::new(text);
        assert_eq!(index.visible_range(4), (4, 5)); // `x`
        assert_eq!(index.visible_range(9), (8, 9)); // end of line: the `1` before
        assert_eq!(index.visible_range(11), (8, 9)); // end of file after blank lines
        assert_eq!(LineIndex::new("").visible_range(0), (0, 0));
        assert_eq!(LineIndex::new("a😀").visible_range(5), (1, 5));
    }
}
