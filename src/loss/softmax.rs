//! Softmax, log-softmax and cross-entropy.
//!
//! The graph IR has no max-reduction, so the stabilising shift by the
//! maximum is computed by pairwise comparison: element `i` is a maximum
//! when no element is greater. That costs `n^2` comparisons for `n`
//! elements (per row for [`cross_entropy`]); the shift carries no gradient
//! (softmax does not depend on it).

use super::LossError;
use neurojit_compiler::ir::{CompareOp, Graph, Shape, Value};

/// `exp((x - max x) / T) / sum(exp((x - max x) / T))` over all elements.
pub fn softmax(g: &mut Graph, x: Value, temperature: f32) -> Result<Value, LossError> {
    check_temperature(temperature)?;
    let scaled = shifted_scaled(g, x, temperature)?;
    let e = g.exp(scaled);
    let total = g.sum_all(e);
    Ok(g.div(e, total)?)
}

/// `(x - max x) / T - log(sum(exp((x - max x) / T)))` over all elements.
pub fn logsoftmax(g: &mut Graph, x: Value, temperature: f32) -> Result<Value, LossError> {
    check_temperature(temperature)?;
    let scaled = shifted_scaled(g, x, temperature)?;
    let e = g.exp(scaled);
    let total = g.sum_all(e);
    let log_total = g.log(total);
    Ok(g.sub(scaled, log_total)?)
}

/// Cross-entropy of `logits (B, C)` against target probabilities
/// `(B, C)`: `-mean_b sum_c target[b,c] * logsoftmax(logits[b])[c]`.
pub fn cross_entropy(g: &mut Graph, logits: Value, target: Value) -> Result<Value, LossError> {
    let shape = g.shape(logits).clone();
    let &[b, c] = shape.dims() else {
        return Err(LossError::Shape {
            what: "cross_entropy logits (batch, classes)",
            expected: Shape::from([1, 1]),
            got: shape,
        });
    };
    if g.shape(target) != &shape {
        return Err(LossError::Shape {
            what: "cross_entropy target",
            expected: shape,
            got: g.shape(target).clone(),
        });
    }
    let row_max = row_max(g, logits, b, c)?;
    let shifted = g.sub(logits, row_max)?;
    let e = g.exp(shifted);
    let row_sum = g.reduce_sum(e, 1)?;
    let row_sum = g.reshape(row_sum, &Shape::from([b, 1]))?;
    let log_sum = g.log(row_sum);
    let log_p = g.sub(shifted, log_sum)?;
    let weighted = g.mul(target, log_p)?;
    let total = g.sum_all(weighted);
    Ok(g.scale(total, -1.0 / b as f32))
}

fn check_temperature(temperature: f32) -> Result<(), LossError> {
    if temperature.is_nan() || temperature <= 0.0 {
        return Err(LossError::Argument {
            what: "temperature",
            requirement: "positive",
            got: temperature,
        });
    }
    Ok(())
}

/// `(x - max x) / T`.
fn shifted_scaled(g: &mut Graph, x: Value, temperature: f32) -> Result<Value, LossError> {
    let n = g.shape(x).numel();
    let flat = g.reshape(x, &Shape::from([1, n]))?;
    let max = row_max(g, flat, 1, n)?;
    let max = g.reshape(max, &Shape::scalar())?;
    let shifted = g.sub(x, max)?;
    let t = g.scalar(temperature);
    Ok(g.div(shifted, t)?)
}

/// The maximum of each row of `x (rows, n)` as `(rows, 1)`, without
/// gradient. Ties average equal values, which gives the max itself.
fn row_max(g: &mut Graph, x: Value, rows: usize, n: usize) -> Result<Value, LossError> {
    let x = g.stop_gradient(x);
    let as_cols = g.reshape(x, &Shape::from([rows, 1, n]))?;
    let as_rows = g.reshape(x, &Shape::from([rows, n, 1]))?;
    // greater[r, i, j] = x[r, j] > x[r, i]
    let greater = g.compare(CompareOp::Gt, as_cols, as_rows)?;
    let beaten_by = g.reduce_sum(greater, 2)?;
    let zero = g.constant_like(0.0, beaten_by);
    let is_max = g.compare(CompareOp::Eq, beaten_by, zero)?;
    let picked = g.select(is_max, x, zero)?;
    let total = g.reduce_sum(picked, 1)?;
    let count = g.reduce_sum(is_max, 1)?;
    let max = g.div(total, count)?;
    Ok(g.reshape(max, &Shape::from([rows, 1]))?)
}
