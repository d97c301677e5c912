//! Parameter values against their bounds, before and after training: one
//! panel per parameter that has a finite bound, element index on x, the
//! initial values (hollow), the final values (filled) and the bounds (red
//! dashes). Made from `bounds.json`, `initial.safetensors` and
//! `final.safetensors` (or, for an unfinished run, the latest
//! `checkpoint.safetensors`).

use super::chart::{
    color, draw_error, integer_label, linear_label, padded_range, BOUND_RED, FONT_FAMILY,
};
use super::PlotError;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::run_dir::{CheckpointKind, RunDir, RunDirError};
use crate::spec::{BoundValue, ParamBounds};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// At most this many panels (bounded parameters) per figure.
pub const MAX_PANELS: usize = 12;

/// Draws the figure if the run has the files for it; `Ok(Err(reason))`
/// when it does not.
pub(super) fn draw_if_possible(
    path: &Path,
    run: &RunDir,
) -> Result<Result<PathBuf, String>, PlotError> {
    if !run.bounds_path().is_file() {
        return Ok(Err("no bounds.json".into()));
    }
    if !run.checkpoint_path(CheckpointKind::Initial).is_file() {
        return Ok(Err("no initial.safetensors".into()));
    }
    let (after_kind, after_label) = if run.checkpoint_path(CheckpointKind::Final).is_file() {
        (CheckpointKind::Final, "final")
    } else if run.checkpoint_path(CheckpointKind::Latest).is_file() {
        (CheckpointKind::Latest, "latest")
    } else {
        return Ok(Err("no final.safetensors or checkpoint.safetensors".into()));
    };
    let bounds = run.read_bounds()?;
    let bounded: Vec<&ParamBounds> = bounds
        .iter()
        .filter(|b| b.lower.is_active() || b.upper.is_active())
        .collect();
    if bounded.is_empty() {
        return Ok(Err("no parameter has a finite bound".into()));
    }
    let initial = run.load_checkpoint(CheckpointKind::Initial)?;
    let after = run.load_checkpoint(after_kind)?;
    draw(path, &bounded, &initial, &after, after_label, bounds.len())?;
    Ok(Ok(path.to_path_buf()))
}

/// The values of parameter `path` in `checkpoint`, checked against the
/// element count of its bounds.
fn values(
    checkpoint: &Checkpoint,
    file: &str,
    bounds: &ParamBounds,
) -> Result<Vec<f32>, PlotError> {
    let count: usize = bounds.shape.iter().product();
    match checkpoint.param(&bounds.path) {
        Some(t) if t.data.len() == count => Ok(t.data.clone()),
        Some(t) => Err(mismatch(
            file,
            &bounds.path,
            format!(
                "has {} values, bounds.json says shape {:?}",
                t.data.len(),
                bounds.shape
            ),
        )),
        None => Err(mismatch(
            file,
            &bounds.path,
            "is missing (it is in bounds.json)".into(),
        )),
    }
}

fn mismatch(file: &str, path: &str, problem: String) -> PlotError {
    PlotError::Run(RunDirError::Checkpoint(CheckpointError::Mismatch {
        file: file.to_string(),
        path: path.to_string(),
        problem,
    }))
}

fn draw(
    path: &Path,
    bounded: &[&ParamBounds],
    initial: &Checkpoint,
    after: &Checkpoint,
    after_label: &str,
    total_params: usize,
) -> Result<(), PlotError> {
    let err = draw_error(path);
    let shown = &bounded[..bounded.len().min(MAX_PANELS)];
    let cols = if shown.len() == 1 { 1 } else { 2 };
    let rows = shown.len().div_ceil(cols);
    let root = BitMapBackend::new(path, (1200, 60 + 280 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let title = format!(
        "Parameters against their bounds: initial (hollow) and {after_label} (filled); {} of {total_params} parameters are bounded{}",
        bounded.len(),
        if shown.len() < bounded.len() { format!(", first {} shown", shown.len()) } else { String::new() }
    );
    let root = root
        .titled(&title, (FONT_FAMILY, 18))
        .map_err(|e| err(&e))?;
    let panels = root.split_evenly((rows, cols));
    for (bounds, area) in shown.iter().zip(&panels) {
        let before = values(initial, "initial.safetensors", bounds)?;
        let now = values(after, &format!("{after_label} checkpoint"), bounds)?;
        let count = before.len();
        let lower = bounds.lower.to_elements(count);
        let upper = bounds.upper.to_elements(count);
        let ys = before
            .iter()
            .chain(&now)
            .chain(&lower)
            .chain(&upper)
            .map(|&v| f64::from(v));
        let (lo, hi) = padded_range(ys).unwrap_or((0.0, 1.0));
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{} {:?}", bounds.path, bounds.shape),
                (FONT_FAMILY, 16),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..count as f64 - 0.5, lo..hi)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("Element")
            .x_labels(count.min(10) + 1)
            .x_label_formatter(&integer_label)
            .y_label_formatter(&linear_label(lo, hi))
            .label_style((FONT_FAMILY, 12))
            .draw()
            .map_err(|e| err(&e))?;
        draw_bound(path, &mut chart, &bounds.lower, &lower, count)?;
        draw_bound(path, &mut chart, &bounds.upper, &upper, count)?;
        let hollow = color(7).stroke_width(2);
        chart
            .draw_series(
                before
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| Circle::new((i as f64, f64::from(v)), 5, hollow)),
            )
            .map_err(|e| err(&e))?
            .label("initial")
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, hollow));
        let filled = color(0).filled();
        chart
            .draw_series(
                now.iter()
                    .enumerate()
                    .map(|(i, &v)| Circle::new((i as f64, f64::from(v)), 3, filled)),
            )
            .map_err(|e| err(&e))?
            .label(after_label.to_string())
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, filled));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT_FAMILY, 12))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A scalar bound as a dashed line across the panel; per-element bounds
/// as a short dash at each element. Infinite bounds are not drawn.
fn draw_bound(
    path: &Path,
    chart: &mut Chart,
    bound: &BoundValue,
    elements: &[f32],
    count: usize,
) -> Result<(), PlotError> {
    let err = draw_error(path);
    let style = BOUND_RED.stroke_width(2);
    match bound {
        BoundValue::Scalar(x) if x.is_finite() => {
            let y = f64::from(*x);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(-0.5, y), (count as f64 - 0.5, y)],
                    8,
                    5,
                    style,
                ))
                .map_err(|e| err(&e))?;
        }
        BoundValue::Scalar(_) => {}
        BoundValue::PerElement(_) => {
            let dashes = elements
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, &v)| {
                    let (x, y) = (i as f64, f64::from(v));
                    PathElement::new(vec![(x - 0.35, y), (x + 0.35, y)], style)
                });
            chart.draw_series(dashes).map_err(|e| err(&e))?;
        }
    }
    Ok(())
}
