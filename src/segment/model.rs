//! Where the selfie model comes from: finding MediaPipe's selfie segmentation model on disk.
//!
//! The library never touches the network and never starts a process: it only looks, in this
//! order, and takes the first place that is set or holds a file:
//!
//! 1. an explicit path (`SegmenterConfig::model`, the CLI's `--model`, the element's
//!    `model-path`);
//! 2. the file the environment variable [`MODEL_ENV`] (`TOGETHER_MODE_MODEL`) names;
//! 3. the per-user cache: `<cache dir>/together-mode/selfie_segmentation-<version>.tflite`
//!    (`dirs::cache_dir()`: `$XDG_CACHE_HOME` or `~/.cache` on Linux), where the CLI fetches
//!    the model the first time it needs it;
//! 4. `models/selfie_segmentation.tflite` in the repository the crate was built from (where
//!    `scripts/fetch-model.sh` puts it), or in the folder [`MODELS_DIR_ENV`]
//!    (`TOGETHER_MODE_MODELS_DIR`) names.
//!
//! A path that is named (1, 2) is used and only it: when it does not exist the search fails
//! rather than quietly using another file. The copies in the cache and in `models/` (3, 4) must
//! be the pinned file, byte for byte ([`MODEL_SHA256`]); a named file may be any selfie
//! model, and is checked when it is loaded (a flatbuffer the loader can map, one RGB input, a
//! one-channel map at the input's size: a model for another task, such as MediaPipe's face
//! detector, is refused). Nothing found: [`ModelError::Missing`] lists every place looked.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The npm package that ships the model (`npm pack` fetches it; `scripts/fetch-model.sh`).
pub const MODEL_PACKAGE: &str = "@mediapipe/selfie_segmentation";
/// The package's pinned version.
pub const MODEL_VERSION: &str = "0.1.1675465747";
/// SHA-256 of the package's tarball (`npm pack` output), lowercase hex.
pub const TARBALL_SHA256: &str = "7767b33eaa68990ee06c28bbb89f39a13a47ebb07ff0f1fd4947d9e817bb9bf9";
/// The model's path inside the tarball.
pub const TARBALL_MODEL_PATH: &str = "package/selfie_segmentation.tflite";
/// The model's file name in `models/`.
pub const MODEL_FILE: &str = "selfie_segmentation.tflite";
/// SHA-256 of the model file (the general, 256x256 model), lowercase hex.
pub const MODEL_SHA256: &str = "8d13b7fae74af625c641226813616a2117bd6bca19eb3b75574621fc08557f27";
/// The model's size in bytes: a file of another length is not the pinned model (checked
/// before hashing, so a huge file is not read).
pub const MODEL_BYTES: u64 = 249_024;
/// Environment variable naming a model file to use.
pub const MODEL_ENV: &str = "TOGETHER_MODE_MODEL";
/// Environment variable naming the folder used instead of the repository's `models/`.
pub const MODELS_DIR_ENV: &str = "TOGETHER_MODE_MODELS_DIR";

/// The cache file's name: the package version in it, so a new pin never reads an old file.
pub fn cache_file_name() -> String {
    format!("selfie_segmentation-{MODEL_VERSION}.tflite")
}

/// Which kind of place a model path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelSource {
    /// Given explicitly (`--model`, `model-path`, `SegmenterConfig::model`).
    Explicit,
    /// The file [`MODEL_ENV`] names.
    Env,
    /// The per-user cache.
    Cache,
    /// `models/` in the repository (or [`MODELS_DIR_ENV`]).
    Repository,
}

impl ModelSource {
    /// Whether a file from here must be the pinned model ([`MODEL_SHA256`]).
    pub fn pinned(self) -> bool {
        matches!(self, ModelSource::Cache | ModelSource::Repository)
    }
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelSource::Explicit => "given path",
            ModelSource::Env => MODEL_ENV,
            ModelSource::Cache => "user cache",
            ModelSource::Repository => "models/",
        })
    }
}

/// One place the search looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPlace {
    /// What kind of place.
    pub source: ModelSource,
    /// The file.
    pub path: PathBuf,
}

impl fmt::Display for ModelPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.source)
    }
}

/// The places listed in [`ModelError::Missing`], `a, b, c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Looked(pub Vec<ModelPlace>);

impl fmt::Display for Looked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nowhere (no cache directory, no models/ folder)");
        }
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Why no usable model was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// No place held the model.
    #[error("the selfie model was not found; looked at: {looked} (get it with scripts/fetch-model.sh, or name the file: --model, model-path, TOGETHER_MODE_MODEL)")]
    Missing {
        /// Every place looked at, in order.
        looked: Looked,
    },
    /// A file in the cache or in `models/` is not the pinned model (truncated, damaged or
    /// another version).
    #[error("{path} is not the pinned selfie model (sha256 {found}, want {expected}); delete it and fetch it again (scripts/fetch-model.sh)")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The pinned SHA-256 ([`MODEL_SHA256`]).
        expected: &'static str,
        /// The file's SHA-256 (`-` when it was refused by its length unread).
        found: String,
    },
    /// The file could not be read.
    #[error("cannot read the selfie model {path}: {kind}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The kind of I/O error.
        kind: std::io::ErrorKind,
    },
    /// The file is not a selfie model the loader can use (malformed, truncated, another
    /// task).
    #[cfg(feature = "ml")]
    #[error("cannot load the selfie model {path}")]
    Load {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: super::ml::MlError,
    },
}

/// Where to look for the model; [`ModelSearch::from_env`] fills it from the environment as the
/// library does by default. Plain data: tests and embedders may set each place themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelSearch {
    /// A file named explicitly.
    pub explicit: Option<PathBuf>,
    /// The file [`MODEL_ENV`] names.
    pub env: Option<PathBuf>,
    /// The per-user cache folder for this crate (`<cache dir>/together-mode`).
    pub cache_dir: Option<PathBuf>,
    /// The folder of `models/` ([`MODELS_DIR_ENV`], else the repository's `models/`).
    pub models_dir: Option<PathBuf>,
}

/// The repository's `models/` folder (the crate's source folder at build time).
pub fn repository_models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// The per-user cache folder for this crate, `<cache dir>/together-mode`, if the platform has
/// a cache directory.
pub fn user_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("together-mode"))
}

impl ModelSearch {
    /// The search the library makes: `explicit`, then [`MODEL_ENV`], the user cache,
    /// [`MODELS_DIR_ENV`] or the repository's `models/`. Empty environment variables count as
    /// unset.
    pub fn from_env(explicit: Option<PathBuf>) -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            explicit,
            env: var(MODEL_ENV),
            cache_dir: user_cache_dir(),
            models_dir: Some(var(MODELS_DIR_ENV).unwrap_or_else(repository_models_dir)),
        }
    }

    /// The model's path in the cache folder (where the CLI fetches it to).
    pub fn cache_file(&self) -> Option<PathBuf> {
        self.cache_dir.as_ref().map(|d| d.join(cache_file_name()))
    }

    /// The places in search order: only the explicit file when one is named, else only the
    /// [`MODEL_ENV`] file when set, else the cache file and `models/`.
    pub fn places(&self) -> Vec<ModelPlace> {
        let place = |source, path: &PathBuf| ModelPlace {
            source,
            path: path.clone(),
        };
        if let Some(p) = &self.explicit {
            return vec![place(ModelSource::Explicit, p)];
        }
        if let Some(p) = &self.env {
            return vec![place(ModelSource::Env, p)];
        }
        let mut places = Vec::new();
        if let Some(p) = self.cache_file() {
            places.push(place(ModelSource::Cache, &p));
        }
        if let Some(d) = &self.models_dir {
            places.push(place(ModelSource::Repository, &d.join(MODEL_FILE)));
        }
        places
    }

    /// The first place that holds a file, checked against the pin when it is a cache or
    /// `models/` copy. Does not parse the model (see [`load`](Self::load)).
    pub fn find(&self) -> Result<ModelPlace, ModelError> {
        let places = self.places();
        for place in &places {
            if !place.path.exists() {
                continue;
            }
            if place.source.pinned() {
                verify_pinned(&place.path)?;
            }
            return Ok(place.clone());
        }
        Err(ModelError::Missing {
            looked: Looked(places),
        })
    }

    /// Finds the model and loads it.
    #[cfg(feature = "ml")]
    pub fn load(&self) -> Result<(ModelPlace, super::ml::SelfieModel), ModelError> {
        let place = self.find()?;
        let model =
            super::ml::SelfieModel::from_file(&place.path).map_err(|source| ModelError::Load {
                path: place.path.clone(),
                source,
            })?;
        Ok((place, model))
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Checks that `path` is the pinned model ([`MODEL_BYTES`] long, SHA-256 [`MODEL_SHA256`]).
pub fn verify_pinned(path: &Path) -> Result<(), ModelError> {
    let io = |e: std::io::Error| ModelError::Io {
        path: path.to_path_buf(),
        kind: e.kind(),
    };
    let mismatch = |found: String| ModelError::Checksum {
        path: path.to_path_buf(),
        expected: MODEL_SHA256,
        found,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() != MODEL_BYTES {
        return Err(mismatch("-".into()));
    }
    let mut hasher = Sha256::new();
    let mut buf = [0u8; 16 * 1024];
    let mut reader = file.take(MODEL_BYTES + 1);
    loop {
        let n = reader.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let found = hex(&hasher.finalize());
    if found != MODEL_SHA256 {
        return Err(mismatch(found));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_file_is_the_only_place_looked() {
        let s = ModelSearch {
            explicit: Some("/a/m.tflite".into()),
            env: Some("/b/m.tflite".into()),
            cache_dir: Some("/c".into()),
            models_dir: Some("/d".into()),
        };
        assert_eq!(s.places().len(), 1);
        assert_eq!(s.places()[0].source, ModelSource::Explicit);
        let s = ModelSearch {
            explicit: None,
            ..s
        };
        assert_eq!(s.places()[0].source, ModelSource::Env);
        assert_eq!(s.places().len(), 1);
        let s = ModelSearch { env: None, ..s };
        let places = s.places();
        assert_eq!(
            places,
            vec![
                ModelPlace {
                    source: ModelSource::Cache,
                    path: PathBuf::from("/c").join(cache_file_name()),
                },
                ModelPlace {
                    source: ModelSource::Repository,
                    path: PathBuf::from("/d").join(MODEL_FILE),
                },
            ]
        );
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
