//! Scene zips and Teams app packages from arbitrary bytes, read in memory by
//! `Scene::load_zip` with small limits (so the budgets are reached quickly).
//!
//! Two shapes of input: raw (the bytes are the zip), and structured (a real zip written with
//! the `zip` crate from fuzzed entries: names from a list with `../`, absolute, drive-letter,
//! backslash, duplicate-after-`.` and nested-zip names, stored or deflated, a manifest or a
//! scene.json, an inner zip; then up to 8 bytes overwritten anywhere, which reaches the
//! header, size, method and flag checks). Whatever loads is valid, lays out and renders.
#![no_main]

use std::io::{Cursor, Write};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use together_mode::scene::SceneLimits;
use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

const SCENE: &str = r#"{"extent": {"left": 0, "top": 0, "width": 16, "height": 9},
    "sprites": [{"filename": "a.png", "cx": 8, "cy": 4.5, "width": 16, "height": 9}],
    "participants": [{"cx": 8, "cy": 4.5, "width": 4, "height": 4}]}"#;

const MANIFEST: &str = r#"{"meetingExtensionDefinition": {"scenes": [
    {"id": "A", "name": "One", "file": "s.zip", "preview": "p.png", "maxAudience": 3,
     "seatsReservedForOrganizersOrPresenters": 1}]}}"#;

const NAMES: [&str; 12] = [
    "scene.json",
    "a.png",
    "./a.png",
    "dir/a.png",
    "../a.png",
    "/a.png",
    "C:/a.png",
    "a\\b.png",
    "manifest.json",
    "s.zip",
    "deeper.zip",
    "dir/",
];

#[derive(Arbitrary, Debug)]
struct Entry {
    name: u8,
    content: u8,
    deflate: bool,
    repeat: u16,
}

#[derive(Arbitrary, Debug)]
struct Structured {
    entries: Vec<Entry>,
    inner: Vec<Entry>,
    flips: Vec<(u16, u8)>,
    select: Option<bool>,
}

fn png() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(4, 2, |x, y| image::Rgba([x as u8, y as u8, 9, 255]));
    let mut out = Vec::new();
    let _ = img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

fn write_zip(entries: &[Entry], inner: Option<&[u8]>) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for e in entries.iter().take(12) {
        let name = NAMES[e.name as usize % NAMES.len()];
        let method = if e.deflate {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default().compression_method(method);
        if name.ends_with('/') {
            let _ = w.add_directory(name, options);
            continue;
        }
        let data = match e.content % 5 {
            0 => SCENE.as_bytes().to_vec(),
            1 => MANIFEST.as_bytes().to_vec(),
            2 => png(),
            3 => inner.map(<[u8]>::to_vec).unwrap_or_default(),
            // Runs of one byte: ratios up to the deflate maximum.
            _ => vec![e.content; usize::from(e.repeat) * 64],
        };
        if w.start_file(name, options).is_ok() {
            let _ = w.write_all(&data);
        }
    }
    w.finish().map(Cursor::into_inner).unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let limits = SceneLimits::default().with_max_scene_bytes(1 << 20);
    let (zip, select) = if mode % 2 == 0 {
        (rest.to_vec(), None)
    } else {
        let Ok(s) = Structured::arbitrary(&mut Unstructured::new(rest)) else {
            return;
        };
        let inner = write_zip(&s.inner, None);
        let mut zip = write_zip(&s.entries, Some(&inner));
        let n = zip.len().max(1);
        for &(at, b) in s.flips.iter().take(8) {
            if let Some(x) = zip.get_mut(usize::from(at) % n) {
                *x = b;
            }
        }
        let select = s.select.map(|by_id| if by_id { "a" } else { "One" });
        (zip, select)
    };
    let Ok(scene) = Scene::load_zip(&zip, select, &limits) else {
        return;
    };
    scene.validate(&limits).expect("a loaded scene validates");
    if let Some(m) = scene.max_audience {
        assert!((1..=50).contains(&m));
    }
    assert!(scene.reserved_seats <= 50);
    let options = CompositorOptions::default()
        .with_segment(SegmentMode::Alpha)
        .with_size(64, 36)
        .with_parallel(false);
    let mut engine = Compositor::new(scene, options).expect("a loaded scene lays out");
    let _ = engine.join("8:acs:0", Role::Attendee);
    engine.render().expect("render");
});
