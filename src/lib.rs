//! together-mode: a server-side Together Mode compositor.
//!
//! Every participant of a meeting is cut out of their own room and seated in one shared scene
//! (an auditorium, a boardroom); the engine emits one composed I420 stream per meeting and per
//! breakout room, with the ACS seating map clients draw their overlays from.
//!
//! # The data flow
//!
//! ```text
//!  camera frames ──► Compositor::push ──► per seat, each tick:                 ──► one I420 frame
//!  (I420, I420A,      (newest frame kept   crop window → scale each plane →        (render /
//!   NV12, RGBA, …)     per participant)    matte (Segmenter) → opacity, mirror      render_into)
//!                                          ──► compose: sprites and seats in
//!                                              zOrder, in bands of rows
//! ```
//!
//! - A [`Scene`] is a Teams custom scene package (`scene.json` and PNGs) or a built-in one
//!   (`builtin:auditorium`, `builtin:grid`): sprites and seats in world units, laid out at the
//!   output size ([`render::Layout`]).
//! - [`Seating`] gives each participant a seat by `seatingOrder` in join order and answers
//!   the ACS seating map ([`SeatingMap`]) for a client's `sceneSize`.
//! - [`Compositor`] is the engine of one room: it owns the scene, the seating, the newest frame
//!   of each participant, the per-seat scratch and the output; a seat whose frame did not
//!   change is not rendered again.
//! - A [`Segmenter`] cuts each participant out: the frame's own alpha,
//!   chroma key, a background model, or MediaPipe's selfie network (feature `ml`, on by
//!   default); chosen by [`SegmentMode`] through a [`SegmenterFactory`]. The default, `auto`,
//!   is the frame's own alpha when it has one, else the selfie network.
//! - [`LiveStream`] puts an output clock around a compositor (frames arrive when they arrive;
//!   output ticks at a fixed rate, with a freeze policy), and [`Meeting`] is ACS's control
//!   surface over several rooms: Together Mode start, scene and seat changes, breakout rooms,
//!   identity rules and events with ACS's names.
//! - [`io`] reads Y4M and PNG/JPEG stills and writes Y4M or PNG sequences; [`scenario`] plays
//!   a meeting timeline from JSON (what `together scenario` runs).
//!
//! # Example
//!
//! ```
//! use together_mode::{Compositor, CompositorOptions, Frame, PixelFormat, Role, Scene, SegmentMode};
//!
//! let scene = Scene::builtin("auditorium")?;
//! // The default segment mode, `auto`, cuts opaque camera frames out with the selfie model
//! // (found on disk when the engine is built, see `segment::model`); this example uses the
//! // frames' own alpha, so it runs without the model.
//! let options = CompositorOptions::default()
//!     .with_size(640, 360)
//!     .with_segment(SegmentMode::Alpha);
//! let mut engine = Compositor::new(scene, options)?;
//! engine.join("8:acs:alice", Role::Attendee)?; // the first seat by seatingOrder
//! let camera = Frame::black(PixelFormat::I420, 320, 240, Default::default())?;
//! engine.push("8:acs:alice", camera, 0)?; // ownership, no copy
//! let out = engine.render()?; // one composed frame per tick
//! assert_eq!((out.width(), out.height()), (640, 360));
//! let map = engine.seating_map((1280, 720)); // CSS pixels of a 1280x720 box
//! assert!(map.0.contains_key("8:acs:alice"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors and safety
//!
//! Every public call returns a typed error ([`FrameError`], [`SceneError`], [`SeatingError`],
//! [`ComposeError`], [`IoError`], [`SizeError`], and each module's own); none panics on bad
//! input. `unsafe` is denied in the crate and allowed only in the modules that hold SIMD
//! kernels or measured hot paths, each block with a `SAFETY` comment; every SIMD kernel is
//! tested bit-exact against its scalar reference.
//!
//! # For tests and benchmarks
//!
//! [`synth`] (synthetic participants, also what `together demo` shows), [`workload`] (the
//! canonical benchmark workload that `together bench` and the criterion benches share) and
//! `render::kernels` (the blend and scale kernels, for their per-kernel benches) are public so
//! the benches, the CLI and the fuzz targets can reach them; the last two are hidden from the
//! docs because they are not part of the API a media pipeline uses.

pub mod color;
pub mod compositor;
pub mod error;
pub mod frame;
pub mod framing;
pub mod geometry;
pub mod io;
pub mod meeting;
pub mod render;
pub mod scenario;
pub mod scene;
pub mod seating;
pub mod segment;
#[cfg(feature = "serve")]
pub mod service;
pub mod stream;
pub mod synth;
pub mod zoom;
// The canonical benchmark workload: shared by `together bench`, the criterion benches and the
// allocation tests, not an API for media pipelines.
#[doc(hidden)]
pub mod workload;

// Test helpers shared with the integration tests (tests/common): temporary folders, and real
// and hand-built PNGs.
#[cfg(test)]
#[path = "../tests/common/dir.rs"]
mod test_dir;
#[cfg(test)]
#[path = "../tests/common/png.rs"]
mod test_png;

pub use compositor::{Compositor, CompositorOptions, ScaleFilter};
pub use error::{
    ComposeError, FrameError, IoError, SceneError, SeatingError, SizeError, ZipRefusal,
};
pub use frame::{ColorSpec, Frame, FrameMut, FrameRef, PixelFormat, PlaneMut, PlaneRef};
pub use meeting::{Meeting, MeetingOptions};
pub use render::kernels::SimdLevel;
pub use scene::{Scene, SceneLimits};
pub use seating::{Reservation, Role, SeatLayout, Seating, SeatingMap};
pub use segment::{SegmentMode, Segmenter, SegmenterFactory};
pub use stream::{FreezePolicy, LiveStream, StreamOptions};
