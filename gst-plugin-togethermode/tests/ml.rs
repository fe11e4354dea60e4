//! `segment=ml` (the plugin's `ml` feature): the element runs the library's ML segmenter with
//! the model at `model-path`. A real portrait (scikit-image's astronaut.png, from
//! `scripts/ml-setup.sh`) goes through the element, whose composite must equal the library's
//! for the same frame and must replace the portrait's background by the scene where
//! MediaPipe's own mask (also from ml-setup.sh) is sure it is background, and keep the person
//! where it is sure it is the person.
#![cfg(feature = "ml")]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use gst::prelude::*;
use gst_check::Harness;
use gst_video::prelude::*;
use together_mode::frame::{ColorSpec, Frame, FrameRef, PixelFormat};
use together_mode::segment::ml::{MlShared, ScheduleOptions, SelfieModel};
use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};

const OUT_W: u32 = 640;
const OUT_H: u32 = 360;
const ID: &str = "8:acs:astronaut";

/// The model, the portrait and MediaPipe's mask of it, or `None` (with the reason printed)
/// when ml-setup.sh has not run here. Under CI they must exist.
fn inputs() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let files = (
        models.join("selfie_segmentation.tflite"),
        models.join("reference/astronaut_256x256.png"),
        models.join("reference/general_256x256.f32"),
    );
    for f in [&files.0, &files.1, &files.2] {
        if !f.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing under CI: .ci/run runs scripts/ml-setup.sh first",
                f.display()
            );
            eprintln!(
                "skipped: {} is missing (run scripts/ml-setup.sh)",
                f.display()
            );
            return None;
        }
    }
    Some(files)
}

fn out_caps() -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", OUT_W as i32)
        .field("height", OUT_H as i32)
        .field("framerate", gst::Fraction::new(30, 1))
        .field("colorimetry", "bt601")
        .build()
}

fn library() -> Compositor {
    let scene = Scene::grid(1, 1920, 1080).expect("scene");
    Compositor::new(
        scene,
        CompositorOptions::default()
            .with_size(OUT_W, OUT_H)
            .with_color(ColorSpec::BT601_LIMITED)
            // Replaced by the test's own segmenters where it seats anyone.
            .with_segment(SegmentMode::None),
    )
    .expect("compositor")
}

/// The seat of the only participant of `builtin:grid1`, in output pixels.
fn seat_rect() -> (usize, usize, usize, usize) {
    let mut lib = library();
    lib.join(ID, Role::Attendee).unwrap();
    let map = lib.seating_map((OUT_W, OUT_H));
    let r = map.0[ID];
    let px = |v: f64| v.round() as usize;
    (px(r.left), px(r.top), px(r.width), px(r.height))
}

/// The centre of a `side`x`side` image cropped to `w:h`, sampled at `w`x`h`: for each output
/// pixel, the source pixel (nearest).
fn sample_map(side: usize, w: usize, h: usize) -> impl Fn(usize, usize) -> (usize, usize) {
    // Crop the square to the seat's aspect, centred.
    let (cw, ch) = if w >= h {
        (side, side * h / w)
    } else {
        (side * w / h, side)
    };
    let (x0, y0) = ((side - cw) / 2, (side - ch) / 2);
    move |x, y| (x0 + x * cw / w, y0 + y * ch / h)
}

/// The portrait as an opaque RGBA frame of exactly the seat's size (so the engine neither
/// crops nor scales it), and MediaPipe's person probability sampled the same way.
fn portrait(png: &Path, mask: &Path, w: usize, h: usize) -> (Frame, Vec<f32>) {
    let img = together_mode::io::load_image(png, (256, 256)).expect("astronaut.png");
    assert_eq!((img.width(), img.height()), (256, 256));
    let bytes = std::fs::read(mask).unwrap();
    let prob: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(prob.len(), 256 * 256);
    let at = sample_map(256, w, h);
    let mut frame = Frame::new(PixelFormat::Rgba, w as u32, h as u32).unwrap();
    frame.set_color(ColorSpec::BT601_LIMITED);
    let mut seat_prob = vec![0f32; w * h];
    {
        let src = img.as_ref();
        let src = src.plane(0);
        let mut m = frame.as_mut();
        let mut dst = m.plane_mut(0);
        for y in 0..h {
            let row = dst.row_mut(y);
            for x in 0..w {
                let (sx, sy) = at(x, y);
                row[4 * x..4 * x + 3].copy_from_slice(&src.row(sy)[4 * sx..4 * sx + 3]);
                row[4 * x + 3] = 255;
                seat_prob[y * w + x] = prob[sy * 256 + sx];
            }
        }
    }
    (frame, seat_prob)
}

/// A GStreamer buffer holding `frame` (RGBA), through the buffer's own stride.
fn gst_buffer(frame: &FrameRef<'_>, caps: &gst::Caps) -> gst::Buffer {
    let info = gst_video::VideoInfo::from_caps(caps).unwrap();
    let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
    {
        let b = buffer.get_mut().unwrap();
        b.set_pts(gst::ClockTime::ZERO);
        b.set_duration(at(1));
        let mut v = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &info).unwrap();
        let stride = v.plane_stride()[0] as usize;
        let data = v.plane_data_mut(0).unwrap();
        for (y, row) in frame.plane(0).rows().enumerate() {
            data[y * stride..y * stride + row.len()].copy_from_slice(row);
        }
    }
    buffer
}

/// One composite of the element with `segment` (and `model-path`) over `frame`.
fn element_output(segment: &str, model: Option<&Path>, frame: &Frame) -> gst::Buffer {
    init();
    let mut b = gst::ElementFactory::make("togethermode")
        .property("scene", "builtin:grid1")
        .property_from_str("segment", segment);
    if let Some(m) = model {
        b = b.property("model-path", m.to_str().unwrap());
    }
    let el = b.build().expect("togethermode");
    let mut h = Harness::with_element(&el, Some("sink_%u"), Some("src"));
    el.static_pad("sink_0")
        .unwrap()
        .set_property("participant-id", ID);
    let caps = input_caps(PixelFormat::Rgba, frame.width(), frame.height());
    h.set_src_caps(caps.clone());
    h.set_sink_caps(out_caps());
    h.play();
    h.push(gst_buffer(&frame.as_ref(), &caps)).unwrap();
    h.pull().expect("composite")
}

/// The Y plane of an I420 output buffer, tightly packed.
fn luma(buffer: &gst::Buffer) -> Vec<u8> {
    let info = gst_video::VideoInfo::from_caps(&out_caps()).unwrap();
    let v = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info).unwrap();
    let stride = v.plane_stride()[0] as usize;
    let data = v.plane_data(0).unwrap();
    let w = OUT_W as usize;
    (0..OUT_H as usize)
        .flat_map(|y| data[y * stride..y * stride + w].iter().copied())
        .collect()
}

#[test]
fn ml_cuts_the_person_out_of_their_room_like_the_library() {
    let Some((model, png, mask)) = inputs() else {
        return;
    };
    let (sx, sy, sw, sh) = seat_rect();
    assert!(sw >= 64 && sh >= 64, "seat {sw}x{sh}");
    let (frame, prob) = portrait(&png, &mask, sw, sh);

    let ml = element_output("ml", Some(&model), &frame);
    let none = element_output("none", None, &frame);

    // Bit-exact with the library's ML segmenter on the same frame (a seat's first frame
    // always runs the network).
    let mut lib = library();
    lib.set_segmenter(
        MlShared::new(
            SelfieModel::from_file(&model).unwrap(),
            ScheduleOptions::default(),
        )
        .factory(),
    );
    lib.join(ID, Role::Attendee).unwrap();
    lib.push(ID, frame.clone(), 0).unwrap();
    let expected = Frame::from_ref(&lib.render().unwrap()).unwrap();
    assert_same(
        &ml,
        &out_caps(),
        &expected.as_ref(),
        "element vs library, ml",
    );

    // The scene without anyone.
    let empty = Frame::from_ref(&library().render().unwrap()).unwrap();
    let empty: Vec<u8> = empty.as_ref().plane(0).rows().flatten().copied().collect();
    let (ml, none) = (luma(&ml), luma(&none));

    // Seat pixels where MediaPipe is sure (p < 0.02 or p > 0.98 within 4 pixels around).
    let sure = |x: usize, y: usize, test: &dyn Fn(f32) -> bool| {
        let r = 4;
        (y.saturating_sub(r)..(y + r + 1).min(sh))
            .all(|yy| (x.saturating_sub(r)..(x + r + 1).min(sw)).all(|xx| test(prob[yy * sw + xx])))
    };
    // The matte the composite implies where the room and the scene differ enough to tell:
    // ml = a * none + (1 - a) * scene.
    let alpha = |i: usize| {
        let (m, n, e) = (f64::from(ml[i]), f64::from(none[i]), f64::from(empty[i]));
        ((n - e).abs() >= 24.0).then(|| (m - e) / (n - e))
    };
    let (mut bg, mut bg_scene) = (0usize, 0usize);
    let (mut person, mut person_kept) = (0usize, 0usize);
    for y in 0..sh {
        for x in 0..sw {
            let i = (sy + y) * OUT_W as usize + sx + x;
            let Some(a) = alpha(i) else { continue };
            if sure(x, y, &|p| p < 0.02) {
                bg += 1;
                bg_scene += usize::from(a < 0.1);
            } else if sure(x, y, &|p| p > 0.98) {
                person += 1;
                person_kept += usize::from(a > 0.9);
            }
        }
    }
    let frac = |a: usize, n: usize| a as f64 / n.max(1) as f64;
    eprintln!(
        "seat {sw}x{sh}: sure background {bg} px, {:.3} replaced by the scene (matte < 0.1); \
         sure person {person} px, {:.3} kept (matte > 0.9)",
        frac(bg_scene, bg),
        frac(person_kept, person)
    );
    let area = sw * sh;
    assert!(bg > area / 20 && person > area / 20, "enough sure pixels");
    assert!(
        frac(bg_scene, bg) > 0.9,
        "with segment=ml the room is replaced by the scene"
    );
    // MediaPipe's mask is of the whole square portrait; the seat shows a 3:4 crop of it, on
    // which the network leaves out the helmet at the bottom right that it counts as the
    // person in the whole image (0.71 of the sure person pixels are kept, measured). An
    // empty matte scores 0 here, an opaque one 0 on the background above.
    assert!(
        frac(person_kept, person) > 0.6,
        "with segment=ml the person stays"
    );
}

#[test]
fn a_model_path_that_does_not_load_is_refused() {
    init();
    let el = gst::ElementFactory::make("togethermode")
        .property("scene", "builtin:grid1")
        .property_from_str("segment", "ml")
        .property("model-path", "/nonexistent/selfie.tflite")
        .build()
        .unwrap();
    let bus = gst::Bus::new();
    el.set_bus(Some(&bus));
    assert!(el.set_state(gst::State::Paused).is_err());
    let _ = el.set_state(gst::State::Null);
    let mut errors = Vec::new();
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(e) = msg.view() {
            errors.push(format!("{} {:?}", e.error(), e.debug()));
        }
    }
    assert!(
        errors
            .iter()
            .any(|e| e.contains("/nonexistent/selfie.tflite")),
        "{errors:?}"
    );
}
