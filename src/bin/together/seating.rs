//! `together seating`: the ACS seating map (JSON) of a scene for N participants.

use anyhow::Result;

use together_mode::scene::SceneLimits;
use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};

use crate::args;

/// `together seating`.
#[derive(clap::Args, Debug)]
pub struct SeatingArgs {
    /// Scene folder, scene zip, Teams app package (zip or folder; PATH#ID-OR-NAME picks a
    /// scene) or builtin:NAME.
    #[arg(long)]
    scene: String,
    /// Number of participants (ids 8:acs:participant-1 ...).
    #[arg(long)]
    participants: usize,
    /// The CSS box the stream is shown in.
    #[arg(long, value_name = "WxH", default_value = "1280x720", value_parser = args::nonzero_size)]
    scene_size: (u32, u32),
    /// Output (stream) size.
    #[arg(long, value_name = "WxH", default_value = "1920x1080", value_parser = args::output_size)]
    size: (u32, u32),
    /// autoZoom: on (zoom onto the occupied seats when few are taken) or off; default: the
    /// scene's own `autoZoom` (false for the built-in scenes).
    #[arg(long, value_name = "on|off", value_parser = args::auto_zoom())]
    auto_zoom: Option<bool>,
}

/// Runs `together seating`.
pub fn run(a: &SeatingArgs) -> Result<()> {
    let (w, h) = a.size;
    let scene = Scene::open(&a.scene, &SceneLimits::default())?;
    // Seating only: no frames are drawn, so no segmenter (and no model) is needed.
    let options = CompositorOptions::default()
        .with_size(w, h)
        .with_segment(SegmentMode::None)
        .with_auto_zoom(a.auto_zoom);
    let mut engine = Compositor::new(scene, options)?;
    for i in 0..a.participants {
        engine.join(&format!("8:acs:participant-{}", i + 1), Role::Attendee)?;
    }
    println!("{}", engine.seating_map(a.scene_size).to_json());
    Ok(())
}
