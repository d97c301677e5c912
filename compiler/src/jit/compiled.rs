//! The `Kernel` the JIT hands out: shared machine code plus this kernel's
//! own scratch buffer.
//!
//! A call checks buffer counts and lengths (against lengths computed at
//! compile time; on a mismatch `kernel::check_buffers` names the culprit),
//! builds the two pointer tables on the stack and jumps into the code.
//! Scratch memory (for intermediate values) comes from one of two places:
//! - `run_unchecked_with_scratch`: memory the caller owns, with no lock (the
//!   runtime's sessions give each program its own);
//! - `run` and `run_unchecked`: the kernel's buffer, allocated at the first
//!   such call and guarded by a mutex; a call that finds it taken (another
//!   thread running the same kernel) uses a temporary buffer instead of
//!   waiting.
//!
//! The code never reads scratch memory it has not written in the same call,
//! so buffers need no clearing.

use super::module::CompiledCode;
use crate::ir::Graph;
use crate::kernel::{check_buffers, Kernel, KernelError};
use smallvec::SmallVec;
use std::sync::{Arc, Mutex};

pub struct JitKernel {
    graph: Graph,
    /// Element counts of the argument and output buffers.
    arg_lens: Box<[usize]>,
    output_lens: Box<[usize]>,
    code: Arc<CompiledCode>,
    scratch: Mutex<Vec<f32>>,
}

impl JitKernel {
    pub(crate) fn new(graph: Graph, code: Arc<CompiledCode>) -> JitKernel {
        let scratch = Mutex::new(Vec::new());
        let arg_lens = graph.args().iter().map(|a| a.shape.numel()).collect();
        let output_lens = graph
            .outputs()
            .iter()
            .map(|o| graph.shape(o.value).numel())
            .collect();
        JitKernel {
            graph,
            arg_lens,
            output_lens,
            code,
            scratch,
        }
    }

    /// The buffer checks of `kernel::check_buffers`, on precomputed lengths.
    fn buffers_fit(&self, args: &[&[f32]], outputs: &[&mut [f32]]) -> bool {
        args.len() == self.arg_lens.len()
            && outputs.len() == self.output_lens.len()
            && args
                .iter()
                .zip(self.arg_lens.iter())
                .all(|(a, &n)| a.len() == n)
            && outputs
                .iter()
                .zip(self.output_lens.iter())
                .all(|(o, &n)| o.len() == n)
    }

    /// Address of the machine code (kernels compiled from identical graphs
    /// share it).
    pub fn code_address(&self) -> usize {
        self.code.entry() as usize
    }

    /// Runs `call` on scratch memory of `scratch_len` floats: the kernel's
    /// own buffer (allocated on first use), or a temporary one while
    /// another thread holds it.
    fn with_scratch(&self, call: impl FnOnce(*mut f32)) {
        let len = self.code.scratch_len;
        if len == 0 {
            return call(std::ptr::null_mut());
        }
        match self.scratch.try_lock() {
            Ok(mut scratch) => {
                if scratch.len() < len {
                    scratch.resize(len, 0.0);
                }
                call(scratch.as_mut_ptr())
            }
            Err(_) => call(vec![0.0f32; len].as_mut_ptr()),
        }
    }
}

impl Kernel for JitKernel {
    fn run(&self, args: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<(), KernelError> {
        if !self.buffers_fit(args, outputs) {
            // Same conditions: this returns the error that names the buffer.
            check_buffers(&self.graph, args, outputs)?;
        }
        let arg_table: SmallVec<[*const f32; 16]> = args.iter().map(|a| a.as_ptr()).collect();
        let output_table: SmallVec<[*mut f32; 16]> =
            outputs.iter_mut().map(|o| o.as_mut_ptr()).collect();
        let entry = self.code.entry();
        let call = |scratch: *mut f32| {
            // SAFETY: `buffers_fit` verified that every table entry points
            // to a buffer of exactly the length the code was compiled for,
            // outputs are distinct `&mut` slices, and `scratch` holds
            // `scratch_len` floats used by this call only.
            unsafe { entry(arg_table.as_ptr(), output_table.as_ptr(), scratch) }
        };
        self.with_scratch(call);
        Ok(())
    }

    fn scratch_len(&self) -> usize {
        self.code.scratch_len
    }

    unsafe fn run_unchecked_with_scratch(
        &self,
        args: &[*const f32],
        outputs: &[*mut f32],
        scratch: &mut [f32],
    ) {
        debug_assert_eq!(args.len(), self.arg_lens.len());
        debug_assert_eq!(outputs.len(), self.output_lens.len());
        assert!(scratch.len() >= self.code.scratch_len, "scratch too short");
        let entry = self.code.entry();
        // SAFETY: the caller guarantees the tables and the scratch buffer.
        unsafe { entry(args.as_ptr(), outputs.as_ptr(), scratch.as_mut_ptr()) };
    }

    unsafe fn run_unchecked(&self, args: &[*const f32], outputs: &[*mut f32]) {
        debug_assert_eq!(args.len(), self.arg_lens.len());
        debug_assert_eq!(outputs.len(), self.output_lens.len());
        let entry = self.code.entry();
        // SAFETY: the caller guarantees the tables (see `Kernel`); the
        // scratch buffer is this call's alone.
        self.with_scratch(|scratch| unsafe { entry(args.as_ptr(), outputs.as_ptr(), scratch) });
    }
}
