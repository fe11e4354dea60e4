//! Sequences of meeting operations on `meeting::Meeting`: joins (every identity kind, roles,
//! hostile ids) and leaves, video on/off, frames of any format and size with hostile
//! timestamps, start, scene / scene-size / output-size changes, seat assignment and swaps,
//! breakout rooms (create, assign, open, close, settings with end times, join, return),
//! breakout room managers (name, unname), and ticks. After every operation:
//! - nobody is in two rooms or two seats, every participant is in exactly one room, and the
//!   meeting's view of a participant agrees with its room's stream;
//! - a seated participant has video on (and, under the `Free` policy, is not frozen); the
//!   waiting line holds only unseated, eligible members of the room, once each;
//! - each seating map names exactly the seated participants it can show, with finite boxes
//!   inside the scene-size box;
//! - a refused operation (`MeetingError::Refused`) changed nothing, and its code and subcode
//!   are the refusal's; joins, leaves and `start` follow the identity and role rules; scene
//!   changes and room management succeed only for the rights table's Microsoft 365 roles
//!   (other identity kinds get 403/46417); the managers are the oracle's (named Microsoft 365
//!   presenters, unnamed when they come back in another role, at most 10);
//! - events arrive numbered 1, 2, 3, ... without gaps, ticks never go back;
//! - a tick renders exactly the rooms whose Together Mode runs, at their output size;
//! - nothing panics.
#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::mpsc::Receiver;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use together_mode::frame::{Frame, PixelFormat};
use together_mode::meeting::{
    Event, IdentityKind, Meeting, MeetingError, MeetingOptions, RoomSettings, RoomSpec, RoomState,
};
use together_mode::stream::{FreezePolicy, StreamOptions};
use together_mode::{CompositorOptions, Role, Scene, SegmentMode};
use together_mode_fuzz::R;

const FPS: i64 = 30;
const TICK_US: i64 = 1_000_000 / FPS;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum K {
    Microsoft365,
    CommunicationServices,
    TeamsVisitor,
    Other,
}

impl From<K> for IdentityKind {
    fn from(k: K) -> IdentityKind {
        match k {
            K::Microsoft365 => IdentityKind::Microsoft365,
            K::CommunicationServices => IdentityKind::CommunicationServices,
            K::TeamsVisitor => IdentityKind::TeamsVisitor,
            K::Other => IdentityKind::Other,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Join(u8, R, Option<K>),
    Leave(u8),
    Video(u8, bool),
    /// Participant, width, height, format, timestamp choice.
    Push(u8, u8, u8, u8, u8),
    Start(u8),
    ChangeScene(u8, u8),
    SceneSize(u8, u16, u16),
    OutputSize(u8, u8, u8),
    AssignSeat(u8, u8, u8),
    SwapSeats(u8, u8, u8),
    CreateRoom(u8, u8, bool, Option<u8>),
    Assign(u8, u8, Option<u8>),
    OpenRoom(u8, u8),
    CloseRoom(u8, u8),
    /// By, room, end time in ticks from now (none, past, soon), disable return to main.
    RoomSettings(u8, u8, Option<i8>, bool),
    JoinRoom(u8, u8),
    ReturnToMain(u8),
    /// By, participant, name (true) or unname.
    Manager(u8, u8, bool),
    /// Ticks (1..=4); whether everyone with video on sends a frame first.
    Tick(u8, bool),
}

#[derive(Arbitrary, Debug)]
struct Input {
    policy: u8,
    freeze_ticks: u8,
    idle_ticks: u8,
    ops: Vec<Op>,
}

/// Participant ids: every identity kind (with the prefixes' case and cloud variants), and a
/// few hostile ids (empty, too long, control characters, long multi-byte).
fn id(v: u8) -> String {
    let n = v % 8;
    match v {
        240 => String::new(),
        241 => "8:orgid:".to_string() + &"x".repeat(250),
        242 => "é".repeat(200),
        243 => "8:orgid:a\nb".to_string(),
        244 => "8:ORGID:shouty".to_string(),
        245 => "8:gcch-acs:g".to_string(),
        246 => "8:dod:d".to_string(),
        247 => "8:acs".to_string(),
        _ => match v / 8 % 4 {
            0 => format!("8:orgid:o{n}"),
            1 => format!("8:acs:a{n}"),
            2 => format!("8:teamsvisitor:v{n}"),
            _ => format!("x:{n}"),
        },
    }
}

/// Room threadIds: the main room's, a few breakout ids, and hostile ones.
fn room(v: u8) -> String {
    match v % 16 {
        0 => "main".to_string(),
        12 => String::new(),
        13 => "r\u{7}".to_string(),
        14 => "t".repeat(257),
        15 => "19:meeting_é@thread.v2".to_string(),
        n => format!("room-{}", n % 6),
    }
}

fn scene(v: u8) -> Scene {
    match v % 4 {
        0 => Scene::builtin("auditorium").expect("built-in"),
        _ => Scene::grid(1 + (v as usize / 4) % 12, 64, 36).expect("a small grid"),
    }
}

fn frame(w: u8, h: u8, f: u8) -> Frame {
    let format = [
        PixelFormat::I420,
        PixelFormat::Nv12,
        PixelFormat::I420A,
        PixelFormat::Rgba,
    ][f as usize % 4];
    let (w, h) = (1 + u32::from(w % 48), 1 + u32::from(h % 48));
    Frame::black(format, w, h, Default::default()).expect("small frame")
}

/// One room, as far as a refusal must leave it untouched.
#[derive(Debug, PartialEq)]
struct RoomSnapshot {
    thread_id: String,
    state: RoomState,
    invitees: Vec<String>,
    settings: RoomSettings,
    running: bool,
    scene_size: (u32, u32),
    output: (u32, u32),
    waiting: Vec<String>,
}

/// What a refusal must leave untouched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    people: BTreeMap<String, (String, bool, Option<usize>)>,
    rooms: Vec<RoomSnapshot>,
}

fn snapshot(m: &Meeting) -> Snapshot {
    let mut people = BTreeMap::new();
    for p in m.participants() {
        let v = m.participant(p).expect("listed participant");
        people.insert(p.to_string(), (v.room.to_string(), v.video, v.seat));
    }
    let mut rooms = Vec::new();
    for r in m.room_ids() {
        let live = m.live(r).expect("listed room");
        let o = live.compositor().options();
        let (state, invitees, settings) = match m.breakout_room(r) {
            Some(b) => (b.state, b.invitees.clone(), b.settings),
            None => (RoomState::Open, Vec::new(), RoomSettings::default()),
        };
        rooms.push(RoomSnapshot {
            thread_id: r.to_string(),
            state,
            invitees,
            settings,
            running: m.stream(r).is_some(),
            scene_size: m.scene_size(r).expect("listed room"),
            output: (o.width, o.height),
            waiting: live.waiting().to_vec(),
        });
    }
    Snapshot { people, rooms }
}

fn check(m: &Meeting, policy: FreezePolicy) {
    let mut seen = HashSet::new();
    for r in m.room_ids() {
        let live = m.live(r).expect("listed room");
        let seating = live.compositor().seating();
        let mut seats = HashSet::new();
        let mut seated = BTreeSet::new();
        for (pid, member) in live.members() {
            assert!(seen.insert(pid.to_string()), "{pid:?} in two rooms");
            let v = m.participant(pid).expect("a member is a participant");
            assert_eq!(v.room, r);
            assert_eq!(v.video, member.video());
            assert_eq!(v.seat, live.seat_of(pid));
            if let Some(s) = live.seat_of(pid) {
                assert!(seats.insert(s), "seat {s} of {r:?} twice");
                assert!(member.video(), "{pid:?} seated with video off");
                if policy == FreezePolicy::Free {
                    assert!(!member.frozen(), "{pid:?} seated while frozen (Free)");
                }
                seated.insert(pid.to_string());
            }
        }
        // The compositor seats members only.
        assert_eq!(seating.len(), seats.len());
        for (_, pid) in seating.occupied() {
            assert!(
                live.member(pid).is_some(),
                "{pid:?} seated but not a member"
            );
        }
        // The line: unseated, eligible members, once each.
        let mut line = HashSet::new();
        for w in live.waiting() {
            assert!(line.insert(w.as_str()), "{w:?} waits twice");
            let member = live.member(w).expect("waiting member");
            assert!(member.video());
            assert!(live.seat_of(w).is_none(), "{w:?} waits and is seated");
        }
        // The seating map: only the seated, in the box.
        let map = m.seating_map(r).expect("listed room");
        let (bw, bh) = m.scene_size(r).expect("listed room");
        for (pid, rect) in &map.0 {
            assert!(seated.contains(pid), "{pid:?} on the map, not seated");
            for v in [rect.top, rect.left, rect.width, rect.height] {
                assert!(v.is_finite() && v >= 0.0, "{rect:?}");
            }
            assert!(rect.left + rect.width <= f64::from(bw) + 0.02);
            assert!(rect.top + rect.height <= f64::from(bh) + 0.02);
        }
        if m.stream(r).is_some() {
            assert!(m
                .breakout_room(r)
                .is_none_or(|b| b.state == RoomState::Open));
        }
    }
    assert_eq!(seen.len(), m.participants().count());
    for p in m.participants() {
        assert!(seen.contains(p), "{p:?} in no room");
    }
}

fn drain(rx: &Receiver<Event>, seq: &mut u64, tick: &mut u64) {
    for e in rx.try_iter() {
        assert_eq!(e.seq, *seq + 1, "event numbers skip");
        assert!(e.tick >= *tick, "events go back in time");
        *seq = e.seq;
        *tick = e.tick;
    }
}

fuzz_target!(|input: Input| {
    let policy = match input.policy % 3 {
        0 => FreezePolicy::Keep,
        1 => FreezePolicy::Dim { brightness: 96 },
        _ => FreezePolicy::Free,
    };
    let freeze_us = i64::from(1 + input.freeze_ticks % 8) * TICK_US;
    let idle_us = i64::from(1 + input.idle_ticks % 16) * TICK_US;
    let options = MeetingOptions::default()
        .with_compositor(
            CompositorOptions::default()
                // The frames' own alpha (the default, `auto`, needs the selfie model).
                .with_segment(SegmentMode::Alpha)
                .with_size(64, 36)
                .with_parallel(false),
        )
        .with_fps(FPS as u32, 1)
        .with_idle_timeout_us(idle_us)
        .with_max_breakout_rooms(4)
        .with_stream(
            StreamOptions::default()
                .with_freeze_timeout_us(freeze_us)
                .with_policy(policy),
        );
    let mut m = Meeting::new(scene(1), options).expect("meeting");
    let rx = m.subscribe();
    let (mut seq, mut last_tick) = (0u64, 0u64);
    let mut kinds: BTreeMap<String, (IdentityKind, Role)> = BTreeMap::new();
    // Named breakout room managers (may have left the meeting).
    let mut managers: BTreeSet<String> = BTreeSet::new();
    // Whether `by` may manage rooms (`rooms`) or change the scene, per the rights table;
    // `None` when `by` is not in the meeting.
    let rights = |kinds: &BTreeMap<String, (IdentityKind, Role)>,
                  managers: &BTreeSet<String>,
                  by: &str,
                  rooms: bool|
     -> Option<Result<(), u32>> {
        let &(kind, role) = kinds.get(by)?;
        Some(if kind != IdentityKind::Microsoft365 {
            Err(46417)
        } else if match role {
            Role::Organizer | Role::CoOrganizer => true,
            Role::Presenter => !rooms || managers.contains(by),
            Role::Attendee => false,
        } {
            Ok(())
        } else {
            Err(46303)
        })
    };
    let subcode = |res: &Result<(), MeetingError>| match res {
        Ok(()) => None,
        Err(e) => e.refusal().map(|a| a.subcode),
    };
    // A refusal the rights table gives must be that refusal; success needs the rights.
    let check_rights = |res: &Result<(), MeetingError>, want: Option<Result<(), u32>>| match want {
        Some(Err(code)) => assert_eq!(subcode(res), Some(code), "{res:?}"),
        Some(Ok(())) => assert!(!matches!(subcode(res), Some(46303 | 46417)), "{res:?}"),
        None => assert!(res.is_err()),
    };

    for op in input.ops.iter().take(192) {
        let before = snapshot(&m);
        let result: Result<(), MeetingError> = match *op {
            Op::Join(p, r, k) => {
                let (pid, role) = (id(p), Role::from(r));
                let kind = k.map_or_else(|| IdentityKind::from_raw_id(&pid), IdentityKind::from);
                let valid =
                    !pid.is_empty() && pid.len() <= 256 && !pid.chars().any(char::is_control);
                let present = kinds.contains_key(&pid);
                let res = match k {
                    Some(k) => m.join_as(&pid, k.into(), role),
                    None => m.join(&pid, role),
                };
                assert_eq!(res.is_ok(), valid && !present, "join {pid:?}: {res:?}");
                if res.is_ok() {
                    if role != Role::Presenter || kind != IdentityKind::Microsoft365 {
                        managers.remove(&pid);
                    }
                    kinds.insert(pid.clone(), (kind, role));
                    let v = m.participant(&pid).expect("joined");
                    assert_eq!((v.kind, v.role, v.video, v.seat), (kind, role, false, None));
                    assert_eq!(v.room, m.main_room());
                }
                res
            }
            Op::Leave(p) => {
                let pid = id(p);
                let res = m.leave(&pid);
                assert_eq!(res.is_ok(), kinds.remove(&pid).is_some());
                assert!(m.participant(&pid).is_none());
                res
            }
            Op::Video(p, on) => {
                let pid = id(p);
                let res = m.set_video(&pid, on);
                if res.is_ok() {
                    assert_eq!(m.participant(&pid).map(|v| v.video), Some(on));
                }
                res
            }
            Op::Push(p, w, h, f, t) => {
                let now = m.now_us();
                let pts = match t % 8 {
                    0 => i64::MIN,
                    1 => i64::MAX,
                    2 => now + 3_000_000,
                    3 => now + TICK_US,
                    4 => now - 10 * TICK_US,
                    _ => now - i64::from(t) * 100,
                };
                let f = frame(w, h, f);
                if t % 2 == 0 {
                    m.push_ref(&id(p), &f.as_ref(), pts).map(|_| ())
                } else {
                    m.push(&id(p), f, pts).map(|_| ())
                }
            }
            Op::Start(p) => {
                let pid = id(p);
                let res = m.start(&pid);
                if let Some(&(kind, role)) = kinds.get(&pid) {
                    let allowed = kind == IdentityKind::Microsoft365 && role.is_privileged();
                    assert_eq!(res.is_ok(), allowed, "start by {pid:?}: {res:?}");
                    if let Err(e) = &res {
                        let want = if kind == IdentityKind::CommunicationServices {
                            46306
                        } else {
                            46303
                        };
                        assert_eq!(e.refusal().map(|a| a.subcode), Some(want));
                    } else {
                        let room = m.participant(&pid).expect("present").room.to_string();
                        assert!(m.stream(&room).is_some());
                    }
                } else {
                    assert!(res.is_err());
                }
                res.map(|_| ())
            }
            Op::ChangeScene(by, s) => {
                let res = m.change_scene(&id(by), scene(s)).map(|_| ());
                check_rights(&res, rights(&kinds, &managers, &id(by), false));
                res
            }
            Op::SceneSize(r, w, h) => {
                let (w, h) = (u32::from(w) % 20000, u32::from(h) % 20000);
                let res = m.set_scene_size(&room(r), w, h);
                if res.is_ok() {
                    assert_eq!(m.scene_size(&room(r)), Some((w, h)));
                }
                res
            }
            Op::OutputSize(r, w, h) => {
                let (w, h) = (u32::from(w % 80), u32::from(h % 50));
                let res = m.set_output_size(&room(r), w, h);
                if res.is_ok() {
                    let o = m.live(&room(r)).expect("room").compositor().options();
                    assert_eq!((o.width, o.height), (w, h));
                    assert!(w > 0 && h > 0 && w % 2 == 0 && h % 2 == 0);
                }
                res
            }
            Op::AssignSeat(by, p, seat) => {
                let pid = id(p);
                let res = m.assign_seat(&id(by), &pid, usize::from(seat % 64));
                if res.is_ok() {
                    assert_eq!(
                        m.participant(&pid).and_then(|v| v.seat),
                        Some(usize::from(seat % 64))
                    );
                }
                res
            }
            Op::SwapSeats(by, a, b) => {
                let (ia, ib) = (id(a), id(b));
                let seat = |m: &Meeting, x: &str| m.participant(x).and_then(|v| v.seat);
                let (sa, sb) = (seat(&m, &ia), seat(&m, &ib));
                let res = m.swap_seats(&id(by), &ia, &ib);
                if res.is_ok() {
                    assert_eq!((seat(&m, &ia), seat(&m, &ib)), (sb, sa));
                }
                res
            }
            Op::CreateRoom(by, r, auto_move, s) => {
                let mut spec =
                    RoomSpec::new(room(r), format!("Room {r}")).with_auto_move(auto_move);
                if let Some(s) = s {
                    spec = spec.with_scene(scene(s));
                }
                let res = m.create_room(&id(by), spec);
                check_rights(&res, rights(&kinds, &managers, &id(by), true));
                if res.is_ok() {
                    let b = m.breakout_room(&room(r)).expect("created");
                    assert_eq!(b.state, RoomState::Closed);
                    assert!(m.breakout_rooms().len() <= 4);
                }
                res
            }
            Op::Assign(by, p, r) => {
                let target = r.map(room);
                let res = m.assign(&id(by), &id(p), target.as_deref());
                check_rights(&res, rights(&kinds, &managers, &id(by), true));
                res
            }
            Op::OpenRoom(by, r) => {
                let res = m.open_room(&id(by), &room(r));
                check_rights(&res, rights(&kinds, &managers, &id(by), true));
                res
            }
            Op::CloseRoom(by, r) => {
                let res = m.close_room(&id(by), &room(r));
                check_rights(&res, rights(&kinds, &managers, &id(by), true));
                if res.is_ok() {
                    assert!(m.stream(&room(r)).is_none());
                    assert_eq!(m.live(&room(r)).expect("room").members().count(), 0);
                }
                res
            }
            Op::RoomSettings(by, r, end, disable) => {
                let settings = RoomSettings {
                    room_end_time_us: end.map(|t| m.now_us() + i64::from(t) * TICK_US),
                    disable_return_to_main_meeting: disable,
                };
                m.set_room_settings(&id(by), &room(r), settings)
            }
            Op::Manager(by, p, name) => {
                let (by, pid) = (id(by), id(p));
                let res = if name {
                    m.add_breakout_room_manager(&by, &pid)
                } else {
                    m.remove_breakout_room_manager(&by, &pid)
                };
                let organizer = kinds
                    .get(&by)
                    .map(|&(k, r)| (k == IdentityKind::Microsoft365, r == Role::Organizer));
                match organizer {
                    None => assert!(res.is_err()),
                    Some((false, _)) => assert_eq!(subcode(&res), Some(46417)),
                    Some((true, false)) => assert_eq!(subcode(&res), Some(46303)),
                    Some((true, true)) => {
                        let want = match (name, kinds.get(&pid)) {
                            (false, _) if managers.contains(&pid) => None,
                            (_, None) => Some(46401),
                            (false, Some(_)) => None,
                            (true, Some(&(k, _))) if k != IdentityKind::Microsoft365 => Some(46419),
                            (true, Some(&(_, r))) if r != Role::Presenter => Some(46418),
                            (true, Some(_)) if managers.contains(&pid) => None,
                            (true, Some(_)) if managers.len() >= 10 => Some(46420),
                            (true, Some(_)) => None,
                        };
                        assert_eq!(subcode(&res), want, "{res:?}");
                    }
                }
                if res.is_ok() {
                    if name {
                        managers.insert(pid);
                    } else {
                        managers.remove(&pid);
                    }
                }
                res
            }
            Op::JoinRoom(p, r) => {
                let pid = id(p);
                let res = m.join_room(&pid, &room(r));
                if res.is_ok() {
                    assert_eq!(m.participant(&pid).map(|v| v.room), Some(room(r).as_str()));
                }
                res
            }
            Op::ReturnToMain(p) => {
                let pid = id(p);
                let res = m.return_to_main(&pid);
                if res.is_ok() {
                    let main = m.main_room().to_string();
                    assert_eq!(m.participant(&pid).map(|v| v.room), Some(main.as_str()));
                }
                res
            }
            Op::Tick(n, send) => {
                let mut res = Ok(());
                for _ in 0..1 + n % 4 {
                    if send {
                        let now = m.now_us();
                        let senders: Vec<String> = m
                            .participants()
                            .filter(|p| m.participant(p).is_some_and(|v| v.video))
                            .map(str::to_string)
                            .collect();
                        for (k, p) in senders.iter().enumerate() {
                            let f = frame(16 + k as u8, 12, k as u8);
                            m.push_ref(p, &f.as_ref(), now).expect("a member's frame");
                        }
                    }
                    let now = m.now_us();
                    match m.tick() {
                        Ok(info) => {
                            assert_eq!(info.time_us, now);
                            let running: Vec<String> = m
                                .room_ids()
                                .filter(|r| m.stream(r).is_some())
                                .map(str::to_string)
                                .collect();
                            assert_eq!(info.rendered, running.len());
                            for r in &running {
                                assert!(m.rendered(r));
                                let o = m.live(r).expect("room").compositor().options();
                                let out = m.output(r).expect("room");
                                assert_eq!((out.width(), out.height()), (o.width, o.height));
                            }
                            // Rooms past their end time are closed.
                            for b in m.breakout_rooms() {
                                if b.settings.room_end_time_us.is_some_and(|t| t <= now) {
                                    assert_eq!(b.state, RoomState::Closed, "{b:?}");
                                }
                            }
                        }
                        Err(e) => {
                            res = Err(e);
                            break;
                        }
                    }
                }
                res
            }
        };
        if let Err(e) = &result {
            assert!(!e.to_string().contains('\n'), "{e}");
            match e {
                MeetingError::Refused(a) => {
                    assert_eq!((a.code, a.subcode), (a.refusal.code(), a.refusal.subcode()));
                    assert_eq!(snapshot(&m), before, "refused, yet something changed: {e}");
                }
                other => panic!("untyped or engine failure on a valid meeting: {other}"),
            }
        }
        check(&m, policy);
        let named: BTreeSet<String> = m.breakout_room_managers().iter().cloned().collect();
        assert_eq!(named, managers, "the managers");
        assert!(managers.len() <= 10);
        drain(&rx, &mut seq, &mut last_tick);
    }
});
