//! Frames of arbitrary formats, sizes, strides and plane geometry into the compositor.
//!
//! Planes are built from the fuzz input with the checked constructors (`PlaneRef::new`,
//! `FrameRef::new`); whatever they accept is pushed (borrowed and owned) into a compositor
//! rendering a small output, converted to every format, and cropped. Nothing may panic, and
//! the constructors' promises (rows of exactly `width` bytes, `height` rows) must hold.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use together_mode::frame::{
    convert, ColorSpec, Frame, FrameMut, FrameRef, Matrix, PixelFormat, PlaneMut, PlaneRef, Range,
};
use together_mode::{Compositor, CompositorOptions, Role, ScaleFilter, Scene, SegmentMode};

/// Largest pixel buffer the target synthesises for one frame (keeps executions fast).
const MAX_BYTES: usize = 1 << 21;

#[derive(Arbitrary, Debug)]
struct PlaneSpec {
    offset: u16,
    /// Added to (or, when `shrink`, taken from) the format's plane width in bytes.
    dw: u8,
    /// Added to (or taken from) the format's plane height.
    dh: u8,
    shrink: bool,
    /// Extra bytes between rows; with `raw_stride` the stride itself.
    pad: u16,
    raw_stride: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    format: u8,
    width: u16,
    height: u16,
    bt709: bool,
    full_range: bool,
    /// How many planes to pass (mod 5): the format's count most of the time.
    plane_count: u8,
    planes: [PlaneSpec; 4],
    /// Output size: `2 * (1 + w % 200)` x `2 * (1 + h % 120)`.
    out_w: u8,
    out_h: u8,
    scene: u8,
    opacity: u8,
    filter: u8,
    parallel: bool,
    crop: (u16, u16, u16, u16),
    seed: u32,
    /// Bytes at the start of the pixel buffer; the rest is a seeded pattern.
    data: Vec<u8>,
}

fn format_of(v: u8) -> PixelFormat {
    match v % 5 {
        0 => PixelFormat::I420,
        1 => PixelFormat::I420A,
        2 => PixelFormat::Nv12,
        3 => PixelFormat::Rgba,
        _ => PixelFormat::Bgra,
    }
}

const FORMATS: [PixelFormat; 5] = [
    PixelFormat::I420,
    PixelFormat::I420A,
    PixelFormat::Nv12,
    PixelFormat::Rgba,
    PixelFormat::Bgra,
];

/// The plane's (width, height, stride, offset) from the spec and the format's own size.
fn geometry(spec: &PlaneSpec, need: (usize, usize)) -> (usize, usize, usize, usize) {
    let (w, h) = if spec.shrink {
        (
            need.0.saturating_sub(spec.dw as usize),
            need.1.saturating_sub(spec.dh as usize),
        )
    } else {
        (
            need.0 + (spec.dw % 4) as usize,
            need.1 + (spec.dh % 4) as usize,
        )
    };
    let stride = if spec.raw_stride {
        spec.pad as usize
    } else {
        w + spec.pad as usize % 256
    };
    (w, h, stride, spec.offset as usize % 1024)
}

fn scene_for(v: u8, out: (u32, u32)) -> Scene {
    match v % 4 {
        0 => Scene::builtin("auditorium").expect("built-in"),
        1 => Scene::grid(1, out.0, out.1)
            .unwrap_or_else(|_| Scene::builtin("grid").expect("built-in")),
        2 => Scene::grid(1 + (v as usize / 4) % 49, out.0, out.1)
            .unwrap_or_else(|_| Scene::builtin("grid").expect("built-in")),
        _ => Scene::builtin("grid").expect("built-in"),
    }
}

fuzz_target!(|input: Input| {
    let format = format_of(input.format);
    let (width, height) = (u32::from(input.width), u32::from(input.height));
    let count = match input.plane_count % 8 {
        5 => 0,
        6 => format.plane_count() + 1,
        7 => format.plane_count().saturating_sub(1),
        _ => format.plane_count(),
    }
    .min(4);

    // Plane geometry, then one buffer large enough for all of it (or the input as it is).
    let geo: Vec<_> = (0..count)
        .map(|i| geometry(&input.planes[i], format.plane_size(i, width, height)))
        .collect();
    let need = geo
        .iter()
        .map(|&(w, h, stride, off)| off + stride.saturating_mul(h.saturating_sub(1)) + w)
        .max()
        .unwrap_or(0);
    let mut buf = input.data.clone();
    if need <= MAX_BYTES && buf.len() < need {
        let mut s = input.seed | 1;
        buf.extend((buf.len()..need).map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 24) as u8
        }));
    }

    let mut planes = Vec::new();
    for &(w, h, stride, off) in &geo {
        let data = buf.get(off..).unwrap_or(&[]);
        match PlaneRef::new(data, w, h, stride) {
            Ok(p) => {
                assert_eq!(p.rows().len(), h);
                assert!(p.rows().all(|r| r.len() == w));
                if let Ok(c) = p.crop(
                    input.crop.0 as usize,
                    input.crop.1 as usize,
                    input.crop.2 as usize,
                    input.crop.3 as usize,
                ) {
                    assert_eq!(c.rows().len(), c.height());
                    assert!(c.rows().all(|r| r.len() == c.width()));
                }
                planes.push(p);
            }
            Err(_) => return,
        }
    }
    let color = ColorSpec {
        matrix: if input.bt709 {
            Matrix::Bt709
        } else {
            Matrix::Bt601
        },
        range: if input.full_range {
            Range::Full
        } else {
            Range::Limited
        },
    };
    let Ok(frame) = FrameRef::new(format, width, height, color, &planes) else {
        return;
    };
    assert_eq!(frame.planes().len(), format.plane_count());

    // Conversions into every format, through owned frames and caller buffers.
    for to in FORMATS {
        if let Ok(f) = frame.to_frame(to) {
            assert_eq!((f.format(), f.width(), f.height()), (to, width, height));
        }
    }
    let owned = Frame::from_ref(&frame).expect("an accepted view copies");

    let out = (
        2 * (1 + u32::from(input.out_w) % 200),
        2 * (1 + u32::from(input.out_h) % 120),
    );
    let filter = match input.filter % 3 {
        0 => ScaleFilter::Bilinear,
        1 => ScaleFilter::Lanczos3,
        _ => ScaleFilter::Nearest,
    };
    let options = CompositorOptions::default()
        // The frames' own alpha (the default, `auto`, needs the selfie model).
        .with_segment(SegmentMode::Alpha)
        .with_size(out.0, out.1)
        .with_color(color)
        .with_seat_opacity(f32::from(input.opacity) / 200.0)
        .with_filter(filter)
        .with_parallel(input.parallel);
    let mut engine =
        Compositor::new(scene_for(input.scene, out), options).expect("a small even output");
    engine.join("8:acs:a", Role::Attendee).expect("a free seat");
    engine
        .push_ref("8:acs:a", &frame, 0)
        .expect("a valid frame");
    let rendered = engine.render().expect("render").to_frame(PixelFormat::I420);
    assert!(rendered.is_ok());
    // The same frame owned: the seat is rendered again from it.
    engine.push("8:acs:a", owned, 1).expect("known participant");
    let mut rgba = vec![0u8; out.0 as usize * 4 * out.1 as usize];
    let plane = PlaneMut::new(
        &mut rgba,
        out.0 as usize * 4,
        out.1 as usize,
        out.0 as usize * 4,
    )
    .expect("packed RGBA plane");
    let mut target =
        FrameMut::new(PixelFormat::Rgba, out.0, out.1, color, vec![plane]).expect("RGBA frame");
    engine.render_into(&mut target).expect("render into RGBA");
    // A frame that does not match is refused, not drawn.
    let mut small = Frame::new(PixelFormat::I420, 2, 2).expect("2x2");
    assert!(engine.render_into(&mut small.as_mut()).is_err() || out == (2, 2));
    let _ = convert(&frame, &mut small.as_mut());
});
