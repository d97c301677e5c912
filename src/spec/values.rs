//! Value types of the spec file that serde cannot express directly:
//! a number *or* a (nested) array of numbers, and the `bias` key, which is
//! a flag on a linear layer and a number (or array) on a LIF layer.
//!
//! Both deserialise through a visitor so that a wrong type is reported
//! with the span of the offending value and a plain-language expectation
//! ("a number or an array of numbers").

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use std::fmt;

/// A scalar or a rectangular nested array of numbers, as written in the
/// file (row-major). `shape` is empty for a scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberArray {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl NumberArray {
    pub fn scalar(value: f64) -> NumberArray {
        NumberArray {
            shape: Vec::new(),
            data: vec![value],
        }
    }

    pub fn is_scalar(&self) -> bool {
        self.shape.is_empty()
    }

    /// Whether this array gives one value per element of a parameter of
    /// shape `shape`: nested with that very shape, or flat (row-major).
    /// A nested array of another shape with as many elements (a
    /// transposed matrix, say) is refused rather than silently reshaped.
    pub fn fits(&self, shape: &[usize]) -> bool {
        let count: usize = shape.iter().product();
        self.shape == shape || (self.shape.len() == 1 && self.data.len() == count)
    }
}

/// One element of a nested array while it is being read: a number or a
/// sub-array (checked for rectangularity afterwards).
enum Nested {
    Number(f64),
    Array(Vec<Nested>),
}

impl Nested {
    /// Flattens a rectangular nested array; `None` if the rows differ in
    /// length or depth.
    fn into_array(self) -> Option<NumberArray> {
        match self {
            Nested::Number(x) => Some(NumberArray::scalar(x)),
            Nested::Array(items) => {
                let mut shape: Option<Vec<usize>> = None;
                let mut data = Vec::new();
                let count = items.len();
                for item in items {
                    let sub = item.into_array()?;
                    match &shape {
                        None => shape = Some(sub.shape.clone()),
                        Some(s) if *s == sub.shape => {}
                        Some(_) => return None,
                    }
                    data.extend(sub.data);
                }
                let mut full = vec![count];
                full.extend(shape.unwrap_or_default());
                // An empty array has shape [0].
                if count == 0 {
                    full.truncate(1);
                }
                Some(NumberArray { shape: full, data })
            }
        }
    }
}

struct NestedVisitor;

impl<'de> Visitor<'de> for NestedVisitor {
    type Value = Nested;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a number or an array of numbers")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Nested, E> {
        Ok(Nested::Number(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Nested, E> {
        Ok(Nested::Number(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Nested, E> {
        Ok(Nested::Number(v as f64))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Nested, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<NestedItem>()? {
            items.push(item.0);
        }
        Ok(Nested::Array(items))
    }
}

struct NestedItem(Nested);

impl<'de> Deserialize<'de> for NestedItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NestedVisitor).map(NestedItem)
    }
}

impl<'de> Deserialize<'de> for NumberArray {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let nested = d.deserialize_any(NestedVisitor)?;
        nested
            .into_array()
            .ok_or_else(|| de::Error::custom("the rows of this array differ in length"))
    }
}

/// The `bias` key: `true`/`false` on a linear layer (whether it has a
/// bias), the initial value on a LIF layer.
#[derive(Clone, Debug, PartialEq)]
pub enum BiasValue {
    Flag(bool),
    Values(NumberArray),
}

struct BiasVisitor;

impl<'de> Visitor<'de> for BiasVisitor {
    type Value = BiasValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "true/false (linear layer) or a number or array of numbers (LIF layer)"
        )
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<BiasValue, E> {
        Ok(BiasValue::Flag(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<BiasValue, E> {
        Ok(BiasValue::Values(NumberArray::scalar(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<BiasValue, E> {
        Ok(BiasValue::Values(NumberArray::scalar(v as f64)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<BiasValue, E> {
        Ok(BiasValue::Values(NumberArray::scalar(v as f64)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<BiasValue, A::Error> {
        let nested = NestedVisitor.visit_seq(seq)?;
        nested
            .into_array()
            .map(BiasValue::Values)
            .ok_or_else(|| de::Error::custom("the rows of this array differ in length"))
    }
}

impl<'de> Deserialize<'de> for BiasValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BiasVisitor)
    }
}
