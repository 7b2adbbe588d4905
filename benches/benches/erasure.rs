//! Criterion bench: erasure coding of a full-size work bundle (`W_B` octets, full chain:
//! 342-of-1023) through `jam_state::erasure`, next to `reed-solomon-simd` called directly on
//! the same data (`cargo bench -p jam-benches --bench erasure`).
//!
//! Reconstruction is the worst case: every data shard lost, all 342 shards given are
//! recovery shards. `encode_into` encodes into one reused shard vector, as a node that encodes
//! bundle after bundle can. After the criterion groups a short summary prints MB/s (of bundle data)
//! for both and the ratio ours / direct.

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, SamplingMode, Throughput};
use jam_state::erasure::{self, ErasureParams};
use jam_state::params::Params;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

/// A full-size bundle of pseudo-random octets.
fn bundle() -> Vec<u8> {
    let len = Params::full().max_bundle_size as usize;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

const P: ErasureParams = ErasureParams::FULL;

/// `reed-solomon-simd` used directly: the bundle split into 342 zero-padded shards, one
/// encoder reused as our API reuses its thread's.
struct Direct {
    originals: Vec<Vec<u8>>,
    shard_bytes: usize,
    enc: ReedSolomonEncoder,
    dec: ReedSolomonDecoder,
}

impl Direct {
    fn new(data: &[u8]) -> Self {
        let shard_bytes = P.shard_size(data.len());
        let originals = (0..P.data_shards())
            .map(|i| {
                let start = (i * shard_bytes).min(data.len());
                let end = ((i + 1) * shard_bytes).min(data.len());
                let mut s = data[start..end].to_vec();
                s.resize(shard_bytes, 0);
                s
            })
            .collect();
        let (k, m) = (P.data_shards(), P.recovery_shards());
        Direct {
            originals,
            shard_bytes,
            enc: ReedSolomonEncoder::new(k, m, shard_bytes).expect("encoder"),
            dec: ReedSolomonDecoder::new(k, m, shard_bytes).expect("decoder"),
        }
    }

    fn encode(&mut self) -> Vec<Vec<u8>> {
        let (k, m) = (P.data_shards(), P.recovery_shards());
        self.enc.reset(k, m, self.shard_bytes).expect("reset");
        for s in &self.originals {
            self.enc.add_original_shard(s).expect("add");
        }
        let r = self.enc.encode().expect("encode");
        r.recovery_iter().map(<[u8]>::to_vec).collect()
    }

    /// Restores all originals from the first 342 recovery shards.
    fn reconstruct(&mut self, recovery: &[Vec<u8>]) -> Vec<u8> {
        let (k, m) = (P.data_shards(), P.recovery_shards());
        self.dec.reset(k, m, self.shard_bytes).expect("reset");
        for (i, s) in recovery.iter().take(k).enumerate() {
            self.dec.add_recovery_shard(i, s).expect("add");
        }
        let r = self.dec.decode().expect("decode");
        let mut out = vec![0u8; k * self.shard_bytes];
        for (i, s) in r.restored_original_iter() {
            out[i * self.shard_bytes..(i + 1) * self.shard_bytes].copy_from_slice(s);
        }
        out
    }
}

/// Our shards 342..684: all recovery shards, as `(index, shard)`.
fn recovery_only(shards: &[Vec<u8>]) -> Vec<(usize, &[u8])> {
    let k = P.data_shards();
    (k..2 * k).map(|i| (i, shards[i].as_slice())).collect()
}

fn erasure_bench(c: &mut Criterion) {
    let data = bundle();
    let mut direct = Direct::new(&data);
    let ours = erasure::encode(&P, &data).expect("encode");
    let theirs = direct.encode();
    // Both must reconstruct the bundle.
    assert_eq!(
        erasure::reconstruct(&P, recovery_only(&ours), data.len()).expect("reconstruct"),
        data
    );
    assert_eq!(&direct.reconstruct(&theirs)[..data.len()], &data[..]);

    let mut group = c.benchmark_group("erasure-full-bundle");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("encode/jam-state", |b| {
        b.iter(|| erasure::encode(&P, &data).expect("encode"))
    });
    let mut reused = Vec::new();
    group.bench_function("encode_into/jam-state (reused shards)", |b| {
        b.iter(|| erasure::encode_into(&P, &data, &mut reused).expect("encode"))
    });
    group.bench_function("encode/reed-solomon-simd", |b| b.iter(|| direct.encode()));
    group.bench_function("reconstruct/jam-state", |b| {
        b.iter(|| erasure::reconstruct(&P, recovery_only(&ours), data.len()).expect("rec"))
    });
    group.bench_function("reconstruct/reed-solomon-simd", |b| {
        b.iter(|| direct.reconstruct(&theirs))
    });
    group.finish();
}

/// Median seconds of `runs` calls of `f`.
fn median_secs(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

/// MB/s (10^6 octets of bundle data per second) for both, and the ratio.
fn summary() {
    let data = bundle();
    let mb = data.len() as f64 / 1e6;
    let mut direct = Direct::new(&data);
    let ours = erasure::encode(&P, &data).expect("encode");
    let theirs = direct.encode();
    let runs = 9;
    let enc_ours = median_secs(runs, || {
        std::hint::black_box(erasure::encode(&P, &data).expect("encode"));
    });
    let mut reused = Vec::new();
    let enc_into = median_secs(runs, || {
        erasure::encode_into(&P, &data, &mut reused).expect("encode");
        std::hint::black_box(&reused);
    });
    let enc_direct = median_secs(runs, || {
        std::hint::black_box(direct.encode());
    });
    let rec_ours = median_secs(runs, || {
        std::hint::black_box(
            erasure::reconstruct(&P, recovery_only(&ours), data.len()).expect("rec"),
        );
    });
    let rec_direct = median_secs(runs, || {
        std::hint::black_box(direct.reconstruct(&theirs));
    });
    println!(
        "\nerasure, full-size bundle ({} octets, 342-of-1023, shard {} octets), median of {runs}:",
        data.len(),
        P.shard_size(data.len())
    );
    for (what, ours, direct) in [
        ("encode", enc_ours, enc_direct),
        ("encode_into (reused shards)", enc_into, enc_direct),
        ("reconstruct (all-recovery)", rec_ours, rec_direct),
    ] {
        println!(
            "  {what:<27} jam-state {:>8.1} MB/s   reed-solomon-simd {:>8.1} MB/s   ratio {:.2}",
            mb / ours,
            mb / direct,
            direct / ours
        );
    }
}

criterion_group!(benches, erasure_bench);

fn main() {
    benches();
    summary();
    Criterion::default().configure_from_args().final_summary();
}
