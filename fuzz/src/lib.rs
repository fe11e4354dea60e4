//! What the fuzz targets share.

use arbitrary::Arbitrary;
use together_mode::Role;

/// A [`Role`] drawn from the fuzz input.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum R {
    /// [`Role::Organizer`]: may take reserved seats.
    Organizer,
    /// [`Role::CoOrganizer`]: may take reserved seats.
    CoOrganizer,
    /// [`Role::Presenter`]: may take reserved seats.
    Presenter,
    /// [`Role::Attendee`]: unreserved seats only.
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
