//! No halos (issue 15, part 3): at a person's edge, the composite's luma lies between the
//! scene's and the person's (within 4 levels), whatever colour an input's transparent pixels
//! hold, and the ML path's colour decontamination keeps working.
//!
//! The measure is `segment::metrics::halo_excess` over the seat: for each pixel the seat's
//! matte only partly covers, how far the composite lies outside the range of the scene there
//! (the same output rendered with the seat empty) and the person next to it (the composite
//! where the matte is 255).

use together_mode::frame::{Frame, PixelFormat, PlaneRef};
use together_mode::framing::FramingMode;
use together_mode::segment::metrics::{halo_excess, HaloExcess};
use together_mode::segment::{input_alpha_factory, SegmenterFactory};
use together_mode::Role;

mod common;
use common::record::{auditorium, luma_in, recording_with};

const OUT: (u32, u32) = (1280, 720);

/// The scene alone at the output size (every seat empty).
fn scene_only() -> Frame {
    let mut engine = auditorium(OUT.0, OUT.1, input_alpha_factory());
    engine
        .render()
        .unwrap()
        .to_frame(PixelFormat::I420)
        .unwrap()
}

/// Which pixels of the first seat's rectangle `rect` show the seat itself: an opaque white and
/// an opaque black participant differ there by the whole luma range (less than 2 % of it lost
/// to anything the scene draws over the seat).
fn seat_visibility(rect: together_mode::geometry::Rect) -> Vec<bool> {
    let render = |luma: u8| {
        let mut f = Frame::new(PixelFormat::I420, 64, 64).unwrap();
        {
            let mut m = f.as_mut();
            m.plane_mut(0).fill(luma);
            m.plane_mut(1).fill(128);
            m.plane_mut(2).fill(128);
        }
        let mut engine = auditorium(OUT.0, OUT.1, input_alpha_factory());
        engine.join("8:acs:p", Role::Attendee).unwrap();
        engine.push_ref("8:acs:p", &f.as_ref(), 0).unwrap();
        let out = engine
            .render()
            .unwrap()
            .to_frame(PixelFormat::I420)
            .unwrap();
        luma_in(&out.as_ref(), rect)
    };
    let (white, black) = (render(235), render(16));
    white
        .iter()
        .zip(&black)
        .map(|(&w, &b)| i32::from(w) - i32::from(b) >= 215)
        .collect()
}

/// Renders `frame` `ticks` times (pushed anew each tick) in the first seat of the auditorium
/// with `factory`'s segmenter; returns the halo over the seat (and the seat's matte).
fn halo_of(
    frame: &Frame,
    factory: SegmenterFactory,
    decontaminate: bool,
    ticks: usize,
    radius: usize,
    framing: FramingMode,
) -> (HaloExcess, Vec<u8>, Frame) {
    let (factory, slot) = recording_with(factory, decontaminate);
    let mut engine = auditorium(OUT.0, OUT.1, factory);
    let seat = engine.join("8:acs:p", Role::Attendee).unwrap();
    engine.set_framing("8:acs:p", Some(framing)).unwrap();
    let rect = engine.layout().seat_rect(seat).unwrap();
    let mut out = None;
    for t in 0..ticks {
        engine
            .push_ref("8:acs:p", &frame.as_ref(), t as i64)
            .unwrap();
        out = Some(
            engine
                .render()
                .unwrap()
                .to_frame(PixelFormat::I420)
                .unwrap(),
        );
    }
    let out = out.unwrap();
    let rec = slot.lock().unwrap().clone();
    assert_eq!(
        (rec.width as i64, rec.height as i64),
        (rect.width, rect.height)
    );
    let (w, h) = (rec.width, rec.height);
    let composite = luma_in(&out.as_ref(), rect);
    let scene = luma_in(&scene_only().as_ref(), rect);
    // Where the scene draws over the seat (the auditorium's rail and the row in front), the
    // composite is not the seat's blend: those pixels are not measured (matte 0 there).
    let visible = seat_visibility(rect);
    let matte: Vec<u8> = rec
        .matte
        .iter()
        .zip(&visible)
        .map(|(&a, &v)| if v { a } else { 0 })
        .collect();
    let halo = halo_excess(
        &PlaneRef::packed(&composite, w, h).unwrap(),
        &PlaneRef::packed(&scene, w, h).unwrap(),
        &PlaneRef::packed(&matte, w, h).unwrap(),
        radius,
    )
    .unwrap();
    (halo, rec.matte, out)
}

/// Whether two I420 frames hold the same pixels.
fn same(a: &Frame, b: &Frame) -> bool {
    (0..3).all(|i| {
        let (pa, pb) = (a.as_ref().plane(i), b.as_ref().plane(i));
        pa.rows().zip(pb.rows()).all(|(x, y)| x == y)
    })
}

/// An RGBA portrait: a skin-coloured head and shoulders (RGB 230,180,150, the skin)
/// with anti-aliased edges (4x4 supersampled coverage) on transparent pixels that hold
/// `hidden` (RGB, alpha 0).
fn portrait(w: u32, h: u32, hidden: impl Fn(u32, u32) -> [u8; 3]) -> Frame {
    let mut f = Frame::new(PixelFormat::Rgba, w, h).unwrap();
    let (fw, fh) = (w as f64, h as f64);
    let inside = |x: f64, y: f64| {
        let (hx, hy) = ((x - fw * 0.5) / (fw * 0.2), (y - fh * 0.38) / (fh * 0.24));
        let (bx, by) = ((x - fw * 0.5) / (fw * 0.42), (y - fh * 1.05) / (fh * 0.42));
        hx * hx + hy * hy <= 1.0 || bx * bx + by * by <= 1.0
    };
    {
        let mut m = f.as_mut();
        let mut p = m.plane_mut(0);
        for y in 0..h {
            for (x, px) in p.row_mut(y as usize).chunks_exact_mut(4).enumerate() {
                let x = x as u32;
                let mut n = 0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let (xs, ys) = (
                            f64::from(x) + (f64::from(sx) + 0.5) / 4.0,
                            f64::from(y) + (f64::from(sy) + 0.5) / 4.0,
                        );
                        n += u32::from(inside(xs, ys));
                    }
                }
                let a = ((n * 255 + 8) / 16) as u8;
                let rgb = if a == 0 {
                    hidden(x, y)
                } else {
                    [230, 180, 150]
                };
                px.copy_from_slice(&[rgb[0], rgb[1], rgb[2], a]);
            }
        }
    }
    f
}

/// The case: an RGBA portrait whose transparent pixels hold black, over the
/// auditorium (the seat's surroundings are lighter than black): no dark rim, within 4 levels;
/// and the composite is the same whatever the transparent pixels hold.
#[test]
fn rgba_portraits_have_no_rim_whatever_transparent_pixels_hold() {
    let black = portrait(480, 480, |_, _| [0, 0, 0]);
    let (halo, matte, out_black) =
        halo_of(&black, input_alpha_factory(), true, 1, 3, FramingMode::Auto);
    eprintln!("RGBA portrait over the auditorium, black under transparency: {halo:?}");
    assert!(halo.pixels > 100, "edge pixels measured: {halo:?}");
    assert!(
        halo.skipped * 10 < halo.pixels,
        "most edge pixels have the person next to them: {halo:?}"
    );
    assert!(halo.max <= 4.0, "{halo:?}");
    assert!(matte.contains(&255) && matte.contains(&0));
    for (name, hidden) in [
        (
            "white",
            Box::new(|_: u32, _: u32| [255u8, 255, 255]) as Box<dyn Fn(u32, u32) -> [u8; 3]>,
        ),
        (
            "noise",
            Box::new(|x: u32, y: u32| {
                let v = x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503);
                [(v >> 3) as u8, (v >> 11) as u8, (v >> 19) as u8]
            }),
        ),
    ] {
        let f = portrait(480, 480, hidden);
        let (h2, _, out) = halo_of(&f, input_alpha_factory(), true, 1, 3, FramingMode::Auto);
        assert_eq!(h2, halo, "{name}");
        assert!(same(&out, &out_black), "{name}: composite differs");
    }
}

/// The same portrait as I420A (converted once, so its chroma is the producer's): no rim either.
#[test]
fn i420a_portraits_have_no_rim() {
    let rgba = portrait(480, 480, |_, _| [0, 0, 0]);
    let i420a = rgba.as_ref().to_frame(PixelFormat::I420A).unwrap();
    let (halo, _, _) = halo_of(&i420a, input_alpha_factory(), true, 1, 3, FramingMode::Auto);
    eprintln!("I420A portrait: {halo:?}");
    assert!(halo.pixels > 100 && halo.max <= 4.0, "{halo:?}");
}

/// Alpha 255 everywhere is no alpha: an I420A frame with an all-255 alpha plane composes to
/// exactly the bytes of the same frame as I420; and alpha 254 everywhere (the premultiplied
/// path) lands within 2 levels of it.
#[test]
fn opaque_alpha_takes_the_straight_path() {
    let (w, h) = (333u32, 250u32);
    let mut i420 = Frame::new(PixelFormat::I420, w, h).unwrap();
    {
        let mut m = i420.as_mut();
        for i in 0..3 {
            let mut p = m.plane_mut(i);
            let (pw, ph) = (p.width(), p.height());
            let noise = common::noise(i as u64 + 3, pw * ph);
            for y in 0..ph {
                p.row_mut(y).copy_from_slice(&noise[y * pw..(y + 1) * pw]);
            }
        }
    }
    let with_alpha = |a: u8| {
        let mut f = i420.as_ref().to_frame(PixelFormat::I420A).unwrap();
        f.as_mut().plane_mut(3).fill(a);
        f
    };
    let render = |f: &Frame| {
        let mut engine = auditorium(OUT.0, OUT.1, input_alpha_factory());
        engine.join("8:acs:p", Role::Attendee).unwrap();
        engine.push_ref("8:acs:p", &f.as_ref(), 0).unwrap();
        engine
            .render()
            .unwrap()
            .to_frame(PixelFormat::I420)
            .unwrap()
    };
    let plain = render(&i420);
    assert!(same(&render(&with_alpha(255)), &plain));
    let near = render(&with_alpha(254));
    let mut worst = 0u8;
    for i in 0..3 {
        let (a, b) = (near.as_ref().plane(i), plain.as_ref().plane(i));
        for (ra, rb) in a.rows().zip(b.rows()) {
            for (x, y) in ra.iter().zip(rb) {
                worst = worst.max(x.abs_diff(*y));
            }
        }
    }
    assert!(
        worst <= 2,
        "alpha 254 differs from opaque by {worst} levels"
    );
}

/// The ML path on real people (scikit-image's astronaut; carphone's close-up and portrait
/// clips of `scripts/make-clips.sh`; MediaPipe's selfie model): within 4 levels, and colour
/// decontamination is what keeps it there (without it the rim reaches 40 levels, 99th
/// percentile). The person's range is taken within 8 pixels (the fill's reach), so nearly
/// every partly covered pixel is measured. Measured with framing off: framing's bottom fade lowers the seat's alpha
/// below the matte the segmenter wrote (and only the alpha, so it cannot add a rim), which
/// would make the recorded matte the wrong weight for the measure.
#[cfg(feature = "ml")]
#[test]
fn ml_edges_on_real_people_have_no_halo() {
    use std::fs::File;
    use std::io::BufReader;
    use std::path::Path;
    use together_mode::io::{ClipSource, Y4mReader};
    use together_mode::segment::ml::{MlShared, ScheduleOptions, SelfieModel};

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("models/selfie_segmentation.tflite");
    let still = root.join("models/reference/astronaut_256x256.png");
    let clips = ["close", "portrait"].map(|c| root.join(format!("footage/clips/{c}.y4m")));
    if !(model.exists() && still.exists() && clips.iter().all(|c| c.exists())) {
        let msg = "the selfie model, astronaut reference or clips are missing: run \
                   scripts/ml-setup.sh and scripts/make-clips.sh";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    }
    // A frame 2 s into each clip (the person has moved, talked, blinked).
    let clip_frame = |path: &Path| {
        let mut r = Y4mReader::new(BufReader::new(File::open(path).unwrap())).unwrap();
        let mut last = None;
        for _ in 0..60 {
            match r.read_frame().unwrap() {
                Some(f) => last = Some(f),
                None => break,
            }
        }
        last.unwrap()
    };
    let people = [
        (
            "astronaut",
            ClipSource::open(&still).unwrap().frame().clone(),
        ),
        ("close", clip_frame(&clips[0])),
        ("portrait", clip_frame(&clips[1])),
    ];
    let factory = || {
        let m = SelfieModel::from_file(&model).unwrap();
        MlShared::new(m, ScheduleOptions::default()).factory()
    };
    let mut failures = Vec::new();
    for (name, frame) in &people {
        let (clean, _, _) = halo_of(frame, factory(), true, 3, 8, FramingMode::Off);
        let (raw, _, _) = halo_of(frame, factory(), false, 3, 8, FramingMode::Off);
        eprintln!("{name}, ML: decontaminated {clean:?}; without {raw:?}");
        assert!(clean.pixels > 100, "{name}: {clean:?}");
        if clean.max > 4.0 {
            failures.push(format!("{name}: {clean:?}"));
        }
        if raw.max <= 4.0 {
            failures.push(format!(
                "{name}: without decontamination no rim either, the measure sees nothing: {raw:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
