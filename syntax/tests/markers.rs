//! Markers per language at exact, hand-counted Monaco positions. Every erroneous file has
//! emoji (2 UTF-16 units, 4 bytes) and CJK (1 unit, 3 bytes) on earlier lines and on the
//! error's line before it, and is checked with `\n`, `\r\n` and lone `\r` line breaks.

use collab_syntax::{Language, Limits, Marker, SyntaxChecker, check_once};

/// (start line, start column, end line, end column, message), all 1-based UTF-16.
type Expected = (u32, u32, u32, u32, &'static str);

fn summary(markers: &[Marker]) -> Vec<(u32, u32, u32, u32, String)> {
    markers
        .iter()
        .map(|m| {
            assert_eq!(m.severity, collab_protocol::extension::severity::ERROR);
            assert_eq!(m.code, None);
            (
                m.start_line_number,
                m.start_column,
                m.end_line_number,
                m.end_column,
                m.message.clone(),
            )
        })
        .collect()
}

/// Checks `text` (written with `\n`) and its `\r\n` and `\r` twins, both with
/// `check_once` and a fresh `SyntaxChecker`.
fn assert_markers(path: &str, text: &str, expected: &[Expected]) {
    let language = Language::for_path(path).expect("known extension");
    let expected: Vec<_> = expected
        .iter()
        .map(|&(a, b, c, d, m)| (a, b, c, d, m.to_owned()))
        .collect();
    let limits = Limits::default();
    for (eol, twin) in [
        ("LF", text.to_owned()),
        ("CRLF", text.replace('\n', "\r\n")),
        ("CR", text.replace('\n', "\r")),
    ] {
        let once = check_once(language, &twin, &limits).expect("parses");
        assert_eq!(summary(&once), expected, "{path} ({eol})");
        let mut checker = SyntaxChecker::new(language);
        assert_eq!(
            checker.check(twin, &limits),
            Ok(once),
            "{path} ({eol}), checker"
        );
    }
}

#[test]
fn typescript() {
    assert_markers(
        "a.ts",
        "// 中文 😀\nconst s: string = \"é😀\";\nfunction f(a: number): number { return a; }\n",
        &[],
    );
    // Line 3: `const t = "😀中"; ` is 17 units, so `f(1, 2;` starts at column 18 and its
    // `;`, where `)` is missing, is column 24.
    assert_markers(
        "src/a.ts",
        "// 中文 😀 notes\nconst s = \"é😀\";\nconst t = \"😀中\"; f(1, 2;\n",
        &[(3, 24, 3, 25, "missing `)`")],
    );
}

#[test]
fn tsx() {
    assert_markers(
        "a.tsx",
        "// 中文 😀\nconst e = <div className=\"😀\">{n} 中</div>;\n",
        &[],
    );
    // Line 3: `const e = ` starts at 18, `<div>{1 +}` puts `}` (the missing operand) at 37.
    assert_markers(
        "ui/App.tsx",
        "// 中文 😀 notes\nconst s = \"é😀\";\nconst t = \"😀中\"; const e = <div>{1 +}</div>;\n",
        &[(3, 37, 3, 38, "missing identifier")],
    );
}

#[test]
fn javascript() {
    assert_markers(
        "a.js",
        "// 中文 😀\nlet = 2;\nconst f = (x) => ({ x, y: \"😀\" });\n",
        &[],
    );
    // Line 3: `let y = 1 +;` starts at 18, so its `+` is column 28.
    assert_markers(
        "a.mjs",
        "// 中文 😀 notes\nconst s = \"é😀\";\nconst t = \"😀中\"; let y = 1 +;\n",
        &[(3, 28, 3, 29, "unexpected `+`")],
    );
    // `if (a {`: the `)` missing after `a` (column 22) marks the `a`.
    assert_markers(
        "a.cjs",
        "// 中文 😀 notes\nconst s = \"é😀\";\nconst t = \"😀中\"; if (a { b(); }\n",
        &[(3, 22, 3, 23, "missing `)`")],
    );
}

#[test]
fn python() {
    assert_markers(
        "a.py",
        "# 中文 😀\ndef f(a):\n    return [a, \"😀中\"]\n",
        &[],
    );
    // Line 3: `t = "😀中"; ` is 10 units; `x = [1, 2 3]` puts the stray `3` at 22.
    assert_markers(
        "tool/main.py",
        "# 中文 😀 notes\ns = \"é😀\"\nt = \"😀中\"; x = [1, 2 3]\n",
        &[(3, 22, 3, 23, "unexpected `3`")],
    );
}

#[test]
fn rust() {
    assert_markers(
        "a.rs",
        "// 中文 😀\nfn main() {\n    let s = \"é😀\";\n}\n",
        &[],
    );
    // Line 4: four spaces, `let t = "😀中"; ` (15 units), `let y = 1`: the `1` lacking
    // its `;` is column 28.
    assert_markers(
        "src/lib.rs",
        "// 中文 😀 notes\nfn main() {\n    let s = \"é😀\";\n    let t = \"😀中\"; let y = 1 let z = 2;\n}\n",
        &[(4, 28, 4, 29, "missing `;`")],
    );
}

#[test]
fn json() {
    assert_markers(
        "a.json",
        "{\n  \"a\": \"中文 😀\",\n  \"b\": [1, 2]\n}\n",
        &[],
    );
    // Line 3: `  "t": "😀中"` ends at column 12; the ERROR covers `, "b": ]`, 13 to 21.
    assert_markers(
        "package.json",
        "{\n  \"a\": \"中文 😀\",\n  \"t\": \"😀中\", \"b\": ]\n}\n",
        &[(3, 13, 3, 21, "syntax error")],
    );
}

#[test]
fn unknown_extensions_get_no_language() {
    for path in ["README.md", "Makefile", "a.txt", "src/a.ts.bak", "a.go"] {
        assert_eq!(Language::for_path(path), None, "{path}");
    }
}

#[test]
fn a_multi_line_error_marks_its_first_line_only() {
    // The ERROR runs from `function` to the last `}` and holds another ERROR (the `1`):
    // one marker, over the 13 characters of line 1.
    assert_markers(
        "a.ts",
        "function f( {\n  return 1;\n}\n",
        &[(1, 1, 1, 14, "syntax error")],
    );
}

#[test]
fn markers_come_in_document_order_up_to_the_limit() {
    let line = "let y = 1 +;\n";
    let text = line.repeat(10);
    let all = check_once(Language::JavaScript, &text, &Limits::default()).expect("parses");
    let starts: Vec<_> = all
        .iter()
        .map(|m| (m.start_line_number, m.start_column))
        .collect();
    assert_eq!(starts, (1..=10).map(|line| (line, 11)).collect::<Vec<_>>());
    let limits = Limits {
        max_markers: 3,
        ..Limits::default()
    };
    let first = check_once(Language::JavaScript, &text, &limits).expect("parses");
    assert_eq!(first, all[..3]);
    let none = Limits {
        max_markers: 0,
        ..Limits::default()
    };
    assert_eq!(check_once(Language::JavaScript, &text, &none), Ok(vec![]));
}

#[test]
fn a_missing_token_at_the_end_of_the_file_marks_the_last_character() {
    // `let x = 1` then blank lines: the missing `;` is shown on the `1` (column 9).
    assert_markers("a.rs", "let x = 1\n\n\n", &[(1, 9, 1, 10, "missing `;`")]);
}
