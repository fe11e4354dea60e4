//! Sequences of seating operations on a `Seating` (checked against the join rules after every
//! step) and on a `Compositor` (join, leave, assign, swap, push, render, change scene, change
//! output size, seating map). Nothing may panic; seats and ids stay a bijection; the seating
//! map only names seated people, with finite boxes inside the scene-size box.
#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use together_mode::frame::{Frame, PixelFormat};
use together_mode::{Compositor, CompositorOptions, Role, Scene, Seating, SeatingMap, SegmentMode};
use together_mode_fuzz::R;

#[derive(Arbitrary, Debug)]
enum Op {
    Join(u8, R),
    Leave(u8),
    Assign(u8, u8),
    Swap(u8, u8),
    Reserve(u8),
    Unreserve(u8),
    ChangeScene(u8),
    Push(u8, u8, u8),
    Render,
    OutputSize(u8, u8),
    Map(u16, u16),
}

/// Participant ids: mostly ordinary, a few hostile (empty, over-long, odd characters).
fn id(v: u8) -> String {
    match v {
        250 => String::new(),
        251 => "x".repeat(257),
        252 => "é".repeat(200),
        253 => "8:acs:\0\n\"{}".to_string(),
        _ => format!("8:acs:{}", v % 24),
    }
}

fn scene(v: u8) -> Scene {
    let n = 1 + (v as usize) % 30;
    match v % 3 {
        0 => Scene::builtin("auditorium").expect("built-in"),
        _ => Scene::grid(n, 320, 180).expect("a small grid"),
    }
}

/// The seat the join rules give `id` with `role`: the seat `id` left last if nobody sat
/// there since and the role may use it; else privileged roles take the first free reserved
/// seat in seating order, else the first free unreserved one; attendees only unreserved seats.
fn expected_seat(s: &Seating, order: &[usize], id: &str, role: Role) -> Option<usize> {
    if let Some(r) = s.remembered_seat(id) {
        if s.occupant(r).is_none() && (role.is_privileged() || !s.is_reserved(r)) {
            return Some(r);
        }
    }
    let free = |reserved: bool| {
        order
            .iter()
            .copied()
            .find(|&i| s.occupant(i).is_none() && s.is_reserved(i) == reserved)
    };
    if role.is_privileged() {
        free(true).or_else(|| free(false))
    } else {
        free(false)
    }
}

fn check_seating(s: &Seating) {
    let occupied: Vec<(usize, String)> = s.occupied().map(|(i, id)| (i, id.to_string())).collect();
    assert_eq!(occupied.len(), s.len());
    assert!(s.len() <= s.capacity());
    let mut ids = HashSet::new();
    for (seat, id) in &occupied {
        assert!(*seat < s.capacity());
        assert_eq!(s.seat_of(id), Some(*seat));
        assert_eq!(s.occupant(*seat), Some(id.as_str()));
        assert!(ids.insert(id.clone()), "{id} seated twice");
    }
}

fn check_map(map: &SeatingMap, seated: usize, size: (u16, u16)) {
    assert!(map.0.len() <= seated);
    let (bw, bh) = (f64::from(size.0) + 0.02, f64::from(size.1) + 0.02);
    for r in map.0.values() {
        for v in [r.top, r.left, r.width, r.height] {
            assert!(v.is_finite() && v >= 0.0, "{r:?}");
        }
        assert!(
            r.left + r.width <= bw && r.top + r.height <= bh,
            "{r:?} in {size:?}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&map.to_json()).expect("valid JSON");
    assert_eq!(json.as_object().map(|o| o.len()), Some(map.0.len()));
}

fuzz_target!(|ops: Vec<Op>| {
    let mut sc = scene(1);
    let mut order = sc.seat_order();
    let mut seating = Seating::new(&sc);
    let options = CompositorOptions::default()
        // The frames' own alpha (the default, `auto`, needs the selfie model).
        .with_segment(SegmentMode::Alpha)
        .with_size(64, 36)
        .with_parallel(false);
    let mut engine = Compositor::new(sc.clone(), options).expect("small output");
    for op in ops.iter().take(256) {
        match *op {
            Op::Join(p, r) => {
                let (pid, role) = (id(p), Role::from(r));
                let before = seating.seat_of(&pid);
                let want = expected_seat(&seating, &order, &pid, role);
                match seating.join(&pid, role) {
                    Ok(seat) => {
                        assert!(before.is_none());
                        assert_eq!(Some(seat), want);
                        if !role.is_privileged() {
                            assert!(!seating.is_reserved(seat));
                        }
                    }
                    Err(_) => assert!(
                        before.is_some() || want.is_none() || pid.is_empty() || pid.len() > 256
                    ),
                }
                let _ = engine.join(&pid, role);
            }
            Op::Leave(p) => {
                let pid = id(p);
                let had = seating.seat_of(&pid);
                assert_eq!(seating.leave(&pid), had);
                assert_eq!(seating.seat_of(&pid), None);
                let _ = engine.leave(&pid);
            }
            Op::Assign(p, seat) => {
                let pid = id(p);
                let seat = seat as usize;
                let others: Vec<(usize, String)> = seating
                    .occupied()
                    .map(|(i, x)| (i, x.to_string()))
                    .collect();
                if seating.assign(&pid, seat).is_ok() {
                    assert_eq!(seating.seat_of(&pid), Some(seat));
                    // Nobody else moved.
                    for (i, x) in others.iter().filter(|(_, x)| *x != pid) {
                        assert_eq!(seating.seat_of(x), Some(*i));
                    }
                }
                let _ = engine.assign_seat(&pid, seat);
            }
            Op::Swap(a, b) => {
                let (ia, ib) = (id(a), id(b));
                let (sa, sb) = (seating.seat_of(&ia), seating.seat_of(&ib));
                if seating.swap(&ia, &ib).is_ok() {
                    assert_eq!(seating.seat_of(&ia), sb);
                    assert_eq!(seating.seat_of(&ib), sa);
                }
                let _ = engine.swap_seats(&ia, &ib);
            }
            Op::Reserve(seat) => {
                let ok = seating.reserve(seat as usize).is_ok();
                assert_eq!(ok, (seat as usize) < seating.capacity());
                assert_eq!(seating.is_reserved(seat as usize), ok);
            }
            Op::Unreserve(seat) => {
                let _ = seating.unreserve(seat as usize);
                assert!(!seating.is_reserved(seat as usize));
            }
            Op::ChangeScene(v) => {
                sc = scene(v);
                order = sc.seat_order();
                let before = seating.len();
                let dropped = seating.change_scene(&sc);
                assert_eq!(seating.len() + dropped.len(), before);
                for d in &dropped {
                    assert_eq!(seating.seat_of(d), None);
                }
                if let Ok(dropped) = engine.set_scene(sc.clone()) {
                    for d in &dropped {
                        assert_eq!(engine.seating().seat_of(d), None);
                    }
                }
            }
            Op::Push(p, w, h) => {
                let f = Frame::black(
                    PixelFormat::I420,
                    1 + u32::from(w % 64),
                    1 + u32::from(h % 64),
                    Default::default(),
                )
                .expect("small frame");
                let _ = engine.push(&id(p), f, 0);
            }
            Op::Render => {
                let out = engine.render().expect("render");
                let (w, h) = (out.width(), out.height());
                assert_eq!((w, h), (engine.options().width, engine.options().height));
            }
            Op::OutputSize(w, h) => {
                let (w, h) = (u32::from(w) % 100 * 2, u32::from(h) % 100 * 2);
                let ok = engine.set_output_size(w, h).is_ok();
                assert_eq!(ok, w > 0 && h > 0);
            }
            Op::Map(w, h) => {
                let map = seating.seating_map(&sc, (64, 36), (u32::from(w), u32::from(h)));
                check_map(&map, seating.len(), (w, h));
                let m = engine.seating_map((u32::from(w), u32::from(h)));
                check_map(&m, engine.seating().len(), (w, h));
            }
        }
        check_seating(&seating);
        check_seating(engine.seating());
    }
});
