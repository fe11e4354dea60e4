//! The control API in ACS's shapes, under `/api/meetings/{meeting}/…` (the README's
//! "Service" section lists every route with its body and codes). Every request carries
//! `Authorization: Bearer TOKEN`; the caller is the token's subject with the token's role,
//! and every operation calls the library's [`Meeting`](crate::meeting::Meeting) with that
//! identity, so its rights table and codes apply.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::{valid_meeting_id, Authority, Identity};
use super::error::ServiceError;
use super::runtime::{MeetingState, Runtime};
use crate::meeting::{RoomSettings, RoomSpec};
use crate::seating::{Reservation, SeatLayout};

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The meetings.
    pub runtime: Arc<Runtime>,
    /// Token checks.
    pub authority: Arc<Authority>,
}

impl AppState {
    /// The caller of a request to `meeting`, from its `Authorization` header.
    pub fn authorize(&self, headers: &HeaderMap, meeting: &str) -> Result<Identity, ServiceError> {
        if !valid_meeting_id(meeting) {
            return Err(ServiceError::BadMeetingId);
        }
        let header = headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        let token = Authority::bearer(header)?;
        Ok(self.authority.verify(token, meeting)?)
    }

    /// Runs `f` on the caller's meeting (made on first use when `create`) off the async
    /// threads (the meeting's lock may wait for a tick).
    async fn op<T: Send + 'static>(
        &self,
        who: Identity,
        create: bool,
        f: impl FnOnce(&mut MeetingState, &Identity) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let rt = self.runtime.clone();
        blocking(move || rt.with_meeting(&who.meeting.clone(), create, |st| f(st, &who))).await
    }
}

/// Runs a blocking call on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ServiceError::Internal(format!("worker: {e}"))))
}

/// A JSON body, within the body limit.
fn body<T: DeserializeOwned>(
    bytes: Result<Bytes, BytesRejection>,
    max: usize,
) -> Result<T, ServiceError> {
    let bytes = bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ServiceError::BodyTooLarge { max }
        } else {
            ServiceError::BadRequest(e.body_text())
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ServiceError::BadRequest(e.to_string()))
}

type Reply = Result<Response, ServiceError>;

fn ok(v: impl Serialize) -> Reply {
    Ok(Json(v).into_response())
}

fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{ "width", "height" }`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Size {
    /// Width (CSS pixels).
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// `?room=THREADID` (default: the caller's room).
#[derive(Debug, Deserialize)]
struct RoomQuery {
    room: Option<String>,
}

fn room_or_own(st: &MeetingState, who: &Identity, q: Option<String>) -> String {
    q.unwrap_or_else(|| st.room_of(&who.id))
}

/// The control routes (without the event WebSocket), relative to the server's root.
pub fn routes() -> Router<AppState> {
    let m = "/api/meetings/{meeting}";
    let tm = format!("{m}/togetherMode");
    let br = format!("{m}/breakoutRooms");
    Router::new()
        .route(&format!("{m}/join"), post(join))
        .route(&format!("{m}/leave"), post(leave))
        .route(&format!("{m}/me"), get(me))
        .route(&format!("{tm}/start"), post(start))
        .route(&format!("{tm}/streams"), get(streams))
        .route(
            &format!("{tm}/sceneSize"),
            get(get_scene_size).put(set_scene_size),
        )
        .route(&format!("{tm}/seatingMap"), get(seating_map))
        .route(&format!("{tm}/scene"), get(get_scene).put(change_scene))
        .route(&format!("{tm}/seats"), get(get_seats).post(change_seats))
        .route(&br, get(list_rooms).post(create_room))
        .route(&format!("{br}/assigned"), get(assigned_room))
        .route(&format!("{br}/settings"), get(own_settings))
        .route(&format!("{br}/assign"), post(assign))
        .route(&format!("{br}/return"), post(return_to_main))
        .route(&format!("{br}/{{thread}}/open"), post(open_room))
        .route(&format!("{br}/{{thread}}/close"), post(close_room))
        .route(&format!("{br}/{{thread}}/join"), post(join_room))
        .route(&format!("{br}/{{thread}}/settings"), put(set_settings))
        .route(
            &format!("{m}/breakoutRoomManagers"),
            get(managers).post(add_manager),
        )
        .route(
            &format!("{m}/breakoutRoomManagers/{{participant}}"),
            delete(remove_manager),
        )
}

/// Refuses requests that take longer than the limit (503/46515).
pub async fn timeout(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let limit = std::time::Duration::from_millis(s.runtime.config().limits.request_timeout_ms);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ServiceError::Timeout.into_response(),
    }
}

/// Unknown routes: 404/46516.
pub async fn fallback() -> Response {
    ServiceError::NoRoute.into_response()
}

// ---------------------------------------------------------------------------------------------
// Participants

async fn join(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    let rt = s.runtime.clone();
    ok(blocking(move || rt.join(&who)).await?)
}

async fn leave(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    let rt = s.runtime.clone();
    blocking(move || rt.leave(&who)).await?;
    no_content()
}

async fn me(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, |st, who| st.participant_info(&who.id))
        .await?)
}

// ---------------------------------------------------------------------------------------------
// Together Mode

async fn start(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, |st, who| Ok(st.meeting.start(&who.id)?))
        .await?)
}

async fn streams(
    State(s): State<AppState>,
    Path(m): Path<String>,
    Query(q): Query<RoomQuery>,
    h: HeaderMap,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    let list = s
        .op(who, true, move |st, who| {
            let room = room_or_own(st, who, q.room);
            if st.meeting.live(&room).is_none() {
                return Err(ServiceError::Refused(
                    crate::meeting::Refusal::UnknownRoom(room).into(),
                ));
            }
            Ok(st
                .meeting
                .stream(&room)
                .cloned()
                .into_iter()
                .collect::<Vec<_>>())
        })
        .await?;
    ok(list)
}

async fn get_scene_size(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    let (width, height) = s
        .op(who, true, |st, who| Ok(st.scene_size_of(&who.id)))
        .await?;
    ok(Size { width, height })
}

async fn set_scene_size(
    State(s): State<AppState>,
    Path(m): Path<String>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    let size: Size = body(b, s.runtime.config().limits.max_body_bytes)?;
    s.op(who, true, move |st, who| {
        st.set_scene_size_of(&who.id, (size.width, size.height))
    })
    .await?;
    ok(size)
}

async fn seating_map(
    State(s): State<AppState>,
    Path(m): Path<String>,
    Query(q): Query<RoomQuery>,
    h: HeaderMap,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, move |st, who| {
        let room = room_or_own(st, who, q.room);
        let (width, height) = st.scene_size_of(&who.id);
        let map = st.seating_map_in(&room, (width, height))?;
        Ok(json!({
            "room": room,
            "sceneSize": Size { width, height },
            "seatingMap": map,
        }))
    })
    .await?)
}

async fn get_scene(
    State(s): State<AppState>,
    Path(m): Path<String>,
    Query(q): Query<RoomQuery>,
    h: HeaderMap,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, move |st, who| {
        let room = room_or_own(st, who, q.room);
        let live = st.meeting.live(&room).ok_or_else(|| {
            ServiceError::Refused(crate::meeting::Refusal::UnknownRoom(room.clone()).into())
        })?;
        Ok(json!({ "room": room, "scene": live.compositor().scene().id }))
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SceneBody {
    scene: String,
}

async fn change_scene(
    State(s): State<AppState>,
    Path(m): Path<String>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    let req: SceneBody = body(b, s.runtime.config().limits.max_body_bytes)?;
    let scene = s.runtime.scene(&req.scene)?;
    ok(s.op(who, true, move |st, who| {
        let waiting = st.meeting.change_scene(&who.id, scene)?;
        let room = st.room_of(&who.id);
        let id = st
            .meeting
            .live(&room)
            .map(|l| l.compositor().scene().id.clone());
        Ok(json!({ "room": room, "scene": id, "waiting": waiting }))
    })
    .await?)
}

async fn get_seats(
    State(s): State<AppState>,
    Path(m): Path<String>,
    Query(q): Query<RoomQuery>,
    h: HeaderMap,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, move |st, who| {
        let room = room_or_own(st, who, q.room);
        let layout = st.meeting.seat_layout(&room).ok_or_else(|| {
            ServiceError::Refused(crate::meeting::Refusal::UnknownRoom(room.clone()).into())
        })?;
        Ok(json!({ "room": room, "layout": layout }))
    })
    .await?)
}

/// `POST togetherMode/seats`: one change of the caller's room's seats.
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "camelCase", deny_unknown_fields)]
enum SeatChange {
    /// Move a seated participant to a free seat (index into the scene's seats).
    #[serde(rename_all = "camelCase")]
    Assign { participant_id: String, seat: usize },
    /// Swap two seated participants.
    #[serde(rename_all = "camelCase")]
    Swap { participant_ids: [String; 2] },
    /// Reserve seats for organizers, co-organizers and presenters (`none`, `N`,
    /// `seats:I,J`).
    Reserve { reservation: String },
    /// Apply a saved layout (`{ id: seatingOrder }`).
    ApplyLayout { layout: SeatLayout },
}

async fn change_seats(
    State(s): State<AppState>,
    Path(m): Path<String>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    let change: SeatChange = body(b, s.runtime.config().limits.max_body_bytes)?;
    let skipped = s
        .op(who, true, move |st, who| {
            let by = who.id.as_str();
            match change {
                SeatChange::Assign {
                    participant_id,
                    seat,
                } => st.meeting.assign_seat(by, &participant_id, seat)?,
                SeatChange::Swap {
                    participant_ids: [a, b],
                } => st.meeting.swap_seats(by, &a, &b)?,
                SeatChange::Reserve { reservation } => {
                    let r: Reservation = reservation.parse().map_err(
                        |e: crate::seating::ReservationParseError| {
                            ServiceError::BadRequest(e.to_string())
                        },
                    )?;
                    st.meeting.set_reservation(by, r)?;
                }
                SeatChange::ApplyLayout { layout } => {
                    return Ok(st.meeting.apply_seat_layout(by, &layout)?);
                }
            }
            Ok(Vec::new())
        })
        .await?;
    ok(json!({ "skipped": skipped }))
}

// ---------------------------------------------------------------------------------------------
// Breakout rooms

async fn list_rooms(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, |st, who| {
        Ok(st.meeting.get_breakout_rooms(&who.id)?)
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateRoom {
    thread_id: String,
    display_name: String,
    #[serde(default = "yes")]
    auto_move_participant_to_breakout_room: bool,
    scene: Option<String>,
}

fn yes() -> bool {
    true
}

async fn create_room(
    State(s): State<AppState>,
    Path(m): Path<String>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    let req: CreateRoom = body(b, s.runtime.config().limits.max_body_bytes)?;
    let scene = req
        .scene
        .as_deref()
        .map(|sc| s.runtime.scene(sc))
        .transpose()?;
    let room = s
        .op(who, true, move |st, who| {
            let mut spec = RoomSpec::new(req.thread_id.clone(), req.display_name)
                .with_auto_move(req.auto_move_participant_to_breakout_room);
            if let Some(sc) = scene {
                spec = spec.with_scene(sc);
            }
            st.meeting.create_room(&who.id, spec)?;
            Ok(st.meeting.breakout_room(&req.thread_id).cloned())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(room)).into_response())
}

async fn assigned_room(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, |st, who| {
        Ok(st.meeting.assigned_breakout_room(&who.id)?)
    })
    .await?)
}

async fn own_settings(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, |st, who| {
        Ok(st.meeting.breakout_room_settings(&who.id)?)
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AssignBody {
    participant_id: String,
    /// `null`: unassign.
    thread_id: Option<String>,
}

async fn assign(
    State(s): State<AppState>,
    Path(m): Path<String>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    let req: AssignBody = body(b, s.runtime.config().limits.max_body_bytes)?;
    s.op(who, true, move |st, who| {
        Ok(st
            .meeting
            .assign(&who.id, &req.participant_id, req.thread_id.as_deref())?)
    })
    .await?;
    no_content()
}

async fn return_to_main(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    s.op(who, true, |st, who| {
        Ok(st.meeting.return_to_main(&who.id)?)
    })
    .await?;
    no_content()
}

async fn open_room(
    State(s): State<AppState>,
    Path((m, thread)): Path<(String, String)>,
    h: HeaderMap,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, move |st, who| {
        st.meeting.open_room(&who.id, &thread)?;
        Ok(st.meeting.breakout_room(&thread).cloned())
    })
    .await?)
}

async fn close_room(
    State(s): State<AppState>,
    Path((m, thread)): Path<(String, String)>,
    h: HeaderMap,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, move |st, who| {
        st.meeting.close_room(&who.id, &thread)?;
        Ok(st.meeting.breakout_room(&thread).cloned())
    })
    .await?)
}

async fn join_room(
    State(s): State<AppState>,
    Path((m, thread)): Path<(String, String)>,
    h: HeaderMap,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, move |st, who| {
        st.meeting.join_room(&who.id, &thread)?;
        st.participant_info(&who.id)
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsBody {
    /// End time on the meeting clock (µs); absent or `null`: none.
    #[serde(default)]
    room_end_time_us: Option<i64>,
    #[serde(default)]
    disable_return_to_main_meeting: bool,
}

async fn set_settings(
    State(s): State<AppState>,
    Path((m, thread)): Path<(String, String)>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    let req: SettingsBody = body(b, s.runtime.config().limits.max_body_bytes)?;
    let settings = RoomSettings {
        room_end_time_us: req.room_end_time_us,
        disable_return_to_main_meeting: req.disable_return_to_main_meeting,
    };
    s.op(who, true, move |st, who| {
        Ok(st.meeting.set_room_settings(&who.id, &thread, settings)?)
    })
    .await?;
    ok(settings)
}

async fn managers(State(s): State<AppState>, Path(m): Path<String>, h: HeaderMap) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, |st, who| {
        st.participant_info(&who.id)?;
        Ok(json!({ "managers": st.meeting.breakout_room_managers() }))
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ManagerBody {
    participant_id: String,
}

async fn add_manager(
    State(s): State<AppState>,
    Path(m): Path<String>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    let req: ManagerBody = body(b, s.runtime.config().limits.max_body_bytes)?;
    ok(s.op(who, true, move |st, who| {
        st.meeting
            .add_breakout_room_manager(&who.id, &req.participant_id)?;
        Ok(json!({ "managers": st.meeting.breakout_room_managers() }))
    })
    .await?)
}

async fn remove_manager(
    State(s): State<AppState>,
    Path((m, participant)): Path<(String, String)>,
    h: HeaderMap,
) -> Reply {
    let who = s.authorize(&h, &m)?;
    ok(s.op(who, true, move |st, who| {
        st.meeting
            .remove_breakout_room_manager(&who.id, &participant)?;
        Ok(json!({ "managers": st.meeting.breakout_room_managers() }))
    })
    .await?)
}

/// A JSON value (for tests and the events module).
pub fn size_json(size: (u32, u32)) -> Value {
    json!({ "width": size.0, "height": size.1 })
}
