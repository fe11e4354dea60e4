//! The canonical benchmark workload W(N) (BENCHMARKS.md, "The workload and the method";
//! `scripts/bench-peers.sh` runs it in FFmpeg and GStreamer), generated in memory, shared
//! by `together bench`, the criterion benchmark `compose` and the allocation tests, so they all
//! measure the same inputs.
//!
//! N participants, each a 640x360 I420 clip (8 distinct patterns, participant k uses pattern
//! k mod 8), seated in `Scene::grid` (3:4 seats in a grid, centre crop 270x360 at x=184),
//! bilinear-scaled and blended at alpha 0.8 over a 1920x1080 gradient. Every participant
//! delivers a new frame every tick (frames alternate between two per participant, handed
//! over without copying).

use crate::error::ComposeError;
use crate::frame::{ColorSpec, Frame, PixelFormat};
use crate::seating::Role;
use crate::{Compositor, CompositorOptions, Scene};

/// Input width of the canonical workload.
pub const INPUT_WIDTH: u32 = 640;
/// Input height of the canonical workload.
pub const INPUT_HEIGHT: u32 = 360;

/// How seats are matted in the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadMatte {
    /// Constant alpha 0.8 (the peers' workload).
    Constant,
    /// Opaque paste (alpha 1.0).
    Opaque,
    /// A per-pixel matte from the input's own alpha (I420A inputs, an elliptical person).
    PerPixel,
}

/// A deterministic 640x360 test pattern: gradients plus a moving diagonal texture, so that
/// frames differ and scaling does real work.
pub fn pattern(seed: u64, frame: u64, with_alpha: bool) -> Result<Frame, ComposeError> {
    let format = if with_alpha {
        PixelFormat::I420A
    } else {
        PixelFormat::I420
    };
    let mut f = Frame::new(format, INPUT_WIDTH, INPUT_HEIGHT)?;
    let (w, h) = (INPUT_WIDTH as i64, INPUT_HEIGHT as i64);
    let s = seed as i64;
    let t = frame as i64;
    let mut m = f.as_mut();
    for (i, plane) in m.planes_mut().iter_mut().enumerate() {
        let sub = if i == 1 || i == 2 { 2 } else { 1 };
        for (y, row) in plane.rows_mut().enumerate() {
            let y = y as i64 * sub;
            for (x, v) in row.iter_mut().enumerate() {
                let x = x as i64 * sub;
                *v = match i {
                    0 => {
                        let grad = 16 + (x * 160 / w) + (y * 40 / h);
                        let tex = ((x * (3 + s) + y * (5 + s) + 7 * t) & 31) - 16;
                        (grad + tex).clamp(16, 235) as u8
                    }
                    1 => (64 + (s * 23) % 128 + x * 32 / w) as u8,
                    2 => (192 - (s * 37) % 128 + y * 32 / h) as u8,
                    _ => {
                        // An ellipse (head and shoulders, roughly) with a soft edge.
                        let (cx, cy) = (w / 2 + ((t % 40) - 20), h * 55 / 100);
                        let (rx, ry) = (w * 22 / 100, h * 50 / 100);
                        let d = ((x - cx) * (x - cx) * 1024 / (rx * rx)
                            + (y - cy) * (y - cy) * 1024 / (ry * ry))
                            - 1024;
                        (128 - d / 2).clamp(0, 255) as u8
                    }
                };
            }
        }
    }
    Ok(f)
}

/// How input frames reach the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPath {
    /// Handed over without a copy (`Compositor::push`): the engine reads the frames from
    /// memory, untouched since they were made (the conservative figure).
    Move,
    /// Copied in (`Compositor::push_ref`) from a pool, as a pipeline that reads frames into
    /// buffers does; the copy is the "input path" the peers' scripts subtract.
    Copy,
}

/// The workload: an engine and two frames per participant.
pub struct Workload {
    engine: Compositor,
    ids: Vec<String>,
    spare: Vec<Option<Frame>>,
    /// For [`InputPath::Copy`]: each participant's two source frames and a copy target for
    /// the input-path-only runs.
    pool: Vec<[Frame; 2]>,
    sink: Vec<Frame>,
    tick: i64,
}

impl Workload {
    /// The workload for `n` participants at `width x height`.
    pub fn new(
        n: usize,
        width: u32,
        height: u32,
        matte: WorkloadMatte,
        options: CompositorOptions,
    ) -> Result<Self, ComposeError> {
        Self::with_seat_aspect(n, width, height, (3, 4), matte, options)
    }

    /// The workload on a grid of seats of another aspect
    /// ([`Scene::grid_with_seat_aspect`]; the crop follows the seat: 16:9 seats show the
    /// inputs' whole frame).
    pub fn with_seat_aspect(
        n: usize,
        width: u32,
        height: u32,
        seat_aspect: (u32, u32),
        matte: WorkloadMatte,
        options: CompositorOptions,
    ) -> Result<Self, ComposeError> {
        let with_alpha = matte == WorkloadMatte::PerPixel;
        Self::build(n, width, height, seat_aspect, matte, options, |k| {
            let seed = k as u64 % 8;
            Ok([pattern(seed, 0, with_alpha)?, pattern(seed, 1, with_alpha)?])
        })
    }

    /// The workload on a grid of seats of `seat_aspect` with every participant showing
    /// `frames` (alternating, as the patterns do) instead of the test pattern: for example
    /// two frames of a real person, to measure what the selfie model and framing cost on
    /// someone they find (nobody is found in the pattern). Not the canonical workload.
    pub fn with_frames(
        n: usize,
        width: u32,
        height: u32,
        seat_aspect: (u32, u32),
        matte: WorkloadMatte,
        options: CompositorOptions,
        frames: &[Frame; 2],
    ) -> Result<Self, ComposeError> {
        Self::build(n, width, height, seat_aspect, matte, options, |_| {
            Ok(frames.clone())
        })
    }

    fn build(
        n: usize,
        width: u32,
        height: u32,
        seat_aspect: (u32, u32),
        matte: WorkloadMatte,
        options: CompositorOptions,
        frames: impl Fn(usize) -> Result<[Frame; 2], ComposeError>,
    ) -> Result<Self, ComposeError> {
        let scene = Scene::grid_with_seat_aspect(n, width, height, seat_aspect)?;
        let opacity = if matte == WorkloadMatte::Constant {
            0.8
        } else {
            1.0
        };
        let mut engine = Compositor::new(
            scene,
            // The workload's mattes are its inputs' alpha (or the constant opacity): the
            // segment mode is part of its definition, whatever the caller's options say.
            options
                .with_size(width, height)
                .with_seat_opacity(opacity)
                .with_segment(crate::segment::SegmentMode::Alpha),
        )?;
        let mut ids = Vec::with_capacity(n);
        let mut spare = Vec::with_capacity(n);
        let mut pool = Vec::with_capacity(n);
        for k in 0..n {
            let id = format!("8:acs:bench-{k}");
            engine.join(&id, Role::Attendee)?;
            let [a, b] = frames(k)?;
            pool.push([a.clone(), b.clone()]);
            engine.push(&id, a, 0)?;
            spare.push(Some(b));
            ids.push(id);
        }
        let sink = pool.iter().map(|p| p[0].clone()).collect();
        Ok(Self {
            engine,
            ids,
            spare,
            pool,
            sink,
            tick: 0,
        })
    }

    /// The same workload with every input frame tagged `color` (for example BT.709, so that
    /// each seat is also converted to the output's BT.601 tag).
    pub fn with_input_color(mut self, color: ColorSpec) -> Result<Self, ComposeError> {
        for f in self.pool.iter_mut().flatten().chain(self.sink.iter_mut()) {
            f.set_color(color);
        }
        for f in self.spare.iter_mut().flatten() {
            f.set_color(color);
        }
        // The engine holds each participant's first frame, untagged: hand it the tagged spare
        // and tag the frame it gives back.
        self.push_frames(|_| true)?;
        for f in self.spare.iter_mut().flatten() {
            f.set_color(color);
        }
        Ok(self)
    }

    /// The engine.
    pub fn engine(&mut self) -> &mut Compositor {
        &mut self.engine
    }

    /// Hands every participant (or only those with `changed(k)`) its other frame.
    pub fn push_frames(&mut self, changed: impl Fn(usize) -> bool) -> Result<(), ComposeError> {
        self.tick += 1;
        for (k, (id, spare)) in self.ids.iter().zip(self.spare.iter_mut()).enumerate() {
            if !changed(k) {
                continue;
            }
            if let Some(f) = spare.take() {
                *spare = self.engine.push(id, f, self.tick)?;
            }
        }
        Ok(())
    }

    /// Copies every participant's next frame in with `push_ref` (the input path, then the
    /// engine reads cache-warm data), or, with `render == false`, copies it into a private
    /// buffer only: the input path alone, to subtract.
    pub fn copy_frames(&mut self, render: bool) -> Result<(), ComposeError> {
        self.tick += 1;
        let which = (self.tick % 2) as usize;
        for (k, id) in self.ids.iter().enumerate() {
            let src = self.pool[k][which].as_ref();
            if render {
                self.engine.push_ref(id, &src, self.tick)?;
            } else {
                self.sink[k].copy_from(&src)?;
            }
        }
        if render {
            self.engine.render()?;
        }
        Ok(())
    }

    /// One tick: every participant pushes a new frame, then one frame is composed.
    pub fn tick(&mut self) -> Result<(), ComposeError> {
        self.push_frames(|_| true)?;
        self.engine.render()?;
        Ok(())
    }
}
