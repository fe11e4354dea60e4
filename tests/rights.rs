//! Who may do what in a meeting: the README's rights table, cell by cell (identity class x
//! operation, allowed or refused with its code and subcode), and breakout room managers.

use together_mode::meeting::{
    AcsError, IdentityKind, Meeting, MeetingError, MeetingEvent, MeetingOptions, RoomSettings,
    RoomSpec, RoomState, MAX_BREAKOUT_ROOM_MANAGERS,
};
use together_mode::seating::{Reservation, SeatLayout};
use together_mode::{CompositorOptions, Role, Scene, SegmentMode};

const W: u32 = 160;
const H: u32 = 90;
const HOST: &str = "8:orgid:host";
const PRESENTER: &str = "8:orgid:presenter";

fn meeting() -> Meeting {
    let options = MeetingOptions::default()
        .with_compositor(
            CompositorOptions::default()
                .with_segment(SegmentMode::Alpha)
                .with_size(W, H),
        )
        .with_fps(10, 1);
    Meeting::new(Scene::grid(9, W, H).unwrap(), options).unwrap()
}

fn code(r: &Result<(), MeetingError>) -> Option<(u16, u32)> {
    match r {
        Ok(()) => None,
        Err(e) => {
            let AcsError { code, subcode, .. } =
                e.refusal().expect("a refusal, not an engine error");
            Some((*code, *subcode))
        }
    }
}

/// The roles of the table's columns; `Manager` is a presenter the organizer named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Organizer,
    CoOrganizer,
    Presenter,
    Manager,
    Attendee,
}

const EVERY_ROLE: [Who; 5] = [
    Who::Organizer,
    Who::CoOrganizer,
    Who::Presenter,
    Who::Manager,
    Who::Attendee,
];

impl Who {
    fn role(self) -> Role {
        match self {
            Who::Organizer => Role::Organizer,
            Who::CoOrganizer => Role::CoOrganizer,
            Who::Presenter | Who::Manager => Role::Presenter,
            Who::Attendee => Role::Attendee,
        }
    }
}

/// The identity classes: the first column's three (each with the raw id prefix that makes
/// it) and Microsoft 365 (three clouds).
const NOT_M365: [(&str, IdentityKind); 5] = [
    ("8:acs:", IdentityKind::CommunicationServices),
    ("8:gcch-acs:", IdentityKind::CommunicationServices),
    ("8:teamsvisitor:", IdentityKind::TeamsVisitor),
    ("8:gid:", IdentityKind::Other),
    ("4:+1555", IdentityKind::Other),
];
const M365: [&str; 3] = ["8:orgid:", "8:gcch:", "8:dod:"];

/// Who a row grants, as the README's table says.
#[derive(Debug, Clone, Copy)]
enum Row {
    /// start Together Mode.
    Start,
    /// get stream, scene size, seating map; set own scene size; get assigned breakout room,
    /// join it, return, get settings: everyone.
    Everyone,
    /// change scene, change seat assignment: organizer, co-organizer, presenter.
    SceneAndSeats,
    /// get all breakout rooms; manage breakout rooms: organizer, co-organizer, breakout room
    /// manager.
    Rooms,
    /// name / unname breakout room managers: the organizer.
    Name,
    /// Joining an open room one is not assigned to: those who manage rooms (not a row of the
    /// table: the others are refused as not assigned, 403/46414).
    JoinAny,
}

/// The table's cell for an identity kind and role.
fn expected(row: Row, kind: IdentityKind, who: Who) -> Option<(u16, u32)> {
    match (row, kind) {
        (Row::JoinAny, _) => expected(Row::Rooms, kind, who).map(|_| (403, 46414)),
        (Row::Everyone, _) => None,
        (Row::Start, IdentityKind::CommunicationServices) => Some((403, 46306)),
        (Row::Start, IdentityKind::TeamsVisitor | IdentityKind::Other) => Some((403, 46303)),
        (
            _,
            IdentityKind::CommunicationServices | IdentityKind::TeamsVisitor | IdentityKind::Other,
        ) => Some((403, 46417)),
        (Row::Start | Row::SceneAndSeats, IdentityKind::Microsoft365) => match who {
            Who::Organizer | Who::CoOrganizer | Who::Presenter | Who::Manager => None,
            Who::Attendee => Some((403, 46303)),
        },
        (Row::Name, IdentityKind::Microsoft365) => match who {
            Who::Organizer => None,
            _ => Some((403, 46303)),
        },
        (Row::Rooms, IdentityKind::Microsoft365) => match who {
            Who::Organizer | Who::CoOrganizer | Who::Manager => None,
            Who::Presenter | Who::Attendee => Some((403, 46303)),
        },
    }
}

/// A meeting with the actor in the main room (video on, seated), two Microsoft 365
/// attendees seated beside them, Together Mode running, an open room `r1` the actor and
/// `x1` are assigned to (no auto-move: they stay in main), a closed room `r2`, and an open
/// room `r3` nobody is assigned to, and a Microsoft 365 presenter (video off) to name a
/// manager. A `Manager` actor is named by the organizer.
fn setup(actor: &str, who: Who) -> Meeting {
    let mut m = meeting();
    m.join(HOST, Role::Organizer).unwrap();
    m.join(PRESENTER, Role::Presenter).unwrap();
    m.join(actor, who.role()).unwrap();
    if who == Who::Manager {
        m.add_breakout_room_manager(HOST, actor).unwrap();
        assert_eq!(m.breakout_room_managers(), [actor.to_string()]);
    }
    for id in [actor, "8:orgid:x1", "8:orgid:x2"] {
        if id != actor {
            m.join(id, Role::Attendee).unwrap();
        }
        m.set_video(id, true).unwrap();
    }
    m.start(HOST).unwrap();
    for t in ["r1", "r2", "r3"] {
        m.create_room(HOST, RoomSpec::new(t, t).with_auto_move(false))
            .unwrap();
    }
    m.assign(HOST, actor, Some("r1")).unwrap();
    m.assign(HOST, "8:orgid:x1", Some("r1")).unwrap();
    m.open_room(HOST, "r1").unwrap();
    m.open_room(HOST, "r3").unwrap();
    m.set_room_settings(
        HOST,
        "r1",
        RoomSettings {
            room_end_time_us: Some(10_000_000),
            disable_return_to_main_meeting: false,
        },
    )
    .unwrap();
    m.tick().unwrap();
    m
}

/// What a refusal must leave untouched.
fn state(m: &Meeting) -> String {
    let mut people: Vec<String> = m
        .participants()
        .map(|p| {
            let v = m.participant(p).unwrap();
            format!("{p} {} {:?}", v.room, v.seat)
        })
        .collect();
    people.sort();
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        m.breakout_rooms(),
        people,
        m.live("main").unwrap().compositor().scene().id,
        m.scene_size("main"),
        m.stream("main"),
        m.breakout_room_managers(),
    )
}

type Op = fn(&mut Meeting, &str) -> Result<(), MeetingError>;
/// A step before the operation (not part of what a refusal must leave untouched).
type Prep = fn(&mut Meeting, &str);

fn nothing(_: &mut Meeting, _: &str) {}

fn actor_joins_r1(m: &mut Meeting, a: &str) {
    m.join_room(a, "r1").unwrap();
}

fn room_of(m: &Meeting, id: &str) -> String {
    m.participant(id).unwrap().room.to_string()
}

fn seat(m: &Meeting, id: &str) -> Option<usize> {
    m.participant(id).unwrap().seat
}

/// Every operation of the table, with the row it is in. Each checks its own effect when it
/// is allowed.
fn operations() -> Vec<(&'static str, Row, Prep, Op)> {
    vec![
        // In the actor's own room: r1, where Together Mode does not run yet.
        ("start", Row::Start, actor_joins_r1, |m, a| {
            let s = m.start(a)?;
            assert_eq!(m.stream("r1"), Some(&s));
            Ok(())
        }),
        ("get stream", Row::Everyone, nothing, |m, a| {
            let room = room_of(m, a);
            assert_eq!(m.stream(&room).unwrap().room, room);
            Ok(())
        }),
        ("get scene size", Row::Everyone, nothing, |m, a| {
            assert_eq!(m.scene_size(&room_of(m, a)), Some((1280, 720)));
            Ok(())
        }),
        ("get seating map", Row::Everyone, nothing, |m, a| {
            let map = m.seating_map(&room_of(m, a)).unwrap();
            assert!(map.0.contains_key(a));
            Ok(())
        }),
        ("set own scene size", Row::Everyone, nothing, |m, a| {
            let room = room_of(m, a);
            let before = m.seating_map(&room).unwrap().0[a];
            m.set_scene_size(&room, 640, 360)?;
            assert_eq!(m.scene_size(&room), Some((640, 360)));
            assert!(m.seating_map(&room).unwrap().0[a].width < before.width);
            Ok(())
        }),
        ("change scene", Row::SceneAndSeats, nothing, |m, a| {
            m.change_scene(a, Scene::grid(4, W, H).unwrap())?;
            assert_ne!(m.live("main").unwrap().compositor().scene().seats.len(), 9);
            Ok(())
        }),
        ("assign a seat", Row::SceneAndSeats, nothing, |m, a| {
            m.assign_seat(a, "8:orgid:x1", 7)?;
            assert_eq!(seat(m, "8:orgid:x1"), Some(7));
            Ok(())
        }),
        ("swap seats", Row::SceneAndSeats, nothing, |m, a| {
            let (s1, s2) = (seat(m, "8:orgid:x1"), seat(m, "8:orgid:x2"));
            m.swap_seats(a, "8:orgid:x1", "8:orgid:x2")?;
            assert_eq!((seat(m, "8:orgid:x1"), seat(m, "8:orgid:x2")), (s2, s1));
            Ok(())
        }),
        ("reserve seats", Row::SceneAndSeats, nothing, |m, a| {
            m.set_reservation(a, Reservation::Seats(vec![8]))?;
            m.assign_seat(HOST, "8:orgid:x2", 8)
                .expect_err("seat 8 is reserved now");
            Ok(())
        }),
        (
            "apply a seat layout",
            Row::SceneAndSeats,
            nothing,
            |m, a| {
                let order = m.live("main").unwrap().compositor().scene().seats[6].seating_order;
                let layout: SeatLayout =
                    serde_json::from_str(&format!(r#"{{"8:orgid:x2": {order}}}"#)).unwrap();
                m.apply_seat_layout(a, &layout)?;
                assert_eq!(seat(m, "8:orgid:x2"), Some(6));
                Ok(())
            },
        ),
        (
            "get assigned breakout room",
            Row::Everyone,
            nothing,
            |m, a| {
                let room = m.assigned_breakout_room(a)?.expect("assigned");
                assert_eq!(room.thread_id, "r1");
                assert!(m.assigned_breakout_room("8:orgid:x2")?.is_none());
                Ok(())
            },
        ),
        ("join the assigned room", Row::Everyone, nothing, |m, a| {
            m.join_room(a, "r1")?;
            assert_eq!(room_of(m, a), "r1");
            Ok(())
        }),
        ("return to main", Row::Everyone, actor_joins_r1, |m, a| {
            m.return_to_main(a)?;
            assert_eq!(room_of(m, a), "main");
            Ok(())
        }),
        (
            "get breakout room settings",
            Row::Everyone,
            actor_joins_r1,
            |m, a| {
                let s = m.breakout_room_settings(a)?.expect("in r1");
                assert_eq!(s.room_end_time_us, Some(10_000_000));
                assert_eq!(
                    m.breakout_room_settings("8:orgid:x2")?,
                    None,
                    "in the main room"
                );
                Ok(())
            },
        ),
        ("get all breakout rooms", Row::Rooms, nothing, |m, a| {
            let rooms = m.get_breakout_rooms(a)?;
            let ids: Vec<&str> = rooms.iter().map(|r| r.thread_id.as_str()).collect();
            assert_eq!(ids, ["r1", "r2", "r3"]);
            assert_eq!(rooms[0].invitees, [a.to_string(), "8:orgid:x1".to_string()]);
            Ok(())
        }),
        ("create a breakout room", Row::Rooms, nothing, |m, a| {
            m.create_room(a, RoomSpec::new("new", "New"))?;
            assert_eq!(m.breakout_room("new").unwrap().state, RoomState::Closed);
            Ok(())
        }),
        ("open a breakout room", Row::Rooms, nothing, |m, a| {
            m.open_room(a, "r2")?;
            assert_eq!(m.breakout_room("r2").unwrap().state, RoomState::Open);
            Ok(())
        }),
        (
            "close a breakout room",
            Row::Rooms,
            |m, _| m.join_room("8:orgid:x1", "r1").unwrap(),
            |m, a| {
                m.close_room(a, "r1")?;
                assert_eq!(m.breakout_room("r1").unwrap().state, RoomState::Closed);
                assert_eq!(room_of(m, "8:orgid:x1"), "main");
                Ok(())
            },
        ),
        ("assign to a breakout room", Row::Rooms, nothing, |m, a| {
            m.assign(a, "8:orgid:x2", Some("r2"))?;
            assert_eq!(m.breakout_room("r2").unwrap().invitees, ["8:orgid:x2"]);
            Ok(())
        }),
        ("set breakout room settings", Row::Rooms, nothing, |m, a| {
            let settings = RoomSettings {
                room_end_time_us: None,
                disable_return_to_main_meeting: true,
            };
            m.set_room_settings(a, "r1", settings)?;
            assert_eq!(m.breakout_room("r1").unwrap().settings, settings);
            Ok(())
        }),
        (
            "name a breakout room manager",
            Row::Name,
            nothing,
            |m, a| {
                m.add_breakout_room_manager(a, PRESENTER)?;
                assert!(m.breakout_room_managers().contains(&PRESENTER.to_string()));
                Ok(())
            },
        ),
        (
            "unname a breakout room manager",
            Row::Name,
            |m, _| m.add_breakout_room_manager(HOST, PRESENTER).unwrap(),
            |m, a| {
                m.remove_breakout_room_manager(a, PRESENTER)?;
                assert!(!m.breakout_room_managers().contains(&PRESENTER.to_string()));
                Ok(())
            },
        ),
        (
            "join a room one is not assigned to",
            Row::JoinAny,
            nothing,
            |m, a| {
                m.join_room(a, "r3")?;
                assert_eq!(room_of(m, a), "r3");
                Ok(())
            },
        ),
    ]
}

fn check_cell(
    kind: IdentityKind,
    prefix: &str,
    who: Who,
    (name, row, prep, op): (&str, Row, Prep, Op),
) {
    let actor = format!("{prefix}actor");
    assert_eq!(IdentityKind::from_raw_id(&actor), kind);
    let mut m = setup(&actor, who);
    prep(&mut m, &actor);
    let before = state(&m);
    let got = op(&mut m, &actor);
    let want = expected(row, kind, who);
    assert_eq!(
        code(&got),
        want,
        "{name} by {actor} ({who:?}): {:?}",
        got.as_ref().err().map(ToString::to_string)
    );
    if got.is_err() {
        assert_eq!(
            state(&m),
            before,
            "{name} by {actor} ({who:?}) was refused, yet changed something"
        );
    }
}

/// The first column: Communication Services users (`8:acs:`, `8:gcch-acs:`), Teams visitors
/// and others, in every role, for every operation.
#[test]
fn communication_services_users_visitors_and_others() {
    let mut cells = 0;
    for (prefix, kind) in NOT_M365 {
        // A Manager is not possible here (naming them is refused, see below): the four roles.
        for who in [
            Who::Organizer,
            Who::CoOrganizer,
            Who::Presenter,
            Who::Attendee,
        ] {
            for cell in operations() {
                check_cell(kind, prefix, who, cell);
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 5 * 4 * operations().len());
}

/// The second column: Microsoft 365 users (three clouds), in every role and as a named
/// breakout room manager, for every operation.
#[test]
fn microsoft_365_users() {
    let mut cells = 0;
    for prefix in M365 {
        for who in EVERY_ROLE {
            for cell in operations() {
                check_cell(IdentityKind::Microsoft365, prefix, who, cell);
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 3 * 5 * operations().len());
}

/// The headline case: an `8:acs:` organizer may neither manage rooms nor change the scene.
#[test]
fn a_communication_services_organizer_manages_nothing() {
    let mut m = meeting();
    m.join("8:acs:boss", Role::Organizer).unwrap();
    let e = m
        .create_room("8:acs:boss", RoomSpec::new("r", "R"))
        .unwrap_err();
    let AcsError {
        code,
        subcode,
        refusal,
    } = e.refusal().unwrap();
    assert_eq!((*code, *subcode), (403, 46417));
    assert!(
        refusal.to_string().contains("Microsoft 365 users only"),
        "{refusal}"
    );
    assert_eq!(
        code_of(m.change_scene("8:acs:boss", Scene::grid(4, W, H).unwrap())),
        Some((403, 46417))
    );
    assert_eq!(code_of(m.start("8:acs:boss")), Some((403, 46306)));
    assert!(m.breakout_rooms().is_empty());
}

fn code_of<T>(r: Result<T, MeetingError>) -> Option<(u16, u32)> {
    code(&r.map(|_| ()))
}

/// Naming breakout room managers: the organizer only, Microsoft 365 presenters only, at most
/// ten; what a manager may do; unnaming; a manager who comes back in another role.
#[test]
fn breakout_room_managers() {
    let mut m = meeting();
    let rx = m.subscribe();
    m.join(HOST, Role::Organizer).unwrap();
    m.join("8:orgid:co", Role::CoOrganizer).unwrap();
    m.join("8:orgid:p", Role::Presenter).unwrap();
    m.join("8:orgid:att", Role::Attendee).unwrap();
    m.join("8:acs:org", Role::Organizer).unwrap();
    m.join("8:acs:pres", Role::Presenter).unwrap();
    m.join("8:teamsvisitor:pres", Role::Presenter).unwrap();

    // Who may name.
    for (by, want) in [
        ("8:orgid:co", (403, 46303)),
        ("8:orgid:p", (403, 46303)),
        ("8:orgid:att", (403, 46303)),
        ("8:acs:org", (403, 46417)),
        ("8:orgid:nobody", (404, 46401)),
    ] {
        assert_eq!(
            code_of(m.add_breakout_room_manager(by, "8:orgid:p")),
            Some(want),
            "{by}"
        );
        assert_eq!(
            code_of(m.remove_breakout_room_manager(by, "8:orgid:p")),
            Some(want),
            "{by}"
        );
    }
    // Who may be named.
    for (id, want) in [
        ("8:orgid:att", (409, 46418)),
        ("8:orgid:co", (409, 46418)),
        (HOST, (409, 46418)),
        ("8:acs:pres", (403, 46419)),
        ("8:teamsvisitor:pres", (403, 46419)),
        ("8:orgid:nobody", (404, 46401)),
    ] {
        assert_eq!(
            code_of(m.add_breakout_room_manager(HOST, id)),
            Some(want),
            "{id}"
        );
    }
    assert!(m.breakout_room_managers().is_empty());
    rx.try_iter().count();

    // The presenter may not manage rooms until named.
    assert_eq!(
        code_of(m.create_room("8:orgid:p", RoomSpec::new("r", "R"))),
        Some((403, 46303))
    );
    assert_eq!(
        code_of(m.get_breakout_rooms("8:orgid:p")),
        Some((403, 46303))
    );
    m.add_breakout_room_manager(HOST, "8:orgid:p").unwrap();
    let named: Vec<_> = rx.try_iter().map(|e| e.kind).collect();
    assert_eq!(
        named,
        [MeetingEvent::BreakoutRoomManagers {
            managers: vec!["8:orgid:p".to_string()]
        }]
    );
    // Naming again does nothing.
    m.add_breakout_room_manager(HOST, "8:orgid:p").unwrap();
    assert_eq!(rx.try_iter().count(), 0);
    m.create_room("8:orgid:p", RoomSpec::new("r", "R")).unwrap();
    m.open_room("8:orgid:p", "r").unwrap();
    assert_eq!(m.get_breakout_rooms("8:orgid:p").unwrap().len(), 1);
    m.join_room("8:orgid:p", "r").unwrap();
    // A manager does not name managers.
    m.join("8:orgid:p2", Role::Presenter).unwrap();
    assert_eq!(
        code_of(m.add_breakout_room_manager("8:orgid:p", "8:orgid:p2")),
        Some((403, 46303))
    );

    // At most ten.
    for i in 0..MAX_BREAKOUT_ROOM_MANAGERS - 1 {
        let id = format!("8:orgid:m{i}");
        m.join(&id, Role::Presenter).unwrap();
        m.add_breakout_room_manager(HOST, &id).unwrap();
    }
    assert_eq!(m.breakout_room_managers().len(), MAX_BREAKOUT_ROOM_MANAGERS);
    let before = m.breakout_room_managers().to_vec();
    assert_eq!(
        code_of(m.add_breakout_room_manager(HOST, "8:orgid:p2")),
        Some((409, 46420))
    );
    assert_eq!(m.breakout_room_managers(), before);

    // Unnaming: the rights go; someone neither named nor present is unknown; someone present
    // but not named is a no-op.
    m.remove_breakout_room_manager(HOST, "8:orgid:m0").unwrap();
    assert!(!m
        .breakout_room_managers()
        .contains(&"8:orgid:m0".to_string()));
    assert_eq!(code_of(m.close_room("8:orgid:m0", "r")), Some((403, 46303)));
    m.add_breakout_room_manager(HOST, "8:orgid:p2").unwrap();
    assert_eq!(
        code_of(m.remove_breakout_room_manager(HOST, "8:orgid:nobody")),
        Some((404, 46401))
    );
    rx.try_iter().count();
    m.remove_breakout_room_manager(HOST, "8:orgid:att").unwrap();
    assert_eq!(rx.try_iter().count(), 0, "nothing changed");

    // The naming survives leaving: back as a presenter, still a manager.
    m.leave("8:orgid:m1").unwrap();
    assert!(m
        .breakout_room_managers()
        .contains(&"8:orgid:m1".to_string()));
    m.join("8:orgid:m1", Role::Presenter).unwrap();
    m.create_room("8:orgid:m1", RoomSpec::new("r-m1", "M1"))
        .unwrap();
    // Back as an attendee: unnamed (an event says so), and coming back as a presenter again
    // does not restore it.
    m.leave("8:orgid:m2").unwrap();
    rx.try_iter().count();
    m.join("8:orgid:m2", Role::Attendee).unwrap();
    assert!(!m
        .breakout_room_managers()
        .contains(&"8:orgid:m2".to_string()));
    let managers = rx
        .try_iter()
        .find_map(|e| match e.kind {
            MeetingEvent::BreakoutRoomManagers { managers } => Some(managers),
            _ => None,
        })
        .expect("a breakoutRoomManagers event");
    assert_eq!(managers, m.breakout_room_managers());
    assert_eq!(
        code_of(m.create_room("8:orgid:m2", RoomSpec::new("r-m2", "M2"))),
        Some((403, 46303))
    );
    m.leave("8:orgid:m2").unwrap();
    m.join("8:orgid:m2", Role::Presenter).unwrap();
    assert_eq!(
        code_of(m.create_room("8:orgid:m2", RoomSpec::new("r-m2", "M2"))),
        Some((403, 46303))
    );
    // Back as a presenter of another identity kind (join_as): unnamed too.
    m.leave("8:orgid:m3").unwrap();
    m.join_as(
        "8:orgid:m3",
        IdentityKind::CommunicationServices,
        Role::Presenter,
    )
    .unwrap();
    assert!(!m
        .breakout_room_managers()
        .contains(&"8:orgid:m3".to_string()));
    assert_eq!(
        code_of(m.create_room("8:orgid:m3", RoomSpec::new("r-m3", "M3"))),
        Some((403, 46417))
    );
}

/// Every refusal code of this file is one the README's refusal table documents.
#[test]
fn the_readme_documents_every_rights_subcode() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for code in [
        "403/46306",
        "403/46303",
        "403/46417",
        "409/46418",
        "403/46419",
        "409/46420",
    ] {
        assert!(readme.contains(code), "README lacks {code}");
    }
}
