//! Adam, in the two arithmetic orderings of the libraries Rockpool trains
//! with. Both compute `m = b1 m + (1-b1) g`, `v = b2 v + (1-b2) g^2` and
//! `p -= lr * m_hat / (sqrt(v_hat) + eps)` with bias corrections for step
//! `k` (from 1); they differ in the last bits:
//!
//! - [`AdamVariant::Optax`]: `m_hat = m / (1 - b1^k)`, `v_hat = v / (1 -
//!   b2^k)` with the corrections in f32, `u = m_hat / (sqrt(v_hat) + eps)`,
//!   `p + u * (-lr)`. Scalars: `[1 - b1^k, 1 - b2^k]`.
//! - [`AdamVariant::Torch`]: `m` updated by lerp (`m + (1-b1)(g - m)`),
//!   `denom = sqrt(v) / sqrt(1 - b2^k) + eps`, `p + (-lr / (1 - b1^k)) * (m
//!   / denom)`, with the corrections in f64 then rounded. Scalars:
//!   `[-lr / (1 - b1^k), sqrt(1 - b2^k)]`.
//!
//! Hyperparameters are kept as f64, like the Python floats they come from;
//! each constant is rounded to f32 once.

use super::{check_signature, project, OptimError, Optimizer};
use crate::bounds::ClipRange;
use neurojit_compiler::ir::{ArgKind, Graph, OutKind};
use neurojit_compiler::program::Slot;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AdamVariant {
    /// `optax.adam` (Rockpool's jax training).
    #[default]
    Optax,
    /// `torch.optim.Adam` (Rockpool's torch training).
    Torch,
}

/// Adam without weight decay or amsgrad (`eps_root = 0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub lr: f64,
    pub b1: f64,
    pub b2: f64,
    pub eps: f64,
    pub variant: AdamVariant,
}

impl Adam {
    /// Adam with `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`, optax ordering.
    pub fn new(lr: f64) -> Adam {
        Adam {
            lr,
            b1: 0.9,
            b2: 0.999,
            eps: 1e-8,
            variant: AdamVariant::Optax,
        }
    }

    pub fn variant(mut self, variant: AdamVariant) -> Adam {
        self.variant = variant;
        self
    }
}

impl Optimizer for Adam {
    fn name(&self) -> &'static str {
        match self.variant {
            AdamVariant::Optax => "adam (optax)",
            AdamVariant::Torch => "adam (torch)",
        }
    }

    fn kind(&self) -> &'static str {
        "adam"
    }

    fn moments_per_parameter(&self) -> usize {
        2
    }

    fn step_scalars(&self, step: u64) -> Vec<f32> {
        let k = step.max(1);
        match self.variant {
            AdamVariant::Optax => {
                let k = k.min(i32::MAX as u64) as i32;
                let (b1, b2) = (self.b1 as f32, self.b2 as f32);
                vec![1.0 - b1.powi(k), 1.0 - b2.powi(k)]
            }
            AdamVariant::Torch => {
                let k = k as f64;
                let bc1 = 1.0 - self.b1.powf(k);
                let bc2 = 1.0 - self.b2.powf(k);
                vec![(-self.lr / bc1) as f32, bc2.sqrt() as f32]
            }
        }
    }

    fn update_graph(
        &self,
        params: &[Slot],
        clip: Option<&[ClipRange]>,
    ) -> Result<Graph, OptimError> {
        check_signature(params, clip)?;
        let mut g = Graph::new();
        let s0 = g.arg(ArgKind::Scalar, 0, "adam/scalar0", [].into());
        let s1 = g.arg(ArgKind::Scalar, 1, "adam/scalar1", [].into());
        for (i, slot) in params.iter().enumerate() {
            let shape = slot.shape.clone();
            let p = g.arg(ArgKind::Param, i, &slot.name, shape.clone());
            let grad = g.arg(ArgKind::Grad, i, &slot.name, shape.clone());
            let m = g.arg(
                ArgKind::Moment,
                2 * i,
                &format!("{}/m", slot.name),
                shape.clone(),
            );
            let v = g.arg(
                ArgKind::Moment,
                2 * i + 1,
                &format!("{}/v", slot.name),
                shape,
            );
            let (p_new, m_new, v_new) = match self.variant {
                AdamVariant::Optax => {
                    // m = (1-b1) g + b1 m ; v = (1-b2) g^2 + b2 v
                    let gm = g.scale(grad, (1.0 - self.b1) as f32);
                    let mm = g.scale(m, self.b1 as f32);
                    let m_new = g.add(gm, mm)?;
                    let g2 = g.mul(grad, grad)?;
                    let gv = g.scale(g2, (1.0 - self.b2) as f32);
                    let vv = g.scale(v, self.b2 as f32);
                    let v_new = g.add(gv, vv)?;
                    let m_hat = g.div(m_new, s0)?;
                    let v_hat = g.div(v_new, s1)?;
                    let root = g.sqrt(v_hat);
                    let eps = g.scalar(self.eps as f32);
                    let denom = g.add(root, eps)?;
                    let u = g.div(m_hat, denom)?;
                    let step = g.scale(u, -self.lr as f32);
                    (g.add(p, step)?, m_new, v_new)
                }
                AdamVariant::Torch => {
                    // m.lerp_(g, 1-b1) ; v = v b2 + (1-b2) g g
                    let diff = g.sub(grad, m)?;
                    let dm = g.scale(diff, (1.0 - self.b1) as f32);
                    let m_new = g.add(m, dm)?;
                    let vv = g.scale(v, self.b2 as f32);
                    let gg = g.scale(grad, (1.0 - self.b2) as f32);
                    let gg = g.mul(gg, grad)?;
                    let v_new = g.add(vv, gg)?;
                    let root = g.sqrt(v_new);
                    let root = g.div(root, s1)?;
                    let eps = g.scalar(self.eps as f32);
                    let denom = g.add(root, eps)?;
                    let ratio = g.div(m_new, denom)?;
                    let step = g.mul(ratio, s0)?;
                    (g.add(p, step)?, m_new, v_new)
                }
            };
            let p_new = project(&mut g, p_new, clip.map(|c| &c[i]))?;
            g.output(OutKind::Param, i, &slot.name, p_new);
            g.output(OutKind::Moment, 2 * i, &format!("{}/m", slot.name), m_new);
            g.output(
                OutKind::Moment,
                2 * i + 1,
                &format!("{}/v", slot.name),
                v_new,
            );
        }
        Ok(g)
    }
}
