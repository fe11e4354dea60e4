//! Y4M interoperability with FFmpeg: FFmpeg reads what we write, and we read what it writes.
//!
//! Needs `ffmpeg` on PATH. Without it the tests fail when `CI` is set, and otherwise print
//! a loud skip line and pass.

use std::fs;
use std::io::{BufReader, Cursor};
use std::path::Path;

use together_mode::frame::{packed_len, ColorSpec, Frame, FrameRef, Matrix, PixelFormat, Range};
use together_mode::io::{Y4mColorspace, Y4mReader, Y4mWriter};

mod common;
use common::{ffmpeg, require_ffmpeg, TestDir};

/// FFmpeg's decode of `path` as raw planes, in the file's own pixel format.
fn ffmpeg_raw(path: &Path) -> Vec<u8> {
    ffmpeg(&["-i", path.to_str().unwrap(), "-f", "rawvideo", "-"])
}

fn noise(seed: u32, len: usize) -> Vec<u8> {
    common::noise(u64::from(seed), len)
}

#[test]
fn ffmpeg_reads_what_we_write() {
    if !require_ffmpeg() {
        return;
    }
    let dir = TestDir::new("ours");
    for (w, h, range) in [
        (66u32, 50u32, Range::Limited),
        (65, 49, Range::Limited),
        (64, 48, Range::Full),
        (3, 1, Range::Limited),
    ] {
        let color = ColorSpec {
            matrix: Matrix::Bt601,
            range,
        };
        let path = dir.join(format!("ours-{w}x{h}.y4m"));
        let mut wr = Y4mWriter::new(Vec::new(), w, h, (25, 1), color).unwrap();
        let mut expected = Vec::new();
        for i in 0..3 {
            let data = noise(w * 100 + h + i, packed_len(PixelFormat::I420, w, h));
            let f = FrameRef::from_packed(PixelFormat::I420, w, h, color, &data).unwrap();
            wr.write_frame(&f).unwrap();
            expected.extend_from_slice(&data);
        }
        fs::write(&path, wr.finish().unwrap()).unwrap();
        assert_eq!(ffmpeg_raw(&path), expected, "{w}x{h} {range:?}");
    }

    // Strided, cropped input views: FFmpeg sees exactly the cropped pixels.
    let big = {
        let data = noise(99, packed_len(PixelFormat::I420, 80, 60));
        Frame::from_ref(
            &FrameRef::from_packed(PixelFormat::I420, 80, 60, ColorSpec::BT601_LIMITED, &data)
                .unwrap(),
        )
        .unwrap()
    };
    let b = big.as_ref();
    let (w, h) = (35u32, 21u32);
    let planes = [
        b.plane(0).crop(10, 8, 35, 21).unwrap(),
        b.plane(1).crop(5, 4, 18, 11).unwrap(),
        b.plane(2).crop(5, 4, 18, 11).unwrap(),
    ];
    let view = FrameRef::new(PixelFormat::I420, w, h, ColorSpec::BT601_LIMITED, &planes).unwrap();
    let mut wr = Y4mWriter::new(Vec::new(), w, h, (30000, 1001), ColorSpec::BT601_LIMITED).unwrap();
    wr.write_frame(&view).unwrap();
    let path = dir.join("cropped.y4m");
    fs::write(&path, wr.finish().unwrap()).unwrap();
    assert_eq!(ffmpeg_raw(&path), view.to_packed());
}

/// Reads all frames of `bytes` with our reader.
fn read_ours(bytes: &[u8]) -> (together_mode::io::Y4mHeader, Vec<Frame>) {
    let mut r = Y4mReader::new(BufReader::new(Cursor::new(bytes))).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = r.read_frame().unwrap() {
        frames.push(f);
    }
    (r.header().clone(), frames)
}

/// Writes a 3-frame testsrc of `size` in `pix_fmt` with FFmpeg; returns the file's bytes
/// and FFmpeg's own raw decode of it.
fn ffmpeg_testsrc(dir: &TestDir, size: &str, pix_fmt: &str) -> (Vec<u8>, Vec<u8>) {
    let path = dir.join(format!("ff-{size}-{pix_fmt}.y4m"));
    let p = path.to_str().unwrap();
    let src = format!("testsrc=s={size}:r=25");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
        "-frames:v",
        "3",
        "-pix_fmt",
        pix_fmt,
        "-strict",
        "-1",
        p,
    ]);
    (fs::read(&path).unwrap(), ffmpeg_raw(&path))
}

#[test]
fn we_read_what_ffmpeg_writes_420() {
    if !require_ffmpeg() {
        return;
    }
    let dir = TestDir::new("ff420");
    for (size, w, h) in [("66x50", 66u32, 50u32), ("65x49", 65, 49)] {
        for (pix_fmt, range) in [("yuv420p", Range::Limited), ("yuvj420p", Range::Full)] {
            let (file, raw) = ffmpeg_testsrc(&dir, size, pix_fmt);
            let (header, frames) = read_ours(&file);
            assert_eq!((header.width, header.height, header.fps), (w, h, (25, 1)));
            assert_eq!(header.colorspace, Y4mColorspace::C420Jpeg);
            assert_eq!(header.range, Some(range), "{pix_fmt}");
            assert_eq!(frames.len(), 3);
            let ours: Vec<u8> = frames.iter().flat_map(|f| f.to_packed()).collect();
            assert_eq!(ours, raw, "{size} {pix_fmt}");
            assert!(frames.iter().all(|f| f.color().range == range));
        }
    }
}

#[test]
fn we_read_what_ffmpeg_writes_gray_and_444() {
    if !require_ffmpeg() {
        return;
    }
    let dir = TestDir::new("ffother");
    for (size, w, h) in [("66x50", 66usize, 50usize), ("65x49", 65, 49)] {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));

        let (file, raw) = ffmpeg_testsrc(&dir, size, "gray");
        let (header, frames) = read_ours(&file);
        assert_eq!(header.colorspace, Y4mColorspace::Mono);
        assert_eq!(frames.len(), 3);
        for (f, luma) in frames.iter().zip(raw.chunks_exact(w * h)) {
            let f = f.as_ref();
            assert_eq!(f.color().range, header.range.unwrap_or_default());
            assert_eq!(
                f.plane(0).rows().flatten().copied().collect::<Vec<_>>(),
                luma
            );
            assert!(f
                .plane(1)
                .rows()
                .chain(f.plane(2).rows())
                .flatten()
                .all(|&c| c == 128));
        }

        let (file, raw) = ffmpeg_testsrc(&dir, size, "yuv444p");
        let (header, frames) = read_ours(&file);
        assert_eq!(header.colorspace, Y4mColorspace::C444);
        assert_eq!(frames.len(), 3);
        for (f, planes) in frames.iter().zip(raw.chunks_exact(3 * w * h)) {
            let f = f.as_ref();
            let (y, chroma) = planes.split_at(w * h);
            assert_eq!(f.plane(0).rows().flatten().copied().collect::<Vec<_>>(), y);
            for (i, full) in chroma.chunks_exact(w * h).enumerate() {
                // Reference 2x2 average, rounded, over the samples each block has.
                let mut want = Vec::with_capacity(cw * ch);
                for cy in 0..ch {
                    for cx in 0..cw {
                        let (mut sum, mut n) = (0u32, 0u32);
                        for yy in 2 * cy..(2 * cy + 2).min(h) {
                            for xx in 2 * cx..(2 * cx + 2).min(w) {
                                sum += u32::from(full[yy * w + xx]);
                                n += 1;
                            }
                        }
                        want.push(((sum + n / 2) / n) as u8);
                    }
                }
                let got: Vec<u8> = f.plane(1 + i).rows().flatten().copied().collect();
                assert_eq!(got, want, "{size} 444 plane {}", 1 + i);
            }
        }
    }
}
