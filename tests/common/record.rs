//! A segmenter that records the mattes another one writes, so a test can measure a seat's
//! matte as the compositor used it (after the engine's own scheduling), and helpers to cut a
//! seat's rectangle out of a composed frame.

use std::sync::{Arc, Mutex};

use together_mode::frame::{Frame, FrameRef, PlaneMut, PlaneRef};
use together_mode::geometry::Rect;
use together_mode::segment::{
    Matte, PersonMap, SeatColour, SegmentInput, Segmenter, SegmenterFactory,
};
use together_mode::{Compositor, CompositorOptions, Scene};

/// The last matte a [`Recording`] segmenter wrote (255s for [`Matte::Opaque`]), with its size.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub width: usize,
    pub height: usize,
    pub matte: Vec<u8>,
    pub written: bool,
    /// The seat's planes the segmenter saw (Y, then U and V at half size).
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
    /// The participant's frame, the seat's crop window in it and the mirroring, when the
    /// compositor gave the segmenter its source (`SegmentInput::source`).
    pub source: Option<(Frame, Rect, bool)>,
}

/// Forwards to `inner` and copies every matte it writes into `out`; skips `inner`'s colour
/// decontamination when `decontaminate` is false (to measure what it does).
pub struct Recording {
    inner: Box<dyn Segmenter>,
    out: Arc<Mutex<Recorded>>,
    decontaminate: bool,
}

impl Segmenter for Recording {
    fn segment(&mut self, input: &SegmentInput<'_>, matte: &mut PlaneMut<'_>) -> Matte {
        let r = self.inner.segment(input, matte);
        let mut guard = self.out.lock().unwrap();
        let out = &mut *guard;
        for (dst, src) in [
            (&mut out.y, &input.y),
            (&mut out.u, &input.u),
            (&mut out.v, &input.v),
        ] {
            dst.clear();
            for row in src.rows() {
                dst.extend_from_slice(row);
            }
        }
        out.source = input
            .source
            .as_ref()
            .map(|s| (Frame::from_ref(&s.frame).unwrap(), s.window, s.mirrored));
        out.width = matte.width();
        out.height = matte.height();
        out.matte.clear();
        out.written = r == Matte::Written;
        if out.written {
            for row in matte.as_ref().rows() {
                out.matte.extend_from_slice(row);
            }
        } else {
            out.matte.resize(matte.width() * matte.height(), 255);
        }
        r
    }

    fn decontaminate(&mut self, colour: &mut SeatColour<'_>, matte: &PlaneRef<'_>) {
        if self.decontaminate {
            self.inner.decontaminate(colour, matte);
        }
    }

    /// Forwarded, so the compositor frames the seat as it would with `inner` alone.
    fn person_map(&self) -> Option<PersonMap<'_>> {
        self.inner.person_map()
    }
}

/// An engine on `builtin:auditorium` at `width`x`height` whose seats `factory` segments
/// (`Compositor::with_segmenter`: no model is looked for).
pub fn auditorium(width: u32, height: u32, factory: SegmenterFactory) -> Compositor {
    let scene = Scene::open("builtin:auditorium", &Default::default()).unwrap();
    let options = CompositorOptions::default().with_size(width, height);
    Compositor::with_segmenter(scene, options, factory).unwrap()
}

/// A factory of [`Recording`] segmenters over `inner`'s, all recording into the one returned
/// slot (for a compositor with one participant).
pub fn recording(inner: SegmenterFactory) -> (SegmenterFactory, Arc<Mutex<Recorded>>) {
    recording_with(inner, true)
}

/// [`recording`], with or without `inner`'s colour decontamination.
pub fn recording_with(
    inner: SegmenterFactory,
    decontaminate: bool,
) -> (SegmenterFactory, Arc<Mutex<Recorded>>) {
    let slot = Arc::new(Mutex::new(Recorded::default()));
    let s = Arc::clone(&slot);
    let factory: SegmenterFactory = Arc::new(move || {
        Box::new(Recording {
            inner: inner(),
            out: Arc::clone(&s),
            decontaminate,
        })
    });
    (factory, slot)
}

/// The luma of `frame` inside `rect` (packed).
pub fn luma_in(frame: &FrameRef<'_>, rect: Rect) -> Vec<u8> {
    let y = frame.plane(0);
    let (x0, w) = (rect.x as usize, rect.width as usize);
    (rect.y as usize..(rect.y + rect.height) as usize)
        .flat_map(|r| y.row(r)[x0..x0 + w].to_vec())
        .collect()
}
