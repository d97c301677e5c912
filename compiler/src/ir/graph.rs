//! The graph: SSA values in an arena, built through checked constructors.
//!
//! Nodes are hash-consed: building the same op on the same operands twice
//! returns the first value (common-subexpression elimination at
//! construction). Operands always precede their users, so the node order is a
//! topological order and passes can walk it front to back.

use super::op::{ArgKind, BinaryOp, CompareOp, F32Bits, Op, UnaryOp};
use super::{GraphError, Shape};
use std::collections::HashMap;

/// An SSA value: the index of the node that computes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Value(pub u32);

impl Value {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Node {
    pub op: Op,
    pub shape: Shape,
}

/// A named input of the graph. `slot` numbers arguments within their kind
/// (parameter 0, 1, ...), so programs derived from one another agree on it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Arg {
    pub kind: ArgKind,
    pub slot: usize,
    pub name: String,
    pub shape: Shape,
}

/// What an output of a graph means to the runtime.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum OutKind {
    /// A state at the end of the step.
    State,
    /// The network's output at this step.
    Prediction,
    /// A loss term (summed over time by the runtime).
    Loss,
    /// A time-invariant value the step programs read as `ArgKind::Hoisted`.
    Hoisted,
    /// A value stored for the backward step (`ArgKind::Tape`).
    Tape,
    /// A row of a time-batched sequence (`ArgKind::Sequence`).
    Sequence,
    /// The adjoint of a state at the start of the step.
    StateAdjoint,
    /// A parameter's gradient (or one timestep's contribution to it).
    ParamGrad,
    /// A value recorded for inspection (membrane traces, layer outputs).
    Record,
    /// An updated parameter (optimiser programs).
    Param,
    /// An updated optimiser moment (optimiser programs).
    Moment,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Output {
    pub kind: OutKind,
    pub slot: usize,
    pub name: String,
    pub value: Value,
    /// Add into the output buffer instead of overwriting it (gradients).
    pub accumulate: bool,
}

/// A function from its arguments to its outputs, as an SSA graph.
#[derive(Clone, Default, Debug)]
pub struct Graph {
    nodes: Vec<Node>,
    interned: HashMap<Node, Value>,
    args: Vec<Arg>,
    /// Position in `args` of each (kind, slot): declaring one is a lookup,
    /// not a scan (an unrolled run declares two per timestep).
    arg_index: HashMap<(ArgKind, usize), usize>,
    outputs: Vec<Output>,
}

type Result<T> = std::result::Result<T, GraphError>;

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, v: Value) -> &Node {
        &self.nodes[v.index()]
    }

    pub fn op(&self, v: Value) -> &Op {
        &self.nodes[v.index()].op
    }

    pub fn shape(&self, v: Value) -> &Shape {
        &self.nodes[v.index()].shape
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = Value> {
        (0..self.nodes.len() as u32).map(Value)
    }

    /// `read[v]` (by value index): one of `outputs` reads `v`, directly or
    /// through other nodes.
    pub fn read_by(&self, outputs: &[Output]) -> Vec<bool> {
        let mut read = vec![false; self.len()];
        for out in outputs {
            read[out.value.index()] = true;
        }
        for v in self.values().rev() {
            if read[v.index()] {
                for operand in self.op(v).operands() {
                    read[operand.index()] = true;
                }
            }
        }
        read
    }

    /// The value of a constant node, if `v` is one.
    pub fn constant_value(&self, v: Value) -> Option<f32> {
        match self.op(v) {
            Op::Constant(c) => Some(c.get()),
            _ => None,
        }
    }

    /// Adds a node whose op and shape the caller has already validated
    /// (passes rebuilding a graph use this); returns the existing value when
    /// an identical node exists.
    pub fn add_node(&mut self, op: Op, shape: Shape) -> Value {
        let op = canonical(op);
        let node = Node { op, shape };
        if let Some(&v) = self.interned.get(&node) {
            return v;
        }
        let v = Value(self.nodes.len() as u32);
        self.nodes.push(node.clone());
        self.interned.insert(node, v);
        v
    }

    // ----- arguments and outputs -------------------------------------------

    /// Declares (or finds) the argument `(kind, slot)` and returns its value.
    pub fn arg(&mut self, kind: ArgKind, slot: usize, name: &str, shape: Shape) -> Value {
        if let Some(&i) = self.arg_index.get(&(kind, slot)) {
            return self.add_node(Op::Arg(i as u32), self.args[i].shape.clone());
        }
        self.arg_index.insert((kind, slot), self.args.len());
        let index = self.args.len() as u32;
        self.args.push(Arg {
            kind,
            slot,
            name: name.to_string(),
            shape: shape.clone(),
        });
        self.add_node(Op::Arg(index), shape)
    }

    /// The argument that node `v` reads, if it is an `Arg` node.
    pub fn arg_of(&self, v: Value) -> Option<&Arg> {
        match self.op(v) {
            Op::Arg(i) => Some(&self.args[*i as usize]),
            _ => None,
        }
    }

    pub fn output(&mut self, kind: OutKind, slot: usize, name: &str, value: Value) {
        self.push_output(Output {
            kind,
            slot,
            name: name.to_string(),
            value,
            accumulate: false,
        });
    }

    pub fn push_output(&mut self, output: Output) {
        self.outputs.push(output);
    }

    /// Replaces the argument list (passes that re-slot arguments use this).
    pub fn set_args(&mut self, args: Vec<Arg>) {
        // The first of two equal (kind, slot) pairs is the one `arg` finds.
        self.arg_index.clear();
        for (i, a) in args.iter().enumerate().rev() {
            self.arg_index.insert((a.kind, a.slot), i);
        }
        self.args = args;
    }

    pub fn set_outputs(&mut self, outputs: Vec<Output>) {
        self.outputs = outputs;
    }

    // ----- constants ---------------------------------------------------------

    pub fn constant(&mut self, x: f32, shape: Shape) -> Value {
        self.add_node(Op::Constant(F32Bits::new(x)), shape)
    }

    pub fn scalar(&mut self, x: f32) -> Value {
        self.constant(x, Shape::scalar())
    }

    /// A constant shaped like `like`.
    pub fn constant_like(&mut self, x: f32, like: Value) -> Value {
        let shape = self.shape(like).clone();
        self.constant(x, shape)
    }

    // ----- elementwise ---------------------------------------------------------

    pub fn unary(&mut self, op: UnaryOp, a: Value) -> Value {
        let shape = self.shape(a).clone();
        self.add_node(Op::Unary(op, a), shape)
    }

    pub fn neg(&mut self, a: Value) -> Value {
        self.unary(UnaryOp::Neg, a)
    }
    pub fn exp(&mut self, a: Value) -> Value {
        self.unary(UnaryOp::Exp, a)
    }
    pub fn log(&mut self, a: Value) -> Value {
        self.unary(UnaryOp::Log, a)
    }
    pub fn recip(&mut self, a: Value) -> Value {
        self.unary(UnaryOp::Recip, a)
    }
    pub fn sqrt(&mut self, a: Value) -> Value {
        self.unary(UnaryOp::Sqrt, a)
    }
    pub fn abs(&mut self, a: Value) -> Value {
        self.unary(UnaryOp::Abs, a)
    }
    pub fn floor(&mut self, a: Value) -> Value {
        self.unary(UnaryOp::Floor, a)
    }

    /// Broadcasts both operands to a common shape (numpy rules).
    fn broadcast_pair(&mut self, op: &'static str, a: Value, b: Value) -> Result<(Value, Value)> {
        let (sa, sb) = (self.shape(a).clone(), self.shape(b).clone());
        if sa == sb {
            return Ok((a, b));
        }
        let target = sa.broadcast_with(&sb).ok_or(GraphError::Broadcast {
            op,
            lhs: sa,
            rhs: sb,
        })?;
        Ok((
            self.broadcast_to(a, &target)?,
            self.broadcast_to(b, &target)?,
        ))
    }

    pub fn binary(&mut self, op: BinaryOp, a: Value, b: Value) -> Result<Value> {
        let name = match op {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Max => "max",
            BinaryOp::Min => "min",
        };
        let (a, b) = self.broadcast_pair(name, a, b)?;
        let shape = self.shape(a).clone();
        Ok(self.add_node(Op::Binary(op, a, b), shape))
    }

    pub fn add(&mut self, a: Value, b: Value) -> Result<Value> {
        self.binary(BinaryOp::Add, a, b)
    }
    pub fn sub(&mut self, a: Value, b: Value) -> Result<Value> {
        self.binary(BinaryOp::Sub, a, b)
    }
    pub fn mul(&mut self, a: Value, b: Value) -> Result<Value> {
        self.binary(BinaryOp::Mul, a, b)
    }
    pub fn div(&mut self, a: Value, b: Value) -> Result<Value> {
        self.binary(BinaryOp::Div, a, b)
    }
    pub fn max(&mut self, a: Value, b: Value) -> Result<Value> {
        self.binary(BinaryOp::Max, a, b)
    }
    pub fn min(&mut self, a: Value, b: Value) -> Result<Value> {
        self.binary(BinaryOp::Min, a, b)
    }

    /// `a * x` for a scalar constant `x`.
    pub fn scale(&mut self, a: Value, x: f32) -> Value {
        let c = self.constant_like(x, a);
        self.add_node(Op::Binary(BinaryOp::Mul, a, c), self.shape(a).clone())
    }

    /// 1.0 where `a op b` holds, else 0.0.
    pub fn compare(&mut self, op: CompareOp, a: Value, b: Value) -> Result<Value> {
        let (a, b) = self.broadcast_pair("compare", a, b)?;
        let shape = self.shape(a).clone();
        Ok(self.add_node(Op::Compare(op, a, b), shape))
    }

    pub fn select(&mut self, cond: Value, on_true: Value, on_false: Value) -> Result<Value> {
        let (on_true, on_false) = self.broadcast_pair("select", on_true, on_false)?;
        let (cond, on_true) = self.broadcast_pair("select", cond, on_true)?;
        let (cond, on_false) = self.broadcast_pair("select", cond, on_false)?;
        let shape = self.shape(cond).clone();
        Ok(self.add_node(
            Op::Select {
                cond,
                on_true,
                on_false,
            },
            shape,
        ))
    }

    /// Spike count `clip((v >= th) * floor(v / th), 0, max)` with the
    /// piecewise-linear surrogate derivative of half-width `window`.
    pub fn spike(&mut self, v: Value, threshold: Value, window: f32, max: f32) -> Result<Value> {
        let vshape = self.shape(v).clone();
        let threshold = self.broadcast_to(threshold, &vshape)?;
        Ok(self.add_node(
            Op::Spike {
                v,
                threshold,
                window: F32Bits::new(window),
                max: F32Bits::new(max),
            },
            vshape,
        ))
    }

    pub fn stop_gradient(&mut self, a: Value) -> Value {
        let shape = self.shape(a).clone();
        self.add_node(Op::StopGradient(a), shape)
    }

    // ----- structure -------------------------------------------------------------

    pub fn broadcast_to(&mut self, a: Value, shape: &Shape) -> Result<Value> {
        let from = self.shape(a).clone();
        if &from == shape {
            return Ok(a);
        }
        if !from.broadcasts_to(shape) {
            return Err(GraphError::BroadcastTo {
                from,
                to: shape.clone(),
            });
        }
        Ok(self.add_node(Op::Broadcast(a), shape.clone()))
    }

    pub fn reshape(&mut self, a: Value, shape: &Shape) -> Result<Value> {
        let from = self.shape(a).clone();
        if &from == shape {
            return Ok(a);
        }
        if from.numel() != shape.numel() {
            return Err(GraphError::Reshape {
                from,
                to: shape.clone(),
            });
        }
        Ok(self.add_node(Op::Reshape(a), shape.clone()))
    }

    /// The transpose of a 2-D tensor.
    pub fn transpose(&mut self, a: Value) -> Result<Value> {
        let from = self.shape(a).clone();
        if from.rank() != 2 {
            return Err(GraphError::Transpose { shape: from });
        }
        let (rows, cols) = (from.dims()[0], from.dims()[1]);
        Ok(self.add_node(Op::Transpose(a), Shape::from([cols, rows])))
    }

    /// Sum over `axis`, removing it from the shape.
    pub fn reduce_sum(&mut self, a: Value, axis: usize) -> Result<Value> {
        let from = self.shape(a).clone();
        let Some(stored) = u32::try_from(axis).ok().filter(|_| axis < from.rank()) else {
            return Err(GraphError::Axis { axis, shape: from });
        };
        Ok(self.add_node(
            Op::ReduceSum {
                operand: a,
                axis: stored,
            },
            from.without_axis(axis),
        ))
    }

    /// Sum of every element, as a scalar.
    pub fn sum_all(&mut self, a: Value) -> Value {
        let mut v = a;
        while self.shape(v).rank() > 0 {
            let last = self.shape(v).rank() - 1;
            v = self.reduce_sum(v, last).expect("axis is in range");
        }
        v
    }

    /// Mean of every element, as a scalar.
    pub fn mean_all(&mut self, a: Value) -> Value {
        let n = self.shape(a).numel() as f32;
        let s = self.sum_all(a);
        self.scale(s, 1.0 / n)
    }

    pub fn matmul(&mut self, a: Value, b: Value) -> Result<Value> {
        self.matmul_transposed(a, b, false, false)
    }

    /// `op(a) @ op(b)` where `op` transposes when asked. Both are 2-D.
    pub fn matmul_transposed(
        &mut self,
        lhs: Value,
        rhs: Value,
        transpose_lhs: bool,
        transpose_rhs: bool,
    ) -> Result<Value> {
        let (sl, sr) = (self.shape(lhs).clone(), self.shape(rhs).clone());
        let bad = || GraphError::Matmul {
            lhs: sl.clone(),
            rhs: sr.clone(),
        };
        if sl.rank() != 2 || sr.rank() != 2 {
            return Err(bad());
        }
        let (m, k) = oriented(&sl, transpose_lhs);
        let (k2, n) = oriented(&sr, transpose_rhs);
        if k != k2 {
            return Err(bad());
        }
        Ok(self.add_node(
            Op::Matmul {
                lhs,
                rhs,
                transpose_lhs,
                transpose_rhs,
            },
            Shape::from([m, n]),
        ))
    }
}

/// Rows and columns of a 2-D shape, optionally transposed.
pub(super) fn oriented(shape: &Shape, transposed: bool) -> (usize, usize) {
    let d = shape.dims();
    if transposed {
        (d[1], d[0])
    } else {
        (d[0], d[1])
    }
}

/// Commutative operands in ascending value order, so that hash-consing sees
/// `a + b` and `b + a` as one node.
fn canonical(op: Op) -> Op {
    match op {
        Op::Binary(b, x, y) if b.is_commutative() && y < x => Op::Binary(b, y, x),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_ops_share_a_value() {
        let mut g = Graph::new();
        let x = g.arg(ArgKind::Input, 0, "x", Shape::from([3]));
        let y = g.arg(ArgKind::Input, 1, "y", Shape::from([3]));
        let a = g.add(x, y).unwrap();
        let b = g.add(y, x).unwrap();
        assert_eq!(a, b);
        assert_eq!(g.exp(a), g.exp(b));
        let before = g.len();
        let _ = g.sub(x, y).unwrap();
        assert_eq!(g.len(), before + 1);
    }

    #[test]
    fn shape_errors_name_both_shapes() {
        let mut g = Graph::new();
        let x = g.arg(ArgKind::Input, 0, "x", Shape::from([3]));
        let y = g.arg(ArgKind::Input, 1, "y", Shape::from([4]));
        let err = g.add(x, y).unwrap_err().to_string();
        assert!(err.contains("[3]") && err.contains("[4]"), "{err}");
        let m = g.arg(ArgKind::Input, 2, "m", Shape::from([2, 5]));
        let err = g.matmul(m, m).unwrap_err().to_string();
        assert!(err.contains("[2,5]"), "{err}");
        assert!(g.reshape(x, &Shape::from([2, 2])).is_err());
        assert!(g.reduce_sum(x, 1).is_err());
    }

    #[test]
    fn binary_ops_broadcast() {
        let mut g = Graph::new();
        let x = g.arg(ArgKind::State, 0, "v", Shape::from([2, 3]));
        let b = g.arg(ArgKind::Param, 0, "bias", Shape::from([3]));
        let s = g.add(x, b).unwrap();
        assert_eq!(g.shape(s), &Shape::from([2, 3]));
        let m = g.matmul_transposed(x, x, true, false).unwrap();
        assert_eq!(g.shape(m), &Shape::from([3, 3]));
    }
}
