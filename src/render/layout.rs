//! The layout stage: a scene placed at one output size.
//!
//! Seats become even pixel rectangles inside the output; sprites are scaled once to their
//! visible part, converted to YUV in the output's colour and premultiplied, so composing a
//! tick only blends. Layers keep the scene's draw order.

use fast_image_resize as fr;

use super::chroma_alpha_into;
use super::kernels::{div255, SimdLevel};
use super::resize::{resize, CropF};
use crate::error::ComposeError;
use crate::frame::{ColorSpec, Frame, PixelFormat, PlaneRef};
use crate::geometry::{Extent, Rect, WorldRect, WorldToPixel};
use crate::scene::{check_extent, Layer, Scene, Sprite};

/// A scene sprite prepared for one output size: the visible part, premultiplied YUV + A.
#[derive(Debug, Clone)]
pub(crate) struct PreparedSprite {
    /// Visible rectangle in output pixels (even, inside the output).
    pub(super) rect: Rect,
    /// Premultiplied luma, `rect`'s size.
    pub(super) y: Vec<u8>,
    /// Premultiplied U, half `rect`'s size.
    pub(super) u: Vec<u8>,
    /// Premultiplied V, half `rect`'s size.
    pub(super) v: Vec<u8>,
    /// Luma-resolution alpha.
    pub(super) a: Vec<u8>,
    /// Chroma-resolution alpha (2x2 mean).
    pub(super) ca: Vec<u8>,
    /// Every pixel opaque: copy instead of blend.
    pub(super) opaque: bool,
}

/// One layer of a layout, in draw order.
#[derive(Debug, Clone)]
pub(crate) enum LayerPlan {
    /// A scene sprite, ready to blend.
    Sprite(PreparedSprite),
    /// Seat `i`: whoever sits there, rendered by the seat stage.
    Seat(usize),
}

/// A scene placed at an output size.
#[derive(Debug, Clone)]
pub struct Layout {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) color: ColorSpec,
    pub(super) layers: Vec<LayerPlan>,
    pub(super) seat_rects: Vec<Rect>,
    /// The part of the output the scene fills ([`crate::geometry::letterbox`]): the whole
    /// output at the scene's aspect; outside it, bars of the output colour's black.
    pub(super) picture: Rect,
    /// The first layer is an opaque sprite covering the whole output: no need to clear.
    pub(super) base_covers: bool,
}

impl Layout {
    /// Places `scene` at `width x height` (even sides, checked by the caller), converting
    /// sprites into `color`'s YUV. An output at another aspect than the scene's extent is
    /// letterboxed ([`crate::geometry::letterbox`]): the scene keeps its aspect, centred, and
    /// the bars are black.
    pub fn new(
        scene: &Scene,
        width: u32,
        height: u32,
        color: ColorSpec,
    ) -> Result<Self, ComposeError> {
        Self::with_view(scene, &scene.extent, width, height, color)
    }

    /// Places the `view` window of `scene` (world units, e.g. an autoZoom view,
    /// [`crate::zoom`]) at `width x height`: `view` (at the extent's aspect) maps onto the
    /// picture area (the whole output, or its letterboxed part when the output's aspect
    /// differs from the extent's), sprites and seats outside it are cut off.
    pub fn with_view(
        scene: &Scene,
        view: &Extent,
        width: u32,
        height: u32,
        color: ColorSpec,
    ) -> Result<Self, ComposeError> {
        // Scenes built in code skip the loader's checks: no pixel size may come from a
        // non-finite, negative or out-of-extent number.
        scene.check_geometry()?;
        check_extent(view)?;
        let map = WorldToPixel::letterboxed(&scene.extent, *view, width, height);
        let picture = map.area();
        // Seats lie inside the extent, so clipping to it only trims rounding (in degenerate
        // extents one ulp of world can be many pixels). Through the whole extent that is the
        // picture area: a seat never renders larger than it. Through a smaller view (autoZoom)
        // a seat the picture's edge cuts keeps its size (composing cuts it), within one output
        // size around the output.
        let (w, h) = (i64::from(width), i64::from(height));
        let bounds = if *view == scene.extent {
            picture
        } else {
            let e = &scene.extent;
            map.rect_even(&WorldRect {
                cx: e.left + e.width / 2.0,
                cy: e.top + e.height / 2.0,
                width: e.width,
                height: e.height,
            })
            .intersect(&Rect::new(-w, -h, 3 * w, 3 * h))
        };
        let seat_rects: Vec<Rect> = scene
            .seats
            .iter()
            .map(|s| map.rect_even(&s.rect).intersect(&bounds))
            .collect();
        let mut resizer = fr::Resizer::new();
        let mut layers = Vec::new();
        for layer in scene.layers() {
            match layer {
                Layer::Sprite(i) => {
                    let sprite = &scene.sprites[i];
                    let full = map.rect_even(&sprite.rect);
                    if let Some(p) = prepare_sprite(&mut resizer, sprite, full, picture, color)? {
                        layers.push(LayerPlan::Sprite(p));
                    }
                }
                Layer::Seat(i) => {
                    let r = seat_rects[i];
                    if r.width >= 2 && r.height >= 2 && !r.intersect(&picture).is_empty() {
                        layers.push(LayerPlan::Seat(i));
                    }
                }
            }
        }
        let base_covers = matches!(layers.first(), Some(LayerPlan::Sprite(s))
            if s.opaque && s.rect == Rect::new(0, 0, width as i64, height as i64));
        Ok(Self {
            width,
            height,
            color,
            layers,
            seat_rects,
            picture,
            base_covers,
        })
    }

    /// Output width.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Output height.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// The pixel rectangle of seat `i` (even; inside the output, unless an autoZoom view cuts
    /// the seat at the output's edge: then it extends past it and only its inside is drawn).
    pub fn seat_rect(&self, i: usize) -> Option<Rect> {
        self.seat_rects.get(i).copied()
    }
    /// The part of the output the scene fills (even): the whole output when its aspect is
    /// the scene extent's, else the centred letterboxed (or pillarboxed) area; the rest is
    /// black bars.
    pub fn picture(&self) -> Rect {
        self.picture
    }
    /// Number of seats.
    pub fn seat_count(&self) -> usize {
        self.seat_rects.len()
    }
}

/// A sub-pixel span `start .. start + len` of `0 .. size`, nudged inside: the scaler refuses
/// `start >= size` and `start + len > size`, and f64 rounding of the visible part of a sprite
/// can land an ulp past its image's edge (found by the compositor_frames fuzz target: about
/// 8% of small output sizes failed to lay out the built-in scenes).
fn crop_inside(start: f64, len: f64, size: f64) -> (f64, f64) {
    let len = len.clamp(0.0, size);
    let mut start = start.clamp(0.0, size - len);
    // `start + len` may still round past `size` (by about an ulp): step back until it fits.
    let step = size * f64::EPSILON;
    while start > 0.0 && (start >= size || start + len > size) {
        start = (start - step).max(0.0);
    }
    (start, len)
}

/// Scales the part of `sprite` (placed at `full`) that lies inside the picture area of the
/// output, converts it to YUV + A in `color` and premultiplies it; `None` when none of it is
/// visible.
fn prepare_sprite(
    resizer: &mut fr::Resizer,
    sprite: &Sprite,
    full: Rect,
    picture: Rect,
    color: ColorSpec,
) -> Result<Option<PreparedSprite>, ComposeError> {
    let vis = full.intersect(&picture);
    if vis.is_empty() || full.width <= 0 || full.height <= 0 {
        return Ok(None);
    }
    let img = &sprite.image;
    let (iw, ih) = (img.width() as f64, img.height() as f64);
    let sx = iw / full.width as f64;
    let sy = ih / full.height as f64;
    let (left, width) = crop_inside((vis.x - full.x) as f64 * sx, vis.width as f64 * sx, iw);
    let (top, height) = crop_inside((vis.y - full.y) as f64 * sy, vis.height as f64 * sy, ih);
    let crop = CropF {
        left,
        top,
        width,
        height,
    };
    let (vw, vh) = (vis.width as u32, vis.height as u32);
    let src = PlaneRef::packed(img.data(), 4 * img.width() as usize, img.height() as usize)?;
    let mut rgba = Frame::new(PixelFormat::Rgba, vw, vh)?;
    {
        let mut m = rgba.as_mut();
        let mut p = m.plane_mut(0);
        resize::<fr::pixels::U8x4>(
            resizer,
            src,
            crop,
            &mut p,
            fr::ResizeAlg::Convolution(fr::FilterType::Bilinear),
            sprite.is_alpha,
        )?;
        if !sprite.is_alpha {
            for row in p.rows_mut() {
                for px in row.chunks_exact_mut(4) {
                    px[3] = 255;
                }
            }
        }
    }
    rgba.set_color(color);
    let yuv = rgba.as_ref().to_frame(PixelFormat::I420A)?;
    let yuv = yuv.as_ref();
    let pack = |p: PlaneRef<'_>| -> Vec<u8> { p.rows().flatten().copied().collect() };
    let mut y = pack(yuv.plane(0));
    let mut u = pack(yuv.plane(1));
    let mut v = pack(yuv.plane(2));
    let a = pack(yuv.plane(3));
    let ca = chroma_alpha(&a, vw as usize, vh as usize);
    let opaque = a.iter().all(|&x| x == 255);
    if !opaque {
        for (p, &al) in y.iter_mut().zip(&a) {
            *p = div255(*p as u32 * al as u32);
        }
        for ((pu, pv), &al) in u.iter_mut().zip(v.iter_mut()).zip(&ca) {
            *pu = div255(*pu as u32 * al as u32);
            *pv = div255(*pv as u32 * al as u32);
        }
    }
    Ok(Some(PreparedSprite {
        rect: vis,
        y,
        u,
        v,
        a,
        ca,
        opaque,
    }))
}

/// 2x2 means (rounded) of a `w x h` alpha plane: the chroma-resolution alpha.
fn chroma_alpha(a: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = vec![0u8; cw * ch];
    chroma_alpha_into(SimdLevel::detect(), a, w, h, &mut out);
    out
}
