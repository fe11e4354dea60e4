//! PNG and JPEG stills in and out.

use std::fs::File;
use std::io::{BufWriter, Cursor, Read, Write};
use std::path::Path;

use ::image::codecs::png::{CompressionType, FilterType, PngEncoder};
use ::image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageFormat,
    ImageReader, Limits,
};

use crate::error::IoError;
use crate::frame::{convert, ColorSpec, Frame, FrameRef, PixelFormat, MAX_DIMENSION};

fn image_error(path: &Path, context: &str, e: ImageError) -> IoError {
    match e {
        ImageError::IoError(source) => IoError::Io {
            context: format!("{context} {}", path.display()),
            source,
        },
        other => IoError::Image {
            path: path.display().to_string(),
            reason: other.to_string(),
        },
    }
}

fn io_error(path: &Path, context: &str, source: std::io::Error) -> IoError {
    IoError::Io {
        context: format!("{context} {}", path.display()),
        source,
    }
}

/// Largest still image file [`load_image`] reads (bytes): 64 MiB, several times a
/// losslessly compressed 4K frame. Checked from the file's length before reading, and again
/// while reading (a file that grows, a pipe).
pub const MAX_IMAGE_FILE_BYTES: u64 = 64 << 20;

/// Reads all of `path`, refusing files over [`MAX_IMAGE_FILE_BYTES`] before reading them.
fn read_capped(path: &Path) -> Result<Vec<u8>, IoError> {
    let too_large = |size| IoError::FileTooLarge {
        path: path.display().to_string(),
        size,
        max: MAX_IMAGE_FILE_BYTES,
    };
    let file = File::open(path).map_err(|e| io_error(path, "opening", e))?;
    let len = file
        .metadata()
        .map_err(|e| io_error(path, "reading", e))?
        .len();
    if len > MAX_IMAGE_FILE_BYTES {
        return Err(too_large(len));
    }
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_IMAGE_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| io_error(path, "reading", e))?;
    if data.len() as u64 > MAX_IMAGE_FILE_BYTES {
        return Err(too_large(data.len() as u64));
    }
    Ok(data)
}

/// Width and height from a PNG's IHDR chunk (right after the signature), if it is there.
fn png_ihdr_size(data: &[u8]) -> Option<(u32, u32)> {
    if data.get(12..16)? != b"IHDR" {
        return None;
    }
    let be = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    Some((be(16)?, be(20)?))
}

/// Decodes a PNG or JPEG file into an RGBA [`Frame`] (straight alpha, opaque for JPEG).
///
/// A file over [`MAX_IMAGE_FILE_BYTES`] is refused ([`IoError::FileTooLarge`]) before it is
/// read. Then the dimensions are read from the image header: an image wider than `max.0` or
/// taller than `max.1` (or than [`MAX_DIMENSION`]) is refused with
/// [`IoError::ImageTooLarge`] before any pixel is decoded. The decoder also runs under
/// `image`'s own [`Limits`] for the same size.
pub fn load_image(path: &Path, max: (u32, u32)) -> Result<Frame, IoError> {
    let (max_w, max_h) = (max.0.min(MAX_DIMENSION), max.1.min(MAX_DIMENSION));
    // The JPEG decoder reads its whole input before it knows the size: bound that first.
    let data = read_capped(path)?;
    let mut reader = ImageReader::new(Cursor::new(&data[..]))
        .with_guessed_format()
        .map_err(|e| io_error(path, "reading", e))?;
    if !matches!(reader.format(), Some(ImageFormat::Png | ImageFormat::Jpeg)) {
        return Err(IoError::Image {
            path: path.display().to_string(),
            reason: "not a PNG or JPEG file".into(),
        });
    }
    let check_size = |width: u32, height: u32| {
        if width > max_w || height > max_h {
            return Err(IoError::ImageTooLarge {
                path: path.display().to_string(),
                width,
                height,
                max_width: max_w,
                max_height: max_h,
            });
        }
        Ok(())
    };
    // A PNG's size is in its IHDR chunk, which must come first: checked here, before the
    // decoder sizes its buffers from it (it refuses absurd sizes less tellingly).
    if reader.format() == Some(ImageFormat::Png) {
        if let Some((width, height)) = png_ihdr_size(&data) {
            check_size(width, height)?;
        }
    }
    // Decoded pixels of the largest allowed image at 16 bits x 4 channels, plus slack for
    // the decoders' working buffers.
    let mut limits = Limits::default();
    limits.max_alloc = Some(u64::from(max_w) * u64::from(max_h) * 8 + (16 << 20));
    reader.limits(limits.clone());
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| image_error(path, "reading", e))?;
    let (width, height) = decoder.dimensions();
    check_size(width, height)?;
    limits.max_image_width = Some(max_w);
    limits.max_image_height = Some(max_h);
    limits
        .reserve(decoder.total_bytes())
        .map_err(|e| image_error(path, "reading", e))?;
    decoder
        .set_limits(limits)
        .map_err(|e| image_error(path, "reading", e))?;
    let rgba = DynamicImage::from_decoder(decoder)
        .map_err(|e| image_error(path, "reading", e))?
        .into_rgba8();
    let view = FrameRef::from_packed(
        PixelFormat::Rgba,
        width,
        height,
        ColorSpec::default(),
        rgba.as_raw(),
    )?;
    Ok(Frame::from_ref(&view)?)
}

/// Writes `frame` as an 8-bit PNG: RGBA if its format has alpha, RGB otherwise. YUV frames
/// are converted with their colour tag. Encodes with [`CompressionType::Fast`].
/// On failure the partly written file is removed.
pub fn save_png(path: &Path, frame: &FrameRef<'_>) -> Result<(), IoError> {
    PngWriter::default().write(path, frame)
}

/// PNG writing with reusable scratch memory (for image sequences).
#[derive(Default)]
pub(crate) struct PngWriter {
    /// RGBA conversion target for YUV input; reallocated only when the size changes.
    rgba: Option<Frame>,
    /// Packed RGB(A) bytes handed to the encoder; grows to the largest frame, then is kept.
    packed: Vec<u8>,
    /// Write RGBA even for frames without alpha (opaque: alpha 255), not RGB.
    always_alpha: bool,
}

impl std::fmt::Debug for PngWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PngWriter")
            .field("rgba", &self.rgba)
            .field("packed_capacity", &self.packed.capacity())
            .field("always_alpha", &self.always_alpha)
            .finish()
    }
}

impl PngWriter {
    /// A writer of RGBA PNGs only: a frame's alpha, or opaque (255) for frames without.
    pub(crate) fn rgba() -> Self {
        Self {
            always_alpha: true,
            ..Self::default()
        }
    }

    pub(crate) fn write(&mut self, path: &Path, frame: &FrameRef<'_>) -> Result<(), IoError> {
        let (w, h) = (frame.width(), frame.height());
        let alpha = self.always_alpha || frame.format().has_alpha();
        let src = match frame.format() {
            PixelFormat::Rgba | PixelFormat::Bgra => *frame,
            _ => {
                let rgba = match &mut self.rgba {
                    Some(f) if f.width() == w && f.height() == h => f,
                    slot => slot.insert(Frame::new(PixelFormat::Rgba, w, h)?),
                };
                convert(frame, &mut rgba.as_mut())?;
                rgba.as_ref()
            }
        };
        let bgra = src.format() == PixelFormat::Bgra;
        let channels = if alpha { 4 } else { 3 };
        self.packed.clear();
        self.packed.reserve(w as usize * h as usize * channels);
        for row in src.plane(0).rows() {
            if alpha && !bgra {
                self.packed.extend_from_slice(row);
                continue;
            }
            for px in row.chunks_exact(4) {
                let (r, g, b, a) = if bgra {
                    (px[2], px[1], px[0], px[3])
                } else {
                    (px[0], px[1], px[2], px[3])
                };
                if alpha {
                    self.packed.extend_from_slice(&[r, g, b, a]);
                } else {
                    self.packed.extend_from_slice(&[r, g, b]);
                }
            }
        }
        let color = if alpha {
            ExtendedColorType::Rgba8
        } else {
            ExtendedColorType::Rgb8
        };
        let file = File::create(path).map_err(|e| io_error(path, "creating", e))?;
        let result = encode(path, file, &self.packed, w, h, color);
        if result.is_err() {
            // Best effort: the encode error is the one worth reporting.
            let _ = std::fs::remove_file(path);
        }
        result
    }
}

fn encode(
    path: &Path,
    file: File,
    data: &[u8],
    w: u32,
    h: u32,
    color: ExtendedColorType,
) -> Result<(), IoError> {
    let mut out = BufWriter::new(file);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(data, w, h, color)
        .map_err(|e| image_error(path, "writing", e))?;
    out.flush().map_err(|e| io_error(path, "writing", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FrameError;
    use crate::frame::{Matrix, Range};
    use crate::test_dir::TestDir;

    use crate::test_png;

    fn rgba_frame(w: u32, h: u32) -> Frame {
        let data: Vec<u8> = (0..w * h * 4).map(|i| (i * 37 % 251) as u8).collect();
        let r =
            FrameRef::from_packed(PixelFormat::Rgba, w, h, ColorSpec::default(), &data).unwrap();
        Frame::from_ref(&r).unwrap()
    }

    fn png_color_type(path: &Path) -> ::image::ColorType {
        ImageReader::open(path)
            .unwrap()
            .into_decoder()
            .unwrap()
            .color_type()
    }

    #[test]
    fn rgba_round_trip_is_exact() {
        let dir = TestDir::new("png-rgba");
        let p = dir.path().join("a.png");
        let f = rgba_frame(13, 7);
        save_png(&p, &f.as_ref()).unwrap();
        assert_eq!(png_color_type(&p), ::image::ColorType::Rgba8);
        let back = load_image(&p, (64, 64)).unwrap();
        assert_eq!(
            (back.format(), back.width(), back.height()),
            (PixelFormat::Rgba, 13, 7)
        );
        assert_eq!(back.to_packed(), f.to_packed());
    }

    #[test]
    fn bgra_is_swizzled() {
        let dir = TestDir::new("png-bgra");
        let p = dir.path().join("b.png");
        let data = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let f =
            FrameRef::from_packed(PixelFormat::Bgra, 2, 1, ColorSpec::default(), &data).unwrap();
        save_png(&p, &f).unwrap();
        assert_eq!(
            load_image(&p, (8, 8)).unwrap().to_packed(),
            vec![3, 2, 1, 4, 7, 6, 5, 8]
        );
    }

    #[test]
    fn yuv_is_saved_as_rgb_with_its_colour_tag() {
        let dir = TestDir::new("png-yuv");
        let p = dir.path().join("y.png");
        let color = ColorSpec {
            matrix: Matrix::Bt709,
            range: Range::Full,
        };
        let src = rgba_frame(9, 5);
        let mut tagged = src.clone();
        tagged.set_color(color);
        let yuv = tagged.as_ref().to_frame(PixelFormat::I420).unwrap();
        save_png(&p, &yuv.as_ref()).unwrap();
        assert_eq!(png_color_type(&p), ::image::ColorType::Rgb8);
        let back = load_image(&p, (9, 5)).unwrap();
        let expected = yuv.as_ref().to_frame(PixelFormat::Rgba).unwrap();
        let mut want = expected.to_packed();
        for px in want.chunks_exact_mut(4) {
            px[3] = 255;
        }
        assert_eq!(back.to_packed(), want);
    }

    #[test]
    fn jpeg_loads_as_opaque_rgba() {
        let dir = TestDir::new("jpeg");
        let p = dir.path().join("c.jpg");
        let rgb: Vec<u8> = (0..16 * 8 * 3).map(|i| (i % 256) as u8).collect();
        let file = File::create(&p).unwrap();
        ::image::codecs::jpeg::JpegEncoder::new(file)
            .write_image(&rgb, 16, 8, ExtendedColorType::Rgb8)
            .unwrap();
        let f = load_image(&p, (16, 8)).unwrap();
        assert_eq!(
            (f.format(), f.width(), f.height()),
            (PixelFormat::Rgba, 16, 8)
        );
        assert!(f.to_packed().chunks_exact(4).all(|px| px[3] == 255));
    }

    #[test]
    fn oversized_images_are_refused_before_decoding() {
        let dir = TestDir::new("png-big");
        let p = dir.path().join("big.png");
        save_png(&p, &rgba_frame(40, 20).as_ref()).unwrap();
        for max in [(39, 20), (40, 19)] {
            match load_image(&p, max) {
                Err(IoError::ImageTooLarge {
                    width: 40,
                    height: 20,
                    max_width,
                    max_height,
                    ..
                }) => assert_eq!((max_width, max_height), max),
                other => panic!("{other:?}"),
            }
        }
        assert!(load_image(&p, (40, 20)).is_ok());

        // A file claiming 100000 x 50000 with next to no data: refused from the header alone.
        let q = dir.path().join("bomb.png");
        std::fs::write(&q, test_png::claiming(100_000, 50_000)).unwrap();
        assert!(matches!(
            load_image(&q, (u32::MAX, u32::MAX)),
            Err(IoError::ImageTooLarge {
                width: 100_000,
                height: 50_000,
                max_width: MAX_DIMENSION,
                max_height: MAX_DIMENSION,
                ..
            })
        ));
        // Within bounds, the missing data is a decode error, not a panic.
        let r = dir.path().join("empty.png");
        std::fs::write(&r, test_png::claiming(4, 4)).unwrap();
        assert!(matches!(
            load_image(&r, (8, 8)),
            Err(IoError::Image { .. } | IoError::Io { .. })
        ));
    }

    #[test]
    fn bad_files_give_typed_errors() {
        let dir = TestDir::new("png-bad");
        let missing = dir.path().join("missing.png");
        assert!(matches!(
            load_image(&missing, (8, 8)),
            Err(IoError::Io { .. })
        ));
        let text = dir.path().join("text.png");
        std::fs::write(&text, b"hello, not a png").unwrap();
        assert!(matches!(
            load_image(&text, (8, 8)),
            Err(IoError::Image { .. })
        ));
        let gif = dir.path().join("x.gif");
        std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
        assert!(matches!(
            load_image(&gif, (8, 8)),
            Err(IoError::Image { .. })
        ));
        let zero = dir.path().join("zero.png");
        std::fs::write(&zero, test_png::claiming(0, 4)).unwrap();
        assert!(matches!(
            load_image(&zero, (8, 8)),
            Err(IoError::Image { .. } | IoError::Frame(FrameError::ZeroSize { .. }))
        ));
    }

    #[test]
    fn failed_save_leaves_no_file() {
        let dir = TestDir::new("png-fail");
        let p = dir.path().join("no-such-dir").join("x.png");
        assert!(matches!(
            save_png(&p, &rgba_frame(2, 2).as_ref()),
            Err(IoError::Io { .. })
        ));
        assert!(!p.exists());
    }
}
