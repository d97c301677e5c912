//! Times one training step (forward over T steps, backward through time,
//! Adam update) of a benchmark preset on both backends, the Cranelift JIT
//! and the interpreter, with the library API behind `neurojit bench`.
//!
//! Usage: `cargo run --release --example benchmark [PRESET]` where PRESET
//! is one of `tiny`, `small` (the default), `medium`, `recurrent`.
//! With `NEUROJIT_EXAMPLE_SMALL=1` it times a few steps of `tiny` only (the
//! test suite runs it that way; such timings mean little).
//!
//! Both backends run the same compiled graphs on the same data, so the first
//! loss agrees (up to float reassociation) and the ratio is the speed-up of
//! compiling over interpreting.

use anyhow::{anyhow, ensure, Result};
use neurojit::bench::{measure_alternating, BenchResult, MeasureOptions, Preset, PRESETS};
use neurojit_runtime::BackendKind;
use std::time::Duration;

fn main() -> Result<()> {
    let small = std::env::var("NEUROJIT_EXAMPLE_SMALL").is_ok_and(|v| v != "0");
    let name = match std::env::args().nth(1) {
        Some(name) => name,
        None if small => "tiny".to_string(),
        None => "small".to_string(),
    };
    let preset = Preset::named(&name).ok_or_else(|| {
        let known: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        anyhow!(
            "unknown preset `{name}`: expected one of {}",
            known.join(", ")
        )
    })?;
    let options = if small {
        MeasureOptions {
            warmup: 1,
            max_steps: 5,
            budget: Duration::from_millis(100),
            ..MeasureOptions::default()
        }
    } else {
        MeasureOptions::default()
    };

    println!(
        "preset {}: {} layers, batch {}, T {}, {} thread(s)",
        preset.name,
        preset.layers.len(),
        preset.batch,
        preset.steps,
        options.threads
    );
    for layer in preset.layers {
        println!("  {layer:?}");
    }
    println!();
    println!("backend   step (ms)   compile (ms)   tape (B/step)   samples   first loss");
    // Timed in alternating slices, so both see the same machine load.
    let measured =
        measure_alternating(&preset, &[BackendKind::Jit, BackendKind::Interp], &options)?;
    let (jit, interp) = (&measured[0], &measured[1]);
    print_row("jit", jit);
    print_row("interp", interp);

    let ratio = interp.step_s / jit.step_s;
    println!("\nratio interp/jit: {ratio:.1}x");
    let relative = (jit.first_loss - interp.first_loss).abs() / interp.first_loss.abs().max(1e-30);
    println!("first losses agree to {relative:.1e} (relative)");
    ensure!(
        jit.first_loss.is_finite() && interp.first_loss.is_finite(),
        "a first loss is not finite"
    );
    ensure!(
        jit.tape_bytes_per_step == interp.tape_bytes_per_step,
        "both backends run the same programs, so their tapes must match"
    );
    Ok(())
}

fn print_row(backend: &str, r: &BenchResult) {
    println!(
        "{backend:<7} {:>11.3} {:>14.2} {:>15} {:>9}   {}",
        r.step_s * 1e3,
        r.compile_s * 1e3,
        r.tape_bytes_per_step,
        r.samples,
        r.first_loss
    );
}
