//! Converting a seat between YUV colour tags (matrix and range), after scaling, so only seat
//! pixels are touched and only when an input's tag differs from the output's.
//!
//! The change is linear in (Y - black, U - 128, V - 128). Gray stays gray under every
//! matrix, so chroma never depends on luma: chroma is a 2x2 map of (U, V), and luma is
//! `a*Y + b*U + c*V` with the co-sited chroma sample. Coefficients are 14-bit fixed point.

use crate::frame::{ColorSpec, Matrix, Range};

const SHIFT: i32 = 14;

fn kr_kb(m: Matrix) -> (f64, f64) {
    match m {
        Matrix::Bt601 => (0.299, 0.114),
        Matrix::Bt709 => (0.2126, 0.0722),
    }
}

/// (black level, luma scale, chroma scale) of a range, in 8-bit code values per unit.
fn range_params(r: Range) -> (f64, f64, f64) {
    match r {
        Range::Limited => (16.0, 219.0, 224.0),
        Range::Full => (0.0, 255.0, 255.0),
    }
}

/// A fixed-point conversion from one tag to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColorConvert {
    black_in: i32,
    black_out: i32,
    /// Rows: Y', U', V'; columns: Y, U, V (offsets removed), scaled by 2^14.
    m: [[i32; 3]; 3],
}

impl ColorConvert {
    /// The conversion from `from` to `to`, or `None` when they are the same.
    pub(crate) fn new(from: ColorSpec, to: ColorSpec) -> Option<Self> {
        if from == to {
            return None;
        }
        // Code values -> normalised (Yn in 0..1, Cb/Cr in -0.5..0.5).
        let (b_in, ys_in, cs_in) = range_params(from.range);
        let (b_out, ys_out, cs_out) = range_params(to.range);
        let (kr, kb) = kr_kb(from.matrix);
        let kg = 1.0 - kr - kb;
        // normalised YCbCr -> RGB (from)
        let to_rgb = [
            [1.0, 0.0, 2.0 * (1.0 - kr)],
            [
                1.0,
                -2.0 * (1.0 - kb) * kb / kg,
                -2.0 * (1.0 - kr) * kr / kg,
            ],
            [1.0, 2.0 * (1.0 - kb), 0.0],
        ];
        let (kr2, kb2) = kr_kb(to.matrix);
        let kg2 = 1.0 - kr2 - kb2;
        // RGB -> normalised YCbCr (to)
        let from_rgb = [
            [kr2, kg2, kb2],
            [-kr2 / (2.0 * (1.0 - kb2)), -kg2 / (2.0 * (1.0 - kb2)), 0.5],
            [0.5, -kg2 / (2.0 * (1.0 - kr2)), -kb2 / (2.0 * (1.0 - kr2))],
        ];
        let scale_in = [1.0 / ys_in, 1.0 / cs_in, 1.0 / cs_in];
        let scale_out = [ys_out, cs_out, cs_out];
        let mut m = [[0i32; 3]; 3];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let mut acc = 0.0;
                for (k, rgb_row) in to_rgb.iter().enumerate() {
                    acc += from_rgb[i][k] * rgb_row[j];
                }
                *v = (acc * scale_out[i] * scale_in[j] * (1 << SHIFT) as f64).round() as i32;
            }
        }
        // Gray stays gray: luma never feeds chroma (exactly zero up to rounding noise).
        m[1][0] = 0;
        m[2][0] = 0;
        Some(Self {
            black_in: b_in as i32,
            black_out: b_out as i32,
            m,
        })
    }

    /// Converts packed seat planes in place: `y` is `w x h`, `u`/`v` are `w/2 x h/2`
    /// (w and h even).
    pub(crate) fn apply(&self, y: &mut [u8], u: &mut [u8], v: &mut [u8], w: usize, h: usize) {
        let cw = w / 2;
        let round = 1 << (SHIFT - 1);
        let m = &self.m;
        for row in 0..h {
            let crow = row / 2;
            let (ur, vr) = (&u[crow * cw..crow * cw + cw], &v[crow * cw..crow * cw + cw]);
            for (x, p) in y[row * w..row * w + w].iter_mut().enumerate() {
                let cu = ur[x / 2] as i32 - 128;
                let cv = vr[x / 2] as i32 - 128;
                let yy = *p as i32 - self.black_in;
                let out = self.black_out
                    + ((m[0][0] * yy + m[0][1] * cu + m[0][2] * cv + round) >> SHIFT);
                *p = out.clamp(0, 255) as u8;
            }
        }
        for (pu, pv) in u.iter_mut().zip(v.iter_mut()) {
            let cu = *pu as i32 - 128;
            let cv = *pv as i32 - 128;
            let nu = 128 + ((m[1][1] * cu + m[1][2] * cv + round) >> SHIFT);
            let nv = 128 + ((m[2][1] * cu + m[2][2] * cv + round) >> SHIFT);
            *pu = nu.clamp(0, 255) as u8;
            *pv = nv.clamp(0, 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Frame, PixelFormat};

    fn spec(matrix: Matrix, range: Range) -> ColorSpec {
        ColorSpec { matrix, range }
    }

    /// YUV of one RGB colour under `c`, through the yuv crate (an independent reference).
    fn yuv_of(rgb: [u8; 3], c: ColorSpec) -> [u8; 3] {
        let mut f = Frame::new(PixelFormat::Rgba, 2, 2).unwrap();
        f.set_color(c);
        {
            let mut m = f.as_mut();
            let mut p = m.plane_mut(0);
            for row in p.rows_mut() {
                for px in row.chunks_exact_mut(4) {
                    px.copy_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
                }
            }
        }
        let y = f.as_ref().to_frame(PixelFormat::I420).unwrap();
        let v = y.as_ref();
        [
            v.plane(0).row(0)[0],
            v.plane(1).row(0)[0],
            v.plane(2).row(0)[0],
        ]
    }

    #[test]
    fn identical_tags_need_no_conversion() {
        assert!(ColorConvert::new(ColorSpec::default(), ColorSpec::default()).is_none());
    }

    #[test]
    fn converts_like_going_through_rgb() {
        let specs = [
            spec(Matrix::Bt601, Range::Limited),
            spec(Matrix::Bt601, Range::Full),
            spec(Matrix::Bt709, Range::Limited),
            spec(Matrix::Bt709, Range::Full),
        ];
        let colours = [
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [128, 128, 128],
            [250, 200, 30],
            [10, 60, 120],
        ];
        for from in specs {
            for to in specs {
                let Some(cc) = ColorConvert::new(from, to) else {
                    continue;
                };
                for rgb in colours {
                    let [y0, u0, v0] = yuv_of(rgb, from);
                    let want = yuv_of(rgb, to);
                    let (mut y, mut u, mut v) = ([y0; 4], [u0], [v0]);
                    cc.apply(&mut y, &mut u, &mut v, 2, 2);
                    let got = [y[0], u[0], v[0]];
                    for k in 0..3 {
                        assert!(
                            (got[k] as i32 - want[k] as i32).abs() <= 2,
                            "{from:?} -> {to:?}, rgb {rgb:?}: got {got:?}, want {want:?}"
                        );
                    }
                }
            }
        }
    }
}
