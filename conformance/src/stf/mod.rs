//! STF vector suites: `stf/<name>/{tiny,full}/*.bin`, one case per file.

use crate::{CaseError, CaseOutcome};
use std::path::Path;

pub mod accumulate;
pub mod assurances;
pub mod authorizations;
pub mod disputes;
pub mod history;
pub mod preimages;
pub mod reports;
pub mod safrole;
pub mod statistics;
pub mod vector;

/// The STF suite names this runner knows.
pub const SUITES: &[&str] = &[
    "safrole",
    "disputes",
    "reports",
    "assurances",
    "preimages",
    "history",
    "statistics",
    "authorizations",
    "accumulate",
];

/// Runs one STF case file of suite `name`.
pub fn run_file(name: &str, path: &Path) -> Vec<CaseOutcome> {
    match name {
        "safrole" => safrole::run_file(path),
        "disputes" => disputes::run_file(path),
        "reports" => reports::run_file(path),
        "assurances" => assurances::run_file(path),
        "preimages" => preimages::run_file(path),
        "history" => history::run_file(path),
        "statistics" => statistics::run_file(path),
        "authorizations" => authorizations::run_file(path),
        "accumulate" => accumulate::run_file(path),
        other => vec![CaseOutcome::of_file(
            path,
            Err(CaseError::failed(format!(
                "stf suite `{other}` is not implemented yet"
            ))),
        )],
    }
}
