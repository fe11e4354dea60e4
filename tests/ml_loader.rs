//! The `ml` model loader on hostile .tflite files built here, byte by byte, with the TFLite
//! flatbuffer schema: each is refused with a typed error, never a panic, and costs memory in
//! proportion to the file, not to how often the file refers to its own parts. Found by the
//! `ml_model` fuzz target and by reading the loader against it (RELIABILITY.md).
//!
//! Needs no model download: every file is made by the test (feature `ml`).
#![cfg(feature = "ml")]

use flatbuffers::FlatBufferBuilder;
use together_mode::segment::ml::{MlError, SelfieModel};
use tract_tflite::tflite;

mod common;
use common::alloc::allocated_by;

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

// ---------------------------------------------------------------------------------------------
// A tiny .tflite writer.

/// A tensor of the file: shape, element type, buffer index (0: none), name.
struct T<'n> {
    shape: Vec<i32>,
    ty: tflite::TensorType,
    buffer: u32,
    name: &'n str,
}

fn act<'n>(shape: &[i32], name: &'n str) -> T<'n> {
    T {
        shape: shape.to_vec(),
        ty: tflite::TensorType::FLOAT32,
        buffer: 0,
        name,
    }
}

/// An operator: code index, inputs, outputs, and (for CONV_2D) its options.
struct O {
    code: u32,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    conv: bool,
}

/// A model with one subgraph. `buffers[0]` is the empty sentinel, added here; tensor buffer
/// indices count from 1 for `buffers`.
fn model(
    codes: &[tflite::BuiltinOperator],
    buffers: &[Vec<u8>],
    tensors: &[T],
    ops: &[O],
    input: i32,
    output: i32,
) -> Vec<u8> {
    let mut b = FlatBufferBuilder::new();
    let mut bufs = vec![tflite::Buffer::create(&mut b, &Default::default())];
    for data in buffers {
        let data = b.create_vector(data);
        bufs.push(tflite::Buffer::create(
            &mut b,
            &tflite::BufferArgs { data: Some(data) },
        ));
    }
    let bufs = b.create_vector(&bufs);
    // Shared strings and shapes are created once, as a writer that deduplicates would.
    let mut names = std::collections::HashMap::new();
    let mut shapes = std::collections::HashMap::new();
    let mut ts = Vec::new();
    for t in tensors {
        let name = *names
            .entry(t.name)
            .or_insert_with(|| b.create_string(t.name));
        let shape = *shapes
            .entry(t.shape.clone())
            .or_insert_with(|| b.create_vector(&t.shape));
        ts.push(tflite::Tensor::create(
            &mut b,
            &tflite::TensorArgs {
                shape: Some(shape),
                type_: t.ty,
                buffer: t.buffer,
                name: Some(name),
                ..Default::default()
            },
        ));
    }
    let ts = b.create_vector(&ts);
    let mut os = Vec::new();
    for o in ops {
        let inputs = b.create_vector(&o.inputs);
        let outputs = b.create_vector(&o.outputs);
        let (options_type, options) = if o.conv {
            let c = tflite::Conv2DOptions::create(
                &mut b,
                &tflite::Conv2DOptionsArgs {
                    padding: tflite::Padding::SAME,
                    stride_w: 1,
                    stride_h: 1,
                    dilation_w_factor: 1,
                    dilation_h_factor: 1,
                    ..Default::default()
                },
            );
            (
                tflite::BuiltinOptions::Conv2DOptions,
                Some(c.as_union_value()),
            )
        } else {
            (tflite::BuiltinOptions::NONE, None)
        };
        os.push(tflite::Operator::create(
            &mut b,
            &tflite::OperatorArgs {
                opcode_index: o.code,
                inputs: Some(inputs),
                outputs: Some(outputs),
                builtin_options_type: options_type,
                builtin_options: options,
                ..Default::default()
            },
        ));
    }
    let os = b.create_vector(&os);
    let ins = b.create_vector(&[input]);
    let outs = b.create_vector(&[output]);
    let graph = tflite::SubGraph::create(
        &mut b,
        &tflite::SubGraphArgs {
            tensors: Some(ts),
            inputs: Some(ins),
            outputs: Some(outs),
            operators: Some(os),
            name: None,
        },
    );
    let graphs = b.create_vector(&[graph]);
    let cs: Vec<_> = codes
        .iter()
        .map(|&c| {
            tflite::OperatorCode::create(
                &mut b,
                &tflite::OperatorCodeArgs {
                    builtin_code: c,
                    deprecated_builtin_code: c.0.min(127) as i8,
                    version: 1,
                    custom_code: None,
                },
            )
        })
        .collect();
    let cs = b.create_vector(&cs);
    let m = tflite::Model::create(
        &mut b,
        &tflite::ModelArgs {
            version: 3,
            operator_codes: Some(cs),
            subgraphs: Some(graphs),
            buffers: Some(bufs),
            ..Default::default()
        },
    );
    tflite::finish_model_buffer(&mut b, m);
    b.finished_data().to_vec()
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A 1x1 convolution from RGB to one channel: the smallest model the loader accepts.
fn conv_model(h: i32, w: i32) -> Vec<u8> {
    let tensors = [
        act(&[1, h, w, 3], "input"),
        T {
            shape: vec![1, 1, 1, 3],
            ty: tflite::TensorType::FLOAT32,
            buffer: 1,
            name: "kernel",
        },
        T {
            shape: vec![1],
            ty: tflite::TensorType::FLOAT32,
            buffer: 2,
            name: "bias",
        },
        act(&[1, h, w, 1], "output"),
    ];
    let ops = [O {
        code: 0,
        inputs: vec![0, 1, 2],
        outputs: vec![3],
        conv: true,
    }];
    model(
        &[tflite::BuiltinOperator::CONV_2D],
        &[f32_bytes(&[0.25, 0.5, 0.25]), f32_bytes(&[0.0])],
        &tensors,
        &ops,
        0,
        3,
    )
}

#[test]
fn the_writer_makes_models_the_loader_accepts_and_runs() {
    let m = SelfieModel::from_bytes(&conv_model(16, 32)).expect("a valid model");
    assert_eq!(m.native_size(), (32, 16));
    assert_eq!(m.op_count(), 1);
    let mut r = m.runner(32, 32).expect("a plan");
    r.input_mut().fill(0.8);
    let out = r.run().expect("runs");
    assert_eq!(out.len(), 32 * 32);
    assert!(
        out.iter().all(|&v| (v - 0.8).abs() < 1e-5),
        "{:?}",
        &out[..4]
    );
}

/// A well-formed model for another task: RGB in, one channel out, but at twice the input's
/// size (a mask of the input is what a selfie model gives; a face detector's boxes, a
/// classifier's scores or an upscaler's image are not). Refused as `NotSelfieModel`, and only
/// after every structural check (the files of the tests below still get their own errors).
#[test]
fn a_model_for_another_task_is_refused() {
    let tensors = [
        act(&[1, 4, 4, 3], "input"),
        T {
            shape: vec![1, 1, 1, 3],
            ty: tflite::TensorType::FLOAT32,
            buffer: 1,
            name: "kernel",
        },
        T {
            shape: vec![1],
            ty: tflite::TensorType::FLOAT32,
            buffer: 2,
            name: "bias",
        },
        act(&[1, 4, 4, 1], "gray"),
        T {
            shape: vec![2],
            ty: tflite::TensorType::INT32,
            buffer: 3,
            name: "size",
        },
        act(&[1, 8, 8, 1], "upscaled"),
    ];
    let ops = [
        O {
            code: 0,
            inputs: vec![0, 1, 2],
            outputs: vec![3],
            conv: true,
        },
        O {
            code: 1,
            inputs: vec![3, 4],
            outputs: vec![5],
            conv: false,
        },
    ];
    let size: Vec<u8> = [8i32, 8].iter().flat_map(|v| v.to_le_bytes()).collect();
    let bytes = model(
        &[
            tflite::BuiltinOperator::CONV_2D,
            tflite::BuiltinOperator::RESIZE_BILINEAR,
        ],
        &[f32_bytes(&[0.25, 0.5, 0.25]), f32_bytes(&[0.0]), size],
        &tensors,
        &ops,
        0,
        5,
    );
    match SelfieModel::from_bytes(&bytes) {
        Err(e @ MlError::NotSelfieModel { .. }) => {
            assert!(matches!(
                e,
                MlError::NotSelfieModel {
                    input: (4, 4),
                    output: (8, 8)
                }
            ));
            assert!(
                e.to_string().contains("not a selfie segmentation model"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The same graph ending at the one-channel map of the input's size loads.
    let same = model(
        &[tflite::BuiltinOperator::CONV_2D],
        &[f32_bytes(&[0.25, 0.5, 0.25]), f32_bytes(&[0.0])],
        &tensors[..4],
        &ops[..1],
        0,
        3,
    );
    assert!(SelfieModel::from_bytes(&same).is_ok());
}

/// RESIZE_BILINEAR of an activation whose declared height is 0: the integer factor was
/// computed as `size % 0` (a panic) before the declared shapes were checked.
#[test]
fn a_resize_of_a_zero_sized_tensor_is_refused() {
    for shape in [[1, 0, 4, 3], [1, 4, 0, 3]] {
        let tensors = [
            act(&[1, 4, 4, 3], "input"),
            act(&shape, "relu"),
            T {
                shape: vec![2],
                ty: tflite::TensorType::INT32,
                buffer: 1,
                name: "size",
            },
            act(&[1, 8, 8, 3], "resized"),
        ];
        let ops = [
            O {
                code: 0,
                inputs: vec![0],
                outputs: vec![1],
                conv: false,
            },
            O {
                code: 1,
                inputs: vec![1, 2],
                outputs: vec![3],
                conv: false,
            },
        ];
        let size: Vec<u8> = [8i32, 8].iter().flat_map(|v| v.to_le_bytes()).collect();
        let bytes = model(
            &[
                tflite::BuiltinOperator::RELU,
                tflite::BuiltinOperator::RESIZE_BILINEAR,
            ],
            &[size],
            &tensors,
            &ops,
            0,
            3,
        );
        match SelfieModel::from_bytes(&bytes) {
            Err(MlError::Graph(what)) => assert_eq!(what, "resize input shape"),
            other => panic!("{shape:?}: {other:?}"),
        }
    }
}

/// Thousands of tensors naming one constant buffer: each used to get its own decoded copy
/// (here 2,000 x 256 KB = 512 MB from a file of 300 KB); now the buffer is decoded once.
#[test]
fn many_tensors_on_one_buffer_share_one_decoded_copy() {
    const VALUES: usize = 64 * 1024;
    const COPIES: usize = 2000;
    let mut tensors = vec![
        act(&[1, 4, 4, 3], "input"),
        T {
            shape: vec![1, 1, 1, 3],
            ty: tflite::TensorType::FLOAT32,
            buffer: 1,
            name: "kernel",
        },
        T {
            shape: vec![1],
            ty: tflite::TensorType::FLOAT32,
            buffer: 2,
            name: "bias",
        },
        act(&[1, 4, 4, 1], "output"),
    ];
    for _ in 0..COPIES {
        tensors.push(T {
            shape: vec![64, (VALUES / 64) as i32],
            ty: tflite::TensorType::FLOAT32,
            buffer: 3,
            name: "unused",
        });
    }
    let ops = [O {
        code: 0,
        inputs: vec![0, 1, 2],
        outputs: vec![3],
        conv: true,
    }];
    let bytes = model(
        &[tflite::BuiltinOperator::CONV_2D],
        &[
            f32_bytes(&[0.25, 0.5, 0.25]),
            f32_bytes(&[0.0]),
            f32_bytes(&vec![1.0; VALUES]),
        ],
        &tensors,
        &ops,
        0,
        3,
    );
    let (loaded, bytes_allocated) = allocated_by(|| SelfieModel::from_bytes(&bytes));
    loaded.expect("the model is valid; the extra tensors are unused constants");
    eprintln!(
        "file {} bytes, loader allocated {bytes_allocated} bytes",
        bytes.len()
    );
    assert!(
        bytes_allocated < 4 * bytes.len(),
        "{bytes_allocated} bytes allocated for a file of {}",
        bytes.len()
    );
}

/// A shape vector of a huge rank, which many tensors could share: refused by its rank before
/// anything copies it.
#[test]
fn huge_ranks_are_refused() {
    // A 100,000-rank shape of ones (1 element).
    let ones = vec![1; 100_000];
    let tensors = [act(&[1, 4, 4, 3], "input"), act(&ones, "deep")];
    let ops = [O {
        code: 0,
        inputs: vec![0],
        outputs: vec![1],
        conv: false,
    }];
    let bytes = model(&[tflite::BuiltinOperator::RELU], &[], &tensors, &ops, 0, 1);
    match SelfieModel::from_bytes(&bytes) {
        Err(MlError::Graph(what)) => assert_eq!(what, "tensor rank"),
        other => panic!("{other:?}"),
    }
}

/// 1,000 RELUs whose outputs all carry the same 64 KB name (one string in the file): the
/// loader keeps a short prefix per node (it copied all of it, 64 MB).
#[test]
fn long_shared_names_are_cut() {
    let long = "n".repeat(64 * 1024);
    let mut tensors = vec![act(&[1, 4, 4, 3], "input")];
    let mut ops = Vec::new();
    for i in 0..1000 {
        tensors.push(act(&[1, 4, 4, 3], &long));
        ops.push(O {
            code: 0,
            inputs: vec![i],
            outputs: vec![i + 1],
            conv: false,
        });
    }
    let bytes = model(
        &[tflite::BuiltinOperator::RELU],
        &[],
        &tensors,
        &ops,
        0,
        1000,
    );
    let (loaded, bytes_allocated) = allocated_by(|| SelfieModel::from_bytes(&bytes));
    // Three output channels: refused at the very end, after every node was built.
    match loaded {
        Err(MlError::Unsupported { what, .. }) => assert_eq!(what, "output channels"),
        other => panic!("{other:?}"),
    }
    assert!(
        bytes_allocated < 8 * 1024 * 1024,
        "{bytes_allocated} bytes allocated for a file of {}",
        bytes.len()
    );
}

/// The flatbuffer verifier's message spans several lines (the fault, then the path to it);
/// the error formats to one line, as every error of the library does (the CLI prints it after
/// `error: `).
#[test]
fn flatbuffer_errors_format_to_one_line() {
    let good = conv_model(16, 16);
    let mut bad_offset = good.clone();
    bad_offset[0] = 0xff; // the root table offset points past the end
    for bytes in [&[][..], &good[..good.len() / 2], &bad_offset[..]] {
        match SelfieModel::from_bytes(bytes) {
            Err(e @ MlError::Flatbuffer(_)) => {
                let text = e.to_string();
                assert!(!text.contains('\n'), "{text:?}");
                assert!(
                    text.starts_with("not a valid TFLite flatbuffer: "),
                    "{text}"
                );
            }
            other => panic!("{} bytes: {other:?}", bytes.len()),
        }
    }
}

/// A model file over the size cap is refused from its length, before anything is read; a
/// device that never ends stops at the cap (it was read whole into memory, without end).
#[test]
fn model_files_over_the_cap_are_refused() {
    use together_mode::segment::ml::MAX_MODEL_FILE_BYTES;
    let dir = common::TestDir::new("ml-loader");
    let big = dir.join("big.tflite");
    // Sparse: no disk space, no memory.
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(MAX_MODEL_FILE_BYTES + 1).unwrap();
    drop(f);
    let (loaded, bytes_allocated) = allocated_by(|| SelfieModel::from_file(&big));
    drop(dir);
    match loaded {
        Err(MlError::FileTooLarge { path, limit }) => {
            assert_eq!((path, limit), (big, MAX_MODEL_FILE_BYTES));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        bytes_allocated < 1 << 20,
        "{bytes_allocated} bytes allocated"
    );
    // An endless device: read up to the cap, then refused.
    let zero = std::path::Path::new("/dev/zero");
    if zero.exists() {
        match SelfieModel::from_file(zero) {
            Err(MlError::FileTooLarge { limit, .. }) => assert_eq!(limit, MAX_MODEL_FILE_BYTES),
            other => panic!("{other:?}"),
        }
    }
}
