//! The `togethermode` element: a `GstVideoAggregator` subclass driving a
//! [`together_mode::Compositor`].
//!
//! # How it maps onto the engine
//!
//! - Each sink pad ([`TogetherModePad`](super::TogetherModePad)) is one participant: it joins
//!   the engine when requested (as its `participant-id`, default the pad name, with its
//!   `role`) and leaves when released. Changing either property re-joins and keeps the seat
//!   when it can.
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
//!
//! [`Frame::from_shared`]: together_mode::frame::Frame::from_shared
//! [`FrameRef`]: together_mode::frame::FrameRef

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::subclass::AggregateFramesToken;

use together_mode::error::{ComposeError, SceneError};
use together_mode::frame::ColorSpec;
use together_mode::framing::FramingMode;
use together_mode::meeting::IdentityKind;
use together_mode::scene::SceneLimits;
use together_mode::seating::Reservation;
use together_mode::segment::{
    ModelCache, SegmentMode, SegmenterConfig, SegmenterConfigError, SegmenterFactory,
};
use together_mode::{Compositor, CompositorOptions, Role, Scene};

use super::frames::{color_spec, frame_mut, frame_ref, shared_frame, MapError};
use super::pad::imp::PadState;
use super::{
    chain, grid_participants, lock, parse_scene_size, TogetherModeAutoZoom, TogetherModePad,
    TogetherModeRole, TogetherModeSegment, PARTICIPANTS_FIELD, SEATING_FIELD, SEATING_MESSAGE,
};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "togethermode",
        gst::DebugColorFlags::empty(),
        Some("Together Mode compositor"),
    )
});

const DEFAULT_SCENE: &str = "builtin:auditorium";
const DEFAULT_SEGMENT: SegmentMode = SegmentMode::Auto;
const DEFAULT_SEAT_OPACITY: f64 = 1.0;
/// [`together_mode::seating::DEFAULT_SCENE_SIZE`] as the `scene-size` property spells it.
const DEFAULT_SCENE_SIZE: &str = "1280x720";
/// [`FramingMode::default`] as the `framing` property spells it.
const DEFAULT_FRAMING: &str = "auto";
const DEFAULT_OUTPUT: (u32, u32) = (1920, 1080);
/// World size of `builtin:gridN` scenes (the benchmark's canvas).
const GRID_WORLD: (u32, u32) = (1920, 1080);
const DEFAULT_FPS: (i32, i32) = (30, 1);
/// Largest input side (the engine's `MAX_DIMENSION`).
const MAX_INPUT: i32 = together_mode::frame::MAX_DIMENSION as i32;

/// Why an engine could not be built from the settings. The messages leave the sources out:
/// [`chain`] prints the whole chain.
#[derive(Debug, thiserror::Error)]
enum BuildError {
    /// `scene` does not open.
    #[error("cannot open scene {spec:?}")]
    Scene {
        spec: String,
        #[source]
        source: SceneError,
    },
    /// `segment` and `model-path` make no segmenters (for `ml` and `auto`: no usable model;
    /// the library's error says where it looked and how to get it).
    #[error("segment={mode}, model-path={}", model_path.as_deref().unwrap_or("(unset)"))]
    Segmenter {
        mode: SegmentMode,
        model_path: Option<String>,
        #[source]
        source: SegmenterConfigError,
    },
    /// The engine refused the scene or the output.
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// A reservation as the `reserved-seats` property spells it.
fn reserved_text(r: &Reservation) -> String {
    match r {
        Reservation::None => String::new(),
        Reservation::Count(n) => n.to_string(),
        Reservation::Seats(seats) => {
            let list: Vec<String> = seats.iter().map(usize::to_string).collect();
            format!("seats:{}", list.join(","))
        }
    }
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

/// The segmenters for the settings' `segment` and `model-path`, through the library's
/// [`SegmenterConfig`] (`cache` keeps the model loaded across engine rebuilds). For `ml` and
/// `auto` the model is `model-path`, else the library's search (`TOGETHER_MODE_MODEL`, the
/// user cache, the repository's `models/`); the element never fetches it. Without a usable
/// model, or in a build without the `ml` feature, they are refused.
fn segmenter(settings: &Settings, cache: &mut ModelCache) -> Result<SegmenterFactory, BuildError> {
    let mode = settings.segment;
    let mut config = SegmenterConfig::new(mode);
    if let Some(path) = settings.model_path.as_deref() {
        config = config.with_model(path);
    }
    config
        .factory_cached(cache)
        .map_err(|source| BuildError::Segmenter {
            mode,
            model_path: settings.model_path.clone(),
            source,
        })
}

#[derive(Debug, Clone)]
struct Settings {
    scene: String,
    segment: SegmentMode,
    model_path: Option<String>,
    seat_opacity: f64,
    scene_size: (u32, u32),
    /// The framing of pads without their own.
    framing: FramingMode,
    auto_zoom: Option<bool>,
    /// Seats reserved for organizers, co-organizers and presenters.
    reserved: Reservation,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            scene: DEFAULT_SCENE.to_string(),
            segment: DEFAULT_SEGMENT,
            model_path: None,
            seat_opacity: DEFAULT_SEAT_OPACITY,
            scene_size: together_mode::seating::DEFAULT_SCENE_SIZE,
            framing: FramingMode::default(),
            auto_zoom: None,
            reserved: Reservation::None,
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
    /// Participant id -> the seat its released pad had: a pad requested again with that
    /// `participant-id` gets it back if it is free (at most [`MAX_REMEMBERED`] ids).
    remembered: HashMap<String, usize>,
}

/// Most released participants whose seats the element remembers.
const MAX_REMEMBERED: usize = 4096;

impl Default for State {
    fn default() -> Self {
        Self {
            engine: None,
            output: DEFAULT_OUTPUT,
            color: ColorSpec::default(),
            epoch: 0,
            posted: None,
            model: ModelCache::default(),
            remembered: HashMap::new(),
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
#[derive(Default, glib::Properties)]
#[properties(wrapper_type = super::TogetherMode)]
pub struct TogetherMode {
    /// The scene: a Teams scene folder, a scene zip, a Teams app package (zip or folder;
    /// `PATH#ID-OR-NAME` picks its scene, else the first), `builtin:NAME`, or `builtin:gridN`
    /// (the benchmark grid for N participants); `None` sets the default, `builtin:auditorium`.
    #[property(
        name = "scene",
        type = Option<String>,
        nullable,
        get = |el: &Self| Some(lock(&el.settings).scene.clone()),
        set = Self::set_scene,
        default = DEFAULT_SCENE,
        nick = "Scene",
        blurb = "A Teams scene folder, scene zip or app package (PATH#ID-OR-NAME picks a scene), builtin:auditorium, builtin:grid or builtin:gridN",
        mutable_playing
    )]
    /// How seats are cut out.
    #[property(
        name = "segment",
        type = TogetherModeSegment,
        get = |el: &Self| TogetherModeSegment::from(lock(&el.settings).segment),
        set = Self::set_segment,
        nick = "Segmentation",
        blurb = "How seats are cut out (auto, the default, and ml need the selfie model: model-path, TOGETHER_MODE_MODEL, the user cache or the repository's models/; scripts/fetch-model.sh fetches it)",
        mutable_playing,
        builder(TogetherModeSegment::from(DEFAULT_SEGMENT))
    )]
    /// The selfie model's `.tflite` file for `segment=ml` and `auto` (unset: the library's
    /// search).
    #[property(
        name = "model-path",
        type = Option<String>,
        nullable,
        get = |el: &Self| lock(&el.settings).model_path.clone(),
        set = Self::set_model_path,
        nick = "Model path",
        blurb = "The selfie segmentation model (.tflite) for segment=ml and auto (unset: TOGETHER_MODE_MODEL, the user cache, the repository's models/)",
        mutable_playing
    )]
    /// Opacity of every seat (0..=1).
    #[property(
        name = "seat-opacity",
        type = f64,
        get = |el: &Self| lock(&el.settings).seat_opacity,
        set = Self::set_seat_opacity,
        minimum = 0.0,
        maximum = 1.0,
        default = DEFAULT_SEAT_OPACITY,
        nick = "Seat opacity",
        blurb = "Opacity of every seat",
        mutable_playing
    )]
    /// `WIDTHxHEIGHT` of the CSS-pixel box the seating map is expressed in (ACS
    /// `sceneSize`).
    #[property(
        name = "scene-size",
        type = Option<String>,
        nullable,
        get = |el: &Self| {
            let (w, h) = lock(&el.settings).scene_size;
            Some(format!("{w}x{h}"))
        },
        set = Self::set_scene_size,
        default = DEFAULT_SCENE_SIZE,
        nick = "Scene size",
        blurb = "WIDTHxHEIGHT of the CSS-pixel box the seating map is expressed in",
        mutable_playing
    )]
    /// Which window of each participant's frame their seat shows: `auto`, `off` or a crop
    /// `x,y,w,h` (pads may have their own).
    #[property(
        name = "framing",
        type = Option<String>,
        nullable,
        get = |el: &Self| Some(lock(&el.settings).framing.to_string()),
        set = Self::set_framing,
        default = DEFAULT_FRAMING,
        nick = "Framing",
        blurb = "Which window of each participant's frame the seat shows: auto (around the person's head, for seats the selfie model cuts out; the centre crop for the others), off (the centre crop) or a fixed crop x,y,width,height in the frame's pixels; a pad's own framing overrides it",
        mutable_playing
    )]
    /// autoZoom: the scene's own flag (the default), or on/off.
    #[property(
        name = "auto-zoom",
        type = TogetherModeAutoZoom,
        get = |el: &Self| TogetherModeAutoZoom::from(lock(&el.settings).auto_zoom),
        set = Self::set_auto_zoom,
        nick = "autoZoom",
        blurb = "Zoom onto the occupied seats when few are taken: scene (the scene's autoZoom, false for the built-in scenes), on or off",
        mutable_playing,
        builder(TogetherModeAutoZoom::Scene)
    )]
    /// Seats reserved for organizers, co-organizers and presenters (pads whose `role` is
    /// one of those take them first; attendee pads never do, they stay unseated with a
    /// warning when only reserved seats are free): `N` (the N lowest `seatingOrder`s),
    /// `seats:I,J,...` (seat indices) or empty for none (the default).
    #[property(
        name = "reserved-seats",
        type = Option<String>,
        nullable,
        get = |el: &Self| Some(reserved_text(&lock(&el.settings).reserved)),
        set = Self::set_reserved_seats,
        nick = "Reserved seats",
        blurb = "Seats reserved for organizers, co-organizers and presenters: N (the N lowest seatingOrders), seats:I,J,... (seat indices) or empty for none",
        mutable_playing
    )]
    /// The ACS seating map JSON: participant id → `{top, left, width, height}`.
    #[property(
        name = "seating-map",
        type = String,
        get = |el: &Self| el.map_json(&lock(&el.state)),
        nick = "Seating map",
        blurb = "ACS seating map JSON: participant id -> {top, left, width, height}"
    )]
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
            .with_seat_opacity(settings.seat_opacity as f32)
            .with_framing(settings.framing)
            .with_auto_zoom(settings.auto_zoom);
        let segmenters = segmenter(settings, &mut state.model)?;
        let mut engine = Compositor::with_segmenter(scene, options, segmenters)?;
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
            // Released pads' seats stay theirs for when they come back.
            for (seat, id) in old.seating().remembered() {
                engine.remember_seat(seat, id);
            }
        }
        // After carrying the seating over: nobody seated moves for a reservation.
        engine.set_reservation(settings.reserved.clone())?;
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
    fn reseat_pad(&self, state: &mut State, pad: &TogetherModePad) -> Option<String> {
        let wanted = pad.imp().wanted();
        let remembered = state.remembered.get(&wanted.0).copied();
        let engine = state.engine.as_mut()?;
        let framing = pad.imp().framing();
        let mut ps = lock(&pad.imp().state);
        if let Some(joined) = &ps.joined {
            if *joined == wanted && engine.seating().seat_of(&joined.0).is_some() {
                // The pad's own framing (a new engine starts without it).
                let _ = engine.set_framing(&joined.0, framing);
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
                // The seat this participant's released pad had, if free; else keep the seat
                // when only the identity changed.
                let back = remembered
                    .filter(|&r| r != seat)
                    .is_some_and(|r| engine.assign_seat(&wanted.0, r).is_ok());
                if !back && remembered != Some(seat) {
                    if let Some(old) = old_seat.filter(|&old| old != seat) {
                        let _ = engine.assign_seat(&wanted.0, old);
                    }
                }
                let _ = engine.set_framing(&wanted.0, framing);
                ps.joined = Some(wanted);
                None
            }
            Err(e) => Some(format!(
                "pad {}: participant {:?} is not seated: {}",
                pad.name(),
                wanted.0,
                chain(&e)
            )),
        }
    }

    /// Seats every sink pad that is not seated as what it asks for (in request order).
    fn reseat_all(&self, state: &mut State) {
        for pad in self.obj().sink_pads() {
            if let Some(pad) = pad.downcast_ref::<TogetherModePad>() {
                if let Some(w) = self.reseat_pad(state, pad) {
                    gst::warning!(CAT, imp = self, "{w}");
                }
            }
        }
    }

    /// Re-seats one pad after a request or a change of its identity, then tells the bus.
    pub(in crate::togethermode) fn reseat(&self, pad: &TogetherModePad) {
        let (warning, map) = {
            let mut state = lock(&self.state);
            let warning = match self.ensure_engine(&mut state) {
                Ok(()) => self.reseat_pad(&mut state, pad),
                Err(e) => Some(format!("pad {}: not seated: {}", pad.name(), chain(&e))),
            };
            (warning, self.changed_map(&mut state))
        };
        if let Some(w) = warning {
            gst::element_imp_warning!(self, gst::StreamError::Failed, ["{}", w]);
        }
        self.post_map(map);
    }

    /// Hands `pad`'s own framing (`None`: the engine's, the element's `framing`) to the
    /// engine, if the pad is seated.
    pub(in crate::togethermode) fn apply_framing(&self, pad: &TogetherModePad) {
        let mut state = lock(&self.state);
        let framing = pad.imp().framing();
        let ps = lock(&pad.imp().state);
        if let (Some(engine), Some((id, _))) = (state.engine.as_mut(), ps.joined.as_ref()) {
            // Seated pads are members of the engine: this cannot fail.
            let _ = engine.set_framing(id, framing);
        }
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
                let pad = p.downcast_ref::<TogetherModePad>()?;
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
                .field("role", TogetherModeRole::from(*role).nick())
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

#[glib::derived_properties]
impl ObjectImpl for TogetherMode {}

/// The property setters.
impl TogetherMode {
    fn set_scene(&self, scene: Option<String>) {
        self.update(|s| {
            s.scene = scene.unwrap_or_else(|| DEFAULT_SCENE.to_string());
            true
        });
    }

    fn set_segment(&self, segment: TogetherModeSegment) {
        self.update(|s| {
            s.segment = segment.into();
            true
        });
    }

    fn set_model_path(&self, path: Option<String>) {
        self.update(|s| {
            s.model_path = path.filter(|p| !p.is_empty());
            matches!(s.segment, SegmentMode::Ml | SegmentMode::Auto)
        });
    }

    /// `None`: the default, `auto`; an invalid value is refused with a warning. Changing it
    /// builds a new engine (the engine's framing is part of its options), like `segment`.
    fn set_framing(&self, framing: Option<String>) {
        let text = framing.unwrap_or_else(|| DEFAULT_FRAMING.to_string());
        match text.parse::<FramingMode>() {
            Ok(mode) => self.update(|s| {
                let changed = s.framing != mode;
                s.framing = mode;
                changed
            }),
            Err(e) => {
                let keep = lock(&self.settings).framing;
                glib::g_warning!("togethermode", "{}; keeping {}", chain(&e), keep);
            }
        }
    }

    fn set_reserved_seats(&self, reserved: Option<String>) {
        let text = reserved.unwrap_or_default();
        match text.parse::<Reservation>() {
            Ok(r) => self.update(|s| {
                let changed = s.reserved != r;
                s.reserved = r;
                changed
            }),
            Err(e) => {
                let keep = reserved_text(&lock(&self.settings).reserved);
                glib::g_warning!("togethermode", "{}; keeping {:?}", chain(&e), keep);
            }
        }
    }

    fn set_auto_zoom(&self, zoom: TogetherModeAutoZoom) {
        self.update(|s| {
            s.auto_zoom = zoom.into();
            true
        });
    }

    fn set_seat_opacity(&self, opacity: f64) {
        self.update(|s| {
            s.seat_opacity = opacity;
            true
        });
    }

    fn set_scene_size(&self, size: Option<String>) {
        let size = size.unwrap_or_else(|| DEFAULT_SCENE_SIZE.to_string());
        match parse_scene_size(&size) {
            Ok(size) => self.update(|s| {
                s.scene_size = size;
                false
            }),
            Err(e) => {
                let (w, h) = lock(&self.settings).scene_size;
                glib::g_warning!("togethermode", "{}; keeping {}x{}", chain(&e), w, h);
            }
        }
    }

    /// Applies `change` to the settings; when it returns true (the engine depends on what
    /// changed) and an engine exists, rebuilds it, and on failure warns and keeps the old
    /// settings. Before the engine exists, settings are only stored: the first build reports
    /// errors (and `start` fails on them). Posts the seating if it changed.
    fn update(&self, change: impl FnOnce(&mut Settings) -> bool) {
        let mut state = lock(&self.state);
        let (old, new, rebuild) = {
            let mut settings = lock(&self.settings);
            let old = settings.clone();
            let rebuild = change(&mut settings);
            (old, settings.clone(), rebuild)
        };
        let mut warning = None;
        if rebuild && state.engine.is_some() {
            if let Err(e) = self.rebuild(&mut state, &new) {
                warning = Some(format!("{}; keeping the previous settings", chain(&e)));
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
                    TogetherModePad::static_type(),
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
        if let Some(p) = pad.downcast_ref::<TogetherModePad>() {
            self.reseat(p);
        }
        Some(pad)
    }

    fn release_pad(&self, pad: &gst::Pad) {
        let map = {
            let mut state = lock(&self.state);
            if let Some(p) = pad.downcast_ref::<TogetherModePad>() {
                let mut ps = lock(&p.imp().state);
                let st = &mut *state;
                if let (Some((id, _)), Some(engine)) = (ps.joined.take(), st.engine.as_mut()) {
                    if let Some(seat) = engine.seating().seat_of(&id) {
                        if st.remembered.len() < MAX_REMEMBERED || st.remembered.contains_key(&id) {
                            st.remembered.insert(id.clone(), seat);
                        }
                    }
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
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ["{}", chain(&e)]))
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
                    .map_err(|e| gst::loggable_error!(CAT, "{}", chain(&e)))?;
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
            let kind = match e {
                TickError::NoEngine => return gst::FlowError::NotNegotiated,
                TickError::Input { .. } | TickError::OutputMap(_) | TickError::Output(_) => {
                    gst::StreamError::Format
                }
                TickError::Compose(_) => gst::StreamError::Failed,
            };
            gst::element_imp_error!(self, kind, ["{}", chain(&e)]);
            gst::FlowError::Error
        })?;
        Ok(gst::FlowSuccess::Ok)
    }
}

/// What can go wrong in one output tick. The messages leave the sources out: [`chain`]
/// prints the whole chain.
#[derive(Debug, thiserror::Error)]
enum TickError {
    /// Not negotiated yet.
    #[error("no engine")]
    NoEngine,
    /// A pad's buffer cannot be viewed as an engine frame.
    #[error("pad {pad}")]
    Input {
        pad: String,
        #[source]
        source: MapError,
    },
    /// The output buffer cannot be mapped writable.
    #[error("output")]
    OutputMap(#[source] glib::BoolError),
    /// The mapped output buffer cannot be viewed as an engine frame.
    #[error("output")]
    Output(#[source] MapError),
    /// The engine failed.
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
            let Some(pad) = pad.downcast_ref::<TogetherModePad>() else {
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
            .map_err(TickError::OutputMap)?;
        let mut view = frame_mut(&mut out, color).map_err(TickError::Output)?;
        engine.render_into(&mut view)?;
        Ok(())
    }
}

/// Hands `pad`'s buffer for this tick to the engine, unless the engine already has it.
fn push_pad(
    engine: &mut Compositor,
    pad: &TogetherModePad,
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
    let input_error = |source: MapError| TickError::Input {
        pad: pad.name().to_string(),
        source,
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
