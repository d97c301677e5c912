//! PNG figures of a training run, drawn with `plotters` from the files of a
//! run folder (see [`crate::run_dir`]):
//!
//! | figure | made from |
//! | --- | --- |
//! | `plots/loss.png`: total and task loss, bounds penalty per epoch | `history.csv` |
//! | `plots/bounds_cost.png`: the tutorial's cost curve, bounds (0, 1) | nothing (a formula) |
//! | `plots/raster.png`: spike raster of one sample, per LIF layer | `sample.json` |
//! | `plots/membrane.png`: membrane traces of one sample, per LIF layer | `sample.json` |
//! | `plots/output.png`: network output against the target | `sample.json` (if it has them) |
//! | `plots/params_bounds.png`: bounded parameters before and after training | `bounds.json`, `initial.safetensors`, `final.safetensors` |
//!
//! A figure whose input file is absent is skipped (with a note saying
//! why); a malformed input file is an error. Text is drawn with a bundled
//! copy of DejaVu Sans, so no system fonts are needed.

mod activity;
mod bounds_cost;
mod chart;
mod loss;
mod params;

pub use bounds_cost::{bounds_cost_curve, bounds_cost_value};

use crate::run_dir::{RunDir, RunDirError};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PlotError {
    #[error(transparent)]
    Run(#[from] RunDirError),
    #[error("{file}: cannot draw the figure: {message}")]
    Draw { file: String, message: String },
    #[error("the bundled font could not be loaded")]
    Font,
}

/// What [`plot_run_detailed`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlotReport {
    /// The PNG files written.
    pub written: Vec<PathBuf>,
    /// Figures not drawn, each with the reason (a missing input file).
    pub skipped: Vec<String>,
}

/// Draws every figure a run folder has the data for into `RUN_DIR/plots/`
/// and returns the files written.
pub fn plot_run(run_dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    Ok(plot_run_detailed(run_dir)?.written)
}

/// Like [`plot_run`], also saying which figures were skipped and why.
/// (The folder needs only to exist: a run interrupted early still gets
/// the figures its files allow.)
pub fn plot_run_detailed(run_dir: &Path) -> Result<PlotReport, PlotError> {
    chart::ensure_font()?;
    if !run_dir.is_dir() {
        return Err(PlotError::Run(RunDirError::Io {
            path: run_dir.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such run folder"),
        }));
    }
    // Plotting needs no spec.toml: any folder with some of the files will do.
    let run = RunDir::unchecked(run_dir);
    let plots = run.plots_dir();
    std::fs::create_dir_all(&plots).map_err(|source| RunDirError::Io {
        path: plots.display().to_string(),
        source,
    })?;
    let mut report = PlotReport::default();

    // The tutorial's cost curve needs no data.
    let path = plots.join("bounds_cost.png");
    bounds_cost::draw(&path)?;
    report.written.push(path);

    if run.history_path().is_file() {
        let history = run.read_history()?;
        if history.is_empty() {
            report
                .skipped
                .push("loss.png: history.csv has no rows yet".into());
        } else {
            let path = plots.join("loss.png");
            loss::draw(&path, &history)?;
            report.written.push(path);
        }
    } else {
        report.skipped.push("loss.png: no history.csv".into());
    }

    if run.sample_path().is_file() {
        let sample = run.read_sample()?;
        if sample.layers.is_empty() {
            report
                .skipped
                .push("raster.png, membrane.png: sample.json has no LIF layers".into());
        } else {
            let path = plots.join("raster.png");
            activity::draw_raster(&path, &sample)?;
            report.written.push(path);
            let path = plots.join("membrane.png");
            activity::draw_membrane(&path, &sample)?;
            report.written.push(path);
        }
        if sample.output.is_some() {
            let path = plots.join("output.png");
            activity::draw_output(&path, &sample)?;
            report.written.push(path);
        } else {
            report
                .skipped
                .push("output.png: sample.json has no output".into());
        }
    } else {
        report
            .skipped
            .push("raster.png, membrane.png, output.png: no sample.json".into());
    }

    match params::draw_if_possible(&plots.join("params_bounds.png"), &run)? {
        Ok(path) => report.written.push(path),
        Err(reason) => report.skipped.push(format!("params_bounds.png: {reason}")),
    }
    Ok(report)
}
