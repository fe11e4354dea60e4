//! ML person segmentation (feature `ml`): MediaPipe's selfie segmentation model (Apache-2.0),
//! read from its `.tflite` file and run in pure Rust.
//!
//! [`SelfieModel::from_file`] reads the flatbuffer, folds the fp16 constants to f32 and maps
//! each op to a tract op (modules `tflite` and `tract_engine`); [`SelfieModel::runner`] builds an
//! optimised plan for one input size (the network is fully convolutional: any size that is a
//! multiple of 16 works, 256x256 and 256x144 are the two models' native sizes).
//! `scripts/fetch-model.sh` fetches the models, pinned by version and SHA-256.
//!
//! Two backends run the graph ([`Backend`]): tract (pure Rust, the default) and, with the
//! feature `ml-ort`, onnxruntime through `ort` (the same graph as an in-memory ONNX model; the
//! shared library is loaded at run time from `ORT_DYLIB_PATH` or [`load_onnxruntime`]).
//!
//! [`MlSegmenter`] is the per-seat [`Segmenter`](super::Segmenter); the seats of one
//! compositor share one [`MlShared`]: the model, and a scheduler that runs the network at a
//! reduced, staggered rate under a CPU budget and tracks the last matte between runs.

pub mod fidelity;
mod native;
#[cfg(feature = "ml-ort")]
mod onnx;
#[cfg(feature = "ml-ort")]
mod ort_engine;
mod resample;
mod schedule;
mod tflite;
mod tract_engine;
mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use resample::{prob_to_matte, rgb8_to_input, yuv420_to_input, Yuv420Resampler};
pub use schedule::{MlSegmenter, MlShared, NetworkMask, ScheduleOptions, ScheduleStats};
pub use tract_engine::GraphRewrite;

pub use super::Backend;

/// Errors of loading or running the model.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// The model file could not be read.
    #[error("cannot read model {path}: {kind}")]
    Io {
        /// The model file.
        path: PathBuf,
        /// The kind of I/O error.
        kind: std::io::ErrorKind,
    },
    /// The model file is larger than [`MAX_MODEL_FILE_BYTES`] (refused from its length, or
    /// when reading passes the limit: pipes, devices, growing files).
    #[error("model file {path} is over {limit} bytes")]
    FileTooLarge {
        /// The model file.
        path: PathBuf,
        /// Most bytes a model file may have ([`MAX_MODEL_FILE_BYTES`]).
        limit: u64,
    },
    /// The file is not a valid TFLite flatbuffer. The verifier's report is in the message
    /// (on one line) and not also given as the error's source, so it prints once.
    #[error("not a valid TFLite flatbuffer: {}", one_line(.0))]
    Flatbuffer(flatbuffers::InvalidFlatbuffer),
    /// A required table or field is absent.
    #[error("model file lacks {0}")]
    Missing(&'static str),
    /// Indices, shapes or lengths in the file are inconsistent.
    #[error("malformed model graph: {0}")]
    Graph(&'static str),
    /// A construct this loader does not map (the selfie models use none of them).
    #[error("unsupported {what}: {detail}")]
    Unsupported {
        /// The kind of construct, e.g. `operator` or `input shape`.
        what: &'static str,
        /// What the file has there (a count, a type or a tensor name).
        detail: String,
    },
    /// A well-formed model for another task: its output is not a one-channel map at its
    /// input's size, as a selfie segmentation model's mask is.
    #[error("not a selfie segmentation model: its output is {}x{}, not a mask of its {}x{} input", output.0, output.1, input.0, input.1)]
    NotSelfieModel {
        /// The input size the file declares, (width, height).
        input: (usize, usize),
        /// The output's size at that input, (width, height).
        output: (usize, usize),
    },
    /// The network cannot run at this input size (must be positive; multiples of 16 fit the
    /// selfie models' skip connections).
    #[error("the model cannot run on a {width}x{height} input")]
    InputSize {
        /// Width of the network input asked for, in pixels.
        width: usize,
        /// Height of the network input asked for, in pixels.
        height: usize,
    },
    /// A buffer of the wrong length was passed.
    #[error("buffer holds {found} values, expected {expected}")]
    BufferSize {
        /// Values the buffer should hold.
        expected: usize,
        /// Values it holds.
        found: usize,
    },
    /// The participant's frame could not be converted to I420 for the network.
    #[error("cannot convert the participant's frame for the network")]
    Frame(#[source] crate::error::FrameError),
    /// The inference engine (tract or onnxruntime) refused the graph or failed to run it; its
    /// message.
    #[error("inference engine: {0}")]
    Runtime(Arc<str>),
    /// The backend was asked for but this build does not have it (`Backend::Ort` needs the
    /// cargo feature `ml-ort`).
    #[error("the {0:?} backend is not in this build (cargo feature `ml-ort`)")]
    BackendUnavailable(Backend),
    /// The onnxruntime backend was asked for but no library was named: set `ORT_DYLIB_PATH`
    /// (or call [`load_onnxruntime`]) to the path of `libonnxruntime.so`.
    #[error("no onnxruntime library: set ORT_DYLIB_PATH to libonnxruntime.so (scripts/ml-setup.sh installs one)")]
    OrtLibraryUnset,
    /// The onnxruntime library could not be loaded (missing, not a library, or an ONNX Runtime
    /// older than the one `ort` needs).
    #[error("cannot load onnxruntime from {path}: {reason}")]
    OrtLibrary {
        /// The library file.
        path: PathBuf,
        /// Why it did not load.
        reason: String,
    },
}

/// Loads the onnxruntime shared library for [`Backend::Ort`], once per process: `path`, or
/// when `None` the file `ORT_DYLIB_PATH` names. Returns the library in use (the first one
/// loaded: later calls do not replace it). Plans for [`Backend::Ort`] call this with `None`
/// when nothing was loaded yet.
pub fn load_onnxruntime(path: Option<&Path>) -> Result<PathBuf, MlError> {
    #[cfg(feature = "ml-ort")]
    {
        ort_engine::load(path)
    }
    #[cfg(not(feature = "ml-ort"))]
    {
        let _ = path;
        Err(MlError::BackendUnavailable(Backend::Ort))
    }
}

/// The verifier's message (several lines: the fault, then the path to it) as one line.
fn one_line(e: &flatbuffers::InvalidFlatbuffer) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A loaded selfie segmentation model (cheap to clone; share it across seats).
#[derive(Debug, Clone)]
pub struct SelfieModel {
    net: Arc<tflite::Network>,
}

/// Largest model file [`SelfieModel::from_file`] reads (the selfie models are 250 KB).
pub const MAX_MODEL_FILE_BYTES: u64 = 64 << 20;

impl SelfieModel {
    /// Reads a `.tflite` file (at most [`MAX_MODEL_FILE_BYTES`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, MlError> {
        use std::io::Read;
        let path = path.as_ref();
        let io = |e: std::io::Error| MlError::Io {
            path: path.to_path_buf(),
            kind: e.kind(),
        };
        let too_large = || MlError::FileTooLarge {
            path: path.to_path_buf(),
            limit: MAX_MODEL_FILE_BYTES,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() > MAX_MODEL_FILE_BYTES {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        file.take(MAX_MODEL_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_MODEL_FILE_BYTES {
            return Err(too_large());
        }
        Self::from_bytes(&bytes)
    }

    /// Parses the bytes of a `.tflite` file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MlError> {
        let net = tflite::parse(bytes)?;
        if net.output_channels != 1 {
            return Err(MlError::Unsupported {
                what: "output channels",
                detail: net.output_channels.to_string(),
            });
        }
        // Checked last, after every structural check: a well-formed network whose output is
        // not a mask of its input (a detector, a classifier) is a model for another task.
        if net.output_size != net.native {
            return Err(MlError::NotSelfieModel {
                input: (net.native[1], net.native[0]),
                output: (net.output_size[1], net.output_size[0]),
            });
        }
        Ok(SelfieModel { net: Arc::new(net) })
    }

    /// The input size the file declares, `(width, height)`.
    pub fn native_size(&self) -> (usize, usize) {
        (self.net.native[1], self.net.native[0])
    }

    /// Number of operators after folding constants.
    pub fn op_count(&self) -> usize {
        self.net.nodes.len()
    }

    /// Builds an optimised plan for a `width x height` input (~0.1 s; do it once per size).
    pub fn runner(&self, width: usize, height: usize) -> Result<ModelRunner, MlError> {
        self.runner_with(width, height, GraphRewrite::default())
    }

    /// [`runner`](Self::runner) with a choice of graph rewrite (for measurements).
    pub fn runner_with(
        &self,
        width: usize,
        height: usize,
        rewrite: GraphRewrite,
    ) -> Result<ModelRunner, MlError> {
        self.runner_on(Backend::Tract, width, height, rewrite)
    }

    /// A plan for a `width x height` input on `backend` (`rewrite` applies to tract only).
    pub fn runner_on(
        &self,
        backend: Backend,
        width: usize,
        height: usize,
        rewrite: GraphRewrite,
    ) -> Result<ModelRunner, MlError> {
        let plan = match backend {
            Backend::Native => Plan::Native(native::NativePlan::new(&self.net, height, width)?),
            Backend::Tract => Plan::Tract(tract_engine::TractPlan::new(
                &self.net, height, width, rewrite,
            )?),
            #[cfg(feature = "ml-ort")]
            Backend::Ort => Plan::Ort(ort_engine::OrtPlan::new(&self.net, height, width)?),
            #[cfg(not(feature = "ml-ort"))]
            Backend::Ort => return Err(MlError::BackendUnavailable(Backend::Ort)),
        };
        Ok(ModelRunner {
            plan,
            width,
            height,
            input: vec![0.0; width * height * 3],
            output: vec![0.0; width * height],
        })
    }

    /// The ONNX model (a serialised `ModelProto`) the onnxruntime backend runs for a
    /// `width x height` input: input `input` `[1, height, width, 3]` NHWC RGB in `[0, 1]`, output
    /// `output` `[1, height, width, 1]`. For comparisons with other ONNX runtimes.
    #[cfg(feature = "ml-ort")]
    pub fn to_onnx(&self, width: usize, height: usize) -> Result<Vec<u8>, MlError> {
        onnx::encode(&self.net, height, width)
    }
}

/// A plan on one backend.
#[derive(Debug)]
enum Plan {
    Native(native::NativePlan),
    Tract(tract_engine::TractPlan),
    #[cfg(feature = "ml-ort")]
    Ort(ort_engine::OrtPlan),
}

impl Plan {
    fn run(&mut self, input: &[f32], out: &mut [f32]) -> Result<(), MlError> {
        match self {
            Plan::Native(p) => p.run(input, out),
            Plan::Tract(p) => p.run(input, out),
            #[cfg(feature = "ml-ort")]
            Plan::Ort(p) => p.run(input, out),
        }
    }

    fn fork(&self) -> Result<Plan, MlError> {
        Ok(match self {
            Plan::Native(p) => Plan::Native(p.fork()),
            Plan::Tract(p) => Plan::Tract(p.fork()?),
            #[cfg(feature = "ml-ort")]
            Plan::Ort(p) => Plan::Ort(p.fork()?),
        })
    }

    fn backend(&self) -> Backend {
        match self {
            Plan::Native(_) => Backend::Native,
            Plan::Tract(_) => Backend::Tract,
            #[cfg(feature = "ml-ort")]
            Plan::Ort(_) => Backend::Ort,
        }
    }
}

/// The model, planned for one input size, with its input and output buffers.
#[derive(Debug)]
pub struct ModelRunner {
    plan: Plan,
    width: usize,
    height: usize,
    input: Vec<f32>,
    output: Vec<f32>,
}

impl ModelRunner {
    /// Input width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Input height.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The backend that runs it.
    pub fn backend(&self) -> Backend {
        self.plan.backend()
    }

    /// The input: NHWC RGB in `[0, 1]`, `width * height * 3` values.
    pub fn input_mut(&mut self) -> &mut [f32] {
        &mut self.input
    }

    /// Runs the network on the current input; returns the person probability map
    /// (`width * height` values in `[0, 1]`, row-major).
    pub fn run(&mut self) -> Result<&[f32], MlError> {
        self.plan.run(&self.input, &mut self.output)?;
        Ok(&self.output)
    }

    /// The same plan with its own state and buffers (no rebuild).
    pub fn fork(&self) -> Result<ModelRunner, MlError> {
        Ok(ModelRunner {
            plan: self.plan.fork()?,
            width: self.width,
            height: self.height,
            input: vec![0.0; self.input.len()],
            output: vec![0.0; self.output.len()],
        })
    }

    /// The output of the last [`run`](Self::run).
    pub fn output(&self) -> &[f32] {
        &self.output
    }
}

/// The model input size for a seat or image of `width x height`: the same aspect, scaled so
/// that the longer side is at most `max_side`, each side rounded to a multiple of 16 (at least
/// 32).
pub fn input_size_for(width: usize, height: usize, max_side: usize) -> (usize, usize) {
    let long = width.max(height).max(1) as f64;
    let scale = (max_side as f64 / long).min(1.0);
    let round = |v: usize| {
        let s = (v as f64 * scale / 16.0).round() as usize * 16;
        s.max(32)
    };
    (round(width), round(height))
}
