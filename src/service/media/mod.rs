//! The service's media plane: WebRTC in (WHIP publish) and out (WHEP view) on GStreamer's
//! `webrtcbin`, with libnice for ICE, DTLS-SRTP, the RTP jitter buffer, NACK/PLI handling and
//! the VP8 (and, where installed, H.264) codecs all from the distribution.
//!
//! - [`Media::publish`] answers a participant's WHIP offer: the camera's RTP is depayloaded,
//!   decoded, converted to I420 and handed to a callback as the library's [`Frame`], at
//!   whatever size the sender uses (it may change mid-call).
//! - [`Media::room_output`] makes one VP8 encoder per room; [`RoomOutput::push`] feeds it the
//!   composed frames without ever blocking, and every WHEP viewer
//!   ([`RoomOutput::add_viewer`]) gets the same encoded frames through its own payloader and
//!   `webrtcbin`, in its own pipeline, behind a bounded queue: a stuck viewer loses frames,
//!   the encoder and the other viewers do not wait for it. A viewer's picture loss indication
//!   (PLI/FIR) makes the shared encoder send a keyframe.
//!
//! Answers are complete (non-trickle): every call that takes an offer returns once ICE
//! gathering has finished, bounded by [`MediaConfig::negotiation_timeout`]. ICE gathers only
//! on the addresses of [`MediaConfig::ice_addresses`] (loopback by default).
//!
//! Video only: audio belongs to the SFU or the meeting. An offer's audio section is answered
//! `inactive`.
//!
//! The calls that take an offer block for the negotiation (tens of milliseconds on a LAN, at
//! most the timeout): an async server calls them from a blocking task.

mod output;
mod peer;
mod publish;
pub mod routes;
mod sdp;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use output::{OutputStats, RoomOutput, ViewerSession};
pub use publish::PublishSession;

use crate::frame::Frame;

/// Called with each decoded camera frame (I420) and its presentation time in microseconds.
pub type FrameSink = Box<dyn FnMut(Frame, i64) + Send>;
/// Called once when a session ends, with the reason.
pub type EndSink = Box<dyn FnOnce(EndReason) + Send>;

/// Why a publish or view session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The session was closed on this side ([`PublishSession::close`], a drop, or the room's
    /// output going away).
    Closed,
    /// The peer's connection failed or it said goodbye (ICE or DTLS failure, RTCP BYE).
    Disconnected,
    /// Nothing (no RTP, no RTCP) came from the peer for [`MediaConfig::idle_timeout`], or it
    /// never connected in that time.
    Timeout,
    /// The incoming stream ended.
    EndOfStream,
    /// The session's pipeline failed.
    Error(String),
}

/// Why the media plane refused or failed a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The offer is not an SDP offer this service can answer (syntax, no video section, not
    /// DTLS-SRTP, no ICE credentials or fingerprint, too large).
    #[error("bad SDP offer: {0}")]
    BadSdp(String),
    /// The offer has no video codec in common with this server.
    #[error("no common video codec: the offer has {offered}; this server takes {supported}")]
    NoCommonCodec {
        /// The video codecs the offer lists (comma separated, may be empty).
        offered: String,
        /// The codecs this server can use for this direction.
        supported: String,
    },
    /// A negotiation step did not finish in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// The step.
        what: &'static str,
        /// How long it was given.
        after: Duration,
    },
    /// A GStreamer element this service needs is not installed.
    #[error("GStreamer element `{element}` is missing (Debian package {package})")]
    MissingElement {
        /// The element's factory name.
        element: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// A room output's size or rate is not usable.
    #[error("bad output format: {0}")]
    BadOutput(String),
    /// GStreamer failed (initialisation, a state change, webrtcbin refusing a description).
    #[error("media pipeline error: {0}")]
    Pipeline(String),
}

/// Settings of the media plane. `Default` is what `together serve` uses without a config.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// The local addresses ICE offers as host candidates. Default: `127.0.0.1` only, which
    /// is all a server behind a reverse proxy on the same machine, or a test, needs (libnice
    /// never gathers loopback addresses by itself). A deployment lists the addresses its
    /// clients can reach; an empty list lets libnice gather every non-loopback interface.
    pub ice_addresses: Vec<IpAddr>,
    /// The UDP/TCP port range ICE may use (inclusive), for firewalls; `None`: any port.
    pub ice_ports: Option<(u16, u16)>,
    /// The longest a publish or view call waits for its answer (description applied, answer
    /// made, ICE gathering complete). Default 10 s.
    pub negotiation_timeout: Duration,
    /// A session whose peer sends nothing (no RTP, no RTCP) for this long ends with
    /// [`EndReason::Timeout`]; it is also how long a new session may take to connect.
    /// Default 15 s: browsers send RTCP every second or so, GStreamer's `rtpbin` every 5 s on
    /// average (up to 7.5 s), so it should not go below about 10 s.
    pub idle_timeout: Duration,
    /// The receive jitter buffer's latency. Default 100 ms.
    pub jitter_latency: Duration,
    /// The longest interval between two keyframes of a room's encoder, besides the ones
    /// viewers ask for. Default 2 s.
    pub keyframe_interval: Duration,
    /// Encoded frames a viewer may have waiting before newer ones are dropped for it (it then
    /// waits for a keyframe). Default 30.
    pub viewer_queue: u32,
    /// Whether publishers may send H.264 (when an H.264 decoder is installed). Default true.
    pub h264: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            ice_addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            ice_ports: None,
            negotiation_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(15),
            jitter_latency: Duration::from_millis(100),
            keyframe_interval: Duration::from_secs(2),
            viewer_queue: 30,
            h264: true,
        }
    }
}

/// The elements every session needs, with the Debian package that has them.
const REQUIRED: &[(&str, &str)] = &[
    ("webrtcbin", "gstreamer1.0-plugins-bad"),
    ("dtlssrtpenc", "gstreamer1.0-plugins-bad"),
    ("srtpenc", "gstreamer1.0-plugins-bad"),
    ("nicesrc", "gstreamer1.0-nice"),
    ("rtpbin", "gstreamer1.0-plugins-good"),
    ("rtpvp8pay", "gstreamer1.0-plugins-good"),
    ("rtpvp8depay", "gstreamer1.0-plugins-good"),
    ("vp8enc", "gstreamer1.0-plugins-good"),
    ("vp8dec", "gstreamer1.0-plugins-good"),
    ("appsrc", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("videoconvert", "gstreamer1.0-plugins-base"),
];

/// H.264 decoders, in order of preference (FFmpeg's, then Cisco's OpenH264).
const H264_DECODERS: &[&str] = &["avdec_h264", "openh264dec"];

pub(crate) struct Shared {
    pub(crate) config: MediaConfig,
    /// The H.264 decoder to use, when installed and allowed.
    pub(crate) h264_decoder: Option<&'static str>,
    /// Live room encoders.
    pub(crate) encoders: AtomicUsize,
}

/// The media plane of one server process: GStreamer is initialised by [`Media::new`]. Cheap
/// to clone (shared settings).
#[derive(Clone)]
pub struct Media {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("config", &self.shared.config)
            .field("h264_decoder", &self.shared.h264_decoder)
            .finish_non_exhaustive()
    }
}

fn has_element(name: &str) -> bool {
    gst::ElementFactory::find(name).is_some()
}

impl Media {
    /// Initialises GStreamer and checks that every element the sessions need is installed.
    pub fn new(config: MediaConfig) -> Result<Media, MediaError> {
        gst::init().map_err(|e| MediaError::Pipeline(format!("GStreamer init: {e}")))?;
        for &(element, package) in REQUIRED {
            if !has_element(element) {
                return Err(MediaError::MissingElement { element, package });
            }
        }
        if let Some((lo, hi)) = config.ice_ports {
            if lo == 0 || lo > hi {
                return Err(MediaError::Pipeline(format!(
                    "ICE port range {lo}-{hi} is empty"
                )));
            }
        }
        let h264_decoder = if config.h264 && has_element("rtph264depay") && has_element("h264parse")
        {
            H264_DECODERS.iter().copied().find(|d| has_element(d))
        } else {
            None
        };
        Ok(Media {
            shared: Arc::new(Shared {
                config,
                h264_decoder,
                encoders: AtomicUsize::new(0),
            }),
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &MediaConfig {
        &self.shared.config
    }

    /// The video codecs a publisher may send, by RTP encoding name (`VP8`, and `H264` when
    /// an H.264 decoder is installed and allowed).
    pub fn publish_codecs(&self) -> Vec<&'static str> {
        let mut codecs = vec!["VP8"];
        if self.shared.h264_decoder.is_some() {
            codecs.push("H264");
        }
        codecs
    }

    /// The number of room encoders alive (one per [`RoomOutput`], however many viewers).
    pub fn encoders(&self) -> usize {
        self.shared.encoders.load(Ordering::Relaxed)
    }

    /// WHIP: answers a publisher's SDP offer. Returns once the answer is complete (ICE
    /// gathered, non-trickle), or fails with a typed error (bad SDP, no VP8/H.264, timeout).
    /// Each decoded camera frame (I420, any size, which may change mid-call) goes to
    /// `frames` with its presentation time in microseconds; `ended` is called once, when the
    /// peer goes away or the session is closed (after the last frame).
    pub fn publish(
        &self,
        offer_sdp: &str,
        frames: FrameSink,
        ended: EndSink,
    ) -> Result<PublishSession, MediaError> {
        publish::publish(&self.shared, offer_sdp, frames, ended)
    }

    /// One encoder per room: I420 frames of `width x height` at `fps` (numerator,
    /// denominator) in, encoded once (VP8), fanned out to every viewer.
    pub fn room_output(
        &self,
        width: u32,
        height: u32,
        fps: (u32, u32),
    ) -> Result<RoomOutput, MediaError> {
        RoomOutput::new(&self.shared, width, height, fps)
    }
}
