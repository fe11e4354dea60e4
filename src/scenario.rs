//! The scenario runner: plays a meeting timeline from JSON and writes one Y4M per room plus
//! `events.jsonl` (every meeting event and every refused operation with its ACS-style code).
//!
//! The schema is documented in the README ("Scenarios"); `examples/scenario.json` is an
//! example. In short:
//!
//! ```json
//! { "output": {"width": 640, "height": 360, "fps": 30}, "ticks": 90,
//!   "scene": "builtin:auditorium",
//!   "framing": "auto",
//!   "participants": [{"id": "8:orgid:olivia", "role": "organizer", "framing": "off",
//!                     "source": {"synthetic": {"seed": 1}}}],
//!   "events": [{"at": 0, "type": "join", "participant": "8:orgid:olivia"},
//!              {"at": "100ms", "type": "start", "by": "8:orgid:olivia"}] }
//! ```
//!
//! Each tick: the events due at that tick run in file order; then every participant in the
//! meeting with video on (and not paused) pushes its newest due source frame (timestamp on
//! the meeting clock); then the meeting ticks. Every room's Y4M holds one frame per tick, from
//! tick 0 (black while the room does not exist or its Together Mode stream is not running), so
//! frame `k` of every file is the same moment.
//!
//! `framing` (top level, default `auto`) is the framing of every seat
//! ([`FramingMode`]: `auto`, `off` or a crop `"x,y,w,h"` in the frame's pixels); a
//! participant's own `framing` overrides it for their seat, in whichever room they are
//! ([`Meeting::set_framing`]). A bad one is an error at load
//! ([`ScenarioError::Framing`], or [`ScenarioError::BadFraming`] naming the participant).
//!
//! `segment` (top level, default `auto`) is how every seat is cut out ([`SegmentMode`]'s
//! names); a participant's own `segment` overrides it for their seat, in whichever room they
//! are ([`Meeting::set_segmenter_of`]). A bad name is an error at load
//! ([`ScenarioError::Segment`], or [`ScenarioError::BadSegment`] naming the participant);
//! `ml` or `auto` without the selfie model fails the run before its first tick
//! ([`ScenarioError::Segmenter`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::compositor::CompositorOptions;
use crate::error::{FrameError, IoError, SceneError, SizeError};
use crate::frame::{convert, Frame, PixelFormat};
use crate::framing::{FramingMode, FramingParseError};
use crate::geometry::check_output_size;
use crate::io::{ClipSource, FrameSink, OutputSpec};
use crate::meeting::{
    role_from_name, IdentityKind, Meeting, MeetingError, MeetingOptions, RoomSettings, RoomSpec,
};
use crate::scene::{Scene, SceneLimits};
use crate::seating::{Reservation, Role, SeatLayout};
use crate::segment::{
    ModelCache, SegmentMode, SegmentModeError, SegmenterConfig, SegmenterConfigError,
    SegmenterFactory,
};
use crate::stream::{FreezePolicy, StreamError, StreamOptions};
use crate::synth::SyntheticParticipant;

/// Most ticks a scenario may run.
pub const MAX_TICKS: u64 = 1_000_000;

/// Scenario problems (the file, its sources, the output). Refused meeting operations are not
/// errors: they are logged to `events.jsonl`.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON does not match the schema.
    #[error("scenario JSON")]
    Json(#[from] serde_json::Error),
    /// An event does not match the schema.
    #[error("event {index}")]
    BadEvent {
        /// Index of the event in the `events` list, counting from 0.
        index: usize,
        /// What the JSON parser reported.
        #[source]
        source: serde_json::Error,
    },
    /// An event's `at` is malformed (a tick number, or a string like `"1500ms"` or `"1.5s"`).
    #[error("event {index}: bad time {value}")]
    BadTime {
        /// Index of the event in the `events` list, counting from 0.
        index: usize,
        /// The time as written (the event's `at`, or a room settings event's `endAt`).
        value: String,
    },
    /// An event after the last tick.
    #[error("event {index} is at tick {tick}, but the scenario has {ticks} ticks")]
    AfterEnd {
        /// Index of the event in the `events` list, counting from 0.
        index: usize,
        /// The tick the event is at.
        tick: u64,
        /// Ticks the scenario runs.
        ticks: u64,
    },
    /// A tick count of zero or above [`MAX_TICKS`].
    #[error("ticks must be 1..={MAX_TICKS}, got {0}")]
    BadTicks(u64),
    /// A participant declared twice.
    #[error("participant {0:?} is declared twice")]
    DuplicateParticipant(String),
    /// An event names a participant that is not declared.
    #[error("event {index} names undeclared participant {id:?}")]
    UnknownParticipant {
        /// Index of the event in the `events` list, counting from 0.
        index: usize,
        /// The participant id the event names.
        id: String,
    },
    /// A role name that is not organizer, coOrganizer, presenter or attendee.
    #[error("participant {id:?}: unknown role {role:?}")]
    BadRole {
        /// The participant's id.
        id: String,
        /// The role name as written.
        role: String,
    },
    /// An identity kind name that is not microsoft365, communicationServices, teamsVisitor or
    /// other.
    #[error("participant {id:?}: unknown identity kind {kind:?}")]
    BadKind {
        /// The participant's id.
        id: String,
        /// The identity kind name as written.
        kind: String,
    },
    /// A pixel format name that is not i420, i420a, nv12, rgba or bgra.
    #[error("unknown pixel format {0:?}")]
    BadFormat(String),
    /// A freeze policy that is not keep, dim or free.
    #[error("unknown freeze policy {0:?}")]
    BadPolicy(String),
    /// A `segment` that is not a segment mode's name.
    #[error("segment")]
    Segment(#[from] SegmentModeError),
    /// A `framing` that is not `auto`, `off` or a crop `x,y,w,h`.
    #[error("framing")]
    Framing(#[from] FramingParseError),
    /// A participant's own `segment` that is not a segment mode's name.
    #[error("participant {id:?}: segment")]
    BadSegment {
        /// The participant.
        id: String,
        /// Why.
        #[source]
        source: SegmentModeError,
    },
    /// A participant's own `segment` whose segmenters cannot be built (`ml` or `auto`
    /// without the selfie model).
    #[error("participant {id:?}: segment")]
    Segmenter {
        /// The participant.
        id: String,
        /// Why.
        #[source]
        source: SegmenterConfigError,
    },
    /// A participant's own `framing` that is not `auto`, `off` or a crop `x,y,w,h`.
    #[error("participant {id:?}: framing")]
    BadFraming {
        /// The participant's id.
        id: String,
        /// What was wrong with it.
        #[source]
        source: FramingParseError,
    },
    /// `changeSource` on a participant whose source is not synthetic.
    #[error("event {index}: {id:?} does not have a synthetic source")]
    NotSynthetic {
        /// Index of the event in the `events` list, counting from 0.
        index: usize,
        /// The participant id the event names.
        id: String,
    },
    /// The output size.
    #[error("output size")]
    Size(#[from] SizeError),
    /// Bad timing options.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// A scene failed to load.
    #[error("scene {spec:?}")]
    Scene {
        /// The scene as the scenario names it (a folder, a scene zip, an app package with an
        /// optional `#ID-OR-NAME`, or `builtin:NAME`).
        spec: String,
        /// Why the scene did not load.
        #[source]
        source: SceneError,
    },
    /// A participant's source failed.
    #[error("source of {id:?}")]
    Source {
        /// The participant's id.
        id: String,
        /// Why the source failed.
        #[source]
        source: IoError,
    },
    /// A frame problem.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Writing a room's video failed.
    #[error("writing {path}")]
    Sink {
        /// The room's output file.
        path: PathBuf,
        /// Why writing failed.
        #[source]
        source: IoError,
    },
    /// The meeting failed (not a refusal: an engine error).
    #[error("tick {tick}")]
    Meeting {
        /// The tick being run (0 also while the meeting starts).
        tick: u64,
        /// The meeting's error.
        #[source]
        source: MeetingError,
    },
}

// ---------------------------------------------------------------------------------------------
// The schema

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    output: OutputSpecJson,
    ticks: u64,
    #[serde(default = "default_scene")]
    scene: String,
    scene_size: Option<(u32, u32)>,
    #[serde(default)]
    freeze: FreezeJson,
    idle_timeout_ms: Option<u64>,
    /// The segment mode's name (`SegmentMode`); default `auto`.
    segment: Option<String>,
    /// Which window of each frame the seats show (`FramingMode`: `auto`, `off` or a crop
    /// `x,y,w,h`); default `auto`.
    framing: Option<String>,
    /// autoZoom override (`CompositorOptions::auto_zoom`); absent: the scene's own flag.
    auto_zoom: Option<bool>,
    /// Seats reserved for organizers, co-organizers and presenters in every room: a count
    /// (the lowest `seatingOrder`s) or a list of seat indices; default none.
    reserved_seats: Option<ReservedJson>,
    participants: Vec<ParticipantJson>,
    #[serde(default)]
    events: Vec<Value>,
}

fn default_scene() -> String {
    "builtin:auditorium".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OutputSpecJson {
    width: u32,
    height: u32,
    fps: u32,
}

impl Default for OutputSpecJson {
    fn default() -> Self {
        Self {
            width: 640,
            height: 360,
            fps: 30,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FreezeJson {
    timeout_ms: Option<u64>,
    policy: Option<String>,
    brightness: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ParticipantJson {
    id: String,
    kind: Option<String>,
    #[serde(default = "default_role")]
    role: String,
    /// This participant's own framing (overrides the file's `framing`).
    framing: Option<String>,
    /// This participant's own segment mode (overrides the file's `segment`).
    segment: Option<String>,
    source: SourceJson,
}

fn default_role() -> String {
    "attendee".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
enum SourceJson {
    Synthetic {
        seed: u64,
        #[serde(default = "default_synth_w")]
        width: u32,
        #[serde(default = "default_synth_h")]
        height: u32,
        #[serde(default = "default_fps")]
        fps: u32,
        format: Option<String>,
    },
    Clip {
        path: PathBuf,
        fps: Option<u32>,
    },
    Still {
        path: PathBuf,
        #[serde(default = "default_fps")]
        fps: u32,
    },
}

fn default_synth_w() -> u32 {
    320
}
fn default_synth_h() -> u32 {
    180
}
fn default_fps() -> u32 {
    30
}

/// A reservation as the schema spells it: a count or a list of seat indices.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ReservedJson {
    Count(usize),
    Seats(Vec<usize>),
}

impl ReservedJson {
    fn reservation(&self) -> Reservation {
        match self {
            ReservedJson::Count(n) => Reservation::Count(*n),
            ReservedJson::Seats(s) => Reservation::Seats(s.clone()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum At {
    Tick(u64),
    Time(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
enum Action {
    #[serde(rename_all = "camelCase")]
    Join {
        participant: String,
        #[serde(default = "yes")]
        video: bool,
    },
    Leave {
        participant: String,
    },
    VideoOn {
        participant: String,
    },
    VideoOff {
        participant: String,
    },
    Pause {
        participant: String,
    },
    Resume {
        participant: String,
    },
    ChangeSource {
        participant: String,
        width: Option<u32>,
        height: Option<u32>,
        format: Option<String>,
    },
    Start {
        by: String,
    },
    ChangeScene {
        by: String,
        scene: String,
    },
    SceneSize {
        room: Option<String>,
        width: u32,
        height: u32,
    },
    AssignSeat {
        by: String,
        participant: String,
        seat: usize,
    },
    SwapSeats {
        by: String,
        a: String,
        b: String,
    },
    /// Reserves seats in `by`'s room (a count, a list of seat indices, or `[]` for none).
    ReserveSeats {
        by: String,
        seats: ReservedJson,
    },
    /// Applies a saved seat layout (participant id -> seatingOrder) to `by`'s room.
    ApplySeatLayout {
        by: String,
        layout: SeatLayout,
    },
    #[serde(rename_all = "camelCase")]
    CreateRoom {
        by: String,
        thread_id: String,
        display_name: String,
        #[serde(default = "yes")]
        auto_move: bool,
        scene: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    OpenRoom {
        by: String,
        thread_id: String,
    },
    #[serde(rename_all = "camelCase")]
    CloseRoom {
        by: String,
        thread_id: String,
    },
    #[serde(rename_all = "camelCase")]
    Assign {
        by: String,
        participant: String,
        thread_id: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    RoomSettings {
        by: String,
        thread_id: String,
        end_at: Option<At>,
        #[serde(default)]
        disable_return_to_main_meeting: bool,
    },
    #[serde(rename_all = "camelCase")]
    JoinRoom {
        participant: String,
        thread_id: String,
    },
    ReturnToMain {
        participant: String,
    },
    /// The organizer names a presenter breakout room manager.
    AddBreakoutRoomManager {
        by: String,
        participant: String,
    },
    /// The organizer unnames a breakout room manager.
    RemoveBreakoutRoomManager {
        by: String,
        participant: String,
    },
}

fn yes() -> bool {
    true
}

impl Action {
    /// Every participant the action names.
    fn names(&self) -> Vec<&str> {
        match self {
            Action::Join { participant, .. }
            | Action::Leave { participant }
            | Action::VideoOn { participant }
            | Action::VideoOff { participant }
            | Action::Pause { participant }
            | Action::Resume { participant }
            | Action::ChangeSource { participant, .. }
            | Action::JoinRoom { participant, .. }
            | Action::ReturnToMain { participant } => vec![participant],
            Action::Start { by }
            | Action::ChangeScene { by, .. }
            | Action::CreateRoom { by, .. }
            | Action::OpenRoom { by, .. }
            | Action::CloseRoom { by, .. }
            | Action::RoomSettings { by, .. }
            | Action::ReserveSeats { by, .. }
            | Action::ApplySeatLayout { by, .. } => vec![by],
            Action::AssignSeat {
                by, participant, ..
            }
            | Action::Assign {
                by, participant, ..
            }
            | Action::AddBreakoutRoomManager { by, participant }
            | Action::RemoveBreakoutRoomManager { by, participant } => vec![by, participant],
            Action::SwapSeats { by, a, b } => vec![by, a, b],
            Action::SceneSize { .. } => Vec::new(),
        }
    }

    fn scene(&self) -> Option<&str> {
        match self {
            Action::ChangeScene { scene, .. } => Some(scene),
            Action::CreateRoom { scene, .. } => scene.as_deref(),
            _ => None,
        }
    }
}

fn parse_format(s: &str) -> Result<PixelFormat, ScenarioError> {
    match s {
        "i420" => Ok(PixelFormat::I420),
        "i420a" => Ok(PixelFormat::I420A),
        "nv12" => Ok(PixelFormat::Nv12),
        "rgba" => Ok(PixelFormat::Rgba),
        "bgra" => Ok(PixelFormat::Bgra),
        _ => Err(ScenarioError::BadFormat(s.to_string())),
    }
}

/// `"1500ms"`, `"1.5s"` -> µs.
fn parse_time_us(s: &str) -> Option<i64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1_000.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000_000.0)
    } else {
        return None;
    };
    let v: f64 = num.trim().parse().ok()?;
    if !(0.0..=1.0e9).contains(&v) {
        return None;
    }
    Some((v * scale).round() as i64)
}

// ---------------------------------------------------------------------------------------------
// A parsed scenario

struct ParticipantDecl {
    id: String,
    kind: IdentityKind,
    role: Role,
    /// `None`: the file's `framing`.
    framing: Option<FramingMode>,
    /// `None`: the file's `segment`.
    segment: Option<SegmentMode>,
    source: SourceJson,
}

struct TimedAction {
    index: usize,
    tick: u64,
    raw: Value,
    action: Action,
}

/// A scenario, parsed and checked, ready to run.
pub struct Scenario {
    base: PathBuf,
    width: u32,
    height: u32,
    fps: u32,
    ticks: u64,
    options: MeetingOptions,
    main_scene: String,
    scenes: HashMap<String, Scene>,
    participants: Vec<ParticipantDecl>,
    actions: Vec<TimedAction>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("size", &(self.width, self.height))
            .field("fps", &self.fps)
            .field("ticks", &self.ticks)
            .field("participants", &self.participants.len())
            .field("actions", &self.actions.len())
            .finish_non_exhaustive()
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioReport {
    /// Ticks rendered.
    pub ticks: u64,
    /// `(threadId, file)` of every room's Y4M, main first.
    pub rooms: Vec<(String, PathBuf)>,
    /// The events file.
    pub events_file: PathBuf,
    /// Meeting events written.
    pub events: u64,
    /// Refused operations written.
    pub refused: u64,
}

impl Scenario {
    /// The segment mode every room's seats use (the file's `segment`, default `auto`).
    pub fn segment(&self) -> SegmentMode {
        self.options.compositor.segment
    }

    /// The framing mode every room's seats use (the file's `framing`, default `auto`).
    pub fn framing(&self) -> FramingMode {
        self.options.compositor.framing.mode
    }

    /// The framing mode of participant `id`'s seat: their own `framing`, else the file's;
    /// `None` for an undeclared participant.
    pub fn framing_of(&self, id: &str) -> Option<FramingMode> {
        let p = self.participants.iter().find(|p| p.id == id)?;
        Some(p.framing.unwrap_or_else(|| self.framing()))
    }

    /// The segment mode of participant `id`'s seat: their own `segment`, else the file's;
    /// `None` for an undeclared participant.
    pub fn segment_of(&self, id: &str) -> Option<SegmentMode> {
        let p = self.participants.iter().find(|p| p.id == id)?;
        Some(p.segment.unwrap_or_else(|| self.segment()))
    }

    /// The autoZoom override every room uses (the file's `autoZoom`; `None` when absent: the
    /// scene's own flag).
    pub fn auto_zoom(&self) -> Option<bool> {
        self.options.compositor.auto_zoom
    }

    /// Reads and checks a scenario file; relative paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::parse(&text, &base)
    }

    /// Parses and checks scenario JSON; relative paths are relative to `base`.
    pub fn parse(json: &str, base: &Path) -> Result<Self, ScenarioError> {
        let spec: FileSpec = serde_json::from_str(json)?;
        let (w, h, fps) = (spec.output.width, spec.output.height, spec.output.fps);
        check_output_size(w, h, crate::compositor::MAX_OUTPUT)?;
        if spec.ticks == 0 || spec.ticks > MAX_TICKS {
            return Err(ScenarioError::BadTicks(spec.ticks));
        }
        let mut stream = StreamOptions::default();
        if let Some(ms) = spec.freeze.timeout_ms {
            stream.freeze_timeout_us = i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX);
        }
        let brightness = spec.freeze.brightness.unwrap_or(96);
        stream.policy = match spec.freeze.policy.as_deref() {
            None | Some("keep") => FreezePolicy::Keep,
            Some("dim") => FreezePolicy::Dim { brightness },
            Some("free") => FreezePolicy::Free,
            Some(other) => return Err(ScenarioError::BadPolicy(other.to_string())),
        };
        let segment = match &spec.segment {
            Some(name) => name.parse::<SegmentMode>()?,
            None => SegmentMode::default(),
        };
        let framing = match &spec.framing {
            Some(name) => name.parse::<FramingMode>()?,
            None => FramingMode::default(),
        };
        let mut options = MeetingOptions::default()
            .with_compositor(
                CompositorOptions::default()
                    .with_size(w, h)
                    .with_segment(segment)
                    .with_framing(framing)
                    .with_auto_zoom(spec.auto_zoom),
            )
            .with_stream(stream)
            .with_fps(fps, 1);
        if let Some(ms) = spec.idle_timeout_ms {
            options.idle_timeout_us = i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX);
        }
        if let Some((sw, sh)) = spec.scene_size {
            options.scene_size = (sw, sh);
        }
        if let Some(r) = &spec.reserved_seats {
            options.reservation = r.reservation();
        }
        let clock = crate::stream::OutputClock::new(fps, 1, 0)?;

        let mut participants: Vec<ParticipantDecl> = Vec::new();
        for p in spec.participants {
            if participants.iter().any(|q| q.id == p.id) {
                return Err(ScenarioError::DuplicateParticipant(p.id));
            }
            let role = role_from_name(&p.role).ok_or_else(|| ScenarioError::BadRole {
                id: p.id.clone(),
                role: p.role.clone(),
            })?;
            let kind = match &p.kind {
                None => IdentityKind::from_raw_id(&p.id),
                Some(k) => IdentityKind::from_name(k).ok_or_else(|| ScenarioError::BadKind {
                    id: p.id.clone(),
                    kind: k.clone(),
                })?,
            };
            let framing =
                match &p.framing {
                    None => None,
                    Some(f) => Some(f.parse::<FramingMode>().map_err(|source| {
                        ScenarioError::BadFraming {
                            id: p.id.clone(),
                            source,
                        }
                    })?),
                };
            let own_segment =
                match &p.segment {
                    None => None,
                    Some(m) => Some(m.parse::<SegmentMode>().map_err(|source| {
                        ScenarioError::BadSegment {
                            id: p.id.clone(),
                            source,
                        }
                    })?),
                };
            if let SourceJson::Synthetic {
                format: Some(f), ..
            } = &p.source
            {
                parse_format(f)?;
            }
            participants.push(ParticipantDecl {
                id: p.id,
                kind,
                role,
                framing,
                segment: own_segment,
                source: p.source,
            });
        }

        let at_tick = |index: usize, at: &At| -> Result<u64, ScenarioError> {
            match at {
                At::Tick(t) => Ok(*t),
                At::Time(s) => parse_time_us(s)
                    .map(|us| clock.tick_at_or_after(us))
                    .ok_or_else(|| ScenarioError::BadTime {
                        index,
                        value: s.clone(),
                    }),
            }
        };
        let mut scenes = HashMap::new();
        let mut load_scene = |spec: &str| -> Result<(), ScenarioError> {
            if !scenes.contains_key(spec) {
                let resolved = if spec.starts_with("builtin:") {
                    spec.to_string()
                } else {
                    base.join(spec).to_string_lossy().into_owned()
                };
                let scene = Scene::open(&resolved, &SceneLimits::default()).map_err(|source| {
                    ScenarioError::Scene {
                        spec: spec.to_string(),
                        source,
                    }
                })?;
                scenes.insert(spec.to_string(), scene);
            }
            Ok(())
        };
        load_scene(&spec.scene)?;

        let mut actions = Vec::new();
        for (index, raw) in spec.events.into_iter().enumerate() {
            let mut obj = raw.clone();
            let at = match obj.as_object_mut().and_then(|o| o.remove("at")) {
                Some(v) => {
                    serde_json::from_value::<At>(v.clone()).map_err(|_| ScenarioError::BadTime {
                        index,
                        value: v.to_string(),
                    })?
                }
                None => At::Tick(0),
            };
            let tick = at_tick(index, &at)?;
            if tick >= spec.ticks {
                return Err(ScenarioError::AfterEnd {
                    index,
                    tick,
                    ticks: spec.ticks,
                });
            }
            let mut action: Action = serde_json::from_value(obj)
                .map_err(|source| ScenarioError::BadEvent { index, source })?;
            for id in action.names() {
                if !participants.iter().any(|p| p.id == id) {
                    return Err(ScenarioError::UnknownParticipant {
                        index,
                        id: id.to_string(),
                    });
                }
            }
            if let Some(s) = action.scene() {
                load_scene(s)?;
            }
            match &mut action {
                Action::ChangeSource {
                    participant,
                    format,
                    ..
                } => {
                    let synthetic = participants.iter().any(|p| {
                        &p.id == participant && matches!(p.source, SourceJson::Synthetic { .. })
                    });
                    if !synthetic {
                        return Err(ScenarioError::NotSynthetic {
                            index,
                            id: participant.clone(),
                        });
                    }
                    if let Some(f) = format {
                        parse_format(f)?;
                    }
                }
                Action::RoomSettings {
                    end_at: Some(end), ..
                } => {
                    // Resolve now, so a bad time fails at load.
                    let t = at_tick(index, end)?;
                    *end = At::Tick(t);
                }
                _ => {}
            }
            actions.push(TimedAction {
                index,
                tick,
                raw,
                action,
            });
        }
        // Stable: file order within a tick.
        actions.sort_by_key(|a| a.tick);
        Ok(Self {
            base: base.to_path_buf(),
            width: w,
            height: h,
            fps,
            ticks: spec.ticks,
            options,
            main_scene: spec.scene,
            scenes,
            participants,
            actions,
        })
    }

    /// Plays the scenario, writing `main.y4m` (the main room's threadId), one
    /// `<threadId>.y4m` per breakout room and `events.jsonl` into `out_dir` (created if
    /// missing).
    pub fn run(&self, out_dir: &Path) -> Result<ScenarioReport, ScenarioError> {
        std::fs::create_dir_all(out_dir).map_err(|source| ScenarioError::Io {
            path: out_dir.to_path_buf(),
            source,
        })?;
        let main_scene =
            self.scenes
                .get(&self.main_scene)
                .cloned()
                .ok_or_else(|| ScenarioError::Scene {
                    spec: self.main_scene.clone(),
                    source: SceneError::UnknownBuiltin(self.main_scene.clone()),
                })?;
        // Participants' own segment modes: built once (the model loaded once for all of them).
        let mut cache = ModelCache::default();
        let mut own: Vec<Option<SegmenterFactory>> = Vec::with_capacity(self.participants.len());
        for p in &self.participants {
            let factory = match p.segment {
                None => None,
                Some(mode) => Some(
                    SegmenterConfig {
                        mode,
                        ..SegmenterConfig::default()
                    }
                    .factory_cached(&mut cache)
                    .map_err(|source| ScenarioError::Segmenter {
                        id: p.id.clone(),
                        source,
                    })?,
                ),
            };
            own.push(factory);
        }
        let mut meeting = Meeting::new(main_scene, self.options.clone())
            .map_err(|source| ScenarioError::Meeting { tick: 0, source })?;
        let rx = meeting.subscribe();
        let events_path = out_dir.join("events.jsonl");
        let file = File::create(&events_path).map_err(|source| ScenarioError::Io {
            path: events_path.clone(),
            source,
        })?;
        let mut log = Log {
            out: BufWriter::new(file),
            path: events_path.clone(),
            events: 0,
            refused: 0,
        };
        let mut sources: Vec<Source> = self
            .participants
            .iter()
            .map(|p| Source::open(p, &self.base))
            .collect::<Result<_, _>>()?;
        let mut rooms = Rooms {
            dir: out_dir.to_path_buf(),
            sinks: Vec::new(),
            black: Frame::black(
                PixelFormat::I420,
                self.width,
                self.height,
                self.options.compositor.color,
            )?,
            size: (self.width, self.height),
            fps: self.fps,
        };
        let mut next_action = 0;
        for tick in 0..self.ticks {
            rooms.open_new(&meeting, tick)?;
            while let Some(a) = self.actions.get(next_action).filter(|a| a.tick == tick) {
                next_action += 1;
                let result = self.apply(&mut meeting, &mut sources, &own, &a.action);
                log.drain(&rx)?;
                match result {
                    Ok(()) => {}
                    Err(MeetingError::Refused(e)) => log.refused(&meeting, a, &e)?,
                    Err(source) => return Err(ScenarioError::Meeting { tick, source }),
                }
                rooms.open_new(&meeting, tick)?;
            }
            let now = meeting.now_us();
            for (decl, src) in self.participants.iter().zip(sources.iter_mut()) {
                let live = meeting
                    .participant(&decl.id)
                    .is_some_and(|p| p.video && !src.paused);
                if !live {
                    continue;
                }
                if let Some((pts, frame)) = src.due(now, &decl.id)? {
                    meeting
                        .push_ref(&decl.id, &frame.as_ref(), pts)
                        .map_err(|source| ScenarioError::Meeting { tick, source })?;
                }
            }
            meeting
                .tick()
                .map_err(|source| ScenarioError::Meeting { tick, source })?;
            log.drain(&rx)?;
            rooms.write(&meeting)?;
        }
        log.out.flush().map_err(|source| ScenarioError::Io {
            path: log.path.clone(),
            source,
        })?;
        let mut files = Vec::new();
        for (thread, path, sink) in rooms.sinks {
            sink.finish().map_err(|source| ScenarioError::Sink {
                path: path.clone(),
                source,
            })?;
            files.push((thread, path));
        }
        Ok(ScenarioReport {
            ticks: self.ticks,
            rooms: files,
            events_file: events_path,
            events: log.events,
            refused: log.refused,
        })
    }

    fn apply(
        &self,
        m: &mut Meeting,
        sources: &mut [Source],
        own_segmenters: &[Option<SegmenterFactory>],
        action: &Action,
    ) -> Result<(), MeetingError> {
        let source_of = |id: &str| self.participants.iter().position(|p| p.id == id);
        match action {
            Action::Join { participant, video } => {
                let decl = self.participants.iter().find(|p| &p.id == participant);
                let (kind, role) = decl.map_or(
                    (IdentityKind::from_raw_id(participant), Role::Attendee),
                    |d| (d.kind, d.role),
                );
                m.join_as(participant, kind, role)?;
                if let Some(mode) = decl.and_then(|d| d.framing) {
                    m.set_framing(participant, Some(mode))?;
                }
                let own = source_of(participant).and_then(|i| own_segmenters.get(i));
                if let Some(factory) = own.cloned().flatten() {
                    m.set_segmenter_of(participant, Some(factory))?;
                }
                if *video {
                    m.set_video(participant, true)?;
                }
            }
            Action::Leave { participant } => m.leave(participant)?,
            Action::VideoOn { participant } => m.set_video(participant, true)?,
            Action::VideoOff { participant } => m.set_video(participant, false)?,
            Action::Pause { participant } | Action::Resume { participant } => {
                if let Some(i) = source_of(participant) {
                    sources[i].paused = matches!(action, Action::Pause { .. });
                }
            }
            Action::ChangeSource {
                participant,
                width,
                height,
                format,
            } => {
                if let Some(i) = source_of(participant) {
                    // Checked at load.
                    let format = format.as_deref().and_then(|f| parse_format(f).ok());
                    sources[i].change(*width, *height, format);
                }
            }
            Action::Start { by } => {
                m.start(by)?;
            }
            Action::ChangeScene { by, scene } => {
                if let Some(s) = self.scenes.get(scene) {
                    m.change_scene(by, s.clone())?;
                }
            }
            Action::SceneSize {
                room,
                width,
                height,
            } => {
                let room = room.clone().unwrap_or_else(|| m.main_room().to_string());
                m.set_scene_size(&room, *width, *height)?;
            }
            Action::AssignSeat {
                by,
                participant,
                seat,
            } => m.assign_seat(by, participant, *seat)?,
            Action::SwapSeats { by, a, b } => m.swap_seats(by, a, b)?,
            Action::ReserveSeats { by, seats } => {
                let reservation = match seats {
                    ReservedJson::Seats(s) if s.is_empty() => Reservation::None,
                    other => other.reservation(),
                };
                m.set_reservation(by, reservation)?;
            }
            Action::ApplySeatLayout { by, layout } => {
                m.apply_seat_layout(by, layout)?;
            }
            Action::CreateRoom {
                by,
                thread_id,
                display_name,
                auto_move,
                scene,
            } => {
                let mut spec = RoomSpec::new(thread_id, display_name).with_auto_move(*auto_move);
                if let Some(s) = scene.as_ref().and_then(|s| self.scenes.get(s)) {
                    spec = spec.with_scene(s.clone());
                }
                m.create_room(by, spec)?;
            }
            Action::OpenRoom { by, thread_id } => m.open_room(by, thread_id)?,
            Action::CloseRoom { by, thread_id } => m.close_room(by, thread_id)?,
            Action::Assign {
                by,
                participant,
                thread_id,
            } => m.assign(by, participant, thread_id.as_deref())?,
            Action::RoomSettings {
                by,
                thread_id,
                end_at,
                disable_return_to_main_meeting,
            } => {
                let clock = m.clock();
                let room_end_time_us = end_at.as_ref().map(|at| match at {
                    At::Tick(t) => clock.time_of(*t),
                    At::Time(s) => parse_time_us(s).unwrap_or(i64::MAX),
                });
                let settings = RoomSettings {
                    room_end_time_us,
                    disable_return_to_main_meeting: *disable_return_to_main_meeting,
                };
                m.set_room_settings(by, thread_id, settings)?;
            }
            Action::JoinRoom {
                participant,
                thread_id,
            } => m.join_room(participant, thread_id)?,
            Action::ReturnToMain { participant } => m.return_to_main(participant)?,
            Action::AddBreakoutRoomManager { by, participant } => {
                m.add_breakout_room_manager(by, participant)?
            }
            Action::RemoveBreakoutRoomManager { by, participant } => {
                m.remove_breakout_room_manager(by, participant)?
            }
        }
        Ok(())
    }
}

/// Loads `file` and runs it into `out_dir` (the `together scenario` command).
pub fn run_file(file: &Path, out_dir: &Path) -> Result<ScenarioReport, ScenarioError> {
    Scenario::load(file)?.run(out_dir)
}

// ---------------------------------------------------------------------------------------------
// The events log

struct Log {
    out: BufWriter<File>,
    path: PathBuf,
    events: u64,
    refused: u64,
}

impl Log {
    fn line(&mut self, v: &impl serde::Serialize) -> Result<(), ScenarioError> {
        let io = |source| ScenarioError::Io {
            path: self.path.clone(),
            source,
        };
        serde_json::to_writer(&mut self.out, v).map_err(|e| io(e.into()))?;
        self.out.write_all(b"\n").map_err(io)
    }

    fn drain(
        &mut self,
        rx: &std::sync::mpsc::Receiver<crate::meeting::Event>,
    ) -> Result<(), ScenarioError> {
        while let Ok(e) = rx.try_recv() {
            self.line(&e)?;
            self.events += 1;
        }
        Ok(())
    }

    fn refused(
        &mut self,
        m: &Meeting,
        a: &TimedAction,
        e: &crate::meeting::AcsError,
    ) -> Result<(), ScenarioError> {
        let v = serde_json::json!({
            "tick": m.clock().next_tick(),
            "timeUs": m.now_us(),
            "event": "refused",
            "index": a.index,
            "action": a.raw,
            "code": e.code,
            "subcode": e.subcode,
            "reason": e.refusal.to_string(),
        });
        self.line(&v)?;
        self.refused += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Room outputs

struct Rooms {
    dir: PathBuf,
    sinks: Vec<(String, PathBuf, FrameSink)>,
    black: Frame,
    size: (u32, u32),
    fps: u32,
}

/// A file name from a threadId: characters outside `[A-Za-z0-9._-]` become `_`.
fn file_stem(thread_id: &str) -> String {
    thread_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Rooms {
    /// Opens a Y4M for every room without one, padded with `tick` black frames.
    fn open_new(&mut self, m: &Meeting, tick: u64) -> Result<(), ScenarioError> {
        for thread in m.room_ids() {
            if self.sinks.iter().any(|(t, _, _)| t == thread) {
                continue;
            }
            let mut stem = file_stem(thread);
            if stem == "events"
                || self
                    .sinks
                    .iter()
                    .any(|(_, p, _)| p.file_stem().is_some_and(|s| s == stem.as_str()))
            {
                stem = format!("{stem}-{}", self.sinks.len());
            }
            let path = self.dir.join(format!("{stem}.y4m"));
            let err = |source| ScenarioError::Sink {
                path: path.clone(),
                source,
            };
            let mut sink = FrameSink::open(
                &OutputSpec::Y4mFile(path.clone()),
                self.size.0,
                self.size.1,
                (self.fps, 1),
                self.black.color(),
            )
            .map_err(err)?;
            for _ in 0..tick {
                sink.write(&self.black.as_ref()).map_err(err)?;
            }
            self.sinks.push((thread.to_string(), path, sink));
        }
        Ok(())
    }

    fn write(&mut self, m: &Meeting) -> Result<(), ScenarioError> {
        for (thread, path, sink) in &mut self.sinks {
            let frame = match m.output(thread) {
                Some(f) if m.rendered(thread) => f,
                _ => self.black.as_ref(),
            };
            sink.write(&frame).map_err(|source| ScenarioError::Sink {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Sources

enum SourceKind {
    Synthetic {
        seed: u64,
        person: Box<SyntheticParticipant>,
        drawn: Frame,
    },
    /// A Y4M clip or a still image.
    File(Box<ClipSource>),
}

struct Source {
    kind: SourceKind,
    fps: (u32, u32),
    format: PixelFormat,
    /// A synthetic source's frame handed to the meeting (in `format`); a file source hands
    /// over its own current frame.
    frame: Frame,
    /// Index of the last frame pushed.
    last: Option<u64>,
    paused: bool,
}

impl Source {
    fn open(p: &ParticipantDecl, base: &Path) -> Result<Self, ScenarioError> {
        let err = |source| ScenarioError::Source {
            id: p.id.clone(),
            source,
        };
        let placeholder = || Frame::new(PixelFormat::I420, 2, 2);
        Ok(match &p.source {
            SourceJson::Synthetic {
                seed,
                width,
                height,
                fps,
                format,
            } => {
                let format = format
                    .as_deref()
                    .map(parse_format)
                    .transpose()?
                    .unwrap_or(PixelFormat::I420A);
                let person = SyntheticParticipant::new(*seed, *width, *height);
                Source {
                    kind: SourceKind::Synthetic {
                        seed: *seed,
                        drawn: Frame::new(PixelFormat::I420A, person.width(), person.height())?,
                        person: Box::new(person),
                    },
                    fps: ((*fps).max(1), 1),
                    format,
                    frame: placeholder()?,
                    last: None,
                    paused: false,
                }
            }
            SourceJson::Clip { path, fps } => {
                let clip = ClipSource::y4m(base.join(path)).map_err(err)?;
                let header_fps = clip.fps().unwrap_or((default_fps(), 1));
                Source {
                    kind: SourceKind::File(Box::new(clip)),
                    fps: fps.map_or(header_fps, |f| (f.max(1), 1)),
                    format: PixelFormat::I420,
                    frame: placeholder()?,
                    last: None,
                    paused: false,
                }
            }
            SourceJson::Still { path, fps } => {
                let still = ClipSource::still(base.join(path)).map_err(err)?;
                Source {
                    fps: ((*fps).max(1), 1),
                    format: still.frame().format(),
                    kind: SourceKind::File(Box::new(still)),
                    frame: placeholder()?,
                    last: None,
                    paused: false,
                }
            }
        })
    }

    fn change(&mut self, width: Option<u32>, height: Option<u32>, format: Option<PixelFormat>) {
        if let SourceKind::Synthetic { seed, person, .. } = &mut self.kind {
            let w = width.unwrap_or(person.width());
            let h = height.unwrap_or(person.height());
            **person = SyntheticParticipant::new(*seed, w, h);
        }
        if let Some(f) = format {
            self.format = f;
        }
    }

    /// The newest source frame due at `now_us` if it was not pushed yet, with its timestamp.
    fn due(&mut self, now_us: i64, id: &str) -> Result<Option<(i64, &Frame)>, ScenarioError> {
        let (num, den) = (u128::from(self.fps.0), u128::from(self.fps.1.max(1)));
        // +1 µs: tick times are floored to whole µs, so tick n of a clock at the source's rate
        // would otherwise land just before source frame n.
        let now = u128::try_from(now_us.max(0)).unwrap_or(0) + 1;
        let index = u64::try_from(now * num / (den * 1_000_000)).unwrap_or(u64::MAX);
        if self.last == Some(index) {
            return Ok(None);
        }
        self.last = Some(index);
        let pts = i64::try_from(u128::from(index) * den * 1_000_000 / num).unwrap_or(i64::MAX);
        match &mut self.kind {
            SourceKind::Synthetic { person, drawn, .. } => {
                if self.format == PixelFormat::I420A {
                    person.render(index, &mut self.frame);
                } else {
                    person.render(index, drawn);
                    if self.frame.format() != self.format
                        || (self.frame.width(), self.frame.height())
                            != (drawn.width(), drawn.height())
                    {
                        self.frame = Frame::new(self.format, drawn.width(), drawn.height())?;
                    }
                    convert(&drawn.as_ref(), &mut self.frame.as_mut())?;
                }
            }
            SourceKind::File(file) => {
                file.seek(index).map_err(|source| ScenarioError::Source {
                    id: id.to_string(),
                    source,
                })?;
                return Ok(Some((pts, file.frame())));
            }
        }
        Ok(Some((pts, &self.frame)))
    }
}
