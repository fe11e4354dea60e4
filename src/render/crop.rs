//! The crop-window stage: which part of a participant's frame a seat shows.
//!
//! Without framing that is the centred crop with the seat's aspect ratio. Framing
//! ([`crate::framing`]) places its own window (`Placement`: the part of the frame inside the
//! framing window, rendered into its place in the seat); everything after this stage
//! (conversion, scaling, matte) reads only the window.

use super::resize::CropF;
use crate::error::FrameError;
use crate::frame::{ColorSpec, FrameRef, PixelFormat, PlaneRef};
use crate::geometry::aspect_fill_crop;

/// A window of a source frame in whole luma pixels: even offsets, and even sides wherever
/// the frame allows, so 4:2:0 chroma splits exactly. Never empty for a non-empty frame, and
/// inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CropWindow {
    /// Left edge (even).
    pub x: u32,
    /// Top edge (even).
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl CropWindow {
    /// The window a `seat_w x seat_h` seat shows of `frame`: the centred crop with the
    /// seat's aspect ratio (as much of the frame as that aspect allows).
    pub(crate) fn for_seat(frame: &FrameRef<'_>, seat_w: usize, seat_h: usize) -> Self {
        let (x, y, width, height) = aspect_fill_crop(
            frame.width(),
            frame.height(),
            seat_w as u32,
            seat_h as u32,
            true,
        );
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// The same size at the origin: the window of a frame that holds only this window.
    pub(crate) fn at_origin(self) -> Self {
        Self { x: 0, y: 0, ..self }
    }

    /// (width, height) of the window on the luma grid.
    pub(crate) fn luma_size(self) -> (usize, usize) {
        (self.width as usize, self.height as usize)
    }

    /// (width, height) of the window on the 2x2-subsampled chroma grid (odd sides round up).
    pub(crate) fn chroma_size(self) -> (usize, usize) {
        (
            self.width.div_ceil(2) as usize,
            self.height.div_ceil(2) as usize,
        )
    }

    /// The window on the luma grid, for fast_image_resize.
    pub(crate) fn luma(self) -> CropF {
        CropF {
            left: self.x as f64,
            top: self.y as f64,
            width: self.width as f64,
            height: self.height as f64,
        }
    }

    /// The window on the chroma grid, for fast_image_resize.
    pub(crate) fn chroma(self) -> CropF {
        let (w, h) = self.chroma_size();
        CropF {
            left: (self.x / 2) as f64,
            top: (self.y / 2) as f64,
            width: w as f64,
            height: h as f64,
        }
    }

    /// The window's part of a luma-grid plane (Y or A).
    pub(crate) fn luma_plane<'p>(self, plane: PlaneRef<'p>) -> Result<PlaneRef<'p>, FrameError> {
        let (w, h) = self.luma_size();
        plane.crop(self.x as usize, self.y as usize, w, h)
    }

    /// The window's part of a chroma-grid plane (U or V).
    pub(crate) fn chroma_plane<'p>(self, plane: PlaneRef<'p>) -> Result<PlaneRef<'p>, FrameError> {
        let (w, h) = self.chroma_size();
        plane.crop((self.x / 2) as usize, (self.y / 2) as usize, w, h)
    }

    /// The window of an NV12, RGBA or BGRA `frame` as a frame of its own (no copy), tagged
    /// `color`. Planar I420 is cropped plane by plane instead ([`Self::luma_plane`]).
    pub(crate) fn packed_view<'f>(
        self,
        frame: &FrameRef<'f>,
        color: ColorSpec,
    ) -> Result<FrameRef<'f>, FrameError> {
        let bpp = if frame.format() == PixelFormat::Nv12 {
            1
        } else {
            4
        };
        let (x, y) = (self.x as usize, self.y as usize);
        let (cw, ch) = self.chroma_size();
        let mut planes = Vec::with_capacity(2);
        for (i, pl) in frame.planes().iter().enumerate() {
            let (px, py, w, h) = if i == 0 {
                (x * bpp, y, self.width as usize * bpp, self.height as usize)
            } else {
                // NV12's interleaved UV: two bytes per chroma sample.
                (x, y / 2, 2 * cw, ch)
            };
            planes.push(pl.crop(px, py, w, h)?);
        }
        FrameRef::new(frame.format(), self.width, self.height, color, &planes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;

    #[test]
    fn the_window_is_the_centred_crop_and_its_chroma_halves_it() {
        let f = Frame::new(PixelFormat::I420, 640, 360).unwrap();
        let w = CropWindow::for_seat(&f.as_ref(), 102, 136);
        assert_eq!((w.x, w.y, w.width, w.height), (184, 0, 270, 360));
        assert_eq!(w.chroma_size(), (135, 180));
        assert_eq!(
            w.chroma(),
            CropF {
                left: 92.0,
                top: 0.0,
                width: 135.0,
                height: 180.0
            }
        );
        let o = w.at_origin();
        assert_eq!((o.x, o.y, o.luma_size()), (0, 0, (270, 360)));
        let y = w.luma_plane(f.as_ref().plane(0)).unwrap();
        assert_eq!((y.width(), y.height()), (270, 360));
        let u = w.chroma_plane(f.as_ref().plane(1)).unwrap();
        assert_eq!((u.width(), u.height()), (135, 180));
    }

    #[test]
    fn packed_views_cover_the_window() {
        for format in [PixelFormat::Nv12, PixelFormat::Rgba, PixelFormat::Bgra] {
            let f = Frame::new(format, 64, 48).unwrap();
            let w = CropWindow::for_seat(&f.as_ref(), 20, 20);
            let v = w
                .packed_view(&f.as_ref(), ColorSpec::BT709_LIMITED)
                .unwrap();
            assert_eq!((v.width(), v.height()), (48, 48), "{format:?}");
            assert_eq!(v.color(), ColorSpec::BT709_LIMITED);
        }
    }
}
