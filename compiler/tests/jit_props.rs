//! Properties of the JIT:
//! - on randomly generated graphs (every op, broadcasts, reductions,
//!   matmuls, reshapes, transposes, accumulating outputs) it agrees with the
//!   interpreter: bit for bit when built from the ops the JIT computes
//!   exactly (matmuls in exact mode), within a relative tolerance when
//!   exp/log, innermost-axis sums and the FMA or packed matmul kernels are
//!   involved;
//! - the inline exp/log polynomials are accurate over the whole float
//!   range (the measured maximum errors are printed; run with
//!   `--nocapture` to see them).

use neurojit_compiler::interp::Interpreter;
use neurojit_compiler::ir::{
    ArgKind, BinaryOp, CompareOp, Graph, OutKind, Output, Shape, UnaryOp, Value,
};
use neurojit_compiler::jit::{Jit, JitOptions};
use neurojit_compiler::kernel::Backend;
use proptest::prelude::*;

// ----- random graphs ----------------------------------------------------------

/// One step of a graph recipe: an op kind and raw choices that the builder
/// maps onto the values and parameters available at that point.
#[derive(Clone, Debug)]
struct Step {
    kind: u8,
    a: usize,
    b: usize,
    c: usize,
    param: u8,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..12,
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
        any::<u8>(),
    )
        .prop_map(|(kind, a, b, c, param)| Step {
            kind,
            a,
            b,
            c,
            param,
        })
}

#[derive(Clone, Debug)]
struct Recipe {
    batch: usize,
    width: usize,
    inner: usize,
    steps: Vec<Step>,
    outputs: Vec<(usize, bool)>,
    seed: u64,
}

fn recipe() -> impl Strategy<Value = Recipe> {
    (
        1usize..6,
        1usize..10,
        1usize..7,
        prop::collection::vec(step(), 1..24),
        prop::collection::vec((any::<usize>(), any::<bool>()), 1..5),
        any::<u64>(),
    )
        .prop_map(|(batch, width, inner, steps, outputs, seed)| Recipe {
            batch,
            width,
            inner,
            steps,
            outputs,
            seed,
        })
}

/// Which ops a generated graph may use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Only what the JIT computes bit-identically to the interpreter (with
    /// matmuls through the row loops).
    Exact,
    /// Continuous ops only (so small rounding differences stay small),
    /// including exp, log, GEMM and innermost-axis sums.
    Smooth,
}

struct Built {
    graph: Graph,
    args: Vec<Vec<f32>>,
}

fn build(r: &Recipe, mode: Mode) -> Built {
    let (b, n, k) = (r.batch, r.width, r.inner);
    let mut g = Graph::new();
    let arg_shapes = [
        Shape::from([b, n]),
        Shape::from([b, n]),
        Shape::from([n]),
        Shape::from([b, 1]),
        Shape::scalar(),
        Shape::from([n, k]),
        Shape::from([b, n, k]),
    ];
    let mut values: Vec<Value> = arg_shapes
        .iter()
        .enumerate()
        .map(|(i, s)| g.arg(ArgKind::Input, i, &format!("x{i}"), s.clone()))
        .collect();
    let pick = |values: &[Value], i: usize| values[i % values.len()];
    for s in &r.steps {
        let (x, y, z) = (pick(&values, s.a), pick(&values, s.b), pick(&values, s.c));
        let p = s.param as usize;
        let made: Option<Value> = match (s.kind, mode) {
            (0, Mode::Exact) => {
                let op = [
                    UnaryOp::Neg,
                    UnaryOp::Abs,
                    UnaryOp::Floor,
                    UnaryOp::Sqrt,
                    UnaryOp::Recip,
                ][p % 5];
                Some(g.unary(op, x))
            }
            (0, Mode::Smooth) => Some(match p % 3 {
                // exp(-|x|) and log(1 + |x|): bounded and smooth.
                0 => {
                    let a = g.abs(x);
                    let na = g.neg(a);
                    g.exp(na)
                }
                1 => {
                    let a = g.abs(x);
                    let one = g.scalar(1.0);
                    let a1 = g.add(a, one).unwrap();
                    g.log(a1)
                }
                _ => g.neg(x),
            }),
            (1, _) => {
                let ops = match mode {
                    Mode::Exact => &[
                        BinaryOp::Add,
                        BinaryOp::Sub,
                        BinaryOp::Mul,
                        BinaryOp::Div,
                        BinaryOp::Max,
                        BinaryOp::Min,
                    ][..],
                    Mode::Smooth => &[BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul][..],
                };
                g.binary(ops[p % ops.len()], x, y).ok()
            }
            (2, Mode::Exact) => {
                let op = [
                    CompareOp::Lt,
                    CompareOp::Le,
                    CompareOp::Gt,
                    CompareOp::Ge,
                    CompareOp::Eq,
                    CompareOp::Ne,
                ][p % 6];
                g.compare(op, x, y).ok()
            }
            (3, Mode::Exact) => g.select(x, y, z).ok(),
            (4, Mode::Exact) => {
                let max = [1.0, 2.0, 5.0, f32::INFINITY][p % 4];
                g.spike(x, y, 0.5, max).ok()
            }
            (5, _) => {
                let rank = g.shape(x).rank();
                if rank == 0 {
                    None
                } else {
                    let axis = p % rank;
                    let dims = g.shape(x).dims();
                    // Sums along the innermost axis (ignoring size-1 axes)
                    // of four or more terms are reassociated.
                    let innermost = dims[axis + 1..].iter().all(|&d| d == 1);
                    let exact_ok = !innermost || dims[axis] < 4;
                    (mode == Mode::Smooth || exact_ok).then(|| g.reduce_sum(x, axis).unwrap())
                }
            }
            (6, _) => g.matmul_transposed(x, y, p & 1 != 0, p & 2 != 0).ok(),
            (7, _) => {
                let numel = g.shape(x).numel();
                let target = match p % 3 {
                    0 => Shape::from([numel]),
                    1 => Shape::from([1, numel]),
                    _ => Shape::from([numel, 1]),
                };
                g.reshape(x, &target).ok()
            }
            (8, _) => {
                let target = g.shape(y).clone();
                g.broadcast_to(x, &target).ok()
            }
            (9, _) => {
                let c = [0.5, 2.0, -1.0, 0.0, 3.0][p % 5];
                let shape = g.shape(x).clone();
                Some(g.constant(c, shape))
            }
            (10, _) => Some(g.stop_gradient(x)),
            // Of 2-D values only; others are skipped.
            (11, _) => g.transpose(x).ok(),
            _ => None,
        };
        if let Some(v) = made {
            values.push(v);
        }
    }
    for (i, &(choice, accumulate)) in r.outputs.iter().enumerate() {
        let v = values[values.len() - 1 - choice % values.len().min(6)];
        g.push_output(Output {
            kind: OutKind::Record,
            slot: i,
            name: format!("out{i}"),
            value: v,
            accumulate,
        });
    }
    // Data: mostly in [-2, 2], with some small integers so that ties,
    // exact multiples and zeros occur.
    let mut state = r.seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let args = arg_shapes
        .iter()
        .map(|s| {
            (0..s.numel())
                .map(|_| {
                    let u = next();
                    if u % 5 == 0 {
                        ((u >> 8) % 5) as f32 - 2.0
                    } else {
                        ((u >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
                    }
                })
                .collect()
        })
        .collect();
    Built { graph: g, args }
}

/// Runs both backends from the same pre-filled output buffers.
fn run_both(built: &Built, jit: &Jit) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let g = &built.graph;
    let arg_refs: Vec<&[f32]> = built.args.iter().map(|a| a.as_slice()).collect();
    let run = |backend: &dyn Backend| {
        let kernel = backend.compile(g).expect("compiles");
        let mut outs: Vec<Vec<f32>> = g
            .outputs()
            .iter()
            .map(|o| vec![0.5; g.shape(o.value).numel()])
            .collect();
        let mut views: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        kernel.run(&arg_refs, &mut views).expect("runs");
        outs
    };
    (run(&Interpreter), run(jit))
}

fn same(a: f32, b: f32) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn jit_random_exact_graphs_match_bit_for_bit(r in recipe()) {
        let built = build(&r, Mode::Exact);
        // Matmuls in the interpreter's order (zero-skipping is off:
        // generated weights may hold infinities).
        let jit = Jit::with_options(JitOptions {
            exact_matmul: true,
            sparse_spikes: false,
            verify_ir: true,
            ..JitOptions::default()
        });
        let (expected, got) = run_both(&built, &jit);
        for i in 0..built.graph.outputs().len() {
            for (j, (&e, &x)) in expected[i].iter().zip(&got[i]).enumerate() {
                prop_assert!(same(e, x), "output {i} element {j}: interp {e:e} jit {x:e}\n{}", built.graph);
            }
        }
    }

    #[test]
    fn jit_random_smooth_graphs_match_within_tolerance(r in recipe()) {
        let built = build(&r, Mode::Smooth);
        let verified = JitOptions { verify_ir: true, ..JitOptions::default() };
        for options in [verified, JitOptions { packed_gemm_from: 0, contract_fma: true, ..verified }] {
            let (expected, got) = run_both(&built, &Jit::with_options(options));
            for (i, _) in built.graph.outputs().iter().enumerate() {
                let scale = expected[i].iter().fold(1.0f32, |m, x| m.max(x.abs()));
                for (j, (&e, &x)) in expected[i].iter().zip(&got[i]).enumerate() {
                    let ok = same(e, x) || (e - x).abs() <= 1e-4 * scale;
                    prop_assert!(ok, "output {i} element {j}: interp {e:e} jit {x:e} (scale {scale})\n{}", built.graph);
                }
            }
        }
    }
}

// ----- exp and log accuracy ---------------------------------------------------

/// Evaluates `op` over `xs` with the JIT.
fn jit_unary(op: UnaryOp, xs: &[f32], options: JitOptions) -> Vec<f32> {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([xs.len()]));
    let y = g.unary(op, x);
    g.output(OutKind::Record, 0, "y", y);
    let kernel = Jit::with_options(options).compile(&g).unwrap();
    let mut out = vec![0.0; xs.len()];
    kernel.run(&[xs], &mut [&mut out]).unwrap();
    out
}

/// Largest relative error of `got` against the f64 function, over results
/// that are normal floats, and against f32's own function.
fn max_errors(
    xs: &[f32],
    got: &[f32],
    f64_fn: fn(f64) -> f64,
    f32_fn: fn(f32) -> f32,
) -> (f64, f64) {
    let mut vs_exact = 0.0f64;
    let mut vs_std = 0.0f64;
    for (&x, &y) in xs.iter().zip(got) {
        let exact = f64_fn(x as f64);
        if !((exact.abs() as f32).is_normal()) {
            continue;
        }
        vs_exact = vs_exact.max(((y as f64 - exact) / exact).abs());
        let std = f32_fn(x) as f64;
        vs_std = vs_std.max(((y as f64 - std) / std).abs());
    }
    (vs_exact, vs_std)
}

#[test]
fn jit_exp_and_log_polynomials_are_accurate() {
    let no_fma = JitOptions {
        allow_fma: false,
        ..JitOptions::default()
    };
    // exp over its whole finite range, densely.
    let exp_xs: Vec<f32> = (0..400_000)
        .map(|i| -103.0 + 192.0 * i as f32 / 400_000.0)
        .chain((0..100_000).map(|i| -1.0 + 2.0 * i as f32 / 100_000.0))
        .collect();
    // log over every binade, including subnormals.
    let log_xs: Vec<f32> = (0..400_000)
        .map(|i| 2f32.powf(-148.0 + 275.0 * i as f32 / 400_000.0))
        .chain((0..100_000).map(|i| 0.5 + i as f32 / 100_000.0))
        .collect();
    for (name, options) in [("default", JitOptions::default()), ("no fma", no_fma)] {
        let e = jit_unary(UnaryOp::Exp, &exp_xs, options);
        let (e_exact, e_std) = max_errors(&exp_xs, &e, f64::exp, f32::exp);
        let l = jit_unary(UnaryOp::Log, &log_xs, options);
        let (l_exact, l_std) = max_errors(&log_xs, &l, f64::ln, f32::ln);
        println!(
            "{name}: exp max rel error {e_exact:.2e} (vs f32::exp {e_std:.2e}); \
             log max rel error {l_exact:.2e} (vs f32::ln {l_std:.2e})"
        );
        for err in [e_exact, e_std, l_exact, l_std] {
            assert!(
                err < 1.5e-7,
                "{name}: relative error {err:e} exceeds 1.5e-7"
            );
        }
    }

    // Special values behave like f32::exp and f32::ln.
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        88.7,
        88.8,
        -87.0,
        -103.0,
        -104.0,
        -200.0,
        1e-45,
        f32::MIN_POSITIVE,
        f32::MAX,
    ];
    let e = jit_unary(UnaryOp::Exp, &specials, JitOptions::default());
    let l = jit_unary(UnaryOp::Log, &specials, JitOptions::default());
    for (i, &x) in specials.iter().enumerate() {
        for (got, want, name) in [(e[i], x.exp(), "exp"), (l[i], x.ln(), "ln")] {
            let close = same(got, want)
                || (want.is_finite() && (got - want).abs() <= 2.5e-7 * want.abs().max(f32::MIN_POSITIVE * 8.0))
                // Subnormal results: within a few units of the last place.
                || (want.abs() < f32::MIN_POSITIVE && (got - want).abs() <= 4e-45);
            assert!(close, "{name}({x:e}): jit {got:e}, std {want:e}");
        }
    }
}
