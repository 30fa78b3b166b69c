//! House rules on every crate of the workspace, checked from the source: no import circles
//! between the modules of any crate target, and no Rust file over 500 lines.
//!
//! The crates come from `cargo metadata` ([`workspace`]): every workspace member and every
//! target of it (library, binaries, tests, examples, build script), so a crate added later
//! is checked without an edit here. Each file is parsed with `syn` ([`scan`]); the module
//! graph and its circles are in [`graph`], which says what counts as an edge. Generated
//! files (`@generated`) and the fuzzer (`fuzz/`, outside the workspace) are exempt from
//! the line cap.
//!
//! The last part of this file tests the checker itself on small inline sources, so that it
//! is seen to find circles and to pass what the rules allow.

mod graph;
mod scan;
mod workspace;

use std::collections::BTreeSet;

use graph::{Module, cycle_names, describe_cycles, load_crate, resolve};
use scan::{UseItem, parse_use};
use workspace::long_files;

/// The longest a Rust source file may be.
const MAX_LINES: usize = 500;

/// Crates the checks must find, so that a `cargo metadata` that lists nothing fails.
const KNOWN_CRATES: [&str; 8] = [
    "collab-harness",
    "collab-load",
    "collab-protocol",
    "collab-room-core",
    "collab-sandbox-agent",
    "collab-server",
    "collab-syntax",
    "collab-tests",
];

#[test]
fn the_checks_cover_every_workspace_crate() {
    let names: BTreeSet<String> = workspace::members().into_iter().map(|m| m.name).collect();
    for known in KNOWN_CRATES {
        assert!(names.contains(known), "{known} missing from {names:?}");
    }
}

#[test]
fn workspace_crates_have_no_import_circles() {
    let base = workspace::root();
    let mut found = String::new();
    for member in workspace::members() {
        assert!(!member.roots.is_empty(), "{} has no targets", member.name);
        for root in &member.roots {
            let modules = load_crate(root, &base);
            found.push_str(&describe_cycles(&modules, ""));
        }
    }
    assert!(
        found.is_empty(),
        "import circles (module A uses B and B uses A, directly or through a chain); move \
         what both need where it belongs:\n{found}"
    );
}

#[test]
fn rust_files_stay_under_500_lines() {
    let base = workspace::root();
    let mut files = Vec::new();
    for member in workspace::members() {
        for (path, text) in workspace::rust_files(&member.dir) {
            let shown = path.strip_prefix(&base).unwrap_or(&path);
            files.push((shown.to_string_lossy().into_owned(), text));
        }
    }
    assert!(files.len() > 100, "only {} Rust files found", files.len());
    let long = long_files(&files, MAX_LINES);
    let list: String = long
        .iter()
        .map(|(file, lines)| format!("\n  {file}: {lines} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "Rust files over {MAX_LINES} lines (split them, one idea per file):{list}"
    );
}

// ---------------------------------------------------------------------------------------
// The checker on small inline examples.

/// Modules from `(path, source)` pairs; `"crate"` is the root, `"a::b"` a nested module.
fn modules(defs: &[(&str, &str)]) -> Vec<Module> {
    let mut out: Vec<Module> = defs
        .iter()
        .map(|(path, source)| Module {
            path: if *path == "crate" {
                Vec::new()
            } else {
                path.split("::").map(str::to_owned).collect()
            },
            file: format!("{}.rs", path.replace("::", "/")),
            source: (*source).to_owned(),
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn names(cycles: &[&[&str]]) -> Vec<Vec<String>> {
    cycles
        .iter()
        .map(|c| c.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

#[test]
fn checker_finds_a_circle_through_a_chain() {
    let m = modules(&[
        ("crate", "pub mod a; pub mod b; pub mod c;"),
        ("a", "use crate::b::Thing;\npub struct A;"),
        ("b", "pub struct Thing(crate::c::C);"),
        ("c", "pub struct C;\nfn f() -> crate::a::A { crate::a::A }"),
    ]);
    assert_eq!(cycle_names(&m), names(&[&["a", "b", "c"]]));
    let text = describe_cycles(&m, "src/");
    assert!(text.contains("a -> b -> c -> a"), "{text}");
    assert!(text.contains("b -> c  (src/b.rs:1)"), "{text}");
    assert!(text.contains("c -> a  (src/c.rs:2)"), "{text}");
}

#[test]
fn checker_reports_every_cycle() {
    let m = modules(&[
        ("crate", "mod a; mod b; mod c; mod d;"),
        ("a", "use crate::b::X;"),
        ("b", "use crate::a::Y; use crate::c::Z;"),
        ("c", "use crate::b::W;"),
        ("d", "use crate::a::Q;"),
    ]);
    assert_eq!(cycle_names(&m), names(&[&["a", "b"], &["b", "c"]]));
}

#[test]
fn checker_allows_parent_reexport_and_child_use() {
    let m = modules(&[
        ("crate", "pub mod p;"),
        (
            "p",
            "pub mod child;\npub use child::Thing;\npub use self::child::{Other, make};\n\
             pub struct Error;",
        ),
        ("p::child", "use super::Error;\npub struct Thing(Error);"),
    ]);
    assert_eq!(cycle_names(&m), Vec::<Vec<String>>::new());
}

#[test]
fn checker_finds_parent_using_what_its_child_uses_it_for() {
    let child = (
        "p::child",
        "use super::Error;\npub fn make() -> Error { Error }",
    );
    for parent in [
        "mod child;\npub struct Error;\nfn f() { child::make(); }",
        "mod child;\npub struct Error;\nuse self::child::make;",
        "mod child;\npub struct Error;\nfn f() { self::child::make(); }",
        "mod child;\npub use child::make;\npub struct Error;\nfn f() { make(); }",
        "mod child;\npub struct Error;\nfn f() { crate::p::child::make(); }",
    ] {
        let m = modules(&[("crate", "mod p;"), ("p", parent), child]);
        assert_eq!(
            cycle_names(&m),
            names(&[&["p", "p::child"]]),
            "parent: {parent}"
        );
    }
}

#[test]
fn checker_parses_grouped_use() {
    let item = |path: &str, binds: Option<&str>| UseItem {
        path: path.split("::").map(str::to_owned).collect(),
        binds: binds.map(str::to_owned),
    };
    assert_eq!(
        parse_use("crate::{a, b::{c, d as e, _f as _}, g::{self, H}, i::*,\n    j::{k::{l}},}")
            .expect("parses"),
        vec![
            item("crate::a", Some("a")),
            item("crate::b::c", Some("c")),
            item("crate::b::d", Some("e")),
            item("crate::b::_f", None),
            item("crate::g", Some("g")),
            item("crate::g::H", Some("H")),
            item("crate::i", None),
            item("crate::j::k::l", Some("l")),
        ]
    );
    assert_eq!(
        parse_use("super::{self as parent, x}").expect("parses"),
        vec![item("super", Some("parent")), item("super::x", Some("x"))]
    );
    // A leading `::` is an extern crate: kept so that it resolves to no module.
    assert_eq!(
        parse_use("::ext::k").expect("parses")[0].path,
        ["::", "ext", "k"]
    );
    let m = modules(&[
        ("crate", "mod a; mod b;"),
        ("a", "use crate::{b::{self, X}, a::Y};"),
        ("b", "pub(crate) use crate::{\n    a::{Z},\n};"),
    ]);
    assert_eq!(cycle_names(&m), names(&[&["a", "b"]]));
}

#[test]
fn checker_resolves_super_and_the_longest_module_prefix() {
    let m = modules(&[
        ("crate", "mod x; mod y;"),
        ("x", "mod deep;"),
        ("x::deep", "use super::super::y::Thing;"),
        (
            "y",
            "pub struct Thing;\nfn f() { let _ = crate::x::deep::Item::new(); }",
        ),
    ]);
    assert_eq!(cycle_names(&m), names(&[&["x::deep", "y"]]));
    let here = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
    let known: BTreeSet<Vec<String>> = m.iter().map(|m| m.path.clone()).collect();
    let resolved = |from: &str, scope: &[String], path: &str| {
        resolve(&known, &here(from), scope, &[], &here(path))
    };
    assert_eq!(resolved("x::deep", &[], "super::Item"), Some(here("x")));
    assert_eq!(resolved("x", &[], "super::y::Thing"), Some(here("y")));
    assert_eq!(resolved("x", &[], "super::super::y"), None);
    assert_eq!(resolved("y", &[], "std::fs::read"), None);
    assert_eq!(
        resolved("y", &["inline".into()], "super::x"),
        Some(here("y"))
    );
}

#[test]
fn checker_skips_comments_strings_and_tests() {
    let m = modules(&[
        ("crate", "mod a; mod b;"),
        ("a", "pub struct A;\nfn f() -> crate::b::B { todo!() }"),
        (
            "b",
            r####"//! Links to [`crate::a::A`] are docs, not imports.
            /* crate::a::A /* nested */ crate::a::A */
            pub struct B;
            const S: &str = "crate::a::A \" crate::a::A";
            const R: &str = r#"crate::a::A " crate::a::A"#;
            const Q: char = '"';
            fn g<'a>(x: &'a str) -> &'a str { let _ = b'"'; let _ = '\''; x }
            const T: &str = "after the quotes: crate::a::A";
            #[cfg(test)]
            mod tests { use crate::a::A; }
            #[cfg(test)]
            #[allow(dead_code)]
            fn helper() -> crate::a::A { crate::a::A }
            mod tests { fn h() { crate::a::A; } }
            "####,
        ),
    ]);
    assert_eq!(cycle_names(&m), Vec::<Vec<String>>::new());
    // Still an edge in plain code after all of that.
    let mut with_use = m.clone();
    with_use[2]
        .source
        .push_str("\nfn k() { let _ = crate::a::A; }\n");
    assert_eq!(cycle_names(&with_use), names(&[&["a", "b"]]));
}

#[test]
fn checker_lists_long_files() {
    let files = vec![
        ("short.rs".to_owned(), "a\n".repeat(500)),
        ("long.rs".to_owned(), "a\n".repeat(501)),
    ];
    assert_eq!(long_files(&files, 500), vec![("long.rs".to_owned(), 501)]);
}

#[test]
fn checker_reads_paths_in_macro_bodies() {
    let m = modules(&[
        ("crate", "mod a; mod b;"),
        ("a", "pub struct A;\nfn f() -> crate::b::B { todo!() }"),
        (
            "b",
            "pub struct B;\nfn g() { println!(\"{}\", crate::a::A.len()); }",
        ),
    ]);
    assert_eq!(cycle_names(&m), names(&[&["a", "b"]]));
}
