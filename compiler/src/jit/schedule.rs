//! The scheduler: decides how the kernel produces every live value of a
//! graph, groups elementwise work into fused loops, and orders the steps.
//!
//! A kernel is a sequence of steps. A *loop* step iterates over one shape
//! (its domain) and computes, per element, a set of fused elementwise values
//! (its members), accumulating `reduce_sum`s whose operand has that shape and
//! writing only the values needed outside the loop. A *matmul* step calls a
//! GEMM routine; a *transpose* step copies a matrix into its transpose.
//! Everything else costs no code:
//! - arguments are read where they lie;
//! - constants are splats folded into the loops that read them;
//! - a broadcast is a strided read of its operand (stride 0 on stretched
//!   axes), so an `(N,)` bias added to a `(B, N)` tensor is read by column;
//! - a reshape shares its operand's buffer.
//!
//! Placement is greedy, in node order: an elementwise node joins the loop
//! that already computes most of its operands, provided the step graph stays
//! acyclic (a loop cannot read what a later step computes from that loop's
//! own results); otherwise it starts a new loop. Then loops over the same
//! domain are merged wherever no other step lies between them. Finally
//! every value that leaves its loop gets a buffer ("home"): the output
//! buffer when the value is a (non-accumulating) output, else a slice of the
//! kernel's scratch buffer.

use crate::interp::live_values;
use crate::ir::{Graph, Op, Shape, Value};
use crate::kernel::{check_graph, CompileError};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) type StepId = usize;

/// How the kernel obtains a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Producer {
    /// No output depends on it.
    Dead,
    /// The graph's argument buffer number `i`.
    Arg(usize),
    /// A constant: every element has this value.
    Splat(f32),
    /// A broadcast of the given value, read through strides.
    View(Value),
    /// A reshape of the given value, sharing its buffer.
    Alias(Value),
    /// An elementwise value computed inside this loop step.
    Fused(StepId),
    /// A `reduce_sum` accumulated by this loop step.
    Reduce(StepId),
    /// A matrix product computed by this matmul step.
    Matmul(StepId),
    /// A transposed matrix written by this transpose step.
    Transpose(StepId),
}

/// A buffer holding a materialised value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Home {
    Arg(usize),
    Output(usize),
    /// Offset, in floats, into the kernel's scratch buffer.
    Scratch(usize),
}

/// A write of a value, computed or read by a loop, to memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Store {
    pub value: Value,
    pub target: StoreTarget,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum StoreTarget {
    /// The value's own home.
    Home,
    /// Output buffer `index`, added into when `accumulate`.
    Output { index: usize, accumulate: bool },
}

#[derive(Clone, Debug)]
pub(crate) struct LoopStep {
    /// The shape iterated over. Values whose shapes differ from it only by
    /// axes of size 1 share its loop (same elements in the same order).
    pub domain: Shape,
    /// Fused elementwise and reduce_sum nodes, in value (topological) order.
    pub members: Vec<Value>,
    pub stores: Vec<Store>,
}

#[derive(Clone, Debug)]
pub(crate) enum StepKind {
    Loop(LoopStep),
    /// `value = lhs @ rhs`, or `home(value) += lhs @ rhs` when `accumulate`.
    Matmul {
        value: Value,
        accumulate: bool,
    },
    /// `value = transpose(operand)`, into `value`'s home.
    Transpose {
        value: Value,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub kind: StepKind,
    /// Steps whose results this one reads.
    deps: BTreeSet<StepId>,
    /// Merged into another loop (then it emits nothing).
    merged: bool,
}

/// The result of scheduling a graph.
#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    pub producers: Vec<Producer>,
    pub homes: Vec<Option<Home>>,
    pub steps: Vec<Step>,
    /// Live steps in execution order.
    pub order: Vec<StepId>,
    /// Floats of scratch memory the kernel needs.
    pub scratch_len: usize,
}

pub(crate) fn schedule(graph: &Graph) -> Result<Schedule, CompileError> {
    // Also keeps every tensor within the 32-bit byte offsets the generated
    // code addresses (2^28 floats are 2^30 bytes).
    check_graph(graph)?;
    let live = live_values(graph);
    let mut s = Scheduler {
        graph,
        producers: vec![Producer::Dead; graph.len()],
        steps: Vec::new(),
        copies: BTreeMap::new(),
    };
    for &v in &live {
        s.place(v);
    }
    s.merge_loops();
    s.finish(&live)
}

struct Scheduler<'g> {
    graph: &'g Graph,
    producers: Vec<Producer>,
    steps: Vec<Step>,
    /// Views and splats that some consumer needs as a real buffer, and the
    /// loop that writes that buffer.
    copies: BTreeMap<Value, StepId>,
}

impl Scheduler<'_> {
    // ----- placement ---------------------------------------------------------

    fn place(&mut self, v: Value) {
        let graph = self.graph;
        let producer = match *graph.op(v) {
            Op::Arg(i) => Producer::Arg(i as usize),
            Op::Constant(c) => Producer::Splat(c.get()),
            Op::Broadcast(a) => match self.producers[a.index()] {
                Producer::Splat(c) => Producer::Splat(c),
                _ => Producer::View(a),
            },
            Op::Reshape(a) => match self.producers[a.index()] {
                Producer::Splat(c) => Producer::Splat(c),
                // Adding or removing axes of size 1 keeps every index:
                // computed inline, like an elementwise identity.
                _ if squeezed(graph.shape(a)) == squeezed(graph.shape(v)) => {
                    self.place_elementwise(v)
                }
                _ => {
                    self.ensure_buffer(a);
                    Producer::Alias(a)
                }
            },
            Op::Unary(..)
            | Op::Binary(..)
            | Op::Compare(..)
            | Op::Select { .. }
            | Op::Spike { .. }
            | Op::StopGradient(_) => self.place_elementwise(v),
            // A sum over an axis of size 1 is elementwise: its one term.
            Op::ReduceSum { operand, axis } if graph.shape(operand).dims()[axis as usize] == 1 => {
                self.place_elementwise(v)
            }
            Op::ReduceSum { operand, .. } => self.place_reduce(v, operand),
            Op::Matmul { lhs, rhs, .. } => {
                self.ensure_buffer(lhs);
                self.ensure_buffer(rhs);
                let deps = [self.buffer_dep(lhs), self.buffer_dep(rhs)];
                let step = self.push_step(
                    StepKind::Matmul {
                        value: v,
                        accumulate: false,
                    },
                    deps.into_iter().flatten().collect(),
                );
                Producer::Matmul(step)
            }
            Op::Transpose(a) => {
                self.ensure_buffer(a);
                let deps = self.buffer_dep(a).into_iter().collect();
                Producer::Transpose(self.push_step(StepKind::Transpose { value: v }, deps))
            }
        };
        self.producers[v.index()] = producer;
    }

    fn place_elementwise(&mut self, v: Value) -> Producer {
        let mut deps = Vec::new();
        let mut fused = Vec::new();
        for operand in self.graph.op(v).operands() {
            match self.producers[operand.index()] {
                Producer::Fused(g) => fused.push(g),
                _ => deps.extend(self.read_dep(operand)),
            }
        }
        let domain = self.graph.shape(v).clone();
        let group = self.choose_loop(&domain, &deps, &fused, false);
        self.add_member(group, v);
        Producer::Fused(group)
    }

    fn place_reduce(&mut self, v: Value, operand: Value) -> Producer {
        let group = match self.producers[operand.index()] {
            Producer::Fused(g) => g,
            _ => {
                let deps: Vec<StepId> = self.read_dep(operand).into_iter().collect();
                let domain = self.graph.shape(operand).clone();
                self.choose_loop(&domain, &deps, &[], false)
            }
        };
        self.add_member(group, v);
        Producer::Reduce(group)
    }

    /// Makes `v` available as a contiguous buffer of its own shape: views
    /// and splats get a loop that copies them out.
    fn ensure_buffer(&mut self, v: Value) {
        match self.producers[v.index()] {
            Producer::View(_) | Producer::Splat(_) => {
                if self.copies.contains_key(&v) {
                    return;
                }
                let deps: Vec<StepId> = self.read_dep(v).into_iter().collect();
                let domain = self.graph.shape(v).clone();
                let group = self.choose_loop(&domain, &deps, &[], false);
                self.loop_mut(group).stores.push(Store {
                    value: v,
                    target: StoreTarget::Home,
                });
                self.copies.insert(v, group);
            }
            Producer::Alias(a) => self.ensure_buffer(a),
            Producer::Dead
            | Producer::Arg(_)
            | Producer::Fused(_)
            | Producer::Reduce(_)
            | Producer::Matmul(_)
            | Producer::Transpose(_) => {}
        }
    }

    /// The step whose results a loop reads when it reads `v` element by
    /// element (through strides), if any.
    fn read_dep(&self, v: Value) -> Option<StepId> {
        match self.producers[v.index()] {
            Producer::Dead | Producer::Arg(_) | Producer::Splat(_) => None,
            Producer::Fused(g)
            | Producer::Reduce(g)
            | Producer::Matmul(g)
            | Producer::Transpose(g) => Some(g),
            Producer::View(source) => self.read_dep(source),
            Producer::Alias(source) => self.buffer_dep(source),
        }
    }

    /// The step that writes `v`'s contiguous buffer, if any.
    fn buffer_dep(&self, v: Value) -> Option<StepId> {
        match self.producers[v.index()] {
            Producer::Dead | Producer::Arg(_) => None,
            Producer::Fused(g)
            | Producer::Reduce(g)
            | Producer::Matmul(g)
            | Producer::Transpose(g) => Some(g),
            Producer::Alias(source) => self.buffer_dep(source),
            Producer::View(_) | Producer::Splat(_) => self.copies.get(&v).copied(),
        }
    }

    /// Picks the loop over `domain` that a node reading steps `deps` and
    /// fused values of loops `fused` should join: the one holding most of
    /// those values, among those it can join without a cycle. With
    /// `any_loop`, a loop holding none of them will do (the latest one);
    /// otherwise such a node starts a new loop, and the merge pass decides.
    fn choose_loop(
        &mut self,
        domain: &Shape,
        deps: &[StepId],
        fused: &[StepId],
        any_loop: bool,
    ) -> StepId {
        let mut best: Option<(usize, StepId)> = None;
        for g in 0..self.steps.len() {
            if self.steps[g].merged || !self.loop_domain(g).is_some_and(|d| same_domain(d, domain))
            {
                continue;
            }
            let score = fused.iter().filter(|&&f| f == g).count();
            if score == 0 && !any_loop {
                continue;
            }
            let all_deps = deps.iter().chain(fused.iter().filter(|&&f| f != g));
            let joinable = all_deps.clone().all(|&d| d != g && !self.reaches(d, g));
            if joinable && best.is_none_or(|(s, _)| score >= s) {
                best = Some((score, g));
            }
        }
        let group = match best {
            Some((_, g)) => g,
            None => self.push_step(
                StepKind::Loop(LoopStep {
                    domain: domain.clone(),
                    members: Vec::new(),
                    stores: Vec::new(),
                }),
                BTreeSet::new(),
            ),
        };
        let new_deps: Vec<StepId> = deps
            .iter()
            .chain(fused.iter())
            .copied()
            .filter(|&d| d != group)
            .collect();
        self.steps[group].deps.extend(new_deps);
        group
    }

    /// True when step `from` reads, directly or not, results of step `to`.
    fn reaches(&self, from: StepId, to: StepId) -> bool {
        let mut stack = vec![from];
        let mut seen = BTreeSet::new();
        while let Some(s) = stack.pop() {
            if s == to {
                return true;
            }
            if seen.insert(s) {
                stack.extend(self.steps[s].deps.iter().copied());
            }
        }
        false
    }

    fn push_step(&mut self, kind: StepKind, deps: BTreeSet<StepId>) -> StepId {
        self.steps.push(Step {
            kind,
            deps,
            merged: false,
        });
        self.steps.len() - 1
    }

    fn loop_domain(&self, g: StepId) -> Option<&Shape> {
        match &self.steps[g].kind {
            StepKind::Loop(l) => Some(&l.domain),
            StepKind::Matmul { .. } | StepKind::Transpose { .. } => None,
        }
    }

    fn loop_mut(&mut self, g: StepId) -> &mut LoopStep {
        match &mut self.steps[g].kind {
            StepKind::Loop(l) => l,
            StepKind::Matmul { .. } | StepKind::Transpose { .. } => {
                unreachable!("step {g} is a loop by construction")
            }
        }
    }

    fn add_member(&mut self, g: StepId, v: Value) {
        self.loop_mut(g).members.push(v);
    }

    // ----- merging ---------------------------------------------------------------

    /// Merges loops over the same domain wherever that keeps the step graph
    /// acyclic and no loop would read its own reduce results.
    fn merge_loops(&mut self) {
        for a in 0..self.steps.len() {
            for b in a + 1..self.steps.len() {
                if self.steps[a].merged || self.steps[b].merged {
                    continue;
                }
                let (Some(da), Some(db)) = (self.loop_domain(a), self.loop_domain(b)) else {
                    continue;
                };
                if !same_domain(da, db) {
                    continue;
                }
                if self.can_merge(a, b) {
                    self.merge(a, b);
                }
            }
        }
    }

    fn can_merge(&self, a: StepId, b: StepId) -> bool {
        let no_detour = |x: StepId, y: StepId| {
            self.steps[x]
                .deps
                .iter()
                .all(|&d| d == y || !self.reaches(d, y))
        };
        no_detour(a, b)
            && no_detour(b, a)
            && !self.reads_non_inline(b, a)
            && !self.reads_non_inline(a, b)
    }

    /// True when loop `reader` reads something of step `writer` that would
    /// not become inline if the two merged (a reduce result, or a value read
    /// through a broadcast or reshape).
    fn reads_non_inline(&self, reader: StepId, writer: StepId) -> bool {
        let StepKind::Loop(l) = &self.steps[reader].kind else {
            return false;
        };
        let hard = |v: Value| {
            !matches!(self.producers[v.index()], Producer::Fused(_))
                && self.read_dep(v) == Some(writer)
        };
        l.members
            .iter()
            .any(|&m| self.graph.op(m).operands().into_iter().any(hard))
            || l.stores.iter().any(|s| hard(s.value))
    }

    fn merge(&mut self, into: StepId, from: StepId) {
        let StepKind::Loop(moved) = std::mem::replace(
            &mut self.steps[from].kind,
            StepKind::Loop(LoopStep {
                domain: Shape::scalar(),
                members: Vec::new(),
                stores: Vec::new(),
            }),
        ) else {
            unreachable!("only loops are merged")
        };
        self.steps[from].merged = true;
        for &m in &moved.members {
            self.producers[m.index()] = match self.producers[m.index()] {
                Producer::Fused(_) => Producer::Fused(into),
                Producer::Reduce(_) => Producer::Reduce(into),
                other => other,
            };
        }
        for step in self.copies.values_mut() {
            if *step == from {
                *step = into;
            }
        }
        let target = self.loop_mut(into);
        target.members.extend(moved.members);
        target.members.sort();
        target.stores.extend(moved.stores);
        let moved_deps = std::mem::take(&mut self.steps[from].deps);
        self.steps[into].deps.extend(moved_deps);
        self.steps[into].deps.remove(&into);
        self.steps[into].deps.remove(&from);
        for step in &mut self.steps {
            if step.deps.remove(&from) {
                step.deps.insert(into);
            }
        }
        self.steps[into].deps.remove(&into);
    }

    // ----- homes, stores and order -------------------------------------------------

    fn finish(mut self, live: &[Value]) -> Result<Schedule, CompileError> {
        let graph = self.graph;
        let n = graph.len();
        let mut users: Vec<Vec<Value>> = vec![Vec::new(); n];
        for &v in live {
            for operand in graph.op(v).operands() {
                users[operand.index()].push(v);
            }
        }
        let mut outputs_of: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, out) in graph.outputs().iter().enumerate() {
            outputs_of[out.value.index()].push(i);
        }
        let first_plain_output = |v: Value| {
            outputs_of[v.index()]
                .iter()
                .copied()
                .find(|&o| !graph.outputs()[o].accumulate)
        };

        // Which values need a buffer of their own.
        let mut homes: Vec<Option<Home>> = vec![None; n];
        let mut scratch_len = 0;
        let mut scratch = |len: usize| {
            let offset = scratch_len;
            // An empty value gets room too, so that no two values get one
            // offset (loops tell buffers apart by it; a unit-axis reshape
            // that shares its operand's buffer, below, is the same
            // elements).
            scratch_len += len.max(1).div_ceil(16) * 16;
            Home::Scratch(offset)
        };
        for &v in live {
            let needs_home = match self.producers[v.index()] {
                Producer::Dead | Producer::Splat(_) | Producer::View(_) => {
                    self.copies.contains_key(&v)
                }
                Producer::Arg(i) => {
                    homes[v.index()] = Some(Home::Arg(i));
                    false
                }
                Producer::Alias(_) => false,
                Producer::Reduce(_) | Producer::Transpose(_) => true,
                Producer::Matmul(step) => {
                    let outs = &outputs_of[v.index()];
                    if users[v.index()].is_empty()
                        && outs.len() == 1
                        && graph.outputs()[outs[0]].accumulate
                    {
                        // Accumulate the product straight into the output.
                        homes[v.index()] = Some(Home::Output(outs[0]));
                        self.steps[step].kind = StepKind::Matmul {
                            value: v,
                            accumulate: true,
                        };
                        false
                    } else {
                        true
                    }
                }
                Producer::Fused(g) => {
                    first_plain_output(v).is_some()
                        || users[v.index()].iter().any(|&u| {
                            !matches!(
                                self.producers[u.index()],
                                Producer::Fused(h) | Producer::Reduce(h) if h == g
                            )
                        })
                }
            };
            if needs_home {
                if let Some(home) = self.shared_home(v, &homes, first_plain_output(v)) {
                    homes[v.index()] = Some(home);
                    continue;
                }
                homes[v.index()] = Some(match first_plain_output(v) {
                    Some(o) => Home::Output(o),
                    None => scratch(graph.shape(v).numel()),
                });
                if let Producer::Fused(g) = self.producers[v.index()] {
                    self.loop_mut(g).stores.push(Store {
                        value: v,
                        target: StoreTarget::Home,
                    });
                }
            }
        }
        // Resolve aliases to the buffer they share.
        for &v in live {
            if let Producer::Alias(_) = self.producers[v.index()] {
                homes[v.index()] = self.alias_home(v, &homes);
            }
        }

        // Output writes not already covered by a home.
        for (i, out) in graph.outputs().iter().enumerate() {
            let v = out.value;
            if homes[v.index()] == Some(Home::Output(i)) {
                continue;
            }
            let store = Store {
                value: v,
                target: StoreTarget::Output {
                    index: i,
                    accumulate: out.accumulate,
                },
            };
            let group = match self.producers[v.index()] {
                Producer::Fused(g) => g,
                _ => {
                    let deps: Vec<StepId> = self.read_dep(v).into_iter().collect();
                    let domain = graph.shape(v).clone();
                    self.choose_loop(&domain, &deps, &[], true)
                }
            };
            self.loop_mut(group).stores.push(store);
        }

        let order = self.topological_order()?;
        Ok(Schedule {
            producers: self.producers,
            homes,
            steps: self.steps,
            order,
            scratch_len,
        })
    }

    /// The buffer a reshape computed inline (it only adds or drops axes of
    /// size 1, so it holds its operand's elements in the same order) can
    /// share instead of being stored a second time: its operand's, when
    /// the reshape has no output of its own and the operand is an argument
    /// or is stored by the reshape's own loop. (Any other writer of the
    /// operand's buffer, such as the copy loop of a broadcast, is a step
    /// the reshape's readers do not wait for.)
    fn shared_home(
        &self,
        v: Value,
        homes: &[Option<Home>],
        own_output: Option<usize>,
    ) -> Option<Home> {
        let Op::Reshape(a) = *self.graph.op(v) else {
            return None;
        };
        let written_in_time = match (self.producers[a.index()], self.producers[v.index()]) {
            (Producer::Arg(_), _) => true,
            (Producer::Fused(g), Producer::Fused(h)) => g == h,
            _ => false,
        };
        if own_output.is_some() || !written_in_time {
            return None;
        }
        homes[a.index()]
    }

    fn alias_home(&self, v: Value, homes: &[Option<Home>]) -> Option<Home> {
        match self.producers[v.index()] {
            Producer::Alias(source) => self.alias_home(source, homes),
            _ => homes[v.index()],
        }
    }

    /// Live steps ordered so that every step follows those it reads; among
    /// ready steps, the earliest created goes first.
    fn topological_order(&self) -> Result<Vec<StepId>, CompileError> {
        let live: Vec<StepId> = (0..self.steps.len())
            .filter(|&s| !self.steps[s].merged)
            .collect();
        let mut done = vec![false; self.steps.len()];
        let mut order = Vec::with_capacity(live.len());
        while order.len() < live.len() {
            let next = live
                .iter()
                .copied()
                .find(|&s| !done[s] && self.steps[s].deps.iter().all(|&d| done[d]));
            match next {
                Some(s) => {
                    done[s] = true;
                    order.push(s);
                }
                // Placement and merging keep the steps acyclic; a cycle
                // would leave steps unordered, so it is refused, not run.
                None => {
                    return Err(CompileError::Codegen(format!(
                        "the schedule's steps form a cycle ({} of {} ordered)",
                        order.len(),
                        live.len()
                    )))
                }
            }
        }
        Ok(order)
    }
}

/// The dimensions of `shape` other than those of size 1.
pub(crate) fn squeezed(shape: &Shape) -> Vec<usize> {
    shape.dims().iter().copied().filter(|&d| d != 1).collect()
}

/// True when one loop can iterate over both shapes: they differ only by
/// axes of size 1, so row-major order visits the same elements alike.
fn same_domain(a: &Shape, b: &Shape) -> bool {
    squeezed(a) == squeezed(b)
}
