//! The native engine's arithmetic: a scalar reference for every kernel and AVX2/FMA versions
//! that compute the same operations in the same order, lane by lane, so the two agree bit for
//! bit (every multiply-add is fused in both: `f32::mul_add` in the scalar code).
//!
//! Activations are NHWC with each pixel's channels padded to a multiple of 8 ([`LANES`]); the
//! padding lanes hold zeros (zero weights and bias) and are never read by a reduction.

use super::Act;

/// Channels per vector; every activation's channel stride is a multiple of it.
pub(crate) const LANES: usize = 8;

/// Whether this CPU runs the AVX2/FMA kernels.
pub(crate) fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `act` on one value, as every kernel applies it.
// `max` then `min`, not `clamp`: a NaN becomes 0 as with the vector `max_ps(v, 0)`.
#[allow(clippy::manual_clamp)]
#[inline(always)]
pub(crate) fn act_scalar(v: f32, act: Act) -> f32 {
    match act {
        Act::None => v,
        Act::Relu => v.max(0.0),
        Act::Relu6 => v.max(0.0).min(6.0),
        Act::HardSwish => v * ((v + 3.0).max(0.0).min(6.0) * (1.0 / 6.0)),
    }
}

/// Weights of a matrix product packed for the kernels: `panels` groups of 8 output columns,
/// each `k` rows of 8 values (`[panel][k][8]`), zero beyond the real columns; bias likewise.
#[derive(Debug, Clone)]
pub(crate) struct PackedB {
    pub k: usize,
    pub panels: usize,
    pub data: Vec<f32>,
    pub bias: Vec<f32>,
}

impl PackedB {
    /// Packs `w(kk, n)` for `kk < k`, `n < cols`, and `bias`.
    pub(crate) fn new(
        k: usize,
        cols: usize,
        bias: &[f32],
        w: impl Fn(usize, usize) -> f32,
    ) -> Self {
        let panels = cols.div_ceil(LANES);
        let mut data = vec![0.0; panels * k * LANES];
        for p in 0..panels {
            for kk in 0..k {
                for l in 0..LANES {
                    let n = p * LANES + l;
                    if n < cols {
                        data[(p * k + kk) * LANES + l] = w(kk, n);
                    }
                }
            }
        }
        let mut b = vec![0.0; panels * LANES];
        b[..cols].copy_from_slice(&bias[..cols]);
        PackedB {
            k,
            panels,
            data,
            bias: b,
        }
    }
}

/// A matrix product with bias and activation: for each row `m < rows`,
/// `out[m * out_stride + n] = act(bias[n] + Σ_k a[m * a_stride + k] * b[k][n])` for every
/// column of every panel (`n < panels * 8`), the sum taken in order of `k`; plus
/// `residual[m * out_stride + n]` when there is one.
pub(crate) struct Gemm<'a> {
    pub a: &'a [f32],
    pub a_stride: usize,
    pub rows: usize,
    pub b: &'a PackedB,
    pub out: &'a mut [f32],
    pub out_stride: usize,
    pub act: Act,
    /// Added to each result after the activation (a residual connection), laid out as `out`.
    pub residual: Option<&'a [f32]>,
}

impl Gemm<'_> {
    /// Whether every row the product reads and writes is inside its slice.
    fn fits(&self) -> bool {
        let k = self.b.k;
        let cols = self.b.panels * LANES;
        self.rows == 0
            || (self.a_stride >= k
                && self.out_stride >= cols
                && (self.rows - 1) * self.a_stride + k <= self.a.len()
                && (self.rows - 1) * self.out_stride + cols <= self.out.len()
                && self
                    .residual
                    .is_none_or(|r| (self.rows - 1) * self.out_stride + cols <= r.len()))
    }

    /// Runs the product, with the AVX2 kernel when `simd`.
    pub(crate) fn run(self, simd: bool) {
        assert!(self.fits(), "matrix product out of its buffers");
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: `simd` is only true where `simd_available()` said AVX2 and FMA exist,
            // and `fits()` checked every row read and written lies inside its slice.
            unsafe { avx2::gemm(self) };
            return;
        }
        let _ = simd;
        gemm_scalar(self);
    }
}

/// The scalar reference of [`Gemm::run`].
pub(crate) fn gemm_scalar(g: Gemm<'_>) {
    let k = g.b.k;
    for m in 0..g.rows {
        let a = &g.a[m * g.a_stride..m * g.a_stride + k];
        for p in 0..g.b.panels {
            let panel = &g.b.data[p * k * LANES..(p + 1) * k * LANES];
            for l in 0..LANES {
                let mut acc = g.b.bias[p * LANES + l];
                for (kk, &av) in a.iter().enumerate() {
                    acc = av.mul_add(panel[kk * LANES + l], acc);
                }
                let at = m * g.out_stride + p * LANES + l;
                let v = act_scalar(acc, g.act);
                g.out[at] = match g.residual {
                    Some(r) => v + r[at],
                    None => v,
                };
            }
        }
    }
}

/// One output row of a depthwise convolution: for `x < out_w`, channel `c < c8`,
/// `out[x][c] = act(bias[c] + Σ_{ky, kx inside} in[iy][ix][c] * w[ky][kx][c])` with
/// `iy = y * stride - pad_top + ky * dilation` (rows outside are given as `None`) and
/// `ix = x * stride - pad_left + kx * dilation`, terms taken in order of `ky` then `kx`.
pub(crate) struct DepthwiseRow<'a> {
    /// The input rows for each `ky` (`None` above or below the input).
    pub rows: &'a [Option<&'a [f32]>],
    pub in_w: usize,
    pub c8: usize,
    pub kw: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad_left: usize,
    /// Weights `[kh][kw][c8]`.
    pub w: &'a [f32],
    pub bias: &'a [f32],
    pub out: &'a mut [f32],
    pub out_w: usize,
    pub act: Act,
}

impl DepthwiseRow<'_> {
    fn fits(&self) -> bool {
        self.c8.is_multiple_of(LANES)
            && self
                .rows
                .iter()
                .flatten()
                .all(|r| r.len() >= self.in_w * self.c8)
            && self.w.len() >= self.rows.len() * self.kw * self.c8
            && self.bias.len() >= self.c8
            && self.out.len() >= self.out_w * self.c8
    }

    /// The first and one-past-last `kx` inside the input for output column `x`.
    #[inline(always)]
    fn kx_range(&self, x: usize) -> (usize, usize) {
        let start = (x * self.stride) as isize - self.pad_left as isize;
        let d = self.dilation as isize;
        let mut lo = 0usize;
        while lo < self.kw && start + lo as isize * d < 0 {
            lo += 1;
        }
        let mut hi = self.kw;
        while hi > lo && start + (hi as isize - 1) * d >= self.in_w as isize {
            hi -= 1;
        }
        (lo, hi)
    }

    /// Runs the row, with the AVX2 kernel when `simd`.
    pub(crate) fn run(self, simd: bool) {
        assert!(self.fits(), "depthwise row out of its buffers");
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: AVX2 and FMA were detected (`simd`), and `fits()` checked the buffers;
            // the kernel reads only columns `kx_range` keeps inside the input.
            unsafe { avx2::depthwise_row(self) };
            return;
        }
        let _ = simd;
        depthwise_row_scalar(self);
    }
}

/// The scalar reference of [`DepthwiseRow::run`].
pub(crate) fn depthwise_row_scalar(d: DepthwiseRow<'_>) {
    let c8 = d.c8;
    for x in 0..d.out_w {
        let (lo, hi) = d.kx_range(x);
        let ix0 = x * d.stride + lo * d.dilation - d.pad_left;
        for c in 0..c8 {
            let mut acc = d.bias[c];
            for (ky, row) in d.rows.iter().enumerate() {
                let Some(row) = row else { continue };
                for kx in lo..hi {
                    let ix = ix0 + (kx - lo) * d.dilation;
                    acc = row[ix * c8 + c].mul_add(d.w[(ky * d.kw + kx) * c8 + c], acc);
                }
            }
            d.out[x * c8 + c] = act_scalar(acc, d.act);
        }
    }
}

/// An element-wise step over whole tensors of the same padded layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Mul,
}

/// `out[i] = act(a[i] op b[i % b.len()])`: `b` either as long as `a` or one pixel (`c8`
/// values) broadcast over every pixel.
pub(crate) fn binary(op: Binary, a: &[f32], b: &[f32], out: &mut [f32], act: Act, simd: bool) {
    assert!(
        out.len() == a.len()
            && !b.is_empty()
            && a.len().is_multiple_of(b.len())
            && b.len().is_multiple_of(LANES),
        "element-wise operands differ in size"
    );
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 and FMA were detected (`simd`); the sizes were checked above, all
        // multiples of 8, so every 8-lane load and store is inside its slice.
        unsafe { avx2::binary(op, a, b, out, act) };
        return;
    }
    let _ = simd;
    binary_scalar(op, a, b, out, act);
}

/// The scalar reference of [`binary`].
pub(crate) fn binary_scalar(op: Binary, a: &[f32], b: &[f32], out: &mut [f32], act: Act) {
    for (oc, ac) in out.chunks_mut(b.len()).zip(a.chunks(b.len())) {
        for ((o, &x), &y) in oc.iter_mut().zip(ac).zip(b) {
            let v = match op {
                Binary::Add => x + y,
                Binary::Mul => x * y,
            };
            *o = act_scalar(v, act);
        }
    }
}

/// `out[i] = a[i] * s[i % s.len()] + c[i]` (a squeeze-excite scale then a residual add, each
/// rounded as the two ops apart): `s` one pixel (`c8` values) broadcast over every pixel.
pub(crate) fn scale_add(a: &[f32], s: &[f32], c: &[f32], out: &mut [f32], simd: bool) {
    assert!(
        out.len() == a.len()
            && c.len() == a.len()
            && !s.is_empty()
            && a.len().is_multiple_of(s.len())
            && s.len().is_multiple_of(LANES),
        "element-wise operands differ in size"
    );
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 was detected (`simd`); the sizes were checked above, all multiples
        // of 8.
        unsafe { avx2::scale_add(a, s, c, out) };
        return;
    }
    let _ = simd;
    scale_add_scalar(a, s, c, out);
}

/// The scalar reference of [`scale_add`].
pub(crate) fn scale_add_scalar(a: &[f32], s: &[f32], c: &[f32], out: &mut [f32]) {
    let n = s.len();
    for ((oc, ac), cc) in out.chunks_mut(n).zip(a.chunks(n)).zip(c.chunks(n)) {
        for (((o, &x), &y), &z) in oc.iter_mut().zip(ac).zip(s).zip(cc) {
            *o = x * y + z;
        }
    }
}

/// One output row of a bilinear resize: for output column `x` with source columns
/// `(x0, x1, fx) = cols[x]` and channel `c`, `top = fma(r0[x1] - r0[x0], fx, r0[x0])`,
/// `bottom` likewise from `r1`, `out = fma(bottom - top, fy, top)`.
pub(crate) struct LerpRow<'a> {
    pub r0: &'a [f32],
    pub r1: &'a [f32],
    pub fy: f32,
    pub cols: &'a [(usize, usize, f32)],
    pub c8: usize,
    pub out: &'a mut [f32],
}

impl LerpRow<'_> {
    fn fits(&self) -> bool {
        let in_w = self.r0.len() / self.c8.max(1);
        self.c8 > 0
            && self.c8.is_multiple_of(LANES)
            && self.r1.len() == self.r0.len()
            && self.out.len() >= self.cols.len() * self.c8
            && self.cols.iter().all(|&(a, b, _)| a < in_w && b < in_w)
    }

    /// Runs the row, with the AVX2 kernel when `simd`.
    pub(crate) fn run(self, simd: bool) {
        assert!(self.fits(), "resize row out of its buffers");
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: AVX2 and FMA were detected (`simd`); `fits()` checked every source
            // column is inside the rows and the output holds every column.
            unsafe { avx2::lerp_row(self) };
            return;
        }
        let _ = simd;
        lerp_row_scalar(self);
    }
}

/// The scalar reference of [`LerpRow::run`].
pub(crate) fn lerp_row_scalar(l: LerpRow<'_>) {
    let c8 = l.c8;
    for (x, &(x0, x1, fx)) in l.cols.iter().enumerate() {
        for c in 0..c8 {
            let (a0, a1) = (l.r0[x0 * c8 + c], l.r0[x1 * c8 + c]);
            let (b0, b1) = (l.r1[x0 * c8 + c], l.r1[x1 * c8 + c]);
            let top = (a1 - a0).mul_add(fx, a0);
            let bottom = (b1 - b0).mul_add(fx, b0);
            l.out[x * c8 + c] = (bottom - top).mul_add(l.fy, top);
        }
    }
}

/// `out[c] = Σ_pixels x[p * c8 + c]` (`c8 = out.len()`), summed in pixel order.
pub(crate) fn sum_pixels(x: &[f32], out: &mut [f32], simd: bool) {
    assert!(
        out.len().is_multiple_of(LANES) && !out.is_empty() && x.len().is_multiple_of(out.len()),
        "sum over pixels of a ragged tensor"
    );
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 was detected (`simd`); whole pixels of `out.len()` values, a multiple
        // of 8 (checked above).
        unsafe { avx2::sum_pixels(x, out) };
        return;
    }
    let _ = simd;
    out.fill(0.0);
    for px in x.chunks_exact(out.len()) {
        for (s, v) in out.iter_mut().zip(px) {
            *s += v;
        }
    }
}

/// `out[i] = act(x[i])` (the activations that are not fused into a product).
pub(crate) fn unary(x: &[f32], out: &mut [f32], act: Act, simd: bool) {
    assert!(
        out.len() == x.len() && x.len().is_multiple_of(LANES),
        "element-wise operands differ in size"
    );
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 and FMA were detected (`simd`); equal sizes, multiples of 8.
        unsafe { avx2::unary(x, out, act) };
        return;
    }
    let _ = simd;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = act_scalar(v, act);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Act, Binary, DepthwiseRow, Gemm, LerpRow, LANES};

    /// `act` on 8 lanes, the same operations as `act_scalar`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn act8(v: __m256, act: Act) -> __m256 {
        match act {
            Act::None => v,
            Act::Relu => _mm256_max_ps(v, _mm256_setzero_ps()),
            Act::Relu6 => _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.0)),
            Act::HardSwish => {
                let t = _mm256_add_ps(v, _mm256_set1_ps(3.0));
                let t = _mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(6.0));
                _mm256_mul_ps(v, _mm256_mul_ps(t, _mm256_set1_ps(1.0 / 6.0)))
            }
        }
    }

    /// `R` rows by `P` panels of the product, starting at row `m0` and panel `p0`.
    ///
    /// # Safety
    /// AVX2 and FMA available; rows `m0..m0 + R` and panels `p0..p0 + P` inside the product
    /// whose buffers `Gemm::fits` checked.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block<const R: usize, const P: usize>(g: &mut Gemm<'_>, m0: usize, p0: usize) {
        let k = g.b.k;
        // SAFETY: per the function's contract every pointer below stays inside `g.a`,
        // `g.b.data`, `g.b.bias` and `g.out`: row `m < rows` reads `a[m * a_stride + kk]` for
        // `kk < k <= a_stride` and writes `out[m * out_stride + n]` for
        // `n < panels * 8 <= out_stride`; panel `p` reads `k * 8` packed values.
        unsafe {
            let a = g.a.as_ptr();
            let bd = g.b.data.as_ptr();
            let mut acc = [[_mm256_setzero_ps(); P]; R];
            for (p, bias) in
                (0..P).map(|p| (p, _mm256_loadu_ps(g.b.bias.as_ptr().add((p0 + p) * LANES))))
            {
                for row in acc.iter_mut() {
                    row[p] = bias;
                }
            }
            let mut rows = [a; R];
            for (r, ptr) in rows.iter_mut().enumerate() {
                *ptr = a.add((m0 + r) * g.a_stride);
            }
            let mut panels = [bd; P];
            for (p, ptr) in panels.iter_mut().enumerate() {
                *ptr = bd.add((p0 + p) * k * LANES);
            }
            for kk in 0..k {
                let mut bv = [_mm256_setzero_ps(); P];
                for p in 0..P {
                    bv[p] = _mm256_loadu_ps(panels[p].add(kk * LANES));
                }
                for r in 0..R {
                    let av = _mm256_broadcast_ss(&*rows[r].add(kk));
                    for p in 0..P {
                        acc[r][p] = _mm256_fmadd_ps(av, bv[p], acc[r][p]);
                    }
                }
            }
            let out = g.out.as_mut_ptr();
            let res = g.residual.map(<[f32]>::as_ptr);
            for (r, row) in acc.iter().enumerate() {
                for (p, &v) in row.iter().enumerate() {
                    let at = (m0 + r) * g.out_stride + (p0 + p) * LANES;
                    let mut v = act8(v, g.act);
                    if let Some(res) = res {
                        v = _mm256_add_ps(v, _mm256_loadu_ps(res.add(at)));
                    }
                    _mm256_storeu_ps(out.add(at), v);
                }
            }
        }
    }

    /// Rows `m0..m0 + R` across every panel.
    ///
    /// # Safety
    /// As [`block`].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows<const R: usize>(g: &mut Gemm<'_>, m0: usize) {
        let panels = g.b.panels;
        let mut p = 0;
        // SAFETY: every call covers panels inside `0..panels` and the caller's rows.
        unsafe {
            while p + 2 <= panels {
                block::<R, 2>(g, m0, p);
                p += 2;
            }
            if p < panels {
                block::<R, 1>(g, m0, p);
            }
        }
    }

    /// The AVX2 [`Gemm::run`].
    ///
    /// # Safety
    /// AVX2 and FMA available; `Gemm::fits` holds.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gemm(mut g: Gemm<'_>) {
        const R: usize = 6;
        let mut m = 0;
        // SAFETY: rows `m..m + R` (then the last 1..R) lie inside `0..rows`.
        unsafe {
            while m + R <= g.rows {
                rows::<R>(&mut g, m);
                m += R;
            }
            match g.rows - m {
                5 => rows::<5>(&mut g, m),
                4 => rows::<4>(&mut g, m),
                3 => rows::<3>(&mut g, m),
                2 => rows::<2>(&mut g, m),
                1 => rows::<1>(&mut g, m),
                _ => {}
            }
        }
    }

    /// The AVX2 [`DepthwiseRow::run`]: output columns whose taps are all inside the input
    /// (on a row with every kernel row inside) by [`depthwise_interior`] for the 3x3 and 5x5
    /// kernels, the rest column by column.
    ///
    /// # Safety
    /// AVX2 and FMA available; `DepthwiseRow::fits` holds.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn depthwise_row(mut d: DepthwiseRow<'_>) {
        let (kh, kw) = (d.rows.len(), d.kw);
        let fast = d.dilation == 1
            && matches!((kh, kw), (3, 3) | (5, 5))
            && d.rows.iter().all(Option::is_some);
        // Columns with every tap inside: x * stride >= pad_left and
        // x * stride - pad_left + kw - 1 < in_w.
        let (lo, hi) = if fast && d.in_w + d.pad_left >= kw {
            let lo = d.pad_left.div_ceil(d.stride);
            let hi = ((d.in_w + d.pad_left - kw) / d.stride + 1).min(d.out_w);
            (lo.min(hi), hi)
        } else {
            (0, 0)
        };
        // SAFETY: the caller's contract (AVX2, FMA, `fits`); every column range lies inside
        // `0..out_w`, and `lo..hi` holds only columns whose taps are inside the input.
        unsafe {
            depthwise_columns(&mut d, 0..lo);
            match (kh, kw) {
                (3, 3) if lo < hi => depthwise_interior::<3, 3>(&mut d, lo..hi),
                (5, 5) if lo < hi => depthwise_interior::<5, 5>(&mut d, lo..hi),
                _ => {}
            }
            let out_w = d.out_w;
            depthwise_columns(&mut d, hi.max(lo)..out_w);
        }
    }

    /// Output columns `xs` one by one, each tap checked against the input's sides.
    ///
    /// # Safety
    /// AVX2 and FMA available; `DepthwiseRow::fits` holds; `xs` inside `0..out_w`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn depthwise_columns(d: &mut DepthwiseRow<'_>, xs: std::ops::Range<usize>) {
        let c8 = d.c8;
        let out = d.out.as_mut_ptr();
        for x in xs {
            let (lo, hi) = d.kx_range(x);
            let ix0 = x * d.stride + lo * d.dilation - d.pad_left;
            let mut c = 0;
            while c < c8 {
                // SAFETY: `c + 8 <= c8` (c8 is a multiple of 8); each row read is at a column
                // `ix < in_w` (kx_range) of a row of `in_w * c8` values; weights and bias are
                // `kh * kw * c8` and `c8` long (fits), the output `out_w * c8`.
                unsafe {
                    let mut acc = _mm256_loadu_ps(d.bias.as_ptr().add(c));
                    for (ky, row) in d.rows.iter().enumerate() {
                        let Some(row) = row else { continue };
                        let rp = row.as_ptr();
                        let wp = d.w.as_ptr().add(ky * d.kw * c8 + c);
                        for kx in lo..hi {
                            let ix = ix0 + (kx - lo) * d.dilation;
                            acc = _mm256_fmadd_ps(
                                _mm256_loadu_ps(rp.add(ix * c8 + c)),
                                _mm256_loadu_ps(wp.add(kx * c8)),
                                acc,
                            );
                        }
                    }
                    _mm256_storeu_ps(out.add(x * c8 + c), act8(acc, d.act));
                }
                c += LANES;
            }
        }
    }

    /// Output columns `xs`, all of whose `KH x KW` taps are inside the input (dilation 1,
    /// every row present): per 8 channels the kernel's weights are loaded once for the whole
    /// run of columns, and the taps are summed in the same order as the scalar reference.
    ///
    /// # Safety
    /// AVX2 and FMA available; `DepthwiseRow::fits` holds; `d.rows` has `KH` rows, all
    /// present, `d.kw == KW`, `d.dilation == 1`; for every `x` in `xs`,
    /// `x * stride >= pad_left` and `x * stride - pad_left + KW <= in_w`; `xs` inside
    /// `0..out_w`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn depthwise_interior<const KH: usize, const KW: usize>(
        d: &mut DepthwiseRow<'_>,
        xs: std::ops::Range<usize>,
    ) {
        let c8 = d.c8;
        let out = d.out.as_mut_ptr();
        let mut rows = [std::ptr::null::<f32>(); KH];
        for (r, row) in rows.iter_mut().zip(d.rows) {
            *r = row.map_or(std::ptr::null(), <[f32]>::as_ptr);
        }
        let mut c = 0;
        while c < c8 {
            // SAFETY: weights `[KH][KW][c8]` and bias `c8` (fits), `c + 8 <= c8`; per the
            // contract every tap of every column in `xs` is at an input column `< in_w` of a
            // present row of `in_w * c8` values; outputs at `x < out_w`.
            unsafe {
                let mut w = [[_mm256_setzero_ps(); KW]; KH];
                for (ky, wr) in w.iter_mut().enumerate() {
                    for (kx, wv) in wr.iter_mut().enumerate() {
                        *wv = _mm256_loadu_ps(d.w.as_ptr().add((ky * KW + kx) * c8 + c));
                    }
                }
                let bias = _mm256_loadu_ps(d.bias.as_ptr().add(c));
                for x in xs.clone() {
                    let ix0 = x * d.stride - d.pad_left;
                    let mut acc = bias;
                    for (ky, wr) in w.iter().enumerate() {
                        let rp = rows[ky].add(ix0 * c8 + c);
                        for (kx, &wv) in wr.iter().enumerate() {
                            acc = _mm256_fmadd_ps(_mm256_loadu_ps(rp.add(kx * c8)), wv, acc);
                        }
                    }
                    _mm256_storeu_ps(out.add(x * c8 + c), act8(acc, d.act));
                }
            }
            c += LANES;
        }
    }

    /// The AVX2 [`super::binary`].
    ///
    /// # Safety
    /// AVX2 available; `out` and `a` equally long, `b` a divisor of that, all multiples of 8.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn binary(op: Binary, a: &[f32], b: &[f32], out: &mut [f32], act: Act) {
        let n = b.len();
        for (oc, ac) in out.chunks_exact_mut(n).zip(a.chunks_exact(n)) {
            let mut i = 0;
            while i < n {
                // SAFETY: `i + 8 <= n` for chunks of `n` values (a multiple of 8).
                unsafe {
                    let x = _mm256_loadu_ps(ac.as_ptr().add(i));
                    let y = _mm256_loadu_ps(b.as_ptr().add(i));
                    let v = match op {
                        Binary::Add => _mm256_add_ps(x, y),
                        Binary::Mul => _mm256_mul_ps(x, y),
                    };
                    _mm256_storeu_ps(oc.as_mut_ptr().add(i), act8(v, act));
                }
                i += LANES;
            }
        }
    }

    /// The AVX2 [`super::scale_add`].
    ///
    /// # Safety
    /// AVX2 available; `out`, `a` and `c` equally long, `s` a divisor of that, all multiples
    /// of 8.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn scale_add(a: &[f32], s: &[f32], c: &[f32], out: &mut [f32]) {
        let n = s.len();
        for ((oc, ac), cc) in out
            .chunks_exact_mut(n)
            .zip(a.chunks_exact(n))
            .zip(c.chunks_exact(n))
        {
            let mut i = 0;
            while i < n {
                // SAFETY: `i + 8 <= n` for chunks of `n` values (a multiple of 8).
                unsafe {
                    let x = _mm256_loadu_ps(ac.as_ptr().add(i));
                    let y = _mm256_loadu_ps(s.as_ptr().add(i));
                    let z = _mm256_loadu_ps(cc.as_ptr().add(i));
                    _mm256_storeu_ps(
                        oc.as_mut_ptr().add(i),
                        _mm256_add_ps(_mm256_mul_ps(x, y), z),
                    );
                }
                i += LANES;
            }
        }
    }

    /// The AVX2 [`LerpRow::run`].
    ///
    /// # Safety
    /// AVX2 and FMA available; `LerpRow::fits` holds.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn lerp_row(l: LerpRow<'_>) {
        let c8 = l.c8;
        let fy = _mm256_set1_ps(l.fy);
        let (r0, r1, out) = (l.r0.as_ptr(), l.r1.as_ptr(), l.out.as_mut_ptr());
        for (x, &(x0, x1, fx)) in l.cols.iter().enumerate() {
            let fxv = _mm256_set1_ps(fx);
            let mut c = 0;
            while c < c8 {
                // SAFETY: `x0, x1 < in_w` and `c + 8 <= c8` (fits), so every load is inside
                // the rows of `in_w * c8` values; `x < cols.len()`, inside the output.
                unsafe {
                    let a0 = _mm256_loadu_ps(r0.add(x0 * c8 + c));
                    let a1 = _mm256_loadu_ps(r0.add(x1 * c8 + c));
                    let b0 = _mm256_loadu_ps(r1.add(x0 * c8 + c));
                    let b1 = _mm256_loadu_ps(r1.add(x1 * c8 + c));
                    let top = _mm256_fmadd_ps(_mm256_sub_ps(a1, a0), fxv, a0);
                    let bottom = _mm256_fmadd_ps(_mm256_sub_ps(b1, b0), fxv, b0);
                    let v = _mm256_fmadd_ps(_mm256_sub_ps(bottom, top), fy, top);
                    _mm256_storeu_ps(out.add(x * c8 + c), v);
                }
                c += LANES;
            }
        }
    }

    /// The AVX2 [`super::sum_pixels`].
    ///
    /// # Safety
    /// AVX2 available; `out.len()` a non-zero multiple of 8 dividing `x.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sum_pixels(x: &[f32], out: &mut [f32]) {
        let n = out.len();
        let mut c = 0;
        while c < n {
            let mut acc = _mm256_setzero_ps();
            for px in x.chunks_exact(n) {
                // SAFETY: `c + 8 <= n`, a pixel's length.
                acc = _mm256_add_ps(acc, unsafe { _mm256_loadu_ps(px.as_ptr().add(c)) });
            }
            // SAFETY: `c + 8 <= n = out.len()`.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(c), acc) };
            c += LANES;
        }
    }

    /// The AVX2 [`super::unary`].
    ///
    /// # Safety
    /// AVX2 available; `x` and `out` equally long, a multiple of 8.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn unary(x: &[f32], out: &mut [f32], act: Act) {
        for (o, v) in out.chunks_exact_mut(LANES).zip(x.chunks_exact(LANES)) {
            // SAFETY: chunks of exactly 8 values.
            unsafe { _mm256_storeu_ps(o.as_mut_ptr(), act8(_mm256_loadu_ps(v.as_ptr()), act)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 20_001) as f32 / 2_500.0 - 4.0
            })
            .collect()
    }

    const ACTS: [Act; 4] = [Act::None, Act::Relu, Act::Relu6, Act::HardSwish];

    #[test]
    fn gemm_avx2_equals_scalar_bit_for_bit() {
        if !simd_available() {
            return;
        }
        for (rows, k, cols) in [
            (1usize, 3usize, 8usize),
            (7, 27, 16),
            (13, 16, 24),
            (6, 96, 40),
            (23, 40, 120),
            (5, 1, 3),
        ] {
            for (ai, act) in ACTS.into_iter().enumerate() {
                let a_stride = k.div_ceil(8) * 8 + 8;
                let a = values(rows * a_stride, (rows * 31 + k + ai) as u32);
                let w = values(k * cols, (cols + ai) as u32);
                let bias = values(cols, 7 + ai as u32);
                let b = PackedB::new(k, cols, &bias, |kk, n| w[kk * cols + n]);
                let out_stride = b.panels * LANES;
                let mut scalar = vec![f32::NAN; rows * out_stride];
                let mut simd = vec![f32::NAN; rows * out_stride];
                // Every other case with a residual connection added.
                let res = values(rows * out_stride, 99);
                let residual = (ai % 2 == 1).then_some(res.as_slice());
                for (out, s) in [(&mut scalar, false), (&mut simd, true)] {
                    Gemm {
                        a: &a,
                        a_stride,
                        rows,
                        b: &b,
                        out,
                        out_stride,
                        act,
                        residual,
                    }
                    .run(s);
                }
                assert!(scalar.iter().all(|v| v.is_finite()));
                let sb: Vec<u32> = scalar.iter().map(|v| v.to_bits()).collect();
                let vb: Vec<u32> = simd.iter().map(|v| v.to_bits()).collect();
                assert_eq!(sb, vb, "rows {rows} k {k} cols {cols} {act:?}");
            }
        }
    }

    #[test]
    fn gemm_scalar_is_the_product() {
        let (rows, k, cols) = (3, 5, 10);
        let a = values(rows * k, 1);
        let w = values(k * cols, 2);
        let bias = values(cols, 3);
        let b = PackedB::new(k, cols, &bias, |kk, n| w[kk * cols + n]);
        let mut out = vec![0.0; rows * 16];
        gemm_scalar(Gemm {
            a: &a,
            a_stride: k,
            rows,
            b: &b,
            out: &mut out,
            out_stride: 16,
            act: Act::None,
            residual: None,
        });
        for m in 0..rows {
            for n in 0..16 {
                let want = if n < cols {
                    bias[n] as f64
                        + (0..k)
                            .map(|kk| a[m * k + kk] as f64 * w[kk * cols + n] as f64)
                            .sum::<f64>()
                } else {
                    0.0
                };
                assert!((out[m * 16 + n] as f64 - want).abs() < 1e-4, "{m} {n}");
            }
        }
    }

    #[test]
    fn depthwise_avx2_equals_scalar_bit_for_bit() {
        if !simd_available() {
            return;
        }
        for (in_w, kw, stride, dilation, pad_left, c8) in [
            (9, 3, 1, 1, 1, 8),
            (12, 5, 1, 1, 2, 16),
            (11, 3, 2, 1, 0, 8),
            (16, 5, 2, 1, 2, 16),
            (7, 3, 2, 2, 2, 24),
            (4, 3, 1, 1, 0, 8),
        ] {
            let kh = kw;
            let out_w = (in_w + 2 * pad_left - (kw - 1) * dilation - 1) / stride + 1;
            let rows_data: Vec<Vec<f32>> =
                (0..kh).map(|r| values(in_w * c8, r as u32 + 11)).collect();
            let w = values(kh * kw * c8, 5);
            let bias = values(c8, 6);
            // Every row present (the interior fast path), and a row missing (column by column).
            for (missing, act) in [false, true].into_iter().flat_map(|m| ACTS.map(|a| (m, a))) {
                let rows: Vec<Option<&[f32]>> = rows_data
                    .iter()
                    .enumerate()
                    .map(|(r, v)| (!missing || r != 1).then_some(v.as_slice()))
                    .collect();
                let mut scalar = vec![f32::NAN; out_w * c8];
                let mut simd = vec![f32::NAN; out_w * c8];
                for (out, s) in [(&mut scalar, false), (&mut simd, true)] {
                    DepthwiseRow {
                        rows: &rows,
                        in_w,
                        c8,
                        kw,
                        stride,
                        dilation,
                        pad_left,
                        w: &w,
                        bias: &bias,
                        out,
                        out_w,
                        act,
                    }
                    .run(s);
                }
                assert!(scalar.iter().all(|v| v.is_finite()));
                let sb: Vec<u32> = scalar.iter().map(|v| v.to_bits()).collect();
                let vb: Vec<u32> = simd.iter().map(|v| v.to_bits()).collect();
                assert_eq!(
                    sb, vb,
                    "in_w {in_w} k {kw} s {stride} d {dilation} {act:?} missing {missing}"
                );
            }
        }
    }

    #[test]
    fn resize_and_sums_avx2_equal_scalar_bit_for_bit() {
        if !simd_available() {
            return;
        }
        let (in_w, c8) = (5, 16);
        let r0 = values(in_w * c8, 21);
        let r1 = values(in_w * c8, 22);
        let cols: Vec<(usize, usize, f32)> = (0..10)
            .map(|x| {
                (
                    (x / 2).min(in_w - 1),
                    (x / 2 + 1).min(in_w - 1),
                    if x % 2 == 0 { 0.25 } else { 0.75 },
                )
            })
            .collect();
        let mut outs = Vec::new();
        for s in [false, true] {
            let mut out = vec![f32::NAN; cols.len() * c8];
            LerpRow {
                r0: &r0,
                r1: &r1,
                fy: 0.75,
                cols: &cols,
                c8,
                out: &mut out,
            }
            .run(s);
            outs.push(out.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        }
        assert_eq!(outs[0], outs[1]);
        let x = values(24 * 37, 23);
        let mut a = vec![f32::NAN; 24];
        let mut b = vec![f32::NAN; 24];
        sum_pixels(&x, &mut a, false);
        sum_pixels(&x, &mut b, true);
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn elementwise_avx2_equals_scalar_bit_for_bit() {
        if !simd_available() {
            return;
        }
        let a = values(24 * 5, 1);
        for b in [values(24 * 5, 2), values(24, 3)] {
            for op in [Binary::Add, Binary::Mul] {
                for act in ACTS {
                    let mut s = vec![0.0; a.len()];
                    let mut v = vec![0.0; a.len()];
                    binary(op, &a, &b, &mut s, act, false);
                    binary(op, &a, &b, &mut v, act, true);
                    assert_eq!(
                        s.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    );
                }
            }
        }
        let (sc, c) = (values(24, 8), values(24 * 5, 9));
        let mut s = vec![0.0; a.len()];
        let mut v = vec![0.0; a.len()];
        scale_add(&a, &sc, &c, &mut s, false);
        scale_add(&a, &sc, &c, &mut v, true);
        assert_eq!(
            s.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        for act in ACTS {
            let mut s = vec![0.0; a.len()];
            let mut v = vec![0.0; a.len()];
            unary(&a, &mut s, act, false);
            unary(&a, &mut v, act, true);
            assert_eq!(
                s.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
    }
}
