//! State adjoints kept in a sequence: when the backward step writes a
//! state's adjoint and also writes the same values to a sequence for the
//! epilogue (the gradient flowing into a layer's input current, which the
//! weight gradient reads), the sequence output is dropped and the runtime
//! keeps the adjoint itself in the sequence's rows (see
//! [`AdjointSequence`]): one stream of memory fewer per backward step.
//!
//! Only sequences that just the backward step writes and just the epilogue
//! reads qualify, for adjoints that no other program touches. Only
//! time-batched programs have them (`batch_over_time` finds them last,
//! after the sequences are numbered).

use super::{AdjointSequence, TrainingPrograms};
use crate::ir::{Graph, Op, OutKind, Value};

/// Finds the backward step's sequence outputs that repeat a state
/// adjoint it writes, drops them and records them in
/// `programs.adjoint_sequences`.
pub(crate) fn keep_adjoints_in_sequences(programs: &mut TrainingPrograms) {
    let backward = &programs.backward;
    let outputs = backward.outputs();
    let mut kept: Vec<AdjointSequence> = Vec::new();
    for copy in outputs.iter().filter(|o| o.kind == OutKind::Sequence) {
        if copy.accumulate || !programs.sequence_from_backward_to_epilogue_only(copy.slot) {
            continue;
        }
        let values = through_reshapes(backward, copy.value);
        let adjoint = outputs.iter().find(|o| {
            o.kind == OutKind::StateAdjoint
                && !o.accumulate
                && through_reshapes(backward, o.value) == values
                && !programs.adjoint_used_outside_backward(o.slot)
                && !kept.iter().any(|k| k.state == o.slot)
        });
        if let Some(adjoint) = adjoint {
            kept.push(AdjointSequence {
                state: adjoint.slot,
                sequence: copy.slot,
            });
        }
    }
    if kept.is_empty() {
        return;
    }
    let repeats = |slot: usize| kept.iter().any(|k| k.sequence == slot);
    let outputs = outputs
        .iter()
        .filter(|o| !(o.kind == OutKind::Sequence && repeats(o.slot)))
        .cloned()
        .collect();
    programs.backward.set_outputs(outputs);
    programs.adjoint_sequences = kept;
}

/// The value whose elements `v` holds: `v` with its reshapes undone.
fn through_reshapes(graph: &Graph, mut v: Value) -> Value {
    while let Op::Reshape(source) = *graph.op(v) {
        v = source;
    }
    v
}
