//! Scene packages as zip files: a Scene studio-style scene zip, a Teams app package (zip and
//! folder) and the same files in a folder load the same scene and render byte-identically;
//! hostile zips, built here at test time with the `zip` crate's writer and then patched,
//! are refused with [`SceneError::Zip`] naming the entry and the reason.

use std::io::{Cursor, Write};

use together_mode::error::{SceneError, ZipRefusal};
use together_mode::frame::{Frame, PixelFormat};
use together_mode::scene::{Scene, SceneLimits};
use together_mode::{Compositor, CompositorOptions, Role, SegmentMode};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

mod common;

const SCENE: &str = r#"{"protocolVersion": "1.0", "id": "zipped",
    "extent": {"left": -8, "top": -4.5, "width": 16, "height": 9},
    "sprites": [
        {"filename": "bg.png", "cx": 0, "cy": 0, "width": 16, "height": 9, "zOrder": 0},
        {"filename": "img/desk.png", "cx": 0, "cy": 3, "width": 12, "height": 2, "zOrder": 5,
         "isAlpha": true}],
    "participants": [
        {"cx": -4, "cy": 0, "width": 3, "height": 4, "zOrder": 1, "seatingOrder": 0},
        {"cx": 0, "cy": 0, "width": 3, "height": 4, "zOrder": 1, "seatingOrder": 1},
        {"cx": 4, "cy": 0, "width": 3, "height": 4, "zOrder": 1, "seatingOrder": 2}]}"#;

/// The scene's files: scene.json and two PNGs.
fn scene_files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("scene.json".into(), SCENE.as_bytes().to_vec()),
        ("bg.png".into(), common::png::encoded(64, 36, 255)),
        ("img/desk.png".into(), common::png::encoded(48, 8, 128)),
    ]
}

fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

fn stored() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
}

/// A zip of `files`, each written with `options`; a name ending in `/` is a directory.
fn zip_with(files: &[(String, Vec<u8>)], options: SimpleFileOptions) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in files {
        if name.ends_with('/') {
            w.add_directory(name.as_str(), options).unwrap();
        } else {
            w.start_file(name.as_str(), options).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    zip_with(files, deflated())
}

fn file(name: &str, data: &[u8]) -> (String, Vec<u8>) {
    (name.to_string(), data.to_vec())
}

/// The central directory records of `zip`: (record offset, local header offset).
fn records(zip: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 46 <= zip.len() {
        if &zip[at..at + 4] == b"PK\x01\x02" {
            let local = u32::from_le_bytes(zip[at + 42..at + 46].try_into().unwrap()) as usize;
            out.push((at, local));
        }
        at += 1;
    }
    out
}

/// Sets a little-endian `u16` (or `u32` when `wide`) at `central + c` and `local + l` of the
/// entry numbered `index` in the central directory.
fn patch(zip: &mut [u8], index: usize, c: usize, l: usize, value: u32, wide: bool) {
    let (central, local) = records(zip)[index];
    for at in [central + c, local + l] {
        if wide {
            zip[at..at + 4].copy_from_slice(&value.to_le_bytes());
        } else {
            zip[at..at + 2].copy_from_slice(&(value as u16).to_le_bytes());
        }
    }
}

/// Replaces every occurrence of `from` by `to` (same length) in `zip`.
fn rename(zip: &mut [u8], from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let n = from.len();
    let mut hits = 0;
    for at in 0..=zip.len() - n {
        if &zip[at..at + n] == from.as_bytes() {
            zip[at..at + n].copy_from_slice(to.as_bytes());
            hits += 1;
        }
    }
    assert_eq!(hits, 2, "local and central names");
}

fn limits() -> SceneLimits {
    SceneLimits::default()
}

/// Renders `scene` at 320x180 with two solid participants; the output's bytes.
fn render(scene: Scene) -> Vec<u8> {
    let options = CompositorOptions::default()
        .with_segment(SegmentMode::Alpha)
        .with_size(320, 180)
        .with_parallel(false);
    let mut e = Compositor::new(scene, options).unwrap();
    for (i, c) in [[200u8, 60, 30], [30, 90, 220]].iter().enumerate() {
        let id = format!("8:acs:{i}");
        e.join(&id, Role::Attendee).unwrap();
        e.push(&id, common::solid(PixelFormat::I420, 64, 48, *c), 0)
            .unwrap();
    }
    let out = Frame::from_ref(&e.render().unwrap()).unwrap();
    let out = out.as_ref();
    out.planes()
        .iter()
        .flat_map(|p| p.rows().flatten().copied().collect::<Vec<u8>>())
        .collect()
}

const MANIFEST: &str = r#"{"manifestVersion": "1.17", "id": "app",
  "meetingExtensionDefinition": {"scenes": [
    {"id": "9082f0d2-5b4b-4e6a-8c4a-111111111111", "name": "Grid", "file": "scenes/grid.zip",
     "preview": "scenes/grid.png", "maxAudience": 9},
    {"id": "9082f0d2-5b4b-4e6a-8c4a-222222222222", "name": "Studio",
     "file": "scenes/studio.zip", "preview": "scenes/studio.png", "maxAudience": 2,
     "seatsReservedForOrganizersOrPresenters": 1}]}}"#;

/// An app package's files: the manifest, two scene zips (the second is [`SCENE`]) and
/// previews.
fn app_files() -> Vec<(String, Vec<u8>)> {
    let grid = SCENE.replace(r#""id": "zipped""#, r#""id": "grid""#);
    let mut grid_files = scene_files();
    grid_files[0].1 = grid.into_bytes();
    vec![
        file("manifest.json", MANIFEST.as_bytes()),
        file("scenes/grid.zip", &zip_of(&grid_files)),
        file("scenes/grid.png", &common::png::encoded(4, 2, 255)),
        file("scenes/studio.zip", &zip_of(&scene_files())),
        file("scenes/studio.png", &common::png::encoded(4, 2, 255)),
    ]
}

fn write_all(dir: &common::TestDir, files: &[(String, Vec<u8>)]) {
    for (name, data) in files {
        dir.write(name, data);
    }
}

#[test]
fn zip_app_package_and_folder_render_byte_identically() {
    let folder = common::TestDir::new("zip-folder");
    write_all(&folder, &scene_files());
    let from_folder = Scene::load(folder.path(), &limits()).unwrap();
    assert_eq!(
        (from_folder.max_audience, from_folder.reserved_seats),
        (None, 0)
    );

    // The same files zipped: at the root, in one top folder, stored, with directory entries.
    let mut in_top = vec![file("Studio/", b"")];
    in_top.extend(
        scene_files()
            .into_iter()
            .map(|(n, d)| (format!("Studio/{n}"), d)),
    );
    let zips = [
        zip_of(&scene_files()),
        zip_of(&in_top),
        zip_with(&scene_files(), stored()),
    ];
    let want = render(from_folder.clone());
    for z in &zips {
        let s = Scene::load_zip(z, None, &limits()).unwrap();
        assert_eq!(s, from_folder);
        assert_eq!(render(s), want);
    }
    // On disk, through Scene::open (the CLI, scenario and element path).
    let zdir = common::TestDir::new("zip-file");
    zdir.write("studio.zip", &zips[0]);
    let path = zdir.path().join("studio.zip");
    let s = Scene::open(path.to_str().unwrap(), &limits()).unwrap();
    assert_eq!(render(s), want);

    // An app package, zipped and as a folder, picked by name and by id (any case).
    let app = zip_of(&app_files());
    zdir.write("app.zip", &app);
    let app_dir = common::TestDir::new("zip-app");
    write_all(&app_dir, &app_files());
    let app_path = zdir.path().join("app.zip");
    let specs = [
        format!("{}#Studio", app_path.display()),
        format!(
            "{}#9082F0D2-5B4B-4E6A-8C4A-222222222222",
            app_path.display()
        ),
        format!("{}#Studio", app_dir.path().display()),
    ];
    for spec in &specs {
        let s = Scene::open(spec, &limits()).unwrap();
        assert_eq!((s.max_audience, s.reserved_seats), (Some(2), 1), "{spec}");
        let mut plain = s.clone();
        plain.max_audience = None;
        plain.reserved_seats = 0;
        assert_eq!(plain, from_folder, "{spec}");
        // The manifest's reserved seat is applied: the two attendees skip the first seat in
        // seating order, as they do in the folder's scene given the same manifest values.
        let mut same = from_folder.clone();
        (same.max_audience, same.reserved_seats) = (Some(2), 1);
        let got = render(s);
        assert_eq!(got, render(same), "{spec}");
        assert_ne!(
            got, want,
            "{spec}: the reserved seat changes who sits where"
        );
    }
    // No selector: the first scene.
    let first = Scene::load_zip(&app, None, &limits()).unwrap();
    assert_eq!((first.id.as_str(), first.max_audience), ("grid", Some(9)));
    let first = Scene::load(app_dir.path(), &limits()).unwrap();
    assert_eq!(first.id, "grid");
    assert!(matches!(
        Scene::load_zip(&app, Some("Nope"), &limits()),
        Err(SceneError::NoSuchScene { ref wanted, .. }) if wanted == "Nope"
    ));
    assert!(matches!(
        Scene::load_zip(&zips[0], Some("Studio"), &limits()),
        Err(SceneError::Manifest(_))
    ));
}

#[test]
fn max_audience_makes_the_rest_wait() {
    let app = zip_of(&app_files());
    let scene = Scene::load_zip(&app, Some("Studio"), &limits()).unwrap();
    let options = CompositorOptions::default()
        .with_segment(SegmentMode::Alpha)
        .with_size(320, 180);
    let mut e = Compositor::new(scene, options).unwrap();
    e.join("8:acs:a", Role::Attendee).unwrap();
    e.join("8:acs:b", Role::Attendee).unwrap();
    // Three seats, an audience of two: the third waits as when the scene is full.
    assert!(e.join("8:acs:c", Role::Attendee).is_err());
    assert_eq!(e.seating().len(), 2);
}

/// Asserts a zip refusal: `entry` (when given) and the reason.
fn refused(
    got: Result<Scene, SceneError>,
    entry: Option<&str>,
    reason: impl Fn(&ZipRefusal) -> bool,
) {
    match got {
        Err(SceneError::Zip {
            entry: e,
            reason: r,
        }) => {
            assert!(reason(&r), "reason {r:?} (entry {e:?})");
            if let Some(want) = entry {
                assert_eq!(e, want, "reason {r:?}");
            }
            let shown = SceneError::Zip {
                entry: e,
                reason: r,
            }
            .to_string();
            assert!(!shown.contains('\n'), "{shown}");
        }
        other => panic!("expected a zip refusal, got {other:?}"),
    }
}

fn load(z: &[u8]) -> Result<Scene, SceneError> {
    Scene::load_zip(z, None, &limits())
}

#[test]
fn names_that_climb_out_are_refused() {
    for bad in [
        "../bg.png",
        "img/../../bg.png",
        "/bg.png",
        "C:/bg.png",
        "img\\desk.png",
        "a:b.png",
    ] {
        let mut files = scene_files();
        files.push(file(bad, b"x"));
        refused(load(&zip_of(&files)), Some(bad), |r| {
            *r == ZipRefusal::PathEscapes
        });
    }
}

#[test]
fn symlinks_duplicates_encryption_and_methods_are_refused() {
    // A symlink entry.
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (n, d) in scene_files() {
        w.start_file(n, deflated()).unwrap();
        w.write_all(&d).unwrap();
    }
    w.add_symlink("link.png", "/etc/passwd", deflated())
        .unwrap();
    let z = w.finish().unwrap().into_inner();
    refused(load(&z), Some("link.png"), |r| *r == ZipRefusal::Symlink);

    // The same name twice, exactly and after dropping `.`.
    let mut files = scene_files();
    files.push(file("xg.png", b"other"));
    let mut z = zip_of(&files);
    rename(&mut z, "xg.png", "bg.png");
    refused(load(&z), Some("bg.png"), |r| *r == ZipRefusal::Duplicate);
    let mut files = scene_files();
    files.push(file("./bg.png", b"other"));
    refused(load(&zip_of(&files)), Some("bg.png"), |r| {
        *r == ZipRefusal::Duplicate
    });

    // Encrypted (flag bit 0), and methods other than stored and deflate (bzip2, AES).
    let mut z = zip_of(&scene_files());
    patch(&mut z, 1, 8, 6, 1, false);
    refused(load(&z), Some("bg.png"), |r| *r == ZipRefusal::Encrypted);
    for method in [12, 99, 14] {
        let mut z = zip_of(&scene_files());
        patch(&mut z, 2, 10, 8, method, false);
        refused(load(&z), Some("img/desk.png"), |r| {
            matches!(r, ZipRefusal::Compression(_))
        });
    }
}

#[test]
fn sizes_that_disagree_with_the_data_are_refused() {
    let bg_len = common::png::encoded(64, 36, 255).len() as u32;
    // Both headers claim fewer bytes than the data inflates to: counting stops one past.
    let mut z = zip_of(&scene_files());
    patch(&mut z, 1, 24, 22, bg_len - 10, true);
    refused(load(&z), Some("bg.png"), |r| {
        *r == ZipRefusal::SizeMismatch {
            claimed: u64::from(bg_len - 10),
            counted: u64::from(bg_len - 9),
        }
    });
    // More than the data holds.
    let mut z = zip_of(&scene_files());
    patch(&mut z, 1, 24, 22, bg_len + 10, true);
    refused(load(&z), Some("bg.png"), |r| {
        matches!(r, ZipRefusal::SizeMismatch { .. } | ZipRefusal::Corrupt(_))
    });
    // Only the central directory changed: it disagrees with the local header.
    let mut z = zip_of(&scene_files());
    let (central, _) = records(&z)[1];
    z[central + 24..central + 28].copy_from_slice(&(bg_len - 10).to_le_bytes());
    refused(load(&z), Some("bg.png"), |r| {
        matches!(r, ZipRefusal::Corrupt(_) | ZipRefusal::SizeMismatch { .. })
    });
    // A header that hides a bomb: 4 MiB of zeros claiming 1 KiB.
    let mut files = scene_files();
    files.push(file("pad.bin", &vec![0u8; 4 << 20]));
    let mut z = zip_of(&files);
    patch(&mut z, 3, 24, 22, 1024, true);
    refused(load(&z), Some("pad.bin"), |r| {
        *r == ZipRefusal::SizeMismatch {
            claimed: 1024,
            counted: 1025,
        }
    });
    // Not a zip at all, and a zip cut short.
    refused(load(b"PK\x03\x04garbage"), None, |r| {
        matches!(r, ZipRefusal::Corrupt(_))
    });
    let z = zip_of(&scene_files());
    refused(load(&z[..z.len() / 2]), None, |r| {
        matches!(r, ZipRefusal::Corrupt(_))
    });
}

#[test]
fn limits_are_refused_from_headers() {
    // 8 MiB of zeros deflate past 1000:1.
    let mut files = scene_files();
    files.push(file("zeros.bin", &vec![0u8; 8 << 20]));
    refused(load(&zip_of(&files)), Some("zeros.bin"), |r| {
        matches!(r, ZipRefusal::Ratio { max: 1000, .. })
    });
    // Over 10 MiB in all (stored, so no ratio): the entry that crosses is named.
    let mut files = scene_files();
    for i in 0..11 {
        files.push(file(&format!("pad{i}.bin"), &vec![7u8; 1 << 20]));
    }
    refused(load(&zip_with(&files, stored())), Some("pad9.bin"), |r| {
        *r == ZipRefusal::TooLarge { max: 10 << 20 }
    });
    // 65 entries.
    let mut files = scene_files();
    for i in 0..62 {
        files.push(file(&format!("f{i}.txt"), b"x"));
    }
    refused(load(&zip_of(&files)), None, |r| {
        *r == ZipRefusal::TooManyEntries { max: 64 }
    });
    files.pop();
    assert!(load(&zip_of(&files)).is_ok(), "64 entries load");
}

#[test]
fn missing_files_and_nesting_are_refused() {
    let files: Vec<_> = scene_files().into_iter().skip(1).collect();
    refused(load(&zip_of(&files)), Some("package.zip/scene.json"), |r| {
        *r == ZipRefusal::Missing
    });
    let files: Vec<_> = scene_files().into_iter().take(2).collect();
    refused(
        load(&zip_of(&files)),
        Some("package.zip/img/desk.png"),
        |r| *r == ZipRefusal::Missing,
    );
    // An app package whose scene zip is missing, and one whose scene zip holds a zip.
    let mut app = app_files();
    app.remove(1);
    refused(
        load(&zip_of(&app)),
        Some("package.zip/scenes/grid.zip"),
        |r| *r == ZipRefusal::Missing,
    );
    let mut inner = scene_files();
    inner.push(file("deeper.zip", &zip_of(&scene_files())));
    let mut app = app_files();
    app[1].1 = zip_of(&inner);
    refused(load(&zip_of(&app)), Some("deeper.zip"), |r| {
        *r == ZipRefusal::NestedTooDeep
    });
    // Six scenes in a manifest.
    let six = MANIFEST.replace(
        r#""scenes": ["#,
        &format!(
            r#""scenes": [{}"#,
            r#"{"id": "x", "name": "x", "file": "scenes/grid.zip", "maxAudience": 1},"#.repeat(4)
        ),
    );
    let mut app = app_files();
    app[0].1 = six.into_bytes();
    assert!(
        matches!(load(&zip_of(&app)), Err(SceneError::Manifest(ref m)) if m.contains("6 scenes"))
    );
}

#[test]
fn an_inner_zip_counts_against_the_app_package() {
    // Scene budget 100 kB, so an app package's is 500 kB. The outer holds 370 kB of padding
    // and a stored inner zip of 80 kB that inflates to 80 kB more: within the inner's own
    // budget, past the outer's.
    let limits = SceneLimits::default().with_max_scene_bytes(100_000);
    let mut inner = scene_files();
    inner.push(file("notes.txt", &vec![b'n'; 80_000]));
    let inner_zip = zip_with(&inner, stored());
    assert!(Scene::load_zip(&inner_zip, None, &limits).is_ok());
    let mut app = app_files();
    app[1].1 = inner_zip.clone();
    app.push(file("padding.bin", &vec![1u8; 370_000]));
    let z = zip_with(&app, stored());
    refused(Scene::load_zip(&z, None, &limits), Some("notes.txt"), |r| {
        *r == ZipRefusal::TooLarge { max: 500_000 }
    });
    // Without the padding it loads.
    app.pop();
    let z = zip_with(&app, stored());
    assert!(Scene::load_zip(&z, None, &limits).is_ok());
}
