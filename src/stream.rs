//! Live timing: inputs at their own rates, one output at a fixed rate.
//!
//! Participants push frames whenever their camera delivers them (7.5 to 60 fps, jittered,
//! bursty, out of order), each with a presentation timestamp on the meeting clock, in
//! microseconds. The output ticks on a fixed grid ([`OutputClock`]). At each tick a
//! participant shows the newest frame whose timestamp is due (`pts <= tick time`) and holds it
//! until a newer one is due ([`InputBuffer`]). A participant whose newest due frame is older
//! than the freeze timeout (default 500 ms) is *frozen*, and the [`FreezePolicy`] decides what
//! its seat does: keep the last frame, dim it, or free the seat.
//!
//! [`LiveStream`] puts this together for one room: a [`Compositor`] plus its members, their
//! video state, their input buffers and a waiting line. Only members with video on get a seat
//! (as in Teams): turning video off frees the seat; turning it on takes one by the usual join
//! rules, or waits in line, in the order members became eligible, until one is free. The
//! meeting layer ([`crate::meeting`]) moves [`Member`]s between rooms with their buffers, so a
//! participant's last frame follows them into a breakout room without a gap.
//!
//! # Timing rules
//!
//! - Output tick `n` is at `origin + floor(n * 1e6 * den / num)` µs for a frame rate of
//!   `num / den`: exact on the grid, no drift, strictly increasing (rates up to 1000 fps).
//! - A frame is *late* when its timestamp is not newer than the frame shown: it is dropped
//!   (out-of-order delivery never makes the picture go back in time). A frame more than
//!   `max_lead_us` ahead of the last tick is *early* and dropped (a broken clock must not fill
//!   the queue). Frames ahead of the clock but within that lead wait in a queue of
//!   `queue_depth` frames, ordered by timestamp; when it is full the oldest waiting frame goes.
//! - Frozen means `tick time - newest due pts > freeze_timeout_us`; for a member who turned
//!   video on and has sent nothing yet, the time video went on counts as the newest frame.
//! - A new frame may have any size and pixel format: the seat re-renders from it on the next
//!   tick (the compositor's scratch adapts), so there is no black or stale frame in between.
//!
//! # Cost
//!
//! Each new due frame is copied once into the compositor (a memcpy, well under 0.1 ms for
//! 720p I420); in return the buffer keeps its own copy, which is what lets a member change
//! rooms or regain a seat without waiting for the camera. Frames are recycled through a small
//! per-member pool: in steady state nothing is allocated per frame.

use std::collections::BTreeMap;

use crate::compositor::{Compositor, CompositorOptions};
use crate::error::{ComposeError, FrameError, SeatingError};
use crate::frame::{Frame, FrameRef, PixelFormat};
use crate::framing::FramingMode;
use crate::scene::Scene;
use crate::seating::{LayoutSkip, Reservation, Role, SeatLayout, SeatingMap};
use crate::segment::SegmenterFactory;

/// Microseconds per second.
const MICROS: u128 = 1_000_000;

/// Highest output frame rate [`OutputClock`] accepts (keeps ticks at least 1 ms apart).
pub const MAX_FPS: u32 = 1000;

/// Most frames a member's spare pool keeps for recycling.
const SPARE_FRAMES: usize = 2;

/// Configuration errors of the timing layer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    /// A frame rate of zero, or above [`MAX_FPS`], or below one frame per hour.
    #[error("frame rate {num}/{den} must be between 1/3600 and {MAX_FPS} fps")]
    BadFrameRate {
        /// The rate's numerator (frames).
        num: u32,
        /// Its denominator (seconds).
        den: u32,
    },
    /// A freeze timeout or lead that is not positive.
    #[error("{what} must be positive, got {value} µs")]
    NotPositive {
        /// Which setting.
        what: &'static str,
        /// Its value, in µs.
        value: i64,
    },
    /// A queue depth of zero.
    #[error("the input queue must hold at least one frame")]
    EmptyQueue,
}

/// The fixed output grid: tick `n` is at `origin + floor(n * 1e6 * den / num)` µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputClock {
    num: u32,
    den: u32,
    origin_us: i64,
    next: u64,
}

impl OutputClock {
    /// A clock at `num / den` frames per second whose tick 0 is at `origin_us`.
    pub fn new(num: u32, den: u32, origin_us: i64) -> Result<Self, StreamError> {
        let bad = StreamError::BadFrameRate { num, den };
        if num == 0 || den == 0 {
            return Err(bad);
        }
        // num / den <= MAX_FPS and >= 1 / 3600.
        if u64::from(num) > u64::from(MAX_FPS) * u64::from(den)
            || u64::from(num) * 3600 < u64::from(den)
        {
            return Err(bad);
        }
        Ok(Self {
            num,
            den,
            origin_us,
            next: 0,
        })
    }

    /// The frame rate as `(num, den)`.
    pub fn fps(&self) -> (u32, u32) {
        (self.num, self.den)
    }

    /// The time of tick `n` in µs (saturating far beyond any real meeting).
    pub fn time_of(&self, n: u64) -> i64 {
        let offset = u128::from(n) * MICROS * u128::from(self.den) / u128::from(self.num);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.origin_us.saturating_add(offset)
    }

    /// The index of the next tick to render.
    pub fn next_tick(&self) -> u64 {
        self.next
    }

    /// The time of the next tick to render.
    pub fn now(&self) -> i64 {
        self.time_of(self.next)
    }

    /// Consumes the next tick; returns its index and time.
    pub fn advance(&mut self) -> (u64, i64) {
        let n = self.next;
        self.next = n.saturating_add(1);
        (n, self.time_of(n))
    }

    /// The first tick whose time is at or after `time_us`.
    pub fn tick_at_or_after(&self, time_us: i64) -> u64 {
        if time_us <= self.origin_us {
            return 0;
        }
        // d is a whole number of µs, so floor(n * 1e6 * den / num) >= d exactly when
        // n * 1e6 * den >= d * num: n = ceil(d * num / (1e6 * den)).
        let d = time_us.abs_diff(self.origin_us) as u128;
        let n = (d * u128::from(self.num)).div_ceil(MICROS * u128::from(self.den));
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// Pacing for a live pipeline that fell behind: skips the next tick forward to the last
    /// grid tick at or before `now_us` (never backwards). Returns how many ticks were skipped.
    /// Timestamps stay on the grid, so they stay monotonic.
    pub fn catch_up(&mut self, now_us: i64) -> u64 {
        if now_us < self.origin_us {
            return 0;
        }
        let last_due = self
            .tick_at_or_after(now_us.saturating_add(1))
            .saturating_sub(1);
        if last_due > self.next {
            let skipped = last_due - self.next;
            self.next = last_due;
            skipped
        } else {
            0
        }
    }
}

/// What a frozen participant's seat does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FreezePolicy {
    /// Keep showing the last frame.
    #[default]
    Keep,
    /// Keep the last frame, darkened to `brightness / 255` (see [`Compositor::set_dim`]).
    Dim {
        /// Brightness kept, out of 255.
        brightness: u8,
    },
    /// Free the seat; the participant takes a seat again (by the join rules) when frames
    /// resume.
    Free,
}

/// Timing settings: plain data with `with_*` setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// A participant whose newest due frame is older than this is frozen (µs). Default 500 ms.
    pub freeze_timeout_us: i64,
    /// What a frozen seat does. Default [`FreezePolicy::Keep`].
    pub policy: FreezePolicy,
    /// Frames ahead of the clock a participant may queue. Default 8.
    pub queue_depth: usize,
    /// Frames further than this ahead of the last tick are dropped (µs). Default 2 s.
    pub max_lead_us: i64,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            freeze_timeout_us: 500_000,
            policy: FreezePolicy::Keep,
            queue_depth: 8,
            max_lead_us: 2_000_000,
        }
    }
}

impl StreamOptions {
    /// Freeze timeout in µs.
    pub fn with_freeze_timeout_us(mut self, us: i64) -> Self {
        self.freeze_timeout_us = us;
        self
    }
    /// Freeze policy.
    pub fn with_policy(mut self, policy: FreezePolicy) -> Self {
        self.policy = policy;
        self
    }
    /// Queue depth.
    pub fn with_queue_depth(mut self, depth: usize) -> Self {
        self.queue_depth = depth;
        self
    }
    /// Largest lead of a frame's timestamp over the clock, in µs.
    pub fn with_max_lead_us(mut self, us: i64) -> Self {
        self.max_lead_us = us;
        self
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), StreamError> {
        if self.freeze_timeout_us <= 0 {
            return Err(StreamError::NotPositive {
                what: "freeze timeout",
                value: self.freeze_timeout_us,
            });
        }
        if self.max_lead_us <= 0 {
            return Err(StreamError::NotPositive {
                what: "max lead",
                value: self.max_lead_us,
            });
        }
        if self.queue_depth == 0 {
            return Err(StreamError::EmptyQueue);
        }
        Ok(())
    }
}

/// What became of a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued; shown once due, unless a newer frame is due first.
    Queued,
    /// Not newer than the frame already shown. Dropped. (A frame with the timestamp of a
    /// queued one replaces that one and counts as queued.)
    Late,
    /// Further ahead of the clock than `max_lead_us`. Dropped.
    Early,
    /// The participant's video is off. Dropped.
    VideoOff,
}

/// The result of a push: the outcome, and a frame the caller may reuse (the dropped frame
/// itself, or a spare from the pool), so a pipeline can recycle buffers.
#[derive(Debug)]
pub struct Pushed {
    /// What happened to the frame.
    pub outcome: PushOutcome,
    /// A buffer handed back for reuse.
    pub spare: Option<Frame>,
}

/// Counters of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputStats {
    /// Frames queued.
    pub queued: u64,
    /// Frames that became the shown frame.
    pub shown: u64,
    /// Frames dropped because they were not newer than the shown one.
    pub late: u64,
    /// Frames dropped because they were too far ahead of the clock.
    pub early: u64,
    /// Queued frames that were never shown (superseded by a newer due frame, or pushed out of
    /// a full queue).
    pub skipped: u64,
}

/// One participant's input: a small timestamp-ordered queue, the frame shown now, and spares.
#[derive(Debug)]
pub struct InputBuffer {
    /// Waiting frames, ascending pts.
    pending: Vec<(i64, Frame)>,
    shown: Option<(i64, Frame)>,
    /// The shown frame changed since the last [`InputBuffer::advance`] reported it.
    changed: bool,
    spare: Vec<Frame>,
    /// Time of the last advance (the clock as this buffer knows it).
    clock_us: i64,
    /// Counts as the newest frame until one is shown (when video went on).
    since_us: i64,
    depth: usize,
    max_lead_us: i64,
    stats: InputStats,
}

impl InputBuffer {
    /// An empty buffer; `now_us` counts as the newest frame time until a frame is shown.
    pub fn new(options: &StreamOptions, now_us: i64) -> Self {
        Self {
            pending: Vec::with_capacity(options.queue_depth),
            shown: None,
            changed: false,
            spare: Vec::with_capacity(SPARE_FRAMES),
            clock_us: now_us,
            since_us: now_us,
            depth: options.queue_depth.max(1),
            max_lead_us: options.max_lead_us,
            stats: InputStats::default(),
        }
    }

    fn recycle(&mut self, frame: Frame) {
        if self.spare.len() < SPARE_FRAMES {
            self.spare.push(frame);
        }
    }

    /// Checks a timestamp against the shown frame and the clock.
    fn classify(&mut self, pts: i64) -> Option<PushOutcome> {
        if self.shown.as_ref().is_some_and(|(p, _)| pts <= *p) {
            self.stats.late += 1;
            return Some(PushOutcome::Late);
        }
        if pts > self.clock_us.saturating_add(self.max_lead_us) {
            self.stats.early += 1;
            return Some(PushOutcome::Early);
        }
        None
    }

    /// Inserts by pts (a frame with the pts of a queued one replaces it); makes room first.
    fn insert(&mut self, pts: i64, frame: Frame) {
        self.stats.queued += 1;
        match self.pending.binary_search_by_key(&pts, |(p, _)| *p) {
            Ok(i) => {
                let old = std::mem::replace(&mut self.pending[i].1, frame);
                self.stats.skipped += 1;
                self.recycle(old);
            }
            Err(i) => {
                let mut i = i;
                if self.pending.len() >= self.depth {
                    let (_, old) = self.pending.remove(0);
                    self.stats.skipped += 1;
                    self.recycle(old);
                    i = i.saturating_sub(1);
                }
                self.pending.insert(i, (pts, frame));
            }
        }
    }

    /// Takes ownership of a frame with timestamp `pts` (µs, meeting clock).
    pub fn push(&mut self, frame: Frame, pts: i64) -> Pushed {
        if let Some(outcome) = self.classify(pts) {
            return Pushed {
                outcome,
                spare: Some(frame),
            };
        }
        self.insert(pts, frame);
        Pushed {
            outcome: PushOutcome::Queued,
            spare: self.spare.pop(),
        }
    }

    /// Copies a borrowed frame in, reusing a spare buffer when there is one.
    pub fn push_ref(&mut self, frame: &FrameRef<'_>, pts: i64) -> Result<PushOutcome, FrameError> {
        if let Some(outcome) = self.classify(pts) {
            return Ok(outcome);
        }
        let owned = match self.spare.pop() {
            Some(mut f) => {
                f.copy_from(frame)?;
                f
            }
            None => Frame::from_ref(frame)?,
        };
        self.insert(pts, owned);
        Ok(PushOutcome::Queued)
    }

    /// Moves the clock to `now_us`: the newest due frame becomes the shown one (older due
    /// frames are skipped). Returns whether the shown frame changed since the last call.
    pub fn advance(&mut self, now_us: i64) -> bool {
        self.clock_us = self.clock_us.max(now_us);
        let due = self.pending.partition_point(|(p, _)| *p <= now_us);
        if due > 0 {
            // The newest due frame is shown; older due frames are skipped. Every queued pts is
            // newer than the shown one (older pushes are refused as late), so the shown pts
            // only ever increases.
            let newest = self.pending.remove(due - 1);
            for _ in 0..due - 1 {
                let (_, f) = self.pending.remove(0);
                self.stats.skipped += 1;
                self.recycle(f);
            }
            if let Some((_, old)) = self.shown.replace(newest) {
                self.recycle(old);
            }
            self.stats.shown += 1;
            self.changed = true;
        }
        std::mem::take(&mut self.changed)
    }

    /// The frame shown now and its timestamp.
    pub fn shown(&self) -> Option<(i64, &Frame)> {
        self.shown.as_ref().map(|(p, f)| (*p, f))
    }

    /// Whether the newest due frame (or, before the first, the time video went on) is more
    /// than `timeout_us` older than `now_us`.
    pub fn is_frozen(&self, now_us: i64, timeout_us: i64) -> bool {
        let newest = self.shown.as_ref().map_or(self.since_us, |(p, _)| *p);
        now_us.saturating_sub(newest) > timeout_us
    }

    /// Drops everything queued and shown (video went off or on at `now_us`); buffers go to
    /// the spare pool.
    pub fn reset(&mut self, now_us: i64) {
        let pending = std::mem::take(&mut self.pending);
        for (_, f) in pending {
            self.recycle(f);
        }
        // Keep the queue's capacity for the next frames.
        self.pending = Vec::with_capacity(self.depth);
        if let Some((_, f)) = self.shown.take() {
            self.recycle(f);
        }
        self.changed = false;
        self.since_us = now_us;
        self.clock_us = self.clock_us.max(now_us);
    }

    /// Frames waiting to be due.
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    /// Counters.
    pub fn stats(&self) -> InputStats {
        self.stats
    }

    /// Takes a spare buffer, if the pool has one.
    pub fn take_spare(&mut self) -> Option<Frame> {
        self.spare.pop()
    }
}

/// A participant of one room's live stream: role, video state and input. Moved between rooms
/// whole by the meeting layer.
#[derive(Debug)]
pub struct Member {
    role: Role,
    video: bool,
    frozen: bool,
    input: InputBuffer,
    /// The member's own framing (`None`: the compositor's).
    framing: Option<FramingMode>,
    /// The member's own segmenters (`None`: the compositor's).
    segmenter: Option<OwnSegmenter>,
}

/// A member's own segmenter factory ([`LiveStream::set_segmenter_of`]).
#[derive(Clone)]
struct OwnSegmenter(SegmenterFactory);

impl std::fmt::Debug for OwnSegmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SegmenterFactory")
    }
}

impl Member {
    /// A member with video off.
    pub fn new(role: Role, options: &StreamOptions, now_us: i64) -> Self {
        Self {
            role,
            video: false,
            frozen: false,
            input: InputBuffer::new(options, now_us),
            framing: None,
            segmenter: None,
        }
    }
    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Whether video is on.
    pub fn video(&self) -> bool {
        self.video
    }
    /// Whether the member was frozen at the last update.
    pub fn frozen(&self) -> bool {
        self.frozen
    }
    /// The input buffer.
    pub fn input(&self) -> &InputBuffer {
        &self.input
    }
    /// The member's own framing (`None`: the compositor's; see
    /// [`LiveStream::set_framing`]).
    pub fn framing(&self) -> Option<FramingMode> {
        self.framing
    }
}

/// What changed during the last operations on a [`LiveStream`], for the meeting's events.
/// Cleared by [`LiveStream::clear_report`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StreamReport {
    /// Someone took, lost or changed a seat.
    pub seating_changed: bool,
    /// Members that froze, in order.
    pub frozen: Vec<String>,
    /// Members that resumed, in order.
    pub resumed: Vec<String>,
}

impl StreamReport {
    /// Whether anything is to report.
    pub fn is_empty(&self) -> bool {
        !self.seating_changed && self.frozen.is_empty() && self.resumed.is_empty()
    }
}

/// Errors of [`LiveStream`] operations.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Not a member of this stream.
    #[error("{0:?} is not a member of this stream")]
    NotMember(String),
    /// Already a member.
    #[error("{0:?} is already a member of this stream")]
    AlreadyMember(String),
    /// A seating rule refused the change.
    #[error(transparent)]
    Seating(#[from] SeatingError),
    /// A frame problem.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The engine failed.
    #[error(transparent)]
    Compose(ComposeError),
}

impl From<ComposeError> for LiveError {
    fn from(e: ComposeError) -> Self {
        match e {
            ComposeError::Seating(s) => LiveError::Seating(s),
            ComposeError::UnknownParticipant(id) => LiveError::NotMember(id),
            other => LiveError::Compose(other),
        }
    }
}

/// One room's live composite: a compositor, its members with their inputs, and the waiting
/// line for seats. See the module docs for the rules.
pub struct LiveStream {
    compositor: Compositor,
    options: StreamOptions,
    members: BTreeMap<String, Member>,
    /// Eligible members without a seat, in the order they became eligible.
    waiting: Vec<String>,
    output: Frame,
    report: StreamReport,
}

impl std::fmt::Debug for LiveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStream")
            .field("compositor", &self.compositor)
            .field("options", &self.options)
            .field("members", &self.members.len())
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl LiveStream {
    /// A stream of `scene` rendered with `compositor` options and timed by `options`.
    pub fn new(
        scene: Scene,
        compositor: CompositorOptions,
        options: StreamOptions,
    ) -> Result<Self, LiveError> {
        let engine = Compositor::new(scene, compositor)?;
        let output = Frame::black(
            PixelFormat::I420,
            compositor.width,
            compositor.height,
            compositor.color,
        )?;
        Ok(Self {
            compositor: engine,
            options,
            members: BTreeMap::new(),
            waiting: Vec::new(),
            output,
            report: StreamReport::default(),
        })
    }

    /// The compositor (read only: seat changes go through this type so it can track them).
    pub fn compositor(&self) -> &Compositor {
        &self.compositor
    }

    /// The compositor, for settings that do not move anyone ([`Compositor::set_segmenter`]).
    /// Do not join, leave or reseat participants through it.
    pub fn compositor_mut(&mut self) -> &mut Compositor {
        &mut self.compositor
    }

    /// The timing options.
    pub fn options(&self) -> &StreamOptions {
        &self.options
    }

    /// A member.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.get(id)
    }

    /// Every member, by id.
    pub fn members(&self) -> impl Iterator<Item = (&str, &Member)> + '_ {
        self.members.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Eligible members waiting for a free seat, in line order.
    pub fn waiting(&self) -> &[String] {
        &self.waiting
    }

    /// The seat of `id`, if seated.
    pub fn seat_of(&self, id: &str) -> Option<usize> {
        self.compositor.seating().seat_of(id)
    }

    /// What changed since the last [`clear_report`](Self::clear_report).
    pub fn report(&self) -> &StreamReport {
        &self.report
    }

    /// Forgets the report (keeps its buffers).
    pub fn clear_report(&mut self) {
        self.report.seating_changed = false;
        self.report.frozen.clear();
        self.report.resumed.clear();
    }

    fn eligible(&self, m: &Member) -> bool {
        m.video && !(m.frozen && self.options.policy == FreezePolicy::Free)
    }

    /// Adds a member (video state and input carried in `member`); seats them if eligible.
    pub fn insert(&mut self, id: &str, member: Member) -> Result<(), LiveError> {
        if self.members.contains_key(id) {
            return Err(LiveError::AlreadyMember(id.to_string()));
        }
        let eligible = self.eligible(&member);
        self.members.insert(id.to_string(), member);
        if eligible {
            self.waiting.push(id.to_string());
        }
        self.fill_seats()
    }

    /// Removes a member (freeing any seat, which the next in line takes) and hands it back
    /// with its input.
    pub fn remove(&mut self, id: &str) -> Result<Member, LiveError> {
        let member = self
            .members
            .remove(id)
            .ok_or_else(|| LiveError::NotMember(id.to_string()))?;
        self.waiting.retain(|w| w != id);
        if self.compositor.leave(id) {
            self.report.seating_changed = true;
        }
        self.fill_seats()?;
        Ok(member)
    }

    /// Turns a member's video on (takes a seat by the join rules, or waits for one) or off
    /// (frees the seat, drops the held frame). Returns whether anything changed.
    pub fn set_video(&mut self, id: &str, on: bool, now_us: i64) -> Result<bool, LiveError> {
        let m = self
            .members
            .get_mut(id)
            .ok_or_else(|| LiveError::NotMember(id.to_string()))?;
        if m.video == on {
            return Ok(false);
        }
        m.video = on;
        m.frozen = false;
        m.input.reset(now_us);
        if on {
            self.waiting.push(id.to_string());
            self.fill_seats()?;
        } else {
            self.waiting.retain(|w| w != id);
            if self.compositor.leave(id) {
                self.report.seating_changed = true;
            }
            self.fill_seats()?;
        }
        Ok(true)
    }

    /// Sets a member's own framing (`None`: the compositor's,
    /// [`CompositorOptions::framing`]). It stays with the member: applied whenever they take a
    /// seat, in this stream or another one they are moved to.
    pub fn set_framing(&mut self, id: &str, mode: Option<FramingMode>) -> Result<(), LiveError> {
        let m = self
            .members
            .get_mut(id)
            .ok_or_else(|| LiveError::NotMember(id.to_string()))?;
        m.framing = mode;
        if self.compositor.seating().seat_of(id).is_some() {
            self.compositor.set_framing(id, mode)?;
        }
        Ok(())
    }

    /// Sets how a member's seat is segmented (`None`: the compositor's; see
    /// [`Compositor::set_segmenter_of`]). It stays with the member, as their framing does.
    pub fn set_segmenter_of(
        &mut self,
        id: &str,
        factory: Option<SegmenterFactory>,
    ) -> Result<(), LiveError> {
        let m = self
            .members
            .get_mut(id)
            .ok_or_else(|| LiveError::NotMember(id.to_string()))?;
        m.segmenter = factory.clone().map(OwnSegmenter);
        if self.compositor.seating().seat_of(id).is_some() {
            self.compositor.set_segmenter_of(id, factory)?;
        }
        Ok(())
    }

    /// Hands a member's frame to its input buffer (see [`InputBuffer::push`]).
    pub fn push(&mut self, id: &str, frame: Frame, pts: i64) -> Result<Pushed, LiveError> {
        let m = self
            .members
            .get_mut(id)
            .ok_or_else(|| LiveError::NotMember(id.to_string()))?;
        if !m.video {
            return Ok(Pushed {
                outcome: PushOutcome::VideoOff,
                spare: Some(frame),
            });
        }
        Ok(m.input.push(frame, pts))
    }

    /// Copies a member's frame into its input buffer (see [`InputBuffer::push_ref`]).
    pub fn push_ref(
        &mut self,
        id: &str,
        frame: &FrameRef<'_>,
        pts: i64,
    ) -> Result<PushOutcome, LiveError> {
        let m = self
            .members
            .get_mut(id)
            .ok_or_else(|| LiveError::NotMember(id.to_string()))?;
        if !m.video {
            return Ok(PushOutcome::VideoOff);
        }
        Ok(m.input.push_ref(frame, pts)?)
    }

    /// Seats waiting members while seats are free, in line order (a full scene may still
    /// have a reserved seat for a privileged member further down the line).
    fn fill_seats(&mut self) -> Result<(), LiveError> {
        let mut i = 0;
        while i < self.waiting.len() {
            let id = &self.waiting[i];
            let Some(m) = self.members.get(id) else {
                self.waiting.remove(i);
                continue;
            };
            match self.compositor.join(id, m.role) {
                Ok(_) => {
                    self.report.seating_changed = true;
                    self.compositor.set_framing(id, m.framing)?;
                    let own = m.segmenter.as_ref().map(|s| s.0.clone());
                    self.compositor.set_segmenter_of(id, own)?;
                    if let Some((pts, frame)) = m.input.shown() {
                        self.compositor.push_ref(id, &frame.as_ref(), pts)?;
                    }
                    if m.frozen {
                        if let FreezePolicy::Dim { brightness } = self.options.policy {
                            self.compositor.set_dim(id, Some(brightness))?;
                        }
                    }
                    self.waiting.remove(i);
                }
                Err(ComposeError::Seating(SeatingError::Full(_))) => i += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Brings every member up to `now_us`: due frames go to the compositor, freeze
    /// transitions apply the policy, waiting members take free seats. Renders nothing.
    pub fn update(&mut self, now_us: i64) -> Result<(), LiveError> {
        let timeout = self.options.freeze_timeout_us;
        let policy = self.options.policy;
        for (id, m) in self.members.iter_mut() {
            if !m.video {
                continue;
            }
            let changed = m.input.advance(now_us);
            let seated = self.compositor.seating().seat_of(id).is_some();
            if changed && seated {
                if let Some((pts, frame)) = m.input.shown() {
                    self.compositor.push_ref(id, &frame.as_ref(), pts)?;
                }
            }
            let frozen = m.input.is_frozen(now_us, timeout);
            if frozen == m.frozen {
                continue;
            }
            m.frozen = frozen;
            if frozen {
                self.report.frozen.push(id.clone());
                match policy {
                    FreezePolicy::Keep => {}
                    FreezePolicy::Dim { brightness } if seated => {
                        self.compositor.set_dim(id, Some(brightness))?;
                    }
                    FreezePolicy::Dim { .. } => {}
                    FreezePolicy::Free => {
                        self.waiting.retain(|w| w != id);
                        if self.compositor.leave(id) {
                            self.report.seating_changed = true;
                        }
                    }
                }
            } else {
                self.report.resumed.push(id.clone());
                match policy {
                    FreezePolicy::Keep => {}
                    FreezePolicy::Dim { .. } if seated => self.compositor.set_dim(id, None)?,
                    FreezePolicy::Dim { .. } => {}
                    FreezePolicy::Free => {
                        if !seated {
                            self.waiting.push(id.clone());
                        }
                    }
                }
            }
        }
        self.fill_seats()
    }

    /// Whether any member has video on and is not frozen.
    pub fn has_live_video(&self) -> bool {
        self.members.values().any(|m| m.video && !m.frozen)
    }

    /// Renders one output frame into the stream's own buffer ([`output`](Self::output)).
    pub fn render(&mut self) -> Result<(), LiveError> {
        self.compositor.render_into(&mut self.output.as_mut())?;
        Ok(())
    }

    /// The last rendered frame (black before the first render).
    pub fn output(&self) -> FrameRef<'_> {
        self.output.as_ref()
    }

    /// Switches the scene. Members who keep their seat index stay; the others are re-seated
    /// by the join rules or go to the front of the line. Returns the ids left without a seat.
    pub fn set_scene(&mut self, scene: Scene) -> Result<Vec<String>, LiveError> {
        let dropped = self.compositor.set_scene(scene)?;
        self.report.seating_changed = true;
        // Back to the front of the line, in the order the compositor reported them.
        let mut line = dropped.clone();
        line.extend(self.waiting.drain(..).filter(|w| !dropped.contains(w)));
        self.waiting = line;
        // Seated members keep their (held) frames in the compositor; dim state too.
        self.fill_seats()?;
        Ok(dropped)
    }

    /// Changes the output size.
    pub fn set_output_size(&mut self, width: u32, height: u32) -> Result<(), LiveError> {
        self.compositor.set_output_size(width, height)?;
        let color = self.compositor.options().color;
        self.output = Frame::black(PixelFormat::I420, width, height, color)?;
        self.report.seating_changed = true;
        Ok(())
    }

    /// Reserves seats for organizers, co-organizers and presenters ([`Reservation`]). Nobody
    /// seated moves; members waiting take seats the change frees for them.
    pub fn set_reservation(&mut self, reservation: Reservation) -> Result<(), LiveError> {
        self.compositor.set_reservation(reservation)?;
        self.fill_seats()
    }

    /// Who sits where, as a [`SeatLayout`].
    pub fn seat_layout(&self) -> SeatLayout {
        self.compositor.seat_layout()
    }

    /// Moves seated members to the seats `layout` gives them; returns the entries skipped.
    pub fn apply_seat_layout(&mut self, layout: &SeatLayout) -> Vec<LayoutSkip> {
        let skipped = self.compositor.apply_seat_layout(layout);
        self.report.seating_changed = true;
        skipped
    }

    /// Moves a seated member to a free seat.
    pub fn assign_seat(&mut self, id: &str, seat: usize) -> Result<(), LiveError> {
        let before = self.seat_of(id);
        self.compositor.assign_seat(id, seat)?;
        if before != Some(seat) {
            self.report.seating_changed = true;
        }
        Ok(())
    }

    /// Swaps two seated members.
    pub fn swap_seats(&mut self, a: &str, b: &str) -> Result<(), LiveError> {
        self.compositor.swap_seats(a, b)?;
        if a != b {
            self.report.seating_changed = true;
        }
        Ok(())
    }

    /// The ACS seating map in a `scene_size` box.
    pub fn seating_map(&self, scene_size: (u32, u32)) -> SeatingMap {
        self.compositor.seating_map(scene_size)
    }
}
