//! Helpers shared by the integration tests (each test crate uses some of them).
#![allow(dead_code)]

use std::path::PathBuf;

/// The `together` binary of this package (cargo builds it for the integration tests when the
/// feature `cli` is on).
#[cfg(feature = "cli")]
pub fn together() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_together"))
}

/// A fresh, empty temporary folder `tm-{suite}-{name}-{pid}`.
pub fn tmpdir(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tm-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
