//! Loading the spec a command works on: a file, or the built-in tutorial.

use anyhow::Result;
use neurojit::spec::{load_spec_with_text, tutorial_spec, Spec, TUTORIAL_SPEC};
use std::path::Path;

/// The spec at `path`, or the tutorial spec when none is given; with the
/// spec's text (kept in run folders).
pub fn spec_or_tutorial(path: Option<&Path>) -> Result<(Spec, String)> {
    match path {
        Some(p) => Ok(load_spec_with_text(p)?),
        None => Ok((tutorial_spec()?, TUTORIAL_SPEC.to_string())),
    }
}
