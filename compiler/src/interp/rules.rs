//! One evaluation rule per op, each a plain loop over whole tensors.

use crate::ir::{BinaryOp, Graph, Op, Shape, UnaryOp, Value};

/// Computes node `v` into `out`, reading operands from `buffers` (one per
/// node, already computed) and arguments from `args`.
pub(super) fn evaluate(
    graph: &Graph,
    v: Value,
    args: &[&[f32]],
    buffers: &[Vec<f32>],
    out: &mut [f32],
) {
    let operand = |x: Value| buffers[x.index()].as_slice();
    match *graph.op(v) {
        Op::Constant(c) => out.fill(c.get()),
        Op::Arg(i) => out.copy_from_slice(args[i as usize]),
        Op::Unary(op, a) => unary(op, operand(a), out),
        Op::Binary(op, a, b) => binary(op, operand(a), operand(b), out),
        Op::Compare(op, a, b) => {
            for ((o, &x), &y) in out.iter_mut().zip(operand(a)).zip(operand(b)) {
                *o = if op.holds(x, y) { 1.0 } else { 0.0 };
            }
        }
        Op::Select {
            cond,
            on_true,
            on_false,
        } => {
            let (c, t, f) = (operand(cond), operand(on_true), operand(on_false));
            for i in 0..out.len() {
                out[i] = if c[i] != 0.0 { t[i] } else { f[i] };
            }
        }
        Op::Broadcast(a) => broadcast(graph.shape(a), operand(a), graph.shape(v), out),
        Op::Reshape(a) | Op::StopGradient(a) => out.copy_from_slice(operand(a)),
        Op::Transpose(a) => transpose(graph.shape(a), operand(a), out),
        Op::ReduceSum { operand: a, axis } => {
            reduce_sum(graph.shape(a), axis as usize, operand(a), out)
        }
        Op::Matmul {
            lhs,
            rhs,
            transpose_lhs,
            transpose_rhs,
        } => matmul(
            graph.shape(lhs),
            operand(lhs),
            transpose_lhs,
            graph.shape(rhs),
            operand(rhs),
            transpose_rhs,
            out,
        ),
        Op::Spike {
            v: vm,
            threshold,
            max,
            ..
        } => {
            let max = max.get();
            for ((o, &x), &th) in out.iter_mut().zip(operand(vm)).zip(operand(threshold)) {
                *o = spike_count(x, th, max);
            }
        }
    }
}

/// The forward rule of `spike`: `clip((v >= th) * floor(v / th), 0, max)`.
#[inline]
pub fn spike_count(v: f32, threshold: f32, max: f32) -> f32 {
    if v >= threshold {
        (v / threshold).floor().max(0.0).min(max)
    } else {
        0.0
    }
}

fn unary(op: UnaryOp, a: &[f32], out: &mut [f32]) {
    let f: fn(f32) -> f32 = match op {
        UnaryOp::Neg => |x| -x,
        UnaryOp::Exp => f32::exp,
        UnaryOp::Log => f32::ln,
        UnaryOp::Recip => |x| 1.0 / x,
        UnaryOp::Sqrt => f32::sqrt,
        UnaryOp::Abs => f32::abs,
        UnaryOp::Floor => f32::floor,
    };
    for (o, &x) in out.iter_mut().zip(a) {
        *o = f(x);
    }
}

/// `max` and `min` propagate NaN, like jax and Cranelift's `fmax`/`fmin`,
/// and order `-0.0` below `+0.0` as those do (WebAssembly rules), so that
/// they are commutative: the graph builder stores their operands in a
/// canonical order.
pub fn nan_max(x: f32, y: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else if x == y {
        // Equal, or two zeros: +0.0 wins.
        if x.is_sign_negative() {
            y
        } else {
            x
        }
    } else {
        x.max(y)
    }
}

pub fn nan_min(x: f32, y: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else if x == y {
        // Equal, or two zeros: -0.0 wins.
        if x.is_sign_negative() {
            x
        } else {
            y
        }
    } else {
        x.min(y)
    }
}

fn binary(op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) {
    macro_rules! each {
        ($f:expr) => {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = $f(x, y);
            }
        };
    }
    match op {
        BinaryOp::Add => each!(|x: f32, y: f32| x + y),
        BinaryOp::Sub => each!(|x: f32, y: f32| x - y),
        BinaryOp::Mul => each!(|x: f32, y: f32| x * y),
        BinaryOp::Div => each!(|x: f32, y: f32| x / y),
        BinaryOp::Max => each!(nan_max),
        BinaryOp::Min => each!(nan_min),
    }
}

/// numpy broadcasting: each output element reads the input element whose
/// index equals the output's in every non-stretched dimension.
fn broadcast(from: &Shape, a: &[f32], to: &Shape, out: &mut [f32]) {
    if a.len() == 1 {
        out.fill(a[0]);
        return;
    }
    let rank = to.rank();
    let offset = rank - from.rank();
    let from_strides = from.strides();
    // Stride of each output dimension in the input (0 where stretched).
    let strides: Vec<usize> = (0..rank)
        .map(|d| {
            if d < offset || from.dims()[d - offset] == 1 {
                0
            } else {
                from_strides[d - offset]
            }
        })
        .collect();
    let dims = to.dims();
    let inner = dims[rank - 1];
    let inner_stride = strides[rank - 1];
    let mut index = vec![0usize; rank];
    let mut o = 0;
    while o < out.len() {
        let base: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        for j in 0..inner {
            out[o + j] = a[base + j * inner_stride];
        }
        o += inner;
        // Advance the multi-index over all but the last dimension.
        for d in (0..rank - 1).rev() {
            index[d] += 1;
            if index[d] < dims[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

/// The value a `reduce_sum` of `terms` terms starts from: -0.0, the
/// identity of IEEE addition (`-0.0 + x` is `x` for every x, `+0.0 + -0.0`
/// is not), so a sum of one term is that term, as jax gives for Rockpool's
/// single synapse axis (XLA drops sums over axes of length 1). numpy and
/// XLA start longer sums from +0.0: a sum of several `-0.0`s is `+0.0`
/// there, `-0.0` here (the two compare equal). An empty sum is `+0.0`.
pub(crate) fn sum_start(terms: usize) -> f32 {
    if terms > 0 {
        -0.0
    } else {
        0.0
    }
}

fn reduce_sum(from: &Shape, axis: usize, a: &[f32], out: &mut [f32]) {
    let dims = from.dims();
    let outer: usize = dims[..axis].iter().product();
    let n = dims[axis];
    let inner: usize = dims[axis + 1..].iter().product();
    out.fill(sum_start(n));
    for o in 0..outer {
        let dst = &mut out[o * inner..(o + 1) * inner];
        for k in 0..n {
            let src = &a[(o * n + k) * inner..(o * n + k + 1) * inner];
            dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
        }
    }
}

/// `out[j, i] = a[i, j]` for a 2-D `a`.
fn transpose(sa: &Shape, a: &[f32], out: &mut [f32]) {
    let (rows, cols) = (sa.dims()[0], sa.dims()[1]);
    for (i, row) in a.chunks_exact(cols.max(1)).take(rows).enumerate() {
        for (j, &x) in row.iter().enumerate() {
            out[j * rows + i] = x;
        }
    }
}

/// `op(a) @ op(b)` with plain loops in i-k-j order (the inner loop runs
/// along contiguous rows of `b` and `out` when `b` is not transposed).
fn matmul(sa: &Shape, a: &[f32], ta: bool, sb: &Shape, b: &[f32], tb: bool, out: &mut [f32]) {
    let (m, k) = if ta {
        (sa.dims()[1], sa.dims()[0])
    } else {
        (sa.dims()[0], sa.dims()[1])
    };
    let n = if tb { sb.dims()[0] } else { sb.dims()[1] };
    // Element (i, p) of op(a) and (p, j) of op(b).
    let a_at = |i: usize, p: usize| if ta { a[p * m + i] } else { a[i * k + p] };
    out.fill(0.0);
    for i in 0..m {
        let row = &mut out[i * n..(i + 1) * n];
        for p in 0..k {
            let x = a_at(i, p);
            if tb {
                for (j, r) in row.iter_mut().enumerate() {
                    *r += x * b[j * k + p];
                }
            } else {
                let brow = &b[p * n..(p + 1) * n];
                row.iter_mut().zip(brow).for_each(|(r, &y)| *r += x * y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::evaluate;
    use crate::ir::{ArgKind, Graph, OutKind, Shape};

    #[test]
    fn broadcast_reduce_and_matmul() {
        let mut g = Graph::new();
        let a = g.arg(ArgKind::Input, 0, "a", Shape::from([2, 3]));
        let b = g.arg(ArgKind::Input, 1, "b", Shape::from([3]));
        let s = g.add(a, b).unwrap();
        let r = g.reduce_sum(s, 0).unwrap();
        let m = g.matmul_transposed(a, a, false, true).unwrap();
        let mt = g.matmul_transposed(a, a, true, false).unwrap();
        g.output(OutKind::Record, 0, "s", s);
        g.output(OutKind::Record, 1, "r", r);
        g.output(OutKind::Record, 2, "m", m);
        g.output(OutKind::Record, 3, "mt", mt);
        let av = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let out = evaluate(&g, &[&av, &[10.0, 20.0, 30.0]]).unwrap();
        assert_eq!(out[0], vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        assert_eq!(out[1], vec![25.0, 47.0, 69.0]);
        assert_eq!(out[2], vec![14.0, 32.0, 32.0, 77.0]);
        assert_eq!(
            out[3],
            vec![17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]
        );
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let mut g = Graph::new();
        let a = g.arg(ArgKind::Input, 0, "a", Shape::from([2, 3]));
        let t = g.transpose(a).unwrap();
        assert_eq!(g.shape(t), &Shape::from([3, 2]));
        g.output(OutKind::Record, 0, "t", t);
        let out = evaluate(&g, &[&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]).unwrap();
        assert_eq!(out[0], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let v = g.arg(ArgKind::Input, 1, "v", Shape::from([3]));
        let err = g.transpose(v).unwrap_err().to_string();
        assert!(err.contains("transpose") && err.contains("2-D"), "{err}");
    }

    #[test]
    fn spike_counts_several_spikes_and_caps() {
        let mut g = Graph::new();
        let v = g.arg(ArgKind::Input, 0, "v", Shape::from([5]));
        let th = g.scalar(1.0);
        let s = g.spike(v, th, 0.5, 2.0).unwrap();
        g.output(OutKind::Record, 0, "s", s);
        let out = evaluate(&g, &[&[0.999, 1.0, 2.5, 7.0, -3.0]]).unwrap();
        assert_eq!(out[0], vec![0.0, 1.0, 2.0, 2.0, 0.0]);
    }
}
