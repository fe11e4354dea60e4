//! `together`: render together-mode video from scenes and participant clips.
//!
//! ```text
//! together demo [--participants N] [--frames N] [--size WxH] [--segment MODE] --out OUT
//! together render --scene DIR|builtin:NAME --input ID=PATH ... [--size WxH] [--frames N] [--fps R] [--segment MODE] --out OUT
//! together seating --scene DIR|builtin:NAME --participants N [--scene-size WxH] [--size WxH]
//! together segment --input IMAGE --out MASK.png [--model PATH] [--raw] [--repeat N]   (--features ml)
//! ```
//! OUT is a .y4m file, `-` (Y4M on stdout) or a PNG pattern such as `frames/%05d.png`.
//! MODE is none, alpha (the default), chroma, background, ml or auto (see `SegmentMode`).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use together_mode::frame::{Frame, PixelFormat};
use together_mode::geometry::{check_output_size, parse_size};
use together_mode::io::{load_image, FrameSink, OutputSpec, Y4mReader};
use together_mode::scene::SceneLimits;
use together_mode::segment::background::BackgroundOptions;
use together_mode::segment::{SegmentMode, SegmenterFactory};
use together_mode::synth::{Backdrop, SyntheticParticipant};
use together_mode::{Compositor, CompositorOptions, Role, Scene};

#[derive(Parser)]
#[command(
    name = "together",
    version,
    about = "Together Mode compositor: seat everyone in one shared scene"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render builtin:auditorium with synthetic participants (no files needed).
    Demo {
        /// Number of synthetic participants.
        #[arg(long, default_value_t = 9)]
        participants: usize,
        /// Output frames.
        #[arg(long, default_value_t = 150)]
        frames: u64,
        /// Output size WxH (even sides).
        #[arg(long, default_value = "1920x1080")]
        size: String,
        /// Output frame rate.
        #[arg(long, default_value_t = 30)]
        fps: u32,
        /// Scene folder or builtin:NAME.
        #[arg(long, default_value = "builtin:auditorium")]
        scene: String,
        /// How people are cut out: none, alpha, chroma (the participants stand in front of a
        /// green screen), background (the first 30 frames show their empty rooms, to learn
        /// from), ml or auto.
        #[arg(long, default_value = "alpha")]
        segment: SegmentMode,
        /// The selfie model for --segment ml / auto (builds with --features ml).
        #[arg(long)]
        model: Option<PathBuf>,
        #[command(flatten)]
        ml: MlArgs,
        /// .y4m file, '-' for stdout, or a PNG pattern like frames/%05d.png.
        #[arg(long)]
        out: String,
    },
    /// Render a scene with participants from Y4M clips or still images.
    Render {
        /// Scene folder (scene.json + PNGs) or builtin:NAME.
        #[arg(long)]
        scene: String,
        /// ID=PATH: a participant and a .y4m clip (looped) or a PNG/JPEG still; repeatable,
        /// participants join in this order.
        #[arg(long = "input", required = true)]
        inputs: Vec<String>,
        /// Output size WxH (even sides).
        #[arg(long, default_value = "1920x1080")]
        size: String,
        /// Output frames (default: the longest clip's length at --fps, or 1 for stills).
        #[arg(long)]
        frames: Option<u64>,
        /// Output frame rate.
        #[arg(long, default_value_t = 30)]
        fps: u32,
        /// How people are cut out: none (whole frames), alpha (the inputs' own alpha),
        /// chroma (green screen), background (a static camera; each clip's first 30 frames
        /// must show the empty room), ml (the selfie model) or auto (per participant: its
        /// alpha if its first frame has any, else ml if available, else background).
        #[arg(long, default_value = "alpha")]
        segment: SegmentMode,
        /// The selfie model for --segment ml / auto (builds with --features ml).
        #[arg(long)]
        model: Option<PathBuf>,
        #[command(flatten)]
        ml: MlArgs,
        /// .y4m file, '-' for stdout, or a PNG pattern like frames/%05d.png.
        #[arg(long)]
        out: String,
    },
    /// Run the canonical benchmark workload in-process and print CPU ms per frame.
    Bench {
        /// Participants (seats in a grid, as in shared/bench/WORKLOAD.md).
        #[arg(long, default_value_t = 49)]
        participants: usize,
        /// Measured frames (after a warm-up of 30).
        #[arg(long, default_value_t = 300)]
        frames: u64,
        /// Output size WxH.
        #[arg(long, default_value = "1920x1080")]
        size: String,
        /// Seat aspect W:H of the grid (3:4 is the canonical workload's; 16:9 seats show the
        /// inputs' whole frame, larger seats).
        #[arg(long, default_value = "3:4")]
        seat_aspect: String,
        /// none: constant alpha 0.8 (the peers' workload); opaque: alpha 1.0; alpha: a
        /// per-pixel matte from the inputs' own alpha; ml: the selfie model under the shared
        /// scheduler (--features ml; prints its refresh rate per seat).
        #[arg(long, default_value = "none")]
        segment: String,
        /// The .tflite model for --segment ml (default models/selfie_segmentation.tflite).
        #[arg(long)]
        model: Option<PathBuf>,
        #[command(flatten)]
        ml: MlArgs,
        /// --segment ml: CPU ms per tick ML segmentation may take, all seats together, network
        /// runs and per-frame work (default: the library's ScheduleOptions, 27).
        #[arg(long)]
        ml_budget_ms: Option<f64>,
        /// --segment ml: longer side of the network's input (default: the library's).
        #[arg(long)]
        ml_input_side: Option<usize>,
        /// Fraction of participants that deliver a new frame each tick (0.0..=1.0).
        #[arg(long, default_value_t = 1.0)]
        changed: f64,
        /// Render seats and bands on one thread.
        #[arg(long)]
        serial: bool,
        /// Independent rooms (meetings) composed per tick, each with its own engine.
        #[arg(long, default_value_t = 1)]
        rooms: usize,
        /// move: frames handed over without a copy, read from memory by the engine (the
        /// conservative figure); copy: frames copied in, and the copy's own cost (measured
        /// alone) subtracted, as the peers' scripts do.
        #[arg(long, default_value = "move")]
        input_path: String,
    },
    /// Play a meeting timeline (scenario JSON): one Y4M per room and events.jsonl in --out.
    Scenario {
        /// The scenario file (schema: the README's "Scenarios" section).
        file: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Person mask of one image (8-bit gray PNG at the input's size) with the selfie model.
    /// Needs a build with `--features ml` and the model (scripts/fetch-model.sh).
    Segment {
        /// The image (PNG or JPEG).
        #[arg(long)]
        input: PathBuf,
        /// The mask to write (PNG).
        #[arg(long)]
        out: PathBuf,
        /// The .tflite model. Default: models/selfie_segmentation_landscape.tflite for
        /// landscape images (wider than 4:3), else models/selfie_segmentation.tflite.
        #[arg(long)]
        model: Option<PathBuf>,
        /// The model's probability, scaled to the input, without refinement.
        #[arg(long)]
        raw: bool,
        /// Run the model N more times and print ms_per_mask (CPU ms per mask, one thread).
        #[arg(long, default_value_t = 0)]
        repeat: usize,
        #[command(flatten)]
        ml: MlArgs,
        /// Also write the ONNX model the ort backend runs (at the model's native size) to
        /// this file, to time it with other ONNX runtimes (needs --features ml-ort).
        #[arg(long)]
        onnx_out: Option<PathBuf>,
    },
    /// Print the ACS seating map (JSON) for N participants.
    Seating {
        /// Scene folder or builtin:NAME.
        #[arg(long)]
        scene: String,
        /// Number of participants (ids 8:acs:participant-1 ...).
        #[arg(long)]
        participants: usize,
        /// The CSS box the stream is shown in.
        #[arg(long, default_value = "1280x720")]
        scene_size: String,
        /// Output (stream) size.
        #[arg(long, default_value = "1920x1080")]
        size: String,
    },
}

/// The ML segmenter's backend choice (`segment`, `demo`/`render --segment ml|auto`,
/// `bench --segment ml`).
#[derive(clap::Args, Debug, Clone)]
struct MlArgs {
    /// What runs the selfie model: tract (pure Rust) or ort (onnxruntime; needs
    /// --features ml-ort and the library: --ort-lib or ORT_DYLIB_PATH).
    #[arg(long, default_value = "tract")]
    backend: String,
    /// The onnxruntime shared library for --backend ort (default: $ORT_DYLIB_PATH).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
}

/// `bench --segment ml` settings.
struct BenchMl {
    model: Option<PathBuf>,
    args: MlArgs,
    budget_ms: Option<f64>,
    input_side: Option<usize>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Demo {
            participants,
            frames,
            size,
            fps,
            scene,
            segment,
            model,
            ml,
            out,
        } => demo(
            participants,
            frames,
            &size,
            fps,
            &scene,
            segment,
            model.as_deref(),
            &ml,
            &out,
        ),
        Command::Render {
            scene,
            inputs,
            size,
            frames,
            fps,
            segment,
            model,
            ml,
            out,
        } => render(
            &scene,
            &inputs,
            &size,
            frames,
            fps,
            segment,
            model.as_deref(),
            &ml,
            &out,
        ),
        Command::Seating {
            scene,
            participants,
            scene_size,
            size,
        } => seating(&scene, participants, &scene_size, &size),
        Command::Segment {
            input,
            out,
            model,
            raw,
            repeat,
            ml,
            onnx_out,
        } => segment_image(
            &input,
            &out,
            model.as_deref(),
            raw,
            repeat,
            &ml,
            onnx_out.as_deref(),
        ),
        Command::Scenario { file, out } => scenario(&file, &out),
        Command::Bench {
            participants,
            frames,
            size,
            seat_aspect,
            segment,
            changed,
            serial,
            rooms,
            input_path,
            model,
            ml,
            ml_budget_ms,
            ml_input_side,
        } => bench(
            participants,
            frames,
            &size,
            &seat_aspect,
            &segment,
            changed,
            serial,
            rooms,
            &input_path,
            &BenchMl {
                model,
                args: ml,
                budget_ms: ml_budget_ms,
                input_side: ml_input_side,
            },
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line: the error and its causes.
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", msg.join(": "));
            ExitCode::FAILURE
        }
    }
}

/// Help and version print as clap prints them. A usage error becomes one `error:` line (the
/// first paragraph of clap's message, its lines joined) and exit status 1, like every other
/// error of this tool.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // `together` alone: the help, as clap shows it.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {}
    }
    let text = e.render().to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    let line = first.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    eprintln!("error: {line} (see --help)");
    ExitCode::FAILURE
}

fn output_size(s: &str) -> Result<(u32, u32)> {
    let (w, h) = parse_size(s).context("--size")?;
    check_output_size(w, h, together_mode::compositor::MAX_OUTPUT).context("--size")?;
    Ok((w, h))
}

fn check_fps(fps: u32) -> Result<()> {
    if fps == 0 || fps > 1000 {
        bail!("--fps must be between 1 and 1000, got {fps}");
    }
    Ok(())
}

fn progress(frames: u64) -> ProgressBar {
    if frames < 30 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(frames);
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} frames, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

fn open_sink(
    out: &str,
    w: u32,
    h: u32,
    fps: u32,
    color: together_mode::ColorSpec,
) -> Result<FrameSink> {
    let spec = OutputSpec::parse(out).context("--out")?;
    Ok(FrameSink::open(&spec, w, h, (fps, 1), color)?)
}

/// What `bench --segment ml` reports.
struct MlBenchStats {
    runs: u64,
    run_ms: f64,
    frame_ms: f64,
    period: u32,
    seats: usize,
    /// Seat size and network input size, `WxH`.
    seat: String,
    input: String,
}

/// Puts the selfie model's segmenters (one shared scheduler) on the workload's engine; the
/// returned function reads the scheduler's counters.
#[cfg(feature = "ml")]
fn bench_ml(
    ml: &BenchMl,
    wl: &mut together_mode::workload::Workload,
) -> Result<Box<dyn Fn() -> MlBenchStats>> {
    use together_mode::segment::ml::{input_size_for, MlShared, ScheduleOptions, SelfieModel};
    let path = ml
        .model
        .clone()
        .unwrap_or_else(|| PathBuf::from("models/selfie_segmentation.tflite"));
    let model =
        SelfieModel::from_file(&path).with_context(|| format!("--model {}", path.display()))?;
    let mut options = ScheduleOptions {
        backend: ml_backend(&ml.args)?,
        ..ScheduleOptions::default()
    };
    if let Some(b) = ml.budget_ms {
        options.budget_ms = b;
    }
    if let Some(s) = ml.input_side {
        options.max_input_side = s;
    }
    let seat = wl
        .engine()
        .layout()
        .seat_rect(0)
        .map(|r| (r.width.max(0) as usize, r.height.max(0) as usize))
        .unwrap_or((0, 0));
    let input = input_size_for(seat.0, seat.1, options.max_input_side);
    let shared = MlShared::new(model, options);
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

#[cfg(not(feature = "ml"))]
fn bench_ml(
    _ml: &BenchMl,
    _wl: &mut together_mode::workload::Workload,
) -> Result<Box<dyn Fn() -> MlBenchStats>> {
    bail!("--segment ml needs a build with --features ml")
}

/// The backend `--backend` names, with the onnxruntime library loaded for `ort`.
#[cfg(feature = "ml")]
fn ml_backend(ml: &MlArgs) -> Result<together_mode::segment::ml::Backend> {
    use together_mode::segment::ml::{load_onnxruntime, Backend};
    let backend: Backend = ml
        .backend
        .parse()
        .map_err(|e| anyhow::anyhow!("--backend: {e}"))?;
    if backend == Backend::Ort {
        load_onnxruntime(ml.ort_lib.as_deref()).context("--backend ort")?;
    } else if ml.ort_lib.is_some() {
        bail!("--ort-lib is only used with --backend ort");
    }
    Ok(backend)
}

#[cfg(feature = "ml-ort")]
fn write_onnx(
    model: &together_mode::segment::ml::SelfieModel,
    w: usize,
    h: usize,
    path: &Path,
) -> Result<()> {
    std::fs::write(path, model.to_onnx(w, h)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(all(feature = "ml", not(feature = "ml-ort")))]
fn write_onnx(
    _model: &together_mode::segment::ml::SelfieModel,
    _w: usize,
    _h: usize,
    _path: &Path,
) -> Result<()> {
    bail!("--onnx-out needs a build with --features ml-ort")
}

/// The selfie model's segmenters, when this build has the `ml` feature and a model is found
/// (`--model`, else models/selfie_segmentation.tflite).
#[cfg(feature = "ml")]
fn ml_factory(model: Option<&Path>, ml: &MlArgs) -> Result<Option<SegmenterFactory>> {
    use together_mode::segment::ml::{MlShared, ScheduleOptions, SelfieModel};
    let backend = ml_backend(ml)?;
    let path = model.unwrap_or(Path::new("models/selfie_segmentation.tflite"));
    if model.is_none() && !path.exists() {
        return Ok(None);
    }
    let m = SelfieModel::from_file(path).with_context(|| format!("--model {}", path.display()))?;
    let options = ScheduleOptions {
        backend,
        ..ScheduleOptions::default()
    };
    Ok(Some(MlShared::new(m, options).factory()))
}

#[cfg(not(feature = "ml"))]
fn ml_factory(model: Option<&Path>, ml: &MlArgs) -> Result<Option<SegmenterFactory>> {
    if model.is_some() {
        bail!("--model needs a build with --features ml");
    }
    if ml.backend != "tract" || ml.ort_lib.is_some() {
        bail!("--backend ort and --ort-lib need a build with --features ml-ort");
    }
    Ok(None)
}

/// The segmenters for `--segment`; the model is loaded only for ml and auto.
fn segmenter_factory(
    mode: SegmentMode,
    model: Option<&Path>,
    ml: &MlArgs,
) -> Result<SegmenterFactory> {
    let ml = match mode {
        SegmentMode::Ml | SegmentMode::Auto => ml_factory(model, ml)?,
        _ if model.is_some() => bail!("--model is only used with --segment ml or auto"),
        _ if ml.backend != "tract" || ml.ort_lib.is_some() => {
            bail!("--backend and --ort-lib are only used with --segment ml or auto")
        }
        _ => None,
    };
    mode.factory(ml).context("--segment")
}

#[allow(clippy::too_many_arguments)]
fn demo(
    participants: usize,
    frames: u64,
    size: &str,
    fps: u32,
    scene: &str,
    segment: SegmentMode,
    model: Option<&Path>,
    ml: &MlArgs,
    out: &str,
) -> Result<()> {
    let (w, h) = output_size(size)?;
    check_fps(fps)?;
    if frames == 0 {
        bail!("--frames must be at least 1");
    }
    let scene = Scene::open(scene, &SceneLimits::default())?;
    if participants > scene.seats.len() {
        bail!(
            "--participants {participants}: the scene has only {} seats",
            scene.seats.len()
        );
    }
    let options = CompositorOptions::default().with_size(w, h);
    let mut engine = Compositor::new(scene, options)?;
    engine.set_segmenter(segmenter_factory(segment, model, ml)?);
    let backdrop = match segment {
        SegmentMode::Chroma => Backdrop::GreenScreen,
        _ => Backdrop::Room,
    };
    // The background model learns each room from the first frames: show them empty.
    let empty_frames = match segment {
        SegmentMode::Background => u64::from(BackgroundOptions::default().learn_frames),
        _ => 0,
    };
    let people: Vec<(String, SyntheticParticipant)> = (0..participants)
        .map(|i| {
            (
                format!("8:acs:synthetic-{}", i + 1),
                SyntheticParticipant::new(i as u64 + 1, 640, 360).with_backdrop(backdrop),
            )
        })
        .collect();
    for (id, _) in &people {
        engine.join(id, Role::Attendee)?;
    }
    let mut sink = open_sink(out, w, h, fps, options.color)?;
    let pb = progress(frames);
    let mut spare: Vec<Option<Frame>> = vec![None; people.len()];
    for k in 0..frames {
        for ((id, person), spare) in people.iter().zip(spare.iter_mut()) {
            let mut f = match spare.take() {
                Some(f) => f,
                None => Frame::new(PixelFormat::I420A, person.width(), person.height())?,
            };
            if k < empty_frames {
                person.render_empty(&mut f);
            } else {
                person.render(k, &mut f);
            }
            *spare = engine.push(id, f, k as i64)?;
        }
        let frame = engine.render()?;
        sink.write(&frame)?;
        pb.inc(1);
    }
    sink.finish()?;
    pb.finish_and_clear();
    Ok(())
}

/// A participant source: a still image or a Y4M clip read forward and looped.
enum Source {
    Still(Frame),
    Clip(Box<Clip>),
}

struct Clip {
    path: PathBuf,
    reader: Y4mReader<BufReader<File>>,
    fps: (u32, u32),
    /// Index of `frame` in the clip.
    index: u64,
    frame: Frame,
    /// Frame count, once the end has been seen.
    len: Option<u64>,
}

impl Clip {
    fn open(path: &Path) -> Result<Clip> {
        let mut reader = open_y4m(path)?;
        let fps = reader.header().fps;
        let frame = reader
            .read_frame()
            .with_context(|| format!("{}", path.display()))?
            .ok_or_else(|| anyhow!("{}: the clip has no frames", path.display()))?;
        Ok(Clip {
            path: path.to_path_buf(),
            reader,
            fps,
            index: 0,
            frame,
            len: None,
        })
    }

    /// Number of output frames the clip lasts at `out_fps` (reads it to the end once).
    fn output_len(&mut self, out_fps: u32) -> Result<u64> {
        let mut r = open_y4m(&self.path)?;
        let mut n = 0u64;
        let mut scratch = Frame::new(PixelFormat::I420, 2, 2)?;
        while r
            .read_frame_into(&mut scratch)
            .with_context(|| format!("{}", self.path.display()))?
        {
            n += 1;
        }
        self.len = Some(n);
        let (num, den) = (self.fps.0 as u128, self.fps.1 as u128);
        Ok(((n as u128 * den * out_fps as u128).div_ceil(num)).max(1) as u64)
    }

    /// The clip frame shown at output frame `k` (time k / out_fps), looping.
    fn at(&mut self, k: u64, out_fps: u32) -> Result<()> {
        let (num, den) = (self.fps.0 as u128, self.fps.1 as u128);
        let mut t = (k as u128 * num / (den * out_fps as u128)) as u64;
        if let Some(n) = self.len {
            t %= n.max(1);
        }
        if t < self.index {
            self.reader = open_y4m(&self.path)?;
            self.index = 0;
            self.reader
                .read_frame_into(&mut self.frame)
                .with_context(|| format!("{}", self.path.display()))?;
        }
        while self.index < t {
            let more = self
                .reader
                .read_frame_into(&mut self.frame)
                .with_context(|| format!("{}", self.path.display()))?;
            if !more {
                // End of clip: now we know its length; loop.
                let n = self.index + 1;
                self.len = Some(n);
                return self.at(k, out_fps);
            }
            self.index += 1;
        }
        Ok(())
    }
}

fn open_y4m(path: &Path) -> Result<Y4mReader<BufReader<File>>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Y4mReader::new(BufReader::new(f)).with_context(|| format!("{}", path.display()))
}

#[allow(clippy::too_many_arguments)]
fn render(
    scene: &str,
    inputs: &[String],
    size: &str,
    frames: Option<u64>,
    fps: u32,
    segment: SegmentMode,
    model: Option<&Path>,
    ml: &MlArgs,
    out: &str,
) -> Result<()> {
    let (w, h) = output_size(size)?;
    check_fps(fps)?;
    if frames == Some(0) {
        bail!("--frames must be at least 1");
    }
    let scene = Scene::open(scene, &SceneLimits::default())?;
    let options = CompositorOptions::default().with_size(w, h);
    let mut engine = Compositor::new(scene, options)?;
    engine.set_segmenter(segmenter_factory(segment, model, ml)?);
    let mut sources = Vec::new();
    for spec in inputs {
        let (id, path) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("--input {spec:?} must be ID=PATH"))?;
        let path = Path::new(path);
        let lower = path.to_string_lossy().to_ascii_lowercase();
        let source = if lower.ends_with(".y4m") {
            Source::Clip(Box::new(Clip::open(path)?))
        } else if lower.ends_with(".png") || lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
            Source::Still(load_image(
                path,
                (
                    together_mode::frame::MAX_DIMENSION,
                    together_mode::frame::MAX_DIMENSION,
                ),
            )?)
        } else {
            bail!("--input {spec:?}: PATH must be a .y4m clip or a .png/.jpg still");
        };
        engine
            .join(id, Role::Attendee)
            .with_context(|| format!("--input {spec:?}"))?;
        sources.push((id.to_string(), source));
    }
    let frames = match frames {
        Some(f) => f,
        None => {
            let mut longest = 1;
            for (_, s) in &mut sources {
                if let Source::Clip(c) = s {
                    longest = longest.max(c.output_len(fps)?);
                }
            }
            longest
        }
    };
    for (id, s) in &sources {
        if let Source::Still(f) = s {
            engine.push_ref(id, &f.as_ref(), 0)?;
        }
    }
    let mut sink = open_sink(out, w, h, fps, options.color)?;
    let pb = progress(frames);
    for k in 0..frames {
        for (id, s) in &mut sources {
            if let Source::Clip(c) = s {
                let before = c.index;
                c.at(k, fps)?;
                if k == 0 || c.index != before {
                    engine.push_ref(id, &c.frame.as_ref(), k as i64)?;
                }
            }
        }
        let frame = engine.render()?;
        sink.write(&frame)?;
        pb.inc(1);
    }
    sink.finish()?;
    pb.finish_and_clear();
    Ok(())
}

fn seating(scene: &str, participants: usize, scene_size: &str, size: &str) -> Result<()> {
    let (w, h) = output_size(size)?;
    let (sw, sh) = parse_size(scene_size).context("--scene-size")?;
    if sw == 0 || sh == 0 {
        bail!("--scene-size {sw}x{sh} has a zero side");
    }
    let scene = Scene::open(scene, &SceneLimits::default())?;
    let mut engine = Compositor::new(scene, CompositorOptions::default().with_size(w, h))?;
    for i in 0..participants {
        engine.join(&format!("8:acs:participant-{}", i + 1), Role::Attendee)?;
    }
    println!("{}", engine.seating_map((sw, sh)).to_json());
    Ok(())
}

/// CPU time (user + system) of this process so far, in milliseconds.
fn cpu_ms() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete rusage into the pointer it is given, which points to
    // a properly sized, writable MaybeUninit; on failure it writes nothing and we read zeros.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(ru.ru_utime) + ms(ru.ru_stime)
}

#[allow(clippy::too_many_arguments)]
fn bench(
    participants: usize,
    frames: u64,
    size: &str,
    seat_aspect: &str,
    segment: &str,
    changed: f64,
    serial: bool,
    rooms: usize,
    input_path: &str,
    ml: &BenchMl,
) -> Result<()> {
    use together_mode::workload::{Workload, WorkloadMatte};
    let (w, h) = output_size(size)?;
    let aspect = seat_aspect
        .split_once(':')
        .and_then(|(a, b)| Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?)))
        .with_context(|| format!("--seat-aspect {seat_aspect:?}: expected W:H, e.g. 16:9"))?;
    if participants == 0 || frames == 0 || rooms == 0 {
        bail!("--participants, --frames and --rooms must be at least 1");
    }
    if !(0.0..=1.0).contains(&changed) {
        bail!("--changed must be between 0 and 1, got {changed}");
    }
    let matte = match segment {
        "none" => WorkloadMatte::Constant,
        "opaque" => WorkloadMatte::Opaque,
        "alpha" => WorkloadMatte::PerPixel,
        "ml" => WorkloadMatte::Opaque,
        other => bail!("--segment {other:?}: bench supports none, opaque, alpha, ml"),
    };
    if segment != "ml"
        && (ml.model.is_some()
            || ml.budget_ms.is_some()
            || ml.input_side.is_some()
            || ml.args.ort_lib.is_some()
            || ml.args.backend != "tract")
    {
        bail!("--model, --backend, --ort-lib and --ml-* are only used with --segment ml");
    }
    let copy = match input_path {
        "move" => false,
        "copy" => true,
        other => bail!("--input-path {other:?}: use move or copy"),
    };
    if copy && (rooms != 1 || changed != 1.0) {
        bail!("--input-path copy measures one room with every participant changing");
    }
    let options = CompositorOptions::default().with_parallel(!serial);
    let mut loads = (0..rooms)
        .map(|_| Workload::with_seat_aspect(participants, w, h, aspect, matte, options))
        .collect::<Result<Vec<_>, _>>()?;
    let ml_stats = if segment == "ml" {
        if rooms != 1 || copy {
            bail!("--segment ml measures one room with --input-path move");
        }
        Some(bench_ml(ml, &mut loads[0])?)
    } else {
        None
    };
    // A participant k changes on tick t when its share of the ticks says so (evenly spread).
    let every = |t: u64, k: usize| -> bool {
        let c = changed * 1000.0;
        ((t as f64 * 7.0 + k as f64 * 1000.0 / participants as f64) % 1000.0) < c
    };
    let run = |loads: &mut Vec<Workload>, t: u64| -> Result<()> {
        let tick = |wl: &mut Workload| -> Result<(), together_mode::ComposeError> {
            wl.push_frames(|k| every(t, k))?;
            wl.engine().render()?;
            Ok(())
        };
        if rooms > 1 && !serial {
            use rayon::prelude::*;
            loads.par_iter_mut().try_for_each(tick)?;
        } else {
            loads.iter_mut().try_for_each(tick)?;
        }
        Ok(())
    };
    if copy {
        let wl = &mut loads[0];
        let mut measure = |render: bool| -> Result<(f64, f64)> {
            for _ in 0..30 {
                wl.copy_frames(render)?;
            }
            let (c0, t0) = (cpu_ms(), std::time::Instant::now());
            for _ in 0..frames {
                wl.copy_frames(render)?;
            }
            Ok((
                (cpu_ms() - c0) / frames as f64,
                t0.elapsed().as_secs_f64() * 1e3 / frames as f64,
            ))
        };
        let (src_cpu, src_wall) = measure(false)?;
        let (e2e_cpu, e2e_wall) = measure(true)?;
        let (cpu, wall) = (e2e_cpu - src_cpu, e2e_wall - src_wall);
        println!(
            "participants={participants} frames={frames} ms_per_frame={wall:.3} cpu_ms_per_frame={cpu:.3} fps={:.1} e2e_cpu_ms_per_frame={e2e_cpu:.3} src_cpu_ms_per_frame={src_cpu:.3} size={w}x{h} seat_aspect={}:{} segment={segment} input_path=copy threads={}",
            1e3 / wall,
            aspect.0,
            aspect.1,
            if serial { 1 } else { rayon::current_num_threads() }
        );
        return Ok(());
    }
    for t in 0..30 {
        run(&mut loads, t)?;
    }
    let ml0 = ml_stats.as_ref().map(|f| f());
    let (c0, t0) = (cpu_ms(), std::time::Instant::now());
    for t in 30..30 + frames {
        run(&mut loads, t)?;
    }
    let wall = t0.elapsed().as_secs_f64() * 1e3 / frames as f64;
    let cpu = (cpu_ms() - c0) / frames as f64;
    if let (Some(f), Some(before)) = (&ml_stats, ml0) {
        let after = f();
        let runs = after.runs - before.runs;
        // Network runs per seat per output frame, at 30 output frames a second.
        let hz = runs as f64 / (frames as f64 * after.seats.max(1) as f64) * 30.0;
        println!(
            "ml: seats={} seat={} input={} backend={} period={} refresh_hz_per_seat={hz:.2} runs={runs} ml_run_cpu_ms_per_tick={:.3} ml_frame_cpu_ms_per_tick={:.3} cpu_ms_per_run={:.3}",
            after.seats,
            after.seat,
            after.input,
            ml.args.backend,
            after.period,
            (after.run_ms - before.run_ms) / frames as f64,
            (after.frame_ms - before.frame_ms) / frames as f64,
            (after.run_ms - before.run_ms) / runs.max(1) as f64,
        );
    }
    println!(
        "participants={participants} frames={frames} ms_per_frame={wall:.3} cpu_ms_per_frame={cpu:.3} fps={:.1} size={w}x{h} seat_aspect={}:{} segment={segment} changed={changed} rooms={rooms} threads={}",
        1e3 / wall,
        aspect.0,
        aspect.1,
        if serial { 1 } else { rayon::current_num_threads() }
    );
    Ok(())
}

fn scenario(file: &Path, out: &Path) -> Result<()> {
    let report = together_mode::scenario::run_file(file, out)?;
    for (room, path) in &report.rooms {
        eprintln!("{room}: {}", path.display());
    }
    eprintln!(
        "{} ticks, {} events, {} refused operations: {}",
        report.ticks,
        report.events,
        report.refused,
        report.events_file.display()
    );
    Ok(())
}

#[cfg(not(feature = "ml"))]
fn segment_image(
    _input: &Path,
    _out: &Path,
    _model: Option<&Path>,
    _raw: bool,
    _repeat: usize,
    _ml: &MlArgs,
    _onnx_out: Option<&Path>,
) -> Result<()> {
    bail!("`together segment` needs the ML segmenter: rebuild with `--features ml`")
}

/// `together segment`: the selfie model on one image, at the model's native input size.
#[cfg(feature = "ml")]
fn segment_image(
    input: &Path,
    out: &Path,
    model: Option<&Path>,
    raw: bool,
    repeat: usize,
    ml: &MlArgs,
    onnx_out: Option<&Path>,
) -> Result<()> {
    use together_mode::frame::{PlaneMut, PlaneRef};
    use together_mode::segment::ml::{prob_to_matte, rgb8_to_input, SelfieModel};
    use together_mode::segment::refine::{RefineOptions, Refiner};

    let img = image::open(input)
        .with_context(|| format!("cannot read {}", input.display()))?
        .to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let model_path = match model {
        Some(p) => p.to_path_buf(),
        None if w * 3 > h * 4 => PathBuf::from("models/selfie_segmentation_landscape.tflite"),
        None => PathBuf::from("models/selfie_segmentation.tflite"),
    };
    let model = SelfieModel::from_file(&model_path)?;
    let (mw, mh) = model.native_size();
    if let Some(path) = onnx_out {
        write_onnx(&model, mw, mh, path)?;
    }
    let backend = ml_backend(ml)?;
    let mut runner = model.runner_on(backend, mw, mh, Default::default())?;
    rgb8_to_input(img.as_raw(), w, h, runner.input_mut(), mw, mh)?;
    runner.run()?;
    if repeat > 0 {
        // Process CPU time: it would also count any thread a runtime started.
        let start = cpu_time::ProcessTime::now();
        for _ in 0..repeat {
            runner.run()?;
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / repeat as f64;
        println!(
            "ms_per_mask={ms:.3} model={} input={mw}x{mh} backend={}",
            model_path.display(),
            ml.backend
        );
    }
    let prob = runner.output();
    let mut mask = vec![0u8; w * h];
    {
        let mut plane = PlaneMut::new(&mut mask, w, h, w)?;
        prob_to_matte(prob, mw, mh, &mut plane)?;
    }
    if !raw && mw <= w && mh <= h {
        // Refined: the model's mask at its own size, upsampled by the guided filter along
        // the image's luma edges (BT.601 luma of the RGB input).
        let luma: Vec<u8> = img
            .pixels()
            .map(|p| {
                let [r, g, b] = p.0.map(u32::from);
                ((77 * r + 150 * g + 29 * b + 128) >> 8) as u8
            })
            .collect();
        let coarse: Vec<u8> = prob
            .iter()
            .map(|&p| (p * 255.0 + 0.5).clamp(0.0, 255.0) as u8)
            .collect();
        let mut refiner = Refiner::new(RefineOptions::default().with_dead_band(0));
        let mut refined = vec![0u8; w * h];
        let ok = refiner.refine(
            &PlaneRef::new(&luma, w, h, w)?,
            &PlaneRef::new(&coarse, mw, mh, mw)?,
            &mut PlaneMut::new(&mut refined, w, h, w)?,
        );
        if ok {
            mask = refined;
        }
    }
    image::GrayImage::from_raw(w as u32, h as u32, mask)
        .context("mask buffer")?
        .save(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}
