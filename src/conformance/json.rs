//! Reading the reference-case encoding (see the README beside the cases):
//! every number is an f32 written exactly as a double, so it is parsed as
//! f64 and cast (exactly) to f32; non-finite values are the strings
//! `"inf"`, `"-inf"` and `"nan"`; arrays are `{"shape", "data"}` in row-major
//! order; trees are lists of `[path, leaf]` pairs in Rockpool's order.

use super::ConformanceError;
use crate::bounds::Bound;
use crate::tree::{Path, Tensor, Tree};
use serde_json::Value as Json;

/// `v[key]`, or an error naming the missing field and what `v` holds
/// instead (its fields, or the value when it is not an object).
pub(super) fn field<'a>(v: &'a Json, key: &str) -> Result<&'a Json, ConformanceError> {
    match v {
        Json::Object(fields) => fields.get(key).ok_or_else(|| {
            const SHOWN_FIELDS: usize = 10;
            let mut present: Vec<String> = fields.keys().take(SHOWN_FIELDS).cloned().collect();
            if fields.len() > SHOWN_FIELDS {
                present.push(format!("and {} more", fields.len() - SHOWN_FIELDS));
            }
            if present.is_empty() {
                present.push("no fields".into());
            }
            ConformanceError::Format(format!(
                "missing field `{key}` (the object has: {})",
                present.join(", ")
            ))
        }),
        other => Err(ConformanceError::Format(format!(
            "expected an object with a field `{key}`, got {}",
            brief(other)
        ))),
    }
}

pub(super) fn as_str<'a>(v: &'a Json, what: &str) -> Result<&'a str, ConformanceError> {
    v.as_str().ok_or_else(|| {
        ConformanceError::Format(format!("`{what}` must be a string, got {}", brief(v)))
    })
}

pub(super) fn as_array<'a>(v: &'a Json, what: &str) -> Result<&'a [Json], ConformanceError> {
    v.as_array().map(Vec::as_slice).ok_or_else(|| {
        ConformanceError::Format(format!("`{what}` must be a list, got {}", brief(v)))
    })
}

pub(super) fn as_usize(v: &Json, what: &str) -> Result<usize, ConformanceError> {
    v.as_u64().map(|x| x as usize).ok_or_else(|| {
        ConformanceError::Format(format!(
            "`{what}` must be a non-negative integer, got {}",
            brief(v)
        ))
    })
}

/// A float32 value: a JSON number (cast from f64) or `"inf"`, `"-inf"`, `"nan"`.
pub(super) fn as_f32(v: &Json) -> Result<f32, ConformanceError> {
    match v {
        Json::Number(n) => n
            .as_f64()
            .map(|x| x as f32)
            .ok_or_else(|| ConformanceError::Format(format!("not a float: {n}"))),
        Json::String(s) => match s.as_str() {
            "inf" => Ok(f32::INFINITY),
            "-inf" => Ok(f32::NEG_INFINITY),
            "nan" => Ok(f32::NAN),
            other => Err(ConformanceError::Format(format!(
                "not a float: \"{other}\""
            ))),
        },
        other => Err(ConformanceError::Format(format!(
            "not a float: {}",
            brief(other)
        ))),
    }
}

/// A hyperparameter kept as the double it was written as.
pub(super) fn as_f64(v: &Json, what: &str) -> Result<f64, ConformanceError> {
    v.as_f64().ok_or_else(|| {
        ConformanceError::Format(format!("`{what}` must be a number, got {}", brief(v)))
    })
}

/// `{"shape": [...], "data": [...]}`.
pub(super) fn tensor(v: &Json) -> Result<Tensor, ConformanceError> {
    let shape: Vec<usize> = as_array(field(v, "shape")?, "shape")?
        .iter()
        .map(|d| as_usize(d, "shape"))
        .collect::<Result<_, _>>()?;
    let data: Vec<f32> = as_array(field(v, "data")?, "data")?
        .iter()
        .map(as_f32)
        .collect::<Result<_, _>>()?;
    Tensor::new(shape.as_slice(), data).map_err(|e| ConformanceError::Format(e.to_string()))
}

/// A list of keys.
pub(super) fn path(v: &Json) -> Result<Path, ConformanceError> {
    let keys: Vec<String> = as_array(v, "path")?
        .iter()
        .map(|k| as_str(k, "path key").map(str::to_string))
        .collect::<Result<_, _>>()?;
    Ok(Path::from(keys))
}

pub(super) fn paths(v: &Json) -> Result<Vec<Path>, ConformanceError> {
    as_array(v, "paths")?.iter().map(path).collect()
}

/// `[[path, leaf], ...]` with `leaf` parsed by `leaf_of`, in list order.
pub(super) fn pairs<L>(
    v: &Json,
    leaf_of: impl Fn(&Json) -> Result<L, ConformanceError>,
) -> Result<Vec<(Path, L)>, ConformanceError> {
    as_array(v, "tree")?
        .iter()
        .map(|pair| {
            let items = as_array(pair, "tree entry")?;
            let [p, leaf] = items else {
                return Err(ConformanceError::Format(format!(
                    "a tree entry must be [path, leaf], got {}",
                    brief(pair)
                )));
            };
            Ok((path(p)?, leaf_of(leaf)?))
        })
        .collect()
}

/// A tree of arrays.
pub(super) fn tensor_tree(v: &Json) -> Result<Tree<Tensor>, ConformanceError> {
    into_tree(pairs(v, tensor)?)
}

/// A bounds tree: scalar leaves (numbers or non-finite strings) or arrays.
pub(super) fn bounds_tree(v: &Json) -> Result<Tree<Bound>, ConformanceError> {
    into_tree(pairs(v, bound)?)
}

pub(super) fn bound(v: &Json) -> Result<Bound, ConformanceError> {
    if v.is_object() {
        Ok(Bound::Array(tensor(v)?))
    } else {
        Ok(Bound::Scalar(as_f32(v)?))
    }
}

pub(super) fn into_tree<L>(pairs: Vec<(Path, L)>) -> Result<Tree<L>, ConformanceError> {
    Tree::from_leaves(pairs).map_err(|e| ConformanceError::Format(e.to_string()))
}

/// The start of a JSON value, for error messages.
fn brief(v: &Json) -> String {
    const SHOWN_CHARS: usize = 60;
    let s = v.to_string();
    // Cut at a character boundary: strings may hold any Unicode.
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        // Byte 60 falls inside a two-byte character (after the opening quote).
        let v = Json::String("é".repeat(80));
        let shown = brief(&v);
        assert!(shown.ends_with("..."), "{shown}");
        assert_eq!(shown.chars().count(), 60 + 3);
    }

    #[test]
    fn a_missing_field_is_reported_with_what_is_there_instead() {
        let object: Json = serde_json::json!({"total": 1.0, "bounds": 0.0});
        let err = field(&object, "mse").unwrap_err().to_string();
        assert!(
            err.contains("missing field `mse` (the object has: bounds, total)"),
            "{err}"
        );

        let wide: Json = (0..12).map(|i| (format!("f{i:02}"), Json::Null)).collect();
        let err = field(&wide, "mse").unwrap_err().to_string();
        assert!(
            err.contains("f00, f01, f02, f03, f04, f05, f06, f07, f08, f09, and 2 more)"),
            "{err}"
        );

        let number: Json = serde_json::json!(0.5);
        let err = field(&number, "mse").unwrap_err().to_string();
        assert!(
            err.contains("expected an object with a field `mse`, got 0.5"),
            "{err}"
        );
    }
}
