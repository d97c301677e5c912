//! Rebuilds a program graph from some outputs of a larger graph.
//!
//! Only the nodes those outputs need are copied (with `Graph::add_node`,
//! operands remapped), so every program holds exactly what it computes.
//! Chosen source values can be cut off and read as arguments instead (a
//! hoisted value in a step program, a taped value in the backward program):
//! their ancestors are then not copied at all.
//!
//! The extracted graph declares its arguments sorted by kind and slot, so
//! programs list them in one predictable order.

use crate::ir::{ArgKind, Graph, Output, Shape, Value};
use std::collections::HashMap;

/// An argument that stands in for a value of the source graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArgSpec {
    pub kind: ArgKind,
    pub slot: usize,
    pub name: String,
}

/// The graph computing `outputs` (values of `source`), reading each value in
/// `cut` as the given argument instead of computing it.
pub(crate) fn extract(source: &Graph, outputs: &[Output], cut: &HashMap<Value, ArgSpec>) -> Graph {
    let needed = needed_values(source, outputs, cut);

    // Declare every argument first, in (kind, slot) order.
    let mut args: Vec<(ArgSpec, Shape)> = needed
        .iter()
        .filter_map(|&v| argument_for(source, v, cut))
        .collect();
    args.sort_by_key(|(spec, _)| (spec.kind, spec.slot));
    args.dedup_by_key(|(spec, _)| (spec.kind, spec.slot));
    let mut graph = Graph::new();
    for (spec, shape) in &args {
        graph.arg(spec.kind, spec.slot, &spec.name, shape.clone());
    }

    let mut copy_of: Vec<Option<Value>> = vec![None; source.len()];
    for &v in &needed {
        let shape = source.shape(v).clone();
        copy_of[v.index()] = Some(match argument_for(source, v, cut) {
            Some((spec, _)) => graph.arg(spec.kind, spec.slot, &spec.name, shape),
            None => {
                let op = source
                    .op(v)
                    .map_operands(|x| copy_of[x.index()].expect("operands precede their users"));
                graph.add_node(op, shape)
            }
        });
    }
    let outputs = outputs
        .iter()
        .map(|out| Output {
            value: copy_of[out.value.index()].expect("every output is needed"),
            ..out.clone()
        })
        .collect();
    graph.set_outputs(outputs);
    graph
}

/// The values the outputs read, in topological order, not looking past cut
/// values.
fn needed_values(source: &Graph, outputs: &[Output], cut: &HashMap<Value, ArgSpec>) -> Vec<Value> {
    let mut needed = vec![false; source.len()];
    for out in outputs {
        needed[out.value.index()] = true;
    }
    for v in source.values().rev() {
        if needed[v.index()] && !cut.contains_key(&v) {
            for operand in source.op(v).operands() {
                needed[operand.index()] = true;
            }
        }
    }
    source.values().filter(|v| needed[v.index()]).collect()
}

/// The argument that `v` becomes in the extracted graph: its cut argument,
/// or the source argument it reads; `None` for a computed node.
fn argument_for(
    source: &Graph,
    v: Value,
    cut: &HashMap<Value, ArgSpec>,
) -> Option<(ArgSpec, Shape)> {
    let shape = source.shape(v).clone();
    if let Some(spec) = cut.get(&v) {
        return Some((spec.clone(), shape));
    }
    source.arg_of(v).map(|arg| {
        let spec = ArgSpec {
            kind: arg.kind,
            slot: arg.slot,
            name: arg.name.clone(),
        };
        (spec, shape)
    })
}
