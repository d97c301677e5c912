//! The interpreter: evaluates a graph op by op, each op a plain Rust loop
//! over whole tensors (like eager numpy). It is the reference every compiled
//! result is checked against and the baseline every speed-up is measured
//! against, so it is written tightly but does no fusion.

mod rules;

use crate::ir::{Graph, Value};
use crate::kernel::{check_buffers, check_graph, Backend, CompileError, Kernel, KernelError};
use std::sync::Mutex;

pub use rules::spike_count;
pub(crate) use rules::sum_start;

/// The interpreter as a backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct Interpreter;

impl Backend for Interpreter {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn compile(&self, graph: &Graph) -> Result<Box<dyn Kernel>, CompileError> {
        Ok(Box::new(InterpretedGraph::new(graph.clone())?))
    }
}

/// A graph ready to interpret: the nodes the outputs need, in order, and a
/// buffer per node allocated once and reused across calls.
pub struct InterpretedGraph {
    graph: Graph,
    live: Vec<Value>,
    buffers: Mutex<Vec<Vec<f32>>>,
}

impl InterpretedGraph {
    /// Allocates a buffer per node; refuses values too large to hold.
    pub fn new(graph: Graph) -> Result<InterpretedGraph, CompileError> {
        check_graph(&graph)?;
        let live = live_values(&graph);
        let buffers = graph
            .nodes()
            .iter()
            .map(|n| vec![0.0; n.shape.numel()])
            .collect();
        Ok(InterpretedGraph {
            graph,
            live,
            buffers: Mutex::new(buffers),
        })
    }
}

impl Kernel for InterpretedGraph {
    fn run(&self, args: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<(), KernelError> {
        check_buffers(&self.graph, args, outputs)?;
        let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        for &v in &self.live {
            // Take the result buffer out so operands can be borrowed beside it.
            let mut result = std::mem::take(&mut buffers[v.index()]);
            rules::evaluate(&self.graph, v, args, &buffers, &mut result);
            buffers[v.index()] = result;
        }
        for (out, buffer) in self.graph.outputs().iter().zip(outputs.iter_mut()) {
            let value = &buffers[out.value.index()];
            if out.accumulate {
                buffer.iter_mut().zip(value).for_each(|(b, x)| *b += x);
            } else {
                buffer.copy_from_slice(value);
            }
        }
        Ok(())
    }

    unsafe fn run_unchecked(&self, args: &[*const f32], outputs: &[*mut f32]) {
        let graph = &self.graph;
        // SAFETY: the caller guarantees each address holds the argument's or
        // output's element count and that outputs alias nothing else.
        let args: Vec<&[f32]> = args
            .iter()
            .zip(graph.args())
            .map(|(&p, a)| unsafe { std::slice::from_raw_parts(p, a.shape.numel()) })
            .collect();
        let mut outs: Vec<&mut [f32]> = outputs
            .iter()
            .zip(graph.outputs())
            .map(|(&p, o)| unsafe {
                std::slice::from_raw_parts_mut(p, graph.shape(o.value).numel())
            })
            .collect();
        self.run(&args, &mut outs)
            .expect("the caller passed buffers of the graph's lengths");
    }
}

/// Convenience for tests and tools: evaluates `graph` on `args` and returns
/// every output as a fresh vector (accumulating outputs start from zero).
pub fn evaluate(graph: &Graph, args: &[&[f32]]) -> Result<Vec<Vec<f32>>, KernelError> {
    let kernel = InterpretedGraph::new(graph.clone())?;
    let mut results: Vec<Vec<f32>> = graph
        .outputs()
        .iter()
        .map(|o| vec![0.0; graph.shape(o.value).numel()])
        .collect();
    let mut views: Vec<&mut [f32]> = results.iter_mut().map(|r| r.as_mut_slice()).collect();
    kernel.run(args, &mut views)?;
    Ok(results)
}

/// The values that some output depends on, in topological order.
pub fn live_values(graph: &Graph) -> Vec<Value> {
    let needed = graph.read_by(graph.outputs());
    graph.values().filter(|v| needed[v.index()]).collect()
}
