//! AVX2 scaling kernels, bit-exact with `scalar`.
//!
//! `maddubs` with ones sums byte pairs for the box; the lerps widen to u16 (all products fit:
//! `255 * 256 + 128 < 2^16`); the horizontal pass reads a 16-byte window per group of 8
//! outputs and picks left/right samples with `pshufb` (per 128-bit lane, two groups at once).

use std::arch::x86_64::*;

use super::{scalar, Group8};

pub(super) fn box_row(r0: &[u8], r1: &[u8], out: &mut [u8]) {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    unsafe { box_row_avx2(r0, r1, out) }
}

pub(super) fn lerp_rows(a: &[u8], b: &[u8], f: u16, out: &mut [u8]) {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    unsafe { lerp_rows_avx2(a, b, f, out) }
}

/// Runs every group (two per step, an odd last one paired with itself); returns whether it
/// could (otherwise the caller runs the scalar kernel).
pub(super) fn lerp_groups(groups: &[Group8], row: &[u8], out: &mut [u8]) -> bool {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    unsafe { lerp_groups_avx2(groups, row, out) }
}

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

#[target_feature(enable = "avx2")]
unsafe fn lerp_rows_avx2(a: &[u8], b: &[u8], f: u16, out: &mut [u8]) {
    let n = out.len().min(a.len()).min(b.len());
    let wl = _mm256_set1_epi16((256 - f) as i16);
    let wr = _mm256_set1_epi16(f as i16);
    let half = _mm256_set1_epi16(128);
    let z = _mm256_setzero_si256();
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
            let lo = _mm256_add_epi16(
                _mm256_mullo_epi16(_mm256_unpacklo_epi8(va, z), wl),
                _mm256_mullo_epi16(_mm256_unpacklo_epi8(vb, z), wr),
            );
            let hi = _mm256_add_epi16(
                _mm256_mullo_epi16(_mm256_unpackhi_epi8(va, z), wl),
                _mm256_mullo_epi16(_mm256_unpackhi_epi8(vb, z), wr),
            );
            let lo = _mm256_srli_epi16(_mm256_add_epi16(lo, half), 8);
            let hi = _mm256_srli_epi16(_mm256_add_epi16(hi, half), 8);
            _mm256_storeu_si256(out.as_mut_ptr().add(x).cast(), _mm256_packus_epi16(lo, hi));
        }
        x += 32;
    }
    let x = if n >= 32 { n } else { 0 };
    scalar::lerp_rows(&a[x..n], &b[x..n], f, &mut out[x..n]);
}

#[target_feature(enable = "avx2")]
unsafe fn lerp_groups_avx2(groups: &[Group8], row: &[u8], out: &mut [u8]) -> bool {
    let fits = |g: &Group8| g.base as usize + 16 <= row.len() && g.out as usize + 8 <= out.len();
    if !groups.iter().all(fits) {
        return false;
    }
    let half = _mm256_set1_epi16(128);
    for pair in groups.chunks(2) {
        let (g0, g1) = (&pair[0], pair.get(1).unwrap_or(&pair[0]));
        let (b0, b1) = (g0.base as usize, g1.base as usize);
        // SAFETY: every group's 16-byte window lies inside `row` and its 8 output bytes
        // inside `out` (checked above); the group tables are plain arrays read unaligned.
        unsafe {
            let win = _mm256_loadu2_m128i(row.as_ptr().add(b1).cast(), row.as_ptr().add(b0).cast());
            let mlo = _mm256_loadu2_m128i(g1.lo.as_ptr().cast(), g0.lo.as_ptr().cast());
            let mhi = _mm256_loadu2_m128i(g1.hi.as_ptr().cast(), g0.hi.as_ptr().cast());
            let wl = _mm256_loadu2_m128i(g1.wl.as_ptr().cast(), g0.wl.as_ptr().cast());
            let wr = _mm256_loadu2_m128i(g1.wr.as_ptr().cast(), g0.wr.as_ptr().cast());
            let a = _mm256_shuffle_epi8(win, mlo);
            let b = _mm256_shuffle_epi8(win, mhi);
            let s = _mm256_add_epi16(_mm256_mullo_epi16(a, wl), _mm256_mullo_epi16(b, wr));
            let s = _mm256_srli_epi16(_mm256_add_epi16(s, half), 8);
            // Lane 0 holds g0's 8 results (low 8 bytes), lane 1 g1's.
            let p = _mm256_packus_epi16(s, s);
            _mm_storel_epi64(
                out.as_mut_ptr().add(g0.out as usize).cast(),
                _mm256_castsi256_si128(p),
            );
            _mm_storel_epi64(
                out.as_mut_ptr().add(g1.out as usize).cast(),
                _mm256_extracti128_si256(p, 1),
            );
        }
    }
    true
}
