//! Time batching: work that does not depend on the recurrence is done for
//! all timesteps at once, as one large matmul, instead of `T` small ones.
//!
//! - Input projections. A forward matmul `x_t @ W` of the network input by
//!   a parameter (or hoisted value) becomes one `(T*B, n_in) @ W` product in
//!   the `prepass` program, run after the prologue; the forward step reads
//!   its row `t` as a `Sequence` argument.
//! - Weight gradients. A backward step's contribution `a_tᵀ @ g_t` to a
//!   parameter's gradient becomes one `(T*B, n)ᵀ @ (T*B, m)` product in the
//!   `epilogue` program, run after the time loop. The backward step writes
//!   `a_t` and `g_t` as rows of `Sequence` buffers, unless they are rows of
//!   the input or of the tape already.
//!
//! Last, a state copied to the tape whose next value is taped too becomes a
//! lagged view of that entry (`tape_lag`), and any other state the forward
//! step only copied to the tape is kept in that entry (`taped_state`).
//!
//! Time-indexed buffers are time-major, so the rows of all steps form one
//! `(T*B, n)` matrix. The batched products sum the same terms in another
//! order (float reassociation only). Assumes the per-step values are 2-D
//! with the batch first, as the step program's inputs are.

use super::adjoint_sequence::keep_adjoints_in_sequences;
use super::extract::{extract, ArgSpec};
use super::tape_lag::lag_state_copies;
use super::taped_state::keep_states_in_tape;
use super::{Slot, TrainingPrograms};
use crate::ir::{ArgKind, Graph, GraphError, Op, OutKind, Output, Shape, Value};
use std::collections::HashMap;

/// Rewrites `programs` (for runs of `steps` timesteps) so that input
/// projections and weight gradients run once per call over all timesteps,
/// lags the tape's state copies that another entry leads (see `TapeLag`),
/// keeps the other copied states in the tape (see `TapedState`) and the
/// state adjoints the epilogue reads in their sequences (see
/// `AdjointSequence`).
/// Programs already batched are returned unchanged.
pub fn batch_over_time(
    mut programs: TrainingPrograms,
    steps: usize,
) -> Result<TrainingPrograms, GraphError> {
    let batched = !programs.sequences.is_empty()
        || !programs.tape_lags.is_empty()
        || !programs.taped_states.is_empty()
        || !programs.adjoint_sequences.is_empty();
    if steps == 0 || batched {
        return Ok(programs);
    }
    let mut sequences = Vec::new();
    let (prepass, forward) = batch_input_projections(&programs.forward, steps, &mut sequences)?;
    let (forward, backward, tape) =
        read_sequences_not_tape(&forward, &programs.backward, &programs.tape);
    let (backward, epilogue) = batch_weight_gradients(&backward, steps, &mut sequences)?;
    programs.tape = tape;
    programs.prepass = prepass;
    programs.forward = forward;
    programs.backward = backward;
    programs.epilogue = epilogue;
    programs.sequences = sequences;
    // Last: lags and taped states name tape slots, and nothing may
    // renumber them after.
    lag_state_copies(&mut programs);
    keep_states_in_tape(&mut programs);
    keep_adjoints_in_sequences(&mut programs);
    Ok(programs)
}

/// `(T*B, n)`: all timesteps of a per-step `(B, n)` value; `None` when the
/// value is not 2-D or all steps would hold more elements than a `usize`
/// counts (that value is then left per-step, and the runtime refuses the
/// session for its size).
fn all_steps(shape: &Shape, steps: usize) -> Option<Shape> {
    match shape.dims() {
        &[b, n] => {
            let rows = steps.checked_mul(b)?;
            rows.checked_mul(n)?;
            Some(Shape::from([rows, n]))
        }
        _ => None,
    }
}

fn new_sequence(sequences: &mut Vec<Slot>, name: String, shape: &Shape) -> usize {
    let slot = sequences.len();
    sequences.push(Slot {
        slot,
        name,
        shape: shape.clone(),
    });
    slot
}

/// Moves `input @ W` products of the forward step into a prepass program.
fn batch_input_projections(
    forward: &Graph,
    steps: usize,
    sequences: &mut Vec<Slot>,
) -> Result<(Graph, Graph), GraphError> {
    let mut prepass = Graph::new();
    let mut cut = HashMap::new();
    for v in forward.values() {
        let Op::Matmul {
            lhs,
            rhs,
            transpose_lhs: false,
            transpose_rhs,
        } = *forward.op(v)
        else {
            continue;
        };
        let (Some(x), Some(w)) = (forward.arg_of(lhs), forward.arg_of(rhs)) else {
            continue;
        };
        let time_invariant = matches!(w.kind, ArgKind::Param | ArgKind::Hoisted | ArgKind::Fixed);
        if x.kind != ArgKind::Input || !time_invariant {
            continue;
        }
        let (Some(xs_shape), Some(out_shape)) = (
            all_steps(&x.shape, steps),
            all_steps(forward.shape(v), steps),
        ) else {
            continue;
        };
        let name = format!("{} @ {}", x.name, w.name);
        let slot = new_sequence(sequences, name.clone(), forward.shape(v));
        let xs = prepass.arg(x.kind, x.slot, &x.name, xs_shape);
        let ws = prepass.arg(w.kind, w.slot, &w.name, w.shape.clone());
        let product = prepass.matmul_transposed(xs, ws, false, transpose_rhs)?;
        debug_assert_eq!(prepass.shape(product), &out_shape);
        prepass.output(OutKind::Sequence, slot, &name, product);
        cut.insert(
            v,
            ArgSpec {
                kind: ArgKind::Sequence,
                slot,
                name,
            },
        );
    }
    let forward = extract(forward, forward.outputs(), &cut);
    Ok((prepass, forward))
}

/// A taped value that is now a whole sequence (a batched input projection)
/// need not be copied to the tape: the backward step reads the sequence's
/// row instead. Drops such tape entries and renumbers the rest.
fn read_sequences_not_tape(
    forward: &Graph,
    backward: &Graph,
    tape: &[Slot],
) -> (Graph, Graph, Vec<Slot>) {
    let mut sequence_of_tape = HashMap::new();
    let mut outputs = Vec::new();
    for out in forward.outputs() {
        match (out.kind, forward.arg_of(out.value)) {
            (OutKind::Tape, Some(a)) if a.kind == ArgKind::Sequence => {
                sequence_of_tape.insert(out.slot, (a.slot, a.name.clone()));
            }
            _ => outputs.push(out.clone()),
        }
    }
    let mut kept = Vec::new();
    let mut new_slot = HashMap::new();
    for s in tape
        .iter()
        .filter(|s| !sequence_of_tape.contains_key(&s.slot))
    {
        new_slot.insert(s.slot, kept.len());
        kept.push(Slot {
            slot: kept.len(),
            ..s.clone()
        });
    }
    for out in outputs.iter_mut().filter(|o| o.kind == OutKind::Tape) {
        out.slot = new_slot[&out.slot];
    }
    let mut forward = forward.clone();
    forward.set_outputs(outputs);
    let mut backward = backward.clone();
    let args = backward
        .args()
        .iter()
        .map(|a| {
            let mut a = a.clone();
            if a.kind == ArgKind::Tape {
                match sequence_of_tape.get(&a.slot) {
                    Some((slot, name)) => {
                        a.kind = ArgKind::Sequence;
                        a.slot = *slot;
                        a.name = name.clone();
                    }
                    None => a.slot = new_slot[&a.slot],
                }
            }
            a
        })
        .collect();
    backward.set_args(args);
    (forward, backward, kept)
}

/// Where the epilogue reads all timesteps of a backward value, and their
/// `(T*B, n)` shape. A value that is not already a row of the input, the
/// tape or a sequence becomes a new sequence the backward step writes (an
/// output added to `written`), named `role`.
fn sequence_of(
    backward: &Graph,
    v: Value,
    role: String,
    steps: usize,
    sequences: &mut Vec<Slot>,
    written: &mut Vec<Output>,
    known: &mut HashMap<Value, ArgSpec>,
) -> Option<(ArgSpec, Shape)> {
    let whole = all_steps(backward.shape(v), steps)?;
    if let Some(spec) = known.get(&v) {
        return Some((spec.clone(), whole));
    }
    let found = match backward.arg_of(v) {
        Some(a) if matches!(a.kind, ArgKind::Input | ArgKind::Tape | ArgKind::Sequence) => {
            ArgSpec {
                kind: a.kind,
                slot: a.slot,
                name: a.name.clone(),
            }
        }
        Some(_) => return None,
        None => {
            let slot = new_sequence(sequences, role.clone(), backward.shape(v));
            written.push(Output {
                kind: OutKind::Sequence,
                slot,
                name: role.clone(),
                value: v,
                accumulate: false,
            });
            ArgSpec {
                kind: ArgKind::Sequence,
                slot,
                name: role,
            }
        }
    };
    known.insert(v, found.clone());
    Some((found, whole))
}

/// Moves `aᵀ @ g` parameter-gradient contributions of the backward step
/// into an epilogue program over all timesteps.
fn batch_weight_gradients(
    backward: &Graph,
    steps: usize,
    sequences: &mut Vec<Slot>,
) -> Result<(Graph, Graph), GraphError> {
    let time_varying = time_varying_values(backward);
    let mut epilogue = Graph::new();
    let mut kept = Vec::new();
    let mut written = Vec::new();
    let mut known = HashMap::new();
    for out in backward.outputs() {
        let batched = match (out.kind, *backward.op(out.value)) {
            (
                OutKind::ParamGrad,
                Op::Matmul {
                    lhs,
                    rhs,
                    transpose_lhs: true,
                    transpose_rhs: false,
                },
            ) if time_varying[lhs.index()]
                && time_varying[rhs.index()]
                // Both sides or neither: a side made a sequence alone
                // would be written every step and never read.
                && all_steps(backward.shape(lhs), steps).is_some()
                && all_steps(backward.shape(rhs), steps).is_some() =>
            {
                // The gradient is Σ_t a_tᵀ g_t.
                let role = |side: &str| format!("{side} of {} grad", out.name);
                let (a_role, g_role) = (role("a"), role("g"));
                let a = sequence_of(
                    backward,
                    lhs,
                    a_role,
                    steps,
                    sequences,
                    &mut written,
                    &mut known,
                );
                let g = sequence_of(
                    backward,
                    rhs,
                    g_role,
                    steps,
                    sequences,
                    &mut written,
                    &mut known,
                );
                a.zip(g)
            }
            _ => None,
        };
        match batched {
            Some(((a, shape_a), (g, shape_g))) => {
                let a = epilogue.arg(a.kind, a.slot, &a.name, shape_a);
                let g = epilogue.arg(g.kind, g.slot, &g.name, shape_g);
                let product = epilogue.matmul_transposed(a, g, true, false)?;
                epilogue.push_output(Output {
                    value: product,
                    ..out.clone()
                });
            }
            None => kept.push(out.clone()),
        }
    }
    kept.extend(written);
    let backward = extract(backward, &kept, &HashMap::new());
    Ok((backward, epilogue))
}

/// Which values depend on a per-timestep argument.
fn time_varying_values(graph: &Graph) -> Vec<bool> {
    let mut varying = vec![false; graph.len()];
    for v in graph.values() {
        varying[v.index()] = match graph.arg_of(v) {
            Some(a) => !matches!(a.kind, ArgKind::Param | ArgKind::Hoisted | ArgKind::Fixed),
            None => graph.op(v).operands().iter().any(|x| varying[x.index()]),
        };
    }
    varying
}
