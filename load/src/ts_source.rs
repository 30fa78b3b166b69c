//! A generated TypeScript module for `diag-latency`, and the keystrokes that break and fix
//! its syntax.
//!
//! [`typescript`] writes a valid module of an exact number of lines in the usual mix
//! (imports, interfaces, generic classes with methods, functions, arrow functions, template
//! strings, comments; lines from 1 to about 90 characters), ASCII only so that bytes are
//! UTF-16 units. It also lists its probe sites: the operator of a binary expression
//! written `a OP b`. [`Prober`] alternates two keystrokes at a random site: deleting the
//! operator (`a  b`, a syntax error) and typing another operator there (valid again, never
//! the one deleted). The texts differ from every earlier one almost always, so a
//! gateway's cache of earlier versions does not answer for them: each probe is a parse.

use std::fmt::Write as _;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Operators a fix types, in turn: each valid between two numbers.
const OPERATORS: [char; 4] = ['+', '-', '*', '%'];

/// A generated module and its probe sites (byte offsets of operators, ascending).
#[derive(Debug, Clone)]
pub struct Source {
    pub text: String,
    pub sites: Vec<usize>,
}

/// A valid TypeScript module of exactly `lines` lines (at least 3).
pub fn typescript(lines: usize) -> Source {
    let mut w = Writer::default();
    w.line("import { readFile } from \"node:fs/promises\";");
    w.line("import type { Config } from \"./config\";");
    w.line("import * as path from \"node:path\";");
    for i in 0.. {
        let block = block(i);
        if w.lines + block.len() > lines {
            break;
        }
        for part in block {
            w.parts(&part);
        }
    }
    let mut n = 0;
    while w.lines < lines {
        if n % 2 == 0 {
            w.line(&format!("// padding {n}"));
        } else {
            w.line(&format!("export const pad{n} = {n};"));
        }
        n += 1;
    }
    Source {
        text: w.text,
        sites: w.sites,
    }
}

/// One line of a block, in pieces: the text before a probe operator, the operator, the
/// rest (one piece: no site).
type Line = Vec<String>;

fn block(i: usize) -> Vec<Line> {
    let k = i % 89 + 2;
    let one = |s: String| vec![s];
    let site = |before: String, op: &str, after: String| vec![before, op.to_owned(), after];
    vec![
        one(String::new()),
        one(format!(
            "// Section {i}: records, their store and helpers (generated for the benchmark)."
        )),
        one(format!("export interface Record{i} {{")),
        one("  id: number;".to_owned()),
        one("  name: string;".to_owned()),
        one("  tags?: string[];".to_owned()),
        one("}".to_owned()),
        one(String::new()),
        one(format!("export class Store{i}<T extends Record{i}> {{")),
        one("  private items: Map<number, T> = new Map();".to_owned()),
        one("  constructor(private readonly config: Config) {}".to_owned()),
        one(String::new()),
        one("  add(item: T): void {".to_owned()),
        site(
            format!("    const weight{i} = item.id "),
            "*",
            format!(" {k};"),
        ),
        one(format!("    this.items.set(item.id + weight{i}, item);")),
        one("  }".to_owned()),
        one(String::new()),
        one("  find(id: number): T | undefined {".to_owned()),
        one("    return this.items.get(id);".to_owned()),
        one("  }".to_owned()),
        one("}".to_owned()),
        one(String::new()),
        one(format!(
            "export function total{i}(values: number[], offset: number): number {{"
        )),
        site("  let sum = offset ".to_owned(), "+", format!(" {i};")),
        one("  for (const v of values) {".to_owned()),
        site("    sum = sum ".to_owned(), "+", format!(" v * {k};")),
        one("  }".to_owned()),
        one("  return sum;".to_owned()),
        one("}".to_owned()),
        one(String::new()),
        one(format!(
            "export const label{i} = (name: string): string => `item ${{name}} #{i}`;"
        )),
        one(format!(
            "export async function load{i}(file: string): Promise<string> {{"
        )),
        one("  const text = await readFile(path.join(\"data\", file), \"utf8\");".to_owned()),
        site(
            format!("  return text.length > {k} "),
            "-",
            format!(" 1 ? text.slice(0, {k}) : text;"),
        ),
        one("}".to_owned()),
    ]
}

#[derive(Default)]
struct Writer {
    text: String,
    sites: Vec<usize>,
    lines: usize,
}

impl Writer {
    fn line(&mut self, line: &str) {
        let _ = writeln!(self.text, "{line}");
        self.lines += 1;
    }

    fn parts(&mut self, parts: &[String]) {
        if let [before, op, after] = parts {
            self.text.push_str(before);
            self.sites.push(self.text.len());
            self.text.push_str(op);
            self.text.push_str(after);
            self.text.push('\n');
            self.lines += 1;
        } else {
            self.line(&parts.concat());
        }
    }
}

/// One keystroke at a byte (= UTF-16 unit) offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keystroke {
    /// Delete the character at `at` (breaks the syntax).
    Delete { at: u32 },
    /// Type `ch` at `at` (fixes it).
    Insert { at: u32, ch: char },
}

impl Keystroke {
    /// Applies the keystroke to `text` (for tests and checks).
    pub fn apply(self, text: &mut String) {
        match self {
            Keystroke::Delete { at } => {
                text.remove(at as usize);
            }
            Keystroke::Insert { at, ch } => text.insert(at as usize, ch),
        }
    }
}

/// The probes' keystrokes: break at a random site, fix it, break another, ...
pub struct Prober {
    sites: Vec<usize>,
    /// The operator at each site now.
    ops: Vec<char>,
    broken: Option<usize>,
    next_op: usize,
    rng: StdRng,
}

impl Prober {
    /// The sites of `source` (not empty); the same `seed` gives the same keystrokes.
    pub fn new(source: &Source, seed: u64) -> Prober {
        let sites = source.sites.clone();
        assert!(!sites.is_empty(), "a prober needs at least one site");
        let ops = sites
            .iter()
            .map(|&at| char::from(source.text.as_bytes()[at]))
            .collect();
        Prober {
            sites,
            ops,
            broken: None,
            next_op: 0,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The next keystroke and whether the text has syntax errors after it.
    pub fn keystroke(&mut self) -> (Keystroke, bool) {
        match self.broken.take() {
            None => {
                let i = self.rng.random_range(0..self.sites.len());
                self.broken = Some(i);
                (
                    Keystroke::Delete {
                        at: offset(self.sites[i]),
                    },
                    true,
                )
            }
            Some(i) => {
                let mut ch = OPERATORS[self.next_op % OPERATORS.len()];
                self.next_op += 1;
                if ch == self.ops[i] {
                    ch = OPERATORS[self.next_op % OPERATORS.len()];
                    self.next_op += 1;
                }
                self.ops[i] = ch;
                (
                    Keystroke::Insert {
                        at: offset(self.sites[i]),
                        ch,
                    },
                    false,
                )
            }
        }
    }
}

fn offset(site: usize) -> u32 {
    u32::try_from(site).expect("a probe site fits in u32")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use collab_syntax::{Language, Limits, check_once};

    use super::*;

    fn limits() -> Limits {
        Limits {
            max_bytes: 64 << 20,
            max_parse_time: Duration::from_secs(60),
            max_markers: 100,
        }
    }

    fn markers(text: &str) -> usize {
        check_once(Language::TypeScript, text, &limits())
            .expect("parses")
            .len()
    }

    #[test]
    fn modules_have_the_exact_line_count_and_no_errors() {
        for lines in [3, 10, 37, 1_000, 10_000] {
            let source = typescript(lines);
            assert_eq!(source.text.lines().count(), lines);
            assert!(source.text.is_ascii());
            assert_eq!(markers(&source.text), 0, "{lines} lines have errors");
            for &site in &source.sites {
                assert!(OPERATORS.contains(&char::from(source.text.as_bytes()[site])));
            }
        }
        let source = typescript(1_000);
        let longest = source.text.lines().map(str::len).max().unwrap();
        assert!((60..120).contains(&longest), "longest line {longest}");
        assert!(source.sites.len() > 100);
    }

    #[test]
    fn every_break_has_errors_and_every_fix_is_valid() {
        let source = typescript(300);
        let mut text = source.text.clone();
        let mut prober = Prober::new(&source, 7);
        let mut seen = std::collections::HashSet::new();
        seen.insert(text.clone());
        let mut repeats = 0;
        for step in 0..400 {
            let (key, errors) = prober.keystroke();
            assert_eq!(errors, step % 2 == 0);
            key.apply(&mut text);
            assert_eq!(text.len(), source.text.len() - usize::from(errors));
            let found = markers(&text);
            assert_eq!(found > 0, errors, "step {step} ({key:?}): {found} markers");
            if !seen.insert(text.clone()) {
                repeats += 1;
            }
        }
        // Nearly every keystroke makes a text not seen before (a cache miss: a parse).
        assert!(
            repeats <= 8,
            "{repeats} of 400 texts repeated an earlier one"
        );
    }

    #[test]
    fn every_site_breaks() {
        let source = typescript(200);
        for &site in &source.sites {
            let mut text = source.text.clone();
            Keystroke::Delete { at: offset(site) }.apply(&mut text);
            assert!(markers(&text) > 0, "deleting at {site} left valid text");
        }
    }
}
