//! Dead-code elimination: a copy of the graph holding only the nodes some
//! output reads, directly or through other nodes, in their original order.
//!
//! Arguments are kept even when no node reads them: the argument list is the
//! graph's calling convention, which the runtime binds buffers to.

use crate::interp::live_values;
use crate::ir::{Graph, Value};

pub(super) fn eliminate_dead_code(graph: &Graph) -> Graph {
    let mut live = Graph::new();
    live.set_args(graph.args().to_vec());
    let mut copied: Vec<Option<Value>> = vec![None; graph.len()];
    for v in live_values(graph) {
        let op = graph
            .op(v)
            .map_operands(|operand| copied[operand.index()].expect("operands precede users"));
        copied[v.index()] = Some(live.add_node(op, graph.shape(v).clone()));
    }
    let outputs = graph
        .outputs()
        .iter()
        .map(|out| {
            let mut out = out.clone();
            out.value = copied[out.value.index()].expect("outputs are live");
            out
        })
        .collect();
    live.set_outputs(outputs);
    live
}
