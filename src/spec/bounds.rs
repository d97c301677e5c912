//! The `[[bounds]]` entries: which parameters they select (a family, an
//! attribute name or a tree path, as Rockpool's `parameters(family)`,
//! `attributes_named(name)` and an explicit sub-tree select them), and the
//! lower / upper bound each sets.
//!
//! Entries apply in file order on top of `make_bounds` (every bound
//! infinite), like successive `set_matching` calls: a later entry replaces
//! what an earlier one set on the same parameter. The result, one
//! [`ParamBounds`] per parameter, is checked for `lower > upper`.

use super::error::{Source, SpecError};
use super::network::ParamSpec;
use super::number::show_with_f32;
use super::raw::RawBound;
use super::values::NumberArray;
use std::ops::Range;
use toml::Spanned;

/// The families a bounds entry may name (Rockpool's torch names).
pub const FAMILIES: [&str; 6] = ["weights", "biases", "bias", "taus", "decays", "thresholds"];

/// Which parameters a bounds entry applies to.
#[derive(Clone, Debug, PartialEq)]
pub enum BoundSelect {
    /// All parameters of a family (`"threshold"` is read as `"thresholds"`).
    Family(String),
    /// All parameters with this attribute name, e.g. `tau_syn`.
    Attribute(String),
    /// One parameter (`1_LIF/tau_mem`) or every parameter under a module
    /// path (`2_Residual`).
    Path(String),
}

impl BoundSelect {
    pub fn matches(&self, param: &ParamSpec) -> bool {
        match self {
            BoundSelect::Family(f) => param.family == f,
            BoundSelect::Attribute(a) => param.attribute == a,
            BoundSelect::Path(p) => {
                param.path == *p
                    || (param.path.len() > p.len()
                        && param.path.starts_with(p.as_str())
                        && param.path.as_bytes()[p.len()] == b'/')
            }
        }
    }
}

/// A bound: one value for every element, or one value per element
/// (row-major, as many as the parameter has). May be infinite.
#[derive(Clone, Debug, PartialEq)]
pub enum BoundValue {
    Scalar(f32),
    PerElement(Vec<f32>),
}

impl BoundValue {
    /// The bound of element `i`.
    pub fn at(&self, i: usize) -> f32 {
        match self {
            BoundValue::Scalar(x) => *x,
            BoundValue::PerElement(v) => v[i],
        }
    }

    /// The bound of every element of a parameter with `count` elements.
    pub fn to_elements(&self, count: usize) -> Vec<f32> {
        match self {
            BoundValue::Scalar(x) => vec![*x; count],
            BoundValue::PerElement(v) => v.clone(),
        }
    }

    /// Whether any element is finite (i.e. the bound can be active).
    pub fn is_active(&self) -> bool {
        match self {
            BoundValue::Scalar(x) => x.is_finite(),
            BoundValue::PerElement(v) => v.iter().any(|x| x.is_finite()),
        }
    }
}

/// One `[[bounds]]` entry as written.
#[derive(Clone, Debug, PartialEq)]
pub struct BoundSpec {
    pub select: BoundSelect,
    pub lower: Option<BoundValue>,
    pub upper: Option<BoundValue>,
    /// 1-based line of the entry in the spec file.
    pub line: usize,
}

/// The lower and upper bound of one parameter after all entries applied.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamBounds {
    pub path: String,
    pub shape: Vec<usize>,
    pub lower: BoundValue,
    pub upper: BoundValue,
}

/// Converts and checks the entries, and resolves them over `params`.
pub(crate) fn convert_bounds(
    src: &Source,
    raw: &[Spanned<RawBound>],
    params: &[ParamSpec],
) -> Result<(Vec<BoundSpec>, Vec<ParamBounds>), SpecError> {
    let mut resolved: Vec<ParamBounds> = params
        .iter()
        .map(|p| ParamBounds {
            path: p.path.clone(),
            shape: p.shape.clone(),
            lower: BoundValue::Scalar(f32::NEG_INFINITY),
            upper: BoundValue::Scalar(f32::INFINITY),
        })
        .collect();
    // The span of the value that last set each parameter's bounds (the
    // place to point at if they end up inverted).
    let mut set_by: Vec<Option<Range<usize>>> = vec![None; params.len()];
    let mut entries = Vec::with_capacity(raw.len());

    for entry in raw {
        let select = read_select(src, entry)?;
        let e = entry.get_ref();
        if e.lower.is_none() && e.upper.is_none() {
            return Err(src.error(
                entry.span(),
                "this bounds entry sets nothing: expected `lower`, `upper` or both",
            ));
        }
        let matched: Vec<usize> = (0..params.len())
            .filter(|&i| select.matches(&params[i]))
            .collect();
        if matched.is_empty() {
            return Err(src.error(selector_span(entry), no_match_message(&select, params)));
        }
        let lower = read_bound(src, e.lower.as_ref(), "lower", &matched, params)?;
        let upper = read_bound(src, e.upper.as_ref(), "upper", &matched, params)?;
        for &i in &matched {
            if let Some(l) = &lower {
                resolved[i].lower = l.clone();
            }
            if let Some(u) = &upper {
                resolved[i].upper = u.clone();
            }
            set_by[i] = e.lower.as_ref().or(e.upper.as_ref()).map(|v| v.span());
        }
        let line = src.line_of(entry.span().start);
        entries.push(BoundSpec {
            select,
            lower,
            upper,
            line,
        });
    }

    for (bounds, span) in resolved.iter().zip(&set_by) {
        let count: usize = bounds.shape.iter().product();
        for i in 0..count {
            let (lo, hi) = (bounds.lower.at(i), bounds.upper.at(i));
            if lo > hi {
                let element = if count > 1 || !bounds.shape.is_empty() {
                    format!(" (element {i})")
                } else {
                    String::new()
                };
                let message = format!(
                    "the bounds of `{}`{element} are lower {lo} > upper {hi}: expected lower <= upper",
                    bounds.path
                );
                return Err(match span {
                    Some(span) => src.error(span.clone(), message),
                    None => src.error_unlocated(message),
                });
            }
        }
    }
    Ok((entries, resolved))
}

/// The span of an entry's selector value (the entry's if it has none).
fn selector_span(entry: &Spanned<RawBound>) -> Range<usize> {
    let e = entry.get_ref();
    [&e.family, &e.attribute, &e.path]
        .into_iter()
        .flatten()
        .map(|v| v.span())
        .next()
        .unwrap_or_else(|| entry.span())
}

/// Reads the one selector of an entry.
fn read_select(src: &Source, entry: &Spanned<RawBound>) -> Result<BoundSelect, SpecError> {
    let e = entry.get_ref();
    let given: Vec<(&str, &Spanned<String>)> = [
        ("family", &e.family),
        ("attribute", &e.attribute),
        ("path", &e.path),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .collect();
    match given.as_slice() {
        [] => Err(src.error(
            entry.span(),
            "this bounds entry selects nothing: expected one of `family`, `attribute` or `path`",
        )),
        [(key, value)] => {
            let text = value.get_ref().clone();
            match *key {
                "family" => {
                    let family = if text == "threshold" {
                        "thresholds".to_string()
                    } else {
                        text
                    };
                    if !FAMILIES.contains(&family.as_str()) {
                        return Err(src.error(
                            value.span(),
                            format!(
                                "unknown family `{family}`: expected one of {}",
                                FAMILIES.join(", ")
                            ),
                        ));
                    }
                    Ok(BoundSelect::Family(family))
                }
                "attribute" => Ok(BoundSelect::Attribute(text)),
                _ => Ok(BoundSelect::Path(text.trim_matches('/').to_string())),
            }
        }
        [(first, _), (second, value), ..] => Err(src.error(
            value.span(),
            format!(
                "this bounds entry has both `{first}` and `{second}`: expected exactly one selector"
            ),
        )),
    }
}

fn no_match_message(select: &BoundSelect, params: &[ParamSpec]) -> String {
    match select {
        BoundSelect::Family(f) => format!(
            "no parameter of the network is in family `{f}` (\"decays\" needs a LIF with \
             leak_mode = \"decays\", \"taus\" one with leak_mode = \"taus\")"
        ),
        BoundSelect::Attribute(a) => {
            let mut names: Vec<&str> = params.iter().map(|p| p.attribute).collect();
            names.sort_unstable();
            names.dedup();
            format!(
                "no parameter of the network is named `{a}`: expected one of {}",
                names.join(", ")
            )
        }
        BoundSelect::Path(p) => {
            let paths: Vec<&str> = params.iter().map(|p| p.path.as_str()).collect();
            format!(
                "the network has no parameter or module at path `{p}`: its parameters are {}",
                paths.join(", ")
            )
        }
    }
}

/// Reads a `lower` / `upper` value and checks a per-element array
/// against every selected parameter.
fn read_bound(
    src: &Source,
    raw: Option<&Spanned<NumberArray>>,
    key: &str,
    matched: &[usize],
    params: &[ParamSpec],
) -> Result<Option<BoundValue>, SpecError> {
    let Some(raw) = raw else { return Ok(None) };
    let array = raw.get_ref();
    if array.data.iter().any(|x| x.is_nan()) {
        return Err(src.error(
            raw.span(),
            format!("`{key}` contains nan: expected numbers (inf and -inf are allowed)"),
        ));
    }
    // A lower bound of +inf (or an upper bound of -inf) admits no value;
    // checked after rounding to f32, where 1e300 is inf.
    let impossible = if key == "lower" {
        f32::INFINITY
    } else {
        f32::NEG_INFINITY
    };
    if let Some(&x) = array.data.iter().find(|&&x| x as f32 == impossible) {
        return Err(src.error(
            raw.span(),
            format!(
                "`{key}` is {}: no value satisfies it; expected a finite number (or {} for no \
                 {key} bound)",
                show_with_f32(x),
                -impossible
            ),
        ));
    }
    if array.is_scalar() {
        return Ok(Some(BoundValue::Scalar(array.data[0] as f32)));
    }
    for &i in matched {
        let p = &params[i];
        if !array.fits(&p.shape) {
            return Err(src.error(
                raw.span(),
                format!(
                    "`{key}` is an array of shape {:?} but `{}` has shape {:?}: expected a \
                     number, {} values in a flat array, or an array of shape {:?}",
                    array.shape,
                    p.path,
                    p.shape,
                    p.element_count(),
                    p.shape
                ),
            ));
        }
    }
    Ok(Some(BoundValue::PerElement(
        array.data.iter().map(|&x| x as f32).collect(),
    )))
}
