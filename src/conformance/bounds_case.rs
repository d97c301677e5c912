//! The `bounds_cost` and `bounds_cost_sweep` kinds: the bounds penalty and
//! its gradient for single parameters, small trees and the tutorial sweep.

use super::compare::{compare, compare_tree, VALUE};
use super::evaluate::{value_and_grad, Feed};
use super::json::{as_array, as_f32, bounds_tree, field, tensor, tensor_tree};
use super::quirks::{paired_bounds, Backend};
use super::{Check, ConformanceError};
use crate::bounds::{bounds_cost, Bound};
use crate::tree::{Path, Tensor, Tree};
use neurojit_compiler::ir::{ArgKind, Graph, Value};
use serde_json::Value as Json;

/// Cost and gradient of `params` under `lower` / `upper` (paired by path);
/// per-element bounds that vary become extra arguments.
pub(super) fn cost_and_grad(
    params: &Tree<Tensor>,
    lower: &Tree<Bound>,
    upper: &Tree<Bound>,
) -> Result<(f32, Vec<(Path, Tensor)>), ConformanceError> {
    value_and_grad(
        params,
        |g: &mut Graph, feed: &mut Feed, values: &Tree<Value>| {
            let mut array_arg = |g: &mut Graph, path: &Path, t: &Tensor| {
                Ok(feed.declare(g, ArgKind::Hoisted, &format!("bound {path}"), t))
            };
            Ok(bounds_cost(g, values, lower, upper, &mut array_arg)?)
        },
    )
}

pub(super) fn run_items(case: &Json, backend: Backend) -> Result<Vec<Check>, ConformanceError> {
    let inputs = as_array(field(field(case, "inputs")?, "items")?, "inputs.items")?;
    let expected = as_array(field(field(case, "expected")?, "items")?, "expected.items")?;
    let mut checks = Vec::new();
    for (i, (item, want)) in inputs.iter().zip(expected).enumerate() {
        let label = item
            .get("label")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or(i.to_string());
        let params = tensor_tree(field(item, "params")?)?;
        let lower = paired_bounds(backend, &params, bounds_tree(field(item, "lower")?)?)?;
        let upper = paired_bounds(backend, &params, bounds_tree(field(item, "upper")?)?)?;
        let (cost, grads) = cost_and_grad(&params, &lower, &upper)?;
        checks.push(compare(
            &format!("{label}: cost"),
            &[cost],
            &[as_f32(field(want, "cost")?)?],
            VALUE,
        ));
        let reference = tensor_tree(field(want, "grad")?)?;
        checks.extend(compare_tree(
            &format!("{label}: grad"),
            &grads,
            &reference,
            VALUE,
        ));
    }
    if inputs.len() != expected.len() {
        checks.push(Check::fail(
            "item count",
            format!(
                "{} inputs but {} expected items",
                inputs.len(),
                expected.len()
            ),
        ));
    }
    Ok(checks)
}

pub(super) fn run_sweep(case: &Json) -> Result<Vec<Check>, ConformanceError> {
    let inputs = field(case, "inputs")?;
    let xs = tensor(field(inputs, "xs")?)?;
    let lower = as_f32(field(inputs, "lower")?)?;
    let upper = as_f32(field(inputs, "upper")?)?;
    let expected = field(case, "expected")?;
    let want_cost = tensor(field(expected, "cost")?)?;
    let want_grad = tensor(field(expected, "grad")?)?;
    let leaf =
        |b: f32| Tree::from_leaves([(Path::from(["x"]), Bound::Scalar(b))]).expect("one leaf");
    let (lower, upper) = (leaf(lower), leaf(upper));
    let mut costs = Vec::with_capacity(xs.numel());
    let mut grads = Vec::with_capacity(xs.numel());
    for &x in xs.data() {
        let params = Tree::from_leaves([(Path::from(["x"]), Tensor::scalar(x))]).expect("one leaf");
        let (cost, grad) = cost_and_grad(&params, &lower, &upper)?;
        costs.push(cost);
        grads.push(grad[0].1.data()[0]);
    }
    Ok(vec![
        compare("sweep cost", &costs, want_cost.data(), VALUE),
        compare("sweep grad", &grads, want_grad.data(), VALUE),
    ])
}
