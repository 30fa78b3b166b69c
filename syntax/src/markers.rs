//! From a tree to markers: a walk that descends only into subtrees holding errors and
//! turns each outermost ERROR node and each MISSING node into one squiggle.
//!
//! Where the squiggle goes: a MISSING token is zero-width, so it marks the character
//! there or the end of what precedes it ([`LineIndex::visible_range`]). An ERROR node on
//! one line is marked whole; one that spans lines is marked from its start to the end of
//! its first line, since that is where parsing went wrong and a squiggle over the rest
//! of the file would hide everything else. ERRORs nested in a reported ERROR are skipped.

use collab_protocol::Marker;
use collab_protocol::extension::severity;
use tree_sitter::{Node, Tree};

use crate::position::LineIndex;

/// Longest text (in chars) an ERROR may have to be quoted as "unexpected `…`".
const MAX_QUOTED_CHARS: usize = 24;

/// The markers of `tree` (parsed from `text`), in document order, at most `max`.
pub(crate) fn collect(tree: &Tree, text: &str, max: usize) -> Vec<Marker> {
    let root = tree.root_node();
    let mut markers = Vec::new();
    if !root.has_error() || max == 0 {
        return markers;
    }
    let index = LineIndex::new(text);
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        let problem = if node.is_error() {
            Some(error_marker(node, text, &index))
        } else if node.is_missing() {
            Some(missing_marker(node, &index))
        } else {
            None
        };
        let descend = problem.is_none() && node.has_error();
        if let Some(marker) = problem {
            markers.push(marker);
            if markers.len() >= max {
                return markers;
            }
        }
        if descend && cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return markers;
            }
        }
    }
}

fn missing_marker(node: Node, index: &LineIndex) -> Marker {
    let message = if node.is_named() {
        format!("missing {}", node.kind().replace('_', " ").trim())
    } else {
        format!("missing `{}`", node.kind())
    };
    let (start, end) = index.visible_range(node.start_byte());
    marker(message, start, end, index)
}

fn error_marker(node: Node, text: &str, index: &LineIndex) -> Marker {
    let (start, end) = (node.start_byte(), node.end_byte());
    let line_end = index.line_end(start);
    let (start, end) = if end > line_end {
        let first_line = text.get(start..line_end).unwrap_or("");
        (start, start + first_line.trim_end().len())
    } else {
        (start, end)
    };
    let (start, end) = if end > start {
        (start, end)
    } else {
        index.visible_range(start)
    };
    let message = match quotable_token(node, text) {
        Some(token) => format!("unexpected `{token}`"),
        None => "syntax error".to_owned(),
    };
    marker(message, start, end, index)
}

/// The ERROR's text when it is a single short token (a leaf, or one leaf child).
fn quotable_token<'t>(node: Node, text: &'t str) -> Option<&'t str> {
    let single_leaf = match node.child_count() {
        0 => true,
        1 => node.child(0).is_some_and(|child| child.child_count() == 0),
        _ => false,
    };
    if !single_leaf {
        return None;
    }
    let token = text.get(node.start_byte()..node.end_byte())?.trim();
    let short = token.chars().count() <= MAX_QUOTED_CHARS;
    let one_line = !token.contains(['\n', '\r']);
    (short && one_line && !token.is_empty()).then_some(token)
}

fn marker(message: String, start: usize, end: usize, index: &LineIndex) -> Marker {
    let (from, to) = (index.position(start), index.position(end));
    Marker {
        severity: severity::ERROR,
        message,
        start_line_number: from.line,
        start_column: from.column,
        end_line_number: to.line,
        end_column: to.column,
        code: None,
    }
}
