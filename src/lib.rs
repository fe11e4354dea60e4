//! together-mode: a server-side Together Mode compositor.
//!
//! Participants' frames go in ([`Compositor::push`]); each tick, every seated participant is
//! cropped to the seat's aspect, scaled straight into the seat, matted and blended into one
//! shared scene, in I420 end to end ([`Compositor::render`]).
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod compositor;
pub mod error;
pub mod frame;
pub mod geometry;
pub mod io;
pub mod meeting;
pub mod render;
pub mod scenario;
pub mod scene;
pub mod seating;
pub mod segment;
pub mod stream;
pub mod synth;
pub mod workload;

pub use compositor::{Compositor, CompositorOptions, ScaleFilter};
pub use error::{ComposeError, FrameError, IoError, SceneError, SeatingError, SizeError};
pub use frame::{ColorSpec, Frame, FrameMut, FrameRef, PixelFormat, PlaneMut, PlaneRef};
pub use scene::Scene;
pub use seating::{Role, Seating, SeatingMap};
