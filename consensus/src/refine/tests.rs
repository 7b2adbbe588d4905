//! Tests of Ψ_I, Ψ_R, the refine host calls (GP v0.7.2 B.6/B.8), the package limits and Ξ.

use super::host_calls::{index, IsAuthorizedHost, RefineHost};
use super::machines::{inner, Machines};
use super::*;
use crate::accumulate::PartialState;
use crate::general::{code, item_summary, EncodedPackage, FetchData};
use crate::test_vm::{Vm, MEM};
use jam_pvm::HostResult;
use jam_state::codec::{encode_natural, Encode};
use jam_state::hash::{blake2b_256, blake2b_256_concat};
use jam_state::keys::{encode_lookup, lookup_key, preimage_key};
use jam_state::params::Params;
use jam_state::types::{
    Bytes, ExtrinsicSpec, ImportSpec, OpaqueHash, RefineContext, ServiceId, WorkExecResult,
    WorkItem, WorkPackage,
};

const AUTH: ServiceId = 1;
const SVC: ServiceId = 2;
const ANCHOR_SLOT: u32 = 50;

// ---------------------------------------------------------------------------------------------
// Hand-assembled programs.
// ---------------------------------------------------------------------------------------------

/// A GP A.1 code blob (no jump table) from whole instructions.
pub(super) fn code_blob(instrs: &[&[u8]]) -> Vec<u8> {
    let code: Vec<u8> = instrs.concat();
    let mut mask = vec![0u8; code.len().div_ceil(8)];
    let mut at = 0;
    for i in instrs {
        mask[at / 8] |= 1 << (at % 8);
        at += i.len();
    }
    let mut b = Vec::new();
    encode_natural(0, &mut b);
    b.push(0);
    encode_natural(code.len() as u64, &mut b);
    b.extend_from_slice(&code);
    b.extend_from_slice(&mask);
    b
}

/// A standard program blob (GP A.7) with no data, no heap and a 64 KiB stack.
fn standard(code: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 0, 0, 0, 0, 0, 0, 0];
    p.extend_from_slice(&[0x00, 0x00, 0x01]); // E3(s) = 0x10000
    p.extend_from_slice(&(code.len() as u32).to_le_bytes());
    p.extend_from_slice(code);
    p
}

/// A code preimage `E(↕m, c)` with metadata "t".
fn preimage(code: &[u8]) -> Vec<u8> {
    let mut v = vec![1, b't'];
    v.extend_from_slice(&standard(code));
    v
}

const HALT: &[u8] = &[50, 0]; // jump_ind r0 + 0 (r0 = 2^32 - 2^16)
const TRAP: &[u8] = &[0];
const LOOP: &[u8] = &[40]; // jump +0

fn ecalli(n: u8) -> Vec<u8> {
    vec![10, n]
}
fn move_reg(d: u8, a: u8) -> Vec<u8> {
    vec![100, d | (a << 4)]
}

/// Halts at once: the output is the argument blob itself.
fn echo() -> Vec<u8> {
    code_blob(&[HALT])
}

/// Exports its argument blob twice, then echoes it.
fn export_twice() -> Vec<u8> {
    let (m9, m10, m7, m8, e) = (
        move_reg(9, 7),
        move_reg(10, 8),
        move_reg(7, 9),
        move_reg(8, 10),
        ecalli(7),
    );
    code_blob(&[&m9, &m10, &e, &m7, &m8, &e, &m7, &m8, HALT])
}

/// `fetch(selector, ω11 = idx)` into a stack buffer, output what it wrote (|v| octets).
fn fetcher(selector: u8, idx: u8) -> Vec<u8> {
    let buf: &[u8] = &[149, 0x17, 0x00, 0xE0]; // r7 = r1 - 0x2000
    let (sel, i, m) = ([51, 10, selector], [51, 11, idx], move_reg(8, 7));
    code_blob(&[
        buf,
        &[51, 8],
        &[51, 9, 0x00, 0x20],
        &sel,
        &i,
        &ecalli(1),
        &m,
        buf,
        HALT,
    ])
}

// ---------------------------------------------------------------------------------------------
// State and packages.
// ---------------------------------------------------------------------------------------------

/// Installs `code` as a preimage of `s`, available from slot `from`; returns its hash.
fn install(st: &mut PartialState, s: ServiceId, code: &[u8], from: u32) -> OpaqueHash {
    let blob = preimage(code);
    install_blob(st, s, blob, from)
}

fn install_blob(st: &mut PartialState, s: ServiceId, blob: Vec<u8>, from: u32) -> OpaqueHash {
    let h = OpaqueHash(blake2b_256(&blob));
    st.accounts.entry(s).or_default();
    st.service_data
        .insert(lookup_key(s, &h, blob.len() as u32), encode_lookup(&[from]));
    st.service_data.insert(preimage_key(s, &h), blob);
    h
}

struct World {
    state: PartialState,
    auth_hash: OpaqueHash,
}

fn world() -> World {
    let mut state = PartialState::default();
    let auth_hash = install(&mut state, AUTH, &echo(), 1);
    World { state, auth_hash }
}

fn item(code_hash: OpaqueHash, payload: &[u8], exports: u16) -> WorkItem {
    WorkItem {
        service: SVC,
        code_hash,
        refine_gas_limit: 1_000_000,
        accumulate_gas_limit: 1000,
        export_count: exports,
        payload: Bytes(payload.to_vec()),
        import_segments: vec![],
        extrinsic: vec![],
    }
}

fn package(w: &World, items: Vec<WorkItem>) -> WorkPackage {
    WorkPackage {
        auth_code_host: AUTH,
        auth_code_hash: w.auth_hash,
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

/// `E(c, i, s, ↕y, H(p))`: the refine argument blob.
fn refine_args(p: &WorkPackage, core: u16, i: usize) -> Vec<u8> {
    let w = &p.items[i];
    let mut a = Vec::new();
    encode_natural(core as u64, &mut a);
    encode_natural(i as u64, &mut a);
    encode_natural(w.service as u64, &mut a);
    encode_natural(w.payload.len() as u64, &mut a);
    a.extend_from_slice(&w.payload);
    a.extend_from_slice(&blake2b_256(&p.encode()));
    a
}

fn padded(p: &Params, data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(p.segment_size(), 0);
    v
}

// ---------------------------------------------------------------------------------------------
// Host-call harness.
// ---------------------------------------------------------------------------------------------

fn refine_host<'a>(
    p: &'a Params,
    view: &'a PartialState,
    fetch: FetchData<'a>,
    offset: u64,
) -> RefineHost<'a, PartialState> {
    RefineHost {
        segment_size: p.segment_size(),
        max_exports: p.max_exports as u64,
        view,
        service: SVC,
        lookup_slot: ANCHOR_SLOT,
        fetch,
        export_offset: offset,
        log_gas: 10,
        machines: Machines::default(),
        exports: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// General functions in the refine / is-authorized contexts.
// ---------------------------------------------------------------------------------------------

#[test]
fn gas_what_log_and_out_of_gas() {
    let p = Params::tiny();
    let st = PartialState::default();
    let mut h = refine_host(&p, &st, FetchData::default(), 0);
    let mut vm = Vm::new();
    assert_eq!(vm.call(&mut h, index::GAS, &[]), HostResult::Continue);
    assert_eq!((vm.regs[7], vm.gas), (990, 990));
    // Accumulate-only functions (read = 3, bless = 14) are unknown to refine.
    for idx in [3, 14, 99] {
        vm.regs[7] = 5;
        assert_eq!(vm.call(&mut h, idx, &[]), HostResult::Continue);
        assert_eq!(vm.regs[7], code::WHAT);
    }
    assert_eq!(vm.gas, 960);
    vm.regs[7] = 3;
    assert_eq!(vm.call(&mut h, index::LOG, &[]), HostResult::Continue);
    assert_eq!((vm.regs[7], vm.gas), (3, 950));
    vm.gas = 9;
    assert_eq!(vm.call(&mut h, index::GAS, &[]), HostResult::OutOfGas);
    assert_eq!(vm.gas, -1);
    vm.gas = 9;
    assert_eq!(vm.call(&mut h, 99, &[]), HostResult::OutOfGas);

    // Ψ_I's F: gas and fetch only; refine functions are WHAT.
    let mut ia = IsAuthorizedHost {
        fetch: FetchData::default(),
        log_gas: 10,
    };
    let mut vm = Vm::new();
    assert_eq!(vm.call(&mut ia, index::GAS, &[]), HostResult::Continue);
    assert_eq!(vm.regs[7], 990);
    for idx in [
        index::HISTORICAL_LOOKUP,
        index::EXPORT,
        index::MACHINE,
        index::INVOKE,
    ] {
        assert_eq!(vm.call(&mut ia, idx, &[]), HostResult::Continue);
        assert_eq!(vm.regs[7], code::WHAT);
    }
    assert_eq!(vm.gas, 950);
}

#[test]
fn fetch_refine_selectors() {
    let p = Params::tiny();
    let w = world();
    let mut pk = package(&w, vec![item(OpaqueHash([3; 32]), b"pay0", 0)]);
    pk.items.push(item(OpaqueHash([4; 32]), b"payload-1", 1));
    let enc = EncodedPackage::new(&pk);
    let consts = p.to_protocol_parameters();
    let imports = vec![vec![vec![1u8; 8]], vec![vec![2u8; 8], vec![3u8; 8]]];
    let xts = vec![
        vec![b"x00".to_vec()],
        vec![b"x10".to_vec(), b"x11!".to_vec()],
    ];
    let zero = [0u8; 32];
    let fetch = FetchData {
        constants: &consts,
        package: Some(&enc),
        entropy: Some(&zero),
        auth_trace: Some(b"trace"),
        item: Some(1),
        imports: Some(&imports),
        extrinsics: Some(&xts),
        inputs: None,
    };
    let mut h = refine_host(&p, &w.state, fetch, 0);
    let mut vm = Vm::new();
    let mut fetch = |vm: &mut Vm, sel: u64, a: u64, b: u64| -> Option<Vec<u8>> {
        vm.mem.write(MEM as u32, &[0xee; 600]).unwrap();
        assert_eq!(
            vm.call(&mut h, index::FETCH, &[MEM, 0, 600, sel, a, b]),
            HostResult::Continue
        );
        let n = vm.regs[7];
        (n != code::NONE).then(|| vm.get(0, n.min(600) as u32))
    };
    assert_eq!(fetch(&mut vm, 0, 0, 0), Some(consts.clone()));
    assert_eq!(fetch(&mut vm, 1, 0, 0), Some(vec![0; 32]));
    assert_eq!(fetch(&mut vm, 2, 0, 0), Some(b"trace".to_vec()));
    assert_eq!(fetch(&mut vm, 3, 1, 1), Some(b"x11!".to_vec()));
    assert_eq!(fetch(&mut vm, 3, 0, 1), None);
    assert_eq!(fetch(&mut vm, 4, 0, 0), Some(b"x10".to_vec()));
    assert_eq!(fetch(&mut vm, 4, 2, 0), None);
    assert_eq!(fetch(&mut vm, 5, 0, 0), Some(vec![1; 8]));
    assert_eq!(fetch(&mut vm, 5, 2, 0), None);
    assert_eq!(fetch(&mut vm, 6, 1, 0), Some(vec![3; 8]));
    assert_eq!(fetch(&mut vm, 7, 0, 0), Some(pk.encode()));
    assert_eq!(fetch(&mut vm, 8, 0, 0), Some(b"cfg".to_vec()));
    assert_eq!(fetch(&mut vm, 9, 0, 0), Some(b"token".to_vec()));
    assert_eq!(fetch(&mut vm, 10, 0, 0), Some(pk.context.encode()));
    let s1 = item_summary(&pk.items[1]);
    assert_eq!(s1.len(), 4 + 32 + 8 + 8 + 2 + 2 + 2 + 4);
    assert_eq!(&s1[..4], &SVC.to_le_bytes());
    assert_eq!(&s1[52..54], &1u16.to_le_bytes());
    assert_eq!(&s1[58..], &9u32.to_le_bytes());
    let mut all = vec![2];
    all.extend(item_summary(&pk.items[0]));
    all.extend(&s1);
    assert_eq!(fetch(&mut vm, 11, 0, 0), Some(all));
    assert_eq!(fetch(&mut vm, 12, 1, 0), Some(s1));
    assert_eq!(fetch(&mut vm, 12, 2, 0), None);
    assert_eq!(fetch(&mut vm, 13, 1, 0), Some(b"payload-1".to_vec()));
    assert_eq!(fetch(&mut vm, 14, 0, 0), None);
    assert_eq!(fetch(&mut vm, 15, 0, 0), None);
    assert_eq!(fetch(&mut vm, 16, 0, 0), None);
    // Window [f, f + l): offset 2, length 3 of "trace"; ω7 is still the full length.
    vm.call(&mut h, index::FETCH, &[MEM + 100, 2, 3, 2]);
    assert_eq!((vm.regs[7], vm.get(100, 3)), (5, b"ace".to_vec()));
    // Unwritable destination panics.
    assert_eq!(
        vm.call(&mut h, index::FETCH, &[0x30000, 0, 5, 2]),
        HostResult::Panic
    );

    // The is-authorized context has the package but no trace, entropy or item data.
    let mut ia = IsAuthorizedHost {
        fetch: FetchData {
            constants: &consts,
            package: Some(&enc),
            ..Default::default()
        },
        log_gas: 10,
    };
    let mut vm = Vm::new();
    for (sel, some) in [
        (0, true),
        (1, false),
        (2, false),
        (5, false),
        (7, true),
        (13, true),
    ] {
        vm.call(&mut ia, index::FETCH, &[MEM, 0, 600, sel, 0, 0]);
        assert_eq!(vm.regs[7] != code::NONE, some, "selector {sel}");
    }
}

#[test]
fn historical_lookup_host_call() {
    let p = Params::tiny();
    let mut st = PartialState::default();
    let blob = b"some preimage data".to_vec();
    let h = install_blob(&mut st, SVC, blob.clone(), 10);
    let late = install_blob(&mut st, 9, b"late".to_vec(), ANCHOR_SLOT + 1);
    let h9 = install_blob(&mut st, 9, blob.clone(), 1);
    assert_eq!(h9, h);
    let mut host = refine_host(&p, &st, FetchData::default(), 0);
    let mut vm = Vm::new();
    vm.put(0, h.as_bytes());
    vm.put(32, late.as_bytes());
    // Own service (ω7 = 2^64 - 1), window [5, 5 + 4).
    assert_eq!(
        vm.call(
            &mut host,
            index::HISTORICAL_LOOKUP,
            &[u64::MAX, MEM, MEM + 100, 5, 4]
        ),
        HostResult::Continue
    );
    assert_eq!((vm.regs[7], vm.get(100, 4)), (18, b"prei".to_vec()));
    assert_eq!(vm.gas, 990);
    // Another service by id.
    vm.call(
        &mut host,
        index::HISTORICAL_LOOKUP,
        &[9, MEM, MEM + 200, 0, 100],
    );
    assert_eq!((vm.regs[7], vm.get(200, 18)), (18, blob.clone()));
    // Requested after the lookup anchor: not available then.
    vm.call(
        &mut host,
        index::HISTORICAL_LOOKUP,
        &[9, MEM + 32, MEM + 200, 0, 100],
    );
    assert_eq!(vm.regs[7], code::NONE);
    // Unknown service / hash.
    vm.call(
        &mut host,
        index::HISTORICAL_LOOKUP,
        &[77, MEM, MEM + 200, 0, 100],
    );
    assert_eq!(vm.regs[7], code::NONE);
    vm.call(
        &mut host,
        index::HISTORICAL_LOOKUP,
        &[SVC as u64, MEM + 32, MEM, 0, 1],
    );
    assert_eq!(vm.regs[7], code::NONE);
    // Unreadable hash or unwritable output panic.
    assert_eq!(
        vm.call(
            &mut host,
            index::HISTORICAL_LOOKUP,
            &[u64::MAX, 0x30000, MEM, 0, 1]
        ),
        HostResult::Panic
    );
    assert_eq!(
        vm.call(
            &mut host,
            index::HISTORICAL_LOOKUP,
            &[u64::MAX, MEM, 0x30000, 0, 1]
        ),
        HostResult::Panic
    );
}

#[test]
fn export_pads_counts_and_fills() {
    let p = Params::tiny();
    let st = PartialState::default();
    let mut h = refine_host(&p, &st, FetchData::default(), 3);
    let mut vm = Vm::new();
    vm.put(0, b"hello");
    assert_eq!(
        vm.call(&mut h, index::EXPORT, &[MEM, 5]),
        HostResult::Continue
    );
    assert_eq!((vm.regs[7], vm.gas), (3, 990));
    assert_eq!(h.exports, vec![padded(&p, b"hello")]);
    // z = min(ω8, W_G): a huge length reads only one segment's worth.
    vm.put(0x100, &vec![7u8; p.segment_size()]);
    assert_eq!(
        vm.call(&mut h, index::EXPORT, &[MEM + 0x100, u64::MAX]),
        HostResult::Continue
    );
    assert_eq!(vm.regs[7], 4);
    assert_eq!(h.exports[1], vec![7u8; p.segment_size()]);
    // Unreadable source panics, nothing exported.
    assert_eq!(
        vm.call(&mut h, index::EXPORT, &[0x30000, 1]),
        HostResult::Panic
    );
    assert_eq!(h.exports.len(), 2);

    // ς + |e| ≥ W_X: FULL.
    let mut h = refine_host(&p, &st, FetchData::default(), p.max_exports as u64 - 1);
    vm.call(&mut h, index::EXPORT, &[MEM, 5]);
    assert_eq!(vm.regs[7], p.max_exports as u64 - 1);
    vm.call(&mut h, index::EXPORT, &[MEM, 5]);
    assert_eq!(vm.regs[7], code::FULL);
    assert_eq!(h.exports.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Inner machines.
// ---------------------------------------------------------------------------------------------

/// load_imm r7, 42; ecalli 5; add_imm_64 r7, r7, 1; store_u64 [0x20000] = r7; jump_ind r0.
fn inner_program() -> Vec<u8> {
    code_blob(&[
        &[51, 7, 42],
        &[10, 5],
        &[149, 0x77, 1],
        &[62, 7, 0x00, 0x00, 0x02, 0x00],
        HALT,
    ])
}

/// Writes the invoke block `E8(g) ⌢ E8(ω)` at MEM + off.
fn put_invoke(vm: &mut Vm, off: u64, gas: u64, regs: &[u64; 13]) {
    let mut b = gas.to_le_bytes().to_vec();
    for r in regs {
        b.extend_from_slice(&r.to_le_bytes());
    }
    vm.put(off, &b);
}

fn read_invoke(vm: &Vm, off: u64) -> (u64, Vec<u64>) {
    let b = vm.get(off, 112);
    let w: Vec<u64> = b
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (w[0], w[1..].to_vec())
}

#[test]
fn machine_invoke_peek_poke_pages_expunge() {
    let p = Params::tiny();
    let st = PartialState::default();
    let mut h = refine_host(&p, &st, FetchData::default(), 0);
    let mut vm = Vm::new();
    let prog = inner_program();
    vm.put(0, &prog);
    let plen = prog.len() as u64;

    // machine: n = min free index; bad blob HUH; unreadable panics.
    assert_eq!(
        vm.call(&mut h, index::MACHINE, &[MEM, plen, 0]),
        HostResult::Continue
    );
    assert_eq!(vm.regs[7], 0);
    vm.call(&mut h, index::MACHINE, &[MEM, plen, 77]);
    assert_eq!(vm.regs[7], 1);
    vm.call(&mut h, index::MACHINE, &[MEM, plen - 1, 0]);
    assert_eq!(vm.regs[7], code::HUH);
    assert_eq!(
        vm.call(&mut h, index::MACHINE, &[0x30000, 4, 0]),
        HostResult::Panic
    );
    // expunge returns the pc; the index is reused.
    vm.call(&mut h, index::EXPUNGE, &[1]);
    assert_eq!(vm.regs[7], 77);
    vm.call(&mut h, index::EXPUNGE, &[1]);
    assert_eq!(vm.regs[7], code::WHO);
    assert_eq!(h.machines.len(), 1);

    // invoke #1: load_imm, ecalli 5 → HOST, r8 = 5; pc moves past the ecalli.
    let mut regs = [0u64; 13];
    regs[0] = 0xffff_0000;
    put_invoke(&mut vm, 0x1000, 1000, &regs);
    assert_eq!(
        vm.call(&mut h, index::INVOKE, &[0, MEM + 0x1000]),
        HostResult::Continue
    );
    assert_eq!((vm.regs[7], vm.regs[8]), (inner::HOST, 5));
    let (g, w) = read_invoke(&vm, 0x1000);
    assert_eq!((g, w[7], w[0]), (998, 42, 0xffff_0000));
    assert_eq!(h.machines.get(0).unwrap().pc(), 5);
    assert_eq!(vm.gas, 1000 - 7 * 10);

    // invoke #2: the store faults on the unmapped page 0x20000.
    assert_eq!(
        vm.call(&mut h, index::INVOKE, &[0, MEM + 0x1000]),
        HostResult::Continue
    );
    assert_eq!((vm.regs[7], vm.regs[8]), (inner::FAULT, 0x20000));
    let (g, w) = read_invoke(&vm, 0x1000);
    assert_eq!(w[7], 43);
    assert_eq!(h.machines.get(0).unwrap().pc(), 8);
    assert_eq!(g, 995, "the faulting gas block is charged in full");

    // pages: validation.
    vm.call(&mut h, index::PAGES, &[0, 15, 1, 2]);
    assert_eq!(vm.regs[7], code::HUH);
    vm.call(&mut h, index::PAGES, &[0, 0x20, 1, 5]);
    assert_eq!(vm.regs[7], code::HUH);
    vm.call(&mut h, index::PAGES, &[0, (1 << 20) - 1, 1, 2]);
    assert_eq!(vm.regs[7], code::HUH);
    vm.call(&mut h, index::PAGES, &[0, 0x20, u64::MAX, 2]);
    assert_eq!(vm.regs[7], code::HUH);
    vm.call(&mut h, index::PAGES, &[0, 0x20, 1, 3]);
    assert_eq!(vm.regs[7], code::HUH, "r > 2 needs the pages accessible");
    vm.call(&mut h, index::PAGES, &[9, 0x20, 1, 2]);
    assert_eq!(vm.regs[7], code::WHO);
    vm.call(&mut h, index::PAGES, &[0, 0x20, 1, 2]);
    assert_eq!(vm.regs[7], code::OK);

    // poke 8 octets at 0x20008; peek needs inner readability, outer writability.
    vm.put(0x2000, &[1, 2, 3, 4, 5, 6, 7, 8]);
    vm.call(&mut h, index::POKE, &[0, MEM + 0x2000, 0x20008, 8]);
    assert_eq!(vm.regs[7], code::OK);
    vm.call(&mut h, index::POKE, &[0, MEM + 0x2000, 0x30000, 8]);
    assert_eq!(vm.regs[7], code::OOB);
    vm.call(&mut h, index::POKE, &[4, MEM + 0x2000, 0x20008, 8]);
    assert_eq!(vm.regs[7], code::WHO);
    assert_eq!(
        vm.call(&mut h, index::POKE, &[0, 0x30000, 0x20008, 8]),
        HostResult::Panic
    );

    // invoke #3: the store succeeds, then halt.
    assert_eq!(
        vm.call(&mut h, index::INVOKE, &[0, MEM + 0x1000]),
        HostResult::Continue
    );
    assert_eq!(vm.regs[7], inner::HALT);
    let (g, _) = read_invoke(&vm, 0x1000);
    assert_eq!(g, 993);
    assert_eq!(h.machines.get(0).unwrap().pc(), 14);
    vm.call(&mut h, index::PEEK, &[0, MEM + 0x3000, 0x20000, 16]);
    assert_eq!(vm.regs[7], code::OK);
    let mut want = 43u64.to_le_bytes().to_vec();
    want.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(vm.get(0x3000, 16), want);
    vm.call(&mut h, index::PEEK, &[0, MEM + 0x3000, 0x21000, 1]);
    assert_eq!(vm.regs[7], code::OOB);
    vm.call(&mut h, index::PEEK, &[3, MEM + 0x3000, 0x20000, 1]);
    assert_eq!(vm.regs[7], code::WHO);
    assert_eq!(
        vm.call(&mut h, index::PEEK, &[0, 0x30000, 0x20000, 1]),
        HostResult::Panic
    );

    // r = 3: read-only keeping the contents; poke is then OOB.
    vm.call(&mut h, index::PAGES, &[0, 0x20, 1, 3]);
    assert_eq!(vm.regs[7], code::OK);
    vm.call(&mut h, index::PEEK, &[0, MEM + 0x3000, 0x20000, 16]);
    assert_eq!(vm.get(0x3000, 16), want);
    vm.call(&mut h, index::POKE, &[0, MEM + 0x2000, 0x20000, 1]);
    assert_eq!(vm.regs[7], code::OOB);
    // r = 1: read-only and zeroed.
    vm.call(&mut h, index::PAGES, &[0, 0x20, 1, 1]);
    vm.call(&mut h, index::PEEK, &[0, MEM + 0x3000, 0x20000, 16]);
    assert_eq!((vm.regs[7], vm.get(0x3000, 16)), (code::OK, vec![0; 16]));
    // r = 0: inaccessible.
    vm.call(&mut h, index::PAGES, &[0, 0x20, 1, 0]);
    vm.call(&mut h, index::PEEK, &[0, MEM + 0x3000, 0x20000, 1]);
    assert_eq!(vm.regs[7], code::OOB);
    vm.call(&mut h, index::PAGES, &[0, 0x20, 1, 4]);
    assert_eq!(vm.regs[7], code::HUH);

    // invoke: unknown machine, unwritable register block.
    vm.call(&mut h, index::INVOKE, &[5, MEM + 0x1000]);
    assert_eq!(vm.regs[7], code::WHO);
    assert_eq!(
        vm.call(&mut h, index::INVOKE, &[0, MEM + 0x10000 - 100]),
        HostResult::Panic
    );

    // Out of gas inside the guest: gas written back as 0.
    vm.call(&mut h, index::MACHINE, &[MEM, plen, 0]);
    assert_eq!(vm.regs[7], 1);
    put_invoke(&mut vm, 0x1000, 1, &regs);
    vm.call(&mut h, index::INVOKE, &[1, MEM + 0x1000]);
    assert_eq!(vm.regs[7], inner::OOG);
    let (g, w) = read_invoke(&vm, 0x1000);
    assert_eq!((g, w[7]), (0, 42));
    // A panic (the guest's jump_ind to 0 with r0 = 0).
    vm.call(&mut h, index::MACHINE, &[MEM, plen, 14]);
    put_invoke(&mut vm, 0x1000, 100, &[0; 13]);
    vm.call(&mut h, index::INVOKE, &[2, MEM + 0x1000]);
    assert_eq!(vm.regs[7], inner::PANIC);

    vm.call(&mut h, index::EXPUNGE, &[0]);
    assert_eq!(vm.regs[7], 14);
}

// ---------------------------------------------------------------------------------------------
// Ψ_I and Ψ_R.
// ---------------------------------------------------------------------------------------------

#[test]
fn is_authorized_outcomes() {
    let p = Params::tiny();
    let cfg = RefineConfig::default();
    let w = world();
    let pk = package(&w, vec![item(OpaqueHash([3; 32]), b"x", 0)]);
    let a = is_authorized(&p, &cfg, &w.state, &EncodedPackage::new(&pk), 1);
    assert_eq!(
        a.result,
        Ok(vec![1, 0]),
        "the echo authorizer returns E2(c)"
    );
    assert_eq!(a.gas_used, 1);

    // BAD: unknown code hash; code available only after the lookup anchor.
    let mut bad = pk.clone();
    bad.auth_code_hash = OpaqueHash([9; 32]);
    let a = is_authorized(&p, &cfg, &w.state, &EncodedPackage::new(&bad), 0);
    assert_eq!((a.result, a.gas_used), (Err(WorkError::Bad), 0));
    let mut st = w.state.clone();
    let late = install(&mut st, AUTH, &code_blob(&[TRAP, HALT]), ANCHOR_SLOT + 1);
    bad.auth_code_hash = late;
    let a = is_authorized(&p, &cfg, &st, &EncodedPackage::new(&bad), 0);
    assert_eq!(a.result, Err(WorkError::Bad));
    // BIG: code longer than W_A.
    let mut small = p.clone();
    small.max_authorizer_code_size = 10;
    let a = is_authorized(&small, &cfg, &w.state, &EncodedPackage::new(&pk), 0);
    assert_eq!(a.result, Err(WorkError::Big));
    // Panic and out of gas (G_I).
    let mut st = w.state.clone();
    let mut pk2 = pk.clone();
    pk2.auth_code_hash = install(&mut st, AUTH, &code_blob(&[TRAP]), 1);
    let a = is_authorized(&p, &cfg, &st, &EncodedPackage::new(&pk2), 0);
    assert_eq!((a.result, a.gas_used), (Err(WorkError::Panic), 1));
    pk2.auth_code_hash = install(&mut st, AUTH, &code_blob(&[LOOP]), 1);
    let mut few = p.clone();
    few.max_is_authorized_gas = 1234;
    let a = is_authorized(&few, &cfg, &st, &EncodedPackage::new(&pk2), 0);
    assert_eq!((a.result, a.gas_used), (Err(WorkError::OutOfGas), 1234));
    // An authorizer reading the token through fetch(9).
    pk2.auth_code_hash = install(&mut st, AUTH, &fetcher(9, 0), 1);
    let a = is_authorized(&p, &cfg, &st, &EncodedPackage::new(&pk2), 0);
    assert_eq!((a.result, a.gas_used), (Ok(b"token".to_vec()), 9 + 10));
    assert_eq!(
        authorizer_hash(&pk).0,
        blake2b_256_concat(&[w.auth_hash.as_bytes(), b"cfg"])
    );
}

fn run_refine(
    p: &Params,
    st: &PartialState,
    pk: &WorkPackage,
    i: usize,
    offset: u64,
) -> Refinement {
    let enc = EncodedPackage::new(pk);
    let imports = vec![Vec::new(); pk.items.len()];
    let args = RefineArgs {
        core: 1,
        package: &enc,
        auth_trace: b"auth",
        imports: &imports,
        extrinsics: &imports,
    };
    refine(p, &RefineConfig::default(), st, &args, i, offset)
}

#[test]
fn refine_outcomes() {
    let p = Params::tiny();
    let mut w = world();
    let echo_h = install(&mut w.state, SVC, &echo(), 1);
    let export_h = install(&mut w.state, SVC, &export_twice(), 1);
    let trap_h = install(&mut w.state, SVC, &code_blob(&[TRAP]), 1);
    let loop_h = install(&mut w.state, SVC, &code_blob(&[LOOP]), 1);
    let late_h = install(
        &mut w.state,
        SVC,
        &code_blob(&[HALT, HALT]),
        ANCHOR_SLOT + 1,
    );
    let pk = package(
        &w,
        vec![
            item(echo_h, b"payload zero", 0),
            item(export_h, b"export me", 2),
            item(trap_h, b"", 0),
            item(loop_h, b"", 0),
            item(late_h, b"", 0),
            item(OpaqueHash([5; 32]), b"", 0),
        ],
    );

    let r = run_refine(&p, &w.state, &pk, 0, 0);
    assert_eq!(r.result, Ok(refine_args(&pk, 1, 0)));
    assert_eq!((r.gas_used, r.exports.len()), (1, 0));

    let r = run_refine(&p, &w.state, &pk, 1, 7);
    let args = refine_args(&pk, 1, 1);
    assert_eq!(r.result, Ok(args.clone()));
    assert_eq!(r.exports, vec![padded(&p, &args), padded(&p, &args)]);
    // 9 instructions, 2 exports at 10 gas each.
    assert_eq!(r.gas_used, 9 + 20);

    let r = run_refine(&p, &w.state, &pk, 2, 0);
    assert_eq!((r.result, r.gas_used), (Err(WorkError::Panic), 1));
    let r = run_refine(&p, &w.state, &pk, 3, 0);
    assert_eq!(
        (r.result, r.gas_used),
        (Err(WorkError::OutOfGas), 1_000_000)
    );
    let r = run_refine(&p, &w.state, &pk, 4, 0);
    assert_eq!((r.result, r.gas_used), (Err(WorkError::Bad), 0));
    let r = run_refine(&p, &w.state, &pk, 5, 0);
    assert_eq!(r.result, Err(WorkError::Bad));

    // The service must exist.
    let mut gone = w.state.clone();
    gone.accounts.remove(&SVC);
    assert_eq!(run_refine(&p, &gone, &pk, 0, 0).result, Err(WorkError::Bad));
    // BIG: the code preimage is larger than W_C.
    let mut small = p.clone();
    small.max_service_code_size = 20;
    let r = run_refine(&small, &w.state, &pk, 0, 0);
    assert_eq!((r.result, r.gas_used), (Err(WorkError::Big), 0));

    // A program reading its payload through fetch(13).
    let fetch_h = install(&mut w.state, SVC, &fetcher(13, 0), 1);
    let pk = package(&w, vec![item(fetch_h, b"via fetch", 0)]);
    let r = run_refine(&p, &w.state, &pk, 0, 0);
    assert_eq!(r.result, Ok(b"via fetch".to_vec()));
    assert_eq!(r.gas_used, 9 + 10);
}

// ---------------------------------------------------------------------------------------------
// Package limits.
// ---------------------------------------------------------------------------------------------

#[test]
fn package_limits() {
    let p = Params::tiny();
    let w = world();
    let one = item(OpaqueHash([3; 32]), b"x", 1);
    let ok = package(&w, vec![one.clone()]);
    assert_eq!(check_package(&p, &ok), Ok(()));
    assert_eq!(
        check_package(&p, &package(&w, vec![])),
        Err(PackageError::NoItems)
    );
    let many = package(&w, vec![one.clone(); 17]);
    assert_eq!(
        check_package(&p, &many),
        Err(PackageError::TooManyItems { count: 17, max: 16 })
    );
    let mut big = one.clone();
    big.export_count = 3000;
    let pk = package(&w, vec![big.clone(), big]);
    assert_eq!(
        check_package(&p, &pk),
        Err(PackageError::TooManyExports {
            total: 6000,
            max: 3072
        })
    );
    let mut imp = one.clone();
    imp.import_segments = vec![ImportSpec::default(); 2000];
    let pk = package(&w, vec![imp.clone(), imp]);
    assert_eq!(
        check_package(&p, &pk),
        Err(PackageError::TooManyImports {
            total: 4000,
            max: 3072
        })
    );
    let mut xt = one.clone();
    xt.extrinsic = vec![ExtrinsicSpec::default(); 65];
    let pk = package(&w, vec![xt.clone(), xt]);
    assert_eq!(
        check_package(&p, &pk),
        Err(PackageError::TooManyExtrinsics {
            total: 130,
            max: 128
        })
    );
    // Bundle: |j| + |f| + Σ(|y| + |i|·(W_G + 32·⌈log2 W_M⌉) + Σ x_len) ≤ W_B.
    assert_eq!(package::segment_footprint(&p), 4104 + 32 * 12);
    let mut fat = one.clone();
    fat.extrinsic = vec![ExtrinsicSpec {
        hash: OpaqueHash::ZERO,
        len: p.max_bundle_size - 5 - 3 - 1,
    }];
    assert_eq!(check_package(&p, &package(&w, vec![fat.clone()])), Ok(()));
    fat.extrinsic[0].len += 1;
    assert_eq!(
        check_package(&p, &package(&w, vec![fat])),
        Err(PackageError::BundleTooLarge {
            size: p.max_bundle_size as u64 + 1,
            max: p.max_bundle_size as u64
        })
    );
    // Gas sums must stay strictly below G_A and G_R.
    let mut g = one.clone();
    g.accumulate_gas_limit = p.max_accumulate_gas / 2;
    assert!(matches!(
        check_package(&p, &package(&w, vec![g.clone(), g.clone()])),
        Err(PackageError::AccumulateGasTooHigh { .. })
    ));
    g.accumulate_gas_limit -= 1;
    assert_eq!(
        check_package(&p, &package(&w, vec![g.clone(), g.clone()])),
        Ok(())
    );
    g.refine_gas_limit = u64::MAX;
    assert!(matches!(
        check_package(&p, &package(&w, vec![g.clone(), g])),
        Err(PackageError::RefineGasTooHigh { .. })
    ));
}

#[test]
fn import_refs_decode_the_tag() {
    let h = OpaqueHash([4; 32]);
    let root = ImportSpec {
        tree_root: h,
        index: 5,
    };
    let boxed = ImportSpec {
        tree_root: h,
        index: 5 | (1 << 15),
    };
    assert_eq!(ImportRef::from_spec(&root), ImportRef::Root(h, 5));
    assert_eq!(ImportRef::from_spec(&boxed), ImportRef::Package(h, 5));
}

// ---------------------------------------------------------------------------------------------
// Ξ: the work report.
// ---------------------------------------------------------------------------------------------

struct Fixture {
    params: Params,
    world: World,
    echo: OpaqueHash,
    export: OpaqueHash,
    trap: OpaqueHash,
}

fn fixture() -> Fixture {
    let mut world = world();
    let echo = install(&mut world.state, SVC, &echo(), 1);
    let export = install(&mut world.state, SVC, &export_twice(), 1);
    let trap = install(&mut world.state, SVC, &code_blob(&[TRAP]), 1);
    Fixture {
        params: Params::tiny(),
        world,
        echo,
        export,
        trap,
    }
}

#[test]
fn work_report_of_three_items() {
    let f = fixture();
    let p = &f.params;
    let pk = package(
        &f.world,
        vec![
            item(f.echo, b"first", 0),
            item(f.export, b"second", 2),
            item(f.trap, b"third", 1),
        ],
    );
    let data = InMemoryPackageData::default();
    let cfg = RefineConfig::default();
    let out = compute_work_report(p, &cfg, &f.world.state, &data, &pk, 1).unwrap();
    let r = &out.report;
    assert_eq!(r.core_index, 1);
    assert_eq!(r.context, pk.context);
    assert_eq!(r.auth_output.0, vec![1, 0]);
    assert_eq!(r.auth_gas_used, 1);
    assert_eq!(r.authorizer_hash, authorizer_hash(&pk));
    assert!(r.segment_root_lookup.is_empty());

    let a0 = refine_args(&pk, 1, 0);
    let a1 = refine_args(&pk, 1, 1);
    assert_eq!(r.results.len(), 3);
    assert_eq!(r.results[0].result, WorkExecResult::Ok(Bytes(a0)));
    assert_eq!(r.results[0].payload_hash.0, blake2b_256(b"first"));
    assert_eq!(r.results[0].accumulate_gas, 1000);
    assert_eq!(r.results[0].refine_load.gas_used, 1);
    assert_eq!(r.results[1].result, WorkExecResult::Ok(Bytes(a1.clone())));
    assert_eq!(r.results[1].refine_load.exports, 2);
    assert_eq!(r.results[1].refine_load.gas_used, 29);
    // The trap exports nothing though it declared one: ⊚ (checked before the panic).
    assert_eq!(r.results[2].result, WorkExecResult::BadExports);
    assert_eq!(r.results[2].refine_load.gas_used, 1);

    // Exports: item 1's two segments, then one zero segment for item 2.
    assert_eq!(
        out.exports,
        vec![padded(p, &a1), padded(p, &a1), vec![0; p.segment_size()]]
    );
    let spec = &r.package_spec;
    assert_eq!(spec.hash, pk.hash());
    assert_eq!(spec.exports_count, 3);
    assert_eq!(spec.exports_root, segments_root(&out.exports));
    // No imports or extrinsics: the bundle is E(p).
    assert_eq!(out.bundle, pk.encode());
    assert_eq!(spec.length as usize, out.bundle.len());
    let (again, chunks) = availability_spec(p, pk.hash(), &out.bundle, &out.exports).unwrap();
    assert_eq!(&again, spec);
    assert_eq!(chunks, out.chunks);
    assert_eq!(out.chunks.bundle.len(), p.validators());
    // 3 exports + 1 paged-proof segment per validator.
    assert!(out.chunks.segments.iter().all(|s| s.len() == 4));
}

#[test]
fn oversize_output_is_replaced() {
    let f = fixture();
    let mut p = f.params.clone();
    let pk = package(
        &f.world,
        vec![
            item(f.echo, b"a", 0),
            item(f.export, b"b", 2),
            item(f.echo, b"c", 0),
        ],
    );
    let a0 = refine_args(&pk, 0, 0);
    // Room for the trace (2) and the first two outputs only.
    p.max_report_output_size = (2 + 2 * a0.len()) as u32;
    let data = InMemoryPackageData::default();
    let out =
        compute_work_report(&p, &RefineConfig::default(), &f.world.state, &data, &pk, 0).unwrap();
    let res: Vec<_> = out
        .report
        .results
        .iter()
        .map(|r| r.result.clone())
        .collect();
    assert_eq!(res[0], WorkExecResult::Ok(Bytes(a0.clone())));
    assert!(res[1].is_ok());
    // ⊖ (reported as code_oversize, see `exec_result`).
    assert_eq!(res[2], WorkExecResult::CodeOversize);
    p.max_report_output_size = (2 + a0.len()) as u32;
    let out =
        compute_work_report(&p, &RefineConfig::default(), &f.world.state, &data, &pk, 0).unwrap();
    assert_eq!(out.report.results[1].result, WorkExecResult::CodeOversize);
    // Its exports became zero segments.
    assert_eq!(out.exports, vec![vec![0; p.segment_size()]; 2]);
    assert_eq!(out.report.results[2].result, WorkExecResult::CodeOversize);
    // The trace alone too large: no report.
    p.max_report_output_size = 1;
    assert_eq!(
        compute_work_report(&p, &RefineConfig::default(), &f.world.state, &data, &pk, 0),
        Err(WorkReportError::AuthTraceTooLarge { len: 2, max: 1 })
    );
}

#[test]
fn imports_extrinsics_and_lookup() {
    let mut f = fixture();
    let p = f.params.clone();
    let cfg = RefineConfig::default();
    let mut data = InMemoryPackageData::default();
    // An earlier package exports two segments.
    let first = package(&f.world, vec![item(f.export, b"exporter", 2)]);
    let out1 = compute_work_report(&p, &cfg, &f.world.state, &data, &first, 0).unwrap();
    let root = data.add_exports(first.hash(), out1.exports.clone());
    assert_eq!(root, out1.report.package_spec.exports_root);

    let imp6 = install(&mut f.world.state, SVC, &fetcher(6, 1), 1);
    let xt4 = install(&mut f.world.state, SVC, &fetcher(4, 0), 1);
    let xh = data.add_extrinsic(b"extrinsic blob".to_vec());
    let mut a = item(imp6, b"", 0);
    a.import_segments = vec![
        ImportSpec {
            tree_root: root,
            index: 0,
        },
        ImportSpec {
            tree_root: first.hash(),
            index: 1 | (1 << 15),
        },
    ];
    let mut b = item(xt4, b"", 0);
    b.extrinsic = vec![ExtrinsicSpec { hash: xh, len: 14 }];
    let pk = package(&f.world, vec![a, b]);
    let out = compute_work_report(&p, &cfg, &f.world.state, &data, &pk, 0).unwrap();
    let r = &out.report;
    assert_eq!(r.segment_root_lookup.len(), 1);
    assert_eq!(r.segment_root_lookup[0].work_package_hash, first.hash());
    assert_eq!(r.segment_root_lookup[0].segment_tree_root, root);
    // fetch(6, 1): this item's second import, truncated by the 0x2000 buffer: a whole segment.
    assert_eq!(
        r.results[0].result,
        WorkExecResult::Ok(Bytes(out1.exports[1].clone()))
    );
    assert_eq!(r.results[0].refine_load.imports, 2);
    assert_eq!(
        r.results[1].result,
        WorkExecResult::Ok(Bytes(b"extrinsic blob".to_vec()))
    );
    assert_eq!(
        (
            r.results[1].refine_load.extrinsic_count,
            r.results[1].refine_load.extrinsic_size
        ),
        (1, 14)
    );
    // Bundle: E(p) ⌢ extrinsics ⌢ imported segments ⌢ ↕justifications.
    let mut want = pk.encode();
    want.extend_from_slice(b"extrinsic blob");
    want.extend_from_slice(&out1.exports[0]);
    want.extend_from_slice(&out1.exports[1]);
    for n in 0..2 {
        let j = justification(&out1.exports, n);
        want.push(j.len() as u8);
        j.iter().for_each(|h| want.extend_from_slice(h.as_bytes()));
    }
    assert_eq!(out.bundle, want);
    assert_eq!(r.package_spec.length as usize, want.len());

    // Missing pieces are errors.
    let mut bad = pk.clone();
    bad.items[1].extrinsic[0].len = 13;
    assert_eq!(
        compute_work_report(&p, &cfg, &f.world.state, &data, &bad, 0),
        Err(WorkReportError::MissingExtrinsic { hash: xh, len: 13 })
    );
    let mut bad = pk.clone();
    bad.items[0].import_segments[1].tree_root = OpaqueHash([8; 32]);
    assert_eq!(
        compute_work_report(&p, &cfg, &f.world.state, &data, &bad, 0),
        Err(WorkReportError::UnknownSegmentRoot(OpaqueHash([8; 32])))
    );
    let mut bad = pk.clone();
    bad.items[0].import_segments[0].index = 2;
    assert_eq!(
        compute_work_report(&p, &cfg, &f.world.state, &data, &bad, 0),
        Err(WorkReportError::MissingImport { root, index: 2 })
    );
    let mut bad = pk.clone();
    bad.items[0].import_segments = (0..9)
        .map(|i| ImportSpec {
            tree_root: OpaqueHash([i; 32]),
            index: 1 << 15,
        })
        .collect();
    assert_eq!(
        compute_work_report(&p, &cfg, &f.world.state, &data, &bad, 0),
        Err(WorkReportError::TooManySegmentRootLookups { count: 9 })
    );

    /// Serves a tampered segment.
    struct Liar(InMemoryPackageData);
    impl PackageData for Liar {
        fn extrinsic(&self, h: &OpaqueHash) -> Option<Vec<u8>> {
            self.0.extrinsic(h)
        }
        fn segment_root(&self, h: &OpaqueHash) -> Option<OpaqueHash> {
            self.0.segment_root(h)
        }
        fn import(&self, root: &OpaqueHash, index: u16) -> Option<ImportedSegment> {
            let mut s = self.0.import(root, index)?;
            s.segment[0] ^= 1;
            Some(s)
        }
    }
    assert_eq!(
        compute_work_report(&p, &cfg, &f.world.state, &Liar(data), &pk, 0),
        Err(WorkReportError::BadImport { root, index: 0 })
    );
}

#[test]
fn unauthorized_and_invalid_packages_yield_no_report() {
    let f = fixture();
    let p = &f.params;
    let data = InMemoryPackageData::default();
    let cfg = RefineConfig::default();
    let mut pk = package(&f.world, vec![item(f.echo, b"x", 0)]);
    pk.auth_code_hash = OpaqueHash([1; 32]);
    assert_eq!(
        compute_work_report(p, &cfg, &f.world.state, &data, &pk, 0),
        Err(WorkReportError::Unauthorized(WorkError::Bad))
    );
    let pk = package(&f.world, vec![]);
    assert_eq!(
        compute_work_report(p, &cfg, &f.world.state, &data, &pk, 0),
        Err(WorkReportError::Package(PackageError::NoItems))
    );
}

#[test]
fn reports_do_not_depend_on_thread_count() {
    let mut f = fixture();
    let p = f.params.clone();
    let cfg = RefineConfig::default();
    let mut data = InMemoryPackageData::default();
    let xh = data.add_extrinsic(vec![42; 1000]);
    let xt = install(&mut f.world.state, SVC, &fetcher(4, 0), 1);
    let packages: Vec<WorkPackage> = (0..6u8)
        .map(|k| {
            let mut items = vec![
                item(f.export, &[k; 40], 2),
                item(f.echo, &[k, k], 0),
                item(f.trap, b"", (k % 2) as u16),
                item(f.export, &[k; 3], 2),
            ];
            let mut x = item(xt, b"", 0);
            x.extrinsic = vec![ExtrinsicSpec {
                hash: xh,
                len: 1000,
            }];
            items.push(x);
            package(&f.world, items)
        })
        .collect();
    let jobs: Vec<PackageJob<'_>> = packages
        .iter()
        .enumerate()
        .map(|(i, package)| PackageJob {
            package,
            core: (i % 2) as u16,
        })
        .collect();
    let run = |threads: usize| -> Vec<(Vec<u8>, Vec<Vec<u8>>, Chunks)> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        refine_packages(&pool, &p, &cfg, &f.world.state, &data, &jobs)
            .into_iter()
            .map(|r| {
                let r = r.unwrap();
                (r.report.encode(), r.exports, r.chunks)
            })
            .collect()
    };
    let one = run(1);
    assert_eq!(one.len(), 6);
    // Distinct packages give distinct reports; each has 2 + 2 + (k % 2) exports.
    assert_ne!(one[0].0, one[1].0);
    assert_eq!(one[0].1.len(), 4);
    assert_eq!(one[1].1.len(), 5);
    for threads in [2, 4] {
        assert!(run(threads) == one, "{threads} threads differ from 1");
    }
}
