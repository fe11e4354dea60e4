//! The `togethermode` sink pad: one participant, with its identity as properties.

use gst::glib;

glib::wrapper! {
    /// A `togethermode` sink pad: one participant. Its properties (`participant-id`, `role`,
    /// `identity-kind`, `framing`) have typed accessors here; see the [module](super) for what they do.
    pub struct TogetherModePad(ObjectSubclass<imp::TogetherModePad>)
        @extends gst_video::VideoAggregatorPad, gst_base::AggregatorPad, gst::Pad, gst::Object;
}

pub(super) mod imp {
    use std::sync::Mutex;

    use gst::glib;
    use gst::prelude::*;
    use gst::subclass::prelude::*;
    use gst_base::subclass::prelude::*;
    use gst_video::subclass::prelude::*;

    use together_mode::framing::FramingMode;
    use together_mode::meeting::IdentityKind;
    use together_mode::Role;

    use super::super::lock;
    use super::super::{TogetherModeIdentityKind, TogetherModeRole};

    /// The identity a pad asks for.
    #[derive(Debug, Clone, Default)]
    struct PadSettings {
        /// `None`: the pad's name.
        participant_id: Option<String>,
        role: TogetherModeRole,
        /// `Auto`: from the participant id ([`IdentityKind::from_raw_id`]).
        kind: TogetherModeIdentityKind,
        /// `None`: the element's `framing`.
        framing: Option<FramingMode>,
    }

    /// What the engine knows of a pad.
    #[derive(Debug, Default)]
    pub(in crate::togethermode) struct PadState {
        /// The identity the pad is seated as; `None` while not seated (scene full, duplicate
        /// id).
        pub(in crate::togethermode) joined: Option<(String, Role)>,
        /// The buffer (address and PTS) last pushed into the engine, and the engine epoch.
        pub(in crate::togethermode) pushed: Option<(usize, Option<gst::ClockTime>, u64)>,
    }

    /// A `togethermode` sink pad.
    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::TogetherModePad)]
    pub struct TogetherModePad {
        /// The participant's raw id (e.g. `8:acs:…`); reads back the pad's name until set.
        #[property(
            name = "participant-id",
            type = Option<String>,
            nullable,
            get = |pad: &Self| Some(pad.wanted().0),
            set = Self::set_participant_id,
            nick = "Participant id",
            blurb = "The participant's raw id (e.g. 8:acs:...); default: the pad name",
            mutable_playing
        )]
        /// The participant's meeting role: privileged roles may take reserved seats.
        #[property(
            name = "role",
            type = TogetherModeRole,
            get = |pad: &Self| lock(&pad.settings).role,
            set = Self::set_role,
            nick = "Role",
            blurb = "The participant's meeting role (co-organizer is also accepted as coOrganizer); privileged roles may take reserved seats",
            mutable_playing,
            builder(TogetherModeRole::Attendee)
        )]
        /// The participant's ACS identity kind: `auto` takes it from the id; reads back the
        /// kind in force.
        #[property(
            name = "identity-kind",
            type = TogetherModeIdentityKind,
            get = |pad: &Self| TogetherModeIdentityKind::from(pad.kind(&pad.wanted().0)),
            set = Self::set_identity_kind,
            nick = "Identity kind",
            blurb = "The ACS identity kind: auto (from the participant id: 8:orgid: microsoft365, 8:acs: communicationServices, 8:teamsvisitor: teamsVisitor, else other) or one of those; reads back the kind in force",
            mutable_playing,
            builder(TogetherModeIdentityKind::Auto)
        )]
        /// The participant's own framing (`auto`, `off` or a crop `x,y,w,h`); empty: the
        /// element's.
        #[property(
            name = "framing",
            type = Option<String>,
            nullable,
            get = |pad: &Self| Some(lock(&pad.settings).framing.map_or_else(String::new, |m| m.to_string())),
            set = Self::set_framing,
            nick = "Framing",
            blurb = "Which window of this participant's frame the seat shows: auto, off or a crop x,y,width,height in the frame's pixels; empty (the default): the element's framing",
            mutable_playing
        )]
        settings: Mutex<PadSettings>,
        pub(in crate::togethermode) state: Mutex<PadState>,
    }

    impl TogetherModePad {
        /// The identity the pad asks for: its `participant-id` (else its name) and `role`.
        pub(in crate::togethermode) fn wanted(&self) -> (String, Role) {
            let s = lock(&self.settings);
            let id = match &s.participant_id {
                Some(id) => id.clone(),
                None => self.obj().name().to_string(),
            };
            (id, s.role.into())
        }

        /// The identity kind in force: `identity-kind`, else the one the id names.
        pub(in crate::togethermode) fn kind(&self, id: &str) -> IdentityKind {
            lock(&self.settings)
                .kind
                .kind()
                .unwrap_or_else(|| IdentityKind::from_raw_id(id))
        }

        /// The participant's own framing (`None`: the element's).
        pub(in crate::togethermode) fn framing(&self) -> Option<FramingMode> {
            lock(&self.settings).framing
        }

        /// `None` or empty: the element's framing; an invalid value is refused with a warning.
        fn set_framing(&self, framing: Option<String>) {
            let framing = match framing.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(text) => match text.parse::<FramingMode>() {
                    Ok(mode) => Some(mode),
                    Err(e) => {
                        let keep = self.framing().map_or_else(String::new, |m| m.to_string());
                        glib::g_warning!(
                            "togethermode",
                            "pad {}: {}; keeping {:?}",
                            self.obj().name(),
                            e,
                            keep
                        );
                        return;
                    }
                },
            };
            lock(&self.settings).framing = framing;
            if let Some(agg) = self
                .obj()
                .parent()
                .and_downcast::<super::super::TogetherMode>()
            {
                agg.imp().apply_framing(&self.obj());
            }
        }

        fn set_participant_id(&self, id: Option<String>) {
            lock(&self.settings).participant_id = id.filter(|s| !s.is_empty());
            self.reseat();
        }

        fn set_role(&self, role: TogetherModeRole) {
            lock(&self.settings).role = role;
            self.reseat();
        }

        fn set_identity_kind(&self, kind: TogetherModeIdentityKind) {
            lock(&self.settings).kind = kind;
            self.reseat();
        }

        /// Tells the element (if the pad has one yet) that the pad's identity changed.
        fn reseat(&self) {
            if let Some(agg) = self
                .obj()
                .parent()
                .and_downcast::<super::super::TogetherMode>()
            {
                agg.imp().reseat(&self.obj());
            }
        }
    }

    #[glib::object_subclass]
    impl ObjectSubclass for TogetherModePad {
        const NAME: &'static str = "GstTogetherModePad";
        type Type = super::TogetherModePad;
        type ParentType = gst_video::VideoAggregatorPad;
    }

    #[glib::derived_properties]
    impl ObjectImpl for TogetherModePad {}

    impl GstObjectImpl for TogetherModePad {}
    impl PadImpl for TogetherModePad {}
    impl AggregatorPadImpl for TogetherModePad {}
    impl VideoAggregatorPadImpl for TogetherModePad {}
}
