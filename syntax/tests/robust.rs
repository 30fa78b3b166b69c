//! Any text gives markers inside the document: random texts from an alphabet of
//! brackets, quotes, line breaks of every kind, emoji, CJK, combining marks and NUL, for
//! every language, must never panic and never yield a position past a line's end or
//! inside a surrogate pair.

use collab_syntax::{Language, Limits, Marker, SyntaxChecker, check_once};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ALPHABET: &[&str] = &[
    "(", ")", "{", "}", "[", "]", "<", ">", "/", "*", "\"", "'", "`", "#", ";", ",", ":", "=", "+",
    "\\", " ", "\t", "\n", "\r\n", "\r", "x", "1", "é", "中", "😀", "e\u{301}", "\0", "let ",
    "def ", "fn ", "<div>", "</div>", "${", "r#\"", "\"\"\"",
];

/// Monaco's lines, as UTF-16 units, split at `\r\n`, `\n` and `\r`.
fn monaco_lines(text: &str) -> Vec<Vec<u16>> {
    text.replace("\r\n", "\n")
        .split(['\n', '\r'])
        .map(|line| line.encode_utf16().collect())
        .collect()
}

fn assert_inside(text: &str, marker: &Marker) {
    let lines = monaco_lines(text);
    let check = |line: u32, column: u32| {
        let units = &lines[line as usize - 1];
        assert!(
            column >= 1 && column as usize <= units.len() + 1,
            "{marker:?} in {text:?}"
        );
        let next = units.get(column as usize - 1);
        let low_surrogate = next.is_some_and(|u| (0xDC00..0xE000).contains(u));
        assert!(
            !low_surrogate,
            "{marker:?} splits a surrogate pair in {text:?}"
        );
    };
    assert!(marker.start_line_number >= 1 && marker.end_line_number as usize <= lines.len());
    check(marker.start_line_number, marker.start_column);
    check(marker.end_line_number, marker.end_column);
    let start = (marker.start_line_number, marker.start_column);
    assert!(
        start <= (marker.end_line_number, marker.end_column),
        "{marker:?}"
    );
}

#[test]
fn random_texts_give_markers_inside_the_document() {
    let limits = Limits::default();
    let mut rng = StdRng::seed_from_u64(11);
    for language in Language::ALL {
        let mut checker = SyntaxChecker::new(language);
        for _ in 0..150 {
            let len = rng.random_range(0..400);
            let text: String = (0..len)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .collect();
            let markers = check_once(language, &text, &limits).expect("small texts parse");
            for marker in &markers {
                assert_inside(&text, marker);
            }
            assert_eq!(checker.check(text, &limits), Ok(markers));
        }
    }
}
