//! Builds a tract graph from the parsed network for one input size and runs it.

use std::sync::Arc;

use tract_core::internal::*;
use tract_core::ops::cnn::{Conv, Deconv, KernelFormat, PaddingSpec, PoolSpec};
use tract_core::ops::nn::{
    hard_swish, sigmoid, CoordTransformer, DataFormat, Interpolator, Nearest, Reduce, Reducer,
    Resize,
};

use super::tflite::{
    same_padding, transpose_same_padding, Activation, Network, Op, Padding, ResizeCoords, TensorId,
};
use super::MlError;

/// How the graph is expressed for tract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphRewrite {
    /// Each op as its closest tract op (bilinear resize as tract's `Resize`).
    #[default]
    Faithful,
    /// Each exact 2x half-pixel bilinear upsample as an edge pad plus a depthwise transposed
    /// convolution with weights `outer([.25, .75, .75, .25])`, stride 2.
    ResizeAsDeconv,
}

/// A tract plan for one input size.
#[derive(Debug)]
pub(crate) struct TractPlan {
    plan: Arc<TypedSimplePlan>,
    state: TypedSimpleState,
    height: usize,
    width: usize,
}

impl TractPlan {
    /// Builds and optimises the plan for an `h x w` input.
    pub(crate) fn new(
        net: &Network,
        h: usize,
        w: usize,
        rewrite: GraphRewrite,
    ) -> Result<Self, MlError> {
        let shapes = net.shapes_for(h, w)?;
        let model = build(net, &shapes, rewrite).map_err(MlError::tract)?;
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(MlError::tract)?;
        let state = plan.spawn().map_err(MlError::tract)?;
        Ok(TractPlan {
            plan,
            state,
            height: h,
            width: w,
        })
    }

    /// The same plan with its own state (cheap: no rebuild).
    pub(crate) fn fork(&self) -> Result<Self, MlError> {
        Ok(TractPlan {
            plan: Arc::clone(&self.plan),
            state: self.plan.spawn().map_err(MlError::tract)?,
            height: self.height,
            width: self.width,
        })
    }

    /// Runs on `input` (NHWC RGB in [0, 1], `h * w * 3` values) and writes the output
    /// (`h * w * channels` values) into `out`.
    pub(crate) fn run(&mut self, input: &[f32], out: &mut [f32]) -> Result<(), MlError> {
        let t =
            Tensor::from_shape(&[1, self.height, self.width, 3], input).map_err(MlError::tract)?;
        let outputs = self
            .state
            .run(tvec!(t.into_tvalue()))
            .map_err(MlError::tract)?;
        let o = outputs.first().ok_or(MlError::Graph("no output"))?;
        let plain = o.try_as_plain_ram().map_err(MlError::tract)?;
        let view = plain.as_slice::<f32>().map_err(MlError::tract)?;
        if view.len() != out.len() {
            return Err(MlError::Graph("output size"));
        }
        out.copy_from_slice(view);
        Ok(())
    }
}

fn konst(
    model: &mut TypedModel,
    name: String,
    shape: &[usize],
    data: &[f32],
) -> TractResult<OutletId> {
    let t = Tensor::from_shape(shape, data)?;
    model.add_const(name, t)
}

fn scalar4(model: &mut TypedModel, name: String, v: f32) -> TractResult<OutletId> {
    konst(model, name, &[1, 1, 1, 1], &[v])
}

fn activation(
    model: &mut TypedModel,
    name: &str,
    x: OutletId,
    act: Activation,
) -> TractResult<OutletId> {
    match act {
        Activation::None => Ok(x),
        Activation::Relu => relu(model, name, x),
        Activation::Relu6 => {
            let r = relu(model, name, x)?;
            let six = scalar4(model, format!("{name}.six"), 6.0)?;
            Ok(model.wire_node(
                format!("{name}.relu6"),
                tract_core::ops::math::min(),
                &[r, six],
            )?[0])
        }
    }
}

fn relu(model: &mut TypedModel, name: &str, x: OutletId) -> TractResult<OutletId> {
    let zero = scalar4(model, format!("{name}.zero"), 0.0)?;
    Ok(model.wire_node(
        format!("{name}.relu"),
        tract_core::ops::math::max(),
        &[x, zero],
    )?[0])
}

fn explicit_same(
    in_hw: [usize; 2],
    k: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: Padding,
) -> PaddingSpec {
    match padding {
        Padding::Valid => PaddingSpec::Valid,
        Padding::Same => {
            let (t, b) = same_padding(in_hw[0], k[0], stride[0], dilation[0]);
            let (l, r) = same_padding(in_hw[1], k[1], stride[1], dilation[1]);
            PaddingSpec::Explicit(tvec!(t, l), tvec!(b, r))
        }
    }
}

fn build(net: &Network, shapes: &[[usize; 3]], rewrite: GraphRewrite) -> TractResult<TypedModel> {
    let mut model = TypedModel::default();
    let mut outlets: Vec<Option<OutletId>> = vec![None; net.tensor_count];
    let [h, w, _] = shapes[net.input];
    outlets[net.input] = Some(model.add_source("input", f32::fact([1, h, w, 3]))?);
    let get = |outlets: &[Option<OutletId>], t: TensorId| {
        outlets[t].ok_or_else(|| format_err!("tensor {t} not wired"))
    };
    for (ix, node) in net.nodes.iter().enumerate() {
        let name = format!("{ix}.{}", node.name);
        let out = match &node.op {
            Op::Conv {
                x,
                weights,
                bias,
                stride,
                dilation,
                padding,
                act,
            } => {
                let s = &weights.shape;
                let [ih, iw, _] = shapes[*x];
                let pool_spec = PoolSpec {
                    data_format: DataFormat::NHWC,
                    kernel_shape: tvec!(s[1], s[2]),
                    padding: explicit_same([ih, iw], [s[1], s[2]], *stride, *dilation, *padding),
                    dilations: Some(tvec!(dilation[0], dilation[1])),
                    strides: Some(tvec!(stride[0], stride[1])),
                    input_channels: s[3],
                    output_channels: s[0],
                };
                let k = konst(&mut model, format!("{name}.kernel"), s, &weights.data)?;
                let b = konst(&mut model, format!("{name}.bias"), &[s[0]], bias)?;
                let op = Conv {
                    pool_spec,
                    kernel_fmt: KernelFormat::OHWI,
                    group: 1,
                    q_params: None,
                };
                let c = model.wire_node(&name, op, &[get(&outlets, *x)?, k, b])?[0];
                activation(&mut model, &name, c, *act)?
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
                let s = &weights.shape; // [1, kh, kw, C*m]
                let [ih, iw, c] = shapes[*x];
                let (kh, kw, oc) = (s[1], s[2], s[3]);
                if *multiplier != 1 {
                    bail!("depthwise convolution with multiplier {multiplier}");
                }
                // tract's grouped OHWI kernel is [O / group, kh, kw, I]: for a depthwise
                // convolution [1, kh, kw, C], TFLite's own layout.
                let pool_spec = PoolSpec {
                    data_format: DataFormat::NHWC,
                    kernel_shape: tvec!(kh, kw),
                    padding: explicit_same([ih, iw], [kh, kw], *stride, *dilation, *padding),
                    dilations: Some(tvec!(dilation[0], dilation[1])),
                    strides: Some(tvec!(stride[0], stride[1])),
                    input_channels: c,
                    output_channels: oc,
                };
                let kk = konst(&mut model, format!("{name}.kernel"), s, &weights.data)?;
                let b = konst(&mut model, format!("{name}.bias"), &[oc], bias)?;
                let op = Conv {
                    pool_spec,
                    kernel_fmt: KernelFormat::OHWI,
                    group: c,
                    q_params: None,
                };
                let cv = model.wire_node(&name, op, &[get(&outlets, *x)?, kk, b])?[0];
                activation(&mut model, &name, cv, *act)?
            }
            Op::TransposeConv {
                x,
                weights,
                bias,
                stride,
                padding,
            } => {
                let s = &weights.shape; // [O, kh, kw, I]
                let [ih, iw, _] = shapes[*x];
                let [oh, ow, _] = shapes[node.out];
                let padding = match padding {
                    Padding::Valid => PaddingSpec::Valid,
                    Padding::Same => {
                        let (t, b) = transpose_same_padding(ih, s[1], stride[0], oh);
                        let (l, r) = transpose_same_padding(iw, s[2], stride[1], ow);
                        PaddingSpec::Explicit(tvec!(t, l), tvec!(b, r))
                    }
                };
                let pool_spec = PoolSpec {
                    data_format: DataFormat::NHWC,
                    kernel_shape: tvec!(s[1], s[2]),
                    padding,
                    dilations: None,
                    strides: Some(tvec!(stride[0], stride[1])),
                    input_channels: s[3],
                    output_channels: s[0],
                };
                let k = konst(&mut model, format!("{name}.kernel"), s, &weights.data)?;
                let b = konst(&mut model, format!("{name}.bias"), &[s[0]], bias)?;
                let op = Deconv {
                    pool_spec,
                    kernel_format: KernelFormat::OHWI,
                    adjustments: tvec!(0, 0),
                    group: 1,
                };
                model.wire_node(&name, op, &[get(&outlets, *x)?, k, b])?[0]
            }
            Op::HardSwish { x } => model.wire_node(&name, hard_swish(), &[get(&outlets, *x)?])?[0],
            Op::Relu { x } => relu(&mut model, &name, get(&outlets, *x)?)?,
            Op::Relu6 { x } => {
                activation(&mut model, &name, get(&outlets, *x)?, Activation::Relu6)?
            }
            Op::Logistic { x } => model.wire_node(&name, sigmoid(), &[get(&outlets, *x)?])?[0],
            Op::Add { a, b, act } => {
                let o = model.wire_node(
                    &name,
                    tract_core::ops::math::add(),
                    &[get(&outlets, *a)?, get(&outlets, *b)?],
                )?[0];
                activation(&mut model, &name, o, *act)?
            }
            Op::Mul { a, b, act } => {
                let o = model.wire_node(
                    &name,
                    tract_core::ops::math::mul(),
                    &[get(&outlets, *a)?, get(&outlets, *b)?],
                )?[0];
                activation(&mut model, &name, o, *act)?
            }
            Op::GlobalMean { x } => {
                let [ih, iw, _] = shapes[*x];
                let sum = model.wire_node(
                    format!("{name}.sum"),
                    Reduce::new(tvec!(1, 2), Reducer::Sum),
                    &[get(&outlets, *x)?],
                )?[0];
                let inv = scalar4(&mut model, format!("{name}.inv"), 1.0 / (ih * iw) as f32)?;
                model.wire_node(&name, tract_core::ops::math::mul(), &[sum, inv])?[0]
            }
            Op::ResizeBilinear { x, scale, coords } => {
                let xo = get(&outlets, *x)?;
                let [ih, iw, c] = shapes[*x];
                if rewrite == GraphRewrite::ResizeAsDeconv
                    && *scale == [2, 2]
                    && *coords == ResizeCoords::HalfPixel
                {
                    upsample2x_as_deconv(&mut model, &name, xo, [ih, iw, c])?
                } else {
                    let coord_transformer = match coords {
                        ResizeCoords::HalfPixel => CoordTransformer::HalfPixel,
                        ResizeCoords::AlignCorners => CoordTransformer::AlignCorners,
                        ResizeCoords::Asymmetric => CoordTransformer::Asymmetric,
                    };
                    let op = Resize {
                        coord_transformer,
                        interpolator: Interpolator::Linear,
                        nearest: Nearest::Floor,
                        optional_scales_input: Some(1),
                        optional_sizes_input: None,
                    };
                    let scales = konst(
                        &mut model,
                        format!("{name}.scales"),
                        &[4],
                        &[1.0, scale[0] as f32, scale[1] as f32, 1.0],
                    )?;
                    model.wire_node(&name, op, &[xo, scales])?[0]
                }
            }
        };
        outlets[node.out] = Some(out);
    }
    let out = get(&outlets, net.output)?;
    model.select_output_outlets(&[out])?;
    Ok(model)
}

/// An exact 2x half-pixel bilinear upsample: replicate-pad one pixel on each side, then a
/// depthwise transposed convolution (stride 2, kernel `outer(k, k)` with
/// `k = [.25, .75, .75, .25]`) and crop the 2-pixel border it adds.
fn upsample2x_as_deconv(
    model: &mut TypedModel,
    name: &str,
    x: OutletId,
    [h, w, c]: [usize; 3],
) -> TractResult<OutletId> {
    use tract_core::ops::array::{Pad, PadMode};
    let pad = Pad::new(vec![(0, 0), (1, 1), (1, 1), (0, 0)], PadMode::Edge);
    let padded = model.wire_node(format!("{name}.pad"), pad, &[x])?[0];
    let k1 = [0.25f32, 0.75, 0.75, 0.25];
    // Grouped OHWI: [O / group, kh, kw, I] = [1, 4, 4, C].
    let mut k = vec![0f32; c * 16];
    for y in 0..4 {
        for xx in 0..4 {
            for ch in 0..c {
                k[(y * 4 + xx) * c + ch] = k1[y] * k1[xx];
            }
        }
    }
    let kk = konst(model, format!("{name}.kernel"), &[1, 4, 4, c], &k)?;
    let b = konst(model, format!("{name}.bias"), &[c], &vec![0f32; c])?;
    // Input (h+2) -> output (h+2-1)*2 + 4 = 2h + 6 with no padding; crop 3 on each side.
    let op = Deconv {
        pool_spec: PoolSpec {
            data_format: DataFormat::NHWC,
            kernel_shape: tvec!(4, 4),
            padding: PaddingSpec::Explicit(tvec!(3, 3), tvec!(3, 3)),
            dilations: None,
            strides: Some(tvec!(2, 2)),
            input_channels: c,
            output_channels: c,
        },
        kernel_format: KernelFormat::OHWI,
        adjustments: tvec!(0, 0),
        group: c,
    };
    let _ = (h, w);
    Ok(model.wire_node(name, op, &[padded, kk, b])?[0])
}

impl MlError {
    pub(crate) fn tract(e: impl std::fmt::Display) -> MlError {
        MlError::Runtime(Arc::from(format!("{e:#}")))
    }
}
