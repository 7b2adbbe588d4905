//! Block-import traces: every step of every set under `traces/` (600 steps, tiny spec) must give
//! the vector's posterior state (or, for a rejected block, leave the state unchanged).
//!
//! `JAM_TRACE_SETS=fallback,safrole` limits the run to some sets (then the count is not checked).
//! Prints pass counts per set and the mean / max import time per block.

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
    let results: Vec<_> = files
        .par_iter()
        .map(|(set, path)| (set.clone(), path.clone(), run_step(path)))
        .collect();

    let mut per_set: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut times: Vec<Duration> = Vec::new();
    let mut failures = Vec::new();
    for (set, path, r) in &results {
        let e = per_set.entry(set.clone()).or_default();
        match r {
            Ok(run) => {
                e.0 += 1;
                if run.rejected.is_some() {
                    e.2 += 1;
                } else {
                    times.push(run.import_time);
                }
            }
            Err(err) => {
                e.1 += 1;
                failures.push(format!("FAIL {}: {err}", path.display()));
            }
        }
    }
    for f in &failures {
        println!("{f}");
    }
    println!(
        "{:<16} {:>6} {:>6} {:>9}",
        "set", "passed", "failed", "rejected"
    );
    for (set, (p, f, rej)) in &per_set {
        println!("{set:<16} {p:>6} {f:>6} {rej:>9}");
    }
    if !times.is_empty() {
        let total: Duration = times.iter().sum();
        let max = times.iter().max().unwrap();
        println!(
            "import_block over {} imported blocks: mean {:.2} ms, max {:.2} ms",
            times.len(),
            total.as_secs_f64() * 1e3 / times.len() as f64,
            max.as_secs_f64() * 1e3
        );
    }
    assert!(failures.is_empty(), "{} trace steps failed", failures.len());
}
