//! The meeting runtime: one [`Meeting`] per meeting id behind a mutex, made on first
//! authenticated use (at most [`Limits::max_meetings`](super::config::Limits)), and one
//! ticking thread per meeting at the meeting's frame rate. After each tick every room that
//! rendered hands its frame to its sinks: the recorder (`--record DIR` →
//! `DIR/<meeting>/<room>.y4m`, a file made when the room first renders) and the room's
//! [`RoomSink`] (the media side's encoder). A meeting with nobody in it and no event client
//! ends after `empty_meeting_ms`; its thread stops. [`Runtime::shutdown`] stops every thread
//! and closes the recordings.
//!
//! Frames pushed by participants are stamped with the meeting clock's next tick
//! ([`Meeting::now_us`]): a frame is shown at the tick after it arrives. A meeting that cannot
//! keep up slips (its clock runs slower than the wall clock) instead of bursting ticks.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::auth::Identity;
use super::config::ServiceConfig;
use super::error::ServiceError;
use crate::compositor::CompositorOptions;
use crate::frame::{ColorSpec, Frame, FrameRef};
use crate::io::Y4mWriter;
use crate::meeting::{
    role_name, Event, IdentityKind, Meeting, MeetingEvent, MeetingOptions, Operation, Refusal,
};
use crate::scene::{Scene, SceneLimits};
use crate::seating::{CssRect, Role, SeatingMap};
use crate::stream::PushOutcome;

/// Events a slow event client may fall behind by before it is disconnected.
const EVENT_BUFFER: usize = 1024;

/// Where a room's composed frames go after each tick it renders (the media side's encoder
/// implements it). Called on the meeting's ticking thread with the meeting locked: return
/// quickly (copy or drop, never wait).
pub trait RoomSink: Send + Sync {
    /// One composed frame of `room` at `pts_us` on the meeting clock.
    fn frame(&self, room: &str, frame: FrameRef<'_>, pts_us: i64);
}

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Everyone in the meeting.
    All,
    /// These participants only (the breakout room list for those who may get it, a
    /// participant's own assignment, a room's settings for those in it).
    Only(Vec<String>),
}

/// A meeting event with its audience, as the event clients receive it.
#[derive(Debug, Clone)]
pub struct Dispatched {
    /// The event.
    pub event: Event,
    /// Who may see it.
    pub audience: Audience,
}

impl Dispatched {
    /// Whether `participant` may see it.
    pub fn visible_to(&self, participant: &str) -> bool {
        match &self.audience {
            Audience::All => true,
            Audience::Only(ids) => ids.iter().any(|i| i == participant),
        }
    }
}

/// A participant as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantInfo {
    /// Raw id.
    pub participant_id: String,
    /// Identity kind.
    pub kind: IdentityKind,
    /// Role.
    pub role: &'static str,
    /// The room (threadId) they are in.
    pub room: String,
    /// Video on.
    pub video: bool,
    /// Their seat index in the room's scene, if seated.
    pub seat: Option<usize>,
}

/// One meeting's state, behind its handle's mutex.
pub struct MeetingState {
    /// The meeting.
    pub meeting: Meeting,
    events: Receiver<Event>,
    last_seq: u64,
    /// Each participant's own `sceneSize` (the box their client shows the stream in).
    scene_sizes: HashMap<String, (u32, u32)>,
    publishers: HashSet<String>,
    viewers: usize,
    event_clients: usize,
    recorder: Option<Recorder>,
    sinks: HashMap<String, Arc<dyn RoomSink>>,
    empty_since: Option<Instant>,
    closed: bool,
}

impl std::fmt::Debug for MeetingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeetingState")
            .field("last_seq", &self.last_seq)
            .field("publishers", &self.publishers.len())
            .field("viewers", &self.viewers)
            .field("event_clients", &self.event_clients)
            .finish_non_exhaustive()
    }
}

impl MeetingState {
    /// The sequence number of the last event dispatched (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// A participant's own scene size (the library's default until they set one).
    pub fn scene_size_of(&self, participant: &str) -> (u32, u32) {
        self.scene_sizes
            .get(participant)
            .copied()
            .unwrap_or(crate::seating::DEFAULT_SCENE_SIZE)
    }

    /// Sets a participant's own scene size (1 to the library's largest side, else 400/46405).
    pub fn set_scene_size_of(
        &mut self,
        participant: &str,
        size: (u32, u32),
    ) -> Result<(), ServiceError> {
        check_scene_size(size)?;
        self.scene_sizes.insert(participant.to_string(), size);
        Ok(())
    }

    /// The room `participant` is in (the main room for someone not in the meeting).
    pub fn room_of(&self, participant: &str) -> String {
        self.meeting
            .participant(participant)
            .map(|p| p.room.to_string())
            .unwrap_or_else(|| self.meeting.main_room().to_string())
    }

    /// A room's seating map in a `size` box (404/46402 for an unknown room).
    pub fn seating_map_in(&self, room: &str, size: (u32, u32)) -> Result<SeatingMap, ServiceError> {
        check_scene_size(size)?;
        self.meeting
            .live(room)
            .map(|l| l.seating_map(size))
            .ok_or_else(|| Refusal::UnknownRoom(room.to_string()).into_service())
    }

    /// A participant as the API shows them (404/46401 when not in the meeting).
    pub fn participant_info(&self, id: &str) -> Result<ParticipantInfo, ServiceError> {
        let p = self
            .meeting
            .participant(id)
            .ok_or_else(|| Refusal::NotInMeeting(id.to_string()).into_service())?;
        Ok(ParticipantInfo {
            participant_id: id.to_string(),
            kind: p.kind,
            role: role_name(p.role),
            room: p.room.to_string(),
            video: p.video,
            seat: p.seat,
        })
    }

    /// Sends the events the meeting emitted since the last call to the event clients.
    fn dispatch(&mut self, tx: &broadcast::Sender<Arc<Dispatched>>) {
        while let Ok(event) = self.events.try_recv() {
            self.last_seq = event.seq;
            let audience = audience(&self.meeting, &event.kind);
            // No receiver is not an error: nobody listens.
            let _ = tx.send(Arc::new(Dispatched { event, audience }));
        }
    }

    /// Hands every rendered room's frame to the recorder and the room's sink.
    fn deliver(&mut self, pts_us: i64) {
        let MeetingState {
            meeting,
            recorder,
            sinks,
            ..
        } = self;
        for room in meeting.room_ids() {
            if !meeting.rendered(room) {
                continue;
            }
            let Some(frame) = meeting.output(room) else {
                continue;
            };
            if let Some(r) = recorder.as_mut() {
                r.write(room, &frame);
            }
            if let Some(sink) = sinks.get(room) {
                sink.frame(room, frame, pts_us);
            }
        }
    }
}

trait IntoService {
    fn into_service(self) -> ServiceError;
}

impl IntoService for Refusal {
    fn into_service(self) -> ServiceError {
        ServiceError::Refused(self.into())
    }
}

fn check_scene_size((width, height): (u32, u32)) -> Result<(), ServiceError> {
    let max = crate::meeting::MAX_SCENE_SIZE;
    if width == 0 || height == 0 || width > max || height > max {
        return Err(Refusal::BadSceneSize { width, height, max }.into_service());
    }
    Ok(())
}

/// Who may see an event: the breakout room list goes to those who may get it, an assignment
/// and a move to the participant concerned, a room's settings to those in it and those who
/// manage rooms; everything else to everyone.
fn audience(m: &Meeting, kind: &MeetingEvent) -> Audience {
    let managers = || -> Vec<String> {
        let op = Operation::GetBreakoutRooms;
        m.participants()
            .filter(|id| {
                m.participant(id).is_some_and(|p| {
                    op.allows_kind(p.kind)
                        && (op.allows(p.role)
                            || (p.role == Role::Presenter
                                && m.breakout_room_managers().iter().any(|x| x == id)))
                })
            })
            .map(str::to_string)
            .collect()
    };
    match kind {
        MeetingEvent::BreakoutRooms { .. } => Audience::Only(managers()),
        MeetingEvent::AssignedBreakoutRooms { participant, .. }
        | MeetingEvent::Join { participant, .. } => Audience::Only(vec![participant.clone()]),
        MeetingEvent::BreakoutRoomsSettings { room, .. } => {
            let mut ids = managers();
            ids.extend(
                m.participants()
                    .filter(|id| m.participant(id).is_some_and(|p| p.room == room))
                    .map(str::to_string),
            );
            ids.sort();
            ids.dedup();
            Audience::Only(ids)
        }
        _ => Audience::All,
    }
}

/// A seating map made for the room's output size (what the meeting's events carry: the
/// service keeps every room's `sceneSize` equal to its output size) redrawn for a `size` box:
/// the same numbers as [`crate::stream::LiveStream::seating_map`] for that box.
pub fn rescale(map: &SeatingMap, output: (u32, u32), size: (u32, u32)) -> SeatingMap {
    let (ow, oh) = (f64::from(output.0), f64::from(output.1));
    let (bw, bh) = (f64::from(size.0), f64::from(size.1));
    if ow <= 0.0 || oh <= 0.0 {
        return SeatingMap::default();
    }
    let s = (bw / ow).min(bh / oh);
    let off_x = (bw - ow * s) / 2.0;
    let off_y = (bh - oh * s) / 2.0;
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    SeatingMap(
        map.0
            .iter()
            .map(|(id, r)| {
                (
                    id.clone(),
                    CssRect {
                        top: round2(off_y + r.top * s),
                        left: round2(off_x + r.left * s),
                        width: round2(r.width * s),
                        height: round2(r.height * s),
                    },
                )
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Recording

/// Writes each room's frames to `<dir>/<room>.y4m`, opened when the room first renders.
struct Recorder {
    dir: PathBuf,
    size: (u32, u32),
    fps: u32,
    color: ColorSpec,
    rooms: HashMap<String, Option<Y4mWriter<FrameFlush>>>,
}

/// A buffered file that flushes before each `FRAME` marker, so the file on disk always ends
/// with whole frames (a reader or a crash sees every frame but the one being written).
struct FrameFlush {
    inner: BufWriter<File>,
}

impl Write for FrameFlush {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf == b"FRAME\n" {
            self.inner.flush()?;
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A file name from a threadId: characters outside `[A-Za-z0-9._-]` become `_`, and a name
/// starting with a dot gets a `_` first.
fn file_stem(thread_id: &str) -> String {
    let stem: String = thread_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.starts_with('.') {
        format!("_{stem}")
    } else {
        stem
    }
}

impl Recorder {
    fn write(&mut self, room: &str, frame: &FrameRef<'_>) {
        if !self.rooms.contains_key(room) {
            let writer = self.open(room);
            self.rooms.insert(room.to_string(), writer);
        }
        let Some(slot) = self.rooms.get_mut(room) else {
            return;
        };
        if let Some(w) = slot {
            if let Err(e) = w.write_frame(frame) {
                eprintln!(
                    "together serve: recording {room:?} in {} stopped: {e}",
                    self.dir.display()
                );
                *slot = None;
            }
        }
    }

    fn open(&self, room: &str) -> Option<Y4mWriter<FrameFlush>> {
        let mut stem = file_stem(room);
        let taken = |s: &str| self.rooms.keys().any(|r| r != room && file_stem(r) == s);
        if taken(&stem) {
            stem = format!("{stem}-{}", self.rooms.len());
        }
        let path = self.dir.join(format!("{stem}.y4m"));
        let result = std::fs::create_dir_all(&self.dir)
            .and_then(|()| File::create(&path))
            .map_err(|e| e.to_string())
            .and_then(|file| {
                let frame_bytes = (self.size.0 as usize) * (self.size.1 as usize) * 3 / 2;
                let inner = BufWriter::with_capacity(frame_bytes + 64, file);
                Y4mWriter::new(
                    FrameFlush { inner },
                    self.size.0,
                    self.size.1,
                    (self.fps, 1),
                    self.color,
                )
                .map_err(|e| e.to_string())
            });
        match result {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("together serve: cannot record to {}: {e}", path.display());
                None
            }
        }
    }

    fn finish(&mut self) {
        for (room, slot) in self.rooms.drain() {
            if let Some(w) = slot {
                if let Err(e) = w.finish() {
                    eprintln!("together serve: closing the recording of {room:?}: {e}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Meetings

/// One meeting: its state and its event channel. Lock order: the runtime's meeting table,
/// then a meeting's state.
pub struct MeetingHandle {
    id: String,
    state: Mutex<MeetingState>,
    events: broadcast::Sender<Arc<Dispatched>>,
    stop: Mutex<bool>,
    wake: Condvar,
}

impl std::fmt::Debug for MeetingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeetingHandle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MeetingHandle {
    /// The meeting id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Locks the state (a poisoned lock is taken over: the state stays consistent between
    /// calls of the library's methods).
    pub fn lock(&self) -> MutexGuard<'_, MeetingState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stop(&self) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }

    /// Waits until `deadline` or a stop; returns whether to stop.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut stop = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *stop {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stop = match self.wake.wait_timeout(stop, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// A viewer's place in a meeting's viewer count; dropping it frees the place.
#[derive(Debug)]
pub struct ViewerSlot {
    handle: Arc<MeetingHandle>,
}

impl Drop for ViewerSlot {
    fn drop(&mut self) {
        let mut st = self.handle.lock();
        st.viewers = st.viewers.saturating_sub(1);
    }
}

/// An event client's subscription: events from `seq` + 1 on. Dropping it frees the place.
#[derive(Debug)]
pub struct Subscription {
    /// The meeting.
    pub handle: Arc<MeetingHandle>,
    /// Events after the snapshot.
    pub events: broadcast::Receiver<Arc<Dispatched>>,
    /// The last event before the subscription.
    pub seq: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut st = self.handle.lock();
        st.event_clients = st.event_clients.saturating_sub(1);
    }
}

/// Every meeting of the server, and their threads.
pub struct Runtime {
    config: ServiceConfig,
    scene: Scene,
    scenes: HashMap<String, Scene>,
    options: MeetingOptions,
    meetings: Mutex<HashMap<String, Arc<MeetingHandle>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    live_threads: Arc<AtomicUsize>,
    stopping: AtomicBool,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("meetings", &self.meeting_count())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Loads the scenes and checks that a meeting can be made with these settings (so a
    /// missing selfie model is reported at start, not at the first join).
    pub fn new(config: ServiceConfig) -> Result<Self, ServiceError> {
        config
            .validate()
            .map_err(|e| ServiceError::Setup(e.to_string()))?;
        let limits = SceneLimits::default();
        let load = |spec: &str| {
            Scene::open(spec, &limits)
                .map_err(|e| ServiceError::Setup(format!("scene {spec:?}: {e}")))
        };
        let scene = load(&config.scene)?;
        let mut scenes = HashMap::new();
        for spec in &config.scenes {
            scenes.insert(spec.clone(), load(spec)?);
        }
        let size = (config.output_width, config.output_height);
        let compositor = CompositorOptions::default()
            .with_size(size.0, size.1)
            .with_segment(config.segment);
        let options = MeetingOptions::default()
            .with_compositor(compositor)
            .with_fps(config.fps, 1)
            .with_scene_size(size.0, size.1);
        Meeting::new(scene.clone(), options.clone())
            .map_err(|e| ServiceError::Setup(format!("a meeting cannot be made: {e}")))?;
        Ok(Self {
            config,
            scene,
            scenes,
            options,
            meetings: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            live_threads: Arc::new(AtomicUsize::new(0)),
            stopping: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Every room's output size.
    pub fn output_size(&self) -> (u32, u32) {
        (self.config.output_width, self.config.output_height)
    }

    /// A scene a client may change to: `builtin:NAME`, or one of the config's `scenes`.
    pub fn scene(&self, spec: &str) -> Result<Scene, ServiceError> {
        if let Some(s) = self.scenes.get(spec) {
            return Ok(s.clone());
        }
        if let Some(name) = spec.strip_prefix("builtin:") {
            return Scene::builtin(name).map_err(|_| ServiceError::UnknownScene(spec.into()));
        }
        Err(ServiceError::UnknownScene(
            spec.chars().take(128).collect::<String>(),
        ))
    }

    /// Meetings running now.
    pub fn meeting_count(&self) -> usize {
        self.table().len()
    }

    /// Ticking threads running now.
    pub fn live_threads(&self) -> usize {
        self.live_threads.load(Ordering::SeqCst)
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, Arc<MeetingHandle>>> {
        self.meetings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The meeting `id`, made (and its thread started) when `create` and it does not exist.
    pub fn meeting(
        self: &Arc<Self>,
        id: &str,
        create: bool,
    ) -> Result<Arc<MeetingHandle>, ServiceError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(ServiceError::ShuttingDown);
        }
        let mut table = self.table();
        if let Some(h) = table.get(id) {
            return Ok(h.clone());
        }
        if !create {
            return Err(Refusal::NotInMeeting(id.to_string()).into_service());
        }
        let max = self.config.limits.max_meetings;
        if table.len() >= max {
            return Err(ServiceError::Limit {
                what: "meetings",
                max,
                subcode: 46510,
            });
        }
        let mut meeting = Meeting::new(self.scene.clone(), self.options.clone())?;
        let events = meeting.subscribe();
        let recorder = self.config.record.as_ref().map(|dir| Recorder {
            dir: dir.join(id),
            size: self.output_size(),
            fps: self.config.fps,
            color: self.options.compositor.color,
            rooms: HashMap::new(),
        });
        let handle = Arc::new(MeetingHandle {
            id: id.to_string(),
            state: Mutex::new(MeetingState {
                meeting,
                events,
                last_seq: 0,
                scene_sizes: HashMap::new(),
                publishers: HashSet::new(),
                viewers: 0,
                event_clients: 0,
                recorder,
                sinks: HashMap::new(),
                empty_since: None,
                closed: false,
            }),
            events: broadcast::channel(EVENT_BUFFER).0,
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let rt = self.clone();
        let h = handle.clone();
        self.live_threads.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name(format!(
                "meeting-{}",
                id.chars().take(8).collect::<String>()
            ))
            .spawn(move || rt.tick_loop(h));
        let thread = match spawned {
            Ok(t) => t,
            Err(e) => {
                self.live_threads.fetch_sub(1, Ordering::SeqCst);
                return Err(ServiceError::Internal(format!("no meeting thread: {e}")));
            }
        };
        table.insert(id.to_string(), handle.clone());
        drop(table);
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        threads.retain(|t| !t.is_finished());
        threads.push(thread);
        Ok(handle)
    }

    /// Runs `f` on meeting `id` (made when `create`), then dispatches the events it caused.
    pub fn with_meeting<T>(
        self: &Arc<Self>,
        id: &str,
        create: bool,
        f: impl FnOnce(&mut MeetingState) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let mut f = Some(f);
        // A meeting that ended between the lookup and the lock is made again.
        for _ in 0..3 {
            let handle = self.meeting(id, create)?;
            let Some(func) = f.take() else { break };
            let mut st = handle.lock();
            if st.closed {
                drop(st);
                f = Some(func);
                continue;
            }
            let result = func(&mut st);
            st.dispatch(&handle.events);
            return result;
        }
        Err(ServiceError::Internal("the meeting kept ending".into()))
    }

    /// The caller joins the meeting (main room, video off) with the token's identity and
    /// role. Joining again changes nothing and returns the participant as they are.
    pub fn join(self: &Arc<Self>, who: &Identity) -> Result<ParticipantInfo, ServiceError> {
        let max = self.config.limits.max_participants;
        self.with_meeting(&who.meeting, true, |st| {
            if st.meeting.participant(&who.id).is_none() {
                if st.meeting.participants().count() >= max {
                    return Err(ServiceError::Limit {
                        what: "participants",
                        max,
                        subcode: 46513,
                    });
                }
                st.meeting.join_as(&who.id, who.kind, who.role)?;
            }
            st.participant_info(&who.id)
        })
    }

    /// The caller leaves the meeting.
    pub fn leave(self: &Arc<Self>, who: &Identity) -> Result<(), ServiceError> {
        self.with_meeting(&who.meeting, false, |st| {
            st.meeting.leave(&who.id)?;
            st.publishers.remove(&who.id);
            Ok(())
        })
    }

    /// The caller starts publishing video (joining first if need be): at most
    /// `max_publishers` per meeting.
    pub fn start_video(self: &Arc<Self>, who: &Identity) -> Result<(), ServiceError> {
        self.join(who)?;
        let max = self.config.limits.max_publishers;
        self.with_meeting(&who.meeting, false, |st| {
            if !st.publishers.contains(&who.id) && st.publishers.len() >= max {
                return Err(ServiceError::Limit {
                    what: "publishers",
                    max,
                    subcode: 46511,
                });
            }
            st.meeting.set_video(&who.id, true)?;
            st.publishers.insert(who.id.clone());
            Ok(())
        })
    }

    /// The caller stops publishing (video off; they stay in the meeting).
    pub fn stop_video(self: &Arc<Self>, who: &Identity) -> Result<(), ServiceError> {
        self.with_meeting(&who.meeting, false, |st| {
            st.publishers.remove(&who.id);
            if st.meeting.participant(&who.id).is_some() {
                st.meeting.set_video(&who.id, false)?;
            }
            Ok(())
        })
    }

    /// A frame of the caller's camera (copied in), shown from the meeting's next tick. The
    /// media side calls this for each decoded frame; tests call it to publish without WebRTC.
    pub fn push_frame(
        self: &Arc<Self>,
        who: &Identity,
        frame: &FrameRef<'_>,
    ) -> Result<PushOutcome, ServiceError> {
        self.with_meeting(&who.meeting, false, |st| {
            let pts = st.meeting.now_us();
            Ok(st.meeting.push_ref(&who.id, frame, pts)?)
        })
    }

    /// [`push_frame`](Self::push_frame) with an owned frame (no copy); returns a buffer to
    /// reuse for the next frame, if one came back.
    pub fn push_owned(
        self: &Arc<Self>,
        who: &Identity,
        frame: Frame,
    ) -> Result<Option<Frame>, ServiceError> {
        self.with_meeting(&who.meeting, false, |st| {
            let pts = st.meeting.now_us();
            Ok(st.meeting.push(&who.id, frame, pts)?.spare)
        })
    }

    /// Sets (or removes) the sink of a room's frames.
    pub fn set_room_sink(
        self: &Arc<Self>,
        meeting: &str,
        room: &str,
        sink: Option<Arc<dyn RoomSink>>,
    ) -> Result<(), ServiceError> {
        self.with_meeting(meeting, false, |st| {
            match sink {
                Some(s) => st.sinks.insert(room.to_string(), s),
                None => st.sinks.remove(room),
            };
            Ok(())
        })
    }

    /// A place for one more viewer of the meeting (at most `max_viewers`).
    pub fn viewer_slot(self: &Arc<Self>, meeting: &str) -> Result<ViewerSlot, ServiceError> {
        let max = self.config.limits.max_viewers;
        for _ in 0..3 {
            let handle = self.meeting(meeting, true)?;
            let mut st = handle.lock();
            if st.closed {
                continue;
            }
            if st.viewers >= max {
                return Err(ServiceError::Limit {
                    what: "viewers",
                    max,
                    subcode: 46512,
                });
            }
            st.viewers += 1;
            drop(st);
            return Ok(ViewerSlot { handle });
        }
        Err(ServiceError::Internal("the meeting kept ending".into()))
    }

    /// Subscribes an event client to meeting `id`, made if need be (at most
    /// `max_event_clients` per meeting); `snapshot` runs under the same lock, so the
    /// subscription's events follow it exactly.
    pub fn subscribe<T>(
        self: &Arc<Self>,
        id: &str,
        snapshot: impl FnOnce(&mut MeetingState) -> Result<T, ServiceError>,
    ) -> Result<(Subscription, T), ServiceError> {
        let max = self.config.limits.max_event_clients;
        let mut snapshot = Some(snapshot);
        for _ in 0..3 {
            let handle = self.meeting(id, true)?;
            let mut st = handle.lock();
            if st.closed {
                continue;
            }
            if st.event_clients >= max {
                return Err(ServiceError::Limit {
                    what: "event clients",
                    max,
                    subcode: 46514,
                });
            }
            st.dispatch(&handle.events);
            let Some(f) = snapshot.take() else { break };
            let value = f(&mut st)?;
            st.event_clients += 1;
            let seq = st.last_seq;
            let events = handle.events.subscribe();
            drop(st);
            return Ok((
                Subscription {
                    handle,
                    events,
                    seq,
                },
                value,
            ));
        }
        Err(ServiceError::Internal("the meeting kept ending".into()))
    }

    /// Stops every meeting thread (waiting for them) and closes the recordings. New requests
    /// are refused 503/46518.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.shutdown.send(true);
        let handles: Vec<_> = self.table().values().cloned().collect();
        for h in &handles {
            h.stop();
        }
        let threads: Vec<_> = self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for t in threads {
            let _ = t.join();
        }
        self.table().clear();
    }

    /// The ticking thread of one meeting.
    fn tick_loop(self: Arc<Self>, handle: Arc<MeetingHandle>) {
        let period = Duration::from_micros(1_000_000 / u64::from(self.config.fps.max(1)));
        let empty_after = Duration::from_millis(self.config.limits.empty_meeting_ms);
        let mut origin = Instant::now();
        let mut failures = 0u64;
        loop {
            let next_us = handle.lock().meeting.now_us();
            let due = origin + Duration::from_micros(u64::try_from(next_us).unwrap_or(0));
            if handle.wait_until(due) {
                break;
            }
            let now = Instant::now();
            // Behind by more than two ticks: slip instead of bursting to catch up.
            if now > due + period * 2 {
                origin = now
                    .checked_sub(Duration::from_micros(u64::try_from(next_us).unwrap_or(0)))
                    .unwrap_or(origin);
            }
            let mut st = handle.lock();
            match st.meeting.tick() {
                Ok(info) => st.deliver(info.time_us),
                Err(e) => {
                    // Logged at the 1st, 2nd, 4th, 8th, ... failure: a meeting that fails
                    // every tick does not flood the log.
                    failures += 1;
                    if failures.is_power_of_two() {
                        eprintln!(
                            "together serve: meeting {:?}: tick failed ({failures} so far): {e}",
                            handle.id
                        );
                    }
                }
            }
            st.dispatch(&handle.events);
            if st.meeting.participants().next().is_some() || st.event_clients > 0 {
                st.empty_since = None;
                continue;
            }
            let since = *st.empty_since.get_or_insert(now);
            if now.duration_since(since) < empty_after {
                continue;
            }
            // Empty and idle: end the meeting (table lock first, then the state again).
            drop(st);
            let mut table = self.table();
            let mut st = handle.lock();
            if st.meeting.participants().next().is_none() && st.event_clients == 0 {
                st.closed = true;
                if table
                    .get(&handle.id)
                    .is_some_and(|h| Arc::ptr_eq(h, &handle))
                {
                    table.remove(&handle.id);
                }
                break;
            }
        }
        let mut st = handle.lock();
        st.closed = true;
        if let Some(r) = st.recorder.as_mut() {
            r.finish();
        }
        st.sinks.clear();
        drop(st);
        self.live_threads.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescaled_maps_match_the_library() {
        let scene = Scene::builtin("auditorium").unwrap();
        let compositor = CompositorOptions::default()
            .with_size(320, 180)
            .with_segment(crate::SegmentMode::None);
        let options = MeetingOptions::default()
            .with_compositor(compositor)
            .with_scene_size(320, 180);
        let mut m = Meeting::new(scene, options).unwrap();
        for id in ["8:acs:a", "8:acs:b", "8:acs:c"] {
            m.join(id, Role::Attendee).unwrap();
            m.set_video(id, true).unwrap();
        }
        let at_output = m.seating_map("main").unwrap();
        assert_eq!(at_output.0.len(), 3);
        for size in [(320, 180), (640, 480), (1000, 300), (77, 91)] {
            let direct = m.live("main").unwrap().seating_map(size);
            assert_eq!(rescale(&at_output, (320, 180), size), direct, "{size:?}");
        }
    }

    #[test]
    fn room_file_names() {
        assert_eq!(file_stem("main"), "main");
        assert_eq!(file_stem("19:room/1"), "19_room_1");
        assert_eq!(file_stem(".."), "_..");
    }
}
