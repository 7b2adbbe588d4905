//! Block-import traces: every step of every set under `traces/` (600 steps, tiny spec) must give
//! the vector's posterior state (or, for a rejected block, leave the state unchanged).
//!
//! `JAM_TRACE_SETS=fallback,safrole` limits the run to some sets (then the count is not checked).
//! Prints pass counts per set and the import time per block (`JAM_TRACE_SEQUENTIAL=1` runs the
//! steps one at a time, for timings).

use jam_conformance::traces::run_step;
use jam_conformance::vectors::jam_vectors_dir;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

fn step_files(only: &Option<Vec<String>>) -> Vec<(String, PathBuf)> {
    let root = jam_vectors_dir().join("traces");
    let mut files = Vec::new();
    for set in std::fs::read_dir(&root).expect("traces folder") {
        let set = set.unwrap().path();
        if !set.is_dir() {
            continue;
        }
        let name = set.file_name().unwrap().to_string_lossy().to_string();
        if only.as_ref().is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        for e in std::fs::read_dir(&set).unwrap() {
            let p = e.unwrap().path();
            let file = p.file_name().unwrap().to_string_lossy().to_string();
            if file.ends_with(".bin") && file != "genesis.bin" {
                files.push((name.clone(), p));
            }
        }
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    files
}

#[test]
fn traces() {
    let only: Option<Vec<String>> = std::env::var("JAM_TRACE_SETS")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let files = step_files(&only);
    if only.is_none() {
        assert_eq!(files.len(), 600, "trace step count");
    }
    // `JAM_TRACE_SEQUENTIAL=1`: one step at a time (cleaner import timings; each import may
    // still use rayon inside).
    let run = |(set, path): &(String, PathBuf)| (set.clone(), path.clone(), run_step(path));
    let results: Vec<_> = if std::env::var_os("JAM_TRACE_SEQUENTIAL").is_some() {
        files.iter().map(run).collect()
    } else {
        files.par_iter().map(run).collect()
    };

    let mut per_set: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut set_times: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut times: Vec<Duration> = Vec::new();
    let mut failures = Vec::new();
    for (set, path, r) in &results {
        let e = per_set.entry(set.clone()).or_default();
        if r.rejected.is_some() {
            e.2 += 1;
        } else if let Some(t) = r.import_time {
            times.push(t);
            set_times.entry(set.clone()).or_default().push(t);
        }
        match &r.result {
            Ok(()) => e.0 += 1,
            Err(err) => {
                e.1 += 1;
                failures.push(format!("FAIL {}: {err}", path.display()));
            }
        }
    }
    for f in &failures {
        println!("{f}");
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:<16} {:>6} {:>6} {:>9} {:>8} {:>8}",
        "set", "passed", "failed", "rejected", "mean ms", "max ms"
    );
    for (set, (p, f, rej)) in &per_set {
        let t = set_times.get(set).cloned().unwrap_or_default();
        let mean = t.iter().map(ms).sum::<f64>() / t.len().max(1) as f64;
        let max = t.iter().map(ms).fold(0.0, f64::max);
        println!("{set:<16} {p:>6} {f:>6} {rej:>9} {mean:>8.2} {max:>8.2}");
    }
    if !times.is_empty() {
        times.sort();
        let total: Duration = times.iter().sum();
        println!(
            "import_block over {} accepted blocks: mean {:.2} ms, median {:.2} ms, max {:.2} ms",
            times.len(),
            total.as_secs_f64() * 1e3 / times.len() as f64,
            ms(&times[times.len() / 2]),
            ms(&times[times.len() - 1])
        );
    }
    assert!(failures.is_empty(), "{} trace steps failed", failures.len());
}

/// Invalid blocks: tampering with one header field (or the extrinsic) of a valid trace block is
/// rejected with the matching [`ImportError`]; the valid block itself imports.
#[test]
fn rejects_tampered_blocks() {
    use jam_consensus::import::{import_block, ImportContext, ImportError};
    use jam_state::codec::decode_exact;
    use jam_state::params::Params;
    use jam_state::trace::TraceStep;
    use jam_state::types::*;

    let params = Params::tiny();
    let dir = jam_vectors_dir().join("traces/safrole");
    let load = |n: u32| -> TraceStep {
        let p = dir.join(format!("{n:08}.bin"));
        decode_exact(&std::fs::read(&p).unwrap(), &params).unwrap()
    };
    // A block opening an epoch (epoch mark, no tickets mark) and one without markers.
    let steps: Vec<TraceStep> = (1..=24).map(load).collect();
    let epoch_start = steps
        .iter()
        .find(|s| s.block.header.epoch_mark.is_some())
        .expect("an epoch-opening block");
    let plain = steps
        .iter()
        .find(|s| s.block.header.epoch_mark.is_none() && s.block.header.tickets_mark.is_none())
        .expect("a block without markers");

    let ring = std::sync::Arc::new(
        jam_consensus::bandersnatch::RingContext::new(params.validators()).unwrap(),
    );
    let ctx_for = |step: &TraceStep| {
        let mut ctx = ImportContext::with_ring(ring.clone());
        ctx.prior_state_root = Some(step.pre_state.state_root);
        ctx
    };
    let run = |step: &TraceStep, f: &dyn Fn(&mut Block)| {
        let pre = step.pre_state.to_state(&params).unwrap();
        let mut block = step.block.clone();
        f(&mut block);
        let before = pre.clone();
        let r = import_block(&params, &ctx_for(step), &pre, &block).map(|_| ());
        assert_eq!(pre, before, "the prior state is untouched");
        r
    };

    for step in [epoch_start, plain] {
        assert_eq!(run(step, &|_| {}), Ok(()));
        let v = params.validators() as u16;
        assert_eq!(
            run(step, &|b| b.header.author_index = v),
            Err(ImportError::BadAuthorIndex(v))
        );
        assert!(matches!(
            run(step, &|b| b.header.slot = 0),
            Err(ImportError::BadSlot { .. })
        ));
        assert!(matches!(
            run(step, &|b| b.header.parent.0[0] ^= 1),
            Err(ImportError::BadParent { .. })
        ));
        assert!(matches!(
            run(step, &|b| b.header.parent_state_root.0[0] ^= 1),
            Err(ImportError::BadParentStateRoot { .. })
        ));
        assert!(matches!(
            run(step, &|b| b.extrinsic.preimages.push(Preimage {
                requester: 0,
                blob: vec![1, 2, 3].into()
            })),
            Err(ImportError::BadExtrinsicHash { .. })
        ));
        assert_eq!(
            run(step, &|b| b
                .header
                .offenders_mark
                .push(Ed25519Public([7; 32]))),
            Err(ImportError::BadOffendersMark)
        );
        assert_eq!(
            run(step, &|b| b.header.tickets_mark =
                Some(FixedVec::filled(&params, TicketBody::default()))),
            Err(ImportError::BadTicketsMark)
        );
        assert_eq!(
            run(step, &|b| b.header.seal.0[40] ^= 1),
            Err(ImportError::BadSeal)
        );
        let other = (step.block.header.author_index + 1) % v;
        assert_eq!(
            run(step, &|b| b.header.author_index = other),
            Err(ImportError::BadSeal)
        );
        // H_v is part of the sealed header: changing it breaks the seal (or the VRF itself).
        assert!(matches!(
            run(step, &|b| b.header.entropy_source.0[95] ^= 1),
            Err(ImportError::BadSeal | ImportError::BadEntropy)
        ));
    }
    assert_eq!(
        run(epoch_start, &|b| b.header.epoch_mark = None),
        Err(ImportError::BadEpochMark)
    );
    assert_eq!(
        run(plain, &|b| b.header.epoch_mark =
            epoch_start.block.header.epoch_mark.clone()),
        Err(ImportError::BadEpochMark)
    );
}
