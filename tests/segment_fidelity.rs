//! Fidelity of the scheduled ML segmenter against MediaPipe on real footage (issue 15): the
//! IoU at 0.5 of every seat's network mask with MediaPipe's own mask of every frame, under the
//! schedule the engine picks for 9 seats of `builtin:grid` at 1920x1080
//! (`together_mode::segment::ml::fidelity`).
//!
//! Needs the model (`scripts/ml-setup.sh`), the clips (`scripts/make-clips.sh`) and MediaPipe's
//! masks of them (`scripts/fidelity-reference.py`); without them it skips with a message, and
//! fails under `CI`. The schedule follows measured CPU time, so the figures mean something only
//! in an optimised build: in debug builds it skips (CI runs it with `--release`).
#![cfg(feature = "ml")]

use std::io::BufReader;
use std::path::{Path, PathBuf};

use together_mode::io::Y4mReader;
use together_mode::segment::ml::fidelity::{
    every_frame_reference, measure, Fidelity, FidelityOptions,
};
use together_mode::segment::ml::{GateOptions, SelfieModel};
use together_mode::Frame;

mod common;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The model, or `None` (after saying why) when the test cannot run here.
fn prerequisites(clips: &[&str]) -> Option<SelfieModel> {
    if cfg!(debug_assertions) {
        eprintln!(
            "SKIPPED: the fidelity measure runs the schedule the engine picks from measured CPU \
             time, meaningful only in release: cargo test --release --features ml --test segment_fidelity"
        );
        return None;
    }
    let r = root();
    let mut need = vec![(
        r.join("models/selfie_segmentation.tflite"),
        "scripts/ml-setup.sh",
    )];
    for c in clips {
        need.push((
            r.join(format!("footage/clips/{c}.y4m")),
            "scripts/make-clips.sh",
        ));
        need.push((
            r.join(format!("footage/reference/{c}.f32")),
            "models/.venv/bin/python scripts/fidelity-reference.py",
        ));
    }
    let needs: Vec<_> = need.iter().map(|(p, how)| (p.as_path(), *how)).collect();
    if !common::require_made(&needs) {
        return None;
    }
    Some(
        SelfieModel::from_file(r.join("models/selfie_segmentation.tflite"))
            .expect("the model loads"),
    )
}

fn clip(name: &str) -> (Vec<Frame>, Vec<f32>) {
    let r = root();
    let file = std::fs::File::open(r.join(format!("footage/clips/{name}.y4m"))).unwrap();
    let mut reader = Y4mReader::new(BufReader::new(file)).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = reader.read_frame().unwrap() {
        frames.push(f);
    }
    let bytes = std::fs::read(r.join(format!("footage/reference/{name}.f32"))).unwrap();
    let reference = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (frames, reference)
}

fn run(model: &SelfieModel, name: &str, options: &FidelityOptions) -> Fidelity {
    let (frames, reference) = clip(name);
    let r = measure(model, &frames, &reference, options).expect("the measure runs");
    eprintln!(
        "{name}: {} seats, whole frame {}, zoomed {} of {} seat-frames: mean {:.3}, worst {:.3} (window {:.3} / {:.3}); period {}, {} runs in {} ticks",
        r.seats,
        r.whole_frame,
        r.zoomed,
        r.seats * r.frames,
        r.mean,
        r.worst,
        r.window_mean,
        r.window_worst,
        r.stats.period,
        r.measured_runs,
        r.frames
    );
    r
}

/// The carphone-based clips (a real talking head, close, far, off-centre, portrait, moving)
/// under the 9-seat schedule: mean IoU with MediaPipe at least each clip's floor, and the
/// issue's goal, 0.95 on carphone's own framing (`close`), wherever the engine segments seats on
/// two threads or more (the scheduler's budget is per thread: on one thread its period is about
/// twice as long, and close measured 0.917-0.951 there). Measured 2026-12-04 on 2 threads
/// (README): close 0.972, offcentre 0.966, portrait 0.978, moving 0.841. The floors of the
/// other clips are those figures less a margin (a regression check); how far each is from 0.95
/// is printed. `far` is different: MediaPipe's whole-frame run finds nobody there (its mask is
/// empty on every frame), and the engine's network zooms in and finds the man; zoomed
/// seat-frames have no reference and are left out of the IoU (see `fidelity`'s docs), so for
/// `far` the test asserts that most seat-frames were zoomed (the person was found and
/// followed) and that no clip where MediaPipe sees the person was ever zoomed.
#[test]
fn carphone_clips_follow_mediapipe_under_the_nine_seat_schedule() {
    let floors = [
        ("close", 0.86),
        ("far", 0.0), // zoomed: see above
        ("offcentre", 0.86),
        ("portrait", 0.88),
        ("moving", 0.68),
    ];
    let clips = floors.map(|(name, _)| name);
    let Some(model) = prerequisites(&clips) else {
        return;
    };
    let options = FidelityOptions::grid(9);
    let threads = options.schedule.threads;
    eprintln!(
        "ML budget: {} ms per tick per thread, {threads} threads",
        options.schedule.budget_ms
    );
    let mut low = Vec::new();
    for (name, floor) in floors {
        let floor = if name == "close" && threads >= 2 {
            0.95
        } else {
            floor
        };
        let r = run(&model, name, &options);
        assert!(
            r.whole_frame,
            "{name}: the network should see the whole frame"
        );
        let seat_frames = r.seats * r.frames;
        if name == "far" {
            assert!(
                r.zoomed * 2 > seat_frames,
                "far: the person was followed in a zoomed view in {} of {seat_frames} seat-frames",
                r.zoomed
            );
            continue;
        }
        assert_eq!(
            r.zoomed, 0,
            "{name}: MediaPipe's whole-frame view sees the person, so the engine's should not zoom"
        );
        eprintln!(
            "{name}: mean {:.3} (floor {floor}, goal 0.95: {})",
            r.mean,
            if r.mean >= 0.95 { "met" } else { "not met" }
        );
        if r.mean < floor {
            low.push(format!("{name} {:.3} < {floor}", r.mean));
        }
    }
    assert!(low.is_empty(), "mean IoU below the floor: {low:?}");
}

/// Motion-gated runs on a still person (`still`: astronaut.png with fresh noise every frame)
/// at a fixed period of 3 (the 9-seat schedule on two threads): against the network on every
/// frame, the gated schedule keeps the fidelity target (mean IoU 0.95, no seat-frame below
/// 0.85) with at most half the fixed period's runs and no seat more than 15 ticks (2 Hz at
/// 30 fps) without a run.
#[test]
fn a_still_person_needs_few_network_runs() {
    let Some(model) = prerequisites(&["still"]) else {
        return;
    };
    let (frames, _) = clip("still");
    let mut options = FidelityOptions::grid(9);
    options.compare_zoomed = true;
    // The period is 3 whatever the costs (a budget too small for any run, capped at 3).
    options.schedule.budget_ms = 1e-6;
    options.schedule.max_period = 3;
    let reference = every_frame_reference(&model, &frames, &options).expect("the reference runs");
    let measure_with = |gate: Option<GateOptions>| {
        let mut o = options;
        o.schedule.gate = gate;
        let r = measure(&model, &frames, &reference, &o).expect("the measure runs");
        eprintln!(
            "still, gate {}: mean {:.3}, worst {:.3}; {} runs in {} ticks x {} seats, longest gap {}, ML CPU {:.1} ms per seat-second",
            gate.is_some(),
            r.mean,
            r.worst,
            r.measured_runs,
            r.frames,
            r.seats,
            r.longest_gap,
            r.ml_ms_per_seat_second(30.0)
        );
        r
    };
    let fixed = measure_with(None);
    let gated = measure_with(Some(GateOptions::default()));
    assert_eq!(fixed.stats.period, 3);
    assert_eq!(fixed.longest_gap, 3);
    assert!(gated.longest_gap <= 15, "{}", gated.longest_gap);
    assert!(
        gated.measured_runs * 2 <= fixed.measured_runs,
        "gated {} runs, fixed {}",
        gated.measured_runs,
        fixed.measured_runs
    );
    assert!(gated.mean >= 0.95, "mean {:.3}", gated.mean);
    assert!(gated.worst >= 0.85, "worst {:.3}", gated.worst);
}
