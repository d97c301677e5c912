//! Checks that a graph is what its builder would have made: every operand
//! comes before its user, every argument exists, and every node's shape is
//! the one its op gives its operands' shapes.
//!
//! The builder methods guarantee this, but `Graph::add_node` and
//! `Graph::set_args` are public for passes and take shapes on trust.
//! Backends verify a graph before compiling it: generated code loops over
//! the stored shapes and buffers are checked against them, so a node whose
//! shape disagrees with its operands' would read past their buffers.

use super::graph::oriented;
use super::{Graph, Op, Shape, Value};

/// The first inconsistency of `graph`, described, or `Ok`.
pub fn verify(graph: &Graph) -> Result<(), String> {
    for (index, node) in graph.nodes().iter().enumerate() {
        let problem = |what: String| Err(format!("node %{index} ({:?}): {what}", node.op));
        if let Some(late) = node.op.operands().iter().find(|v| v.index() >= index) {
            return problem(format!(
                "reads %{}, which does not come before it",
                late.index()
            ));
        }
        let expected = match expected_shape(graph, &node.op, &node.shape) {
            Ok(Some(shape)) => shape,
            Ok(None) => continue,
            Err(what) => return problem(what),
        };
        if expected != node.shape {
            return problem(format!("has shape {}, expected {expected}", node.shape));
        }
    }
    if let Some(out) = graph
        .outputs()
        .iter()
        .find(|o| o.value.index() >= graph.len())
    {
        return Err(format!(
            "output `{}` names a value the graph does not have",
            out.name
        ));
    }
    Ok(())
}

/// The shape `op` gives its operands' shapes; `None` when the node's own
/// `shape` is right as long as the operand fits it (a constant, a
/// broadcast, a reshape of as many elements).
fn expected_shape(graph: &Graph, op: &Op, shape: &Shape) -> Result<Option<Shape>, String> {
    let shape_of = |v: Value| graph.shape(v);
    let same = |values: &[Value]| -> Result<Option<Shape>, String> {
        let first = shape_of(values[0]);
        match values.iter().find(|&&v| shape_of(v) != first) {
            Some(&v) => Err(format!("operands of shapes {first} and {}", shape_of(v))),
            None => Ok(Some(first.clone())),
        }
    };
    match *op {
        Op::Constant(_) => Ok(None),
        Op::Arg(n) => match graph.args().get(n as usize) {
            Some(arg) => Ok(Some(arg.shape.clone())),
            None => Err(format!("the graph has {} arguments", graph.args().len())),
        },
        Op::Unary(_, a) | Op::StopGradient(a) => same(&[a]),
        Op::Binary(_, a, b) | Op::Compare(_, a, b) => same(&[a, b]),
        Op::Select {
            cond,
            on_true,
            on_false,
        } => same(&[cond, on_true, on_false]),
        Op::Spike { v, threshold, .. } => same(&[v, threshold]),
        Op::Broadcast(a) if shape_of(a).broadcasts_to(shape) => Ok(None),
        Op::Reshape(a) if shape_of(a).checked_numel() == shape.checked_numel() => Ok(None),
        Op::Broadcast(a) | Op::Reshape(a) => Err(format!(
            "has shape {shape}, which its operand of shape {} cannot take",
            shape_of(a)
        )),
        Op::ReduceSum { operand, axis } => {
            let from = shape_of(operand);
            if axis as usize >= from.rank() {
                return Err(format!("axis {axis} of an operand of shape {from}"));
            }
            Ok(Some(from.without_axis(axis as usize)))
        }
        Op::Transpose(a) => match shape_of(a).dims() {
            &[rows, cols] => Ok(Some(Shape::from([cols, rows]))),
            _ => Err(format!("transposes an operand of shape {}", shape_of(a))),
        },
        Op::Matmul {
            lhs,
            rhs,
            transpose_lhs,
            transpose_rhs,
        } => {
            let (sl, sr) = (shape_of(lhs), shape_of(rhs));
            let matrices = sl.rank() == 2 && sr.rank() == 2;
            match matrices.then(|| (oriented(sl, transpose_lhs), oriented(sr, transpose_rhs))) {
                Some(((m, k), (k2, n))) if k == k2 => Ok(Some(Shape::from([m, n]))),
                _ => Err(format!(
                    "multiplies operands of shapes {} and {}",
                    shape_of(lhs),
                    shape_of(rhs)
                )),
            }
        }
    }
}
