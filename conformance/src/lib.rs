//! Conformance: runs the public JAM and PVM test vectors.
//!
//! Every suite module exposes `run_file(path) -> Vec<CaseOutcome>`: one outcome per
//! case the file holds (one for a `.bin`/PVM `.json`, one per entry of `trie.json` or
//! `shuffle_tests.json`). The runner (`runner.rs`) walks paths, recognises the suite
//! and aggregates the outcomes.

use std::fmt;
use std::path::Path;

pub mod diff;
pub mod runner;
pub mod vectors;

/// The first difference between the expected and the computed value of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Field path, e.g. `post_state.gamma_a[2].id`.
    pub field: String,
    pub expected: String,
    pub got: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.field, self.expected, self.got
        )
    }
}

/// Why a case did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseError {
    /// The computed result differs from the expected one.
    Mismatch(Mismatch),
    /// The case could not be run (unreadable file, decode failure, unimplemented suite...).
    Failed(String),
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseError::Mismatch(m) => m.fmt(f),
            CaseError::Failed(s) => f.write_str(s),
        }
    }
}

impl CaseError {
    pub fn failed(msg: impl fmt::Display) -> Self {
        CaseError::Failed(msg.to_string())
    }
    pub fn mismatch(
        field: impl Into<String>,
        expected: impl fmt::Debug,
        got: impl fmt::Debug,
    ) -> Self {
        CaseError::Mismatch(Mismatch {
            field: field.into(),
            expected: format!("{expected:?}"),
            got: format!("{got:?}"),
        })
    }
}

pub type CaseResult = Result<(), CaseError>;

/// The outcome of one case: its name (file path, plus `#index` for array files).
#[derive(Clone, Debug)]
pub struct CaseOutcome {
    pub name: String,
    pub result: CaseResult,
}

impl CaseOutcome {
    pub fn of_file(path: &Path, result: CaseResult) -> Self {
        CaseOutcome {
            name: path.display().to_string(),
            result,
        }
    }
}
pub mod codec;
pub mod erasure;
pub mod pvm;
pub mod shuffle;
pub mod stf;
pub mod traces;
pub mod trie;

/// Runs every entry of a JSON-array vector file (`trie.json`, `shuffle_tests.json`): one
/// outcome per entry, named `path#index`.
pub fn run_json_array(
    path: &Path,
    run_case: impl Fn(&serde_json::Value) -> CaseResult,
) -> Vec<CaseOutcome> {
    let cases = std::fs::read(path)
        .map_err(|e| CaseError::failed(format!("read {}: {e}", path.display())))
        .and_then(|b| {
            serde_json::from_slice::<serde_json::Value>(&b)
                .map_err(|e| CaseError::failed(format!("parse {}: {e}", path.display())))
        });
    match cases {
        Ok(serde_json::Value::Array(cases)) => cases
            .iter()
            .enumerate()
            .map(|(i, case)| CaseOutcome {
                name: format!("{}#{i}", path.display()),
                result: run_case(case),
            })
            .collect(),
        Ok(_) => vec![CaseOutcome::of_file(
            path,
            Err(CaseError::failed("expected a JSON array")),
        )],
        Err(e) => vec![CaseOutcome::of_file(path, Err(e))],
    }
}
