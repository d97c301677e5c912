//! Moving training state in and out of checkpoints, and turning a batch's
//! targets into what the step program reads.

use anyhow::{bail, Context, Result};
use neurojit::checkpoint::{check_matches, Checkpoint, NamedTensor, OptimizerState};
use neurojit::data::Batch;
use neurojit::run_dir::RunDir;
use neurojit::train::Trainer;
use neurojit::tree::Path;

/// Moment slot names of optimisers with per-parameter state (Adam's
/// moment `2p` is `m`, `2p + 1` is `v`).
const MOMENT_NAMES: [&str; 2] = ["m", "v"];

/// The trainer's parameters and optimiser state after `epoch` epochs.
pub fn checkpoint_of(trainer: &Trainer, epoch: u64, best_loss: f64) -> Checkpoint {
    let slots = trainer.param_slots();
    let params: Vec<NamedTensor> = slots
        .iter()
        .zip(trainer.params())
        .map(|(s, data)| NamedTensor {
            path: s.name.clone(),
            shape: s.shape.dims().to_vec(),
            data: data.clone(),
        })
        .collect();
    let (moments, step) = trainer.optimizer_state();
    let per_param = if slots.is_empty() {
        0
    } else {
        moments.len() / slots.len()
    };
    let optimizer = OptimizerState {
        kind: trainer.optimizer_kind().to_string(),
        step,
        slots: (0..per_param)
            .map(|k| {
                let tensors = slots
                    .iter()
                    .enumerate()
                    .map(|(p, s)| NamedTensor {
                        path: s.name.clone(),
                        shape: s.shape.dims().to_vec(),
                        data: moments[per_param * p + k].clone(),
                    })
                    .collect();
                (MOMENT_NAMES[k].to_string(), tensors)
            })
            .collect(),
    };
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("best_loss".to_string(), best_loss.to_string());
    Checkpoint {
        params,
        optimizer: Some(optimizer),
        epoch,
        meta,
    }
}

/// Loads a checkpoint into the trainer; errors name the first path that
/// does not fit the network.
pub fn restore_checkpoint(
    trainer: &mut Trainer,
    checkpoint: &Checkpoint,
    run: &RunDir,
) -> Result<()> {
    let expected: Vec<(String, Vec<usize>)> = trainer
        .param_slots()
        .iter()
        .map(|s| (s.name.clone(), s.shape.dims().to_vec()))
        .collect();
    let file = run
        .checkpoint_path(neurojit::run_dir::CheckpointKind::Latest)
        .display()
        .to_string();
    check_matches(checkpoint, &expected, &file)?;
    for tensor in &checkpoint.params {
        // Training only saves finite parameters: anything else is damage,
        // named here rather than as a non-finite gradient at the first step.
        if let Some((i, x)) = tensor.data.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            bail!(
                "{file}: parameter `{}` holds {x} at element {i}: expected finite values",
                tensor.path
            );
        }
        trainer.set_param(&Path::parse(&tensor.path), &tensor.data)?;
    }
    if let Some(opt) = &checkpoint.optimizer {
        let kind = trainer.optimizer_kind();
        if opt.kind != kind {
            bail!(
                "{file}: the optimiser state is `{}`'s, but the spec's optimiser is `{kind}`: \
                 expected the same optimiser to resume",
                opt.kind
            );
        }
        let moments = moments_in_slot_order(trainer, opt, &file)?;
        trainer
            .restore_optimizer_state(moments, opt.step)
            .with_context(|| format!("{file}: the optimiser state does not fit the optimiser"))?;
    }
    Ok(())
}

/// The checkpoint's optimiser tensors in the trainer's moment order (moment
/// `per_param * p + k` is slot `MOMENT_NAMES[k]` of parameter `p`), found by
/// slot name and parameter path: a checkpoint may list them in any order.
fn moments_in_slot_order(
    trainer: &Trainer,
    opt: &OptimizerState,
    file: &str,
) -> Result<Vec<Vec<f32>>> {
    let Some(names) = MOMENT_NAMES.get(..opt.slots.len()) else {
        bail!(
            "{file}: {} optimiser slots; expected at most {} ({})",
            opt.slots.len(),
            MOMENT_NAMES.len(),
            MOMENT_NAMES.join(", ")
        );
    };
    let mut moments = Vec::with_capacity(trainer.param_slots().len() * names.len());
    for param in trainer.param_slots() {
        for name in names {
            let Some((_, tensors)) = opt.slots.iter().find(|(n, _)| n == name) else {
                bail!("{file}: expected an optimiser slot `{name}`");
            };
            let Some(tensor) = tensors.iter().find(|t| t.path == param.name) else {
                bail!(
                    "{file}: optimiser slot `{name}` has no tensor for `{}`",
                    param.name
                );
            };
            moments.push(tensor.data.clone());
        }
    }
    Ok(moments)
}

/// Targets `(B, T, n_out)` for a batch: the signal itself, or one-hot
/// labels repeated at every step (for the cross-entropy loss).
pub fn targets_for(batch: &Batch, n_out: usize, steps: usize) -> Result<Vec<f32>> {
    if let Some(targets) = &batch.targets {
        return Ok(targets.clone());
    }
    let Some(labels) = &batch.labels else {
        bail!("the data has neither targets nor labels");
    };
    let mut one_hot = vec![0.0; labels.len() * steps * n_out];
    for (b, &label) in labels.iter().enumerate() {
        for t in 0..steps {
            one_hot[(b * steps + t) * n_out + label as usize] = 1.0;
        }
    }
    Ok(one_hot)
}
