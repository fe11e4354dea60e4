//! Per-seat rendering and band composition.
//!
//! A [`Layout`] is a scene placed at one output size: sprites converted once to
//! premultiplied YUV + alpha and clipped to the output, seats as even pixel rectangles,
//! layers in draw order. [`render_seat`] turns a participant frame into a [`SeatRender`]
//! (crop to the seat's aspect, scale each plane straight into the seat, matte, mirror).
//! [`compose`] then draws every layer into the output, in parallel over disjoint bands of
//! rows.

mod color;
pub mod kernels;
pub(crate) mod scale;

use fast_image_resize as fr;
use rayon::prelude::*;

use crate::error::{ComposeError, FrameError};
use crate::frame::{ColorSpec, Frame, FrameRef, PixelFormat, PlaneMut, PlaneRef};
use crate::geometry::{aspect_fill_crop, Rect, WorldToPixel};
use crate::scene::{Layer, Scene};
use crate::segment::{Matte, SeatColour, SegmentInput, Segmenter};
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
        let map = WorldToPixel::new(scene.extent, width, height);
        let seat_rects: Vec<Rect> = scene.seats.iter().map(|s| map.rect_even(&s.rect)).collect();
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
        Ok(Self {
            width,
            height,
            color,
            layers,
            seat_rects,
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
    /// The pixel rectangle of seat `i` (even; may extend past the output).
    pub fn seat_rect(&self, i: usize) -> Option<Rect> {
        self.seat_rects.get(i).copied()
    }
    /// Number of seats.
    pub fn seat_count(&self) -> usize {
        self.seat_rects.len()
    }
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
    let crop = CropF {
        left: (vis.x - full.x) as f64 * sx,
        top: (vis.y - full.y) as f64 * sy,
        width: vis.width as f64 * sx,
        height: vis.height as f64 * sy,
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
    chroma_alpha_into(a, w, h, &mut out);
    out
}

fn chroma_alpha_into(a: &[u8], w: usize, h: usize, out: &mut [u8]) {
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
        for (cx, o) in orow.iter_mut().enumerate() {
            let x0 = 2 * cx;
            let x1 = (x0 + 1).min(w - 1);
            let s = r0[x0] as u32 + r0[x1] as u32 + r1[x0] as u32 + r1[x1] as u32;
            *o = ((s + 2) / 4) as u8;
        }
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
    conv: Option<Frame>,
    alpha_in: Vec<u8>,
}

impl SeatScratch {
    pub(crate) fn new() -> Self {
        Self {
            resizer: fr::Resizer::new(),
            conv: None,
            alpha_in: Vec::new(),
        }
    }
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
    pub alg: fr::ResizeAlg,
}

/// Renders `frame` into `out` at the seat's size: centre crop to the seat's aspect (even
/// offsets), scale each plane straight into the seat, matte with `segmenter`, mirror.
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
            crate::frame::convert(&cropped, &mut conv.as_mut())?;
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
    let r = &mut scratch.resizer;
    scale::<fr::pixels::U8>(
        r,
        yv,
        luma_crop,
        &mut PlaneMut::new(&mut out.y, sw, sh, sw)?,
        p.alg,
        false,
    )?;
    scale::<fr::pixels::U8>(
        r,
        uv,
        chroma_crop,
        &mut PlaneMut::new(&mut out.u, cw2, ch2, cw2)?,
        p.alg,
        false,
    )?;
    scale::<fr::pixels::U8>(
        r,
        vv,
        chroma_crop,
        &mut PlaneMut::new(&mut out.v, cw2, ch2, cw2)?,
        p.alg,
        false,
    )?;
    let input_alpha = match av {
        Some(a) => {
            scratch.alpha_in.resize(sw * sh, 0);
            scale::<fr::pixels::U8>(
                r,
                a,
                luma_crop,
                &mut PlaneMut::new(&mut scratch.alpha_in, sw, sh, sw)?,
                p.alg,
                false,
            )?;
            Some(PlaneRef::packed(&scratch.alpha_in, sw, sh)?)
        }
        None => None,
    };

    // Inputs tagged differently from the output (RGB inputs were converted with the output's
    // tag already) are converted at seat resolution.
    let src_color = match frame.format() {
        PixelFormat::Rgba | PixelFormat::Bgra => p.color,
        _ => frame.color(),
    };
    if let Some(cc) = color::ColorConvert::new(src_color, p.color) {
        cc.apply(&mut out.y, &mut out.u, &mut out.v, sw, sh);
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
    if p.mirror {
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
        chroma_alpha_into(&out.a, sw, sh, &mut out.ca);
    }
    Ok(())
}

/// Composes every layer of `layout` into `out` (I420, the layout's size). `seat(i)` gives
/// the render of seat `i`, or `None` for an empty seat.
pub(crate) fn compose<'s>(
    layout: &Layout,
    seat: &(dyn Fn(usize) -> Option<&'s SeatRender> + Sync),
    out: &mut crate::frame::FrameMut<'_>,
    level: SimdLevel,
    parallel: bool,
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
    let (ys, cs) = (yp[0].stride(), up[0].stride());
    if vp[0].stride() != cs {
        return Err(FrameError::StrideTooSmall {
            width: cs,
            stride: vp[0].stride(),
        }
        .into());
    }
    let w = layout.width as usize;
    let h = layout.height as usize;
    type Band<'b> = (usize, ((&'b mut [u8], &'b mut [u8]), &'b mut [u8]));
    let band = |(i, ((yb, ub), vb)): Band<'_>| {
        let y0 = i * BAND_ROWS;
        let rows = BAND_ROWS.min(h - y0);
        let mut bp = BandPlanes {
            y: yb,
            u: ub,
            v: vb,
            ys,
            cs,
            y0,
            rows,
            w,
        };
        bp.fill(black);
        for layer in &layout.layers {
            match layer {
                LayerPlan::Sprite(s) => bp.sprite(s, level),
                LayerPlan::Seat(i) => {
                    if let Some(r) = seat(*i) {
                        bp.seat(layout.seat_rects[*i], r, level);
                    }
                }
            }
        }
    };
    if parallel {
        yp[0]
            .data_mut()
            .par_chunks_mut(ys * BAND_ROWS)
            .zip(up[0].data_mut().par_chunks_mut(cs * BAND_ROWS / 2))
            .zip(vp[0].data_mut().par_chunks_mut(cs * BAND_ROWS / 2))
            .enumerate()
            .for_each(band);
    } else {
        yp[0]
            .data_mut()
            .chunks_mut(ys * BAND_ROWS)
            .zip(up[0].data_mut().chunks_mut(cs * BAND_ROWS / 2))
            .zip(vp[0].data_mut().chunks_mut(cs * BAND_ROWS / 2))
            .enumerate()
            .for_each(band);
    }
    Ok(())
}

/// One band of output rows: luma rows `y0 .. y0 + rows`, chroma rows half that.
struct BandPlanes<'a> {
    y: &'a mut [u8],
    u: &'a mut [u8],
    v: &'a mut [u8],
    ys: usize,
    cs: usize,
    y0: usize,
    rows: usize,
    w: usize,
}

impl BandPlanes<'_> {
    fn fill(&mut self, [y, u, v]: [u8; 3]) {
        let cw = self.w / 2;
        for r in 0..self.rows {
            self.y[r * self.ys..r * self.ys + self.w].fill(y);
        }
        for r in 0..self.rows / 2 {
            self.u[r * self.cs..r * self.cs + cw].fill(u);
            self.v[r * self.cs..r * self.cs + cw].fill(v);
        }
    }

    /// The rows of `rect` inside this band, as (band-local row, rect-local row) ranges.
    fn overlap(&self, rect: &Rect) -> Option<(usize, usize, usize)> {
        let top = (rect.y.max(self.y0 as i64)) as usize;
        let bottom = rect.bottom().min((self.y0 + self.rows) as i64);
        if bottom <= top as i64 {
            return None;
        }
        Some((top - self.y0, top - rect.y as usize, bottom as usize - top))
    }

    fn sprite(&mut self, s: &PreparedSprite, level: SimdLevel) {
        let Some((by, sy, n)) = self.overlap(&s.rect) else {
            return;
        };
        let (x, w) = (s.rect.x as usize, s.rect.width as usize);
        for r in 0..n {
            let d = &mut self.y[(by + r) * self.ys + x..][..w];
            let o = (sy + r) * w;
            if s.opaque {
                d.copy_from_slice(&s.y[o..o + w]);
            } else {
                blend::premul(level, d, &s.y[o..o + w], &s.a[o..o + w]);
            }
        }
        let (cx, cw) = (x / 2, w / 2);
        for r in 0..n / 2 {
            let o = (sy / 2 + r) * cw;
            let row = (by / 2 + r) * self.cs + cx;
            for (plane, src) in [(&mut *self.u, &s.u), (&mut *self.v, &s.v)] {
                let d = &mut plane[row..row + cw];
                if s.opaque {
                    d.copy_from_slice(&src[o..o + cw]);
                } else {
                    blend::premul(level, d, &src[o..o + cw], &s.ca[o..o + cw]);
                }
            }
        }
    }

    fn seat(&mut self, rect: Rect, s: &SeatRender, level: SimdLevel) {
        if s.width as i64 != rect.width || s.height as i64 != rect.height {
            return;
        }
        // Horizontal clip against the output width.
        let x0 = rect.x.max(0);
        let x1 = rect.right().min(self.w as i64);
        if x1 <= x0 {
            return;
        }
        let Some((by, sy, n)) = self.overlap(&rect) else {
            return;
        };
        let sx = (x0 - rect.x) as usize;
        let (x0, w) = (x0 as usize, (x1 - x0) as usize);
        let sw = s.width;
        for r in 0..n {
            let d = &mut self.y[(by + r) * self.ys + x0..][..w];
            let o = (sy + r) * sw + sx;
            let src = &s.y[o..o + w];
            match s.kind {
                SeatKind::Opaque => d.copy_from_slice(src),
                SeatKind::Constant(a) => blend::constant(level, d, src, a),
                SeatKind::Matte => blend::straight(level, d, src, &s.a[o..o + w]),
            }
        }
        let (cx0, cw, csx, scw) = (x0 / 2, w / 2, sx / 2, sw / 2);
        for r in 0..n / 2 {
            let o = (sy / 2 + r) * scw + csx;
            let row = (by / 2 + r) * self.cs + cx0;
            for (plane, src) in [(&mut *self.u, &s.u), (&mut *self.v, &s.v)] {
                let d = &mut plane[row..row + cw];
                let src = &src[o..o + cw];
                match s.kind {
                    SeatKind::Opaque => d.copy_from_slice(src),
                    SeatKind::Constant(a) => blend::constant(level, d, src, a),
                    SeatKind::Matte => blend::straight(level, d, src, &s.ca[o..o + cw]),
                }
            }
        }
    }
}
