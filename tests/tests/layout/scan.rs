//! What one source file says about modules, read with `syn` (the file is parsed, not
//! lexed): the child modules it declares, the paths its `use` declarations bring in, the
//! paths its code names, and every name its code uses.
//!
//! Skipped: comments and strings (the parser never yields them as paths), items under
//! `#[cfg(test)]` and `mod tests { .. }` blocks. Macro bodies are token streams, not syntax
//! trees: paths in them (`format!("{}", crate::x::NAME)`) are read from their tokens.

use std::collections::BTreeMap;

use proc_macro2::{Spacing, Span, TokenStream, TokenTree};
use syn::visit::{self, Visit};

/// One path a `use` declaration brings in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseItem {
    /// The path without a trailing `self` (`use a::{self}` is `a`); ends in the item
    /// for a glob (`a::*` is `a`). A leading `::` (an extern crate) stays as `"::"`.
    pub path: Vec<String>,
    /// The name it binds here (its alias, or the last segment); none for globs and `_`.
    pub binds: Option<String>,
}

/// A reference found in a file: a path, the inline modules it sits in, its line.
#[derive(Debug, Clone)]
pub struct Reference {
    pub path: Vec<String>,
    pub scope: Vec<String>,
    pub line: usize,
    /// From a `pub use` declaration.
    pub public_use: bool,
    pub binds: Option<String>,
}

/// A child module declared with `mod x;`, and its `#[path]` when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub name: String,
    pub path_attr: Option<String>,
}

#[derive(Debug, Default)]
pub struct Scan {
    /// `mod x;` declarations at the top of the file.
    pub children: Vec<Child>,
    /// Paths from `use` declarations.
    pub uses: Vec<Reference>,
    /// Paths in code (two segments or more).
    pub paths: Vec<Reference>,
    /// Names used in code (the first segment of every path), with their first line.
    pub names: BTreeMap<String, usize>,
}

/// Scans one file; an error when it does not parse.
pub fn scan(source: &str) -> syn::Result<Scan> {
    let file = syn::parse_file(source)?;
    let mut scanner = Scanner::default();
    scanner.visit_file(&file);
    Ok(scanner.out)
}

/// The paths of one `use` tree (`crate::{a, b::c}`, without `use` and `;`).
pub fn parse_use(tree: &str) -> syn::Result<Vec<UseItem>> {
    let item: syn::ItemUse = syn::parse_str(&format!("use {tree};"))?;
    let mut out = Vec::new();
    use_tree(&item.tree, leading(&item), &mut out);
    Ok(out)
}

fn leading(item: &syn::ItemUse) -> Vec<String> {
    if item.leading_colon.is_some() {
        vec!["::".to_owned()]
    } else {
        Vec::new()
    }
}

fn use_tree(tree: &syn::UseTree, mut prefix: Vec<String>, out: &mut Vec<UseItem>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_tree(&p.tree, prefix, out);
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            let binds = if name == "self" {
                prefix.last().cloned()
            } else {
                prefix.push(name.clone());
                Some(name)
            };
            out.push(UseItem {
                path: prefix,
                binds,
            });
        }
        syn::UseTree::Rename(r) => {
            let name = r.ident.to_string();
            if name != "self" {
                prefix.push(name);
            }
            let alias = r.rename.to_string();
            out.push(UseItem {
                path: prefix,
                binds: (alias != "_").then_some(alias),
            });
        }
        syn::UseTree::Glob(_) => out.push(UseItem {
            path: prefix,
            binds: None,
        }),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                use_tree(tree, prefix.clone(), out);
            }
        }
    }
}

fn line(span: Span) -> usize {
    span.start().line
}

fn cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item;
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn impl_item_attrs(item: &syn::ImplItem) -> &[syn::Attribute] {
    use syn::ImplItem;
    match item {
        ImplItem::Const(i) => &i.attrs,
        ImplItem::Fn(i) => &i.attrs,
        ImplItem::Type(i) => &i.attrs,
        ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

#[derive(Default)]
struct Scanner {
    out: Scan,
    /// The inline modules we are in.
    scope: Vec<String>,
}

impl Scanner {
    fn name(&mut self, name: String, line: usize) {
        self.out.names.entry(name).or_insert(line);
    }

    fn path(&mut self, segments: Vec<String>, line: usize) {
        let Some(first) = segments.first() else {
            return;
        };
        self.name(first.clone(), line);
        if segments.len() > 1 {
            self.out.paths.push(Reference {
                path: segments,
                scope: self.scope.clone(),
                line,
                public_use: false,
                binds: None,
            });
        }
    }

    /// Paths in a macro's tokens: `a::b::c` not preceded by `::` or `.`.
    fn tokens(&mut self, tokens: TokenStream) {
        let flat = flatten(tokens);
        let mut i = 0;
        while i < flat.len() {
            let Flat::Ident(name, line) = &flat[i] else {
                i += 1;
                continue;
            };
            let continues = i > 0 && matches!(flat[i - 1], Flat::PathSep | Flat::Dot);
            let mut segments = vec![name.clone()];
            let mut j = i + 1;
            while matches!(flat.get(j), Some(Flat::PathSep)) {
                match flat.get(j + 1) {
                    Some(Flat::Ident(seg, _)) => segments.push(seg.clone()),
                    _ => break,
                }
                j += 2;
            }
            if !continues {
                self.path(segments, *line);
            }
            i += 1;
        }
    }
}

/// A macro's tokens, flat, with `::` as one token.
enum Flat {
    Ident(String, usize),
    PathSep,
    Dot,
    Other,
}

fn flatten(tokens: TokenStream) -> Vec<Flat> {
    let mut out = Vec::new();
    let mut joint_colon = false;
    for tree in tokens {
        let was_joint = std::mem::take(&mut joint_colon);
        match tree {
            TokenTree::Group(g) => {
                out.push(Flat::Other);
                out.extend(flatten(g.stream()));
                out.push(Flat::Other);
            }
            TokenTree::Ident(ident) => out.push(Flat::Ident(ident.to_string(), line(ident.span()))),
            TokenTree::Punct(p) if p.as_char() == ':' => {
                if was_joint {
                    out.pop();
                    out.push(Flat::PathSep);
                } else {
                    out.push(Flat::Other);
                    joint_colon = p.spacing() == Spacing::Joint;
                }
            }
            TokenTree::Punct(p) if p.as_char() == '.' => out.push(Flat::Dot),
            TokenTree::Punct(_) | TokenTree::Literal(_) => out.push(Flat::Other),
        }
    }
    out
}

impl<'ast> Visit<'ast> for Scanner {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !cfg_test(item_attrs(item)) {
            visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        if !cfg_test(impl_item_attrs(item)) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let name = m.ident.to_string();
        match &m.content {
            None => {
                if self.scope.is_empty() {
                    self.out.children.push(Child {
                        name,
                        path_attr: path_attr(&m.attrs),
                    });
                }
            }
            Some(_) if name == "tests" => {}
            Some((_, items)) => {
                self.scope.push(name);
                for item in items {
                    self.visit_item(item);
                }
                self.scope.pop();
            }
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let public_use = !matches!(u.vis, syn::Visibility::Inherited);
        let mut items = Vec::new();
        use_tree(&u.tree, leading(u), &mut items);
        for item in items {
            self.out.uses.push(Reference {
                path: item.path,
                scope: self.scope.clone(),
                line: line(u.use_token.span),
                public_use,
                binds: item.binds,
            });
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            let at = path.segments.first().map_or(0, |s| line(s.ident.span()));
            self.path(segments, at);
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit::visit_macro(self, mac);
        self.tokens(mac.tokens.clone());
    }
}
