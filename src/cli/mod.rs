//! Command-line definitions (clap) and dispatch.

mod bench;
mod conformance;
mod init;
mod ir;
mod load;
mod params;
mod plot;
mod run_state;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "neurojit",
    version,
    about = "Train spiking neural networks fast by compiling them"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a network (the tutorial network on a built-in task by default).
    Train(train::TrainArgs),
    /// Print the parameter tree and its bounds.
    Params(params::ParamsArgs),
    /// Draw the figures of a run folder.
    Plot(plot::PlotArgs),
    /// Write the tutorial network as a commented spec file to start from.
    Init(init::InitArgs),
    /// Print the IR of a network at one compilation stage.
    Ir(ir::IrArgs),
    /// Time one training step on the JIT and/or the interpreter.
    Bench(bench::BenchArgs),
    /// Check neurojit against Rockpool reference cases.
    Conformance(conformance::ConformanceArgs),
}

/// Parses a count that must be at least 1 (threads, epochs, steps).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => Err(format!(
            "`{text}`: expected a whole number, at most {}",
            usize::MAX
        )),
        _ => Err(format!("`{text}`: expected a whole number, at least 1")),
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Init(args) => init::run(args),
        Command::Params(args) => params::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Ir(args) => ir::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Conformance(args) => conformance::run(args),
    }
}
