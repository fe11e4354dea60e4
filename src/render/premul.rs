//! Premultiplied scaling of inputs that carry transparency (I420A, RGBA, BGRA), so the colour
//! held under transparent pixels never reaches the seat.
//!
//! A straight-alpha scaler averages a transparent pixel's colour into its visible neighbours:
//! a PNG portrait whose transparent pixels hold black gets a dark rim, darker than both the
//! person and the scene behind the seat. Scaling premultiplied colour (`C * a`) and dividing
//! by the scaled alpha afterwards weighs every source pixel by its coverage, so the edge
//! pixels of the seat hold the person's colour, and the compositor's straight blend of that
//! colour with the scaled alpha lands between the person and the scene.
//!
//! The steps, per seat (only when the window's alpha is not all 255; opaque inputs take the
//! straight path unchanged):
//! 1. [`PremulScratch::prepare`]: the window's luma times its alpha, and its chroma times the
//!    chroma-grid alpha (the 2x2 mean of the luma alpha, as the compositor blends chroma).
//!    For RGBA/BGRA the window is converted to 4:4:4 first, so each chroma sample is the
//!    alpha-weighted mean of its 2x2 pixels (a plain 4:2:0 conversion would mix the colour of
//!    transparent pixels into the chroma at the edge);
//! 2. the seat stage scales those planes, the alpha and the chroma-grid alpha with the same
//!    scaler as any plane;
//! 3. [`unpremultiply`] divides each scaled colour by its scaled alpha (a reciprocal table;
//!    where the alpha is 0, a fixed colour: black luma, neutral chroma).

use super::crop::CropWindow;
use super::kernels::scale::box_row;
use super::kernels::SimdLevel;
use crate::error::FrameError;
use crate::frame::{ColorSpec, FrameRef, PixelFormat, PlaneRef};

/// Whether the part of `frame` inside `window` has an alpha below 255 anywhere (formats
/// without alpha never do). Stops at the first such pixel.
pub(crate) fn window_has_transparency(
    frame: &FrameRef<'_>,
    window: CropWindow,
) -> Result<bool, FrameError> {
    match frame.format() {
        PixelFormat::I420A => {
            let a = window.luma_plane(frame.plane(3))?;
            Ok(a.rows().any(|r| !all_opaque(r)))
        }
        PixelFormat::Rgba | PixelFormat::Bgra => {
            let p = frame.plane(0);
            let (x, w) = (window.x as usize * 4, window.width as usize * 4);
            let (top, h) = (window.y as usize, window.height as usize);
            let p = p.crop(x, top, w, h)?;
            // The AND of every pixel as a little-endian u32 has alpha (byte 3, in RGBA and
            // BGRA) 255 only if every pixel's is: a reduction the compiler vectorises.
            Ok(p.rows().any(|r| {
                let all = r.chunks_exact(4).fold(u32::MAX, |m, px| {
                    m & u32::from_le_bytes([px[0], px[1], px[2], px[3]])
                });
                all >> 24 != 0xFF
            }))
        }
        _ => Ok(false),
    }
}

/// Every byte is 255 (in blocks, so the compiler vectorises it).
fn all_opaque(row: &[u8]) -> bool {
    let mut chunks = row.chunks_exact(32);
    let blocks = chunks
        .by_ref()
        .all(|c| c.iter().fold(255u8, |m, &v| m & v) == 255);
    blocks && chunks.remainder().iter().all(|&v| v == 255)
}

/// The premultiplied window of one seat's input, reused from tick to tick (buffers grow to
/// the largest window seen, then stay).
#[derive(Debug, Default)]
pub(crate) struct PremulScratch {
    /// Luma times alpha, window size.
    y: Vec<u8>,
    /// Chroma times the chroma-grid alpha, half size (odd sides round up).
    u: Vec<u8>,
    v: Vec<u8>,
    /// The chroma-grid alpha: 2x2 means of the luma alpha.
    ca: Vec<u8>,
    /// RGBA/BGRA only: the window's alpha, and its colour at 4:4:4.
    a: Vec<u8>,
    y444: Vec<u8>,
    u444: Vec<u8>,
    v444: Vec<u8>,
}

/// The planes [`PremulScratch::prepare`] made: all packed, of the window's size (luma) or
/// half of it (chroma, odd sides rounded up).
pub(crate) struct PremulPlanes<'s> {
    /// Premultiplied Y, U, V.
    pub planes: [PlaneRef<'s>; 3],
    /// The alpha at luma resolution.
    pub alpha: PlaneRef<'s>,
    /// The alpha on the chroma grid (what U and V were multiplied by).
    pub chroma_alpha: PlaneRef<'s>,
    /// The colour tag of the planes.
    pub color: ColorSpec,
}

impl PremulScratch {
    /// Premultiplies the `window` of `frame` (I420A, RGBA or BGRA; RGB is converted to YUV
    /// tagged `out_color`, as the straight path does). Other formats are refused with
    /// [`FrameError::Unsupported`] (they carry no alpha: the caller takes the straight path).
    pub(crate) fn prepare<'s, 'f: 's>(
        &'s mut self,
        frame: &FrameRef<'f>,
        window: CropWindow,
        out_color: ColorSpec,
        level: SimdLevel,
    ) -> Result<PremulPlanes<'s>, FrameError> {
        let (w, h) = window.luma_size();
        let (cw, ch) = window.chroma_size();
        self.y.resize(w * h, 0);
        for p in [&mut self.u, &mut self.v, &mut self.ca] {
            p.resize(cw * ch, 0);
        }
        let color = match frame.format() {
            PixelFormat::I420A => {
                let a = window.luma_plane(frame.plane(3))?;
                let y = window.luma_plane(frame.plane(0))?;
                let (u, v) = (
                    window.chroma_plane(frame.plane(1))?,
                    window.chroma_plane(frame.plane(2))?,
                );
                premultiply_rows(&mut self.y, w, y, a);
                chroma_alpha(level, a, &mut self.ca, cw);
                let ca = PlaneRef::packed(&self.ca, cw, ch)?;
                premultiply_rows(&mut self.u, cw, u, ca);
                premultiply_rows(&mut self.v, cw, v, ca);
                frame.color()
            }
            PixelFormat::Rgba | PixelFormat::Bgra => {
                let view = window.packed_view(frame, out_color)?;
                for p in [&mut self.a, &mut self.y444, &mut self.u444, &mut self.v444] {
                    p.resize(w * h, 0);
                }
                crate::color::rgb_to_yuv444(&view, &mut self.y444, &mut self.u444, &mut self.v444)?;
                let rgba = view.plane(0);
                for (arow, src) in self.a.chunks_exact_mut(w).zip(rgba.rows()) {
                    for (o, px) in arow.iter_mut().zip(src.chunks_exact(4)) {
                        *o = px[3];
                    }
                }
                let a = PlaneRef::packed(&self.a, w, h)?;
                premultiply_rows(&mut self.y, w, PlaneRef::packed(&self.y444, w, h)?, a);
                chroma_alpha(level, a, &mut self.ca, cw);
                premultiply_subsample(&mut self.u, &self.u444, &self.a, w, h);
                premultiply_subsample(&mut self.v, &self.v444, &self.a, w, h);
                out_color
            }
            other => {
                return Err(FrameError::Unsupported {
                    from: other,
                    to: PixelFormat::I420A,
                })
            }
        };
        let alpha = match frame.format() {
            PixelFormat::I420A => window.luma_plane(frame.plane(3))?,
            _ => PlaneRef::packed(&self.a, w, h)?,
        };
        Ok(PremulPlanes {
            planes: [
                PlaneRef::packed(&self.y, w, h)?,
                PlaneRef::packed(&self.u, cw, ch)?,
                PlaneRef::packed(&self.v, cw, ch)?,
            ],
            alpha,
            chroma_alpha: PlaneRef::packed(&self.ca, cw, ch)?,
            color,
        })
    }
}

/// `out = round(src * a / 255)`, row by row (`out` packed, `w` wide; `src` and `a` the same
/// size). In 16-bit lanes, so the compiler vectorises it: for `x <= 65025`,
/// `(x + 128 + ((x + 128) >> 8)) >> 8` is `round(x / 255)` exactly, and no step leaves u16.
fn premultiply_rows(out: &mut [u8], w: usize, src: PlaneRef<'_>, a: PlaneRef<'_>) {
    for ((o, s), a) in out.chunks_exact_mut(w).zip(src.rows()).zip(a.rows()) {
        for ((o, &s), &a) in o.iter_mut().zip(s).zip(a) {
            let x = u16::from(s) * u16::from(a) + 128;
            *o = ((x + (x >> 8)) >> 8) as u8;
        }
    }
}

/// 2x2 means of the alpha `a` into `out` (`cw` wide; a missing last column or row repeats
/// the one before), as the compositor averages a seat's matte for chroma.
fn chroma_alpha(level: SimdLevel, a: PlaneRef<'_>, out: &mut [u8], cw: usize) {
    let h = a.height();
    for (cy, orow) in out.chunks_exact_mut(cw.max(1)).enumerate() {
        let r0 = 2 * cy;
        if r0 >= h {
            break;
        }
        let r1 = (r0 + 1).min(h - 1);
        box_row(level, a.row(r0), a.row(r1), orow);
    }
}

/// The premultiplied 4:2:0 chroma of 4:4:4 chroma `c` with alpha `a` (both `w x h`, packed):
/// each sample the mean of `c * a / 255` over its 2x2 pixels (a missing last column or row
/// repeats the one before), rounded.
fn premultiply_subsample(out: &mut [u8], c: &[u8], a: &[u8], w: usize, h: usize) {
    let cw = w.div_ceil(2);
    for (cy, orow) in out.chunks_exact_mut(cw.max(1)).enumerate() {
        let r0 = 2 * cy;
        if r0 >= h {
            break;
        }
        let r1 = (r0 + 1).min(h - 1);
        let (c0, c1) = (&c[r0 * w..][..w], &c[r1 * w..][..w]);
        let (a0, a1) = (&a[r0 * w..][..w], &a[r1 * w..][..w]);
        for (x, o) in orow.iter_mut().enumerate() {
            let (i, j) = (2 * x, (2 * x + 1).min(w - 1));
            let sum = u32::from(c0[i]) * u32::from(a0[i])
                + u32::from(c0[j]) * u32::from(a0[j])
                + u32::from(c1[i]) * u32::from(a1[i])
                + u32::from(c1[j]) * u32::from(a1[j]);
            // round(sum / (4 * 255))
            *o = ((sum + 510) / 1020) as u8;
        }
    }
}

/// `round(255 * 2^16 / a)` for `a` in 1..=255 (0 for `a = 0`, never used).
const RECIPROCALS: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut a = 1;
    while a < 256 {
        t[a] = (255 * 65536 + a as u32 / 2) / a as u32;
        a += 1;
    }
    t
};

/// Divides premultiplied `values` by their alpha `alpha` in place: `min(255, round(v * 255 /
/// a))`, and `empty` where the alpha is 0 (nothing of the source covers the pixel). Exact
/// where `a = 255`; within one level elsewhere.
pub(crate) fn unpremultiply(values: &mut [u8], alpha: &[u8], empty: u8) {
    for (v, &a) in values.iter_mut().zip(alpha) {
        *v = if a == 0 {
            empty
        } else {
            ((u32::from(*v) * RECIPROCALS[a as usize] + (1 << 15)) >> 16).min(255) as u8
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::kernels::div255;
    use super::*;
    use crate::frame::Frame;

    #[test]
    fn unpremultiply_inverts_premultiply_within_a_level() {
        for a in 1..=255u32 {
            for c in 0..=255u32 {
                let p = div255(c * a);
                let mut v = [p];
                unpremultiply(&mut v, &[a as u8], 7);
                // The premultiplied value lost up to half a level of c * a / 255: c is known
                // to within 255 / (2a) levels.
                let tol = (255.0 / (2.0 * a as f64)).max(0.5) + 0.5;
                let back = f64::from(p) * 255.0 / a as f64;
                assert!(
                    (f64::from(v[0]) - back.min(255.0)).abs() <= 0.5 + 1e-9,
                    "a={a} c={c}"
                );
                assert!((f64::from(v[0]) - c as f64).abs() <= tol, "a={a} c={c}");
                if a == 255 {
                    assert_eq!(u32::from(v[0]), c);
                }
            }
        }
        let mut v = [200, 10];
        unpremultiply(&mut v, &[0, 0], 16);
        assert_eq!(v, [16, 16]);
    }

    #[test]
    fn premultiply_rounds_exactly() {
        let src: Vec<u8> = (0..=255).collect();
        for a in 0..=255u8 {
            let alpha = vec![a; 256];
            let mut out = vec![0u8; 256];
            premultiply_rows(
                &mut out,
                256,
                PlaneRef::packed(&src, 256, 1).unwrap(),
                PlaneRef::packed(&alpha, 256, 1).unwrap(),
            );
            for (c, &o) in out.iter().enumerate() {
                assert_eq!(o, div255(c as u32 * u32::from(a)), "c={c} a={a}");
            }
        }
    }

    #[test]
    fn all_opaque_finds_any_transparent_byte() {
        for n in [0usize, 1, 31, 32, 33, 64, 100] {
            let mut row = vec![255u8; n];
            assert!(all_opaque(&row));
            for i in 0..n {
                row[i] = 254;
                assert!(!all_opaque(&row), "n={n} i={i}");
                row[i] = 255;
            }
        }
    }

    #[test]
    fn transparency_is_looked_for_inside_the_window_only() {
        let window = CropWindow {
            x: 4,
            y: 2,
            width: 8,
            height: 6,
        };
        let mut rgba = Frame::new(PixelFormat::Rgba, 16, 10).unwrap();
        rgba.as_mut().plane_mut(0).fill(255);
        assert!(!window_has_transparency(&rgba.as_ref(), window).unwrap());
        // Outside the window: not seen. Inside: seen, in any byte position of a pixel row.
        rgba.as_mut().plane_mut(0).row_mut(1)[3] = 0;
        assert!(!window_has_transparency(&rgba.as_ref(), window).unwrap());
        rgba.as_mut().plane_mut(0).row_mut(7)[4 * 11 + 3] = 254;
        assert!(window_has_transparency(&rgba.as_ref(), window).unwrap());
        let mut i420a = Frame::new(PixelFormat::I420A, 16, 10).unwrap();
        i420a.as_mut().plane_mut(3).fill(255);
        assert!(!window_has_transparency(&i420a.as_ref(), window).unwrap());
        i420a.as_mut().plane_mut(3).row_mut(9)[0] = 0;
        assert!(!window_has_transparency(&i420a.as_ref(), window).unwrap());
        i420a.as_mut().plane_mut(3).row_mut(2)[4] = 0;
        assert!(window_has_transparency(&i420a.as_ref(), window).unwrap());
        let i420 = Frame::new(PixelFormat::I420, 16, 10).unwrap();
        assert!(!window_has_transparency(&i420.as_ref(), window).unwrap());
    }

    /// An RGBA window whose right half is transparent black: the premultiplied chroma of a
    /// 2x2 block across the edge is the visible pixels' chroma at their coverage, not a mix
    /// with black's.
    #[test]
    fn rgba_chroma_is_weighted_by_alpha() {
        let (w, h) = (8u32, 4u32);
        let mut f = Frame::new(PixelFormat::Rgba, w, h).unwrap();
        {
            let mut m = f.as_mut();
            let mut p = m.plane_mut(0);
            for y in 0..h as usize {
                for (x, px) in p.row_mut(y).chunks_exact_mut(4).enumerate() {
                    let on = x < 3;
                    px.copy_from_slice(&if on { [230, 60, 40, 255] } else { [0, 0, 0, 0] });
                }
            }
        }
        let window = CropWindow {
            x: 0,
            y: 0,
            width: w,
            height: h,
        };
        assert!(window_has_transparency(&f.as_ref(), window).unwrap());
        let mut s = PremulScratch::default();
        let p = s
            .prepare(
                &f.as_ref(),
                window,
                ColorSpec::BT601_LIMITED,
                SimdLevel::Scalar,
            )
            .unwrap();
        // Columns 0..3 opaque red; chroma sample 1 covers columns 2 (red) and 3 (empty).
        let (u, v, ca) = (
            p.planes[1].row(0),
            p.planes[2].row(0),
            p.chroma_alpha.row(0),
        );
        assert_eq!(ca[..3], [255, 128, 0]);
        let (mut u1, mut v1) = ([u[1]], [v[1]]);
        unpremultiply(&mut u1, &ca[1..2], 128);
        unpremultiply(&mut v1, &ca[1..2], 128);
        // Within a level of the opaque block's chroma.
        assert!(u1[0].abs_diff(u[0]) <= 1, "{u1:?} vs {}", u[0]);
        assert!(v1[0].abs_diff(v[0]) <= 1, "{v1:?} vs {}", v[0]);
        assert!(v[0] > 200, "red has a high V: {}", v[0]);
        // Luma: red's where opaque, 0 where transparent.
        let y = p.planes[0].row(0);
        assert!(y[2] > 50 && y[3] == 0, "{y:?}");
    }
}
