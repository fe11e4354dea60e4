//! Seat by seat, our composite against FFmpeg's crop + bilinear scale + overlay of the same
//! clips at the same positions (the canonical workload's geometry).
//!
//! Needs `ffmpeg` on PATH: skipped with a message when missing, a failure when `CI` is set.

use std::path::{Path, PathBuf};

use together_mode::frame::Frame;
use together_mode::geometry::{aspect_fill_crop, Rect};
use together_mode::io::{Y4mReader, Y4mWriter};
use together_mode::SegmentMode;
use together_mode::{Compositor, CompositorOptions, Role, Scene};

mod common;

use common::{ffmpeg, require_ffmpeg};

fn tmpdir(name: &str) -> PathBuf {
    common::tmpdir("parity", name)
}

fn read_first(path: &Path) -> Frame {
    let f = std::fs::File::open(path).unwrap();
    let mut r = Y4mReader::new(std::io::BufReader::new(f)).unwrap();
    r.read_frame().unwrap().unwrap()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

fn plane_rect(f: &Frame, plane: usize, r: Rect) -> Vec<u8> {
    let v = f.as_ref();
    let p = v.plane(plane);
    (r.y..r.bottom())
        .flat_map(|y| p.row(y as usize)[r.x as usize..r.right() as usize].to_vec())
        .collect()
}

fn parity(n: usize, width: u32, height: u32, opacity: f32) {
    let dir = tmpdir(&format!("{n}-{width}"));
    let sources = ["testsrc2", "smptehdbars", "mandelbrot", "testsrc"];
    let clips: Vec<PathBuf> = (0..sources.len().min(n))
        .map(|k| {
            let p = dir.join(format!("c{k}.y4m"));
            ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                &format!("{}=s=640x360:r=30", sources[k]),
                "-frames:v",
                "1",
                "-pix_fmt",
                "yuv420p",
                p.to_str().unwrap(),
            ]);
            p
        })
        .collect();

    let scene = Scene::grid(n, width, height).unwrap();
    let opts = CompositorOptions::default()
        .with_segment(SegmentMode::Alpha)
        .with_size(width, height)
        .with_seat_opacity(opacity);
    let mut engine = Compositor::new(scene, opts).unwrap();
    // The background alone, as FFmpeg's base layer.
    let bg = Frame::from_ref(&engine.render().unwrap()).unwrap();
    let bg_path = dir.join("bg.y4m");
    let mut w = Y4mWriter::new(
        std::fs::File::create(&bg_path).unwrap(),
        width,
        height,
        (30, 1),
        bg.color(),
    )
    .unwrap();
    w.write_frame(&bg.as_ref()).unwrap();
    w.finish().unwrap();

    let mut graph = String::new();
    let mut inputs: Vec<String> = vec!["-i".into(), bg_path.to_str().unwrap().into()];
    let mut prev = "0:v".to_string();
    let mut seats = Vec::new();
    for i in 0..n {
        let id = format!("p{i}");
        let seat = engine.join(&id, Role::Attendee).unwrap();
        let clip = &clips[i % clips.len()];
        engine.push(&id, read_first(clip), 0).unwrap();
        let r = engine.layout().seat_rect(seat).unwrap();
        let (cx, cy, cw, ch) = aspect_fill_crop(640, 360, r.width as u32, r.height as u32, true);
        inputs.push("-i".into());
        inputs.push(clip.to_str().unwrap().into());
        let alpha = if opacity < 1.0 {
            format!(",format=yuva420p,lut=a={}", (opacity * 255.0).round())
        } else {
            String::new()
        };
        graph += &format!(
            "[{}:v]crop={cw}:{ch}:{cx}:{cy},scale={}:{}:flags=bilinear{alpha}[s{i}];",
            i + 1,
            r.width,
            r.height
        );
        let out = if i + 1 == n {
            "out".to_string()
        } else {
            format!("o{i}")
        };
        graph += &format!(
            "[{prev}][s{i}]overlay=x={}:y={}:format=yuv420[{out}];",
            r.x, r.y
        );
        prev = out;
        seats.push(r);
    }
    graph.pop();
    let ours = Frame::from_ref(&engine.render().unwrap()).unwrap();
    let theirs_path = dir.join("ffmpeg.y4m");
    let mut args: Vec<String> = inputs;
    args.extend([
        "-filter_complex".into(),
        graph,
        "-map".into(),
        "[out]".into(),
        "-frames:v".into(),
        "1".into(),
    ]);
    args.extend([
        "-pix_fmt".into(),
        "yuv420p".into(),
        "-strict".into(),
        "-1".into(),
        theirs_path.to_str().unwrap().into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ffmpeg(&args);
    let theirs = read_first(&theirs_path);

    for (i, r) in seats.iter().enumerate() {
        let y = psnr(&plane_rect(&ours, 0, *r), &plane_rect(&theirs, 0, *r));
        let c = Rect::new(r.x / 2, r.y / 2, r.width / 2, r.height / 2);
        let u = psnr(&plane_rect(&ours, 1, c), &plane_rect(&theirs, 1, c));
        let v = psnr(&plane_rect(&ours, 2, c), &plane_rect(&theirs, 2, c));
        eprintln!("N={n} seat {i}: Y {y:.1} dB, U {u:.1} dB, V {v:.1} dB");
        assert!(y >= 35.0, "seat {i}: Y PSNR {y:.2} dB < 35 against FFmpeg");
        assert!(
            u >= 35.0 && v >= 35.0,
            "seat {i}: chroma PSNR {u:.2}/{v:.2} dB < 35 against FFmpeg"
        );
    }
    // Outside the seats both are the background, untouched.
    let mut outside = 0;
    let (o, t) = (ours.as_ref(), theirs.as_ref());
    for y in 0..height as i64 {
        for x in 0..width as i64 {
            if !seats
                .iter()
                .any(|r| x >= r.x && x < r.right() && y >= r.y && y < r.bottom())
            {
                assert_eq!(
                    o.plane(0).row(y as usize)[x as usize],
                    t.plane(0).row(y as usize)[x as usize],
                    "background at ({x},{y})"
                );
                outside += 1;
            }
        }
    }
    assert!(outside > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn opaque_grid_matches_ffmpeg_overlay() {
    if require_ffmpeg() {
        parity(4, 640, 360, 1.0);
    }
}

#[test]
fn workload_n9_at_alpha_08_matches_ffmpeg() {
    if require_ffmpeg() {
        parity(9, 1920, 1080, 0.8);
    }
}

#[test]
fn workload_n49_at_alpha_08_matches_ffmpeg() {
    if require_ffmpeg() {
        parity(49, 1920, 1080, 0.8);
    }
}
