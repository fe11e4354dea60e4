//! The ACS-shaped control surface: a meeting with a main room and breakout rooms, each with
//! its own scene, seating and Together Mode stream.
//!
//! ```
//! use together_mode::meeting::{Meeting, MeetingOptions};
//! use together_mode::frame::{Frame, PixelFormat};
//! use together_mode::{CompositorOptions, Role, Scene, SegmentMode};
//!
//! // Each room's compositor is built with these options: the default segment mode (`auto`)
//! // needs the selfie model; this example uses the frames' own alpha.
//! let compositor = CompositorOptions::default()
//!     .with_size(320, 180)
//!     .with_segment(SegmentMode::Alpha);
//! let options = MeetingOptions::default().with_compositor(compositor);
//! let mut meeting = Meeting::new(Scene::builtin("auditorium").unwrap(), options).unwrap();
//! let events = meeting.subscribe();
//! meeting.join("8:orgid:olivia", Role::Organizer).unwrap();
//! meeting.join("8:acs:alice", Role::Attendee).unwrap();
//! meeting.set_video("8:acs:alice", true).unwrap();
//! assert_eq!(meeting.start("8:acs:alice").unwrap_err().refusal().unwrap().subcode, 46306);
//! meeting.start("8:orgid:olivia").unwrap();
//! let camera = Frame::black(PixelFormat::I420, 64, 48, Default::default()).unwrap();
//! meeting.push_ref("8:acs:alice", &camera.as_ref(), 0).unwrap();
//! meeting.tick().unwrap();
//! let main = meeting.main_room().to_string();
//! assert!(meeting.rendered(&main));
//! assert!(meeting.seating_map(&main).unwrap().0.contains_key("8:acs:alice"));
//! assert!(events.try_iter().count() > 0);
//! ```
//!
//! # Rules
//!
//! Who may do what is the README's rights table: ACS's documented rights, with the Teams-only
//! operations this engine offers granted as Teams grants them.
//!
//! - Identity comes from the raw id ([`IdentityKind::from_raw_id`]). Every operation that needs
//!   rights ([`Operation`]) needs a Microsoft 365 user; the identity kind is checked before
//!   the role. [`Meeting::start`] refuses a Communication Services user 403/46306 and a Teams
//!   visitor or other 403/46303; every other operation refuses them 403/46417
//!   ([`Refusal::Microsoft365Only`]), whatever their role: an `8:acs:` organizer may neither
//!   change the scene nor manage breakout rooms.
//! - Start: organizer, co-organizer, presenter (else 403/46303). Start is idempotent. It
//!   starts Together Mode in the room the caller is in (each breakout room is its own call).
//! - Everyone may read a room's stream, scene size and seating map and set the scene size
//!   (the CSS box they show the stream in): these calls take a room, not an actor.
//! - Change scene and change seats (assign, swap, reserve, apply a seat layout): organizer,
//!   co-organizer, presenter (else 403/46303), in the caller's room. A scene change moves
//!   nobody who keeps a seat.
//! - Breakout rooms: organizers, co-organizers and breakout room managers get every room
//!   ([`Meeting::get_breakout_rooms`]), create, open, close and configure rooms and assign
//!   participants (else 403/46303), and may join any open room. A breakout room manager is
//!   a Microsoft 365 presenter the organizer names ([`Meeting::add_breakout_room_manager`],
//!   at most [`MAX_BREAKOUT_ROOM_MANAGERS`]); the naming survives leaving the meeting, but a
//!   manager who comes back as anything but a Microsoft 365 presenter is unnamed (a
//!   `breakoutRoomManagers` event says so) and must be named again. Everyone may get their
//!   assigned room ([`Meeting::assigned_breakout_room`]), join it
//!   ([`Meeting::join_room`]) when it is open, return to main unless the room disables it,
//!   and get the settings of the room they are in ([`Meeting::breakout_room_settings`]).
//!   Opening a room moves its invitees in when it auto-moves. Closing a room, or reaching its
//!   end time, moves everyone in it back to the main room and ends its Together Mode stream.
//! - A room's Together Mode ends after `idle_timeout_us` (60 s) in which nobody in the room had
//!   live video (video on and not frozen).
//! - Seats, frames and freezing follow [`crate::stream`]: only participants with video on get a
//!   seat.
//! - Every state change emits [`Event`]s, in order, to every subscriber.

mod events;
mod identity;

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, Sender};

use rayon::prelude::*;

pub use events::{BreakoutRoom, Event, MeetingEvent, RoomSettings, RoomState, StreamInfo};
pub use identity::{
    role_from_name, role_name, AcsError, IdentityKind, MeetingError, Operation, Refusal,
    MAX_BREAKOUT_ROOM_MANAGERS,
};

use crate::compositor::CompositorOptions;
use crate::frame::{Frame, FrameRef};
use crate::framing::FramingMode;
use crate::geometry::check_output_size;
use crate::scene::Scene;
use crate::seating::{Reservation, Role, SeatLayout, SeatingMap, DEFAULT_SCENE_SIZE, MAX_ID_BYTES};
use crate::stream::{LiveStream, Member, OutputClock, PushOutcome, Pushed, StreamOptions};

/// Most breakout rooms a meeting may have (Teams' limit).
pub const MAX_BREAKOUT_ROOMS: usize = 50;

/// Largest scene size side (CSS pixels) accepted.
pub const MAX_SCENE_SIZE: u32 = 16384;

/// Longest threadId or display name accepted (bytes).
pub const MAX_ROOM_TEXT: usize = 256;

/// Meeting settings: plain data with `with_*` setters.
#[derive(Debug, Clone)]
pub struct MeetingOptions {
    /// Every room's compositor (output size, colour, filter, segment mode, ...). Each room
    /// builds its segmenters from it (`auto` by default: the selfie model is loaded when the
    /// room is made, and a room that cannot find it is refused then).
    pub compositor: CompositorOptions,
    /// Input timing and the freeze policy.
    pub stream: StreamOptions,
    /// Output frame rate `(num, den)`. Default 30/1.
    pub fps: (u32, u32),
    /// Together Mode ends after this long without live video in its room (µs). Default 60 s.
    pub idle_timeout_us: i64,
    /// The initial scene size of every room (CSS box for the seating map). Default 1280x720.
    pub scene_size: (u32, u32),
    /// The main room's threadId. Default `"main"`.
    pub main_thread_id: String,
    /// Most breakout rooms. Default [`MAX_BREAKOUT_ROOMS`].
    pub max_breakout_rooms: usize,
    /// Seats reserved for organizers, co-organizers and presenters in every room (main and
    /// breakout rooms, whatever their scene). Default none: join-order seating. A seat list
    /// naming a seat a room's scene lacks refuses that room.
    pub reservation: Reservation,
}

impl Default for MeetingOptions {
    fn default() -> Self {
        Self {
            compositor: CompositorOptions::default(),
            stream: StreamOptions::default(),
            fps: (30, 1),
            idle_timeout_us: 60_000_000,
            scene_size: DEFAULT_SCENE_SIZE,
            main_thread_id: "main".to_string(),
            max_breakout_rooms: MAX_BREAKOUT_ROOMS,
            reservation: Reservation::None,
        }
    }
}

impl MeetingOptions {
    /// Compositor options (output size and so on) for every room.
    pub fn with_compositor(mut self, compositor: CompositorOptions) -> Self {
        self.compositor = compositor;
        self
    }
    /// Input timing and freeze policy.
    pub fn with_stream(mut self, stream: StreamOptions) -> Self {
        self.stream = stream;
        self
    }
    /// Output frame rate.
    pub fn with_fps(mut self, num: u32, den: u32) -> Self {
        self.fps = (num, den);
        self
    }
    /// Idle timeout in µs.
    pub fn with_idle_timeout_us(mut self, us: i64) -> Self {
        self.idle_timeout_us = us;
        self
    }
    /// Initial scene size.
    pub fn with_scene_size(mut self, width: u32, height: u32) -> Self {
        self.scene_size = (width, height);
        self
    }
    /// The main room's threadId.
    pub fn with_main_thread_id(mut self, id: impl Into<String>) -> Self {
        self.main_thread_id = id.into();
        self
    }
    /// Most breakout rooms (at most [`MAX_BREAKOUT_ROOMS`]).
    pub fn with_max_breakout_rooms(mut self, n: usize) -> Self {
        self.max_breakout_rooms = n;
        self
    }
    /// Seats reserved for organizers, co-organizers and presenters in every room.
    pub fn with_reservation(mut self, reservation: Reservation) -> Self {
        self.reservation = reservation;
        self
    }
}

/// What a new breakout room is.
#[derive(Debug, Clone)]
pub struct RoomSpec {
    /// Its id (unique in the meeting).
    pub thread_id: String,
    /// Its name.
    pub display_name: String,
    /// Whether opening it moves its invitees in.
    pub auto_move: bool,
    /// Its scene (default: the meeting's scene).
    pub scene: Option<Scene>,
}

impl RoomSpec {
    /// A room with auto-move on and the meeting's scene.
    pub fn new(thread_id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            thread_id: thread_id.into(),
            display_name: display_name.into(),
            auto_move: true,
            scene: None,
        }
    }
    /// Auto-move on or off.
    pub fn with_auto_move(mut self, auto_move: bool) -> Self {
        self.auto_move = auto_move;
        self
    }
    /// The room's own scene.
    pub fn with_scene(mut self, scene: Scene) -> Self {
        self.scene = Some(scene);
        self
    }
}

/// A participant as the meeting knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParticipantView<'a> {
    /// Identity kind.
    pub kind: IdentityKind,
    /// Role.
    pub role: Role,
    /// The room (threadId) they are in.
    pub room: &'a str,
    /// Video on.
    pub video: bool,
    /// Video frozen at the last tick.
    pub frozen: bool,
    /// Their seat in their room's scene.
    pub seat: Option<usize>,
}

/// One rendered tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickInfo {
    /// Tick index (0, 1, 2, ...).
    pub index: u64,
    /// Its time on the meeting clock (µs), on the output grid.
    pub time_us: i64,
    /// How many rooms rendered a frame (those with an active Together Mode stream).
    pub rendered: usize,
}

#[derive(Debug, Clone, Copy)]
struct Person {
    kind: IdentityKind,
    role: Role,
    room: usize,
}

#[derive(Debug)]
struct Room {
    info: BreakoutRoom,
    stream: LiveStream,
    scene_size: (u32, u32),
    together: Option<StreamInfo>,
    last_video_us: i64,
    rendered: bool,
}

/// A meeting: participants, a main room and breakout rooms, one live composite per room.
#[derive(Debug)]
pub struct Meeting {
    options: MeetingOptions,
    clock: OutputClock,
    scene: Scene,
    /// `rooms[0]` is the main room.
    rooms: Vec<Room>,
    people: HashMap<String, Person>,
    subscribers: Vec<Sender<Event>>,
    seq: u64,
    next_stream_id: u64,
    /// Breakout room managers the organizer named, in naming order.
    managers: Vec<String>,
}

fn check_text(field: &'static str, value: &str) -> Result<(), Refusal> {
    if value.is_empty() || value.len() > MAX_ROOM_TEXT || value.chars().any(char::is_control) {
        return Err(Refusal::BadRoom {
            field,
            value: value.chars().take(64).collect(),
        });
    }
    Ok(())
}

impl Meeting {
    /// A meeting whose main room (and, by default, every breakout room) shows `scene`.
    pub fn new(scene: Scene, options: MeetingOptions) -> Result<Self, MeetingError> {
        options.stream.validate()?;
        if options.idle_timeout_us <= 0 {
            return Err(crate::stream::StreamError::NotPositive {
                what: "idle timeout",
                value: options.idle_timeout_us,
            }
            .into());
        }
        check_text("threadId", &options.main_thread_id)?;
        check_scene_size(options.scene_size)?;
        let clock = OutputClock::new(options.fps.0, options.fps.1, 0)?;
        let mut stream = LiveStream::new(scene.clone(), options.compositor, options.stream)?;
        stream.set_reservation(options.reservation.clone())?;
        let main = Room {
            info: BreakoutRoom {
                thread_id: options.main_thread_id.clone(),
                display_name: "Main meeting".to_string(),
                state: RoomState::Open,
                auto_move_participant_to_breakout_room: false,
                invitees: Vec::new(),
                settings: RoomSettings::default(),
            },
            stream,
            scene_size: options.scene_size,
            together: None,
            last_video_us: 0,
            rendered: false,
        };
        Ok(Self {
            clock,
            scene,
            rooms: vec![main],
            people: HashMap::new(),
            subscribers: Vec::new(),
            seq: 0,
            next_stream_id: 1,
            managers: Vec::new(),
            options: MeetingOptions {
                max_breakout_rooms: options.max_breakout_rooms.min(MAX_BREAKOUT_ROOMS),
                ..options
            },
        })
    }

    // ---------------------------------------------------------------------------------------
    // Events

    /// A new subscriber: receives every event from now on, in order. Drain it (or drop it:
    /// dropped receivers are forgotten at the next event).
    pub fn subscribe(&mut self) -> Receiver<Event> {
        let (tx, rx) = channel();
        self.subscribers.push(tx);
        rx
    }

    fn emit(&mut self, kind: MeetingEvent) {
        self.seq += 1;
        let event = Event {
            seq: self.seq,
            tick: self.clock.next_tick(),
            time_us: self.clock.now(),
            kind,
        };
        self.subscribers.retain(|s| s.send(event.clone()).is_ok());
    }

    /// Turns what the rooms' streams report (freezes, seat changes) into events.
    fn flush(&mut self) {
        for i in 0..self.rooms.len() {
            let room = &self.rooms[i];
            let report = room.stream.report();
            if report.is_empty() {
                continue;
            }
            let thread = room.info.thread_id.clone();
            let frozen = report.frozen.clone();
            let resumed = report.resumed.clone();
            let seating = report
                .seating_changed
                .then(|| (room.scene_size, room.stream.seating_map(room.scene_size)));
            self.rooms[i].stream.clear_report();
            for participant in frozen {
                self.emit(MeetingEvent::VideoFrozen {
                    participant,
                    room: thread.clone(),
                });
            }
            for participant in resumed {
                self.emit(MeetingEvent::VideoResumed {
                    participant,
                    room: thread.clone(),
                });
            }
            if let Some((scene_size, seating_map)) = seating {
                self.emit(MeetingEvent::SeatingUpdated {
                    room: thread,
                    scene_size,
                    seating_map,
                });
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Lookups

    fn person(&self, id: &str) -> Result<Person, Refusal> {
        self.people
            .get(id)
            .copied()
            .ok_or_else(|| Refusal::NotInMeeting(id.to_string()))
    }

    /// The rights check of every operation with an actor: the identity kind first (a
    /// Communication Services user starting Together Mode gets 403/46306, anyone else who is
    /// not a Microsoft 365 user 403/46303 for start and 403/46417 for everything else), then
    /// the role, or the breakout room manager naming (403/46303).
    fn require(&self, by: &str, operation: Operation) -> Result<Person, Refusal> {
        let p = self.person(by)?;
        if !operation.allows_kind(p.kind) {
            let participant = by.to_string();
            return Err(match (operation, p.kind) {
                (Operation::Start, IdentityKind::CommunicationServices) => {
                    Refusal::CommunicationServicesUser { participant }
                }
                (Operation::Start, kind) => Refusal::IdentityNotAllowed { participant, kind },
                (operation, kind) => Refusal::Microsoft365Only {
                    participant,
                    kind,
                    operation,
                },
            });
        }
        if operation.allows(p.role) || (operation.allows_manager() && self.is_manager(by, p)) {
            Ok(p)
        } else {
            Err(Refusal::RoleNotAllowed {
                participant: by.to_string(),
                role: p.role,
                operation,
            })
        }
    }

    /// Whether `id` (whose record is `p`) is a breakout room manager now: named by the
    /// organizer and still a Microsoft 365 presenter.
    fn is_manager(&self, id: &str, p: Person) -> bool {
        p.role == Role::Presenter
            && p.kind == IdentityKind::Microsoft365
            && self.managers.iter().any(|m| m == id)
    }

    fn room_index(&self, thread_id: &str) -> Option<usize> {
        self.rooms
            .iter()
            .position(|r| r.info.thread_id == thread_id)
    }

    fn breakout_index(&self, thread_id: &str) -> Result<usize, Refusal> {
        match self.room_index(thread_id) {
            Some(i) if i > 0 => Ok(i),
            _ => Err(Refusal::UnknownRoom(thread_id.to_string())),
        }
    }

    fn room(&self, thread_id: &str) -> Option<&Room> {
        self.room_index(thread_id).and_then(|i| self.rooms.get(i))
    }

    /// The options.
    pub fn options(&self) -> &MeetingOptions {
        &self.options
    }

    /// The output clock.
    pub fn clock(&self) -> &OutputClock {
        &self.clock
    }

    /// The time of the next tick (µs): what control operations are stamped with.
    pub fn now_us(&self) -> i64 {
        self.clock.now()
    }

    /// The main room's threadId.
    pub fn main_room(&self) -> &str {
        &self.rooms[0].info.thread_id
    }

    /// Every room's threadId, main first, then breakout rooms in creation order.
    pub fn room_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.rooms.iter().map(|r| r.info.thread_id.as_str())
    }

    /// The breakout rooms, in creation order: the host application's view, with no rights
    /// check. A participant asks with [`get_breakout_rooms`](Self::get_breakout_rooms).
    pub fn breakout_rooms(&self) -> Vec<BreakoutRoom> {
        self.rooms.iter().skip(1).map(|r| r.info.clone()).collect()
    }

    /// One breakout room (the host application's view, with no rights check).
    pub fn breakout_room(&self, thread_id: &str) -> Option<&BreakoutRoom> {
        self.breakout_index(thread_id)
            .ok()
            .and_then(|i| self.rooms.get(i))
            .map(|r| &r.info)
    }

    /// A participant.
    pub fn participant(&self, id: &str) -> Option<ParticipantView<'_>> {
        let p = self.people.get(id)?;
        let room = self.rooms.get(p.room)?;
        let member = room.stream.member(id)?;
        Some(ParticipantView {
            kind: p.kind,
            role: p.role,
            room: &room.info.thread_id,
            video: member.video(),
            frozen: member.frozen(),
            seat: room.stream.seat_of(id),
        })
    }

    /// Every participant id (in no particular order).
    pub fn participants(&self) -> impl Iterator<Item = &str> + '_ {
        self.people.keys().map(String::as_str)
    }

    /// A room's live stream (its compositor, members, waiting line).
    pub fn live(&self, thread_id: &str) -> Option<&LiveStream> {
        self.room(thread_id).map(|r| &r.stream)
    }

    /// A room's live stream, for settings that move nobody (e.g. the segmenter).
    pub fn live_mut(&mut self, thread_id: &str) -> Option<&mut LiveStream> {
        let i = self.room_index(thread_id)?;
        self.rooms.get_mut(i).map(|r| &mut r.stream)
    }

    /// ACS `togetherModeStream`: the room's stream while Together Mode runs there.
    pub fn stream(&self, thread_id: &str) -> Option<&StreamInfo> {
        self.room(thread_id).and_then(|r| r.together.as_ref())
    }

    /// ACS `sceneSize` (get).
    pub fn scene_size(&self, thread_id: &str) -> Option<(u32, u32)> {
        self.room(thread_id).map(|r| r.scene_size)
    }

    /// ACS `togetherModeSeatingMap`: the room's seats in its scene-size box.
    pub fn seating_map(&self, thread_id: &str) -> Option<SeatingMap> {
        self.room(thread_id)
            .map(|r| r.stream.seating_map(r.scene_size))
    }

    /// The room's last rendered frame (black before its first).
    pub fn output(&self, thread_id: &str) -> Option<FrameRef<'_>> {
        self.room(thread_id).map(|r| r.stream.output())
    }

    /// Whether the room rendered a frame at the last tick.
    pub fn rendered(&self, thread_id: &str) -> bool {
        self.room(thread_id).is_some_and(|r| r.rendered)
    }

    // ---------------------------------------------------------------------------------------
    // Participants

    /// A participant enters the meeting (main room, video off); the identity kind comes from
    /// the id.
    pub fn join(&mut self, id: &str, role: Role) -> Result<(), MeetingError> {
        self.join_as(id, IdentityKind::from_raw_id(id), role)
    }

    /// [`join`](Self::join) with an explicit identity kind.
    pub fn join_as(
        &mut self,
        id: &str,
        kind: IdentityKind,
        role: Role,
    ) -> Result<(), MeetingError> {
        if id.is_empty() || id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
            return Err(Refusal::BadParticipantId(id.chars().take(64).collect()).into());
        }
        if self.people.contains_key(id) {
            return Err(Refusal::AlreadyInMeeting(id.to_string()).into());
        }
        let member = Member::new(role, &self.options.stream, self.clock.now());
        self.rooms[0].stream.insert(id, member)?;
        self.people.insert(
            id.to_string(),
            Person {
                kind,
                role,
                room: 0,
            },
        );
        self.emit(MeetingEvent::ParticipantJoined {
            participant: id.to_string(),
            kind,
            role: role_name(role),
            room: self.rooms[0].info.thread_id.clone(),
        });
        // A named manager who comes back as anything but a Microsoft 365 presenter is no
        // longer one (the organizer may name them again once they are).
        if (role != Role::Presenter || kind != IdentityKind::Microsoft365)
            && self.managers.iter().any(|m| m == id)
        {
            self.managers.retain(|m| m != id);
            self.emit_managers();
        }
        self.flush();
        Ok(())
    }

    /// A participant leaves the meeting; their seat is freed. Breakout room assignments and a
    /// breakout room manager naming stay (they apply again if the participant comes back; a
    /// manager who comes back as anything but a Microsoft 365 presenter is unnamed).
    pub fn leave(&mut self, id: &str) -> Result<(), MeetingError> {
        let p = self.person(id)?;
        self.rooms[p.room].stream.remove(id)?;
        self.people.remove(id);
        self.emit(MeetingEvent::ParticipantLeft {
            participant: id.to_string(),
            room: self.rooms[p.room].info.thread_id.clone(),
        });
        self.flush();
        Ok(())
    }

    /// Turns a participant's video on (a seat, or the line for one) or off (seat freed).
    pub fn set_video(&mut self, id: &str, on: bool) -> Result<(), MeetingError> {
        let p = self.person(id)?;
        let now = self.clock.now();
        if self.rooms[p.room].stream.set_video(id, on, now)? {
            self.emit(MeetingEvent::VideoChanged {
                participant: id.to_string(),
                room: self.rooms[p.room].info.thread_id.clone(),
                on,
            });
        }
        self.flush();
        Ok(())
    }

    /// Sets a participant's own framing (`None`: the meeting's, [`CompositorOptions::framing`]);
    /// it follows them into breakout rooms and applies whenever they take a seat, until they
    /// leave the meeting.
    pub fn set_framing(&mut self, id: &str, mode: Option<FramingMode>) -> Result<(), MeetingError> {
        let p = self.person(id)?;
        self.rooms[p.room].stream.set_framing(id, mode)?;
        Ok(())
    }

    /// Sets how a participant's seat is segmented (`None`: the meeting's,
    /// [`CompositorOptions::segment`]; see [`crate::Compositor::set_segmenter_of`]); like their
    /// framing it follows them into breakout rooms until they leave the meeting.
    pub fn set_segmenter_of(
        &mut self,
        id: &str,
        factory: Option<crate::segment::SegmenterFactory>,
    ) -> Result<(), MeetingError> {
        let p = self.person(id)?;
        self.rooms[p.room].stream.set_segmenter_of(id, factory)?;
        Ok(())
    }

    /// Hands over a participant's frame with its timestamp (µs, meeting clock); see
    /// [`crate::stream::InputBuffer::push`].
    pub fn push(&mut self, id: &str, frame: Frame, pts_us: i64) -> Result<Pushed, MeetingError> {
        let room = match self.people.get(id) {
            Some(p) => p.room,
            None => return Err(Refusal::NotInMeeting(id.to_string()).into()),
        };
        Ok(self.rooms[room].stream.push(id, frame, pts_us)?)
    }

    /// Copies a participant's frame in (no allocation in steady state).
    pub fn push_ref(
        &mut self,
        id: &str,
        frame: &FrameRef<'_>,
        pts_us: i64,
    ) -> Result<PushOutcome, MeetingError> {
        let room = match self.people.get(id) {
            Some(p) => p.room,
            None => return Err(Refusal::NotInMeeting(id.to_string()).into()),
        };
        Ok(self.rooms[room].stream.push_ref(id, frame, pts_us)?)
    }

    // ---------------------------------------------------------------------------------------
    // Together Mode

    /// ACS `start()`: starts Together Mode in the caller's room. Microsoft 365 users who are
    /// organizer, co-organizer or presenter only; idempotent (returns the running stream).
    pub fn start(&mut self, by: &str) -> Result<StreamInfo, MeetingError> {
        let p = self.require(by, Operation::Start)?;
        Ok(self.start_in(p.room))
    }

    fn start_in(&mut self, room: usize) -> StreamInfo {
        if let Some(s) = &self.rooms[room].together {
            return s.clone();
        }
        let (width, height) = {
            let o = self.rooms[room].stream.compositor().options();
            (o.width, o.height)
        };
        let info = StreamInfo {
            id: self.next_stream_id,
            room: self.rooms[room].info.thread_id.clone(),
            media_stream_type: "Video",
            width,
            height,
        };
        self.next_stream_id += 1;
        let now = self.clock.now();
        let r = &mut self.rooms[room];
        r.together = Some(info.clone());
        r.last_video_us = now;
        self.emit(MeetingEvent::StreamsUpdated {
            room: info.room.clone(),
            added: vec![info.clone()],
            removed: Vec::new(),
        });
        info
    }

    fn end_in(&mut self, room: usize) {
        if let Some(info) = self.rooms[room].together.take() {
            self.emit(MeetingEvent::StreamsUpdated {
                room: info.room.clone(),
                added: Vec::new(),
                removed: vec![info],
            });
        }
    }

    /// ACS `sceneSize` (set): the CSS box the room's stream is shown in; recomputes the
    /// seating map (a `togetherModeSeatingUpdated` event when it changes).
    pub fn set_scene_size(
        &mut self,
        thread_id: &str,
        width: u32,
        height: u32,
    ) -> Result<(), MeetingError> {
        let i = self
            .room_index(thread_id)
            .ok_or_else(|| Refusal::UnknownRoom(thread_id.to_string()))?;
        check_scene_size((width, height))?;
        let r = &mut self.rooms[i];
        if r.scene_size != (width, height) {
            r.scene_size = (width, height);
            let seating_map = r.stream.seating_map(r.scene_size);
            let room = r.info.thread_id.clone();
            self.emit(MeetingEvent::SeatingUpdated {
                room,
                scene_size: (width, height),
                seating_map,
            });
        }
        Ok(())
    }

    /// Changes a room's output (stream) size; the seating map follows.
    pub fn set_output_size(
        &mut self,
        thread_id: &str,
        width: u32,
        height: u32,
    ) -> Result<(), MeetingError> {
        let i = self
            .room_index(thread_id)
            .ok_or_else(|| Refusal::UnknownRoom(thread_id.to_string()))?;
        let max = self.rooms[i].stream.compositor().options().max_output;
        check_output_size(width, height, max).map_err(Refusal::BadOutputSize)?;
        self.rooms[i].stream.set_output_size(width, height)?;
        if let Some(old) = self.rooms[i].together.clone() {
            let new = StreamInfo {
                width,
                height,
                ..old.clone()
            };
            self.rooms[i].together = Some(new.clone());
            self.emit(MeetingEvent::StreamsUpdated {
                room: new.room.clone(),
                added: vec![new],
                removed: vec![old],
            });
        }
        self.flush();
        Ok(())
    }

    /// Changes the scene of the caller's room (organizer, co-organizer, presenter). Everyone
    /// whose seat exists in the new scene keeps it; the others are re-seated by the join rules
    /// or wait for a seat. Returns those left waiting.
    pub fn change_scene(&mut self, by: &str, scene: Scene) -> Result<Vec<String>, MeetingError> {
        let p = self.require(by, Operation::ChangeScene)?;
        let room = &mut self.rooms[p.room];
        let dropped = room.stream.set_scene(scene)?;
        let scene_id = room.stream.compositor().scene().id.clone();
        let seating_map = room.stream.seating_map(room.scene_size);
        let thread = room.info.thread_id.clone();
        self.emit(MeetingEvent::SceneUpdated {
            room: thread,
            scene: scene_id,
            seating_map,
        });
        self.flush();
        Ok(dropped)
    }

    fn same_room(&self, by: &str, by_person: Person, id: &str) -> Result<(), Refusal> {
        let p = self.person(id)?;
        if p.room != by_person.room {
            return Err(Refusal::DifferentRoom {
                by: by.to_string(),
                participant: id.to_string(),
            });
        }
        Ok(())
    }

    /// Moves a seated participant of the caller's room to a free seat (organizer,
    /// co-organizer, presenter).
    pub fn assign_seat(&mut self, by: &str, id: &str, seat: usize) -> Result<(), MeetingError> {
        let p = self.require(by, Operation::ChangeSeating)?;
        self.same_room(by, p, id)?;
        self.rooms[p.room].stream.assign_seat(id, seat)?;
        self.flush();
        Ok(())
    }

    /// Swaps the seats of two seated participants of the caller's room (organizer,
    /// co-organizer, presenter).
    pub fn swap_seats(&mut self, by: &str, a: &str, b: &str) -> Result<(), MeetingError> {
        let p = self.require(by, Operation::ChangeSeating)?;
        self.same_room(by, p, a)?;
        self.same_room(by, p, b)?;
        self.rooms[p.room].stream.swap_seats(a, b)?;
        self.flush();
        Ok(())
    }

    /// Reserves seats in the caller's room for organizers, co-organizers and presenters
    /// (organizer, co-organizer, presenter may do it); nobody seated moves, and the rule
    /// follows the room's scene changes.
    pub fn set_reservation(
        &mut self,
        by: &str,
        reservation: Reservation,
    ) -> Result<(), MeetingError> {
        let p = self.require(by, Operation::ChangeSeating)?;
        self.rooms[p.room].stream.set_reservation(reservation)?;
        self.flush();
        Ok(())
    }

    /// Who sits where in a room, as a [`SeatLayout`] (participant id -> `seatingOrder`) to
    /// save and apply to a later meeting.
    pub fn seat_layout(&self, thread_id: &str) -> Option<SeatLayout> {
        self.room(thread_id).map(|r| r.stream.seat_layout())
    }

    /// Applies a saved [`SeatLayout`] to the caller's room (organizer, co-organizer,
    /// presenter): seated participants move to their layout seats (swapping with whoever sits
    /// there). Ids not seated in the room, seats the scene lacks and moves the reservation
    /// forbids are skipped; a `seatLayoutApplied` event lists both. Returns the skipped.
    pub fn apply_seat_layout(
        &mut self,
        by: &str,
        layout: &SeatLayout,
    ) -> Result<Vec<crate::seating::LayoutSkip>, MeetingError> {
        let p = self.require(by, Operation::ChangeSeating)?;
        let room = &mut self.rooms[p.room];
        let skipped = room.stream.apply_seat_layout(layout);
        let applied = layout
            .0
            .keys()
            .filter(|id| !skipped.iter().any(|s| &s.participant == *id))
            .cloned()
            .collect();
        let thread = room.info.thread_id.clone();
        self.emit(MeetingEvent::SeatLayoutApplied {
            room: thread,
            applied,
            skipped: skipped.clone(),
        });
        self.flush();
        Ok(skipped)
    }

    // ---------------------------------------------------------------------------------------
    // Breakout rooms

    fn emit_rooms(&mut self) {
        let rooms = self.breakout_rooms();
        self.emit(MeetingEvent::BreakoutRooms { rooms });
    }

    fn emit_managers(&mut self) {
        let managers = self.managers.clone();
        self.emit(MeetingEvent::BreakoutRoomManagers { managers });
    }

    /// ACS `breakoutRooms` (get), as participant `by` asks for it: every breakout room, in
    /// creation order. Microsoft 365 organizers, co-organizers and breakout room managers
    /// (else 403/46417 for other identity kinds, 403/46303 for other roles).
    pub fn get_breakout_rooms(&self, by: &str) -> Result<Vec<BreakoutRoom>, MeetingError> {
        self.require(by, Operation::GetBreakoutRooms)?;
        Ok(self.breakout_rooms())
    }

    /// ACS `assignedBreakoutRoom`: the breakout room participant `id` is assigned to, if any.
    /// Anyone in the meeting may ask for their own.
    pub fn assigned_breakout_room(&self, id: &str) -> Result<Option<BreakoutRoom>, MeetingError> {
        self.person(id)?;
        Ok(self
            .rooms
            .iter()
            .skip(1)
            .find(|r| r.info.invitees.iter().any(|i| i == id))
            .map(|r| r.info.clone()))
    }

    /// ACS `breakoutRoomsSettings`: the settings of the breakout room participant `id` is in
    /// (`None` in the main room). Anyone in the meeting may ask for their own.
    pub fn breakout_room_settings(&self, id: &str) -> Result<Option<RoomSettings>, MeetingError> {
        let p = self.person(id)?;
        Ok((p.room > 0).then(|| self.rooms[p.room].info.settings))
    }

    /// The breakout room managers the organizer named, in naming order (some may have left
    /// the meeting: the naming stays until they come back as anything but a Microsoft 365
    /// presenter).
    pub fn breakout_room_managers(&self) -> &[String] {
        &self.managers
    }

    /// The organizer names a presenter breakout room manager (Teams' "manage breakout rooms"
    /// for presenters): they may then get every room and manage them as organizers do. Only a
    /// Microsoft 365 organizer may name (else 403/46417 or 403/46303); the named must be in
    /// the meeting (404/46401), a Microsoft 365 user (403/46419) and a presenter (409/46418);
    /// at most [`MAX_BREAKOUT_ROOM_MANAGERS`] (409/46420). Naming a manager again does
    /// nothing. A `breakoutRoomManagers` event lists the managers.
    pub fn add_breakout_room_manager(&mut self, by: &str, id: &str) -> Result<(), MeetingError> {
        self.require(by, Operation::NameBreakoutRoomManagers)?;
        let p = self.person(id)?;
        if p.kind != IdentityKind::Microsoft365 {
            return Err(Refusal::ManagerNotMicrosoft365 {
                participant: id.to_string(),
                kind: p.kind,
            }
            .into());
        }
        if p.role != Role::Presenter {
            return Err(Refusal::ManagerNotPresenter {
                participant: id.to_string(),
                role: p.role,
            }
            .into());
        }
        if self.managers.iter().any(|m| m == id) {
            return Ok(());
        }
        if self.managers.len() >= MAX_BREAKOUT_ROOM_MANAGERS {
            return Err(Refusal::TooManyManagers {
                max: MAX_BREAKOUT_ROOM_MANAGERS,
            }
            .into());
        }
        self.managers.push(id.to_string());
        self.emit_managers();
        Ok(())
    }

    /// The organizer unnames a breakout room manager (the same rights as naming). The id may
    /// have left the meeting; an id neither named nor in the meeting is 404/46401; unnaming
    /// someone not named does nothing. A `breakoutRoomManagers` event lists the managers.
    pub fn remove_breakout_room_manager(&mut self, by: &str, id: &str) -> Result<(), MeetingError> {
        self.require(by, Operation::NameBreakoutRoomManagers)?;
        if !self.managers.iter().any(|m| m == id) {
            self.person(id)?;
            return Ok(());
        }
        self.managers.retain(|m| m != id);
        self.emit_managers();
        Ok(())
    }

    /// Moves a participant into room `to`, with their video state and held frame.
    fn move_to(&mut self, id: &str, to: usize) -> Result<(), MeetingError> {
        let Some(p) = self.people.get(id).copied() else {
            return Ok(());
        };
        if p.room == to {
            return Ok(());
        }
        let member = self.rooms[p.room].stream.remove(id)?;
        self.rooms[to].stream.insert(id, member)?;
        if let Some(person) = self.people.get_mut(id) {
            person.room = to;
        }
        self.emit(MeetingEvent::Join {
            participant: id.to_string(),
            from: self.rooms[p.room].info.thread_id.clone(),
            room: self.rooms[to].info.thread_id.clone(),
        });
        Ok(())
    }

    /// Creates a closed breakout room (organizer, co-organizer, manager).
    pub fn create_room(&mut self, by: &str, spec: RoomSpec) -> Result<(), MeetingError> {
        self.require(by, Operation::ManageBreakoutRooms)?;
        check_text("threadId", &spec.thread_id)?;
        check_text("displayName", &spec.display_name)?;
        if self.room_index(&spec.thread_id).is_some() {
            return Err(Refusal::DuplicateRoom(spec.thread_id).into());
        }
        if self.rooms.len() > self.options.max_breakout_rooms {
            return Err(Refusal::TooManyRooms {
                max: self.options.max_breakout_rooms,
            }
            .into());
        }
        let scene = spec.scene.unwrap_or_else(|| self.scene.clone());
        let mut stream = LiveStream::new(scene, self.options.compositor, self.options.stream)?;
        stream.set_reservation(self.options.reservation.clone())?;
        self.rooms.push(Room {
            info: BreakoutRoom {
                thread_id: spec.thread_id,
                display_name: spec.display_name,
                state: RoomState::Closed,
                auto_move_participant_to_breakout_room: spec.auto_move,
                invitees: Vec::new(),
                settings: RoomSettings::default(),
            },
            stream,
            scene_size: self.options.scene_size,
            together: None,
            last_video_us: 0,
            rendered: false,
        });
        self.emit_rooms();
        Ok(())
    }

    /// Assigns a participant to a breakout room (`None`: unassigns; organizer, co-organizer,
    /// manager). A participant in
    /// another breakout room goes back to main; if the new room is open and auto-moves, they
    /// move in.
    pub fn assign(
        &mut self,
        by: &str,
        id: &str,
        thread_id: Option<&str>,
    ) -> Result<(), MeetingError> {
        self.require(by, Operation::ManageBreakoutRooms)?;
        let p = self.person(id)?;
        let target = thread_id.map(|t| self.breakout_index(t)).transpose()?;
        for r in self.rooms.iter_mut().skip(1) {
            r.info.invitees.retain(|i| i != id);
        }
        if let Some(t) = target {
            self.rooms[t].info.invitees.push(id.to_string());
        }
        let room = target.map(|t| self.rooms[t].info.clone());
        self.emit(MeetingEvent::AssignedBreakoutRooms {
            participant: id.to_string(),
            room,
        });
        if p.room != 0 && Some(p.room) != target {
            self.move_to(id, 0)?;
        }
        if let Some(t) = target {
            let info = &self.rooms[t].info;
            if info.state == RoomState::Open && info.auto_move_participant_to_breakout_room {
                self.move_to(id, t)?;
            }
        }
        self.flush();
        Ok(())
    }

    /// Opens a breakout room (organizer, co-organizer, manager); auto-move invitees in the meeting move
    /// in. Opening an open room does nothing. An end time that has already passed is cleared
    /// (a `breakoutRoomsSettings` event says so): the reopened room runs until it is closed or
    /// given a new end time, instead of closing again at the next tick.
    pub fn open_room(&mut self, by: &str, thread_id: &str) -> Result<(), MeetingError> {
        self.require(by, Operation::ManageBreakoutRooms)?;
        let i = self.breakout_index(thread_id)?;
        if self.rooms[i].info.state == RoomState::Open {
            return Ok(());
        }
        let now = self.clock.now();
        let settings = &mut self.rooms[i].info.settings;
        if settings.room_end_time_us.is_some_and(|t| t <= now) {
            settings.room_end_time_us = None;
            let settings = *settings;
            self.emit(MeetingEvent::BreakoutRoomsSettings {
                room: thread_id.to_string(),
                settings,
            });
        }
        self.rooms[i].info.state = RoomState::Open;
        self.emit_rooms();
        if self.rooms[i].info.auto_move_participant_to_breakout_room {
            let invitees = self.rooms[i].info.invitees.clone();
            for id in invitees {
                self.move_to(&id, i)?;
            }
        }
        self.flush();
        Ok(())
    }

    /// Closes a breakout room (organizer, co-organizer, manager): everyone in it returns to main and
    /// its Together Mode ends. Closing a closed room does nothing.
    pub fn close_room(&mut self, by: &str, thread_id: &str) -> Result<(), MeetingError> {
        self.require(by, Operation::ManageBreakoutRooms)?;
        let i = self.breakout_index(thread_id)?;
        self.close(i)
    }

    fn close(&mut self, i: usize) -> Result<(), MeetingError> {
        if self.rooms[i].info.state == RoomState::Closed {
            return Ok(());
        }
        self.rooms[i].info.state = RoomState::Closed;
        self.emit_rooms();
        let inside: Vec<String> = self.rooms[i]
            .stream
            .members()
            .map(|(id, _)| id.to_string())
            .collect();
        for id in inside {
            self.move_to(&id, 0)?;
        }
        self.end_in(i);
        self.rooms[i].rendered = false;
        self.flush();
        Ok(())
    }

    /// Sets a breakout room's settings (organizer, co-organizer, manager). A room whose end time has
    /// passed closes at the next tick.
    pub fn set_room_settings(
        &mut self,
        by: &str,
        thread_id: &str,
        settings: RoomSettings,
    ) -> Result<(), MeetingError> {
        self.require(by, Operation::ManageBreakoutRooms)?;
        let i = self.breakout_index(thread_id)?;
        self.rooms[i].info.settings = settings;
        self.emit(MeetingEvent::BreakoutRoomsSettings {
            room: thread_id.to_string(),
            settings,
        });
        Ok(())
    }

    /// A participant joins an open breakout room they are assigned to (anyone); those who
    /// may manage rooms (Microsoft 365 organizers, co-organizers, managers) may join any open
    /// room.
    pub fn join_room(&mut self, id: &str, thread_id: &str) -> Result<(), MeetingError> {
        self.person(id)?;
        let i = self.breakout_index(thread_id)?;
        let info = &self.rooms[i].info;
        if info.state != RoomState::Open {
            return Err(Refusal::RoomClosed(thread_id.to_string()).into());
        }
        let manager = self.require(id, Operation::ManageBreakoutRooms).is_ok();
        if !manager && !info.invitees.iter().any(|x| x == id) {
            return Err(Refusal::NotAssigned {
                participant: id.to_string(),
                room: thread_id.to_string(),
            }
            .into());
        }
        self.move_to(id, i)?;
        self.flush();
        Ok(())
    }

    /// A participant returns from their breakout room to the main room, unless the room
    /// disables it.
    pub fn return_to_main(&mut self, id: &str) -> Result<(), MeetingError> {
        let p = self.person(id)?;
        if p.room == 0 {
            return Err(Refusal::NotInBreakoutRoom(id.to_string()).into());
        }
        let info = &self.rooms[p.room].info;
        if info.settings.disable_return_to_main_meeting {
            return Err(Refusal::ReturnToMainDisabled(info.thread_id.clone()).into());
        }
        self.move_to(id, 0)?;
        self.flush();
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // The tick

    /// Renders the next tick: rooms past their end time close; every room brings its inputs
    /// up to the tick's time (freezes, seats); idle Together Mode streams end; then every room
    /// with a running stream renders, rooms in parallel. Then the clock moves on.
    pub fn tick(&mut self) -> Result<TickInfo, MeetingError> {
        let now = self.clock.now();
        for i in 1..self.rooms.len() {
            let info = &self.rooms[i].info;
            let due = info.settings.room_end_time_us.is_some_and(|t| t <= now);
            if info.state == RoomState::Open && due {
                self.close(i)?;
            }
        }
        for room in &mut self.rooms {
            room.stream.update(now)?;
        }
        self.flush();
        let idle = self.options.idle_timeout_us;
        for i in 0..self.rooms.len() {
            let r = &mut self.rooms[i];
            if r.together.is_none() {
                continue;
            }
            if r.stream.has_live_video() {
                r.last_video_us = now;
            } else if now.saturating_sub(r.last_video_us) >= idle {
                self.end_in(i);
            }
        }
        self.rooms
            .par_iter_mut()
            .try_for_each(|r| -> Result<(), MeetingError> {
                r.rendered = r.together.is_some();
                if r.rendered {
                    r.stream.render()?;
                }
                Ok(())
            })?;
        let rendered = self.rooms.iter().filter(|r| r.rendered).count();
        let (index, time_us) = self.clock.advance();
        Ok(TickInfo {
            index,
            time_us,
            rendered,
        })
    }
}

fn check_scene_size((width, height): (u32, u32)) -> Result<(), Refusal> {
    if width == 0 || height == 0 || width > MAX_SCENE_SIZE || height > MAX_SCENE_SIZE {
        return Err(Refusal::BadSceneSize {
            width,
            height,
            max: MAX_SCENE_SIZE,
        });
    }
    Ok(())
}
