//! The accumulation queue (GP v0.7.2 §12.2): `R^!`, `R^Q`, `D`, the editing function `E`,
//! the priority queue `Q` and `P`.

use jam_state::types::{OpaqueHash, ReadyRecord, WorkReport};
use std::collections::BTreeSet;

/// A queued report with its unaccumulated dependencies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    pub report: WorkReport,
    pub deps: BTreeSet<OpaqueHash>,
}

impl Queued {
    pub fn from_record(r: &ReadyRecord) -> Self {
        Queued {
            report: r.report.clone(),
            deps: r.dependencies.iter().copied().collect(),
        }
    }

    /// `D(r)`: prerequisites and segment-root-lookup keys.
    pub fn of_report(r: &WorkReport) -> Self {
        let mut deps: BTreeSet<OpaqueHash> = r.context.prerequisites.iter().copied().collect();
        deps.extend(r.segment_root_lookup.iter().map(|l| l.work_package_hash));
        Queued {
            report: r.clone(),
            deps,
        }
    }
}

/// Splits `R` into `R^!` (no dependencies) and `R^Q` (edited against the history `ξ`).
pub fn partition(
    reports: &[WorkReport],
    history: &BTreeSet<OpaqueHash>,
) -> (Vec<WorkReport>, Vec<Queued>) {
    let mut now = Vec::new();
    let mut queued = Vec::new();
    for r in reports {
        if r.context.prerequisites.is_empty() && r.segment_root_lookup.is_empty() {
            now.push(r.clone());
        } else {
            queued.push(Queued::of_report(r));
        }
    }
    (now, edit(&queued, history))
}

/// `E(r, x)`: drops entries whose package is in `x` and removes `x` from the dependencies.
pub fn edit(items: &[Queued], x: &BTreeSet<OpaqueHash>) -> Vec<Queued> {
    items
        .iter()
        .filter(|q| !x.contains(&q.report.package_spec.hash))
        .map(|q| Queued {
            report: q.report.clone(),
            deps: q.deps.difference(x).copied().collect(),
        })
        .collect()
}

/// `Q(r)`: the reports accumulatable in dependency order.
pub fn priority(mut items: Vec<Queued>) -> Vec<WorkReport> {
    let mut out = Vec::new();
    loop {
        let ready: Vec<WorkReport> = items
            .iter()
            .filter(|q| q.deps.is_empty())
            .map(|q| q.report.clone())
            .collect();
        if ready.is_empty() {
            return out;
        }
        let hashes = package_hashes(&ready);
        items = edit(&items, &hashes);
        out.extend(ready);
    }
}

/// `P(r)`: the package hashes of reports.
pub fn package_hashes(reports: &[WorkReport]) -> BTreeSet<OpaqueHash> {
    reports.iter().map(|r| r.package_spec.hash).collect()
}

/// Back to the state's record form (dependencies sorted).
pub fn to_records(items: &[Queued]) -> Vec<ReadyRecord> {
    items
        .iter()
        .map(|q| ReadyRecord {
            report: q.report.clone(),
            dependencies: q.deps.iter().copied().collect(),
        })
        .collect()
}
