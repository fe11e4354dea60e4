//! From settings to segmenters: [`SegmenterConfig`] (a [`SegmentMode`], the selfie model's
//! file, its [`Backend`] and scheduler budget) builds the [`SegmenterFactory`] a compositor
//! uses. The CLI, the scenario runner and the GStreamer element all go through it, so this is
//! the one place that knows which builds have the ML segmenter (cargo feature `ml`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::model::{ModelError, ModelSearch};
use super::{SegmentMode, SegmentModeError, SegmenterFactory};

/// What runs the selfie model's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// tract, in pure Rust (always available with the feature `ml`).
    #[default]
    Tract,
    /// The project's own kernels for this network family, in pure Rust (NHWC f32, AVX2/FMA
    /// where the CPU has them; always available with the feature `ml`).
    Native,
    /// ONNX Runtime through `ort` (cargo feature `ml-ort`; the shared library is loaded at run
    /// time, see `segment::ml::load_onnxruntime`).
    Ort,
}

impl Backend {
    /// Every backend, in CLI order.
    pub const ALL: [Backend; 3] = [Backend::Tract, Backend::Native, Backend::Ort];

    /// The CLI and property name (`tract`, `native`, `ort`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Tract => "tract",
            Backend::Native => "native",
            Backend::Ort => "ort",
        }
    }

    /// Whether this build has the backend (tract needs the feature `ml`, ort `ml-ort`).
    pub fn available(self) -> bool {
        match self {
            Backend::Tract | Backend::Native => cfg!(feature = "ml"),
            Backend::Ort => cfg!(feature = "ml-ort"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = BackendError;

    /// `tract`, `native`, or `ort` (also spelled `onnxruntime`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tract" => Ok(Backend::Tract),
            "native" => Ok(Backend::Native),
            "ort" | "onnxruntime" => Ok(Backend::Ort),
            _ => Err(BackendError {
                found: s.to_string(),
            }),
        }
    }
}

/// A backend name that is not `tract`, `native` or `ort`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend {found:?} (tract, native or ort)")]
pub struct BackendError {
    /// What was asked for.
    pub found: String,
}

/// How seats are segmented: the mode and, for `ml` and `auto`, the selfie model and how it
/// runs.
///
/// `ml` runs the selfie model; `auto` runs it for inputs without alpha (see
/// [`SegmentMode::Auto`]). The model is [`model`](Self::model) when set, else the first one
/// the search finds ([`search`](Self::search), by default [`ModelSearch::from_env`]: see
/// [`super::model`]); none found is an error of [`factory`](Self::factory). The other modes
/// ignore the model settings. All seats of one factory share one model and one scheduler
/// (`segment::ml::MlShared`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmenterConfig {
    /// Which segmenter.
    pub mode: SegmentMode,
    /// The selfie model's `.tflite` file, for `ml` and `auto`: used, and only it, when set.
    /// Relative paths are relative to the process's working directory.
    pub model: Option<PathBuf>,
    /// Where to look for the model when [`model`](Self::model) is unset; `None`: the
    /// library's search, [`ModelSearch::from_env`].
    pub search: Option<ModelSearch>,
    /// What runs the model.
    pub backend: Backend,
    /// The onnxruntime shared library for [`Backend::Ort`]; `None`: the file
    /// `ORT_DYLIB_PATH` names.
    pub ort_lib: Option<PathBuf>,
    /// CPU milliseconds per tick and per thread the ML segmentation of all seats may take;
    /// `None`: the scheduler's default (`ScheduleOptions::budget_ms`).
    pub budget_ms: Option<f64>,
    /// Threads the seats are segmented on (the budget is per thread); `None`: the
    /// scheduler's default (`ScheduleOptions::threads`, rayon's pool). A serial compositor
    /// says 1.
    pub threads: Option<usize>,
    /// Longer side of the network's input; `None`: the scheduler's default
    /// (`ScheduleOptions::max_input_side`).
    pub max_input_side: Option<usize>,
}

/// Why a [`SegmenterConfig`] could not make its segmenters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SegmenterConfigError {
    /// The configuration needs the selfie model (`ml` or `auto`), but this build has no ML
    /// segmenter (the cargo feature `ml`, in the default features).
    #[error("segment mode {mode} needs the selfie model, and this build has no ML segmenter (cargo feature `ml`); choose another mode, e.g. alpha")]
    MlNotBuilt {
        /// The mode asked for.
        mode: SegmentMode,
    },
    /// No usable model: not found (with every place looked at), not the pinned file, or not
    /// loadable.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The backend could not be set up (ort: not in this build, or its library failed to
    /// load).
    #[cfg(feature = "ml")]
    #[error("backend {backend}")]
    Backend {
        /// The backend asked for.
        backend: Backend,
        /// Why.
        #[source]
        source: super::ml::MlError,
    },
    /// The mode refused the segmenters it was given.
    #[error(transparent)]
    Mode(#[from] SegmentModeError),
}

/// The selfie model [`SegmenterConfig::factory_cached`] loaded last, with its path, so that
/// rebuilding the segmenters for the same file does not read and parse it again (empty in
/// builds without the feature `ml`).
#[derive(Debug, Clone, Default)]
pub struct ModelCache {
    #[cfg(feature = "ml")]
    last: Option<(PathBuf, super::ml::SelfieModel)>,
}

impl SegmenterConfig {
    /// `mode` with no model, the default backend and budget.
    pub fn new(mode: SegmentMode) -> Self {
        Self {
            mode,
            ..Self::default()
        }
    }

    /// With the selfie model's file.
    pub fn with_model(mut self, path: impl Into<PathBuf>) -> Self {
        self.model = Some(path.into());
        self
    }

    /// With where to look for the model when no file is named.
    pub fn with_search(mut self, search: ModelSearch) -> Self {
        self.search = Some(search);
        self
    }

    /// The search for the model these settings make: [`model`](Self::model) if set, then
    /// [`search`](Self::search) or the library's default.
    pub fn model_search(&self) -> ModelSearch {
        let mut search = self
            .search
            .clone()
            .unwrap_or_else(|| ModelSearch::from_env(None));
        if self.model.is_some() {
            search.explicit = self.model.clone();
        }
        search
    }

    /// With a backend.
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// With the onnxruntime library for [`Backend::Ort`].
    pub fn with_ort_lib(mut self, path: impl Into<PathBuf>) -> Self {
        self.ort_lib = Some(path.into());
        self
    }

    /// With a CPU budget per tick and per thread for the ML segmentation of all seats.
    pub fn with_budget_ms(mut self, budget_ms: f64) -> Self {
        self.budget_ms = Some(budget_ms);
        self
    }

    /// With the number of threads the seats are segmented on (at least 1).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// With the longer side of the network's input.
    pub fn with_max_input_side(mut self, side: usize) -> Self {
        self.max_input_side = Some(side);
        self
    }

    /// Whether this build has the ML segmenter (cargo feature `ml`).
    pub const fn ml_available() -> bool {
        cfg!(feature = "ml")
    }

    /// Whether these settings run the selfie model: `ml` and `auto`.
    pub fn uses_model(&self) -> bool {
        self.mode.uses_model()
    }

    /// The segmenters (loads the model for `ml` and `auto`).
    pub fn factory(&self) -> Result<SegmenterFactory, SegmenterConfigError> {
        self.factory_cached(&mut ModelCache::default())
    }

    /// The segmenters, taking the model from `cache` when it was loaded from the same path
    /// before (and remembering it there otherwise).
    pub fn factory_cached(
        &self,
        cache: &mut ModelCache,
    ) -> Result<SegmenterFactory, SegmenterConfigError> {
        let ml = self.ml_factory(cache)?;
        Ok(self.mode.factory(ml)?)
    }

    /// The ML segmenters' factory when the settings use the model.
    #[cfg(feature = "ml")]
    fn ml_factory(
        &self,
        cache: &mut ModelCache,
    ) -> Result<Option<SegmenterFactory>, SegmenterConfigError> {
        Ok(self.ml_shared(cache)?.map(|shared| shared.factory()))
    }

    /// Without the feature `ml`: settings that need the model are refused.
    #[cfg(not(feature = "ml"))]
    fn ml_factory(
        &self,
        _cache: &mut ModelCache,
    ) -> Result<Option<SegmenterFactory>, SegmenterConfigError> {
        if self.uses_model() {
            return Err(SegmenterConfigError::MlNotBuilt { mode: self.mode });
        }
        Ok(None)
    }

    /// The scheduler the ML segmenters of these settings share (its
    /// [`stats`](super::ml::MlShared::stats) count the network runs), or `None` when the
    /// settings do not use the model. Its [`factory`](super::ml::MlShared::factory) is the
    /// `ml` mode's factory.
    #[cfg(feature = "ml")]
    pub fn ml_shared(
        &self,
        cache: &mut ModelCache,
    ) -> Result<Option<std::sync::Arc<super::ml::MlShared>>, SegmenterConfigError> {
        use super::ml::{load_onnxruntime, MlShared, ScheduleOptions, SelfieModel};
        if !self.uses_model() {
            return Ok(None);
        }
        let place = self.model_search().find()?;
        let path = &place.path;
        if self.backend == Backend::Ort {
            load_onnxruntime(self.ort_lib.as_deref()).map_err(|source| {
                SegmenterConfigError::Backend {
                    backend: self.backend,
                    source,
                }
            })?;
        }
        let model = match &cache.last {
            Some((cached, model)) if cached == path => model.clone(),
            _ => {
                let model = SelfieModel::from_file(path).map_err(|source| ModelError::Load {
                    path: path.clone(),
                    source,
                })?;
                cache.last = Some((path.clone(), model.clone()));
                model
            }
        };
        let mut options = ScheduleOptions {
            backend: self.backend,
            ..ScheduleOptions::default()
        };
        if let Some(budget) = self.budget_ms {
            options.budget_ms = budget;
        }
        if let Some(side) = self.max_input_side {
            options.max_input_side = side;
        }
        if let Some(threads) = self.threads {
            options.threads = threads.max(1);
        }
        Ok(Some(MlShared::new(model, options)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_round_trip_through_their_names() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>(), Ok(b));
            assert_eq!(b.to_string(), b.name());
        }
        assert_eq!("onnxruntime".parse::<Backend>(), Ok(Backend::Ort));
        assert_eq!(
            "cuda".parse::<Backend>(),
            Err(BackendError {
                found: "cuda".into()
            })
        );
    }

    #[test]
    fn modes_without_the_model_ignore_its_settings() {
        for mode in SegmentMode::ALL {
            if mode.uses_model() {
                continue;
            }
            let config = SegmenterConfig::new(mode)
                .with_backend(Backend::Ort)
                .with_ort_lib("/nonexistent/libonnxruntime.so");
            assert!(!config.uses_model(), "{mode}");
            assert!(config.factory().is_ok(), "{mode}");
        }
    }

    /// A search that finds nothing (no file is named, the folders are empty).
    fn nowhere() -> (std::path::PathBuf, ModelSearch) {
        let dir = std::env::temp_dir().join(format!("tm-config-{}", std::process::id()));
        let search = ModelSearch {
            cache_dir: Some(dir.join("cache")),
            models_dir: Some(dir.join("models")),
            ..ModelSearch::default()
        };
        (dir, search)
    }

    #[test]
    fn ml_and_auto_need_a_model_and_the_feature() {
        let (_, search) = nowhere();
        for mode in [SegmentMode::Ml, SegmentMode::Auto] {
            let config = SegmenterConfig::new(mode).with_search(search.clone());
            assert!(config.uses_model());
            let err = config.factory().err();
            if SegmenterConfig::ml_available() {
                match err {
                    Some(SegmenterConfigError::Model(ModelError::Missing { looked })) => {
                        assert_eq!(looked.0, search.places(), "{mode}");
                        let text = looked.to_string();
                        assert!(text.contains("cache") && text.contains("models"), "{text}");
                    }
                    other => panic!("{mode}: {other:?}"),
                }
            } else {
                assert!(
                    matches!(err, Some(SegmenterConfigError::MlNotBuilt { mode: m }) if m == mode),
                    "{err:?}"
                );
            }
        }
        let named = SegmenterConfig::new(SegmentMode::Auto)
            .with_search(search)
            .with_model("/nonexistent.tflite");
        let err = named.factory().err();
        if SegmenterConfig::ml_available() {
            assert!(err.is_some_and(|e| e.to_string().contains("/nonexistent.tflite")));
        } else {
            assert!(matches!(
                err,
                Some(SegmenterConfigError::MlNotBuilt {
                    mode: SegmentMode::Auto
                })
            ));
        }
    }
}
