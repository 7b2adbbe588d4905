//! Unit tests of the accumulate host calls (GP v0.7.2 B.6/B.7) and of Ψ_A's checkpoint semantics.

use super::host_calls::{code, index, AccumulateHost, Env, Implications};
use super::keys::{encode_slots, lookup_key, preimage_key, storage_key};
use super::*;
use crate::test_vm::{Vm, MEM};
use jam_pvm::HostResult;
use jam_state::types::{
    AlwaysAccumulateMapEntry, AuthQueue, RefineContext, WorkPackageSpec, WorkResult,
};

const ME: ServiceId = 100;
const OTHER: ServiceId = 200;

fn params() -> Params {
    Params::tiny()
}

fn info(balance: u64) -> ServiceInfo {
    ServiceInfo {
        balance,
        min_memo_gas: 5,
        ..Default::default()
    }
}

fn base(p: &Params) -> PartialState {
    let mut s = PartialState {
        staging: ValidatorsData::filled(p, Default::default()),
        auth_queues: AuthQueues::filled(p, AuthQueue::filled(p, OpaqueHash::ZERO)),
        privileges: Privileges {
            assign: jam_state::types::FixedVec::filled(p, ME),
            ..Default::default()
        },
        ..Default::default()
    };
    s.privileges.bless = ME;
    s.privileges.designate = ME;
    s.privileges.register = ME;
    s.accounts.insert(ME, info(1_000_000));
    s.accounts.insert(OTHER, info(1_000));
    s
}

fn env<'a>(p: &'a Params, b: &'a PartialState) -> Env<'a> {
    Env {
        params: p,
        base: b,
        slot: 100,
        entropy: OpaqueHash([7; 32]),
        inputs: vec![vec![0, 1, 2], vec![3]],
        constants: p.to_protocol_parameters(),
        log_gas: 10,
    }
}

fn host<'a, 'e>(env: &'a Env<'e>) -> AccumulateHost<'a, 'e> {
    let x = Implications::new(env, ME, None);
    AccumulateHost {
        env,
        y: x.clone(),
        x,
    }
}

#[test]
fn gas_unknown_and_log() {
    let p = params();
    let b = base(&p);
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    assert_eq!(vm.call(&mut h, index::GAS, &[]), HostResult::Continue);
    assert_eq!((vm.regs[7], vm.gas), (990, 990));
    assert_eq!(vm.call(&mut h, 77, &[]), HostResult::Continue);
    assert_eq!((vm.regs[7], vm.gas), (code::WHAT, 980));
    vm.regs[7] = 3;
    assert_eq!(vm.call(&mut h, index::LOG, &[]), HostResult::Continue);
    assert_eq!((vm.regs[7], vm.gas), (3, 970));
    vm.gas = 5;
    assert_eq!(vm.call(&mut h, index::GAS, &[]), HostResult::OutOfGas);
}

#[test]
fn fetch_constants_entropy_inputs() {
    let p = params();
    let b = base(&p);
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    let consts = p.to_protocol_parameters();
    // Selector 0, window [2, 2 + 4).
    vm.call(&mut h, index::FETCH, &[MEM, 2, 4, 0]);
    assert_eq!(vm.regs[7], consts.len() as u64);
    assert_eq!(vm.get(0, 4), consts[2..6]);
    vm.call(&mut h, index::FETCH, &[MEM, 0, 32, 1]);
    assert_eq!((vm.regs[7], vm.get(0, 32)), (32, vec![7; 32]));
    vm.call(&mut h, index::FETCH, &[MEM, 0, 100, 14]);
    assert_eq!((vm.regs[7], vm.get(0, 5)), (5, vec![2, 0, 1, 2, 3]));
    vm.call(&mut h, index::FETCH, &[MEM, 0, 100, 15, 1]);
    assert_eq!((vm.regs[7], vm.get(0, 1)), (1, vec![3]));
    vm.call(&mut h, index::FETCH, &[MEM, 0, 100, 15, 2]);
    assert_eq!(vm.regs[7], code::NONE);
    vm.call(&mut h, index::FETCH, &[MEM, 0, 100, 7]);
    assert_eq!(vm.regs[7], code::NONE);
    // Unwritable output panics.
    assert_eq!(
        vm.call(&mut h, index::FETCH, &[0x1000, 0, 100, 1]),
        HostResult::Panic
    );
}

#[test]
fn write_read_and_footprint() {
    let p = params();
    let b = base(&p);
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    vm.put(0, b"key");
    vm.put(16, b"value!");
    assert_eq!(
        vm.call(&mut h, index::WRITE, &[MEM, 3, MEM + 16, 6]),
        HostResult::Continue
    );
    assert_eq!(vm.regs[7], code::NONE);
    let a = h.x.account(&e, ME).unwrap();
    assert_eq!((a.items, a.bytes), (1, 34 + 3 + 6));
    // Overwrite returns the previous length.
    vm.call(&mut h, index::WRITE, &[MEM, 3, MEM + 16, 2]);
    assert_eq!(vm.regs[7], 6);
    let a = h.x.account(&e, ME).unwrap();
    assert_eq!((a.items, a.bytes), (1, 34 + 3 + 2));
    // Read own (ω7 = 2^64-1) with offset 1.
    vm.call(&mut h, index::READ, &[u64::MAX, MEM, 3, MEM + 100, 1, 10]);
    assert_eq!((vm.regs[7], vm.get(100, 1)), (2, b"a".to_vec()));
    // Another service has no such key.
    vm.call(
        &mut h,
        index::READ,
        &[OTHER as u64, MEM, 3, MEM + 100, 0, 10],
    );
    assert_eq!(vm.regs[7], code::NONE);
    // Delete.
    vm.call(&mut h, index::WRITE, &[MEM, 3, 0, 0]);
    assert_eq!(vm.regs[7], 2);
    let a = h.x.account(&e, ME).unwrap();
    assert_eq!((a.items, a.bytes), (0, 0));
    assert_eq!(h.x.data.get(&(ME, storage_key(ME, b"key"))), Some(&None));
    // Unreadable key panics.
    assert_eq!(
        vm.call(&mut h, index::WRITE, &[0x1000, 3, MEM, 1]),
        HostResult::Panic
    );
}

#[test]
fn write_beyond_balance_is_full() {
    let p = params();
    let mut b = base(&p);
    b.accounts.insert(ME, info(100 + 10 + 40));
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    vm.call(&mut h, index::WRITE, &[MEM, 3, MEM, 3]);
    assert_eq!(vm.regs[7], code::NONE); // fits: 100 + 10 + 40 = threshold
    vm.call(&mut h, index::WRITE, &[MEM, 4, MEM, 3]);
    assert_eq!(vm.regs[7], code::FULL);
}

#[test]
fn lookup_and_info() {
    let p = params();
    let mut b = base(&p);
    let blob = b"preimage".to_vec();
    let hash = OpaqueHash(blake2b_256(&blob));
    b.service_data
        .insert(preimage_key(OTHER, &hash), blob.clone());
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    vm.put(0, hash.as_bytes());
    vm.call(
        &mut h,
        index::LOOKUP,
        &[OTHER as u64, MEM, MEM + 64, 0, 100],
    );
    assert_eq!((vm.regs[7], vm.get(64, 8)), (8, blob));
    vm.call(&mut h, index::LOOKUP, &[u64::MAX, MEM, MEM + 64, 0, 100]);
    assert_eq!(vm.regs[7], code::NONE);
    vm.call(&mut h, index::INFO, &[OTHER as u64, MEM + 128, 0, 200]);
    assert_eq!(vm.regs[7], 96);
    let v = vm.get(128, 96);
    assert_eq!(u64::from_le_bytes(v[32..40].try_into().unwrap()), 1_000);
    assert_eq!(u64::from_le_bytes(v[40..48].try_into().unwrap()), 100); // threshold
    vm.call(&mut h, index::INFO, &[999, MEM + 128, 0, 200]);
    assert_eq!(vm.regs[7], code::NONE);
}

#[test]
fn solicit_query_forget_provide() {
    let p = params();
    let b = base(&p);
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    let blob = b"data".to_vec();
    let hash = OpaqueHash(blake2b_256(&blob));
    vm.put(0, hash.as_bytes());
    vm.put(64, &blob);
    vm.call(&mut h, index::QUERY, &[MEM, 4]);
    assert_eq!(vm.regs[7], code::NONE);
    vm.call(&mut h, index::SOLICIT, &[MEM, 4]);
    assert_eq!(vm.regs[7], code::OK);
    let a = h.x.account(&e, ME).unwrap();
    assert_eq!((a.items, a.bytes), (2, 85));
    vm.call(&mut h, index::SOLICIT, &[MEM, 4]);
    assert_eq!(vm.regs[7], code::HUH);
    vm.call(&mut h, index::QUERY, &[MEM, 4]);
    assert_eq!((vm.regs[7], vm.regs[8]), (0, 0));
    // Provide it (to self), twice.
    vm.call(&mut h, index::PROVIDE, &[u64::MAX, MEM + 64, 4]);
    assert_eq!(vm.regs[7], code::OK);
    vm.call(&mut h, index::PROVIDE, &[u64::MAX, MEM + 64, 4]);
    assert_eq!(vm.regs[7], code::HUH);
    vm.call(&mut h, index::PROVIDE, &[999, MEM + 64, 4]);
    assert_eq!(vm.regs[7], code::WHO);
    assert!(h.x.provisions.contains(&(ME, blob.clone())));
    // Forget the unprovided request: dropped at once.
    vm.call(&mut h, index::FORGET, &[MEM, 4]);
    assert_eq!(vm.regs[7], code::OK);
    let a = h.x.account(&e, ME).unwrap();
    assert_eq!((a.items, a.bytes), (0, 0));
    vm.call(&mut h, index::FORGET, &[MEM, 4]);
    assert_eq!(vm.regs[7], code::HUH);
}

#[test]
fn forget_and_query_history() {
    let p = params();
    let mut b = base(&p);
    let hash = OpaqueHash([9; 32]);
    b.service_data
        .insert(lookup_key(ME, &hash, 10), encode_slots(&[5]));
    b.service_data.insert(preimage_key(ME, &hash), vec![0; 10]);
    let mut a = info(1_000_000);
    a.items = 2;
    a.bytes = 91;
    b.accounts.insert(ME, a);
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    vm.put(0, hash.as_bytes());
    vm.call(&mut h, index::QUERY, &[MEM, 10]);
    assert_eq!((vm.regs[7], vm.regs[8]), (1 + (5 << 32), 0));
    vm.call(&mut h, index::FORGET, &[MEM, 10]);
    assert_eq!(vm.regs[7], code::OK);
    vm.call(&mut h, index::QUERY, &[MEM, 10]);
    assert_eq!((vm.regs[7], vm.regs[8]), (2 + (5 << 32), 100));
    // [5, 100]: not yet expired at slot 100 (D = 32).
    vm.call(&mut h, index::FORGET, &[MEM, 10]);
    assert_eq!(vm.regs[7], code::HUH);
    // Re-solicit: [5, 100, 100].
    vm.call(&mut h, index::SOLICIT, &[MEM, 10]);
    assert_eq!(vm.regs[7], code::OK);
    vm.call(&mut h, index::QUERY, &[MEM, 10]);
    assert_eq!((vm.regs[7], vm.regs[8]), (3 + (5 << 32), 100 + (100 << 32)));
}

#[test]
fn new_service_and_upgrade() {
    let p = params();
    let b = base(&p);
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    vm.put(0, &[3; 32]);
    let expected_id = h.x.next_free_id;
    assert!(expected_id >= MIN_PUBLIC_INDEX);
    // Not the registrar: the desired id is ignored.
    h.x.privileges.register = OTHER;
    vm.call(&mut h, index::NEW, &[MEM, 1000, 11, 12, 0, 0]);
    assert_eq!(vm.regs[7], expected_id as u64);
    let n = h.x.account(&e, expected_id).unwrap();
    assert_eq!(
        (n.items, n.bytes, n.min_item_gas, n.min_memo_gas),
        (2, 1081, 11, 12)
    );
    assert_eq!(n.balance, 100 + 20 + 1081);
    assert_eq!((n.parent_service, n.creation_slot), (ME, 100));
    assert_eq!(h.x.account(&e, ME).unwrap().balance, 1_000_000 - n.balance);
    assert_ne!(h.x.next_free_id, expected_id);
    // Reserved id by the registrar.
    h.x.privileges.register = ME;
    vm.call(&mut h, index::NEW, &[MEM, 0, 0, 0, 0, 7]);
    assert_eq!(vm.regs[7], 7);
    vm.call(&mut h, index::NEW, &[MEM, 0, 0, 0, 0, 7]);
    assert_eq!(vm.regs[7], code::FULL);
    // Gratis storage needs the manager.
    h.x.privileges.bless = OTHER;
    vm.call(&mut h, index::NEW, &[MEM, 0, 0, 0, 5, 0]);
    assert_eq!(vm.regs[7], code::HUH);
    vm.call(&mut h, index::UPGRADE, &[MEM, 1, 2]);
    let a = h.x.account(&e, ME).unwrap();
    assert_eq!(
        (a.code_hash, a.min_item_gas, a.min_memo_gas),
        (OpaqueHash([3; 32]), 1, 2)
    );
}

#[test]
fn privileged_calls() {
    let p = params();
    let b = base(&p);
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    // bless(m=1, a=[2,3], v=4, r=5, z={6: 77})
    vm.put(0, &[2, 0, 0, 0, 3, 0, 0, 0]);
    let mut z = 6u32.to_le_bytes().to_vec();
    z.extend_from_slice(&77u64.to_le_bytes());
    vm.put(64, &z);
    vm.call(&mut h, index::BLESS, &[1, MEM, 4, 5, MEM + 64, 1]);
    assert_eq!(vm.regs[7], code::OK);
    let pr = &h.x.privileges;
    assert_eq!(
        (
            pr.bless,
            pr.assign[0],
            pr.assign[1],
            pr.designate,
            pr.register
        ),
        (1, 2, 3, 4, 5)
    );
    assert_eq!(
        pr.always_acc,
        vec![AlwaysAccumulateMapEntry { id: 6, gas: 77 }]
    );
    vm.call(&mut h, index::BLESS, &[1 << 32, MEM, 4, 5, MEM + 64, 1]);
    assert_eq!(vm.regs[7], code::WHO);
    // Now no longer assigner nor delegator.
    vm.call(&mut h, index::ASSIGN, &[0, MEM, 9]);
    assert_eq!(vm.regs[7], code::HUH);
    vm.call(&mut h, index::ASSIGN, &[2, MEM, 9]);
    assert_eq!(vm.regs[7], code::CORE);
    vm.call(&mut h, index::DESIGNATE, &[MEM]);
    assert_eq!(vm.regs[7], code::HUH);

    let mut h = host(&e);
    vm.put(0, &[5; 32 * 80]);
    vm.call(&mut h, index::ASSIGN, &[1, MEM, 9]);
    assert_eq!(vm.regs[7], code::OK);
    assert_eq!(h.x.privileges.assign[1], 9);
    assert_eq!(h.x.auth_queues[&1][79], OpaqueHash([5; 32]));
    vm.call(&mut h, index::DESIGNATE, &[MEM]);
    assert_eq!(vm.regs[7], code::OK);
    assert_eq!(h.x.staging.as_ref().unwrap().len(), 6);
    assert_eq!(
        vm.call(&mut h, index::DESIGNATE, &[MEM + 0xfc00]),
        HostResult::Panic
    );
}

#[test]
fn transfer_outcomes_and_gas() {
    let p = params();
    let b = base(&p);
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    vm.put(0, &[1; 128]);
    vm.call(&mut h, index::TRANSFER, &[999, 10, 50, MEM]);
    assert_eq!((vm.regs[7], vm.gas), (code::WHO, 990));
    vm.call(&mut h, index::TRANSFER, &[OTHER as u64, 10, 4, MEM]);
    assert_eq!(vm.regs[7], code::LOW);
    vm.call(&mut h, index::TRANSFER, &[OTHER as u64, 1_000_000, 50, MEM]);
    assert_eq!(vm.regs[7], code::CASH);
    vm.call(&mut h, index::TRANSFER, &[OTHER as u64, 10, 50, MEM]);
    assert_eq!((vm.regs[7], vm.gas), (code::OK, 970 - 60));
    assert_eq!(h.x.transfers.len(), 1);
    assert_eq!(h.x.transfers[0].gas, 50);
    assert_eq!(h.x.account(&e, ME).unwrap().balance, 1_000_000 - 10);
    assert_eq!(
        vm.call(&mut h, index::TRANSFER, &[OTHER as u64, 10, 50, 0]),
        HostResult::Panic
    );
}

#[test]
fn eject_expired_service() {
    let p = params();
    let mut b = base(&p);
    let mut code_hash = [0u8; 32];
    code_hash[..4].copy_from_slice(&ME.to_le_bytes());
    let hash = OpaqueHash([4; 32]);
    let mut victim = info(500);
    victim.code_hash = OpaqueHash(code_hash);
    victim.items = 2;
    victim.bytes = 81 + 20;
    b.accounts.insert(OTHER, victim);
    b.service_data
        .insert(lookup_key(OTHER, &hash, 20), encode_slots(&[1, 60]));
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    vm.put(0, hash.as_bytes());
    vm.call(&mut h, index::EJECT, &[ME as u64, MEM]);
    assert_eq!(vm.regs[7], code::WHO);
    vm.call(&mut h, index::EJECT, &[OTHER as u64, MEM]);
    assert_eq!(vm.regs[7], code::OK);
    assert!(h.x.account(&e, OTHER).is_none());
    assert_eq!(h.x.account(&e, ME).unwrap().balance, 1_000_500);

    // Not yet expired: 60 >= 100 - 32 is false... use a later "forgotten" slot.
    let mut b2 = b.clone();
    b2.service_data
        .insert(lookup_key(OTHER, &hash, 20), encode_slots(&[1, 90]));
    let e2 = env(&p, &b2);
    let mut h2 = host(&e2);
    vm.call(&mut h2, index::EJECT, &[OTHER as u64, MEM]);
    assert_eq!(vm.regs[7], code::HUH);
}

#[test]
fn checkpoint_copies_regular_into_exceptional() {
    let p = params();
    let b = base(&p);
    let e = env(&p, &b);
    let mut h = host(&e);
    let mut vm = Vm::new();
    vm.put(0, &[1; 32]);
    vm.call(&mut h, index::YIELD, &[MEM]);
    assert_eq!(h.y.yield_hash, None);
    vm.call(&mut h, index::CHECKPOINT, &[]);
    assert_eq!(vm.regs[7], 980);
    assert_eq!(h.y.yield_hash, Some(OpaqueHash([1; 32])));
}

// ---- Ψ_A through the PVM ----

/// A standard program (GP A.7) with no data and the code blob `code`, entry at pc 5.
fn program(instrs: &[&[u8]]) -> Vec<u8> {
    let mut all: Vec<&[u8]> = vec![&[1], &[1], &[1], &[1], &[1]];
    all.extend_from_slice(instrs);
    let mut code = Vec::new();
    let mut bits = Vec::new();
    for ins in &all {
        for (i, &b) in ins.iter().enumerate() {
            code.push(b);
            bits.push(i == 0);
        }
    }
    let mut mask = vec![0u8; bits.len().div_ceil(8)];
    for (i, &b) in bits.iter().enumerate() {
        if b {
            mask[i / 8] |= 1 << (i % 8);
        }
    }
    let mut blob = vec![0u8, 1];
    encode_natural(code.len() as u64, &mut blob);
    blob.extend_from_slice(&code);
    blob.extend_from_slice(&mask);
    let mut p = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0];
    p.extend_from_slice(&(blob.len() as u32).to_le_bytes());
    p.extend_from_slice(&blob);
    p
}

fn imm64(reg: u8, v: u64) -> Vec<u8> {
    let mut i = vec![20, reg];
    i.extend_from_slice(&v.to_le_bytes());
    i
}

const ARGS: u64 = 0xFEFF_0000;

/// write(args[0..1] -> args[0..1]); checkpoint; write(args[1..2] -> args[1..2]); then `last`.
fn checkpoint_program(last: &[u8]) -> Vec<u8> {
    let (a, b, c, d) = (
        imm64(9, ARGS),
        imm64(7, ARGS + 1),
        imm64(9, ARGS + 1),
        [51, 8, 1],
    );
    program(&[
        &a,
        &d,
        &[51, 10, 1],
        &[10, 4],
        &[10, 17],
        &b,
        &d,
        &c,
        &[51, 10, 1],
        &[10, 4],
        last,
    ])
}

fn run_service(code: Vec<u8>) -> (AccumulateOutcome, Params) {
    let p = params();
    let mut st = AccumulateState {
        partial: base(&p),
        ready_queue: jam_state::types::FixedVec::filled(&p, Vec::new()),
        accumulated: jam_state::types::FixedVec::filled(&p, Vec::new()),
    };
    let mut blob = vec![0u8];
    blob.extend_from_slice(&code);
    let h = OpaqueHash(blake2b_256(&blob));
    st.partial.service_data.insert(preimage_key(ME, &h), blob);
    st.partial.accounts.get_mut(&ME).unwrap().code_hash = h;
    let report = WorkReport {
        package_spec: WorkPackageSpec {
            hash: OpaqueHash([1; 32]),
            ..Default::default()
        },
        context: RefineContext::default(),
        results: vec![WorkResult {
            service_id: ME,
            accumulate_gas: 1000,
            ..Default::default()
        }],
        ..Default::default()
    };
    let input = AccumulateInput {
        slot: 43,
        prior_slot: 42,
        entropy: OpaqueHash::ZERO,
        reports: std::slice::from_ref(&report),
    };
    (accumulate(&p, &AccumulateConfig::default(), st, &input), p)
}

#[test]
fn panic_after_checkpoint_keeps_checkpointed_state() {
    // args = E(43, 100, 1) = [43, 0x64, 1].
    let (out, _) = run_service(checkpoint_program(&[0]));
    let d = &out.state.partial.service_data;
    assert_eq!(d.get(&storage_key(ME, &[43])), Some(&vec![43]));
    assert_eq!(d.get(&storage_key(ME, &[0x64])), None);
    // 11 instructions + 3 host calls.
    assert_eq!(
        out.statistics[&ME],
        AccumulationStats {
            gas_used: 41,
            count: 1
        }
    );
    let a = out.state.partial.accounts[&ME];
    assert_eq!((a.items, a.last_accumulation_slot), (1, 43));
    assert_eq!(
        out.state.accumulated.last().unwrap(),
        &vec![OpaqueHash([1; 32])]
    );
}

#[test]
fn halt_keeps_regular_state() {
    let (out, _) = run_service(checkpoint_program(&[50, 0]));
    let d = &out.state.partial.service_data;
    assert_eq!(d.get(&storage_key(ME, &[43])), Some(&vec![43]));
    assert_eq!(d.get(&storage_key(ME, &[0x64])), Some(&vec![0x64]));
    assert_eq!(out.state.partial.accounts[&ME].items, 2);
    assert_eq!(out.outputs, vec![]);
}

#[test]
fn out_of_gas_without_checkpoint_reverts_everything() {
    // write, then loop forever (jump to itself).
    let (a, d) = (imm64(9, ARGS), [51, 8, 1]);
    let code = program(&[&a, &d, &[51, 10, 1], &[10, 4], &[1], &[40, 0]]);
    let (out, _) = run_service(code);
    let data = &out.state.partial.service_data;
    assert!(!data.contains_key(&storage_key(ME, &[43])));
    assert_eq!(out.statistics[&ME].gas_used, 1000);
}

#[test]
fn provide_and_bless_are_integrated() {
    // provide(OTHER, args[0..1]); bless(m=300, a=args, v=5, r=6, z={}); halt.
    let (r8, r11) = (imm64(8, ARGS), imm64(11, ARGS));
    let code = program(&[
        &[51, 7, 0xC8, 0x00],
        &r8,
        &[51, 9, 1],
        &[10, 26],
        &[51, 7, 0x2C, 0x01],
        &r8,
        &[51, 9, 5],
        &[51, 10, 6],
        &r11,
        &[51, 12, 0],
        &[10, 14],
        &[50, 0],
    ]);
    let p = params();
    let mut st = AccumulateState {
        partial: base(&p),
        ready_queue: jam_state::types::FixedVec::filled(&p, Vec::new()),
        accumulated: jam_state::types::FixedVec::filled(&p, Vec::new()),
    };
    let wanted = OpaqueHash(blake2b_256(&[43]));
    st.partial
        .service_data
        .insert(lookup_key(OTHER, &wanted, 1), encode_slots(&[]));
    let mut blob = vec![0u8];
    blob.extend_from_slice(&code);
    let h = OpaqueHash(blake2b_256(&blob));
    st.partial.service_data.insert(preimage_key(ME, &h), blob);
    st.partial.accounts.get_mut(&ME).unwrap().code_hash = h;
    st.partial.privileges.always_acc = vec![AlwaysAccumulateMapEntry { id: ME, gas: 500 }];
    let input = AccumulateInput {
        slot: 43,
        prior_slot: 42,
        entropy: OpaqueHash::ZERO,
        reports: &[],
    };
    let out = accumulate(&p, &AccumulateConfig::default(), st, &input);
    let d = &out.state.partial.service_data;
    assert_eq!(
        d.get(&lookup_key(OTHER, &wanted, 1)),
        Some(&encode_slots(&[43]))
    );
    assert_eq!(d.get(&preimage_key(OTHER, &wanted)), Some(&vec![43]));
    let pr = &out.state.partial.privileges;
    // args = E(43, 100, 0) = [43, 100, 0], read as two u32 (the rest of the page is zero).
    assert_eq!((pr.bless, pr.designate, pr.register), (300, 5, 6));
    assert_eq!(pr.assign.to_vec(), vec![43 + (100 << 8), 0]);
    assert!(pr.always_acc.is_empty());
    assert_eq!(out.statistics[&ME].count, 0);
    assert_eq!(out.statistics[&ME].gas_used, 12 + 20);
    assert_eq!(out.accumulated_reports, 0);
}
