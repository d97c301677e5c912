//! The `lif`, `network` and `train` kinds: a network built from the case's
//! specification and parameters, run from zero state over the case's
//! input, compared on outputs, recorded traces, losses and gradients; for
//! `train`, five Adam steps on mse + bounds_cost.

use super::compare::{compare, compare_bounds, compare_paths, Tolerance, TRACE, VALUE};
use super::engines::{prepare, CaseData, Engine, NetworkRunner, RunResult};
use super::json::{
    as_array, as_f32, as_f64, as_str, as_usize, bounds_tree, field, path, tensor, tensor_tree,
};
use super::quirks::{in_backend_order, paired_bounds, Backend};
use super::setup::{build_network, case_params, leaf_paths, replay_bounds_ops};
use super::{Check, ConformanceError};
use crate::nn::Module;
use crate::optim::{Adam, AdamVariant};
use crate::trace::BoundsPenalty;
use crate::tree::{Path, Tensor, Tree};
use serde_json::Value as Json;

/// What the case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NetworkKind {
    Lif,
    Network,
    Train,
}

pub(super) fn run(
    case: &Json,
    kind: NetworkKind,
    backend: Backend,
    engine: Engine,
) -> Result<Vec<Check>, ConformanceError> {
    let inputs = field(case, "inputs")?;
    let expected = field(case, "expected")?;
    let network = build_network(inputs)?;
    let params = case_params(inputs)?;
    let mut checks = vec![compare_paths(
        "parameter order",
        &leaf_paths(&network.parameters()),
        &leaf_paths(&params),
    )];

    // Bounds: the case's trees, and our replay of its bounds_ops.
    let lower = bounds_tree(field(inputs, "lower")?)?;
    let upper = bounds_tree(field(inputs, "upper")?)?;
    let replayed = replay_bounds_ops(network.as_ref(), backend, field(inputs, "bounds_ops")?)?;
    let (our_lower, our_upper) = (replayed.lower, replayed.upper);
    checks.push(compare_bounds(
        "bounds_ops replay lower",
        &in_backend_order(backend, &our_lower),
        &lower,
    ));
    checks.push(compare_bounds(
        "bounds_ops replay upper",
        &in_backend_order(backend, &our_upper),
        &upper,
    ));
    let penalty = BoundsPenalty {
        lower: paired_bounds(backend, &params, lower)?,
        upper: paired_bounds(backend, &params, upper)?,
        weight: 1.0,
    };

    let input = tensor(field(inputs, "input")?)?;
    let target = tensor(field(inputs, "target")?)?;
    let &[batch, steps, _] = input.shape().dims() else {
        return Err(ConformanceError::Format(format!(
            "input must be (B, T, Nin), got {}",
            input.shape()
        )));
    };
    let data = CaseData {
        input: input.data().to_vec(),
        target: target.data().to_vec(),
        batch,
        steps,
    };
    let mut runner = prepare(engine, network.as_ref(), &data, penalty)?;
    let values: Vec<Vec<f32>> = network
        .parameters()
        .leaf_values()
        .into_iter()
        .map(|t| t.data().to_vec())
        .collect();

    match kind {
        NetworkKind::Lif | NetworkKind::Network => {
            let result = runner.run(&values)?;
            checks.extend(forward_checks(
                kind,
                expected,
                &result,
                network.as_ref(),
                batch,
            )?);
            let loss = field(expected, "loss")?;
            checks.push(compare(
                "loss.mse",
                &[result.mse],
                &[as_f32(field(loss, "mse")?)?],
                VALUE,
            ));
            checks.push(compare(
                "loss.bounds",
                &[result.bounds],
                &[as_f32(field(loss, "bounds")?)?],
                VALUE,
            ));
            checks.push(compare(
                "loss.total",
                &[result.total],
                &[as_f32(field(loss, "total")?)?],
                VALUE,
            ));
            checks.extend(grad_checks(
                "grads",
                &result.grads,
                &tensor_tree(field(expected, "grads")?)?,
            ));
        }
        NetworkKind::Train => checks.extend(train(case, backend, runner.as_mut(), values)?),
    }
    Ok(checks)
}

/// Outputs and recorded traces of one forward pass.
fn forward_checks(
    kind: NetworkKind,
    expected: &Json,
    result: &RunResult,
    network: &dyn Module,
    batch: usize,
) -> Result<Vec<Check>, ConformanceError> {
    let mut checks = Vec::new();
    let output = tensor(field(expected, "output")?)?;
    checks.push(compare(
        "output",
        &result.output,
        output.data(),
        value_tolerance(&output),
    ));
    let record = |module: &Path, name: &str| -> Result<&Vec<f32>, ConformanceError> {
        result
            .records
            .get(&(module.clone(), name.to_string()))
            .ok_or_else(|| ConformanceError::Internal(format!("no record `{name}` for `{module}`")))
    };
    match kind {
        NetworkKind::Lif => {
            let root = Path::root();
            for name in ["vmem", "isyn", "irec"] {
                let want = tensor(field(expected, name)?)?;
                checks.push(compare(name, record(&root, name)?, want.data(), TRACE));
            }
            let finals = field(expected, "final_state")?;
            for name in ["vmem", "isyn"] {
                let want = tensor(field(finals, name)?)?;
                let ours = result
                    .final_states
                    .get(&Path::from([name]))
                    .ok_or_else(|| {
                        ConformanceError::Internal(format!("no final state `{name}`"))
                    })?;
                let first = &ours[..ours.len() / batch.max(1)];
                checks.push(compare(
                    &format!("final_state.{name}"),
                    first,
                    want.data(),
                    TRACE,
                ));
            }
            // The final spikes are the last step's output for batch element 0.
            let want = tensor(field(finals, "spikes")?)?;
            let (steps, n) = (
                result.output.len() / (batch * want.numel()).max(1),
                want.numel(),
            );
            let last = &result.output[(steps - 1) * n..steps * n];
            checks.push(compare(
                "final_state.spikes",
                last,
                want.data(),
                Tolerance::Exact,
            ));
        }
        NetworkKind::Network => {
            for entry in as_array(field(expected, "layer_outputs")?, "layer_outputs")? {
                let [module, want] = as_array(entry, "layer_outputs entry")? else {
                    return Err(ConformanceError::Format(
                        "layer_outputs entries are [path, array]".into(),
                    ));
                };
                let module = path(module)?;
                let want = tensor(want)?;
                checks.push(compare(
                    &format!("layer output {module}"),
                    record(&module, "output")?,
                    want.data(),
                    value_tolerance(&want),
                ));
            }
            for entry in as_array(field(expected, "lif_records")?, "lif_records")? {
                let [module, traces] = as_array(entry, "lif_records entry")? else {
                    return Err(ConformanceError::Format(
                        "lif_records entries are [path, {vmem, isyn}]".into(),
                    ));
                };
                let module = path(module)?;
                for name in ["vmem", "isyn"] {
                    let want = tensor(field(traces, name)?)?;
                    checks.push(compare(
                        &format!("{name} {module}"),
                        record(&module, name)?,
                        want.data(),
                        TRACE,
                    ));
                }
            }
        }
        NetworkKind::Train => {}
    }
    let _ = network;
    Ok(checks)
}

/// Spike counts and other integer-valued arrays must match exactly.
fn value_tolerance(reference: &Tensor) -> Tolerance {
    if reference.data().iter().all(|x| x.fract() == 0.0) {
        Tolerance::Exact
    } else {
        TRACE
    }
}

/// One check per gradient leaf, in parameter order.
fn grad_checks(what: &str, grads: &[Vec<f32>], reference: &Tree<Tensor>) -> Vec<Check> {
    let leaves = reference.leaves();
    if leaves.len() != grads.len() {
        return vec![Check::fail(
            what,
            format!("{} gradients, expected {}", grads.len(), leaves.len()),
        )];
    }
    leaves
        .iter()
        .zip(grads)
        .map(|((path, r), g)| compare(&format!("{what} {path}"), g, r.data(), Tolerance::Gradient))
        .collect()
}

/// Five (or `inputs.steps`) Adam steps, comparing the trajectory.
fn train(
    case: &Json,
    backend: Backend,
    runner: &mut dyn NetworkRunner,
    mut params: Vec<Vec<f32>>,
) -> Result<Vec<Check>, ConformanceError> {
    let inputs = field(case, "inputs")?;
    let expected = field(case, "expected")?;
    let opt = field(inputs, "optimizer")?;
    let name = as_str(field(opt, "name")?, "optimizer.name")?;
    if name != "adam" {
        return Err(ConformanceError::Format(format!(
            "unsupported optimizer `{name}`"
        )));
    }
    let adam = Adam {
        lr: as_f64(field(opt, "lr")?, "lr")?,
        b1: as_f64(field(opt, "b1")?, "b1")?,
        b2: as_f64(field(opt, "b2")?, "b2")?,
        eps: as_f64(field(opt, "eps")?, "eps")?,
        variant: match backend {
            Backend::Jax => AdamVariant::Optax,
            Backend::Torch => AdamVariant::Torch,
        },
    };
    let steps = as_usize(field(inputs, "steps")?, "steps")?;
    let losses = as_array(field(expected, "losses")?, "losses")?;
    let mses = as_array(field(expected, "mse")?, "mse")?;
    let bounds = as_array(field(expected, "bounds")?, "bounds")?;
    let after = as_array(field(expected, "params_after_step")?, "params_after_step")?;
    // The expected trajectory has one entry per step: a step count it does
    // not cover is a malformed case (and a huge one would run for ever).
    for (name, list) in [
        ("losses", losses),
        ("mse", mses),
        ("bounds", bounds),
        ("params_after_step", after),
    ] {
        if list.len() != steps {
            return Err(ConformanceError::Format(format!(
                "inputs.steps is {steps} but expected.{name} has {} entries",
                list.len()
            )));
        }
    }
    let mut checks = Vec::new();
    for k in 0..steps {
        let result = runner.run(&params)?;
        let at = |list: &[Json]| list.get(k).map(as_f32).transpose();
        for (what, ours, list) in [
            ("losses", result.total, losses),
            ("mse", result.mse, mses),
            ("bounds", result.bounds, bounds),
        ] {
            if let Some(want) = at(list)? {
                checks.push(compare(
                    &format!("step {k} {what}"),
                    &[ours],
                    &[want],
                    VALUE,
                ));
            }
        }
        params = runner.adam_step(&adam, k as u64 + 1)?;
        if let Some(want) = after.get(k) {
            checks.extend(param_checks(
                &format!("params after step {k}"),
                &params,
                &tensor_tree(want)?,
            ));
        }
    }
    checks.extend(param_checks(
        "final_params",
        &params,
        &tensor_tree(field(expected, "final_params")?)?,
    ));
    let final_result = runner.run(&params)?;
    checks.push(compare(
        "final_loss",
        &[final_result.total],
        &[as_f32(field(expected, "final_loss")?)?],
        VALUE,
    ));
    Ok(checks)
}

fn param_checks(what: &str, params: &[Vec<f32>], reference: &Tree<Tensor>) -> Vec<Check> {
    let leaves = reference.leaves();
    if leaves.len() != params.len() {
        return vec![Check::fail(
            what,
            format!("{} parameters, expected {}", params.len(), leaves.len()),
        )];
    }
    leaves
        .iter()
        .zip(params)
        .map(|((path, r), p)| compare(&format!("{what} {path}"), p, r.data(), VALUE))
        .collect()
}
