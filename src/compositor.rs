//! The engine a media pipeline calls: participants in, one composed frame per tick out.
//!
//! ```
//! use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};
//! use together_mode::frame::{Frame, PixelFormat};
//!
//! let scene = Scene::builtin("auditorium").unwrap();
//! // By default (`SegmentMode::Auto`) people are cut out by the selfie model, which must be
//! // found when the engine is built; this example uses the frames' own alpha instead.
//! let options = CompositorOptions::default()
//!     .with_size(640, 360)
//!     .with_segment(SegmentMode::Alpha);
//! let mut engine = Compositor::new(scene, options).unwrap();
//! engine.join("8:acs:alice", Role::Attendee).unwrap();
//! let camera = Frame::black(PixelFormat::I420, 320, 240, Default::default()).unwrap();
//! engine.push("8:acs:alice", camera, 0).unwrap();
//! let out = engine.render().unwrap();
//! assert_eq!((out.width(), out.height()), (640, 360));
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use fast_image_resize as fr;
use rayon::prelude::*;

use crate::error::{ComposeError, SizeError};
use crate::frame::{ColorSpec, Frame, FrameMut, FrameRef, PixelFormat};
use crate::framing::{
    fixed_window, FrameWindow, Framer, FramingMode, FramingOptions, HeadEstimate, Placement,
};
use crate::geometry::{check_output_size, Extent, Rect};
use crate::render::kernels::SimdLevel;
use crate::render::{
    compose, prefetch_seat, render_seat, render_seat_placed, Layout, SeatParams, SeatRender,
    SeatScaler, SeatScratch, SeatStyle,
};
use crate::scene::Scene;
use crate::seating::{LayoutSkip, Reservation, Role, SeatLayout, Seating, SeatingMap};
use crate::segment::{SegmentMode, Segmenter, SegmenterConfig, SegmenterFactory};
use crate::zoom::{step_view, zoom_window};

/// Largest output the compositor renders unless raised (8K UHD).
pub const MAX_OUTPUT: (u32, u32) = (7680, 4320);

/// The scaling filter for seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScaleFilter {
    /// Bilinear-class and fast: exact 2x2 box halvings while the seat is at least 2x smaller
    /// than its crop, then 2-tap bilinear (our own SIMD kernels; within 35 dB of FFmpeg's
    /// `flags=bilinear`).
    #[default]
    Bilinear,
    /// Lanczos3: sharper, about twice the cost.
    Lanczos3,
    /// Nearest neighbour: fastest, aliased.
    Nearest,
}

impl ScaleFilter {
    fn scaler(self) -> SeatScaler {
        match self {
            ScaleFilter::Bilinear => SeatScaler::Fast,
            ScaleFilter::Lanczos3 => {
                SeatScaler::Fir(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3))
            }
            ScaleFilter::Nearest => SeatScaler::Fir(fr::ResizeAlg::Nearest),
        }
    }
}

/// Compositor settings: plain data with `with_*` setters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompositorOptions {
    /// Output width (even).
    pub width: u32,
    /// Output height (even).
    pub height: u32,
    /// Colour of the output (and of scene sprites converted to YUV).
    pub color: ColorSpec,
    /// Opacity of every seat, 0.0..=1.0 (1.0: participants fully cover what is behind).
    pub seat_opacity: f32,
    /// Highest SIMD tier to use (lowered to what the CPU has).
    pub simd: SimdLevel,
    /// Render seats and output bands on rayon's pool.
    pub parallel: bool,
    /// Seat scaling filter.
    pub filter: ScaleFilter,
    /// Largest output size accepted.
    pub max_output: (u32, u32),
    /// How seats are segmented ([`Compositor::new`] builds the segmenters from it with
    /// [`SegmenterConfig::new`]: the selfie model, for `ml` and `auto`, is the first the
    /// library's search finds, see [`crate::segment::model`]). The default, `auto`, cuts out
    /// inputs without alpha with the selfie model: an engine that cannot find or load it is
    /// refused when it is built. For another model file or backend, build the segmenters
    /// with a [`SegmenterConfig`] and pass them to [`Compositor::with_segmenter`].
    pub segment: SegmentMode,
    /// Which window of each participant's frame their seat shows ([`crate::framing`]): by
    /// default ([`FramingMode::Auto`]) around the person's head for seats whose matte comes
    /// from the ML segmenter (the frame-level person map exists there), the centre crop for
    /// the others (inputs with their own alpha, `segment=alpha`, `none`, chroma, background).
    /// [`Compositor::set_framing`] overrides the mode per participant.
    pub framing: FramingOptions,
    /// autoZoom ([`crate::zoom`]): `None` (the default) follows the scene's own flag
    /// ([`Scene::auto_zoom`]); `Some(true)` or `Some(false)` overrides it. When on and few
    /// seats are taken, the view zooms smoothly onto the occupied seats.
    pub auto_zoom: Option<bool>,
}

impl Default for CompositorOptions {
    fn default() -> Self {
        Self {
            width: 1920,
            height: 1080,
            color: ColorSpec::default(),
            seat_opacity: 1.0,
            simd: SimdLevel::detect(),
            parallel: true,
            filter: ScaleFilter::Bilinear,
            max_output: MAX_OUTPUT,
            segment: SegmentMode::default(),
            framing: FramingOptions::default(),
            auto_zoom: None,
        }
    }
}

impl CompositorOptions {
    /// Output size.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }
    /// Output colour.
    pub fn with_color(mut self, color: ColorSpec) -> Self {
        self.color = color;
        self
    }
    /// Seat opacity (clamped to 0..=1; NaN counts as 1).
    pub fn with_seat_opacity(mut self, opacity: f32) -> Self {
        self.seat_opacity = opacity;
        self
    }
    /// Highest SIMD tier.
    pub fn with_simd(mut self, level: SimdLevel) -> Self {
        self.simd = level;
        self
    }
    /// Parallel (seats and bands of rows on rayon's global pool; the default) or serial
    /// rendering. Steady-state ticks allocate nothing either way, provided that in parallel
    /// mode the ticks are driven from a thread of the pool (e.g. the session loop inside
    /// `rayon::scope` or `ThreadPool::install`): work handed to the pool from outside goes
    /// through its injector queue, which allocates a block every 63 jobs.
    pub fn with_parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }
    /// Seat scaling filter.
    pub fn with_filter(mut self, filter: ScaleFilter) -> Self {
        self.filter = filter;
        self
    }
    /// Largest output size accepted.
    pub fn with_max_output(mut self, width: u32, height: u32) -> Self {
        self.max_output = (width, height);
        self
    }
    /// How seats are segmented.
    pub fn with_segment(mut self, segment: SegmentMode) -> Self {
        self.segment = segment;
        self
    }

    /// The framing mode of participants without their own ([`FramingMode::Off`]: every seat
    /// shows the centre crop).
    pub fn with_framing(mut self, mode: FramingMode) -> Self {
        self.framing.mode = mode;
        self
    }
    /// All framing settings.
    pub fn with_framing_options(mut self, framing: FramingOptions) -> Self {
        self.framing = framing;
        self
    }

    /// autoZoom: `None` follows the scene's `autoZoom`, `Some(on)` overrides it.
    pub fn with_auto_zoom(mut self, auto_zoom: Option<bool>) -> Self {
        self.auto_zoom = auto_zoom;
        self
    }

    fn opacity_u8(&self) -> u8 {
        let o = if self.seat_opacity.is_nan() {
            1.0
        } else {
            self.seat_opacity.clamp(0.0, 1.0)
        };
        (o * 255.0).round() as u8
    }
}

struct Participant {
    frame: Option<Frame>,
    pts: i64,
    /// Bumped on every push: a seat re-renders only when this (or its geometry) changes.
    generation: u64,
    /// Brightness kept when dimmed ([`Compositor::set_dim`]).
    dim: Option<u8>,
    /// The participant's own framing mode ([`Compositor::set_framing`]).
    framing: Option<FramingMode>,
    /// The participant's own segmenters ([`Compositor::set_segmenter_of`]).
    segmenter: Option<SegmenterFactory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct SeatKey {
    participant: String,
    generation: u64,
    width: usize,
    height: usize,
}

struct SeatSlot {
    render: SeatRender,
    scratch: SeatScratch,
    /// What `render` currently shows; `None` when nothing valid.
    key: Option<SeatKey>,
    /// Re-rendered since the last compose into the engine's own frame.
    rendered: bool,
    /// Whether the engine's own frame shows this seat's render.
    shown: bool,
    /// The framing window's state (per person: reset with the segmenter).
    framer: Framer,
    /// A framed seat's part of the frame before it is placed in the seat.
    inner: SeatRender,
}

impl SeatSlot {
    fn new() -> Self {
        Self {
            render: SeatRender::new(),
            scratch: SeatScratch::new(),
            key: None,
            rendered: false,
            shown: false,
            framer: Framer::default(),
            inner: SeatRender::new(),
        }
    }
}

/// A seat's segmenter and the participant it belongs to (its state is per person).
type SeatSegmenter = Option<(String, Box<dyn Segmenter>)>;

/// The together-mode engine.
pub struct Compositor {
    scene: Scene,
    layout: Layout,
    seating: Seating,
    options: CompositorOptions,
    level: SimdLevel,
    participants: HashMap<String, Participant>,
    slots: Vec<SeatSlot>,
    /// Per seat: the segmenter and the participant it belongs to (its state is per person).
    segmenters: Vec<SeatSegmenter>,
    output: Frame,
    /// Rectangles of `output` to recompose on the next `render` (reused, not reallocated).
    damage: Vec<Rect>,
    /// `output` must be recomposed whole (new layout, or written elsewhere).
    full_redraw: bool,
    factory: SegmenterFactory,
    /// The window of the scene the output shows now (the scene's extent unless autoZoom).
    view: Extent,
    /// `view` has been shown: later changes are smoothed (the first tick jumps).
    view_shown: bool,
}

impl std::fmt::Debug for Compositor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compositor")
            .field("scene", &self.scene.id)
            .field("options", &self.options)
            .field("participants", &self.participants.len())
            .finish_non_exhaustive()
    }
}

fn check_size(o: &CompositorOptions) -> Result<(), ComposeError> {
    check_output_size(o.width, o.height, o.max_output)
        .map_err(|e: SizeError| ComposeError::Scene(e.into()))
}

impl Compositor {
    /// An engine for `scene` rendering at the options' output size, its seats segmented as
    /// [`CompositorOptions::segment`] says. For `ml` and `auto` (the default) this finds and
    /// loads the selfie model: [`ComposeError::Segmenter`] when it cannot (with every place
    /// it looked at), or when the build has no ML segmenter.
    pub fn new(scene: Scene, options: CompositorOptions) -> Result<Self, ComposeError> {
        check_size(&options)?;
        let mut config = SegmenterConfig::new(options.segment);
        if !options.parallel {
            // Seats are segmented one after another: the ML budget is one thread's.
            config = config.with_threads(1);
        }
        let factory = config.factory()?;
        Self::with_segmenter(scene, options, factory)
    }

    /// An engine whose seats are segmented by `factory` ([`CompositorOptions::segment`] is
    /// not used).
    pub fn with_segmenter(
        scene: Scene,
        options: CompositorOptions,
        factory: SegmenterFactory,
    ) -> Result<Self, ComposeError> {
        check_size(&options)?;
        let layout = Layout::new(&scene, options.width, options.height, options.color)?;
        let seating = Seating::new(&scene);
        let scene_extent = scene.extent;
        let mut output = Frame::black(
            PixelFormat::I420,
            options.width,
            options.height,
            options.color,
        )?;
        output.set_color(options.color);
        let slots = (0..scene.seats.len()).map(|_| SeatSlot::new()).collect();
        let segmenters = (0..scene.seats.len()).map(|_| None).collect();
        Ok(Self {
            segmenters,
            level: SimdLevel::clamp_to_cpu(options.simd),
            scene,
            layout,
            seating,
            options,
            participants: HashMap::new(),
            slots,
            output,
            damage: Vec::new(),
            full_redraw: true,
            factory,
            view: scene_extent,
            view_shown: false,
        })
    }

    /// Replaces how seats are segmented.
    pub fn set_segmenter(&mut self, factory: SegmenterFactory) {
        self.factory = factory;
        for s in &mut self.slots {
            s.key = None;
        }
        for s in &mut self.segmenters {
            *s = None;
        }
    }

    /// The scene.
    pub fn scene(&self) -> &Scene {
        &self.scene
    }
    /// The scene placed at the output size.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// Who sits where.
    pub fn seating(&self) -> &Seating {
        &self.seating
    }
    /// The options in force.
    pub fn options(&self) -> &CompositorOptions {
        &self.options
    }
    /// The SIMD tier in use.
    pub fn simd_level(&self) -> SimdLevel {
        self.level
    }

    /// Seats a participant (by seatingOrder, in join order); returns the seat index.
    pub fn join(&mut self, id: &str, role: Role) -> Result<usize, ComposeError> {
        let seat = self.seating.join(id, role)?;
        self.participants.insert(
            id.to_string(),
            Participant {
                frame: None,
                pts: 0,
                generation: 0,
                dim: None,
                framing: None,
                segmenter: None,
            },
        );
        Ok(seat)
    }

    /// Removes a participant; returns whether they were present. Nobody else moves.
    pub fn leave(&mut self, id: &str) -> bool {
        let seat = self.seating.leave(id);
        if let Some(s) = seat {
            self.invalidate([Some(s)]);
            if let Some(seg) = self.segmenters.get_mut(s) {
                *seg = None;
            }
        }
        self.participants.remove(id).is_some()
    }

    /// Hands over a participant's newest frame (no copy); returns the frame it replaces, so
    /// a caller can recycle buffers.
    pub fn push(
        &mut self,
        id: &str,
        frame: Frame,
        pts: i64,
    ) -> Result<Option<Frame>, ComposeError> {
        let p = self
            .participants
            .get_mut(id)
            .ok_or_else(|| ComposeError::UnknownParticipant(id.to_string()))?;
        p.generation += 1;
        p.pts = pts;
        Ok(p.frame.replace(frame))
    }

    /// Copies a borrowed frame in as the participant's newest frame, reusing its buffer.
    pub fn push_ref(
        &mut self,
        id: &str,
        frame: &FrameRef<'_>,
        pts: i64,
    ) -> Result<(), ComposeError> {
        let p = self
            .participants
            .get_mut(id)
            .ok_or_else(|| ComposeError::UnknownParticipant(id.to_string()))?;
        match &mut p.frame {
            Some(f) => f.copy_from(frame)?,
            slot => *slot = Some(Frame::from_ref(frame)?),
        }
        p.generation += 1;
        p.pts = pts;
        Ok(())
    }

    /// Dims a participant's seat (e.g. a frozen video): `Some(k)` scales luma above black and
    /// chroma around neutral by `k / 255` (`Some(255)` changes nothing, `Some(0)` is black);
    /// `None` shows the frame as it is. The seat re-renders on the next tick.
    pub fn set_dim(&mut self, id: &str, dim: Option<u8>) -> Result<(), ComposeError> {
        let p = self
            .participants
            .get_mut(id)
            .ok_or_else(|| ComposeError::UnknownParticipant(id.to_string()))?;
        if p.dim != dim {
            p.dim = dim;
            self.invalidate([self.seating.seat_of(id)]);
        }
        Ok(())
    }

    /// Sets a participant's own framing mode (`None`: the engine's,
    /// [`CompositorOptions::framing`]); e.g. [`FramingMode::Off`] for someone who frames
    /// themselves, or a [`FramingMode::Fixed`] crop. The seat re-renders on the next tick.
    pub fn set_framing(&mut self, id: &str, mode: Option<FramingMode>) -> Result<(), ComposeError> {
        let p = self
            .participants
            .get_mut(id)
            .ok_or_else(|| ComposeError::UnknownParticipant(id.to_string()))?;
        if p.framing != mode {
            p.framing = mode;
            self.invalidate([self.seating.seat_of(id)]);
        }
        Ok(())
    }

    /// Sets how a participant's seat is segmented (`None`: the engine's, the factory of
    /// [`Compositor::set_segmenter`] or [`CompositorOptions::segment`]); e.g.
    /// [`SegmentMode::Alpha`]'s factory for someone who sends their own alpha in an `ml`
    /// meeting (`SegmenterConfig { mode, ..Default::default() }.factory()` builds one). The
    /// seat's segmenter is rebuilt and the seat re-renders on the next tick.
    pub fn set_segmenter_of(
        &mut self,
        id: &str,
        factory: Option<SegmenterFactory>,
    ) -> Result<(), ComposeError> {
        let p = self
            .participants
            .get_mut(id)
            .ok_or_else(|| ComposeError::UnknownParticipant(id.to_string()))?;
        let same = match (&p.segmenter, &factory) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if !same {
            p.segmenter = factory;
            let seat = self.seating.seat_of(id);
            if let Some(s) = seat.and_then(|s| self.segmenters.get_mut(s)) {
                *s = None;
            }
            self.invalidate([seat]);
        }
        Ok(())
    }

    /// The head the framing of `id`'s seat last found and the window the seat shows now,
    /// both in their frame's pixels (`None`: not seated, no frame-level estimate, or nobody
    /// found yet).
    pub fn framing_of(&self, id: &str) -> Option<(HeadEstimate, FrameWindow)> {
        let seat = self.seating.seat_of(id)?;
        let rect = self.layout.seat_rect(seat)?;
        let framer = &self.slots.get(seat)?.framer;
        let aspect = rect.width as f32 / rect.height.max(1) as f32;
        Some((framer.head()?, framer.window(aspect)?))
    }

    /// Reserves seats for organizers, co-organizers and presenters ([`Reservation`]; none by
    /// default). Nobody moves; the rule applies to later scenes too ([`Seating::set_reservation`]).
    pub fn set_reservation(&mut self, reservation: Reservation) -> Result<(), ComposeError> {
        self.seating.set_reservation(&self.scene, reservation)?;
        Ok(())
    }

    /// Makes the free `seat` remember `id` ([`Seating::remember`]): `id` takes it when they
    /// join, if nobody sat there in between.
    pub fn remember_seat(&mut self, seat: usize, id: &str) {
        self.seating.remember(seat, id);
    }

    /// Who sits where, as a [`SeatLayout`] (participant id -> `seatingOrder`).
    pub fn seat_layout(&self) -> SeatLayout {
        self.seating.layout(&self.scene)
    }

    /// Moves seated participants to the seats `layout` gives them; returns the entries skipped
    /// ([`Seating::apply_layout`]).
    pub fn apply_seat_layout(&mut self, layout: &SeatLayout) -> Vec<LayoutSkip> {
        let skipped = self.seating.apply_layout(&self.scene, layout);
        // Rare: every seat re-renders.
        for s in &mut self.slots {
            s.key = None;
        }
        skipped
    }

    /// Moves a seated participant to a free seat.
    pub fn assign_seat(&mut self, id: &str, seat: usize) -> Result<(), ComposeError> {
        let old = self.seating.seat_of(id);
        self.seating.assign(id, seat)?;
        self.invalidate([old, Some(seat)]);
        Ok(())
    }

    /// Swaps two seated participants.
    pub fn swap_seats(&mut self, a: &str, b: &str) -> Result<(), ComposeError> {
        self.seating.swap(a, b)?;
        let (sa, sb) = (self.seating.seat_of(a), self.seating.seat_of(b));
        self.invalidate([sa, sb]);
        Ok(())
    }

    fn invalidate<const N: usize>(&mut self, seats: [Option<usize>; N]) {
        for s in seats.into_iter().flatten() {
            // Stale (an empty id matches nobody), the key's string kept for the re-render:
            // a participant whose framing changes every tick allocates nothing.
            if let Some(key) = self.slots.get_mut(s).and_then(|slot| slot.key.as_mut()) {
                key.participant.clear();
            }
        }
    }

    /// Switches to another scene; everybody whose seat index exists keeps it. Returns the
    /// ids that found no seat in the new scene (they are removed).
    pub fn set_scene(&mut self, scene: Scene) -> Result<Vec<String>, ComposeError> {
        let layout = Layout::new(
            &scene,
            self.options.width,
            self.options.height,
            self.options.color,
        )?;
        let dropped = self.seating.change_scene(&scene);
        for id in &dropped {
            self.participants.remove(id);
        }
        self.slots = (0..scene.seats.len()).map(|_| SeatSlot::new()).collect();
        self.segmenters = (0..scene.seats.len()).map(|_| None).collect();
        self.layout = layout;
        self.view = scene.extent;
        self.view_shown = false;
        self.scene = scene;
        self.full_redraw = true;
        Ok(dropped)
    }

    /// Changes the output size (even sides). Seats re-render at their new sizes.
    pub fn set_output_size(&mut self, width: u32, height: u32) -> Result<(), ComposeError> {
        let options = self.options.with_size(width, height);
        check_size(&options)?;
        self.layout = Layout::with_view(&self.scene, &self.view, width, height, options.color)?;
        self.output = Frame::black(PixelFormat::I420, width, height, options.color)?;
        self.options = options;
        self.full_redraw = true;
        for s in &mut self.slots {
            s.key = None;
        }
        Ok(())
    }

    /// The ACS seating map: participant id to CSS rectangle within a `scene_size` box. With
    /// autoZoom, the seats are placed through the view the zoom settles on for the people
    /// seated now ([`Compositor::zoom_target`]); while the view moves there (about half a
    /// second after a join or a leave) the frames show them on the way.
    pub fn seating_map(&self, scene_size: (u32, u32)) -> SeatingMap {
        self.seating.seating_map_in_view(
            &self.scene,
            &self.zoom_target(),
            (self.options.width, self.options.height),
            scene_size,
        )
    }

    /// Whether autoZoom is on: the options' override, else the scene's `autoZoom`.
    pub fn auto_zoom(&self) -> bool {
        self.options.auto_zoom.unwrap_or(self.scene.auto_zoom)
    }

    /// The window of the scene (world units) the last rendered frame showed: the scene's
    /// extent unless autoZoom.
    pub fn view(&self) -> Extent {
        self.view
    }

    /// The window of the scene (world units) autoZoom settles on for the people seated now
    /// ([`crate::zoom::zoom_window`]); the scene's extent when autoZoom is off or does not
    /// zoom.
    pub fn zoom_target(&self) -> Extent {
        if !self.auto_zoom() {
            return self.scene.extent;
        }
        let seats = &self.scene.seats;
        let occupied = self
            .seating
            .occupied()
            .filter_map(|(i, _)| seats.get(i).map(|s| &s.rect));
        zoom_window(&self.scene.extent, occupied).unwrap_or(self.scene.extent)
    }

    /// Moves the view one tick toward [`Compositor::zoom_target`] (the first tick jumps);
    /// when it moved, the layout follows and the whole frame is redrawn.
    fn update_view(&mut self) -> Result<(), ComposeError> {
        let target = self.zoom_target();
        let next = if self.view_shown {
            step_view(&self.view, &target, self.options.width)
        } else {
            target
        };
        self.view_shown = true;
        if next == self.view {
            return Ok(());
        }
        self.layout = Layout::with_view(
            &self.scene,
            &next,
            self.options.width,
            self.options.height,
            self.options.color,
        )?;
        self.view = next;
        self.full_redraw = true;
        Ok(())
    }

    /// Renders one tick into the compositor's own I420 frame and returns a view of it.
    ///
    /// Only what changed is redrawn: seats whose frame or geometry changed are re-rendered,
    /// and only their rectangles of the frame are recomposed (from every layer, so sprites
    /// in front and overlapping seats stay right). A tick where nothing changed costs
    /// almost nothing.
    pub fn render(&mut self) -> Result<FrameRef<'_>, ComposeError> {
        self.update_view()?;
        self.render_seats()?;
        self.compose_own()?;
        Ok(self.output.as_ref())
    }

    /// Recomposes the damaged parts (or all) of the engine's own frame.
    fn compose_own(&mut self) -> Result<(), ComposeError> {
        let (w, h) = (self.options.width, self.options.height);
        self.damage.clear();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let visible = slot.key.is_some();
            if slot.rendered || visible != slot.shown {
                if let Some(r) = self.layout.seat_rect(i).map(|r| r.clip(w, h)) {
                    if !r.is_empty() {
                        self.damage.push(r);
                    }
                }
            }
            slot.shown = visible;
            slot.rendered = false;
        }
        let damage = if self.full_redraw {
            None
        } else if self.damage.is_empty() {
            return Ok(());
        } else {
            Some(&self.damage[..])
        };
        compose_slots(
            &self.layout,
            &self.slots,
            &mut self.output.as_mut(),
            self.level,
            self.options.parallel,
            damage,
        )?;
        self.full_redraw = false;
        Ok(())
    }

    /// Renders one tick into a caller's buffer: I420 (composed in place, whole) or
    /// RGBA/BGRA (the engine's own frame, converted). The size must be the output size.
    pub fn render_into(&mut self, out: &mut FrameMut<'_>) -> Result<(), ComposeError> {
        let (w, h) = (self.options.width, self.options.height);
        let ok_format = matches!(
            out.format(),
            PixelFormat::I420 | PixelFormat::Rgba | PixelFormat::Bgra
        );
        if !ok_format || (out.width(), out.height()) != (w, h) {
            return Err(ComposeError::OutputMismatch {
                expected_format: PixelFormat::I420,
                expected: (w, h),
                found_format: out.format(),
                found: (out.width(), out.height()),
            });
        }
        self.update_view()?;
        self.render_seats()?;
        if out.format() == PixelFormat::I420 {
            // The caller's buffer holds anything: compose it whole. The seats' new renders
            // are not in our own frame yet, so it is redrawn whole next time.
            self.full_redraw = true;
            return compose_slots(
                &self.layout,
                &self.slots,
                out,
                self.level,
                self.options.parallel,
                None,
            );
        }
        self.compose_own()?;
        crate::color::convert(&self.output.as_ref(), out)?;
        Ok(())
    }

    /// Brings every occupied seat's render up to date; unchanged seats are skipped.
    fn render_seats(&mut self) -> Result<(), ComposeError> {
        let seating = &self.seating;
        let participants = &self.participants;
        let layout = &self.layout;
        let factory = &self.factory;
        let framing = self.options.framing;
        let style = SeatStyle {
            mirror: self.scene.mirror_participants,
            opacity: self.options.opacity_u8(),
            color: self.options.color,
            scaler: self.options.filter.scaler(),
            level: self.level,
        };
        let work = |(i, (slot, segmenter)): (usize, (&mut SeatSlot, &mut SeatSegmenter))| -> Result<(), ComposeError> {
            let Some(id) = seating.occupant(i) else {
                slot.key = None;
                *segmenter = None;
                return Ok(());
            };
            let Some(p) = participants.get(id) else {
                slot.key = None;
                return Ok(());
            };
            let Some(frame) = &p.frame else {
                slot.key = None;
                return Ok(());
            };
            let Some(rect) = layout.seat_rect(i) else { return Ok(()) };
            let (w, h) = (rect.width as usize, rect.height as usize);
            // A seat a zoomed view leaves wholly outside the picture is not drawn.
            if w < 2 || h < 2 || rect.intersect(&layout.picture()).is_empty() {
                slot.key = None;
                return Ok(());
            }
            let fresh = slot
                .key
                .as_ref()
                .is_some_and(|k| k.participant == id && k.generation == p.generation && k.width == w && k.height == h);
            if fresh {
                return Ok(());
            }
            if segmenter.as_ref().is_none_or(|(who, _)| who != id) {
                let own = p.segmenter.as_ref().unwrap_or(factory);
                *segmenter = Some((id.to_string(), own()));
                slot.framer.reset();
            }
            let Some((_, seg)) = segmenter.as_mut() else { return Ok(()) };
            // Invalid until the render succeeds; the key's string is reused, not reallocated.
            let mut key = slot.key.take().unwrap_or_default();
            let sp = SeatParams {
                width: w,
                height: h,
                participant: id,
                pts: p.pts,
                dim: p.dim.unwrap_or(255),
                style,
            };
            // The next seat's first source rows, to arrive while this one is rendered.
            if let Some(next) = seating
                .occupant(i + 1)
                .and_then(|id| participants.get(id))
                .and_then(|p| p.frame.as_ref())
            {
                if let Some(r) = layout.seat_rect(i + 1) {
                    prefetch_seat(&next.as_ref(), r.width.max(0) as usize, r.height.max(0) as usize);
                }
            }
            // Framing: the window for this frame (advanced once per new frame), then the
            // segmenter's map of this frame updates the estimate for the next.
            let mode = p.framing.unwrap_or(framing.mode);
            let fsize = (frame.width(), frame.height());
            let aspect = w as f32 / h as f32;
            let window = match mode {
                FramingMode::Off => None,
                FramingMode::Auto => slot.framer.advance(fsize, aspect, &framing),
                FramingMode::Fixed { x, y, width, height } => fixed_window(
                    Rect::new(x.into(), y.into(), width.into(), height.into()),
                    fsize,
                    aspect,
                ),
            };
            match window {
                None => render_seat(&mut slot.scratch, &mut slot.render, seg.as_mut(), &frame.as_ref(), &sp)?,
                Some(win) => render_seat_placed(
                    &mut slot.scratch,
                    &mut slot.inner,
                    &mut slot.render,
                    seg.as_mut(),
                    &frame.as_ref(),
                    &sp,
                    Placement::new(win, fsize, (w, h)),
                    framing.bottom_fade,
                )?,
            }
            if mode == FramingMode::Auto {
                slot.framer.observe(seg.person_map(), aspect, &framing);
            }
            slot.rendered = true;
            key.participant.clear();
            key.participant.push_str(id);
            (key.generation, key.width, key.height) = (p.generation, w, h);
            slot.key = Some(key);
            Ok(())
        };
        if self.options.parallel {
            self.slots
                .par_iter_mut()
                .zip(self.segmenters.par_iter_mut())
                .enumerate()
                .try_for_each(work)
        } else {
            self.slots
                .iter_mut()
                .zip(self.segmenters.iter_mut())
                .enumerate()
                .try_for_each(work)
        }
    }
}

/// Composes the layout with the seats' current renders (seats without a valid render are
/// left empty).
fn compose_slots(
    layout: &Layout,
    slots: &[SeatSlot],
    out: &mut FrameMut<'_>,
    level: SimdLevel,
    parallel: bool,
    damage: Option<&[Rect]>,
) -> Result<(), ComposeError> {
    let lookup = |i: usize| -> Option<&SeatRender> {
        let slot = slots.get(i)?;
        slot.key.as_ref()?;
        Some(&slot.render)
    };
    compose(layout, &lookup, out, level, parallel, damage)
}
