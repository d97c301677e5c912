//! Losses and optimisers built as graphs: gradients against finite
//! differences, values against hand computations, Adam and SGD against
//! f64 re-implementations, bounds clipping.

use neurojit::bounds::{clip_ranges, make_bounds, Bound, ClipRange};
use neurojit::loss::{cross_entropy, l0_norm_approx, l2sqr_norm, logsoftmax, mse, softmax};
use neurojit::nn::{Lif, Module};
use neurojit::optim::{Adam, AdamVariant, Optimizer, Sgd};
use neurojit::tree::{set_matching, Path, Tensor, Tree};
use neurojit_compiler::autodiff::backprop;
use neurojit_compiler::interp::evaluate;
use neurojit_compiler::ir::{ArgKind, Graph, OutKind, Shape, Value};
use neurojit_compiler::program::Slot;

/// A function of `x` and of fixed data arrays (fed as `Target` arguments).
type Function<'a> = &'a dyn Fn(&mut Graph, Value, &[Value]) -> Value;

/// `(f(x), df/dx)` by the interpreter and autodiff.
fn value_and_grad(x: &Tensor, data: &[Tensor], f: Function) -> (f32, Vec<f32>) {
    let mut g = Graph::new();
    let v = g.arg(ArgKind::Param, 0, "x", x.shape().clone());
    let fixed: Vec<Value> = data
        .iter()
        .enumerate()
        .map(|(i, t)| g.arg(ArgKind::Target, i, "data", t.shape().clone()))
        .collect();
    let y = f(&mut g, v, &fixed);
    let one = g.scalar(1.0);
    let dx = backprop(&mut g, &[(y, one)], &[v]).unwrap();
    g.output(OutKind::Loss, 0, "y", y);
    g.output(OutKind::ParamGrad, 0, "dx", dx[0]);
    let mut args: Vec<&[f32]> = vec![x.data()];
    args.extend(data.iter().map(Tensor::data));
    let out = evaluate(&g, &args).unwrap();
    (out[0][0], out[1].clone())
}

/// Central differences of `f` at `x` against its symbolic gradient.
fn check_gradient(name: &str, x: &Tensor, data: &[Tensor], f: Function) {
    let (_, grad) = value_and_grad(x, data, f);
    let h = 1e-2f32;
    for (i, &symbolic) in grad.iter().enumerate() {
        let mut plus = x.clone();
        let mut minus = x.clone();
        plus.data_mut()[i] += h;
        minus.data_mut()[i] -= h;
        let numeric =
            (value_and_grad(&plus, data, f).0 - value_and_grad(&minus, data, f).0) / (2.0 * h);
        let tol = 3e-3 * numeric.abs().max(1.0);
        assert!(
            (numeric - symbolic).abs() <= tol,
            "{name}: d/dx[{i}] symbolic {symbolic} vs numeric {numeric}"
        );
    }
}

fn x() -> Tensor {
    Tensor::new([2, 3], vec![0.3, -1.2, 0.8, 2.0, -0.4, 0.05]).unwrap()
}

fn leaf_tree(v: Value) -> Tree<Value> {
    Tree::from_leaves([(Path::from(["x"]), v)]).unwrap()
}

#[test]
fn smooth_losses_have_the_gradients_of_their_values() {
    let weights = Tensor::new([2, 3], vec![0.5, -1.0, 2.0, 0.25, 1.5, -0.75]).unwrap();
    let probabilities = Tensor::new([2, 3], vec![0.2, 0.5, 0.3, 0.0, 0.0, 1.0]).unwrap();
    let weighted_sum = |g: &mut Graph, y: Value, w: Value| {
        let p = g.mul(y, w).unwrap();
        g.sum_all(p)
    };
    check_gradient("l2sqr_norm", &x(), &[], &|g, x, _| {
        l2sqr_norm(g, &leaf_tree(x)).unwrap()
    });
    check_gradient("l0_norm_approx", &x(), &[], &|g, x, _| {
        l0_norm_approx(g, &leaf_tree(x), 0.5).unwrap()
    });
    check_gradient(
        "softmax",
        &x(),
        std::slice::from_ref(&weights),
        &|g, x, d| {
            let y = softmax(g, x, 1.3).unwrap();
            weighted_sum(g, y, d[0])
        },
    );
    check_gradient(
        "logsoftmax",
        &x(),
        std::slice::from_ref(&weights),
        &|g, x, d| {
            let y = logsoftmax(g, x, 0.7).unwrap();
            weighted_sum(g, y, d[0])
        },
    );
    check_gradient("cross_entropy", &x(), &[probabilities], &|g, x, d| {
        cross_entropy(g, x, d[0]).unwrap()
    });
    check_gradient("mse", &x(), &[weights], &|g, x, d| mse(g, x, d[0]).unwrap());
}

#[test]
fn softmax_is_stable_for_large_inputs() {
    let x = Tensor::new([2], vec![1000.0, 1001.0]).unwrap();
    let picked = Tensor::new([2], vec![0.0, 1.0]).unwrap();
    let (value, _) = value_and_grad(&x, &[picked], &|g, x, d| {
        let y = softmax(g, x, 1.0).unwrap();
        let p = g.mul(y, d[0]).unwrap();
        g.sum_all(p)
    });
    let e = std::f64::consts::E;
    assert!((value as f64 - e / (1.0 + e)).abs() < 1e-6, "{value}");
}

#[test]
fn cross_entropy_averages_rows() {
    let logits = Tensor::new([2, 2], vec![0.0, 3f32.ln(), 1.0, 1.0]).unwrap();
    let one_hot = Tensor::new([2, 2], vec![0.0, 1.0, 1.0, 0.0]).unwrap();
    let (value, grad) = value_and_grad(&logits, &[one_hot], &|g, x, d| {
        cross_entropy(g, x, d[0]).unwrap()
    });
    // -(ln(3/4) + ln(1/2)) / 2 ; gradient (softmax - target) / B
    let expected = -((0.75f64).ln() + (0.5f64).ln()) / 2.0;
    assert!(
        (value as f64 - expected).abs() < 1e-6,
        "{value} vs {expected}"
    );
    let want = [0.125, -0.125, -0.25, 0.25];
    for (a, b) in grad.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{grad:?}");
    }
}

/// Adam in f64, as both libraries define it mathematically.
fn adam_reference(p: &[f64], grads: &[Vec<f64>], lr: f64) -> Vec<f64> {
    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    let mut p = p.to_vec();
    let mut m = vec![0.0; p.len()];
    let mut v = vec![0.0; p.len()];
    for (k, g) in grads.iter().enumerate() {
        let k = (k + 1) as i32;
        for i in 0..p.len() {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(k));
            let v_hat = v[i] / (1.0 - b2.powi(k));
            p[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
    p
}

/// Adam in f32, in the order of operations read from each library's
/// update (optax's `scale_by_adam`, torch's single-tensor `Adam.step`;
/// hyperparameters are Python floats: f64, rounded to f32 where they meet a
/// tensor). This pins each variant's order and tells them apart; the
/// Rockpool `train` reference cases compare against the libraries' own
/// runs.
/// - optax: `m = (1-b1) g + b1 m`, `v = (1-b2) g^2 + b2 v`, bias
///   corrections `1 - b^k` in f32, `u = (m / bc1) / (sqrt(v / bc2) + eps)`,
///   `p + u * (-lr)`;
/// - torch: `m.lerp_(g, 1-b1)` (`m + (1-b1)(g - m)`), `v * b2 +
///   (1-b2) g g`, corrections in f64, `denom = sqrt(v) / sqrt(bc2) + eps`,
///   `p + (-lr / bc1) * (m / denom)`.
fn adam_f32_reference(variant: AdamVariant, p: &[f32], grads: &[Vec<f32>], lr: f64) -> Vec<f32> {
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let mut p = p.to_vec();
    let mut m = vec![0.0f32; p.len()];
    let mut v = vec![0.0f32; p.len()];
    for (k, g) in grads.iter().enumerate() {
        let k = (k + 1) as i32;
        for i in 0..p.len() {
            match variant {
                AdamVariant::Optax => {
                    m[i] = (1.0 - b1) as f32 * g[i] + b1 as f32 * m[i];
                    v[i] = (1.0 - b2) as f32 * (g[i] * g[i]) + b2 as f32 * v[i];
                    let bc1 = 1.0 - (b1 as f32).powi(k);
                    let bc2 = 1.0 - (b2 as f32).powi(k);
                    let u = (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps as f32);
                    p[i] += u * (-lr as f32);
                }
                AdamVariant::Torch => {
                    m[i] += (1.0 - b1) as f32 * (g[i] - m[i]);
                    v[i] = v[i] * b2 as f32 + (1.0 - b2) as f32 * g[i] * g[i];
                    let bc1 = 1.0 - b1.powi(k);
                    let bc2 = 1.0 - b2.powi(k);
                    let denom = v[i].sqrt() / bc2.sqrt() as f32 + eps as f32;
                    p[i] += (-lr / bc1) as f32 * (m[i] / denom);
                }
            }
        }
    }
    p
}

/// Runs `steps` updates of `opt` on one parameter with the given gradients.
fn run_updates(
    opt: &dyn Optimizer,
    p: &[f32],
    grads: &[Vec<f32>],
    clip: Option<&[ClipRange]>,
) -> Vec<f32> {
    let slots = vec![Slot {
        slot: 0,
        name: "w".into(),
        shape: Shape::from([p.len()]),
    }];
    let update = opt.update_graph(&slots, clip).unwrap();
    let mut p = p.to_vec();
    let mut moments = vec![vec![0.0f32; p.len()]; opt.moments_per_parameter()];
    for (k, g) in grads.iter().enumerate() {
        let scalars = opt.step_scalars(k as u64 + 1);
        let args: Vec<Vec<f32>> = update
            .args()
            .iter()
            .map(|a| match a.kind {
                ArgKind::Param => p.clone(),
                ArgKind::Grad => g.clone(),
                ArgKind::Moment => moments[a.slot].clone(),
                ArgKind::Scalar => vec![scalars[a.slot]],
                other => panic!("unexpected argument {other:?}"),
            })
            .collect();
        let views: Vec<&[f32]> = args.iter().map(Vec::as_slice).collect();
        let out = evaluate(&update, &views).unwrap();
        for (o, value) in update.outputs().iter().zip(out) {
            match o.kind {
                OutKind::Param => p = value,
                OutKind::Moment => moments[o.slot] = value,
                other => panic!("unexpected output {other:?}"),
            }
        }
    }
    p
}

#[test]
fn adam_variants_follow_the_algorithm() {
    let p0 = [0.5f32, -0.25, 1.0, 0.0];
    let grads: Vec<Vec<f32>> = vec![
        vec![0.3, -2.0, 0.0, 1e-3],
        vec![0.1, -1.0, 0.0, -1e-3],
        vec![-0.2, 0.5, 0.0, 2e-3],
    ];
    let grads64: Vec<Vec<f64>> = grads
        .iter()
        .map(|g| g.iter().map(|&x| x as f64).collect())
        .collect();
    let p64: Vec<f64> = p0.iter().map(|&x| x as f64).collect();
    let want = adam_reference(&p64, &grads64, 1e-2);
    for variant in [AdamVariant::Optax, AdamVariant::Torch] {
        let adam = Adam::new(1e-2).variant(variant);
        let got = run_updates(&adam, &p0, &grads, None);
        for (a, b) in got.iter().zip(&want) {
            assert!(
                (*a as f64 - b).abs() < 1e-6,
                "{variant:?}: {got:?} vs {want:?}"
            );
        }
        // Bit for bit the order written out above.
        let exact = adam_f32_reference(variant, &p0, &grads, 1e-2);
        assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            exact.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            "{variant:?}: {got:?} vs {exact:?}"
        );
        // A zero gradient leaves the parameter unchanged.
        assert_eq!(got[2], 1.0);
        // The first step moves by almost exactly lr * sign(g).
        let one = run_updates(&adam, &p0, &grads[..1], None);
        assert!((one[1] - (-0.25 + 1e-2)).abs() < 1e-6, "{one:?}");
    }
    // The two orders round differently on these gradients, so the bitwise
    // checks above tell the variants apart.
    assert_ne!(
        adam_f32_reference(AdamVariant::Optax, &p0, &grads, 1e-2),
        adam_f32_reference(AdamVariant::Torch, &p0, &grads, 1e-2)
    );
}

#[test]
fn sgd_steps_against_the_gradient_and_clipping_projects_into_bounds() {
    let sgd = Sgd::new(0.1);
    let got = run_updates(&sgd, &[1.0, 2.0], &[vec![1.0, -1.0]], None);
    assert!(
        (got[0] - 0.9).abs() < 1e-7 && (got[1] - 2.1).abs() < 1e-7,
        "{got:?}"
    );
    let clip = [ClipRange {
        lower: 0.95,
        upper: 2.05,
    }];
    let got = run_updates(&sgd, &[1.0, 2.0], &[vec![1.0, -1.0]], Some(&clip));
    assert_eq!(got, vec![0.95, 2.05]);
    let adam = Adam::new(0.5);
    let got = run_updates(
        &adam,
        &[0.1, 0.2],
        &[vec![1.0, 1.0]],
        Some(&[ClipRange {
            lower: 0.0,
            upper: f32::INFINITY,
        }]),
    );
    assert_eq!(got, vec![0.0, 0.0]);
}

#[test]
fn clip_ranges_come_from_uniform_bounds() {
    let net = Lif::new(2);
    let (lb, ub) = make_bounds(&net.parameters());
    let lb = set_matching(&lb, &net.parameters_of(&["taus"]), Bound::from(0.001)).unwrap();
    let ranges = clip_ranges(&net.parameters(), &lb, &ub).unwrap();
    assert_eq!(ranges.len(), 4);
    assert_eq!(
        ranges[0],
        ClipRange {
            lower: 0.001,
            upper: f32::INFINITY
        }
    );
    assert!(ranges[2].is_unbounded());
    let varying = Bound::Array(Tensor::new([2], vec![0.0, 1.0]).unwrap());
    let ub = set_matching(&ub, &net.attributes_named(&["bias"]), varying).unwrap();
    let err = clip_ranges(&net.parameters(), &lb, &ub)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bias"), "{err}");
    // A range no value fits would clip every value to one end.
    let (lb, ub) = make_bounds(&net.parameters());
    let lb = set_matching(&lb, &net.parameters_of(&["taus"]), Bound::from(0.9)).unwrap();
    let ub = set_matching(&ub, &net.parameters_of(&["taus"]), Bound::from(0.1)).unwrap();
    let err = clip_ranges(&net.parameters(), &lb, &ub)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("into [0.9, 0.1]: expected lower <= upper"),
        "{err}"
    );
}
