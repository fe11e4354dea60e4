//! autoZoom end to end: a few people in builtin:auditorium are shown larger, inside the
//! output, the view moves smoothly when people join and leave, and the ACS seating map says
//! where the seats are drawn.

use together_mode::frame::{Frame, FrameRef, PixelFormat};
use together_mode::geometry::{Extent, Rect};
use together_mode::zoom::{ZOOM_MIN_STEP_PX, ZOOM_SMOOTHING};
use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};

mod common;
use common::solid;

const W: u32 = 1920;
const H: u32 = 1080;

fn options(w: u32, h: u32, zoom: Option<bool>) -> CompositorOptions {
    CompositorOptions::default()
        .with_size(w, h)
        .with_segment(SegmentMode::Alpha)
        .with_auto_zoom(zoom)
}

fn id(i: usize) -> String {
    format!("8:acs:{i}")
}

fn colour(i: usize) -> [u8; 3] {
    [60 + 40 * (i % 4) as u8, 90, 200 - 30 * (i % 3) as u8]
}

/// builtin:auditorium with `people` participants, each showing a solid frame.
fn auditorium(w: u32, h: u32, zoom: Option<bool>, people: usize) -> Compositor {
    let scene = Scene::builtin("auditorium").unwrap();
    let mut e = Compositor::new(scene, options(w, h, zoom)).unwrap();
    for i in 0..people {
        join(&mut e, i);
    }
    e
}

fn join(e: &mut Compositor, i: usize) {
    e.join(&id(i), Role::Attendee).unwrap();
    e.push(&id(i), solid(PixelFormat::I420, 320, 240, colour(i)), 0)
        .unwrap();
}

fn seat_rect(e: &Compositor, who: &str) -> Rect {
    let seat = e.seating().seat_of(who).unwrap();
    e.layout().seat_rect(seat).unwrap()
}

fn edges(v: &Extent) -> [f64; 4] {
    [v.left, v.top, v.left + v.width, v.top + v.height]
}

#[test]
fn three_people_are_larger_and_inside_the_output() {
    let mut off = auditorium(W, H, None, 3);
    let mut on = auditorium(W, H, Some(true), 3);
    off.render().unwrap();
    on.render().unwrap();
    // The built-in scene itself does not zoom; the override does.
    assert!(!off.auto_zoom() && on.auto_zoom());
    assert_eq!(off.view(), off.scene().extent);
    assert!(on.view().width < on.scene().extent.width);
    for i in 0..3 {
        let (a, b) = (seat_rect(&off, &id(i)), seat_rect(&on, &id(i)));
        assert!(
            b.width > a.width && b.height > a.height,
            "seat of {i}: {b:?} with autoZoom, {a:?} without"
        );
        eprintln!("seat of {i}: {a:?} without autoZoom, {b:?} with");
        // Whole: not cut by the output's edges.
        assert_eq!(b.clip(W, H), b, "seat of {i} leaves the output");
        assert!(!b.is_empty());
    }
}

#[test]
fn the_seating_map_matches_where_seats_are_drawn() {
    let mut e = auditorium(W, H, Some(true), 3);
    // Before any frame the map already shows the view the engine will draw.
    let before = e.seating_map((W, H));
    let first = Frame::from_ref(&e.render().unwrap()).unwrap();
    let map = e.seating_map((W, H));
    assert_eq!(before, map);
    assert_eq!(map.0.len(), 3);
    for i in 0..3 {
        let r = seat_rect(&e, &id(i));
        let css = &map.0[&id(i)];
        // Shown at the output's own size, the map's rectangle is the seat's pixel rectangle.
        assert_eq!(
            (css.left, css.top, css.width, css.height),
            (r.x as f64, r.y as f64, r.width as f64, r.height as f64),
            "seat of {i}"
        );
    }
    // Where a seat is drawn: the pixels that change when only person 1's frame changes all
    // lie in the rectangle the map gives, and cover much of it (desks hide its bottom).
    e.push(&id(1), solid(PixelFormat::I420, 320, 240, [230, 40, 40]), 1)
        .unwrap();
    let r = seat_rect(&e, &id(1));
    let second = e.render().unwrap();
    let changed = changed_pixels(&first.as_ref(), &second);
    assert!(!changed.is_empty());
    for &(x, y) in &changed {
        assert!(
            x >= r.x && x < r.right() && y >= r.y && y < r.bottom(),
            "({x}, {y}) changed, outside the seat {r:?}"
        );
    }
    assert!(
        changed.len() as i64 * 4 > r.width * r.height,
        "{} of {} pixels changed",
        changed.len(),
        r.width * r.height
    );
    // Without autoZoom the map is the unzoomed one: smaller rectangles.
    let unzoomed = auditorium(W, H, Some(false), 3).seating_map((W, H));
    for i in 0..3 {
        assert!(unzoomed.0[&id(i)].width < map.0[&id(i)].width);
    }
}

fn changed_pixels(a: &FrameRef<'_>, b: &FrameRef<'_>) -> Vec<(i64, i64)> {
    let mut v = Vec::new();
    for y in 0..a.height() as usize {
        let (ra, rb) = (a.plane(0).row(y), b.plane(0).row(y));
        for (x, (pa, pb)) in ra.iter().zip(rb).enumerate() {
            if pa != pb {
                v.push((x as i64, y as i64));
            }
        }
    }
    v
}

/// Renders until the view reaches the target, checking each tick: every edge moves toward
/// its target and never past it, by at most the smoothing's share of what is left (or the
/// minimal step), the view stays inside the scene at its aspect. Returns the ticks taken.
fn converge(e: &mut Compositor, w: u32) -> usize {
    let target = e.zoom_target();
    let extent = e.scene().extent;
    let mut ticks = 0;
    while e.view() != target {
        let before = e.view();
        e.render().unwrap();
        let after = e.view();
        let px = f64::from(w) / before.width.min(target.width);
        // Float rounding of the derived right and bottom edges aside.
        let tol = 1e-9 * extent.width.max(extent.height);
        for ((a, b), t) in edges(&before).iter().zip(edges(&after)).zip(edges(&target)) {
            assert!(
                (b - a) * (t - a) >= -tol * tol,
                "an edge moved away: {a} -> {b}, target {t}"
            );
            assert!(
                (t - b).abs() <= (t - a).abs() + tol,
                "overshoot: {a} -> {b}, target {t}"
            );
            let (step, left) = ((b - a).abs() * px, (t - a).abs() * px);
            assert!(step <= (ZOOM_SMOOTHING * left).max(ZOOM_MIN_STEP_PX) + 1e-6);
        }
        let eps = 1e-9 * extent.width;
        assert!(after.left >= extent.left - eps && after.top >= extent.top - eps);
        assert!(after.left + after.width <= extent.left + extent.width + eps);
        assert!(after.top + after.height <= extent.top + extent.height + eps);
        let aspect = extent.width / extent.height;
        assert!((after.width / after.height - aspect).abs() < 1e-6);
        ticks += 1;
        assert!(ticks <= 60, "the view did not settle in 2 s");
    }
    // Settled: more ticks do not move it.
    e.render().unwrap();
    assert_eq!(e.view(), target);
    ticks
}

#[test]
fn the_view_moves_smoothly_when_people_join_and_leave() {
    let (w, h) = (640, 360);
    let mut e = auditorium(w, h, Some(true), 3);
    // The first frame shows the target at once.
    e.render().unwrap();
    let three = e.view();
    assert_eq!(three, e.zoom_target());
    // Someone joins: the target widens, the view follows over several ticks.
    join(&mut e, 3);
    let four = e.zoom_target();
    assert_ne!(four, three, "a fourth person should change the view");
    let ticks = converge(&mut e, w);
    eprintln!("join: settled in {ticks} ticks");
    assert!(ticks >= 5, "jumped in {ticks} ticks");
    // They leave: back to the three-person view, smoothly.
    assert!(e.leave(&id(3)));
    assert_eq!(e.zoom_target(), three);
    let ticks = converge(&mut e, w);
    assert!(ticks >= 5, "jumped in {ticks} ticks");
    // Everybody leaves: the whole scene.
    for i in 0..3 {
        e.leave(&id(i));
    }
    assert_eq!(e.zoom_target(), e.scene().extent);
    converge(&mut e, w);
}

#[test]
fn empty_and_full_rooms_show_the_whole_scene() {
    let (w, h) = (320, 180);
    let mut e = auditorium(w, h, Some(true), 0);
    e.render().unwrap();
    assert_eq!(e.view(), e.scene().extent);
    let seats = e.scene().seats.len();
    for i in 0..seats {
        join(&mut e, i);
    }
    e.render().unwrap();
    assert_eq!(e.view(), e.scene().extent);
}

#[test]
fn the_scene_flag_is_the_default_and_the_option_overrides_it() {
    let mut scene = Scene::builtin("auditorium").unwrap();
    scene.auto_zoom = true;
    let on = Compositor::new(scene.clone(), options(320, 180, None)).unwrap();
    assert!(on.auto_zoom());
    let off = Compositor::new(scene, options(320, 180, Some(false))).unwrap();
    assert!(!off.auto_zoom());
    let mut off = off;
    for i in 0..3 {
        join(&mut off, i);
    }
    off.render().unwrap();
    assert_eq!(off.view(), off.scene().extent);
}

#[test]
fn frames_while_the_view_moves_equal_whole_redraws() {
    // One engine redraws what it thinks changed (render), the other composes every frame
    // whole into a caller's buffer (render_into): while the view moves and after it has
    // settled, the frames must be the same.
    let (w, h) = (320, 180);
    let mut damaged = auditorium(w, h, Some(true), 2);
    let mut whole = auditorium(w, h, Some(true), 2);
    let mut buf = Frame::new(PixelFormat::I420, w, h).unwrap();
    let mut tick = |a: &mut Compositor, b: &mut Compositor, k: usize| {
        let fa = Frame::from_ref(&a.render().unwrap()).unwrap();
        b.render_into(&mut buf.as_mut()).unwrap();
        assert_eq!(a.view(), b.view());
        assert!(
            changed_pixels(&fa.as_ref(), &buf.as_ref()).is_empty(),
            "tick {k}"
        );
    };
    tick(&mut damaged, &mut whole, 0);
    join(&mut damaged, 2);
    join(&mut whole, 2);
    let start = damaged.view();
    for k in 1..30 {
        tick(&mut damaged, &mut whole, k);
    }
    assert_ne!(damaged.view(), start, "the view did not move");
    assert_eq!(damaged.view(), damaged.zoom_target());
}

#[test]
fn a_square_output_letterboxes_with_and_without_zoom() {
    // 720x720: the 16:9 auditorium fills a 720x406 picture (720 * 9 / 16 = 405, to the
    // nearest even 406) 156 rows down ((720 - 406) / 2 = 157, to even 156); bars are black
    // whether the view is the whole scene (zoom off) or autoZoom's window (zoom on).
    let picture = Rect::new(0, 156, 720, 406);
    let black = together_mode::ColorSpec::default().black()[0];
    let mut unzoomed_width = 0;
    for zoom in [false, true] {
        let mut e = auditorium(720, 720, Some(zoom), 3);
        let out = Frame::from_ref(&e.render().unwrap()).unwrap();
        let out = out.as_ref();
        assert_eq!(e.layout().picture(), picture);
        assert_eq!(e.view() != e.scene().extent, zoom);
        for y in (0..picture.y).chain(picture.bottom()..720) {
            assert!(
                out.plane(0).row(y as usize).iter().all(|&v| v == black),
                "zoom {zoom}: row {y} is not a black bar"
            );
        }
        let map = e.seating_map((720, 720));
        for i in 0..3 {
            let r = seat_rect(&e, &id(i));
            // Inside the picture, not stretched: the auditorium's seats are 3:4 (to even
            // pixels), as at the scene's own aspect.
            assert_eq!(r.intersect(&picture), r, "zoom {zoom}: seat of {i} {r:?}");
            let aspect = r.width as f64 / r.height as f64;
            assert!(
                (aspect - 0.75).abs() < 0.1,
                "zoom {zoom}: seat of {i} {r:?}"
            );
            let css = &map.0[&id(i)];
            assert_eq!(
                (css.left, css.top, css.width, css.height),
                (r.x as f64, r.y as f64, r.width as f64, r.height as f64),
                "zoom {zoom}: seat of {i}"
            );
            if zoom {
                assert!(r.width > unzoomed_width, "zoom {zoom}: seat of {i} {r:?}");
            } else {
                unzoomed_width = unzoomed_width.max(r.width);
            }
        }
    }
}
