//! The default build and default options cut people out (issue 15, part 1): an opaque camera
//! frame of a real person (scikit-image's astronaut, from `scripts/ml-setup.sh`) seated with
//! `CompositorOptions::default()` is not drawn as a rectangle: the seat's corners show the
//! scene, its middle shows the person, and still does after 3 s (90 ticks). Needs the selfie
//! model and the reference image (skips loudly outside CI, fails under `CI`).
#![cfg(feature = "ml")]

use std::path::Path;

use together_mode::frame::{Frame, FrameRef, PixelFormat};
use together_mode::io::load_image;
use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};

mod common;

/// The default output size: a seat of the auditorium is 270x360 there. (At 640x360 a seat is
/// 90x120, and the network, trained at 256, finds nobody in so small an input; the scheduler's
/// input size for small seats is issue 15's part 4.)
const W: u32 = 1920;
const H: u32 = 1080;

fn astronaut() -> Option<Frame> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/reference/astronaut_256x256.png");
    if !common::require_model() || !common::require_files(&[&path]) {
        return None;
    }
    let rgba = load_image(&path, (4096, 4096)).unwrap();
    Some(rgba.as_ref().to_frame(PixelFormat::I420).unwrap())
}

fn luma(f: &FrameRef<'_>, x: i64, y: i64) -> i32 {
    i32::from(f.plane(0).row(y as usize)[x as usize])
}

/// Mean absolute luma difference between `a` and `b` over a `size`-pixel square at (x, y).
fn diff(a: &FrameRef<'_>, b: &FrameRef<'_>, x: i64, y: i64, size: i64) -> f64 {
    let mut sum = 0;
    for yy in y..y + size {
        for xx in x..x + size {
            sum += (luma(a, xx, yy) - luma(b, xx, yy)).abs();
        }
    }
    sum as f64 / (size * size) as f64
}

/// The output after `ticks` ticks of `person` in seat 0, and the empty scene, and the seat.
fn seat_person(
    mode: Option<SegmentMode>,
    person: &Frame,
    ticks: i64,
) -> (Frame, Frame, together_mode::geometry::Rect) {
    let mut options = CompositorOptions::default().with_size(W, H);
    if let Some(m) = mode {
        options = options.with_segment(m);
    }
    let scene = Scene::builtin("auditorium").unwrap();
    let mut empty = Compositor::new(scene.clone(), options).unwrap();
    let background = Frame::from_ref(&empty.render().unwrap()).unwrap();
    let mut engine = Compositor::new(scene, options).unwrap();
    let seat = engine.join("8:acs:astronaut", Role::Attendee).unwrap();
    let rect = engine.layout().seat_rect(seat).unwrap();
    let mut out = None;
    for t in 0..ticks {
        engine
            .push_ref("8:acs:astronaut", &person.as_ref(), t * 33_333)
            .unwrap();
        out = Some(Frame::from_ref(&engine.render().unwrap()).unwrap());
    }
    (out.unwrap(), background, rect)
}

#[test]
fn the_default_mode_is_auto() {
    assert_eq!(CompositorOptions::default().segment, SegmentMode::Auto);
}

#[test]
fn an_opaque_person_is_cut_out_by_default_and_stays_cut_out() {
    let Some(person) = astronaut() else { return };
    // Seat corners: a square inside each top corner (the astronaut's backdrop there), and the
    // middle of the seat's upper half (her face).
    let corners = |out: &Frame, bg: &Frame, r: &together_mode::geometry::Rect| {
        let s = (r.width / 8).max(2);
        let left = diff(&out.as_ref(), &bg.as_ref(), r.x + 1, r.y + 1, s);
        let right = diff(
            &out.as_ref(),
            &bg.as_ref(),
            r.x + r.width - 1 - s,
            r.y + 1,
            s,
        );
        let face = diff(
            &out.as_ref(),
            &bg.as_ref(),
            r.x + r.width / 2 - s / 2,
            r.y + r.height / 4,
            s,
        );
        (left, right, face)
    };

    // The check can fail: with `none` the seat is a rectangle, its corners are the photo's.
    let (out, bg, rect) = seat_person(Some(SegmentMode::None), &person, 1);
    let (l, r, f) = corners(&out, &bg, &rect);
    eprintln!("none: seat {rect:?}, corner differences {l:.1} {r:.1}, face {f:.1}");
    assert!(l > 10.0 && r > 10.0, "none draws the whole frame: {l} {r}");

    for ticks in [1, 90] {
        let (out, bg, rect) = seat_person(None, &person, ticks);
        let (l, r, f) = corners(&out, &bg, &rect);
        eprintln!("default, {ticks} ticks: corner differences {l:.1} {r:.1}, face {f:.1}");
        assert!(
            l < 3.0 && r < 3.0,
            "{ticks} ticks: the seat's corners must show the scene: {l} {r}"
        );
        assert!(f > 10.0, "{ticks} ticks: the person must be there: {f}");
    }
}
