//! Accumulation (GP v0.7.2 §12, Appendix B.4–B.7): ready queue ϑ, history ξ, Δ+ / Δ* / Δ1 and Ψ_A.
//!
//! # API
//!
//! [`accumulate`] takes the owned state components accumulation reads and writes
//! ([`AccumulateState`]: the partial state `e` of GP 12.13 plus ϑ and ξ), the block's inputs
//! ([`AccumulateInput`]: `H_t`, the prior τ, η'_0 and the newly available reports `R`) and returns
//! [`AccumulateOutcome`]: the posterior components (δ‡ — accounts with `last_accumulation_slot`
//! updated — ι', φ', χ', ϑ', ξ'), the accumulation output θ' with its Keccak Merkle root, the
//! accumulation statistics (gas, count) per service and the number of reports accumulated.
//!
//! Service storage, preimages and requests live in [`PartialState::service_data`] by their GP D.1
//! state keys (see [`keys`]); [`ServiceInfo`]'s `items` / `bytes` are kept exact.
//!
//! # Execution
//!
//! Each Ψ_A invocation works on an overlay (`host_calls::Implications`) over the round's
//! shared `e`, so the regular / exceptional pair and `checkpoint` copy only what changed; the
//! services of one Δ* round run in parallel (rayon) and are merged as GP 12.18 says (own account
//! and new accounts from each service, removals, privileges through `R`, ι from the delegator,
//! φ\[c\] from its assigner, then the provisions `I`). Host-call gas: 10 each, `transfer`
//! 10 + ω9 on success (10 otherwise, GP B.7), `log` [`AccumulateConfig::log_gas`] (10, as the
//! vectors expect).

mod host_calls;
pub mod keys;
pub mod programs;
pub mod queue;
#[cfg(test)]
mod tests;

pub use host_calls::{code, index};
use host_calls::{AccumulateHost, Env, Implications};
use jam_state::codec::{decode_natural, encode_natural, Encode, Reader};
use jam_state::hash::{blake2b_256, keccak_256};
use jam_state::merkle::merkle_wb;
use jam_state::params::Params;
use jam_state::types::{
    AccumulatedQueue, AuthQueues, Gas, OpaqueHash, Privileges, ReadyQueue, ServiceId, ServiceInfo,
    TimeSlot, ValidatorsData, WorkReport,
};
use keys::{encode_slots, lookup_key, preimage_key, StateKey};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// S: the lowest public service index (GP I.4.4).
pub const MIN_PUBLIC_INDEX: u32 = 1 << 16;
/// Entry point of the accumulate code.
const ACCUMULATE_PC: u32 = 5;

/// The partial state `S` of GP 12.13: accounts, ι, φ and χ.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialState {
    /// δ's account records (GP D.2 key 255).
    pub accounts: BTreeMap<ServiceId, ServiceInfo>,
    /// Every storage / preimage / request item of every service, raw, by its state key.
    pub service_data: BTreeMap<StateKey, Vec<u8>>,
    /// ι: the staging validator keys.
    pub staging: ValidatorsData,
    /// φ: the authorizer queues.
    pub auth_queues: AuthQueues,
    /// χ.
    pub privileges: Privileges,
}

/// The components accumulation reads and writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccumulateState {
    pub partial: PartialState,
    /// ϑ.
    pub ready_queue: ReadyQueue,
    /// ξ.
    pub accumulated: AccumulatedQueue,
}

/// The block inputs of accumulation.
#[derive(Clone, Debug)]
pub struct AccumulateInput<'a> {
    /// `H_t` (= τ').
    pub slot: TimeSlot,
    /// The prior τ.
    pub prior_slot: TimeSlot,
    /// η'_0.
    pub entropy: OpaqueHash,
    /// `R`: the reports which just became available.
    pub reports: &'a [WorkReport],
}

/// Knobs that are not chain parameters, and caches shared across blocks.
#[derive(Clone, Debug)]
pub struct AccumulateConfig {
    /// Gas charged by the JIP-1 `log` host call.
    pub log_gas: Gas,
    /// Decoded service code by code hash (bounded; shared by clones of the config).
    pub programs: std::sync::Arc<programs::ProgramCache>,
}

impl Default for AccumulateConfig {
    fn default() -> Self {
        AccumulateConfig {
            log_gas: 10,
            programs: Default::default(),
        }
    }
}

/// A deferred transfer `X` (GP 12.15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub source: ServiceId,
    pub dest: ServiceId,
    pub amount: u64,
    pub memo: [u8; 128],
    pub gas: Gas,
}

impl Transfer {
    /// `E_X` (GP C.29).
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.source.to_le_bytes());
        out.extend_from_slice(&self.dest.to_le_bytes());
        out.extend_from_slice(&self.amount.to_le_bytes());
        out.extend_from_slice(&self.memo);
        out.extend_from_slice(&self.gas.to_le_bytes());
    }
}

/// Accumulation statistics of one service (GP 12.26): gas used and digests accumulated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccumulationStats {
    pub gas_used: Gas,
    pub count: u32,
}

/// The result of [`accumulate`].
#[derive(Clone, Debug)]
pub struct AccumulateOutcome {
    /// The posterior components (accounts are δ‡: after accumulation and `last_accumulation_slot`).
    pub state: AccumulateState,
    /// θ': the accumulation output pairs, ordered.
    pub outputs: Vec<(ServiceId, OpaqueHash)>,
    /// `M_B([E4(s) ++ h | (s, h) <- θ'], H_K)`.
    pub outputs_root: OpaqueHash,
    /// S: per-service accumulation statistics (only services with `G + N != 0`).
    pub statistics: BTreeMap<ServiceId, AccumulationStats>,
    /// `n`: the number of work reports accumulated.
    pub accumulated_reports: usize,
}

/// `a_t`: the threshold balance (GP 9.8), unbounded.
pub fn min_balance(p: &Params, a: &ServiceInfo) -> u128 {
    let need = p.deposit_per_account as u128
        + p.deposit_per_item as u128 * a.items as u128
        + p.deposit_per_byte as u128 * a.bytes as u128;
    need.saturating_sub(a.deposit_offset as u128)
}

/// The accumulation output root of θ'.
pub fn outputs_root(outputs: &[(ServiceId, OpaqueHash)]) -> OpaqueHash {
    let items: Vec<Vec<u8>> = outputs
        .iter()
        .map(|(s, h)| {
            let mut v = s.to_le_bytes().to_vec();
            v.extend_from_slice(h.as_bytes());
            v
        })
        .collect();
    OpaqueHash(merkle_wb(&items, keccak_256))
}

/// Accumulation (GP 12.1–12.30) of the newly available `input.reports` on `state`.
pub fn accumulate(
    params: &Params,
    config: &AccumulateConfig,
    mut state: AccumulateState,
    input: &AccumulateInput<'_>,
) -> AccumulateOutcome {
    let e_len = params.epoch_len();
    let m = input.slot as usize % e_len;
    let history: BTreeSet<OpaqueHash> = state.accumulated.iter().flatten().copied().collect();
    let (now, queued) = queue::partition(input.reports, &history);
    let now_hashes = queue::package_hashes(&now);
    let mut candidates: Vec<queue::Queued> = Vec::new();
    for i in (m..e_len).chain(0..m) {
        candidates.extend(state.ready_queue[i].iter().map(queue::Queued::from_record));
    }
    candidates.extend(queued.iter().cloned());
    let q = queue::edit(&candidates, &now_hashes);
    let mut accumulatable = now;
    accumulatable.extend(queue::priority(q));

    let privileges = &state.partial.privileges;
    let always: BTreeMap<ServiceId, Gas> = privileges
        .always_acc
        .iter()
        .map(|e| (e.id, e.gas))
        .collect();
    let free_total = always.values().fold(0u64, |a, g| a.saturating_add(*g));
    let gas_limit = params.max_block_gas.max(
        (params
            .max_accumulate_gas
            .saturating_mul(params.cores() as u64))
        .saturating_add(free_total),
    );

    let ctx = RunCtx {
        params,
        config,
        slot: input.slot,
        entropy: input.entropy,
        constants: params.to_protocol_parameters(),
    };
    let mut partial = std::mem::take(&mut state.partial);
    let mut outputs = BTreeSet::new();
    let mut gas_used: Vec<(ServiceId, Gas)> = Vec::new();
    let n = acc_seq(
        &ctx,
        gas_limit,
        Vec::new(),
        &accumulatable,
        &mut partial,
        always,
        &mut outputs,
        &mut gas_used,
    );

    // Statistics (GP 12.26).
    let mut statistics: BTreeMap<ServiceId, AccumulationStats> = BTreeMap::new();
    for (s, u) in &gas_used {
        let e = statistics.entry(*s).or_default();
        e.gas_used = e.gas_used.saturating_add(*u);
    }
    for r in &accumulatable[..n] {
        for d in &r.results {
            statistics.entry(d.service_id).or_default().count += 1;
        }
    }
    statistics.retain(|_, v| v.gas_used != 0 || v.count != 0);

    // δ‡: last accumulation slot (GP 12.27).
    for s in statistics.keys() {
        if let Some(a) = partial.accounts.get_mut(s) {
            a.last_accumulation_slot = input.slot;
        }
    }

    // ξ' and ϑ' (GP 12.28–12.30).
    let done = queue::package_hashes(&accumulatable[..n]);
    let mut accumulated = state.accumulated.clone();
    accumulated.remove(0);
    accumulated.push(done.iter().copied().collect());
    let elapsed = input.slot.saturating_sub(input.prior_slot) as usize;
    let mut ready = state.ready_queue.clone();
    for i in 0..e_len {
        let idx = (m + e_len - i % e_len) % e_len;
        ready[idx] = if i == 0 {
            queue::to_records(&queue::edit(&queued, &done))
        } else if i < elapsed {
            Vec::new()
        } else {
            let items: Vec<queue::Queued> = state.ready_queue[idx]
                .iter()
                .map(queue::Queued::from_record)
                .collect();
            queue::to_records(&queue::edit(&items, &done))
        };
    }

    let outputs: Vec<(ServiceId, OpaqueHash)> = outputs.into_iter().collect();
    let root = outputs_root(&outputs);
    AccumulateOutcome {
        state: AccumulateState {
            partial,
            ready_queue: ready,
            accumulated,
        },
        outputs,
        outputs_root: root,
        statistics,
        accumulated_reports: n,
    }
}

struct RunCtx<'a> {
    params: &'a Params,
    config: &'a AccumulateConfig,
    slot: TimeSlot,
    entropy: OpaqueHash,
    constants: Vec<u8>,
}

/// Δ+ (GP 12.16), iteratively; returns the number of reports accumulated.
#[allow(clippy::too_many_arguments)]
fn acc_seq(
    ctx: &RunCtx<'_>,
    mut gas: Gas,
    mut transfers: Vec<Transfer>,
    mut reports: &[WorkReport],
    e: &mut PartialState,
    mut free: BTreeMap<ServiceId, Gas>,
    outputs: &mut BTreeSet<(ServiceId, OpaqueHash)>,
    used: &mut Vec<(ServiceId, Gas)>,
) -> usize {
    let mut total = 0;
    loop {
        let mut i = 0;
        let mut sum: Gas = 0;
        for r in reports {
            let g = r
                .results
                .iter()
                .fold(0u64, |a, d| a.saturating_add(d.accumulate_gas));
            match sum.checked_add(g) {
                Some(s) if s <= gas => {
                    sum = s;
                    i += 1;
                }
                _ => break,
            }
        }
        if transfers.len() + i + free.len() == 0 {
            return total;
        }
        let g_star = transfers.iter().fold(gas, |a, t| a.saturating_add(t.gas));
        let (t_star, u_star) = acc_par(ctx, e, &transfers, &reports[..i], &free, outputs);
        let spent = u_star.iter().fold(0u64, |a, (_, u)| a.saturating_add(*u));
        used.extend(u_star);
        total += i;
        gas = g_star.saturating_sub(spent);
        transfers = t_star;
        reports = &reports[i..];
        free = BTreeMap::new();
    }
}

/// The result of Δ1 for one service.
struct AccOne {
    post: Implications,
    gas_used: Gas,
}

/// Δ* (GP 12.17–12.19): accumulates every service of the round against the same `e`, then
/// integrates the results into `e`. Returns the new transfers and the gas used per service.
fn acc_par(
    ctx: &RunCtx<'_>,
    e: &mut PartialState,
    transfers: &[Transfer],
    reports: &[WorkReport],
    free: &BTreeMap<ServiceId, Gas>,
    outputs: &mut BTreeSet<(ServiceId, OpaqueHash)>,
) -> (Vec<Transfer>, Vec<(ServiceId, Gas)>) {
    let mut services: BTreeSet<ServiceId> = reports
        .iter()
        .flat_map(|r| r.results.iter().map(|d| d.service_id))
        .collect();
    services.extend(free.keys().copied());
    services.extend(transfers.iter().map(|t| t.dest));

    // The services of a round are independent (each sees the same `e`): run them in parallel.
    let shared: &PartialState = e;
    let list: Vec<ServiceId> = services.into_iter().collect();
    let results: BTreeMap<ServiceId, AccOne> = if list.len() > 1 {
        list.par_iter()
            .map(|&s| (s, acc_one(ctx, shared, transfers, reports, free, s)))
            .collect()
    } else {
        list.iter()
            .map(|&s| (s, acc_one(ctx, shared, transfers, reports, free, s)))
            .collect()
    };

    let mut new_transfers = Vec::new();
    let mut used = Vec::with_capacity(results.len());
    for (s, r) in &results {
        used.push((*s, r.gas_used));
        if let Some(h) = r.post.yield_hash {
            outputs.insert((*s, h));
        }
        new_transfers.extend(r.post.transfers.iter().cloned());
    }

    // Privileges, ι and φ (GP 12.18).
    let prior = e.privileges.clone();
    let replace = |o: ServiceId, a: ServiceId, b: ServiceId| if a == o { b } else { a };
    let view = |s: ServiceId| {
        results
            .get(&s)
            .map(|r| &r.post.privileges)
            .unwrap_or(&prior)
    };
    let manager_view = view(prior.bless).clone();
    let mut privileges = prior.clone();
    privileges.bless = manager_view.bless;
    privileges.always_acc = manager_view.always_acc.clone();
    for c in 0..prior.assign.len() {
        let own = view(prior.assign[c]).assign[c];
        privileges.assign[c] = replace(prior.assign[c], manager_view.assign[c], own);
    }
    privileges.designate = replace(
        prior.designate,
        manager_view.designate,
        view(prior.designate).designate,
    );
    privileges.register = replace(
        prior.register,
        manager_view.register,
        view(prior.register).register,
    );
    if let Some(v) = results
        .get(&prior.designate)
        .and_then(|r| r.post.staging.clone())
    {
        e.staging = v;
    }
    for c in 0..prior.assign.len() {
        if let Some(q) = results
            .get(&prior.assign[c])
            .and_then(|r| r.post.auth_queues.get(&c))
        {
            if let Some(slot) = e.auth_queues.get_mut(c) {
                *slot = q.clone();
            }
        }
    }
    e.privileges = privileges;

    // Accounts: d' = I((d ∪ n) \ m, p) (GP 12.18, 12.19).
    let existed = |id: &ServiceId| e.accounts.contains_key(id);
    let mut removed: BTreeSet<ServiceId> = BTreeSet::new();
    for r in results.values() {
        for (id, a) in &r.post.accounts {
            if a.is_none() && existed(id) {
                removed.insert(*id);
            }
        }
    }
    let mut account_updates: Vec<(ServiceId, ServiceInfo)> = Vec::new();
    let mut data_updates: Vec<(StateKey, Option<Vec<u8>>)> = Vec::new();
    for (s, r) in &results {
        for (id, a) in &r.post.accounts {
            if let Some(a) = a {
                if (id == s || !existed(id)) && !removed.contains(id) {
                    account_updates.push((*id, *a));
                }
            }
        }
        for ((owner, key), v) in &r.post.data {
            let mine = owner == s || !existed(owner);
            if (mine && !removed.contains(owner)) || (removed.contains(owner) && v.is_none()) {
                data_updates.push((*key, v.clone()));
            }
        }
    }
    for (id, a) in account_updates {
        e.accounts.insert(id, a);
    }
    for (k, v) in data_updates {
        match v {
            Some(v) => {
                e.service_data.insert(k, v);
            }
            None => {
                e.service_data.remove(&k);
            }
        }
    }
    for id in &removed {
        e.accounts.remove(id);
    }
    let provisions: BTreeSet<&(ServiceId, Vec<u8>)> = results
        .values()
        .flat_map(|r| r.post.provisions.iter())
        .collect();
    for (s, blob) in provisions {
        provide(e, *s, blob, ctx.slot);
    }

    (new_transfers, used)
}

/// The preimage integration `I` for one provision (GP 12.20, 12.21).
fn provide(e: &mut PartialState, s: ServiceId, blob: &[u8], slot: TimeSlot) {
    if !e.accounts.contains_key(&s) {
        return;
    }
    let Ok(len) = u32::try_from(blob.len()) else {
        return;
    };
    let h = OpaqueHash(blake2b_256(blob));
    let lk = lookup_key(s, &h, len);
    let wanted = e
        .service_data
        .get(&lk)
        .and_then(|v| keys::decode_slots(v))
        .is_some_and(|t| t.is_empty());
    if wanted {
        e.service_data.insert(lk, encode_slots(&[slot]));
        e.service_data.insert(preimage_key(s, &h), blob.to_vec());
    }
}

/// Δ1 (GP 12.22) followed by Ψ_A (GP B.4).
fn acc_one(
    ctx: &RunCtx<'_>,
    e: &PartialState,
    transfers: &[Transfer],
    reports: &[WorkReport],
    free: &BTreeMap<ServiceId, Gas>,
    s: ServiceId,
) -> AccOne {
    let mut gas = free.get(&s).copied().unwrap_or(0);
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    let mut credit: u64 = 0;
    for t in transfers.iter().filter(|t| t.dest == s) {
        gas = gas.saturating_add(t.gas);
        credit = credit.saturating_add(t.amount);
        let mut v = vec![1u8];
        t.encode_to(&mut v);
        inputs.push(v);
    }
    for r in reports {
        for d in r.results.iter().filter(|d| d.service_id == s) {
            gas = gas.saturating_add(d.accumulate_gas);
            let mut v = vec![0u8];
            v.extend_from_slice(r.package_spec.hash.as_bytes());
            v.extend_from_slice(r.package_spec.exports_root.as_bytes());
            v.extend_from_slice(r.authorizer_hash.as_bytes());
            v.extend_from_slice(d.payload_hash.as_bytes());
            encode_natural(d.accumulate_gas, &mut v);
            d.result.encode_to(&mut v);
            r.auth_output.encode_to(&mut v);
            inputs.push(v);
        }
    }

    let account = e.accounts.get(&s).copied();
    let credited = account.map(|mut a| {
        a.balance = a.balance.saturating_add(credit);
        a
    });
    let code = account.and_then(|a| {
        let c = service_code(ctx.params, e, s, &a.code_hash)?;
        (c.len() <= ctx.params.max_service_code_size as usize)
            .then(|| ctx.config.programs.get(&a.code_hash, c))
    });

    let mut args = Vec::with_capacity(16);
    encode_natural(ctx.slot as u64, &mut args);
    encode_natural(s as u64, &mut args);
    encode_natural(inputs.len() as u64, &mut args);
    let env = Env {
        params: ctx.params,
        base: e,
        slot: ctx.slot,
        entropy: ctx.entropy,
        inputs,
        constants: ctx.constants.clone(),
        log_gas: ctx.config.log_gas,
    };
    let init = Implications::new(&env, s, credited);
    let Some(code) = code else {
        return AccOne {
            post: init,
            gas_used: 0,
        };
    };
    let mut host = AccumulateHost {
        env: &env,
        x: init.clone(),
        y: init,
    };
    let inv = jam_pvm::invoke_standard(code.decoded(), ACCUMULATE_PC, gas, &args, &mut host);
    let AccumulateHost { x, y, .. } = host;
    let post = match inv.result {
        Err(_) => y,
        Ok(out) => {
            let mut x = x;
            if let Some(h) = OpaqueHash::from_slice(&out) {
                x.yield_hash = Some(h);
            }
            x
        }
    };
    AccOne {
        post,
        gas_used: inv.gas_used,
    }
}

/// `a_c` (GP 9.4): the code of the preimage of `code_hash`, without its metadata.
fn service_code<'e>(
    params: &Params,
    e: &'e PartialState,
    s: ServiceId,
    code_hash: &OpaqueHash,
) -> Option<&'e [u8]> {
    let blob = e.service_data.get(&preimage_key(s, code_hash))?;
    let mut r = Reader::new(blob, params);
    let m = decode_natural(&mut r).ok()?;
    let start = r.position().checked_add(usize::try_from(m).ok()?)?;
    blob.get(start..)
}
