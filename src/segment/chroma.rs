//! Chroma key (green screen) on U/V, with spill suppression.
//!
//! # How a pixel is keyed
//!
//! Keying happens at chroma resolution (where 4:2:0 has colour at all). A pixel's chroma
//! `c = (U - 128, V - 128)` is compared with the key colour's `k` in coordinates along and
//! across the key's direction: `along = c·k̂ - |k|` (how much more or less saturated than the
//! key, which is mostly the screen's uneven lighting) and `across = c×k̂` (a different hue).
//! The distance is `sqrt(across² + (s*along)²)` with `s = saturation_weight` (< 1, so a
//! darker or brighter part of the screen still keys, while a cyan or teal shirt, which
//! differs in hue, does not). Two thresholds make it a soft key: at most `similarity` is
//! screen (0), at least `similarity + smoothness` is person (255), linear between.
//!
//! The coarse mask then goes through the shared [`Refiner`] (guided by luma, so edges are
//! placed at full resolution; feather; temporal smoothing).
//!
//! # Colour
//!
//! [`Segmenter::decontaminate`]: edge pixels are unmixed against the screen colour
//! ([`refine::unmix`](super::refine::unmix)): the screen is remembered per chroma pixel
//! wherever the matte was entirely 0 (a "clean plate" that follows the screen's uneven
//! lighting; the key colour until a pixel has been seen), so a half-covered pixel's green is
//! removed, not blended into the new scene. Then **spill suppression**: green light bounced
//! onto the person (and whatever the unmixing left) is removed by pulling a pixel's chroma
//! toward neutral along the key direction, by its component toward the key times a strength
//! that is 1 for colours just outside the key and falls to 0 at `similarity + smoothness +
//! spill_range`; colours far from the key (skin, most clothes) are left alone.

use crate::frame::{ColorSpec, Matrix, PlaneMut, PlaneRef, Range};

use super::refine::{unmix, KnownBackground, RefineOptions, Refiner};
use super::{Matte, SeatColour, SegmentInput, Segmenter};

/// Options of [`ChromaKey`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChromaKeyOptions {
    /// The screen's colour, RGB (default chroma green, 0x00B140).
    pub key: [u8; 3],
    /// Chroma distance (8-bit code values) up to which a pixel is screen.
    pub similarity: f32,
    /// Width of the soft ramp above `similarity`.
    pub smoothness: f32,
    /// Weight of saturation differences relative to hue differences (0..=1).
    pub saturation_weight: f32,
    /// Spill suppression strength (0: off, 1: full).
    pub spill: f32,
    /// How far beyond the key's ramp spill is suppressed (chroma distance).
    pub spill_range: f32,
    /// Matte refinement.
    pub refine: RefineOptions,
}

impl Default for ChromaKeyOptions {
    fn default() -> Self {
        Self {
            key: [0, 177, 64],
            similarity: 10.0,
            smoothness: 10.0,
            saturation_weight: 0.35,
            spill: 1.0,
            spill_range: 16.0,
            refine: RefineOptions::default(),
        }
    }
}

impl ChromaKeyOptions {
    /// Sets the key colour (RGB).
    pub fn with_key(mut self, rgb: [u8; 3]) -> Self {
        self.key = rgb;
        self
    }
    /// Sets the two thresholds: screen up to `similarity`, person from `similarity +
    /// smoothness`.
    pub fn with_thresholds(mut self, similarity: f32, smoothness: f32) -> Self {
        self.similarity = similarity;
        self.smoothness = smoothness;
        self
    }
    /// Sets the spill suppression strength (0..=1).
    pub fn with_spill(mut self, spill: f32) -> Self {
        self.spill = spill;
        self
    }
    /// Sets the refinement options.
    pub fn with_refine(mut self, refine: RefineOptions) -> Self {
        self.refine = refine;
        self
    }
}

/// An RGB colour (0..=255) as Y, U, V code values in `spec`.
pub fn rgb_to_yuv(rgb: [u8; 3], spec: ColorSpec) -> [f32; 3] {
    let (kr, kb) = match spec.matrix {
        Matrix::Bt601 => (0.299, 0.114),
        Matrix::Bt709 => (0.2126, 0.0722),
    };
    let [r, g, b] = rgb.map(|v| f32::from(v) / 255.0);
    let y = kr * r + (1.0 - kr - kb) * g + kb * b;
    let cb = (b - y) / (2.0 * (1.0 - kb));
    let cr = (r - y) / (2.0 * (1.0 - kr));
    let (black, ys, cs) = match spec.range {
        Range::Limited => (16.0, 219.0, 224.0),
        Range::Full => (0.0, 255.0, 255.0),
    };
    [black + ys * y, 128.0 + cs * cb, 128.0 + cs * cr]
}

/// The key in one colour space: its Y, U, V, and its chroma direction and length.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key {
    spec: ColorSpec,
    yuv: [f32; 3],
    dir: (f32, f32),
    len: f32,
}

impl Key {
    fn new(rgb: [u8; 3], spec: ColorSpec) -> Self {
        let yuv = rgb_to_yuv(rgb, spec);
        let (ku, kv) = (yuv[1] - 128.0, yuv[2] - 128.0);
        let len = (ku * ku + kv * kv).sqrt();
        let dir = if len > 1e-3 {
            (ku / len, kv / len)
        } else {
            (0.0, 0.0)
        };
        Self {
            spec,
            yuv,
            dir,
            len,
        }
    }

    /// (distance to the key, component of the chroma along the key direction).
    #[inline]
    fn distance(&self, u: u8, v: u8, sat_weight: f32) -> (f32, f32) {
        let (cu, cv) = (f32::from(u) - 128.0, f32::from(v) - 128.0);
        let along = cu * self.dir.0 + cv * self.dir.1;
        let across = cu * self.dir.1 - cv * self.dir.0;
        let ds = (along - self.len) * sat_weight;
        ((across * across + ds * ds).sqrt(), along)
    }
}

/// A chroma keyer for one seat (see the module docs).
#[derive(Debug, Clone)]
pub struct ChromaKey {
    options: ChromaKeyOptions,
    key: Key,
    /// Seat size the scratch is laid out for.
    size: (usize, usize),
    /// The coarse mask at chroma resolution.
    coarse: Vec<u8>,
    /// The screen as last seen, per chroma pixel (Y as the 2x2 mean).
    plate_y: Vec<u8>,
    plate_u: Vec<u8>,
    plate_v: Vec<u8>,
    refiner: Refiner,
}

impl ChromaKey {
    /// A keyer with `options`.
    pub fn new(options: ChromaKeyOptions) -> Self {
        Self {
            options,
            key: Key::new(options.key, ColorSpec::default()),
            size: (0, 0),
            coarse: Vec::new(),
            plate_y: Vec::new(),
            plate_u: Vec::new(),
            plate_v: Vec::new(),
            refiner: Refiner::new(options.refine),
        }
    }

    /// The options in use.
    pub fn options(&self) -> &ChromaKeyOptions {
        &self.options
    }

    /// Sizes the scratch for a `w x h` seat (allocates only on a change) and forgets the
    /// remembered screen.
    fn prepare(&mut self, w: usize, h: usize, spec: ColorSpec) {
        if self.key.spec != spec {
            self.key = Key::new(self.options.key, spec);
            self.size = (0, 0);
        }
        if self.size == (w, h) {
            return;
        }
        self.size = (w, h);
        let n = w.div_ceil(2) * h.div_ceil(2);
        let [ky, ku, kv] = self.key.yuv.map(|c| (c + 0.5).clamp(0.0, 255.0) as u8);
        for (p, v) in [
            (&mut self.plate_y, ky),
            (&mut self.plate_u, ku),
            (&mut self.plate_v, kv),
        ] {
            p.clear();
            p.resize(n, v);
        }
        self.coarse.clear();
        self.coarse.resize(n, 0);
        self.refiner.reset();
    }
}

/// Luma size and chroma size agree with 4:2:0 and the matte; the sizes, if so.
pub(crate) fn check_sizes(
    input: &SegmentInput<'_>,
    matte: &PlaneMut<'_>,
) -> Option<(usize, usize, usize, usize)> {
    let (w, h) = (input.y.width(), input.y.height());
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let ok = w > 0
        && h > 0
        && (input.u.width(), input.u.height()) == (cw, ch)
        && (input.v.width(), input.v.height()) == (cw, ch)
        && (matte.width(), matte.height()) == (w, h);
    ok.then_some((w, h, cw, ch))
}

/// The mean of the 2x2 luma block of chroma pixel `cx` in rows `r0`, `r1`.
#[inline]
pub(crate) fn luma2(r0: &[u8], r1: &[u8], cx: usize) -> u8 {
    let w = r0.len();
    let (x0, x1) = (2 * cx, (2 * cx + 1).min(w - 1));
    ((u32::from(r0[x0]) + u32::from(r0[x1]) + u32::from(r1[x0]) + u32::from(r1[x1]) + 2) / 4) as u8
}

/// Whether the 2x2 block of chroma pixel `cx` in matte rows `r0`, `r1` is entirely 0.
#[inline]
pub(crate) fn block_clear(r0: &[u8], r1: &[u8], cx: usize) -> bool {
    let w = r0.len();
    let (x0, x1) = (2 * cx, (2 * cx + 1).min(w - 1));
    (r0[x0] | r0[x1] | r1[x0] | r1[x1]) == 0
}

impl Segmenter for ChromaKey {
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte {
        let Some((w, h, cw, ch)) = check_sizes(input, matte) else {
            return Matte::Opaque;
        };
        self.prepare(w, h, input.color);
        let o = &self.options;
        let (lo, ramp) = (o.similarity, o.smoothness.max(1e-3));
        for (cy, row) in self.coarse.chunks_exact_mut(cw).enumerate() {
            for ((m, &u), &v) in row.iter_mut().zip(input.u.row(cy)).zip(input.v.row(cy)) {
                let (d, _) = self.key.distance(u, v, o.saturation_weight);
                *m = (((d - lo) / ramp).clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
            }
        }
        let coarse = match PlaneRef::packed(&self.coarse, cw, ch) {
            Ok(c) => c,
            Err(_) => return Matte::Opaque,
        };
        if !self.refiner.refine(&input.y, &coarse, matte) {
            return Matte::Opaque;
        }
        // Remember the screen wherever the matte shows none of the person.
        let m = matte.as_ref();
        for cy in 0..ch {
            let (y0, y1) = (2 * cy, (2 * cy + 1).min(h - 1));
            let (m0, m1) = (m.row(y0), m.row(y1));
            let (l0, l1) = (input.y.row(y0), input.y.row(y1));
            let (ur, vr) = (input.u.row(cy), input.v.row(cy));
            let span = cy * cw..(cy + 1) * cw;
            let plates = self.plate_y[span.clone()]
                .iter_mut()
                .zip(&mut self.plate_u[span.clone()])
                .zip(&mut self.plate_v[span]);
            for (cx, ((py, pu), pv)) in plates.enumerate() {
                if block_clear(m0, m1, cx) {
                    (*py, *pu, *pv) = (luma2(l0, l1, cx), ur[cx], vr[cx]);
                }
            }
        }
        Matte::Written
    }

    fn decontaminate(&mut self, colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
        let (w, h) = (colour.y.width(), colour.y.height());
        if self.size != (w, h) {
            return;
        }
        let bg = KnownBackground {
            y: &self.plate_y,
            y_half: true,
            u: &self.plate_u,
            v: &self.plate_v,
        };
        unmix(colour, matte, &bg, self.key.spec);
        let o = &self.options;
        if o.spill <= 0.0 {
            return;
        }
        let start = o.similarity + o.smoothness;
        let range = o.spill_range.max(1e-3);
        let (cw, ch) = (colour.u.width(), colour.u.height());
        let (du, dv) = self.key.dir;
        for cy in 0..ch {
            let (y0, y1) = ((2 * cy).min(h - 1), (2 * cy + 1).min(h - 1));
            let (m0, m1) = (matte.row(y0), matte.row(y1));
            for cx in 0..cw {
                if block_clear(m0, m1, cx) {
                    continue;
                }
                let (u, v) = (colour.u.row_mut(cy)[cx], colour.v.row_mut(cy)[cx]);
                let (d, along) = self.key.distance(u, v, o.saturation_weight);
                if along <= 0.0 || d >= start + range {
                    continue;
                }
                let s = (((start + range - d) / range).min(1.0) * o.spill).min(1.0) * along;
                let nu = f32::from(u) - s * du;
                let nv = f32::from(v) - s * dv;
                colour.u.row_mut(cy)[cx] = (nu + 0.5).clamp(0.0, 255.0) as u8;
                colour.v.row_mut(cy)[cx] = (nv + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_green_in_bt601_limited() {
        let [y, u, v] = rgb_to_yuv([0, 177, 64], ColorSpec::BT601_LIMITED);
        assert!((y - 111.5).abs() < 0.5 && (u - 104.6).abs() < 0.5 && (v - 58.3).abs() < 0.5);
        let [y, u, v] = rgb_to_yuv([255, 255, 255], ColorSpec::BT709_LIMITED);
        assert!((y - 235.0).abs() < 1e-3 && (u - 128.0).abs() < 1e-3 && (v - 128.0).abs() < 1e-3);
    }

    /// A 16x8 seat: green screen left of column 8, a skin-coloured person from it on.
    fn seat() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let spec = ColorSpec::BT601_LIMITED;
        let [gy, gu, gv] = rgb_to_yuv([0, 177, 64], spec).map(|c| c as u8);
        let [sy, su, sv] = rgb_to_yuv([224, 172, 138], spec).map(|c| c as u8);
        let y = (0..128).map(|i| if i % 16 < 8 { gy } else { sy }).collect();
        let u = (0..32).map(|i| if i % 8 < 4 { gu } else { su }).collect();
        let v = (0..32).map(|i| if i % 8 < 4 { gv } else { sv }).collect();
        (y, u, v)
    }

    fn input<'a>(y: &'a [u8], u: &'a [u8], v: &'a [u8]) -> SegmentInput<'a> {
        SegmentInput {
            y: PlaneRef::packed(y, 16, 8).unwrap(),
            u: PlaneRef::packed(u, 8, 4).unwrap(),
            v: PlaneRef::packed(v, 8, 4).unwrap(),
            input_alpha: None,
            participant: "p",
            pts: 0,
            color: ColorSpec::BT601_LIMITED,
            source: None,
        }
    }

    #[test]
    fn keys_the_screen_and_keeps_the_person() {
        let (y, u, v) = seat();
        let mut m = vec![9u8; 128];
        let mut k = ChromaKey::new(ChromaKeyOptions::default());
        let r = k.segment(
            &input(&y, &u, &v),
            &mut PlaneMut::new(&mut m, 16, 8, 16).unwrap(),
        );
        assert_eq!(r, Matte::Written);
        for row in m.chunks_exact(16) {
            assert!(row[..6].iter().all(|&a| a == 0), "{row:?}");
            assert!(row[10..].iter().all(|&a| a == 255), "{row:?}");
        }
        // A darker and a brighter part of the screen key too; a teal shirt (other hue,
        // similar saturation) does not.
        let key = Key::new([0, 177, 64], ColorSpec::BT601_LIMITED);
        let o = ChromaKeyOptions::default();
        for scale in [0.8f32, 1.1] {
            let [_, u, v] = rgb_to_yuv([0, (177.0 * scale) as u8, (64.0 * scale) as u8], key.spec);
            assert!(key.distance(u as u8, v as u8, o.saturation_weight).0 < o.similarity);
        }
        let [_, u, v] = rgb_to_yuv([0, 150, 150], key.spec);
        assert!(
            key.distance(u as u8, v as u8, o.saturation_weight).0 > o.similarity + o.smoothness
        );
    }

    #[test]
    fn spill_is_pulled_toward_neutral_and_skin_is_left_alone() {
        let spec = ColorSpec::BT601_LIMITED;
        let (y, mut u, mut v) = seat();
        // Column 5 of the chroma (person side): skin with a green cast.
        let [_, su, sv] = rgb_to_yuv([224, 172, 138], spec);
        let [_, cu, cv] = rgb_to_yuv([150, 200, 110], spec);
        for row in 0..4 {
            u[row * 8 + 5] = cu as u8;
            v[row * 8 + 5] = cv as u8;
        }
        let mut m = vec![0u8; 128];
        let mut k = ChromaKey::new(ChromaKeyOptions::default());
        let mut yy = y.clone();
        assert_eq!(
            k.segment(
                &input(&y, &u, &v),
                &mut PlaneMut::new(&mut m, 16, 8, 16).unwrap()
            ),
            Matte::Written
        );
        let before = k.key.distance(cu as u8, cv as u8, 0.35).1;
        let mut c = SeatColour {
            y: PlaneMut::new(&mut yy, 16, 8, 16).unwrap(),
            u: PlaneMut::new(&mut u, 8, 4, 8).unwrap(),
            v: PlaneMut::new(&mut v, 8, 4, 8).unwrap(),
        };
        k.decontaminate(&mut c, &PlaneRef::packed(&m, 16, 8).unwrap());
        let after = k.key.distance(u[5], v[5], 0.35).1;
        assert!(after < before * 0.75, "greenness {before} -> {after}");
        assert_eq!((u[7], v[7]), (su as u8, sv as u8));
    }

    #[test]
    fn mismatched_planes_are_opaque_not_a_panic() {
        let (y, u, v) = seat();
        let mut m = vec![0u8; 128];
        let mut k = ChromaKey::new(ChromaKeyOptions::default());
        let bad = SegmentInput {
            u: PlaneRef::packed(&u[..16], 4, 4).unwrap(),
            ..input(&y, &u, &v)
        };
        assert_eq!(
            k.segment(&bad, &mut PlaneMut::new(&mut m, 16, 8, 16).unwrap()),
            Matte::Opaque
        );
        let mut small = vec![0u8; 4];
        assert_eq!(
            k.segment(
                &input(&y, &u, &v),
                &mut PlaneMut::new(&mut small, 2, 2, 2).unwrap()
            ),
            Matte::Opaque
        );
    }
}
