//! STF vectors: every `stf/accumulate/{tiny,full}/*.bin` case passes.

use jam_conformance::{stf::accumulate, vectors::jam_vectors_dir};

#[test]
fn stf_accumulate_vectors() {
    let root = jam_vectors_dir().join("stf").join("accumulate");
    let mut files = Vec::new();
    for cfg in ["tiny", "full"] {
        for e in std::fs::read_dir(root.join(cfg)).expect("accumulate vectors folder") {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "bin") {
                files.push(p);
            }
        }
    }
    files.sort();
    let outcomes: Vec<_> = files.iter().flat_map(|p| accumulate::run_file(p)).collect();
    let failed: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for f in &failed {
        eprintln!("FAIL {}: {}", f.name, f.result.as_ref().unwrap_err());
    }
    let passed = outcomes.len() - failed.len();
    eprintln!(
        "stf/accumulate vectors: {passed} passed, {} failed",
        failed.len()
    );
    assert_eq!(failed.len(), 0, "stf/accumulate vectors failed");
    assert_eq!(passed, 60, "expected 60 stf/accumulate cases");
}

/// The tiny JSON twins decode (serde) to the same cases as the binary files (codec).
#[test]
fn stf_accumulate_json_twins_match_binaries() {
    let dir = jam_vectors_dir()
        .join("stf")
        .join("accumulate")
        .join("tiny");
    let params = jam_state::params::Params::tiny();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("accumulate tiny vectors folder") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "bin") {
            let bin: accumulate::TestCase =
                jam_state::codec::decode_exact(&std::fs::read(&p).unwrap(), &params)
                    .expect("decode .bin");
            let json: accumulate::TestCase =
                serde_json::from_slice(&std::fs::read(p.with_extension("json")).unwrap())
                    .expect("parse .json");
            assert_eq!(bin, json, "{}", p.display());
            n += 1;
        }
    }
    assert_eq!(n, 30);
}
