//! A strict first look at an SDP offer before webrtcbin sees it: line syntax, the video
//! sections, their codecs and the ICE/DTLS attributes a WebRTC offer must carry. Anything
//! else in the text is left to GStreamer's SDP parser. Untrusted input: no indexing that can
//! panic, bounded size.

use super::MediaError;

/// Largest offer accepted (bytes); a browser's offer is a few KiB.
pub(crate) const MAX_SDP_LEN: usize = 64 * 1024;

/// Video codecs the media plane knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// VP8 (RFC 7741).
    Vp8,
    /// H.264 (RFC 6184).
    H264,
}

impl Codec {
    /// The RTP encoding name (upper case, as in caps).
    pub(crate) fn encoding_name(self) -> &'static str {
        match self {
            Codec::Vp8 => "VP8",
            Codec::H264 => "H264",
        }
    }

    fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("VP8") {
            Some(Codec::Vp8)
        } else if name.eq_ignore_ascii_case("H264") {
            Some(Codec::H264)
        } else {
            None
        }
    }
}

/// Direction attribute of a media section, from the offerer's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `a=sendrecv` (also the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// Whether the offerer sends media in this section.
    pub(crate) fn offerer_sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    /// Whether the offerer receives media in this section.
    pub(crate) fn offerer_receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// One `m=video` section of an offer.
#[derive(Debug, Clone)]
pub(crate) struct VideoSection {
    /// The offerer's direction.
    pub(crate) direction: Direction,
    /// Payload types of the codecs we know, in the offer's order of preference.
    pub(crate) codecs: Vec<(u8, Codec)>,
}

/// What the media plane needs from an offer.
#[derive(Debug, Clone)]
pub(crate) struct Offer {
    /// The video sections that are not rejected (port 0), in order.
    pub(crate) video: Vec<VideoSection>,
}

impl Offer {
    /// The first payload type of `codec` in a video section for which `wanted` holds.
    pub(crate) fn payload(
        &self,
        codec: Codec,
        wanted: impl Fn(&VideoSection) -> bool,
    ) -> Option<u8> {
        self.video
            .iter()
            .filter(|v| wanted(v))
            .flat_map(|v| v.codecs.iter())
            .find(|(_, c)| *c == codec)
            .map(|(pt, _)| *pt)
    }
}

fn bad(reason: impl Into<String>) -> MediaError {
    MediaError::BadSdp(reason.into())
}

#[derive(Default)]
struct Section {
    kind: String,
    rejected: bool,
    secure_rtp: bool,
    direction: Option<Direction>,
    codecs: Vec<(u8, Codec)>,
    ice_ufrag: bool,
    ice_pwd: bool,
    fingerprint: bool,
}

/// Checks an offer's text: `v=0` first, every line `<letter>=<value>`, at least one video
/// section that is not rejected, over DTLS-SRTP (`UDP/TLS/RTP/SAVPF`), with ICE credentials and
/// a DTLS fingerprint (at session or media level). Codecs are collected, not required: the
/// caller decides which it can take.
pub(crate) fn scan_offer(text: &str) -> Result<Offer, MediaError> {
    if text.len() > MAX_SDP_LEN {
        return Err(bad(format!(
            "offer of {} bytes, more than {MAX_SDP_LEN}",
            text.len()
        )));
    }
    let mut session = Section::default();
    let mut sections: Vec<Section> = Vec::new();
    let mut first = true;
    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let mut chars = line.chars();
        let (Some(letter), Some('=')) = (chars.next(), chars.next()) else {
            return Err(bad(format!("line {} is not `<letter>=<value>`", n + 1)));
        };
        if !letter.is_ascii_lowercase() {
            return Err(bad(format!("line {} starts with {letter:?}", n + 1)));
        }
        let value = chars.as_str();
        if first {
            if letter != 'v' || value != "0" {
                return Err(bad("the first line is not `v=0`"));
            }
            first = false;
            continue;
        }
        match letter {
            'm' => sections.push(
                media_line(value)
                    .ok_or_else(|| bad(format!("line {}: malformed media line", n + 1)))?,
            ),
            'a' => {
                let target = sections.last_mut().unwrap_or(&mut session);
                attribute(target, value);
            }
            _ => {}
        }
    }
    if first {
        return Err(bad("empty offer"));
    }
    let mut video = Vec::new();
    for s in sections {
        if s.kind != "video" || s.rejected {
            continue;
        }
        if !s.secure_rtp {
            return Err(bad("a video section is not UDP/TLS/RTP/SAVPF"));
        }
        if !(s.ice_ufrag || session.ice_ufrag) || !(s.ice_pwd || session.ice_pwd) {
            return Err(bad("a video section has no ICE credentials"));
        }
        if !(s.fingerprint || session.fingerprint) {
            return Err(bad("a video section has no DTLS fingerprint"));
        }
        video.push(VideoSection {
            direction: s
                .direction
                .or(session.direction)
                .unwrap_or(Direction::SendRecv),
            codecs: s.codecs,
        });
    }
    if video.is_empty() {
        return Err(bad("no video section"));
    }
    Ok(Offer { video })
}

/// `m=<kind> <port>[/<n>] <proto> <fmt>...`
fn media_line(value: &str) -> Option<Section> {
    let mut words = value.split_ascii_whitespace();
    let kind = words.next()?;
    let port = words.next()?;
    let proto = words.next()?;
    let port: u32 = port.split('/').next()?.parse().ok()?;
    Some(Section {
        kind: kind.to_ascii_lowercase(),
        rejected: port == 0,
        secure_rtp: proto.eq_ignore_ascii_case("UDP/TLS/RTP/SAVPF")
            || proto.eq_ignore_ascii_case("TCP/DTLS/RTP/SAVPF"),
        ..Section::default()
    })
}

fn attribute(target: &mut Section, value: &str) {
    let (name, rest) = match value.split_once(':') {
        Some((name, rest)) => (name, rest),
        None => (value, ""),
    };
    match name {
        "sendrecv" => target.direction = Some(Direction::SendRecv),
        "sendonly" => target.direction = Some(Direction::SendOnly),
        "recvonly" => target.direction = Some(Direction::RecvOnly),
        "inactive" => target.direction = Some(Direction::Inactive),
        "ice-ufrag" => target.ice_ufrag = !rest.is_empty(),
        "ice-pwd" => target.ice_pwd = !rest.is_empty(),
        "fingerprint" => target.fingerprint = !rest.is_empty(),
        "rtpmap" => {
            // `<pt> <name>/<clock>[/<channels>]`
            let mut words = rest.split_ascii_whitespace();
            let pt = words.next().and_then(|p| p.parse::<u8>().ok());
            let codec = words
                .next()
                .and_then(|enc| enc.split('/').next())
                .and_then(Codec::from_name);
            if let (Some(pt), Some(codec)) = (pt, codec) {
                if pt < 128 {
                    target.codecs.push((pt, codec));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\n\
        o=- 1 0 IN IP4 0.0.0.0\r\n\
        s=-\r\n\
        t=0 0\r\n\
        a=group:BUNDLE video0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
        a=rtpmap:111 opus/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\n\
        c=IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:abcd\r\n\
        a=ice-pwd:0123456789abcdef0123456789\r\n\
        a=fingerprint:sha-256 AB:CD\r\n\
        a=setup:actpass\r\n\
        a=mid:video0\r\n\
        a=sendonly\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        a=rtpmap:97 rtx/90000\r\n\
        a=rtpmap:102 H264/90000\r\n";

    #[test]
    fn a_webrtc_offer_gives_its_video_codecs_and_direction() {
        let offer = scan_offer(OFFER).unwrap();
        assert_eq!(offer.video.len(), 1);
        let v = &offer.video[0];
        assert_eq!(v.direction, Direction::SendOnly);
        assert_eq!(v.codecs, vec![(96, Codec::Vp8), (102, Codec::H264)]);
        assert_eq!(offer.payload(Codec::H264, |_| true), Some(102));
        assert_eq!(
            offer.payload(Codec::Vp8, |v| v.direction.offerer_receives()),
            None
        );
    }

    #[test]
    fn offers_missing_what_webrtc_needs_are_refused() {
        for (cut, why) in [
            ("a=ice-ufrag:abcd\r\n", "ICE"),
            ("a=fingerprint:sha-256 AB:CD\r\n", "fingerprint"),
        ] {
            let err = scan_offer(&OFFER.replace(cut, "")).unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
        }
        let plain = OFFER
            .replace("96 97 102", "96")
            .replace("UDP/TLS/RTP/SAVPF 96", "RTP/AVP 96");
        assert!(matches!(scan_offer(&plain), Err(MediaError::BadSdp(_))));
        let rejected = OFFER.replace("m=video 9", "m=video 0");
        assert!(scan_offer(&rejected)
            .unwrap_err()
            .to_string()
            .contains("no video"));
    }

    #[test]
    fn garbage_truncated_and_huge_offers_are_typed_errors() {
        let mut rng = fastrand::Rng::with_seed(18);
        let mut inputs: Vec<String> = vec![
            String::new(),
            "\r\n\r\n".into(),
            "v=1\r\n".into(),
            "hello".into(),
            "v=0\r\nm=\r\n".into(),
            "v=0\r\nm=video x UDP/TLS/RTP/SAVPF 96\r\n".into(),
            "v=0\r\nm=video 9\r\n".into(),
            "v=0\r\na=rtpmap:999 VP8/90000\r\n".into(),
            "é=0\r\n".into(),
            "x".repeat(MAX_SDP_LEN + 1),
        ];
        // Every prefix of a real offer (char boundaries), and random byte flips of it.
        for end in (0..OFFER.len()).filter(|&e| OFFER.is_char_boundary(e)) {
            inputs.push(OFFER[..end].to_string());
        }
        for _ in 0..500 {
            let mut bytes = OFFER.as_bytes().to_vec();
            for _ in 0..rng.usize(1..8) {
                let at = rng.usize(..bytes.len());
                bytes[at] = rng.u8(..);
            }
            inputs.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        let mut refused = 0;
        for input in &inputs {
            match scan_offer(input) {
                Ok(offer) => assert!(!offer.video.is_empty()),
                Err(MediaError::BadSdp(_)) => refused += 1,
                Err(other) => panic!("{other:?} for {input:?}"),
            }
        }
        // At least the hand-written garbage and the short prefixes are refused.
        assert!(
            refused > 10 + OFFER.len() / 2,
            "{refused} of {}",
            inputs.len()
        );
    }
}
