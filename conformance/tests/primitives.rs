//! Runs the trie, shuffle and erasure vector suites through their `run_file` functions.

use jam_conformance::vectors::jam_vectors_dir;
use jam_conformance::CaseOutcome;
use std::path::{Path, PathBuf};

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

fn check(suite: &str, outcomes: &[CaseOutcome], expected_cases: usize) {
    let failed: Vec<&CaseOutcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for o in &failed {
        if let Err(e) = &o.result {
            eprintln!("FAIL {}: {e}", o.name);
        }
    }
    eprintln!("{suite}: {} cases, {} failed", outcomes.len(), failed.len());
    assert_eq!(failed.len(), 0, "{suite}: {} failing cases", failed.len());
    assert_eq!(outcomes.len(), expected_cases, "{suite}: case count");
}

#[test]
fn trie_vectors() {
    let path = jam_vectors_dir().join("trie").join("trie.json");
    check("trie", &jam_conformance::trie::run_file(&path), 11);
}

#[test]
fn shuffle_vectors() {
    let path = jam_vectors_dir().join("shuffle").join("shuffle_tests.json");
    check("shuffle", &jam_conformance::shuffle::run_file(&path), 8);
}

#[test]
fn erasure_vectors() {
    let root = jam_vectors_dir().join("erasure");
    let mut outcomes = Vec::new();
    for spec in ["tiny", "full"] {
        for bin in files_with_ext(&root.join(spec), "bin") {
            outcomes.extend(jam_conformance::erasure::run_file(&bin));
        }
    }
    check("erasure", &outcomes, 12);
}
