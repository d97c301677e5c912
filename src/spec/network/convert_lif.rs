//! Conversion of a LIF layer: its size, leak mode and the initial values
//! of its parameters, each checked (positive time constants, decays in
//! (0, 1), positive thresholds, ...).

use super::convert::read_shape;
use super::{
    InitValue, LeakSpec, LifSpec, DEFAULT_DECAY, DEFAULT_DT, DEFAULT_MAX_SPIKES_PER_DT, DEFAULT_TAU,
};
use crate::nn::check_matrix;
use crate::spec::error::{Source, SpecError};
use crate::spec::number::show_with_f32;
use crate::spec::raw::{RawLayer, RawLeakMode};
use crate::spec::values::{BiasValue, NumberArray};
use std::ops::Range;
use toml::Spanned;

pub(super) fn convert_lif(
    src: &Source,
    raw: &Spanned<RawLayer>,
    path: &str,
    name: Option<String>,
) -> Result<LifSpec, SpecError> {
    let layer = raw.get_ref();
    let (n_in, n_out) = match (&layer.shape, &layer.n) {
        (Some(shape), None) => {
            let (n_in, n_out) = read_shape(src, shape, path)?;
            if n_in % n_out != 0 {
                return Err(src.error(
                    shape.span(),
                    format!(
                        "LIF layer `{path}` has shape [{n_in}, {n_out}]: expected n_in to be a \
                         multiple of n_out (n_in = n_out x synapses per neuron)"
                    ),
                ));
            }
            (n_in, n_out)
        }
        (None, Some(n)) => {
            if *n.get_ref() == 0 {
                return Err(src.error(n.span(), format!("LIF layer `{path}`: expected n >= 1")));
            }
            (*n.get_ref(), *n.get_ref())
        }
        (Some(_), Some(n)) => {
            return Err(src.error(
                n.span(),
                format!("LIF layer `{path}` has both `shape` and `n`: expected one of them"),
            ))
        }
        (None, None) => {
            return Err(src.error(
                raw.span(),
                format!(
                "LIF layer `{path}` needs its size: missing key `n` (or `shape = [n_in, n_out]`)"
            ),
            ))
        }
    };
    let recurrent = layer.recurrent.as_ref().is_some_and(|r| *r.get_ref());
    // `w_rec` holds n_out x n_in floats, the per-synapse parameters n_in.
    let (rows, cols, what) = if recurrent {
        (n_out, n_in, "recurrent weights")
    } else {
        (n_in, 1, "per-synapse parameters")
    };
    check_matrix(rows, cols).map_err(|reason| {
        src.error(
            raw.span(),
            format!("LIF layer `{path}` has {what} of {reason}"),
        )
    })?;
    let n_syn = n_in / n_out;
    let mode = layer
        .leak_mode
        .as_ref()
        .map_or(RawLeakMode::Taus, |m| *m.get_ref());

    let positive = |x: f64| x > 0.0 && x.is_finite();
    let leak = match mode {
        RawLeakMode::Taus => {
            for (key, value) in [("alpha", &layer.alpha), ("beta", &layer.beta)] {
                if let Some(v) = value {
                    return Err(src.error(
                        v.span(),
                        format!(
                            "`{key}` is a decay, used with leak_mode = \"decays\"; layer `{path}` \
                             uses leak_mode = \"taus\": expected `tau_mem` / `tau_syn`"
                        ),
                    ));
                }
            }
            LeakSpec::Taus {
                tau_mem: init_value(
                    src,
                    layer.tau_mem.as_ref(),
                    DEFAULT_TAU,
                    &[n_out],
                    &format!("{path}/tau_mem"),
                    positive,
                    "a positive time constant (s)",
                )?,
                tau_syn: init_value(
                    src,
                    layer.tau_syn.as_ref(),
                    DEFAULT_TAU,
                    &[n_out, n_syn],
                    &format!("{path}/tau_syn"),
                    positive,
                    "a positive time constant (s)",
                )?,
            }
        }
        RawLeakMode::Decays => {
            for (key, value) in [("tau_mem", &layer.tau_mem), ("tau_syn", &layer.tau_syn)] {
                if let Some(v) = value {
                    return Err(src.error(
                        v.span(),
                        format!(
                            "`{key}` is a time constant, used with leak_mode = \"taus\"; layer \
                             `{path}` uses leak_mode = \"decays\": expected `alpha` / `beta`"
                        ),
                    ));
                }
            }
            let in_unit = |x: f64| x > 0.0 && x < 1.0;
            LeakSpec::Decays {
                alpha: init_value(
                    src,
                    layer.alpha.as_ref(),
                    DEFAULT_DECAY,
                    &[n_out],
                    &format!("{path}/alpha"),
                    in_unit,
                    "a decay strictly between 0 and 1",
                )?,
                beta: init_value(
                    src,
                    layer.beta.as_ref(),
                    DEFAULT_DECAY,
                    &[n_out, n_syn],
                    &format!("{path}/beta"),
                    in_unit,
                    "a decay strictly between 0 and 1",
                )?,
            }
        }
    };

    let dt = match &layer.dt {
        None => DEFAULT_DT,
        Some(dt) if positive(*dt.get_ref() as f32 as f64) => *dt.get_ref(),
        Some(dt) => {
            return Err(src.error(
                dt.span(),
                format!(
                    "layer `{path}`: expected a positive timestep `dt` (s), got {}",
                    show_with_f32(*dt.get_ref())
                ),
            ))
        }
    };
    let bias_raw = match &layer.bias {
        None => None,
        Some(b) => match b.get_ref() {
            BiasValue::Values(values) => Some((values, b.span())),
            BiasValue::Flag(_) => {
                return Err(src.error(
                    b.span(),
                    format!(
                        "on LIF layer `{path}`, `bias` is the initial bias: expected a number or \
                         an array of {n_out} numbers"
                    ),
                ))
            }
        },
    };
    let bias = init_value_from(
        src,
        bias_raw,
        0.0,
        &[n_out],
        &format!("{path}/bias"),
        f64::is_finite,
        "a finite number",
    )?;
    let threshold = init_value(
        src,
        layer.threshold.as_ref(),
        1.0,
        &[n_out],
        &format!("{path}/threshold"),
        positive,
        "a positive threshold",
    )?;
    let noise_std = match &layer.noise_std {
        None => 0.0,
        Some(v) if (*v.get_ref() as f32).is_finite() && *v.get_ref() >= 0.0 => *v.get_ref(),
        Some(v) => {
            return Err(src.error(
                v.span(),
                format!(
                    "layer `{path}`: expected a finite `noise_std` >= 0, got {}",
                    show_with_f32(*v.get_ref())
                ),
            ))
        }
    };
    let max_spikes_per_dt = match &layer.max_spikes_per_dt {
        None => DEFAULT_MAX_SPIKES_PER_DT,
        Some(v) if *v.get_ref() >= 1 => *v.get_ref(),
        Some(v) => {
            return Err(src.error(
                v.span(),
                format!("layer `{path}`: expected `max_spikes_per_dt` >= 1"),
            ))
        }
    };
    Ok(LifSpec {
        name,
        n_in,
        n_out,
        leak,
        recurrent,
        dt: dt as f32,
        bias,
        threshold,
        noise_std: noise_std as f32,
        max_spikes_per_dt,
    })
}

/// Reads the initial value of a parameter of shape `param_shape`: absent
/// (the default), a number, or an array with the parameter's shape (or a
/// flat array with as many elements). Every element must pass `valid`.
fn init_value(
    src: &Source,
    raw: Option<&Spanned<NumberArray>>,
    default: f64,
    param_shape: &[usize],
    param_path: &str,
    valid: impl Fn(f64) -> bool,
    expectation: &str,
) -> Result<InitValue, SpecError> {
    init_value_from(
        src,
        raw.map(|r| (r.get_ref(), r.span())),
        default,
        param_shape,
        param_path,
        valid,
        expectation,
    )
}

fn init_value_from(
    src: &Source,
    raw: Option<(&NumberArray, Range<usize>)>,
    default: f64,
    param_shape: &[usize],
    param_path: &str,
    valid: impl Fn(f64) -> bool,
    expectation: &str,
) -> Result<InitValue, SpecError> {
    let Some((array, span)) = raw else {
        return Ok(InitValue::scalar(default as f32));
    };
    let count: usize = param_shape.iter().product();
    if !array.is_scalar() && !array.fits(param_shape) {
        return Err(src.error(
            span,
            format!(
                "`{param_path}` has shape {param_shape:?}: expected a number, {count} numbers \
                 or an array of shape {param_shape:?}, got an array of shape {:?}",
                array.shape
            ),
        ));
    }
    // Checked after rounding to f32, the precision the network runs in.
    if let Some((i, bad)) = array
        .data
        .iter()
        .enumerate()
        .find(|(_, x)| !valid(**x as f32 as f64))
    {
        let which = if array.is_scalar() {
            String::new()
        } else {
            format!(" (element {i})")
        };
        return Err(src.error(
            span,
            format!(
                "`{param_path}`{which} is {}: expected {expectation}",
                show_with_f32(*bad)
            ),
        ));
    }
    Ok(InitValue {
        shape: if array.is_scalar() {
            Vec::new()
        } else {
            param_shape.to_vec()
        },
        data: array.data.iter().map(|&x| x as f32).collect(),
    })
}
