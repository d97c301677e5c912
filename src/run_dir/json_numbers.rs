//! Numbers in the run's JSON files: non-finite values are written as the
//! strings `"inf"`, `"-inf"` and `"nan"` (JSON has no such numbers) and
//! read back from them.

use serde_json::{json, Value};

pub(super) fn float_to_json(x: f32) -> Value {
    if x.is_nan() {
        json!("nan")
    } else if x == f32::INFINITY {
        json!("inf")
    } else if x == f32::NEG_INFINITY {
        json!("-inf")
    } else {
        json!(x)
    }
}

pub(super) fn float_from_json(v: &Value) -> Option<f32> {
    match v {
        Value::Number(n) => n.as_f64().map(|x| x as f32),
        Value::String(s) => match s.as_str() {
            "nan" => Some(f32::NAN),
            "inf" => Some(f32::INFINITY),
            "-inf" => Some(f32::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// serde helpers for `Vec<f32>` that may hold non-finite values.
pub(super) mod json_floats {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(data: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let values: Vec<Value> = data.iter().map(|&x| super::float_to_json(x)).collect();
        values.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let values = Vec::<Value>::deserialize(d)?;
        values
            .iter()
            .map(|v| {
                super::float_from_json(v).ok_or_else(|| {
                    D::Error::custom(format!(
                        "`{v}` is not a number (or \"inf\", \"-inf\", \"nan\")"
                    ))
                })
            })
            .collect()
    }
}
