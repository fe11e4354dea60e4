//! Per-seat segmenter benchmarks: what the compositor calls per seat per frame
//! (`segment`, then `decontaminate` when a matte was written), in steady state.
//!
//! `segment/<segmenter>/<W>x<H>`: 102x136 is a seat of the 49-seat grid at 1920x1080, 240x320
//! a 9-seat one. Inputs are 8 consecutive frames of a synthetic participant (green screen for
//! the chroma key, a room for the others) with seeded sensor noise, cycled, so the temporal
//! step and the background model's update do their full work every call. The background
//! model has finished its learning phase (30 frames of the empty room) before timing.
//! `refine/<W>x<H>`: the shared refinement alone (guided filter, feather, temporal step) on a
//! half-resolution mask; 274x154 is a seat of the 49-seat ML tick (landscape input), whose
//! coarse mask is 137x77. `refine_radius/274x154/r<R>`: the same with guided filter radius R
//! (the default is 1).
//! `decontaminate/274x154`: the ML path's colour decontamination (`ForegroundPull`) on the
//! refined matte of that seat.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use together_mode::frame::{Frame, PixelFormat, PlaneMut, PlaneRef};
use together_mode::segment::background::{BackgroundModel, BackgroundOptions};
use together_mode::segment::chroma::{ChromaKey, ChromaKeyOptions};
use together_mode::segment::foreground::ForegroundPull;
use together_mode::segment::refine::{RefineOptions, Refiner};
use together_mode::segment::{InputAlpha, Matte, SeatColour, SegmentInput, Segmenter};
use together_mode::synth::{Backdrop, SyntheticParticipant};
use together_mode::ColorSpec;

/// One seat input: packed Y, U, V (with noise) and the true matte as input alpha.
struct SeatInput {
    w: usize,
    h: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    a: Vec<u8>,
}

fn planes(f: &Frame, seed: u64) -> SeatInput {
    let mut state = seed;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 61) as i16) - 3
    };
    let r = f.as_ref();
    let mut grab = |i: usize, n: bool| -> Vec<u8> {
        r.plane(i)
            .rows()
            .flatten()
            .map(|&v| {
                if n {
                    (i16::from(v) + noise()).clamp(16, 235) as u8
                } else {
                    v
                }
            })
            .collect()
    };
    SeatInput {
        w: f.width() as usize,
        h: f.height() as usize,
        y: grab(0, true),
        u: grab(1, true),
        v: grab(2, true),
        a: grab(3, false),
    }
}

fn clip(w: u32, h: u32, backdrop: Backdrop) -> (Vec<SeatInput>, Vec<SeatInput>) {
    let p = SyntheticParticipant::new(3, w, h).with_backdrop(backdrop);
    let frames = (0..8).map(|k| planes(&p.frame(k), k)).collect();
    let mut empty = Frame::new(PixelFormat::I420A, w, h).expect("size");
    p.render_empty(&mut empty);
    let room = (0..30).map(|k| planes(&empty, 100 + k)).collect();
    (frames, room)
}

/// What the compositor does for one seat: segment, then decontaminate a written matte.
fn run(s: &mut dyn Segmenter, f: &mut SeatInput, matte: &mut [u8]) -> Matte {
    let (w, h, cw, ch) = (f.w, f.h, f.w / 2, f.h / 2);
    let input = SegmentInput {
        y: PlaneRef::packed(&f.y, w, h).expect("plane"),
        u: PlaneRef::packed(&f.u, cw, ch).expect("plane"),
        v: PlaneRef::packed(&f.v, cw, ch).expect("plane"),
        input_alpha: Some(PlaneRef::packed(&f.a, w, h).expect("plane")),
        participant: "bench",
        pts: 0,
        color: ColorSpec::BT601_LIMITED,
        source: None,
    };
    let r = s.segment(&input, &mut PlaneMut::new(matte, w, h, w).expect("plane"));
    if r == Matte::Written {
        let mut c = SeatColour {
            y: PlaneMut::new(&mut f.y, w, h, w).expect("plane"),
            u: PlaneMut::new(&mut f.u, cw, ch, cw).expect("plane"),
            v: PlaneMut::new(&mut f.v, cw, ch, cw).expect("plane"),
        };
        s.decontaminate(&mut c, &PlaneRef::packed(matte, w, h).expect("plane"));
    }
    r
}

const SIZES: [(u32, u32); 2] = [(102, 136), (240, 320)];
/// `refine` also covers the seat of the 49-seat ML tick.
const REFINE_SIZES: [(u32, u32); 3] = [(102, 136), (240, 320), (274, 154)];

fn segmenters(c: &mut Criterion) {
    let mut group = c.benchmark_group("segment");
    for (w, h) in SIZES {
        group.throughput(Throughput::Elements(u64::from(w * h)));
        let id = format!("{w}x{h}");
        let mut matte = vec![0u8; (w * h) as usize];
        type Make = fn() -> Box<dyn Segmenter>;
        let cases: [(&str, Backdrop, Make); 3] = [
            ("alpha", Backdrop::Room, || Box::new(InputAlpha)),
            ("chroma", Backdrop::GreenScreen, || {
                Box::new(ChromaKey::new(ChromaKeyOptions::default()))
            }),
            ("background", Backdrop::Room, || {
                Box::new(BackgroundModel::new(BackgroundOptions::default()))
            }),
        ];
        for (name, backdrop, make) in cases {
            let (frames, mut room) = clip(w, h, backdrop);
            let mut s = make();
            for f in &mut room {
                run(s.as_mut(), f, &mut matte);
            }
            let mut k = 0;
            let mut work = planes(&Frame::new(PixelFormat::I420A, w, h).expect("size"), 0);
            group.bench_with_input(BenchmarkId::new(name, &id), &id, |b, _| {
                b.iter(|| {
                    // decontaminate writes the colour: work on a copy, as the compositor works
                    // on freshly scaled planes (the copy is ~1% of the time).
                    k = (k + 1) % frames.len();
                    for (d, s) in [
                        (&mut work.y, &frames[k].y),
                        (&mut work.u, &frames[k].u),
                        (&mut work.v, &frames[k].v),
                        (&mut work.a, &frames[k].a),
                    ] {
                        d.copy_from_slice(s);
                    }
                    run(s.as_mut(), &mut work, &mut matte)
                })
            });
        }
    }
    group.finish();
}

fn refine(c: &mut Criterion) {
    let cases = REFINE_SIZES.map(|(w, h)| (w, h, 1));
    refine_cases(c, "refine", &cases, |w, h, _| format!("{w}x{h}"));
    // The guided filter's radius on the 49-seat ML tick's seat (the box filter's horizontal
    // pass changes method above `SHIFTED_MAX_R`).
    let radii = [2, 4, 5, 8].map(|r| (274, 154, r));
    refine_cases(c, "refine_radius", &radii, |w, h, r| {
        format!("{w}x{h}/r{r}")
    });
}

fn refine_cases(
    c: &mut Criterion,
    name: &str,
    cases: &[(u32, u32, usize)],
    id: fn(usize, usize, usize) -> String,
) {
    let mut group = c.benchmark_group(name);
    for &(w, h, radius) in cases {
        let (w, h) = (w as usize, h as usize);
        group.throughput(Throughput::Elements((w * h) as u64));
        let (frames, _) = clip(w as u32, h as u32, Backdrop::Room);
        // The true matte at half resolution as the coarse mask.
        let coarse: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| {
                (0..h / 2)
                    .flat_map(|y| (0..w / 2).map(move |x| (y, x)))
                    .map(|(y, x)| f.a[2 * y * w + 2 * x])
                    .collect()
            })
            .collect();
        let mut refiner = Refiner::new(RefineOptions::default().with_radius(radius));
        let mut matte = vec![0u8; w * h];
        let mut k = 0;
        group.bench_with_input(BenchmarkId::from_parameter(id(w, h, radius)), &w, |b, _| {
            b.iter(|| {
                k = (k + 1) % frames.len();
                refiner.refine(
                    &PlaneRef::packed(&frames[k].y, w, h).expect("plane"),
                    &PlaneRef::packed(&coarse[k], w / 2, h / 2).expect("plane"),
                    &mut PlaneMut::new(&mut matte, w, h, w).expect("plane"),
                )
            })
        });
    }
    group.finish();
}

fn decontaminate(c: &mut Criterion) {
    let mut group = c.benchmark_group("decontaminate");
    let (w, h) = (274usize, 154usize);
    group.throughput(Throughput::Elements((w * h) as u64));
    let (frames, _) = clip(w as u32, h as u32, Backdrop::Room);
    // The refined matte of each frame from its true matte at half resolution (soft edges, as
    // the ML path's).
    let mut refiner = Refiner::new(RefineOptions::default());
    let mattes: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let coarse: Vec<u8> = (0..h / 2)
                .flat_map(|y| (0..w / 2).map(move |x| (y, x)))
                .map(|(y, x)| f.a[2 * y * w + 2 * x])
                .collect();
            let mut m = vec![0u8; w * h];
            refiner.refine(
                &PlaneRef::packed(&f.y, w, h).expect("plane"),
                &PlaneRef::packed(&coarse, w / 2, h / 2).expect("plane"),
                &mut PlaneMut::new(&mut m, w, h, w).expect("plane"),
            );
            m
        })
        .collect();
    let mut pull = ForegroundPull::new();
    let mut work = planes(
        &Frame::new(PixelFormat::I420A, w as u32, h as u32).expect("size"),
        0,
    );
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut k = 0;
    let id = format!("{w}x{h}");
    group.bench_with_input(BenchmarkId::from_parameter(id), &(), |b, _| {
        b.iter(|| {
            k = (k + 1) % frames.len();
            for (d, s) in [
                (&mut work.y, &frames[k].y),
                (&mut work.u, &frames[k].u),
                (&mut work.v, &frames[k].v),
            ] {
                d.copy_from_slice(s);
            }
            let mut colour = SeatColour {
                y: PlaneMut::new(&mut work.y, w, h, w).expect("plane"),
                u: PlaneMut::new(&mut work.u, cw, ch, cw).expect("plane"),
                v: PlaneMut::new(&mut work.v, cw, ch, cw).expect("plane"),
            };
            pull.apply(
                &mut colour,
                &PlaneRef::packed(&mattes[k], w, h).expect("plane"),
            );
        })
    });
    group.finish();
}

criterion_group!(benches, segmenters, refine, decontaminate);
criterion_main!(benches);
