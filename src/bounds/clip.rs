//! Bounds as a projection: the optimiser can clip every parameter into its
//! bounds after each update (`p = min(max(p, lower), upper)`), instead of
//! (or besides) penalising violations with `bounds_cost`.

use super::{Bound, BoundsError};
use crate::tree::{Tensor, Tree};

/// The clipping interval of one parameter, in parameter order. Infinite
/// ends do not clip.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipRange {
    pub lower: f32,
    pub upper: f32,
}

impl ClipRange {
    /// True when neither end clips anything.
    pub fn is_unbounded(&self) -> bool {
        self.lower == f32::NEG_INFINITY && self.upper == f32::INFINITY
    }
}

/// One clip range per parameter leaf, in the order of `params`. Bounds
/// must be scalars or uniform arrays.
pub fn clip_ranges(
    params: &Tree<Tensor>,
    lower: &Tree<Bound>,
    upper: &Tree<Bound>,
) -> Result<Vec<ClipRange>, BoundsError> {
    for (which, bounds) in [("lower", lower), ("upper", upper)] {
        params
            .check_same_branches(bounds)
            .map_err(|source| BoundsError::Structure { which, source })?;
    }
    let mut ranges = Vec::new();
    for (path, _) in params.leaves() {
        let get = |which: &'static str, tree: &Tree<Bound>| {
            let bound = tree
                .get_nested(&path)
                .map_err(|source| BoundsError::Structure { which, source })?;
            bound
                .uniform_value()
                .ok_or_else(|| BoundsError::NotUniform {
                    which,
                    path: path.clone(),
                    context: "clipping",
                })
        };
        let (lo, hi) = (get("lower", lower)?, get("upper", upper)?);
        // Otherwise every value would be clipped to one end; NaN is refused too.
        if lo.partial_cmp(&hi).is_none_or(|o| o.is_gt()) {
            return Err(BoundsError::EmptyRange {
                path,
                lower: lo,
                upper: hi,
            });
        }
        ranges.push(ClipRange {
            lower: lo,
            upper: hi,
        });
    }
    Ok(ranges)
}
