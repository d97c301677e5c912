//! States kept in the tape: a state the forward step copies to the tape
//! each step (the backward step reads its value at the start of the step)
//! is dropped from the forward step's outputs, and the runtime stores the
//! state itself in that entry's rows (see [`TapedState`]).
//!
//! Only states that no program but the forward step reads, that the
//! forward step updates, and that no tape lag uses qualify. Like lags,
//! only time-batched programs have taped states (`batch_over_time` keeps
//! them last, after the tape is renumbered), so unbatched programs keep
//! the contract that the forward step writes every tape entry.

use super::{TapedState, TrainingPrograms};
use crate::ir::{ArgKind, OutKind, Output};

/// Finds the forward step's state copies that qualify, drops them from its
/// outputs and records them in `programs.taped_states`.
pub(crate) fn keep_states_in_tape(programs: &mut TrainingPrograms) {
    let forward = &programs.forward;
    let mut taped: Vec<TapedState> = Vec::new();
    for copy in forward.outputs().iter().filter(|o| o.kind == OutKind::Tape) {
        let Some(arg) = forward.arg_of(copy.value) else {
            continue;
        };
        let state = arg.slot;
        let qualifies = arg.kind == ArgKind::State
            && programs.forward_writes(OutKind::State, state)
            && !programs.state_used_outside_forward(state)
            && !programs.in_a_lag(state, copy.slot)
            && !taped.iter().any(|t| t.state == state);
        if qualifies {
            taped.push(TapedState {
                state,
                entry: copy.slot,
            });
        }
    }
    if taped.is_empty() {
        return;
    }
    let is_taped = |o: &Output| o.kind == OutKind::Tape && taped.iter().any(|t| t.entry == o.slot);
    let kept = forward
        .outputs()
        .iter()
        .filter(|o| !is_taped(o))
        .cloned()
        .collect();
    programs.forward.set_outputs(kept);
    programs.taped_states = taped;
}
