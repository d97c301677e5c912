//! Transposes (and transposes added into a destination), in 8 x 8 blocks
//! through AVX2 registers with the ragged edges element by element; element
//! by element on other architectures.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Writes (or, with `accumulate`, adds) the `cols x rows` transpose of the
/// row-major `rows x cols` matrix `src` into `dst`.
///
/// # Safety
/// `src` holds `rows * cols` floats and `dst` as many, not overlapping; on
/// x86-64 the host has AVX2 (any host `host_isa` accepts).
pub(super) unsafe fn transpose(
    src: *const f32,
    rows: usize,
    cols: usize,
    dst: *mut f32,
    accumulate: bool,
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: forwarded from the caller.
    unsafe {
        transpose_avx2(src, rows, cols, dst, accumulate)
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: forwarded from the caller.
    unsafe {
        transpose_block(src, cols, dst, rows, (rows, cols), accumulate)
    }
}

/// Blocks of 8 x 8 through registers; the ragged edges element by element.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn transpose_avx2(
    src: *const f32,
    rows: usize,
    cols: usize,
    dst: *mut f32,
    accumulate: bool,
) {
    let (full_rows, full_cols) = (rows / 8 * 8, cols / 8 * 8);
    // SAFETY: blocks stay within `rows x cols` of `src` and the transposed
    // extent of `dst`.
    unsafe {
        for r in (0..full_rows).step_by(8) {
            for c in (0..full_cols).step_by(8) {
                transpose_8x8(
                    src.add(r * cols + c),
                    cols,
                    dst.add(c * rows + r),
                    rows,
                    accumulate,
                );
            }
            let edge = (8, cols - full_cols);
            let (s, d) = (src.add(r * cols + full_cols), dst.add(full_cols * rows + r));
            transpose_block(s, cols, d, rows, edge, accumulate);
        }
        let edge = (rows - full_rows, cols);
        let (s, d) = (src.add(full_rows * cols), dst.add(full_rows));
        transpose_block(s, cols, d, rows, edge, accumulate);
    }
}

/// One 8 x 8 block: `dst[c * dst_stride + r] (+)= src[r * src_stride + c]`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_8x8(
    src: *const f32,
    src_stride: usize,
    dst: *mut f32,
    dst_stride: usize,
    accumulate: bool,
) {
    // SAFETY: the caller guarantees 8 rows of 8 floats at both ends.
    unsafe {
        let row = |r: usize| _mm256_loadu_ps(src.add(r * src_stride));
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        let (r4, r5, r6, r7) = (row(4), row(5), row(6), row(7));
        // Interleave pairs of rows, then pairs of pairs, then halves.
        let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
        let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
        let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
        let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
        let (u0, u1) = (
            _mm256_shuffle_ps::<0x44>(t0, t2),
            _mm256_shuffle_ps::<0xEE>(t0, t2),
        );
        let (u2, u3) = (
            _mm256_shuffle_ps::<0x44>(t1, t3),
            _mm256_shuffle_ps::<0xEE>(t1, t3),
        );
        let (u4, u5) = (
            _mm256_shuffle_ps::<0x44>(t4, t6),
            _mm256_shuffle_ps::<0xEE>(t4, t6),
        );
        let (u6, u7) = (
            _mm256_shuffle_ps::<0x44>(t5, t7),
            _mm256_shuffle_ps::<0xEE>(t5, t7),
        );
        let columns = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (c, column) in columns.into_iter().enumerate() {
            let p = dst.add(c * dst_stride);
            let value = if accumulate {
                _mm256_add_ps(_mm256_loadu_ps(p), column)
            } else {
                column
            };
            _mm256_storeu_ps(p, value);
        }
    }
}

/// `dst[c * dst_stride + r] (+)= src[r * src_stride + c]` for `r, c` in
/// `0..rows x 0..cols`, element by element.
pub(super) unsafe fn transpose_block(
    src: *const f32,
    src_stride: usize,
    dst: *mut f32,
    dst_stride: usize,
    (rows, cols): (usize, usize),
    accumulate: bool,
) {
    // SAFETY: the caller guarantees the extents.
    unsafe {
        for r in 0..rows {
            for c in 0..cols {
                let x = *src.add(r * src_stride + c);
                let p = dst.add(c * dst_stride + r);
                *p = if accumulate { *p + x } else { x };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guard values after the destination's end catch writes past it.
    const GUARD: usize = 17;
    const GUARD_VALUE: f32 = 12345.0;

    #[test]
    fn transpose_writes_and_adds_the_transpose() {
        if super::super::blocked::host_isa().is_none() {
            // `transpose` needs AVX2 on x86-64; its callers check first.
            eprintln!("no AVX2+FMA on this host: the transposes are not checked");
            return;
        }
        for (rows, cols) in [(1, 1), (3, 9), (8, 8), (16, 24), (17, 9), (9, 17), (40, 3)] {
            // Distinct values, so a misplaced element cannot go unnoticed.
            let src: Vec<f32> = (0..rows * cols).map(|i| 0.5 * i as f32 - 7.25).collect();
            for accumulate in [false, true] {
                let start: Vec<f32> = (0..rows * cols).map(|j| j as f32).collect();
                let mut dst = start.clone();
                dst.extend([GUARD_VALUE; GUARD]);
                unsafe { transpose(src.as_ptr(), rows, cols, dst.as_mut_ptr(), accumulate) };
                assert!(dst[rows * cols..].iter().all(|&x| x == GUARD_VALUE));
                for r in 0..rows {
                    for c in 0..cols {
                        let x = src[r * cols + c];
                        let want = if accumulate {
                            start[c * rows + r] + x
                        } else {
                            x
                        };
                        assert_eq!(
                            dst[c * rows + r],
                            want,
                            "{rows}x{cols} acc={accumulate} ({r}, {c})"
                        );
                    }
                }
            }
        }
    }
}
