//! The `togethermode` element and its sink pad type, plus the plain parsing helpers their
//! string properties use.
//!
//! # Element properties
//!
//! | property | type | default | meaning |
//! |---|---|---|---|
//! | `scene` | string | `builtin:auditorium` | a Teams scene folder, `builtin:NAME`, or `builtin:gridN` (the benchmark grid for N participants) |
//! | `segment` | string | `alpha` | how seats are cut out: `none` (whole seats), `alpha` (the input's own alpha: RGBA/BGRA inputs), `chroma` (green screen), `background` (learned background of a static camera), `ml` (MediaPipe's selfie model from `model-path`; needs the plugin's cargo feature `ml`, refused otherwise), `auto` (per seat: the input's alpha, else `ml` when `model-path` is set and the feature built, else the background model) |
//! | `model-path` | string | none | the selfie model's `.tflite` file (`scripts/fetch-model.sh` puts it in `models/`), read when `segment` is `ml` or `auto`; a file that does not load is refused like a bad scene |
//! | `seat-opacity` | double | 1.0 | opacity of every seat (0..=1) |
//! | `scene-size` | string | `1280x720` | the CSS-pixel box the seating map is expressed in (ACS `sceneSize`) |
//! | `seating-map` | string, read-only | | the ACS seating map JSON: participant id → `{top, left, width, height}` |
//!
//! The output size and format come from the source caps (I420 or RGBA, even sizes; default
//! 1920x1080 I420). Every change of the seating map, or of who is seated as what, is also
//! posted as an element message named [`SEATING_MESSAGE`] with a string field
//! [`SEATING_FIELD`] (the map) and an array field [`PARTICIPANTS_FIELD`]: one `participant`
//! structure per seated pad, in pad order, with string fields `id`, `identity-kind` and
//! `role`, so an application can label seats (e.g. mark external users).
//!
//! # Pad properties
//!
//! | property | type | default | meaning |
//! |---|---|---|---|
//! | `participant-id` | string | the pad's name | the participant's raw id (e.g. `8:acs:…`) |
//! | `role` | string | `attendee` | `organizer`, `co-organizer`, `presenter` or `attendee` (privileged roles may take reserved seats) |
//! | `identity-kind` | string | `auto` | the ACS identity kind, as the library names it ([`IdentityKind`]): `microsoft365`, `communicationServices`, `teamsVisitor` or `other`; `auto` takes it from the id (`8:orgid:` Microsoft 365, `8:acs:` Communication Services, `8:teamsvisitor:` Teams visitor, else other). Reads back the kind in force. The library's meeting rules use the kind only for who may *start* Together Mode, which the element does not gate (its stream always runs), so the kind changes no seat; it is reported in the seating messages |

use gst::glib;
use gst::prelude::*;
use together_mode::meeting::IdentityKind;
use together_mode::Role;

mod imp;

/// Name of the element message posted whenever the seating map changes.
pub const SEATING_MESSAGE: &str = "togethermode-seating";
/// Field of [`SEATING_MESSAGE`] that holds the seating map JSON.
pub const SEATING_FIELD: &str = "seating-map";
/// Field of [`SEATING_MESSAGE`] that lists the seated participants (`participant`
/// structures with `id`, `identity-kind` and `role`).
pub const PARTICIPANTS_FIELD: &str = "participants";

glib::wrapper! {
    /// The `togethermode` element.
    pub struct TogetherMode(ObjectSubclass<imp::TogetherMode>)
        @extends gst_video::VideoAggregator, gst_base::Aggregator, gst::Element, gst::Object,
        @implements gst::ChildProxy;
}

glib::wrapper! {
    /// A `togethermode` sink pad: one participant.
    pub struct TogetherModePad(ObjectSubclass<imp::TogetherModePad>)
        @extends gst_video::VideoAggregatorPad, gst_base::AggregatorPad, gst::Pad, gst::Object;
}

/// Registers `togethermode` with `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    TogetherModePad::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "togethermode",
        gst::Rank::NONE,
        TogetherMode::static_type(),
    )
}

/// The name of a role as the `role` pad property spells it.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Organizer => "organizer",
        Role::CoOrganizer => "co-organizer",
        Role::Presenter => "presenter",
        Role::Attendee => "attendee",
    }
}

/// Parses a `role` pad property value (see [`role_name`]).
pub fn parse_role(s: &str) -> Option<Role> {
    [
        Role::Organizer,
        Role::CoOrganizer,
        Role::Presenter,
        Role::Attendee,
    ]
    .into_iter()
    .find(|r| role_name(*r) == s)
}

/// Parses an `identity-kind` pad property value: `auto` → `Some(None)` (from the id), a
/// library name ([`IdentityKind::name`]) → `Some(Some(kind))`, anything else → `None`.
pub fn parse_identity_kind(s: &str) -> Option<Option<IdentityKind>> {
    if s == "auto" {
        return Some(None);
    }
    IdentityKind::from_name(s).map(Some)
}

/// Parses `WIDTHxHEIGHT` with both sides in `1..=16384`.
pub fn parse_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once('x')?;
    let (w, h) = (w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?);
    ((1..=16384).contains(&w) && (1..=16384).contains(&h)).then_some((w, h))
}

/// `builtin:gridN` → `Some(N)` (the benchmark grid for N participants).
pub fn grid_participants(spec: &str) -> Option<usize> {
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
    fn roles_round_trip() {
        for r in [
            Role::Organizer,
            Role::CoOrganizer,
            Role::Presenter,
            Role::Attendee,
        ] {
            assert_eq!(parse_role(role_name(r)), Some(r));
        }
        assert_eq!(parse_role("Organizer"), None);
        assert_eq!(parse_role(""), None);
    }

    #[test]
    fn identity_kinds() {
        assert_eq!(parse_identity_kind("auto"), Some(None));
        for k in [
            IdentityKind::Microsoft365,
            IdentityKind::CommunicationServices,
            IdentityKind::TeamsVisitor,
            IdentityKind::Other,
        ] {
            assert_eq!(parse_identity_kind(k.name()), Some(Some(k)));
        }
        assert_eq!(parse_identity_kind("acs"), None);
        assert_eq!(parse_identity_kind("Microsoft365"), None);
        assert_eq!(parse_identity_kind(""), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1280x720"), Some((1280, 720)));
        assert_eq!(parse_size(" 640 x 360 "), Some((640, 360)));
        assert_eq!(parse_size("0x720"), None);
        assert_eq!(parse_size("1280x"), None);
        assert_eq!(parse_size("1280*720"), None);
        assert_eq!(parse_size("99999x1"), None);
        assert_eq!(parse_size("-1x5"), None);
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
