//! The Y4M reader on arbitrary bytes: never panics, never allocates past its limits, and
//! every frame it returns survives a write-read round trip bit-exactly.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use together_mode::frame::{Frame, PixelFormat};
use together_mode::io::{Y4mReader, Y4mWriter};

/// Frames read per input: enough to reach every per-frame path, few enough to stay fast.
const MAX_FRAMES: usize = 4;

fn planes(f: &Frame) -> Vec<Vec<u8>> {
    let r = f.as_ref();
    r.planes()
        .iter()
        .map(|p| p.rows().flatten().copied().collect())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Y4mReader::new(Cursor::new(data)) else {
        return;
    };
    let header = reader.header().clone();
    assert!(header.width >= 1 && header.height >= 1);
    assert!(header.fps.0 != 0 && header.fps.1 != 0);
    let mut frames = Vec::new();
    // Alternate the two read paths; the second reuses (or replaces) a frame of another size.
    let mut reused = Frame::new(PixelFormat::I420, 2, 2).expect("2x2 frame");
    for k in 0..MAX_FRAMES {
        let frame = if k % 2 == 0 {
            match reader.read_frame() {
                Ok(Some(f)) => f,
                Ok(None) | Err(_) => break,
            }
        } else {
            match reader.read_frame_into(&mut reused) {
                Ok(true) => reused.clone(),
                Ok(false) | Err(_) => break,
            }
        };
        assert_eq!(frame.format(), PixelFormat::I420);
        assert_eq!(
            (frame.width(), frame.height()),
            (header.width, header.height)
        );
        frames.push(frame);
    }
    assert_eq!(reader.frames_read() as usize, frames.len());
    if frames.is_empty() {
        return;
    }
    // Round trip: what we write reads back identically.
    let color = frames[0].color();
    let mut w = Y4mWriter::new(Vec::new(), header.width, header.height, header.fps, color)
        .expect("a header the reader accepted is writable");
    for f in &frames {
        w.write_frame(&f.as_ref()).expect("writing to a Vec");
    }
    let bytes = w.finish().expect("flushing a Vec");
    let mut back = Y4mReader::new(Cursor::new(&bytes[..])).expect("own output parses");
    for f in &frames {
        let g = back
            .read_frame()
            .expect("own output reads")
            .expect("as many frames as written");
        assert_eq!(planes(f), planes(&g));
        assert_eq!(f.color(), g.color());
    }
    assert!(back.read_frame().expect("clean end").is_none());
});
