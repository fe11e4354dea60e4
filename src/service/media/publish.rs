//! WHIP ingest: a participant's camera through `webrtcbin` → depayloader → decoder → I420 →
//! `appsink` → the caller's callback, as the library's [`Frame`] (sharing the decoded buffer,
//! no copy, where it is one piece of memory).

use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gst_video::prelude::*;
use gst_webrtc::WebRTCRTPTransceiverDirection;

use super::peer::{self, make, pipeline_error, Alive, Deadline, Watch};
use super::sdp::{self, Codec};
use super::{EndSink, FrameSink, MediaError, Shared};
use crate::frame::{ColorSpec, Frame, Matrix, PixelFormat, Range, SharedBytes};

/// A participant's WHIP publication. Dropping it closes it, like [`close`](Self::close).
pub struct PublishSession {
    answer: String,
    pipeline: gst::Pipeline,
    watch: Watch,
}

impl std::fmt::Debug for PublishSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishSession")
            .field("ended", &self.watch.is_finished())
            .finish_non_exhaustive()
    }
}

impl PublishSession {
    /// The complete SDP answer (every ICE candidate in it) for the WHIP response.
    pub fn answer_sdp(&self) -> &str {
        &self.answer
    }

    /// Whether the session has ended (its `ended` was called or is being called).
    pub fn is_ended(&self) -> bool {
        self.watch.is_finished()
    }

    /// Stops the publication: the pipeline stops, then `ended(Closed)` is called, unless the
    /// session had already ended.
    pub fn close(mut self) {
        self.watch.close();
    }
}

impl Drop for PublishSession {
    fn drop(&mut self) {
        self.watch.close();
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// The RTP caps of the codecs this server decodes, for the receiving transceiver.
fn receive_caps(codecs: &[Codec]) -> gst::Caps {
    let mut caps = gst::Caps::new_empty();
    let caps_mut = caps.make_mut();
    for codec in codecs {
        caps_mut.append_structure(
            gst::Structure::builder("application/x-rtp")
                .field("media", "video")
                .field("encoding-name", codec.encoding_name())
                .field("clock-rate", 90_000i32)
                .build(),
        );
    }
    caps
}

pub(crate) fn publish(
    shared: &Arc<Shared>,
    offer_sdp: &str,
    frames: FrameSink,
    ended: EndSink,
) -> Result<PublishSession, MediaError> {
    let config = &shared.config;
    let offer = sdp::scan_offer(offer_sdp)?;
    let mut usable = vec![Codec::Vp8];
    if shared.h264_decoder.is_some() {
        usable.push(Codec::H264);
    }
    let sent: Vec<Codec> = offer
        .video
        .iter()
        .filter(|v| v.direction.offerer_sends())
        .flat_map(|v| v.codecs.iter().map(|(_, c)| *c))
        .collect();
    let common: Vec<Codec> = usable
        .iter()
        .copied()
        .filter(|c| sent.contains(c))
        .collect();
    if common.is_empty() {
        return Err(no_common_codec(&sent, &usable));
    }

    let pipeline = gst::Pipeline::new();
    let webrtc = peer::webrtcbin(config)?;
    pipeline
        .add(&webrtc)
        .map_err(|e| pipeline_error("adding webrtcbin", e))?;
    let transceiver = webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
        "add-transceiver",
        &[
            &WebRTCRTPTransceiverDirection::Recvonly,
            &receive_caps(&common),
        ],
    );
    drop(transceiver);
    peer::refuse_audio(&webrtc);

    let (watch, alive) = peer::Watch::start(
        &pipeline,
        &webrtc,
        config.idle_timeout,
        ended,
        Box::new(|| {}),
    )?;
    let frames = Arc::new(Mutex::new(frames));
    let h264_decoder = shared.h264_decoder;
    let pads_pipeline = pipeline.downgrade();
    let pads_alive = alive.clone();
    webrtc.connect_pad_added(move |_, pad| {
        let Some(pipeline) = pads_pipeline.upgrade() else {
            return;
        };
        if let Err(e) = on_incoming(&pipeline, pad, h264_decoder, &frames, &pads_alive) {
            let _ = pipeline.post_message(gst::message::Error::new(
                gst::CoreError::Negotiation,
                &e.to_string(),
            ));
        }
    });

    // A failure from here on stops the pipeline without calling `ended`: the caller gets the
    // error instead.
    let answer = peer::play_and_answer(
        &pipeline,
        "starting the pipeline",
        &webrtc,
        offer_sdp,
        Deadline::after(config.negotiation_timeout),
        || no_common_codec(&sent, &usable),
    );
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            watch.disarm();
            return Err(e);
        }
    };
    Ok(PublishSession {
        answer,
        pipeline,
        watch,
    })
}

fn no_common_codec(offered: &[Codec], supported: &[Codec]) -> MediaError {
    let names = |codecs: &[Codec]| {
        let mut names: Vec<&str> = codecs.iter().map(|c| c.encoding_name()).collect();
        names.dedup();
        names.join(", ")
    };
    MediaError::NoCommonCodec {
        offered: names(offered),
        supported: names(supported),
    }
}

/// A new stream from the peer: video is depayloaded, decoded and handed to the callback;
/// anything else (there should be none: audio is answered inactive) is discarded.
fn on_incoming(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    h264_decoder: Option<&'static str>,
    frames: &Arc<Mutex<FrameSink>>,
    alive: &Alive,
) -> Result<(), MediaError> {
    if pad.direction() != gst::PadDirection::Src {
        return Ok(());
    }
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let (media, encoding) = caps
        .structure(0)
        .map(|s| {
            (
                s.get::<String>("media").unwrap_or_default(),
                s.get::<String>("encoding-name").unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    // Incoming RTP shows the peer is there (RTCP alone comes only every few seconds).
    let heard = alive.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        heard.touch();
        gst::PadProbeReturn::Ok
    });
    let mut chain: Vec<gst::Element> = Vec::new();
    match (media.as_str(), encoding.to_ascii_uppercase().as_str()) {
        ("video", "VP8") => {
            let depay = gst::ElementFactory::make("rtpvp8depay")
                .property("request-keyframe", true)
                .property("wait-for-keyframe", true)
                .build()
                .map_err(|e| pipeline_error("making rtpvp8depay", e))?;
            chain.push(depay);
            chain.push(make("vp8dec")?);
        }
        ("video", "H264") => {
            let decoder = h264_decoder
                .ok_or_else(|| MediaError::Pipeline("H.264 arrived without a decoder".into()))?;
            let depay = gst::ElementFactory::make("rtph264depay")
                .property("request-keyframe", true)
                .property("wait-for-keyframe", true)
                .build()
                .map_err(|e| pipeline_error("making rtph264depay", e))?;
            chain.push(depay);
            chain.push(make("h264parse")?);
            chain.push(make(decoder)?);
        }
        _ => {
            let sink = gst::ElementFactory::make("fakesink")
                .property("async", false)
                .property("sync", false)
                .build()
                .map_err(|e| pipeline_error("making fakesink", e))?;
            chain.push(sink);
        }
    }
    if media == "video" {
        // A slow `frames` callback drops decoded frames here instead of holding the decoder.
        let queue = gst::ElementFactory::make("queue")
            .property_from_str("leaky", "downstream")
            .property("max-size-buffers", 2u32)
            .property("max-size-bytes", 0u32)
            .property("max-size-time", 0u64)
            .build()
            .map_err(|e| pipeline_error("making queue", e))?;
        chain.push(queue);
        chain.push(make("videoconvert")?);
        let sink = gst_app::AppSink::builder()
            .caps(
                &gst_video::VideoCapsBuilder::new()
                    .format(gst_video::VideoFormat::I420)
                    .build(),
            )
            .sync(false)
            .max_buffers(2)
            .drop(true)
            .build();
        let frames = Arc::clone(frames);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some((frame, pts)) = to_frame(&sample) {
                        if let Ok(mut frames) = frames.lock() {
                            (frames)(frame, pts);
                        }
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        chain.push(sink.upcast());
    }
    let refs: Vec<&gst::Element> = chain.iter().collect();
    pipeline
        .add_many(refs.iter().copied())
        .map_err(|e| pipeline_error("adding the receive chain", e))?;
    gst::Element::link_many(refs.iter().copied())
        .map_err(|e| pipeline_error("linking the receive chain", e))?;
    for element in &chain {
        element
            .sync_state_with_parent()
            .map_err(|e| pipeline_error("starting the receive chain", e))?;
    }
    let sink_pad = chain[0]
        .static_pad("sink")
        .ok_or_else(|| MediaError::Pipeline("receive chain without a sink pad".into()))?;
    pad.link(&sink_pad)
        .map_err(|e| pipeline_error("linking webrtcbin's stream", e))?;
    Ok(())
}

/// A decoded I420 sample as an engine frame: sharing the buffer's memory when the planes lie
/// in one mapping, else copied. `None` if the sample is not I420 video.
fn to_frame(sample: &gst::Sample) -> Option<(Frame, i64)> {
    let buffer = sample.buffer_owned()?;
    let caps = sample.caps()?;
    let info = gst_video::VideoInfo::from_caps(caps).ok()?;
    if info.format() != gst_video::VideoFormat::I420 {
        return None;
    }
    let pts = buffer
        .pts()
        .map(|t| i64::try_from(t.useconds()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let color = color_spec(&info);
    let (w, h) = (info.width(), info.height());
    let view = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info).ok()?;
    let mut layout = [(0usize, 0usize); 3];
    let mut shared = buffer.n_memory() == 1;
    let mapped = if shared {
        buffer.clone().into_mapped_buffer_readable().ok()
    } else {
        None
    };
    if let Some(mapped) = &mapped {
        let base = mapped.as_ptr() as usize;
        for (i, slot) in layout.iter_mut().enumerate() {
            let (Ok(data), Some(&stride)) = (view.plane_data(i as u32), view.plane_stride().get(i))
            else {
                shared = false;
                break;
            };
            let offset = (data.as_ptr() as usize).checked_sub(base);
            match (offset, usize::try_from(stride)) {
                (Some(offset), Ok(stride)) if offset + data.len() <= mapped.len() => {
                    *slot = (offset, stride);
                }
                _ => {
                    shared = false;
                    break;
                }
            }
        }
    } else {
        shared = false;
    }
    if shared {
        if let Some(mapped) = mapped {
            drop(view);
            let data: SharedBytes = Arc::new(mapped);
            if let Ok(frame) = Frame::from_shared(PixelFormat::I420, w, h, color, &layout, data) {
                return Some((frame, pts));
            }
            return None;
        }
    }
    // Copy plane by plane.
    let mut frame = Frame::new(PixelFormat::I420, w, h).ok()?;
    frame.set_color(color);
    {
        let mut dst = frame.as_mut();
        for i in 0..3 {
            let src = view.plane_data(i as u32).ok()?;
            let stride = usize::try_from(*view.plane_stride().get(i)?).ok()?;
            let mut plane = dst.plane_mut(i);
            let width = plane.width();
            for (y, row) in plane.rows_mut().enumerate() {
                let start = y * stride;
                row.copy_from_slice(src.get(start..start + width)?);
            }
        }
    }
    Some((frame, pts))
}

fn color_spec(info: &gst_video::VideoInfo) -> ColorSpec {
    let c = info.colorimetry();
    ColorSpec {
        matrix: if c.matrix() == gst_video::VideoColorMatrix::Bt709 {
            Matrix::Bt709
        } else {
            Matrix::Bt601
        },
        range: if c.range() == gst_video::VideoColorRange::Range0_255 {
            Range::Full
        } else {
            Range::Limited
        },
    }
}
