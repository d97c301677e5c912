//! Ordered nested parameter trees and the utilities Rockpool's
//! `tree_utils` provides.
//!
//! Conventions:
//! - A [`Tree`] keeps insertion order at every level, like a Python dict.
//!   `Module::parameters()` lists parameters in registration order, module
//!   by module, depth first.
//! - Leaves can be anything: [`Tensor`]s for values, `Bound`s for
//!   constraints, graph `Value`s while tracing, `bool`s for selections.
//! - Functions that take two trees match leaves **by path**, never by
//!   position, and report a mismatched tree with an error naming the
//!   branch ([`TreeError`]).
//!
//! The free functions mirror `rockpool.utilities.tree_utils` by name.

mod display;
mod matching;
mod node;
mod path;
mod tensor;

pub use matching::{make_prototype_tree, set_matching, set_matching_select};
pub use node::{Node, Tree, TreeDef};
pub use path::Path;
pub use tensor::{Tensor, TensorError};

use thiserror::Error;

/// A tree did not have the structure an operation expected.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TreeError {
    #[error("the tree has no branch `{0}`")]
    MissingBranch(Path),
    #[error("the tree has an unexpected branch `{0}`")]
    ExtraBranch(Path),
    #[error("`{0}` is a sub-tree, not a leaf")]
    NotALeaf(Path),
    #[error("`{0}` passes through a leaf")]
    NotABranch(Path),
    #[error("expected {expected} leaves, got {got}")]
    LeafCount { expected: usize, got: usize },
}

/// Paths from the root to every leaf of `tree`, depth first.
pub fn branches<L>(tree: &Tree<L>) -> Vec<Path> {
    tree.branches()
}

/// The leaf of `tree` at `path`.
pub fn get_nested<'t, L>(tree: &'t Tree<L>, path: &Path) -> Result<&'t L, TreeError> {
    tree.get_nested(path)
}

/// A copy of `tree` with the (existing) leaf at `path` replaced.
pub fn set_nested<L: Clone>(tree: &Tree<L>, path: &Path, leaf: L) -> Result<Tree<L>, TreeError> {
    let mut out = tree.clone();
    out.set_nested(path, leaf)?;
    Ok(out)
}

/// `f` applied to every leaf of `tree`.
pub fn tree_map<L, M>(tree: &Tree<L>, f: impl FnMut(&L) -> M) -> Tree<M> {
    tree.map(f)
}

/// The leaves of `tree` in depth-first order, and its structure.
pub fn tree_flatten<L: Clone>(tree: &Tree<L>) -> (Vec<L>, TreeDef) {
    tree.flatten()
}

/// The inverse of [`tree_flatten`].
pub fn tree_unflatten<L>(def: &TreeDef, leaves: Vec<L>) -> Result<Tree<L>, TreeError> {
    Tree::unflatten(def, leaves)
}

/// A copy of `target` with the nodes of `additional` inserted or replaced.
pub fn tree_update<L: Clone>(target: &Tree<L>, additional: &Tree<L>) -> Tree<L> {
    let mut out = target.clone();
    out.update(additional);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tree<i32> {
        Tree::from_leaves([
            (Path::from(["b", "y"]), 1),
            (Path::from(["a"]), 2),
            (Path::from(["b", "x"]), 3),
        ])
        .unwrap()
    }

    #[test]
    fn flatten_round_trips_in_insertion_order() {
        let (leaves, def) = tree_flatten(&sample());
        assert_eq!(leaves, vec![1, 3, 2]);
        assert_eq!(tree_unflatten(&def, leaves).unwrap(), sample());
        assert_eq!(
            tree_unflatten(&def, vec![1]).unwrap_err(),
            TreeError::LeafCount {
                expected: 3,
                got: 1
            }
        );
    }

    #[test]
    fn sorted_orders_every_level() {
        let sorted = sample().sorted();
        assert_eq!(
            sorted.branches(),
            vec![
                Path::from(["a"]),
                Path::from(["b", "x"]),
                Path::from(["b", "y"])
            ]
        );
    }

    #[test]
    fn update_merges_branches_and_keeps_positions() {
        let add = Tree::from_leaves([(Path::from(["b", "z"]), 9), (Path::from(["a"]), 7)]).unwrap();
        let out = tree_update(&sample(), &add);
        assert_eq!(out.leaf_values(), vec![&1, &3, &9, &7]);
    }

    #[test]
    fn set_nested_requires_an_existing_leaf() {
        assert_eq!(
            *set_nested(&sample(), &Path::from(["a"]), 5)
                .unwrap()
                .get_nested(&Path::from(["a"]))
                .unwrap(),
            5
        );
        assert_eq!(
            set_nested(&sample(), &Path::from(["c"]), 5).unwrap_err(),
            TreeError::MissingBranch(Path::from(["c"]))
        );
        assert_eq!(
            get_nested(&sample(), &Path::from(["b"])).unwrap_err(),
            TreeError::NotALeaf(Path::from(["b"]))
        );
    }

    #[test]
    fn same_branches_names_the_difference() {
        let other =
            Tree::from_leaves([(Path::from(["a"]), ()), (Path::from(["b", "x"]), ())]).unwrap();
        assert_eq!(
            sample().check_same_branches(&other).unwrap_err(),
            TreeError::MissingBranch(Path::from(["b", "y"]))
        );
        assert_eq!(
            other.check_same_branches(&sample()).unwrap_err(),
            TreeError::ExtraBranch(Path::from(["b", "y"]))
        );
        assert!(sample().check_same_branches(&sample().sorted()).is_ok());
    }
}
