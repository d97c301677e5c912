//! `neurojit plot RUN_DIR`: draws the run's figures into RUN_DIR/plots.

use anyhow::Result;
use clap::Args;
use neurojit::plot::plot_run_detailed;
use neurojit::run_dir::RunDir;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// A run folder written by `neurojit train`.
    run_dir: PathBuf,
}

pub fn run(args: PlotArgs) -> Result<ExitCode> {
    // Only run folders: plotting into any other folder would litter it.
    RunDir::open(&args.run_dir)?;
    let report = plot_run_detailed(&args.run_dir)?;
    for file in &report.written {
        println!("wrote {}", file.display());
    }
    for skipped in &report.skipped {
        println!("skipped: {skipped}");
    }
    Ok(ExitCode::SUCCESS)
}
