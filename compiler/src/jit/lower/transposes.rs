//! Codegen for transpose steps: `dst[j, i] = src[i, j]` with scalar loops.
//!
//! Transposes typically come from `program::pretranspose`, which gives
//! products with a transposed weight a transposed copy made once per call of
//! the prologue, so their cost is one pass over a weight matrix per training
//! step; scalar loops are enough for that.

use super::loops::counted_loop;
use super::simd::element_flags;
use super::Emitter;
use crate::ir::{Op, Value};
use crate::kernel::CompileError;
use cranelift_codegen::ir::types::F32;
use cranelift_codegen::ir::InstBuilder;

pub(crate) fn emit(e: &mut Emitter, value: Value) -> Result<(), CompileError> {
    let Op::Transpose(operand) = *e.graph.op(value) else {
        return Err(CompileError::Codegen(format!(
            "`{}` was scheduled as a transpose",
            e.graph.describe(value)
        )));
    };
    let dims = e.graph.shape(operand).dims().to_vec();
    let (rows, cols) = (dims[0], dims[1]);
    if rows * cols == 0 {
        return Ok(());
    }
    let (src, dst) = (e.home(operand)?, e.home(value)?);
    let (src, dst) = (e.base(src), e.base(dst));
    counted_loop(e, rows, |e, i| {
        // Row `i` of the source, and column `i` of the destination.
        let src_row = e.b.ins().imul_imm_s(i, (4 * cols) as i64);
        let src_row = e.b.ins().iadd(src, src_row);
        let dst_column = e.b.ins().imul_imm_s(i, 4);
        let dst_column = e.b.ins().iadd(dst, dst_column);
        counted_loop(e, cols, |e, j| {
            let from = e.b.ins().imul_imm_s(j, 4);
            let from = e.b.ins().iadd(src_row, from);
            let x = e.b.ins().load(F32, element_flags(), from, 0);
            let to = e.b.ins().imul_imm_s(j, (4 * rows) as i64);
            let to = e.b.ins().iadd(dst_column, to);
            e.b.ins().store(element_flags(), x, to, 0);
            Ok(())
        })
    })
}
