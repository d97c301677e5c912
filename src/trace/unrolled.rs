//! Unrolling: all `T` timesteps of a network traced into one graph, the
//! states of step `t` feeding step `t + 1` directly and the first step
//! starting from zero state. No runtime is needed to run it: the
//! interpreter evaluates it and `autodiff::backprop` differentiates it as a
//! whole (back-propagation through time falls out). It is the independent
//! path the conformance runner uses to check the front end; it grows with
//! `T`, so training uses [`super::trace`] instead.
//!
//! Arguments: `Param(p)` (as in [`super::trace`]), `Input(t)` = `x_t (B,
//! n_in)` and `Target(t)` = `target_t (B, n_out)` for `t` in `0..T`. The
//! graph has no outputs; callers add the ones they need.

use super::penalty::parameter_loss;
use super::{check_sizes, declare_params, path_map, StepLoss, TraceError, TraceOptions};
use crate::loss::{cross_entropy, sse};
use crate::nn::{InitialState, Module, StepContext};
use crate::tree::{Path, Tree};
use neurojit_compiler::ir::{ArgKind, Graph, Shape, Value};
use neurojit_compiler::program::{FixedTensor, Slot};

/// A network unrolled over time, with the values callers need.
#[derive(Clone, Debug)]
pub struct UnrolledNetwork {
    pub graph: Graph,
    /// Parameter slots in `parameters()` order.
    pub params: Vec<Slot>,
    /// The graph value of each parameter, by path.
    pub param_values: Tree<Value>,
    /// `y_t` for every step.
    pub outputs: Vec<Value>,
    /// Recorded values per step: `(module, name, [value at t])`.
    pub records: Vec<(Path, String, Vec<Value>)>,
    /// Every touched state after the last step.
    pub final_states: Vec<(Path, Value)>,
    /// The target term over the whole run (0 for none).
    pub target_loss: Value,
    /// The parameter-only term (0 when there is none).
    pub param_loss: Value,
    /// `target_loss + param_loss`.
    pub loss: Value,
    /// Values of the graph's `Fixed` arguments (per-element bounds).
    pub fixed: Vec<FixedTensor>,
}

/// Unrolls `network` over `options.timesteps` steps.
pub fn unroll(network: &dyn Module, options: &TraceOptions) -> Result<UnrolledNetwork, TraceError> {
    check_sizes(options.batch, options.timesteps)?;
    crate::nn::check_names(network, &Path::root())?;
    let (b, steps) = (options.batch, options.timesteps);
    let (n_in, n_out) = network.shape();
    let mut g = Graph::new();
    let (params, param_values) = declare_params(&mut g, network);
    let param_map = path_map(&param_values);

    let mut states: Vec<(Path, Value)> = Vec::new();
    let mut outputs = Vec::with_capacity(steps);
    let mut records: Vec<(Path, String, Vec<Value>)> = Vec::new();
    // The target term summed over steps.
    let mut summed: Option<Value> = None;
    for t in 0..steps {
        let x = g.arg(
            ArgKind::Input,
            t,
            &format!("input[{t}]"),
            Shape::from([b, n_in]),
        );
        let target = g.arg(
            ArgKind::Target,
            t,
            &format!("target[{t}]"),
            Shape::from([b, n_out]),
        );
        let mut ctx = StepContext::new(
            &mut g,
            b,
            param_map.clone(),
            states,
            InitialState::Zeros,
            options.record,
        );
        let y = ctx.run(network, x)?;
        let outcome = ctx.finish()?;
        states = outcome
            .states
            .iter()
            .map(|s| (s.path.clone(), s.after))
            .collect();
        for (i, r) in outcome.records.into_iter().enumerate() {
            if t == 0 {
                records.push((r.module, r.name, vec![r.value]));
            } else {
                records[i].2.push(r.value);
            }
        }
        outputs.push(y);
        let term = match options.loss {
            StepLoss::Mse | StepLoss::Sse => Some(sse(&mut g, y, target)?),
            StepLoss::CrossEntropy => Some(cross_entropy(&mut g, y, target)?),
            StepLoss::None => None,
        };
        if let Some(term) = term {
            summed = Some(match summed {
                Some(total) => g.add(total, term)?,
                None => term,
            });
        }
    }

    // Mse divides the summed squared error by every element; cross-entropy
    // (already a batch mean per step) is averaged over time.
    let target_loss = match (options.loss, summed) {
        (StepLoss::Mse, Some(total)) => {
            let count = g.scalar((b * steps * n_out) as f32);
            g.div(total, count)?
        }
        (StepLoss::CrossEntropy, Some(total)) => g.scale(total, 1.0 / steps as f32),
        (StepLoss::Sse, Some(total)) => total,
        _ => g.scalar(0.0),
    };
    let mut fixed = Vec::new();
    let param_loss = parameter_loss(
        &mut g,
        &param_values,
        options.bounds.as_ref(),
        &options.penalties,
        &mut fixed,
    )?;
    let param_loss = param_loss.unwrap_or_else(|| g.scalar(0.0));
    let loss = g.add(target_loss, param_loss)?;
    Ok(UnrolledNetwork {
        graph: g,
        params,
        param_values,
        outputs,
        records,
        final_states: states,
        target_loss,
        param_loss,
        loss,
        fixed,
    })
}
