//! The module graph of one crate target and its import circles.
//!
//! A node is a module file (`foo.rs` or `foo/mod.rs`; the target's root file is the crate
//! root), found by following `mod x;` declarations (and their `#[path]`) from the root. An
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
//! re-exports as such (declaring and re-exporting children is the parent's job). So a
//! child that uses an item of its parent `mod.rs` while the parent uses the child's items
//! is a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::scan::scan;

/// Cycles listed per crate before the message says "and more" (the graph is small; this
/// only guards against a pathological tree).
const MAX_CYCLES: usize = 200;

/// One module file: its path below the crate root (empty for the root), its file (as
/// shown in messages) and its text.
#[derive(Debug, Clone)]
pub struct Module {
    pub path: Vec<String>,
    pub file: String,
    pub source: String,
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

/// The modules of the crate whose root file is `root`, following `mod x;` declarations;
/// files are named relative to `base` in messages.
pub fn load_crate(root: &Path, base: &Path) -> Vec<Module> {
    let mut modules = Vec::new();
    let mut todo = vec![(Vec::<String>::new(), root.to_path_buf(), true)];
    while let Some((path, file, is_root)) = todo.pop() {
        let source = fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let shown = file
            .strip_prefix(base)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        let here = file.parent().map(Path::to_path_buf).unwrap_or_default();
        // A crate root and a `mod.rs` own their directory; `foo.rs` owns `foo/`.
        let owns_dir = is_root || file.file_name().is_some_and(|n| n == "mod.rs");
        let dir = if owns_dir {
            here.clone()
        } else {
            file.with_extension("")
        };
        let scanned = scan(&source).unwrap_or_else(|e| panic!("{shown}: does not parse: {e}"));
        for child in scanned.children {
            let candidates: Vec<PathBuf> = match &child.path_attr {
                Some(p) => vec![here.join(p)],
                None => vec![
                    dir.join(format!("{}.rs", child.name)),
                    dir.join(&child.name).join("mod.rs"),
                ],
            };
            let Some(found) = candidates.iter().find(|c| c.is_file()) else {
                panic!("{shown}: `mod {};` has none of {candidates:?}", child.name)
            };
            let mut child_path = path.clone();
            child_path.push(child.name);
            todo.push((child_path, found.clone(), false));
        }
        modules.push(Module {
            path,
            file: shown,
            source,
        });
    }
    modules.sort_by(|a, b| a.path.cmp(&b.path));
    modules
}

/// Where an edge was seen first: file and line.
type Evidence = (String, usize);

/// The module `path` names from module `here` (inside its inline modules `scope`), whose
/// file declares `children`: the longest prefix of the full path that is a module file.
/// None for paths that leave the crate (std, dependencies) or are not module paths.
pub fn resolve(
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
        let s = scan(&m.source).unwrap_or_else(|e| panic!("{}: {e}", m.file));
        let children: Vec<String> = s.children.iter().map(|c| c.name.clone()).collect();
        let mut add = |target: &[String], line: usize| {
            if let Some(&to) = index.get(target)
                && to != from
            {
                out.entry((from, to)).or_insert((m.file.clone(), line));
            }
        };
        for r in s.uses.iter().chain(&s.paths) {
            let Some(target) = resolve(&known, &m.path, &r.scope, &children, &r.path) else {
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
pub fn cycle_names(modules: &[Module]) -> Vec<Vec<String>> {
    cycles(modules.len(), &edges(modules))
        .into_iter()
        .map(|c| c.into_iter().map(|k| modules[k].name()).collect())
        .collect()
}

/// Every cycle of `modules`, one per line with where each of its edges is, or "".
pub fn describe_cycles(modules: &[Module], file_prefix: &str) -> String {
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
