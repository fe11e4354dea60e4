//! Per-seat segmentation: the hook that decides which pixels of a seat are the person.
//!
//! After a participant's frame is cropped and scaled into its seat, the seat's
//! [`Segmenter`] writes a matte (0 = room, 255 = person) at seat resolution. The compositor
//! then blends the seat with that matte. A segmenter is created per seat by a
//! [`SegmenterFactory`] (and again when another participant takes the seat), so it may keep
//! state across frames (temporal smoothing, a learned background) and owns its scratch: the
//! per-frame path allocates nothing once the seat size is known.
//!
//! # The contract (for implementers, including the ML segmenter)
//!
//! 1. [`Segmenter::segment`] gets a [`SegmentInput`]: the seat's Y, U, V (4:2:0, chroma
//!    `ceil(w/2) x ceil(h/2)` or `w/2 x h/2`), the frame's own alpha if it had one, the
//!    participant, the timestamp and the seat's [`ColorSpec`] (always the output's: inputs
//!    are converted before segmentation). It writes the matte into a plane of the luma's size,
//!    or returns [`Matte::Opaque`] without writing. It must not panic on odd sizes or
//!    mismatched planes (return [`Matte::Opaque`] instead), and must cope with the seat size
//!    changing between calls (start over).
//! 2. Only when `segment` returned [`Matte::Written`], the compositor then calls
//!    [`Segmenter::decontaminate`] with the seat's colour planes (writable) and that matte.
//!    Pixels the matte only partly covers were seen as `C = a*F + (1-a)*B` (person F over
//!    room B); the compositor blends straight alpha, `out = C*a + dst*(1-a)`, so whatever of
//!    B is left in C shows as a halo of the old room around the person. `decontaminate`
//!    replaces C by an estimate of F where `0 < a < 255`; the default does nothing. See
//!    [`refine::unmix`] for the helper the classical segmenters use (a known background), and
//!    [`refine::pull_foreground`] for one that needs no background (for the ML segmenter).
//!
//! The matte is then scaled by the seat opacity, mirrored with the seat and averaged 2x2 for
//! chroma by the compositor; segmenters do not do that.
//!
//! # Segmenters here
//!
//! | mode | type | what it needs |
//! |---|---|---|
//! | `none` | [`Opaque`] | nothing: the whole seat is shown |
//! | `alpha` | [`InputAlpha`] | frames with alpha (I420A, RGBA, BGRA) |
//! | `chroma` | [`chroma::ChromaKey`] | a green (or other key colour) screen behind the person |
//! | `background` | [`background::BackgroundModel`] | a static camera; the empty room in its first frames (the learning phase, see its docs) |
//! | `ml` | the selfie model (feature `ml`) | the model file ([`model`] finds it) |
//! | `auto` (the default) | [`AutoSegmenter`] | the input's alpha, else the selfie model, see [`SegmentMode::Auto`] |
//!
//! [`SegmenterConfig`] turns a mode and the selfie model's settings (file, [`Backend`],
//! budget) into the factory; the compositor (`CompositorOptions::segment`), the CLI and the
//! GStreamer element build their segmenters with it. Modes that need the model fail there,
//! when the segmenters are built, if it cannot be found or loaded ([`model::ModelError`]),
//! never in the middle of a tick.
//!
//! The classical segmenters compute a coarse mask at chroma resolution, then share one
//! refinement ([`refine::Refiner`]: a fast guided filter guided by luma that upsamples and
//! snaps the mask to the seat's edges, a small feather, and temporal smoothing with a dead
//! band that stops flicker on a still person without leaving trails behind a moving one).
//! [`metrics`] measures them against ground truth (IoU, edge error, flicker).

pub mod background;
pub mod chroma;
pub mod clean;
mod config;
pub mod foreground;
pub mod metrics;
#[cfg(feature = "ml")]
pub mod ml;
pub mod model;
pub mod refine;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::frame::{ColorSpec, FrameRef, PlaneMut, PlaneRef};
use crate::geometry::Rect;

pub use config::{Backend, BackendError, ModelCache, SegmenterConfig, SegmenterConfigError};

/// What a segmenter sees of one seat, all at seat resolution (luma size; chroma half).
#[derive(Debug, Clone, Copy)]
pub struct SegmentInput<'a> {
    /// Seat luma.
    pub y: PlaneRef<'a>,
    /// Seat chroma U (half resolution).
    pub u: PlaneRef<'a>,
    /// Seat chroma V (half resolution).
    pub v: PlaneRef<'a>,
    /// The frame's own alpha, scaled into the seat, when the input format has one.
    pub input_alpha: Option<PlaneRef<'a>>,
    /// Identifies the participant.
    pub participant: &'a str,
    /// The input frame's timestamp (caller's unit).
    pub pts: i64,
    /// The colour tag of `y`, `u`, `v` (the output's; for RGB and key colours).
    pub color: ColorSpec,
    /// Where the seat's pixels come from: the participant's whole frame and the window of it
    /// the seat shows. `None` when the caller has only the seat (tests, benches); segmenters
    /// that look past the seat's window (the ML segmenter runs its network on the whole frame,
    /// as MediaPipe does) then fall back to the seat planes.
    pub source: Option<SeatSource<'a>>,
}

/// A seat's source: the participant's frame as pushed and the crop window the seat shows.
///
/// The seat planes of a [`SegmentInput`] are `window` scaled to the seat's size (and mirrored
/// when `mirrored`); a segmenter that works on the whole frame cuts the seat's matte from its
/// frame-level result through this mapping: seat column `sx` of a `sw`-wide seat shows frame
/// column `window.x + (sx + 0.5) * window.width / sw - 0.5` (or of `sw - 1 - sx` when
/// mirrored), and likewise for rows without mirroring.
#[derive(Debug, Clone, Copy)]
pub struct SeatSource<'a> {
    /// The participant's frame, in its own format and colour tag.
    pub frame: FrameRef<'a>,
    /// The crop window the seat shows, in the frame's luma pixels (inside the frame).
    pub window: Rect,
    /// Whether the seat planes are mirrored left to right relative to the frame (the matte
    /// written must be too).
    pub mirrored: bool,
}

/// A segmenter's person probability map of the participant's whole frame (the ML segmenter
/// with `ScheduleOptions::whole_frame`): what framing ([`crate::framing`]) finds the head in.
#[derive(Debug, Clone, Copy)]
pub struct PersonMap<'a> {
    /// Person probability in `[0, 1]`, `width x height`, row-major, stretched over
    /// [`covers`](Self::covers) (value `(i, j)` covers frame pixels
    /// `covers.x + i * covers.width / width ..` and likewise down); no person outside it.
    pub prob: &'a [f32],
    /// Width of `prob`.
    pub width: usize,
    /// Height of `prob`.
    pub height: usize,
    /// The source frame's size in luma pixels, `(width, height)`.
    pub frame: (u32, u32),
    /// The part of the frame the map covers, in luma pixels: the whole frame, or a zoomed
    /// view where the whole frame showed nobody (a person far from their camera).
    pub covers: Rect,
    /// Whether the map was made from the frame just segmented (else it is carried from an
    /// earlier frame).
    pub fresh: bool,
}

/// The outcome of segmenting one seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matte {
    /// The whole seat is opaque; the matte plane was not written.
    Opaque,
    /// The matte plane holds per-pixel coverage.
    Written,
}

/// The seat's colour planes, writable, for [`Segmenter::decontaminate`] (same sizes as in
/// the [`SegmentInput`] of the same frame).
#[derive(Debug)]
pub struct SeatColour<'a> {
    /// Luma.
    pub y: PlaneMut<'a>,
    /// Chroma U.
    pub u: PlaneMut<'a>,
    /// Chroma V.
    pub v: PlaneMut<'a>,
}

/// Computes a seat's matte.
pub trait Segmenter: Send {
    /// Writes the matte for `input` into `matte` (same size as `input.y`) and says whether it
    /// did; [`Matte::Opaque`] leaves `matte` untouched.
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte;

    /// Called after `segment` returned [`Matte::Written`], with the same seat's colour and
    /// the matte it wrote: replace the colour of partly covered pixels by the person's (see
    /// the module docs). The default leaves the colour as it is.
    fn decontaminate(&mut self, colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
        let _ = (colour, matte);
    }

    /// The person probability map of the whole frame made for the last `segment` call, if
    /// this segmenter makes one (framing finds the head in it). The default: none.
    fn person_map(&self) -> Option<PersonMap<'_>> {
        None
    }
}

/// Everyone is opaque: the seat shows the whole cropped frame.
#[derive(Debug, Default, Clone, Copy)]
pub struct Opaque;

impl Segmenter for Opaque {
    fn segment(&mut self, _input: &SegmentInput<'_>, _matte: &mut PlaneMut<'_>) -> Matte {
        Matte::Opaque
    }
}

/// The frame's own alpha (I420A, RGBA, BGRA) is the matte; frames without alpha are opaque.
///
/// The colour is passed through as the producer made it: with alpha, the producer decides
/// what edge pixels hold.
#[derive(Debug, Default, Clone, Copy)]
pub struct InputAlpha;

impl Segmenter for InputAlpha {
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte {
        match input.input_alpha {
            Some(a) if a.width() == matte.width() && a.height() == matte.height() => {
                if a.rows().all(|r| r.iter().all(|&v| v == 255)) {
                    return Matte::Opaque;
                }
                for (d, s) in matte.rows_mut().zip(a.rows()) {
                    d.copy_from_slice(s);
                }
                Matte::Written
            }
            _ => Matte::Opaque,
        }
    }
}

/// `auto` for one seat: the input's own alpha if the participant's first frame carries a
/// non-opaque alpha plane, else a fallback segmenter (the ML model for
/// [`SegmentMode::Auto`]). The choice is made once, on the first frame, so a person is not handed from one
/// segmenter to another mid-stream.
pub struct AutoSegmenter {
    fallback: Box<dyn Segmenter>,
    choice: Option<bool>,
}

impl AutoSegmenter {
    /// Uses `fallback` for inputs without alpha.
    pub fn new(fallback: Box<dyn Segmenter>) -> Self {
        Self {
            fallback,
            choice: None,
        }
    }

    /// `Some(true)` once the input's alpha was chosen, `Some(false)` for the fallback,
    /// `None` before the first frame.
    pub fn uses_input_alpha(&self) -> Option<bool> {
        self.choice
    }
}

impl fmt::Debug for AutoSegmenter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoSegmenter")
            .field("choice", &self.choice)
            .finish_non_exhaustive()
    }
}

impl Segmenter for AutoSegmenter {
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte {
        let alpha = *self.choice.get_or_insert_with(|| {
            input
                .input_alpha
                .is_some_and(|a| a.rows().any(|r| r.iter().any(|&v| v != 255)))
        });
        if alpha {
            InputAlpha.segment(input, matte)
        } else {
            self.fallback.segment(input, matte)
        }
    }

    fn decontaminate(&mut self, colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
        if self.choice == Some(false) {
            self.fallback.decontaminate(colour, matte);
        }
    }

    fn person_map(&self) -> Option<PersonMap<'_>> {
        if self.choice == Some(false) {
            self.fallback.person_map()
        } else {
            None
        }
    }
}

/// Makes one segmenter per seat.
pub type SegmenterFactory = Arc<dyn Fn() -> Box<dyn Segmenter> + Send + Sync>;

/// A factory of [`InputAlpha`] segmenters (a frame's own alpha, else opaque).
pub fn input_alpha_factory() -> SegmenterFactory {
    Arc::new(|| Box::new(InputAlpha))
}

/// A factory of [`Opaque`] segmenters (ignore any input alpha).
pub fn opaque_factory() -> SegmenterFactory {
    Arc::new(|| Box::new(Opaque))
}

/// A factory of [`chroma::ChromaKey`] segmenters with `options`.
pub fn chroma_factory(options: chroma::ChromaKeyOptions) -> SegmenterFactory {
    Arc::new(move || Box::new(chroma::ChromaKey::new(options)))
}

/// A factory of [`background::BackgroundModel`] segmenters with `options`.
pub fn background_factory(options: background::BackgroundOptions) -> SegmenterFactory {
    Arc::new(move || Box::new(background::BackgroundModel::new(options)))
}

/// A factory of [`AutoSegmenter`]s over segmenters from `fallback`.
pub fn auto_factory(fallback: SegmenterFactory) -> SegmenterFactory {
    Arc::new(move || Box::new(AutoSegmenter::new(fallback())))
}

/// Which segmenter to use: the `--segment` choice of the CLI, `CompositorOptions::segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SegmentMode {
    /// Whole seats, nothing cut out.
    None,
    /// The frame's own alpha (opaque without one).
    Alpha,
    /// Chroma key (green screen).
    Chroma,
    /// Learned background of a static camera: the seat stays empty during its visible
    /// learning period (see [`background::BackgroundModel`]); only when asked for, never as a
    /// fallback.
    Background,
    /// The selfie segmentation model (feature `ml`).
    Ml,
    /// The default. Per seat: the input's alpha if its first frame has a non-opaque alpha
    /// plane; otherwise the selfie model. It needs the model like `ml` does (a build with the
    /// feature `ml` and a model found): without it the segmenters are refused when they are
    /// built, never replaced by boxes or by the background model.
    #[default]
    Auto,
}

impl SegmentMode {
    /// Every mode, in CLI order.
    pub const ALL: [SegmentMode; 6] = [
        SegmentMode::None,
        SegmentMode::Alpha,
        SegmentMode::Chroma,
        SegmentMode::Background,
        SegmentMode::Ml,
        SegmentMode::Auto,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            SegmentMode::None => "none",
            SegmentMode::Alpha => "alpha",
            SegmentMode::Chroma => "chroma",
            SegmentMode::Background => "background",
            SegmentMode::Ml => "ml",
            SegmentMode::Auto => "auto",
        }
    }

    /// Whether the mode runs the selfie model (`ml` and `auto`).
    pub fn uses_model(self) -> bool {
        matches!(self, SegmentMode::Ml | SegmentMode::Auto)
    }

    /// A factory for this mode. `ml` is the ML segmenter's factory when the build has one and
    /// its model is loaded; `Ml` and `Auto` fail without it. Chroma and background use
    /// default options (build their factories directly for others).
    pub fn factory(
        self,
        ml: Option<SegmenterFactory>,
    ) -> Result<SegmenterFactory, SegmentModeError> {
        Ok(match self {
            SegmentMode::None => opaque_factory(),
            SegmentMode::Alpha => input_alpha_factory(),
            SegmentMode::Chroma => chroma_factory(Default::default()),
            SegmentMode::Background => background_factory(Default::default()),
            SegmentMode::Ml => ml.ok_or(SegmentModeError::MlUnavailable)?,
            SegmentMode::Auto => auto_factory(ml.ok_or(SegmentModeError::MlUnavailable)?),
        })
    }
}

impl fmt::Display for SegmentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SegmentMode {
    type Err = SegmentModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SegmentMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| SegmentModeError::Unknown {
                found: s.to_string(),
            })
    }
}

/// Choosing a segmenter failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentModeError {
    /// Not one of the [`SegmentMode`] names.
    #[error("unknown segmenter {found:?}: expected none, alpha, chroma, background, ml or auto")]
    Unknown {
        /// What was asked for.
        found: String,
    },
    /// `ml` or `auto` was asked for, but this build has no `ml` feature or no model was
    /// loaded.
    #[error("the ml segmenter is not available: build with the feature `ml` and load a model")]
    MlUnavailable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_through_their_names() {
        for m in SegmentMode::ALL {
            assert_eq!(m.name().parse::<SegmentMode>(), Ok(m));
            assert_eq!(m.to_string(), m.name());
        }
        assert!(matches!(
            "green".parse::<SegmentMode>(),
            Err(SegmentModeError::Unknown { .. })
        ));
    }

    #[test]
    fn ml_and_auto_need_a_model_and_never_fall_back() {
        assert_eq!(SegmentMode::default(), SegmentMode::Auto);
        for m in SegmentMode::ALL {
            if m.uses_model() {
                assert_eq!(
                    m.factory(None).err(),
                    Some(SegmentModeError::MlUnavailable),
                    "{m}"
                );
            } else {
                assert!(m.factory(None).is_ok(), "{m}");
            }
        }
        assert_eq!(
            SegmentMode::ALL.iter().filter(|m| m.uses_model()).count(),
            2
        );
    }

    fn input<'a>(y: &'a [u8], c: &'a [u8], a: Option<&'a [u8]>) -> SegmentInput<'a> {
        SegmentInput {
            y: PlaneRef::packed(y, 4, 4).unwrap(),
            u: PlaneRef::packed(c, 2, 2).unwrap(),
            v: PlaneRef::packed(c, 2, 2).unwrap(),
            input_alpha: a.map(|a| PlaneRef::packed(a, 4, 4).unwrap()),
            participant: "p",
            pts: 0,
            color: ColorSpec::BT601_LIMITED,
            source: None,
        }
    }

    /// Writes a constant matte of 7.
    struct Seven;
    impl Segmenter for Seven {
        fn segment(&mut self, _: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte {
            matte.fill(7);
            Matte::Written
        }
    }

    #[test]
    fn auto_latches_input_alpha_or_the_fallback_on_the_first_frame() {
        let (y, c) = ([100u8; 16], [128u8; 4]);
        let mut alpha = [255u8; 16];
        alpha[5] = 0;
        let mut out = [0u8; 16];

        let mut s = AutoSegmenter::new(Box::new(Seven));
        let r = s.segment(
            &input(&y, &c, Some(&alpha)),
            &mut PlaneMut::new(&mut out, 4, 4, 4).unwrap(),
        );
        assert_eq!((r, s.uses_input_alpha()), (Matte::Written, Some(true)));
        assert_eq!(out, alpha);
        // Later frames without alpha stay with the input's alpha: opaque.
        let r = s.segment(
            &input(&y, &c, None),
            &mut PlaneMut::new(&mut out, 4, 4, 4).unwrap(),
        );
        assert_eq!(r, Matte::Opaque);

        // An all-opaque alpha plane is no alpha: the fallback is chosen, and kept.
        let mut s = AutoSegmenter::new(Box::new(Seven));
        let opaque = [255u8; 16];
        let r = s.segment(
            &input(&y, &c, Some(&opaque)),
            &mut PlaneMut::new(&mut out, 4, 4, 4).unwrap(),
        );
        assert_eq!((r, s.uses_input_alpha()), (Matte::Written, Some(false)));
        assert_eq!(out, [7; 16]);
        let r = s.segment(
            &input(&y, &c, Some(&alpha)),
            &mut PlaneMut::new(&mut out, 4, 4, 4).unwrap(),
        );
        assert_eq!((r, out), (Matte::Written, [7; 16]));
    }
}
