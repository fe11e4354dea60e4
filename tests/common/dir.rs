//! Temporary folders for tests ([`tempfile`]): [`TestDir`], removed on drop, and [`tmpdir`],
//! kept after the test.
//!
//! Shared by the integration tests (`mod common`) and the library's unit tests
//! (`#[path = "../tests/common/dir.rs"]` in src/lib.rs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fresh, empty temporary folder whose name starts with `tm-{suite}-{name}-`, kept after the
/// test (for looking at what a CLI run wrote); [`TestDir`] is the one removed on drop.
pub fn tmpdir(suite: &str, name: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("tm-{suite}-{name}-"))
        .tempdir()
        .unwrap()
        .keep()
}

/// Whether the folder `path` holds nothing.
pub fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).unwrap().next().is_none()
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
        is_empty_dir(self.path())
    }
}
