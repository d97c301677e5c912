//! A user-defined module gets tracing, gradients and the tree API for
//! free: it declares its attributes and writes one timestep against the
//! graph builder; neurojit differentiates it through time.
//!
//! Run with `cargo run --release --example custom_module`.

use neurojit::nn::{describe, Attribute, Linear, Module, ModuleError, Sequential, StepContext};
use neurojit::trace::{trace, TraceOptions};
use neurojit::tree::Tensor;
use neurojit_compiler::interp::Interpreter;
use neurojit_compiler::ir::Value;
use neurojit_compiler::program::compile_training;
use neurojit_runtime::Session;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// `h_t = decay * h_{t-1} + x_t`, `y_t = gain * h_t`, per channel.
#[derive(Debug)]
struct LeakyIntegrator {
    n: usize,
    attributes: Vec<Attribute>,
}

impl LeakyIntegrator {
    fn new(n: usize) -> LeakyIntegrator {
        LeakyIntegrator {
            n,
            attributes: vec![
                Attribute::parameter("decay", "decays", Tensor::full([n], 0.9)),
                Attribute::parameter("gain", "weights", Tensor::full([n], 0.5)),
                Attribute::state("h", Tensor::zeros([n])),
            ],
        }
    }
}

impl Module for LeakyIntegrator {
    fn class_name(&self) -> &str {
        "LeakyIntegrator"
    }

    fn shape(&self) -> (usize, usize) {
        (self.n, self.n)
    }

    fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    fn attributes_mut(&mut self) -> &mut [Attribute] {
        &mut self.attributes
    }

    fn step(&self, ctx: &mut StepContext<'_>, x: Value) -> Result<Value, ModuleError> {
        let decay = ctx.param("decay")?;
        let gain = ctx.param("gain")?;
        let h_prev = ctx.state("h")?;
        let (h, y) = ctx.build(|g| {
            let leaked = g.mul(h_prev, decay)?;
            let h = g.add(leaked, x)?;
            Ok((h, g.mul(h, gain)?))
        })?;
        ctx.set_state("h", h)?;
        ctx.record("h", h);
        Ok(y)
    }
}

fn main() -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(0);
    let net = Sequential::new(vec![
        Linear::new(2, 3, &mut rng).boxed(),
        Box::new(LeakyIntegrator::new(3)),
    ])?;
    println!("{}\n", describe(&net));
    println!("parameters: {}\n", net.parameters());
    println!(
        "parameters(\"decays\"): {}\n",
        net.parameters_of(&["decays"])
    );

    let (batch, steps) = (1, 4);
    let traced = trace(&net, &TraceOptions::new(batch, steps))?;
    println!("traced step:\n{}", traced.program.step);
    let programs = compile_training(&traced.program)?;
    println!("backward step (gradient):\n{}", programs.backward);

    // Forward and backward through time on the interpreter.
    let mut session = Session::new(programs, &Interpreter, steps)?;
    let params: Vec<Vec<f32>> = net
        .parameters()
        .leaf_values()
        .iter()
        .map(|t| t.data().to_vec())
        .collect();
    for (slot, values) in params.iter().enumerate() {
        session.set_param(slot, values)?;
    }
    let inputs: Vec<f32> = (0..batch * steps * 2)
        .map(|i| (i as f32 * 0.7).sin())
        .collect();
    let targets = vec![0.25; batch * steps * 3];
    session.set_data(&inputs, &targets)?;
    let loss = session.forward()?;
    session.backward()?;
    println!("loss = {}", loss.total());
    for (info, grad) in traced.program.params.iter().zip(session.grads()) {
        println!("d loss / d {:<12} = {:?}", info.name, grad);
    }

    // The gradient agrees with a finite difference of the loss.
    let slot = traced
        .program
        .params
        .iter()
        .position(|s| s.name == "1_LeakyIntegrator/decay")
        .unwrap();
    let autodiff = session.grads()[slot][0];
    let h = 1e-3;
    let mut shifted = params[slot].clone();
    shifted[0] += h;
    session.set_param(slot, &shifted)?;
    let plus = session.forward()?.total();
    shifted[0] -= 2.0 * h;
    session.set_param(slot, &shifted)?;
    let minus = session.forward()?.total();
    println!(
        "finite difference for decay[0]: {} (autodiff {})",
        (plus - minus) / (2.0 * h),
        autodiff
    );
    Ok(())
}
