//! ML person segmentation (feature `ml`): MediaPipe's selfie segmentation model (Apache-2.0),
//! read from its `.tflite` file and run in pure Rust.
//!
//! [`SelfieModel::from_file`] reads the flatbuffer, folds the fp16 constants to f32 and maps
//! each op to a tract op ([`tflite`] and [`tract_engine`]); [`SelfieModel::runner`] builds an
//! optimised plan for one input size (the network is fully convolutional: any size that is a
//! multiple of 16 works, 256x256 and 256x144 are the two models' native sizes).
//! `scripts/fetch-model.sh` fetches the models, pinned by version and SHA-256.
//!
//! [`MlSegmenter`] is the per-seat [`Segmenter`](super::Segmenter); the seats of one
//! compositor share one [`MlShared`]: the model, and a scheduler that runs the network at a
//! reduced, staggered rate under a CPU budget and tracks the last matte between runs.

mod resample;
mod schedule;
mod tflite;
mod tract_engine;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use resample::{prob_to_matte, rgb8_to_input, yuv420_to_input};
pub use schedule::{MlSegmenter, MlShared, ScheduleOptions, ScheduleStats};
pub use tract_engine::GraphRewrite;

/// Errors of loading or running the model.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// The model file could not be read.
    #[error("cannot read model {path}: {kind}")]
    Io {
        path: PathBuf,
        kind: std::io::ErrorKind,
    },
    /// The file is not a valid TFLite flatbuffer.
    #[error("not a valid TFLite flatbuffer: {0}")]
    Flatbuffer(#[from] flatbuffers::InvalidFlatbuffer),
    /// A required table or field is absent.
    #[error("model file lacks {0}")]
    Missing(&'static str),
    /// Indices, shapes or lengths in the file are inconsistent.
    #[error("malformed model graph: {0}")]
    Graph(&'static str),
    /// A construct this loader does not map (the selfie models use none of them).
    #[error("unsupported {what}: {detail}")]
    Unsupported { what: &'static str, detail: String },
    /// The network cannot run at this input size (must be positive; multiples of 16 fit the
    /// selfie models' skip connections).
    #[error("the model cannot run on a {width}x{height} input")]
    InputSize { width: usize, height: usize },
    /// A buffer of the wrong length was passed.
    #[error("buffer holds {found} values, expected {expected}")]
    BufferSize { expected: usize, found: usize },
    /// The inference engine (tract) refused the graph or failed to run it; its message.
    #[error("inference engine: {0}")]
    Runtime(Arc<str>),
}

/// A loaded selfie segmentation model (cheap to clone; share it across seats).
#[derive(Debug, Clone)]
pub struct SelfieModel {
    net: Arc<tflite::Network>,
}

impl SelfieModel {
    /// Reads a `.tflite` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, MlError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| MlError::Io {
            path: path.to_path_buf(),
            kind: e.kind(),
        })?;
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
        let plan = tract_engine::TractPlan::new(&self.net, height, width, rewrite)?;
        Ok(ModelRunner {
            plan,
            width,
            height,
            input: vec![0.0; width * height * 3],
            output: vec![0.0; width * height],
        })
    }
}

/// The model, planned for one input size, with its input and output buffers.
#[derive(Debug)]
pub struct ModelRunner {
    plan: tract_engine::TractPlan,
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
