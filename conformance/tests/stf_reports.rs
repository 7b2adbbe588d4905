//! Runs every reports STF vector (stf/reports/{tiny,full}/*.bin) and expects all to pass.

use jam_conformance::stf::reports::run_file;
use jam_conformance::vectors::jam_vectors_dir;

#[test]
fn stf_reports_vectors() {
    let root = jam_vectors_dir().join("stf").join("reports");
    let mut files = Vec::new();
    for spec in ["tiny", "full"] {
        let dir = root.join(spec);
        let mut here: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "bin"))
            .collect();
        here.sort();
        files.extend(here);
    }
    let outcomes: Vec<_> = files.iter().flat_map(|p| run_file(p)).collect();
    let failures: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for f in &failures {
        if let Err(e) = &f.result {
            println!("FAIL {}: {e}", f.name);
        }
    }
    println!(
        "reports: {} cases, {} failures",
        outcomes.len(),
        failures.len()
    );
    assert_eq!(
        outcomes.len(),
        84,
        "expected 84 reports cases (42 tiny + 42 full)"
    );
    assert!(
        failures.is_empty(),
        "{} of {} reports cases failed",
        failures.len(),
        outcomes.len()
    );
}
