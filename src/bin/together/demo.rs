//! `together demo`: builtin:auditorium (or another scene) with synthetic participants.

use anyhow::{bail, Result};

use together_mode::frame::{Frame, PixelFormat};
use together_mode::scene::SceneLimits;
use together_mode::segment::background::BackgroundOptions;
use together_mode::segment::SegmentMode;
use together_mode::synth::{Backdrop, SyntheticParticipant};
use together_mode::{Compositor, Role, Scene};

use crate::args::{self, PictureArgs};

/// `together demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Number of synthetic participants.
    #[arg(long, default_value_t = 9)]
    participants: usize,
    /// Output frames.
    #[arg(long, default_value = "150", value_parser = args::count::<u64>)]
    frames: u64,
    /// Output size WxH (even sides).
    #[arg(long, value_name = "WxH", default_value = "1920x1080", value_parser = args::output_size)]
    size: (u32, u32),
    /// Output frame rate.
    #[arg(long, default_value = "30", value_parser = args::fps)]
    fps: u32,
    /// Scene folder, scene zip, Teams app package (zip or folder; PATH#ID-OR-NAME picks a
    /// scene) or builtin:NAME.
    #[arg(long, default_value = "builtin:auditorium")]
    scene: String,
    /// How people are cut out: alpha (the default: the synthetic participants carry their
    /// own matte as alpha, which is what auto would choose too, so the demo needs no model),
    /// none, chroma (the participants stand in front of a green screen), background (the
    /// first 30 frames show their empty rooms, to learn from), ml or auto.
    #[arg(long, default_value = "alpha", value_parser = args::segment_mode())]
    segment: SegmentMode,
    #[command(flatten)]
    picture: PictureArgs,
    /// Where the frames go; the name chooses the format: a .y4m file or '-' (stdout) for
    /// I420 Y4M, or a PNG pattern like frames/%05d.png for one RGBA PNG per frame (opaque).
    #[arg(long)]
    out: String,
}

/// Runs `together demo`.
pub fn run(a: &DemoArgs) -> Result<()> {
    let (w, h) = a.size;
    let scene = Scene::open(&a.scene, &SceneLimits::default())?;
    if a.participants > scene.seats.len() {
        bail!(
            "--participants {}: the scene has only {} seats",
            a.participants,
            scene.seats.len()
        );
    }
    let options = a.picture.options((w, h));
    let segmenters = a.picture.segmenter(a.segment)?.factory()?;
    let mut engine = Compositor::with_segmenter(scene, options, segmenters)?;
    let backdrop = match a.segment {
        SegmentMode::Chroma => Backdrop::GreenScreen,
        _ => Backdrop::Room,
    };
    // The background model learns each room from the first frames: show them empty.
    let empty_frames = match a.segment {
        SegmentMode::Background => u64::from(BackgroundOptions::default().learn_frames),
        _ => 0,
    };
    let people: Vec<(String, SyntheticParticipant)> = (0..a.participants)
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
    let mut sink = args::open_sink(&a.out, (w, h), a.fps, options.color)?;
    let pb = args::progress(a.frames);
    let mut spare: Vec<Option<Frame>> = vec![None; people.len()];
    for k in 0..a.frames {
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
