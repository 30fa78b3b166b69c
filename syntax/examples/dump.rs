// temporary: print tree and markers for a file
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lang = collab_syntax::Language::for_path(&path).unwrap();
    let mut p = tree_sitter::Parser::new();
    let g: tree_sitter::Language = match lang {
        collab_syntax::Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        collab_syntax::Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        collab_syntax::Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
        collab_syntax::Language::Python => tree_sitter_python::LANGUAGE.into(),
        collab_syntax::Language::Rust => tree_sitter_rust::LANGUAGE.into(),
        collab_syntax::Language::Json => tree_sitter_json::LANGUAGE.into(),
    };
    p.set_language(&g).unwrap();
    let t = p.parse(&text, None).unwrap();
    println!("{}", t.root_node().to_sexp());
    for m in collab_syntax::check_once(lang, &text, &Default::default()).unwrap() {
        println!("{m:?}");
    }
}
