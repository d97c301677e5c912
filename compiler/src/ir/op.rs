//! The op set. Each op has exactly one interpreter rule (`interp`), one
//! derivative rule (`autodiff::rules`) and one codegen rule (`jit`); matches over
//! `Op` are exhaustive on purpose, so adding an op makes the compiler point at
//! every place that must learn it.

use super::Value;

/// An f32 stored by its bits, so that ops can be hashed and compared exactly
/// (hash-consing must tell `0.0` from `-0.0` and treat equal NaNs as equal).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct F32Bits(pub u32);

impl F32Bits {
    pub fn new(x: f32) -> F32Bits {
        F32Bits(x.to_bits())
    }
    pub fn get(self) -> f32 {
        f32::from_bits(self.0)
    }
}

impl std::fmt::Debug for F32Bits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.get())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Recip,
    Sqrt,
    Abs,
    Floor,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

impl BinaryOp {
    /// Operands of a commutative op are stored in a canonical order, so that
    /// `a + b` and `b + a` hash-cons to one value.
    pub fn is_commutative(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Mul | BinaryOp::Max | BinaryOp::Min
        )
    }
}

/// Comparisons produce 1.0 where true and 0.0 where false.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CompareOp {
    pub fn holds(self, a: f32, b: f32) -> bool {
        match self {
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
        }
    }
}

/// Where a graph argument comes from; the runtime binds buffers by kind.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum ArgKind {
    /// A trainable parameter.
    Param,
    /// A state carried from one timestep to the next (value at step start).
    State,
    /// The network input at this timestep.
    Input,
    /// The training target at this timestep.
    Target,
    /// A time-invariant value computed once by the prologue.
    Hoisted,
    /// A forward value stored for the backward step.
    Tape,
    /// A per-timestep value computed for all timesteps at once, or written
    /// per step to be used for all timesteps at once (see
    /// `program::batch_over_time`).
    Sequence,
    /// The adjoint (loss gradient) of a state at the end of this step.
    StateAdjoint,
    /// A parameter's accumulated gradient (optimiser programs).
    Grad,
    /// An optimiser moment (Adam's first moment of parameter `p` is slot
    /// `2p`, its second moment slot `2p + 1`).
    Moment,
    /// A runtime-provided scalar (optimiser step sizes and the like).
    Scalar,
    /// A tensor fixed for the whole run and not trained (per-element
    /// bounds); its values travel with the program.
    Fixed,
}

/// One operation. The result shape is stored beside the op in the graph.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    /// A tensor filled with one value.
    Constant(F32Bits),
    /// The graph's argument number `n` (see `Graph::args`).
    Arg(u32),
    Unary(UnaryOp, Value),
    Binary(BinaryOp, Value, Value),
    Compare(CompareOp, Value, Value),
    /// `cond != 0 ? on_true : on_false`, elementwise; all three share a shape.
    Select {
        cond: Value,
        on_true: Value,
        on_false: Value,
    },
    /// numpy broadcasting of the operand to the result shape.
    Broadcast(Value),
    /// Same elements, new shape (row-major order kept).
    Reshape(Value),
    /// Sum over one axis, which is removed from the shape.
    ReduceSum {
        operand: Value,
        axis: u32,
    },
    /// The transpose of a 2-D tensor.
    Transpose(Value),
    /// 2-D matrix product, with either operand optionally transposed.
    Matmul {
        lhs: Value,
        rhs: Value,
        transpose_lhs: bool,
        transpose_rhs: bool,
    },
    /// Spike count: `clip((v >= th) * floor(v / th), 0, max)`. Its derivative
    /// is the piecewise-linear surrogate with an absolute `window`.
    Spike {
        v: Value,
        threshold: Value,
        window: F32Bits,
        max: F32Bits,
    },
    /// Identity in the forward pass; blocks the gradient.
    StopGradient(Value),
}

impl Op {
    /// The values this op reads, in order.
    pub fn operands(&self) -> smallvec::SmallVec<[Value; 3]> {
        use smallvec::smallvec;
        match *self {
            Op::Constant(_) | Op::Arg(_) => smallvec![],
            Op::Unary(_, a)
            | Op::Broadcast(a)
            | Op::Reshape(a)
            | Op::StopGradient(a)
            | Op::Transpose(a)
            | Op::ReduceSum { operand: a, .. } => smallvec![a],
            Op::Binary(_, a, b) | Op::Compare(_, a, b) => smallvec![a, b],
            Op::Matmul { lhs, rhs, .. } => smallvec![lhs, rhs],
            Op::Spike { v, threshold, .. } => smallvec![v, threshold],
            Op::Select {
                cond,
                on_true,
                on_false,
            } => smallvec![cond, on_true, on_false],
        }
    }

    /// The same op reading `map(operand)` instead of each operand.
    pub fn map_operands(&self, mut map: impl FnMut(Value) -> Value) -> Op {
        match *self {
            Op::Constant(_) | Op::Arg(_) => *self,
            Op::Unary(u, a) => Op::Unary(u, map(a)),
            Op::Broadcast(a) => Op::Broadcast(map(a)),
            Op::Reshape(a) => Op::Reshape(map(a)),
            Op::StopGradient(a) => Op::StopGradient(map(a)),
            Op::Transpose(a) => Op::Transpose(map(a)),
            Op::ReduceSum { operand, axis } => Op::ReduceSum {
                operand: map(operand),
                axis,
            },
            Op::Binary(b, x, y) => Op::Binary(b, map(x), map(y)),
            Op::Compare(c, x, y) => Op::Compare(c, map(x), map(y)),
            Op::Matmul {
                lhs,
                rhs,
                transpose_lhs,
                transpose_rhs,
            } => Op::Matmul {
                lhs: map(lhs),
                rhs: map(rhs),
                transpose_lhs,
                transpose_rhs,
            },
            Op::Spike {
                v,
                threshold,
                window,
                max,
            } => Op::Spike {
                v: map(v),
                threshold: map(threshold),
                window,
                max,
            },
            Op::Select {
                cond,
                on_true,
                on_false,
            } => Op::Select {
                cond: map(cond),
                on_true: map(on_true),
                on_false: map(on_false),
            },
        }
    }

    /// Elementwise ops read and write matching positions of same-shaped
    /// tensors; the JIT fuses chains of them into one loop.
    pub fn is_elementwise(&self) -> bool {
        match self {
            Op::Unary(..)
            | Op::Binary(..)
            | Op::Compare(..)
            | Op::Select { .. }
            | Op::Spike { .. }
            | Op::StopGradient(_) => true,
            Op::Constant(_)
            | Op::Arg(_)
            | Op::Broadcast(_)
            | Op::Reshape(_)
            | Op::Transpose(_)
            | Op::ReduceSum { .. }
            | Op::Matmul { .. } => false,
        }
    }
}
