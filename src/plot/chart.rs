//! Shared drawing helpers: the bundled font, colours, axis ranges, and
//! turning plotters' errors into [`PlotError`].

use super::PlotError;
use plotters::style::{register_font, FontStyle, RGBColor};
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans (see `fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// The font family every figure uses.
pub const FONT_FAMILY: &str = "sans-serif";

/// Registers the bundled font under [`FONT_FAMILY`] (once per process).
pub fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| register_font(FONT_FAMILY, FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// A drawing error for the figure at `path`.
pub fn draw_error(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> PlotError + '_ {
    move |e| PlotError::Draw {
        file: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Colours for successive series (matplotlib's "tab10").
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Bound markers.
pub const BOUND_RED: RGBColor = RGBColor(214, 39, 40);

/// Values beyond this magnitude are drawn at it: an axis whose span
/// overflows to infinity would stall the tick computation.
const AXIS_LIMIT: f64 = f64::MAX / 4.0;

/// The finite range of `values` widened by 5% on each side (and to a
/// non-empty interval); `None` if no value is finite.
pub fn padded_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .map(|v| v.clamp(-AXIS_LIMIT, AXIS_LIMIT))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if lo > hi {
        return None;
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.05
    } else {
        (lo.abs() * 0.1).max(0.5)
    };
    Some((lo - pad, hi + pad))
}

/// The range for a log axis over the positive finite `values`: a decade
/// boundary below and above; `None` if some value is not positive (then a
/// linear axis is used).
pub fn log_range(values: &[f64]) -> Option<(f64, f64)> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() || finite.iter().any(|&v| v <= 0.0) {
        return None;
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = 10f64.powf(lo.log10().floor());
    let mut hi = 10f64.powf(hi.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    Some((lo, hi))
}

/// Axis label for integer-valued axes (epochs, neuron and element
/// indices): the integer, or nothing between integers.
pub fn integer_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        String::new()
    }
}

/// Labels for a linear axis spanning `lo..hi`: [`compact_label`], with
/// values within rounding error of 0 shown as `0` (tick positions such as
/// `2.6e-17` come from float arithmetic).
pub fn linear_label(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let tiny = (hi - lo).abs() * 1e-9;
    move |x: &f64| {
        if x.abs() <= tiny {
            "0".to_string()
        } else {
            compact_label(x)
        }
    }
}

/// Axis label with no more decimals than needed (`10`, `0.5`, `0.05`;
/// `1e-5` for tiny and huge magnitudes).
pub fn compact_label(x: &f64) -> String {
    if *x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e5) {
        return format!("{x:e}");
    }
    let text = format!("{x:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}
