//! The CLI and the selfie model (issue 15, parts 1 and 5): `render`'s default (`auto`) finds
//! the model, or fetches it once into the user cache with npm; where that cannot be done, one
//! error line says how to get it. Each run has its own cache (`XDG_CACHE_HOME`) and `models/`
//! (`TOGETHER_MODE_MODELS_DIR`), and its npm is `TOGETHER_MODE_NPM`.
#![cfg(all(feature = "cli", feature = "ml"))]

use std::path::{Path, PathBuf};
use std::process::Output;

use together_mode::segment::model::{cache_file_name, sha256_hex, MODEL_SHA256};

mod common;

/// A folder with an opaque PNG still, an empty `models/` and an empty cache home.
fn setup(name: &str) -> (common::TestDir, PathBuf) {
    let d = common::TestDir::new(name);
    std::fs::create_dir_all(d.join("models")).unwrap();
    std::fs::create_dir_all(d.join("cache")).unwrap();
    let still = d.join("still.png");
    image::RgbaImage::from_pixel(40, 30, image::Rgba([200, 150, 120, 255]))
        .save(&still)
        .unwrap();
    (d, still)
}

/// `together render` of `still` with the default segment mode, in `d`'s environment, with
/// `npm` as its npm command and `cache_home` as `XDG_CACHE_HOME`.
fn render(d: &Path, still: &Path, npm: &str, cache_home: &Path) -> Output {
    common::together()
        .args([
            "render",
            "--scene",
            "builtin:auditorium",
            "--input",
            &format!("a={}", still.display()),
            "--size",
            "320x180",
            "--out",
            d.join("out.y4m").to_str().unwrap(),
        ])
        .env_remove("TOGETHER_MODE_MODEL")
        .env("TOGETHER_MODE_MODELS_DIR", d.join("models"))
        .env("XDG_CACHE_HOME", cache_home)
        .env("TOGETHER_MODE_NPM", npm)
        .output()
        .unwrap()
}

/// The run failed with status 1, printed at most the fetch line and then one `error:` line
/// mentioning every one of `mentions`, and wrote no output.
fn failed(o: &Output, d: &Path, fetch_line: bool, mentions: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let want = if fetch_line { 2 } else { 1 };
    assert_eq!(lines.len(), want, "{err}");
    if fetch_line {
        assert!(lines[0].starts_with("fetching the selfie model"), "{err}");
    }
    let last = lines[want - 1];
    assert!(last.starts_with("error: "), "{err}");
    for m in mentions {
        assert!(last.contains(m), "{last:?} should mention {m:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!d.join("out.y4m").exists());
}

#[test]
fn a_failing_or_missing_npm_says_how_to_get_the_model() {
    let (d, still) = setup("cli-model-npm");
    for npm in ["/nonexistent/npm", "false"] {
        let o = render(d.path(), &still, npm, &d.join("cache"));
        failed(
            &o,
            d.path(),
            true,
            &["npm", "pack", "scripts/fetch-model.sh", "--model"],
        );
        // Nothing half-fetched is left in the cache.
        let cache = d.join("cache").join("together-mode");
        assert!(common::is_empty_dir(&cache), "{cache:?}");
    }
}

#[test]
fn an_unwritable_cache_is_one_error_line() {
    let (d, still) = setup("cli-model-unwritable");
    // The cache home is a file: no folder can be made in it (permissions would not stop
    // root).
    let file = d.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let o = render(d.path(), &still, "/nonexistent/npm", &file);
    failed(
        &o,
        d.path(),
        false,
        &["cannot write the model cache", "scripts/fetch-model.sh"],
    );
}

#[test]
fn a_tarball_that_is_not_the_pinned_one_is_refused() {
    let (d, still) = setup("cli-model-tarball");
    // An "npm" that packs some other tarball.
    let npm = d.join("fake-npm");
    std::fs::write(
        &npm,
        "#!/bin/sh\nprintf 'not the package' > mediapipe-selfie_segmentation-0.1.1675465747.tgz\n",
    )
    .unwrap();
    make_executable(&npm);
    let o = render(d.path(), &still, npm.to_str().unwrap(), &d.join("cache"));
    failed(
        &o,
        d.path(),
        true,
        &["tarball has sha256", &sha256_hex(b"not the package")],
    );
    assert!(common::is_empty_dir(&d.join("cache").join("together-mode")));
}

#[test]
fn a_damaged_model_in_models_is_refused_not_refetched() {
    let (d, still) = setup("cli-model-damaged");
    std::fs::write(
        d.join("models/selfie_segmentation.tflite"),
        b"TFL3 truncated",
    )
    .unwrap();
    let o = render(d.path(), &still, "/nonexistent/npm", &d.join("cache"));
    failed(&o, d.path(), false, &["not the pinned selfie model"]);
}

/// The real fetch, through npm's own client from the registry: once, then found in the cache.
/// Needs npm and the registry (skips loudly outside CI without npm).
#[test]
fn the_model_is_fetched_once_into_the_cache() {
    let npm_ok = std::process::Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !npm_ok {
        assert!(std::env::var_os("CI").is_none(), "npm is required under CI");
        eprintln!("SKIPPED: npm not found");
        return;
    }
    let (d, still) = setup("cli-model-fetch");
    let o = render(d.path(), &still, "npm", &d.join("cache"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let fetched: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("fetching the selfie model"))
        .collect();
    assert_eq!(fetched.len(), 1, "{err}");
    let cached = d
        .join("cache")
        .join("together-mode")
        .join(cache_file_name());
    assert!(
        fetched[0].contains(&d.join("cache").display().to_string()),
        "{err}"
    );
    assert_eq!(sha256_hex(&std::fs::read(&cached).unwrap()), MODEL_SHA256);
    // Only the model is left in the cache folder (no scratch files).
    assert_eq!(
        std::fs::read_dir(d.join("cache").join("together-mode"))
            .unwrap()
            .count(),
        1
    );
    // The second run finds it: no fetch (npm is now a command that fails).
    let o = render(d.path(), &still, "false", &d.join("cache"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("fetching"), "{err}");
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(not(unix))]
fn make_executable(_: &Path) {}
