//! Seat assignment and the ACS seating map.
//!
//! Participants get the first free seat in the scene's `seatingOrder`; seats can be reserved
//! for organizers, co-organizers and presenters ([`Reservation`]). Seats are stable: nobody
//! moves when others join or leave; only [`Seating::assign`], [`Seating::swap`] and
//! [`Seating::change_scene`] move people. Seats are remembered: a participant who leaves and
//! joins again takes their old seat if nobody sat in it since (and their role may use it).
//! A [`SeatLayout`] (participant id -> `seatingOrder`) saves who sits where for a later
//! meeting.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::SeatingError;
use crate::geometry::{Extent, WorldToPixel};
use crate::scene::Scene;

/// The box (CSS pixels) ACS shows the Together Mode stream in unless told otherwise.
pub const DEFAULT_SCENE_SIZE: (u32, u32) = (1280, 720);

/// Longest participant id accepted (bytes).
pub const MAX_ID_BYTES: usize = 256;

/// A participant's meeting role; the privileged ones may use reserved seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Meeting organizer.
    Organizer,
    /// Co-organizer.
    CoOrganizer,
    /// Presenter.
    Presenter,
    /// Everyone else.
    Attendee,
}

impl Role {
    /// Organizers, co-organizers and presenters.
    pub fn is_privileged(self) -> bool {
        !matches!(self, Role::Attendee)
    }
}

/// Which seats are reserved for organizers, co-organizers and presenters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Reservation {
    /// No seat is reserved (the default: join-order seating).
    #[default]
    None,
    /// The `n` seats first in the scene's seating order (the lowest `seatingOrder`s, ties in
    /// file order); all of them when the scene has fewer. This is what a Teams app manifest's
    /// `seatsReservedForOrganizersOrPresenters` count reserves.
    Count(usize),
    /// These seat indices (into the scene's `seats`, counting from 0).
    Seats(Vec<usize>),
}

/// A [`Reservation`] that does not parse ([`Reservation::from_str`](std::str::FromStr)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reserved seats must be a count N or seats:I,J,... (seat indices), got {0:?}")]
pub struct ReservationParseError(pub String);

impl std::str::FromStr for Reservation {
    type Err = ReservationParseError;

    /// `none` (or empty), a count `N`, or `seats:I,J,...` (seat indices).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ReservationParseError(s.chars().take(64).collect());
        let t = s.trim();
        if t.is_empty() || t == "none" {
            return Ok(Reservation::None);
        }
        if let Some(list) = t.strip_prefix("seats:") {
            let seats = list
                .split(',')
                .map(|x| x.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad())?;
            return Ok(Reservation::Seats(seats));
        }
        t.parse::<usize>()
            .map(Reservation::Count)
            .map_err(|_| bad())
    }
}

impl Reservation {
    /// The reserved flag per seat of `scene` (seat indices the scene lacks are skipped).
    /// What `scene` itself reserves: [`Scene::reserved_seats`] first seats in seating order
    /// (a Teams app manifest's `seatsReservedForOrganizersOrPresenters`), else nothing.
    pub fn of_scene(scene: &Scene) -> Self {
        match scene.reserved_seats {
            0 => Reservation::None,
            n => Reservation::Count(n),
        }
    }

    fn flags(&self, scene: &Scene) -> Vec<bool> {
        let mut flags = vec![false; scene.seats.len()];
        match self {
            Reservation::None => {}
            Reservation::Count(n) => {
                for seat in scene.seat_order().into_iter().take(*n) {
                    if let Some(f) = flags.get_mut(seat) {
                        *f = true;
                    }
                }
            }
            Reservation::Seats(seats) => {
                for &seat in seats {
                    if let Some(f) = flags.get_mut(seat) {
                        *f = true;
                    }
                }
            }
        }
        flags
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Occupant {
    id: String,
    role: Role,
}

/// Most participants `scene` seats at once: its seats, capped by its `max_audience`.
fn max_seated(scene: &Scene) -> usize {
    scene
        .max_audience
        .map_or(scene.seats.len(), |m| m.min(scene.seats.len()))
}

/// Who sits where: participant id <-> seat index (into `scene.seats`).
#[derive(Debug, Clone, Default)]
pub struct Seating {
    /// Occupant per seat index.
    seats: Vec<Option<Occupant>>,
    /// Reserved flag per seat index.
    reserved: Vec<bool>,
    /// Seat indices in fill order (the scene's `seat_order`).
    order: Vec<usize>,
    /// Participant id -> seat index.
    by_id: HashMap<String, usize>,
    /// Per seat index, who left it last, while nobody has sat there since (seat memory).
    last: Vec<Option<String>>,
    /// The reservation rule set with [`Seating::set_reservation`], re-applied on scene changes.
    reservation: Reservation,
    /// Most participants seated at once (the scene's `max_audience`, at most its seats).
    max_seated: usize,
}

impl Seating {
    /// Empty seating for `scene`'s seats; the seats the scene reserves
    /// ([`Scene::reserved_seats`], from a Teams app manifest; none for the built-in scenes)
    /// are reserved, the first in seating order.
    pub fn new(scene: &Scene) -> Self {
        let n = scene.seats.len();
        let reservation = Reservation::of_scene(scene);
        Self {
            seats: vec![None; n],
            reserved: reservation.flags(scene),
            order: scene.seat_order(),
            by_id: HashMap::new(),
            last: vec![None; n],
            reservation,
            max_seated: max_seated(scene),
        }
    }

    /// Replaces every seat's reservation with `reservation`; nobody moves (an attendee already
    /// in a seat that becomes reserved stays). The rule is kept: [`Seating::change_scene`]
    /// applies it to the new scene. A seat index the scene lacks is refused
    /// ([`SeatingError::NoSuchSeat`]) and nothing changes.
    pub fn set_reservation(
        &mut self,
        scene: &Scene,
        reservation: Reservation,
    ) -> Result<(), SeatingError> {
        if let Reservation::Seats(seats) = &reservation {
            for &seat in seats {
                self.check_seat(seat)?;
            }
        }
        self.reserved = reservation.flags(scene);
        self.reserved.resize(self.seats.len(), false);
        self.reservation = reservation;
        Ok(())
    }

    /// The reservation rule last set with [`Seating::set_reservation`].
    pub fn reservation(&self) -> &Reservation {
        &self.reservation
    }

    /// The reserved seat indices, in index order.
    pub fn reserved_seats(&self) -> impl Iterator<Item = usize> + '_ {
        self.reserved
            .iter()
            .enumerate()
            .filter_map(|(i, &r)| r.then_some(i))
    }

    fn check_seat(&self, seat: usize) -> Result<(), SeatingError> {
        if seat < self.seats.len() {
            Ok(())
        } else {
            Err(SeatingError::NoSuchSeat {
                seat,
                count: self.seats.len(),
            })
        }
    }

    /// Reserves `seat` for privileged roles. Whoever sits there already stays.
    pub fn reserve(&mut self, seat: usize) -> Result<(), SeatingError> {
        self.check_seat(seat)?;
        if let Some(r) = self.reserved.get_mut(seat) {
            *r = true;
        }
        Ok(())
    }

    /// Lifts a reservation.
    pub fn unreserve(&mut self, seat: usize) -> Result<(), SeatingError> {
        self.check_seat(seat)?;
        if let Some(r) = self.reserved.get_mut(seat) {
            *r = false;
        }
        Ok(())
    }

    /// Whether `seat` is reserved (`false` for seats that do not exist).
    pub fn is_reserved(&self, seat: usize) -> bool {
        self.reserved.get(seat).copied().unwrap_or(false)
    }

    fn is_free(&self, seat: usize) -> bool {
        matches!(self.seats.get(seat), Some(None))
    }

    /// Whether `role` may sit in `seat` (free, and not reserved unless privileged).
    fn may_take(&self, seat: usize, role: Role) -> bool {
        self.is_free(seat) && (role.is_privileged() || !self.is_reserved(seat))
    }

    /// The free seat `id` left last, if nobody sat there since and `role` may use it.
    fn remembered_for(&self, id: &str, role: Role) -> Option<usize> {
        if self.by_id.len() >= self.max_seated {
            return None;
        }
        let seat = self.last.iter().position(|l| l.as_deref() == Some(id))?;
        self.may_take(seat, role).then_some(seat)
    }

    /// The seat `id` left last, while nobody has sat there since (whether or not it is free
    /// for them now).
    pub fn remembered_seat(&self, id: &str) -> Option<usize> {
        self.last.iter().position(|l| l.as_deref() == Some(id))
    }

    /// `(seat, id)` of every seat that remembers who left it (nobody sat there since).
    pub fn remembered(&self) -> impl Iterator<Item = (usize, &str)> + '_ {
        self.last
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.as_deref().map(|id| (i, id)))
    }

    /// Makes the free `seat` remember `id` (as if `id` had just left it), e.g. to carry seat
    /// memory over to a new seating. Does nothing for a taken or missing seat, or a seated
    /// `id`.
    pub fn remember(&mut self, seat: usize, id: &str) {
        if !self.is_free(seat) || self.by_id.contains_key(id) {
            return;
        }
        for l in &mut self.last {
            if l.as_deref() == Some(id) {
                *l = None;
            }
        }
        if let Some(l) = self.last.get_mut(seat) {
            *l = Some(id.to_string());
        }
    }

    /// The seat `role` would get now, by the join rules (none once `max_seated` sit).
    fn pick(&self, role: Role) -> Option<usize> {
        if self.by_id.len() >= self.max_seated {
            return None;
        }
        let free = |reserved: bool| {
            self.order
                .iter()
                .copied()
                .find(|&s| self.is_free(s) && self.is_reserved(s) == reserved)
        };
        if role.is_privileged() {
            free(true).or_else(|| free(false))
        } else {
            free(false)
        }
    }

    fn place(&mut self, id: &str, role: Role, seat: usize) {
        // The seat's memory is spent, and so is any memory of `id` elsewhere.
        for l in &mut self.last {
            if l.as_deref() == Some(id) {
                *l = None;
            }
        }
        if let Some(l) = self.last.get_mut(seat) {
            *l = None;
        }
        if let Some(slot) = self.seats.get_mut(seat) {
            *slot = Some(Occupant {
                id: id.to_string(),
                role,
            });
            self.by_id.insert(id.to_string(), seat);
        }
    }

    /// Seats `id`: in the seat they left last if nobody sat there since and their role may
    /// use it; else in the first free seat (in seating order) its role may use: privileged
    /// roles take a free reserved seat first, else the first free unreserved one; others
    /// only unreserved seats (when only reserved seats are free, [`SeatingError::Full`]: they
    /// wait). Returns the seat index.
    pub fn join(&mut self, id: &str, role: Role) -> Result<usize, SeatingError> {
        if id.is_empty() || id.len() > MAX_ID_BYTES {
            // Keep the error small for hostile ids.
            let shown: String = id.chars().take(64).collect();
            return Err(SeatingError::BadId(shown));
        }
        if self.by_id.contains_key(id) {
            return Err(SeatingError::AlreadySeated(id.to_string()));
        }
        let seat = self
            .remembered_for(id, role)
            .or_else(|| self.pick(role))
            .ok_or(SeatingError::Full(self.seats.len()))?;
        self.place(id, role, seat);
        Ok(seat)
    }

    /// Whether a participant of `role` could be seated now.
    pub fn has_room_for(&self, role: Role) -> bool {
        self.pick(role).is_some()
    }

    /// Removes `id`; returns the seat it had. Nobody else moves. The seat remembers `id`
    /// until someone else sits there ([`Seating::join`]).
    pub fn leave(&mut self, id: &str) -> Option<usize> {
        let seat = self.by_id.remove(id)?;
        let occupant = self.seats.get_mut(seat).and_then(Option::take);
        if let (Some(occ), Some(l)) = (occupant, self.last.get_mut(seat)) {
            *l = Some(occ.id);
        }
        Some(seat)
    }

    /// Moves seated `id` to the free `seat`. Reserved seats are for privileged roles only.
    /// Assigning someone to their own seat does nothing.
    pub fn assign(&mut self, id: &str, seat: usize) -> Result<(), SeatingError> {
        let from = self
            .seat_of(id)
            .ok_or_else(|| SeatingError::NotSeated(id.to_string()))?;
        self.check_seat(seat)?;
        if from == seat {
            return Ok(());
        }
        if let Some(Some(other)) = self.seats.get(seat) {
            return Err(SeatingError::SeatTaken {
                seat,
                by: other.id.clone(),
            });
        }
        let role = self.role_of(id).unwrap_or(Role::Attendee);
        if self.is_reserved(seat) && !role.is_privileged() {
            return Err(SeatingError::Reserved(seat));
        }
        let occupant = self.seats.get_mut(from).and_then(Option::take);
        if let (Some(occ), Some(slot)) = (occupant, self.seats.get_mut(seat)) {
            *slot = Some(occ);
            self.by_id.insert(id.to_string(), seat);
        }
        if let Some(l) = self.last.get_mut(seat) {
            *l = None;
        }
        Ok(())
    }

    /// Exchanges the seats of two seated participants. A non-privileged participant may not
    /// be moved into a reserved seat ([`SeatingError::Reserved`]).
    pub fn swap(&mut self, a: &str, b: &str) -> Result<(), SeatingError> {
        let sa = self
            .seat_of(a)
            .ok_or_else(|| SeatingError::NotSeated(a.to_string()))?;
        let sb = self
            .seat_of(b)
            .ok_or_else(|| SeatingError::NotSeated(b.to_string()))?;
        if sa == sb {
            return Ok(());
        }
        let privileged = |id| self.role_of(id).is_some_and(Role::is_privileged);
        if self.is_reserved(sb) && !privileged(a) {
            return Err(SeatingError::Reserved(sb));
        }
        if self.is_reserved(sa) && !privileged(b) {
            return Err(SeatingError::Reserved(sa));
        }
        self.seats.swap(sa, sb);
        self.by_id.insert(a.to_string(), sb);
        self.by_id.insert(b.to_string(), sa);
        Ok(())
    }

    /// The seat of `id`.
    pub fn seat_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The role `id` joined with.
    pub fn role_of(&self, id: &str) -> Option<Role> {
        let seat = self.seat_of(id)?;
        self.seats.get(seat)?.as_ref().map(|o| o.role)
    }

    /// Who sits in `seat`.
    pub fn occupant(&self, seat: usize) -> Option<&str> {
        self.seats.get(seat)?.as_ref().map(|o| o.id.as_str())
    }

    /// `(seat, id)` of every occupied seat, in seat index order.
    pub fn occupied(&self) -> impl Iterator<Item = (usize, &str)> + '_ {
        self.seats
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.as_ref().map(|o| (i, o.id.as_str())))
    }

    /// Number of seated participants.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether nobody is seated.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Number of seats.
    pub fn capacity(&self) -> usize {
        self.seats.len()
    }

    /// Switches to `scene`'s seats. Everyone whose seat index exists in the new scene stays
    /// there (even an attendee on a seat that is reserved). A reservation rule set with
    /// [`Seating::set_reservation`] is applied to the new scene (a count: its first seats in
    /// seating order; seat indices it lacks are skipped); without one, reservations of seat
    /// indices that still exist are kept. Seat memory of indices that still exist is kept.
    /// The others are re-seated by the join rules with their role,
    /// privileged participants first, then in the seating order of their old seats. Returns
    /// the ids that found no seat; they are removed.
    pub fn change_scene(&mut self, scene: &Scene) -> Vec<String> {
        let n = scene.seats.len();
        let old_order = std::mem::replace(&mut self.order, scene.seat_order());
        self.max_seated = max_seated(scene);
        let mut old_seats = std::mem::replace(&mut self.seats, vec![None; n]);
        if self.reservation == Reservation::None && scene.reserved_seats > 0 {
            self.reservation = Reservation::of_scene(scene);
            self.reserved = self.reservation.flags(scene);
        } else if self.reservation == Reservation::None {
            self.reserved.resize(n, false);
        } else {
            self.reserved = self.reservation.flags(scene);
        }
        self.last.resize(n, None);
        self.by_id.clear();

        // Displaced occupants in old seating order.
        let mut displaced = Vec::new();
        for &seat in &old_order {
            let Some(occ) = old_seats.get_mut(seat).and_then(Option::take) else {
                continue;
            };
            if seat < n && self.by_id.len() < self.max_seated {
                self.place(&occ.id, occ.role, seat);
            } else {
                displaced.push(occ);
            }
        }
        // Stable: privileged first, otherwise old seating order.
        displaced.sort_by_key(|o| !o.role.is_privileged());

        let mut unseated = Vec::new();
        for occ in displaced {
            match self.pick(occ.role) {
                Some(seat) => self.place(&occ.id, occ.role, seat),
                None => unseated.push(occ.id),
            }
        }
        unseated
    }

    /// The ACS seating map: each seated participant's seat in CSS pixels of a `scene_size`
    /// box that shows the `output`-sized stream letterboxed ("contain": uniform scale,
    /// centred). Seat rectangles are exactly what the compositor draws
    /// ([`WorldToPixel::rect_even`] through [`WorldToPixel::letterboxed`]: an output at
    /// another aspect than the scene's shows the scene letterboxed, and the seats are in that
    /// picture area), clipped to the picture area; seats with nothing visible are left out.
    /// Values are rounded to 2 decimals.
    pub fn seating_map(
        &self,
        scene: &Scene,
        output: (u32, u32),
        scene_size: (u32, u32),
    ) -> SeatingMap {
        self.seating_map_in_view(scene, &scene.extent, output, scene_size)
    }

    /// [`Seating::seating_map`] for an output that shows the `view` window of the scene
    /// (world units, e.g. an autoZoom view, [`crate::zoom`]) instead of its whole extent:
    /// seat rectangles are where the compositor draws them through that view.
    pub fn seating_map_in_view(
        &self,
        scene: &Scene,
        view: &Extent,
        output: (u32, u32),
        scene_size: (u32, u32),
    ) -> SeatingMap {
        let mut map = BTreeMap::new();
        let (ow, oh) = output;
        if ow == 0 || oh == 0 {
            return SeatingMap(map);
        }
        let (bw, bh) = (f64::from(scene_size.0), f64::from(scene_size.1));
        let s = (bw / f64::from(ow)).min(bh / f64::from(oh));
        let off_x = (bw - f64::from(ow) * s) / 2.0;
        let off_y = (bh - f64::from(oh) * s) / 2.0;
        let to_pixel = WorldToPixel::letterboxed(&scene.extent, *view, ow, oh);
        let picture = to_pixel.area();
        let round2 = |v: f64| (v * 100.0).round() / 100.0;
        for (seat, id) in self.occupied() {
            let Some(seat) = scene.seats.get(seat) else {
                continue;
            };
            let r = to_pixel.rect_even(&seat.rect).intersect(&picture);
            if r.is_empty() {
                continue;
            }
            map.insert(
                id.to_string(),
                CssRect {
                    top: round2(off_y + r.y as f64 * s),
                    left: round2(off_x + r.x as f64 * s),
                    width: round2(r.width as f64 * s),
                    height: round2(r.height as f64 * s),
                },
            );
        }
        SeatingMap(map)
    }
}

/// A saved seat layout: participant id -> the `seatingOrder` of their seat, as JSON
/// `{"<id>": <seatingOrder>, ...}`. Save one with [`Seating::layout`] and apply it to a later
/// meeting with [`Seating::apply_layout`] (Teams keeps a layout across a meeting series).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeatLayout(pub BTreeMap<String, u32>);

impl SeatLayout {
    /// The JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Parses the JSON object (ids to non-negative integers).
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// Why a [`SeatLayout`] entry was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LayoutSkipReason {
    /// The participant is not seated here.
    NotPresent,
    /// The scene has no seat with that `seatingOrder` (or every such seat went to an earlier
    /// entry of the layout).
    NoSuchSeat,
    /// The seat is reserved and the participant is an attendee (or moving them would put an
    /// attendee in a reserved seat).
    Reserved,
}

/// A [`SeatLayout`] entry that was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutSkip {
    /// The participant id.
    pub participant: String,
    /// The `seatingOrder` the layout gives them.
    pub seating_order: u32,
    /// Why it was skipped.
    pub reason: LayoutSkipReason,
}

impl Seating {
    /// Who sits where now, as a [`SeatLayout`] of `scene` (the scene this seating is for).
    pub fn layout(&self, scene: &Scene) -> SeatLayout {
        SeatLayout(
            self.occupied()
                .filter_map(|(seat, id)| {
                    let order = scene.seats.get(seat)?.seating_order;
                    Some((id.to_string(), order))
                })
                .collect(),
        )
    }

    /// Moves seated participants to the seats `layout` gives them, in id order: to a free
    /// seat, or swapping with whoever sits there. With several seats sharing a
    /// `seatingOrder`, each entry takes the first (in seating order) no earlier entry took.
    /// Ids not seated here, seats the scene lacks and moves the reservation forbids are
    /// skipped and returned.
    pub fn apply_layout(&mut self, scene: &Scene, layout: &SeatLayout) -> Vec<LayoutSkip> {
        let mut claimed = vec![false; self.seats.len()];
        let mut skipped = Vec::new();
        for (id, &seating_order) in &layout.0 {
            let skip = |reason| LayoutSkip {
                participant: id.clone(),
                seating_order,
                reason,
            };
            if self.seat_of(id).is_none() {
                skipped.push(skip(LayoutSkipReason::NotPresent));
                continue;
            }
            let target = self.order.iter().copied().find(|&s| {
                !claimed.get(s).copied().unwrap_or(true)
                    && scene.seats.get(s).map(|x| x.seating_order) == Some(seating_order)
            });
            let Some(target) = target else {
                skipped.push(skip(LayoutSkipReason::NoSuchSeat));
                continue;
            };
            let moved = match self.occupant(target).map(str::to_string) {
                Some(other) => self.swap(id, &other),
                None => self.assign(id, target),
            };
            match moved {
                Ok(()) => {
                    if let Some(c) = claimed.get_mut(target) {
                        *c = true;
                    }
                }
                Err(_) => skipped.push(skip(LayoutSkipReason::Reserved)),
            }
        }
        skipped
    }
}

/// A seat's box in CSS pixels of the scene-size box (ACS `togetherModeSeatingMap` entry).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CssRect {
    /// Distance from the box's top edge.
    pub top: f64,
    /// Distance from the box's left edge.
    pub left: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// Participant id -> seat box, ordered by id (ACS `togetherModeSeatingMap`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct SeatingMap(pub BTreeMap<String, CssRect>);

impl SeatingMap {
    /// JSON object `{"<id>": {"top":..,"left":..,"width":..,"height":..}, ...}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scene that reserves seats (an app manifest's count) reserves them from the start:
    /// the first in seating order go to privileged roles, attendees take the others; its
    /// `maxAudience` holds for a returning participant too.
    #[test]
    fn the_scenes_own_reservation_and_audience_hold() {
        let mut scene = Scene::builtin("auditorium").unwrap();
        scene.reserved_seats = 2;
        let order = scene.seat_order();
        let mut s = Seating::new(&scene);
        let a = s.join("8:acs:a", Role::Attendee).unwrap();
        assert!(
            !order[..2].contains(&a),
            "an attendee skips the reserved seats"
        );
        assert_eq!(s.join("8:orgid:o", Role::Organizer).unwrap(), order[0]);

        // The organizer leaves the reserved seat (which remembers them); an attendee takes
        // an unreserved one and fills the audience of 1: the organizer's remembered seat is
        // free, but the audience is full.
        let mut small = Scene::builtin("auditorium").unwrap();
        (small.max_audience, small.reserved_seats) = (Some(1), 1);
        let mut s = Seating::new(&small);
        s.join("o", Role::Organizer).unwrap();
        s.leave("o");
        s.join("b", Role::Attendee).unwrap();
        assert!(
            matches!(s.join("o", Role::Organizer), Err(SeatingError::Full(_))),
            "seat memory does not pass the audience limit"
        );
    }
    use crate::geometry::{Extent, WorldRect};
    use crate::scene::Seat;

    /// `n` unit seats in a row; `orders[i]` is seat i's seating order.
    fn row_scene(orders: &[u32]) -> Scene {
        let n = orders.len() as f64;
        Scene {
            id: "row".into(),
            protocol_version: String::new(),
            auto_zoom: false,
            mirror_participants: false,
            extent: Extent {
                left: 0.0,
                top: 0.0,
                width: n.max(1.0),
                height: 1.0,
            },
            sprites: Vec::new(),
            seats: orders
                .iter()
                .enumerate()
                .map(|(i, &o)| Seat {
                    rect: WorldRect {
                        cx: i as f64 + 0.5,
                        cy: 0.5,
                        width: 1.0,
                        height: 1.0,
                    },
                    z_order: 0,
                    seating_order: o,
                })
                .collect(),
            max_audience: None,
            reserved_seats: 0,
        }
    }

    #[test]
    fn reservation_by_count_takes_the_lowest_seating_orders() {
        let scene = row_scene(&[3, 1, 0, 2]);
        let mut s = Seating::new(&scene);
        s.set_reservation(&scene, Reservation::Count(2)).unwrap();
        assert_eq!(s.reserved_seats().collect::<Vec<_>>(), vec![1, 2]);
        // Attendees skip the reserved seats, privileged roles take them first.
        assert_eq!(s.join("a", Role::Attendee), Ok(3));
        assert_eq!(s.join("p", Role::Presenter), Ok(2));
        assert_eq!(s.join("b", Role::Attendee), Ok(0));
        assert_eq!(s.join("c", Role::Attendee), Err(SeatingError::Full(4)));
        assert!(!s.has_room_for(Role::Attendee) && s.has_room_for(Role::CoOrganizer));
        assert_eq!(s.join("o", Role::Organizer), Ok(1));
        // More than the scene has: all of them.
        s.set_reservation(&scene, Reservation::Count(99)).unwrap();
        assert_eq!(s.reserved_seats().count(), 4);
        assert_eq!(s.seat_of("a"), Some(3), "nobody moves");
        // Seat lists are checked.
        assert_eq!(
            s.set_reservation(&scene, Reservation::Seats(vec![0, 4])),
            Err(SeatingError::NoSuchSeat { seat: 4, count: 4 })
        );
        assert_eq!(s.reserved_seats().count(), 4, "unchanged on error");
        s.set_reservation(&scene, Reservation::Seats(vec![3]))
            .unwrap();
        assert_eq!(s.reserved_seats().collect::<Vec<_>>(), vec![3]);
        // The rule follows scene changes: a count picks the new scene's first seats.
        let mut s = Seating::new(&scene);
        s.set_reservation(&scene, Reservation::Count(1)).unwrap();
        s.change_scene(&row_scene(&[0, 1, 2, 3, 4, 5]));
        assert_eq!(s.reserved_seats().collect::<Vec<_>>(), vec![0]);
        assert_eq!(s.reservation(), &Reservation::Count(1));
    }

    #[test]
    fn reservation_parses() {
        assert_eq!("3".parse(), Ok(Reservation::Count(3)));
        assert_eq!("none".parse(), Ok(Reservation::None));
        assert_eq!("".parse(), Ok(Reservation::None));
        assert_eq!("seats:0, 4".parse(), Ok(Reservation::Seats(vec![0, 4])));
        assert!("seats:".parse::<Reservation>().is_err());
        assert!("-1".parse::<Reservation>().is_err());
        assert!("x".parse::<Reservation>().is_err());
    }

    #[test]
    fn seats_are_remembered_until_someone_else_sits_there() {
        let scene = row_scene(&[0, 1, 2, 3]);
        let mut s = Seating::new(&scene);
        for id in ["a", "b", "c"] {
            s.join(id, Role::Attendee).unwrap();
        }
        s.leave("b");
        s.leave("a");
        assert_eq!(s.remembered_seat("b"), Some(1));
        // b comes back to seat 1 although seat 0 comes first.
        assert_eq!(s.join("b", Role::Attendee), Ok(1));
        assert_eq!(s.remembered_seat("b"), None);
        // Someone else took a's seat: a gets the first free one.
        assert_eq!(s.join("d", Role::Attendee), Ok(0));
        assert_eq!(s.remembered_seat("a"), None);
        assert_eq!(s.join("a", Role::Attendee), Ok(3));
        // A seat reserved since the attendee left is not theirs any more.
        s.leave("c");
        s.reserve(2).unwrap();
        s.leave("d");
        assert_eq!(s.join("c", Role::Attendee), Ok(0));
        // Memory carried over to another seating.
        s.leave("b");
        let mut t = Seating::new(&scene);
        for (seat, id) in s.remembered() {
            t.remember(seat, id);
        }
        assert_eq!(t.remembered().collect::<Vec<_>>(), vec![(1, "b")]);
        assert_eq!(t.join("b", Role::Attendee), Ok(1));
        t.remember(2, "b"); // seated: ignored
        t.remember(9, "z"); // no such seat: ignored
        assert_eq!(t.remembered().count(), 0);
    }

    #[test]
    fn seat_layouts_save_and_apply() {
        let scene = row_scene(&[3, 1, 0, 2]);
        let mut s = Seating::new(&scene);
        for id in ["a", "b", "c"] {
            s.join(id, Role::Attendee).unwrap(); // seats 2, 1, 3
        }
        let layout = s.layout(&scene);
        assert_eq!(layout.to_json(), r#"{"a":0,"b":1,"c":2}"#);
        assert_eq!(SeatLayout::from_json(&layout.to_json()).unwrap(), layout);
        assert!(SeatLayout::from_json(r#"{"a":-1}"#).is_err());

        // A later meeting: other join order, plus someone new and someone missing.
        let mut t = Seating::new(&scene);
        for id in ["c", "x", "a"] {
            t.join(id, Role::Attendee).unwrap(); // seats 2, 1, 3
        }
        let mut wanted = layout.clone();
        wanted.0.insert("gone".into(), 0);
        wanted.0.insert("x".into(), 9);
        let skipped = t.apply_layout(&scene, &wanted);
        assert_eq!(
            skipped,
            vec![
                LayoutSkip {
                    participant: "b".into(),
                    seating_order: 1,
                    reason: LayoutSkipReason::NotPresent
                },
                LayoutSkip {
                    participant: "gone".into(),
                    seating_order: 0,
                    reason: LayoutSkipReason::NotPresent
                },
                LayoutSkip {
                    participant: "x".into(),
                    seating_order: 9,
                    reason: LayoutSkipReason::NoSuchSeat
                },
            ]
        );
        assert_eq!(t.layout(&scene).0["a"], 0);
        assert_eq!(t.layout(&scene).0["c"], 2);
        // Reserved seats stay closed to attendees.
        let mut u = Seating::new(&scene);
        u.set_reservation(&scene, Reservation::Count(1)).unwrap(); // seat 2
        u.join("a", Role::Attendee).unwrap();
        let skipped = u.apply_layout(&scene, &layout);
        assert_eq!(skipped.len(), 3);
        assert_eq!(skipped[0].reason, LayoutSkipReason::Reserved);
    }

    #[test]
    fn roles() {
        assert!(Role::Organizer.is_privileged());
        assert!(Role::CoOrganizer.is_privileged());
        assert!(Role::Presenter.is_privileged());
        assert!(!Role::Attendee.is_privileged());
    }

    #[test]
    fn join_follows_seating_order() {
        let scene = row_scene(&[3, 1, 0, 2]);
        let mut s = Seating::new(&scene);
        assert_eq!(s.capacity(), 4);
        assert!(s.is_empty());
        let seats: Vec<usize> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| s.join(id, Role::Attendee).unwrap())
            .collect();
        assert_eq!(seats, vec![2, 1, 3, 0]);
        assert_eq!(s.len(), 4);
        assert_eq!(s.join("e", Role::Attendee), Err(SeatingError::Full(4)));
        assert_eq!(
            s.join("a", Role::Attendee),
            Err(SeatingError::AlreadySeated("a".into()))
        );
        assert_eq!(
            s.occupied().collect::<Vec<_>>(),
            vec![(0, "d"), (1, "b"), (2, "a"), (3, "c")]
        );
    }

    #[test]
    fn bad_ids_are_refused() {
        let mut s = Seating::new(&row_scene(&[0]));
        assert!(matches!(
            s.join("", Role::Attendee),
            Err(SeatingError::BadId(_))
        ));
        let long = "x".repeat(257);
        assert!(matches!(
            s.join(&long, Role::Attendee),
            Err(SeatingError::BadId(_))
        ));
        assert!(s.join(&"x".repeat(256), Role::Attendee).is_ok());
    }

    #[test]
    fn seats_are_stable_when_others_leave_and_join() {
        let scene = row_scene(&[0, 1, 2, 3]);
        let mut s = Seating::new(&scene);
        for id in ["a", "b", "c", "d"] {
            s.join(id, Role::Attendee).unwrap();
        }
        assert_eq!(s.leave("b"), Some(1));
        assert_eq!(s.leave("b"), None);
        assert_eq!(s.leave("nobody"), None);
        assert_eq!(
            (s.seat_of("a"), s.seat_of("c"), s.seat_of("d")),
            (Some(0), Some(2), Some(3))
        );
        // The newcomer fills the hole; nobody else moves.
        assert_eq!(s.join("e", Role::Attendee), Ok(1));
        assert_eq!(s.leave("a"), Some(0));
        assert_eq!(s.join("f", Role::Attendee), Ok(0));
        assert_eq!(
            s.occupied().collect::<Vec<_>>(),
            vec![(0, "f"), (1, "e"), (2, "c"), (3, "d")]
        );
        assert_eq!(s.occupant(1), Some("e"));
        assert_eq!(s.occupant(9), None);
    }

    #[test]
    fn reserved_seats_are_for_privileged_roles() {
        let scene = row_scene(&[0, 1, 2, 3]);
        let mut s = Seating::new(&scene);
        s.reserve(0).unwrap();
        s.reserve(2).unwrap();
        assert_eq!(
            s.reserve(4),
            Err(SeatingError::NoSuchSeat { seat: 4, count: 4 })
        );
        assert!(s.is_reserved(0) && !s.is_reserved(1) && !s.is_reserved(99));

        assert_eq!(s.join("att1", Role::Attendee), Ok(1));
        assert_eq!(s.join("org", Role::Organizer), Ok(0));
        assert_eq!(s.join("pres", Role::Presenter), Ok(2));
        // No reserved seat left: privileged roles take unreserved ones.
        assert_eq!(s.join("co", Role::CoOrganizer), Ok(3));
        assert_eq!(s.join("att2", Role::Attendee), Err(SeatingError::Full(4)));

        // Attendees never get reserved seats, even when only those are free.
        let mut s = Seating::new(&scene);
        for seat in 0..4 {
            s.reserve(seat).unwrap();
        }
        assert_eq!(s.join("att", Role::Attendee), Err(SeatingError::Full(4)));
        s.unreserve(3).unwrap();
        assert_eq!(s.join("att", Role::Attendee), Ok(3));
        assert_eq!(s.role_of("att"), Some(Role::Attendee));
    }

    #[test]
    fn max_audience_caps_who_is_seated() {
        let mut scene = row_scene(&[0, 1, 2, 3]);
        scene.max_audience = Some(2);
        let mut s = Seating::new(&scene);
        assert_eq!(s.join("a", Role::Attendee), Ok(0));
        assert_eq!(s.join("b", Role::Organizer), Ok(1));
        // Two seats are free, but the audience is full.
        assert_eq!(s.join("c", Role::Organizer), Err(SeatingError::Full(4)));
        s.leave("a");
        assert_eq!(s.join("c", Role::Attendee), Ok(0));
        // A scene with a smaller audience unseats the last in seating order.
        scene.max_audience = Some(1);
        assert_eq!(s.change_scene(&scene), vec!["b".to_string()]);
        assert_eq!((s.seat_of("c"), s.len()), (Some(0), 1));
        // No cap: every seat.
        scene.max_audience = None;
        s.change_scene(&scene);
        for id in ["d", "e", "f"] {
            assert!(s.join(id, Role::Attendee).is_ok());
        }
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn assign_moves_to_free_seats_only() {
        let scene = row_scene(&[0, 1, 2, 3]);
        let mut s = Seating::new(&scene);
        s.join("a", Role::Attendee).unwrap();
        s.join("b", Role::Attendee).unwrap();
        s.join("p", Role::Presenter).unwrap();
        s.reserve(3).unwrap();

        assert_eq!(s.assign("zz", 3), Err(SeatingError::NotSeated("zz".into())));
        assert_eq!(
            s.assign("a", 7),
            Err(SeatingError::NoSuchSeat { seat: 7, count: 4 })
        );
        assert_eq!(
            s.assign("a", 1),
            Err(SeatingError::SeatTaken {
                seat: 1,
                by: "b".into()
            })
        );
        assert_eq!(s.assign("a", 3), Err(SeatingError::Reserved(3)));
        assert_eq!(s.assign("a", 0), Ok(()));
        assert_eq!(s.assign("p", 3), Ok(()));
        assert_eq!(s.seat_of("p"), Some(3));
        assert_eq!(s.occupant(2), None);
        assert_eq!(s.assign("a", 2), Ok(()));
        assert_eq!(
            s.occupied().collect::<Vec<_>>(),
            vec![(1, "b"), (2, "a"), (3, "p")]
        );
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn swap_exchanges_seats() {
        let scene = row_scene(&[0, 1, 2]);
        let mut s = Seating::new(&scene);
        s.reserve(0).unwrap();
        s.join("org", Role::Organizer).unwrap(); // seat 0 (reserved)
        s.join("a", Role::Attendee).unwrap(); // seat 1
        s.join("b", Role::Attendee).unwrap(); // seat 2
        assert_eq!(s.swap("a", "b"), Ok(()));
        assert_eq!((s.seat_of("a"), s.seat_of("b")), (Some(2), Some(1)));
        assert_eq!(s.swap("a", "a"), Ok(()));
        assert_eq!(s.swap("a", "x"), Err(SeatingError::NotSeated("x".into())));
        assert_eq!(s.swap("x", "a"), Err(SeatingError::NotSeated("x".into())));
        assert_eq!(s.swap("org", "a"), Err(SeatingError::Reserved(0)));
        assert_eq!(s.swap("a", "org"), Err(SeatingError::Reserved(0)));
        assert_eq!(s.seat_of("org"), Some(0));
        s.unreserve(0).unwrap();
        assert_eq!(s.swap("a", "org"), Ok(()));
        assert_eq!((s.seat_of("a"), s.seat_of("org")), (Some(0), Some(2)));
        assert_eq!(s.occupant(0), Some("a"));
        assert_eq!(s.role_of("org"), Some(Role::Organizer));
    }

    #[test]
    fn change_scene_keeps_existing_seats_and_reseats_the_rest() {
        let big = row_scene(&[0, 1, 2, 3, 4, 5]);
        let mut s = Seating::new(&big);
        for (id, role) in [
            ("a", Role::Attendee),
            ("b", Role::Attendee),
            ("c", Role::Attendee),
            ("d", Role::Attendee),
            ("e", Role::Presenter),
            ("f", Role::Attendee),
        ] {
            s.join(id, role).unwrap();
        }
        s.leave("b"); // seat 1 free
        s.reserve(2).unwrap(); // c stays there anyway

        // Four seats, filled back to front: 3, 2, 1, 0.
        let small = row_scene(&[3, 2, 1, 0]);
        let lost = s.change_scene(&small);
        assert_eq!(s.capacity(), 4);
        // a, c, d keep seats 0, 2, 3; e (presenter) goes first into free seat 1; f is lost.
        assert_eq!(lost, vec!["f".to_string()]);
        assert_eq!(
            s.occupied().collect::<Vec<_>>(),
            vec![(0, "a"), (1, "e"), (2, "c"), (3, "d")]
        );
        assert_eq!(s.seat_of("f"), None);
        assert_eq!(s.role_of("e"), Some(Role::Presenter));
        assert!(s.is_reserved(2));

        // Growing again: everyone stays, new seats fill by the new order.
        let lost = s.change_scene(&row_scene(&[5, 4, 3, 2, 1, 0]));
        assert!(lost.is_empty());
        assert_eq!(s.len(), 4);
        assert_eq!(s.join("g", Role::Attendee), Ok(5));
        assert!(!s.is_reserved(5));
    }

    #[test]
    fn change_scene_reseats_by_join_rules_and_reports_the_unseated() {
        let mut s = Seating::new(&row_scene(&[0, 1, 2, 3]));
        for id in ["a", "b", "c", "d"] {
            s.join(id, Role::Attendee).unwrap();
        }
        s.reserve(0).unwrap();
        // Shrink to two seats: a and b stay; c and d have nowhere to go.
        let lost = s.change_scene(&row_scene(&[0, 1]));
        assert_eq!(lost, vec!["c".to_string(), "d".to_string()]);
        assert_eq!(s.len(), 2);
        assert_eq!(s.seat_of("c"), None);
        // c can come back once a seat is free; the reserved seat 0 stays off limits.
        s.leave("a");
        assert_eq!(s.join("c", Role::Attendee), Err(SeatingError::Full(2)));
        assert_eq!(s.join("o", Role::Organizer), Ok(0));
    }

    #[test]
    fn seating_map_matches_the_compositor_and_acs_box() {
        let scene = Scene::grid(9, 1920, 1080).unwrap();
        let mut s = Seating::new(&scene);
        s.join("8:acs:zero", Role::Attendee).unwrap();
        s.join("8:acs:one", Role::Attendee).unwrap();
        let map = s.seating_map(&scene, (1920, 1080), DEFAULT_SCENE_SIZE);
        assert_eq!(
            map.0["8:acs:zero"],
            CssRect {
                top: 13.33,
                left: 133.33,
                width: 160.0,
                height: 213.33
            }
        );
        // Seat 1 at (840, 20): 840 * 2/3 = 560.
        assert_eq!(map.0["8:acs:one"].left, 560.0);
        assert_eq!(
            map.to_json(),
            r#"{"8:acs:one":{"top":13.33,"left":560.0,"width":160.0,"height":213.33},"8:acs:zero":{"top":13.33,"left":133.33,"width":160.0,"height":213.33}}"#
        );

        // 4:3 box: width-limited, scale 640/1920 = 1/3, bars of (480 - 360) / 2 = 60 on top.
        let map = s.seating_map(&scene, (1920, 1080), (640, 480));
        assert_eq!(
            map.0["8:acs:zero"],
            CssRect {
                top: 66.67,
                left: 66.67,
                width: 80.0,
                height: 106.67
            }
        );
        // Tall-wide box: height-limited, scale 720/1080, bars of (1600 - 1280) / 2 = 160.
        let map = s.seating_map(&scene, (1920, 1080), (1600, 720));
        assert_eq!(map.0["8:acs:zero"].left, 293.33);
        assert_eq!(map.0["8:acs:zero"].top, 13.33);

        // Output at another size: the seat is what rect_even draws there.
        let map = s.seating_map(&scene, (1280, 720), (1280, 720));
        let r = WorldToPixel::new(scene.extent, 1280, 720).rect_even(&scene.seats[0].rect);
        let z = map.0["8:acs:zero"];
        assert_eq!(
            (z.left, z.top, z.width, z.height),
            (r.x as f64, r.y as f64, r.width as f64, r.height as f64)
        );

        // Degenerate sizes give an empty map or zero boxes, never a panic.
        assert!(s.seating_map(&scene, (0, 0), (1280, 720)).0.is_empty());
        let m = s.seating_map(&scene, (1920, 1080), (0, 0));
        assert_eq!(m.0["8:acs:zero"].width, 0.0);
        // A seating made for a bigger scene: seats past the end are skipped.
        let mut big = Seating::new(&Scene::grid(16, 1920, 1080).unwrap());
        for i in 0..16 {
            big.join(&format!("p{i}"), Role::Attendee).unwrap();
        }
        assert_eq!(
            big.seating_map(&scene, (1920, 1080), (1280, 720)).0.len(),
            9
        );
        assert_eq!(SeatingMap::default().to_json(), "{}");
    }
}
