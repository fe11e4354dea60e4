//! `together`: render together-mode video from scenes and participant clips.
//!
//! ```text
//! together demo [--participants N] [--frames N] [--size WxH] --out OUT
//! together render --scene DIR|builtin:NAME --input ID=PATH ... [--size WxH] [--frames N] [--fps R] --out OUT
//! together seating --scene DIR|builtin:NAME --participants N [--scene-size WxH] [--size WxH]
//! ```
//! OUT is a .y4m file, `-` (Y4M on stdout) or a PNG pattern such as `frames/%05d.png`.

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
use together_mode::synth::SyntheticParticipant;
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
        /// .y4m file, '-' for stdout, or a PNG pattern like frames/%05d.png.
        #[arg(long)]
        out: String,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo {
            participants,
            frames,
            size,
            fps,
            scene,
            out,
        } => demo(participants, frames, &size, fps, &scene, &out),
        Command::Render {
            scene,
            inputs,
            size,
            frames,
            fps,
            out,
        } => render(&scene, &inputs, &size, frames, fps, &out),
        Command::Seating {
            scene,
            participants,
            scene_size,
            size,
        } => seating(&scene, participants, &scene_size, &size),
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

fn demo(
    participants: usize,
    frames: u64,
    size: &str,
    fps: u32,
    scene: &str,
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
    let people: Vec<(String, SyntheticParticipant)> = (0..participants)
        .map(|i| {
            (
                format!("8:acs:synthetic-{}", i + 1),
                SyntheticParticipant::new(i as u64 + 1, 640, 360),
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
            person.render(k, &mut f);
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

fn render(
    scene: &str,
    inputs: &[String],
    size: &str,
    frames: Option<u64>,
    fps: u32,
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
