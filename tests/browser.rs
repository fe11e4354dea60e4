//! The web page in a real browser (issue 18): `together serve --record DIR` on 127.0.0.1, two
//! participants in Debian's headless `chromium` (driven by playwright-core: tests/browser/),
//! each publishing a real-footage clip as their camera over WHIP; the organizer's page starts
//! Together Mode (`start=1`). Checked: the pages' video plays frames of the room's size; the
//! overlay draws one box per seated participant at the seating map's places; the decoded
//! video and the recording `DIR/<meeting>/main.y4m` show a picture in each seat that differs
//! from the empty scene there (a meeting where Together Mode runs with nobody's video), and
//! match it away from the seats; an unauthenticated WHIP POST gets 401.
//!
//! Needs chromium, node, `npm ci` in tests/browser, the clip (scripts/make-clips.sh) and the
//! selfie model (models/); outside CI it skips when one is missing, in CI it fails.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use together_mode::frame::Frame;
use together_mode::io::Y4mReader;

const KEY: &str = "a browser test key, at least 32 bytes long";
const CHROMIUM: &str = "/usr/bin/chromium";
const MEETING: &str = "browser";
const EMPTY: &str = "empty";
const OLIVIA: &str = "8:orgid:olivia";
const ALICE: &str = "8:acs:alice";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What is missing to run, if anything.
fn missing() -> Vec<String> {
    let r = root();
    let mut out = Vec::new();
    for (path, what) in [
        (
            PathBuf::from(CHROMIUM),
            "chromium (apt-get install chromium)",
        ),
        (
            r.join("tests/browser/node_modules/playwright-core/package.json"),
            "playwright-core (npm ci in tests/browser)",
        ),
        (
            r.join("footage/clips/close.y4m"),
            "the clip (scripts/make-clips.sh)",
        ),
        (
            r.join("models/selfie_segmentation_landscape.tflite"),
            "the selfie model (scripts/ml-setup.sh)",
        ),
    ] {
        if !path.exists() {
            out.push(what.to_string());
        }
    }
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map_or(true, |s| !s.success())
    {
        out.push("node".into());
    }
    out
}

/// Kills the child (by its own id) when dropped, so a failing test leaves no process behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn together() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_together"));
    c.current_dir(root()).env("TOGETHER_MODE_KEY", KEY);
    c
}

fn token(meeting: &str, id: &str, role: &str) -> String {
    let out = together()
        .args([
            "token",
            "--meeting",
            meeting,
            "--participant",
            id,
            "--role",
            role,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Reads a child's pipe to its end on a thread; the text comes back through the channel.
fn collect(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    rx
}

/// Waits for a child with a time limit; kills it past the limit.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last whole frame within the file's first `bytes` (all of it: `u64::MAX`).
fn last_frame(path: &Path, bytes: u64) -> Frame {
    let file = std::fs::File::open(path).unwrap();
    let mut r = Y4mReader::new(BufReader::new(file.take(bytes))).unwrap();
    let mut last = None;
    while let Ok(Some(f)) = r.read_frame() {
        last = Some(f);
    }
    last.unwrap_or_else(|| panic!("{}: no frames", path.display()))
}

/// Y of a frame as full-range luma (the recording is limited range, a canvas full range).
fn luma_full(f: &Frame, x: usize, y: usize) -> f64 {
    let view = f.as_ref();
    let y8 = f64::from(view.planes()[0].row(y)[x]);
    ((y8 - 16.0) * 255.0 / 219.0).clamp(0.0, 255.0)
}

fn rect(v: &Value) -> [f64; 4] {
    let g = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
    [g("left"), g("top"), g("width"), g("height")]
}

fn inside(r: &[f64; 4], x: f64, y: f64) -> bool {
    x >= r[0] && x < r[0] + r[2] && y >= r[1] && y < r[1] + r[3]
}

/// Mean absolute luma difference between `a(x, y)` and the empty scene over the points of a
/// grid (every `step` pixels) that `pick` selects.
fn mean_diff(
    empty: &Frame,
    (w, h, step): (usize, usize, usize),
    a: impl Fn(usize, usize) -> f64,
    pick: impl Fn(f64, f64) -> bool,
) -> f64 {
    let (mut sum, mut n) = (0.0, 0.0);
    for y in (0..h).step_by(step) {
        for x in (0..w).step_by(step) {
            if pick(x as f64, y as f64) {
                sum += (a(x, y) - luma_full(empty, x, y)).abs();
                n += 1.0;
            }
        }
    }
    assert!(n > 0.0, "no points");
    sum / n
}

#[test]
fn two_browser_participants_are_seated_in_the_video_the_overlay_and_the_recording() {
    let missing = missing();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs everything the browser test uses; missing: {missing:?}"
        );
        eprintln!("browser test skipped: missing {missing:?}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A small room (640x360 at 15 fps): the recordings stay small (about 5 MB a second) and
    // the pages scale the seating map from their 1280x720 sceneSize to the video.
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "output_width = 640\noutput_height = 360\nfps = 15\n",
    )
    .unwrap();
    let mut serve = together()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--record")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = serve.stdout.take().unwrap();
    let serve = Reaped(serve);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("`together serve` said where it listens");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let opts = json!({
        "base": base,
        "meeting": MEETING,
        "organizer": token(MEETING, OLIVIA, "organizer"),
        "attendee": token(MEETING, ALICE, "attendee"),
        "empty": {"meeting": EMPTY, "token": token(EMPTY, OLIVIA, "organizer")},
        "clip": root().join("footage/clips/close.y4m"),
        "recording": dir.path().join(MEETING).join("main.y4m"),
        "chromium": CHROMIUM,
        "timeoutMs": 60_000,
    });
    let mut node = Command::new("node")
        .current_dir(root().join("tests/browser"))
        .arg("run.mjs")
        .arg(opts.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = collect(node.stdout.take().unwrap());
    let status = wait_bounded(&mut node, Duration::from_secs(90));
    let out = out.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    let report: Value = serde_json::from_str(out.lines().last().unwrap_or("null"))
        .unwrap_or_else(|e| panic!("run.mjs's report ({e}): {out}"));
    assert!(
        status.is_some_and(|s| s.success()),
        "run.mjs: {status:?} {}",
        report.get("error").unwrap_or(&Value::Null)
    );
    // Stop the server (SIGTERM: it closes the recordings), bounded.
    let mut serve = serve;
    let _ = Command::new("kill")
        .args(["-TERM", &serve.0.id().to_string()])
        .status();
    assert!(
        wait_bounded(&mut serve.0, Duration::from_secs(20)).is_some(),
        "serve ends on SIGTERM"
    );

    // Nobody publishes without a token.
    assert_eq!(report["anonymousWhip"]["status"], 401, "{report}");
    assert_eq!(report["emptyStart"], 200, "{report}");
    // An attendee may not start Together Mode: the page shows the code (403/46306, the
    // library's refusal for the role).
    let refused = report["refused"].as_str().unwrap_or_default();
    eprintln!("the attendee page after Start: {refused:?}");
    assert!(refused.starts_with("start: 403/"), "{refused:?}");

    let empty = last_frame(&dir.path().join(EMPTY).join("main.y4m"), u64::MAX);
    // The room as recorded when the pages were read (before they left).
    let bytes = report["recordedBytes"].as_u64().expect("recordedBytes");
    let recorded = last_frame(&dir.path().join(MEETING).join("main.y4m"), bytes);
    let (w, h) = (recorded.width() as usize, recorded.height() as usize);
    assert_eq!((empty.width(), empty.height()), (w as u32, h as u32));

    for (name, id) in [("organizer", OLIVIA), ("attendee", ALICE)] {
        let p = &report["pages"][name];
        assert_eq!(p["me"]["participantId"], id, "{name}");
        assert_eq!(p["errors"], json!([]), "{name}: {p}");
        // The video plays frames of the room's size.
        assert_eq!(
            (p["video"]["width"].as_u64(), p["video"]["height"].as_u64()),
            (Some(w as u64), Some(h as u64)),
            "{name}: {}",
            p["video"]
        );
        // The page asked for the seating map in its video element's size.
        let scene = &p["sceneSize"];
        let (sw, sh) = (
            scene["width"].as_f64().unwrap(),
            scene["height"].as_f64().unwrap(),
        );
        let (ow, oh) = (
            p["overlay"]["width"].as_f64().unwrap(),
            p["overlay"]["height"].as_f64().unwrap(),
        );
        assert!(
            (sw - ow).abs() <= 1.0 && (sh - oh).abs() <= 1.0,
            "{name}: {p}"
        );
        // One box per seated participant, where the seating map says, named.
        let map = p["seatingMap"].as_object().unwrap();
        let boxes = p["boxes"].as_array().unwrap();
        assert_eq!(map.len(), 2, "{name}: {map:?}");
        assert_eq!(boxes.len(), map.len(), "{name}");
        for b in boxes {
            let who = b["participant"].as_str().unwrap();
            let seat = rect(&map[who]);
            let drawn = rect(b);
            let scale = [ow / sw, oh / sh, ow / sw, oh / sh];
            for i in 0..4 {
                assert!(
                    (drawn[i] - seat[i] * scale[i]).abs() <= 1.5,
                    "{name}: {who}'s box {drawn:?} vs seat {seat:?}"
                );
            }
            assert_eq!(b["name"], who.rsplit(':').next().unwrap());
        }

        // Seats in the video's pixels (the map is in the page's sceneSize).
        let seats: Vec<[f64; 4]> = map
            .values()
            .map(|v| {
                let r = rect(v);
                let (kx, ky) = (w as f64 / sw, h as f64 / sh);
                [r[0] * kx, r[1] * ky, r[2] * kx, r[3] * ky]
            })
            .collect();
        let luma = &p["luma"];
        let step = luma["step"].as_u64().unwrap() as usize;
        let data: Vec<f64> = luma["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let cols = w.div_ceil(step);
        assert_eq!(data.len(), cols * h.div_ceil(step), "{name}");
        let decoded = |x: usize, y: usize| data[(y / step) * cols + x / step];
        let away = mean_diff(&empty, (w, h, step), decoded, |x, y| {
            !seats.iter().any(|s| inside(s, x, y))
        });
        eprintln!("{name}: decoded video vs the empty scene away from the seats: {away:.1}");
        assert!(
            away < 12.0,
            "{name}: the decoded video is not the scene: {away}"
        );
        for (who, s) in map.keys().zip(&seats) {
            let d = mean_diff(&empty, (w, h, step), decoded, |x, y| inside(s, x, y));
            eprintln!("{name}: decoded video vs the empty scene in {who}'s seat: {d:.1}");
            assert!(
                d > (5.0 * away).max(3.0),
                "{name}: {who}'s seat shows the empty scene ({d} vs {away} away)"
            );
        }
    }

    // The recording: each participant's picture in their seat (the organizer's map is in the
    // page's sceneSize; the recording is at the room's size).
    let p = &report["pages"]["organizer"];
    let (sw, sh) = (
        p["sceneSize"]["width"].as_f64().unwrap(),
        p["sceneSize"]["height"].as_f64().unwrap(),
    );
    let seats: Vec<(String, [f64; 4])> = p["seatingMap"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let r = rect(v);
            let (kx, ky) = (w as f64 / sw, h as f64 / sh);
            (k.clone(), [r[0] * kx, r[1] * ky, r[2] * kx, r[3] * ky])
        })
        .collect();
    let rec = |x: usize, y: usize| luma_full(&recorded, x, y);
    let away = mean_diff(&empty, (w, h, 2), rec, |x, y| {
        !seats.iter().any(|(_, s)| inside(s, x, y))
    });
    eprintln!("recording vs the empty scene away from the seats: {away:.1}");
    assert!(away < 4.0, "the recording away from the seats: {away}");
    for (who, s) in &seats {
        let d = mean_diff(&empty, (w, h, 2), rec, |x, y| inside(s, x, y));
        eprintln!("recording vs the empty scene in {who}'s seat: {d:.1}");
        assert!(
            d > (5.0 * away).max(3.0),
            "{who}'s seat in the recording: {d}"
        );
    }
}
