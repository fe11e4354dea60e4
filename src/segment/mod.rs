//! Per-seat segmentation: the hook that decides which pixels of a seat are the person.
//!
//! After a participant's frame is cropped and scaled into its seat, the seat's
//! [`Segmenter`] writes a matte (0 = room, 255 = person) at seat resolution. The compositor
//! then blends the seat with that matte. A segmenter is created per seat, so it may keep
//! state across frames (temporal smoothing, a learned background).

use crate::frame::{PlaneMut, PlaneRef};

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
}

/// The outcome of segmenting one seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matte {
    /// The whole seat is opaque; the matte plane was not written.
    Opaque,
    /// The matte plane holds per-pixel coverage.
    Written,
}

/// Computes a seat's matte.
pub trait Segmenter: Send {
    /// Writes the matte for `input` into `matte` (same size as `input.y`) and says whether it
    /// did; [`Matte::Opaque`] leaves `matte` untouched.
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte;
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

/// Makes one segmenter per seat.
pub type SegmenterFactory = std::sync::Arc<dyn Fn() -> Box<dyn Segmenter> + Send + Sync>;

/// The default factory: [`InputAlpha`] (a frame's own alpha, else opaque).
pub fn input_alpha_factory() -> SegmenterFactory {
    std::sync::Arc::new(|| Box::new(InputAlpha))
}

/// A factory of [`Opaque`] segmenters (ignore any input alpha).
pub fn opaque_factory() -> SegmenterFactory {
    std::sync::Arc::new(|| Box::new(Opaque))
}
