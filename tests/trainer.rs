//! The trainer end to end: the loss falls, the JIT and the interpreter
//! follow the same trajectory, threads change nothing but speed, and a
//! non-finite loss stops training with an error naming the step.

use neurojit::nn::{LeakMode, Lif, Linear, Sequential};
use neurojit::optim::Adam;
use neurojit::trace::TraceOptions;
use neurojit::train::{TrainError, Trainer, TrainerOptions};
use neurojit::tree::Path;
use neurojit_runtime::BackendKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const B: usize = 4;
const T: usize = 40;

fn network() -> Sequential {
    let mut rng = StdRng::seed_from_u64(7);
    Sequential::new(vec![
        Linear::new(3, 8, &mut rng).boxed(),
        // Decays, not taus: a large learning rate cannot push a decay
        // through zero into a non-finite leak.
        Lif::new(8).leak_mode(LeakMode::Decays).boxed(),
        Linear::new(8, 2, &mut rng).boxed(),
        Lif::new(2).leak_mode(LeakMode::Decays).boxed(),
    ])
    .unwrap()
}

fn data() -> (Vec<f32>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(3);
    let inputs = (0..B * T * 3).map(|_| rng.random_range(0.0..4.0)).collect();
    let targets = (0..B * T * 2).map(|_| rng.random_range(0.0..1.0)).collect();
    (inputs, targets)
}

fn trainer(backend: BackendKind, threads: usize) -> Trainer {
    let net = network();
    let options = TraceOptions::new(B, T);
    let run = TrainerOptions {
        backend,
        threads,
        ..TrainerOptions::default()
    };
    let mut trainer = Trainer::new(&net, &options, Box::new(Adam::new(1e-2)), None, &run).unwrap();
    let (x, y) = data();
    trainer.set_data(&x, &y).unwrap();
    trainer
}

fn losses(trainer: &mut Trainer, steps: usize) -> Vec<f32> {
    (0..steps)
        .map(|_| trainer.step().unwrap().total())
        .collect()
}

#[test]
fn the_loss_falls_and_backends_agree() {
    let mut jit = trainer(BackendKind::Jit, 1);
    let mut interp = trainer(BackendKind::Interp, 1);
    let a = losses(&mut jit, 30);
    let b = losses(&mut interp, 30);
    assert!(a[29] < 0.8 * a[0], "loss did not fall: {a:?}");
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() <= 1e-4 * y.abs().max(1.0),
            "jit {x} vs interp {y}"
        );
    }
}

#[test]
fn two_threads_follow_the_single_thread_trajectory() {
    let mut one = trainer(BackendKind::Jit, 1);
    let mut two = trainer(BackendKind::Jit, 2);
    let a = losses(&mut one, 10);
    let b = losses(&mut two, 10);
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() <= 1e-4 * y.abs().max(1.0),
            "1 thread {x} vs 2 threads {y}"
        );
    }
    // A batch of 3 cannot be split in two: it runs as one shard.
    let mut odd = Trainer::new(
        &network(),
        &TraceOptions::new(3, T),
        Box::new(Adam::new(1e-3)),
        None,
        &TrainerOptions {
            threads: 2,
            ..TrainerOptions::default()
        },
    )
    .unwrap();
    assert_eq!(odd.threads(), 1);
    let (x, y) = data();
    odd.set_data(&x[..3 * T * 3], &y[..3 * T * 2]).unwrap();
    odd.step().unwrap();
}

#[test]
fn a_non_finite_loss_names_the_step() {
    let mut t = trainer(BackendKind::Jit, 1);
    t.step().unwrap();
    let path = Path::parse("1_LIF/bias");
    // A non-finite parameter is refused where it is set, named.
    let err = t.set_param(&path, &[f32::NAN; 8]).unwrap_err();
    assert!(
        err.to_string()
            .contains("parameter `1_LIF/bias` (element 0) is NaN"),
        "{err}"
    );
    // A finite one that overflows in the step stops it, naming the step.
    t.set_param(&path, &[f32::MAX; 8]).unwrap();
    let err = t.step().unwrap_err();
    assert!(
        matches!(err, TrainError::NonFinite { step: 2, .. }),
        "{err}"
    );
    let err = t.set_param(&path, &[0.0; 3]).unwrap_err();
    assert!(err.to_string().contains("1_LIF/bias"), "{err}");
}

#[test]
fn per_element_bounds_are_compiled_into_the_penalty() {
    use neurojit::bounds::{make_bounds, Bound};
    use neurojit::nn::Module;
    use neurojit::trace::BoundsPenalty;
    use neurojit::tree::Tensor;
    let net = network();
    let (mut lower, upper) = make_bounds(&net.parameters());
    // Bias of the first LIF layer starts at 0: elements with a lower bound
    // above 0 are violated, each costing exp(lower - 0).
    let bounds = [0.5f32, -1.0, 0.25, -1.0, -1.0, -1.0, 1.0, -1.0];
    let path = Path::parse("1_LIF/bias");
    lower
        .set_nested(
            &path,
            Bound::Array(Tensor::new([8], bounds.to_vec()).unwrap()),
        )
        .unwrap();
    let mut options = TraceOptions::new(B, T);
    options.bounds = Some(BoundsPenalty {
        lower,
        upper,
        weight: 1.0,
    });
    let mut t = Trainer::new(
        &net,
        &options,
        Box::new(Adam::new(1e-3)),
        None,
        &TrainerOptions::default(),
    )
    .unwrap();
    let (x, y) = data();
    t.set_data(&x, &y).unwrap();
    let penalty = t.evaluate().unwrap().penalty;
    let expected: f32 = bounds.iter().filter(|&&b| b > 0.0).map(|b| b.exp()).sum();
    assert!(
        (penalty - expected).abs() <= 1e-5 * expected,
        "{penalty} vs {expected}"
    );
    // Its gradient (-exp(lower - p), far larger than the task's) pushes the
    // violated elements up.
    t.step().unwrap();
    let bias = t.param_tree().get_nested(&path).unwrap().data().to_vec();
    for (b, lo) in bias.iter().zip(bounds) {
        if lo > 0.0 {
            assert!(*b > 0.0, "{bias:?}");
        }
    }
}

#[test]
fn layers_of_zero_neurons_are_refused_naming_the_module() {
    // Their mean loss would be 0/0. (The JIT's handling of empty values is
    // tested on hand-built programs in runtime/tests/session.rs.)
    let mut rng = StdRng::seed_from_u64(1);
    let nets = [Lif::with_synapses(0, 3), Lif::new(0).recurrent(&mut rng)];
    for net in nets {
        let options = TraceOptions::new(2, 3);
        let run = TrainerOptions::default();
        let err = Trainer::new(&net, &options, Box::new(Adam::new(1e-3)), None, &run)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("expected positive sizes"), "{err}");
    }
}

#[test]
fn data_is_checked_when_set_and_required_before_a_step() {
    let net = network();
    let options = TraceOptions::new(B, T);
    let run = TrainerOptions {
        threads: 2,
        ..TrainerOptions::default()
    };
    let mut t = Trainer::new(&net, &options, Box::new(Adam::new(1e-2)), None, &run).unwrap();
    assert!(matches!(t.step(), Err(TrainError::NoData)), "no data yet");
    assert!(matches!(t.evaluate(), Err(TrainError::NoData)));
    let (mut x, y) = data();
    // Lengths are reported for the whole batch, whatever the threads.
    let err = t.set_data(&x[1..], &y).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "inputs: expected {} values (B, T, n) = ({B}, {T}, 3), got {}",
            B * T * 3,
            B * T * 3 - 1
        )),
        "{err}"
    );
    x[T * 3 + 5] = f32::NAN;
    let err = t.set_data(&x, &y).unwrap_err().to_string();
    assert!(
        err.contains("inputs at (sample 1, step 1, channel 2) is NaN"),
        "{err}"
    );
    assert!(
        matches!(t.step(), Err(TrainError::NoData)),
        "refused data is not set"
    );
    let (x, y) = data();
    t.set_data(&x, &y).unwrap();
    t.step().unwrap();
    let err = t.set_params(&[]).unwrap_err().to_string();
    let count = t.param_slots().len();
    assert!(err.contains(&format!("{count} parameters, got 0")), "{err}");
}
