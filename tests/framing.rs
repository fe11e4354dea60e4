//! Framing in the engine (issue 16) with a segmenter that gives a synthetic frame-level person
//! map: framing off is today's centre crop byte for byte; framing on a close-up leaves the
//! seat transparent where the window passes the frame; a fixed crop shows its rectangle.

use std::sync::Arc;

use together_mode::frame::{Frame, PixelFormat, PlaneMut};
use together_mode::framing::FramingMode;
use together_mode::geometry::Rect;
use together_mode::segment::{Matte, PersonMap, SegmentInput, Segmenter, SegmenterFactory};
use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};

mod common;
use common::alloc::allocated_by;

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

const MAP: (usize, usize) = (64, 64);

/// Opaque person everywhere (matte 255), with a frame-level map of a head `head_w` map cells
/// wide at the top centre (when `map`).
struct MapSegmenter {
    map: Option<Vec<f32>>,
}

impl Segmenter for MapSegmenter {
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte {
        let _ = input;
        for row in matte.rows_mut() {
            row.fill(255);
        }
        Matte::Written
    }

    fn person_map(&self) -> Option<PersonMap<'_>> {
        self.map.as_ref().map(|prob| PersonMap {
            prob,
            width: MAP.0,
            height: MAP.1,
            frame: (320, 240),
            covers: Rect::new(0, 0, 320, 240),
            fresh: true,
        })
    }
}

/// A close-up: a head 40 cells wide from the map's top row, shoulders to the bottom.
fn close_up() -> Vec<f32> {
    let mut m = vec![0.0; MAP.0 * MAP.1];
    for y in 0..MAP.1 {
        for x in 0..MAP.0 {
            let half = if y < 52 { 20 } else { 32 };
            if (x as i64 - 32).abs() < half {
                m[y * MAP.0 + x] = 0.9;
            }
        }
    }
    m
}

fn factory(map: bool) -> SegmenterFactory {
    Arc::new(move || {
        Box::new(MapSegmenter {
            map: map.then(close_up),
        })
    })
}

/// A 320x240 frame with a horizontal luma ramp (so crops differ).
fn frame() -> Frame {
    let mut f = Frame::black(PixelFormat::I420, 320, 240, Default::default()).unwrap();
    let mut fm = f.as_mut();
    let mut y = fm.plane_mut(0);
    for (r, row) in y.rows_mut().enumerate() {
        for (x, v) in row.iter_mut().enumerate() {
            *v = (16 + (x + r) % 200) as u8;
        }
    }
    f
}

fn render(mode: FramingMode, map: bool, frames: usize) -> Vec<u8> {
    let scene = Scene::builtin("auditorium").unwrap();
    let options = CompositorOptions::default()
        .with_size(640, 360)
        .with_segment(SegmentMode::Alpha)
        .with_framing(mode);
    let mut e = Compositor::with_segmenter(scene, options, factory(map)).unwrap();
    e.join("a", Role::Attendee).unwrap();
    for k in 0..frames {
        e.push("a", frame(), k as i64).unwrap();
        e.render().unwrap();
    }
    let out = e.render().unwrap();
    out.plane(0).rows().flatten().copied().collect()
}

#[test]
fn framing_off_is_the_centre_crop_and_auto_without_a_map_too() {
    let centre = render(FramingMode::Off, false, 3);
    assert_eq!(render(FramingMode::Off, true, 3), centre);
    assert_eq!(render(FramingMode::Auto, false, 3), centre);
    // With a map, auto frames the head: the picture changes.
    assert_ne!(render(FramingMode::Auto, true, 3), centre);
}

#[test]
fn a_close_up_is_shown_smaller_with_the_room_around_it() {
    let scene = Scene::builtin("auditorium").unwrap();
    let options = CompositorOptions::default()
        .with_size(640, 360)
        .with_segment(SegmentMode::Alpha);
    let mut e = Compositor::with_segmenter(scene, options, factory(true)).unwrap();
    e.join("a", Role::Attendee).unwrap();
    let empty: Vec<u8> = e
        .render()
        .unwrap()
        .plane(0)
        .rows()
        .flatten()
        .copied()
        .collect();
    for k in 0..20 {
        e.push("a", frame(), k).unwrap();
        e.render().unwrap();
    }
    let (head, win) = e.framing_of("a").unwrap();
    // The head is 40 of 64 cells: 200 of 320 frame pixels; the window is far taller than the
    // 240-pixel frame, so the frame fills only the middle of the seat.
    assert!((head.width - 200.0).abs() <= 6.0, "{head:?}");
    assert!(win.height > 240.0 && win.x < 0.0, "{win:?}");
    let out: Vec<u8> = e
        .render()
        .unwrap()
        .plane(0)
        .rows()
        .flatten()
        .copied()
        .collect();
    let seat = e
        .layout()
        .seat_rect(e.seating().seat_of("a").unwrap())
        .unwrap();
    // The seat's left and right columns show the room (the window passes the frame there).
    for r in seat.y + 2..seat.bottom() - 2 {
        for x in [seat.x, seat.right() - 1] {
            let i = (r * 640 + x) as usize;
            assert_eq!(out[i], empty[i], "row {r} column {x}");
        }
    }
    // The frame's part of the seat shows the person.
    // (The frame covers about the seat's rows 10..43 %.)
    let (cx, cy) = (seat.x + seat.width / 2, seat.y + seat.height / 4);
    let i = (cy * 640 + cx) as usize;
    assert_ne!(out[i], empty[i]);
}

#[test]
fn a_fixed_crop_differs_from_the_centre_crop_and_a_participant_may_turn_framing_off() {
    let centre = render(FramingMode::Off, true, 2);
    let fixed = FramingMode::Fixed {
        x: 0,
        y: 0,
        width: 120,
        height: 120,
    };
    assert_ne!(render(fixed, true, 2), centre);

    let scene = Scene::builtin("auditorium").unwrap();
    let options = CompositorOptions::default()
        .with_size(640, 360)
        .with_segment(SegmentMode::Alpha);
    let mut e = Compositor::with_segmenter(scene, options, factory(true)).unwrap();
    e.join("a", Role::Attendee).unwrap();
    e.set_framing("a", Some(FramingMode::Off)).unwrap();
    for k in 0..3 {
        e.push("a", frame(), k).unwrap();
        e.render().unwrap();
    }
    let out: Vec<u8> = e
        .render()
        .unwrap()
        .plane(0)
        .rows()
        .flatten()
        .copied()
        .collect();
    assert_eq!(out, centre);
    assert!(e.set_framing("nobody", None).is_err());
}

#[test]
fn a_framed_seat_allocates_nothing_once_the_window_settled() {
    let scene = Scene::builtin("auditorium").unwrap();
    let options = CompositorOptions::default()
        .with_size(640, 360)
        .with_segment(SegmentMode::Alpha)
        .with_parallel(false);
    let mut e = Compositor::with_segmenter(scene, options, factory(true)).unwrap();
    e.join("a", Role::Attendee).unwrap();
    let f = frame();
    // Warm-up: the first estimate, then the window settles.
    for k in 0..40 {
        e.push_ref("a", &f.as_ref(), k).unwrap();
        e.render().unwrap();
    }
    assert!(e.framing_of("a").is_some());
    let ((), bytes) = allocated_by(|| {
        for k in 40..100 {
            e.push_ref("a", &f.as_ref(), k).unwrap();
            e.render().unwrap();
        }
    });
    assert_eq!(
        bytes, 0,
        "a framed seat allocated {bytes} bytes in 60 ticks"
    );
}

/// A window that changes size (a person leaning in and back) allocates nothing once the
/// largest size was seen: the scale plans are made over in their buffers. Fixed crops of
/// three sizes (one past the frame's edge, so the seat has a transparent border) take turns.
#[test]
fn a_window_that_changes_size_allocates_nothing_once_its_sizes_were_seen() {
    let scene = Scene::builtin("auditorium").unwrap();
    let options = CompositorOptions::default()
        .with_size(640, 360)
        .with_segment(SegmentMode::Alpha)
        .with_parallel(false);
    let mut e = Compositor::with_segmenter(scene, options, factory(false)).unwrap();
    e.join("a", Role::Attendee).unwrap();
    let f = frame();
    let fixed = |x, y, width, height| FramingMode::Fixed {
        x,
        y,
        width,
        height,
    };
    let windows = [
        fixed(40, 20, 180, 200),
        fixed(100, 60, 120, 150),
        fixed(200, 100, 180, 220),
    ];
    let mut tick = 0i64;
    let mut cycle = |e: &mut Compositor| {
        for w in windows {
            e.set_framing("a", Some(w)).unwrap();
            e.push_ref("a", &f.as_ref(), tick).unwrap();
            e.render().unwrap();
            tick += 1;
        }
    };
    // Every size once (and twice, so each plan was made over from a larger one).
    cycle(&mut e);
    cycle(&mut e);
    let ((), bytes) = allocated_by(|| {
        for _ in 0..10 {
            cycle(&mut e);
        }
    });
    assert_eq!(
        bytes, 0,
        "a window changing size allocated {bytes} bytes in 30 ticks"
    );
}

/// Hostile fixed crops (from a property, a flag or a file) render without a panic: one wholly
/// outside the frame or thinner than 2 pixels inside it is the centre crop, one at the edge of
/// `u32` too; one partly outside shows the part inside (not the centre crop).
#[test]
fn fixed_crops_outside_the_frame_fall_back_to_the_centre_crop() {
    let centre = render(FramingMode::Off, false, 1);
    let fixed = |x, y, width, height| FramingMode::Fixed {
        x,
        y,
        width,
        height,
    };
    for mode in [
        fixed(u32::MAX, u32::MAX, u32::MAX, u32::MAX),
        fixed(320, 0, 100, 100),
        fixed(0, 240, 100, 100),
        fixed(319, 0, 100, 100),
    ] {
        assert_eq!(render(mode, false, 1), centre, "{mode}");
    }
    // The whole frame (clipped): renders.
    let whole = render(fixed(0, 0, u32::MAX, u32::MAX), false, 1);
    assert_eq!(whole.len(), centre.len());
    for mode in [fixed(300, 200, 1000, 1000), fixed(10, 10, 2, 2)] {
        assert_ne!(render(mode, false, 1), centre, "{mode}");
    }
}

/// `set_framing` and `framing_of` on ids without a seat: an unknown id is a typed error (and
/// no estimate), and so is one a full scene refused; a seated participant has no estimate
/// before their first frame.
#[test]
fn framing_of_ids_without_a_seat() {
    let scene = Scene::grid(1, 640, 360).unwrap();
    let options = CompositorOptions::default()
        .with_size(640, 360)
        .with_segment(SegmentMode::Alpha);
    let mut e = Compositor::with_segmenter(scene, options, factory(true)).unwrap();
    assert!(matches!(
        e.set_framing("nobody", Some(FramingMode::Off)),
        Err(together_mode::error::ComposeError::UnknownParticipant(id)) if id == "nobody"
    ));
    assert!(e.framing_of("nobody").is_none());
    e.join("a", Role::Attendee).unwrap();
    assert!(e.framing_of("a").is_none(), "no frame yet");
    assert!(e.join("b", Role::Attendee).is_err(), "one seat");
    assert!(e.set_framing("b", None).is_err(), "not a participant");
}
