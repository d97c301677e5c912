//! Turns a traced step into the programs the runtime runs.
//!
//! 1. Autodiff: the backward step is the reverse sweep of one timestep,
//!    seeded with 1 for the step's loss and with the `StateAdjoint`
//!    arguments (the adjoints of the states at the end of the step) for the
//!    state outputs. Its outputs are the adjoints of the states at the start
//!    of the step and the step's contribution to each parameter gradient.
//!    Forward and backward outputs live in one graph, so the simplifier
//!    shares work between them.
//! 2. Simplify that graph (and the parameter-only loss with its gradient),
//!    turning gradient quotients by parameter-only divisors into products
//!    with their reciprocal (`reciprocal`), gathering the parameter-only
//!    factors of products (`factor`) and giving products with a transposed
//!    parameter-only operand a transposed copy of it (`pretranspose`).
//! 3. Hoist parameter-only values into the prologue (`hoist`).
//! 4. Choose the tape (`tape`): the forward values the backward step reads.
//! 5. Cut the graph into prologue, forward and backward programs, each
//!    holding only the nodes it needs (`extract`).

use super::extract::{extract, ArgSpec};
use super::factor::factor_invariant_products;
use super::hoist::hoisted_values;
use super::pretranspose::pretranspose_invariant_operands;
use super::reciprocal::reciprocals_of_invariant_divisors;
use super::tape::taped_values;
use super::{find_arg, find_output, Slot, StepProgram, TrainingPrograms};
use crate::autodiff::gradients;
use crate::interp::live_values;
use crate::ir::{ArgKind, Graph, GraphError, OutKind, Output, Shape, Value};
use crate::simplify::simplify;
use std::collections::HashMap;

/// Node counts of the step graphs at each stage of compilation: the traced
/// step, the step with its backward sweep, and that graph simplified (live
/// nodes only, before it is split into programs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub traced: usize,
    pub with_gradients: usize,
    pub simplified: usize,
}

/// Differentiates, simplifies and splits `step` into the programs the
/// runtime executes (see [`TrainingPrograms`] for their signatures).
///
/// The forward program computes exactly the traced values (the simplifier
/// is exact). The backward program outputs `StateAdjoint(s)` for every
/// state and `ParamGrad(p)` (accumulated) for every parameter the step's
/// loss or states depend on; a parameter with no `ParamGrad` output gets
/// zero from every step.
///
/// Errors name what is missing or mis-shaped: the step must have a scalar
/// `Loss(0)`, a `Prediction(0)`, and a `State(s)` output shaped like each
/// state slot; every parameter and state it reads must be listed, with the
/// shape of its slot.
pub fn compile_training(step: &StepProgram) -> Result<TrainingPrograms, GraphError> {
    let traced = live_values(&step.step).len();
    let combined = with_backward_step(step)?;
    let with_gradients = live_values(&combined).len();
    let combined = simplified(&combined);
    let simplified = live_values(&combined).len();
    let prediction = step_output(&combined, OutKind::Prediction, "the prediction")?;
    let prediction = combined.shape(prediction).clone();

    // Prologue: parameter-only values, read by the step as `Hoisted` args.
    let mut hoisted = Vec::new();
    let mut prologue_outputs = Vec::new();
    let mut hoisted_args = HashMap::new();
    for (j, v) in hoisted_values(&combined).into_iter().enumerate() {
        let name = value_name(&combined, v, &[ArgKind::Param]);
        hoisted.push(slot(j, &name, combined.shape(v)));
        prologue_outputs.push(output(OutKind::Hoisted, j, &name, v, false));
        hoisted_args.insert(v, arg_spec(ArgKind::Hoisted, j, &name));
    }
    let prologue = extract(&combined, &prologue_outputs, &HashMap::new());
    let step_graph = extract(&combined, combined.outputs(), &hoisted_args);

    // Forward and backward, joined by the tape.
    let (mut forward_outputs, backward_outputs): (Vec<Output>, Vec<Output>) = step_graph
        .outputs()
        .iter()
        .cloned()
        .partition(|o| !matches!(o.kind, OutKind::StateAdjoint | OutKind::ParamGrad));
    let mut tape = Vec::new();
    let mut tape_args = HashMap::new();
    let time_varying = [ArgKind::State, ArgKind::Input, ArgKind::Target];
    for (k, v) in taped_values(&step_graph, &forward_outputs, &backward_outputs)
        .into_iter()
        .enumerate()
    {
        let name = value_name(&step_graph, v, &time_varying);
        tape.push(slot(k, &name, step_graph.shape(v)));
        forward_outputs.push(output(OutKind::Tape, k, &name, v, false));
        tape_args.insert(v, arg_spec(ArgKind::Tape, k, &name));
    }
    let forward = extract(&step_graph, &forward_outputs, &HashMap::new());
    let backward = extract(&step_graph, &backward_outputs, &tape_args);

    let records = forward
        .outputs()
        .iter()
        .filter(|o| o.kind == OutKind::Record)
        .map(|o| slot(o.slot, &o.name, forward.shape(o.value)))
        .collect();
    Ok(TrainingPrograms {
        prologue,
        prepass: Graph::new(),
        forward,
        backward,
        epilogue: Graph::new(),
        param_loss: with_param_gradients(&step.param_loss, &step.params)?,
        params: step.params.clone(),
        states: step.states.clone(),
        hoisted,
        tape,
        tape_lags: Vec::new(),
        taped_states: Vec::new(),
        adjoint_sequences: Vec::new(),
        sequences: Vec::new(),
        fixed: step.fixed.clone(),
        input: step.input.clone(),
        target: step.target.clone(),
        prediction,
        records,
        stats: PassStats {
            traced,
            with_gradients,
            simplified,
        },
    })
}

/// The step graph with its backward sweep, before simplification (the
/// `grad` stage of `neurojit ir`). See [`compile_training`] for its outputs.
pub fn gradient_graph(step: &StepProgram) -> Result<Graph, GraphError> {
    with_backward_step(step)
}

/// The step graph with its backward sweep, simplified as
/// [`compile_training`] simplifies it before splitting it into programs.
pub fn simplified_gradient_graph(step: &StepProgram) -> Result<Graph, GraphError> {
    Ok(simplified(&with_backward_step(step)?))
}

fn simplified(combined: &Graph) -> Graph {
    let multiplied = reciprocals_of_invariant_divisors(&simplify(combined));
    let factored = factor_invariant_products(&multiplied);
    simplify(&pretranspose_invariant_operands(&factored))
}

/// The step graph with its backward sweep: adds `StateAdjoint(s)` arguments
/// and `StateAdjoint(s)` and `ParamGrad(p)` (accumulated) outputs. A
/// parameter the step does not depend on gets no `ParamGrad` output; every
/// state gets a `StateAdjoint` output (zero if the step does not read it).
fn with_backward_step(step: &StepProgram) -> Result<Graph, GraphError> {
    let mut g = step.step.clone();
    expect_listed(&g, &step.params, &step.states)?;
    step_output(&g, OutKind::Prediction, "the prediction")?;
    let loss = step_output(&g, OutKind::Loss, "the step's loss")?;
    expect_shape(&g, "the step's loss", loss, &Shape::scalar())?;
    let one = g.scalar(1.0);
    let mut seeds = vec![(loss, one)];
    let mut wrt = Vec::new();
    for s in &step.states {
        let what = format!("state `{}`", s.name);
        let out = find_output(&g, OutKind::State, s.slot)
            .map(|i| g.outputs()[i].value)
            .ok_or_else(|| GraphError::Missing {
                what: format!("the output of {what}"),
            })?;
        expect_shape(&g, &what, out, &s.shape)?;
        let adjoint = g.arg(ArgKind::StateAdjoint, s.slot, &s.name, s.shape.clone());
        seeds.push((out, adjoint));
        wrt.push(slot_arg(&mut g, ArgKind::State, s)?);
    }
    for p in &step.params {
        wrt.push(slot_arg(&mut g, ArgKind::Param, p)?);
    }
    let adjoints = gradients(&mut g, &seeds, &wrt)?;
    let (state_adjoints, param_grads) = adjoints.split_at(step.states.len());
    for (s, adjoint) in step.states.iter().zip(state_adjoints) {
        let value = adjoint.unwrap_or_else(|| g.constant(0.0, s.shape.clone()));
        g.push_output(output(OutKind::StateAdjoint, s.slot, &s.name, value, false));
    }
    for (p, grad) in step.params.iter().zip(param_grads) {
        if let Some(value) = *grad {
            g.push_output(output(OutKind::ParamGrad, p.slot, &p.name, value, true));
        }
    }
    Ok(g)
}

/// Every parameter and state a graph reads must have a slot, or its
/// gradient (or adjoint) would be silently dropped.
fn expect_listed(g: &Graph, params: &[Slot], states: &[Slot]) -> Result<(), GraphError> {
    for arg in g.args() {
        let (listed, what) = match arg.kind {
            ArgKind::Param => (params, "parameter"),
            ArgKind::State => (states, "state"),
            _ => continue,
        };
        if !listed.iter().any(|s| s.slot == arg.slot) {
            return Err(GraphError::Missing {
                what: format!("the slot of {what} `{}` (slot {})", arg.name, arg.slot),
            });
        }
    }
    Ok(())
}

/// The parameter-only loss with its gradient: outputs `Loss(0)` and
/// `ParamGrad(p)` (accumulated), simplified. A graph without outputs means
/// there is no parameter-only loss.
fn with_param_gradients(param_loss: &Graph, params: &[Slot]) -> Result<Graph, GraphError> {
    if param_loss.outputs().is_empty() {
        return Ok(Graph::new());
    }
    let mut g = param_loss.clone();
    expect_listed(&g, params, &[])?;
    let loss = step_output(&g, OutKind::Loss, "the parameter-only loss")?;
    expect_shape(&g, "the parameter-only loss", loss, &Shape::scalar())?;
    let loss_output = g.outputs()[find_output(&g, OutKind::Loss, 0).unwrap_or(0)].clone();
    let one = g.scalar(1.0);
    let mut wrt = Vec::new();
    for p in params {
        wrt.push(slot_arg(&mut g, ArgKind::Param, p)?);
    }
    let grads = gradients(&mut g, &[(loss, one)], &wrt)?;
    let mut outputs = vec![loss_output];
    for (p, grad) in params.iter().zip(grads) {
        if let Some(value) = grad {
            outputs.push(output(OutKind::ParamGrad, p.slot, &p.name, value, true));
        }
    }
    g.set_outputs(outputs);
    let g = simplify(&g);
    Ok(extract(&g, g.outputs(), &HashMap::new()))
}

/// The value of output `(kind, 0)` of a step graph.
fn step_output(g: &Graph, kind: OutKind, what: &str) -> Result<Value, GraphError> {
    find_output(g, kind, 0)
        .map(|i| g.outputs()[i].value)
        .ok_or_else(|| GraphError::Missing {
            what: what.to_string(),
        })
}

/// The argument `(kind, slot.slot)`, checked against the slot's shape.
/// An argument the graph does not read yet is declared (it then has no
/// users, so its gradient is zero).
fn slot_arg(g: &mut Graph, kind: ArgKind, slot: &Slot) -> Result<Value, GraphError> {
    if let Some(i) = find_arg(g, kind, slot.slot) {
        let shape = &g.args()[i].shape;
        if shape != &slot.shape {
            return Err(GraphError::Expected {
                what: format!("argument `{}`", slot.name),
                expected: slot.shape.clone(),
                got: shape.clone(),
            });
        }
    }
    Ok(g.arg(kind, slot.slot, &slot.name, slot.shape.clone()))
}

fn expect_shape(g: &Graph, what: &str, v: Value, expected: &Shape) -> Result<(), GraphError> {
    if g.shape(v) == expected {
        return Ok(());
    }
    Err(GraphError::Expected {
        what: what.to_string(),
        expected: expected.clone(),
        got: g.shape(v).clone(),
    })
}

/// A readable name for a hoisted or taped value: the argument's own name,
/// or its op and (up to three of) the arguments of `kinds` it reads, e.g.
/// `exp(1_LIF/tau_mem)`.
fn value_name(graph: &Graph, v: Value, kinds: &[ArgKind]) -> String {
    if let Some(arg) = graph.arg_of(v) {
        return arg.name.clone();
    }
    let describe = graph.describe(v);
    // The op's name: the first word, without `[attributes]`.
    let op = describe.split([' ', '[']).next().unwrap_or("value");
    let mut reads = vec![false; graph.len()];
    reads[v.index()] = true;
    let mut names = Vec::new();
    for u in graph.values().rev() {
        if !reads[u.index()] {
            continue;
        }
        match graph.arg_of(u) {
            Some(arg) if kinds.contains(&arg.kind) => names.push(arg.name.clone()),
            Some(_) => {}
            None => graph
                .op(u)
                .operands()
                .iter()
                .for_each(|x| reads[x.index()] = true),
        }
    }
    names.reverse();
    if names.len() > 3 {
        names.truncate(3);
        names.push("...".into());
    }
    format!("{op}({})", names.join(","))
}

fn slot(slot: usize, name: &str, shape: &Shape) -> Slot {
    Slot {
        slot,
        name: name.to_string(),
        shape: shape.clone(),
    }
}

fn arg_spec(kind: ArgKind, slot: usize, name: &str) -> ArgSpec {
    ArgSpec {
        kind,
        slot,
        name: name.to_string(),
    }
}

fn output(kind: OutKind, slot: usize, name: &str, value: Value, accumulate: bool) -> Output {
    Output {
        kind,
        slot,
        name: name.to_string(),
        value,
        accumulate,
    }
}
