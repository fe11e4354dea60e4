//! Cleaning a person matte: keep the person's main region and nothing apart from it, and
//! fade the matte where the person runs into a side or the top of the seat.
//!
//! A segmentation network marks, now and then, patches of the room that look like a person
//! (a headrest, a coat on a chair, someone passing far behind), and a seat crops the person
//! wherever the camera's frame is narrower than the person. Two steps, both cheap and both
//! allocation-free once the size is known ([`MatteCleaner`] keeps its scratch):
//!
//! 1. [`MatteCleaner::keep_main_region`]: threshold the mask at 128, grow that by a small
//!    radius ([`CleanOptions::grow`], a fraction of the mask's longer side, so a strand of
//!    hair or a hand a little apart from the body still counts as connected), find the
//!    8-connected regions of the grown mask and keep the one of most matte mass; every pixel
//!    outside it is set to 0. Run on the coarse mask before refinement (the ML segmenter's
//!    half-size grid), so the guided filter draws the kept region's edges as before, and
//!    again after it on the final matte's 2x2 maxima
//!    ([`MatteCleaner::keep_main_region_final`]): refinement can cut a thin bridge the coarse
//!    mask had to a patch beside the person.
//! 2. [`MatteCleaner::fade_edges`]: multiply the matte near the seat's left, right and top
//!    edges by a smoothstep ramp over [`CleanOptions::edge_fade`] of the seat's width, so a
//!    person cut by the seat's side or top fades out there instead of ending in a straight
//!    hard line. The bottom edge is left as it is: torsos end there. Run on the final matte.

use crate::frame::PlaneMut;

/// Options of [`MatteCleaner`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanOptions {
    /// Keep only the main region (else step 1 is skipped).
    pub keep_main_region: bool,
    /// How far the thresholded mask is grown before finding regions, as a fraction of the
    /// mask's longer side (at least one pixel). Default 0.012: about 4 seat pixels for a
    /// 320-pixel-tall seat.
    pub grow: f32,
    /// Width of the fade at the side and top edges, as a fraction of the seat's width; 0
    /// turns the fade off. Default 0.04.
    pub edge_fade: f32,
    /// The person's confident core: mask values at least this (out of 255) are sure to be
    /// the person. Used by [`CleanOptions::reach`].
    pub core: u8,
    /// How far the mask may reach beyond the confident core, as a fraction of the mask's
    /// longer side: further out it fades to 0 (smoothstep, over the same distance again).
    /// Drops broad, unsure patches the network attaches to a person (a headrest, a car
    /// seat: 0.55..0.8 probability) while the person's own edges, a few pixels from the
    /// core, stay. 0 turns it off.
    pub reach: f32,
    /// How far the final (refined) matte may reach beyond its half-covered pixels (at least
    /// 128), as a fraction of the seat's longer side: further out it fades to 0 over the same
    /// distance again ([`MatteCleaner::limit_tail`]). Refinement and the temporal step leave
    /// faint matte where the person was or where the room resembles them (a railing's
    /// stripe, a trail behind a moving head), apart from the person; this drops it. 0 turns
    /// it off. Default 0.012, the region step's growth.
    pub tail: f32,
}

impl Default for CleanOptions {
    fn default() -> Self {
        Self {
            keep_main_region: true,
            grow: 0.012,
            edge_fade: 0.04,
            core: 230,
            reach: 0.0,
            tail: 0.012,
        }
    }
}

impl CleanOptions {
    /// Turns keeping only the main region on or off.
    pub fn with_keep_main_region(mut self, on: bool) -> Self {
        self.keep_main_region = on;
        self
    }
    /// Sets the growth before finding regions (fraction of the longer side).
    pub fn with_grow(mut self, grow: f32) -> Self {
        self.grow = grow;
        self
    }
    /// Sets the edge fade's width (fraction of the seat's width; 0: off).
    pub fn with_edge_fade(mut self, edge_fade: f32) -> Self {
        self.edge_fade = edge_fade;
        self
    }
    /// Sets how far the final matte may reach beyond its half-covered pixels (fraction of the
    /// longer side; 0: off).
    pub fn with_tail(mut self, tail: f32) -> Self {
        self.tail = tail;
        self
    }
    /// Sets the confident core's threshold and how far beyond it the mask may reach
    /// (fraction of the longer side; 0: off).
    pub fn with_reach(mut self, core: u8, reach: f32) -> Self {
        self.core = core;
        self.reach = reach;
        self
    }
}

/// Cleans mattes (see the module docs); keeps its scratch between frames.
#[derive(Debug, Clone, Default)]
pub struct MatteCleaner {
    options: CleanOptions,
    /// Mask size the region scratch is laid out for.
    size: (usize, usize),
    /// Per pixel: the thresholded mask grown along x, then the region label (0: none).
    grown_x: Vec<u8>,
    labels: Vec<u32>,
    /// Per column: how many rows of the vertical window hold a grown-along-x pixel.
    col_count: Vec<u16>,
    /// Flood fill stack (capacity: every pixel).
    stack: Vec<u32>,
    /// Chamfer distance to the confident core, in thirds of a pixel.
    dist: Vec<u16>,
    /// Seat width and the fade ramp (per pixel from an edge, out of 256) laid out for it.
    ramp_for: usize,
    ramp: Vec<u16>,
    /// The final matte at half size (2x2 maxima), for [`MatteCleaner::keep_main_region_final`].
    half: Vec<u8>,
}

impl MatteCleaner {
    /// A cleaner with `options`.
    pub fn new(options: CleanOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// The options in use.
    pub fn options(&self) -> &CleanOptions {
        &self.options
    }

    /// Lays out the region scratch for a `w x h` mask (allocates only when the size grows).
    fn prepare(&mut self, w: usize, h: usize) {
        if self.size == (w, h) {
            return;
        }
        self.size = (w, h);
        self.grown_x.clear();
        self.grown_x.resize(w * h, 0);
        self.labels.clear();
        self.labels.resize(w * h, 0);
        self.col_count.clear();
        self.col_count.resize(w, 0);
        self.stack.clear();
        self.stack.reserve(w * h);
    }

    /// Fades `mask` where it lies further than [`CleanOptions::reach`] from its confident
    /// core (values of at least [`CleanOptions::core`]): 1 within the reach, a smoothstep to
    /// 0 over the next reach. Distances are 3-4 chamfer distances (within 8 % of Euclidean).
    /// Does nothing when the reach is 0 or the mask has no core.
    pub fn limit_reach(&mut self, mask: &mut PlaneMut<'_>) {
        let (core, reach) = (self.options.core, self.options.reach);
        self.fade_beyond(mask, core, reach);
    }

    /// Fades the final `matte` (the seat's size) where it lies further than
    /// [`CleanOptions::tail`] from its pixels of at least 128, as [`MatteCleaner::limit_reach`]
    /// does from the confident core. Does nothing when the tail is 0 or nothing is at least
    /// half covered.
    pub fn limit_tail(&mut self, matte: &mut PlaneMut<'_>) {
        let tail = self.options.tail;
        self.fade_beyond(matte, 128, tail);
    }

    /// `mask` times 1 within `reach` (a fraction of the longer side, at least one pixel) of
    /// its pixels of at least `core`, a smoothstep to 0 over the next `reach`, 0 beyond.
    fn fade_beyond(&mut self, mask: &mut PlaneMut<'_>, core: u8, reach: f32) {
        let (w, h) = (mask.width(), mask.height());
        if reach.is_nan() || reach <= 0.0 || w == 0 || h == 0 {
            return;
        }
        // Every value is written below; the capacity is kept across the coarse mask's and
        // the seat's sizes (no allocation once both were seen).
        self.dist.resize(w * h, 0);
        const FAR: u16 = u16::MAX - 8;
        let mut any = false;
        {
            let view = mask.as_ref();
            for (y, row) in view.rows().enumerate() {
                for (d, &v) in self.dist[y * w..][..w].iter_mut().zip(row) {
                    *d = if v >= core { 0 } else { FAR };
                    any |= v >= core;
                }
            }
        }
        if !any {
            return;
        }
        let d = &mut self.dist;
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let mut v = d[i];
                if x > 0 {
                    v = v.min(d[i - 1] + 3);
                }
                if y > 0 {
                    v = v.min(d[i - w] + 3);
                    if x > 0 {
                        v = v.min(d[i - w - 1] + 4);
                    }
                    if x + 1 < w {
                        v = v.min(d[i - w + 1] + 4);
                    }
                }
                d[i] = v;
            }
        }
        for y in (0..h).rev() {
            for x in (0..w).rev() {
                let i = y * w + x;
                let mut v = d[i];
                if x + 1 < w {
                    v = v.min(d[i + 1] + 3);
                }
                if y + 1 < h {
                    v = v.min(d[i + w] + 3);
                    if x + 1 < w {
                        v = v.min(d[i + w + 1] + 4);
                    }
                    if x > 0 {
                        v = v.min(d[i + w - 1] + 4);
                    }
                }
                d[i] = v;
            }
        }
        // In thirds of a pixel.
        let reach = (reach * w.max(h) as f32 * 3.0).max(3.0);
        for y in 0..h {
            let dist = &self.dist[y * w..][..w];
            for (v, &dd) in mask.row_mut(y).iter_mut().zip(dist) {
                let over = (f32::from(dd) - reach) / reach;
                if over > 0.0 {
                    let t = (1.0 - over).max(0.0);
                    let k = smoothstep(t);
                    *v = (f32::from(*v) * k + 0.5) as u8;
                }
            }
        }
    }

    /// Step 1: sets to 0 every pixel of `mask` outside its main region (see the module
    /// docs). Does nothing when [`CleanOptions::keep_main_region`] is off or the mask has no
    /// pixel of at least 128.
    pub fn keep_main_region(&mut self, mask: &mut PlaneMut<'_>) {
        let (w, h) = (mask.width(), mask.height());
        if !self.options.keep_main_region || w == 0 || h == 0 {
            return;
        }
        self.prepare(w, h);
        let r = ((self.options.grow.max(0.0) * w.max(h) as f32).round() as usize).max(1);
        let view = mask.as_ref();
        // Grow along x: a running count of core pixels in the window [x - r, x + r].
        for y in 0..h {
            let row = view.row(y);
            let out = &mut self.grown_x[y * w..][..w];
            let mut count = 0u32;
            for &v in &row[..r.min(w)] {
                count += u32::from(v >= 128);
            }
            for x in 0..w {
                if x + r < w {
                    count += u32::from(row[x + r] >= 128);
                }
                out[x] = u8::from(count > 0);
                if x >= r {
                    count -= u32::from(row[x - r] >= 128);
                }
            }
        }
        // Grow along y (a running count per column), writing 1 into `labels` for grown
        // pixels (0 elsewhere); labels proper are 2, 3, ... below.
        self.col_count.fill(0);
        for row in self.grown_x.chunks_exact(w).take(r.min(h)) {
            for (c, &g) in self.col_count.iter_mut().zip(row) {
                *c += u16::from(g);
            }
        }
        for y in 0..h {
            if y + r < h {
                let add = &self.grown_x[(y + r) * w..][..w];
                for (c, &g) in self.col_count.iter_mut().zip(add) {
                    *c += u16::from(g);
                }
            }
            for (l, &c) in self.labels[y * w..][..w].iter_mut().zip(&self.col_count) {
                *l = u32::from(c > 0);
            }
            if y >= r {
                let sub = &self.grown_x[(y - r) * w..][..w];
                for (c, &g) in self.col_count.iter_mut().zip(sub) {
                    *c -= u16::from(g);
                }
            }
        }
        // Regions by flood fill; each region's mass is the sum of the mask over its pixels.
        let (mut best, mut best_mass, mut next) = (0u32, 0u64, 2u32);
        for start in 0..w * h {
            if self.labels[start] != 1 {
                continue;
            }
            let label = next;
            next += 1;
            let mut mass = 0u64;
            self.labels[start] = label;
            self.stack.push(start as u32);
            while let Some(i) = self.stack.pop() {
                let i = i as usize;
                let (x, y) = (i % w, i / w);
                mass += u64::from(view.row(y)[x]);
                let (x0, x1) = (x.saturating_sub(1), (x + 2).min(w));
                for yy in y.saturating_sub(1)..(y + 2).min(h) {
                    for j in yy * w + x0..yy * w + x1 {
                        if self.labels[j] == 1 {
                            self.labels[j] = label;
                            self.stack.push(j as u32);
                        }
                    }
                }
            }
            if mass > best_mass {
                (best, best_mass) = (label, mass);
            }
        }
        if best == 0 {
            return;
        }
        for y in 0..h {
            let labels = &self.labels[y * w..][..w];
            for (v, &l) in mask.row_mut(y).iter_mut().zip(labels) {
                if l != best {
                    *v = 0;
                }
            }
        }
    }

    /// Step 1 again on the final (refined) `matte` (the seat's size), on its 2x2 maxima
    /// (the coarse mask's grid, so the region step costs what it cost there): every pixel
    /// outside the main region is set to 0. Refinement follows the seat's own edges at full
    /// resolution, and can cut a thin bridge the coarse mask had between the person and a
    /// patch beside them (a headrest): the patch is then a piece apart. Does nothing when
    /// [`CleanOptions::keep_main_region`] is off.
    pub fn keep_main_region_final(&mut self, matte: &mut PlaneMut<'_>) {
        let (w, h) = (matte.width(), matte.height());
        if !self.options.keep_main_region || w == 0 || h == 0 {
            return;
        }
        let (hw, hh) = (w.div_ceil(2), h.div_ceil(2));
        let mut half = std::mem::take(&mut self.half);
        half.clear();
        half.resize(hw * hh, 0);
        for y in 0..h {
            let row = matte.as_ref().row(y);
            let out = &mut half[(y / 2) * hw..][..hw];
            for (x, &v) in row.iter().enumerate() {
                let o = &mut out[x / 2];
                *o = (*o).max(v);
            }
        }
        let before: u64 = half.iter().map(|&v| u64::from(v)).sum();
        {
            let Ok(mut view) = PlaneMut::new(&mut half, hw, hh, hw) else {
                self.half = half;
                return;
            };
            self.keep_main_region(&mut view);
        }
        let after: u64 = half.iter().map(|&v| u64::from(v)).sum();
        if after != before {
            // Blocks the region step cleared: their pixels go too.
            for y in 0..h {
                let cleared = &half[(y / 2) * hw..][..hw];
                for (x, v) in matte.row_mut(y).iter_mut().enumerate() {
                    if cleared[x / 2] == 0 {
                        *v = 0;
                    }
                }
            }
        }
        self.half = half;
    }

    /// Step 2: fades `matte` (the seat's size) toward its left, right and top edges (see
    /// the module docs). Does nothing when [`CleanOptions::edge_fade`] is 0.
    pub fn fade_edges(&mut self, matte: &mut PlaneMut<'_>) {
        let (w, h) = (matte.width(), matte.height());
        if w == 0 || h == 0 || self.options.edge_fade <= 0.0 {
            return;
        }
        if self.ramp_for != w {
            self.ramp_for = w;
            let n = ((self.options.edge_fade * w as f32).round() as usize).clamp(1, w / 2);
            self.ramp.clear();
            self.ramp.extend((0..n).map(|d| ramp_weight(d, n)));
        }
        let n = self.ramp.len();
        let scale = |v: &mut u8, k: u16| *v = ((u32::from(*v) * u32::from(k) + 128) >> 8) as u8;
        for y in 0..h {
            let row = matte.row_mut(y);
            if y < n {
                let k = self.ramp[y];
                row.iter_mut().for_each(|v| scale(v, k));
            }
            for (d, &k) in self.ramp.iter().enumerate().take(w / 2) {
                scale(&mut row[d], k);
                scale(&mut row[w - 1 - d], k);
            }
        }
    }
}

/// `3t² − 2t³`: 0 at 0, 1 at 1, flat at both ends.
fn smoothstep(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// The weight, in 1/256, of the `d`-th pixel (0: the edge) of a smoothstep fade over `n`
/// pixels toward an edge: applied as `(v * k + 128) >> 8`. The seat's side and top fades here
/// and framing's fade above the frame's bottom edge ([`crate::render`]) share it.
pub(crate) fn ramp_weight(d: usize, n: usize) -> u16 {
    let t = (d as f32 + 0.5) / n as f32;
    (smoothstep(t) * 256.0).round() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(m: &mut [u8], w: usize, f: impl FnOnce(&mut PlaneMut<'_>)) {
        let h = m.len() / w;
        f(&mut PlaneMut::new(m, w, h, w).unwrap());
    }

    #[test]
    fn keeps_the_region_of_most_mass_and_what_is_near_it() {
        let (w, h) = (40, 20);
        let mut m = vec![0u8; w * h];
        // Body: columns 5..20, rows 5..20.
        for y in 5..20 {
            m[y * w + 5..y * w + 20].fill(230);
        }
        // A strand one pixel from the body (kept), soft fringe next to it (kept).
        m[3 * w + 10] = 200;
        m[4 * w + 21] = 60;
        // A patch far away (dropped), and faint haze far from everything (dropped).
        for y in 2..6 {
            m[y * w + 32..y * w + 36].fill(255);
        }
        m[18 * w + 38] = 90;
        let mut c = MatteCleaner::new(CleanOptions::default().with_grow(0.05)); // 2 px
        run(&mut m, w, |p| c.keep_main_region(p));
        assert_eq!(m[10 * w + 10], 230);
        assert_eq!(m[3 * w + 10], 200);
        assert_eq!(m[4 * w + 21], 60);
        assert!((2..6).all(|y| m[y * w + 32..y * w + 36].iter().all(|&v| v == 0)));
        assert_eq!(m[18 * w + 38], 0);
        // The same again allocates nothing new and changes nothing.
        let before = m.clone();
        run(&mut m, w, |p| c.keep_main_region(p));
        assert_eq!(m, before);
    }

    /// The final matte's region step: a patch apart from the person (here a headrest-like
    /// block 12 pixels to the side, as refinement leaves it once it cut the bridge) goes, the
    /// person and their soft edge stay exactly; a matte with nothing apart is unchanged.
    #[test]
    fn the_final_matte_keeps_only_the_person() {
        let (w, h) = (64, 48);
        let mut m = vec![0u8; w * h];
        for y in 10..48 {
            m[y * w + 10..y * w + 30].fill(255);
            m[y * w + 30] = 128;
            m[y * w + 31] = 40;
        }
        let person = m.clone();
        for y in 12..24 {
            m[y * w + 44..y * w + 54].fill(220);
        }
        // Grow 0.05 of the half matte's 32-cell side: 2 cells each way (4 seat pixels), so
        // regions 5 cells (10 pixels) apart or less would join.
        let mut c = MatteCleaner::new(CleanOptions::default().with_grow(0.05));
        run(&mut m, w, |p| c.keep_main_region_final(p));
        assert_eq!(m, person);
        run(&mut m, w, |p| c.keep_main_region_final(p));
        assert_eq!(m, person);
        // Off: nothing changes.
        let mut off = MatteCleaner::new(CleanOptions::default().with_keep_main_region(false));
        let mut with_patch = m.clone();
        for y in 12..24 {
            with_patch[y * w + 44..y * w + 54].fill(220);
        }
        let before = with_patch.clone();
        run(&mut with_patch, w, |p| off.keep_main_region_final(p));
        assert_eq!(with_patch, before);
    }

    /// The final matte's tail: faint matte far from every half-covered pixel goes, the soft
    /// edge next to the person stays; the same cleaner then handles another size without
    /// losing that.
    #[test]
    fn faint_matte_far_from_the_person_fades_out() {
        let (w, h) = (100, 50);
        let mut m = vec![0u8; w * h];
        for y in 10..50 {
            for x in 20..40 {
                m[y * w + x] = 255;
            }
            // A soft edge of 2 pixels, then faint matte 30 pixels away (a trail, a stripe).
            m[y * w + 40] = 120;
            m[y * w + 41] = 60;
            for x in 70..80 {
                m[y * w + x] = 60;
            }
        }
        let before = m.clone();
        // 0.012 of 100: 1.2 pixels within, faded over the next 1.2.
        let mut c = MatteCleaner::new(CleanOptions::default());
        run(&mut m, w, |p| c.limit_tail(p));
        for y in 10..50 {
            assert_eq!(&m[y * w..y * w + 41], &before[y * w..y * w + 41], "row {y}");
            assert!(
                m[y * w + 41] > 0,
                "the soft edge 2 pixels out stays (faded at most)"
            );
            assert!(m[y * w + 70..y * w + 80].iter().all(|&v| v == 0), "row {y}");
        }
        // Off: nothing changes.
        let mut off = before.clone();
        let mut c0 = MatteCleaner::new(CleanOptions::default().with_tail(0.0));
        run(&mut off, w, |p| c0.limit_tail(p));
        assert_eq!(off, before);
        // Nothing half covered: nothing to measure from, nothing changes.
        let mut faint = vec![60u8; 30 * 10];
        run(&mut faint, 30, |p| c.limit_tail(p));
        assert!(faint.iter().all(|&v| v == 60));
    }

    #[test]
    fn a_larger_patch_wins_over_a_smaller_body() {
        let (w, h) = (30, 10);
        let mut m = vec![0u8; w * h];
        for y in 0..10 {
            m[y * w..y * w + 4].fill(255); // 40 px
            m[y * w + 20..y * w + 30].fill(200); // 100 px
        }
        let mut c = MatteCleaner::new(CleanOptions::default());
        run(&mut m, w, |p| c.keep_main_region(p));
        assert!((0..10).all(|y| m[y * w..y * w + 4].iter().all(|&v| v == 0)));
        assert!((0..10).all(|y| m[y * w + 20..y * w + 30].iter().all(|&v| v == 200)));
        // Nothing at 128 or more: left alone.
        let mut faint = vec![100u8; w * h];
        run(&mut faint, w, |p| c.keep_main_region(p));
        assert!(faint.iter().all(|&v| v == 100));
    }

    #[test]
    fn edges_fade_at_the_sides_and_top_not_the_bottom() {
        let (w, h) = (100, 50);
        let mut m = vec![255u8; w * h];
        let mut c = MatteCleaner::new(CleanOptions::default()); // 4 px ramp
        run(&mut m, w, |p| c.fade_edges(p));
        let at = |x: usize, y: usize| m[y * w + x];
        // Edge pixels far below half, rising monotonically to untouched after 4 px.
        assert!(at(0, 25) < 20 && at(99, 25) < 20 && at(50, 0) < 20);
        assert_eq!(at(0, 25), at(99, 25));
        let ramp: Vec<u8> = (0..6).map(|x| at(x, 25)).collect();
        assert!(
            ramp.windows(2).all(|p| p[0] < p[1] || p[1] == 255),
            "{ramp:?}"
        );
        assert_eq!(at(4, 25), 255);
        assert_eq!(at(50, 4), 255);
        // The bottom row is left alone away from the sides.
        assert_eq!(at(50, 49), 255);
        // Corners get both.
        assert!(at(0, 0) <= at(0, 25));
        // Every pixel at the sides and top is now below half: no hard seat edge.
        assert!((0..h).all(|y| at(0, y) < 128 && at(w - 1, y) < 128));
        assert!((0..w).all(|x| at(x, 0) < 128));
    }
}
