//! The seat stage: one participant's frame rendered into its seat, as packed planes at the
//! seat's size, ready for the compose stage.
//!
//! [`render_seat`] runs the steps in order, each a function of its own here:
//! 1. **input**: the crop window ([`CropWindow`], the crop stage) of the frame as planar
//!    I420 (+A): views of the frame's own planes, or the window converted when the frame is
//!    NV12, RGBA or BGRA;
//! 2. **scale**: each plane straight into the seat (our kernels, or fast_image_resize for
//!    Lanczos3 and nearest), then the colour tag matched to the output's. A window whose
//!    alpha is not all 255 is scaled premultiplied and divided by its scaled alpha after
//!    (`premul.rs`), so the colour held under transparent pixels never bleeds into the edge;
//! 3. **matte**: the segmenter writes the seat's alpha (or says it is opaque), and restores
//!    the person's colour at the edges;
//! 4. **finish**: opacity, dimming, mirroring, and the chroma-resolution alpha.

use fast_image_resize as fr;

use super::chroma_alpha_into;
use super::crop::CropWindow;
use super::kernels::scale::{prefetch, scale_plane, ScalePlan, ScaleScratch, PREFETCH_ROWS};
use super::kernels::{div255, SimdLevel};
use super::premul::{unpremultiply, window_has_transparency, PremulScratch};
use super::resize::resize;
use crate::color::ColorConvert;
use crate::error::ComposeError;
use crate::frame::{ColorSpec, Frame, FrameRef, PixelFormat, PlaneMut, PlaneRef};
use crate::framing::Placement;
use crate::geometry::Rect;
use crate::segment::clean::ramp_weight;
use crate::segment::{Matte, SeatColour, SeatSource, SegmentInput, Segmenter};

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
    /// Seat width in pixels (even).
    pub(crate) width: usize,
    /// Seat height in pixels (even).
    pub(crate) height: usize,
    /// Luma, `width x height`.
    pub(crate) y: Vec<u8>,
    /// U, `width/2 x height/2`.
    pub(crate) u: Vec<u8>,
    /// V, `width/2 x height/2`.
    pub(crate) v: Vec<u8>,
    /// Straight alpha at luma resolution (meaningful for [`SeatKind::Matte`]).
    pub(crate) a: Vec<u8>,
    /// Alpha at chroma resolution (2x2 means of `a`).
    pub(crate) ca: Vec<u8>,
    /// How the compose stage draws it.
    pub(crate) kind: SeatKind,
}

impl SeatRender {
    /// An empty render (sized on first use).
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

/// Scratch one seat keeps across ticks, so a steady-state tick allocates nothing.
pub(crate) struct SeatScratch {
    /// The crop window converted to planar I420 (+A), for NV12, RGBA and BGRA inputs.
    conv: Option<Frame>,
    /// The scalers, with their cached coefficients and buffers.
    scalers: SeatScalers,
    /// The input's own alpha (I420A, RGBA, BGRA) scaled to the seat.
    alpha_in: Vec<u8>,
    /// A transparent input's window premultiplied by its alpha.
    premul: PremulScratch,
    /// A transparent input's chroma-grid alpha scaled to the seat's chroma.
    chroma_alpha_in: Vec<u8>,
}

impl SeatScratch {
    /// Empty scratch (sized on first use).
    pub(crate) fn new() -> Self {
        Self {
            conv: None,
            scalers: SeatScalers {
                resizer: fr::Resizer::new(),
                luma_plan: None,
                chroma_plan: None,
                scratch: ScaleScratch::default(),
            },
            alpha_in: Vec::new(),
            premul: PremulScratch::default(),
            chroma_alpha_in: Vec::new(),
        }
    }
}

/// Which scaler renders seats.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SeatScaler {
    /// Our own box-halving + 2-tap bilinear kernels (`kernels::scale`).
    Fast,
    /// fast_image_resize with this algorithm.
    Fir(fr::ResizeAlg),
}

/// How every seat is drawn: the engine's settings, the same for all seats of a tick.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeatStyle {
    /// Mirror participants horizontally (the scene's `mirrorParticipants`).
    pub mirror: bool,
    /// Opacity of every seat, out of 255.
    pub opacity: u8,
    /// The output's colour tag: seats are converted to it.
    pub color: ColorSpec,
    /// Which scaler renders seats.
    pub scaler: SeatScaler,
    /// The SIMD tier (already lowered to what the CPU has).
    pub level: SimdLevel,
}

/// One seat's drawing options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeatParams<'a> {
    /// Seat width in pixels (even, at least 2).
    pub width: usize,
    /// Seat height in pixels (even, at least 2).
    pub height: usize,
    /// Who sits there (handed to the segmenter).
    pub participant: &'a str,
    /// The frame's timestamp (handed to the segmenter).
    pub pts: i64,
    /// Brightness kept, out of 255 (255: unchanged); see [`dim_seat`].
    pub dim: u8,
    /// What every seat shares.
    pub style: SeatStyle,
}

/// Asks for the first rows of the luma window a `sw x sh` seat will read from `frame`, so
/// they arrive while the seat before it is rendered (I420 and I420A; a no-op for others).
pub(crate) fn prefetch_seat(frame: &FrameRef<'_>, sw: usize, sh: usize) {
    if !matches!(frame.format(), PixelFormat::I420 | PixelFormat::I420A) || sw < 2 || sh < 2 {
        return;
    }
    let window = CropWindow::for_seat(frame, sw, sh);
    let y = frame.plane(0);
    let (x0, w) = (window.x as usize, window.width as usize);
    let (top, rows) = (window.y as usize, window.height as usize);
    for r in top..(top + PREFETCH_ROWS.min(rows)).min(y.height()) {
        if let Some(row) = y.row(r).get(x0..x0 + w) {
            prefetch(row);
        }
    }
}

/// Renders `frame` into `out` at the seat's size (`p.width x p.height`): the window the crop
/// stage picks, each plane scaled straight into the seat and brought to the output's colour
/// tag, matted with `segmenter` (which keeps per-person state), then opacity, dimming,
/// mirroring and the chroma alpha. `out` and `scratch` are reused from tick to tick.
pub(crate) fn render_seat(
    scratch: &mut SeatScratch,
    out: &mut SeatRender,
    segmenter: &mut dyn Segmenter,
    frame: &FrameRef<'_>,
    p: &SeatParams<'_>,
) -> Result<(), ComposeError> {
    render_window(scratch, out, segmenter, frame, p, None)
}

/// [`render_seat`] with a framing [`Placement`]: the part of the frame inside the framing
/// window is rendered into its place in the seat (through `inner` when it does not fill the
/// seat) and the rest of the seat is transparent; where the frame's bottom edge lies inside the
/// seat, the matte fades out over `bottom_fade` of the seat's height above it. `None`: no part
/// of the frame is in the window, the seat is wholly transparent.
#[allow(clippy::too_many_arguments)]
pub(crate) fn render_seat_placed(
    scratch: &mut SeatScratch,
    inner: &mut SeatRender,
    out: &mut SeatRender,
    segmenter: &mut dyn Segmenter,
    frame: &FrameRef<'_>,
    p: &SeatParams<'_>,
    placement: Option<Placement>,
    bottom_fade: f32,
) -> Result<(), ComposeError> {
    let (sw, sh) = (p.width, p.height);
    let window = |r: Rect| CropWindow {
        x: r.x as u32,
        y: r.y as u32,
        width: r.width as u32,
        height: r.height as u32,
    };
    let Some(pl) = placement else {
        out.resize(sw, sh);
        out.a.fill(0);
        out.ca.fill(0);
        out.kind = SeatKind::Matte;
        return Ok(());
    };
    if pl.fills((sw, sh)) {
        return render_window(scratch, out, segmenter, frame, p, Some(window(pl.src)));
    }
    let (dw, dh) = (pl.dst.width as usize, pl.dst.height as usize);
    let ip = SeatParams {
        width: dw,
        height: dh,
        ..*p
    };
    render_window(scratch, inner, segmenter, frame, &ip, Some(window(pl.src)))?;
    out.resize(sw, sh);
    let black = p.style.color.black()[0];
    out.y.fill(black);
    out.u.fill(128);
    out.v.fill(128);
    out.a.fill(0);
    let dy = pl.dst.y as usize;
    // The inner render is already mirrored: so is its place.
    let dx = if p.style.mirror {
        sw - pl.dst.right() as usize
    } else {
        pl.dst.x as usize
    };
    let inner_alpha = match inner.kind {
        SeatKind::Opaque => Some(255),
        SeatKind::Constant(a) => Some(a),
        SeatKind::Matte => None,
    };
    for r in 0..dh {
        let o = (dy + r) * sw + dx;
        out.y[o..o + dw].copy_from_slice(&inner.y[r * dw..(r + 1) * dw]);
        let a = &mut out.a[o..o + dw];
        match inner_alpha {
            Some(v) => a.fill(v),
            None => a.copy_from_slice(&inner.a[r * dw..(r + 1) * dw]),
        }
    }
    let (scw, icw) = (sw / 2, dw / 2);
    for r in 0..dh / 2 {
        let o = (dy / 2 + r) * scw + dx / 2;
        out.u[o..o + icw].copy_from_slice(&inner.u[r * icw..(r + 1) * icw]);
        out.v[o..o + icw].copy_from_slice(&inner.v[r * icw..(r + 1) * icw]);
    }
    let bottom = dy + dh;
    if bottom < sh && bottom_fade > 0.0 {
        // The torso ends at the frame's edge inside the seat: fade it out toward the edge.
        let n = ((bottom_fade * sh as f32).round() as usize).clamp(1, dh);
        for i in 0..n {
            let k = u32::from(ramp_weight(i, n));
            let o = (bottom - 1 - i) * sw + dx;
            for a in &mut out.a[o..o + dw] {
                *a = ((u32::from(*a) * k + 128) >> 8) as u8;
            }
        }
    }
    out.kind = SeatKind::Matte;
    chroma_alpha_into(p.style.level, &out.a, sw, sh, &mut out.ca);
    Ok(())
}

/// [`render_seat`] showing `window` of the frame (`None`: the centre crop).
fn render_window(
    scratch: &mut SeatScratch,
    out: &mut SeatRender,
    segmenter: &mut dyn Segmenter,
    frame: &FrameRef<'_>,
    p: &SeatParams<'_>,
    window: Option<CropWindow>,
) -> Result<(), ComposeError> {
    out.resize(p.width, p.height);
    let window = window.unwrap_or_else(|| CropWindow::for_seat(frame, p.width, p.height));
    let input = if window_has_transparency(frame, window)? {
        let pm = scratch
            .premul
            .prepare(frame, window, p.style.color, p.style.level)?;
        SeatInput {
            planes: pm.planes,
            alpha: Some(pm.alpha),
            chroma_alpha: Some(pm.chroma_alpha),
            window: window.at_origin(),
            color: pm.color,
        }
    } else {
        SeatInput::new(frame, window, p.style.color, &mut scratch.conv)?
    };
    let input_alpha = scale_planes(
        &mut scratch.scalers,
        &input,
        out,
        (&mut scratch.alpha_in, &mut scratch.chroma_alpha_in),
        p,
    )?;
    // Inputs tagged differently from the output are converted at seat resolution.
    if let Some(cc) = ColorConvert::new(input.color, p.style.color) {
        cc.apply(
            p.style.level,
            &mut out.y,
            &mut out.u,
            &mut out.v,
            p.width,
            p.height,
        );
    }
    // Our scaler mirrors as it scales, so the segmenter sees mirrored planes; with
    // fast_image_resize the seat is mirrored after the matte (in `finish`).
    let source = SeatSource {
        frame: *frame,
        window: Rect::new(
            window.x.into(),
            window.y.into(),
            window.width.into(),
            window.height.into(),
        ),
        mirrored: p.style.mirror && matches!(p.style.scaler, SeatScaler::Fast),
    };
    let matte = matte(segmenter, out, input_alpha, source, p)?;
    finish(out, matte, p);
    Ok(())
}

/// The input step's result: a frame's crop window as planar I420 (+A) views.
struct SeatInput<'f> {
    /// Y, U, V.
    planes: [PlaneRef<'f>; 3],
    /// The input's own alpha, if it has one.
    alpha: Option<PlaneRef<'f>>,
    /// When `planes` are premultiplied: the alpha U and V were multiplied by (chroma grid).
    chroma_alpha: Option<PlaneRef<'f>>,
    /// The part of `planes` the seat shows.
    window: CropWindow,
    /// The colour tag of `planes`.
    color: ColorSpec,
}

impl<'f> SeatInput<'f> {
    /// I420 and I420A are seen as they are; NV12, RGBA and BGRA have their window converted
    /// into `conv` (reused while the format and size stay). RGB is converted straight into
    /// the output's colour tag `out_color`.
    fn new(
        frame: &FrameRef<'f>,
        window: CropWindow,
        out_color: ColorSpec,
        conv: &'f mut Option<Frame>,
    ) -> Result<Self, ComposeError> {
        let format = frame.format();
        let color = match format {
            PixelFormat::Rgba | PixelFormat::Bgra => out_color,
            _ => frame.color(),
        };
        if let PixelFormat::I420 | PixelFormat::I420A = format {
            return Ok(Self {
                planes: [frame.plane(0), frame.plane(1), frame.plane(2)],
                alpha: (format == PixelFormat::I420A).then(|| frame.plane(3)),
                chroma_alpha: None,
                window,
                color,
            });
        }
        let cropped = window.packed_view(frame, color)?;
        let want = if format == PixelFormat::Nv12 {
            PixelFormat::I420
        } else {
            PixelFormat::I420A
        };
        let (w, h) = (window.width, window.height);
        let frame = match conv.take() {
            Some(f) if f.format() == want && f.width() == w && f.height() == h => f,
            _ => Frame::new(want, w, h)?,
        };
        let conv = conv.insert(frame);
        crate::color::convert(&cropped, &mut conv.as_mut())?;
        let conv: &'f Frame = conv;
        let converted = conv.as_ref();
        Ok(Self {
            planes: [converted.plane(0), converted.plane(1), converted.plane(2)],
            alpha: (want == PixelFormat::I420A).then(|| converted.plane(3)),
            chroma_alpha: None,
            window: window.at_origin(),
            color,
        })
    }
}

/// The grid a plane is sampled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grid {
    /// Full resolution: Y and A.
    Luma,
    /// 2x2 subsampled: U and V.
    Chroma,
}

/// A seat's scalers: ours with a plan per grid, and fast_image_resize's.
struct SeatScalers {
    resizer: fr::Resizer,
    luma_plan: Option<ScalePlan>,
    chroma_plan: Option<ScalePlan>,
    scratch: ScaleScratch,
}

/// The plan in `slot`, made over (in its own buffers: a framing window that changes size
/// allocates nothing once the largest size was seen) unless it was made for these sizes.
fn plan_for(
    slot: &mut Option<ScalePlan>,
    src: (usize, usize),
    dst: (usize, usize),
    mirror: bool,
) -> &ScalePlan {
    match slot {
        Some(plan) => {
            if !plan.fits(src, dst, mirror) {
                plan.remake(src, dst, mirror);
            }
            plan
        }
        None => slot.insert(ScalePlan::new(src, dst, mirror)),
    }
}

impl SeatScalers {
    /// Scales the window of `src` (a plane on `grid`) into all of `dst`, `size` packed.
    fn scale(
        &mut self,
        p: &SeatParams<'_>,
        window: CropWindow,
        src: PlaneRef<'_>,
        grid: Grid,
        dst: &mut [u8],
        size: (usize, usize),
    ) -> Result<(), ComposeError> {
        match p.style.scaler {
            SeatScaler::Fast => {
                // Mirrored as it goes.
                let mirror = p.style.mirror;
                let (plan, view) = match grid {
                    Grid::Luma => (
                        plan_for(&mut self.luma_plan, window.luma_size(), size, mirror),
                        window.luma_plane(src)?,
                    ),
                    Grid::Chroma => (
                        plan_for(&mut self.chroma_plan, window.chroma_size(), size, mirror),
                        window.chroma_plane(src)?,
                    ),
                };
                scale_plane(p.style.level, plan, view, dst, size.0, &mut self.scratch);
            }
            SeatScaler::Fir(alg) => {
                let crop = match grid {
                    Grid::Luma => window.luma(),
                    Grid::Chroma => window.chroma(),
                };
                let mut dst = PlaneMut::new(dst, size.0, size.1, size.0)?;
                resize::<fr::pixels::U8>(&mut self.resizer, src, crop, &mut dst, alg, false)?;
            }
        }
        Ok(())
    }
}

/// The scale step: Y, U, V of `input` into `out`'s planes, and its alpha, if any, into
/// `alpha_in` (returned as a view for the segmenter). Premultiplied planes (those with a
/// `chroma_alpha`) are divided by their scaled alpha after scaling (`chroma_alpha` scaled into
/// `chroma_alpha_in` for U and V), so `out` holds straight colour either way.
fn scale_planes<'a>(
    scalers: &mut SeatScalers,
    input: &SeatInput<'_>,
    out: &mut SeatRender,
    (alpha_in, chroma_alpha_in): (&'a mut Vec<u8>, &mut Vec<u8>),
    p: &SeatParams<'_>,
) -> Result<Option<PlaneRef<'a>>, ComposeError> {
    let (sw, sh) = (out.width, out.height);
    let window = input.window;
    let [y, u, v] = input.planes;
    if let SeatScaler::Fast = p.style.scaler {
        // The chroma and alpha planes are read after the luma: ask for their first rows now,
        // so they arrive while the luma is scaled (each plane's later rows are prefetched as
        // the scaler goes).
        let later = [window.chroma_plane(u)?, window.chroma_plane(v)?];
        let alpha = input.alpha.map(|a| window.luma_plane(a)).transpose()?;
        for plane in later.into_iter().chain(alpha) {
            for r in 0..PREFETCH_ROWS.min(plane.height()) {
                prefetch(plane.row(r));
            }
        }
    }
    let SeatRender {
        y: out_y,
        u: out_u,
        v: out_v,
        ..
    } = out;
    let (luma, chroma) = ((sw, sh), (sw / 2, sh / 2));
    let alpha = match input.alpha {
        Some(a) => {
            alpha_in.resize(sw * sh, 0);
            Some((a, Grid::Luma, &mut alpha_in[..], luma))
        }
        None => None,
    };
    let chroma_alpha = match input.chroma_alpha {
        Some(ca) => {
            chroma_alpha_in.resize(chroma.0 * chroma.1, 0);
            Some((ca, Grid::Chroma, &mut chroma_alpha_in[..], chroma))
        }
        None => None,
    };
    let planes = [
        (y, Grid::Luma, &mut out_y[..], luma),
        (u, Grid::Chroma, &mut out_u[..], chroma),
        (v, Grid::Chroma, &mut out_v[..], chroma),
    ];
    for (src, grid, dst, size) in planes.into_iter().chain(alpha).chain(chroma_alpha) {
        scalers.scale(p, window, src, grid, dst, size)?;
    }
    if input.chroma_alpha.is_some() {
        let [black, neutral, _] = input.color.black();
        unpremultiply(out_y, alpha_in, black);
        unpremultiply(out_u, chroma_alpha_in, neutral);
        unpremultiply(out_v, chroma_alpha_in, neutral);
    }
    match input.alpha {
        Some(_) => Ok(Some(PlaneRef::packed(alpha_in, sw, sh)?)),
        None => Ok(None),
    }
}

/// The matte step: `segmenter` writes the seat's alpha into `out.a` (or says the seat is
/// opaque), and gives edge pixels the person's colour rather than the room's.
fn matte(
    segmenter: &mut dyn Segmenter,
    out: &mut SeatRender,
    input_alpha: Option<PlaneRef<'_>>,
    source: SeatSource<'_>,
    p: &SeatParams<'_>,
) -> Result<Matte, ComposeError> {
    let (sw, sh) = (out.width, out.height);
    let (cw, ch) = (sw / 2, sh / 2);
    let input = SegmentInput {
        y: PlaneRef::packed(&out.y, sw, sh)?,
        u: PlaneRef::packed(&out.u, cw, ch)?,
        v: PlaneRef::packed(&out.v, cw, ch)?,
        input_alpha,
        participant: p.participant,
        pts: p.pts,
        color: p.style.color,
        source: Some(source),
    };
    let matte = segmenter.segment(&input, &mut PlaneMut::new(&mut out.a, sw, sh, sw)?);
    if matte == Matte::Written {
        // Edge pixels get the person's colour, not the room's (see Segmenter::decontaminate).
        let mut colour = SeatColour {
            y: PlaneMut::new(&mut out.y, sw, sh, sw)?,
            u: PlaneMut::new(&mut out.u, cw, ch, cw)?,
            v: PlaneMut::new(&mut out.v, cw, ch, cw)?,
        };
        segmenter.decontaminate(&mut colour, &PlaneRef::packed(&out.a, sw, sh)?);
    }
    Ok(matte)
}

/// The finish step: the seat's opacity (into the matte, or one alpha for the seat), dimming,
/// mirroring (unless our scaler mirrored already) and the chroma-resolution alpha.
fn finish(out: &mut SeatRender, matte: Matte, p: &SeatParams<'_>) {
    let style = &p.style;
    let (sw, cw) = (out.width, out.width / 2);
    out.kind = match matte {
        Matte::Written => {
            if style.opacity < 255 {
                for a in out.a.iter_mut() {
                    *a = div255(*a as u32 * style.opacity as u32);
                }
            }
            SeatKind::Matte
        }
        Matte::Opaque if style.opacity < 255 => SeatKind::Constant(style.opacity),
        Matte::Opaque => SeatKind::Opaque,
    };
    if p.dim < 255 {
        dim_seat(out, p.dim, style.color.black()[0]);
    }
    if style.mirror && !matches!(style.scaler, SeatScaler::Fast) {
        for row in out.y.chunks_exact_mut(sw) {
            row.reverse();
        }
        for row in out.u.chunks_exact_mut(cw).chain(out.v.chunks_exact_mut(cw)) {
            row.reverse();
        }
        if out.kind == SeatKind::Matte {
            for row in out.a.chunks_exact_mut(sw) {
                row.reverse();
            }
        }
    }
    if out.kind == SeatKind::Matte {
        chroma_alpha_into(style.level, &out.a, sw, out.height, &mut out.ca);
    }
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
