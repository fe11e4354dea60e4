//! The service's media plane in-process, on 127.0.0.1 (no HTTP): WHIP clients and WHEP
//! clients made of GStreamer elements talk to `service::media` through their own `webrtcbin`.
//! Every wait is bounded; colours are checked on decoded pixels.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst_video::prelude::*;
use gst_webrtc::{WebRTCICEGatheringState, WebRTCSDPType, WebRTCSessionDescription};

use together_mode::service::media::{
    EndReason, EndSink, FrameSink, Media, MediaConfig, MediaError, RoomOutput, ViewerSession,
};
use together_mode::{Frame, FrameRef, PixelFormat};

mod common;

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

/// The longest any single wait of these tests lasts.
const WAIT: Duration = Duration::from_secs(20);

/// BT.601 limited-range YUV of pure red, blue and green.
const RED: [u8; 3] = [81, 90, 240];
const BLUE: [u8; 3] = [41, 240, 110];
const GREEN: [u8; 3] = [145, 54, 34];

fn media(config: MediaConfig) -> Media {
    Media::new(config).expect("GStreamer with webrtcbin, libnice and VP8 is installed")
}

fn element(factory: &str) -> gst::Element {
    gst::ElementFactory::make(factory).build().unwrap()
}

/// A client `webrtcbin` gathering on loopback only, like the server.
fn client_webrtcbin() -> gst::Element {
    let webrtc = gst::ElementFactory::make("webrtcbin")
        .property_from_str("bundle-policy", "max-bundle")
        .build()
        .unwrap();
    let ice = webrtc.property::<glib::Object>("ice-agent");
    assert!(ice.emit_by_name::<bool>("add-local-ip-address", &[&"127.0.0.1"]));
    webrtc
}

fn promise_reply(webrtc: &gst::Element, signal: &str, arg: &dyn ToValue) -> Option<gst::Structure> {
    let (tx, rx) = mpsc::sync_channel(1);
    let promise = gst::Promise::with_change_func(move |reply| {
        let _ = tx.send(reply.ok().flatten().map(|s| s.to_owned()));
    });
    webrtc.emit_by_name_with_values(signal, &[arg.to_value(), promise.to_value()]);
    rx.recv_timeout(WAIT)
        .expect("webrtcbin answered the promise")
}

/// Creates the client's offer, applies it and returns it once ICE gathering is complete.
fn make_offer(webrtc: &gst::Element) -> String {
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    webrtc.connect_notify(Some("ice-gathering-state"), move |w, _| {
        if w.property::<WebRTCICEGatheringState>("ice-gathering-state")
            == WebRTCICEGatheringState::Complete
        {
            let _ = tx.try_send(());
        }
    });
    let reply = promise_reply(webrtc, "create-offer", &None::<gst::Structure>).unwrap();
    let offer = reply.get::<WebRTCSessionDescription>("offer").unwrap();
    promise_reply(webrtc, "set-local-description", &offer);
    rx.recv_timeout(WAIT)
        .expect("client ICE gathering completes");
    webrtc
        .property::<WebRTCSessionDescription>("local-description")
        .sdp()
        .as_text()
        .unwrap()
}

fn apply_answer(webrtc: &gst::Element, answer: &str) {
    let sdp = gst_sdp::SDPMessage::parse_buffer(answer.as_bytes()).unwrap();
    let answer = WebRTCSessionDescription::new(WebRTCSDPType::Answer, sdp);
    let reply = promise_reply(webrtc, "set-remote-description", &answer);
    if let Some(reply) = reply {
        assert!(!reply.has_field("error"), "{reply:?}");
    }
}

/// Mean Y, U, V of the centre quarter of a frame.
fn mean_yuv(frame: FrameRef<'_>) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let plane = frame.plane(i);
        let (w, h) = (plane.width(), plane.height());
        let (mut sum, mut n) = (0u64, 0u64);
        for y in h / 4..h * 3 / 4 {
            for &v in &plane.row(y)[w / 4..w * 3 / 4] {
                sum += u64::from(v);
                n += 1;
            }
        }
        *o = sum as f64 / n.max(1) as f64;
    }
    out
}

fn close_to(mean: [f64; 3], colour: [u8; 3]) -> bool {
    mean.iter()
        .zip(colour)
        .all(|(m, c)| (m - f64::from(c)).abs() <= 10.0)
}

/// What a decoded frame looked like.
#[derive(Debug, Clone, Copy)]
struct Seen {
    width: u32,
    height: u32,
    mean: [f64; 3],
}

fn seen(frame: FrameRef<'_>) -> Seen {
    Seen {
        width: frame.width(),
        height: frame.height(),
        mean: mean_yuv(frame),
    }
}

/// Waits (bounded) for a frame of `size` close to `colour`; returns how many frames came
/// before it.
fn wait_for(rx: &mpsc::Receiver<Seen>, size: (u32, u32), colour: [u8; 3]) -> Result<usize, String> {
    let deadline = Instant::now() + WAIT;
    let mut last = None;
    for n in 0.. {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(s) if (s.width, s.height) == size && close_to(s.mean, colour) => return Ok(n),
            Ok(s) => last = Some(s),
            Err(_) => break,
        }
    }
    Err(format!(
        "no {size:?} frame of {colour:?} in {WAIT:?}; last seen {last:?}"
    ))
}

/// A solid-colour I420 picture.
fn solid(width: u32, height: u32, colour: [u8; 3]) -> Frame {
    let mut frame = Frame::new(PixelFormat::I420, width, height).unwrap();
    let mut m = frame.as_mut();
    for (i, value) in colour.into_iter().enumerate() {
        m.plane_mut(i).fill(value);
    }
    frame
}

/// Pushes the current picture at about 30 frames per second until stopped (at most 60 s).
struct Feeder {
    picture: Arc<Mutex<Frame>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Feeder {
    fn start(first: Frame, mut push: impl FnMut(&Frame, i64) + Send + 'static) -> Feeder {
        let picture = Arc::new(Mutex::new(first));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&picture), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s.load(Ordering::Relaxed) && n < 1800 {
                {
                    let frame = p.lock().unwrap();
                    push(&frame, (n * 33_333) as i64);
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(33));
            }
            n
        });
        Feeder {
            picture,
            stop,
            thread: Some(thread),
        }
    }

    fn show(&self, frame: Frame) {
        *self.picture.lock().unwrap() = frame;
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A WHIP client: appsrc of I420 → vp8enc → rtpvp8pay → webrtcbin (send only).
struct Publisher {
    pipeline: gst::Pipeline,
    webrtc: gst::Element,
    src: gst_app::AppSrc,
}

impl Publisher {
    /// A VP8 publisher.
    fn new() -> Publisher {
        let enc = gst::ElementFactory::make("vp8enc")
            .property("deadline", 1i64)
            .property("keyframe-max-dist", 30i32)
            .build()
            .unwrap();
        Publisher::with(vec![enc, element("rtpvp8pay")], "VP8", 96)
    }

    /// An H.264 publisher (OpenH264, constrained baseline as browsers send).
    fn h264() -> Publisher {
        let enc = gst::ElementFactory::make("openh264enc")
            .property("gop-size", 30u32)
            .build()
            .unwrap();
        let pay = gst::ElementFactory::make("rtph264pay")
            .property("config-interval", -1i32)
            .property_from_str("aggregate-mode", "zero-latency")
            .build()
            .unwrap();
        Publisher::with(vec![enc, element("h264parse"), pay], "H264", 102)
    }

    fn with(chain: Vec<gst::Element>, encoding: &str, payload: i32) -> Publisher {
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder()
            .format(gst::Format::Time)
            .is_live(true)
            .build();
        let filter = gst::ElementFactory::make("capsfilter")
            .property(
                "caps",
                gst::Caps::builder("application/x-rtp")
                    .field("media", "video")
                    .field("encoding-name", encoding)
                    .field("payload", payload)
                    .field("clock-rate", 90_000i32)
                    .build(),
            )
            .build()
            .unwrap();
        let webrtc = client_webrtcbin();
        let mut all: Vec<&gst::Element> = vec![src.upcast_ref()];
        all.extend(chain.iter());
        all.push(&filter);
        all.push(&webrtc);
        pipeline.add_many(all.iter().copied()).unwrap();
        gst::Element::link_many(all.iter().copied()).unwrap();
        let pad = webrtc.static_pad("sink_0").unwrap();
        pad.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver")
            .set_direction(gst_webrtc::WebRTCRTPTransceiverDirection::Sendonly);
        pipeline.set_state(gst::State::Playing).unwrap();
        Publisher {
            pipeline,
            webrtc,
            src,
        }
    }

    /// A function pushing frames into this client's encoder (its caps follow the frame's
    /// size).
    fn pusher(&self) -> impl FnMut(&Frame, i64) + Send + 'static {
        let src = self.src.clone();
        let mut size = (0, 0);
        move |frame: &Frame, pts_us: i64| {
            if (frame.width(), frame.height()) != size {
                size = (frame.width(), frame.height());
                let info =
                    gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, size.0, size.1)
                        .fps(gst::Fraction::new(30, 1))
                        .build()
                        .unwrap();
                src.set_caps(Some(&info.to_caps().unwrap()));
            }
            let mut buffer = gst::Buffer::from_slice(frame.to_packed());
            buffer
                .get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_useconds(pts_us as u64));
            let _ = src.push_buffer(buffer);
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Sends each decoded frame's summary to a channel; the `Frame` callback for `publish`.
fn frame_channel() -> (FrameSink, mpsc::Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    (
        Box::new(move |frame: Frame, _pts| {
            let _ = tx.send(seen(frame.as_ref()));
        }),
        rx,
    )
}

fn end_channel() -> (EndSink, mpsc::Receiver<EndReason>) {
    let (tx, rx) = mpsc::channel();
    (
        Box::new(move |reason| {
            let _ = tx.send(reason);
        }),
        rx,
    )
}

#[test]
fn published_camera_frames_arrive_decoded_also_after_a_resolution_change() {
    let media = media(MediaConfig::default());
    let client = Publisher::new();
    let feeder = Feeder::start(solid(320, 240, RED), client.pusher());
    let offer = make_offer(&client.webrtc);
    assert!(offer.contains("127.0.0.1"), "{offer}");

    let (frames, seen) = frame_channel();
    let (ended, end) = end_channel();
    let session = media.publish(&offer, frames, ended).unwrap();
    let answer = session.answer_sdp().to_string();
    assert!(
        answer.contains("a=candidate:") && answer.contains("127.0.0.1"),
        "{answer}"
    );
    assert!(answer.contains("VP8/90000"), "{answer}");
    apply_answer(&client.webrtc, &answer);

    wait_for(&seen, (320, 240), RED).unwrap();
    feeder.show(solid(640, 360, BLUE));
    wait_for(&seen, (640, 360), BLUE).unwrap();
    feeder.show(solid(160, 120, GREEN));
    wait_for(&seen, (160, 120), GREEN).unwrap();
    assert!(end.try_recv().is_err(), "ended while publishing");

    session.close();
    assert_eq!(end.recv_timeout(WAIT), Ok(EndReason::Closed));
    assert!(
        end.recv_timeout(Duration::from_millis(200)).is_err(),
        "ended twice"
    );
    // No frame after `ended`.
    while seen.try_recv().is_ok() {}
    feeder.stop();
    assert!(seen.try_recv().is_err());
}

#[test]
fn h264_from_a_publisher_is_decoded_where_a_decoder_is_installed() {
    let media = media(MediaConfig::default());
    if !media.publish_codecs().contains(&"H264")
        || gst::ElementFactory::find("openh264enc").is_none()
    {
        // gstreamer1.0-plugins-bad has both; CI installs it.
        assert!(
            std::env::var_os("CI").is_none(),
            "no H.264 decoder or encoder in CI"
        );
        eprintln!("skipped: no H.264 decoder or OpenH264 encoder installed");
        return;
    }
    let client = Publisher::h264();
    let _feeder = Feeder::start(solid(320, 240, BLUE), client.pusher());
    let offer = make_offer(&client.webrtc);
    assert!(offer.contains("H264/90000"), "{offer}");
    let (frames, seen) = frame_channel();
    let (ended, _end) = end_channel();
    let session = media.publish(&offer, frames, ended).unwrap();
    assert!(session.answer_sdp().contains("H264/90000"));
    apply_answer(&client.webrtc, session.answer_sdp());
    wait_for(&seen, (320, 240), BLUE).unwrap();
}

#[test]
fn a_publisher_that_goes_away_ends_its_session() {
    let media = media(MediaConfig {
        idle_timeout: Duration::from_secs(2),
        ..MediaConfig::default()
    });
    let client = Publisher::new();
    let feeder = Feeder::start(solid(320, 240, GREEN), client.pusher());
    let offer = make_offer(&client.webrtc);
    let (frames, seen) = frame_channel();
    let (ended, end) = end_channel();
    let session = media.publish(&offer, frames, ended).unwrap();
    apply_answer(&client.webrtc, session.answer_sdp());
    wait_for(&seen, (320, 240), GREEN).unwrap();

    feeder.stop();
    drop(client);
    let reason = end.recv_timeout(WAIT).expect("the session ended");
    assert!(
        matches!(reason, EndReason::Timeout | EndReason::Disconnected),
        "{reason:?}"
    );
    assert!(session.is_ended());
    // Closing an ended session does not call `ended` again.
    session.close();
    assert!(end.recv_timeout(Duration::from_millis(200)).is_err());
}

/// A hand-written offer of a real shape, with the given video codec lines.
fn offer_with(codecs: &str) -> String {
    format!(
        "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE video0\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n\
         a=ice-pwd:0123456789abcdef0123456789\r\n\
         a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
         a=setup:actpass\r\na=mid:video0\r\na=sendonly\r\na=rtcp-mux\r\n{codecs}"
    )
}

#[test]
fn bad_offers_get_typed_errors_and_no_session() {
    let media = media(MediaConfig {
        negotiation_timeout: Duration::from_secs(5),
        ..MediaConfig::default()
    });
    let never = || -> Box<dyn FnOnce(EndReason) + Send> {
        Box::new(|reason| panic!("ended called for a refused offer: {reason:?}"))
    };
    let drop_frames = || -> Box<dyn FnMut(Frame, i64) + Send> { Box::new(|_, _| {}) };
    for garbage in [
        "",
        "hello",
        "v=0\r\n",
        "v=0\r\nm=video 9 RTP/AVP 96\r\n",
        "\0\0\0",
    ] {
        let err = media.publish(garbage, drop_frames(), never()).unwrap_err();
        assert!(matches!(err, MediaError::BadSdp(_)), "{garbage:?}: {err:?}");
    }
    let vp9 = offer_with("a=rtpmap:96 VP9/90000\r\n");
    let err = media.publish(&vp9, drop_frames(), never()).unwrap_err();
    assert!(
        matches!(&err, MediaError::NoCommonCodec { offered, .. } if offered == "VP9" || offered.is_empty()),
        "{err:?}"
    );
    // Every prefix of a well-formed offer: refused or answered, never a panic.
    let good = offer_with("a=rtpmap:96 VP8/90000\r\n");
    let mut answered = 0;
    for end in (0..good.len()).step_by(7).chain([good.len()]) {
        match media.publish(&good[..end], drop_frames(), Box::new(|_| {})) {
            Ok(session) => {
                assert!(session.answer_sdp().contains("VP8"));
                answered += 1;
            }
            Err(MediaError::BadSdp(_) | MediaError::NoCommonCodec { .. }) => {}
            Err(other) => panic!("{other:?} for {:?}", &good[..end]),
        }
    }
    assert!(answered >= 1, "the whole offer is answered");
    // A room's output refuses odd sizes and rates.
    assert!(matches!(
        media.room_output(641, 360, (30, 1)),
        Err(MediaError::BadOutput(_))
    ));
    assert!(matches!(
        media.room_output(640, 360, (0, 1)),
        Err(MediaError::BadOutput(_))
    ));
    // And a WHEP offer that receives no VP8 is refused.
    let output = media.room_output(64, 64, (30, 1)).unwrap();
    let recv_h264 = offer_with("a=rtpmap:96 H264/90000\r\n").replace("sendonly", "recvonly");
    assert!(matches!(
        output.add_viewer(&recv_h264, never()),
        Err(MediaError::NoCommonCodec { .. })
    ));
}

/// A WHEP client: webrtcbin (receive only) → rtpvp8depay → vp8dec → I420 appsink.
struct Viewer {
    pipeline: gst::Pipeline,
    webrtc: gst::Element,
    frames: mpsc::Receiver<Seen>,
    decoded: Arc<AtomicU64>,
    /// The newest decoded frame.
    last: Arc<Mutex<Option<Frame>>>,
    depay: Arc<Mutex<Option<gst::Element>>>,
}

impl Viewer {
    fn new() -> Viewer {
        let pipeline = gst::Pipeline::new();
        let webrtc = client_webrtcbin();
        pipeline.add(&webrtc).unwrap();
        let caps = gst::Caps::builder("application/x-rtp")
            .field("media", "video")
            .field("encoding-name", "VP8")
            .field("payload", 97i32)
            .field("clock-rate", 90_000i32)
            .field("rtcp-fb-nack-pli", true)
            .field("rtcp-fb-ccm-fir", true)
            .build();
        webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
            "add-transceiver",
            &[&gst_webrtc::WebRTCRTPTransceiverDirection::Recvonly, &caps],
        );
        let (tx, frames) = mpsc::channel();
        let tx = Mutex::new(tx);
        let decoded = Arc::new(AtomicU64::new(0));
        let depay_slot = Arc::new(Mutex::new(None));
        let last = Arc::new(Mutex::new(None));
        let (count, slot, newest) = (
            Arc::clone(&decoded),
            Arc::clone(&depay_slot),
            Arc::clone(&last),
        );
        let weak = pipeline.downgrade();
        webrtc.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else {
                return;
            };
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            let depay = element("rtpvp8depay");
            let dec = element("vp8dec");
            let conv = element("videoconvert");
            let sink = gst_app::AppSink::builder()
                .caps(
                    &gst_video::VideoCapsBuilder::new()
                        .format(gst_video::VideoFormat::I420)
                        .build(),
                )
                .sync(false)
                .build();
            let tx = Mutex::new(tx.lock().unwrap().clone());
            let count = Arc::clone(&count);
            let newest = Arc::clone(&newest);
            sink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
                        let buffer = sample.buffer().unwrap();
                        let frame =
                            gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
                                .unwrap();
                        let planes: Vec<_> = (0..3)
                            .map(|i| {
                                let (w, h) =
                                    PixelFormat::I420.plane_size(i, info.width(), info.height());
                                together_mode::PlaneRef::new(
                                    frame.plane_data(i as u32).unwrap(),
                                    w,
                                    h,
                                    frame.plane_stride()[i] as usize,
                                )
                                .unwrap()
                            })
                            .collect();
                        let view = FrameRef::new(
                            PixelFormat::I420,
                            info.width(),
                            info.height(),
                            Default::default(),
                            &planes,
                        )
                        .unwrap();
                        count.fetch_add(1, Ordering::Relaxed);
                        *newest.lock().unwrap() = Some(Frame::from_ref(&view).unwrap());
                        let _ = tx.lock().unwrap().send(seen(view));
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
            let chain = [&depay, &dec, &conv, sink.upcast_ref()];
            pipeline.add_many(chain).unwrap();
            gst::Element::link_many(chain).unwrap();
            for e in chain {
                e.sync_state_with_parent().unwrap();
            }
            pad.link(&depay.static_pad("sink").unwrap()).unwrap();
            *slot.lock().unwrap() = Some(depay);
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        Viewer {
            pipeline,
            webrtc,
            frames,
            decoded,
            last,
            depay: depay_slot,
        }
    }

    /// Joins `output`: offer, the server's answer, applied.
    fn join(&self, output: &RoomOutput) -> (ViewerSession, mpsc::Receiver<EndReason>) {
        let offer = make_offer(&self.webrtc);
        let (ended, end) = end_channel();
        let session = output.add_viewer(&offer, ended).unwrap();
        apply_answer(&self.webrtc, session.answer_sdp());
        // Receiver reports every half second or so, as browsers send them (GStreamer's
        // default is every 5 s on average, which only a longer idle timeout tolerates).
        let rtpbin = self
            .webrtc
            .downcast_ref::<gst::Bin>()
            .unwrap()
            .by_name("rtpbin")
            .unwrap();
        let rtp_session = rtpbin.emit_by_name::<glib::Object>("get-internal-session", &[&0u32]);
        rtp_session.set_property("rtcp-min-interval", 500_000_000u64);
        (session, end)
    }

    /// Asks the sender for a keyframe the way a decoder does (PLI/FIR through RTCP).
    fn request_keyframe(&self) {
        let depay = self.depay.lock().unwrap().clone().expect("receiving");
        let event = gst_video::UpstreamForceKeyUnitEvent::builder()
            .all_headers(true)
            .build();
        assert!(depay.static_pad("sink").unwrap().push_event(event));
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn room_feeder(output: &Arc<RoomOutput>, first: Frame) -> Feeder {
    let output = Arc::clone(output);
    Feeder::start(first, move |frame, pts| output.push(frame.as_ref(), pts))
}

#[test]
fn a_viewer_sees_the_room_and_a_pli_brings_a_keyframe() {
    let media = media(MediaConfig {
        // Only forced keyframes within the test's span.
        keyframe_interval: Duration::from_secs(600),
        ..MediaConfig::default()
    });
    let output = Arc::new(media.room_output(320, 240, (30, 1)).unwrap());
    assert_eq!(media.encoders(), 1);
    let feeder = room_feeder(&output, solid(320, 240, GREEN));
    let viewer = Viewer::new();
    let (session, end) = viewer.join(&output);
    assert!(session.answer_sdp().contains("VP8/90000"));
    wait_for(&viewer.frames, (320, 240), GREEN).unwrap();
    feeder.show(solid(320, 240, RED));
    wait_for(&viewer.frames, (320, 240), RED).unwrap();
    let newest = viewer
        .last
        .lock()
        .unwrap()
        .clone()
        .expect("a decoded frame");
    assert!(close_to(mean_yuv(newest.as_ref()), RED));

    // A keyframe request from the viewer reaches the shared encoder.
    let before = output.stats();
    viewer.request_keyframe();
    let deadline = Instant::now() + WAIT;
    while output.stats().keyframes == before.keyframes && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = output.stats();
    assert!(
        after.keyframes > before.keyframes,
        "{before:?} -> {after:?}"
    );
    assert!(after.keyframe_requests > before.keyframe_requests);

    session.close();
    assert_eq!(end.recv_timeout(WAIT), Ok(EndReason::Closed));
    assert_eq!(output.stats().viewers, 0);
    feeder.stop();
}

#[test]
fn two_viewers_share_one_encoder_and_a_stuck_viewer_stalls_nobody() {
    let media = media(MediaConfig {
        viewer_queue: 5,
        ..MediaConfig::default()
    });
    let output = Arc::new(media.room_output(320, 240, (30, 1)).unwrap());
    let feeder = room_feeder(&output, solid(320, 240, BLUE));
    let first = Viewer::new();
    let second = Viewer::new();
    let (s1, _e1) = first.join(&output);
    let (s2, _e2) = second.join(&output);
    wait_for(&first.frames, (320, 240), BLUE).unwrap();
    wait_for(&second.frames, (320, 240), BLUE).unwrap();
    assert_eq!(media.encoders(), 1, "one encoder for the room");
    assert_eq!(output.stats().viewers, 2);

    // A viewer that never takes the answer never connects: its pipeline holds the frames.
    let stuck = Viewer::new();
    let offer = make_offer(&stuck.webrtc);
    let stuck_session = output.add_viewer(&offer, Box::new(|_| {})).unwrap();
    assert_eq!(output.stats().viewers, 3);
    let (encoded, decoded) = (
        output.stats().encoded,
        first.decoded.load(Ordering::Relaxed),
    );
    feeder.show(solid(320, 240, GREEN));
    wait_for(&first.frames, (320, 240), GREEN).unwrap();
    wait_for(&second.frames, (320, 240), GREEN).unwrap();
    // Well past the stuck viewer's queue: the others kept getting frames.
    let deadline = Instant::now() + WAIT;
    while first.decoded.load(Ordering::Relaxed) < decoded + 60 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        first.decoded.load(Ordering::Relaxed) >= decoded + 60,
        "{decoded} -> {}: {s1:?} {stuck_session:?} {:?}",
        first.decoded.load(Ordering::Relaxed),
        output.stats()
    );
    assert!(output.stats().encoded >= encoded + 60);
    assert!(
        stuck_session.sent() <= 5 + 2,
        "the stuck viewer's queue is bounded: {stuck_session:?}"
    );
    assert!(stuck_session.dropped() > 0, "{stuck_session:?}");
    // The connected viewers lost at most their start (frames before their first keyframe).
    assert!(
        s1.dropped() * 4 < s1.sent() && s2.dropped() * 4 < s2.sent(),
        "{s1:?} {s2:?}"
    );

    // `push` itself never waited: the feeder kept its pace (it sleeps 33 ms a frame).
    let pushed = feeder.stop();
    let stats = output.stats();
    assert_eq!(stats.pushed, pushed);
    drop(stuck_session);
    drop((s1, s2));
    assert_eq!(output.stats().viewers, 0);
}

/// An offer shaped like a browser's (audio and video, many codecs, RTX, header extensions),
/// written by hand; `DIRECTION` is the offerer's direction.
const BROWSER_OFFER: &str = "\
v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS stream\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Xk3r\r\n\
a=ice-pwd:p0Kc8xXq2hY7mWn3vB5tR1sZ\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=DIRECTION\r\n\
a=msid:stream audio0\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:1111 cname:abc\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 45 46 98 99\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Xk3r\r\n\
a=ice-pwd:p0Kc8xXq2hY7mWn3vB5tR1sZ\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF\r\n\
a=setup:actpass\r\n\
a=mid:1\r\n\
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=DIRECTION\r\n\
a=msid:stream video0\r\n\
a=rtcp-mux\r\n\
a=rtcp-rsize\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 goog-remb\r\n\
a=rtcp-fb:96 transport-cc\r\n\
a=rtcp-fb:96 ccm fir\r\n\
a=rtcp-fb:96 nack\r\n\
a=rtcp-fb:96 nack pli\r\n\
a=rtpmap:97 rtx/90000\r\n\
a=fmtp:97 apt=96\r\n\
a=rtpmap:102 H264/90000\r\n\
a=rtcp-fb:102 goog-remb\r\n\
a=rtcp-fb:102 transport-cc\r\n\
a=rtcp-fb:102 ccm fir\r\n\
a=rtcp-fb:102 nack\r\n\
a=rtcp-fb:102 nack pli\r\n\
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:103 rtx/90000\r\n\
a=fmtp:103 apt=102\r\n\
a=rtpmap:45 AV1/90000\r\n\
a=rtcp-fb:45 nack pli\r\n\
a=rtpmap:46 rtx/90000\r\n\
a=fmtp:46 apt=45\r\n\
a=rtpmap:98 VP9/90000\r\n\
a=rtcp-fb:98 nack pli\r\n\
a=fmtp:98 profile-id=0\r\n\
a=rtpmap:99 rtx/90000\r\n\
a=fmtp:99 apt=98\r\n\
a=ssrc-group:FID 2222 3333\r\n\
a=ssrc:2222 cname:abc\r\n\
a=ssrc:3333 cname:abc\r\n\
";

/// The answer's direction and codecs for each media section, in order.
fn answered(answer: &str) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
    for line in answer.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            out.push((
                m.split(' ').next().unwrap().to_string(),
                String::new(),
                Vec::new(),
            ));
        } else if let Some(last) = out.last_mut() {
            if let Some(map) = line.strip_prefix("a=rtpmap:") {
                last.2.push(map.split(' ').nth(1).unwrap().to_string());
            } else if ["a=sendonly", "a=recvonly", "a=sendrecv", "a=inactive"].contains(&line) {
                last.1 = line[2..].to_string();
            }
        }
    }
    out
}

#[test]
fn browser_shaped_offers_get_vp8_video_and_inactive_audio() {
    let media = media(MediaConfig::default());
    let whip = BROWSER_OFFER.replace("DIRECTION", "sendonly");
    let session = media
        .publish(&whip, Box::new(|_, _| {}), Box::new(|_| {}))
        .unwrap();
    let sections = answered(session.answer_sdp());
    assert_eq!(sections.len(), 2, "{}", session.answer_sdp());
    assert_eq!(
        (sections[0].0.as_str(), sections[0].1.as_str()),
        ("audio", "inactive")
    );
    assert_eq!(sections[1].0, "video");
    assert_eq!(sections[1].1, "recvonly");
    assert_eq!(sections[1].2, ["VP8/90000"]);

    let output = media.room_output(64, 64, (30, 1)).unwrap();
    let whep = BROWSER_OFFER.replace("DIRECTION", "recvonly");
    let viewer = output.add_viewer(&whep, Box::new(|_| {})).unwrap();
    let sections = answered(viewer.answer_sdp());
    assert_eq!(sections.len(), 2, "{}", viewer.answer_sdp());
    assert_eq!(sections[0].1, "inactive");
    assert_eq!(sections[1].1, "sendonly");
    assert_eq!(sections[1].2, ["VP8/90000"]);
    // The offer's VP8 payload type is the one sent.
    assert!(viewer
        .answer_sdp()
        .contains("m=video 9 UDP/TLS/RTP/SAVPF 96"));
}

#[test]
fn a_viewer_that_goes_away_ends_its_session_and_leaves_the_room() {
    let media = media(MediaConfig {
        idle_timeout: Duration::from_secs(3),
        ..MediaConfig::default()
    });
    let output = Arc::new(media.room_output(160, 120, (30, 1)).unwrap());
    let feeder = room_feeder(&output, solid(160, 120, RED));
    let viewer = Viewer::new();
    let (session, end) = viewer.join(&output);
    wait_for(&viewer.frames, (160, 120), RED).unwrap();
    // Alive (its receiver reports keep coming) for twice the idle timeout.
    let seen = viewer.decoded.load(Ordering::Relaxed);
    assert!(
        end.recv_timeout(Duration::from_secs(6)).is_err(),
        "a live viewer ended"
    );
    assert!(viewer.decoded.load(Ordering::Relaxed) > seen + 60);

    drop(viewer);
    let reason = end.recv_timeout(WAIT).expect("the session ended");
    assert!(
        matches!(reason, EndReason::Timeout | EndReason::Disconnected),
        "{reason:?}"
    );
    assert!(session.is_ended());
    assert_eq!(output.stats().viewers, 0, "it left the room");
    feeder.stop();
}

#[test]
fn pushing_a_room_frame_allocates_nothing_on_the_callers_thread() {
    let media = media(MediaConfig::default());
    let output = media.room_output(320, 240, (30, 1)).unwrap();
    let frame = solid(320, 240, GREEN);
    let mut pts = 0;
    let mut push = |n: usize| {
        for _ in 0..n {
            output.push(frame.as_ref(), pts);
            pts += 33_333;
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    push(10);
    let ((), bytes) = common::alloc::allocated_by(|| push(30));
    assert_eq!(bytes, 0);
    let stats = output.stats();
    assert_eq!(stats.pushed, 40);
    // The frames did go to the encoder (pooled buffers, not allocations of the caller).
    assert!(stats.encoded >= 20, "{stats:?}");
}

// ---------------------------------------------------------------------------------------------
// Through HTTP: WHIP and WHEP routes of the service

/// One HTTP/1.1 request (Connection: close): status, headers (names lower case), body.
fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> (u16, std::collections::HashMap<String, String>, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req += &format!("Authorization: Bearer {t}\r\n");
    }
    if let Some(c) = content_type {
        req += &format!("Content-Type: {c}\r\n");
    }
    req += &format!("Content-Length: {}\r\n\r\n", body.len());
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// Mean Y, U, V of the middle half of a CSS-pixel rectangle of a frame.
fn mean_in(frame: &Frame, rect: &together_mode::seating::CssRect) -> [f64; 3] {
    let f = frame.as_ref();
    let mut out = [0.0; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let plane = f.plane(i);
        let scale = if i == 0 { 1.0 } else { 0.5 };
        let x0 = ((rect.left + rect.width / 4.0) * scale) as usize;
        let x1 = ((rect.left + rect.width * 3.0 / 4.0) * scale) as usize;
        let y0 = ((rect.top + rect.height / 4.0) * scale) as usize;
        let y1 = ((rect.top + rect.height * 3.0 / 4.0) * scale) as usize;
        let (mut sum, mut n) = (0u64, 0u64);
        for y in y0..y1.min(plane.height()) {
            for &v in &plane.row(y)[x0.min(plane.width())..x1.min(plane.width())] {
                sum += u64::from(v);
                n += 1;
            }
        }
        *o = sum as f64 / n.max(1) as f64;
    }
    out
}

#[test]
fn whip_and_whep_through_the_service() {
    use together_mode::meeting::IdentityKind;
    use together_mode::seating::Role;
    use together_mode::service::{Identity, Service, ServiceConfig};
    use together_mode::SegmentMode;

    let config = ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        key: Some("a test key that is at least 32 bytes long".into()),
        segment: SegmentMode::None,
        output_width: 320,
        output_height: 180,
        fps: 20,
        ..ServiceConfig::default()
    };
    let service = Service::new(config).unwrap().spawn().unwrap();
    let addr = service.addr();
    let rt = service.runtime().clone();
    let mint = |id: &str, role: Role| service.authority().mint("m1", id, role, 600).unwrap();
    let identity = |id: &str, role: Role| Identity {
        id: id.into(),
        kind: IdentityKind::from_raw_id(id),
        role,
        meeting: "m1".into(),
    };
    let (alice, bob, olivia) = (
        mint("8:acs:alice", Role::Attendee),
        mint("8:acs:bob", Role::Attendee),
        mint("8:orgid:olivia", Role::Organizer),
    );

    // Alice publishes her camera over WHIP.
    let client = Publisher::new();
    let _feeder = Feeder::start(solid(320, 240, RED), client.pusher());
    let offer = make_offer(&client.webrtc);
    let (status, _, body) = http(
        addr,
        "POST",
        "/whip/m1",
        None,
        Some("application/sdp"),
        &offer,
    );
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = http(
        addr,
        "POST",
        "/whip/m1",
        Some(&alice),
        Some("application/json"),
        &offer,
    );
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = http(
        addr,
        "POST",
        "/whip/m1",
        Some(&alice),
        Some("application/sdp"),
        "v=0\r\n",
    );
    assert_eq!(status, 400, "{body}");
    let (status, headers, answer) = http(
        addr,
        "POST",
        "/whip/m1",
        Some(&alice),
        Some("application/sdp"),
        &offer,
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(headers["content-type"], "application/sdp");
    let location = headers["location"].clone();
    assert!(location.starts_with("/whip/m1/"), "{location}");
    apply_answer(&client.webrtc, &answer);
    let video_of = |id: &str| {
        rt.with_meeting("m1", false, |st| st.participant_info(id))
            .map(|p| p.video)
            .unwrap_or(false)
    };
    assert!(video_of("8:acs:alice"));

    // Olivia starts Together Mode and watches the main room over WHEP.
    rt.join(&identity("8:orgid:olivia", Role::Organizer))
        .unwrap();
    rt.with_meeting("m1", false, |st| Ok(st.meeting.start("8:orgid:olivia")?))
        .unwrap();
    let viewer = Viewer::new();
    let offer = make_offer(&viewer.webrtc);
    let (status, _, body) = http(
        addr,
        "POST",
        "/whep/m1/nowhere",
        Some(&olivia),
        Some("application/sdp"),
        &offer,
    );
    assert_eq!(status, 404, "{body}");
    let (status, headers, answer) = http(
        addr,
        "POST",
        "/whep/m1/main",
        Some(&olivia),
        Some("application/sdp"),
        &offer,
    );
    assert_eq!(status, 201, "{answer}");
    let view_location = headers["location"].clone();
    assert!(
        view_location.starts_with("/whep/m1/main/"),
        "{view_location}"
    );
    apply_answer(&viewer.webrtc, &answer);

    // Her decoded stream shows Alice's red where the seating map puts her.
    let rect = rt
        .with_meeting("m1", false, |st| st.seating_map_in("main", (320, 180)))
        .unwrap()
        .0["8:acs:alice"];
    let deadline = Instant::now() + WAIT;
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(seen) = viewer.frames.recv_timeout(Duration::from_millis(200)) {
            assert_eq!((seen.width, seen.height), (320, 180));
        }
        let frame = viewer.last.lock().unwrap().clone();
        if let Some(frame) = frame {
            let mean = mean_in(&frame, &rect);
            last = Some(mean);
            if close_to(mean, RED) {
                break;
            }
        }
    }
    let mean = last.expect("decoded frames");
    assert!(close_to(mean, RED), "seat {rect:?}: {mean:?}");

    // Only the owner ends a session.
    let (status, _, body) = http(addr, "DELETE", &location, Some(&bob), None, "");
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = http(addr, "DELETE", &location, Some(&alice), None, "");
    assert_eq!(status, 200, "{body}");
    assert!(!video_of("8:acs:alice"), "video off after DELETE");
    let (status, _, _) = http(addr, "DELETE", &location, Some(&alice), None, "");
    assert_eq!(status, 404);
    let (status, _, body) = http(addr, "DELETE", &view_location, Some(&olivia), None, "");
    assert_eq!(status, 200, "{body}");
    service.stop();
}
