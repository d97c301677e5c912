//! Codegen for matmul steps: straight-line code for tiny products, a call
//! to `neurojit_matmul` (see `matmul/entry.rs`) with a descriptor fixed at
//! compile time for the others.
//!
//! Products of at most `JitOptions::inline_matmul` multiply-adds (a
//! batch-1 network's per-timestep products, 1x3 @ 3x3) are emitted inline,
//! each element summed in the interpreter's order, so they cost no call and
//! match the interpreter bit for bit. For the others the methods come from
//! the options: the blocked kernels unless `JitOptions::exact_matmul` asks
//! for the interpreter's order or the product reaches
//! `JitOptions::packed_gemm_from`; with `JitOptions::sparse_spikes`, every
//! product checks at each call whether its left operand is mostly zeros
//! (spike trains often are, whether they come from a spike op or arrive as
//! a state or tape argument, but not always).

use super::simd::element_flags;
use super::Emitter;
use crate::ir::{Graph, Op, Value};
use crate::jit::matmul::{DenseMethod, MatmulDesc, ZeroSkipping};
use crate::jit::JitOptions;
use crate::kernel::CompileError;
use cranelift_codegen::ir::types::F32;
use cranelift_codegen::ir::{InstBuilder, Value as ClifValue};
use cranelift_frontend::FunctionBuilder;

/// Emits matmul step `v`: straight-line code for an `Inline` product, a
/// call of the matmul routine for the others.
pub(super) fn emit(e: &mut Emitter, v: Value, accumulate: bool) -> Result<(), CompileError> {
    let Op::Matmul { lhs, rhs, .. } = *e.graph.op(v) else {
        return Err(CompileError::Codegen(format!(
            "`{}` was scheduled as a matmul",
            e.graph.describe(v)
        )));
    };
    let desc = describe(e.graph, v, accumulate, e.options)
        .ok_or_else(|| CompileError::Codegen(format!("no matmul descriptor for %{}", v.0)))?;
    let (a, b, c) = (e.home(lhs)?, e.home(rhs)?, e.home(v)?);
    let (a, b, c) = (e.base(a), e.base(b), e.base(c));
    if desc.dense == DenseMethod::Inline {
        emit_inline(&mut e.b, &desc, (a, b, c));
    } else {
        e.call_matmul(desc, (a, b, c));
    }
    Ok(())
}

/// The descriptor for matmul node `v`, writing (or adding into) its result.
pub(crate) fn describe(
    graph: &Graph,
    v: Value,
    accumulate: bool,
    options: &JitOptions,
) -> Option<MatmulDesc> {
    let Op::Matmul {
        lhs,
        rhs: _,
        transpose_lhs,
        transpose_rhs,
    } = *graph.op(v)
    else {
        return None;
    };
    let (m, n) = (graph.shape(v).dims()[0], graph.shape(v).dims()[1]);
    let lhs_dims = graph.shape(lhs).dims();
    let k = if transpose_lhs {
        lhs_dims[0]
    } else {
        lhs_dims[1]
    };
    let work = m.saturating_mul(k).saturating_mul(n);
    // Straight-line code loads both operands and stores the result whole.
    let elements = [
        m.saturating_mul(k),
        k.saturating_mul(n),
        m.saturating_mul(n),
    ];
    let small =
        work <= options.inline_matmul && elements.iter().all(|&e| e <= options.inline_matmul);
    let dense = if small {
        DenseMethod::Inline
    } else if options.exact_matmul {
        DenseMethod::Exact
    } else if work >= options.packed_gemm_from {
        DenseMethod::Gemm
    } else {
        DenseMethod::Blocked
    };
    let zeros = if options.sparse_spikes {
        ZeroSkipping::WhenSparse
    } else {
        ZeroSkipping::Never
    };
    Some(MatmulDesc {
        m,
        k,
        n,
        transpose_lhs,
        transpose_rhs,
        accumulate,
        dense,
        zeros,
    })
}

/// Emits `c = op(a) @ op(b)` (or `c += ...`) as straight-line scalar code
/// reading the buffers at `a`, `b` and `c`: every operand is loaded once,
/// then each element of `c` is `0 + a[i, 0] * b[0, j] + a[i, 1] * b[1, j] +
/// ...` in ascending order, each product rounded, as the interpreter sums.
pub(crate) fn emit_inline(
    b: &mut FunctionBuilder,
    d: &MatmulDesc,
    (a_base, b_base, c_base): (ClifValue, ClifValue, ClifValue),
) {
    let (m, k, n) = (d.m, d.k, d.n);
    let mut load = |base: ClifValue, index: usize| {
        b.ins().load(F32, element_flags(), base, (4 * index) as i32)
    };
    // Element (i, p) of op(a), and (p, j) of op(b).
    let lhs: Vec<ClifValue> = (0..m * k)
        .map(|ip| {
            let (i, p) = (ip / k, ip % k);
            load(
                a_base,
                if d.transpose_lhs {
                    p * m + i
                } else {
                    i * k + p
                },
            )
        })
        .collect();
    let rhs: Vec<ClifValue> = (0..k * n)
        .map(|pj| {
            let (p, j) = (pj / n, pj % n);
            load(
                b_base,
                if d.transpose_rhs {
                    j * k + p
                } else {
                    p * n + j
                },
            )
        })
        .collect();
    for i in 0..m {
        for j in 0..n {
            let mut sum = b.ins().f32const(0.0);
            for p in 0..k {
                let product = b.ins().fmul(lhs[i * k + p], rhs[p * n + j]);
                sum = b.ins().fadd(sum, product);
            }
            let offset = (4 * (i * n + j)) as i32;
            if d.accumulate {
                let old = b.ins().load(F32, element_flags(), c_base, offset);
                sum = b.ins().fadd(old, sum);
            }
            b.ins().store(element_flags(), sum, c_base, offset);
        }
    }
}
