//! An outside change as edits of the live text: never a whole-text replace.
//!
//! The base is the text last synced with the source (read from it or written to it). The
//! change is diff(base, file); the live text has moved on from the base too (typing since
//! the sync), by diff(base, live). Each hunk of the change is carried over to the live text
//! through the second diff: a base character that still stands in the live text is found
//! there; an insertion goes where its base position now is. Only base characters the file
//! removed are deleted, so whatever was typed meanwhile survives (collabmd #32 lost it by
//! diffing against the live text). Positions come out in UTF-16 code units, the document's
//! offset kind. Sans-IO.

use std::time::{Duration, Instant};

use similar::{Algorithm, DiffOp, capture_diff_slices_deadline};

/// Longest a merge's diffs should take (the caller turns it into a deadline); past it a
/// diff is coarser (still correct, larger hunks).
pub const DIFF_BUDGET: Duration = Duration::from_secs(2);

/// One edit of the live text, in UTF-16 code units of the text as it is when the edit is
/// applied (the edits of one merge apply in order, back to front).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Splice {
    Delete { at: u32, len: u32 },
    Insert { at: u32, text: String },
}

/// An edit in characters of the live text before any edit.
enum Step {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
}

impl Step {
    fn at(&self) -> usize {
        match self {
            Step::Delete { at, .. } | Step::Insert { at, .. } => *at,
        }
    }
}

fn diff(old: &[char], new: &[char], deadline: Instant) -> Vec<DiffOp> {
    capture_diff_slices_deadline(Algorithm::Myers, old, new, Some(deadline))
}

/// The edits that bring the change from `base` to `theirs` into `live`.
pub fn merge(base: &str, theirs: &str, live: &str, deadline: Instant) -> Vec<Splice> {
    if base == theirs {
        return Vec::new();
    }
    let b: Vec<char> = base.chars().collect();
    let t: Vec<char> = theirs.chars().collect();
    let l: Vec<char> = live.chars().collect();
    // Where each base character stands in the live text, if it still does.
    let mut live_of: Vec<Option<usize>> = vec![None; b.len()];
    for op in diff(&b, &l, deadline) {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            for k in 0..len {
                live_of[old_index + k] = Some(new_index + k);
            }
        }
    }
    // Where an insertion before base position p goes: right after the last base character
    // before p that still stands (0 if none).
    let mut insert_at = vec![0usize; b.len() + 1];
    for p in 1..=b.len() {
        insert_at[p] = match live_of[p - 1] {
            Some(x) => x + 1,
            None => insert_at[p - 1],
        };
    }
    let mut steps: Vec<(usize, Step)> = Vec::new();
    for (index, op) in diff(&b, &t, deadline).into_iter().enumerate() {
        let (old_index, old_len, new_index, new_len) = match op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (old_index, old_len, new_index, 0),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, 0, new_index, new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
        };
        // The base characters the file removed that still stand, as live ranges.
        let mut run: Option<(usize, usize)> = None;
        for x in (old_index..old_index + old_len).filter_map(|k| live_of[k]) {
            run = match run {
                Some((start, len)) if start + len == x => Some((start, len + 1)),
                Some((start, len)) => {
                    steps.push((index, Step::Delete { at: start, len }));
                    Some((x, 1))
                }
                None => Some((x, 1)),
            };
        }
        if let Some((at, len)) = run {
            steps.push((index, Step::Delete { at, len }));
        }
        if new_len > 0 {
            let text: String = t[new_index..new_index + new_len].iter().collect();
            steps.push((
                index,
                Step::Insert {
                    at: insert_at[old_index],
                    text,
                },
            ));
        }
    }
    // Back to front; at one position deletions first, then insertions of later hunks
    // first (so earlier hunks' text ends up before them).
    steps.sort_by(|(ia, a), (ib, b)| {
        b.at()
            .cmp(&a.at())
            .then_with(|| matches!(a, Step::Insert { .. }).cmp(&matches!(b, Step::Insert { .. })))
            .then_with(|| ib.cmp(ia))
    });
    // UTF-16 offset of each live character position.
    let mut utf16 = Vec::with_capacity(l.len() + 1);
    let mut offset = 0u32;
    utf16.push(0);
    for c in &l {
        offset += c.len_utf16() as u32;
        utf16.push(offset);
    }
    steps
        .into_iter()
        .map(|(_, step)| match step {
            Step::Delete { at, len } => Splice::Delete {
                at: utf16[at],
                len: utf16[at + len] - utf16[at],
            },
            Step::Insert { at, text } => Splice::Insert {
                at: utf16[at],
                text,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, GetString, OffsetKind, Options, Text, Transact};

    /// Applies the splices the way the room does: to a UTF-16 yrs text.
    fn apply(live: &str, splices: &[Splice]) -> String {
        let doc = Doc::with_options(Options {
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let text = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, live);
        for splice in splices {
            match splice {
                Splice::Delete { at, len } => text.remove_range(&mut txn, *at, *len),
                Splice::Insert { at, text: s } => text.insert(&mut txn, *at, s),
            }
        }
        text.get_string(&txn)
    }

    fn merged(base: &str, theirs: &str, live: &str) -> String {
        apply(
            live,
            &merge(base, theirs, live, Instant::now() + DIFF_BUDGET),
        )
    }

    #[test]
    fn typing_meanwhile_survives_an_outside_change_elsewhere() {
        assert_eq!(
            merged("hello world\n", "HELLO world\n", "hello brave world\n"),
            "HELLO brave world\n"
        );
    }

    #[test]
    fn with_no_typing_the_result_is_the_file() {
        let base = "fn main() {\n    a();\n}\n";
        let theirs = "fn main() {\n    b();\n    c();\n}\n// end\n";
        assert_eq!(merged(base, theirs, base), theirs);
    }

    #[test]
    fn offsets_count_utf16_with_emoji_and_cjk() {
        assert_eq!(merged("a🦀b三c", "a🦀b三cY🎉", "a🦀bX三c"), "a🦀bX三cY🎉");
        assert_eq!(merged("🦀三🦀", "🦀🦀", "Z🦀三🦀"), "Z🦀🦀");
    }

    #[test]
    fn typing_inside_a_replaced_region_is_kept() {
        // The file replaced "old" while someone typed in its middle.
        assert_eq!(merged("x old y", "x new y", "x olTYPEd y"), "x newTYPE y");
    }

    #[test]
    fn crlf_and_bom_stay() {
        let base = "\u{feff}a\r\nb\r\n";
        let theirs = "\u{feff}a\r\nB\r\nc\r\n";
        let live = "\u{feff}a!\r\nb\r\n";
        assert_eq!(merged(base, theirs, live), "\u{feff}a!\r\nB\r\nc\r\n");
    }

    #[test]
    fn a_deleted_region_takes_nothing_typed_after_it() {
        assert_eq!(
            merged("keep cut keep", "keep keep", "keep cut keep more"),
            "keep keep more"
        );
    }
}
