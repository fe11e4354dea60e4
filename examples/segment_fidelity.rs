//! Fidelity of the scheduled ML segmenter against MediaPipe on the real-footage clips
//! (issue 15): for each clip and seat count, the IoU at 0.5 of every seat's network mask with
//! MediaPipe's own mask of the same frame (see `together_mode::segment::ml::fidelity`).
//!
//! Needs `scripts/ml-setup.sh` (the model), `scripts/make-clips.sh` (footage/clips) and
//! `scripts/fidelity-reference.py` (footage/reference). Run in release:
//!
//! ```text
//! cargo run --release --features ml --example segment_fidelity -- [--seats 9,49] [--clips close,far]
//!     [--seat-view] [--no-track] [--max-input-side N] [--max-period N] [--budget-ms MS] [--model FILE] [--footage DIR]
//! ```
//!
//! `--seat-view` runs the network on the seat's crop (the engine's behaviour before the
//! whole-frame view) for comparison. Prints one line per clip and seat count, then a Markdown
//! table.
//!
//! `--gate` compares the fixed period with motion-gated runs (`ScheduleOptions::gate`)
//! instead: for each clip, the reference is the engine's own network mask of every frame
//! (`fidelity::every_frame_reference`; no MediaPipe reference needed), and each seat count
//! runs `--rounds` times (default 2) fixed then gated, interleaved, printing mean and worst
//! frame IoU against it, network runs and ML CPU ms (thread CPU time: runs plus per-frame
//! work) per seat-second at 30 fps; then a Markdown table (CPU: the rounds' range).
//!
//! ```text
//! cargo run --release --example segment_fidelity -- --gate [--seats 9] [--rounds 2]
//!     [--gate-interval TICKS] [--gate-residual LEVELS] [--gate-shift FRACTION]
//!     [--gate-brightness LEVELS] [--early | --no-early] [--threads N]
//! ```

use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use together_mode::io::Y4mReader;
use together_mode::segment::ml::fidelity::{
    every_frame_reference, measure, Fidelity, FidelityOptions,
};
use together_mode::segment::ml::{GateOptions, SelfieModel};
use together_mode::Frame;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut model = root.join("models/selfie_segmentation.tflite");
    let mut footage = root.join("footage");
    let mut seats: Option<Vec<usize>> = None;
    let mut clips: Option<Vec<String>> = None;
    let mut options = FidelityOptions::grid(9);
    let mut gate_mode = false;
    let mut gate = GateOptions::default();
    let mut rounds = 2usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--seats" => {
                seats = Some(
                    value()?
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<_, _>>()?,
                )
            }
            "--clips" => clips = Some(value()?.split(',').map(String::from).collect()),
            "--seat-view" => options.schedule.whole_frame = false,
            "--no-track" => options.schedule.track_motion = false,
            "--max-input-side" => options.schedule.max_input_side = value()?.parse()?,
            "--max-period" => options.schedule.max_period = value()?.parse()?,
            "--budget-ms" => options.schedule.budget_ms = value()?.parse()?,
            "--gate" => gate_mode = true,
            "--rounds" => rounds = value()?.parse()?,
            "--gate-interval" => gate.max_interval = value()?.parse()?,
            "--gate-residual" => gate.residual = value()?.parse()?,
            "--gate-shift" => gate.shift = value()?.parse()?,
            "--gate-brightness" => gate.brightness = value()?.parse()?,
            "--no-early" => gate.early = false,
            "--early" => gate.early = true,
            "--threads" => options.schedule.threads = value()?.parse()?,
            "--model" => model = value()?.into(),
            "--footage" => footage = value()?.into(),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let model = SelfieModel::from_file(&model)?;
    let index: serde_json::Value =
        serde_json::from_reader(std::fs::File::open(footage.join("clips/clips.json"))?)?;
    let names: Vec<String> = match clips {
        Some(c) => c,
        None => index["clips"]
            .as_array()
            .ok_or("clips.json has no clips")?
            .iter()
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect(),
    };
    let seats = seats.unwrap_or_else(|| if gate_mode { vec![9] } else { vec![9, 49] });
    if gate_mode {
        return compare_gate(&model, &footage, &names, &seats, options, gate, rounds);
    }
    let mut table = Vec::new();
    for name in &names {
        let frames = read_clip(&footage, name)?;
        let bytes = std::fs::read(footage.join(format!("reference/{name}.f32")))?;
        let reference: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let mut row = vec![name.clone()];
        for &n in &seats {
            let t = Instant::now();
            let r = measure(
                &model,
                &frames,
                &reference,
                &FidelityOptions {
                    seats: n,
                    ..options
                },
            )?;
            let runs_per_tick = r.measured_runs as f64 / r.frames as f64;
            println!(
                "{name} seats={n} view={} frames={} mean={:.3} worst={:.3} window_mean={:.3} window_worst={:.3} period={} runs/tick={runs_per_tick:.2} run_ms={:.2} frame_ms/seat-frame={:.3} wall={:.1}s",
                if r.whole_frame { "frame" } else { "seat" },
                r.frames,
                r.mean,
                r.worst,
                r.window_mean,
                r.window_worst,
                r.stats.period,
                r.stats.run_ms / r.stats.runs.max(1) as f64,
                r.stats.frame_ms / r.stats.frames.max(1) as f64,
                t.elapsed().as_secs_f64()
            );
            row.push(format!("{:.3} / {:.3}", r.mean, r.worst));
        }
        table.push(row);
    }
    let header: Vec<String> = seats
        .iter()
        .map(|n| format!("{n} seats mean / worst"))
        .collect();
    println!("\n| clip | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(seats.len()));
    for row in table {
        println!("| {} |", row.join(" | "));
    }
    Ok(())
}

fn read_clip(
    footage: &std::path::Path,
    name: &str,
) -> Result<Vec<Frame>, Box<dyn std::error::Error>> {
    let file = std::fs::File::open(footage.join(format!("clips/{name}.y4m")))?;
    let mut reader = Y4mReader::new(BufReader::new(file))?;
    let mut frames = Vec::new();
    while let Some(f) = reader.read_frame()? {
        frames.push(f);
    }
    Ok(frames)
}

/// `--gate`: the fixed period against motion-gated runs, both against the network on every
/// frame (see the module docs).
fn compare_gate(
    model: &SelfieModel,
    footage: &std::path::Path,
    names: &[String],
    seats: &[usize],
    options: FidelityOptions,
    gate: GateOptions,
    rounds: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    const FPS: f64 = 30.0;
    let base = FidelityOptions {
        compare_zoomed: true,
        ..options
    };
    let fixed = FidelityOptions {
        schedule: together_mode::segment::ml::ScheduleOptions {
            gate: None,
            ..base.schedule
        },
        ..base
    };
    let gated = FidelityOptions {
        schedule: together_mode::segment::ml::ScheduleOptions {
            gate: Some(gate),
            ..base.schedule
        },
        ..base
    };
    println!(
        "gate: {gate:?}; budget {} ms x {} threads",
        base.schedule.budget_ms, base.schedule.threads
    );
    let mut table = Vec::new();
    for name in names {
        let frames = read_clip(footage, name)?;
        let reference = every_frame_reference(model, &frames, &base)?;
        for &n in seats {
            let mut results: [Vec<Fidelity>; 2] = [Vec::new(), Vec::new()];
            for round in 0..rounds.max(1) {
                for (k, (label, o)) in [("fixed", &fixed), ("gated", &gated)].iter().enumerate() {
                    let r = measure(
                        model,
                        &frames,
                        &reference,
                        &FidelityOptions { seats: n, ..**o },
                    )?;
                    let seconds = (r.seats * r.frames) as f64 / FPS;
                    println!(
                        "{name} seats={n} round={round} {label}: mean={:.3} worst={:.3} window_mean={:.3} window_worst={:.3} period={} runs/seat-s={:.2} longest_gap={} skipped={} early={} ml_ms/seat-s={:.1} (runs {:.1} + frame work {:.1}) ms/run={:.2}",
                        r.mean,
                        r.worst,
                        r.window_mean,
                        r.window_worst,
                        r.stats.period,
                        r.measured_runs as f64 / seconds,
                        r.longest_gap,
                        r.stats.skipped,
                        r.stats.early,
                        r.ml_ms_per_seat_second(FPS),
                        r.measured_run_ms / seconds,
                        r.measured_frame_ms / seconds,
                        r.measured_run_ms / r.measured_runs.max(1) as f64,
                    );
                    results[k].push(r);
                }
            }
            let cell = |rs: &[Fidelity]| {
                let mean = rs.iter().map(|r| r.mean).sum::<f64>() / rs.len() as f64;
                let worst = rs.iter().map(|r| r.worst).fold(f64::INFINITY, f64::min);
                let wmean = rs.iter().map(|r| r.window_mean).sum::<f64>() / rs.len() as f64;
                let wworst = rs
                    .iter()
                    .map(|r| r.window_worst)
                    .fold(f64::INFINITY, f64::min);
                let runs = rs
                    .iter()
                    .map(|r| r.measured_runs as f64 * FPS / (r.seats * r.frames) as f64)
                    .sum::<f64>()
                    / rs.len() as f64;
                let cpu: Vec<f64> = rs.iter().map(|r| r.ml_ms_per_seat_second(FPS)).collect();
                let lo = cpu.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = cpu.iter().copied().fold(0.0, f64::max);
                let avg = cpu.iter().sum::<f64>() / cpu.len() as f64;
                (
                    format!(
                        "{mean:.3} / {worst:.3} | {wmean:.3} / {wworst:.3} | {runs:.1} | {lo:.0}–{hi:.0}"
                    ),
                    avg,
                )
            };
            let (f, fa) = cell(&results[0]);
            let (g, ga) = cell(&results[1]);
            table.push(format!("| {name} | {n} | {f} | {g} | {:.2} |", ga / fa));
        }
    }
    println!(
        "\n| clip | seats | fixed: frame IoU mean / worst | window IoU | runs per seat-s | ML CPU ms per seat-s | gated: frame IoU mean / worst | window IoU | runs per seat-s | ML CPU ms per seat-s | gated / fixed CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in table {
        println!("{row}");
    }
    Ok(())
}
