//! What a fused loop reads and writes, resolved before any code is emitted:
//! the loop's domain collapsed to as few axes as possible, and one *access*
//! (a buffer and its strides over that domain, see `access.rs`) for every
//! leaf it reads, every value it stores and every reduce target it
//! accumulates into. `loops.rs` emits the loop nest from this plan.

use super::access::{broadcast_strides, collapse, reduce_strides};
use super::Emitter;
use crate::ir::{Op, Shape, Value};
use crate::jit::schedule::{squeezed, Home, LoopStep, Producer, StoreTarget};
use crate::kernel::CompileError;

/// Where a loop reads a value from.
#[derive(Clone, Copy, Debug)]
pub(super) enum Source {
    Splat(f32),
    Memory(usize),
}

/// A value the loop reads without computing it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Leaf {
    pub value: Value,
    pub source: Source,
}

/// A value the loop writes to a buffer (adds into it, with `accumulate`).
#[derive(Clone, Copy, Debug)]
pub(super) struct StorePlan {
    pub value: Value,
    pub access: usize,
    pub accumulate: bool,
}

/// A reduce_sum the loop accumulates.
#[derive(Clone, Copy, Debug)]
pub(super) struct ReducePlan {
    pub node: Value,
    pub operand: Value,
    pub access: usize,
    /// Terms per sum: the length of the reduced axis.
    pub terms: usize,
    /// When the reduced axis is the innermost one, each row sums into one
    /// element, accumulated in registers: this reduce's running sum among
    /// a row's sums. Otherwise (`None`) the target is walked like any other
    /// access and accumulated in memory.
    pub row_sum: Option<usize>,
}

/// A loop step resolved to accesses over its collapsed nest.
pub(super) struct Plan {
    pub dims: Vec<usize>,
    pub homes: Vec<Home>,
    pub strides: Vec<Vec<usize>>,
    /// Elementwise members computed at each position, in order.
    pub members: Vec<Value>,
    pub inline: Vec<bool>,
    /// Constant leaves by value index, for the rules' strength reductions.
    pub constants: Vec<Option<f32>>,
    pub leaves: Vec<Leaf>,
    /// The leaf holding each value, by value index.
    pub leaf_of: Vec<Option<usize>>,
    pub stores: Vec<StorePlan>,
    pub reduces: Vec<ReducePlan>,
    /// Values the loop stores or reduces without computing them (a state
    /// copied into the tape), each once.
    pub copies: Vec<Value>,
}

impl Plan {
    /// How far `access` moves per element of the innermost axis (0 or 1).
    pub fn inner_stride(&self, access: usize) -> usize {
        *self.strides[access]
            .last()
            .expect("collapsed nests have an axis")
    }
    /// Whether `access` is one element for the whole loop.
    pub fn invariant(&self, access: usize) -> bool {
        self.strides[access].iter().all(|&s| s == 0)
    }
}

/// Resolves loop step `l`: its leaves, stores and reduce targets as
/// accesses over its collapsed domain. Fails (never panics) on a loop the
/// emitter cannot handle: one that reads a buffer it writes, or an access
/// whose innermost stride is neither 0 nor 1.
pub(super) fn plan(e: &Emitter, l: &LoopStep) -> Result<Plan, CompileError> {
    let graph = e.graph;
    let domain = &l.domain;
    // Members computed per position; the others are reduce_sum sinks.
    let mut inline = vec![false; graph.len()];
    for &m in &l.members {
        if let Producer::Fused(_) = e.schedule.producers[m.index()] {
            inline[m.index()] = true;
        }
    }
    let mut homes = Vec::new();
    let mut strides = Vec::new();
    let mut add_access = |home: Home, s: Vec<usize>| {
        homes.push(home);
        strides.push(s);
        homes.len() - 1
    };

    // Leaves: everything read that the loop does not compute. Each is read
    // at the shape of its own value, which equals the domain up to axes of
    // size 1; strides are taken over that shape, then those axes dropped.
    let mut reads: Vec<Value> = Vec::new();
    for &m in &l.members {
        match (inline[m.index()], *graph.op(m)) {
            (false, Op::ReduceSum { operand, .. }) => reads.push(operand),
            _ => reads.extend(graph.op(m).operands()),
        }
    }
    reads.extend(l.stores.iter().map(|s| s.value));
    reads.sort();
    reads.dedup();
    let mut leaves = Vec::new();
    for v in reads {
        if inline[v.index()] {
            continue;
        }
        let source = match read_source(e, v)? {
            ReadSource::Splat(c) => Source::Splat(c),
            ReadSource::Buffer(home, shape_of) => {
                let s = broadcast_strides(graph.shape(shape_of), graph.shape(v));
                Source::Memory(add_access(home, squeeze(graph.shape(v), s)))
            }
        };
        leaves.push(Leaf { value: v, source });
    }

    let mut constants = vec![None; graph.len()];
    for leaf in &leaves {
        if let Source::Splat(c) = leaf.source {
            constants[leaf.value.index()] = Some(c);
        }
    }
    let mut stores = Vec::new();
    for s in &l.stores {
        let (home, accumulate) = match s.target {
            StoreTarget::Home => (e.home(s.value)?, false),
            StoreTarget::Output { index, accumulate } => (Home::Output(index), accumulate),
        };
        let shape = graph.shape(s.value);
        let contiguous = squeeze(shape, broadcast_strides(shape, shape));
        stores.push(StorePlan {
            value: s.value,
            access: add_access(home, contiguous),
            accumulate,
        });
    }
    let mut reduces = Vec::new();
    for &m in &l.members {
        if let (false, Op::ReduceSum { operand, axis }) = (inline[m.index()], *graph.op(m)) {
            let shape = graph.shape(operand);
            let target = squeeze(shape, reduce_strides(shape, axis as usize));
            let access = add_access(e.home(m)?, target);
            reduces.push(ReducePlan {
                node: m,
                operand,
                access,
                terms: shape.dims()[axis as usize],
                row_sum: None,
            });
        }
    }

    let mut leaf_of = vec![None; graph.len()];
    for (i, leaf) in leaves.iter().enumerate() {
        leaf_of[leaf.value.index()] = Some(i);
    }
    let mut copies: Vec<Value> = stores.iter().map(|s| s.value).collect();
    copies.extend(reduces.iter().map(|r| r.operand));
    copies.retain(|v| !inline[v.index()]);
    copies.sort();
    copies.dedup();

    let dims = collapse(&squeezed(domain), &mut strides);
    let mut plan = Plan {
        dims,
        homes,
        strides,
        members: l
            .members
            .iter()
            .copied()
            .filter(|m| inline[m.index()])
            .collect(),
        inline,
        constants,
        leaves,
        leaf_of,
        stores,
        reduces,
        copies,
    };
    let mut row_sums = 0;
    for i in 0..plan.reduces.len() {
        if plan.inner_stride(plan.reduces[i].access) == 0 {
            plan.reduces[i].row_sum = Some(row_sums);
            row_sums += 1;
        }
    }
    // Positions are computed from what the loop reads and stored as they
    // go, and the tail recomputes positions already stored: both need the
    // buffers a loop reads to be ones it does not write. Distinct values
    // never share a buffer (scratch is not reused, outputs overlap no
    // argument, the runtime checks its programs; a unit-axis reshape that
    // shares its operand's is read only after the loop that stores it), so
    // this only guards against a scheduling mistake.
    let written: Vec<Home> = (plan.stores.iter().map(|s| s.access))
        .chain(plan.reduces.iter().map(|r| r.access))
        .map(|a| plan.homes[a])
        .collect();
    for leaf in &plan.leaves {
        if let Source::Memory(a) = leaf.source {
            if written.contains(&plan.homes[a]) {
                return Err(CompileError::Codegen(format!(
                    "loop over {} reads %{} from a buffer it writes",
                    domain, leaf.value.0
                )));
            }
        }
    }
    for a in 0..plan.strides.len() {
        if plan.inner_stride(a) > 1 {
            return Err(CompileError::Codegen(format!(
                "access with inner stride {} in a loop over {}",
                plan.inner_stride(a),
                domain
            )));
        }
    }
    Ok(plan)
}

/// `strides` over `shape` without the axes of size 1.
fn squeeze(shape: &Shape, strides: Vec<usize>) -> Vec<usize> {
    shape
        .dims()
        .iter()
        .zip(strides)
        .filter(|(&d, _)| d != 1)
        .map(|(_, s)| s)
        .collect()
}

enum ReadSource {
    Splat(f32),
    /// The buffer, and the value whose shape describes its layout.
    Buffer(Home, Value),
}

/// Where a loop finds `v`: broadcasts read their (transitive) source with
/// stretched strides, reshapes the buffer they share.
fn read_source(e: &Emitter, v: Value) -> Result<ReadSource, CompileError> {
    match e.schedule.producers[v.index()] {
        Producer::Splat(c) => Ok(ReadSource::Splat(c)),
        Producer::View(source) => read_source(e, source),
        Producer::Dead
        | Producer::Arg(_)
        | Producer::Alias(_)
        | Producer::Fused(_)
        | Producer::Reduce(_)
        | Producer::Matmul(_)
        | Producer::Transpose(_) => Ok(ReadSource::Buffer(e.home(v)?, v)),
    }
}
