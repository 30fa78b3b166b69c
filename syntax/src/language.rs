//! Which grammar a file gets: chosen by its path's extension, so the gateway needs no
//! configuration and unknown files simply get no syntax markers.

/// The languages the checker has grammars for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    TypeScript,
    Tsx,
    JavaScript,
    Python,
    Rust,
    Json,
}

impl Language {
    /// By the extension of a path like `"sandbox/src/a.ts"`; `None` for files we have no
    /// grammar for (they get no markers).
    pub fn for_path(path: &str) -> Option<Language> {
        let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let (_, extension) = file.rsplit_once('.')?;
        Some(match extension.to_ascii_lowercase().as_str() {
            "ts" | "mts" | "cts" => Language::TypeScript,
            "tsx" => Language::Tsx,
            // JSX is part of tree-sitter-javascript's grammar.
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "py" | "pyi" => Language::Python,
            "rs" => Language::Rust,
            "json" => Language::Json,
            _ => return None,
        })
    }

    /// A stable lowercase name, for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Language::TypeScript => "typescript",
            Language::Tsx => "tsx",
            Language::JavaScript => "javascript",
            Language::Python => "python",
            Language::Rust => "rust",
            Language::Json => "json",
        }
    }

    pub(crate) fn grammar(self) -> tree_sitter::Language {
        match self {
            Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Language::Python => tree_sitter_python::LANGUAGE.into(),
            Language::Rust => tree_sitter_rust::LANGUAGE.into(),
            Language::Json => tree_sitter_json::LANGUAGE.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_map_to_languages() {
        let cases = [
            ("sandbox/src/a.ts", Some(Language::TypeScript)),
            ("a.mts", Some(Language::TypeScript)),
            ("a.cts", Some(Language::TypeScript)),
            ("ui/App.tsx", Some(Language::Tsx)),
            ("a.js", Some(Language::JavaScript)),
            ("a.mjs", Some(Language::JavaScript)),
            ("a.cjs", Some(Language::JavaScript)),
            ("a.jsx", Some(Language::JavaScript)),
            ("tool/main.py", Some(Language::Python)),
            ("stubs/x.pyi", Some(Language::Python)),
            ("src/lib.rs", Some(Language::Rust)),
            ("package.json", Some(Language::Json)),
            ("README.md", None),
            ("Makefile", None),
            ("dir.ts/file", None),
            (".ts", Some(Language::TypeScript)),
            ("", None),
        ];
        for (path, expected) in cases {
            assert_eq!(Language::for_path(path), expected, "{path}");
        }
    }

    #[test]
    fn every_grammar_loads() {
        for language in [
            Language::TypeScript,
            Language::Tsx,
            Language::JavaScript,
            Language::Python,
            Language::Rust,
            Language::Json,
        ] {
            let mut parser = tree_sitter::Parser::new();
            assert!(
                parser.set_language(&language.grammar()).is_ok(),
                "{}",
                language.name()
            );
        }
    }
}
