//! Colour decontamination without a known background (the ML segmenter's): each partly
//! covered pixel takes the mean colour of the fully covered pixels near it, so the edge
//! carries the person's colour and not the old room's.
//!
//! Two windows, one pass: a partly covered pixel takes the mean over a small window (luma
//! 5x5, chroma 3x3) when that holds a fully covered pixel, otherwise the mean over a wide
//! one (luma 17x17, chroma 9x9), so the person's colour reaches 8 luma pixels (4 chroma
//! pixels) into a soft edge while the pixels next to the person keep the colour right beside
//! them. Both means come from the same running sums, whatever the window: per row, each
//! column's sum over the window's rows (updated as the row moves down: one row in, one out),
//! then a running sum along the row, whose difference at the window's two ends is the
//! window's sum. A covered pixel adds its colour and, 2^20 above it, a count of 1, so one
//! `u32` sum carries both (a window's colour sum is at most 289 * 255 < 2^20); the running
//! sum along the row wraps, and the difference of two wrapped sums is the window's exact
//! sum. That is O(1) per pixel whatever the reach, and the loops over rows vectorise. Only the
//! rows and the columns around partly covered pixels are visited. The contributions are taken
//! from the plane before any pixel is filled: the result is the same as computing each window
//! from the untouched planes (the per-pixel reference test).
//!
//! Before, the reach came from four passes of the small window, each filling from what the
//! earlier ones filled: 2.5x the cost of one pass (0.51-0.56 ms against 0.19-0.21 ms on a
//! 274x154 seat of the 49-seat ML tick). This pull: 0.11-0.14 ms there, where the four passes
//! took 0.62-0.67 ms in the same (busy) runs (README, colour decontamination).

use crate::frame::{PlaneMut, PlaneRef};

use super::SeatColour;

/// Luma: the small window's radius (5x5) and the wide one's (17x17, the reach).
const LUMA_NEAR: usize = 2;
const LUMA_FAR: usize = 8;
/// Chroma, in chroma pixels: 3x3 and 9x9 (about the luma windows' extent).
const CHROMA_NEAR: usize = 1;
const CHROMA_FAR: usize = 4;
/// A covered pixel's contribution to a packed sum: its colour plus `1 << COUNT_SHIFT`.
const COUNT_SHIFT: u32 = 20;
// The widest window's colour sum stays below the count's bits.
const _: () = assert!((2 * LUMA_FAR + 1) * (2 * LUMA_FAR + 1) * 255 < 1 << COUNT_SHIFT);
const _: () = assert!(LUMA_NEAR <= LUMA_FAR && CHROMA_NEAR <= CHROMA_FAR && CHROMA_FAR <= LUMA_FAR);

/// Replaces each partly covered pixel's colour by the mean colour of the fully covered pixels
/// near it: luma within 2 pixels, chroma within 1 chroma pixel (where chroma's coverage is
/// the matte's 2x2 mean, rounded, as the compositor blends chroma with); a partly covered
/// pixel with none that near takes the mean of those within 8 luma pixels (4 chroma pixels);
/// pixels with none within that reach are left as they are. Does nothing if a size does not
/// match. Keeps its scratch between calls (allocates only when the seat size changes).
#[derive(Debug, Clone, Default)]
pub struct ForegroundPull {
    /// Chroma-resolution coverage.
    chroma_alpha: Vec<u8>,
    sums: Sums,
}

/// The running sums' scratch, for the plane being filled.
#[derive(Debug, Clone, Default)]
struct Sums {
    /// Each pixel's packed contribution (0 where not covered), for the rows the windows read.
    packed: Vec<u32>,
    /// A row of zeros: what a row outside the plane contributes.
    zeros: Vec<u32>,
    /// Per column: the packed sum over the small and the wide window's rows.
    near_cols: Vec<u32>,
    far_cols: Vec<u32>,
    /// Running (wrapping) sums of those along the row being filled.
    near_run: Vec<u32>,
    far_run: Vec<u32>,
}

impl ForegroundPull {
    /// A pull with empty scratch.
    pub fn new() -> Self {
        Self::default()
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
        let Self { chroma_alpha, sums } = self;
        sums.fill(&mut colour.y, |y| matte.row(y), [LUMA_NEAR, LUMA_FAR]);
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
            sums.fill(plane, |y| &ca[y * cw..][..cw], [CHROMA_NEAR, CHROMA_FAR]);
        }
    }
}

/// [`ForegroundPull::apply`] with fresh scratch (allocates; keep a [`ForegroundPull`] to
/// call it every frame).
pub fn pull_foreground(colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
    ForegroundPull::default().apply(colour, matte);
}

/// Whether a coverage is partial (the pixels this fills).
fn partial(a: u8) -> bool {
    a.wrapping_sub(1) < 254
}

/// Whether `alpha` holds a partial coverage (every byte read: it vectorises).
fn any_partial(alpha: &[u8]) -> bool {
    alpha.iter().fold(false, |any, &a| any | partial(a))
}

/// The first and the last partly covered pixel of a row, 16 bytes at a time.
fn partial_span(alpha: &[u8]) -> Option<(usize, usize)> {
    const B: usize = 16;
    let first = alpha.chunks(B).position(any_partial)?;
    let last = alpha.chunks(B).rposition(any_partial).unwrap_or(first);
    let x0 = first * B + alpha[first * B..].iter().position(|&a| partial(a))?;
    let x1 = alpha[..(last * B + B).min(alpha.len())]
        .iter()
        .rposition(|&a| partial(a))
        .unwrap_or(x0);
    Some((x0, x1))
}

/// `out[x]` = the packed contribution of a pixel of colour `colour[x]` and coverage
/// `alpha[x]`: its colour plus `1 << COUNT_SHIFT` if the coverage is 255, else 0.
fn contributions(out: &mut [u32], alpha: &[u8], colour: &[u8]) {
    for ((o, &a), &c) in out.iter_mut().zip(alpha).zip(colour) {
        let covered = 0u32.wrapping_sub(u32::from(a == 255));
        *o = (u32::from(c) | 1 << COUNT_SHIFT) & covered;
    }
}

/// `cols[x]` += `add[x]` - `sub[x]`, for both windows' column sums at once.
fn slide(near: &mut [u32], far: &mut [u32], rows: [&[u32]; 4]) {
    let [near_add, near_sub, far_add, far_sub] = rows;
    let n = near.len();
    let (far, near_add, near_sub) = (&mut far[..n], &near_add[..n], &near_sub[..n]);
    let (far_add, far_sub) = (&far_add[..n], &far_sub[..n]);
    for x in 0..n {
        // A column's sum holds at most 2 * 8 + 1 contributions (no overflow), and a row
        // leaving the window takes out what it put in: the wrapping never wraps.
        near[x] = near[x].wrapping_add(near_add[x]).wrapping_sub(near_sub[x]);
        far[x] = far[x].wrapping_add(far_add[x]).wrapping_sub(far_sub[x]);
    }
}

/// The rounded mean a packed window sum holds, if it counts any covered pixel.
fn mean(packed: u32) -> Option<u8> {
    let n = packed >> COUNT_SHIFT;
    let t = packed & ((1 << COUNT_SHIFT) - 1);
    // (t + n/2) / n, exactly: the f32 quotient (below 256, correctly rounded) is within 2^-16
    // of the exact one, and a quotient that is not an integer lies at least 1/n > 2^-9 below
    // the next integer, so truncating gives the integer quotient.
    (n > 0).then(|| ((t + n / 2) as f32 / n as f32) as u8)
}

impl Sums {
    /// For every pixel of `plane` whose coverage (`alpha(y)`, the row's values) is neither 0
    /// nor 255: the rounded mean of the pixels with coverage 255 in the `(2r+1)²` window
    /// around it (clipped to the plane) for `r` = `radii[0]` if there are any, else for
    /// `r` = `radii[1]`, else unchanged. Only the rows from the first to the last with a
    /// partly covered pixel are filled (none on a plane without one), those within the wide
    /// radius (and one) of them read, and on each row the columns within the wide radius of its first
    /// and last partly covered pixel.
    fn fill<'m>(
        &mut self,
        plane: &mut PlaneMut<'_>,
        alpha: impl Fn(usize) -> &'m [u8],
        radii: [usize; 2],
    ) {
        let (w, h) = (plane.width(), plane.height());
        let [near, far] = radii;
        let Some(first) = (0..h).position(|y| any_partial(&alpha(y)[..w])) else {
            return;
        };
        let last = (first..h)
            .rev()
            .find(|&y| any_partial(&alpha(y)[..w]))
            .unwrap_or(first);
        let Self {
            packed,
            zeros,
            near_cols,
            far_cols,
            near_run,
            far_run,
        } = self;
        // Every contribution is taken from the plane before any pixel is filled.
        let (top, bottom) = (first.saturating_sub(far + 1), (last + far + 1).min(h));
        packed.resize(w * h, 0);
        for y in top..bottom {
            let colour = &plane.as_ref().row(y)[..w];
            contributions(&mut packed[y * w..][..w], &alpha(y)[..w], colour);
        }
        zeros.clear();
        zeros.resize(w, 0);
        let row = |y: Option<usize>| {
            y.filter(|&y| y < h)
                .map_or(&zeros[..], |y| &packed[y * w..][..w])
        };
        // Column sums over the windows of the row above `first`; each row then slides them
        // down by one: the row below the window comes in, its top row goes out.
        for cols in [&mut *near_cols, &mut *far_cols] {
            cols.clear();
            cols.resize(w, 0);
        }
        for (cols, r) in [(&mut *near_cols, near), (&mut *far_cols, far)] {
            for y in first.saturating_sub(r + 1)..(first + r).min(h) {
                for (c, &p) in cols.iter_mut().zip(row(Some(y))) {
                    *c += p;
                }
            }
        }
        near_run.resize(w + 1, 0);
        far_run.resize(w + 1, 0);
        for y in first..=last {
            slide(
                near_cols,
                far_cols,
                [
                    row(Some(y + near)),
                    row(y.checked_sub(near + 1)),
                    row(Some(y + far)),
                    row(y.checked_sub(far + 1)),
                ],
            );
            let a = &alpha(y)[..w];
            let Some((x0, x1)) = partial_span(a) else {
                continue;
            };
            // Running sums over the columns the row's windows read: run[i] is the sum of the
            // columns lo..lo + i.
            let (lo, hi) = (x0.saturating_sub(far), (x1 + far + 1).min(w));
            let (mut n_acc, mut f_acc) = (0u32, 0u32);
            near_run[0] = 0;
            far_run[0] = 0;
            for (i, (&n, &f)) in near_cols[lo..hi].iter().zip(&far_cols[lo..hi]).enumerate() {
                n_acc = n_acc.wrapping_add(n);
                f_acc = f_acc.wrapping_add(f);
                near_run[i + 1] = n_acc;
                far_run[i + 1] = f_acc;
            }
            let window = |run: &[u32], x: usize, r: usize| {
                let (a, b) = (x.saturating_sub(r).max(lo) - lo, (x + r + 1).min(hi) - lo);
                run[b].wrapping_sub(run[a])
            };
            let out = &mut plane.row_mut(y)[..w];
            for x in x0..=x1 {
                if !partial(a[x]) {
                    continue;
                }
                let m = mean(window(near_run, x, near)).or_else(|| mean(window(far_run, x, far)));
                if let Some(m) = m {
                    out[x] = m;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-pixel form: each partly covered pixel's windows visited on their own, from a
    /// copy of the untouched plane.
    #[allow(clippy::needless_range_loop)]
    fn naive(colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
        let (w, h) = (colour.y.width(), colour.y.height());
        let fill = |plane: &mut PlaneMut<'_>, a: &dyn Fn(usize, usize) -> u8, radii: [usize; 2]| {
            let (pw, ph) = (plane.width(), plane.height());
            let orig: Vec<Vec<u8>> = (0..ph).map(|y| plane.row_mut(y).to_vec()).collect();
            for y in 0..ph {
                for x in 0..pw {
                    let av = a(x, y);
                    if av == 0 || av == 255 {
                        continue;
                    }
                    for r in radii {
                        let (mut s, mut n) = (0u32, 0u32);
                        for yy in y.saturating_sub(r)..(y + r + 1).min(ph) {
                            for xx in x.saturating_sub(r)..(x + r + 1).min(pw) {
                                if a(xx, yy) == 255 {
                                    s += u32::from(orig[yy][xx]);
                                    n += 1;
                                }
                            }
                        }
                        if let Some(m) = (s + n / 2).checked_div(n) {
                            plane.row_mut(y)[x] = m as u8;
                            break;
                        }
                    }
                }
            }
        };
        fill(&mut colour.y, &|x, y| matte.row(y)[x], [2, 8]);
        let ca = |cx: usize, cy: usize| -> u8 {
            let (x0, y0) = (2 * cx, 2 * cy);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (r0, r1) = (matte.row(y0), matte.row(y1));
            let s = u32::from(r0[x0]) + u32::from(r0[x1]) + u32::from(r1[x0]) + u32::from(r1[x1]);
            ((s + 2) / 4) as u8
        };
        fill(&mut colour.u, &ca, [1, 4]);
        fill(&mut colour.v, &ca, [1, 4]);
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

    /// Runs `pull` and [`naive`] on the same seat; asserts they agree and returns whether luma
    /// and U changed.
    fn compare(pull: &mut ForegroundPull, w: usize, h: usize, planes: &[Vec<u8>; 4]) -> bool {
        let [m, y, u, v] = planes;
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let matte = PlaneRef::packed(m, w, h).unwrap();
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
        y1 != *y && u1 != *u
    }

    #[test]
    fn equals_the_per_pixel_form() {
        // One pull for all: its scratch is reused across sizes.
        let mut pull = ForegroundPull::default();
        for (w, h, soft, seed) in [
            (240, 136, 3, 0),
            (102, 136, 1, 1),
            (33, 17, 2, 2),
            (5, 3, 4, 3),
            (1, 1, 1, 4),
            (2, 9, 8, 5),
            (240, 136, 20, 6),
            (274, 154, 1, 7),
            (61, 47, 2000, 8),
        ] {
            let changed = compare(&mut pull, w, h, &seat(w, h, soft, seed));
            // Something was filled where the matte is soft and has a covered neighbour.
            if w > 30 && soft < 100 {
                assert!(changed, "{w}x{h}: nothing changed");
            }
        }
        // Scattered coverage: 0, 255 and partial values in runs, so windows meet the plane's
        // edges, gaps, and covered pixels on every side.
        for (w, h, seed) in [(97u64, 71u64, 1u64), (18, 40, 2), (300, 9, 3), (7, 120, 4)] {
            let (w, h) = (w as usize, h as usize);
            let hash = |i: usize, k: u64| {
                let v = (i as u64 ^ seed << 32 ^ k << 40).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                (v >> 29) as u32
            };
            let matte = (0..w * h)
                .map(|i| match hash(i / 3, 0) % 8 {
                    0..=2 => 255,
                    3..=5 => 0,
                    _ => (1 + hash(i, 1) % 254) as u8,
                })
                .collect();
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            let tex = |n: usize, k: u64| (0..n).map(|i| hash(i, k) as u8).collect();
            let planes = [matte, tex(w * h, 2), tex(cw * ch, 3), tex(cw * ch, 4)];
            assert!(
                compare(&mut pull, w, h, &planes),
                "{w}x{h}: nothing changed"
            );
        }
    }

    /// A `w x h` matte: covered in columns 0..8, then partial coverage falling by 20 a column
    /// over columns 8..20 (wider than the small window), then none.
    fn soft_edge(w: usize, h: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| match i % w {
                x if x < 8 => 255,
                x if x < 20 => (255 - 20 * (x - 7)) as u8,
                _ => 0,
            })
            .collect()
    }

    /// A soft edge wider than the small window: a covered block (luma 200) at the left, then
    /// a ramp of partial coverage over 12 pixels on luma 20 (the room). The first 8 ramp
    /// pixels take the person's colour (the wide window's reach); the ones beyond are left
    /// alone.
    #[test]
    fn a_wide_soft_edge_is_filled_to_the_reach() {
        let (w, h) = (24, 6);
        let (cw, ch) = (w / 2, h / 2);
        let matte = soft_edge(w, h);
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
        // Chroma pixels 4..10 hold partial coverage: 4..8 are reached (radius 4).
        for row in u.chunks_exact(cw) {
            assert!(row[..8].iter().all(|&c| c == 90), "{row:?}");
            assert!(row[8..].iter().all(|&c| c == 128), "{row:?}");
        }
        for row in v.chunks_exact(cw) {
            assert!(row[..8].iter().all(|&c| c == 160), "{row:?}");
        }
    }

    /// The small window first: a person whose colour changes (luma 200 above row 20, 60
    /// below) beside a soft edge. Edge pixels within 2 pixels of the person, 5 rows above the
    /// change, take 200 alone (a wide window there would mix in the 60 below); pixels further
    /// out take the wide window's mean, which mixes both.
    #[test]
    fn pixels_next_to_the_person_take_the_colour_beside_them() {
        let (w, h) = (24, 40);
        let (cw, ch) = (w / 2, h / 2);
        let matte = soft_edge(w, h);
        let mut y: Vec<u8> = (0..w * h)
            .map(|i| match (i % w, i / w) {
                (x, _) if x >= 8 => 20,
                (_, r) if r < 20 => 200,
                _ => 60,
            })
            .collect();
        let (mut u, mut v) = (vec![128u8; cw * ch], vec![128u8; cw * ch]);
        pull_foreground(
            &mut SeatColour {
                y: PlaneMut::new(&mut y, w, h, w).unwrap(),
                u: PlaneMut::new(&mut u, cw, ch, cw).unwrap(),
                v: PlaneMut::new(&mut v, cw, ch, cw).unwrap(),
            },
            &PlaneRef::packed(&matte, w, h).unwrap(),
        );
        let row = &y[15 * w..][..w];
        assert_eq!(row[8..10], [200, 200], "{row:?}");
        assert!(row[10..16].iter().all(|&l| l > 60 && l < 200), "{row:?}");
        // Far from the change, everything within reach is the person's one colour.
        assert!(y[2 * w..][8..16].iter().all(|&l| l == 200));
        assert!(y[37 * w..][8..16].iter().all(|&l| l == 60));
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
