//! Rockpool's "How To: Configure and perform constrained optimization",
//! end to end with the neurojit library API:
//!
//! 1. a single LIF module, its parameters and unconstrained bounds;
//! 2. how `bounds_cost` behaves as a parameter crosses its bounds (the
//!    tutorial's plot, printed as a table with the cost's gradient);
//! 3. the tutorial's nested network (Sequential of Linear / LIF with a
//!    Residual block), parameter families and `attributes_named`;
//! 4. bounds built with `make_bounds` + `set_matching`, and their cost;
//! 5. compiled training (mse + bounds penalty, Adam) on the built-in
//!    tutorial task, starting with some parameters outside their bounds:
//!    the penalty pulls them back inside while the task loss falls (a
//!    projection keeps the time constants above 1 ms, see `train`).
//!
//! Run with `cargo run --release --example tutorial`. With
//! `NEUROJIT_EXAMPLE_SMALL=1` it trains fewer, shorter steps (the test
//! suite runs it that way).

use anyhow::{ensure, Context, Result};
use neurojit::bounds::{bounds_cost, make_bounds, set_matching, Bound, ClipRange};
use neurojit::data::{tutorial_task, TutorialTask};
use neurojit::nn::{describe, family, LeakMode, Lif, Linear, Module, Residual, Sequential};
use neurojit::optim::Adam;
use neurojit::trace::{BoundsPenalty, TraceOptions};
use neurojit::train::{Trainer, TrainerOptions};
use neurojit::tree::{Path, Tensor, Tree};
use neurojit_compiler::autodiff::backprop;
use neurojit_compiler::interp::evaluate;
use neurojit_compiler::ir::{ArgKind, Graph, OutKind, Value};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Training sizes: the full run, or a quick one for the test suite.
struct Sizes {
    batch: usize,
    timesteps: usize,
    epochs: usize,
    report_every: usize,
}

impl Sizes {
    fn from_env() -> Sizes {
        let small = std::env::var("NEUROJIT_EXAMPLE_SMALL").is_ok_and(|v| v != "0");
        if small {
            Sizes {
                batch: 2,
                timesteps: 50,
                epochs: 60,
                report_every: 10,
            }
        } else {
            Sizes {
                batch: 8,
                timesteps: 200,
                epochs: 1000,
                report_every: 100,
            }
        }
    }
}

fn main() -> Result<()> {
    let sizes = Sizes::from_env();
    single_lif()?;
    cost_sweep()?;
    let mut net = tutorial_network()?;
    let (lower, upper) = tutorial_bounds(&net)?;
    train(&mut net, &lower, &upper, &sizes)
}

// ----- 1. a single LIF module ------------------------------------------------

fn single_lif() -> Result<()> {
    heading("1. A single LIF module");
    let net = Lif::new(1);
    println!("Module: {}", describe(&net));
    println!("Parameters: {}", net.parameters());

    // By default nothing is constrained: -inf / +inf everywhere.
    let (lb, ub) = make_bounds(&net.parameters());
    println!("make_bounds:\n  lower {lb}\n  upper {ub}");

    // (0 ms, 200 ms) for tau_syn.
    let syn = net.attributes_named(&["tau_syn"]);
    let lb = set_matching(&lb, &syn, Bound::from(0.0))?;
    let ub = set_matching(&ub, &syn, Bound::from(200e-3))?;
    println!("tau_syn in (0, 0.2):\n  lower {lb}\n  upper {ub}");
    let (cost, _) = cost_and_grad(&net.parameters(), &lb, &ub)?;
    println!("bounds_cost = {cost}  (no bound is violated)");
    Ok(())
}

// ----- 2. the cost curve -----------------------------------------------------

fn cost_sweep() -> Result<()> {
    heading("2. bounds_cost of one parameter x with bounds (0, 1)");
    println!("     x      cost   d cost / dx");
    let (lb, ub) = (Bound::from(0.0), Bound::from(1.0));
    for i in 0..=12 {
        // x from -1 to 2 in steps of 0.25, as in the tutorial's plot.
        let x = -1.0 + 0.25 * i as f32;
        let params = scalar_tree("x", x);
        let lower = params.map(|_| lb.clone());
        let upper = params.map(|_| ub.clone());
        let (cost, grad) = cost_and_grad(&params, &lower, &upper)?;
        let dx = grad.leaf_values()[0].data()[0];
        println!("  {x:5.2}  {cost:8.4}  {dx:8.4}");
    }
    println!(
        "Inside the bounds the cost is 0; just past a bound it is 1 (exp(0)), \
         growing as exp(distance)."
    );
    Ok(())
}

fn scalar_tree(name: &str, x: f32) -> Tree<Tensor> {
    let mut tree = Tree::new();
    tree.insert_leaf(name, Tensor::scalar(x));
    tree
}

// ----- 3. the tutorial's network ----------------------------------------------

fn tutorial_network() -> Result<Sequential> {
    heading("3. A nested network with two kinds of leak parameter");
    let mut rng = StdRng::seed_from_u64(1);
    let decays = |n| Lif::new(n).leak_mode(LeakMode::Decays).boxed();
    let net = Sequential::new(vec![
        Linear::new(2, 3, &mut rng).boxed(),
        decays(3),
        Residual::new(vec![Linear::new(3, 3, &mut rng).boxed(), decays(3)])?.boxed(),
        Linear::new(3, 5, &mut rng).boxed(),
        Lif::new(5).leak_mode(LeakMode::Taus).boxed(),
    ])?;
    println!("Network: {}", describe(&net));
    println!("Parameters: {}", net.parameters());
    println!(
        "parameters(\"decays\"): {}",
        net.parameters_of(&[family::DECAYS])
    );
    println!(
        "parameters(\"taus\"): {}",
        net.parameters_of(&[family::TAUS])
    );
    println!(
        "attributes_named(\"tau_syn\"): {}",
        net.attributes_named(&["tau_syn"])
    );
    Ok(net)
}

// ----- 4. bounds for the whole network ------------------------------------------

fn tutorial_bounds(net: &Sequential) -> Result<(Tree<Bound>, Tree<Bound>)> {
    heading("4. Bounds with make_bounds + set_matching");
    let (lb, ub) = make_bounds(&net.parameters());
    let decays = net.parameters_of(&[family::DECAYS]);
    let taus = net.parameters_of(&[family::TAUS]);
    // Lower bounds on the "decays" and "taus" families...
    let lb = set_matching(&lb, &decays, Bound::from(0.5))?;
    let lb = set_matching(&lb, &taus, Bound::from(0.0))?;
    // ...an upper bound on the decays, and one on a specific attribute name.
    let ub = set_matching(&ub, &decays, Bound::from(1.0))?;
    let ub = set_matching(
        &ub,
        &net.attributes_named(&["tau_syn"]),
        Bound::from(500e-3),
    )?;
    println!("lower: {lb}\nupper: {ub}");
    let (cost, _) = cost_and_grad(&net.parameters(), &lb, &ub)?;
    println!("bounds_cost(parameters) = {cost}");
    Ok((lb, ub))
}

// ----- 5. training -------------------------------------------------------------------

fn train(
    net: &mut Sequential,
    lower: &Tree<Bound>,
    upper: &Tree<Bound>,
    sizes: &Sizes,
) -> Result<()> {
    heading("5. Training with the bounds penalty in the loss");
    // Start with some decay factors below their lower bound of 0.5.
    let mut params = net.parameters();
    for (path, value) in [
        ("1_LIF/alpha", 0.3),
        ("1_LIF/beta", 0.4),
        ("2_Residual/1_LIF/beta", 0.35),
    ] {
        let path = Path::parse(path);
        let shape = params.get_nested(&path)?.shape().clone();
        params.set_nested(&path, Tensor::full(shape, value))?;
    }
    net.set_attributes(&params)?;
    let (penalty, _) = cost_and_grad(&net.parameters(), lower, upper)?;
    println!("Some decays moved below their bounds; bounds_cost = {penalty:.4}:");
    print_violations(&net.parameters(), lower, upper)?;

    // The built-in task: frozen Poisson input spikes -> smooth target signals.
    let data = tutorial_task(&TutorialTask {
        samples: sizes.batch,
        t: sizes.timesteps,
        n_in: net.size_in(),
        n_out: net.size_out(),
        input_prob: 0.1,
        seed: 0,
    });
    let batch = data.batch(&(0..sizes.batch).collect::<Vec<_>>())?;
    let targets = batch
        .targets
        .context("the tutorial task has signal targets")?;
    let silent = targets.iter().map(|y| y * y).sum::<f32>() / targets.len() as f32;

    // loss = sum over time of the mse term + 1.0 * bounds_cost(params).
    let mut options = TraceOptions::new(sizes.batch, sizes.timesteps);
    options.bounds = Some(BoundsPenalty {
        lower: lower.clone(),
        upper: upper.clone(),
        weight: 1.0,
    });
    // A lower bound of 0 on the time constants costs nothing until a tau is
    // already negative, and there exp(-dt / tau) overflows. Adam at lr 1e-2
    // moves a 20 ms tau by up to 10 ms a step, so the penalty alone cannot
    // keep it positive: a projection after each update keeps every "taus"
    // parameter at least dt (1 ms). Everything else is left to the penalty.
    let clip: Vec<ClipRange> = net
        .parameter_info()
        .iter()
        .map(|info| ClipRange {
            lower: if info.family.as_deref() == Some(family::TAUS) {
                1e-3
            } else {
                f32::NEG_INFINITY
            },
            upper: f32::INFINITY,
        })
        .collect();
    let mut trainer = Trainer::new(
        net,
        &options,
        Box::new(Adam::new(1e-2)),
        Some(clip),
        &TrainerOptions::default(),
    )?;
    trainer.set_data(&batch.inputs, &targets)?;
    println!(
        "\nCompiled in {:.1} ms (batch {}, T {}, {} bytes of tape per step, JIT backend).",
        trainer.compile_seconds() * 1e3,
        sizes.batch,
        sizes.timesteps,
        trainer.tape_bytes_per_step(),
    );
    println!("Adam, lr 1e-2; loss = mse + bounds_cost (a silent network's mse is {silent:.4})\n");
    println!("  epoch   task loss     penalty       total");
    let mut initial = None;
    let mut inside_at = None;
    for epoch in 1..=sizes.epochs {
        // The loss of the parameters before this epoch's update.
        let loss = trainer.step()?;
        initial.get_or_insert(loss);
        if loss.penalty == 0.0 && inside_at.is_none() {
            inside_at = Some(epoch);
        }
        if epoch == 1 || epoch % sizes.report_every == 0 {
            print_loss(&epoch.to_string(), loss.task, loss.penalty);
        }
    }
    let initial = initial.context("no epochs were run")?;
    let end = trainer.evaluate()?;
    print_loss("final", end.task, end.penalty);
    if let Some(epoch) = inside_at {
        println!("\nThe penalty first reached 0 at epoch {epoch}.");
    }
    println!("After training:");
    print_violations(&trainer.param_tree(), lower, upper)?;
    println!(
        "\ninitial penalty {:.4} -> final penalty {}; task loss {:.4} -> {:.4}",
        initial.penalty, end.penalty, initial.task, end.task
    );
    ensure!(end.total().is_finite(), "the final loss is not finite");
    Ok(())
}

fn print_loss(epoch: &str, task: f32, penalty: f32) {
    println!(
        "  {epoch:>5}  {task:10.5}  {penalty:10.5}  {:10.5}",
        task + penalty
    );
}

/// Prints, for every bounded parameter, its range of values and whether it
/// is inside its bounds.
fn print_violations(params: &Tree<Tensor>, lower: &Tree<Bound>, upper: &Tree<Bound>) -> Result<()> {
    for (path, tensor) in params.leaves() {
        let lo = uniform(lower.get_nested(&path)?);
        let hi = uniform(upper.get_nested(&path)?);
        if lo == f32::NEG_INFINITY && hi == f32::INFINITY {
            continue;
        }
        let min = tensor.data().iter().copied().fold(f32::INFINITY, f32::min);
        let max = tensor
            .data()
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        let inside = min >= lo && max <= hi;
        println!(
            "  {:<24} in [{min:.4}, {max:.4}], bounds [{lo}, {hi}]  {}",
            path.joined(),
            if inside { "inside" } else { "OUTSIDE" }
        );
    }
    Ok(())
}

fn uniform(bound: &Bound) -> f32 {
    bound.uniform_value().unwrap_or(f32::NAN)
}

// ----- bounds_cost as a graph --------------------------------------------------

/// `bounds_cost(params, lower, upper)` and its gradient with respect to every
/// parameter, by building the cost graph (as training does), differentiating
/// it symbolically and running it on the interpreter.
fn cost_and_grad(
    params: &Tree<Tensor>,
    lower: &Tree<Bound>,
    upper: &Tree<Bound>,
) -> Result<(f32, Tree<Tensor>)> {
    let mut g = Graph::new();
    let mut args: Vec<Vec<f32>> = Vec::new();
    let mut declared: Vec<Value> = Vec::new();
    let values = params.map_with_path(&mut |path, t: &Tensor| {
        let v = g.arg(
            ArgKind::Param,
            args.len(),
            &path.joined(),
            t.shape().clone(),
        );
        args.push(t.data().to_vec());
        declared.push(v);
        v
    });
    // Per-element bounds that vary become extra arguments.
    let mut extra: Vec<Vec<f32>> = Vec::new();
    let cost = bounds_cost(&mut g, &values, lower, upper, &mut |g, path, t| {
        let v = g.arg(
            ArgKind::Input,
            extra.len(),
            &format!("bound {path}"),
            t.shape().clone(),
        );
        extra.push(t.data().to_vec());
        Ok(v)
    })?;
    let one = g.scalar(1.0);
    let grads = backprop(&mut g, &[(cost, one)], &declared)?;
    g.output(OutKind::Loss, 0, "bounds_cost", cost);
    for (slot, &grad) in grads.iter().enumerate() {
        g.output(OutKind::ParamGrad, slot, "grad", grad);
    }
    args.extend(extra);
    let views: Vec<&[f32]> = args.iter().map(Vec::as_slice).collect();
    let results = evaluate(&g, &views)?;
    let mut slot = 0;
    let grad_tree = params.map(|t| {
        slot += 1;
        Tensor::new(t.shape().clone(), results[slot].clone())
            .expect("gradient has the shape of its parameter")
    });
    Ok((results[0][0], grad_tree))
}

fn heading(title: &str) {
    println!("\n## {title}\n");
}
