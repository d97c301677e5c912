//! `neurojit train [SPEC]`: compiles the network once, then trains it with
//! a progress bar, writing a run folder (history, checkpoints, a recorded
//! sample and plots). Without a spec it trains the tutorial network on the
//! built-in task. `--resume RUN_DIR` continues a run exactly where it
//! stopped; Ctrl-C stops after the current step with a resumable
//! checkpoint.

use super::load::spec_or_tutorial;
use super::run_state::{checkpoint_of, restore_checkpoint, targets_for};
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use neurojit::data::{load_npz, tutorial_task, Dataset, TutorialTask};
use neurojit::plot::plot_run_detailed;
use neurojit::run_dir::{CheckpointKind, HistoryRow, RunDir};
use neurojit::spec::{parse_spec, DataSpec, Spec};
use neurojit::train::{experiment, record_sample, Trainer};
use neurojit_runtime::{fits_in_buffer, BackendKind, MAX_BUFFER_ELEMENTS};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Spec file (the tutorial network on the built-in task when omitted).
    spec: Option<PathBuf>,
    /// Training data: an .npz with `inputs` (B, T, N_in) and `targets`
    /// (B, T, N_out) or integer `labels` (B,). Overrides the spec's [data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Continue the run in this folder where it stopped.
    #[arg(long, conflicts_with = "spec")]
    resume: Option<PathBuf>,
    /// The run folder to create (default: runs/<timestamp>). A resumed run
    /// stays in its own folder.
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Override the spec's number of epochs.
    #[arg(long, value_parser = super::at_least_one)]
    epochs: Option<usize>,
    /// Override the spec's backend: jit or interp.
    #[arg(long, value_parser = ["jit", "interp"])]
    backend: Option<String>,
    /// Override the spec's number of threads.
    #[arg(long, value_parser = super::at_least_one)]
    threads: Option<usize>,
    /// Do not draw plots at the end.
    #[arg(long)]
    no_plots: bool,
}

pub fn run(args: TrainArgs) -> Result<ExitCode> {
    // A new run's folder is created once the spec and the data are known to
    // be good, and removed again if compiling fails, so a failed start
    // leaves nothing behind.
    let (existing_run, mut spec, spec_text) = match &args.resume {
        Some(dir) => {
            let run_dir = RunDir::open(dir)?;
            // Before any epoch is appended to its history.
            run_dir.check_writable()?;
            let text = run_dir.read_spec()?;
            let spec = parse_spec(&text, &run_dir.spec_path().display().to_string())?;
            (Some(run_dir), spec, text)
        }
        None => {
            let (spec, text) = spec_or_tutorial(args.spec.as_deref())?;
            (None, spec, text)
        }
    };
    let resuming = existing_run.is_some();
    if let Some(epochs) = args.epochs {
        spec.training.epochs = epochs;
    }
    if let Some(threads) = args.threads {
        spec.training.threads = threads;
    }
    if let Some(backend) = &args.backend {
        spec.training.backend = match backend.as_str() {
            "interp" => neurojit::spec::Backend::Interp,
            _ => neurojit::spec::Backend::Jit,
        };
    }
    // Where the data file's path came from, for its errors.
    let spec_file = match (&existing_run, &args.spec) {
        (Some(run_dir), _) => run_dir.spec_path(),
        (None, Some(path)) => path.clone(),
        (None, None) => "the tutorial spec".into(),
    };
    let mut data_origin = format!("[data] path in {}", spec_file.display());
    if let Some(path) = &args.data {
        spec.data = DataSpec::File(path.clone());
        data_origin = "--data".into();
    } else if let Some(run_dir) = &existing_run {
        if let Some(path) = run_dir.read_data_path()? {
            spec.data = DataSpec::File(path);
            data_origin = format!("the run's {}", run_dir.data_path_file().display());
        }
    }

    let dataset = load_data(&spec, &data_origin)?;
    // The data must carry the array its loss reads: `targets` for mse,
    // `labels` for cross-entropy (the built-in task has targets only).
    dataset.check_loss(spec.loss.kind)?;
    let mut exp = experiment(&spec)?;
    let (n_in, n_out) = exp.network.shape();
    dataset
        .check_against(n_in, n_out, Some(spec.training.t))
        .with_context(|| format!("the data does not fit the network ({n_in} in, {n_out} out)"))?;
    let batch = spec.training.batch;
    if dataset.samples < batch {
        bail!(
            "{}: {} samples, fewer than one batch of {batch} ([training] batch)",
            dataset.origin,
            dataset.samples
        );
    }

    // Before compiling, so that an unusable `--out` is reported at once.
    let new_folder = existing_run.is_none() && args.out.as_ref().is_none_or(|p| !p.exists());
    let run_dir = match existing_run {
        Some(run_dir) => run_dir,
        None => match &args.out {
            Some(path) => RunDir::create_at(path).context("the run folder (--out)")?,
            None => RunDir::create_new(Path::new("runs"))
                .context("the run folder (default: runs/<timestamp>)")?,
        },
    };

    let started = Instant::now();
    let trainer = Trainer::new(
        exp.network.as_ref(),
        &exp.trace,
        std::mem::replace(&mut exp.optimizer, Box::new(neurojit::optim::Sgd::new(0.0))),
        exp.clip.clone(),
        &exp.run,
    );
    let mut trainer = match trainer {
        Ok(trainer) => trainer,
        Err(error) => {
            // Leave no half-made run folder to block a retry with `--out`.
            if new_folder {
                run_dir.remove_if_empty();
            }
            return Err(error.into());
        }
    };
    let threads = trainer.threads();
    println!(
        "compiled {} parameters ({} backend, {threads} thread{}) in {:.1} ms",
        trainer.param_slots().len(),
        exp.run.backend.name(),
        if threads == 1 { "" } else { "s" },
        trainer.compile_seconds() * 1e3
    );

    let mut first_epoch = 1u64;
    let mut progress = EpochProgress::default();
    let mut best = f64::INFINITY;
    if resuming {
        let checkpoint = run_dir.load_checkpoint(CheckpointKind::Latest)?;
        restore_checkpoint(&mut trainer, &checkpoint, &run_dir)?;
        first_epoch = checkpoint.epoch + 1;
        let meta = |key: &str| checkpoint.meta.get(key).and_then(|v| v.parse::<f64>().ok());
        best = meta("best_loss").unwrap_or(f64::INFINITY);
        progress = EpochProgress {
            next_batch: meta("next_batch").unwrap_or(0.0) as usize,
            task: meta("partial_task").unwrap_or(0.0),
            penalty: meta("partial_penalty").unwrap_or(0.0),
        };
        run_dir.truncate_history(checkpoint.epoch)?;
        // `--data` replaces the run's data for this and later resumes.
        if let (Some(_), DataSpec::File(path)) = (&args.data, &spec.data) {
            run_dir.write_data_path(path)?;
        }
        println!(
            "resuming {} after epoch {}{}",
            run_dir.path().display(),
            checkpoint.epoch,
            if progress.next_batch > 0 {
                format!(", batch {}", progress.next_batch)
            } else {
                String::new()
            }
        );
    } else {
        run_dir.write_spec(&spec_text)?;
        if let DataSpec::File(path) = &spec.data {
            run_dir.write_data_path(path)?;
        }
        run_dir.write_bounds(&spec.param_bounds)?;
        run_dir.start_history()?;
        let initial = checkpoint_of(&trainer, 0, best);
        run_dir.save_checkpoint(CheckpointKind::Initial, &initial)?;
        run_dir.save_checkpoint(CheckpointKind::Latest, &initial)?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second handler cannot be installed (e.g. in tests running
        // several commands); training then simply cannot be interrupted.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }

    let epochs = spec.training.epochs as u64;
    let batches = dataset.samples / batch;
    let unused = dataset.samples % batch;
    if unused > 0 {
        println!(
            "note: {} samples make {batches} batch{} of {batch}; the last {unused} sample{} \
             (index {} on) {} not trained on",
            dataset.samples,
            if batches == 1 { "" } else { "es" },
            if unused == 1 { "" } else { "s" },
            batches * batch,
            if unused == 1 { "is" } else { "are" },
        );
    }
    let time_constants = time_constant_slots(exp.network.as_ref(), &trainer);
    let mut warned_time_constants = false;
    let total_steps = (epochs.saturating_sub(first_epoch - 1) * batches as u64)
        .saturating_sub(progress.next_batch as u64);
    let bar = ProgressBar::new(total_steps);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} epoch {msg} [{bar:30}] {pos}/{len} steps  {per_sec}  ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    // Checkpoints are written atomically (with an fsync), which costs more
    // than a small epoch: the latest and best are written at most every
    // SAVE_INTERVAL, at the end, and when training is interrupted.
    let mut last_save = Instant::now();
    let mut best_checkpoint = None;
    let mut first_task = None;
    let mut last_task = 0.0;
    for epoch in first_epoch..=epochs {
        for b in progress.next_batch..batches {
            let indices: Vec<usize> = (b * batch..(b + 1) * batch).collect();
            let data = dataset.batch(&indices)?;
            let targets = targets_for(&data, n_out, spec.training.t)?;
            trainer.set_data(&data.inputs, &targets)?;
            let loss = trainer.step().with_context(|| {
                format!(
                    "training stopped in epoch {epoch}; the last good checkpoint is {}",
                    run_dir.checkpoint_path(CheckpointKind::Latest).display()
                )
            })?;
            progress.task += loss.task as f64;
            progress.penalty += loss.penalty as f64;
            bar.inc(1);
            if stop.load(Ordering::SeqCst) && b + 1 < batches {
                progress.next_batch = b + 1;
                let mut checkpoint = checkpoint_of(&trainer, epoch - 1, best);
                progress.store(&mut checkpoint.meta);
                run_dir.save_checkpoint(CheckpointKind::Latest, &checkpoint)?;
                if let Some(best) = &best_checkpoint {
                    run_dir.save_checkpoint(CheckpointKind::Best, best)?;
                }
                bar.abandon();
                println!(
                    "interrupted: resume with `neurojit train --resume {}`",
                    run_dir.path().display()
                );
                return Ok(ExitCode::from(130));
            }
        }
        if !warned_time_constants {
            if let Some(problem) = non_positive_time_constant(&trainer, &time_constants) {
                // Printed even when the bar is hidden (output not a terminal).
                bar.suspend(|| {
                    println!(
                        "warning: after epoch {epoch}, {problem}: the leak is then a growth \
                         (Rockpool runs it too); a lower bound on the \"taus\" family \
                         ([[bounds]]) keeps time constants positive"
                    )
                });
                warned_time_constants = true;
            }
        }
        let task = progress.task / batches as f64;
        let penalty = progress.penalty / batches as f64;
        progress = EpochProgress::default();
        let loss = task + penalty;
        first_task.get_or_insert(task);
        last_task = task;
        bar.set_message(format!(
            "{epoch}/{epochs}  loss {loss:.5} (task {task:.5}, penalty {penalty:.5})"
        ));
        run_dir.append_history(&HistoryRow {
            epoch,
            loss,
            task_loss: task,
            penalty,
            seconds: started.elapsed().as_secs_f64(),
        })?;
        if loss < best {
            best = loss;
            best_checkpoint = Some(checkpoint_of(&trainer, epoch, best));
        }
        let interrupted = stop.load(Ordering::SeqCst);
        if interrupted || epoch == epochs || last_save.elapsed() >= SAVE_INTERVAL {
            run_dir.save_checkpoint(
                CheckpointKind::Latest,
                &checkpoint_of(&trainer, epoch, best),
            )?;
            if let Some(best) = best_checkpoint.take() {
                run_dir.save_checkpoint(CheckpointKind::Best, &best)?;
            }
            last_save = Instant::now();
        }
        if interrupted {
            bar.abandon();
            println!(
                "interrupted: resume with `neurojit train --resume {}`",
                run_dir.path().display()
            );
            return Ok(ExitCode::from(130));
        }
    }
    bar.finish();

    let last_epoch = epochs.max(first_epoch - 1);
    run_dir.save_checkpoint(
        CheckpointKind::Final,
        &checkpoint_of(&trainer, last_epoch, best),
    )?;
    let data = dataset.batch(&[0])?;
    let targets = targets_for(&data, n_out, spec.training.t)?;
    let sample = record_sample(
        exp.network.as_mut(),
        &trainer.param_tree(),
        &data.inputs,
        &targets,
        spec.training.t,
        0,
        BackendKind::Jit,
    );
    // The run itself is complete and saved: a network whose trained
    // parameters cannot be simulated costs only the sample and its plots.
    match sample {
        Ok(sample) => run_dir.write_sample(&sample)?,
        Err(error) => {
            // A resumed run's earlier sample would be plotted as this one's.
            let stale = run_dir.sample_path();
            if stale.exists() {
                std::fs::remove_file(&stale)
                    .with_context(|| format!("removing the earlier {}", stale.display()))?;
            }
            println!(
                "warning: the trained network's response to the first sample is not recorded \
                 (no sample.json, raster or trace plots): {error}"
            )
        }
    }
    if let Some(first) = first_task {
        println!(
            "task loss {first:.5} -> {last_task:.5} over {} epochs in {:.1} s",
            last_epoch + 1 - first_epoch,
            started.elapsed().as_secs_f64()
        );
    }
    if !args.no_plots {
        let report = plot_run_detailed(run_dir.path())?;
        for skipped in &report.skipped {
            println!("plot skipped: {skipped}");
        }
    }
    println!("run folder: {}", run_dir.path().display());
    Ok(ExitCode::SUCCESS)
}

/// Longest time between two writes of the latest checkpoint.
const SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// How far training got into an epoch (kept in a checkpoint's metadata when
/// training is interrupted mid-epoch).
#[derive(Default)]
struct EpochProgress {
    next_batch: usize,
    /// Sums of the epoch's step losses so far.
    task: f64,
    penalty: f64,
}

impl EpochProgress {
    fn store(&self, meta: &mut std::collections::BTreeMap<String, String>) {
        meta.insert("next_batch".into(), self.next_batch.to_string());
        meta.insert("partial_task".into(), self.task.to_string());
        meta.insert("partial_penalty".into(), self.penalty.to_string());
    }
}

/// The samples the spec (or `--data`) points at; `origin` says where a
/// data file's path came from (an option or a spec key), for its errors.
fn load_data(spec: &Spec, origin: &str) -> Result<Dataset> {
    Ok(match &spec.data {
        DataSpec::File(path) => {
            load_npz(path).with_context(|| format!("training data ({origin})"))?
        }
        // Its errors name the built-in task already.
        DataSpec::Tutorial(task) => {
            let task = TutorialTask {
                samples: task.samples,
                t: spec.training.t,
                n_in: spec.network.layers.first().map_or(0, |l| l.n_in()),
                n_out: spec.network.n_out(),
                input_prob: task.input_prob,
                seed: spec.training.seed,
            };
            check_task_size(&task)?;
            tutorial_task(&task)
        }
    })
}

/// Refuses a built-in task too large for one buffer (the sizes come from
/// the spec and the command line), instead of aborting while allocating it.
fn check_task_size(task: &TutorialTask) -> Result<()> {
    let width = task.n_in.max(task.n_out);
    if !fits_in_buffer(&[task.samples, task.t, width]) {
        bail!(
            "the built-in task of {} samples x T = {} timesteps x {width} channels: expected at \
             most {MAX_BUFFER_ELEMENTS} floats (1 GiB) per array; use fewer samples or timesteps",
            task.samples,
            task.t
        );
    }
    Ok(())
}

/// The trainer's slots of the network's "taus" parameters (in `decays`
/// mode, none).
fn time_constant_slots(network: &dyn neurojit::nn::Module, trainer: &Trainer) -> Vec<usize> {
    let taus = network.parameters_of(&[neurojit::nn::family::TAUS]);
    let paths = &trainer.traced().param_paths;
    (0..paths.len())
        .filter(|&slot| taus.get_nested(&paths[slot]).is_ok())
        .collect()
}

/// The first trained time constant at or below zero (or not finite), as
/// `path (element i) is x`. Rockpool trains on with one; the recorded
/// sample's trace refuses it, so the user hears of it when it happens.
fn non_positive_time_constant(trainer: &Trainer, slots: &[usize]) -> Option<String> {
    slots.iter().find_map(|&slot| {
        let (i, tau) = trainer.params()[slot]
            .iter()
            .enumerate()
            .find(|(_, tau)| !(tau.is_finite() && **tau > 0.0))?;
        let path = &trainer.traced().param_paths[slot];
        Some(format!("`{path}` (element {i}) is {tau}"))
    })
}
