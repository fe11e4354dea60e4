//! The reference definitions of the blend kernels.

use crate::render::kernels::div255;

/// `dst = sat(src + div255(dst * (255 - a)))`.
pub fn premul(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    for ((d, &s), &a) in dst.iter_mut().zip(src).zip(alpha) {
        let keep = div255(*d as u32 * (255 - a as u32));
        *d = s.saturating_add(keep);
    }
}

/// `dst = div255(src * a + dst * (255 - a))`.
pub fn straight(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    for ((d, &s), &a) in dst.iter_mut().zip(src).zip(alpha) {
        *d = div255(s as u32 * a as u32 + *d as u32 * (255 - a as u32));
    }
}

/// `dst = div255(src * a + dst * (255 - a))` with one `a`.
pub fn constant(dst: &mut [u8], src: &[u8], a: u8) {
    let (a, ia) = (a as u32, 255 - a as u32);
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = div255(s as u32 * a + *d as u32 * ia);
    }
}

/// `out = div255(src * a + below * (255 - a))`: [`straight`] reading what is below from
/// another row.
pub fn straight_over(out: &mut [u8], below: &[u8], src: &[u8], alpha: &[u8]) {
    for (((o, &d), &s), &a) in out.iter_mut().zip(below).zip(src).zip(alpha) {
        *o = div255(s as u32 * a as u32 + d as u32 * (255 - a as u32));
    }
}

/// `out = div255(src * a + below * (255 - a))` with one `a`.
pub fn constant_over(out: &mut [u8], below: &[u8], src: &[u8], a: u8) {
    let (a, ia) = (a as u32, 255 - a as u32);
    for ((o, &d), &s) in out.iter_mut().zip(below).zip(src) {
        *o = div255(s as u32 * a + d as u32 * ia);
    }
}
