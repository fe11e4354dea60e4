//! The bad-input corpus: hostile scene packages, stills, Y4M streams, frames and command
//! lines, each made here by the test itself, each refused with a typed error that names what
//! was wrong (checked on the variant and its payload). Scene packages run through both
//! loaders, on disk and in memory, which must agree. Hostile geometry is measured: it may
//! cost no more than the pixels it really covers.
//!
//! What this file does not repeat: the scene checks in tests/scene_package.rs, the Y4M header
//! grammar in src/io/y4m.rs and the CLI cases in tests/cli.rs.

use std::collections::HashMap;
use std::fs;
use std::io::Cursor;

mod common;
use common::alloc::allocated_by;
use common::{png, TestDir};

use together_mode::error::{ComposeError, FrameError, IoError, SceneError, SizeError, ZipRefusal};
use together_mode::frame::{ColorSpec, Frame, FrameRef, PixelFormat, PlaneRef, MAX_DIMENSION};
use together_mode::geometry::{check_output_size, parse_size, Extent, WorldRect};
use together_mode::io::{load_image, Y4mReader};
use together_mode::scene::{RgbaImage, SceneLimits, Seat, Sprite};
use together_mode::SegmentMode;
use together_mode::{Compositor, CompositorOptions, Role, Scene};

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

// ---------------------------------------------------------------------------------------------
// Making hostile files.

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 9]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// Scene packages: one table, both loaders.

/// What a package must produce.
#[derive(Debug)]
enum Expect {
    /// Loads.
    Ok,
    /// `SceneError::Json` whose message mentions this.
    Json(&'static str),
    /// `SceneError::BadNumber` for this field (and value, when not NaN-like).
    BadNumber(&'static str, f64),
    TooManySeats(usize, usize),
    TooManySprites(usize),
    OutOfExtent(&'static str, usize),
    PathEscapes(&'static str),
    NotPng(&'static str),
    BadImageSize(u32, u32),
    Decode(&'static str),
    NotFound,
    FileTooLarge(&'static str),
    NoSeats,
}

fn check(case: &str, how: &str, got: Result<Scene, SceneError>, want: &Expect) {
    let ok = match (&got, want) {
        (Ok(_), Expect::Ok) => true,
        (Err(SceneError::Json(m)), Expect::Json(s)) => m.contains(s),
        (Err(SceneError::BadNumber { field, value }), Expect::BadNumber(f, v)) => {
            field == f && (value == v || (value.is_nan() && v.is_nan()))
        }
        (Err(SceneError::TooManySeats { count, max }), Expect::TooManySeats(c, m)) => {
            (count, max) == (c, m)
        }
        (Err(SceneError::TooManySprites { count, .. }), Expect::TooManySprites(c)) => count == c,
        (Err(SceneError::OutOfExtent { what, index, .. }), Expect::OutOfExtent(w, i)) => {
            (what, index) == (w, i)
        }
        (Err(SceneError::PathEscapes(n)), Expect::PathEscapes(m)) => n == m,
        (Err(SceneError::NotPng(n)), Expect::NotPng(m)) => n == m,
        (Err(SceneError::BadImageSize { width, height, .. }), Expect::BadImageSize(w, h)) => {
            (width, height) == (w, h)
        }
        (Err(SceneError::Decode { name, .. }), Expect::Decode(n)) => name == n,
        (Err(SceneError::Io { source, .. }), Expect::NotFound) => {
            source.kind() == std::io::ErrorKind::NotFound
        }
        (Err(SceneError::FileTooLarge { name, .. }), Expect::FileTooLarge(n)) => name == n,
        (Err(SceneError::NoSeats), Expect::NoSeats) => true,
        _ => false,
    };
    assert!(ok, "{case} ({how}): expected {want:?}, got {got:?}");
    if let Err(e) = got {
        // Every error formats to one line.
        let msg = e.to_string();
        assert!(!msg.is_empty() && !msg.contains('\n'), "{case}: {msg:?}");
    }
}

const SEAT: &str = r#"{"cx": 0, "cy": 0, "width": 2, "height": 2}"#;

/// scene.json with an extent of 16x9 around the origin.
fn scene(sprites: &str, seats: &str) -> String {
    format!(
        r#"{{"extent": {{"left": -8, "top": -4.5, "width": 16, "height": 9}},
            "sprites": [{sprites}], "participants": [{seats}]}}"#
    )
}

fn sprite_named(name: &str) -> String {
    format!(r#"{{"filename": "{name}", "cx": 0, "cy": 0, "width": 16, "height": 9}}"#)
}

fn seat_json(cx: &str, cy: &str, w: &str, h: &str) -> String {
    format!(r#"{{"cx": {cx}, "cy": {cy}, "width": {w}, "height": {h}}}"#)
}

struct Case {
    name: &'static str,
    json: String,
    files: Vec<(&'static str, Vec<u8>)>,
    limits: SceneLimits,
    expect: Expect,
}

fn case(name: &'static str, json: String, expect: Expect) -> Case {
    Case {
        name,
        json,
        files: Vec::new(),
        limits: SceneLimits::default(),
        expect,
    }
}

fn with_files(mut c: Case, files: Vec<(&'static str, Vec<u8>)>) -> Case {
    c.files = files;
    c
}

fn scene_cases() -> Vec<Case> {
    let seats = |n: usize| vec![SEAT; n].join(",");
    // An extent with one field replaced, around one seat.
    let bad_extent = |field: &str, v: &str| {
        let value = |f: &str, default: &str| {
            if f == field {
                v.to_string()
            } else {
                default.to_string()
            }
        };
        format!(
            r#"{{"extent": {{"left": {}, "top": {}, "width": {}, "height": {}}},
                "participants": [{{"cx": 1, "cy": 1, "width": 1, "height": 1}}]}}"#,
            value("left", "0"),
            value("top", "0"),
            value("width", "16"),
            value("height", "9"),
        )
    };
    vec![
        // Missing fields.
        case("no extent", format!(r#"{{"participants": [{SEAT}]}}"#), Expect::Json("extent")),
        case(
            "extent without height",
            format!(r#"{{"extent": {{"left": 0, "top": 0, "width": 1}}, "participants": [{SEAT}]}}"#),
            Expect::Json("height"),
        ),
        case("seat without cx", scene("", r#"{"cy": 0, "width": 2, "height": 2}"#), Expect::Json("cx")),
        case(
            "sprite without filename",
            scene(r#"{"cx": 0, "cy": 0, "width": 2, "height": 2}"#, SEAT),
            Expect::Json("filename"),
        ),
        case("no participants key", r#"{"extent": {"left": 0, "top": 0, "width": 1, "height": 1}}"#.into(), Expect::NoSeats),
        // Wrong types.
        case("extent is a string", format!(r#"{{"extent": "0 0 16 9", "participants": [{SEAT}]}}"#), Expect::Json("")),
        case("extent is a short array", format!(r#"{{"extent": [0, 0, 16], "participants": [{SEAT}]}}"#), Expect::Json("")),
        case(
            "participants is an object",
            r#"{"extent": {"left": 0, "top": 0, "width": 1, "height": 1}, "participants": {"cx": 0}}"#.into(),
            Expect::Json(""),
        ),
        case("width is a string", scene("", &seat_json("0", "0", "\"2\"", "2")), Expect::Json("")),
        case("width is true", scene("", &seat_json("0", "0", "true", "2")), Expect::Json("")),
        case("cx is null (NaN written by a sloppy tool)", scene("", &seat_json("null", "0", "2", "2")), Expect::Json("")),
        case("zOrder is huge", scene("", r#"{"cx": 0, "cy": 0, "width": 2, "height": 2, "zOrder": 1e10}"#), Expect::Json("")),
        case("seatingOrder is negative", scene("", r#"{"cx": 0, "cy": 0, "width": 2, "height": 2, "seatingOrder": -5}"#), Expect::Json("")),
        case("filename is a number", scene(r#"{"filename": 7, "cx": 0, "cy": 0, "width": 2, "height": 2}"#, SEAT), Expect::Json("")),
        case("isAlpha is a string", scene(r#"{"filename": "a.png", "cx": 0, "cy": 0, "width": 2, "height": 2, "isAlpha": "yes"}"#, SEAT), Expect::Json("")),
        case("a NUL byte", format!("{}\u{0}", scene("", SEAT)), Expect::Json("")),
        case("trailing garbage", format!("{} {{}}", scene("", SEAT)), Expect::Json("trailing")),
        case("deeply nested", format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)), Expect::Json("recursion")),
        // Non-finite numbers (JSON has none; overflowing literals are refused).
        case("width overflows to infinity", scene("", &seat_json("0", "0", "1e999", "2")), Expect::Json("")),
        case("extent left -1e999", bad_extent("left", "-1e999"), Expect::Json("")),
        // Negative, zero and huge numbers.
        case("negative extent width", bad_extent("width", "-16"), Expect::BadNumber("extent.width", -16.0)),
        case("zero extent height", bad_extent("height", "0"), Expect::BadNumber("extent.height", 0.0)),
        case("huge extent left", bad_extent("left", "1e15"), Expect::BadNumber("extent.left", 1e15)),
        case("huge extent width", bad_extent("width", "2e9"), Expect::BadNumber("extent.width", 2e9)),
        case("negative seat width", scene("", &seat_json("0", "0", "-2", "2")), Expect::BadNumber("participants[0].width", -2.0)),
        case("zero seat height", scene("", &format!("{SEAT},{}", seat_json("0", "0", "2", "0"))), Expect::BadNumber("participants[1].height", 0.0)),
        case("negative zero seat width", scene("", &seat_json("0", "0", "-0.0", "2")), Expect::BadNumber("participants[0].width", 0.0)),
        case("huge seat cy", scene("", &seat_json("0", "-1e300", "2", "2")), Expect::BadNumber("participants[0].cy", -1e300)),
        case("huge sprite width", scene(r#"{"filename": "a.png", "cx": 0, "cy": 0, "width": 1e10, "height": 2}"#, SEAT), Expect::BadNumber("sprites[0].width", 1e10)),
        case("negative sprite height", scene(r#"{"filename": "a.png", "cx": 0, "cy": 0, "width": 2, "height": -1}"#, SEAT), Expect::BadNumber("sprites[0].height", -1.0)),
        // Zero-size and out-of-extent seats.
        case("seat past the right edge", scene("", &format!("{SEAT},{}", seat_json("8", "0", "2", "2"))), Expect::OutOfExtent("seat", 1)),
        case("seat above the top", scene("", &seat_json("0", "-5", "2", "2")), Expect::OutOfExtent("seat", 0)),
        case("seat larger than the extent", scene("", &seat_json("0", "0", "17", "2")), Expect::OutOfExtent("seat", 0)),
        case("seat far away", scene("", &seat_json("1e8", "0", "2", "2")), Expect::OutOfExtent("seat", 0)),
        // A wide, flat extent: the tolerance is per axis, so a seat cannot stick out 1000
        // units (1e15 output pixels) vertically on the strength of the extent's width.
        case(
            "seat out of a flat extent",
            r#"{"extent": {"left": 0, "top": 0, "width": 1e9, "height": 1e-9},
                "participants": [{"cx": 5e8, "cy": 0, "width": 1e9, "height": 1000}]}"#.into(),
            Expect::OutOfExtent("seat", 0),
        ),
        case(
            "seat of a tiny extent",
            r#"{"extent": {"left": 0, "top": 0, "width": 1e-300, "height": 1e-300},
                "participants": [{"cx": 5e-301, "cy": 5e-301, "width": 1e-300, "height": 1e-300}]}"#.into(),
            Expect::Ok,
        ),
        case("seat maps to no pixel", scene("", &seat_json("0", "0", "1e-12", "1e-12")), Expect::Ok),
        // Thousands of seats.
        case("5000 seats", scene("", &seats(5000)), Expect::TooManySeats(5000, 50)),
        Case {
            limits: SceneLimits::default().with_max_seats(5000),
            ..case("5000 seats, limit raised", scene("", &seats(5000)), Expect::Ok)
        },
        case("no seats", scene("", ""), Expect::NoSeats),
        with_files(
            case("1000 sprites", scene(&vec![sprite_named("a.png"); 1000].join(","), SEAT), Expect::TooManySprites(1000)),
            vec![("a.png", png::encoded(2, 2, 255))],
        ),
        // Asset paths that leave the folder.
        case("parent path", scene(&sprite_named("../a.png"), SEAT), Expect::PathEscapes("../a.png")),
        case("parent path inside a folder", scene(&sprite_named("x/../../a.png"), SEAT), Expect::PathEscapes("x/../../a.png")),
        case("parent path that comes back", scene(&sprite_named("x/../a.png"), SEAT), Expect::PathEscapes("x/../a.png")),
        case("absolute path", scene(&sprite_named("/etc/passwd.png"), SEAT), Expect::PathEscapes("/etc/passwd.png")),
        case("not a .png name", scene(&sprite_named("a.gif"), SEAT), Expect::NotPng("a.gif")),
        case("no extension", scene(&sprite_named("a"), SEAT), Expect::NotPng("a")),
        case("empty name", scene(&sprite_named(""), SEAT), Expect::NotPng("")),
        case("missing asset", scene(&sprite_named("gone.png"), SEAT), Expect::NotFound),
        // Asset contents.
        with_files(
            case("PNG header claiming 100000x100000", scene(&sprite_named("a.png"), SEAT), Expect::BadImageSize(100_000, 100_000)),
            vec![("a.png", png::claiming(100_000, 100_000))],
        ),
        with_files(
            case("PNG header claiming 0x2", scene(&sprite_named("a.png"), SEAT), Expect::BadImageSize(0, 2)),
            vec![("a.png", png::claiming(0, 2))],
        ),
        with_files(
            case("PNG header claiming 4x4 with no pixels", scene(&sprite_named("a.png"), SEAT), Expect::Decode("a.png")),
            vec![("a.png", png::claiming(4, 4))],
        ),
        with_files(
            case("JPEG named .png", scene(&sprite_named("a.png"), SEAT), Expect::NotPng("a.png")),
            vec![("a.png", jpeg(8, 8))],
        ),
        with_files(
            case("text named .png", scene(&sprite_named("a.png"), SEAT), Expect::NotPng("a.png")),
            vec![("a.png", b"just some text, no image".to_vec())],
        ),
        with_files(
            case("PNG without IHDR first", scene(&sprite_named("a.png"), SEAT), Expect::Decode("a.png")),
            vec![("a.png", png::without_ihdr())],
        ),
        with_files(
            case("PNG cut after its header", scene(&sprite_named("a.png"), SEAT), Expect::Decode("a.png")),
            vec![("a.png", png::encoded(32, 32, 255)[..40].to_vec())],
        ),
        with_files(
            case("PNG cut to 20 bytes", scene(&sprite_named("a.png"), SEAT), Expect::Decode("a.png")),
            vec![("a.png", png::encoded(32, 32, 255)[..20].to_vec())],
        ),
        with_files(
            case("PNG with a corrupt IDAT", scene(&sprite_named("a.png"), SEAT), Expect::Decode("a.png")),
            vec![("a.png", {
                let mut p = png::encoded(32, 32, 255);
                let n = p.len();
                for b in &mut p[n - 30..n - 14] {
                    *b ^= 0x5a;
                }
                p
            })],
        ),
        Case {
            limits: SceneLimits::default().with_max_image_bytes(100),
            ..with_files(
                case("asset over the byte limit", scene(&sprite_named("a.png"), SEAT), Expect::FileTooLarge("a.png")),
                vec![("a.png", png::encoded(64, 64, 255))],
            )
        },
        case(
            "scene.json over 1 MiB",
            format!("{}{}", scene("", SEAT), " ".repeat(1 << 20)),
            Expect::FileTooLarge("scene.json"),
        ),
        // A good package, to show the table can pass.
        with_files(
            case("good", scene(&format!("{},{}", sprite_named("a.png"), sprite_named("./a.png")), SEAT), Expect::Ok),
            vec![("a.png", png::encoded(4, 2, 255))],
        ),
    ]
}

#[test]
fn scene_packages_are_refused_with_typed_errors_on_disk_in_memory_and_zipped() {
    let cases = scene_cases();
    assert!(cases.len() >= 50, "the corpus shrank: {}", cases.len());
    for c in &cases {
        let dir = TestDir::new("pkg");
        // The package sits one level down so `../a.png` has something to find outside.
        let pkg = dir.path().join("pkg");
        fs::create_dir_all(&pkg).unwrap();
        dir.write("a.png", &png::encoded(2, 2, 255));
        dir.write("pkg/scene.json", c.json.as_bytes());
        for (name, bytes) in &c.files {
            dir.write(&format!("pkg/{name}"), bytes);
        }
        check(c.name, "disk", Scene::load(&pkg, &c.limits), &c.expect);

        let files: HashMap<String, Vec<u8>> = c
            .files
            .iter()
            .map(|(n, b)| (n.to_string(), b.clone()))
            .chain([("../a.png".to_string(), png::encoded(2, 2, 255))])
            .collect();
        check(
            c.name,
            "memory",
            Scene::load_from_memory(c.json.as_bytes(), &files, &c.limits),
            &c.expect,
        );

        // The same package as a scene zip: the same error, except that a missing file is
        // the zip's `Missing` and a size past the package budget may be refused from the
        // zip's headers.
        let got = Scene::load_zip(&zip_case(c), None, &c.limits);
        match (&got, &c.expect) {
            (
                Err(SceneError::Zip {
                    reason: ZipRefusal::Missing,
                    ..
                }),
                Expect::NotFound,
            ) => {}
            (
                Err(SceneError::Zip {
                    reason: ZipRefusal::TooLarge { .. },
                    ..
                }),
                Expect::FileTooLarge(_),
            ) => {}
            _ => check(c.name, "zip", got, &c.expect),
        }
    }
}

/// A case's scene.json and files as a deflated zip.
fn zip_case(c: &Case) -> Vec<u8> {
    use std::io::Write;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("scene.json", options).unwrap();
    w.write_all(c.json.as_bytes()).unwrap();
    for (name, bytes) in &c.files {
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[cfg(unix)]
#[test]
fn symlinks_to_devices_and_loops_are_refused() {
    use std::os::unix::fs::symlink;
    let dir = TestDir::new("links");
    dir.write(
        "scene.json",
        scene(&sprite_named("zero.png"), SEAT).as_bytes(),
    );
    // A link to an endless device: not a regular file inside the folder.
    symlink("/dev/zero", dir.path().join("zero.png")).unwrap();
    check(
        "link to /dev/zero",
        "disk",
        Scene::load(dir.path(), &SceneLimits::default()),
        &Expect::PathEscapes("zero.png"),
    );
    // A link loop.
    symlink(dir.path().join("loop2.png"), dir.path().join("loop1.png")).unwrap();
    symlink(dir.path().join("loop1.png"), dir.path().join("loop2.png")).unwrap();
    dir.write(
        "scene.json",
        scene(&sprite_named("loop1.png"), SEAT).as_bytes(),
    );
    assert!(matches!(
        Scene::load(dir.path(), &SceneLimits::default()),
        Err(SceneError::Io { .. })
    ));
    // scene.json itself a link to another folder: the package is the folder the link is in,
    // so assets next to the link's target are not found.
    let other = TestDir::new("other");
    other.write("a.png", &png::encoded(2, 2, 255));
    let target = other.write("scene.json", scene(&sprite_named("a.png"), SEAT).as_bytes());
    fs::remove_file(dir.path().join("scene.json")).unwrap();
    symlink(&target, dir.path().join("scene.json")).unwrap();
    check(
        "scene.json linked from elsewhere",
        "disk",
        Scene::load(dir.path(), &SceneLimits::default()),
        &Expect::NotFound,
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile geometry: a tick costs what it covers, no more.

fn tiny_image() -> std::sync::Arc<RgbaImage> {
    std::sync::Arc::new(RgbaImage::new(2, 2, vec![200; 16]).unwrap())
}

/// A 16x9 scene with one seat and the given sprites.
fn scene_with_sprites(rects: &[WorldRect]) -> Scene {
    Scene {
        id: "hostile".into(),
        protocol_version: String::new(),
        auto_zoom: false,
        mirror_participants: false,
        extent: Extent {
            left: -8.0,
            top: -4.5,
            width: 16.0,
            height: 9.0,
        },
        sprites: rects
            .iter()
            .enumerate()
            .map(|(i, r)| Sprite {
                name: format!("s{i}"),
                rect: *r,
                z_order: i as i32,
                is_alpha: i % 2 == 1,
                image: tiny_image(),
            })
            .collect(),
        seats: vec![Seat {
            rect: WorldRect {
                cx: 0.0,
                cy: 0.0,
                width: 4.0,
                height: 4.0,
            },
            z_order: 100,
            seating_order: 0,
        }],
        max_audience: None,
        reserved_seats: 0,
    }
}

/// Bytes allocated to build a compositor for `scene` at 320x180 and render one tick with one
/// participant (serial, so every allocation is on this thread).
fn cost(scene: Scene) -> Result<usize, ComposeError> {
    let frame = Frame::black(PixelFormat::I420, 64, 48, ColorSpec::default()).unwrap();
    let (r, bytes) = allocated_by(|| -> Result<(), ComposeError> {
        let options = CompositorOptions::default()
            .with_segment(SegmentMode::Alpha)
            .with_size(320, 180)
            .with_parallel(false);
        let mut engine = Compositor::new(scene, options)?;
        engine.join("8:acs:a", Role::Attendee)?;
        engine.push("8:acs:a", frame, 0)?;
        engine.render()?;
        Ok(())
    });
    r.map(|()| bytes)
}

fn rect(cx: f64, cy: f64, width: f64, height: f64) -> WorldRect {
    WorldRect {
        cx,
        cy,
        width,
        height,
    }
}

#[test]
fn huge_sprites_cost_what_they_cover() {
    // The same visible result, a sprite covering the whole output, three ways: just the
    // output, 1e9 world units (about 2e10 pixels), and 1e9 units whose edge is on screen.
    let baseline = cost(scene_with_sprites(&[rect(0.0, 0.0, 16.0, 9.0)])).unwrap();
    let cases = [
        ("1e9 units, centred", vec![rect(0.0, 0.0, 1e9, 1e9)]),
        (
            "1e9 units, corner on screen",
            vec![rect(5e8 - 4.0, 5e8 - 2.0, 1e9, 1e9)],
        ),
        (
            "1e9 units, far off screen",
            vec![rect(1e9, 1e9, 1e9, 1e9), rect(-1e9, -1e9, 1e9, 1e9)],
        ),
        (
            "64 sprites of 1e9 units",
            vec![rect(0.0, 0.0, 1e9, 1e9); 64],
        ),
        ("a sliver 1e-9 units wide", vec![rect(0.0, 0.0, 1e-9, 1e9)]),
    ];
    for (name, sprites) in cases {
        let n = sprites.len();
        let bytes = cost(scene_with_sprites(&sprites)).unwrap();
        // Each visible sprite may cost what the baseline's did, and nothing more.
        assert!(
            bytes <= baseline * n.max(1) + (64 << 10),
            "{name}: {bytes} bytes allocated, baseline {baseline}"
        );
    }
}

#[test]
fn extreme_extents_lay_out_within_the_output() {
    let extents = [
        Extent {
            left: 0.0,
            top: 0.0,
            width: 1e-300,
            height: 1e-300,
        },
        Extent {
            left: -1e9,
            top: -1e9,
            width: 1e9,
            height: 1e-9,
        },
        Extent {
            left: 5e8,
            top: 0.0,
            width: 1e-9,
            height: 1e9,
        },
    ];
    let baseline = cost(scene_with_sprites(&[])).unwrap();
    for e in extents {
        let mut s = scene_with_sprites(&[rect(e.left, e.top, 1e9, 1e9)]);
        s.extent = e;
        s.seats[0].rect = rect(
            e.left + e.width / 2.0,
            e.top + e.height / 2.0,
            e.width,
            e.height,
        );
        let bytes = cost(s).unwrap();
        // One full-output sprite and one full-output seat at most.
        assert!(
            bytes <= 3 * baseline + (1 << 20),
            "{e:?}: {bytes} bytes, baseline {baseline}"
        );
    }
}

#[test]
fn seats_valid_to_the_ulp_stay_inside_the_output() {
    // An extent 3e-8 wide at x = 5e8, where one ulp of f64 is 6e-8: this seat is inside the
    // extent as f64 arithmetic sees it, yet maps to 1272 pixels of a 320-pixel output. The
    // layout clips it; the seat renders at most output-sized.
    let json = r#"{"extent": {"left": 5e8, "top": 0, "width": 3e-8, "height": 9},
        "participants": [{"cx": 500000000.00000006, "cy": 4.5, "width": 6e-8, "height": 9}]}"#;
    let s =
        Scene::load_from_memory(json.as_bytes(), &HashMap::new(), &SceneLimits::default()).unwrap();
    let engine = Compositor::new(
        s.clone(),
        CompositorOptions::default()
            .with_segment(SegmentMode::Alpha)
            .with_size(320, 180),
    )
    .unwrap();
    let r = engine.layout().seat_rect(0).unwrap();
    assert!(
        r.x >= 0 && r.y >= 0 && r.right() <= 320 && r.bottom() <= 180,
        "{r:?}"
    );
    assert!(cost(s).is_ok());
}

#[test]
fn unchecked_scenes_built_in_code_are_refused_by_the_compositor() {
    // `Scene`'s fields are public: a scene made in code skips the loader's checks. The
    // compositor checks the geometry again before it sizes anything from it.
    let bad_seats = [
        (
            "2e9-unit seat",
            rect(0.0, 0.0, 2e9, 2e9),
            "participants[0].width",
        ),
        (
            "NaN seat",
            rect(f64::NAN, 0.0, 2.0, 2.0),
            "participants[0].cx",
        ),
        (
            "negative seat",
            rect(0.0, 0.0, -4.0, 4.0),
            "participants[0].width",
        ),
        (
            "infinite seat",
            rect(0.0, 0.0, 2.0, f64::INFINITY),
            "participants[0].height",
        ),
    ];
    for (name, seat, field) in bad_seats {
        let mut s = scene_with_sprites(&[]);
        s.seats[0].rect = seat;
        let got = Compositor::new(
            s,
            CompositorOptions::default()
                .with_segment(SegmentMode::Alpha)
                .with_size(320, 180),
        );
        match got {
            Err(ComposeError::Scene(SceneError::BadNumber { field: f, .. })) => {
                assert_eq!(f, field, "{name}")
            }
            other => panic!("{name}: {:?}", other.map(|_| ())),
        }
    }
    for seat in [rect(100.0, 0.0, 4.0, 4.0), rect(0.0, 0.0, 1e9, 1e9)] {
        let mut s = scene_with_sprites(&[]);
        s.seats[0].rect = seat;
        assert!(matches!(
            Compositor::new(
                s,
                CompositorOptions::default()
                    .with_segment(SegmentMode::Alpha)
                    .with_size(320, 180)
            ),
            Err(ComposeError::Scene(SceneError::OutOfExtent {
                index: 0,
                ..
            }))
        ));
    }
    let mut s = scene_with_sprites(&[rect(0.0, 0.0, 2.0, 2.0)]);
    s.sprites[0].rect.width = f64::NEG_INFINITY;
    assert!(matches!(
        Compositor::new(s.clone(), CompositorOptions::default().with_segment(SegmentMode::Alpha).with_size(320, 180)),
        Err(ComposeError::Scene(SceneError::BadNumber { ref field, .. })) if field == "sprites[0].width"
    ));
    // And through set_scene: the old scene stays.
    let mut engine = Compositor::new(
        scene_with_sprites(&[]),
        CompositorOptions::default()
            .with_segment(SegmentMode::Alpha)
            .with_size(320, 180),
    )
    .unwrap();
    assert!(engine.set_scene(s).is_err());
    assert_eq!(engine.scene().id, "hostile");
    assert!(engine.render().is_ok());
}

/// Found by the `compositor_frames` fuzz target: the visible part of a sprite, in image
/// pixels, could end an ulp past the image's edge, and the scaler refused it, so
/// `Compositor::new` failed for about 8% of small even output sizes (these among them).
#[test]
fn builtin_scenes_lay_out_where_sprite_crops_rounded_past_the_image() {
    for (w, h) in [(2, 126), (2, 128), (2, 206), (2, 234), (4, 126), (4, 134)] {
        let options = CompositorOptions::default()
            .with_segment(SegmentMode::Alpha)
            .with_size(w, h)
            .with_parallel(false);
        let mut engine = Compositor::new(Scene::builtin("auditorium").unwrap(), options)
            .unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
        engine.render().unwrap();
    }
    // Sprites whose visible part is a sliver at the far edge of a huge placement.
    for cx in [5e8 - 8.0 - 1e-3, -5e8 + 8.0 + 1e-3, 5e8 - 7.999] {
        let s = scene_with_sprites(&[rect(cx, 0.0, 1e9, 9.0)]);
        assert!(cost(s).is_ok(), "{cx}");
    }
}

#[test]
fn thousands_of_seats_with_a_raised_limit_lay_out_and_render() {
    let json = scene("", &vec![SEAT; 5000].join(","));
    let limits = SceneLimits::default().with_max_seats(5000);
    let s = Scene::load_from_memory(json.as_bytes(), &HashMap::new(), &limits).unwrap();
    let options = CompositorOptions::default()
        .with_segment(SegmentMode::Alpha)
        .with_size(64, 36)
        .with_parallel(false);
    let mut engine = Compositor::new(s, options).unwrap();
    for i in 0..100 {
        engine.join(&format!("8:acs:{i}"), Role::Attendee).unwrap();
    }
    assert_eq!(engine.seating().len(), 100);
    assert!(engine.render().is_ok());
}

// ---------------------------------------------------------------------------------------------
// Stills (PNG and JPEG for participants).

#[test]
fn stills_are_checked_before_decoding() {
    let dir = TestDir::new("stills");
    let max = (MAX_DIMENSION, MAX_DIMENSION);
    // JPEG: the size comes from the header, before the whole file is decoded.
    let big = dir.write("big.jpg", &jpeg(64, 48));
    match load_image(&big, (32, 32)) {
        Err(IoError::ImageTooLarge {
            width: 64,
            height: 48,
            max_width: 32,
            max_height: 32,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // A file over the byte cap is refused from its length alone, whatever it holds.
    let huge = dir.path().join("huge.jpg");
    let f = fs::File::create(&huge).unwrap();
    f.set_len(together_mode::io::MAX_IMAGE_FILE_BYTES + 1)
        .unwrap(); // sparse: no disk used
    drop(f);
    match load_image(&huge, max) {
        Err(IoError::FileTooLarge { size, max, .. }) => {
            assert_eq!(size, together_mode::io::MAX_IMAGE_FILE_BYTES + 1);
            assert_eq!(max, together_mode::io::MAX_IMAGE_FILE_BYTES);
        }
        other => panic!("{other:?}"),
    }
    // A JPEG cut short, a JPEG of zeros, PNG data named .jpg (fine: content decides).
    let j = jpeg(32, 32);
    let cut = dir.write("cut.jpg", &j[..j.len() / 3]);
    assert!(matches!(load_image(&cut, max), Err(IoError::Image { .. })));
    let zeros = dir.write("zeros.jpg", &[0u8; 4096]);
    assert!(matches!(
        load_image(&zeros, max),
        Err(IoError::Image { .. })
    ));
    let png_as_jpg = dir.write("really-png.jpg", &png::encoded(4, 4, 255));
    assert_eq!(load_image(&png_as_jpg, max).unwrap().width(), 4);
    // A PNG claiming 100000x100000 named .png, and one claiming u32::MAX sides.
    for (w, h) in [(100_000, 100_000), (u32::MAX, u32::MAX), (1, 100_000)] {
        let bomb = dir.write("bomb.png", &png::claiming(w, h));
        match load_image(&bomb, max) {
            Err(IoError::ImageTooLarge { width, height, .. }) => {
                assert_eq!((width, height), (w, h))
            }
            other => panic!("{w}x{h}: {other:?}"),
        }
    }
    // A directory named like an image.
    fs::create_dir_all(dir.path().join("dir.png")).unwrap();
    assert!(load_image(&dir.path().join("dir.png"), max).is_err());
}

// ---------------------------------------------------------------------------------------------
// Y4M streams beyond the header grammar: sizes at the limits, truncation, allocation.

fn y4m(header: &str, frames: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("YUV4MPEG2 {header}\n").into_bytes();
    for f in frames {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(f);
    }
    out
}

fn read_all(bytes: &[u8]) -> Result<usize, IoError> {
    let mut r = Y4mReader::new(Cursor::new(bytes))?;
    let mut n = 0;
    while r.read_frame()?.is_some() {
        n += 1;
    }
    Ok(n)
}

#[test]
fn y4m_streams_at_the_limits() {
    let max = MAX_DIMENSION;
    // Largest frame, cut short: a typed error naming the bytes, and the allocation is the
    // frame (no more), zeroed lazily by the OS.
    let bytes = y4m(&format!("W{max} H{max} F30:1"), &[&[7u8; 1000]]);
    let (r, allocated) = allocated_by(|| read_all(&bytes));
    let frame_bytes = (max as usize).pow(2) * 3 / 2;
    match r {
        Err(IoError::Truncated {
            index: 0,
            expected,
            found: 1000,
        }) => assert_eq!(expected, frame_bytes),
        other => panic!("{other:?}"),
    }
    assert!(allocated < frame_bytes + (1 << 20), "{allocated}");
    // One over: refused from the header with nothing allocated for pixels.
    let (r, allocated) = allocated_by(|| read_all(&y4m(&format!("W{} H2 F30:1", max + 1), &[])));
    assert!(matches!(
        r,
        Err(IoError::Frame(FrameError::TooLarge { width, height: 2 })) if width == u64::from(max) + 1
    ));
    assert!(allocated < 64 << 10, "{allocated}");
    // An extreme aspect: 16384 x 1 reads fine.
    let row = vec![100u8; max as usize + 2 * (max as usize / 2)];
    assert_eq!(
        read_all(&y4m(&format!("W{max} H1 F1:1"), &[&row])).unwrap(),
        1
    );
    // Frame data then garbage instead of the next FRAME line.
    let f = [16u8; 6];
    assert!(matches!(
        read_all(&[y4m("W2 H2 F1:1", &[&f]), b"GARBAGE\n".to_vec()].concat()),
        Err(IoError::BadTag {
            what: "frame header",
            ..
        })
    ));
    // A stream of FRAME lines and no data.
    assert!(matches!(
        read_all(&y4m("W4 H4 F1:1", &[b"", b"", b""])),
        Err(IoError::Truncated { index: 0, .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Frames whose buffers are too small for their geometry.

#[test]
fn frame_views_check_buffers_strides_and_planes() {
    let buf = [0u8; 100];
    type Check = fn(&Result<PlaneRef<'_>, FrameError>) -> bool;
    let planes: [(&str, usize, usize, usize, usize, Check); 8] = [
        ("exact fit", 100, 10, 10, 10, |r| r.is_ok()),
        ("last row unpadded", 95, 10, 10, 10, |r| {
            matches!(
                r,
                Err(FrameError::BufferTooSmall {
                    expected: 100,
                    found: 95
                })
            )
        }),
        ("stride under width", 100, 10, 10, 9, |r| {
            matches!(
                r,
                Err(FrameError::StrideTooSmall {
                    width: 10,
                    stride: 9
                })
            )
        }),
        ("stride too long for the buffer", 100, 10, 2, 91, |r| {
            matches!(
                r,
                Err(FrameError::BufferTooSmall {
                    expected: 101,
                    found: 100
                })
            )
        }),
        ("stride overflows", 100, 1, 3, usize::MAX, |r| {
            matches!(r, Err(FrameError::TooLarge { .. }))
        }),
        ("zero stride, zero width", 0, 0, 5, 0, |r| r.is_ok()),
        ("zero height", 0, 10, 0, 10, |r| r.is_ok()),
        ("huge height", 100, 1, usize::MAX, 1, |r| {
            matches!(
                r,
                Err(FrameError::BufferTooSmall { .. } | FrameError::TooLarge { .. })
            )
        }),
    ];
    for (name, len, w, h, stride, ok) in planes {
        let r = PlaneRef::new(&buf[..len], w, h, stride);
        assert!(ok(&r), "{name}: {r:?}");
        if let Ok(p) = r {
            assert_eq!(p.rows().count(), h);
            assert!(p.rows().all(|row| row.len() == w));
        }
    }

    // Frames: plane counts, plane sizes, packed buffers, sizes.
    let y = vec![0u8; 64 * 48];
    let c = vec![0u8; 32 * 24];
    fn p(d: &[u8], w: usize, h: usize) -> PlaneRef<'_> {
        PlaneRef::packed(&d[..w * h], w, h).unwrap()
    }
    let cs = ColorSpec::default();
    assert!(FrameRef::new(
        PixelFormat::I420,
        64,
        48,
        cs,
        &[p(&y, 64, 48), p(&c, 32, 24), p(&c, 32, 24)]
    )
    .is_ok());
    assert_eq!(
        FrameRef::new(
            PixelFormat::I420,
            64,
            48,
            cs,
            &[p(&y, 64, 48), p(&c, 32, 24)]
        )
        .unwrap_err(),
        FrameError::PlaneCount {
            format: PixelFormat::I420,
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        FrameRef::new(
            PixelFormat::I420,
            64,
            48,
            cs,
            &[p(&y, 64, 48), p(&c, 32, 24), p(&c, 31, 24)]
        )
        .unwrap_err(),
        FrameError::PlaneTooSmall {
            plane: 2,
            expected: (32, 24),
            found: (31, 24)
        }
    );
    // An odd-sized frame needs rounded-up chroma.
    assert_eq!(
        FrameRef::new(
            PixelFormat::I420,
            63,
            47,
            cs,
            &[p(&y, 63, 47), p(&c, 31, 23), p(&c, 32, 24)]
        )
        .unwrap_err(),
        FrameError::PlaneTooSmall {
            plane: 1,
            expected: (32, 24),
            found: (31, 23)
        }
    );
    // NV12's UV plane is two bytes per chroma sample; RGBA four bytes per pixel.
    assert_eq!(
        FrameRef::new(
            PixelFormat::Nv12,
            64,
            48,
            cs,
            &[p(&y, 64, 48), p(&c, 32, 24)]
        )
        .unwrap_err(),
        FrameError::PlaneTooSmall {
            plane: 1,
            expected: (64, 24),
            found: (32, 24)
        }
    );
    assert_eq!(
        FrameRef::new(PixelFormat::Rgba, 16, 48, cs, &[p(&y, 60, 48)]).unwrap_err(),
        FrameError::PlaneTooSmall {
            plane: 0,
            expected: (64, 48),
            found: (60, 48)
        }
    );
    assert_eq!(
        FrameRef::new(PixelFormat::I420A, 0, 48, cs, &[]).unwrap_err(),
        FrameError::ZeroSize {
            width: 0,
            height: 48
        }
    );
    assert_eq!(
        FrameRef::new(PixelFormat::Rgba, MAX_DIMENSION + 1, 1, cs, &[]).unwrap_err(),
        FrameError::TooLarge {
            width: u64::from(MAX_DIMENSION) + 1,
            height: 1
        }
    );
    assert_eq!(
        FrameRef::from_packed(PixelFormat::I420, 64, 48, cs, &y).unwrap_err(),
        FrameError::BufferTooSmall {
            expected: 64 * 48 * 3 / 2,
            found: 64 * 48
        }
    );
    assert_eq!(
        Frame::new(PixelFormat::Nv12, MAX_DIMENSION, MAX_DIMENSION + 1).unwrap_err(),
        FrameError::TooLarge {
            width: u64::from(MAX_DIMENSION),
            height: u64::from(MAX_DIMENSION) + 1
        }
    );
    // Crops outside the plane.
    let plane = p(&y, 64, 48);
    assert_eq!(
        plane.crop(60, 0, 8, 8).unwrap_err(),
        FrameError::CropOutside {
            x: 60,
            y: 0,
            width: 8,
            height: 8,
            plane_width: 64,
            plane_height: 48
        }
    );
    assert!(plane.crop(usize::MAX, usize::MAX, 2, 2).is_err());
    // The compositor takes what the constructors accept, including the extremes.
    let mut engine = Compositor::new(
        Scene::builtin("grid").unwrap(),
        CompositorOptions::default()
            .with_segment(SegmentMode::Alpha)
            .with_size(64, 36)
            .with_parallel(false),
    )
    .unwrap();
    engine.join("8:acs:a", Role::Attendee).unwrap();
    for (w, h) in [(1, 1), (MAX_DIMENSION, 1), (1, MAX_DIMENSION), (3, 5)] {
        let f = Frame::black(PixelFormat::Nv12, w, h, cs).unwrap();
        engine.push("8:acs:a", f, 0).unwrap();
        engine.render().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Sizes given by callers.

#[test]
fn sizes_are_parsed_and_checked_with_typed_errors() {
    let max = (7680, 4320);
    for (s, want) in [
        ("1920x1080", Ok((1920, 1080))),
        (" 2X2 ", Ok((2, 2))),
        ("1920", Err(SizeError::Malformed("1920".into()))),
        ("x", Err(SizeError::Malformed("x".into()))),
        ("-2x2", Err(SizeError::Malformed("-2x2".into()))),
        ("2x2x2", Err(SizeError::Malformed("2x2x2".into()))),
        (
            "4294967296x2",
            Err(SizeError::Malformed("4294967296x2".into())),
        ),
        ("1e3x2", Err(SizeError::Malformed("1e3x2".into()))),
        ("２x2", Err(SizeError::Malformed("２x2".into()))),
    ] {
        assert_eq!(parse_size(s), want, "{s:?}");
    }
    for ((w, h), want) in [
        (
            (0, 2),
            Err(SizeError::Zero {
                width: 0,
                height: 2,
            }),
        ),
        (
            (3, 2),
            Err(SizeError::Odd {
                width: 3,
                height: 2,
            }),
        ),
        (
            (2, 4321),
            Err(SizeError::Odd {
                width: 2,
                height: 4321,
            }),
        ),
        (
            (7682, 2),
            Err(SizeError::TooLarge {
                width: 7682,
                height: 2,
                max_width: 7680,
                max_height: 4320,
            }),
        ),
        (
            (u32::MAX - 1, u32::MAX - 1),
            Err(SizeError::TooLarge {
                width: u32::MAX - 1,
                height: u32::MAX - 1,
                max_width: 7680,
                max_height: 4320,
            }),
        ),
        ((2, 2), Ok(())),
    ] {
        assert_eq!(check_output_size(w, h, max), want, "{w}x{h}");
    }
    // The compositor refuses them the same way, before allocating an output.
    let (r, allocated) = allocated_by(|| {
        Compositor::new(
            Scene::builtin("grid").unwrap(),
            CompositorOptions::default()
                .with_segment(SegmentMode::Alpha)
                .with_size(1_000_000, 1_000_000),
        )
        .map(|_| ())
    });
    assert!(matches!(
        r,
        Err(ComposeError::Scene(SceneError::Size(
            SizeError::TooLarge { .. }
        )))
    ));
    assert!(allocated < 64 << 20, "{allocated}");
}

// ---------------------------------------------------------------------------------------------
// The CLI: one `error:` line, non-zero exit, no panic, no output left behind.

#[cfg(feature = "cli")]
use common::{together, together_fails};

#[cfg(feature = "cli")]
#[test]
fn cli_refuses_bad_arguments_and_hostile_files_in_one_line() {
    let dir = TestDir::new("cli");
    let out_dir = TestDir::new("cli-out");
    let y4m_out = out_dir.path().join("out.y4m");
    let png_out = out_dir.path().join("frames").join("%03d.png");
    let (y4m_s, png_s) = (y4m_out.to_str().unwrap(), png_out.to_str().unwrap());

    // Hostile files.
    let bomb_scene = dir.path().join("bomb-scene");
    fs::create_dir_all(&bomb_scene).unwrap();
    fs::write(
        bomb_scene.join("scene.json"),
        scene(&sprite_named("a.png"), SEAT),
    )
    .unwrap();
    fs::write(bomb_scene.join("a.png"), png::claiming(100_000, 100_000)).unwrap();
    let escape_scene = dir.path().join("escape-scene");
    fs::create_dir_all(&escape_scene).unwrap();
    fs::write(
        escape_scene.join("scene.json"),
        scene(&sprite_named("../x.png"), SEAT),
    )
    .unwrap();
    let bomb_still = dir.write("bomb.png", &png::claiming(100_000, 100_000));
    let text_still = dir.write("text.jpg", b"not a jpeg at all");
    let huge_clip = dir.write(
        "huge.y4m",
        &y4m(
            &format!("W{m} H{m} F30:1", m = MAX_DIMENSION),
            &[&[0u8; 100]],
        ),
    );
    let zero_clip = dir.write("zero.y4m", &y4m("W0 H2 F30:1", &[]));
    let rate_clip = dir.write("rate.y4m", &y4m("W2 H2 F0:1", &[]));
    let empty_clip = dir.write("empty.y4m", &y4m("W2 H2 F30:1", &[]));
    let good_clip = dir.write(
        "good.y4m",
        &y4m("W4 H4 F30:1", &[&[100u8; 24], &[100u8; 24], &[100u8; 10]]),
    );
    let input = |p: &std::path::Path| format!("a={}", p.display());
    let (bomb_s, escape_s) = (bomb_scene.to_str().unwrap(), escape_scene.to_str().unwrap());

    let runs: Vec<(Vec<String>, &str)> = vec![
        // Arguments clap refuses: one line too.
        (
            vec![
                "demo".into(),
                "--frames".into(),
                "abc".into(),
                "--out".into(),
                y4m_s.into(),
            ],
            "--frames",
        ),
        (
            vec![
                "demo".into(),
                "--participants".into(),
                "-3".into(),
                "--out".into(),
                y4m_s.into(),
            ],
            "-3",
        ),
        (
            vec![
                "demo".into(),
                "--fps".into(),
                "99999999999".into(),
                "--out".into(),
                y4m_s.into(),
            ],
            "--fps",
        ),
        (vec!["demo".into(), "--out".into()], "--out"),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--out".into(),
                y4m_s.into(),
            ],
            "--input",
        ),
        (vec!["bogus".into()], "bogus"),
        (
            vec![
                "demo".into(),
                "--no-such-flag".into(),
                "--out".into(),
                y4m_s.into(),
            ],
            "--no-such-flag",
        ),
        // Sizes.
        (
            vec![
                "demo".into(),
                "--size".into(),
                "1920x1081".into(),
                "--frames".into(),
                "1".into(),
                "--out".into(),
                y4m_s.into(),
            ],
            "even",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&good_clip),
                "--size".into(),
                "0x0".into(),
                "--out".into(),
                y4m_s.into(),
            ],
            "zero",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&good_clip),
                "--size".into(),
                "99998x99998".into(),
                "--out".into(),
                y4m_s.into(),
            ],
            "exceeds",
        ),
        (
            vec![
                "seating".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--participants".into(),
                "1".into(),
                "--scene-size".into(),
                "0x720".into(),
            ],
            "zero",
        ),
        (
            vec![
                "seating".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--participants".into(),
                "1".into(),
                "--scene-size".into(),
                "1280by720".into(),
            ],
            "WIDTHxHEIGHT",
        ),
        (
            vec![
                "seating".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--participants".into(),
                "10".into(),
            ],
            "seats",
        ),
        // Hostile scenes and inputs.
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                bomb_s.into(),
                "--input".into(),
                input(&good_clip),
                "--out".into(),
                y4m_s.into(),
            ],
            "100000x100000",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                escape_s.into(),
                "--input".into(),
                input(&good_clip),
                "--out".into(),
                y4m_s.into(),
            ],
            "leaves the scene folder",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&bomb_still),
                "--out".into(),
                y4m_s.into(),
            ],
            "100000x100000",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&text_still),
                "--out".into(),
                y4m_s.into(),
            ],
            "text.jpg",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&huge_clip),
                "--out".into(),
                y4m_s.into(),
            ],
            "truncated",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&zero_clip),
                "--out".into(),
                y4m_s.into(),
            ],
            "zero side",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&rate_clip),
                "--out".into(),
                y4m_s.into(),
            ],
            "frame rate",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&empty_clip),
                "--out".into(),
                y4m_s.into(),
            ],
            "no frames",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                format!("={}", good_clip.display()),
                "--out".into(),
                y4m_s.into(),
            ],
            "participant id",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&good_clip),
                "--input".into(),
                input(&good_clip),
                "--out".into(),
                y4m_s.into(),
            ],
            "already seated",
        ),
        // A clip truncated in its third frame, into a PNG sequence and into a .y4m: the
        // frames written before the failure are removed.
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&good_clip),
                "--size".into(),
                "64x36".into(),
                "--fps".into(),
                "30".into(),
                "--frames".into(),
                "3".into(),
                "--out".into(),
                png_s.into(),
            ],
            "truncated",
        ),
        (
            vec![
                "render".into(),
                "--segment".into(),
                "alpha".into(),
                "--scene".into(),
                "builtin:grid".into(),
                "--input".into(),
                input(&good_clip),
                "--size".into(),
                "64x36".into(),
                "--fps".into(),
                "30".into(),
                "--frames".into(),
                "3".into(),
                "--out".into(),
                y4m_s.into(),
            ],
            "truncated",
        ),
    ];
    for (args, mentions) in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        together_fails(&args, mentions);
        assert!(
            out_dir.is_empty(),
            "{args:?} left output behind: {:?}",
            fs::read_dir(out_dir.path()).unwrap().collect::<Vec<_>>()
        );
    }
    // Help and version still print normally and succeed.
    let help = together().arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("render"));
    assert!(together()
        .arg("--version")
        .output()
        .unwrap()
        .status
        .success());
}
