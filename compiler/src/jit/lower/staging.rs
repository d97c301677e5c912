//! Staged arguments: small arguments that a loop reads again for every
//! row (per-neuron parameters broadcast over a batch) are copied into the
//! kernel's scratch buffer when the kernel starts, and loops read the copy.
//!
//! Why: every buffer a loop walks needs its address in a general-purpose
//! register, and a LIF layer's backward loop walks more buffers than x86-64
//! has registers, so some addresses are reloaded from the stack at every
//! vector. Scratch buffers are all addressed from the one scratch pointer
//! plus a constant (`loops.rs`), so a staged argument costs no register of
//! its own. The copy is one load and one store per four floats per call,
//! against a reload per vector of every row that reads it.

use super::simd::{element_flags, Simd, LANES};
use super::Emitter;
use crate::ir::{Graph, Value};
use crate::jit::schedule::{Home, LoopStep, Producer, Schedule, StepId, StepKind, StoreTarget};
use cranelift_codegen::ir::types::F32;
use cranelift_codegen::ir::InstBuilder;
use std::collections::{HashMap, HashSet};

/// The most floats an argument may hold to be staged: the copy runs at
/// every call, so only small ones pay (a layer's per-neuron values).
const MOST_STAGED_FLOATS: usize = 1024;

/// The buffers a loop can walk with every address in a register. A loop
/// keeps its position, its row and the scratch pointer in general-purpose
/// registers too; x86-64 has 16, less the stack pointer and the frame
/// pointer. Past this count, addresses are reloaded from the stack at
/// every vector (seen in the backward LIF loops of the presets).
const REGISTERS_FOR_BUFFERS: usize = 11;

/// How many times over a loop must read a staged argument's elements: a
/// loop that reads each once or twice (batches of one or two) gains less
/// than the copy costs.
const LEAST_REUSE: usize = 4;

/// Where staged arguments live in scratch, past the schedule's own.
#[derive(Default)]
pub(crate) struct Staging {
    /// Argument index to (offset in scratch, floats), both in floats.
    pub places: HashMap<usize, (usize, usize)>,
    /// Floats of scratch the staged copies take.
    pub len: usize,
}

impl Staging {
    /// Where argument `index`'s copy starts in scratch, in floats.
    pub fn offset(&self, index: usize) -> Option<usize> {
        self.places.get(&index).map(|&(offset, _)| offset)
    }
}

/// Picks the arguments to stage: in each loop that walks more buffers
/// than [`REGISTERS_FOR_BUFFERS`], those of 2 to [`MOST_STAGED_FLOATS`]
/// floats that it reads through a broadcast at least [`LEAST_REUSE`]
/// times as large.
pub(crate) fn choose(graph: &Graph, schedule: &Schedule) -> Staging {
    let mut places = HashMap::new();
    let mut len = schedule.scratch_len;
    for &step in &schedule.order {
        let StepKind::Loop(l) = &schedule.steps[step].kind else {
            continue;
        };
        if walked_buffers(graph, schedule, step, l) <= REGISTERS_FOR_BUFFERS {
            continue;
        }
        for &m in &l.members {
            for operand in graph.op(m).operands() {
                let Some(arg) = broadcast_argument(schedule, operand) else {
                    continue;
                };
                let Producer::Arg(index) = schedule.producers[arg.index()] else {
                    continue;
                };
                let floats = graph.shape(arg).numel();
                let reused = graph.shape(operand).numel() >= LEAST_REUSE * floats;
                // A single float is loaded once per loop anyway.
                let moves = floats > 1;
                let small = floats <= MOST_STAGED_FLOATS;
                if reused && moves && small && !places.contains_key(&index) {
                    places.insert(index, (len, floats));
                    len += floats.max(1).div_ceil(16) * 16;
                }
            }
        }
    }
    Staging {
        places,
        len: len - schedule.scratch_len,
    }
}

/// How many argument and output buffers loop `l` reads or writes (scratch
/// buffers share one register).
fn walked_buffers(graph: &Graph, schedule: &Schedule, step: StepId, l: &LoopStep) -> usize {
    let mut homes: HashSet<Home> = HashSet::new();
    for &m in &l.members {
        for operand in graph.op(m).operands() {
            if let Some(home) = read_home(schedule, step, operand) {
                homes.insert(home);
            }
        }
    }
    for store in &l.stores {
        let home = match store.target {
            StoreTarget::Home => schedule.homes[store.value.index()],
            StoreTarget::Output { index, .. } => Some(Home::Output(index)),
        };
        homes.extend(home);
        homes.extend(read_home(schedule, step, store.value));
    }
    homes
        .iter()
        .filter(|h| !matches!(h, Home::Scratch(_)))
        .count()
}

/// The buffer loop `step` reads `v` from, if it reads one (not for values
/// it computes, nor for constants).
fn read_home(schedule: &Schedule, step: StepId, mut v: Value) -> Option<Home> {
    while let Producer::View(source) = schedule.producers[v.index()] {
        v = source;
    }
    match schedule.producers[v.index()] {
        Producer::Fused(g) | Producer::Reduce(g) if g == step => None,
        Producer::Splat(_) | Producer::Dead => None,
        _ => schedule.homes[v.index()],
    }
}

/// The argument `v` broadcasts, if `v` is a broadcast (through views) of
/// one.
fn broadcast_argument(schedule: &Schedule, v: Value) -> Option<Value> {
    let Producer::View(mut source) = schedule.producers[v.index()] else {
        return None;
    };
    while let Producer::View(next) = schedule.producers[source.index()] {
        source = next;
    }
    matches!(schedule.producers[source.index()], Producer::Arg(_)).then_some(source)
}

/// Copies each staged argument into its place in scratch. Call at the
/// kernel's entry, before any loop reads them.
pub(crate) fn emit_copies(e: &mut Emitter) {
    let vector = Simd::new(e.features, e.constants);
    let mut staged: Vec<(usize, (usize, usize))> =
        e.staging.places.iter().map(|(&a, &p)| (a, p)).collect();
    staged.sort();
    for (index, (offset, floats)) in staged {
        let from = e.base(Home::Arg(index));
        let to = e.scratch;
        let at = |k: usize| (4 * (offset + k)) as i32;
        for k in (0..floats / LANES).map(|c| c * LANES) {
            let x = vector.load(&mut e.b, from, (4 * k) as i32);
            vector.store(&mut e.b, x, to, at(k));
        }
        for k in floats / LANES * LANES..floats {
            let x = e.b.ins().load(F32, element_flags(), from, (4 * k) as i32);
            e.b.ins().store(element_flags(), x, to, at(k));
        }
    }
}
