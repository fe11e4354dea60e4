//! Reads a TFLite flatbuffer (the selfie segmentation models) into a small graph of the ops
//! this network uses, with fp16 constants folded to f32 and every index, shape and length
//! checked: the file is untrusted input.
//!
//! The flatbuffer schema (reader and verifier) is the one `tract-tflite` generates and exports;
//! `tract-tflite` itself cannot run these models (no DEQUANTIZE, no custom ops).

use std::sync::Arc;

use tract_tflite::tflite;

use super::MlError;

/// Largest side of any tensor we accept.
const MAX_DIM: usize = 1 << 14;
/// Largest element count of any tensor we accept.
const MAX_ELEMENTS: usize = 1 << 26;
/// Largest number of operators we accept.
const MAX_OPS: usize = 4096;
/// Largest tensor rank we accept (the selfie models use at most 4).
const MAX_RANK: usize = 8;
/// Longest tensor name kept (bytes); longer names are cut at a character boundary. Names are
/// shared strings in the file, so without a cap every node could copy the same long one.
const MAX_NAME: usize = 256;
/// Largest kernel side and stride we accept.
pub(crate) const MAX_KERNEL: usize = 15;
const MAX_STRIDE: usize = 8;

/// Index of an activation tensor.
pub(crate) type TensorId = usize;

/// A fused activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    None,
    Relu,
    Relu6,
}

/// TF padding of a convolution or pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    Same,
    Valid,
}

/// Coordinate mapping of a bilinear resize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResizeCoords {
    HalfPixel,
    AlignCorners,
    Asymmetric,
}

/// Dense f32 weights with their shape.
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    /// Row-major values.
    pub data: Arc<[f32]>,
    /// The shape (TFLite layout of the op that uses them).
    pub shape: Vec<usize>,
}

/// One operation of the network (NHWC activations, batch 1).
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// CONV_2D: weights `[O, kh, kw, I]`, bias `[O]`.
    Conv {
        x: TensorId,
        weights: Weights,
        bias: Arc<[f32]>,
        stride: [usize; 2],
        dilation: [usize; 2],
        padding: Padding,
        act: Activation,
    },
    /// DEPTHWISE_CONV_2D: weights `[1, kh, kw, C*m]`, bias `[C*m]`.
    Depthwise {
        x: TensorId,
        weights: Weights,
        bias: Arc<[f32]>,
        stride: [usize; 2],
        dilation: [usize; 2],
        padding: Padding,
        multiplier: usize,
        act: Activation,
    },
    /// MediaPipe's `Convolution2DTransposeBias`: weights `[O, kh, kw, I]`, bias `[O]`.
    TransposeConv {
        x: TensorId,
        weights: Weights,
        bias: Arc<[f32]>,
        stride: [usize; 2],
        padding: Padding,
    },
    HardSwish {
        x: TensorId,
    },
    Relu {
        x: TensorId,
    },
    Relu6 {
        x: TensorId,
    },
    Logistic {
        x: TensorId,
    },
    Add {
        a: TensorId,
        b: TensorId,
        act: Activation,
    },
    Mul {
        a: TensorId,
        b: TensorId,
        act: Activation,
    },
    /// AVERAGE_POOL_2D whose window is the whole plane, or MEAN over H and W (keep dims).
    GlobalMean {
        x: TensorId,
    },
    /// RESIZE_BILINEAR by an integer factor (the model's fixed output size divided by its
    /// input size), so that the network stays fully convolutional.
    ResizeBilinear {
        x: TensorId,
        scale: [usize; 2],
        coords: ResizeCoords,
    },
}

/// A node: an op and the activation tensor it writes.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub op: Op,
    pub out: TensorId,
    /// The output tensor's name in the file (for diagnostics and graph node names).
    pub name: String,
}

/// The network: nodes in execution order over activation tensors `0..tensor_count`.
#[derive(Debug, Clone)]
pub(crate) struct Network {
    pub nodes: Vec<Node>,
    pub tensor_count: usize,
    pub input: TensorId,
    pub output: TensorId,
    /// The input size the file declares, `[height, width]` (3 channels).
    pub native: [usize; 2],
    /// Channels of the output (1 for the selfie models).
    pub output_channels: usize,
    /// The output's `[height, width]` at the native input size (a selfie model's mask has
    /// the input's size).
    pub output_size: [usize; 2],
}

/// A shape `[h, w, c]` (batch 1, NHWC).
pub(crate) type Hwc = [usize; 3];

impl Network {
    /// Every activation tensor's `[h, w, c]` when the input is `h x w`, or an error when the
    /// network does not fit that size (mismatched skip connections).
    pub(crate) fn shapes_for(&self, h: usize, w: usize) -> Result<Vec<Hwc>, MlError> {
        if h == 0 || w == 0 || h > MAX_DIM || w > MAX_DIM {
            return Err(MlError::InputSize {
                width: w,
                height: h,
            });
        }
        let mut shapes: Vec<Option<Hwc>> = vec![None; self.tensor_count];
        shapes[self.input] = Some([h, w, 3]);
        for node in &self.nodes {
            let get = |t: TensorId| shapes[t].ok_or(MlError::Graph("tensor used before set"));
            let shape = match &node.op {
                Op::Conv {
                    x,
                    weights,
                    stride,
                    dilation,
                    padding,
                    ..
                } => {
                    let [ih, iw, ic] = get(*x)?;
                    let s = &weights.shape;
                    if s[3] != ic {
                        return Err(MlError::Graph("conv input channels"));
                    }
                    let oh = conv_out(ih, s[1], stride[0], dilation[0], *padding)?;
                    let ow = conv_out(iw, s[2], stride[1], dilation[1], *padding)?;
                    [oh, ow, s[0]]
                }
                Op::Depthwise {
                    x,
                    weights,
                    stride,
                    dilation,
                    padding,
                    multiplier,
                    ..
                } => {
                    let [ih, iw, ic] = get(*x)?;
                    let s = &weights.shape;
                    if s[3] != ic * multiplier {
                        return Err(MlError::Graph("depthwise channels"));
                    }
                    let oh = conv_out(ih, s[1], stride[0], dilation[0], *padding)?;
                    let ow = conv_out(iw, s[2], stride[1], dilation[1], *padding)?;
                    [oh, ow, s[3]]
                }
                Op::TransposeConv {
                    x,
                    weights,
                    stride,
                    padding,
                    ..
                } => {
                    let [ih, iw, ic] = get(*x)?;
                    let s = &weights.shape;
                    if s[3] != ic {
                        return Err(MlError::Graph("transposed conv input channels"));
                    }
                    let out = |i: usize, k: usize, st: usize| match padding {
                        Padding::Same => i * st,
                        Padding::Valid => (i - 1) * st + k,
                    };
                    [out(ih, s[1], stride[0]), out(iw, s[2], stride[1]), s[0]]
                }
                Op::HardSwish { x } | Op::Relu { x } | Op::Relu6 { x } | Op::Logistic { x } => {
                    get(*x)?
                }
                Op::Add { a, b, .. } | Op::Mul { a, b, .. } => {
                    let (sa, sb) = (get(*a)?, get(*b)?);
                    let mut out = [0; 3];
                    for i in 0..3 {
                        out[i] = match (sa[i], sb[i]) {
                            (p, q) if p == q => p,
                            (1, q) => q,
                            (p, 1) => p,
                            _ => {
                                return Err(MlError::InputSize {
                                    width: w,
                                    height: h,
                                })
                            }
                        };
                    }
                    out
                }
                Op::GlobalMean { x } => {
                    let [_, _, c] = get(*x)?;
                    [1, 1, c]
                }
                Op::ResizeBilinear { x, scale, .. } => {
                    let [ih, iw, c] = get(*x)?;
                    [ih * scale[0], iw * scale[1], c]
                }
            };
            if shape[0] == 0 || shape[1] == 0 || shape[0] > MAX_DIM || shape[1] > MAX_DIM {
                return Err(MlError::InputSize {
                    width: w,
                    height: h,
                });
            }
            shapes[node.out] = Some(shape);
        }
        shapes
            .into_iter()
            .map(|s| s.ok_or(MlError::Graph("tensor never written")))
            .collect::<Result<Vec<_>, _>>()
    }
}

/// Output side of a TF convolution.
fn conv_out(
    len: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> Result<usize, MlError> {
    let extent = (k - 1) * dilation + 1;
    Ok(match padding {
        Padding::Same => len.div_ceil(stride),
        Padding::Valid => {
            if len < extent {
                return Err(MlError::Graph("input smaller than a VALID kernel"));
            }
            (len - extent) / stride + 1
        }
    })
}

/// TF "SAME" padding before and after for one axis.
pub(crate) fn same_padding(len: usize, k: usize, stride: usize, dilation: usize) -> (usize, usize) {
    let out = len.div_ceil(stride);
    let extent = (k - 1) * dilation + 1;
    let total = ((out - 1) * stride + extent).saturating_sub(len);
    (total / 2, total - total / 2)
}

/// TF "SAME" padding before and after for one axis of a transposed convolution of an `len`
/// input with kernel `k` and `stride` to an `out` output: what the full output
/// `(len - 1) * stride + k` has beyond `out`, split as evenly as possible.
pub(crate) fn transpose_same_padding(
    len: usize,
    k: usize,
    stride: usize,
    out: usize,
) -> (usize, usize) {
    let total = ((len - 1) * stride + k).saturating_sub(out);
    (total / 2, total - total / 2)
}

/// A tensor of the file, as far as we need it.
struct FileTensor<'a> {
    shape: Vec<usize>,
    ty: tflite::TensorType,
    buffer: usize,
    name: &'a str,
}

/// Parses `bytes` (a .tflite file) into a [`Network`].
pub(crate) fn parse(bytes: &[u8]) -> Result<Network, MlError> {
    let opts = flatbuffers::VerifierOptions {
        max_apparent_size: 1 << 31,
        ..Default::default()
    };
    let model = tflite::root_as_model_with_opts(&opts, bytes).map_err(MlError::Flatbuffer)?;
    let subgraphs = model.subgraphs().ok_or(MlError::Missing("subgraphs"))?;
    if subgraphs.len() != 1 {
        return Err(MlError::Unsupported {
            what: "subgraph count",
            detail: subgraphs.len().to_string(),
        });
    }
    let graph = subgraphs.get(0);
    let buffers = model.buffers().ok_or(MlError::Missing("buffers"))?;
    let codes = model
        .operator_codes()
        .ok_or(MlError::Missing("operator codes"))?;
    let file_tensors = graph.tensors().ok_or(MlError::Missing("tensors"))?;
    let operators = graph.operators().ok_or(MlError::Missing("operators"))?;
    if operators.len() > MAX_OPS {
        return Err(MlError::Unsupported {
            what: "operator count",
            detail: operators.len().to_string(),
        });
    }

    let mut tensors = Vec::with_capacity(file_tensors.len());
    for t in file_tensors.iter() {
        // Shape vectors may be shared by many tensors in the file: bound what each copies.
        if t.shape().is_some_and(|s| s.len() > MAX_RANK) {
            return Err(MlError::Graph("tensor rank"));
        }
        let shape: Vec<usize> = match t.shape() {
            Some(s) => s
                .iter()
                .map(|d| usize::try_from(d).ok().filter(|&d| d <= MAX_DIM))
                .collect::<Option<Vec<_>>>()
                .ok_or(MlError::Graph("tensor dimension out of range"))?,
            None => Vec::new(),
        };
        let elements = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if elements.is_none_or(|e| e > MAX_ELEMENTS) {
            return Err(MlError::Graph("tensor too large"));
        }
        tensors.push(FileTensor {
            shape,
            ty: t.type_(),
            buffer: t.buffer() as usize,
            name: short_name(t.name().unwrap_or("")),
        });
    }
    let tensor = |i: i32| -> Result<&FileTensor<'_>, MlError> {
        usize::try_from(i)
            .ok()
            .and_then(|i| tensors.get(i))
            .ok_or(MlError::Graph("tensor index out of range"))
    };

    // Constants: f32 buffers, and fp16 buffers (folded through DEQUANTIZE below). Each
    // buffer is decoded once per element type and shared by every tensor naming it, so that
    // many tensors on one buffer cost no more memory than the file itself (twice, for fp16).
    let mut consts: Vec<Option<Arc<[f32]>>> = vec![None; tensors.len()];
    let mut decoded: std::collections::HashMap<(usize, i8), Arc<[f32]>> = Default::default();
    for (i, t) in tensors.iter().enumerate() {
        if t.buffer == 0 || t.buffer >= buffers.len() {
            continue; // buffer 0 is the empty sentinel: an activation
        }
        let data = match buffers.get(t.buffer).data() {
            Some(d) if !d.is_empty() => d.bytes(),
            _ => continue,
        };
        let n: usize = t.shape.iter().product();
        if let Some(v) = decoded.get(&(t.buffer, t.ty.0)) {
            if v.len() != n {
                return Err(MlError::Graph("constant length"));
            }
            consts[i] = Some(Arc::clone(v));
            continue;
        }
        let values: Vec<f32> = match t.ty {
            tflite::TensorType::FLOAT32 => {
                if data.len() != n * 4 {
                    return Err(MlError::Graph("f32 constant length"));
                }
                data.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            }
            tflite::TensorType::FLOAT16 => {
                if data.len() != n * 2 {
                    return Err(MlError::Graph("f16 constant length"));
                }
                data.chunks_exact(2)
                    .map(|b| tract_core::prelude::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect()
            }
            tflite::TensorType::INT32 => {
                if data.len() != n * 4 {
                    return Err(MlError::Graph("i32 constant length"));
                }
                data.chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32)
                    .collect()
            }
            other => {
                return Err(MlError::Unsupported {
                    what: "constant type",
                    detail: format!("{other:?}"),
                })
            }
        };
        if values.iter().any(|v| !v.is_finite()) {
            return Err(MlError::Graph("non-finite constant"));
        }
        let values: Arc<[f32]> = values.into();
        decoded.insert((t.buffer, t.ty.0), Arc::clone(&values));
        consts[i] = Some(values);
    }

    // Activation tensors get dense ids in order of first appearance.
    let mut act_id: Vec<Option<TensorId>> = vec![None; tensors.len()];
    let mut act_count = 0usize;
    let mut act_of = |file: usize, act_id: &mut Vec<Option<TensorId>>| -> TensorId {
        *act_id[file].get_or_insert_with(|| {
            act_count += 1;
            act_count - 1
        })
    };
    let graph_inputs = graph.inputs().ok_or(MlError::Missing("graph inputs"))?;
    let graph_outputs = graph.outputs().ok_or(MlError::Missing("graph outputs"))?;
    if graph_inputs.len() != 1 || graph_outputs.len() != 1 {
        return Err(MlError::Unsupported {
            what: "graph input/output count",
            detail: format!("{} in, {} out", graph_inputs.len(), graph_outputs.len()),
        });
    }
    let in_file = graph_inputs.get(0);
    let in_t = tensor(in_file)?;
    let native = match in_t.shape[..] {
        [1, h, w, 3] if h > 0 && w > 0 => [h, w],
        _ => {
            return Err(MlError::Unsupported {
                what: "input shape",
                detail: format!("{:?}", in_t.shape),
            })
        }
    };
    if in_t.ty != tflite::TensorType::FLOAT32 {
        return Err(MlError::Unsupported {
            what: "input type",
            detail: format!("{:?}", in_t.ty),
        });
    }
    let input = act_of(in_file as usize, &mut act_id);

    let mut nodes = Vec::with_capacity(operators.len());
    // The declared NHWC shape of every activation we produce, checked after parsing.
    let mut declared: Vec<(TensorId, Vec<usize>)> = Vec::new();
    for op in operators.iter() {
        let code = codes
            .iter()
            .nth(op.opcode_index() as usize)
            .ok_or(MlError::Graph("opcode index out of range"))?;
        let builtin = code.builtin_code().max(tflite::BuiltinOperator(i32::from(
            code.deprecated_builtin_code(),
        )));
        let ins: Vec<i32> = op.inputs().map(|v| v.iter().collect()).unwrap_or_default();
        let outs: Vec<i32> = op.outputs().map(|v| v.iter().collect()).unwrap_or_default();
        let [out_file] = outs[..] else {
            return Err(MlError::Graph("operator output count"));
        };
        let out_t = tensor(out_file)?;
        let out_file = out_file as usize;
        let input_at = |k: usize| -> Result<usize, MlError> {
            let i = *ins.get(k).ok_or(MlError::Graph("operator input missing"))?;
            tensor(i)?;
            Ok(i as usize)
        };
        let constant = |k: usize, consts: &Vec<Option<Arc<[f32]>>>| -> Result<Weights, MlError> {
            let i = input_at(k)?;
            let data = consts[i]
                .clone()
                .ok_or(MlError::Graph("expected a constant input"))?;
            Ok(Weights {
                data,
                shape: tensors[i].shape.clone(),
            })
        };

        if builtin == tflite::BuiltinOperator::DEQUANTIZE {
            let i = input_at(0)?;
            let v = consts[i].clone().ok_or(MlError::Unsupported {
                what: "DEQUANTIZE of a non-constant",
                detail: out_t.name.to_string(),
            })?;
            if tensors[i].ty != tflite::TensorType::FLOAT16
                || tensors[i].shape != out_t.shape
                || out_t.ty != tflite::TensorType::FLOAT32
            {
                return Err(MlError::Unsupported {
                    what: "DEQUANTIZE other than fp16 to f32",
                    detail: out_t.name.to_string(),
                });
            }
            consts[out_file] = Some(v);
            continue;
        }
        if consts[out_file].is_some() {
            return Err(MlError::Graph("operator writes a constant"));
        }
        if out_t.ty != tflite::TensorType::FLOAT32 {
            return Err(MlError::Unsupported {
                what: "activation type",
                detail: format!("{:?}", out_t.ty),
            });
        }
        let act = |k: usize, act_id: &mut Vec<Option<TensorId>>| -> Result<TensorId, MlError> {
            let i = input_at(k)?;
            if consts[i].is_some() {
                return Err(MlError::Unsupported {
                    what: "constant operand",
                    detail: tensors[i].name.to_string(),
                });
            }
            act_id[i].ok_or(MlError::Graph("activation read before it is written"))
        };
        let op = match builtin {
            tflite::BuiltinOperator::CONV_2D => {
                let o = op
                    .builtin_options_as_conv_2_doptions()
                    .ok_or(MlError::Missing("Conv2DOptions"))?;
                let x = act(0, &mut act_id)?;
                let weights = constant(1, &consts)?;
                check_kernel(&weights)?;
                let bias = bias(constant(2, &consts)?, weights.shape[0])?;
                Op::Conv {
                    x,
                    weights,
                    bias,
                    stride: stride(o.stride_h(), o.stride_w())?,
                    dilation: stride(o.dilation_h_factor(), o.dilation_w_factor())?,
                    padding: padding(o.padding())?,
                    act: activation(o.fused_activation_function())?,
                }
            }
            tflite::BuiltinOperator::DEPTHWISE_CONV_2D => {
                let o = op
                    .builtin_options_as_depthwise_conv_2_doptions()
                    .ok_or(MlError::Missing("DepthwiseConv2DOptions"))?;
                let x = act(0, &mut act_id)?;
                let weights = constant(1, &consts)?;
                check_kernel(&weights)?;
                if weights.shape[0] != 1 {
                    return Err(MlError::Graph("depthwise kernel shape"));
                }
                let bias = bias(constant(2, &consts)?, weights.shape[3])?;
                let multiplier = usize::try_from(o.depth_multiplier())
                    .ok()
                    .filter(|&m| (1..=64).contains(&m))
                    .ok_or(MlError::Graph("depth multiplier"))?;
                Op::Depthwise {
                    x,
                    weights,
                    bias,
                    stride: stride(o.stride_h(), o.stride_w())?,
                    dilation: stride(o.dilation_h_factor(), o.dilation_w_factor())?,
                    padding: padding(o.padding())?,
                    multiplier,
                    act: activation(o.fused_activation_function())?,
                }
            }
            tflite::BuiltinOperator::HARD_SWISH => Op::HardSwish {
                x: act(0, &mut act_id)?,
            },
            tflite::BuiltinOperator::RELU => Op::Relu {
                x: act(0, &mut act_id)?,
            },
            tflite::BuiltinOperator::RELU6 => Op::Relu6 {
                x: act(0, &mut act_id)?,
            },
            tflite::BuiltinOperator::LOGISTIC => Op::Logistic {
                x: act(0, &mut act_id)?,
            },
            tflite::BuiltinOperator::ADD => {
                let f = op
                    .builtin_options_as_add_options()
                    .map(|o| o.fused_activation_function())
                    .unwrap_or(tflite::ActivationFunctionType::NONE);
                Op::Add {
                    a: act(0, &mut act_id)?,
                    b: act(1, &mut act_id)?,
                    act: activation(f)?,
                }
            }
            tflite::BuiltinOperator::MUL => {
                let f = op
                    .builtin_options_as_mul_options()
                    .map(|o| o.fused_activation_function())
                    .unwrap_or(tflite::ActivationFunctionType::NONE);
                Op::Mul {
                    a: act(0, &mut act_id)?,
                    b: act(1, &mut act_id)?,
                    act: activation(f)?,
                }
            }
            tflite::BuiltinOperator::AVERAGE_POOL_2D => {
                let o = op
                    .builtin_options_as_pool_2_doptions()
                    .ok_or(MlError::Missing("Pool2DOptions"))?;
                let x_file = input_at(0)?;
                let x = act(0, &mut act_id)?;
                // Only the global form: the window covers the whole (declared) plane.
                let global = match tensors[x_file].shape[..] {
                    [1, h, w, _] => {
                        o.filter_height() as usize == h
                            && o.filter_width() as usize == w
                            && o.fused_activation_function() == tflite::ActivationFunctionType::NONE
                    }
                    _ => false,
                };
                if !global {
                    return Err(MlError::Unsupported {
                        what: "AVERAGE_POOL_2D other than a global average",
                        detail: out_t.name.to_string(),
                    });
                }
                Op::GlobalMean { x }
            }
            tflite::BuiltinOperator::MEAN => {
                let x = act(0, &mut act_id)?;
                let axes = constant(1, &consts)?;
                let keep = op
                    .builtin_options_as_reducer_options()
                    .is_some_and(|o| o.keep_dims());
                let mut a: Vec<f32> = axes.data.to_vec();
                a.sort_by(f32::total_cmp);
                if !keep || a != [1.0, 2.0] {
                    return Err(MlError::Unsupported {
                        what: "MEAN other than over H and W keeping dims",
                        detail: out_t.name.to_string(),
                    });
                }
                Op::GlobalMean { x }
            }
            tflite::BuiltinOperator::RESIZE_BILINEAR => {
                let x_file = input_at(0)?;
                let x = act(0, &mut act_id)?;
                let o = op.builtin_options_as_resize_bilinear_options();
                let coords = match o.map(|o| (o.align_corners(), o.half_pixel_centers())) {
                    Some((false, true)) => ResizeCoords::HalfPixel,
                    Some((true, false)) => ResizeCoords::AlignCorners,
                    Some((false, false)) | None => ResizeCoords::Asymmetric,
                    Some((true, true)) => return Err(MlError::Graph("resize options")),
                };
                let size = constant(1, &consts)?;
                let (ih, iw) = match tensors[x_file].shape[..] {
                    [1, h, w, _] if h > 0 && w > 0 => (h, w),
                    _ => return Err(MlError::Graph("resize input shape")),
                };
                let scale = match size.data[..] {
                    [oh, ow] if oh >= 1.0 && ow >= 1.0 => {
                        let (oh, ow) = (oh as usize, ow as usize);
                        if oh % ih != 0
                            || ow % iw != 0
                            || oh / ih > MAX_STRIDE
                            || ow / iw > MAX_STRIDE
                        {
                            return Err(MlError::Unsupported {
                                what: "RESIZE_BILINEAR by a non-integer factor",
                                detail: format!("{ih}x{iw} to {oh}x{ow}"),
                            });
                        }
                        [oh / ih, ow / iw]
                    }
                    _ => return Err(MlError::Graph("resize size")),
                };
                Op::ResizeBilinear { x, scale, coords }
            }
            tflite::BuiltinOperator::CUSTOM
                if code.custom_code() == Some("Convolution2DTransposeBias") =>
            {
                let x = act(0, &mut act_id)?;
                let weights = constant(1, &consts)?;
                check_kernel(&weights)?;
                let bias = bias(constant(2, &consts)?, weights.shape[0])?;
                // Custom options: padding, stride_w, stride_h as little-endian i32.
                let opts = op.custom_options().map(|o| o.bytes()).unwrap_or(&[]);
                let word = |k: usize| -> Result<i32, MlError> {
                    opts.get(4 * k..4 * k + 4)
                        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .ok_or(MlError::Missing("Convolution2DTransposeBias options"))
                };
                Op::TransposeConv {
                    x,
                    weights,
                    bias,
                    padding: padding(tflite::Padding(word(0)? as i8))?,
                    stride: stride(word(2)?, word(1)?)?,
                }
            }
            _ => {
                return Err(MlError::Unsupported {
                    what: "operator",
                    detail: code
                        .custom_code()
                        .map(str::to_string)
                        .or_else(|| builtin.variant_name().map(str::to_string))
                        .unwrap_or_else(|| builtin.0.to_string()),
                })
            }
        };
        if act_id[out_file].is_some() {
            return Err(MlError::Graph("activation written twice"));
        }
        let out = act_of(out_file, &mut act_id);
        declared.push((out, out_t.shape.clone()));
        nodes.push(Node {
            op,
            out,
            name: out_t.name.to_string(),
        });
    }
    let out_file = graph_outputs.get(0);
    tensor(out_file)?;
    let output = act_id[out_file as usize].ok_or(MlError::Graph("output never written"))?;
    let net = Network {
        nodes,
        tensor_count: act_count,
        input,
        output,
        native,
        output_channels: 0,
        output_size: [0, 0],
    };
    // The file's declared shapes must match our shape inference at the native size.
    let shapes = net.shapes_for(native[0], native[1])?;
    for (t, decl) in &declared {
        let s = shapes[*t];
        if decl[..] != [1, s[0], s[1], s[2]] {
            return Err(MlError::Graph(
                "declared tensor shape disagrees with the graph",
            ));
        }
    }
    let output_channels = shapes[output][2];
    let output_size = [shapes[output][0], shapes[output][1]];
    Ok(Network {
        output_channels,
        output_size,
        ..net
    })
}

/// `name`, cut to at most [`MAX_NAME`] bytes at a character boundary.
fn short_name(name: &str) -> &str {
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

fn check_kernel(w: &Weights) -> Result<(), MlError> {
    match w.shape[..] {
        [o, kh, kw, i]
            if o > 0
                && i > 0
                && (1..=MAX_KERNEL).contains(&kh)
                && (1..=MAX_KERNEL).contains(&kw) =>
        {
            Ok(())
        }
        _ => Err(MlError::Graph("kernel shape")),
    }
}

fn bias(b: Weights, channels: usize) -> Result<Arc<[f32]>, MlError> {
    if b.shape[..] != [channels] {
        return Err(MlError::Graph("bias length"));
    }
    Ok(b.data)
}

fn stride(h: i32, w: i32) -> Result<[usize; 2], MlError> {
    let ok = |v: i32| {
        usize::try_from(v)
            .ok()
            .filter(|v| (1..=MAX_STRIDE).contains(v))
    };
    Ok([
        ok(h).ok_or(MlError::Graph("stride or dilation"))?,
        ok(w).ok_or(MlError::Graph("stride or dilation"))?,
    ])
}

fn padding(p: tflite::Padding) -> Result<Padding, MlError> {
    match p {
        tflite::Padding::SAME => Ok(Padding::Same),
        tflite::Padding::VALID => Ok(Padding::Valid),
        _ => Err(MlError::Graph("padding")),
    }
}

fn activation(a: tflite::ActivationFunctionType) -> Result<Activation, MlError> {
    match a {
        tflite::ActivationFunctionType::NONE => Ok(Activation::None),
        tflite::ActivationFunctionType::RELU => Ok(Activation::Relu),
        tflite::ActivationFunctionType::RELU6 => Ok(Activation::Relu6),
        other => Err(MlError::Unsupported {
            what: "fused activation",
            detail: format!("{other:?}"),
        }),
    }
}
