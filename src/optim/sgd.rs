//! Plain stochastic gradient descent: `p -= lr * g`.

use super::{check_signature, project, OptimError, Optimizer};
use crate::bounds::ClipRange;
use neurojit_compiler::ir::{ArgKind, Graph, OutKind};
use neurojit_compiler::program::Slot;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    pub lr: f64,
}

impl Sgd {
    pub fn new(lr: f64) -> Sgd {
        Sgd { lr }
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn kind(&self) -> &'static str {
        "sgd"
    }

    fn moments_per_parameter(&self) -> usize {
        0
    }

    fn step_scalars(&self, _step: u64) -> Vec<f32> {
        Vec::new()
    }

    fn update_graph(
        &self,
        params: &[Slot],
        clip: Option<&[ClipRange]>,
    ) -> Result<Graph, OptimError> {
        check_signature(params, clip)?;
        let mut g = Graph::new();
        for (i, slot) in params.iter().enumerate() {
            let p = g.arg(ArgKind::Param, i, &slot.name, slot.shape.clone());
            let grad = g.arg(ArgKind::Grad, i, &slot.name, slot.shape.clone());
            let step = g.scale(grad, -self.lr as f32);
            let p_new = g.add(p, step)?;
            let p_new = project(&mut g, p_new, clip.map(|c| &c[i]))?;
            g.output(OutKind::Param, i, &slot.name, p_new);
        }
        Ok(g)
    }
}
