//! Printing trees the way Rockpool's tutorials show them: a dict that fits
//! on one line is printed inline (`{'weight': -inf}`), a larger one is
//! broken over lines with four-space indentation.

use super::{Node, Tree};
use std::fmt;

/// Width at which a nested dict is broken over several lines.
const LINE_WIDTH: usize = 88;

impl<L: fmt::Display> fmt::Display for Tree<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_tree(&mut out, self, 0);
        f.write_str(&out)
    }
}

fn inline<L: fmt::Display>(tree: &Tree<L>) -> String {
    let items: Vec<String> = tree
        .iter()
        .map(|(k, node)| match node {
            Node::Leaf(l) => format!("'{k}': {l}"),
            Node::Branch(t) => format!("'{k}': {}", inline(t)),
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn write_tree<L: fmt::Display>(out: &mut String, tree: &Tree<L>, indent: usize) {
    let flat = inline(tree);
    if indent * 4 + flat.len() <= LINE_WIDTH || tree.is_empty() {
        out.push_str(&flat);
        return;
    }
    out.push_str("{\n");
    let pad = " ".repeat((indent + 1) * 4);
    let count = tree.len();
    for (i, (k, node)) in tree.iter().enumerate() {
        out.push_str(&pad);
        out.push_str(&format!("'{k}': "));
        match node {
            Node::Leaf(l) => out.push_str(&l.to_string()),
            Node::Branch(t) => write_tree(out, t, indent + 1),
        }
        if i + 1 < count {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str(&" ".repeat(indent * 4));
    out.push('}');
}

#[cfg(test)]
mod tests {
    use crate::tree::{Path, Tree};

    #[test]
    fn small_trees_print_inline_and_large_ones_nested() {
        let small = Tree::from_leaves([
            (Path::from(["a"]), 1.5f32),
            (Path::from(["b"]), f32::INFINITY),
        ])
        .unwrap();
        assert_eq!(small.to_string(), "{'a': 1.5, 'b': inf}");
        let mut big = Tree::new();
        for i in 0..6 {
            big.insert_branch(&format!("{i}_LIF"), small.clone());
        }
        let text = big.to_string();
        assert!(
            text.starts_with("{\n    '0_LIF': {'a': 1.5, 'b': inf},\n"),
            "{text}"
        );
        assert!(text.ends_with("\n}"), "{text}");
    }
}
