//! What one sample did (`sample.json`): a spike raster and membrane traces
//! per LIF layer (one panel per layer, stacked), and the network output
//! against the target.

use super::chart::{
    color, compact_label, draw_error, integer_label, linear_label, padded_range, FONT_FAMILY,
};
use super::PlotError;
use crate::run_dir::{Matrix, Sample};
use plotters::prelude::*;
use std::path::Path;

/// Traces drawn per membrane panel (the first neurons of the layer).
pub const MAX_TRACES: usize = 8;

fn time_ms(sample: &Sample, step: usize) -> f64 {
    step as f64 * f64::from(sample.dt) * 1000.0
}

fn duration_ms(sample: &Sample, steps: usize) -> f64 {
    time_ms(sample, steps.max(1))
}

/// Height of a figure of `panels` stacked panels.
fn stacked_height(panels: usize) -> u32 {
    (panels as u32 * 230).max(320)
}

pub(super) fn draw_raster(path: &Path, sample: &Sample) -> Result<(), PlotError> {
    let err = draw_error(path);
    let root =
        BitMapBackend::new(path, (1000, stacked_height(sample.layers.len()))).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let panels = root.split_evenly((sample.layers.len(), 1));
    for (layer, area) in sample.layers.iter().zip(&panels) {
        let spikes = &layer.spikes;
        let total: f64 = spikes.data.iter().map(|&s| f64::from(s)).sum();
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!(
                    "{}: spikes ({} in {} neurons)",
                    layer.name,
                    total,
                    spikes.cols()
                ),
                (FONT_FAMILY, 18),
            )
            .margin(10)
            .margin_right(25)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(
                0.0..duration_ms(sample, spikes.rows()),
                -0.5..spikes.cols() as f64 - 0.5,
            )
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("Time (ms)")
            .x_label_formatter(&compact_label)
            .y_desc("Neuron")
            .y_labels(spikes.cols().min(10) + 1)
            .y_label_formatter(&integer_label)
            .disable_y_mesh()
            .label_style((FONT_FAMILY, 13))
            .draw()
            .map_err(|e| err(&e))?;
        let events = (0..spikes.rows())
            .flat_map(|t| (0..spikes.cols()).map(move |n| (t, n)))
            .filter_map(|(t, n)| {
                let count = spikes.get(t, n);
                (count > 0.0).then(|| {
                    // More spikes in one step: a bigger dot.
                    let radius = 2 + (count.min(3.0) as i32);
                    Circle::new((time_ms(sample, t), n as f64), radius, BLACK.filled())
                })
            });
        chart.draw_series(events).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

pub(super) fn draw_membrane(path: &Path, sample: &Sample) -> Result<(), PlotError> {
    let err = draw_error(path);
    let root =
        BitMapBackend::new(path, (1000, stacked_height(sample.layers.len()))).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let panels = root.split_evenly((sample.layers.len(), 1));
    for (layer, area) in sample.layers.iter().zip(&panels) {
        let vmem = &layer.vmem;
        let shown = vmem.cols().min(MAX_TRACES);
        let caption = if shown < vmem.cols() {
            format!(
                "{}: membrane potential (first {shown} of {} neurons)",
                layer.name,
                vmem.cols()
            )
        } else {
            format!("{}: membrane potential", layer.name)
        };
        let values =
            (0..vmem.rows()).flat_map(|t| (0..shown).map(move |n| f64::from(vmem.get(t, n))));
        let (lo, hi) = padded_range(values).unwrap_or((-1.0, 1.0));
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT_FAMILY, 18))
            .margin(10)
            .margin_right(25)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..duration_ms(sample, vmem.rows()), lo..hi)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("Time (ms)")
            .x_label_formatter(&compact_label)
            .y_desc("vmem")
            .y_label_formatter(&linear_label(lo, hi))
            .label_style((FONT_FAMILY, 13))
            .draw()
            .map_err(|e| err(&e))?;
        for n in 0..shown {
            let points = trace(sample, vmem, n);
            chart
                .draw_series(LineSeries::new(points, color(n).stroke_width(1)))
                .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Column `col` of `m` against time, finite values only.
fn trace(sample: &Sample, m: &Matrix, col: usize) -> Vec<(f64, f64)> {
    (0..m.rows())
        .map(|t| (time_ms(sample, t), f64::from(m.get(t, col))))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

pub(super) fn draw_output(path: &Path, sample: &Sample) -> Result<(), PlotError> {
    let err = draw_error(path);
    let Some(output) = &sample.output else {
        return Ok(());
    };
    let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let shown = output.cols().min(MAX_TRACES);
    let mut values: Vec<f64> = (0..shown)
        .flat_map(|c| trace(sample, output, c))
        .map(|p| p.1)
        .collect();
    if let Some(target) = &sample.target {
        values.extend(
            (0..shown.min(target.cols()))
                .flat_map(|c| trace(sample, target, c))
                .map(|p| p.1),
        );
    }
    let (lo, hi) = padded_range(values).unwrap_or((0.0, 1.0));
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Output (solid) and target (dashed), sample {}",
                sample.index
            ),
            (FONT_FAMILY, 20),
        )
        .margin(12)
        .margin_right(25)
        .x_label_area_size(42)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..duration_ms(sample, output.rows()), lo..hi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("Time (ms)")
        .x_label_formatter(&compact_label)
        .y_desc("Value")
        .y_label_formatter(&linear_label(lo, hi))
        .label_style((FONT_FAMILY, 13))
        .draw()
        .map_err(|e| err(&e))?;
    for c in 0..shown {
        let style = color(c).stroke_width(2);
        chart
            .draw_series(LineSeries::new(trace(sample, output, c), style))
            .map_err(|e| err(&e))?
            .label(format!("output {c}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        if let Some(target) = sample.target.as_ref().filter(|t| c < t.cols()) {
            chart
                .draw_series(DashedLineSeries::new(trace(sample, target, c), 5, 4, style))
                .map_err(|e| err(&e))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT_FAMILY, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
