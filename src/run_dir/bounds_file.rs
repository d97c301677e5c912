//! `bounds.json`: the lower and upper bound of every parameter.

use super::json_numbers::{float_from_json, float_to_json};
use super::{RunDir, RunDirError};
use crate::spec::{BoundValue, ParamBounds};
use serde_json::{json, Value};

impl RunDir {
    /// Writes `bounds.json`.
    pub fn write_bounds(&self, bounds: &[ParamBounds]) -> Result<(), RunDirError> {
        let params: Vec<Value> = bounds
            .iter()
            .map(|b| {
                json!({
                    "path": b.path,
                    "shape": b.shape,
                    "lower": bound_to_json(&b.lower),
                    "upper": bound_to_json(&b.upper),
                })
            })
            .collect();
        self.write_json(&self.bounds_path(), &json!({ "parameters": params }), true)
    }

    /// Reads `bounds.json`.
    pub fn read_bounds(&self) -> Result<Vec<ParamBounds>, RunDirError> {
        let path = self.bounds_path();
        let value: Value = self.read_json(&path)?;
        let bad = |message: String| RunDirError::Parse {
            path: path.display().to_string(),
            line: 1,
            message,
        };
        let params = value
            .get("parameters")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("expected an object with a `parameters` list".into()))?;
        params
            .iter()
            .map(|p| {
                let path = p
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("a parameter has no `path` string".into()))?;
                let shape: Vec<usize> = p
                    .get("shape")
                    .and_then(|s| serde_json::from_value(s.clone()).ok())
                    .ok_or_else(|| bad(format!("`{path}` has no `shape` list")))?;
                let read = |key: &str| {
                    p.get(key).and_then(bound_from_json).ok_or_else(|| {
                        bad(format!(
                            "`{path}`: `{key}` must be a number or a list of numbers"
                        ))
                    })
                };
                Ok(ParamBounds {
                    path: path.to_string(),
                    shape,
                    lower: read("lower")?,
                    upper: read("upper")?,
                })
            })
            .collect()
    }
}

fn bound_to_json(b: &BoundValue) -> Value {
    match b {
        BoundValue::Scalar(x) => float_to_json(*x),
        BoundValue::PerElement(v) => Value::Array(v.iter().map(|&x| float_to_json(x)).collect()),
    }
}

fn bound_from_json(v: &Value) -> Option<BoundValue> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(float_from_json)
            .collect::<Option<Vec<f32>>>()
            .map(BoundValue::PerElement),
        other => float_from_json(other).map(BoundValue::Scalar),
    }
}
