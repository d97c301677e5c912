//! Building what a case describes: the network from `inputs.network` with
//! the parameters of `inputs.params`, and the bounds from replaying
//! `inputs.bounds_ops` on `make_bounds`.

use super::json::{as_array, as_f32, as_str, field, tensor_tree};
use super::quirks::{family_query, Backend};
use super::ConformanceError;
use crate::bounds::{make_bounds, Bound};
use crate::nn::{Module, ModuleSpec};
use crate::tree::{set_matching, Path, Tensor, Tree};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value as Json;

/// The network of `inputs.network`, holding the values of `inputs.params`.
pub(super) fn build_network(inputs: &Json) -> Result<Box<dyn Module>, ConformanceError> {
    let spec: ModuleSpec = serde_json::from_value(field(inputs, "network")?.clone())
        .map_err(|e| ConformanceError::Format(format!("inputs.network: {e}")))?;
    // Initial values are replaced by the case's parameters below.
    let mut rng = StdRng::seed_from_u64(0);
    let mut network = spec.build(&mut rng)?;
    let params = tensor_tree(field(inputs, "params")?)?;
    network.set_attributes(&params)?;
    Ok(network)
}

/// The parameter paths of `inputs.params`, in the case's order.
pub(super) fn case_params(inputs: &Json) -> Result<Tree<Tensor>, ConformanceError> {
    tensor_tree(field(inputs, "params")?)
}

/// One replayed `set_matching` call.
pub(super) struct BoundsStep {
    pub target: Tree<Tensor>,
    pub lower: Tree<Bound>,
    pub upper: Tree<Bound>,
}

/// The final bounds of a replay and every intermediate step.
pub(super) struct ReplayedBounds {
    pub lower: Tree<Bound>,
    pub upper: Tree<Bound>,
    pub steps: Vec<BoundsStep>,
}

/// Replays `bounds_ops` (see the README): starts from `make_bounds` and
/// applies each `set_matching` in order.
pub(super) fn replay_bounds_ops(
    network: &dyn Module,
    backend: Backend,
    ops: &Json,
) -> Result<ReplayedBounds, ConformanceError> {
    let (mut lower, mut upper) = make_bounds(&network.parameters());
    let mut steps = Vec::new();
    for op in as_array(ops, "bounds_ops")? {
        let select = field(op, "select")?;
        let target = if let Some(family) = select.get("family") {
            match family_query(backend, as_str(family, "family")?) {
                Some(f) => network.parameters_of(&[f]),
                None => Tree::new(),
            }
        } else {
            network.attributes_named(&[as_str(field(select, "attribute")?, "attribute")?])
        };
        let value = Bound::Scalar(as_f32(field(op, "value")?)?);
        match as_str(field(op, "bound")?, "bound")? {
            "lower" => lower = set_matching(&lower, &target, value)?,
            "upper" => upper = set_matching(&upper, &target, value)?,
            other => return Err(ConformanceError::Format(format!("unknown bound `{other}`"))),
        }
        steps.push(BoundsStep {
            target,
            lower: lower.clone(),
            upper: upper.clone(),
        });
    }
    Ok(ReplayedBounds {
        lower,
        upper,
        steps,
    })
}

/// The paths of a tree's leaves.
pub(super) fn leaf_paths<L>(tree: &Tree<L>) -> Vec<Path> {
    tree.branches()
}
