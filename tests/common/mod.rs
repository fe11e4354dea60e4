//! Helpers shared by the integration tests (each test crate uses some of them):
//! - [`together`], [`together_fails`]: the CLI binary, and a run of it that must fail cleanly;
//! - [`tmpdir`], [`TestDir`], [`is_empty_dir`]: temporary folders ([`dir`]);
//! - [`require_ffmpeg`]: whether FFmpeg can run (skips loudly outside CI, fails under `CI`);
//!   [`ffmpeg`]: one FFmpeg run that must succeed;
//! - [`y4m_frames`]: the size and frame count of a Y4M stream;
//! - [`require_model`], [`require_files`]: the selfie model and ML references (skip loudly
//!   outside CI, fail under `CI`);
//! - [`rng`]: the seeded generator for test data ([`fastrand`]);
//! - [`alloc`]: the counting global allocator of the memory tests;
//! - [`solid`]: a frame of one colour, in any pixel format;
//! - [`png`]: hand-built PNGs for hostile-input cases (headers that lie, missing chunks);
//! - [`record`]: a segmenter that records the mattes another writes, and seat crops.
#![allow(dead_code)]

// A `GlobalAlloc` is an `unsafe impl`: it forwards every call to `System` (`SAFETY` comments
// inside); the workspace denies `unsafe_code` everywhere else in the tests.
#[allow(unsafe_code)]
pub mod alloc;
pub mod dir;
pub mod png;
pub mod record;

#[allow(unused_imports)] // each test crate uses some of them
pub use dir::{is_empty_dir, tmpdir, TestDir};

use std::process::Command;
#[cfg(feature = "cli")]
use std::process::Output;

use together_mode::frame::{convert, Frame, PixelFormat};
use together_mode::io::Y4mReader;

/// The `together` binary of this package (cargo builds it for the integration tests when the
/// feature `cli` is on). Its npm (`TOGETHER_MODE_NPM`) is a command that does not exist, so a
/// test never fetches the selfie model into the user's cache by accident; the tests of that
/// fetch set their own.
#[cfg(feature = "cli")]
pub fn together() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_together"));
    c.env("TOGETHER_MODE_NPM", "/nonexistent/together-mode-test-npm");
    c
}

/// Runs the `together` binary with `args` and checks that it failed cleanly: exit status 1
/// and exactly one line on stderr, starting with `error: ` and mentioning `mentions` (in any
/// case), and no panic. Returns the run's output for further checks.
#[cfg(feature = "cli")]
pub fn together_fails(args: &[&str], mentions: &str) -> Output {
    let out = together().args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    assert_eq!(out.status.code(), Some(1), "{args:?}: exit status");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line expected, got:\n{err}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {err}");
    assert!(
        lines[0].to_lowercase().contains(&mentions.to_lowercase()),
        "{args:?}: {err:?} should mention {mentions:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
    out
}

/// The width, height and frame count of the Y4M stream `bytes`.
pub fn y4m_frames(bytes: &[u8]) -> (u32, u32, usize) {
    let mut r = Y4mReader::new(std::io::Cursor::new(bytes)).unwrap();
    let (w, h) = (r.header().width, r.header().height);
    let mut n = 0;
    while r.read_frame().unwrap().is_some() {
        n += 1;
    }
    (w, h, n)
}

/// Runs FFmpeg quietly (`-nostdin -hide_banner -v error -y`, then `args`) and returns what it
/// wrote to stdout; fails the test with FFmpeg's stderr if it fails.
pub fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("running ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
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

/// Whether the selfie model is where the library looks for it (`TOGETHER_MODE_MODEL`, the user
/// cache, `models/`: `segment::model`), so that tests of the default segment mode (`auto`) can
/// build engines. Outside CI a missing model skips the calling test with a loud line; under
/// `CI` (which `.ci/run` exports, after `scripts/ml-setup.sh`) it fails the test.
#[cfg(feature = "ml")]
pub fn require_model() -> bool {
    match together_mode::segment::model::ModelSearch::from_env(None).find() {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the selfie model is required under CI: {e}"
            );
            eprintln!("SKIPPED: {e}");
            false
        }
    }
}

/// Whether every file of `paths` exists (the model and MediaPipe's references that
/// `scripts/ml-setup.sh` makes). Outside CI a missing file skips the calling test with a loud
/// line; under `CI` it fails the test.
pub fn require_files(paths: &[&std::path::Path]) -> bool {
    let needs: Vec<_> = paths.iter().map(|p| (*p, "scripts/ml-setup.sh")).collect();
    require_made(&needs)
}

/// [`require_files`] for files made by different set-up commands: each path with the command
/// that makes it (named in the skip line and the CI failure).
pub fn require_made(needs: &[(&std::path::Path, &str)]) -> bool {
    for (p, how) in needs {
        if !p.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is required under CI ({how} makes it)",
                p.display()
            );
            eprintln!("SKIPPED: {} is missing (run {how})", p.display());
            return false;
        }
    }
    true
}
