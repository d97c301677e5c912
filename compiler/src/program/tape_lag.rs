//! Lagged tape entries: a state the forward step copies to the tape is
//! dropped from the forward step when the state's next value is taped too,
//! and becomes a view of that entry one step late (see [`TapeLag`]).
//!
//! A recurrent layer's spikes are the case: the epilogue's weight gradient
//! reads the spikes each step started from (the state, copied to the tape),
//! the backward step's surrogate the spikes it produced (taped, since spikes
//! are never recomputed). Both are the same sequence shifted by one step; a
//! `T + 1`-row buffer holds it once, and the forward step writes it once.
//!
//! Only the state's own next value can lead: a state whose next value is
//! another state (a delay line) or itself would need a chain of lags. And
//! only time-batched programs are lagged (`batch_over_time` does it last,
//! after the tape is renumbered): unbatched programs keep the simple
//! contract that the forward step writes every tape entry, which the
//! conformance runner and the compiler's tests rely on.

use super::{TapeLag, TrainingPrograms};
use crate::ir::{ArgKind, OutKind, Output};

/// Finds the state copies among the forward step's tape outputs whose
/// state's next value is taped too, drops those outputs from the forward
/// step and records the lags in `programs.tape_lags`.
pub(crate) fn lag_state_copies(programs: &mut TrainingPrograms) {
    let forward = &programs.forward;
    let outputs = forward.outputs();
    let mut lags = Vec::new();
    for copy in outputs.iter().filter(|o| o.kind == OutKind::Tape) {
        let Some(arg) = forward.arg_of(copy.value) else {
            continue;
        };
        if arg.kind != ArgKind::State {
            continue;
        }
        let next = outputs
            .iter()
            .find(|o| o.kind == OutKind::State && o.slot == arg.slot)
            .filter(|next| forward.arg_of(next.value).is_none());
        let taped_next = next.and_then(|next| {
            outputs
                .iter()
                .find(|o| o.kind == OutKind::Tape && o.value == next.value)
        });
        let Some(leader) = taped_next else {
            continue;
        };
        // Row 0 of the leader's buffer holds one state's initial value.
        if lags.iter().any(|l: &TapeLag| l.leader == leader.slot) {
            continue;
        }
        lags.push(TapeLag {
            lagged: copy.slot,
            leader: leader.slot,
            initial_state: arg.slot,
        });
    }
    if lags.is_empty() {
        return;
    }
    let is_lagged = |o: &Output| o.kind == OutKind::Tape && lags.iter().any(|l| l.lagged == o.slot);
    let kept = outputs.iter().filter(|o| !is_lagged(o)).cloned().collect();
    programs.forward.set_outputs(kept);
    programs.tape_lags = lags;
}
