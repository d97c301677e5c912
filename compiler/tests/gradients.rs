//! Every op's derivative rule against central finite differences of the
//! interpreter's own forward values, and the spike's against the analytic
//! surrogate.
//!
//! Each check builds `loss = sum(w * f(x, ...))` with fixed pseudo-random
//! weights `w` (so that errors cannot cancel across elements), takes the
//! symbolic gradient with `backprop`, and compares it with the five-point
//! stencil `(-L(x+2h) + 8L(x+h) - 8L(x-h) + L(x-2h)) / 12h`. The interpreter
//! is f32, so `h` is large (1e-2 relative): the stencil's truncation error is
//! O(h^4) and its rounding error ~ 1e-7 / h.

use neurojit_compiler::autodiff::{backprop, gradients};
use neurojit_compiler::interp::evaluate;
use neurojit_compiler::ir::{ArgKind, CompareOp, Graph, GraphError, OutKind, Shape, Value};

/// Deterministic values in `[lo, hi)`.
fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
            lo + (hi - lo) * unit
        })
        .collect()
}

/// Values in `[lo, hi)` with random signs.
fn signed_values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let signs = values(n, seed + 1000, -1.0, 1.0);
    values(n, seed, lo, hi)
        .into_iter()
        .zip(signs)
        .map(|(x, s)| if s < 0.0 { -x } else { x })
        .collect()
}

type Build<'a> = dyn Fn(&mut Graph, &[Value]) -> Result<Value, GraphError> + 'a;

/// The weighted-sum loss of `build(inputs)`, with the inputs as parameters
/// and the weights as an input argument. Outputs: `Loss(0)`, then
/// `ParamGrad(i)` for every input.
fn loss_graph(shapes: &[Shape], build: &Build<'_>) -> Graph {
    let mut g = Graph::new();
    let xs: Vec<Value> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| g.arg(ArgKind::Param, i, &format!("x{i}"), s.clone()))
        .collect();
    let out = build(&mut g, &xs).unwrap();
    let w = g.arg(ArgKind::Input, 0, "w", g.shape(out).clone());
    let weighted = g.mul(out, w).unwrap();
    let loss = g.sum_all(weighted);
    let one = g.scalar(1.0);
    let grads = backprop(&mut g, &[(loss, one)], &xs).unwrap();
    g.output(OutKind::Loss, 0, "loss", loss);
    for (i, d) in grads.into_iter().enumerate() {
        g.output(OutKind::ParamGrad, i, &format!("d x{i}"), d);
    }
    g
}

/// Evaluates the loss graph (args are declared params first, then `w`).
fn run(g: &Graph, inputs: &[Vec<f32>], w: &[f32]) -> Vec<Vec<f32>> {
    let mut args: Vec<&[f32]> = inputs.iter().map(|x| x.as_slice()).collect();
    args.push(w);
    evaluate(g, &args).unwrap()
}

/// Checks the symbolic gradient of `build` against finite differences at
/// `inputs`, whose shapes are `shapes`.
fn check(name: &str, shapes: &[Shape], inputs: &[Vec<f32>], build: &Build<'_>) {
    let g = loss_graph(shapes, build);
    let out_len = g.args().last().unwrap().shape.numel();
    let w = values(out_len, 7, -1.0, 1.0);
    let symbolic = run(&g, inputs, &w);
    for (i, x) in inputs.iter().enumerate() {
        for j in 0..x.len() {
            let h = 1e-2 * x[j].abs().max(1.0);
            let loss_at = |delta: f32| {
                let mut moved = inputs.to_vec();
                moved[i][j] += delta;
                run(&g, &moved, &w)[0][0]
            };
            let stencil = (-loss_at(2.0 * h) + 8.0 * loss_at(h) - 8.0 * loss_at(-h)
                + loss_at(-2.0 * h))
                / (12.0 * h);
            let got = symbolic[1 + i][j];
            let tolerance = 1e-4 * stencil.abs().max(1.0);
            assert!(
                (got - stencil).abs() <= tolerance,
                "{name}: d/d x{i}[{j}] = {got}, finite differences give {stencil}"
            );
        }
    }
}

fn s(dims: &[usize]) -> Shape {
    Shape::new(dims)
}

#[test]
fn unary_ops_match_finite_differences() {
    let n = 6;
    let positive = vec![values(n, 1, 0.5, 2.0)];
    let any = vec![values(n, 2, -1.5, 1.5)];
    let away_from_zero = vec![signed_values(n, 3, 0.2, 1.5)];
    let shape = [s(&[2, 3])];
    check("neg", &shape, &any, &|g, x| Ok(g.neg(x[0])));
    check("exp", &shape, &any, &|g, x| Ok(g.exp(x[0])));
    check("log", &shape, &positive, &|g, x| Ok(g.log(x[0])));
    check("recip", &shape, &away_from_zero, &|g, x| Ok(g.recip(x[0])));
    check("sqrt", &shape, &positive, &|g, x| Ok(g.sqrt(x[0])));
    check("abs", &shape, &away_from_zero, &|g, x| Ok(g.abs(x[0])));
    // Away from integers floor is flat: both sides must say zero.
    let fractional = vec![vec![0.3, 1.4, -0.6, 2.5, -1.2, 0.7]];
    check("floor", &shape, &fractional, &|g, x| Ok(g.floor(x[0])));
}

#[test]
fn binary_ops_match_finite_differences() {
    let shapes = [s(&[2, 3]), s(&[2, 3])];
    let a = values(6, 11, -1.5, 1.5);
    let b = signed_values(6, 12, 0.5, 2.0);
    let inputs = vec![a, b];
    check("add", &shapes, &inputs, &|g, x| g.add(x[0], x[1]));
    check("sub", &shapes, &inputs, &|g, x| g.sub(x[0], x[1]));
    check("mul", &shapes, &inputs, &|g, x| g.mul(x[0], x[1]));
    check("div", &shapes, &inputs, &|g, x| g.div(x[0], x[1]));
    // Distinct values (no ties within 2h) for max and min.
    let a = vec![0.1, -1.0, 2.0, 0.5, -0.3, 1.2];
    let b = vec![0.6, -1.5, 1.0, 1.5, -0.1, 0.2];
    let inputs = vec![a, b];
    check("max", &shapes, &inputs, &|g, x| g.max(x[0], x[1]));
    check("min", &shapes, &inputs, &|g, x| g.min(x[0], x[1]));
    // The same operand twice: both contributions must be summed.
    check("square", &shapes[..1], &inputs[..1], &|g, x| {
        g.mul(x[0], x[0])
    });
    // Implicit broadcasting through the builder: [2,3] with [3].
    let shapes = [s(&[2, 3]), s(&[3])];
    let inputs = vec![values(6, 13, -1.0, 1.0), signed_values(3, 14, 0.5, 2.0)];
    check("mul broadcast", &shapes, &inputs, &|g, x| g.mul(x[0], x[1]));
    check("div broadcast", &shapes, &inputs, &|g, x| g.div(x[0], x[1]));
}

#[test]
fn compare_and_select_match_finite_differences() {
    let shapes = [s(&[5]), s(&[5])];
    let inputs = vec![
        vec![0.1, -1.0, 2.0, 0.5, -0.3],
        vec![0.6, -1.5, 1.0, 1.5, -0.1],
    ];
    check("compare", &shapes, &inputs, &|g, x| {
        g.compare(CompareOp::Lt, x[0], x[1])
    });
    // The condition depends on the operands, but only the branches carry
    // gradient.
    check("select", &shapes, &inputs, &|g, x| {
        let cond = g.compare(CompareOp::Gt, x[0], x[1])?;
        let on_true = g.exp(x[0]);
        let on_false = g.mul(x[1], x[1])?;
        g.select(cond, on_true, on_false)
    });
    check("relu-like", &shapes[..1], &inputs[..1], &|g, x| {
        let zero = g.scalar(0.0);
        g.max(x[0], zero)
    });
}

#[test]
fn shape_ops_match_finite_differences() {
    let v6 = vec![values(6, 21, -1.0, 1.0)];
    let v3 = vec![values(3, 22, -1.0, 1.0)];
    let v2 = vec![values(2, 23, -1.0, 1.0)];
    let v1 = vec![vec![0.7]];
    // The exp after each op makes the loss nonlinear in its result.
    let then_exp = |shape: Shape| {
        move |g: &mut Graph, x: &[Value]| {
            let b = g.broadcast_to(x[0], &shape)?;
            Ok(g.exp(b))
        }
    };
    check(
        "broadcast [3]->[2,3]",
        &[s(&[3])],
        &v3,
        &then_exp(s(&[2, 3])),
    );
    check(
        "broadcast [2,1]->[2,3]",
        &[s(&[2, 1])],
        &v2,
        &then_exp(s(&[2, 3])),
    );
    check("broadcast []->[2,3]", &[s(&[])], &v1, &then_exp(s(&[2, 3])));
    check(
        "broadcast [1,3]->[4,2,3]",
        &[s(&[1, 3])],
        &v3,
        &then_exp(s(&[4, 2, 3])),
    );
    check("transpose", &[s(&[2, 3])], &v6, &|g, x| {
        let t = g.transpose(x[0])?;
        // Weighted so that the loss tells the positions apart.
        let w = g.reshape(x[0], &s(&[3, 2]))?;
        let tw = g.mul(t, w)?;
        Ok(g.exp(tw))
    });
    check("reshape", &[s(&[2, 3])], &v6, &|g, x| {
        let r = g.reshape(x[0], &s(&[3, 1, 2]))?;
        Ok(g.exp(r))
    });
    let v24 = vec![values(24, 24, -1.0, 1.0)];
    for axis in 0..3 {
        check(
            &format!("reduce_sum axis {axis}"),
            &[s(&[2, 3, 4])],
            &v24,
            &|g, x| {
                let r = g.reduce_sum(x[0], axis)?;
                Ok(g.exp(r))
            },
        );
    }
}

#[test]
fn matmul_matches_finite_differences_for_every_transpose() {
    // op(A) is [2,3] and op(B) is [3,4] in every case.
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let sa = if ta { s(&[3, 2]) } else { s(&[2, 3]) };
        let sb = if tb { s(&[4, 3]) } else { s(&[3, 4]) };
        let inputs = vec![values(6, 31, -1.0, 1.0), values(12, 32, -1.0, 1.0)];
        check(
            &format!("matmul transposes {ta} {tb}"),
            &[sa, sb],
            &inputs,
            &|g, x| {
                let m = g.matmul_transposed(x[0], x[1], ta, tb)?;
                // Nonlinear in the product so both operands matter jointly.
                g.mul(m, m)
            },
        );
    }
}

/// Gradients of `sum(w * f(x, y))` evaluated at `(x, y)`, as (dx, dy).
fn grads_at(
    build: &Build<'_>,
    shape: Shape,
    x: &[f32],
    y: &[f32],
    w: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let g = loss_graph(&[shape.clone(), shape], build);
    let out = run(&g, &[x.to_vec(), y.to_vec()], w);
    (out[1].clone(), out[2].clone())
}

#[test]
fn ties_split_the_adjoint_and_abs_of_zero_is_zero() {
    let x = [1.0, 2.0, -3.0];
    let y = [1.0, 1.0, -2.0];
    let w = [1.0, 1.0, 1.0];
    let (dx, dy) = grads_at(&|g, v| g.max(v[0], v[1]), s(&[3]), &x, &y, &w);
    assert_eq!((dx, dy), (vec![0.5, 1.0, 0.0], vec![0.5, 0.0, 1.0]));
    let (dx, dy) = grads_at(&|g, v| g.min(v[0], v[1]), s(&[3]), &x, &y, &w);
    assert_eq!((dx, dy), (vec![0.5, 0.0, 1.0], vec![0.5, 1.0, 0.0]));
    let (dx, _) = grads_at(&|g, v| Ok(g.abs(v[0])), s(&[3]), &[0.0, -2.0, 3.0], &y, &w);
    assert_eq!(dx, vec![0.0, -1.0, 1.0]);
}

#[test]
fn spike_uses_the_rockpool_surrogate() {
    // v spans: far below the window, inside the window below threshold, at
    // threshold, above (several spikes), and negative.
    let (b, n) = (2, 4);
    let v = vec![0.1, 0.8, 1.5, 3.7, -0.4, 1.05, 2.0, 0.55];
    let th = vec![1.0, 1.2, 1.5, 0.9];
    let window = 0.5;
    let mut g = Graph::new();
    let vv = g.arg(ArgKind::Param, 0, "v", s(&[b, n]));
    let tv = g.arg(ArgKind::Param, 1, "th", s(&[n]));
    let spikes = g.spike(vv, tv, window, 1000.0).unwrap();
    let w = g.arg(ArgKind::Input, 0, "w", s(&[b, n]));
    let weighted = g.mul(spikes, w).unwrap();
    let loss = g.sum_all(weighted);
    let one = g.scalar(1.0);
    let d = backprop(&mut g, &[(loss, one)], &[vv, tv]).unwrap();
    g.output(OutKind::ParamGrad, 0, "dv", d[0]);
    g.output(OutKind::ParamGrad, 1, "dth", d[1]);
    let wv = values(b * n, 41, -1.0, 1.0);
    let out = evaluate(&g, &[&v, &th, &wv]).unwrap();
    let mut expected_dth = vec![0.0f32; n];
    for i in 0..b * n {
        let t = th[i % n];
        let mask = if v[i] >= t - window { 1.0 } else { 0.0 };
        let dv = wv[i] * mask / t;
        assert!(
            (out[0][i] - dv).abs() <= 1e-6,
            "dv[{i}] = {} expected {dv}",
            out[0][i]
        );
        expected_dth[i % n] += -wv[i] * mask * v[i] / (t * t);
    }
    for k in 0..n {
        assert!(
            (out[1][k] - expected_dth[k]).abs() <= 1e-5,
            "dth[{k}] = {} expected {}",
            out[1][k],
            expected_dth[k]
        );
    }
    // The window really masks: element 0 (v=0.1, th=1) gets nothing and
    // element 1 (v=0.8 >= 1.2-0.5) gets a gradient.
    assert_eq!(out[0][0], 0.0);
    assert!(out[0][1] != 0.0);
}

#[test]
fn zero_adjoints_build_no_nodes() {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Param, 0, "x", s(&[3]));
    let y = g.arg(ArgKind::Param, 1, "y", s(&[3]));
    let fx = g.floor(x);
    let ex = g.exp(x);
    let yy = g.mul(y, y).unwrap();
    let sum = g.add(ex, yy).unwrap();
    let total = g.add(sum, fx).unwrap();
    let loss = g.sum_all(total);
    let one = g.scalar(1.0);
    // Only x is differentiated: nothing may be built for the y*y branch,
    // and floor contributes nothing.
    let before = g.len();
    let d = gradients(&mut g, &[(loss, one)], &[x]).unwrap();
    assert!(d[0].is_some());
    for v in (before as u32..g.len() as u32).map(Value) {
        let operands = g.op(v).operands();
        assert!(
            !operands.contains(&y) && !operands.contains(&yy) && !operands.contains(&fx),
            "node {} reads the y branch or floor",
            g.describe(v)
        );
    }
    // A value the seeds do not reach has no gradient, and backprop makes
    // it one zero constant without building anything else.
    let unrelated = g.arg(ArgKind::Param, 2, "z", s(&[2]));
    let floor_only = g.sum_all(fx);
    let before = g.len();
    let d = backprop(&mut g, &[(floor_only, one)], &[x, unrelated]).unwrap();
    assert_eq!(g.constant_value(d[0]), Some(0.0));
    assert_eq!(g.constant_value(d[1]), Some(0.0));
    assert!(g.len() <= before + 2, "built {} nodes", g.len() - before);
}

#[test]
fn seed_of_the_wrong_shape_is_an_error() {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Param, 0, "x", s(&[3]));
    let e = g.exp(x);
    let seed = g.scalar(1.0);
    let err = backprop(&mut g, &[(e, seed)], &[x])
        .unwrap_err()
        .to_string();
    assert!(err.contains("[3]") && err.contains("[]"), "{err}");
}
