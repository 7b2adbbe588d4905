//! The demo service (`services/demo.s`, issue #8) assembled at test time with `jam_pvm::asm`
//! and run: refine through the project's Ψ_R (`jam_consensus::refine::refine`, GP B.3: the
//! code looked up historically, Ψ_M at pc 0 with the refine host calls), accumulate through
//! the project's accumulation (GP 12, Ψ_A at pc 5, GP B.4) on a small state.

use jam_consensus::accumulate::keys::{preimage_key, storage_key};
use jam_consensus::accumulate::{
    accumulate, AccumulateConfig, AccumulateInput, AccumulateOutcome, AccumulateState, PartialState,
};
use jam_consensus::general::EncodedPackage;
use jam_consensus::refine::{self, RefineArgs, RefineConfig, WorkError, WorkOutput};
use jam_pvm::asm::{self, services};
use jam_state::codec::Bytes;
use jam_state::hash::blake2b_256;
use jam_state::keys::{encode_lookup, lookup_key};
use jam_state::params::Params;
use jam_state::types::{
    AuthQueue, AuthQueues, FixedVec, OpaqueHash, Privileges, RefineContext, ServiceId, ServiceInfo,
    ValidatorsData, WorkExecResult, WorkItem, WorkPackage, WorkPackageSpec, WorkReport, WorkResult,
};

const DEMO: &str = include_str!("../../services/demo.s");
const ME: ServiceId = 1234;
/// The lookup-anchor slot of the refined packages; the code is available from slot 1.
const ANCHOR_SLOT: u32 = 10;

fn demo() -> asm::Assembly {
    asm::assemble(DEMO).unwrap_or_else(|e| panic!("services/demo.s: {e}"))
}

/// The state refine sees: service `ME` with the demo code as a preimage, available (its
/// lookup record `[1]`) from slot 1.
fn refine_view() -> (PartialState, OpaqueHash) {
    let code = services::demo_service_code();
    let code_hash = OpaqueHash(blake2b_256(&code));
    let mut st = PartialState::default();
    st.accounts.insert(ME, ServiceInfo::default());
    st.service_data.insert(
        lookup_key(ME, &code_hash, code.len() as u32),
        encode_lookup(&[1]),
    );
    st.service_data
        .insert(jam_state::keys::preimage_key(ME, &code_hash), code);
    (st, code_hash)
}

/// Ψ_R (GP B.3) of the only item of a package whose payload is `payload`: the demo code is
/// looked up at the anchor and run from pc 0 on `E(c, i, w_s, ↕w_y, H(p))`.
fn refine(payload: &[u8]) -> WorkOutput {
    let (view, code_hash) = refine_view();
    let package = WorkPackage {
        auth_code_host: ME,
        context: RefineContext {
            lookup_anchor_slot: ANCHOR_SLOT,
            ..Default::default()
        },
        items: vec![WorkItem {
            service: ME,
            code_hash,
            refine_gas_limit: 100_000,
            accumulate_gas_limit: 20_000,
            export_count: 0,
            payload: Bytes(payload.to_vec()),
            import_segments: vec![],
            extrinsic: vec![],
        }],
        ..Default::default()
    };
    let encoded = EncodedPackage::new(&package);
    let none = vec![Vec::new()];
    let args = RefineArgs {
        core: 0,
        package: &encoded,
        auth_trace: &[],
        imports: &none,
        extrinsics: &none,
    };
    let p = Params::tiny();
    let r = refine::refine(&p, &RefineConfig::default(), &view, &args, 0, 0);
    // The demo exports nothing and refines in far less than its gas.
    assert!(r.exports.is_empty());
    assert!(r.gas_used > 0 && r.gas_used < 100_000, "{r:?}");
    r.result
}

/// `J ⌢ k ⌢ key ⌢ value`.
fn payload(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut p = vec![b'J', key.len() as u8];
    p.extend_from_slice(key);
    p.extend_from_slice(value);
    p
}

fn state(p: &Params, counter: Option<u64>) -> AccumulateState {
    let mut partial = PartialState {
        staging: ValidatorsData::filled(p, Default::default()),
        auth_queues: AuthQueues::filled(p, AuthQueue::filled(p, OpaqueHash::ZERO)),
        privileges: Privileges {
            assign: FixedVec::filled(p, 0),
            ..Default::default()
        },
        ..Default::default()
    };
    let code = services::demo_service_code();
    let code_hash = OpaqueHash(blake2b_256(&code));
    partial
        .service_data
        .insert(preimage_key(ME, &code_hash), code);
    let mut info = ServiceInfo {
        balance: 1 << 40,
        code_hash,
        ..Default::default()
    };
    if let Some(c) = counter {
        partial
            .service_data
            .insert(storage_key(ME, &[]), c.to_le_bytes().to_vec());
        info.items = 1;
        info.bytes = 34 + 8;
    }
    partial.accounts.insert(ME, info);
    AccumulateState {
        partial,
        ready_queue: FixedVec::filled(p, Vec::new()),
        accumulated: FixedVec::filled(p, Vec::new()),
    }
}

fn report(package: u8, results: Vec<WorkExecResult>) -> WorkReport {
    WorkReport {
        package_spec: WorkPackageSpec {
            hash: OpaqueHash([package; 32]),
            ..Default::default()
        },
        context: RefineContext::default(),
        results: results
            .into_iter()
            .map(|result| WorkResult {
                service_id: ME,
                accumulate_gas: 20_000,
                result,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn run(p: &Params, st: AccumulateState, reports: &[WorkReport], slot: u32) -> AccumulateOutcome {
    let input = AccumulateInput {
        slot,
        prior_slot: slot - 1,
        entropy: OpaqueHash::ZERO,
        reports,
    };
    accumulate(p, &AccumulateConfig::default(), st, &input)
}

fn ok(output: Vec<u8>) -> WorkExecResult {
    WorkExecResult::Ok(Bytes(output))
}

#[test]
fn the_public_blob_is_the_assembled_source() {
    let a = demo();
    assert_eq!(services::demo_service_code(), a.service_blob());
    assert_eq!(services::DEMO_SOURCE, DEMO);
    // GP 9.4: E(↕m, c), c a standard program (GP A.7) entered at pc 0 and pc 5.
    let blob = a.service_blob();
    let m = a.metadata.len();
    assert_eq!((blob[0] as usize, &blob[1..1 + m]), (m, &a.metadata[..]));
    assert!(jam_pvm::StandardProgram::new(&blob[1 + m..]).is_ok());
    let program = a.program().unwrap();
    assert!(program.is_basic_block_start(0) && program.is_basic_block_start(5));
}

#[test]
fn refine_checks_and_transforms_the_payload() {
    let out = refine(&payload(b"name", b"jam")).unwrap();
    let sum: u32 = [4u8]
        .iter()
        .chain(b"name")
        .chain(b"jam")
        .map(|&b| b as u32)
        .sum();
    let mut want = vec![4];
    want.extend_from_slice(b"namejam");
    want.extend_from_slice(&sum.to_le_bytes());
    assert_eq!(out, want);
    for bad in [
        b"Xname".to_vec(),
        payload(b"", b"v"),
        payload(&[7; 33], b""),
        payload(b"k", &[0; 62]),
        vec![b'J', 9, b'k'],
    ] {
        assert_eq!(refine(&bad), Err(WorkError::Panic), "{bad:?}");
    }
}

#[test]
fn accumulate_writes_refined_items_and_counts_them() {
    let p = Params::tiny();
    let a = refine(&payload(b"alpha", b"one")).unwrap();
    let b = refine(&payload(b"beta", b"")).unwrap();
    let mut tampered = refine(&payload(b"gamma", b"three")).unwrap();
    tampered[1] ^= 1;
    let reports = [
        report(1, vec![ok(a), WorkExecResult::Panic]),
        report(2, vec![ok(tampered), ok(b)]),
    ];
    let out = run(&p, state(&p, Some(5)), &reports, 10);
    assert_eq!(out.accumulated_reports, 2);
    let data = &out.state.partial.service_data;
    let get = |k: &[u8]| data.get(&storage_key(ME, k)).cloned();
    assert_eq!(get(b"alpha"), Some(b"one".to_vec()));
    // An empty value deletes (nothing to delete here); still counted.
    assert_eq!(get(b"beta"), None);
    // Neither the work error nor the bad checksum wrote anything.
    assert_eq!(get(b"gamma"), None);
    assert_eq!(get(&[]), Some(7u64.to_le_bytes().to_vec()));
    let info = out.state.partial.accounts[&ME];
    assert_eq!(info.items, 2);
    assert_eq!(info.bytes, (34 + 8) + (34 + 5 + 3));
    assert_eq!(info.last_accumulation_slot, 10);
    let stats = out.statistics[&ME];
    assert_eq!(stats.count, 4);
    assert!(stats.gas_used > 200 && stats.gas_used < 2_000, "{stats:?}");
    assert!(out.outputs.is_empty());

    // A second block: overwrite one key, delete it again, add another; the counter was
    // created by the first block's write.
    let reports = [report(
        3,
        vec![
            ok(refine(&payload(b"alpha", b"uno")).unwrap()),
            ok(refine(&payload(b"alpha", b"")).unwrap()),
            ok(refine(&payload(&[0xff; 32], &[0xee; 30])).unwrap()),
        ],
    )];
    let out = run(&p, out.state, &reports, 11);
    let data = &out.state.partial.service_data;
    let get = |k: &[u8]| data.get(&storage_key(ME, k)).cloned();
    assert_eq!(get(b"alpha"), None);
    assert_eq!(get(&[0xff; 32]), Some(vec![0xee; 30]));
    assert_eq!(get(&[]), Some(10u64.to_le_bytes().to_vec()));
    let info = out.state.partial.accounts[&ME];
    assert_eq!(info.items, 2);
    assert_eq!(info.bytes, (34 + 8) + (34 + 32 + 30));
}

#[test]
fn accumulate_starts_the_counter_from_nothing() {
    let p = Params::tiny();
    let reports = [report(1, vec![ok(refine(&payload(b"k", b"v")).unwrap())])];
    let out = run(&p, state(&p, None), &reports, 3);
    let data = &out.state.partial.service_data;
    assert_eq!(data.get(&storage_key(ME, b"k")), Some(&b"v".to_vec()));
    assert_eq!(
        data.get(&storage_key(ME, &[])),
        Some(&1u64.to_le_bytes().to_vec())
    );
    assert_eq!(out.state.partial.accounts[&ME].items, 2);
}
