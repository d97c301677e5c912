//! Vector constants, kept in stack slots in kernels that call out.
//!
//! Cranelift merges equal constants across the whole function and keeps the
//! merged value in a register from its first use on. A kernel that calls
//! matmul routines between its loops loses every vector register at each
//! call, so a constant two loops shared was spilled, reloaded in the later
//! loop, and written back to the stack on every iteration of it. In such a
//! kernel each constant is stored once, at the top, into its own 16-byte
//! stack slot, and every use loads it from there: one load from the stack
//! per use, which no call disturbs and which holds no register between
//! uses. A kernel without calls keeps Cranelift's merged constants (there
//! the stores at every call would only add work: tiny per-step kernels).

use super::simd::LANES;
use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::types::{I32X4, I64};
use cranelift_codegen::ir::{
    Function, InstBuilder, MemFlagsData, StackSlot, StackSlotData, StackSlotKind, Type, Value,
};
use cranelift_frontend::FunctionBuilder;
use std::cell::RefCell;

/// Bytes of one 128-bit vector, and their alignment as a power of two.
const VECTOR_BYTES: u32 = 16;
const VECTOR_ALIGN_SHIFT: u8 = 4;

/// The bit patterns of a vector's 32-bit lanes, lane 0 first.
pub(crate) type Lanes = [u32; LANES];

/// The constants one kernel uses, by the bit patterns of their lanes. A
/// slot holds raw bytes, loaded as whichever four-lane type the use needs.
pub(crate) struct VectorConstants {
    /// Whether constants live in stack slots (the kernel calls out).
    in_stack: bool,
    slots: RefCell<Vec<(Lanes, StackSlot)>>,
}

impl VectorConstants {
    pub fn new(in_stack: bool) -> VectorConstants {
        VectorConstants {
            in_stack,
            slots: RefCell::new(Vec::new()),
        }
    }

    /// A vector of type `ty` (four 32-bit lanes) with lanes `bits`, at the
    /// builder's position.
    pub fn get(&self, b: &mut FunctionBuilder, ty: Type, bits: Lanes) -> Value {
        if !self.in_stack {
            let constant = b.func.dfg.constants.insert(bytes(bits).into());
            return b.ins().vconst(ty, constant);
        }
        let slot = self.slot(b, bits);
        let address = b.ins().stack_addr(I64, slot, 0);
        b.ins().load(ty, MemFlagsData::trusted(), address, 0)
    }

    fn slot(&self, b: &mut FunctionBuilder, bits: Lanes) -> StackSlot {
        let mut slots = self.slots.borrow_mut();
        if let Some(&(_, slot)) = slots.iter().find(|&&(known, _)| known == bits) {
            return slot;
        }
        let data = StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            VECTOR_BYTES,
            VECTOR_ALIGN_SHIFT,
        );
        let slot = b.create_sized_stack_slot(data);
        slots.push((bits, slot));
        slot
    }

    /// Fills every slot at the top of the entry block of the finished
    /// function, before any load can read it.
    pub fn store_all(&self, func: &mut Function) {
        let Some(entry) = func.layout.entry_block() else {
            return;
        };
        let mut pos = FuncCursor::new(func).at_first_insertion_point(entry);
        for &(bits, slot) in self.slots.borrow().iter() {
            let constant = pos.func.dfg.constants.insert(bytes(bits).into());
            let value = pos.ins().vconst(I32X4, constant);
            let address = pos.ins().stack_addr(I64, slot, 0);
            pos.ins().store(MemFlagsData::trusted(), value, address, 0);
        }
    }
}

/// The 16 bytes of a vector with 32-bit lanes `bits`, lane 0 first.
fn bytes(bits: Lanes) -> Vec<u8> {
    bits.iter().flat_map(|lane| lane.to_le_bytes()).collect()
}
