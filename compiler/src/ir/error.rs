//! Errors raised while building a graph. They name the op and the shapes
//! involved; the front end adds the module path.

use super::Shape;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum GraphError {
    #[error("{op}: shapes {lhs} and {rhs} do not broadcast together")]
    Broadcast {
        op: &'static str,
        lhs: Shape,
        rhs: Shape,
    },
    #[error("broadcast: cannot broadcast {from} to {to}")]
    BroadcastTo { from: Shape, to: Shape },
    #[error("reshape: {from} has {} elements but {to} has {}", from.numel(), to.numel())]
    Reshape { from: Shape, to: Shape },
    #[error("transpose: expected a 2-D operand, got {shape}")]
    Transpose { shape: Shape },
    #[error("reduce_sum: axis {axis} is out of range for shape {shape}")]
    Axis { axis: usize, shape: Shape },
    #[error("matmul: expected two 2-D operands with matching inner sizes, got {lhs} and {rhs}")]
    Matmul { lhs: Shape, rhs: Shape },
    #[error("{what}: expected shape {expected}, got {got}")]
    Expected {
        what: String,
        expected: Shape,
        got: Shape,
    },
    #[error("{what} is missing")]
    Missing { what: String },
}
