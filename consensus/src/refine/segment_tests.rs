//! The demo service's export / import payloads (`services/demo.s`, `services/README.md`)
//! through Ξ (GP v0.7.2 §14.3–14.4): an `E` package exports one segment holding the rest of
//! its payload; an `I` package imports segment 0 of another package's exports, named by
//! segments root or by work-package hash (⊞, eq. 14.12), and outputs its first n octets.

use super::*;
use crate::genesis::{demo_work_package, install_dev_services};
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{ImportSpec, OpaqueHash, RefineContext, WorkExecResult, WorkPackage};

fn state(params: &Params) -> State {
    let mut state = State::empty(params);
    install_dev_services(&mut state);
    state
}

/// An `E` package: one item exporting one segment.
fn exporter(data: &[u8]) -> WorkPackage {
    let mut payload = b"E".to_vec();
    payload.extend_from_slice(data);
    let mut p = demo_work_package(RefineContext::default(), &payload);
    p.items[0].export_count = 1;
    p
}

/// An `I` package reading the first `n` octets of `spec`.
fn importer(spec: ImportSpec, n: u8) -> WorkPackage {
    let mut p = demo_work_package(RefineContext::default(), &[b'I', n]);
    p.items[0].import_segments = vec![spec];
    p
}

fn ok(r: &ComputedReport) -> Vec<u8> {
    match &r.report.results[0].result {
        WorkExecResult::Ok(o) => o.0.clone(),
        e => panic!("work error {e:?}"),
    }
}

#[test]
fn demo_export_then_import_by_root_and_by_package_hash() {
    let params = Params::tiny();
    let st = state(&params);
    let cfg = RefineConfig::default();
    let mut data = InMemoryPackageData::default();
    let e = exporter(b"hello segments");
    let out = compute_work_report(&params, &cfg, &st, &data, &e, 0).unwrap();
    assert_eq!(ok(&out), Vec::<u8>::new());
    assert_eq!(out.exports.len(), 1);
    let seg = &out.exports[0];
    assert_eq!(seg.len(), params.segment_size());
    assert_eq!(&seg[..14], b"hello segments");
    assert!(seg[14..].iter().all(|&b| b == 0));
    assert_eq!(out.report.package_spec.exports_count, 1);
    let root = data.add_exports(out.report.package_spec.hash, out.exports.clone());
    assert_eq!(root, out.report.package_spec.exports_root);

    // By segments root: no lookup entry.
    let by_root = importer(
        ImportSpec {
            tree_root: root,
            index: 0,
        },
        5,
    );
    let r = compute_work_report(&params, &cfg, &st, &data, &by_root, 0).unwrap();
    assert_eq!(ok(&r), b"hello");
    assert!(r.report.segment_root_lookup.is_empty());
    assert_eq!(r.report.results[0].refine_load.imports, 1);

    // By work-package hash (index tagged with 2^15): the lookup names the root.
    let by_hash = importer(
        ImportSpec {
            tree_root: out.report.package_spec.hash,
            index: 1 << 15,
        },
        14,
    );
    let r = compute_work_report(&params, &cfg, &st, &data, &by_hash, 0).unwrap();
    assert_eq!(ok(&r), b"hello segments");
    assert_eq!(r.report.segment_root_lookup.len(), 1);
    assert_eq!(r.report.segment_root_lookup[0].segment_tree_root, root);
    // The bundle carries the imported segment.
    assert!(r.bundle.windows(14).any(|w| w == b"hello segments"));
}

#[test]
fn demo_import_failures() {
    let params = Params::tiny();
    let st = state(&params);
    let cfg = RefineConfig::default();
    let data = InMemoryPackageData::default();
    // Unknown root / package: no report.
    let unknown = importer(
        ImportSpec {
            tree_root: OpaqueHash([7; 32]),
            index: 0,
        },
        4,
    );
    assert!(matches!(
        compute_work_report(&params, &cfg, &st, &data, &unknown, 0),
        Err(WorkReportError::MissingImport { .. })
    ));
    let unknown_pkg = importer(
        ImportSpec {
            tree_root: OpaqueHash([7; 32]),
            index: 1 << 15,
        },
        4,
    );
    assert!(matches!(
        compute_work_report(&params, &cfg, &st, &data, &unknown_pkg, 0),
        Err(WorkReportError::UnknownSegmentRoot(_))
    ));
    // 'I' without an import panics; 'E' with export count 0 is a bad-exports result.
    let r = compute_work_report(
        &params,
        &cfg,
        &st,
        &data,
        &demo_work_package(RefineContext::default(), b"I\x04"),
        0,
    )
    .unwrap();
    assert_eq!(r.report.results[0].result, WorkExecResult::Panic);
    let mut e = exporter(b"x");
    e.items[0].export_count = 0;
    let r = compute_work_report(&params, &cfg, &st, &data, &e, 0).unwrap();
    assert_eq!(r.report.results[0].result, WorkExecResult::BadExports);
    // 'J' still works.
    let r = compute_work_report(
        &params,
        &cfg,
        &st,
        &data,
        &demo_work_package(RefineContext::default(), b"J\x01kv"),
        0,
    )
    .unwrap();
    assert!(matches!(r.report.results[0].result, WorkExecResult::Ok(_)));
}
