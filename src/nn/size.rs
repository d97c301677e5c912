//! The largest weight matrix a layer may have. Layer sizes come from user
//! files: a matrix whose element count overflows, or exceeds what one
//! session buffer may hold, is refused with an error instead of a wrapped
//! size or an aborted allocation.

use neurojit_runtime::{fits_in_buffer, MAX_BUFFER_ELEMENTS};

/// Why a `rows x cols` matrix cannot be built, if it cannot.
pub fn check_matrix(rows: usize, cols: usize) -> Result<(), String> {
    if fits_in_buffer(&[rows, cols]) {
        Ok(())
    } else {
        Err(format!(
            "{rows} x {cols} floats: expected at most {MAX_BUFFER_ELEMENTS} (1 GiB)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_and_oversized_matrices_are_refused() {
        assert!(check_matrix(16, 32).is_ok());
        assert!(check_matrix(1 << 14, 1 << 14).is_ok());
        assert!(check_matrix(1 << 14, (1 << 14) + 1).is_err());
        let overflow = check_matrix(1 << 32, 1 << 32).unwrap_err();
        assert!(overflow.contains("4294967296 x 4294967296"), "{overflow}");
    }
}
