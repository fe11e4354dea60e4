//! Downscaling one 8-bit plane into a seat: exact 2x2 box halvings while the ratio is at
//! least 2, then a 2-tap linear interpolation (vertical, then horizontal), with mirroring
//! folded into the horizontal tables.
//!
//! Why this shape: a seat is typically 1.1x to 2.7x smaller than its crop. A general
//! convolution with a widened bilinear kernel costs 5-6 taps per output in each direction
//! at 2.7x; halving first with an exact box (one add per input byte) leaves a ratio below 2,
//! where 2 taps suffice for a bilinear-class result (within 35 dB of FFmpeg's bilinear;
//! the parity tests check it). Every stage is row by row on data that stays in L1/L2.
//!
//! Arithmetic (the scalar kernels are the definition; the AVX2 tier matches bit for bit):
//! - box: `(a + b + c + d + 2) >> 2`; a missing last column or row repeats the previous one;
//! - lerp: `(a * (64 - f) + b * f + 32) >> 6` with `f` in `0..=64` (a 1/64-pixel phase, the
//!   same class as libyuv's 7-bit filter; 6 bits let both weights fit a signed byte, so the
//!   SIMD tier does each output pair with one `pmaddubsw`); all in u16.

#[cfg(target_arch = "x86_64")]
mod avx2;
pub(crate) mod scalar;

use super::SimdLevel;
use crate::error::FrameError;
use crate::frame::{PlaneMut, PlaneRef, MAX_DIMENSION};

/// The seat scaler on its own: one 8-bit plane of `src` size scaled to `dst` size (each
/// side at least 1, at most [`MAX_DIMENSION`]), the plan and buffers kept for reuse. The
/// compositor uses the same kernels for every seat; this is for benchmarks and for callers
/// who scale planes themselves.
#[derive(Debug)]
pub struct PlaneScaler {
    plan: ScalePlan,
    scratch: ScaleScratch,
}

impl PlaneScaler {
    /// A scaler from `src` to `dst` (width, height) pixels, mirrored horizontally if asked.
    pub fn new(src: (usize, usize), dst: (usize, usize), mirror: bool) -> Result<Self, FrameError> {
        for (w, h) in [src, dst] {
            if w == 0 || h == 0 {
                return Err(FrameError::ZeroSize {
                    width: w.min(u32::MAX as usize) as u32,
                    height: h.min(u32::MAX as usize) as u32,
                });
            }
            if w > MAX_DIMENSION as usize || h > MAX_DIMENSION as usize {
                return Err(FrameError::TooLarge {
                    width: w as u64,
                    height: h as u64,
                });
            }
        }
        Ok(Self {
            plan: ScalePlan::new(src, dst, mirror),
            scratch: ScaleScratch::default(),
        })
    }

    /// Scales `src` (exactly the source size) into `dst` (exactly the destination size).
    pub fn scale(
        &mut self,
        level: SimdLevel,
        src: PlaneRef<'_>,
        dst: &mut PlaneMut<'_>,
    ) -> Result<(), FrameError> {
        let (sw, sh) = self.plan.src;
        let (dw, dh) = self.plan.dst;
        let mismatch = |expected: (usize, usize), found: (usize, usize)| FrameError::SizeMismatch {
            expected: (expected.0 as u32, expected.1 as u32),
            found: (found.0 as u32, found.1 as u32),
        };
        if (src.width(), src.height()) != (sw, sh) {
            return Err(mismatch((sw, sh), (src.width(), src.height())));
        }
        if (dst.width(), dst.height()) != (dw, dh) {
            return Err(mismatch((dw, dh), (dst.width(), dst.height())));
        }
        let stride = dst.stride();
        // PlaneMut::new checked that the buffer holds its rows at this stride.
        scale_plane(
            level,
            &self.plan,
            src,
            dst.data_mut(),
            stride,
            &mut self.scratch,
        );
        Ok(())
    }
}

/// One output position: the left source index and the weight of the right neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tap {
    pub i: u32,
    pub f: u16,
}

/// The weight of a whole pixel in the lerp (`f` runs `0..=ONE`).
pub(crate) const ONE: u16 = 64;

/// Horizontal taps for the shuffle-based SIMD kernel, two groups of 8 outputs at a time (one
/// per 128-bit lane): group `k` reads the 16 source bytes at `base[k]`, gathers its
/// (left, right) pairs with one byte shuffle (`mask`, lane `k`), weighs them with `w`
/// (`ONE - f, f` per output, lane `k`) and writes outputs `out[k] .. out[k] + 8`.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct GroupPair {
    pub mask: [u8; 32],
    pub w: [i8; 32],
    pub base: [u32; 2],
    pub out: [u32; 2],
}

/// How to scale a `src_w x src_h` region to `dst_w x dst_h`.
#[derive(Debug, Clone)]
pub(crate) struct ScalePlan {
    src: (usize, usize),
    dst: (usize, usize),
    mirror: bool,
    halvings: u32,
    xs: Vec<Tap>,
    ys: Vec<Tap>,
    groups: Vec<GroupPair>,
}

/// Taps for `dst` outputs over a `full`-pixel source seen after `halvings` 2x box
/// reductions (`src` samples), centre-aligned: the output centre `(x + 0.5) * full / dst` in
/// source pixels, mapped into the reduced grid (`/ 2^halvings - 0.5`), clamped. Using the
/// full size keeps odd sizes exact (a reduced odd row's last sample covers one pixel).
fn taps(out: &mut Vec<Tap>, full: usize, halvings: u32, src: usize, dst: usize) {
    let r = full as f64 / dst as f64;
    let k = (1u64 << halvings) as f64;
    out.clear();
    out.extend((0..dst).map(|x| {
        let s = ((x as f64 + 0.5) * r / k - 0.5).clamp(0.0, (src - 1) as f64);
        if src == 1 {
            return Tap { i: 0, f: 0 };
        }
        let mut i = s.floor() as usize;
        let mut f = ((s - i as f64) * ONE as f64).round() as u16;
        if f == ONE {
            i += 1;
            f = 0;
        }
        if i >= src - 1 {
            // Keep i + 1 inside the row: the right edge is "all right neighbour".
            i = src - 2;
            f = ONE;
        }
        Tap { i: i as u32, f }
    }));
}

impl ScalePlan {
    /// A plan for `src` to `dst` (all sides >= 1), mirrored horizontally if asked.
    pub(crate) fn new(src: (usize, usize), dst: (usize, usize), mirror: bool) -> Self {
        let mut plan = Self {
            src,
            dst,
            mirror,
            halvings: 0,
            xs: Vec::new(),
            ys: Vec::new(),
            groups: Vec::new(),
        };
        plan.remake(src, dst, mirror);
        plan
    }

    /// Makes this plan over for `src` to `dst` in its own buffers: no allocation once they
    /// have held a plan at least as wide and as tall (a framing window that changes size).
    pub(crate) fn remake(&mut self, src: (usize, usize), dst: (usize, usize), mirror: bool) {
        let (mut mw, mut mh) = src;
        let mut halvings = 0;
        while mw >= 2 * dst.0 && mh >= 2 * dst.1 && mw >= 2 && mh >= 2 {
            mw = mw.div_ceil(2);
            mh = mh.div_ceil(2);
            halvings += 1;
        }
        taps(&mut self.xs, src.0, halvings, mw, dst.0);
        if mirror {
            self.xs.reverse();
        }
        taps(&mut self.ys, src.1, halvings, mh, dst.1);
        self.groups.clear();
        if mw >= 2 {
            Self::groups(&self.xs, &mut self.groups);
        }
        (self.src, self.dst, self.mirror, self.halvings) = (src, dst, mirror, halvings);
    }

    /// Groups of 8 outputs covering every output (the last group overlaps the one before
    /// when the width is not a multiple of 8), paired for the two lanes (an odd last group
    /// with itself), into `out` (emptied first); left empty when the width is under 8 or a
    /// group's source pairs do not fit one 16-byte window (an interpolation ratio of 2 or
    /// more), in which case the scalar kernel runs.
    fn groups(xs: &[Tap], out: &mut Vec<GroupPair>) {
        out.clear();
        let n = xs.len();
        if n < 8 {
            return;
        }
        // Group starts: every 8 outputs, and the last 8 when the width is not a multiple.
        let regular = (n - 7).div_ceil(8);
        let count = regular + usize::from(!n.is_multiple_of(8));
        let start_of = |g: usize| if g < regular { 8 * g } else { n - 8 };
        // One lane: (base, start, mask, weights), or None when its pairs span 16 bytes.
        let lane = |start: usize| {
            let chunk = &xs[start..start + 8];
            let base = chunk.iter().map(|t| t.i).min().unwrap_or(0);
            let top = chunk.iter().map(|t| t.i + 1).max().unwrap_or(0);
            if top - base >= 16 {
                return None;
            }
            let (mut mask, mut w) = ([0u8; 16], [0i8; 16]);
            for (k, t) in chunk.iter().enumerate() {
                mask[2 * k] = (t.i - base) as u8;
                mask[2 * k + 1] = (t.i + 1 - base) as u8;
                // Both weights are at most ONE = 64: they fit a signed byte.
                w[2 * k] = (ONE - t.f) as i8;
                w[2 * k + 1] = t.f as i8;
            }
            Some((base, start as u32, mask, w))
        };
        for g in (0..count).step_by(2) {
            let Some(a) = lane(start_of(g)) else {
                out.clear();
                return;
            };
            let b = if g + 1 < count {
                match lane(start_of(g + 1)) {
                    Some(b) => b,
                    None => {
                        out.clear();
                        return;
                    }
                }
            } else {
                a
            };
            let mut pair = GroupPair {
                mask: [0; 32],
                w: [0; 32],
                base: [a.0, b.0],
                out: [a.1, b.1],
            };
            pair.mask[..16].copy_from_slice(&a.2);
            pair.mask[16..].copy_from_slice(&b.2);
            pair.w[..16].copy_from_slice(&a.3);
            pair.w[16..].copy_from_slice(&b.3);
            out.push(pair);
        }
    }

    /// Whether this plan was made for these sizes.
    pub(crate) fn fits(&self, src: (usize, usize), dst: (usize, usize), mirror: bool) -> bool {
        self.src == src && self.dst == dst && self.mirror == mirror
    }
}

/// Buffers a scaler keeps between calls (sized on first use, then reused).
#[derive(Debug, Default)]
pub(crate) struct ScaleScratch {
    levels: [Vec<u8>; 2],
    row: Vec<u8>,
}

/// Padding after the interpolation row so the 16-byte window loads stay inside.
const ROW_PAD: usize = 16;

/// Scales `src` (exactly the plan's source size) into `dst`, `dst_h` rows of `dst_w` bytes
/// every `stride` bytes.
///
/// Each pass runs over the whole plane in one kernel call (the row loop inside the SIMD
/// function, its checks made once per plane): seat rows are short (51 to 240 bytes), and
/// calling the row kernels one row at a time cost as much as their arithmetic.
pub(crate) fn scale_plane(
    level: SimdLevel,
    plan: &ScalePlan,
    src: PlaneRef<'_>,
    dst: &mut [u8],
    stride: usize,
    scratch: &mut ScaleScratch,
) {
    let (dw, dh) = plan.dst;
    debug_assert_eq!((src.width(), src.height()), plan.src);
    debug_assert!(stride >= dw && dst.len() >= stride * (dh - 1) + dw);
    // Halvings: src -> levels[0] -> levels[1] -> levels[0] ...
    let (mut w, mut h) = plan.src;
    let mut cur: Option<usize> = None;
    for y in 0..PREFETCH_ROWS.min(h) {
        prefetch(src.row(y));
    }
    for _ in 0..plan.halvings {
        let (nw, nh) = (w.div_ceil(2), h.div_ceil(2));
        let into = cur.map_or(0, |c| 1 - c);
        let [l0, l1] = &mut scratch.levels;
        let (from, to) = if into == 0 { (&*l1, l0) } else { (&*l0, l1) };
        to.resize(nw * nh, 0);
        let to = &mut to[..nw * nh];
        match cur {
            // Source rows come from memory, not cache: the pass asks for them early.
            None => box_plane(level, h, |y| src.row(y), true, to, nw),
            Some(_) => box_plane(level, h, |y| &from[y * w..y * w + w], false, to, nw),
        }
        cur = Some(into);
        (w, h) = (nw, nh);
    }
    let row = &mut scratch.row;
    row.resize(dh * w + ROW_PAD, 0);
    let dst = &mut dst[..stride * (dh - 1) + dw];
    match cur {
        // Interpolating straight from the source (no halving): fetch ahead here too.
        None => interpolate(level, plan, h, |y| src.row(y), true, row, w, dst, stride),
        Some(c) => {
            let mid = &scratch.levels[c];
            interpolate(
                level,
                plan,
                h,
                |y| &mid[y * w..y * w + w],
                false,
                row,
                w,
                dst,
                stride,
            )
        }
    }
}

/// One 2x2 box halving of the `h` rows of `row` into `out`, `nw` bytes a row; with `fetch`,
/// asks for the source rows [`PREFETCH_ROWS`] ahead.
fn box_plane<'a>(
    level: SimdLevel,
    h: usize,
    row: impl Fn(usize) -> &'a [u8],
    fetch: bool,
    out: &mut [u8],
    nw: usize,
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
            // SAFETY: AVX2 was just detected (the function's only requirement).
            unsafe { avx2::box_plane(h, row, fetch, out, nw) }
        }
        _ => box_rows(h, row, fetch, out, nw, scalar::box_row),
    }
}

/// The row loop of [`box_plane`], shared by the tiers (`kernel` is one tier's row kernel).
#[inline(always)]
pub(super) fn box_rows<'a>(
    h: usize,
    row: impl Fn(usize) -> &'a [u8],
    fetch: bool,
    out: &mut [u8],
    nw: usize,
    mut kernel: impl FnMut(&[u8], &[u8], &mut [u8]),
) {
    for (y, o) in out.chunks_exact_mut(nw).enumerate() {
        if fetch && 2 * y + PREFETCH_ROWS + 1 < h {
            prefetch(row(2 * y + PREFETCH_ROWS));
            prefetch(row(2 * y + PREFETCH_ROWS + 1));
        }
        kernel(row(2 * y), row((2 * y + 1).min(h - 1)), o);
    }
}

/// The interpolation of the `h` rows of `w` bytes of `row` into `dst` (the plan's output
/// rows every `stride` bytes): every output row's vertical lerp into `buf` (one row of `w`
/// bytes per output row, then [`ROW_PAD`]), then every row's horizontal one. With `fetch`,
/// asks for the rows [`PREFETCH_ROWS`] ahead.
#[allow(clippy::too_many_arguments)]
fn interpolate<'a>(
    level: SimdLevel,
    plan: &ScalePlan,
    h: usize,
    row: impl Fn(usize) -> &'a [u8],
    fetch: bool,
    buf: &mut [u8],
    w: usize,
    dst: &mut [u8],
    stride: usize,
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
            // SAFETY: AVX2 was just detected (the function's only requirement).
            unsafe { avx2::interpolate(plan, h, row, fetch, buf, w, dst, stride) }
        }
        _ => interp_rows(
            plan,
            h,
            row,
            fetch,
            buf,
            w,
            dst,
            stride,
            scalar::lerp_rows,
            |row, out| scalar_columns(plan, row, w, out),
        ),
    }
}

/// The scalar horizontal pass of one row (`row` holds `w` valid bytes).
pub(super) fn scalar_columns(plan: &ScalePlan, row: &[u8], w: usize, out: &mut [u8]) {
    if w == 1 {
        out.fill(row[0]);
    } else {
        scalar::lerp_columns(&plan.xs, row, out);
    }
}

/// The row loop of [`interpolate`], shared by the tiers (`vertical` and `horizontal` are
/// one tier's row kernels).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn interp_rows<'a>(
    plan: &ScalePlan,
    h: usize,
    row: impl Fn(usize) -> &'a [u8],
    fetch: bool,
    buf: &mut [u8],
    w: usize,
    dst: &mut [u8],
    stride: usize,
    mut vertical: impl FnMut(&[u8], &[u8], u16, &mut [u8]),
    mut horizontal: impl FnMut(&[u8], &mut [u8]),
) {
    let dw = plan.dst.0;
    // All vertical rows first, then all horizontal ones: the horizontal pass's windows
    // straddle the vertical pass's stores, and reading them right after they were issued
    // stalls (they cannot be forwarded).
    for (oy, t) in plan.ys.iter().enumerate() {
        let i = t.i as usize;
        if fetch && i + PREFETCH_ROWS + 1 < h {
            prefetch(row(i + PREFETCH_ROWS));
            prefetch(row(i + PREFETCH_ROWS + 1));
        }
        let a = row(i);
        let into = &mut buf[oy * w..oy * w + w];
        if t.f == 0 || h == 1 {
            into.copy_from_slice(a);
        } else {
            vertical(a, row(i + 1), t.f, into);
        }
    }
    for oy in 0..plan.ys.len() {
        horizontal(
            &buf[oy * w..oy * w + w + ROW_PAD],
            &mut dst[oy * stride..oy * stride + dw],
        );
    }
}

/// How many source rows ahead the scaler asks for. Software prefetch halves the workload's
/// CPU time (N=49: 2.4 ms without, 1.3 ms with, same session); 24 rows measured a little
/// better than 16 and the same as 32.
pub(crate) const PREFETCH_ROWS: usize = 24;

/// Hints the CPU to fetch `bytes` into cache (a no-op elsewhere).
#[inline]
pub(crate) fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        // Every cache line the slice touches: from its first byte's line to its last byte's
        // (a row that starts mid-line ends in one more line than `len / 64` suggests).
        let start = bytes.as_ptr() as usize;
        let first = start & !63;
        let lines = (start + bytes.len()).saturating_sub(first).div_ceil(64);
        for k in 0..lines {
            let p = bytes
                .as_ptr()
                .wrapping_add(first + 64 * k)
                .wrapping_sub(start);
            // SAFETY: a prefetch never faults and does not change memory, whatever the
            // address (these lie in the lines the live slice touches anyway). SSE, which
            // provides it, is part of the x86-64 baseline.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
            };
        }
    }
}

/// One row of 2x2 means (see the module docs); also the chroma-resolution alpha of a matte.
pub(crate) fn box_row(level: SimdLevel, r0: &[u8], r1: &[u8], out: &mut [u8]) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
            // SAFETY: AVX2 was detected on this CPU just above (the kernel's one requirement).
            unsafe { avx2::box_row(r0, r1, out) }
        }
        _ => scalar::box_row(r0, r1, out),
    }
}

/// The vertical row kernel of `level` alone (the plane passes call the tiers directly).
#[cfg(test)]
fn lerp_rows(level: SimdLevel, a: &[u8], b: &[u8], f: u16, out: &mut [u8]) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if SimdLevel::detect() >= SimdLevel::Avx2 => {
            // SAFETY: AVX2 was detected on this CPU just above.
            unsafe { avx2::lerp_rows(a, b, f, out) }
        }
        _ => scalar::lerp_rows(a, b, f, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    const SIDES: [usize; 12] = [1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65];

    #[test]
    fn kernels_match_scalar_at_tail_widths() {
        for &w in &SIDES {
            let a = bytes(w as u64, 2 * w + 40);
            let b = bytes(w as u64 + 99, 2 * w + 40);
            for level in SimdLevel::available() {
                // box over a wider (strided) source, at an odd offset
                let (mut want, mut got) = (vec![0u8; w], vec![0u8; w]);
                scalar::box_row(&a[3..3 + 2 * w], &b[3..3 + 2 * w], &mut want);
                box_row(level, &a[3..3 + 2 * w], &b[3..3 + 2 * w], &mut got);
                assert_eq!(got, want, "box {level:?} w={w}");
                // odd source width: last column repeats
                scalar::box_row(&a[..2 * w - 1], &b[..2 * w - 1], &mut want);
                box_row(level, &a[..2 * w - 1], &b[..2 * w - 1], &mut got);
                assert_eq!(got, want, "box odd {level:?} w={w}");
                for f in 0..=ONE {
                    scalar::lerp_rows(&a[1..1 + w], &b[..w], f, &mut want);
                    lerp_rows(level, &a[1..1 + w], &b[..w], f, &mut got);
                    assert_eq!(got, want, "lerp {level:?} w={w} f={f}");
                }
            }
        }
    }

    #[test]
    fn whole_planes_match_scalar_for_every_ratio_and_mirror() {
        let src_sizes = [
            (270, 360),
            (135, 180),
            (64, 48),
            (17, 9),
            (3, 5),
            (1, 1),
            (2, 1000),
            (640, 2),
        ];
        let dst_sizes = [
            (240, 320),
            (102, 136),
            (144, 192),
            (16, 16),
            (1, 1),
            (7, 3),
            (65, 33),
        ];
        for (k, &(sw, sh)) in src_sizes.iter().enumerate() {
            let stride = sw + 13;
            let data = bytes(k as u64, stride * sh);
            let src = PlaneRef::new(&data, sw, sh, stride).unwrap();
            for &(dw, dh) in &dst_sizes {
                for mirror in [false, true] {
                    let plan = ScalePlan::new((sw, sh), (dw, dh), mirror);
                    let mut want = vec![0u8; dw * dh];
                    scale_plane(
                        SimdLevel::Scalar,
                        &plan,
                        src,
                        &mut want,
                        dw,
                        &mut ScaleScratch::default(),
                    );
                    for level in SimdLevel::available() {
                        let mut got = vec![0u8; dw * dh];
                        scale_plane(
                            level,
                            &plan,
                            src,
                            &mut got,
                            dw,
                            &mut ScaleScratch::default(),
                        );
                        assert_eq!(
                            got, want,
                            "{level:?} {sw}x{sh} -> {dw}x{dh} mirror={mirror}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn constant_planes_stay_constant_and_mirror_reverses() {
        let data = vec![77u8; 270 * 360];
        let src = PlaneRef::packed(&data, 270, 360).unwrap();
        let plan = ScalePlan::new((270, 360), (102, 136), false);
        assert_eq!(plan.halvings, 1);
        let mut out = vec![0u8; 102 * 136];
        scale_plane(
            SimdLevel::detect(),
            &plan,
            src,
            &mut out,
            102,
            &mut ScaleScratch::default(),
        );
        assert!(out.iter().all(|&v| v == 77));
        // A horizontal ramp comes out increasing, or decreasing when mirrored.
        let ramp: Vec<u8> = (0..64).flat_map(|_| (0..200).map(|x| x as u8)).collect();
        let src = PlaneRef::packed(&ramp, 200, 64).unwrap();
        for mirror in [false, true] {
            let plan = ScalePlan::new((200, 64), (90, 30), mirror);
            let mut out = vec![0u8; 90 * 30];
            scale_plane(
                SimdLevel::detect(),
                &plan,
                src,
                &mut out,
                90,
                &mut ScaleScratch::default(),
            );
            let row = &out[..90];
            let increasing = row.windows(2).all(|p| p[1] >= p[0]);
            let decreasing = row.windows(2).all(|p| p[1] <= p[0]);
            assert!(
                if mirror { decreasing } else { increasing },
                "mirror={mirror}: {row:?}"
            );
            assert!(row[0].abs_diff(row[89]) > 150);
        }
    }

    #[test]
    fn plane_scaler_checks_sizes_and_matches_the_kernels() {
        assert!(PlaneScaler::new((0, 4), (2, 2), false).is_err());
        assert!(PlaneScaler::new((4, 4), (2, 1 << 20), false).is_err());
        let data = bytes(5, 270 * 360);
        let src = PlaneRef::packed(&data, 270, 360).unwrap();
        let mut s = PlaneScaler::new((270, 360), (102, 136), true).unwrap();
        let mut out = vec![0u8; 102 * 136];
        s.scale(
            SimdLevel::detect(),
            src,
            &mut PlaneMut::new(&mut out, 102, 136, 102).unwrap(),
        )
        .unwrap();
        let mut want = vec![0u8; 102 * 136];
        let plan = ScalePlan::new((270, 360), (102, 136), true);
        scale_plane(
            SimdLevel::Scalar,
            &plan,
            src,
            &mut want,
            102,
            &mut ScaleScratch::default(),
        );
        assert_eq!(out, want);
        // Wrong source size, wrong destination size, strided destination: typed errors.
        let small = PlaneRef::packed(&data, 100, 100).unwrap();
        let mut dst = PlaneMut::new(&mut out, 102, 136, 102).unwrap();
        assert!(matches!(
            s.scale(SimdLevel::Scalar, small, &mut dst),
            Err(FrameError::SizeMismatch { .. })
        ));
        // A strided destination gets the same rows.
        let mut wide = vec![7u8; 110 * 136];
        let mut strided = PlaneMut::new(&mut wide, 102, 136, 110).unwrap();
        s.scale(SimdLevel::detect(), src, &mut strided).unwrap();
        for (r, row) in want.chunks_exact(102).enumerate() {
            assert_eq!(&wide[r * 110..r * 110 + 102], row);
            assert!(wide[r * 110 + 102..r * 110 + 110].iter().all(|&v| v == 7));
        }
        let mut other = PlaneMut::new(&mut wide, 100, 136, 110).unwrap();
        assert!(matches!(
            s.scale(SimdLevel::Scalar, src, &mut other),
            Err(FrameError::SizeMismatch { .. })
        ));
    }

    /// A plan made over in place equals a new one, whatever it held before (sizes up and
    /// down, mirrored or not, with and without SIMD groups and halvings).
    #[test]
    fn a_plan_made_over_equals_a_new_one() {
        let sizes = [
            ((640, 360), (102, 136)),
            ((37, 21), (64, 48)),
            ((7, 5), (3, 2)),
            ((300, 200), (150, 100)),
            ((1, 1), (16, 9)),
            ((90, 160), (270, 360)),
        ];
        let mut plan = ScalePlan::new((2, 2), (2, 2), false);
        for round in 0..2 {
            for &(src, dst) in &sizes {
                let mirror = round == 1;
                plan.remake(src, dst, mirror);
                let new = ScalePlan::new(src, dst, mirror);
                assert!(plan.fits(src, dst, mirror));
                assert_eq!(plan.xs, new.xs, "{src:?}->{dst:?}");
                assert_eq!(plan.ys, new.ys, "{src:?}->{dst:?}");
                assert_eq!(plan.halvings, new.halvings);
                assert_eq!(plan.groups.len(), new.groups.len(), "{src:?}->{dst:?}");
                for (a, b) in plan.groups.iter().zip(&new.groups) {
                    assert_eq!((a.mask, a.w, a.base, a.out), (b.mask, b.w, b.base, b.out));
                }
            }
        }
    }

    #[test]
    fn taps_stay_inside() {
        for src in 1..40 {
            for dst in 1..40 {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                taps(&mut a, src, 0, src, dst);
                taps(&mut b, 2 * src - 1, 1, src, dst);
                for t in a.into_iter().chain(b) {
                    assert!(t.f <= ONE);
                    if src > 1 {
                        assert!((t.i as usize) < src - 1, "{src}->{dst}: {t:?}");
                    }
                }
            }
        }
    }
}
