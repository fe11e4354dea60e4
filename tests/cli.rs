//! The `together` CLI end to end: every command on small inputs, and bad input giving one clear
//! line, a non-zero exit and no output file.

use std::path::{Path, PathBuf};
use std::process::Output;

use together_mode::io::Y4mReader;

mod common;

use common::{is_empty_dir, together, together_fails, y4m_frames};

fn tmpdir(name: &str) -> PathBuf {
    common::tmpdir("cli", name)
}

fn run(args: &[&str]) -> Output {
    together().args(args).output().unwrap()
}

#[test]
fn demo_writes_y4m_file_stdout_and_pngs() {
    let d = tmpdir("demo");
    let out = d.join("demo.y4m");
    let o = run(&[
        "demo",
        "--participants",
        "3",
        "--frames",
        "3",
        "--size",
        "320x180",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(y4m_frames(&std::fs::read(&out).unwrap()), (320, 180, 3));

    let o = run(&[
        "demo",
        "--participants",
        "2",
        "--frames",
        "2",
        "--size",
        "160x90",
        "--out",
        "-",
    ]);
    assert!(o.status.success());
    assert_eq!(y4m_frames(&o.stdout), (160, 90, 2));

    let pattern = d.join("frames").join("%03d.png");
    let o = run(&[
        "demo",
        "--frames",
        "2",
        "--size",
        "192x108",
        "--out",
        pattern.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(d.join("frames/001.png")).unwrap();
    assert_eq!((img.width(), img.height()), (192, 108));
    assert!(d.join("frames/002.png").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn seating_prints_the_acs_map() {
    let o = run(&["seating", "--scene", "builtin:grid", "--participants", "3"]);
    assert!(o.status.success());
    let map: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let seat = &map["8:acs:participant-1"];
    // builtin:grid is the 9-seat workload at 1920x1080; seat 0 at (200,20) 240x320, in 1280x720.
    assert!((seat["left"].as_f64().unwrap() - 133.33).abs() < 0.01);
    assert!((seat["width"].as_f64().unwrap() - 160.0).abs() < 0.01);
    assert_eq!(map.as_object().unwrap().len(), 3);
    let o = run(&[
        "seating",
        "--scene",
        "builtin:grid",
        "--participants",
        "2",
        "--scene-size",
        "1920x1080",
    ]);
    let map: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(map["8:acs:participant-2"]["left"].as_f64(), Some(840.0));
}

#[test]
fn seating_follows_auto_zoom() {
    let seating = |zoom: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "seating",
            "--scene",
            "builtin:auditorium",
            "--participants",
            "3",
        ];
        args.extend_from_slice(zoom);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let (default, off, on) = (
        seating(&[]),
        seating(&["--auto-zoom", "off"]),
        seating(&["--auto-zoom", "on"]),
    );
    // builtin:auditorium does not zoom by itself; the override zooms onto the three.
    assert_eq!(default, off);
    for i in 1..=3 {
        let id = format!("8:acs:participant-{i}");
        let (a, b) = (&off[&id], &on[&id]);
        let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
        assert!(f(b, "width") > f(a, "width") && f(b, "height") > f(a, "height"));
        // Inside the 1280x720 box.
        assert!(f(b, "left") >= 0.0 && f(b, "left") + f(b, "width") <= 1280.0);
        assert!(f(b, "top") >= 0.0 && f(b, "top") + f(b, "height") <= 720.0);
    }
    let o = run(&[
        "seating",
        "--scene",
        "builtin:grid",
        "--participants",
        "1",
        "--auto-zoom",
        "maybe",
    ]);
    assert!(!o.status.success());
}

/// A scene package with one background and two seats, plus a Y4M clip and a PNG still.
fn package(d: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let scene = d.join("scene");
    std::fs::create_dir_all(&scene).unwrap();
    image::RgbaImage::from_pixel(64, 36, image::Rgba([30, 60, 90, 255]))
        .save(scene.join("bg.png"))
        .unwrap();
    std::fs::write(
        scene.join("scene.json"),
        r#"{"extent":{"left":0,"top":0,"width":64,"height":36},
            "sprites":[{"filename":"bg.png","cx":32,"cy":18,"width":64,"height":36,"zOrder":0}],
            "participants":[{"cx":16,"cy":18,"width":24,"height":32,"zOrder":1,"seatingOrder":0},
                            {"cx":48,"cy":18,"width":24,"height":32,"zOrder":1,"seatingOrder":1}]}"#,
    )
    .unwrap();
    // A 5-frame clip whose luma is the frame number * 40 + 20.
    let clip = d.join("clip.y4m");
    let mut bytes = b"YUV4MPEG2 W32 H32 F10:1 Ip A1:1 C420jpeg\n".to_vec();
    for k in 0..5u8 {
        bytes.extend_from_slice(b"FRAME\n");
        bytes.extend(std::iter::repeat_n(20 + 40 * k, 32 * 32));
        bytes.extend(std::iter::repeat_n(128, 2 * 16 * 16));
    }
    std::fs::write(&clip, bytes).unwrap();
    let still = d.join("still.png");
    image::RgbaImage::from_pixel(40, 30, image::Rgba([255, 255, 255, 255]))
        .save(&still)
        .unwrap();
    (scene, clip, still)
}

#[test]
fn render_loops_clips_at_the_output_rate() {
    let d = tmpdir("render");
    let (scene, clip, still) = package(&d);
    let out = d.join("out.y4m");
    let o = run(&[
        "render",
        "--segment",
        "alpha",
        "--scene",
        scene.to_str().unwrap(),
        "--input",
        &format!("a={}", clip.display()),
        "--input",
        &format!("b={}", still.display()),
        "--size",
        "64x36",
        "--fps",
        "20",
        "--frames",
        "12",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let mut r = Y4mReader::new(std::io::Cursor::new(bytes)).unwrap();
    let mut lumas = Vec::new();
    while let Some(f) = r.read_frame().unwrap() {
        // Seat 0 (participant a) is at x 4..28; seat 1 (b, white still) at 36..60.
        lumas.push((
            f.as_ref().plane(0).row(18)[16],
            f.as_ref().plane(0).row(18)[48],
        ));
    }
    assert_eq!(lumas.len(), 12);
    // 10 fps clip at 20 fps output: each clip frame twice, looping after 5 clip frames.
    let a: Vec<u8> = lumas.iter().map(|l| l.0).collect();
    assert_eq!(a, [20, 20, 60, 60, 100, 100, 140, 140, 180, 180, 20, 20]);
    assert!(lumas.iter().all(|l| l.1 == 235), "white still");
    // Without --frames: the clip's length at the output rate (5 frames at 10 fps = 10 at 20).
    let o = run(&[
        "render",
        "--segment",
        "alpha",
        "--scene",
        scene.to_str().unwrap(),
        "--input",
        &format!("a={}", clip.display()),
        "--size",
        "64x36",
        "--fps",
        "20",
        "--out",
        "-",
    ]);
    assert!(o.status.success());
    assert_eq!(y4m_frames(&o.stdout).2, 10);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_input_fails_with_one_line_and_no_output() {
    let d = tmpdir("bad");
    let (scene, clip, _) = package(&d);
    let out_dir = d.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("x.y4m");
    let out_s = out.to_str().unwrap();
    let scene_s = scene.to_str().unwrap();
    let clip_arg = format!("a={}", clip.display());

    for (size, why) in [
        ("321x180", "even"),
        ("0x180", "zero"),
        ("100000x100000", "exceeds"),
        ("wide", "WIDTHxHEIGHT"),
    ] {
        together_fails(
            &["demo", "--size", size, "--frames", "1", "--out", out_s],
            why,
        );
    }
    together_fails(
        &[
            "demo",
            "--frames",
            "1",
            "--participants",
            "500",
            "--out",
            out_s,
        ],
        "seats",
    );
    together_fails(
        &[
            "demo",
            "--frames",
            "1",
            "--out",
            &d.join("x.txt").to_string_lossy(),
        ],
        ".y4m",
    );
    together_fails(
        &["demo", "--frames", "1", "--fps", "0", "--out", out_s],
        "fps",
    );
    together_fails(
        &["demo", "--frames", "1", "--framing", "on", "--out", out_s],
        "framing",
    );
    // A fixed crop shows another window than the centre crop (framing off).
    let mut shown = Vec::new();
    for framing in ["off", "0,0,160,160"] {
        let f = d.join(format!("framing-{}.y4m", shown.len()));
        let ok = together()
            .args([
                "demo",
                "--frames",
                "1",
                "--size",
                "640x360",
                "--framing",
                framing,
            ])
            .args(["--out", &f.to_string_lossy()])
            .status()
            .unwrap();
        assert!(ok.success(), "--framing {framing}");
        shown.push(std::fs::read(&f).unwrap());
    }
    assert_ne!(shown[0], shown[1]);
    together_fails(
        &[
            "render",
            "--segment",
            "alpha",
            "--scene",
            "/nonexistent/scene",
            "--input",
            &clip_arg,
            "--out",
            out_s,
        ],
        "nonexistent",
    );
    together_fails(
        &[
            "render",
            "--segment",
            "alpha",
            "--scene",
            "builtin:nope",
            "--input",
            &clip_arg,
            "--out",
            out_s,
        ],
        "nope",
    );
    together_fails(
        &[
            "render",
            "--segment",
            "alpha",
            "--scene",
            scene_s,
            "--input",
            "noequals",
            "--out",
            out_s,
        ],
        "ID=PATH",
    );
    together_fails(
        &[
            "render",
            "--segment",
            "alpha",
            "--scene",
            scene_s,
            "--input",
            "a=/missing.y4m",
            "--out",
            out_s,
        ],
        "missing.y4m",
    );
    together_fails(
        &[
            "render",
            "--segment",
            "alpha",
            "--scene",
            scene_s,
            "--input",
            "a=clip.gif",
            "--out",
            out_s,
        ],
        ".y4m",
    );

    // A clip truncated in its third frame: the render fails when it gets there, and the
    // frames already written are removed with the partial file.
    let truncated = d.join("trunc.y4m");
    let bytes = std::fs::read(&clip).unwrap();
    std::fs::write(
        &truncated,
        &bytes[..bytes.len() - 3 * (32 * 32 * 3 / 2 + 6) + 100],
    )
    .unwrap();
    together_fails(
        &[
            "render",
            "--segment",
            "alpha",
            "--scene",
            scene_s,
            "--input",
            &format!("a={}", truncated.display()),
            "--size",
            "64x36",
            "--fps",
            "10",
            "--frames",
            "5",
            "--out",
            out_s,
        ],
        "truncated",
    );
    // A malformed scene.json.
    std::fs::write(scene.join("scene.json"), "{ not json").unwrap();
    together_fails(
        &[
            "render",
            "--segment",
            "alpha",
            "--scene",
            scene_s,
            "--input",
            &clip_arg,
            "--out",
            out_s,
        ],
        "scene.json",
    );
    assert!(
        is_empty_dir(&out_dir),
        "no partial output may remain: {:?}",
        std::fs::read_dir(&out_dir).unwrap().collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bench_runs_the_workload_on_other_seat_aspects() {
    let out = run(&[
        "bench",
        "--participants",
        "4",
        "--frames",
        "2",
        "--size",
        "640x360",
        "--seat-aspect",
        "16:9",
        "--serial",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("participants=4 frames=2 "), "{line}");
    assert!(line.contains(" seat_aspect=16:9 "), "{line}");
    for (bad, says) in [
        ("16", "expected W:H"),
        ("0:9", "seat aspect"),
        ("64:1", "do not fit"),
    ] {
        together_fails(&["bench", "--frames", "1", "--seat-aspect", bad], says);
    }
}

#[test]
fn demo_and_render_take_the_ml_backend_only_with_ml_segmentation() {
    let d = tmpdir("backend");
    let out = d.join("o.y4m");
    let out = out.to_str().unwrap();
    for args in [
        vec!["demo", "--frames", "2", "--backend", "ort", "--out", out],
        vec!["demo", "--frames", "2", "--ort-lib", "/x.so", "--out", out],
        vec![
            "render",
            "--segment",
            "alpha",
            "--scene",
            "builtin:auditorium",
            "--input",
            "a=/nonexistent.png",
            "--backend",
            "ort",
            "--out",
            out,
        ],
    ] {
        together_fails(&args, "only used with --segment ml or auto");
    }
    assert!(is_empty_dir(&d));
    // A build without the ml features says which feature it needs.
    if !cfg!(feature = "ml") {
        let args = [
            "demo",
            "--frames",
            "2",
            "--segment",
            "ml",
            "--backend",
            "ort",
            "--out",
            out,
        ];
        together_fails(&args, "--features ml");
        assert!(is_empty_dir(&d));
    }
}

/// Issue 14: an error that wraps an OS error prints it once, not once per link of the chain
/// (it was printed twice from `render`, three times from a scenario).
#[test]
fn os_errors_are_printed_once() {
    let d = tmpdir("os-error");
    let out = d.join("o.y4m");
    let missing = d.join("nosuchdir");
    let once = |args: &[&str], mentions: &str| {
        let o = together_fails(args, mentions);
        let err = String::from_utf8_lossy(&o.stderr);
        // The OS's text for ENOENT ("No such file or directory (os error 2)" on Linux).
        let enoent = std::io::Error::from_raw_os_error(2).to_string();
        assert_eq!(err.matches(&enoent).count(), 1, "{err}");
        assert_eq!(err.matches("os error").count(), 1, "{err}");
    };
    once(
        &[
            "render",
            "--segment",
            "alpha",
            "--scene",
            missing.to_str().unwrap(),
            "--input",
            "a=/nonexistent.png",
            "--out",
            out.to_str().unwrap(),
        ],
        "nosuchdir/scene.json",
    );

    // A scenario whose scene folder is missing, and one whose clip is missing.
    let scenario = d.join("s.json");
    let rooms = d.join("rooms");
    for (json, missing) in [
        (
            r#"{"ticks": 1, "scene": "nosuchdir", "participants": []}"#,
            "nosuchdir",
        ),
        (
            r#"{"ticks": 1, "segment": "alpha", "participants": [{"id": "a", "source": {"clip": {"path": "nosuch.y4m"}}}]}"#,
            "nosuch.y4m",
        ),
    ] {
        std::fs::write(&scenario, json).unwrap();
        once(
            &[
                "scenario",
                scenario.to_str().unwrap(),
                "--out",
                rooms.to_str().unwrap(),
            ],
            missing,
        );
    }
    // And the scenario file itself.
    once(
        &[
            "scenario",
            d.join("none.json").to_str().unwrap(),
            "--out",
            rooms.to_str().unwrap(),
        ],
        "none.json",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// `render --input-framing ID=MODE`: one input's own framing over `--framing`.
#[test]
fn render_takes_a_framing_per_input() {
    let d = tmpdir("render-input-framing");
    let (scene, _, _) = package(&d);
    // A still whose luma grows from left to right, for both inputs.
    let still = d.join("ramp.png");
    image::RgbaImage::from_fn(48, 32, |x, _| {
        let v = (x * 5) as u8;
        image::Rgba([v, v, v, 255])
    })
    .save(&still)
    .unwrap();
    let (a, b) = (
        format!("a={}", still.display()),
        format!("b={}", still.display()),
    );
    let scene = scene.to_string_lossy().into_owned();
    let render = |extra: &[&str]| -> Vec<u8> {
        let mut args = vec![
            "render",
            "--segment",
            "none",
            "--scene",
            &scene,
            "--input",
            &a,
            "--input",
            &b,
            "--size",
            "64x36",
            "--frames",
            "1",
            "--out",
            "-",
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let luma = |bytes: &[u8]| {
        let mut r = Y4mReader::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let f = r.read_frame().unwrap().unwrap();
        // Seat 0 (a) at x 4..28, seat 1 (b) at 36..60.
        let row = f.as_ref().plane(0).row(18).to_vec();
        (row[4..28].to_vec(), row[36..60].to_vec())
    };
    let plain = luma(&render(&[]));
    assert_eq!(plain.0, plain.1, "the same still in both seats");
    // a shows the dark left strip of its frame; b keeps the centre crop.
    let own = render(&["--input-framing", "a=0,0,8,32"]);
    let (a_seat, b_seat) = luma(&own);
    assert_ne!(a_seat, plain.0);
    assert!(
        a_seat.iter().max() < plain.0.iter().max(),
        "the left strip is darker"
    );
    assert_eq!(b_seat, plain.1);
    // The same picture from --framing with b's own `off`.
    assert_eq!(
        render(&["--framing", "0,0,8,32", "--input-framing", "b=off"]),
        own
    );
    let out = d.join("bad.y4m");
    let out_s = out.to_str().unwrap();
    for (spec, why) in [
        ("c=off", "\"c\""),
        ("a=on", "framing"),
        ("a", "ID=auto|off"),
        ("a=1,2,3", "framing"),
    ] {
        together_fails(
            &[
                "render",
                "--segment",
                "none",
                "--scene",
                &scene,
                "--input",
                &a,
                "--input",
                &b,
                "--input-framing",
                spec,
                "--out",
                out_s,
            ],
            why,
        );
        assert!(!out.exists(), "{spec}: no output");
    }
    together_fails(
        &[
            "render",
            "--segment",
            "none",
            "--scene",
            &scene,
            "--input",
            &a,
            "--input-framing",
            "a=off",
            "--input-framing",
            "a=auto",
            "--out",
            out_s,
        ],
        "twice",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// `render --reserved-seats` and `--input-role ID=ROLE`: the presenter takes the reserved
/// seat though listed last; an attendee who finds only reserved seats waits (left out, with
/// a warning); bad values fail.
#[test]
fn render_reserves_seats_for_roles() {
    let d = tmpdir("render-reserved");
    let (scene, _, white) = package(&d);
    let dark = d.join("dark.png");
    image::RgbaImage::from_pixel(40, 30, image::Rgba([40, 40, 40, 255]))
        .save(&dark)
        .unwrap();
    let (a, b) = (
        format!("a={}", white.display()),
        format!("b={}", dark.display()),
    );
    let scene = scene.to_string_lossy().into_owned();
    let render = |extra: &[&str]| -> (u8, u8, String) {
        let mut args = vec![
            "render",
            "--segment",
            "none",
            "--scene",
            &scene,
            "--input",
            &a,
            "--input",
            &b,
            "--size",
            "64x36",
            "--frames",
            "1",
            "--out",
            "-",
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut r = Y4mReader::new(std::io::Cursor::new(o.stdout)).unwrap();
        let f = r.read_frame().unwrap().unwrap();
        // Seat 0 centred at x 16, seat 1 at x 48.
        let row = f.as_ref().plane(0).row(18).to_vec();
        (
            row[16],
            row[48],
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (s0, s1, _) = render(&[]);
    assert!(
        s0 > s1,
        "join order: a (white) in seat 0, b (dark) in seat 1"
    );
    let (r0, r1, _) = render(&["--reserved-seats", "1", "--input-role", "b=presenter"]);
    assert_eq!((r0, r1), (s1, s0), "b takes the reserved seat 0, a seat 1");
    assert_eq!(
        render(&["--reserved-seats", "seats:0", "--input-role", "b=presenter"]).0,
        r0
    );
    // Two attendees and one unreserved seat: b waits, seat 0 shows the background.
    let (w0, w1, stderr) = render(&["--reserved-seats", "1"]);
    assert_eq!(w1, s0, "a in seat 1");
    assert!(w0 != s0 && w0 != s1, "seat 0 empty");
    assert!(
        stderr.contains("waits") && stderr.contains("b="),
        "{stderr}"
    );
    let out = d.join("bad.y4m");
    let out_s = out.to_str().unwrap();
    for (flag, value, why) in [
        ("--input-role", "b=boss", "ID=organizer"),
        ("--input-role", "c=presenter", "\"c\""),
        ("--reserved-seats", "x", "seats:"),
        ("--reserved-seats", "seats:5", "seat 5"),
    ] {
        together_fails(
            &[
                "render",
                "--segment",
                "none",
                "--scene",
                &scene,
                "--input",
                &a,
                flag,
                value,
                "--out",
                out_s,
            ],
            why,
        );
        assert!(!out.exists(), "{value}: no output");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn scene_zips_and_app_packages_open_like_folders() {
    use std::io::Write;
    let d = common::TestDir::new("cli-zip");
    let json = r#"{"extent": {"left": 0, "top": 0, "width": 16, "height": 9},
        "sprites": [{"filename": "bg.png", "cx": 8, "cy": 4.5, "width": 16, "height": 9}],
        "participants": [{"cx": 3, "cy": 4.5, "width": 3, "height": 4},
                         {"cx": 8, "cy": 4.5, "width": 3, "height": 4},
                         {"cx": 13, "cy": 4.5, "width": 3, "height": 4}]}"#;
    let png = common::png::encoded(16, 10, 255);
    d.write("folder/scene.json", json.as_bytes());
    d.write("folder/bg.png", &png);
    let zip_of = |files: &[(&str, &[u8])]| {
        let options = zip::write::SimpleFileOptions::default();
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, options).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    let scene_zip = zip_of(&[("scene.json", json.as_bytes()), ("bg.png", &png)]);
    d.write("scene.zip", &scene_zip);
    let manifest = r#"{"meetingExtensionDefinition": {"scenes": [{"id": "5f1c", "name": "Row",
        "file": "scenes/row.zip", "preview": "p.png", "maxAudience": 2}]}}"#;
    d.write(
        "app.zip",
        &zip_of(&[
            ("manifest.json", manifest.as_bytes()),
            ("scenes/row.zip", &scene_zip),
        ]),
    );
    let path = |p: &str| d.path().join(p).to_str().unwrap().to_string();
    let seating = |scene: &str, n: &str| run(&["seating", "--scene", scene, "--participants", n]);
    let want = seating(&path("folder"), "2");
    assert!(
        want.status.success(),
        "{}",
        String::from_utf8_lossy(&want.stderr)
    );
    for scene in [
        path("scene.zip"),
        path("app.zip"),
        format!("{}#Row", path("app.zip")),
    ] {
        let o = seating(&scene, "2");
        assert!(
            o.status.success(),
            "{scene}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(o.stdout, want.stdout, "{scene}");
    }
    // Three seats, but the app package's maxAudience is 2; the folder seats three.
    assert!(seating(&path("folder"), "3").status.success());
    let o = seating(&format!("{}#5F1C", path("app.zip")), "3");
    assert!(!o.status.success());
    let o = seating(&format!("{}#Nope", path("app.zip")), "1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("Row (5f1c)"), "{err}");
}

#[test]
fn render_and_seating_letterbox_an_output_of_another_aspect() {
    // The 64x36 scene at 64x64: the picture is rows 14..50, black bars above and below; the
    // seats keep their size and aspect (seat 0 at x 4..28, rows 2..34 of the picture).
    let d = tmpdir("letterbox");
    let (scene, _clip, still) = package(&d);
    let out = d.join("out.y4m");
    let o = run(&[
        "render",
        "--segment",
        "alpha",
        "--scene",
        scene.to_str().unwrap(),
        "--input",
        &format!("a={}", still.display()),
        "--size",
        "64x64",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut r = Y4mReader::new(std::io::Cursor::new(std::fs::read(&out).unwrap())).unwrap();
    let f = r.read_frame().unwrap().unwrap();
    let y = f.as_ref();
    for row in (0..14).chain(50..64) {
        assert!(
            y.plane(0).row(row).iter().all(|&v| v == 16),
            "row {row} is not a black bar"
        );
    }
    // The white still fills exactly x 4..28, rows 16..48; the background is around it.
    let white = |x: usize, row: usize| y.plane(0).row(row)[x] == 235;
    assert!(white(4, 16) && white(27, 47) && white(16, 30));
    assert!(!white(3, 30) && !white(28, 30) && !white(16, 15) && !white(16, 48));
    assert!(
        y.plane(0).row(15)[16] != 16,
        "the background reaches the bar"
    );

    // The seating map, shown at the output's own size, is in the same coordinates.
    let o = run(&[
        "seating",
        "--scene",
        scene.to_str().unwrap(),
        "--participants",
        "1",
        "--size",
        "64x64",
        "--scene-size",
        "64x64",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let map: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let seat = &map["8:acs:participant-1"];
    let got = ["left", "top", "width", "height"].map(|k| seat[k].as_f64().unwrap());
    assert_eq!(got, [4.0, 16.0, 24.0, 32.0]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn color_and_range_flags_reach_y4m_and_png() {
    use together_mode::frame::{ColorSpec, Matrix, PixelFormat, Range};
    let d = tmpdir("color");
    let demo = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "demo",
            "--participants",
            "2",
            "--frames",
            "1",
            "--size",
            "64x36",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out).unwrap_or_default()
    };
    // The defaults are BT.601 limited: the same bytes as saying so.
    let default = demo(&d.join("default.y4m"), &[]);
    let explicit = demo(
        &d.join("explicit.y4m"),
        &["--color", "bt601", "--range", "limited"],
    );
    assert_eq!(default, explicit);
    assert!(default.starts_with(b"YUV4MPEG2 W64 H36 "));
    assert!(String::from_utf8_lossy(&default[..80]).contains("XCOLORRANGE=LIMITED"));

    let args = ["--color", "bt709", "--range", "full"];
    let hd = demo(&d.join("hd.y4m"), &args);
    assert!(String::from_utf8_lossy(&hd[..80]).contains("XCOLORRANGE=FULL"));
    assert_ne!(default, hd);
    let mut r = Y4mReader::new(std::io::Cursor::new(hd)).unwrap();
    let mut frame = r.read_frame().unwrap().unwrap();
    // The reader takes the range from the header (Y4M has no field for the matrix).
    assert_eq!(frame.color().range, Range::Full);
    let spec = ColorSpec {
        matrix: Matrix::Bt709,
        range: Range::Full,
    };
    frame.set_color(spec);
    let expected = frame.as_ref().to_frame(PixelFormat::Rgba).unwrap();

    // The PNG of the same frame is RGBA, opaque, converted with the same colour.
    demo(&d.join("png").join("%d.png"), &args);
    let png = image::open(d.join("png/1.png")).unwrap();
    assert_eq!(png.color(), image::ColorType::Rgba8);
    let png = png.to_rgba8();
    let expected = expected.as_ref();
    for row in 0..36 {
        assert_eq!(
            &png.as_raw()[row * 64 * 4..(row + 1) * 64 * 4],
            &expected.plane(0).row(row)[..64 * 4],
            "row {row}"
        );
    }
    assert!(png.pixels().all(|p| p[3] == 255));
    together_fails(&["demo", "--color", "bt2020", "--out", "x.y4m"], "bt2020");
    together_fails(&["demo", "--range", "tv", "--out", "x.y4m"], "tv");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn render_takes_a_segment_mode_per_input() {
    // A fully transparent still: --segment alpha shows the background through it, its own
    // --input-segment none shows the still's colour samples whatever their alpha.
    let d = tmpdir("input-segment");
    let (scene, _clip, _still) = package(&d);
    let clear = d.join("clear.png");
    image::RgbaImage::from_pixel(40, 30, image::Rgba([255, 255, 255, 0]))
        .save(&clear)
        .unwrap();
    let render = |name: &str, extra: &[&str]| {
        let out = d.join(name);
        let input = format!("a={}", clear.display());
        let mut args = vec![
            "render",
            "--segment",
            "alpha",
            "--scene",
            scene.to_str().unwrap(),
            "--input",
            &input,
            "--size",
            "64x36",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut r = Y4mReader::new(std::io::Cursor::new(std::fs::read(&out).unwrap())).unwrap();
        let f = r.read_frame().unwrap().unwrap();
        // Seat 0 is x 4..28, rows 2..34; x 34 is background.
        (
            f.as_ref().plane(0).row(18)[16],
            f.as_ref().plane(0).row(18)[34],
        )
    };
    let (seat, bg) = render("alpha.y4m", &[]);
    assert_eq!(seat, bg, "transparent: the background shows");
    let (seat, _) = render("none.y4m", &["--input-segment", "a=none"]);
    assert_ne!(seat, bg, "whole frames: the still itself shows");
    let s = scene.to_str().unwrap();
    let input = format!("a={}", clear.display());
    let base = [
        "render",
        "--segment",
        "alpha",
        "--scene",
        s,
        "--input",
        &input,
        "--out",
    ];
    let out = d.join("bad.y4m");
    let out = out.to_str().unwrap();
    let with = |extra: &[&'static str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.push(out);
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    for (extra, mentions) in [
        (&["--input-segment", "a=magic"][..], "magic"),
        (&["--input-segment", "zz=none"][..], "zz"),
        (&["--input-segment", "a"][..], "ID=MODE"),
        (
            &["--input-segment", "a=none", "--input-segment", "a=alpha"][..],
            "twice",
        ),
    ] {
        let args = with(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        together_fails(&args, mentions);
    }
    assert!(!Path::new(out).exists());
    std::fs::remove_dir_all(&d).unwrap();
}
