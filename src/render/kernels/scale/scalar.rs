//! The reference definitions of the scaling kernels.

use super::{Tap, ONE};

/// `out[x] = (r0[2x] + r0[2x+1] + r1[2x] + r1[2x+1] + 2) >> 2`; a missing last column
/// repeats the previous one. `out.len()` is `ceil(r0.len() / 2)` (extra outputs untouched).
pub fn box_row(r0: &[u8], r1: &[u8], out: &mut [u8]) {
    let w = r0.len().min(r1.len());
    if w == 0 {
        return;
    }
    for (x, o) in out.iter_mut().enumerate().take(w.div_ceil(2)) {
        let a = 2 * x;
        let b = (a + 1).min(w - 1);
        *o = ((r0[a] as u16 + r0[b] as u16 + r1[a] as u16 + r1[b] as u16 + 2) >> 2) as u8;
    }
}

#[inline(always)]
fn lerp(a: u8, b: u8, f: u16) -> u8 {
    ((a as u16 * (ONE - f) + b as u16 * f + ONE / 2) >> 6) as u8
}

/// `out[x] = (a[x] * (64 - f) + b[x] * f + 32) >> 6`, `f` in `0..=64`.
pub fn lerp_rows(a: &[u8], b: &[u8], f: u16, out: &mut [u8]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = lerp(x, y, f);
    }
}

/// `out[k] = lerp(row[t.i], row[t.i + 1], t.f)` for each tap.
pub fn lerp_columns(taps: &[Tap], row: &[u8], out: &mut [u8]) {
    for (o, t) in out.iter_mut().zip(taps) {
        let i = t.i as usize;
        *o = lerp(row[i], row[i + 1], t.f);
    }
}
