//! Programs through time.
//!
//! A network is traced into a [`StepProgram`]: one timestep as a graph,
//! `(params, state_in, x_t, target_t) -> (state_out, y_t, loss_t)`, plus a
//! parameter-only graph for terms that do not depend on `t` (bound
//! penalties). The total loss is `sum_t loss_t + param_loss`.
//!
//! [`TrainingPrograms`] is what the runtime executes: a prologue (values
//! that depend only on parameters, computed once per call), the forward step
//! (which writes the tape), the backward step (which reads it) and the
//! parameter-only loss with its gradient. [`batch_over_time`] adds a prepass
//! before the forward loop and an epilogue after the backward loop, which
//! handle all timesteps at once.

mod adjoint_sequence;
mod extract;
mod factor;
mod hoist;
mod min_cut;
mod pretranspose;
mod reciprocal;
mod split;
mod tape;
mod tape_lag;
mod taped_state;
mod time_batch;

pub use split::{compile_training, gradient_graph, simplified_gradient_graph, PassStats};
pub use time_batch::batch_over_time;

use crate::ir::{ArgKind, Graph, OutKind, Output, Shape, Value};

/// The signature of one buffer the runtime owns: its slot within its kind,
/// its name (a module path for parameters and states) and its shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub slot: usize,
    pub name: String,
    pub shape: Shape,
}

/// A tensor fixed for the whole run (`ArgKind::Fixed`), with its values.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedTensor {
    pub slot: Slot,
    pub values: Vec<f32>,
}

/// One timestep of a network and its loss, as traced.
///
/// Conventions for `step`: arguments are `Param(p)`, `State(s)`, `Input(0)`
/// (x_t), further `Input(k)` (per-step extra inputs such as noise) and
/// `Target(0)`; outputs are `State(s)` (state at the end of the step; every
/// state argument has one), `Prediction(0)`, `Loss(0)` (a scalar) and
/// optionally `Record(r)` values for inspection. `param_loss` takes
/// `Param(p)` and `Fixed(k)` arguments and has one scalar `Loss(0)` output.
#[derive(Clone, Debug)]
pub struct StepProgram {
    pub step: Graph,
    pub param_loss: Graph,
    pub params: Vec<Slot>,
    pub states: Vec<Slot>,
    pub input: Shape,
    pub target: Shape,
    /// Values of the `Fixed(k)` arguments (e.g. per-element bounds).
    pub fixed: Vec<FixedTensor>,
}

/// The programs the runtime runs to train a [`StepProgram`].
///
/// Signatures (arguments → outputs), by kind. Input, Target, Tape,
/// Sequence, Prediction and Record buffers are time-indexed: a step program
/// reads or writes one timestep's row, the prepass and the epilogue all
/// timesteps at once, as `(T*B, n)` matrices.
/// - `prologue`: Param, Fixed → Hoisted
/// - `prepass` (time-batched only, after the prologue): Input, Param,
///   Hoisted, Fixed → Sequence
/// - `forward`: Param, Hoisted, Fixed, State, Input, Sequence, Target →
///   State, Prediction, Loss, Tape, Record
/// - `backward`: Param, Hoisted, Fixed, Tape, Sequence, Input, Target,
///   StateAdjoint → StateAdjoint (at step start), ParamGrad (accumulated),
///   Sequence (rows the epilogue reads)
/// - `epilogue` (time-batched only, after the backward loop): Input, Tape,
///   Sequence → ParamGrad (accumulated)
/// - `param_loss`: Param, Fixed → Loss, ParamGrad (accumulated)
///
/// Any argument kind may be absent from a given program when it is not
/// needed, and `prepass` and `epilogue` are empty graphs unless the
/// programs went through [`batch_over_time`]; slots refer to the lists
/// below. The forward step writes every tape entry except the lagged ones
/// (see [`TapeLag`]), which the runtime derives from their leaders, and
/// the entries that hold a state (see [`TapedState`]), which it writes
/// through that state's output; likewise the backward step writes a
/// sequence that holds a state adjoint (see [`AdjointSequence`]) through
/// that adjoint's output.
#[derive(Clone, Debug)]
pub struct TrainingPrograms {
    pub prologue: Graph,
    /// Work over all timesteps before the forward loop (see
    /// [`batch_over_time`]); empty unless batched.
    pub prepass: Graph,
    pub forward: Graph,
    pub backward: Graph,
    /// Work over all timesteps after the backward loop; empty unless
    /// batched.
    pub epilogue: Graph,
    pub param_loss: Graph,
    pub params: Vec<Slot>,
    pub states: Vec<Slot>,
    pub hoisted: Vec<Slot>,
    pub tape: Vec<Slot>,
    /// Tape entries stored as another entry one step late (see
    /// [`TapeLag`]); empty unless batched.
    pub tape_lags: Vec<TapeLag>,
    /// States the runtime keeps in a tape entry's rows (see
    /// [`TapedState`]); empty unless batched.
    pub taped_states: Vec<TapedState>,
    /// State adjoints the runtime keeps in a sequence's rows (see
    /// [`AdjointSequence`]); empty unless batched.
    pub adjoint_sequences: Vec<AdjointSequence>,
    /// Per-step values handled for all timesteps at once (time-batched).
    pub sequences: Vec<Slot>,
    /// Values of the `Fixed(k)` arguments any program reads.
    pub fixed: Vec<FixedTensor>,
    pub input: Shape,
    pub target: Shape,
    pub prediction: Shape,
    pub records: Vec<Slot>,
    /// Node counts at each stage, for docs and the `ir` command.
    pub stats: PassStats,
}

impl TrainingPrograms {
    /// Bytes the tape holds per timestep (a lagged entry has no storage of
    /// its own).
    pub fn tape_bytes_per_step(&self) -> usize {
        self.tape
            .iter()
            .filter(|s| self.lag_of(s.slot).is_none())
            .map(|s| s.shape.numel() * 4)
            .sum()
    }

    /// The lag of tape entry `entry`, if it is lagged.
    pub fn lag_of(&self, entry: usize) -> Option<&TapeLag> {
        self.tape_lags.iter().find(|l| l.lagged == entry)
    }

    /// The lag whose leader is tape entry `entry`, if any.
    pub fn lag_led_by(&self, entry: usize) -> Option<&TapeLag> {
        self.tape_lags.iter().find(|l| l.leader == entry)
    }

    /// How state `state` is kept in the tape, if it is.
    pub fn taped_state(&self, state: usize) -> Option<&TapedState> {
        self.taped_states.iter().find(|t| t.state == state)
    }

    /// The state kept in tape entry `entry`, if any.
    pub fn state_in_entry(&self, entry: usize) -> Option<&TapedState> {
        self.taped_states.iter().find(|t| t.entry == entry)
    }

    /// Whether the forward step has an output of `kind` in `slot`.
    pub fn forward_writes(&self, kind: OutKind, slot: usize) -> bool {
        writes(&self.forward, kind, slot)
    }

    /// Whether the backward step has an output of `kind` in `slot`.
    pub fn backward_writes(&self, kind: OutKind, slot: usize) -> bool {
        writes(&self.backward, kind, slot)
    }

    /// Every program but `program` (one of this struct's).
    fn programs_other_than<'a>(&'a self, program: &'a Graph) -> impl Iterator<Item = &'a Graph> {
        [
            &self.prologue,
            &self.prepass,
            &self.forward,
            &self.backward,
            &self.epilogue,
            &self.param_loss,
        ]
        .into_iter()
        .filter(move |g| !std::ptr::eq(*g, program))
    }

    /// Whether a program other than the forward step reads or writes
    /// state `state`.
    pub fn state_used_outside_forward(&self, state: usize) -> bool {
        self.programs_other_than(&self.forward)
            .any(|g| reads(g, ArgKind::State, state) || writes(g, OutKind::State, state))
    }

    /// How state `state`'s adjoint is kept in a sequence, if it is.
    pub fn adjoint_sequence(&self, state: usize) -> Option<&AdjointSequence> {
        self.adjoint_sequences.iter().find(|a| a.state == state)
    }

    /// The state adjoint kept in sequence `sequence`, if any.
    pub fn adjoint_in_sequence(&self, sequence: usize) -> Option<&AdjointSequence> {
        self.adjoint_sequences
            .iter()
            .find(|a| a.sequence == sequence)
    }

    /// Whether sequence `sequence` goes only from the backward step to the
    /// epilogue: no other program writes it, and no other reads it.
    pub fn sequence_from_backward_to_epilogue_only(&self, sequence: usize) -> bool {
        let others_write = self
            .programs_other_than(&self.backward)
            .any(|g| writes(g, OutKind::Sequence, sequence));
        let others_read = self
            .programs_other_than(&self.epilogue)
            .any(|g| reads(g, ArgKind::Sequence, sequence));
        !others_write && !others_read
    }

    /// Whether a program other than the backward step reads or writes the
    /// adjoint of state `state`.
    pub fn adjoint_used_outside_backward(&self, state: usize) -> bool {
        self.programs_other_than(&self.backward).any(|g| {
            reads(g, ArgKind::StateAdjoint, state) || writes(g, OutKind::StateAdjoint, state)
        })
    }

    /// Whether tape entry `entry` or state `state` takes part in a lag.
    pub fn in_a_lag(&self, state: usize, entry: usize) -> bool {
        self.lag_of(entry).is_some()
            || self.lag_led_by(entry).is_some()
            || self.tape_lags.iter().any(|l| l.initial_state == state)
    }
}

/// Whether `graph` has an argument of `kind` in `slot`.
fn reads(graph: &Graph, kind: ArgKind, slot: usize) -> bool {
    graph
        .args()
        .iter()
        .any(|a| a.kind == kind && a.slot == slot)
}

/// Whether `graph` has an output of `kind` in `slot`.
fn writes(graph: &Graph, kind: OutKind, slot: usize) -> bool {
    graph
        .outputs()
        .iter()
        .any(|o| o.kind == kind && o.slot == slot)
}

/// A state kept in the tape: at step `t`, tape entry `entry` holds state
/// `state`'s value at the start of step `t` (the backward step reads it
/// there). The runtime gives the entry `T + 1` rows, the state's initial
/// value in row 0, and binds the forward step's state argument to row `t`
/// and its next value to row `t + 1`: the step writes the state once
/// instead of writing it and copying it to the tape. After the pass, row
/// `T` holds the final state. Only time-batched programs have them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TapedState {
    pub state: usize,
    pub entry: usize,
}

/// A state adjoint kept in a sequence: the backward step writes the
/// adjoint of state `state` (its value at the start of step `t`) as it
/// goes, and the epilogue reads the same values from sequence `sequence`.
/// The runtime gives the sequence `T + 1` rows, zeros in row `T`, and binds
/// the backward step's adjoint argument at step `t` to row `t + 1` and its
/// adjoint output to row `t`: the step writes the values once instead of
/// twice, and the epilogue reads rows `0..T` as before. Only time-batched
/// programs have them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdjointSequence {
    pub state: usize,
    pub sequence: usize,
}

/// A tape entry that holds another entry's values one step late: at step
/// `t`, entry `lagged` is what entry `leader` was at step `t - 1`, and at
/// step 0 the initial value of state `initial_state`. Such an entry is a
/// state the forward step would copy to the tape while the state's next
/// value is taped too (a recurrent layer's spikes: the weight gradient
/// reads last step's, the surrogate this step's). The runtime keeps both
/// entries in one buffer of `T + 1` rows, the state's initial value first,
/// and the forward step writes only `leader`: one stream of memory fewer
/// per step. Only time-batched programs have lags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TapeLag {
    pub lagged: usize,
    pub leader: usize,
    pub initial_state: usize,
}

/// A copy of `graph`, with the same arguments and outputs, built node by
/// node for the passes that rewrite some nodes: `rewrite(rebuilt, v,
/// copy_of)` returns the node that stands for `v` (built in `rebuilt` from
/// the copies of earlier nodes, `copy_of`), or `None` for a plain copy.
/// Nodes a rewrite no longer reads are left dead (callers simplify or
/// extract afterwards).
pub(crate) fn rebuild(
    graph: &Graph,
    mut rewrite: impl FnMut(&mut Graph, Value, &[Value]) -> Option<Value>,
) -> Graph {
    let mut rebuilt = Graph::new();
    rebuilt.set_args(graph.args().to_vec());
    let mut copy_of: Vec<Value> = Vec::with_capacity(graph.len());
    for v in graph.values() {
        let new = match rewrite(&mut rebuilt, v, &copy_of) {
            Some(new) => new,
            None => {
                let node = graph.node(v);
                let op = node.op.map_operands(|x| copy_of[x.index()]);
                rebuilt.add_node(op, node.shape.clone())
            }
        };
        copy_of.push(new);
    }
    let outputs = graph
        .outputs()
        .iter()
        .map(|o| Output {
            value: copy_of[o.value.index()],
            ..o.clone()
        })
        .collect();
    rebuilt.set_outputs(outputs);
    rebuilt
}

/// `needed[v]`: an output other than a gradient (`StateAdjoint`,
/// `ParamGrad`) reads `v`.
pub(crate) fn needed_by_forward(graph: &Graph) -> Vec<bool> {
    let forward: Vec<Output> = graph
        .outputs()
        .iter()
        .filter(|out| !matches!(out.kind, OutKind::StateAdjoint | OutKind::ParamGrad))
        .cloned()
        .collect();
    graph.read_by(&forward)
}

/// Finds the argument of `graph` with this kind and slot, if used.
pub fn find_arg(graph: &Graph, kind: ArgKind, slot: usize) -> Option<usize> {
    graph
        .args()
        .iter()
        .position(|a| a.kind == kind && a.slot == slot)
}

/// Finds the output of `graph` with this kind and slot, if present.
pub fn find_output(graph: &Graph, kind: OutKind, slot: usize) -> Option<usize> {
    graph
        .outputs()
        .iter()
        .position(|o| o.kind == kind && o.slot == slot)
}
