//! The `togethermode` element ([`TogetherMode`]) and its sink pad ([`TogetherModePad`]).
//!
//! The module's files follow the element's parts: `imp.rs` the element (engine, seating,
//! caps, aggregation), `pad.rs` the sink pad, `props.rs` the GLib enums of the enumerated
//! properties, `frames.rs` the mapping of GStreamer video frames onto engine frames.
//!
//! # Element properties
//!
//! | property | type | default | meaning |
//! |---|---|---|---|
//! | `scene` | string | `builtin:auditorium` | a Teams scene folder, `builtin:NAME`, or `builtin:gridN` (the benchmark grid for N participants) |
//! | `segment` | enum [`TogetherModeSegment`] | `auto` | how seats are cut out: `auto` (per seat: the input's alpha when it has one, else `ml`), `none` (whole seats), `alpha` (the input's own alpha: RGBA/BGRA inputs), `chroma` (green screen), `background` (learned background of a static camera; the seat stays empty while it learns), `ml` (MediaPipe's selfie model); `auto` and `ml` need the plugin's cargo feature `ml` (a default one) and the model, and are refused otherwise |
//! | `model-path` | string | none | the selfie model's `.tflite` file for `ml` and `auto`; unset: the library's search (`TOGETHER_MODE_MODEL`, the user cache, the repository's `models/`, where `scripts/fetch-model.sh` puts it); the element never fetches it; a model that is missing or does not load is refused like a bad scene |
//! | `seat-opacity` | double | 1.0 | opacity of every seat (0..=1) |
//! | `scene-size` | string | `1280x720` | `WIDTHxHEIGHT` (each side 1..=16384) of the CSS-pixel box the seating map is expressed in (ACS `sceneSize`) |
//! | `framing` | string | `auto` | which window of each participant's frame their seat shows ([`FramingMode`]): `auto` (around the person's head, for seats the selfie model cuts out; the centre crop for the others, e.g. `segment=alpha`), `off` (the centre crop with the seat's aspect), or a fixed crop `x,y,width,height` of every input frame in its pixels (for people who frame themselves; centre-cropped to the seat's aspect); a pad's `framing` overrides it. An invalid value is refused with a warning and the property keeps its value; a change builds a new engine, like `segment` |
//! | `auto-zoom` | enum [`TogetherModeAutoZoom`] | `scene` | autoZoom: `scene` (the scene's own `autoZoom`; false for the built-in scenes), `on` (when few seats are taken, the view zooms smoothly onto the occupied seats; the seating map follows the zoomed view) or `off` |
//! | `reserved-seats` | string | empty | seats reserved for organizers, co-organizers and presenters: `N` (the N seats with the lowest `seatingOrder`s, ties in file order), `seats:I,J,...` (seat indices) or empty for none. Pads whose `role` is privileged take a free reserved seat first; attendee pads never take one, even when only reserved seats are free (they stay unseated, with a warning, until an unreserved seat frees up for a new request). Nobody seated moves when it changes; a bad value or a seat the scene lacks is refused with a warning and the property keeps its value |
//! | `seating-map` | string, read-only | | the ACS seating map JSON: participant id → `{top, left, width, height}` |
//!
//! The output size and format come from the source caps (I420 or RGBA, even sizes; default
//! 1920x1080 I420). Caps at another aspect than the scene's letterbox it as the library does:
//! the scene keeps its aspect, centred, with black bars, and the seating map is in that
//! picture. Every change of the seating map, or of who is seated as what, is also
//! posted as an element message named [`SEATING_MESSAGE`] with a string field
//! [`SEATING_FIELD`] (the map) and an array field [`PARTICIPANTS_FIELD`]: one `participant`
//! structure per seated pad, in pad order, with string fields `id`, `identity-kind` and
//! `role` (the nicks below, e.g. `co-organizer`), so an application can label seats (e.g.
//! mark external users).
//!
//! # Pad properties
//!
//! | property | type | default | meaning |
//! |---|---|---|---|
//! | `participant-id` | string | the pad's name | the participant's raw id (e.g. `8:acs:…`). A pad requested again with the `participant-id` of a released pad gets that pad's seat back if it is still free |
//! | `role` | enum [`TogetherModeRole`] | `attendee` | `organizer`, `co-organizer` (also accepted in the library's spelling, `coOrganizer`), `presenter` or `attendee` (privileged roles may take reserved seats) |
//! | `identity-kind` | enum [`TogetherModeIdentityKind`] | `auto` | the ACS identity kind, as the library names it ([`IdentityKind`]): `microsoft365`, `communicationServices`, `teamsVisitor` or `other`; `auto` takes it from the id (`8:orgid:` Microsoft 365, `8:acs:` Communication Services, `8:teamsvisitor:` Teams visitor, else other). Reads back the kind in force. The library's meeting rules use the kind only for who may *start* Together Mode, which the element does not gate (its stream always runs), so the kind changes no seat; it is reported in the seating messages |
//! | `framing` | string | empty | this participant's own framing, as the element's `framing` spells it (`auto`, `off` or `x,y,width,height`); empty: the element's. An invalid value is refused with a warning and the property keeps its value. Applied to the seat from the next output frame |
//!
//! # Enumerated properties
//!
//! `segment`, `role` and `identity-kind` are GLib enums (they were strings before). From
//! gst-launch (or `gst_util_set_object_arg`, or [`glib::Value::deserialize_with_pspec`]) a
//! value is spelled by its *nick*, which is the property's old string spelling, so existing
//! pipelines keep working; the value's *name* and its number are accepted too. A GLib value
//! has one nick, so `coOrganizer`, the library's spelling of `co-organizer`, is that value's
//! name (see [`TogetherModeRole`]). An unknown spelling is refused: an element
//! property makes gst-launch fail to parse the pipeline; a pad property given as
//! `sink_N::role=…` is applied when the pad is created, where GStreamer's parser drops a
//! value it cannot read (it logs it in the `GST_PIPELINE` debug category) and the pad keeps
//! its previous value. From Rust the properties take and return the enum types (or use the
//! typed accessors, e.g. [`TogetherModePad::set_role`]); reading one as a string is a type
//! error.
//!
//! [`IdentityKind`]: together_mode::meeting::IdentityKind
//! [`FramingMode`]: together_mode::framing::FramingMode
//! [`glib::Value::deserialize_with_pspec`]: gst::prelude::GstValueExt::deserialize_with_pspec

use std::sync::{Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use together_mode::error::SizeError;

mod frames;
mod imp;
mod pad;
mod props;

pub use pad::TogetherModePad;
pub use props::{
    TogetherModeAutoZoom, TogetherModeIdentityKind, TogetherModeRole, TogetherModeSegment,
};

/// Name of the element message posted whenever the seating map changes.
pub const SEATING_MESSAGE: &str = "togethermode-seating";
/// Field of [`SEATING_MESSAGE`] that holds the seating map JSON.
pub const SEATING_FIELD: &str = "seating-map";
/// Field of [`SEATING_MESSAGE`] that lists the seated participants (`participant`
/// structures with `id`, `identity-kind` and `role`).
pub const PARTICIPANTS_FIELD: &str = "participants";

glib::wrapper! {
    /// The `togethermode` element. Its properties have typed accessors here; see the
    /// [module](self) for what they do.
    pub struct TogetherMode(ObjectSubclass<imp::TogetherMode>)
        @extends gst_video::VideoAggregator, gst_base::Aggregator, gst::Element, gst::Object,
        @implements gst::ChildProxy;
}

/// Registers `togethermode` with `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    TogetherModePad::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    TogetherModeSegment::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    TogetherModeAutoZoom::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    TogetherModeRole::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    TogetherModeIdentityKind::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "togethermode",
        gst::Rank::NONE,
        TogetherMode::static_type(),
    )
}

/// Locks a mutex; a poisoned lock (a panic elsewhere) still yields the data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `error` followed by its sources, joined by `": "` (errors that wrap a source leave it out
/// of their own message).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Largest side of `scene-size`.
const MAX_SCENE_SIDE: u32 = 16384;

/// Why a `scene-size` value was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum SceneSizeError {
    /// Not `WIDTHxHEIGHT`.
    #[error("scene-size is not WIDTHxHEIGHT")]
    Malformed(#[source] SizeError),
    /// A side is zero or larger than [`MAX_SCENE_SIDE`].
    #[error("scene-size {width}x{height} has a side outside 1..={MAX_SCENE_SIDE}")]
    OutOfRange { width: u32, height: u32 },
}

/// Parses a `scene-size` value: `WIDTHxHEIGHT` as the library reads sizes
/// ([`together_mode::geometry::parse_size`]), both sides in `1..=16384`.
fn parse_scene_size(s: &str) -> Result<(u32, u32), SceneSizeError> {
    let (width, height) =
        together_mode::geometry::parse_size(s).map_err(SceneSizeError::Malformed)?;
    let side = 1..=MAX_SCENE_SIDE;
    if side.contains(&width) && side.contains(&height) {
        Ok((width, height))
    } else {
        Err(SceneSizeError::OutOfRange { width, height })
    }
}

/// `builtin:gridN` → `Some(N)` (the benchmark grid for N participants).
fn grid_participants(spec: &str) -> Option<usize> {
    let n = spec.strip_prefix("builtin:grid")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_sizes() {
        assert_eq!(parse_scene_size("1280x720"), Ok((1280, 720)));
        assert_eq!(parse_scene_size(" 640 x 360 "), Ok((640, 360)));
        assert_eq!(parse_scene_size("16384x1"), Ok((16384, 1)));
        assert_eq!(
            parse_scene_size("0x720"),
            Err(SceneSizeError::OutOfRange {
                width: 0,
                height: 720
            })
        );
        assert_eq!(
            parse_scene_size("99999x1"),
            Err(SceneSizeError::OutOfRange {
                width: 99999,
                height: 1
            })
        );
        for bad in ["1280x", "1280*720", "-1x5", "wide", ""] {
            assert!(
                matches!(parse_scene_size(bad), Err(SceneSizeError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn chains_print_every_source_once() {
        let e = parse_scene_size("wide").unwrap_err();
        assert_eq!(
            chain(&e),
            "scene-size is not WIDTHxHEIGHT: size \"wide\" is not of the form WIDTHxHEIGHT (e.g. 1920x1080)"
        );
    }

    #[test]
    fn grid_specs() {
        assert_eq!(grid_participants("builtin:grid49"), Some(49));
        assert_eq!(grid_participants("builtin:grid"), None);
        assert_eq!(grid_participants("builtin:grid+4"), None);
        assert_eq!(grid_participants("builtin:auditorium"), None);
        assert_eq!(grid_participants("grid9"), None);
    }
}
