//! Meeting events and the ACS-shaped records they carry.

use serde::Serialize;

use super::identity::IdentityKind;
use crate::seating::{LayoutSkip, SeatingMap};

/// A Together Mode video stream (ACS `TogetherModeVideoStream`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamInfo {
    /// Stream id, unique within the meeting (a restarted stream gets a new id).
    pub id: u64,
    /// The room (threadId) the stream composes.
    pub room: String,
    /// Always `"Video"`.
    pub media_stream_type: &'static str,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
}

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RoomState {
    /// Participants are in (or may join) the room.
    Open,
    /// Nobody is in the room.
    Closed,
}

/// Per-room settings (ACS `BreakoutRoomsSettings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomSettings {
    /// When the room closes by itself, on the meeting clock (µs); `None`: never. (ACS
    /// `roomEndTime` is a date; the engine has only its own clock.)
    pub room_end_time_us: Option<i64>,
    /// Participants may not return to the main meeting by themselves.
    pub disable_return_to_main_meeting: bool,
}

/// A breakout room as participants see it (ACS `BreakoutRoom`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakoutRoom {
    /// The room's id.
    pub thread_id: String,
    /// The room's name.
    pub display_name: String,
    /// Open or closed.
    pub state: RoomState,
    /// Opening the room moves its invitees in.
    pub auto_move_participant_to_breakout_room: bool,
    /// Participants assigned to the room, in assignment order.
    pub invitees: Vec<String>,
    /// End time and return rules.
    pub settings: RoomSettings,
}

/// Something that happened in the meeting. Serialized with an `"event"` tag holding the ACS
/// event name (or this engine's name for events ACS lacks) and camelCase fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event")]
pub enum MeetingEvent {
    /// A participant entered the meeting (in the main room, video off).
    #[serde(rename = "participantJoined", rename_all = "camelCase")]
    ParticipantJoined {
        /// The participant's raw id.
        participant: String,
        /// Their identity kind, from the raw id.
        kind: IdentityKind,
        /// Their meeting role (ACS spelling).
        role: &'static str,
        /// The room they are in (the main room).
        room: String,
    },
    /// A participant left the meeting.
    #[serde(rename = "participantLeft", rename_all = "camelCase")]
    ParticipantLeft {
        /// The participant's raw id.
        participant: String,
        /// The room they were in.
        room: String,
    },
    /// A participant turned video on or off.
    #[serde(rename = "videoChanged", rename_all = "camelCase")]
    VideoChanged {
        /// The participant's raw id.
        participant: String,
        /// The room they are in.
        room: String,
        /// Whether video is now on.
        on: bool,
    },
    /// A participant's video froze (no new frame within the freeze timeout).
    #[serde(rename = "videoFrozen", rename_all = "camelCase")]
    VideoFrozen {
        /// The participant's raw id.
        participant: String,
        /// The room they are in.
        room: String,
    },
    /// A frozen participant's video resumed.
    #[serde(rename = "videoResumed", rename_all = "camelCase")]
    VideoResumed {
        /// The participant's raw id.
        participant: String,
        /// The room they are in.
        room: String,
    },
    /// ACS `togetherModeStreamsUpdated`: a room's Together Mode stream started or ended.
    #[serde(rename = "togetherModeStreamsUpdated", rename_all = "camelCase")]
    StreamsUpdated {
        /// The room whose stream changed.
        room: String,
        /// Streams that started.
        added: Vec<StreamInfo>,
        /// Streams that ended.
        removed: Vec<StreamInfo>,
    },
    /// ACS `togetherModeSceneUpdated`: the scene changed; the new seating map.
    #[serde(rename = "togetherModeSceneUpdated", rename_all = "camelCase")]
    SceneUpdated {
        /// The room whose scene changed.
        room: String,
        /// The new scene's id.
        scene: String,
        /// The seating map in the new scene.
        seating_map: SeatingMap,
    },
    /// ACS `togetherModeSeatingUpdated`: someone took, lost or changed a seat, or the scene
    /// size or output size changed; the new seating map.
    #[serde(rename = "togetherModeSeatingUpdated", rename_all = "camelCase")]
    SeatingUpdated {
        /// The room whose seating changed.
        room: String,
        /// The `sceneSize` box (CSS pixels) the map is for.
        scene_size: (u32, u32),
        /// The new seating map.
        seating_map: SeatingMap,
    },
    /// ACS `breakoutRooms`: the list of breakout rooms changed (created, opened, closed).
    #[serde(rename = "breakoutRooms", rename_all = "camelCase")]
    BreakoutRooms {
        /// Every breakout room, as it is now.
        rooms: Vec<BreakoutRoom>,
    },
    /// ACS `assignedBreakoutRooms`: a participant's assignment changed (`None`: unassigned).
    #[serde(rename = "assignedBreakoutRooms", rename_all = "camelCase")]
    AssignedBreakoutRooms {
        /// The participant's raw id.
        participant: String,
        /// Their assigned room, if any.
        room: Option<BreakoutRoom>,
    },
    /// ACS `breakoutRoomsSettings`: a room's settings changed.
    #[serde(rename = "breakoutRoomsSettings", rename_all = "camelCase")]
    BreakoutRoomsSettings {
        /// The room's threadId.
        room: String,
        /// Its new settings.
        settings: RoomSettings,
    },
    /// A saved seat layout was applied to a room ([`super::Meeting::apply_seat_layout`]);
    /// `skipped` lists the entries that were not (ids not in the room's seats, seats the
    /// scene lacks, moves the reservation forbids). The seating map follows in a
    /// `togetherModeSeatingUpdated` event.
    #[serde(rename = "seatLayoutApplied", rename_all = "camelCase")]
    SeatLayoutApplied {
        /// The room's threadId.
        room: String,
        /// Participants moved to (or already in) their layout seat.
        applied: Vec<String>,
        /// Entries skipped, with the reason.
        skipped: Vec<LayoutSkip>,
    },
    /// The breakout room managers changed (named, unnamed, or unnamed because a manager came
    /// back to the meeting as anything but a Microsoft 365 presenter).
    #[serde(rename = "breakoutRoomManagers", rename_all = "camelCase")]
    BreakoutRoomManagers {
        /// Every manager now, in naming order.
        managers: Vec<String>,
    },
    /// ACS `join`: a participant moved into a room (a breakout room, or back to main).
    #[serde(rename = "join", rename_all = "camelCase")]
    Join {
        /// The participant's raw id.
        participant: String,
        /// The room they left.
        from: String,
        /// The room they joined.
        room: String,
    },
}

/// An event with its place in time: sequence number (from 1, no gaps), and the tick and
/// meeting time it takes effect at (the next tick to render).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// 1, 2, 3, ...: the order every subscriber sees.
    pub seq: u64,
    /// The tick the event takes effect at.
    pub tick: u64,
    /// That tick's time (µs).
    pub time_us: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: MeetingEvent,
}
