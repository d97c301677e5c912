//! `neurojit bench --preset NAME --backend jit --backend interp`: the same
//! training step (forward + backward + Adam) on each backend, timed, with
//! the ratio. `--json` adds one JSON object per preset as the last line.
//! The backends are timed in alternating slices (see
//! `neurojit::bench::measure_alternating`).

use anyhow::{anyhow, Result};
use clap::Args;
use neurojit::bench::{measure_alternating, BenchResult, MeasureOptions, Preset, PRESETS};
use neurojit_runtime::BackendKind;
use serde_json::{json, Map, Value};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Preset network(s): tiny, small, medium, recurrent (repeatable).
    #[arg(long, required = true, value_parser = preset_names())]
    preset: Vec<String>,
    /// Backend(s) to time: jit, interp (repeatable).
    #[arg(long, default_values = ["jit", "interp"], value_parser = ["jit", "interp"])]
    backend: Vec<String>,
    /// Worker threads (the batch is split across them).
    #[arg(long, default_value_t = 1, value_parser = super::at_least_one)]
    threads: usize,
    /// Seconds of timed steps per backend, in slices alternating between
    /// the backends (at least 3 steps are timed, unless --max-steps is lower).
    #[arg(long, default_value = "3", value_parser = seconds, allow_negative_numbers = true)]
    seconds: Duration,
    /// At most this many timed steps per backend.
    #[arg(long, default_value_t = 1_000_000, value_parser = super::at_least_one)]
    max_steps: usize,
    /// Print one JSON object per preset on the last line(s).
    #[arg(long)]
    json: bool,
}

pub(super) fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

/// A time budget in seconds: a non-negative, finite number.
fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Duration::try_from_secs_f64(s)
            .map_err(|_| format!("`{text}`: expected at most {} seconds", u64::MAX)),
        _ => Err(format!(
            "`{text}`: expected a non-negative number of seconds"
        )),
    }
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let options = MeasureOptions {
        threads: args.threads,
        budget: args.seconds,
        max_steps: args.max_steps,
        ..MeasureOptions::default()
    };
    // A backend or preset named twice is timed once: the JSON object has
    // one entry per backend.
    let mut kinds: Vec<BackendKind> = Vec::new();
    for name in &args.backend {
        let kind = BackendKind::parse(name).expect("clap checked the name");
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let mut presets: Vec<&String> = Vec::new();
    for name in &args.preset {
        if !presets.contains(&name) {
            presets.push(name);
        }
    }
    let mut lines = Vec::new();
    for name in presets {
        let preset = Preset::named(name).ok_or_else(|| anyhow!("unknown preset {name}"))?;
        println!(
            "preset {} (batch {}, T {})",
            preset.name, preset.batch, preset.steps
        );
        let measured = measure_alternating(&preset, &kinds, &options)?;
        let mut results: Vec<(BackendKind, BenchResult)> = Vec::new();
        for (&kind, r) in kinds.iter().zip(measured) {
            println!(
                "  {:<6} step {:>10.3} ms   compile {:>8.2} ms   tape {} B/step   ({} thread{}, {} samples, first loss {:.6}{})",
                kind.name(),
                r.step_s * 1e3,
                r.compile_s * 1e3,
                r.tape_bytes_per_step,
                r.threads,
                if r.threads == 1 { "" } else { "s" },
                r.samples,
                r.first_loss,
                if r.diverges { ", first gradient not finite" } else { "" }
            );
            results.push((kind, r));
        }
        let step_of = |k: BackendKind| {
            results
                .iter()
                .find(|(kind, _)| *kind == k)
                .map(|(_, r)| r.step_s)
        };
        let ratio = match (step_of(BackendKind::Interp), step_of(BackendKind::Jit)) {
            (Some(interp), Some(jit)) => {
                println!("  ratio interp/jit: {:.1}x", interp / jit);
                Some(interp / jit)
            }
            _ => None,
        };
        let mut obj = Map::new();
        obj.insert("preset".into(), json!(preset.name));
        obj.insert("batch".into(), json!(preset.batch));
        obj.insert("T".into(), json!(preset.steps));
        // `threads` as requested (as Rockpool's anchor script reports its
        // setting), `threads_used` as run: at most one per batch sample.
        obj.insert("threads".into(), json!(args.threads));
        let used = results.iter().map(|(_, r)| r.threads).max();
        obj.insert("threads_used".into(), json!(used.unwrap_or(args.threads)));
        for (kind, r) in &results {
            obj.insert(
                kind.name().into(),
                json!({
                    "step_s": r.step_s,
                    "compile_s": r.compile_s,
                    "tape_bytes_per_step": r.tape_bytes_per_step,
                    "samples": r.samples,
                    "diverges": r.diverges,
                }),
            );
        }
        obj.insert("ratio".into(), ratio.map_or(Value::Null, |r| json!(r)));
        lines.push(Value::Object(obj).to_string());
    }
    if args.json {
        for line in lines {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
