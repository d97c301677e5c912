//! `Path`: the keys from the root of a tree to one node, e.g.
//! `2_Residual/1_LIF/tau_mem`. Module paths use the same type (a module's
//! path is the path of its parameter branch).

use std::fmt;

/// A sequence of keys from a tree's root. Displayed joined by `/`; the
/// root (no keys) displays as `(root)`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Path(Vec<String>);

impl Path {
    /// The empty path (the root of a tree, or the top-level module).
    pub fn root() -> Path {
        Path(Vec::new())
    }

    pub fn new<I, S>(keys: I) -> Path
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Path(keys.into_iter().map(Into::into).collect())
    }

    /// Splits `a/b/c` into keys (an empty string is the root).
    pub fn parse(text: &str) -> Path {
        if text.is_empty() {
            Path::root()
        } else {
            Path::new(text.split('/'))
        }
    }

    pub fn keys(&self) -> &[String] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last key, if any.
    pub fn last(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// This path extended by one key.
    pub fn child(&self, key: &str) -> Path {
        let mut keys = self.0.clone();
        keys.push(key.to_string());
        Path(keys)
    }

    /// This path without its last key (the root stays the root).
    pub fn parent(&self) -> Path {
        let mut keys = self.0.clone();
        keys.pop();
        Path(keys)
    }

    /// The keys joined by `/` (empty for the root); used as argument names.
    pub fn joined(&self) -> String {
        self.0.join("/")
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            write!(f, "(root)")
        } else {
            write!(f, "{}", self.joined())
        }
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<S: Into<String>, const N: usize> From<[S; N]> for Path {
    fn from(keys: [S; N]) -> Path {
        Path::new(keys)
    }
}

impl From<Vec<String>> for Path {
    fn from(keys: Vec<String>) -> Path {
        Path(keys)
    }
}
