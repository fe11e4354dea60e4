//! Seat assignment and the ACS seating map.
//!
//! Participants get the first free seat in the scene's `seatingOrder`; seats can be reserved
//! for organizers, co-organizers and presenters. Seats are stable: nobody moves when others
//! join or leave; only [`Seating::assign`], [`Seating::swap`] and [`Seating::change_scene`]
//! move people.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

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
    /// Most participants seated at once (the scene's `max_audience`, at most its seats).
    max_seated: usize,
}

impl Seating {
    /// Empty seating for `scene`'s seats; nothing reserved.
    pub fn new(scene: &Scene) -> Self {
        let n = scene.seats.len();
        Self {
            seats: vec![None; n],
            reserved: vec![false; n],
            order: scene.seat_order(),
            by_id: HashMap::new(),
            max_seated: max_seated(scene),
        }
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
        if let Some(slot) = self.seats.get_mut(seat) {
            *slot = Some(Occupant {
                id: id.to_string(),
                role,
            });
            self.by_id.insert(id.to_string(), seat);
        }
    }

    /// Seats `id` in the first free seat (in seating order) its role may use: privileged
    /// roles take a free reserved seat first, else the first free unreserved one; others
    /// only unreserved seats. Returns the seat index.
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
            .pick(role)
            .ok_or(SeatingError::Full(self.seats.len()))?;
        self.place(id, role, seat);
        Ok(seat)
    }

    /// Removes `id`; returns the seat it had. Nobody else moves.
    pub fn leave(&mut self, id: &str) -> Option<usize> {
        let seat = self.by_id.remove(id)?;
        if let Some(slot) = self.seats.get_mut(seat) {
            *slot = None;
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
    /// there (even an attendee on a seat that is reserved); reservations of seat indices that
    /// still exist are kept. The others are re-seated by the join rules with their role,
    /// privileged participants first, then in the seating order of their old seats. Returns
    /// the ids that found no seat; they are removed.
    pub fn change_scene(&mut self, scene: &Scene) -> Vec<String> {
        let n = scene.seats.len();
        let old_order = std::mem::replace(&mut self.order, scene.seat_order());
        self.max_seated = max_seated(scene);
        let mut old_seats = std::mem::replace(&mut self.seats, vec![None; n]);
        self.reserved.resize(n, false);
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
    /// ([`WorldToPixel::rect_even`]), clipped to the output; seats with nothing visible are
    /// left out. Values are rounded to 2 decimals.
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
        let to_pixel = WorldToPixel::new(*view, ow, oh);
        let round2 = |v: f64| (v * 100.0).round() / 100.0;
        for (seat, id) in self.occupied() {
            let Some(seat) = scene.seats.get(seat) else {
                continue;
            };
            let r = to_pixel.rect_even(&seat.rect).clip(ow, oh);
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
