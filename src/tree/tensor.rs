//! `Tensor`: a dense f32 array with a static shape, row-major (C order).
//! It is the leaf type of parameter and state trees; graphs never see it
//! (they see `Value`s of the same shapes).

use neurojit_compiler::ir::Shape;
use std::fmt;
use thiserror::Error;

/// A dense, row-major f32 array.
///
/// ```
/// use neurojit::tree::Tensor;
/// let t = Tensor::new([2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// assert_eq!(t.shape().dims(), &[2, 2]);
/// assert_eq!(t.to_string(), "[[1.0, 2.0], [3.0, 4.0]]");
/// ```
#[derive(Clone, PartialEq, Debug)]
pub struct Tensor {
    shape: Shape,
    data: Vec<f32>,
}

/// A tensor was built from data that does not fit its shape.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TensorError {
    #[error("a tensor of shape {shape} holds {expected} values, got {got}")]
    Length {
        shape: Shape,
        expected: usize,
        got: usize,
    },
    #[error("a tensor of shape {shape}: its element count overflows")]
    Overflow { shape: Shape },
}

impl Tensor {
    /// A tensor of `shape` holding `data` (row-major).
    pub fn new(shape: impl Into<Shape>, data: Vec<f32>) -> Result<Tensor, TensorError> {
        let shape = shape.into();
        let Some(expected) = shape.checked_numel() else {
            return Err(TensorError::Overflow { shape });
        };
        if expected != data.len() {
            return Err(TensorError::Length {
                expected,
                got: data.len(),
                shape,
            });
        }
        Ok(Tensor { shape, data })
    }

    /// A tensor of `shape` with every element equal to `value`.
    ///
    /// # Panics
    /// When the elements cannot be allocated (or their count overflows).
    pub fn full(shape: impl Into<Shape>, value: f32) -> Tensor {
        let shape = shape.into();
        let count = shape
            .checked_numel()
            .expect("the tensor's element count overflows");
        let data = vec![value; count];
        Tensor { shape, data }
    }

    pub fn zeros(shape: impl Into<Shape>) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A 0-d tensor.
    pub fn scalar(value: f32) -> Tensor {
        Tensor::full(Shape::scalar(), value)
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Option<f32> {
        (self.data.len() == 1).then(|| self.data[0])
    }

    /// The common value when every element is equal (bit for bit, so NaN
    /// arrays never count as uniform).
    pub fn uniform_value(&self) -> Option<f32> {
        let first = *self.data.first()?;
        self.data
            .iter()
            .all(|x| x.to_bits() == first.to_bits() && !x.is_nan())
            .then_some(first)
    }
}

impl fmt::Display for Tensor {
    /// numpy-like nesting: `[[0.5], [0.5]]`; a 0-d tensor prints its value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_nested(f, self.shape.dims(), &self.data)
    }
}

fn write_nested(f: &mut fmt::Formatter<'_>, dims: &[usize], data: &[f32]) -> fmt::Result {
    let Some((&outer, inner)) = dims.split_first() else {
        return write!(f, "{:?}", data[0]);
    };
    let stride: usize = inner.iter().product();
    write!(f, "[")?;
    for i in 0..outer {
        if i > 0 {
            write!(f, ", ")?;
        }
        write_nested(f, inner, &data[i * stride..(i + 1) * stride])?;
    }
    write!(f, "]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_must_match_shape() {
        let err = Tensor::new([2, 3], vec![0.0; 5]).unwrap_err();
        assert!(matches!(
            err,
            TensorError::Length {
                expected: 6,
                got: 5,
                ..
            }
        ));
        assert!(err.to_string().contains("[2,3]"));
        // 2^64 elements: the count wraps to 0, which must not match no data.
        let err = Tensor::new([1 << 32, 1 << 32], vec![]).unwrap_err();
        assert!(
            err.to_string().contains("its element count overflows"),
            "{err}"
        );
    }

    #[test]
    fn prints_nested_rows() {
        let t = Tensor::new([3, 1], vec![0.5, 0.25, -1.0]).unwrap();
        assert_eq!(t.to_string(), "[[0.5], [0.25], [-1.0]]");
        assert_eq!(Tensor::scalar(f32::NEG_INFINITY).to_string(), "-inf");
    }

    #[test]
    fn uniform_value_needs_equal_elements() {
        assert_eq!(Tensor::full([4], 0.5).uniform_value(), Some(0.5));
        assert_eq!(
            Tensor::new([2], vec![0.5, 1.0]).unwrap().uniform_value(),
            None
        );
        assert_eq!(Tensor::full([2], f32::NAN).uniform_value(), None);
    }
}
