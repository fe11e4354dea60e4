//! The ACS-shaped meeting surface: identity and roles, start, scene size and seating map,
//! scene and seat changes, events, the idle end, and breakout rooms with their own streams.

use std::sync::mpsc::Receiver;

use together_mode::frame::{Frame, PixelFormat};
use together_mode::meeting::{
    AcsError, Event, IdentityKind, Meeting, MeetingEvent, MeetingOptions, RoomSettings, RoomSpec,
    RoomState,
};
use together_mode::seating::{LayoutSkipReason, Reservation, SeatLayout};
use together_mode::stream::StreamOptions;
use together_mode::SegmentMode;
use together_mode::{CompositorOptions, FrameRef, Role, Scene};

const W: u32 = 320;
const H: u32 = 180;

fn meeting_with(options: MeetingOptions) -> Meeting {
    Meeting::new(Scene::grid(9, W, H).unwrap(), options).unwrap()
}

fn meeting() -> Meeting {
    meeting_with(
        MeetingOptions::default()
            .with_compositor(
                CompositorOptions::default()
                    .with_segment(SegmentMode::Alpha)
                    .with_size(W, H),
            )
            .with_fps(10, 1),
    )
}

fn refusal<T: std::fmt::Debug>(r: Result<T, together_mode::meeting::MeetingError>) -> (u16, u32) {
    let e = r.unwrap_err();
    let AcsError { code, subcode, .. } = e.refusal().expect("a refusal");
    (*code, *subcode)
}

mod common;

fn solid(y: u8, u: u8, v: u8) -> Frame {
    common::solid(PixelFormat::I420, 32, 32, [y, u, v])
}

fn drain(rx: &Receiver<Event>) -> Vec<Event> {
    rx.try_iter().collect()
}

/// The luma at the centre of a participant's seat, from the room's seating map.
fn seat_luma(m: &Meeting, room: &str, id: &str) -> Option<u8> {
    let (sw, sh) = m.scene_size(room)?;
    let map = m.seating_map(room)?;
    let r = map.0.get(id)?;
    // Scene-size box -> output pixels (letterboxed "contain").
    let s = (f64::from(sw) / f64::from(W)).min(f64::from(sh) / f64::from(H));
    let (ox, oy) = (
        (f64::from(sw) - f64::from(W) * s) / 2.0,
        (f64::from(sh) - f64::from(H) * s) / 2.0,
    );
    let x = ((r.left + r.width / 2.0 - ox) / s) as usize;
    let y = ((r.top + r.height / 2.0 - oy) / s) as usize;
    let out: FrameRef<'_> = m.output(room)?;
    Some(out.plane(0).row(y)[x])
}

#[test]
fn identity_kinds_from_raw_ids() {
    for (id, kind) in [
        ("8:orgid:1234", IdentityKind::Microsoft365),
        ("8:ORGID:1234", IdentityKind::Microsoft365),
        ("8:gcch:1234", IdentityKind::Microsoft365),
        ("8:dod:1234", IdentityKind::Microsoft365),
        ("8:acs:res_user", IdentityKind::CommunicationServices),
        ("8:gcch-acs:x", IdentityKind::CommunicationServices),
        ("8:dod-acs:x", IdentityKind::CommunicationServices),
        ("8:teamsvisitor:x", IdentityKind::TeamsVisitor),
        ("8:gid:x", IdentityKind::Other),
        ("4:+15550100", IdentityKind::Other),
        ("28:bot", IdentityKind::Other),
        ("8:acs", IdentityKind::Other),
        ("", IdentityKind::Other),
        ("8:orgi", IdentityKind::Other),
    ] {
        assert_eq!(IdentityKind::from_raw_id(id), kind, "{id}");
    }
    for k in [
        IdentityKind::Microsoft365,
        IdentityKind::CommunicationServices,
        IdentityKind::TeamsVisitor,
        IdentityKind::Other,
    ] {
        assert_eq!(IdentityKind::from_name(k.name()), Some(k));
    }
}

#[test]
fn start_is_role_and_identity_gated_and_idempotent() {
    let mut m = meeting();
    let rx = m.subscribe();
    for (id, role) in [
        ("8:orgid:org", Role::Organizer),
        ("8:orgid:co", Role::CoOrganizer),
        ("8:orgid:pres", Role::Presenter),
        ("8:orgid:att", Role::Attendee),
        ("8:acs:org", Role::Organizer),
        ("8:acs:att", Role::Attendee),
        ("8:teamsvisitor:pres", Role::Presenter),
        ("8:gid:org", Role::Organizer),
    ] {
        m.join(id, role).unwrap();
    }
    assert_eq!(refusal(m.start("8:orgid:att")), (403, 46303));
    assert_eq!(refusal(m.start("8:acs:org")), (403, 46306));
    assert_eq!(refusal(m.start("8:acs:att")), (403, 46306));
    assert_eq!(refusal(m.start("8:teamsvisitor:pres")), (403, 46303));
    assert_eq!(refusal(m.start("8:gid:org")), (403, 46303));
    assert_eq!(refusal(m.start("8:orgid:nobody")), (404, 46401));
    // An explicit kind overrides the id.
    m.join_as(
        "8:acs:looks-acs",
        IdentityKind::Microsoft365,
        Role::Presenter,
    )
    .unwrap();
    assert!(m.stream("main").is_none());
    drain(&rx);

    let s = m.start("8:orgid:pres").unwrap();
    let again = m.start("8:orgid:org").unwrap();
    let third = m.start("8:acs:looks-acs").unwrap();
    assert_eq!(s, again);
    assert_eq!(s, third);
    assert_eq!(m.stream("main"), Some(&s));
    assert_eq!((s.width, s.height, s.media_stream_type), (W, H, "Video"));
    let events = drain(&rx);
    assert_eq!(events.len(), 1, "idempotent: one streams-updated event");
    assert!(matches!(
        &events[0].kind,
        MeetingEvent::StreamsUpdated { added, removed, .. } if added == &vec![s.clone()] && removed.is_empty()
    ));
    // Every co-organizer can start too (already running: same stream).
    assert_eq!(m.start("8:orgid:co").unwrap(), s);
}

#[test]
fn bad_ids_and_duplicates_are_refused() {
    let mut m = meeting();
    assert_eq!(refusal(m.join("", Role::Attendee)), (400, 46404));
    assert_eq!(
        refusal(m.join(&"x".repeat(257), Role::Attendee)),
        (400, 46404)
    );
    assert_eq!(refusal(m.join("8:acs:a\n", Role::Attendee)), (400, 46404));
    m.join("8:acs:a", Role::Attendee).unwrap();
    assert_eq!(refusal(m.join("8:acs:a", Role::Attendee)), (409, 46403));
    assert_eq!(refusal(m.leave("8:acs:b")), (404, 46401));
    assert_eq!(refusal(m.set_video("8:acs:b", true)), (404, 46401));
}

#[test]
fn scene_size_recomputes_the_seating_map_and_emits_it() {
    let mut m = meeting();
    let rx = m.subscribe();
    m.join("8:acs:a", Role::Attendee).unwrap();
    m.set_video("8:acs:a", true).unwrap();
    assert_eq!(m.scene_size("main"), Some((1280, 720)));
    let before = m.seating_map("main").unwrap().0["8:acs:a"];
    drain(&rx);
    m.set_scene_size("main", 640, 360).unwrap();
    let after = m.seating_map("main").unwrap();
    let a = after.0["8:acs:a"];
    assert!((a.width - before.width / 2.0).abs() < 0.02);
    assert!((a.left - before.left / 2.0).abs() < 0.02);
    let events = drain(&rx);
    assert_eq!(events.len(), 1);
    match &events[0].kind {
        MeetingEvent::SeatingUpdated {
            room,
            scene_size,
            seating_map,
        } => {
            assert_eq!((room.as_str(), *scene_size), ("main", (640, 360)));
            assert_eq!(seating_map, &after);
        }
        other => panic!("{other:?}"),
    }
    // Same size again: no event. Bad sizes: 400.
    m.set_scene_size("main", 640, 360).unwrap();
    assert!(drain(&rx).is_empty());
    assert_eq!(refusal(m.set_scene_size("main", 0, 360)), (400, 46405));
    assert_eq!(refusal(m.set_scene_size("main", 20000, 360)), (400, 46405));
    assert_eq!(refusal(m.set_scene_size("nope", 640, 360)), (404, 46402));
}

#[test]
fn scene_and_seat_changes_need_a_role_and_move_nobody_who_keeps_a_seat() {
    let mut m = meeting();
    let rx = m.subscribe();
    let ids = ["8:acs:a", "8:acs:b", "8:acs:c", "8:acs:d", "8:acs:e"];
    m.join("8:orgid:pres", Role::Presenter).unwrap();
    for id in ids {
        m.join(id, Role::Attendee).unwrap();
        m.set_video(id, true).unwrap();
    }
    m.set_video("8:acs:b", false).unwrap(); // seat 1 free
    let seat = |m: &Meeting, id| m.participant(id).unwrap().seat;
    let before: Vec<_> = ids.iter().map(|id| seat(&m, id)).collect();
    assert_eq!(before, vec![Some(0), None, Some(2), Some(3), Some(4)]);

    // A Communication Services user may not (Teams-only: the identity kind, 46417).
    assert_eq!(
        refusal(m.change_scene("8:acs:a", Scene::grid(4, W, H).unwrap())),
        (403, 46417)
    );
    drain(&rx);
    let waiting = m
        .change_scene("8:orgid:pres", Scene::grid(4, W, H).unwrap())
        .unwrap();
    // a, c, d keep seats 0, 2, 3; e (seat 4) is re-seated in the free seat 1.
    assert_eq!(seat(&m, "8:acs:a"), Some(0));
    assert_eq!(seat(&m, "8:acs:c"), Some(2));
    assert_eq!(seat(&m, "8:acs:d"), Some(3));
    assert_eq!(seat(&m, "8:acs:e"), Some(1));
    assert!(waiting.is_empty());
    let events = drain(&rx);
    match &events[0].kind {
        MeetingEvent::SceneUpdated {
            room, seating_map, ..
        } => {
            assert_eq!(room, "main");
            assert_eq!(seating_map, &m.seating_map("main").unwrap());
        }
        other => panic!("{other:?}"),
    }
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, MeetingEvent::SeatingUpdated { .. })));

    // Seats: Communication Services users may not; presenters may; rule violations are 409.
    assert_eq!(
        refusal(m.swap_seats("8:acs:a", "8:acs:a", "8:acs:c")),
        (403, 46417)
    );
    m.swap_seats("8:orgid:pres", "8:acs:a", "8:acs:c").unwrap();
    assert_eq!(seat(&m, "8:acs:a"), Some(2));
    assert_eq!(
        refusal(m.assign_seat("8:orgid:pres", "8:acs:a", 3)),
        (409, 46406)
    );
    assert_eq!(
        refusal(m.assign_seat("8:orgid:pres", "8:acs:a", 9)),
        (409, 46406)
    );
    assert_eq!(
        refusal(m.assign_seat("8:orgid:pres", "8:acs:b", 0)),
        (409, 46406),
        "b has video off: not seated"
    );
    m.set_video("8:acs:e", false).unwrap();
    m.assign_seat("8:orgid:pres", "8:acs:a", 1).unwrap();
    assert_eq!(seat(&m, "8:acs:a"), Some(1));
}

#[test]
fn events_reach_every_subscriber_in_order() {
    let mut m = meeting();
    let first = m.subscribe();
    let second = m.subscribe();
    let dropped = m.subscribe();
    drop(dropped);
    m.join("8:orgid:o", Role::Organizer).unwrap();
    m.join("8:acs:a", Role::Attendee).unwrap();
    m.set_video("8:acs:a", true).unwrap();
    m.start("8:orgid:o").unwrap();
    m.create_room("8:orgid:o", RoomSpec::new("r1", "Room 1"))
        .unwrap();
    m.assign("8:orgid:o", "8:acs:a", Some("r1")).unwrap();
    m.open_room("8:orgid:o", "r1").unwrap();
    m.set_room_settings("8:orgid:o", "r1", RoomSettings::default())
        .unwrap();
    let a = drain(&first);
    let b = drain(&second);
    assert_eq!(a, b);
    let seqs: Vec<u64> = a.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=a.len() as u64).collect::<Vec<_>>());
    let names: Vec<String> = a
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for want in [
        "participantJoined",
        "videoChanged",
        "togetherModeSeatingUpdated",
        "togetherModeStreamsUpdated",
        "breakoutRooms",
        "assignedBreakoutRooms",
        "join",
        "breakoutRoomsSettings",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    // The join into r1 comes after the room opened, and the seating updates after the join.
    let pos = |n: &str| names.iter().rposition(|x| x == n).unwrap();
    assert!(pos("breakoutRooms") < pos("join"));
    assert!(pos("join") < pos("togetherModeSeatingUpdated"));
}

#[test]
fn together_mode_ends_after_the_idle_timeout() {
    // Default: 60 s.
    assert_eq!(MeetingOptions::default().idle_timeout_us, 60_000_000);
    let mut m = meeting_with(
        MeetingOptions::default()
            .with_compositor(
                CompositorOptions::default()
                    .with_segment(SegmentMode::Alpha)
                    .with_size(W, H),
            )
            .with_fps(1, 1),
    );
    let rx = m.subscribe();
    m.join("8:orgid:o", Role::Organizer).unwrap();
    m.start("8:orgid:o").unwrap();
    // Nobody has video: it ends at 60 s (tick 60 at 1 fps), not before.
    for n in 0..60 {
        let t = m.tick().unwrap();
        assert_eq!(t.index, n);
        assert_eq!(t.rendered, 1, "tick {n}");
    }
    assert!(m.stream("main").is_some());
    let t = m.tick().unwrap();
    assert_eq!((t.index, t.rendered), (60, 0));
    assert!(m.stream("main").is_none());
    let ended = drain(&rx)
        .into_iter()
        .filter(|e| matches!(&e.kind, MeetingEvent::StreamsUpdated { removed, .. } if !removed.is_empty()))
        .count();
    assert_eq!(ended, 1);

    // Live video keeps it going; configurable timeout; frozen video counts as none.
    let mut m = meeting_with(
        MeetingOptions::default()
            .with_compositor(
                CompositorOptions::default()
                    .with_segment(SegmentMode::Alpha)
                    .with_size(W, H),
            )
            .with_fps(10, 1)
            .with_idle_timeout_us(1_000_000),
    );
    m.join("8:orgid:o", Role::Organizer).unwrap();
    m.set_video("8:orgid:o", true).unwrap();
    m.start("8:orgid:o").unwrap();
    for _ in 0..30 {
        let now = m.now_us();
        m.push("8:orgid:o", solid(100, 128, 128), now).unwrap();
        m.tick().unwrap();
    }
    assert!(m.stream("main").is_some(), "3 s of video");
    // Stop sending: frozen after 0.5 s, ended 1 s after that.
    let mut ticks = 0;
    while m.stream("main").is_some() {
        m.tick().unwrap();
        ticks += 1;
        assert!(ticks < 40);
    }
    assert!((15..=17).contains(&ticks), "{ticks}");
    // Restartable.
    assert!(m.start("8:orgid:o").unwrap().id > 1);
}

#[test]
fn breakout_room_management_rules() {
    let mut m = meeting();
    m.join("8:orgid:o", Role::Organizer).unwrap();
    m.join("8:orgid:p", Role::Presenter).unwrap();
    m.join("8:acs:a", Role::Attendee).unwrap();
    assert_eq!(
        refusal(m.create_room("8:orgid:p", RoomSpec::new("r", "R"))),
        (403, 46303),
        "presenters do not manage rooms"
    );
    assert_eq!(
        refusal(m.create_room("8:orgid:o", RoomSpec::new("", "R"))),
        (400, 46412)
    );
    assert_eq!(
        refusal(m.create_room("8:orgid:o", RoomSpec::new("main", "R"))),
        (409, 46411)
    );
    for i in 0..50 {
        m.create_room(
            "8:orgid:o",
            RoomSpec::new(format!("r{i}"), format!("Room {i}")),
        )
        .unwrap();
    }
    assert_eq!(
        refusal(m.create_room("8:orgid:o", RoomSpec::new("r50", "R"))),
        (409, 46410)
    );
    assert_eq!(m.breakout_rooms().len(), 50);
    assert!(m
        .breakout_rooms()
        .iter()
        .all(|r| r.state == RoomState::Closed));
    assert_eq!(refusal(m.open_room("8:orgid:o", "zz")), (404, 46402));
    assert_eq!(
        refusal(m.assign("8:acs:a", "8:acs:a", Some("r1"))),
        (403, 46417)
    );
    assert_eq!(refusal(m.join_room("8:acs:a", "r1")), (409, 46413));
    m.open_room("8:orgid:o", "r1").unwrap();
    assert_eq!(refusal(m.join_room("8:acs:a", "r1")), (403, 46414));
    assert_eq!(refusal(m.return_to_main("8:acs:a")), (409, 46416));
    // Organizers may join any open room.
    m.join_room("8:orgid:o", "r1").unwrap();
    assert_eq!(m.participant("8:orgid:o").unwrap().room, "r1");
}

#[test]
fn rooms_move_people_and_have_their_own_streams() {
    let mut m = meeting();
    let rx = m.subscribe();
    let colours = [
        ("8:orgid:o", Role::Organizer, 60u8),
        ("8:acs:a", Role::Attendee, 90),
        ("8:acs:b", Role::Attendee, 120),
        ("8:acs:c", Role::Attendee, 150),
    ];
    for (id, role, _) in colours {
        m.join(id, role).unwrap();
        m.set_video(id, true).unwrap();
    }
    m.start("8:orgid:o").unwrap();
    m.create_room(
        "8:orgid:o",
        RoomSpec::new("r-auto", "Auto").with_scene(Scene::grid(4, W, H).unwrap()),
    )
    .unwrap();
    m.create_room(
        "8:orgid:o",
        RoomSpec::new("r-manual", "Manual").with_auto_move(false),
    )
    .unwrap();
    m.assign("8:orgid:o", "8:acs:a", Some("r-auto")).unwrap();
    m.assign("8:orgid:o", "8:acs:b", Some("r-auto")).unwrap();
    m.assign("8:orgid:o", "8:acs:c", Some("r-manual")).unwrap();
    let push_all = |m: &mut Meeting| {
        let now = m.now_us();
        for (id, _, y) in colours {
            m.push(id, solid(y, 128, 128), now).unwrap();
        }
    };
    push_all(&mut m);
    m.tick().unwrap();
    for (id, _, y) in colours {
        assert_eq!(seat_luma(&m, "main", id), Some(y), "{id}");
    }
    // Opening moves auto-move invitees in, with their held frames; others stay.
    drain(&rx);
    m.open_room("8:orgid:o", "r-auto").unwrap();
    m.open_room("8:orgid:o", "r-manual").unwrap();
    assert_eq!(m.participant("8:acs:a").unwrap().room, "r-auto");
    assert_eq!(m.participant("8:acs:b").unwrap().room, "r-auto");
    assert_eq!(m.participant("8:acs:c").unwrap().room, "main");
    let joins: Vec<(String, String)> = drain(&rx)
        .into_iter()
        .filter_map(|e| match e.kind {
            MeetingEvent::Join {
                participant, room, ..
            } => Some((participant, room)),
            _ => None,
        })
        .collect();
    assert_eq!(
        joins,
        vec![
            ("8:acs:a".to_string(), "r-auto".to_string()),
            ("8:acs:b".to_string(), "r-auto".to_string())
        ]
    );
    m.join_room("8:acs:c", "r-manual").unwrap();
    // Each room: its own scene, seating, stream (started by a Microsoft 365 presenter there).
    assert_eq!(
        m.live("r-auto").unwrap().compositor().scene().seats.len(),
        4
    );
    assert!(m.seating_map("main").unwrap().0.len() == 1);
    assert_eq!(m.seating_map("r-auto").unwrap().0.len(), 2);
    m.join_room("8:orgid:o", "r-auto").unwrap();
    m.start("8:orgid:o").unwrap();
    assert!(m.stream("r-auto").is_some() && m.stream("r-manual").is_none());
    let t = m.tick().unwrap(); // no new frames: held frames show in the new room
    assert_eq!(t.rendered, 2, "main and r-auto run Together Mode");
    assert_eq!(seat_luma(&m, "r-auto", "8:acs:a"), Some(90));
    assert_eq!(seat_luma(&m, "r-auto", "8:acs:b"), Some(120));
    assert_eq!(seat_luma(&m, "r-auto", "8:orgid:o"), Some(60));
    assert!(!m.rendered("r-manual"));

    // Return to main: allowed, then disabled.
    m.return_to_main("8:acs:a").unwrap();
    assert_eq!(m.participant("8:acs:a").unwrap().room, "main");
    m.join_room("8:acs:a", "r-auto").unwrap();
    m.set_room_settings(
        "8:orgid:o",
        "r-auto",
        RoomSettings {
            room_end_time_us: Some(m.now_us() + 300_000),
            disable_return_to_main_meeting: true,
        },
    )
    .unwrap();
    assert_eq!(refusal(m.return_to_main("8:acs:a")), (403, 46415));
    // Closing returns everyone; the end time closes too.
    m.close_room("8:orgid:o", "r-manual").unwrap();
    assert_eq!(m.participant("8:acs:c").unwrap().room, "main");
    for _ in 0..3 {
        m.tick().unwrap();
        assert_eq!(m.breakout_room("r-auto").unwrap().state, RoomState::Open);
    }
    m.tick().unwrap();
    assert_eq!(m.breakout_room("r-auto").unwrap().state, RoomState::Closed);
    assert!(m.stream("r-auto").is_none(), "its Together Mode ended");
    for (id, _, y) in colours {
        assert_eq!(m.participant(id).unwrap().room, "main");
        assert_eq!(seat_luma(&m, "main", id), Some(y), "{id} back in main");
    }
    // Unassigning someone in a room moves them back; reassigning to an open auto room moves in.
    m.open_room("8:orgid:o", "r-auto").unwrap();
    m.assign("8:orgid:o", "8:acs:a", None).unwrap();
    m.assign("8:orgid:o", "8:acs:c", Some("r-auto")).unwrap();
    assert_eq!(m.participant("8:acs:a").unwrap().room, "main");
    assert_eq!(m.participant("8:acs:c").unwrap().room, "r-auto");
    assert_eq!(
        m.breakout_room("r-auto").unwrap().invitees,
        vec!["8:acs:b".to_string(), "8:acs:c".to_string()]
    );
    // Seat changes only within the actor's room.
    assert_eq!(
        refusal(m.swap_seats("8:orgid:o", "8:acs:a", "8:acs:c")),
        (409, 46407)
    );
}

#[test]
fn freeze_policy_applies_in_the_meeting() {
    let mut m = meeting_with(
        MeetingOptions::default()
            .with_compositor(
                CompositorOptions::default()
                    .with_segment(SegmentMode::Alpha)
                    .with_size(W, H),
            )
            .with_fps(10, 1)
            .with_stream(
                StreamOptions::default().with_policy(together_mode::stream::FreezePolicy::Free),
            ),
    );
    let rx = m.subscribe();
    m.join("8:acs:a", Role::Attendee).unwrap();
    m.set_video("8:acs:a", true).unwrap();
    let now = m.now_us();
    m.push("8:acs:a", solid(80, 128, 128), now).unwrap();
    for _ in 0..6 {
        m.tick().unwrap();
    }
    assert!(m.participant("8:acs:a").unwrap().seat.is_some());
    m.tick().unwrap(); // 600 ms: frozen, seat freed
    let p = m.participant("8:acs:a").unwrap();
    assert!(p.frozen && p.seat.is_none() && p.video);
    let kinds: Vec<_> = drain(&rx).into_iter().map(|e| e.kind).collect();
    assert!(kinds.iter().any(
        |k| matches!(k, MeetingEvent::VideoFrozen { participant, .. } if participant == "8:acs:a")
    ));
    let now = m.now_us();
    m.push("8:acs:a", solid(80, 128, 128), now).unwrap();
    m.tick().unwrap();
    assert!(m.participant("8:acs:a").unwrap().seat.is_some());
}

#[test]
fn reopening_a_room_past_its_end_time_clears_the_end_time() {
    let mut m = meeting();
    let rx = m.subscribe();
    for (id, role) in [("8:orgid:o", Role::Organizer), ("8:acs:a", Role::Attendee)] {
        m.join(id, role).unwrap();
        m.set_video(id, true).unwrap();
    }
    m.create_room("8:orgid:o", RoomSpec::new("r", "R")).unwrap();
    m.assign("8:orgid:o", "8:acs:a", Some("r")).unwrap();
    let end = m.now_us() + 200_000;
    let settings = RoomSettings {
        room_end_time_us: Some(end),
        disable_return_to_main_meeting: false,
    };
    m.set_room_settings("8:orgid:o", "r", settings).unwrap();
    m.open_room("8:orgid:o", "r").unwrap();
    assert_eq!(m.participant("8:acs:a").unwrap().room, "r");
    while m.now_us() <= end {
        m.tick().unwrap();
    }
    assert_eq!(m.breakout_room("r").unwrap().state, RoomState::Closed);
    assert_eq!(m.participant("8:acs:a").unwrap().room, "main");

    // Reopened after its end time: the end time is cleared (with an event), the invitee moves
    // in and stays there through the next ticks.
    drain(&rx);
    m.open_room("8:orgid:o", "r").unwrap();
    let cleared = drain(&rx).into_iter().any(|e| {
        matches!(
            e.kind,
            MeetingEvent::BreakoutRoomsSettings { ref room, settings }
                if room == "r" && settings.room_end_time_us.is_none()
        )
    });
    assert!(cleared, "a settings event reports the cleared end time");
    assert_eq!(
        m.breakout_room("r").unwrap().settings.room_end_time_us,
        None
    );
    for _ in 0..3 {
        m.tick().unwrap();
        assert_eq!(m.breakout_room("r").unwrap().state, RoomState::Open);
        assert_eq!(m.participant("8:acs:a").unwrap().room, "r");
    }
    // A new end time applies again.
    let end = m.now_us() + 100_000;
    m.set_room_settings(
        "8:orgid:o",
        "r",
        RoomSettings {
            room_end_time_us: Some(end),
            ..settings
        },
    )
    .unwrap();
    while m.now_us() <= end {
        m.tick().unwrap();
    }
    assert_eq!(m.breakout_room("r").unwrap().state, RoomState::Closed);
    // A future end time set while closed survives opening.
    let end = m.now_us() + 500_000;
    m.set_room_settings(
        "8:orgid:o",
        "r",
        RoomSettings {
            room_end_time_us: Some(end),
            ..settings
        },
    )
    .unwrap();
    m.open_room("8:orgid:o", "r").unwrap();
    assert_eq!(
        m.breakout_room("r").unwrap().settings.room_end_time_us,
        Some(end)
    );
}

fn seat(m: &Meeting, id: &str) -> Option<usize> {
    m.participant(id).and_then(|p| p.seat)
}

#[test]
fn reserved_seats_go_to_organizers_and_presenters_and_attendees_wait() {
    let options = MeetingOptions::default()
        .with_compositor(
            CompositorOptions::default()
                .with_segment(SegmentMode::Alpha)
                .with_size(W, H),
        )
        .with_reservation(Reservation::Count(2));
    let mut m = meeting_with(options);
    // Seats 0 and 1 (seatingOrder 0, 1) are reserved: seven attendees fill seats 2..=8.
    for i in 0..8 {
        let id = format!("8:acs:a{i}");
        m.join(&id, Role::Attendee).unwrap();
        m.set_video(&id, true).unwrap();
    }
    for i in 0..7 {
        assert_eq!(seat(&m, &format!("8:acs:a{i}")), Some(i + 2));
    }
    // The eighth waits, although two (reserved) seats are free.
    assert_eq!(seat(&m, "8:acs:a7"), None);
    assert_eq!(m.live("main").unwrap().waiting(), ["8:acs:a7".to_string()]);
    m.tick().unwrap();
    assert_eq!(seat(&m, "8:acs:a7"), None);
    for (id, role) in [
        ("8:orgid:p", Role::Presenter),
        ("8:orgid:o", Role::Organizer),
        ("8:orgid:c", Role::CoOrganizer),
    ] {
        m.join(id, role).unwrap();
        m.set_video(id, true).unwrap();
    }
    assert_eq!(seat(&m, "8:orgid:p"), Some(0));
    assert_eq!(seat(&m, "8:orgid:o"), Some(1));
    assert_eq!(seat(&m, "8:orgid:c"), None, "no seat left: waits");
    // A reserved seat freed goes to the co-organizer, not to the attendee ahead in line.
    m.leave("8:orgid:p").unwrap();
    assert_eq!(seat(&m, "8:orgid:c"), Some(0));
    assert_eq!(seat(&m, "8:acs:a7"), None);
    // An unreserved seat freed goes to the attendee.
    m.leave("8:acs:a3").unwrap();
    assert_eq!(seat(&m, "8:acs:a7"), Some(5));
    // Explicit seats, by those allowed to change seating; nobody seated moves.
    assert_eq!(
        refusal(m.set_reservation("8:acs:a0", Reservation::None)),
        (403, 46417)
    );
    m.set_reservation("8:orgid:o", Reservation::Seats(vec![8]))
        .unwrap();
    assert_eq!(seat(&m, "8:acs:a6"), Some(8));
    m.leave("8:acs:a6").unwrap();
    m.join("8:acs:late", Role::Attendee).unwrap();
    m.set_video("8:acs:late", true).unwrap();
    assert_eq!(seat(&m, "8:acs:late"), None, "seat 8 is reserved now");
    assert!(m
        .set_reservation("8:orgid:o", Reservation::Seats(vec![9]))
        .is_err());
    m.set_reservation("8:orgid:o", Reservation::None).unwrap();
    assert_eq!(seat(&m, "8:acs:late"), Some(8), "waiting attendee seated");
}

#[test]
fn back_from_a_breakout_room_a_participant_takes_their_old_seat() {
    let mut m = meeting();
    for (id, role) in [
        ("8:acs:a", Role::Attendee),
        ("8:acs:b", Role::Attendee),
        ("8:acs:c", Role::Attendee),
        ("8:orgid:o", Role::Organizer),
    ] {
        m.join(id, role).unwrap();
        m.set_video(id, true).unwrap();
    }
    assert_eq!(
        (seat(&m, "8:acs:a"), seat(&m, "8:acs:b")),
        (Some(0), Some(1))
    );
    m.create_room("8:orgid:o", RoomSpec::new("r", "R")).unwrap();
    m.assign("8:orgid:o", "8:acs:a", Some("r")).unwrap();
    m.assign("8:orgid:o", "8:acs:b", Some("r")).unwrap();
    m.open_room("8:orgid:o", "r").unwrap();
    assert_eq!(m.participant("8:acs:b").unwrap().room, "r");
    m.tick().unwrap();
    // b comes back first: seat 1 (theirs), not seat 0 (the first free one).
    m.return_to_main("8:acs:b").unwrap();
    assert_eq!(seat(&m, "8:acs:b"), Some(1));
    // Someone else took a's seat meanwhile: a gets the first free seat.
    m.join("8:acs:d", Role::Attendee).unwrap();
    m.set_video("8:acs:d", true).unwrap();
    assert_eq!(seat(&m, "8:acs:d"), Some(0));
    m.close_room("8:orgid:o", "r").unwrap();
    assert_eq!(seat(&m, "8:acs:a"), Some(4));
}

#[test]
fn a_seat_layout_saved_in_one_meeting_applies_to_the_next() {
    let people = [
        ("8:orgid:o", Role::Organizer),
        ("8:acs:a", Role::Attendee),
        ("8:acs:b", Role::Attendee),
        ("8:acs:c", Role::Attendee),
    ];
    let mut m = meeting();
    for (id, role) in people {
        m.join(id, role).unwrap();
        m.set_video(id, true).unwrap();
    }
    m.assign_seat("8:orgid:o", "8:acs:a", 7).unwrap();
    m.swap_seats("8:orgid:o", "8:acs:b", "8:acs:c").unwrap();
    let saved = m.seat_layout("main").unwrap().to_json();
    let layout = SeatLayout::from_json(&saved).unwrap();
    assert_eq!(layout.0["8:acs:a"], 7);
    assert_eq!(layout.0["8:acs:b"], 3);

    // The next meeting: joined in another order, without c, and a smaller scene.
    let mut next = Meeting::new(
        Scene::grid(4, W, H).unwrap(),
        MeetingOptions::default().with_compositor(
            CompositorOptions::default()
                .with_segment(SegmentMode::Alpha)
                .with_size(W, H),
        ),
    )
    .unwrap();
    for (id, role) in people.iter().rev().skip(1).take(2) {
        next.join(id, *role).unwrap();
        next.set_video(id, true).unwrap();
    }
    next.join("8:orgid:o", Role::Organizer).unwrap();
    next.set_video("8:orgid:o", true).unwrap();
    let rx = next.subscribe();
    assert_eq!(
        refusal(next.apply_seat_layout("8:acs:a", &layout)),
        (403, 46417),
        "Communication Services users may not"
    );
    let skipped = next.apply_seat_layout("8:orgid:o", &layout).unwrap();
    let reasons: Vec<(&str, LayoutSkipReason)> = skipped
        .iter()
        .map(|s| (s.participant.as_str(), s.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("8:acs:a", LayoutSkipReason::NoSuchSeat),
            ("8:acs:c", LayoutSkipReason::NotPresent)
        ]
    );
    assert_eq!(seat(&next, "8:acs:b"), Some(3));
    assert_eq!(seat(&next, "8:orgid:o"), Some(0));
    let events = drain(&rx);
    let applied = events.iter().find_map(|e| match &e.kind {
        MeetingEvent::SeatLayoutApplied {
            applied, skipped, ..
        } => Some((applied.clone(), skipped.len())),
        _ => None,
    });
    assert_eq!(
        applied,
        Some((vec!["8:acs:b".to_string(), "8:orgid:o".to_string()], 2))
    );
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, MeetingEvent::SeatingUpdated { .. })));
    assert!(serde_json::to_string(&events[0])
        .unwrap()
        .contains("seatLayoutApplied"));
}
