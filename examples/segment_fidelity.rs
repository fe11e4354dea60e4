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

use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use together_mode::io::Y4mReader;
use together_mode::segment::ml::fidelity::{measure, FidelityOptions};
use together_mode::segment::ml::SelfieModel;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut model = root.join("models/selfie_segmentation.tflite");
    let mut footage = root.join("footage");
    let mut seats = vec![9usize, 49];
    let mut clips: Option<Vec<String>> = None;
    let mut options = FidelityOptions::grid(9);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--seats" => {
                seats = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--clips" => clips = Some(value()?.split(',').map(String::from).collect()),
            "--seat-view" => options.schedule.whole_frame = false,
            "--no-track" => options.schedule.track_motion = false,
            "--max-input-side" => options.schedule.max_input_side = value()?.parse()?,
            "--max-period" => options.schedule.max_period = value()?.parse()?,
            "--budget-ms" => options.schedule.budget_ms = value()?.parse()?,
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
    let mut table = Vec::new();
    for name in &names {
        let file = std::fs::File::open(footage.join(format!("clips/{name}.y4m")))?;
        let mut reader = Y4mReader::new(BufReader::new(file))?;
        let mut frames = Vec::new();
        while let Some(f) = reader.read_frame()? {
            frames.push(f);
        }
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
