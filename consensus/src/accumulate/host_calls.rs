//! The accumulate host calls (GP v0.7.2 B.4 `F`, B.6 general and B.7 accumulate functions) over
//! the implications context pair `(x, y)` (regular / exceptional dimension), plus JIP-1 `log`.

use super::keys::{decode_slots, encode_slots, lookup_key, preimage_key, storage_key, StateKey};
use super::{min_balance, PartialState, Transfer, MIN_PUBLIC_INDEX};
use crate::general::{self, hash_at, mem_read, output, FetchData, HOST_GAS};
use jam_pvm::{HostCalls, HostContext, HostResult};
use jam_state::codec::{decode_exact, encode_natural};
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::types::{
    AlwaysAccumulateMapEntry, AuthQueue, OpaqueHash, Privileges, ServiceId, ServiceInfo, TimeSlot,
    ValidatorData, ValidatorsData,
};
use std::collections::{BTreeMap, BTreeSet};

/// Host-call indices (GP B.4, JIP-1 for `log`).
pub mod index {
    pub const GAS: u32 = crate::general::index::GAS;
    pub const FETCH: u32 = crate::general::index::FETCH;
    pub const LOOKUP: u32 = 2;
    pub const READ: u32 = 3;
    pub const WRITE: u32 = 4;
    pub const INFO: u32 = 5;
    pub const BLESS: u32 = 14;
    pub const ASSIGN: u32 = 15;
    pub const DESIGNATE: u32 = 16;
    pub const CHECKPOINT: u32 = 17;
    pub const NEW: u32 = 18;
    pub const UPGRADE: u32 = 19;
    pub const TRANSFER: u32 = 20;
    pub const EJECT: u32 = 21;
    pub const QUERY: u32 = 22;
    pub const SOLICIT: u32 = 23;
    pub const FORGET: u32 = 24;
    pub const YIELD: u32 = 25;
    pub const PROVIDE: u32 = 26;
    pub const LOG: u32 = crate::general::index::LOG;
}

pub use crate::general::code;

/// The modulus of the public service index space: `2^32 - S - 2^8`.
const ID_SPACE: u64 = (1u64 << 32) - MIN_PUBLIC_INDEX as u64 - (1 << 8);

/// The environment one Ψ_A invocation reads (never mutated).
pub(crate) struct Env<'a> {
    pub params: &'a Params,
    /// The partial state `e` the invocation starts from (the Δ* input).
    pub base: &'a PartialState,
    /// `H_t` (= τ').
    pub slot: TimeSlot,
    /// η'_0.
    pub entropy: OpaqueHash,
    /// `E(i)` of each accumulation input.
    pub inputs: Vec<Vec<u8>>,
    /// The fetch selector 0 blob (protocol parameters).
    pub constants: Vec<u8>,
    /// Gas charged by `log`.
    pub log_gas: u64,
}

/// The implications context `L` (GP B.5) as an overlay over the invocation's base state.
#[derive(Clone, Debug)]
pub(crate) struct Implications {
    pub id: ServiceId,
    /// Changed accounts (`None`: removed).
    pub accounts: BTreeMap<ServiceId, Option<ServiceInfo>>,
    /// Changed service items by owner and state key (`None`: removed).
    pub data: BTreeMap<(ServiceId, StateKey), Option<Vec<u8>>>,
    /// ι, when changed.
    pub staging: Option<ValidatorsData>,
    /// φ entries changed, by core.
    pub auth_queues: BTreeMap<usize, AuthQueue>,
    /// χ (always a full copy: it is small).
    pub privileges: Privileges,
    pub next_free_id: ServiceId,
    pub transfers: Vec<Transfer>,
    pub yield_hash: Option<OpaqueHash>,
    pub provisions: BTreeSet<(ServiceId, Vec<u8>)>,
}

impl Implications {
    /// `I(e, s)` (GP B.5), with `e` already carrying any balance credit.
    pub fn new(env: &Env<'_>, id: ServiceId, credit: Option<ServiceInfo>) -> Self {
        let mut seed = Vec::with_capacity(48);
        encode_natural(id as u64, &mut seed);
        seed.extend_from_slice(env.entropy.as_bytes());
        encode_natural(env.slot as u64, &mut seed);
        let h = blake2b_256(&seed);
        let v = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let mut accounts = BTreeMap::new();
        if let Some(a) = credit {
            accounts.insert(id, Some(a));
        }
        let mut x = Implications {
            id,
            accounts,
            data: BTreeMap::new(),
            staging: None,
            auth_queues: BTreeMap::new(),
            privileges: env.base.privileges.clone(),
            next_free_id: 0,
            transfers: Vec::new(),
            yield_hash: None,
            provisions: BTreeSet::new(),
        };
        x.next_free_id = x.check(env, ((v % ID_SPACE) + MIN_PUBLIC_INDEX as u64) as u32);
        x
    }

    pub fn account(&self, env: &Env<'_>, s: ServiceId) -> Option<ServiceInfo> {
        match self.accounts.get(&s) {
            Some(a) => *a,
            None => env.base.accounts.get(&s).copied(),
        }
    }

    fn exists(&self, env: &Env<'_>, s: ServiceId) -> bool {
        match self.accounts.get(&s) {
            Some(a) => a.is_some(),
            None => env.base.accounts.contains_key(&s),
        }
    }

    fn item<'b>(&'b self, env: &'b Env<'_>, s: ServiceId, key: &StateKey) -> Option<&'b [u8]> {
        match self.data.get(&(s, *key)) {
            Some(v) => v.as_deref(),
            None => env.base.service_data.get(key).map(|v| v.as_slice()),
        }
    }

    fn set_item(&mut self, s: ServiceId, key: StateKey, v: Option<Vec<u8>>) {
        self.data.insert((s, key), v);
    }

    fn slots(
        &self,
        env: &Env<'_>,
        s: ServiceId,
        h: &OpaqueHash,
        len: u32,
    ) -> Option<Vec<TimeSlot>> {
        self.item(env, s, &lookup_key(s, h, len))
            .and_then(decode_slots)
    }

    /// `check` (GP B.13) over the current accounts.
    fn check(&self, env: &Env<'_>, mut i: u32) -> u32 {
        while self.exists(env, i) {
            i = ((i as u64 - MIN_PUBLIC_INDEX as u64 + 1) % ID_SPACE + MIN_PUBLIC_INDEX as u64)
                as u32;
        }
        i
    }
}

/// The accumulate host: the environment and the `(x, y)` context pair.
pub(crate) struct AccumulateHost<'a, 'e> {
    pub env: &'a Env<'e>,
    pub x: Implications,
    pub y: Implications,
}

/// Storage footprint change of one storage item (`34 + |k| + |v|`).
fn storage_octets(key_len: usize, value_len: usize) -> u64 {
    34 + key_len as u64 + value_len as u64
}

impl HostCalls for AccumulateHost<'_, '_> {
    fn host_call(&mut self, idx: u32, c: &mut HostContext<'_>) -> HostResult {
        if idx == index::TRANSFER {
            return self.transfer(c);
        }
        let g = if idx == index::LOG {
            self.env.log_gas
        } else {
            HOST_GAS
        };
        if !c.charge(g) {
            return HostResult::OutOfGas;
        }
        match idx {
            index::GAS => general::gas(c),
            index::FETCH => self.fetch(c),
            index::LOOKUP => self.lookup(c),
            index::READ => self.read(c),
            index::WRITE => self.write(c),
            index::INFO => self.info(c),
            index::BLESS => self.bless(c),
            index::ASSIGN => self.assign(c),
            index::DESIGNATE => self.designate(c),
            index::CHECKPOINT => {
                self.y = self.x.clone();
                let g = (*c.gas).max(0) as u64;
                c.set_reg(7, g);
                HostResult::Continue
            }
            index::NEW => self.new_service(c),
            index::UPGRADE => self.upgrade(c),
            index::EJECT => self.eject(c),
            index::QUERY => self.query(c),
            index::SOLICIT => self.solicit(c),
            index::FORGET => self.forget(c),
            index::YIELD => {
                let Some(h) = hash_at(c, c.reg(7)) else {
                    return HostResult::Panic;
                };
                self.x.yield_hash = Some(h);
                c.set_reg(7, code::OK);
                HostResult::Continue
            }
            index::PROVIDE => self.provide(c),
            index::LOG => HostResult::Continue,
            _ => {
                c.set_reg(7, code::WHAT);
                HostResult::Continue
            }
        }
    }
}

impl AccumulateHost<'_, '_> {
    fn self_account(&self) -> ServiceInfo {
        self.x
            .account(self.env, self.x.id)
            .expect("the accumulating service exists")
    }

    fn set_self(&mut self, a: ServiceInfo) {
        self.x.accounts.insert(self.x.id, Some(a));
    }

    /// Ω_Y with the accumulate arguments (η'_0 and the inputs; no package, no imports).
    fn fetch(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let env = self.env;
        let d = FetchData {
            constants: &env.constants,
            entropy: Some(env.entropy.as_bytes()),
            inputs: Some(&env.inputs),
            ..Default::default()
        };
        general::fetch(c, &d)
    }

    /// Ω_L.
    fn lookup(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let (env, x) = (self.env, &self.x);
        let r7 = c.reg(7);
        let s = if r7 == u64::MAX || r7 == x.id as u64 {
            Some(x.id)
        } else {
            u32::try_from(r7).ok().filter(|s| x.exists(env, *s))
        };
        let Some(h) = hash_at(c, c.reg(8)) else {
            return HostResult::Panic;
        };
        let v = s.and_then(|s| x.item(env, s, &preimage_key(s, &h)));
        let v = v.map(|v| v.to_vec());
        output(c, v.as_deref(), c.reg(9), c.reg(10), c.reg(11))
    }

    /// Ω_R.
    fn read(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let (env, x) = (self.env, &self.x);
        let r7 = c.reg(7);
        let s_star = if r7 == u64::MAX { x.id as u64 } else { r7 };
        let s = u32::try_from(s_star).ok().filter(|s| x.exists(env, *s));
        let Some(k) = mem_read(c, c.reg(8), c.reg(9)) else {
            return HostResult::Panic;
        };
        let v = s.and_then(|s| x.item(env, s, &storage_key(s, &k)));
        let v = v.map(|v| v.to_vec());
        output(c, v.as_deref(), c.reg(10), c.reg(11), c.reg(12))
    }

    /// Ω_W.
    fn write(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let env = self.env;
        let (ko, kz, vo, vz) = (c.reg(7), c.reg(8), c.reg(9), c.reg(10));
        let Some(k) = mem_read(c, ko, kz) else {
            return HostResult::Panic;
        };
        let value = if vz == 0 {
            None
        } else {
            match mem_read(c, vo, vz) {
                Some(v) => Some(v),
                None => return HostResult::Panic,
            }
        };
        let id = self.x.id;
        let key = storage_key(id, &k);
        let old_len = self.x.item(env, id, &key).map(|v| v.len());
        let mut a = self.self_account();
        if let Some(n) = old_len {
            a.items = a.items.wrapping_sub(1);
            a.bytes = a.bytes.wrapping_sub(storage_octets(k.len(), n));
        }
        if let Some(v) = &value {
            a.items = a.items.wrapping_add(1);
            a.bytes = a.bytes.wrapping_add(storage_octets(k.len(), v.len()));
        }
        if min_balance(env.params, &a) > a.balance as u128 {
            c.set_reg(7, code::FULL);
            return HostResult::Continue;
        }
        self.set_self(a);
        self.x.set_item(id, key, value);
        c.set_reg(7, old_len.map_or(code::NONE, |n| n as u64));
        HostResult::Continue
    }

    /// Ω_I.
    fn info(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let (env, x) = (self.env, &self.x);
        let r7 = c.reg(7);
        let s = if r7 == u64::MAX {
            Some(x.id)
        } else {
            u32::try_from(r7).ok()
        };
        let v = s.and_then(|s| x.account(env, s)).map(|a| {
            let mut v = Vec::with_capacity(96);
            v.extend_from_slice(a.code_hash.as_bytes());
            let t = min_balance(env.params, &a).min(u64::MAX as u128) as u64;
            for n in [a.balance, t, a.min_item_gas, a.min_memo_gas, a.bytes] {
                v.extend_from_slice(&n.to_le_bytes());
            }
            v.extend_from_slice(&a.items.to_le_bytes());
            v.extend_from_slice(&a.deposit_offset.to_le_bytes());
            for n in [a.creation_slot, a.last_accumulation_slot, a.parent_service] {
                v.extend_from_slice(&n.to_le_bytes());
            }
            v
        });
        output(c, v.as_deref(), c.reg(8), c.reg(9), c.reg(10))
    }

    /// Ω_B.
    fn bless(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let cores = self.env.params.cores() as u64;
        let (m, a, v, r, o, n) = (
            c.reg(7),
            c.reg(8),
            c.reg(9),
            c.reg(10),
            c.reg(11),
            c.reg(12),
        );
        let Some(assign) = mem_read(c, a, 4 * cores) else {
            return HostResult::Panic;
        };
        let Some(z) = n.checked_mul(12).and_then(|len| mem_read(c, o, len)) else {
            return HostResult::Panic;
        };
        let (Ok(m), Ok(v), Ok(r)) = (u32::try_from(m), u32::try_from(v), u32::try_from(r)) else {
            c.set_reg(7, code::WHO);
            return HostResult::Continue;
        };
        let mut always = BTreeMap::new();
        for e in z.chunks_exact(12) {
            let s = u32::from_le_bytes(e[..4].try_into().expect("4"));
            let g = u64::from_le_bytes(e[4..].try_into().expect("8"));
            always.insert(s, g);
        }
        let p = &mut self.x.privileges;
        p.bless = m;
        p.designate = v;
        p.register = r;
        for (i, q) in assign.chunks_exact(4).enumerate() {
            if let Some(slot) = p.assign.get_mut(i) {
                *slot = u32::from_le_bytes(q.try_into().expect("4"));
            }
        }
        p.always_acc = always
            .into_iter()
            .map(|(id, gas)| AlwaysAccumulateMapEntry { id, gas })
            .collect();
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    /// Ω_A.
    fn assign(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let params = self.env.params;
        let (core, o, a) = (c.reg(7), c.reg(8), c.reg(9));
        let qlen = params.auth_queue_size as u64;
        let Some(q) = mem_read(c, o, 32 * qlen) else {
            return HostResult::Panic;
        };
        if core >= params.cores() as u64 {
            c.set_reg(7, code::CORE);
            return HostResult::Continue;
        }
        let core = core as usize;
        if self.x.privileges.assign.get(core) != Some(&self.x.id) {
            c.set_reg(7, code::HUH);
            return HostResult::Continue;
        }
        let Ok(a) = u32::try_from(a) else {
            c.set_reg(7, code::WHO);
            return HostResult::Continue;
        };
        let queue: Vec<OpaqueHash> = q
            .chunks_exact(32)
            .map(|h| OpaqueHash::from_slice(h).expect("32"))
            .collect();
        self.x.auth_queues.insert(core, AuthQueue::new(queue));
        self.x.privileges.assign[core] = a;
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    /// Ω_D.
    fn designate(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let params = self.env.params;
        let Some(v) = mem_read(c, c.reg(7), 336 * params.validators() as u64) else {
            return HostResult::Panic;
        };
        if self.x.id != self.x.privileges.designate {
            c.set_reg(7, code::HUH);
            return HostResult::Continue;
        }
        let keys: Vec<ValidatorData> = v
            .chunks_exact(336)
            .map(|k| decode_exact(k, params).expect("336 octets decode as validator keys"))
            .collect();
        self.x.staging = Some(ValidatorsData::new(keys));
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    /// Ω_N.
    fn new_service(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let env = self.env;
        let (o, l, g, m, f, want) = (
            c.reg(7),
            c.reg(8),
            c.reg(9),
            c.reg(10),
            c.reg(11),
            c.reg(12),
        );
        let code_hash = hash_at(c, o);
        let (Some(code_hash), Ok(l)) = (code_hash, u32::try_from(l)) else {
            return HostResult::Panic;
        };
        let x = &self.x;
        let mut a = ServiceInfo {
            version: 0,
            code_hash,
            balance: 0,
            min_item_gas: g,
            min_memo_gas: m,
            bytes: 81 + l as u64,
            deposit_offset: f,
            items: 2,
            creation_slot: env.slot,
            last_accumulation_slot: 0,
            parent_service: x.id,
        };
        let at = min_balance(env.params, &a);
        let me = self.self_account();
        if f != 0 && x.id != x.privileges.bless {
            c.set_reg(7, code::HUH);
            return HostResult::Continue;
        }
        let me_t = min_balance(env.params, &me);
        if (me.balance as u128) < at || (me.balance as u128 - at) < me_t {
            c.set_reg(7, code::CASH);
            return HostResult::Continue;
        }
        a.balance = at as u64;
        let mut me = me;
        me.balance -= at as u64;
        let reserved = x.id == x.privileges.register && want < MIN_PUBLIC_INDEX as u64;
        let new_id = if reserved {
            let want = want as u32;
            if x.exists(env, want) {
                c.set_reg(7, code::FULL);
                return HostResult::Continue;
            }
            want
        } else {
            x.next_free_id
        };
        let x = &mut self.x;
        x.accounts.insert(new_id, Some(a));
        x.accounts.insert(x.id, Some(me));
        x.set_item(
            new_id,
            lookup_key(new_id, &code_hash, l),
            Some(encode_slots(&[])),
        );
        if !reserved {
            let next = MIN_PUBLIC_INDEX as u64
                + (x.next_free_id as u64 - MIN_PUBLIC_INDEX as u64 + 42) % ID_SPACE;
            x.next_free_id = x.check(env, next as u32);
        }
        c.set_reg(7, new_id as u64);
        HostResult::Continue
    }

    /// Ω_U.
    fn upgrade(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let Some(h) = hash_at(c, c.reg(7)) else {
            return HostResult::Panic;
        };
        let mut a = self.self_account();
        a.code_hash = h;
        a.min_item_gas = c.reg(8);
        a.min_memo_gas = c.reg(9);
        self.set_self(a);
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    /// Ω_T (gas `10 + l` on success, 10 otherwise).
    fn transfer(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let env = self.env;
        let (d, amount, l, o) = (c.reg(7), c.reg(8), c.reg(9), c.reg(10));
        let memo = mem_read(c, o, env.params.transfer_memo_size as u64);
        let me = self.self_account();
        let dest = u32::try_from(d)
            .ok()
            .and_then(|d| self.x.account(env, d).map(|a| (d, a)));
        let outcome = match (&memo, dest) {
            (None, _) => None,
            (_, None) => Some(Err(code::WHO)),
            (_, Some((_, da))) if l < da.min_memo_gas => Some(Err(code::LOW)),
            (_, Some((d, _))) => {
                let t = min_balance(env.params, &me);
                match me.balance.checked_sub(amount) {
                    Some(b) if b as u128 >= t => Some(Ok((d, b))),
                    _ => Some(Err(code::CASH)),
                }
            }
        };
        let g = match outcome {
            Some(Ok(_)) => HOST_GAS.saturating_add(l),
            _ => HOST_GAS,
        };
        if !c.charge(g) {
            return HostResult::OutOfGas;
        }
        match outcome {
            None => HostResult::Panic,
            Some(Err(e)) => {
                c.set_reg(7, e);
                HostResult::Continue
            }
            Some(Ok((dest, b))) => {
                let mut a = me;
                a.balance = b;
                self.set_self(a);
                let mut m = [0u8; 128];
                let memo = memo.expect("read");
                let n = memo.len().min(128);
                m[..n].copy_from_slice(&memo[..n]);
                self.x.transfers.push(Transfer {
                    source: self.x.id,
                    dest,
                    amount,
                    memo: m,
                    gas: l,
                });
                c.set_reg(7, code::OK);
                HostResult::Continue
            }
        }
    }

    /// Ω_J.
    fn eject(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let env = self.env;
        let (d, o) = (c.reg(7), c.reg(8));
        let Some(h) = hash_at(c, o) else {
            return HostResult::Panic;
        };
        let x = &self.x;
        let target = u32::try_from(d)
            .ok()
            .filter(|d| *d != x.id)
            .and_then(|d| x.account(env, d).map(|a| (d, a)));
        let mut id32 = [0u8; 32];
        id32[..4].copy_from_slice(&x.id.to_le_bytes());
        let Some((d, da)) = target.filter(|(_, a)| a.code_hash.0 == id32) else {
            c.set_reg(7, code::WHO);
            return HostResult::Continue;
        };
        let l = da.bytes.max(81) - 81;
        let slots = u32::try_from(l).ok().and_then(|l| x.slots(env, d, &h, l));
        let expired = match (&slots, da.items) {
            (Some(t), 2) if t.len() == 2 => {
                (t[1] as i64) < env.slot as i64 - env.params.preimage_expunge_period as i64
            }
            _ => false,
        };
        if !expired {
            c.set_reg(7, code::HUH);
            return HostResult::Continue;
        }
        let mut me = self.self_account();
        me.balance = me.balance.saturating_add(da.balance);
        let x = &mut self.x;
        x.accounts.insert(d, None);
        x.set_item(d, lookup_key(d, &h, l as u32), None);
        x.set_item(d, preimage_key(d, &h), None);
        x.accounts.insert(x.id, Some(me));
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    /// Ω_Q.
    fn query(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let Some(h) = hash_at(c, c.reg(7)) else {
            return HostResult::Panic;
        };
        let z = c.reg(8);
        let slots = u32::try_from(z)
            .ok()
            .and_then(|z| self.x.slots(self.env, self.x.id, &h, z));
        let (r7, r8) = match slots.as_deref() {
            None => (code::NONE, 0),
            Some([]) => (0, 0),
            Some([x]) => (1 + ((*x as u64) << 32), 0),
            Some([x, y]) => (2 + ((*x as u64) << 32), *y as u64),
            Some([x, y, z, ..]) => (3 + ((*x as u64) << 32), *y as u64 + ((*z as u64) << 32)),
        };
        c.set_reg(7, r7);
        c.set_reg(8, r8);
        HostResult::Continue
    }

    /// Ω_S.
    fn solicit(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let env = self.env;
        let Some(h) = hash_at(c, c.reg(7)) else {
            return HostResult::Panic;
        };
        let Ok(z) = u32::try_from(c.reg(8)) else {
            // A request length beyond N_L cannot be held (its deposit alone exceeds any balance).
            c.set_reg(7, code::FULL);
            return HostResult::Continue;
        };
        let id = self.x.id;
        let mut a = self.self_account();
        let new_slots = match self.x.slots(env, id, &h, z) {
            None => {
                a.items = a.items.wrapping_add(2);
                a.bytes = a.bytes.wrapping_add(81 + z as u64);
                Vec::new()
            }
            Some(t) if t.len() == 2 => vec![t[0], t[1], env.slot],
            Some(_) => {
                c.set_reg(7, code::HUH);
                return HostResult::Continue;
            }
        };
        if (a.balance as u128) < min_balance(env.params, &a) {
            c.set_reg(7, code::FULL);
            return HostResult::Continue;
        }
        self.set_self(a);
        self.x
            .set_item(id, lookup_key(id, &h, z), Some(encode_slots(&new_slots)));
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    /// Ω_F.
    fn forget(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let env = self.env;
        let Some(h) = hash_at(c, c.reg(7)) else {
            return HostResult::Panic;
        };
        let id = self.x.id;
        let slots = u32::try_from(c.reg(8))
            .ok()
            .and_then(|z| self.x.slots(env, id, &h, z).map(|t| (z, t)));
        let horizon = env.slot as i64 - env.params.preimage_expunge_period as i64;
        let t = env.slot;
        let Some((z, slots)) = slots else {
            c.set_reg(7, code::HUH);
            return HostResult::Continue;
        };
        match slots.as_slice() {
            [] => self.drop_request(id, &h, z),
            [_, y] if (*y as i64) < horizon => self.drop_request(id, &h, z),
            [x] => self
                .x
                .set_item(id, lookup_key(id, &h, z), Some(encode_slots(&[*x, t]))),
            [_, y, w] if (*y as i64) < horizon => {
                self.x
                    .set_item(id, lookup_key(id, &h, z), Some(encode_slots(&[*w, t])))
            }
            _ => {
                c.set_reg(7, code::HUH);
                return HostResult::Continue;
            }
        }
        c.set_reg(7, code::OK);
        HostResult::Continue
    }

    fn drop_request(&mut self, id: ServiceId, h: &OpaqueHash, z: u32) {
        let mut a = self.self_account();
        a.items = a.items.wrapping_sub(2);
        a.bytes = a.bytes.wrapping_sub(81 + z as u64);
        self.set_self(a);
        self.x.set_item(id, lookup_key(id, h, z), None);
        self.x.set_item(id, preimage_key(id, h), None);
    }

    /// Ω_Aries (provide).
    fn provide(&mut self, c: &mut HostContext<'_>) -> HostResult {
        let env = self.env;
        let r7 = c.reg(7);
        let (o, z) = (c.reg(8), c.reg(9));
        let Some(i) = mem_read(c, o, z) else {
            return HostResult::Panic;
        };
        let x = &self.x;
        let s = if r7 == u64::MAX {
            Some(x.id)
        } else {
            u32::try_from(r7).ok()
        };
        let Some(s) = s.filter(|s| x.exists(env, *s)) else {
            c.set_reg(7, code::WHO);
            return HostResult::Continue;
        };
        let h = OpaqueHash(blake2b_256(&i));
        let wanted = u32::try_from(z)
            .ok()
            .and_then(|z| x.slots(env, s, &h, z))
            .is_some_and(|t| t.is_empty());
        if !wanted || x.provisions.contains(&(s, i.clone())) {
            c.set_reg(7, code::HUH);
            return HostResult::Continue;
        }
        self.x.provisions.insert((s, i));
        c.set_reg(7, code::OK);
        HostResult::Continue
    }
}
