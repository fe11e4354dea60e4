//! `togethermode` under gst-check's Harness: frames pushed into request pads, composites
//! pulled from the source pad and compared byte for byte with the library's output for the
//! same inputs (the element runs the same `Compositor` code, so the match is exact).

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;
use gsttogethermode::togethermode::{
    TogetherMode, TogetherModeAutoZoom, TogetherModeIdentityKind, TogetherModeRole,
    TogetherModeSegment,
};
use together_mode::frame::{ColorSpec, Frame, PixelFormat};
use together_mode::seating::Reservation;
use together_mode::segment::input_alpha_factory;
use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};

const OUT_W: u32 = 320;
const OUT_H: u32 = 180;

fn out_caps(format: &str) -> gst::Caps {
    let mut caps = gst::Caps::builder("video/x-raw")
        .field("format", format)
        .field("width", OUT_W as i32)
        .field("height", OUT_H as i32)
        .field("framerate", gst::Fraction::new(30, 1));
    if format == "I420" {
        caps = caps.field("colorimetry", "bt601");
    }
    caps.build()
}

/// The element with `segment=alpha` (the default, `auto`, needs the selfie model; these tests
/// compare with the library's output for the same inputs' own alpha).
fn element(scene: &str) -> gst::Element {
    init();
    gst::ElementFactory::make("togethermode")
        .property("scene", scene)
        .property("segment", TogetherModeSegment::Alpha)
        .build()
        .expect("togethermode is registered")
}

fn library(scene: &str) -> Compositor {
    let scene = Scene::open(scene, &Default::default()).expect("scene");
    Compositor::with_segmenter(
        scene,
        CompositorOptions::default()
            .with_size(OUT_W, OUT_H)
            .with_color(ColorSpec::BT601_LIMITED),
        input_alpha_factory(),
    )
    .expect("compositor")
}

#[test]
fn the_default_segment_mode_is_auto() {
    init();
    let el = gst::ElementFactory::make("togethermode").build().unwrap();
    assert_eq!(
        el.property::<TogetherModeSegment>("segment"),
        TogetherModeSegment::Auto
    );
}

/// One participant input: its pad's harness plus what the library needs to mirror it.
struct Input {
    harness: Harness,
    id: String,
    format: PixelFormat,
    size: (u32, u32),
    seed: u32,
}

impl Input {
    /// Requests a pad on `element` (the first one also owns the output side).
    fn new(
        element: &gst::Element,
        id: &str,
        format: PixelFormat,
        size: (u32, u32),
        seed: u32,
        with_output: bool,
    ) -> Self {
        let mut harness =
            Harness::with_element(element, Some("sink_%u"), with_output.then_some("src"));
        // Sink pads are kept in request order: the newest is last.
        let pad = element
            .sink_pads()
            .into_iter()
            .last()
            .expect("requested pad");
        pad.set_property("participant-id", id);
        harness.set_src_caps(input_caps(format, size.0, size.1));
        Self {
            harness,
            id: id.to_string(),
            format,
            size,
            seed,
        }
    }

    /// Pushes frame `n` (lasting `frames` output periods) and the same frame to the library.
    fn push(&mut self, lib: &mut Compositor, n: u32, frames: u64) {
        self.send(n, frames);
        self.mirror(lib, n);
    }

    /// Pushes frame `n` into the element only.
    fn send(&mut self, n: u32, frames: u64) {
        let caps = input_caps(self.format, self.size.0, self.size.1);
        let (start, end) = (at(u64::from(n)), at(u64::from(n) + frames));
        let buf = gst_frame(&caps, self.seed, n, start, end - start);
        self.harness.push(buf).expect("push");
    }

    /// Hands frame `n` to the library only.
    fn mirror(&self, lib: &mut Compositor, n: u32) {
        let f = library_frame(self.format, self.size.0, self.size.1, self.seed, n);
        let pts = at(u64::from(n)).nseconds() as i64;
        lib.push(&self.id, f, pts).expect("library push");
    }
}

fn render_i420(lib: &mut Compositor) -> Frame {
    let view = lib.render().expect("render");
    Frame::from_ref(&view).expect("copy")
}

#[test]
fn composites_match_the_library_bit_exact_for_every_input_format() {
    let el = element("builtin:auditorium");
    let mut lib = library("builtin:auditorium");
    // Sizes with padded GStreamer strides (90 → Y stride 92, chroma 48) and odd chroma.
    let specs = [
        ("8:acs:i420", PixelFormat::I420, (90, 60)),
        ("8:acs:nv12", PixelFormat::Nv12, (64, 50)),
        ("8:acs:rgba", PixelFormat::Rgba, (40, 30)),
        ("8:orgid:bgra", PixelFormat::Bgra, (48, 64)),
    ];
    let mut inputs: Vec<Input> = specs
        .iter()
        .enumerate()
        .map(|(i, &(id, format, size))| Input::new(&el, id, format, size, i as u32 + 1, i == 0))
        .collect();
    for inp in &inputs {
        lib.join(&inp.id, Role::Attendee).expect("join");
    }
    let caps = out_caps("I420");
    inputs[0].harness.set_sink_caps(caps.clone());
    inputs[0].harness.play();
    let empty = render_i420(&mut library("builtin:auditorium"));

    for n in 0..3 {
        for inp in &mut inputs {
            inp.push(&mut lib, n, 1);
        }
        let out = inputs[0].harness.pull().expect("composite");
        assert_eq!(out.pts(), Some(at(u64::from(n))), "output timestamps");
        let expected = render_i420(&mut lib);
        assert_same(&out, &caps, &expected.as_ref(), &format!("frame {n}"));
        assert!(
            differs(&out, &caps, &empty.as_ref()),
            "frame {n}: the participants are visible"
        );
    }
}

#[test]
fn auto_zoom_on_matches_the_library_and_its_seating_map() {
    init();
    let el = gst::ElementFactory::make("togethermode")
        .property("scene", "builtin:auditorium")
        .property("segment", TogetherModeSegment::Alpha)
        .property("auto-zoom", TogetherModeAutoZoom::On)
        .build()
        .expect("togethermode is registered");
    assert_eq!(
        el.property::<TogetherModeAutoZoom>("auto-zoom"),
        TogetherModeAutoZoom::On
    );
    let scene = Scene::open("builtin:auditorium", &Default::default()).expect("scene");
    let mut lib = Compositor::with_segmenter(
        scene,
        CompositorOptions::default()
            .with_size(OUT_W, OUT_H)
            .with_color(ColorSpec::BT601_LIMITED)
            .with_auto_zoom(Some(true)),
        input_alpha_factory(),
    )
    .expect("compositor");
    let mut inputs = vec![
        Input::new(&el, "8:acs:a", PixelFormat::I420, (64, 48), 1, true),
        Input::new(&el, "8:acs:b", PixelFormat::I420, (64, 48), 2, false),
    ];
    for inp in &inputs {
        lib.join(&inp.id, Role::Attendee).expect("join");
    }
    let caps = out_caps("I420");
    inputs[0].harness.set_sink_caps(caps.clone());
    inputs[0].harness.play();
    for n in 0..3 {
        for inp in &mut inputs {
            inp.push(&mut lib, n, 1);
        }
        let out = inputs[0].harness.pull().expect("composite");
        let expected = render_i420(&mut lib);
        assert_same(&out, &caps, &expected.as_ref(), &format!("frame {n}"));
    }
    // The library zoomed, and the element's seating map is the zoomed one.
    assert_ne!(lib.view(), lib.scene().extent);
    assert_eq!(
        el.property::<String>("seating-map"),
        lib.seating_map((1280, 720)).to_json()
    );
    assert!(set_from_str(&el, "auto-zoom", "scene"));
    assert_eq!(
        el.property::<TogetherModeAutoZoom>("auto-zoom"),
        TogetherModeAutoZoom::Scene
    );
    assert!(!set_from_str(&el, "auto-zoom", "yes"));
}

#[test]
fn rgba_output_matches_the_library() {
    let el = element("builtin:grid");
    let mut lib = library("builtin:grid");
    let mut a = Input::new(&el, "a", PixelFormat::I420, (64, 48), 3, true);
    let mut b = Input::new(&el, "b", PixelFormat::Rgba, (30, 40), 4, false);
    lib.join("a", Role::Attendee).unwrap();
    lib.join("b", Role::Attendee).unwrap();
    let caps = out_caps("RGBA");
    a.harness.set_sink_caps(caps.clone());
    a.harness.play();
    for n in 0..2 {
        a.push(&mut lib, n, 1);
        b.push(&mut lib, n, 1);
        let out = a.harness.pull().expect("composite");
        let mut expected = Frame::new(PixelFormat::Rgba, OUT_W, OUT_H).unwrap();
        lib.render_into(&mut expected.as_mut())
            .expect("render rgba");
        assert_same(&out, &caps, &expected.as_ref(), &format!("rgba frame {n}"));
    }
}

#[test]
fn a_slower_input_is_held_and_timestamps_are_honoured() {
    let el = element("builtin:grid");
    let mut lib = library("builtin:grid");
    let mut fast = Input::new(&el, "fast", PixelFormat::I420, (64, 48), 5, true);
    let mut slow = Input::new(&el, "slow", PixelFormat::I420, (64, 48), 6, false);
    lib.join("fast", Role::Attendee).unwrap();
    lib.join("slow", Role::Attendee).unwrap();
    let caps = out_caps("I420");
    fast.harness.set_sink_caps(caps.clone());
    fast.harness.play();

    // `slow` sends one frame lasting three output periods, `fast` one per period. (Not live:
    // the aggregator waits until every pad has data queued, so slow's next frame, due at
    // tick 3, is queued early; until then its first frame is held.)
    fast.push(&mut lib, 0, 1);
    slow.push(&mut lib, 0, 3);
    let out = fast.harness.pull().expect("composite");
    let mut previous = render_i420(&mut lib);
    assert_same(&out, &caps, &previous.as_ref(), "tick 0");
    slow.send(3, 1);
    for n in 1..4 {
        fast.push(&mut lib, n, 1);
        if n == 3 {
            slow.mirror(&mut lib, 3);
        }
        let out = fast.harness.pull().expect("composite");
        assert_eq!(out.pts(), Some(at(u64::from(n))), "tick {n} timestamp");
        let expected = render_i420(&mut lib);
        assert_same(&out, &caps, &expected.as_ref(), &format!("tick {n}"));
        assert!(
            differs(&out, &caps, &previous.as_ref()),
            "tick {n} shows a new frame"
        );
        previous = expected;
    }
}

#[test]
fn pads_join_and_leave_while_playing_and_the_seating_map_follows() {
    let el = element("builtin:auditorium");
    let bus = gst::Bus::new();
    el.set_bus(Some(&bus));
    let mut lib = library("builtin:auditorium");
    let caps = out_caps("I420");

    let mut a = Input::new(&el, "8:acs:alice", PixelFormat::I420, (64, 48), 7, true);
    lib.join("8:acs:alice", Role::Attendee).unwrap();
    a.harness.set_sink_caps(caps.clone());
    a.harness.play();
    assert_eq!(el.current_state(), gst::State::Playing);
    let map = |el: &gst::Element| el.property::<String>("seating-map");

    a.push(&mut lib, 0, 1);
    let out = a.harness.pull().unwrap();
    assert_same(&out, &caps, &render_i420(&mut lib).as_ref(), "alone");
    // The map is in CSS pixels of the 1280x720 box for the negotiated 320x180 output.
    assert_eq!(map(&el), lib.seating_map((1280, 720)).to_json());

    // Bob joins while PLAYING.
    let mut b = Input::new(&el, "8:acs:bob", PixelFormat::Nv12, (48, 64), 8, false);
    lib.join("8:acs:bob", Role::Attendee).unwrap();
    let with_bob = lib.seating_map((1280, 720)).to_json();
    assert_eq!(map(&el), with_bob);
    assert!(with_bob.contains("8:acs:bob") && with_bob.contains("8:acs:alice"));
    for n in 1..3 {
        a.push(&mut lib, n, 1);
        b.push(&mut lib, n, 1);
        let out = a.harness.pull().unwrap();
        assert_same(
            &out,
            &caps,
            &render_i420(&mut lib).as_ref(),
            &format!("with bob {n}"),
        );
    }

    // Bob leaves while PLAYING: dropping his harness releases his request pad.
    drop(b);
    assert!(lib.leave("8:acs:bob"));
    assert_eq!(el.sink_pads().len(), 1);
    assert_eq!(map(&el), lib.seating_map((1280, 720)).to_json());
    assert!(!map(&el).contains("8:acs:bob"));
    a.push(&mut lib, 3, 1);
    let out = a.harness.pull().unwrap();
    assert_same(
        &out,
        &caps,
        &render_i420(&mut lib).as_ref(),
        "after bob left",
    );

    // Every change was posted, in order, and the last message is the current map.
    let posted = seating_messages(&bus);
    let mut alice_only = library("builtin:auditorium");
    alice_only.join("8:acs:alice", Role::Attendee).unwrap();
    let alone = alice_only.seating_map((1280, 720)).to_json();
    assert!(
        posted.iter().any(|m| m == &alone),
        "alice alone posted: {posted:?}"
    );
    assert!(
        posted.iter().any(|m| m == &with_bob),
        "bob's arrival posted: {posted:?}"
    );
    assert_eq!(posted.last(), Some(&map(&el)));
    for pair in posted.windows(2) {
        assert_ne!(pair[0], pair[1], "only changes are posted");
    }
}

#[test]
fn identity_and_scene_size_changes_update_the_map() {
    let el = element("builtin:grid");
    let bus = gst::Bus::new();
    el.set_bus(Some(&bus));
    let mut lib = library("builtin:grid");
    let mut a = Input::new(&el, "first", PixelFormat::I420, (64, 48), 9, true);
    let mut b = Input::new(&el, "second", PixelFormat::I420, (64, 48), 10, false);
    lib.join("first", Role::Attendee).unwrap();
    lib.join("second", Role::Attendee).unwrap();
    let caps = out_caps("I420");
    a.harness.set_sink_caps(caps.clone());
    a.harness.play();
    a.push(&mut lib, 0, 1);
    b.push(&mut lib, 0, 1);
    let _ = a.harness.pull().unwrap();
    seating_messages(&bus);

    // Renaming a participant keeps their seat.
    let seat_of_first = lib.seating().seat_of("first");
    let pad = el.static_pad("sink_0").expect("sink_0");
    pad.set_property("participant-id", "renamed");
    assert_eq!(pad.property::<String>("participant-id"), "renamed");
    lib.leave("first");
    lib.join("renamed", Role::Attendee).unwrap();
    assert_eq!(lib.seating().seat_of("renamed"), seat_of_first);
    let expected = lib.seating_map((1280, 720)).to_json();
    assert_eq!(el.property::<String>("seating-map"), expected);
    assert_eq!(seating_messages(&bus), vec![expected]);

    // The renamed participant has no frame until its pad delivers a new one.
    a.id = "renamed".into();
    a.push(&mut lib, 1, 1);
    b.push(&mut lib, 1, 1);
    let out = a.harness.pull().unwrap();
    assert_same(&out, &caps, &render_i420(&mut lib).as_ref(), "after rename");

    el.set_property("scene-size", "640x360");
    assert_eq!(el.property::<String>("scene-size"), "640x360");
    let expected = lib.seating_map((640, 360)).to_json();
    assert_eq!(el.property::<String>("seating-map"), expected);
    assert_eq!(seating_messages(&bus), vec![expected]);

    pad.set_property("role", TogetherModeRole::Presenter);
    assert_eq!(
        pad.property::<TogetherModeRole>("role"),
        TogetherModeRole::Presenter
    );
}

#[test]
fn a_full_scene_leaves_extra_pads_unseated_with_a_warning() {
    let el = element("builtin:grid1");
    let bus = gst::Bus::new();
    el.set_bus(Some(&bus));
    let mut lib = Compositor::new(
        Scene::grid(1, 1920, 1080).unwrap(),
        CompositorOptions::default()
            .with_size(OUT_W, OUT_H)
            .with_color(ColorSpec::BT601_LIMITED)
            .with_segment(SegmentMode::Alpha),
    )
    .unwrap();
    let mut a = Input::new(&el, "in", PixelFormat::I420, (64, 48), 11, true);
    let mut b = Input::new(&el, "out", PixelFormat::I420, (64, 48), 12, false);
    lib.join("in", Role::Attendee).unwrap();
    let warned = warnings(&bus);
    assert!(warned.iter().any(|w| w.contains("sink_1")), "{warned:?}");
    let caps = out_caps("I420");
    a.harness.set_sink_caps(caps.clone());
    a.harness.play();
    a.push(&mut lib, 0, 1);
    // `out` is not seated: the library never hears of it.
    let buf = gst_frame(
        &input_caps(PixelFormat::I420, 64, 48),
        12,
        0,
        gst::ClockTime::ZERO,
        at(1),
    );
    b.harness.push(buf).unwrap();
    let out = a.harness.pull().unwrap();
    assert_same(&out, &caps, &render_i420(&mut lib).as_ref(), "one seat");
    assert!(!el.property::<String>("seating-map").contains("\"out\""));
}

#[test]
fn bad_property_values_are_refused() {
    let el = element("builtin:grid");
    // Enum properties take their old string spellings (the nicks), as gst-launch does.
    assert!(set_from_str(&el, "segment", "none"));
    assert_eq!(
        el.property::<TogetherModeSegment>("segment"),
        TogetherModeSegment::None
    );
    assert!(!set_from_str(&el, "segment", "no-such-mode"));
    assert_eq!(
        el.property::<TogetherModeSegment>("segment"),
        TogetherModeSegment::None
    );
    for (nick, mode) in [
        ("chroma", TogetherModeSegment::Chroma),
        ("background", TogetherModeSegment::Background),
        ("auto", TogetherModeSegment::Auto),
        ("alpha", TogetherModeSegment::Alpha),
    ] {
        assert!(set_from_str(&el, "segment", nick));
        assert_eq!(el.property::<TogetherModeSegment>("segment"), mode);
    }
    // A number that is no value is refused too.
    assert!(!set_from_str(&el, "segment", "99"));
    let tm = el
        .clone()
        .downcast::<TogetherMode>()
        .expect("a TogetherMode");
    assert_eq!(tm.segment(), TogetherModeSegment::Alpha);
    assert_eq!(tm.seat_opacity(), 1.0);

    el.set_property("scene-size", "wide");
    assert_eq!(el.property::<String>("scene-size"), "1280x720");
    el.set_property("scene-size", "0x720");
    assert_eq!(el.property::<String>("scene-size"), "1280x720");
    el.set_property("scene-size", None::<&str>);
    assert_eq!(el.property::<String>("scene-size"), "1280x720");
    el.set_property("scene", None::<&str>);
    assert_eq!(el.property::<String>("scene"), "builtin:auditorium");
    el.set_property("model-path", "/nonexistent/model.tflite");
    assert_eq!(
        el.property::<Option<String>>("model-path").as_deref(),
        Some("/nonexistent/model.tflite")
    );
    assert_eq!(
        tm.model_path().as_deref(),
        Some("/nonexistent/model.tflite")
    );
}

/// gst-launch spells the pad's enums by their old names; the library's spelling of a role
/// (`coOrganizer`) is accepted too, and unknown names are refused.
#[test]
fn enum_properties_take_the_old_spellings_and_the_library_ones() {
    let el = element("builtin:grid");
    let _a = Input::new(&el, "8:acs:a", PixelFormat::I420, (64, 48), 1, true);
    let pad = el.static_pad("sink_0").expect("sink_0");
    let role = || pad.property::<TogetherModeRole>("role");
    for (spelling, want) in [
        ("organizer", TogetherModeRole::Organizer),
        ("co-organizer", TogetherModeRole::CoOrganizer),
        ("presenter", TogetherModeRole::Presenter),
        ("coOrganizer", TogetherModeRole::CoOrganizer),
        ("attendee", TogetherModeRole::Attendee),
    ] {
        assert!(set_from_str(&pad, "role", spelling), "{spelling}");
        assert_eq!(role(), want, "{spelling}");
    }
    for bad in ["Organizer", "co_organizer", "boss", "7"] {
        assert!(!set_from_str(&pad, "role", bad), "{bad:?}");
        assert_eq!(role(), TogetherModeRole::Attendee);
    }
    let pad = pad
        .downcast::<gsttogethermode::togethermode::TogetherModePad>()
        .expect("a TogetherModePad");
    pad.set_role(TogetherModeRole::CoOrganizer);
    assert_eq!(pad.role(), TogetherModeRole::CoOrganizer);
    assert!(set_from_str(&pad, "identity-kind", "teamsVisitor"));
    assert_eq!(pad.identity_kind(), TogetherModeIdentityKind::TeamsVisitor);
    assert!(!set_from_str(&pad, "identity-kind", "acs"));
    assert_eq!(pad.identity_kind(), TogetherModeIdentityKind::TeamsVisitor);
}

#[test]
fn an_unopenable_scene_fails_the_state_change() {
    let el = element("/nonexistent/scene/folder");
    assert!(el.set_state(gst::State::Paused).is_err());
    let _ = el.set_state(gst::State::Null);
}

/// Without the `ml` feature, `segment=ml` is refused for want of the feature; with it, for
/// want of the model: a `model-path` that does not exist is the only place looked at (the
/// element never fetches; tests/ml.rs runs the model).
#[test]
fn the_ml_mode_without_a_model_is_refused() {
    const MISSING: &str = "/nonexistent/selfie.tflite";
    let why = if cfg!(feature = "ml") {
        "model-path=/nonexistent/selfie.tflite: the selfie model was not found; looked at: /nonexistent/selfie.tflite (given path) (get it with scripts/fetch-model.sh"
    } else {
        "cargo feature `ml`"
    };
    // Before start: the first build fails and so does the state change.
    let el = element("builtin:grid");
    el.set_property("model-path", MISSING);
    el.set_property("segment", TogetherModeSegment::Ml);
    assert!(el.set_state(gst::State::Paused).is_err());
    let _ = el.set_state(gst::State::Null);

    // While running: a warning, and the previous mode stays in force.
    let el = element("builtin:grid");
    let bus = gst::Bus::new();
    el.set_bus(Some(&bus));
    let mut lib = library("builtin:grid");
    let mut a = Input::new(&el, "a", PixelFormat::Rgba, (40, 30), 13, true);
    lib.join("a", Role::Attendee).unwrap();
    let caps = out_caps("I420");
    a.harness.set_sink_caps(caps.clone());
    a.harness.play();
    warnings(&bus);
    el.set_property("model-path", MISSING);
    warnings(&bus);
    el.set_property("segment", TogetherModeSegment::Ml);
    assert_eq!(
        el.property::<TogetherModeSegment>("segment"),
        TogetherModeSegment::Alpha
    );
    let warned = warnings(&bus);
    assert!(warned.iter().any(|w| w.contains(why)), "{warned:?}");
    a.push(&mut lib, 0, 1);
    let out = a.harness.pull().unwrap();
    assert_same(
        &out,
        &caps,
        &render_i420(&mut lib).as_ref(),
        "alpha still in force",
    );
}

/// `auto` needs the model as `ml` does: a `model-path` that does not exist fails the state
/// change (never a fallback to boxes or to the background model), and so does a build
/// without the `ml` feature.
#[test]
fn auto_without_a_model_fails_the_state_change() {
    let el = element("builtin:grid");
    el.set_property("segment", TogetherModeSegment::Auto);
    el.set_property("model-path", "/nonexistent/selfie.tflite");
    assert!(el.set_state(gst::State::Paused).is_err());
    let _ = el.set_state(gst::State::Null);
}

/// The `participants` of every seating message on `bus`: (id, identity kind, role) per
/// seated pad.
fn seated_lists(bus: &gst::Bus) -> Vec<Vec<(String, String, String)>> {
    let mut lists = Vec::new();
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Element]) {
        let Some(s) = msg.structure() else { continue };
        if s.name() != gsttogethermode::togethermode::SEATING_MESSAGE {
            continue;
        }
        let people = s
            .get::<gst::Array>(gsttogethermode::togethermode::PARTICIPANTS_FIELD)
            .expect("participants array");
        lists.push(
            people
                .iter()
                .map(|v| {
                    let p = v.get::<gst::Structure>().expect("participant structure");
                    let field = |f: &str| p.get::<String>(f).expect("string field");
                    (field("id"), field("identity-kind"), field("role"))
                })
                .collect(),
        );
    }
    lists
}

#[test]
fn identity_kinds_come_from_the_id_or_the_pad_and_are_posted() {
    let el = element("builtin:grid");
    let bus = gst::Bus::new();
    el.set_bus(Some(&bus));
    let _a = Input::new(&el, "8:acs:alice", PixelFormat::I420, (64, 48), 1, true);
    let _b = Input::new(&el, "8:orgid:olivia", PixelFormat::I420, (64, 48), 2, false);
    let _c = Input::new(
        &el,
        "8:teamsvisitor:vic",
        PixelFormat::I420,
        (64, 48),
        3,
        false,
    );
    let _d = Input::new(&el, "4:+15550100", PixelFormat::I420, (64, 48), 4, false);
    let pad = |n: &str| el.static_pad(n).expect("pad");
    use TogetherModeIdentityKind as K;
    let kind = |n: &str| pad(n).property::<K>("identity-kind");
    // `auto`: the kind the raw id names, as the library's meetings read it.
    assert_eq!(kind("sink_0"), K::CommunicationServices);
    assert_eq!(kind("sink_1"), K::Microsoft365);
    assert_eq!(kind("sink_2"), K::TeamsVisitor);
    assert_eq!(kind("sink_3"), K::Other);
    let lists = seated_lists(&bus);
    assert_eq!(
        lists.last().expect("posted"),
        &vec![
            (
                "8:acs:alice".into(),
                "communicationServices".into(),
                "attendee".into()
            ),
            (
                "8:orgid:olivia".into(),
                "microsoft365".into(),
                "attendee".into()
            ),
            (
                "8:teamsvisitor:vic".into(),
                "teamsVisitor".into(),
                "attendee".into()
            ),
            ("4:+15550100".into(), "other".into(), "attendee".into()),
        ]
    );

    // An explicit kind overrides the id's and is posted; the seats do not change.
    let map = el.property::<String>("seating-map");
    assert!(set_from_str(
        &pad("sink_0"),
        "identity-kind",
        "teamsVisitor"
    ));
    assert_eq!(kind("sink_0"), K::TeamsVisitor);
    let lists = seated_lists(&bus);
    assert_eq!(lists.len(), 1, "one message for one change");
    assert_eq!(
        lists[0][0],
        (
            "8:acs:alice".into(),
            "teamsVisitor".into(),
            "attendee".into()
        )
    );
    assert_eq!(el.property::<String>("seating-map"), map);

    // Unknown names are refused and change nothing; `auto` goes back to the id's kind.
    assert!(!set_from_str(&pad("sink_0"), "identity-kind", "acs"));
    assert_eq!(kind("sink_0"), K::TeamsVisitor);
    assert!(
        seated_lists(&bus).is_empty(),
        "nothing changed, nothing posted"
    );
    pad("sink_0").set_property("identity-kind", K::Auto);
    assert_eq!(kind("sink_0"), K::CommunicationServices);
    // A new id under `auto` brings its own kind.
    pad("sink_3").set_property("participant-id", "8:orgid:newname");
    assert_eq!(kind("sink_3"), K::Microsoft365);
    let last = seated_lists(&bus).pop().expect("posted");
    assert_eq!(last[0].1, "communicationServices");
    assert_eq!(
        last[3],
        (
            "8:orgid:newname".into(),
            "microsoft365".into(),
            "attendee".into()
        )
    );
    // Roles travel with it.
    assert!(set_from_str(&pad("sink_1"), "role", "organizer"));
    let last = seated_lists(&bus).pop().expect("posted");
    assert_eq!(last[1].2, "organizer");
}

#[test]
fn buffers_are_shared_with_the_engine_and_released_or_copied_when_split() {
    let el = element("builtin:grid");
    let mut lib = library("builtin:grid");
    let mut a = Input::new(&el, "a", PixelFormat::I420, (64, 48), 21, true);
    lib.join("a", Role::Attendee).unwrap();
    let caps = out_caps("I420");
    a.harness.set_sink_caps(caps.clone());
    a.harness.play();
    let in_caps = input_caps(PixelFormat::I420, 64, 48);

    // One memory: the engine holds the buffer itself, and lets it go for the next one.
    let first = gst_frame(&in_caps, 21, 0, at(0), at(1));
    a.harness.push(first.clone()).unwrap();
    a.mirror(&mut lib, 0);
    let out = a.harness.pull().unwrap();
    assert_same(
        &out,
        &caps,
        &render_i420(&mut lib).as_ref(),
        "shared buffer",
    );

    // Two memories (Y, then U and V): mapping would merge them, so the element copies.
    let whole = gst_frame(&in_caps, 21, 1, at(1), at(1));
    let bytes = whole.map_readable().unwrap().as_slice().to_vec();
    let mut split = gst::Buffer::new();
    {
        let b = split.get_mut().unwrap();
        b.append_memory(gst::Memory::from_slice(bytes[..64 * 48].to_vec()));
        b.append_memory(gst::Memory::from_slice(bytes[64 * 48..].to_vec()));
        b.set_pts(at(1));
        b.set_duration(at(1));
    }
    assert_eq!(split.n_memory(), 2);
    a.harness.push(split).unwrap();
    a.mirror(&mut lib, 1);
    let out = a.harness.pull().unwrap();
    assert_same(&out, &caps, &render_i420(&mut lib).as_ref(), "split buffer");
    assert!(
        first.is_writable(),
        "the first buffer is released (only the test holds it) once a newer one replaced it"
    );

    // Back to one memory after a copy.
    a.push(&mut lib, 2, 1);
    let out = a.harness.pull().unwrap();
    assert_same(&out, &caps, &render_i420(&mut lib).as_ref(), "shared again");
}

/// `framing` on the element and on a pad: read back as set, `auto` and empty by default,
/// invalid values refused (the property keeps its value), from Rust and as gst-launch
/// spells them.
#[test]
fn framing_properties_read_back_and_refuse_bad_values() {
    let el = element("builtin:grid");
    let _a = Input::new(&el, "a", PixelFormat::I420, (64, 48), 1, true);
    let framing = || el.property::<String>("framing");
    assert_eq!(framing(), "auto");
    el.set_property("framing", "off");
    assert_eq!(framing(), "off");
    el.set_property("framing", " 8, 4,40,30 ");
    assert_eq!(framing(), "8,4,40,30");
    for bad in ["", "on", "8,4,40", "8,4,1,30", "8,4,40,30,1", "-8,4,40,30"] {
        el.set_property("framing", bad);
        assert_eq!(framing(), "8,4,40,30", "{bad:?}");
    }
    assert!(set_from_str(&el, "framing", "off"));
    assert_eq!(framing(), "off");
    el.set_property("framing", None::<&str>);
    assert_eq!(framing(), "auto");

    let pad = el.static_pad("sink_0").expect("sink_0");
    let own = || pad.property::<String>("framing");
    assert_eq!(own(), "");
    pad.set_property("framing", "2,2,20,20");
    assert_eq!(own(), "2,2,20,20");
    for bad in ["auto-ish", "2,2,20", "2,2,20,1"] {
        pad.set_property("framing", bad);
        assert_eq!(own(), "2,2,20,20", "{bad:?}");
    }
    assert!(set_from_str(&pad, "framing", "off"));
    assert_eq!(own(), "off");
    pad.set_property("framing", "");
    assert_eq!(own(), "");
    pad.set_property("framing", "auto");
    assert_eq!(own(), "auto");
    pad.set_property("framing", None::<&str>);
    assert_eq!(own(), "");
}

/// The element's `framing` and each pad's own reach the engine: the composite is the
/// library's with the same framing, bit for bit, and differs from the centre crop. A fixed
/// crop shows on any seat (these use the inputs' own alpha, where `auto` is the centre crop).
#[test]
fn framing_of_the_element_and_of_a_pad_reaches_the_compositor() {
    use together_mode::framing::FramingMode;
    let crop = FramingMode::Fixed {
        x: 6,
        y: 4,
        width: 40,
        height: 30,
    };
    let el = element("builtin:auditorium");
    el.set_property("framing", "6,4,40,30");
    let mut a = Input::new(&el, "a", PixelFormat::I420, (90, 60), 7, true);
    let mut b = Input::new(&el, "b", PixelFormat::Rgba, (64, 48), 8, false);
    el.static_pad("sink_1")
        .expect("sink_1")
        .set_property("framing", "off");
    let mut lib = library("builtin:auditorium");
    let mut centre = library("builtin:auditorium");
    for l in [&mut lib, &mut centre] {
        l.join("a", Role::Attendee).unwrap();
        l.join("b", Role::Attendee).unwrap();
    }
    // The engine's framing is the element's; b has its own.
    lib.set_framing("a", Some(crop)).unwrap();
    lib.set_framing("b", Some(FramingMode::Off)).unwrap();
    let caps = out_caps("I420");
    a.harness.set_sink_caps(caps.clone());
    a.harness.play();
    for n in 0..2 {
        a.push(&mut lib, n, 1);
        b.push(&mut lib, n, 1);
        a.mirror(&mut centre, n);
        b.mirror(&mut centre, n);
        let out = a.harness.pull().expect("composite");
        assert_same(&out, &caps, &render_i420(&mut lib).as_ref(), "framed");
        assert!(
            differs(&out, &caps, &render_i420(&mut centre).as_ref()),
            "frame {n}: a's crop shows"
        );
    }
    // While playing: a's own framing (the centre crop) overrides the element's, b's crop.
    el.static_pad("sink_0")
        .expect("sink_0")
        .set_property("framing", "off");
    el.static_pad("sink_1")
        .expect("sink_1")
        .set_property("framing", "6,4,40,30");
    lib.set_framing("a", Some(FramingMode::Off)).unwrap();
    lib.set_framing("b", Some(crop)).unwrap();
    for n in 2..4 {
        a.push(&mut lib, n, 1);
        b.push(&mut lib, n, 1);
        a.mirror(&mut centre, n);
        b.mirror(&mut centre, n);
        let out = a.harness.pull().expect("composite");
        assert_same(&out, &caps, &render_i420(&mut lib).as_ref(), "reframed");
        assert!(differs(&out, &caps, &render_i420(&mut centre).as_ref()));
    }
    // Both back to the centre crop: the element's `off`, the pads' own cleared.
    el.set_property("framing", "off");
    for pad in ["sink_0", "sink_1"] {
        el.static_pad(pad).unwrap().set_property("framing", "");
    }
    for n in 4..6 {
        a.push(&mut centre, n, 1);
        b.push(&mut centre, n, 1);
        let out = a.harness.pull().expect("composite");
        assert_same(&out, &caps, &render_i420(&mut centre).as_ref(), "centre");
    }
}

fn grid_library(n: usize) -> Compositor {
    Compositor::new(
        Scene::grid(n, 1920, 1080).unwrap(),
        CompositorOptions::default()
            .with_size(OUT_W, OUT_H)
            .with_color(ColorSpec::BT601_LIMITED)
            .with_segment(SegmentMode::Alpha),
    )
    .unwrap()
}

/// `reserved-seats`: the presenter pad takes the reserved seat, attendee pads never do (they
/// stay unseated with a warning even when only reserved seats are free).
#[test]
fn reserved_seats_go_to_privileged_pads_only() {
    let el = element("builtin:grid2");
    el.set_property("reserved-seats", "1");
    assert_eq!(el.property::<String>("reserved-seats"), "1");
    let bus = gst::Bus::new();
    el.set_bus(Some(&bus));
    let mut lib = grid_library(2);
    lib.set_reservation(Reservation::Count(1)).unwrap();
    let caps = out_caps("I420");
    let mut a = Input::new(&el, "8:acs:a", PixelFormat::I420, (64, 48), 1, true);
    a.harness.set_sink_caps(caps.clone());
    a.harness.play();
    lib.join("8:acs:a", Role::Attendee).unwrap();
    assert_eq!(lib.seating().seat_of("8:acs:a"), Some(1));
    a.push(&mut lib, 0, 1);
    let _ = a.harness.pull().unwrap();
    let map = |el: &gst::Element| el.property::<String>("seating-map");
    assert_eq!(map(&el), lib.seating_map((1280, 720)).to_json());

    // Another attendee: only the reserved seat is free, so it waits.
    let _p = Input::new(&el, "8:orgid:p", PixelFormat::I420, (64, 48), 2, false);
    warnings(&bus);
    assert!(!map(&el).contains("8:orgid:p"));
    // As a presenter it takes the reserved seat.
    let pad = el.sink_pads().into_iter().last().unwrap();
    pad.set_property("role", TogetherModeRole::Presenter);
    lib.join("8:orgid:p", Role::Presenter).unwrap();
    assert_eq!(lib.seating().seat_of("8:orgid:p"), Some(0));
    assert_eq!(map(&el), lib.seating_map((1280, 720)).to_json());
    // Bad values are refused and the property keeps its value.
    el.set_property("reserved-seats", "many");
    assert_eq!(el.property::<String>("reserved-seats"), "1");
    el.set_property("reserved-seats", "seats:1");
    assert_eq!(el.property::<String>("reserved-seats"), "seats:1");
    // Nobody seated moved.
    assert_eq!(map(&el), lib.seating_map((1280, 720)).to_json());
    // A seat the scene lacks: the engine refuses it and the old value stays.
    el.set_property("reserved-seats", "seats:5");
    assert_eq!(el.property::<String>("reserved-seats"), "seats:1");
}

/// A pad requested again with the same `participant-id` gets its old seat if it is free,
/// although an earlier seat is free too.
#[test]
fn a_pad_requested_again_gets_its_old_seat() {
    let el = element("builtin:grid4");
    let mut lib = grid_library(4);
    let caps = out_caps("I420");
    let mut z = Input::new(&el, "z", PixelFormat::I420, (64, 48), 1, true);
    z.harness.set_sink_caps(caps.clone());
    z.harness.play();
    let mut x = Input::new(&el, "x", PixelFormat::I420, (64, 48), 2, false);
    let mut y = Input::new(&el, "y", PixelFormat::I420, (64, 48), 3, false);
    for id in ["z", "x", "y"] {
        lib.join(id, Role::Attendee).unwrap();
    }
    z.push(&mut lib, 0, 1);
    x.push(&mut lib, 0, 1);
    y.push(&mut lib, 0, 1);
    let _ = z.harness.pull().unwrap();
    let map = |el: &gst::Element| el.property::<String>("seating-map");
    assert_eq!(map(&el), lib.seating_map((1280, 720)).to_json());
    drop(x);
    drop(y);
    lib.leave("x");
    lib.leave("y");
    assert_eq!(map(&el), lib.seating_map((1280, 720)).to_json());
    // y comes back first: seat 2, not the free seat 1.
    let _y = Input::new(&el, "y", PixelFormat::I420, (64, 48), 3, false);
    lib.join("y", Role::Attendee).unwrap();
    assert_eq!(lib.seating().seat_of("y"), Some(2));
    assert_eq!(map(&el), lib.seating_map((1280, 720)).to_json());
    let _x = Input::new(&el, "x", PixelFormat::I420, (64, 48), 2, false);
    lib.join("x", Role::Attendee).unwrap();
    assert_eq!(lib.seating().seat_of("x"), Some(1));
    assert_eq!(map(&el), lib.seating_map((1280, 720)).to_json());
}

#[test]
fn a_square_output_is_letterboxed_as_the_library_does() {
    // Caps at 180x180 for the 16:9 auditorium: the element's composite is the library's,
    // letterboxed (black bars above and below, the scene at its aspect), and so is the map.
    let (w, h) = (180u32, 180u32);
    let el = element("builtin:auditorium");
    let scene = Scene::open("builtin:auditorium", &Default::default()).expect("scene");
    let mut lib = Compositor::with_segmenter(
        scene,
        CompositorOptions::default()
            .with_size(w, h)
            .with_color(ColorSpec::BT601_LIMITED),
        input_alpha_factory(),
    )
    .expect("compositor");
    let mut a = Input::new(&el, "8:acs:a", PixelFormat::I420, (64, 48), 1, true);
    lib.join("8:acs:a", Role::Attendee).unwrap();
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", w as i32)
        .field("height", h as i32)
        .field("framerate", gst::Fraction::new(30, 1))
        .field("colorimetry", "bt601")
        .build();
    a.harness.set_sink_caps(caps.clone());
    a.harness.play();
    a.push(&mut lib, 0, 1);
    let out = a.harness.pull().expect("composite");
    let expected = render_i420(&mut lib);
    assert_same(&out, &caps, &expected.as_ref(), "180x180");
    // 180 * 9 / 16 = 101.25: a 180x102 picture from row 38 ((180 - 102) / 2 = 39, to even).
    let picture = lib.layout().picture();
    assert_eq!(
        (picture.x, picture.y, picture.width, picture.height),
        (0, 38, 180, 102)
    );
    let y = expected.as_ref();
    for row in (0..38).chain(140..180) {
        assert!(y.plane(0).row(row).iter().all(|&v| v == 16), "row {row}");
    }
    assert!(y.plane(0).row(89).iter().any(|&v| v != 16));
    let seat = lib.seating().seat_of("8:acs:a").unwrap();
    let seat = lib.layout().seat_rect(seat).unwrap();
    assert_eq!(seat.intersect(&picture), seat);
    assert_eq!(
        el.property::<String>("seating-map"),
        lib.seating_map((1280, 720)).to_json()
    );
}
