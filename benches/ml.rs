//! The ML segmenter (feature `ml`): one network run per input size, graph form and backend,
//! and one compositor tick of 49 seats under the shared scheduler. Needs scripts/ml-setup.sh.
//!
//! `cargo bench --features ml --bench ml`; with the onnxruntime cases:
//! `ORT_DYLIB_PATH="$(cat models/ort-dylib-path)" cargo bench --features ml-ort --bench ml`

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

use together_mode::frame::{ColorSpec, PlaneMut, PlaneRef};
use together_mode::segment::ml::{
    load_onnxruntime, Backend, GraphRewrite, MlShared, ScheduleOptions, SelfieModel,
};
use together_mode::segment::{SegmentInput, Segmenter};

fn model(name: &str) -> SelfieModel {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name);
    SelfieModel::from_file(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-model.sh)", path.display()))
}

/// A deterministic camera-like input: smooth gradients plus a bright ellipse.
fn fill_input(input: &mut [f32], w: usize, h: usize) {
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32 - 0.5, y as f32 / h as f32 - 0.6);
            let inside = fx * fx * 4.0 + fy * fy * 2.0 < 0.25;
            let base = if inside { 0.8 } else { 0.3 };
            for c in 0..3 {
                input[(y * w + x) * 3 + c] = base + 0.1 * ((x + 7 * c) as f32 * 0.05).sin();
            }
        }
    }
}

fn network(c: &mut Criterion) {
    let general = model("selfie_segmentation.tflite");
    let landscape = model("selfie_segmentation_landscape.tflite");
    let mut g = c.benchmark_group("ml_network");
    g.sample_size(20);
    let cases = [
        (
            "general_256x256_faithful",
            &general,
            256,
            256,
            GraphRewrite::Faithful,
        ),
        (
            "general_256x256_resize_as_deconv",
            &general,
            256,
            256,
            GraphRewrite::ResizeAsDeconv,
        ),
        (
            "general_192x192",
            &general,
            192,
            192,
            GraphRewrite::Faithful,
        ),
        (
            "general_160x160",
            &general,
            160,
            160,
            GraphRewrite::Faithful,
        ),
        (
            "landscape_256x144",
            &landscape,
            256,
            144,
            GraphRewrite::Faithful,
        ),
        (
            "landscape_160x96",
            &landscape,
            160,
            96,
            GraphRewrite::Faithful,
        ),
    ];
    for (name, m, w, h, rewrite) in cases {
        let mut runner = m.runner_with(w, h, rewrite).unwrap();
        fill_input(runner.input_mut(), w, h);
        g.bench_function(name, |b| b.iter(|| black_box(runner.run().unwrap()[0])));
    }
    if Backend::Ort.available() && load_onnxruntime(None).is_ok() {
        let ort_cases = [
            ("ort_general_256x256", &general, 256, 256),
            ("ort_general_256x144", &general, 256, 144),
            ("ort_general_160x96", &general, 160, 96),
            ("ort_landscape_256x144", &landscape, 256, 144),
        ];
        for (name, m, w, h) in ort_cases {
            let mut runner = m
                .runner_on(Backend::Ort, w, h, GraphRewrite::Faithful)
                .unwrap();
            fill_input(runner.input_mut(), w, h);
            g.bench_function(name, |b| b.iter(|| black_box(runner.run().unwrap()[0])));
        }
    }
    g.finish();
}

/// One tick of 49 seats of 274x154 (a 7x7 grid of 16:9 seats in 1920x1080; the same
/// frame each, slowly panning), all on this thread: what the shared scheduler costs per
/// output frame once warmed up, per backend and input size. After criterion's wall-clock
/// figure, each case also prints thread CPU ms per tick over 150 more ticks and the refresh
/// rate per seat at 30 fps. Every case is set up and measured even when criterion's filter
/// skips its timing; `ML_TICK=text` keeps only the cases whose name contains `text` (for
/// profiling one case).
fn tick(c: &mut Criterion) {
    let only = std::env::var("ML_TICK").unwrap_or_default();
    let (w, h, seats) = (274usize, 154usize, 49usize);
    let mut y = vec![0u8; w * h];
    let (u, v) = (vec![120u8; w * h / 4], vec![136u8; w * h / 4]);
    let mut g = c.benchmark_group("ml_tick_49_seats_274x154");
    g.sample_size(10);
    // (name, backend, model, max input side, refined). The landscape model is the one made
    // for 16:9 (256x144) inputs.
    const GENERAL: &str = "selfie_segmentation.tflite";
    const LANDSCAPE: &str = "selfie_segmentation_landscape.tflite";
    let mut cases = vec![
        (
            "tract_general_input256_refined",
            Backend::Tract,
            GENERAL,
            256,
            true,
        ),
        (
            "tract_landscape_input256_refined",
            Backend::Tract,
            LANDSCAPE,
            256,
            true,
        ),
    ];
    // The onnxruntime backend when this build has it and ORT_DYLIB_PATH names the library.
    if Backend::Ort.available() && load_onnxruntime(None).is_ok() {
        cases.push((
            "ort_general_input256_refined",
            Backend::Ort,
            GENERAL,
            256,
            true,
        ));
        cases.push((
            "ort_landscape_input256_refined",
            Backend::Ort,
            LANDSCAPE,
            256,
            true,
        ));
        cases.push((
            "ort_landscape_input256_raw",
            Backend::Ort,
            LANDSCAPE,
            256,
            false,
        ));
    } else {
        eprintln!("ml_tick: no ort cases (needs --features ml-ort and ORT_DYLIB_PATH)");
    }
    for (name, backend, file, max_input_side, refine) in cases {
        if !name.contains(only.as_str()) {
            continue;
        }
        let opts = ScheduleOptions {
            backend,
            max_input_side,
            refine: refine.then(Default::default),
            ..ScheduleOptions::default()
        };
        let shared = MlShared::new(model(file), opts);
        let mut segs: Vec<_> = (0..seats).map(|_| shared.segmenter()).collect();
        let mut mattes = vec![vec![0u8; w * h]; seats];
        let mut t = 0i64;
        let mut run_tick = |t: i64| {
            for (yy, row) in y.chunks_exact_mut(w).enumerate() {
                for (xx, p) in row.iter_mut().enumerate() {
                    let dx = xx as i64 - w as i64 / 2 - (t % 20);
                    let dy = yy as i64 - h as i64 * 3 / 5;
                    *p = if dx * dx * 3 + dy * dy * 4 < 3000 {
                        180
                    } else {
                        60
                    };
                }
            }
            for (s, m) in segs.iter_mut().zip(&mut mattes) {
                let input = SegmentInput {
                    y: PlaneRef::new(&y, w, h, w).unwrap(),
                    u: PlaneRef::new(&u, w / 2, h / 2, w / 2).unwrap(),
                    v: PlaneRef::new(&v, w / 2, h / 2, w / 2).unwrap(),
                    input_alpha: None,
                    participant: "p",
                    pts: t,
                    color: ColorSpec::BT601_LIMITED,
                    source: None,
                };
                let mut plane = PlaneMut::new(m, w, h, w).unwrap();
                black_box(s.segment(&input, &mut plane));
            }
        };
        // Warm up: first runs of every seat, and the cost estimate the period comes from.
        for _ in 0..60 {
            run_tick(t);
            t += 1;
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                run_tick(t);
                t += 1;
            })
        });
        let before = shared.stats();
        let ticks = 150;
        let start = cpu_time::ThreadTime::now();
        for _ in 0..ticks {
            run_tick(t);
            t += 1;
        }
        let cpu = start.elapsed().as_secs_f64() * 1e3 / f64::from(ticks);
        let s = shared.stats();
        let runs = s.runs - before.runs;
        eprintln!(
            "{name}: cpu_ms_per_tick={cpu:.2} (network {:.2}) period={} refresh_hz_per_seat={:.2} cpu_ms_per_run={:.3}",
            (s.run_ms - before.run_ms) / f64::from(ticks),
            s.period,
            runs as f64 / (f64::from(ticks) * seats as f64) * 30.0,
            (s.run_ms - before.run_ms) / runs.max(1) as f64
        );
    }
    g.finish();
}

criterion_group!(benches, network, tick);
criterion_main!(benches);
