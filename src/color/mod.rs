//! Colour conversion, all in one place:
//!
//! - [`convert`]: between pixel formats (RGBA/BGRA to and from YUV through the `yuv` crate,
//!   NV12 to and from I420), keeping the frame's colour tag;
//! - `retag.rs`: YUV from one colour tag (matrix and range) to another, on a seat's planes
//!   after scaling, with a scalar and an AVX2 tier.
//!
//! The tags themselves ([`ColorSpec`], [`Matrix`], [`Range`]) are part of a frame's
//! description and live in [`crate::frame`].

#[allow(unsafe_code)] // the AVX2 tier of the tag conversion (`target_feature`).
mod retag;

pub(crate) use retag::ColorConvert;

use crate::error::FrameError;
use crate::frame::{ColorSpec, Frame, FrameMut, FrameRef, Matrix, PixelFormat, Range};

/// The `yuv` crate's name for a tag's matrix.
fn yuv_matrix(c: ColorSpec) -> yuv::YuvStandardMatrix {
    match c.matrix {
        Matrix::Bt601 => yuv::YuvStandardMatrix::Bt601,
        Matrix::Bt709 => yuv::YuvStandardMatrix::Bt709,
    }
}

/// The `yuv` crate's name for a tag's range.
fn yuv_range(c: ColorSpec) -> yuv::YuvRange {
    match c.range {
        Range::Limited => yuv::YuvRange::Limited,
        Range::Full => yuv::YuvRange::Full,
    }
}

fn yuv_err(e: yuv::YuvError) -> FrameError {
    FrameError::Conversion(e.to_string())
}

/// Converts `src` into `dst` (same size). Supported: any format to I420/I420A (alpha made
/// opaque where the source has none), and I420/I420A/NV12 to RGBA/BGRA. Other pairs, and
/// same-format copies, are handled too; every pair of the
/// [`PixelFormat`]s works.
pub fn convert(src: &FrameRef<'_>, dst: &mut FrameMut<'_>) -> Result<(), FrameError> {
    use PixelFormat as F;
    if (src.width(), src.height()) != (dst.width(), dst.height()) {
        return Err(FrameError::SizeMismatch {
            expected: (dst.width(), dst.height()),
            found: (src.width(), src.height()),
        });
    }
    let (w, h) = (src.width(), src.height());
    let color = src.color();
    dst.set_color(color);
    if src.format() == dst.format() {
        for (i, p) in src.planes().iter().enumerate() {
            dst.plane_mut(i).copy_from(p)?;
        }
        return Ok(());
    }
    match (src.format(), dst.format()) {
        // YUV -> YUV planar
        (F::I420 | F::I420A, F::I420 | F::I420A) => {
            for i in 0..3 {
                dst.plane_mut(i).copy_from(&src.plane(i))?;
            }
            if dst.format() == F::I420A {
                dst.plane_mut(3).fill(255);
            }
        }
        (F::Nv12, F::I420 | F::I420A) => {
            dst.plane_mut(0).copy_from(&src.plane(0))?;
            let uv = src.plane(1);
            let planes = dst.planes_mut();
            let (u, rest) = planes[1..].split_at_mut(1);
            for (y, s) in uv.rows().enumerate() {
                let ur = u[0].row_mut(y);
                let vr = rest[0].row_mut(y);
                for (x, pair) in s.chunks_exact(2).enumerate() {
                    ur[x] = pair[0];
                    vr[x] = pair[1];
                }
            }
            if dst.format() == F::I420A {
                dst.plane_mut(3).fill(255);
            }
        }
        (F::I420 | F::I420A, F::Nv12) => {
            dst.plane_mut(0).copy_from(&src.plane(0))?;
            let (u, v) = (src.plane(1), src.plane(2));
            let mut uv = dst.plane_mut(1);
            for y in 0..u.height() {
                let row = uv.row_mut(y);
                for (x, (a, b)) in u.row(y).iter().zip(v.row(y)).enumerate() {
                    row[2 * x] = *a;
                    row[2 * x + 1] = *b;
                }
            }
        }
        // RGB -> YUV
        (F::Rgba | F::Bgra, F::I420 | F::I420A) => rgb_to_i420(src, dst)?,
        (F::Rgba | F::Bgra, F::Nv12) => {
            let mut tmp = Frame::new(F::I420, w, h)?;
            rgb_to_i420(src, &mut tmp.as_mut())?;
            tmp.set_color(color);
            return convert(&tmp.as_ref(), dst);
        }
        // YUV -> RGB
        (F::I420 | F::I420A | F::Nv12, F::Rgba | F::Bgra) => {
            let owned;
            let s = if src.format() == F::Nv12 {
                owned = src.to_frame(F::I420)?;
                owned.as_ref()
            } else {
                *src
            };
            i420_to_rgb(&s, dst)?;
        }
        (F::Rgba | F::Bgra, F::Rgba | F::Bgra) => {
            let p = src.plane(0);
            let mut d = dst.plane_mut(0);
            for y in 0..p.height() {
                let drow = d.row_mut(y);
                for (o, i) in drow.chunks_exact_mut(4).zip(p.row(y).chunks_exact(4)) {
                    o.copy_from_slice(&[i[2], i[1], i[0], i[3]]);
                }
            }
        }
        (a, b) => return Err(FrameError::Unsupported { from: a, to: b }),
    }
    Ok(())
}

fn rgb_to_i420(src: &FrameRef<'_>, dst: &mut FrameMut<'_>) -> Result<(), FrameError> {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let p = src.plane(0);
    // The yuv crate wants `stride * rows` bytes and skips a short last row pair. A cropped
    // view's last row is shorter than its stride, so convert all but the last rows in place
    // (an even count, for 4:2:0) and the last 2 or 3 from a small packed copy.
    let whole = p.data().len() >= p.stride() * h;
    let k = if whole { h } else { h.saturating_sub(2) & !1 };
    if k > 0 {
        rgb_rows_to_i420(src, p.data(), p.stride(), 0, k, dst)?;
    }
    if k < h {
        let mut tail = Vec::with_capacity(4 * w * (h - k));
        for y in k..h {
            tail.extend_from_slice(p.row(y));
        }
        rgb_rows_to_i420(src, &tail, 4 * w, k, h - k, dst)?;
    }
    if let Some(a) = dst.planes_mut().get_mut(3) {
        for y in 0..h {
            let arow = a.row_mut(y);
            for (o, px) in arow.iter_mut().zip(p.row(y).chunks_exact(4)) {
                *o = px[3];
            }
        }
    }
    Ok(())
}

/// Converts `rows` rows of packed RGBA/BGRA (`rgba`, `stride` bytes apart) into the Y, U, V
/// planes of `dst` from luma row `row0` (even) on.
fn rgb_rows_to_i420(
    src: &FrameRef<'_>,
    rgba: &[u8],
    stride: usize,
    row0: usize,
    rows: usize,
    dst: &mut FrameMut<'_>,
) -> Result<(), FrameError> {
    let color = src.color();
    let planes = dst.planes_mut();
    let (yp, rest) = planes.split_at_mut(1);
    let (up, rest) = rest.split_at_mut(1);
    let vp = &mut rest[0];
    let (ys, us, vs) = (yp[0].stride(), up[0].stride(), vp.stride());
    let mut img = yuv::YuvPlanarImageMut {
        y_plane: yuv::BufferStoreMut::Borrowed(&mut yp[0].data_mut()[row0 * ys..]),
        y_stride: ys as u32,
        u_plane: yuv::BufferStoreMut::Borrowed(&mut up[0].data_mut()[row0 / 2 * us..]),
        u_stride: us as u32,
        v_plane: yuv::BufferStoreMut::Borrowed(&mut vp.data_mut()[row0 / 2 * vs..]),
        v_stride: vs as u32,
        width: src.width(),
        height: rows as u32,
    };
    let f = if src.format() == PixelFormat::Rgba {
        yuv::rgba_to_yuv420
    } else {
        yuv::bgra_to_yuv420
    };
    f(
        &mut img,
        rgba,
        stride as u32,
        yuv_range(color),
        yuv_matrix(color),
        yuv::YuvConversionMode::Balanced,
    )
    .map_err(yuv_err)
}

/// Converts an RGBA or BGRA frame (any stride, a cropped view too) into packed 4:4:4 planes
/// `y`, `u`, `v` (`width * height` bytes each) in the frame's colour tag: one chroma sample
/// per pixel, for callers that subsample chroma themselves (weighted by alpha, for
/// premultiplied scaling). Row by row, so a view's short last row needs no copy.
pub(crate) fn rgb_to_yuv444(
    src: &FrameRef<'_>,
    y: &mut [u8],
    u: &mut [u8],
    v: &mut [u8],
) -> Result<(), FrameError> {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let f = match src.format() {
        PixelFormat::Rgba => yuv::rgba_to_yuv444,
        PixelFormat::Bgra => yuv::bgra_to_yuv444,
        other => {
            return Err(FrameError::Unsupported {
                from: other,
                to: PixelFormat::I420,
            })
        }
    };
    if w == 0 || [y.len(), u.len(), v.len()].iter().any(|&n| n < w * h) {
        return Err(FrameError::BufferTooSmall {
            expected: w * h,
            found: y.len().min(u.len()).min(v.len()),
        });
    }
    let color = src.color();
    let p = src.plane(0);
    for (r, ((yr, ur), vr)) in y
        .chunks_exact_mut(w)
        .zip(u.chunks_exact_mut(w))
        .zip(v.chunks_exact_mut(w))
        .take(h)
        .enumerate()
    {
        let mut img = yuv::YuvPlanarImageMut {
            y_plane: yuv::BufferStoreMut::Borrowed(yr),
            y_stride: w as u32,
            u_plane: yuv::BufferStoreMut::Borrowed(ur),
            u_stride: w as u32,
            v_plane: yuv::BufferStoreMut::Borrowed(vr),
            v_stride: w as u32,
            width: w as u32,
            height: 1,
        };
        f(
            &mut img,
            p.row(r),
            4 * w as u32,
            yuv_range(color),
            yuv_matrix(color),
            yuv::YuvConversionMode::Balanced,
        )
        .map_err(yuv_err)?;
    }
    Ok(())
}

fn i420_to_rgb(src: &FrameRef<'_>, dst: &mut FrameMut<'_>) -> Result<(), FrameError> {
    let (w, h) = (src.width(), src.height());
    let color = src.color();
    let (y, u, v) = (src.plane(0), src.plane(1), src.plane(2));
    let img = yuv::YuvPlanarImage {
        y_plane: y.data(),
        y_stride: y.stride() as u32,
        u_plane: u.data(),
        u_stride: u.stride() as u32,
        v_plane: v.data(),
        v_stride: v.stride() as u32,
        width: w,
        height: h,
    };
    let rgba_format = dst.format();
    let mut out = dst.plane_mut(0);
    let stride = out.stride() as u32;
    let f = if rgba_format == PixelFormat::Rgba {
        yuv::yuv420_to_rgba
    } else {
        yuv::yuv420_to_bgra
    };
    f(
        &img,
        out.data_mut(),
        stride,
        yuv_range(color),
        yuv_matrix(color),
    )
    .map_err(yuv_err)?;
    if src.format() == PixelFormat::I420A {
        let a = src.plane(3);
        for yy in 0..h as usize {
            let row = out.row_mut(yy);
            for (px, al) in row.chunks_exact_mut(4).zip(a.row(yy)) {
                px[3] = *al;
            }
        }
    }
    Ok(())
}
