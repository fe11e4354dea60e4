//! Framing on real footage (issue 16): the clips of `scripts/make-clips.sh` seated together in
//! `builtin:auditorium` at 1920x1080 with the default options (selfie model, framing auto).
//! After 60 frames the head each seat's framing found is compared with the clip's head as
//! measured by eye (`footage/clips/clips.json`: head height as a fraction of the frame's
//! height, face centre as a fraction of its width), and the window on the `still` clip (a
//! still image with fresh sensor noise every frame) must stay within 0.5 px over its last 30
//! frames.
//!
//! Needs the model (`scripts/fetch-model.sh`) and the clips (`scripts/make-clips.sh`): skips
//! with a message when they are missing, fails under `CI`.
#![cfg(feature = "ml")]

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use together_mode::io::Y4mReader;
use together_mode::segment::ml::{MlShared, ScheduleOptions, SelfieModel};
use together_mode::Role;

mod common;
use common::record::auditorium;

/// name, head height (fraction of the frame's height), face centre x (fraction of its width),
/// from clips.json. `far` (a tenth of the frame's height) is found by the network's zoomed
/// search (MediaPipe's whole-frame run finds nobody there).
const CLIPS: [(&str, f32, f32); 5] = [
    ("close", 0.714, 0.492),
    ("far", 0.136, 0.491),
    ("offcentre", 0.444, 0.872),
    ("portrait", 0.563, 0.512),
    ("still", 0.332, 0.439),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn framing_finds_the_heads_of_real_people_and_holds_still() {
    let model = root().join("models/selfie_segmentation.tflite");
    let clips = root().join("footage/clips");
    let names = CLIPS.iter().map(|c| c.0);
    let missing: Vec<String> = std::iter::once(model.clone())
        .chain(names.clone().map(|c| clips.join(format!("{c}.y4m"))))
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        let msg = format!(
            "missing {} (run scripts/fetch-model.sh and scripts/make-clips.sh)",
            missing.join(", ")
        );
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    }
    let shared = MlShared::new(
        SelfieModel::from_file(&model).unwrap(),
        ScheduleOptions::default(),
    );
    let mut engine = auditorium(1920, 1080, shared.factory());
    let mut readers = Vec::new();
    for name in names {
        let f = File::open(clips.join(format!("{name}.y4m"))).unwrap();
        readers.push((name, Y4mReader::new(BufReader::new(f)).unwrap()));
        engine.join(name, Role::Attendee).unwrap();
    }
    let mut still_windows = Vec::new();
    for k in 0..60 {
        for (name, r) in &mut readers {
            let f = r.read_frame().unwrap().unwrap();
            engine.push(name, f, k).unwrap();
        }
        engine.render().unwrap();
        if k >= 30 {
            still_windows.push(engine.framing_of("still").unwrap().1);
        }
    }
    for (name, head_frac, centre_x) in CLIPS {
        let (head, win) = engine
            .framing_of(name)
            .unwrap_or_else(|| panic!("{name}: no head found"));
        let (fw, fh) = match name {
            "close" => (256.0, 224.0),
            "portrait" => (180.0, 320.0),
            "still" => (256.0, 256.0),
            _ => (480.0, 270.0),
        };
        eprintln!(
            "{name}: head {:.3} of the frame's height (by eye {head_frac}), centre {:.3} of its width (by eye {centre_x}); in the seat {:.3} of its height, offset {:+.3}",
            head.height / fh,
            head.cx / fw,
            head.height / win.height,
            (head.cx - win.centre().0) / win.width
        );
        let ratio = head.height / (head_frac * fh);
        assert!(
            (0.75..=1.33).contains(&ratio),
            "{name}: head height off by {ratio}"
        );
        assert!(
            (head.cx / fw - centre_x).abs() <= 0.1,
            "{name}: head centre {} vs {centre_x}",
            head.cx / fw
        );
    }
    for pair in still_windows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let moved = [b.x - a.x, b.y - a.y, b.width - a.width, b.height - a.height]
            .iter()
            .fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(
            moved <= 0.5,
            "still: the window moved {moved} px: {a:?} -> {b:?}"
        );
    }
}

/// Cameras that deliver NV12, RGBA or BGRA (opaque) are framed as I420 ones are: the network
/// sees their whole frame (converted to I420 on the ticks it runs), so the off-centre man,
/// outside the centre crop, is found in each, at the same place.
#[test]
fn every_camera_format_is_framed() {
    use together_mode::frame::PixelFormat;
    let model = root().join("models/selfie_segmentation.tflite");
    let clip = root().join("footage/clips/offcentre.y4m");
    if !common::require_made(&[
        (model.as_path(), "scripts/fetch-model.sh"),
        (clip.as_path(), "scripts/make-clips.sh"),
    ]) {
        return;
    }
    let shared = MlShared::new(
        SelfieModel::from_file(&model).unwrap(),
        ScheduleOptions::default(),
    );
    let mut engine = auditorium(1280, 720, shared.factory());
    let formats = [
        ("i420", PixelFormat::I420),
        ("nv12", PixelFormat::Nv12),
        ("rgba", PixelFormat::Rgba),
        ("bgra", PixelFormat::Bgra),
    ];
    for (id, _) in formats {
        engine.join(id, Role::Attendee).unwrap();
    }
    let mut r = Y4mReader::new(BufReader::new(File::open(&clip).unwrap())).unwrap();
    for k in 0..20 {
        let f = r.read_frame().unwrap().unwrap();
        for (id, format) in formats {
            engine
                .push(id, f.as_ref().to_frame(format).unwrap(), k)
                .unwrap();
        }
        engine.render().unwrap();
    }
    let (reference, _) = engine
        .framing_of("i420")
        .expect("i420: the off-centre man is found");
    for (id, _) in &formats[1..] {
        let (head, _) = engine
            .framing_of(id)
            .unwrap_or_else(|| panic!("{id}: no head found (the network saw only the seat)"));
        eprintln!("{id}: head {head:?}; i420 {reference:?}");
        assert!(
            (head.cx - reference.cx).abs() <= 0.03 * 480.0
                && (head.height / reference.height - 1.0).abs() <= 0.1,
            "{id}: {head:?} vs i420 {reference:?}"
        );
    }
}
