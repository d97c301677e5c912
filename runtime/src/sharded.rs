//! Data parallelism: the batch is split across threads, each shard a full
//! [`Session`] with its own state and tape, running the same compiled
//! kernels (the JIT's cache makes the extra shards free to compile).
//!
//! Each shard's loss is normalised by its own batch, so the full-batch loss
//! and gradient are the means over shards. Parameters live in every shard;
//! shard 0 is the primary that the optimiser updates, and
//! [`ShardedSession::sync_params`] copies its parameters to the others.

use crate::{LossParts, RuntimeError, Session};
use neurojit_compiler::kernel::Backend;
use neurojit_compiler::program::TrainingPrograms;
use rayon::prelude::*;

/// The most threads (shards) a session may have: far more than any
/// machine's cores, and each shard holds a copy of every buffer.
pub const MAX_THREADS: usize = 1024;

pub struct ShardedSession {
    shards: Vec<Session>,
    pool: Option<rayon::ThreadPool>,
    /// Batch size of one shard.
    shard_batch: usize,
}

impl ShardedSession {
    /// `programs` must be traced for one shard's batch (`batch / threads`).
    pub fn new(
        programs: TrainingPrograms,
        backend: &dyn Backend,
        steps: usize,
        threads: usize,
    ) -> Result<ShardedSession, RuntimeError> {
        let threads = threads.max(1);
        if threads > MAX_THREADS {
            return Err(RuntimeError::Threads(format!(
                "{threads} threads: expected at most {MAX_THREADS} (each holds a copy of every buffer)"
            )));
        }
        let shard_batch = programs.input.dims().first().copied().unwrap_or(1);
        let mut shards = Vec::with_capacity(threads);
        for _ in 0..threads {
            shards.push(Session::new(programs.clone(), backend, steps)?);
        }
        let pool = if threads > 1 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|e| RuntimeError::Threads(e.to_string()))?,
            )
        } else {
            None
        };
        Ok(ShardedSession {
            shards,
            pool,
            shard_batch,
        })
    }

    pub fn threads(&self) -> usize {
        self.shards.len()
    }

    /// The shard the optimiser updates; its gradients are the full-batch
    /// means after [`ShardedSession::forward_backward`].
    pub fn primary(&self) -> &Session {
        &self.shards[0]
    }

    pub fn primary_mut(&mut self) -> &mut Session {
        &mut self.shards[0]
    }

    /// Seconds spent compiling, summed over the shards (the first compiles;
    /// with the JIT the others find its kernels in the cache).
    pub fn compile_seconds(&self) -> f64 {
        self.shards.iter().map(Session::compile_seconds).sum()
    }

    pub fn set_param(&mut self, slot: usize, values: &[f32]) -> Result<(), RuntimeError> {
        for shard in &mut self.shards {
            shard.set_param(slot, values)?;
        }
        Ok(())
    }

    /// Copies the primary's parameters to every other shard.
    pub fn sync_params(&mut self) -> Result<(), RuntimeError> {
        let (primary, rest) = self.shards.split_at_mut(1);
        for shard in rest {
            for (slot, values) in primary[0].params().iter().enumerate() {
                shard.set_param(slot, values)?;
            }
        }
        Ok(())
    }

    /// Splits batch-major `(B, T, ...)` data into the shards.
    pub fn set_data(&mut self, inputs: &[f32], targets: &[f32]) -> Result<(), RuntimeError> {
        self.expect_even_split(inputs, "inputs")?;
        self.expect_even_split(targets, "targets")?;
        let n = self.shards.len();
        let (ib, tb) = (inputs.len() / n, targets.len() / n);
        for (i, shard) in self.shards.iter_mut().enumerate() {
            shard.set_data(
                &inputs[i * ib..(i + 1) * ib],
                &targets[i * tb..(i + 1) * tb],
            )?;
        }
        Ok(())
    }

    /// Splits a batch-major extra input (e.g. noise) into the shards.
    pub fn set_extra_input(&mut self, slot: usize, values: &[f32]) -> Result<(), RuntimeError> {
        self.expect_even_split(values, "extra input")?;
        let part = values.len() / self.shards.len();
        for (i, shard) in self.shards.iter_mut().enumerate() {
            shard.set_extra_input(slot, &values[i * part..(i + 1) * part])?;
        }
        Ok(())
    }

    /// Checks that `values` split into equal parts, one per shard.
    fn expect_even_split(&self, values: &[f32], what: &str) -> Result<(), RuntimeError> {
        if !values.len().is_multiple_of(self.shards.len()) {
            return Err(RuntimeError::Length {
                what: format!("{what} (split across {} threads)", self.shards.len()),
                expected: values.len() - values.len() % self.shards.len(),
                got: values.len(),
            });
        }
        Ok(())
    }

    /// Runs `work` on every shard, in parallel when there are several.
    fn on_all<T: Send>(
        &mut self,
        work: impl Fn(&mut Session) -> Result<T, RuntimeError> + Sync + Send,
    ) -> Result<Vec<T>, RuntimeError> {
        match &self.pool {
            None => self.shards.iter_mut().map(work).collect(),
            Some(pool) => {
                let shards = &mut self.shards;
                pool.install(|| shards.par_iter_mut().map(work).collect())
            }
        }
    }

    /// Forward pass on every shard; the full-batch loss.
    pub fn forward(&mut self) -> Result<LossParts, RuntimeError> {
        let losses = self.on_all(|s| s.forward())?;
        Ok(mean_loss(&losses))
    }

    /// Forward and backward on every shard, then the shards' gradients
    /// averaged into the primary.
    pub fn forward_backward(&mut self) -> Result<LossParts, RuntimeError> {
        let losses = self.on_all(|s| {
            let loss = s.forward()?;
            s.backward()?;
            Ok(loss)
        })?;
        if self.shards.len() > 1 {
            let scale = 1.0 / self.shards.len() as f32;
            let (primary, rest) = self.shards.split_at_mut(1);
            for (slot, g) in primary[0].grads_mut().enumerate() {
                for shard in rest.iter() {
                    // Shards run the same programs: every slot is there.
                    let theirs = shard.grads()[slot].iter();
                    g.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
                }
                g.iter_mut().for_each(|x| *x *= scale);
            }
        }
        Ok(mean_loss(&losses))
    }

    /// Predictions of all shards, batch-major `(B, T, ...)`.
    pub fn predictions(&self) -> Vec<f32> {
        self.shards.iter().flat_map(|s| s.predictions()).collect()
    }

    /// Record `name` of all shards, batch-major, if every shard has it.
    pub fn record_named(&self, name: &str) -> Option<Vec<f32>> {
        let mut all = Vec::new();
        for s in &self.shards {
            all.extend(s.record_named(name)?);
        }
        Some(all)
    }

    pub fn shard_batch(&self) -> usize {
        self.shard_batch
    }
}

fn mean_loss(losses: &[LossParts]) -> LossParts {
    let n = losses.len().max(1) as f32;
    LossParts {
        task: losses.iter().map(|l| l.task).sum::<f32>() / n,
        penalty: losses.first().map(|l| l.penalty).unwrap_or(0.0),
    }
}
