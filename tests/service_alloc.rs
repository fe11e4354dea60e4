//! The service's ticks in steady state: a meeting's ticking thread renders, records and hands
//! each frame to the room's `RoomSink` without allocating per tick (a counting global
//! allocator sees every allocation of this test binary; one test, so nothing else runs
//! meanwhile). The sink also checks what the hook receives: the room, the output size, rising
//! timestamps.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use together_mode::frame::{FrameRef, PixelFormat};
use together_mode::meeting::IdentityKind;
use together_mode::service::{Identity, RoomSink, Service, ServiceConfig};
use together_mode::{Role, SegmentMode};

mod common;
use common::alloc::allocations_during;

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

const WAIT: Duration = Duration::from_secs(20);

/// Counts the frames of room `main` and notes anything unexpected.
struct Sink {
    frames: AtomicUsize,
    last_pts: AtomicI64,
    wrong: AtomicBool,
}

impl Default for Sink {
    fn default() -> Self {
        Self {
            frames: AtomicUsize::new(0),
            // Tick 0 is at 0 µs.
            last_pts: AtomicI64::new(i64::MIN),
            wrong: AtomicBool::new(false),
        }
    }
}

impl RoomSink for Sink {
    fn frame(&self, room: &str, frame: FrameRef<'_>, pts_us: i64) {
        let last = self.last_pts.swap(pts_us, Ordering::SeqCst);
        if room != "main" || (frame.width(), frame.height()) != (320, 180) || pts_us <= last {
            self.wrong.store(true, Ordering::SeqCst);
        }
        self.frames.fetch_add(1, Ordering::SeqCst);
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn steady_ticks_render_record_and_hand_frames_on_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        key: Some("a test key that is at least 32 bytes long".into()),
        segment: SegmentMode::None,
        output_width: 320,
        output_height: 180,
        fps: 50,
        record: Some(dir.path().to_path_buf()),
        ..ServiceConfig::default()
    };
    let s = Service::new(config).unwrap().spawn().unwrap();
    let rt = s.runtime().clone();
    let who = |id: &str, role| Identity {
        id: id.into(),
        kind: IdentityKind::from_raw_id(id),
        role,
        meeting: "m".into(),
    };
    let olivia = who("8:orgid:olivia", Role::Organizer);
    let alice = who("8:acs:alice", Role::Attendee);
    rt.join(&olivia).unwrap();
    rt.start_video(&alice).unwrap();
    let frame = common::solid(PixelFormat::I420, 64, 48, [81, 90, 240]);
    rt.push_frame(&alice, &frame.as_ref()).unwrap();
    let sink = Arc::new(Sink::default());
    rt.set_room_sink("m", "main", Some(sink.clone())).unwrap();
    rt.with_meeting("m", false, |st| Ok(st.meeting.start(&olivia.id)?))
        .unwrap();
    // Warm-up: frames flow, and Alice's one frame has frozen (the event is sent).
    wait_for("frames and the freeze", || {
        sink.frames.load(Ordering::SeqCst) > 10
            && rt
                .with_meeting("m", false, |st| {
                    Ok(st.meeting.participant(&alice.id).is_some_and(|p| p.frozen))
                })
                .unwrap()
    });
    let before = sink.frames.load(Ordering::SeqCst);
    let target = before + 60;
    let deadline = Instant::now() + WAIT;
    let n = allocations_during(|| {
        while sink.frames.load(Ordering::SeqCst) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let ticks = sink.frames.load(Ordering::SeqCst) - before;
    assert!(ticks >= 60, "only {ticks} ticks in the wait");
    assert!(
        !sink.wrong.load(Ordering::SeqCst),
        "the sink saw a wrong frame"
    );
    // Rayon's injector (ticks come from outside its pool) allocates a block every 63 jobs:
    // rare, never one per tick (tests/no_alloc.rs).
    assert!(n < ticks / 10, "{n} allocations in {ticks} ticks");
    // Removing the sink stops the frames.
    rt.set_room_sink("m", "main", None).unwrap();
    let after = sink.frames.load(Ordering::SeqCst);
    let recorded = dir.path().join("m").join("main.y4m");
    let len = std::fs::metadata(&recorded).unwrap().len();
    wait_for("the recording to grow", || {
        std::fs::metadata(&recorded).is_ok_and(|m| m.len() > len)
    });
    assert_eq!(sink.frames.load(Ordering::SeqCst), after);
    s.stop();
}
