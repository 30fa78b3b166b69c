//! House rules on the source trees of `server/src`, `room-core/src`, `load/src`,
//! `syntax/src` and `sandbox-agent/src`, checked from the text of the files (std only, no compiler): no import
//! circles between modules, and no server file over 500 lines.
//!
//! A node is a module file (`foo.rs` or `foo/mod.rs`; `lib.rs` and `main.rs` are the crate
//! root, each its own crate), found by following `mod x;` declarations from the root. An
//! edge A -> B exists when A's code names a path that resolves to module B:
//!
//! - `crate::...`, `self::...` and `super::...` (any number of `super`s), in `use`
//!   declarations (grouped forms such as `use crate::{a, b::{c, d}}` included) and in code;
//! - in a module file, a path that starts with the name of a child it declares
//!   (`table::build(..)`), which is `self::table::build(..)` spelled short;
//! - a name a parent re-exports from its own child (`pub use child::Thing;`) once the
//!   parent's own code uses that name.
//!
//! A path resolves to the longest prefix of it that is a module file (`crate::fleet::Shared`
//! is `fleet`). Not edges: a parent's `mod child;` declarations and its `pub use child::...`
//! re-exports as such (declaring and re-exporting children is the parent's job). Comments,
//! strings, `#[cfg(test)]` items and `mod tests { .. }` blocks are skipped. So a child that
//! uses an item of its parent `mod.rs` while the parent uses the child's items is a circle.
//!
//! The last part of this file tests the checker itself on small inline sources, so that it
//! is seen to find circles and to pass what the rules allow.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a server source file may be.
const MAX_SERVER_LINES: usize = 500;

/// Cycles listed per crate before the message says "and more" (the graph is small; this
/// only guards against a pathological tree).
const MAX_CYCLES: usize = 200;

#[test]
fn load_has_no_import_circles() {
    assert_no_circles("load");
}

#[test]
fn room_core_has_no_import_circles() {
    assert_no_circles("room-core");
}

#[test]
fn server_has_no_import_circles() {
    assert_no_circles("server");
}

#[test]
fn syntax_has_no_import_circles() {
    assert_no_circles("syntax");
}

#[test]
fn sandbox_agent_has_no_import_circles() {
    assert_no_circles("sandbox-agent");
}

#[test]
fn server_files_stay_under_500_lines() {
    let src = workspace().join("server/src");
    let files = read_tree(&src);
    assert!(!files.is_empty(), "no files under {}", src.display());
    let long = long_files(&files, MAX_SERVER_LINES);
    let list: String = long
        .iter()
        .map(|(file, lines)| format!("\n  server/src/{file}: {lines} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "files in server/src over {MAX_SERVER_LINES} lines (split them, one idea per file):{list}"
    );
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Checks every crate root of `krate/src` and fails with every cycle found.
fn assert_no_circles(krate: &str) {
    let src = workspace().join(krate).join("src");
    let mut found = String::new();
    let mut roots = 0;
    for root in ["lib.rs", "main.rs"] {
        if !src.join(root).is_file() {
            continue;
        }
        roots += 1;
        let modules = load_crate(&src, root);
        found.push_str(&describe_cycles(&modules, &format!("{krate}/src/")));
    }
    assert!(roots > 0, "no lib.rs or main.rs in {}", src.display());
    assert!(
        found.is_empty(),
        "import circles in {krate}/src (module A uses B and B uses A, directly or through a \
         chain); move what both need where it belongs:\n{found}"
    );
}

// ---------------------------------------------------------------------------------------
// The module tree.

/// One module file: its path below the crate root (empty for the root), its file (relative
/// to `src`) and its text.
#[derive(Debug, Clone)]
struct Module {
    path: Vec<String>,
    file: String,
    source: String,
}

impl Module {
    fn name(&self) -> String {
        module_name(&self.path)
    }
}

fn module_name(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        path.join("::")
    }
}

/// The modules of the crate rooted at `src/root`, following `mod x;` declarations.
fn load_crate(src: &Path, root: &str) -> Vec<Module> {
    let mut modules = Vec::new();
    let mut todo = vec![(Vec::<String>::new(), PathBuf::from(root))];
    while let Some((path, rel)) = todo.pop() {
        let source = fs::read_to_string(src.join(&rel))
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", src.join(&rel).display()));
        let owns_dir = matches!(
            rel.file_name().and_then(|n| n.to_str()),
            Some("lib.rs" | "main.rs" | "mod.rs")
        );
        let dir = if owns_dir {
            rel.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            rel.with_extension("")
        };
        for child in scan(&lex(&source)).children {
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(&child).join("mod.rs");
            let file = if src.join(&flat).is_file() {
                flat
            } else if src.join(&nested).is_file() {
                nested
            } else {
                panic!(
                    "{}: `mod {child};` has neither {} nor {}",
                    rel.display(),
                    flat.display(),
                    nested.display()
                )
            };
            let mut child_path = path.clone();
            child_path.push(child);
            todo.push((child_path, file));
        }
        modules.push(Module {
            path,
            file: rel.to_string_lossy().replace('\\', "/"),
            source,
        });
    }
    modules.sort_by(|a, b| a.path.cmp(&b.path));
    modules
}

/// Every file below `dir` (relative name, text), sorted by name.
fn read_tree(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries =
            fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = fs::read(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                files.push((
                    rel.to_string_lossy().replace('\\', "/"),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    files.sort();
    files
}

/// The files with more than `max` lines, with their line counts.
fn long_files(files: &[(String, String)], max: usize) -> Vec<(String, usize)> {
    files
        .iter()
        .map(|(name, text)| (name.clone(), text.lines().count()))
        .filter(|(_, lines)| *lines > max)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Tokens: just enough of Rust's lexer to tell code from comments, strings and char
// literals.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn lex(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while let Some(ch) = at(i) {
        match ch {
            '\n' => {
                line += 1;
                i += 1;
            }
            _ if ch.is_whitespace() => i += 1,
            '/' if at(i + 1) == Some('/') => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
            }
            '/' if at(i + 1) == Some('*') => {
                let mut depth = 0;
                while let Some(c) = at(i) {
                    if c == '/' && at(i + 1) == Some('*') {
                        depth += 1;
                        i += 2;
                    } else if c == '*' && at(i + 1) == Some('/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        line += usize::from(c == '\n');
                        i += 1;
                    }
                }
            }
            '"' => i = skip_string(&c, i + 1, &mut line),
            '\'' => i = skip_quote(&c, i),
            ':' if at(i + 1) == Some(':') => {
                out.push(Token {
                    tok: Tok::PathSep,
                    line,
                });
                i += 2;
            }
            _ if ch.is_ascii_digit() => {
                while at(i).is_some_and(is_ident_continue) {
                    i += 1;
                }
            }
            _ if is_ident_start(ch) => {
                let start = i;
                while at(i).is_some_and(is_ident_continue) {
                    i += 1;
                }
                let word: String = c[start..i].iter().collect();
                // String and char literals with a prefix, raw strings, raw identifiers.
                match (word.as_str(), at(i)) {
                    ("b" | "c", Some('"')) => {
                        i = skip_string(&c, i + 1, &mut line);
                        continue;
                    }
                    ("b", Some('\'')) => {
                        i = skip_quote(&c, i);
                        continue;
                    }
                    ("r" | "br" | "cr", Some('"' | '#')) => {
                        let mut j = i;
                        while at(j) == Some('#') {
                            j += 1;
                        }
                        if at(j) == Some('"') {
                            i = skip_raw_string(&c, j + 1, j - i, &mut line);
                            continue;
                        }
                        if word == "r" && j == i + 1 && at(j).is_some_and(is_ident_start) {
                            let start = j;
                            i = j;
                            while at(i).is_some_and(is_ident_continue) {
                                i += 1;
                            }
                            out.push(Token {
                                tok: Tok::Ident(c[start..i].iter().collect()),
                                line,
                            });
                            continue;
                        }
                    }
                    _ => {}
                }
                out.push(Token {
                    tok: Tok::Ident(word),
                    line,
                });
            }
            _ => {
                out.push(Token {
                    tok: Tok::Punct(ch),
                    line,
                });
                i += 1;
            }
        }
    }
    out
}

/// Past the end of a string whose body starts at `i`.
fn skip_string(c: &[char], mut i: usize, line: &mut usize) -> usize {
    while let Some(&ch) = c.get(i) {
        match ch {
            '\\' => {
                *line += usize::from(c.get(i + 1) == Some(&'\n'));
                i += 2;
            }
            '"' => return i + 1,
            _ => {
                *line += usize::from(ch == '\n');
                i += 1;
            }
        }
    }
    i
}

/// Past the end of a raw string with `hashes` `#`s whose body starts at `i`.
fn skip_raw_string(c: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while let Some(&ch) = c.get(i) {
        if ch == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        *line += usize::from(ch == '\n');
        i += 1;
    }
    i
}

/// Past a char literal (`'x'`, `'\n'`, `'\u{1F600}'`) at `i`, or past the quote of a
/// lifetime or label (`'a`), whose name then lexes as an identifier no path follows.
fn skip_quote(c: &[char], i: usize) -> usize {
    if c.get(i + 1) == Some(&'\\') {
        let mut j = i + 3;
        while c.get(j).is_some_and(|&ch| ch != '\'' && ch != '\n') {
            j += 1;
        }
        j + 1
    } else if c.get(i + 2) == Some(&'\'') {
        i + 3
    } else {
        i + 1
    }
}

// ---------------------------------------------------------------------------------------
// What a module file declares and refers to.

/// One path a `use` declaration brings in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UseItem {
    /// The path without a trailing `self` (`use a::{self}` is `a`); ends in the item
    /// for a glob (`a::*` is `a`).
    path: Vec<String>,
    /// The name it binds here (its alias, or the last segment); none for globs and `_`.
    binds: Option<String>,
}

/// A reference found in a file: a path, the inline modules it sits in, its line.
#[derive(Debug, Clone)]
struct Reference {
    path: Vec<String>,
    scope: Vec<String>,
    line: usize,
    /// From a `pub use` declaration.
    public_use: bool,
    binds: Option<String>,
}

#[derive(Debug, Default)]
struct Scan {
    /// `mod x;` declarations at the top of the file.
    children: Vec<String>,
    /// Paths from `use` declarations.
    uses: Vec<Reference>,
    /// Paths in code that start with `crate`, `self`, `super` or a child's name.
    paths: Vec<Reference>,
    /// Names used in code outside paths and `use` declarations, with their first line.
    names: BTreeMap<String, usize>,
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is(t: Option<&Token>, p: char) -> bool {
    t.is_some_and(|t| t.tok == Tok::Punct(p))
}

/// Index of the token closing the bracket opened at `open`.
fn matching(t: &[Token], open: usize) -> usize {
    let (o, c) = match t[open].tok {
        Tok::Punct('(') => ('(', ')'),
        Tok::Punct('[') => ('[', ']'),
        _ => ('{', '}'),
    };
    let mut depth = 0usize;
    for (k, tok) in t.iter().enumerate().skip(open) {
        if tok.tok == Tok::Punct(o) {
            depth += 1;
        } else if tok.tok == Tok::Punct(c) {
            depth -= 1;
            if depth == 0 {
                return k;
            }
        }
    }
    t.len()
}

/// Past the item starting at `i`: through its `;` or its `{ .. }` block.
fn skip_item(t: &[Token], mut i: usize) -> usize {
    while i < t.len() {
        match t[i].tok {
            Tok::Punct(';') => return i + 1,
            Tok::Punct('{') => return matching(t, i) + 1,
            Tok::Punct('(' | '[') => i = matching(t, i) + 1,
            _ => i += 1,
        }
    }
    i
}

/// Whether the `use` at `i` is preceded by `pub` or `pub(..)`.
fn is_public(t: &[Token], i: usize) -> bool {
    if i == 0 {
        return false;
    }
    if ident(t.get(i - 1)) == Some("pub") {
        return true;
    }
    if is(t.get(i - 1), ')') {
        let mut depth = 0usize;
        for k in (0..i).rev() {
            match t[k].tok {
                Tok::Punct(')') => depth += 1,
                Tok::Punct('(') => {
                    depth -= 1;
                    if depth == 0 {
                        return k > 0 && ident(t.get(k - 1)) == Some("pub");
                    }
                }
                _ => {}
            }
        }
    }
    false
}

fn scan(t: &[Token]) -> Scan {
    let mut s = Scan::default();
    let mut depth = 0usize;
    // Inline modules we are in: name and the brace depth of their body.
    let mut scope: Vec<(String, usize)> = Vec::new();
    let mut test_only = false;
    let mut i = 0;
    while i < t.len() {
        let here: Vec<String> = scope.iter().map(|(n, _)| n.clone()).collect();
        match &t[i].tok {
            Tok::Punct('#') => {
                let inner = is(t.get(i + 1), '!');
                let open = i + 1 + usize::from(inner);
                if is(t.get(open), '[') {
                    let close = matching(t, open);
                    let attr: Vec<&Tok> = t[open + 1..close.min(t.len())]
                        .iter()
                        .map(|t| &t.tok)
                        .collect();
                    let cfg_test = [
                        Tok::Ident("cfg".into()),
                        Tok::Punct('('),
                        Tok::Ident("test".into()),
                        Tok::Punct(')'),
                    ];
                    if !inner && attr.iter().copied().eq(cfg_test.iter()) {
                        test_only = true;
                    }
                    i = close + 1;
                } else {
                    i += 1;
                }
                continue;
            }
            _ if test_only => {
                test_only = false;
                i = skip_item(t, i);
                continue;
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let Some(name) = ident(t.get(i + 1)) {
                    if is(t.get(i + 2), ';') {
                        if scope.is_empty() {
                            s.children.push(name.to_owned());
                        }
                        i += 3;
                        continue;
                    }
                    if is(t.get(i + 2), '{') {
                        if name == "tests" {
                            i = matching(t, i + 2) + 1;
                        } else {
                            depth += 1;
                            scope.push((name.to_owned(), depth));
                            i += 3;
                        }
                        continue;
                    }
                }
            }
            // `use<..>` is a precise-capturing bound, not a declaration.
            Tok::Ident(kw) if kw == "use" && !is(t.get(i + 1), '<') => {
                let public_use = is_public(t, i);
                let mut end = i + 1;
                while end < t.len() && !is(t.get(end), ';') {
                    end = if is(t.get(end), '{') {
                        matching(t, end) + 1
                    } else {
                        end + 1
                    };
                }
                for item in parse_use(&t[i + 1..end.min(t.len())]) {
                    s.uses.push(Reference {
                        path: item.path,
                        scope: here.clone(),
                        line: t[i].line,
                        public_use,
                        binds: item.binds,
                    });
                }
                i = end + 1;
                continue;
            }
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if scope.last().is_some_and(|(_, d)| *d == depth) {
                    scope.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(name) => {
                let continues = i > 0 && matches!(t[i - 1].tok, Tok::PathSep | Tok::Punct('.'));
                if !continues {
                    s.names.entry(name.clone()).or_insert(t[i].line);
                    if t.get(i + 1).is_some_and(|n| n.tok == Tok::PathSep) {
                        let mut path = vec![name.clone()];
                        let mut j = i + 1;
                        while t.get(j).is_some_and(|n| n.tok == Tok::PathSep) {
                            match ident(t.get(j + 1)) {
                                Some(seg) => path.push(seg.to_owned()),
                                None => break,
                            }
                            j += 2;
                        }
                        s.paths.push(Reference {
                            path,
                            scope: here,
                            line: t[i].line,
                            public_use: false,
                            binds: None,
                        });
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    s
}

/// The paths of one `use` tree (the tokens between `use` and `;`).
fn parse_use(t: &[Token]) -> Vec<UseItem> {
    let mut out = Vec::new();
    let mut pos = 0;
    use_tree(t, &mut pos, Vec::new(), &mut out);
    out
}

fn use_tree(t: &[Token], pos: &mut usize, mut prefix: Vec<String>, out: &mut Vec<UseItem>) {
    loop {
        match t.get(*pos).map(|t| &t.tok) {
            // A leading `::` names an extern crate; keep it so the path resolves to nothing.
            Some(Tok::PathSep) => {
                prefix.push("::".to_owned());
                *pos += 1;
            }
            Some(Tok::Ident(name)) => {
                let name = name.clone();
                *pos += 1;
                if t.get(*pos).is_some_and(|n| n.tok == Tok::PathSep) {
                    *pos += 1;
                    prefix.push(name);
                    continue;
                }
                let mut binds = if name == "self" {
                    prefix.last().cloned()
                } else {
                    prefix.push(name.clone());
                    Some(name)
                };
                if ident(t.get(*pos)) == Some("as") {
                    let alias = ident(t.get(*pos + 1)).map(str::to_owned);
                    binds = alias.filter(|a| a != "_");
                    *pos += 2;
                }
                out.push(UseItem {
                    path: prefix,
                    binds,
                });
                return;
            }
            Some(Tok::Punct('*')) => {
                *pos += 1;
                out.push(UseItem {
                    path: prefix,
                    binds: None,
                });
                return;
            }
            Some(Tok::Punct('{')) => {
                *pos += 1;
                while *pos < t.len() && !is(t.get(*pos), '}') {
                    use_tree(t, pos, prefix.clone(), out);
                    // Past the `,` (or whatever a malformed tree left), never stuck.
                    if !is(t.get(*pos), '}') {
                        *pos += 1;
                    }
                }
                *pos += 1;
                return;
            }
            _ => return,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The graph.

/// Where an edge was seen first: file and line.
type Evidence = (String, usize);

/// The module `path` names from module `here` (inside its inline modules `scope`), whose
/// file declares `children`: the longest prefix of the full path that is a module file.
/// None for paths that leave the crate (std, dependencies) or are not module paths.
fn resolve(
    known: &BTreeSet<Vec<String>>,
    here: &[String],
    scope: &[String],
    children: &[String],
    path: &[String],
) -> Option<Vec<String>> {
    let mut base: Vec<String> = here.iter().chain(scope).cloned().collect();
    let rest = match path.first()?.as_str() {
        "crate" => {
            base.clear();
            &path[1..]
        }
        "self" => &path[1..],
        "super" => {
            let supers = path.iter().take_while(|s| *s == "super").count();
            for _ in 0..supers {
                base.pop()?;
            }
            &path[supers..]
        }
        first if scope.is_empty() && children.iter().any(|c| c == first) => path,
        _ => return None,
    };
    let full: Vec<String> = base.into_iter().chain(rest.iter().cloned()).collect();
    let mut k = 0;
    while k < full.len() && known.contains(&full[..=k]) {
        k += 1;
    }
    Some(full[..k].to_vec())
}

/// Edges between modules (indices into `modules`), with where each was first seen.
fn edges(modules: &[Module]) -> BTreeMap<(usize, usize), Evidence> {
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let index: BTreeMap<&[String], usize> = modules
        .iter()
        .enumerate()
        .map(|(k, m)| (m.path.as_slice(), k))
        .collect();
    let mut out = BTreeMap::new();
    for (from, m) in modules.iter().enumerate() {
        let s = scan(&lex(&m.source));
        let mut add = |target: &[String], line: usize| {
            if let Some(&to) = index.get(target)
                && to != from
            {
                out.entry((from, to)).or_insert((m.file.clone(), line));
            }
        };
        for r in s.uses.iter().chain(&s.paths) {
            let Some(target) = resolve(&known, &m.path, &r.scope, &s.children, &r.path) else {
                continue;
            };
            let reexport = r.public_use
                && target.len() > m.path.len()
                && target.starts_with(&m.path)
                && r.scope.is_empty();
            if !reexport {
                add(&target, r.line);
                continue;
            }
            // A re-export is the parent's job; using the name itself is a use of the child.
            if let Some(line) = r.binds.as_ref().and_then(|b| s.names.get(b)) {
                add(&target, *line);
            }
        }
    }
    out
}

/// Every elementary cycle, each as module indices starting at its smallest one.
fn cycles(n: usize, edges: &BTreeMap<(usize, usize), Evidence>) -> Vec<Vec<usize>> {
    let mut next = vec![Vec::new(); n];
    for &(a, b) in edges.keys() {
        next[a].push(b);
    }
    let component = strongly_connected(&next);
    let mut out = Vec::new();
    for start in 0..n {
        // Cycles through `start` whose other modules come later, within its component.
        let allowed = |v: usize| v > start && component[v] == component[start];
        let mut path = vec![start];
        let mut on_path = vec![false; n];
        on_path[start] = true;
        let mut stack = vec![0usize];
        while let Some(k) = stack.last_mut() {
            let v = *path.last().unwrap_or(&start);
            if out.len() >= MAX_CYCLES {
                return out;
            }
            match next[v].get(*k).copied() {
                Some(w) => {
                    *k += 1;
                    if w == start {
                        out.push(path.clone());
                    } else if allowed(w) && !on_path[w] {
                        on_path[w] = true;
                        path.push(w);
                        stack.push(0);
                    }
                }
                None => {
                    stack.pop();
                    if let Some(v) = path.pop() {
                        on_path[v] = false;
                    }
                }
            }
        }
    }
    out
}

/// The strongly connected component of every node (Tarjan's algorithm, iterative).
fn strongly_connected(next: &[Vec<usize>]) -> Vec<usize> {
    let n = next.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut component = vec![usize::MAX; n];
    let mut counter = 0;
    let mut components = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if *k == 0 && index[v] == usize::MAX {
                index[v] = counter;
                low[v] = counter;
                counter += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = next[v].get(*k) {
                *k += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = components;
                    if w == v {
                        break;
                    }
                }
                components += 1;
            }
        }
    }
    component
}

/// The cycles of `modules` by module name, in order (`a -> b -> a` is `["a", "b"]`).
fn cycle_names(modules: &[Module]) -> Vec<Vec<String>> {
    cycles(modules.len(), &edges(modules))
        .into_iter()
        .map(|c| c.into_iter().map(|k| modules[k].name()).collect())
        .collect()
}

/// Every cycle of `modules`, one per line with where each of its edges is, or "".
fn describe_cycles(modules: &[Module], file_prefix: &str) -> String {
    let edges = edges(modules);
    let found = cycles(modules.len(), &edges);
    let mut out = String::new();
    for c in &found {
        let names: Vec<String> = c.iter().map(|&k| modules[k].name()).collect();
        out.push_str(&format!("  {} -> {}\n", names.join(" -> "), names[0]));
        for (k, &a) in c.iter().enumerate() {
            let b = c[(k + 1) % c.len()];
            if let Some((file, line)) = edges.get(&(a, b)) {
                out.push_str(&format!(
                    "      {} -> {}  ({file_prefix}{file}:{line})\n",
                    modules[a].name(),
                    modules[b].name()
                ));
            }
        }
    }
    if found.len() >= MAX_CYCLES {
        out.push_str(&format!("  (stopped after {MAX_CYCLES} cycles)\n"));
    }
    out
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
        parse_use(&lex(
            "crate::{a, b::{c, d as e, _f as _}, g::{self, H}, i::*,\n    j::{k::{l}},}"
        )),
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
        parse_use(&lex("super::{self as parent, x}")),
        vec![item("super", Some("parent")), item("super::x", Some("x"))]
    );
    // A leading `::` is an extern crate: kept so that it resolves to no module.
    assert_eq!(parse_use(&lex("::ext::k"))[0].path, ["::", "ext", "k"]);
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
