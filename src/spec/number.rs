//! Numbers from a spec in error messages, and what rounding them to f32
//! (the precision networks run in) does to them: `tau_mem = 1e300` is a
//! positive number in the file but `inf` in the network.

/// `x` in a short form: plain for ordinary magnitudes, scientific
/// otherwise (`1e300`, not 301 digits).
pub(crate) fn show(x: f64) -> String {
    let magnitude = x.abs();
    if x.is_finite() && x != 0.0 && !(1e-5..1e7).contains(&magnitude) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// `x` as shown in a message, with a note when rounding it to f32 makes it
/// infinite or zero.
pub(crate) fn show_with_f32(x: f64) -> String {
    let rounded = x as f32;
    let note = if x.is_finite() && rounded.is_infinite() {
        format!(" (beyond f32's range: {rounded} in the network)")
    } else if x != 0.0 && rounded == 0.0 {
        " (below f32's smallest value: 0 in the network)".to_string()
    } else {
        String::new()
    };
    format!("{}{note}", show(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_f32_rounding_is_explained() {
        assert_eq!(show(0.02), "0.02");
        assert_eq!(show(-3.0), "-3");
        assert_eq!(show(1e300), "1e300");
        assert_eq!(show(f64::INFINITY), "inf");
        assert_eq!(show_with_f32(0.02), "0.02");
        assert_eq!(
            show_with_f32(1e300),
            "1e300 (beyond f32's range: inf in the network)"
        );
        assert_eq!(
            show_with_f32(-1e-300),
            "-1e-300 (below f32's smallest value: 0 in the network)"
        );
    }
}
