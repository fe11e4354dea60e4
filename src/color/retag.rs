//! Converting a seat between YUV colour tags (matrix and range), after scaling, so only seat
//! pixels are touched and only when an input's tag differs from the output's.
//!
//! The change is linear in (Y - black, U - 128, V - 128). Gray stays gray under every
//! matrix, so chroma never depends on luma: chroma is a 2x2 map of (U, V), and luma is
//! `a*Y + b*U + c*V` with the co-sited chroma sample. Coefficients are 14-bit fixed point.

use crate::frame::{ColorSpec, Matrix, Range};
use crate::render::kernels::SimdLevel;

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
    /// (w and h even). Per output, with U and V centred on 128 and co-sited chroma:
    /// `Y' = black_out + ((m00 (Y - black_in) + m01 U + m02 V + 2^13) >> 14)`, chroma
    /// likewise without Y; clamped to 0..=255. Planes shorter than their size are converted as far as they go.
    pub(crate) fn apply(
        &self,
        level: SimdLevel,
        y: &mut [u8],
        u: &mut [u8],
        v: &mut [u8],
        w: usize,
        h: usize,
    ) {
        match level {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
                // SAFETY: AVX2 was detected on this CPU just above.
                unsafe { self.apply_avx2(y, u, v, w, h) }
            }
            _ => self.apply_rows(y, u, v, w, h),
        }
    }

    /// The same code, compiled with AVX2 so the row loops vectorise 8 lanes wide.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2(&self, y: &mut [u8], u: &mut [u8], v: &mut [u8], w: usize, h: usize) {
        self.apply_rows(y, u, v, w, h)
    }

    /// Two luma rows and their chroma row at a time: the chroma part of each luma pixel
    /// (with the rounding and both black levels folded in: `(x + (b << 14)) >> 14` is
    /// `(x >> 14) + b` exactly) is computed once per chroma sample from the original U/V,
    /// widened to a luma-width run on the stack, then every loop is a straight zip that the
    /// compiler vectorises.
    #[inline(always)]
    fn apply_rows(&self, y: &mut [u8], u: &mut [u8], v: &mut [u8], w: usize, h: usize) {
        const RUN: usize = 64;
        let cw = w / 2;
        let m = &self.m;
        let round = 1 << (SHIFT - 1);
        let luma_bias = round + (self.black_out << SHIFT) - m[0][0] * self.black_in;
        let chroma_bias = round + (128 << SHIFT);
        let rows = (h / 2)
            .min(u.len() / cw.max(1))
            .min(v.len() / cw.max(1))
            .min(y.len() / (2 * w).max(1));
        let mut cpart = [0i32; 2 * RUN];
        for crow in 0..rows {
            let (ur, vr) = (&mut u[crow * cw..][..cw], &mut v[crow * cw..][..cw]);
            let (y0, y1) = y[2 * crow * w..][..2 * w].split_at_mut(w);
            for start in (0..cw).step_by(RUN) {
                let n = RUN.min(cw - start);
                let (us, vs) = (&mut ur[start..start + n], &mut vr[start..start + n]);
                for ((pair, &cu), &cv) in cpart.chunks_exact_mut(2).zip(us.iter()).zip(vs.iter()) {
                    let c = m[0][1] * (cu as i32 - 128) + m[0][2] * (cv as i32 - 128) + luma_bias;
                    pair[0] = c;
                    pair[1] = c;
                }
                for row in [&mut *y0, &mut *y1] {
                    let run = &mut row[2 * start..2 * start + 2 * n];
                    for (p, &c) in run.iter_mut().zip(cpart.iter()) {
                        *p = ((m[0][0] * *p as i32 + c) >> SHIFT).clamp(0, 255) as u8;
                    }
                }
                for (pu, pv) in us.iter_mut().zip(vs.iter_mut()) {
                    let (cu, cv) = (*pu as i32 - 128, *pv as i32 - 128);
                    let nu = (m[1][1] * cu + m[1][2] * cv + chroma_bias) >> SHIFT;
                    let nv = (m[2][1] * cu + m[2][2] * cv + chroma_bias) >> SHIFT;
                    *pu = nu.clamp(0, 255) as u8;
                    *pv = nv.clamp(0, 255) as u8;
                }
            }
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

    /// Every matrix and range.
    fn all_specs() -> [ColorSpec; 4] {
        [
            spec(Matrix::Bt601, Range::Limited),
            spec(Matrix::Bt601, Range::Full),
            spec(Matrix::Bt709, Range::Limited),
            spec(Matrix::Bt709, Range::Full),
        ]
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

    /// The definition, one pixel at a time (the formula of [`ColorConvert::apply`]).
    fn reference(cc: &ColorConvert, y: &mut [u8], u: &mut [u8], v: &mut [u8], w: usize, h: usize) {
        let cw = w / 2;
        let round = 1 << (SHIFT - 1);
        let m = &cc.m;
        for row in 0..h {
            for x in 0..w {
                let cu = u[row / 2 * cw + x / 2] as i32 - 128;
                let cv = v[row / 2 * cw + x / 2] as i32 - 128;
                let p = &mut y[row * w + x];
                let yy = *p as i32 - cc.black_in;
                let out =
                    cc.black_out + ((m[0][0] * yy + m[0][1] * cu + m[0][2] * cv + round) >> SHIFT);
                *p = out.clamp(0, 255) as u8;
            }
        }
        for (pu, pv) in u.iter_mut().zip(v.iter_mut()) {
            let (cu, cv) = (*pu as i32 - 128, *pv as i32 - 128);
            *pu = (128 + ((m[1][1] * cu + m[1][2] * cv + round) >> SHIFT)).clamp(0, 255) as u8;
            *pv = (128 + ((m[2][1] * cu + m[2][2] * cv + round) >> SHIFT)).clamp(0, 255) as u8;
        }
    }

    #[test]
    fn every_tier_equals_the_per_pixel_definition() {
        let specs = all_specs();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 32) as u8
        };
        // Widths around the 128-pixel run, odd chroma widths, one row pair to many.
        for (w, h) in [(2, 2), (6, 4), (102, 136), (130, 2), (256, 6), (258, 10)] {
            let (y, u, v): (Vec<u8>, Vec<u8>, Vec<u8>) = (
                (0..w * h).map(|_| next()).collect(),
                (0..w * h / 4).map(|_| next()).collect(),
                (0..w * h / 4).map(|_| next()).collect(),
            );
            for from in specs {
                for to in specs {
                    let Some(cc) = ColorConvert::new(from, to) else {
                        continue;
                    };
                    let (mut wy, mut wu, mut wv) = (y.clone(), u.clone(), v.clone());
                    reference(&cc, &mut wy, &mut wu, &mut wv, w, h);
                    for level in SimdLevel::available() {
                        let (mut gy, mut gu, mut gv) = (y.clone(), u.clone(), v.clone());
                        cc.apply(level, &mut gy, &mut gu, &mut gv, w, h);
                        assert!(
                            gy == wy && gu == wu && gv == wv,
                            "{level:?} {w}x{h} {from:?} -> {to:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn identical_tags_need_no_conversion() {
        assert!(ColorConvert::new(ColorSpec::default(), ColorSpec::default()).is_none());
    }

    #[test]
    fn converts_like_going_through_rgb() {
        let specs = all_specs();
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
                    cc.apply(SimdLevel::Scalar, &mut y, &mut u, &mut v, 2, 2);
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
