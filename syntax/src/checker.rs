//! The per-file state that makes re-checks incremental: the last text and its tree. A new
//! text is diffed against the last one (common prefix and suffix), the difference goes to
//! `Tree::edit`, and tree-sitter reparses only around it. Every parse is bounded in bytes
//! and time; a parse that is skipped or stopped drops all state, so the next check starts
//! from scratch and never resumes a half parse.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use collab_protocol::Marker;
use tree_sitter::{InputEdit, ParseOptions, Parser, Point, Tree};

use crate::{Language, markers};

/// What one check may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Larger texts are not parsed at all.
    pub max_bytes: usize,
    /// Wall-clock bound of one parse (incremental or full).
    pub max_parse_time: Duration,
    /// More markers than this help no one; the first ones are kept.
    pub max_markers: usize,
}

impl Default for Limits {
    /// 1 MiB, 100 ms, 100 markers: a 10,000-line file parses fully in well under the time.
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 20,
            max_parse_time: Duration::from_millis(100),
            max_markers: 100,
        }
    }
}

/// Why a text got no markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    #[error("text of {bytes} bytes is over the limit of {max}")]
    TooBig { bytes: usize, max: usize },
    #[error("parse stopped after {after:?}")]
    TimedOut { after: Duration },
}

/// One open file's parser and last tree. `Send`, so a worker pool can own it.
pub struct SyntaxChecker {
    language: Language,
    parser: Parser,
    /// The last text checked and its tree (already consistent: no pending edit).
    last: Option<(String, Tree)>,
}

impl SyntaxChecker {
    pub fn new(language: Language) -> Self {
        SyntaxChecker {
            language,
            parser: new_parser(language),
            last: None,
        }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// Checks `text`, reparsing incrementally from the last tree, and keeps `text` (moved,
    /// not copied) for the next check. Always agrees with [`check_once`].
    pub fn check(&mut self, text: String, limits: &Limits) -> Result<Vec<Marker>, Skipped> {
        let old = self.last.take();
        if text.len() > limits.max_bytes {
            self.parser.reset();
            return Err(too_big(&text, limits));
        }
        let tree = match old {
            // The same text again: its tree is still right, no parse needed.
            Some((old_text, tree)) if old_text == text => tree,
            Some((old_text, mut tree)) => {
                tree.edit(&input_edit(&old_text, &text));
                parse(&mut self.parser, &text, Some(&tree), limits)?
            }
            None => parse(&mut self.parser, &text, None, limits)?,
        };
        let markers = markers::collect(&tree, &text, limits.max_markers);
        self.last = Some((text, tree));
        Ok(markers)
    }
}

/// A full parse with no kept state: the reference `SyntaxChecker::check` agrees with.
pub fn check_once(language: Language, text: &str, limits: &Limits) -> Result<Vec<Marker>, Skipped> {
    if text.len() > limits.max_bytes {
        return Err(too_big(text, limits));
    }
    let mut parser = new_parser(language);
    let tree = parse(&mut parser, text, None, limits)?;
    Ok(markers::collect(&tree, text, limits.max_markers))
}

fn new_parser(language: Language) -> Parser {
    let mut parser = Parser::new();
    // Only fails on an ABI mismatch between tree-sitter and a grammar crate, fixed at
    // build time and covered by the `every_grammar_loads` test: not input-dependent.
    parser
        .set_language(&language.grammar())
        .expect("grammar ABI matches tree-sitter");
    parser
}

fn too_big(text: &str, limits: &Limits) -> Skipped {
    Skipped::TooBig {
        bytes: text.len(),
        max: limits.max_bytes,
    }
}

/// Parses `text` (incrementally when `old` is given, already edited), stopping at the
/// deadline. A stopped parser is reset so it never resumes the abandoned parse.
fn parse(
    parser: &mut Parser,
    text: &str,
    old: Option<&Tree>,
    limits: &Limits,
) -> Result<Tree, Skipped> {
    let bytes = text.as_bytes();
    let deadline = Instant::now() + limits.max_parse_time;
    let mut progress = |_: &tree_sitter::ParseState| {
        if Instant::now() >= deadline {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = ParseOptions::new().progress_callback(&mut progress);
    let mut read = |offset: usize, _: Point| bytes.get(offset..).unwrap_or(&[]);
    match parser.parse_with_options(&mut read, old, Some(options)) {
        Some(tree) => Ok(tree),
        None => {
            parser.reset();
            Err(Skipped::TimedOut {
                after: limits.max_parse_time,
            })
        }
    }
}

/// The edit that turns `old` into `new`: everything between their common prefix and
/// common suffix was replaced. Offsets sit on char boundaries of both texts.
fn input_edit(old: &str, new: &str) -> InputEdit {
    let (a, b) = (old.as_bytes(), new.as_bytes());
    let mut prefix = common_prefix(a, b);
    while !(old.is_char_boundary(prefix) && new.is_char_boundary(prefix)) {
        prefix -= 1;
    }
    let room = a.len().min(b.len()) - prefix;
    let mut suffix = common_suffix(&a[a.len() - room..], &b[b.len() - room..]);
    while !(old.is_char_boundary(a.len() - suffix) && new.is_char_boundary(b.len() - suffix)) {
        suffix -= 1;
    }
    let start_position = point_after(Point::default(), &a[..prefix]);
    let (old_end, new_end) = (a.len() - suffix, b.len() - suffix);
    InputEdit {
        start_byte: prefix,
        old_end_byte: old_end,
        new_end_byte: new_end,
        start_position,
        old_end_position: point_after(start_position, &a[prefix..old_end]),
        new_end_position: point_after(start_position, &b[prefix..new_end]),
    }
}

/// Comparing in blocks lets the slice `==` (a memcmp) skip long equal runs quickly.
const BLOCK: usize = 256;

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= len && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    i + a[i..len]
        .iter()
        .zip(&b[i..len])
        .take_while(|(x, y)| x == y)
        .count()
}

fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let (a, b) = (&a[a.len() - len..], &b[b.len() - len..]);
    let mut n = 0;
    while n + BLOCK <= len && a[len - n - BLOCK..len - n] == b[len - n - BLOCK..len - n] {
        n += BLOCK;
    }
    n + a[..len - n]
        .iter()
        .rev()
        .zip(b[..len - n].iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// tree-sitter's point after `bytes` starting at `from`: rows split at `\n` only,
/// columns count bytes.
fn point_after(from: Point, bytes: &[u8]) -> Point {
    match bytes.iter().rposition(|&b| b == b'\n') {
        Some(last) => Point {
            row: from.row + bytes.iter().filter(|&&b| b == b'\n').count(),
            column: bytes.len() - last - 1,
        },
        None => Point {
            row: from.row,
            column: from.column + bytes.len(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_of_a_replacement_in_the_middle() {
        let edit = input_edit("ab\ncd\nef", "ab\nc😀\nxd\nef");
        assert_eq!(edit.start_byte, 4);
        assert_eq!(edit.old_end_byte, 4);
        assert_eq!(edit.new_end_byte, 10);
        assert_eq!(edit.start_position, Point { row: 1, column: 1 });
        assert_eq!(edit.old_end_position, Point { row: 1, column: 1 });
        assert_eq!(edit.new_end_position, Point { row: 2, column: 1 });
    }

    #[test]
    fn edit_offsets_stay_on_char_boundaries() {
        // "é" (c3 a9) to "è" (c3 a8): the shared lead byte must not split the edit.
        let edit = input_edit("xéy", "xèy");
        assert_eq!(
            (edit.start_byte, edit.old_end_byte, edit.new_end_byte),
            (1, 3, 3)
        );
        // Overlapping prefix and suffix ("aa" to "aaa") never cross.
        let edit = input_edit("aa", "aaa");
        assert_eq!(
            (edit.start_byte, edit.old_end_byte, edit.new_end_byte),
            (2, 2, 3)
        );
    }

    #[test]
    fn long_prefixes_and_suffixes() {
        let old = format!("{}X{}", "a".repeat(1000), "b".repeat(700));
        let new = format!("{}YZ{}", "a".repeat(1000), "b".repeat(700));
        let edit = input_edit(&old, &new);
        assert_eq!(
            (edit.start_byte, edit.old_end_byte, edit.new_end_byte),
            (1000, 1001, 1002)
        );
    }

    /// The edit, checked against a naive recomputation on random text pairs.
    #[test]
    fn random_edits_are_exact() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};

        fn naive_point(text: &str, byte: usize) -> Point {
            let before = &text.as_bytes()[..byte];
            let row = before.iter().filter(|&&b| b == b'\n').count();
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            Point {
                row,
                column: byte - line_start,
            }
        }
        let alphabet = ["a", "\n", "\r", "\r\n", "é", "è", "中", "😀", "(", " "];
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..5000 {
            let random_text = |rng: &mut StdRng, len: usize| -> String {
                (0..len)
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                    .collect()
            };
            let (len_a, len_b, len_c) = (
                rng.random_range(0..30),
                rng.random_range(0..4),
                rng.random_range(0..30),
            );
            let (head, tail) = (random_text(&mut rng, len_a), random_text(&mut rng, len_c));
            let old = format!("{head}{}{tail}", random_text(&mut rng, len_b));
            let new = format!("{head}{}{tail}", random_text(&mut rng, len_b));
            let edit = input_edit(&old, &new);
            let (start, old_end, new_end) = (edit.start_byte, edit.old_end_byte, edit.new_end_byte);
            assert!(start <= old_end && start <= new_end, "{old:?} {new:?}");
            assert_eq!(old[..start], new[..start]);
            assert_eq!(old[old_end..], new[new_end..]);
            assert_eq!(old.len() - old_end, new.len() - new_end);
            assert_eq!(edit.start_position, naive_point(&new, start));
            assert_eq!(edit.start_position, naive_point(&old, start));
            assert_eq!(edit.old_end_position, naive_point(&old, old_end));
            assert_eq!(edit.new_end_position, naive_point(&new, new_end));
        }
    }

    #[test]
    fn checker_is_send() {
        fn send<T: Send>() {}
        send::<SyntaxChecker>();
    }
}
