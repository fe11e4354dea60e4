//! End-to-end and per-kernel benchmarks.
//!
//! `compose/N`: the canonical workload (../shared/bench/WORKLOAD.md): N 640x360 I420
//! participants centre-cropped to 3:4, bilinear-scaled into a grid of seats and blended at
//! alpha 0.8 over a 1920x1080 background; every participant pushes a new frame every tick.
//! `blend/*`: one 1920-pixel row per kernel and SIMD tier.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use together_mode::frame::{Frame, PixelFormat};
use together_mode::render::kernels::{blend, SimdLevel};
use together_mode::{Compositor, CompositorOptions, Role, Scene};

/// A deterministic 640x360 I420 test pattern (seeded).
fn pattern(seed: u64) -> Frame {
    let mut f = Frame::new(PixelFormat::I420, 640, 360).expect("valid size");
    let mut m = f.as_mut();
    for (i, plane) in m.planes_mut().iter_mut().enumerate() {
        for (y, row) in plane.rows_mut().enumerate() {
            for (x, v) in row.iter_mut().enumerate() {
                *v = ((x as u64 * (3 + seed) + y as u64 * (5 + i as u64) + seed * 40) % 220 + 16)
                    as u8;
            }
        }
    }
    f
}

fn compose(c: &mut Criterion) {
    let mut group = c.benchmark_group("compose");
    group.sample_size(20);
    for n in [9usize, 25, 49] {
        for parallel in [false, true] {
            let scene = Scene::grid(n, 1920, 1080).expect("grid scene");
            let opts = CompositorOptions::default()
                .with_seat_opacity(0.8)
                .with_parallel(parallel);
            let mut engine = Compositor::new(scene, opts).expect("engine");
            let ids: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
            for id in &ids {
                engine.join(id, Role::Attendee).expect("seat");
            }
            // Two frames per participant, alternated (push returns the one it replaces), so
            // every tick re-renders every seat.
            let mut spare: Vec<Option<Frame>> = Vec::with_capacity(n);
            for (i, id) in ids.iter().enumerate() {
                engine.push(id, pattern(i as u64 % 8), 0).expect("push");
                spare.push(Some(pattern(i as u64 % 8 + 8)));
            }
            let mut tick = 0i64;
            group.throughput(Throughput::Elements(1));
            let name = if parallel { "parallel" } else { "serial" };
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    for (id, s) in ids.iter().zip(spare.iter_mut()) {
                        let f = s.take().expect("a spare frame");
                        *s = engine.push(id, f, tick).expect("push");
                    }
                    tick += 1;
                    engine.render().expect("render").width()
                })
            });
        }
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

criterion_group!(benches, compose, kernels);
criterion_main!(benches);
