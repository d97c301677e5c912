//! `neurojit ir [SPEC | --preset NAME] --stage graph|grad|simplified|schedule|clif|asm`:
//! what the network became at each compilation stage.

use super::load::spec_or_tutorial;
use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
use neurojit::bench::Preset;
use neurojit::optim::{Adam, Optimizer};
use neurojit::trace::{trace, TraceOptions, TracedNetwork};
use neurojit::train::experiment;
use neurojit_compiler::ir::Graph;
use neurojit_compiler::jit::{asm_text, optimized_clif_text, schedule_text};
use neurojit_compiler::program::Slot;
use neurojit_compiler::program::{
    batch_over_time, compile_training, gradient_graph, simplified_gradient_graph,
};
use neurojit_runtime::check_buffer_sizes;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Stage {
    /// The traced step and parameter-only loss.
    Graph,
    /// The step with its backward sweep, before simplification.
    Grad,
    /// The programs the runtime runs, simplified and split.
    Simplified,
    /// How the JIT groups each program's nodes into loops, matmuls and transposes.
    Schedule,
    /// Cranelift IR of each program's kernel.
    Clif,
    /// Machine code of each program's kernel.
    Asm,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Program {
    Prologue,
    Prepass,
    Forward,
    Backward,
    Epilogue,
    ParamLoss,
    Optimizer,
}

#[derive(Args, Debug)]
pub struct IrArgs {
    /// Spec file (the tutorial network when omitted).
    #[arg(conflicts_with = "preset")]
    spec: Option<PathBuf>,
    /// A benchmark preset instead of a spec (see `neurojit bench`).
    #[arg(long, value_parser = super::bench::preset_names())]
    preset: Option<String>,
    #[arg(long, value_enum, default_value = "simplified")]
    stage: Stage,
    /// Only this program (simplified, schedule, clif and asm stages).
    #[arg(long, value_enum)]
    program: Option<Program>,
}

/// Builds the optimiser's update program for the given parameters.
type UpdateBuilder = Box<dyn Fn(&[Slot]) -> Result<Graph>>;

/// What the stages are printed for: a traced network and its optimiser's
/// update program.
struct Subject {
    traced: TracedNetwork,
    timesteps: usize,
    update: UpdateBuilder,
}

fn subject(args: &IrArgs) -> Result<Subject> {
    if let Some(name) = &args.preset {
        let preset = Preset::named(name).ok_or_else(|| anyhow!("unknown preset {name}"))?;
        let network = preset.network(0)?;
        let options: TraceOptions = preset.trace_options(&network);
        return Ok(Subject {
            traced: trace(&network, &options)?,
            timesteps: options.timesteps,
            update: Box::new(|params: &[Slot]| Ok(Adam::new(1e-3).update_graph(params, None)?)),
        });
    }
    let (spec, _) = spec_or_tutorial(args.spec.as_deref())?;
    let exp = experiment(&spec)?;
    Ok(Subject {
        traced: trace(exp.network.as_ref(), &exp.trace)?,
        timesteps: exp.trace.timesteps,
        update: Box::new(move |params: &[Slot]| {
            Ok(exp.optimizer.update_graph(params, exp.clip.as_deref())?)
        }),
    })
}

pub fn run(args: IrArgs) -> Result<ExitCode> {
    let subject = subject(&args)?;
    let step = &subject.traced.program;
    match args.stage {
        Stage::Graph => {
            section("step", &step.step);
            section("param_loss", &step.param_loss);
        }
        Stage::Grad => section("step with gradients", &gradient_graph(step)?),
        Stage::Simplified | Stage::Schedule | Stage::Clif | Stage::Asm => {
            let programs = batch_over_time(compile_training(step)?, subject.timesteps)?;
            // `ir` describes only sessions that `train` would build.
            check_buffer_sizes(&programs, subject.timesteps)?;
            if args.stage == Stage::Simplified && args.program.is_none() {
                let s = &programs.stats;
                println!(
                    "# live nodes: traced step {}, with gradients {}, simplified {}",
                    s.traced, s.with_gradients, s.simplified
                );
                println!(
                    "# tape: {} values, {} bytes per timestep; {} sequences batched over all {} timesteps",
                    programs.tape.len(),
                    programs.tape_bytes_per_step(),
                    programs.sequences.len(),
                    subject.timesteps
                );
                let name = |slot: usize| programs.tape.get(slot).map_or("?", |s| &s.name);
                for lag in &programs.tape_lags {
                    println!(
                        "# tape `{}` is `{}` one step late (stored once)",
                        name(lag.lagged),
                        name(lag.leader)
                    );
                }
                for taped in &programs.taped_states {
                    let state = programs.states.get(taped.state).map_or("?", |s| &s.name);
                    println!(
                        "# state `{state}` is kept in tape `{}` (row t: its value at the start of step t)",
                        name(taped.entry)
                    );
                }
                for kept in &programs.adjoint_sequences {
                    let state = programs.states.get(kept.state).map_or("?", |s| &s.name);
                    let sequence = programs
                        .sequences
                        .get(kept.sequence)
                        .map_or("?", |s| &s.name);
                    println!(
                        "# adjoint of state `{state}` is kept in sequence `{sequence}` (row t: its value at the start of step t)"
                    );
                }
                if std::env::var_os("NEUROJIT_IR_COMBINED").is_some() {
                    section("simplified step", &simplified_gradient_graph(step)?);
                }
            }
            let update = (subject.update)(&programs.params)?;
            let all = [
                (Program::Prologue, "prologue", &programs.prologue),
                (Program::Prepass, "prepass", &programs.prepass),
                (Program::Forward, "forward", &programs.forward),
                (Program::Backward, "backward", &programs.backward),
                (Program::Epilogue, "epilogue", &programs.epilogue),
                (Program::ParamLoss, "param_loss", &programs.param_loss),
                (Program::Optimizer, "optimizer", &update),
            ];
            for (which, name, graph) in all {
                if args.program.is_some_and(|p| p != which) {
                    continue;
                }
                if graph.outputs().is_empty() {
                    // Listed only when asked for, so that it does not look
                    // like missing output.
                    if args.program == Some(which) {
                        println!("# {name}: empty (this network needs no {name} program)");
                    }
                    continue;
                }
                match args.stage {
                    Stage::Simplified => section(name, graph),
                    Stage::Schedule => text_section(name, &schedule_text(graph)?),
                    Stage::Clif => text_section(name, &optimized_clif_text(graph)?),
                    _ => text_section(name, &asm_text(graph)?),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn section(name: &str, graph: &Graph) {
    println!("# {name}: {} nodes", graph.len());
    print!("{graph}");
    println!();
}

fn text_section(name: &str, text: &str) {
    println!("# {name}");
    println!("{text}");
}
