//! Helpers shared by the integration tests (each test crate uses some of them):
//! - [`together`]: the CLI binary;
//! - [`tmpdir`], [`TestDir`]: fresh temporary folders ([`tempfile`]);
//! - [`require_ffmpeg`]: whether FFmpeg can run (skips loudly outside CI, fails under `CI`);
//! - [`rng`]: the seeded generator for test data ([`fastrand`]);
//! - [`alloc`]: the counting global allocator of the memory tests;
//! - [`solid`]: a frame of one colour, in any pixel format;
//! - [`png`]: hand-built PNGs for hostile-input cases (headers that lie, missing chunks).
#![allow(dead_code)]

// A `GlobalAlloc` is an `unsafe impl`: it forwards every call to `System` (`SAFETY` comments
// inside); the workspace denies `unsafe_code` everywhere else in the tests.
#[allow(unsafe_code)]
pub mod alloc;
pub mod png;

use std::path::{Path, PathBuf};
use std::process::Command;

use together_mode::frame::{convert, Frame, PixelFormat};

/// The `together` binary of this package (cargo builds it for the integration tests when the
/// feature `cli` is on).
#[cfg(feature = "cli")]
pub fn together() -> Command {
    Command::new(env!("CARGO_BIN_EXE_together"))
}

/// A fresh, empty temporary folder whose name starts with `tm-{suite}-{name}-`, kept after the
/// test (for looking at what a CLI run wrote); [`TestDir`] is the one removed on drop.
pub fn tmpdir(suite: &str, name: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("tm-{suite}-{name}-"))
        .tempdir()
        .unwrap()
        .keep()
}

/// A fresh temporary folder (name starting `tm-{name}-`), removed with everything in it when
/// dropped.
pub struct TestDir(tempfile::TempDir);

impl TestDir {
    /// A new, empty folder.
    pub fn new(name: &str) -> Self {
        Self(
            tempfile::Builder::new()
                .prefix(&format!("tm-{name}-"))
                .tempdir()
                .unwrap(),
        )
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// `rel` inside the folder.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.0.path().join(rel)
    }

    /// Writes `bytes` to `rel` (creating parent folders) and returns its path.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Whether the folder holds nothing.
    pub fn is_empty(&self) -> bool {
        std::fs::read_dir(self.path()).unwrap().next().is_none()
    }
}

/// Whether FFmpeg runs here. Outside CI a missing FFmpeg skips the calling test with a loud
/// line; under `CI` (which `.ci/run` exports) it fails the test, so CI can never skip silently.
pub fn require_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "ffmpeg is required under CI (apt-get install ffmpeg)"
        );
        eprintln!("SKIPPED: ffmpeg not found (apt-get install ffmpeg)");
    }
    ok
}

/// A seeded generator for test data: the same seed gives the same sequence on every run.
pub fn rng(seed: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed)
}

/// `len` seeded pseudo-random bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut r = rng(seed);
    let mut v = vec![0u8; len];
    r.fill(&mut v);
    v
}

/// A `w x h` frame of one colour `[y, u, v]` (BT.601 limited) in `format`: made in I420 and
/// converted (opaque where the format has alpha).
pub fn solid(format: PixelFormat, w: u32, h: u32, [y, u, v]: [u8; 3]) -> Frame {
    let mut f = Frame::new(PixelFormat::I420, w, h).unwrap();
    {
        let mut m = f.as_mut();
        m.plane_mut(0).fill(y);
        m.plane_mut(1).fill(u);
        m.plane_mut(2).fill(v);
    }
    if format == PixelFormat::I420 {
        return f;
    }
    let mut out = Frame::new(format, w, h).unwrap();
    convert(&f.as_ref(), &mut out.as_mut()).unwrap();
    out
}
