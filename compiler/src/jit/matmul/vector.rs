//! One SIMD register of floats as the kernels see it (`Vector`), for
//! AVX-512 (`Zmm`) and AVX2 (`Ymm`), with masked partial vectors that
//! never touch memory past a buffer's page.

use std::arch::x86_64::*;

/// One SIMD register of floats and the operations the kernels need.
pub(super) trait Vector: Copy {
    const LANES: usize;
    type Mask: Copy;
    /// The mask selecting the first `count` lanes (`1..=LANES`).
    unsafe fn first_lanes(count: usize) -> Self::Mask;
    unsafe fn zero() -> Self;
    unsafe fn splat(x: f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    /// Loads the masked lanes (others zero), touching no other memory.
    unsafe fn load_first(p: *const f32, mask: Self::Mask) -> Self;
    unsafe fn store(self, p: *mut f32);
    unsafe fn store_first(self, p: *mut f32, mask: Self::Mask);
    /// `self * b + c`, rounded once.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    /// Bit `l` set when lane `l` is not zero (NaN counts as nonzero).
    unsafe fn nonzero_bits(self) -> u32;

    /// Loads the first `tail.count` lanes (others zero). A masked access
    /// whose masked-off lanes reach into a page the others do not touch
    /// costs a microcode assist when that page is not accessible (measured:
    /// a 100x2 @ 2x3 product took 3.4 us instead of 0.3 us with its right
    /// operand ending a page), so such accesses go through a copy.
    #[inline(always)]
    unsafe fn load_tail(p: *const f32, tail: Tail<Self::Mask>) -> Self {
        unsafe {
            if tail_leaves_page(p, tail.count, Self::LANES) {
                let mut lanes = [0.0f32; 16];
                std::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), tail.count);
                Self::load(lanes.as_ptr())
            } else {
                Self::load_first(p, tail.mask)
            }
        }
    }

    /// Stores the first `tail.count` lanes (see [`Vector::load_tail`]).
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, tail: Tail<Self::Mask>) {
        unsafe {
            if tail_leaves_page(p, tail.count, Self::LANES) {
                let mut lanes = [0.0f32; 16];
                self.store(lanes.as_mut_ptr());
                std::ptr::copy_nonoverlapping(lanes.as_ptr(), p, tail.count);
            } else {
                self.store_first(p, tail.mask);
            }
        }
    }
}

/// The lanes of a partial vector: a mask selecting the first `count`.
#[derive(Clone, Copy)]
pub(super) struct Tail<M> {
    pub(super) mask: M,
    pub(super) count: usize,
    /// Leading rows of the right operand (from the current chunk's first)
    /// whose partial vector may be loaded whole, its lanes past the panel
    /// still inside the operand (in the rows that follow).
    pub(super) whole_rows: usize,
}

/// Whether floats `count..lanes` from `p` lie (partly) in a later page
/// than floats `0..count`.
#[inline(always)]
pub(super) fn tail_leaves_page(p: *const f32, count: usize, lanes: usize) -> bool {
    const PAGE_BITS: u32 = 12;
    let last_used = p as usize + 4 * count - 1;
    let last = p as usize + 4 * lanes - 1;
    (last_used ^ last) >> PAGE_BITS != 0
}

#[derive(Clone, Copy)]
pub(super) struct Zmm(__m512);

// The methods are inlined into the `avx512f` functions below, where the
// intrinsics are available; they are only ever called from there.
impl Vector for Zmm {
    const LANES: usize = 16;
    type Mask = __mmask16;
    #[inline(always)]
    unsafe fn first_lanes(count: usize) -> __mmask16 {
        ((1u32 << count) - 1) as __mmask16
    }
    #[inline(always)]
    unsafe fn zero() -> Zmm {
        Zmm(_mm512_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Zmm {
        Zmm(_mm512_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Zmm {
        unsafe { Zmm(_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, mask: __mmask16) -> Zmm {
        unsafe { Zmm(_mm512_maskz_loadu_ps(mask, p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, mask: __mmask16) {
        unsafe { _mm512_mask_storeu_ps(p, mask, self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Zmm, c: Zmm) -> Zmm {
        Zmm(_mm512_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Zmm) -> Zmm {
        Zmm(_mm512_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn nonzero_bits(self) -> u32 {
        _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(self.0, _mm512_setzero_ps()) as u32
    }
}

#[derive(Clone, Copy)]
pub(super) struct Ymm(__m256);

impl Vector for Ymm {
    const LANES: usize = 8;
    type Mask = __m256i;
    #[inline(always)]
    unsafe fn first_lanes(count: usize) -> __m256i {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(count as i32), lanes)
    }
    #[inline(always)]
    unsafe fn zero() -> Ymm {
        Ymm(_mm256_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Ymm {
        Ymm(_mm256_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Ymm {
        unsafe { Ymm(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, mask: __m256i) -> Ymm {
        unsafe { Ymm(_mm256_maskload_ps(p, mask)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, mask: __m256i) {
        unsafe { _mm256_maskstore_ps(p, mask, self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Ymm, c: Ymm) -> Ymm {
        Ymm(_mm256_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Ymm) -> Ymm {
        Ymm(_mm256_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn nonzero_bits(self) -> u32 {
        let nonzero = _mm256_cmp_ps::<_CMP_NEQ_UQ>(self.0, _mm256_setzero_ps());
        _mm256_movemask_ps(nonzero) as u32
    }
}
