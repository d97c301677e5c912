//! `bounds_cost` as a graph. Per element of every parameter `p`:
//!
//! - `exp(lower - p)` where `p < lower` (strictly),
//! - plus `exp(p - upper)` where `p > upper` (strictly),
//!
//! summed over all elements and leaves. The cost jumps from 0 to 1 at a
//! bound; infinite bounds are never active (their terms are not even built);
//! f32 overflow gives `inf`. Built from compare, select and exp, so
//! autodiff gives exactly `-exp(lower - p)` / `+exp(p - upper)` on violating
//! elements and 0 elsewhere.

use super::{Bound, BoundsError};
use crate::tree::{Path, Tensor, Tree};
use neurojit_compiler::ir::{CompareOp, Graph, Value};

/// The bounds penalty of `params` (graph values) under bound trees.
/// Scalar bounds become constants; per-element arrays become constants
/// when uniform and otherwise go through `array_value` (which typically
/// declares a graph argument).
pub fn bounds_cost(
    g: &mut Graph,
    params: &Tree<Value>,
    lower: &Tree<Bound>,
    upper: &Tree<Bound>,
    array_value: &mut dyn FnMut(&mut Graph, &Path, &Tensor) -> Result<Value, BoundsError>,
) -> Result<Value, BoundsError> {
    let lower = bound_values(g, "lower", params, lower, array_value)?;
    let upper = bound_values(g, "upper", params, upper, array_value)?;
    bounds_cost_values(g, params, &lower, &upper)
}

/// Turns a bounds tree into graph values paired with `params`: the trees
/// must have the same branches, and array bounds the parameter's shape.
pub fn bound_values(
    g: &mut Graph,
    which: &'static str,
    params: &Tree<Value>,
    bounds: &Tree<Bound>,
    array_value: &mut dyn FnMut(&mut Graph, &Path, &Tensor) -> Result<Value, BoundsError>,
) -> Result<Tree<Value>, BoundsError> {
    params
        .check_same_branches(bounds)
        .map_err(|source| BoundsError::Structure { which, source })?;
    params.try_map(&mut |path, &p| {
        let bound = bounds
            .get_nested(path)
            .map_err(|source| BoundsError::Structure { which, source })?;
        match bound {
            Bound::Scalar(x) => Ok(g.scalar(*x)),
            Bound::Array(t) => {
                let expected = g.shape(p).clone();
                if t.shape() != &expected {
                    return Err(BoundsError::Shape {
                        which,
                        path: path.clone(),
                        expected,
                        got: t.shape().clone(),
                    });
                }
                match t.uniform_value() {
                    Some(x) => Ok(g.constant(x, expected)),
                    None => array_value(g, path, t),
                }
            }
        }
    })
}

/// The bounds penalty when the bounds are already graph values (scalars or
/// shaped like their parameter), paired with `params` by path.
pub fn bounds_cost_values(
    g: &mut Graph,
    params: &Tree<Value>,
    lower: &Tree<Value>,
    upper: &Tree<Value>,
) -> Result<Value, BoundsError> {
    let mut total: Option<Value> = None;
    for (path, &p) in params.leaves() {
        let lo = *lower
            .get_nested(&path)
            .map_err(|source| BoundsError::Structure {
                which: "lower",
                source,
            })?;
        let hi = *upper
            .get_nested(&path)
            .map_err(|source| BoundsError::Structure {
                which: "upper",
                source,
            })?;
        if g.constant_value(lo) != Some(f32::NEG_INFINITY) {
            // exp(lower - p) where p < lower
            let active = g.compare(CompareOp::Lt, p, lo)?;
            let excess = g.sub(lo, p)?;
            let term = violation_term(g, active, excess)?;
            total = Some(accumulate(g, total, term)?);
        }
        if g.constant_value(hi) != Some(f32::INFINITY) {
            // exp(p - upper) where p > upper
            let active = g.compare(CompareOp::Gt, p, hi)?;
            let excess = g.sub(p, hi)?;
            let term = violation_term(g, active, excess)?;
            total = Some(accumulate(g, total, term)?);
        }
    }
    Ok(match total {
        Some(t) => t,
        None => g.scalar(0.0),
    })
}

/// `sum(select(active, exp(excess), 0))`.
fn violation_term(g: &mut Graph, active: Value, excess: Value) -> Result<Value, BoundsError> {
    let e = g.exp(excess);
    let zero = g.constant_like(0.0, e);
    let cost = g.select(active, e, zero)?;
    Ok(g.sum_all(cost))
}

fn accumulate(g: &mut Graph, total: Option<Value>, term: Value) -> Result<Value, BoundsError> {
    Ok(match total {
        Some(t) => g.add(t, term)?,
        None => term,
    })
}
