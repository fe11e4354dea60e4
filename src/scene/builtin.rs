//! Built-in scenes, generated in code (no files): the benchmark grid and an auditorium.
//!
//! # The grid layout (exact; the benchmarks depend on it)
//!
//! World units are pixels: extent `0, 0, width, height`. With `n` participants,
//! `G = ceil(sqrt(n))` columns and `rows = ceil(n / G)`; a cell is `width / G` by
//! `height / rows` (integer division). A seat is `seat_h = floor(cell_h * 9 / 10 / 8) * 8`
//! high and `seat_w = seat_h * 3 / 4` wide (with another seat aspect `a:b`,
//! `seat_w = seat_h * a / b / 2 * 2`, the same for 3:4); seat `i` sits in row `i / G`, column `i % G`, at
//! `x = (col * cell_w + (cell_w - seat_w) / 2) / 2 * 2` and
//! `y = (row * cell_h + (cell_h - seat_h) / 2) / 2 * 2` (top-left, integer maths, so always
//! even), `seating_order = i`, `z_order = 1`. One opaque background sprite covers the extent
//! at `z_order = 0`: a diagonal gradient from RGB `20 30 60` (top-left) to `c0 90 60`
//! (bottom-right), generated at `width x height`.

use std::sync::{Arc, OnceLock};

use super::{RgbaImage, Scene, Seat, Sprite, MAX_GRID_PARTICIPANTS, MAX_GRID_SIZE};
use crate::error::SceneError;
use crate::geometry::{check_output_size, Extent, WorldRect};

/// Builds an image from its exact parts; only called with sizes this module computes.
fn image(width: u32, height: u32, data: Vec<u8>) -> Result<Arc<RgbaImage>, SceneError> {
    RgbaImage::new(width, height, data).map(Arc::new)
}

pub(super) fn grid(
    participants: usize,
    width: u32,
    height: u32,
    (aspect_w, aspect_h): (u32, u32),
) -> Result<Scene, SceneError> {
    if aspect_w == 0 || aspect_h == 0 || aspect_w > 64 || aspect_h > 64 {
        return Err(SceneError::GridSeatAspect {
            width: aspect_w,
            height: aspect_h,
        });
    }
    if participants == 0 || participants > MAX_GRID_PARTICIPANTS {
        return Err(SceneError::GridParticipants {
            participants,
            max: MAX_GRID_PARTICIPANTS,
        });
    }
    check_output_size(width, height, MAX_GRID_SIZE)?;
    let n = participants as u64;
    let mut g = 1u64;
    while g * g < n {
        g += 1;
    }
    let rows = n.div_ceil(g);
    let (w, h) = (u64::from(width), u64::from(height));
    let (cell_w, cell_h) = (w / g, h / rows);
    let seat_h = cell_h * 9 / 10 / 8 * 8;
    let seat_w = seat_h * u64::from(aspect_w) / u64::from(aspect_h) / 2 * 2;
    if seat_h == 0 || seat_w == 0 || seat_w > cell_w {
        return Err(SceneError::GridTooSmall {
            participants,
            width,
            height,
        });
    }
    let seats = (0..n)
        .map(|i| {
            let (row, col) = (i / g, i % g);
            let x = (col * cell_w + (cell_w - seat_w) / 2) / 2 * 2;
            let y = (row * cell_h + (cell_h - seat_h) / 2) / 2 * 2;
            Seat {
                rect: WorldRect {
                    cx: x as f64 + seat_w as f64 / 2.0,
                    cy: y as f64 + seat_h as f64 / 2.0,
                    width: seat_w as f64,
                    height: seat_h as f64,
                },
                z_order: 1,
                seating_order: i as u32,
            }
        })
        .collect();
    let background = Sprite {
        name: "background".to_string(),
        rect: WorldRect {
            cx: w as f64 / 2.0,
            cy: h as f64 / 2.0,
            width: w as f64,
            height: h as f64,
        },
        z_order: 0,
        is_alpha: false,
        image: image(width, height, diagonal_gradient(width, height))?,
    };
    Ok(Scene {
        id: format!("builtin:grid{participants}"),
        protocol_version: "1.0".to_string(),
        auto_zoom: false,
        mirror_participants: false,
        extent: Extent {
            left: 0.0,
            top: 0.0,
            width: w as f64,
            height: h as f64,
        },
        sprites: vec![background],
        seats,
        max_audience: None,
        reserved_seats: 0,
    })
}

/// `0x203060` at the top-left corner to `0xc09060` at the bottom-right, linear in `x + y`,
/// rounded to nearest. One colour per anti-diagonal, looked up per pixel.
fn diagonal_gradient(width: u32, height: u32) -> Vec<u8> {
    const FROM: [u64; 3] = [0x20, 0x30, 0x60];
    const TO: [u64; 3] = [0xc0, 0x90, 0x60];
    let (w, h) = (width as usize, height as usize);
    let steps = (w + h).saturating_sub(2).max(1) as u64;
    let lut: Vec<[u8; 4]> = (0..(w + h).saturating_sub(1) as u64)
        .map(|t| {
            let c = |k: usize| -> u8 {
                // TO >= FROM in every channel, so this stays unsigned.
                (FROM[k] + ((TO[k] - FROM[k]) * t * 2 + steps) / (2 * steps)) as u8
            };
            [c(0), c(1), c(2), 255]
        })
        .collect();
    let mut data = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for px in lut.iter().skip(y).take(w) {
            data.extend_from_slice(px);
        }
    }
    data
}

// ---------------------------------------------------------------------------------------------
// The auditorium: seen from the stage, three tiers of seats rising away from the viewer.

/// Pixels per world unit of the auditorium's images (extent 16 x 9 -> 1920 x 1080).
const PPU: f64 = 120.0;

const AUDITORIUM_EXTENT: Extent = Extent {
    left: -8.0,
    top: -4.5,
    width: 16.0,
    height: 9.0,
};

/// One row of seats: count, centre y, seat height, centre spacing, z order.
struct Row {
    count: usize,
    cy: f64,
    height: f64,
    pitch: f64,
    z_order: i32,
}

/// Front row first. Seats are 3:4 (width:height).
const ROWS: [Row; 3] = [
    Row {
        count: 6,
        cy: 2.2,
        height: 3.0,
        pitch: 2.5,
        z_order: 3,
    },
    Row {
        count: 7,
        cy: 0.4,
        height: 2.5,
        pitch: 2.1,
        z_order: 2,
    },
    Row {
        count: 8,
        cy: -1.2,
        height: 2.1,
        pitch: 1.75,
        z_order: 1,
    },
];

/// The balcony rail in front of the back row: drawn over the back row, under the middle row.
const RAIL: WorldRect = WorldRect {
    cx: 0.0,
    cy: -0.35,
    width: 16.0,
    height: 0.5,
};
const RAIL_Z: i32 = 2;

/// The desks in front of the front row: drawn over everything.
const DESKS: WorldRect = WorldRect {
    cx: 0.0,
    cy: 3.6,
    width: 16.0,
    height: 1.8,
};
const DESKS_Z: i32 = 4;

pub(super) fn auditorium() -> Scene {
    static IMAGES: OnceLock<Option<[Arc<RgbaImage>; 3]>> = OnceLock::new();
    // Generated once per process, shared by every auditorium scene.
    let images = IMAGES.get_or_init(|| {
        Some([
            paint(&full_rect(), room).ok()?,
            paint(&RAIL, rail).ok()?,
            paint(&DESKS, desks).ok()?,
        ])
    });

    let mut seats = Vec::new();
    let mut order = 0u32;
    for row in &ROWS {
        let first = seats.len();
        let width = row.height * 3.0 / 4.0;
        for k in 0..row.count {
            let cx = (k as f64 - (row.count as f64 - 1.0) / 2.0) * row.pitch;
            seats.push(Seat {
                rect: WorldRect {
                    cx,
                    cy: row.cy,
                    width,
                    height: row.height,
                },
                z_order: row.z_order,
                seating_order: 0,
            });
        }
        // Centre first, then outwards, left before right.
        let mut by_centre: Vec<usize> = (first..seats.len()).collect();
        by_centre.sort_by(|&a, &b| {
            let key = |i: usize| {
                seats
                    .get(i)
                    .map_or((0.0, 0.0), |s| (s.rect.cx.abs(), s.rect.cx))
            };
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for i in by_centre {
            if let Some(s) = seats.get_mut(i) {
                s.seating_order = order;
                order += 1;
            }
        }
    }

    let sprite = |name: &str, rect: WorldRect, z_order, is_alpha, image: &Arc<RgbaImage>| Sprite {
        name: name.to_string(),
        rect,
        z_order,
        is_alpha,
        image: Arc::clone(image),
    };
    let sprites = match images {
        Some([room, rail, desks]) => vec![
            sprite("room", full_rect(), 0, false, room),
            sprite("rail", RAIL, RAIL_Z, true, rail),
            sprite("desks", DESKS, DESKS_Z, true, desks),
        ],
        None => Vec::new(),
    };
    Scene {
        id: "builtin:auditorium".to_string(),
        protocol_version: "1.0".to_string(),
        auto_zoom: false,
        mirror_participants: true,
        extent: AUDITORIUM_EXTENT,
        sprites,
        seats,
        max_audience: None,
        reserved_seats: 0,
    }
}

fn full_rect() -> WorldRect {
    let e = AUDITORIUM_EXTENT;
    WorldRect {
        cx: e.left + e.width / 2.0,
        cy: e.top + e.height / 2.0,
        width: e.width,
        height: e.height,
    }
}

/// Renders `shade(world_x, world_y)` over `rect` at [`PPU`] pixels per world unit, sampling
/// pixel centres. Sizes are rounded to even pixels.
fn paint(rect: &WorldRect, shade: fn(f64, f64) -> [u8; 4]) -> Result<Arc<RgbaImage>, SceneError> {
    let even = |v: f64| ((v * PPU / 2.0).round() as u32 * 2).max(2);
    let (w, h) = (even(rect.width), even(rect.height));
    let (left, top) = (rect.cx - rect.width / 2.0, rect.cy - rect.height / 2.0);
    let (sx, sy) = (rect.width / w as f64, rect.height / h as f64);
    let mut data = Vec::with_capacity(w as usize * h as usize * 4);
    for y in 0..h {
        let wy = top + (y as f64 + 0.5) * sy;
        for x in 0..w {
            let wx = left + (x as f64 + 0.5) * sx;
            data.extend_from_slice(&shade(wx, wy));
        }
    }
    image(w, h, data)
}

type Rgb = [f64; 3];

fn mix(a: Rgb, b: Rgb, t: f64) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn rgba(c: Rgb, alpha: u8) -> [u8; 4] {
    let q = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    [q(c[0]), q(c[1]), q(c[2]), alpha]
}

/// Tier edges (world y), back to front: where each tier's floor meets the riser below it.
const TIER_EDGES: [f64; 3] = [-2.4, -0.2, 1.6];

/// The room: wall with slats and ceiling lights, three carpeted tiers with lit step edges,
/// darkened towards the sides.
fn room(wx: f64, wy: f64) -> [u8; 4] {
    let mut c: Rgb = if wy < TIER_EDGES[0] {
        // Back wall: dark blue to violet, vertical slats.
        let t = (wy + 4.5) / (TIER_EDGES[0] + 4.5);
        let mut c = mix(
            [0x16, 0x1a, 0x38].map(f64::from),
            [0x3c, 0x2e, 0x5c].map(f64::from),
            t,
        );
        if wx.rem_euclid(1.0) < 0.05 {
            c = mix(c, [0x60, 0x58, 0x88].map(f64::from), 0.6);
        }
        // Ceiling lights with a soft glow.
        let lx = (wx + 7.0).rem_euclid(2.0) - 1.0;
        let d = (lx * lx + (wy + 3.9) * (wy + 3.9)).sqrt();
        if d < 0.12 {
            c = [0xff, 0xe8, 0xb0].map(f64::from);
        } else if d < 0.45 {
            c = mix(
                c,
                [0xd0, 0xb0, 0x80].map(f64::from),
                (0.45 - d) / 0.33 * 0.5,
            );
        }
        c
    } else {
        // Tiers: carpet getting warmer towards the front, a riser face below each edge.
        let tier = TIER_EDGES.iter().filter(|&&e| wy >= e).count();
        let carpet = [[0x52, 0x26, 0x2c], [0x62, 0x2c, 0x30], [0x72, 0x34, 0x36]];
        let base = carpet
            .get(tier.saturating_sub(1))
            .copied()
            .unwrap_or([0x72, 0x34, 0x36])
            .map(f64::from);
        let edge = TIER_EDGES
            .get(tier.saturating_sub(1))
            .copied()
            .unwrap_or(1.6);
        let below = wy - edge;
        let mut c = mix(base, base.map(|v| v * 0.8), below / 3.0);
        if tier >= 2 && below < 0.25 {
            // Riser face of the tier behind, with amber step lights along its top.
            c = [0x2a, 0x16, 0x1a].map(f64::from);
            if below < 0.04 && wx.rem_euclid(0.8) < 0.12 {
                c = [0xff, 0xb0, 0x50].map(f64::from);
            }
        } else if below < 0.03 {
            c = mix(c, [0xa0, 0x70, 0x50].map(f64::from), 0.7);
        }
        c
    };
    // Side walls recede: darken towards the left and right edges.
    let side = (wx.abs() / 8.0).powi(2);
    c = c.map(|v| v * (1.0 - 0.45 * side));
    rgba(c, 255)
}

/// A balcony rail: a brass top bar, thin posts, translucent smoked glass between.
fn rail(wx: f64, wy: f64) -> [u8; 4] {
    let v = wy - (RAIL.cy - RAIL.height / 2.0);
    if v < 0.06 {
        rgba([0xc8, 0xa0, 0x58].map(f64::from), 255)
    } else if wx.rem_euclid(1.0) < 0.04 {
        rgba([0x8a, 0x70, 0x40].map(f64::from), 255)
    } else {
        rgba([0x30, 0x38, 0x48].map(f64::from), 110)
    }
}

/// Desks in front of the front row: a glass privacy panel with a bright top edge over a
/// wooden desk front with dividers between seats.
fn desks(wx: f64, wy: f64) -> [u8; 4] {
    let v = wy - (DESKS.cy - DESKS.height / 2.0);
    if v < 0.03 {
        rgba([0xe0, 0xf0, 0xff].map(f64::from), 170)
    } else if v < 0.3 {
        rgba([0xa8, 0xc8, 0xe0].map(f64::from), 70)
    } else if v < 0.38 {
        rgba([0xb0, 0x80, 0x50].map(f64::from), 255)
    } else {
        let pitch = ROWS[0].pitch;
        // Dividers midway between seats (seats sit at odd multiples of pitch / 2).
        let divider = (wx + 0.025).rem_euclid(pitch) < 0.05;
        let wood = mix(
            [0x70, 0x48, 0x2c].map(f64::from),
            [0x3a, 0x24, 0x16].map(f64::from),
            (v - 0.38) / 1.42,
        );
        let grain = if (wy * 37.0 + wx * 0.7).sin() > 0.8 {
            0.92
        } else {
            1.0
        };
        let c = if divider {
            wood.map(|x| x * 0.6)
        } else {
            wood.map(|x| x * grain)
        };
        rgba(c, 255)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SizeError;
    use crate::geometry::{Rect, WorldToPixel};
    use crate::scene::{Layer, SceneLimits};

    /// Top-left pixel rects of the grid's seats at the grid's own size.
    fn pixel_seats(s: &Scene, w: u32, h: u32) -> Vec<Rect> {
        let m = WorldToPixel::new(s.extent, w, h);
        s.seats.iter().map(|seat| m.rect_even(&seat.rect)).collect()
    }

    #[test]
    fn grid_of_nine_matches_the_benchmark() {
        let s = Scene::grid(9, 1920, 1080).unwrap();
        let r = pixel_seats(&s, 1920, 1080);
        let xs = [200, 840, 1480];
        let ys = [20, 380, 740];
        for (i, rect) in r.iter().enumerate() {
            assert_eq!(*rect, Rect::new(xs[i % 3], ys[i / 3], 240, 320), "seat {i}");
            assert_eq!(s.seats[i].seating_order, i as u32);
            assert_eq!(s.seats[i].z_order, 1);
        }
        assert_eq!(
            s.seats[0].rect,
            WorldRect {
                cx: 320.0,
                cy: 180.0,
                width: 240.0,
                height: 320.0
            }
        );
        assert_eq!(
            s.extent,
            Extent {
                left: 0.0,
                top: 0.0,
                width: 1920.0,
                height: 1080.0
            }
        );
        assert_eq!(s.sprites.len(), 1);
        let bg = &s.sprites[0];
        assert_eq!((bg.z_order, bg.is_alpha), (0, false));
        assert_eq!((bg.image.width(), bg.image.height()), (1920, 1080));
        assert_eq!(
            WorldToPixel::new(s.extent, 1920, 1080).rect_even(&bg.rect),
            Rect::new(0, 0, 1920, 1080)
        );
        assert!(s.validate(&SceneLimits::default()).is_ok());
        assert_eq!(Scene::builtin("grid").unwrap(), s);
    }

    #[test]
    fn grid_of_25_and_49_match_the_benchmark() {
        let s = Scene::grid(25, 1920, 1080).unwrap();
        let r = pixel_seats(&s, 1920, 1080);
        assert_eq!(r.len(), 25);
        // cell 384x216: x = (384-144)/2 = 120, y = (216-192)/2 = 12.
        assert_eq!(r[0], Rect::new(120, 12, 144, 192));
        assert_eq!(r[6], Rect::new(384 + 120, 216 + 12, 144, 192));
        assert_eq!(r[24], Rect::new(4 * 384 + 120, 4 * 216 + 12, 144, 192));

        let s = Scene::grid(49, 1920, 1080).unwrap();
        let r = pixel_seats(&s, 1920, 1080);
        assert_eq!(r.len(), 49);
        // cell 274x154: x = (274-102)/2 = 86, y = (154-136)/2 = 9 -> 8.
        assert_eq!(r[0], Rect::new(86, 8, 102, 136));
        assert_eq!(r[8], Rect::new(274 + 86, 154 + 8, 102, 136));
        // row 6: y = (6*154 + 9)/2*2 = 932; col 6: x = (6*274 + 86)/2*2 = 1730.
        assert_eq!(r[48], Rect::new(1730, 932, 102, 136));
        for rect in &r {
            assert!(rect.x % 2 == 0 && rect.y % 2 == 0);
        }
    }

    #[test]
    fn grid_with_other_seat_aspects() {
        // 49 at 1920x1080, 16:9: cell 274x154, seat_h 136, seat_w 136*16/9 = 241 -> 240.
        let s = Scene::grid_with_seat_aspect(49, 1920, 1080, (16, 9)).unwrap();
        let r = pixel_seats(&s, 1920, 1080);
        assert_eq!(r.len(), 49);
        // x = (274 - 240) / 2 = 17 -> 16; y = 8 as for 3:4.
        assert_eq!(r[0], Rect::new(16, 8, 240, 136));
        assert_eq!(r[48], Rect::new(6 * 274 + 16, 932, 240, 136));
        // 3:4 through the general form is the benchmark grid, exactly.
        let a = Scene::grid_with_seat_aspect(25, 1920, 1080, (3, 4)).unwrap();
        let b = Scene::grid(25, 1920, 1080).unwrap();
        assert_eq!(pixel_seats(&a, 1920, 1080), pixel_seats(&b, 1920, 1080));
        for bad in [(0, 9), (16, 0), (65, 9)] {
            assert!(matches!(
                Scene::grid_with_seat_aspect(4, 1920, 1080, bad),
                Err(SceneError::GridSeatAspect { .. })
            ));
        }
        // Too wide for the cell: 64:1 seats of 136 px height.
        assert!(matches!(
            Scene::grid_with_seat_aspect(49, 1920, 1080, (64, 1)),
            Err(SceneError::GridTooSmall { .. })
        ));
    }

    #[test]
    fn grid_partial_last_row_and_bad_arguments() {
        // 5 participants: 3 columns, 2 rows.
        let s = Scene::grid(5, 1920, 1080).unwrap();
        let r = pixel_seats(&s, 1920, 1080);
        assert_eq!(r.len(), 5);
        // cell 640x540: seat_h = 486 -> 480, seat_w 360.
        assert_eq!(r[4], Rect::new(640 + 140, 540 + 30, 360, 480));

        assert!(matches!(
            Scene::grid(0, 1920, 1080),
            Err(SceneError::GridParticipants {
                participants: 0,
                ..
            })
        ));
        assert!(matches!(
            Scene::grid(2501, 1920, 1080),
            Err(SceneError::GridParticipants {
                participants: 2501,
                max: 2500
            })
        ));
        assert!(Scene::grid(2500, 1920, 1080).is_ok());
        assert!(matches!(
            Scene::grid(2500, 64, 64),
            Err(SceneError::GridTooSmall { .. })
        ));
        assert!(matches!(
            Scene::grid(1, 2, 1080),
            Err(SceneError::GridTooSmall { .. })
        ));
        assert!(matches!(
            Scene::grid(4, 1921, 1080),
            Err(SceneError::Size(SizeError::Odd { .. }))
        ));
        assert!(matches!(
            Scene::grid(4, 0, 1080),
            Err(SceneError::Size(SizeError::Zero { .. }))
        ));
        assert!(matches!(
            Scene::grid(4, 100_000, 1080),
            Err(SceneError::Size(SizeError::TooLarge { .. }))
        ));
    }

    #[test]
    fn grid_gradient_runs_corner_to_corner() {
        let s = Scene::grid(1, 64, 32).unwrap();
        let img = &s.sprites[0].image;
        let px = |x: usize, y: usize| {
            let i = (y * 64 + x) * 4;
            img.data()[i..i + 4].to_vec()
        };
        assert_eq!(px(0, 0), vec![0x20, 0x30, 0x60, 255]);
        assert_eq!(px(63, 31), vec![0xc0, 0x90, 0x60, 255]);
        // Constant along anti-diagonals, and monotonic along them.
        assert_eq!(px(10, 5), px(5, 10));
        assert!(px(20, 20)[0] > px(10, 10)[0]);
    }

    #[test]
    fn auditorium_is_a_valid_theatre() {
        let s = Scene::builtin("auditorium").unwrap();
        assert!(s.validate(&SceneLimits::default()).is_ok());
        assert!((18..=21).contains(&s.seats.len()));
        assert_eq!(s.sprites.len(), 3);
        assert_eq!(s.extent, AUDITORIUM_EXTENT);

        for sp in &s.sprites {
            let (w, h) = (sp.image.width(), sp.image.height());
            assert!(
                w % 2 == 0 && h % 2 == 0 && w <= 1920 && h <= 1080,
                "{}",
                sp.name
            );
        }
        let room = &s.sprites[0];
        assert_eq!((room.z_order, room.is_alpha), (0, false));
        assert_eq!((room.image.width(), room.image.height()), (1920, 1080));
        let desks = &s.sprites[2];
        assert!(desks.is_alpha);
        let alphas: Vec<u8> = desks.image.data().chunks_exact(4).map(|p| p[3]).collect();
        assert!(alphas.iter().any(|&a| a < 255) && alphas.contains(&255));

        // Rows: back rows higher, smaller, lower z; the desks cover the front row's bottom.
        let front: Vec<&Seat> = s.seats.iter().filter(|x| x.z_order == 3).collect();
        let back: Vec<&Seat> = s.seats.iter().filter(|x| x.z_order == 1).collect();
        assert!(front[0].rect.cy > back[0].rect.cy && front[0].rect.height > back[0].rect.height);
        let front_bottom = front[0].rect.cy + front[0].rect.height / 2.0;
        let desk_top = desks.rect.cy - desks.rect.height / 2.0;
        assert!(desk_top < front_bottom && desks.z_order > front[0].z_order);

        // Front-centre first: seat with seating order 0 is in the front row, nearest the middle.
        let first = s.seat_order()[0];
        assert_eq!(s.seats[first].z_order, 3);
        let min_abs = front
            .iter()
            .map(|x| x.rect.cx.abs())
            .fold(f64::MAX, f64::min);
        assert_eq!(s.seats[first].rect.cx.abs(), min_abs);
        let mut orders: Vec<u32> = s.seats.iter().map(|x| x.seating_order).collect();
        orders.sort_unstable();
        assert_eq!(orders, (0..s.seats.len() as u32).collect::<Vec<_>>());

        // Draw order: room, back row, rail, middle row, front row, desks.
        let layers = s.layers();
        assert_eq!(layers.first(), Some(&Layer::Sprite(0)));
        assert_eq!(layers.last(), Some(&Layer::Sprite(2)));
        let pos = |l: Layer| layers.iter().position(|&x| x == l).unwrap();
        let back_seat = s.seats.iter().position(|x| x.z_order == 1).unwrap();
        let mid_seat = s.seats.iter().position(|x| x.z_order == 2).unwrap();
        assert!(pos(Layer::Seat(back_seat)) < pos(Layer::Sprite(1)));
        assert!(pos(Layer::Sprite(1)) < pos(Layer::Seat(mid_seat)));

        // Images are generated once and shared.
        let again = Scene::builtin("auditorium").unwrap();
        assert!(Arc::ptr_eq(&s.sprites[0].image, &again.sprites[0].image));
    }
}
