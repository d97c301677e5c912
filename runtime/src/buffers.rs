//! Every buffer a session owns, and how a plan's sources and sinks map onto
//! them at a given timestep.
//!
//! Buffers are allocated once, when the session is built, and never
//! resized, so their addresses are stable. States and state adjoints are
//! double-buffered: step `t` reads one copy and writes the other (its
//! `parity`), so no buffer is ever read and written by the same call.
//! Time-indexed buffers (inputs, targets, predictions, losses, tape, records) are
//! time-major: row `t` is one step's value. A tape entry that leads a
//! lagged one (`TapeLag`) has `T + 1` rows: row 0 holds the lagged state's
//! initial value, row `t + 1` the leader's value at step `t`, and the
//! lagged entry, which has no storage of its own, reads row `t` at step
//! `t`. A state kept in the tape (`TapedState`) has no double buffer in
//! use: its entry has `T + 1` rows, step `t` reads the state from row `t`
//! and writes its next value to row `t + 1` (different rows, so still no
//! buffer is read and written by one call). Likewise a state adjoint kept
//! in a sequence (`AdjointSequence`): the sequence has `T + 1` rows, and
//! backward step `t` reads the adjoint from row `t + 1` and writes it to
//! row `t`. Row `T`, the adjoint the last step starts from, stays zero:
//! step programs write rows `t < T`, and only the backward step writes
//! the sequence (`check_adjoint_sequence`).

use crate::binding::{Sink, Source};
use crate::RuntimeError;
use neurojit_compiler::ir::{ArgKind, OutKind, Shape};
use neurojit_compiler::program::{AdjointSequence, Slot, TapeLag, TrainingPrograms};

/// The most floats one buffer may hold (1 GiB). Sizes come from user
/// files: beyond this, a session is refused with an error naming the
/// buffer, rather than aborting on a failed allocation.
pub const MAX_BUFFER_ELEMENTS: usize = neurojit_compiler::kernel::MAX_VALUE_ELEMENTS;

/// Whether a buffer of `dims` (their product, computed without overflow)
/// stays within [`MAX_BUFFER_ELEMENTS`].
pub fn fits_in_buffer(dims: &[usize]) -> bool {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .is_some_and(|n| n <= MAX_BUFFER_ELEMENTS)
}

/// Checks that every buffer of a session over `steps` timesteps stays
/// within [`MAX_BUFFER_ELEMENTS`] (time-indexed buffers hold a row per
/// step).
pub fn check_buffer_sizes(p: &TrainingPrograms, steps: usize) -> Result<(), RuntimeError> {
    check_input_slots(p)?;
    // Counted from the dimensions, without overflow: shapes come from
    // user code and files.
    let fits = |shape: &Shape, rows: usize| {
        let mut dims = shape.dims().to_vec();
        dims.push(rows);
        fits_in_buffer(&dims)
    };
    let too_large = |what: String| RuntimeError::TooLarge {
        what,
        limit: MAX_BUFFER_ELEMENTS,
    };
    // One row per timestep; a tape leader or a taped state's entry holds
    // one row more than the others, a lagged entry none.
    for s in p.tape.iter().filter(|s| p.lag_of(s.slot).is_none()) {
        let leads = p.lag_led_by(s.slot).is_some() || p.state_in_entry(s.slot).is_some();
        let extra = if leads {
            " and a row for a state's initial value"
        } else {
            ""
        };
        if !fits(&s.shape, steps.saturating_add(usize::from(leads))) {
            return Err(too_large(format!(
                "the tape entry `{}` over {steps} timesteps{extra} (shape {} per step)",
                s.name, s.shape
            )));
        }
    }
    let named = |kind: &str, slots: &'_ [Slot]| -> Vec<(String, Shape)> {
        slots
            .iter()
            .map(|s| (format!("{kind} `{}`", s.name), s.shape.clone()))
            .collect()
    };
    // A sequence holding a state adjoint has a row more (checked below).
    let mut over_time = named("record", &p.records);
    for s in &p.sequences {
        let holds_adjoint = p.adjoint_in_sequence(s.slot).is_some();
        if !fits(&s.shape, steps.saturating_add(usize::from(holds_adjoint))) {
            let extra = if holds_adjoint {
                " and a row for a state adjoint's initial value"
            } else {
                ""
            };
            return Err(too_large(format!(
                "the sequence `{}` over {steps} timesteps{extra} (shape {} per step)",
                s.name, s.shape
            )));
        }
    }
    // The network input's buffer is made even when, time-batched, no
    // per-step program reads it (`input_sizes`).
    over_time.push(("network input".into(), p.input.clone()));
    for graph in [&p.forward, &p.backward] {
        for arg in graph.args().iter().filter(|a| a.kind == ArgKind::Input) {
            over_time.push((format!("input `{}`", arg.name), arg.shape.clone()));
        }
    }
    over_time.push(("target".into(), p.target.clone()));
    over_time.push(("prediction".into(), p.prediction.clone()));
    over_time.push(("loss".into(), Shape::scalar()));
    for (what, shape) in &over_time {
        if !fits(shape, steps) {
            return Err(too_large(format!(
                "the {what} over {steps} timesteps (shape {shape} per step)"
            )));
        }
    }
    let mut once = named("parameter", &p.params);
    once.extend(named("hoisted value", &p.hoisted));
    once.extend(named("state", &p.states));
    once.extend(p.fixed.iter().map(|f| {
        (
            format!("fixed tensor `{}`", f.slot.name),
            f.slot.shape.clone(),
        )
    }));
    for (what, shape) in &once {
        if !fits(shape, 1) {
            return Err(too_large(format!("the {what} of shape {shape}")));
        }
    }
    Ok(())
}

/// Checks that every list of slots is numbered by position, as
/// `compile_training` numbers them: buffers are made one per position and
/// found by slot number, so a list numbered otherwise would give a value
/// another value's buffer.
pub(crate) fn check_slot_numbering(p: &TrainingPrograms) -> Result<(), RuntimeError> {
    let fixed: Vec<Slot> = p.fixed.iter().map(|f| f.slot.clone()).collect();
    let lists: [(&'static str, &[Slot]); 7] = [
        ("parameter", &p.params),
        ("state", &p.states),
        ("hoisted value", &p.hoisted),
        ("tape entry", &p.tape),
        ("sequence", &p.sequences),
        ("record", &p.records),
        ("fixed tensor", &fixed),
    ];
    for (kind, slots) in lists {
        if let Some((position, s)) = slots.iter().enumerate().find(|(i, s)| s.slot != *i) {
            return Err(RuntimeError::SlotNumbering {
                kind,
                name: s.name.clone(),
                position,
                slot: s.slot,
            });
        }
    }
    Ok(())
}

/// Input buffers are made for slots `0..=` the largest slot a program
/// reads, so a slot number must not run past the number of input
/// arguments (extra inputs, such as noise, are numbered from 1 on).
fn check_input_slots(p: &TrainingPrograms) -> Result<(), RuntimeError> {
    let inputs = [("forward", &p.forward), ("backward", &p.backward)]
        .into_iter()
        .flat_map(|(program, g)| g.args().iter().map(move |a| (program, a)))
        .filter(|(_, a)| a.kind == ArgKind::Input);
    let count = inputs.clone().count();
    match inputs.into_iter().find(|(_, a)| a.slot > count) {
        Some((program, arg)) => Err(RuntimeError::SlotOutOfRange {
            program,
            kind: "input",
            slot: arg.slot,
            name: arg.name.clone(),
            max: count,
        }),
        None => Ok(()),
    }
}

/// Buffers are never resized or replaced after `new`: bound programs take
/// their addresses once and keep them for the session's lifetime. Each
/// address is the `Vec`'s own data pointer (`as_ptr`/`as_mut_ptr`, which
/// create no intermediate reference), and every later access by the session
/// (setting parameters, zeroing gradients) goes through a short-lived slice
/// that `Vec` derives from that same pointer and that ends before the next
/// kernel call, so the addresses stay usable under Rust's aliasing rules.
pub(crate) struct Buffers {
    pub steps: usize,
    pub params: Vec<Vec<f32>>,
    pub grads: Vec<Vec<f32>>,
    pub hoisted: Vec<Vec<f32>>,
    pub fixed: Vec<Vec<f32>>,
    pub states: [Vec<Vec<f32>>; 2],
    pub adjoints: [Vec<Vec<f32>>; 2],
    pub tape: Vec<Vec<f32>>,
    /// Where each tape entry's rows are (see the file comment).
    pub tape_views: Vec<TapeView>,
    /// For each state kept in the tape, its entry's rows (row `t`: the
    /// state at the start of step `t`).
    pub state_rows: Vec<Option<TapeView>>,
    pub sequences: Vec<Vec<f32>>,
    /// Floats per step of each sequence.
    pub sequence_row_len: Vec<usize>,
    /// For each state whose adjoint is kept in a sequence, that sequence
    /// (row `t`: the adjoint at the start of step `t`).
    pub adjoint_rows: Vec<Option<usize>>,
    pub records: Vec<Vec<f32>>,
    pub inputs: Vec<Vec<f32>>,
    pub targets: Vec<f32>,
    pub predictions: Vec<f32>,
    /// One float per step: the forward step writes its loss to row `t`, so
    /// the session sums them after the pass instead of reading each back
    /// between calls. The parameter-only loss then reuses row 0.
    pub losses: Vec<f32>,
}

/// One of the session's buffers (a lagged tape entry is its leader's). A
/// taped state is read as its entry's buffer, `Tape`, and written one row
/// ahead, `TapeNextRow`: so a program that also wrote the entry, or wrote
/// the state twice, is refused as an overlap. An adjoint kept in a sequence
/// is read one row ahead, `SequenceNextRow`, and written as the sequence,
/// `Sequence`: a backward step that also wrote the sequence is refused too.
/// (For a program over all steps the two labels name overlapping rows:
/// `check_adjoint_sequence` keeps such programs away from the adjoint.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BufferId {
    Param(usize),
    Hoisted(usize),
    Fixed(usize),
    State(usize, usize),
    StateAdjoint(usize, usize),
    Tape(usize),
    TapeNextRow(usize),
    Sequence(usize),
    SequenceNextRow(usize),
    Input(usize),
    Target,
    Grad(usize),
    Record(usize),
    Prediction,
    Loss,
}

/// Where a tape entry's rows live: in tape buffer `buffer`, from row
/// `first_row`, `row` floats each.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TapeView {
    pub buffer: usize,
    pub first_row: usize,
    pub row_len: usize,
}

/// The tape buffers (a lag's leader and a taped state's entry get one more
/// row; a lagged entry gets none) and each entry's view. Expects lags and
/// taped states that [`check_shared_rows`] accepted.
fn tape_buffers(p: &TrainingPrograms, steps: usize) -> (Vec<Vec<f32>>, Vec<TapeView>) {
    let mut buffers = Vec::new();
    let mut views = Vec::new();
    for s in &p.tape {
        let row_len = s.shape.numel();
        let (buffer, first_row, rows) = match (p.lag_of(s.slot), p.lag_led_by(s.slot)) {
            (Some(lag), _) => (lag.leader, 0, 0),
            (None, Some(_)) => (s.slot, 1, steps + 1),
            // Row 0 first: the state's reads use this view's rows.
            (None, None) if p.state_in_entry(s.slot).is_some() => (s.slot, 0, steps + 1),
            (None, None) => (s.slot, 0, steps),
        };
        buffers.push(vec![0.0; row_len * rows]);
        views.push(TapeView {
            buffer,
            first_row,
            row_len,
        });
    }
    (buffers, views)
}

/// Checks the values the runtime keeps in another buffer's rows: tape lags
/// (each names two distinct tape entries of the lagged state's shape, no
/// entry is both lagged and a leader, and no leader leads twice: its row 0
/// holds one state), taped states (each an entry of the state's shape,
/// outside any lag, that the forward step does not write itself, for a
/// state only the forward step reads and writes) and adjoints kept in
/// sequences (see [`check_adjoint_sequence`]).
pub(crate) fn check_shared_rows(p: &TrainingPrograms) -> Result<(), RuntimeError> {
    for lag in &p.tape_lags {
        let shape = |slot: usize| p.tape.get(slot).map(|s| &s.shape);
        let state = p.states.get(lag.initial_state).map(|s| &s.shape);
        let problem = if lag.lagged == lag.leader {
            Some("an entry cannot lag itself")
        } else if shape(lag.lagged).is_none() || shape(lag.leader).is_none() || state.is_none() {
            Some("no such tape entry or state")
        } else if shape(lag.lagged) != state || shape(lag.leader) != state {
            Some("the entries must have the state's shape")
        } else if p.lag_led_by(lag.lagged).is_some() || p.lag_of(lag.leader).is_some() {
            Some("a lagged entry cannot lead another")
        } else if listed_twice(&p.tape_lags, |l| l.leader == lag.leader) {
            Some("an entry can lead one lagged entry")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(RuntimeError::BadTapeLag {
                lag: format!("{lag:?}"),
                problem,
            });
        }
    }
    for taped in &p.taped_states {
        let entry = p.tape.get(taped.entry).map(|s| &s.shape);
        let state = p.states.get(taped.state).map(|s| &s.shape);
        let problem = if entry.is_none() || state.is_none() {
            Some("no such tape entry or state")
        } else if entry != state {
            Some("the entry must have the state's shape")
        } else if p.in_a_lag(taped.state, taped.entry) {
            Some("a taped state's entry cannot take part in a lag")
        } else if listed_twice(&p.taped_states, |t| t.entry == taped.entry)
            || listed_twice(&p.taped_states, |t| t.state == taped.state)
        {
            Some("an entry holds one state, and a state one entry")
        } else if p.forward_writes(OutKind::Tape, taped.entry) {
            Some("the forward step must not write the entry itself")
        } else if !p.forward_writes(OutKind::State, taped.state) {
            Some("the forward step must write the state's next value")
        } else if p.state_used_outside_forward(taped.state) {
            // Another program's row labels would overlap the entry's rows.
            Some("only the forward step may read or write the state")
        } else {
            None
        };
        if let Some(problem) = problem {
            let name = p.states.get(taped.state).map_or("?", |s| s.name.as_str());
            return Err(RuntimeError::BadTapedState {
                state: name.to_string(),
                problem,
            });
        }
    }
    for kept in &p.adjoint_sequences {
        check_adjoint_sequence(p, kept)?;
    }
    Ok(())
}

/// Checks a state adjoint kept in a sequence: the state and sequence exist
/// with as many elements, each is kept once, the backward step writes the
/// adjoint and not the sequence, only the epilogue reads the sequence, and
/// no other program reads or writes the adjoint.
fn check_adjoint_sequence(
    p: &TrainingPrograms,
    kept: &AdjointSequence,
) -> Result<(), RuntimeError> {
    let sequence = p.sequences.get(kept.sequence).map(|s| s.shape.numel());
    let state = p.states.get(kept.state).map(|s| s.shape.numel());
    let problem = if sequence.is_none() || state.is_none() {
        Some("no such sequence or state")
    } else if sequence != state {
        Some("the sequence must have as many elements as the state")
    } else if listed_twice(&p.adjoint_sequences, |k| k.state == kept.state)
        || listed_twice(&p.adjoint_sequences, |k| k.sequence == kept.sequence)
    {
        Some("a sequence holds one adjoint, and an adjoint one sequence")
    } else if p.backward_writes(OutKind::Sequence, kept.sequence) {
        Some("the backward step must not write the sequence itself")
    } else if !p.backward_writes(OutKind::StateAdjoint, kept.state) {
        Some("the backward step must write the adjoint")
    } else if !p.sequence_from_backward_to_epilogue_only(kept.sequence) {
        Some("only the epilogue may read the sequence, and only the backward step write it")
    } else if p.adjoint_used_outside_backward(kept.state) {
        Some("only the backward step may read or write the adjoint")
    } else {
        None
    };
    match problem {
        Some(problem) => {
            let name = p.states.get(kept.state).map_or("?", |s| s.name.as_str());
            Err(RuntimeError::BadAdjointSequence {
                state: name.to_string(),
                problem,
            })
        }
        None => Ok(()),
    }
}

/// Whether more than one of `items` is `same`.
fn listed_twice<T>(items: &[T], same: impl Fn(&T) -> bool) -> bool {
    items.iter().filter(|item| same(item)).count() > 1
}

fn zeros(slots: &[Slot], rows: usize) -> Vec<Vec<f32>> {
    slots
        .iter()
        .map(|s| vec![0.0; s.shape.numel() * rows])
        .collect()
}

impl Buffers {
    pub fn new(p: &TrainingPrograms, steps: usize) -> Buffers {
        let (tape, tape_views) = tape_buffers(p, steps);
        let state_rows = (0..p.states.len())
            .map(|i| p.taped_state(i).map(|t| tape_views[t.entry]))
            .collect();
        Buffers {
            steps,
            params: zeros(&p.params, 1),
            grads: zeros(&p.params, 1),
            hoisted: zeros(&p.hoisted, 1),
            fixed: fixed_values(p),
            states: [zeros(&p.states, 1), zeros(&p.states, 1)],
            adjoints: [zeros(&p.states, 1), zeros(&p.states, 1)],
            tape,
            tape_views,
            state_rows,
            sequences: p
                .sequences
                .iter()
                .map(|s| {
                    let extra = usize::from(p.adjoint_in_sequence(s.slot).is_some());
                    vec![0.0; s.shape.numel() * (steps + extra)]
                })
                .collect(),
            sequence_row_len: p.sequences.iter().map(|s| s.shape.numel()).collect(),
            adjoint_rows: (0..p.states.len())
                .map(|i| p.adjoint_sequence(i).map(|k| k.sequence))
                .collect(),
            records: zeros(&p.records, steps),
            inputs: input_buffers(p, steps),
            targets: vec![0.0; p.target.numel() * steps],
            predictions: vec![0.0; p.prediction.numel() * steps],
            losses: vec![0.0; steps],
        }
    }

    /// Elements of tape entry `i` one call reads or writes: a row, or with
    /// `all_steps` every step's row; fewer when its buffer does not hold
    /// every step's row after the view's first (a per-step program runs at
    /// every step, so it gets none then, and the length check refuses it).
    fn tape_len(&self, i: usize, all_steps: bool) -> Option<usize> {
        let view = self.tape_views.get(i)?;
        let held = self.tape[view.buffer].len();
        let after_first = held.saturating_sub(view.first_row * view.row_len);
        let steps_held = after_first.checked_div(view.row_len).unwrap_or(self.steps);
        let rows = if all_steps {
            steps_held.min(self.steps)
        } else {
            usize::from(steps_held >= self.steps)
        };
        Some(view.row_len * rows)
    }

    /// Copies each lagged state's initial value (copy 0 of the states) into
    /// row 0 of its leader's buffer, where the lagged entry reads it at step
    /// 0, and each taped state's into row 0 of its entry, where step 0
    /// reads it. (`check_shared_rows` made sure the lengths agree.)
    pub fn start_tape_rows(&mut self, lags: &[TapeLag]) {
        let rows = lags.iter().map(|l| (l.initial_state, l.leader));
        let taped = self.state_rows.iter().enumerate();
        let taped = taped.filter_map(|(state, view)| view.map(|v| (state, v.buffer)));
        for (state, buffer) in rows.chain(taped).collect::<Vec<_>>() {
            let initial = &self.states[0][state];
            if let Some(row) = self.tape[buffer].get_mut(..initial.len()) {
                row.copy_from_slice(initial);
            }
        }
    }

    /// Elements of taped state `i` one call reads (from row 0) or writes
    /// (from row 1): a row, or fewer when its buffer does not hold every
    /// step's row from there (`None`: the state is not taped).
    fn taped_state_len(&self, i: usize, first_row: usize) -> Option<usize> {
        let view = self.state_rows.get(i).copied().flatten()?;
        let held = self.tape[view.buffer].len() / view.row_len.max(1);
        let holds = held >= first_row + self.steps;
        Some(if holds { view.row_len } else { 0 })
    }

    /// Elements of sequence `i` one call reads or writes: a row, or with
    /// `all_steps` every step's row (`None`: no such sequence).
    fn sequence_len(&self, i: usize, all_steps: bool) -> Option<usize> {
        let row_len = *self.sequence_row_len.get(i)?;
        let holds = self.sequences[i].len() >= row_len * self.steps;
        let rows = if all_steps { self.steps } else { 1 };
        Some(if holds { row_len * rows } else { 0 })
    }

    /// Elements of the adjoint of state `i` that one call reads (rows
    /// from 1 on) or writes (rows from 0 on) when it is kept in a sequence
    /// (`None` when it is not).
    fn adjoint_sequence_len(&self, i: usize, first_row: usize) -> Option<usize> {
        let sequence = self.adjoint_rows.get(i).copied().flatten()?;
        let row_len = self.sequence_row_len[sequence];
        let holds = self.sequences[sequence].len() >= row_len * (first_row + self.steps);
        Some(if holds { row_len } else { 0 })
    }

    /// The state at the end of the pass, by slot: row `T` of a taped
    /// state's entry, or the copy of the states the last step wrote.
    pub fn final_states(&self) -> Vec<Vec<f32>> {
        let last = &self.states[self.steps % 2];
        let rows = self.state_rows.iter().zip(last);
        rows.map(|(view, copy)| match view {
            Some(v) => {
                let start = self.steps * v.row_len;
                self.tape[v.buffer][start..start + v.row_len].to_vec()
            }
            None => copy.clone(),
        })
        .collect()
    }

    /// Elements one call reads through `source`, or `None` when the session
    /// has no such buffer.
    /// In `all_steps` mode (programs over all timesteps at once), a
    /// time-indexed buffer is read whole.
    pub fn source_len(&self, source: Source, all_steps: bool) -> Option<usize> {
        let rows = if all_steps { 1 } else { self.steps };
        let whole = |v: &Vec<Vec<f32>>, i: usize| v.get(i).map(Vec::len);
        let row = |v: &Vec<Vec<f32>>, i: usize| v.get(i).map(|b| b.len() / rows);
        match source {
            Source::Param(i) => whole(&self.params, i),
            Source::Hoisted(i) => whole(&self.hoisted, i),
            Source::Fixed(i) => whole(&self.fixed, i),
            Source::State(i) => self
                .taped_state_len(i, 0)
                .or_else(|| whole(&self.states[0], i)),
            Source::StateAdjoint(i) => self
                .adjoint_sequence_len(i, 1)
                .or_else(|| whole(&self.adjoints[0], i)),
            Source::Tape(i) => self.tape_len(i, all_steps),
            Source::Sequence(i) => self.sequence_len(i, all_steps),
            Source::Input(i) => row(&self.inputs, i),
            Source::Target => Some(self.targets.len() / rows),
            // Optimiser arguments are bound by the optimiser, not here.
            Source::Grad(_) | Source::Moment(_) | Source::Scalar(_) => None,
        }
    }

    /// Elements one call writes through `sink`, or `None` when the session
    /// has no such buffer.
    pub fn sink_len(&self, sink: Sink, all_steps: bool) -> Option<usize> {
        let rows = if all_steps { 1 } else { self.steps };
        let whole = |v: &Vec<Vec<f32>>, i: usize| v.get(i).map(Vec::len);
        let row = |v: &Vec<Vec<f32>>, i: usize| v.get(i).map(|b| b.len() / rows);
        match sink {
            Sink::Hoisted(i) => whole(&self.hoisted, i),
            Sink::State(i) => self
                .taped_state_len(i, 1)
                .or_else(|| whole(&self.states[0], i)),
            Sink::StateAdjoint(i) => self
                .adjoint_sequence_len(i, 0)
                .or_else(|| whole(&self.adjoints[0], i)),
            Sink::Grad(i) => whole(&self.grads, i),
            Sink::Tape(i) => self.tape_len(i, all_steps),
            Sink::Sequence(i) => self.sequence_len(i, all_steps),
            Sink::Record(i) => row(&self.records, i),
            Sink::Prediction => Some(self.predictions.len() / rows),
            Sink::Loss => Some(self.losses.len() / rows),
            Sink::Param(_) | Sink::Moment(_) => None,
        }
    }

    /// Which buffer `source` reads when reading state copy `parity`. Only
    /// called for sources whose length was checked by `source_len`.
    pub fn source_buffer(&self, source: Source, parity: usize) -> BufferId {
        match source {
            Source::Param(i) => BufferId::Param(i),
            Source::Hoisted(i) => BufferId::Hoisted(i),
            Source::Fixed(i) => BufferId::Fixed(i),
            Source::State(i) => match self.state_rows[i] {
                Some(v) => BufferId::Tape(v.buffer),
                None => BufferId::State(parity, i),
            },
            Source::StateAdjoint(i) => match self.adjoint_rows[i] {
                Some(sequence) => BufferId::SequenceNextRow(sequence),
                None => BufferId::StateAdjoint(parity, i),
            },
            Source::Tape(i) => BufferId::Tape(self.tape_views[i].buffer),
            Source::Sequence(i) => BufferId::Sequence(i),
            Source::Input(i) => BufferId::Input(i),
            Source::Target => BufferId::Target,
            Source::Grad(_) | Source::Moment(_) | Source::Scalar(_) => {
                unreachable!("rejected when the program was bound")
            }
        }
    }

    /// Which buffer `sink` writes when states are read from copy `parity`
    /// (and written to the other). Only called for sinks whose length was
    /// checked by `sink_len`.
    pub fn sink_buffer(&self, sink: Sink, parity: usize) -> BufferId {
        match sink {
            Sink::Hoisted(i) => BufferId::Hoisted(i),
            Sink::State(i) => match self.state_rows[i] {
                Some(v) => BufferId::TapeNextRow(v.buffer),
                None => BufferId::State(1 - parity, i),
            },
            Sink::StateAdjoint(i) => match self.adjoint_rows[i] {
                Some(sequence) => BufferId::Sequence(sequence),
                None => BufferId::StateAdjoint(1 - parity, i),
            },
            Sink::Grad(i) => BufferId::Grad(i),
            Sink::Tape(i) => BufferId::Tape(self.tape_views[i].buffer),
            Sink::Sequence(i) => BufferId::Sequence(i),
            Sink::Record(i) => BufferId::Record(i),
            Sink::Prediction => BufferId::Prediction,
            Sink::Loss => BufferId::Loss,
            Sink::Param(_) | Sink::Moment(_) => unreachable!("rejected when the program was bound"),
        }
    }

    /// The address `source` reads at step 0 and its stride between steps
    /// (0 for buffers that are not time-indexed). States and adjoints are
    /// read from copy `parity`. Only called for sources whose length was
    /// checked by `source_len`.
    pub fn source_ptr(&self, source: Source, parity: usize) -> (*const f32, usize) {
        let row = |b: &Vec<f32>| (b.as_ptr(), b.len() / self.steps);
        match source {
            Source::Param(i) => (self.params[i].as_ptr(), 0),
            Source::Hoisted(i) => (self.hoisted[i].as_ptr(), 0),
            Source::Fixed(i) => (self.fixed[i].as_ptr(), 0),
            Source::State(i) => match self.state_rows[i] {
                // Row `t` at step `t` (a taped state's view starts at row 0).
                Some(v) => (self.tape[v.buffer].as_ptr(), v.row_len),
                None => (self.states[parity][i].as_ptr(), 0),
            },
            Source::StateAdjoint(i) => match self.adjoint_rows[i] {
                // Row `t + 1` at step `t`.
                Some(sequence) => {
                    let row_len = self.sequence_row_len[sequence];
                    let buffer = &self.sequences[sequence];
                    (buffer.as_ptr().wrapping_add(row_len), row_len)
                }
                None => (self.adjoints[parity][i].as_ptr(), 0),
            },
            Source::Tape(i) => {
                let view = self.tape_views[i];
                let start = view.first_row * view.row_len;
                (
                    self.tape[view.buffer].as_ptr().wrapping_add(start),
                    view.row_len,
                )
            }
            Source::Sequence(i) => (self.sequences[i].as_ptr(), self.sequence_row_len[i]),
            Source::Input(i) => row(&self.inputs[i]),
            Source::Target => row(&self.targets),
            Source::Grad(_) | Source::Moment(_) | Source::Scalar(_) => {
                unreachable!("rejected when the program was bound")
            }
        }
    }

    /// The address `sink` writes at step 0 and its stride between steps.
    /// States and adjoints are written to copy `1 - parity`. Only called for
    /// sinks whose length was checked by `sink_len`.
    pub fn sink_ptr(&mut self, sink: Sink, parity: usize) -> (*mut f32, usize) {
        let steps = self.steps;
        let row = |b: &mut Vec<f32>| (b.as_mut_ptr(), b.len() / steps);
        match sink {
            Sink::Hoisted(i) => (self.hoisted[i].as_mut_ptr(), 0),
            Sink::State(i) => match self.state_rows[i] {
                Some(v) => {
                    let buffer = &mut self.tape[v.buffer];
                    (buffer.as_mut_ptr().wrapping_add(v.row_len), v.row_len)
                }
                None => (self.states[1 - parity][i].as_mut_ptr(), 0),
            },
            Sink::StateAdjoint(i) => match self.adjoint_rows[i] {
                // Row `t` at step `t`.
                Some(sequence) => {
                    let row_len = self.sequence_row_len[sequence];
                    (self.sequences[sequence].as_mut_ptr(), row_len)
                }
                None => (self.adjoints[1 - parity][i].as_mut_ptr(), 0),
            },
            Sink::Grad(i) => (self.grads[i].as_mut_ptr(), 0),
            Sink::Tape(i) => {
                let view = self.tape_views[i];
                let start = view.first_row * view.row_len;
                let buffer = &mut self.tape[view.buffer];
                (buffer.as_mut_ptr().wrapping_add(start), view.row_len)
            }
            Sink::Sequence(i) => (self.sequences[i].as_mut_ptr(), self.sequence_row_len[i]),
            Sink::Record(i) => row(&mut self.records[i]),
            Sink::Prediction => row(&mut self.predictions),
            Sink::Loss => row(&mut self.losses),
            Sink::Param(_) | Sink::Moment(_) => unreachable!("rejected when the program was bound"),
        }
    }
}

/// The values of the fixed tensors, by slot.
fn fixed_values(programs: &TrainingPrograms) -> Vec<Vec<f32>> {
    let mut fixed = vec![Vec::new(); programs.fixed.len()];
    for f in &programs.fixed {
        if f.slot.slot < fixed.len() && f.values.len() == f.slot.shape.numel() {
            fixed[f.slot.slot] = f.values.clone();
        }
    }
    fixed
}

/// Floats per step of each input slot, from the programs' `Input`
/// arguments (slot 0 is the network input).
fn input_sizes(programs: &TrainingPrograms) -> Vec<usize> {
    let mut sizes = vec![programs.input.numel()];
    for graph in [&programs.forward, &programs.backward] {
        for arg in graph.args().iter().filter(|a| a.kind == ArgKind::Input) {
            if sizes.len() <= arg.slot {
                sizes.resize(arg.slot + 1, 0);
            }
            sizes[arg.slot] = arg.shape.numel();
        }
    }
    sizes
}

/// One time-major buffer per input slot.
fn input_buffers(programs: &TrainingPrograms, steps: usize) -> Vec<Vec<f32>> {
    input_sizes(programs)
        .into_iter()
        .map(|n| vec![0.0; n * steps])
        .collect()
}
