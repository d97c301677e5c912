//! `Linear`: `y = x @ W (+ b)` with `W` of shape `(n_in, n_out)`.
//! Weights are drawn Kaiming-uniform (bound `sqrt(6 / n_in)`, as Rockpool's
//! `LinearTorch` does); the optional bias uniform in `±1/sqrt(n_in)`.

use super::{family, Attribute, Module, ModuleError, StepContext};
use crate::tree::Tensor;
use neurojit_compiler::ir::Value;
use rand::{Rng, RngCore};

/// A dense linear layer. Parameters: `weight` (family `"weights"`) and, if
/// enabled, `bias` (family `"biases"`).
///
/// ```
/// use neurojit::nn::{Linear, Module};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let lin = Linear::new(2, 3, &mut rng).with_bias(&mut rng);
/// assert_eq!(lin.shape(), (2, 3));
/// assert_eq!(lin.parameters().keys().collect::<Vec<_>>(), vec!["weight", "bias"]);
/// ```
#[derive(Clone, Debug)]
pub struct Linear {
    n_in: usize,
    n_out: usize,
    attributes: Vec<Attribute>,
}

impl Linear {
    /// A layer without bias, weights from `rng`.
    ///
    /// # Panics
    /// When the `n_in x n_out` weights cannot be allocated. Sizes from user
    /// input can be checked first with [`super::check_matrix`] (at most 2^28
    /// floats), as the spec loader does.
    pub fn new(n_in: usize, n_out: usize, rng: &mut dyn RngCore) -> Linear {
        let weight = kaiming_uniform(n_in, n_out, rng);
        Linear {
            n_in,
            n_out,
            attributes: vec![Attribute::parameter("weight", family::WEIGHTS, weight)],
        }
    }

    /// A layer with the given weight matrix `(n_in, n_out)` and no bias.
    pub fn from_weight(weight: Tensor) -> Result<Linear, ModuleError> {
        let &[n_in, n_out] = weight.shape().dims() else {
            return Err(ModuleError::Config {
                module: crate::tree::Path::root(),
                message: format!(
                    "a Linear weight must be 2-D (n_in, n_out), got shape {}",
                    weight.shape()
                ),
            });
        };
        Ok(Linear {
            n_in,
            n_out,
            attributes: vec![Attribute::parameter("weight", family::WEIGHTS, weight)],
        })
    }

    /// Adds a bias, drawn uniformly in `±1/sqrt(n_in)`.
    pub fn with_bias(mut self, rng: &mut dyn RngCore) -> Linear {
        if self.has_bias() {
            return self;
        }
        let bound = 1.0 / (self.n_in.max(1) as f32).sqrt();
        let data = (0..self.n_out)
            .map(|_| rng.random_range(-bound..=bound))
            .collect();
        let bias = Tensor::new([self.n_out], data).expect("length matches shape");
        self.attributes
            .push(Attribute::parameter("bias", family::BIASES, bias));
        self
    }

    pub fn has_bias(&self) -> bool {
        self.attributes.iter().any(|a| a.name == "bias")
    }

    pub fn boxed(self) -> Box<dyn Module> {
        Box::new(self)
    }
}

/// Kaiming-uniform weights `(n_in, n_out)`: `U(-b, b)` with `b = sqrt(6 / n_in)`.
pub(crate) fn kaiming_uniform(n_in: usize, n_out: usize, rng: &mut dyn RngCore) -> Tensor {
    let bound = (6.0 / n_in.max(1) as f32).sqrt();
    let count = n_in
        .checked_mul(n_out)
        .expect("the weight's element count overflows");
    let data = (0..count)
        .map(|_| rng.random_range(-bound..=bound))
        .collect();
    Tensor::new([n_in, n_out], data).expect("length matches shape")
}

impl Module for Linear {
    fn class_name(&self) -> &str {
        "Linear"
    }

    fn shape(&self) -> (usize, usize) {
        (self.n_in, self.n_out)
    }

    fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    fn attributes_mut(&mut self) -> &mut [Attribute] {
        &mut self.attributes
    }

    fn step(&self, ctx: &mut StepContext<'_>, input: Value) -> Result<Value, ModuleError> {
        let weight = ctx.param("weight")?;
        let bias = if self.has_bias() {
            Some(ctx.param("bias")?)
        } else {
            None
        };
        ctx.build(|g| {
            let y = g.matmul(input, weight)?;
            match bias {
                Some(b) => g.add(y, b),
                None => Ok(y),
            }
        })
    }
}
