//! Moving pixels in and out of the model: images and seats to its f32 RGB input, its
//! probability map back to an 8-bit matte. Bilinear with half-pixel centres throughout (what
//! MediaPipe's own image-to-tensor and mask upsampling do); identity when the sizes match.

use crate::frame::{ColorSpec, Matrix, PlaneMut, PlaneRef, Range};

use super::MlError;

/// Source coordinate of output index `o` (half-pixel centres), split into the two taps and
/// the weight of the second, clamped to the source.
#[inline]
fn taps(o: usize, scale: f32, len: usize) -> (usize, usize, f32) {
    let s = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
    let i0 = (s as usize).min(len - 1);
    let i1 = (i0 + 1).min(len - 1);
    (i0, i1, s - i0 as f32)
}

/// Writes `rgb` (packed RGB8, `width x height`) into `input` (NHWC f32 in `[0, 1]`,
/// `in_w x in_h`), scaling bilinearly.
pub fn rgb8_to_input(
    rgb: &[u8],
    width: usize,
    height: usize,
    input: &mut [f32],
    in_w: usize,
    in_h: usize,
) -> Result<(), MlError> {
    if width == 0 || height == 0 || rgb.len() != width * height * 3 {
        return Err(MlError::BufferSize {
            expected: width * height * 3,
            found: rgb.len(),
        });
    }
    if input.len() != in_w * in_h * 3 {
        return Err(MlError::BufferSize {
            expected: in_w * in_h * 3,
            found: input.len(),
        });
    }
    const INV: f32 = 1.0 / 255.0;
    if width == in_w && height == in_h {
        for (d, &s) in input.iter_mut().zip(rgb) {
            *d = s as f32 * INV;
        }
        return Ok(());
    }
    let (sx, sy) = (width as f32 / in_w as f32, height as f32 / in_h as f32);
    for y in 0..in_h {
        let (y0, y1, fy) = taps(y, sy, height);
        for x in 0..in_w {
            let (x0, x1, fx) = taps(x, sx, width);
            for c in 0..3 {
                let p = |yy: usize, xx: usize| rgb[(yy * width + xx) * 3 + c] as f32;
                let top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * fx;
                let bot = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * fx;
                input[(y * in_w + x) * 3 + c] = (top + (bot - top) * fy) * INV;
            }
        }
    }
    Ok(())
}

/// Writes a seat's I420 planes (tagged `color`) into `input` (NHWC f32 RGB in `[0, 1]`,
/// `in_w x in_h`), scaling bilinearly. Allocates its tables; a caller converting every tick
/// keeps a [`Yuv420Resampler`] instead.
pub fn yuv420_to_input(
    y: &PlaneRef<'_>,
    u: &PlaneRef<'_>,
    v: &PlaneRef<'_>,
    color: ColorSpec,
    input: &mut [f32],
    in_w: usize,
    in_h: usize,
) -> Result<(), MlError> {
    Yuv420Resampler::default().convert(y, u, v, color, input, in_w, in_h)
}

/// Converts I420 planes to the model's input like [`yuv420_to_input`], keeping its tables
/// between calls: the taps of every output column and row are computed once per size, and
/// each source row is filtered horizontally once (a 2-row cache per plane: neighbouring
/// output rows share source rows), instead of four taps per pixel and plane. The results are
/// the same bits (the same operations in the same order per value). Allocates only when a
/// size changes.
#[derive(Debug, Clone, Default)]
pub struct Yuv420Resampler {
    /// `(w, h, cw, ch, in_w, in_h)` the tables are for.
    sizes: (usize, usize, usize, usize, usize, usize),
    luma_x: Vec<(usize, usize, f32)>,
    chroma_x: Vec<(usize, usize, f32)>,
    luma_y: Vec<(usize, usize, f32)>,
    chroma_y: Vec<(usize, usize, f32)>,
    /// Per plane (Y, U, V): two horizontally filtered source rows (`in_w` values each) and
    /// the source row each holds.
    rows: [[(usize, Vec<f32>); 2]; 3],
}

impl Yuv420Resampler {
    /// Lays out the tables for these sizes (allocating only when they change).
    fn prepare(&mut self, sizes: (usize, usize, usize, usize, usize, usize)) {
        if self.sizes == sizes && !self.luma_x.is_empty() {
            return;
        }
        self.sizes = sizes;
        let (w, h, cw, ch, in_w, in_h) = sizes;
        let table = |n: usize, len: usize| -> Vec<(usize, usize, f32)> {
            let scale = len as f32 / n as f32;
            (0..n).map(|o| taps(o, scale, len)).collect()
        };
        self.luma_x = table(in_w, w);
        self.chroma_x = table(in_w, cw);
        self.luma_y = table(in_h, h);
        self.chroma_y = table(in_h, ch);
        for plane in &mut self.rows {
            for (row, buf) in plane.iter_mut() {
                *row = usize::MAX;
                buf.clear();
                buf.resize(in_w, 0.0);
            }
        }
    }

    /// Writes `y`, `u`, `v` (tagged `color`) into `input` (NHWC f32 RGB in `[0, 1]`,
    /// `in_w x in_h`), scaling bilinearly with half-pixel centres. Chroma is sampled at its
    /// own size (`u` and `v` may be any size; the smaller of the two is used).
    #[allow(clippy::too_many_arguments)]
    pub fn convert(
        &mut self,
        y: &PlaneRef<'_>,
        u: &PlaneRef<'_>,
        v: &PlaneRef<'_>,
        color: ColorSpec,
        input: &mut [f32],
        in_w: usize,
        in_h: usize,
    ) -> Result<(), MlError> {
        let (w, h) = (y.width(), y.height());
        let (cw, ch) = (u.width().min(v.width()), u.height().min(v.height()));
        if w == 0
            || h == 0
            || cw == 0
            || ch == 0
            || in_w == 0
            || in_h == 0
            || input.len() != in_w * in_h * 3
        {
            return Err(MlError::BufferSize {
                expected: in_w * in_h * 3,
                found: input.len(),
            });
        }
        self.prepare((w, h, cw, ch, in_w, in_h));
        let ((y0, ys, cs), (rv, gu, gv, bu)) = coefficients(color);
        const INV: f32 = 1.0 / 255.0;
        let [ry, ru, rv_rows] = &mut self.rows;
        for (oy, row) in input.chunks_exact_mut(in_w * 3).enumerate() {
            let (ly0, ly1, fy) = self.luma_y[oy];
            let (cy0, cy1, cfy) = self.chroma_y[oy];
            let (yt, yb) = filtered(ry, y, &self.luma_x, ly0, ly1);
            let (ut, ub) = filtered(ru, u, &self.chroma_x, cy0, cy1);
            let (vt, vb) = filtered(rv_rows, v, &self.chroma_x, cy0, cy1);
            for (ox, px) in row.chunks_exact_mut(3).enumerate() {
                let luma = yt[ox] + (yb[ox] - yt[ox]) * fy;
                let cb = (ut[ox] + (ub[ox] - ut[ox]) * cfy - 128.0) * cs;
                let cr = (vt[ox] + (vb[ox] - vt[ox]) * cfy - 128.0) * cs;
                let yy = (luma - y0) * ys;
                px[0] = ((yy + rv * cr) * INV).clamp(0.0, 1.0);
                px[1] = ((yy - gu * cb - gv * cr) * INV).clamp(0.0, 1.0);
                px[2] = ((yy + bu * cb) * INV).clamp(0.0, 1.0);
            }
        }
        Ok(())
    }
}

/// The YUV to RGB constants of `color`: `Y' = (Y - y0) * ys`, `C' = (C - 128) * cs` (all
/// / 255 at the end), then `R = Y' + rv*Cr`, `G = Y' - gu*Cb - gv*Cr`, `B = Y' + bu*Cb`.
#[allow(clippy::type_complexity)]
fn coefficients(color: ColorSpec) -> ((f32, f32, f32), (f32, f32, f32, f32)) {
    let range = match color.range {
        Range::Limited => (16.0, 255.0 / 219.0, 255.0 / 224.0),
        Range::Full => (0.0, 1.0, 1.0),
    };
    let matrix = match color.matrix {
        Matrix::Bt601 => (1.402, 0.344_136, 0.714_136, 1.772),
        Matrix::Bt709 => (1.5748, 0.187_324, 0.468_124, 1.8556),
    };
    (range, matrix)
}

/// Source rows `r0` and `r1` of `plane`, each filtered horizontally through `taps`, from the
/// two-row cache `cache` (filling the slots that do not hold them).
fn filtered<'a>(
    cache: &'a mut [(usize, Vec<f32>); 2],
    plane: &PlaneRef<'_>,
    taps: &[(usize, usize, f32)],
    r0: usize,
    r1: usize,
) -> (&'a [f32], &'a [f32]) {
    let fill = |buf: &mut [f32], r: usize| {
        let src = plane.row(r);
        for (d, &(x0, x1, fx)) in buf.iter_mut().zip(taps) {
            let (a, b) = (f32::from(src[x0]), f32::from(src[x1]));
            *d = a + (b - a) * fx;
        }
    };
    // Keep a slot that holds r0 or r1; refill the other(s).
    let slot0 = if cache[0].0 == r0 {
        0
    } else if cache[1].0 == r0 {
        1
    } else {
        // Not cached: take the slot that does not hold r1.
        let s = usize::from(cache[0].0 == r1);
        cache[s].0 = r0;
        fill(&mut cache[s].1, r0);
        s
    };
    let slot1 = if cache[slot0].0 == r1 {
        slot0
    } else {
        let s = 1 - slot0;
        if cache[s].0 != r1 {
            cache[s].0 = r1;
            fill(&mut cache[s].1, r1);
        }
        s
    };
    (&cache[slot0].1, &cache[slot1].1)
}

/// Writes the model's probability map (`pw x ph`) into `matte` (any size) as 8-bit coverage,
/// scaling bilinearly.
pub fn prob_to_matte(
    prob: &[f32],
    pw: usize,
    ph: usize,
    matte: &mut PlaneMut<'_>,
) -> Result<(), MlError> {
    if pw == 0 || ph == 0 || prob.len() != pw * ph {
        return Err(MlError::BufferSize {
            expected: pw * ph,
            found: prob.len(),
        });
    }
    let (w, h) = (matte.width(), matte.height());
    let (sx, sy) = (pw as f32 / w.max(1) as f32, ph as f32 / h.max(1) as f32);
    for oy in 0..h {
        let (y0, y1, fy) = taps(oy, sy, ph);
        let (r0, r1) = (&prob[y0 * pw..(y0 + 1) * pw], &prob[y1 * pw..(y1 + 1) * pw]);
        let row = matte.row_mut(oy);
        for (ox, d) in row.iter_mut().enumerate() {
            let (x0, x1, fx) = taps(ox, sx, pw);
            let top = r0[x0] + (r0[x1] - r0[x0]) * fx;
            let bot = r1[x0] + (r1[x1] - r1[x0]) * fx;
            *d = ((top + (bot - top) * fy) * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_when_sizes_match() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let mut input = vec![0.0; 4 * 3 * 3];
        rgb8_to_input(&rgb, 4, 3, &mut input, 4, 3).unwrap();
        for (a, b) in rgb.iter().zip(&input) {
            assert!((*a as f32 / 255.0 - b).abs() < 1e-6);
        }
        let prob: Vec<f32> = (0..12).map(|i| i as f32 / 11.0).collect();
        let mut buf = vec![0u8; 12];
        let mut m = PlaneMut::new(&mut buf, 4, 3, 4).unwrap();
        prob_to_matte(&prob, 4, 3, &mut m).unwrap();
        for (p, q) in prob.iter().zip(&buf) {
            assert_eq!(*q, (p * 255.0 + 0.5) as u8);
        }
    }

    #[test]
    fn rejects_wrong_lengths() {
        let mut input = vec![0.0; 10];
        assert!(rgb8_to_input(&[0; 12], 2, 2, &mut input, 2, 2).is_err());
        assert!(rgb8_to_input(&[0; 11], 2, 2, &mut [0.0; 12], 2, 2).is_err());
    }

    /// The per-pixel form: four taps per plane and pixel, computed where used.
    fn naive_yuv420_to_input(
        y: &PlaneRef<'_>,
        u: &PlaneRef<'_>,
        v: &PlaneRef<'_>,
        color: ColorSpec,
        input: &mut [f32],
        in_w: usize,
        in_h: usize,
    ) {
        let sample = |p: &PlaneRef<'_>, x: (usize, usize, f32), y: (usize, usize, f32)| {
            let (r0, r1) = (p.row(y.0), p.row(y.1));
            let top = r0[x.0] as f32 + (r0[x.1] as f32 - r0[x.0] as f32) * x.2;
            let bot = r1[x.0] as f32 + (r1[x.1] as f32 - r1[x.0] as f32) * x.2;
            top + (bot - top) * y.2
        };
        let (w, h) = (y.width(), y.height());
        let (cw, ch) = (u.width().min(v.width()), u.height().min(v.height()));
        let (sx, sy) = (w as f32 / in_w as f32, h as f32 / in_h as f32);
        let (csx, csy) = (cw as f32 / in_w as f32, ch as f32 / in_h as f32);
        let ((y0, ys, cs), (rv, gu, gv, bu)) = coefficients(color);
        for oy in 0..in_h {
            let (ty, cty) = (taps(oy, sy, h), taps(oy, csy, ch));
            for ox in 0..in_w {
                let luma = sample(y, taps(ox, sx, w), ty);
                let ctx = taps(ox, csx, cw);
                let cb = (sample(u, ctx, cty) - 128.0) * cs;
                let cr = (sample(v, ctx, cty) - 128.0) * cs;
                let yy = (luma - y0) * ys;
                let px = &mut input[(oy * in_w + ox) * 3..][..3];
                px[0] = ((yy + rv * cr) * (1.0 / 255.0)).clamp(0.0, 1.0);
                px[1] = ((yy - gu * cb - gv * cr) * (1.0 / 255.0)).clamp(0.0, 1.0);
                px[2] = ((yy + bu * cb) * (1.0 / 255.0)).clamp(0.0, 1.0);
            }
        }
    }

    #[test]
    fn resampler_equals_the_per_pixel_form() {
        let mut r = Yuv420Resampler::default();
        // Down, up, identity and mixed scales, odd sizes; one resampler reused across sizes.
        for &(w, h, in_w, in_h) in &[
            (274usize, 154usize, 256, 144),
            (102, 136, 96, 144),
            (33, 17, 64, 48),
            (64, 48, 64, 48),
            (301, 9, 32, 32),
            (274, 154, 256, 144),
        ] {
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            let yb: Vec<u8> = (0..w * h).map(|i| (i * 37 % 251) as u8).collect();
            let ub: Vec<u8> = (0..cw * ch).map(|i| (i * 11 % 256) as u8).collect();
            let vb: Vec<u8> = (0..cw * ch).map(|i| (255 - i * 7 % 256) as u8).collect();
            let y = PlaneRef::new(&yb, w, h, w).unwrap();
            let u = PlaneRef::new(&ub, cw, ch, cw).unwrap();
            let v = PlaneRef::new(&vb, cw, ch, cw).unwrap();
            for color in [
                ColorSpec::BT601_LIMITED,
                ColorSpec {
                    matrix: Matrix::Bt709,
                    range: Range::Full,
                },
            ] {
                let mut want = vec![0.0; in_w * in_h * 3];
                let mut got = vec![1.0; in_w * in_h * 3];
                naive_yuv420_to_input(&y, &u, &v, color, &mut want, in_w, in_h);
                r.convert(&y, &u, &v, color, &mut got, in_w, in_h).unwrap();
                let same = want
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{w}x{h} -> {in_w}x{in_h} {color:?}");
            }
        }
        let (yb, cb) = (vec![0u8; 16], vec![0u8; 4]);
        let y = PlaneRef::new(&yb, 4, 4, 4).unwrap();
        let c = PlaneRef::new(&cb, 2, 2, 2).unwrap();
        let mut small = vec![0.0; 5];
        assert!(r
            .convert(&y, &c, &c, ColorSpec::BT601_LIMITED, &mut small, 2, 1)
            .is_err());
    }

    #[test]
    fn grey_yuv_is_grey_rgb() {
        let (yb, ub, vb) = (vec![126u8; 64], vec![128u8; 16], vec![128u8; 16]);
        let y = PlaneRef::new(&yb, 8, 8, 8).unwrap();
        let u = PlaneRef::new(&ub, 4, 4, 4).unwrap();
        let v = PlaneRef::new(&vb, 4, 4, 4).unwrap();
        let mut input = vec![0.0; 4 * 4 * 3];
        yuv420_to_input(&y, &u, &v, ColorSpec::BT601_LIMITED, &mut input, 4, 4).unwrap();
        let want = (126.0 - 16.0) * 255.0 / 219.0 / 255.0;
        assert!(input.iter().all(|&c| (c - want).abs() < 1e-4));
    }
}
