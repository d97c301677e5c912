//! Tracing: the step program's signature (parameter and state slots named
//! by path, in tree order, with batched shapes), its agreement with the
//! unrolled graph when stepped by hand, LIF dynamics against an
//! independent re-implementation, and tracing errors.

use neurojit::bounds::{make_bounds, Bound};
use neurojit::nn::{
    Attribute, LeakMode, Lif, Linear, Module, ModuleError, RecordOptions, Sequential, StepContext,
};
use neurojit::trace::{trace, unroll, BoundsPenalty, StepLoss, TraceError, TraceOptions};
use neurojit::tree::{set_matching, Path, Tensor, Tree};
use neurojit_compiler::interp::evaluate;
use neurojit_compiler::ir::{ArgKind, Graph, OutKind, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn small_network(rng: &mut StdRng) -> Sequential {
    Sequential::new(vec![
        Linear::new(2, 4, rng).boxed(),
        Lif::with_synapses(2, 2).recurrent(rng).boxed(),
        Linear::new(2, 3, rng).with_bias(rng).boxed(),
        Lif::new(3).leak_mode(LeakMode::Decays).boxed(),
    ])
    .unwrap()
}

#[test]
fn step_program_slots_follow_the_trees() {
    let mut rng = StdRng::seed_from_u64(11);
    let net = small_network(&mut rng);
    let mut options = TraceOptions::new(2, 10);
    options.record = RecordOptions::all();
    let traced = trace(&net, &options).unwrap();
    let p = &traced.program;
    let names: Vec<&str> = p.params.iter().map(|s| s.name.as_str()).collect();
    let expected: Vec<String> = net
        .parameters()
        .branches()
        .iter()
        .map(Path::joined)
        .collect();
    assert_eq!(names, expected);
    assert!(p.params.iter().enumerate().all(|(i, s)| s.slot == i));
    // The recurrent LIF carries its spikes; the feed-forward one does not.
    let states: Vec<(&str, Vec<usize>)> = p
        .states
        .iter()
        .map(|s| (s.name.as_str(), s.shape.dims().to_vec()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("1_LIF/vmem", vec![2, 2]),
            ("1_LIF/isyn", vec![2, 2, 2]),
            ("1_LIF/spikes", vec![2, 2]),
            ("3_LIF/vmem", vec![2, 3]),
            ("3_LIF/isyn", vec![2, 3, 1]),
        ]
    );
    for (s, slot) in p.states.iter().enumerate() {
        let arg = p
            .step
            .args()
            .iter()
            .find(|a| a.kind == ArgKind::State && a.slot == s)
            .unwrap();
        assert_eq!(arg.name, slot.name);
        assert!(p
            .step
            .outputs()
            .iter()
            .any(|o| o.kind == OutKind::State && o.slot == s && o.name == slot.name));
    }
    assert_eq!(p.input.dims(), &[2, 2]);
    assert_eq!(p.target.dims(), &[2, 3]);
    let records: Vec<String> = traced
        .records
        .iter()
        .map(|r| format!("{}:{}", r.module, r.name))
        .collect();
    assert_eq!(
        records,
        vec![
            "0_Linear:output",
            "1_LIF:vmem",
            "1_LIF:isyn",
            "1_LIF:irec",
            "1_LIF:output",
            "2_Linear:output",
            "3_LIF:vmem",
            "3_LIF:isyn",
            "3_LIF:irec",
            "3_LIF:output"
        ]
    );
    assert_eq!(p.param_loss.outputs().len(), 1);
}

/// Feeds a graph's arguments from a lookup by kind and slot.
fn run(graph: &Graph, lookup: &dyn Fn(ArgKind, usize) -> Vec<f32>) -> Vec<Vec<f32>> {
    let data: Vec<Vec<f32>> = graph
        .args()
        .iter()
        .map(|a| lookup(a.kind, a.slot))
        .collect();
    let views: Vec<&[f32]> = data.iter().map(Vec::as_slice).collect();
    evaluate(graph, &views).unwrap()
}

#[test]
fn stepping_the_program_by_hand_matches_the_unrolled_graph() {
    for loss in [StepLoss::Mse, StepLoss::Sse, StepLoss::CrossEntropy] {
        step_by_hand_against_unrolled(loss);
    }
}

fn step_by_hand_against_unrolled(loss_kind: StepLoss) {
    let mut rng = StdRng::seed_from_u64(5);
    let net = small_network(&mut rng);
    let (b, steps) = (2, 12);
    let params: Vec<Vec<f32>> = net
        .parameters()
        .leaf_values()
        .iter()
        .map(|t| t.data().to_vec())
        .collect();
    let inputs: Vec<Vec<f32>> = (0..steps)
        .map(|_| (0..b * 2).map(|_| rng.random_range(-8.0..8.0)).collect())
        .collect();
    let targets: Vec<Vec<f32>> = (0..steps)
        .map(|_| (0..b * 3).map(|_| rng.random_range(0.0..1.0)).collect())
        .collect();

    let mut options = TraceOptions::new(b, steps);
    options.loss = loss_kind;
    let traced = trace(&net, &options).unwrap();
    let step = &traced.program.step;
    let mut state: Vec<Vec<f32>> = traced
        .program
        .states
        .iter()
        .map(|s| vec![0.0; s.shape.numel()])
        .collect();
    let mut predictions = Vec::new();
    let mut loss = 0.0;
    for t in 0..steps {
        let out = run(step, &|kind, slot| match kind {
            ArgKind::Param => params[slot].clone(),
            ArgKind::State => state[slot].clone(),
            ArgKind::Input => inputs[t].clone(),
            ArgKind::Target => targets[t].clone(),
            other => panic!("unexpected argument {other:?}"),
        });
        for (o, value) in step.outputs().iter().zip(out) {
            match o.kind {
                OutKind::State => state[o.slot] = value,
                OutKind::Prediction => predictions.push(value),
                OutKind::Loss => loss += value[0],
                _ => {}
            }
        }
    }

    let mut un = unroll(&net, &options).unwrap();
    for (t, &y) in un.outputs.clone().iter().enumerate() {
        un.graph.output(OutKind::Prediction, t, "y", y);
    }
    un.graph.output(OutKind::Loss, 0, "loss", un.loss);
    let out = run(&un.graph, &|kind, slot| match kind {
        ArgKind::Param => params[slot].clone(),
        ArgKind::Input => inputs[slot].clone(),
        ArgKind::Target => targets[slot].clone(),
        other => panic!("unexpected argument {other:?}"),
    });
    assert_eq!(&out[..steps], predictions.as_slice());
    assert!(
        predictions.iter().flatten().any(|&s| s > 0.0),
        "the network never spiked"
    );
    let unrolled_loss = out[steps][0];
    assert!(
        (unrolled_loss - loss).abs() <= 1e-5 * unrolled_loss.abs().max(1.0),
        "{unrolled_loss} vs {loss}"
    );
}

/// The LIF step written out with plain f32 loops, in the order the
/// reference README gives.
fn reference_lif(
    w_rec: &[f32],
    tau_mem: &[f32],
    tau_syn: &[f32],
    bias: &[f32],
    threshold: &[f32],
    inputs: &[Vec<f32>],
    (b, n, k): (usize, usize, usize),
) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let dt = 1e-3f32;
    let mut vmem = vec![0.0f32; b * n];
    let mut isyn = vec![0.0f32; b * n * k];
    let mut spikes = vec![0.0f32; b * n];
    let (mut out, mut vmems) = (Vec::new(), Vec::new());
    for x in inputs {
        let mut new_spikes = vec![0.0; b * n];
        for bi in 0..b {
            for i in 0..n * k {
                let rec: f32 = (0..n)
                    .map(|j| spikes[bi * n + j] * w_rec[j * n * k + i])
                    .sum();
                let idx = bi * n * k + i;
                isyn[idx] += x[bi * n * k + i] + rec;
            }
            for j in 0..n {
                let alpha = (-dt / tau_mem[j]).exp();
                let v = &mut vmem[bi * n + j];
                *v *= alpha;
                let mut current = 0.0;
                for s in 0..k {
                    let idx = bi * n * k + j * k + s;
                    isyn[idx] *= (-dt / tau_syn[j * k + s]).exp();
                    current += isyn[idx];
                }
                *v += current + bias[j];
                let th = threshold[j];
                let count = if *v >= th {
                    (*v / th).floor().min(65536.0)
                } else {
                    0.0
                };
                *v -= count * th;
                new_spikes[bi * n + j] = count;
            }
        }
        spikes = new_spikes;
        out.push(spikes.clone());
        vmems.push(vmem.clone());
    }
    (out, vmems)
}

#[test]
fn lif_matches_an_independent_implementation() {
    let mut rng = StdRng::seed_from_u64(21);
    let (b, n, k, steps) = (2, 3, 2, 40);
    let mut lif = Lif::with_synapses(n, k).recurrent(&mut rng);
    let mut values = Tree::new();
    let mut random = |shape: &[usize], lo: f32, hi: f32| {
        let data = (0..shape.iter().product())
            .map(|_| rng.random_range(lo..hi))
            .collect();
        Tensor::new(shape, data).unwrap()
    };
    values.insert_leaf("w_rec", random(&[n, n * k], -0.2, 0.05));
    values.insert_leaf("tau_mem", random(&[n], 0.005, 0.05));
    values.insert_leaf("tau_syn", random(&[n, k], 0.005, 0.05));
    values.insert_leaf("bias", random(&[n], -0.05, 0.1));
    values.insert_leaf("threshold", random(&[n], 0.5, 1.5));
    let inputs: Vec<Vec<f32>> = (0..steps)
        .map(|_| {
            (0..b * n * k)
                .map(|_| rng.random_range(-0.1..0.4))
                .collect()
        })
        .collect();
    lif.set_attributes(&values).unwrap();

    let mut options = TraceOptions::new(b, steps);
    options.record.neuron_states = true;
    let mut un = unroll(&lif, &options).unwrap();
    for (t, &y) in un.outputs.clone().iter().enumerate() {
        un.graph.output(OutKind::Prediction, t, "s", y);
    }
    // The membrane potential after each step's reset, as recorded.
    let (_, _, recorded_vmem) = un
        .records
        .iter()
        .find(|(_, name, _)| name == "vmem")
        .cloned()
        .expect("LIF records vmem");
    for (t, &v) in recorded_vmem.iter().enumerate() {
        un.graph.output(OutKind::Prediction, steps + t, "vmem", v);
    }
    let params: Vec<Vec<f32>> = lif
        .parameters()
        .leaf_values()
        .iter()
        .map(|t| t.data().to_vec())
        .collect();
    let out = run(&un.graph, &|kind, slot| match kind {
        ArgKind::Param => params[slot].clone(),
        ArgKind::Input => inputs[slot].clone(),
        ArgKind::Target => vec![0.0; b * n],
        other => panic!("unexpected argument {other:?}"),
    });
    let leaf = |name: &str| {
        values
            .get_nested(&Path::from([name]))
            .unwrap()
            .data()
            .to_vec()
    };
    let (spikes, vmems) = reference_lif(
        &leaf("w_rec"),
        &leaf("tau_mem"),
        &leaf("tau_syn"),
        &leaf("bias"),
        &leaf("threshold"),
        &inputs,
        (b, n, k),
    );
    let (out_spikes, out_vmems) = out.split_at(steps);
    assert_eq!(out_spikes, spikes);
    assert_eq!(out_vmems.len(), vmems.len());
    for (t, (got, expected)) in out_vmems.iter().zip(&vmems).enumerate() {
        assert_eq!(got.len(), expected.len(), "vmem at step {t}");
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() <= 1e-6 * e.abs().max(1.0),
                "vmem at step {t}: {got:?} against {expected:?}"
            );
        }
    }
    let all: Vec<f32> = spikes.into_iter().flatten().collect();
    assert!(
        all.contains(&1.0) && all.contains(&0.0),
        "the layer should spike sometimes: {all:?}"
    );
    assert!(all.iter().all(|&s| s < 100.0), "runaway activity: {all:?}");
}

/// Modules that misuse the step context: `Truncating` returns the wrong
/// width, `Foreign` a value built in a graph of its own, and `Twice` sets
/// its state twice in one step.
#[derive(Debug)]
struct Misbehaving {
    class: &'static str,
    attributes: Vec<Attribute>,
}

impl Misbehaving {
    fn new(class: &'static str) -> Misbehaving {
        let attributes = vec![Attribute::state("h", Tensor::zeros([3]))];
        Misbehaving { class, attributes }
    }
}

impl Module for Misbehaving {
    fn class_name(&self) -> &str {
        self.class
    }
    fn shape(&self) -> (usize, usize) {
        (3, 3)
    }
    fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }
    fn attributes_mut(&mut self) -> &mut [Attribute] {
        &mut self.attributes
    }
    fn step(&self, ctx: &mut StepContext<'_>, input: Value) -> Result<Value, ModuleError> {
        match self.class {
            "Truncating" => {
                let b = ctx.batch();
                ctx.build(|g| {
                    let summed = g.reduce_sum(input, 1)?;
                    g.reshape(summed, &[b, 1].into())
                })
            }
            "Foreign" | "ForeignRecord" => {
                let mut own = Graph::new();
                // Distinct constants (the builder merges equal ones).
                for i in 0..1000 {
                    own.scalar(i as f32);
                }
                let foreign = own.scalar(-1.0);
                if self.class == "Foreign" {
                    return Ok(foreign);
                }
                ctx.record("x", foreign);
                Ok(input)
            }
            _ => {
                let h = ctx.state("h")?;
                let once = ctx.build(|g| g.add(h, input))?;
                ctx.set_state("h", once)?;
                let again = ctx.build(|g| g.add(once, input))?;
                ctx.set_state("h", again)?;
                Ok(again)
            }
        }
    }
}

#[test]
fn misused_step_contexts_are_errors_naming_the_module() {
    let mut rng = StdRng::seed_from_u64(2);
    for (class, expected) in [
        (
            "Foreign",
            "1_Foreign: the value its step returned is %1000, not a value of the traced graph",
        ),
        ("Twice", "1_Twice: state `h` is set twice in one step"),
        (
            "ForeignRecord",
            "1_ForeignRecord: record `x` is %1000, not a value of the traced graph",
        ),
    ] {
        let module = Misbehaving::new(class);
        let net =
            Sequential::new(vec![Linear::new(2, 3, &mut rng).boxed(), Box::new(module)]).unwrap();
        let mut options = TraceOptions::new(4, 5);
        // Records are kept (and checked) when asked for.
        options.record = RecordOptions::all();
        let err = trace(&net, &options).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{err}");
    }
    // Names are parameter-tree keys: no `/`, none empty, none repeated.
    for (names, expected) in [
        (
            ["a/b", "c"],
            "1_Twice: attribute `a/b`: expected a name without `/`",
        ),
        (
            ["", "c"],
            "1_Twice: attribute ``: expected a non-empty name",
        ),
        (
            ["h", "h"],
            "1_Twice: attribute `h`: another attribute of this module has this name",
        ),
    ] {
        let mut module = Misbehaving::new("Twice");
        module.attributes = names
            .iter()
            .map(|n| Attribute::parameter(n, "weights", Tensor::zeros([3])))
            .collect();
        let net =
            Sequential::new(vec![Linear::new(2, 3, &mut rng).boxed(), Box::new(module)]).unwrap();
        let err = trace(&net, &TraceOptions::new(4, 5))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(expected), "{err}");
    }
}

#[test]
fn tracing_errors_name_the_module_and_shapes() {
    let mut rng = StdRng::seed_from_u64(2);
    let net = Sequential::new(vec![
        Linear::new(2, 3, &mut rng).boxed(),
        Box::new(Misbehaving::new("Truncating")),
    ])
    .unwrap();
    let err = trace(&net, &TraceOptions::new(4, 5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1_Truncating: step produced shape [4,1], expected [4,3]"
    );
    assert!(matches!(
        trace(&net, &TraceOptions::new(0, 5)),
        Err(TraceError::Size { what: "batch" })
    ));
}

#[test]
fn bounds_must_fit_the_parameters_and_varying_ones_become_fixed_tensors() {
    let net = Lif::new(2);
    let (lb, ub) = make_bounds(&net.parameters());
    // A per-element bound that varies is not a constant: it travels with the
    // program as a fixed tensor named after its parameter.
    let varying = Tensor::new([2], vec![0.0, 0.01]).unwrap();
    let lower = set_matching(
        &lb,
        &net.attributes_named(&["tau_mem"]),
        Bound::Array(varying),
    )
    .unwrap();
    let mut options = TraceOptions::new(1, 3);
    options.bounds = Some(BoundsPenalty {
        lower,
        upper: ub.clone(),
        weight: 1.0,
    });
    let traced = trace(&net, &options).unwrap();
    let fixed = &traced.program.fixed;
    assert_eq!(fixed.len(), 1, "{fixed:?}");
    assert_eq!(fixed[0].slot.name, "bound of tau_mem");
    assert_eq!(fixed[0].values, vec![0.0, 0.01]);
    // A bounds tree missing a branch is an error naming it.
    let mut short = lb.clone();
    short.remove("bias");
    options.bounds = Some(BoundsPenalty {
        lower: short,
        upper: ub,
        weight: 1.0,
    });
    let err = trace(&net, &options).unwrap_err().to_string();
    assert!(err.contains("lower") && err.contains("bias"), "{err}");
}
