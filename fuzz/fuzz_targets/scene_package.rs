//! Teams scene packages (scene.json plus PNG assets) from arbitrary bytes, loaded in memory
//! with the default (Teams) limits; whatever loads is laid out and rendered at a small size.
//!
//! Two shapes of input: raw (the bytes split into scene.json and files, for the JSON parser
//! and the PNG checks), and structured (a scene.json built from fuzzed numbers, including
//! non-finite, huge, tiny and negative ones, with real PNGs of fuzzed sizes that may be cut
//! short or corrupted), which reaches the geometry checks and the layout.
#![no_main]

use std::collections::HashMap;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use together_mode::frame::{Frame, PixelFormat};
use together_mode::scene::SceneLimits;
use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};

#[derive(Arbitrary, Debug)]
struct Num {
    kind: u8,
    v: f64,
    small: i16,
}

impl Num {
    /// Mostly small ordinary numbers; sometimes the extremes.
    fn value(&self) -> serde_json::Value {
        let x = match self.kind % 8 {
            0 => self.v,
            1 => 1e9 * f64::from(self.small.signum()),
            2 => f64::from(self.small) * 1e-300,
            3 => f64::from(self.small) * 1e7,
            _ => f64::from(self.small) / 16.0,
        };
        // JSON has no NaN or infinity: those become null (a type error for the loader).
        serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

#[derive(Arbitrary, Debug)]
struct RectSpec {
    cx: Num,
    cy: Num,
    w: Num,
    h: Num,
    z: i8,
    order: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Png {
    width: u8,
    height: u8,
    color: u8,
    /// Cut the file to this many bytes (when `cut`).
    cut: bool,
    keep: u16,
    /// Overwrite one byte.
    flip: Option<(u16, u8)>,
}

#[derive(Arbitrary, Debug)]
struct Structured {
    extent: [Num; 4],
    seats: Vec<RectSpec>,
    sprites: Vec<(RectSpec, u8, bool)>,
    pngs: Vec<Png>,
    mirror: bool,
    out: (u8, u8),
}

const NAMES: [&str; 8] = [
    "a.png",
    "b.PNG",
    "./a.png",
    "dir/c.png",
    "../a.png",
    "/a.png",
    "a.jpg",
    "missing.png",
];

fn png_bytes(p: &Png) -> Vec<u8> {
    let (w, h) = (u32::from(p.width % 40), u32::from(p.height % 40));
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([x as u8 ^ p.color, y as u8, p.color, p.color.wrapping_mul(3)])
    });
    let mut out = Vec::new();
    if img
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .is_err()
    {
        out = b"\x89PNG\r\n\x1a\n".to_vec();
    }
    if p.cut {
        out.truncate(p.keep as usize);
    }
    if let Some((at, b)) = p.flip {
        let n = out.len().max(1);
        if let Some(x) = out.get_mut(at as usize % n) {
            *x = b;
        }
    }
    out
}

fn rect_json(r: &RectSpec) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("cx".into(), r.cx.value());
    m.insert("cy".into(), r.cy.value());
    m.insert("width".into(), r.w.value());
    m.insert("height".into(), r.h.value());
    m.insert("zOrder".into(), r.z.into());
    if let Some(o) = r.order {
        m.insert("seatingOrder".into(), o.into());
    }
    m
}

fn structured(s: &Structured) -> (Vec<u8>, HashMap<String, Vec<u8>>) {
    let mut files = HashMap::new();
    for (i, p) in s.pngs.iter().take(4).enumerate() {
        let name = ["a.png", "b.PNG", "dir/c.png", "d.png"][i];
        files.insert(name.to_string(), png_bytes(p));
    }
    let seats: Vec<serde_json::Value> = s
        .seats
        .iter()
        .take(64)
        .map(|r| rect_json(r).into())
        .collect();
    let sprites: Vec<serde_json::Value> = s
        .sprites
        .iter()
        .take(8)
        .map(|(r, name, alpha)| {
            let mut m = rect_json(r);
            m.insert(
                "filename".into(),
                NAMES[*name as usize % NAMES.len()].into(),
            );
            m.insert("isAlpha".into(), (*alpha).into());
            m.into()
        })
        .collect();
    let json = serde_json::json!({
        "protocolVersion": "1.0",
        "id": "fuzz",
        "mirrorParticipants": s.mirror,
        "extent": {
            "left": s.extent[0].value(),
            "top": s.extent[1].value(),
            "width": s.extent[2].value(),
            "height": s.extent[3].value(),
        },
        "sprites": sprites,
        "participants": seats,
    });
    (json.to_string().into_bytes(), files)
}

/// Separates scene.json and the files of a raw input (PNGs hold NUL bytes, so not NUL).
const SEPARATOR: &[u8] = b"--8<--";

/// Raw: scene.json up to the first separator, then files separated likewise, named in turn.
fn raw(data: &[u8]) -> (Vec<u8>, HashMap<String, Vec<u8>>) {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        parts.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    parts.push(rest);
    let json = parts.first().copied().unwrap_or_default().to_vec();
    let files = parts
        .iter()
        .skip(1)
        .zip(["a.png", "b.PNG", "dir/c.png", "d.png"])
        .map(|(bytes, name)| (name.to_string(), bytes.to_vec()))
        .collect();
    (json, files)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut out = (64, 36);
    let (json, files) = if mode % 2 == 0 {
        raw(rest)
    } else {
        let Ok(s) = Structured::arbitrary(&mut Unstructured::new(rest)) else {
            return;
        };
        out = (
            2 * (1 + u32::from(s.out.0) % 100),
            2 * (1 + u32::from(s.out.1) % 60),
        );
        structured(&s)
    };
    let limits = SceneLimits::default();
    let Ok(scene) = Scene::load_from_memory(&json, &files, &limits) else {
        return;
    };
    // What loads is valid by the scene's own rules.
    scene.validate(&limits).expect("a loaded scene validates");
    for sprite in &scene.sprites {
        let img = &sprite.image;
        assert!(img.width() % 2 == 0 && img.height() % 2 == 0);
        assert!(img.width() <= limits.max_image_width && img.height() <= limits.max_image_height);
    }
    let options = CompositorOptions::default()
        // The frames' own alpha (the default, `auto`, needs the selfie model).
        .with_segment(SegmentMode::Alpha)
        .with_size(out.0, out.1)
        .with_parallel(false);
    let mut engine = Compositor::new(scene, options).expect("a loaded scene lays out");
    for i in 0..3 {
        let _ = engine.join(&format!("8:acs:{i}"), Role::Attendee);
        let f = Frame::black(PixelFormat::I420, 8, 6, Default::default()).expect("8x6");
        let _ = engine.push(&format!("8:acs:{i}"), f, 0);
    }
    engine.render().expect("render");
    let _ = engine.seating_map((1280, 720)).to_json();
});
