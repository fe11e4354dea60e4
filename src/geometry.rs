//! Rectangles, world-to-pixel mapping, aspect-fill crops and clipping.
//!
//! Scene positions are centre-based world units inside an [`Extent`]; output positions are
//! pixels, top-left based. Placement maths lives here, once: clipping is done in `i64` with
//! saturating arithmetic so hostile coordinates cannot overflow.

use serde::{Deserialize, Serialize};

/// The world-unit box of a scene (Teams `extent`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Extent {
    /// World x of the left edge.
    pub left: f64,
    /// World y of the top edge.
    pub top: f64,
    /// World width (> 0).
    pub width: f64,
    /// World height (> 0).
    pub height: f64,
}

/// A centre-based rectangle in world units (Teams `cx, cy, width, height`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorldRect {
    /// Centre x.
    pub cx: f64,
    /// Centre y.
    pub cy: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl WorldRect {
    /// Whether the rectangle lies inside `extent`, with a tolerance of 1e-6 of the extent's
    /// size on each axis (per axis: a wide, flat extent must not let a seat stick out far
    /// vertically, where one world unit can be billions of pixels).
    pub fn inside(&self, extent: &Extent) -> bool {
        let eps_x = 1e-6 * extent.width.abs();
        let eps_y = 1e-6 * extent.height.abs();
        let l = self.cx - self.width / 2.0;
        let t = self.cy - self.height / 2.0;
        l >= extent.left - eps_x
            && t >= extent.top - eps_y
            && l + self.width <= extent.left + extent.width + eps_x
            && t + self.height <= extent.top + extent.height + eps_y
    }
}

/// A pixel rectangle, top-left based. May extend past the output (use [`Rect::clip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Rect {
    /// Left column.
    pub x: i64,
    /// Top row.
    pub y: i64,
    /// Width in pixels.
    pub width: i64,
    /// Height in pixels.
    pub height: i64,
}

impl Rect {
    /// A rectangle from its parts.
    pub const fn new(x: i64, y: i64, width: i64, height: i64) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// Right edge (exclusive), saturating.
    pub fn right(&self) -> i64 {
        self.x.saturating_add(self.width)
    }

    /// Bottom edge (exclusive), saturating.
    pub fn bottom(&self) -> i64 {
        self.y.saturating_add(self.height)
    }

    /// Whether the rectangle has no area.
    pub fn is_empty(&self) -> bool {
        self.width <= 0 || self.height <= 0
    }

    /// The intersection with `other`; empty rectangles come back with zero width or height.
    pub fn intersect(&self, other: &Rect) -> Rect {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = self.right().min(other.right());
        let y1 = self.bottom().min(other.bottom());
        Rect::new(x0, y0, (x1 - x0).max(0), (y1 - y0).max(0))
    }

    /// The part inside a `width x height` canvas at the origin.
    pub fn clip(&self, width: u32, height: u32) -> Rect {
        self.intersect(&Rect::new(0, 0, width as i64, height as i64))
    }
}

/// Maps world units to output pixels: `px = area.x + (x - extent.left) * area.width /
/// extent.width` (and the same for y), where `area` is the part of the output the extent
/// fills: the whole output ([`WorldToPixel::new`]) or its letterboxed picture area
/// ([`WorldToPixel::letterboxed`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorldToPixel {
    extent: Extent,
    area: Rect,
}

impl WorldToPixel {
    /// A mapping from `extent` onto a whole `width x height` output (stretched when the
    /// aspects differ).
    pub fn new(extent: Extent, width: u32, height: u32) -> Self {
        Self::onto(extent, Rect::new(0, 0, width.into(), height.into()))
    }

    /// A mapping from `extent` onto the pixel rectangle `area`.
    pub fn onto(extent: Extent, area: Rect) -> Self {
        Self { extent, area }
    }

    /// A mapping from `view` (a window of `scene_extent` at its aspect, e.g. the extent itself
    /// or an autoZoom view) onto the picture area [`letterbox`] gives `scene_extent` in a
    /// `width x height` output: the scene keeps its aspect, centred, with bars around.
    pub fn letterboxed(scene_extent: &Extent, view: Extent, width: u32, height: u32) -> Self {
        Self::onto(view, letterbox(scene_extent, width, height))
    }

    /// The output rectangle the extent maps onto.
    pub fn area(&self) -> Rect {
        self.area
    }

    /// Pixel x of world x (not rounded).
    pub fn x(&self, wx: f64) -> f64 {
        self.area.x as f64 + (wx - self.extent.left) * self.area.width as f64 / self.extent.width
    }

    /// Pixel y of world y (not rounded).
    pub fn y(&self, wy: f64) -> f64 {
        self.area.y as f64 + (wy - self.extent.top) * self.area.height as f64 / self.extent.height
    }

    /// The pixel rectangle of `r`, each edge rounded to the nearest even pixel (so 4:2:0
    /// chroma lines up). Edges are rounded, not sizes, so adjacent rectangles stay adjacent.
    pub fn rect_even(&self, r: &WorldRect) -> Rect {
        let even = |v: f64| -> i64 {
            let v = (v / 2.0).round() * 2.0;
            // Saturating cast: hostile values become huge but finite, clipped later.
            v.clamp(-(1i64 << 40) as f64, (1i64 << 40) as f64) as i64
        };
        let x0 = even(self.x(r.cx - r.width / 2.0));
        let x1 = even(self.x(r.cx + r.width / 2.0));
        let y0 = even(self.y(r.cy - r.height / 2.0));
        let y1 = even(self.y(r.cy + r.height / 2.0));
        Rect::new(x0, y0, x1 - x0, y1 - y0)
    }
}

/// The picture area of a scene with `extent` in a `width x height` output (even sides):
/// the largest centred rectangle at the extent's aspect, with even offset and sides (4:2:0
/// chroma), at least 2x2. An output at the extent's aspect (to the nearest even pixel) is
/// the whole output: nothing changes there. A wider output gets bars left and right
/// (pillarbox), a taller one bars above and below (letterbox). A degenerate extent (not
/// finite, not positive) gets the whole output.
pub fn letterbox(extent: &Extent, width: u32, height: u32) -> Rect {
    let full = Rect::new(0, 0, width.into(), height.into());
    let aspect = extent.width / extent.height;
    if !(aspect.is_finite() && aspect > 0.0) || width < 2 || height < 2 {
        return full;
    }
    let (w, h) = (f64::from(width), f64::from(height));
    let even = |v: f64, max: u32| -> i64 {
        let v = ((v / 2.0).round() * 2.0).clamp(2.0, f64::from(max & !1));
        v as i64
    };
    let (pw, ph) = if w > h * aspect {
        (even(h * aspect, width), i64::from(height))
    } else {
        (i64::from(width), even(w / aspect, height))
    };
    if (pw, ph) == (full.width, full.height) {
        return full;
    }
    let x = (full.width - pw) / 2 / 2 * 2;
    let y = (full.height - ph) / 2 / 2 * 2;
    Rect::new(x, y, pw, ph)
}

/// The centred crop of a `src_w x src_h` image with the aspect ratio of `dst_w x dst_h`,
/// in whole pixels, with even offset and size when `even` (for 4:2:0 sources).
/// Returns `(x, y, width, height)`; never larger than the source, never zero for a
/// non-empty source.
pub fn aspect_fill_crop(
    src_w: u32,
    src_h: u32,
    dst_w: u32,
    dst_h: u32,
    even: bool,
) -> (u32, u32, u32, u32) {
    if src_w == 0 || src_h == 0 || dst_w == 0 || dst_h == 0 {
        return (0, 0, src_w, src_h);
    }
    let (sw, sh, dw, dh) = (src_w as u64, src_h as u64, dst_w as u64, dst_h as u64);
    let (mut cw, mut ch) = if sw * dh > sh * dw {
        // source is wider: keep the height
        (((sh * dw) as f64 / dh as f64).round() as u64, sh)
    } else {
        (sw, ((sw * dh) as f64 / dw as f64).round() as u64)
    };
    let snap = |v: u64, max: u64| -> u64 {
        let v = v.clamp(1, max);
        if even && v >= 2 {
            v & !1
        } else {
            v
        }
    };
    cw = snap(cw, sw);
    ch = snap(ch, sh);
    let mut x = (sw - cw) / 2;
    let mut y = (sh - ch) / 2;
    if even {
        x &= !1;
        y &= !1;
    }
    (x as u32, y as u32, cw as u32, ch as u32)
}

/// Parses `WxH` (e.g. `1920x1080`).
pub fn parse_size(s: &str) -> Result<(u32, u32), crate::error::SizeError> {
    let bad = || crate::error::SizeError::Malformed(s.to_string());
    let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    Ok((w, h))
}

/// Checks an output size: non-zero, even, at most `max`.
pub fn check_output_size(
    width: u32,
    height: u32,
    max: (u32, u32),
) -> Result<(), crate::error::SizeError> {
    use crate::error::SizeError;
    if width == 0 || height == 0 {
        return Err(SizeError::Zero { width, height });
    }
    if width % 2 == 1 || height % 2 == 1 {
        return Err(SizeError::Odd { width, height });
    }
    if width > max.0 || height > max.1 {
        return Err(SizeError::TooLarge {
            width,
            height,
            max_width: max.0,
            max_height: max.1,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_matches_the_workload() {
        // 640x360 to a 3:4 seat: 270x360 at x=184 (the canonical workload's crop).
        assert_eq!(
            aspect_fill_crop(640, 360, 240, 320, true),
            (184, 0, 270, 360)
        );
        assert_eq!(
            aspect_fill_crop(640, 360, 102, 136, true),
            (184, 0, 270, 360)
        );
        // Taller source: keep the width.
        assert_eq!(aspect_fill_crop(360, 640, 16, 9, true), (0, 218, 360, 202));
        // Same aspect: whole image.
        assert_eq!(aspect_fill_crop(640, 360, 320, 180, true), (0, 0, 640, 360));
        // Degenerate sources stay in bounds.
        assert_eq!(aspect_fill_crop(1, 1, 100, 1, true), (0, 0, 1, 1));
        assert_eq!(aspect_fill_crop(3, 1000, 1000, 3, false), (0, 499, 3, 1));
    }

    #[test]
    fn letterbox_keeps_the_extent_aspect() {
        let e = Extent {
            left: -8.0,
            top: 0.0,
            width: 16.0,
            height: 9.0,
        };
        // The extent's aspect, to the nearest even pixel: the whole output.
        for (w, h) in [(1920, 1080), (854, 480), (192, 108), (426, 240)] {
            assert_eq!(letterbox(&e, w, h), Rect::new(0, 0, w.into(), h.into()));
        }
        // Taller: bars above and below, centred on even rows. Wider: bars left and right.
        assert_eq!(letterbox(&e, 720, 720), Rect::new(0, 156, 720, 406));
        assert_eq!(letterbox(&e, 2560, 1080), Rect::new(320, 0, 1920, 1080));
        assert_eq!(letterbox(&e, 1920, 1200), Rect::new(0, 60, 1920, 1080));
        // Extreme outputs keep at least 2x2 inside the output; degenerate extents fill it.
        assert_eq!(letterbox(&e, 2, 4000), Rect::new(0, 1998, 2, 2));
        assert_eq!(letterbox(&e, 4000, 2), Rect::new(1998, 0, 4, 2));
        let flat = Extent { height: 0.0, ..e };
        assert_eq!(letterbox(&flat, 64, 64), Rect::new(0, 0, 64, 64));
        let nan = Extent {
            width: f64::NAN,
            ..e
        };
        assert_eq!(letterbox(&nan, 64, 64), Rect::new(0, 0, 64, 64));
        // The letterboxed mapping puts the extent's corners on the picture's.
        let m = WorldToPixel::letterboxed(&e, e, 720, 720);
        assert_eq!((m.x(-8.0), m.y(0.0)), (0.0, 156.0));
        assert_eq!((m.x(8.0), m.y(9.0)), (720.0, 562.0));
    }

    #[test]
    fn world_to_pixel_maps_edges() {
        let m = WorldToPixel::new(
            Extent {
                left: -1.0,
                top: -0.5625,
                width: 2.0,
                height: 1.125,
            },
            1920,
            1080,
        );
        assert_eq!(m.x(-1.0), 0.0);
        assert_eq!(m.x(1.0), 1920.0);
        assert_eq!(m.y(0.0), 540.0);
        let r = m.rect_even(&WorldRect {
            cx: 0.0,
            cy: 0.0,
            width: 0.5,
            height: 0.5,
        });
        assert_eq!(r, Rect::new(720, 300, 480, 480));
        assert!(r.x % 2 == 0 && r.y % 2 == 0 && r.width % 2 == 0 && r.height % 2 == 0);
    }

    #[test]
    fn adjacent_world_rects_stay_adjacent() {
        let m = WorldToPixel::new(
            Extent {
                left: 0.0,
                top: 0.0,
                width: 3.0,
                height: 3.0,
            },
            1000,
            998,
        );
        let a = m.rect_even(&WorldRect {
            cx: 0.5,
            cy: 0.5,
            width: 1.0,
            height: 1.0,
        });
        let b = m.rect_even(&WorldRect {
            cx: 1.5,
            cy: 0.5,
            width: 1.0,
            height: 1.0,
        });
        assert_eq!(a.right(), b.x);
    }

    #[test]
    fn clipping_saturates() {
        let r = Rect::new(i64::MAX - 5, -10, i64::MAX, 20);
        assert!(r.clip(100, 100).is_empty());
        let r = Rect::new(-10, -10, 30, 30).clip(100, 100);
        assert_eq!(r, Rect::new(0, 0, 20, 20));
    }

    #[test]
    fn sizes_parse_and_check() {
        assert_eq!(parse_size("1920x1080"), Ok((1920, 1080)));
        assert!(parse_size("1920").is_err());
        assert!(parse_size("ax2").is_err());
        assert!(parse_size("-2x2").is_err());
        assert!(check_output_size(1921, 1080, (8192, 8192)).is_err());
        assert!(check_output_size(0, 1080, (8192, 8192)).is_err());
        assert!(check_output_size(10000, 1080, (8192, 8192)).is_err());
        assert!(check_output_size(2, 2, (8192, 8192)).is_ok());
    }
}
