//! AVX2 blend kernels, 32 pixels per step, bit-exact with `scalar`.
//!
//! The entry points are `unsafe fn`s whose one requirement is a CPU with AVX2; only the
//! dispatchers in `super` call them, after [`SimdLevel`](crate::render::kernels::SimdLevel)
//! said so.
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

/// Where a kernel reads the pixels below and writes its result.
#[derive(Clone, Copy)]
struct Rows {
    out: *mut u8,
    below: *const u8,
    src: *const u8,
    alpha: *const u8,
    n: usize,
}

impl Rows {
    /// In place: `dst` is both below and out.
    fn in_place(dst: &mut [u8], src: &[u8], alpha: &[u8]) -> Self {
        let n = dst.len().min(src.len()).min(alpha.len());
        let out = dst.as_mut_ptr();
        Self {
            out,
            below: out.cast_const(),
            src: src.as_ptr(),
            alpha: alpha.as_ptr(),
            n,
        }
    }

    /// `out` is written from `below` (a different buffer: the borrows guarantee it).
    fn over(out: &mut [u8], below: &[u8], src: &[u8], alpha: &[u8]) -> Self {
        let n = out.len().min(below.len()).min(src.len()).min(alpha.len());
        Self {
            out: out.as_mut_ptr(),
            below: below.as_ptr(),
            src: src.as_ptr(),
            alpha: alpha.as_ptr(),
            n,
        }
    }
}

/// [`super::premul`] with AVX2.
///
/// # Safety
/// The CPU supports AVX2: call it only from the dispatcher in `super`, after
/// [`SimdLevel::detect`](crate::render::kernels::SimdLevel::detect) said so.
pub(super) unsafe fn premul(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    // SAFETY: AVX2 by this function's contract; `Rows::in_place` keeps every pointer valid
    // for `n` bytes, and `out == below` (Rows' contract).
    unsafe { premul_avx2(Rows::in_place(dst, src, alpha)) }
}

/// [`super::straight`] with AVX2.
///
/// # Safety
/// As [`premul`]: the CPU supports AVX2.
pub(super) unsafe fn straight(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    // SAFETY: as in `premul`.
    unsafe { straight_avx2(Rows::in_place(dst, src, alpha)) }
}

/// [`super::straight_over`] with AVX2.
///
/// # Safety
/// As [`premul`]: the CPU supports AVX2.
pub(super) unsafe fn straight_over(out: &mut [u8], below: &[u8], src: &[u8], alpha: &[u8]) {
    // SAFETY: AVX2 by this function's contract; `Rows::over` keeps every pointer valid for
    // `n` bytes, and `out` (a `&mut`) cannot overlap `below`.
    unsafe { straight_avx2(Rows::over(out, below, src, alpha)) }
}

/// [`super::constant`] with AVX2.
///
/// # Safety
/// As [`premul`]: the CPU supports AVX2.
pub(super) unsafe fn constant(dst: &mut [u8], src: &[u8], a: u8) {
    // SAFETY: as in `premul` (src stands in for the unused alpha row).
    unsafe { constant_avx2(Rows::in_place(dst, src, src), a) }
}

/// [`super::constant_over`] with AVX2.
///
/// # Safety
/// As [`premul`]: the CPU supports AVX2.
pub(super) unsafe fn constant_over(out: &mut [u8], below: &[u8], src: &[u8], a: u8) {
    // SAFETY: as in `straight_over` (src stands in for the unused alpha row).
    unsafe { constant_avx2(Rows::over(out, below, src, src), a) }
}

/// The row driver every kernel shares: `$body` maps the 32-byte vectors `$d` (below), `$s`
/// and `$a` to the output. Whole steps of 32; then a row of at least 32 ends with one step
/// over its last 32 bytes, whose inputs were loaded before the main loop wrote any of them
/// (each output byte is a pure function of its own three input bytes, so bytes the two
/// steps share get the same values again); a shorter row goes through stack buffers. No
/// scalar tail: seat rows are rarely a multiple of 32 (51-byte chroma rows are common).
///
/// Contract of the `Rows` it is given: every pointer is valid for `n` bytes, and `out` is
/// either `below` itself or does not overlap `below`, `src` or `alpha`.
macro_rules! blend_rows {
    ($rows:ident, |$d:ident, $s:ident, $a:ident| $body:block) => {{
        let Rows {
            out,
            below,
            src,
            alpha,
            n,
        } = $rows;
        let full = n - n % 32;
        if n < 32 {
            let (mut d, mut s, mut a) = ([0u8; 32], [0u8; 32], [0u8; 32]);
            // SAFETY: the Rows contract: each pointer is valid for n < 32 bytes; the stack
            // buffers are distinct from them.
            unsafe {
                std::ptr::copy_nonoverlapping(below, d.as_mut_ptr(), n);
                std::ptr::copy_nonoverlapping(src, s.as_mut_ptr(), n);
                std::ptr::copy_nonoverlapping(alpha, a.as_mut_ptr(), n);
            }
            // SAFETY: the buffers are 32 bytes; unaligned loads.
            let ($d, $s, $a) = unsafe {
                (
                    _mm256_loadu_si256(d.as_ptr().cast()),
                    _mm256_loadu_si256(s.as_ptr().cast()),
                    _mm256_loadu_si256(a.as_ptr().cast()),
                )
            };
            let r = $body;
            // SAFETY: d is 32 bytes; then out is valid for n bytes and distinct from d.
            unsafe {
                _mm256_storeu_si256(d.as_mut_ptr().cast(), r);
                std::ptr::copy_nonoverlapping(d.as_ptr(), out, n);
            }
        } else {
            // The loads and stores below: i + 32 <= n and last + 32 = n, inside every row by
            // the Rows contract; unaligned. The tail is loaded before `out` is written, so in
            // place it still sees the original bytes.
            let load = |p: *const u8, i: usize| {
                // SAFETY: callers pass i + 32 <= n, and p is valid for n bytes (see above).
                unsafe { _mm256_loadu_si256(p.add(i).cast()) }
            };
            let last = n - 32;
            let tail = (full < n).then(|| (load(below, last), load(src, last), load(alpha, last)));
            let mut i = 0;
            while i < full {
                let ($d, $s, $a) = (load(below, i), load(src, i), load(alpha, i));
                let r = $body;
                // SAFETY: as above.
                unsafe { _mm256_storeu_si256(out.add(i).cast(), r) };
                i += 32;
            }
            if let Some(($d, $s, $a)) = tail {
                let r = $body;
                // SAFETY: as above.
                unsafe { _mm256_storeu_si256(out.add(last).cast(), r) };
            }
        }
    }};
}

/// # Safety
/// AVX2 is available; `rows` meets the [`Rows`] contract of `blend_rows!`.
#[target_feature(enable = "avx2")]
unsafe fn premul_avx2(rows: Rows) {
    let c255 = _mm256_set1_epi16(255);
    blend_rows!(rows, |d, s, a| {
        let (dl, dh) = widen(d);
        let (al, ah) = widen(a);
        let kl = div255(_mm256_mullo_epi16(dl, _mm256_sub_epi16(c255, al)));
        let kh = div255(_mm256_mullo_epi16(dh, _mm256_sub_epi16(c255, ah)));
        _mm256_adds_epu8(s, _mm256_packus_epi16(kl, kh))
    });
}

/// # Safety
/// As [`premul_avx2`].
#[target_feature(enable = "avx2")]
unsafe fn straight_avx2(rows: Rows) {
    let c255 = _mm256_set1_epi16(255);
    blend_rows!(rows, |d, s, a| {
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

/// # Safety
/// As [`premul_avx2`] (the alpha row is not read for its values).
#[target_feature(enable = "avx2")]
unsafe fn constant_avx2(rows: Rows, a: u8) {
    let va = _mm256_set1_epi16(a as i16);
    let via = _mm256_set1_epi16(255 - a as i16);
    blend_rows!(rows, |d, s, _a| {
        let (dl, dh) = widen(d);
        let (sl, sh) = widen(s);
        let xl = _mm256_add_epi16(_mm256_mullo_epi16(sl, va), _mm256_mullo_epi16(dl, via));
        let xh = _mm256_add_epi16(_mm256_mullo_epi16(sh, va), _mm256_mullo_epi16(dh, via));
        _mm256_packus_epi16(div255(xl), div255(xh))
    });
}
