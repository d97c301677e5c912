//! JIT against interpreter on the kernels that dominate training time:
//! a fused LIF update (elementwise, with broadcast decays and a spike), a
//! layer matmul, a spike-input matmul, and the per-call overhead on tiny
//! tensors. Also compares the matmul methods (blocked FMA kernels, packed
//! GEMM, exact row loops) on the products training runs, which is how the
//! defaults of `JitOptions::packed_gemm_from` and `exact_matmul` were
//! chosen.
//!
//! Run with `cargo bench -p neurojit-compiler --bench jit_kernels`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use neurojit_compiler::interp::Interpreter;
use neurojit_compiler::ir::{ArgKind, Graph, OutKind, Shape};
use neurojit_compiler::jit::{Jit, JitOptions};
use neurojit_compiler::kernel::{Backend, Kernel};
use std::hint::black_box;
use std::time::Duration;

/// Deterministic data in [lo, hi).
fn data(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            lo + (hi - lo) * (s >> 8) as f32 / (1u32 << 24) as f32
        })
        .collect()
}

/// One LIF update: synaptic and membrane decay (per-neuron decays broadcast
/// over the batch), spike with a scalar threshold, subtractive reset.
fn lif_graph(b: usize, n: usize) -> Graph {
    let mut g = Graph::new();
    let shape = Shape::from([b, n]);
    let isyn = g.arg(ArgKind::State, 0, "isyn", shape.clone());
    let vmem = g.arg(ArgKind::State, 1, "vmem", shape.clone());
    let current = g.arg(ArgKind::Input, 0, "current", shape);
    let dsyn = g.arg(ArgKind::Hoisted, 0, "dsyn", Shape::from([n]));
    let dmem = g.arg(ArgKind::Hoisted, 1, "dmem", Shape::from([n]));
    let th = g.scalar(1.0);
    let i_decayed = g.mul(isyn, dsyn).unwrap();
    let isyn2 = g.add(i_decayed, current).unwrap();
    let v_decayed = g.mul(vmem, dmem).unwrap();
    let v2 = g.add(v_decayed, isyn2).unwrap();
    let s = g.spike(v2, th, 0.5, 31.0).unwrap();
    let reset = g.mul(s, th).unwrap();
    let v3 = g.sub(v2, reset).unwrap();
    g.output(OutKind::State, 0, "isyn", isyn2);
    g.output(OutKind::State, 1, "vmem", v3);
    g.output(OutKind::Prediction, 0, "spikes", s);
    g
}

fn lif_args(b: usize, n: usize) -> Vec<Vec<f32>> {
    vec![
        data(b * n, 1, -1.0, 1.0),
        data(b * n, 2, -1.0, 2.0),
        data(b * n, 3, 0.0, 0.2),
        data(n, 4, 0.8, 0.99),
        data(n, 5, 0.8, 0.99),
    ]
}

fn matmul_graph(m: usize, k: usize, n: usize, spikes: bool) -> Graph {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([m, k]));
    let w = g.arg(ArgKind::Param, 0, "w", Shape::from([k, n]));
    let lhs = if spikes {
        let th = g.scalar(1.0);
        g.spike(x, th, 0.5, 1.0).unwrap()
    } else {
        x
    };
    let y = g.matmul(lhs, w).unwrap();
    g.output(OutKind::Prediction, 0, "y", y);
    g
}

fn run_kernel(kernel: &dyn Kernel, args: &[&[f32]], outs: &mut [Vec<f32>]) {
    let mut views: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    kernel.run(black_box(args), &mut views).unwrap();
}

fn outputs_of(g: &Graph) -> Vec<Vec<f32>> {
    g.outputs()
        .iter()
        .map(|o| vec![0.0; g.shape(o.value).numel()])
        .collect()
}

/// Benchmarks `graph` on every backend in `backends` under `group/label`.
fn bench_backends(
    c: &mut Criterion,
    group_name: &str,
    label: &str,
    graph: &Graph,
    args: &[Vec<f32>],
    backends: &[(&str, &dyn Backend)],
) {
    let mut group = c.benchmark_group(group_name);
    let arg_refs: Vec<&[f32]> = args.iter().map(|a| a.as_slice()).collect();
    for (name, backend) in backends {
        let kernel = backend.compile(graph).unwrap();
        let mut outs = outputs_of(graph);
        group.bench_with_input(BenchmarkId::new(*name, label), &(), |bench, _| {
            bench.iter(|| run_kernel(kernel.as_ref(), &arg_refs, &mut outs))
        });
    }
    group.finish();
}

fn lif(c: &mut Criterion) {
    let jit = Jit::new();
    let jit_fma = Jit::with_options(JitOptions {
        contract_fma: true,
        ..JitOptions::default()
    });
    let backends: [(&str, &dyn Backend); 3] = [
        ("interp", &Interpreter),
        ("jit", &jit),
        ("jit_fma", &jit_fma),
    ];
    for (b, n) in [(1, 3), (32, 128), (128, 512)] {
        let g = lif_graph(b, n);
        bench_backends(
            c,
            "lif_step",
            &format!("{b}x{n}"),
            &g,
            &lif_args(b, n),
            &backends,
        );
    }
}

fn matmul(c: &mut Criterion) {
    let jit = Jit::new();
    let backends: [(&str, &dyn Backend); 2] = [("interp", &Interpreter), ("jit", &jit)];
    for (m, k, n) in [(32, 128, 128), (128, 256, 256)] {
        let g = matmul_graph(m, k, n, false);
        let args = vec![data(m * k, 6, -1.0, 1.0), data(k * n, 7, -1.0, 1.0)];
        bench_backends(c, "matmul", &format!("{m}x{k}x{n}"), &g, &args, &backends);
    }
    // Spike-count left operand, about 10% nonzero.
    let dense = Jit::with_options(JitOptions {
        sparse_spikes: false,
        ..JitOptions::default()
    });
    let spike_backends: [(&str, &dyn Backend); 3] = [
        ("interp", &Interpreter),
        ("jit", &jit),
        ("jit_dense", &dense),
    ];
    for (m, k, n) in [(32, 128, 128), (128, 256, 256)] {
        let g = matmul_graph(m, k, n, true);
        let args = vec![data(m * k, 8, -8.0, 1.1), data(k * n, 9, -1.0, 1.0)];
        bench_backends(
            c,
            "spike_matmul",
            &format!("{m}x{k}x{n}"),
            &g,
            &args,
            &spike_backends,
        );
    }
}

/// A product `op(a) @ op(b)` of two inputs.
fn transposed_matmul_graph(m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Graph {
    let mut g = Graph::new();
    let a_dims = if ta { [k, m] } else { [m, k] };
    let b_dims = if tb { [n, k] } else { [k, n] };
    let a = g.arg(ArgKind::Input, 0, "a", Shape::from(a_dims));
    let b = g.arg(ArgKind::Param, 0, "b", Shape::from(b_dims));
    let y = g.matmul_transposed(a, b, ta, tb).unwrap();
    g.output(OutKind::Prediction, 0, "y", y);
    g
}

/// Blocked kernels against packed GEMM and the exact row loops, on the
/// products the benchmark presets run: per timestep (forward, and the
/// backward's `g @ W^T` and `x^T @ g`), and over all timesteps at once.
fn matmul_methods(c: &mut Criterion) {
    let options = |f: fn(&mut JitOptions)| {
        let mut o = JitOptions {
            sparse_spikes: false,
            ..JitOptions::default()
        };
        f(&mut o);
        Jit::with_options(o)
    };
    let blocked = options(|_| {});
    let gemm = options(|o| o.packed_gemm_from = 0);
    let exact = options(|o| o.exact_matmul = true);
    let backends: [(&str, &dyn Backend); 3] =
        [("blocked", &blocked), ("gemm", &gemm), ("exact", &exact)];
    for (m, k, n, ta, tb) in [
        (1, 3, 3, false, false),
        (16, 32, 128, false, false),
        (16, 128, 128, false, false),
        (16, 128, 128, false, true),
        (128, 16, 128, true, false),
        (16, 128, 10, false, false),
        (32, 256, 256, false, true),
        (3200, 32, 128, false, false),
        (128, 3200, 128, true, false),
        (128, 3200, 10, true, false),
        (16, 10, 128, false, true),
    ] {
        let g = transposed_matmul_graph(m, k, n, ta, tb);
        let args = vec![data(m * k, 10, -1.0, 1.0), data(k * n, 11, -1.0, 1.0)];
        let label = format!(
            "{m}x{k}x{n}{}{}",
            if ta { "_aT" } else { "" },
            if tb { "_bT" } else { "" }
        );
        bench_backends(c, "matmul_method", &label, &g, &args, &backends);
    }
}

/// Spike-count products at the densities training runs (the recurrent
/// preset's spike trains are 40-45% nonzero): the per-call choice (`jit`,
/// zero-skipping at most 1/8 nonzero) against dense only. To time the
/// zero-skipping path at every density, set `SPARSE_DENSITY` to 1.0 in
/// `matmul/entry.rs`.
fn spike_density(c: &mut Criterion) {
    let sparse = Jit::new();
    let dense = Jit::with_options(JitOptions {
        sparse_spikes: false,
        ..JitOptions::default()
    });
    let backends: [(&str, &dyn Backend); 2] = [("jit", &sparse), ("jit_dense", &dense)];
    for (m, k, n) in [(16, 128, 128), (32, 256, 256)] {
        let g = matmul_graph(m, k, n, true);
        for density in [0.1f32, 0.25, 0.45, 0.65] {
            // spike(x) is nonzero where x >= 1: with x uniform in [-1, hi),
            // a fraction (hi - 1) / (hi + 1).
            let hi = (1.0 + density) / (1.0 - density);
            let args = vec![data(m * k, 12, -1.0, hi), data(k * n, 13, -1.0, 1.0)];
            let label = format!("{m}x{k}x{n}_{:.0}%", density * 100.0);
            bench_backends(c, "spike_density", &label, &g, &args, &backends);
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = lif, matmul, matmul_methods, spike_density
}
criterion_main!(benches);
