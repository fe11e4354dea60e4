//! Head-and-shoulders framing: which window of a participant's frame a seat shows.
//!
//! Without framing a seat shows the centred crop of the camera frame with the seat's aspect,
//! so a close-up face fills its seat while a person far from their camera is a small figure,
//! and a person sitting off-centre is cropped out. With framing ([`FramingMode::Auto`], the
//! default for seats whose matte comes from the ML segmenter) the seat shows a window placed
//! around the person's head instead:
//!
//! 1. **Head estimate** ([`HeadFinder`]): the segmenter's person probability map of the whole
//!    frame ([`PersonMap`], no extra network) is thresholded; the largest connected region is
//!    the person; its top row is the top of the head, and the head's width is the widest the
//!    region gets in the rows just below the top (over about half a head height, before the
//!    shoulders). The head's height is [`HEAD_ASPECT`] times its width, or less where the
//!    region narrows to a neck above that ([`NECK_NARROWING`]: wide hair does not make a head
//!    taller). All in source-frame pixels.
//! 2. **Window** ([`FramingOptions::window_for`]): the seat's aspect, tall enough that the head
//!    is [`FramingOptions::head_fraction`] of it, the head centred horizontally and its top
//!    [`FramingOptions::headroom`] of the window's height below the window's top. The window
//!    may extend past the frame: the seat is transparent there, so a close-up is shown smaller
//!    and a distant person larger. Where the frame's bottom edge ends the torso mid-seat, the
//!    matte fades out toward that edge.
//! 3. **Smoothing** ([`Smoother`]): the window follows the estimate by exponential smoothing
//!    (first order: it never overshoots) with a dead band: estimates within
//!    [`FramingOptions::dead_band`] of the window being followed are ignored, so a still person
//!    gives a still window; a person who leaves (no region) leaves the window where it was.
//!
//! The window is advanced once per new frame of the participant, so a seat whose frame did
//! not change is not re-rendered (a moving window comes with a new frame). Scratch is sized on
//! the first map; the per-frame path allocates nothing after that.

use std::fmt;
use std::str::FromStr;

use crate::geometry::Rect;
use crate::segment::PersonMap;

/// A head's height as a multiple of its width (crown to chin, hair included, over the width
/// the person's region has at the head).
pub const HEAD_ASPECT: f32 = 1.3;

/// A row of the person's region under the head narrower than this fraction of the head's
/// width is the neck: the head ends there, however wide its hair makes it.
pub const NECK_NARROWING: f32 = 0.8;

/// Which window of the frame a seat shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FramingMode {
    /// Around the person's head when the seat's segmenter gives a frame-level person map (the
    /// ML segmenter); the centre crop otherwise, and until the first estimate.
    #[default]
    Auto,
    /// The centred crop with the seat's aspect (the behaviour without framing).
    Off,
    /// A fixed window of the frame, in its luma pixels (for users who frame themselves): the
    /// seat shows the centred crop of this rectangle with the seat's aspect (clipped to the
    /// frame; a rectangle outside the frame falls back to the centre crop).
    Fixed {
        /// Left column.
        x: u32,
        /// Top row.
        y: u32,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
}

impl fmt::Display for FramingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingMode::Auto => f.write_str("auto"),
            FramingMode::Off => f.write_str("off"),
            FramingMode::Fixed {
                x,
                y,
                width,
                height,
            } => write!(f, "{x},{y},{width},{height}"),
        }
    }
}

/// A framing mode could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingParseError {
    /// Neither `auto`, `off` nor `x,y,w,h` with four whole numbers and a non-empty size.
    #[error("framing {found:?}: expected auto, off or a crop x,y,width,height (whole pixels, width and height at least 2)")]
    Invalid {
        /// What was given.
        found: String,
    },
}

impl FromStr for FramingMode {
    type Err = FramingParseError;

    /// `auto`, `off`, or a fixed crop `x,y,width,height`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FramingParseError::Invalid {
            found: s.to_string(),
        };
        match s.trim() {
            "auto" => return Ok(FramingMode::Auto),
            "off" => return Ok(FramingMode::Off),
            _ => {}
        }
        let mut parts = s.split(',').map(|p| p.trim().parse::<u32>());
        let mut next = || parts.next().and_then(Result::ok).ok_or_else(bad);
        let (x, y, width, height) = (next()?, next()?, next()?, next()?);
        if parts.next().is_some() || width < 2 || height < 2 {
            return Err(bad());
        }
        Ok(FramingMode::Fixed {
            x,
            y,
            width,
            height,
        })
    }
}

/// Framing settings (plain data; [`Default`] looks like Teams' audience).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FramingOptions {
    /// The mode for participants without their own (see `Compositor::set_framing`).
    pub mode: FramingMode,
    /// The head's height as a fraction of the seat's height. Default 0.36.
    pub head_fraction: f32,
    /// Room above the head, as a fraction of the seat's height. Default 0.1.
    pub headroom: f32,
    /// Per new frame, the fraction of the remaining distance to the followed window that the
    /// window moves (0..=1). Default 0.3: within 1 % of a step after 13 frames.
    pub follow: f32,
    /// An estimate is followed only when its centre moves by more than this fraction of the
    /// window's height, or its height changes by more than this fraction. Default 0.04.
    pub dead_band: f32,
    /// Where the frame's bottom edge lies inside the seat, the matte fades to 0 over this
    /// fraction of the seat's height above it. Default 0.15.
    pub bottom_fade: f32,
    /// The person probability above which a map value counts as the person. Default 0.5.
    pub threshold: f32,
}

impl Default for FramingOptions {
    fn default() -> Self {
        Self {
            mode: FramingMode::Auto,
            head_fraction: 0.36,
            headroom: 0.1,
            follow: 0.3,
            dead_band: 0.04,
            bottom_fade: 0.15,
            threshold: 0.5,
        }
    }
}

impl FramingOptions {
    /// With another default mode.
    pub fn with_mode(mut self, mode: FramingMode) -> Self {
        self.mode = mode;
        self
    }

    /// With another head height (fraction of the seat's height; clamped to 0.05..=1).
    pub fn with_head_fraction(mut self, fraction: f32) -> Self {
        self.head_fraction = fraction;
        self
    }

    /// The window (seat aspect `aspect` = width / height) that shows `head` as these options
    /// say, in source-frame pixels (it may extend past the frame).
    pub fn window_for(&self, head: HeadEstimate, aspect: f32) -> FrameWindow {
        let fraction = finite_or(self.head_fraction, 0.36).clamp(0.05, 1.0);
        let headroom = finite_or(self.headroom, 0.1).clamp(0.0, 1.0);
        let height = head.height / fraction;
        let width = height * aspect;
        FrameWindow {
            x: head.cx - width / 2.0,
            y: head.top - headroom * height,
            width,
            height,
        }
    }
}

fn finite_or(v: f32, default: f32) -> f32 {
    if v.is_finite() {
        v
    } else {
        default
    }
}

/// Where the person's head is, in source-frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadEstimate {
    /// Horizontal centre of the head.
    pub cx: f32,
    /// Top of the head (the person region's top).
    pub top: f32,
    /// Width of the head (the widest the region is just below its top).
    pub width: f32,
    /// Height of the head ([`HEAD_ASPECT`] times `width`, or down to the neck where the
    /// region narrows to one above that).
    pub height: f32,
}

/// A crop window in source-frame pixels (continuous; may extend past the frame).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameWindow {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

impl FrameWindow {
    /// The window of `aspect` (width / height) and `height` centred on `(cx, cy)`.
    fn around([cx, cy, height]: [f32; 3], aspect: f32) -> Self {
        let width = height * aspect;
        Self {
            x: cx - width / 2.0,
            y: cy - height / 2.0,
            width,
            height,
        }
    }

    /// The window's centre.
    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }
}

/// Finds the head in a [`PersonMap`]; owns its scratch (sized on the first map).
#[derive(Debug, Default, Clone)]
pub struct HeadFinder {
    /// Region label per map value (0: not the person, or not visited yet).
    labels: Vec<u32>,
    /// Flood fill stack.
    stack: Vec<u32>,
}

impl HeadFinder {
    /// The head of the largest region of `map` above `threshold`, or `None` when there is no
    /// region of at least 0.2 % of the map (nobody there) or the map is malformed.
    pub fn find(&mut self, map: &PersonMap<'_>, threshold: f32) -> Option<HeadEstimate> {
        let (mw, mh) = (map.width, map.height);
        let (fw, fh) = map.frame;
        let c = map.covers;
        if mw == 0
            || mh == 0
            || fw == 0
            || fh == 0
            || map.prob.len() != mw * mh
            || c.is_empty()
            || c.x < 0
            || c.y < 0
            || c.right() > i64::from(fw)
            || c.bottom() > i64::from(fh)
        {
            return None;
        }
        // The map's origin and size in frame pixels.
        let (ox, oy) = (c.x as f32, c.y as f32);
        let (cw, ch) = (c.width as f32, c.height as f32);
        // Maps over 128x128 of the whole frame are read every other value each way (a quarter
        // of the work; the head is still many cells wide). A zoomed view's map is of a far
        // person, whose head is few cells wide: read whole.
        let whole = c == Rect::new(0, 0, i64::from(fw), i64::from(fh));
        let step = if whole && mw * mh > 128 * 128 { 2 } else { 1 };
        let (pw, ph) = (mw / step, mh / step);
        let n = pw * ph;
        self.labels.clear();
        self.labels.resize(n, 0);
        if self.stack.capacity() < n {
            self.stack.reserve(n - self.stack.len());
        }
        let on = |i: usize| map.prob[(i / pw) * step * mw + (i % pw) * step] > threshold;
        // Largest 4-connected region.
        let (mut best, mut best_area, mut next) = (0u32, 0usize, 1u32);
        for start in 0..n {
            if self.labels[start] != 0 || !on(start) {
                continue;
            }
            let label = next;
            next += 1;
            let mut area = 0usize;
            self.labels[start] = label;
            self.stack.clear();
            self.stack.push(start as u32);
            while let Some(i) = self.stack.pop() {
                let i = i as usize;
                area += 1;
                let (x, y) = (i % pw, i / pw);
                let mut visit = |j: usize| {
                    if self.labels[j] == 0 && on(j) {
                        self.labels[j] = label;
                        self.stack.push(j as u32);
                    }
                };
                if x > 0 {
                    visit(i - 1);
                }
                if x + 1 < pw {
                    visit(i + 1);
                }
                if y > 0 {
                    visit(i - pw);
                }
                if y + 1 < ph {
                    visit(i + pw);
                }
            }
            if area > best_area {
                (best, best_area) = (label, area);
            }
        }
        if best_area * 500 < n {
            return None;
        }
        let (sx, sy) = (cw * step as f32 / mw as f32, ch * step as f32 / mh as f32);
        // The region's rows, from its top: width in frame pixels and sum of x.
        let row = |y: usize| {
            let r = &self.labels[y * pw..(y + 1) * pw];
            let (mut count, mut sum) = (0usize, 0usize);
            for (x, &l) in r.iter().enumerate() {
                if l == best {
                    count += 1;
                    sum += x;
                }
            }
            (count, sum)
        };
        // The top: the first row at least 2 % of the frame's longer side wide (and two cells):
        // a wisp of hair is not the top, and the head's width is not measured from it.
        let min_width = 0.02 * fw.max(fh) as f32;
        let min_count = ((min_width / sx).ceil() as usize).max(2);
        let top = (0..ph).find(|&y| row(y).0 >= min_count)?;
        let (mut widest, mut frozen) = (0.0f32, false);
        let (mut count_sum, mut x_sum) = (0usize, 0usize);
        // The narrowest row below the widest one, within the head's height (ties: the
        // lowest): its width in frame pixels and its depth below the top.
        let mut neck = (f32::INFINITY, 0.0f32);
        for y in top..ph {
            let (count, sum) = row(y);
            let depth = (y + 1 - top) as f32 * sy;
            // The head is as wide as it gets by about half its height: wider rows further
            // down are shoulders, not head.
            if !frozen {
                widest = widest.max(count as f32 * sx);
                count_sum += count;
                x_sum += sum;
                if depth >= 0.5 * HEAD_ASPECT * widest {
                    frozen = true;
                }
            } else if count as f32 * sx <= neck.0 {
                neck = (count as f32 * sx, depth);
            }
            if frozen && depth >= HEAD_ASPECT * widest {
                break;
            }
        }
        if widest <= 0.0 || count_sum == 0 {
            return None;
        }
        // Hair makes a head wide, not long: where the region narrows to a neck (under
        // NECK_NARROWING of the head's width) above where the width says the chin is, the
        // head ends there. Not in a zoomed view's map: it holds a person far from their
        // camera, whose head is a few dozen frame pixels, where the face's own contour (the
        // cheeks, a collar merged with the chin) narrows as much as a neck, run by run.
        let height = if whole && neck.0 < NECK_NARROWING * widest {
            neck.1.min(HEAD_ASPECT * widest)
        } else {
            HEAD_ASPECT * widest
        };
        let cx = ox + (x_sum as f32 / count_sum as f32) * sx + 0.5 * cw / mw as f32;
        Some(HeadEstimate {
            cx,
            top: oy + top as f32 * sy,
            width: widest,
            height,
        })
    }
}

/// The window followed over time: exponential smoothing with a dead band (see the module
/// docs). State is `(centre x, centre y, height)` in frame pixels; the width follows from the
/// seat's aspect when the window is used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Smoother {
    /// The window shown: centre x, centre y, height.
    current: Option<[f32; 3]>,
    /// The window followed.
    target: Option<[f32; 3]>,
}

impl Smoother {
    /// Forgets everything (a new participant, or a new frame size).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Offers a new estimate of the window (`None`: nobody found, keep following the last
    /// one). The first estimate is taken at once; later ones only outside the dead band.
    pub fn observe(&mut self, window: Option<FrameWindow>, options: &FramingOptions) {
        let Some(w) = window else { return };
        let (cx, cy) = w.centre();
        let new = [cx, cy, w.height];
        if !new.iter().all(|v| v.is_finite()) || w.height <= 0.0 {
            return;
        }
        match self.target {
            None => {
                self.target = Some(new);
                self.current = Some(new);
            }
            Some(t) => {
                let band = finite_or(options.dead_band, 0.04).max(0.0);
                let outside = (new[0] - t[0]).abs() > band * t[2]
                    || (new[1] - t[1]).abs() > band * t[2]
                    || (new[2] / t[2] - 1.0).abs() > band;
                if outside {
                    self.target = Some(new);
                }
            }
        }
    }

    /// Moves the window one frame toward the followed one and returns it (`None` before the
    /// first estimate). Within a quarter pixel it snaps onto it, so it comes to rest.
    pub fn step(&mut self, options: &FramingOptions) -> Option<[f32; 3]> {
        let (Some(c), Some(t)) = (&mut self.current, self.target) else {
            return None;
        };
        let k = finite_or(options.follow, 0.3).clamp(0.0, 1.0);
        for (v, t) in c.iter_mut().zip(t) {
            let d = t - *v;
            *v = if d.abs() < 0.25 { t } else { *v + k * d };
        }
        Some(*c)
    }

    /// The window shown now (`None` before the first estimate).
    pub fn current(&self) -> Option<[f32; 3]> {
        self.current
    }
}

/// One seat's framing state: the head finder's scratch and the smoothed window.
#[derive(Debug, Default, Clone)]
pub struct Framer {
    finder: HeadFinder,
    smoother: Smoother,
    /// The frame size the state is for.
    frame: (u32, u32),
    /// The last head found.
    head: Option<HeadEstimate>,
    /// Whether a map was analysed since the last reset (carried maps are analysed only
    /// when none was: they repeat what was seen).
    analysed: bool,
}

impl Framer {
    /// Forgets the person (a new participant in the seat).
    pub fn reset(&mut self) {
        self.smoother.reset();
        self.head = None;
        self.analysed = false;
    }

    /// Advances the window one frame for a `frame`-sized source and a seat of `aspect`
    /// (width / height); returns the window to show, `None` before the first estimate.
    pub fn advance(
        &mut self,
        frame: (u32, u32),
        aspect: f32,
        options: &FramingOptions,
    ) -> Option<FrameWindow> {
        if frame != self.frame {
            self.frame = frame;
            self.reset();
        }
        Some(FrameWindow::around(self.smoother.step(options)?, aspect))
    }

    /// Takes in the segmenter's map of the frame just rendered (only maps the network made
    /// on this frame are analysed, and the first map after a reset; carried ones say nothing
    /// new: with nobody in the frame, analysing each again cost a head search per seat and
    /// frame).
    pub fn observe(&mut self, map: Option<PersonMap<'_>>, aspect: f32, options: &FramingOptions) {
        let Some(map) = map else { return };
        if map.frame != self.frame {
            self.frame = map.frame;
            self.reset();
        }
        if !map.fresh && self.analysed {
            return;
        }
        self.analysed = true;
        let head = self.finder.find(&map, options.threshold);
        if head.is_some() {
            self.head = head;
        }
        self.smoother
            .observe(head.map(|h| options.window_for(h, aspect)), options);
    }

    /// The window shown now for a seat of `aspect` (width / height), without advancing it.
    pub fn window(&self, aspect: f32) -> Option<FrameWindow> {
        Some(FrameWindow::around(self.smoother.current()?, aspect))
    }

    /// The last head found, in frame pixels.
    pub fn head(&self) -> Option<HeadEstimate> {
        self.head
    }
}

/// Where a window lands: the part of the frame inside it (`src`, in frame pixels: even offsets,
/// inside the frame) and where that part goes in the seat (`dst`, in seat pixels: even
/// offsets and sides). The rest of the seat is transparent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The part of the frame shown.
    pub src: Rect,
    /// Where it is drawn in the seat (before mirroring).
    pub dst: Rect,
}

impl Placement {
    /// Places `window` of a `frame`-sized source in a `seat`-sized seat. `None` when no part
    /// of the frame of at least 2x2 seat pixels is inside the window (the seat is empty).
    pub fn new(window: FrameWindow, frame: (u32, u32), seat: (usize, usize)) -> Option<Self> {
        let (fw, fh) = (frame.0 as f32, frame.1 as f32);
        let (sw, sh) = (seat.0 as f32, seat.1 as f32);
        let positive = |v: f32| v.is_finite() && v > 0.0;
        if !positive(window.width) || !positive(window.height) || fw < 2.0 || fh < 2.0 {
            return None;
        }
        let (kx, ky) = (sw / window.width, sh / window.height);
        let even = |v: f32, max: f32| ((v / 2.0).round() * 2.0).clamp(0.0, max);
        let axis = |start: f32, len: f32, size: f32, k: f32, seat: f32| {
            let (a, b) = (start.max(0.0), (start + len).min(size));
            let (d0, d1) = (even((a - start) * k, seat), even((b - start) * k, seat));
            if d1 - d0 < 2.0 {
                return None;
            }
            // The frame part that exactly fills [d0, d1), to whole pixels, even start.
            let s0 = ((start + d0 / k) / 2.0).round() * 2.0;
            let s0 = s0.clamp(0.0, size - 2.0);
            let mut s1 = (start + d1 / k).round().clamp(s0 + 1.0, size);
            // Even sides wherever the frame allows, so 4:2:0 chroma splits exactly.
            if (s1 - s0) % 2.0 == 1.0 {
                s1 = if s1 < size { s1 + 1.0 } else { s1 - 1.0 };
            }
            Some((
                d0 as i64,
                (d1 - d0) as i64,
                s0 as i64,
                (s1 - s0).max(1.0) as i64,
            ))
        };
        let (dx, dw, sx, swid) = axis(window.x, window.width, fw, kx, sw)?;
        let (dy, dh, sy, shei) = axis(window.y, window.height, fh, ky, sh)?;
        Some(Self {
            src: Rect::new(sx, sy, swid, shei),
            dst: Rect::new(dx, dy, dw, dh),
        })
    }

    /// Whether the frame part fills the whole seat (no transparent border).
    pub fn fills(&self, seat: (usize, usize)) -> bool {
        self.dst == Rect::new(0, 0, seat.0 as i64, seat.1 as i64)
    }
}

/// The centred crop of `rect` (clipped to the frame) with the seat's aspect, as a window; `None`
/// when the rectangle does not overlap the frame.
pub fn fixed_window(rect: Rect, frame: (u32, u32), aspect: f32) -> Option<FrameWindow> {
    let x0 = rect.x.max(0);
    let y0 = rect.y.max(0);
    let x1 = rect.right().min(i64::from(frame.0));
    let y1 = rect.bottom().min(i64::from(frame.1));
    if x1 - x0 < 2 || y1 - y0 < 2 || aspect.is_nan() || aspect <= 0.0 {
        return None;
    }
    let (w, h) = ((x1 - x0) as f32, (y1 - y0) as f32);
    let (cw, ch) = if w / h > aspect {
        (h * aspect, h)
    } else {
        (w, w / aspect)
    };
    Some(FrameWindow {
        x: x0 as f32 + (w - cw) / 2.0,
        y: y0 as f32 + (h - ch) / 2.0,
        width: cw,
        height: ch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `pw x ph` map of a `frame`-sized source with a person: an ellipse head of `head_w`
    /// frame pixels wide centred at `cx` with its top at `top`, a neck, and shoulders below.
    fn person(pw: usize, ph: usize, frame: (u32, u32), cx: f32, top: f32, head_w: f32) -> Vec<f32> {
        let (sx, sy) = (frame.0 as f32 / pw as f32, frame.1 as f32 / ph as f32);
        let head_h = HEAD_ASPECT * head_w;
        let mut m = vec![0.0; pw * ph];
        for y in 0..ph {
            for x in 0..pw {
                let (fx, fy) = ((x as f32 + 0.5) * sx, (y as f32 + 0.5) * sy);
                let (dx, dy) = (
                    (fx - cx) / (head_w / 2.0),
                    (fy - top - head_h / 2.0) / (head_h / 2.0),
                );
                let in_head = dx * dx + dy * dy <= 1.0;
                let below = fy - top - head_h;
                let in_neck =
                    (0.0..0.2 * head_h).contains(&below) && (fx - cx).abs() < 0.25 * head_w;
                let in_body = below >= 0.2 * head_h && (fx - cx).abs() < 1.4 * head_w;
                if in_head || in_neck || in_body {
                    m[y * pw + x] = 0.95;
                }
            }
        }
        m
    }

    fn map(prob: &[f32], pw: usize, ph: usize, frame: (u32, u32)) -> PersonMap<'_> {
        PersonMap {
            prob,
            width: pw,
            height: ph,
            frame,
            covers: Rect::new(0, 0, i64::from(frame.0), i64::from(frame.1)),
            fresh: true,
        }
    }

    #[test]
    fn a_map_of_a_zoomed_view_places_the_head_in_frame_pixels() {
        // A 1280x720 frame; the map covers the 640x360 window at (320, 300); the head at
        // frame x 600, top 400 is at (280, 100) of the window.
        let view = (640, 360);
        let prob = person(256, 144, view, 280.0, 100.0, 90.0);
        let zoomed = PersonMap {
            covers: Rect::new(320, 300, 640, 360),
            ..map(&prob, 256, 144, (1280, 720))
        };
        let head = HeadFinder::default().find(&zoomed, 0.5).unwrap();
        assert!((head.cx - 600.0).abs() <= 6.0, "{head:?}");
        assert!((head.top - 400.0).abs() <= 6.0, "{head:?}");
        assert!((head.width - 90.0).abs() <= 10.0, "{head:?}");
        // A view that leaves the frame is refused.
        let outside = PersonMap {
            covers: Rect::new(700, 300, 640, 360),
            ..zoomed
        };
        assert!(HeadFinder::default().find(&outside, 0.5).is_none());
    }

    #[test]
    fn the_head_is_found_in_frame_pixels() {
        let frame = (1280, 720);
        let prob = person(256, 144, frame, 900.0, 150.0, 180.0);
        let head = HeadFinder::default()
            .find(&map(&prob, 256, 144, frame), 0.5)
            .unwrap();
        // One map cell is 5 frame pixels; the finder reads every other one.
        assert!((head.cx - 900.0).abs() <= 10.0, "{head:?}");
        assert!((head.top - 150.0).abs() <= 10.0, "{head:?}");
        assert!((head.width - 180.0).abs() <= 20.0, "{head:?}");
    }

    #[test]
    fn wide_hair_does_not_make_a_head_taller_than_its_neck_says() {
        // A head as tall as it is wide (hair out to the sides), then a neck that widens from
        // 0.3 of the head's width into the shoulders.
        let frame = (512, 512);
        let (cx, top, w) = (256.0f32, 60.0f32, 120.0f32);
        let mut prob = vec![0.0f32; 256 * 256];
        for y in 0..256 {
            for x in 0..256 {
                let (fx, fy) = ((x as f32 + 0.5) * 2.0, (y as f32 + 0.5) * 2.0);
                let (dx, dy) = ((fx - cx) / (w / 2.0), (fy - top - w / 2.0) / (w / 2.0));
                let depth = fy - top;
                let neck_half = w * (0.15 + 1.25 * ((depth - w) / w).clamp(0.0, 1.0));
                if dx * dx + dy * dy <= 1.0 || (depth >= w && (fx - cx).abs() < neck_half) {
                    prob[y * 256 + x] = 0.95;
                }
            }
        }
        let head = HeadFinder::default()
            .find(&map(&prob, 256, 256, frame), 0.5)
            .unwrap();
        assert!((head.width - w).abs() <= 8.0, "{head:?}");
        // The width alone would say 1.3 x 120 = 156.
        assert!(
            (0.9 * w..=1.08 * w).contains(&head.height),
            "the head should end at the neck: {head:?}"
        );
        // A head that keeps its width down to its chin keeps the width's height.
        let prob = person(256, 256, frame, 256.0, 60.0, 120.0);
        let head = HeadFinder::default()
            .find(&map(&prob, 256, 256, frame), 0.5)
            .unwrap();
        assert!(
            (head.height - HEAD_ASPECT * head.width).abs() < 1e-3,
            "{head:?}"
        );
    }

    #[test]
    fn a_small_blob_beside_the_person_is_not_the_person() {
        let frame = (640, 480);
        let mut prob = person(256, 256, frame, 320.0, 120.0, 100.0);
        // A blob higher up at the left.
        for y in 5..15 {
            for x in 5..15 {
                prob[y * 256 + x] = 0.9;
            }
        }
        let head = HeadFinder::default()
            .find(&map(&prob, 256, 256, frame), 0.5)
            .unwrap();
        assert!(
            (head.cx - 320.0).abs() <= 5.0 && (head.top - 120.0).abs() <= 4.0,
            "{head:?}"
        );
    }

    #[test]
    fn nobody_means_no_head_and_bad_maps_are_refused() {
        let frame = (640, 480);
        let empty = vec![0.1; 64 * 64];
        let mut f = HeadFinder::default();
        assert_eq!(f.find(&map(&empty, 64, 64, frame), 0.5), None);
        assert_eq!(f.find(&map(&empty, 64, 63, frame), 0.5), None);
        assert_eq!(f.find(&map(&empty, 64, 64, (0, 480)), 0.5), None);
    }

    #[test]
    fn the_window_puts_the_head_at_its_fraction_and_centres_it() {
        let o = FramingOptions::default();
        let head = HeadEstimate {
            cx: 100.0,
            top: 50.0,
            width: 40.0,
            height: 52.0,
        };
        let w = o.window_for(head, 0.75);
        assert!((52.0 / w.height - o.head_fraction).abs() < 1e-5);
        assert!((w.centre().0 - 100.0).abs() < 1e-4);
        assert!(((50.0 - w.y) / w.height - o.headroom).abs() < 1e-5);
        assert!((w.width / w.height - 0.75).abs() < 1e-5);
    }

    #[test]
    fn a_close_up_gets_a_window_past_the_frame_a_far_person_a_small_one() {
        let o = FramingOptions::default();
        let frame = (640, 480);
        let seat = (120, 160);
        // Close-up: the head is 300 pixels wide.
        let prob = person(256, 256, frame, 320.0, 40.0, 300.0);
        let head = HeadFinder::default()
            .find(&map(&prob, 256, 256, frame), 0.5)
            .unwrap();
        let w = o.window_for(head, 0.75);
        assert!(w.height > 480.0 && w.x < 0.0, "{w:?}");
        let p = Placement::new(w, frame, seat).unwrap();
        assert!(!p.fills(seat));
        assert!(p.dst.x > 0 && p.dst.right() < 120, "{p:?}");
        assert_eq!((p.src.x, p.src.width), (0, 640));
        // Far: a 40-pixel head.
        let prob = person(256, 256, frame, 200.0, 200.0, 40.0);
        let head = HeadFinder::default()
            .find(&map(&prob, 256, 256, frame), 0.5)
            .unwrap();
        let w = o.window_for(head, 0.75);
        assert!(w.height < 200.0, "{w:?}");
        let p = Placement::new(w, frame, seat).unwrap();
        assert!(p.fills(seat), "{p:?}");
        assert!(p.src.height < 200 && p.src.x % 2 == 0 && p.src.y % 2 == 0);
    }

    #[test]
    fn placement_keeps_even_offsets_and_refuses_a_window_off_the_frame() {
        let frame = (640, 480);
        let seat = (100, 134);
        for &x in &[-250.0f32, -51.3, 0.0, 17.7, 400.0] {
            let w = FrameWindow {
                x,
                y: -40.5,
                width: 300.0,
                height: 402.0,
            };
            let p = Placement::new(w, frame, seat).unwrap();
            assert!(
                p.dst.x % 2 == 0
                    && p.dst.y % 2 == 0
                    && p.dst.width % 2 == 0
                    && p.dst.height % 2 == 0
            );
            assert!(p.dst.right() <= 100 && p.dst.bottom() <= 134);
            assert!(
                p.src.x % 2 == 0
                    && p.src.y % 2 == 0
                    && p.src.right() <= 640
                    && p.src.bottom() <= 480
            );
            assert!(p.dst.y > 0, "the window starts above the frame: {p:?}");
        }
        let off = FrameWindow {
            x: 700.0,
            y: 0.0,
            width: 100.0,
            height: 100.0,
        };
        assert_eq!(Placement::new(off, frame, seat), None);
    }

    #[test]
    fn carried_maps_are_analysed_only_when_no_map_was() {
        let frame = (1280, 720);
        let o = FramingOptions::default();
        let prob = person(256, 144, frame, 640.0, 150.0, 180.0);
        let empty = vec![0.0; 256 * 144];
        let carried = |p| PersonMap {
            fresh: false,
            ..map(p, 256, 144, frame)
        };
        // After a reset, a carried map is analysed (the first the framer sees).
        let mut f = Framer::default();
        f.observe(Some(carried(&prob)), 0.75, &o);
        assert!(f.head().is_some());
        // Once a map was analysed, carried ones repeat it: not analysed again.
        let mut f = Framer::default();
        f.observe(Some(map(&empty, 256, 144, frame)), 0.75, &o);
        f.observe(Some(carried(&prob)), 0.75, &o);
        assert!(f.head().is_none());
        // A fresh one is.
        f.observe(Some(map(&prob, 256, 144, frame)), 0.75, &o);
        assert!(f.head().is_some());
    }

    #[test]
    fn a_still_person_gives_a_still_window() {
        let o = FramingOptions::default();
        let mut s = Smoother::default();
        let base = FrameWindow {
            x: 100.0,
            y: 50.0,
            width: 300.0,
            height: 400.0,
        };
        let mut rng = 12345u32;
        let mut noise = || {
            rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (rng >> 8) as f32 / (1u32 << 24) as f32 * 6.0 - 3.0
        };
        let mut last: Option<[f32; 3]> = None;
        for i in 0..200 {
            let w = FrameWindow {
                x: base.x + noise(),
                y: base.y + noise(),
                height: base.height + noise(),
                ..base
            };
            s.observe(Some(w), &o);
            let now = s.step(&o).unwrap();
            if let (Some(l), true) = (last, i > 0) {
                for (a, b) in l.iter().zip(now) {
                    assert!((a - b).abs() <= 0.5, "frame {i}: {l:?} -> {now:?}");
                }
            }
            last = Some(now);
        }
    }

    #[test]
    fn a_step_is_followed_within_15_frames_without_overshoot() {
        let o = FramingOptions::default();
        let mut s = Smoother::default();
        let at = |x: f32| FrameWindow {
            x,
            y: 0.0,
            width: 300.0,
            height: 400.0,
        };
        s.observe(Some(at(0.0)), &o);
        s.step(&o);
        let target = at(200.0).centre().0;
        let start = at(0.0).centre().0;
        let mut prev = start;
        for frame in 1..=15 {
            s.observe(Some(at(200.0)), &o);
            let x = s.step(&o).unwrap()[0];
            assert!(x >= prev && x <= target, "frame {frame}: {x} after {prev}");
            prev = x;
        }
        assert!((target - prev).abs() <= 0.01 * 200.0, "{prev} vs {target}");
        // Nobody found: the window stays.
        for _ in 0..10 {
            s.observe(None, &o);
            s.step(&o);
        }
        let rest = s.current().unwrap()[0];
        for _ in 0..10 {
            s.observe(None, &o);
            assert_eq!(s.step(&o).unwrap()[0], rest);
        }
    }

    #[test]
    fn framing_modes_parse() {
        assert_eq!("auto".parse::<FramingMode>(), Ok(FramingMode::Auto));
        assert_eq!("off".parse::<FramingMode>(), Ok(FramingMode::Off));
        assert_eq!(
            "10,20,300,400".parse::<FramingMode>(),
            Ok(FramingMode::Fixed {
                x: 10,
                y: 20,
                width: 300,
                height: 400
            })
        );
        for bad in [
            "",
            "on",
            "1,2,3",
            "1,2,3,4,5",
            "1,2,0,4",
            "-1,2,30,40",
            "a,b,c,d",
        ] {
            assert!(bad.parse::<FramingMode>().is_err(), "{bad}");
        }
        let m = FramingMode::Fixed {
            x: 1,
            y: 2,
            width: 30,
            height: 40,
        };
        assert_eq!(m.to_string().parse::<FramingMode>(), Ok(m));
    }

    #[test]
    fn a_fixed_crop_is_centre_cropped_to_the_seat_aspect() {
        let w = fixed_window(Rect::new(100, 0, 400, 300), (640, 480), 1.0).unwrap();
        assert_eq!((w.x, w.y, w.width, w.height), (150.0, 0.0, 300.0, 300.0));
        assert_eq!(
            fixed_window(Rect::new(700, 0, 10, 10), (640, 480), 1.0),
            None
        );
    }
}
