//! The onnxruntime backend (feature `ml-ort`): the network as an in-memory ONNX model
//! ([`super::onnx`]) run by ONNX Runtime through `ort`, which loads the shared library at run
//! time (`load-dynamic`; the PyPI onnxruntime wheel ships `libonnxruntime.so.1.31.1`).
//!
//! One session per plan, one intra-op thread, no inter-op threads: the compositor already
//! runs seats in parallel.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::session::Session;
use ort::value::TensorRef;

use super::tflite::Network;
use super::MlError;

/// The environment variable naming the onnxruntime shared library (ort's own).
pub(crate) const DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// The process's ONNX Runtime environment and the library it came from, once loaded.
static RUNTIME: Mutex<Option<(Environment, PathBuf)>> = Mutex::new(None);

/// Loads the onnxruntime shared library (once per process; later calls return the library
/// already loaded). `path`: the library; `None` takes [`DYLIB_ENV`].
pub(crate) fn load(path: Option<&Path>) -> Result<PathBuf, MlError> {
    let mut rt = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, loaded)) = rt.as_ref() {
        return Ok(loaded.clone());
    }
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os(DYLIB_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => return Err(MlError::OrtLibraryUnset),
        },
    };
    // ort resolves relative paths against the executable's folder and panics when it cannot
    // find the executable: hand it an absolute path.
    let path = std::path::absolute(&path).map_err(|e| MlError::OrtLibrary {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if !path.is_file() {
        return Err(MlError::OrtLibrary {
            path,
            reason: "no such file".into(),
        });
    }
    let env = ort::init_from(&path)
        .map_err(|e| MlError::OrtLibrary {
            path: path.clone(),
            reason: e.to_string(),
        })?
        .with_name("together-mode")
        .build()
        .map_err(MlError::tract)?;
    *rt = Some((env, path.clone()));
    Ok(path)
}

fn environment() -> Result<Environment, MlError> {
    load(None)?;
    let rt = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    rt.as_ref()
        .map(|(env, _)| env.clone())
        .ok_or(MlError::OrtLibraryUnset)
}

/// An onnxruntime session for one input size.
#[derive(Debug)]
pub(crate) struct OrtPlan {
    session: Session,
    /// The serialised ONNX model (for forks).
    onnx: Arc<[u8]>,
    /// Weights prepacked for the kernels, shared by the forks' sessions: 49 seats keep one
    /// copy hot in cache instead of 49.
    prepacked: PrepackedWeights,
    height: usize,
    width: usize,
}

impl OrtPlan {
    /// Builds the ONNX model for an `h x w` input and a session for it.
    pub(crate) fn new(net: &Network, h: usize, w: usize) -> Result<Self, MlError> {
        let onnx: Arc<[u8]> = super::onnx::encode(net, h, w)?.into();
        let env = environment()?;
        Self::from_onnx(&env, onnx, PrepackedWeights::new(), h, w)
    }

    fn from_onnx(
        env: &Environment,
        onnx: Arc<[u8]>,
        prepacked: PrepackedWeights,
        h: usize,
        w: usize,
    ) -> Result<Self, MlError> {
        let session = Session::builder(env)
            .map_err(MlError::tract)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(MlError::tract)?
            .with_intra_threads(1)
            .map_err(MlError::tract)?
            .with_inter_threads(1)
            .map_err(MlError::tract)?
            .with_parallel_execution(false)
            .map_err(MlError::tract)?
            .with_prepacked_weights(&prepacked)
            .map_err(MlError::tract)?
            .commit_from_memory(&onnx)
            .map_err(MlError::tract)?;
        Ok(OrtPlan {
            session,
            onnx,
            prepacked,
            height: h,
            width: w,
        })
    }

    /// A new session on the same model.
    pub(crate) fn fork(&self) -> Result<Self, MlError> {
        Self::from_onnx(
            &environment()?,
            Arc::clone(&self.onnx),
            self.prepacked.clone(),
            self.height,
            self.width,
        )
    }

    /// Runs on `input` (NHWC RGB in [0, 1], `h * w * 3` values) and writes the output into
    /// `out`.
    pub(crate) fn run(&mut self, input: &[f32], out: &mut [f32]) -> Result<(), MlError> {
        let t = TensorRef::from_array_view(([1usize, self.height, self.width, 3], input))
            .map_err(MlError::tract)?;
        let outputs = self.session.run(ort::inputs![t]).map_err(MlError::tract)?;
        let value = outputs.get("output").ok_or(MlError::Graph("no output"))?;
        let (_, data) = value.try_extract_tensor::<f32>().map_err(MlError::tract)?;
        if data.len() != out.len() {
            return Err(MlError::Graph("output size"));
        }
        out.copy_from_slice(data);
        Ok(())
    }
}
