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

/// Bilinear sample of a plane at output pixel `(x, y)` of an `out_w x out_h` grid.
#[inline]
fn sample(p: &PlaneRef<'_>, x: (usize, usize, f32), y: (usize, usize, f32)) -> f32 {
    let (r0, r1) = (p.row(y.0), p.row(y.1));
    let top = r0[x.0] as f32 + (r0[x.1] as f32 - r0[x.0] as f32) * x.2;
    let bot = r1[x.0] as f32 + (r1[x.1] as f32 - r1[x.0] as f32) * x.2;
    top + (bot - top) * y.2
}

/// Writes a seat's I420 planes (tagged `color`) into `input` (NHWC f32 RGB in `[0, 1]`,
/// `in_w x in_h`), scaling bilinearly.
pub fn yuv420_to_input(
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
    if w == 0 || h == 0 || cw == 0 || ch == 0 || input.len() != in_w * in_h * 3 {
        return Err(MlError::BufferSize {
            expected: in_w * in_h * 3,
            found: input.len(),
        });
    }
    let (sx, sy) = (w as f32 / in_w as f32, h as f32 / in_h as f32);
    let (csx, csy) = (cw as f32 / in_w as f32, ch as f32 / in_h as f32);
    // Y' = (Y - y0) * ys, C' = (C - 128) * cs, all / 255 at the end.
    let (y0, ys, cs) = match color.range {
        Range::Limited => (16.0, 255.0 / 219.0, 255.0 / 224.0),
        Range::Full => (0.0, 1.0, 1.0),
    };
    let (rv, gu, gv, bu) = match color.matrix {
        Matrix::Bt601 => (1.402, 0.344_136, 0.714_136, 1.772),
        Matrix::Bt709 => (1.5748, 0.187_324, 0.468_124, 1.8556),
    };
    const INV: f32 = 1.0 / 255.0;
    for oy in 0..in_h {
        let ty = taps(oy, sy, h);
        let cty = taps(oy, csy, ch);
        let row = &mut input[oy * in_w * 3..(oy + 1) * in_w * 3];
        for (ox, px) in row.chunks_exact_mut(3).enumerate() {
            let luma = sample(y, taps(ox, sx, w), ty);
            let ctx = taps(ox, csx, cw);
            let cb = (sample(u, ctx, cty) - 128.0) * cs;
            let cr = (sample(v, ctx, cty) - 128.0) * cs;
            let yy = (luma - y0) * ys;
            px[0] = ((yy + rv * cr) * INV).clamp(0.0, 1.0);
            px[1] = ((yy - gu * cb - gv * cr) * INV).clamp(0.0, 1.0);
            px[2] = ((yy + bu * cb) * INV).clamp(0.0, 1.0);
        }
    }
    Ok(())
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
