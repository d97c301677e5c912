//! Running graphs with the interpreter for the conformance checks: feeding
//! arguments by kind and slot, and taking values and gradients of scalar
//! functions of a parameter tree.

use super::ConformanceError;
use crate::tree::{Path, Tensor, Tree};
use neurojit_compiler::autodiff::backprop;
use neurojit_compiler::interp::InterpretedGraph;
use neurojit_compiler::ir::{ArgKind, Graph, OutKind, Value};
use neurojit_compiler::kernel::Kernel;
use std::collections::HashMap;

/// Argument data by `(kind, slot)`.
#[derive(Clone, Debug, Default)]
pub(super) struct Feed {
    values: HashMap<(ArgKind, usize), Vec<f32>>,
}

impl Feed {
    pub fn set(&mut self, kind: ArgKind, slot: usize, data: Vec<f32>) {
        self.values.insert((kind, slot), data);
    }

    /// Declares an extra argument of `kind` at the next free slot of that
    /// kind in `g`, feeding it `data`.
    pub fn declare(&mut self, g: &mut Graph, kind: ArgKind, name: &str, tensor: &Tensor) -> Value {
        let slot = g.args().iter().filter(|a| a.kind == kind).count();
        self.set(kind, slot, tensor.data().to_vec());
        g.arg(kind, slot, name, tensor.shape().clone())
    }
}

/// A graph compiled once for the interpreter, run on several feeds.
pub(super) struct Runner {
    graph: Graph,
    kernel: InterpretedGraph,
}

impl Runner {
    pub fn new(graph: Graph) -> Result<Runner, ConformanceError> {
        Ok(Runner {
            kernel: InterpretedGraph::new(graph.clone())
                .map_err(neurojit_compiler::kernel::KernelError::from)?,
            graph,
        })
    }

    /// Every output, in output order.
    pub fn run(&self, feed: &Feed) -> Result<Vec<Vec<f32>>, ConformanceError> {
        let mut args: Vec<&[f32]> = Vec::with_capacity(self.graph.args().len());
        for a in self.graph.args() {
            let data = feed.values.get(&(a.kind, a.slot)).ok_or_else(|| {
                ConformanceError::Internal(format!(
                    "no data for argument {:?}({}) `{}`",
                    a.kind, a.slot, a.name
                ))
            })?;
            args.push(data);
        }
        let mut results: Vec<Vec<f32>> = self
            .graph
            .outputs()
            .iter()
            .map(|o| vec![0.0; self.graph.shape(o.value).numel()])
            .collect();
        let mut views: Vec<&mut [f32]> = results.iter_mut().map(|r| r.as_mut_slice()).collect();
        self.kernel.run(&args, &mut views)?;
        Ok(results)
    }
}

/// Declares one `Param` argument per leaf of `params` (slots in tree
/// order) and feeds their values.
pub(super) fn declare_params(g: &mut Graph, feed: &mut Feed, params: &Tree<Tensor>) -> Tree<Value> {
    let mut slot = 0;
    params.map_with_path(&mut |path, t| {
        feed.set(ArgKind::Param, slot, t.data().to_vec());
        let v = g.arg(ArgKind::Param, slot, &path.joined(), t.shape().clone());
        slot += 1;
        v
    })
}

/// Appends `d loss / d wrt` for every value of `wrt` (a scalar `loss`).
pub(super) fn gradients(
    g: &mut Graph,
    loss: Value,
    wrt: &[Value],
) -> Result<Vec<Value>, ConformanceError> {
    let one = g.scalar(1.0);
    Ok(backprop(g, &[(loss, one)], wrt)?)
}

/// The value of the scalar function `build` of `params` and its gradient
/// for every leaf (in tree order).
pub(super) fn value_and_grad(
    params: &Tree<Tensor>,
    build: impl FnOnce(&mut Graph, &mut Feed, &Tree<Value>) -> Result<Value, ConformanceError>,
) -> Result<(f32, Vec<(Path, Tensor)>), ConformanceError> {
    let mut g = Graph::new();
    let mut feed = Feed::default();
    let values = declare_params(&mut g, &mut feed, params);
    let loss = build(&mut g, &mut feed, &values)?;
    let leaves = values.leaves();
    let wrt: Vec<Value> = leaves.iter().map(|(_, &v)| v).collect();
    let grads = gradients(&mut g, loss, &wrt)?;
    g.output(OutKind::Loss, 0, "loss", loss);
    for (i, &d) in grads.iter().enumerate() {
        g.output(OutKind::ParamGrad, i, &leaves[i].0.joined(), d);
    }
    let results = Runner::new(g)?.run(&feed)?;
    let value = results[0][0];
    let grads = leaves
        .iter()
        .zip(&results[1..])
        .map(|((path, _), data)| {
            let shape = params
                .get_nested(path)
                .expect("path from the same tree")
                .shape()
                .clone();
            (
                path.clone(),
                Tensor::new(shape, data.clone()).expect("gradient has its parameter's shape"),
            )
        })
        .collect();
    Ok((value, grads))
}
