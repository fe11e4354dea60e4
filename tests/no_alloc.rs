//! Steady state allocates nothing: after a warm-up, ticks of the canonical workload (new
//! frames from every participant, seats re-rendered, damaged regions recomposed) make no
//! heap allocation. A counting global allocator sees every allocation of this test binary.

use together_mode::frame::Frame;
use together_mode::synth::SyntheticParticipant;
use together_mode::workload::{Workload, WorkloadMatte};
use together_mode::{Compositor, CompositorOptions, Role, Scene, SegmentMode};

mod common;
use common::alloc::allocations_during;

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

/// Ticks counted after the warm-up.
const TICKS: usize = 200;

/// Allocations made by `TICKS` calls of `tick`.
fn counted(mut tick: impl FnMut()) -> usize {
    allocations_during(|| {
        for _ in 0..TICKS {
            tick();
        }
    })
}

fn allocations_per_tick(n: usize, matte: WorkloadMatte, parallel: bool, warm_up: usize) -> usize {
    let opts = CompositorOptions::default().with_parallel(parallel);
    let mut w = Workload::new(n, 640, 360, matte, opts).unwrap();
    for _ in 0..warm_up {
        w.tick().unwrap();
    }
    counted(|| w.tick().unwrap())
}

/// The same, with the ticks driven from a thread of rayon's pool (the whole loop handed to
/// the pool once): the engine's parallel work then goes through that worker's own deque.
fn allocations_per_tick_in_pool(n: usize, warm_up: usize) -> usize {
    let opts = CompositorOptions::default().with_parallel(true);
    let mut w = Workload::new(n, 640, 360, WorkloadMatte::Constant, opts).unwrap();
    rayon::scope(|_| {
        for _ in 0..warm_up {
            w.tick().unwrap();
        }
        counted(|| w.tick().unwrap())
    })
}

/// Allocations of `TICKS` serial ticks of builtin:auditorium with autoZoom on and three
/// people (a new frame from each every tick, two alternating frames as in the workload),
/// after the view has zoomed onto them and settled.
fn allocations_per_tick_zoomed() -> usize {
    let options = CompositorOptions::default()
        .with_size(640, 360)
        .with_parallel(false)
        .with_segment(SegmentMode::Alpha)
        .with_auto_zoom(Some(true));
    let scene = Scene::builtin("auditorium").unwrap();
    let mut e = Compositor::new(scene, options).unwrap();
    e.render().unwrap();
    let ids: Vec<String> = (0..3).map(|i| format!("8:acs:{i}")).collect();
    let mut spare: Vec<Option<Frame>> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let p = SyntheticParticipant::new(i as u64, 320, 180);
        e.join(id, Role::Attendee).unwrap();
        e.push(id, p.frame(0), 0).unwrap();
        spare.push(Some(p.frame(1)));
    }
    let mut k = 0i64;
    let mut tick = |e: &mut Compositor| {
        k += 1;
        for (id, spare) in ids.iter().zip(spare.iter_mut()) {
            if let Some(f) = spare.take() {
                *spare = e.push(id, f, k).unwrap();
            }
        }
        e.render().unwrap();
    };
    // The view moves from the whole scene onto the three, then settles.
    let start = e.view();
    for _ in 0..60 {
        tick(&mut e);
    }
    assert_ne!(e.view(), start, "the view did not zoom");
    assert_eq!(e.view(), e.zoom_target(), "the view did not settle");
    counted(|| tick(&mut e))
}

/// The ML path's colour decontamination on a seat with a soft-edged person, once sized.
fn allocations_decontaminating() -> usize {
    use together_mode::frame::{PlaneMut, PlaneRef};
    use together_mode::segment::foreground::ForegroundPull;
    use together_mode::segment::SeatColour;
    let (w, h) = (274usize, 154usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let matte: Vec<u8> = (0..w * h)
        .map(|i| {
            let (dx, dy) = ((i % w) as f32 - 137.0, (i / w) as f32 - 100.0);
            ((70.0 - (dx * dx + dy * dy).sqrt()) * 20.0 + 128.0).clamp(0.0, 255.0) as u8
        })
        .collect();
    let (mut y, mut u, mut v) = (
        vec![90u8; w * h],
        vec![100u8; cw * ch],
        vec![150u8; cw * ch],
    );
    let mut pull = ForegroundPull::new();
    let mut tick = || {
        let mut colour = SeatColour {
            y: PlaneMut::new(&mut y, w, h, w).unwrap(),
            u: PlaneMut::new(&mut u, cw, ch, cw).unwrap(),
            v: PlaneMut::new(&mut v, cw, ch, cw).unwrap(),
        };
        pull.apply(&mut colour, &PlaneRef::packed(&matte, w, h).unwrap());
    };
    tick();
    counted(tick)
}

// One test function: the counter is global, so the cases must not run concurrently.
#[test]
fn steady_state_ticks_do_not_allocate() {
    let n = allocations_per_tick_zoomed();
    assert_eq!(n, 0, "autoZoom, settled: {n} allocations in {TICKS} ticks");
    for (n, matte) in [
        (9, WorkloadMatte::Constant),
        (25, WorkloadMatte::Opaque),
        (16, WorkloadMatte::PerPixel),
    ] {
        assert_eq!(
            allocations_per_tick(n, matte, false, 5),
            0,
            "serial N={n} {matte:?}"
        );
    }
    // Called from outside rayon's pool, each tick hands its work to the pool through the
    // pool's injector queue, which allocates a new block every 63 jobs (about 6 in 200
    // ticks); it must stay rare, never one per tick. Driven from a pool thread (the whole
    // loop handed to the pool once, as `rayon::scope` or `ThreadPool::install` do), the work
    // goes through that worker's own deque and nothing is allocated.
    let _ = allocations_per_tick(4, WorkloadMatte::Constant, true, 50);
    let n = allocations_per_tick(9, WorkloadMatte::Constant, true, 50);
    assert!(n < TICKS / 10, "parallel: {n} allocations in {TICKS} ticks");
    let n = allocations_per_tick_in_pool(9, 50);
    assert_eq!(
        n, 0,
        "parallel, driven from the pool: {n} allocations in {TICKS} ticks"
    );
    let n = allocations_decontaminating();
    assert_eq!(n, 0, "decontamination: {n} allocations in {TICKS} calls");
}
