//! Loading the onnxruntime library for the `ort` backend (feature `ml-ort`): a missing or
//! broken library is a typed error, not a panic. Its own test binary (one process), because
//! the library, once loaded, stays loaded for the process.
#![cfg(feature = "ml-ort")]

use std::path::Path;

use together_mode::segment::ml::{load_onnxruntime, Backend, GraphRewrite, MlError, SelfieModel};

#[test]
fn missing_or_broken_library_is_an_error_then_the_real_one_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let missing = root.join("models/no-such-libonnxruntime.so");
    match load_onnxruntime(Some(&missing)) {
        Err(MlError::OrtLibrary { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected OrtLibrary, got {other:?}"),
    }
    // A file that is not a shared library: dlopen refuses it.
    let not_a_library = root.join("Cargo.toml");
    assert!(matches!(
        load_onnxruntime(Some(&not_a_library)),
        Err(MlError::OrtLibrary { .. })
    ));
    // The real one (CI and scripts/ml-setup.sh set ORT_DYLIB_PATH).
    let lib = std::env::var_os("ORT_DYLIB_PATH")
        .expect("ORT_DYLIB_PATH is not set: run scripts/ml-setup.sh, export the path it prints");
    let loaded = load_onnxruntime(Some(Path::new(&lib))).expect("onnxruntime loads");
    assert!(loaded.is_absolute());
    // Loaded once: a later call keeps the library it has.
    assert_eq!(load_onnxruntime(Some(&missing)).unwrap(), loaded);
    let model = root.join("models/selfie_segmentation.tflite");
    let m = SelfieModel::from_file(&model).expect("run scripts/ml-setup.sh");
    let mut r = m
        .runner_on(Backend::Ort, 64, 64, GraphRewrite::Faithful)
        .unwrap();
    assert_eq!(r.run().unwrap().len(), 64 * 64);
    assert!(matches!(
        m.runner_on(Backend::Ort, 40, 40, GraphRewrite::Faithful),
        Err(MlError::InputSize { .. })
    ));
}
