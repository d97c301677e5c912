//! A training session: the compiled programs of one network and every buffer
//! they read and write. `forward` runs the prologue (and the prepass of
//! time-batched programs), then the forward step for t = 0..T (writing the
//! tape), then the parameter-only loss; `backward` runs the backward step
//! for t = T-1..0 (then the epilogue of time-batched programs),
//! accumulating parameter gradients.
//!
//! Data is handed over batch-major, `(B, T, ...)`, as users hold it, and
//! stored time-major, `(T, B, ...)`, so that each step reads one contiguous
//! row.

use crate::binding::{plan, Plan};
use crate::buffers::Buffers;
use crate::RuntimeError;
use neurojit_compiler::ir::Graph;
use neurojit_compiler::kernel::{Backend, Kernel};
use neurojit_compiler::program::TrainingPrograms;
use std::time::Instant;

/// A program compiled by the session's backend, bound to the session's
/// buffers: its plan was checked against their lengths when it was bound.
struct BoundProgram {
    kernel: Box<dyn Kernel>,
    /// Per parity: the address tables handed to the kernel, holding each
    /// argument's and output's address at step 0 until a call moves the
    /// time-indexed ones.
    tables: [(AddressTable<*const f32>, AddressTable<*mut f32>); 2],
    /// The kernel's working memory, owned here so that JIT kernels run
    /// without taking a lock per call.
    scratch: Vec<f32>,
}

/// An address table handed to the kernel (its arguments or its outputs)
/// for one parity, and the entries that move with the step.
struct AddressTable<P> {
    addresses: Vec<P>,
    /// `(index, address at step 0, stride in floats)` of the time-indexed
    /// entries.
    moving: Vec<(usize, P, usize)>,
}

/// A buffer address that can step over rows.
trait Address: Copy {
    fn plus(self, floats: usize) -> Self;
}

impl Address for *const f32 {
    fn plus(self, floats: usize) -> Self {
        self.wrapping_add(floats)
    }
}

impl Address for *mut f32 {
    fn plus(self, floats: usize) -> Self {
        self.wrapping_add(floats)
    }
}

impl<P: Address> AddressTable<P> {
    /// The table of `(address at step 0, stride)` pairs.
    fn new(entries: impl Iterator<Item = (P, usize)>) -> Self {
        let mut table = AddressTable {
            addresses: Vec::new(),
            moving: Vec::new(),
        };
        for (index, (base, stride)) in entries.enumerate() {
            table.addresses.push(base);
            if stride != 0 {
                table.moving.push((index, base, stride));
            }
        }
        table
    }

    /// Points the time-indexed entries at row `t`.
    fn move_to(&mut self, t: usize) {
        for &(index, base, stride) in &self.moving {
            self.addresses[index] = base.plus(t * stride);
        }
    }
}

// SAFETY: the address tables point into the buffers of the session that owns
// this program (heap memory, which stays put when the session moves) and are
// only used by it.
unsafe impl Send for BoundProgram {}

impl BoundProgram {
    /// Binds a per-step program, or with `all_steps` a program over all
    /// timesteps at once (which reads and writes time-indexed buffers whole).
    fn bind(
        name: &'static str,
        graph: &Graph,
        backend: &dyn Backend,
        buffers: &mut Buffers,
        all_steps: bool,
    ) -> Result<BoundProgram, RuntimeError> {
        let plan = plan(name, graph)?;
        for (source, arg) in plan.sources.iter().zip(graph.args()) {
            expect_buffer(
                name,
                &format!("argument `{}`", arg.name),
                source,
                buffers.source_len(*source, all_steps),
                arg.shape.numel(),
            )?;
        }
        for (sink, out) in plan.sinks.iter().zip(graph.outputs()) {
            expect_buffer(
                name,
                &format!("output `{}`", out.name),
                sink,
                buffers.sink_len(*sink, all_steps),
                graph.shape(out.value).numel(),
            )?;
        }
        check_no_overlap(name, graph, &plan, buffers)?;
        let kernel = backend
            .compile(graph)
            .map_err(|source| RuntimeError::Compile {
                program: name,
                source,
            })?;
        // Taken once: the addresses stay valid for the session's lifetime
        // (see `Buffers`).
        let tables = [0, 1].map(|parity| {
            let args = plan.sources.iter().map(|s| buffers.source_ptr(*s, parity));
            let args = AddressTable::new(args);
            let outs = plan.sinks.iter().map(|s| buffers.sink_ptr(*s, parity));
            (args, AddressTable::new(outs))
        });
        Ok(BoundProgram {
            scratch: vec![0.0; kernel.scratch_len()],
            kernel,
            tables,
        })
    }

    /// Runs the program at step `t`, reading state copy `parity`.
    fn call(&mut self, t: usize, parity: usize) {
        let (args, outs) = &mut self.tables[parity];
        args.move_to(t);
        outs.move_to(t);
        // SAFETY: `bind` checked every source and sink against the length of
        // the buffer it maps to (for a tape entry, the rows its buffer holds
        // from the entry's first row on), and took the addresses, which stay
        // valid (see `Buffers`); buffers are never resized, so each address
        // (row `t < steps` of a time-indexed buffer or tape view) holds
        // exactly the elements the kernel expects. Sources and sinks never share a
        // buffer, nor do two sinks (`plan`, `check_no_overlap`): states and
        // adjoints are read from one copy and written to the other (a state
        // kept in the tape from row `t` of its entry and to row `t + 1`, an
        // adjoint kept in a sequence from row `t + 1` and to row `t`), and
        // no program reads what it writes. The scratch buffer is this program's own.
        unsafe {
            self.kernel.run_unchecked_with_scratch(
                &args.addresses,
                &outs.addresses,
                &mut self.scratch,
            )
        }
    }
}

/// Refuses a program that reads a buffer it writes, or writes one buffer
/// through two outputs (e.g. a lagged tape entry and its leader): kernels
/// are handed its arguments as shared and its outputs as exclusive memory.
fn check_no_overlap(
    name: &'static str,
    graph: &Graph,
    plan: &Plan,
    buffers: &Buffers,
) -> Result<(), RuntimeError> {
    for parity in [0, 1] {
        let sinks: Vec<_> = plan
            .sinks
            .iter()
            .map(|s| buffers.sink_buffer(*s, parity))
            .collect();
        for (j, (sink, out)) in sinks.iter().zip(graph.outputs()).enumerate() {
            if sinks[..j].contains(sink) {
                return Err(RuntimeError::SharedOutput {
                    program: name,
                    output: out.name.clone(),
                });
            }
            let source = plan
                .sources
                .iter()
                .position(|s| buffers.source_buffer(*s, parity) == *sink);
            if let Some(source) = source {
                return Err(RuntimeError::ReadsWhatItWrites {
                    program: name,
                    output: out.name.clone(),
                    argument: graph.args()[source].name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Checks that a program's argument or output (`what`, bound to `binding`)
/// has a buffer, of `len` elements (`None`: the session has none), and that
/// it holds the `expected` elements.
fn expect_buffer(
    program: &'static str,
    what: &str,
    binding: &impl std::fmt::Debug,
    len: Option<usize>,
    expected: usize,
) -> Result<(), RuntimeError> {
    match len {
        Some(len) if len == expected => Ok(()),
        Some(len) => Err(RuntimeError::Length {
            what: format!("the {program} program's {what}"),
            expected,
            got: len,
        }),
        None => Err(RuntimeError::Unbound {
            program,
            what: format!("{what} ({binding:?})"),
        }),
    }
}

/// The loss of the last forward pass, split as the trainer reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossParts {
    /// Sum over time of the per-step loss (e.g. the mse).
    pub task: f32,
    /// The parameter-only loss (e.g. the bound penalty).
    pub penalty: f32,
}

impl LossParts {
    pub fn total(&self) -> f32 {
        self.task + self.penalty
    }
}

/// The compiled training programs of one network and their buffers.
pub struct Session {
    programs: TrainingPrograms,
    prologue: BoundProgram,
    /// Programs over all timesteps, when the programs are time-batched.
    prepass: Option<BoundProgram>,
    forward: BoundProgram,
    backward: BoundProgram,
    epilogue: Option<BoundProgram>,
    param_loss: BoundProgram,
    compile_seconds: f64,
    pub(crate) buffers: Buffers,
    last_loss: LossParts,
}

impl Session {
    /// Compiles the programs with `backend`, for `steps` timesteps (the
    /// prepass and epilogue only when they are not empty).
    pub fn new(
        programs: TrainingPrograms,
        backend: &dyn Backend,
        steps: usize,
    ) -> Result<Session, RuntimeError> {
        if steps == 0 {
            return Err(RuntimeError::Length {
                what: "timesteps".into(),
                expected: 1,
                got: 0,
            });
        }
        crate::buffers::check_slot_numbering(&programs)?;
        crate::buffers::check_buffer_sizes(&programs, steps)?;
        crate::buffers::check_shared_rows(&programs)?;
        let mut buffers = Buffers::new(&programs, steps);
        let started = Instant::now();
        let mut bind = |name, graph: &Graph, all_steps| {
            BoundProgram::bind(name, graph, backend, &mut buffers, all_steps)
        };
        let prologue = bind("prologue", &programs.prologue, false)?;
        // Programs over all timesteps exist only when time-batched.
        let prepass = (!programs.prepass.outputs().is_empty())
            .then(|| bind("prepass", &programs.prepass, true))
            .transpose()?;
        let forward = bind("forward", &programs.forward, false)?;
        let backward = bind("backward", &programs.backward, false)?;
        let epilogue = (!programs.epilogue.outputs().is_empty())
            .then(|| bind("epilogue", &programs.epilogue, true))
            .transpose()?;
        let param_loss = bind("param_loss", &programs.param_loss, false)?;
        Ok(Session {
            compile_seconds: started.elapsed().as_secs_f64(),
            programs,
            prologue,
            prepass,
            forward,
            backward,
            epilogue,
            param_loss,
            buffers,
            last_loss: LossParts::default(),
        })
    }

    pub fn programs(&self) -> &TrainingPrograms {
        &self.programs
    }

    pub fn steps(&self) -> usize {
        self.buffers.steps
    }

    /// Seconds the backend took to compile the programs.
    pub fn compile_seconds(&self) -> f64 {
        self.compile_seconds
    }

    pub fn params(&self) -> &[Vec<f32>] {
        &self.buffers.params
    }

    /// Every parameter's gradient from the last `forward` + `backward`, by
    /// slot.
    pub fn grads(&self) -> &[Vec<f32>] {
        &self.buffers.grads
    }

    /// Each parameter's gradient, writable in place (never replaced: the
    /// programs hold their addresses).
    pub(crate) fn grads_mut(&mut self) -> impl Iterator<Item = &mut [f32]> {
        self.buffers.grads.iter_mut().map(Vec::as_mut_slice)
    }

    /// The gradient of parameter `slot` from the last `forward` +
    /// `backward`; `None` when there is no such slot.
    pub fn grad(&self, slot: usize) -> Option<&[f32]> {
        self.buffers.grads.get(slot).map(Vec::as_slice)
    }

    pub fn set_param(&mut self, slot: usize, values: &[f32]) -> Result<(), RuntimeError> {
        let info = self
            .programs
            .params
            .get(slot)
            .ok_or_else(|| RuntimeError::UnknownParam(format!("#{slot}")))?;
        let buffer = &mut self.buffers.params[slot];
        if values.len() != buffer.len() {
            return Err(RuntimeError::Length {
                what: format!("parameter {}", info.name),
                expected: buffer.len(),
                got: values.len(),
            });
        }
        buffer.copy_from_slice(values);
        Ok(())
    }

    /// Sets a parameter by its name (module path).
    pub fn set_param_named(&mut self, name: &str, values: &[f32]) -> Result<(), RuntimeError> {
        let slot = self
            .programs
            .params
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| RuntimeError::UnknownParam(name.to_string()))?;
        self.set_param(slot, values)
    }

    /// Sets inputs `(B, T, ...)` and targets `(B, T, ...)`, batch-major.
    pub fn set_data(&mut self, inputs: &[f32], targets: &[f32]) -> Result<(), RuntimeError> {
        let steps = self.steps();
        let batch = batch_of(&self.programs.input);
        to_time_major(inputs, &mut self.buffers.inputs[0], batch, steps, "inputs")?;
        to_time_major(targets, &mut self.buffers.targets, batch, steps, "targets")
    }

    /// Sets the extra input `slot` (1 and up, e.g. noise), batch-major.
    pub fn set_extra_input(&mut self, slot: usize, values: &[f32]) -> Result<(), RuntimeError> {
        let steps = self.steps();
        let batch = batch_of(&self.programs.input);
        let buffer = self
            .buffers
            .inputs
            .get_mut(slot)
            .filter(|_| slot > 0)
            .ok_or_else(|| RuntimeError::Unbound {
                program: "forward",
                what: format!("input #{slot}"),
            })?;
        to_time_major(values, buffer, batch, steps, "extra input")
    }

    /// Number of input slots (1 plus extra inputs such as noise).
    pub fn input_count(&self) -> usize {
        self.buffers.inputs.len()
    }

    /// Runs the network over all timesteps from zero state, storing the tape,
    /// predictions and records. Returns the loss. Also zeroes the gradients
    /// and adds the parameter-only loss's gradient to them, ready for
    /// `backward`.
    pub fn forward(&mut self) -> Result<LossParts, RuntimeError> {
        let b = &mut self.buffers;
        b.states[0].iter_mut().for_each(|s| s.fill(0.0));
        b.start_tape_rows(&self.programs.tape_lags);
        b.grads.iter_mut().for_each(|g| g.fill(0.0));
        // A step without a loss output leaves its row at zero.
        b.losses.fill(0.0);
        self.prologue.call(0, 0);
        if let Some(prepass) = &mut self.prepass {
            prepass.call(0, 0);
        }
        for t in 0..b.steps {
            self.forward.call(t, t % 2);
        }
        let task: f64 = b.losses.iter().map(|&loss| loss as f64).sum();
        // The parameter-only loss reuses row 0 (left at zero when there is
        // no such loss).
        b.losses[0] = 0.0;
        self.param_loss.call(0, 0);
        let penalty = b.losses[0];
        self.last_loss = LossParts {
            task: task as f32,
            penalty,
        };
        Ok(self.last_loss)
    }

    /// Back-propagates through time from the last `forward`, adding every
    /// step's parameter-gradient contribution to `grads`.
    pub fn backward(&mut self) -> Result<(), RuntimeError> {
        let b = &mut self.buffers;
        b.adjoints[0].iter_mut().for_each(|a| a.fill(0.0));
        for (k, t) in (0..b.steps).rev().enumerate() {
            self.backward.call(t, k % 2);
        }
        if let Some(epilogue) = &mut self.epilogue {
            epilogue.call(0, 0);
        }
        Ok(())
    }

    pub fn last_loss(&self) -> LossParts {
        self.last_loss
    }

    /// The predictions of the last forward pass, batch-major `(B, T, ...)`.
    pub fn predictions(&self) -> Vec<f32> {
        let batch = batch_of(&self.programs.prediction);
        to_batch_major(&self.buffers.predictions, batch, self.steps())
    }

    /// Record `slot` of the last forward pass, batch-major `(B, T, ...)`.
    pub fn record(&self, slot: usize) -> Option<Vec<f32>> {
        let info = self.programs.records.get(slot)?;
        let batch = batch_of(&info.shape);
        Some(to_batch_major(
            &self.buffers.records[slot],
            batch,
            self.steps(),
        ))
    }

    /// The record named `name`, batch-major.
    pub fn record_named(&self, name: &str) -> Option<Vec<f32>> {
        let slot = self.programs.records.iter().position(|s| s.name == name)?;
        self.record(slot)
    }

    /// The state at the end of the last forward pass, by slot.
    pub fn final_state(&self) -> Vec<Vec<f32>> {
        self.buffers.final_states()
    }
}

/// The batch size of a per-step value: its leading dimension (1 for scalars).
fn batch_of(shape: &neurojit_compiler::ir::Shape) -> usize {
    shape.dims().first().copied().unwrap_or(1)
}

/// `(B, T, n)` → `(T, B, n)`.
fn to_time_major(
    src: &[f32],
    dst: &mut [f32],
    batch: usize,
    steps: usize,
    what: &str,
) -> Result<(), RuntimeError> {
    if src.len() != dst.len() {
        return Err(RuntimeError::Length {
            what: what.to_string(),
            expected: dst.len(),
            got: src.len(),
        });
    }
    let n = dst.len() / (batch * steps).max(1);
    for b in 0..batch {
        for t in 0..steps {
            let from = (b * steps + t) * n;
            let to = (t * batch + b) * n;
            dst[to..to + n].copy_from_slice(&src[from..from + n]);
        }
    }
    Ok(())
}

/// `(T, B, n)` → `(B, T, n)`.
fn to_batch_major(src: &[f32], batch: usize, steps: usize) -> Vec<f32> {
    let mut dst = vec![0.0; src.len()];
    let n = src.len() / (batch * steps).max(1);
    for b in 0..batch {
        for t in 0..steps {
            let from = (t * batch + b) * n;
            let to = (b * steps + t) * n;
            dst[to..to + n].copy_from_slice(&src[from..from + n]);
        }
    }
    dst
}
