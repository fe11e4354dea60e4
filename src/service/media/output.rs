//! WHEP egress: one VP8 encoder per room (`appsrc` of composed I420 frames → `vp8enc` →
//! `appsink`), its encoded frames handed to every viewer's own pipeline (`appsrc` →
//! `rtpvp8pay` → `webrtcbin`). The encoder's input comes from a fixed pool of buffers and each
//! viewer's queue is bounded, so neither the meeting's tick nor the encoder ever waits: when
//! they are behind, frames are dropped (a viewer that lost frames waits for a keyframe).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_video::prelude::*;
use gst_webrtc::{WebRTCPeerConnectionState, WebRTCRTPTransceiverDirection};

use super::peer::{self, pipeline_error, Deadline, Watch};
use super::sdp::{self, Codec};
use super::{EndSink, MediaError, Shared};
use crate::frame::{FrameRef, PixelFormat};

/// Input buffers of a room's encoder: a frame pushed while all are in use is dropped.
const INPUT_BUFFERS: u32 = 4;
/// The soonest a keyframe follows the previous forced one (requests in between are merged).
const KEYFRAME_GAP: Duration = Duration::from_millis(200);

/// Counters of a room's output, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputStats {
    /// Frames given to [`RoomOutput::push`].
    pub pushed: u64,
    /// Frames refused by `push` (wrong size or format, time going back, encoder behind).
    pub dropped: u64,
    /// Frames the encoder produced.
    pub encoded: u64,
    /// Of which keyframes.
    pub keyframes: u64,
    /// Keyframes asked of the encoder (viewers joining, PLI/FIR, viewers that lost frames).
    pub keyframe_requests: u64,
    /// Viewers attached now.
    pub viewers: usize,
}

#[derive(Default)]
struct Counters {
    pushed: AtomicU64,
    dropped: AtomicU64,
    encoded: AtomicU64,
    keyframes: AtomicU64,
    keyframe_requests: AtomicU64,
}

/// Keyframe requests, merged to at most one per [`KEYFRAME_GAP`].
struct Keyframes {
    last: Option<Instant>,
    pending: bool,
}

struct Viewer {
    id: u64,
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    /// Delta frames are useless to the viewer until the next keyframe.
    needs_keyframe: AtomicBool,
    /// Whether a keyframe was asked for since the viewer started waiting for one.
    asked: AtomicBool,
    dropped: AtomicU64,
    sent: AtomicU64,
}

impl Viewer {
    /// Queues an encoded frame, stamped with the viewer pipeline's running time (each
    /// pipeline has its own clock base; the encoder's times would be early or late there).
    fn push(&self, buffer: &gst::Buffer) -> bool {
        let now = self.pipeline.current_running_time();
        let mut stamped = buffer.copy();
        if let Some(b) = stamped.get_mut() {
            b.set_pts(now);
            b.set_dts(gst::ClockTime::NONE);
        }
        self.src.push_buffer(stamped).is_ok()
    }
}

struct Inner {
    shared: Arc<Shared>,
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    encoder: gst::Element,
    pool: gst::BufferPool,
    info: gst_video::VideoInfo,
    /// Caps of the encoded stream, for the viewers' sources.
    encoded_caps: gst::Caps,
    viewers: Mutex<Vec<Arc<Viewer>>>,
    next_viewer: AtomicU64,
    counters: Counters,
    keyframes: Mutex<Keyframes>,
    last_pts: Mutex<Option<i64>>,
}

/// One room's encoded output, fanned out to its viewers. Dropping it stops the encoder and
/// closes every viewer.
pub struct RoomOutput {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RoomOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomOutput")
            .field("width", &self.inner.info.width())
            .field("height", &self.inner.info.height())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The encoder's target bitrate (bits per second) for a size and rate: about 0.1 bit per
/// pixel, between 300 kbit/s and 8 Mbit/s.
fn target_bitrate(width: u32, height: u32, fps: (u32, u32)) -> i32 {
    let pixels_per_second =
        f64::from(width) * f64::from(height) * f64::from(fps.0) / f64::from(fps.1);
    (pixels_per_second * 0.1).clamp(300_000.0, 8_000_000.0) as i32
}

impl RoomOutput {
    pub(crate) fn new(
        shared: &Arc<Shared>,
        width: u32,
        height: u32,
        fps: (u32, u32),
    ) -> Result<RoomOutput, MediaError> {
        if width == 0
            || height == 0
            || !width.is_multiple_of(2)
            || !height.is_multiple_of(2)
            || width > 4096
            || height > 4096
        {
            return Err(MediaError::BadOutput(format!(
                "{width}x{height}: sides must be even, 2 to 4096"
            )));
        }
        if fps.0 == 0 || fps.1 == 0 || fps.0 / fps.1 > 120 {
            return Err(MediaError::BadOutput(format!(
                "{}/{} frames per second",
                fps.0, fps.1
            )));
        }
        let fps_num = i32::try_from(fps.0).map_err(|_| MediaError::BadOutput("rate".into()))?;
        let fps_den = i32::try_from(fps.1).map_err(|_| MediaError::BadOutput("rate".into()))?;
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
            .fps(gst::Fraction::new(fps_num, fps_den))
            .build()
            .map_err(|e| pipeline_error("video info", e))?;
        let caps = info
            .to_caps()
            .map_err(|e| pipeline_error("video caps", e))?;
        let pool = gst_video::VideoBufferPool::new().upcast::<gst::BufferPool>();
        let mut pool_config = pool.config();
        pool_config.set_params(
            Some(&caps),
            info.size() as u32,
            INPUT_BUFFERS,
            INPUT_BUFFERS,
        );
        pool.set_config(pool_config)
            .map_err(|e| pipeline_error("configuring the input pool", e))?;
        pool.set_active(true)
            .map_err(|e| pipeline_error("activating the input pool", e))?;

        let src = gst_app::AppSrc::builder()
            .caps(&caps)
            .format(gst::Format::Time)
            .is_live(true)
            .block(false)
            .build();
        let keyframe_dist = (shared.config.keyframe_interval.as_secs_f64() * f64::from(fps.0)
            / f64::from(fps.1))
        .clamp(1.0, 100_000.0) as i32;
        let encoder = gst::ElementFactory::make("vp8enc")
            .property("deadline", 1i64)
            .property("cpu-used", 8i32)
            .property("lag-in-frames", 0i32)
            .property("keyframe-max-dist", keyframe_dist)
            .property("target-bitrate", target_bitrate(width, height, fps))
            .property_from_str("end-usage", "cbr")
            .property_from_str("error-resilient", "default")
            // One thread: libvpx's threads made a 320x240 frame take 50-90 ms instead of 1 on
            // a busy two-core machine (9 ms a 1280x720 frame on one).
            .property("threads", 1i32)
            .build()
            .map_err(|e| pipeline_error("making vp8enc", e))?;
        let sink = gst_app::AppSink::builder()
            .sync(false)
            .max_buffers(8)
            .drop(true)
            .build();
        let pipeline = gst::Pipeline::new();
        pipeline
            .add_many([src.upcast_ref(), &encoder, sink.upcast_ref()])
            .map_err(|e| pipeline_error("building the encoder", e))?;
        gst::Element::link_many([src.upcast_ref(), &encoder, sink.upcast_ref()])
            .map_err(|e| pipeline_error("linking the encoder", e))?;
        let encoded_caps = gst::Caps::builder("video/x-vp8")
            .field("width", i32::try_from(width).unwrap_or(i32::MAX))
            .field("height", i32::try_from(height).unwrap_or(i32::MAX))
            .field("framerate", gst::Fraction::new(fps_num, fps_den))
            .build();

        let inner = Arc::new(Inner {
            shared: Arc::clone(shared),
            pipeline,
            src,
            encoder,
            pool,
            info,
            encoded_caps,
            viewers: Mutex::new(Vec::new()),
            next_viewer: AtomicU64::new(0),
            counters: Counters::default(),
            keyframes: Mutex::new(Keyframes {
                last: None,
                pending: false,
            }),
            last_pts: Mutex::new(None),
        });
        let weak = Arc::downgrade(&inner);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let (Some(inner), Some(buffer)) = (weak.upgrade(), sample.buffer_owned()) {
                        inner.fan_out(buffer);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        inner
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| pipeline_error("starting the encoder", e))?;
        shared.encoders.fetch_add(1, Ordering::Relaxed);
        Ok(RoomOutput { inner })
    }

    /// Hands a composed frame (I420, the output's size) to the encoder. Never blocks: the
    /// frame is dropped (and counted) if the encoder is behind, if it has another size or
    /// format, or if `pts_us` is not after the previous frame's.
    pub fn push(&self, frame: FrameRef<'_>, pts_us: i64) {
        let inner = &self.inner;
        inner.counters.pushed.fetch_add(1, Ordering::Relaxed);
        if !inner.accept(&frame, pts_us) {
            inner.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        inner.flush_keyframe_request();
    }

    /// WHEP: a viewer of this room; same answer rules as [`super::Media::publish`]. The
    /// viewer gets the room's encoded frames from the next keyframe on (one is asked for when
    /// it joins and when it connects). `ended` is called once, when the viewer goes away or
    /// the session is closed.
    pub fn add_viewer(&self, offer_sdp: &str, ended: EndSink) -> Result<ViewerSession, MediaError> {
        Inner::add_viewer(&self.inner, offer_sdp, ended)
    }

    /// The output's counters.
    pub fn stats(&self) -> OutputStats {
        let c = &self.inner.counters;
        OutputStats {
            pushed: c.pushed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            encoded: c.encoded.load(Ordering::Relaxed),
            keyframes: c.keyframes.load(Ordering::Relaxed),
            keyframe_requests: c.keyframe_requests.load(Ordering::Relaxed),
            viewers: self.inner.viewers.lock().map(|v| v.len()).unwrap_or(0),
        }
    }
}

impl Drop for RoomOutput {
    fn drop(&mut self) {
        let _ = self.inner.pipeline.set_state(gst::State::Null);
        let _ = self.inner.pool.set_active(false);
        // Viewers end with their sessions; their sources get no more frames.
        if let Ok(mut viewers) = self.inner.viewers.lock() {
            for viewer in viewers.drain(..) {
                let _ = viewer.src.end_of_stream();
            }
        }
        self.inner.shared.encoders.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Inner {
    /// Copies the frame into a pool buffer and queues it for the encoder; false if dropped.
    fn accept(&self, frame: &FrameRef<'_>, pts_us: i64) -> bool {
        if frame.format() != PixelFormat::I420
            || frame.width() != self.info.width()
            || frame.height() != self.info.height()
            || pts_us < 0
        {
            return false;
        }
        {
            let Ok(mut last) = self.last_pts.lock() else {
                return false;
            };
            if last.is_some_and(|last| pts_us <= last) {
                return false;
            }
            *last = Some(pts_us);
        }
        let params =
            gst::BufferPoolAcquireParams::with_flags(gst::BufferPoolAcquireFlags::DONTWAIT);
        let Ok(mut buffer) = self.pool.acquire_buffer(Some(&params)) else {
            return false;
        };
        {
            let Some(buf) = buffer.get_mut() else {
                return false;
            };
            buf.set_pts(gst::ClockTime::from_useconds(pts_us.unsigned_abs()));
            let Ok(mut out) = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &self.info)
            else {
                return false;
            };
            for i in 0..3 {
                let plane = frame.plane(i);
                let Some(&stride) = out.plane_stride().get(i) else {
                    return false;
                };
                let Ok(stride) = usize::try_from(stride) else {
                    return false;
                };
                let Ok(dst) = out.plane_data_mut(i as u32) else {
                    return false;
                };
                for (y, row) in plane.rows().enumerate() {
                    let start = y * stride;
                    let Some(d) = dst.get_mut(start..start + row.len()) else {
                        return false;
                    };
                    d.copy_from_slice(row);
                }
            }
        }
        self.src.push_buffer(buffer).is_ok()
    }

    /// Asks the encoder for a keyframe, at most once per [`KEYFRAME_GAP`]; a request inside
    /// the gap is kept and sent by a later `push`.
    fn request_keyframe(&self) {
        if let Ok(mut k) = self.keyframes.lock() {
            k.pending = true;
        }
        self.flush_keyframe_request();
    }

    fn flush_keyframe_request(&self) {
        let send = match self.keyframes.lock() {
            Ok(mut k) => {
                let due = k.pending && k.last.is_none_or(|last| last.elapsed() >= KEYFRAME_GAP);
                if due {
                    k.pending = false;
                    k.last = Some(Instant::now());
                }
                due
            }
            Err(_) => false,
        };
        if send {
            self.counters
                .keyframe_requests
                .fetch_add(1, Ordering::Relaxed);
            let event = gst_video::UpstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .build();
            if let Some(pad) = self.encoder.static_pad("src") {
                let _ = pad.send_event(event);
            }
        }
    }

    /// Gives an encoded frame to every viewer that can take it (not waiting for a keyframe,
    /// queue not full). Runs on the encoder's thread; never blocks.
    fn fan_out(&self, buffer: gst::Buffer) {
        self.counters.encoded.fetch_add(1, Ordering::Relaxed);
        let key = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        if key {
            self.counters.keyframes.fetch_add(1, Ordering::Relaxed);
        }
        let Ok(viewers) = self.viewers.lock() else {
            return;
        };
        let limit = u64::from(self.shared.config.viewer_queue.max(1));
        let mut want_keyframe = false;
        for viewer in viewers.iter() {
            if key {
                viewer.needs_keyframe.store(false, Ordering::Relaxed);
            } else if viewer.needs_keyframe.load(Ordering::Relaxed) {
                viewer.dropped.fetch_add(1, Ordering::Relaxed);
                // A viewer that lost frames asks for a keyframe once its queue has drained:
                // one that stays stuck does not make the encoder send keyframes for nothing.
                if viewer.src.current_level_buffers() <= limit / 2
                    && !viewer.asked.swap(true, Ordering::Relaxed)
                {
                    want_keyframe = true;
                }
                continue;
            }
            if viewer.src.current_level_buffers() >= limit || !viewer.push(&buffer) {
                viewer.dropped.fetch_add(1, Ordering::Relaxed);
                viewer.needs_keyframe.store(true, Ordering::Relaxed);
                viewer.asked.store(false, Ordering::Relaxed);
            } else {
                viewer.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        drop(viewers);
        if want_keyframe {
            self.request_keyframe();
        }
    }

    fn remove_viewer(&self, id: u64) {
        if let Ok(mut viewers) = self.viewers.lock() {
            viewers.retain(|v| v.id != id);
        }
    }

    fn add_viewer(
        this: &Arc<Inner>,
        offer_sdp: &str,
        ended: EndSink,
    ) -> Result<ViewerSession, MediaError> {
        let config = &this.shared.config;
        let offer = sdp::scan_offer(offer_sdp)?;
        let pt = offer
            .payload(Codec::Vp8, |v| v.direction.offerer_receives())
            .ok_or_else(|| {
                let mut offered: Vec<&str> = offer
                    .video
                    .iter()
                    .filter(|v| v.direction.offerer_receives())
                    .flat_map(|v| v.codecs.iter().map(|(_, c)| c.encoding_name()))
                    .collect();
                offered.dedup();
                MediaError::NoCommonCodec {
                    offered: offered.join(", "),
                    supported: "VP8".into(),
                }
            })?;

        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder()
            .caps(&this.encoded_caps)
            .format(gst::Format::Time)
            .is_live(true)
            .block(false)
            .build();
        let pay = gst::ElementFactory::make("rtpvp8pay")
            .property("pt", u32::from(pt))
            .property_from_str("picture-id-mode", "15-bit")
            .property("mtu", 1200u32)
            .build()
            .map_err(|e| pipeline_error("making rtpvp8pay", e))?;
        let rtp_caps = gst::Caps::builder("application/x-rtp")
            .field("media", "video")
            .field("encoding-name", "VP8")
            .field("clock-rate", 90_000i32)
            .field("payload", i32::from(pt))
            .build();
        let filter = gst::ElementFactory::make("capsfilter")
            .property("caps", &rtp_caps)
            .build()
            .map_err(|e| pipeline_error("making capsfilter", e))?;
        let webrtc = peer::webrtcbin(config)?;
        pipeline
            .add_many([src.upcast_ref(), &pay, &filter, &webrtc])
            .map_err(|e| pipeline_error("building the viewer", e))?;
        gst::Element::link_many([src.upcast_ref(), &pay, &filter])
            .map_err(|e| pipeline_error("linking the viewer", e))?;
        let sink_pad = webrtc
            .request_pad_simple("sink_%u")
            .ok_or_else(|| MediaError::Pipeline("webrtcbin gave no sink pad".into()))?;
        let filter_src = filter
            .static_pad("src")
            .ok_or_else(|| MediaError::Pipeline("capsfilter without src pad".into()))?;
        filter_src
            .link(&sink_pad)
            .map_err(|e| pipeline_error("linking the payloader to webrtcbin", e))?;
        let transceiver = sink_pad.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver");
        transceiver.set_direction(WebRTCRTPTransceiverDirection::Sendonly);
        transceiver.set_codec_preferences(Some(&rtp_caps));
        peer::refuse_audio(&webrtc);

        let id = this.next_viewer.fetch_add(1, Ordering::Relaxed);
        let viewer = Arc::new(Viewer {
            id,
            pipeline: pipeline.clone(),
            src: src.clone(),
            needs_keyframe: AtomicBool::new(true),
            asked: AtomicBool::new(true),
            dropped: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        });

        // A PLI or FIR from the viewer arrives as an upstream force-key-unit event.
        let weak: Weak<Inner> = Arc::downgrade(this);
        if let Some(pad) = src.static_pad("src") {
            let weak = weak.clone();
            pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
                let is_key_request = match &info.data {
                    Some(gst::PadProbeData::Event(event)) => {
                        gst_video::ForceKeyUnitEvent::is(event)
                    }
                    _ => false,
                };
                if is_key_request {
                    if let Some(inner) = weak.upgrade() {
                        inner.request_keyframe();
                    }
                }
                // The source ignores it (dropping it here trips a GStreamer 1.22 critical).
                gst::PadProbeReturn::Ok
            });
        }
        // Once connected, the viewer starts from a fresh keyframe.
        let connected_viewer = Arc::downgrade(&viewer);
        let connected_room = weak.clone();
        webrtc.connect_notify(Some("connection-state"), move |webrtc, _| {
            let state = webrtc.property::<WebRTCPeerConnectionState>("connection-state");
            if state != WebRTCPeerConnectionState::Connected {
                return;
            }
            if let (Some(viewer), Some(room)) =
                (connected_viewer.upgrade(), connected_room.upgrade())
            {
                viewer.needs_keyframe.store(true, Ordering::Relaxed);
                room.request_keyframe();
            }
        });

        let leave_room = weak.clone();
        let (watch, _alive) = Watch::start(
            &pipeline,
            &webrtc,
            config.idle_timeout,
            ended,
            Box::new(move || {
                if let Some(room) = leave_room.upgrade() {
                    room.remove_viewer(id);
                }
            }),
        )?;
        let answer = peer::play_and_answer(
            &pipeline,
            "starting the viewer",
            &webrtc,
            offer_sdp,
            Deadline::after(config.negotiation_timeout),
            || MediaError::NoCommonCodec {
                offered: "VP8".into(),
                supported: "VP8".into(),
            },
        );
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                watch.disarm();
                return Err(e);
            }
        };
        if let Ok(mut viewers) = this.viewers.lock() {
            viewers.push(Arc::clone(&viewer));
        }
        this.request_keyframe();
        Ok(ViewerSession {
            answer,
            viewer,
            room: weak,
            pipeline,
            watch,
        })
    }
}

/// A WHEP viewer of a room. Dropping it closes it, like [`close`](Self::close).
pub struct ViewerSession {
    answer: String,
    viewer: Arc<Viewer>,
    room: Weak<Inner>,
    pipeline: gst::Pipeline,
    watch: Watch,
}

impl std::fmt::Debug for ViewerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewerSession")
            .field("sent", &self.sent())
            .field("dropped", &self.dropped())
            .field("ended", &self.watch.is_finished())
            .finish_non_exhaustive()
    }
}

impl ViewerSession {
    /// The complete SDP answer (every ICE candidate in it) for the WHEP response.
    pub fn answer_sdp(&self) -> &str {
        &self.answer
    }

    /// Encoded frames handed to this viewer's pipeline.
    pub fn sent(&self) -> u64 {
        self.viewer.sent.load(Ordering::Relaxed)
    }

    /// Encoded frames this viewer missed (its queue was full, or it waited for a keyframe).
    pub fn dropped(&self) -> u64 {
        self.viewer.dropped.load(Ordering::Relaxed)
    }

    /// Whether the session has ended (its `ended` was called or is being called).
    pub fn is_ended(&self) -> bool {
        self.watch.is_finished()
    }

    /// Stops the viewer: it leaves the room, its pipeline stops, then `ended(Closed)` is
    /// called, unless the session had already ended.
    pub fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if let Some(room) = self.room.upgrade() {
            room.remove_viewer(self.viewer.id);
        }
        self.watch.close();
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Drop for ViewerSession {
    fn drop(&mut self) {
        self.shut();
    }
}

#[cfg(test)]
mod tests {
    use super::target_bitrate;

    #[test]
    fn bitrate_follows_the_size_within_bounds() {
        let hd = target_bitrate(1280, 720, (30, 1));
        let sd = target_bitrate(640, 360, (30, 1));
        assert!(hd > 2 * sd, "{hd} {sd}");
        assert_eq!(target_bitrate(16, 16, (1, 1)), 300_000);
        assert_eq!(target_bitrate(4096, 4096, (120, 1)), 8_000_000);
    }
}
