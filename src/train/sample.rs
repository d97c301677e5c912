//! Records what one sample did with given parameters: each LIF layer's
//! spikes and membrane potential over time, the output and the target (the
//! data behind the raster and trace plots of a run folder).

use super::TrainError;
use crate::nn::Module;
use crate::run_dir::{LayerRecord, Matrix, Sample};
use crate::trace::{record_name, trace, TraceOptions};
use crate::tree::{Tensor, Tree};
use neurojit_compiler::program::compile_training;
use neurojit_runtime::{BackendKind, Session};

/// Runs `network` with `params` on one sample (`input (T, n_in)`,
/// `target (T, n_out)`), recording every layer.
pub fn record_sample(
    network: &mut dyn Module,
    params: &Tree<Tensor>,
    input: &[f32],
    target: &[f32],
    steps: usize,
    index: usize,
    backend: BackendKind,
) -> Result<Sample, TrainError> {
    network
        .set_attributes(params)
        .map_err(crate::trace::TraceError::from)?;
    let mut options = TraceOptions::new(1, steps);
    options.record = crate::nn::RecordOptions::all();
    let traced = trace(network, &options)?;
    let programs = compile_training(&traced.program)?;
    let mut session = Session::new(programs, backend.backend().as_ref(), steps)?;
    let values = network.parameters();
    for (slot, path) in traced.param_paths.iter().enumerate() {
        if let Ok(tensor) = values.get_nested(path) {
            session.set_param(slot, tensor.data())?;
        }
    }
    session.set_data(input, target)?;
    session.forward()?;
    let matrix = |data: Vec<f32>| {
        let cols = data.len() / steps.max(1);
        Matrix::new(steps, cols, data).expect("a record holds T rows")
    };
    let mut layers = Vec::new();
    for r in traced.records.iter().filter(|r| r.name == "vmem") {
        let vmem = session.record_named(&record_name(&r.module, "vmem"));
        let spikes = session.record_named(&record_name(&r.module, "output"));
        if let (Some(vmem), Some(spikes)) = (vmem, spikes) {
            layers.push(LayerRecord {
                name: r.module.joined(),
                spikes: matrix(spikes),
                vmem: matrix(vmem),
            });
        }
    }
    let dt = network
        .simulation_parameters()
        .leaves()
        .into_iter()
        .find(|(p, _)| p.last() == Some("dt"))
        .and_then(|(_, t)| t.item())
        .unwrap_or(1e-3);
    Ok(Sample {
        dt,
        index,
        layers,
        output: Some(matrix(session.predictions())),
        target: Some(matrix(target.to_vec())),
    })
}
