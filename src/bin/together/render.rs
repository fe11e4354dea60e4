//! `together render`: a scene with participants from Y4M clips or still images.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use together_mode::framing::{FramingMode, FramingParseError};
use together_mode::io::ClipSource;
use together_mode::meeting::role_from_name;
use together_mode::scene::SceneLimits;
use together_mode::seating::{Reservation, ReservationParseError};
use together_mode::segment::{SegmentMode, SegmentModeError, SegmenterConfig};
use together_mode::{Compositor, Role, Scene};

use crate::args::{self, PictureArgs};

/// `together render`.
#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// Scene folder (scene.json + PNGs), scene zip, Teams app package (zip or folder;
    /// PATH#ID-OR-NAME picks a scene) or builtin:NAME.
    #[arg(long)]
    scene: String,
    /// ID=PATH: a participant and a .y4m clip (looped) or a PNG/JPEG still; repeatable,
    /// participants join in this order.
    #[arg(long = "input", value_name = "ID=PATH", required = true, value_parser = input)]
    inputs: Vec<Input>,
    /// Output size WxH (even sides).
    #[arg(long, value_name = "WxH", default_value = "1920x1080", value_parser = args::output_size)]
    size: (u32, u32),
    /// Output frames (default: the longest clip's length at --fps, or 1 for stills).
    #[arg(long, value_parser = args::count::<u64>)]
    frames: Option<u64>,
    /// Output frame rate.
    #[arg(long, default_value = "30", value_parser = args::fps)]
    fps: u32,
    /// How people are cut out: auto (the default: per participant, its alpha if its first
    /// frame has any, else the selfie model), ml (the selfie model), alpha (the inputs' own
    /// alpha), none (whole frames), chroma (green screen), background (a static camera; each
    /// seat stays empty while it learns the room from the clip's first 30 frames, which must
    /// show the empty room).
    #[arg(long, default_value = "auto", value_parser = args::segment_mode())]
    segment: SegmentMode,
    #[command(flatten)]
    picture: PictureArgs,
    /// ID=auto|off|X,Y,W,H: one input's own framing, over --framing (e.g. off for someone
    /// who frames themselves, or a crop of their frames); repeatable, ID as in --input.
    #[arg(long = "input-framing", value_name = "ID=MODE", value_parser = input_framing)]
    input_framings: Vec<InputFraming>,
    /// ID=MODE: one input's own --segment mode, over --segment (e.g. alpha for an input
    /// that carries its own matte in an ml run); repeatable, ID as in --input.
    #[arg(long = "input-segment", value_name = "ID=MODE", value_parser = input_segment)]
    input_segments: Vec<InputSegment>,
    /// ID=organizer|coOrganizer|presenter|attendee: one input's meeting role (default
    /// attendee); repeatable, ID as in --input. Organizers, co-organizers and presenters take
    /// reserved seats first.
    #[arg(long = "input-role", value_name = "ID=ROLE", value_parser = input_role)]
    input_roles: Vec<InputRole>,
    /// Seats reserved for organizers, co-organizers and presenters: N (the N lowest
    /// seatingOrders) or seats:I,J,... (seat indices); default none. An attendee who finds
    /// only reserved seats free waits: left out of the video, with a warning.
    #[arg(long, value_name = "N|seats:I,J,...", value_parser = reservation)]
    reserved_seats: Option<Reservation>,
    /// Where the frames go; the name chooses the format: a .y4m file or '-' (stdout) for
    /// I420 Y4M, or a PNG pattern like frames/%05d.png for one RGBA PNG per frame (opaque).
    #[arg(long)]
    out: String,
}

/// One `--input ID=PATH`.
#[derive(Debug, Clone)]
struct Input {
    /// The whole argument, for messages.
    spec: String,
    id: String,
    path: PathBuf,
}

/// A missing `=` in `--input`.
#[derive(Debug, thiserror::Error)]
#[error("must be ID=PATH")]
struct NotIdPath(String);

fn input(spec: &str) -> Result<Input, NotIdPath> {
    let (id, path) = spec
        .split_once('=')
        .ok_or_else(|| NotIdPath(spec.to_string()))?;
    Ok(Input {
        spec: spec.to_string(),
        id: id.to_string(),
        path: PathBuf::from(path),
    })
}

/// One `--input-framing ID=MODE`.
#[derive(Debug, Clone)]
struct InputFraming {
    id: String,
    mode: FramingMode,
}

/// A bad `--input-framing`.
#[derive(Debug, thiserror::Error)]
enum BadInputFraming {
    /// No `=`.
    #[error("must be ID=auto|off|X,Y,W,H")]
    NotIdMode,
    /// The mode does not parse.
    #[error(transparent)]
    Mode(#[from] FramingParseError),
}

fn input_framing(spec: &str) -> Result<InputFraming, BadInputFraming> {
    let (id, mode) = spec.split_once('=').ok_or(BadInputFraming::NotIdMode)?;
    Ok(InputFraming {
        id: id.to_string(),
        mode: args::framing_mode(mode)?,
    })
}

/// One `--input-segment ID=MODE`.
#[derive(Debug, Clone)]
struct InputSegment {
    id: String,
    mode: SegmentMode,
}

/// A bad `--input-segment`.
#[derive(Debug, thiserror::Error)]
enum BadInputSegment {
    /// No `=`.
    #[error("must be ID=MODE")]
    NotIdMode,
    /// Not a segment mode.
    #[error(transparent)]
    Mode(#[from] SegmentModeError),
}

fn input_segment(spec: &str) -> Result<InputSegment, BadInputSegment> {
    let (id, mode) = spec.split_once('=').ok_or(BadInputSegment::NotIdMode)?;
    Ok(InputSegment {
        id: id.to_string(),
        mode: mode.parse()?,
    })
}

/// One `--input-role ID=ROLE`.
#[derive(Debug, Clone)]
struct InputRole {
    id: String,
    role: Role,
}

/// A bad `--input-role`.
#[derive(Debug, thiserror::Error)]
#[error("must be ID=organizer|coOrganizer|presenter|attendee")]
struct BadInputRole;

fn input_role(spec: &str) -> Result<InputRole, BadInputRole> {
    let (id, role) = spec.split_once('=').ok_or(BadInputRole)?;
    Ok(InputRole {
        id: id.to_string(),
        role: role_from_name(role).ok_or(BadInputRole)?,
    })
}

fn reservation(spec: &str) -> Result<Reservation, ReservationParseError> {
    spec.parse()
}

/// The clip frame shown at output frame `k` of an `out_fps` output (time `k / out_fps`).
fn clip_index(k: u64, clip_fps: (u32, u32), out_fps: u32) -> u64 {
    let (num, den) = (u128::from(clip_fps.0), u128::from(clip_fps.1));
    (u128::from(k) * num / (den * u128::from(out_fps))) as u64
}

/// Output frames a clip of `n` frames lasts at `out_fps` (at least one).
fn output_len(n: u64, clip_fps: (u32, u32), out_fps: u32) -> u64 {
    let (num, den) = (u128::from(clip_fps.0), u128::from(clip_fps.1));
    ((u128::from(n) * den * u128::from(out_fps)).div_ceil(num)).max(1) as u64
}

/// Runs `together render`.
pub fn run(a: &RenderArgs) -> Result<()> {
    let (w, h) = a.size;
    let scene = Scene::open(&a.scene, &SceneLimits::default())?;
    let options = a.picture.options((w, h));
    let segmenters = a.picture.segmenter(a.segment)?.factory()?;
    let mut engine = Compositor::with_segmenter(scene, options, segmenters)?;
    if let Some(r) = &a.reserved_seats {
        engine
            .set_reservation(r.clone())
            .context("--reserved-seats")?;
    }
    for (i, r) in a.input_roles.iter().enumerate() {
        if !a.inputs.iter().any(|input| input.id == r.id) {
            bail!("--input-role {}: no --input has the id {:?}", r.id, r.id);
        }
        if a.input_roles[..i].iter().any(|g| g.id == r.id) {
            bail!("--input-role {}: given twice", r.id);
        }
    }
    let mut sources = Vec::with_capacity(a.inputs.len());
    for input in &a.inputs {
        let context = || format!("--input {:?}", input.spec);
        let source = ClipSource::open(&input.path).with_context(context)?;
        let role = a
            .input_roles
            .iter()
            .find(|r| r.id == input.id)
            .map_or(Role::Attendee, |r| r.role);
        let full = !engine.seating().has_room_for(role);
        if full && engine.seating().has_room_for(Role::Organizer) {
            eprintln!(
                "warning: --input {:?}: only seats reserved for organizers and presenters are free; it waits (not shown)",
                input.spec
            );
            continue;
        }
        engine.join(&input.id, role).with_context(context)?;
        sources.push((input, source));
    }
    for (i, f) in a.input_framings.iter().enumerate() {
        if !a.inputs.iter().any(|input| input.id == f.id) {
            bail!("--input-framing {}: no --input has the id {:?}", f.id, f.id);
        }
        if a.input_framings[..i].iter().any(|g| g.id == f.id) {
            bail!("--input-framing {}: given twice", f.id);
        }
        if engine.seating().seat_of(&f.id).is_some() {
            engine.set_framing(&f.id, Some(f.mode))?;
        }
    }
    for (i, g) in a.input_segments.iter().enumerate() {
        if !a.inputs.iter().any(|input| input.id == g.id) {
            bail!("--input-segment {}: no --input has the id {:?}", g.id, g.id);
        }
        if a.input_segments[..i].iter().any(|o| o.id == g.id) {
            bail!("--input-segment {}: given twice", g.id);
        }
        if engine.seating().seat_of(&g.id).is_some() {
            let context = || format!("--input-segment {}", g.id);
            let config = if g.mode.uses_model() {
                a.picture.segmenter(g.mode).with_context(context)?
            } else {
                SegmenterConfig {
                    mode: g.mode,
                    ..SegmenterConfig::default()
                }
            };
            let factory = config.factory().with_context(context)?;
            engine.set_segmenter_of(&g.id, Some(factory))?;
        }
    }
    let frames = match a.frames {
        Some(f) => f,
        None => {
            let mut longest = 1;
            for (input, s) in &mut sources {
                if let Some(clip_fps) = s.fps() {
                    let n = s
                        .frame_count()
                        .with_context(|| format!("--input {:?}", input.spec))?;
                    longest = longest.max(output_len(n, clip_fps, a.fps));
                }
            }
            longest
        }
    };
    for (input, s) in &sources {
        if s.is_still() {
            engine.push_ref(&input.id, &s.frame().as_ref(), 0)?;
        }
    }
    let mut sink = args::open_sink(&a.out, (w, h), a.fps, options.color)?;
    let pb = args::progress(frames);
    for k in 0..frames {
        for (input, s) in &mut sources {
            if let Some(clip_fps) = s.fps() {
                let changed = s
                    .seek(clip_index(k, clip_fps, a.fps))
                    .with_context(|| format!("--input {:?}", input.spec))?;
                if k == 0 || changed {
                    engine.push_ref(&input.id, &s.frame().as_ref(), k as i64)?;
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
