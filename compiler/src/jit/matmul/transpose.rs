//! Transposes (and transposes added into a destination), in 8 x 8 blocks
//! through AVX2 registers with the ragged edges element by element.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

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
