//! The service's settings: plain data with documented defaults, read from a TOML file
//! (`together serve --config FILE`) whose every key is optional.
//!
//! ```toml
//! listen = "127.0.0.1:8480"
//! scene = "builtin:auditorium"
//! record = "recordings"          # absent: no recording
//! key = "a secret of 32 bytes or more"   # absent: TOGETHER_MODE_KEY, else the key file
//! output_width = 1280
//! output_height = 720
//! fps = 30
//! segment = "auto"
//! scenes = ["builtin:grid"]      # scenes clients may switch to, besides the built-in ones
//!
//! [limits]
//! max_meetings = 64
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::segment::SegmentMode;

/// Where the service listens by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8480";

/// The scene every meeting starts with by default.
pub const DEFAULT_SCENE: &str = "builtin:auditorium";

/// Limits (issue 20 tests them under load). Every field has a default.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Meetings at once. Default 64. The next new meeting is refused 503/46510.
    pub max_meetings: usize,
    /// Participants per meeting. Default 256 (503/46513).
    pub max_participants: usize,
    /// Participants publishing video per meeting. Default 16 (503/46511).
    pub max_publishers: usize,
    /// Viewers (WHEP) per meeting. Default 64 (503/46512).
    pub max_viewers: usize,
    /// Event WebSockets per meeting. Default 256 (503/46514).
    pub max_event_clients: usize,
    /// Largest request body (bytes; SDP offers and JSON). Default 65536 (413/46509).
    pub max_body_bytes: usize,
    /// Longest time a request (not the event WebSocket) may take (ms). Default 15000
    /// (503/46515).
    pub request_timeout_ms: u64,
    /// A meeting with nobody in it ends after this long (ms); its ticking thread stops and
    /// its recordings are closed. Default 60000.
    pub empty_meeting_ms: u64,
    /// Longest token lifetime `together token` mints (s). Default 7 days.
    pub max_token_ttl_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_meetings: 64,
            max_participants: 256,
            max_publishers: 16,
            max_viewers: 64,
            max_event_clients: 256,
            max_body_bytes: 64 * 1024,
            request_timeout_ms: 15_000,
            empty_meeting_ms: 60_000,
            max_token_ttl_s: 7 * 24 * 3600,
        }
    }
}

/// The service's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Address to listen on. Default [`DEFAULT_LISTEN`].
    pub listen: SocketAddr,
    /// Every meeting's scene (a scene folder, zip, Teams app package or `builtin:NAME`).
    /// Default [`DEFAULT_SCENE`].
    pub scene: String,
    /// Scenes a client may change to (`togetherMode/scene`), besides `builtin:NAME`: exactly
    /// these strings, loaded at start. Default none. (A client never names a server path.)
    pub scenes: Vec<String>,
    /// Record every room's output to `record/<meeting>/<room>.y4m`. Default none.
    pub record: Option<PathBuf>,
    /// The token signing key (at least 32 bytes of text). Default: the environment variable
    /// `TOGETHER_MODE_KEY`, else the key file.
    pub key: Option<String>,
    /// The key file (default `<config dir>/together-mode/signing-key`, made on first use
    /// with owner-only permissions).
    pub key_file: Option<PathBuf>,
    /// Output width of every room's stream. Default 1280.
    pub output_width: u32,
    /// Output height. Default 720.
    pub output_height: u32,
    /// Output frame rate (ticks per second). Default 30.
    pub fps: u32,
    /// How seats are cut out (`auto`: the selfie model for cameras; `none`, `alpha`,
    /// `chroma`, `background`, `ml`). Default `auto`.
    #[serde(deserialize_with = "segment_mode")]
    pub segment: SegmentMode,
    /// The local addresses WebRTC (ICE) offers to clients as host candidates
    /// ([`MediaConfig::ice_addresses`](super::media::MediaConfig::ice_addresses)). Default
    /// `["127.0.0.1"]`: clients on this machine (Chromium needs
    /// `--allow-loopback-in-peer-connection`); a deployment lists the addresses its clients
    /// reach; an empty list lets ICE use every non-loopback interface.
    pub ice_addresses: Vec<std::net::IpAddr>,
    /// Limits.
    pub limits: Limits,
}

fn segment_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SegmentMode, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8480)),
            scene: DEFAULT_SCENE.to_string(),
            scenes: Vec::new(),
            record: None,
            key: None,
            key_file: None,
            output_width: 1280,
            output_height: 720,
            fps: 30,
            segment: SegmentMode::Auto,
            ice_addresses: vec![std::net::IpAddr::from([127, 0, 0, 1])],
            limits: Limits::default(),
        }
    }
}

/// A config file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key or a bad value.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value out of range.
    #[error("config: {0}")]
    Invalid(String),
}

/// Largest config file read (bytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl ServiceConfig {
    /// Reads a TOML config file (every key optional).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read_err)?.len();
        if len > MAX_CONFIG_BYTES {
            return Err(ConfigError::Invalid(format!(
                "{} is {len} bytes; at most {MAX_CONFIG_BYTES}",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("config"),
            message: e.message().to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values: an output size the compositor renders, a frame rate of 1 to 120,
    /// limits of at least one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::geometry::check_output_size(
            self.output_width,
            self.output_height,
            crate::compositor::MAX_OUTPUT,
        )
        .map_err(|e| ConfigError::Invalid(format!("output size: {e}")))?;
        if !(1..=120).contains(&self.fps) {
            return Err(ConfigError::Invalid(format!(
                "fps {} must be 1 to 120",
                self.fps
            )));
        }
        let l = &self.limits;
        let counts = [
            ("max_meetings", l.max_meetings),
            ("max_participants", l.max_participants),
            ("max_publishers", l.max_publishers),
            ("max_viewers", l.max_viewers),
            ("max_event_clients", l.max_event_clients),
            ("max_body_bytes", l.max_body_bytes),
        ];
        for (name, v) in counts {
            if v == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        if l.request_timeout_ms == 0 || l.empty_meeting_ms == 0 || l.max_token_ttl_s == 0 {
            return Err(ConfigError::Invalid(
                "request_timeout_ms, empty_meeting_ms and max_token_ttl_s must be at least 1"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod ice_address_tests {
    use super::ServiceConfig;

    #[test]
    fn ice_addresses_default_to_loopback_and_parse_from_the_file() {
        let default = ServiceConfig::default();
        assert_eq!(
            default.ice_addresses,
            vec![std::net::IpAddr::from([127, 0, 0, 1])]
        );
        let c = ServiceConfig::parse("ice_addresses = [\"192.0.2.7\", \"::1\"]\n").unwrap();
        assert_eq!(c.ice_addresses.len(), 2);
        assert!(c.ice_addresses[1].is_loopback());
        let none = ServiceConfig::parse("ice_addresses = []\n").unwrap();
        assert!(none.ice_addresses.is_empty());
        assert!(ServiceConfig::parse("ice_addresses = [\"not an address\"]\n").is_err());
    }
}
