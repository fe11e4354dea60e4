//! The compose stage: every layer of a layout drawn into the output, in draw order, in
//! parallel over disjoint bands of rows.
//!
//! Each band draws only inside its clip (the whole band, or the damaged rectangles that fall
//! in it). An opaque layer that covers the whole clip is deferred, so the straight-alpha
//! layer above it (a seat) blends from its pixels straight into the output: one pass instead
//! of a copy and a blend.

use rayon::prelude::*;

use super::kernels::scale::prefetch;
use super::kernels::{blend, SimdLevel};
use super::layout::{LayerPlan, Layout};
use super::seat::{SeatKind, SeatRender};
use crate::error::ComposeError;
use crate::frame::{FrameMut, PixelFormat};
use crate::geometry::Rect;

/// Luma rows per parallel band of the output (even, so chroma rows split exactly). Small
/// enough to give each of a few workers several bands, large enough that per-band layer
/// bookkeeping stays negligible.
pub const BAND_ROWS: usize = 64;

/// Composes `layout` into `out` (I420, the layout's size). `seat(i)` gives the render of
/// seat `i`, or `None` for an empty seat. With `damage`, only those rectangles are
/// recomposed (from all layers, so overlaps stay right); the rest of `out` must already
/// hold the previous composite.
pub(crate) fn compose<'s>(
    layout: &Layout,
    seat: &(dyn Fn(usize) -> Option<&'s SeatRender> + Sync),
    out: &mut FrameMut<'_>,
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
            // Layers draw only inside the picture area; the bars stay black.
            bp.clip = bp.clip.intersect(&layout.picture);
            if bp.clip.is_empty() {
                continue;
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
        let (b0, u0, v0) = (
            (by_ / 2) * cbw + bx / 2,
            (by / 2) * us + cx0,
            (by / 2) * vs + cx0,
        );
        let chroma_at = |r: usize| (b0 + r * cbw, u0 + r * us, v0 + r * vs);
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
