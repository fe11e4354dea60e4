//! Fidelity: how closely the scheduled network mask follows MediaPipe's own.
//!
//! The scheduler runs the network on a seat only every few ticks and carries the last mask
//! forward in between, moved by the tracked motion ([`super::MlSegmenter`]); the network may
//! also see a different image than MediaPipe's pipeline would (the seat rather than the whole
//! frame). [`measure`] plays a clip through a real [`Compositor`] on [`Scene::grid`], every
//! seat showing the same clip, every seat with its own [`MlSegmenter`](super::MlSegmenter) from one shared
//! scheduler (so the schedule is the one the engine picks for that many seats), and compares
//! each seat's [`NetworkMask`] on every frame, thresholded at 0.5, with MediaPipe's own mask of
//! the same frame (computed on every frame: `scripts/fidelity-reference.py`), in the source
//! frame's pixels:
//!
//! - **frame IoU**: over the whole source frame (a map that covers only the crop window
//!   counts as "no person" outside it);
//! - **window IoU**: over the seat's crop window only (what the seat shows).
//!
//! MediaPipe's reference sees the whole frame. Where the whole frame shows it nobody, the
//! engine's network zooms in to search for a person far from the camera (see the scheduler's
//! frame-level view); seat-frames whose map came from such a zoomed view have no reference to
//! compare with: they are counted ([`Fidelity::zoomed`]) and left out of the IoU figures.
//!
//! The clip is first played backwards once, unmeasured, so that the scheduler's cost
//! averages and period settle before the measured forward pass (which starts where the
//! backward pass ended: no jump).

use std::sync::{Arc, Mutex};

use crate::error::ComposeError;
use crate::frame::{Frame, FrameRef, PlaneMut};
use crate::geometry::Rect;
use crate::scene::Scene;
use crate::seating::Role;
use crate::segment::{Matte, SeatColour, SegmentInput, Segmenter, SegmenterFactory};
use crate::{Compositor, CompositorOptions, SceneError};

use super::{MlShared, NetworkMask, ScheduleOptions, ScheduleStats, SelfieModel};

/// What [`measure`] runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FidelityOptions {
    /// Seats of [`Scene::grid`], all showing the clip.
    pub seats: usize,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// The scheduler's settings (the engine's defaults unless a measurement changes them).
    pub schedule: ScheduleOptions,
    /// Play the clip backwards once, unmeasured, before the measured pass (see the module
    /// docs).
    pub warm_up: bool,
    /// Compare seat-frames whose map came from a zoomed view too (right when the reference is
    /// the engine's own mask, [`every_frame_reference`], which has a value there; MediaPipe's
    /// has none).
    pub compare_zoomed: bool,
}

impl FidelityOptions {
    /// `seats` seats of `builtin:grid` at 1920x1080 with the scheduler's defaults.
    pub fn grid(seats: usize) -> Self {
        Self {
            seats,
            width: 1920,
            height: 1080,
            schedule: ScheduleOptions::default(),
            warm_up: true,
            compare_zoomed: false,
        }
    }
}

/// The result of [`measure`] for one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Fidelity {
    /// Seats measured.
    pub seats: usize,
    /// Frames measured (per seat).
    pub frames: usize,
    /// Seat-frames whose map came from a zoomed view (no reference; left out of the IoU
    /// figures, see the module docs).
    pub zoomed: usize,
    /// Mean over seats and frames of the frame IoU (NaN when every seat-frame was zoomed).
    pub mean: f64,
    /// The lowest frame IoU of any seat on any frame.
    pub worst: f64,
    /// Mean of the window IoU.
    pub window_mean: f64,
    /// The lowest window IoU.
    pub window_worst: f64,
    /// Mean over frames of the seats' mean frame IoU, per frame (for plots; NaN on frames
    /// where every seat was zoomed).
    pub per_frame: Vec<f64>,
    /// Whether the network saw the whole frame (else the seat).
    pub whole_frame: bool,
    /// The scheduler's counters after the run (period, runs, CPU time).
    pub stats: ScheduleStats,
    /// Network runs during the measured pass.
    pub measured_runs: u64,
    /// The most ticks between two runs of one seat during the measured pass (0 when no seat
    /// ran twice).
    pub longest_gap: usize,
    /// CPU milliseconds of the network runs during the measured pass, all seats (thread CPU
    /// time, [`ScheduleStats::run_ms`]).
    pub measured_run_ms: f64,
    /// CPU milliseconds of the seats' per-frame ML work besides the runs (tracking and the
    /// gate, refinement, cleaning, colour decontamination) during the measured pass
    /// ([`ScheduleStats::frame_ms`]).
    pub measured_frame_ms: f64,
}

impl Fidelity {
    /// ML CPU milliseconds per seat and second of the measured pass at `fps` frames a second.
    pub fn ml_ms_per_seat_second(&self, fps: f64) -> f64 {
        let seconds = (self.seats * self.frames) as f64 / fps;
        (self.measured_run_ms + self.measured_frame_ms) / seconds
    }
}

/// Why [`measure`] could not run.
#[derive(Debug, thiserror::Error)]
pub enum FidelityError {
    /// The clip has no frames.
    #[error("the clip has no frames")]
    NoFrames,
    /// Frames of different sizes in one clip.
    #[error("frame {index} is {found:?}, the clip's first frame {expected:?}")]
    FrameSize {
        /// The frame's index.
        index: usize,
        /// The first frame's size.
        expected: (u32, u32),
        /// This frame's size.
        found: (u32, u32),
    },
    /// The reference holds the wrong number of values for the clip.
    #[error("the reference holds {found} values, expected {expected} (frames x width x height)")]
    Reference {
        /// `frames * width * height`.
        expected: usize,
        /// What it holds.
        found: usize,
    },
    /// No seats asked for.
    #[error("at least one seat is needed")]
    NoSeats,
    /// The grid scene could not be made.
    #[error("grid scene")]
    Scene(#[from] SceneError),
    /// The compositor refused something.
    #[error("compositor")]
    Compose(#[from] ComposeError),
    /// A seat produced no network mask on a frame.
    #[error("seat {seat} has no network mask on frame {frame}")]
    NoMask {
        /// The seat's participant index.
        seat: usize,
        /// The frame.
        frame: usize,
    },
}

/// One seat's network mask, copied after its `segment` call.
#[derive(Debug, Clone, Default)]
struct Recorded {
    prob: Vec<f32>,
    width: usize,
    height: usize,
    covers: Rect,
    mirrored: bool,
    shift: (f32, f32),
    ran: bool,
    window: Rect,
    whole_frame: bool,
    valid: bool,
}

impl Recorded {
    fn mask(&self) -> NetworkMask<'_> {
        NetworkMask {
            prob: &self.prob,
            width: self.width,
            height: self.height,
            covers: self.covers,
            mirrored: self.mirrored,
            shift: self.shift,
            ran: self.ran,
        }
    }
}

/// Where one seat's [`Recorder`] leaves its copy.
type Slot = Arc<Mutex<Recorded>>;

/// An [`super::MlSegmenter`] that copies its network mask into `slot` after every frame.
struct Recorder {
    inner: super::MlSegmenter,
    slot: Slot,
}

impl Segmenter for Recorder {
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte {
        let r = self.inner.segment(input, matte);
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match self.inner.network_mask() {
            Some(m) => {
                slot.prob.clear();
                slot.prob.extend_from_slice(m.prob);
                slot.width = m.width;
                slot.height = m.height;
                slot.covers = m.covers;
                slot.mirrored = m.mirrored;
                slot.shift = m.shift;
                slot.ran = m.ran;
                slot.window = input.source.map_or(m.covers, |s| s.window);
                slot.whole_frame = self.inner.sees_whole_frame();
                slot.valid = true;
            }
            None => slot.valid = false,
        }
        r
    }

    fn decontaminate(&mut self, colour: &mut SeatColour<'_>, matte: &crate::frame::PlaneRef<'_>) {
        self.inner.decontaminate(colour, matte);
    }
}

/// IoU at 0.5 of `mask` against `reference` (`fw x fh`, row-major) over `region` of the
/// frame; pixels where `mask` has no value count as "no person". 1 when neither has a
/// person there.
fn iou(mask: &NetworkMask<'_>, reference: &[f32], fw: usize, region: Rect) -> f64 {
    let r = region.clip(fw as u32, (reference.len() / fw.max(1)) as u32);
    let (mut inter, mut union) = (0u64, 0u64);
    for y in r.y..r.bottom() {
        let row = &reference[y as usize * fw..][..fw];
        for x in r.x..r.right() {
            let ours = mask
                .at(x as f32 + 0.5, y as f32 + 0.5)
                .is_some_and(|p| p > 0.5);
            let theirs = row[x as usize] > 0.5;
            inter += u64::from(ours && theirs);
            union += u64::from(ours || theirs);
        }
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// Checks a clip: not empty, one frame size. Returns that size.
fn clip_size(frames: &[Frame]) -> Result<(u32, u32), FidelityError> {
    let first = frames.first().ok_or(FidelityError::NoFrames)?;
    let (fw, fh) = (first.width(), first.height());
    for (index, f) in frames.iter().enumerate() {
        if (f.width(), f.height()) != (fw, fh) {
            return Err(FidelityError::FrameSize {
                index,
                expected: (fw, fh),
                found: (f.width(), f.height()),
            });
        }
    }
    Ok((fw, fh))
}

/// What [`play`] leaves.
struct Played {
    /// The scheduler's counters before the measured pass.
    before: ScheduleStats,
    /// And after it.
    after: ScheduleStats,
}

/// Plays `frames` through `options.seats` seats of a grid (the backward warm-up first when
/// asked), calling `each` with the frame's index and the seats' recorded masks after every
/// frame of the measured pass.
fn play(
    model: &SelfieModel,
    frames: &[Frame],
    options: &FidelityOptions,
    mut each: impl FnMut(usize, &[Slot]) -> Result<(), FidelityError>,
) -> Result<Played, FidelityError> {
    if options.seats == 0 {
        return Err(FidelityError::NoSeats);
    }
    let scene = Scene::grid(options.seats, options.width, options.height)?;
    let mut engine = Compositor::new(
        scene,
        CompositorOptions::default().with_size(options.width, options.height),
    )?;
    let shared = MlShared::new(model.clone(), options.schedule);
    let slots: Arc<Mutex<Vec<Slot>>> = Arc::default();
    let factory: SegmenterFactory = {
        let (shared, slots) = (Arc::clone(&shared), Arc::clone(&slots));
        Arc::new(move || {
            let slot = Arc::new(Mutex::new(Recorded::default()));
            slots
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Arc::clone(&slot));
            Box::new(Recorder {
                inner: shared.segmenter(),
                slot,
            })
        })
    };
    engine.set_segmenter(factory);
    let ids: Vec<String> = (0..options.seats).map(|i| format!("p{i}")).collect();
    for id in &ids {
        engine.join(id, Role::Attendee)?;
    }
    let mut tick = 0i64;
    let mut show = |engine: &mut Compositor, f: &FrameRef<'_>| -> Result<(), ComposeError> {
        for id in &ids {
            engine.push_ref(id, f, tick)?;
        }
        tick += 1;
        engine.render().map(|_| ())
    };
    if options.warm_up {
        for f in frames.iter().rev() {
            show(&mut engine, &f.as_ref())?;
        }
    }
    let before = shared.stats();
    for (k, f) in frames.iter().enumerate() {
        show(&mut engine, &f.as_ref())?;
        let slots = slots.lock().unwrap_or_else(|e| e.into_inner());
        each(k, &slots)?;
    }
    // While the seats are alive (the period counts them).
    let after = shared.stats();
    Ok(Played { before, after })
}

/// The engine's own network mask of every frame of a clip, in the layout [`measure`] takes
/// as its reference (frame after frame, row-major f32 at the frames' size; 0 where the map
/// has no value): one seat of a grid with the network run on every frame (`options`'
/// schedule with `max_period` 1 and no gate), after the same warm-up as [`measure`]. Against
/// it, [`measure`] (with [`FidelityOptions::compare_zoomed`]) tells what a schedule loses
/// against running the network on every frame.
pub fn every_frame_reference(
    model: &SelfieModel,
    frames: &[Frame],
    options: &FidelityOptions,
) -> Result<Vec<f32>, FidelityError> {
    let (fw, fh) = clip_size(frames)?;
    let (fw, fh) = (fw as usize, fh as usize);
    let options = FidelityOptions {
        seats: 1,
        schedule: ScheduleOptions {
            max_period: 1,
            gate: None,
            ..options.schedule
        },
        ..*options
    };
    let mut out = Vec::with_capacity(frames.len() * fw * fh);
    play(model, frames, &options, |frame, slots| {
        let rec = slots[0].lock().unwrap_or_else(|e| e.into_inner());
        if !rec.valid {
            return Err(FidelityError::NoMask { seat: 0, frame });
        }
        let m = rec.mask();
        for y in 0..fh {
            for x in 0..fw {
                out.push(m.at(x as f32 + 0.5, y as f32 + 0.5).unwrap_or(0.0));
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Plays `frames` through `options.seats` seats of a grid with the ML segmenter of `model`
/// and compares every seat's network mask with `reference` (MediaPipe's probability maps of
/// the same frames at the frames' size, row-major f32, frame after frame, or
/// [`every_frame_reference`]'s). See the module docs.
pub fn measure(
    model: &SelfieModel,
    frames: &[Frame],
    reference: &[f32],
    options: &FidelityOptions,
) -> Result<Fidelity, FidelityError> {
    let (fw, fh) = clip_size(frames)?;
    let plane = fw as usize * fh as usize;
    if reference.len() != frames.len() * plane {
        return Err(FidelityError::Reference {
            expected: frames.len() * plane,
            found: reference.len(),
        });
    }
    let (mut sum, mut worst, mut wsum, mut wworst) = (0.0, 1.0f64, 0.0, 1.0f64);
    let mut per_frame = Vec::with_capacity(frames.len());
    let mut whole_frame = true;
    let mut zoomed = 0usize;
    let mut last_run: Vec<Option<usize>> = vec![None; options.seats];
    let mut longest_gap = 0usize;
    let full = Rect::new(0, 0, i64::from(fw), i64::from(fh));
    let played = play(model, frames, options, |k, slots| {
        let reference = &reference[k * plane..(k + 1) * plane];
        let (mut frame_sum, mut frame_n) = (0.0, 0usize);
        for (seat, slot) in slots.iter().enumerate() {
            let rec = slot.lock().unwrap_or_else(|e| e.into_inner());
            if !rec.valid {
                return Err(FidelityError::NoMask { seat, frame: k });
            }
            whole_frame &= rec.whole_frame;
            if rec.ran {
                if let Some(Some(last)) = last_run.get(seat) {
                    longest_gap = longest_gap.max(k - last);
                }
                if let Some(l) = last_run.get_mut(seat) {
                    *l = Some(k);
                }
            }
            if rec.whole_frame && rec.covers != full && !options.compare_zoomed {
                zoomed += 1;
                continue;
            }
            frame_n += 1;
            let m = rec.mask();
            let (a, b) = (
                iou(&m, reference, fw as usize, full),
                iou(&m, reference, fw as usize, rec.window),
            );
            frame_sum += a;
            sum += a;
            wsum += b;
            worst = worst.min(a);
            wworst = wworst.min(b);
        }
        per_frame.push(if frame_n == 0 {
            f64::NAN
        } else {
            frame_sum / frame_n as f64
        });
        Ok(())
    })?;
    let measured = frames.len() * options.seats - zoomed;
    let n = if measured == 0 {
        f64::NAN
    } else {
        measured as f64
    };
    if measured == 0 {
        (worst, wworst) = (f64::NAN, f64::NAN);
    }
    let (stats, before) = (played.after, played.before);
    Ok(Fidelity {
        seats: options.seats,
        frames: frames.len(),
        zoomed,
        mean: sum / n,
        worst,
        window_mean: wsum / n,
        window_worst: wworst,
        per_frame,
        whole_frame,
        stats,
        measured_runs: stats.runs - before.runs,
        longest_gap,
        measured_run_ms: stats.run_ms - before.run_ms,
        measured_frame_ms: stats.frame_ms - before.frame_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_counts_overlap_over_union_in_the_region() {
        // A 4x2 map covering a 8x4 frame: left half person.
        let prob = [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let m = NetworkMask {
            prob: &prob,
            width: 4,
            height: 2,
            covers: Rect::new(0, 0, 8, 4),
            mirrored: false,
            shift: (0.0, 0.0),
            ran: true,
        };
        let mut reference = vec![0.0f32; 32];
        for y in 0..4 {
            for x in 0..4 {
                reference[y * 8 + x] = 1.0;
            }
        }
        assert_eq!(iou(&m, &reference, 8, Rect::new(0, 0, 8, 4)), 1.0);
        // Theirs shifted right by 2: overlap 2 columns of 6.
        let shifted: Vec<f32> = (0..32)
            .map(|i| if (2..6).contains(&(i % 8)) { 1.0 } else { 0.0 })
            .collect();
        let v = iou(&m, &shifted, 8, Rect::new(0, 0, 8, 4));
        assert!((v - 2.0 / 6.0).abs() < 1e-9, "{v}");
        // Mirrored: the person is on the right.
        let mirrored = NetworkMask {
            mirrored: true,
            ..m
        };
        assert_eq!(iou(&mirrored, &reference, 8, Rect::new(0, 0, 8, 4)), 0.0);
        // A carried map moved by the tracked motion, 2 pixels right: its edge column repeats
        // where the move uncovers the border, so it holds columns 0..6 against their 2..6.
        let moved = NetworkMask {
            shift: (2.0, 0.0),
            ..m
        };
        let v = iou(&moved, &shifted, 8, Rect::new(0, 0, 8, 4));
        assert!((v - 4.0 / 6.0).abs() < 1e-9, "{v}");
        // Nobody anywhere in the region: 1.
        assert_eq!(iou(&m, &[0.0; 32], 8, Rect::new(6, 0, 2, 4)), 1.0);
    }
}
