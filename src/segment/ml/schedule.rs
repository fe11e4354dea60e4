//! The per-seat ML segmenter and the scheduler its seats share.
//!
//! Running the network for every seat on every tick does not fit one core (49 seats x 30 fps
//! is 1470 runs a second). So the seats of one compositor share an [`MlShared`]: the model
//! (one plan per input size, built once) and a scheduler. Each seat runs the network once
//! every `period` of its ticks, at a phase given by its order of arrival, so the runs are
//! staggered evenly over the ticks; `period` is the smallest whole number that keeps the
//! measured CPU time of ML segmentation per tick, over all active seats, within
//! [`ScheduleOptions::budget_ms`] per thread times [`ScheduleOptions::threads`] (bounded by
//! [`ScheduleOptions::max_period`]): the network
//! runs (`seats / period` of them a tick) plus every seat's per-frame work (tracking,
//! refinement, colour decontamination), which grows with the seats' size. So larger seats
//! get a longer period rather than a tick that no longer fits the frame interval.
//!
//! Between runs the seat's last probability map is carried forward *tracked*: the seat's
//! motion since the run is estimated from its luma (integral projections: the row and column
//! sums of the luma are matched against those of the frame the network saw, which finds a
//! head's or body's translation at a cost of one pass over the seat) and the map is shifted by
//! it before it is scaled to half the seat's size; then the same refinement as every frame
//! (a guided filter computed on that half-size grid, guided by the current luma and applied
//! at full resolution) snaps its edges to the current frame. Computing the filter at half
//! size rather than on a seat-size mask cut the 49-seat tick's refinement cost by about half.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::frame::{Frame, FrameRef, PixelFormat, PlaneMut, PlaneRef};
use crate::geometry::Rect;
use crate::segment::clean::{CleanOptions, MatteCleaner};
use crate::segment::foreground::ForegroundPull;
use crate::segment::refine::{RefineOptions, Refiner};
use crate::segment::{Matte, SeatColour, SeatSource, SegmentInput, Segmenter};

use super::resample::Yuv420Resampler;
use super::view::{Seen, ViewPicker};
use super::{input_size_for, Backend, GraphRewrite, MlError, ModelRunner, SelfieModel};

/// How the shared scheduler runs the network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleOptions {
    /// CPU milliseconds per tick and per thread that ML segmentation may take, all seats
    /// together: the network runs plus every seat's per-frame work (tracking, refinement,
    /// colour decontamination). The default, 27 ms, leaves about 6 ms of each thread's 30 fps
    /// frame interval (33.3 ms) for compositing, so a tick stays real time on `threads`
    /// cores.
    pub budget_ms: f64,
    /// Threads the seats are segmented on (the compositor segments seats in parallel on
    /// rayon's pool): the whole tick may take `budget_ms * threads` CPU milliseconds. The
    /// default is the size of rayon's pool where the options are made (the global pool: one
    /// thread per CPU unless configured otherwise); a serial compositor, or a machine shared
    /// with other work, should say 1 or what it may use.
    pub threads: usize,
    /// Run each seat at least once every this many ticks, whatever the budget says.
    pub max_period: u32,
    /// Longer side of the network's input (multiples of 16). With `whole_frame`, the model's
    /// native input (256x256 for the general model) shrunk to fit; otherwise the seat's aspect,
    /// at most the seat's own size. 256 is the models' native scale.
    pub max_input_side: usize,
    /// Run the network on the participant's whole frame stretched to the model's native
    /// input, as MediaPipe's own pipeline does, and cut each seat's mask from that frame-level
    /// mask (through the seat's crop window). Otherwise, and for inputs that do not say where
    /// the seat comes from or whose frames are not I420/I420A, the network sees the seat.
    /// On by default: the network was trained on whole frames, and on real footage the
    /// frame-level mask follows MediaPipe's far more closely than a mask of the seat's crop.
    pub whole_frame: bool,
    /// Track the carried matte with the seat's motion (else hold it still).
    pub track_motion: bool,
    /// Motion-gated runs: a seat whose luma changed little since the network's last run on it
    /// skips its due runs, down to a minimum refresh ([`GateOptions`]); `None`: the fixed
    /// period (every due tick runs). `None` by default: on the real-footage clips the gate
    /// keeps the fidelity of the fixed period but does not halve the ML CPU time (the seats'
    /// per-frame work stays; BENCHMARKS.md, "Motion-gated runs").
    pub gate: Option<GateOptions>,
    /// Matte refinement (guided by luma) after upsampling; `None` writes the raw probability.
    pub refine: Option<RefineOptions>,
    /// Matte cleaning: only the person's main region is kept (on the mask before
    /// refinement), and the matte fades at the seat's sides and top; `None` leaves the
    /// matte as refined (see [`crate::segment::clean`]).
    pub clean: Option<CleanOptions>,
    /// How the graph is expressed for tract.
    pub rewrite: GraphRewrite,
    /// What runs the network (the native backend unless asked otherwise; [`Backend::Ort`] needs the
    /// feature `ml-ort` and the onnxruntime library).
    pub backend: Backend,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        Self {
            budget_ms: 27.0,
            threads: rayon::current_num_threads().max(1),
            max_period: 30,
            max_input_side: 256,
            whole_frame: true,
            track_motion: true,
            gate: None,
            refine: Some(RefineOptions::default()),
            clean: Some(CleanOptions::default()),
            rewrite: GraphRewrite::default(),
            backend: Backend::default(),
        }
    }
}

/// Motion-gated network runs ([`ScheduleOptions::gate`]).
///
/// Every tick the seat's luma is compared with the frame the network last saw, through what
/// motion tracking computes anyway (the integral projections: row and column sums of the
/// seat's luma): the tracked shift, the residual of the projection match after that shift
/// (the mean absolute difference of the mean-removed row and column sums, per pixel: what the
/// shift does not explain) and the change of the mean luma. A seat is *changed* once any of
/// them passed its threshold since its last run. On its due ticks (the fixed period's
/// staggered grid) a changed seat runs; an unchanged one skips, unless skipping would leave
/// more than [`max_interval`](Self::max_interval) ticks between runs. A changed seat that
/// skipped a due run since its last one may run at once (`early`): the skipped run paid for
/// it. The decision uses no clock, so a given sequence of frames and periods always gives the
/// same runs. Seats still looking for their person (the frame-level view's zoomed search) are
/// not gated, and neither are periods longer than `max_interval` (the budget allows no more
/// runs than that: every due tick runs, as without the gate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateOptions {
    /// Most ticks between a seat's runs (the minimum refresh) while the period is at most
    /// this. The default, 15, is 2 Hz at 30 fps: use [`GateOptions::for_fps`] at other rates.
    pub max_interval: u32,
    /// Residual of the projection match after the tracked shift, in luma levels per pixel,
    /// above which a seat counts as changed.
    pub residual: f32,
    /// Tracked shift, as a fraction of the seat's width (horizontally) or height
    /// (vertically), above which a seat counts as changed.
    pub shift: f32,
    /// Change of the seat's mean luma, in levels, above which a seat counts as changed.
    pub brightness: f32,
    /// Whether a changed seat that skipped a due run since its last run runs at once, before
    /// its next due tick.
    pub early: bool,
}

impl Default for GateOptions {
    fn default() -> Self {
        Self {
            max_interval: 15,
            residual: 2.0,
            shift: 0.03,
            brightness: 4.0,
            early: false,
        }
    }
}

impl GateOptions {
    /// The defaults with the minimum refresh at 2 Hz of a `fps` clock (`fps / 2` ticks, at
    /// least 1).
    pub fn for_fps(fps: f64) -> Self {
        let ticks = if fps.is_finite() && fps > 0.0 {
            (fps / 2.0).floor().clamp(1.0, f64::from(u32::MAX)) as u32
        } else {
            1
        };
        Self {
            max_interval: ticks,
            ..Self::default()
        }
    }

    /// Whether `c` (measured on a `w x h` seat) counts as a change.
    fn changed(&self, c: &Change, w: usize, h: usize) -> bool {
        // NaN thresholds count every seat as changed (no gating), never as still.
        let over = |v: f32, t: f32| v > t || t.is_nan();
        over(c.residual, self.residual)
            || over(c.brightness.abs(), self.brightness)
            || over(c.dx.unsigned_abs() as f32, self.shift * w as f32)
            || over(c.dy.unsigned_abs() as f32, self.shift * h as f32)
    }
}

/// How a seat's luma differs from the frame the network last saw, from the integral
/// projections.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Change {
    /// Tracked shift, seat pixels.
    dx: isize,
    dy: isize,
    /// The larger of the two axes' residuals after the shift, levels per pixel.
    residual: f32,
    /// Mean luma now less then, levels.
    brightness: f32,
}

/// One seat's gate ([`GateOptions`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct GateState {
    /// Ticks since the last run (this one included).
    since: u32,
    /// Whether a due run was skipped since the last run.
    saved: bool,
    /// Whether the seat changed since the last run.
    changed: bool,
}

/// What the gate decided on one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gated {
    /// Not due, no run.
    Idle,
    /// Due and run.
    Run,
    /// Due and skipped (unchanged).
    Skip,
    /// Not due, run early (changed, and a skipped run pays for it).
    Early,
    /// Past `max_interval` ticks without a run (the period's grid moved): run.
    Forced,
}

impl Gated {
    fn runs(self) -> bool {
        matches!(self, Gated::Run | Gated::Early | Gated::Forced)
    }
}

impl GateState {
    /// One tick of the gate (see [`GateOptions`]): `due` on the period's grid, `changed`
    /// this tick. A run resets the state.
    fn step(&mut self, g: &GateOptions, due: bool, period: u32, changed: bool) -> Gated {
        let max = g.max_interval.max(1);
        self.since = self.since.saturating_add(1);
        self.changed |= changed;
        let d = if period > max {
            if due {
                Gated::Run
            } else {
                Gated::Idle
            }
        } else if due {
            if self.changed || self.since.saturating_add(period) > max {
                Gated::Run
            } else {
                self.saved = true;
                Gated::Skip
            }
        } else if self.since >= max {
            Gated::Forced
        } else if g.early && self.saved && self.changed {
            Gated::Early
        } else {
            Gated::Idle
        };
        if d.runs() {
            *self = Self::default();
        }
        d
    }
}

/// Counters of the shared scheduler (since creation).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScheduleStats {
    /// Seat frames segmented.
    pub frames: u64,
    /// Network runs.
    pub runs: u64,
    /// CPU milliseconds spent in network runs (including input conversion).
    pub run_ms: f64,
    /// CPU milliseconds spent in the seats' per-frame work besides network runs (tracking,
    /// refinement, colour decontamination).
    pub frame_ms: f64,
    /// Current period (ticks between a seat's runs).
    pub period: u32,
    /// Seats currently alive.
    pub seats: usize,
    /// Due runs the gate skipped (seats that had not changed; [`GateOptions`]).
    pub skipped: u64,
    /// Runs the gate made before their due tick (changed seats; [`GateOptions::early`]).
    pub early: u64,
}

/// The model and scheduler shared by all seats of one compositor.
#[derive(Debug)]
pub struct MlShared {
    model: SelfieModel,
    options: ScheduleOptions,
    /// Plans by input size: the first one built per size, kept to fork from (never run).
    plans: Mutex<Vec<ModelRunner>>,
    /// Runners not in use, of any size. A seat takes one of its size for a run and puts it
    /// back, so the seats share as many runners as run at once (one per thread), each one's
    /// buffers and workspace warm in cache, instead of one per seat.
    idle: Mutex<Vec<ModelRunner>>,
    seats: AtomicUsize,
    next_phase: AtomicUsize,
    frames: AtomicU64,
    runs: AtomicU64,
    /// Run CPU time in microseconds.
    run_us: AtomicU64,
    /// Exponential average of one run's CPU time, in microseconds.
    cost_us: AtomicU64,
    /// Per-frame work CPU time in nanoseconds, and exponential averages per seat frame of
    /// its two parts (`segment` without the run; `decontaminate`).
    frame_ns: AtomicU64,
    segment_cost_ns: AtomicU64,
    decontaminate_cost_ns: AtomicU64,
    skipped: AtomicU64,
    early: AtomicU64,
}

impl MlShared {
    /// Shares `model` with `options`.
    pub fn new(model: SelfieModel, options: ScheduleOptions) -> Arc<Self> {
        Arc::new(Self {
            model,
            options,
            plans: Mutex::new(Vec::new()),
            idle: Mutex::new(Vec::new()),
            seats: AtomicUsize::new(0),
            next_phase: AtomicUsize::new(0),
            frames: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            run_us: AtomicU64::new(0),
            cost_us: AtomicU64::new(0),
            frame_ns: AtomicU64::new(0),
            segment_cost_ns: AtomicU64::new(0),
            decontaminate_cost_ns: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            early: AtomicU64::new(0),
        })
    }

    /// A segmenter for one seat.
    pub fn segmenter(self: &Arc<Self>) -> MlSegmenter {
        self.seats.fetch_add(1, Ordering::Relaxed);
        let phase = self.next_phase.fetch_add(1, Ordering::Relaxed) as u64;
        MlSegmenter {
            shared: Arc::clone(self),
            phase,
            tick: 0,
            input_size: None,
            last_run_ns: 0,
            resampler: Yuv420Resampler::default(),
            pull: ForegroundPull::default(),
            seat: (0, 0),
            prob: Vec::new(),
            have_prob: false,
            ref_rows: Vec::new(),
            ref_cols: Vec::new(),
            cur_rows: Vec::new(),
            cur_cols: Vec::new(),
            coarse: Vec::new(),
            coarse_size: (0, 0),
            x_taps: Vec::new(),
            y_taps: Vec::new(),
            prob_row: Vec::new(),
            refiner: self.options.refine.map(Refiner::new),
            frame_size: None,
            covers: Rect::default(),
            mirrored: false,
            shift: (0.0, 0.0),
            ran: false,
            track_window: None,
            cleaner: self.options.clean.map(MatteCleaner::new),
            whole_i420: None,
            view: ViewPicker::default(),
            map_view: Rect::default(),
            prev_prob: Vec::new(),
            prev_view: Rect::default(),
            gate: GateState::default(),
            coarse_key: None,
            run_window: None,
        }
    }

    /// A [`SegmenterFactory`](crate::segment::SegmenterFactory) of seats sharing `self`.
    pub fn factory(self: &Arc<Self>) -> crate::segment::SegmenterFactory {
        let shared = Arc::clone(self);
        Arc::new(move || Box::new(shared.segmenter()))
    }

    /// The options.
    pub fn options(&self) -> &ScheduleOptions {
        &self.options
    }

    /// Ticks between a seat's runs now.
    pub fn period(&self) -> u32 {
        let seats = self.seats.load(Ordering::Relaxed).max(1);
        let run_ms = self.cost_us.load(Ordering::Relaxed) as f64 / 1000.0;
        let frame_ms = (self.segment_cost_ns.load(Ordering::Relaxed)
            + self.decontaminate_cost_ns.load(Ordering::Relaxed)) as f64
            / 1e6;
        period_for(
            seats,
            run_ms,
            frame_ms,
            self.options.budget_ms * self.options.threads.max(1) as f64,
            self.options.max_period,
        )
    }

    /// The counters.
    pub fn stats(&self) -> ScheduleStats {
        ScheduleStats {
            frames: self.frames.load(Ordering::Relaxed),
            runs: self.runs.load(Ordering::Relaxed),
            run_ms: self.run_us.load(Ordering::Relaxed) as f64 / 1000.0,
            frame_ms: self.frame_ns.load(Ordering::Relaxed) as f64 / 1e6,
            period: self.period(),
            seats: self.seats.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            early: self.early.load(Ordering::Relaxed),
        }
    }

    /// Plans the network for a `w x h` input unless that is done (~0.1 s, once per size);
    /// returns the plans, locked, and that size's index.
    fn plan(
        &self,
        w: usize,
        h: usize,
    ) -> Result<(std::sync::MutexGuard<'_, Vec<ModelRunner>>, usize), MlError> {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        let i = match plans.iter().position(|r| r.width() == w && r.height() == h) {
            Some(i) => i,
            None => {
                let r = self
                    .model
                    .runner_on(self.options.backend, w, h, self.options.rewrite)?;
                plans.push(r);
                plans.len() - 1
            }
        };
        Ok((plans, i))
    }

    /// An idle runner for `w x h`, or a new fork of that size's plan when all are busy.
    fn take_runner(&self, w: usize, h: usize) -> Result<ModelRunner, MlError> {
        {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = idle.iter().rposition(|r| r.width() == w && r.height() == h) {
                return Ok(idle.swap_remove(i));
            }
        }
        let (plans, i) = self.plan(w, h)?;
        plans[i].fork()
    }

    /// Returns a runner taken with [`take_runner`](Self::take_runner).
    fn put_runner(&self, runner: ModelRunner) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(runner);
    }

    fn record_run(&self, us: u64) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.run_us.fetch_add(us, Ordering::Relaxed);
        average(&self.cost_us, us, 8);
    }

    /// Per-frame work of one seat frame besides the run (`part`: one of the two averages).
    fn record_frame(&self, part: &AtomicU64, ns: u64) {
        self.frame_ns.fetch_add(ns, Ordering::Relaxed);
        // Every seat reports every tick: a longer average than the runs'.
        average(part, ns, 32);
    }
}

/// One seat's ML segmenter (see the module docs). Make them with [`MlShared::segmenter`].
#[derive(Debug)]
pub struct MlSegmenter {
    shared: Arc<MlShared>,
    phase: u64,
    tick: u64,
    /// The network's input size for this seat, once planned (`None`: reset before use).
    input_size: Option<(usize, usize)>,
    /// CPU time of the run made in the current `segment` call (0 if none).
    last_run_ns: u64,
    /// The seat's planes to the network's input.
    resampler: Yuv420Resampler,
    /// Colour decontamination's scratch.
    pull: ForegroundPull,
    /// Seat size the state is for.
    seat: (usize, usize),
    /// The last probability map (runner size) and whether there is one.
    prob: Vec<f32>,
    have_prob: bool,
    /// Luma row and column sums of the frame the network last saw, and of the current one.
    ref_rows: Vec<u32>,
    ref_cols: Vec<u32>,
    cur_rows: Vec<u32>,
    cur_cols: Vec<u32>,
    /// The carried mask before refinement: at half the seat's size when refined (the guided
    /// filter is computed on that grid and applied at full resolution), else at seat size.
    coarse: Vec<u8>,
    /// The coarse mask's size.
    coarse_size: (usize, usize),
    /// Per coarse column: the two probability-map columns and the weight of the second.
    x_taps: Vec<(u32, u32, f32)>,
    /// Per coarse row, the same (whole-frame view only; the seat view computes row taps as
    /// it goes).
    y_taps: Vec<(u32, u32, f32)>,
    /// One probability-map row, interpolated vertically.
    prob_row: Vec<f32>,
    refiner: Option<Refiner>,
    /// The source frame's size when the network sees the whole frame; `None`: it sees the
    /// seat.
    frame_size: Option<(u32, u32)>,
    /// What the probability map covers (see [`NetworkMask::covers`]).
    covers: Rect,
    /// Whether the map runs right to left over `covers`.
    mirrored: bool,
    /// Motion the carried map is moved by on this frame, in source pixels.
    shift: (f32, f32),
    /// Whether the network ran on this frame.
    ran: bool,
    /// The crop window motion is tracked in (whole-frame view).
    track_window: Option<Rect>,
    cleaner: Option<MatteCleaner>,
    /// The source frame as I420, for sources in another format (NV12, RGBA, BGRA): converted
    /// on the ticks the network runs (reallocated only when the frame's size changes).
    whole_i420: Option<Frame>,
    /// Which part of the frame the network sees next (frame-level view; [`super::view`]).
    view: ViewPicker,
    /// The part of the frame the probability map covers (frame-level view), in frame pixels.
    map_view: Rect,
    /// The map before the last run, and what it covers.
    prev_prob: Vec<f32>,
    prev_view: Rect,
    /// The motion gate's state ([`GateOptions`]).
    gate: GateState,
    /// What the coarse mask was last made from (`None`: nothing, or a map made since).
    coarse_key: Option<CoarseKey>,
    /// The seat's crop window on the frame of the last run.
    run_window: Option<Rect>,
}

/// What a seat's coarse mask is made from besides the map ([`MlSegmenter::coarse_key`]).
#[derive(Debug, Clone, Copy, PartialEq)]
struct CoarseKey {
    /// The tracked motion, seat pixels.
    shift: (isize, isize),
    /// The seat's crop window and mirroring.
    window: Option<(Rect, bool)>,
    /// What the map covers (frame-level view).
    map_view: Rect,
}

/// A seat's network mask as carried onto the current frame, before refinement: the last
/// probability map the network made for the seat, moved by the motion tracked since. It is
/// what the fidelity measure ([`super::fidelity`]) compares with MediaPipe's own mask.
#[derive(Debug, Clone, Copy)]
pub struct NetworkMask<'a> {
    /// Person probability in `[0, 1]`, `width x height`, row-major.
    pub prob: &'a [f32],
    /// Width of `prob`.
    pub width: usize,
    /// Height of `prob`.
    pub height: usize,
    /// The part of the source frame the map covers, in the frame's pixels: the whole frame
    /// when the network saw the whole frame, else the seat's crop window (in seat pixels
    /// when the segmenter was given no [`SeatSource`]).
    pub covers: Rect,
    /// Whether the map runs right to left over `covers` (a mirrored seat's own view).
    pub mirrored: bool,
    /// The motion the map is moved by on this frame, in the same pixels as `covers`
    /// (`(0, 0)` on frames the network ran).
    pub shift: (f32, f32),
    /// Whether the network ran on this frame.
    pub ran: bool,
}

impl NetworkMask<'_> {
    /// The probability at position `(x, y)` of the source frame (continuous coordinates: the
    /// centre of pixel `i` is `i + 0.5`), interpolated bilinearly with half-pixel centres;
    /// `None` outside [`covers`](Self::covers).
    pub fn at(&self, x: f32, y: f32) -> Option<f32> {
        let c = self.covers;
        if c.is_empty() || self.width == 0 || self.height == 0 {
            return None;
        }
        let (ox, oy) = (x - c.x as f32, y - c.y as f32);
        if !(0.0..=c.width as f32).contains(&ox) || !(0.0..=c.height as f32).contains(&oy) {
            return None;
        }
        // The map moved by the tracked motion: read it where the content came from.
        let mut u = (ox - self.shift.0) / c.width as f32;
        let v = (oy - self.shift.1) / c.height as f32;
        if self.mirrored {
            u = 1.0 - u;
        }
        let (x0, x1, fx) = tap_at(u * self.width as f32 - 0.5, self.width);
        let (y0, y1, fy) = tap_at(v * self.height as f32 - 0.5, self.height);
        let p = |yy: u32, xx: u32| self.prob[yy as usize * self.width + xx as usize];
        let top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * fx;
        let bot = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * fx;
        Some(top + (bot - top) * fy)
    }
}

impl Drop for MlSegmenter {
    fn drop(&mut self) {
        self.shared.seats.fetch_sub(1, Ordering::Relaxed);
    }
}

impl MlSegmenter {
    /// The shared scheduler.
    pub fn shared(&self) -> &Arc<MlShared> {
        &self.shared
    }

    /// The seat's network mask on the current frame (after a successful
    /// [`segment`](Segmenter::segment); `None` before the network ran).
    pub fn network_mask(&self) -> Option<NetworkMask<'_>> {
        let (width, height) = self.input_size?;
        if !self.have_prob {
            return None;
        }
        Some(NetworkMask {
            prob: &self.prob,
            width,
            height,
            covers: self.covers,
            mirrored: self.mirrored,
            shift: self.shift,
            ran: self.ran,
        })
    }

    /// Whether the network ran on the last frame segmented.
    pub fn ran_this_frame(&self) -> bool {
        self.ran
    }

    /// Whether the network sees the participant's whole frame (else the seat).
    pub fn sees_whole_frame(&self) -> bool {
        self.frame_size.is_some()
    }

    fn reset(&mut self, w: usize, h: usize, frame: Option<(u32, u32)>) -> Result<(), MlError> {
        let max_side = self.shared.options.max_input_side;
        let (iw, ih) = match frame {
            Some(_) => {
                let (nw, nh) = self.shared.model.native_size();
                input_size_for(nw, nh, max_side)
            }
            None => input_size_for(w, h, max_side),
        };
        drop(self.shared.plan(iw, ih)?);
        // A frame-level map stays valid when only the seat changed (a framing window that
        // moved): it is cut out through the new window.
        let keep = self.have_prob
            && frame.is_some()
            && self.frame_size == frame
            && self.input_size == Some((iw, ih));
        self.input_size = Some((iw, ih));
        self.frame_size = frame;
        self.seat = (w, h);
        if !keep {
            self.prob.clear();
            self.prob.resize(iw * ih, 0.0);
            self.have_prob = false;
            self.view.reset();
            self.map_view = Rect::default();
        }
        for v in [&mut self.ref_rows, &mut self.cur_rows] {
            v.clear();
            v.resize(h, 0);
        }
        for v in [&mut self.ref_cols, &mut self.cur_cols] {
            v.clear();
            v.resize(w, 0);
        }
        let (cw, ch) = if self.refiner.is_some() {
            (w.div_ceil(2), h.div_ceil(2))
        } else {
            (w, h)
        };
        self.coarse_size = (cw, ch);
        self.coarse_key = None;
        self.coarse.clear();
        self.coarse.resize(cw * ch, 0);
        self.x_taps.clear();
        self.y_taps.clear();
        if frame.is_some() {
            // Computed per frame (they follow the crop window and the tracked motion).
            self.x_taps.resize(cw, (0, 0, 0.0));
            self.y_taps.resize(ch, (0, 0, 0.0));
        } else {
            let sx = iw as f32 / cw as f32;
            self.x_taps.extend((0..cw).map(|ox| {
                let (x0, x1, f) = tap(ox as isize, sx, iw);
                (x0 as u32, x1 as u32, f)
            }));
        }
        if let Some(r) = &mut self.refiner {
            r.reset();
        }
        Ok(())
    }

    fn run_model(
        &mut self,
        input: &SegmentInput<'_>,
        source: Option<&SeatSource<'_>>,
    ) -> Result<(), MlError> {
        let start = cpu_time::ThreadTime::now();
        let (iw, ih) = self.input_size.ok_or(MlError::Graph("no runner"))?;
        let mut runner = self.shared.take_runner(iw, ih)?;
        match source {
            // The whole frame, stretched to the network's input (MediaPipe's
            // ImageToTensorCalculator with keep_aspect_ratio: false).
            Some(s) => {
                let converted;
                let f = if matches!(s.frame.format(), PixelFormat::I420 | PixelFormat::I420A) {
                    &s.frame
                } else {
                    let (fw, fh) = (s.frame.width(), s.frame.height());
                    let scratch = match &mut self.whole_i420 {
                        Some(f) if (f.width(), f.height()) == (fw, fh) => f,
                        slot => slot
                            .insert(Frame::new(PixelFormat::I420, fw, fh).map_err(MlError::Frame)?),
                    };
                    // RGB carries no YUV matrix of its own: convert with the seat's (what
                    // the compositor converted the seat's planes with), so the network's
                    // input does not depend on how a producer tagged an RGB frame.
                    let rgb = matches!(s.frame.format(), PixelFormat::Rgba | PixelFormat::Bgra);
                    let src = if rgb {
                        FrameRef::new(s.frame.format(), fw, fh, input.color, s.frame.planes())
                            .map_err(MlError::Frame)?
                    } else {
                        s.frame
                    };
                    crate::color::convert(&src, &mut scratch.as_mut()).map_err(MlError::Frame)?;
                    converted = scratch.as_ref();
                    &converted
                };
                // The part of the frame this run sees (even offsets and sides, inside it).
                let view = self.view.view((f.width(), f.height()));
                let (x, y, w, h) = (
                    view.x as usize,
                    view.y as usize,
                    view.width as usize,
                    view.height as usize,
                );
                let luma = f.plane(0).crop(x, y, w, h).map_err(MlError::Frame)?;
                // Even offsets and sides inside the frame (or the whole frame, odd sides
                // included): the chroma window is exact.
                let chroma = |i: usize| {
                    f.plane(i)
                        .crop(x / 2, y / 2, w.div_ceil(2), h.div_ceil(2))
                        .map_err(MlError::Frame)
                };
                let (u, v) = (chroma(1)?, chroma(2)?);
                self.prev_view = std::mem::replace(&mut self.map_view, view);
                self.resampler
                    .convert(&luma, &u, &v, f.color(), runner.input_mut(), iw, ih)?
            }
            None => self.resampler.convert(
                &input.y,
                &input.u,
                &input.v,
                input.color,
                runner.input_mut(),
                iw,
                ih,
            )?,
        }
        // A runner that failed is dropped, not put back.
        let out = runner.run()?;
        if out.len() != self.prob.len() {
            return Err(MlError::BufferSize {
                expected: self.prob.len(),
                found: out.len(),
            });
        }
        self.coarse_key = None;
        // The last map is kept aside (a tracked person missed once keeps it).
        std::mem::swap(&mut self.prob, &mut self.prev_prob);
        self.prob.resize(out.len(), 0.0);
        self.prob.copy_from_slice(out);
        self.shared.put_runner(runner);
        let had_prob = std::mem::replace(&mut self.have_prob, true);
        if let Some(s) = source {
            let frame = (s.frame.width(), s.frame.height());
            match self.view.observe(&self.prob, iw, self.map_view, frame) {
                Seen::Map => {}
                Seen::Nobody => self.prob.fill(0.0),
                Seen::Miss if had_prob && self.prev_prob.len() == self.prob.len() => {
                    std::mem::swap(&mut self.prob, &mut self.prev_prob);
                    self.map_view = self.prev_view;
                }
                Seen::Miss => self.prob.fill(0.0),
            }
        }
        std::mem::swap(&mut self.ref_rows, &mut self.cur_rows);
        std::mem::swap(&mut self.ref_cols, &mut self.cur_cols);
        let ns = nanos(start.elapsed());
        self.last_run_ns = ns;
        self.shared.record_run(ns / 1000);
        Ok(())
    }

    fn segment_inner(
        &mut self,
        input: &SegmentInput<'_>,
        matte: &mut PlaneMut<'_>,
    ) -> Result<(), MlError> {
        let (w, h) = (input.y.width(), input.y.height());
        if w == 0 || h == 0 || (matte.width(), matte.height()) != (w, h) {
            return Err(MlError::InputSize {
                width: w,
                height: h,
            });
        }
        let source = input
            .source
            .filter(|s| self.shared.options.whole_frame && whole_frame_fits(s));
        let frame = source.map(|s| (s.frame.width(), s.frame.height()));
        if self.seat != (w, h) || self.input_size.is_none() || self.frame_size != frame {
            self.reset(w, h, frame)?;
        }
        self.shared.frames.fetch_add(1, Ordering::Relaxed);
        let track = self.shared.options.track_motion;
        let gate = self.shared.options.gate;
        if track || !self.have_prob || gate.is_some() {
            projections(&input.y, &mut self.cur_rows, &mut self.cur_cols);
        }
        // When the seat's window moved (framing), the seat's content moved with it: motion
        // is tracked from this frame on, not across the move.
        let window = source.map(|s| s.window);
        if self.frame_size.is_some() && window != self.track_window {
            self.track_window = window;
            self.ref_rows.copy_from_slice(&self.cur_rows);
            self.ref_cols.copy_from_slice(&self.cur_cols);
        }
        let period = u64::from(self.shared.period());
        let due = (self.tick + self.phase).is_multiple_of(period);
        self.tick += 1;
        let mut tracked = None;
        self.ran = match gate {
            // Seats still searching for their person (zoomed views) are not gated.
            Some(g) if self.have_prob && self.view.settled() => {
                let c = change(
                    &self.ref_rows,
                    &self.cur_rows,
                    &self.ref_cols,
                    &self.cur_cols,
                );
                tracked = Some((c.dx, c.dy));
                // Motion is tracked inside the seat's window: a window that moved (framing
                // follows the person) moved the seat's content in the frame, which the
                // frame-level map must follow.
                let moved = window_moved(self.run_window, window, g.shift);
                let d = self
                    .gate
                    .step(&g, due, period as u32, moved || g.changed(&c, w, h));
                match d {
                    Gated::Skip => self.shared.skipped.fetch_add(1, Ordering::Relaxed),
                    Gated::Early => self.shared.early.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                d.runs()
            }
            _ => due || !self.have_prob,
        };
        if self.ran {
            self.gate = GateState::default();
            self.run_window = window;
        }
        let (dx, dy) = if self.ran {
            self.run_model(input, source.as_ref())?;
            (0, 0)
        } else if track {
            tracked.unwrap_or_else(|| {
                (
                    best_shift(&self.ref_cols, &self.cur_cols, w / 8),
                    best_shift(&self.ref_rows, &self.cur_rows, h / 8),
                )
            })
        } else {
            (0, 0)
        };
        let (pw, ph) = self.input_size.ok_or(MlError::Graph("no runner"))?;
        let (cw, ch) = self.coarse_size;
        let mut coarse =
            PlaneMut::new(&mut self.coarse, cw, ch, cw).map_err(|_| MlError::BufferSize {
                expected: cw * ch,
                found: 0,
            })?;
        // Where the map sits in the source frame, and the motion in its pixels.
        let (covers, mirrored) = match &input.source {
            Some(s) => (s.window, s.mirrored),
            None => (Rect::new(0, 0, w as i64, h as i64), false),
        };
        let (kx, ky) = (
            covers.width as f32 / w as f32,
            covers.height as f32 / h as f32,
        );
        let sign = if mirrored { -1.0 } else { 1.0 };
        self.shift = (dx as f32 * kx * sign, dy as f32 * ky);
        // The mask before refinement depends only on the map, where it is cut and moved: when
        // none of that changed since the last frame (no run, the same motion and window), the
        // last frame's (cleaned) coarse mask is this one's, bit for bit.
        let key = CoarseKey {
            shift: (dx, dy),
            window: input.source.map(|s| (s.window, s.mirrored)),
            map_view: self.map_view,
        };
        let cached = !self.ran && self.coarse_key == Some(key);
        if let (Some(s), Some((fw, fh))) = (&source, self.frame_size) {
            // Cut the seat's window (moved by the motion) out of the frame-level map, which
            // covers `map_view` of the frame.
            let mv = self.map_view;
            self.covers = mv;
            self.mirrored = false;
            let win = s.window;
            if cached {
                // Kept from the last frame (see `key`).
            } else {
                let x_axis = Axis {
                    start: win.x as f32 - self.shift.0 - mv.x as f32,
                    len: win.width as f32,
                    frame: mv.width as f32,
                    map: pw,
                };
                let y_axis = Axis {
                    start: win.y as f32 - self.shift.1 - mv.y as f32,
                    len: win.height as f32,
                    frame: mv.height as f32,
                    map: ph,
                };
                x_axis.taps(&mut self.x_taps, s.mirrored);
                y_axis.taps(&mut self.y_taps, false);
                window_to_matte(
                    &self.prob,
                    pw,
                    ph,
                    &self.x_taps,
                    &self.y_taps,
                    &mut coarse,
                    &mut self.prob_row,
                );
                if mv != Rect::new(0, 0, i64::from(fw), i64::from(fh)) {
                    // A zoomed view: the frame outside it is no person (the taps repeat the
                    // map's edge there).
                    let xs = x_axis.inside(cw, s.mirrored);
                    let ys = y_axis.inside(ch, false);
                    clear_outside(&mut coarse, xs, ys);
                }
            }
        } else {
            self.covers = covers;
            self.mirrored = mirrored;
            // The shift in coarse pixels (rounded half away from zero).
            let scale = |d: isize, c: usize, s: usize| {
                let v = d * c as isize;
                (v + v.signum() * s as isize / 2) / s as isize
            };
            let (cdx, cdy) = (scale(dx, cw, w), scale(dy, ch, h));
            if !cached {
                prob_to_matte_shifted(
                    &self.prob,
                    pw,
                    ph,
                    &self.x_taps,
                    &mut coarse,
                    cdx,
                    cdy,
                    &mut self.prob_row,
                );
            }
        }
        if let (Some(cleaner), false) = (&mut self.cleaner, cached) {
            cleaner.keep_main_region(&mut coarse);
            cleaner.limit_reach(&mut coarse);
        }
        self.coarse_key = Some(key);
        match &mut self.refiner {
            Some(refiner) => {
                if !refiner.refine(&input.y, &coarse.as_ref(), matte) {
                    return Err(MlError::InputSize {
                        width: w,
                        height: h,
                    });
                }
            }
            None => matte
                .copy_from(&coarse.as_ref())
                .map_err(|_| MlError::BufferSize {
                    expected: w * h,
                    found: 0,
                })?,
        }
        if let Some(cleaner) = &mut self.cleaner {
            cleaner.keep_main_region_final(matte);
            cleaner.limit_tail(matte);
            cleaner.fade_edges(matte);
        }
        Ok(())
    }
}

impl Segmenter for MlSegmenter {
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte {
        let start = cpu_time::ThreadTime::now();
        self.last_run_ns = 0;
        let result = match self.segment_inner(input, matte) {
            Ok(()) => Matte::Written,
            Err(_) => {
                self.input_size = None;
                Matte::Opaque
            }
        };
        let ns = nanos(start.elapsed()).saturating_sub(self.last_run_ns);
        self.shared.record_frame(&self.shared.segment_cost_ns, ns);
        result
    }

    fn decontaminate(&mut self, colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
        let start = cpu_time::ThreadTime::now();
        self.pull.apply(colour, matte);
        let ns = nanos(start.elapsed());
        self.shared
            .record_frame(&self.shared.decontaminate_cost_ns, ns);
    }

    fn person_map(&self) -> Option<crate::segment::PersonMap<'_>> {
        let frame = self.frame_size?;
        let (width, height) = self.input_size?;
        self.have_prob.then_some(crate::segment::PersonMap {
            prob: &self.prob,
            width,
            height,
            frame,
            covers: self.map_view,
            fresh: self.ran,
        })
    }
}

/// The smallest period (in `1..=max_period`) at which `seats` seats, each costing `frame_ms`
/// every tick and `run_ms` every `period` ticks, stay within `budget_ms` per tick;
/// `max_period` when the frame work alone fills the budget.
fn period_for(seats: usize, run_ms: f64, frame_ms: f64, budget_ms: f64, max_period: u32) -> u32 {
    let max = max_period.max(1);
    let seats = seats.max(1) as f64;
    // What the budget leaves for network runs once every seat's frame work is paid (NaN
    // budgets fall through to the cap as well).
    let left = budget_ms - seats * frame_ms;
    if left.is_nan() || left <= 1e-3 {
        return max;
    }
    let p = (seats * run_ms / left).ceil();
    if p.is_finite() {
        (p as u32).clamp(1, max)
    } else {
        max
    }
}

/// An exponential average over about `n` samples (the first sample sets it).
fn average(avg: &AtomicU64, v: u64, n: u64) {
    let old = avg.load(Ordering::Relaxed);
    let new = if old == 0 { v } else { (old * (n - 1) + v) / n };
    avg.store(new, Ordering::Relaxed);
}

fn nanos(d: std::time::Duration) -> u64 {
    d.as_nanos().min(u128::from(u64::MAX)) as u64
}

/// Row sums into `rows` and column sums into `cols` of a luma plane.
fn projections(y: &PlaneRef<'_>, rows: &mut [u32], cols: &mut [u32]) {
    cols.iter_mut().for_each(|c| *c = 0);
    for (r, line) in rows.iter_mut().zip(y.rows()) {
        let mut s = 0u32;
        for (c, &v) in cols.iter_mut().zip(line) {
            *c += u32::from(v);
            s += u32::from(v);
        }
        *r = s;
    }
}

/// The shift `d` in `-range..=range` minimising the mean absolute difference between
/// `cur[i]` and `reference[i - d]` over their overlap (after removing each profile's mean,
/// so a brightness change does not move it); 0 on ties and for flat profiles.
fn best_shift(reference: &[u32], cur: &[u32], range: usize) -> isize {
    match_profiles(reference, cur, range).shift
}

/// [`best_shift`]'s match of two profiles.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ProfileMatch {
    /// The shift found.
    shift: isize,
    /// The mean absolute difference of the mean-removed profiles at that shift (in the
    /// profiles' units; 0 for profiles shorter than 8).
    residual: f64,
    /// The mean of `cur` less the mean of `reference`.
    offset: f64,
}

/// See [`best_shift`].
fn match_profiles(reference: &[u32], cur: &[u32], range: usize) -> ProfileMatch {
    let n = reference.len().min(cur.len());
    if n < 8 {
        return ProfileMatch {
            shift: 0,
            residual: 0.0,
            offset: 0.0,
        };
    }
    let range = range.min(n / 4) as isize;
    // In integers, scaled by n: |n*r - n*c - (sum r - sum c)| is n times the difference of
    // the mean-removed profiles, exactly (and a loop the compiler vectorises).
    let (reference, cur) = (&reference[..n], &cur[..n]);
    let sum = |v: &[u32]| v.iter().map(|&x| i64::from(x)).sum::<i64>();
    let offset = sum(reference) - sum(cur);
    let scale = n as i64;
    let cost = |d: isize| {
        let (lo, hi) = (d.max(0) as usize, (n as isize + d.min(0)) as usize);
        let (lo_r, hi_r) = ((lo as isize - d) as usize, (hi as isize - d) as usize);
        let sad: i64 = reference[lo_r..hi_r]
            .iter()
            .zip(&cur[lo..hi])
            .map(|(&r, &c)| (scale * (i64::from(r) - i64::from(c)) - offset).abs())
            .sum();
        sad as f64 / (hi - lo) as f64
    };
    // No motion unless a shift is clearly (2 %) better.
    let still = cost(0);
    let mut best = (still * 0.98, 0isize, still);
    for d in (-range..=range).filter(|&d| d != 0) {
        let c = cost(d);
        if c < best.0 {
            best = (c, d, c);
        }
    }
    ProfileMatch {
        shift: best.1,
        residual: best.2 / n as f64,
        offset: -(offset as f64) / n as f64,
    }
}

/// Whether the crop window moved or changed size by more than `fraction` of its size since
/// `then` (on either axis; any change to or from no window counts).
fn window_moved(then: Option<Rect>, now: Option<Rect>, fraction: f32) -> bool {
    match (then, now) {
        (Some(a), Some(b)) => {
            let far = |d: i64, len: i64| d.unsigned_abs() as f32 > fraction * len.max(1) as f32;
            far(b.x - a.x, a.width)
                || far(b.y - a.y, a.height)
                || far(b.width - a.width, a.width)
                || far(b.height - a.height, a.height)
        }
        (None, None) => false,
        _ => true,
    }
}

/// How the seat whose current projections are `cur_rows` (one per row) and `cur_cols` (one
/// per column) differs from the one of `ref_rows` and `ref_cols`: the shift
/// [`best_shift`] tracks (range an eighth of each side), the residual after it and the mean
/// luma change, per pixel.
fn change(ref_rows: &[u32], cur_rows: &[u32], ref_cols: &[u32], cur_cols: &[u32]) -> Change {
    let (w, h) = (cur_cols.len(), cur_rows.len());
    let x = match_profiles(ref_cols, cur_cols, w / 8);
    let y = match_profiles(ref_rows, cur_rows, h / 8);
    // A column sums h pixels, a row w.
    let per = |v: f64, len: usize| (v / len.max(1) as f64) as f32;
    Change {
        dx: x.shift,
        dy: y.shift,
        residual: per(x.residual, h).max(per(y.residual, w)),
        brightness: per(x.offset, h),
    }
}

/// Whether the network can see `source`'s whole frame: a non-empty crop window inside it
/// (frames not in I420 are converted to it when the network runs).
fn whole_frame_fits(source: &SeatSource<'_>) -> bool {
    let f = &source.frame;
    let w = source.window;
    f.width() > 0
        && f.height() > 0
        && !w.is_empty()
        && w.x >= 0
        && w.y >= 0
        && w.right() <= i64::from(f.width())
        && w.bottom() <= i64::from(f.height())
}

/// The bilinear taps of source position `s` (in source pixel indices; clamped to
/// `0..=len-1`): the two indices and the weight of the second.
fn tap_at(s: f32, len: usize) -> (u32, u32, f32) {
    let last = len.saturating_sub(1);
    let s = if s.is_nan() {
        0.0
    } else {
        s.clamp(0.0, last as f32)
    };
    let i0 = (s as usize).min(last);
    (i0 as u32, (i0 + 1).min(last) as u32, s - i0 as f32)
}

/// One axis of a seat's window in a frame-level map: the window starts at `start` and is
/// `len` frame pixels long, in a frame `frame` pixels long whose map is `map` values long.
struct Axis {
    start: f32,
    len: f32,
    frame: f32,
    map: usize,
}

impl Axis {
    /// The map's taps ([`tap_at`]) of each of `taps.len()` equal cells over the window
    /// (half-pixel centres on both grids), right to left when `mirrored`.
    fn taps(&self, taps: &mut [(u32, u32, f32)], mirrored: bool) {
        let n = taps.len();
        let per_frame_pixel = self.map as f32 / self.frame;
        for (o, t) in taps.iter_mut().enumerate() {
            let f = self.position(o, n, mirrored);
            *t = tap_at(f * per_frame_pixel - 0.5, self.map);
        }
    }

    /// The cells (of `n` equal cells over the window, right to left when `mirrored`) whose
    /// centres lie inside the map's `frame` pixels: a range, as positions are monotonic.
    fn inside(&self, n: usize, mirrored: bool) -> std::ops::Range<usize> {
        let at = |o: usize| (0.0..self.frame).contains(&self.position(o, n, mirrored));
        let Some(first) = (0..n).find(|&o| at(o)) else {
            return 0..0;
        };
        let end = (first..n).find(|&o| !at(o)).unwrap_or(n);
        first..end
    }

    /// Where the centre of cell `o` of `n` equal cells over the window lies, in frame pixels
    /// (right to left when `mirrored`).
    fn position(&self, o: usize, n: usize, mirrored: bool) -> f32 {
        let mut u = (o as f32 + 0.5) / n as f32;
        if mirrored {
            u = 1.0 - u;
        }
        self.start + u * self.len
    }
}

/// Sets `out` to 0 outside columns `xs` and rows `ys`.
fn clear_outside(out: &mut PlaneMut<'_>, xs: std::ops::Range<usize>, ys: std::ops::Range<usize>) {
    for y in 0..out.height() {
        let row = out.row_mut(y);
        if ys.contains(&y) {
            let end = xs.end.min(row.len());
            row[..xs.start.min(end)].fill(0);
            row[end..].fill(0);
        } else {
            row.fill(0);
        }
    }
}

/// Samples `prob` (`pw x ph`) into `out` through per-column and per-row taps ([`tap_at`]):
/// each output row first interpolates its two source rows over the whole width (into
/// `row`, resized to `pw`), then picks and blends two columns per output pixel.
fn window_to_matte(
    prob: &[f32],
    pw: usize,
    ph: usize,
    x_taps: &[(u32, u32, f32)],
    y_taps: &[(u32, u32, f32)],
    out: &mut PlaneMut<'_>,
    row: &mut Vec<f32>,
) {
    let (w, h) = (out.width(), out.height());
    if x_taps.len() != w || y_taps.len() != h || prob.len() != pw * ph {
        return;
    }
    row.resize(pw, 0.0);
    for (oy, &(y0, y1, fy)) in y_taps.iter().enumerate() {
        let (y0, y1) = (y0 as usize, y1 as usize);
        let (r0, r1) = (&prob[y0 * pw..(y0 + 1) * pw], &prob[y1 * pw..(y1 + 1) * pw]);
        for ((v, &a), &b) in row.iter_mut().zip(r0).zip(r1) {
            *v = a + (b - a) * fy;
        }
        for (d, &(x0, x1, fx)) in out.row_mut(oy).iter_mut().zip(x_taps) {
            let (a, b) = (row[x0 as usize], row[x1 as usize]);
            *d = ((a + (b - a) * fx) * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
}

/// Bilinear taps of output index `o` (half-pixel centres, clamped to the source): the two
/// source indices and the weight of the second.
fn tap(o: isize, scale: f32, len: usize) -> (usize, usize, f32) {
    let s = ((o as f32 + 0.5) * scale - 0.5).clamp(0.0, (len - 1) as f32);
    let i0 = (s as usize).min(len - 1);
    (i0, (i0 + 1).min(len - 1), s - i0 as f32)
}

/// Scales `prob` (`pw x ph`) bilinearly into `out`, moved by `(dx, dy)` seat pixels (edge
/// values repeat where the shift uncovers the border). `x_taps` holds [`tap`] of each output
/// column for `pw` (a clamped index is the edge's tap, so a shift is a shifted lookup).
/// `row` is scratch (resized to `pw`): each output row first interpolates its two source
/// rows vertically over the whole width (contiguous, vectorised), then picks and blends two
/// columns per output pixel.
#[allow(clippy::too_many_arguments)]
fn prob_to_matte_shifted(
    prob: &[f32],
    pw: usize,
    ph: usize,
    x_taps: &[(u32, u32, f32)],
    out: &mut PlaneMut<'_>,
    dx: isize,
    dy: isize,
    row: &mut Vec<f32>,
) {
    let (w, h) = (out.width(), out.height());
    if w == 0 || h == 0 || x_taps.len() != w || prob.len() != pw * ph {
        return;
    }
    row.resize(pw, 0.0);
    let sy = ph as f32 / h as f32;
    for oy in 0..h {
        let (y0, y1, fy) = tap(oy as isize - dy, sy, ph);
        let (r0, r1) = (&prob[y0 * pw..(y0 + 1) * pw], &prob[y1 * pw..(y1 + 1) * pw]);
        for ((v, &a), &b) in row.iter_mut().zip(r0).zip(r1) {
            *v = a + (b - a) * fy;
        }
        let out_row = out.row_mut(oy);
        // Columns whose source column is clamped to an edge, then the shifted middle.
        let first = dx.clamp(0, w as isize) as usize;
        let last = (w as isize + dx).clamp(0, w as isize) as usize;
        let lerp = |t: &(u32, u32, f32)| {
            let (a, b) = (row[t.0 as usize], row[t.1 as usize]);
            ((a + (b - a) * t.2) * 255.0 + 0.5).clamp(0.0, 255.0) as u8
        };
        let (left, right) = (lerp(&x_taps[0]), lerp(&x_taps[w - 1]));
        out_row[..first].fill(left);
        out_row[last..].fill(right);
        if first < last {
            let src = (first as isize - dx) as usize;
            for (d, t) in out_row[first..last].iter_mut().zip(&x_taps[src..]) {
                *d = lerp(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_keeps_runs_and_frame_work_within_the_budget() {
        // 49 seats, 1 ms a run, 0.2 ms of frame work each: 27 - 9.8 = 17.2 ms for runs,
        // 49 ms of runs -> period 3 (16.3 ms a tick).
        assert_eq!(period_for(49, 1.0, 0.2, 27.0, 30), 3);
        // No frame work: 49 / 27 -> 2.
        assert_eq!(period_for(49, 1.0, 0.0, 27.0, 30), 2);
        // Cheap runs: every tick.
        assert_eq!(period_for(49, 0.1, 0.1, 27.0, 30), 1);
        // Frame work alone over the budget, or a bad budget: the cap.
        assert_eq!(period_for(49, 1.0, 0.6, 27.0, 30), 30);
        assert_eq!(period_for(49, 1.0, 0.1, f64::NAN, 30), 30);
        assert_eq!(period_for(49, 1.0, 0.1, -1.0, 7), 7);
        // Within the cap; no seats counts as one.
        assert_eq!(period_for(49, 50.0, 0.0, 27.0, 12), 12);
        assert_eq!(period_for(0, 1.0, 0.0, 27.0, 30), 1);
        assert_eq!(period_for(49, 1.0, 0.0, f64::INFINITY, 30), 1);
    }

    /// Plays `ticks` ticks of one seat's gate at a fixed `period` and `phase`, the seat changed
    /// on the ticks `changed` says; the first tick runs (the seat has no map yet). Returns
    /// each tick's decision.
    fn gate_run(
        g: &GateOptions,
        period: u32,
        phase: u64,
        ticks: u64,
        changed: impl Fn(u64) -> bool,
    ) -> Vec<Gated> {
        let mut state = GateState::default();
        (0..ticks)
            .map(|t| {
                if t == 0 {
                    state = GateState::default();
                    return Gated::Forced;
                }
                let due = (t + phase).is_multiple_of(u64::from(period));
                state.step(g, due, period, changed(t))
            })
            .collect()
    }

    /// The ticks that ran, and the longest gap between runs.
    fn runs_of(d: &[Gated]) -> (Vec<usize>, usize) {
        let runs: Vec<usize> = (0..d.len()).filter(|&t| d[t].runs()).collect();
        let longest = runs.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        (runs, longest)
    }

    #[test]
    fn a_still_seat_runs_at_the_minimum_refresh() {
        let g = GateOptions::default();
        assert_eq!(g.max_interval, 15);
        for period in 1..=15u32 {
            for phase in 0..u64::from(period) {
                let d = gate_run(&g, period, phase, 300, |_| false);
                let (runs, _) = runs_of(&d);
                for w in runs.windows(2) {
                    let gap = w[1] - w[0];
                    // Never more than the bound, and no run the bound did not need: a still
                    // seat skips every due tick whose skip keeps the next one in the bound.
                    assert!(gap <= 15, "period {period} phase {phase}: gap {gap}");
                    assert!(
                        gap + period as usize > 15,
                        "period {period} phase {phase}: gap {gap} ran too soon"
                    );
                }
                // Runs only on due ticks (the staggered grid), never early.
                assert!(!d.contains(&Gated::Early));
                assert!(d[1..].iter().all(|x| *x != Gated::Forced));
                let fixed = (0..300u64)
                    .filter(|t| (t + phase).is_multiple_of(u64::from(period)))
                    .count();
                if period <= 7 {
                    // At least half the runs saved where the bound leaves room.
                    assert!(
                        runs.len() * 2 <= fixed + 2,
                        "period {period}: {}",
                        runs.len()
                    );
                }
            }
        }
    }

    #[test]
    fn a_moving_seat_runs_at_least_as_often_as_the_fixed_period() {
        let g = GateOptions::default();
        for period in 1..=20u32 {
            for phase in 0..u64::from(period) {
                let d = gate_run(&g, period, phase, 200, |_| true);
                for (t, x) in d.iter().enumerate().skip(1) {
                    let due = (t as u64 + phase).is_multiple_of(u64::from(period));
                    assert_eq!(
                        x.runs(),
                        due,
                        "period {period} phase {phase} tick {t}: {x:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_gate_keeps_the_bound_and_the_budget_whatever_the_motion() {
        let g = GateOptions {
            early: true,
            ..GateOptions::default()
        };
        // A deterministic pseudo-random pattern of still and moving stretches.
        let pattern = |seed: u64| {
            move |t: u64| {
                let x = (t / 7 + seed)
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33).is_multiple_of(3)
            }
        };
        for seed in 0..20 {
            for period in 1..=15u32 {
                let phase = seed % u64::from(period);
                let d = gate_run(&g, period, phase, 400, pattern(seed));
                let (runs, longest) = runs_of(&d);
                assert!(longest <= 15, "seed {seed} period {period}: {longest}");
                // Every early run was paid for by a skipped due run: no more runs than the
                // fixed period's (the first tick's run aside).
                let fixed = (1..400u64)
                    .filter(|t| (t + phase).is_multiple_of(u64::from(period)))
                    .count();
                assert!(runs.len() <= fixed + 1, "seed {seed} period {period}");
                let skips = d.iter().filter(|x| **x == Gated::Skip).count();
                let early = d.iter().filter(|x| **x == Gated::Early).count();
                assert!(early <= skips);
            }
        }
        // A seat that sat still and then moves runs at once (it skipped a due run), not at its
        // next due tick.
        let d = gate_run(&g, 5, 0, 40, |t| t == 13);
        assert_eq!(d[10], Gated::Skip);
        assert_eq!(d[13], Gated::Early);
        let no_early = GateOptions { early: false, ..g };
        let d = gate_run(&no_early, 5, 0, 40, |t| t == 13);
        assert_eq!((d[13], d[15]), (Gated::Idle, Gated::Run));
        // A period longer than the bound: the budget allows no more, every due tick runs.
        let d = gate_run(&g, 20, 0, 100, |_| false);
        let (runs, _) = runs_of(&d);
        assert_eq!(runs, vec![0, 20, 40, 60, 80]);
        // The bound holds when the period's grid moves (the period changed).
        let mut state = GateState::default();
        let mut since = 0;
        for t in 0..200u64 {
            let period = if t < 50 { 4 } else { 7 };
            let due = (t + 3).is_multiple_of(period);
            since += 1;
            if state.step(&g, due, period as u32, false).runs() {
                since = 0;
            }
            assert!(since < 15, "tick {t}");
        }
    }

    #[test]
    fn a_moved_window_counts_as_a_change() {
        let r = Rect::new(100, 50, 200, 300);
        assert!(!window_moved(Some(r), Some(r), 0.03));
        assert!(!window_moved(None, None, 0.03));
        assert!(window_moved(None, Some(r), 0.03));
        // 3 % of 200 is 6 pixels across, of 300 9 pixels down.
        assert!(!window_moved(
            Some(r),
            Some(Rect::new(106, 59, 200, 300)),
            0.03
        ));
        assert!(window_moved(
            Some(r),
            Some(Rect::new(107, 50, 200, 300)),
            0.03
        ));
        assert!(window_moved(
            Some(r),
            Some(Rect::new(100, 40, 200, 300)),
            0.03
        ));
        assert!(window_moved(
            Some(r),
            Some(Rect::new(100, 50, 220, 330)),
            0.03
        ));
    }

    #[test]
    fn gate_thresholds_and_clock() {
        let g = GateOptions::default();
        let c = |dx, dy, residual, brightness| Change {
            dx,
            dy,
            residual,
            brightness,
        };
        assert!(!g.changed(&c(0, 0, 0.2, 0.5), 100, 100));
        assert!(!g.changed(&c(0, 0, 1.9, 0.0), 100, 100));
        assert!(g.changed(&c(0, 0, 2.1, 0.0), 100, 100));
        assert!(g.changed(&c(0, 0, 0.0, -5.0), 100, 100));
        assert!(!g.changed(&c(3, 0, 0.0, 0.0), 100, 100));
        assert!(g.changed(&c(4, 0, 0.0, 0.0), 100, 100));
        assert!(g.changed(&c(0, -4, 0.0, 0.0), 50, 100));
        assert!(!g.changed(&c(0, -4, 0.0, 0.0), 100, 200));
        let nan = GateOptions {
            residual: f32::NAN,
            ..g
        };
        assert!(nan.changed(&c(0, 0, 0.0, 0.0), 100, 100));
        assert_eq!(GateOptions::for_fps(30.0).max_interval, 15);
        assert_eq!(GateOptions::for_fps(25.0).max_interval, 12);
        assert_eq!(GateOptions::for_fps(60.0).max_interval, 30);
        assert_eq!(GateOptions::for_fps(1.0).max_interval, 1);
        assert_eq!(GateOptions::for_fps(f64::NAN).max_interval, 1);
        assert_eq!(GateOptions::for_fps(-3.0).max_interval, 1);
    }

    /// A synthetic seat: a textured background and a bright person-like block at `(px, py)`,
    /// plus `noise` (a deterministic pattern of +-noise levels that changes with `seed`).
    fn seat_luma(w: usize, h: usize, px: usize, py: usize, noise: i32, seed: u32) -> Vec<u8> {
        let mut y = vec![0u8; w * h];
        for r in 0..h {
            for c in 0..w {
                let bg = 60 + ((c * 7 + r * 3) % 40) as i32;
                let person = (px..px + w / 3).contains(&c) && (py..).contains(&r);
                let head = (px + w / 12..px + w / 4).contains(&c) && (py - h / 5..py).contains(&r);
                let v = if person || head { 180 } else { bg };
                let hash = (c as u32)
                    .wrapping_mul(2654435761)
                    .wrapping_add((r as u32).wrapping_mul(40503))
                    .wrapping_add(seed.wrapping_mul(97))
                    .wrapping_mul(2246822519);
                let n = (hash >> 16) as i32 % (2 * noise + 1) - noise;
                y[r * w + c] = (v + n).clamp(0, 255) as u8;
            }
        }
        y
    }

    fn change_between(w: usize, h: usize, a: &[u8], b: &[u8]) -> Change {
        let (mut rr, mut rc, mut cr, mut cc) = (vec![0; h], vec![0; w], vec![0; h], vec![0; w]);
        projections(&PlaneRef::new(a, w, h, w).unwrap(), &mut rr, &mut rc);
        projections(&PlaneRef::new(b, w, h, w).unwrap(), &mut cr, &mut cc);
        change(&rr, &cr, &rc, &cc)
    }

    #[test]
    fn change_sees_motion_and_new_content_but_not_noise() {
        let (w, h) = (120, 160);
        let g = GateOptions::default();
        let base = seat_luma(w, h, 40, 60, 0, 0);
        // Fresh noise (sigma about 3.5 levels) on a still seat: no change.
        let noisy = seat_luma(w, h, 40, 60, 6, 1);
        let c = change_between(w, h, &base, &noisy);
        assert_eq!((c.dx, c.dy), (0, 0));
        assert!(c.residual < 0.3 && c.brightness.abs() < 0.3, "{c:?}");
        assert!(!g.changed(&c, w, h));
        // The person moved 6 pixels right: tracked, and past 3 % of the width.
        let moved = seat_luma(w, h, 46, 60, 0, 0);
        let c = change_between(w, h, &base, &moved);
        assert_eq!(c.dx, 6, "{c:?}");
        assert!(g.changed(&c, w, h));
        // Brighter by 10 levels (exposure): no motion, the mean changed.
        let bright: Vec<u8> = base.iter().map(|&v| v + 10).collect();
        let c = change_between(w, h, &base, &bright);
        assert_eq!((c.dx, c.dy), (0, 0));
        assert!((c.brightness - 10.0).abs() < 0.01, "{c:?}");
        assert!(c.residual < 0.01, "{c:?}");
        // Something new in the seat (an arm raised beside the person): not a shift, the
        // residual says it.
        let mut arm = base.clone();
        for r in 20..70 {
            for c in 85..100 {
                arm[r * w + c] = 200;
            }
        }
        let c = change_between(w, h, &base, &arm);
        assert!(c.residual > g.residual, "{c:?}");
        assert!(g.changed(&c, w, h));
    }

    /// A seat whose coarse mask is kept from the last frame (no run, no motion, the same
    /// window) writes the matte it would write with the mask made anew, on the seat view and
    /// the whole-frame view. Needs the model (`scripts/fetch-model.sh`); skips without it.
    #[test]
    fn a_kept_coarse_mask_is_the_one_made_anew() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models/selfie_segmentation.tflite");
        if !path.exists() {
            eprintln!(
                "SKIPPED: no model at {} (scripts/fetch-model.sh)",
                path.display()
            );
            return;
        }
        let model = SelfieModel::from_file(&path).expect("the model loads");
        let (w, h) = (96, 128);
        let (u, v) = (vec![128u8; w * h / 4], vec![128u8; w * h / 4]);
        for whole in [false, true] {
            for gate in [None, Some(GateOptions::default())] {
                let opts = ScheduleOptions {
                    budget_ms: 1e-6,
                    max_period: 4,
                    max_input_side: 128,
                    gate,
                    ..ScheduleOptions::default()
                };
                let (a_shared, b_shared) = (
                    MlShared::new(model.clone(), opts),
                    MlShared::new(model.clone(), opts),
                );
                let (mut a, mut b) = (a_shared.segmenter(), b_shared.segmenter());
                let (mut ma, mut mb) = (vec![0u8; w * h], vec![0u8; w * h]);
                let mut kept = 0;
                for t in 0..24u32 {
                    // Still with fresh noise, moving a pixel every sixth frame.
                    let y = seat_luma(w, h, 30 + (t / 6) as usize, 50, 4, t);
                    let mut frame = Frame::new(PixelFormat::I420, w as u32, h as u32).unwrap();
                    {
                        let mut f = frame.as_mut();
                        f.plane_mut(0)
                            .copy_from(&PlaneRef::new(&y, w, h, w).unwrap())
                            .unwrap();
                        f.plane_mut(1).fill(128);
                        f.plane_mut(2).fill(128);
                    }
                    let input = SegmentInput {
                        y: PlaneRef::new(&y, w, h, w).unwrap(),
                        u: PlaneRef::new(&u, w / 2, h / 2, w / 2).unwrap(),
                        v: PlaneRef::new(&v, w / 2, h / 2, w / 2).unwrap(),
                        input_alpha: None,
                        participant: "p",
                        pts: i64::from(t),
                        color: crate::frame::ColorSpec::BT601_LIMITED,
                        source: whole.then(|| SeatSource {
                            frame: frame.as_ref(),
                            window: Rect::new(0, 0, w as i64, h as i64),
                            mirrored: false,
                        }),
                    };
                    // `a` makes its coarse mask anew every frame.
                    a.coarse_key = None;
                    let before = b.coarse_key;
                    let ra = a.segment(&input, &mut PlaneMut::new(&mut ma, w, h, w).unwrap());
                    let rb = b.segment(&input, &mut PlaneMut::new(&mut mb, w, h, w).unwrap());
                    assert_eq!((ra, rb), (Matte::Written, Matte::Written));
                    assert_eq!(a.ran, b.ran, "tick {t}");
                    if !b.ran && before.is_some() && before == b.coarse_key {
                        kept += 1;
                    }
                    assert!(ma == mb, "whole {whole}, gate {}: tick {t}", gate.is_some());
                }
                assert!(kept >= 6, "whole {whole}: the mask was kept {kept} times");
            }
        }
    }

    #[test]
    fn window_taps_cut_the_seat_out_of_the_frame_map() {
        // A 32x32 frame whose map is at frame resolution, value = column + 32 * row.
        let prob: Vec<f32> = (0..32 * 32).map(|i| i as f32 / 1024.0).collect();
        // The window (8, 4) 16x16, sampled at 16x16: whole taps, no weights.
        let axis = |start: f32| Axis {
            start,
            len: 16.0,
            frame: 32.0,
            map: 32,
        };
        let mut xt = vec![(0, 0, 0.0); 16];
        let mut yt = vec![(0, 0, 0.0); 16];
        for mirrored in [false, true] {
            axis(8.0).taps(&mut xt, mirrored);
            axis(4.0).taps(&mut yt, false);
            let mut out = vec![0u8; 16 * 16];
            let mut row = Vec::new();
            window_to_matte(
                &prob,
                32,
                32,
                &xt,
                &yt,
                &mut PlaneMut::new(&mut out, 16, 16, 16).unwrap(),
                &mut row,
            );
            for oy in 0..16 {
                for ox in 0..16 {
                    let sx = if mirrored { 8 + 15 - ox } else { 8 + ox };
                    let want = (prob[(4 + oy) * 32 + sx] * 255.0 + 0.5) as u8;
                    assert_eq!(out[oy * 16 + ox], want, "({ox},{oy}) mirrored {mirrored}");
                }
            }
        }
        // A half-resolution map (16 values for 32 frame pixels): cell o of the window's
        // 16 cells is frame pixel 8 + o, map position (8 + o + 0.5) / 2 - 0.5.
        let mut half = vec![(0, 0, 0.0); 16];
        Axis {
            map: 16,
            ..axis(8.0)
        }
        .taps(&mut half, false);
        for (o, t) in half.iter().enumerate() {
            let s = (8.0 + o as f32 + 0.5) / 2.0 - 0.5;
            assert_eq!((t.0, t.2), (s as u32, s - s.floor()), "{o}");
        }
        // Moved by the tracked motion: 3 frame pixels right reads 3 pixels further left;
        // past the frame's edge, the edge repeats.
        axis(8.0 - 3.0).taps(&mut xt, false);
        assert_eq!(xt[0], (5, 6, 0.0));
        axis(-4.0).taps(&mut xt, false);
        assert_eq!(xt[0], (0, 1, 0.0));
    }

    #[test]
    fn best_shift_finds_a_translation() {
        let reference: Vec<u32> = (0..100)
            .map(|i| if (40..60).contains(&i) { 900 } else { 100 })
            .collect();
        let cur: Vec<u32> = (0..100)
            .map(|i| if (47..67).contains(&i) { 900 } else { 100 })
            .collect();
        assert_eq!(best_shift(&reference, &cur, 12), 7);
        assert_eq!(best_shift(&cur, &reference, 12), -7);
        assert_eq!(best_shift(&reference, &reference, 12), 0);
        let flat = vec![5u32; 100];
        assert_eq!(best_shift(&flat, &flat, 12), 0);
    }

    #[test]
    fn shifted_upsample_moves_the_mask() {
        let mut prob = vec![0.0f32; 16 * 16];
        for y in 4..8 {
            for x in 4..8 {
                prob[y * 16 + x] = 1.0;
            }
        }
        let mut a = vec![0u8; 32 * 32];
        let mut b = vec![0u8; 32 * 32];
        let taps: Vec<(u32, u32, f32)> = (0..32)
            .map(|o| {
                let (x0, x1, f) = tap(o, 0.5, 16);
                (x0 as u32, x1 as u32, f)
            })
            .collect();
        prob_to_matte_shifted(
            &prob,
            16,
            16,
            &taps,
            &mut PlaneMut::new(&mut a, 32, 32, 32).unwrap(),
            0,
            0,
            &mut Vec::new(),
        );
        // Unshifted, it is the plain bilinear upsample (within rounding).
        let mut plain = vec![0u8; 32 * 32];
        super::super::resample::prob_to_matte(
            &prob,
            16,
            16,
            &mut PlaneMut::new(&mut plain, 32, 32, 32).unwrap(),
        )
        .unwrap();
        assert!(a.iter().zip(&plain).all(|(p, q)| p.abs_diff(*q) <= 1));
        assert!(a.contains(&255) && a.contains(&0));
        prob_to_matte_shifted(
            &prob,
            16,
            16,
            &taps,
            &mut PlaneMut::new(&mut b, 32, 32, 32).unwrap(),
            3,
            -2,
            &mut Vec::new(),
        );
        for y in 2..28 {
            for x in 0..28 {
                assert_eq!(b[y * 32 + x + 3], a[(y + 2) * 32 + x], "({x},{y})");
            }
        }
    }
}
