//! Selecting and setting parts of a tree by the branches of another tree:
//! Rockpool's `set_matching`, `set_matching_select` and
//! `make_prototype_tree`. These are how bounds are configured: take the
//! sub-tree `parameters("taus")` and set every matching leaf of the lower
//! bounds tree to `0.0`.

use super::{Node, Tree, TreeError};

/// A copy of `full` where every leaf whose branch appears in `target` is
/// replaced by `value`. Every branch of `target` must exist in `full`:
/// otherwise the error names it (Rockpool would silently add the key).
///
/// ```
/// use neurojit::tree::{set_matching, Path, Tree};
/// let full = Tree::from_leaves([(Path::from(["a"]), 1.0), (Path::from(["b"]), 2.0)]).unwrap();
/// let target = Tree::from_leaves([(Path::from(["b"]), ())]).unwrap();
/// let set = set_matching(&full, &target, 0.0).unwrap();
/// assert_eq!(set.leaf_values(), vec![&1.0, &0.0]);
/// ```
pub fn set_matching<L: Clone, M>(
    full: &Tree<L>,
    target: &Tree<M>,
    value: L,
) -> Result<Tree<L>, TreeError> {
    let mut out = full.clone();
    for branch in target.branches() {
        out.set_nested(&branch, value.clone())?;
    }
    Ok(out)
}

/// Like [`set_matching`], but only for the branches whose leaf in `target`
/// is `true`.
pub fn set_matching_select<L: Clone>(
    full: &Tree<L>,
    target: &Tree<bool>,
    value: L,
) -> Result<Tree<L>, TreeError> {
    let mut out = full.clone();
    for (branch, &selected) in target.leaves() {
        if selected {
            out.set_nested(&branch, value.clone())?;
        } else {
            // Still check the branch exists, so mismatched trees are caught.
            out.get_nested(&branch)?;
        }
    }
    Ok(out)
}

/// A tree shaped like `full` whose leaves are `true` where `target` has the
/// same branch and `false` elsewhere. A branch of `target` that `full` lacks
/// is an error naming it.
pub fn make_prototype_tree<L, M>(
    full: &Tree<L>,
    target: &Tree<M>,
) -> Result<Tree<bool>, TreeError> {
    for branch in target.branches() {
        full.get_nested(&branch)?;
    }
    Ok(full.map_with_path(&mut |path, _| matches!(target.node_at(path), Some(Node::Leaf(_)))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Path;

    fn full() -> Tree<f32> {
        Tree::from_leaves([
            (Path::from(["a"]), 1.0),
            (Path::from(["b", "b1"]), 2.0),
            (Path::from(["b", "b2"]), 3.0),
            (Path::from(["c"]), 4.0),
        ])
        .unwrap()
    }

    #[test]
    fn prototype_marks_target_branches() {
        let target =
            Tree::from_leaves([(Path::from(["a"]), 0), (Path::from(["b", "b2"]), 0)]).unwrap();
        let proto = make_prototype_tree(&full(), &target).unwrap();
        assert_eq!(proto.leaf_values(), vec![&true, &false, &true, &false]);
    }

    #[test]
    fn set_matching_select_skips_false_leaves() {
        let select = full().map_with_path(&mut |p, _| p.keys()[0] == "b");
        let out = set_matching_select(&full(), &select, -1.0).unwrap();
        assert_eq!(out.leaf_values(), vec![&1.0, &-1.0, &-1.0, &4.0]);
    }

    #[test]
    fn unknown_target_branch_is_named() {
        let target = Tree::from_leaves([(Path::from(["b", "b3"]), ())]).unwrap();
        let err = set_matching(&full(), &target, 0.0).unwrap_err();
        assert_eq!(err, TreeError::MissingBranch(Path::from(["b", "b3"])));
        assert!(err.to_string().contains("b/b3"), "{err}");
        assert!(make_prototype_tree(&full(), &target).is_err());
    }
}
