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
}
