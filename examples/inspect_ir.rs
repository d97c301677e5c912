//! What a network becomes at every compilation stage, printed with the
//! public APIs:
//!
//! 1. the traced step graph and the parameter-only loss (`trace`);
//! 2. the step with its backward sweep, before simplification
//!    (`program::gradient_graph`);
//! 3. the same graph simplified (`program::simplified_gradient_graph`);
//! 4. the programs the runtime runs: prologue (hoisted values), forward
//!    (writes the tape), backward (reads it), parameter-only loss
//!    (`program::compile_training`), then with the work that does not
//!    depend on the recurrence moved out of the time loop: a prepass and an
//!    epilogue over all timesteps (`program::batch_over_time`, as the
//!    trainer runs them);
//! 5. the (batched) forward kernel as Cranelift IR and as machine code
//!    (`jit::optimized_clif_text`, `jit::asm_text`);
//! 6. the forward kernel run by the JIT and by the interpreter on the same
//!    buffers, to show they agree.
//!
//! The network is a Linear (2 -> 3) followed by a LIF layer with time
//! constants, batch 2, with an mse loss and a lower bound of 0 on the time
//! constants. Run with `cargo run --release --example inspect_ir`.

use anyhow::Result;
use neurojit::bounds::{make_bounds, set_matching, Bound};
use neurojit::nn::{describe, family, Lif, Linear, Module, Sequential};
use neurojit::trace::{trace, BoundsPenalty, TraceOptions};
use neurojit_compiler::interp::Interpreter;
use neurojit_compiler::ir::Graph;
use neurojit_compiler::jit::{asm_text, optimized_clif_text, Jit};
use neurojit_compiler::kernel::Backend;
use neurojit_compiler::program::{
    batch_over_time, compile_training, gradient_graph, simplified_gradient_graph,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() -> Result<()> {
    let mut rng = StdRng::seed_from_u64(0);
    let net = Sequential::new(vec![
        Linear::new(2, 3, &mut rng).boxed(),
        Lif::new(3).boxed(),
    ])?;
    println!("{}", describe(&net));

    let (lower, upper) = make_bounds(&net.parameters());
    let lower = set_matching(
        &lower,
        &net.parameters_of(&[family::TAUS]),
        Bound::from(0.0),
    )?;
    let (batch, steps) = (2, 100);
    let mut options = TraceOptions::new(batch, steps);
    options.bounds = Some(BoundsPenalty {
        lower,
        upper,
        weight: 1.0,
    });
    let traced = trace(&net, &options)?;
    let step = &traced.program;

    stage("1. Traced step (one timestep: params, state, x_t, target_t -> state, y_t, loss_t)");
    print_graph("step", &step.step);
    print_graph("param_loss (the bounds penalty)", &step.param_loss);

    stage("2. Step with its backward sweep (autodiff), before simplification");
    print_graph("step with gradients", &gradient_graph(step)?);

    stage("3. Simplified (folding, exact identities, CSE, DCE)");
    print_graph("simplified step", &simplified_gradient_graph(step)?);

    stage("4. The programs the runtime runs");
    let programs = compile_training(step)?;
    let s = &programs.stats;
    println!(
        "live nodes: traced step {}, with gradients {}, simplified {}",
        s.traced, s.with_gradients, s.simplified
    );
    for slot in &programs.hoisted {
        println!("hoisted {}: {} = {}", slot.slot, slot.name, slot.shape);
    }
    for slot in &programs.tape {
        println!("tape {}: {} = {}", slot.slot, slot.name, slot.shape);
    }
    println!(
        "tape: {} bytes per timestep\n",
        programs.tape_bytes_per_step()
    );
    print_graph("prologue (once per pass)", &programs.prologue);
    print_graph("forward (t = 0 .. T)", &programs.forward);
    print_graph("backward (t = T-1 .. 0)", &programs.backward);
    print_graph("param_loss with its gradient", &programs.param_loss);

    stage("4b. Batched over time (what the trainer runs)");
    let batched = batch_over_time(programs.clone(), steps)?;
    for slot in &batched.sequences {
        println!(
            "sequence {}: {} = {} per step",
            slot.slot, slot.name, slot.shape
        );
    }
    println!();
    print_graph("prepass (once per pass, all timesteps)", &batched.prepass);
    print_graph("forward (t = 0 .. T)", &batched.forward);
    print_graph("backward (t = T-1 .. 0)", &batched.backward);
    print_graph("epilogue (once per pass, all timesteps)", &batched.epilogue);

    stage("5. The forward kernel: Cranelift IR after Cranelift's optimisations");
    let clif = optimized_clif_text(&batched.forward)?;
    println!("{clif}");
    stage("5. The forward kernel: machine code");
    let asm = asm_text(&batched.forward)?;
    println!("{asm}");
    println!(
        "({} lines of CLIF, {} lines of assembly)",
        clif.lines().count(),
        asm.lines().count()
    );

    stage("6. The forward kernel on both backends");
    let difference = compare_backends(&batched.forward)?;
    println!("largest difference between JIT and interpreter outputs: {difference:e}");
    Ok(())
}

/// Runs `graph` on the JIT and the interpreter with the same arguments (a
/// fixed pattern of values in [-1, 1], thresholds and time constants kept
/// positive) and returns the largest absolute difference of their outputs.
fn compare_backends(graph: &Graph) -> Result<f32> {
    let args: Vec<Vec<f32>> = graph
        .args()
        .iter()
        .map(|arg| {
            let positive = arg.name.ends_with("threshold") || arg.name.contains("tau");
            (0..arg.shape.numel())
                .map(|i| {
                    let x = ((i * 7 + 3) % 11) as f32 / 5.0 - 1.0;
                    if positive {
                        0.02 + x.abs()
                    } else {
                        2.0 * x
                    }
                })
                .collect()
        })
        .collect();
    let views: Vec<&[f32]> = args.iter().map(Vec::as_slice).collect();
    let run = |backend: &dyn Backend| -> Result<Vec<Vec<f32>>> {
        let kernel = backend.compile(graph)?;
        let mut outputs: Vec<Vec<f32>> = graph
            .outputs()
            .iter()
            .map(|o| vec![0.0; graph.shape(o.value).numel()])
            .collect();
        let mut slices: Vec<&mut [f32]> = outputs.iter_mut().map(Vec::as_mut_slice).collect();
        kernel.run(&views, &mut slices)?;
        Ok(outputs)
    };
    let jit = run(&Jit::new())?;
    let interp = run(&Interpreter)?;
    let mut largest = 0.0f32;
    for (out, (a, b)) in graph.outputs().iter().zip(jit.iter().zip(&interp)) {
        let diff = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| difference(x, y))
            .fold(0.0f32, f32::max);
        println!(
            "  {:<12} {:<16} {diff:e}",
            format!("{:?}", out.kind),
            out.name
        );
        largest = largest.max(diff);
    }
    Ok(largest)
}

/// `|x - y|`, except that equal values (infinities included) and two NaNs
/// differ by 0, and a NaN against a number by infinity (`f32::max` would
/// drop a NaN difference).
fn difference(x: f32, y: f32) -> f32 {
    if x == y || (x.is_nan() && y.is_nan()) {
        0.0
    } else if x.is_nan() || y.is_nan() {
        f32::INFINITY
    } else {
        (x - y).abs()
    }
}

fn stage(title: &str) {
    println!("\n======== {title}\n");
}

fn print_graph(name: &str, graph: &Graph) {
    println!("# {name}: {} nodes", graph.len());
    println!("{graph}");
}
