//! The adapter to fast_image_resize: our strided plane views as its images, and one call
//! that resizes a crop of a plane into another. Sprites are scaled with it once per layout,
//! and seats with it when the filter is Lanczos3 or nearest; the default seat scaler is our
//! own ([`super::kernels::scale`]).

use std::marker::PhantomData;

use fast_image_resize as fr;

use crate::error::ComposeError;
use crate::frame::{PlaneMut, PlaneRef};

/// A read-only plane seen as an image of `P` pixels (U8 for a plane, U8x2 for NV12 UV,
/// U8x4 for RGBA).
pub(crate) struct Src<'a, P> {
    plane: PlaneRef<'a>,
    _p: PhantomData<P>,
}

impl<'a, P> Src<'a, P> {
    pub(crate) fn new(plane: PlaneRef<'a>) -> Self {
        Self {
            plane,
            _p: PhantomData,
        }
    }
}

fn px_width<P>(bytes: usize) -> usize {
    bytes / std::mem::size_of::<P>()
}

// SAFETY: fast_image_resize requires every row from `iter_rows` to hold at least `width()`
// pixels. `PlaneRef` rows are exactly `plane.width()` bytes (checked in its constructor) and
// `width()` is `plane.width() / size_of::<P>()` pixels, so each cast row holds exactly
// `width()` pixels.
unsafe impl<P: fr::pixels::InnerPixel + bytemuck::Pod> fr::ImageView for Src<'_, P> {
    type Pixel = P;

    fn width(&self) -> u32 {
        px_width::<P>(self.plane.width()) as u32
    }

    fn height(&self) -> u32 {
        self.plane.height() as u32
    }

    fn iter_rows(&self, start_row: u32) -> impl Iterator<Item = &[P]> {
        let bytes = px_width::<P>(self.plane.width()) * std::mem::size_of::<P>();
        self.plane
            .rows()
            .skip(start_row as usize)
            .map(move |r| bytemuck::cast_slice::<u8, P>(&r[..bytes]))
    }
}

/// A writable plane seen as an image of `P` pixels.
pub(crate) struct Dst<'a, 'b, P> {
    plane: &'b mut PlaneMut<'a>,
    _p: PhantomData<P>,
}

impl<'a, 'b, P> Dst<'a, 'b, P> {
    pub(crate) fn new(plane: &'b mut PlaneMut<'a>) -> Self {
        Self {
            plane,
            _p: PhantomData,
        }
    }
}

// SAFETY: as for `Src`: rows are exactly `plane.width()` bytes, cast to `width()` pixels.
unsafe impl<P: fr::pixels::InnerPixel + bytemuck::Pod> fr::ImageView for Dst<'_, '_, P> {
    type Pixel = P;

    fn width(&self) -> u32 {
        px_width::<P>(self.plane.width()) as u32
    }

    fn height(&self) -> u32 {
        self.plane.height() as u32
    }

    fn iter_rows(&self, start_row: u32) -> impl Iterator<Item = &[P]> {
        let bytes = px_width::<P>(self.plane.width()) * std::mem::size_of::<P>();
        let view = self.plane.as_ref();
        (start_row as usize..view.height())
            .map(move |y| bytemuck::cast_slice::<u8, P>(&view.row(y)[..bytes]))
    }
}

// SAFETY: as for `Src`: `rows_mut` yields rows of exactly `plane.width()` bytes.
unsafe impl<P: fr::pixels::InnerPixel + bytemuck::Pod> fr::ImageViewMut for Dst<'_, '_, P> {
    fn iter_rows_mut(&mut self, start_row: u32) -> impl Iterator<Item = &mut [P]> {
        let bytes = px_width::<P>(self.plane.width()) * std::mem::size_of::<P>();
        self.plane
            .rows_mut()
            .skip(start_row as usize)
            .map(move |r| bytemuck::cast_slice_mut::<u8, P>(&mut r[..bytes]))
    }
}

/// A source crop in source pixels (sub-pixel allowed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CropF {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

/// Scales the `crop` of `src` into all of `dst` with `alg`, treating `P` pixels as opaque
/// (`mul_div_alpha` off) unless `alpha` is set (premultiplied resize of RGBA).
pub(crate) fn resize<P>(
    resizer: &mut fr::Resizer,
    src: PlaneRef<'_>,
    crop: CropF,
    dst: &mut PlaneMut<'_>,
    alg: fr::ResizeAlg,
    alpha: bool,
) -> Result<(), ComposeError>
where
    P: fr::PixelTrait + bytemuck::Pod,
{
    if dst.width() == 0 || dst.height() == 0 {
        return Ok(());
    }
    let opts = fr::ResizeOptions::new()
        .resize_alg(alg)
        .crop(crop.left, crop.top, crop.width, crop.height)
        .use_alpha(alpha);
    let s = Src::<P>::new(src);
    let mut d = Dst::<P>::new(dst);
    resizer
        .resize_typed::<P>(&s, &mut d, &opts)
        .map_err(|e| ComposeError::Resize(e.to_string()))
}
