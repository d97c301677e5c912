//! The bounds-cost curve of Rockpool's constrained-optimisation tutorial:
//! the cost of one parameter against its value over linspace(-1, 2), with
//! bounds (0, 1) marked. Zero inside the bounds, `exp(lower - p)` below,
//! `exp(p - upper)` above: a cost of 1 just outside a bound, growing with
//! the violation.

use super::chart::{draw_error, BOUND_RED, FONT_FAMILY, PALETTE};
use super::PlotError;
use plotters::prelude::*;
use std::path::Path;

/// Rockpool's `bounds_cost` of a single value (strict comparisons: zero
/// exactly at a bound).
pub fn bounds_cost_value(p: f32, lower: f32, upper: f32) -> f32 {
    let mut cost = 0.0;
    if p < lower {
        cost += (lower - p).exp();
    }
    if p > upper {
        cost += (p - upper).exp();
    }
    cost
}

/// `(p, cost)` at `points` values evenly spaced over `[from, to]`, like
/// numpy's `linspace`.
pub fn bounds_cost_curve(
    lower: f32,
    upper: f32,
    from: f32,
    to: f32,
    points: usize,
) -> Vec<(f32, f32)> {
    (0..points)
        .map(|i| {
            let p = if points > 1 {
                from + (to - from) * i as f32 / (points - 1) as f32
            } else {
                from
            };
            (p, bounds_cost_value(p, lower, upper))
        })
        .collect()
}

pub(super) fn draw(path: &Path) -> Result<(), PlotError> {
    let err = draw_error(path);
    let (lower, upper) = (0.0f32, 1.0f32);
    let curve = bounds_cost_curve(lower, upper, -1.0, 2.0, 1001);

    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Bounds cost of one parameter, bounds (0, 1)",
            (FONT_FAMILY, 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(-1.0f32..2.0f32, 0.0f32..3.2f32)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("Parameter value")
        .y_desc("Cost")
        .label_style((FONT_FAMILY, 15))
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(curve, PALETTE[0].stroke_width(2)))
        .map_err(|e| err(&e))?
        .label("bounds_cost")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], PALETTE[0].stroke_width(2)));
    for (i, bound) in [lower, upper].into_iter().enumerate() {
        let series = chart
            .draw_series(DashedLineSeries::new(
                vec![(bound, 0.0), (bound, 3.0)],
                6,
                4,
                BOUND_RED.stroke_width(2),
            ))
            .map_err(|e| err(&e))?;
        if i == 0 {
            series.label("bounds").legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], BOUND_RED.stroke_width(2))
            });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .label_font((FONT_FAMILY, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
