//! Codegen for loop steps: one fused loop nest over the step's domain.
//!
//! Every buffer the loop touches is an *access* (strides over the domain,
//! resolved by `loop_plan.rs`): the leaves it reads, the values it stores,
//! the reduce targets it accumulates into. After the nest is collapsed,
//! each access walks the innermost axis with stride 1 (read as vectors) or
//! 0 (one element per row, loaded once per row and splatted); accesses
//! with no nonzero stride are loaded once before the loop.
//!
//! Shape of the code (all trip counts are compile-time constants):
//! ```text
//! preheader: buffer addresses, constants, loop-invariant leaves,
//!            accumulating reduce targets filled with their start (-0.0)
//! for each outer index (do-while per axis):
//!     row addresses, per-row leaves
//!     do { f32x4 body at j; f32x4 body at j + 16 } while (j += 32) < 32 * (n / 8)
//!     one more f32x4 body when n / 4 is odd
//!     tail, when n % 4 > 0:
//!       n >= 4: one more f32x4 body at n - 4, overlapping the previous one
//!       n < 4:  one partial vector (pairs of lanes moved as 64-bit pieces)
//!     row totals of last-axis reductions
//! ```
//!
//! The overlapping tail keeps full-width loads and stores: a row of 10
//! costs three vector bodies instead of two and a partial one, whose every
//! load is a load, a zeroed register and a blend. Recomputing the shared
//! lanes is harmless. A plain store writes them again with the same
//! values: a loop reads no buffer it stores to (`loop_plan.rs` checks
//! this). What adds into memory (accumulating outputs, sums over other
//! axes) adds -0.0 in those lanes, and a row's total adds only the new
//! lanes, after the vector lanes as before; every sum is bit for bit what
//! it was with a partial tail.
//!
//! Loops are rotated (do-while, entered only when they run at least twice)
//! so Cranelift's loop-invariant code motion can hoist out of them.

use super::elementwise::{lower, ElementContext, Lowered};
use super::loop_plan::{plan, Plan, Source};
use super::reduce;
use super::simd::{element_flags, Simd, LANES};
use super::Emitter;
use crate::interp::sum_start;
use crate::ir::Value;
use crate::jit::schedule::{Home, LoopStep};
use crate::kernel::CompileError;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F32, I64};
use cranelift_codegen::ir::{BlockArg, InstBuilder, Value as ClifValue};

/// Vector positions per iteration of a row's loop. Two halve the loop's
/// overhead and the reloads of spilled row addresses per element. Results
/// are unchanged bit for bit: positions are still visited in order, so each
/// running sum adds them in the same order.
const UNROLL: usize = 2;

/// Bytes of one `f32x4` position.
const VECTOR_BYTES: i32 = 4 * LANES as i32;

/// An access's address as a register plus a constant byte displacement:
/// scratch buffers (and the scratch copies of staged arguments, see
/// `staging.rs`) are all addressed from the one scratch pointer, so that
/// a loop keeps one register for all of them instead of one each.
#[derive(Clone, Copy)]
struct Address {
    register: ClifValue,
    displacement: i32,
}

/// Where each access of `plan` starts.
fn access_bases(e: &mut Emitter, plan: &Plan) -> Vec<Address> {
    // Positions within a row add at most a row's bytes to the displacement.
    let row_bytes = plan.dims.last().map_or(0, |&n| 4 * n);
    plan.homes
        .iter()
        .map(|&home| {
            let in_scratch = match home {
                Home::Scratch(offset) => Some(offset),
                // A staged argument whose copy is out of displacement
                // range is read where it lies: the same values.
                Home::Arg(index) => e.staging.offset(index),
                Home::Output(_) => None,
            };
            let scratch_displacement = match in_scratch {
                Some(offset) => (4 * offset)
                    .checked_add(row_bytes)
                    .and_then(|end| i32::try_from(end).ok())
                    .map(|_| (4 * offset) as i32),
                None => None,
            };
            match scratch_displacement {
                Some(displacement) => Address {
                    register: e.scratch,
                    displacement,
                },
                None => Address {
                    register: e.base(home),
                    displacement: 0,
                },
            }
        })
        .collect()
}

/// Per-access addresses and row-level values while a row is emitted.
struct RowState {
    /// Address of each access at the start of the current row.
    row_base: Vec<Address>,
    /// For leaves that do not move along the row: their splatted value.
    fixed: Vec<Option<ClifValue>>,
}

/// Where in the row a position is.
#[derive(Clone, Copy)]
enum Offset {
    /// Byte offset held in a register (the vector loop's induction value),
    /// plus a constant (the position within an unrolled iteration).
    Dynamic(ClifValue, i32),
    /// Constant byte offset.
    Constant(i32),
}

/// Which lanes of a position a loop stores and adds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Span {
    /// All four: elements no other position covers.
    Full,
    /// The tail of a row of at least four elements: a full vector ending
    /// at the row's end. Its lanes `0..shared` (1 to 3) are elements the
    /// previous position covered: stored again with the same values, added
    /// as -0.0.
    Overlap { shared: usize },
    /// A row shorter than a vector: lanes `0..live` (1 to 3) are elements,
    /// the others zeros whose results are dropped.
    Partial { live: usize },
}

impl Span {
    /// The lanes holding elements no earlier position covered.
    fn new_lanes(self) -> std::ops::Range<usize> {
        match self {
            Span::Full => 0..LANES,
            Span::Overlap { shared } => shared..LANES,
            Span::Partial { live } => 0..live,
        }
    }
}

pub(crate) fn emit(e: &mut Emitter, l: &LoopStep) -> Result<(), CompileError> {
    let plan = plan(e, l)?;
    let numel = l.domain.numel();
    // Preheader: addresses, constants, invariant leaves, reduce targets
    // filled with the sums' start.
    let bases = access_bases(e, &plan);
    let vector = Simd::new(e.features, e.constants);
    for r in &plan.reduces {
        let len = e.graph.shape(r.node).numel();
        if numel == 0 || r.row_sum.is_none() {
            let target = e.base(plan.homes[r.access]);
            reduce::fill(e, target, len, sum_start(r.terms));
        }
    }
    if numel == 0 {
        return Ok(());
    }
    let mut fixed: Vec<Option<ClifValue>> = vec![None; plan.leaves.len()];
    for (i, leaf) in plan.leaves.iter().enumerate() {
        fixed[i] = Some(match leaf.source {
            Source::Splat(c) => vector.constant(&mut e.b, c),
            Source::Memory(a) if plan.invariant(a) => {
                let at = bases[a];
                let s =
                    e.b.ins()
                        .load(F32, element_flags(), at.register, at.displacement);
                vector.splat(&mut e.b, s)
            }
            Source::Memory(_) => continue,
        });
    }
    let mut index = Vec::new();
    emit_rows(e, &plan, &bases, &fixed, &mut index, vector)
}

/// Emits the nest from axis `index.len()` inward.
fn emit_rows(
    e: &mut Emitter,
    plan: &Plan,
    bases: &[Address],
    fixed: &[Option<ClifValue>],
    index: &mut Vec<ClifValue>,
    vector: Simd,
) -> Result<(), CompileError> {
    let level = index.len();
    if level + 1 == plan.dims.len() {
        return emit_row(e, plan, bases, fixed, index, vector);
    }
    let count = plan.dims[level];
    counted_loop(e, count, |e, i| {
        index.push(i);
        let r = emit_rows(e, plan, bases, fixed, index, vector);
        index.pop();
        r
    })
}

/// `for i in 0..count { body(i) }` as a do-while with an `i64` counter.
pub(crate) fn counted_loop(
    e: &mut Emitter,
    count: usize,
    mut body: impl FnMut(&mut Emitter, ClifValue) -> Result<(), CompileError>,
) -> Result<(), CompileError> {
    if count == 1 {
        let zero = e.b.ins().iconst(I64, 0);
        return body(e, zero);
    }
    let header = e.b.create_block();
    let i = e.b.append_block_param(header, I64);
    let exit = e.b.create_block();
    let zero = e.b.ins().iconst(I64, 0);
    e.b.ins().jump(header, &[BlockArg::Value(zero)]);
    e.b.switch_to_block(header);
    body(e, i)?;
    let next = e.b.ins().iadd_imm_s(i, 1);
    let more =
        e.b.ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, next, count as i64);
    e.b.ins()
        .brif(more, header, &[BlockArg::Value(next)], exit, &[]);
    e.b.switch_to_block(exit);
    Ok(())
}

/// `body(offset)` for the byte offset of each of `vectors` (at least one)
/// consecutive `f32x4` vectors, as a do-while loop: for fills and copies.
pub(crate) fn vector_loop(
    e: &mut Emitter,
    vectors: usize,
    mut body: impl FnMut(&mut Emitter, ClifValue),
) {
    let header = e.b.create_block();
    let offset = e.b.append_block_param(header, I64);
    let exit = e.b.create_block();
    let start = e.b.ins().iconst(I64, 0);
    e.b.ins().jump(header, &[BlockArg::Value(start)]);
    e.b.switch_to_block(header);
    body(e, offset);
    let next = e.b.ins().iadd_imm_s(offset, VECTOR_BYTES as i64);
    let end = VECTOR_BYTES as i64 * vectors as i64;
    let more = e.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, next, end);
    e.b.ins()
        .brif(more, header, &[BlockArg::Value(next)], exit, &[]);
    e.b.switch_to_block(exit);
}

/// One row of the innermost axis at outer multi-index `index`.
fn emit_row(
    e: &mut Emitter,
    plan: &Plan,
    bases: &[Address],
    fixed: &[Option<ClifValue>],
    index: &[ClifValue],
    vector: Simd,
) -> Result<(), CompileError> {
    // Row addresses: base + sum(index[d] * stride[d]) * 4 bytes.
    let mut row_base = Vec::with_capacity(bases.len());
    for (a, &base) in bases.iter().enumerate() {
        let mut register = base.register;
        for (d, &i) in index.iter().enumerate() {
            let stride = plan.strides[a][d];
            if stride != 0 {
                let offset = e.b.ins().imul_imm_s(i, (4 * stride) as i64);
                register = e.b.ins().iadd(register, offset);
            }
        }
        row_base.push(Address { register, ..base });
    }
    // Leaves constant along the row: load once, splat.
    let mut row_fixed = fixed.to_vec();
    for (i, leaf) in plan.leaves.iter().enumerate() {
        if let Source::Memory(a) = leaf.source {
            if row_fixed[i].is_none() && plan.inner_stride(a) == 0 {
                let at = row_base[a];
                let s =
                    e.b.ins()
                        .load(F32, element_flags(), at.register, at.displacement);
                row_fixed[i] = Some(vector.splat(&mut e.b, s));
            }
        }
    }
    let state = RowState {
        row_base,
        fixed: row_fixed,
    };

    let n = *plan.dims.last().expect("collapsed nests have an axis");
    let chunks = n / LANES;
    let tail = n % LANES;
    let across: Vec<usize> = (0..plan.reduces.len())
        .filter(|&r| plan.reduces[r].row_sum.is_some())
        .collect();

    // Vector part, with one f32x4 accumulator per row reduction. A row has
    // terms here (empty loops returned early), so its sums start from -0.0
    // (see `interp::sum_start`); -0.0 being the identity of addition, the
    // lanes' partial sums add up to the same total.
    let start = sum_start(n);
    let mut totals: Vec<ClifValue> = Vec::with_capacity(across.len());
    if chunks > 0 {
        let initial = vector.constant(&mut e.b, start);
        let mut accumulators = vec![initial; across.len()];
        let iterations = chunks / UNROLL;
        if iterations == 1 {
            for k in 0..UNROLL as i32 {
                let at = Offset::Constant(k * VECTOR_BYTES);
                emit_position(e, plan, &state, vector, at, Span::Full, &mut accumulators)?;
            }
        } else if iterations > 1 {
            let header = e.b.create_block();
            let j = e.b.append_block_param(header, I64);
            let carried: Vec<ClifValue> = accumulators
                .iter()
                .map(|_| e.b.append_block_param(header, vector.float_type()))
                .collect();
            let exit = e.b.create_block();
            let results: Vec<ClifValue> = accumulators
                .iter()
                .map(|_| e.b.append_block_param(exit, vector.float_type()))
                .collect();
            let start = e.b.ins().iconst(I64, 0);
            let mut entry_args = vec![BlockArg::Value(start)];
            entry_args.extend(accumulators.iter().map(|&v| BlockArg::Value(v)));
            e.b.ins().jump(header, &entry_args);

            e.b.switch_to_block(header);
            let mut body_acc = carried;
            for k in 0..UNROLL as i32 {
                let at = Offset::Dynamic(j, k * VECTOR_BYTES);
                emit_position(e, plan, &state, vector, at, Span::Full, &mut body_acc)?;
            }
            let step = VECTOR_BYTES as i64 * UNROLL as i64;
            let next = e.b.ins().iadd_imm_s(j, step);
            let more =
                e.b.ins()
                    .icmp_imm_u(IntCC::UnsignedLessThan, next, step * iterations as i64);
            let mut loop_args = vec![BlockArg::Value(next)];
            loop_args.extend(body_acc.iter().map(|&v| BlockArg::Value(v)));
            let exit_args: Vec<BlockArg> = body_acc.iter().map(|&v| BlockArg::Value(v)).collect();
            e.b.ins().brif(more, header, &loop_args, exit, &exit_args);
            e.b.switch_to_block(exit);
            accumulators = results;
        }
        // Vectors left after the whole iterations, at constant offsets.
        for k in iterations * UNROLL..chunks {
            let at = Offset::Constant(k as i32 * VECTOR_BYTES);
            emit_position(e, plan, &state, vector, at, Span::Full, &mut accumulators)?;
        }
        for acc in accumulators {
            totals.push(Simd::horizontal_sum(&mut e.b, acc));
        }
    } else {
        let initial = e.b.ins().f32const(start);
        totals = vec![initial; across.len()];
    }

    // Tail: a full vector ending at the row's end, or the whole row as one
    // partial vector when it is shorter than a vector.
    if tail > 0 {
        let (at, span) = if chunks > 0 {
            let shared = LANES - tail;
            let at = Offset::Constant((n - LANES) as i32 * 4);
            (at, Span::Overlap { shared })
        } else {
            (Offset::Constant(0), Span::Partial { live: tail })
        };
        emit_position(e, plan, &state, vector, at, span, &mut totals)?;
    }

    // Row totals go to their single target element.
    for (k, &r) in across.iter().enumerate() {
        let access = plan.reduces[r].access;
        let at = state.row_base[access];
        e.b.ins()
            .store(element_flags(), totals[k], at.register, at.displacement);
    }
    Ok(())
}

/// Computes every member at one position and performs the loop's stores and
/// reduction updates there. `row_sums` holds the running sums of row
/// reductions: `f32x4` accumulators for full positions, the `f32` row
/// totals for the tail (which adds its new lanes to them in order).
///
/// Each leaf is read just before its first use, and each store or update
/// is emitted as soon as its value is ready: a loop may read a dozen
/// buffers, and holding all of them from the start of the position would
/// need more vector registers than there are. (Apart from the targets it
/// adds into, a loop reads no buffer it writes (see `loop_plan.rs`), so
/// the order of its loads and stores does not matter.)
#[allow(clippy::too_many_arguments)]
fn emit_position(
    e: &mut Emitter,
    plan: &Plan,
    state: &RowState,
    s: Simd,
    offset: Offset,
    span: Span,
    row_sums: &mut [ClifValue],
) -> Result<(), CompileError> {
    let address = |e: &mut Emitter, access: usize| -> (ClifValue, i32) {
        let base = state.row_base[access];
        match offset {
            Offset::Dynamic(j, c) => (e.b.ins().iadd(base.register, j), c + base.displacement),
            Offset::Constant(c) => (base.register, c + base.displacement),
        }
    };
    let load = |e: &mut Emitter, base: ClifValue, off: i32| match span {
        Span::Full | Span::Overlap { .. } => s.load(&mut e.b, base, off),
        Span::Partial { live } => s.load_partial(&mut e.b, base, off, live),
    };
    let store = |e: &mut Emitter, x: ClifValue, base: ClifValue, off: i32| match span {
        Span::Full | Span::Overlap { .. } => s.store(&mut e.b, x, base, off),
        Span::Partial { live } => s.store_partial(&mut e.b, x, base, off, live),
    };
    // What a position adds into memory: -0.0 in shared lanes.
    let addend = |e: &mut Emitter, x: ClifValue| match span {
        Span::Overlap { shared } => s.negative_zero_in_first_lanes(&mut e.b, x, shared),
        Span::Full | Span::Partial { .. } => x,
    };
    let mut values: Vec<Option<Lowered>> = vec![None; e.graph.len()];
    let read_leaf = |e: &mut Emitter, values: &mut [Option<Lowered>], v: Value| {
        let Some(i) = plan.leaf_of[v.index()] else {
            return;
        };
        if values[v.index()].is_some() {
            return;
        }
        let x = match (state.fixed[i], plan.leaves[i].source) {
            (Some(splat), _) => splat,
            (None, Source::Memory(a)) => {
                let (base, off) = address(e, a);
                load(e, base, off)
            }
            (None, Source::Splat(c)) => s.constant(&mut e.b, c),
        };
        values[v.index()] = Some(Lowered::Float(x));
    };
    let value = |e: &mut Emitter, values: &[Option<Lowered>], v: Value| match values[v.index()] {
        Some(x) => Ok(x.float(s, &mut e.b)),
        None => Err(CompileError::Codegen(format!(
            "loop stores %{} but neither computes nor reads it",
            v.0
        ))),
    };
    // The stores and reduction updates of value `v`.
    let emit_writes_of = |e: &mut Emitter,
                          values: &[Option<Lowered>],
                          row_sums: &mut [ClifValue],
                          v: Value|
     -> Result<(), CompileError> {
        for target in plan.stores.iter().filter(|t| t.value == v) {
            let mut x = value(e, values, v)?;
            let (base, off) = address(e, target.access);
            if target.accumulate {
                let old = load(e, base, off);
                let added = addend(e, x);
                x = s.add(&mut e.b, old, added);
            }
            store(e, x, base, off);
        }
        for r in plan.reduces.iter().filter(|r| r.operand == v) {
            let x = value(e, values, v)?;
            match r.row_sum {
                Some(k) => {
                    row_sums[k] = match span {
                        Span::Full => s.add(&mut e.b, row_sums[k], x),
                        // The tail adds its new lanes, one by one.
                        Span::Overlap { .. } | Span::Partial { .. } => {
                            span.new_lanes().fold(row_sums[k], |total, lane| {
                                let element = e.b.ins().extractlane(x, lane as u8);
                                e.b.ins().fadd(total, element)
                            })
                        }
                    };
                }
                None => {
                    let (base, off) = address(e, r.access);
                    let old = load(e, base, off);
                    let x = addend(e, x);
                    let sum = s.add(&mut e.b, old, x);
                    store(e, sum, base, off);
                }
            }
        }
        Ok(())
    };
    for &m in &plan.members {
        for operand in e.graph.op(m).operands() {
            read_leaf(e, &mut values, operand);
        }
        let cx = ElementContext {
            graph: e.graph,
            simd: s,
            contract_fma: e.options.contract_fma,
            values: &values,
            inline: &plan.inline,
            constants: &plan.constants,
        };
        let x = lower(&cx, &mut e.b, m)?;
        values[m.index()] = Some(x);
        emit_writes_of(e, &values, row_sums, m)?;
    }
    for &v in &plan.copies {
        read_leaf(e, &mut values, v);
        emit_writes_of(e, &values, row_sums, v)?;
    }
    Ok(())
}
