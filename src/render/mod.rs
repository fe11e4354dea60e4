//! Per-seat rendering and band composition.
//!
//! A [`Layout`] is a scene placed at one output size: sprites converted once to
//! premultiplied YUV + alpha and clipped to the output, seats as even pixel rectangles,
//! layers in draw order. `render_seat` turns a participant frame into a `SeatRender`
//! (crop to the seat's aspect, scale each plane straight into the seat, matte, mirror).
//! `compose` then draws every layer into the output, in parallel over disjoint bands of
//! rows.

pub mod kernels;
pub(crate) mod scale;

use fast_image_resize as fr;
use rayon::prelude::*;

use crate::error::{ComposeError, FrameError};
use crate::frame::{ColorSpec, Frame, FrameRef, PixelFormat, PlaneMut, PlaneRef};
use crate::geometry::{aspect_fill_crop, Rect, WorldToPixel};
use crate::scene::{Layer, Scene};
use crate::segment::{Matte, SeatColour, SegmentInput, Segmenter};
use kernels::scale::{prefetch, scale_plane, ScalePlan, ScaleScratch, PREFETCH_ROWS};
use kernels::{blend, div255, SimdLevel};
use scale::{scale, CropF};

/// Luma rows per parallel band of the output (even, so chroma rows split exactly). Small
/// enough to give each of a few workers several bands, large enough that per-band layer
/// bookkeeping stays negligible.
pub const BAND_ROWS: usize = 64;

/// A scene sprite prepared for one output size: the visible part, premultiplied YUV + A.
#[derive(Debug, Clone)]
pub(crate) struct PreparedSprite {
    /// Visible rectangle in output pixels (even, inside the output).
    rect: Rect,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    /// Luma-resolution alpha.
    a: Vec<u8>,
    /// Chroma-resolution alpha (2x2 mean).
    ca: Vec<u8>,
    /// Every pixel opaque: copy instead of blend.
    opaque: bool,
}

/// One layer of a layout, in draw order.
#[derive(Debug, Clone)]
pub(crate) enum LayerPlan {
    Sprite(PreparedSprite),
    Seat(usize),
}

/// A scene placed at an output size.
#[derive(Debug, Clone)]
pub struct Layout {
    width: u32,
    height: u32,
    color: ColorSpec,
    layers: Vec<LayerPlan>,
    seat_rects: Vec<Rect>,
    /// The first layer is an opaque sprite covering the whole output: no need to clear.
    base_covers: bool,
}

impl Layout {
    /// Places `scene` at `width x height` (even sides, checked by the caller), converting
    /// sprites into `color`'s YUV.
    pub fn new(
        scene: &Scene,
        width: u32,
        height: u32,
        color: ColorSpec,
    ) -> Result<Self, ComposeError> {
        // Scenes built in code skip the loader's checks: no pixel size may come from a
        // non-finite, negative or out-of-extent number.
        scene.check_geometry()?;
        let map = WorldToPixel::new(scene.extent, width, height);
        // Seats lie inside the extent, so clipping only trims rounding (in degenerate extents
        // one ulp of world can be many pixels): a seat never renders larger than the output.
        let seat_rects: Vec<Rect> = scene
            .seats
            .iter()
            .map(|s| map.rect_even(&s.rect).clip(width, height))
            .collect();
        let mut resizer = fr::Resizer::new();
        let mut layers = Vec::new();
        for layer in scene.layers() {
            match layer {
                Layer::Sprite(i) => {
                    let sprite = &scene.sprites[i];
                    let full = map.rect_even(&sprite.rect);
                    if let Some(p) =
                        prepare_sprite(&mut resizer, sprite, full, width, height, color)?
                    {
                        layers.push(LayerPlan::Sprite(p));
                    }
                }
                Layer::Seat(i) => {
                    let r = seat_rects[i];
                    if r.width >= 2 && r.height >= 2 && !r.clip(width, height).is_empty() {
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
    /// The pixel rectangle of seat `i` (even, inside the output).
    pub fn seat_rect(&self, i: usize) -> Option<Rect> {
        self.seat_rects.get(i).copied()
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

fn prepare_sprite(
    resizer: &mut fr::Resizer,
    sprite: &crate::scene::Sprite,
    full: Rect,
    out_w: u32,
    out_h: u32,
    color: ColorSpec,
) -> Result<Option<PreparedSprite>, ComposeError> {
    let vis = full.clip(out_w, out_h);
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
        scale::<fr::pixels::U8x4>(
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

/// The same into `out` (`ceil(w/2) x ceil(h/2)`), with the box kernel of the scaler.
fn chroma_alpha_into(level: SimdLevel, a: &[u8], w: usize, h: usize, out: &mut [u8]) {
    let cw = w.div_ceil(2);
    for (cy, orow) in out
        .chunks_exact_mut(cw.max(1))
        .enumerate()
        .take(h.div_ceil(2))
    {
        let r0 = &a[2 * cy * w..2 * cy * w + w];
        let r1 = if 2 * cy + 1 < h {
            &a[(2 * cy + 1) * w..(2 * cy + 2) * w]
        } else {
            r0
        };
        kernels::scale::box_row(level, r0, r1, orow);
    }
}

/// How a seat is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeatKind {
    /// Copy: no matte, full opacity.
    Opaque,
    /// One alpha for the whole seat.
    Constant(u8),
    /// Per-pixel matte in `a` / `ca`.
    Matte,
}

/// A participant rendered into its seat: packed planes at seat size.
#[derive(Debug)]
pub(crate) struct SeatRender {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) y: Vec<u8>,
    pub(crate) u: Vec<u8>,
    pub(crate) v: Vec<u8>,
    pub(crate) a: Vec<u8>,
    pub(crate) ca: Vec<u8>,
    pub(crate) kind: SeatKind,
}

impl SeatRender {
    pub(crate) fn new() -> Self {
        Self {
            width: 0,
            height: 0,
            y: Vec::new(),
            u: Vec::new(),
            v: Vec::new(),
            a: Vec::new(),
            ca: Vec::new(),
            kind: SeatKind::Opaque,
        }
    }

    /// Sizes the planes for a `w x h` seat (even sides); allocates only when it grows.
    fn resize(&mut self, w: usize, h: usize) {
        self.width = w;
        self.height = h;
        let (cw, ch) = (w / 2, h / 2);
        self.y.resize(w * h, 0);
        self.a.resize(w * h, 0);
        self.u.resize(cw * ch, 128);
        self.v.resize(cw * ch, 128);
        self.ca.resize(cw * ch, 0);
    }
}

/// Scratch one seat keeps across ticks (a scaler with its cached coefficients, buffers for
/// format conversion).
pub(crate) struct SeatScratch {
    resizer: fr::Resizer,
    luma_plan: Option<ScalePlan>,
    chroma_plan: Option<ScalePlan>,
    scale: ScaleScratch,
    conv: Option<Frame>,
    alpha_in: Vec<u8>,
}

impl SeatScratch {
    pub(crate) fn new() -> Self {
        Self {
            resizer: fr::Resizer::new(),
            luma_plan: None,
            chroma_plan: None,
            scale: ScaleScratch::default(),
            conv: None,
            alpha_in: Vec::new(),
        }
    }
}

/// The whole-pixel crop `c` of `plane`, `size` pixels.
fn crop_to<'p>(
    plane: PlaneRef<'p>,
    c: &CropF,
    size: (usize, usize),
) -> Result<PlaneRef<'p>, FrameError> {
    plane.crop(c.left as usize, c.top as usize, size.0, size.1)
}

/// Which scaler renders seats.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SeatScaler {
    /// Our own box-halving + 2-tap bilinear kernels (`kernels::scale`).
    Fast,
    /// fast_image_resize with this algorithm.
    Fir(fr::ResizeAlg),
}

/// Per-seat drawing options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeatParams<'a> {
    pub width: usize,
    pub height: usize,
    pub mirror: bool,
    pub opacity: u8,
    pub color: ColorSpec,
    pub participant: &'a str,
    pub pts: i64,
    pub scaler: SeatScaler,
    pub level: SimdLevel,
    /// Brightness kept, out of 255 (255: unchanged); see [`dim_seat`].
    pub dim: u8,
}

/// Renders `frame` into `out` at the seat's size: centre crop to the seat's aspect (even
/// offsets), scale each plane straight into the seat, matte with `segmenter`, mirror.
/// Asks for the first rows of the luma crop a `sw x sh` seat will read from `frame`, so
/// they arrive while the seat before it is rendered (I420 and I420A; a no-op for others).
pub(crate) fn prefetch_seat(frame: &FrameRef<'_>, sw: usize, sh: usize) {
    if !matches!(frame.format(), PixelFormat::I420 | PixelFormat::I420A) || sw < 2 || sh < 2 {
        return;
    }
    let (cx, cy, cw, ch) =
        aspect_fill_crop(frame.width(), frame.height(), sw as u32, sh as u32, true);
    let y = frame.plane(0);
    let (x0, w) = (cx as usize, cw as usize);
    for r in cy as usize..(cy as usize + PREFETCH_ROWS.min(ch as usize)).min(y.height()) {
        if let Some(row) = y.row(r).get(x0..x0 + w) {
            prefetch(row);
        }
    }
}

pub(crate) fn render_seat(
    scratch: &mut SeatScratch,
    out: &mut SeatRender,
    segmenter: &mut dyn Segmenter,
    frame: &FrameRef<'_>,
    p: &SeatParams<'_>,
) -> Result<(), ComposeError> {
    let (sw, sh) = (p.width, p.height);
    out.resize(sw, sh);
    let (fw, fh) = (frame.width(), frame.height());
    let (cx, cy, cw, ch) = aspect_fill_crop(fw, fh, sw as u32, sh as u32, true);

    // Planar I420 (+A) views of the crop region: direct for I420/I420A, converted for the rest.
    let (yv, uv, vv, av, luma_crop, chroma_crop);
    let converted;
    match frame.format() {
        PixelFormat::I420 | PixelFormat::I420A => {
            yv = frame.plane(0);
            uv = frame.plane(1);
            vv = frame.plane(2);
            av = (frame.format() == PixelFormat::I420A).then(|| frame.plane(3));
            luma_crop = CropF {
                left: cx as f64,
                top: cy as f64,
                width: cw as f64,
                height: ch as f64,
            };
            chroma_crop = CropF {
                left: (cx / 2) as f64,
                top: (cy / 2) as f64,
                width: cw.div_ceil(2) as f64,
                height: ch.div_ceil(2) as f64,
            };
        }
        PixelFormat::Nv12 | PixelFormat::Rgba | PixelFormat::Bgra => {
            let bpp = if frame.format() == PixelFormat::Nv12 {
                1
            } else {
                4
            };
            let mut planes = Vec::with_capacity(2);
            for (i, pl) in frame.planes().iter().enumerate() {
                let (x, y, w, h) = if i == 0 {
                    (
                        cx as usize * bpp,
                        cy as usize,
                        cw as usize * bpp,
                        ch as usize,
                    )
                } else {
                    (
                        cx as usize,
                        cy as usize / 2,
                        2 * cw.div_ceil(2) as usize,
                        ch.div_ceil(2) as usize,
                    )
                };
                planes.push(pl.crop(x, y, w, h)?);
            }
            let color = if frame.format() == PixelFormat::Nv12 {
                frame.color()
            } else {
                p.color
            };
            let cropped = FrameRef::new(frame.format(), cw, ch, color, &planes)?;
            let want = if frame.format() == PixelFormat::Nv12 {
                PixelFormat::I420
            } else {
                PixelFormat::I420A
            };
            let conv = match &mut scratch.conv {
                Some(f) if f.format() == want && f.width() == cw && f.height() == ch => f,
                slot => slot.insert(Frame::new(want, cw, ch)?),
            };
            crate::color::convert(&cropped, &mut conv.as_mut())?;
            converted = conv.as_ref();
            yv = converted.plane(0);
            uv = converted.plane(1);
            vv = converted.plane(2);
            av = (want == PixelFormat::I420A).then(|| converted.plane(3));
            luma_crop = CropF {
                left: 0.0,
                top: 0.0,
                width: cw as f64,
                height: ch as f64,
            };
            chroma_crop = CropF {
                left: 0.0,
                top: 0.0,
                width: cw.div_ceil(2) as f64,
                height: ch.div_ceil(2) as f64,
            };
        }
    }

    let (cw2, ch2) = (sw / 2, sh / 2);
    let input_alpha = match p.scaler {
        SeatScaler::Fast => {
            // Our own scaler; it mirrors as it goes.
            let lsrc = (cw as usize, ch as usize);
            let csrc = (cw.div_ceil(2) as usize, ch.div_ceil(2) as usize);
            if !scratch
                .luma_plan
                .as_ref()
                .is_some_and(|pl| pl.fits(lsrc, (sw, sh), p.mirror))
            {
                scratch.luma_plan = Some(ScalePlan::new(lsrc, (sw, sh), p.mirror));
            }
            if !scratch
                .chroma_plan
                .as_ref()
                .is_some_and(|pl| pl.fits(csrc, (cw2, ch2), p.mirror))
            {
                scratch.chroma_plan = Some(ScalePlan::new(csrc, (cw2, ch2), p.mirror));
            }
            let (Some(lp), Some(cp)) = (&scratch.luma_plan, &scratch.chroma_plan) else {
                unreachable!("plans were just made")
            };
            let ss = &mut scratch.scale;
            // The chroma and alpha planes are read after the luma: ask for their first rows
            // now, so they arrive while the luma is scaled (each plane's later rows are
            // prefetched as the scaler goes).
            for (plane, crop, size) in [(uv, &chroma_crop, csrc), (vv, &chroma_crop, csrc)]
                .into_iter()
                .chain(av.map(|a| (a, &luma_crop, lsrc)))
            {
                let c = crop_to(plane, crop, size)?;
                for r in 0..PREFETCH_ROWS.min(c.height()) {
                    prefetch(c.row(r));
                }
            }
            scale_plane(
                p.level,
                lp,
                crop_to(yv, &luma_crop, lsrc)?,
                &mut out.y,
                sw,
                ss,
            );
            scale_plane(
                p.level,
                cp,
                crop_to(uv, &chroma_crop, csrc)?,
                &mut out.u,
                cw2,
                ss,
            );
            scale_plane(
                p.level,
                cp,
                crop_to(vv, &chroma_crop, csrc)?,
                &mut out.v,
                cw2,
                ss,
            );
            match av {
                Some(a) => {
                    scratch.alpha_in.resize(sw * sh, 0);
                    scale_plane(
                        p.level,
                        lp,
                        crop_to(a, &luma_crop, lsrc)?,
                        &mut scratch.alpha_in,
                        sw,
                        ss,
                    );
                    Some(PlaneRef::packed(&scratch.alpha_in, sw, sh)?)
                }
                None => None,
            }
        }
        SeatScaler::Fir(alg) => {
            let r = &mut scratch.resizer;
            scale::<fr::pixels::U8>(
                r,
                yv,
                luma_crop,
                &mut PlaneMut::new(&mut out.y, sw, sh, sw)?,
                alg,
                false,
            )?;
            scale::<fr::pixels::U8>(
                r,
                uv,
                chroma_crop,
                &mut PlaneMut::new(&mut out.u, cw2, ch2, cw2)?,
                alg,
                false,
            )?;
            scale::<fr::pixels::U8>(
                r,
                vv,
                chroma_crop,
                &mut PlaneMut::new(&mut out.v, cw2, ch2, cw2)?,
                alg,
                false,
            )?;
            match av {
                Some(a) => {
                    scratch.alpha_in.resize(sw * sh, 0);
                    scale::<fr::pixels::U8>(
                        r,
                        a,
                        luma_crop,
                        &mut PlaneMut::new(&mut scratch.alpha_in, sw, sh, sw)?,
                        alg,
                        false,
                    )?;
                    Some(PlaneRef::packed(&scratch.alpha_in, sw, sh)?)
                }
                None => None,
            }
        }
    };

    // Inputs tagged differently from the output (RGB inputs were converted with the output's
    // tag already) are converted at seat resolution.
    let src_color = match frame.format() {
        PixelFormat::Rgba | PixelFormat::Bgra => p.color,
        _ => frame.color(),
    };
    if let Some(cc) = crate::color::ColorConvert::new(src_color, p.color) {
        cc.apply(p.level, &mut out.y, &mut out.u, &mut out.v, sw, sh);
    }

    let input = SegmentInput {
        y: PlaneRef::packed(&out.y, sw, sh)?,
        u: PlaneRef::packed(&out.u, cw2, ch2)?,
        v: PlaneRef::packed(&out.v, cw2, ch2)?,
        input_alpha,
        participant: p.participant,
        pts: p.pts,
        color: p.color,
    };
    let matte = segmenter.segment(&input, &mut PlaneMut::new(&mut out.a, sw, sh, sw)?);
    if matte == Matte::Written {
        // Edge pixels get the person's colour, not the room's (see Segmenter::decontaminate).
        let mut colour = SeatColour {
            y: PlaneMut::new(&mut out.y, sw, sh, sw)?,
            u: PlaneMut::new(&mut out.u, cw2, ch2, cw2)?,
            v: PlaneMut::new(&mut out.v, cw2, ch2, cw2)?,
        };
        segmenter.decontaminate(&mut colour, &PlaneRef::packed(&out.a, sw, sh)?);
    }
    out.kind = match matte {
        Matte::Written => {
            if p.opacity < 255 {
                for a in out.a.iter_mut() {
                    *a = div255(*a as u32 * p.opacity as u32);
                }
            }
            SeatKind::Matte
        }
        Matte::Opaque if p.opacity < 255 => SeatKind::Constant(p.opacity),
        Matte::Opaque => SeatKind::Opaque,
    };
    if p.dim < 255 {
        dim_seat(out, p.dim, p.color.black()[0]);
    }
    if p.mirror && !matches!(p.scaler, SeatScaler::Fast) {
        for row in out.y.chunks_exact_mut(sw) {
            row.reverse();
        }
        for row in out
            .u
            .chunks_exact_mut(cw2)
            .chain(out.v.chunks_exact_mut(cw2))
        {
            row.reverse();
        }
        if out.kind == SeatKind::Matte {
            for row in out.a.chunks_exact_mut(sw) {
                row.reverse();
            }
        }
    }
    if out.kind == SeatKind::Matte {
        chroma_alpha_into(p.level, &out.a, sw, sh, &mut out.ca);
    }
    Ok(())
}

/// Darkens a seat render (a frozen participant): luma above `black` and chroma around
/// neutral 128 are scaled by `keep / 255`, rounded to nearest.
fn dim_seat(out: &mut SeatRender, keep: u8, black: u8) {
    let k = u32::from(keep);
    for y in &mut out.y {
        if *y > black {
            *y = black + div255(u32::from(*y - black) * k);
        }
    }
    for c in out.u.iter_mut().chain(out.v.iter_mut()) {
        let d = i32::from(*c) - 128;
        let scaled = i32::from(div255(d.unsigned_abs() * k));
        *c = (128 + d.signum() * scaled) as u8;
    }
}

/// Composes `layout` into `out` (I420, the layout's size). `seat(i)` gives the render of
/// seat `i`, or `None` for an empty seat. With `damage`, only those rectangles are
/// recomposed (from all layers, so overlaps stay right); the rest of `out` must already
/// hold the previous composite.
pub(crate) fn compose<'s>(
    layout: &Layout,
    seat: &(dyn Fn(usize) -> Option<&'s SeatRender> + Sync),
    out: &mut crate::frame::FrameMut<'_>,
    level: SimdLevel,
    parallel: bool,
    damage: Option<&[Rect]>,
) -> Result<(), ComposeError> {
    if out.format() != PixelFormat::I420
        || (out.width(), out.height()) != (layout.width, layout.height)
    {
        return Err(ComposeError::OutputMismatch {
            expected_format: PixelFormat::I420,
            expected: (layout.width, layout.height),
            found_format: out.format(),
            found: (out.width(), out.height()),
        });
    }
    let black = layout.color.black();
    let planes = out.planes_mut();
    let (yp, rest) = planes.split_at_mut(1);
    let (up, vp) = rest.split_at_mut(1);
    // Each plane has a stride of its own (a caller's buffer may pad U and V differently).
    let (ys, us, vs) = (yp[0].stride(), up[0].stride(), vp[0].stride());
    let w = layout.width as usize;
    let h = layout.height as usize;
    let full = [Rect::new(0, 0, w as i64, h as i64)];
    let clips = damage.unwrap_or(&full);
    type Band<'b> = (usize, ((&'b mut [u8], &'b mut [u8]), &'b mut [u8]));
    let band = |(i, ((yb, ub), vb)): Band<'_>| {
        let y0 = i * BAND_ROWS;
        let rows = BAND_ROWS.min(h - y0);
        let band_rect = Rect::new(0, y0 as i64, w as i64, rows as i64);
        let mut bp = BandPlanes {
            y: yb,
            u: ub,
            v: vb,
            ys,
            us,
            vs,
            y0,
            clip: band_rect,
            pending: None,
        };
        for c in clips {
            bp.clip = c.intersect(&band_rect);
            if bp.clip.is_empty() {
                continue;
            }
            if !layout.base_covers {
                bp.fill(black);
            }
            for layer in &layout.layers {
                match layer {
                    LayerPlan::Sprite(s) => {
                        let op = if s.opaque {
                            Op::Copy
                        } else {
                            Op::Premul(&s.a, &s.ca)
                        };
                        bp.draw(s.rect, s.rect.width as usize, [&s.y, &s.u, &s.v], op, level);
                    }
                    LayerPlan::Seat(i) => {
                        let Some(r) = seat(*i) else { continue };
                        let rect = layout.seat_rects[*i];
                        if r.width as i64 != rect.width || r.height as i64 != rect.height {
                            continue;
                        }
                        let op = match r.kind {
                            SeatKind::Opaque => Op::Copy,
                            SeatKind::Constant(a) => Op::Constant(a),
                            SeatKind::Matte => Op::Straight(&r.a, &r.ca),
                        };
                        bp.draw(rect, r.width, [&r.y, &r.u, &r.v], op, level);
                    }
                }
            }
            bp.flush(level);
        }
    };
    if parallel {
        yp[0]
            .data_mut()
            .par_chunks_mut(ys * BAND_ROWS)
            .zip(up[0].data_mut().par_chunks_mut(us * BAND_ROWS / 2))
            .zip(vp[0].data_mut().par_chunks_mut(vs * BAND_ROWS / 2))
            .enumerate()
            .for_each(band);
    } else {
        yp[0]
            .data_mut()
            .chunks_mut(ys * BAND_ROWS)
            .zip(up[0].data_mut().chunks_mut(us * BAND_ROWS / 2))
            .zip(vp[0].data_mut().chunks_mut(vs * BAND_ROWS / 2))
            .enumerate()
            .for_each(band);
    }
    Ok(())
}

/// How a layer's pixels land on what is below them.
#[derive(Clone, Copy)]
enum Op<'a> {
    /// Replace.
    Copy,
    /// Premultiplied source with (luma alpha, chroma alpha).
    Premul(&'a [u8], &'a [u8]),
    /// Straight source with (luma alpha, chroma alpha).
    Straight(&'a [u8], &'a [u8]),
    /// Straight source, one alpha.
    Constant(u8),
}

/// How many rows ahead [`BandPlanes::layer_over`] asks for the rows it will read.
const OVER_PREFETCH: usize = 10;

/// The straight-alpha [`Op`]s, which can blend from a [`Covering`] layer directly.
#[derive(Clone, Copy)]
enum Over<'a> {
    Straight(&'a [u8], &'a [u8]),
    Constant(u8),
}

/// An opaque layer that covers the whole clip, not drawn yet: the next layer may blend
/// straight from it (one pass instead of a copy and a blend), or a later opaque layer may
/// hide it entirely.
struct Covering<'l> {
    rect: Rect,
    src_w: usize,
    planes: [&'l [u8]; 3],
}

/// One band of output rows (luma rows `y0 ..`, chroma rows half that), drawn only inside
/// `clip` (absolute output pixels, even edges, inside the band).
struct BandPlanes<'a, 'l> {
    y: &'a mut [u8],
    u: &'a mut [u8],
    v: &'a mut [u8],
    /// Strides of the Y, U and V bands.
    ys: usize,
    us: usize,
    vs: usize,
    y0: usize,
    clip: Rect,
    pending: Option<Covering<'l>>,
}

impl<'l> BandPlanes<'_, 'l> {
    /// Draws a layer (see [`Self::layer`]), deferring an opaque layer that covers the whole
    /// clip so the layer above it can blend from its pixels directly. The result equals
    /// drawing every layer in order. Call [`Self::flush`] after the clip's last layer.
    fn draw(
        &mut self,
        rect: Rect,
        src_w: usize,
        planes: [&'l [u8]; 3],
        op: Op<'l>,
        level: SimdLevel,
    ) {
        let area = rect.intersect(&self.clip);
        if area.is_empty() {
            return;
        }
        if area == self.clip {
            if let Op::Copy = op {
                // Whatever was pending is hidden entirely.
                self.pending = Some(Covering {
                    rect,
                    src_w,
                    planes,
                });
                return;
            }
        }
        if let Some(below) = self.pending.take() {
            let over = match op {
                Op::Constant(a) => Some(Over::Constant(a)),
                Op::Straight(a, ca) => Some(Over::Straight(a, ca)),
                Op::Copy | Op::Premul(..) => None,
            };
            if let (Some(over), true) = (over, area == self.clip) {
                self.layer_over(&below, rect, src_w, planes, over, level);
                return;
            }
            self.layer(below.rect, below.src_w, below.planes, Op::Copy, level);
        }
        self.layer(rect, src_w, planes, op, level);
    }

    /// Draws a deferred covering layer, if any.
    fn flush(&mut self, level: SimdLevel) {
        if let Some(below) = self.pending.take() {
            self.layer(below.rect, below.src_w, below.planes, Op::Copy, level);
        }
    }

    /// A straight-alpha layer over `below`, both covering the whole clip: each output byte
    /// is computed from `below`'s pixels and the layer's in one pass.
    fn layer_over(
        &mut self,
        below: &Covering<'_>,
        rect: Rect,
        src_w: usize,
        [sy_, su, sv]: [&[u8]; 3],
        op: Over<'_>,
        level: SimdLevel,
    ) {
        let area = self.clip;
        let (x0, top) = (area.x as usize, area.y as usize);
        let (cols, n) = (area.width as usize, area.height as usize);
        let (sx, sy) = ((area.x - rect.x) as usize, (area.y - rect.y) as usize);
        let (bx, by_) = (
            (area.x - below.rect.x) as usize,
            (area.y - below.rect.y) as usize,
        );
        let by = top - self.y0;
        let bw = below.src_w;
        let apply =
            |d: &mut [u8], under: &[u8], src: &[u8], o: usize, len: usize, luma: bool| match op {
                Over::Constant(a) => blend::constant_over(level, d, under, &src[o..o + len], a),
                Over::Straight(a, ca) => {
                    let al = if luma { a } else { ca };
                    blend::straight_over(level, d, under, &src[o..o + len], &al[o..o + len]);
                }
            };
        let (cx0, ccols, csw, cbw) = (x0 / 2, cols / 2, src_w / 2, bw / 2);
        let (us, vs) = (self.us, self.vs);
        // Chroma row `r`: its offset in the rows below and in the output U and V planes.
        let chroma_at = |r: usize| {
            let (out, below) = (by / 2 + r, by_ / 2 + r);
            (below * cbw + bx / 2, out * us + cx0, out * vs + cx0)
        };
        let prefetch_chroma = |this: &Self, r: usize| {
            let (bo, urow, vrow) = chroma_at(r);
            prefetch(&below.planes[1][bo..bo + ccols]);
            prefetch(&below.planes[2][bo..bo + ccols]);
            prefetch(&this.u[urow..urow + ccols]);
            prefetch(&this.v[vrow..vrow + ccols]);
        };
        // The rows below and the output rows are strided reads from L3 or memory: the first
        // chroma rows now (read after the luma), then every plane OVER_PREFETCH rows ahead.
        for r in 0..OVER_PREFETCH.min(n / 2) {
            prefetch_chroma(self, r);
        }
        for r in 0..n {
            if r + OVER_PREFETCH < n {
                let a = r + OVER_PREFETCH;
                prefetch(&self.y[(by + a) * self.ys + x0..][..cols]);
                prefetch(&below.planes[0][(by_ + a) * bw + bx..][..cols]);
            }
            let d = &mut self.y[(by + r) * self.ys + x0..][..cols];
            let under = &below.planes[0][(by_ + r) * bw + bx..][..cols];
            apply(d, under, sy_, (sy + r) * src_w + sx, cols, true);
        }
        for r in 0..n / 2 {
            if r + OVER_PREFETCH < n / 2 {
                prefetch_chroma(self, r + OVER_PREFETCH);
            }
            let o = (sy / 2 + r) * csw + sx / 2;
            let (bo, urow, vrow) = chroma_at(r);
            apply(
                &mut self.u[urow..urow + ccols],
                &below.planes[1][bo..bo + ccols],
                su,
                o,
                ccols,
                false,
            );
            apply(
                &mut self.v[vrow..vrow + ccols],
                &below.planes[2][bo..bo + ccols],
                sv,
                o,
                ccols,
                false,
            );
        }
    }

    fn fill(&mut self, [y, u, v]: [u8; 3]) {
        let c = self.clip;
        let (x, cols) = (c.x as usize, c.width as usize);
        let by = c.y as usize - self.y0;
        for r in 0..c.height as usize {
            self.y[(by + r) * self.ys + x..][..cols].fill(y);
        }
        for r in 0..c.height as usize / 2 {
            let (urow, vrow) = (
                (by / 2 + r) * self.us + x / 2,
                (by / 2 + r) * self.vs + x / 2,
            );
            self.u[urow..urow + cols / 2].fill(u);
            self.v[vrow..vrow + cols / 2].fill(v);
        }
    }

    /// Draws the part of a layer at `rect` (source rows `src_w` wide, chroma half) that lies
    /// inside the clip. All edges are even, so chroma rows and columns split exactly.
    fn layer(
        &mut self,
        rect: Rect,
        src_w: usize,
        [sy_, su, sv]: [&[u8]; 3],
        op: Op<'_>,
        level: SimdLevel,
    ) {
        let area = rect.intersect(&self.clip);
        if area.is_empty() {
            return;
        }
        let (x0, top) = (area.x as usize, area.y as usize);
        let (cols, n) = (area.width as usize, area.height as usize);
        let sx = (area.x - rect.x) as usize;
        let sy = (area.y - rect.y) as usize;
        let by = top - self.y0;
        let apply = |d: &mut [u8], src: &[u8], o: usize, len: usize, luma: bool| match op {
            Op::Copy => d.copy_from_slice(&src[o..o + len]),
            Op::Constant(a) => blend::constant(level, d, &src[o..o + len], a),
            Op::Premul(a, ca) => {
                let al = if luma { a } else { ca };
                blend::premul(level, d, &src[o..o + len], &al[o..o + len]);
            }
            Op::Straight(a, ca) => {
                let al = if luma { a } else { ca };
                blend::straight(level, d, &src[o..o + len], &al[o..o + len]);
            }
        };
        for r in 0..n {
            let d = &mut self.y[(by + r) * self.ys + x0..][..cols];
            apply(d, sy_, (sy + r) * src_w + sx, cols, true);
        }
        let (cx0, ccols, csw) = (x0 / 2, cols / 2, src_w / 2);
        for r in 0..n / 2 {
            let o = (sy / 2 + r) * csw + sx / 2;
            let (urow, vrow) = ((by / 2 + r) * self.us + cx0, (by / 2 + r) * self.vs + cx0);
            apply(&mut self.u[urow..urow + ccols], su, o, ccols, false);
            apply(&mut self.v[vrow..vrow + ccols], sv, o, ccols, false);
        }
    }
}
