//! The `ml` model loader on arbitrary bytes (a .tflite flatbuffer from outside): never
//! panics, allocates within its limits, and a model it accepts is one a plan can be built for
//! and run on, or refused with a typed error.
//!
//! Seeds: the real models, truncated and mutated (`fuzz/seed-ml.sh` writes them into
//! `corpus/ml_model`; the models themselves are fetched, never committed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use together_mode::segment::ml::{MlError, SelfieModel};

/// Plan and run accepted models only at this small size: tract's optimiser costs ~0.1 s per
/// plan natively, more under ASan, and the size does not change what the loader checked.
const SIDE: usize = 32;

fuzz_target!(|data: &[u8]| {
    let model = match SelfieModel::from_bytes(data) {
        Ok(m) => m,
        Err(e) => {
            // Typed, and formats to one line.
            assert!(!e.to_string().contains('\n'), "{e}");
            return;
        }
    };
    let (w, h) = model.native_size();
    assert!(w >= 1 && h >= 1);
    assert!(model.op_count() >= 1);
    // A plan: either built (and then it runs and yields a probability per pixel) or refused.
    let mut runner = match model.runner(SIDE, SIDE) {
        Ok(r) => r,
        Err(MlError::InputSize { .. } | MlError::Runtime(_) | MlError::Graph(_)) => return,
        Err(e) => panic!("unexpected error planning an accepted model: {e}"),
    };
    runner.input_mut().fill(0.5);
    if let Ok(out) = runner.run() {
        assert_eq!(out.len(), SIDE * SIDE);
    }
});
