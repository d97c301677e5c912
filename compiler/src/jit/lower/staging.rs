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

use super::loops::vector_loop;
use super::simd::{element_flags, Simd, LANES};
use super::Emitter;
use crate::ir::{Graph, Value};
use crate::jit::schedule::{Home, LoopStep, Producer, Schedule, StepId, StepKind, StoreTarget};
use crate::jit::JitOptions;
use cranelift_codegen::ir::types::F32;
use cranelift_codegen::ir::InstBuilder;
use std::collections::{BTreeMap, HashSet};

/// The most floats an argument may hold to be staged: the copy runs at
/// every call, so only small ones pay (a layer's per-neuron values).
const MOST_STAGED_FLOATS: usize = 1024;

/// The buffers a loop can walk with every address in a register. A loop
/// keeps its position, its row and the scratch pointer in general-purpose
/// registers too; x86-64 has 16, less the stack pointer and the frame
/// pointer. Past this count, addresses are reloaded from the stack at
/// every vector (seen in the backward LIF loops of the presets). Counted
/// for x86-64, the host the kernels are tuned on; hosts with more
/// registers (aarch64 has about 28) stage where they need not, which
/// costs the copies only.
const REGISTERS_FOR_BUFFERS: usize = 11;

/// How many times over a loop must read a staged argument's elements: a
/// loop that reads each once or twice (batches of one or two) gains less
/// than the copy costs.
const LEAST_REUSE: usize = 4;

/// Where staged arguments live in scratch, past the schedule's own.
#[derive(Default)]
pub(crate) struct Staging {
    /// Argument index to (offset in scratch, floats), both in floats.
    pub places: BTreeMap<usize, (usize, usize)>,
    /// Floats of scratch the staged copies take.
    pub len: usize,
}

impl Staging {
    /// Where argument `index`'s copy starts in scratch, in floats.
    pub fn offset(&self, index: usize) -> Option<usize> {
        self.places.get(&index).map(|&(offset, _)| offset)
    }
}

/// Picks the arguments to stage (none without `options.stage_arguments`):
/// in each loop that walks more buffers than [`REGISTERS_FOR_BUFFERS`],
/// those of 2 to [`MOST_STAGED_FLOATS`] floats that it reads through a
/// broadcast at least [`LEAST_REUSE`] times as large, and whose copy a
/// loop can address as a constant displacement from the scratch pointer.
pub(crate) fn choose(graph: &Graph, schedule: &Schedule, options: &JitOptions) -> Staging {
    let mut places = BTreeMap::new();
    let mut end = schedule.scratch_len;
    for &step in &schedule.order {
        let StepKind::Loop(l) = &schedule.steps[step].kind else {
            continue;
        };
        if !options.stage_arguments
            || walked_buffers(graph, schedule, step, l, &places) <= REGISTERS_FOR_BUFFERS
        {
            continue;
        }
        for &m in &l.members {
            for operand in graph.op(m).operands() {
                let Some((arg, index)) = broadcast_argument(schedule, operand) else {
                    continue;
                };
                let floats = graph.shape(arg).numel();
                let reused = graph.shape(operand).numel() >= LEAST_REUSE * floats;
                // A single float is loaded once per loop anyway.
                let several = floats > 1;
                let small = floats <= MOST_STAGED_FLOATS;
                let new_end = end + floats.div_ceil(16) * 16;
                // Loops add at most a row's bytes to the displacement.
                let addressable = i32::try_from(4 * (new_end + floats)).is_ok();
                if reused && several && small && addressable && !places.contains_key(&index) {
                    places.insert(index, (end, floats));
                    end = new_end;
                }
            }
        }
    }
    Staging {
        places,
        len: end - schedule.scratch_len,
    }
}

/// How many argument and output buffers loop `step` walks with a register
/// for its address: scratch buffers share one, arguments already staged
/// are in scratch, and a single float is loaded once before the loop.
fn walked_buffers(
    graph: &Graph,
    schedule: &Schedule,
    step: StepId,
    l: &LoopStep,
    staged: &BTreeMap<usize, (usize, usize)>,
) -> usize {
    let mut homes: HashSet<Home> = HashSet::new();
    for &m in &l.members {
        for operand in graph.op(m).operands() {
            if let Some(v) = read_source(schedule, step, operand) {
                if graph.shape(v).numel() > 1 {
                    homes.extend(schedule.homes[v.index()]);
                }
            }
        }
        // A reduce_sum's target.
        if schedule.producers[m.index()] == Producer::Reduce(step) {
            homes.extend(schedule.homes[m.index()]);
        }
    }
    for store in &l.stores {
        let home = match store.target {
            StoreTarget::Home => schedule.homes[store.value.index()],
            StoreTarget::Output { index, .. } => Some(Home::Output(index)),
        };
        homes.extend(home);
        if let Some(v) = read_source(schedule, step, store.value) {
            homes.extend(schedule.homes[v.index()]);
        }
    }
    homes
        .iter()
        .filter(|h| match h {
            Home::Scratch(_) => false,
            Home::Arg(index) => !staged.contains_key(index),
            Home::Output(_) => true,
        })
        .count()
}

/// The value whose buffer loop `step` reads for `v`: `v`, or what it
/// broadcasts; `None` for values the loop computes and for constants.
fn read_source(schedule: &Schedule, step: StepId, mut v: Value) -> Option<Value> {
    while let Producer::View(source) = schedule.producers[v.index()] {
        v = source;
    }
    match schedule.producers[v.index()] {
        Producer::Fused(g) | Producer::Reduce(g) if g == step => None,
        Producer::Splat(_) | Producer::Dead => None,
        _ => Some(v),
    }
}

/// The argument `v` broadcasts and its index, if `v` is a broadcast
/// (through views) of an argument.
fn broadcast_argument(schedule: &Schedule, v: Value) -> Option<(Value, usize)> {
    let Producer::View(mut source) = schedule.producers[v.index()] else {
        return None;
    };
    while let Producer::View(next) = schedule.producers[source.index()] {
        source = next;
    }
    match schedule.producers[source.index()] {
        Producer::Arg(index) => Some((source, index)),
        _ => None,
    }
}

/// Copies each staged argument into its place in scratch. Call at the
/// kernel's entry, before any loop reads them. Arguments of up to 64
/// floats are copied in straight-line code, longer ones in a loop of
/// vectors (whose counter costs more instructions than it saves code).
pub(crate) fn emit_copies(e: &mut Emitter) {
    const UNROLLED_VECTORS: usize = 16;
    let vector = Simd::new(e.features, e.constants);
    let places: Vec<(usize, (usize, usize))> =
        e.staging.places.iter().map(|(&a, &p)| (a, p)).collect();
    for (index, (offset, floats)) in places {
        let from = e.base(Home::Arg(index));
        let to = e.base(Home::Scratch(offset));
        let vectors = floats / LANES;
        let vector_bytes = (4 * LANES) as i64;
        if vectors <= UNROLLED_VECTORS {
            for k in 0..vectors as i32 {
                let x = vector.load(&mut e.b, from, k * vector_bytes as i32);
                vector.store(&mut e.b, x, to, k * vector_bytes as i32);
            }
        } else {
            vector_loop(e, vectors, |e, offset| {
                let source = e.b.ins().iadd(from, offset);
                let target = e.b.ins().iadd(to, offset);
                let x = vector.load(&mut e.b, source, 0);
                vector.store(&mut e.b, x, target, 0);
            });
        }
        for k in (vectors * LANES..floats).map(|k| 4 * k as i32) {
            let x = e.b.ins().load(F32, element_flags(), from, k);
            e.b.ins().store(element_flags(), x, to, k);
        }
    }
}
