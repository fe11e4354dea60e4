//! `together bench`: the canonical benchmark workload (`together_mode::workload`, the same
//! inputs the criterion benchmark `compose` measures) in-process, printing CPU ms per frame.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cpu_time::ProcessTime;

use together_mode::frame::Frame;
use together_mode::framing::FramingMode;
use together_mode::io::Y4mReader;
use together_mode::workload::{Workload, WorkloadMatte};
use together_mode::CompositorOptions;

use crate::args::{self, MlArgs};

/// `together bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Participants (seats in a grid, as in the canonical workload).
    #[arg(long, default_value = "49", value_parser = args::count::<usize>)]
    participants: usize,
    /// Measured frames (after a warm-up of 30).
    #[arg(long, default_value = "300", value_parser = args::count::<u64>)]
    frames: u64,
    /// Output size WxH.
    #[arg(long, value_name = "WxH", default_value = "1920x1080", value_parser = args::output_size)]
    size: (u32, u32),
    /// Seat aspect W:H of the grid (3:4 is the canonical workload's; 16:9 seats show the
    /// inputs' whole frame, larger seats).
    #[arg(long, value_name = "W:H", default_value = "3:4", value_parser = args::aspect)]
    seat_aspect: (u32, u32),
    /// How seats are matted.
    #[arg(long, value_enum, default_value_t = BenchMatte::Constant)]
    segment: BenchMatte,
    /// The .tflite model for --segment ml (default models/selfie_segmentation.tflite).
    #[arg(long)]
    model: Option<PathBuf>,
    #[command(flatten)]
    ml: MlArgs,
    /// --segment ml: CPU ms per tick and per thread ML segmentation may take, all seats
    /// together, network runs and per-frame work (default: the library's ScheduleOptions,
    /// 27; times rayon's threads, or 1 thread with --serial).
    #[arg(long)]
    ml_budget_ms: Option<f64>,
    /// --segment ml: longer side of the network's input (default: the library's).
    #[arg(long)]
    ml_input_side: Option<usize>,
    /// --segment ml: which window of each input a seat shows: auto (framing around the
    /// person's head, the library's default for seats the selfie model cuts out) or off (the
    /// workload's centre crop), to measure what framing costs.
    #[arg(long, value_name = "auto|off", value_parser = args::framing_mode)]
    framing: Option<FramingMode>,
    /// A .y4m clip whose first two frames every participant shows, alternating, instead of
    /// the test pattern (for example a real person, whom the selfie model and framing find:
    /// nobody is found in the pattern). Not the canonical workload.
    #[arg(long, value_name = "PATH")]
    clip: Option<PathBuf>,
    /// Fraction of participants that deliver a new frame each tick (0.0..=1.0).
    #[arg(long, default_value = "1.0", value_parser = args::fraction)]
    changed: f64,
    /// Render seats and bands on one thread.
    #[arg(long)]
    serial: bool,
    /// Independent rooms (meetings) composed per tick, each with its own engine.
    #[arg(long, default_value = "1", value_parser = args::count::<usize>)]
    rooms: usize,
    /// How input frames reach the engine.
    #[arg(long, value_enum, default_value_t = InputPath::Move)]
    input_path: InputPath,
}

/// `bench --segment`: how the workload's seats are matted.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum BenchMatte {
    /// Constant alpha 0.8: the canonical workload (the peers' too).
    Constant,
    /// Alpha 1.0: seats pasted opaque.
    Opaque,
    /// A per-pixel matte from the inputs' own alpha.
    Alpha,
    /// The selfie model under the shared scheduler, seats otherwise opaque (--features ml;
    /// prints its refresh rate per seat).
    Ml,
}

impl BenchMatte {
    /// The name printed in the result line (the option's value).
    fn name(self) -> &'static str {
        match self {
            BenchMatte::Constant => "constant",
            BenchMatte::Opaque => "opaque",
            BenchMatte::Alpha => "alpha",
            BenchMatte::Ml => "ml",
        }
    }

    fn workload(self) -> WorkloadMatte {
        match self {
            BenchMatte::Constant => WorkloadMatte::Constant,
            BenchMatte::Opaque | BenchMatte::Ml => WorkloadMatte::Opaque,
            BenchMatte::Alpha => WorkloadMatte::PerPixel,
        }
    }
}

/// `bench --input-path`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum InputPath {
    /// Frames handed over without a copy, read from memory by the engine (the conservative
    /// figure).
    Move,
    /// Frames copied in, and the copy's own cost (measured alone) subtracted, as the peers'
    /// scripts do.
    Copy,
}

/// Starts a CPU time measurement of this process (all threads, user + system).
fn cpu_now() -> Result<ProcessTime> {
    ProcessTime::try_now().context("reading the process CPU time")
}

/// The first two frames of the .y4m clip at `path` (a one-frame clip: its frame twice).
fn first_two_frames(path: &std::path::Path) -> Result<[Frame; 2]> {
    let what = || format!("--clip {}", path.display());
    let file = std::fs::File::open(path).with_context(what)?;
    let mut reader = Y4mReader::new(std::io::BufReader::new(file)).with_context(what)?;
    let first = reader
        .read_frame()
        .with_context(what)?
        .with_context(|| format!("{}: no frames", what()))?;
    let second = reader
        .read_frame()
        .with_context(what)?
        .unwrap_or_else(|| first.clone());
    Ok([first, second])
}

/// CPU time of this process since `start`, in milliseconds.
fn cpu_ms_since(start: ProcessTime) -> Result<f64> {
    let elapsed = start
        .try_elapsed()
        .context("reading the process CPU time")?;
    Ok(elapsed.as_secs_f64() * 1e3)
}

/// Runs `together bench`.
pub fn run(a: &BenchArgs) -> Result<()> {
    let (w, h) = a.size;
    let (participants, frames, rooms, changed) = (a.participants, a.frames, a.rooms, a.changed);
    let ml = a.segment == BenchMatte::Ml;
    if !ml
        && (a.model.is_some()
            || a.ml_budget_ms.is_some()
            || a.ml_input_side.is_some()
            || a.framing.is_some()
            || a.ml.given())
    {
        bail!(
            "--model, --backend, --ort-lib, --framing and --ml-* are only used with --segment ml"
        );
    }
    if matches!(a.framing, Some(FramingMode::Fixed { .. })) {
        bail!("--framing: auto or off (a fixed crop is not part of the workload)");
    }
    let copy = a.input_path == InputPath::Copy;
    if copy && (rooms != 1 || changed != 1.0) {
        bail!("--input-path copy measures one room with every participant changing");
    }
    let mut options = CompositorOptions::default().with_parallel(!a.serial);
    if let Some(mode) = a.framing {
        options = options.with_framing_options(options.framing.with_mode(mode));
    }
    let clip = a.clip.as_deref().map(first_two_frames).transpose()?;
    let mut loads = (0..rooms)
        .map(|_| match &clip {
            Some(frames) => Workload::with_frames(
                participants,
                w,
                h,
                a.seat_aspect,
                a.segment.workload(),
                options,
                frames,
            ),
            None => Workload::with_seat_aspect(
                participants,
                w,
                h,
                a.seat_aspect,
                a.segment.workload(),
                options,
            ),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ml_stats = if ml {
        if rooms != 1 || copy {
            bail!("--segment ml measures one room with --input-path move");
        }
        Some(ml_probe::attach(a, &mut loads[0])?)
    } else {
        None
    };
    let threads = if a.serial {
        1
    } else {
        rayon::current_num_threads()
    };
    let (aw, ah) = a.seat_aspect;
    let segment = a.segment.name();
    if copy {
        let wl = &mut loads[0];
        let mut measure = |render: bool| -> Result<(f64, f64)> {
            for _ in 0..30 {
                wl.copy_frames(render)?;
            }
            let (c0, t0) = (cpu_now()?, Instant::now());
            for _ in 0..frames {
                wl.copy_frames(render)?;
            }
            Ok((
                cpu_ms_since(c0)? / frames as f64,
                t0.elapsed().as_secs_f64() * 1e3 / frames as f64,
            ))
        };
        let (src_cpu, src_wall) = measure(false)?;
        let (e2e_cpu, e2e_wall) = measure(true)?;
        let (cpu, wall) = (e2e_cpu - src_cpu, e2e_wall - src_wall);
        println!(
            "participants={participants} frames={frames} ms_per_frame={wall:.3} cpu_ms_per_frame={cpu:.3} fps={:.1} e2e_cpu_ms_per_frame={e2e_cpu:.3} src_cpu_ms_per_frame={src_cpu:.3} size={w}x{h} seat_aspect={aw}:{ah} segment={segment} input_path=copy threads={threads}",
            1e3 / wall,
        );
        return Ok(());
    }
    // A participant k changes on tick t when its share of the ticks says so (evenly spread).
    let every = |t: u64, k: usize| -> bool {
        let c = changed * 1000.0;
        ((t as f64 * 7.0 + k as f64 * 1000.0 / participants as f64) % 1000.0) < c
    };
    let parallel_rooms = rooms > 1 && !a.serial;
    let run = |loads: &mut Vec<Workload>, t: u64| -> Result<()> {
        let tick = |wl: &mut Workload| -> Result<(), together_mode::ComposeError> {
            wl.push_frames(|k| every(t, k))?;
            wl.engine().render()?;
            Ok(())
        };
        if parallel_rooms {
            use rayon::prelude::*;
            loads.par_iter_mut().try_for_each(tick)?;
        } else {
            loads.iter_mut().try_for_each(tick)?;
        }
        Ok(())
    };
    for t in 0..30 {
        run(&mut loads, t)?;
    }
    let ml0 = ml_stats.as_ref().map(|f| f());
    let (c0, t0) = (cpu_now()?, Instant::now());
    for t in 30..30 + frames {
        run(&mut loads, t)?;
    }
    let wall = t0.elapsed().as_secs_f64() * 1e3 / frames as f64;
    let cpu = cpu_ms_since(c0)? / frames as f64;
    if let (Some(f), Some(before)) = (&ml_stats, ml0) {
        // Seats whose framing found a head (with --framing off: none).
        let framed = (0..participants)
            .filter(|k| {
                loads[0]
                    .engine()
                    .framing_of(&format!("8:acs:bench-{k}"))
                    .is_some()
            })
            .count();
        let after = f();
        let runs = after.runs - before.runs;
        // Network runs per seat per output frame, at 30 output frames a second.
        let hz = runs as f64 / (frames as f64 * after.seats.max(1) as f64) * 30.0;
        println!(
            "ml: seats={} seat={} input={} backend={} framing={} framed_seats={framed} period={} refresh_hz_per_seat={hz:.2} runs={runs} ml_run_cpu_ms_per_tick={:.3} ml_frame_cpu_ms_per_tick={:.3} cpu_ms_per_run={:.3}",
            after.seats,
            after.seat,
            after.input,
            a.ml.backend,
            a.framing.unwrap_or(FramingMode::Auto),
            after.period,
            (after.run_ms - before.run_ms) / frames as f64,
            (after.frame_ms - before.frame_ms) / frames as f64,
            (after.run_ms - before.run_ms) / runs.max(1) as f64,
        );
    }
    println!(
        "participants={participants} frames={frames} ms_per_frame={wall:.3} cpu_ms_per_frame={cpu:.3} fps={:.1} size={w}x{h} seat_aspect={aw}:{ah} segment={segment} changed={changed} rooms={rooms} threads={threads}",
        1e3 / wall,
    );
    Ok(())
}

/// `bench --segment ml`: the selfie model's segmenters on the workload's engine, and what
/// its scheduler reports.
mod ml_probe {
    use anyhow::Result;

    use super::BenchArgs;
    use together_mode::workload::Workload;

    /// What `bench --segment ml` reports.
    pub struct MlBenchStats {
        pub runs: u64,
        pub run_ms: f64,
        pub frame_ms: f64,
        pub period: u32,
        pub seats: usize,
        /// Seat size and network input size, `WxH`.
        pub seat: String,
        pub input: String,
    }

    /// Reads the scheduler's counters.
    pub type Probe = Box<dyn Fn() -> MlBenchStats>;

    /// Puts the selfie model's segmenters (one shared scheduler) on the workload's engine;
    /// the returned function reads the scheduler's counters.
    #[cfg(feature = "ml")]
    pub fn attach(a: &BenchArgs, wl: &mut Workload) -> Result<Probe> {
        use anyhow::Context;
        use together_mode::segment::ml::input_size_for;
        use together_mode::segment::{ModelCache, SegmentMode, SegmenterConfig};

        // `demo`'s and `render`'s settings for --segment ml (the model, found or fetched as
        // theirs; the backend), plus the scheduler's.
        let config = SegmenterConfig {
            budget_ms: a.ml_budget_ms,
            threads: a.serial.then_some(1),
            max_input_side: a.ml_input_side,
            ..crate::args::segmenter(SegmentMode::Ml, a.model.as_deref(), &a.ml)?
        };
        let shared = config
            .ml_shared(&mut ModelCache::default())?
            .context("--segment ml: no selfie model")?;
        let seat = wl
            .engine()
            .layout()
            .seat_rect(0)
            .map(|r| (r.width.max(0) as usize, r.height.max(0) as usize))
            .unwrap_or((0, 0));
        let input = input_size_for(seat.0, seat.1, shared.options().max_input_side);
        wl.engine().set_segmenter(shared.factory());
        Ok(Box::new(move || {
            let s = shared.stats();
            MlBenchStats {
                runs: s.runs,
                run_ms: s.run_ms,
                frame_ms: s.frame_ms,
                period: s.period,
                seats: s.seats,
                seat: format!("{}x{}", seat.0, seat.1),
                input: format!("{}x{}", input.0, input.1),
            }
        }))
    }

    /// Without the feature `ml`: refused.
    #[cfg(not(feature = "ml"))]
    pub fn attach(_a: &BenchArgs, _wl: &mut Workload) -> Result<Probe> {
        anyhow::bail!("--segment ml needs a build with --features ml")
    }
}
