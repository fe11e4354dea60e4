//! The native backend: the selfie network run by kernels of our own, written for this network
//! family (NHWC f32 activations, batch 1, one thread).
//!
//! A [`NativePlan`] is made once per input size from the parsed [`Network`]:
//! - every activation is NHWC with its channels padded to a multiple of 8, so each pixel's
//!   channels are whole AVX2 vectors;
//! - 1x1 convolutions are matrix products over all pixels at once (pixels x input channels
//!   times input x output channels) with bias and activation fused into the store; other
//!   convolutions gather each output row's patches (im2col, one row at a time) and multiply
//!   the same way; a transposed convolution is a product per input row whose results are added
//!   into the output at their taps;
//! - depthwise convolutions run directly, a row at a time, eight channels per vector;
//! - an activation that follows a convolution as its own op (TFLite's HARD_SWISH) is fused
//!   into the convolution's store when nothing else reads the convolution's output;
//! - buffers are reused once their tensor is read for the last time, so the working set is a
//!   few activations, not all of them.
//!
//! Every kernel has a scalar reference that computes the same operations in the same order;
//! the AVX2/FMA kernels (module `kernels`) are tested bit for bit against them, and the plan
//! runs the scalar ones on CPUs without AVX2 and FMA.

// The AVX2/FMA kernels: intrinsics and raw-pointer loads, each block with its SAFETY comment;
// the scalar references beside them are safe code.
#[allow(unsafe_code)]
mod kernels;

use kernels::{Binary, DepthwiseRow, Gemm, PackedB, LANES};

use super::tflite::{
    same_padding, transpose_same_padding, Activation, Hwc, Network, Op, Padding, ResizeCoords,
    TensorId, MAX_KERNEL,
};
use super::MlError;

/// An activation applied as a kernel stores its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    None,
    Relu,
    Relu6,
    HardSwish,
}

impl From<Activation> for Act {
    fn from(a: Activation) -> Act {
        match a {
            Activation::None => Act::None,
            Activation::Relu => Act::Relu,
            Activation::Relu6 => Act::Relu6,
        }
    }
}

/// One step of the plan, over tensor ids (resolved to buffers at run time).
#[derive(Debug, Clone)]
enum Step {
    /// A 1x1, stride-1 convolution: one matrix product over every pixel, plus the tensor
    /// of a residual connection when an ADD of it was fused in.
    Pointwise {
        x: TensorId,
        out: TensorId,
        b: PackedB,
        act: Act,
        residual: Option<TensorId>,
    },
    /// Any other convolution: im2col per output row, then a product.
    Conv {
        x: TensorId,
        out: TensorId,
        b: PackedB,
        geo: Window,
        act: Act,
    },
    Depthwise {
        x: TensorId,
        out: TensorId,
        /// `[kh][kw][c8]`, zero in the padding lanes.
        w: Vec<f32>,
        bias: Vec<f32>,
        geo: Window,
        act: Act,
    },
    /// Transposed convolution: per input row, a product to every tap's outputs
    /// (`kh * kw` groups of the output's channels), added into the output rows they land on.
    TransposeConv {
        x: TensorId,
        out: TensorId,
        b: PackedB,
        bias: Vec<f32>,
        kh: usize,
        kw: usize,
        stride: [usize; 2],
        pad: [usize; 2],
        /// The network's final LOGISTIC folded in (the output is then dense: one value per
        /// channel, no padding lanes).
        logistic: bool,
    },
    Unary {
        x: TensorId,
        out: TensorId,
        act: Act,
    },
    Logistic {
        x: TensorId,
        out: TensorId,
    },
    Binary {
        a: TensorId,
        b: TensorId,
        out: TensorId,
        op: Binary,
        act: Act,
    },
    /// A squeeze-excite scale (MUL by one pixel) and the ADD that reads it, in one pass.
    ScaleAdd {
        a: TensorId,
        s: TensorId,
        c: TensorId,
        out: TensorId,
    },
    GlobalMean {
        x: TensorId,
        out: TensorId,
    },
    /// Bilinear resize by whole factors: each output row and column's two source indices and
    /// the second one's weight, worked out once.
    Resize {
        x: TensorId,
        out: TensorId,
        rows: Vec<(usize, usize, f32)>,
        cols: Vec<(usize, usize, f32)>,
    },
}

/// The sliding window of a convolution.
#[derive(Debug, Clone, Copy)]
struct Window {
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    /// Padding before, rows and columns.
    pad: [usize; 2],
}

/// The native engine's plan for one input size.
#[derive(Debug, Clone)]
pub(crate) struct NativePlan {
    steps: Vec<Step>,
    /// Each tensor's shape (real channels).
    shapes: Vec<Hwc>,
    /// Each tensor's buffer (aliased tensors share one).
    slot: Vec<usize>,
    buffers: Vec<Vec<f32>>,
    /// The im2col rows of the general convolutions, and the transposed convolutions' rows.
    scratch: Vec<f32>,
    /// Tensors stored without padding lanes.
    dense: Vec<bool>,
    input: TensorId,
    output: TensorId,
    simd: bool,
}

/// A tensor's channels padded to whole vectors.
fn c8(c: usize) -> usize {
    c.div_ceil(LANES) * LANES
}

impl NativePlan {
    /// Plans `net` for an `h x w` input.
    pub(crate) fn new(net: &Network, h: usize, w: usize) -> Result<Self, MlError> {
        Self::build(net, h, w, kernels::simd_available(), true)
    }

    /// As [`NativePlan::new`], with the AVX2 kernels only when `simd` (and the CPU has them)
    /// and ops folded into the step before them only when `fuse`.
    fn build(net: &Network, h: usize, w: usize, simd: bool, fuse: bool) -> Result<Self, MlError> {
        let shapes = net.shapes_for(h, w)?;
        let n = net.tensor_count;
        // Readers of each tensor, to decide fusions and lifetimes.
        let mut readers = vec![0usize; n];
        for node in &net.nodes {
            for t in inputs_of(&node.op) {
                readers[t] += 1;
            }
        }
        let mut planned = Planned::new(n);
        let mut scratch = 0usize;
        // Tensors stored without padding lanes (the network's output, when its LOGISTIC is
        // folded into the step that writes it).
        let mut dense = vec![false; n];
        for node in &net.nodes {
            let out = node.out;
            let step = match &node.op {
                Op::Conv {
                    x,
                    weights,
                    bias,
                    stride,
                    dilation,
                    padding,
                    act,
                } => {
                    let s = &weights.shape; // [O, kh, kw, I]
                    let (o, kh, kw, ci) = (s[0], s[1], s[2], s[3]);
                    let wd = &weights.data;
                    if kh == 1 && kw == 1 && *stride == [1, 1] {
                        let b = PackedB::new(ci, o, bias, |k, n| wd[n * ci + k]);
                        Step::Pointwise {
                            x: *x,
                            out,
                            b,
                            act: (*act).into(),
                            residual: None,
                        }
                    } else {
                        let [ih, iw, _] = shapes[*x];
                        let geo = window(ih, iw, kh, kw, *stride, *dilation, *padding);
                        // Patch order: ky, kx, input channel (the weights' own order).
                        let k = kh * kw * ci;
                        let b = PackedB::new(k, o, bias, |kk, n| wd[n * k + kk]);
                        scratch = scratch.max(shapes[out][1] * k + LANES);
                        Step::Conv {
                            x: *x,
                            out,
                            b,
                            geo,
                            act: (*act).into(),
                        }
                    }
                }
                Op::Depthwise {
                    x,
                    weights,
                    bias,
                    stride,
                    dilation,
                    padding,
                    multiplier,
                    act,
                } => {
                    if *multiplier != 1 {
                        return Err(MlError::Unsupported {
                            what: "depthwise multiplier",
                            detail: multiplier.to_string(),
                        });
                    }
                    let s = &weights.shape; // [1, kh, kw, C]
                    let (kh, kw, c) = (s[1], s[2], s[3]);
                    if kh > MAX_KERNEL {
                        return Err(MlError::Unsupported {
                            what: "depthwise kernel height",
                            detail: kh.to_string(),
                        });
                    }
                    let cp = c8(c);
                    let mut wp = vec![0.0; kh * kw * cp];
                    for tap in 0..kh * kw {
                        wp[tap * cp..tap * cp + c]
                            .copy_from_slice(&weights.data[tap * c..tap * c + c]);
                    }
                    let mut bp = vec![0.0; cp];
                    bp[..c].copy_from_slice(&bias[..c]);
                    let [ih, iw, _] = shapes[*x];
                    Step::Depthwise {
                        x: *x,
                        out,
                        w: wp,
                        bias: bp,
                        geo: window(ih, iw, kh, kw, *stride, *dilation, *padding),
                        act: (*act).into(),
                    }
                }
                Op::TransposeConv {
                    x,
                    weights,
                    bias,
                    stride,
                    padding,
                } => {
                    let s = &weights.shape; // [O, kh, kw, I]
                    let (o, kh, kw, ci) = (s[0], s[1], s[2], s[3]);
                    let op8 = c8(o);
                    let [ih, iw, _] = shapes[*x];
                    let [oh, ow, _] = shapes[out];
                    let pad = match padding {
                        Padding::Valid => [0, 0],
                        Padding::Same => [
                            transpose_same_padding(ih, kh, stride[0], oh).0,
                            transpose_same_padding(iw, kw, stride[1], ow).0,
                        ],
                    };
                    let wd = &weights.data;
                    // Columns: tap-major, then output channel (no padding between taps).
                    let cols = kh * kw * o;
                    let zero = vec![0.0; cols];
                    let b = PackedB::new(ci, cols, &zero, |k, n| {
                        let (tap, oc) = (n / o, n % o);
                        wd[((oc * kh + tap / kw) * kw + tap % kw) * ci + k]
                    });
                    let mut bp = vec![0.0; op8];
                    bp[..o].copy_from_slice(&bias[..o]);
                    scratch = scratch.max(iw * b.panels * LANES);
                    Step::TransposeConv {
                        x: *x,
                        out,
                        b,
                        bias: bp,
                        kh,
                        kw,
                        stride: *stride,
                        pad,
                        logistic: false,
                    }
                }
                Op::HardSwish { x } | Op::Relu { x } | Op::Relu6 { x } => {
                    let act = match &node.op {
                        Op::HardSwish { .. } => Act::HardSwish,
                        Op::Relu { .. } => Act::Relu,
                        _ => Act::Relu6,
                    };
                    // Fuse into the product or depthwise step that wrote `x`, when this is
                    // its only reader and it has no activation of its own.
                    let fused = fuse
                        && readers[*x] == 1
                        && *x != net.output
                        && planned
                            .writer(*x)
                            .is_some_and(|i| set_act(&mut planned.steps[i], act));
                    if fused {
                        planned.store_as(out, *x);
                        continue;
                    }
                    Step::Unary { x: *x, out, act }
                }
                Op::Logistic { x } => {
                    // The network's last op on a transposed convolution's output: into it.
                    let into = planned.writer(*x).filter(|_| {
                        fuse && readers[*x] == 1 && out == net.output && *x != net.output
                    });
                    if let Some(Step::TransposeConv { logistic, .. }) =
                        into.map(|i| &mut planned.steps[i])
                    {
                        *logistic = true;
                        dense[planned.alias[*x]] = true;
                        planned.store_as(out, *x);
                        continue;
                    }
                    Step::Logistic { x: *x, out }
                }
                Op::Add {
                    a,
                    b,
                    act: Activation::None,
                } if fuse
                    && fuse_add(&mut planned, &readers, &shapes, [*a, *b], out, net.output) =>
                {
                    continue;
                }
                Op::Add { a, b, act } | Op::Mul { a, b, act } => {
                    let op = if matches!(node.op, Op::Add { .. }) {
                        Binary::Add
                    } else {
                        Binary::Mul
                    };
                    // The broadcast operand (one pixel) second.
                    let (sa, sb) = (shapes[*a], shapes[*b]);
                    let (a, b) = if sa[0] * sa[1] == 1 && sb[0] * sb[1] > 1 {
                        (*b, *a)
                    } else {
                        (*a, *b)
                    };
                    let (sa, sb) = (shapes[a], shapes[b]);
                    if sa[2] != sb[2] || (sb != sa && sb[0] * sb[1] != 1) {
                        return Err(MlError::Graph("element-wise operands differ in shape"));
                    }
                    Step::Binary {
                        a,
                        b,
                        out,
                        op,
                        act: (*act).into(),
                    }
                }
                Op::GlobalMean { x } => Step::GlobalMean { x: *x, out },
                Op::ResizeBilinear { x, scale, coords } => {
                    let [ih, iw, _] = shapes[*x];
                    let taps = |len: usize, scale: usize| {
                        (0..len * scale)
                            .map(|o| resize_tap(o, len, scale, *coords))
                            .collect()
                    };
                    Step::Resize {
                        x: *x,
                        out,
                        rows: taps(ih, scale[0]),
                        cols: taps(iw, scale[1]),
                    }
                }
            };
            // Steps read and write resolved (aliased) tensors.
            let step = resolve(step, &planned.alias);
            planned.push(out, step);
        }
        let (steps, alias) = planned.finish();
        let input = net.input;
        let output = alias[net.output];
        // Buffers: a tensor's buffer goes back to the pool after its last reader.
        let mut last_read = vec![0usize; n];
        for (i, step) in steps.iter().enumerate() {
            for t in step_inputs(step) {
                last_read[t] = i;
            }
        }
        for t in 0..n {
            if dense[alias[t]] {
                dense[t] = true;
            }
        }
        let size = |t: TensorId| {
            let [h, w, c] = shapes[t];
            h * w * if dense[t] { c } else { c8(c) }
        };
        let mut slot = vec![usize::MAX; n];
        let mut buffers: Vec<Vec<f32>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let take = |need: usize, buffers: &mut Vec<Vec<f32>>, free: &mut Vec<usize>| {
            // The smallest free buffer that holds `need`, else the largest grown, else new.
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, &b)| buffers[b].len() >= need)
                .min_by_key(|(_, &b)| buffers[b].len())
                .map(|(i, _)| i)
                .or_else(|| {
                    free.iter()
                        .enumerate()
                        .max_by_key(|(_, &b)| buffers[b].len())
                        .map(|(i, _)| i)
                });
            match best {
                Some(i) => {
                    let b = free.swap_remove(i);
                    if buffers[b].len() < need {
                        buffers[b].resize(need, 0.0);
                    }
                    b
                }
                None => {
                    buffers.push(vec![0.0; need]);
                    buffers.len() - 1
                }
            }
        };
        slot[input] = take(size(input), &mut buffers, &mut free);
        for (i, step) in steps.iter().enumerate() {
            let out = step_output(step);
            slot[out] = take(size(out), &mut buffers, &mut free);
            for t in step_inputs(step) {
                if last_read[t] == i && t != output && !free.contains(&slot[t]) {
                    free.push(slot[t]);
                }
            }
        }
        for t in 0..n {
            if alias[t] != t {
                slot[t] = slot[alias[t]];
            }
        }
        Ok(NativePlan {
            steps,
            shapes,
            slot,
            buffers,
            scratch: vec![0.0; scratch],
            dense,
            input,
            output,
            simd: simd && kernels::simd_available(),
        })
    }

    /// Values per pixel of tensor `t` (its channels, padded unless it is dense).
    fn stride_of(&self, t: TensorId) -> usize {
        let c = self.shapes[t][2];
        if self.dense[t] {
            c
        } else {
            c8(c)
        }
    }

    /// The same plan with buffers of its own.
    pub(crate) fn fork(&self) -> Self {
        self.clone()
    }

    /// Runs on `input` (NHWC RGB, `h * w * 3` values) and writes the output (`h * w`).
    pub(crate) fn run(&mut self, input: &[f32], out: &mut [f32]) -> Result<(), MlError> {
        let [h, w, c] = self.shapes[self.input];
        if input.len() != h * w * c {
            return Err(MlError::BufferSize {
                expected: h * w * c,
                found: input.len(),
            });
        }
        let [oh, ow, oc] = self.shapes[self.output];
        if out.len() != oh * ow * oc || oc != 1 {
            return Err(MlError::BufferSize {
                expected: oh * ow,
                found: out.len(),
            });
        }
        let cp = c8(c);
        let buf = &mut self.buffers[self.slot[self.input]];
        if c == 3 && cp == LANES {
            // Whole fixed-size pixels (no copy calls for three values).
            for (px, rgb) in buf.chunks_exact_mut(LANES).zip(input.chunks_exact(3)) {
                let v = [rgb[0], rgb[1], rgb[2], 0.0, 0.0, 0.0, 0.0, 0.0];
                px.copy_from_slice(&v);
            }
        } else {
            for (px, rgb) in buf.chunks_exact_mut(cp).zip(input.chunks_exact(c)) {
                px[..c].copy_from_slice(rgb);
                px[c..].fill(0.0);
            }
        }
        for i in 0..self.steps.len() {
            self.step(i);
        }
        let ocp = self.stride_of(self.output);
        let res = &self.buffers[self.slot[self.output]];
        for (o, px) in out.iter_mut().zip(res.chunks_exact(ocp)) {
            *o = px[0];
        }
        Ok(())
    }

    fn step(&mut self, i: usize) {
        let simd = self.simd;
        let mut scratch = std::mem::take(&mut self.scratch);
        let step = &self.steps[i];
        let out_t = step_output(step);
        let mut out = std::mem::take(&mut self.buffers[self.slot[out_t]]);
        let [oh, ow, oc] = self.shapes[out_t];
        let oc8 = self.stride_of(out_t);
        let out_len = oh * ow * oc8;
        let buf = |t: TensorId| -> &[f32] {
            let [h, w, _] = self.shapes[t];
            &self.buffers[self.slot[t]][..h * w * self.stride_of(t)]
        };
        match step {
            Step::Pointwise {
                x,
                b,
                act,
                residual,
                ..
            } => {
                let [ih, iw, ic] = self.shapes[*x];
                Gemm {
                    a: buf(*x),
                    a_stride: c8(ic),
                    rows: ih * iw,
                    b,
                    out: &mut out[..out_len],
                    out_stride: oc8,
                    act: *act,
                    residual: residual.map(buf),
                }
                .run(simd);
            }
            Step::Conv { x, b, geo, act, .. } => {
                let [ih, iw, ic] = self.shapes[*x];
                let input = buf(*x);
                let k = b.k;
                let scratch = &mut scratch[..ow * k + LANES];
                for y in 0..oh {
                    im2col_row(input, [ih, iw, ic], geo, y, ow, scratch);
                    Gemm {
                        a: &scratch[..ow * k],
                        a_stride: k,
                        rows: ow,
                        b,
                        out: &mut out[y * ow * oc8..(y + 1) * ow * oc8],
                        out_stride: oc8,
                        act: *act,
                        residual: None,
                    }
                    .run(simd);
                }
            }
            Step::Depthwise {
                x,
                w,
                bias,
                geo,
                act,
                ..
            } => {
                let [ih, iw, ic] = self.shapes[*x];
                let cp = c8(ic);
                let input = buf(*x);
                let mut rows: [Option<&[f32]>; MAX_KERNEL] = [None; MAX_KERNEL];
                let rows = &mut rows[..geo.kh];
                for y in 0..oh {
                    for (ky, r) in rows.iter_mut().enumerate() {
                        let iy = (y * geo.stride[0] + ky * geo.dilation[0]) as isize
                            - geo.pad[0] as isize;
                        *r = (iy >= 0 && (iy as usize) < ih).then(|| {
                            let iy = iy as usize;
                            &input[iy * iw * cp..(iy + 1) * iw * cp]
                        });
                    }
                    DepthwiseRow {
                        rows,
                        in_w: iw,
                        c8: cp,
                        kw: geo.kw,
                        stride: geo.stride[1],
                        dilation: geo.dilation[1],
                        pad_left: geo.pad[1],
                        w,
                        bias,
                        out: &mut out[y * ow * cp..(y + 1) * ow * cp],
                        out_w: ow,
                        act: *act,
                    }
                    .run(simd);
                }
            }
            Step::TransposeConv {
                x,
                b,
                bias,
                kh,
                kw,
                stride,
                pad,
                logistic,
                ..
            } => {
                let [ih, iw, ic] = self.shapes[*x];
                let input = buf(*x);
                let cols = b.panels * LANES;
                let row = &mut scratch[..iw * cols];
                // Taps that neither overlap nor fall outside (kernel = stride, no padding):
                // each output value is one product plus the bias, written once.
                let tiled =
                    [*kh, *kw] == *stride && *pad == [0, 0] && [oh, ow] == [ih * kh, iw * kw];
                if !tiled {
                    for px in out[..out_len].chunks_exact_mut(oc8) {
                        px.copy_from_slice(&bias[..oc8]);
                    }
                }
                for iy in 0..ih {
                    Gemm {
                        a: &input[iy * iw * c8(ic)..(iy + 1) * iw * c8(ic)],
                        a_stride: c8(ic),
                        rows: iw,
                        b,
                        out: row,
                        out_stride: cols,
                        act: Act::None,
                        residual: None,
                    }
                    .run(simd);
                    if tiled {
                        for ky in 0..*kh {
                            let y = iy * kh + ky;
                            let orow = &mut out[y * ow * oc8..(y + 1) * ow * oc8];
                            for (src, dst) in
                                row.chunks_exact(cols).zip(orow.chunks_exact_mut(kw * oc8))
                            {
                                for (kx, px) in dst.chunks_exact_mut(oc8).enumerate() {
                                    let taps = &src[(ky * kw + kx) * oc..][..oc];
                                    for ((d, &t), &bv) in px.iter_mut().zip(taps).zip(bias.iter()) {
                                        *d = bv + t;
                                    }
                                    if oc8 > oc {
                                        px[oc..].fill(0.0);
                                    }
                                }
                            }
                        }
                        continue;
                    }
                    for ky in 0..*kh {
                        let y = (iy * stride[0] + ky) as isize - pad[0] as isize;
                        if y < 0 || y as usize >= oh {
                            continue;
                        }
                        let orow = &mut out[y as usize * ow * oc8..(y as usize + 1) * ow * oc8];
                        for ix in 0..iw {
                            for kx in 0..*kw {
                                let xx = (ix * stride[1] + kx) as isize - pad[1] as isize;
                                if xx < 0 || xx as usize >= ow {
                                    continue;
                                }
                                let src = &row[ix * cols + (ky * kw + kx) * oc..][..oc];
                                let dst = &mut orow[xx as usize * oc8..][..oc];
                                for (d, s) in dst.iter_mut().zip(src) {
                                    *d += s;
                                }
                            }
                        }
                    }
                }
                if *logistic {
                    kernels::sigmoid(&mut out[..out_len], simd);
                }
            }
            Step::Unary { x, act, .. } => {
                kernels::unary(buf(*x), &mut out[..out_len], *act, simd);
            }
            Step::Logistic { x, .. } => {
                for (o, v) in out[..out_len]
                    .chunks_exact_mut(oc8)
                    .zip(buf(*x).chunks_exact(oc8))
                {
                    for (o, &v) in o[..oc].iter_mut().zip(v) {
                        *o = kernels::sigmoid_scalar(v);
                    }
                    o[oc..].fill(0.0);
                }
            }
            Step::Binary { a, b, op, act, .. } => {
                kernels::binary(*op, buf(*a), buf(*b), &mut out[..out_len], *act, simd);
            }
            Step::ScaleAdd { a, s, c, .. } => {
                kernels::scale_add(buf(*a), buf(*s), buf(*c), &mut out[..out_len], simd);
            }
            Step::GlobalMean { x, .. } => {
                let [ih, iw, ic] = self.shapes[*x];
                let cp = c8(ic);
                let o = &mut out[..cp];
                kernels::sum_pixels(buf(*x), o, simd);
                let inv = 1.0 / (ih * iw) as f32;
                for s in o.iter_mut() {
                    *s *= inv;
                }
            }
            Step::Resize { x, rows, cols, .. } => {
                let [_, iw, ic] = self.shapes[*x];
                let cp = c8(ic);
                let input = buf(*x);
                for (y, &(y0, y1, fy)) in rows.iter().enumerate() {
                    kernels::LerpRow {
                        r0: &input[y0 * iw * cp..(y0 + 1) * iw * cp],
                        r1: &input[y1 * iw * cp..(y1 + 1) * iw * cp],
                        fy,
                        cols,
                        c8: cp,
                        out: &mut out[y * ow * cp..(y + 1) * ow * cp],
                    }
                    .run(simd);
                }
            }
        }
        let slot = self.slot[out_t];
        self.buffers[slot] = out;
        self.scratch = scratch;
    }
}

fn window(
    ih: usize,
    iw: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: Padding,
) -> Window {
    let pad = match padding {
        Padding::Valid => [0, 0],
        Padding::Same => [
            same_padding(ih, kh, stride[0], dilation[0]).0,
            same_padding(iw, kw, stride[1], dilation[1]).0,
        ],
    };
    Window {
        kh,
        kw,
        stride,
        dilation,
        pad,
    }
}

/// The patches of output row `y`: for each output column, `kh * kw * c` values in the order
/// ky, kx, channel, zero outside the input. `out` holds `ow * kh * kw * c` values plus
/// [`LANES`] of slack: for fewer than 8 channels each tap is copied as a whole 8-lane pixel
/// (a fixed-size copy, no call), whose padding lanes (zeros) the next tap then overwrites.
fn im2col_row(input: &[f32], [ih, iw, c]: Hwc, geo: &Window, y: usize, ow: usize, out: &mut [f32]) {
    let cp = c8(c);
    let k = geo.kh * geo.kw * c;
    let iy_of =
        |ky: usize| (y * geo.stride[0] + ky * geo.dilation[0]) as isize - geo.pad[0] as isize;
    // Columns whose taps are all inside the input, on a row whose kernel rows all are.
    let reach = (geo.kw - 1) * geo.dilation[1];
    let rows_inside = (0..geo.kh).all(|ky| (0..ih as isize).contains(&iy_of(ky)));
    let (lo, hi) = if rows_inside && cp == LANES && iw + geo.pad[1] > reach {
        let lo = geo.pad[1].div_ceil(geo.stride[1]);
        let hi = ((iw + geo.pad[1] - reach - 1) / geo.stride[1] + 1).min(ow);
        (lo, hi.max(lo))
    } else {
        (0, 0)
    };
    for x in 0..ow {
        if (lo..hi).contains(&x) {
            let ix0 = x * geo.stride[1] - geo.pad[1];
            for ky in 0..geo.kh {
                let row = iy_of(ky) as usize * iw;
                for kx in 0..geo.kw {
                    let src = (row + ix0 + kx * geo.dilation[1]) * LANES;
                    let at = x * k + (ky * geo.kw + kx) * c;
                    let px: &[f32; LANES] = input[src..src + LANES]
                        .try_into()
                        .expect("a range of LANES values");
                    let dst: &mut [f32; LANES] = (&mut out[at..at + LANES])
                        .try_into()
                        .expect("a range of LANES values");
                    *dst = *px;
                }
            }
            continue;
        }
        for ky in 0..geo.kh {
            let iy = iy_of(ky);
            let row_inside = iy >= 0 && (iy as usize) < ih;
            for kx in 0..geo.kw {
                let ix = (x * geo.stride[1] + kx * geo.dilation[1]) as isize - geo.pad[1] as isize;
                let at = x * k + (ky * geo.kw + kx) * c;
                let inside = row_inside && ix >= 0 && (ix as usize) < iw;
                let src = (iy.max(0) as usize * iw + ix.max(0) as usize) * cp;
                if cp == LANES {
                    let px: [f32; LANES] = match input.get(src..src + LANES) {
                        Some(v) if inside => std::array::from_fn(|i| v[i]),
                        _ => [0.0; LANES],
                    };
                    let dst: &mut [f32; LANES] = (&mut out[at..at + LANES])
                        .try_into()
                        .expect("a range of LANES values");
                    *dst = px;
                } else if inside {
                    out[at..at + c].copy_from_slice(&input[src..src + c]);
                } else {
                    out[at..at + c].fill(0.0);
                }
            }
        }
    }
}

/// Source position and weight of one output coordinate of a bilinear resize: the two input
/// indices (clamped to the input, as TFLite) and the weight of the second.
fn resize_tap(o: usize, len: usize, scale: usize, coords: ResizeCoords) -> (usize, usize, f32) {
    let out_len = len * scale;
    let s = match coords {
        ResizeCoords::HalfPixel => (o as f32 + 0.5) / scale as f32 - 0.5,
        ResizeCoords::AlignCorners => {
            if out_len > 1 {
                o as f32 * (len - 1) as f32 / (out_len - 1) as f32
            } else {
                0.0
            }
        }
        ResizeCoords::Asymmetric => o as f32 / scale as f32,
    };
    let f = s.floor();
    let frac = s - f;
    let clamp = |v: f32| (v.max(0.0) as usize).min(len - 1);
    (clamp(f), clamp(f + 1.0), frac)
}

/// Gives a product or depthwise step the activation `act` if it has none; whether it did.
fn set_act(step: &mut Step, act: Act) -> bool {
    match step {
        Step::Pointwise {
            act: a,
            residual: None,
            ..
        }
        | Step::Conv { act: a, .. }
        | Step::Depthwise { act: a, .. }
            if *a == Act::None =>
        {
            *a = act;
            true
        }
        _ => false,
    }
}

/// The tensors an op reads.
fn inputs_of(op: &Op) -> Vec<TensorId> {
    match op {
        Op::Conv { x, .. }
        | Op::Depthwise { x, .. }
        | Op::TransposeConv { x, .. }
        | Op::HardSwish { x }
        | Op::Relu { x }
        | Op::Relu6 { x }
        | Op::Logistic { x }
        | Op::GlobalMean { x }
        | Op::ResizeBilinear { x, .. } => vec![*x],
        Op::Add { a, b, .. } | Op::Mul { a, b, .. } => vec![*a, *b],
    }
}

fn step_inputs(step: &Step) -> Vec<TensorId> {
    match step {
        Step::Pointwise {
            x,
            residual: Some(r),
            ..
        } => vec![*x, *r],
        Step::ScaleAdd { a, s, c, .. } => vec![*a, *s, *c],
        Step::Pointwise { x, .. }
        | Step::Conv { x, .. }
        | Step::Depthwise { x, .. }
        | Step::TransposeConv { x, .. }
        | Step::Unary { x, .. }
        | Step::Logistic { x, .. }
        | Step::GlobalMean { x, .. }
        | Step::Resize { x, .. } => vec![*x],
        Step::Binary { a, b, .. } => vec![*a, *b],
    }
}

fn step_output(step: &Step) -> TensorId {
    match step {
        Step::Pointwise { out, .. }
        | Step::Conv { out, .. }
        | Step::Depthwise { out, .. }
        | Step::TransposeConv { out, .. }
        | Step::Unary { out, .. }
        | Step::Logistic { out, .. }
        | Step::GlobalMean { out, .. }
        | Step::Resize { out, .. }
        | Step::ScaleAdd { out, .. }
        | Step::Binary { out, .. } => *out,
    }
}

/// The step with its inputs replaced by the tensors they alias.
fn resolve(mut step: Step, alias: &[TensorId]) -> Step {
    match &mut step {
        Step::Pointwise { x, .. }
        | Step::Conv { x, .. }
        | Step::Depthwise { x, .. }
        | Step::TransposeConv { x, .. }
        | Step::Unary { x, .. }
        | Step::Logistic { x, .. }
        | Step::GlobalMean { x, .. }
        | Step::Resize { x, .. } => *x = alias[*x],
        Step::Binary { a, b, .. } => {
            *a = alias[*a];
            *b = alias[*b];
        }
        Step::ScaleAdd { a, s, c, .. } => {
            *a = alias[*a];
            *s = alias[*s];
            *c = alias[*c];
        }
    }
    if let Step::Pointwise {
        residual: Some(r), ..
    } = &mut step
    {
        *r = alias[*r];
    }
    step
}

/// The steps planned so far, and where each tensor's values are stored.
struct Planned {
    steps: Vec<Step>,
    /// Steps folded into a later one (a squeeze-excite MUL into its ADD).
    removed: Vec<bool>,
    /// The tensor each tensor is stored as: itself, or the output of the step its op was
    /// folded into.
    alias: Vec<TensorId>,
    /// The step that wrote each tensor.
    written_by: Vec<Option<usize>>,
}

impl Planned {
    fn new(tensors: usize) -> Self {
        Planned {
            steps: Vec::new(),
            removed: Vec::new(),
            alias: (0..tensors).collect(),
            written_by: vec![None; tensors],
        }
    }

    /// The step that wrote tensor `t` (or the step its op was folded into).
    fn writer(&self, t: TensorId) -> Option<usize> {
        self.written_by[self.alias[t]]
    }

    /// A new step writing `out`.
    fn push(&mut self, out: TensorId, step: Step) {
        self.written_by[out] = Some(self.steps.len());
        self.steps.push(step);
        self.removed.push(false);
    }

    /// `out` is stored as `t` is: the op writing `out` was folded into `t`'s writer.
    fn store_as(&mut self, out: TensorId, t: TensorId) {
        let src = self.alias[t];
        self.alias[out] = src;
        self.written_by[out] = self.written_by[src];
    }

    /// The steps to run, and each tensor's alias.
    fn finish(self) -> (Vec<Step>, Vec<TensorId>) {
        let steps = self
            .steps
            .into_iter()
            .zip(self.removed)
            .filter_map(|(s, r)| (!r).then_some(s))
            .collect();
        (steps, self.alias)
    }
}

/// Folds an ADD (no activation) of `operands` into the step before it where that is exact:
/// into the 1x1 convolution that wrote one operand, as its residual (when the other operand
/// was written before that convolution ran), or with the squeeze-excite MUL that wrote one
/// operand into one [`Step::ScaleAdd`]. Either way the folded step's output is read by this
/// ADD alone. Returns whether it folded (the ADD's output then aliases the step's).
fn fuse_add(
    p: &mut Planned,
    readers: &[usize],
    shapes: &[Hwc],
    operands: [TensorId; 2],
    out: TensorId,
    net_output: TensorId,
) -> bool {
    if shapes[operands[0]] != shapes[operands[1]] || out == net_output {
        return false;
    }
    for (mine, other) in [(operands[0], operands[1]), (operands[1], operands[0])] {
        if readers[mine] != 1 || mine == net_output {
            continue;
        }
        let res = p.alias[other];
        let Some(i) = p.writer(mine) else { continue };
        let other_before = p.written_by[res].is_none_or(|j| j < i);
        match p.steps[i] {
            Step::Pointwise {
                ref mut residual, ..
            } if residual.is_none() && other_before => {
                *residual = Some(res);
                p.store_as(out, mine);
                return true;
            }
            Step::Binary {
                a,
                b,
                op: Binary::Mul,
                act: Act::None,
                ..
            } if shapes[b][0] * shapes[b][1] == 1 && shapes[a] == shapes[p.alias[mine]] => {
                p.removed[i] = true;
                p.push(
                    out,
                    Step::ScaleAdd {
                        a,
                        s: b,
                        c: res,
                        out,
                    },
                );
                return true;
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general selfie model from `models/` (scripts/fetch-model.sh); absent outside CI
    /// means skip, in CI a failure.
    fn network() -> Option<Network> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join("selfie_segmentation.tflite");
        match std::fs::read(&path) {
            Ok(bytes) => Some(super::super::tflite::parse(&bytes).expect("model parses")),
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "{}: {e}", path.display());
                eprintln!(
                    "skipped: {} not found (scripts/fetch-model.sh)",
                    path.display()
                );
                None
            }
        }
    }

    #[test]
    fn whole_network_simd_equals_scalar_bit_for_bit() {
        let Some(net) = network() else { return };
        if !kernels::simd_available() {
            return;
        }
        // A non-square size, so rows and columns are not confused, and odd image content.
        let (h, w) = (96, 160);
        let input: Vec<f32> = (0..h * w * 3)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let mut outs = Vec::new();
        for simd in [false, true] {
            let mut plan = NativePlan::build(&net, h, w, simd, true).expect("plan");
            let mut out = vec![f32::NAN; h * w];
            plan.run(&input, &mut out).expect("runs");
            assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
            outs.push(out.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        }
        assert_eq!(outs[0], outs[1]);
    }

    #[test]
    fn fused_steps_compute_what_the_ops_apart_do_bit_for_bit() {
        let Some(net) = network() else { return };
        let (h, w) = (64, 112);
        let input: Vec<f32> = (0..h * w * 3)
            .map(|i| ((i * 104_729) % 997) as f32 / 997.0)
            .collect();
        let mut outs = Vec::new();
        for fuse in [false, true] {
            let mut plan = NativePlan::build(&net, h, w, true, fuse).expect("plan");
            let mut out = vec![f32::NAN; h * w];
            plan.run(&input, &mut out).expect("runs");
            outs.push((
                plan.steps.len(),
                out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            ));
        }
        assert!(outs[1].0 < outs[0].0, "nothing was fused");
        assert_eq!(outs[0].1, outs[1].1);
    }

    #[test]
    fn fusing_and_buffer_reuse_keep_fewer_buffers_than_tensors() {
        let Some(net) = network() else { return };
        let plan = NativePlan::new(&net, 64, 64).expect("plan");
        let fused = net.nodes.len() - plan.steps.len();
        assert!(fused > 0, "no activation was fused");
        assert!(
            plan.buffers.len() * 4 < net.tensor_count,
            "{} buffers for {} tensors",
            plan.buffers.len(),
            net.tensor_count
        );
    }

    #[test]
    fn im2col_rows_hold_each_patch_with_zeros_outside() {
        for (ih, iw, c, k, stride, pad) in [
            (7, 9, 3, 3, 2, 1),
            (5, 6, 3, 3, 1, 1),
            (6, 5, 16, 3, 2, 0),
            (4, 4, 3, 5, 1, 2),
        ] {
            let cp = c8(c);
            // Channel values a function of place; padding lanes zero, as in the plan.
            let mut input = vec![0.0; ih * iw * cp];
            for (p, px) in input.chunks_exact_mut(cp).enumerate() {
                for (ch, v) in px[..c].iter_mut().enumerate() {
                    *v = (p * 31 + ch) as f32 + 1.0;
                }
            }
            let geo = Window {
                kh: k,
                kw: k,
                stride: [stride; 2],
                dilation: [1, 1],
                pad: [pad; 2],
            };
            let oh = (ih + 2 * pad - k) / stride + 1;
            let ow = (iw + 2 * pad - k) / stride + 1;
            let kk = k * k * c;
            let mut out = vec![f32::NAN; ow * kk + LANES];
            for y in 0..oh {
                im2col_row(&input, [ih, iw, c], &geo, y, ow, &mut out);
                for x in 0..ow {
                    for ky in 0..k {
                        for kx in 0..k {
                            for ch in 0..c {
                                let iy = (y * stride + ky) as isize - pad as isize;
                                let ix = (x * stride + kx) as isize - pad as isize;
                                let want =
                                    if iy < 0 || ix < 0 || iy >= ih as isize || ix >= iw as isize {
                                        0.0
                                    } else {
                                        input[(iy as usize * iw + ix as usize) * cp + ch]
                                    };
                                assert_eq!(
                                    out[x * kk + (ky * k + kx) * c + ch],
                                    want,
                                    "{ih}x{iw} k{k} s{stride} y{y} x{x}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_buffer_sizes_are_errors() {
        let Some(net) = network() else { return };
        let mut plan = NativePlan::new(&net, 32, 32).expect("plan");
        let mut out = vec![0.0; 32 * 32];
        assert!(matches!(
            plan.run(&[0.0; 5], &mut out),
            Err(MlError::BufferSize { .. })
        ));
        assert!(matches!(
            plan.run(&vec![0.0; 32 * 32 * 3], &mut out[..7]),
            Err(MlError::BufferSize { .. })
        ));
    }
}
