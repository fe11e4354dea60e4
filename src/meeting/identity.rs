//! Who a participant is (from the raw id), what they may do, and the ACS-style refusals.

use serde::Serialize;

use crate::error::{ComposeError, FrameError, SeatingError, SizeError};
use crate::seating::Role;
use crate::stream::{LiveError, StreamError};

/// The kind of identity behind a raw id (MRI), which decides what a participant may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum IdentityKind {
    /// A Microsoft 365 (Teams) user: `8:orgid:…`, or the sovereign clouds' `8:gcch:…` and
    /// `8:dod:…`.
    Microsoft365,
    /// An Azure Communication Services user: `8:acs:…`, `8:gcch-acs:…`, `8:dod-acs:…`.
    CommunicationServices,
    /// A Teams visitor (anonymous Teams join): `8:teamsvisitor:…`.
    TeamsVisitor,
    /// Anything else (`8:gid:…`, phone numbers `4:…`, bots `28:…`, unknown prefixes).
    Other,
}

impl IdentityKind {
    /// The kind of a raw id, by prefix (ASCII case-insensitive).
    pub fn from_raw_id(id: &str) -> Self {
        let has = |prefix: &str| {
            id.len() >= prefix.len()
                && id
                    .get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        };
        if has("8:acs:") || has("8:gcch-acs:") || has("8:dod-acs:") {
            IdentityKind::CommunicationServices
        } else if has("8:orgid:") || has("8:gcch:") || has("8:dod:") {
            IdentityKind::Microsoft365
        } else if has("8:teamsvisitor:") {
            IdentityKind::TeamsVisitor
        } else {
            IdentityKind::Other
        }
    }

    /// The name used in JSON (`microsoft365`, `communicationServices`, `teamsVisitor`,
    /// `other`).
    pub fn name(self) -> &'static str {
        match self {
            IdentityKind::Microsoft365 => "microsoft365",
            IdentityKind::CommunicationServices => "communicationServices",
            IdentityKind::TeamsVisitor => "teamsVisitor",
            IdentityKind::Other => "other",
        }
    }

    /// Parses [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            IdentityKind::Microsoft365,
            IdentityKind::CommunicationServices,
            IdentityKind::TeamsVisitor,
            IdentityKind::Other,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// The JSON name of a role (`organizer`, `coOrganizer`, `presenter`, `attendee`).
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Organizer => "organizer",
        Role::CoOrganizer => "coOrganizer",
        Role::Presenter => "presenter",
        Role::Attendee => "attendee",
    }
}

/// Parses [`role_name`].
pub fn role_from_name(name: &str) -> Option<Role> {
    [
        Role::Organizer,
        Role::CoOrganizer,
        Role::Presenter,
        Role::Attendee,
    ]
    .into_iter()
    .find(|r| role_name(*r) == name)
}

/// An operation that needs rights: a Microsoft 365 identity and a role (see the README's
/// rights table). Every other identity kind (Communication Services users, Teams visitors,
/// others) is refused all of them: [`Operation::Start`] with 403/46306 (Communication
/// Services) or 403/46303, the others with 403/46417 ([`Refusal::Microsoft365Only`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// Start Together Mode: organizer, co-organizer, presenter.
    Start,
    /// Change the scene (Teams only in ACS): organizer, co-organizer, presenter.
    ChangeScene,
    /// Assign or swap seats, reserve seats, apply a seat layout (Teams only in ACS):
    /// organizer, co-organizer, presenter.
    ChangeSeating,
    /// Get every breakout room: organizer, co-organizer, breakout room manager.
    GetBreakoutRooms,
    /// Create, open, close and configure breakout rooms, assign participants, join any open
    /// room: organizer, co-organizer, breakout room manager.
    ManageBreakoutRooms,
    /// Name or unname breakout room managers: the organizer.
    NameBreakoutRoomManagers,
}

impl Operation {
    /// Whether an identity kind may ever do this: Microsoft 365 users only.
    pub fn allows_kind(self, kind: IdentityKind) -> bool {
        kind == IdentityKind::Microsoft365
    }

    /// Whether `role` may do this (identity kind aside, and without the rights a breakout
    /// room manager is named to: see [`Operation::allows_manager`]).
    pub fn allows(self, role: Role) -> bool {
        match self {
            Operation::Start | Operation::ChangeScene | Operation::ChangeSeating => {
                role.is_privileged()
            }
            Operation::GetBreakoutRooms | Operation::ManageBreakoutRooms => {
                matches!(role, Role::Organizer | Role::CoOrganizer)
            }
            Operation::NameBreakoutRoomManagers => role == Role::Organizer,
        }
    }

    /// Whether a breakout room manager (a presenter the organizer named) may do this:
    /// getting every room and managing them.
    pub fn allows_manager(self) -> bool {
        matches!(
            self,
            Operation::GetBreakoutRooms | Operation::ManageBreakoutRooms
        )
    }
}

/// Most breakout room managers a meeting may have (Teams' limit).
pub const MAX_BREAKOUT_ROOM_MANAGERS: usize = 10;

/// Why an operation was refused. [`code`](Self::code) and [`subcode`](Self::subcode) give the
/// ACS-style numbers: 403/46306 and 403/46303 are the ACS Together Mode codes; the 4640x-4641x
/// subcodes are this engine's own (ACS has no such operations or does not document them).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A Communication Services user tried to start Together Mode.
    #[error("{participant:?} is a Communication Services user and cannot start Together Mode")]
    CommunicationServicesUser {
        /// The participant's raw id.
        participant: String,
    },
    /// An identity kind other than Microsoft 365 tried to start Together Mode.
    #[error("{participant:?} ({kind:?}) cannot start Together Mode: Microsoft 365 users only")]
    IdentityNotAllowed {
        /// The participant's raw id.
        participant: String,
        /// Their identity kind.
        kind: IdentityKind,
    },
    /// An identity kind other than Microsoft 365 tried an operation other than start (the
    /// Teams-only ones and breakout room management): 403/46417.
    #[error("{participant:?} ({kind:?}) may not {operation:?}: Microsoft 365 users only")]
    Microsoft365Only {
        /// The participant's raw id.
        participant: String,
        /// Their identity kind.
        kind: IdentityKind,
        /// What they tried.
        operation: Operation,
    },
    /// The organizer named a participant who is not a presenter as a breakout room manager.
    #[error("{participant:?} is {} and cannot be a breakout room manager: presenters only", role_name(*role))]
    ManagerNotPresenter {
        /// The participant's raw id.
        participant: String,
        /// Their role.
        role: Role,
    },
    /// The organizer named a participant who is not a Microsoft 365 user as a breakout room
    /// manager.
    #[error(
        "{participant:?} ({kind:?}) cannot be a breakout room manager: Microsoft 365 users only"
    )]
    ManagerNotMicrosoft365 {
        /// The participant's raw id.
        participant: String,
        /// Their identity kind.
        kind: IdentityKind,
    },
    /// The meeting has its maximum of breakout room managers.
    #[error("the meeting already has {max} breakout room managers")]
    TooManyManagers {
        /// The limit.
        max: usize,
    },
    /// The participant's role does not allow the operation.
    #[error("{participant:?} with role {} may not {operation:?}", role_name(*role))]
    RoleNotAllowed {
        /// The participant's raw id.
        participant: String,
        /// Their role.
        role: Role,
        /// What they tried.
        operation: Operation,
    },
    /// No such participant in the meeting.
    #[error("{0:?} is not in the meeting")]
    NotInMeeting(String),
    /// No such room.
    #[error("no room with threadId {0:?}")]
    UnknownRoom(String),
    /// The participant is in the meeting already.
    #[error("{0:?} is already in the meeting")]
    AlreadyInMeeting(String),
    /// An empty, over-long or control-character id.
    #[error("invalid participant id {0:?}")]
    BadParticipantId(String),
    /// A scene size with a zero side or above the limit.
    #[error("scene size {width}x{height} must have sides 1..={max}")]
    BadSceneSize {
        /// The width asked for.
        width: u32,
        /// The height asked for.
        height: u32,
        /// The largest side allowed.
        max: u32,
    },
    /// A seating rule (seat taken, reserved, no such seat, not seated).
    #[error(transparent)]
    Seating(SeatingError),
    /// The participants of a seat change are not in the actor's room.
    #[error("{participant:?} is not in the same room as {by:?}")]
    DifferentRoom {
        /// Who asked for the change.
        by: String,
        /// The participant in another room.
        participant: String,
    },
    /// The meeting has its maximum of breakout rooms.
    #[error("the meeting already has {max} breakout rooms")]
    TooManyRooms {
        /// The limit.
        max: usize,
    },
    /// A room with this threadId exists.
    #[error("a room with threadId {0:?} exists")]
    DuplicateRoom(String),
    /// An empty, over-long or control-character threadId or display name.
    #[error("invalid room {field} {value:?}")]
    BadRoom {
        /// Which field: `threadId` or `displayName`.
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// The breakout room is closed.
    #[error("breakout room {0:?} is closed")]
    RoomClosed(String),
    /// The participant is not assigned to the room.
    #[error("{participant:?} is not assigned to breakout room {room:?}")]
    NotAssigned {
        /// The participant's raw id.
        participant: String,
        /// The room's threadId.
        room: String,
    },
    /// The room's settings disable returning to the main meeting.
    #[error("breakout room {0:?} does not allow returning to the main meeting")]
    ReturnToMainDisabled(String),
    /// The participant is in the main room already.
    #[error("{0:?} is not in a breakout room")]
    NotInBreakoutRoom(String),
    /// An output size the engine cannot render.
    #[error(transparent)]
    BadOutputSize(SizeError),
}

impl Refusal {
    /// The HTTP-like code: 400 bad argument, 403 not allowed, 404 not found, 409 conflict.
    pub fn code(&self) -> u16 {
        match self {
            Refusal::CommunicationServicesUser { .. }
            | Refusal::IdentityNotAllowed { .. }
            | Refusal::Microsoft365Only { .. }
            | Refusal::ManagerNotMicrosoft365 { .. }
            | Refusal::RoleNotAllowed { .. }
            | Refusal::NotAssigned { .. }
            | Refusal::ReturnToMainDisabled(_) => 403,
            Refusal::NotInMeeting(_) | Refusal::UnknownRoom(_) => 404,
            Refusal::BadParticipantId(_)
            | Refusal::BadSceneSize { .. }
            | Refusal::BadRoom { .. }
            | Refusal::BadOutputSize(_) => 400,
            Refusal::AlreadyInMeeting(_)
            | Refusal::Seating(_)
            | Refusal::DifferentRoom { .. }
            | Refusal::TooManyRooms { .. }
            | Refusal::DuplicateRoom(_)
            | Refusal::RoomClosed(_)
            | Refusal::NotInBreakoutRoom(_)
            | Refusal::ManagerNotPresenter { .. }
            | Refusal::TooManyManagers { .. } => 409,
        }
    }

    /// The subcode (see the README's table).
    pub fn subcode(&self) -> u32 {
        match self {
            Refusal::CommunicationServicesUser { .. } => 46306,
            Refusal::IdentityNotAllowed { .. } | Refusal::RoleNotAllowed { .. } => 46303,
            Refusal::NotInMeeting(_) => 46401,
            Refusal::UnknownRoom(_) => 46402,
            Refusal::AlreadyInMeeting(_) => 46403,
            Refusal::BadParticipantId(_) => 46404,
            Refusal::BadSceneSize { .. } => 46405,
            Refusal::Seating(_) => 46406,
            Refusal::DifferentRoom { .. } => 46407,
            Refusal::BadOutputSize(_) => 46408,
            Refusal::TooManyRooms { .. } => 46410,
            Refusal::DuplicateRoom(_) => 46411,
            Refusal::BadRoom { .. } => 46412,
            Refusal::RoomClosed(_) => 46413,
            Refusal::NotAssigned { .. } => 46414,
            Refusal::ReturnToMainDisabled(_) => 46415,
            Refusal::NotInBreakoutRoom(_) => 46416,
            Refusal::Microsoft365Only { .. } => 46417,
            Refusal::ManagerNotPresenter { .. } => 46418,
            Refusal::ManagerNotMicrosoft365 { .. } => 46419,
            Refusal::TooManyManagers { .. } => 46420,
        }
    }
}

/// An ACS-style refusal: `code`, `subcode` and the structured reason.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}/{subcode}: {refusal}")]
pub struct AcsError {
    /// HTTP-like status (403, ...).
    pub code: u16,
    /// ACS-style subcode (46306, ...).
    pub subcode: u32,
    /// Why.
    pub refusal: Refusal,
}

impl From<Refusal> for AcsError {
    fn from(refusal: Refusal) -> Self {
        Self {
            code: refusal.code(),
            subcode: refusal.subcode(),
            refusal,
        }
    }
}

/// Errors of meeting operations: a refusal (the caller asked for something the rules do not
/// allow; nothing changed) or an engine failure.
#[derive(Debug, thiserror::Error)]
pub enum MeetingError {
    /// Refused by the meeting's rules, with its ACS-style code.
    #[error(transparent)]
    Refused(#[from] AcsError),
    /// The compositor failed (a bad frame, a scene that cannot be laid out, ...).
    #[error(transparent)]
    Engine(#[from] ComposeError),
    /// Bad timing options.
    #[error(transparent)]
    Config(#[from] StreamError),
}

impl MeetingError {
    /// The refusal, if this is one.
    pub fn refusal(&self) -> Option<&AcsError> {
        match self {
            MeetingError::Refused(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Refusal> for MeetingError {
    fn from(r: Refusal) -> Self {
        MeetingError::Refused(r.into())
    }
}

impl From<FrameError> for MeetingError {
    fn from(e: FrameError) -> Self {
        MeetingError::Engine(e.into())
    }
}

impl From<LiveError> for MeetingError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::Seating(s) => Refusal::Seating(s).into(),
            LiveError::NotMember(id) => Refusal::NotInMeeting(id).into(),
            LiveError::AlreadyMember(id) => Refusal::AlreadyInMeeting(id).into(),
            LiveError::Frame(f) => MeetingError::Engine(f.into()),
            LiveError::Compose(c) => MeetingError::Engine(c),
        }
    }
}
