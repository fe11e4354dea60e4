//! AVX2 scaling kernels, bit-exact with `scalar`.
//!
//! `pmaddubsw` does the arithmetic: with ones it sums byte pairs for the box; with the
//! interleaved weights `(64 - f, f)` it does a lerp's two products and their sum (at most
//! `255 * 64`, no saturation), and `pmulhrsw` by 512 is exactly `(s + 32) >> 6`. The
//! horizontal pass reads a 16-byte window per group of 8 outputs and gathers its
//! (left, right) pairs with one `pshufb` (per 128-bit lane, two groups at once).
//!
//! Every entry point needs a CPU with AVX2: the row kernels are `unsafe fn`s, the plane
//! passes `#[target_feature]` functions (unsafe to call from code without the feature);
//! only the dispatchers in `super` call them, after
//! [`SimdLevel`](crate::render::kernels::SimdLevel) said so.

use std::arch::x86_64::*;

use super::{scalar, GroupPair, ScalePlan, ONE};

/// [`super::box_row`] with AVX2.
///
/// # Safety
/// The CPU supports AVX2: call it only from the dispatcher in `super`, after
/// [`SimdLevel::detect`](crate::render::kernels::SimdLevel::detect) said so.
pub(super) unsafe fn box_row(r0: &[u8], r1: &[u8], out: &mut [u8]) {
    // SAFETY: AVX2 by this function's contract (the kernel's one requirement).
    unsafe { box_row_avx2(r0, r1, out) }
}

/// The vertical row kernel with AVX2 (for the tier tests; the plane pass calls
/// [`lerp_rows_avx2`] itself).
///
/// # Safety
/// As [`box_row`]: the CPU supports AVX2.
#[cfg(test)]
pub(super) unsafe fn lerp_rows(a: &[u8], b: &[u8], f: u16, out: &mut [u8]) {
    // SAFETY: AVX2 by this function's contract (the kernel's one requirement).
    unsafe { lerp_rows_avx2(a, b, f, out) }
}

/// Whether every group's 16-byte window lies inside a row buffer of `row_len` bytes and its
/// 8 outputs inside an output row of `out_len` (what [`groups_row_avx2`] requires).
fn groups_fit(groups: &[GroupPair], row_len: usize, out_len: usize) -> bool {
    groups.iter().all(|g| {
        g.base.iter().all(|&b| b as usize + 16 <= row_len)
            && g.out.iter().all(|&o| o as usize + 8 <= out_len)
    })
}

/// [`super::box_rows`] with the AVX2 row kernel. Callers check for AVX2 first (the
/// dispatcher in `super`).
#[target_feature(enable = "avx2")]
pub(super) fn box_plane<'a>(
    h: usize,
    row: impl Fn(usize) -> &'a [u8],
    fetch: bool,
    out: &mut [u8],
    nw: usize,
) {
    // SAFETY: this function runs only with AVX2 (its target feature).
    super::box_rows(h, row, fetch, out, nw, |a, b, o| unsafe {
        box_row_avx2(a, b, o)
    });
}

/// [`super::interp_rows`] with the AVX2 row kernels (the shuffle kernel for the columns
/// when the plan has groups and they fit the rows, else the scalar one). Callers check for
/// AVX2 first (the dispatcher in `super`).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
pub(super) fn interpolate<'a>(
    plan: &ScalePlan,
    h: usize,
    row: impl Fn(usize) -> &'a [u8],
    fetch: bool,
    buf: &mut [u8],
    w: usize,
    dst: &mut [u8],
    stride: usize,
) {
    let (dw, row_len) = (plan.dst.0, w + super::ROW_PAD);
    // Checked once per plane; each row then only compares its lengths.
    let groups = w >= 2 && !plan.groups.is_empty() && groups_fit(&plan.groups, row_len, dw);
    super::interp_rows(
        plan,
        h,
        row,
        fetch,
        buf,
        w,
        dst,
        stride,
        // SAFETY: this function runs only with AVX2 (its target feature).
        |a, b, f, o| unsafe { lerp_rows_avx2(a, b, f, o) },
        |r, o| {
            if groups && r.len() == row_len && o.len() == dw {
                // SAFETY: AVX2 as above; `groups_fit` holds for these lengths.
                unsafe { groups_row_avx2(&plan.groups, r, o) }
            } else {
                super::scalar_columns(plan, r, w, o)
            }
        },
    );
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn box_row_avx2(r0: &[u8], r1: &[u8], out: &mut [u8]) {
    let w = r0.len().min(r1.len());
    let n = out.len().min(w.div_ceil(2));
    let ones = _mm256_set1_epi8(1);
    let two = _mm256_set1_epi16(2);
    // Outputs whose two columns both exist; an odd row's last output is scalar.
    let full = (w / 2).min(n);
    let mut x = 0;
    // 16 outputs from 32 bytes of each row; the last step overlaps the previous one so no
    // scalar tail is needed (each output is a pure function of its inputs: same bytes).
    while x < full && full >= 16 {
        if x + 16 > full {
            x = full - 16;
        }
        // SAFETY: 2x + 32 <= w <= len of r0 and r1; x + 16 <= n <= out.len(); unaligned ops.
        unsafe {
            let a = _mm256_loadu_si256(r0.as_ptr().add(2 * x).cast());
            let b = _mm256_loadu_si256(r1.as_ptr().add(2 * x).cast());
            let s = _mm256_add_epi16(_mm256_maddubs_epi16(a, ones), _mm256_maddubs_epi16(b, ones));
            let s = _mm256_srli_epi16(_mm256_add_epi16(s, two), 2);
            let p = _mm256_permute4x64_epi64(_mm256_packus_epi16(s, s), 0b1000);
            _mm_storeu_si128(out.as_mut_ptr().add(x).cast(), _mm256_castsi256_si128(p));
        }
        x += 16;
    }
    let x = if full >= 16 { full } else { 0 };
    scalar::box_row(&r0[2 * x..w], &r1[2 * x..w], &mut out[x..n]);
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn lerp_rows_avx2(a: &[u8], b: &[u8], f: u16, out: &mut [u8]) {
    let n = out.len().min(a.len()).min(b.len());
    // Byte pairs (a, b) meet weights (ONE - f, f): both at most 64, so they fit i8.
    let w = _mm256_set1_epi16(((f as i16) << 8) | (ONE - f) as i16);
    let round = _mm256_set1_epi16(512);
    let mut x = 0;
    // The last step overlaps the previous one (pure per-byte function: same results).
    while x < n && n >= 32 {
        if x + 32 > n {
            x = n - 32;
        }
        // SAFETY: x + 32 <= n <= the length of each slice; unaligned loads and stores.
        unsafe {
            let va = _mm256_loadu_si256(a.as_ptr().add(x).cast());
            let vb = _mm256_loadu_si256(b.as_ptr().add(x).cast());
            let lo = _mm256_maddubs_epi16(_mm256_unpacklo_epi8(va, vb), w);
            let hi = _mm256_maddubs_epi16(_mm256_unpackhi_epi8(va, vb), w);
            let lo = _mm256_mulhrs_epi16(lo, round);
            let hi = _mm256_mulhrs_epi16(hi, round);
            _mm256_storeu_si256(out.as_mut_ptr().add(x).cast(), _mm256_packus_epi16(lo, hi));
        }
        x += 32;
    }
    let x = if n >= 32 { n } else { 0 };
    scalar::lerp_rows(&a[x..n], &b[x..n], f, &mut out[x..n]);
}

/// One row of the horizontal pass: every group (two per step, an odd last one paired with
/// itself).
///
/// # Safety
/// AVX2 is available and [`groups_fit`] holds for `row.len()` and `out.len()`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn groups_row_avx2(groups: &[GroupPair], row: &[u8], out: &mut [u8]) {
    let round = _mm256_set1_epi16(512);
    for g in groups {
        let (b0, b1) = (g.base[0] as usize, g.base[1] as usize);
        // SAFETY: both 16-byte windows lie inside `row` and both 8-byte outputs inside
        // `out` (the caller's `groups_fit`); the tables are 32-byte aligned arrays of 32
        // bytes.
        unsafe {
            let win = _mm256_loadu2_m128i(row.as_ptr().add(b1).cast(), row.as_ptr().add(b0).cast());
            let pairs = _mm256_shuffle_epi8(win, _mm256_load_si256(g.mask.as_ptr().cast()));
            let s = _mm256_maddubs_epi16(pairs, _mm256_load_si256(g.w.as_ptr().cast()));
            let s = _mm256_mulhrs_epi16(s, round);
            // Lane 0 holds group 0's 8 results (low 8 bytes), lane 1 group 1's.
            let p = _mm256_packus_epi16(s, s);
            _mm_storel_epi64(
                out.as_mut_ptr().add(g.out[0] as usize).cast(),
                _mm256_castsi256_si128(p),
            );
            _mm_storel_epi64(
                out.as_mut_ptr().add(g.out[1] as usize).cast(),
                _mm256_extracti128_si256(p, 1),
            );
        }
    }
}
