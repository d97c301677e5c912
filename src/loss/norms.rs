//! Parameter-norm penalties over a whole parameter tree, ignoring NaN
//! elements like numpy's `nanmean`.

use super::LossError;
use crate::tree::Tree;
use neurojit_compiler::ir::{CompareOp, Graph, Value};

/// Rockpool's default `sigma` for [`l0_norm_approx`].
pub const DEFAULT_L0_SIGMA: f32 = 1e-4;

/// Mean over leaves of `mean(p^2)`.
pub fn l2sqr_norm(g: &mut Graph, params: &Tree<Value>) -> Result<Value, LossError> {
    mean_over_leaves(g, params, &mut |g, p| Ok(g.mul(p, p)?))
}

/// Mean over leaves of `mean(p^4 / (p^4 + sigma))`, a smooth count of
/// non-zero parameters.
pub fn l0_norm_approx(g: &mut Graph, params: &Tree<Value>, sigma: f32) -> Result<Value, LossError> {
    if sigma.is_nan() || sigma <= 0.0 {
        return Err(LossError::Argument {
            what: "sigma",
            requirement: "positive",
            got: sigma,
        });
    }
    mean_over_leaves(g, params, &mut |g, p| {
        let p2 = g.mul(p, p)?;
        let p4 = g.mul(p2, p2)?;
        let s = g.constant_like(sigma, p4);
        let denom = g.add(p4, s)?;
        Ok(g.div(p4, denom)?)
    })
}

/// `nanmean([nanmean(f(p)) for p in leaves])`.
fn mean_over_leaves(
    g: &mut Graph,
    params: &Tree<Value>,
    f: &mut dyn FnMut(&mut Graph, Value) -> Result<Value, LossError>,
) -> Result<Value, LossError> {
    let mut means = Vec::new();
    for (_, &p) in params.leaves() {
        let v = f(g, p)?;
        means.push(nan_mean(g, v)?);
    }
    let mut total = g.scalar(0.0);
    let mut count = g.scalar(0.0);
    for m in means {
        let (value, ok) = drop_nan(g, m)?;
        total = g.add(total, value)?;
        count = g.add(count, ok)?;
    }
    Ok(g.div(total, count)?)
}

/// Mean of the non-NaN elements of `x` (NaN when all are NaN).
fn nan_mean(g: &mut Graph, x: Value) -> Result<Value, LossError> {
    let (values, ok) = drop_nan(g, x)?;
    let total = g.sum_all(values);
    let count = g.sum_all(ok);
    Ok(g.div(total, count)?)
}

/// `(x with NaNs replaced by 0, 1 where x is not NaN)`. `x == x` is false
/// exactly for NaN.
fn drop_nan(g: &mut Graph, x: Value) -> Result<(Value, Value), LossError> {
    let ok = g.compare(CompareOp::Eq, x, x)?;
    let zero = g.constant_like(0.0, x);
    let values = g.select(ok, x, zero)?;
    Ok((values, ok))
}
