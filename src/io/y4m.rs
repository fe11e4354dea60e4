//! A small YUV4MPEG2 (Y4M) reader and writer.
//!
//! A stream is one header line, `YUV4MPEG2 W<w> H<h> F<n>:<d> [I<i>] [A<n>:<d>] [C<tag>] [X…]`,
//! then per frame a `FRAME[ params]` line and the planes, tightly packed, Y then U then V.
//! The reader turns every supported colourspace into I420 [`Frame`]s; the writer writes
//! I420 rows straight from strided views, as FFmpeg writes them.
//!
//! Every line (header or `FRAME`) is limited to [`MAX_LINE_LEN`] bytes, and sizes are
//! checked against [`MAX_DIMENSION`] before anything is allocated.

use std::io::{self, BufRead, ErrorKind, Read, Write};

use crate::error::{FrameError, IoError};
use crate::frame::{
    convert, ColorSpec, Frame, FrameRef, Matrix, PixelFormat, Range, MAX_DIMENSION,
};

/// Longest header or `FRAME` line accepted, in bytes, not counting the newline.
pub const MAX_LINE_LEN: usize = 4096;

const SIGNATURE: &[u8] = b"YUV4MPEG2";

/// Longest excerpt of a bad line kept in an error message.
const EXCERPT_LEN: usize = 64;

/// Field order of the frames (`I` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interlace {
    /// `Ip`.
    Progressive,
    /// `It`: top field first.
    TopFirst,
    /// `Ib`: bottom field first.
    BottomFirst,
    /// `Im`: mixed, signalled per frame.
    Mixed,
    /// `I?`, or no `I` tag.
    Unknown,
}

/// Chroma layout (`C` tag) of the colourspaces this reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Y4mColorspace {
    /// `C420jpeg`: 4:2:0, chroma centred between luma samples (the default without a `C` tag).
    C420Jpeg,
    /// `C420mpeg2`: 4:2:0, chroma co-sited horizontally.
    C420Mpeg2,
    /// `C420paldv`: 4:2:0, PAL-DV siting.
    C420Paldv,
    /// `C420`: 4:2:0, siting unspecified.
    C420,
    /// `C444`: no chroma subsampling.
    C444,
    /// `Cmono`: luma only.
    Mono,
}

impl Y4mColorspace {
    fn parse(tag: &str) -> Option<Self> {
        Some(match tag {
            "420jpeg" => Self::C420Jpeg,
            "420mpeg2" => Self::C420Mpeg2,
            "420paldv" => Self::C420Paldv,
            "420" => Self::C420,
            "444" => Self::C444,
            "mono" => Self::Mono,
            _ => return None,
        })
    }
}

/// A parsed Y4M stream header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Y4mHeader {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frame rate as numerator, denominator (both non-zero).
    pub fps: (u32, u32),
    /// Field order.
    pub interlace: Interlace,
    /// Pixel aspect ratio; `(0, 0)` when unknown or absent.
    pub aspect: (u32, u32),
    /// Chroma layout.
    pub colorspace: Y4mColorspace,
    /// `XCOLORRANGE=LIMITED|FULL`, if present.
    pub range: Option<Range>,
    /// The other `X` tags, verbatim (including the leading `X`), in stream order.
    pub extra: Vec<String>,
}

impl Y4mHeader {
    /// Bytes of one frame's planes (excluding the `FRAME` line). Saturates on absurd sizes.
    pub fn frame_bytes(&self) -> usize {
        let (w, h) = (self.width as usize, self.height as usize);
        let luma = w.saturating_mul(h);
        let chroma = w.div_ceil(2).saturating_mul(h.div_ceil(2));
        match self.colorspace {
            Y4mColorspace::Mono => luma,
            Y4mColorspace::C444 => luma.saturating_mul(3),
            _ => luma.saturating_add(chroma.saturating_mul(2)),
        }
    }

    /// The colour tag of the frames this header describes: BT.601, range from the header
    /// (limited if absent).
    pub fn color(&self) -> ColorSpec {
        ColorSpec {
            matrix: Matrix::Bt601,
            range: self.range.unwrap_or_default(),
        }
    }

    fn parse(line: &[u8]) -> Result<Self, IoError> {
        let rest = line.strip_prefix(SIGNATURE).ok_or(IoError::BadSignature)?;
        if !(rest.is_empty() || rest.starts_with(b" ")) {
            return Err(IoError::BadSignature);
        }
        let (mut width, mut height, mut fps) = (None, None, None);
        let mut header = Y4mHeader {
            width: 0,
            height: 0,
            fps: (0, 0),
            interlace: Interlace::Unknown,
            aspect: (0, 0),
            colorspace: Y4mColorspace::C420Jpeg,
            range: None,
            extra: Vec::new(),
        };
        for token in rest.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
            let text = std::str::from_utf8(token).map_err(|_| bad_tag("header tag", token))?;
            let mut chars = text.chars();
            let tag = chars.next();
            let value = chars.as_str();
            match tag {
                Some('W') => width = Some(parse_dimension(value, "width")?),
                Some('H') => height = Some(parse_dimension(value, "height")?),
                Some('F') => {
                    let (n, d) = parse_ratio(value, "frame rate")?;
                    if n == 0 || d == 0 {
                        return Err(bad_tag("frame rate", token));
                    }
                    fps = Some((n, d));
                }
                Some('I') => {
                    header.interlace = match value {
                        "p" => Interlace::Progressive,
                        "t" => Interlace::TopFirst,
                        "b" => Interlace::BottomFirst,
                        "m" => Interlace::Mixed,
                        "?" => Interlace::Unknown,
                        _ => return Err(bad_tag("interlacing", token)),
                    }
                }
                Some('A') => header.aspect = parse_ratio(value, "aspect ratio")?,
                Some('C') => {
                    header.colorspace = Y4mColorspace::parse(value)
                        .ok_or_else(|| IoError::UnsupportedColorspace(value.to_owned()))?;
                }
                Some('X') => match value.strip_prefix("COLORRANGE=") {
                    Some("LIMITED") => header.range = Some(Range::Limited),
                    Some("FULL") => header.range = Some(Range::Full),
                    Some(_) => return Err(bad_tag("colour range", token)),
                    None => header.extra.push(text.to_owned()),
                },
                _ => return Err(bad_tag("header tag", token)),
            }
        }
        let width = width.ok_or(IoError::MissingTag("W"))?;
        let height = height.ok_or(IoError::MissingTag("H"))?;
        header.fps = fps.ok_or(IoError::MissingTag("F"))?;
        let (width, height) = check_dimensions(width, height)?;
        header.width = width;
        header.height = height;
        Ok(header)
    }
}

/// Checks a frame size against zero and [`MAX_DIMENSION`].
pub(crate) fn check_dimensions(width: u64, height: u64) -> Result<(u32, u32), FrameError> {
    let max = u64::from(MAX_DIMENSION);
    if width > max || height > max {
        return Err(FrameError::TooLarge { width, height });
    }
    // Both fit in u32 now.
    let (w, h) = (width as u32, height as u32);
    if w == 0 || h == 0 {
        return Err(FrameError::ZeroSize {
            width: w,
            height: h,
        });
    }
    Ok((w, h))
}

fn excerpt(bytes: &[u8]) -> String {
    let cut = bytes.get(..EXCERPT_LEN).unwrap_or(bytes);
    String::from_utf8_lossy(cut).into_owned()
}

fn bad_tag(what: &'static str, bytes: &[u8]) -> IoError {
    IoError::BadTag {
        what,
        value: excerpt(bytes),
    }
}

fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Saturate absurdly long numbers: they are rejected as too large, not as malformed.
    Some(s.parse::<u64>().unwrap_or(u64::MAX))
}

fn parse_dimension(value: &str, what: &'static str) -> Result<u64, IoError> {
    parse_number(value).ok_or_else(|| bad_tag(what, value.as_bytes()))
}

fn parse_ratio(value: &str, what: &'static str) -> Result<(u32, u32), IoError> {
    let bad = || bad_tag(what, value.as_bytes());
    let (n, d) = value.split_once(':').ok_or_else(bad)?;
    let n = parse_number(n)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(bad)?;
    let d = parse_number(d)
        .and_then(|d| u32::try_from(d).ok())
        .ok_or_else(bad)?;
    Ok((n, d))
}

/// How [`read_line`] ended.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// End of stream before any byte.
    Eof,
    /// A full line; the newline was consumed and is not in the buffer.
    Complete,
    /// End of stream after some bytes but before a newline.
    Unterminated,
    /// More than the limit before a newline; `limit + 1` bytes are in the buffer.
    TooLong,
}

/// Reads one `\n`-terminated line of at most `limit` bytes into `buf` (cleared first).
/// Never buffers more than `limit + 1` bytes.
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
    buf.clear();
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if buf.is_empty() {
                Line::Eof
            } else {
                Line::Unterminated
            });
        }
        let room = (limit + 1).saturating_sub(buf.len());
        let window = avail.get(..room).unwrap_or(avail);
        if let Some(pos) = window.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&window[..pos]);
            r.consume(pos + 1);
            return Ok(Line::Complete);
        }
        let n = window.len();
        buf.extend_from_slice(window);
        r.consume(n);
        if buf.len() > limit {
            return Ok(Line::TooLong);
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Reads a Y4M stream frame by frame into I420 [`Frame`]s.
///
/// `C420*` streams are read as they are; `C444` chroma is averaged over 2x2 blocks (rounded);
/// `Cmono` gets neutral chroma (128). Frames are tagged BT.601 with the header's range
/// (limited if absent). After an error the stream position is unspecified: stop reading.
#[derive(Debug)]
pub struct Y4mReader<R: BufRead> {
    inner: R,
    header: Y4mHeader,
    frame_bytes: usize,
    frames_read: u64,
    /// Holds one `FRAME` line; at most `MAX_LINE_LEN + 1` bytes, kept across frames.
    line: Vec<u8>,
    /// Two full-width chroma rows for C444 input; allocated on the first C444 frame.
    rows444: Vec<u8>,
}

impl<R: BufRead> Y4mReader<R> {
    /// Reads and validates the stream header.
    pub fn new(mut inner: R) -> Result<Self, IoError> {
        let mut line = Vec::new();
        let end = read_line(&mut inner, &mut line, MAX_LINE_LEN).map_err(|source| IoError::Io {
            context: "reading the Y4M header".into(),
            source,
        })?;
        let signature_ok = line.len() >= SIGNATURE.len()
            && line.starts_with(SIGNATURE)
            && line.get(SIGNATURE.len()).is_none_or(|&b| b == b' ');
        if !signature_ok {
            return Err(IoError::BadSignature);
        }
        match end {
            Line::Complete => {}
            Line::TooLong => return Err(IoError::HeaderTooLong(MAX_LINE_LEN)),
            Line::Eof | Line::Unterminated => {
                return Err(IoError::Io {
                    context: "reading the Y4M header".into(),
                    source: io::Error::new(ErrorKind::UnexpectedEof, "header line has no newline"),
                })
            }
        }
        let header = Y4mHeader::parse(&line)?;
        Ok(Self {
            inner,
            frame_bytes: header.frame_bytes(),
            header,
            frames_read: 0,
            line,
            rows444: Vec::new(),
        })
    }

    /// The stream header.
    pub fn header(&self) -> &Y4mHeader {
        &self.header
    }

    /// Frames read so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// The next frame as a new I420 frame, or `None` at a clean end of stream.
    pub fn read_frame(&mut self) -> Result<Option<Frame>, IoError> {
        if !self.read_frame_line()? {
            return Ok(None);
        }
        let mut frame = Frame::new(PixelFormat::I420, self.header.width, self.header.height)?;
        frame.set_color(self.header.color());
        self.read_planes(&mut frame)?;
        self.frames_read += 1;
        Ok(Some(frame))
    }

    /// Reads the next frame into `frame`, reusing its storage when it already is an I420
    /// frame of the stream's size (otherwise it is reallocated). Returns `false` at a clean
    /// end of stream, leaving `frame` untouched.
    pub fn read_frame_into(&mut self, frame: &mut Frame) -> Result<bool, IoError> {
        if !self.read_frame_line()? {
            return Ok(false);
        }
        let (w, h) = (self.header.width, self.header.height);
        if frame.format() != PixelFormat::I420 || frame.width() != w || frame.height() != h {
            *frame = Frame::new(PixelFormat::I420, w, h)?;
        }
        frame.set_color(self.header.color());
        self.read_planes(frame)?;
        self.frames_read += 1;
        Ok(true)
    }

    /// Reads a `FRAME[ params]` line; `false` at a clean end of stream.
    fn read_frame_line(&mut self) -> Result<bool, IoError> {
        let index = self.frames_read;
        let end = read_line(&mut self.inner, &mut self.line, MAX_LINE_LEN).map_err(|source| {
            IoError::Io {
                context: format!("reading Y4M frame {index}"),
                source,
            }
        })?;
        let line = self.line.as_slice();
        let well_formed = line == b"FRAME" || line.starts_with(b"FRAME ");
        match end {
            Line::Eof => Ok(false),
            Line::Complete if well_formed => Ok(true),
            Line::Unterminated if well_formed || b"FRAME".starts_with(line) => {
                Err(IoError::Truncated {
                    index,
                    expected: self.frame_bytes,
                    found: 0,
                })
            }
            Line::Complete | Line::Unterminated | Line::TooLong => {
                Err(bad_tag("frame header", line))
            }
        }
    }

    fn read_planes(&mut self, frame: &mut Frame) -> Result<(), IoError> {
        let index = self.frames_read;
        let expected = self.frame_bytes;
        let mut got = 0usize;
        let mut fill = |r: &mut R, buf: &mut [u8]| -> Result<(), IoError> {
            let n = read_full(r, buf).map_err(|source| IoError::Io {
                context: format!("reading Y4M frame {index}"),
                source,
            })?;
            got += n;
            if n < buf.len() {
                return Err(IoError::Truncated {
                    index,
                    expected,
                    found: got,
                });
            }
            Ok(())
        };
        let mut dst = frame.as_mut();
        for row in dst.plane_mut(0).rows_mut() {
            fill(&mut self.inner, row)?;
        }
        match self.header.colorspace {
            Y4mColorspace::Mono => {
                dst.plane_mut(1).fill(128);
                dst.plane_mut(2).fill(128);
            }
            Y4mColorspace::C444 => {
                let w = self.header.width as usize;
                let h = self.header.height as usize;
                // w <= MAX_DIMENSION was checked when the header was parsed.
                self.rows444.resize(2 * w, 0);
                let (a, b) = self.rows444.split_at_mut(w);
                for plane in 1..3 {
                    let mut out = dst.plane_mut(plane);
                    for (cy, out_row) in out.rows_mut().enumerate() {
                        fill(&mut self.inner, a)?;
                        let pair = 2 * cy + 1 < h;
                        if pair {
                            fill(&mut self.inner, b)?;
                        }
                        average_444_rows(a, pair.then_some(&*b), out_row);
                    }
                }
            }
            Y4mColorspace::C420Jpeg
            | Y4mColorspace::C420Mpeg2
            | Y4mColorspace::C420Paldv
            | Y4mColorspace::C420 => {
                for plane in 1..3 {
                    for row in dst.plane_mut(plane).rows_mut() {
                        fill(&mut self.inner, row)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Averages 2x2 blocks of one or two full-resolution chroma rows into one subsampled row,
/// rounding to nearest; edge blocks of odd sizes average the samples they have.
fn average_444_rows(a: &[u8], b: Option<&[u8]>, out: &mut [u8]) {
    match b {
        Some(b) => {
            for (o, (pa, pb)) in out.iter_mut().zip(a.chunks(2).zip(b.chunks(2))) {
                let n = (pa.len() + pb.len()) as u32;
                let sum: u32 = pa.iter().chain(pb).map(|&v| u32::from(v)).sum();
                *o = ((sum + n / 2) / n) as u8;
            }
        }
        None => {
            for (o, pa) in out.iter_mut().zip(a.chunks(2)) {
                let n = pa.len() as u32;
                let sum: u32 = pa.iter().map(|&v| u32::from(v)).sum();
                *o = ((sum + n / 2) / n) as u8;
            }
        }
    }
}

/// Writes a Y4M stream of I420 frames (`C420jpeg`, as FFmpeg writes `yuv420p`).
///
/// Rows go straight from the frame's strided views to the writer, one `write_all` per row:
/// give it a buffered writer. Other formats are converted into a scratch frame the writer
/// keeps, so steady-state writing allocates nothing.
#[derive(Debug)]
pub struct Y4mWriter<W: Write> {
    inner: W,
    width: u32,
    height: u32,
    color: ColorSpec,
    frames_written: u64,
    /// Conversion target for non-I420 input; allocated on the first such frame, then kept.
    scratch: Option<Frame>,
}

impl<W: Write> Y4mWriter<W> {
    /// Writes the stream header for `width x height` frames at `fps` (numerator,
    /// denominator) with `color`'s range in `XCOLORRANGE`.
    pub fn new(
        mut inner: W,
        width: u32,
        height: u32,
        fps: (u32, u32),
        color: ColorSpec,
    ) -> Result<Self, IoError> {
        let (width, height) = check_dimensions(width.into(), height.into())?;
        if fps.0 == 0 || fps.1 == 0 {
            return Err(IoError::BadTag {
                what: "frame rate",
                value: format!("{}:{}", fps.0, fps.1),
            });
        }
        let range = match color.range {
            Range::Limited => "LIMITED",
            Range::Full => "FULL",
        };
        let header = format!(
            "YUV4MPEG2 W{width} H{height} F{}:{} Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE={range}\n",
            fps.0, fps.1
        );
        inner
            .write_all(header.as_bytes())
            .map_err(|source| IoError::Io {
                context: "writing the Y4M header".into(),
                source,
            })?;
        Ok(Self {
            inner,
            width,
            height,
            color,
            frames_written: 0,
            scratch: None,
        })
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Writes one frame. Its size must match the stream's; a non-I420 frame is converted
    /// (RGB with the writer's colour tag, YUV formats by copying planes).
    pub fn write_frame(&mut self, frame: &FrameRef<'_>) -> Result<(), IoError> {
        let (w, h) = (self.width, self.height);
        if (frame.width(), frame.height()) != (w, h) {
            return Err(FrameError::SizeMismatch {
                expected: (w, h),
                found: (frame.width(), frame.height()),
            }
            .into());
        }
        let src = if frame.format() == PixelFormat::I420 {
            *frame
        } else {
            let scratch = match &mut self.scratch {
                Some(s) => s,
                None => self.scratch.insert(Frame::new(PixelFormat::I420, w, h)?),
            };
            let tagged = FrameRef::new(frame.format(), w, h, self.color, frame.planes())?;
            convert(&tagged, &mut scratch.as_mut())?;
            scratch.as_ref()
        };
        let index = self.frames_written;
        let io_err = |source| IoError::Io {
            context: format!("writing Y4M frame {index}"),
            source,
        };
        self.inner.write_all(b"FRAME\n").map_err(io_err)?;
        for plane in src.planes() {
            for row in plane.rows() {
                self.inner.write_all(row).map_err(io_err)?;
            }
        }
        self.frames_written += 1;
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, IoError> {
        self.inner.flush().map_err(|source| IoError::Io {
            context: "flushing the Y4M stream".into(),
            source,
        })?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PlaneRef;
    use std::io::Cursor;

    /// Deterministic pseudo-random bytes.
    fn noise(seed: u32, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        fastrand::Rng::with_seed(u64::from(seed)).fill(&mut v);
        v
    }

    fn noisy_i420(w: u32, h: u32, seed: u32) -> Frame {
        let data = noise(seed, crate::frame::packed_len(PixelFormat::I420, w, h));
        let r = FrameRef::from_packed(PixelFormat::I420, w, h, ColorSpec::BT601_LIMITED, &data)
            .unwrap();
        Frame::from_ref(&r).unwrap()
    }

    fn header_line(tags: &str) -> Vec<u8> {
        format!("YUV4MPEG2 {tags}\n").into_bytes()
    }

    fn read_all(bytes: &[u8]) -> Result<(Y4mHeader, Vec<Frame>), IoError> {
        let mut r = Y4mReader::new(Cursor::new(bytes))?;
        let mut frames = Vec::new();
        while let Some(f) = r.read_frame()? {
            frames.push(f);
        }
        Ok((r.header().clone(), frames))
    }

    #[test]
    fn round_trip_is_bit_exact_for_odd_and_even_sizes() {
        for &(w, h) in &[
            (1, 1),
            (2, 2),
            (3, 5),
            (7, 1),
            (1, 9),
            (64, 48),
            (65, 49),
            (66, 50),
            (33, 17),
        ] {
            for range in [Range::Limited, Range::Full] {
                let color = ColorSpec {
                    matrix: Matrix::Bt601,
                    range,
                };
                let frames: Vec<Frame> =
                    (0..3).map(|i| noisy_i420(w, h, w * 1000 + h + i)).collect();
                let mut wr = Y4mWriter::new(Vec::new(), w, h, (30, 1), color).unwrap();
                for f in &frames {
                    wr.write_frame(&f.as_ref()).unwrap();
                }
                assert_eq!(wr.frames_written(), 3);
                let bytes = wr.finish().unwrap();
                let (header, back) = read_all(&bytes).unwrap();
                assert_eq!((header.width, header.height, header.fps), (w, h, (30, 1)));
                assert_eq!(header.range, Some(range));
                assert_eq!(back.len(), 3);
                for (a, b) in frames.iter().zip(&back) {
                    assert_eq!(b.format(), PixelFormat::I420);
                    assert_eq!(b.color(), color);
                    assert_eq!(a.to_packed(), b.to_packed(), "{w}x{h}");
                }
            }
        }
    }

    #[test]
    fn round_trip_of_strided_cropped_views() {
        // A 40x30 frame; write the 13x9 region at (4, 6) (even offsets keep chroma aligned).
        let big = noisy_i420(40, 30, 7);
        let b = big.as_ref();
        let (x, y, w, h) = (4usize, 6usize, 13u32, 9u32);
        let (cw, ch) = ((w as usize).div_ceil(2), (h as usize).div_ceil(2));
        let planes = [
            b.plane(0).crop(x, y, w as usize, h as usize).unwrap(),
            b.plane(1).crop(x / 2, y / 2, cw, ch).unwrap(),
            b.plane(2).crop(x / 2, y / 2, cw, ch).unwrap(),
        ];
        assert!(planes[0].stride() > planes[0].width());
        let view =
            FrameRef::new(PixelFormat::I420, w, h, ColorSpec::BT601_LIMITED, &planes).unwrap();
        let mut wr = Y4mWriter::new(Vec::new(), w, h, (25, 1), ColorSpec::BT601_LIMITED).unwrap();
        wr.write_frame(&view).unwrap();
        let bytes = wr.finish().unwrap();
        let (_, back) = read_all(&bytes).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(view.to_packed(), back[0].to_packed());

        // A hand-made strided view over a plain buffer (stride 11 for a 5-pixel-wide frame).
        let (w, h, stride, cstride) = (5u32, 3u32, 11usize, 7usize);
        let ybuf = noise(1, stride * 3);
        let ubuf = noise(2, cstride * 2);
        let vbuf = noise(3, cstride * 2);
        let planes = [
            PlaneRef::new(&ybuf, 5, 3, stride).unwrap(),
            PlaneRef::new(&ubuf, 3, 2, cstride).unwrap(),
            PlaneRef::new(&vbuf, 3, 2, cstride).unwrap(),
        ];
        let view =
            FrameRef::new(PixelFormat::I420, w, h, ColorSpec::BT601_LIMITED, &planes).unwrap();
        let mut wr = Y4mWriter::new(Vec::new(), w, h, (25, 1), ColorSpec::BT601_LIMITED).unwrap();
        wr.write_frame(&view).unwrap();
        let bytes = wr.finish().unwrap();
        let (_, back) = read_all(&bytes).unwrap();
        assert_eq!(view.to_packed(), back[0].to_packed());
    }

    #[test]
    fn writer_header_is_ffmpeg_style() {
        let wr =
            Y4mWriter::new(Vec::new(), 64, 48, (30000, 1001), ColorSpec::BT601_LIMITED).unwrap();
        assert_eq!(
            wr.finish().unwrap(),
            b"YUV4MPEG2 W64 H48 F30000:1001 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED\n"
        );
        let full = ColorSpec {
            matrix: Matrix::Bt709,
            range: Range::Full,
        };
        let wr = Y4mWriter::new(Vec::new(), 3, 5, (25, 1), full).unwrap();
        assert_eq!(
            wr.finish().unwrap(),
            b"YUV4MPEG2 W3 H5 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=FULL\n"
        );
    }

    #[test]
    fn writer_rejects_bad_parameters_and_sizes() {
        let c = ColorSpec::BT601_LIMITED;
        assert!(matches!(
            Y4mWriter::new(Vec::new(), 0, 4, (25, 1), c),
            Err(IoError::Frame(FrameError::ZeroSize { .. }))
        ));
        assert!(matches!(
            Y4mWriter::new(Vec::new(), MAX_DIMENSION + 1, 4, (25, 1), c),
            Err(IoError::Frame(FrameError::TooLarge { .. }))
        ));
        assert!(matches!(
            Y4mWriter::new(Vec::new(), 4, 4, (0, 1), c),
            Err(IoError::BadTag {
                what: "frame rate",
                ..
            })
        ));
        assert!(matches!(
            Y4mWriter::new(Vec::new(), 4, 4, (25, 0), c),
            Err(IoError::BadTag {
                what: "frame rate",
                ..
            })
        ));
        let mut wr = Y4mWriter::new(Vec::new(), 4, 4, (25, 1), c).unwrap();
        let other = noisy_i420(4, 6, 1);
        assert!(matches!(
            wr.write_frame(&other.as_ref()),
            Err(IoError::Frame(FrameError::SizeMismatch {
                expected: (4, 4),
                found: (4, 6)
            }))
        ));
    }

    #[test]
    fn writer_converts_other_formats_with_its_colour() {
        let (w, h) = (9u32, 7u32);
        let rgba_data = noise(5, (w * h * 4) as usize);
        let rgba = FrameRef::from_packed(PixelFormat::Rgba, w, h, ColorSpec::default(), &rgba_data)
            .unwrap();
        let full = ColorSpec {
            matrix: Matrix::Bt709,
            range: Range::Full,
        };
        let mut wr = Y4mWriter::new(Vec::new(), w, h, (25, 1), full).unwrap();
        wr.write_frame(&rgba).unwrap();
        let nv12 = noisy_i420(w, h, 9)
            .as_ref()
            .to_frame(PixelFormat::Nv12)
            .unwrap();
        wr.write_frame(&nv12.as_ref()).unwrap();
        let bytes = wr.finish().unwrap();
        let (_, back) = read_all(&bytes).unwrap();
        assert_eq!(back.len(), 2);

        let tagged = FrameRef::from_packed(PixelFormat::Rgba, w, h, full, &rgba_data).unwrap();
        let expected = tagged.to_frame(PixelFormat::I420).unwrap();
        assert_eq!(expected.to_packed(), back[0].to_packed());
        assert_eq!(noisy_i420(w, h, 9).to_packed(), back[1].to_packed());
    }

    #[derive(Debug)]
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(ErrorKind::BrokenPipe, "closed"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::new(ErrorKind::BrokenPipe, "closed"))
        }
    }

    #[test]
    fn broken_pipe_is_an_io_error() {
        let e = Y4mWriter::new(Broken, 2, 2, (25, 1), ColorSpec::default()).unwrap_err();
        assert!(
            matches!(e, IoError::Io { ref source, .. } if source.kind() == ErrorKind::BrokenPipe)
        );
    }

    #[test]
    fn header_errors_are_typed() {
        type Check = fn(&IoError) -> bool;
        let long_x = format!("W2 H2 F1:1 X{}", "a".repeat(MAX_LINE_LEN));
        let cases: &[(&str, Vec<u8>, Check)] = &[
            ("empty", b"".to_vec(), |e| {
                matches!(e, IoError::BadSignature)
            }),
            ("wrong magic", b"YUV4MPEG3 W2 H2 F1:1\n".to_vec(), |e| {
                matches!(e, IoError::BadSignature)
            }),
            ("no space", b"YUV4MPEG2W2 H2 F1:1\n".to_vec(), |e| {
                matches!(e, IoError::BadSignature)
            }),
            ("png", b"\x89PNG\r\n\x1a\n".to_vec(), |e| {
                matches!(e, IoError::BadSignature)
            }),
            ("too long", header_line(&long_x), |e| {
                matches!(e, IoError::HeaderTooLong(MAX_LINE_LEN))
            }),
            (
                "no newline",
                b"YUV4MPEG2 W2 H2 F1:1".to_vec(),
                |e| matches!(e, IoError::Io { source, .. } if source.kind() == ErrorKind::UnexpectedEof),
            ),
            ("no tags", b"YUV4MPEG2\n".to_vec(), |e| {
                matches!(e, IoError::MissingTag("W"))
            }),
            ("blank tags", b"YUV4MPEG2 \n".to_vec(), |e| {
                matches!(e, IoError::MissingTag("W"))
            }),
            ("missing W", header_line("H2 F1:1"), |e| {
                matches!(e, IoError::MissingTag("W"))
            }),
            ("missing H", header_line("W2 F1:1"), |e| {
                matches!(e, IoError::MissingTag("H"))
            }),
            ("missing F", header_line("W2 H2"), |e| {
                matches!(e, IoError::MissingTag("F"))
            }),
            ("zero width", header_line("W0 H2 F1:1"), |e| {
                matches!(
                    e,
                    IoError::Frame(FrameError::ZeroSize {
                        width: 0,
                        height: 2
                    })
                )
            }),
            ("zero height", header_line("W2 H0 F1:1"), |e| {
                matches!(
                    e,
                    IoError::Frame(FrameError::ZeroSize {
                        width: 2,
                        height: 0
                    })
                )
            }),
            ("width too large", header_line("W16385 H2 F1:1"), |e| {
                matches!(
                    e,
                    IoError::Frame(FrameError::TooLarge {
                        width: 16385,
                        height: 2
                    })
                )
            }),
            (
                "height too large",
                header_line("W2 H99999999999 F1:1"),
                |e| {
                    matches!(
                        e,
                        IoError::Frame(FrameError::TooLarge {
                            height: 99999999999,
                            ..
                        })
                    )
                },
            ),
            (
                "huge number",
                header_line("W2 H999999999999999999999999 F1:1"),
                |e| matches!(e, IoError::Frame(FrameError::TooLarge { .. })),
            ),
            ("zero fps num", header_line("W2 H2 F0:1"), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "frame rate",
                        ..
                    }
                )
            }),
            ("zero fps den", header_line("W2 H2 F25:0"), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "frame rate",
                        ..
                    }
                )
            }),
            ("fps no colon", header_line("W2 H2 F25"), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "frame rate",
                        ..
                    }
                )
            }),
            ("fps text", header_line("W2 H2 Fab:1"), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "frame rate",
                        ..
                    }
                )
            }),
            ("fps overflow", header_line("W2 H2 F4294967296:1"), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "frame rate",
                        ..
                    }
                )
            }),
            ("width text", header_line("Wabc H2 F1:1"), |e| {
                matches!(e, IoError::BadTag { what: "width", .. })
            }),
            ("width signed", header_line("W+2 H2 F1:1"), |e| {
                matches!(e, IoError::BadTag { what: "width", .. })
            }),
            ("height empty", header_line("W2 H F1:1"), |e| {
                matches!(e, IoError::BadTag { what: "height", .. })
            }),
            ("aspect", header_line("W2 H2 F1:1 A1"), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "aspect ratio",
                        ..
                    }
                )
            }),
            ("interlace", header_line("W2 H2 F1:1 Ix"), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "interlacing",
                        ..
                    }
                )
            }),
            ("range", header_line("W2 H2 F1:1 XCOLORRANGE=TV"), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "colour range",
                        ..
                    }
                )
            }),
            ("unknown tag", header_line("W2 H2 F1:1 Z9"), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "header tag",
                        ..
                    }
                )
            }),
            ("non-utf8", b"YUV4MPEG2 W2 H2 F1:1 X\xff\n".to_vec(), |e| {
                matches!(
                    e,
                    IoError::BadTag {
                        what: "header tag",
                        ..
                    }
                )
            }),
            (
                "C422",
                header_line("W2 H2 F1:1 C422"),
                |e| matches!(e, IoError::UnsupportedColorspace(c) if c == "422"),
            ),
            (
                "C411",
                header_line("W2 H2 F1:1 C411"),
                |e| matches!(e, IoError::UnsupportedColorspace(c) if c == "411"),
            ),
            (
                "C444alpha",
                header_line("W2 H2 F1:1 C444alpha"),
                |e| matches!(e, IoError::UnsupportedColorspace(c) if c == "444alpha"),
            ),
            (
                "C420p10",
                header_line("W2 H2 F1:1 C420p10"),
                |e| matches!(e, IoError::UnsupportedColorspace(c) if c == "420p10"),
            ),
            (
                "Cmono16",
                header_line("W2 H2 F1:1 Cmono16"),
                |e| matches!(e, IoError::UnsupportedColorspace(c) if c == "mono16"),
            ),
        ];
        for (name, bytes, check) in cases {
            match Y4mReader::new(Cursor::new(bytes)) {
                Ok(r) => panic!("{name}: accepted, header {:?}", r.header()),
                Err(e) => assert!(check(&e), "{name}: wrong error {e:?}"),
            }
        }
    }

    #[test]
    fn header_line_limit_is_4096_bytes() {
        for (len, ok) in [
            (MAX_LINE_LEN - 1, true),
            (MAX_LINE_LEN, true),
            (MAX_LINE_LEN + 1, false),
        ] {
            let mut line = b"YUV4MPEG2 W2 H2 F1:1 X".to_vec();
            line.resize(len, b'a');
            assert_eq!(line.len(), len);
            line.push(b'\n');
            let r = Y4mReader::new(Cursor::new(&line));
            match (ok, r) {
                (true, Ok(r)) => assert_eq!(r.header().extra[0].len(), len - 21),
                (false, Err(IoError::HeaderTooLong(MAX_LINE_LEN))) => {}
                (_, r) => panic!("header of {len} bytes: {r:?}"),
            }
        }
    }

    #[test]
    fn header_fields_and_defaults() {
        let h = Y4mReader::new(Cursor::new(header_line("W5 H3 F25:1")))
            .unwrap()
            .header()
            .clone();
        assert_eq!(
            h,
            Y4mHeader {
                width: 5,
                height: 3,
                fps: (25, 1),
                interlace: Interlace::Unknown,
                aspect: (0, 0),
                colorspace: Y4mColorspace::C420Jpeg,
                range: None,
                extra: vec![],
            }
        );
        assert_eq!(h.color(), ColorSpec::BT601_LIMITED);
        assert_eq!(h.frame_bytes(), 15 + 2 * 6);

        let h = Y4mReader::new(Cursor::new(header_line(
            "W16384 H16384  F30000:1001 It A128:117 C420mpeg2 XYSCSS=420MPEG2 XCOLORRANGE=FULL XFOO",
        )))
        .unwrap()
        .header()
        .clone();
        assert_eq!((h.width, h.height, h.fps), (16384, 16384, (30000, 1001)));
        assert_eq!(h.interlace, Interlace::TopFirst);
        assert_eq!(h.aspect, (128, 117));
        assert_eq!(h.colorspace, Y4mColorspace::C420Mpeg2);
        assert_eq!(h.range, Some(Range::Full));
        assert_eq!(
            h.extra,
            vec!["XYSCSS=420MPEG2".to_string(), "XFOO".to_string()]
        );

        for (tag, cs) in [
            ("C420jpeg", Y4mColorspace::C420Jpeg),
            ("C420mpeg2", Y4mColorspace::C420Mpeg2),
            ("C420paldv", Y4mColorspace::C420Paldv),
            ("C420", Y4mColorspace::C420),
            ("C444", Y4mColorspace::C444),
            ("Cmono", Y4mColorspace::Mono),
        ] {
            let r = Y4mReader::new(Cursor::new(header_line(&format!("W2 H2 F1:1 {tag}")))).unwrap();
            assert_eq!(r.header().colorspace, cs, "{tag}");
        }
        for (tag, il) in [
            ("Ip", Interlace::Progressive),
            ("It", Interlace::TopFirst),
            ("Ib", Interlace::BottomFirst),
            ("Im", Interlace::Mixed),
            ("I?", Interlace::Unknown),
        ] {
            let r = Y4mReader::new(Cursor::new(header_line(&format!("W2 H2 F1:1 {tag}")))).unwrap();
            assert_eq!(r.header().interlace, il, "{tag}");
        }
    }

    #[test]
    fn truncated_frames_report_index_and_counts() {
        // 3x3 I420: 9 + 2*4 = 17 bytes per frame.
        let mut s = header_line("W3 H3 F1:1");
        s.extend_from_slice(b"FRAME\n");
        s.extend_from_slice(&[1; 17]);
        s.extend_from_slice(b"FRAME\n");
        s.extend_from_slice(&[2; 12]);
        let mut r = Y4mReader::new(Cursor::new(&s)).unwrap();
        assert!(r.read_frame().unwrap().is_some());
        assert!(matches!(
            r.read_frame(),
            Err(IoError::Truncated {
                index: 1,
                expected: 17,
                found: 12
            })
        ));

        // Cut inside the FRAME line, and right after it.
        for tail in [&b"FRA"[..], b"FRAME", b"FRAME XA", b"FRAME\n"] {
            let mut s = header_line("W3 H3 F1:1");
            s.extend_from_slice(tail);
            let mut r = Y4mReader::new(Cursor::new(&s)).unwrap();
            assert!(
                matches!(
                    r.read_frame(),
                    Err(IoError::Truncated {
                        index: 0,
                        expected: 17,
                        found: 0
                    })
                ),
                "{tail:?}"
            );
        }

        // Cut inside the chroma of a C444 stream (2x2: 4 + 4 + 4 bytes).
        let mut s = header_line("W2 H2 F1:1 C444");
        s.extend_from_slice(b"FRAME\n");
        s.extend_from_slice(&[9; 10]);
        let mut r = Y4mReader::new(Cursor::new(&s)).unwrap();
        assert!(matches!(
            r.read_frame(),
            Err(IoError::Truncated {
                index: 0,
                expected: 12,
                found: 10
            })
        ));
    }

    #[test]
    fn frame_lines_with_params_are_accepted_and_bad_ones_rejected() {
        let mut s = header_line("W2 H2 F1:1");
        for line in [&b"FRAME"[..], b"FRAME Ip XFOO=bar", b"FRAME "] {
            s.extend_from_slice(line);
            s.push(b'\n');
            s.extend_from_slice(&[7, 7, 7, 7, 100, 200]);
        }
        let (_, frames) = read_all(&s).unwrap();
        assert_eq!(frames.len(), 3);
        for f in &frames {
            assert_eq!(f.to_packed(), vec![7, 7, 7, 7, 100, 200]);
        }

        let long = [&b"FRAME X"[..], &vec![b'a'; MAX_LINE_LEN]].concat();
        let bad: [&[u8]; 6] = [b"FRAMEX", b"FRAM", b"frame", b"", b"FRAME\r", &long];
        for line in bad {
            let mut s = header_line("W2 H2 F1:1");
            s.extend_from_slice(line);
            s.push(b'\n');
            s.extend_from_slice(&[0; 6]);
            let mut r = Y4mReader::new(Cursor::new(&s)).unwrap();
            let e = r.read_frame().unwrap_err();
            assert!(
                matches!(
                    e,
                    IoError::BadTag {
                        what: "frame header",
                        ..
                    }
                ),
                "{:?}: {e:?}",
                String::from_utf8_lossy(line.get(..20).unwrap_or(line))
            );
        }
        // A line of exactly the limit is fine.
        let ok = [&b"FRAME X"[..], &vec![b'a'; MAX_LINE_LEN - 7]].concat();
        let mut s = header_line("W2 H2 F1:1");
        s.extend_from_slice(&ok);
        s.push(b'\n');
        s.extend_from_slice(&[0; 6]);
        assert_eq!(read_all(&s).unwrap().1.len(), 1);
    }

    #[test]
    fn c444_chroma_is_averaged_2x2() {
        // 3x3: chroma blocks are 2x2, 1x2, 2x1 and 1x1 at the odd edges.
        let y: Vec<u8> = (1..=9).collect();
        let u = [10, 20, 30, 40, 51, 60, 70, 80, 90];
        let v = [0, 1, 255, 1, 1, 255, 200, 201, 7];
        let mut s = header_line("W3 H3 F1:1 C444 XCOLORRANGE=FULL");
        s.extend_from_slice(b"FRAME\n");
        s.extend_from_slice(&y);
        s.extend_from_slice(&u);
        s.extend_from_slice(&v);
        let (h, frames) = read_all(&s).unwrap();
        assert_eq!(h.frame_bytes(), 27);
        let f = frames[0].as_ref();
        assert_eq!(f.color().range, Range::Full);
        assert_eq!(f.plane(0).rows().flatten().copied().collect::<Vec<_>>(), y);
        // u: (10+20+40+51+2)/4 = 30 (30.25), (30+60+1)/2 = 45, (70+80+1)/2 = 75, 90
        assert_eq!(
            f.plane(1).rows().flatten().copied().collect::<Vec<_>>(),
            vec![30, 45, 75, 90]
        );
        // v: (0+1+1+1+2)/4 = 1 (0.75), (255+255+1)/2 = 255, (200+201+1)/2 = 201 (200.5), 7
        assert_eq!(
            f.plane(2).rows().flatten().copied().collect::<Vec<_>>(),
            vec![1, 255, 201, 7]
        );
    }

    #[test]
    fn mono_gets_neutral_chroma() {
        let y: Vec<u8> = (0..15).map(|i| i * 17).collect();
        let mut s = header_line("W5 H3 F1:1 Cmono XCOLORRANGE=FULL");
        for _ in 0..2 {
            s.extend_from_slice(b"FRAME\n");
            s.extend_from_slice(&y);
        }
        let (_, frames) = read_all(&s).unwrap();
        assert_eq!(frames.len(), 2);
        for f in &frames {
            let f = f.as_ref();
            assert_eq!(f.color().range, Range::Full);
            assert_eq!(f.plane(0).rows().flatten().copied().collect::<Vec<_>>(), y);
            assert!(f.plane(1).rows().flatten().all(|&c| c == 128));
            assert!(f.plane(2).rows().flatten().all(|&c| c == 128));
            assert_eq!(f.plane(1).width(), 3);
            assert_eq!(f.plane(1).height(), 2);
        }
    }

    #[test]
    fn read_frame_into_reuses_the_allocation() {
        let frames: Vec<Frame> = (0..3).map(|i| noisy_i420(17, 9, i)).collect();
        let mut wr = Y4mWriter::new(Vec::new(), 17, 9, (25, 1), ColorSpec::BT601_LIMITED).unwrap();
        for f in &frames {
            wr.write_frame(&f.as_ref()).unwrap();
        }
        let bytes = wr.finish().unwrap();
        let mut r = Y4mReader::new(Cursor::new(&bytes)).unwrap();
        // A frame of the wrong format and size is replaced once, then reused.
        let mut f = Frame::new(PixelFormat::Rgba, 2, 2).unwrap();
        assert!(r.read_frame_into(&mut f).unwrap());
        assert_eq!(
            (f.format(), f.width(), f.height()),
            (PixelFormat::I420, 17, 9)
        );
        let ptr = f.as_ref().plane(0).row(0).as_ptr();
        for want in &frames[1..] {
            assert!(r.read_frame_into(&mut f).unwrap());
            assert_eq!(f.as_ref().plane(0).row(0).as_ptr(), ptr);
            assert_eq!(f.to_packed(), want.to_packed());
        }
        assert_eq!(r.frames_read(), 3);
        assert!(!r.read_frame_into(&mut f).unwrap());
        assert_eq!(f.to_packed(), frames[2].to_packed());
    }

    #[test]
    fn read_line_never_buffers_past_the_limit() {
        let data = vec![b'a'; 100];
        let mut r = io::BufReader::with_capacity(7, Cursor::new(&data));
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 10).unwrap(), Line::TooLong);
        assert_eq!(buf.len(), 11);
        let mut r = io::BufReader::with_capacity(3, Cursor::new(b"abcdefghij\nxy"));
        assert_eq!(read_line(&mut r, &mut buf, 10).unwrap(), Line::Complete);
        assert_eq!(buf, b"abcdefghij");
        assert_eq!(read_line(&mut r, &mut buf, 10).unwrap(), Line::Unterminated);
        assert_eq!(buf, b"xy");
        assert_eq!(read_line(&mut r, &mut buf, 10).unwrap(), Line::Eof);
    }
}
