//! Unique tokens: edits whose survival can be checked one by one.
//!
//! Equal replicas can still all miss an edit. So each editor types only whole tokens,
//! `<owner.n>` (some with a non-ASCII tail such as `é` or `😀`, which count 1 and 2 UTF-16
//! units: Monaco's offsets), and only between tokens, and deletes only whole tokens of its
//! own. A YATA insert is never split by a concurrent one, and nobody else touches a token,
//! so every token stays contiguous on every replica, and the final text must be exactly
//! the live tokens, each once, in some order: [`check`] says which are missing, doubled,
//! resurrected or unknown.

use std::collections::{HashMap, HashSet};

use anyhow::{Result, bail};
use rand::Rng;

use crate::client::Edit;

/// Tails that make some tokens non-ASCII (1 and 2 UTF-16 units).
const TAILS: [&str; 4] = ["", "", "é", "😀"];

/// One editor's tokens: the ones in the text and the ones it deleted.
#[derive(Debug, Clone)]
pub struct Ledger {
    owner: String,
    next: u64,
    live: Vec<String>,
    deleted: Vec<String>,
    /// Own tokens the editor could not find in its own text when it went to delete them.
    lost_own: Vec<String>,
}

impl Ledger {
    /// A ledger for tokens `<{owner}.{n}…>`; `owner` must be unique in the document and
    /// hold no `<`, `>` or `.`.
    pub fn new(owner: impl Into<String>) -> Ledger {
        Ledger {
            owner: owner.into(),
            next: 0,
            live: Vec::new(),
            deleted: Vec::new(),
            lost_own: Vec::new(),
        }
    }

    /// Tokens this editor typed and did not delete.
    pub fn live(&self) -> &[String] {
        &self.live
    }

    /// Tokens this editor typed and deleted again.
    pub fn deleted(&self) -> &[String] {
        &self.deleted
    }

    /// How many edits this ledger chose.
    pub fn edits(&self) -> u64 {
        self.next + self.deleted.len() as u64
    }

    /// Chooses the next edit against `text` (the editor's text inside the edit's
    /// transaction, see [`crate::Client::edit_by_text`]) and records it: with probability
    /// `delete_ratio` the deletion of one of its own live tokens, otherwise a new token
    /// inserted at a random token boundary.
    pub fn next_edit(&mut self, text: &str, rng: &mut impl Rng, delete_ratio: f64) -> Edit {
        if !self.live.is_empty() && rng.random_bool(delete_ratio) {
            let pick = rng.random_range(0..self.live.len());
            let token = self.live.swap_remove(pick);
            if let Some(at) = text.find(&token) {
                let index = utf16_len(&text[..at]);
                self.deleted.push(token.clone());
                return Edit::Delete(index, utf16_len(&token));
            }
            // Our own token is not in our own document: a bug somewhere; [`check`] says so.
            self.lost_own.push(token);
        }
        let tail = TAILS[rng.random_range(0..TAILS.len())];
        let token = format!("<{}.{}{tail}>", self.owner, self.next);
        self.next += 1;
        let boundaries = boundaries(text);
        let index = boundaries[rng.random_range(0..boundaries.len())];
        self.live.push(token.clone());
        Edit::Insert(index, token)
    }
}

/// UTF-16 offsets where a token may go: the start, and after every `>`.
fn boundaries(text: &str) -> Vec<u32> {
    let mut at = 0u32;
    let mut out = vec![0];
    for c in text.chars() {
        at += c.len_utf16() as u32;
        if c == '>' {
            out.push(at);
        }
    }
    out
}

fn utf16_len(s: &str) -> u32 {
    s.encode_utf16().count() as u32
}

/// Checks that `text` is exactly the live tokens of `ledgers`, each once.
pub fn check(text: &str, ledgers: &[&Ledger]) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut stray = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        match (rest.starts_with('<'), rest.find('>')) {
            (true, Some(end)) => {
                *seen.entry(&rest[..=end]).or_default() += 1;
                rest = &rest[end + 1..];
            }
            _ => {
                let next = rest[1..].find('<').map_or(rest.len(), |i| i + 1);
                stray.push_str(&rest[..next]);
                rest = &rest[next..];
            }
        }
    }
    let mut problems = Vec::new();
    if !stray.is_empty() {
        problems.push(format!("text outside tokens: {:?}", short(&stray)));
    }
    for ledger in ledgers {
        let missing: Vec<&String> = ledger
            .live
            .iter()
            .filter(|t| !seen.contains_key(t.as_str()))
            .collect();
        let doubled: Vec<&String> = ledger
            .live
            .iter()
            .filter(|t| seen.get(t.as_str()).is_some_and(|n| *n > 1))
            .collect();
        let resurrected: Vec<&String> = ledger
            .deleted
            .iter()
            .filter(|t| seen.contains_key(t.as_str()))
            .collect();
        for (what, list) in [
            ("missing", &missing),
            ("doubled", &doubled),
            ("deleted but present", &resurrected),
        ] {
            if !list.is_empty() {
                problems.push(format!(
                    "editor {}: {} of {} tokens {what}, e.g. {:?}",
                    ledger.owner,
                    list.len(),
                    ledger.live.len() + ledger.deleted.len(),
                    &list[..list.len().min(8)]
                ));
            }
        }
        if !ledger.lost_own.is_empty() {
            problems.push(format!(
                "editor {} did not find its own tokens in its own text when deleting: {:?}",
                ledger.owner,
                &ledger.lost_own[..ledger.lost_own.len().min(8)]
            ));
        }
    }
    let owned: HashSet<&str> = ledgers
        .iter()
        .flat_map(|l| l.live.iter().chain(&l.deleted))
        .map(String::as_str)
        .collect();
    let unknown: Vec<&&str> = seen.keys().filter(|t| !owned.contains(**t)).collect();
    if !unknown.is_empty() {
        problems.push(format!(
            "{} tokens nobody typed, e.g. {:?}",
            unknown.len(),
            &unknown[..unknown.len().min(8)]
        ));
    }
    if !problems.is_empty() {
        bail!(
            "the text ({} UTF-16 units, {} tokens) does not hold exactly the live tokens:\n  {}",
            utf16_len(text),
            seen.values().sum::<usize>(),
            problems.join("\n  ")
        );
    }
    Ok(())
}

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Panics, naming up to ten of them, unless every token appears in `text`: the check for
/// tests whose edits only insert, where [`check`]'s exact accounting is more than needed.
pub fn assert_all_present(text: &str, tokens: &[String], what: &str) {
    let missing: Vec<&String> = tokens
        .iter()
        .filter(|t| !text.contains(t.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: {} of {} edits missing, e.g. {:?}",
        missing.len(),
        tokens.len(),
        &missing[..missing.len().min(10)]
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Applies an edit to a plain string, with UTF-16 offsets like the editor's doc.
    fn apply(text: &str, edit: &Edit) -> String {
        let units: Vec<u16> = text.encode_utf16().collect();
        let out: Vec<u16> = match edit {
            Edit::Insert(at, chunk) => {
                let at = *at as usize;
                let mut v = units[..at].to_vec();
                v.extend(chunk.encode_utf16());
                v.extend(&units[at..]);
                v
            }
            Edit::Delete(at, n) => {
                let (at, n) = (*at as usize, *n as usize);
                let mut v = units[..at].to_vec();
                v.extend(&units[at + n..]);
                v
            }
        };
        String::from_utf16(&out).expect("edits keep surrogate pairs whole")
    }

    #[test]
    fn two_editors_typing_and_deleting_pass_the_check() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut a = Ledger::new("a");
        let mut b = Ledger::new("b");
        let mut text = String::new();
        for _ in 0..300 {
            let ledger = if rng.random_bool(0.5) { &mut a } else { &mut b };
            let edit = ledger.next_edit(&text, &mut rng, 0.3);
            text = apply(&text, &edit);
        }
        assert!(!a.deleted().is_empty() && !b.deleted().is_empty());
        check(&text, &[&a, &b]).expect("the text holds exactly the live tokens");
    }

    #[test]
    fn the_check_names_missing_doubled_resurrected_and_stray_text() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut a = Ledger::new("a");
        let mut text = String::new();
        for _ in 0..20 {
            let edit = a.next_edit(&text, &mut rng, 0.3);
            text = apply(&text, &edit);
        }
        let live = a.live()[0].clone();
        let missing = text.replacen(&live, "", 1);
        let err = check(&missing, &[&a]).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
        let doubled = format!("{text}{live}");
        let err = check(&doubled, &[&a]).unwrap_err().to_string();
        assert!(err.contains("doubled"), "{err}");
        let dead = a.deleted()[0].clone();
        let err = check(&format!("{text}{dead}"), &[&a])
            .unwrap_err()
            .to_string();
        assert!(err.contains("deleted but present"), "{err}");
        let err = check(&format!("x{text}"), &[&a]).unwrap_err().to_string();
        assert!(err.contains("outside tokens"), "{err}");
        let err = check(&format!("{text}<z.1>"), &[&a])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nobody typed"), "{err}");
    }
}
