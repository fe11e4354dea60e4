//! Rendering a tick, one stage per file, in the order the data flows:
//!
//! 1. `layout.rs`: a scene placed at one output size ([`Layout`]): sprites scaled, converted
//!    once to premultiplied YUV + alpha and clipped to the output; seats as even pixel
//!    rectangles; layers in draw order.
//! 2. `crop.rs`: the window of a participant's frame a seat shows (today the centred crop to
//!    the seat's aspect; framing chooses it here).
//! 3. `seat.rs`: that window into a seat render: per-plane scale, colour tag, matte (the
//!    `Segmenter`), finish (opacity, dimming, mirroring, chroma alpha).
//! 4. `compose.rs`: every layer drawn into the output, in parallel over disjoint bands of
//!    rows.
//!
//! `kernels/` holds our pixel kernels (scalar reference and AVX2); `resize.rs` adapts
//! fast_image_resize to our plane views (sprites, and the Lanczos3 and nearest seat filters).

mod compose;
mod crop;
mod layout;
mod premul;
mod seat;

// Public for the per-kernel benches and the fuzz targets, not an API a media pipeline uses
// (its `SimdLevel` is re-exported at the crate root): hidden from the docs.
#[doc(hidden)]
#[allow(unsafe_code)] // SIMD kernels: `# Safety` contracts and `SAFETY` comments inside.
pub mod kernels;
#[allow(unsafe_code)] // `unsafe impl` of fast_image_resize's image traits for our views.
pub(crate) mod resize;

pub use compose::BAND_ROWS;
pub use layout::Layout;

pub(crate) use compose::compose;
pub(crate) use seat::{
    prefetch_seat, render_seat, render_seat_placed, SeatParams, SeatRender, SeatScaler,
    SeatScratch, SeatStyle,
};

use kernels::SimdLevel;

/// 2x2 means (rounded) of a `w x h` alpha plane into `out` (`ceil(w/2) x ceil(h/2)`): the
/// chroma-resolution alpha of a sprite or a seat's matte, with the box kernel of the scaler.
fn chroma_alpha_into(level: SimdLevel, a: &[u8], w: usize, h: usize, out: &mut [u8]) {
    let cw = w.div_ceil(2);
    for (cy, orow) in out
        .chunks_exact_mut(cw.max(1))
        .enumerate()
        .take(h.div_ceil(2))
    {
        let r0 = &a[2 * cy * w..2 * cy * w + w];
        let r1 = if 2 * cy + 1 < h {
            &a[(2 * cy + 1) * w..(2 * cy + 2) * w]
        } else {
            r0
        };
        kernels::scale::box_row(level, r0, r1, orow);
    }
}
