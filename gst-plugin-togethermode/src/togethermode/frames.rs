//! GStreamer video frames seen as engine frames: strided views of mapped buffers (no copy),
//! a mapped input buffer shared with the engine, and the writable output frame.

use std::sync::Arc;

use gst_video::prelude::*;

use together_mode::error::FrameError;
use together_mode::frame::{
    ColorSpec, Frame, FrameMut, FrameRef, Matrix, PixelFormat, PlaneMut, PlaneRef, Range,
    SharedBytes,
};

/// Why a GStreamer frame could not be viewed as an engine frame.
#[derive(Debug, thiserror::Error)]
pub(super) enum MapError {
    /// Not one of the formats the engine takes.
    #[error("unsupported video format {0:?}")]
    Format(gst_video::VideoFormat),
    /// A bottom-up plane.
    #[error("plane {plane} has a negative stride ({stride})")]
    Stride { plane: usize, stride: i32 },
    /// A plane the mapping does not have.
    #[error("plane {0} is not mapped")]
    Plane(usize),
    /// The engine refused the planes (sizes, strides).
    #[error(transparent)]
    Frame(#[from] FrameError),
}

fn pixel_format(format: gst_video::VideoFormat) -> Result<PixelFormat, MapError> {
    use gst_video::VideoFormat as V;
    match format {
        V::I420 => Ok(PixelFormat::I420),
        V::Nv12 => Ok(PixelFormat::Nv12),
        V::Rgba => Ok(PixelFormat::Rgba),
        V::Bgra => Ok(PixelFormat::Bgra),
        other => Err(MapError::Format(other)),
    }
}

/// The engine's colour tag for a GStreamer colorimetry (BT.709 or else BT.601; full or
/// limited range).
pub(super) fn color_spec(info: &gst_video::VideoInfo) -> ColorSpec {
    let c = info.colorimetry();
    ColorSpec {
        matrix: if c.matrix() == gst_video::VideoColorMatrix::Bt709 {
            Matrix::Bt709
        } else {
            Matrix::Bt601
        },
        range: if c.range() == gst_video::VideoColorRange::Range0_255 {
            Range::Full
        } else {
            Range::Limited
        },
    }
}

fn stride(strides: &[i32], plane: usize) -> Result<usize, MapError> {
    let s = *strides.get(plane).ok_or(MapError::Plane(plane))?;
    usize::try_from(s).map_err(|_| MapError::Stride { plane, stride: s })
}

/// Views a mapped GStreamer frame as an engine frame, without copying.
pub(super) fn frame_ref<'a>(
    frame: &'a gst_video::VideoFrameRef<&'a gst::BufferRef>,
) -> Result<FrameRef<'a>, MapError> {
    let format = pixel_format(frame.format())?;
    let (w, h) = (frame.width(), frame.height());
    let color = color_spec(frame.info());
    let plane = |i: usize| -> Result<PlaneRef<'a>, MapError> {
        let (pw, ph) = format.plane_size(i, w, h);
        let data = frame.plane_data(i as u32).map_err(|_| MapError::Plane(i))?;
        Ok(PlaneRef::new(
            data,
            pw,
            ph,
            stride(frame.plane_stride(), i)?,
        )?)
    };
    let frame = match format.plane_count() {
        1 => FrameRef::new(format, w, h, color, &[plane(0)?]),
        2 => FrameRef::new(format, w, h, color, &[plane(0)?, plane(1)?]),
        _ => FrameRef::new(format, w, h, color, &[plane(0)?, plane(1)?, plane(2)?]),
    }?;
    Ok(frame)
}

/// An engine frame sharing a pad buffer's memory (no copy): the buffer stays referenced and
/// mapped until the engine drops the frame (when the pad's next buffer replaces it). `None`
/// when the planes do not lie inside one mapping of the whole buffer (several memories, or
/// memory that maps elsewhere); the caller copies then.
pub(super) fn shared_frame(
    frame: &gst_video::VideoFrameRef<&gst::BufferRef>,
) -> Result<Option<Frame>, MapError> {
    let format = pixel_format(frame.format())?;
    let buffer = frame.buffer();
    // Mapping a buffer of several memories would merge them into a new one: a copy.
    if buffer.n_memory() != 1 {
        return Ok(None);
    }
    let Ok(mapped) = buffer.to_owned().into_mapped_buffer_readable() else {
        return Ok(None);
    };
    let (base, len) = (mapped.as_ptr() as usize, mapped.len());
    let n = format.plane_count();
    let mut layout = [(0usize, 0usize); 4];
    for (i, slot) in layout.iter_mut().enumerate().take(n) {
        let data = frame.plane_data(i as u32).map_err(|_| MapError::Plane(i))?;
        let inside = (data.as_ptr() as usize)
            .checked_sub(base)
            .filter(|&offset| offset.saturating_add(data.len()) <= len);
        let Some(offset) = inside else {
            return Ok(None);
        };
        *slot = (offset, stride(frame.plane_stride(), i)?);
    }
    let data: SharedBytes = Arc::new(mapped);
    let color = color_spec(frame.info());
    let (w, h) = (frame.width(), frame.height());
    Ok(Some(Frame::from_shared(
        format,
        w,
        h,
        color,
        &layout[..n],
        data,
    )?))
}

/// Views a writable GStreamer frame as an engine frame, without copying.
pub(super) fn frame_mut<'a>(
    frame: &'a mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    color: ColorSpec,
) -> Result<FrameMut<'a>, MapError> {
    let format = pixel_format(frame.format())?;
    let (w, h) = (frame.width(), frame.height());
    let strides: [i32; 4] = {
        let s = frame.plane_stride();
        std::array::from_fn(|i| s.get(i).copied().unwrap_or(0))
    };
    let n = format.plane_count();
    // No list is allocated per tick: the planes go into a fixed array.
    let mut planes: [Option<PlaneMut<'a>>; 4] = [None, None, None, None];
    let datas = frame.planes_data_mut().into_iter().take(n);
    for (i, (data, slot)) in datas.zip(planes.iter_mut()).enumerate() {
        let (pw, ph) = format.plane_size(i, w, h);
        *slot = Some(PlaneMut::new(data, pw, ph, stride(&strides, i)?)?);
    }
    Ok(FrameMut::new(
        format,
        w,
        h,
        color,
        planes.into_iter().flatten(),
    )?)
}
