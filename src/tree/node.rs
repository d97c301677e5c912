//! `Tree`: an ordered nested dictionary, like the nested dicts Rockpool
//! returns from `parameters()`. Keys keep insertion order at every level;
//! leaves are any type (tensors, bounds, graph values, booleans).

use super::{Path, TreeError};

/// An ordered map from keys to leaves or sub-trees.
///
/// ```
/// use neurojit::tree::{Path, Tree};
/// let mut t = Tree::new();
/// t.insert_leaf("weight", 1.0);
/// let mut lif = Tree::new();
/// lif.insert_leaf("tau_mem", 0.02);
/// t.insert_branch("1_LIF", lif);
/// assert_eq!(t.get_nested(&Path::from(["1_LIF", "tau_mem"])).unwrap(), &0.02);
/// assert_eq!(t.branches().len(), 2);
/// ```
#[derive(Clone, PartialEq, Debug)]
pub struct Tree<L> {
    entries: Vec<(String, Node<L>)>,
}

/// One entry of a tree: a leaf or a nested tree.
#[derive(Clone, PartialEq, Debug)]
pub enum Node<L> {
    Leaf(L),
    Branch(Tree<L>),
}

/// The structure of a tree without its leaves (see [`Tree::flatten`]).
pub type TreeDef = Tree<()>;

impl<L> Default for Tree<L> {
    fn default() -> Self {
        Tree {
            entries: Vec::new(),
        }
    }
}

impl<L> Tree<L> {
    pub fn new() -> Tree<L> {
        Tree::default()
    }

    /// Number of direct entries (not leaves).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Direct entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node<L>)> {
        self.entries.iter().map(|(k, n)| (k.as_str(), n))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn get(&self, key: &str) -> Option<&Node<L>> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node<L>> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n)
    }

    /// Inserts `node` under `key`. An existing key keeps its position and
    /// has its node replaced (like a Python dict); the old node is returned.
    pub fn insert(&mut self, key: &str, node: Node<L>) -> Option<Node<L>> {
        match self.get_mut(key) {
            Some(slot) => Some(std::mem::replace(slot, node)),
            None => {
                self.entries.push((key.to_string(), node));
                None
            }
        }
    }

    pub fn insert_leaf(&mut self, key: &str, leaf: L) -> Option<Node<L>> {
        self.insert(key, Node::Leaf(leaf))
    }

    pub fn insert_branch(&mut self, key: &str, tree: Tree<L>) -> Option<Node<L>> {
        self.insert(key, Node::Branch(tree))
    }

    pub fn remove(&mut self, key: &str) -> Option<Node<L>> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    /// Every leaf with its path, depth first, in insertion order.
    pub fn leaves(&self) -> Vec<(Path, &L)> {
        let mut out = Vec::new();
        self.visit(&Path::root(), &mut |path, leaf| out.push((path, leaf)));
        out
    }

    /// The leaves' values in depth-first order.
    pub fn leaf_values(&self) -> Vec<&L> {
        self.leaves().into_iter().map(|(_, l)| l).collect()
    }

    pub fn leaf_count(&self) -> usize {
        self.leaves().len()
    }

    fn visit<'a>(&'a self, prefix: &Path, f: &mut impl FnMut(Path, &'a L)) {
        for (k, node) in &self.entries {
            let path = prefix.child(k);
            match node {
                Node::Leaf(l) => f(path, l),
                Node::Branch(t) => t.visit(&path, f),
            }
        }
    }

    /// Paths from the root to every leaf (Rockpool's `branches`).
    pub fn branches(&self) -> Vec<Path> {
        self.leaves().into_iter().map(|(p, _)| p).collect()
    }

    /// The node at `path` (a leaf or a sub-tree), if present.
    pub fn node_at(&self, path: &Path) -> Option<&Node<L>> {
        let (first, rest) = path.keys().split_first()?;
        let node = self.get(first)?;
        if rest.is_empty() {
            return Some(node);
        }
        match node {
            Node::Branch(t) => t.node_at(&Path::new(rest.iter().cloned())),
            Node::Leaf(_) => None,
        }
    }

    /// The leaf at `path`; an error names the branch when it is missing or
    /// is not a leaf.
    pub fn get_nested(&self, path: &Path) -> Result<&L, TreeError> {
        match self.node_at(path) {
            Some(Node::Leaf(l)) => Ok(l),
            Some(Node::Branch(_)) => Err(TreeError::NotALeaf(path.clone())),
            None => Err(TreeError::MissingBranch(path.clone())),
        }
    }

    pub fn get_nested_mut(&mut self, path: &Path) -> Result<&mut L, TreeError> {
        let mut tree = self;
        let keys = path.keys();
        let Some((last, init)) = keys.split_last() else {
            return Err(TreeError::NotALeaf(path.clone()));
        };
        for key in init {
            tree = match tree.get_mut(key) {
                Some(Node::Branch(t)) => t,
                _ => return Err(TreeError::MissingBranch(path.clone())),
            };
        }
        match tree.get_mut(last) {
            Some(Node::Leaf(l)) => Ok(l),
            Some(Node::Branch(_)) => Err(TreeError::NotALeaf(path.clone())),
            None => Err(TreeError::MissingBranch(path.clone())),
        }
    }

    /// Replaces the leaf at `path`, which must already exist (neurojit is
    /// stricter than Rockpool here: setting an absent branch is an error
    /// that names it, so a typo never grows the tree silently).
    pub fn set_nested(&mut self, path: &Path, leaf: L) -> Result<(), TreeError> {
        *self.get_nested_mut(path)? = leaf;
        Ok(())
    }

    /// A tree of the same structure with `f` applied to every leaf.
    pub fn map<M>(&self, mut f: impl FnMut(&L) -> M) -> Tree<M> {
        self.map_with_path(&mut |_, l| f(l))
    }

    /// Like [`Tree::map`], also passing each leaf's path.
    pub fn map_with_path<M>(&self, f: &mut impl FnMut(&Path, &L) -> M) -> Tree<M> {
        self.map_inner(&Path::root(), f)
    }

    fn map_inner<M>(&self, prefix: &Path, f: &mut impl FnMut(&Path, &L) -> M) -> Tree<M> {
        let entries = self
            .entries
            .iter()
            .map(|(k, node)| {
                let path = prefix.child(k);
                let node = match node {
                    Node::Leaf(l) => Node::Leaf(f(&path, l)),
                    Node::Branch(t) => Node::Branch(t.map_inner(&path, f)),
                };
                (k.clone(), node)
            })
            .collect();
        Tree { entries }
    }

    /// Like [`Tree::map_with_path`] for a fallible `f`; stops at the first
    /// error.
    pub fn try_map<M, E>(
        &self,
        f: &mut impl FnMut(&Path, &L) -> Result<M, E>,
    ) -> Result<Tree<M>, E> {
        self.try_map_inner(&Path::root(), f)
    }

    fn try_map_inner<M, E>(
        &self,
        prefix: &Path,
        f: &mut impl FnMut(&Path, &L) -> Result<M, E>,
    ) -> Result<Tree<M>, E> {
        let mut entries = Vec::with_capacity(self.entries.len());
        for (k, node) in &self.entries {
            let path = prefix.child(k);
            let node = match node {
                Node::Leaf(l) => Node::Leaf(f(&path, l)?),
                Node::Branch(t) => Node::Branch(t.try_map_inner(&path, f)?),
            };
            entries.push((k.clone(), node));
        }
        Ok(Tree { entries })
    }

    /// The structure alone.
    pub fn structure(&self) -> TreeDef {
        self.map(|_| ())
    }

    /// The leaves in depth-first order and the tree's structure
    /// (Rockpool's `tree_flatten`).
    pub fn flatten(&self) -> (Vec<L>, TreeDef)
    where
        L: Clone,
    {
        let leaves = self.leaf_values().into_iter().cloned().collect();
        (leaves, self.structure())
    }

    /// Rebuilds a tree from a structure and leaves in depth-first order
    /// (Rockpool's `tree_unflatten`); the leaf count must match.
    pub fn unflatten(def: &TreeDef, leaves: Vec<L>) -> Result<Tree<L>, TreeError> {
        let expected = def.leaf_count();
        if leaves.len() != expected {
            return Err(TreeError::LeafCount {
                expected,
                got: leaves.len(),
            });
        }
        let mut leaves = leaves.into_iter();
        Ok(def.map(|_| leaves.next().expect("leaf count checked above")))
    }

    /// Inserts or replaces the nodes of `additional` into this tree,
    /// recursing where both have a branch (Rockpool's `tree_update`).
    pub fn update(&mut self, additional: &Tree<L>)
    where
        L: Clone,
    {
        for (k, node) in &additional.entries {
            match (self.get_mut(k), node) {
                (Some(Node::Branch(mine)), Node::Branch(theirs)) => mine.update(theirs),
                _ => {
                    self.insert(k, node.clone());
                }
            }
        }
    }

    /// A copy with keys sorted at every level (the order jax's pytree
    /// functions produce).
    pub fn sorted(&self) -> Tree<L>
    where
        L: Clone,
    {
        let mut entries: Vec<(String, Node<L>)> = self
            .entries
            .iter()
            .map(|(k, node)| {
                let node = match node {
                    Node::Leaf(l) => Node::Leaf(l.clone()),
                    Node::Branch(t) => Node::Branch(t.sorted()),
                };
                (k.clone(), node)
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Tree { entries }
    }

    /// Builds a tree from `(path, leaf)` pairs, creating branches as needed,
    /// in the order given. A path that is a prefix of another is an error.
    pub fn from_leaves(pairs: impl IntoIterator<Item = (Path, L)>) -> Result<Tree<L>, TreeError> {
        let mut tree = Tree::new();
        for (path, leaf) in pairs {
            tree.insert_at(&path, leaf)?;
        }
        Ok(tree)
    }

    /// Inserts a leaf at `path`, creating intermediate branches.
    pub fn insert_at(&mut self, path: &Path, leaf: L) -> Result<(), TreeError> {
        let Some((last, init)) = path.keys().split_last() else {
            return Err(TreeError::NotALeaf(path.clone()));
        };
        let mut tree = self;
        for key in init {
            if tree.get(key).is_none() {
                tree.insert_branch(key, Tree::new());
            }
            tree = match tree.get_mut(key) {
                Some(Node::Branch(t)) => t,
                _ => return Err(TreeError::NotABranch(path.clone())),
            };
        }
        if let Some(Node::Branch(_)) = tree.get(last) {
            return Err(TreeError::NotALeaf(path.clone()));
        }
        tree.insert_leaf(last, leaf);
        Ok(())
    }

    /// Checks that `other` has exactly this tree's leaf paths (in any
    /// order); the error names the first missing or extra branch, as seen
    /// from `other`.
    pub fn check_same_branches<M>(&self, other: &Tree<M>) -> Result<(), TreeError> {
        for path in self.branches() {
            match other.node_at(&path) {
                Some(Node::Leaf(_)) => {}
                Some(Node::Branch(_)) => return Err(TreeError::NotALeaf(path)),
                None => return Err(TreeError::MissingBranch(path)),
            }
        }
        for path in other.branches() {
            if !matches!(self.node_at(&path), Some(Node::Leaf(_))) {
                return Err(TreeError::ExtraBranch(path));
            }
        }
        Ok(())
    }
}
