//! AVX2 blend kernels, 32 pixels per step, bit-exact with `scalar`.
//!
//! Lane order: `unpack{lo,hi}_epi8` and `packus_epi16` both work within 128-bit lanes, so
//! unpacking then packing restores the original byte order.

use std::arch::x86_64::*;

/// Widens the 32 bytes of `v` to two vectors of u16 (in-lane low and high halves).
#[target_feature(enable = "avx2")]
#[inline]
fn widen(v: __m256i) -> (__m256i, __m256i) {
    let z = _mm256_setzero_si256();
    (_mm256_unpacklo_epi8(v, z), _mm256_unpackhi_epi8(v, z))
}

/// `round(x / 255)` per u16 lane, for x <= 65152: `mulhi(x + 128, 257)`.
#[target_feature(enable = "avx2")]
#[inline]
fn div255(x: __m256i) -> __m256i {
    _mm256_mulhi_epu16(
        _mm256_add_epi16(x, _mm256_set1_epi16(128)),
        _mm256_set1_epi16(257),
    )
}

pub(super) fn premul(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    unsafe { premul_avx2(dst, src, alpha) }
}

pub(super) fn straight(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    unsafe { straight_avx2(dst, src, alpha) }
}

pub(super) fn constant(dst: &mut [u8], src: &[u8], a: u8) {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    unsafe { constant_avx2(dst, src, a) }
}

/// The row driver every kernel shares: `$body` maps the 32-byte vectors `$d`, `$s`, `$a` of
/// dst, src and alpha to the new dst. Whole steps of 32; then a row of at least 32 ends with
/// one step over its last 32 bytes, whose inputs were loaded before the main loop wrote any
/// of them (each output byte is a pure function of its own three input bytes, so the
/// overlapping bytes get the same values again); a shorter row goes through a stack buffer.
/// No scalar tail: rows of seats are rarely a multiple of 32 (51-byte chroma rows are common).
macro_rules! blend_rows {
    ($dst:ident, $src:ident, $alpha:ident, |$d:ident, $s:ident, $a:ident| $body:block) => {{
        let n = $dst.len().min($src.len()).min($alpha.len());
        let full = n - n % 32;
        let load = |p: &[u8], i: usize| {
            // SAFETY: callers pass i + 32 <= n <= p.len(); unaligned load.
            unsafe { _mm256_loadu_si256(p.as_ptr().add(i).cast()) }
        };
        if n < 32 {
            let (mut d, mut s, mut a) = ([0u8; 32], [0u8; 32], [0u8; 32]);
            d[..n].copy_from_slice(&$dst[..n]);
            s[..n].copy_from_slice(&$src[..n]);
            a[..n].copy_from_slice(&$alpha[..n]);
            let ($d, $s, $a) = (load(&d, 0), load(&s, 0), load(&a, 0));
            let r = $body;
            // SAFETY: d is 32 bytes; unaligned store.
            unsafe { _mm256_storeu_si256(d.as_mut_ptr().cast(), r) };
            $dst[..n].copy_from_slice(&d[..n]);
        } else {
            let last = n - 32;
            let tail = (full < n).then(|| (load($dst, last), load($src, last), load($alpha, last)));
            let mut i = 0;
            while i < full {
                let ($d, $s, $a) = (load($dst, i), load($src, i), load($alpha, i));
                let r = $body;
                // SAFETY: i + 32 <= full <= dst.len(); unaligned store.
                unsafe { _mm256_storeu_si256($dst.as_mut_ptr().add(i).cast(), r) };
                i += 32;
            }
            if let Some(($d, $s, $a)) = tail {
                let r = $body;
                // SAFETY: last + 32 = n <= dst.len(); unaligned store.
                unsafe { _mm256_storeu_si256($dst.as_mut_ptr().add(last).cast(), r) };
            }
        }
    }};
}

#[target_feature(enable = "avx2")]
unsafe fn premul_avx2(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    let c255 = _mm256_set1_epi16(255);
    blend_rows!(dst, src, alpha, |d, s, a| {
        let (dl, dh) = widen(d);
        let (al, ah) = widen(a);
        let kl = div255(_mm256_mullo_epi16(dl, _mm256_sub_epi16(c255, al)));
        let kh = div255(_mm256_mullo_epi16(dh, _mm256_sub_epi16(c255, ah)));
        _mm256_adds_epu8(s, _mm256_packus_epi16(kl, kh))
    });
}

#[target_feature(enable = "avx2")]
unsafe fn straight_avx2(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    let c255 = _mm256_set1_epi16(255);
    blend_rows!(dst, src, alpha, |d, s, a| {
        let (dl, dh) = widen(d);
        let (sl, sh) = widen(s);
        let (al, ah) = widen(a);
        let xl = _mm256_add_epi16(
            _mm256_mullo_epi16(sl, al),
            _mm256_mullo_epi16(dl, _mm256_sub_epi16(c255, al)),
        );
        let xh = _mm256_add_epi16(
            _mm256_mullo_epi16(sh, ah),
            _mm256_mullo_epi16(dh, _mm256_sub_epi16(c255, ah)),
        );
        _mm256_packus_epi16(div255(xl), div255(xh))
    });
}

#[target_feature(enable = "avx2")]
unsafe fn constant_avx2(dst: &mut [u8], src: &[u8], a: u8) {
    let va = _mm256_set1_epi16(a as i16);
    let via = _mm256_set1_epi16(255 - a as i16);
    // The driver wants an alpha row; src stands in for it (its bytes are not used).
    blend_rows!(dst, src, src, |d, s, _a| {
        let (dl, dh) = widen(d);
        let (sl, sh) = widen(s);
        let xl = _mm256_add_epi16(_mm256_mullo_epi16(sl, va), _mm256_mullo_epi16(dl, via));
        let xh = _mm256_add_epi16(_mm256_mullo_epi16(sh, va), _mm256_mullo_epi16(dh, via));
        _mm256_packus_epi16(div255(xl), div255(xh))
    });
}
