//! Alpha blending of one row onto another.
//!
//! Three operations, all in 8-bit with exact rounding (`div255`):
//! - [`premul`]: `dst = src + round(dst * (255 - a) / 255)` (saturating) for premultiplied
//!   sources: scene sprites, converted once at load.
//! - [`straight`]: `dst = round((src * a + dst * (255 - a)) / 255)` for straight alpha: a
//!   seat with a per-pixel matte.
//! - [`constant`]: the same with one alpha for the whole row: a seat with a global opacity.
//!
//! Why they look the way they do: every intermediate fits in 16 bits
//! (`src*a + dst*(255-a) <= 65025`), so the AVX2 tier widens 32 pixels to two vectors of
//! 16 u16, multiplies with `mullo`, and divides with `mulhi(x + 128, 257)`, the same formula
//! as the scalar `div255`: the tiers agree bit for bit by construction, and the tests check it.

#[cfg(target_arch = "x86_64")]
mod avx2;
pub(crate) mod scalar;

use super::SimdLevel;

/// Premultiplied blend of `src` (with coverage `alpha`) over `dst`. All three slices must
/// have the same length; extra elements of the longer ones are ignored.
pub fn premul(level: SimdLevel, dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    let n = dst.len().min(src.len()).min(alpha.len());
    let (dst, src, alpha) = (&mut dst[..n], &src[..n], &alpha[..n]);
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
            // SAFETY: AVX2 was detected on this CPU just above (the kernel's one requirement).
            unsafe { avx2::premul(dst, src, alpha) }
        }
        _ => scalar::premul(dst, src, alpha),
    }
}

/// Straight-alpha blend of `src` over `dst` with per-pixel `alpha`.
pub fn straight(level: SimdLevel, dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    let n = dst.len().min(src.len()).min(alpha.len());
    let (dst, src, alpha) = (&mut dst[..n], &src[..n], &alpha[..n]);
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
            // SAFETY: AVX2 was detected on this CPU just above (the kernel's one requirement).
            unsafe { avx2::straight(dst, src, alpha) }
        }
        _ => scalar::straight(dst, src, alpha),
    }
}

/// Straight-alpha blend of `src` over `dst` with one `alpha` for every pixel.
pub fn constant(level: SimdLevel, dst: &mut [u8], src: &[u8], alpha: u8) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    match alpha {
        255 => dst.copy_from_slice(src),
        0 => {}
        _ => match level {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
                // SAFETY: AVX2 was detected on this CPU just above.
                unsafe { avx2::constant(dst, src, alpha) }
            }
            _ => scalar::constant(dst, src, alpha),
        },
    }
}

/// [`straight`] with what is below read from `below` and the result written to `out` (a
/// copy of `below` into `out` followed by [`straight`], in one pass).
pub fn straight_over(level: SimdLevel, out: &mut [u8], below: &[u8], src: &[u8], alpha: &[u8]) {
    let n = out.len().min(below.len()).min(src.len()).min(alpha.len());
    let (out, below, src, alpha) = (&mut out[..n], &below[..n], &src[..n], &alpha[..n]);
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
            // SAFETY: AVX2 was detected on this CPU just above.
            unsafe { avx2::straight_over(out, below, src, alpha) }
        }
        _ => scalar::straight_over(out, below, src, alpha),
    }
}

/// [`constant`] with what is below read from `below` and the result written to `out`.
pub fn constant_over(level: SimdLevel, out: &mut [u8], below: &[u8], src: &[u8], alpha: u8) {
    let n = out.len().min(below.len()).min(src.len());
    let (out, below, src) = (&mut out[..n], &below[..n], &src[..n]);
    match alpha {
        255 => out.copy_from_slice(src),
        0 => out.copy_from_slice(below),
        _ => match level {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
                // SAFETY: AVX2 was detected on this CPU just above.
                unsafe { avx2::constant_over(out, below, src, alpha) }
            }
            _ => scalar::constant_over(out, below, src, alpha),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes (xorshift), biased so that 0 and 255 alphas occur often.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                match s % 8 {
                    0 => 0,
                    1 => 255,
                    _ => (s >> 24) as u8,
                }
            })
            .collect()
    }

    const WIDTHS: [usize; 15] = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 51, 64, 65, 102];

    /// Runs `f` for every level on rows of `width` inside buffers with a wider stride, at an
    /// unaligned offset (a cropped view), and checks every level against scalar, including
    /// that bytes outside the row are untouched.
    fn check(f: impl Fn(SimdLevel, &mut [u8], &[u8], &[u8])) {
        for &w in &WIDTHS {
            for offset in [0usize, 3] {
                let stride = w + 37;
                let rows = 3;
                let src = bytes(w as u64 + 1, stride * rows);
                let alpha = bytes(w as u64 + 7, stride * rows);
                let base = bytes(w as u64 + 13, stride * rows + offset);
                let mut want = base.clone();
                for r in 0..rows {
                    let o = r * stride + offset;
                    f(
                        SimdLevel::Scalar,
                        &mut want[o..o + w],
                        &src[r * stride..r * stride + w],
                        &alpha[r * stride..r * stride + w],
                    );
                }
                for level in SimdLevel::available() {
                    let mut got = base.clone();
                    for r in 0..rows {
                        let o = r * stride + offset;
                        f(
                            level,
                            &mut got[o..o + w],
                            &src[r * stride..r * stride + w],
                            &alpha[r * stride..r * stride + w],
                        );
                    }
                    assert_eq!(
                        got, want,
                        "{level:?} differs from scalar at width {w}, offset {offset}"
                    );
                }
            }
        }
    }

    #[test]
    fn premul_tiers_match_scalar() {
        check(premul);
    }

    #[test]
    fn straight_tiers_match_scalar() {
        check(straight);
    }

    #[test]
    fn constant_tiers_match_scalar() {
        for a in [0u8, 1, 77, 128, 204, 254, 255] {
            check(|l, d, s, _| constant(l, d, s, a));
        }
    }

    /// The "over" kernels equal copy-then-blend, for every level.
    #[test]
    fn over_kernels_equal_copy_then_blend() {
        check(|l, d, s, a| {
            let below = d.to_vec();
            let mut want = below.clone();
            straight(SimdLevel::Scalar, &mut want, s, a);
            straight_over(l, d, &below, s, a);
            assert_eq!(d, &want[..], "straight_over {l:?}");
        });
        for alpha in [0u8, 1, 77, 204, 255] {
            check(|l, d, s, _| {
                let below = d.to_vec();
                let mut want = below.clone();
                constant(SimdLevel::Scalar, &mut want, s, alpha);
                d.fill(0x5a);
                constant_over(l, d, &below, s, alpha);
                assert_eq!(d, &want[..], "constant_over {l:?} a={alpha}");
            });
        }
    }

    #[test]
    fn scalar_reference_values() {
        let mut d = [0u8, 255, 100, 100, 10];
        scalar::straight(&mut d, &[255, 0, 200, 200, 250], &[255, 255, 0, 128, 204]);
        // 200*128 + 100*127 = 38300 -> 150.196 -> 150; 250*204 + 10*51 = 51510 -> 202
        assert_eq!(d, [255, 0, 100, 150, 202]);
        let mut d = [200u8, 200, 255];
        scalar::premul(&mut d, &[0, 100, 255], &[0, 128, 255]);
        // 100 + 200*127/255 = 100 + 99.6 -> 200
        assert_eq!(d, [200, 200, 255]);
        let mut d = [255u8];
        scalar::premul(&mut d, &[255], &[10]); // saturates, never wraps
        assert_eq!(d, [255]);
    }

    /// All 2^24 (src, dst, alpha) triples of the 8-bit straight blend, every tier against
    /// the exact real-number result. Takes a few seconds in release, minutes in debug.
    #[test]
    #[ignore = "exhaustive 2^24 sweep: run in release with --ignored"]
    fn straight_exhaustive() {
        let src: Vec<u8> = (0..=255).collect();
        for a in 0..=255u8 {
            let alpha = vec![a; 256];
            for d in 0..=255u8 {
                let want: Vec<u8> = (0..=255u32)
                    .map(|s| {
                        ((s * a as u32 + d as u32 * (255 - a as u32)) as f64 / 255.0).round() as u8
                    })
                    .collect();
                for level in SimdLevel::available() {
                    let mut dst = vec![d; 256];
                    straight(level, &mut dst, &src, &alpha);
                    assert_eq!(dst, want, "{level:?} a={a} d={d}");
                    let mut dst = vec![d; 256];
                    constant(level, &mut dst, &src, a);
                    assert_eq!(dst, want, "{level:?} constant a={a} d={d}");
                }
            }
        }
    }
}
