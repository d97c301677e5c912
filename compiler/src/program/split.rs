//! Turns a traced step into the programs the runtime runs.

use super::{StepProgram, TrainingPrograms};
use crate::ir::GraphError;

/// Node counts of the step graphs at each stage of compilation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub traced: usize,
    pub with_gradients: usize,
    pub simplified: usize,
}

pub fn compile_training(step: &StepProgram) -> Result<TrainingPrograms, GraphError> {
    let _ = step;
    todo!("split the step program into prologue, forward and backward")
}
