//! `GET /api/meetings/{meeting}/events`: a WebSocket pushing the meeting's events with ACS's
//! names, each with its `seq`.
//!
//! The token comes as `?token=` or `Authorization: Bearer` (checked before the upgrade: a bad
//! one is an HTTP 401/403), or as the first message `{"token": "…"}` within 10 s (a bad one
//! is an `{"error": {…}}` message and a close). The client's `sceneSize` is `?sceneSize=WxH`,
//! else the participant's own (`PUT togetherMode/sceneSize`); the message
//! `{"sceneSize": {"width", "height"}}` changes it and is answered with the caller's room's
//! seating map in the new size. Every seating map a client receives is in its own size.
//!
//! Messages: first `{"event": "connected", "seq", "participantId", "room", "sceneSize",
//! "streams", "seatingMap"}` (the state as of `seq`), then one message per event after it,
//! in `seq` order (the events a client may not see are left out: the breakout room list goes
//! to those who may get it, an assignment and a `join` to the participant concerned, a
//! room's settings to those in it and those who manage rooms).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::api::{blocking, size_json, AppState};
use super::auth::{valid_meeting_id, AuthError, Identity};
use super::error::ServiceError;
use super::runtime::{rescale, Dispatched, MeetingState, Subscription};
use crate::geometry::parse_size;
use crate::meeting::MeetingEvent;

/// How long a client has to send its token as the first message.
const TOKEN_WAIT: Duration = Duration::from_secs(10);

/// Longest text message read from a client.
const MAX_CLIENT_MESSAGE: usize = 4096;

/// The query of the events route.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    token: Option<String>,
    #[serde(rename = "sceneSize")]
    scene_size: Option<String>,
}

/// The route's handler.
pub async fn events(
    State(s): State<AppState>,
    Path(m): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !valid_meeting_id(&m) {
        return ServiceError::BadMeetingId.into_response();
    }
    let size = match q.scene_size.as_deref().map(parse_size).transpose() {
        Ok(size) => size,
        Err(e) => return ServiceError::BadRequest(format!("sceneSize: {e}")).into_response(),
    };
    let who = if let Some(t) = q.token.as_deref() {
        match s.authority.verify(t, &m) {
            Ok(who) => Some(who),
            Err(e) => return ServiceError::Auth(e).into_response(),
        }
    } else if headers.contains_key(axum::http::header::AUTHORIZATION) {
        match s.authorize(&headers, &m) {
            Ok(who) => Some(who),
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| session(socket, s, m, who, size))
}

fn error_message(e: &ServiceError) -> Message {
    Message::Text(json!({ "error": e.body() }).to_string().into())
}

async fn close(mut socket: WebSocket, e: &ServiceError) {
    let _ = socket.send(error_message(e)).await;
    // 4000 + the HTTP status, as close codes for application errors.
    let code = 4000 + e.code();
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: e.to_string().chars().take(100).collect::<String>().into(),
        })))
        .await;
}

/// The token as the first message.
async fn first_message_token(
    socket: &mut WebSocket,
    s: &AppState,
    meeting: &str,
) -> Result<Identity, ServiceError> {
    let msg = tokio::time::timeout(TOKEN_WAIT, socket.recv())
        .await
        .map_err(|_| ServiceError::Auth(AuthError::Missing))?;
    let Some(Ok(Message::Text(text))) = msg else {
        return Err(AuthError::Missing.into());
    };
    #[derive(Deserialize)]
    struct TokenMessage {
        token: String,
    }
    let t: TokenMessage =
        serde_json::from_str(&text).map_err(|_| ServiceError::Auth(AuthError::Missing))?;
    Ok(s.authority.verify(&t.token, meeting)?)
}

/// What the client sees of the meeting when it connects.
fn snapshot(st: &mut MeetingState, who: &Identity, size: (u32, u32)) -> Value {
    let room = st.room_of(&who.id);
    let streams: Vec<_> = st
        .meeting
        .room_ids()
        .filter_map(|r| st.meeting.stream(r).cloned())
        .collect();
    let map = st.seating_map_in(&room, size).unwrap_or_default();
    json!({
        "event": "connected",
        "seq": st.last_seq(),
        "participantId": who.id,
        "room": room,
        "sceneSize": size_json(size),
        "streams": streams,
        "seatingMap": map,
    })
}

async fn session(
    mut socket: WebSocket,
    s: AppState,
    meeting: String,
    who: Option<Identity>,
    size: Option<(u32, u32)>,
) {
    let who = match who {
        Some(w) => w,
        None => match first_message_token(&mut socket, &s, &meeting).await {
            Ok(w) => w,
            Err(e) => return close(socket, &e).await,
        },
    };
    let rt = s.runtime.clone();
    let id = who.clone();
    let subscribed = blocking(move || {
        rt.subscribe(&id.meeting, |st| {
            let size = match size {
                Some(sz) => {
                    st.set_scene_size_of(&id.id, sz)?;
                    sz
                }
                None => st.scene_size_of(&id.id),
            };
            Ok((snapshot(st, &id, size), size))
        })
    })
    .await;
    let (mut sub, (hello, mut size)) = match subscribed {
        Ok(v) => v,
        Err(e) => return close(socket, &e).await,
    };
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let output = s.runtime.output_size();
    let mut shutdown = s.runtime.shutdown_signal();
    loop {
        tokio::select! {
            ev = sub.events.recv() => match ev {
                Ok(d) => {
                    if !d.visible_to(&who.id) {
                        continue;
                    }
                    let text = render(&d, output, size).to_string();
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    let e = ServiceError::Internal(format!("event client fell {n} events behind"));
                    return close(socket, &e).await;
                }
                Err(RecvError::Closed) => break,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    match scene_size_message(&sub, &who, &text).await {
                        Ok((reply, new)) => {
                            size = new;
                            if socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            if socket.send(error_message(&e)).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => {
                return close(socket, &ServiceError::ShuttingDown).await;
            }
        }
    }
}

/// `{"sceneSize": {"width", "height"}}`: sets the client's size; the answer carries the
/// caller's room's seating map in it.
async fn scene_size_message(
    sub: &Subscription,
    who: &Identity,
    text: &str,
) -> Result<(Value, (u32, u32)), ServiceError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct SizeMessage {
        scene_size: super::api::Size,
    }
    let m: SizeMessage =
        serde_json::from_str(text).map_err(|e| ServiceError::BadRequest(e.to_string()))?;
    let size = (m.scene_size.width, m.scene_size.height);
    let handle = sub.handle.clone();
    let id = who.id.clone();
    blocking(move || {
        let mut st = handle.lock();
        st.set_scene_size_of(&id, size)?;
        let room = st.room_of(&id);
        let map = st.seating_map_in(&room, size)?;
        Ok((
            json!({
                "reply": "sceneSize",
                "seq": st.last_seq(),
                "room": room,
                "sceneSize": size_json(size),
                "seatingMap": map,
            }),
            size,
        ))
    })
    .await
}

/// An event as one client receives it: ACS's names, seating maps in the client's size.
pub fn render(d: &Dispatched, output: (u32, u32), size: (u32, u32)) -> Value {
    let e = &d.event;
    let head = |name: &str| {
        json!({
            "event": name,
            "seq": e.seq,
            "tick": e.tick,
            "timeUs": e.time_us,
        })
    };
    let with = |mut v: Value, fields: Value| {
        if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
            o.extend(f);
        }
        v
    };
    let breakout = |kind: &str, data: Value| {
        with(
            head("breakoutRoomsUpdated"),
            json!({ "type": kind, "data": data }),
        )
    };
    match &e.kind {
        MeetingEvent::StreamsUpdated {
            room,
            added,
            removed,
        } => with(
            head("togetherModeStreamsUpdated"),
            json!({ "room": room, "added": added, "removed": removed }),
        ),
        MeetingEvent::SceneUpdated {
            room,
            scene,
            seating_map,
        } => with(
            head("togetherModeSceneUpdated"),
            json!({
                "room": room,
                "scene": scene,
                "sceneSize": size_json(size),
                "seatingMap": rescale(seating_map, output, size),
            }),
        ),
        MeetingEvent::SeatingUpdated {
            room, seating_map, ..
        } => with(
            head("togetherModeSeatingUpdated"),
            json!({
                "room": room,
                "sceneSize": size_json(size),
                "seatingMap": rescale(seating_map, output, size),
            }),
        ),
        MeetingEvent::BreakoutRooms { rooms } => breakout("breakoutRooms", json!(rooms)),
        MeetingEvent::AssignedBreakoutRooms { participant, room } => with(
            breakout("assignedBreakoutRooms", json!(room)),
            json!({ "participantId": participant }),
        ),
        MeetingEvent::BreakoutRoomsSettings { room, settings } => with(
            breakout("breakoutRoomsSettings", json!(settings)),
            json!({ "room": room }),
        ),
        MeetingEvent::Join {
            participant,
            from,
            room,
        } => breakout(
            "join",
            json!({ "participantId": participant, "from": from, "threadId": room }),
        ),
        _ => serde_json::to_value(e).unwrap_or(Value::Null),
    }
}
