//! Loss curves from `history.csv`: total and task loss (left), bounds
//! penalty (right), against the epoch. An axis is logarithmic when all its
//! values are positive; a penalty that reaches 0 (every bound satisfied)
//! keeps a linear axis so that the 0 shows.

use super::chart::{
    color, compact_label, draw_error, integer_label, linear_label, log_range, padded_range,
    FONT_FAMILY,
};
use super::PlotError;
use crate::run_dir::HistoryRow;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// One curve: label, colour index and `(epoch, value)` points (finite only).
struct Curve {
    label: &'static str,
    color: usize,
    points: Vec<(f64, f64)>,
}

pub(super) fn draw(path: &Path, history: &[HistoryRow]) -> Result<(), PlotError> {
    let err = draw_error(path);
    let root = BitMapBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(600);

    let series = |label, color, f: fn(&HistoryRow) -> f64| Curve {
        label,
        color,
        points: history
            .iter()
            .map(|r| (r.epoch as f64, f(r)))
            .filter(|(_, v)| v.is_finite())
            .collect(),
    };
    let losses = vec![
        series("total loss", 0, |r| r.loss),
        series("task loss", 1, |r| r.task_loss),
    ];
    let penalty = vec![series("bounds penalty", 3, |r| r.penalty)];
    panel(path, &left, "Loss", "loss", &losses)?;
    panel(path, &right, "Bounds penalty", "bounds_cost", &penalty)?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Draws `curves` in `area`, on a log y axis when possible.
fn panel(
    path: &Path,
    area: &Area,
    title: &str,
    y_desc: &str,
    curves: &[Curve],
) -> Result<(), PlotError> {
    let xs = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0));
    let (x_lo, x_hi) = padded_range(xs).unwrap_or((0.0, 1.0));
    let ys: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .collect();
    match log_range(&ys) {
        Some((lo, hi)) => {
            let text = PanelText {
                title,
                y_desc,
                y_label: &compact_label,
            };
            draw_panel(path, area, &text, curves, x_lo..x_hi, (lo..hi).log_scale())
        }
        None => {
            let (lo, hi) = padded_range(ys.iter().copied()).unwrap_or((0.0, 1.0));
            let label = linear_label(lo, hi);
            let text = PanelText {
                title,
                y_desc,
                y_label: &label,
            };
            draw_panel(path, area, &text, curves, x_lo..x_hi, lo..hi)
        }
    }
}

/// The words of a panel: title, y axis name, y tick labels.
struct PanelText<'a> {
    title: &'a str,
    y_desc: &'a str,
    y_label: &'a dyn Fn(&f64) -> String,
}

fn draw_panel<Y>(
    path: &Path,
    area: &Area,
    text: &PanelText,
    curves: &[Curve],
    x_range: std::ops::Range<f64>,
    y_range: Y,
) -> Result<(), PlotError>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let err = draw_error(path);
    let mut chart = ChartBuilder::on(area)
        .caption(text.title, (FONT_FAMILY, 22))
        .margin(15)
        .margin_right(25)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, y_range)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("Epoch")
        .x_label_formatter(&integer_label)
        .y_label_formatter(text.y_label)
        .y_desc(text.y_desc)
        .label_style((FONT_FAMILY, 14))
        .draw()
        .map_err(|e| err(&e))?;
    for curve in curves {
        let style = color(curve.color).stroke_width(2);
        chart
            .draw_series(LineSeries::new(curve.points.iter().copied(), style))
            .map_err(|e| err(&e))?
            .label(curve.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT_FAMILY, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    Ok(())
}
