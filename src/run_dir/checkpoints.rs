//! The run's checkpoint files (latest, best, final, initial): which file
//! is which, and saving and loading them.

use super::{RunDir, RunDirError};
use crate::checkpoint::{self, Checkpoint};

/// Which checkpoint file of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointKind {
    /// `checkpoint.safetensors`: latest, resumable.
    Latest,
    /// `best.safetensors`.
    Best,
    /// `final.safetensors`.
    Final,
    /// `initial.safetensors`.
    Initial,
}

impl CheckpointKind {
    pub fn file_name(self) -> &'static str {
        match self {
            CheckpointKind::Latest => "checkpoint.safetensors",
            CheckpointKind::Best => "best.safetensors",
            CheckpointKind::Final => "final.safetensors",
            CheckpointKind::Initial => "initial.safetensors",
        }
    }
}

impl RunDir {
    /// Saves one of the run's checkpoints (atomically).
    pub fn save_checkpoint(
        &self,
        kind: CheckpointKind,
        checkpoint: &Checkpoint,
    ) -> Result<(), RunDirError> {
        Ok(checkpoint::save_checkpoint(
            &self.checkpoint_path(kind),
            checkpoint,
        )?)
    }

    /// Loads one of the run's checkpoints.
    pub fn load_checkpoint(&self, kind: CheckpointKind) -> Result<Checkpoint, RunDirError> {
        Ok(checkpoint::load_checkpoint(&self.checkpoint_path(kind))?)
    }
}
