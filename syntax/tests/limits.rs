//! The bounds: too-big texts are not parsed, parses stop at the deadline, and a checker
//! that was stopped starts clean. Never asserts on wall-clock time, only on outcomes.

use std::time::Duration;

use collab_syntax::{Language, Limits, Skipped, SyntaxChecker, check_once};

fn generous() -> Limits {
    Limits {
        max_bytes: 64 << 20,
        max_parse_time: Duration::from_secs(60),
        max_markers: 100,
    }
}

/// About 1.6 MB of TypeScript with one error on its last line.
fn large_typescript() -> String {
    let mut text = String::new();
    for i in 0..40_000 {
        text.push_str(&format!("const v{i}: number = f({i}, \"中😀\");\n"));
    }
    text.push_str("let broken = (1 + ;\n");
    text
}

#[test]
fn a_text_over_the_byte_limit_is_skipped_unparsed() {
    let text = "x".repeat(5_000_000);
    let limits = Limits {
        max_bytes: 1 << 20,
        ..generous()
    };
    let skipped = Skipped::TooBig {
        bytes: 5_000_000,
        max: 1 << 20,
    };
    assert_eq!(
        check_once(Language::TypeScript, &text, &limits),
        Err(skipped)
    );
    let mut checker = SyntaxChecker::new(Language::TypeScript);
    assert_eq!(checker.check(text, &limits), Err(skipped));
    // And the checker works afterwards.
    assert_eq!(checker.check("let a = 1;".into(), &limits), Ok(vec![]));
}

#[test]
fn deep_nesting_times_out() {
    let text = "[".repeat(300_000);
    let limits = Limits {
        max_parse_time: Duration::from_millis(1),
        ..generous()
    };
    for language in [Language::Json, Language::TypeScript, Language::Python] {
        let timed_out = Skipped::TimedOut {
            after: Duration::from_millis(1),
        };
        assert_eq!(
            check_once(language, &text, &limits),
            Err(timed_out),
            "{}",
            language.name()
        );
    }
}

#[test]
fn after_a_timeout_the_checker_starts_clean() {
    let text = large_typescript();
    let tiny = Limits {
        max_parse_time: Duration::from_millis(1),
        ..generous()
    };
    let mut checker = SyntaxChecker::new(Language::TypeScript);
    // A valid first version, so a stale tree would be available if it were kept.
    assert_eq!(
        checker.check("const a = 1;\n".into(), &generous()),
        Ok(vec![])
    );
    assert!(matches!(
        checker.check(text.clone(), &tiny),
        Err(Skipped::TimedOut { .. })
    ));
    // Twice: the second stopped parse must not resume the first one.
    assert!(matches!(
        checker.check(text.clone(), &tiny),
        Err(Skipped::TimedOut { .. })
    ));
    let expected = check_once(Language::TypeScript, &text, &generous()).expect("parses");
    assert_eq!(expected.len(), 1);
    assert_eq!(expected[0].start_line_number, 40_001);
    assert_eq!(checker.check(text.clone(), &generous()), Ok(expected));
    // And it is incremental again from there.
    let fixed = text.replace("(1 + ;", "(1 + 2);");
    assert_eq!(checker.check(fixed, &generous()), Ok(vec![]));
}

#[test]
fn an_unrepresentable_time_limit_means_no_deadline() {
    let limits = Limits {
        max_parse_time: Duration::MAX,
        ..generous()
    };
    let mut checker = SyntaxChecker::new(Language::Rust);
    assert_eq!(checker.check("fn main() {}".into(), &limits), Ok(vec![]));
}
