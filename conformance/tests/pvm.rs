//! PVM program vectors (GP v0.7.2 Appendix A): all 307 `programs/*.json` must pass.

use jam_conformance::{pvm, vectors::pvm_vectors_dir};

#[test]
fn pvm_vectors() {
    let dir = pvm_vectors_dir().join("programs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("pvm vectors folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let outcomes: Vec<_> = files.iter().flat_map(|p| pvm::run_file(p)).collect();
    let failed: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for f in &failed {
        eprintln!("FAIL {}: {}", f.name, f.result.as_ref().unwrap_err());
    }
    let passed = outcomes.len() - failed.len();
    eprintln!("pvm vectors: {passed} passed, {} failed", failed.len());
    assert_eq!(failed.len(), 0, "pvm vectors failed");
    assert_eq!(outcomes.len(), 307, "expected 307 pvm cases");
}
