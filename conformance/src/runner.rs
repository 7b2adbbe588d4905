//! The vectors runner behind `jam vectors`: walks paths, recognises each suite from the
//! path, runs every case (in parallel) and aggregates the outcomes.

use crate::{CaseError, CaseOutcome};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A test-vector suite, recognised from a file's path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Suite {
    Codec,
    Erasure,
    Shuffle,
    Trie,
    /// `stf/<name>/{tiny,full}/`.
    Stf(String),
    /// `traces/<set>/` block-import steps.
    Traces,
    /// PVM `programs/*.json`.
    Pvm,
}

impl Suite {
    /// The name shown in summaries (`stf/safrole`, `pvm`, ...).
    pub fn name(&self) -> String {
        match self {
            Suite::Codec => "codec".into(),
            Suite::Erasure => "erasure".into(),
            Suite::Shuffle => "shuffle".into(),
            Suite::Trie => "trie".into(),
            Suite::Stf(n) => format!("stf/{n}"),
            Suite::Traces => "traces".into(),
            Suite::Pvm => "pvm".into(),
        }
    }
}

/// Recognises the suite a file belongs to, or `None` for files that are not cases
/// (READMEs, ASN.1, JSON twins of `.bin` cases, `genesis.bin`, the SRS...).
pub fn classify(path: &Path) -> Option<Suite> {
    let file = path.file_name()?.to_str()?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let comps: Vec<&str> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    // The deepest recognised folder name decides (a path may contain e.g. both `stf` and `traces`
    // higher up); the file name itself is not a folder.
    let dirs = &comps[..comps.len().saturating_sub(1)];
    for (i, dir) in dirs.iter().enumerate().rev() {
        let suite = match *dir {
            "codec" => Suite::Codec,
            "erasure" => Suite::Erasure,
            "shuffle" => Suite::Shuffle,
            "trie" => Suite::Trie,
            "traces" => Suite::Traces,
            "programs" => Suite::Pvm,
            // Cases live in `stf/<name>/{tiny,full}/`; other files (the SRS) are setup.
            "stf" => match (dirs.get(i + 1), dirs.get(i + 2)) {
                (Some(name), Some(&("tiny" | "full"))) => Suite::Stf(name.to_string()),
                (Some(_), _) => return None,
                _ => continue,
            },
            _ => continue,
        };
        let is_case = match suite {
            Suite::Shuffle | Suite::Trie | Suite::Pvm => ext == "json",
            Suite::Traces => ext == "bin" && file != "genesis.bin",
            Suite::Codec | Suite::Erasure | Suite::Stf(_) => ext == "bin",
        };
        return is_case.then_some(suite);
    }
    None
}

/// Walks the given files and folders and returns every case file, sorted, with its suite.
pub fn collect(paths: &[PathBuf]) -> std::io::Result<Vec<(Suite, PathBuf)>> {
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out.dedup_by(|a, b| a.1 == b.1);
    Ok(out)
}

fn walk(path: &Path, out: &mut Vec<(Suite, PathBuf)>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            walk(&e, out)?;
        }
    } else if let Some(suite) = classify(path) {
        out.push((suite, path.to_path_buf()));
    }
    Ok(())
}

/// Runs every case of one file of `suite`. A panic in a suite is a failed case, never a crash.
pub fn run_file(suite: &Suite, path: &Path) -> Vec<CaseOutcome> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match suite {
        Suite::Codec => crate::codec::run_file(path),
        Suite::Erasure => crate::erasure::run_file(path),
        Suite::Shuffle => crate::shuffle::run_file(path),
        Suite::Trie => crate::trie::run_file(path),
        Suite::Pvm => crate::pvm::run_file(path),
        Suite::Stf(name) => crate::stf::run_file(name, path),
        Suite::Traces => crate::traces::run_file(path),
    }));
    result.unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        vec![CaseOutcome::of_file(
            path,
            Err(CaseError::failed(format!("panicked: {msg}"))),
        )]
    })
}

/// All outcomes of a run, in case order.
pub struct Report {
    pub outcomes: Vec<(Suite, CaseOutcome)>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| o.result.is_ok())
            .count()
    }
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }

    /// (passed, failed) per suite, in suite order.
    pub fn per_suite(&self) -> BTreeMap<String, (usize, usize)> {
        let mut m = BTreeMap::new();
        for (suite, o) in &self.outcomes {
            let e = m.entry(suite.name()).or_insert((0, 0));
            if o.result.is_ok() {
                e.0 += 1
            } else {
                e.1 += 1
            }
        }
        m
    }

    /// Per-case results as JSON (for `--json FILE`).
    pub fn to_json(&self) -> serde_json::Value {
        let cases: Vec<serde_json::Value> = self
            .outcomes
            .iter()
            .map(|(suite, o)| {
                serde_json::json!({
                    "suite": suite.name(),
                    "case": o.name,
                    "passed": o.result.is_ok(),
                    "error": o.result.as_ref().err().map(|e| e.to_string()),
                })
            })
            .collect();
        serde_json::json!({
            "passed": self.passed(),
            "failed": self.failed(),
            "cases": cases,
        })
    }
}

/// Runs every case of `cases` in parallel, showing progress on a terminal's stderr.
pub fn run(cases: &[(Suite, PathBuf)]) -> Report {
    let done = AtomicUsize::new(0);
    let total = cases.len();
    let tty = std::io::stderr().is_terminal();
    let outcomes: Vec<Vec<(Suite, CaseOutcome)>> = cases
        .par_iter()
        .map(|(suite, path)| {
            let r: Vec<_> = run_file(suite, path)
                .into_iter()
                .map(|o| (suite.clone(), o))
                .collect();
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if tty && (n.is_multiple_of(8) || n == total) {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r[{n}/{total}] files");
                if n == total {
                    let _ = write!(err, "\r\x1b[K");
                }
            }
            r
        })
        .collect();
    Report {
        outcomes: outcomes.into_iter().flatten().collect(),
    }
}

/// Writes the human report: one line per failing case, a table per suite, then exactly
/// one last line `N passed, N failed`.
pub fn print_report(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    for (suite, o) in &report.outcomes {
        if let Err(e) = &o.result {
            writeln!(out, "FAIL [{}] {}: {}", suite.name(), o.name, e)?;
        }
    }
    let per = report.per_suite();
    let width = per.keys().map(|k| k.len()).max().unwrap_or(5).max(5);
    writeln!(out, "{:<width$}  {:>7}  {:>7}", "suite", "passed", "failed")?;
    for (name, (p, f)) in &per {
        writeln!(out, "{name:<width$}  {p:>7}  {f:>7}")?;
    }
    writeln!(
        out,
        "{} passed, {} failed",
        report.passed(),
        report.failed()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let c = |p: &str| classify(Path::new(p));
        assert_eq!(c("v/codec/tiny/header_0.bin"), Some(Suite::Codec));
        assert_eq!(c("v/codec/tiny/header_0.json"), None);
        assert_eq!(
            c("v/stf/safrole/tiny/a-1.bin"),
            Some(Suite::Stf("safrole".into()))
        );
        assert_eq!(c("v/stf/safrole/zcash-srs-2-11-uncompressed.bin"), None);
        assert_eq!(c("v/traces/fallback/00000001.bin"), Some(Suite::Traces));
        assert_eq!(c("v/traces/fallback/genesis.bin"), None);
        assert_eq!(c("v/traces/safrole/00000001.bin"), Some(Suite::Traces));
        assert_eq!(
            c("pvm-test-vectors/programs/inst_add_32.json"),
            Some(Suite::Pvm)
        );
        assert_eq!(c("v/shuffle/shuffle_tests.json"), Some(Suite::Shuffle));
        assert_eq!(c("v/trie/trie.json"), Some(Suite::Trie));
        assert_eq!(c("v/README.md"), None);
    }
}
