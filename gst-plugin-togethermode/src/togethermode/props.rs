//! The GLib enum types of the element's and the pad's enumerated properties, each the
//! library's type as GStreamer sees it.
//!
//! gst-launch and `gst_util_set_object_arg` accept an enum value by its *nick*, its *name*
//! or its number. The nicks are the spellings the element accepted when these properties
//! were strings, so existing pipelines keep working. A GLib enum value has exactly one nick;
//! where the library spells a value differently from the element (the role `co-organizer`,
//! which the library calls `coOrganizer`), the value's *name* carries the library's spelling,
//! so both are accepted (and gst-inspect lists both).

use gst::glib;
use gst::glib::translate::IntoGlib;
use together_mode::meeting::IdentityKind;
use together_mode::segment::SegmentMode;
use together_mode::Role;

/// The `segment` property: how seats are cut out ([`SegmentMode`]; the nicks are its
/// names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[enum_type(name = "GstTogetherModeSegment")]
pub enum TogetherModeSegment {
    /// [`SegmentMode::None`].
    #[enum_value(name = "None: whole seats, nothing cut out", nick = "none")]
    None,
    /// [`SegmentMode::Alpha`].
    #[enum_value(
        name = "Alpha: the input's own alpha (RGBA/BGRA inputs; opaque otherwise)",
        nick = "alpha"
    )]
    Alpha,
    /// [`SegmentMode::Chroma`].
    #[enum_value(name = "Chroma: green screen", nick = "chroma")]
    Chroma,
    /// [`SegmentMode::Background`].
    #[enum_value(
        name = "Background: the learned background of a static camera",
        nick = "background"
    )]
    Background,
    /// [`SegmentMode::Ml`].
    #[enum_value(
        name = "ML: MediaPipe's selfie model (model-path, else the library's search; needs the plugin's ml feature)",
        nick = "ml"
    )]
    Ml,
    /// [`SegmentMode::Auto`], the default.
    #[default]
    #[enum_value(
        name = "Auto: per seat the input's alpha, else ml (the default)",
        nick = "auto"
    )]
    Auto,
}

impl From<TogetherModeSegment> for SegmentMode {
    fn from(s: TogetherModeSegment) -> Self {
        match s {
            TogetherModeSegment::None => SegmentMode::None,
            TogetherModeSegment::Alpha => SegmentMode::Alpha,
            TogetherModeSegment::Chroma => SegmentMode::Chroma,
            TogetherModeSegment::Background => SegmentMode::Background,
            TogetherModeSegment::Ml => SegmentMode::Ml,
            TogetherModeSegment::Auto => SegmentMode::Auto,
        }
    }
}

impl From<SegmentMode> for TogetherModeSegment {
    fn from(m: SegmentMode) -> Self {
        match m {
            SegmentMode::None => TogetherModeSegment::None,
            SegmentMode::Alpha => TogetherModeSegment::Alpha,
            SegmentMode::Chroma => TogetherModeSegment::Chroma,
            SegmentMode::Background => TogetherModeSegment::Background,
            SegmentMode::Ml => TogetherModeSegment::Ml,
            SegmentMode::Auto => TogetherModeSegment::Auto,
        }
    }
}

/// The `auto-zoom` property: autoZoom as the scene says, or overridden
/// ([`CompositorOptions::auto_zoom`](together_mode::CompositorOptions::auto_zoom)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[enum_type(name = "GstTogetherModeAutoZoom")]
pub enum TogetherModeAutoZoom {
    /// The scene's own `autoZoom` (false for the built-in scenes), the default.
    #[default]
    #[enum_value(name = "Scene: the scene's autoZoom (the default)", nick = "scene")]
    Scene,
    /// Zoom onto the occupied seats when few are taken.
    #[enum_value(name = "On: zoom onto the occupied seats", nick = "on")]
    On,
    /// Always the whole scene.
    #[enum_value(name = "Off: the whole scene", nick = "off")]
    Off,
}

impl From<TogetherModeAutoZoom> for Option<bool> {
    fn from(z: TogetherModeAutoZoom) -> Self {
        match z {
            TogetherModeAutoZoom::Scene => None,
            TogetherModeAutoZoom::On => Some(true),
            TogetherModeAutoZoom::Off => Some(false),
        }
    }
}

impl From<Option<bool>> for TogetherModeAutoZoom {
    fn from(z: Option<bool>) -> Self {
        match z {
            None => TogetherModeAutoZoom::Scene,
            Some(true) => TogetherModeAutoZoom::On,
            Some(false) => TogetherModeAutoZoom::Off,
        }
    }
}

/// The pad's `role` property: the participant's [`Role`]. The nicks are the element's
/// spellings (`co-organizer`), the names the library's
/// ([`role_name`](together_mode::meeting::role_name): `coOrganizer`); both are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[enum_type(name = "GstTogetherModeRole")]
pub enum TogetherModeRole {
    /// [`Role::Organizer`].
    #[enum_value(name = "organizer", nick = "organizer")]
    Organizer,
    /// [`Role::CoOrganizer`].
    #[enum_value(name = "coOrganizer", nick = "co-organizer")]
    CoOrganizer,
    /// [`Role::Presenter`].
    #[enum_value(name = "presenter", nick = "presenter")]
    Presenter,
    /// [`Role::Attendee`], the default.
    #[default]
    #[enum_value(name = "attendee", nick = "attendee")]
    Attendee,
}

impl TogetherModeRole {
    /// The element's spelling of the role (the value's nick, e.g. `co-organizer`), as the
    /// seating messages carry it.
    pub fn nick(self) -> &'static str {
        nick(self)
    }
}

impl From<TogetherModeRole> for Role {
    fn from(r: TogetherModeRole) -> Self {
        match r {
            TogetherModeRole::Organizer => Role::Organizer,
            TogetherModeRole::CoOrganizer => Role::CoOrganizer,
            TogetherModeRole::Presenter => Role::Presenter,
            TogetherModeRole::Attendee => Role::Attendee,
        }
    }
}

impl From<Role> for TogetherModeRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Organizer => TogetherModeRole::Organizer,
            Role::CoOrganizer => TogetherModeRole::CoOrganizer,
            Role::Presenter => TogetherModeRole::Presenter,
            Role::Attendee => TogetherModeRole::Attendee,
        }
    }
}

/// The pad's `identity-kind` property: `auto` (from the participant id) or an
/// [`IdentityKind`] (the nicks are the library's names, [`IdentityKind::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[enum_type(name = "GstTogetherModeIdentityKind")]
pub enum TogetherModeIdentityKind {
    /// From the participant id ([`IdentityKind::from_raw_id`]), the default.
    #[default]
    #[enum_value(name = "Auto: from the participant id", nick = "auto")]
    Auto,
    /// [`IdentityKind::Microsoft365`].
    #[enum_value(name = "Microsoft 365 user (8:orgid:)", nick = "microsoft365")]
    Microsoft365,
    /// [`IdentityKind::CommunicationServices`].
    #[enum_value(
        name = "Communication Services user (8:acs:)",
        nick = "communicationServices"
    )]
    CommunicationServices,
    /// [`IdentityKind::TeamsVisitor`].
    #[enum_value(name = "Teams visitor (8:teamsvisitor:)", nick = "teamsVisitor")]
    TeamsVisitor,
    /// [`IdentityKind::Other`].
    #[enum_value(name = "Any other identity", nick = "other")]
    Other,
}

impl TogetherModeIdentityKind {
    /// The kind this value names; `None` for `auto`.
    pub fn kind(self) -> Option<IdentityKind> {
        match self {
            TogetherModeIdentityKind::Auto => None,
            TogetherModeIdentityKind::Microsoft365 => Some(IdentityKind::Microsoft365),
            TogetherModeIdentityKind::CommunicationServices => {
                Some(IdentityKind::CommunicationServices)
            }
            TogetherModeIdentityKind::TeamsVisitor => Some(IdentityKind::TeamsVisitor),
            TogetherModeIdentityKind::Other => Some(IdentityKind::Other),
        }
    }
}

impl From<IdentityKind> for TogetherModeIdentityKind {
    fn from(k: IdentityKind) -> Self {
        match k {
            IdentityKind::Microsoft365 => TogetherModeIdentityKind::Microsoft365,
            IdentityKind::CommunicationServices => TogetherModeIdentityKind::CommunicationServices,
            IdentityKind::TeamsVisitor => TogetherModeIdentityKind::TeamsVisitor,
            IdentityKind::Other => TogetherModeIdentityKind::Other,
        }
    }
}

/// The nick of an enum value (`""` cannot happen for a value of the type itself).
fn nick<E>(value: E) -> &'static str
where
    E: glib::HasParamSpec<ParamSpec = glib::ParamSpecEnum>
        + glib::prelude::StaticType
        + IntoGlib<GlibType = i32>,
{
    glib::EnumClass::new::<E>()
        .value(value.into_glib())
        .map_or("", |v| v.nick())
}

#[cfg(test)]
mod tests {
    use super::*;
    use together_mode::meeting::{role_from_name, role_name};

    const ROLES: [Role; 4] = [
        Role::Organizer,
        Role::CoOrganizer,
        Role::Presenter,
        Role::Attendee,
    ];

    /// The value of `E` that `s` names, as GStreamer's parser reads it: by name, then by
    /// nick.
    fn parse<E>(s: &str) -> Option<i32>
    where
        E: glib::HasParamSpec<ParamSpec = glib::ParamSpecEnum> + glib::prelude::StaticType,
    {
        let class = glib::EnumClass::new::<E>();
        class
            .value_by_name(s)
            .or_else(|| class.value_by_nick(s))
            .map(|v| v.value())
    }

    #[test]
    fn roles_take_the_element_and_the_library_spelling() {
        for role in ROLES {
            let r = TogetherModeRole::from(role);
            assert_eq!(Role::from(r), role);
            let class = glib::EnumClass::new::<TogetherModeRole>();
            let value = class.value(r.into_glib()).unwrap();
            // The name is the library's spelling, and parses back with the library.
            assert_eq!(value.name(), role_name(role));
            assert_eq!(role_from_name(value.name()), Some(role));
            assert_eq!(
                parse::<TogetherModeRole>(role_name(role)),
                Some(r.into_glib())
            );
            assert_eq!(parse::<TogetherModeRole>(r.nick()), Some(r.into_glib()));
        }
        // The element's old spellings are the nicks.
        assert_eq!(TogetherModeRole::CoOrganizer.nick(), "co-organizer");
        assert_eq!(TogetherModeRole::Organizer.nick(), "organizer");
        assert_eq!(TogetherModeRole::Presenter.nick(), "presenter");
        assert_eq!(TogetherModeRole::Attendee.nick(), "attendee");
        assert_eq!(parse::<TogetherModeRole>("Organizer"), None);
        assert_eq!(parse::<TogetherModeRole>(""), None);
    }

    #[test]
    fn segment_nicks_are_the_library_names() {
        for mode in SegmentMode::ALL {
            let s = TogetherModeSegment::from(mode);
            assert_eq!(SegmentMode::from(s), mode);
            assert_eq!(nick(s), mode.name());
        }
        assert_eq!(
            TogetherModeSegment::default(),
            TogetherModeSegment::from(SegmentMode::default())
        );
        assert_eq!(parse::<TogetherModeSegment>("no-such-mode"), None);
    }

    #[test]
    fn auto_zoom_round_trips() {
        for z in [None, Some(true), Some(false)] {
            assert_eq!(Option::<bool>::from(TogetherModeAutoZoom::from(z)), z);
        }
        assert_eq!(Option::<bool>::from(TogetherModeAutoZoom::default()), None);
        assert_eq!(
            parse::<TogetherModeAutoZoom>("on"),
            Some(TogetherModeAutoZoom::On.into_glib())
        );
        assert_eq!(parse::<TogetherModeAutoZoom>("yes"), None);
    }

    #[test]
    fn identity_kind_nicks_are_the_library_names() {
        assert_eq!(nick(TogetherModeIdentityKind::Auto), "auto");
        assert_eq!(TogetherModeIdentityKind::Auto.kind(), None);
        for k in [
            IdentityKind::Microsoft365,
            IdentityKind::CommunicationServices,
            IdentityKind::TeamsVisitor,
            IdentityKind::Other,
        ] {
            let p = TogetherModeIdentityKind::from(k);
            assert_eq!(p.kind(), Some(k));
            assert_eq!(nick(p), k.name());
        }
        assert_eq!(parse::<TogetherModeIdentityKind>("acs"), None);
        assert_eq!(parse::<TogetherModeIdentityKind>("Microsoft365"), None);
    }
}
