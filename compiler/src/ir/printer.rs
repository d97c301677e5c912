//! The text form of a graph, one line per value, like a jaxpr:
//!
//! ```text
//! %3:f32[16,64] = matmul %1 %2
//! ```
//!
//! Splat constants are printed inline as literals (`mul %4 0.001`) instead of
//! on lines of their own, which keeps a 300-node graph readable. Arguments
//! show their kind and name; outputs are listed at the end.

use super::op::{ArgKind, BinaryOp, CompareOp, Op, UnaryOp};
use super::{Graph, OutKind, Value};
use std::fmt::{self, Write};

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for v in self.values() {
            let node = self.node(v);
            if matches!(node.op, Op::Constant(_)) {
                continue;
            }
            writeln!(f, "%{}:f32{} = {}", v.0, node.shape, self.describe(v))?;
        }
        for out in self.outputs() {
            let verb = if out.accumulate { "+=" } else { "=" };
            writeln!(
                f,
                "out {} {} {} {}",
                out_kind_name(out.kind),
                out.name,
                verb,
                self.operand(out.value)
            )?;
        }
        Ok(())
    }
}

impl Graph {
    /// The right-hand side of the line that defines `v`.
    pub fn describe(&self, v: Value) -> String {
        let mut s = String::new();
        let _ = match *self.op(v) {
            Op::Constant(c) => write!(s, "const {}", literal(c.get())),
            Op::Arg(i) => {
                let arg = &self.args()[i as usize];
                write!(s, "{} {}", arg_kind_name(arg.kind), arg.name)
            }
            Op::Unary(u, a) => write!(s, "{} {}", unary_name(u), self.operand(a)),
            Op::Binary(b, x, y) => write!(
                s,
                "{} {} {}",
                binary_name(b),
                self.operand(x),
                self.operand(y)
            ),
            Op::Compare(c, x, y) => write!(
                s,
                "{} {} {}",
                compare_name(c),
                self.operand(x),
                self.operand(y)
            ),
            Op::Select {
                cond,
                on_true,
                on_false,
            } => write!(
                s,
                "select {} {} {}",
                self.operand(cond),
                self.operand(on_true),
                self.operand(on_false)
            ),
            Op::Broadcast(a) => write!(s, "broadcast {}", self.operand(a)),
            Op::Reshape(a) => write!(s, "reshape {}", self.operand(a)),
            Op::ReduceSum { operand, axis } => {
                write!(s, "reduce_sum[axis={axis}] {}", self.operand(operand))
            }
            Op::Matmul {
                lhs,
                rhs,
                transpose_lhs,
                transpose_rhs,
            } => {
                let t = |b: bool| if b { "ᵀ" } else { "" };
                write!(
                    s,
                    "matmul {}{} {}{}",
                    self.operand(lhs),
                    t(transpose_lhs),
                    self.operand(rhs),
                    t(transpose_rhs)
                )
            }
            Op::Spike {
                v,
                threshold,
                window,
                max,
            } => write!(
                s,
                "spike[window={}, max={}] {} {}",
                literal(window.get()),
                literal(max.get()),
                self.operand(v),
                self.operand(threshold)
            ),
            Op::StopGradient(a) => write!(s, "stop_gradient {}", self.operand(a)),
            Op::Transpose(a) => write!(s, "transpose {}", self.operand(a)),
        };
        s
    }

    /// How `v` appears as an operand: `%n`, or the literal of a constant.
    fn operand(&self, v: Value) -> String {
        match self.constant_value(v) {
            Some(x) => literal(x),
            None => format!("%{}", v.0),
        }
    }
}

/// Shortest text that reads back as the same f32.
fn literal(x: f32) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else if x == x.trunc() && x.abs() < 1e7 {
        format!("{x:.1}")
    } else {
        format!("{x:?}")
    }
}

fn arg_kind_name(kind: ArgKind) -> &'static str {
    match kind {
        ArgKind::Param => "param",
        ArgKind::State => "state",
        ArgKind::Input => "input",
        ArgKind::Target => "target",
        ArgKind::Hoisted => "hoisted",
        ArgKind::Tape => "tape",
        ArgKind::Sequence => "sequence",
        ArgKind::StateAdjoint => "state_adjoint",
        ArgKind::Grad => "grad",
        ArgKind::Moment => "moment",
        ArgKind::Scalar => "scalar",
        ArgKind::Fixed => "fixed",
    }
}

pub(crate) fn out_kind_name(kind: OutKind) -> &'static str {
    match kind {
        OutKind::State => "state",
        OutKind::Prediction => "prediction",
        OutKind::Loss => "loss",
        OutKind::Hoisted => "hoisted",
        OutKind::Tape => "tape",
        OutKind::Sequence => "sequence",
        OutKind::StateAdjoint => "state_adjoint",
        OutKind::ParamGrad => "grad",
        OutKind::Record => "record",
        OutKind::Param => "param",
        OutKind::Moment => "moment",
    }
}

fn unary_name(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "neg",
        UnaryOp::Exp => "exp",
        UnaryOp::Log => "log",
        UnaryOp::Recip => "recip",
        UnaryOp::Sqrt => "sqrt",
        UnaryOp::Abs => "abs",
        UnaryOp::Floor => "floor",
    }
}

fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::Max => "max",
        BinaryOp::Min => "min",
    }
}

fn compare_name(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Lt => "lt",
        CompareOp::Le => "le",
        CompareOp::Gt => "gt",
        CompareOp::Ge => "ge",
        CompareOp::Eq => "eq",
        CompareOp::Ne => "ne",
    }
}

#[cfg(test)]
mod tests {
    use crate::ir::{ArgKind, Graph, OutKind, Shape};

    #[test]
    fn prints_one_line_per_value_with_inline_constants() {
        let mut g = Graph::new();
        let tau = g.arg(ArgKind::Param, 0, "1_LIF/tau_mem", Shape::from([3]));
        let r = g.recip(tau);
        let a = g.scale(r, -0.001);
        let alpha = g.exp(a);
        g.output(OutKind::Hoisted, 0, "alpha", alpha);
        let text = g.to_string();
        assert_eq!(
            text,
            "%0:f32[3] = param 1_LIF/tau_mem\n\
             %1:f32[3] = recip %0\n\
             %3:f32[3] = mul %1 -0.001\n\
             %4:f32[3] = exp %3\n\
             out hoisted alpha = %4\n"
        );
    }
}
