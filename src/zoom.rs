//! autoZoom: when few seats are taken, the view zooms onto the occupied seats.
//!
//! A scene's `autoZoom` (or [`crate::CompositorOptions::auto_zoom`], which overrides it) asks
//! the compositor to show a *view*, a window of the scene's [`Extent`] in world units, instead
//! of the whole extent:
//!
//! 1. **Target** ([`zoom_window`]): the occupied seats' bounding box, grown by a margin of
//!    [`ZOOM_MARGIN`] of the largest occupied seat on each side, then grown on one axis to the
//!    extent's aspect (so the view maps onto the output with the scale the whole scene has:
//!    a uniform zoom), at least `1 / MAX_ZOOM` of the extent, centred on the box and shifted
//!    inside the extent. No zoom (the whole extent) when nobody is seated, or when that window
//!    would be more than `1 / MIN_ZOOM` of the extent.
//! 2. **Smoothing** ([`step_view`]): once per output tick the view moves toward the target by
//!    first-order smoothing: a fraction [`ZOOM_SMOOTHING`] of what is left (at least
//!    [`ZOOM_MIN_STEP_PX`] output pixels, never past the target), and lands on it when less
//!    than [`ZOOM_SNAP_PX`] is left. Every edge moves monotonically toward its target, the view
//!    keeps the extent's aspect and stays inside the extent (each step is a convex combination
//!    of two views that do). From a full-scene view to a 3x zoom this takes about 18 ticks
//!    (0.6 s at 30 fps).
//!
//! The compositor draws the scene's sprites and every seat through the current view; the ACS
//! seating map uses the target view (where people are once the view has settled).

use crate::geometry::{Extent, WorldRect};

/// Margin around the occupied seats, as a fraction of the largest occupied seat's width
/// (left and right) and height (top and bottom).
pub const ZOOM_MARGIN: f64 = 0.5;

/// Largest zoom: the view is never narrower than `extent.width / MAX_ZOOM` (a few people are
/// not blown up into the blurry background).
pub const MAX_ZOOM: f64 = 3.0;

/// Smallest zoom worth doing: a target wider than `extent.width / MIN_ZOOM` is the whole
/// extent (a nearly full room does not zoom by a few percent).
pub const MIN_ZOOM: f64 = 1.1;

/// The fraction of the remaining distance the view moves per output tick.
pub const ZOOM_SMOOTHING: f64 = 0.3;

/// The smallest step per tick (output pixels, at the zoomed-in scale), so the smoothing's
/// tail does not crawl.
pub const ZOOM_MIN_STEP_PX: f64 = 2.0;

/// The view lands on its target when every edge is within this many output pixels of it.
pub const ZOOM_SNAP_PX: f64 = 0.5;

/// The view that shows the seats `occupied` (world rectangles inside `extent`) with a margin,
/// or `None` for no zoom (nobody seated, or the window would be nearly the whole extent; also
/// for a degenerate extent or non-finite seats).
pub fn zoom_window<'a>(
    extent: &Extent,
    occupied: impl IntoIterator<Item = &'a WorldRect>,
) -> Option<Extent> {
    let (ew, eh) = (extent.width, extent.height);
    if !(ew.is_finite() && eh.is_finite() && ew > 0.0 && eh > 0.0) {
        return None;
    }
    let (mut x0, mut y0) = (f64::INFINITY, f64::INFINITY);
    let (mut x1, mut y1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut seat_w, mut seat_h) = (0.0f64, 0.0f64);
    for r in occupied {
        x0 = x0.min(r.cx - r.width / 2.0);
        x1 = x1.max(r.cx + r.width / 2.0);
        y0 = y0.min(r.cy - r.height / 2.0);
        y1 = y1.max(r.cy + r.height / 2.0);
        seat_w = seat_w.max(r.width);
        seat_h = seat_h.max(r.height);
    }
    if !(x0.is_finite() && x1.is_finite() && y0.is_finite() && y1.is_finite()) {
        return None;
    }
    let (mx, my) = (ZOOM_MARGIN * seat_w, ZOOM_MARGIN * seat_h);
    let (bw, bh) = (x1 - x0 + 2.0 * mx, y1 - y0 + 2.0 * my);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    // Grow one side to the extent's aspect, then to the largest zoom's size.
    let aspect = ew / eh;
    let mut w = bw.max(bh * aspect).max(ew / MAX_ZOOM);
    if !w.is_finite() || w * MIN_ZOOM > ew {
        return None;
    }
    w = w.min(ew);
    let h = w / aspect;
    // Centred on the seats, shifted inside the extent.
    let left = (cx - w / 2.0).clamp(extent.left, extent.left + ew - w);
    let top = (cy - h / 2.0).clamp(extent.top, extent.top + eh - h);
    Some(Extent {
        left,
        top,
        width: w,
        height: h,
    })
}

/// One output tick of the view's smoothing toward `target` (see the module doc) for an
/// output `output_width` pixels wide. Both views should have the same aspect and lie inside
/// the scene's extent; the result then does too.
pub fn step_view(current: &Extent, target: &Extent, output_width: u32) -> Extent {
    let narrowest = current.width.min(target.width);
    if !(narrowest.is_finite() && narrowest > 0.0) {
        return *target;
    }
    let px = f64::from(output_width.max(1)) / narrowest;
    let edges = |e: &Extent| [e.left, e.top, e.left + e.width, e.top + e.height];
    let (a, b) = (edges(current), edges(target));
    let left_px = a
        .iter()
        .zip(&b)
        .map(|(a, b)| (b - a).abs() * px)
        .fold(0.0f64, f64::max);
    if !left_px.is_finite() || left_px <= ZOOM_SNAP_PX {
        return *target;
    }
    let t = ZOOM_SMOOTHING.max(ZOOM_MIN_STEP_PX / left_px).min(1.0);
    let mix = |a: f64, b: f64| a + (b - a) * t;
    Extent {
        left: mix(current.left, target.left),
        top: mix(current.top, target.top),
        width: mix(current.width, target.width),
        height: mix(current.height, target.height),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extent() -> Extent {
        Extent {
            left: -8.0,
            top: -4.5,
            width: 16.0,
            height: 9.0,
        }
    }

    fn seat(cx: f64, cy: f64) -> WorldRect {
        WorldRect {
            cx,
            cy,
            width: 1.0,
            height: 1.0,
        }
    }

    fn inside(v: &Extent, e: &Extent) -> bool {
        let eps = 1e-9;
        v.left >= e.left - eps
            && v.top >= e.top - eps
            && v.left + v.width <= e.left + e.width + eps
            && v.top + v.height <= e.top + e.height + eps
    }

    fn holds(v: &Extent, r: &WorldRect, margin: f64) -> bool {
        v.left <= r.cx - r.width / 2.0 - margin + 1e-9
            && v.left + v.width >= r.cx + r.width / 2.0 + margin - 1e-9
            && v.top <= r.cy - r.height / 2.0 - margin + 1e-9
            && v.top + v.height >= r.cy + r.height / 2.0 + margin - 1e-9
    }

    #[test]
    fn nobody_seated_is_no_zoom() {
        assert_eq!(zoom_window(&extent(), []), None);
    }

    #[test]
    fn a_full_room_is_no_zoom() {
        let e = extent();
        let seats: Vec<WorldRect> = (0..8)
            .flat_map(|i| (0..4).map(move |j| seat(-7.0 + 2.0 * i as f64, -3.0 + 2.0 * j as f64)))
            .collect();
        assert_eq!(zoom_window(&e, &seats), None);
        // Two opposite corners are as good as a full room.
        assert_eq!(zoom_window(&e, &[seat(-7.5, -4.0), seat(7.5, 4.0)]), None);
    }

    #[test]
    fn a_wide_group_gets_the_extent_aspect_and_a_margin() {
        let e = extent();
        // Three seats in a row: 5 x 1 plus half a seat each side = 6 x 2; grown to 16:9
        // that is 6 x 3.375 (the width rules).
        let seats = [seat(-2.0, 1.0), seat(0.0, 1.0), seat(2.0, 1.0)];
        let v = zoom_window(&e, &seats).unwrap();
        assert!((v.width / v.height - 16.0 / 9.0).abs() < 1e-9);
        assert!((v.width - 6.0).abs() < 1e-9, "{v:?}");
        assert!((v.left - -3.0).abs() < 1e-9 && (v.top + v.height / 2.0 - 1.0).abs() < 1e-9);
        for s in &seats {
            assert!(holds(&v, s, 0.5));
        }
        assert!(inside(&v, &e));
    }

    #[test]
    fn a_tall_group_grows_in_width() {
        let e = extent();
        // A column of four seats: 1 x 7 plus margins = 2 x 8: the height rules.
        let seats = [
            seat(0.0, -3.0),
            seat(0.0, -1.0),
            seat(0.0, 1.0),
            seat(0.0, 3.0),
        ];
        let v = zoom_window(&e, &seats).unwrap();
        assert!((v.height - 8.0).abs() < 1e-9, "{v:?}");
        assert!((v.width / v.height - 16.0 / 9.0).abs() < 1e-9);
        assert!(inside(&v, &e));
    }

    #[test]
    fn the_window_is_clamped_inside_the_extent() {
        let e = extent();
        // Two seats in the top-left corner: centred on them the window would stick out.
        let seats = [seat(-7.5, -4.0), seat(-5.5, -4.0)];
        let v = zoom_window(&e, &seats).unwrap();
        assert_eq!((v.left, v.top), (e.left, e.top));
        assert!(inside(&v, &e));
        for s in &seats {
            assert!(holds(&v, s, 0.0));
        }
    }

    #[test]
    fn one_person_is_zoomed_at_most_max_zoom() {
        let e = extent();
        let v = zoom_window(&e, &[seat(1.0, 0.5)]).unwrap();
        assert!((v.width - e.width / MAX_ZOOM).abs() < 1e-9, "{v:?}");
        assert!((v.left + v.width / 2.0 - 1.0).abs() < 1e-9);
        assert!(inside(&v, &e));
    }

    #[test]
    fn bad_extents_and_seats_are_no_zoom() {
        let mut e = extent();
        e.width = 0.0;
        assert_eq!(zoom_window(&e, &[seat(0.0, 0.0)]), None);
        assert_eq!(zoom_window(&extent(), &[seat(f64::NAN, 0.0)]), None);
    }

    #[test]
    fn the_view_converges_monotonically_without_overshoot() {
        let e = extent();
        let target = zoom_window(&e, &[seat(-2.0, 1.0), seat(0.0, 1.0), seat(2.0, 1.0)]).unwrap();
        for (from, to) in [(e, target), (target, e)] {
            let mut v = from;
            let mut ticks = 0;
            let edges = |e: &Extent| [e.left, e.top, e.left + e.width, e.top + e.height];
            while v != to {
                let next = step_view(&v, &to, 1920);
                for ((a, b), t) in edges(&v).iter().zip(edges(&next)).zip(edges(&to)) {
                    // Toward the target, never past it.
                    assert!((t - b).abs() <= (t - a).abs() + 1e-12);
                    assert!((b - a) * (t - a) >= 0.0);
                }
                assert!(inside(&next, &e));
                assert!((next.width / next.height - 16.0 / 9.0).abs() < 1e-9);
                // At most the smoothing's share of what was left (or the minimal step).
                let px = 1920.0 / v.width.min(to.width);
                for ((a, b), t) in edges(&v).iter().zip(edges(&next)).zip(edges(&to)) {
                    let (step, left) = ((b - a).abs() * px, (t - a).abs() * px);
                    assert!(step <= (ZOOM_SMOOTHING * left).max(ZOOM_MIN_STEP_PX) + 1e-9);
                }
                v = next;
                ticks += 1;
                assert!(ticks < 60, "not settled after {ticks} ticks");
            }
            // About half a second at 30 fps.
            assert!((10..=25).contains(&ticks), "{ticks} ticks");
        }
    }
}
