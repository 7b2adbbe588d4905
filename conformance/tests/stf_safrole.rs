//! Every safrole STF vector (`stf/safrole/{tiny,full}/*.bin`, GP section 6) must pass.

use jam_conformance::stf::safrole::run_file;
use jam_conformance::vectors::jam_vectors_dir;
use rayon::prelude::*;
use std::path::PathBuf;

fn case_files() -> Vec<PathBuf> {
    let root = jam_vectors_dir().join("stf/safrole");
    let mut files = Vec::new();
    for spec in ["tiny", "full"] {
        let dir = root.join(spec);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        files.extend(
            entries
                .map(|e| e.expect("dir entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "bin")),
        );
    }
    files.sort();
    files
}

#[test]
fn stf_safrole_vectors() {
    let files = case_files();
    let outcomes: Vec<_> = files.par_iter().flat_map(|p| run_file(p)).collect();
    let failures: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for f in &failures {
        eprintln!("FAIL {}: {}", f.name, f.result.as_ref().unwrap_err());
    }
    println!(
        "safrole: {} cases, {} failed",
        outcomes.len(),
        failures.len()
    );
    assert_eq!(outcomes.len(), 42, "safrole case count");
    assert!(
        failures.is_empty(),
        "{} of {} safrole cases failed",
        failures.len(),
        outcomes.len()
    );
}
