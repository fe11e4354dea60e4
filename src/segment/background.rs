//! A per-seat adaptive background model: learns a static camera's room, then separates the
//! person from it.
//!
//! # The learning phase
//!
//! The first [`BackgroundOptions::learn_frames`] frames a seat receives (default 30: one
//! second at 30 fps) are the learning phase, and **must show the empty room** (the
//! participant steps out of view, or the camera starts before they sit down). During it the
//! seat is transparent (the matte is 0), and every pixel's mean and variance are learned
//! (Welford's running estimate). A pixel that, after the first 4 frames, jumps far from what
//! it has learned (someone walking through) is not learned from in that frame. A person who
//! sits still through the learning phase is learned as room: re-create the segmenter, or
//! call [`BackgroundModel::relearn`], to start over. The learning phase also restarts when
//! the seat size changes.
//!
//! # Separating the person
//!
//! The model works at chroma resolution: per pixel, the 2x2 mean of luma (which halves
//! sensor noise) and U, V, each with a learned mean, and a variance for luma and one for
//! chroma, floored at `min_sigma_y` / `min_sigma_c` levels. A pixel's distance from the room
//! is `D = sqrt(dY²/varY + (dU² + dV²)/varC)`, in standard deviations; a soft two-threshold
//! ramp turns it into a coarse mask (room below `threshold_lo`, person above
//! `threshold_hi`). The shared [`Refiner`] then places the edges at full resolution by luma,
//! feathers, and smooths over time.
//!
//! # Adapting without absorbing the person
//!
//! After learning, the model keeps following slow changes of the room (light through a
//! window, auto exposure): every frame, the pixels whose final matte is 0 over their whole
//! 2x2 block move their mean and variance toward what is seen, at `1 / 2^adapt_shift` per
//! frame (about 2 s at 30 fps with the default 6). Pixels the matte gives any part of the
//! person are never learned from, however long the person sits still, so a still person is
//! not absorbed into the background. (The price: a room change under the person, or an
//! object moved while they sit there, stays foreground until the room is seen again.)
//!
//! # Colour
//!
//! The model also keeps the room's luma at full resolution, so edge pixels are unmixed
//! against the room actually behind them ([`refine::unmix`](super::refine::unmix)): the
//! room's colour is taken out of half-covered pixels instead of being blended into the new
//! scene.

use crate::frame::{ColorSpec, PlaneMut, PlaneRef};

use super::chroma::{block_clear, check_sizes, luma2};
use super::refine::{unmix, KnownBackground, RefineOptions, Refiner};
use super::{Matte, SeatColour, SegmentInput, Segmenter};

/// Options of [`BackgroundModel`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackgroundOptions {
    /// Frames of the empty room to learn from.
    pub learn_frames: u32,
    /// Distance from the room (standard deviations) up to which a pixel is room.
    pub threshold_lo: f32,
    /// Distance from which a pixel is person.
    pub threshold_hi: f32,
    /// Floor of the luma standard deviation (levels of the 2x2 mean).
    pub min_sigma_y: f32,
    /// Floor of the chroma standard deviation (levels).
    pub min_sigma_c: f32,
    /// After learning, room pixels adapt at `1 / 2^adapt_shift` per frame (0..=15).
    pub adapt_shift: u8,
    /// Matte refinement.
    pub refine: RefineOptions,
}

impl Default for BackgroundOptions {
    fn default() -> Self {
        Self {
            learn_frames: 30,
            threshold_lo: 3.0,
            threshold_hi: 6.0,
            min_sigma_y: 2.0,
            min_sigma_c: 1.5,
            adapt_shift: 6,
            refine: RefineOptions::default(),
        }
    }
}

impl BackgroundOptions {
    /// Sets the number of learning frames.
    pub fn with_learn_frames(mut self, frames: u32) -> Self {
        self.learn_frames = frames;
        self
    }
    /// Sets the two thresholds (standard deviations).
    pub fn with_thresholds(mut self, lo: f32, hi: f32) -> Self {
        self.threshold_lo = lo;
        self.threshold_hi = hi;
        self
    }
    /// Sets the refinement options.
    pub fn with_refine(mut self, refine: RefineOptions) -> Self {
        self.refine = refine;
        self
    }
}

/// One pixel of the model at chroma resolution.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    mean: [f32; 3],
    /// Luma variance, chroma variance (per channel).
    var: [f32; 2],
    /// Frames learned from (during the learning phase).
    count: u32,
}

/// The background model of one seat (see the module docs).
#[derive(Debug, Clone)]
pub struct BackgroundModel {
    options: BackgroundOptions,
    /// Frames seen since the (re)start of learning.
    frames: u32,
    size: (usize, usize),
    cells: Vec<Cell>,
    /// The room's luma at seat resolution.
    room_y: Vec<f32>,
    /// 8-bit copies of the room, for unmixing.
    room8_y: Vec<u8>,
    room8_u: Vec<u8>,
    room8_v: Vec<u8>,
    /// Whether each chroma pixel was learned from this frame (learning phase).
    accepted: Vec<bool>,
    coarse: Vec<u8>,
    refiner: Refiner,
    spec: ColorSpec,
}

impl BackgroundModel {
    /// A model with `options`; it starts learning with its first frame.
    pub fn new(options: BackgroundOptions) -> Self {
        Self {
            options,
            frames: 0,
            size: (0, 0),
            cells: Vec::new(),
            room_y: Vec::new(),
            room8_y: Vec::new(),
            room8_u: Vec::new(),
            room8_v: Vec::new(),
            accepted: Vec::new(),
            coarse: Vec::new(),
            refiner: Refiner::new(options.refine),
            spec: ColorSpec::default(),
        }
    }

    /// The options in use.
    pub fn options(&self) -> &BackgroundOptions {
        &self.options
    }

    /// Forgets the room: the next frames are a new learning phase.
    pub fn relearn(&mut self) {
        self.frames = 0;
        self.refiner.reset();
    }

    /// Whether the learning phase is over.
    pub fn learned(&self) -> bool {
        self.frames >= self.options.learn_frames
    }

    fn prepare(&mut self, w: usize, h: usize) {
        if self.size == (w, h) {
            return;
        }
        self.size = (w, h);
        self.frames = 0;
        let n = w.div_ceil(2) * h.div_ceil(2);
        self.cells.clear();
        self.cells.resize(n, Cell::default());
        self.accepted.clear();
        self.accepted.resize(n, false);
        self.coarse.clear();
        self.coarse.resize(n, 0);
        self.room_y.clear();
        self.room_y.resize(w * h, 0.0);
        self.room8_y.clear();
        self.room8_y.resize(w * h, 0);
        for p in [&mut self.room8_u, &mut self.room8_v] {
            p.clear();
            p.resize(n, 128);
        }
        self.refiner.reset();
    }

    /// One learning frame: Welford's update of every pixel that is not an outlier.
    fn learn(&mut self, input: &SegmentInput<'_>, cw: usize, ch: usize) {
        let (w, h) = self.size;
        let o = self.options;
        let (fy, fc) = (o.min_sigma_y * o.min_sigma_y, o.min_sigma_c * o.min_sigma_c);
        let t2 = o.threshold_hi * o.threshold_hi;
        for cy in 0..ch {
            let (y0, y1) = (2 * cy, (2 * cy + 1).min(h - 1));
            let (l0, l1) = (input.y.row(y0), input.y.row(y1));
            let (ur, vr) = (input.u.row(cy), input.v.row(cy));
            for cx in 0..cw {
                let i = cy * cw + cx;
                let c = &mut self.cells[i];
                let x = [
                    f32::from(luma2(l0, l1, cx)),
                    f32::from(ur[cx]),
                    f32::from(vr[cx]),
                ];
                let d = [x[0] - c.mean[0], x[1] - c.mean[1], x[2] - c.mean[2]];
                if c.count >= 4 {
                    let dist2 = d[0] * d[0] / (c.var[0] + fy)
                        + (d[1] * d[1] + d[2] * d[2]) / (c.var[1] + fc);
                    if dist2 > t2 {
                        self.accepted[i] = false;
                        continue;
                    }
                }
                c.count += 1;
                let k = 1.0 / c.count as f32;
                let mut m = c.mean;
                for (m, d) in m.iter_mut().zip(d) {
                    *m += d * k;
                }
                // Welford: var += (d * (x - new mean) - var) / n.
                let vy = d[0] * (x[0] - m[0]);
                let vc = 0.5 * (d[1] * (x[1] - m[1]) + d[2] * (x[2] - m[2]));
                c.var[0] += (vy - c.var[0]) * k;
                c.var[1] += (vc - c.var[1]) * k;
                c.mean = m;
                self.accepted[i] = true;
                self.room8_u[i] = (m[1] + 0.5).clamp(0.0, 255.0) as u8;
                self.room8_v[i] = (m[2] + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
        for y in 0..h {
            let lrow = input.y.row(y);
            let acc = &self.accepted[(y / 2) * cw..][..cw];
            let cells = &self.cells[(y / 2) * cw..][..cw];
            let room = &mut self.room_y[y * w..][..w];
            let room8 = &mut self.room8_y[y * w..][..w];
            for x in 0..w {
                if acc[x / 2] {
                    let k = 1.0 / cells[x / 2].count as f32;
                    room[x] += (f32::from(lrow[x]) - room[x]) * k;
                    room8[x] = (room[x] + 0.5) as u8;
                }
            }
        }
    }

    /// After learning: the coarse mask from each pixel's distance to the room.
    fn classify(&mut self, input: &SegmentInput<'_>, cw: usize, ch: usize) {
        let h = self.size.1;
        let o = self.options;
        let (fy, fc) = (o.min_sigma_y * o.min_sigma_y, o.min_sigma_c * o.min_sigma_c);
        let lo = o.threshold_lo;
        let ramp = (o.threshold_hi - o.threshold_lo).max(1e-3);
        for cy in 0..ch {
            let (y0, y1) = (2 * cy, (2 * cy + 1).min(h - 1));
            let (l0, l1) = (input.y.row(y0), input.y.row(y1));
            let (ur, vr) = (input.u.row(cy), input.v.row(cy));
            let cells = &self.cells[cy * cw..][..cw];
            let out = &mut self.coarse[cy * cw..][..cw];
            for (cx, (m, c)) in out.iter_mut().zip(cells).enumerate() {
                let dy = f32::from(luma2(l0, l1, cx)) - c.mean[0];
                let du = f32::from(ur[cx]) - c.mean[1];
                let dv = f32::from(vr[cx]) - c.mean[2];
                let dist =
                    (dy * dy / (c.var[0] + fy) + (du * du + dv * dv) / (c.var[1] + fc)).sqrt();
                *m = (((dist - lo) / ramp).clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
            }
        }
    }

    /// After learning: pixels whose final matte is 0 over their 2x2 block follow the room.
    fn adapt(&mut self, input: &SegmentInput<'_>, matte: &PlaneRef<'_>, cw: usize, ch: usize) {
        let (w, h) = self.size;
        let k = 1.0 / (1u32 << self.options.adapt_shift.min(15)) as f32;
        for cy in 0..ch {
            let (y0, y1) = (2 * cy, (2 * cy + 1).min(h - 1));
            let (m0, m1) = (matte.row(y0), matte.row(y1));
            let (l0, l1) = (input.y.row(y0), input.y.row(y1));
            let (ur, vr) = (input.u.row(cy), input.v.row(cy));
            for cx in 0..cw {
                if !block_clear(m0, m1, cx) {
                    continue;
                }
                let i = cy * cw + cx;
                let c = &mut self.cells[i];
                let x = [
                    f32::from(luma2(l0, l1, cx)),
                    f32::from(ur[cx]),
                    f32::from(vr[cx]),
                ];
                let d = [x[0] - c.mean[0], x[1] - c.mean[1], x[2] - c.mean[2]];
                for (m, d) in c.mean.iter_mut().zip(d) {
                    *m += d * k;
                }
                c.var[0] += (d[0] * d[0] - c.var[0]) * k;
                c.var[1] += (0.5 * (d[1] * d[1] + d[2] * d[2]) - c.var[1]) * k;
                self.room8_u[i] = (c.mean[1] + 0.5).clamp(0.0, 255.0) as u8;
                self.room8_v[i] = (c.mean[2] + 0.5).clamp(0.0, 255.0) as u8;
                for y in [y0, y1] {
                    let lrow = input.y.row(y);
                    for x in [2 * cx, (2 * cx + 1).min(w - 1)] {
                        let r = &mut self.room_y[y * w + x];
                        *r += (f32::from(lrow[x]) - *r) * k;
                        self.room8_y[y * w + x] = (*r + 0.5) as u8;
                    }
                }
            }
        }
    }
}

impl Segmenter for BackgroundModel {
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte {
        let Some((w, h, cw, ch)) = check_sizes(input, matte) else {
            return Matte::Opaque;
        };
        self.prepare(w, h);
        self.spec = input.color;
        if !self.learned() {
            self.learn(input, cw, ch);
            self.frames += 1;
            matte.fill(0);
            return Matte::Written;
        }
        self.classify(input, cw, ch);
        let coarse = match PlaneRef::packed(&self.coarse, cw, ch) {
            Ok(c) => c,
            Err(_) => return Matte::Opaque,
        };
        if !self.refiner.refine(&input.y, &coarse, matte) {
            return Matte::Opaque;
        }
        self.adapt(input, &matte.as_ref(), cw, ch);
        Matte::Written
    }

    fn decontaminate(&mut self, colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
        if self.size != (colour.y.width(), colour.y.height()) || !self.learned() {
            return;
        }
        let bg = KnownBackground {
            y: &self.room8_y,
            y_half: false,
            u: &self.room8_u,
            v: &self.room8_v,
        };
        unmix(colour, matte, &bg, self.spec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 48;
    const H: usize = 32;

    /// A textured room; with `person`, a block over columns 16..32, rows 8..
    fn frame(person: bool, seed: u32) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let noise = |i: usize| {
            ((i as u32).wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) >> 29
        } as u8;
        let inside = |x: usize, y: usize| person && (16..32).contains(&x) && y >= 8;
        let y = (0..W * H)
            .map(|i| {
                let (x, r) = (i % W, i / W);
                if inside(x, r) {
                    150 + noise(i)
                } else {
                    60 + (x as u8 * 5) % 40 + noise(i)
                }
            })
            .collect();
        let c = |base: u8, p: u8| -> Vec<u8> {
            (0..(W / 2) * (H / 2))
                .map(|i| {
                    if inside(2 * (i % (W / 2)), 2 * (i / (W / 2))) {
                        p
                    } else {
                        base
                    }
                })
                .collect()
        };
        (y, c(120, 100), c(130, 160))
    }

    fn run(m: &mut BackgroundModel, f: &(Vec<u8>, Vec<u8>, Vec<u8>), out: &mut [u8]) -> Matte {
        let input = SegmentInput {
            y: PlaneRef::packed(&f.0, W, H).unwrap(),
            u: PlaneRef::packed(&f.1, W / 2, H / 2).unwrap(),
            v: PlaneRef::packed(&f.2, W / 2, H / 2).unwrap(),
            input_alpha: None,
            participant: "p",
            pts: 0,
            color: ColorSpec::BT601_LIMITED,
            source: None,
        };
        m.segment(&input, &mut PlaneMut::new(out, W, H, W).unwrap())
    }

    /// The first pixel that is not (nearly) 255 well inside the block or (nearly) 0 well
    /// outside it; "well" is 3 pixels inside and 4 outside, the reach of the refinement's
    /// soft edge.
    fn person_wrong(out: &[u8]) -> Option<(usize, usize, u8)> {
        out.chunks_exact(W).enumerate().find_map(|(r, row)| {
            row.iter().enumerate().find_map(|(x, &a)| {
                let inside = (19..29).contains(&x) && r >= 11;
                let outside = !(12..36).contains(&x) || r < 4;
                ((inside && a < 245) || (outside && a > 8)).then_some((x, r, a))
            })
        })
    }

    #[test]
    fn learns_the_room_then_cuts_out_the_person_and_never_absorbs_them() {
        let mut m = BackgroundModel::new(BackgroundOptions::default().with_learn_frames(10));
        let mut out = vec![7u8; W * H];
        for k in 0..10 {
            assert!(!m.learned());
            assert_eq!(run(&mut m, &frame(false, k), &mut out), Matte::Written);
            assert!(out.iter().all(|&a| a == 0), "transparent while learning");
        }
        assert!(m.learned());
        run(&mut m, &frame(false, 99), &mut out);
        assert!(out.iter().all(|&a| a == 0), "the empty room is room");
        // The person sits still for 20 seconds: still there at the end.
        for k in 0..600 {
            run(&mut m, &frame(true, k), &mut out);
            assert_eq!(person_wrong(&out), None, "frame {k}");
        }
        // They leave: the room is room again at once.
        run(&mut m, &frame(false, 7), &mut out);
        assert!(out.iter().all(|&a| a == 0));
    }

    #[test]
    fn a_person_walking_through_the_learning_phase_is_not_learned() {
        let mut m = BackgroundModel::new(BackgroundOptions::default().with_learn_frames(20));
        let mut out = vec![0u8; W * H];
        for k in 0..20 {
            run(&mut m, &frame((8..12).contains(&k), k), &mut out);
        }
        run(&mut m, &frame(true, 50), &mut out);
        assert_eq!(person_wrong(&out), None);
    }

    #[test]
    fn a_new_seat_size_starts_learning_again() {
        let mut m = BackgroundModel::new(BackgroundOptions::default().with_learn_frames(3));
        let mut out = vec![0u8; W * H];
        for k in 0..4 {
            run(&mut m, &frame(false, k), &mut out);
        }
        assert!(m.learned());
        let (y, u, v) = (vec![100u8; 64], vec![128u8; 16], vec![128u8; 16]);
        let input = SegmentInput {
            y: PlaneRef::packed(&y, 8, 8).unwrap(),
            u: PlaneRef::packed(&u, 4, 4).unwrap(),
            v: PlaneRef::packed(&v, 4, 4).unwrap(),
            input_alpha: None,
            participant: "p",
            pts: 0,
            color: ColorSpec::BT601_LIMITED,
            source: None,
        };
        let mut small = vec![0u8; 64];
        m.segment(&input, &mut PlaneMut::new(&mut small, 8, 8, 8).unwrap());
        assert!(!m.learned());
        m.relearn();
        assert!(!m.learned());
    }
}
