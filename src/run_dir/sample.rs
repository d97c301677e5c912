//! `sample.json`: one sample's spikes, membrane traces, output and target
//! ([`Sample`] of [`LayerRecord`]s and [`Matrix`]es), for the plots.

use super::json_numbers::json_floats;
use super::{RunDir, RunDirError};
use serde::{Deserialize, Serialize};

/// A `(rows, cols)` matrix of f32, row-major; in `sample.json` rows are
/// timesteps and columns neurons or channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub shape: [usize; 2],
    #[serde(with = "json_floats")]
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Option<Matrix> {
        let matrix = Matrix {
            shape: [rows, cols],
            data,
        };
        matrix.is_consistent().then_some(matrix)
    }

    /// Whether the shape holds exactly the data's values (a shape whose
    /// element count overflows holds none).
    pub fn is_consistent(&self) -> bool {
        self.shape[0].checked_mul(self.shape[1]) == Some(self.data.len())
    }

    pub fn rows(&self) -> usize {
        self.shape[0]
    }

    pub fn cols(&self) -> usize {
        self.shape[1]
    }

    pub fn get(&self, row: usize, col: usize) -> f32 {
        self.data[row * self.shape[1] + col]
    }
}

/// Recordings of one LIF layer for one sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Module path, e.g. `2_Residual/1_LIF`.
    pub name: String,
    /// Spike counts `(T, N)`.
    pub spikes: Matrix,
    /// Membrane potential after reset `(T, N)`.
    pub vmem: Matrix,
}

/// `sample.json`: what one sample did, for the raster and trace plots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Timestep (s).
    pub dt: f32,
    /// Which sample of the data this is.
    pub index: usize,
    pub layers: Vec<LayerRecord>,
    /// Network output `(T, N_out)`, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Matrix>,
    /// Target signal `(T, N_out)`, if the data has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Matrix>,
}

impl RunDir {
    /// Writes `sample.json`.
    pub fn write_sample(&self, sample: &Sample) -> Result<(), RunDirError> {
        let value = serde_json::to_value(sample).map_err(|e| RunDirError::Parse {
            path: self.sample_path().display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        self.write_json(&self.sample_path(), &value, false)
    }

    /// Reads `sample.json`.
    pub fn read_sample(&self) -> Result<Sample, RunDirError> {
        let path = self.sample_path();
        let value = self.read_json(&path)?;
        let sample: Sample = serde_json::from_value(value).map_err(|e| RunDirError::Parse {
            path: path.display().to_string(),
            line: 1,
            message: e.to_string(),
        })?;
        let layers = sample.layers.iter().flat_map(|layer| {
            [
                (format!("`{}` spikes", layer.name), &layer.spikes),
                (format!("`{}` vmem", layer.name), &layer.vmem),
            ]
        });
        let signals = [("output", &sample.output), ("target", &sample.target)]
            .into_iter()
            .filter_map(|(what, m)| Some((what.to_string(), m.as_ref()?)));
        for (what, m) in layers.chain(signals) {
            if !m.is_consistent() {
                return Err(RunDirError::Parse {
                    path: path.display().to_string(),
                    line: 1,
                    message: format!("{what} has shape {:?} but {} values", m.shape, m.data.len()),
                });
            }
        }
        Ok(sample)
    }
}
