//! Who a caller is: HS256 tokens signed by the deployment.
//!
//! A token's claims are the participant's raw id (`sub`), the one meeting it is for (`mtg`),
//! the meeting role (`role`, the library's names: `organizer`, `coOrganizer`, `presenter`,
//! `attendee`), and its expiry (`exp`, seconds since 1970). The identity kind is derived from
//! the raw id ([`IdentityKind::from_raw_id`]); no field a client sends sets identity or role.
//!
//! The signing key is the config's `key`, else the environment variable
//! [`KEY_ENV`], else a key file made on first use ([`default_key_file`]) with owner-only
//! permissions; a key file others may read is refused.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::meeting::{role_from_name, role_name, IdentityKind};
use crate::seating::{Role, MAX_ID_BYTES};

/// The environment variable holding the signing key (when the config has none).
pub const KEY_ENV: &str = "TOGETHER_MODE_KEY";

/// Shortest signing key accepted (bytes).
pub const MIN_KEY_BYTES: usize = 32;

/// Longest meeting id (bytes).
pub const MAX_MEETING_ID: usize = 64;

/// Clock skew tolerated on `exp` (s).
const LEEWAY_S: u64 = 5;

/// A token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The participant's raw id (`8:orgid:…`, `8:acs:…`, …).
    pub sub: String,
    /// The meeting the token is for.
    pub mtg: String,
    /// The meeting role (`organizer`, `coOrganizer`, `presenter`, `attendee`).
    pub role: String,
    /// Issued at (s since 1970).
    pub iat: u64,
    /// Expiry (s since 1970).
    pub exp: u64,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The raw id.
    pub id: String,
    /// Its identity kind (from the raw id).
    pub kind: IdentityKind,
    /// The role the token gives.
    pub role: Role,
    /// The meeting.
    pub meeting: String,
}

/// Why a caller is not let in: 401 (missing, malformed, forged, expired, bad claims) or 403
/// (a token for another meeting).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header (or WebSocket token).
    #[error("no token: send Authorization: Bearer TOKEN")]
    Missing,
    /// Not a JWT, or not HS256.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match this deployment's key.
    #[error("token signature does not match")]
    BadSignature,
    /// Past its `exp`.
    #[error("token expired")]
    Expired,
    /// Valid, but for another meeting.
    #[error("token is for meeting {token:?}, not {requested:?}")]
    WrongMeeting {
        /// The token's meeting.
        token: String,
        /// The meeting asked for.
        requested: String,
    },
    /// Signed, but its claims are unusable (bad raw id, unknown role, bad meeting id).
    #[error("token claims: {0}")]
    BadClaims(String),
}

impl AuthError {
    /// 401, or 403 for [`AuthError::WrongMeeting`].
    pub fn code(&self) -> u16 {
        match self {
            AuthError::WrongMeeting { .. } => 403,
            _ => 401,
        }
    }

    /// This service's subcodes 46501-46506.
    pub fn subcode(&self) -> u32 {
        match self {
            AuthError::Missing => 46501,
            AuthError::Malformed => 46502,
            AuthError::BadSignature => 46503,
            AuthError::Expired => 46504,
            AuthError::WrongMeeting { .. } => 46505,
            AuthError::BadClaims(_) => 46506,
        }
    }
}

/// The signing key could not be found, made or trusted.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Shorter than [`MIN_KEY_BYTES`].
    #[error("the signing key from {from} is {len} bytes; at least {MIN_KEY_BYTES} are needed")]
    TooShort {
        /// Where it came from.
        from: String,
        /// Its length.
        len: usize,
    },
    /// The key file may be read by others.
    #[error("{path} may be read by other users (mode {mode:o}); run chmod 600 on it")]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// No config directory to keep the key file in.
    #[error("no user config directory for the key file: set key in the config or {KEY_ENV}")]
    NoConfigDir,
    /// Reading or writing the key file failed.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No randomness for a new key.
    #[error("no random source for a new key: {0}")]
    Random(String),
    /// A token could not be minted.
    #[error("minting the token: {0}")]
    Mint(String),
    /// A bad argument to [`Authority::mint`].
    #[error(transparent)]
    Claims(#[from] AuthError),
}

/// The default key file: `<config dir>/together-mode/signing-key`.
pub fn default_key_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("together-mode").join("signing-key"))
}

/// Signs and checks tokens with one key.
pub struct Authority {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authority { .. }")
    }
}

/// Seconds since 1970.
pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether a meeting id is usable: 1 to [`MAX_MEETING_ID`] bytes of `[A-Za-z0-9._-]`, not
/// starting with a dot (it names the recording folder).
pub fn valid_meeting_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_MEETING_ID
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn valid_raw_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && !id.chars().any(char::is_control)
}

impl Authority {
    /// An authority signing with `key` (at least [`MIN_KEY_BYTES`] bytes).
    pub fn new(key: &[u8]) -> Result<Self, KeyError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort {
                from: "the caller".into(),
                len: key.len(),
            });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_S;
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_aud = false;
        Ok(Self {
            encoding: EncodingKey::from_secret(key).map_err(|e| KeyError::Mint(e.to_string()))?,
            decoding: DecodingKey::from_secret(key).map_err(|e| KeyError::Mint(e.to_string()))?,
            validation,
        })
    }

    /// The key from the config's `key`, else [`KEY_ENV`], else the key file (`key_file`, or
    /// [`default_key_file`]), made on first use.
    pub fn resolve(key: Option<&str>, key_file: Option<&Path>) -> Result<Self, KeyError> {
        let (from, text) = if let Some(k) = key {
            ("the config's key".to_string(), k.to_string())
        } else if let Some(k) = std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty()) {
            (KEY_ENV.to_string(), k)
        } else {
            let path = match key_file {
                Some(p) => p.to_path_buf(),
                None => default_key_file().ok_or(KeyError::NoConfigDir)?,
            };
            (path.display().to_string(), load_or_create_key_file(&path)?)
        };
        let text = text.trim();
        if text.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort {
                from,
                len: text.len(),
            });
        }
        Self::new(text.as_bytes())
    }

    /// Mints a token for `participant` in `meeting` with `role`, valid `ttl_s` seconds.
    pub fn mint(
        &self,
        meeting: &str,
        participant: &str,
        role: Role,
        ttl_s: u64,
    ) -> Result<String, KeyError> {
        let iat = now_s();
        self.mint_claims(&Claims {
            sub: participant.to_string(),
            mtg: meeting.to_string(),
            role: role_name(role).to_string(),
            iat,
            exp: iat.saturating_add(ttl_s),
        })
    }

    /// Mints a token with these exact claims (checked as [`verify`](Self::verify) checks
    /// them, expiry aside).
    pub fn mint_claims(&self, claims: &Claims) -> Result<String, KeyError> {
        check_claims(claims)?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| KeyError::Mint(e.to_string()))
    }

    /// Checks a token for `meeting`: signature, expiry, claims, then the meeting.
    pub fn verify(&self, token: &str, meeting: &str) -> Result<Identity, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::MissingRequiredClaim(c) => AuthError::BadClaims(format!("missing {c}")),
                _ => AuthError::Malformed,
            })?;
        let claims = data.claims;
        let (kind, role) = check_claims(&claims)?;
        if claims.mtg != meeting {
            return Err(AuthError::WrongMeeting {
                token: claims.mtg,
                requested: meeting.chars().take(MAX_MEETING_ID).collect(),
            });
        }
        Ok(Identity {
            id: claims.sub,
            kind,
            role,
            meeting: claims.mtg,
        })
    }

    /// The bearer token of an `Authorization` header value.
    pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
        let value = header.ok_or(AuthError::Missing)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Malformed);
        }
        Ok(token.trim())
    }
}

fn check_claims(c: &Claims) -> Result<(IdentityKind, Role), AuthError> {
    if !valid_raw_id(&c.sub) {
        return Err(AuthError::BadClaims("bad participant id".into()));
    }
    if !valid_meeting_id(&c.mtg) {
        return Err(AuthError::BadClaims("bad meeting id".into()));
    }
    let role = role_from_name(&c.role)
        .ok_or_else(|| AuthError::BadClaims(format!("unknown role {:?}", c.role)))?;
    Ok((IdentityKind::from_raw_id(&c.sub), role))
}

/// Reads the key file, refusing one others may read; makes it (owner-only) when missing.
fn load_or_create_key_file(path: &Path) -> Result<String, KeyError> {
    let io = |context: &'static str| {
        let path = path.to_path_buf();
        move |source| KeyError::Io {
            context,
            path,
            source,
        }
    };
    match fs::metadata(path) {
        Ok(meta) => {
            check_private(path, &meta)?;
            return fs::read_to_string(path).map_err(io("reading"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("reading")(e)),
    }
    let dir = path.parent().ok_or(KeyError::NoConfigDir)?;
    create_private_dir(dir).map_err(io("creating the folder of"))?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written under a temporary name, then linked onto the final one: two processes making
    // the key at once end with one key (the loser reads the winner's).
    let temp = dir.join(format!(".signing-key-{}", std::process::id()));
    let _ = fs::remove_file(&temp);
    {
        let mut f = create_private_file(&temp).map_err(io("creating"))?;
        f.write_all(format!("{text}\n").as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io("writing"))?;
    }
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = fs::metadata(path).map_err(io("reading"))?;
            check_private(path, &meta)?;
            fs::read_to_string(path).map_err(io("reading"))
        }
        Err(e) => Err(io("creating")(e)),
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_round_trip_and_are_checked() {
        let a = Authority::new(KEY).unwrap();
        let t = a.mint("m1", "8:acs:alice", Role::Attendee, 60).unwrap();
        let id = a.verify(&t, "m1").unwrap();
        assert_eq!(id.id, "8:acs:alice");
        assert_eq!(id.kind, IdentityKind::CommunicationServices);
        assert_eq!(id.role, Role::Attendee);
        assert!(matches!(
            a.verify(&t, "m2"),
            Err(AuthError::WrongMeeting { .. })
        ));
        let other = Authority::new(b"another key, also 32 bytes long!").unwrap();
        assert_eq!(other.verify(&t, "m1"), Err(AuthError::BadSignature));
        assert_eq!(a.verify("not.a.token", "m1"), Err(AuthError::Malformed));
        let old = a
            .mint_claims(&Claims {
                sub: "8:acs:alice".into(),
                mtg: "m1".into(),
                role: "attendee".into(),
                iat: 1,
                exp: now_s() - 3600,
            })
            .unwrap();
        assert_eq!(a.verify(&old, "m1"), Err(AuthError::Expired));
        assert!(a.mint("../x", "8:acs:a", Role::Attendee, 60).is_err());
        assert!(Authority::new(b"short").is_err());
    }

    /// A token without an expiry (malformed: the claims do not parse), with an unknown role,
    /// or unsigned (`alg: none`) is refused even when signed with the right key.
    #[test]
    fn signed_tokens_with_unusable_claims_are_refused() {
        #[derive(Serialize)]
        struct NoExpiry<'a> {
            sub: &'a str,
            mtg: &'a str,
            role: &'a str,
        }
        let a = Authority::new(KEY).unwrap();
        let key = EncodingKey::from_secret(KEY).unwrap();
        let header = Header::new(Algorithm::HS256);
        let claims = NoExpiry {
            sub: "8:orgid:o",
            mtg: "m",
            role: "organizer",
        };
        let t = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        assert_eq!(a.verify(&t, "m"), Err(AuthError::Malformed));
        let king = Claims {
            sub: "8:orgid:o".into(),
            mtg: "m".into(),
            role: "king".into(),
            iat: now_s(),
            exp: now_s() + 60,
        };
        let t = jsonwebtoken::encode(&header, &king, &key).unwrap();
        assert!(matches!(a.verify(&t, "m"), Err(AuthError::BadClaims(_))));
        assert!(a.mint_claims(&king).is_err());
        // Another algorithm (none) is malformed here.
        let parts: Vec<&str> = t.split('.').collect();
        let unsigned = format!("eyJhbGciOiJub25lIn0.{}.", parts[1]);
        assert_eq!(a.verify(&unsigned, "m"), Err(AuthError::Malformed));
    }

    #[test]
    fn bearer_headers() {
        assert_eq!(Authority::bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(Authority::bearer(Some("bearer  abc ")), Ok("abc"));
        assert_eq!(Authority::bearer(None), Err(AuthError::Missing));
        assert_eq!(
            Authority::bearer(Some("Basic abc")),
            Err(AuthError::Malformed)
        );
        assert_eq!(Authority::bearer(Some("Bearer")), Err(AuthError::Malformed));
    }

    #[test]
    fn meeting_ids() {
        assert!(valid_meeting_id("team-standup_1.a"));
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(!valid_meeting_id(bad), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_made_private_and_shared() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg").join("signing-key");
        let first = load_or_create_key_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(first.trim().len(), 64);
        assert_eq!(load_or_create_key_file(&path).unwrap().trim(), first.trim());
        // Two authorities from the same file accept each other's tokens.
        let a = Authority::resolve(None, Some(&path)).unwrap();
        let b = Authority::resolve(None, Some(&path)).unwrap();
        let t = a.mint("m", "8:orgid:o", Role::Organizer, 60).unwrap();
        assert_eq!(b.verify(&t, "m").unwrap().role, Role::Organizer);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_or_create_key_file(&path),
            Err(KeyError::Exposed { mode: 0o644, .. })
        ));
    }
}
