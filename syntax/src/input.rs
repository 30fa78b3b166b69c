//! The bytes tree-sitter reads. Monaco shows a lone `\r` as a line break, but several
//! grammars do not end a line comment there (Python's `#`, Rust's `//`), so a file with
//! lone `\r` breaks would look like one long comment. Each lone `\r` is read as `\n`:
//! the same length, so every byte offset stays valid for the original text.

use std::borrow::Cow;

/// `text` as tree-sitter should see it; borrowed (no copy) unless it has a lone `\r`.
pub(crate) fn view(text: &str) -> Cow<'_, [u8]> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b'\r') || !has_lone_cr(bytes) {
        return Cow::Borrowed(bytes);
    }
    let mut out = bytes.to_vec();
    for i in 0..out.len() {
        if out[i] == b'\r' && out.get(i + 1) != Some(&b'\n') {
            out[i] = b'\n';
        }
    }
    Cow::Owned(out)
}

fn has_lone_cr(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lone_carriage_returns_change() {
        assert!(matches!(view("a\r\nb\n"), Cow::Borrowed(_)));
        assert_eq!(&*view("a\rb\r\nc\r"), b"a\nb\r\nc\n");
        assert_eq!(&*view("\r\r\n"), b"\n\r\n");
    }
}
