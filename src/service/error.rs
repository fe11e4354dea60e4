//! The service's errors, each an HTTP status and an ACS-style body
//! `{ "code", "subcode", "message" }`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::AuthError;
use super::media::MediaError;
use crate::meeting::{AcsError, MeetingError};

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// The HTTP status.
    pub code: u16,
    /// The ACS-style subcode: the library's 463xx/464xx for meeting refusals, this
    /// service's 465xx for the rest.
    pub subcode: u32,
    /// What went wrong.
    pub message: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Not authenticated (401) or not for this meeting (403).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The meeting's rules refused it (the library's code and subcode).
    #[error(transparent)]
    Refused(AcsError),
    /// A malformed meeting id in the path (400/46507).
    #[error("bad meeting id")]
    BadMeetingId,
    /// A body that is not the JSON the route takes, or a bad query (400/46508).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A body over the limit (413/46509).
    #[error("request body over {max} bytes")]
    BodyTooLarge {
        /// The limit.
        max: usize,
    },
    /// A limit of the deployment (503): meetings (46510), publishers (46511), viewers
    /// (46512), participants (46513), event clients (46514).
    #[error("limit reached: at most {max} {what}")]
    Limit {
        /// What is limited.
        what: &'static str,
        /// The limit.
        max: usize,
        /// Its subcode.
        subcode: u32,
    },
    /// The request took longer than the limit (503/46515).
    #[error("request timed out")]
    Timeout,
    /// No such route (404/46516).
    #[error("no such route")]
    NoRoute,
    /// A scene the deployment does not offer (400/46517).
    #[error("unknown scene {0:?}")]
    UnknownScene(String),
    /// The server is shutting down (503/46518).
    #[error("shutting down")]
    ShuttingDown,
    /// The service cannot start with these settings: a scene, the signing key, the selfie
    /// model (500/46598; reported by [`Service::new`](super::Service::new), never to a
    /// client).
    #[error("{0}")]
    Setup(String),
    /// The media plane refused or failed a WHIP/WHEP offer: a bad SDP offer (400/46520), no
    /// video codec in common (400/46521), negotiation timed out (503/46522), GStreamer
    /// failed (500/46523).
    #[error(transparent)]
    Media(#[from] super::media::MediaError),
    /// No such WHIP or WHEP session (404/46524).
    #[error("no such session")]
    NoSession,
    /// A WHIP or WHEP session of someone else (403/46525).
    #[error("the session belongs to another participant")]
    NotYours,
    /// Something failed inside (500/46599).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<MeetingError> for ServiceError {
    fn from(e: MeetingError) -> Self {
        match e {
            MeetingError::Refused(r) => ServiceError::Refused(r),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<AcsError> for ServiceError {
    fn from(e: AcsError) -> Self {
        ServiceError::Refused(e)
    }
}

impl ServiceError {
    /// The HTTP status.
    pub fn code(&self) -> u16 {
        match self {
            ServiceError::Auth(a) => a.code(),
            ServiceError::Refused(r) => r.code,
            ServiceError::BadMeetingId
            | ServiceError::BadRequest(_)
            | ServiceError::UnknownScene(_) => 400,
            ServiceError::BodyTooLarge { .. } => 413,
            ServiceError::Limit { .. } | ServiceError::Timeout | ServiceError::ShuttingDown => 503,
            ServiceError::NoRoute => 404,
            ServiceError::Setup(_) | ServiceError::Internal(_) => 500,
            ServiceError::Media(m) => match m {
                MediaError::BadSdp(_) | MediaError::NoCommonCodec { .. } => 400,
                MediaError::Timeout { .. } => 503,
                _ => 500,
            },
            ServiceError::NoSession => 404,
            ServiceError::NotYours => 403,
        }
    }

    /// The subcode.
    pub fn subcode(&self) -> u32 {
        match self {
            ServiceError::Auth(a) => a.subcode(),
            ServiceError::Refused(r) => r.subcode,
            ServiceError::BadMeetingId => 46507,
            ServiceError::BadRequest(_) => 46508,
            ServiceError::BodyTooLarge { .. } => 46509,
            ServiceError::Limit { subcode, .. } => *subcode,
            ServiceError::Timeout => 46515,
            ServiceError::NoRoute => 46516,
            ServiceError::UnknownScene(_) => 46517,
            ServiceError::ShuttingDown => 46518,
            ServiceError::Setup(_) => 46598,
            ServiceError::Media(m) => match m {
                MediaError::BadSdp(_) => 46520,
                MediaError::NoCommonCodec { .. } => 46521,
                MediaError::Timeout { .. } => 46522,
                _ => 46523,
            },
            ServiceError::NoSession => 46524,
            ServiceError::NotYours => 46525,
            ServiceError::Internal(_) => 46599,
        }
    }

    /// The response body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            subcode: self.subcode(),
            message: self.to_string(),
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        if self.code() == 401 {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
