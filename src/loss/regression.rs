//! Squared-error losses: `mse`, `sse` and the per-timestep mse term.

use super::LossError;
use neurojit_compiler::ir::{Graph, Value};

/// `sum((output - target)^2)`; both operands must have the same shape.
pub fn sse(g: &mut Graph, output: Value, target: Value) -> Result<Value, LossError> {
    let sq = squared_error(g, output, target)?;
    Ok(g.sum_all(sq))
}

/// `mean((output - target)^2)` over every element, batch included.
pub fn mse(g: &mut Graph, output: Value, target: Value) -> Result<Value, LossError> {
    let sq = squared_error(g, output, target)?;
    let n = g.shape(sq).numel() as f32;
    let total = g.sum_all(sq);
    let count = g.scalar(n);
    Ok(g.div(total, count)?)
}

/// One timestep's share of the mse over `timesteps` steps:
/// `sum((y_t - target_t)^2) / (B * T * N)`. Summed over the steps it is
/// exactly the run's mse (up to float reassociation).
pub fn mse_step_term(
    g: &mut Graph,
    output: Value,
    target: Value,
    timesteps: usize,
) -> Result<Value, LossError> {
    let sq = squared_error(g, output, target)?;
    let n = (g.shape(sq).numel() * timesteps.max(1)) as f32;
    let total = g.sum_all(sq);
    let count = g.scalar(n);
    Ok(g.div(total, count)?)
}

fn squared_error(g: &mut Graph, output: Value, target: Value) -> Result<Value, LossError> {
    let (expected, got) = (g.shape(output).clone(), g.shape(target).clone());
    if expected != got {
        return Err(LossError::Shape {
            what: "target",
            expected,
            got,
        });
    }
    let diff = g.sub(output, target)?;
    Ok(g.mul(diff, diff)?)
}
