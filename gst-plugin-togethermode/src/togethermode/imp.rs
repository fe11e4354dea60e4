//! The `togethermode` element: a `GstVideoAggregator` subclass driving a
//! [`together_mode::Compositor`].
//!
//! # How it maps onto the engine
//!
//! - Each sink pad is one participant: it joins the engine when requested (as its
//!   `participant-id`, default the pad name, with its `role`) and leaves when released.
//!   Changing either property re-joins and keeps the seat when it can.
//! - The base class picks, per output tick, the newest buffer of every pad whose time has
//!   come and holds it while no newer one is due; `aggregate_frames` hands each new buffer
//!   to the engine without copying: a [`Frame::from_shared`] over the buffer mapped readable
//!   (the engine keeps the latest frame per participant across ticks, so it keeps a reference
//!   to the buffer until the pad's next one replaces it, via [`Compositor::push`]). A buffer
//!   whose planes are not inside one mapping (several memories) is viewed as a strided
//!   [`FrameRef`] and copied in with [`Compositor::push_ref`] instead. A pad whose buffer did
//!   not change since the last tick is not pushed again, so the engine's seat cache skips its
//!   re-render.
//! - The output buffer is mapped writable and the engine composes straight into it
//!   ([`Compositor::render_into`]): I420 in place, RGBA through the engine's conversion.
//! - Scene, segmentation and seat opacity live in the engine's construction; changing them
//!   builds a new engine and carries the seating over (same seats where they exist).
//!
//! # Locks
//!
//! `state` (the engine) is taken before a pad's `state`; `settings` and a pad's `settings`
//! are leaves (nothing is locked while holding them). Bus messages are posted with no lock
//! held, and the base class's own lock (held around `aggregate_frames`) is never requested
//! while `state` is held: pads are released by the parent only after `state` is dropped.

use std::ops::ControlFlow;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::subclass::AggregateFramesToken;

use together_mode::error::{ComposeError, FrameError, SceneError};
use together_mode::frame::{
    ColorSpec, Frame, FrameMut, FrameRef, Matrix, PixelFormat, PlaneMut, PlaneRef, Range,
    SharedBytes,
};
use together_mode::meeting::IdentityKind;
use together_mode::scene::SceneLimits;
use together_mode::segment::{SegmentMode, SegmentModeError, SegmenterFactory};
use together_mode::{Compositor, CompositorOptions, Role, Scene};

use super::{
    grid_participants, parse_identity_kind, parse_role, parse_size, role_name, PARTICIPANTS_FIELD,
    SEATING_FIELD, SEATING_MESSAGE,
};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "togethermode",
        gst::DebugColorFlags::empty(),
        Some("Together Mode compositor"),
    )
});

const DEFAULT_SCENE: &str = "builtin:auditorium";
const DEFAULT_SEGMENT: SegmentMode = SegmentMode::Alpha;
const DEFAULT_SEAT_OPACITY: f64 = 1.0;
const DEFAULT_OUTPUT: (u32, u32) = (1920, 1080);
/// World size of `builtin:gridN` scenes (the benchmark's canvas).
const GRID_WORLD: (u32, u32) = (1920, 1080);
const DEFAULT_FPS: (i32, i32) = (30, 1);
/// Largest input side (the engine's `MAX_DIMENSION`).
const MAX_INPUT: i32 = 16384;

/// Locks a mutex; a poisoned lock (a panic elsewhere) still yields the data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why an engine could not be built from the settings.
#[derive(Debug, thiserror::Error)]
enum BuildError {
    #[error("cannot open scene {spec:?}: {source}")]
    Scene {
        spec: String,
        #[source]
        source: SceneError,
    },
    #[error("segment mode {mode}: {source}")]
    Segment {
        mode: SegmentMode,
        #[source]
        source: SegmentModeError,
    },
    #[cfg(not(feature = "ml"))]
    #[error(
        "segment mode ml needs the plugin built with its `ml` feature (cargo build --features ml)"
    )]
    MlNotBuilt,
    #[cfg(feature = "ml")]
    #[error("segment mode ml needs model-path: the selfie model's .tflite file (scripts/fetch-model.sh)")]
    NoModel,
    #[cfg(feature = "ml")]
    #[error("cannot load model-path {path:?}: {source}")]
    Model {
        path: String,
        #[source]
        source: together_mode::segment::ml::MlError,
    },
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// Why a GStreamer frame could not be viewed as an engine frame.
#[derive(Debug, thiserror::Error)]
enum MapError {
    #[error("unsupported video format {0:?}")]
    Format(gst_video::VideoFormat),
    #[error("plane {plane} has a negative stride ({stride})")]
    Stride { plane: usize, stride: i32 },
    #[error("plane {0} is not mapped")]
    Plane(usize),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

fn pixel_format(format: gst_video::VideoFormat) -> Result<PixelFormat, MapError> {
    use gst_video::VideoFormat as V;
    match format {
        V::I420 => Ok(PixelFormat::I420),
        V::Nv12 => Ok(PixelFormat::Nv12),
        V::Rgba => Ok(PixelFormat::Rgba),
        V::Bgra => Ok(PixelFormat::Bgra),
        other => Err(MapError::Format(other)),
    }
}

/// The engine's colour tag for a GStreamer colorimetry (BT.709 or else BT.601; full or
/// limited range).
fn color_spec(info: &gst_video::VideoInfo) -> ColorSpec {
    let c = info.colorimetry();
    ColorSpec {
        matrix: if c.matrix() == gst_video::VideoColorMatrix::Bt709 {
            Matrix::Bt709
        } else {
            Matrix::Bt601
        },
        range: if c.range() == gst_video::VideoColorRange::Range0_255 {
            Range::Full
        } else {
            Range::Limited
        },
    }
}

fn stride(strides: &[i32], plane: usize) -> Result<usize, MapError> {
    let s = *strides.get(plane).ok_or(MapError::Plane(plane))?;
    usize::try_from(s).map_err(|_| MapError::Stride { plane, stride: s })
}

/// Views a mapped GStreamer frame as an engine frame, without copying.
fn frame_ref<'a>(
    frame: &'a gst_video::VideoFrameRef<&'a gst::BufferRef>,
) -> Result<FrameRef<'a>, MapError> {
    let format = pixel_format(frame.format())?;
    let (w, h) = (frame.width(), frame.height());
    let color = color_spec(frame.info());
    let plane = |i: usize| -> Result<PlaneRef<'a>, MapError> {
        let (pw, ph) = format.plane_size(i, w, h);
        let data = frame.plane_data(i as u32).map_err(|_| MapError::Plane(i))?;
        Ok(PlaneRef::new(
            data,
            pw,
            ph,
            stride(frame.plane_stride(), i)?,
        )?)
    };
    let frame = match format.plane_count() {
        1 => FrameRef::new(format, w, h, color, &[plane(0)?]),
        2 => FrameRef::new(format, w, h, color, &[plane(0)?, plane(1)?]),
        _ => FrameRef::new(format, w, h, color, &[plane(0)?, plane(1)?, plane(2)?]),
    }?;
    Ok(frame)
}

/// An engine frame sharing a pad buffer's memory (no copy): the buffer stays referenced and
/// mapped until the engine drops the frame (when the pad's next buffer replaces it). `None`
/// when the planes do not lie inside one mapping of the whole buffer (several memories, or
/// memory that maps elsewhere); the caller copies then.
fn shared_frame(
    frame: &gst_video::VideoFrameRef<&gst::BufferRef>,
) -> Result<Option<Frame>, MapError> {
    let format = pixel_format(frame.format())?;
    let buffer = frame.buffer();
    // Mapping a buffer of several memories would merge them into a new one: a copy.
    if buffer.n_memory() != 1 {
        return Ok(None);
    }
    let Ok(mapped) = buffer.to_owned().into_mapped_buffer_readable() else {
        return Ok(None);
    };
    let (base, len) = (mapped.as_ptr() as usize, mapped.len());
    let n = format.plane_count();
    let mut layout = [(0usize, 0usize); 4];
    for (i, slot) in layout.iter_mut().enumerate().take(n) {
        let data = frame.plane_data(i as u32).map_err(|_| MapError::Plane(i))?;
        let inside = (data.as_ptr() as usize)
            .checked_sub(base)
            .filter(|&offset| offset.saturating_add(data.len()) <= len);
        let Some(offset) = inside else {
            return Ok(None);
        };
        *slot = (offset, stride(frame.plane_stride(), i)?);
    }
    let data: SharedBytes = Arc::new(mapped);
    let color = color_spec(frame.info());
    let (w, h) = (frame.width(), frame.height());
    Ok(Some(Frame::from_shared(
        format,
        w,
        h,
        color,
        &layout[..n],
        data,
    )?))
}

/// Views a writable GStreamer frame as an engine frame, without copying.
fn frame_mut<'a>(
    frame: &'a mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    color: ColorSpec,
) -> Result<FrameMut<'a>, MapError> {
    let format = pixel_format(frame.format())?;
    let (w, h) = (frame.width(), frame.height());
    let strides: [i32; 4] = {
        let s = frame.plane_stride();
        std::array::from_fn(|i| s.get(i).copied().unwrap_or(0))
    };
    let n = format.plane_count();
    // No list is allocated per tick: the planes go into a fixed array.
    let mut planes: [Option<PlaneMut<'a>>; 4] = [None, None, None, None];
    let datas = frame.planes_data_mut().into_iter().take(n);
    for (i, (data, slot)) in datas.zip(planes.iter_mut()).enumerate() {
        let (pw, ph) = format.plane_size(i, w, h);
        *slot = Some(PlaneMut::new(data, pw, ph, stride(&strides, i)?)?);
    }
    Ok(FrameMut::new(
        format,
        w,
        h,
        color,
        planes.into_iter().flatten(),
    )?)
}

fn open_scene(spec: &str) -> Result<Scene, BuildError> {
    let scene = match grid_participants(spec) {
        Some(n) => Scene::grid(n, GRID_WORLD.0, GRID_WORLD.1),
        None => Scene::open(spec, &SceneLimits::default()),
    };
    scene.map_err(|source| BuildError::Scene {
        spec: spec.to_string(),
        source,
    })
}

/// The loaded selfie model and the `model-path` it came from, kept across engine rebuilds.
#[cfg(feature = "ml")]
type ModelCache = Option<(String, together_mode::segment::ml::SelfieModel)>;
#[cfg(not(feature = "ml"))]
type ModelCache = ();

/// The segmenter factory for the settings' `segment` mode. `ml` runs the selfie model from
/// `model-path` (feature `ml`); `auto` uses it as its fallback when `model-path` is set, else
/// the background model, as [`SegmentMode::factory`] decides.
fn segmenter(settings: &Settings, cache: &mut ModelCache) -> Result<SegmenterFactory, BuildError> {
    let mode = settings.segment;
    let ml = match mode {
        SegmentMode::Ml | SegmentMode::Auto => ml_factory(
            settings.model_path.as_deref(),
            mode == SegmentMode::Ml,
            cache,
        )?,
        _ => None,
    };
    mode.factory(ml)
        .map_err(|source| BuildError::Segment { mode, source })
}

/// The ML segmenters' factory for `path` (the seats of one engine share one scheduler), or
/// `None` without a path when the model is optional (`auto`).
#[cfg(feature = "ml")]
fn ml_factory(
    path: Option<&str>,
    required: bool,
    cache: &mut ModelCache,
) -> Result<Option<SegmenterFactory>, BuildError> {
    use together_mode::segment::ml::{MlShared, ScheduleOptions, SelfieModel};
    let Some(path) = path else {
        return if required {
            Err(BuildError::NoModel)
        } else {
            Ok(None)
        };
    };
    let model = match cache {
        Some((cached, model)) if cached == path => model.clone(),
        _ => {
            let model = SelfieModel::from_file(path).map_err(|source| BuildError::Model {
                path: path.to_string(),
                source,
            })?;
            *cache = Some((path.to_string(), model.clone()));
            model
        }
    };
    Ok(Some(
        MlShared::new(model, ScheduleOptions::default()).factory(),
    ))
}

/// Without the `ml` feature: `ml` is refused, `auto` falls back to the background model.
#[cfg(not(feature = "ml"))]
fn ml_factory(
    _path: Option<&str>,
    required: bool,
    _cache: &mut ModelCache,
) -> Result<Option<SegmenterFactory>, BuildError> {
    if required {
        return Err(BuildError::MlNotBuilt);
    }
    Ok(None)
}

// ------------------------------------------------------------------------------------------
// The sink pad
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct PadSettings {
    participant_id: Option<String>,
    role: Role,
    /// `None`: from the participant id ([`IdentityKind::from_raw_id`]).
    kind: Option<IdentityKind>,
}

impl Default for PadSettings {
    fn default() -> Self {
        Self {
            participant_id: None,
            role: Role::Attendee,
            kind: None,
        }
    }
}

/// What the engine knows of a pad.
#[derive(Debug, Default)]
struct PadState {
    /// The identity the pad is seated as; `None` while not seated (scene full, duplicate id).
    joined: Option<(String, Role)>,
    /// The buffer (address and PTS) last pushed into the engine, and the engine epoch.
    pushed: Option<(usize, Option<gst::ClockTime>, u64)>,
}

/// A `togethermode` sink pad.
#[derive(Default)]
pub struct TogetherModePad {
    settings: Mutex<PadSettings>,
    state: Mutex<PadState>,
}

impl TogetherModePad {
    /// The identity the pad asks for: its `participant-id` (else its name) and `role`.
    fn wanted(&self) -> (String, Role) {
        let s = lock(&self.settings);
        let id = match &s.participant_id {
            Some(id) => id.clone(),
            None => self.obj().name().to_string(),
        };
        (id, s.role)
    }

    /// The identity kind in force: `identity-kind`, else the one the id names.
    fn kind(&self, id: &str) -> IdentityKind {
        lock(&self.settings)
            .kind
            .unwrap_or_else(|| IdentityKind::from_raw_id(id))
    }
}

#[glib::object_subclass]
impl ObjectSubclass for TogetherModePad {
    const NAME: &'static str = "GstTogetherModePad";
    type Type = super::TogetherModePad;
    type ParentType = gst_video::VideoAggregatorPad;
}

impl ObjectImpl for TogetherModePad {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("participant-id")
                    .nick("Participant id")
                    .blurb("The participant's raw id (e.g. 8:acs:...); default: the pad name")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("role")
                    .nick("Role")
                    .blurb("organizer, co-organizer, presenter or attendee")
                    .default_value(Some(role_name(Role::Attendee)))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("identity-kind")
                    .nick("Identity kind")
                    .blurb("auto (from the participant id: 8:orgid: microsoft365, 8:acs: communicationServices, 8:teamsvisitor: teamsVisitor, else other) or one of those names; reads back the kind in force")
                    .default_value(Some("auto"))
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "participant-id" => {
                let id: Option<String> = value.get().expect("type checked upstream");
                lock(&self.settings).participant_id = id.filter(|s| !s.is_empty());
            }
            "identity-kind" => {
                let name: Option<String> = value.get().expect("type checked upstream");
                let name = name.unwrap_or_else(|| "auto".to_string());
                match parse_identity_kind(&name) {
                    Some(kind) => lock(&self.settings).kind = kind,
                    None => {
                        glib::g_warning!(
                            "togethermode",
                            "{}: unknown identity-kind {:?} (expected auto, microsoft365, communicationServices, teamsVisitor or other); keeping the old one",
                            self.obj().name(),
                            name
                        );
                        return;
                    }
                }
            }
            "role" => {
                let name: Option<String> = value.get().expect("type checked upstream");
                let name = name.unwrap_or_else(|| role_name(Role::Attendee).to_string());
                match parse_role(&name) {
                    Some(role) => lock(&self.settings).role = role,
                    None => {
                        glib::g_warning!(
                            "togethermode",
                            "{}: unknown role {:?} (expected organizer, co-organizer, presenter or attendee); keeping the old one",
                            self.obj().name(),
                            name
                        );
                        return;
                    }
                }
            }
            _ => unimplemented!(),
        }
        if let Some(agg) = self.obj().parent().and_downcast::<super::TogetherMode>() {
            agg.imp().reseat(&self.obj());
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "participant-id" => self.wanted().0.to_value(),
            "role" => role_name(lock(&self.settings).role).to_value(),
            "identity-kind" => {
                let id = self.wanted().0;
                self.kind(&id).name().to_value()
            }
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for TogetherModePad {}
impl PadImpl for TogetherModePad {}
impl AggregatorPadImpl for TogetherModePad {}
impl VideoAggregatorPadImpl for TogetherModePad {}

// ------------------------------------------------------------------------------------------
// The element
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Settings {
    scene: String,
    segment: SegmentMode,
    model_path: Option<String>,
    seat_opacity: f64,
    scene_size: (u32, u32),
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            scene: DEFAULT_SCENE.to_string(),
            segment: DEFAULT_SEGMENT,
            model_path: None,
            seat_opacity: DEFAULT_SEAT_OPACITY,
            scene_size: together_mode::seating::DEFAULT_SCENE_SIZE,
        }
    }
}

struct State {
    /// Built on first need (a pad request, start, or negotiation) and rebuilt when the
    /// scene, segmentation, opacity, output size or colour change.
    engine: Option<Compositor>,
    /// Output size and colour the engine renders (from the source caps).
    output: (u32, u32),
    color: ColorSpec,
    /// Bumped with every new engine: pads push their held buffer again.
    epoch: u64,
    /// The seating map JSON and participants last posted on the bus.
    posted: Option<Seating>,
    /// The selfie model last loaded (feature `ml`), so rebuilds do not read it again.
    model: ModelCache,
}

impl Default for State {
    fn default() -> Self {
        Self {
            engine: None,
            output: DEFAULT_OUTPUT,
            color: ColorSpec::default(),
            epoch: 0,
            posted: None,
            model: ModelCache::default(),
        }
    }
}

/// What a seating message tells: the seating map JSON and who is seated as what.
#[derive(Debug, Clone, PartialEq)]
struct Seating {
    map: String,
    seated: Vec<(String, IdentityKind, Role)>,
}

/// The `togethermode` element.
#[derive(Default)]
pub struct TogetherMode {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

impl TogetherMode {
    /// Builds a new engine from `settings` and the state's output, carrying the seating of
    /// the current engine over, then seats every pad. On error the current engine stays.
    fn rebuild(&self, state: &mut State, settings: &Settings) -> Result<(), BuildError> {
        let scene = open_scene(&settings.scene)?;
        let options = CompositorOptions::default()
            .with_size(state.output.0, state.output.1)
            .with_color(state.color)
            .with_seat_opacity(settings.seat_opacity as f32);
        let mut engine = Compositor::new(scene, options)?;
        engine.set_segmenter(segmenter(settings, &mut state.model)?);
        if let Some(old) = &state.engine {
            for (seat, id) in old.seating().occupied() {
                let role = old.seating().role_of(id).unwrap_or(Role::Attendee);
                if let Ok(got) = engine.join(id, role) {
                    if got != seat {
                        // Keep the old seat where the new scene has it free.
                        let _ = engine.assign_seat(id, seat);
                    }
                }
            }
        }
        gst::debug!(
            CAT,
            imp = self,
            "engine: scene {}, {}x{}, {:?}, segment {}, opacity {}",
            settings.scene,
            state.output.0,
            state.output.1,
            state.color,
            settings.segment,
            settings.seat_opacity
        );
        state.engine = Some(engine);
        state.epoch += 1;
        self.reseat_all(state);
        Ok(())
    }

    /// Builds the engine if there is none yet.
    fn ensure_engine(&self, state: &mut State) -> Result<(), BuildError> {
        if state.engine.is_none() {
            let settings = lock(&self.settings).clone();
            self.rebuild(state, &settings)?;
        }
        Ok(())
    }

    /// Seats `pad` as the identity it asks for; returns a warning when it cannot be seated.
    fn reseat_pad(&self, state: &mut State, pad: &super::TogetherModePad) -> Option<String> {
        let engine = state.engine.as_mut()?;
        let wanted = pad.imp().wanted();
        let mut ps = lock(&pad.imp().state);
        if let Some(joined) = &ps.joined {
            if *joined == wanted && engine.seating().seat_of(&joined.0).is_some() {
                return None;
            }
        }
        let old_seat = ps.joined.take().and_then(|(id, _)| {
            let seat = engine.seating().seat_of(&id);
            engine.leave(&id);
            seat
        });
        ps.pushed = None;
        match engine.join(&wanted.0, wanted.1) {
            Ok(seat) => {
                if let Some(old) = old_seat.filter(|&old| old != seat) {
                    // Keep the seat when only the identity changed.
                    let _ = engine.assign_seat(&wanted.0, old);
                }
                ps.joined = Some(wanted);
                None
            }
            Err(e) => Some(format!(
                "pad {}: participant {:?} is not seated: {e}",
                pad.name(),
                wanted.0
            )),
        }
    }

    /// Seats every sink pad that is not seated as what it asks for (in request order).
    fn reseat_all(&self, state: &mut State) {
        for pad in self.obj().sink_pads() {
            if let Some(pad) = pad.downcast_ref::<super::TogetherModePad>() {
                if let Some(w) = self.reseat_pad(state, pad) {
                    gst::warning!(CAT, imp = self, "{w}");
                }
            }
        }
    }

    /// Re-seats one pad after a request or a change of its identity, then tells the bus.
    fn reseat(&self, pad: &super::TogetherModePad) {
        let (warning, map) = {
            let mut state = lock(&self.state);
            let warning = match self.ensure_engine(&mut state) {
                Ok(()) => self.reseat_pad(&mut state, pad),
                Err(e) => Some(format!("pad {}: not seated: {e}", pad.name())),
            };
            (warning, self.changed_map(&mut state))
        };
        if let Some(w) = warning {
            gst::element_imp_warning!(self, gst::StreamError::Failed, ["{}", w]);
        }
        self.post_map(map);
    }

    fn map_json(&self, state: &State) -> String {
        let size = lock(&self.settings).scene_size;
        match &state.engine {
            Some(engine) => engine.seating_map(size).to_json(),
            None => "{}".to_string(),
        }
    }

    /// Who is seated, in pad order: (participant id, identity kind, role).
    fn seated(&self) -> Vec<(String, IdentityKind, Role)> {
        self.obj()
            .sink_pads()
            .iter()
            .filter_map(|p| {
                let pad = p.downcast_ref::<super::TogetherModePad>()?;
                let (id, role) = lock(&pad.imp().state).joined.clone()?;
                let kind = pad.imp().kind(&id);
                Some((id, kind, role))
            })
            .collect()
    }

    /// The seating if it differs from the one last posted (and marks it posted).
    fn changed_map(&self, state: &mut State) -> Option<Seating> {
        let now = Seating {
            map: self.map_json(state),
            seated: self.seated(),
        };
        if state.posted.as_ref() == Some(&now) {
            return None;
        }
        state.posted = Some(now.clone());
        Some(now)
    }

    /// Posts the seating as an element message (call with no lock held).
    fn post_map(&self, seating: Option<Seating>) {
        let Some(seating) = seating else { return };
        let people = gst::Array::new(seating.seated.iter().map(|(id, kind, role)| {
            gst::Structure::builder("participant")
                .field("id", id)
                .field("identity-kind", kind.name())
                .field("role", role_name(*role))
                .build()
                .to_send_value()
        }));
        let s = gst::Structure::builder(SEATING_MESSAGE)
            .field(SEATING_FIELD, seating.map)
            .field(PARTICIPANTS_FIELD, people)
            .build();
        let msg = gst::message::Element::builder(s).src(&*self.obj()).build();
        // Without a bus (an element outside any pipeline) there is nobody to tell.
        let _ = self.obj().post_message(msg);
    }

    /// The highest frame rate among the sink pads.
    fn fastest_input(&self) -> Option<gst::Fraction> {
        self.obj()
            .sink_pads()
            .iter()
            .filter_map(|p| {
                p.downcast_ref::<gst_video::VideoAggregatorPad>()?
                    .video_info()
            })
            .map(|info| info.fps())
            .filter(|f| f.numer() > 0 && f.denom() > 0)
            .max()
    }
}

#[glib::object_subclass]
impl ObjectSubclass for TogetherMode {
    const NAME: &'static str = "GstTogetherMode";
    type Type = super::TogetherMode;
    type ParentType = gst_video::VideoAggregator;
    type Interfaces = (gst::ChildProxy,);
}

impl ObjectImpl for TogetherMode {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("scene")
                    .nick("Scene")
                    .blurb("A Teams scene folder, builtin:auditorium, builtin:grid or builtin:gridN")
                    .default_value(Some(DEFAULT_SCENE))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("segment")
                    .nick("Segmentation")
                    .blurb("How seats are cut out: none, alpha (the input's own alpha), chroma, background, ml (the selfie model at model-path; feature ml), auto")
                    .default_value(Some(DEFAULT_SEGMENT.name()))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("model-path")
                    .nick("Model path")
                    .blurb("The selfie segmentation model (.tflite) for segment=ml (and auto's fallback); needs the plugin's ml feature")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("seat-opacity")
                    .nick("Seat opacity")
                    .blurb("Opacity of every seat")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_SEAT_OPACITY)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("scene-size")
                    .nick("Scene size")
                    .blurb("WIDTHxHEIGHT of the CSS-pixel box the seating map is expressed in")
                    .default_value(Some("1280x720"))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("seating-map")
                    .nick("Seating map")
                    .blurb("ACS seating map JSON: participant id -> {top, left, width, height}")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut state = lock(&self.state);
        let (old, new, rebuild) = {
            let mut settings = lock(&self.settings);
            let old = settings.clone();
            let rebuild = match pspec.name() {
                "scene" => {
                    let v: Option<String> = value.get().expect("type checked upstream");
                    settings.scene = v.unwrap_or_else(|| DEFAULT_SCENE.to_string());
                    true
                }
                "segment" => {
                    let v: Option<String> = value.get().expect("type checked upstream");
                    match v.map_or(Ok(DEFAULT_SEGMENT), |v| v.parse::<SegmentMode>()) {
                        Ok(mode) => settings.segment = mode,
                        Err(e) => {
                            glib::g_warning!("togethermode", "{}; keeping {}", e, settings.segment);
                            return;
                        }
                    }
                    true
                }
                "model-path" => {
                    let v: Option<String> = value.get().expect("type checked upstream");
                    settings.model_path = v.filter(|p| !p.is_empty());
                    matches!(settings.segment, SegmentMode::Ml | SegmentMode::Auto)
                }
                "seat-opacity" => {
                    settings.seat_opacity = value.get().expect("type checked upstream");
                    true
                }
                "scene-size" => {
                    let v: Option<String> = value.get().expect("type checked upstream");
                    match v.as_deref().and_then(parse_size) {
                        Some(size) => settings.scene_size = size,
                        None => {
                            glib::g_warning!(
                                "togethermode",
                                "scene-size {:?} is not WIDTHxHEIGHT; keeping {}x{}",
                                v,
                                settings.scene_size.0,
                                settings.scene_size.1
                            );
                            return;
                        }
                    }
                    false
                }
                _ => unimplemented!(),
            };
            (old, settings.clone(), rebuild)
        };
        let mut warning = None;
        // Before the engine exists, settings are only stored: the first build reports errors
        // (and `start` fails on them).
        if rebuild && state.engine.is_some() {
            if let Err(e) = self.rebuild(&mut state, &new) {
                warning = Some(format!("{e}; keeping the previous settings"));
                *lock(&self.settings) = old;
            }
        }
        let map = self.changed_map(&mut state);
        drop(state);
        if let Some(w) = warning {
            gst::element_imp_warning!(self, gst::LibraryError::Settings, ["{}", w]);
        }
        self.post_map(map);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "seating-map" {
            let state = lock(&self.state);
            return self.map_json(&state).to_value();
        }
        let settings = lock(&self.settings);
        match pspec.name() {
            "scene" => settings.scene.to_value(),
            "segment" => settings.segment.name().to_value(),
            "model-path" => settings.model_path.to_value(),
            "seat-opacity" => settings.seat_opacity.to_value(),
            "scene-size" => {
                format!("{}x{}", settings.scene_size.0, settings.scene_size.1).to_value()
            }
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for TogetherMode {}

impl ElementImpl for TogetherMode {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Together Mode compositor",
                "Filter/Editor/Video/Compositor",
                "Seats every input in one shared scene and emits one composed stream",
                "together-mode developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            use gst_video::VideoFormat as V;
            let src_caps = gst_video::VideoCapsBuilder::new()
                .format_list([V::I420, V::Rgba])
                .width_range(2..=together_mode::compositor::MAX_OUTPUT.0 as i32)
                .height_range(2..=together_mode::compositor::MAX_OUTPUT.1 as i32)
                .build();
            let sink_caps = gst_video::VideoCapsBuilder::new()
                .format_list([V::I420, V::Nv12, V::Rgba, V::Bgra])
                .width_range(1..=MAX_INPUT)
                .height_range(1..=MAX_INPUT)
                .build();
            vec![
                gst::PadTemplate::with_gtype(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src_caps,
                    gst_base::AggregatorPad::static_type(),
                )
                .expect("valid template"),
                gst::PadTemplate::with_gtype(
                    "sink_%u",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Request,
                    &sink_caps,
                    super::TogetherModePad::static_type(),
                )
                .expect("valid template"),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn request_new_pad(
        &self,
        templ: &gst::PadTemplate,
        name: Option<&str>,
        caps: Option<&gst::Caps>,
    ) -> Option<gst::Pad> {
        let pad = self.parent_request_new_pad(templ, name, caps)?;
        self.obj().child_added(&pad, &pad.name());
        if let Some(p) = pad.downcast_ref::<super::TogetherModePad>() {
            self.reseat(p);
        }
        Some(pad)
    }

    fn release_pad(&self, pad: &gst::Pad) {
        let map = {
            let mut state = lock(&self.state);
            if let Some(p) = pad.downcast_ref::<super::TogetherModePad>() {
                let mut ps = lock(&p.imp().state);
                if let (Some((id, _)), Some(engine)) = (ps.joined.take(), state.engine.as_mut()) {
                    engine.leave(&id);
                }
                ps.pushed = None;
            }
            self.changed_map(&mut state)
        };
        self.obj().child_removed(pad, &pad.name());
        self.parent_release_pad(pad);
        self.post_map(map);
    }
}

impl AggregatorImpl for TogetherMode {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        self.parent_start()?;
        let mut state = lock(&self.state);
        self.ensure_engine(&mut state)
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ["{}", e]))
    }

    /// Sink pads take any of the four input formats at any size, whatever the output is
    /// (the base class would tie them to the output's format and size).
    fn sink_query(&self, pad: &gst_base::AggregatorPad, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let templ = pad.pad_template_caps();
                let caps = match q.filter() {
                    Some(filter) => {
                        filter.intersect_with_mode(&templ, gst::CapsIntersectMode::First)
                    }
                    None => templ,
                };
                q.set_result(&caps);
                true
            }
            gst::QueryViewMut::AcceptCaps(q) => {
                let ok = q.caps().can_intersect(&pad.pad_template_caps());
                q.set_result(ok);
                true
            }
            _ => self.parent_sink_query(pad, query),
        }
    }

    /// Default output: 1920x1080 I420 (BT.601, limited range, like the engine) at the
    /// fastest input's frame rate (30/1 without inputs).
    fn fixate_src_caps(&self, caps: gst::Caps) -> gst::Caps {
        if caps.is_empty() || caps.is_any() {
            return caps;
        }
        let fps = self
            .fastest_input()
            .unwrap_or(gst::Fraction::new(DEFAULT_FPS.0, DEFAULT_FPS.1));
        let mut caps = caps;
        caps.truncate();
        if let Some(s) = caps.make_mut().structure_mut(0) {
            s.fixate_field_nearest_int("width", DEFAULT_OUTPUT.0 as i32);
            s.fixate_field_nearest_int("height", DEFAULT_OUTPUT.1 as i32);
            s.fixate_field_nearest_fraction("framerate", fps);
            if s.has_field("pixel-aspect-ratio") {
                s.fixate_field_nearest_fraction("pixel-aspect-ratio", gst::Fraction::new(1, 1));
            }
            s.fixate_field_str("format", "I420");
            if s.get::<&str>("format") == Ok("I420") && !s.has_field("colorimetry") {
                s.set("colorimetry", "bt601");
            }
        }
        caps.fixate();
        caps
    }

    fn negotiated_src_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|_| gst::loggable_error!(CAT, "cannot parse output caps {caps}"))?;
        let (w, h) = (info.width(), info.height());
        if w % 2 != 0 || h % 2 != 0 {
            return Err(gst::loggable_error!(
                CAT,
                "output size {w}x{h} is odd: togethermode renders even sizes (4:2:0)"
            ));
        }
        self.parent_negotiated_src_caps(caps)?;
        let color = match info.format() {
            gst_video::VideoFormat::I420 => color_spec(&info),
            _ => ColorSpec::default(),
        };
        let map = {
            let mut state = lock(&self.state);
            if state.engine.is_none() || state.output != (w, h) || state.color != color {
                state.output = (w, h);
                state.color = color;
                let settings = lock(&self.settings).clone();
                self.rebuild(&mut state, &settings)
                    .map_err(|e| gst::loggable_error!(CAT, "{e}"))?;
            }
            self.changed_map(&mut state)
        };
        self.post_map(map);
        Ok(())
    }
}

impl VideoAggregatorImpl for TogetherMode {
    /// I420 when downstream takes it, else RGBA.
    fn update_caps(&self, caps: &gst::Caps) -> Result<gst::Caps, gst::LoggableError> {
        let mut out = gst::Caps::new_empty();
        for format in ["I420", "RGBA"] {
            let only = gst::Caps::builder("video/x-raw")
                .field("format", format)
                .build();
            out.make_mut()
                .append(caps.intersect_with_mode(&only, gst::CapsIntersectMode::First));
        }
        Ok(out)
    }

    fn aggregate_frames(
        &self,
        token: &AggregateFramesToken,
        outbuf: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let info = self
            .obj()
            .video_info()
            .ok_or(gst::FlowError::NotNegotiated)?;
        // Errors are posted after the state lock is released.
        let result = {
            let mut state = lock(&self.state);
            self.compose(&mut state, token, outbuf, &info)
        };
        result.map_err(|e| {
            match e {
                TickError::NoEngine => return gst::FlowError::NotNegotiated,
                TickError::Input { pad, error } => gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ["pad {}: {}", pad, error]
                ),
                TickError::Output(error) => {
                    gst::element_imp_error!(self, gst::StreamError::Format, ["output: {}", error])
                }
                TickError::Compose(error) => {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ["{}", error])
                }
            }
            gst::FlowError::Error
        })?;
        Ok(gst::FlowSuccess::Ok)
    }
}

/// What can go wrong in one output tick.
#[derive(Debug, thiserror::Error)]
enum TickError {
    #[error("no engine")]
    NoEngine,
    #[error("pad {pad}: {error}")]
    Input { pad: String, error: String },
    #[error("output: {0}")]
    Output(String),
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

impl TogetherMode {
    /// One tick: hands every pad's new buffer to the engine, then composes into `outbuf`.
    fn compose(
        &self,
        state: &mut State,
        token: &AggregateFramesToken,
        outbuf: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<(), TickError> {
        let (epoch, color) = (state.epoch, state.color);
        let engine = state.engine.as_mut().ok_or(TickError::NoEngine)?;
        // The pads are visited in place: no list of them is collected per tick.
        let mut failed = None;
        self.obj().foreach_sink_pad(|_, pad| {
            let Some(pad) = pad.downcast_ref::<super::TogetherModePad>() else {
                return ControlFlow::Continue(());
            };
            match push_pad(engine, pad, token, epoch) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let mut out = gst_video::VideoFrameRef::from_buffer_ref_writable(outbuf, info)
            .map_err(|e| TickError::Output(e.to_string()))?;
        let mut view = frame_mut(&mut out, color).map_err(|e| TickError::Output(e.to_string()))?;
        engine.render_into(&mut view)?;
        Ok(())
    }
}

/// Hands `pad`'s buffer for this tick to the engine, unless the engine already has it.
fn push_pad(
    engine: &mut Compositor,
    pad: &super::TogetherModePad,
    token: &AggregateFramesToken,
    epoch: u64,
) -> Result<(), TickError> {
    let mut ps = lock(&pad.imp().state);
    let PadState { joined, pushed } = &mut *ps;
    let Some((id, _)) = joined.as_ref() else {
        return Ok(());
    };
    let Some(frame) = pad.prepared_frame(token) else {
        return Ok(());
    };
    let buffer = frame.buffer();
    let key = (buffer.as_ptr() as usize, buffer.pts(), epoch);
    if *pushed == Some(key) {
        return Ok(()); // a held frame: the engine still has it
    }
    let input_error = |e: MapError| TickError::Input {
        pad: pad.name().to_string(),
        error: e.to_string(),
    };
    let pts = buffer
        .pts()
        .map_or(0, |t| i64::try_from(t.nseconds()).unwrap_or(i64::MAX));
    match shared_frame(&frame).map_err(input_error)? {
        // The engine holds the buffer itself; the frame it replaces (the pad's previous
        // buffer) is released here.
        Some(shared) => drop(engine.push(id, shared, pts)?),
        None => {
            let view = frame_ref(&frame).map_err(input_error)?;
            engine.push_ref(id, &view, pts)?;
        }
    }
    *pushed = Some(key);
    Ok(())
}

impl ChildProxyImpl for TogetherMode {
    fn child_by_index(&self, index: u32) -> Option<glib::Object> {
        self.obj()
            .sink_pads()
            .into_iter()
            .nth(index as usize)
            .map(|p| p.upcast())
    }

    fn child_by_name(&self, name: &str) -> Option<glib::Object> {
        self.obj().static_pad(name).map(|p| p.upcast())
    }

    fn children_count(&self) -> u32 {
        u32::from(self.obj().num_sink_pads())
    }
}
