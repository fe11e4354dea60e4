//! Expresses the parsed network as an ONNX model (feature `ml-ort`), in memory, for
//! onnxruntime: the same graph the tract backend builds, op for op, in NCHW.
//!
//! Only the handful of ONNX protobuf messages and fields this graph needs are declared here
//! (field numbers from `onnx.proto`); prost encodes them. Shapes are fixed to one input size,
//! like the tract plans.

use super::tflite::{
    same_padding, transpose_same_padding, Activation, Network, Op, Padding, ResizeCoords, TensorId,
};
use super::MlError;

/// ONNX IR version written (ONNX 1.13+ readers; onnxruntime 1.14+).
const IR_VERSION: i64 = 8;
/// Default-domain opset: HardSwish needs 14, Resize's empty `roi` input 13.
const OPSET: i64 = 17;
/// `TensorProto.DataType.FLOAT`.
const FLOAT: i32 = 1;
/// `AttributeProto.AttributeType` values.
const ATTR_STRING: i32 = 3;
const ATTR_INT: i32 = 2;
const ATTR_INTS: i32 = 7;

#[derive(Clone, PartialEq, prost::Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    domain: String,
    #[prost(int64, tag = "2")]
    version: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(bytes = "vec", tag = "4")]
    s: Vec<u8>,
    #[prost(int64, repeated, packed = "false", tag = "8")]
    ints: Vec<i64>,
    #[prost(int32, tag = "20")]
    r#type: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorProto {
    #[prost(int64, repeated, packed = "false", tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(string, tag = "8")]
    name: String,
    /// Little-endian values.
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TypeProto {
    /// The `tensor_type` member of the `value` oneof.
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Dimension {
    /// The `dim_value` member of the `value` oneof.
    #[prost(int64, tag = "1")]
    dim_value: i64,
}

fn ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.iter().map(|&x| x as i64).collect(),
        r#type: ATTR_INTS,
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: v,
        r#type: ATTR_INT,
        ..Default::default()
    }
}

fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: v.as_bytes().to_vec(),
        r#type: ATTR_STRING,
        ..Default::default()
    }
}

fn value_info(name: &str, shape: &[usize]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto {
                    dim: shape
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: d as i64,
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

/// The graph under construction.
struct Builder {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    /// Whether a Clip (RELU6) uses the `zero` and `six` constants.
    clip: bool,
}

impl Builder {
    fn constant(&mut self, name: String, shape: &[usize], data: impl IntoIterator<Item = f32>) {
        let raw_data: Vec<u8> = data.into_iter().flat_map(f32::to_le_bytes).collect();
        self.inits.push(TensorProto {
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            name,
            raw_data,
        });
    }

    fn node(&mut self, op: &str, name: String, inputs: &[&str], attrs: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.clone()],
            name,
            op_type: op.into(),
            attribute: attrs,
        });
    }

    /// Writes `out` as the fused activation `act` of `raw` (nothing when `act` is none: the
    /// producer then wrote `out` itself, see [`Builder::target`]).
    fn finish(&mut self, raw: &str, act: Activation, out: String) {
        match act {
            Activation::None => {}
            Activation::Relu => self.node("Relu", out, &[raw], vec![]),
            Activation::Relu6 => self.relu6(raw, out),
        }
    }

    fn relu6(&mut self, x: &str, out: String) {
        self.clip = true;
        self.node("Clip", out, &[x, "zero", "six"], vec![]);
    }

    /// The name a producer followed by `act` writes: `out` itself when there is no activation.
    fn target(raw: &str, act: Activation, out: &str) -> String {
        if act == Activation::None {
            out.to_string()
        } else {
            raw.to_string()
        }
    }
}

/// Reorders TFLite `[O, kh, kw, I]` weights to `[O, I, kh, kw]` (ONNX Conv), or to
/// `[I, O, kh, kw]` (ONNX ConvTranspose) when `transposed`.
fn reorder(data: &[f32], s: &[usize], transposed: bool) -> Vec<f32> {
    let (o, kh, kw, i) = (s[0], s[1], s[2], s[3]);
    let mut out = vec![0f32; data.len()];
    for oo in 0..o {
        for y in 0..kh {
            for x in 0..kw {
                for ii in 0..i {
                    let src = ((oo * kh + y) * kw + x) * i + ii;
                    let dst = if transposed {
                        ((ii * o + oo) * kh + y) * kw + x
                    } else {
                        ((oo * i + ii) * kh + y) * kw + x
                    };
                    out[dst] = data[src];
                }
            }
        }
    }
    out
}

/// Pads `[top, left, bottom, right]` of a convolution.
fn conv_pads(
    in_hw: [usize; 2],
    k: [usize; 2],
    stride: [usize; 2],
    dil: [usize; 2],
    p: Padding,
) -> Vec<usize> {
    match p {
        Padding::Valid => vec![0; 4],
        Padding::Same => {
            let (t, b) = same_padding(in_hw[0], k[0], stride[0], dil[0]);
            let (l, r) = same_padding(in_hw[1], k[1], stride[1], dil[1]);
            vec![t, l, b, r]
        }
    }
}

/// The ONNX model (serialised `ModelProto`) of `net` for an `h x w` input: input `input`
/// `[1, h, w, 3]` (NHWC, as the TFLite model), output `output` `[1, h, w, C]`.
pub(crate) fn encode(net: &Network, h: usize, w: usize) -> Result<Vec<u8>, MlError> {
    let shapes = net.shapes_for(h, w)?;
    let t = |id: TensorId| format!("t{id}");
    let mut b = Builder {
        nodes: Vec::with_capacity(net.nodes.len() * 2 + 2),
        inits: Vec::with_capacity(net.nodes.len() * 2 + 2),
        clip: false,
    };
    b.node(
        "Transpose",
        t(net.input),
        &["input"],
        vec![ints("perm", &[0, 3, 1, 2])],
    );
    for (ix, node) in net.nodes.iter().enumerate() {
        let out = t(node.out);
        let raw = format!("{out}.raw");
        match &node.op {
            Op::Conv {
                x,
                weights,
                bias,
                stride,
                dilation,
                padding,
                act,
            }
            | Op::Depthwise {
                x,
                weights,
                bias,
                stride,
                dilation,
                padding,
                act,
                ..
            } => {
                let s = &weights.shape;
                let [ih, iw, ic] = shapes[*x];
                let (kernel, group, shape) = if matches!(node.op, Op::Depthwise { .. }) {
                    // [1, kh, kw, C] reordered as a transposed kernel is [C, 1, kh, kw]:
                    // ONNX's grouped layout [O, I / group, kh, kw] with group = C.
                    let k = reorder(&weights.data, s, true);
                    (k, ic, [s[3], 1, s[1], s[2]])
                } else {
                    (
                        reorder(&weights.data, s, false),
                        1,
                        [s[0], s[3], s[1], s[2]],
                    )
                };
                let (wn, bn) = (format!("w{ix}"), format!("b{ix}"));
                b.constant(wn.clone(), &shape, kernel);
                b.constant(bn.clone(), &[shape[0]], bias.iter().copied());
                let pads = conv_pads([ih, iw], [s[1], s[2]], *stride, *dilation, *padding);
                let attrs = vec![
                    ints("kernel_shape", &[s[1], s[2]]),
                    ints("strides", stride),
                    ints("dilations", dilation),
                    ints("pads", &pads),
                    int("group", group as i64),
                ];
                let name = Builder::target(&raw, *act, &out);
                b.node("Conv", name, &[&t(*x), &wn, &bn], attrs);
                b.finish(&raw, *act, out);
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
                let pads = match padding {
                    Padding::Valid => vec![0; 4],
                    Padding::Same => {
                        let (tp, bp) = transpose_same_padding(ih, s[1], stride[0], oh);
                        let (lp, rp) = transpose_same_padding(iw, s[2], stride[1], ow);
                        vec![tp, lp, bp, rp]
                    }
                };
                let (wn, bn) = (format!("w{ix}"), format!("b{ix}"));
                b.constant(
                    wn.clone(),
                    &[s[3], s[0], s[1], s[2]],
                    reorder(&weights.data, s, true),
                );
                b.constant(bn.clone(), &[s[0]], bias.iter().copied());
                let attrs = vec![
                    ints("kernel_shape", &[s[1], s[2]]),
                    ints("strides", stride),
                    ints("pads", &pads),
                ];
                b.node("ConvTranspose", out, &[&t(*x), &wn, &bn], attrs);
            }
            Op::HardSwish { x } => b.node("HardSwish", out, &[&t(*x)], vec![]),
            Op::Relu { x } => b.node("Relu", out, &[&t(*x)], vec![]),
            Op::Relu6 { x } => b.relu6(&t(*x), out),
            Op::Logistic { x } => b.node("Sigmoid", out, &[&t(*x)], vec![]),
            Op::Add { a, b: bb, act } | Op::Mul { a, b: bb, act } => {
                let op = if matches!(node.op, Op::Add { .. }) {
                    "Add"
                } else {
                    "Mul"
                };
                let name = Builder::target(&raw, *act, &out);
                b.node(op, name, &[&t(*a), &t(*bb)], vec![]);
                b.finish(&raw, *act, out);
            }
            Op::GlobalMean { x } => b.node("GlobalAveragePool", out, &[&t(*x)], vec![]),
            Op::ResizeBilinear { x, scale, coords } => {
                let sn = format!("s{ix}");
                b.constant(
                    sn.clone(),
                    &[4],
                    [1.0, 1.0, scale[0] as f32, scale[1] as f32],
                );
                let ct = match coords {
                    ResizeCoords::HalfPixel => "half_pixel",
                    ResizeCoords::AlignCorners => "align_corners",
                    ResizeCoords::Asymmetric => "asymmetric",
                };
                let attrs = vec![
                    string("mode", "linear"),
                    string("coordinate_transformation_mode", ct),
                ];
                b.node("Resize", out, &[&t(*x), "", &sn], attrs);
            }
        }
    }
    b.node(
        "Transpose",
        "output".into(),
        &[&t(net.output)],
        vec![ints("perm", &[0, 2, 3, 1])],
    );
    if b.clip {
        b.constant("zero".into(), &[], [0.0]);
        b.constant("six".into(), &[], [6.0]);
    }
    let [oh, ow, oc] = shapes[net.output];
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "together-mode".into(),
        graph: Some(GraphProto {
            node: b.nodes,
            name: "selfie_segmentation".into(),
            initializer: b.inits,
            input: vec![value_info("input", &[1, h, w, 3])],
            output: vec![value_info("output", &[1, oh, ow, oc])],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    };
    Ok(prost::Message::encode_to_vec(&model))
}
