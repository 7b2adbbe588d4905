//! Bad work packages through Ξ (GP v0.7.2 §14.3–14.4, B.2/B.3): every one is either rejected
//! by [`compute_work_report`] with a typed [`WorkReportError`], or reported with the GP's error
//! result for the offending item while the rest of the report stays intact; nothing panics.
//!
//! Complements `tests.rs`, which covers Ψ_I / Ψ_R on their own, `check_package` on its own,
//! the unknown-authorizer-hash and no-items cases of Ξ, and ⊖ / ⊚.

use super::tests::code_blob;
use super::*;
use crate::accumulate::PartialState;
use crate::genesis::{
    demo_code_hash, demo_work_package, dev_authorizer, install_dev_services, DEMO_SERVICE_ID,
};
use jam_state::hash::blake2b_256;
use jam_state::keys::{encode_lookup, lookup_key, preimage_key};
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{
    Bytes, ExtrinsicSpec, ImportSpec, OpaqueHash, RefineContext, ServiceId, WorkExecResult,
    WorkItem, WorkPackage, WorkReport,
};

const AUTH: ServiceId = 1;
const SVC: ServiceId = 2;
const NO_SUCH_SERVICE: ServiceId = 99;
const ANCHOR_SLOT: u32 = 50;

const HALT: &[u8] = &[50, 0]; // jump_ind r0 + 0
const TRAP: &[u8] = &[0];
const LOOP: &[u8] = &[40]; // jump +0

/// A code preimage `E(↕m, c)` (metadata "t") of a standard program (GP A.7) with no data, no
/// heap and a 64 KiB stack.
fn preimage(code: &[u8]) -> Vec<u8> {
    let mut v = vec![1, b't', 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x01];
    v.extend_from_slice(&(code.len() as u32).to_le_bytes());
    v.extend_from_slice(code);
    v
}

/// Installs `blob` as a preimage of `s`, available from slot `from`; returns its hash.
fn install_blob(st: &mut PartialState, s: ServiceId, blob: Vec<u8>, from: u32) -> OpaqueHash {
    let h = OpaqueHash(blake2b_256(&blob));
    st.accounts.entry(s).or_default();
    st.service_data
        .insert(lookup_key(s, &h, blob.len() as u32), encode_lookup(&[from]));
    st.service_data.insert(preimage_key(s, &h), blob);
    h
}

fn install(st: &mut PartialState, s: ServiceId, code: &[u8]) -> OpaqueHash {
    install_blob(st, s, preimage(code), 1)
}

/// δ with an echo authorizer (its trace is E2(c)) in `AUTH` and a few refine programs in `SVC`.
struct World {
    params: Params,
    state: PartialState,
    auth: OpaqueHash,
    echo: OpaqueHash,
    trap: OpaqueHash,
    spin: OpaqueHash,
}

fn world() -> World {
    let mut state = PartialState::default();
    let auth = install(&mut state, AUTH, &code_blob(&[HALT, TRAP]));
    let echo = install(&mut state, SVC, &code_blob(&[HALT]));
    let trap = install(&mut state, SVC, &code_blob(&[TRAP]));
    let spin = install(&mut state, SVC, &code_blob(&[LOOP]));
    World {
        params: Params::tiny(),
        state,
        auth,
        echo,
        trap,
        spin,
    }
}

fn item(service: ServiceId, code_hash: OpaqueHash, exports: u16) -> WorkItem {
    WorkItem {
        service,
        code_hash,
        refine_gas_limit: 1_000_000,
        accumulate_gas_limit: 1000,
        export_count: exports,
        payload: Bytes(b"payload".to_vec()),
        import_segments: vec![],
        extrinsic: vec![],
    }
}

fn package(w: &World, items: Vec<WorkItem>) -> WorkPackage {
    WorkPackage {
        auth_code_host: AUTH,
        auth_code_hash: w.auth,
        context: RefineContext {
            anchor: OpaqueHash([1; 32]),
            lookup_anchor_slot: ANCHOR_SLOT,
            ..Default::default()
        },
        authorization: Bytes(b"token".to_vec()),
        authorizer_config: Bytes(b"cfg".to_vec()),
        items,
    }
}

fn xi(p: &Params, st: &PartialState, pk: &WorkPackage) -> Result<ComputedReport, WorkReportError> {
    compute_work_report(
        p,
        &RefineConfig::default(),
        st,
        &InMemoryPackageData::default(),
        pk,
        1,
    )
}

fn results(r: &WorkReport) -> Vec<WorkExecResult> {
    r.results.iter().map(|w| w.result.clone()).collect()
}

/// Every item's reported gas is within its limit, and the report is self-consistent.
fn assert_sane(pk: &WorkPackage, out: &ComputedReport) {
    let r = &out.report;
    assert_eq!(r.results.len(), pk.items.len());
    for (w, res) in pk.items.iter().zip(&r.results) {
        assert!(
            res.refine_load.gas_used <= w.refine_gas_limit,
            "gas used {} over the limit {}",
            res.refine_load.gas_used,
            w.refine_gas_limit
        );
        assert_eq!(res.service_id, w.service);
        assert_eq!(res.code_hash, w.code_hash);
        assert_eq!(res.accumulate_gas, w.accumulate_gas_limit);
        assert_eq!(res.refine_load.exports, w.export_count);
    }
    let exports: u64 = pk.items.iter().map(|w| w.export_count as u64).sum();
    assert_eq!(out.exports.len() as u64, exports);
    assert_eq!(r.package_spec.exports_count as u64, exports);
    assert_eq!(r.package_spec.hash, pk.hash());
    assert_eq!(r.authorizer_hash, authorizer_hash(pk));
}

// ---------------------------------------------------------------------------------------------
// Bad authorization: no report, a typed error.
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_input_unauthorized_packages_yield_typed_errors() {
    let w = world();
    let p = &w.params;
    let good = package(&w, vec![item(SVC, w.echo, 0)]);
    assert!(xi(p, &w.state, &good).is_ok());
    let unauthorized = |st: &PartialState, p: &Params, pk: &WorkPackage| match xi(p, st, pk) {
        Err(WorkReportError::Unauthorized(e)) => e,
        other => panic!("expected Unauthorized, got {other:?}"),
    };

    // BAD: the code is held by another service than p_h, p_h does not exist, the code only
    // becomes available after the lookup anchor, or the preimage is not `E(↕m, c)`.
    let mut pk = good.clone();
    pk.auth_code_host = SVC;
    assert_eq!(unauthorized(&w.state, p, &pk), WorkError::Bad);
    pk.auth_code_host = NO_SUCH_SERVICE;
    assert_eq!(unauthorized(&w.state, p, &pk), WorkError::Bad);
    let mut st = w.state.clone();
    let mut pk = good.clone();
    pk.auth_code_hash = install_blob(
        &mut st,
        AUTH,
        preimage(&code_blob(&[HALT, HALT])),
        ANCHOR_SLOT + 1,
    );
    assert_eq!(unauthorized(&st, p, &pk), WorkError::Bad);
    pk.auth_code_hash = install_blob(&mut st, AUTH, vec![200, 1, 2], 1);
    assert_eq!(unauthorized(&st, p, &pk), WorkError::Bad);

    // BIG: longer than W_A.
    let mut small = p.clone();
    small.max_authorizer_code_size = 8;
    assert_eq!(unauthorized(&w.state, &small, &good), WorkError::Big);

    // ☇: the authorizer traps, or its code is not a valid standard program.
    let mut pk = good.clone();
    pk.auth_code_hash = install(&mut st, AUTH, &code_blob(&[TRAP]));
    assert_eq!(unauthorized(&st, p, &pk), WorkError::Panic);
    pk.auth_code_hash = install_blob(&mut st, AUTH, vec![1, b't', 0xff, 0xff, 0xff], 1);
    assert_eq!(unauthorized(&st, p, &pk), WorkError::Panic);

    // ∞: the authorizer loops past G_I.
    pk.auth_code_hash = install(&mut st, AUTH, &code_blob(&[LOOP]));
    let mut few = p.clone();
    few.max_is_authorized_gas = 1000;
    assert_eq!(unauthorized(&st, &few, &pk), WorkError::OutOfGas);
    // The package limits are checked first: an oversize package is never authorized.
    let mut pk = pk.clone();
    pk.items = vec![item(SVC, w.echo, 0); 17];
    assert_eq!(
        xi(&few, &st, &pk).unwrap_err(),
        WorkReportError::Package(PackageError::TooManyItems { count: 17, max: 16 })
    );
}

/// Ξ does not look at α: a package whose authorizer `p_a = H(p_u ⌢ p_f)` is not in the core's
/// pool is refined (its authorizer code runs fine), and the report carries that `p_a`, which
/// the reports STF (`CoreUnauthorized`, GP 11.29) must then reject.
#[test]
fn bad_input_authorizer_outside_the_pool_is_visible_in_the_report() {
    let params = Params::tiny();
    let mut state = State::empty(&params);
    install_dev_services(&mut state);
    let mut pk = demo_work_package(RefineContext::default(), b"J\x01kv");
    pk.authorizer_config = Bytes(b"not the dev authorizer".to_vec());
    let data = InMemoryPackageData::default();
    let out = compute_work_report(&params, &RefineConfig::default(), &state, &data, &pk, 1)
        .expect("Ξ itself does not check the pool");
    assert_eq!(out.report.authorizer_hash, authorizer_hash(&pk));
    assert_ne!(out.report.authorizer_hash, dev_authorizer());
    assert!(!state.auth_pools[1].contains(&out.report.authorizer_hash));
    // An authorizer code hash that is no code at all: BAD, no report.
    pk.auth_code_hash = demo_code_hash();
    pk.auth_code_hash.0[0] ^= 1;
    assert_eq!(
        compute_work_report(&params, &RefineConfig::default(), &state, &data, &pk, 1),
        Err(WorkReportError::Unauthorized(WorkError::Bad))
    );
}

// ---------------------------------------------------------------------------------------------
// Oversize packages: no report, a typed error (GP §14.3), before anything is fetched or run.
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_input_oversize_packages_yield_typed_errors() {
    let w = world();
    let p = &w.params;
    let one = item(SVC, w.echo, 0);
    let err = |pk: &WorkPackage| match xi(p, &w.state, pk) {
        Err(WorkReportError::Package(e)) => e,
        other => panic!("expected a package error, got {other:?}"),
    };

    // Items: 16 are fine, 17 are not.
    let out = xi(p, &w.state, &package(&w, vec![one.clone(); 16])).unwrap();
    assert_eq!(out.report.results.len(), 16);
    assert_eq!(
        err(&package(&w, vec![one.clone(); 17])),
        PackageError::TooManyItems { count: 17, max: 16 }
    );

    // Extrinsics (checked before their preimages are fetched: none are known here).
    let mut x = one.clone();
    x.extrinsic = vec![
        ExtrinsicSpec {
            hash: OpaqueHash([7; 32]),
            len: 1
        };
        129
    ];
    assert_eq!(
        err(&package(&w, vec![x.clone()])),
        PackageError::TooManyExtrinsics {
            total: 129,
            max: 128
        }
    );
    x.extrinsic.truncate(128);
    assert_eq!(
        xi(p, &w.state, &package(&w, vec![x])).unwrap_err(),
        WorkReportError::MissingExtrinsic {
            hash: OpaqueHash([7; 32]),
            len: 1
        }
    );

    // Imports (before the segment-root lookup) and exports.
    let mut imp = one.clone();
    imp.import_segments = vec![
        ImportSpec {
            tree_root: OpaqueHash([8; 32]),
            index: 1 << 15,
        };
        3073
    ];
    assert_eq!(
        err(&package(&w, vec![imp])),
        PackageError::TooManyImports {
            total: 3073,
            max: 3072
        }
    );
    let mut exp = one.clone();
    exp.export_count = 3073;
    assert_eq!(
        err(&package(&w, vec![exp])),
        PackageError::TooManyExports {
            total: 3073,
            max: 3072
        }
    );

    // Bundle size W_B through the payload: |j| + |f| + |y| ≤ W_B.
    let mut fat = one.clone();
    let room = p.max_bundle_size as usize - b"token".len() - b"cfg".len();
    fat.payload = Bytes(vec![0x5a; room + 1]);
    assert_eq!(
        err(&package(&w, vec![fat.clone()])),
        PackageError::BundleTooLarge {
            size: p.max_bundle_size as u64 + 1,
            max: p.max_bundle_size as u64
        }
    );
    // At exactly W_B the package is accepted; the echoed output is past W_R: ⊖.
    fat.payload.0.pop();
    let pk = package(&w, vec![fat]);
    let out = xi(p, &w.state, &pk).unwrap();
    assert_eq!(results(&out.report), vec![WorkExecResult::CodeOversize]);
    assert_sane(&pk, &out);

    // Gas: Σ w_g < G_R and Σ w_a < G_A.
    let mut g = one.clone();
    g.refine_gas_limit = p.max_refine_gas;
    assert_eq!(
        err(&package(&w, vec![g.clone()])),
        PackageError::RefineGasTooHigh {
            total: p.max_refine_gas as u128,
            max: p.max_refine_gas
        }
    );
    g.refine_gas_limit = u64::MAX;
    assert_eq!(
        err(&package(&w, vec![g.clone(), g.clone()])),
        PackageError::RefineGasTooHigh {
            total: 2 * u64::MAX as u128,
            max: p.max_refine_gas
        }
    );
    g.refine_gas_limit = p.max_refine_gas - 1;
    assert!(xi(p, &w.state, &package(&w, vec![g.clone()])).is_ok());
    g.accumulate_gas_limit = p.max_accumulate_gas;
    assert_eq!(
        err(&package(&w, vec![g])),
        PackageError::AccumulateGasTooHigh {
            total: p.max_accumulate_gas as u128,
            max: p.max_accumulate_gas
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Bad items: the report is produced, the item carries the GP's error result.
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_input_unknown_service_is_bad_and_the_report_is_produced() {
    let w = world();
    let p = &w.params;
    let pk = package(
        &w,
        vec![
            item(SVC, w.echo, 0),
            item(NO_SUCH_SERVICE, w.echo, 0),
            item(SVC, w.echo, 0),
        ],
    );
    let out = xi(p, &w.state, &pk).unwrap();
    let r = results(&out.report);
    assert!(matches!(r[0], WorkExecResult::Ok(_)), "{r:?}");
    assert_eq!(r[1], WorkExecResult::BadCode);
    assert!(matches!(r[2], WorkExecResult::Ok(_)), "{r:?}");
    assert_eq!(out.report.results[1].service_id, NO_SUCH_SERVICE);
    assert_eq!(out.report.results[1].refine_load.gas_used, 0);
    assert_eq!(out.report.results[0].refine_load.gas_used, 1);
    assert_sane(&pk, &out);

    // Declaring exports it cannot make: ⊚ (the export count is checked first), and its
    // exports are zero segments.
    let pk = package(&w, vec![item(NO_SUCH_SERVICE, w.echo, 2)]);
    let out = xi(p, &w.state, &pk).unwrap();
    assert_eq!(results(&out.report), vec![WorkExecResult::BadExports]);
    assert_eq!(out.exports, vec![vec![0; p.segment_size()]; 2]);
    assert_sane(&pk, &out);
}

#[test]
fn bad_input_code_hash_mismatch_is_bad() {
    let mut w = world();
    let p = w.params.clone();
    // Held by another service (the authorizer's code in AUTH), unknown, requested but never
    // provided, available only after the lookup anchor, or not a code preimage `E(↕m, c)`.
    let unknown = OpaqueHash([0xee; 32]);
    let requested = OpaqueHash([0xdd; 32]);
    w.state
        .service_data
        .insert(lookup_key(SVC, &requested, 10), encode_lookup(&[]));
    let late = install_blob(
        &mut w.state,
        SVC,
        preimage(&code_blob(&[HALT, HALT])),
        ANCHOR_SLOT + 1,
    );
    let malformed = install_blob(&mut w.state, SVC, vec![100, 1, 2, 3], 1);
    let pk = package(
        &w,
        vec![
            item(SVC, w.auth, 0),
            item(SVC, unknown, 0),
            item(SVC, requested, 0),
            item(SVC, late, 0),
            item(SVC, malformed, 0),
            item(SVC, w.echo, 0),
        ],
    );
    let out = xi(&p, &w.state, &pk).unwrap();
    let r = results(&out.report);
    assert_eq!(r[..5], vec![WorkExecResult::BadCode; 5][..], "{r:?}");
    assert!(matches!(r[5], WorkExecResult::Ok(_)), "{r:?}");
    assert!(out.report.results[..5]
        .iter()
        .all(|x| x.refine_load.gas_used == 0));
    assert_sane(&pk, &out);

    // BIG (reported as code_oversize): the code preimage is longer than W_C.
    let mut small = p.clone();
    small.max_service_code_size = 8;
    let pk = package(&w, vec![item(SVC, w.echo, 0)]);
    let out = xi(&small, &w.state, &pk).unwrap();
    assert_eq!(results(&out.report), vec![WorkExecResult::CodeOversize]);
    assert_sane(&pk, &out);
}

#[test]
fn bad_input_refine_out_of_gas_is_reported_with_sane_gas() {
    let w = world();
    let p = &w.params;
    let mut spin = item(SVC, w.spin, 0);
    spin.refine_gas_limit = 1;
    let mut spin_more = item(SVC, w.spin, 0);
    spin_more.refine_gas_limit = 5000;
    let mut starved = item(SVC, w.echo, 0);
    starved.refine_gas_limit = 0;
    let mut exporter = item(SVC, w.spin, 1);
    exporter.refine_gas_limit = 1;
    let pk = package(
        &w,
        vec![spin, spin_more, starved, item(SVC, w.echo, 0), exporter],
    );
    let out = xi(p, &w.state, &pk).unwrap();
    let r = &out.report;
    assert_eq!(
        results(r)[..3],
        vec![WorkExecResult::OutOfGas; 3][..],
        "{:?}",
        results(r)
    );
    assert!(matches!(r.results[3].result, WorkExecResult::Ok(_)));
    // An out-of-gas item that declared an export: ⊚ and a zero segment.
    assert_eq!(r.results[4].result, WorkExecResult::BadExports);
    assert_eq!(out.exports, vec![vec![0; p.segment_size()]]);
    // The whole limit is charged, no more.
    let gas: Vec<_> = r.results.iter().map(|x| x.refine_load.gas_used).collect();
    assert_eq!(gas, vec![1, 5000, 0, 1, 1]);
    assert_eq!(r.auth_gas_used, 1);
    assert_sane(&pk, &out);

    // The dev genesis demo service with refine_gas_limit 1.
    let params = Params::tiny();
    let mut state = State::empty(&params);
    install_dev_services(&mut state);
    let mut pk = demo_work_package(RefineContext::default(), b"J\x03keyvalue");
    pk.items[0].refine_gas_limit = 1;
    let out = compute_work_report(
        &params,
        &RefineConfig::default(),
        &state,
        &InMemoryPackageData::default(),
        &pk,
        0,
    )
    .unwrap();
    assert_eq!(results(&out.report), vec![WorkExecResult::OutOfGas]);
    assert_eq!(out.report.results[0].refine_load.gas_used, 1);
    assert_eq!(out.report.results[0].service_id, DEMO_SERVICE_ID);
    assert_eq!(out.report.authorizer_hash, dev_authorizer());
    assert_sane(&pk, &out);
}

#[test]
fn bad_input_refine_panic_is_reported() {
    let mut w = world();
    let p = w.params.clone();
    // An invalid program (the code blob does not decode) also panics.
    let garbage = install_blob(&mut w.state, SVC, vec![1, b't', 0xff, 0xff, 0xff, 0xff], 1);
    let pk = package(
        &w,
        vec![
            item(SVC, w.trap, 0),
            item(SVC, garbage, 0),
            item(SVC, w.echo, 0),
        ],
    );
    let out = xi(&p, &w.state, &pk).unwrap();
    let r = &out.report;
    assert_eq!(
        results(r)[..2],
        [WorkExecResult::Panic, WorkExecResult::Panic]
    );
    assert!(matches!(r.results[2].result, WorkExecResult::Ok(_)));
    let gas: Vec<_> = r.results.iter().map(|x| x.refine_load.gas_used).collect();
    assert_eq!(gas, vec![1, 0, 1]);
    assert_sane(&pk, &out);

    // The dev genesis demo service panics on a payload without its magic octet.
    let params = Params::tiny();
    let mut state = State::empty(&params);
    install_dev_services(&mut state);
    let pk = demo_work_package(RefineContext::default(), b"not a demo payload");
    let out = compute_work_report(
        &params,
        &RefineConfig::default(),
        &state,
        &InMemoryPackageData::default(),
        &pk,
        0,
    )
    .unwrap();
    assert_eq!(results(&out.report), vec![WorkExecResult::Panic]);
    assert!(out.report.results[0].refine_load.gas_used > 0);
    assert_sane(&pk, &out);
}
