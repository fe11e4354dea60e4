//! End-to-end and per-kernel benchmarks.
//!
//! `compose/N`: the canonical workload (`together_mode::workload`, the inputs `together bench`
//! runs): N 640x360 I420 participants centre-cropped to 3:4, bilinear-scaled into a grid of
//! seats and blended at alpha 0.8 over a 1920x1080 background; every participant pushes a new
//! frame every tick. Per stage: `scale/*`: one seat's planes through the seat scaler (N=9, 25,
//! 49 seat sizes from the 270x360 crop), per SIMD tier; `blend/*`: one 1920-pixel row per
//! kernel and tier; `convert/*`: an input frame's format conversion to I420 (640x360 RGBA,
//! NV12) and `compose/serial-bt709/49`: the workload with BT.709-tagged inputs, so every seat
//! is also converted to the output's BT.601 tag.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use together_mode::frame::{convert, ColorSpec, Frame, PixelFormat, PlaneMut, PlaneRef};
use together_mode::render::kernels::scale::PlaneScaler;
use together_mode::render::kernels::{blend, SimdLevel};
use together_mode::workload::{pattern, Workload, WorkloadMatte};
use together_mode::CompositorOptions;

fn compose(c: &mut Criterion) {
    let mut group = c.benchmark_group("compose");
    group.sample_size(20);
    let runs = [9usize, 25, 49]
        .into_iter()
        .flat_map(|n| [(n, false, false), (n, true, false)])
        .chain([(49, false, true)]);
    for (n, parallel, bt709) in runs {
        let options = CompositorOptions::default().with_parallel(parallel);
        let mut workload =
            Workload::new(n, 1920, 1080, WorkloadMatte::Constant, options).expect("workload");
        if bt709 {
            workload = workload
                .with_input_color(ColorSpec::BT709_LIMITED)
                .expect("tagged inputs");
        }
        group.throughput(Throughput::Elements(1));
        let name = match (parallel, bt709) {
            (_, true) => "serial-bt709",
            (true, false) => "parallel",
            (false, false) => "serial",
        };
        group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
            b.iter(|| workload.tick().expect("tick"))
        });
    }
    group.finish();
}

fn kernels(c: &mut Criterion) {
    let mut group = c.benchmark_group("blend");
    let n = 1920;
    let src: Vec<u8> = (0..n).map(|i| (i * 7 % 256) as u8).collect();
    let alpha: Vec<u8> = (0..n).map(|i| (i * 13 % 256) as u8).collect();
    let mut dst: Vec<u8> = (0..n).map(|i| (i * 3 % 256) as u8).collect();
    group.throughput(Throughput::Bytes(n as u64));
    for level in SimdLevel::available() {
        group.bench_function(BenchmarkId::new("straight", format!("{level:?}")), |b| {
            b.iter(|| blend::straight(level, &mut dst, &src, &alpha))
        });
        group.bench_function(BenchmarkId::new("premul", format!("{level:?}")), |b| {
            b.iter(|| blend::premul(level, &mut dst, &src, &alpha))
        });
        group.bench_function(BenchmarkId::new("constant", format!("{level:?}")), |b| {
            b.iter(|| blend::constant(level, &mut dst, &src, 204))
        });
    }
    group.finish();
}

/// The seat scaler alone: the luma and both chroma planes of one seat, from the workload's
/// 270x360 crop (chroma 135x180) to each N's seat.
fn scale(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale");
    let luma: Vec<u8> = (0..270 * 360).map(|i| (i * 7 % 251) as u8).collect();
    let chroma: Vec<u8> = (0..135 * 180).map(|i| (i * 13 % 251) as u8).collect();
    let lsrc = PlaneRef::packed(&luma, 270, 360).expect("plane");
    let csrc = PlaneRef::packed(&chroma, 135, 180).expect("plane");
    for (n, (w, h)) in [
        (9, (240usize, 320usize)),
        (25, (144, 192)),
        (49, (102, 136)),
    ] {
        let mut ls = PlaneScaler::new((270, 360), (w, h), false).expect("scaler");
        let mut cs = PlaneScaler::new((135, 180), (w / 2, h / 2), false).expect("scaler");
        let mut ly = vec![0u8; w * h];
        let mut cy = vec![0u8; w / 2 * (h / 2)];
        group.throughput(Throughput::Bytes((270 * 360 + 2 * 135 * 180) as u64));
        for level in SimdLevel::available() {
            let id = BenchmarkId::new(format!("seat-{w}x{h}"), format!("N{n}-{level:?}"));
            group.bench_function(id, |b| {
                b.iter(|| {
                    let mut l = PlaneMut::new(&mut ly, w, h, w).expect("plane");
                    ls.scale(level, lsrc, &mut l).expect("scale");
                    for _ in 0..2 {
                        let mut c = PlaneMut::new(&mut cy, w / 2, h / 2, w / 2).expect("plane");
                        cs.scale(level, csrc, &mut c).expect("scale");
                    }
                })
            });
        }
    }
    group.finish();
}

/// Input format conversion to I420 of one 640x360 frame (what RGBA and NV12 inputs cost
/// before cropping; the compositor converts only the crop).
fn colour(c: &mut Criterion) {
    let mut group = c.benchmark_group("convert");
    group.throughput(Throughput::Elements(1));
    let src_i420 = pattern(3, 0, false).expect("pattern");
    let mut out = Frame::new(PixelFormat::I420, 640, 360).expect("frame");
    for format in [PixelFormat::Rgba, PixelFormat::Nv12] {
        let mut src = Frame::new(format, 640, 360).expect("frame");
        convert(&src_i420.as_ref(), &mut src.as_mut()).expect("to source format");
        group.bench_function(format!("{format:?}-to-I420-640x360"), |b| {
            b.iter(|| convert(&src.as_ref(), &mut out.as_mut()).expect("convert"))
        });
    }
    group.finish();
}

criterion_group!(benches, compose, scale, kernels, colour);
criterion_main!(benches);
