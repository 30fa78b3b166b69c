//! Incremental checks must equal full parses: seeded random edit sequences (inserts,
//! deletes, replacements with multi-byte chars, line breaks of every kind, brackets that
//! break and fix syntax) where after every edit `SyntaxChecker::check` is compared with
//! `check_once` on the same text.

use collab_syntax::{Language, Limits, SyntaxChecker, check_once};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

const SEEDS: [u64; 4] = [1, 7, 42, 2026];
const EDITS_PER_SEED: usize = 300;
const MAX_LEN: usize = 3000;

const FRAGMENTS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    "\"",
    "'",
    "`",
    ";",
    ",",
    ":",
    "=",
    " ",
    "x",
    "\n",
    "\r\n",
    "\r",
    "é",
    "中",
    "😀",
    "let ",
    "fn ",
    "def ",
    "if ",
    "//",
    "/*",
    "*/",
    "#",
    "foo(1, 2)",
    "{ a: 1 }",
    "\n    ",
    "return",
    "\"😀中\"",
];

fn limits() -> Limits {
    Limits {
        max_bytes: 1 << 20,
        // Generous: debug builds are slow and the machine is shared.
        max_parse_time: Duration::from_secs(30),
        max_markers: 1000,
    }
}

fn seed_text(language: Language) -> &'static str {
    match language {
        Language::TypeScript => {
            "interface P { x: number; y?: string }\r\nexport function f(p: P): number {\n  const s = \"é中😀\";\n  return p.x + s.length;\n}\nclass C<T> { constructor(private t: T) {} }\n"
        }
        Language::Tsx => {
            "export const App = (p: { n: number }) => (\n  <div className=\"a\">{p.n} 😀 中</div>\n);\nconst x: Array<number> = [1, 2];\n"
        }
        Language::JavaScript => {
            "function f(a, b) {\n  if (a) { return [a, b]; }\r\n  return { a, b: \"中😀\" };\n}\nconst g = (x) => x * 2;\n"
        }
        Language::Python => {
            "def f(a, b=1):\n    if a:\n        return [a, b]\n    return {\"k\": \"中😀\"}\n\nclass C:\n    x = (1, 2)\n"
        }
        Language::Rust => {
            "fn main() {\n    let s = \"中😀\";\n    let v = vec![1, 2];\r\n    if v.len() > 1 { println!(\"{s}\"); }\n}\nstruct P { x: i32 }\n"
        }
        Language::Json => {
            "{\n  \"a\": [1, 2, {\"b\": \"中😀\"}],\r\n  \"c\": null,\n  \"d\": true\n}\n"
        }
    }
}

fn random_boundary(rng: &mut StdRng, text: &str) -> usize {
    let mut at = rng.random_range(0..=text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn random_edit(rng: &mut StdRng, text: &mut String) {
    let fragment = FRAGMENTS[rng.random_range(0..FRAGMENTS.len())];
    let start = random_boundary(rng, text);
    let end_limit = (start + rng.random_range(0..12)).min(text.len());
    let mut end = end_limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match rng.random_range(0..3) {
        0 => text.insert_str(start, fragment),
        1 => text.replace_range(start..end, ""),
        _ => text.replace_range(start..end, fragment),
    }
    if text.len() > MAX_LEN {
        let cut = random_boundary(rng, text);
        text.truncate(cut);
    }
}

fn run(language: Language, seed: u64) {
    let limits = limits();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut checker = SyntaxChecker::new(language);
    let mut text = seed_text(language).to_owned();
    // Texts that parsed clean, to go back to: an undo that fixes syntax.
    let mut clean_texts = vec![text.clone()];
    let (mut clean, mut broken) = (0, 0);
    for step in 0..EDITS_PER_SEED {
        let incremental = checker.check(text.clone(), &limits);
        let full = check_once(language, &text, &limits);
        assert_eq!(
            incremental,
            full,
            "{} seed {seed} step {step}: text {text:?}",
            language.name()
        );
        match full {
            Ok(markers) if markers.is_empty() => {
                clean += 1;
                clean_texts.push(text.clone());
            }
            _ => broken += 1,
        }
        if rng.random_range(0..4) == 0 {
            text = clean_texts[rng.random_range(0..clean_texts.len())].clone();
        } else {
            random_edit(&mut rng, &mut text);
        }
    }
    // The sequence exercised both states, so it checked breaking and fixing edits.
    assert!(
        clean > 10 && broken > 10,
        "{} seed {seed}: {clean} clean, {broken} broken",
        language.name()
    );
}

macro_rules! incremental_equals_full {
    ($($name:ident: $language:expr,)*) => {$(
        #[test]
        fn $name() {
            for seed in SEEDS {
                run($language, seed);
            }
        }
    )*};
}

incremental_equals_full! {
    typescript: Language::TypeScript,
    tsx: Language::Tsx,
    javascript: Language::JavaScript,
    python: Language::Python,
    rust: Language::Rust,
    json: Language::Json,
}
