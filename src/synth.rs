//! Synthetic participants for the demo and for tests: a procedural head-and-shoulders figure
//! that moves, in front of its own room, with the exact matte it was drawn with.
//!
//! Each seed gives a different person (skin tone, shirt, hair colour and style, head and
//! shoulder size) and a different room (wall colour and lighting, a window, a bookshelf or a
//! picture, a baseboard and floor, plaster and wood texture), or with
//! [`Backdrop::GreenScreen`] an unevenly lit chroma-green wall. The figure sways, bobs, tilts
//! and turns its head and blinks with the frame index (a 30 fps time base, periods of a few
//! seconds). The room is static: the same pixels in every frame.
//!
//! ```
//! use together_mode::synth::{Backdrop, SyntheticParticipant};
//!
//! let alice = SyntheticParticipant::new(7, 640, 360);
//! let frame = alice.frame(0); // I420A, BT.601 limited; plane 3 is the true matte
//! assert_eq!((frame.width(), frame.height()), (640, 360));
//! let keyed = alice.clone().with_backdrop(Backdrop::GreenScreen);
//! assert_eq!(keyed.frame(0).as_ref().plane(3).row(180), frame.as_ref().plane(3).row(180));
//! ```
//!
//! # How a frame is drawn
//!
//! Colours are worked out in RGB (0..=255 as `f32`), two rows at a time. Each row is filled
//! with the room; separately, the figure's layers (long hair, neck, torso, neckline, hair,
//! ears, face, fringe, brows, eyes, nose, mouth) are painted back to front, premultiplied,
//! each with its coverage of the pixel: an approximate signed distance to the shape (an
//! ellipse, or a trapezoid with rounded shoulders) through a 1-pixel ramp. The union of the
//! coverages is the person's alpha, rounded to the 8-bit matte `A`, and the pixel is then
//! *exactly* the matting equation with that stored matte:
//! `colour = person * A/255 + room * (1 - A/255)`. So where A = 255 the pixel is pure
//! person, where A = 0 pure room, and edge pixels mix the two by the recorded coverage.
//!
//! Luma is converted per pixel and chroma from the 2x2 average of the final RGB, both with the
//! BT.601 limited-range equations, rounded and clamped to the legal range.
//!
//! Every shape first computes the span of pixels it can touch in the row (for an ellipse, the
//! roots of a quadratic), so the per-pixel work is a few multiplies, plus a square root on
//! the edge band only; trigonometry happens once per frame. A 640x360 frame takes about 2 ms
//! on one core in a release build; a few small scratch vectors are its only allocations.

use crate::frame::{ColorSpec, Frame, PixelFormat, MAX_DIMENSION};

/// Smallest side, in pixels, that [`SyntheticParticipant::new`] accepts.
const MIN_SIDE: u32 = 16;
/// The time base of `frame_index`.
const FPS: f64 = 30.0;

/// What is behind the synthetic person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backdrop {
    /// A room: textured wall, a window / shelf / picture, baseboard and floor.
    Room,
    /// A flat-ish chroma-green wall, RGB about (0, 177, 64), slightly unevenly lit.
    GreenScreen,
}

/// A procedural participant: one seed, one person, one room, any number of frames.
#[derive(Clone, Debug)]
pub struct SyntheticParticipant {
    width: u32,
    height: u32,
    backdrop: Backdrop,
    person: Person,
    room: Room,
}

impl SyntheticParticipant {
    /// A participant drawn at `width x height` in front of a [`Backdrop::Room`].
    ///
    /// Any size works: each side is clamped to `16..=MAX_DIMENSION` and an odd side is rounded
    /// down to even, so `new(1, 15, 17)` draws 16x16 frames. [`width`](Self::width) and
    /// [`height`](Self::height) report the size actually used.
    pub fn new(seed: u64, width: u32, height: u32) -> Self {
        let (width, height) = (valid_side(width), valid_side(height));
        let mut rng = SplitMix64(seed);
        let person = Person::generate(&mut rng, width as f32, height as f32);
        let room = Room::generate(&mut rng, width as f32, height as f32);
        Self {
            width,
            height,
            backdrop: Backdrop::Room,
            person,
            room,
        }
    }

    /// The same person in front of `backdrop`.
    pub fn with_backdrop(mut self, backdrop: Backdrop) -> Self {
        self.backdrop = backdrop;
        self
    }

    /// Frame width in pixels (even, at least 16).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Frame height in pixels (even, at least 16).
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The backdrop in use.
    pub fn backdrop(&self) -> Backdrop {
        self.backdrop
    }

    /// Draws frame `frame_index` (30 per second) into `out`: Y, U, V of the person over the
    /// room, and A = the ground-truth matte (255 inside the person, 0 outside, a 1-2 pixel
    /// anti-aliased edge). `out` is reallocated only if it is not I420A of this size; its
    /// colour tag is set to BT.601 limited.
    pub fn render(&self, frame_index: u64, out: &mut Frame) {
        self.render_layers(&self.person.layers(frame_index), out);
    }

    /// Draws the backdrop alone, as the camera sees it before the person sits down (for
    /// learning the room): the same luma as [`render`](Self::render) wherever its matte is
    /// 0 (and chroma wherever a whole 2x2 block is), and a matte of 0 everywhere.
    pub fn render_empty(&self, out: &mut Frame) {
        self.render_layers(&[], out);
    }

    fn render_layers(&self, layers: &[Layer], out: &mut Frame) {
        if out.format() != PixelFormat::I420A
            || out.width() != self.width
            || out.height() != self.height
        {
            // The size was validated by `new`, so this cannot fail.
            *out = Frame::new(PixelFormat::I420A, self.width, self.height)
                .expect("synthetic frame size is within limits");
        }
        out.set_color(ColorSpec::BT601_LIMITED);

        let w = self.width as usize;
        let lighting = Lighting::new(&self.room, self.backdrop, self.width, self.height);
        // Scratch for two rows: the room (then the final colour), the person premultiplied by
        // its coverage, and that coverage.
        let mut rgb = vec![[0.0f32; 3]; 2 * w];
        let mut person = vec![[0.0f32; 3]; 2 * w];
        let mut alpha = vec![0.0f32; 2 * w];
        let mut texture = vec![0.0f32; lighting.texture_cols + 2];

        let mut view = out.as_mut();
        let [yp, up, vp, ap] = view.planes_mut() else {
            unreachable!("I420A has four planes");
        };
        let mut y_rows = yp.rows_mut();
        let mut a_rows = ap.rows_mut();
        for (pair, (u_row, v_row)) in up.rows_mut().zip(vp.rows_mut()).enumerate() {
            for half in 0..2 {
                let y = 2 * pair + half;
                let px = &mut rgb[half * w..(half + 1) * w];
                let fg = &mut person[half * w..(half + 1) * w];
                let al = &mut alpha[half * w..(half + 1) * w];
                match self.backdrop {
                    Backdrop::Room => self.room.paint_row(y, px, &lighting, &mut texture),
                    Backdrop::GreenScreen => paint_green_row(y, px, &lighting, self.room.salt),
                }
                fg.fill([0.0; 3]);
                al.fill(0.0);
                for layer in layers {
                    layer.paint_row(y, fg, al);
                }
                let (Some(y_row), Some(a_row)) = (y_rows.next(), a_rows.next()) else {
                    unreachable!("the luma and alpha planes have 2x the chroma rows");
                };
                for (((o, m), c), (f, &a)) in y_row
                    .iter_mut()
                    .zip(a_row.iter_mut())
                    .zip(px.iter_mut())
                    .zip(fg.iter().zip(al.iter()))
                {
                    // The matting equation with the 8-bit matte that is stored: colour =
                    // person * A/255 + room * (1 - A/255), with person = premultiplied / a.
                    let matte = (a * 255.0 + 0.5) as u8;
                    *m = matte;
                    if matte == 255 {
                        *c = scale(*f, 1.0 / a);
                    } else if matte > 0 {
                        let q = f32::from(matte) * (1.0 / 255.0);
                        let k = q / a;
                        let r = 1.0 - q;
                        *c = [
                            f[0] * k + c[0] * r,
                            f[1] * k + c[1] * r,
                            f[2] * k + c[2] * r,
                        ];
                    }
                    *o = luma(*c);
                }
            }
            let (top, bottom) = rgb.split_at(w);
            let blocks = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for ((u, v), (p, q)) in u_row.iter_mut().zip(v_row.iter_mut()).zip(blocks) {
                let sum = |k: usize| 0.25 * (p[0][k] + p[1][k] + q[0][k] + q[1][k]);
                (*u, *v) = chroma([sum(0), sum(1), sum(2)]);
            }
        }
    }

    /// Draws frame `frame_index` into a newly allocated I420A frame (see [`render`](Self::render)).
    pub fn frame(&self, frame_index: u64) -> Frame {
        let mut out = Frame::new(PixelFormat::I420A, self.width, self.height)
            .expect("synthetic frame size is within limits");
        self.render(frame_index, &mut out);
        out
    }
}

/// Clamps a requested side to `MIN_SIDE..=MAX_DIMENSION`, rounded down to even.
fn valid_side(v: u32) -> u32 {
    v.clamp(MIN_SIDE, MAX_DIMENSION) & !1
}

// ---------------------------------------------------------------------------------------------
// Colour

type Rgb = [f32; 3];

/// BT.601 limited-range luma of an RGB colour (0..=255), rounded, clamped to 16..=235.
#[inline]
fn luma(c: Rgb) -> u8 {
    let y = 16.5 + (65.481 * c[0] + 128.553 * c[1] + 24.966 * c[2]) * (1.0 / 255.0);
    y.clamp(16.0, 235.0) as u8
}

/// BT.601 limited-range (Cb, Cr) of an RGB colour, rounded, clamped to 16..=240.
#[inline]
fn chroma(c: Rgb) -> (u8, u8) {
    let cb = 128.5 + (-37.797 * c[0] - 74.203 * c[1] + 112.0 * c[2]) * (1.0 / 255.0);
    let cr = 128.5 + (112.0 * c[0] - 93.786 * c[1] - 18.214 * c[2]) * (1.0 / 255.0);
    (cb.clamp(16.0, 240.0) as u8, cr.clamp(16.0, 240.0) as u8)
}

#[inline]
fn scale(c: Rgb, k: f32) -> Rgb {
    [c[0] * k, c[1] * k, c[2] * k]
}

#[inline]
fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// Paints `color` with coverage `cov` over pixel `x` of a row and its alpha.
#[inline]
fn over(px: &mut [Rgb], alpha: &mut [f32], x: usize, color: Rgb, cov: f32) {
    let p = &mut px[x];
    for k in 0..3 {
        p[k] += (color[k] - p[k]) * cov;
    }
    alpha[x] += (1.0 - alpha[x]) * cov;
}

/// A colour from hue (degrees), saturation and value (0..=1), as 0..=255 RGB.
fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// splitmix64: the seeded generator behind every per-participant choice.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }
    fn pick(&mut self, palette: &[[u8; 3]]) -> Rgb {
        palette[self.below(palette.len())].map(f32::from)
    }
}

/// A stateless integer hash of a pixel position: the static texture of walls and hair.
#[inline]
fn hash2(x: u32, y: u32, salt: u32) -> u32 {
    let mut h = x.wrapping_mul(0x8DA6_B343) ^ y.wrapping_mul(0xD816_3841) ^ salt;
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297A_2D39);
    h ^ (h >> 15)
}

/// Cheap per-pixel noise in [-0.5, 0.5) along a row whose salt already mixes in `y`.
#[inline]
fn pixel_noise(x: u32, row_salt: u32) -> f32 {
    let mut h = (x ^ row_salt).wrapping_mul(0x9E37_79B1);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    (h >> 8) as f32 * (1.0 / (1u32 << 24) as f32) - 0.5
}

/// Smooth 1-D value noise in [-0.5, 0.5): hashed values at integer `t`, smoothstepped between.
fn value_noise(t: f32, salt: u32) -> f32 {
    let (i, f) = (t as u32, t.fract());
    let (a, b) = (noise(i, 0, salt), noise(i + 1, 0, salt));
    a + (b - a) * f * f * (3.0 - 2.0 * f)
}

/// [`hash2`] as a value in [-0.5, 0.5).
#[inline]
fn noise(x: u32, y: u32, salt: u32) -> f32 {
    (hash2(x, y, salt) >> 8) as f32 * (1.0 / (1u32 << 24) as f32) - 0.5
}

// ---------------------------------------------------------------------------------------------
// The person

const SKIN: [[u8; 3]; 9] = [
    [255, 222, 196],
    [241, 194, 167],
    [232, 180, 148],
    [224, 172, 138],
    [198, 134, 103],
    [170, 118, 86],
    [141, 85, 60],
    [112, 72, 52],
    [88, 57, 42],
];
const HAIR: [[u8; 3]; 8] = [
    [24, 20, 18],
    [40, 30, 24],
    [62, 42, 30],
    [98, 66, 42],
    [132, 62, 36],
    [196, 160, 104],
    [152, 146, 140],
    [60, 50, 44],
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HairStyle {
    Short,
    Long,
    Buzz,
    Curly,
}

/// A motion term: `amp * sin(2 pi t / period + phase)`.
#[derive(Clone, Copy, Debug)]
struct Wave {
    amp: f32,
    period: f64,
    phase: f64,
}

impl Wave {
    fn new(rng: &mut SplitMix64, amp: f32, period_lo: f32, period_hi: f32) -> Self {
        Self {
            amp,
            period: f64::from(rng.range(period_lo, period_hi)),
            phase: f64::from(rng.range(0.0, std::f32::consts::TAU)),
        }
    }
    fn at(&self, t: f64) -> f32 {
        let turns = (t / self.period).fract();
        self.amp * (turns * std::f64::consts::TAU + self.phase).sin() as f32
    }
}

/// Everything about one person, in pixels of the frame it was generated for.
#[derive(Clone, Debug)]
struct Person {
    skin: Rgb,
    hair: Rgb,
    shirt: Rgb,
    lips: Rgb,
    style: HairStyle,
    parting: f32,
    /// Rest position of the body's centre line.
    cx: f32,
    head_cy: f32,
    head_rx: f32,
    head_ry: f32,
    neck_hw: f32,
    torso_top: f32,
    torso_hw: f32,
    torso_slope: f32,
    sway: Wave,
    bob: Wave,
    tilt: Wave,
    turn: Wave,
    blink_period: u64,
    blink_offset: u64,
    texture_salt: u32,
}

impl Person {
    fn generate(rng: &mut SplitMix64, w: f32, h: f32) -> Self {
        let skin = scale(rng.pick(&SKIN), rng.range(0.95, 1.02)).map(|v| v.min(255.0));
        let hair = rng.pick(&HAIR);
        // Any hue but chroma greens, so the green-screen demo stays keyable.
        let hue = (rng.range(0.0, 270.0) + 160.0) % 360.0;
        let shirt = hsv(hue, rng.range(0.2, 0.75), rng.range(0.25, 0.9));
        let lips = [skin[0] * 0.82, skin[1] * 0.55, skin[2] * 0.58];
        let style = match rng.below(4) {
            0 => HairStyle::Short,
            1 => HairStyle::Long,
            2 => HairStyle::Buzz,
            _ => HairStyle::Curly,
        };
        // Webcam framing: sizes follow the height, unless the frame is narrower than 4:3.
        let s = h.min(w * 0.75);
        let head_ry = 0.20 * s * rng.range(0.9, 1.1);
        let head_rx = head_ry * rng.range(0.76, 0.84);
        let head_top = h * rng.range(0.16, 0.21);
        let head_cy = head_top + head_ry;
        let torso_top = head_cy + head_ry * rng.range(1.3, 1.45);
        let torso_hw = 0.40 * s * rng.range(0.9, 1.08);
        let (tilt_amp, turn_amp) = (rng.range(0.05, 0.1), rng.range(0.5, 1.0));
        Self {
            skin,
            hair,
            shirt,
            lips,
            style,
            parting: rng.range(-0.12, 0.12),
            cx: w * (0.5 + rng.range(-0.03, 0.03)),
            head_cy,
            head_rx,
            head_ry,
            neck_hw: head_rx * rng.range(0.44, 0.52),
            torso_top,
            torso_hw,
            // Widen by at most ~0.3 s over the visible torso, however tall the frame.
            torso_slope: rng.range(0.06, 0.18) * (0.3 * s / (h - torso_top).max(1.0)).min(1.0),
            sway: Wave::new(rng, 0.035 * w.min(1.6 * h), 3.5, 5.0),
            bob: Wave::new(rng, 0.012 * h, 2.0, 3.0),
            tilt: Wave::new(rng, tilt_amp, 5.0, 7.0),
            turn: Wave::new(rng, turn_amp, 6.0, 9.0),
            blink_period: 90 + rng.below(60) as u64,
            blink_offset: rng.below(90) as u64,
            texture_salt: rng.next_u64() as u32,
        }
    }

    /// The figure at frame `frame_index`, as layers to paint back to front.
    fn layers(&self, frame_index: u64) -> Vec<Layer> {
        let t = frame_index as f64 / FPS;
        let sway = self.sway.at(t);
        let bob = self.bob.at(t);
        let tilt = self.tilt.at(t) + 0.25 * sway / self.sway.amp.max(1.0) * self.tilt.amp;
        let turn = self.turn.at(t);
        let blink = (frame_index % self.blink_period + self.blink_offset) % self.blink_period < 3;

        let body_cx = self.cx + 0.6 * sway;
        let (hcx, hcy) = (self.cx + sway, self.head_cy + bob);
        let (rx, ry) = (self.head_rx, self.head_ry);
        let (sin, cos) = tilt.sin_cos();
        // Head-local coordinates (units of rx, ry) to an ellipse in the frame.
        let part = |lx: f32, ly: f32, a: f32, b: f32, color: Rgb, shade: f32, tex: f32| {
            let (ox, oy) = (lx * rx, ly * ry);
            Layer::Ellipse(Ellipse::new(
                hcx + cos * ox - sin * oy,
                hcy + sin * ox + cos * oy,
                a * rx,
                b * ry,
                tilt,
                color,
                shade,
                tex,
                self.texture_salt,
            ))
        };
        let hair_tex = match self.style {
            HairStyle::Curly => 0.35,
            HairStyle::Buzz => 0.1,
            _ => 0.2,
        };
        let look = 0.2 * turn;
        let mut layers = Vec::with_capacity(20);

        if self.style == HairStyle::Long {
            layers.push(part(
                -0.05 * turn,
                0.5,
                1.22,
                1.35,
                self.hair,
                0.15,
                hair_tex,
            ));
        }
        let torso_top = self.torso_top + 0.5 * bob;
        layers.push(Layer::Neck(Neck {
            cx: 0.5 * (body_cx + hcx),
            hw: self.neck_hw,
            top: hcy,
            bottom: torso_top + 0.3 * self.torso_hw,
            color: scale(self.skin, 0.8),
        }));
        let shoulder_r = 0.45 * self.torso_hw;
        layers.push(Layer::Torso(Torso {
            cx: body_cx,
            top: torso_top,
            hc: self.torso_hw - shoulder_r,
            r: shoulder_r,
            slope: self.torso_slope,
            color: self.shirt,
            shade: 0.3,
        }));
        // A round neckline: skin below the neck.
        layers.push(Layer::Ellipse(Ellipse::new(
            0.5 * (body_cx + hcx),
            torso_top,
            self.neck_hw,
            self.neck_hw * 0.55,
            0.0,
            scale(self.skin, 0.8),
            0.0,
            0.0,
            0,
        )));
        match self.style {
            HairStyle::Short | HairStyle::Long => {
                layers.push(part(0.0, -0.1, 1.08, 1.0, self.hair, 0.2, hair_tex))
            }
            HairStyle::Buzz => layers.push(part(0.0, -0.05, 1.03, 1.0, self.hair, 0.2, hair_tex)),
            HairStyle::Curly => {
                layers.push(part(0.0, -0.22, 1.32, 1.06, self.hair, 0.25, hair_tex))
            }
        }
        if self.style != HairStyle::Long {
            for side in [-1.0, 1.0] {
                let ear = scale(self.skin, 0.9);
                layers.push(part(
                    side * 0.97 + 0.1 * turn,
                    0.06,
                    0.16,
                    0.24,
                    ear,
                    0.2,
                    0.0,
                ));
            }
        }
        layers.push(part(0.0, 0.0, 1.0, 1.0, self.skin, 0.25, 0.0));
        match self.style {
            HairStyle::Short | HairStyle::Long => layers.push(part(
                self.parting + 0.3 * look,
                -0.68,
                0.92,
                0.36,
                self.hair,
                0.1,
                hair_tex,
            )),
            HairStyle::Curly => {
                layers.push(part(0.3 * look, -0.7, 1.0, 0.4, self.hair, 0.1, hair_tex))
            }
            HairStyle::Buzz => {
                let stubble = mix(self.hair, self.skin, 0.55);
                layers.push(part(0.0, -0.62, 0.82, 0.4, stubble, 0.1, hair_tex));
            }
        }
        let brow = mix(self.hair, self.skin, 0.3);
        let eye = [38.0, 28.0, 26.0];
        for side in [-1.0, 1.0] {
            layers.push(part(side * 0.36 + look, -0.2, 0.17, 0.04, brow, 0.0, 0.0));
            let open = if blink { 0.015 } else { 0.075 };
            layers.push(part(side * 0.36 + look, -0.03, 0.11, open, eye, 0.0, 0.0));
        }
        layers.push(part(
            1.2 * look,
            0.22,
            0.09,
            0.14,
            scale(self.skin, 0.9),
            0.0,
            0.0,
        ));
        layers.push(part(look, 0.52, 0.26, 0.055, self.lips, 0.0, 0.0));
        layers
    }
}

/// One shape of the figure, painted over a row with its coverage.
#[derive(Clone, Debug)]
enum Layer {
    Ellipse(Ellipse),
    Torso(Torso),
    Neck(Neck),
}

impl Layer {
    fn paint_row(&self, y: usize, px: &mut [Rgb], alpha: &mut [f32]) {
        match self {
            Layer::Ellipse(e) => e.paint_row(y, px, alpha),
            Layer::Torso(t) => t.paint_row(y, px, alpha),
            Layer::Neck(n) => n.paint_row(y, px, alpha),
        }
    }
}

/// A rotated ellipse with radial shading (darker towards the rim) and optional hair texture.
#[derive(Clone, Debug)]
struct Ellipse {
    cx: f32,
    cy: f32,
    inv_a: f32,
    inv_b: f32,
    /// Outer radii (+1 px) for the row span, squared and inverted.
    span_ia2: f32,
    span_ib2: f32,
    cos: f32,
    sin: f32,
    /// Below this normalised radius squared, the pixel is at least 1 px inside: coverage 1.
    inner_q: f32,
    color: Rgb,
    shade: f32,
    texture: f32,
    salt: u32,
}

impl Ellipse {
    #[allow(clippy::too_many_arguments)]
    fn new(
        cx: f32,
        cy: f32,
        a: f32,
        b: f32,
        angle: f32,
        color: Rgb,
        shade: f32,
        texture: f32,
        salt: u32,
    ) -> Self {
        let (a, b) = (a.max(0.25), b.max(0.25));
        let (sin, cos) = angle.sin_cos();
        let m = a.min(b);
        let inner = 1.0 - 1.0 / m;
        Self {
            cx,
            cy,
            inv_a: 1.0 / a,
            inv_b: 1.0 / b,
            span_ia2: 1.0 / ((a + 1.0) * (a + 1.0)),
            span_ib2: 1.0 / ((b + 1.0) * (b + 1.0)),
            cos,
            sin,
            inner_q: if inner > 0.0 { inner * inner } else { -1.0 },
            color,
            shade,
            texture,
            salt,
        }
    }

    fn paint_row(&self, y: usize, px: &mut [Rgb], alpha: &mut [f32]) {
        let dy = y as f32 + 0.5 - self.cy;
        let (c, s) = (self.cos, self.sin);
        // x offsets where the ellipse grown by 1 px crosses this row: a quadratic in dx.
        let qa = c * c * self.span_ia2 + s * s * self.span_ib2;
        let qb = 2.0 * dy * c * s * (self.span_ia2 - self.span_ib2);
        let qc = dy * dy * (s * s * self.span_ia2 + c * c * self.span_ib2) - 1.0;
        let disc = qb * qb - 4.0 * qa * qc;
        if disc <= 0.0 {
            return;
        }
        let root = disc.sqrt();
        let lo = self.cx + (-qb - root) / (2.0 * qa);
        let hi = self.cx + (-qb + root) / (2.0 * qa);
        let x0 = (lo - 0.5).floor().max(0.0) as usize;
        let x1 = ((hi - 0.5).ceil() + 1.0).clamp(0.0, px.len() as f32) as usize;
        let (ia, ib) = (self.inv_a, self.inv_b);
        for x in x0..x1 {
            let dx = x as f32 + 0.5 - self.cx;
            let u = (c * dx + s * dy) * ia;
            let v = (c * dy - s * dx) * ib;
            let q = u * u + v * v;
            let cov = if q <= self.inner_q {
                1.0
            } else {
                // Distance ~ (q - 1) / |grad q|, with grad q = 2 (u / a, v / b).
                let (gx, gy) = (u * ia, v * ib);
                let g = (gx * gx + gy * gy).sqrt().max(1e-6);
                (0.5 - (q - 1.0) / (2.0 * g)).clamp(0.0, 1.0)
            };
            if cov <= 0.0 {
                continue;
            }
            let q = q.min(1.0);
            let mut k = 1.0 - self.shade * q * q;
            if self.texture > 0.0 {
                // Streaks: noise that changes fast across and slowly down.
                k *= 1.0 + self.texture * noise(x as u32, y as u32 >> 2, self.salt);
            }
            over(px, alpha, x, scale(self.color, k), cov);
        }
    }
}

/// The shirt: a trapezoid widening downwards, rounded at the shoulders, cut by the frame.
///
/// Each shoulder is a circle of radius `r` centred `hc` from the centre line and `r` below
/// `top`; the side is the line of slope `slope` (half-width per row) tangent to it.
#[derive(Clone, Debug)]
struct Torso {
    cx: f32,
    top: f32,
    hc: f32,
    r: f32,
    slope: f32,
    color: Rgb,
    shade: f32,
}

impl Torso {
    fn paint_row(&self, y: usize, px: &mut [Rgb], alpha: &mut [f32]) {
        let py = y as f32 + 0.5;
        if py < self.top - 1.0 {
            return;
        }
        let (hc, r, s) = (self.hc, self.r, self.slope);
        let centre_y = self.top + r;
        let norm = (1.0 + s * s).sqrt();
        let inv_norm = 1.0 / norm;
        // Where the side line touches the shoulder circle, and the line's half-width here.
        let tangent_y = centre_y - r * s * inv_norm;
        let line_hw = hc + r * norm + s * (py - centre_y);
        let hw = line_hw.max(hc + r);
        let x0 = (self.cx - hw - 1.5).floor().max(0.0) as usize;
        let x1 = (self.cx + hw + 1.5).ceil().clamp(0.0, px.len() as f32) as usize;
        let inv_hw = 1.0 / hw;
        for x in x0..x1 {
            let ax = (x as f32 + 0.5 - self.cx).abs();
            let d = if py >= tangent_y {
                (ax - line_hw) * inv_norm
            } else if ax <= hc {
                self.top - py
            } else {
                let (ex, ey) = (ax - hc, py - centre_y);
                (ex * ex + ey * ey).sqrt() - r
            };
            let cov = (0.5 - d).clamp(0.0, 1.0);
            if cov <= 0.0 {
                continue;
            }
            let side = (ax * inv_hw).min(1.0);
            let k = 1.0 - self.shade * side * side * side;
            over(px, alpha, x, scale(self.color, k), cov);
        }
    }
}

/// The neck: a vertical bar, shaded darker under the chin.
#[derive(Clone, Debug)]
struct Neck {
    cx: f32,
    hw: f32,
    top: f32,
    bottom: f32,
    color: Rgb,
}

impl Neck {
    fn paint_row(&self, y: usize, px: &mut [Rgb], alpha: &mut [f32]) {
        let py = y as f32 + 0.5;
        let vcov = (py - self.top + 0.5)
            .min(self.bottom - py + 0.5)
            .clamp(0.0, 1.0);
        if vcov <= 0.0 {
            return;
        }
        let k = 0.85 + 0.15 * ((py - self.top) / (self.bottom - self.top)).clamp(0.0, 1.0);
        let color = scale(self.color, k);
        let x0 = (self.cx - self.hw - 1.0).floor().max(0.0) as usize;
        let x1 = (self.cx + self.hw + 1.0).ceil().clamp(0.0, px.len() as f32) as usize;
        for x in x0..x1 {
            let ax = (x as f32 + 0.5 - self.cx).abs();
            let cov = (self.hw - ax + 0.5).clamp(0.0, 1.0) * vcov;
            if cov > 0.0 {
                over(px, alpha, x, color, cov);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The room

const WALLS: [[u8; 3]; 10] = [
    [226, 218, 202],
    [208, 208, 210],
    [194, 208, 220],
    [198, 210, 188],
    [238, 234, 226],
    [214, 180, 160],
    [184, 178, 194],
    [96, 122, 128],
    [162, 152, 142],
    [232, 214, 170],
];
const FLOORS: [[u8; 3]; 5] = [
    [150, 110, 75],
    [118, 84, 56],
    [190, 160, 120],
    [112, 112, 116],
    [160, 130, 110],
];
const WOODS: [[u8; 3]; 5] = [
    [140, 100, 65],
    [185, 150, 110],
    [92, 62, 42],
    [228, 226, 220],
    [60, 58, 56],
];
const BOOKS: [[u8; 3]; 12] = [
    [150, 40, 40],
    [40, 60, 120],
    [50, 100, 70],
    [220, 200, 160],
    [30, 30, 34],
    [190, 120, 40],
    [120, 40, 90],
    [200, 200, 195],
    [80, 130, 160],
    [170, 70, 50],
    [100, 90, 60],
    [230, 180, 60],
];
const FRAMES: [[u8; 3]; 4] = [[30, 28, 26], [170, 135, 70], [110, 75, 45], [232, 230, 226]];

/// How a room rectangle is filled.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// A lit colour with fine noise.
    Solid(Rgb),
    /// A lit colour with horizontal grain.
    Wood(Rgb),
    /// An unlit vertical gradient (sky through glass, a painting).
    Gradient { top: Rgb, bottom: Rgb },
    /// Trees seen through the window: a ragged top edge and blotchy shading.
    Foliage(Rgb),
}

/// An axis-aligned rectangle of the room, `x0..x1` by `y0..y1` pixels.
#[derive(Clone, Debug)]
struct RoomRect {
    x0: i32,
    x1: i32,
    y0: i32,
    y1: i32,
    fill: Fill,
}

/// A room: a wall with low-frequency plaster texture and side lighting, furniture rectangles
/// painted over it in order, a baseboard and a planked floor.
#[derive(Clone, Debug)]
struct Room {
    salt: u32,
    wall: Rgb,
    baseboard: Rgb,
    floor: Rgb,
    floor_y: i32,
    baseboard_h: i32,
    plank_h: i32,
    plank_len: i32,
    /// Horizontal position (0..=1) of the brightest part of the wall.
    light_x: f32,
    light_falloff: f32,
    /// Plaster texture cell size in pixels.
    cell: f32,
    rects: Vec<RoomRect>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feature {
    Window,
    Shelf,
    Picture,
}

impl Room {
    fn generate(rng: &mut SplitMix64, w: f32, h: f32) -> Self {
        let wall = scale(rng.pick(&WALLS), rng.range(0.92, 1.04));
        let floor_y = (h * rng.range(0.8, 0.9)) as i32;
        let mut room = Self {
            salt: rng.next_u64() as u32,
            wall,
            baseboard: if rng.chance(0.5) {
                [236.0, 234.0, 228.0]
            } else {
                scale(wall, 0.8)
            },
            floor: scale(rng.pick(&FLOORS), rng.range(0.9, 1.05)),
            floor_y,
            baseboard_h: ((h * 0.022) as i32).max(1),
            plank_h: ((h * rng.range(0.025, 0.04)) as i32).max(2),
            plank_len: ((w * rng.range(0.2, 0.35)) as i32).max(4),
            light_x: rng.range(0.0, 1.0),
            light_falloff: rng.range(0.12, 0.3),
            cell: (w.max(h) / rng.range(12.0, 20.0)).max(4.0),
            rects: Vec::new(),
        };
        let features = [Feature::Window, Feature::Shelf, Feature::Picture];
        let first = rng.below(3);
        let left_first = rng.chance(0.5);
        let zones = [(0.02 * w, 0.31 * w), (0.69 * w, 0.98 * w)];
        let (za, zb) = if left_first {
            (zones[0], zones[1])
        } else {
            (zones[1], zones[0])
        };
        room.add_feature(rng, features[first], za, w, h);
        if rng.chance(0.7) {
            let second = (first + 1 + rng.below(2)) % 3;
            room.add_feature(rng, features[second], zb, w, h);
        }
        room
    }

    fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, fill: Fill) {
        self.rects.push(RoomRect {
            x0: x0.round() as i32,
            x1: x1.round() as i32,
            y0: y0.round() as i32,
            y1: y1.round() as i32,
            fill,
        });
    }

    fn add_feature(
        &mut self,
        rng: &mut SplitMix64,
        kind: Feature,
        zone: (f32, f32),
        w: f32,
        h: f32,
    ) {
        let zw = zone.1 - zone.0;
        match kind {
            Feature::Window => {
                let ww = zw * rng.range(0.7, 0.95);
                let wh = h * rng.range(0.38, 0.52);
                let x0 = zone.0 + rng.range(0.0, zw - ww);
                let y0 = h * rng.range(0.08, 0.18);
                let (x1, y1) = (x0 + ww, y0 + wh);
                let t = (w * 0.012).max(1.0);
                self.light_x = (x0 + x1) * 0.5 / w;
                self.light_falloff = rng.range(0.25, 0.4);
                let frame = [236.0, 234.0, 228.0];
                self.rect(
                    x0 - t,
                    y1,
                    x1 + t,
                    y1 + 1.5 * t,
                    Fill::Solid(scale(frame, 0.85)),
                );
                self.rect(x0, y0, x1, y1, Fill::Solid(frame));
                let top = hsv(rng.range(195.0, 215.0), rng.range(0.25, 0.45), 0.95);
                let bottom = [222.0, 232.0, 240.0];
                self.rect(
                    x0 + t,
                    y0 + t,
                    x1 - t,
                    y1 - t,
                    Fill::Gradient { top, bottom },
                );
                let trees = hsv(
                    rng.range(80.0, 130.0),
                    rng.range(0.3, 0.55),
                    rng.range(0.3, 0.5),
                );
                self.rect(x0 + t, y0 + 0.55 * wh, x1 - t, y1 - t, Fill::Foliage(trees));
                let (mx, my) = ((x0 + x1) * 0.5, y0 + wh * 0.45);
                self.rect(mx - 0.4 * t, y0, mx + 0.4 * t, y1, Fill::Solid(frame));
                self.rect(x0, my - 0.4 * t, x1, my + 0.4 * t, Fill::Solid(frame));
            }
            Feature::Shelf => {
                let wood = rng.pick(&WOODS);
                let sw = zw * rng.range(0.75, 1.0);
                let x0 = zone.0 + rng.range(0.0, zw - sw);
                let x1 = x0 + sw;
                let t = (h * 0.018).max(2.0);
                let mut board_y = h * rng.range(0.4, 0.5);
                let shelves = 1 + usize::from(rng.chance(0.6));
                for _ in 0..shelves {
                    self.rect(x0, board_y, x1, board_y + t, Fill::Wood(wood));
                    self.rect(
                        x0,
                        board_y + t,
                        x1,
                        board_y + 1.6 * t,
                        Fill::Solid(scale(wood, 0.55)),
                    );
                    let mut x = x0 + rng.range(0.0, 0.1) * sw;
                    let end = x1 - rng.range(0.05, 0.35) * sw;
                    while x < end {
                        let bw = w * rng.range(0.009, 0.02);
                        let bh = h * rng.range(0.07, 0.12);
                        let color = scale(rng.pick(&BOOKS), rng.range(0.75, 1.0));
                        self.rect(
                            x,
                            board_y - bh,
                            (x + bw).min(end),
                            board_y,
                            Fill::Solid(color),
                        );
                        x += bw + if rng.chance(0.15) { bw * 1.5 } else { 0.0 };
                    }
                    board_y -= h * rng.range(0.15, 0.19);
                }
            }
            Feature::Picture => {
                let pw = zw * rng.range(0.45, 0.75);
                let ph = (pw * rng.range(0.7, 1.3)).min(h * 0.36);
                let x0 = zone.0 + rng.range(0.0, zw - pw);
                let y0 = h * rng.range(0.1, 0.22);
                let (x1, y1) = (x0 + pw, y0 + ph);
                let t = (w * 0.01).max(1.0);
                self.rect(
                    x0 - t,
                    y0 - t,
                    x1 + t,
                    y1 + t,
                    Fill::Wood(rng.pick(&FRAMES)),
                );
                let mat = t * rng.range(0.0, 2.5);
                self.rect(x0, y0, x1, y1, Fill::Solid([232.0, 228.0, 218.0]));
                let (ax0, ay0, ax1, ay1) = (x0 + mat, y0 + mat, x1 - mat, y1 - mat);
                let top = hsv(
                    rng.range(0.0, 360.0),
                    rng.range(0.2, 0.6),
                    rng.range(0.6, 0.95),
                );
                let bottom = hsv(
                    rng.range(0.0, 360.0),
                    rng.range(0.2, 0.6),
                    rng.range(0.4, 0.8),
                );
                self.rect(ax0, ay0, ax1, ay1, Fill::Gradient { top, bottom });
                let band = hsv(
                    rng.range(0.0, 360.0),
                    rng.range(0.3, 0.7),
                    rng.range(0.2, 0.6),
                );
                let by = ay0 + (ay1 - ay0) * rng.range(0.55, 0.75);
                self.rect(ax0, by, ax1, ay1, Fill::Solid(band));
            }
        }
    }

    /// Fills row `y` with the room; `texture` is scratch for the plaster noise of the row.
    fn paint_row(&self, y: usize, px: &mut [Rgb], light: &Lighting, texture: &mut [f32]) {
        let w = px.len();
        let yi = y as i32;
        let row_light = light.row(y);
        let row_salt = hash2(0x51ED, y as u32, self.salt);

        if yi < self.floor_y - self.baseboard_h {
            // Plaster: value noise, hashed lattice values lerped down to this row, then
            // across the row cell by cell.
            let gy = y as f32 / self.cell;
            let (cy, fy) = (gy as u32, gy.fract());
            let fy = fy * fy * (3.0 - 2.0 * fy);
            for (i, t) in texture.iter_mut().enumerate() {
                let a = noise(i as u32, cy, self.salt);
                let b = noise(i as u32, cy + 1, self.salt);
                *t = a + (b - a) * fy;
            }
            let inv_cell = 1.0 / self.cell;
            let mut x = 0;
            for (i, pair) in texture.windows(2).enumerate() {
                let end = (((i + 1) as f32 * self.cell).ceil() as usize).min(w);
                let step = (pair[1] - pair[0]) * inv_cell;
                let base = pair[0] - i as f32 * self.cell * step;
                for (p, &col) in px[x..end].iter_mut().zip(&light.col[x..end]) {
                    let plaster = base + x as f32 * step;
                    let k = row_light * col * (1.0 + 0.05 * plaster);
                    let n = 3.0 * pixel_noise(x as u32, row_salt);
                    *p = [
                        self.wall[0] * k + n,
                        self.wall[1] * k + n,
                        self.wall[2] * k + n,
                    ];
                    x += 1;
                }
                if end == w {
                    break;
                }
            }
        } else if yi < self.floor_y {
            for (x, p) in px.iter_mut().enumerate() {
                let k = row_light * light.col[x];
                *p = scale(self.baseboard, k);
            }
        } else {
            let band = (yi - self.floor_y) / self.plank_h;
            let seam_row = (yi - self.floor_y) % self.plank_h == 0;
            let tone = 1.0 + 0.14 * noise(band as u32, 7, self.salt);
            let offset = hash2(band as u32, 11, self.salt) as i32 & 0xFFFF;
            let k_row = row_light * tone * if seam_row { 0.7 } else { 1.0 };
            for (x, p) in px.iter_mut().enumerate() {
                let seam = (x as i32 + offset) % self.plank_len == 0;
                let grain = 0.08 * noise((x >> 4) as u32, y as u32, self.salt)
                    + 0.04 * pixel_noise(x as u32, row_salt);
                let k = k_row * light.col[x] * (1.0 + grain) * if seam { 0.75 } else { 1.0 };
                *p = scale(self.floor, k);
            }
        }

        for r in &self.rects {
            if yi < r.y0 || yi >= r.y1 {
                continue;
            }
            let x0 = r.x0.clamp(0, w as i32) as usize;
            let x1 = (r.x1.clamp(0, w as i32) as usize).max(x0);
            let ty = (yi - r.y0) as f32 / (r.y1 - r.y0).max(1) as f32;
            let span = px[x0..x1].iter_mut().zip(&light.col[x0..x1]);
            let span = span
                .enumerate()
                .map(|(i, (p, &col))| (x0 + i, p, col * row_light));
            match r.fill {
                Fill::Solid(c) => {
                    for (x, p, k) in span {
                        let n = 2.0 * pixel_noise(x as u32, row_salt ^ 0x5A5A);
                        *p = [c[0] * k + n, c[1] * k + n, c[2] * k + n];
                    }
                }
                Fill::Wood(c) => {
                    for (x, p, k) in span {
                        let grain = 0.1 * noise((x >> 3) as u32, y as u32, self.salt)
                            + 0.04 * pixel_noise(x as u32, row_salt);
                        *p = scale(c, k * (1.0 + grain));
                    }
                }
                Fill::Gradient { top, bottom } => {
                    let c = mix(top, bottom, ty);
                    for (x, p, _) in span {
                        let n = 2.0 * pixel_noise(x as u32, row_salt);
                        *p = [c[0] + n, c[1] + n, c[2] + n];
                    }
                }
                Fill::Foliage(c) => {
                    let depth = (yi - r.y0) as f32;
                    let band = (r.y1 - r.y0) as f32;
                    for (x, p, _) in span {
                        let lf = value_noise(x as f32 / self.cell, self.salt)
                            + 0.5 * noise((x >> 2) as u32, 3, self.salt);
                        if depth < (lf + 0.6) * 0.45 * band {
                            continue;
                        }
                        let k = 0.8 + 0.8 * lf + 0.25 * pixel_noise(x as u32, row_salt);
                        *p = scale(c, k);
                    }
                }
            }
        }
        for p in px.iter_mut() {
            *p = p.map(|v| v.clamp(0.0, 255.0));
        }
    }
}

/// Per-frame lighting tables: a brightness per column, and the row term.
struct Lighting {
    col: Vec<f32>,
    top: f32,
    gradient: f32,
    inv_h: f32,
    texture_cols: usize,
}

impl Lighting {
    fn new(room: &Room, backdrop: Backdrop, width: u32, height: u32) -> Self {
        let w = width as f32;
        let (falloff, light_x) = match backdrop {
            Backdrop::Room => (room.light_falloff, room.light_x),
            Backdrop::GreenScreen => (0.12, room.light_x * 0.6 + 0.2),
        };
        let col = (0..width)
            .map(|x| {
                let d = (x as f32 + 0.5) / w - light_x;
                1.0 - falloff * d * d
            })
            .collect();
        Self {
            col,
            top: 1.04,
            gradient: 0.1,
            inv_h: 1.0 / height as f32,
            texture_cols: (w / room.cell) as usize + 1,
        }
    }

    fn row(&self, y: usize) -> f32 {
        self.top - self.gradient * (y as f32 + 0.5) * self.inv_h
    }
}

/// Fills row `y` with the green screen: chroma green, unevenly lit, faint noise.
fn paint_green_row(y: usize, px: &mut [Rgb], light: &Lighting, salt: u32) {
    const GREEN: Rgb = [0.0, 177.0, 64.0];
    let row = light.row(y);
    let row_salt = hash2(0x51ED, y as u32, salt);
    for (x, p) in px.iter_mut().enumerate() {
        let k = row * light.col[x];
        let n = 1.5 * pixel_noise(x as u32, row_salt);
        *p = [
            (GREEN[0] * k + n).max(0.0),
            (GREEN[1] * k + n).min(255.0),
            (GREEN[2] * k + n).max(0.0),
        ];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matte(f: &Frame) -> Vec<u8> {
        f.as_ref().plane(3).rows().flatten().copied().collect()
    }

    #[test]
    fn same_seed_and_index_give_identical_bytes() {
        let p = SyntheticParticipant::new(42, 320, 180);
        assert_eq!(p.frame(17).to_packed(), p.frame(17).to_packed());
        let q = SyntheticParticipant::new(42, 320, 180);
        assert_eq!(p.frame(17).to_packed(), q.frame(17).to_packed());
    }

    #[test]
    fn different_seeds_differ() {
        let a = SyntheticParticipant::new(1, 320, 180).frame(0).to_packed();
        let b = SyntheticParticipant::new(2, 320, 180).frame(0).to_packed();
        assert_ne!(a, b);
    }

    #[test]
    fn matte_is_binary_inside_and_out_with_a_sane_person_fraction() {
        for seed in 0..16 {
            let f = SyntheticParticipant::new(seed, 640, 360).frame(5);
            let a = matte(&f);
            let inside = a.iter().filter(|&&v| v == 255).count();
            let outside = a.iter().filter(|&&v| v == 0).count();
            let edge = a.len() - inside - outside;
            assert!(inside > 0 && outside > 0, "seed {seed}");
            let frac = a.iter().map(|&v| f64::from(v) / 255.0).sum::<f64>() / a.len() as f64;
            assert!(
                (0.10..=0.50).contains(&frac),
                "seed {seed}: person fraction {frac}"
            );
            // Anti-aliased, but only along the outline: a thin band.
            assert!(edge > 0, "seed {seed}: no anti-aliased edge");
            assert!(
                edge < inside / 10,
                "seed {seed}: {edge} edge pixels vs {inside} inside"
            );
        }
    }

    #[test]
    fn framing_is_a_webcam_head_and_shoulders() {
        for seed in 0..16 {
            let p = SyntheticParticipant::new(seed, 640, 360);
            let f = p.frame(0);
            let plane = f.as_ref().plane(3);
            let top = plane
                .rows()
                .position(|r| r.iter().any(|&v| v > 127))
                .unwrap();
            let top = top as f64 / 360.0;
            assert!(
                (0.10..=0.25).contains(&top),
                "seed {seed}: head top at {top}"
            );
            let bottom = plane.row(359);
            let l = bottom.iter().position(|&v| v > 127).unwrap();
            let r = bottom.iter().rposition(|&v| v > 127).unwrap();
            let span = (r - l) as f64 / 640.0;
            assert!(
                (0.35..=0.65).contains(&span),
                "seed {seed}: body spans {span}"
            );
            let mid = (l + r) as f64 / 2.0 / 640.0;
            assert!(
                (0.4..=0.6).contains(&mid),
                "seed {seed}: body centred at {mid}"
            );
        }
    }

    #[test]
    fn the_figure_moves() {
        for seed in 0..8 {
            let p = SyntheticParticipant::new(seed, 320, 180);
            let (a, b) = (matte(&p.frame(0)), matte(&p.frame(30)));
            let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
            assert!(
                changed > a.len() / 200,
                "seed {seed}: only {changed} matte pixels moved"
            );
        }
    }

    #[test]
    fn odd_and_tiny_sizes_are_clamped_not_fatal() {
        for (w, h, ew, eh) in [
            (0, 0, 16, 16),
            (1, 1, 16, 16),
            (15, 17, 16, 16),
            (17, 33, 16, 32),
            (641, 361, 640, 360),
            (16, 200, 16, 200),
            (300, 16, 300, 16),
            (u32::MAX, 20, MAX_DIMENSION, 20),
        ] {
            let p = SyntheticParticipant::new(3, w, h);
            assert_eq!((p.width(), p.height()), (ew, eh), "{w}x{h}");
            if ew <= 1024 {
                for i in [0, 1, 1000, u64::MAX] {
                    let f = p.frame(i);
                    assert_eq!((f.width(), f.height()), (ew, eh));
                }
            }
        }
    }

    #[test]
    fn render_reallocates_only_on_mismatch() {
        let p = SyntheticParticipant::new(9, 64, 48);
        let mut out = Frame::new(PixelFormat::I420, 10, 10).unwrap();
        p.render(0, &mut out);
        assert_eq!(
            (out.format(), out.width(), out.height()),
            (PixelFormat::I420A, 64, 48)
        );
        assert_eq!(out.color(), ColorSpec::BT601_LIMITED);
        assert_eq!(out.to_packed(), p.frame(0).to_packed());
        p.render(12, &mut out);
        assert_eq!(out.to_packed(), p.frame(12).to_packed());
    }

    #[test]
    fn green_screen_is_strongly_green_where_the_matte_is_zero() {
        for seed in 0..8 {
            let f = SyntheticParticipant::new(seed, 320, 180)
                .with_backdrop(Backdrop::GreenScreen)
                .frame(0);
            let r = f.as_ref();
            let (u, v, a) = (r.plane(1), r.plane(2), r.plane(3));
            let mut checked = 0;
            for cy in 0..u.height() {
                for cx in 0..u.width() {
                    let block = [(0, 0), (1, 0), (0, 1), (1, 1)];
                    if block
                        .iter()
                        .any(|(dx, dy)| a.row(2 * cy + dy)[2 * cx + dx] != 0)
                    {
                        continue;
                    }
                    // Nominal (0, 177, 64) is U 105, V 58 in BT.601 limited range.
                    let (uu, vv) = (u.row(cy)[cx], v.row(cy)[cx]);
                    assert!(
                        uu < 112 && vv < 80,
                        "seed {seed} at {cx},{cy}: U {uu} V {vv}"
                    );
                    checked += 1;
                }
            }
            assert!(checked > u.width() * u.height() / 2);
        }
    }

    #[test]
    fn room_backdrop_is_textured() {
        for seed in 0..8 {
            let f = SyntheticParticipant::new(seed, 320, 180).frame(0);
            let r = f.as_ref();
            let (y, a) = (r.plane(0), r.plane(3));
            let vals: Vec<f64> = y
                .rows()
                .zip(a.rows())
                .flat_map(|(yr, ar)| {
                    yr.iter()
                        .zip(ar)
                        .filter(|(_, &a)| a == 0)
                        .map(|(&y, _)| f64::from(y))
                })
                .collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / vals.len() as f64;
            assert!(var > 4.0, "seed {seed}: background luma variance {var}");
            // Also fine texture: neighbouring wall pixels are not all equal.
            let row = y.row(4);
            let steps = row.windows(2).filter(|w| w[0] != w[1]).count();
            assert!(steps > row.len() / 4, "seed {seed}: flat wall row");
        }
    }

    #[test]
    fn matte_is_consistent_with_the_pixels() {
        // The person is drawn identically over both backdrops, so where A = 255 the luma (and
        // the chroma of fully covered 2x2 blocks) must not depend on the backdrop, and the
        // matte itself must be identical.
        for seed in 0..8 {
            let room = SyntheticParticipant::new(seed, 320, 180);
            let green = room.clone().with_backdrop(Backdrop::GreenScreen);
            for i in [0, 45] {
                let (fr, fg) = (room.frame(i), green.frame(i));
                let (r, g) = (fr.as_ref(), fg.as_ref());
                assert_eq!(matte(&fr), matte(&fg));
                let a = r.plane(3);
                let mut inside = 0;
                for y in 0..180 {
                    for x in 0..320 {
                        if a.row(y)[x] == 255 {
                            assert_eq!(r.plane(0).row(y)[x], g.plane(0).row(y)[x]);
                            inside += 1;
                        } else if a.row(y)[x] == 0 {
                            // Pure room: differs from pure green screen.
                            assert_ne!(r.plane(0).row(y)[x], 0);
                        }
                    }
                }
                assert!(inside > 0);
                for cy in 0..90 {
                    for cx in 0..160 {
                        let full = (0..2)
                            .all(|dy| (0..2).all(|dx| a.row(2 * cy + dy)[2 * cx + dx] == 255));
                        if full {
                            assert_eq!(r.plane(1).row(cy)[cx], g.plane(1).row(cy)[cx]);
                            assert_eq!(r.plane(2).row(cy)[cx], g.plane(2).row(cy)[cx]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_empty_room_is_the_room_behind_the_person() {
        for backdrop in [Backdrop::Room, Backdrop::GreenScreen] {
            let p = SyntheticParticipant::new(5, 160, 90).with_backdrop(backdrop);
            let mut empty = Frame::new(PixelFormat::I420, 2, 2).unwrap();
            p.render_empty(&mut empty);
            let (e, f) = (empty.as_ref(), p.frame(10));
            let f = f.as_ref();
            assert!(e.plane(3).rows().flatten().all(|&a| a == 0));
            let mut same = 0;
            for y in 0..90 {
                for x in 0..160 {
                    if f.plane(3).row(y)[x] == 0 {
                        assert_eq!(e.plane(0).row(y)[x], f.plane(0).row(y)[x]);
                        same += 1;
                    }
                }
            }
            assert!(same > 160 * 90 / 2 && same < 160 * 90);
        }
    }

    #[test]
    fn values_stay_in_limited_range() {
        for seed in 0..4 {
            let f = SyntheticParticipant::new(seed, 160, 90).frame(3);
            let r = f.as_ref();
            assert!(r
                .plane(0)
                .rows()
                .flatten()
                .all(|&v| (16..=235).contains(&v)));
            for p in [r.plane(1), r.plane(2)] {
                assert!(p.rows().flatten().all(|&v| (16..=240).contains(&v)));
            }
        }
    }
}
