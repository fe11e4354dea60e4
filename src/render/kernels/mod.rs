//! Pixel kernels: one module per operation, the scalar version always compiled and the
//! definition of the result; SIMD tiers bit-exact with it, picked once per call by
//! [`SimdLevel`], never per pixel.

pub mod blend;
pub mod scale;

use std::sync::OnceLock;

/// Instruction-set tiers, ordered: a higher level may use everything a lower one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Portable Rust; the reference.
    Scalar,
    /// x86-64 AVX2.
    Avx2,
}

impl SimdLevel {
    /// The best level this CPU supports (detected once).
    pub fn detect() -> SimdLevel {
        static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx2") {
                    return SimdLevel::Avx2;
                }
            }
            SimdLevel::Scalar
        })
    }

    /// `requested`, lowered to what the CPU supports: an override can only lower the level.
    pub fn clamp_to_cpu(requested: SimdLevel) -> SimdLevel {
        requested.min(SimdLevel::detect())
    }

    /// Every level this CPU can run, lowest first (for tests and benchmarks).
    pub fn available() -> Vec<SimdLevel> {
        [SimdLevel::Scalar, SimdLevel::Avx2]
            .into_iter()
            .filter(|l| *l <= SimdLevel::detect())
            .collect()
    }
}

/// `round(x / 255)` for `x <= 65025 + 127`, exactly: `((x + 128) * 257) >> 16`.
#[inline(always)]
pub(crate) fn div255(x: u32) -> u8 {
    (((x + 128) * 257) >> 16) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div255_is_exact_rounding() {
        for x in 0..=65025u32 {
            let want = ((x as f64) / 255.0).round() as u32;
            assert_eq!(div255(x) as u32, want, "x = {x}");
        }
    }

    #[test]
    fn clamp_only_lowers() {
        assert_eq!(
            SimdLevel::clamp_to_cpu(SimdLevel::Scalar),
            SimdLevel::Scalar
        );
        assert!(SimdLevel::clamp_to_cpu(SimdLevel::Avx2) <= SimdLevel::detect());
    }
}
