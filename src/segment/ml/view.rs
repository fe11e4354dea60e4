//! What part of a participant's frame the network sees next (frame-level view).
//!
//! The selfie network is trained on people who fill much of the frame: on the whole frame it
//! finds nobody when the person is small (a face a tenth of the frame's height: MediaPipe's own
//! run of the same network finds nobody either). So the view is:
//!
//! - the **whole frame** by default, exactly as MediaPipe runs the network (so wherever it finds
//!   the person, the mask is MediaPipe's);
//! - when a whole-frame run finds nobody, a **search**: the following runs each see one tile
//!   of half the frame's size (a 2x zoom; 9 tiles overlapping by half, the centre first), then
//!   the whole frame again, and so on;
//! - when a tile finds a person, **tracking**: the next runs see a window around the person
//!   (at the frame's aspect, about twice the person's size, at least a third of the frame's
//!   height), following them run by run; when that window would be most of the frame, back
//!   to the whole frame; when the person is lost, back to the whole frame.
//!
//! A search step costs nothing extra: it replaces the seat's scheduled run.

use crate::geometry::Rect;

/// Tiles of the search (3 x 3).
const TILES: usize = 9;
/// Cells above 0.5 a run must find, as a fraction of the map, to count as a person.
const MIN_PERSON: f32 = 0.005;
/// A zoomed run's person must be at least this tall for its width (frame pixels): people
/// (head and shoulders, or standing) are about as tall as wide or taller; a wide flat streak
/// is not one.
const MIN_TALL: f32 = 0.5;
/// The tracking window's height for the person's size (the person fills about two thirds
/// of it: at a looser zoom the network loses a far person again).
const MARGIN: f32 = 1.5;
/// Runs in a row a tracked person may be missed (the last map kept) before the search
/// starts again.
const MAX_MISSES: u32 = 2;
/// A tracking window of at least this fraction of the frame's height is the whole frame.
const WHOLE_AT: f32 = 0.75;

/// The view's state for one seat (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct ViewPicker {
    /// The view of the next run (`None`: the whole frame).
    next: Option<Rect>,
    /// The tile searched next.
    tile: usize,
    /// Whether `next` follows a person found in a zoomed view.
    tracking: bool,
    /// Runs in a row that lost the tracked person.
    misses: u32,
}

/// The bounding box of a map's person cells, in map cells: `(x0, y0, x1, y1)` (exclusive
/// ends) and the count.
fn person_cells(prob: &[f32], width: usize) -> Option<([usize; 4], usize)> {
    let (mut x0, mut y0, mut x1, mut y1, mut n) = (usize::MAX, usize::MAX, 0, 0, 0usize);
    for (y, row) in prob.chunks_exact(width.max(1)).enumerate() {
        let mut any = false;
        for (x, &p) in row.iter().enumerate() {
            if p > 0.5 {
                n += 1;
                any = true;
                x0 = x0.min(x);
                x1 = x1.max(x + 1);
            }
        }
        if any {
            y0 = y0.min(y);
            y1 = y + 1;
        }
    }
    (n > 0).then_some(([x0, y0, x1, y1], n))
}

/// Rounds down to even, at least 2.
fn even(v: f32) -> i64 {
    ((v / 2.0).floor() as i64 * 2).max(2)
}

impl ViewPicker {
    /// Back to the whole frame (a new participant, or a new frame size).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Whether the next run sees the whole frame (not searching for a person or following
    /// one in a zoomed view).
    pub fn settled(&self) -> bool {
        self.next.is_none()
    }

    /// The part of a `frame`-sized frame the next run sees: even offsets and sides, inside
    /// the frame.
    pub fn view(&self, frame: (u32, u32)) -> Rect {
        let whole = Rect::new(0, 0, i64::from(frame.0), i64::from(frame.1));
        match self.next {
            Some(r) if !r.is_empty() && r.intersect(&whole) == r => r,
            _ => whole,
        }
    }

    /// Takes in a run's map (`prob`, `width` values wide) of `seen` (in frame pixels) of a
    /// `frame`-sized frame, picks the next view, and says what to make of the map.
    pub fn observe(&mut self, prob: &[f32], width: usize, seen: Rect, frame: (u32, u32)) -> Seen {
        let (fw, fh) = (frame.0 as f32, frame.1 as f32);
        let whole = Rect::new(0, 0, i64::from(frame.0), i64::from(frame.1));
        let height = prob.len() / width.max(1);
        if width == 0 || height == 0 || fw < 4.0 || fh < 4.0 || seen.is_empty() {
            self.reset();
            return Seen::Map;
        }
        let was_whole = seen == whole;
        let (sx, sy) = (
            seen.width as f32 / width as f32,
            seen.height as f32 / height as f32,
        );
        let found = person_cells(prob, width).and_then(|([x0, y0, x1, y1], n)| {
            let (bw, bh) = ((x1 - x0) as f32 * sx, (y1 - y0) as f32 * sy);
            let enough = n as f32 >= MIN_PERSON * prob.len() as f32;
            // The whole-frame view is MediaPipe's own: whatever it finds stands.
            if !(enough && (was_whole || bh >= MIN_TALL * bw)) {
                return None;
            }
            let (mut x, mut y) = (
                seen.x as f32 + x0 as f32 * sx,
                seen.y as f32 + y0 as f32 * sy,
            );
            let (mut bw, mut bh) = (bw, bh);
            // A person cut by the view's edge (not the frame's) goes on beyond it: reach
            // half their size further that way.
            let left = x0 == 0 && seen.x > 0;
            let right = x1 == width && seen.right() < whole.right();
            let top = y0 == 0 && seen.y > 0;
            let bottom = y1 == height && seen.bottom() < whole.bottom();
            if left {
                x -= bw / 2.0;
                bw *= 1.5;
            }
            if right {
                bw *= 1.5;
            }
            if top {
                y -= bh / 2.0;
                bh *= 1.5;
            }
            if bottom {
                bh *= 1.5;
            }
            let cut = left || right || top || bottom;
            Some(([x.max(0.0), y.max(0.0), bw.min(fw), bh.min(fh)], cut))
        });
        match found {
            Some(_) if was_whole => {
                self.reset();
                Seen::Map
            }
            Some(([x, y, bw, bh], cut)) => {
                self.misses = 0;
                let h = (MARGIN * bh.max(bw * fh / fw)).max(fh / 3.0);
                if h >= WHOLE_AT * fh {
                    self.reset();
                    return Seen::Map;
                }
                // Kept while the person stays well inside it at about the same size: the
                // view (and the mask's sharpness) does not wobble run by run.
                // (Sides where the view meets the frame's edge need no room.)
                let inset = 0.05 * seen.height as f32;
                let room = |view_edge: i64, frame_edge: i64| {
                    if view_edge == frame_edge {
                        0.0
                    } else {
                        inset
                    }
                };
                let inside = x >= seen.x as f32 + room(seen.x, 0)
                    && y >= seen.y as f32 + room(seen.y, 0)
                    && x + bw <= seen.right() as f32 - room(seen.right(), whole.right())
                    && y + bh <= seen.bottom() as f32 - room(seen.bottom(), whole.bottom());
                let similar = (0.8..1.25).contains(&(h / seen.height as f32));
                if self.tracking && inside && similar {
                    return Seen::Map;
                }
                let wh = even(h).min(i64::from(frame.1) & !1);
                let ww = even(h * fw / fh).min(i64::from(frame.0) & !1);
                let (cx, cy) = (x + bw / 2.0, y + bh / 2.0);
                // Centred on the person, inside the frame, even.
                let place = |c: f32, len: i64, max: i64| {
                    ((c - len as f32 / 2.0).round() as i64).clamp(0, (max - len).max(0)) & !1
                };
                let r = Rect::new(
                    place(cx, ww, i64::from(frame.0)),
                    place(cy, wh, i64::from(frame.1)),
                    ww,
                    wh,
                );
                let was_tracking = std::mem::replace(&mut self.tracking, true);
                self.next = Some(r);
                // Part of a person (cut by the view): the next view holds them; meanwhile
                // this map does not show them (a head cut in half is no head to frame by).
                match (cut, was_tracking) {
                    (false, _) => Seen::Map,
                    (true, true) => Seen::Miss,
                    (true, false) => Seen::Nobody,
                }
            }
            None if was_whole => {
                self.tracking = false;
                self.tile = 0;
                self.next = Some(tile(0, frame));
                Seen::Map
            }
            None if self.tracking => {
                self.misses += 1;
                if self.misses > MAX_MISSES {
                    self.reset();
                    Seen::Nobody
                } else {
                    Seen::Miss
                }
            }
            None => {
                self.tile += 1;
                if self.tile >= TILES {
                    self.reset();
                } else {
                    self.next = Some(tile(self.tile, frame));
                }
                Seen::Nobody
            }
        }
    }
}

/// What to make of a run's map ([`ViewPicker::observe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Use it: the whole frame's map (whatever it shows), or a person found in a zoomed view.
    Map,
    /// A zoomed view showed nobody (a search step): no person in the frame.
    Nobody,
    /// A tracked person was not found this once: keep the last map.
    Miss,
}

/// Search tile `i` (0..9) of a `frame`-sized frame: half its size, even; the centre first,
/// then the middle row, the top row and the bottom row, each centre, left, right.
fn tile(i: usize, frame: (u32, u32)) -> Rect {
    let (fw, fh) = (i64::from(frame.0), i64::from(frame.1));
    let (tw, th) = (even(fw as f32 / 2.0).min(fw), even(fh as f32 / 2.0).min(fh));
    let at = |k: usize, free: i64| match k {
        0 => (free / 2) & !1,
        1 => 0,
        _ => free & !1,
    };
    Rect::new(at(i % 3, fw - tw), at(i / 3, fh - th), tw, th)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: (u32, u32) = (480, 270);

    /// A map (`w x h`) of `seen` with a person box (frame pixels) set to 0.9.
    fn map(w: usize, h: usize, seen: Rect, person: Option<Rect>) -> Vec<f32> {
        let mut m = vec![0.05; w * h];
        if let Some(p) = person {
            for y in 0..h {
                for x in 0..w {
                    let fx = seen.x as f32 + (x as f32 + 0.5) * seen.width as f32 / w as f32;
                    let fy = seen.y as f32 + (y as f32 + 0.5) * seen.height as f32 / h as f32;
                    if (p.x as f32..p.right() as f32).contains(&fx)
                        && (p.y as f32..p.bottom() as f32).contains(&fy)
                    {
                        m[y * w + x] = 0.9;
                    }
                }
            }
        }
        m
    }

    fn whole() -> Rect {
        Rect::new(0, 0, 480, 270)
    }

    fn valid(r: Rect) -> bool {
        r.x % 2 == 0
            && r.y % 2 == 0
            && r.width % 2 == 0
            && r.height % 2 == 0
            && r.width > 0
            && r.height > 0
            && r.intersect(&whole()) == r
    }

    #[test]
    fn a_person_found_in_the_whole_frame_keeps_the_whole_frame() {
        let mut v = ViewPicker::default();
        let person = Rect::new(300, 120, 60, 100);
        v.observe(&map(256, 144, whole(), Some(person)), 256, whole(), FRAME);
        assert_eq!(v.view(FRAME), whole());
    }

    #[test]
    fn nobody_searches_the_tiles_then_the_whole_frame_again() {
        let mut v = ViewPicker::default();
        let mut seen = Vec::new();
        for _ in 0..TILES + 2 {
            let view = v.view(FRAME);
            assert!(valid(view), "{view:?}");
            seen.push(view);
            v.observe(&map(256, 144, view, None), 256, view, FRAME);
        }
        assert_eq!(seen[0], whole());
        let tiles = &seen[1..=TILES];
        for t in tiles {
            assert_eq!((t.width, t.height), (240, 134));
        }
        // Every tile differs, together they cover the frame, the centre comes first.
        for (i, a) in tiles.iter().enumerate() {
            assert!(tiles[i + 1..].iter().all(|b| b != a));
        }
        assert_eq!(tiles[0], Rect::new(120, 68, 240, 134));
        for (x, y) in [(0, 0), (479, 0), (0, 269), (479, 269), (240, 135)] {
            assert!(tiles
                .iter()
                .any(|t| (t.x..t.right()).contains(&x) && (t.y..t.bottom()).contains(&y)));
        }
        assert_eq!(seen[TILES + 1], whole());
    }

    #[test]
    fn a_small_person_found_in_a_tile_is_tracked_then_released() {
        let mut v = ViewPicker::default();
        v.observe(&map(256, 144, whole(), None), 256, whole(), FRAME);
        // carphone's far clip: the person low in the middle, cut by the centre tile's
        // bottom edge (a flat part of them there: not taken), found in another tile.
        let person = Rect::new(200, 180, 80, 66);
        let mut z = whole();
        for _ in 0..TILES {
            let t = v.view(FRAME);
            v.observe(&map(256, 144, t, Some(person)), 256, t, FRAME);
            z = v.view(FRAME);
            if v.tracking {
                break;
            }
        }
        assert!(v.tracking);
        // A tile may show only part of them: the window grows to hold them within a few runs.
        for _ in 0..3 {
            v.observe(&map(256, 144, z, Some(person)), 256, z, FRAME);
            z = v.view(FRAME);
        }
        assert!(valid(z), "{z:?}");
        assert!(z.intersect(&person) == person, "{z:?} holds {person:?}");
        assert!(z.height < 200 && z.height >= 90, "{z:?}");
        // Frame aspect (within rounding).
        assert!((z.width as f32 / z.height as f32 - 480.0 / 270.0).abs() < 0.05);
        // The person moves right: the window follows.
        let moved = Rect::new(260, 180, 80, 66);
        v.observe(&map(256, 144, z, Some(moved)), 256, z, FRAME);
        let z2 = v.view(FRAME);
        assert!(z2.x > z.x && z2.intersect(&moved) == moved, "{z2:?}");
        // Missed once or twice: the same view, the last map kept; then the whole frame.
        for _ in 0..MAX_MISSES {
            assert_eq!(
                v.observe(&map(256, 144, z2, None), 256, z2, FRAME),
                Seen::Miss
            );
            assert_eq!(v.view(FRAME), z2);
        }
        assert_eq!(
            v.observe(&map(256, 144, z2, None), 256, z2, FRAME),
            Seen::Nobody
        );
        assert_eq!(v.view(FRAME), whole());
    }

    #[test]
    fn a_person_cut_by_a_tile_is_not_shown_until_a_view_holds_them() {
        let mut v = ViewPicker::default();
        v.observe(&map(256, 144, whole(), None), 256, whole(), FRAME);
        let t = v.view(FRAME);
        assert_eq!(t, Rect::new(120, 68, 240, 134));
        // Head and shoulders from y 150 to 250: the centre tile (to y 202) cuts them.
        let person = Rect::new(220, 150, 60, 100);
        let seen = v.observe(&map(256, 144, t, Some(person)), 256, t, FRAME);
        assert_eq!(seen, Seen::Nobody);
        let next = v.view(FRAME);
        assert!(
            next.bottom() > t.bottom() && next.bottom() >= 240,
            "{next:?}"
        );
        // Within two more runs a view holds them whole, and the map is used.
        let mut z = next;
        let mut last = Seen::Nobody;
        for _ in 0..2 {
            last = v.observe(&map(256, 144, z, Some(person)), 256, z, FRAME);
            z = v.view(FRAME);
            if last == Seen::Map {
                break;
            }
        }
        assert_eq!(last, Seen::Map);
        assert_eq!(z.intersect(&person), person, "{z:?}");
    }

    #[test]
    fn a_person_who_comes_close_returns_the_whole_frame_and_streaks_do_not_count() {
        let mut v = ViewPicker::default();
        v.observe(&map(256, 144, whole(), None), 256, whole(), FRAME);
        let t = v.view(FRAME);
        // A wide flat streak in the tile: not a person, the search goes on.
        let streak = Rect::new(t.x, t.y + 40, t.width, 20);
        assert_eq!(
            v.observe(&map(256, 144, t, Some(streak)), 256, t, FRAME),
            Seen::Nobody
        );
        let next = v.view(FRAME);
        assert_ne!(next, t);
        assert_ne!(next, whole());
        // A person as tall as most of the tile: whole frame.
        let big = Rect::new(next.x + 60, next.y, 100, next.height);
        v.observe(&map(256, 144, next, Some(big)), 256, next, FRAME);
        assert_eq!(v.view(FRAME), whole());
    }

    #[test]
    fn odd_and_tiny_frames_and_bad_maps_give_valid_views() {
        for frame in [(4, 4), (5, 7), (176, 144), (180, 320), (1921, 1081)] {
            let w = Rect::new(0, 0, i64::from(frame.0), i64::from(frame.1));
            let mut v = ViewPicker::default();
            for k in 0..12 {
                let view = v.view(frame);
                assert!(
                    view.intersect(&w) == view && !view.is_empty(),
                    "{frame:?} {view:?}"
                );
                let person = (k == 3).then(|| Rect::new(view.x, view.y, 2, 4));
                v.observe(&map(16, 16, view, person), 16, view, frame);
            }
        }
        let mut v = ViewPicker::default();
        v.observe(&[], 0, whole(), FRAME);
        v.observe(&[0.9; 10], 3, Rect::default(), FRAME);
        assert_eq!(v.view(FRAME), whole());
    }
}
