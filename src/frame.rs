//! Pixel formats, colour tags, borrowed strided views and owned frames.
//!
//! # Memory layout
//!
//! Every plane is a run of rows of bytes. **A stride always counts bytes** (for RGBA that is
//! four per pixel), and a plane view's `width` counts bytes of one row too
//! ([`PlaneRef::width`]); a frame's `width`/`height` count pixels. A plane of `height` rows
//! needs `stride * (height - 1) + width` bytes: the last row need not be padded.
//!
//! | format | planes (width x height, in bytes x rows) |
//! |---|---|
//! | I420  | Y `w x h`, U `cw x ch`, V `cw x ch` with `cw = ceil(w/2)`, `ch = ceil(h/2)` |
//! | I420A | as I420, plus A `w x h` |
//! | NV12  | Y `w x h`, UV interleaved `2*cw x ch` |
//! | RGBA, BGRA | one plane `4*w x h` |
//!
//! Owned [`Frame`]s store each plane with a stride rounded up to 64 bytes, in 64-byte
//! aligned storage. Kernels never rely on that alignment for soundness. A frame can also
//! hold someone else's bytes ([`Frame::from_shared`], e.g. a mapped media-framework buffer)
//! with their own offsets and strides, read-only, so handing it to the engine copies nothing.

use std::sync::Arc;

/// Converting between pixel formats lives with the rest of colour conversion, in
/// [`crate::color`]; it stays reachable here, where callers have always imported it.
pub use crate::color::convert;
use crate::error::FrameError;

/// Largest frame side accepted anywhere (pixels). Frames are untrusted input.
pub const MAX_DIMENSION: u32 = 16384;

/// The pixel formats the engine reads. Output is I420 or RGBA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Planar Y, U, V; chroma subsampled 2x2.
    I420,
    /// I420 plus a full-resolution alpha plane (straight, not premultiplied).
    I420A,
    /// Y plane plus one interleaved UV plane, chroma 2x2.
    Nv12,
    /// Packed 8-bit R, G, B, A (straight alpha).
    Rgba,
    /// Packed 8-bit B, G, R, A (straight alpha).
    Bgra,
}

impl PixelFormat {
    /// Number of planes.
    pub fn plane_count(self) -> usize {
        match self {
            PixelFormat::I420 => 3,
            PixelFormat::I420A => 4,
            PixelFormat::Nv12 => 2,
            PixelFormat::Rgba | PixelFormat::Bgra => 1,
        }
    }

    /// Whether the format carries an alpha channel.
    pub fn has_alpha(self) -> bool {
        matches!(
            self,
            PixelFormat::I420A | PixelFormat::Rgba | PixelFormat::Bgra
        )
    }

    /// Size of plane `index` in (bytes per row, rows) for a `width x height` frame.
    pub fn plane_size(self, index: usize, width: u32, height: u32) -> (usize, usize) {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        match (self, index) {
            (PixelFormat::Rgba | PixelFormat::Bgra, _) => (4 * w, h),
            (PixelFormat::Nv12, 1) => (2 * cw, ch),
            (PixelFormat::I420 | PixelFormat::I420A, 1 | 2) => (cw, ch),
            _ => (w, h),
        }
    }
}

/// YUV matrix coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Matrix {
    /// ITU-R BT.601 (SD; what FFmpeg assumes for untagged video).
    #[default]
    Bt601,
    /// ITU-R BT.709 (HD).
    Bt709,
}

/// YUV value range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Range {
    /// Y 16..=235, UV 16..=240 ("TV", "MPEG").
    #[default]
    Limited,
    /// 0..=255 ("PC", "JPEG").
    Full,
}

/// Colour tag of YUV data. Ignored for RGB formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ColorSpec {
    /// Matrix coefficients.
    pub matrix: Matrix,
    /// Value range.
    pub range: Range,
}

impl ColorSpec {
    /// BT.601, limited range: the default.
    pub const BT601_LIMITED: ColorSpec = ColorSpec {
        matrix: Matrix::Bt601,
        range: Range::Limited,
    };
    /// BT.709, limited range.
    pub const BT709_LIMITED: ColorSpec = ColorSpec {
        matrix: Matrix::Bt709,
        range: Range::Limited,
    };

    /// Luma and chroma values of black in this range.
    pub fn black(self) -> [u8; 3] {
        match self.range {
            Range::Limited => [16, 128, 128],
            Range::Full => [0, 128, 128],
        }
    }
}

fn plane_len(width: usize, height: usize, stride: usize) -> Option<usize> {
    if height == 0 {
        return Some(0);
    }
    stride.checked_mul(height - 1)?.checked_add(width)
}

fn check_plane(len: usize, width: usize, height: usize, stride: usize) -> Result<(), FrameError> {
    if stride < width {
        return Err(FrameError::StrideTooSmall { width, stride });
    }
    let expected = plane_len(width, height, stride).ok_or(FrameError::TooLarge {
        width: width as u64,
        height: height as u64,
    })?;
    if len < expected {
        return Err(FrameError::BufferTooSmall {
            expected,
            found: len,
        });
    }
    Ok(())
}

/// A borrowed, read-only plane: `height` rows of `width` bytes, `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct PlaneRef<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
}

impl<'a> PlaneRef<'a> {
    /// Checks `stride >= width` and `data.len() >= stride * (height - 1) + width`.
    pub fn new(
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
    ) -> Result<Self, FrameError> {
        check_plane(data.len(), width, height, stride)?;
        Ok(Self {
            data,
            width,
            height,
            stride,
        })
    }

    /// A tightly packed plane (`stride == width`).
    pub fn packed(data: &'a [u8], width: usize, height: usize) -> Result<Self, FrameError> {
        Self::new(data, width, height, width)
    }

    /// Bytes per row.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Bytes between the starts of two rows.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Row `y`, trimmed to `width`. Panics if `y >= height` (an internal invariant).
    #[inline]
    pub fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width]
    }

    /// The rows, each trimmed to `width`.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let (data, width, stride) = (self.data, self.width, self.stride);
        (0..self.height).map(move |y| &data[y * stride..y * stride + width])
    }

    /// The sub-plane at byte column `x`, row `y`, `width` bytes by `height` rows; no copy.
    pub fn crop(
        &self,
        x: usize,
        y: usize,
        width: usize,
        height: usize,
    ) -> Result<Self, FrameError> {
        let fits = x.checked_add(width).is_some_and(|r| r <= self.width)
            && y.checked_add(height).is_some_and(|b| b <= self.height);
        if !fits {
            return Err(FrameError::CropOutside {
                x,
                y,
                width,
                height,
                plane_width: self.width,
                plane_height: self.height,
            });
        }
        if width == 0 || height == 0 {
            return Ok(Self {
                data: &[],
                width,
                height,
                // Zero width: stride 0, so every row is the empty slice at 0 (with the
                // parent's stride, row 1 would start past the empty buffer).
                stride: if width == 0 { 0 } else { self.stride },
            });
        }
        let start = y * self.stride + x;
        let end = start + (height - 1) * self.stride + width;
        Ok(Self {
            data: &self.data[start..end],
            width,
            height,
            stride: self.stride,
        })
    }

    pub(crate) fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// A borrowed, writable plane; the same geometry rules as [`PlaneRef`].
#[derive(Debug)]
pub struct PlaneMut<'a> {
    data: &'a mut [u8],
    width: usize,
    height: usize,
    stride: usize,
}

impl<'a> PlaneMut<'a> {
    /// Checks `stride >= width` and `data.len() >= stride * (height - 1) + width`.
    pub fn new(
        data: &'a mut [u8],
        width: usize,
        height: usize,
        stride: usize,
    ) -> Result<Self, FrameError> {
        check_plane(data.len(), width, height, stride)?;
        Ok(Self {
            data,
            width,
            height,
            stride,
        })
    }

    /// Bytes per row.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Bytes between the starts of two rows.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// A read-only view of the same plane.
    pub fn as_ref(&self) -> PlaneRef<'_> {
        PlaneRef {
            data: self.data,
            width: self.width,
            height: self.height,
            stride: self.stride,
        }
    }

    /// A shorter-lived writable view of the same plane.
    pub fn reborrow(&mut self) -> PlaneMut<'_> {
        PlaneMut {
            data: self.data,
            width: self.width,
            height: self.height,
            stride: self.stride,
        }
    }

    /// Row `y`, trimmed to `width`. Panics if `y >= height` (an internal invariant).
    #[inline]
    pub fn row_mut(&mut self, y: usize) -> &mut [u8] {
        let start = y * self.stride;
        &mut self.data[start..start + self.width]
    }

    /// The rows, each trimmed to `width`.
    pub fn rows_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        let width = self.width;
        self.data
            .chunks_mut(self.stride.max(1))
            .take(self.height)
            .map(move |r| &mut r[..width])
    }

    /// Splits into the first `rows` rows and the rest (for disjoint parallel bands).
    pub fn split_at_row(self, rows: usize) -> (PlaneMut<'a>, PlaneMut<'a>) {
        let rows = rows.min(self.height);
        let cut = (rows * self.stride).min(self.data.len());
        let (a, b) = self.data.split_at_mut(cut);
        (
            PlaneMut {
                data: a,
                width: self.width,
                height: rows,
                stride: self.stride,
            },
            PlaneMut {
                data: b,
                width: self.width,
                height: self.height - rows,
                stride: self.stride,
            },
        )
    }

    /// The writable sub-plane at byte column `x`, row `y`; no copy.
    pub fn crop_mut(
        self,
        x: usize,
        y: usize,
        width: usize,
        height: usize,
    ) -> Result<PlaneMut<'a>, FrameError> {
        let fits = x.checked_add(width).is_some_and(|r| r <= self.width)
            && y.checked_add(height).is_some_and(|b| b <= self.height);
        if !fits {
            return Err(FrameError::CropOutside {
                x,
                y,
                width,
                height,
                plane_width: self.width,
                plane_height: self.height,
            });
        }
        if width == 0 || height == 0 {
            return Ok(PlaneMut {
                data: &mut [],
                width,
                height,
                // Zero width: stride 0, so every row is the empty slice at 0 (with the
                // parent's stride, row 1 would start past the empty buffer).
                stride: if width == 0 { 0 } else { self.stride },
            });
        }
        let start = y * self.stride + x;
        let end = start + (height - 1) * self.stride + width;
        Ok(PlaneMut {
            data: &mut self.data[start..end],
            width,
            height,
            stride: self.stride,
        })
    }

    /// Sets every byte of the plane to `value`.
    pub fn fill(&mut self, value: u8) {
        for r in self.rows_mut() {
            r.fill(value);
        }
    }

    /// Copies `src` (same width and height) into this plane.
    pub fn copy_from(&mut self, src: &PlaneRef<'_>) -> Result<(), FrameError> {
        if src.width != self.width || src.height != self.height {
            return Err(FrameError::SizeMismatch {
                expected: (self.width as u32, self.height as u32),
                found: (src.width as u32, src.height as u32),
            });
        }
        for (d, s) in self.rows_mut().zip(src.rows()) {
            d.copy_from_slice(s);
        }
        Ok(())
    }

    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        self.data
    }
}

fn validate_dims(width: u32, height: u32) -> Result<(), FrameError> {
    if width == 0 || height == 0 {
        return Err(FrameError::ZeroSize { width, height });
    }
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(FrameError::TooLarge {
            width: width as u64,
            height: height as u64,
        });
    }
    Ok(())
}

const NO_PLANE: PlaneRef<'static> = PlaneRef {
    data: &[],
    width: 0,
    height: 0,
    stride: 0,
};

/// A borrowed video frame: format, size, colour and up to four plane views.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    format: PixelFormat,
    width: u32,
    height: u32,
    color: ColorSpec,
    planes: [PlaneRef<'a>; 4],
}

impl<'a> FrameRef<'a> {
    /// Checks that `planes` has the format's plane count and that each plane is at least as
    /// large as the format requires for `width x height`.
    pub fn new(
        format: PixelFormat,
        width: u32,
        height: u32,
        color: ColorSpec,
        planes: &[PlaneRef<'a>],
    ) -> Result<Self, FrameError> {
        validate_dims(width, height)?;
        if planes.len() != format.plane_count() {
            return Err(FrameError::PlaneCount {
                format,
                expected: format.plane_count(),
                found: planes.len(),
            });
        }
        let mut out = [NO_PLANE; 4];
        for (i, p) in planes.iter().enumerate() {
            let (w, h) = format.plane_size(i, width, height);
            if p.width < w || p.height < h {
                return Err(FrameError::PlaneTooSmall {
                    plane: i,
                    expected: (w, h),
                    found: (p.width, p.height),
                });
            }
            // Trim to the exact plane size so that rows() yields exactly the pixels.
            out[i] = p.crop(0, 0, w, h)?;
        }
        Ok(Self {
            format,
            width,
            height,
            color,
            planes: out,
        })
    }

    /// A frame whose planes lie one after another in `data`, each tightly packed.
    pub fn from_packed(
        format: PixelFormat,
        width: u32,
        height: u32,
        color: ColorSpec,
        data: &'a [u8],
    ) -> Result<Self, FrameError> {
        validate_dims(width, height)?;
        let mut planes = [NO_PLANE; 4];
        let mut off = 0usize;
        for (i, plane) in planes.iter_mut().enumerate().take(format.plane_count()) {
            let (w, h) = format.plane_size(i, width, height);
            let len = w * h;
            let end = off.checked_add(len).filter(|&e| e <= data.len()).ok_or(
                FrameError::BufferTooSmall {
                    expected: packed_len(format, width, height),
                    found: data.len(),
                },
            )?;
            *plane = PlaneRef::packed(&data[off..end], w, h)?;
            off = end;
        }
        Self::new(
            format,
            width,
            height,
            color,
            &planes[..format.plane_count()],
        )
    }

    /// Pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Colour tag.
    pub fn color(&self) -> ColorSpec {
        self.color
    }
    /// Plane `i` (see the layout table in the module docs). Panics if `i` is out of range.
    pub fn plane(&self, i: usize) -> PlaneRef<'a> {
        assert!(i < self.format.plane_count(), "plane index out of range");
        self.planes[i]
    }
    /// All planes of the format.
    pub fn planes(&self) -> &[PlaneRef<'a>] {
        &self.planes[..self.format.plane_count()]
    }

    /// The planes written tightly one after another, rows without padding (the layout
    /// [`FrameRef::from_packed`] reads and a Y4M frame holds).
    pub fn to_packed(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(packed_len(self.format, self.width, self.height));
        for p in self.planes() {
            for r in p.rows() {
                out.extend_from_slice(r);
            }
        }
        out
    }

    /// Converts into a new owned frame of `format` (see [`convert`]).
    pub fn to_frame(&self, format: PixelFormat) -> Result<Frame, FrameError> {
        let mut out = Frame::new(format, self.width, self.height)?;
        out.set_color(self.color);
        convert(self, &mut out.as_mut())?;
        Ok(out)
    }
}

/// Bytes of a tightly packed frame.
pub fn packed_len(format: PixelFormat, width: u32, height: u32) -> usize {
    (0..format.plane_count())
        .map(|i| {
            let (w, h) = format.plane_size(i, width, height);
            w * h
        })
        .sum()
}

/// A writable borrowed frame, e.g. an output buffer the caller owns.
#[derive(Debug)]
pub struct FrameMut<'a> {
    format: PixelFormat,
    width: u32,
    height: u32,
    color: ColorSpec,
    /// The format's planes first; unused entries are empty.
    planes: [PlaneMut<'a>; 4],
}

/// Four empty planes, to fill in.
fn no_planes_mut<'a>() -> [PlaneMut<'a>; 4] {
    std::array::from_fn(|_| PlaneMut {
        data: &mut [],
        width: 0,
        height: 0,
        stride: 0,
    })
}

impl<'a> FrameMut<'a> {
    /// Same checks as [`FrameRef::new`].
    pub fn new(
        format: PixelFormat,
        width: u32,
        height: u32,
        color: ColorSpec,
        planes: impl IntoIterator<Item = PlaneMut<'a>>,
    ) -> Result<Self, FrameError> {
        validate_dims(width, height)?;
        let mut got = no_planes_mut();
        let mut found = 0;
        for p in planes {
            if let Some(slot) = got.get_mut(found) {
                *slot = p;
            }
            found += 1;
        }
        if found != format.plane_count() {
            return Err(FrameError::PlaneCount {
                format,
                expected: format.plane_count(),
                found,
            });
        }
        let mut out = no_planes_mut();
        for (i, (p, slot)) in got.into_iter().zip(out.iter_mut()).enumerate().take(found) {
            let (w, h) = format.plane_size(i, width, height);
            if p.width < w || p.height < h {
                return Err(FrameError::PlaneTooSmall {
                    plane: i,
                    expected: (w, h),
                    found: (p.width, p.height),
                });
            }
            *slot = p.crop_mut(0, 0, w, h)?;
        }
        Ok(Self {
            format,
            width,
            height,
            color,
            planes: out,
        })
    }

    /// Pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Colour tag.
    pub fn color(&self) -> ColorSpec {
        self.color
    }
    /// Retags the view (what [`crate::color::convert`] writes is in its source's tag).
    pub(crate) fn set_color(&mut self, color: ColorSpec) {
        self.color = color;
    }
    /// Writable plane `i`.
    pub fn plane_mut(&mut self, i: usize) -> PlaneMut<'_> {
        self.planes[i].reborrow()
    }
    /// All writable planes.
    pub fn planes_mut(&mut self) -> &mut [PlaneMut<'a>] {
        &mut self.planes[..self.format.plane_count()]
    }
    /// A read-only view.
    pub fn as_ref(&self) -> FrameRef<'_> {
        let mut planes = [NO_PLANE; 4];
        for (d, s) in planes.iter_mut().zip(&self.planes) {
            *d = s.as_ref();
        }
        FrameRef {
            format: self.format,
            width: self.width,
            height: self.height,
            color: self.color,
            planes,
        }
    }
}

/// 64 bytes, 64-aligned: the storage unit of owned frames.
#[derive(Clone, Copy, bytemuck::Zeroable, bytemuck::Pod)]
#[repr(C, align(64))]
struct Block([u8; 64]);

/// Bytes a [`Frame`] may hold instead of its own storage (see [`Frame::from_shared`]).
/// `as_ref()` must return the same bytes on every call, as `Vec<u8>`, `Box<[u8]>` or a mapped
/// buffer do.
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

#[derive(Clone)]
enum Storage {
    /// The frame's own 64-byte aligned blocks.
    Owned(Vec<Block>),
    /// Someone else's bytes, read-only: the first write copies them into owned storage.
    Shared(SharedBytes),
}

/// An owned frame: 64-byte aligned planes and strides of its own, or shared read-only bytes
/// with the caller's layout ([`Frame::from_shared`]).
#[derive(Clone)]
pub struct Frame {
    format: PixelFormat,
    width: u32,
    height: u32,
    color: ColorSpec,
    offsets: [usize; 4],
    strides: [usize; 4],
    storage: Storage,
}

/// Offsets, strides and block count of an owned frame's layout (dimensions already checked).
fn owned_layout(format: PixelFormat, width: u32, height: u32) -> ([usize; 4], [usize; 4], usize) {
    let mut offsets = [0; 4];
    let mut strides = [0; 4];
    let mut total = 0usize;
    for i in 0..format.plane_count() {
        let (w, h) = format.plane_size(i, width, height);
        let stride = w.div_ceil(64) * 64;
        offsets[i] = total;
        strides[i] = stride;
        total += stride * h;
    }
    (offsets, strides, total.div_ceil(64))
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("color", &self.color)
            .finish_non_exhaustive()
    }
}

impl Frame {
    /// A zeroed frame. Errors on zero or oversized dimensions.
    pub fn new(format: PixelFormat, width: u32, height: u32) -> Result<Self, FrameError> {
        validate_dims(width, height)?;
        let (offsets, strides, blocks) = owned_layout(format, width, height);
        Ok(Self {
            format,
            width,
            height,
            color: ColorSpec::default(),
            offsets,
            strides,
            // Zeroed by the allocator (calloc): a large frame costs address space until its
            // pages are written, so a hostile header naming the largest frame is cheap.
            storage: Storage::Owned(bytemuck::zeroed_vec(blocks)),
        })
    }

    /// A frame over someone else's bytes, without copying: plane `i` starts at byte
    /// `planes[i].0` of `data` and its rows are `planes[i].1` bytes apart (see the module's
    /// memory layout). Checked like [`FrameRef::new`]: the plane count, the dimensions, every
    /// stride against its row and every plane against `data`'s length, with typed errors.
    ///
    /// The frame is read-only until written: [`as_mut`](Self::as_mut) first copies it into
    /// storage of its own, and [`copy_from`](Self::copy_from) replaces it. `data` is released
    /// when the last clone of the frame is dropped.
    pub fn from_shared(
        format: PixelFormat,
        width: u32,
        height: u32,
        color: ColorSpec,
        planes: &[(usize, usize)],
        data: SharedBytes,
    ) -> Result<Self, FrameError> {
        validate_dims(width, height)?;
        if planes.len() != format.plane_count() {
            return Err(FrameError::PlaneCount {
                format,
                expected: format.plane_count(),
                found: planes.len(),
            });
        }
        let bytes: &[u8] = (*data).as_ref();
        let mut offsets = [0; 4];
        let mut strides = [0; 4];
        for (i, &(offset, stride)) in planes.iter().enumerate() {
            let (w, h) = format.plane_size(i, width, height);
            let available = bytes.len().saturating_sub(offset);
            if offset > bytes.len() {
                return Err(FrameError::BufferTooSmall {
                    expected: offset,
                    found: bytes.len(),
                });
            }
            check_plane(available, w, h, stride)?;
            offsets[i] = offset;
            strides[i] = stride;
        }
        Ok(Self {
            format,
            width,
            height,
            color,
            offsets,
            strides,
            storage: Storage::Shared(data),
        })
    }

    /// Whether the frame holds shared bytes ([`from_shared`](Self::from_shared)) rather than
    /// storage of its own.
    pub fn is_shared(&self) -> bool {
        matches!(self.storage, Storage::Shared(_))
    }

    /// A frame filled with black (opaque where the format has alpha).
    pub fn black(
        format: PixelFormat,
        width: u32,
        height: u32,
        color: ColorSpec,
    ) -> Result<Self, FrameError> {
        let mut f = Self::new(format, width, height)?;
        f.color = color;
        f.fill_black();
        Ok(f)
    }

    /// Copies a borrowed frame into a new owned one of the same format.
    pub fn from_ref(src: &FrameRef<'_>) -> Result<Self, FrameError> {
        let mut f = Self::new(src.format, src.width, src.height)?;
        f.copy_from(src)?;
        Ok(f)
    }

    /// Copies `src` into this frame, reallocating only if format or size differ (or the
    /// frame held shared bytes).
    pub fn copy_from(&mut self, src: &FrameRef<'_>) -> Result<(), FrameError> {
        if src.format != self.format
            || src.width != self.width
            || src.height != self.height
            || self.is_shared()
        {
            *self = Self::new(src.format, src.width, src.height)?;
        }
        self.color = src.color;
        let mut dst = self.as_mut();
        for (i, p) in src.planes().iter().enumerate() {
            dst.plane_mut(i).copy_from(p)?;
        }
        Ok(())
    }

    /// Sets every pixel to black (alpha opaque).
    pub fn fill_black(&mut self) {
        let [y, u, v] = self.color.black();
        let format = self.format;
        let mut m = self.as_mut();
        match format {
            PixelFormat::I420 | PixelFormat::I420A => {
                m.plane_mut(0).fill(y);
                m.plane_mut(1).fill(u);
                m.plane_mut(2).fill(v);
                if format == PixelFormat::I420A {
                    m.plane_mut(3).fill(255);
                }
            }
            PixelFormat::Nv12 => {
                m.plane_mut(0).fill(y);
                m.plane_mut(1).fill(128);
            }
            PixelFormat::Rgba | PixelFormat::Bgra => {
                for row in m.plane_mut(0).rows_mut() {
                    for px in row.chunks_exact_mut(4) {
                        px.copy_from_slice(&[0, 0, 0, 255]);
                    }
                }
            }
        }
    }

    /// Pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Colour tag.
    pub fn color(&self) -> ColorSpec {
        self.color
    }
    /// Sets the colour tag (does not convert pixels).
    pub fn set_color(&mut self, color: ColorSpec) {
        self.color = color;
    }

    /// A read-only view.
    pub fn as_ref(&self) -> FrameRef<'_> {
        // An owned plane spans `stride * h` bytes (the last row padded too); a shared one
        // `stride * (h - 1) + w`, as checked at construction.
        let (bytes, last_row_padded): (&[u8], bool) = match &self.storage {
            Storage::Owned(blocks) => (bytemuck::cast_slice(blocks), true),
            Storage::Shared(data) => ((**data).as_ref(), false),
        };
        let mut planes = [NO_PLANE; 4];
        for (i, plane) in planes
            .iter_mut()
            .enumerate()
            .take(self.format.plane_count())
        {
            let (w, h) = self.format.plane_size(i, self.width, self.height);
            let start = self.offsets[i];
            let len = if last_row_padded {
                self.strides[i] * h
            } else {
                self.strides[i] * (h - 1) + w
            };
            *plane = PlaneRef {
                data: &bytes[start..start + len],
                width: w,
                height: h,
                stride: self.strides[i],
            };
        }
        FrameRef {
            format: self.format,
            width: self.width,
            height: self.height,
            color: self.color,
            planes,
        }
    }

    /// A writable view. A frame over shared bytes is first copied into storage of its own
    /// (one allocation); the shared bytes are released.
    pub fn as_mut(&mut self) -> FrameMut<'_> {
        let (format, width, height) = (self.format, self.width, self.height);
        if self.is_shared() {
            let (offsets, strides, blocks) = owned_layout(format, width, height);
            let mut storage: Vec<Block> = bytemuck::zeroed_vec(blocks);
            {
                let dst: &mut [u8] = bytemuck::cast_slice_mut(&mut storage);
                let src = self.as_ref();
                for (i, p) in src.planes().iter().enumerate() {
                    for (y, row) in p.rows().enumerate() {
                        let at = offsets[i] + y * strides[i];
                        dst[at..at + row.len()].copy_from_slice(row);
                    }
                }
            }
            (self.offsets, self.strides) = (offsets, strides);
            self.storage = Storage::Owned(storage);
        }
        let Storage::Owned(blocks) = &mut self.storage else {
            unreachable!("made owned above")
        };
        let mut rest: &mut [u8] = bytemuck::cast_slice_mut(blocks);
        let mut planes = no_planes_mut();
        let mut consumed = 0;
        for (i, slot) in planes.iter_mut().enumerate().take(format.plane_count()) {
            let (w, h) = format.plane_size(i, width, height);
            let skip = self.offsets[i] - consumed;
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(skip);
            let (plane, tail) = tail.split_at_mut(self.strides[i] * h);
            consumed = self.offsets[i] + self.strides[i] * h;
            rest = tail;
            *slot = PlaneMut {
                data: plane,
                width: w,
                height: h,
                stride: self.strides[i],
            };
        }
        FrameMut {
            format,
            width,
            height,
            color: self.color,
            planes,
        }
    }

    /// The planes written tightly one after another (e.g. for a Y4M frame); see
    /// [`FrameRef::to_packed`].
    pub fn to_packed(&self) -> Vec<u8> {
        self.as_ref().to_packed()
    }
}

/// The view types on small buffers: fast enough for Miri, which checks the bounds and
/// aliasing of every access here (see RELIABILITY.md).
#[cfg(test)]
mod view_tests {
    use super::*;

    fn seq(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn plane_rows_crops_and_bounds() {
        // 5 bytes wide, 4 rows, stride 8, last row unpadded: 8 * 3 + 5 bytes.
        let data = seq(29);
        let p = PlaneRef::new(&data, 5, 4, 8).unwrap();
        let rows: Vec<&[u8]> = p.rows().collect();
        assert_eq!(rows.len(), 4);
        for (y, r) in rows.iter().enumerate() {
            assert_eq!(*r, &data[y * 8..y * 8 + 5]);
            assert_eq!(p.row(y), *r);
        }
        let c = p.crop(2, 1, 3, 3).unwrap();
        assert_eq!((c.width(), c.height(), c.stride()), (3, 3, 8));
        for y in 0..3 {
            assert_eq!(c.row(y), &data[(y + 1) * 8 + 2..(y + 1) * 8 + 5]);
        }
        // The bottom-right corner crop ends exactly at the buffer's end.
        assert_eq!(p.crop(4, 3, 1, 1).unwrap().row(0), &data[28..29]);
        assert_eq!(p.crop(5, 4, 0, 0).unwrap().rows().count(), 0);
        assert!(p.crop(5, 0, 1, 1).is_err());
        assert!(p.crop(0, 2, 1, 3).is_err());
        assert!(PlaneRef::new(&data[..28], 5, 4, 8).is_err());
    }

    /// Found by the `compositor_frames` fuzz target: a crop 0 bytes wide but several rows
    /// high kept its parent's stride over an empty buffer, so `rows()` panicked on row 1.
    #[test]
    fn zero_sized_crops_yield_empty_rows() {
        let data = seq(64);
        let p = PlaneRef::new(&data, 8, 8, 8).unwrap();
        for (x, y, w, h) in [(3, 1, 0, 5), (8, 0, 0, 8), (2, 8, 4, 0), (0, 0, 0, 0)] {
            let c = p.crop(x, y, w, h).unwrap();
            assert_eq!(c.rows().count(), h);
            assert!(c.rows().all(<[u8]>::is_empty));
            for row in 0..h {
                assert!(c.row(row).is_empty());
            }
            assert!(c.crop(0, 0, 0, h).is_ok());
        }
        let mut buf = seq(64);
        let m = PlaneMut::new(&mut buf, 8, 8, 8).unwrap();
        let mut c = m.crop_mut(5, 2, 0, 4).unwrap();
        for row in 0..4 {
            assert!(c.row_mut(row).is_empty());
        }
        c.fill(0);
        assert_eq!(c.as_ref().rows().count(), 4);
        assert_eq!(buf, seq(64));
    }

    #[test]
    fn plane_mut_splits_into_disjoint_bands() {
        let mut data = vec![0u8; 8 * 5 + 6];
        let p = PlaneMut::new(&mut data, 6, 6, 8).unwrap();
        let (mut top, bottom) = p.split_at_row(2);
        let (mut mid, mut low) = bottom.split_at_row(3);
        assert_eq!((top.height(), mid.height(), low.height()), (2, 3, 1));
        top.fill(1);
        mid.fill(2);
        low.fill(3);
        let mut cropped = mid.reborrow().crop_mut(1, 1, 2, 2).unwrap();
        cropped.fill(9);
        let src = [5u8, 6];
        low.rows_mut().next().unwrap()[4..].copy_from_slice(&src);
        for y in 0..6 {
            let row = &data[y * 8..y * 8 + 6];
            let want = |x: usize| match y {
                0 | 1 => 1,
                3 | 4 if (1..3).contains(&x) => 9,
                2..=4 => 2,
                _ if x >= 4 => src[x - 4],
                _ => 3,
            };
            for (x, &v) in row.iter().enumerate() {
                assert_eq!(v, want(x), "({x}, {y})");
            }
            // Padding between rows is never written.
            if y < 5 {
                assert_eq!(&data[y * 8 + 6..y * 8 + 8], &[0, 0]);
            }
        }
    }

    #[test]
    fn owned_frames_expose_their_planes() {
        for format in [
            PixelFormat::I420,
            PixelFormat::I420A,
            PixelFormat::Nv12,
            PixelFormat::Rgba,
            PixelFormat::Bgra,
        ] {
            let (w, h) = (5u32, 3u32);
            let packed = seq(packed_len(format, w, h));
            let src = FrameRef::from_packed(format, w, h, ColorSpec::default(), &packed).unwrap();
            let mut f = Frame::from_ref(&src).unwrap();
            assert_eq!(f.to_packed(), packed, "{format:?}");
            for (i, p) in f.as_ref().planes().iter().enumerate() {
                assert_eq!((p.width(), p.height()), format.plane_size(i, w, h));
                assert_eq!(p.stride() % 64, 0);
            }
            // Writes through the mutable view land in the right plane only.
            let mut m = f.as_mut();
            let last = format.plane_count() - 1;
            m.plane_mut(last).fill(0xEE);
            let r = f.as_ref();
            assert!(r.plane(last).rows().flatten().all(|&b| b == 0xEE));
            if last > 0 {
                assert_eq!(
                    r.plane(0).rows().flatten().copied().collect::<Vec<_>>()[..],
                    packed[..5 * 3]
                );
            }
        }
    }
}

#[cfg(test)]
mod shared_tests {
    use super::*;

    /// An I420 frame laid out backwards in one buffer (V, U, then Y) with padded strides, its
    /// bytes numbered so every plane and row differ.
    fn shared_i420(w: u32, h: u32) -> (Vec<u8>, [(usize, usize); 3]) {
        let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
        let (ys, cs) = (w as usize + 5, cw + 3);
        let v_at = 7;
        let u_at = v_at + cs * ch;
        let y_at = u_at + cs * ch;
        // The last Y row is not padded.
        let len = y_at + ys * (h as usize - 1) + w as usize;
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        (data, [(y_at, ys), (u_at, cs), (v_at, cs)])
    }

    fn same(a: &FrameRef<'_>, b: &FrameRef<'_>) -> bool {
        a.format() == b.format()
            && (a.width(), a.height()) == (b.width(), b.height())
            && a.planes()
                .iter()
                .zip(b.planes())
                .all(|(p, q)| p.rows().eq(q.rows()))
    }

    #[test]
    fn shared_frames_view_the_callers_bytes_without_copying() {
        let (data, layout) = shared_i420(9, 5);
        let expected: Vec<Vec<u8>> = layout
            .iter()
            .enumerate()
            .map(|(i, &(at, stride))| {
                let (w, h) = PixelFormat::I420.plane_size(i, 9, 5);
                (0..h)
                    .flat_map(|y| data[at + y * stride..at + y * stride + w].to_vec())
                    .collect()
            })
            .collect();
        let shared: SharedBytes = Arc::new(data);
        let f = Frame::from_shared(
            PixelFormat::I420,
            9,
            5,
            ColorSpec::BT601_LIMITED,
            &layout,
            shared.clone(),
        )
        .unwrap();
        assert!(f.is_shared());
        assert_eq!(f.color(), ColorSpec::BT601_LIMITED);
        let bytes: &[u8] = (*shared).as_ref();
        let view = f.as_ref();
        for (i, plane) in view.planes().iter().enumerate() {
            // The view points into the caller's buffer: nothing was copied.
            assert_eq!(plane.data().as_ptr(), bytes[layout[i].0..].as_ptr());
            assert_eq!(plane.stride(), layout[i].1);
            let rows: Vec<u8> = plane.rows().flatten().copied().collect();
            assert_eq!(rows, expected[i], "plane {i}");
        }
        // Clones share the bytes; the last drop releases them.
        let g = f.clone();
        assert_eq!(Arc::strong_count(&shared), 3);
        drop((f, g));
        assert_eq!(Arc::strong_count(&shared), 1);
    }

    #[test]
    fn writing_a_shared_frame_copies_it_first() {
        let (data, layout) = shared_i420(9, 5);
        let shared: SharedBytes = Arc::new(data.clone());
        let mut f = Frame::from_shared(
            PixelFormat::I420,
            9,
            5,
            ColorSpec::default(),
            &layout,
            shared.clone(),
        )
        .unwrap();
        let before = Frame::from_ref(&f.as_ref()).unwrap();
        {
            let mut m = f.as_mut();
            m.plane_mut(0).row_mut(0)[0] ^= 0xff;
        }
        assert!(!f.is_shared());
        assert_eq!(
            Arc::strong_count(&shared),
            1,
            "the shared bytes are released"
        );
        assert_eq!(
            (*shared).as_ref(),
            &data[..],
            "the caller's bytes are untouched"
        );
        assert_eq!(
            f.as_ref().plane(0).row(0)[0],
            before.as_ref().plane(0).row(0)[0] ^ 0xff
        );
        f.as_mut().plane_mut(0).row_mut(0)[0] ^= 0xff;
        assert!(same(&f.as_ref(), &before.as_ref()));

        // copy_from into a shared frame replaces its storage too.
        let mut g = Frame::from_shared(
            PixelFormat::I420,
            9,
            5,
            ColorSpec::default(),
            &layout,
            shared.clone(),
        )
        .unwrap();
        let black = Frame::black(PixelFormat::I420, 9, 5, ColorSpec::default()).unwrap();
        g.copy_from(&black.as_ref()).unwrap();
        assert!(!g.is_shared());
        assert!(same(&g.as_ref(), &black.as_ref()));
        assert_eq!((*shared).as_ref(), &data[..]);
    }

    #[test]
    fn bad_shared_layouts_are_refused_with_what_was_wrong() {
        let (data, layout) = shared_i420(9, 5);
        let len = data.len();
        let shared: SharedBytes = Arc::new(data);
        let make = |format, w, h, planes: &[(usize, usize)]| {
            Frame::from_shared(format, w, h, ColorSpec::default(), planes, shared.clone())
        };
        assert!(matches!(
            make(PixelFormat::I420, 9, 5, &layout[..2]),
            Err(FrameError::PlaneCount {
                expected: 3,
                found: 2,
                ..
            })
        ));
        assert!(matches!(
            make(PixelFormat::I420, 0, 5, &layout),
            Err(FrameError::ZeroSize { .. })
        ));
        // A stride shorter than the row.
        let mut bad = layout;
        bad[0].1 = 8;
        assert!(matches!(
            make(PixelFormat::I420, 9, 5, &bad),
            Err(FrameError::StrideTooSmall {
                width: 9,
                stride: 8
            })
        ));
        // The Y plane one byte past the end.
        let mut bad = layout;
        bad[0].0 += 1;
        assert!(matches!(
            make(PixelFormat::I420, 9, 5, &bad),
            Err(FrameError::BufferTooSmall { .. })
        ));
        // An offset beyond the buffer.
        let mut bad = layout;
        bad[2].0 = len + 100;
        assert!(matches!(
            make(PixelFormat::I420, 9, 5, &bad),
            Err(FrameError::BufferTooSmall { .. })
        ));
        // A frame taller than the buffer.
        assert!(make(PixelFormat::I420, 9, 6, &layout).is_err());
        assert_eq!(Arc::strong_count(&shared), 1, "refusals keep nothing");
    }

    #[test]
    fn frame_mut_takes_planes_from_any_iterator_and_counts_them() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        let planes = [
            PlaneMut::new(&mut a, 16, 1, 16).unwrap(),
            PlaneMut::new(&mut b, 16, 1, 16).unwrap(),
        ];
        assert!(matches!(
            FrameMut::new(PixelFormat::I420, 4, 2, ColorSpec::default(), planes),
            Err(FrameError::PlaneCount {
                expected: 3,
                found: 2,
                ..
            })
        ));
        let mut buf = [0u8; 96];
        let five = buf
            .chunks_mut(16)
            .take(5)
            .map(|c| PlaneMut::new(c, 16, 1, 16).unwrap());
        assert!(matches!(
            FrameMut::new(PixelFormat::Rgba, 4, 1, ColorSpec::default(), five),
            Err(FrameError::PlaneCount {
                expected: 1,
                found: 5,
                ..
            })
        ));
        let one = buf
            .chunks_mut(16)
            .take(1)
            .map(|c| PlaneMut::new(c, 16, 1, 16).unwrap());
        let f = FrameMut::new(PixelFormat::Rgba, 4, 1, ColorSpec::default(), one).unwrap();
        assert_eq!(f.format(), PixelFormat::Rgba);
    }
}
