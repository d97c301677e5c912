//! Conversion from the raw file, with validation: the network and its
//! containers (non-empty, unique keys, shapes that chain, Residual sizes)
//! and Linear layers.

use super::convert_lif::convert_lif;
use super::table_keys::check_keys;
use super::{ContainerSpec, LayerSpec, LinearSpec, NetworkSpec};
use crate::checkpoint::OPTIMIZER_PREFIX;
use crate::nn::check_matrix;
use crate::spec::error::{Source, SpecError};
use crate::spec::raw::{LayerType, RawLayer, RawNetwork};
use crate::spec::values::BiasValue;
use std::collections::HashSet;
use toml::Spanned;

pub(crate) fn convert_network(
    src: &Source,
    raw: &Spanned<RawNetwork>,
) -> Result<NetworkSpec, SpecError> {
    let layers = convert_children(src, &raw.get_ref().layers, None)?;
    Ok(NetworkSpec { layers })
}

/// Converts the layers of a container and checks that they chain
/// (each layer's input size is the previous layer's output size).
fn convert_children(
    src: &Source,
    raw: &Spanned<Vec<Spanned<RawLayer>>>,
    parent: Option<&str>,
) -> Result<Vec<LayerSpec>, SpecError> {
    if raw.get_ref().is_empty() {
        return Err(src.error(
            raw.span(),
            format!(
                "{} has no layers: expected at least one",
                container_label(parent)
            ),
        ));
    }
    let mut layers: Vec<LayerSpec> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for (index, raw_layer) in raw.get_ref().iter().enumerate() {
        let key = layer_key(src, raw_layer, index)?;
        if !seen.insert(key.clone()) {
            return Err(src.error(
                raw_layer.span(),
                format!(
                    "two layers in {} have the key `{key}`: expected unique names",
                    container_label(parent)
                ),
            ));
        }
        let path = match parent {
            Some(p) => format!("{p}/{key}"),
            None => key.clone(),
        };
        if format!("{path}/").starts_with(OPTIMIZER_PREFIX) {
            let span = raw_layer
                .get_ref()
                .name
                .as_ref()
                .map_or(raw_layer.span(), |n| n.span());
            return Err(src.error(
                span,
                format!(
                    "a top-level layer named `{key}`: expected another name (checkpoints keep the \
                     optimiser's state under `{OPTIMIZER_PREFIX}`)"
                ),
            ));
        }
        let layer = convert_layer(src, raw_layer, &path)?;
        if let (Some(prev), Some(prev_key)) = (layers.last(), keys.last()) {
            if prev.n_out() != layer.n_in() {
                return Err(src.error(
                    raw_layer.span(),
                    format!(
                        "layer `{path}` takes {} inputs, but the layer before it (`{prev_key}`) gives {} outputs",
                        layer.n_in(),
                        prev.n_out()
                    ),
                ));
            }
        }
        layers.push(layer);
        keys.push(key);
    }
    Ok(layers)
}

fn container_label(parent: Option<&str>) -> String {
    match parent {
        Some(p) => format!("container `{p}`"),
        None => "[network]".to_string(),
    }
}

/// The key a layer gets: its `name`, or `{index}_{class}`.
fn layer_key(src: &Source, raw: &Spanned<RawLayer>, index: usize) -> Result<String, SpecError> {
    let layer = raw.get_ref();
    if let Some(name) = &layer.name {
        let text = name.get_ref();
        if text.is_empty() || text.contains('/') {
            return Err(src.error(
                name.span(),
                "expected a non-empty name without `/` (it becomes a key of the parameter tree)",
            ));
        }
        return Ok(text.clone());
    }
    let class = match *layer.kind.get_ref() {
        LayerType::Linear => "Linear",
        LayerType::Lif => "LIF",
        LayerType::Sequential => "Sequential",
        LayerType::Residual => "Residual",
    };
    Ok(format!("{index}_{class}"))
}

fn convert_layer(
    src: &Source,
    raw: &Spanned<RawLayer>,
    path: &str,
) -> Result<LayerSpec, SpecError> {
    let layer = raw.get_ref();
    check_keys(src, layer, path)?;
    let name = layer.name.as_ref().map(|n| n.get_ref().clone());
    match *layer.kind.get_ref() {
        LayerType::Linear => convert_linear(src, raw, path, name).map(LayerSpec::Linear),
        LayerType::Lif => convert_lif(src, raw, path, name).map(LayerSpec::Lif),
        LayerType::Sequential => {
            let layers = container_layers(src, raw, path)?;
            Ok(LayerSpec::Sequential(ContainerSpec { name, layers }))
        }
        LayerType::Residual => {
            let layers = container_layers(src, raw, path)?;
            let container = ContainerSpec { name, layers };
            let (n_in, n_out) = (
                container.layers[0].n_in(),
                container.layers[container.layers.len() - 1].n_out(),
            );
            if n_in != n_out {
                return Err(src.error(
                    raw.span(),
                    format!(
                        "residual `{path}` maps {n_in} inputs to {n_out} outputs; \
                         expected equal sizes (its output is added to its input)"
                    ),
                ));
            }
            Ok(LayerSpec::Residual(container))
        }
    }
}

fn container_layers(
    src: &Source,
    raw: &Spanned<RawLayer>,
    path: &str,
) -> Result<Vec<LayerSpec>, SpecError> {
    match &raw.get_ref().layers {
        Some(layers) => convert_children(src, layers, Some(path)),
        None => Err(src.error(
            raw.span(),
            format!("container `{path}` needs `layers = [...]`: missing key `layers`"),
        )),
    }
}

/// Reads `shape = [n_in, n_out]` with both sizes positive.
pub(super) fn read_shape(
    src: &Source,
    shape: &Spanned<Vec<usize>>,
    path: &str,
) -> Result<(usize, usize), SpecError> {
    match shape.get_ref().as_slice() {
        [n_in, n_out] if *n_in > 0 && *n_out > 0 => Ok((*n_in, *n_out)),
        [_, _] => Err(src.error(
            shape.span(),
            format!("layer `{path}`: expected positive sizes in `shape = [n_in, n_out]`"),
        )),
        other => Err(src.error(
            shape.span(),
            format!(
                "layer `{path}`: expected `shape = [n_in, n_out]` (2 sizes), got {} sizes",
                other.len()
            ),
        )),
    }
}

fn convert_linear(
    src: &Source,
    raw: &Spanned<RawLayer>,
    path: &str,
    name: Option<String>,
) -> Result<LinearSpec, SpecError> {
    let layer = raw.get_ref();
    let Some(shape) = &layer.shape else {
        return Err(src.error(
            raw.span(),
            format!("linear layer `{path}` needs `shape = [n_in, n_out]`: missing key `shape`"),
        ));
    };
    let (n_in, n_out) = read_shape(src, shape, path)?;
    check_matrix(n_in, n_out).map_err(|reason| {
        src.error(
            shape.span(),
            format!("linear layer `{path}` has weights of {reason}"),
        )
    })?;
    let bias = match &layer.bias {
        None => false,
        Some(b) => match b.get_ref() {
            BiasValue::Flag(flag) => *flag,
            BiasValue::Values(_) => {
                return Err(src.error(
                    b.span(),
                    format!(
                        "on linear layer `{path}`, `bias` says whether the layer has a bias: \
                         expected true or false"
                    ),
                ))
            }
        },
    };
    Ok(LinearSpec {
        name,
        n_in,
        n_out,
        bias,
    })
}
