//! Teams scene packages on disk: a good one loads, every kind of bad one is refused with its
//! own error. Each test writes a tiny package into a fresh folder under the system temp dir.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use together_mode::error::SceneError;
use together_mode::scene::{Layer, Scene, SceneLimits};

mod common;

use common::png;

/// A fresh package folder, removed on drop.
struct Pkg(common::TestDir);

impl Pkg {
    fn new(name: &str) -> Self {
        Self(common::TestDir::new(&format!("scene-{name}")))
    }

    fn dir(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> &Self {
        self.0.write(rel, bytes);
        self
    }

    fn json(&self, json: &str) -> &Self {
        self.write("scene.json", json.as_bytes())
    }

    fn load(&self) -> Result<Scene, SceneError> {
        Scene::load(self.dir(), &SceneLimits::default())
    }

    fn load_with(&self, limits: &SceneLimits) -> Result<Scene, SceneError> {
        Scene::load(self.dir(), limits)
    }
}

const SEAT: &str = r#"{"cx": 0, "cy": 0, "width": 2, "height": 2}"#;

/// A scene.json with a 16x9 extent around the origin.
fn scene_json(sprites: &str, seats: &str) -> String {
    format!(
        r#"{{"protocolVersion": "1.0", "id": "t",
            "extent": {{"left": -8, "top": -4.5, "width": 16, "height": 9}},
            "sprites": [{sprites}], "participants": [{seats}]}}"#
    )
}

fn sprite(filename: &str) -> String {
    format!(r#"{{"filename": "{filename}", "cx": 0, "cy": 0, "width": 16, "height": 9}}"#)
}

/// A package with one sprite `filename` (whose bytes the caller writes) and one seat.
fn one_sprite(name: &str, filename: &str) -> Pkg {
    let p = Pkg::new(name);
    p.json(&scene_json(&sprite(filename), SEAT));
    p
}

#[test]
fn good_package_loads() {
    let p = Pkg::new("good");
    p.write("bg.png", &png::encoded(16, 10, 255))
        .write("art/desk.PNG", &png::encoded(8, 4, 128));
    p.json(
        r#"{
        "protocolVersion": "1.0",
        "id": "my-scene",
        "autoZoom": true,
        "mirrorParticipants ": true,
        "extent": {"left": -8, "top": -4.5, "width": 16, "height": 9},
        "sprites": [
            {"filename": "bg.png", "cx": 0, "cy": 0, "width": 20, "height": 12, "zOrder": 0},
            {"filename": "art/desk.PNG", "cx": 0, "cy": 3.5, "width": 16, "height": 2,
             "zOrder": 3, "isAlpha": true},
            {"filename": "./bg.png", "cx": 100, "cy": 0, "width": 1, "height": 1, "zOrder": 1}
        ],
        "participants": [
            {"cx": -4, "cy": 1, "width": 3, "height": 4, "zOrder": 3, "seatingOrder": 2},
            {"cx": 0, "cy": -1, "width": 2, "height": 3, "zOrder": 1, "seatingOrder": 0},
            {"cx": 4, "cy": 1, "width": 3, "height": 4, "zOrder": 3, "seatingOrder": 1}
        ]
    }"#,
    );
    let s = p.load().unwrap();
    assert_eq!(s.id, "my-scene");
    assert_eq!(s.protocol_version, "1.0");
    assert!(s.auto_zoom);
    assert!(s.mirror_participants, "the misspelled key is honoured");
    assert_eq!((s.extent.left, s.extent.width), (-8.0, 16.0));
    assert_eq!(s.seats.len(), 3);
    assert_eq!(s.sprites.len(), 3);

    let bg = &s.sprites[0];
    assert_eq!(bg.name, "bg.png");
    assert!(!bg.is_alpha);
    assert_eq!((bg.image.width(), bg.image.height()), (16, 10));
    // Pixel (3, 2) of the decoded image.
    let i = (2 * 16 + 3) * 4;
    assert_eq!(&bg.image.data()[i..i + 4], &[3, 2, 9, 255]);
    let desk = &s.sprites[1];
    assert!(desk.is_alpha);
    assert_eq!(desk.image.data()[3], 128);
    // The same file, spelled differently, decoded once.
    assert!(Arc::ptr_eq(&s.sprites[0].image, &s.sprites[2].image));
    assert!(!Arc::ptr_eq(&s.sprites[0].image, &s.sprites[1].image));

    assert_eq!(s.seat_order(), vec![1, 2, 0]);
    assert_eq!(
        s.layers(),
        vec![
            Layer::Sprite(0), // z0
            Layer::Sprite(2), // z1: sprite before the z1 seat
            Layer::Seat(1),
            Layer::Sprite(1), // z3: sprite before the z3 seats
            Layer::Seat(0),
            Layer::Seat(2),
        ]
    );

    // The same package through `open`, and by the path of scene.json.
    let again = Scene::open(p.dir().to_str().unwrap(), &SceneLimits::default()).unwrap();
    assert_eq!(again, s);
    let by_file = Scene::load(&p.dir().join("scene.json"), &SceneLimits::default()).unwrap();
    assert_eq!(by_file, s);
}

#[test]
fn optional_keys_default() {
    let p = Pkg::new("defaults");
    p.json(
        r#"{"extent": {"left": 0, "top": 0, "width": 4, "height": 4},
            "participants": [{"cx": 1, "cy": 1, "width": 1, "height": 1},
                             {"cx": 3, "cy": 3, "width": 1, "height": 1}]}"#,
    );
    let s = p.load().unwrap();
    assert_eq!((s.id.as_str(), s.protocol_version.as_str()), ("", ""));
    assert!(!s.auto_zoom && !s.mirror_participants);
    assert!(s.sprites.is_empty());
    assert_eq!(
        s.seats
            .iter()
            .map(|x| (x.z_order, x.seating_order))
            .collect::<Vec<_>>(),
        vec![(0, 0), (0, 1)]
    );
}

fn json_error(json: &str) -> String {
    let p = Pkg::new("json");
    p.json(json);
    match p.load() {
        Err(SceneError::Json(msg)) => msg,
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

#[test]
fn malformed_json_is_a_json_error_with_position() {
    let msg = json_error("{\n  \"extent\": {\"left\": 0,,}\n}");
    assert!(msg.contains("line 2"), "{msg}");
    assert!(msg.contains("column"), "{msg}");
    json_error("");
    json_error("[]");
    json_error("null");
}

#[test]
fn missing_extent_is_a_json_error() {
    let msg = json_error(&format!(r#"{{"participants": [{SEAT}]}}"#));
    assert!(msg.contains("extent"), "{msg}");
}

#[test]
fn wrong_types_are_json_errors() {
    let msg = json_error(&scene_json(
        "",
        r#"{"cx": "0", "cy": 0, "width": 2, "height": 2}"#,
    ));
    assert!(msg.contains("line"), "{msg}");
    json_error(&scene_json(
        "",
        r#"{"cx": 0, "cy": 0, "width": 2, "height": 2, "zOrder": 1.5}"#,
    ));
    json_error(&scene_json(
        "",
        r#"{"cx": 0, "cy": 0, "width": 2, "height": 2, "seatingOrder": -1}"#,
    ));
    json_error(&scene_json(
        r#"{"cx": 0, "cy": 0, "width": 2, "height": 2}"#,
        SEAT,
    ));
    json_error(&scene_json(
        "",
        r#"{"cx": 0, "cy": 0, "width": 2, "height": 2}, 5"#,
    ));
    json_error(
        r#"{"extent": {"left": 0, "top": 0, "width": 1, "height": 1}, "autoZoom": "yes", "participants": []}"#,
    );
    // JSON has no NaN or infinity; spelled out they are syntax errors, and overflow is refused.
    json_error(&scene_json(
        "",
        r#"{"cx": NaN, "cy": 0, "width": 2, "height": 2}"#,
    ));
    json_error(&scene_json(
        "",
        r#"{"cx": 0, "cy": 0, "width": Infinity, "height": 2}"#,
    ));
    json_error(&scene_json(
        "",
        r#"{"cx": 0, "cy": 0, "width": 1e400, "height": 2}"#,
    ));
}

fn bad_number(json: &str) -> (String, f64) {
    let p = Pkg::new("number");
    p.json(json);
    match p.load() {
        Err(SceneError::BadNumber { field, value }) => (field, value),
        other => panic!("expected BadNumber, got {other:?}"),
    }
}

#[test]
fn bad_numbers_name_their_field() {
    let extent = |w: &str| {
        format!(
            r#"{{"extent": {{"left": 0, "top": 0, "width": {w}, "height": 9}}, "participants": [{SEAT}]}}"#
        )
    };
    assert_eq!(bad_number(&extent("0")), ("extent.width".into(), 0.0));
    assert_eq!(bad_number(&extent("-16")), ("extent.width".into(), -16.0));
    assert_eq!(bad_number(&extent("1e300")), ("extent.width".into(), 1e300));
    assert_eq!(
        bad_number(&scene_json(
            "",
            r#"{"cx": 0, "cy": 0, "width": 0, "height": 2}"#
        )),
        ("participants[0].width".into(), 0.0)
    );
    assert_eq!(
        bad_number(&scene_json(
            "",
            &format!(r#"{SEAT}, {{"cx": 0, "cy": 0, "width": 2, "height": -1}}"#)
        )),
        ("participants[1].height".into(), -1.0)
    );
    assert_eq!(
        bad_number(&scene_json(
            "",
            r#"{"cx": -1e200, "cy": 0, "width": 2, "height": 2}"#
        )),
        ("participants[0].cx".into(), -1e200)
    );
    assert_eq!(
        bad_number(&scene_json(
            r#"{"filename": "a.png", "cx": 0, "cy": 0, "width": 0, "height": 9}"#,
            SEAT
        )),
        ("sprites[0].width".into(), 0.0)
    );
}

#[test]
fn seat_outside_the_extent_is_refused_but_sprites_may_be() {
    let p = Pkg::new("outside");
    p.json(&scene_json(
        "",
        &format!(r#"{SEAT}, {{"cx": 7.5, "cy": 0, "width": 2, "height": 2}}"#),
    ));
    assert!(matches!(
        p.load(),
        Err(SceneError::OutOfExtent {
            what: "seat",
            index: 1,
            ..
        })
    ));
    // Touching the edge is inside.
    p.json(&scene_json(
        "",
        r#"{"cx": 7, "cy": 3.5, "width": 2, "height": 2}"#,
    ));
    assert!(p.load().is_ok());

    // A sprite partly or wholly outside is fine (just invisible where outside).
    p.write("a.png", &png::encoded(2, 2, 255));
    p.json(&scene_json(
        r#"{"filename": "a.png", "cx": 100, "cy": 100, "width": 2, "height": 2},
           {"filename": "a.png", "cx": 0, "cy": 0, "width": 40, "height": 40}"#,
        SEAT,
    ));
    assert_eq!(p.load().unwrap().sprites.len(), 2);
}

#[test]
fn seat_and_sprite_counts_are_limited() {
    let p = Pkg::new("counts");
    let seats = |n: usize| vec![SEAT; n].join(",");
    p.json(&scene_json("", &seats(51)));
    assert!(matches!(
        p.load(),
        Err(SceneError::TooManySeats { count: 51, max: 50 })
    ));
    p.json(&scene_json("", &seats(50)));
    assert_eq!(p.load().unwrap().seats.len(), 50);
    assert!(matches!(
        p.load_with(&SceneLimits::default().with_max_seats(10)),
        Err(SceneError::TooManySeats { count: 50, max: 10 })
    ));

    p.json(&scene_json("", ""));
    assert!(matches!(p.load(), Err(SceneError::NoSeats)));
    p.json(r#"{"extent": {"left": 0, "top": 0, "width": 1, "height": 1}}"#);
    assert!(matches!(p.load(), Err(SceneError::NoSeats)));

    p.write("a.png", &png::encoded(2, 2, 255));
    p.json(&scene_json(&vec![sprite("a.png"); 65].join(","), SEAT));
    assert!(matches!(
        p.load(),
        Err(SceneError::TooManySprites { count: 65, max: 64 })
    ));
    p.json(&scene_json(&vec![sprite("a.png"); 64].join(","), SEAT));
    let s = p.load().unwrap();
    assert!(s
        .sprites
        .iter()
        .all(|x| Arc::ptr_eq(&x.image, &s.sprites[0].image)));
}

#[test]
fn missing_asset_is_an_io_error() {
    let p = one_sprite("missing", "nope.png");
    match p.load() {
        Err(SceneError::Io { path, source }) => {
            assert!(path.ends_with("nope.png"), "{path:?}");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    // A missing package folder too.
    let gone = Pkg::new("gone");
    let dir = gone.dir().to_path_buf();
    drop(gone);
    assert!(matches!(
        Scene::load(&dir, &SceneLimits::default()),
        Err(SceneError::Io { .. })
    ));
}

#[test]
fn parent_dir_paths_escape() {
    let outer = Pkg::new("outer");
    outer.write("secret.png", &png::encoded(2, 2, 255));
    let inner_name = "inner";
    outer.write(&format!("{inner_name}/a.png"), &png::encoded(2, 2, 255));
    let inner = outer.dir().join(inner_name);
    for bad in ["../secret.png", "a/../../secret.png", "./../secret.png"] {
        fs::write(inner.join("scene.json"), scene_json(&sprite(bad), SEAT)).unwrap();
        assert!(
            matches!(
                Scene::load(&inner, &SceneLimits::default()),
                Err(SceneError::PathEscapes(ref s)) if s == bad
            ),
            "{bad}"
        );
    }
    // Even a `..` that comes back inside is refused.
    fs::write(
        inner.join("scene.json"),
        scene_json(&sprite(&format!("../{inner_name}/a.png")), SEAT),
    )
    .unwrap();
    assert!(matches!(
        Scene::load(&inner, &SceneLimits::default()),
        Err(SceneError::PathEscapes(_))
    ));
}

#[test]
fn absolute_paths_escape() {
    let p = Pkg::new("absolute");
    p.write("a.png", &png::encoded(2, 2, 255));
    let abs = p.dir().join("a.png");
    p.json(&scene_json(&sprite(abs.to_str().unwrap()), SEAT));
    assert!(matches!(p.load(), Err(SceneError::PathEscapes(_))));
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_folder_escape() {
    use std::os::unix::fs::symlink;
    let outside = Pkg::new("outside-target");
    outside.write("secret.png", &png::encoded(2, 2, 255));
    let p = one_sprite("symlink", "link.png");
    symlink(outside.dir().join("secret.png"), p.dir().join("link.png")).unwrap();
    assert!(matches!(p.load(), Err(SceneError::PathEscapes(ref s)) if s == "link.png"));

    // A linked directory leading out, too.
    symlink(outside.dir(), p.dir().join("sub")).unwrap();
    p.json(&scene_json(&sprite("sub/secret.png"), SEAT));
    assert!(matches!(p.load(), Err(SceneError::PathEscapes(_))));

    // A symlink that stays inside is fine, and shares the decoded image with its target.
    p.write("real.png", &png::encoded(2, 2, 255));
    symlink(p.dir().join("real.png"), p.dir().join("alias.png")).unwrap();
    p.json(&scene_json(
        &format!("{},{}", sprite("real.png"), sprite("alias.png")),
        SEAT,
    ));
    let s = p.load().unwrap();
    assert!(Arc::ptr_eq(&s.sprites[0].image, &s.sprites[1].image));
}

#[test]
fn odd_sized_png_is_refused() {
    let p = one_sprite("odd", "a.png");
    p.write("a.png", &png::encoded(3, 2, 255));
    assert!(matches!(
        p.load(),
        Err(SceneError::BadImageSize {
            width: 3,
            height: 2,
            max_width: 1920,
            max_height: 1080,
            ..
        })
    ));
    p.write("a.png", &png::encoded(2, 5, 255));
    assert!(matches!(
        p.load(),
        Err(SceneError::BadImageSize { height: 5, .. })
    ));
}

#[test]
fn oversized_png_is_refused_from_its_header() {
    let p = one_sprite("huge", "a.png");
    // 100000 x 100000 RGBA would be 40 GB; only the header exists, so decoding would fail
    // differently: the size check must come first.
    p.write("a.png", &common::png::ihdr_only(100_000, 100_000));
    assert!(matches!(
        p.load(),
        Err(SceneError::BadImageSize {
            width: 100_000,
            height: 100_000,
            ..
        })
    ));
    // Just over Teams' limit, and under a raised one (then decoding fails: no pixel data).
    p.write("a.png", &common::png::ihdr_only(1922, 1080));
    assert!(matches!(
        p.load(),
        Err(SceneError::BadImageSize { width: 1922, .. })
    ));
    assert!(matches!(
        p.load_with(&SceneLimits::default().with_max_image_size(4096, 4096)),
        Err(SceneError::Decode { .. })
    ));
    // A real image over a lowered limit.
    p.write("a.png", &png::encoded(8, 8, 255));
    assert!(matches!(
        p.load_with(&SceneLimits::default().with_max_image_size(4, 4)),
        Err(SceneError::BadImageSize {
            width: 8,
            max_width: 4,
            ..
        })
    ));
}

#[test]
fn non_png_assets_are_refused() {
    let p = one_sprite("notpng", "a.png");
    p.write("a.png", b"GIF89a not a png at all");
    assert!(matches!(p.load(), Err(SceneError::NotPng(ref s)) if s == "a.png"));
    p.write("a.png", b"");
    assert!(matches!(p.load(), Err(SceneError::NotPng(_))));
    // Right bytes, wrong extension.
    let p = one_sprite("jpgname", "a.jpg");
    p.write("a.jpg", &png::encoded(2, 2, 255));
    assert!(matches!(p.load(), Err(SceneError::NotPng(ref s)) if s == "a.jpg"));
    // A directory is not a PNG either.
    let p = one_sprite("dirpng", "d.png");
    fs::create_dir_all(p.dir().join("d.png")).unwrap();
    assert!(matches!(p.load(), Err(SceneError::NotPng(_))));
}

#[test]
fn truncated_png_fails_to_decode() {
    let p = one_sprite("truncated", "a.png");
    let full = png::encoded(64, 64, 200);
    p.write("a.png", &full[..full.len() / 2]);
    assert!(matches!(p.load(), Err(SceneError::Decode { ref name, .. }) if name == "a.png"));
    // Signature only: no header to read.
    p.write("a.png", &full[..8]);
    assert!(matches!(p.load(), Err(SceneError::Decode { .. })));
}

#[test]
fn file_over_max_image_bytes_is_refused() {
    let p = one_sprite("bigfile", "a.png");
    let data = png::encoded(16, 16, 255);
    p.write("a.png", &data);
    let size = data.len() as u64;
    let limits = SceneLimits::default().with_max_image_bytes(size - 1);
    match p.load_with(&limits) {
        Err(SceneError::FileTooLarge { name, size: s, max }) => {
            assert_eq!((name.as_str(), s, max), ("a.png", size, size - 1));
        }
        other => panic!("expected FileTooLarge, got {other:?}"),
    }
    assert!(p
        .load_with(&SceneLimits::default().with_max_image_bytes(size))
        .is_ok());
}

#[test]
fn scene_json_over_one_megabyte_is_refused() {
    let p = Pkg::new("bigjson");
    let mut json = scene_json("", SEAT);
    json.push_str(&" ".repeat(1024 * 1024));
    p.json(&json);
    assert!(matches!(
        p.load(),
        Err(SceneError::FileTooLarge { ref name, max: 1_048_576, .. }) if name == "scene.json"
    ));
}

#[test]
fn scene_over_max_scene_bytes_is_refused() {
    let p = Pkg::new("bigscene");
    let a = png::encoded(16, 16, 255);
    let b = png::encoded(16, 16, 100);
    p.write("a.png", &a).write("b.png", &b);
    // `a` twice: counted once.
    let json = scene_json(
        &format!(
            "{},{},{}",
            sprite("a.png"),
            sprite("b.png"),
            sprite("a.png")
        ),
        SEAT,
    );
    p.json(&json);
    let total = (json.len() + a.len() + b.len()) as u64;
    assert!(p
        .load_with(&SceneLimits::default().with_max_scene_bytes(total))
        .is_ok());
    match p.load_with(&SceneLimits::default().with_max_scene_bytes(total - 1)) {
        Err(SceneError::SceneTooLarge { size, max }) => assert_eq!((size, max), (total, total - 1)),
        other => panic!("expected SceneTooLarge, got {other:?}"),
    }
}

#[test]
fn errors_display_without_panicking() {
    // Every error formats; paths in Io errors name the file.
    let p = one_sprite("display", "nope.png");
    let msg = p.load().unwrap_err().to_string();
    assert!(msg.contains("nope.png"), "{msg}");
    assert!(p.dir().exists());
}
