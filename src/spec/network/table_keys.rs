//! The keys each layer type's table accepts, and the check that rejects
//! the others (a `tau_mem` on a Linear layer, `layers` on a LIF, ...).

use crate::spec::error::{Source, SpecError};
use crate::spec::raw::{LayerType, RawLayer};
use std::ops::Range;

/// The keys a layer table of `kind` accepts (for error messages).
fn accepted_keys(kind: LayerType) -> &'static str {
    match kind {
        LayerType::Linear => "type, name, shape, bias",
        LayerType::Lif => {
            "type, name, shape or n, leak_mode, recurrent, dt, tau_mem, tau_syn, alpha, beta, \
             threshold, bias, noise_std, max_spikes_per_dt"
        }
        LayerType::Sequential | LayerType::Residual => "type, name, layers",
    }
}

fn type_word(kind: LayerType) -> &'static str {
    match kind {
        LayerType::Linear => "linear",
        LayerType::Lif => "lif",
        LayerType::Sequential => "sequential",
        LayerType::Residual => "residual",
    }
}

/// Rejects keys present in `raw` that a layer of its type does not take.
pub(super) fn check_keys(src: &Source, raw: &RawLayer, path: &str) -> Result<(), SpecError> {
    let kind = *raw.kind.get_ref();
    let is = |k: &[LayerType]| k.contains(&kind);
    use LayerType::*;
    let present: [(&str, Option<Range<usize>>, bool); 14] = [
        (
            "shape",
            raw.shape.as_ref().map(|s| s.span()),
            is(&[Linear, Lif]),
        ),
        (
            "bias",
            raw.bias.as_ref().map(|s| s.span()),
            is(&[Linear, Lif]),
        ),
        ("n", raw.n.as_ref().map(|s| s.span()), is(&[Lif])),
        (
            "leak_mode",
            raw.leak_mode.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "recurrent",
            raw.recurrent.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        ("dt", raw.dt.as_ref().map(|s| s.span()), is(&[Lif])),
        (
            "tau_mem",
            raw.tau_mem.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "tau_syn",
            raw.tau_syn.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        ("alpha", raw.alpha.as_ref().map(|s| s.span()), is(&[Lif])),
        ("beta", raw.beta.as_ref().map(|s| s.span()), is(&[Lif])),
        (
            "threshold",
            raw.threshold.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "noise_std",
            raw.noise_std.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "max_spikes_per_dt",
            raw.max_spikes_per_dt.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "layers",
            raw.layers.as_ref().map(|s| s.span()),
            is(&[Sequential, Residual]),
        ),
    ];
    for (key, span, allowed) in present {
        if let (Some(span), false) = (span, allowed) {
            return Err(src.error(
                span,
                format!(
                    "`{key}` is not a key of a {} layer (layer `{path}`); expected one of: {}",
                    type_word(kind),
                    accepted_keys(kind)
                ),
            ));
        }
    }
    Ok(())
}
