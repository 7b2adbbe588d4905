//! Codec vectors (GP v0.7.2 Appendix C): every `codec/{tiny,full}/*.bin` decodes, matches its
//! JSON twin and re-encodes to the same bytes.

use jam_conformance::{codec, vectors::jam_vectors_dir};

#[test]
fn codec_vectors() {
    let root = jam_vectors_dir().join("codec");
    let mut files = Vec::new();
    for cfg in ["tiny", "full"] {
        for e in std::fs::read_dir(root.join(cfg)).expect("codec vectors folder") {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "bin") {
                files.push(p);
            }
        }
    }
    files.sort();
    let outcomes: Vec<_> = files.iter().flat_map(|p| codec::run_file(p)).collect();
    let failed: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for f in &failed {
        eprintln!("FAIL {}: {}", f.name, f.result.as_ref().unwrap_err());
    }
    let passed = outcomes.len() - failed.len();
    eprintln!("codec vectors: {passed} passed, {} failed", failed.len());
    assert_eq!(failed.len(), 0, "codec vectors failed");
    assert_eq!(passed, 30, "expected 30 codec cases");
}
