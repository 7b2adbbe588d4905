//! Every authorizations STF vector (`stf/authorizations/{tiny,full}/*.bin`) passes.

use jam_conformance::stf::authorizations::run_file;
use jam_conformance::vectors::jam_vectors_dir;

#[test]
fn stf_authorizations_vectors() {
    let mut files = Vec::new();
    for spec in ["tiny", "full"] {
        let dir = jam_vectors_dir().join("stf/authorizations").join(spec);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "bin") {
                files.push(path);
            }
        }
    }
    files.sort();
    let outcomes: Vec<_> = files.iter().flat_map(|p| run_file(p)).collect();
    let failures: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for f in &failures {
        println!("FAIL {}: {}", f.name, f.result.as_ref().unwrap_err());
    }
    println!(
        "authorizations: {} passed, {} failed",
        outcomes.len() - failures.len(),
        failures.len()
    );
    assert_eq!(outcomes.len(), 6, "authorizations case count");
    assert!(
        failures.is_empty(),
        "{} authorizations cases failed",
        failures.len()
    );
}
