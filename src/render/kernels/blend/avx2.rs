//! AVX2 blend kernels, 32 pixels per step, bit-exact with `scalar`.
//!
//! Lane order: `unpack{lo,hi}_epi8` and `packus_epi16` both work within 128-bit lanes, so
//! unpacking then packing restores the original byte order.

use std::arch::x86_64::*;

use super::scalar;

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

#[target_feature(enable = "avx2")]
unsafe fn premul_avx2(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    let n = dst.len().min(src.len()).min(alpha.len());
    let full = n - n % 32;
    let c255 = _mm256_set1_epi16(255);
    let mut i = 0;
    while i < full {
        // SAFETY: i + 32 <= full <= the length of each slice; loads and stores are unaligned.
        unsafe {
            let d = _mm256_loadu_si256(dst.as_ptr().add(i).cast());
            let s = _mm256_loadu_si256(src.as_ptr().add(i).cast());
            let a = _mm256_loadu_si256(alpha.as_ptr().add(i).cast());
            let (dl, dh) = widen(d);
            let (al, ah) = widen(a);
            let kl = div255(_mm256_mullo_epi16(dl, _mm256_sub_epi16(c255, al)));
            let kh = div255(_mm256_mullo_epi16(dh, _mm256_sub_epi16(c255, ah)));
            let keep = _mm256_packus_epi16(kl, kh);
            _mm256_storeu_si256(dst.as_mut_ptr().add(i).cast(), _mm256_adds_epu8(s, keep));
        }
        i += 32;
    }
    scalar::premul(&mut dst[full..n], &src[full..n], &alpha[full..n]);
}

#[target_feature(enable = "avx2")]
unsafe fn straight_avx2(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    let n = dst.len().min(src.len()).min(alpha.len());
    let full = n - n % 32;
    let c255 = _mm256_set1_epi16(255);
    let mut i = 0;
    while i < full {
        // SAFETY: i + 32 <= full <= the length of each slice; loads and stores are unaligned.
        unsafe {
            let d = _mm256_loadu_si256(dst.as_ptr().add(i).cast());
            let s = _mm256_loadu_si256(src.as_ptr().add(i).cast());
            let a = _mm256_loadu_si256(alpha.as_ptr().add(i).cast());
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
            let r = _mm256_packus_epi16(div255(xl), div255(xh));
            _mm256_storeu_si256(dst.as_mut_ptr().add(i).cast(), r);
        }
        i += 32;
    }
    scalar::straight(&mut dst[full..n], &src[full..n], &alpha[full..n]);
}

#[target_feature(enable = "avx2")]
unsafe fn constant_avx2(dst: &mut [u8], src: &[u8], a: u8) {
    let n = dst.len().min(src.len());
    let full = n - n % 32;
    let va = _mm256_set1_epi16(a as i16);
    let via = _mm256_set1_epi16(255 - a as i16);
    let mut i = 0;
    while i < full {
        // SAFETY: i + 32 <= full <= the length of each slice; loads and stores are unaligned.
        unsafe {
            let d = _mm256_loadu_si256(dst.as_ptr().add(i).cast());
            let s = _mm256_loadu_si256(src.as_ptr().add(i).cast());
            let (dl, dh) = widen(d);
            let (sl, sh) = widen(s);
            let xl = _mm256_add_epi16(_mm256_mullo_epi16(sl, va), _mm256_mullo_epi16(dl, via));
            let xh = _mm256_add_epi16(_mm256_mullo_epi16(sh, va), _mm256_mullo_epi16(dh, via));
            _mm256_storeu_si256(
                dst.as_mut_ptr().add(i).cast(),
                _mm256_packus_epi16(div255(xl), div255(xh)),
            );
        }
        i += 32;
    }
    scalar::constant(&mut dst[full..n], &src[full..n], a);
}
