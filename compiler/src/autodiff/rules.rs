//! Every derivative rule, one arm per op.
//!
//! `pullback` takes a node `out = op(x, y, ...)` and the adjoint `g` of `out`
//! (same shape as `out`) and builds, with the checked builder, the adjoint
//! contribution of each operand. It only builds contributions for operands
//! the caller wants (those that lead to a value being differentiated), and
//! none where the derivative is zero, so no node ever holds a zero adjoint.
//!
//! Assumes the builder's invariant that elementwise operands share the
//! result's shape (broadcasting is an explicit `broadcast` node).

use crate::ir::{BinaryOp, CompareOp, Graph, GraphError, Op, Shape, UnaryOp, Value};
use smallvec::SmallVec;

type Result<T> = std::result::Result<T, GraphError>;

/// Adjoint contributions `(operand, contribution)` of one node.
pub(super) type Contributions = SmallVec<[(Value, Value); 3]>;

/// The adjoint contributions that `out`'s adjoint `g` sends to its operands.
/// `wanted[x]` says whether operand `x` needs an adjoint at all.
pub(super) fn pullback(
    graph: &mut Graph,
    out: Value,
    g: Value,
    wanted: &[bool],
) -> Result<Contributions> {
    let mut to = Sender {
        wanted,
        sent: Contributions::new(),
    };
    let gr = graph;
    match *gr.op(out) {
        // Leaves, and ops whose derivative is zero (or blocked) everywhere.
        Op::Constant(_) | Op::Arg(_) => {}
        Op::Unary(UnaryOp::Floor, _) | Op::Compare(..) | Op::StopGradient(_) => {}

        Op::Unary(UnaryOp::Neg, x) => to.send(x, || Ok(gr.neg(g)))?,
        Op::Unary(UnaryOp::Exp, x) => to.send(x, || gr.mul(g, out))?,
        Op::Unary(UnaryOp::Log, x) => to.send(x, || gr.div(g, x))?,
        // d(1/x) = -1/x^2 = -r*r
        Op::Unary(UnaryOp::Recip, x) => to.send(x, || {
            let gr_r = gr.mul(g, out)?;
            let grr = gr.mul(gr_r, out)?;
            Ok(gr.neg(grr))
        })?,
        // d(sqrt x) = 0.5 / sqrt x
        Op::Unary(UnaryOp::Sqrt, x) => to.send(x, || {
            let half = gr.scale(g, 0.5);
            gr.div(half, out)
        })?,
        // sign(x) = (x > 0) - (x < 0), so sign(0) = 0.
        Op::Unary(UnaryOp::Abs, x) => to.send(x, || {
            let zero = gr.constant_like(0.0, x);
            let positive = gr.compare(CompareOp::Gt, x, zero)?;
            let negative = gr.compare(CompareOp::Lt, x, zero)?;
            let sign = gr.sub(positive, negative)?;
            gr.mul(g, sign)
        })?,

        Op::Binary(BinaryOp::Add, a, b) => {
            to.send(a, || Ok(g))?;
            to.send(b, || Ok(g))?;
        }
        Op::Binary(BinaryOp::Sub, a, b) => {
            to.send(a, || Ok(g))?;
            to.send(b, || Ok(gr.neg(g)))?;
        }
        Op::Binary(BinaryOp::Mul, a, b) => {
            to.send(a, || gr.mul(g, b))?;
            to.send(b, || gr.mul(g, a))?;
        }
        // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -(a/b)/b, reusing g/b.
        Op::Binary(BinaryOp::Div, a, b) => {
            let g_over_b = gr.div(g, b)?;
            to.send(a, || Ok(g_over_b))?;
            to.send(b, || {
                let t = gr.mul(g_over_b, out)?;
                Ok(gr.neg(t))
            })?;
        }
        Op::Binary(BinaryOp::Max, a, b) => route_to_winner(gr, &mut to, g, a, b, CompareOp::Gt)?,
        Op::Binary(BinaryOp::Min, a, b) => route_to_winner(gr, &mut to, g, a, b, CompareOp::Lt)?,

        // The condition gets nothing; each branch gets `g` where it was taken.
        Op::Select {
            cond,
            on_true,
            on_false,
        } => {
            let zero = gr.constant_like(0.0, g);
            to.send(on_true, || gr.select(cond, g, zero))?;
            to.send(on_false, || gr.select(cond, zero, g))?;
        }

        Op::Broadcast(x) => to.send(x, || {
            let shape = gr.shape(x).clone();
            sum_to_shape(gr, g, &shape)
        })?,
        Op::Reshape(x) => to.send(x, || {
            let shape = gr.shape(x).clone();
            gr.reshape(g, &shape)
        })?,
        Op::Transpose(x) => to.send(x, || gr.transpose(g))?,
        // Put the summed axis back as size 1, then stretch it.
        Op::ReduceSum { operand: x, axis } => to.send(x, || {
            let shape = gr.shape(x).clone();
            let mut kept = shape.dims().to_vec();
            kept[axis as usize] = 1;
            let g_kept = gr.reshape(g, &Shape::new(&kept))?;
            gr.broadcast_to(g_kept, &shape)
        })?,

        // C = op(A) op(B): dA = g op(B)^T (transposed back when A was), and
        // dB = op(A)^T g (likewise), written with transpose flags only.
        Op::Matmul {
            lhs,
            rhs,
            transpose_lhs,
            transpose_rhs,
        } => {
            to.send(lhs, || {
                if transpose_lhs {
                    gr.matmul_transposed(rhs, g, transpose_rhs, true)
                } else {
                    gr.matmul_transposed(g, rhs, false, !transpose_rhs)
                }
            })?;
            to.send(rhs, || {
                if transpose_rhs {
                    gr.matmul_transposed(g, lhs, true, transpose_lhs)
                } else {
                    gr.matmul_transposed(lhs, g, !transpose_lhs, false)
                }
            })?;
        }

        // Rockpool's surrogate: mask = v >= th - window (absolute window),
        // ds/dv = mask / th, ds/dth = -mask * v / th^2 = -(ds/dv) * v / th.
        Op::Spike {
            v,
            threshold,
            window,
            ..
        } => {
            let window = gr.constant_like(window.get(), threshold);
            let lower = gr.sub(threshold, window)?;
            let mask = gr.compare(CompareOp::Ge, v, lower)?;
            let g_mask = gr.mul(g, mask)?;
            let g_dv = gr.div(g_mask, threshold)?;
            to.send(v, || Ok(g_dv))?;
            to.send(threshold, || {
                let v_over_th = gr.div(v, threshold)?;
                let t = gr.mul(g_dv, v_over_th)?;
                Ok(gr.neg(t))
            })?;
        }
    }
    Ok(to.sent)
}

/// `max`/`min`: the adjoint goes to the operand that won (`a wins b`); on a
/// tie each operand gets half, as in jax.
fn route_to_winner(
    gr: &mut Graph,
    to: &mut Sender,
    g: Value,
    a: Value,
    b: Value,
    wins: CompareOp,
) -> Result<()> {
    let half = gr.scale(g, 0.5);
    let zero = gr.constant_like(0.0, g);
    let tie = gr.compare(CompareOp::Eq, a, b)?;
    let on_tie = gr.select(tie, half, zero)?;
    to.send(a, || {
        let a_wins = gr.compare(wins, a, b)?;
        gr.select(a_wins, g, on_tie)
    })?;
    to.send(b, || {
        let b_wins = gr.compare(wins, b, a)?;
        gr.select(b_wins, g, on_tie)
    })
}

/// The adjoint of a broadcast: sums `g` over every stretched axis (the new
/// leading ones and those of size 1 in `shape`), then reshapes to `shape`.
fn sum_to_shape(gr: &mut Graph, g: Value, shape: &Shape) -> Result<Value> {
    let to_dims = gr.shape(g).dims().to_vec();
    let offset = to_dims.len() - shape.rank();
    let mut summed = g;
    // Highest axis first, so the lower axis numbers stay valid.
    for axis in (0..to_dims.len()).rev() {
        let stretched = axis < offset || (shape.dims()[axis - offset] == 1 && to_dims[axis] != 1);
        if stretched {
            summed = gr.reduce_sum(summed, axis)?;
        }
    }
    gr.reshape(summed, shape)
}

/// Collects contributions, building each only when its operand is wanted.
struct Sender<'a> {
    wanted: &'a [bool],
    sent: Contributions,
}

impl Sender<'_> {
    fn send(&mut self, operand: Value, build: impl FnOnce() -> Result<Value>) -> Result<()> {
        if self.wanted[operand.index()] {
            self.sent.push((operand, build()?));
        }
        Ok(())
    }
}
