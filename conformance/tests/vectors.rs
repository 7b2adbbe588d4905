//! Every vector suite that is done passes, run through the same runner as `jam vectors`
//! (so the suite recognition and case counting are tested too).

use jam_conformance::runner;
use jam_conformance::vectors::{jam_vectors_dir, pvm_vectors_dir};
use std::path::PathBuf;

/// Runs every case under `dir` and requires exactly `expected` cases, all passing.
fn check(dir: PathBuf, expected: usize) {
    let cases = runner::collect(std::slice::from_ref(&dir))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let report = runner::run(&cases);
    for (suite, o) in &report.outcomes {
        if let Err(e) = &o.result {
            println!("FAIL [{}] {}: {e}", suite.name(), o.name);
        }
    }
    println!(
        "{}: {} passed, {} failed",
        dir.display(),
        report.passed(),
        report.failed()
    );
    assert_eq!(
        report.outcomes.len(),
        expected,
        "case count under {}",
        dir.display()
    );
    assert_eq!(report.failed(), 0, "failed cases under {}", dir.display());
}

fn jam(rel: &str) -> PathBuf {
    jam_vectors_dir().join(rel)
}

#[test]
fn codec() {
    check(jam("codec"), 30);
}

#[test]
fn shuffle() {
    check(jam("shuffle"), 8);
}

#[test]
fn trie() {
    check(jam("trie"), 11);
}

#[test]
fn erasure() {
    check(jam("erasure"), 12);
}

#[test]
fn pvm() {
    check(pvm_vectors_dir(), 307);
}

#[test]
fn stf_safrole() {
    check(jam("stf/safrole"), 42);
}

#[test]
fn stf_disputes() {
    check(jam("stf/disputes"), 56);
}

#[test]
fn stf_reports() {
    check(jam("stf/reports"), 84);
}

#[test]
fn stf_assurances() {
    check(jam("stf/assurances"), 20);
}

#[test]
fn stf_preimages() {
    check(jam("stf/preimages"), 16);
}

#[test]
fn stf_history() {
    check(jam("stf/history"), 8);
}

#[test]
fn stf_statistics() {
    check(jam("stf/statistics"), 6);
}

#[test]
fn stf_authorizations() {
    check(jam("stf/authorizations"), 6);
}

#[test]
fn stf_accumulate() {
    check(jam("stf/accumulate"), 60);
}
