//! Matte quality against ground truth: IoU, edge error, flicker, and the halo a composite
//! shows at the edges.
//!
//! All functions take a matte and a reference of the same size (0 = room, 255 = person) and
//! return `None` when the sizes differ or are empty.
//!
//! - **IoU**: both mattes thresholded at 128; |P ∩ T| / |P ∪ T| (1 when both are empty).
//! - **Edge error**: the mean absolute difference, in 8-bit levels, over the *edge band*:
//!   pixels whose 5x5 neighbourhood in the truth is not uniformly 0 or uniformly 255 (the
//!   outline, 2 pixels either side). Errors inside the person or far out in the room are
//!   IoU's business; this is how well the outline itself is drawn.
//! - **Flicker**: the mean absolute difference between consecutive mattes, in 8-bit levels
//!   over all pixels, measured on a still person (so every change is an error).
//! - **Halo**: composite the seat over a flat backdrop with the matte (the compositor's
//!   straight-alpha blend) and compare, over the edge band, with the ideal composite: the
//!   person's true colour with the true matte. Where a frame `C = A*F + (1-A)*B` was seen
//!   over a room `B`, the ideal is `C + (1-A)*(D - B)` (no division needed). In luma levels.
//!
//! Measures that need no ground truth, for real footage (issue 15, "cleanliness"):
//!
//! - [`halo_excess`]: at the person's edge in a composite (pixels the matte only partly
//!   covers), how far the composite's luma lies outside the range spanned by the scene there
//!   and the person next to it. A blend of the person's colour and the scene's lies inside
//!   it; a rim of colour from the camera's room, or of whatever transparent pixels held,
//!   lies outside.
//! - [`islands`]: matte mass not connected to the person's largest region, as a fraction of
//!   that region's mass.
//! - [`hard_edges`]: seat side and top edge pixels where the matte is at least half: the
//!   matte jumps from there to 0 outside the seat (the bottom edge, where torsos end, is
//!   not counted).
//! - [`trail`]: matte mass outside a reference mask of where the person is now (grown by a
//!   margin), as a fraction of the matte's mass: what a carried-forward matte leaves behind
//!   a moving person.

use crate::frame::PlaneRef;

fn same_size(a: &PlaneRef<'_>, b: &PlaneRef<'_>) -> bool {
    a.width() == b.width() && a.height() == b.height() && a.width() > 0 && a.height() > 0
}

/// Intersection over union of `matte` and `truth`, each thresholded at 128.
pub fn iou(matte: &PlaneRef<'_>, truth: &PlaneRef<'_>) -> Option<f64> {
    if !same_size(matte, truth) {
        return None;
    }
    let (mut inter, mut union) = (0u64, 0u64);
    for (m, t) in matte.rows().zip(truth.rows()) {
        for (&m, &t) in m.iter().zip(t) {
            let (m, t) = (m >= 128, t >= 128);
            inter += u64::from(m && t);
            union += u64::from(m || t);
        }
    }
    Some(if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    })
}

/// Whether pixel `(x, y)` of `truth` is in the edge band (its 5x5 neighbourhood is not
/// uniformly 0 or uniformly 255).
fn in_band(truth: &PlaneRef<'_>, x: usize, y: usize) -> bool {
    let (w, h) = (truth.width(), truth.height());
    let (mut any0, mut any255, mut mixed) = (false, false, false);
    for yy in y.saturating_sub(2)..(y + 3).min(h) {
        for &t in &truth.row(yy)[x.saturating_sub(2)..(x + 3).min(w)] {
            match t {
                0 => any0 = true,
                255 => any255 = true,
                _ => mixed = true,
            }
        }
    }
    mixed || (any0 && any255)
}

/// Mean absolute error of `matte` over the edge band of `truth`, in levels, and the band's
/// size in pixels. The error is 0 over an empty band.
pub fn edge_error(matte: &PlaneRef<'_>, truth: &PlaneRef<'_>) -> Option<(f64, usize)> {
    if !same_size(matte, truth) {
        return None;
    }
    let (mut sum, mut n) = (0u64, 0usize);
    for y in 0..truth.height() {
        let (m, t) = (matte.row(y), truth.row(y));
        for x in 0..truth.width() {
            if in_band(truth, x, y) {
                sum += u64::from(m[x].abs_diff(t[x]));
                n += 1;
            }
        }
    }
    Some((if n == 0 { 0.0 } else { sum as f64 / n as f64 }, n))
}

/// Mean absolute difference between two mattes, in levels (flicker between two frames).
pub fn mean_abs_diff(a: &PlaneRef<'_>, b: &PlaneRef<'_>) -> Option<f64> {
    if !same_size(a, b) {
        return None;
    }
    let mut sum = 0u64;
    for (ra, rb) in a.rows().zip(b.rows()) {
        sum += ra
            .iter()
            .zip(rb)
            .map(|(&x, &y)| u64::from(x.abs_diff(y)))
            .sum::<u64>();
    }
    Some(sum as f64 / (a.width() * a.height()) as f64)
}

/// The halo: mean absolute luma error over the edge band of `truth` between the seat's luma
/// `y` composited with `matte` over a flat `backdrop`, and the ideal composite of the frame
/// `seen` (luma as captured, over the room `room`) with the true matte.
pub fn halo(
    y: &PlaneRef<'_>,
    matte: &PlaneRef<'_>,
    seen: &PlaneRef<'_>,
    room: &PlaneRef<'_>,
    truth: &PlaneRef<'_>,
    backdrop: u8,
) -> Option<f64> {
    if !(same_size(y, matte) && same_size(y, seen) && same_size(y, room) && same_size(y, truth)) {
        return None;
    }
    let d = f64::from(backdrop);
    let (mut sum, mut n) = (0.0, 0usize);
    for r in 0..truth.height() {
        let (yr, mr, sr, rr, tr) = (
            y.row(r),
            matte.row(r),
            seen.row(r),
            room.row(r),
            truth.row(r),
        );
        for x in 0..truth.width() {
            if !in_band(truth, x, r) {
                continue;
            }
            let a = f64::from(mr[x]) / 255.0;
            let ours = f64::from(yr[x]) * a + d * (1.0 - a);
            let at = f64::from(tr[x]) / 255.0;
            let ideal = f64::from(sr[x]) + (1.0 - at) * (d - f64::from(rr[x]));
            sum += (ours - ideal).abs();
            n += 1;
        }
    }
    Some(if n == 0 { 0.0 } else { sum / n as f64 })
}

/// [`halo_excess`]'s result, in luma levels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HaloExcess {
    /// The largest excess over the edge pixels measured.
    pub max: f64,
    /// The mean excess over the edge pixels measured.
    pub mean: f64,
    /// The 99th percentile of the excess over the edge pixels measured.
    pub p99: f64,
    /// Edge pixels measured (`0 < alpha < 255` with a fully covered pixel near them).
    pub pixels: usize,
    /// Edge pixels skipped: no fully covered pixel within the radius, so no person colour
    /// to compare with.
    pub skipped: usize,
}

/// The halo of a composite at a person's edge, without ground truth: `composite` and `scene`
/// are the output's luma over a seat (with the person, and the same frame without anyone in
/// the seat), `alpha` the seat's matte (all three the seat's size). For every pixel with
/// `0 < alpha < 255`, the person's luma range is the composite's over the fully covered
/// pixels (`alpha = 255`, where the composite is the person) within `radius`; the pixel's
/// excess is how far the composite lies outside the range spanned by that and the scene's
/// luma at the pixel (0 inside it).
pub fn halo_excess(
    composite: &PlaneRef<'_>,
    scene: &PlaneRef<'_>,
    alpha: &PlaneRef<'_>,
    radius: usize,
) -> Option<HaloExcess> {
    if !(same_size(composite, scene) && same_size(composite, alpha)) {
        return None;
    }
    let (w, h) = (alpha.width(), alpha.height());
    let mut out = HaloExcess::default();
    let mut sum = 0.0;
    let mut all = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let a = alpha.row(y)[x];
            if a == 0 || a == 255 {
                continue;
            }
            let (mut lo, mut hi) = (u8::MAX, u8::MIN);
            for yy in y.saturating_sub(radius)..(y + radius + 1).min(h) {
                let (ar, cr) = (alpha.row(yy), composite.row(yy));
                for xx in x.saturating_sub(radius)..(x + radius + 1).min(w) {
                    if ar[xx] == 255 {
                        lo = lo.min(cr[xx]);
                        hi = hi.max(cr[xx]);
                    }
                }
            }
            if lo > hi {
                out.skipped += 1;
                continue;
            }
            let s = scene.row(y)[x];
            let (lo, hi) = (f64::from(lo.min(s)), f64::from(hi.max(s)));
            let c = f64::from(composite.row(y)[x]);
            let e = (lo - c).max(c - hi).max(0.0);
            out.max = out.max.max(e);
            all.push(e);
            sum += e;
            out.pixels += 1;
        }
    }
    out.mean = if out.pixels == 0 {
        0.0
    } else {
        sum / out.pixels as f64
    };
    all.sort_by(f64::total_cmp);
    out.p99 = all
        .get((all.len() * 99 / 100).min(all.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    Some(out)
}

/// Labels the 8-connected regions of `core` (a `w x h` mask) grown by `grow` pixels (a
/// square of side `2 * grow + 1` around every core pixel) into `labels` (0: outside every
/// grown region, else 1, 2, ...); returns the number of regions.
fn label_grown(core: &[bool], w: usize, h: usize, grow: usize, labels: &mut Vec<u32>) -> u32 {
    let mut grown = vec![false; w * h];
    dilate(core, w, h, grow, &mut grown);
    label(&grown, w, h, labels)
}

/// `out` = `mask` grown by `r` pixels in each direction (a square window), separably.
fn dilate(mask: &[bool], w: usize, h: usize, r: usize, out: &mut [bool]) {
    let mut rows = vec![false; w * h];
    for y in 0..h {
        let (m, o) = (&mask[y * w..][..w], &mut rows[y * w..][..w]);
        for x in 0..w {
            o[x] = m[x.saturating_sub(r)..(x + r + 1).min(w)]
                .iter()
                .any(|&v| v);
        }
    }
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = (y.saturating_sub(r)..(y + r + 1).min(h)).any(|yy| rows[yy * w + x]);
        }
    }
}

/// Labels the 8-connected regions of `mask` (flood fill); returns their number.
fn label(mask: &[bool], w: usize, h: usize, labels: &mut Vec<u32>) -> u32 {
    labels.clear();
    labels.resize(w * h, 0);
    let mut n = 0;
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !mask[start] || labels[start] != 0 {
            continue;
        }
        n += 1;
        labels[start] = n;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    let j = yy * w + xx;
                    if mask[j] && labels[j] == 0 {
                        labels[j] = n;
                        stack.push(j);
                    }
                }
            }
        }
    }
    n
}

/// [`islands`]' result.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Islands {
    /// Matte mass outside the largest region, as a fraction of the largest region's mass
    /// (0 for an empty matte).
    pub fraction: f64,
    /// Regions (of pixels at least half covered, grown by the tolerance), the largest
    /// included.
    pub regions: u32,
}

/// Islands: the regions of a matte are the 8-connected regions of its pixels of at least
/// 128, grown by `grow` pixels (so a strand of hair a gap of up to about `2 * grow` pixels
/// away from the head counts as connected); every pixel's matte value counts to the region
/// it lies in (pixels in none count as outside every region). The largest region is the one
/// of most mass; the result is the rest of the mass as a fraction of its mass.
pub fn islands(matte: &PlaneRef<'_>, grow: usize) -> Option<Islands> {
    let (w, h) = (matte.width(), matte.height());
    if w == 0 || h == 0 {
        return None;
    }
    let core: Vec<bool> = matte
        .rows()
        .flat_map(|r| r.iter().map(|&v| v >= 128))
        .collect();
    let mut labels = Vec::new();
    let n = label_grown(&core, w, h, grow, &mut labels);
    let mut mass = vec![0u64; n as usize + 1];
    for (r, row) in matte.rows().enumerate() {
        for (x, &v) in row.iter().enumerate() {
            mass[labels[r * w + x] as usize] += u64::from(v);
        }
    }
    let total: u64 = mass.iter().sum();
    let main = mass[1..].iter().copied().max().unwrap_or(0);
    Some(Islands {
        fraction: if main == 0 {
            0.0
        } else {
            (total - main) as f64 / main as f64
        },
        regions: n,
    })
}

/// Hard edges: pixels of the seat's left and right columns and top row (each counted once)
/// where the matte is at least 128, i.e. where the person runs into the seat's side or top
/// and is cut off there (outside the seat, the matte is 0).
pub fn hard_edges(matte: &PlaneRef<'_>) -> Option<usize> {
    let (w, h) = (matte.width(), matte.height());
    if w == 0 || h == 0 {
        return None;
    }
    let top = matte.row(0).iter().filter(|&&v| v >= 128).count();
    let sides = (1..h)
        .map(|y| {
            let r = matte.row(y);
            usize::from(r[0] >= 128) + usize::from(w > 1 && r[w - 1] >= 128)
        })
        .sum::<usize>();
    Some(top + sides)
}

/// Trail: the matte's mass outside `reference` (a mask of where the person is now, for
/// example the network's own mask of the current frame, thresholded at 128) grown by `grow`
/// pixels, as a fraction of the matte's mass (0 for an empty matte).
pub fn trail(matte: &PlaneRef<'_>, reference: &PlaneRef<'_>, grow: usize) -> Option<f64> {
    if !same_size(matte, reference) {
        return None;
    }
    let (w, h) = (matte.width(), matte.height());
    let core: Vec<bool> = reference
        .rows()
        .flat_map(|r| r.iter().map(|&v| v >= 128))
        .collect();
    let mut grown = vec![false; w * h];
    dilate(&core, w, h, grow, &mut grown);
    let (mut outside, mut total) = (0u64, 0u64);
    for (r, row) in matte.rows().enumerate() {
        for (x, &v) in row.iter().enumerate() {
            total += u64::from(v);
            if !grown[r * w + x] {
                outside += u64::from(v);
            }
        }
    }
    Some(if total == 0 {
        0.0
    } else {
        outside as f64 / total as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(v: &[u8], w: usize) -> PlaneRef<'_> {
        PlaneRef::packed(v, w, v.len() / w).unwrap()
    }

    #[test]
    fn iou_counts_overlap_over_union() {
        let t = [0, 255, 255, 255, 0, 0];
        let m = [0, 0, 255, 255, 255, 0];
        // overlap 2, union 4
        assert_eq!(iou(&plane(&m, 6), &plane(&t, 6)), Some(0.5));
        assert_eq!(iou(&plane(&t, 6), &plane(&t, 6)), Some(1.0));
        assert_eq!(iou(&plane(&[0; 4], 2), &plane(&[0; 4], 2)), Some(1.0));
        assert_eq!(iou(&plane(&[0; 4], 2), &plane(&[0; 6], 2)), None);
    }

    #[test]
    fn edge_error_looks_only_at_the_outline() {
        // 12x1: person on the right half; the band is x in 4..=7.
        let t: Vec<u8> = (0..12).map(|x| if x < 6 { 0 } else { 255 }).collect();
        let mut m = t.clone();
        m[0] = 255; // far from the edge: not counted
        m[5] = 255; // in the band: 255 off
        let (e, n) = edge_error(&plane(&m, 12), &plane(&t, 12)).unwrap();
        assert_eq!(n, 4);
        assert!((e - 255.0 / 4.0).abs() < 1e-9, "{e}");
    }

    #[test]
    fn flicker_and_halo() {
        assert_eq!(
            mean_abs_diff(&plane(&[10, 20], 2), &plane(&[13, 16], 2)),
            Some(3.5)
        );
        // A half-covered pixel of a person (F = 200) over a room (B = 100): seen 150. The
        // ideal over a backdrop of 0 is 100; leaving the seen colour gives 75 (a dark halo),
        // unmixing it to 200 gives 100.
        let t = [0, 128, 255];
        let room = [100, 100, 100];
        let seen = [100, 150, 200];
        let ideal = |y: &[u8]| {
            halo(
                &plane(y, 3),
                &plane(&t, 3),
                &plane(&seen, 3),
                &plane(&room, 3),
                &plane(&t, 3),
                0,
            )
            .unwrap()
        };
        assert!(ideal(&[100, 200, 200]) < 0.3);
        assert!(ideal(&seen) > 8.0);
    }

    #[test]
    fn halo_excess_is_how_far_outside_scene_and_person() {
        // 6x1: person (200) on the left, scene 100; two edge pixels.
        let alpha = [255, 255, 170, 85, 0, 0];
        let scene = [100; 6];
        let good = [200, 200, 167, 133, 100, 100];
        let r = halo_excess(&plane(&good, 6), &plane(&scene, 6), &plane(&alpha, 6), 3).unwrap();
        assert_eq!((r.max, r.pixels, r.skipped), (0.0, 2, 0));
        // A dark rim: 90 at the second edge pixel is 10 below the scene.
        let dark = [200, 200, 167, 90, 100, 100];
        let r = halo_excess(&plane(&dark, 6), &plane(&scene, 6), &plane(&alpha, 6), 3).unwrap();
        assert_eq!((r.max, r.mean), (10.0, 5.0));
        // No fully covered pixel within the radius: skipped.
        let r = halo_excess(&plane(&dark, 6), &plane(&scene, 6), &plane(&alpha, 6), 1).unwrap();
        assert_eq!((r.pixels, r.skipped), (1, 1));
        assert!(halo_excess(&plane(&dark, 6), &plane(&scene, 3), &plane(&alpha, 6), 1).is_none());
    }

    #[test]
    fn islands_count_mass_apart_from_the_largest_region() {
        // 12x3: a body of 6 columns at 200, a speck of one pixel at 255 four columns away.
        let mut m = vec![0u8; 36];
        for y in 0..3 {
            for x in 0..6 {
                m[y * 12 + x] = 200;
            }
        }
        m[12 + 10] = 255;
        let i = islands(&plane(&m, 12), 1).unwrap();
        assert_eq!(i.regions, 2);
        assert!((i.fraction - 255.0 / 3600.0).abs() < 1e-12, "{i:?}");
        // Grown by 2, the gap of 4 closes: one region.
        let i = islands(&plane(&m, 12), 2).unwrap();
        assert_eq!((i.regions, i.fraction), (1, 0.0));
        // Faint matte far from everything counts as outside.
        m[24 + 11] = 40;
        m[12 + 10] = 0;
        let i = islands(&plane(&m, 12), 1).unwrap();
        assert!((i.fraction - 40.0 / 3600.0).abs() < 1e-12, "{i:?}");
    }

    #[test]
    fn hard_edges_count_side_and_top_but_not_bottom() {
        let mut m = vec![0u8; 5 * 4];
        assert_eq!(hard_edges(&plane(&m, 5)), Some(0));
        m[0] = 255; // top-left corner: once
        m[2] = 128; // top
        m[5 * 2 + 4] = 200; // right side
        m[5 * 3 + 2] = 255; // bottom middle: not counted
        m[5 * 2] = 127; // below half
        assert_eq!(hard_edges(&plane(&m, 5)), Some(3));
    }

    #[test]
    fn trail_is_mass_outside_the_grown_reference() {
        let reference = [0, 0, 255, 255, 0, 0, 0, 0];
        let matte = [0, 100, 255, 255, 100, 0, 0, 50];
        let t = trail(&plane(&matte, 8), &plane(&reference, 8), 1).unwrap();
        assert!((t - 50.0 / 760.0).abs() < 1e-12, "{t}");
        assert_eq!(
            trail(&plane(&[0; 8], 8), &plane(&reference, 8), 1),
            Some(0.0)
        );
    }
}
