//! The graph IR: shapes, ops, the graph arena with its checked builder, and
//! the text printer.

mod error;
mod graph;
pub mod op;
mod printer;
mod shape;
mod verify;

pub use error::GraphError;
pub use graph::{Arg, Graph, Node, OutKind, Output, Value};
pub use op::{ArgKind, BinaryOp, CompareOp, F32Bits, Op, UnaryOp};
pub use shape::Shape;
pub use verify::verify;
