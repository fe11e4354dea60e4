//! What the fuzz targets share.

use arbitrary::Arbitrary;
use together_mode::Role;

/// A [`Role`] drawn from the fuzz input.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum R {
    Organizer,
    CoOrganizer,
    Presenter,
    Attendee,
}

impl From<R> for Role {
    fn from(r: R) -> Role {
        match r {
            R::Organizer => Role::Organizer,
            R::CoOrganizer => Role::CoOrganizer,
            R::Presenter => Role::Presenter,
            R::Attendee => Role::Attendee,
        }
    }
}
