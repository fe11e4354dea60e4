//! Helpers shared by the element's tests: deterministic frames written into GStreamer
//! buffers (through their real strides) and into library frames, and exact comparison of a
//! GStreamer output buffer with a library frame.
#![allow(dead_code)]

use std::sync::Once;

use gst::glib;
use gst::prelude::*;
use gst_video::prelude::*;
use together_mode::frame::{ColorSpec, Frame, FrameRef, PixelFormat};

/// Initialises GStreamer and registers the plugin statically (no GST_PLUGIN_PATH needed).
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("gstreamer initialises");
        gsttogethermode::plugin_register_static().expect("plugin registers");
    });
}

/// Start of output frame `n` at 30 fps, exactly as the aggregator computes it.
pub fn at(n: u64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(n * 1_000_000_000 / 30)
}

/// A deterministic byte for (participant seed, plane, x byte, row, frame number), with
/// edges, texture and every alpha value from 0 to 255 somewhere in packed RGBA.
pub fn sample(seed: u32, plane: usize, x: usize, y: usize, n: u32) -> u8 {
    let (x, y) = (x as u32, y as u32);
    let v = x
        .wrapping_mul(7)
        .wrapping_add(y.wrapping_mul(13))
        .wrapping_add(plane as u32 * 50)
        .wrapping_add(seed.wrapping_mul(31))
        .wrapping_add(n.wrapping_mul(5))
        ^ (x.wrapping_mul(y) >> 2);
    v as u8
}

pub fn gst_format(format: PixelFormat) -> gst_video::VideoFormat {
    match format {
        PixelFormat::I420 => gst_video::VideoFormat::I420,
        PixelFormat::Nv12 => gst_video::VideoFormat::Nv12,
        PixelFormat::Rgba => gst_video::VideoFormat::Rgba,
        PixelFormat::Bgra => gst_video::VideoFormat::Bgra,
        other => panic!("no GStreamer input format for {other:?}"),
    }
}

/// Caps of an input: BT.601 limited range for the YUV formats.
pub fn input_caps(format: PixelFormat, width: u32, height: u32) -> gst::Caps {
    let mut b = gst_video::VideoCapsBuilder::new()
        .format(gst_format(format))
        .width(width as i32)
        .height(height as i32)
        .framerate(gst::Fraction::new(30, 1));
    if matches!(format, PixelFormat::I420 | PixelFormat::Nv12) {
        b = b.field("colorimetry", "bt601");
    }
    b.build()
}

/// A GStreamer buffer of `caps` filled with [`sample`] through the buffer's own strides.
pub fn gst_frame(
    caps: &gst::Caps,
    seed: u32,
    n: u32,
    pts: gst::ClockTime,
    duration: gst::ClockTime,
) -> gst::Buffer {
    let info = gst_video::VideoInfo::from_caps(caps).expect("video caps");
    let format = library_format(info.format());
    let mut buffer = gst::Buffer::with_size(info.size()).expect("buffer");
    {
        let b = buffer.get_mut().expect("writable");
        b.set_pts(pts);
        b.set_duration(duration);
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &info).expect("maps");
        for p in 0..format.plane_count() {
            let stride = frame.plane_stride()[p] as usize;
            let (w, h) = format.plane_size(p, info.width(), info.height());
            let data = frame.plane_data_mut(p as u32).expect("plane");
            for y in 0..h {
                for x in 0..w {
                    data[y * stride + x] = sample(seed, p, x, y, n);
                }
            }
        }
    }
    buffer
}

pub fn library_format(format: gst_video::VideoFormat) -> PixelFormat {
    match format {
        gst_video::VideoFormat::I420 => PixelFormat::I420,
        gst_video::VideoFormat::Nv12 => PixelFormat::Nv12,
        gst_video::VideoFormat::Rgba => PixelFormat::Rgba,
        gst_video::VideoFormat::Bgra => PixelFormat::Bgra,
        other => panic!("unexpected format {other:?}"),
    }
}

/// The same frame as [`gst_frame`], as a library frame (its own 64-byte strides).
pub fn library_frame(format: PixelFormat, width: u32, height: u32, seed: u32, n: u32) -> Frame {
    let mut f = Frame::new(format, width, height).expect("frame");
    f.set_color(ColorSpec::BT601_LIMITED);
    let mut m = f.as_mut();
    for p in 0..format.plane_count() {
        let mut plane = m.plane_mut(p);
        for y in 0..plane.height() {
            for (x, v) in plane.row_mut(y).iter_mut().enumerate() {
                *v = sample(seed, p, x, y, n);
            }
        }
    }
    f
}

/// Where a GStreamer frame of `caps` first differs from `expected`, row by row.
pub fn mismatch(buffer: &gst::Buffer, caps: &gst::Caps, expected: &FrameRef<'_>) -> Option<String> {
    let info = gst_video::VideoInfo::from_caps(caps).expect("video caps");
    if library_format(info.format()) != expected.format()
        || (info.width(), info.height()) != (expected.width(), expected.height())
    {
        return Some(format!(
            "caps {caps} vs library {:?} {}x{}",
            expected.format(),
            expected.width(),
            expected.height()
        ));
    }
    let frame =
        gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info).expect("maps");
    for (p, plane) in expected.planes().iter().enumerate() {
        let stride = frame.plane_stride()[p] as usize;
        let data = frame.plane_data(p as u32).expect("plane");
        for (y, row) in plane.rows().enumerate() {
            let got = &data[y * stride..y * stride + row.len()];
            if let Some(x) = got.iter().zip(row).position(|(a, b)| a != b) {
                return Some(format!(
                    "plane {p} row {y} differs first at byte {x}: element {} library {}",
                    got[x], row[x]
                ));
            }
        }
    }
    None
}

/// Asserts that a GStreamer frame of `caps` holds exactly `expected`.
pub fn assert_same(buffer: &gst::Buffer, caps: &gst::Caps, expected: &FrameRef<'_>, what: &str) {
    if let Some(m) = mismatch(buffer, caps, expected) {
        panic!("{what}: {m}");
    }
}

/// Whether a GStreamer frame of `caps` differs from `other` anywhere.
pub fn differs(buffer: &gst::Buffer, caps: &gst::Caps, other: &FrameRef<'_>) -> bool {
    mismatch(buffer, caps, other).is_some()
}

/// The seating map JSON carried by every `togethermode-seating` message on `bus`, in order.
pub fn seating_messages(bus: &gst::Bus) -> Vec<String> {
    let mut maps = Vec::new();
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Element]) {
        if let Some(s) = msg.structure() {
            if s.name() == gsttogethermode::togethermode::SEATING_MESSAGE {
                maps.push(
                    s.get::<String>(gsttogethermode::togethermode::SEATING_FIELD)
                        .expect("string field"),
                );
            }
        }
    }
    maps
}

/// Warning messages on `bus` (their debug text), draining other messages.
pub fn warnings(bus: &gst::Bus) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Warning]) {
        if let gst::MessageView::Warning(w) = msg.view() {
            out.push(format!("{} {:?}", w.error(), w.debug()));
        }
    }
    out
}

/// Sets property `name` of `object` from its string spelling as gst-launch does
/// (`gst_value_deserialize`: an enum by name, nick or number); `false` when the string is
/// refused (the property is then left alone).
pub fn set_from_str(object: &impl IsA<glib::Object>, name: &str, value: &str) -> bool {
    let pspec = object.find_property(name).expect("no such property");
    match glib::Value::deserialize_with_pspec(value, &pspec) {
        Ok(v) => {
            object.set_property_from_value(name, &v);
            true
        }
        Err(_) => false,
    }
}
