//! Framing on real footage (issue 16): the clips of `scripts/make-clips.sh` (close, far,
//! offcentre, portrait, still) seated together in `builtin:auditorium` at 1920x1080 with the
//! default options (selfie model, framing auto), or with `--framing off`. After `FRAMES`
//! frames (default 60) it prints, per seat, the head the framing found (in source pixels),
//! the window the seat shows, the head's height as a fraction of the seat's height and the
//! head centre's horizontal offset from the seat's centre (fraction of the seat's width), and
//! the seat's rectangle in the output; and writes the last composite as a PNG.
//!
//! ```text
//! cargo run --example framing -- [auto|off] [OUT.png] [FRAMES]
//! ```
//!
//! Needs the model (`scripts/fetch-model.sh`) and the clips (`scripts/make-clips.sh`).

use std::path::Path;

use together_mode::framing::FramingMode;
use together_mode::io::{save_png, Y4mReader};
use together_mode::{Compositor, CompositorOptions, Role, Scene};

const CLIPS: [&str; 5] = ["close", "far", "offcentre", "portrait", "still"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode: FramingMode = args.first().map_or("auto", String::as_str).parse()?;
    let out = args.get(1).map_or("target/framing.png", String::as_str);
    let frames: usize = args.get(2).map_or(Ok(60), |s| s.parse())?;
    let scene = Scene::open("builtin:auditorium", &Default::default())?;
    let options = CompositorOptions::default()
        .with_size(1920, 1080)
        .with_framing(mode);
    let mut engine = Compositor::new(scene, options)?;
    let mut readers = Vec::new();
    for name in CLIPS {
        let path = Path::new("footage/clips").join(format!("{name}.y4m"));
        let file = std::io::BufReader::new(std::fs::File::open(&path)?);
        readers.push((name, Y4mReader::new(file)?));
        engine.join(name, Role::Attendee)?;
    }
    for k in 0..frames {
        for (name, r) in &mut readers {
            if let Some(f) = r.read_frame()? {
                engine.push(name, f, k as i64)?;
            }
        }
        engine.render()?;
    }
    println!("framing={mode} frames={frames}");
    for (name, _) in &readers {
        let seat = engine.seating().seat_of(name).ok_or("not seated")?;
        let rect = engine.layout().seat_rect(seat).ok_or("no seat")?;
        let seat_s = format!(
            "seat={seat} rect={},{},{},{}",
            rect.x, rect.y, rect.width, rect.height
        );
        match engine.framing_of(name) {
            Some((head, win)) => println!(
                "{name}: {seat_s} head=cx {:.1} top {:.1} w {:.1} h {:.1} window={:.1},{:.1},{:.1},{:.1} head_fraction={:.3} offset={:+.3}",
                head.cx,
                head.top,
                head.width,
                head.height,
                win.x,
                win.y,
                win.width,
                win.height,
                head.height / win.height,
                (head.cx - win.centre().0) / win.width,
            ),
            None => println!("{name}: {seat_s} no head estimate (centre crop)"),
        }
    }
    let frame = engine.render()?;
    save_png(Path::new(out), &frame)?;
    println!("wrote {out}");
    Ok(())
}
