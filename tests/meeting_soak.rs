//! A randomized long run of a meeting: thousands of ticks of joins, leaves, video on/off,
//! stalls, room moves, scene, scene-size and output-size changes and input resolution /
//! format changes, checking invariants after every tick:
//! - nobody is in two seats or two rooms, and the meeting's view agrees with each room's;
//! - every seated participant has video on (and, under the Free policy, is not frozen);
//! - the seating map agrees with the pixels: each participant sends frames of one solid
//!   colour of its own, and its reported rectangle shows exactly that colour;
//! - no panic; memory is flat: live heap bytes (counted by this binary's global allocator)
//!   do not grow between the first and second half of the run beyond a small bound.

use std::collections::HashSet;

use together_mode::frame::{Frame, PixelFormat};
use together_mode::meeting::{Meeting, MeetingOptions, RoomSpec};
use together_mode::stream::{FreezePolicy, StreamOptions};
use together_mode::SegmentMode;
use together_mode::{CompositorOptions, Role, Scene};

mod common;

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

const PEOPLE: usize = 24;
const ROOMS: usize = 3;
const TICKS: u64 = 6000;
const SIZES: [(u32, u32); 3] = [(128, 72), (160, 90), (96, 54)];
const SCENE_SIZES: [(u32, u32); 3] = [(1280, 720), (640, 480), (333, 333)];

fn id(i: usize) -> String {
    format!("8:acs:p{i}")
}

/// Participant i's colour: distinct luma per participant, chroma from i too.
fn colour(i: usize) -> [u8; 3] {
    [30 + 7 * i as u8, 60 + 5 * i as u8, 200 - 4 * i as u8]
}

struct Person {
    present: bool,
    video: bool,
    /// Stalled: video on but sending nothing.
    stalled: bool,
    /// Source size and format.
    size: (u32, u32),
    format: PixelFormat,
    frame: Frame,
}

fn make_frame(i: usize, size: (u32, u32), format: PixelFormat) -> Frame {
    common::solid(format, size.0, size.1, colour(i))
}

fn scene(r: &mut fastrand::Rng, w: u32, h: u32) -> Scene {
    Scene::grid([4, 9, 6, 16][r.usize(..4)], w, h).unwrap()
}

#[test]
fn randomized_meeting_keeps_its_invariants_and_memory_flat() {
    let mut rng = common::rng(0x9E37_79B9_7F4A_7C15);
    let (w, h) = SIZES[0];
    let options = MeetingOptions::default()
        .with_compositor(
            CompositorOptions::default()
                .with_segment(SegmentMode::Alpha)
                .with_size(w, h)
                .with_parallel(false),
        )
        .with_fps(30, 1)
        .with_idle_timeout_us(2_000_000)
        .with_stream(
            StreamOptions::default()
                .with_freeze_timeout_us(200_000)
                .with_policy(FreezePolicy::Free),
        );
    let mut m = Meeting::new(Scene::grid(9, w, h).unwrap(), options).unwrap();
    let rx = m.subscribe();
    m.join("8:orgid:host", Role::Organizer).unwrap();
    let host = "8:orgid:host";
    m.start(host).unwrap();
    let mut rooms = vec![m.main_room().to_string()];
    for k in 0..ROOMS {
        let t = format!("room-{k}");
        m.create_room(host, RoomSpec::new(&t, &t).with_auto_move(k % 2 == 0))
            .unwrap();
        rooms.push(t);
    }
    let formats = [PixelFormat::I420, PixelFormat::Nv12, PixelFormat::I420A];
    let mut people: Vec<Person> = (0..PEOPLE)
        .map(|i| Person {
            present: false,
            video: false,
            stalled: false,
            size: (64, 48),
            format: PixelFormat::I420,
            frame: make_frame(i, (64, 48), PixelFormat::I420),
        })
        .collect();
    let mut live_mid = 0isize;
    let mut max_first = 0isize;
    let mut max_second = 0isize;
    let mut checked_pixels = 0u64;

    for tick in 0..TICKS {
        // A few random operations per tick.
        for _ in 0..rng.usize(..4) {
            let i = rng.usize(..PEOPLE);
            let pid = id(i);
            let p = &mut people[i];
            match rng.usize(..14) {
                0 | 1 if !p.present => {
                    m.join(&pid, Role::Attendee).unwrap();
                    p.present = true;
                    p.video = false;
                }
                2 if p.present => {
                    m.leave(&pid).unwrap();
                    p.present = false;
                }
                3..=5 if p.present => {
                    p.video = !p.video;
                    m.set_video(&pid, p.video).unwrap();
                    p.stalled = false;
                }
                6 if p.present => p.stalled = !p.stalled,
                7 if p.present => {
                    // New input resolution and format.
                    p.size = [(64, 48), (120, 90), (48, 64), (200, 112)][rng.usize(..4)];
                    p.format = formats[rng.usize(..formats.len())];
                    p.frame = make_frame(i, p.size, p.format);
                }
                8 if p.present => {
                    let r = rooms[1 + rng.usize(..ROOMS)].clone();
                    let _ = m.assign(host, &pid, Some(&r));
                }
                9 if p.present => {
                    let _ = m.join_room(&pid, &rooms[1 + rng.usize(..ROOMS)]);
                }
                10 if p.present => {
                    let _ = m.return_to_main(&pid);
                }
                11 => {
                    let r = &rooms[1 + rng.usize(..ROOMS)];
                    if rng.u64(..100) < 50 {
                        m.open_room(host, r).unwrap();
                    } else {
                        m.close_room(host, r).unwrap();
                    }
                }
                12 => {
                    let r = rooms[rng.usize(..rooms.len())].clone();
                    let (sw, sh) = SCENE_SIZES[rng.usize(..SCENE_SIZES.len())];
                    m.set_scene_size(&r, sw, sh).unwrap();
                    if rng.u64(..100) < 30 {
                        let (ow, oh) = SIZES[rng.usize(..SIZES.len())];
                        m.set_output_size(&r, ow, oh).unwrap();
                    }
                }
                13 => {
                    // The host changes the scene of the room it is in, or moves.
                    if rng.u64(..100) < 50 {
                        let o = m.live(m.participant(host).unwrap().room).unwrap();
                        let (ow, oh) = (
                            o.compositor().options().width,
                            o.compositor().options().height,
                        );
                        m.change_scene(host, scene(&mut rng, ow, oh)).unwrap();
                    } else {
                        let r = rooms[rng.usize(..rooms.len())].clone();
                        if r == rooms[0] {
                            let _ = m.return_to_main(host);
                        } else {
                            let _ = m.join_room(host, &r);
                        }
                        let _ = m.start(host);
                    }
                }
                _ => {}
            }
        }
        // Frames: everyone present with video on and not stalled, jittered timestamps.
        let now = m.now_us();
        for (i, p) in people.iter().enumerate() {
            if p.present && p.video && !p.stalled && rng.u64(..100) < 80 {
                let pts = now - rng.usize(..30_000) as i64;
                m.push_ref(&id(i), &p.frame.as_ref(), pts).unwrap();
            }
        }
        m.tick().unwrap();
        let _ = rx.try_iter().count();
        if m.stream(rooms[0].as_str()).is_none() && m.participant(host).unwrap().room == rooms[0] {
            m.start(host).unwrap();
        }

        // Invariants.
        let mut seen_rooms = HashSet::new();
        for r in &rooms {
            let live = m.live(r).unwrap();
            let mut seats = HashSet::new();
            for (pid, member) in live.members() {
                assert!(seen_rooms.insert(pid.to_string()), "{pid} in two rooms");
                assert_eq!(m.participant(pid).unwrap().room, r.as_str());
                if let Some(s) = live.seat_of(pid) {
                    assert!(seats.insert(s), "seat {s} of {r} twice");
                    assert!(member.video(), "{pid} seated without video");
                    assert!(!member.frozen(), "{pid} seated while frozen (Free policy)");
                }
            }
            assert_eq!(seats.len(), live.compositor().seating().len());
            // Seating map vs pixels, for rooms that rendered this tick.
            if !m.rendered(r) {
                continue;
            }
            let out = m.output(r).unwrap();
            let (ow, oh) = (out.width() as f64, out.height() as f64);
            let (sw, sh) = m.scene_size(r).unwrap();
            let (sw, sh) = (f64::from(sw), f64::from(sh));
            let s = (sw / ow).min(sh / oh);
            let (ox, oy) = ((sw - ow * s) / 2.0, (sh - oh * s) / 2.0);
            for (pid, rect) in &m.seating_map(r).unwrap().0 {
                let i: usize = pid[7..].parse().unwrap();
                let member = live.member(pid).unwrap();
                if member.input().shown().is_none() {
                    continue; // seated before its first frame: the seat is empty
                }
                // Back to output pixels, 1 pixel inside for rounding.
                let x0 = ((rect.left - ox) / s).round() as usize + 1;
                let y0 = ((rect.top - oy) / s).round() as usize + 1;
                let x1 = ((rect.left + rect.width - ox) / s).round() as usize - 1;
                let y1 = ((rect.top + rect.height - oy) / s).round() as usize - 1;
                let [cy, cu, cv] = colour(i);
                for y in (y0..y1).step_by(3) {
                    for x in (x0..x1).step_by(3) {
                        assert_eq!(out.plane(0).row(y)[x], cy, "{pid} in {r} at {x},{y}");
                        assert_eq!(out.plane(1).row(y / 2)[x / 2], cu);
                        assert_eq!(out.plane(2).row(y / 2)[x / 2], cv);
                        checked_pixels += 1;
                    }
                }
            }
        }
        for (i, p) in people.iter().enumerate() {
            assert_eq!(m.participant(&id(i)).is_some(), p.present);
            if p.present {
                assert!(seen_rooms.contains(&id(i)), "{} in no room", id(i));
            }
        }

        // Memory: after warm-up, compare the peaks of the two halves.
        let live_bytes = common::alloc::live_bytes();
        if tick == TICKS / 4 {
            live_mid = live_bytes;
        }
        if (TICKS / 4..TICKS * 5 / 8).contains(&tick) {
            max_first = max_first.max(live_bytes);
        } else if tick >= TICKS * 5 / 8 {
            max_second = max_second.max(live_bytes);
        }
    }
    assert!(
        checked_pixels > 100_000,
        "only {checked_pixels} pixels checked"
    );
    let growth = max_second - max_first;
    eprintln!(
        "live bytes: at warm-up {live_mid}, peak first half {max_first}, second half \
         {max_second}; {checked_pixels} pixels checked"
    );
    assert!(
        growth < 768 * 1024,
        "live heap grew by {growth} bytes between the halves"
    );
}
