//! What publish and view sessions share: a `webrtcbin` set up for this server (ICE addresses
//! and ports), the answerer's side of a non-trickle negotiation with bounded waits, and the
//! watch that ends a session once (peer gone, silence, pipeline error, close).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst_webrtc::{
    WebRTCICEConnectionState, WebRTCICEGatheringState, WebRTCPeerConnectionState,
    WebRTCRTPTransceiverDirection, WebRTCSDPType, WebRTCSessionDescription,
};

use super::{EndReason, EndSink, MediaConfig, MediaError};

pub(crate) fn pipeline_error(what: &str, e: impl std::fmt::Display) -> MediaError {
    MediaError::Pipeline(format!("{what}: {e}"))
}

/// Makes an element, or says which is missing.
pub(crate) fn make(factory: &str) -> Result<gst::Element, MediaError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|e| pipeline_error(&format!("making `{factory}`"), e))
}

/// A `webrtcbin` (max-bundle) whose ICE agent gathers on the configured addresses and ports.
pub(crate) fn webrtcbin(config: &MediaConfig) -> Result<gst::Element, MediaError> {
    let webrtc = gst::ElementFactory::make("webrtcbin")
        .property_from_str("bundle-policy", "max-bundle")
        .property(
            "latency",
            u32::try_from(config.jitter_latency.as_millis()).unwrap_or(u32::MAX),
        )
        .build()
        .map_err(|e| pipeline_error("making webrtcbin", e))?;
    let ice = webrtc.property::<glib::Object>("ice-agent");
    for address in &config.ice_addresses {
        let added = ice.emit_by_name::<bool>("add-local-ip-address", &[&address.to_string()]);
        if !added {
            return Err(MediaError::Pipeline(format!(
                "ICE refused the local address {address}"
            )));
        }
    }
    if let Some((lo, hi)) = config.ice_ports {
        ice.set_property("min-rtp-port", u32::from(lo));
        ice.set_property("max-rtp-port", u32::from(hi));
    }
    Ok(webrtc)
}

/// Video only: an audio section of an offer is answered `inactive` (nothing flows), whatever
/// its codecs.
pub(crate) fn refuse_audio(webrtc: &gst::Element) {
    let caps = gst::Caps::builder("application/x-rtp")
        .field("media", "audio")
        .build();
    let transceiver = webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
        "add-transceiver",
        &[&WebRTCRTPTransceiverDirection::Inactive, &caps],
    );
    drop(transceiver);
}

/// Emits a `webrtcbin` action signal that takes a promise as its last argument and waits for
/// the reply until `deadline`.
fn call(
    webrtc: &gst::Element,
    signal: &str,
    args: &[&dyn ToValue],
    what: &'static str,
    deadline: Deadline,
) -> Result<Option<gst::Structure>, MediaError> {
    let (tx, rx) = mpsc::sync_channel(1);
    let promise = gst::Promise::with_change_func(move |reply| {
        let reply = reply
            .map(|s| s.map(|s| s.to_owned()))
            .map_err(|e| format!("{e:?}"));
        let _ = tx.send(reply);
    });
    let mut values: Vec<glib::Value> = args.iter().map(|a| a.to_value()).collect();
    values.push(promise.to_value());
    webrtc.emit_by_name_with_values(signal, &values);
    let reply = match rx.recv_timeout(deadline.left()) {
        Ok(reply) => reply,
        Err(_) => {
            promise.interrupt();
            return Err(deadline.expired(what));
        }
    };
    let reply = reply.map_err(|e| MediaError::Pipeline(format!("{what}: promise {e}")))?;
    if let Some(s) = &reply {
        if let Ok(err) = s.get::<glib::Error>("error") {
            return Err(MediaError::Pipeline(format!("{what}: {}", err.message())));
        }
    }
    Ok(reply)
}

/// A point in time every step of one negotiation must finish by.
#[derive(Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    total: Duration,
}

impl Deadline {
    pub(crate) fn after(total: Duration) -> Self {
        Self {
            at: Instant::now() + total,
            total,
        }
    }
    fn left(self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
    fn expired(self, what: &'static str) -> MediaError {
        MediaError::Timeout {
            what,
            after: self.total,
        }
    }
}

/// Sets `pipeline` playing (`what` names it in the error) and answers `offer` on its
/// `webrtc` ([`answer`]).
pub(crate) fn play_and_answer(
    pipeline: &gst::Pipeline,
    what: &str,
    webrtc: &gst::Element,
    offer: &str,
    deadline: Deadline,
    no_video: impl FnOnce() -> MediaError,
) -> Result<String, MediaError> {
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| pipeline_error(what, e))?;
    answer(webrtc, offer, deadline, no_video)
}

/// The answerer's side: applies `offer` as the remote description, refuses with `no_video()`
/// an answer `webrtcbin` made without a video section it accepted (no codec in common),
/// applies it, waits for ICE gathering to complete and returns the full local description.
/// `webrtc` must be in a playing pipeline.
fn answer(
    webrtc: &gst::Element,
    offer: &str,
    deadline: Deadline,
    no_video: impl FnOnce() -> MediaError,
) -> Result<String, MediaError> {
    let sdp = gst_sdp::SDPMessage::parse_buffer(offer.as_bytes())
        .map_err(|e| MediaError::BadSdp(format!("GStreamer's parser: {e}")))?;
    let offer = WebRTCSessionDescription::new(WebRTCSDPType::Offer, sdp);

    // Watch gathering before it can start (it starts with the local description).
    let (gathered_tx, gathered_rx) = mpsc::sync_channel::<()>(1);
    let handler = webrtc.connect_notify(Some("ice-gathering-state"), move |webrtc, _| {
        let state = webrtc.property::<WebRTCICEGatheringState>("ice-gathering-state");
        if state == WebRTCICEGatheringState::Complete {
            let _ = gathered_tx.try_send(());
        }
    });
    let result = (|| {
        call(
            webrtc,
            "set-remote-description",
            &[&offer],
            "the offer to be applied",
            deadline,
        )
        .map_err(|e| match e {
            MediaError::Pipeline(m) => MediaError::BadSdp(m),
            other => other,
        })?;
        let reply = call(
            webrtc,
            "create-answer",
            &[&None::<gst::Structure>],
            "the answer",
            deadline,
        )?;
        let answer = reply
            .as_ref()
            .and_then(|s| s.get::<WebRTCSessionDescription>("answer").ok())
            .ok_or_else(|| MediaError::Pipeline("webrtcbin made no answer".into()))?;
        if !answer_has_video(answer.sdp()) {
            return Err(no_video());
        }
        call(
            webrtc,
            "set-local-description",
            &[&answer],
            "the answer to be applied",
            deadline,
        )?;
        let complete = webrtc.property::<WebRTCICEGatheringState>("ice-gathering-state")
            == WebRTCICEGatheringState::Complete;
        if !complete && gathered_rx.recv_timeout(deadline.left()).is_err() {
            return Err(deadline.expired("ICE gathering"));
        }
        let local = webrtc
            .property::<Option<WebRTCSessionDescription>>("local-description")
            .ok_or_else(|| MediaError::Pipeline("no local description".into()))?;
        local
            .sdp()
            .as_text()
            .map_err(|e| pipeline_error("writing the answer", e))
    })();
    webrtc.disconnect(handler);
    result
}

/// Whether an answer accepted at least one video section (port not 0, a payload type).
fn answer_has_video(answer: &gst_sdp::SDPMessageRef) -> bool {
    answer
        .medias()
        .any(|m| m.media() == Some("video") && m.port() != 0 && m.formats_len() > 0)
}

enum Event {
    End(EndReason),
}

/// Ends a session once: from the peer's side (ICE or DTLS failure, BYE, silence, EOS, a
/// pipeline error) or from ours ([`Watch::close`]). Its thread stops the pipeline first, then
/// calls the session's `ended`, so no frame follows `ended`.
pub(crate) struct Watch {
    events: mpsc::Sender<Event>,
    thread: Option<JoinHandle<()>>,
    ended: Arc<Mutex<Option<EndSink>>>,
    /// Set once the session has ended, before `ended` is called.
    done: Arc<AtomicBool>,
}

/// Milliseconds since the watch started at which the peer was last heard.
#[derive(Clone)]
pub(crate) struct Alive {
    start: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Alive {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }
    /// The peer was heard now.
    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }
    fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

impl Watch {
    /// Watches `pipeline` and its `webrtc`: the connection states, RTCP from the peer (and
    /// whatever else calls [`Alive::touch`]), BYE, the bus. `on_end` runs on the watch's
    /// thread after the pipeline stopped, before `ended`.
    pub(crate) fn start(
        pipeline: &gst::Pipeline,
        webrtc: &gst::Element,
        idle_timeout: Duration,
        ended: EndSink,
        on_end: Box<dyn FnOnce() + Send>,
    ) -> Result<(Watch, Alive), MediaError> {
        let (tx, rx) = mpsc::channel::<Event>();
        let alive = Alive::new();

        let bus = pipeline
            .bus()
            .ok_or_else(|| MediaError::Pipeline("pipeline without a bus".into()))?;
        let bus_tx = Mutex::new(tx.clone());
        bus.set_sync_handler(move |_, msg| {
            let reason = match msg.view() {
                gst::MessageView::Error(e) => Some(EndReason::Error(format!(
                    "{} ({})",
                    e.error(),
                    e.debug().map(|d| d.to_string()).unwrap_or_default()
                ))),
                gst::MessageView::Eos(_) => Some(EndReason::EndOfStream),
                _ => None,
            };
            if let (Some(reason), Ok(tx)) = (reason, bus_tx.lock()) {
                let _ = tx.send(Event::End(reason));
            }
            gst::BusSyncReply::Drop
        });

        let state_tx = Mutex::new(tx.clone());
        webrtc.connect_notify(Some("ice-connection-state"), move |webrtc, _| {
            let state = webrtc.property::<WebRTCICEConnectionState>("ice-connection-state");
            if matches!(
                state,
                WebRTCICEConnectionState::Failed | WebRTCICEConnectionState::Closed
            ) {
                if let Ok(tx) = state_tx.lock() {
                    let _ = tx.send(Event::End(EndReason::Disconnected));
                }
            }
        });
        let conn_tx = Mutex::new(tx.clone());
        webrtc.connect_notify(Some("connection-state"), move |webrtc, _| {
            let state = webrtc.property::<WebRTCPeerConnectionState>("connection-state");
            if matches!(
                state,
                WebRTCPeerConnectionState::Failed | WebRTCPeerConnectionState::Closed
            ) {
                if let Ok(tx) = conn_tx.lock() {
                    let _ = tx.send(Event::End(EndReason::Disconnected));
                }
            }
        });
        // RTCP from the peer (sender or receiver reports) shows it is there; BYE that it left.
        let rtpbin = webrtc
            .downcast_ref::<gst::Bin>()
            .and_then(|bin| bin.by_name("rtpbin"))
            .ok_or_else(|| MediaError::Pipeline("webrtcbin without its rtpbin".into()))?;
        let heard = alive.clone();
        rtpbin.connect("on-ssrc-active", false, move |_| {
            heard.touch();
            None
        });
        let bye_tx = Mutex::new(tx.clone());
        rtpbin.connect("on-bye-ssrc", false, move |_| {
            if let Ok(tx) = bye_tx.lock() {
                let _ = tx.send(Event::End(EndReason::Disconnected));
            }
            None
        });

        let pipeline = pipeline.clone();
        let watched = alive.clone();
        let ended = Arc::new(Mutex::new(Some(ended)));
        let to_call = Arc::clone(&ended);
        let done = Arc::new(AtomicBool::new(false));
        let finished = Arc::clone(&done);
        let tick = (idle_timeout / 4).clamp(Duration::from_millis(20), Duration::from_millis(500));
        let thread = std::thread::Builder::new()
            .name("media-watch".into())
            .spawn(move || {
                let reason = loop {
                    match rx.recv_timeout(tick) {
                        Ok(Event::End(reason)) => break reason,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            if watched.silent_for() >= idle_timeout {
                                break EndReason::Timeout;
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => break EndReason::Closed,
                    }
                };
                let _ = pipeline.set_state(gst::State::Null);
                if let Some(bus) = pipeline.bus() {
                    bus.unset_sync_handler();
                }
                finished.store(true, Ordering::SeqCst);
                on_end();
                let ended = to_call.lock().ok().and_then(|mut e| e.take());
                if let Some(ended) = ended {
                    ended(reason);
                }
            })
            .map_err(|e| pipeline_error("starting the session's watch", e))?;
        Ok((
            Watch {
                events: tx,
                thread: Some(thread),
                ended,
                done,
            },
            alive,
        ))
    }

    /// Ends the session from this side (if it has not ended) and waits for the pipeline to
    /// stop, unless called from the watch's own thread (from `ended`).
    pub(crate) fn close(&mut self) {
        let _ = self.events.send(Event::End(EndReason::Closed));
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }

    /// Forgets the session's `ended` without calling it: for a session that failed before it
    /// was handed out (its caller gets the error instead).
    pub(crate) fn disarm(&self) {
        let ended = self.ended.lock().ok().and_then(|mut e| e.take());
        drop(ended);
    }

    /// Whether the session has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.close();
    }
}
