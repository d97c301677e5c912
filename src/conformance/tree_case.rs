//! The `tree` kind: module classes and names, parameter info and order,
//! family and name queries, `make_bounds`, replayed `set_matching` steps
//! and the bounds cost of the network's parameters.

use super::bounds_case::cost_and_grad;
use super::compare::{compare, compare_bounds, compare_paths, compare_tree, VALUE};
use super::json::{as_array, as_f32, as_str, bounds_tree, field, paths, tensor_tree};
use super::quirks::{
    expected_attributes, family_query, in_backend_order, neurojit_class, rockpool_family, Backend,
};
use super::setup::{build_network, leaf_paths, replay_bounds_ops};
use super::{Check, ConformanceError};
use crate::bounds::make_bounds;
use crate::tree::Tree;
use serde_json::Value as Json;

pub(super) fn run(case: &Json, backend: Backend) -> Result<Vec<Check>, ConformanceError> {
    let inputs = field(case, "inputs")?;
    let expected = field(case, "expected")?;
    let network = build_network(inputs)?;
    let mut checks = Vec::new();

    let class = neurojit_class(as_str(field(expected, "module_class")?, "module_class")?);
    checks.push(if network.class_name() == class {
        Check::pass("module class")
    } else {
        Check::fail(
            "module class",
            format!("got {}, expected {class}", network.class_name()),
        )
    });
    let names: Vec<String> = as_array(field(expected, "submodule_names")?, "submodule_names")?
        .iter()
        .map(|n| as_str(n, "submodule name").map(str::to_string))
        .collect::<Result<_, _>>()?;
    checks.push(if network.submodule_names() == names {
        Check::pass("submodule names")
    } else {
        Check::fail(
            "submodule names",
            format!("got {:?}, expected {names:?}", network.submodule_names()),
        )
    });

    // Parameter info: path, shape and family (in the backend's naming).
    let info = network.parameter_info();
    let mut info_ok = Check::pass("param_info");
    let want_info = as_array(field(expected, "param_info")?, "param_info")?;
    if want_info.len() != info.len() {
        info_ok = Check::fail(
            "param_info",
            format!("{} parameters, expected {}", info.len(), want_info.len()),
        );
    }
    for (ours, want) in info.iter().zip(want_info) {
        let [path, detail] = as_array(want, "param_info entry")? else {
            return Err(ConformanceError::Format(
                "param_info entries are [path, info]".into(),
            ));
        };
        let path = super::json::path(path)?;
        let shape: Vec<usize> = as_array(field(detail, "shape")?, "shape")?
            .iter()
            .map(|d| super::json::as_usize(d, "shape"))
            .collect::<Result<_, _>>()?;
        let family = as_str(field(detail, "family")?, "family")?;
        let our_family = ours.family.as_deref().map(|f| rockpool_family(backend, f));
        if ours.path != path
            || ours.shape.dims() != shape.as_slice()
            || our_family.as_deref() != Some(family)
        {
            info_ok = Check::fail(
                "param_info",
                format!(
                    "got {} {} {:?}, expected {path} {shape:?} {family}",
                    ours.path, ours.shape, our_family
                ),
            );
            break;
        }
    }
    checks.push(info_ok);
    checks.push(compare_paths(
        "parameters() order",
        &leaf_paths(&network.parameters()),
        &paths(field(expected, "parameters_order")?)?,
    ));

    // Single-family queries.
    let families = field(expected, "families")?
        .as_object()
        .ok_or_else(|| ConformanceError::Format("`families` must be an object".into()))?;
    for (family, want) in families {
        let ours = match family_query(backend, family) {
            Some(f) => leaf_paths(&network.parameters_of(&[f])),
            None => Vec::new(),
        };
        checks.push(compare_paths(
            &format!("parameters(\"{family}\")"),
            &ours,
            &paths(want)?,
        ));
    }
    for query in as_array(field(expected, "multi_family")?, "multi_family")? {
        let asked: Vec<String> = as_array(field(query, "families")?, "families")?
            .iter()
            .map(|f| as_str(f, "family").map(str::to_string))
            .collect::<Result<_, _>>()?;
        let mapped: Vec<&str> = asked
            .iter()
            .filter_map(|f| family_query(backend, f))
            .collect();
        let ours = leaf_paths(&network.parameters_of(&mapped));
        checks.push(compare_paths(
            &format!("parameters({asked:?})"),
            &ours,
            &paths(field(query, "paths")?)?,
        ));
    }
    let named = field(expected, "attributes_named")?
        .as_object()
        .ok_or_else(|| ConformanceError::Format("`attributes_named` must be an object".into()))?;
    for (name, want) in named {
        let want = expected_attributes(backend, name, paths(want)?, network.as_ref());
        let ours = leaf_paths(&network.attributes_named(&[name.as_str()]));
        checks.push(compare_paths(
            &format!("attributes_named(\"{name}\")"),
            &ours,
            &want,
        ));
    }

    // make_bounds and the replayed set_matching steps.
    let (lb, ub) = make_bounds(&network.parameters());
    let made = field(expected, "make_bounds")?;
    checks.push(compare_bounds(
        "make_bounds lower",
        &in_backend_order(backend, &lb),
        &bounds_tree(field(made, "lower")?)?,
    ));
    checks.push(compare_bounds(
        "make_bounds upper",
        &in_backend_order(backend, &ub),
        &bounds_tree(field(made, "upper")?)?,
    ));
    let ops = field(inputs, "bounds_ops")?;
    let replayed = replay_bounds_ops(network.as_ref(), backend, ops)?;
    let (lower, upper, steps) = (replayed.lower, replayed.upper, replayed.steps);
    let want_steps = as_array(field(expected, "set_matching_steps")?, "set_matching_steps")?;
    for (i, ((step, want), op)) in steps
        .iter()
        .zip(want_steps)
        .zip(as_array(ops, "bounds_ops")?)
        .enumerate()
    {
        checks.push(compare_paths(
            &format!("set_matching step {i} target"),
            &leaf_paths(&step.target),
            &paths(field(want, "target_paths")?)?,
        ));
        let which = as_str(field(op, "bound")?, "bound")?;
        let ours = if which == "lower" {
            &step.lower
        } else {
            &step.upper
        };
        checks.push(compare_bounds(
            &format!("set_matching step {i} result"),
            &in_backend_order(backend, ours),
            &bounds_tree(field(want, "result")?)?,
        ));
    }
    let finals = field(expected, "final_bounds")?;
    checks.push(compare_bounds(
        "final lower",
        &in_backend_order(backend, &lower),
        &bounds_tree(field(finals, "lower")?)?,
    ));
    checks.push(compare_bounds(
        "final upper",
        &in_backend_order(backend, &upper),
        &bounds_tree(field(finals, "upper")?)?,
    ));

    // The bounds cost of the network's parameters under the final bounds.
    let params = network.parameters();
    let (cost, grads) = cost_and_grad(&params, &lower, &upper)?;
    let want = field(expected, "bounds_cost")?;
    checks.push(compare(
        "bounds_cost",
        &[cost],
        &[as_f32(field(want, "cost")?)?],
        VALUE,
    ));
    let want_grads: Tree<_> = tensor_tree(field(want, "grad")?)?;
    checks.extend(compare_tree("bounds_cost grad", &grads, &want_grads, VALUE));
    Ok(checks)
}
