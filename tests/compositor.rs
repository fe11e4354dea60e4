//! The compositor end to end: seats, layers, mattes, mirroring, output formats, golden frames.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use together_mode::frame::{convert, ColorSpec, Frame, FrameRef, PixelFormat, PlaneRef};
use together_mode::geometry::{Extent, Rect, WorldRect};
use together_mode::io::{save_png, Y4mReader, Y4mWriter};
use together_mode::render::kernels::SimdLevel;
use together_mode::scene::{RgbaImage, Scene, Seat, Sprite};
use together_mode::synth::SyntheticParticipant;
use together_mode::SegmentMode;
use together_mode::{ComposeError, Compositor, CompositorOptions, Role};

mod common;

use common::solid;

fn y_at(f: &FrameRef<'_>, x: i64, y: i64) -> u8 {
    f.plane(0).row(y as usize)[x as usize]
}

fn uv_at(f: &FrameRef<'_>, x: i64, y: i64) -> (u8, u8) {
    (
        f.plane(1).row(y as usize / 2)[x as usize / 2],
        f.plane(2).row(y as usize / 2)[x as usize / 2],
    )
}

/// Every luma sample of `r` in `f`.
fn luma_in(f: &FrameRef<'_>, r: Rect) -> Vec<u8> {
    let mut v = Vec::new();
    for y in r.y..r.bottom() {
        for x in r.x..r.right() {
            v.push(y_at(f, x, y));
        }
    }
    v
}

fn one_pixel_png(rgba: [u8; 4], w: u32, h: u32) -> Arc<RgbaImage> {
    Arc::new(RgbaImage::new(w, h, rgba.repeat((w * h) as usize)).unwrap())
}

/// A 64x36-unit scene with one seat in the middle and optional sprites.
fn scene_with(sprites: Vec<Sprite>, mirror: bool) -> Scene {
    Scene {
        id: "test".into(),
        protocol_version: "1.0.0".into(),
        auto_zoom: false,
        mirror_participants: mirror,
        extent: Extent {
            left: 0.0,
            top: 0.0,
            width: 64.0,
            height: 36.0,
        },
        sprites,
        seats: vec![Seat {
            rect: WorldRect {
                cx: 32.0,
                cy: 18.0,
                width: 24.0,
                height: 32.0,
            },
            z_order: 1,
            seating_order: 0,
        }],
        max_audience: None,
        reserved_seats: 0,
    }
}

fn engine(scene: Scene, w: u32, h: u32) -> Compositor {
    Compositor::new(
        scene,
        CompositorOptions::default()
            .with_segment(SegmentMode::Alpha)
            .with_size(w, h),
    )
    .unwrap()
}

#[test]
fn solid_participants_fill_exactly_their_seats() {
    let scene = Scene::grid(4, 320, 180).unwrap();
    let mut e = engine(scene, 320, 180);
    let bg = e.render().unwrap();
    let bg = Frame::from_ref(&bg).unwrap();
    let colours = [
        [60u8, 90, 200],
        [100, 200, 60],
        [150, 128, 128],
        [200, 40, 170],
    ];
    for (i, c) in colours.iter().enumerate() {
        let id = format!("8:acs:{i}");
        e.join(&id, Role::Attendee).unwrap();
        e.push(&id, solid(PixelFormat::I420, 640, 360, *c), 0)
            .unwrap();
    }
    let map = e.seating_map((320, 180));
    let out = Frame::from_ref(&e.render().unwrap()).unwrap();
    let out = out.as_ref();
    for (i, c) in colours.iter().enumerate() {
        let seat = e.seating().seat_of(&format!("8:acs:{i}")).unwrap();
        let r = e.layout().seat_rect(seat).unwrap();
        assert!(
            luma_in(&out, r).iter().all(|&v| v == c[0]),
            "seat {seat} luma"
        );
        assert_eq!(
            uv_at(&out, r.x + 2, r.y + 2),
            (c[1], c[2]),
            "seat {seat} chroma"
        );
        // The seating map (shown at the output's own size) reports the same rectangle.
        let css = &map.0[&format!("8:acs:{i}")];
        assert_eq!(
            (css.left, css.top, css.width, css.height),
            (r.x as f64, r.y as f64, r.width as f64, r.height as f64)
        );
        // Just outside the seat is background.
        assert_eq!(y_at(&out, r.x - 1, r.y), y_at(&bg.as_ref(), r.x - 1, r.y));
    }
}

#[test]
fn sprites_and_seats_interleave_by_z_order() {
    // An opaque sprite over the lower half of the seat, drawn above it (z 2) or below (z 0).
    let seat_rect = Rect::new(20, 2, 24, 32);
    for (z, covered) in [(2, true), (0, false)] {
        let sprite = Sprite {
            name: "desk".into(),
            rect: WorldRect {
                cx: 32.0,
                cy: 27.0,
                width: 64.0,
                height: 18.0,
            },
            z_order: z,
            is_alpha: false,
            image: one_pixel_png([255, 0, 0, 255], 4, 2),
        };
        let mut e = engine(scene_with(vec![sprite], false), 64, 36);
        assert_eq!(e.layout().seat_rect(0), Some(seat_rect));
        e.join("a", Role::Attendee).unwrap();
        e.push("a", solid(PixelFormat::I420, 64, 64, [200, 128, 128]), 0)
            .unwrap();
        let out = e.render().unwrap();
        // Upper half of the seat: the participant either way.
        assert_eq!(y_at(&out, 30, 10), 200);
        // Lower half: the red desk (BT.601 limited: Y 81) when in front.
        let lower = y_at(&out, 30, 30);
        if covered {
            assert!(
                (lower as i32 - 81).abs() <= 1,
                "desk should hide the seat, got {lower}"
            );
        } else {
            assert_eq!(lower, 200, "seat should be drawn over the desk");
        }
    }
}

#[test]
fn translucent_sprites_blend_premultiplied() {
    let sprite = Sprite {
        name: "glass".into(),
        rect: WorldRect {
            cx: 32.0,
            cy: 18.0,
            width: 64.0,
            height: 36.0,
        },
        z_order: 0,
        is_alpha: true,
        image: one_pixel_png([255, 255, 255, 128], 2, 2),
    };
    let mut e = engine(scene_with(vec![sprite], false), 64, 36);
    let out = e.render().unwrap();
    // White (Y 235) at 128/255 over black (Y 16): 16 + (235-16)*128/255 ~ 126.
    let v = y_at(&out, 2, 2) as i32;
    assert!((v - 126).abs() <= 1, "got {v}");
}

#[test]
fn mirror_flips_the_seat() {
    let mut f = solid(PixelFormat::I420, 64, 64, [40, 128, 128]);
    {
        let mut m = f.as_mut();
        let mut yp = m.plane_mut(0);
        for row in yp.rows_mut() {
            row[32..].fill(220);
        }
    }
    for mirror in [false, true] {
        let mut e = engine(scene_with(vec![], mirror), 64, 36);
        e.join("a", Role::Attendee).unwrap();
        e.push("a", f.clone(), 0).unwrap();
        let out = e.render().unwrap();
        let (left, right) = (y_at(&out, 22, 18), y_at(&out, 41, 18));
        if mirror {
            assert_eq!((left, right), (220, 40));
        } else {
            assert_eq!((left, right), (40, 220));
        }
    }
}

#[test]
fn input_alpha_is_the_matte() {
    let mut f = solid(PixelFormat::I420A, 64, 64, [200, 128, 128]);
    {
        let mut m = f.as_mut();
        let mut a = m.plane_mut(3);
        for row in a.rows_mut() {
            row[..32].fill(0);
        }
    }
    let mut e = engine(scene_with(vec![], false), 64, 36);
    e.join("a", Role::Attendee).unwrap();
    e.push("a", f, 0).unwrap();
    let out = e.render().unwrap();
    assert_eq!(
        y_at(&out, 22, 18),
        16,
        "transparent half shows the black background"
    );
    assert_eq!(y_at(&out, 41, 18), 200, "opaque half shows the person");
}

#[test]
fn every_input_format_lands_in_the_seat() {
    let yuv = solid(PixelFormat::I420, 96, 64, [150, 90, 170]);
    for format in [
        PixelFormat::I420,
        PixelFormat::I420A,
        PixelFormat::Nv12,
        PixelFormat::Rgba,
        PixelFormat::Bgra,
    ] {
        let f = yuv.as_ref().to_frame(format).unwrap();
        let mut e = engine(scene_with(vec![], false), 64, 36);
        e.join("a", Role::Attendee).unwrap();
        e.push("a", f, 0).unwrap();
        let out = e.render().unwrap();
        let y = y_at(&out, 30, 18) as i32;
        let (u, v) = uv_at(&out, 30, 18);
        // RGB round trips may move values by a step or two.
        assert!(
            (y - 150).abs() <= 2 && (u as i32 - 90).abs() <= 2 && (v as i32 - 170).abs() <= 2,
            "{format:?}: {y} {u} {v}"
        );
    }
}

#[test]
fn seat_opacity_blends_constantly() {
    let mut e = Compositor::new(
        scene_with(vec![], false),
        CompositorOptions::default()
            .with_segment(SegmentMode::Alpha)
            .with_size(64, 36)
            .with_seat_opacity(0.8),
    )
    .unwrap();
    e.join("a", Role::Attendee).unwrap();
    e.push("a", solid(PixelFormat::I420, 64, 64, [216, 128, 128]), 0)
        .unwrap();
    let out = e.render().unwrap();
    // 216*204 + 16*51 = 44880 -> 176
    assert_eq!(y_at(&out, 30, 18), 176);
}

fn auditorium_engine(options: CompositorOptions, people: usize, frame: u64) -> Compositor {
    let mut e = Compositor::new(Scene::builtin("auditorium").unwrap(), options).unwrap();
    for i in 0..people {
        let id = format!("8:acs:{i}");
        e.join(&id, Role::Attendee).unwrap();
        e.push(
            &id,
            SyntheticParticipant::new(i as u64, 320, 180).frame(frame),
            0,
        )
        .unwrap();
    }
    e
}

#[test]
fn serial_parallel_and_every_simd_tier_agree() {
    let base = CompositorOptions::default()
        .with_segment(SegmentMode::Alpha)
        .with_size(480, 270);
    let reference = {
        let mut e = auditorium_engine(base.with_parallel(false).with_simd(SimdLevel::Scalar), 7, 3);
        Frame::from_ref(&e.render().unwrap()).unwrap().to_packed()
    };
    for level in SimdLevel::available() {
        for parallel in [false, true] {
            let mut e = auditorium_engine(base.with_parallel(parallel).with_simd(level), 7, 3);
            let got = Frame::from_ref(&e.render().unwrap()).unwrap().to_packed();
            assert!(
                got == reference,
                "{level:?} parallel={parallel} differs from scalar serial"
            );
        }
    }
}

#[test]
fn render_into_rgba_and_caller_buffers() {
    let opts = CompositorOptions::default()
        .with_segment(SegmentMode::Alpha)
        .with_size(320, 180);
    let mut e = auditorium_engine(opts, 4, 0);
    let i420 = Frame::from_ref(&e.render().unwrap()).unwrap();
    let mut rgba = Frame::new(PixelFormat::Rgba, 320, 180).unwrap();
    e.render_into(&mut rgba.as_mut()).unwrap();
    let mut want = Frame::new(PixelFormat::Rgba, 320, 180).unwrap();
    convert(&i420.as_ref(), &mut want.as_mut()).unwrap();
    assert!(rgba.to_packed() == want.to_packed());
    // A caller-owned I420 buffer with a wide stride.
    let (w, h, stride) = (320usize, 180usize, 400usize);
    let mut buf = vec![7u8; stride * h + 2 * (stride / 2) * (h / 2)];
    let (ybuf, rest) = buf.split_at_mut(stride * h);
    let (ubuf, vbuf) = rest.split_at_mut(stride / 2 * h / 2);
    let planes = vec![
        together_mode::PlaneMut::new(ybuf, w, h, stride).unwrap(),
        together_mode::PlaneMut::new(ubuf, w / 2, h / 2, stride / 2).unwrap(),
        together_mode::PlaneMut::new(vbuf, w / 2, h / 2, stride / 2).unwrap(),
    ];
    let mut out =
        together_mode::FrameMut::new(PixelFormat::I420, 320, 180, ColorSpec::default(), planes)
            .unwrap();
    e.render_into(&mut out).unwrap();
    assert!(Frame::from_ref(&out.as_ref()).unwrap().to_packed() == i420.to_packed());
    // Padding between rows is untouched.
    assert_eq!(buf[w], 7);
    // A wrong size is a typed error.
    let mut small = Frame::new(PixelFormat::I420, 64, 36).unwrap();
    assert!(matches!(
        e.render_into(&mut small.as_mut()),
        Err(ComposeError::OutputMismatch { .. })
    ));
}

/// Regression (issue 14): a caller's I420 buffer whose U and V planes have different strides
/// is legal (each plane is checked on its own), but `render_into` refused it with
/// `StrideTooSmall`, even when the V stride was the larger one.
#[test]
fn render_into_accepts_different_u_and_v_strides() {
    let (w, h) = (320usize, 180usize);
    for parallel in [false, true] {
        let opts = CompositorOptions::default()
            .with_segment(SegmentMode::Alpha)
            .with_size(w as u32, h as u32)
            .with_parallel(parallel);
        let mut e = auditorium_engine(opts, 4, 0);
        let want = Frame::from_ref(&e.render().unwrap()).unwrap().to_packed();
        // V wider than U, then U wider than V; Y with a stride of its own too.
        for (us, vs) in [(w / 2, w / 2 + 24), (w / 2 + 40, w / 2 + 2)] {
            let ys = w + 8;
            let (ch, cw) = (h / 2, w / 2);
            let mut ybuf = vec![7u8; ys * h];
            let mut ubuf = vec![7u8; us * ch];
            let mut vbuf = vec![7u8; vs * ch];
            let planes = vec![
                together_mode::PlaneMut::new(&mut ybuf, w, h, ys).unwrap(),
                together_mode::PlaneMut::new(&mut ubuf, cw, ch, us).unwrap(),
                together_mode::PlaneMut::new(&mut vbuf, cw, ch, vs).unwrap(),
            ];
            let mut out = together_mode::FrameMut::new(
                PixelFormat::I420,
                w as u32,
                h as u32,
                ColorSpec::default(),
                planes,
            )
            .unwrap();
            e.render_into(&mut out).unwrap();
            assert!(
                Frame::from_ref(&out.as_ref()).unwrap().to_packed() == want,
                "U stride {us}, V stride {vs}, parallel={parallel}: not the engine's frame"
            );
            // The padding after each row is untouched.
            for (buf, stride, width) in [(&ybuf, ys, w), (&ubuf, us, cw), (&vbuf, vs, cw)] {
                for row in buf.chunks_exact(stride) {
                    assert!(row[width..].iter().all(|&b| b == 7), "stride {stride}");
                }
            }
        }
    }
}

#[test]
fn bad_input_gets_typed_errors() {
    let scene = || Scene::grid(4, 320, 180).unwrap();
    for (w, h) in [(321, 180), (320, 181), (0, 180), (100_000, 180)] {
        assert!(
            Compositor::new(
                scene(),
                CompositorOptions::default()
                    .with_segment(SegmentMode::Alpha)
                    .with_size(w, h)
            )
            .is_err(),
            "{w}x{h}"
        );
    }
    let mut e = engine(scene(), 320, 180);
    let f = solid(PixelFormat::I420, 16, 16, [1, 2, 3]);
    assert!(matches!(
        e.push("nobody", f, 0),
        Err(ComposeError::UnknownParticipant(_))
    ));
    // A plane whose buffer is too small for its stride.
    let data = vec![0u8; 100];
    assert_eq!(
        PlaneRef::new(&data, 16, 8, 16).unwrap_err(),
        together_mode::FrameError::BufferTooSmall {
            expected: 128,
            found: 100
        }
    );
    assert!(PlaneRef::new(&data, 16, 4, 8).is_err());
    assert!(FrameRef::from_packed(PixelFormat::I420, 16, 16, ColorSpec::default(), &data).is_err());
    // A full scene refuses the next participant.
    for i in 0..4 {
        e.join(&format!("p{i}"), Role::Attendee).unwrap();
    }
    assert!(e.join("p4", Role::Attendee).is_err());
}

#[test]
fn tiny_frames_and_extreme_aspects_render() {
    let mut e = engine(Scene::grid(4, 320, 180).unwrap(), 320, 180);
    let sizes = [(1, 1), (2, 1000), (1000, 2), (3, 5)];
    for (i, (w, h)) in sizes.iter().enumerate() {
        let id = format!("p{i}");
        e.join(&id, Role::Attendee).unwrap();
        e.push(&id, solid(PixelFormat::I420, *w, *h, [100, 100, 100]), 0)
            .unwrap();
    }
    e.render().unwrap();
    for (i, (w, h)) in sizes.iter().enumerate() {
        let f = solid(PixelFormat::I420, *w, *h, [100, 100, 100])
            .as_ref()
            .to_frame(PixelFormat::Rgba)
            .unwrap();
        e.push(&format!("p{i}"), f, 1).unwrap();
    }
    e.render().unwrap();
}

// ---- golden frames -------------------------------------------------------------------------

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Compares `frames` with the golden Y4M `name`; `UPDATE_GOLDEN=1` re-blesses. On mismatch the
/// actual frames are written under target/golden-actual/ (Y4M and a PNG of the first frame).
fn check_golden(name: &str, frames: &[Frame]) {
    let path = fixtures().join("golden").join(format!("{name}.y4m"));
    let encode = |frames: &[Frame]| -> Vec<u8> {
        let f0 = &frames[0];
        let mut w =
            Y4mWriter::new(Vec::new(), f0.width(), f0.height(), (30, 1), f0.color()).unwrap();
        for f in frames {
            w.write_frame(&f.as_ref()).unwrap();
        }
        w.finish().unwrap()
    };
    let bytes = encode(frames);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        return;
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with UPDATE_GOLDEN=1)", path.display()));
    if want != bytes {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/golden-actual");
        std::fs::create_dir_all(&dir).unwrap();
        let actual = dir.join(format!("{name}.y4m"));
        std::fs::write(&actual, &bytes).unwrap();
        save_png(&dir.join(format!("{name}.png")), &frames[0].as_ref()).unwrap();
        // Decode the golden to say how far off it is.
        let mut r = Y4mReader::new(std::io::Cursor::new(want)).unwrap();
        let g = r.read_frame().unwrap().unwrap();
        let diff = g
            .to_packed()
            .iter()
            .zip(frames[0].to_packed())
            .filter(|(a, b)| *a != b)
            .count();
        panic!(
            "{name}: output differs from {} ({diff} bytes of frame 0); actual written to {}",
            path.display(),
            actual.display()
        );
    }
}

#[test]
fn golden_auditorium() {
    let opts = CompositorOptions::default()
        .with_segment(SegmentMode::Alpha)
        .with_size(192, 108);
    let mut e = auditorium_engine(opts, 6, 0);
    let mut frames = vec![Frame::from_ref(&e.render().unwrap()).unwrap()];
    for i in 0..6 {
        e.push(
            &format!("8:acs:{i}"),
            SyntheticParticipant::new(i, 320, 180).frame(20),
            1,
        )
        .unwrap();
    }
    frames.push(Frame::from_ref(&e.render().unwrap()).unwrap());
    check_golden("auditorium_192x108", &frames);
}

#[test]
fn golden_scene_package() {
    // A scene package on disk, as an image editor would leave it.
    let tmp = common::TestDir::new("golden-pkg");
    let dir = tmp.path();
    let mut bg = image::RgbaImage::new(64, 36);
    for (x, y, p) in bg.enumerate_pixels_mut() {
        *p = image::Rgba([(x * 4) as u8, (y * 7) as u8, 120, 255]);
    }
    bg.save(dir.join("background.png")).unwrap();
    let mut desk = image::RgbaImage::new(32, 8);
    for (x, _, p) in desk.enumerate_pixels_mut() {
        *p = image::Rgba([120, 80, 40, if x % 8 < 6 { 255 } else { 100 }]);
    }
    desk.save(dir.join("desk.png")).unwrap();
    std::fs::write(
        dir.join("scene.json"),
        r#"{"protocolVersion":"1.0.0","id":"golden","autoZoom":false,"mirrorParticipants ":true,
            "extent":{"left":-2,"top":-1.125,"width":4,"height":2.25},
            "sprites":[{"filename":"background.png","cx":0,"cy":0,"width":4,"height":2.25,"zOrder":0,"isAlpha":false},
                       {"filename":"desk.png","cx":0,"cy":0.8,"width":4,"height":0.6,"zOrder":5,"isAlpha":true}],
            "participants":[{"cx":-1,"cy":0.2,"width":0.9,"height":1.2,"zOrder":1,"seatingOrder":1},
                            {"cx":0,"cy":0.2,"width":0.9,"height":1.2,"zOrder":1,"seatingOrder":0},
                            {"cx":1,"cy":0.2,"width":0.9,"height":1.2,"zOrder":1,"seatingOrder":2}]}"#,
    )
    .unwrap();
    let scene = Scene::load(dir, &Default::default()).unwrap();
    assert!(scene.mirror_participants);
    let mut e = engine(scene, 128, 72);
    for i in 0..3u64 {
        let id = format!("p{i}");
        e.join(&id, Role::Attendee).unwrap();
        e.push(
            &id,
            SyntheticParticipant::new(10 + i, 96, 64).frame(i * 7),
            0,
        )
        .unwrap();
    }
    let frame = Frame::from_ref(&e.render().unwrap()).unwrap();
    check_golden("scene_package_128x72", &[frame]);
}

#[test]
fn inputs_tagged_otherwise_are_converted_to_the_output_tag() {
    use together_mode::frame::{Matrix, Range};
    // An orange in BT.709 full range, composed into a BT.601 limited output, must come out as
    // the BT.601 limited orange.
    let orange = |c: ColorSpec| -> Frame {
        let mut f = Frame::new(PixelFormat::Rgba, 64, 64).unwrap();
        f.set_color(c);
        for row in f.as_mut().plane_mut(0).rows_mut() {
            for px in row.chunks_exact_mut(4) {
                px.copy_from_slice(&[250, 140, 20, 255]);
            }
        }
        f.as_ref().to_frame(PixelFormat::I420).unwrap()
    };
    let hd_full = ColorSpec {
        matrix: Matrix::Bt709,
        range: Range::Full,
    };
    let want = orange(ColorSpec::default());
    let want = (y_at(&want.as_ref(), 0, 0), uv_at(&want.as_ref(), 0, 0));
    let mut e = engine(scene_with(vec![], false), 64, 36);
    e.join("a", Role::Attendee).unwrap();
    e.push("a", orange(hd_full), 0).unwrap();
    let out = e.render().unwrap();
    let got = (y_at(&out, 30, 18), uv_at(&out, 30, 18));
    assert!(
        (got.0 as i32 - want.0 as i32).abs() <= 2,
        "{got:?} vs {want:?}"
    );
    assert!(
        (got.1 .0 as i32 - want.1 .0 as i32).abs() <= 2
            && (got.1 .1 as i32 - want.1 .1 as i32).abs() <= 2,
        "{got:?} vs {want:?}"
    );
}

#[test]
fn incremental_renders_equal_full_renders() {
    // Engine A renders into its own frame (only damaged regions recomposed); engine B gets the
    // same operations and composes whole into a caller buffer every tick.
    let opts = CompositorOptions::default()
        .with_segment(SegmentMode::Alpha)
        .with_size(320, 180);
    let mut a = Compositor::new(Scene::builtin("auditorium").unwrap(), opts).unwrap();
    let mut b = Compositor::new(Scene::builtin("auditorium").unwrap(), opts).unwrap();
    let mut full = Frame::new(PixelFormat::I420, 320, 180).unwrap();
    let people: Vec<SyntheticParticipant> = (0..8)
        .map(|i| SyntheticParticipant::new(i, 160, 90))
        .collect();
    let mut rng = common::rng(12345);
    let mut next = move || rng.u64(..);
    let mut present = [false; 8];
    for tick in 0..60u64 {
        for (i, person) in people.iter().enumerate() {
            let id = format!("p{i}");
            let r = next() % 10;
            if !present[i] && r < 4 {
                a.join(&id, Role::Attendee).unwrap();
                b.join(&id, Role::Attendee).unwrap();
                present[i] = true;
            } else if present[i] && r == 9 {
                a.leave(&id);
                b.leave(&id);
                present[i] = false;
            }
            if present[i] && next() % 3 == 0 {
                let f = person.frame(tick);
                a.push(&id, f.clone(), tick as i64).unwrap();
                b.push(&id, f, tick as i64).unwrap();
            }
        }
        if tick % 7 == 3 && present[0] && present[1] {
            a.swap_seats("p0", "p1").unwrap();
            b.swap_seats("p0", "p1").unwrap();
        }
        let got = Frame::from_ref(&a.render().unwrap()).unwrap();
        b.render_into(&mut full.as_mut()).unwrap();
        assert!(
            got.to_packed() == full.to_packed(),
            "tick {tick}: incremental render differs from a full one"
        );
    }
}

// ---- letterbox -----------------------------------------------------------------------------

/// The 64x36 test scene with a grey opaque background and a participant of luma 200.
fn letterbox_engine(w: u32, h: u32) -> Compositor {
    let bg = Sprite {
        name: "bg".into(),
        rect: WorldRect {
            cx: 32.0,
            cy: 18.0,
            width: 64.0,
            height: 36.0,
        },
        z_order: 0,
        is_alpha: false,
        image: one_pixel_png([90, 120, 150, 255], 8, 4),
    };
    let mut e = engine(scene_with(vec![bg], false), w, h);
    e.join("a", Role::Attendee).unwrap();
    e.push("a", solid(PixelFormat::I420, 64, 64, [200, 128, 128]), 0)
        .unwrap();
    e
}

/// The bounding box of the luma samples equal to `v`.
fn bbox_of(f: &FrameRef<'_>, v: u8) -> Rect {
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, -1, -1);
    for y in 0..f.height() as i64 {
        for x in 0..f.width() as i64 {
            if y_at(f, x, y) == v {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    Rect::new(x0, y0, x1 - x0 + 1, y1 - y0 + 1)
}

#[test]
fn outputs_at_another_aspect_are_letterboxed_not_stretched() {
    // The reference: the scene at its own aspect fills the output.
    let mut reference = letterbox_engine(64, 36);
    assert_eq!(reference.layout().picture(), Rect::new(0, 0, 64, 36));
    let reference = Frame::from_ref(&reference.render().unwrap()).unwrap();
    let reference = reference.as_ref();
    let seat = bbox_of(&reference, 200);
    // (w, h, where the 64x36 picture lands): taller (bars above and below), wider (bars left
    // and right), and a larger taller output (the picture scaled by 2).
    for (w, h, picture) in [
        (64, 64, Rect::new(0, 14, 64, 36)),
        (96, 36, Rect::new(16, 0, 64, 36)),
        (128, 100, Rect::new(0, 14, 128, 72)),
    ] {
        let mut e = letterbox_engine(w, h);
        assert_eq!(e.layout().picture(), picture, "{w}x{h}");
        let map = e.seating_map((w, h));
        let out = Frame::from_ref(&e.render().unwrap()).unwrap();
        let out = out.as_ref();
        let black = ColorSpec::default().black();
        // Bars: black, luma and chroma, everywhere outside the picture.
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let inside =
                    x >= picture.x && x < picture.right() && y >= picture.y && y < picture.bottom();
                if !inside {
                    assert_eq!(y_at(&out, x, y), black[0], "{w}x{h}: bar at ({x}, {y})");
                    assert_eq!(uv_at(&out, x, y), (black[1], black[2]), "({x}, {y})");
                }
            }
        }
        // Not black just inside the picture's corners: the background reaches them.
        for (x, y) in [
            (picture.x, picture.y),
            (picture.right() - 1, picture.bottom() - 1),
        ] {
            assert_ne!(y_at(&out, x, y), black[0], "{w}x{h}: ({x}, {y})");
        }
        // The seat keeps its 3:4 aspect, scaled as the picture is, and the seating map
        // (shown at the output's own size) gives where it is drawn, inside the picture.
        let k = picture.width / 64;
        let drawn = bbox_of(&out, 200);
        assert_eq!(
            drawn,
            Rect::new(
                picture.x + seat.x * k,
                picture.y + seat.y * k,
                seat.width * k,
                seat.height * k
            ),
            "{w}x{h}"
        );
        assert_eq!(drawn.width * 4, drawn.height * 3, "{w}x{h}: {drawn:?}");
        assert_eq!(drawn.intersect(&picture), drawn);
        assert_eq!(e.layout().seat_rect(0), Some(drawn));
        let css = &map.0["a"];
        assert_eq!(
            (css.left, css.top, css.width, css.height),
            (
                drawn.x as f64,
                drawn.y as f64,
                drawn.width as f64,
                drawn.height as f64
            ),
            "{w}x{h}"
        );
        // At the same scale the picture is the reference frame, sample for sample.
        if k == 1 {
            for y in 0..36 {
                let row = &out.plane(0).row((picture.y + y) as usize)
                    [picture.x as usize..picture.right() as usize];
                assert_eq!(row, reference.plane(0).row(y as usize), "{w}x{h} row {y}");
            }
            for p in 1..3 {
                for y in 0..18 {
                    let row = &out.plane(p).row((picture.y / 2 + y) as usize)
                        [picture.x as usize / 2..picture.right() as usize / 2];
                    assert_eq!(row, reference.plane(p).row(y as usize), "{w}x{h} plane {p}");
                }
            }
        }
    }
}

#[test]
fn letterboxing_survives_size_changes_and_incremental_renders() {
    // A full render and an incremental one (the seat's frame changes) agree, and the bars
    // stay black when the engine is resized from the scene's aspect to another one.
    let mut e = letterbox_engine(64, 36);
    e.render().unwrap();
    e.set_output_size(64, 64).unwrap();
    e.render().unwrap();
    e.push("a", solid(PixelFormat::I420, 64, 64, [60, 128, 128]), 1)
        .unwrap();
    let incremental = Frame::from_ref(&e.render().unwrap()).unwrap();
    let mut fresh = letterbox_engine(64, 64);
    fresh
        .push("a", solid(PixelFormat::I420, 64, 64, [60, 128, 128]), 1)
        .unwrap();
    let fresh = fresh.render().unwrap();
    for p in 0..3 {
        for y in 0..fresh.plane(p).height() {
            assert_eq!(incremental.as_ref().plane(p).row(y), fresh.plane(p).row(y));
        }
    }
    assert_eq!(y_at(&fresh, 0, 0), ColorSpec::default().black()[0]);
}

#[test]
fn a_participants_own_segmenter_overrides_the_engines() {
    // A transparent black frame: the engine's alpha segmentation shows the background
    // through it; the participant's own opaque segmenter shows the frame (black); back to
    // the engine's, the background again.
    let mut e = letterbox_engine(64, 36);
    // The background is one colour: left of the seat (x 20..44) it is what is behind it.
    let bg = y_at(&e.render().unwrap(), 2, 18);
    assert_ne!(bg, 16);
    let clear = Frame::new(PixelFormat::Rgba, 32, 32).unwrap();
    e.push("a", clear.clone(), 1).unwrap();
    assert_eq!(y_at(&e.render().unwrap(), 30, 18), bg);
    e.set_segmenter_of("a", Some(together_mode::segment::opaque_factory()))
        .unwrap();
    assert_eq!(y_at(&e.render().unwrap(), 30, 18), 16);
    e.set_segmenter_of("a", None).unwrap();
    assert_eq!(y_at(&e.render().unwrap(), 30, 18), bg);
    assert!(matches!(
        e.set_segmenter_of("nobody", None),
        Err(ComposeError::UnknownParticipant(_))
    ));
}
