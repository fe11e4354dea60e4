//! `togethermode` in real pipelines: a non-live run to EOS configured with gst-launch syntax
//! (`sink_N::participant-id`, through the element's child proxy), and live sources joining
//! and leaving a PLAYING pipeline.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::init;
use gst::prelude::*;
use gsttogethermode::togethermode::{
    TogetherModeIdentityKind, TogetherModeRole, TogetherModeSegment,
};

/// Counts the buffers that reach `sink`'s sink pad.
fn count_buffers(pipeline: &gst::Pipeline, sink: &str) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    pipeline
        .by_name(sink)
        .expect("sink")
        .static_pad("sink")
        .expect("sink pad")
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            c.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
    count
}

/// The seating map carried by a `togethermode-seating` element message.
fn seating_map(msg: &gst::Message) -> Option<String> {
    let s = msg.structure()?;
    if s.name() != gsttogethermode::togethermode::SEATING_MESSAGE {
        return None;
    }
    s.get::<String>(gsttogethermode::togethermode::SEATING_FIELD)
        .ok()
}

/// Waits (at most 10 s) until `cond` holds, failing on any error message and collecting
/// the seating maps posted meanwhile into `maps`.
fn wait_for(bus: &gst::Bus, maps: &mut Vec<String>, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(20),
            &[gst::MessageType::Error, gst::MessageType::Element],
        ) else {
            continue;
        };
        if let gst::MessageView::Error(e) = msg.view() {
            panic!(
                "error while waiting for {what}: {} {:?}",
                e.error(),
                e.debug()
            );
        }
        maps.extend(seating_map(&msg));
    }
}

#[test]
fn non_live_inputs_run_to_eos_with_gst_launch_syntax() {
    init();
    let pipeline = gst::parse::launch(
        "togethermode name=m scene=builtin:grid4 sink_0::participant-id=8:acs:ann \
           sink_1::participant-id=8:orgid:ben sink_1::role=presenter \
           sink_2::participant-id=8:orgid:cy sink_2::role=co-organizer \
           sink_3::participant-id=8:orgid:di sink_3::role=coOrganizer segment=none \
         ! video/x-raw,width=320,height=180 ! fakesink name=sink \
         videotestsrc num-buffers=10 ! video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! m.sink_0 \
         videotestsrc num-buffers=10 pattern=smpte ! video/x-raw,format=BGRA,width=90,height=160,framerate=30/1 ! m.sink_1 \
         videotestsrc num-buffers=10 pattern=ball ! video/x-raw,format=NV12,width=64,height=48,framerate=30/1 ! m.sink_2 \
         videotestsrc num-buffers=10 pattern=snow ! video/x-raw,format=RGBA,width=48,height=64,framerate=30/1 ! m.sink_3",
    )
    .expect("pipeline parses")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let count = count_buffers(&pipeline, "sink");
    let bus = pipeline.bus().expect("bus");
    pipeline.set_state(gst::State::Playing).expect("plays");
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(20),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS or error");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    assert_eq!(count.load(Ordering::SeqCst), 10);
    let m = pipeline.by_name("m").expect("m");
    let map = m.property::<String>("seating-map");
    assert!(
        map.contains("8:acs:ann") && map.contains("8:orgid:ben"),
        "{map}"
    );
    let role = |pad: &str| {
        m.static_pad(pad)
            .expect("pad")
            .property::<TogetherModeRole>("role")
    };
    assert_eq!(role("sink_0"), TogetherModeRole::Attendee);
    assert_eq!(role("sink_1"), TogetherModeRole::Presenter);
    // The element's spelling and the library's name the same role.
    assert_eq!(role("sink_2"), TogetherModeRole::CoOrganizer);
    assert_eq!(role("sink_3"), TogetherModeRole::CoOrganizer);
    assert_eq!(
        m.property::<TogetherModeSegment>("segment"),
        TogetherModeSegment::None
    );
    let caps = m
        .static_pad("src")
        .unwrap()
        .current_caps()
        .expect("negotiated");
    let s = caps.structure(0).unwrap();
    assert_eq!(s.get::<&str>("format"), Ok("I420"));
    assert_eq!(
        (s.get::<i32>("width"), s.get::<i32>("height")),
        (Ok(320), Ok(180))
    );
    pipeline.set_state(gst::State::Null).expect("stops");
}

#[test]
fn live_sources_join_and_leave_a_playing_pipeline() {
    init();
    let pipeline = gst::parse::launch(
        "togethermode name=m scene=builtin:grid4 segment=alpha \
         ! video/x-raw,width=320,height=180,framerate=30/1 ! fakesink name=sink \
         videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! m.",
    )
    .expect("pipeline parses")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let count = count_buffers(&pipeline, "sink");
    let bus = pipeline.bus().expect("bus");
    let m = pipeline.by_name("m").expect("m");
    pipeline.set_state(gst::State::Playing).expect("plays");
    let mut maps = Vec::new();
    wait_for(&bus, &mut maps, "first frames", || {
        count.load(Ordering::SeqCst) >= 5
    });

    // A participant joins while PLAYING.
    let late = gst::parse::bin_from_description(
        "videotestsrc is-live=true pattern=smpte ! capsfilter caps=video/x-raw,format=NV12,width=160,height=120,framerate=30/1",
        true,
    )
    .expect("source bin");
    pipeline.add(&late).unwrap();
    let pad = m.request_pad_simple("sink_%u").expect("request pad");
    pad.set_property("participant-id", "8:acs:late");
    late.static_pad("src").unwrap().link(&pad).expect("links");
    late.sync_state_with_parent().expect("syncs");
    assert!(m.property::<String>("seating-map").contains("8:acs:late"));
    let n = count.load(Ordering::SeqCst);
    wait_for(&bus, &mut maps, "frames with two participants", || {
        count.load(Ordering::SeqCst) >= n + 5
    });

    // And leaves while PLAYING.
    late.set_state(gst::State::Null).expect("stops");
    pipeline.remove(&late).unwrap();
    m.release_request_pad(&pad);
    let map = m.property::<String>("seating-map");
    assert!(
        !map.contains("8:acs:late") && map.contains("sink_0"),
        "{map}"
    );
    let n = count.load(Ordering::SeqCst);
    wait_for(&bus, &mut maps, "frames after the leave", || {
        count.load(Ordering::SeqCst) >= n + 5
    });

    // Every seating change was posted as an element message.
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Element]) {
        maps.extend(seating_map(&msg));
    }
    assert!(maps.iter().any(|m| m.contains("8:acs:late")), "{maps:?}");
    assert_eq!(maps.last(), Some(&map));
    pipeline.set_state(gst::State::Null).expect("stops");
}

/// gst-launch refuses an element property value that is no enum value's nick or name (the
/// pipeline does not parse). A pad property given as `sink_N::…` is set when the pad is
/// requested, after parsing: GStreamer's parser then drops a value it cannot read (logging
/// it in the `GST_PIPELINE` debug category) and the pad keeps its default.
#[test]
fn gst_launch_refuses_unknown_enum_values() {
    init();
    let err = gst::parse::launch("togethermode segment=no-such-mode ! fakesink")
        .expect_err("an unknown segment mode");
    assert!(err.message().contains("segment"), "{err}");

    let pipeline = gst::parse::launch(
        "togethermode name=m segment=alpha sink_0::role=boss sink_0::identity-kind=acs \
           sink_1::role=coOrganizer sink_1::identity-kind=teamsVisitor ! fakesink \
         videotestsrc ! m.sink_0 videotestsrc ! m.sink_1",
    )
    .expect("pipeline parses")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let m = pipeline.by_name("m").expect("m");
    let pad = |name: &str| m.static_pad(name).expect("pad");
    assert_eq!(
        pad("sink_0").property::<TogetherModeRole>("role"),
        TogetherModeRole::Attendee
    );
    assert_eq!(
        pad("sink_0").property::<TogetherModeIdentityKind>("identity-kind"),
        TogetherModeIdentityKind::Other,
        "auto: sink_0 is no ACS id"
    );
    assert_eq!(
        pad("sink_1").property::<TogetherModeRole>("role"),
        TogetherModeRole::CoOrganizer
    );
    assert_eq!(
        pad("sink_1").property::<TogetherModeIdentityKind>("identity-kind"),
        TogetherModeIdentityKind::TeamsVisitor
    );
}
