//! The JIT against the interpreter on hand-written graphs covering every op,
//! the broadcast patterns the front end produces, reductions over every
//! axis, all matmul transposes and methods, accumulating outputs and shapes
//! that are not multiples of the vector width.
//!
//! Tolerances (see `jit/mod.rs`): elementwise ops other than exp/log, and
//! reductions over non-innermost axes, must match bit for bit (±0 and NaN
//! payloads aside); exp/log within 2.5e-7 relative; innermost-axis sums and
//! matmuls (FMA kernels, GEMM; exact only with `exact_matmul`) within 1e-5
//! of the magnitude of the terms.

mod steps;

use neurojit_compiler::interp::Interpreter;
use neurojit_compiler::ir::{ArgKind, CompareOp, Graph, OutKind, Output, Shape, Value};
use neurojit_compiler::jit::{Jit, JitOptions};
use neurojit_compiler::kernel::{Backend, CompileError, KernelError};

/// How closely an output must match.
#[derive(Clone, Copy, Debug)]
enum Tol {
    /// Same value (`+0.0 == -0.0`, any NaN equals any NaN).
    Exact,
    /// `|jit - interp| <= eps * scale`, `scale` = max(1, |interp|).
    Rel(f32),
}

/// Deterministic data: a xorshift generator mapped to [lo, hi).
struct Data(u64);

impl Data {
    fn new(seed: u64) -> Data {
        Data(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
    fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| lo + (hi - lo) * self.next()).collect()
    }
}

fn same(a: f32, b: f32) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Compiles `graph` on `backend` and runs it on `args`, each output buffer
/// first filled with `fill(output index, element index)`.
fn outputs_of(
    backend: &dyn Backend,
    graph: &Graph,
    args: &[Vec<f32>],
    fill: impl Fn(usize, usize) -> f32,
) -> Vec<Vec<f32>> {
    let arg_refs: Vec<&[f32]> = args.iter().map(|a| a.as_slice()).collect();
    let kernel = backend.compile(graph).expect("compiles");
    let mut outs: Vec<Vec<f32>> = graph
        .outputs()
        .iter()
        .enumerate()
        .map(|(i, o)| {
            (0..graph.shape(o.value).numel())
                .map(|j| fill(i, j))
                .collect()
        })
        .collect();
    let mut views: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    kernel.run(&arg_refs, &mut views).expect("runs");
    outs
}

/// Runs `graph` through both backends (outputs pre-filled with the same
/// nonzero values, so accumulation is tested) and compares each output.
fn compare_with(graph: &Graph, args: &[Vec<f32>], tols: &[Tol], jit: &Jit) {
    let fill = |i: usize, j: usize| 0.25 * ((i + j) % 5) as f32 - 0.5;
    let expected = outputs_of(&Interpreter, graph, args, fill);
    let got = outputs_of(jit, graph, args, fill);
    for (i, out) in graph.outputs().iter().enumerate() {
        let tol = tols[i.min(tols.len() - 1)];
        for (j, (&g, &e)) in got[i].iter().zip(&expected[i]).enumerate() {
            let ok = match tol {
                Tol::Exact => same(g, e),
                Tol::Rel(eps) => same(g, e) || (g - e).abs() <= eps * e.abs().max(1.0),
            };
            assert!(
                ok,
                "output `{}` element {j}: jit {g:e} interp {e:e} ({tol:?})\n{graph}",
                out.name
            );
        }
    }
}

/// The option sets every hand-written graph is also run under (each with
/// Cranelift's verifier on, which release builds leave off by default).
fn option_variants() -> Vec<JitOptions> {
    let base = JitOptions {
        verify_ir: true,
        ..JitOptions::default()
    };
    vec![
        base,
        JitOptions {
            native_floor: false,
            allow_fma: false,
            ..base
        },
        JitOptions {
            packed_gemm_from: 0,
            inline_matmul: 0,
            sparse_spikes: false,
            ..base
        },
        JitOptions {
            sparse_spikes: false,
            ..base
        },
        JitOptions {
            exact_matmul: true,
            ..base
        },
        JitOptions {
            stage_arguments: false,
            ..base
        },
    ]
}

fn compare_all_options(graph: &Graph, args: &[Vec<f32>], tols: &[Tol]) {
    for options in option_variants() {
        compare_with(graph, args, tols, &Jit::with_options(options));
    }
}

fn input(g: &mut Graph, slot: usize, dims: &[usize]) -> Value {
    g.arg(ArgKind::Input, slot, &format!("x{slot}"), Shape::new(dims))
}

fn record(g: &mut Graph, value: Value) {
    let slot = g.outputs().len();
    g.output(OutKind::Record, slot, &format!("r{slot}"), value);
}

/// Special values every elementwise op meets.
fn with_specials(mut v: Vec<f32>) -> Vec<f32> {
    let specials = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-40,
        -1e-40,
        88.8,
        -104.5,
        1.0,
        -2.5,
        f32::MAX,
        f32::MIN_POSITIVE,
    ];
    let n = v.len();
    for (i, s) in specials.iter().enumerate() {
        if i < n {
            v[i * 3 % n] = *s;
        }
    }
    v
}

#[test]
fn jit_unary_ops_match_on_odd_lengths() {
    // Contiguous tensors collapse into one row: 9, 13 and 21 elements are
    // 2, 3 and 5 vectors and one more overlapping the last of them (loops
    // unrolled by two, with and without a vector left over), 64 is 16
    // whole vectors.
    for dims in [
        &[1][..],
        &[3],
        &[7],
        &[9],
        &[13],
        &[21],
        &[3, 5],
        &[2, 3, 9],
        &[64],
    ] {
        let mut g = Graph::new();
        let x = input(&mut g, 0, dims);
        let ops = [g.neg(x), g.recip(x), g.sqrt(x), g.abs(x), g.floor(x)];
        for op in ops {
            record(&mut g, op);
        }
        let e = g.exp(x);
        let l = g.log(x);
        record(&mut g, e);
        record(&mut g, l);
        let n: usize = dims.iter().product();
        let data = with_specials(Data::new(n as u64).vec(n, -30.0, 30.0));
        let tols = [
            Tol::Exact,
            Tol::Exact,
            Tol::Exact,
            Tol::Exact,
            Tol::Exact,
            Tol::Rel(2.5e-7),
        ];
        compare_all_options(&g, &[data], &tols);
    }
}

#[test]
fn jit_binary_compare_and_select_match_with_nans() {
    let dims = [5, 7];
    let mut g = Graph::new();
    let x = input(&mut g, 0, &dims);
    let y = input(&mut g, 1, &dims);
    let ops = [
        g.add(x, y).unwrap(),
        g.sub(x, y).unwrap(),
        g.mul(x, y).unwrap(),
        g.div(x, y).unwrap(),
        g.max(x, y).unwrap(),
        g.min(x, y).unwrap(),
    ];
    for op in ops {
        record(&mut g, op);
    }
    for c in [
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Eq,
        CompareOp::Ne,
    ] {
        let m = g.compare(c, x, y).unwrap();
        record(&mut g, m);
        // A compare used as a select condition and as numbers.
        let s = g.select(m, x, y).unwrap();
        record(&mut g, s);
        let scaled = g.mul(m, x).unwrap();
        record(&mut g, scaled);
    }
    // select on a numeric condition (NaN counts as true).
    let sel = g.select(x, y, x).unwrap();
    record(&mut g, sel);
    let mut d = Data::new(1);
    let mut a = with_specials(d.vec(35, -3.0, 3.0));
    let mut b = d.vec(35, -3.0, 3.0);
    // Some equal pairs so Eq/Le/Ge see ties.
    for i in (0..35).step_by(4) {
        b[i] = a[i];
    }
    a[34] = f32::NAN;
    b[33] = f32::NAN;
    compare_all_options(&g, &[a, b], &[Tol::Exact]);
}

#[test]
fn jit_spike_counts_multiple_spikes_caps_and_thresholds() {
    let mut g = Graph::new();
    let v = input(&mut g, 0, &[3, 11]);
    let th = input(&mut g, 1, &[11]);
    let scalar_th = g.scalar(0.75);
    let s1 = g.spike(v, th, 0.5, 3.0).unwrap();
    let s2 = g.spike(v, scalar_th, 0.5, f32::INFINITY).unwrap();
    let s3 = g.spike(v, scalar_th, 0.5, f32::NAN).unwrap();
    let neg_th = g.scalar(-1.0);
    let s4 = g.spike(v, neg_th, 0.5, 2.0).unwrap();
    for s in [s1, s2, s3, s4] {
        record(&mut g, s);
    }
    let mut d = Data::new(2);
    let mut vv = with_specials(d.vec(33, -2.0, 9.0));
    // Exactly on multiples of the threshold.
    vv[1] = 0.75;
    vv[2] = 1.5;
    vv[4] = 2.25;
    let thv = d.vec(11, 0.3, 2.0);
    compare_all_options(&g, &[vv, thv], &[Tol::Exact]);
}

#[test]
fn jit_broadcast_patterns_match() {
    let (b, n, k) = (3, 5, 6);
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[b, n]);
    let row = input(&mut g, 1, &[n]);
    let col = input(&mut g, 2, &[n, 1]);
    let x3 = input(&mut g, 3, &[b, n, k]);
    let colb = input(&mut g, 4, &[b, 1]);
    let s = input(&mut g, 5, &[]);
    // (N,) -> (B,N)
    let a = g.add(x, row).unwrap();
    record(&mut g, a);
    // (N,1) -> (B,N,k)
    let c = g.mul(x3, col).unwrap();
    record(&mut g, c);
    // (B,1) -> (B,N)
    let d = g.sub(x, colb).unwrap();
    record(&mut g, d);
    // scalar -> anything (argument and constant)
    let e = g.mul(x3, s).unwrap();
    record(&mut g, e);
    let two = g.scalar(2.0);
    let f = g.div(x, two).unwrap();
    record(&mut g, f);
    // Broadcasts as outputs of their own and of broadcasts of broadcasts.
    let wide = g.broadcast_to(row, &Shape::from([b, n])).unwrap();
    record(&mut g, wide);
    let wider = g.broadcast_to(wide, &Shape::from([2, b, n])).unwrap();
    record(&mut g, wider);
    let constant_out = g.constant(1.5, Shape::from([7]));
    record(&mut g, constant_out);
    // A broadcast of a computed (fused) value.
    let ex = g.exp(row);
    let exb = g.mul(x, ex).unwrap();
    record(&mut g, exb);
    let mut dd = Data::new(3);
    let args = vec![
        dd.vec(b * n, -1.0, 1.0),
        dd.vec(n, -1.0, 1.0),
        dd.vec(n, -1.0, 1.0),
        dd.vec(b * n * k, -1.0, 1.0),
        dd.vec(b, -1.0, 1.0),
        vec![0.3],
    ];
    let tols = [
        Tol::Exact,
        Tol::Exact,
        Tol::Exact,
        Tol::Exact,
        Tol::Exact,
        Tol::Exact,
        Tol::Exact,
        Tol::Exact,
        Tol::Rel(2.5e-7),
    ];
    compare_all_options(&g, &args, &tols);
}

#[test]
fn jit_reduce_sum_over_every_axis_of_3d_tensors() {
    for dims in [
        [2, 3, 4],
        [3, 5, 7],
        [4, 1, 9],
        [1, 6, 2],
        [3, 2, 13],
        [5, 4, 17],
        [2, 3, 21],
    ] {
        let mut g = Graph::new();
        let x = input(&mut g, 0, &dims);
        let sq = g.mul(x, x).unwrap();
        for axis in 0..3 {
            // Of an argument and of a fused expression.
            let r = g.reduce_sum(x, axis).unwrap();
            record(&mut g, r);
            let r2 = g.reduce_sum(sq, axis).unwrap();
            record(&mut g, r2);
        }
        let total = g.sum_all(sq);
        record(&mut g, total);
        let mean = g.mean_all(x);
        record(&mut g, mean);
        let n: usize = dims.iter().product();
        let data = Data::new(n as u64).vec(n, -2.0, 2.0);
        // Non-innermost axes are exact; the innermost axis and totals sum in
        // vector lanes.
        let tols = [
            Tol::Exact,
            Tol::Exact,
            Tol::Exact,
            Tol::Exact,
            Tol::Rel(1e-5),
            Tol::Rel(1e-5),
            Tol::Rel(1e-5),
        ];
        compare_all_options(&g, &[data], &tols);
    }
}

#[test]
fn jit_matmul_all_transposes_and_odd_sizes() {
    for (m, k, n) in [
        (1, 1, 1),
        (3, 5, 7),
        (1, 3, 2),
        (17, 9, 13),
        (40, 33, 37),
        (2, 64, 5),
    ] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut g = Graph::new();
            let a_dims = if ta { [k, m] } else { [m, k] };
            let b_dims = if tb { [n, k] } else { [k, n] };
            let a = input(&mut g, 0, &a_dims);
            let b = input(&mut g, 1, &b_dims);
            let c = g.matmul_transposed(a, b, ta, tb).unwrap();
            record(&mut g, c);
            // The product feeding elementwise work, and an accumulating output.
            let r = g.exp(c);
            let r = g.neg(r);
            record(&mut g, r);
            g.push_output(Output {
                kind: OutKind::ParamGrad,
                slot: 0,
                name: "grad".into(),
                value: c,
                accumulate: true,
            });
            let mut d = Data::new((m * 100 + k * 10 + n) as u64);
            let args = vec![d.vec(m * k, -1.0, 1.0), d.vec(k * n, -1.0, 1.0)];
            let scale = (k as f32).sqrt();
            compare_all_options(&g, &args, &[Tol::Rel(2e-6 * scale), Tol::Rel(4e-6 * scale)]);
        }
    }
}

#[test]
fn jit_tiny_matmuls_are_inline_and_exact() {
    for (m, k, n) in [(1, 1, 1), (1, 3, 3), (2, 4, 5), (4, 4, 4)] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut g = Graph::new();
            let a_dims = if ta { [k, m] } else { [m, k] };
            let b_dims = if tb { [n, k] } else { [k, n] };
            let a = input(&mut g, 0, &a_dims);
            let b = input(&mut g, 1, &b_dims);
            let c = g.matmul_transposed(a, b, ta, tb).unwrap();
            record(&mut g, c);
            g.push_output(Output {
                kind: OutKind::ParamGrad,
                slot: 0,
                name: "grad".into(),
                value: c,
                accumulate: true,
            });
            let schedule = neurojit_compiler::jit::schedule_text(&g).unwrap();
            assert!(schedule.contains("Inline"), "{schedule}");
            let mut d = Data::new((m * 100 + k * 10 + n) as u64);
            // Values whose sums round differently in another order.
            let args = vec![d.vec(m * k, -3.0, 3.0), d.vec(k * n, -3.0, 3.0)];
            compare_with(&g, &args, &[Tol::Exact], &Jit::new());
        }
    }
}

#[test]
fn an_empty_product_is_inline_only_when_its_result_is_small() {
    // `[m, 0] @ [0, n]` does no multiply-adds but stores m * n zeros:
    // straight-line code for a large result would be m * n stores.
    for (m, n, inline) in [(4, 4, true), (40, 30, false)] {
        let mut g = Graph::new();
        let a = input(&mut g, 0, &[m, 0]);
        let b = input(&mut g, 1, &[0, n]);
        let c = g.matmul(a, b).unwrap();
        record(&mut g, c);
        let schedule = neurojit_compiler::jit::schedule_text(&g).unwrap();
        assert_eq!(schedule.contains("Inline"), inline, "{schedule}");
        compare_all_options(&g, &[Vec::new(), Vec::new()], &[Tol::Exact]);
    }
}

#[test]
fn jit_sparse_spike_matmul_matches() {
    // Zeros are counted per call; these operands are sparse enough to be
    // skipped (the dense paths run under `sparse_spikes: false`).
    for ((b, n_in, n_out), ta) in [(6, 19, 11), (24, 40, 33)]
        .into_iter()
        .flat_map(|s| [(s, false), (s, true)])
    {
        let mut g = Graph::new();
        let v_dims = if ta { [n_in, b] } else { [b, n_in] };
        let v = input(&mut g, 0, &v_dims);
        let w = input(&mut g, 1, &[n_in, n_out]);
        let one = g.scalar(1.0);
        let s = g.spike(v, one, 0.5, 4.0).unwrap();
        let y = g.matmul_transposed(s, w, ta, false).unwrap();
        record(&mut g, y);
        record(&mut g, s);
        let mut d = Data::new(7);
        // About one entry in sixteen spikes, some several times.
        let vv: Vec<f32> = d
            .vec(b * n_in, -1.0, 1.0)
            .into_iter()
            .map(|x| if x > 0.875 { 8.0 * x } else { x })
            .collect();
        let args = vec![vv, d.vec(n_in * n_out, -1.0, 1.0)];
        compare_all_options(&g, &args, &[Tol::Rel(1e-5), Tol::Exact]);
    }
}

#[test]
fn jit_accumulating_outputs_add_into_buffers() {
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[3, 7]);
    let y = input(&mut g, 1, &[3, 7]);
    let p = g.mul(x, y).unwrap();
    let r0 = g.reduce_sum(p, 0).unwrap();
    let r1 = g.reduce_sum(p, 1).unwrap();
    for (i, v) in [p, r0, r1, x].into_iter().enumerate() {
        g.push_output(Output {
            kind: OutKind::ParamGrad,
            slot: i,
            name: format!("acc{i}"),
            value: v,
            accumulate: true,
        });
    }
    // The same value also as a plain output.
    record(&mut g, p);
    let mut d = Data::new(11);
    let args = vec![d.vec(21, -1.0, 1.0), d.vec(21, -1.0, 1.0)];
    compare_all_options(
        &g,
        &args,
        &[
            Tol::Exact,
            Tol::Exact,
            Tol::Rel(1e-6),
            Tol::Exact,
            Tol::Exact,
        ],
    );
}

#[test]
fn jit_reshape_stop_gradient_and_passthrough() {
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[2, 6]);
    let r = g.reshape(x, &Shape::from([3, 4])).unwrap();
    let e = g.abs(r);
    record(&mut g, e);
    // A reshape of a computed value, read by a matmul.
    let sq = g.mul(x, x).unwrap();
    let sq_r = g.reshape(sq, &Shape::from([4, 3])).unwrap();
    let w = input(&mut g, 1, &[3, 2]);
    let m = g.matmul(sq_r, w).unwrap();
    record(&mut g, m);
    // A reshape of a broadcast (must be materialised).
    let row = input(&mut g, 2, &[6]);
    let wide = g.broadcast_to(row, &Shape::from([2, 6])).unwrap();
    let flat = g.reshape(wide, &Shape::from([12])).unwrap();
    let flat2 = g.add(flat, flat).unwrap();
    record(&mut g, flat2);
    let sg = g.stop_gradient(x);
    record(&mut g, sg);
    record(&mut g, x);
    record(&mut g, r);
    let mut d = Data::new(5);
    let args = vec![
        d.vec(12, -1.0, 1.0),
        d.vec(6, -1.0, 1.0),
        d.vec(6, -1.0, 1.0),
    ];
    compare_all_options(&g, &args, &[Tol::Exact, Tol::Rel(1e-6), Tol::Exact]);
}

#[test]
fn a_reshape_that_only_drops_unit_axes_shares_its_operands_buffer() {
    // y is an output; the matmul reads it through a reshape that drops an
    // axis of size 1 (as a LIF layer's [B, N, 1] synaptic adjoint feeds
    // the matmul into the layer before): the matmul reads y's output
    // buffer, and the reshape is not stored a second time.
    let (b, n) = (5, 7);
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[b, n, 1]);
    let w = input(&mut g, 1, &[n, 3]);
    let y = g.neg(x);
    record(&mut g, y);
    let z = g.reshape(y, &Shape::from([b, n])).unwrap();
    let m = g.matmul(z, w).unwrap();
    record(&mut g, m);
    let mut d = Data::new(31);
    let args = vec![d.vec(b * n, -1.0, 1.0), d.vec(n * 3, -1.0, 1.0)];
    compare_all_options(&g, &args, &[Tol::Exact, Tol::Rel(1e-6)]);
    let text = neurojit_compiler::jit::schedule_text(&g).unwrap();
    let stored: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("loop"))
        .flat_map(|l| l.split("writes").nth(1).unwrap_or("").split_whitespace())
        .collect();
    assert_eq!(stored, vec![format!("%{}->out#0", y.0)], "{text}");

    // A reshape of a broadcast is not computed by the loop that copies the
    // broadcast out (here merged into a loop that waits for the matmul),
    // so it must not share that copy's buffer: the matmul would read it
    // before it is written.
    let (b, n) = (4, 5);
    let mut g = Graph::new();
    let p = input(&mut g, 0, &[b, n]);
    let x = input(&mut g, 1, &[1, 1, n]);
    let w = input(&mut g, 2, &[n, n]);
    let q = g.neg(p);
    let a = g.broadcast_to(x, &Shape::from([b, 1, n])).unwrap();
    let v = g.reshape(a, &Shape::from([b, n])).unwrap();
    let m = g.matmul(v, w).unwrap();
    let u = g.add(q, m).unwrap();
    record(&mut g, u);
    let r = g.reshape(a, &Shape::from([b * n])).unwrap();
    record(&mut g, r);
    let args = vec![
        d.vec(b * n, -1.0, 1.0),
        d.vec(n, -1.0, 1.0),
        d.vec(n * n, -1.0, 1.0),
    ];
    compare_all_options(&g, &args, &[Tol::Rel(1e-6), Tol::Exact]);
}

#[test]
fn per_neuron_arguments_of_a_loop_short_of_registers_are_staged_in_scratch() {
    // One loop over [b, n] reads twelve [b, n] arguments and three [n]
    // ones broadcast over the batch, and writes two outputs: more buffers
    // than the loop has address registers for. The [n] arguments are
    // copied into scratch when the kernel starts, once the batch rereads
    // them at least four times; results are the interpreter's, bit for
    // bit, with and without staging (`compare_all_options`).
    let n = 7;
    for b in [8, 4, 2] {
        let mut g = Graph::new();
        let rows: Vec<Value> = (0..12).map(|i| input(&mut g, i, &[b, n])).collect();
        let params: Vec<Value> = (12..15).map(|i| input(&mut g, i, &[n])).collect();
        let mut sum = rows[0];
        for (k, &row) in rows.iter().enumerate().skip(1) {
            let p = g.broadcast_to(params[k % 3], &Shape::from([b, n])).unwrap();
            let scaled = g.mul(row, p).unwrap();
            sum = g.add(sum, scaled).unwrap();
        }
        let p = g.broadcast_to(params[0], &Shape::from([b, n])).unwrap();
        let other = g.sub(sum, p).unwrap();
        record(&mut g, sum);
        record(&mut g, other);
        let mut d = Data::new(41);
        let mut args: Vec<Vec<f32>> = (0..12).map(|_| d.vec(b * n, -1.0, 1.0)).collect();
        args.extend((0..3).map(|_| d.vec(n, -1.0, 1.0)));
        compare_all_options(&g, &args, &[Tol::Exact, Tol::Exact]);
        let text = neurojit_compiler::jit::schedule_text(&g).unwrap();
        let staged = text.lines().find(|l| l.starts_with("staged:"));
        // Each copy takes 16 floats of scratch (7, rounded up); the loop
        // itself needs none.
        let scratch = |stage_arguments| {
            let options = JitOptions {
                stage_arguments,
                ..JitOptions::default()
            };
            Jit::with_options(options)
                .compile(&g)
                .unwrap()
                .scratch_len()
        };
        assert_eq!(scratch(false), 0, "{text}");
        if b >= 4 {
            let staged = staged.unwrap_or_else(|| panic!("{text}"));
            for arg in 12..15 {
                assert!(staged.contains(&format!("arg#{arg}->")), "{text}");
            }
            assert!(!staged.contains("arg#0->"), "{text}");
            assert_eq!(scratch(true), 3 * 16, "{text}");
        } else {
            assert!(staged.is_none(), "{text}");
            assert_eq!(scratch(true), 0, "{text}");
        }
    }
}

#[test]
fn jit_transposes_match() {
    let mut g = Graph::new();
    // Of an argument, of a computed value (read through scratch), of a
    // broadcast (materialised first), and as a product's operand.
    let x = input(&mut g, 0, &[5, 7]);
    let xt = g.transpose(x).unwrap();
    record(&mut g, xt);
    let sq = g.mul(x, x).unwrap();
    let sqt = g.transpose(sq).unwrap();
    let e = g.exp(sqt);
    record(&mut g, e);
    let row = input(&mut g, 1, &[3]);
    let wide = g.broadcast_to(row, &Shape::from([4, 3])).unwrap();
    let wide_t = g.transpose(wide).unwrap();
    record(&mut g, wide_t);
    let w = input(&mut g, 2, &[5, 7]);
    let wt = g.transpose(w).unwrap();
    let m = g.matmul(x, wt).unwrap();
    record(&mut g, m);
    let one = input(&mut g, 3, &[1, 9]);
    let one_t = g.transpose(one).unwrap();
    record(&mut g, one_t);
    // Square, read together with its operand by a loop of the same shape.
    let sq_in = input(&mut g, 4, &[6, 6]);
    let sq_t = g.transpose(sq_in).unwrap();
    let mixed = g.sub(sq_in, sq_t).unwrap();
    record(&mut g, mixed);
    // Of a reshape, and of nothing.
    let reshaped = g.reshape(x, &Shape::from([7, 5])).unwrap();
    let reshaped_t = g.transpose(reshaped).unwrap();
    record(&mut g, reshaped_t);
    let empty = input(&mut g, 5, &[0, 4]);
    let empty_t = g.transpose(empty).unwrap();
    record(&mut g, empty_t);
    // Added into an accumulating output.
    g.push_output(Output {
        kind: OutKind::ParamGrad,
        slot: 0,
        name: "acc".to_string(),
        value: sq_t,
        accumulate: true,
    });
    let mut d = Data::new(11);
    let args = vec![
        d.vec(35, -1.0, 1.0),
        d.vec(3, -1.0, 1.0),
        d.vec(35, -1.0, 1.0),
        d.vec(9, -1.0, 1.0),
        d.vec(36, -1.0, 1.0),
        Vec::new(),
    ];
    // Transposes are copies; exp is a polynomial and the product is summed
    // in another order.
    let tols = [
        Tol::Exact,
        Tol::Rel(1e-6),
        Tol::Exact,
        Tol::Rel(1e-6),
        Tol::Exact,
        Tol::Exact,
        Tol::Exact,
        Tol::Exact,
        Tol::Exact,
    ];
    compare_all_options(&g, &args, &tols);
}

#[test]
fn jit_lif_step_with_matmuls_matches() {
    // A two-layer LIF step like the front end traces it.
    let (b, n_in, n_h, n_out) = (4, 7, 10, 3);
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([b, n_in]));
    let w1 = g.arg(ArgKind::Param, 0, "w1", Shape::from([n_in, n_h]));
    let w2 = g.arg(ArgKind::Param, 1, "w2", Shape::from([n_h, n_out]));
    let tau = g.arg(ArgKind::Param, 2, "tau", Shape::from([n_h]));
    let isyn = g.arg(ArgKind::State, 0, "isyn", Shape::from([b, n_h]));
    let vmem = g.arg(ArgKind::State, 1, "vmem", Shape::from([b, n_h]));
    let dt = g.scalar(-1e-3);
    let ratio = g.div(dt, tau).unwrap();
    let decay = g.exp(ratio);
    let decayed = g.mul(isyn, decay).unwrap();
    let input_current = g.matmul(x, w1).unwrap();
    let isyn2 = g.add(decayed, input_current).unwrap();
    let vdec = g.mul(vmem, decay).unwrap();
    let v2 = g.add(vdec, isyn2).unwrap();
    let th = g.scalar(1.0);
    let s = g.spike(v2, th, 0.5, 31.0).unwrap();
    let reset = g.mul(s, th).unwrap();
    let v3 = g.sub(v2, reset).unwrap();
    let y = g.matmul(s, w2).unwrap();
    let t = g.arg(ArgKind::Target, 0, "t", Shape::from([b, n_out]));
    let err = g.sub(y, t).unwrap();
    let sq = g.mul(err, err).unwrap();
    let loss = g.mean_all(sq);
    g.output(OutKind::State, 0, "isyn", isyn2);
    g.output(OutKind::State, 1, "vmem", v3);
    g.output(OutKind::Prediction, 0, "y", y);
    g.output(OutKind::Loss, 0, "loss", loss);
    g.output(OutKind::Tape, 0, "s", s);
    let mut d = Data::new(13);
    let args = vec![
        d.vec(b * n_in, 0.0, 2.0),
        d.vec(n_in * n_h, -0.5, 1.5),
        d.vec(n_h * n_out, -1.0, 1.0),
        d.vec(n_h, 0.01, 0.05),
        d.vec(b * n_h, -1.0, 1.0),
        d.vec(b * n_h, -1.0, 2.0),
        d.vec(b * n_out, -1.0, 1.0),
    ];
    // The decay goes through exp, so values near threshold may differ in
    // the last bit; spikes here are far from thresholds.
    compare_all_options(
        &g,
        &args,
        &[
            Tol::Rel(1e-6),
            Tol::Rel(1e-6),
            Tol::Rel(1e-5),
            Tol::Rel(1e-5),
            Tol::Exact,
        ],
    );
}

#[test]
fn jit_zero_sized_tensors() {
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[3, 0]);
    let e = g.exp(x);
    record(&mut g, e);
    let r = g.reduce_sum(x, 1).unwrap();
    record(&mut g, r);
    let w = input(&mut g, 1, &[0, 2]);
    let m = g.matmul(x, w).unwrap();
    record(&mut g, m);
    compare_all_options(&g, &[vec![], vec![]], &[Tol::Exact]);

    // Sums over an empty axis are zeros, of a computed operand too.
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[2, 0]);
    let e = g.exp(x);
    let r = g.reduce_sum(e, 1).unwrap();
    let one = g.constant_like(1.0, r);
    let r = g.add(r, one).unwrap();
    record(&mut g, r);
    let total = g.sum_all(e);
    record(&mut g, total);
    compare_all_options(&g, &[vec![]], &[Tol::Exact]);
}

#[test]
fn jit_wrong_buffers_are_rejected() {
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[4]);
    let y = g.exp(x);
    record(&mut g, y);
    let kernel = Jit::new().compile(&g).unwrap();
    let mut out = vec![0.0; 4];
    let err = kernel
        .run(&[&[1.0, 2.0, 3.0]], &mut [&mut out])
        .unwrap_err();
    assert!(
        matches!(
            err,
            KernelError::BufferLength {
                expected: 4,
                got: 3,
                ..
            }
        ),
        "{err}"
    );
    let mut short = vec![0.0; 5];
    let err = kernel.run(&[&[1.0; 4]], &mut [&mut short]).unwrap_err();
    assert!(matches!(err, KernelError::BufferLength { .. }), "{err}");
    assert!(matches!(
        kernel.run(&[], &mut [&mut out]),
        Err(KernelError::ArgCount { .. })
    ));
}

#[test]
fn values_beyond_the_size_limit_are_refused_by_both_backends() {
    // 2^31 elements: more than one value may hold.
    let mut big = Graph::new();
    let x = input(&mut big, 0, &[1]);
    let huge = big
        .broadcast_to(x, &Shape::from([1 << 16, 1 << 15]))
        .unwrap();
    let y = big.exp(huge);
    record(&mut big, y);
    // An element count that wraps to 2 in 64 bits: the buffer checks alone
    // would accept 2-float buffers for it.
    let mut wrapping = Graph::new();
    let x = input(&mut wrapping, 0, &[(1 << 63) + 1, 2]);
    let t = wrapping.transpose(x).unwrap();
    record(&mut wrapping, t);
    let backends: [&dyn Backend; 2] = [&Jit::new(), &Interpreter];
    for (graph, shape) in [
        (&big, "[65536,32768]"),
        (&wrapping, "[9223372036854775809,2]"),
    ] {
        for backend in backends {
            match backend.compile(graph) {
                Err(err @ CompileError::TooLarge { .. }) => {
                    assert!(err.to_string().contains(shape), "{err}")
                }
                Err(other) => panic!("{}: expected TooLarge, got {other}", backend.name()),
                Ok(_) => panic!("{}: expected TooLarge, got a kernel", backend.name()),
            }
        }
    }
}

#[test]
fn graphs_the_builder_could_not_make_are_refused_by_both_backends() {
    use neurojit_compiler::ir::{Arg, BinaryOp, Op};
    let backends: [&dyn Backend; 2] = [&Jit::new(), &Interpreter];
    let refused = |g: &Graph, expected: &str| {
        for backend in backends {
            match backend.compile(g) {
                Err(err @ CompileError::Malformed(_)) => {
                    assert!(err.to_string().contains(expected), "{err}")
                }
                Err(other) => panic!("{}: expected Malformed, got {other}", backend.name()),
                Ok(_) => panic!("{}: expected Malformed, got a kernel", backend.name()),
            }
        }
    };
    // A reshape to more elements than its operand: the kernel would read
    // past the 2-float argument.
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[2]);
    let wide = g.add_node(Op::Reshape(x), Shape::from([1000]));
    record(&mut g, wide);
    refused(
        &g,
        "has shape [1000], which its operand of shape [2] cannot take",
    );
    // An elementwise op whose stored shape is not its operands'.
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[2]);
    let sum = g.add_node(Op::Binary(BinaryOp::Add, x, x), Shape::from([8]));
    record(&mut g, sum);
    refused(&g, "has shape [8], expected [2]");
    // An argument node whose shape is not its argument's.
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[2]);
    record(&mut g, x);
    let mut args: Vec<Arg> = g.args().to_vec();
    args[0].shape = Shape::from([1]);
    g.set_args(args);
    refused(&g, "has shape [2], expected [1]");
}

#[test]
fn reduce_sum_over_an_axis_beyond_255() {
    // Rank 300, two elements along axis 260: the axis must not wrap to 4.
    let mut dims = vec![1; 300];
    dims[4] = 3;
    dims[260] = 2;
    let mut g = Graph::new();
    let x = input(&mut g, 0, &dims);
    let r = g.reduce_sum(x, 260).unwrap();
    record(&mut g, r);
    assert_eq!(g.shape(r).numel(), 3);
    let input = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    // Row-major: axis 4 (3 long) outside axis 260 (2 long).
    let expected = vec![3.0, 7.0, 11.0];
    for backend in [&Jit::new() as &dyn Backend, &Interpreter] {
        let kernel = backend.compile(&g).unwrap();
        let mut out = vec![0.0; 3];
        kernel.run(&[&input], &mut [&mut out]).unwrap();
        assert_eq!(out, expected, "{}", backend.name());
    }
}

#[test]
fn jit_identical_graphs_share_compiled_code() {
    let build = |name: &str| {
        let mut g = Graph::new();
        let x = g.arg(ArgKind::Input, 0, name, Shape::from([2, 9]));
        let y = g.exp(x);
        let z = g.mul(y, x).unwrap();
        g.output(OutKind::Record, 0, name, z);
        g
    };
    let jit = Jit::new();
    let a = jit.compile_kernel(&build("a")).unwrap();
    let b = jit.clone().compile_kernel(&build("b")).unwrap();
    assert_eq!(a.code_address(), b.code_address());
    assert_eq!(jit.cache_stats().compiled, 1);
    assert_eq!(jit.cache_stats().reused, 1);
    // A different shape compiles anew.
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([3, 9]));
    let y = g.exp(x);
    g.output(OutKind::Record, 0, "y", y);
    let c = jit.compile_kernel(&g).unwrap();
    assert_ne!(a.code_address(), c.code_address());
    assert_eq!(jit.cache_stats().compiled, 2);
}

#[test]
fn jit_kernels_run_concurrently_from_threads() {
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[33]);
    let w = input(&mut g, 1, &[33, 5]);
    let e = g.exp(x);
    let y = g.mul(e, x).unwrap();
    let row = g.reshape(y, &Shape::from([1, 33])).unwrap();
    let m = g.matmul(row, w).unwrap();
    record(&mut g, m);
    let kernel = std::sync::Arc::new(Jit::new().compile(&g).unwrap());
    let mut d = Data::new(17);
    let xs = d.vec(33, -1.0, 1.0);
    let ws = d.vec(33 * 5, -1.0, 1.0);
    let mut reference = vec![0.0; 5];
    kernel.run(&[&xs, &ws], &mut [&mut reference]).unwrap();
    // The reference is itself right: the interpreter's result, within the
    // JIT's documented exp and summation-order error.
    let args = [xs.clone(), ws.clone()];
    let interpreted = &outputs_of(&Interpreter, &g, &args, |_, _| 0.0)[0];
    for (j, (&x, &e)) in reference.iter().zip(interpreted).enumerate() {
        assert!(
            (x - e).abs() <= 1e-5 * e.abs().max(1.0),
            "element {j}: jit {x:e} interp {e:e}"
        );
    }
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let kernel = kernel.clone();
            let (xs, ws, reference) = (&xs, &ws, &reference);
            scope.spawn(move || {
                for _ in 0..200 {
                    let mut out = vec![0.0; 5];
                    kernel.run(&[xs, ws], &mut [&mut out]).unwrap();
                    assert_eq!(&out, reference);
                }
            });
        }
    });
}

#[test]
fn jit_inspection_shows_clif_and_machine_code() {
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[16]);
    let w = input(&mut g, 1, &[16, 16]);
    let e = g.exp(x);
    let f = g.floor(e);
    let row = g.reshape(f, &Shape::from([1, 16])).unwrap();
    let m = g.matmul(row, w).unwrap();
    record(&mut g, m);
    let clif = neurojit_compiler::jit::clif_text(&g).unwrap();
    assert!(clif.contains("function"), "{clif}");
    assert!(clif.contains("f32x4"), "{clif}");
    assert!(clif.contains("call"), "{clif}");
    let optimized = neurojit_compiler::jit::optimized_clif_text(&g).unwrap();
    assert!(optimized.contains("f32x4"), "{optimized}");
    let asm = neurojit_compiler::jit::asm_text(&g).unwrap();
    assert!(!asm.is_empty());
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("sse4.1") {
            assert!(
                asm.contains("round"),
                "floor should be one rounding instruction:\n{asm}"
            );
        }
        // No libm calls per lane: the only call is the matmul.
        let calls = asm
            .lines()
            .filter(|l| l.trim_start().starts_with("call"))
            .count();
        assert_eq!(calls, 1, "{asm}");
    }
}

#[test]
fn jit_training_programs_match() {
    let programs = [
        steps::linear_lif(4, 3, 5, false, &steps::real_spike),
        steps::linear_lif(2, 3, 4, true, &steps::real_spike),
        steps::linear_lif(8, 13, 37, true, &steps::real_spike),
        steps::leaky_integrator(2, 3, 4),
    ];
    for step in programs {
        let p = neurojit_compiler::program::compile_training(&step).unwrap();
        for (i, g) in [&p.prologue, &p.forward, &p.backward, &p.param_loss]
            .into_iter()
            .enumerate()
        {
            let args: Vec<Vec<f32>> = g
                .args()
                .iter()
                .enumerate()
                .map(|(j, a)| Data::new((i * 31 + j) as u64).vec(a.shape.numel(), 0.05, 1.0))
                .collect();
            // Decays (exp), losses and GEMM products are within rounding;
            // no membrane of this fixed data lies within rounding of its
            // threshold, so spikes agree exactly.
            compare_all_options(g, &args, &[Tol::Rel(2e-5)]);
        }
    }
}

#[test]
fn jit_size_one_axes_fuse_and_match() {
    // Shapes that differ by axes of size 1 share loops; reshapes between
    // them and sums over size-1 axes are computed inline.
    let (b, n) = (3, 6);
    let mut g = Graph::new();
    let x = input(&mut g, 0, &[b, n]);
    let y = input(&mut g, 1, &[b, n, 1]);
    let w = input(&mut g, 2, &[n, 5]);
    let x3 = g.reshape(x, &Shape::from([b, n, 1])).unwrap();
    let s = g.add(x3, y).unwrap();
    let e = g.neg(s);
    let r = g.reduce_sum(e, 2).unwrap();
    let z = g.mul(r, x).unwrap();
    record(&mut g, z);
    let flat = g.reshape(z, &Shape::from([1, b * n])).unwrap();
    record(&mut g, flat);
    let zm = g.matmul(z, w).unwrap();
    record(&mut g, zm);
    // A sum over a size-1 axis is its one term, -0.0 included.
    let neg_zero = g.constant(-0.0, Shape::from([b, n, 1]));
    let nz = g.mul(neg_zero, y).unwrap();
    let rz = g.reduce_sum(nz, 2).unwrap();
    record(&mut g, rz);
    let mut d = Data::new(23);
    let args = vec![
        d.vec(b * n, -1.0, 1.0),
        d.vec(b * n, 0.0, 1.0),
        d.vec(n * 5, -1.0, 1.0),
    ];
    compare_all_options(
        &g,
        &args,
        &[Tol::Exact, Tol::Exact, Tol::Rel(1e-5), Tol::Exact],
    );
    let text = neurojit_compiler::jit::schedule_text(&g).unwrap();
    let loops = text.lines().filter(|l| l.starts_with("loop [3,6")).count();
    assert_eq!(loops, 1, "{text}");
    // The sum of -0.0 products must come out negative, bit for bit.
    let kernel = Jit::new().compile(&g).unwrap();
    let mut outs: Vec<Vec<f32>> = vec![vec![0.0; 18], vec![0.0; 18], vec![0.0; 15], vec![0.0; 18]];
    let mut views: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    let arg_refs: Vec<&[f32]> = args.iter().map(|a| a.as_slice()).collect();
    kernel.run(&arg_refs, &mut views).unwrap();
    assert!(
        outs[3].iter().all(|x| x.to_bits() == (-0.0f32).to_bits()),
        "{:?}",
        outs[3]
    );
}

#[test]
fn jit_sums_start_from_negative_zero_like_the_interpreter() {
    // Sums start from -0.0, the identity of addition, so a sum of -0.0
    // terms is -0.0; an empty sum is +0.0. The comparison helpers treat the
    // two zeros as equal, so the bits are checked here.
    for dims in [[3, 5, 7], [2, 3, 1], [4, 2, 9], [2, 3, 17]] {
        let mut g = Graph::new();
        let y = input(&mut g, 0, &dims);
        let neg_zero = g.constant(-0.0, Shape::new(&dims));
        let terms = g.mul(neg_zero, y).unwrap();
        for axis in 0..3 {
            let r = g.reduce_sum(terms, axis).unwrap();
            record(&mut g, r);
        }
        let total = g.sum_all(terms);
        record(&mut g, total);
        let empty = input(&mut g, 1, &[2, 0]);
        let empty_sum = g.reduce_sum(empty, 1).unwrap();
        record(&mut g, empty_sum);
        let n: usize = dims.iter().product();
        let args = [Data::new(5).vec(n, 0.0, 2.0), Vec::new()];
        let backends: [&dyn Backend; 2] = [&Interpreter, &Jit::new()];
        for backend in backends {
            let outs = outputs_of(backend, &g, &args, |_, _| 1.0);
            let (sums, empty) = outs.split_at(outs.len() - 1);
            for sum in sums {
                assert!(
                    sum.iter().all(|x| x.to_bits() == (-0.0f32).to_bits()),
                    "{dims:?}: {sum:?}"
                );
            }
            assert!(empty[0].iter().all(|x| x.to_bits() == 0), "{empty:?}");
        }
    }
}

#[test]
fn jit_negation_and_absolute_value_touch_only_the_sign_bit() {
    // The JIT flips or clears the sign bit with a bitwise operation; the
    // interpreter uses Rust's `-x` and `abs`. Both must give the same bits
    // for zeros, infinities, subnormals and NaNs, in whole vectors, in the
    // last one that overlaps them (7 elements) and in a partial one (3).
    let specials = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::from_bits(1),
        -f32::MIN_POSITIVE / 4.0,
        f32::NAN,
    ];
    for len in [specials.len(), 3] {
        let values = &specials[specials.len() - len..];
        let mut g = Graph::new();
        let x = input(&mut g, 0, &[len]);
        let negated = g.neg(x);
        let magnitude = g.abs(x);
        record(&mut g, negated);
        record(&mut g, magnitude);
        let expected_neg: Vec<u32> = values.iter().map(|x| x.to_bits() ^ 0x8000_0000).collect();
        let expected_abs: Vec<u32> = values.iter().map(|x| x.to_bits() & 0x7fff_ffff).collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        let backends: [&dyn Backend; 2] = [&Interpreter, &Jit::new()];
        for backend in backends {
            let outs = outputs_of(backend, &g, &[values.to_vec()], |_, _| 1.0);
            assert_eq!(bits(&outs[0]), expected_neg, "{len} elements");
            assert_eq!(bits(&outs[1]), expected_abs, "{len} elements");
        }
    }
}

#[test]
fn jit_overlapping_last_vectors_add_shared_lanes_once() {
    // A row of 5 to 7 or 10 elements ends with a full vector overlapping
    // the one before it (1 to 3 shared lanes). Plain outputs are stored
    // twice there; accumulating outputs and sums over the first axis must
    // add each element once, bit for bit as the interpreter does, into
    // buffers holding -0.0, +0.0 and NaN. Row sums follow the documented
    // reassociation (vector lanes, then the tail's new lanes in order).
    let fill = |_: usize, j: usize| [-0.0, 1.5, f32::NAN, 0.0, -2.25][j % 5];
    for n in [5, 6, 7, 10] {
        let mut g = Graph::new();
        let x = input(&mut g, 0, &[3, n]);
        let y = input(&mut g, 1, &[3, n]);
        let p = g.mul(x, y).unwrap();
        let down = g.reduce_sum(p, 0).unwrap();
        let across = g.reduce_sum(p, 1).unwrap();
        for (slot, v) in [p, down].into_iter().enumerate() {
            g.push_output(Output {
                kind: OutKind::ParamGrad,
                slot,
                name: format!("acc{slot}"),
                value: v,
                accumulate: true,
            });
        }
        record(&mut g, p);
        record(&mut g, across);
        let mut d = Data::new(n as u64);
        let mut xs = d.vec(3 * n, -1.0, 1.0);
        xs[1] = -0.0;
        let args = vec![xs, d.vec(3 * n, 0.5, 1.0)];
        let expected = outputs_of(&Interpreter, &g, &args, fill);
        let got = outputs_of(&Jit::new(), &g, &args, fill);
        let bits = |v: &[f32]| -> Vec<Option<u32>> {
            v.iter()
                .map(|x| (!x.is_nan()).then_some(x.to_bits()))
                .collect()
        };
        for out in 0..3 {
            assert_eq!(
                bits(&got[out]),
                bits(&expected[out]),
                "n = {n}, output {out}"
            );
        }
        for (g_sum, e_sum) in got[3].iter().zip(&expected[3]) {
            assert!(
                (g_sum - e_sum).abs() <= 1e-6 * e_sum.abs().max(1.0),
                "n = {n}"
            );
        }
    }
}
