//! Criterion bench: our PVM vs the PolkaVM 0.37 interpreter, one group per kernel
//! (`cargo bench -p jam-benches --bench pvm`). Each run takes ~0.2–1 s, so samples are few and
//! flat; per-run setup (registers, gas, memory) is excluded from the timing.
//! Results are checked on every run, as in `pvm-compare`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use jam_benches::kernels::{self, Kernel};
use jam_benches::vm::{self, VmKind};

/// The VMs compared here.
const VMS: &[VmKind] = &[
    #[cfg(feature = "jam")]
    VmKind::Ours,
    VmKind::PolkaVmInterpreter,
];

fn load() -> Vec<Kernel> {
    let dir = kernels::bench_dir().unwrap_or_else(|e| panic!("{e}"));
    kernels::load_all(&dir, None).unwrap_or_else(|e| panic!("{e}"))
}

fn pvm(c: &mut Criterion) {
    for kernel in load() {
        let mut group = c.benchmark_group(kernel.spec.name);
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8));
        for &kind in VMS {
            let mut runner = kind.create(&kernel).unwrap_or_else(|e| panic!("{e}"));
            group.bench_function(kind.label(), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        runner.prepare().unwrap_or_else(|e| panic!("{e}"));
                        let start = Instant::now();
                        let outcome = runner.execute();
                        total += start.elapsed();
                        let outcome = outcome.unwrap_or_else(|e| {
                            panic!("{} on {}: {e}", kernel.spec.name, kind.label())
                        });
                        vm::check(&kernel.spec, kind, &outcome).unwrap_or_else(|e| panic!("{e}"));
                    }
                    total
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, pvm);
criterion_main!(benches);
