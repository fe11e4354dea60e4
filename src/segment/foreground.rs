//! Colour decontamination without a known background (the ML segmenter's): each partly
//! covered pixel takes the mean colour of the fully covered pixels near it, so the edge
//! carries the person's colour and not the old room's.
//!
//! The means are windowed sums computed for the whole seat at once, separably (a horizontal
//! sum per row, then a vertical sum of those), over the pixels' colour masked by full
//! coverage and over the mask itself; a partly covered pixel with at least one fully covered
//! neighbour then takes the rounded quotient. That is O(1) per pixel and vectorises, where
//! visiting each edge pixel's window costs `(2r + 1)²` reads per edge pixel. Fully covered
//! pixels are never changed, so the sums read the original colour: the result is the same
//! as computing each window from the untouched planes.

use crate::frame::{PlaneMut, PlaneRef};

use super::SeatColour;

/// Window radius for luma (a 5x5 window).
const LUMA_RADIUS: usize = 2;
/// Window radius for chroma (3x3 chroma pixels, about the luma window's extent).
const CHROMA_RADIUS: usize = 1;
/// Passes per plane: each fills the partly covered pixels still unfilled from the pixels in
/// their window that are covered or were filled by an earlier pass, so the person's colour
/// reaches 8 luma pixels (4 passes of 2; chroma: 4 of 1 chroma pixel) into a soft edge.
/// One pass (the window alone) left the outer part of the ML matte's soft edge (refined
/// mattes fade over several pixels) with the old room's colour: on the astronaut the dark
/// background showed through as a rim 36 levels beyond the scene and the suit (99th
/// percentile).
const PASSES: usize = 4;

/// A pixel's part in the fill (`Scratch::state`).
const OTHER: u8 = 0;
/// Covered (255), or filled by an earlier pass: a source of colour.
const SOURCE: u8 = 1;
/// Partly covered, not filled yet.
const PENDING: u8 = 2;
/// Filled by the current pass (a source from the next one).
const FILLED: u8 = 3;

/// Replaces each partly covered pixel's colour by the mean colour of the fully covered pixels
/// near it (luma within 2 pixels, chroma within 1 chroma pixel, where chroma's coverage is
/// the matte's 2x2 mean, rounded, as the compositor blends chroma with); partly covered
/// pixels with no fully covered neighbour take, in up to three further passes (by default), the
/// mean of the pixels filled before them, so the colour moves outward ring by ring; pixels
/// that no pass reaches are left as they are. Does nothing if a size does not match. Keeps its
/// scratch between calls (allocates only when the seat size changes).
#[derive(Debug, Clone)]
pub struct ForegroundPull {
    /// Passes per plane (at least 1; 4 by default).
    passes: usize,
    /// Chroma-resolution coverage.
    chroma_alpha: Vec<u8>,
    /// Per row of the plane being filled: horizontal window sums of masked colour and of the
    /// mask.
    sums: Vec<u16>,
    counts: Vec<u16>,
    /// One row of the mask and of the masked colour.
    mask_row: Vec<u16>,
    colour_row: Vec<u16>,
    /// Each pixel's part in the fill ([`SOURCE`], [`PENDING`], ...).
    state: Vec<u8>,
}

impl Default for ForegroundPull {
    fn default() -> Self {
        Self::with_passes(PASSES)
    }
}

impl ForegroundPull {
    /// A pull that makes up to `passes` passes per plane (1: the window around each pixel
    /// only; values below 1 count as 1). The default is 4.
    pub fn with_passes(passes: usize) -> Self {
        Self {
            passes: passes.max(1),
            chroma_alpha: Vec::new(),
            sums: Vec::new(),
            counts: Vec::new(),
            mask_row: Vec::new(),
            colour_row: Vec::new(),
            state: Vec::new(),
        }
    }

    /// Decontaminates `colour` with `matte` (seat-size, the matte the segmenter wrote).
    pub fn apply(&mut self, colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
        let (w, h) = (colour.y.width(), colour.y.height());
        let (cw, ch) = (colour.u.width(), colour.u.height());
        if (matte.width(), matte.height()) != (w, h)
            || (colour.v.width(), colour.v.height()) != (cw, ch)
            || w == 0
            || h == 0
            || cw != w.div_ceil(2)
            || ch != h.div_ceil(2)
        {
            return;
        }
        let Self {
            passes,
            chroma_alpha,
            sums,
            counts,
            mask_row,
            colour_row,
            state,
        } = self;
        let mut scratch = Scratch {
            sums,
            counts,
            mask_row,
            colour_row,
            state,
            passes: *passes,
        };
        fill_from_covered(&mut colour.y, |y| matte.row(y), LUMA_RADIUS, &mut scratch);
        chroma_alpha.resize(cw * ch, 0);
        for (cy, row) in chroma_alpha.chunks_exact_mut(cw).enumerate() {
            let (r0, r1) = (matte.row(2 * cy), matte.row((2 * cy + 1).min(h - 1)));
            for (cx, a) in row.iter_mut().enumerate() {
                let (x0, x1) = (2 * cx, (2 * cx + 1).min(w - 1));
                let s = u32::from(r0[x0]) + u32::from(r0[x1]) + u32::from(r1[x0]);
                *a = ((s + u32::from(r1[x1]) + 2) / 4) as u8;
            }
        }
        let ca = &chroma_alpha[..];
        for plane in [&mut colour.u, &mut colour.v] {
            fill_from_covered(plane, |y| &ca[y * cw..][..cw], CHROMA_RADIUS, &mut scratch);
        }
    }
}

/// [`ForegroundPull::apply`] with fresh scratch (allocates; keep a [`ForegroundPull`] to
/// call it every frame).
pub fn pull_foreground(colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
    ForegroundPull::default().apply(colour, matte);
}

struct Scratch<'a> {
    sums: &'a mut Vec<u16>,
    counts: &'a mut Vec<u16>,
    mask_row: &'a mut Vec<u16>,
    colour_row: &'a mut Vec<u16>,
    state: &'a mut Vec<u8>,
    passes: usize,
}

/// For every pixel of `plane` whose coverage (`alpha(y)`, the row's values) is neither 0
/// nor 255: the rounded mean of the pixels with coverage 255 in the `(2r+1)²` window around
/// it, clipped to the plane, if there are any; then, for up to `s.passes` - 1 more passes, the
/// same over the pixels covered or filled before for those still unfilled.
fn fill_from_covered<'m>(
    plane: &mut PlaneMut<'_>,
    alpha: impl Fn(usize) -> &'m [u8],
    r: usize,
    s: &mut Scratch<'_>,
) {
    let (w, h) = (plane.width(), plane.height());
    // Sums of 5 values of 255 fit u16 (and of 25: 6375); r is 1 or 2 here.
    debug_assert!((2 * r + 1) * (2 * r + 1) * 255 <= usize::from(u16::MAX));
    // Every value is written below: no clearing.
    s.sums.resize(w * h, 0);
    s.counts.resize(w * h, 0);
    s.mask_row.resize(w, 0);
    s.colour_row.resize(w, 0);
    s.state.resize(w * h, OTHER);
    let mut pending = 0usize;
    for y in 0..h {
        for (st, &a) in s.state[y * w..][..w].iter_mut().zip(&alpha(y)[..w]) {
            *st = match a {
                255 => SOURCE,
                0 => OTHER,
                _ => PENDING,
            };
            pending += usize::from(*st == PENDING);
        }
    }
    for _ in 0..s.passes {
        if pending == 0 {
            break;
        }
        for y in 0..h {
            // Only rows within `r` of a pending pixel are read below (after the first pass,
            // a thin ring at most).
            let (lo, hi) = (y.saturating_sub(r), (y + r + 1).min(h));
            if !s.state[lo * w..hi * w].contains(&PENDING) {
                continue;
            }
            let c = &plane.row_mut(y)[..w];
            for ((m, v), (&st, &c)) in s
                .mask_row
                .iter_mut()
                .zip(s.colour_row.iter_mut())
                .zip(s.state[y * w..][..w].iter().zip(c))
            {
                let src = u16::from(st == SOURCE);
                (*m, *v) = (src, src * u16::from(c));
            }
            window_sum(&s.colour_row[..w], &mut s.sums[y * w..][..w], r);
            window_sum(&s.mask_row[..w], &mut s.counts[y * w..][..w], r);
        }
        for y in 0..h {
            let state = &mut s.state[y * w..][..w];
            // Anything to fill on this row?
            if !state.contains(&PENDING) {
                continue;
            }
            let (lo, hi) = (y.saturating_sub(r), (y + r + 1).min(h));
            s.mask_row[..w].fill(0);
            s.colour_row[..w].fill(0);
            for yy in lo..hi {
                for ((n, t), (&dn, &dt)) in s
                    .mask_row
                    .iter_mut()
                    .zip(s.colour_row.iter_mut())
                    .zip(s.counts[yy * w..][..w].iter().zip(&s.sums[yy * w..][..w]))
                {
                    *n += dn;
                    *t += dt;
                }
            }
            let row = plane.row_mut(y);
            for ((o, st), (&n, &t)) in row
                .iter_mut()
                .zip(state.iter_mut())
                .zip(s.mask_row.iter().zip(s.colour_row.iter()))
            {
                // (t + n/2) / n, exactly: an f32 quotient of integers below 2^24 truncates to
                // the integer quotient.
                let fill = *st == PENDING && n > 0;
                let q = ((f32::from(t) + f32::from(n / 2)) / f32::from(n.max(1))) as u8;
                *o = if fill { q } else { *o };
                *st = if fill { FILLED } else { *st };
                pending -= usize::from(fill);
            }
        }
        let mut filled = false;
        for st in s.state[..w * h].iter_mut() {
            filled |= *st == FILLED;
            *st = if *st == FILLED { SOURCE } else { *st };
        }
        // A pass that filled nothing leaves the sources as they were: so would every later one.
        if !filled {
            break;
        }
    }
}

/// `out[x]` = the sum of `v` over `[x - r, x + r]` clipped to the row.
fn window_sum(v: &[u16], out: &mut [u16], r: usize) {
    match r {
        1 => window_sum_n::<3>(v, out),
        2 => window_sum_n::<5>(v, out),
        _ => {
            let w = v.len();
            for (x, o) in out.iter_mut().enumerate() {
                *o = v[x.saturating_sub(r)..(x + r + 1).min(w)].iter().sum();
            }
        }
    }
}

/// [`window_sum`] for a window of `N = 2r + 1` (a constant): the interior is one pass of `N`
/// loads and adds per value (vectorised), the `r` values at each end are summed over their
/// clipped windows.
fn window_sum_n<const N: usize>(v: &[u16], out: &mut [u16]) {
    let r = N / 2;
    let w = v.len().min(out.len());
    let edge = |x: usize| -> u16 { v[x.saturating_sub(r)..(x + r + 1).min(w)].iter().sum() };
    if w < N {
        for (x, o) in out[..w].iter_mut().enumerate() {
            *o = edge(x);
        }
        return;
    }
    for x in (0..r).chain(w - r..w) {
        out[x] = edge(x);
    }
    let n = w + 1 - N;
    let (src, dst) = (&v[..n + N - 1], &mut out[r..r + n]);
    for (i, o) in dst.iter_mut().enumerate() {
        let mut s = 0u16;
        for k in 0..N {
            s += src[i + k];
        }
        *o = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-pixel form: each partly covered pixel's window visited on its own.
    #[allow(clippy::needless_range_loop)]
    fn naive(colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
        let (w, h) = (colour.y.width(), colour.y.height());
        let (cw, ch) = (colour.u.width(), colour.u.height());
        let fill = |plane: &mut PlaneMut<'_>, a: &dyn Fn(usize, usize) -> u8, r: usize| {
            let (pw, ph) = (plane.width(), plane.height());
            // Sources: covered pixels, then also those filled by an earlier pass.
            let mut source: Vec<Vec<bool>> = (0..ph)
                .map(|y| (0..pw).map(|x| a(x, y) == 255).collect())
                .collect();
            for _ in 0..PASSES {
                let orig: Vec<Vec<u8>> = (0..ph).map(|y| plane.row_mut(y).to_vec()).collect();
                let before = source.clone();
                for y in 0..ph {
                    for x in 0..pw {
                        let av = a(x, y);
                        if av == 0 || av == 255 || before[y][x] {
                            continue;
                        }
                        let (mut s, mut n) = (0u32, 0u32);
                        for yy in y.saturating_sub(r)..(y + r + 1).min(ph) {
                            for xx in x.saturating_sub(r)..(x + r + 1).min(pw) {
                                if before[yy][xx] {
                                    s += u32::from(orig[yy][xx]);
                                    n += 1;
                                }
                            }
                        }
                        if let Some(m) = (s + n / 2).checked_div(n) {
                            plane.row_mut(y)[x] = m as u8;
                            source[y][x] = true;
                        }
                    }
                }
            }
        };
        fill(&mut colour.y, &|x, y| matte.row(y)[x], 2);
        let ca = |cx: usize, cy: usize| -> u8 {
            let (x0, y0) = (2 * cx, 2 * cy);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (r0, r1) = (matte.row(y0), matte.row(y1));
            let s = u32::from(r0[x0]) + u32::from(r0[x1]) + u32::from(r1[x0]) + u32::from(r1[x1]);
            ((s + 2) / 4) as u8
        };
        let _ = (cw, ch);
        fill(&mut colour.u, &ca, 1);
        fill(&mut colour.v, &ca, 1);
    }

    /// A seat with an elliptical person (soft edge of `soft` levels a pixel), textured
    /// colour.
    fn seat(w: usize, h: usize, soft: i32, seed: usize) -> [Vec<u8>; 4] {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let matte = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as i32, (i / w) as i32);
                let (dx, dy) = (x - w as i32 / 2, y - h as i32 * 3 / 5);
                let d = (dx * dx * 4 + dy * dy * 3) as f32;
                let edge = (w * w) as f32 * 0.6;
                ((edge - d) / edge * soft as f32 * 255.0 + 128.0).clamp(0.0, 255.0) as u8
            })
            .collect();
        let tex = |n: usize, k: usize| -> Vec<u8> {
            (0..n)
                .map(|i| ((i * (7 + k) + seed * 13) % 251) as u8)
                .collect()
        };
        [matte, tex(w * h, 0), tex(cw * ch, 1), tex(cw * ch, 2)]
    }

    #[test]
    fn equals_the_per_pixel_form() {
        let mut pull = ForegroundPull::default();
        for (w, h, soft, seed) in [
            (240, 136, 3, 0),
            (102, 136, 1, 1),
            (33, 17, 2, 2),
            (5, 3, 4, 3),
            (1, 1, 1, 4),
            (2, 9, 8, 5),
            (240, 136, 20, 6),
        ] {
            let [m, y, u, v] = seat(w, h, soft, seed);
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            let matte = PlaneRef::packed(&m, w, h).unwrap();
            let (mut y1, mut u1, mut v1) = (y.clone(), u.clone(), v.clone());
            let (mut y2, mut u2, mut v2) = (y.clone(), u.clone(), v.clone());
            let mut a = SeatColour {
                y: PlaneMut::new(&mut y1, w, h, w).unwrap(),
                u: PlaneMut::new(&mut u1, cw, ch, cw).unwrap(),
                v: PlaneMut::new(&mut v1, cw, ch, cw).unwrap(),
            };
            let mut b = SeatColour {
                y: PlaneMut::new(&mut y2, w, h, w).unwrap(),
                u: PlaneMut::new(&mut u2, cw, ch, cw).unwrap(),
                v: PlaneMut::new(&mut v2, cw, ch, cw).unwrap(),
            };
            pull.apply(&mut a, &matte);
            naive(&mut b, &matte);
            assert!(y1 == y2, "luma {w}x{h}");
            assert!(u1 == u2, "u {w}x{h}");
            assert!(v1 == v2, "v {w}x{h}");
            // Something was filled where the matte is soft and has a covered neighbour.
            if w > 30 {
                assert!(y1 != y && u1 != u, "{w}x{h}: nothing changed");
            }
        }
    }

    /// A soft edge wider than one window: a covered block (luma 200) at the left, then a
    /// ramp of partial coverage over 12 pixels on luma 20 (the room). The first 8 ramp pixels
    /// take the person's colour (4 passes of radius 2); the ones beyond are left alone.
    #[test]
    fn a_wide_soft_edge_is_filled_ring_by_ring() {
        let (w, h) = (24, 6);
        let (cw, ch) = (w / 2, h / 2);
        let matte: Vec<u8> = (0..w * h)
            .map(|i| match i % w {
                x if x < 8 => 255,
                x if x < 20 => (255 - 20 * (x - 7)) as u8,
                _ => 0,
            })
            .collect();
        let mut y: Vec<u8> = (0..w * h)
            .map(|i| if i % w < 8 { 200 } else { 20 })
            .collect();
        let (mut u, mut v) = (vec![90u8; cw * ch], vec![160u8; cw * ch]);
        for row in 0..ch {
            for cx in 4..cw {
                u[row * cw + cx] = 128;
                v[row * cw + cx] = 128;
            }
        }
        pull_foreground(
            &mut SeatColour {
                y: PlaneMut::new(&mut y, w, h, w).unwrap(),
                u: PlaneMut::new(&mut u, cw, ch, cw).unwrap(),
                v: PlaneMut::new(&mut v, cw, ch, cw).unwrap(),
            },
            &PlaneRef::packed(&matte, w, h).unwrap(),
        );
        for row in y.chunks_exact(w) {
            assert!(row[..16].iter().all(|&l| l == 200), "{row:?}");
            assert!(row[16..].iter().all(|&l| l == 20), "{row:?}");
        }
        // Chroma pixels 4..10 hold partial coverage: 4..8 are reached (4 passes of radius 1).
        for row in u.chunks_exact(cw) {
            assert!(row[..8].iter().all(|&c| c == 90), "{row:?}");
            assert!(row[8..].iter().all(|&c| c == 128), "{row:?}");
        }
        for row in v.chunks_exact(cw) {
            assert!(row[..8].iter().all(|&c| c == 160), "{row:?}");
        }
    }

    #[test]
    fn mismatched_sizes_change_nothing() {
        let [m, mut y, mut u, mut v] = seat(20, 10, 3, 0);
        let before = (y.clone(), u.clone(), v.clone());
        let matte = PlaneRef::packed(&m[..100], 10, 10).unwrap();
        let mut c = SeatColour {
            y: PlaneMut::new(&mut y, 20, 10, 20).unwrap(),
            u: PlaneMut::new(&mut u, 10, 5, 10).unwrap(),
            v: PlaneMut::new(&mut v, 10, 5, 10).unwrap(),
        };
        pull_foreground(&mut c, &matte);
        assert!((y, u, v) == before);
    }
}
