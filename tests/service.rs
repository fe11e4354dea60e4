//! The service over real HTTP and WebSocket (issue 18): the server runs in-process on
//! 127.0.0.1:0; a small blocking HTTP client and tungstenite drive it. Identity and rights,
//! every control route's codes and bodies, events in seq order with each client's own seating
//! map, recorded pixels, meetings ending, limits, and `together serve` / `together token` as
//! processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use together_mode::frame::{Frame, PixelFormat};
use together_mode::io::Y4mReader;
use together_mode::meeting::IdentityKind;
use together_mode::seating::Role;
use together_mode::service::{Authority, Claims, Identity, RunningService, Service, ServiceConfig};
use together_mode::SegmentMode;

const KEY: &str = "a test key that is at least 32 bytes long";
const WAIT: Duration = Duration::from_secs(20);

fn config() -> ServiceConfig {
    ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        key: Some(KEY.into()),
        segment: SegmentMode::None,
        output_width: 320,
        output_height: 180,
        fps: 20,
        ..ServiceConfig::default()
    }
}

fn start(c: ServiceConfig) -> RunningService {
    Service::new(c).unwrap().spawn().unwrap()
}

fn token(s: &RunningService, meeting: &str, id: &str, role: Role) -> String {
    s.authority().mint(meeting, id, role, 600).unwrap()
}

fn identity(meeting: &str, id: &str, role: Role) -> Identity {
    Identity {
        id: id.into(),
        kind: IdentityKind::from_raw_id(id),
        role,
        meeting: meeting.into(),
    }
}

/// One HTTP/1.1 request (Connection: close); the status and the JSON body (null if none).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req += &format!("Authorization: Bearer {t}\r\n");
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        req += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(payload)
    } else {
        payload.to_string()
    };
    (
        status,
        serde_json::from_str(&payload).unwrap_or(Value::Null),
    )
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out += &rest[..n];
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

struct Api {
    addr: SocketAddr,
    meeting: String,
}

impl Api {
    fn call(&self, method: &str, route: &str, tok: &str, body: Option<Value>) -> (u16, Value) {
        let path = format!("/api/meetings/{}/{route}", self.meeting);
        let body = body.map(|b| b.to_string());
        http(self.addr, method, &path, Some(tok), body.as_deref())
    }
    fn get(&self, route: &str, tok: &str) -> (u16, Value) {
        self.call("GET", route, tok, None)
    }
    fn post(&self, route: &str, tok: &str, body: Value) -> (u16, Value) {
        self.call("POST", route, tok, Some(body))
    }
    fn put(&self, route: &str, tok: &str, body: Value) -> (u16, Value) {
        self.call("PUT", route, tok, Some(body))
    }
}

/// The status and subcode of an error response.
fn err(r: (u16, Value)) -> (u16, u64) {
    assert_eq!(r.1["code"].as_u64(), Some(u64::from(r.0)), "{r:?}");
    (r.0, r.1["subcode"].as_u64().unwrap_or(0))
}

fn ok(r: (u16, Value)) -> Value {
    assert!((200..300).contains(&r.0), "{r:?}");
    r.1
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn solid(y: u8, u: u8, v: u8) -> Frame {
    let mut f = Frame::new(PixelFormat::I420, 64, 48).unwrap();
    let mut m = f.as_mut();
    for (i, value) in [y, u, v].into_iter().enumerate() {
        m.plane_mut(i).fill(value);
    }
    f
}

// ---------------------------------------------------------------------------------------------

#[test]
fn unauthenticated_forged_expired_and_wrong_meeting_calls_are_refused() {
    let s = start(config());
    let addr = s.addr();
    let join = |tok: Option<&str>| http(addr, "POST", "/api/meetings/m1/join", tok, None);
    assert_eq!(err(join(None)), (401, 46501));
    // Not a bearer header.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        raw,
        "POST /api/meetings/m1/join HTTP/1.1\r\nHost: x\r\nAuthorization: Basic abc\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    raw.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 401"), "{out}");
    assert!(out.contains("46502"), "{out}");
    assert_eq!(err(join(Some("garbage"))), (401, 46502));
    let forged = Authority::new(b"another key, 32 bytes or longer!!")
        .unwrap()
        .mint("m1", "8:orgid:olivia", Role::Organizer, 600)
        .unwrap();
    assert_eq!(err(join(Some(&forged))), (401, 46503));
    let now = together_mode::service::auth::now_s();
    let expired = s
        .authority()
        .mint_claims(&Claims {
            sub: "8:orgid:olivia".into(),
            mtg: "m1".into(),
            role: "organizer".into(),
            iat: now - 7200,
            exp: now - 3600,
        })
        .unwrap();
    assert_eq!(err(join(Some(&expired))), (401, 46504));
    let other = token(&s, "m2", "8:orgid:olivia", Role::Organizer);
    assert_eq!(err(join(Some(&other))), (403, 46505));
    let good = token(&s, "m1", "8:orgid:olivia", Role::Organizer);
    assert_eq!(ok(join(Some(&good)))["role"], "organizer");
    let bad_id = http(addr, "POST", "/api/meetings/a%21b/join", Some(&good), None);
    assert_eq!(err(bad_id), (400, 46507));
    assert_eq!(err(http(addr, "GET", "/nothing", None, None)), (404, 46516));
    // Nothing was made for the refused calls: one meeting, the one joined.
    assert_eq!(s.runtime().meeting_count(), 1);
}

#[test]
fn identity_and_role_come_only_from_the_token() {
    let s = start(config());
    let api = Api {
        addr: s.addr(),
        meeting: "m1".into(),
    };
    let alice = token(&s, "m1", "8:acs:alice", Role::Attendee);
    // Fields claiming another identity or role are refused or ignored.
    let claimed = json!({"participantId": "8:orgid:boss", "role": "organizer"});
    let me = ok(api.post("join", &alice, claimed.clone()));
    assert_eq!(me["participantId"], "8:acs:alice");
    assert_eq!(me["role"], "attendee");
    assert_eq!(me["kind"], "communicationServices");
    let started = api.call(
        "POST",
        "togetherMode/start?participantId=8:orgid:boss&role=organizer",
        &alice,
        Some(claimed),
    );
    assert_eq!(err(started), (403, 46306));
    // Nobody but the token's holder is in the meeting.
    let (code, _) = api.get("me", &token(&s, "m1", "8:orgid:boss", Role::Organizer));
    assert_eq!(code, 404);
    // An attendee token of a Microsoft 365 user may not start either.
    let bob = token(&s, "m1", "8:orgid:bob", Role::Attendee);
    ok(api.post("join", &bob, json!({})));
    assert_eq!(
        err(api.post("togetherMode/start", &bob, json!({}))),
        (403, 46303)
    );
    // Frames go in as the identity's own.
    s.runtime()
        .start_video(&identity("m1", "8:acs:alice", Role::Attendee))
        .unwrap();
    assert_eq!(ok(api.get("me", &alice))["video"], true);
    assert_eq!(ok(api.get("me", &bob))["video"], false);
}

#[test]
fn control_routes_follow_the_rights_table_with_acs_bodies() {
    let s = start(config());
    let api = Api {
        addr: s.addr(),
        meeting: "m1".into(),
    };
    let olivia = token(&s, "m1", "8:orgid:olivia", Role::Organizer);
    let pat = token(&s, "m1", "8:orgid:pat", Role::Presenter);
    let alice = token(&s, "m1", "8:acs:alice", Role::Attendee);
    let bob = token(&s, "m1", "8:orgid:bob", Role::Attendee);
    for t in [&olivia, &pat, &alice, &bob] {
        ok(api.post("join", t, json!({})));
    }
    // Join twice: the same participant.
    assert_eq!(ok(api.post("join", &alice, json!({})))["room"], "main");
    let rt = s.runtime();
    for (id, role) in [
        ("8:orgid:olivia", Role::Organizer),
        ("8:acs:alice", Role::Attendee),
        ("8:orgid:bob", Role::Attendee),
    ] {
        rt.start_video(&identity("m1", id, role)).unwrap();
    }

    // Start and stream.
    assert_eq!(ok(api.get("togetherMode/streams", &alice)), json!([]));
    let stream = ok(api.post("togetherMode/start", &olivia, json!({})));
    assert_eq!(stream["room"], "main");
    assert_eq!(stream["mediaStreamType"], "Video");
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(320), Some(180))
    );
    assert_eq!(ok(api.get("togetherMode/streams", &alice)), json!([stream]));
    let unknown = api.get("togetherMode/streams?room=nope", &alice);
    assert_eq!(err(unknown), (404, 46402));

    // Scene size and seating map: each caller's own size.
    assert_eq!(
        ok(api.put(
            "togetherMode/sceneSize",
            &alice,
            json!({"width": 640, "height": 360})
        )),
        json!({"width": 640, "height": 360})
    );
    assert_eq!(
        ok(api.get("togetherMode/sceneSize", &alice)),
        json!({"width": 640, "height": 360})
    );
    let zero = api.put(
        "togetherMode/sceneSize",
        &alice,
        json!({"width": 0, "height": 360}),
    );
    assert_eq!(err(zero), (400, 46405));
    ok(api.put(
        "togetherMode/sceneSize",
        &bob,
        json!({"width": 320, "height": 180}),
    ));
    let a_map = ok(api.get("togetherMode/seatingMap", &alice));
    let b_map = ok(api.get("togetherMode/seatingMap", &bob));
    assert_eq!(a_map["seatingMap"].as_object().unwrap().len(), 3);
    let aw = a_map["seatingMap"]["8:acs:alice"]["width"]
        .as_f64()
        .unwrap();
    let bw = b_map["seatingMap"]["8:acs:alice"]["width"]
        .as_f64()
        .unwrap();
    assert!((aw - 2.0 * bw).abs() < 0.02, "{aw} vs {bw}");

    // Scene: Teams-only for Communication Services users, role for the rest.
    let grid = json!({"scene": "builtin:grid"});
    assert_eq!(
        err(api.put("togetherMode/scene", &alice, grid.clone())),
        (403, 46417)
    );
    assert_eq!(
        err(api.put("togetherMode/scene", &bob, grid.clone())),
        (403, 46303)
    );
    let bad = json!({"scene": "/etc"});
    assert_eq!(err(api.put("togetherMode/scene", &pat, bad)), (400, 46517));
    let before = ok(api.get("togetherMode/scene", &alice))["scene"].clone();
    let changed = ok(api.put("togetherMode/scene", &pat, grid))["scene"].clone();
    assert_ne!(changed, before);
    assert_eq!(ok(api.get("togetherMode/scene", &alice))["scene"], changed);

    // Seats.
    let swap = json!({"action": "swap", "participantIds": ["8:acs:alice", "8:orgid:bob"]});
    let before = ok(api.get("togetherMode/seats", &alice))["layout"].clone();
    assert_eq!(
        err(api.post("togetherMode/seats", &bob, swap.clone())),
        (403, 46303)
    );
    ok(api.post("togetherMode/seats", &olivia, swap));
    let after = ok(api.get("togetherMode/seats", &alice))["layout"].clone();
    assert_eq!(after["8:acs:alice"], before["8:orgid:bob"]);
    assert_eq!(after["8:orgid:bob"], before["8:acs:alice"]);
    let taken = json!({"action": "assign", "participantId": "8:acs:alice", "seat": 0});
    let r = api.post("togetherMode/seats", &olivia, taken);
    assert!(r.0 == 200 || err(r.clone()) == (409, 46406), "{r:?}");
    let nonsense = json!({"action": "fly"});
    assert_eq!(
        err(api.post("togetherMode/seats", &olivia, nonsense)),
        (400, 46508)
    );

    // Breakout rooms.
    let room = json!({"threadId": "r1", "displayName": "Room 1"});
    assert_eq!(
        err(api.post("breakoutRooms", &alice, room.clone())),
        (403, 46417)
    );
    assert_eq!(
        err(api.post("breakoutRooms", &pat, room.clone())),
        (403, 46303)
    );
    let created = api.post("breakoutRooms", &olivia, room.clone());
    assert_eq!(created.0, 201);
    assert_eq!(created.1["state"], "closed");
    assert_eq!(err(api.post("breakoutRooms", &olivia, room)), (409, 46411));
    assert_eq!(err(api.get("breakoutRooms", &alice)), (403, 46417));
    assert_eq!(
        ok(api.get("breakoutRooms", &olivia))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(ok(api.get("breakoutRooms/assigned", &alice)), Value::Null);
    let assign = json!({"participantId": "8:acs:alice", "threadId": "r1"});
    assert_eq!(
        err(api.post("breakoutRooms/assign", &bob, assign.clone())),
        (403, 46303)
    );
    assert_eq!(api.post("breakoutRooms/assign", &olivia, assign).0, 204);
    assert_eq!(
        ok(api.get("breakoutRooms/assigned", &alice))["threadId"],
        "r1"
    );
    assert_eq!(
        err(api.post("breakoutRooms/r1/join", &alice, json!({}))),
        (409, 46413)
    );
    assert_eq!(
        ok(api.post("breakoutRooms/r1/open", &olivia, json!({})))["state"],
        "open"
    );
    // Auto-move: alice is in r1 now.
    assert_eq!(ok(api.get("me", &alice))["room"], "r1");
    assert_eq!(
        err(api.post("breakoutRooms/r1/join", &bob, json!({}))),
        (403, 46414)
    );
    let settings = json!({"disableReturnToMainMeeting": true});
    assert_eq!(
        ok(api.put("breakoutRooms/r1/settings", &olivia, settings))["disableReturnToMainMeeting"],
        true
    );
    assert_eq!(
        ok(api.get("breakoutRooms/settings", &alice))["disableReturnToMainMeeting"],
        true
    );
    assert_eq!(
        err(api.post("breakoutRooms/return", &alice, json!({}))),
        (403, 46415)
    );
    assert_eq!(
        err(api.post("breakoutRooms/return", &bob, json!({}))),
        (409, 46416)
    );
    ok(api.put("breakoutRooms/r1/settings", &olivia, json!({})));
    assert_eq!(api.post("breakoutRooms/return", &alice, json!({})).0, 204);
    assert_eq!(ok(api.get("me", &alice))["room"], "main");
    ok(api.post("breakoutRooms/r1/join", &olivia, json!({})));
    assert_eq!(ok(api.get("me", &olivia))["room"], "r1");
    assert_eq!(
        ok(api.post("breakoutRooms/r1/close", &olivia, json!({})))["state"],
        "closed"
    );
    assert_eq!(ok(api.get("me", &olivia))["room"], "main");
    assert_eq!(
        err(api.post("breakoutRooms/r9/open", &olivia, json!({}))),
        (404, 46402)
    );

    // Managers.
    let name_pat = json!({"participantId": "8:orgid:pat"});
    assert_eq!(
        err(api.post("breakoutRoomManagers", &pat, name_pat.clone())),
        (403, 46303)
    );
    let named = ok(api.post("breakoutRoomManagers", &olivia, name_pat));
    assert_eq!(named["managers"], json!(["8:orgid:pat"]));
    assert_eq!(
        ok(api.get("breakoutRooms", &pat)).as_array().unwrap().len(),
        1
    );
    let name_bob = json!({"participantId": "8:orgid:bob"});
    assert_eq!(
        err(api.post("breakoutRoomManagers", &olivia, name_bob)),
        (409, 46418)
    );
    let removed = api.call("DELETE", "breakoutRoomManagers/8:orgid:pat", &olivia, None);
    assert_eq!(ok(removed)["managers"], json!([]));
    assert_eq!(err(api.get("breakoutRooms", &pat)), (403, 46303));

    // Bodies: not JSON, too large.
    let r = http(
        s.addr(),
        "PUT",
        "/api/meetings/m1/togetherMode/sceneSize",
        Some(&alice),
        Some("{"),
    );
    assert_eq!(err(r), (400, 46508));
    let big = format!("{{\"scene\": \"{}\"}}", "x".repeat(70_000));
    let r = http(
        s.addr(),
        "PUT",
        "/api/meetings/m1/togetherMode/scene",
        Some(&olivia),
        Some(&big),
    );
    assert_eq!(err(r), (413, 46509));

    // Leave.
    assert_eq!(api.post("leave", &bob, json!({})).0, 204);
    assert_eq!(err(api.get("me", &bob)), (404, 46401));
}

// ---------------------------------------------------------------------------------------------
// Events

type Ws = tungstenite::WebSocket<TcpStream>;

fn connect(addr: SocketAddr, path: &str) -> Result<Ws, tungstenite::Error> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let url = format!("ws://{addr}{path}");
    tungstenite::client(url, stream)
        .map(|(ws, _)| ws)
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => {
                tungstenite::Error::Io(std::io::ErrorKind::WouldBlock.into())
            }
        })
}

fn next_json(ws: &mut Ws) -> Value {
    loop {
        match ws.read().expect("a message within the wait") {
            tungstenite::Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            tungstenite::Message::Close(_) => panic!("closed"),
            _ => {}
        }
    }
}

/// Reads events until `pred` holds for one (bounded by the read timeout and a count);
/// returns every message read.
fn read_until(ws: &mut Ws, mut pred: impl FnMut(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..500 {
        let v = next_json(ws);
        let done = pred(&v);
        seen.push(v);
        if done {
            return seen;
        }
    }
    panic!("no such event in 500 messages: {seen:?}");
}

#[test]
fn events_arrive_in_seq_order_with_each_clients_own_seating_map() {
    let s = start(config());
    let addr = s.addr();
    let api = Api {
        addr,
        meeting: "m1".into(),
    };
    let olivia = token(&s, "m1", "8:orgid:olivia", Role::Organizer);
    let alice = token(&s, "m1", "8:acs:alice", Role::Attendee);

    // A bad token is refused before the upgrade.
    match connect(addr, "/api/meetings/m1/events?token=garbage") {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    // Olivia: token in the query, 640x360. Alice: token as the first message, 320x180.
    let mut wo = connect(
        addr,
        &format!("/api/meetings/m1/events?token={olivia}&sceneSize=640x360"),
    )
    .unwrap();
    let hello_o = next_json(&mut wo);
    assert_eq!(hello_o["event"], "connected");
    assert_eq!(hello_o["participantId"], "8:orgid:olivia");
    let mut wa = connect(addr, "/api/meetings/m1/events?sceneSize=320x180").unwrap();
    wa.send(tungstenite::Message::Text(
        json!({"token": alice}).to_string().into(),
    ))
    .unwrap();
    let hello_a = next_json(&mut wa);
    assert_eq!(hello_a["participantId"], "8:acs:alice");
    assert_eq!(hello_a["sceneSize"], json!({"width": 320, "height": 180}));

    ok(api.post("join", &olivia, json!({})));
    ok(api.post("join", &alice, json!({})));
    for (id, role) in [
        ("8:orgid:olivia", Role::Organizer),
        ("8:acs:alice", Role::Attendee),
    ] {
        s.runtime().start_video(&identity("m1", id, role)).unwrap();
    }
    ok(api.post("togetherMode/start", &olivia, json!({})));
    ok(api.post(
        "breakoutRooms",
        &olivia,
        json!({"threadId": "r1", "displayName": "Room 1"}),
    ));
    ok(api.post(
        "breakoutRooms/assign",
        &olivia,
        json!({"participantId": "8:acs:alice", "threadId": "r1"}),
    ));
    ok(api.post("breakoutRooms/r1/open", &olivia, json!({})));
    ok(api.post("breakoutRooms/return", &alice, json!({})));

    let two_seated = |v: &Value| {
        v["event"] == "togetherModeSeatingUpdated"
            && v["seatingMap"].as_object().is_some_and(|m| m.len() == 2)
    };
    let last_is_return = |v: &Value| {
        v["event"] == "breakoutRoomsUpdated"
            && v["type"] == "join"
            && v["data"]["threadId"] == "main"
    };
    let mut events_o = Vec::new();
    let mut done = (false, false, false);
    for v in read_until(&mut wo, |v| {
        done.0 |= two_seated(v);
        done.1 |= v["event"] == "togetherModeStreamsUpdated";
        done.2 |= v["event"] == "breakoutRoomsUpdated"
            && v["data"]
                .as_array()
                .is_some_and(|r| r.first().is_some_and(|r| r["state"] == "open"));
        done.0 && done.1 && done.2
    }) {
        events_o.push(v);
    }
    let events_a = read_until(&mut wa, last_is_return);

    for (hello, events) in [(&hello_o, &events_o), (&hello_a, &events_a)] {
        let mut last = hello["seq"].as_u64().unwrap();
        for e in events {
            let seq = e["seq"].as_u64().unwrap();
            assert!(seq > last, "seq {seq} after {last}: {events:?}");
            last = seq;
        }
    }
    // Each client's map is for its own size: the same seat, twice as large for Olivia.
    let map_of = |events: &[Value]| {
        events
            .iter()
            .rev()
            .find(|v| two_seated(v) && v["room"] == "main")
            .map(|v| (v["sceneSize"].clone(), v["seatingMap"].clone()))
            .unwrap()
    };
    let (size_o, map_o) = map_of(&events_o);
    let (size_a, map_a) = map_of(&events_a);
    assert_eq!(size_o, json!({"width": 640, "height": 360}));
    assert_eq!(size_a, json!({"width": 320, "height": 180}));
    for id in ["8:orgid:olivia", "8:acs:alice"] {
        for k in ["top", "left", "width", "height"] {
            let (o, a) = (
                map_o[id][k].as_f64().unwrap(),
                map_a[id][k].as_f64().unwrap(),
            );
            assert!((o - 2.0 * a).abs() < 0.02, "{id} {k}: {o} vs {a}");
        }
    }
    // The WebSocket's sizes are the callers' own: the HTTP map agrees with the events'.
    let http_o = ok(api.get("togetherMode/seatingMap", &olivia));
    assert_eq!(http_o["sceneSize"], size_o);
    // The breakout room list goes to the organizer only; the attendee sees their own
    // assignment and moves.
    assert!(
        events_a.iter().all(|v| v["type"] != "breakoutRooms"),
        "{events_a:?}"
    );
    assert!(events_a
        .iter()
        .any(|v| v["type"] == "assignedBreakoutRooms" && v["data"]["threadId"] == "r1"));
    assert!(events_a
        .iter()
        .any(|v| v["type"] == "join" && v["data"]["threadId"] == "r1"));
    assert!(events_o
        .iter()
        .any(|v| v["type"] == "breakoutRooms" && v["data"][0]["threadId"] == "r1"));
    assert!(events_o
        .iter()
        .all(|v| v["type"] != "assignedBreakoutRooms"));

    // A size message is answered with the map in the new size.
    wa.send(tungstenite::Message::Text(
        json!({"sceneSize": {"width": 960, "height": 540}})
            .to_string()
            .into(),
    ))
    .unwrap();
    let reply = read_until(&mut wa, |v| v["reply"] == "sceneSize")
        .pop()
        .unwrap();
    let w = reply["seatingMap"]["8:acs:alice"]["width"]
        .as_f64()
        .unwrap();
    let w_small = map_a["8:acs:alice"]["width"].as_f64().unwrap();
    assert!((w - 3.0 * w_small).abs() < 0.03, "{w} vs {w_small}");
    wa.send(tungstenite::Message::Text(
        json!({"sceneSize": {"width": 0, "height": 540}})
            .to_string()
            .into(),
    ))
    .unwrap();
    let e = read_until(&mut wa, |v| v.get("error").is_some())
        .pop()
        .unwrap();
    assert_eq!(e["error"]["subcode"], 46405);

    // A scene change reaches both, each map in its client's size (Olivia 640x360, Alice now
    // 960x540).
    ok(api.put(
        "togetherMode/scene",
        &olivia,
        json!({"scene": "builtin:grid"}),
    ));
    let scene_event = |ws: &mut Ws| {
        read_until(ws, |v| v["event"] == "togetherModeSceneUpdated")
            .pop()
            .unwrap()
    };
    let (so, sa) = (scene_event(&mut wo), scene_event(&mut wa));
    assert_eq!(so["sceneSize"], json!({"width": 640, "height": 360}));
    assert_eq!(sa["sceneSize"], json!({"width": 960, "height": 540}));
    assert!(so["seq"] == sa["seq"] && so["scene"] == sa["scene"]);
    let (mo, ma) = (&so["seatingMap"], &sa["seatingMap"]);
    assert_eq!(mo.as_object().unwrap().len(), 2);
    for id in ["8:orgid:olivia", "8:acs:alice"] {
        for k in ["top", "left", "width", "height"] {
            let (o, a) = (mo[id][k].as_f64().unwrap(), ma[id][k].as_f64().unwrap());
            assert!((3.0 * o - 2.0 * a).abs() < 0.05, "{id} {k}: {o} vs {a}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Recording

/// The frames of a Y4M file.
fn frames(path: &Path) -> Vec<Frame> {
    let mut r = Y4mReader::new(BufReader::new(std::fs::File::open(path).unwrap())).unwrap();
    let mut out = Vec::new();
    while let Some(f) = r.read_frame().unwrap() {
        out.push(f);
    }
    out
}

/// The mean Y, U, V of the middle half of a rectangle of an I420 frame.
fn mean_yuv(f: &Frame, rect: &Value) -> [f64; 3] {
    let (x, y) = (
        rect["left"].as_f64().unwrap(),
        rect["top"].as_f64().unwrap(),
    );
    let (w, h) = (
        rect["width"].as_f64().unwrap(),
        rect["height"].as_f64().unwrap(),
    );
    let (x0, y0) = ((x + w / 4.0) as usize, (y + h / 4.0) as usize);
    let (x1, y1) = ((x + 3.0 * w / 4.0) as usize, (y + 3.0 * h / 4.0) as usize);
    let view = f.as_ref();
    let planes = view.planes();
    let mut out = [0.0; 3];
    for (i, plane) in planes.iter().enumerate() {
        let sub = usize::from(i > 0);
        let (mut sum, mut n) = (0.0, 0.0);
        for yy in (y0 >> sub)..(y1 >> sub) {
            let row = plane.row(yy);
            for &p in &row[(x0 >> sub)..(x1 >> sub)] {
                sum += f64::from(p);
                n += 1.0;
            }
        }
        out[i] = sum / n;
    }
    out
}

fn close_to(got: [f64; 3], want: [u8; 3]) -> bool {
    got.iter()
        .zip(want)
        .all(|(g, w)| (g - f64::from(w)).abs() <= 6.0)
}

#[test]
fn recording_shows_a_participant_in_the_seat_the_seating_map_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config();
    c.record = Some(dir.path().to_path_buf());
    let s = start(c);
    let api = Api {
        addr: s.addr(),
        meeting: "rec".into(),
    };
    let olivia = token(&s, "rec", "8:orgid:olivia", Role::Organizer);
    let alice = token(&s, "rec", "8:acs:alice", Role::Attendee);
    ok(api.post("join", &olivia, json!({})));
    let who = identity("rec", "8:acs:alice", Role::Attendee);
    let red = [81u8, 90, 240];
    s.runtime().start_video(&who).unwrap();
    s.runtime()
        .push_frame(&who, &solid(red[0], red[1], red[2]).as_ref())
        .unwrap();
    ok(api.post("togetherMode/start", &olivia, json!({})));
    ok(api.put(
        "togetherMode/sceneSize",
        &alice,
        json!({"width": 320, "height": 180}),
    ));
    let main_map = ok(api.get("togetherMode/seatingMap", &alice));
    let main_rect = main_map["seatingMap"]["8:acs:alice"].clone();
    assert!(main_rect.is_object(), "{main_map}");
    let main_file = dir.path().join("rec").join("main.y4m");
    let room_file = dir.path().join("rec").join("r1.y4m");
    wait_for("main.y4m with frames", || {
        std::fs::metadata(&main_file).is_ok_and(|m| m.len() > 3 * 320 * 180 * 3 / 2)
    });
    assert!(
        !room_file.exists(),
        "a room's file appears when it first renders"
    );

    // Alice moves to a breakout room; Olivia joins it and starts Together Mode there.
    ok(api.post(
        "breakoutRooms",
        &olivia,
        json!({"threadId": "r1", "displayName": "Room 1"}),
    ));
    ok(api.post(
        "breakoutRooms/assign",
        &olivia,
        json!({"participantId": "8:acs:alice", "threadId": "r1"}),
    ));
    ok(api.post("breakoutRooms/r1/open", &olivia, json!({})));
    ok(api.post("breakoutRooms/r1/join", &olivia, json!({})));
    ok(api.post("togetherMode/start", &olivia, json!({})));
    let room_map = ok(api.get("togetherMode/seatingMap", &alice));
    assert_eq!(room_map["room"], "r1");
    let room_rect = room_map["seatingMap"]["8:acs:alice"].clone();
    assert!(room_rect.is_object(), "{room_map}");
    wait_for("r1.y4m with frames", || {
        std::fs::metadata(&room_file).is_ok_and(|m| m.len() > 3 * 320 * 180 * 3 / 2)
    });
    s.stop();

    let main = frames(&main_file);
    let room = frames(&room_file);
    assert!(
        main.len() >= 3 && room.len() >= 3,
        "{} {}",
        main.len(),
        room.len()
    );
    assert!((main[0].width(), main[0].height()) == (320, 180));
    let first = mean_yuv(&main[0], &main_rect);
    assert!(close_to(first, red), "main seat {first:?}");
    let last = mean_yuv(room.last().unwrap(), &room_rect);
    assert!(close_to(last, red), "r1 seat {last:?}");
    // Not everywhere: a rectangle of the same size away from the seat is not red.
    let mut away = main_rect.clone();
    let left = main_rect["left"].as_f64().unwrap();
    away["left"] = json!(if left > 160.0 {
        0.0
    } else {
        320.0 - main_rect["width"].as_f64().unwrap()
    });
    assert!(!close_to(mean_yuv(&main[0], &away), red));
}

// ---------------------------------------------------------------------------------------------
// Lifetime and limits

#[test]
fn meetings_end_when_empty_and_shutdown_stops_every_thread() {
    let mut c = config();
    c.limits.empty_meeting_ms = 50;
    let s = start(c);
    let api = Api {
        addr: s.addr(),
        meeting: "short".into(),
    };
    let t = token(&s, "short", "8:orgid:olivia", Role::Organizer);
    ok(api.post("join", &t, json!({})));
    assert_eq!(
        (s.runtime().meeting_count(), s.runtime().live_threads()),
        (1, 1)
    );
    assert_eq!(api.post("leave", &t, json!({})).0, 204);
    let rt = s.runtime().clone();
    wait_for("the empty meeting to end", || {
        rt.meeting_count() == 0 && rt.live_threads() == 0
    });
    // Two meetings with people in them stop at shutdown.
    for m in ["a", "b"] {
        let t = token(&s, m, "8:orgid:olivia", Role::Organizer);
        let api = Api {
            addr: s.addr(),
            meeting: m.into(),
        };
        ok(api.post("join", &t, json!({})));
    }
    assert_eq!(rt.live_threads(), 2);
    s.stop();
    assert_eq!((rt.meeting_count(), rt.live_threads()), (0, 0));
}

#[test]
fn limits_refuse_with_503() {
    let mut c = config();
    c.limits.max_meetings = 1;
    c.limits.max_publishers = 1;
    let s = start(c);
    let a = token(&s, "one", "8:orgid:a", Role::Organizer);
    let b = token(&s, "two", "8:orgid:b", Role::Organizer);
    let one = Api {
        addr: s.addr(),
        meeting: "one".into(),
    };
    let two = Api {
        addr: s.addr(),
        meeting: "two".into(),
    };
    ok(one.post("join", &a, json!({})));
    assert_eq!(err(two.post("join", &b, json!({}))), (503, 46510));
    s.runtime()
        .start_video(&identity("one", "8:orgid:a", Role::Organizer))
        .unwrap();
    let e = s
        .runtime()
        .start_video(&identity("one", "8:acs:c", Role::Attendee))
        .unwrap_err();
    assert_eq!((e.code(), e.subcode()), (503, 46511));
}

// ---------------------------------------------------------------------------------------------
// The commands

#[test]
fn serve_and_token_run_as_commands_sharing_a_key_file() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("serve.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\nsegment = \"none\"\noutput_width = 320\noutput_height = 180\n",
    )
    .unwrap();
    let exe = env!("CARGO_BIN_EXE_together");
    let together = || {
        let mut c = Command::new(exe);
        c.env("XDG_CONFIG_HOME", home.path())
            .env_remove("TOGETHER_MODE_KEY");
        c
    };
    let mint = |role: &str, id: &str| {
        let out = together()
            .args([
                "token",
                "--meeting",
                "m1",
                "--participant",
                id,
                "--role",
                role,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let olivia = mint("organizer", "8:orgid:olivia");
    let alice = mint("attendee", "8:acs:alice");
    let key = home.path().join("together-mode").join("signing-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let bad = together()
        .args([
            "token",
            "--meeting",
            "m1",
            "--participant",
            "8:acs:x",
            "--role",
            "king",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--role"));

    let mut child = together()
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(WAIT);
    let result = std::panic::catch_unwind(|| {
        let line = line.expect("serve prints its address");
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{line:?}"))
            .parse()
            .unwrap();
        let api = Api {
            addr,
            meeting: "m1".into(),
        };
        assert_eq!(
            ok(api.post("join", &olivia, json!({})))["role"],
            "organizer"
        );
        assert_eq!(ok(api.post("join", &alice, json!({})))["role"], "attendee");
        assert_eq!(
            err(api.post("togetherMode/start", &alice, json!({}))),
            (403, 46306)
        );
        let stream = ok(api.post("togetherMode/start", &olivia, json!({})));
        assert_eq!(stream["room"], "main");
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}
