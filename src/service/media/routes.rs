//! WHIP and WHEP over HTTP (RFC 9725 and the WHEP draft), on the service's meetings:
//!
//! - `POST /whip/{meeting}`: an SDP offer (`Content-Type: application/sdp`, at most 64 KiB)
//!   with `Authorization: Bearer TOKEN`; the caller (the token's subject) joins if need be and
//!   starts their video; `201 Created` with the answer (`application/sdp`) and `Location:
//!   /whip/{meeting}/{id}`. Each decoded camera frame goes to the meeting. A second
//!   publication of the same participant replaces the first.
//! - `DELETE /whip/{meeting}/{id}`: the publication's owner ends it (video off, they stay in
//!   the meeting); `200`.
//! - `POST /whep/{meeting}/{room}`: a viewer of a room (`main` or a breakout room's threadId);
//!   `201` with the answer and `Location: /whep/{meeting}/{room}/{id}`. The room's encoder is
//!   made with its first viewer and stopped with its last.
//! - `DELETE /whep/{meeting}/{room}/{id}`: the viewer's owner ends it; `200`.
//!
//! A publication or view that ends on the peer's side (gone, failed) is cleaned up the same
//! way. Errors are the service's ACS-style bodies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;

use super::{Media, MediaError, PublishSession, RoomOutput, ViewerSession};
use crate::frame::FrameRef;
use crate::service::api::{blocking, AppState};
use crate::service::auth::Identity;
use crate::service::error::ServiceError;
use crate::service::runtime::{RoomSink, Runtime, ViewerSlot};

/// Largest SDP body accepted (bytes).
pub const MAX_SDP_BODY: usize = super::sdp::MAX_SDP_LEN;

struct Publication {
    meeting: String,
    participant: String,
    session: PublishSession,
}

struct Viewing {
    meeting: String,
    room: String,
    participant: String,
    session: ViewerSession,
    _slot: ViewerSlot,
}

#[derive(Default)]
struct Sessions {
    publications: HashMap<String, Publication>,
    /// The current publication of each (meeting, participant).
    current: HashMap<(String, String), String>,
    viewings: HashMap<String, Viewing>,
    rooms: HashMap<(String, String), Arc<RoomOutput>>,
}

/// The media routes' state: the service's, the media plane and the live sessions.
#[derive(Clone)]
pub struct MediaState {
    app: AppState,
    media: Media,
    sessions: Arc<Mutex<Sessions>>,
}

impl std::fmt::Debug for MediaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaState")
            .field("media", &self.media)
            .finish_non_exhaustive()
    }
}

impl MediaState {
    /// The routes' state over a service's state and a media plane.
    pub fn new(app: AppState, media: Media) -> Self {
        Self {
            app,
            media,
            sessions: Arc::new(Mutex::new(Sessions::default())),
        }
    }

    /// The media plane.
    pub fn media(&self) -> &Media {
        &self.media
    }

    /// Live publications and viewers.
    pub fn counts(&self) -> (usize, usize) {
        let s = self.lock();
        (s.publications.len(), s.viewings.len())
    }

    fn lock(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends every session (server shutdown).
    pub fn close_all(&self) {
        let (publications, viewings, rooms) = {
            let mut s = self.lock();
            s.current.clear();
            (
                s.publications.drain().collect::<Vec<_>>(),
                s.viewings.drain().collect::<Vec<_>>(),
                s.rooms.drain().collect::<Vec<_>>(),
            )
        };
        drop(publications);
        drop(viewings);
        drop(rooms);
    }
}

/// The WHIP and WHEP routes, with their own state and body limit.
pub fn routes<S: Clone + Send + Sync + 'static>(state: MediaState) -> Router<S> {
    Router::new()
        .route("/whip/{meeting}", post(whip_post))
        .route("/whip/{meeting}/{id}", delete(whip_delete))
        .route("/whep/{meeting}/{room}", post(whep_post))
        .route("/whep/{meeting}/{room}/{id}", delete(whep_delete))
        .layer(DefaultBodyLimit::max(MAX_SDP_BODY))
        .with_state(state)
}

/// A fresh resource id (128 random bits, hex).
fn resource_id() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::Internal(format!("random: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The offer in a request body: `application/sdp`, UTF-8, within the limit.
fn offer(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<String, ServiceError> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = kind.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/sdp") {
        return Err(ServiceError::BadRequest(format!(
            "Content-Type must be application/sdp, not {kind:?}"
        )));
    }
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ServiceError::BodyTooLarge { max: MAX_SDP_BODY }
        } else {
            ServiceError::BadRequest(e.body_text())
        }
    })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ServiceError::BadRequest("the SDP offer is not UTF-8".into()))
}

/// `MediaError` as the service's errors.
fn media_error(e: MediaError) -> ServiceError {
    ServiceError::Media(e)
}

fn created(location: String, answer: &str) -> Result<Response, ServiceError> {
    let location = HeaderValue::from_str(&location)
        .map_err(|e| ServiceError::Internal(format!("location: {e}")))?;
    let mut response = (StatusCode::CREATED, answer.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    headers.insert(header::LOCATION, location);
    Ok(response)
}

async fn whip_post(
    State(s): State<MediaState>,
    Path(meeting): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let who = s.app.authorize(&headers, &meeting)?;
    let offer = offer(&headers, body)?;
    let id = resource_id()?;
    let answer = {
        let (s, id) = (s.clone(), id.clone());
        blocking(move || publish(&s, who, &offer, id)).await?
    };
    created(format!("/whip/{meeting}/{id}"), &answer)
}

/// Starts the caller's video and their publication; returns the answer.
fn publish(s: &MediaState, who: Identity, offer: &str, id: String) -> Result<String, ServiceError> {
    let rt: Arc<Runtime> = s.app.runtime.clone();
    rt.start_video(&who)?;
    let frames = {
        let (rt, who) = (rt.clone(), who.clone());
        Box::new(move |frame: crate::frame::Frame, _pts_us: i64| {
            // The meeting stamps it with its own clock; a refusal (left, meeting over) drops it.
            let _ = rt.push_owned(&who, frame);
        })
    };
    let ended = {
        let (rt, who, id) = (rt.clone(), who.clone(), id.clone());
        let sessions = Arc::downgrade(&s.sessions);
        Box::new(move |_reason: super::EndReason| {
            let Some(sessions) = sessions.upgrade() else {
                return;
            };
            let was_current = {
                let mut s = sessions.lock().unwrap_or_else(|e| e.into_inner());
                let key = (who.meeting.clone(), who.id.clone());
                let current = s.current.get(&key) == Some(&id);
                if current {
                    s.current.remove(&key);
                }
                let publication = s.publications.remove(&id);
                (current, publication)
            };
            let (current, publication) = was_current;
            if current {
                let _ = rt.stop_video(&who);
            }
            // Dropping a session on its own watch thread does not wait for that thread.
            drop(publication);
        })
    };
    let session = match s.media.publish(offer, frames, ended) {
        Ok(session) => session,
        Err(e) => {
            // Video goes off again unless another publication of theirs is live.
            let other = s
                .lock()
                .current
                .contains_key(&(who.meeting.clone(), who.id.clone()));
            if !other {
                let _ = rt.stop_video(&who);
            }
            return Err(media_error(e));
        }
    };
    let answer = session.answer_sdp().to_string();
    let replaced = {
        let mut sessions = s.lock();
        let key = (who.meeting.clone(), who.id.clone());
        let old = sessions.current.insert(key, id.clone());
        sessions.publications.insert(
            id.clone(),
            Publication {
                meeting: who.meeting.clone(),
                participant: who.id.clone(),
                session,
            },
        );
        old.and_then(|old| sessions.publications.remove(&old))
    };
    // The replaced publication ends outside the lock; its `ended` finds itself gone.
    drop(replaced);
    // Ended before it was listed (its `ended` found nothing to clean): clean up here.
    let ended_early = {
        let mut sessions = s.lock();
        let gone = sessions
            .publications
            .get(&id)
            .is_some_and(|p| p.session.is_ended());
        if gone {
            sessions
                .current
                .remove(&(who.meeting.clone(), who.id.clone()));
            sessions.publications.remove(&id)
        } else {
            None
        }
    };
    if ended_early.is_some() {
        let _ = rt.stop_video(&who);
    }
    Ok(answer)
}

async fn whip_delete(
    State(s): State<MediaState>,
    Path((meeting, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ServiceError> {
    let who = s.app.authorize(&headers, &meeting)?;
    blocking(move || {
        let (publication, current) = {
            let mut sessions = s.lock();
            match sessions.publications.get(&id) {
                Some(p) if p.meeting == who.meeting && p.participant == who.id => {}
                Some(_) => return Err(ServiceError::NotYours),
                None => return Err(ServiceError::NoSession),
            }
            let key = (who.meeting.clone(), who.id.clone());
            let current = sessions.current.get(&key) == Some(&id);
            if current {
                sessions.current.remove(&key);
            }
            (sessions.publications.remove(&id), current)
        };
        if let Some(p) = publication {
            p.session.close();
        }
        if current {
            s.app.runtime.stop_video(&who)?;
        }
        Ok(StatusCode::OK.into_response())
    })
    .await
}

/// A room's encoder as the meeting's sink of that room's frames.
struct OutputSink(Arc<RoomOutput>);

impl RoomSink for OutputSink {
    fn frame(&self, _room: &str, frame: FrameRef<'_>, pts_us: i64) {
        self.0.push(frame, pts_us);
    }
}

async fn whep_post(
    State(s): State<MediaState>,
    Path((meeting, room)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let who = s.app.authorize(&headers, &meeting)?;
    let offer = offer(&headers, body)?;
    let id = resource_id()?;
    let answer = {
        let (s, id, room) = (s.clone(), id.clone(), room.clone());
        blocking(move || view(&s, who, &room, &offer, id)).await?
    };
    created(format!("/whep/{meeting}/{room}/{id}"), &answer)
}

/// Adds a viewer of `room` (its encoder made if it is the first); returns the answer.
fn view(
    s: &MediaState,
    who: Identity,
    room: &str,
    offer: &str,
    id: String,
) -> Result<String, ServiceError> {
    let rt = s.app.runtime.clone();
    let slot = rt.viewer_slot(&who.meeting)?;
    // An unknown room is the meeting's own refusal (404).
    rt.with_meeting(&who.meeting, false, |st| {
        st.seating_map_in(room, (1, 1)).map(|_| ())
    })?;
    let key = (who.meeting.clone(), room.to_string());
    let output = {
        let existing = s.lock().rooms.get(&key).cloned();
        match existing {
            Some(output) => output,
            None => {
                let (w, h) = rt.output_size();
                let fps = rt.config().fps;
                let made = Arc::new(s.media.room_output(w, h, (fps, 1)).map_err(media_error)?);
                // Two first viewers at once: the first one in wins, the other's is dropped.
                let output = s.lock().rooms.entry(key.clone()).or_insert(made).clone();
                rt.set_room_sink(
                    &who.meeting,
                    room,
                    Some(Arc::new(OutputSink(output.clone()))),
                )?;
                output
            }
        }
    };
    let ended = {
        let (id, key) = (id.clone(), key.clone());
        let sessions = Arc::downgrade(&s.sessions);
        let rt = rt.clone();
        Box::new(move |_reason: super::EndReason| {
            let Some(sessions) = sessions.upgrade() else {
                return;
            };
            let viewing = sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .viewings
                .remove(&id);
            release_room(&sessions, &rt, &key);
            drop(viewing);
        })
    };
    let session = match output.add_viewer(offer, ended) {
        Ok(session) => session,
        Err(e) => {
            release_room(&s.sessions, &rt, &key);
            return Err(media_error(e));
        }
    };
    let answer = session.answer_sdp().to_string();
    s.lock().viewings.insert(
        id.clone(),
        Viewing {
            meeting: who.meeting.clone(),
            room: room.to_string(),
            participant: who.id.clone(),
            session,
            _slot: slot,
        },
    );
    // Ended before it was listed: clean up here.
    let ended_early = {
        let mut sessions = s.lock();
        let gone = sessions
            .viewings
            .get(&id)
            .is_some_and(|v| v.session.is_ended());
        if gone {
            sessions.viewings.remove(&id)
        } else {
            None
        }
    };
    if ended_early.is_some() {
        drop(ended_early);
        release_room(&s.sessions, &rt, &key);
    }
    Ok(answer)
}

/// Stops a room's encoder when it has no viewer left.
fn release_room(sessions: &Mutex<Sessions>, rt: &Arc<Runtime>, key: &(String, String)) {
    let output = {
        let mut s = sessions.lock().unwrap_or_else(|e| e.into_inner());
        let watched = s
            .viewings
            .values()
            .any(|v| v.meeting == key.0 && v.room == key.1);
        let idle = s.rooms.get(key).is_some_and(|o| o.stats().viewers == 0);
        if watched || !idle {
            return;
        }
        s.rooms.remove(key)
    };
    if output.is_some() {
        let _ = rt.set_room_sink(&key.0, &key.1, None);
    }
    drop(output);
}

async fn whep_delete(
    State(s): State<MediaState>,
    Path((meeting, room, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ServiceError> {
    let who = s.app.authorize(&headers, &meeting)?;
    blocking(move || {
        let viewing = {
            let mut sessions = s.lock();
            match sessions.viewings.get(&id) {
                Some(v)
                    if v.meeting == who.meeting && v.room == room && v.participant == who.id => {}
                Some(_) => return Err(ServiceError::NotYours),
                None => return Err(ServiceError::NoSession),
            }
            sessions.viewings.remove(&id)
        };
        if let Some(v) = viewing {
            v.session.close();
        }
        release_room(&s.sessions, &s.app.runtime, &(who.meeting.clone(), room));
        Ok(StatusCode::OK.into_response())
    })
    .await
}
