//! The scenario runner: the example scenario end to end (files, frame counts, events and
//! refusals), schema errors, and the `together scenario` command.

use std::path::Path;

use together_mode::error::SceneError;
use together_mode::framing::FramingMode;
use together_mode::scenario::{Scenario, ScenarioError};
use together_mode::SegmentMode;

mod common;

/// The width, height and frame count of the Y4M file at `path`.
fn frames(path: &Path) -> (u32, u32, usize) {
    common::y4m_frames(&std::fs::read(path).unwrap())
}

#[cfg(feature = "ml")]
fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenario.json")
}

/// Its participants are cut out as by default (`auto`): bob's NV12 camera by the selfie model
/// (so the test needs the feature `ml` and the model).
#[cfg(feature = "ml")]
#[test]
fn the_example_scenario_writes_a_video_per_room_and_every_event() {
    if !common::require_model() {
        return;
    }
    let tmp = common::TestDir::new("scenario-example");
    let out = tmp.join("out");
    let report = Scenario::load(&example()).unwrap().run(&out).unwrap();
    assert_eq!(report.ticks, 90);
    let rooms: Vec<&str> = report.rooms.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(rooms, ["main", "room-a"]);
    for (_, path) in &report.rooms {
        assert_eq!(frames(path), (640, 360, 90), "{}", path.display());
    }
    let text = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, report.events + report.refused);
    let refused: Vec<(u64, u64)> = lines
        .iter()
        .filter(|l| l["event"] == "refused")
        .map(|l| (l["code"].as_u64().unwrap(), l["subcode"].as_u64().unwrap()))
        .collect();
    // ACS user start, attendee start, visitor start, ACS user's seat change (Microsoft 365
    // users only), presenter room creation, closed room join, unassigned join, attendee start
    // in the room, return to main from main.
    assert_eq!(
        refused,
        vec![
            (403, 46306),
            (403, 46303),
            (403, 46303),
            (403, 46417),
            (403, 46303),
            (409, 46413),
            (403, 46414),
            (403, 46303),
            (409, 46416)
        ]
    );
    let names: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    for want in [
        "togetherModeStreamsUpdated",
        "togetherModeSceneUpdated",
        "togetherModeSeatingUpdated",
        "breakoutRooms",
        "assignedBreakoutRooms",
        "breakoutRoomsSettings",
        "join",
        "videoFrozen",
        "videoResumed",
    ] {
        assert!(names.contains(&want), "{want} missing");
    }
    // Ticks never go back; seq counts up.
    let ticks: Vec<u64> = lines.iter().map(|l| l["tick"].as_u64().unwrap()).collect();
    assert!(ticks.windows(2).all(|w| w[0] <= w[1]));
    // room-a closes by its end time (2.5 s = tick 75): its stream is removed then.
    assert!(lines
        .iter()
        .any(|l| l["event"] == "togetherModeStreamsUpdated"
            && l["room"] == "room-a"
            && l["tick"] == 75
            && l["removed"].as_array().is_some_and(|r| r.len() == 1)));
}

fn parse(json: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(json, Path::new("."))
}

#[test]
fn schema_errors_are_typed() {
    let base =
        r#""ticks": 10, "participants": [{"id": "8:acs:a", "source": {"synthetic": {"seed": 1}}}]"#;
    let with = |events: &str| format!("{{{base}, \"events\": [{events}]}}");
    assert!(parse(&with("")).is_ok());
    assert!(matches!(
        parse(&with(
            r#"{"at": 1, "type": "join", "participant": "8:acs:zz"}"#
        )),
        Err(ScenarioError::UnknownParticipant { index: 0, .. })
    ));
    assert!(matches!(
        parse(&with(
            r#"{"at": 1, "type": "dance", "participant": "8:acs:a"}"#
        )),
        Err(ScenarioError::BadEvent { index: 0, .. })
    ));
    assert!(matches!(
        parse(&with(
            r#"{"at": 1, "type": "join", "participant": "8:acs:a", "typo": 1}"#
        )),
        Err(ScenarioError::BadEvent { .. })
    ));
    assert!(matches!(
        parse(&with(
            r#"{"at": "soon", "type": "leave", "participant": "8:acs:a"}"#
        )),
        Err(ScenarioError::BadTime { .. })
    ));
    assert!(matches!(
        parse(&with(
            r#"{"at": 10, "type": "leave", "participant": "8:acs:a"}"#
        )),
        Err(ScenarioError::AfterEnd { tick: 10, .. })
    ));
    assert!(matches!(
        parse(&with(
            r#"{"at": "400ms", "type": "leave", "participant": "8:acs:a"}"#
        )),
        Err(ScenarioError::AfterEnd { tick: 12, .. })
    ));
    assert!(matches!(
        parse(&with(
            r#"{"type": "changeScene", "by": "8:acs:a", "scene": "builtin:nope"}"#
        )),
        Err(ScenarioError::Scene { .. })
    ));
    assert!(matches!(
        parse(r#"{"ticks": 0, "participants": []}"#),
        Err(ScenarioError::BadTicks(0))
    ));
    assert!(matches!(
        parse(
            r#"{"ticks": 1, "output": {"width": 641, "height": 360, "fps": 30}, "participants": []}"#
        ),
        Err(ScenarioError::Size(_))
    ));
    assert!(matches!(
        parse(
            r#"{"ticks": 1, "participants": [{"id": "a", "role": "boss", "source": {"synthetic": {"seed": 1}}}]}"#
        ),
        Err(ScenarioError::BadRole { .. })
    ));
    assert!(matches!(
        parse(
            r#"{"ticks": 1, "participants": [{"id": "a", "source": {"synthetic": {"seed": 1}}}, {"id": "a", "source": {"synthetic": {"seed": 2}}}]}"#
        ),
        Err(ScenarioError::DuplicateParticipant(_))
    ));
    assert!(matches!(parse("{"), Err(ScenarioError::Json(_))));
    // `segment`: a mode's name, `auto` when absent.
    assert!(matches!(
        parse(r#"{"ticks": 1, "segment": "green", "participants": []}"#),
        Err(ScenarioError::Segment(_))
    ));
    for (json, mode) in [
        (r#"{"ticks": 1, "participants": []}"#, SegmentMode::Auto),
        (
            r#"{"ticks": 1, "segment": "alpha", "participants": []}"#,
            SegmentMode::Alpha,
        ),
        (
            r#"{"ticks": 1, "segment": "ml", "participants": []}"#,
            SegmentMode::Ml,
        ),
    ] {
        assert_eq!(parse(json).unwrap().segment(), mode, "{json}");
    }
    // `framing`: auto, off or a crop; `auto` when absent.
    assert!(matches!(
        parse(r#"{"ticks": 1, "framing": "on", "participants": []}"#),
        Err(ScenarioError::Framing(_))
    ));
    for (json, mode) in [
        (r#"{"ticks": 1, "participants": []}"#, FramingMode::Auto),
        (
            r#"{"ticks": 1, "framing": "off", "participants": []}"#,
            FramingMode::Off,
        ),
        (
            r#"{"ticks": 1, "framing": "0,10,200,300", "participants": []}"#,
            FramingMode::Fixed {
                x: 0,
                y: 10,
                width: 200,
                height: 300,
            },
        ),
    ] {
        assert_eq!(parse(json).unwrap().framing(), mode, "{json}");
    }
    // `autoZoom`: a boolean override; the scene's own flag when absent.
    for (json, zoom) in [
        (r#"{"ticks": 1, "participants": []}"#, None),
        (
            r#"{"ticks": 1, "autoZoom": true, "participants": []}"#,
            Some(true),
        ),
        (
            r#"{"ticks": 1, "autoZoom": false, "participants": []}"#,
            Some(false),
        ),
    ] {
        assert_eq!(parse(json).unwrap().auto_zoom(), zoom, "{json}");
    }
    assert!(parse(r#"{"ticks": 1, "autoZoom": "on", "participants": []}"#).is_err());
    // A missing clip fails when the run opens it, with the participant named.
    let s = parse(r#"{"ticks": 1, "segment": "alpha", "participants": [{"id": "a", "source": {"clip": {"path": "/nonexistent.y4m"}}}]}"#).unwrap();
    let tmp = common::TestDir::new("scenario-missing");
    let out = tmp.join("out");
    assert!(matches!(s.run(&out), Err(ScenarioError::Source { .. })));
}

#[cfg(feature = "cli")]
#[test]
fn the_cli_runs_a_scenario() {
    let tmp = common::TestDir::new("scenario-cli");
    let out = tmp.join("out");
    let scenario = tmp.join("scenario.json");
    std::fs::write(
        &scenario,
        r#"{"output": {"width": 128, "height": 72, "fps": 10}, "ticks": 5, "segment": "alpha",
            "participants": [{"id": "8:orgid:o", "role": "organizer",
                              "source": {"synthetic": {"seed": 1, "width": 64, "height": 48}}}],
            "events": [{"type": "join", "participant": "8:orgid:o"},
                       {"type": "start", "by": "8:orgid:o"}]}"#,
    )
    .unwrap();
    let o = common::together()
        .arg("scenario")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(frames(&out.join("main.y4m")), (128, 72, 5));
    assert!(std::fs::read_to_string(out.join("events.jsonl"))
        .unwrap()
        .contains("togetherModeStreamsUpdated"));
}

/// A participant's own `framing` overrides the file's, and a bad one is refused at load
/// with the participant named.
#[test]
fn participants_take_their_own_framing() {
    let json = |top: &str, own: &str| {
        format!(
            r#"{{"ticks": 1, {top} "participants": [
                {{"id": "8:acs:a", {own} "source": {{"synthetic": {{"seed": 1}}}}}},
                {{"id": "8:acs:b", "source": {{"synthetic": {{"seed": 2}}}}}}]}}"#
        )
    };
    let s = parse(&json(r#""framing": "off","#, r#""framing": "4,6,100,80","#)).unwrap();
    assert_eq!(s.framing(), FramingMode::Off);
    assert_eq!(
        s.framing_of("8:acs:a"),
        Some(FramingMode::Fixed {
            x: 4,
            y: 6,
            width: 100,
            height: 80
        })
    );
    assert_eq!(s.framing_of("8:acs:b"), Some(FramingMode::Off));
    assert_eq!(s.framing_of("8:acs:nobody"), None);
    let s = parse(&json("", r#""framing": "off","#)).unwrap();
    assert_eq!(s.framing_of("8:acs:a"), Some(FramingMode::Off));
    assert_eq!(s.framing_of("8:acs:b"), Some(FramingMode::Auto));
    for bad in ["on", "", "4,6,100", "4,6,1,80"] {
        let own = format!(r#""framing": "{bad}","#);
        match parse(&json("", &own)) {
            Err(ScenarioError::BadFraming { id, source }) => {
                assert_eq!(id, "8:acs:a", "{bad:?}");
                assert!(source.to_string().contains(&format!("{bad:?}")), "{source}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // A participant's framing of another type is a schema error.
    assert!(matches!(
        parse(&json("", r#""framing": 3,"#)),
        Err(ScenarioError::Json(_))
    ));
}

/// The main room's video of a one-participant scenario (its synthetic source carries its
/// matte as alpha) with the file's top-level `fields` (each followed by a comma) and the
/// participant's own `own`.
fn one_participant_run(name: &str, fields: &str, own: &str) -> Vec<u8> {
    let s = parse(&format!(
        r#"{{"output": {{"width": 160, "height": 90, "fps": 10}}, "ticks": 2, {fields}
            "participants": [{{"id": "8:orgid:o", "role": "organizer", {own}
                               "source": {{"synthetic": {{"seed": 3, "width": 96, "height": 64}}}}}}],
            "events": [{{"type": "join", "participant": "8:orgid:o"}},
                       {{"type": "start", "by": "8:orgid:o"}}]}}"#
    ))
    .unwrap();
    let tmp = common::TestDir::new(name);
    let out = tmp.join("out");
    s.run(&out).unwrap();
    std::fs::read(out.join("main.y4m")).unwrap()
}

/// [`one_participant_run`] with the file's `framing` `top` and the participant's own `own`
/// (whole frames, so no model is needed).
fn framed_run(name: &str, top: &str, own: &str) -> Vec<u8> {
    one_participant_run(name, &format!(r#""segment": "none", {top}"#), own)
}

/// The participant's own framing is what their seat shows: a crop of their own over the
/// file's `off` changes the video, and their own `off` over the file's crop gives the file's
/// `off` video byte for byte.
#[test]
fn a_participants_framing_reaches_their_seat() {
    let off = framed_run("framing-off", r#""framing": "off","#, "");
    let own_crop = framed_run(
        "framing-own-crop",
        r#""framing": "off","#,
        r#""framing": "20,8,40,30","#,
    );
    let own_off = framed_run(
        "framing-own-off",
        r#""framing": "20,8,40,30","#,
        r#""framing": "off","#,
    );
    let file_crop = framed_run("framing-file-crop", r#""framing": "20,8,40,30","#, "");
    assert_eq!(off.len(), own_crop.len());
    assert_ne!(off, own_crop, "the participant's crop shows");
    assert_eq!(
        own_crop, file_crop,
        "the same crop, from the file or their own"
    );
    assert_eq!(own_off, off, "their own off beats the file's crop");
}

/// The main room's seating maps from `events.jsonl`, with the tick of each.
fn main_seating_maps(out: &Path) -> Vec<(u64, serde_json::Value)> {
    std::fs::read_to_string(out.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "togetherModeSeatingUpdated" && e["room"] == "main")
        .map(|e| (e["tick"].as_u64().unwrap(), e["seatingMap"].clone()))
        .collect()
}

/// The seating map of the auditorium with `placed` (id, index into its seating order), as
/// the scenario's 160x90 output in the default scene size shows it.
fn expected_map(placed: &[(&str, usize)]) -> serde_json::Value {
    use together_mode::seating::{Role, Seating, DEFAULT_SCENE_SIZE};
    let scene = together_mode::Scene::builtin("auditorium").unwrap();
    let order = scene.seat_order();
    let mut s = Seating::new(&scene);
    for (id, k) in placed {
        s.join(id, Role::Organizer).unwrap();
        s.assign(id, order[*k]).unwrap();
    }
    serde_json::from_str(
        &s.seating_map(&scene, (160, 90), DEFAULT_SCENE_SIZE)
            .to_json(),
    )
    .unwrap()
}

/// Reserved seats, seat memory and seat layouts through the scenario runner: the organizer
/// takes the reserved seat although attendees joined first; back from a breakout room, two
/// attendees take their own seats again (in the opposite order from the one they left);
/// a layout swaps them, skipping an id not in the meeting; an attendee may not reserve.
#[test]
fn reserved_seats_seat_memory_and_layouts_in_a_scenario() {
    let scene = together_mode::Scene::builtin("auditorium").unwrap();
    let order = scene.seat_order();
    let so = |k: usize| scene.seats[order[k]].seating_order;
    let s = parse(&format!(
        r#"{{"output": {{"width": 160, "height": 90, "fps": 10}}, "ticks": 5, "segment": "none",
            "reservedSeats": 1,
            "participants": [
                {{"id": "8:acs:a", "source": {{"synthetic": {{"seed": 1, "width": 64, "height": 48}}}}}},
                {{"id": "8:acs:b", "source": {{"synthetic": {{"seed": 2, "width": 64, "height": 48}}}}}},
                {{"id": "8:orgid:o", "role": "organizer",
                  "source": {{"synthetic": {{"seed": 3, "width": 64, "height": 48}}}}}}],
            "events": [{{"type": "join", "participant": "8:acs:a"}},
                       {{"type": "join", "participant": "8:acs:b"}},
                       {{"type": "join", "participant": "8:orgid:o"}},
                       {{"type": "start", "by": "8:orgid:o"}},
                       {{"at": 1, "type": "createRoom", "by": "8:orgid:o", "threadId": "r", "displayName": "R"}},
                       {{"at": 1, "type": "assign", "by": "8:orgid:o", "participant": "8:acs:a", "threadId": "r"}},
                       {{"at": 1, "type": "assign", "by": "8:orgid:o", "participant": "8:acs:b", "threadId": "r"}},
                       {{"at": 1, "type": "openRoom", "by": "8:orgid:o", "threadId": "r"}},
                       {{"at": 2, "type": "returnToMain", "participant": "8:acs:b"}},
                       {{"at": 2, "type": "returnToMain", "participant": "8:acs:a"}},
                       {{"at": 3, "type": "reserveSeats", "by": "8:acs:a", "seats": 2}},
                       {{"at": 3, "type": "applySeatLayout", "by": "8:orgid:o",
                         "layout": {{"8:acs:a": {a}, "8:acs:b": {b}, "8:acs:gone": 0}}}}]}}"#,
        a = so(2),
        b = so(1),
    ))
    .unwrap();
    let tmp = common::TestDir::new("scenario-seats");
    let out = tmp.join("out");
    let report = s.run(&out).unwrap();
    assert_eq!(report.refused, 1, "the attendee's reservation");
    let maps = main_seating_maps(&out);
    let last_at = |tick: u64| {
        maps.iter()
            .rev()
            .find(|(t, _)| *t == tick)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    let joined = expected_map(&[("8:orgid:o", 0), ("8:acs:a", 1), ("8:acs:b", 2)]);
    assert_eq!(last_at(0), joined);
    assert_eq!(last_at(2), joined, "back in their own seats");
    assert_eq!(
        last_at(3),
        expected_map(&[("8:orgid:o", 0), ("8:acs:a", 2), ("8:acs:b", 1)])
    );
    let text = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let applied: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "seatLayoutApplied")
        .unwrap();
    assert_eq!(applied["skipped"][0]["participant"], "8:acs:gone");
    assert_eq!(applied["skipped"][0]["reason"], "notPresent");
    // Bad reservations are schema errors.
    for bad in [r#""x""#, "-1", "[1, -2]"] {
        let json = format!(r#"{{"ticks": 1, "reservedSeats": {bad}, "participants": []}}"#);
        assert!(matches!(parse(&json), Err(ScenarioError::Json(_))), "{bad}");
    }
}

#[test]
fn scenarios_open_scene_zips_and_app_packages_relative_to_the_file() {
    use std::io::Write;
    let d = common::TestDir::new("scenario-zip");
    let json = r#"{"extent": {"left": 0, "top": 0, "width": 16, "height": 9},
        "participants": [{"cx": 8, "cy": 4.5, "width": 3, "height": 4}]}"#;
    let zip_of = |files: &[(&str, &[u8])]| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    let scene_zip = zip_of(&[("scene.json", json.as_bytes())]);
    let manifest = r#"{"meetingExtensionDefinition": {"scenes": [{"id": "7a", "name": "One",
        "file": "one.zip", "preview": "p.png", "maxAudience": 1}]}}"#;
    d.write("scene.zip", &scene_zip);
    d.write(
        "app.zip",
        &zip_of(&[
            ("manifest.json", manifest.as_bytes()),
            ("one.zip", &scene_zip),
        ]),
    );
    let with = |scene: &str| {
        format!(
            r#"{{"ticks": 2, "scene": "{scene}",
                "participants": [{{"id": "8:acs:a", "source": {{"synthetic": {{"seed": 1}}}}}}]}}"#
        )
    };
    for scene in ["scene.zip", "app.zip", "app.zip#One", "app.zip#7A"] {
        assert!(Scenario::parse(&with(scene), d.path()).is_ok(), "{scene}");
    }
    assert!(matches!(
        Scenario::parse(&with("app.zip#Two"), d.path()),
        Err(ScenarioError::Scene {
            source: SceneError::NoSuchScene { .. },
            ..
        })
    ));
}

/// [`one_participant_run`] with the file's `segment` `top` (framing off) and the
/// participant's own `own`.
fn segmented_run(name: &str, top: &str, own: &str) -> Vec<u8> {
    one_participant_run(
        name,
        &format!(r#""segment": "{top}", "framing": "off","#),
        own,
    )
}

/// A participant's own `segment` overrides the file's for their seat: their own `none` over
/// the file's `alpha` gives the file's `none` video byte for byte, and the other way round;
/// a bad one is refused at load with the participant named.
#[test]
fn a_participants_segment_mode_reaches_their_seat() {
    let alpha = segmented_run("segment-alpha", "alpha", "");
    let none = segmented_run("segment-none", "none", "");
    assert_eq!(alpha.len(), none.len());
    assert_ne!(alpha, none, "the matte shows");
    let own_none = segmented_run("segment-own-none", "alpha", r#""segment": "none","#);
    assert_eq!(own_none, none, "their own none beats the file's alpha");
    let own_alpha = segmented_run("segment-own-alpha", "none", r#""segment": "alpha","#);
    assert_eq!(own_alpha, alpha, "their own alpha beats the file's none");

    let json = |own: &str| {
        format!(
            r#"{{"ticks": 1, "segment": "none", "participants": [
                {{"id": "8:acs:a", {own} "source": {{"synthetic": {{"seed": 1}}}}}},
                {{"id": "8:acs:b", "source": {{"synthetic": {{"seed": 2}}}}}}]}}"#
        )
    };
    let s = parse(&json(r#""segment": "chroma","#)).unwrap();
    assert_eq!(s.segment_of("8:acs:a"), Some(SegmentMode::Chroma));
    assert_eq!(s.segment_of("8:acs:b"), Some(SegmentMode::None));
    assert_eq!(s.segment_of("8:acs:nobody"), None);
    match parse(&json(r#""segment": "magic","#)) {
        Err(ScenarioError::BadSegment { id, .. }) => assert_eq!(id, "8:acs:a"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(&json(r#""segment": 1,"#)),
        Err(ScenarioError::Json(_))
    ));
}

/// Breakout room managers and identity rights through the scenario runner: a presenter
/// manages rooms only while named; a Communication Services organizer never does, nor can
/// they be named; each refusal is logged with its code.
#[test]
fn breakout_room_managers_in_a_scenario() {
    let s = parse(
        r#"{"output": {"width": 160, "height": 90, "fps": 10}, "ticks": 3, "segment": "none",
            "participants": [
                {"id": "8:orgid:o", "role": "organizer", "source": {"synthetic": {"seed": 1, "width": 64, "height": 48}}},
                {"id": "8:orgid:p", "role": "presenter", "source": {"synthetic": {"seed": 2, "width": 64, "height": 48}}},
                {"id": "8:acs:boss", "role": "organizer", "source": {"synthetic": {"seed": 3, "width": 64, "height": 48}}},
                {"id": "8:acs:pres", "role": "presenter", "source": {"synthetic": {"seed": 4, "width": 64, "height": 48}}}],
            "events": [{"type": "join", "participant": "8:orgid:o"},
                       {"type": "join", "participant": "8:orgid:p"},
                       {"type": "join", "participant": "8:acs:boss"},
                       {"type": "join", "participant": "8:acs:pres"},
                       {"type": "createRoom", "by": "8:orgid:p", "threadId": "a", "displayName": "A"},
                       {"type": "addBreakoutRoomManager", "by": "8:orgid:o", "participant": "8:orgid:p"},
                       {"type": "createRoom", "by": "8:orgid:p", "threadId": "a", "displayName": "A"},
                       {"type": "createRoom", "by": "8:acs:boss", "threadId": "b", "displayName": "B"},
                       {"type": "addBreakoutRoomManager", "by": "8:orgid:o", "participant": "8:acs:pres"},
                       {"type": "addBreakoutRoomManager", "by": "8:acs:boss", "participant": "8:orgid:p"},
                       {"at": 1, "type": "removeBreakoutRoomManager", "by": "8:orgid:o", "participant": "8:orgid:p"},
                       {"at": 1, "type": "openRoom", "by": "8:orgid:p", "threadId": "a"}]}"#,
    )
    .unwrap();
    let tmp = common::TestDir::new("scenario-managers");
    let out = tmp.join("out");
    let report = s.run(&out).unwrap();
    let text = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let refused: Vec<(u64, u64, u64)> = lines
        .iter()
        .filter(|l| l["event"] == "refused")
        .map(|l| {
            (
                l["index"].as_u64().unwrap(),
                l["code"].as_u64().unwrap(),
                l["subcode"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (4, 403, 46303),
            (7, 403, 46417),
            (8, 403, 46419),
            (9, 403, 46417),
            (11, 403, 46303)
        ]
    );
    assert_eq!(report.refused, 5);
    let managers: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["event"] == "breakoutRoomManagers")
        .map(|l| &l["managers"])
        .collect();
    assert_eq!(
        managers,
        [&serde_json::json!(["8:orgid:p"]), &serde_json::json!([])]
    );
    assert_eq!(report.rooms.len(), 2, "main and the manager's room");
}
