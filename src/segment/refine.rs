//! Matte refinement shared by the segmenters: from a coarse mask to a clean, stable matte at
//! seat resolution, and colour decontamination of the edge pixels.
//!
//! [`Refiner::refine`] runs, per frame:
//!
//! 1. **A fast guided filter** (He, Sun and Tang's guided filter, computed on the coarse grid
//!    and applied at full resolution, as in He and Sun's "fast guided filter"). The guide is
//!    the seat's luma, box-averaged onto the coarse grid. On that grid, in a
//!    `(2r+1)^2` window, it fits the mask as a linear function of luma, `p ≈ a*I + b`; the
//!    coefficients are averaged again, upsampled bilinearly to the seat and applied to the
//!    full-resolution luma: `q = a*Y + b`. So the matte's edges follow luma edges at full
//!    resolution although the mask was computed at half (or any coarser) resolution, noise
//!    in the mask is smoothed where luma is flat, and `eps` sets how strong a luma edge must
//!    be to be followed. Every box filter is separable: along x, `2r + 1` shifted rows
//!    added (vector code) for the small radii in use, a running sum for wider windows;
//!    along y, a running sum of rows (O(1) per pixel whatever `r`).
//! 2. **A small feather**: a light 3x3 blur (`[1 6 1] / 8` each way), so no edge is a
//!    1-pixel stair and the last bit of noise in the edge is averaged out. (A `[1 2 1] / 4`
//!    tent measured 9 levels more edge error for little less flicker; no feather, 4 times
//!    the flicker.)
//! 3. **Temporal smoothing without ghosting**, a soft dead band gated by motion: with `d`
//!    the change of a pixel from its previous output, a pixel whose luma did not change by
//!    more than `motion_gate` levels (noise, on a still person) moves by
//!    `d * min(1, |d| / T)`, which rounds to nothing for `|d| < sqrt(T)`, so a still
//!    person's matte stops changing; small real changes creep in (`d²/T` per frame) and a
//!    change of `T` or more is taken at once. A pixel whose luma changed (an edge moving
//!    across it) takes the new value at once, and so does a pixel that becomes pure room
//!    (0) or pure person (255), so a moving person leaves no trail. There is no recursive
//!    average, hence nothing to lag.
//! 4. Before that step, values of at most 3 are snapped to 0 and at least 252 to 255, so the
//!    room is not left faintly visible and the inside of the person blends as a copy.
//!
//! All scratch is owned by the [`Refiner`] and sized on the first frame (and when the seat
//! size changes); later frames allocate nothing.
//!
//! # Colour at the edges
//!
//! [`unmix`] and [`pull_foreground`] fix the colour of partly covered pixels so the
//! compositor's straight-alpha blend shows the person's colour there, not the old room's (see
//! [`Segmenter::decontaminate`](super::Segmenter::decontaminate)).

use crate::frame::{ColorSpec, PlaneMut, PlaneRef, Range};

use super::SeatColour;

/// Options of [`Refiner`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineOptions {
    /// Guided filter window radius, in coarse pixels (1: a 3x3 coarse window, about 6x6
    /// seat pixels for a half-resolution mask).
    pub radius: usize,
    /// Guided filter regularisation, in (luma / 255)² units: luma edges with a standard
    /// deviation well above `sqrt(eps) * 255` levels in the window are followed.
    pub eps: f32,
    /// Apply the 3x3 `[1 2 1]` feather.
    pub feather: bool,
    /// Temporal dead band `T` in matte levels, where the luma did not change; 0 turns
    /// temporal smoothing off.
    pub dead_band: u8,
    /// A pixel whose luma changed by more than this since the previous frame is moving: its
    /// matte follows at once (no dead band). 0: no motion test (the dead band everywhere).
    pub motion_gate: u8,
}

impl Default for RefineOptions {
    fn default() -> Self {
        Self {
            radius: 1,
            eps: 0.0001,
            feather: true,
            dead_band: 64,
            motion_gate: 10,
        }
    }
}

impl RefineOptions {
    /// Sets the guided filter radius (coarse pixels).
    pub fn with_radius(mut self, radius: usize) -> Self {
        self.radius = radius;
        self
    }
    /// Sets the guided filter regularisation.
    pub fn with_eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
    /// Turns the feather on or off.
    pub fn with_feather(mut self, feather: bool) -> Self {
        self.feather = feather;
        self
    }
    /// Sets the temporal dead band (0: off).
    pub fn with_dead_band(mut self, dead_band: u8) -> Self {
        self.dead_band = dead_band;
        self
    }
    /// Sets the luma change that counts as motion (0: no motion test).
    pub fn with_motion_gate(mut self, gate: u8) -> Self {
        self.motion_gate = gate;
        self
    }
}

/// Turns a coarse mask into a seat matte (guided filter, feather, temporal smoothing); keeps
/// the previous matte for the temporal step and all scratch.
#[derive(Debug, Clone, Default)]
pub struct Refiner {
    options: RefineOptions,
    /// Seat (luma) size and coarse size the scratch is laid out for.
    size: (usize, usize, usize, usize),
    /// Per coarse column / row: the seat pixel range it averages `[start, end)`.
    cols: Vec<(u32, u32)>,
    rows: Vec<(u32, u32)>,
    /// Every coarse column averages two seat columns (`w == 2 * cw`, the usual case).
    pairs: bool,
    /// Per seat column / row: the two coarse neighbours and the weight of the second.
    up_x: Vec<(u32, u32, f32)>,
    up_y: Vec<(u32, u32, f32)>,
    /// Box filter normalisation per coarse column / row (1 / window length).
    inv_cx: Vec<f32>,
    inv_cy: Vec<f32>,
    /// Coarse planes: guide, mask, I*p, I*I, then a, b (reused), and box filter temps.
    guide: Vec<f32>,
    mask: Vec<f32>,
    ip: Vec<f32>,
    ii: Vec<f32>,
    tmp: Vec<f32>,
    colsum: Vec<f32>,
    /// One luma row's sums while box-averaging onto the coarse grid.
    acc: Vec<u32>,
    /// a and b upsampled along x: coarse rows of seat width.
    wide_a: Vec<f32>,
    wide_b: Vec<f32>,
    /// One row's vertical feather sums (`[1 6 1]` of the raw matte, at most 8 * 255).
    fsum: Vec<u16>,
    /// Seat-size matte before the feather, and the previous output.
    raw: Vec<u8>,
    prev: Vec<u8>,
    /// The previous frame's luma (for the motion test).
    prev_luma: Vec<u8>,
    has_prev: bool,
}

impl Refiner {
    /// A refiner with `options`.
    pub fn new(options: RefineOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// The options in use.
    pub fn options(&self) -> &RefineOptions {
        &self.options
    }

    /// Forgets the previous matte (the next frame is not smoothed against it).
    pub fn reset(&mut self) {
        self.has_prev = false;
    }

    /// Lays out the scratch for a `w x h` seat and a `cw x ch` coarse mask; allocates only
    /// when a size changes.
    fn prepare(&mut self, w: usize, h: usize, cw: usize, ch: usize) {
        if self.size == (w, h, cw, ch) {
            return;
        }
        self.size = (w, h, cw, ch);
        self.has_prev = false;
        let ranges = |n: usize, m: usize| -> Vec<(u32, u32)> {
            (0..m)
                .map(|i| {
                    let s = i * n / m;
                    let e = ((i + 1) * n / m).max(s + 1).min(n);
                    (s as u32, e as u32)
                })
                .collect()
        };
        self.cols = ranges(w, cw);
        self.rows = ranges(h, ch);
        self.pairs = w == 2 * cw;
        // Pixel centres: seat x maps to coarse (x + 0.5) * cw / w - 0.5.
        let up = |n: usize, m: usize| -> Vec<(u32, u32, f32)> {
            (0..n)
                .map(|x| {
                    let c =
                        ((x as f32 + 0.5) * m as f32 / n as f32 - 0.5).clamp(0.0, (m - 1) as f32);
                    let i0 = c.floor() as usize;
                    let i1 = (i0 + 1).min(m - 1);
                    (i0 as u32, i1 as u32, c - i0 as f32)
                })
                .collect()
        };
        self.up_x = up(w, cw);
        self.up_y = up(h, ch);
        let r = self.options.radius;
        let inv = |m: usize| -> Vec<f32> {
            (0..m)
                .map(|i| {
                    let lo = i.saturating_sub(r);
                    let hi = (i + r).min(m - 1);
                    1.0 / (hi - lo + 1) as f32
                })
                .collect()
        };
        self.inv_cx = inv(cw);
        self.inv_cy = inv(ch);
        let n = cw * ch;
        for v in [
            &mut self.guide,
            &mut self.mask,
            &mut self.ip,
            &mut self.ii,
            &mut self.tmp,
        ] {
            v.clear();
            v.resize(n, 0.0);
        }
        self.colsum.clear();
        self.colsum.resize(cw, 0.0);
        self.acc.clear();
        self.acc.resize(w, 0);
        for v in [&mut self.wide_a, &mut self.wide_b] {
            v.clear();
            v.resize(w * ch, 0.0);
        }
        self.fsum.clear();
        self.fsum.resize(w, 0);
        self.raw.clear();
        self.raw.resize(w * h, 0);
        self.prev.clear();
        self.prev.resize(w * h, 0);
        self.prev_luma.clear();
        self.prev_luma.resize(w * h, 0);
    }

    /// Refines `coarse` (a mask of any size up to the seat's, 0..=255) into `out`, guided by
    /// `luma`. `out` must have the luma's size and `coarse` must be no larger; nothing is
    /// written (and `false` returned) otherwise, or when a plane is empty.
    pub fn refine(
        &mut self,
        luma: &PlaneRef<'_>,
        coarse: &PlaneRef<'_>,
        out: &mut PlaneMut<'_>,
    ) -> bool {
        let (w, h) = (luma.width(), luma.height());
        let (cw, ch) = (coarse.width(), coarse.height());
        if w == 0 || h == 0 || cw == 0 || ch == 0 || (out.width(), out.height()) != (w, h) {
            return false;
        }
        if cw > w || ch > h {
            return false;
        }
        self.prepare(w, h, cw, ch);
        self.coarse_inputs(luma, coarse);
        self.guided();
        self.finish(luma, out);
        true
    }

    /// Lays out the guided filter's inputs on the coarse grid: the guide (luma box-averaged,
    /// 0..1), the mask (0..1), I*p and I*I.
    fn coarse_inputs(&mut self, luma: &PlaneRef<'_>, coarse: &PlaneRef<'_>) {
        let (_, _, cw, _) = self.size;
        for (j, &(y0, y1)) in self.rows.iter().enumerate() {
            self.acc.fill(0);
            for y in y0..y1 {
                for (a, &v) in self.acc.iter_mut().zip(luma.row(y as usize)) {
                    *a += u32::from(v);
                }
            }
            let scale = 1.0 / (255.0 * (y1 - y0) as f32);
            let mrow = &coarse.row(j)[..cw];
            let span = j * cw..(j + 1) * cw;
            let out = self.guide[span.clone()]
                .iter_mut()
                .zip(&mut self.mask[span.clone()])
                .zip(self.ip[span.clone()].iter_mut().zip(&mut self.ii[span]));
            let set = |((g, p), (ip, ii)): ((&mut f32, &mut f32), (&mut f32, &mut f32)),
                       gv: f32,
                       m: u8| {
                let pv = f32::from(m) * (1.0 / 255.0);
                (*g, *p, *ip, *ii) = (gv, pv, gv * pv, gv * gv);
            };
            if self.pairs {
                // The usual half-size mask: a regular pattern, which vectorises.
                for ((o, c), &m) in out.zip(self.acc.chunks_exact(2)).zip(mrow) {
                    set(o, (c[0] + c[1]) as f32 * scale / 2.0, m);
                }
            } else {
                for ((o, &(x0, x1)), &m) in out.zip(&self.cols).zip(mrow) {
                    let s: u32 = self.acc[x0 as usize..x1 as usize].iter().sum();
                    set(o, s as f32 * scale / (x1 - x0) as f32, m);
                }
            }
        }
    }

    /// The guided filter on the coarse grid: leaves the averaged `a` in `ip`, `b` in `ii`
    /// (in levels: times 255).
    fn guided(&mut self) {
        let (_, _, cw, ch) = self.size;
        let r = self.options.radius;
        let eps = self.options.eps.max(1e-6);
        let bx = |buf: &mut [f32], tmp: &mut [f32], colsum: &mut [f32], ix: &[f32], iy: &[f32]| {
            box_mean(buf, tmp, colsum, cw, ch, r, ix, iy)
        };
        for buf in [&mut self.guide, &mut self.mask, &mut self.ip, &mut self.ii] {
            bx(
                buf,
                &mut self.tmp,
                &mut self.colsum,
                &self.inv_cx,
                &self.inv_cy,
            );
        }
        for (((&mi, &mp), a), b) in self
            .guide
            .iter()
            .zip(&self.mask)
            .zip(self.ip.iter_mut())
            .zip(self.ii.iter_mut())
        {
            let cov = *a - mi * mp;
            let var = *b - mi * mi;
            let av = cov / (var + eps);
            (*a, *b) = (av, (mp - av * mi) * 255.0);
        }
        for buf in [&mut self.ip, &mut self.ii] {
            bx(
                buf,
                &mut self.tmp,
                &mut self.colsum,
                &self.inv_cx,
                &self.inv_cy,
            );
        }
    }

    /// `q = a*Y + b` at seat resolution into `raw`, then feather, temporal step and snap into
    /// `out`.
    ///
    /// The bilinear upsample of `a` and `b` is done along x first, once per coarse row (the
    /// only gather), so every seat row is a plain lerp of two wide rows and the per-pixel
    /// loops here are straight-line code the compiler vectorises.
    fn finish(&mut self, luma: &PlaneRef<'_>, out: &mut PlaneMut<'_>) {
        let (w, h, cw, _) = self.size;
        let coarse_rows = self.ip.chunks_exact(cw).zip(self.ii.chunks_exact(cw));
        let wide_rows = self
            .wide_a
            .chunks_exact_mut(w)
            .zip(self.wide_b.chunks_exact_mut(w));
        for ((a, b), (wa, wb)) in coarse_rows.zip(wide_rows) {
            if self.pairs {
                widen_pairs(a, wa);
                widen_pairs(b, wb);
                continue;
            }
            for ((oa, ob), &(i0, i1, wx)) in wa.iter_mut().zip(wb.iter_mut()).zip(&self.up_x) {
                let (i0, i1) = (i0 as usize, i1 as usize);
                *oa = a[i0] + (a[i1] - a[i0]) * wx;
                *ob = b[i0] + (b[i1] - b[i0]) * wx;
            }
        }
        for (y, raw_row) in self.raw.chunks_exact_mut(w).enumerate() {
            let (j0, j1, wy) = self.up_y[y];
            let (a0, a1) = (
                &self.wide_a[j0 as usize * w..][..w],
                &self.wide_a[j1 as usize * w..][..w],
            );
            let (b0, b1) = (
                &self.wide_b[j0 as usize * w..][..w],
                &self.wide_b[j1 as usize * w..][..w],
            );
            apply_row(a0, a1, b0, b1, wy, &luma.row(y)[..w], raw_row);
        }
        let t = i32::from(self.options.dead_band);
        let smooth = t > 0 && self.has_prev;
        let gate = if self.options.motion_gate == 0 {
            u8::MAX
        } else {
            self.options.motion_gate
        };
        for y in 0..h {
            let orow = &mut out.row_mut(y)[..w];
            if self.options.feather {
                let up = &self.raw[y.saturating_sub(1) * w..][..w];
                let mid = &self.raw[y * w..][..w];
                let down = &self.raw[(y + 1).min(h - 1) * w..][..w];
                feather_row(up, mid, down, &mut self.fsum, orow);
            } else {
                orow.copy_from_slice(&self.raw[y * w..][..w]);
            }
            let prev = &mut self.prev[y * w..][..w];
            let prev_luma = &mut self.prev_luma[y * w..][..w];
            temporal_row(orow, prev, prev_luma, &luma.row(y)[..w], smooth, t, gate);
        }
        self.has_prev = true;
    }
}

/// One seat row of `q = a*Y + b` (clamped to 0..=255, rounded to u8), with `a` and `b`
/// (`b` in levels, already times 255) lerped by `wy` between the wide rows `a0`, `a1` and `b0`, `b1`. In blocks of 16 pixels,
/// whose bytes the compiler packs into one store.
fn apply_row(a0: &[f32], a1: &[f32], b0: &[f32], b1: &[f32], wy: f32, l: &[u8], out: &mut [u8]) {
    #[inline(always)]
    fn px(a0: f32, a1: f32, b0: f32, b1: f32, wy: f32, l: u8) -> u8 {
        let a = a0 + (a1 - a0) * wy;
        let b = b0 + (b1 - b0) * wy;
        // max before min, not clamp: a NaN becomes 0.
        #[allow(clippy::manual_clamp)]
        let q = (a * f32::from(l) + b).max(0.0).min(255.0);
        round_small(q) as u8
    }
    const B: usize = 16;
    let w = out.len();
    let (a0, a1, b0, b1, l) = (&a0[..w], &a1[..w], &b0[..w], &b1[..w], &l[..w]);
    let body = w / B * B;
    for k in (0..body).step_by(B) {
        let o: &mut [u8; B] = (&mut out[k..k + B]).try_into().expect("block");
        let (a0, a1) = (&a0[k..k + B], &a1[k..k + B]);
        let (b0, b1, l) = (&b0[k..k + B], &b1[k..k + B], &l[k..k + B]);
        for x in 0..B {
            o[x] = px(a0[x], a1[x], b0[x], b1[x], wy, l[x]);
        }
    }
    for x in body..w {
        out[x] = px(a0[x], a1[x], b0[x], b1[x], wy, l[x]);
    }
}

/// The bilinear upsample of one coarse row `a` to `out`, twice as wide, with the taps
/// `prepare` computes for that case written out: seat pixel `x` sits at coarse `x/2 - 0.25`,
/// so the ends copy `a`'s ends and each pair in between is `a[i]` moved a quarter and three
/// quarters of the way to `a[i + 1]` (the same arithmetic as the general taps).
fn widen_pairs(a: &[f32], out: &mut [f32]) {
    let n = a.len();
    let out = &mut out[..2 * n];
    out[0] = a[0];
    out[2 * n - 1] = a[n - 1];
    for ((o, &p), &q) in out[1..2 * n - 1].chunks_exact_mut(2).zip(a).zip(&a[1..]) {
        o[0] = p + (q - p) * 0.25;
        o[1] = p + (q - p) * 0.75;
    }
}

/// The feather of one row: `fsum` gets the vertical `[1 6 1]` sums of `up`, `mid`, `down`
/// (at most 8 * 255), then `out[x] = ([1 6 1] of fsum around x + 32) >> 6`, the row's ends
/// repeated. u16 throughout (at most 8 * 2040 + 32), so the loops vectorise.
fn feather_row(up: &[u8], mid: &[u8], down: &[u8], fsum: &mut [u16], out: &mut [u8]) {
    let w = out.len();
    let fsum = &mut fsum[..w];
    for (((f, &u), &m), &d) in fsum.iter_mut().zip(up).zip(mid).zip(down) {
        *f = u16::from(u) + 6 * u16::from(m) + u16::from(d);
    }
    let px = |l: u16, c: u16, r: u16| ((l + 6 * c + r + 32) >> 6) as u8;
    if w == 1 {
        out[0] = px(fsum[0], fsum[0], fsum[0]);
        return;
    }
    out[0] = px(fsum[0], fsum[0], fsum[1]);
    out[w - 1] = px(fsum[w - 2], fsum[w - 1], fsum[w - 1]);
    let (l, c, r) = (&fsum[..w - 2], &fsum[1..w - 1], &fsum[2..]);
    for (o, ((&l, &c), &r)) in out[1..w - 1].iter_mut().zip(l.iter().zip(c).zip(r)) {
        *o = px(l, c, r);
    }
}

/// Values of at most 3 become 0 and of at least 252 become 255.
#[inline(always)]
fn snap(v: u8) -> u8 {
    let v = if v <= 3 { 0 } else { v };
    if v >= 252 {
        255
    } else {
        v
    }
}

/// Pixels per block of [`temporal_row`]'s test for soft values.
const TEMPORAL_BLOCK: usize = 16;

/// The snap and the temporal dead band of one row (module docs, steps 3 and 4), in place in
/// `out`; `prev` and `prev_luma` get this frame's output and luma.
///
/// Only soft values (4..=251 before the snap) can be held, and most of a matte is pure room
/// or pure person: a block of [`TEMPORAL_BLOCK`] pixels without soft values is just snapped
/// and copied; the others go through [`temporal_span`].
fn temporal_row(
    out: &mut [u8],
    prev: &mut [u8],
    prev_luma: &mut [u8],
    luma: &[u8],
    smooth: bool,
    t: i32,
    gate: u8,
) {
    let n = out.len();
    let (prev, prev_luma, luma) = (&mut prev[..n], &mut prev_luma[..n], &luma[..n]);
    let blocks = out
        .chunks_mut(TEMPORAL_BLOCK)
        .zip(prev.chunks_mut(TEMPORAL_BLOCK))
        .zip(
            prev_luma
                .chunks_mut(TEMPORAL_BLOCK)
                .zip(luma.chunks(TEMPORAL_BLOCK)),
        );
    for ((o, p), (pl, l)) in blocks {
        let soft = o.iter().fold(false, |s, &v| s | (v > 3) & (v < 252));
        if smooth && soft {
            temporal_span(o, p, pl, l, t, gate);
        } else {
            for (o, p) in o.iter_mut().zip(p.iter_mut()) {
                *o = snap(*o);
                *p = *o;
            }
            pl.copy_from_slice(l);
        }
    }
}

/// [`temporal_row`] with the dead band on (`t > 0`, a previous frame), per pixel, in u8
/// arithmetic (16 lanes) but for the division, with selects, no branches, so it vectorises.
/// `v` moves from the previous `pv` by `ad² / t` towards itself (`d * |d| / t` with
/// `d = v - pv`, truncating), which stays between `pv` and `v`, so u8 adds do not wrap where
/// the result is used (they wrap, harmlessly, where `ad >= t` drops it).
#[inline(always)]
fn temporal_span(
    out: &mut [u8],
    prev: &mut [u8],
    prev_luma: &mut [u8],
    luma: &[u8],
    t: i32,
    gate: u8,
) {
    let (t8, tf) = (t.clamp(1, 255) as u8, t.clamp(1, 255) as f32);
    let it = out
        .iter_mut()
        .zip(prev.iter_mut())
        .zip(prev_luma.iter_mut().zip(luma));
    for ((o, p), (pl, &l)) in it {
        let v = snap(*o);
        let still = l.abs_diff(*pl) <= gate;
        *pl = l;
        let pv = *p;
        let ad = v.abs_diff(pv);
        let step = dead_band_step(ad, tf);
        let moved = if v < pv {
            pv.wrapping_sub(step)
        } else {
            pv.wrapping_add(step)
        };
        // Pure room and pure person are taken as they come (so nothing is left behind); the
        // dead band holds the soft values in between.
        let hold = still & (v != 0) & (v != 255) & (ad < t8);
        let v = if hold { snap(moved) } else { v };
        *o = v;
        *p = v;
    }
}

/// `ad² / t` truncated, for `tf = t` in 1..=255 and `ad < t` (other `ad`: some value, no
/// panic). Computed as an f32 division of `ad²`: both are integers below 2^16 and t ≤ 255, so
/// a non-integer quotient is at least 1/255 from an integer, far more than the division's
/// rounding error (below 2^-8), and the floor of the f32 quotient is the integer one (the
/// tests check every `ad` and `t`).
#[inline(always)]
fn dead_band_step(ad: u8, tf: f32) -> u8 {
    let n = u16::from(ad) * u16::from(ad);
    floor_small(f32::from(n) / tf) as u8
}

/// `y` rounded to the nearest integer (ties to even) for `0 <= y < 2^22`: `y + 2^23` rounds
/// it (the spacing of f32 there is 1) and the integer sits in the low mantissa bits. Two
/// float ops that vectorise, where Rust's saturating `as` conversions are scalarised.
#[inline(always)]
fn round_small(y: f32) -> u32 {
    const M: f32 = 8_388_608.0;
    (y + M).to_bits() - M.to_bits()
}

/// `y.floor()` (so `y as u32`) for `0 <= y < 2^22`, in plain float adds and a compare, which
/// vectorise: `y + 2^23` rounds `y` to an integer (the spacing of f32 there is 1), taking 1
/// off when that rounded up gives the floor, and the integer sits in the low mantissa bits of
/// `floor + 2^23`. Rust's saturating `as` conversions are scalarised by LLVM on x86-64.
#[inline(always)]
fn floor_small(y: f32) -> u32 {
    const M: f32 = 8_388_608.0;
    let r = (y + M) - M;
    let f = if r > y { r - 1.0 } else { r };
    (f + M).to_bits() - M.to_bits()
}

/// Widest window radius for which [`box_row`] sums `2r + 1` shifted copies of the row;
/// above it, a running sum. Measured (`refine` and `refine_radius` in `benches/segment.rs`,
/// 274x154 seat, 137-wide coarse rows, whole refinement, shifted vs running): r 1: 114 vs
/// 150-196 µs, r 2: 128-145 vs 158-164, r 4: 161-201 vs 166-169, r 8: 224 vs 163-176.
const SHIFTED_MAX_R: usize = 3;

/// `dst[x]` = `inv[x]` times the sum of `src` over `[x - r, x + r]` clipped to the row.
///
/// Small radii: the sum of `2r + 1` shifted slices over the interior (each pass vectorises)
/// and the clipped ends directly. A running sum is a loop-carried dependency (one add and
/// one subtract per pixel, serial), faster only for wide windows.
fn box_row(src: &[f32], dst: &mut [f32], r: usize, inv: &[f32]) {
    let w = src.len();
    let (dst, inv) = (&mut dst[..w], &inv[..w]);
    if r > SHIFTED_MAX_R {
        let mut s: f32 = src[..(r + 1).min(w)].iter().sum();
        for x in 0..w {
            dst[x] = s * inv[x];
            if x + r + 1 < w {
                s += src[x + r + 1];
            }
            if x >= r {
                s -= src[x - r];
            }
        }
        return;
    }
    match r {
        0 => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = v),
        1 => box_row_shifted::<3>(src, dst, inv),
        2 => box_row_shifted::<5>(src, dst, inv),
        _ => box_row_shifted::<7>(src, dst, inv),
    }
}

/// [`box_row`] for a window of `N = 2r + 1` (a constant, so the sum of the `N` shifted
/// values unrolls and the loop over the row vectorises).
#[inline(always)]
fn box_row_shifted<const N: usize>(src: &[f32], dst: &mut [f32], inv: &[f32]) {
    let (w, r) = (src.len(), N / 2);
    // Interior: x in r..r + n, whose window lies inside the row.
    let n = (w + 1).saturating_sub(N);
    let (lo, hi) = if n > 0 { (r, r + n) } else { (w, w) };
    let (out, inv_mid) = (&mut dst[lo..hi], &inv[lo..hi]);
    for (x, (d, &i)) in out.iter_mut().zip(inv_mid).enumerate() {
        let win = &src[x..x + N];
        let mut s = win[0];
        for &v in &win[1..] {
            s += v;
        }
        *d = s * i;
    }
    for x in (0..lo).chain(hi..w) {
        let win = &src[x.saturating_sub(r)..(x + r + 1).min(w)];
        dst[x] = win.iter().sum::<f32>() * inv[x];
    }
}

/// Replaces `buf` (`w x h`, row-major) by its mean over a `(2r+1)^2` window clipped to the
/// plane: a horizontal pass ([`box_row`]) into `tmp`, then a vertical running sum of its
/// columns (vectorised across columns). `inv_x` / `inv_y` are 1 / window length per column /
/// row.
#[allow(clippy::too_many_arguments)]
fn box_mean(
    buf: &mut [f32],
    tmp: &mut [f32],
    colsum: &mut [f32],
    w: usize,
    h: usize,
    r: usize,
    inv_x: &[f32],
    inv_y: &[f32],
) {
    for (src, dst) in buf.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        box_row(src, dst, r, inv_x);
    }
    colsum.fill(0.0);
    for row in tmp.chunks_exact(w).take(r + 1) {
        for (c, &v) in colsum.iter_mut().zip(row) {
            *c += v;
        }
    }
    // One pass per row: write the mean, then slide the window (add the row entering it,
    // subtract the one leaving it, in that order).
    let row = |y: usize| &tmp[y * w..][..w];
    for (y, out) in buf.chunks_exact_mut(w).enumerate() {
        let k = inv_y[y];
        let it = out.iter_mut().zip(colsum.iter_mut());
        match (y + r + 1 < h, y >= r) {
            (true, true) => {
                for ((d, c), (&a, &s)) in it.zip(row(y + r + 1).iter().zip(row(y - r))) {
                    *d = *c * k;
                    *c = *c + a - s;
                }
            }
            (true, false) => {
                for ((d, c), &a) in it.zip(row(y + r + 1)) {
                    *d = *c * k;
                    *c += a;
                }
            }
            (false, true) => {
                for ((d, c), &s) in it.zip(row(y - r)) {
                    *d = *c * k;
                    *c -= s;
                }
            }
            (false, false) => {
                for (d, c) in it {
                    *d = *c * k;
                }
            }
        }
    }
}

/// The legal code values of luma and chroma in `spec`'s range.
fn legal(spec: ColorSpec) -> ((f32, f32), (f32, f32)) {
    match spec.range {
        Range::Limited => ((16.0, 235.0), (16.0, 240.0)),
        Range::Full => ((0.0, 255.0), (0.0, 255.0)),
    }
}

/// The 2x2 mean of the matte over chroma pixel `(cx, cy)`, rounded like the compositor's.
#[inline]
fn chroma_alpha(matte: &PlaneRef<'_>, cx: usize, cy: usize) -> u32 {
    let (w, h) = (matte.width(), matte.height());
    let (x0, y0) = ((2 * cx).min(w - 1), (2 * cy).min(h - 1));
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (r0, r1) = (matte.row(y0), matte.row(y1));
    (u32::from(r0[x0]) + u32::from(r0[x1]) + u32::from(r1[x0]) + u32::from(r1[x1]) + 2) / 4
}

/// A background colour known per pixel (a learned room, a remembered green screen), for
/// [`unmix`]. Planes are packed; `u` and `v` at the seat's chroma size.
#[derive(Debug, Clone, Copy)]
pub struct KnownBackground<'a> {
    /// Background luma: at seat resolution, or at chroma resolution when `y_half`.
    pub y: &'a [u8],
    /// `y` is at chroma resolution.
    pub y_half: bool,
    /// Background U.
    pub u: &'a [u8],
    /// Background V.
    pub v: &'a [u8],
}

/// Unmixes partly covered pixels against a known background: where `0 < a < 255`, the pixel
/// was seen as `C = a*F + (1-a)*B`, so the person's colour is `F = B + (C - B) / a` (clamped
/// to the legal range). Then the straight-alpha blend `F*a + D*(1-a)` equals
/// `C + (1-a)*(D - B)`: the room is replaced, not darkened or lightened.
///
/// That is done for luma, with the matte. Chroma is half resolution, and its coverage (the
/// matte's 2x2 mean, what the compositor blends chroma with) is only an estimate of how the
/// camera mixed it; dividing by an underestimate overshoots away from the background (a
/// magenta fringe around a person keyed from green). So a partly covered chroma pixel takes
/// the mean chroma of the fully covered ones next to it (3x3), and is unmixed only when it
/// has none. Does nothing if a size does not match.
pub fn unmix(
    colour: &mut SeatColour<'_>,
    matte: &PlaneRef<'_>,
    bg: &KnownBackground<'_>,
    spec: ColorSpec,
) {
    let (w, h) = (colour.y.width(), colour.y.height());
    let (cw, ch) = (colour.u.width(), colour.u.height());
    let y_len = if bg.y_half { cw * ch } else { w * h };
    if (matte.width(), matte.height()) != (w, h)
        || (colour.v.width(), colour.v.height()) != (cw, ch)
        || w == 0
        || h == 0
        || cw == 0
        || ch == 0
        || cw != w.div_ceil(2)
        || ch != h.div_ceil(2)
        || bg.y.len() != y_len
        || bg.u.len() != cw * ch
        || bg.v.len() != cw * ch
    {
        return;
    }
    let ((ylo, yhi), (clo, chi)) = legal(spec);
    for y in 0..h {
        let mrow = matte.row(y);
        let brow = if bg.y_half {
            &bg.y[(y / 2) * cw..][..cw]
        } else {
            &bg.y[y * w..][..w]
        };
        let crow = colour.y.row_mut(y);
        for (x, (c, &a)) in crow.iter_mut().zip(mrow).enumerate() {
            if a == 0 || a == 255 {
                continue;
            }
            let b = f32::from(if bg.y_half { brow[x / 2] } else { brow[x] });
            let f = b + (f32::from(*c) - b) * (255.0 / f32::from(a));
            *c = (f.clamp(ylo, yhi) + 0.5) as u8;
        }
    }
    for (plane, bgc) in [(&mut colour.u, bg.u), (&mut colour.v, bg.v)] {
        for cy in 0..ch {
            for cx in 0..cw {
                let a = chroma_alpha(matte, cx, cy);
                if a == 0 || a == 255 {
                    continue;
                }
                let f = match inside_mean(plane, matte, cx, cy) {
                    Some(m) => m,
                    None => {
                        let b = f32::from(bgc[cy * cw + cx]);
                        let c = f32::from(plane.row_mut(cy)[cx]);
                        (b + (c - b) * (255.0 / a as f32)).clamp(clo, chi) + 0.5
                    }
                };
                plane.row_mut(cy)[cx] = f as u8;
            }
        }
    }
}

/// The mean (+ 0.5, for rounding) of the fully covered chroma pixels around `(cx, cy)` (3x3),
/// if there are any.
fn inside_mean(
    plane: &mut PlaneMut<'_>,
    matte: &PlaneRef<'_>,
    cx: usize,
    cy: usize,
) -> Option<f32> {
    let (cw, ch) = (plane.width(), plane.height());
    let (mut s, mut n) = (0u32, 0u32);
    for yy in cy.saturating_sub(1)..(cy + 2).min(ch) {
        for xx in cx.saturating_sub(1)..(cx + 2).min(cw) {
            if chroma_alpha(matte, xx, yy) == 255 {
                s += u32::from(plane.row_mut(yy)[xx]);
                n += 1;
            }
        }
    }
    (n > 0).then(|| s as f32 / n as f32 + 0.5)
}

pub use super::foreground::pull_foreground;

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w x h` luma plane: `lo` left of column `edge`, `hi` from it on, plus a pattern of
    /// +-`n` levels of noise varying with `seed`.
    fn luma(w: usize, h: usize, edge: usize, lo: u8, hi: u8, n: i32, seed: u32) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let base = if x < edge { lo } else { hi };
                let k = (x as u32 * 7 + y as u32 * 13 + seed * 5) % 5;
                (i32::from(base) + (k as i32 - 2) * n / 2).clamp(0, 255) as u8
            })
            .collect()
    }

    fn refine(r: &mut Refiner, l: &[u8], c: &[u8], w: usize, h: usize, out: &mut [u8]) -> bool {
        r.refine(
            &PlaneRef::packed(l, w, h).unwrap(),
            &PlaneRef::packed(c, w / 2, h / 2).unwrap(),
            &mut PlaneMut::new(out, w, h, w).unwrap(),
        )
    }

    #[test]
    fn edges_follow_luma_at_full_resolution() {
        // The luma edge is at column 33 (odd: inside a chroma pixel); the coarse mask only
        // knows "coarse column 16 is half covered".
        let (w, h) = (64, 16);
        let l = luma(w, h, 33, 60, 180, 0, 0);
        let c: Vec<u8> = (0..(w / 2) * (h / 2))
            .map(|i| match i % (w / 2) {
                0..=15 => 0,
                16 => 128,
                _ => 255,
            })
            .collect();
        let mut out = vec![0; w * h];
        let mut r = Refiner::new(RefineOptions::default());
        assert!(refine(&mut r, &l, &c, w, h, &mut out));
        for row in out.chunks_exact(w) {
            assert!(row[..31].iter().all(|&v| v == 0), "{row:?}");
            assert!(row[35..].iter().all(|&v| v == 255), "{row:?}");
            assert!(row[32] < 64 && row[33] > 191, "{row:?}");
        }
    }

    #[test]
    fn flat_masks_stay_flat() {
        let (w, h) = (30, 20);
        let l = luma(w, h, 15, 40, 200, 6, 1);
        let mut r = Refiner::new(RefineOptions::default());
        let mut out = vec![7; w * h];
        for v in [0u8, 255] {
            r.reset();
            assert!(refine(&mut r, &l, &[v; 150], w, h, &mut out));
            assert!(out.iter().all(|&o| o == v));
        }
    }

    #[test]
    fn temporal_step_holds_a_still_matte_and_follows_motion_at_once() {
        let (w, h) = (64, 16);
        let c: Vec<u8> = (0..32 * 8)
            .map(|i| if i % 32 < 16 { 0 } else { 255 })
            .collect();
        let mut r = Refiner::new(RefineOptions::default());
        let (mut first, mut out) = (vec![0; w * h], vec![0; w * h]);
        // A soft luma edge, so the matte has intermediate values that noise can move.
        let soft: Vec<u8> = (0..w * h).map(|i| (40 + (i % w) * 3) as u8).collect();
        refine(&mut r, &soft, &c, w, h, &mut first);
        assert!(first.iter().any(|&v| v > 20 && v < 235));
        for seed in 1..10 {
            let noisy: Vec<u8> = soft
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    v.wrapping_add(((i as u32 * 31 + seed * 17) % 5) as u8)
                        .wrapping_sub(2)
                })
                .collect();
            refine(&mut r, &noisy, &c, w, h, &mut out);
            let moved = out
                .iter()
                .zip(&first)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(moved <= 8, "noise moved the matte by {moved}");
        }
        // Without the dead band the same noise does move it (a uniform offset would not:
        // the guided filter is invariant to it).
        let mut r0 = Refiner::new(RefineOptions::default().with_dead_band(0));
        refine(&mut r0, &soft, &c, w, h, &mut first);
        let noisy: Vec<u8> = soft
            .iter()
            .enumerate()
            .map(|(i, &v)| v + ((i as u32 * 31 + 17) % 5) as u8)
            .collect();
        refine(&mut r0, &noisy, &c, w, h, &mut out);
        assert_ne!(out, first);
        // The person moves: the mask and the luma edge jump by 16 pixels, and the matte
        // follows in one frame.
        let c2: Vec<u8> = (0..32 * 8)
            .map(|i| if i % 32 < 24 { 0 } else { 255 })
            .collect();
        let l2 = luma(w, h, 48, 60, 180, 0, 0);
        let l1 = luma(w, h, 32, 60, 180, 0, 0);
        let mut r = Refiner::new(RefineOptions::default());
        refine(&mut r, &l1, &c, w, h, &mut out);
        refine(&mut r, &l2, &c2, w, h, &mut out);
        for row in out.chunks_exact(w) {
            assert!(row[..46].iter().all(|&v| v == 0), "{row:?}");
            assert!(row[50..].iter().all(|&v| v == 255), "{row:?}");
        }
    }

    #[test]
    fn steady_state_reuses_its_scratch() {
        let (w, h) = (40, 30);
        let l = luma(w, h, 20, 50, 150, 4, 0);
        let c = vec![128u8; 20 * 15];
        let mut out = vec![0; w * h];
        let mut r = Refiner::new(RefineOptions::default());
        refine(&mut r, &l, &c, w, h, &mut out);
        let ptrs = (
            r.raw.as_ptr(),
            r.guide.as_ptr(),
            r.prev.as_ptr(),
            r.tmp.as_ptr(),
        );
        for _ in 0..5 {
            refine(&mut r, &l, &c, w, h, &mut out);
        }
        assert_eq!(
            ptrs,
            (
                r.raw.as_ptr(),
                r.guide.as_ptr(),
                r.prev.as_ptr(),
                r.tmp.as_ptr()
            )
        );
    }

    #[test]
    fn mismatched_sizes_are_refused() {
        let l = vec![0u8; 16];
        let mut out = vec![0u8; 16];
        let mut r = Refiner::default();
        let big = [0u8; 25];
        for (c, cw, ch) in [(&big[..], 5, 5), (&big[..0], 0, 0)] {
            assert!(!r.refine(
                &PlaneRef::packed(&l, 4, 4).unwrap(),
                &PlaneRef::packed(c, cw, ch).unwrap(),
                &mut PlaneMut::new(&mut out, 4, 4, 4).unwrap(),
            ));
        }
        let mut small = vec![0u8; 4];
        assert!(!r.refine(
            &PlaneRef::packed(&l, 4, 4).unwrap(),
            &PlaneRef::packed(&l[..4], 2, 2).unwrap(),
            &mut PlaneMut::new(&mut small, 2, 2, 2).unwrap(),
        ));
    }

    /// A seeded pseudo-random byte stream (LCG).
    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (s >> 56) as u8
            })
            .collect()
    }

    /// The guided filter stage written plainly, in f64: box averages onto the coarse grid, an
    /// O(r²) clipped box mean, the per-pixel fit, bilinear taps per seat pixel. Returns the
    /// seat-size matte before the feather (what `Refiner::raw` holds).
    #[allow(clippy::too_many_arguments)]
    fn reference_guided(
        l: &[u8],
        w: usize,
        h: usize,
        c: &[u8],
        cw: usize,
        ch: usize,
        r: usize,
        eps: f64,
    ) -> Vec<u8> {
        let range = |i: usize, n: usize, m: usize| {
            let s = i * n / m;
            (s, ((i + 1) * n / m).max(s + 1).min(n))
        };
        let mut guide = vec![0f64; cw * ch];
        for j in 0..ch {
            let (y0, y1) = range(j, h, ch);
            for i in 0..cw {
                let (x0, x1) = range(i, w, cw);
                let mut s = 0.0;
                for y in y0..y1 {
                    for x in x0..x1 {
                        s += f64::from(l[y * w + x]);
                    }
                }
                guide[j * cw + i] = s / (255.0 * ((y1 - y0) * (x1 - x0)) as f64);
            }
        }
        let boxed = |p: &[f64]| -> Vec<f64> {
            let mut o = vec![0f64; cw * ch];
            for j in 0..ch {
                for i in 0..cw {
                    let (mut s, mut n) = (0.0, 0.0);
                    for jj in j.saturating_sub(r)..(j + r + 1).min(ch) {
                        for ii in i.saturating_sub(r)..(i + r + 1).min(cw) {
                            s += p[jj * cw + ii];
                            n += 1.0;
                        }
                    }
                    o[j * cw + i] = s / n;
                }
            }
            o
        };
        let p: Vec<f64> = c.iter().map(|&v| f64::from(v) / 255.0).collect();
        let ip: Vec<f64> = guide.iter().zip(&p).map(|(g, p)| g * p).collect();
        let ii: Vec<f64> = guide.iter().map(|g| g * g).collect();
        let (mi, mp, mip, mii) = (boxed(&guide), boxed(&p), boxed(&ip), boxed(&ii));
        let mut a = vec![0f64; cw * ch];
        let mut b = vec![0f64; cw * ch];
        for k in 0..cw * ch {
            a[k] = (mip[k] - mi[k] * mp[k]) / (mii[k] - mi[k] * mi[k] + eps);
            b[k] = mp[k] - a[k] * mi[k];
        }
        let (a, b) = (boxed(&a), boxed(&b));
        let tap = |x: usize, n: usize, m: usize| {
            let c = ((x as f64 + 0.5) * m as f64 / n as f64 - 0.5).clamp(0.0, (m - 1) as f64);
            let i0 = c.floor() as usize;
            (i0, (i0 + 1).min(m - 1), c - i0 as f64)
        };
        let lerp = |p: &[f64], x: usize, y: usize| {
            let ((i0, i1, wx), (j0, j1, wy)) = (tap(x, w, cw), tap(y, h, ch));
            let at = |i: usize, j: usize| p[j * cw + i];
            let top = at(i0, j0) + (at(i1, j0) - at(i0, j0)) * wx;
            let bottom = at(i0, j1) + (at(i1, j1) - at(i0, j1)) * wx;
            top + (bottom - top) * wy
        };
        (0..w * h)
            .map(|k| {
                let (x, y) = (k % w, k / w);
                let q = lerp(&a, x, y) * f64::from(l[k]) + lerp(&b, x, y) * 255.0;
                (q.clamp(0.0, 255.0) + 0.5).floor() as u8
            })
            .collect()
    }

    /// Feather, snap and temporal step written plainly (integers, branches), from the raw
    /// matte, the previous output and luma (`None`: no previous frame).
    fn reference_finish(
        raw: &[u8],
        l: &[u8],
        w: usize,
        h: usize,
        o: &RefineOptions,
        prev: Option<(&[u8], &[u8])>,
    ) -> Vec<u8> {
        let at = |x: isize, y: isize| -> u32 {
            let x = x.clamp(0, w as isize - 1) as usize;
            let y = y.clamp(0, h as isize - 1) as usize;
            u32::from(raw[y * w + x])
        };
        let snap = |v: i32| -> i32 {
            if v <= 3 {
                0
            } else if v >= 252 {
                255
            } else {
                v
            }
        };
        let t = i32::from(o.dead_band);
        let gate = if o.motion_gate == 0 {
            255
        } else {
            o.motion_gate
        };
        (0..w * h)
            .map(|k| {
                let (x, y) = ((k % w) as isize, (k / w) as isize);
                let f = if o.feather {
                    let k3 = [1, 6, 1];
                    let mut s = 0;
                    for (dy, ky) in (-1..=1).zip(k3) {
                        for (dx, kx) in (-1..=1).zip(k3) {
                            s += ky * kx * at(x + dx, y + dy);
                        }
                    }
                    (s + 32) >> 6
                } else {
                    at(x, y)
                };
                let mut v = snap(f as i32);
                if let Some((pv, pl)) = prev {
                    let still = l[k].abs_diff(pl[k]) <= gate;
                    if t > 0 && still && v != 0 && v != 255 {
                        let d = v - i32::from(pv[k]);
                        if d.abs() < t {
                            v = snap(i32::from(pv[k]) + d * d.abs() / t);
                        }
                    }
                }
                v as u8
            })
            .collect()
    }

    #[test]
    fn matches_a_plain_reference() {
        // (seat, coarse): half size even and odd (and even only along x, the 2x taps), a
        // coarse grid of another ratio, a coarse grid as large as the seat, a single pixel.
        let sizes = [
            ((64, 16), (32, 8)),
            ((37, 23), (19, 12)),
            ((40, 23), (20, 12)),
            ((50, 31), (13, 9)),
            ((9, 5), (9, 5)),
            ((3, 7), (1, 2)),
            ((1, 1), (1, 1)),
        ];
        let (mut worst, mut off, mut total) = (0, 0, 0);
        for (si, &((w, h), (cw, ch))) in sizes.iter().enumerate() {
            for r in [0, 1, 2, 4, 5, 9] {
                for (feather, dead_band, gate) in [(true, 64, 10), (false, 0, 10), (true, 16, 0)] {
                    let o = RefineOptions::default()
                        .with_radius(r)
                        .with_feather(feather)
                        .with_dead_band(dead_band)
                        .with_motion_gate(gate);
                    let mut refiner = Refiner::new(o);
                    let mut prev: Option<(Vec<u8>, Vec<u8>)> = None;
                    for frame in 0..4u64 {
                        let seed = (si as u64) << 32 | (r as u64) << 8 | frame;
                        // Luma: a step edge and a ramp plus noise; the top rows change by 20
                        // levels every other frame (motion), the rest only by noise (still).
                        let noise = bytes(w * h, seed);
                        let l: Vec<u8> = (0..w * h)
                            .map(|k| {
                                let (x, y) = (k % w, k / w);
                                let base = if x * 3 < w { 50 } else { 170 } + y * 2;
                                let moved = if y * 4 < h && frame % 2 == 1 { 20 } else { 0 };
                                (base + moved + usize::from(noise[k] % 7)).min(255) as u8
                            })
                            .collect();
                        // Mask: a soft-edged blob plus a little noise, so there are pure,
                        // soft and snapped values.
                        let mn = bytes(cw * ch, seed ^ 0xABCD);
                        let c: Vec<u8> = (0..cw * ch)
                            .map(|k| {
                                let (x, y) = ((k % cw) as i32, (k / cw) as i32);
                                let d = (x - cw as i32 / 2).abs() + (y - ch as i32 / 2).abs();
                                let v = 255 - 40 * d + i32::from(mn[k] % 32) - 16;
                                v.clamp(0, 255) as u8
                            })
                            .collect();
                        let mut out = vec![0u8; w * h];
                        assert!(refiner.refine(
                            &PlaneRef::packed(&l, w, h).unwrap(),
                            &PlaneRef::packed(&c, cw, ch).unwrap(),
                            &mut PlaneMut::new(&mut out, w, h, w).unwrap(),
                        ));
                        let raw = reference_guided(&l, w, h, &c, cw, ch, r, f64::from(o.eps));
                        let diff = raw
                            .iter()
                            .zip(&refiner.raw)
                            .map(|(a, b)| a.abs_diff(*b))
                            .max()
                            .unwrap();
                        assert!(
                            diff <= 1,
                            "{w}x{h} from {cw}x{ch}, r {r}, frame {frame}: raw differs by {diff}"
                        );
                        worst = worst.max(diff);
                        off += raw.iter().zip(&refiner.raw).filter(|(a, b)| a != b).count();
                        total += raw.len();
                        // From the refiner's own raw matte on, the maths is integer: exact.
                        let p = prev.as_ref().map(|(a, b)| (&a[..], &b[..]));
                        let want = reference_finish(&refiner.raw, &l, w, h, &o, p);
                        assert_eq!(out, want, "{w}x{h} from {cw}x{ch}, {o:?}, frame {frame}");
                        prev = Some((out, l));
                    }
                }
            }
        }
        eprintln!("raw vs the f64 reference: largest difference {worst}, {off} of {total} differ");
    }

    #[test]
    fn dead_band_division_is_exact() {
        for t in 1..=255i32 {
            let tf = t as f32;
            for ad in 0..t {
                let step = i32::from(dead_band_step(ad as u8, tf));
                assert_eq!(step, ad * ad / t, "ad {ad} t {t}");
            }
        }
    }

    #[test]
    fn floor_small_is_floor() {
        // Every quarter, every value just below and above an integer, up to 2^16.
        for k in 0..=(1u32 << 16) {
            let kf = k as f32;
            for y in [kf, kf + 0.25, kf + 0.5, kf + 0.75] {
                assert_eq!(floor_small(y), y as u32, "{y}");
            }
            let below = f32::from_bits(kf.to_bits().saturating_sub(1));
            if k > 0 {
                assert_eq!(floor_small(below), k - 1, "{below}");
            }
            let above = f32::from_bits(kf.to_bits() + 1);
            assert_eq!(floor_small(above), above as u32, "{above}");
        }
    }

    fn colour<'a>(
        y: &'a mut [u8],
        u: &'a mut [u8],
        v: &'a mut [u8],
        w: usize,
        h: usize,
    ) -> SeatColour<'a> {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        SeatColour {
            y: PlaneMut::new(y, w, h, w).unwrap(),
            u: PlaneMut::new(u, cw, ch, cw).unwrap(),
            v: PlaneMut::new(v, cw, ch, cw).unwrap(),
        }
    }

    #[test]
    fn unmix_recovers_the_person_colour() {
        // 4x2: coverage 0, 64, 191, 255 in both rows; person (200, 90, 160) over room
        // (60, 140, 100), mixed with exactly that coverage.
        let a = [0u8, 64, 191, 255, 0, 64, 191, 255];
        let mix = |f: f32, b: f32, a: u8| {
            (f * f32::from(a) / 255.0 + b * (1.0 - f32::from(a) / 255.0)).round() as u8
        };
        let mut y: Vec<u8> = a.iter().map(|&a| mix(200.0, 60.0, a)).collect();
        // Chroma: 2x1; the compositor's chroma alpha is the 2x2 mean: (0+64+0+64+2)/4 = 32
        // and (191+255+191+255+2)/4 = 223.
        let mut u = vec![mix(90.0, 140.0, 32), mix(90.0, 140.0, 223)];
        let mut v = vec![mix(160.0, 100.0, 32), mix(160.0, 100.0, 223)];
        let bg_y = [60u8; 8];
        let bg = KnownBackground {
            y: &bg_y,
            y_half: false,
            u: &[140, 140],
            v: &[100, 100],
        };
        unmix(
            &mut colour(&mut y, &mut u, &mut v, 4, 2),
            &PlaneRef::packed(&a, 4, 2).unwrap(),
            &bg,
            ColorSpec::BT601_LIMITED,
        );
        for (x, &yy) in y.iter().enumerate() {
            match a[x] {
                0 => assert_eq!(yy, 60),
                _ => assert!(yy.abs_diff(200) <= 2, "x {x}: {yy}"),
            }
        }
        assert!(u.iter().all(|&c| c.abs_diff(90) <= 4), "{u:?}");
        assert!(v.iter().all(|&c| c.abs_diff(160) <= 4), "{v:?}");
    }

    #[test]
    fn pull_foreground_copies_the_inside_colour_outward() {
        // 6x2: inside (a = 255) on the right is 200; the edge pixel (a = 128) was 120.
        let a = [0u8, 0, 0, 128, 255, 255, 0, 0, 0, 128, 255, 255];
        let mut y = vec![60u8, 60, 60, 120, 200, 200, 60, 60, 60, 120, 200, 200];
        let (mut u, mut v) = (vec![128u8; 3], vec![128u8; 3]);
        pull_foreground(
            &mut colour(&mut y, &mut u, &mut v, 6, 2),
            &PlaneRef::packed(&a, 6, 2).unwrap(),
        );
        assert_eq!(y, [60, 60, 60, 200, 200, 200, 60, 60, 60, 200, 200, 200]);
    }
}
