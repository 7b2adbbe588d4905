//! The full GP state σ (GP v0.7.2 §4.2) and its serialization `T(σ)` into 31-octet state keys
//! (Appendix D.1–D.2), with the state root `M_σ` (D.5).
//!
//! [`State`] holds every component of σ, typed. Service accounts are split in two:
//! [`State::accounts`] (the account info `C(255, s)` of every service) and
//! [`State::service_data`] (every storage, preimage and lookup item, raw, under its state key
//! `C(s, h)`). A state loaded from key/values cannot recover the original storage keys or tell
//! the three kinds of service data apart, so service data is read and written through the key
//! constructors of [`crate::keys`] (`storage_key`, `preimage_key`, `lookup_key`).
//!
//! [`State::to_key_values`] and [`State::from_key_values`] are exact inverses on every valid
//! serialized state: re-serialising a loaded state gives the same key/values byte for byte.
//!
//! # Serialising only what changed (design note)
//!
//! Block import calls [`State::state_root`] once per block. Its cost is dominated by Blake2b:
//! one leaf hash per key, one hash per value over 32 octets (service code blobs run to hundreds
//! of KiB), and about one branch hash per key. Within a block most keys are unchanged (a few
//! components and a handful of service items move). The incremental path is:
//! 1. the STF marks the components it replaced (a `u32` bitmask over indices 1..=16, plus the sets
//!    of touched account ids and service-data keys — accumulation already writes service data
//!    through `service_data.insert/remove`, so a wrapper that records the keys is enough);
//! 2. a persistent trie (nodes keyed by their bit prefix, holding their hash) re-encodes only the
//!    marked components, recomputes only their leaf hashes and then the branch hashes on the paths
//!    from those leaves to the root — O(changed · depth) hashes instead of O(all keys);
//! 3. the database write batch is exactly the changed key/values.
//!
//! Already here: [`State::changes_since`] gives step 3 without dirty tracking (component-wise
//! `==` against the previous state, encoding only what differs), and [`StateRootCache`] gives
//! most of step 2's gain: it keeps each key's value and leaf hash from the previous root and
//! reuses the leaf hash when the value is byte-identical (a `memcmp` is far cheaper than hashing
//! a large value); only branch hashes are recomputed in full. On the tiny traces (release build,
//! loaded machine) a root costs about 0.5–0.8 ms uncached and 0.1–0.2 ms cached, most of the
//! uncached time being Blake2b over the ~137 KiB service code blob.

use crate::codec::{decode_exact, CodecError, Encode};
use crate::hash::Hash;
use crate::jam_codec;
use crate::keys::{self, component, KeyKind, StateKey};
use crate::merkle;
use crate::params::Params;
use crate::types::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

jam_codec! {
    /// γ: the Safrole state component `C(4)` = `E(γ_k, γ_z, γ_s, ↕γ_a)` (GP 6.3, D.2).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct SafroleGamma {
        /// γ_k: the pending (next epoch's) validator keys.
        pub gamma_k: ValidatorsData,
        /// γ_z: the Bandersnatch ring root of γ_k.
        pub gamma_z: BandersnatchRingCommitment,
        /// γ_s: the current epoch's sealing-key series (tickets or fallback keys).
        pub gamma_s: TicketsOrKeys,
        /// γ_a: the ticket accumulator.
        pub gamma_a: TicketsAccumulator,
    }
}

jam_codec! {
    /// One entry of θ: a service and the output hash of its most recent accumulation.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub struct AccumulationOutput {
        pub service: ServiceId,
        pub hash: OpaqueHash,
    }
}

/// θ: the most recent accumulation outputs, `C(16)` = `E(↕[(E4(s), h)])`.
pub type AccumulationOutputs = Vec<AccumulationOutput>;

/// The full GP v0.7.2 state σ.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// α (`C(1)`): authorizer pools, one per core.
    pub auth_pools: AuthPools,
    /// φ (`C(2)`): authorizer queues, one per core.
    pub auth_queues: AuthQueues,
    /// β (`C(3)`): recent blocks β_H and the accumulation-output MMR belt β_B.
    pub recent_blocks: RecentBlocks,
    /// γ (`C(4)`): Safrole state γ_k, γ_z, γ_s, γ_a.
    pub safrole: SafroleGamma,
    /// ψ (`C(5)`): judgements (good, bad, wonky, offenders).
    pub disputes: DisputesRecords,
    /// η (`C(6)`): entropy accumulator and the three most recent epochs' entropy.
    pub entropy: EntropyBuffer,
    /// ι (`C(7)`): staging validator keys (the next-but-one epoch's).
    pub staging_validators: ValidatorsData,
    /// κ (`C(8)`): active validator keys.
    pub active_validators: ValidatorsData,
    /// λ (`C(9)`): previous epoch's validator keys.
    pub previous_validators: ValidatorsData,
    /// ρ (`C(10)`): reports pending availability, one optional assignment per core.
    pub availability: AvailabilityAssignments,
    /// τ (`C(11)`): the most recent block's slot.
    pub timeslot: TimeSlot,
    /// χ (`C(12)`): privileged services.
    pub privileges: Privileges,
    /// π (`C(13)`): activity statistics.
    pub statistics: Statistics,
    /// ϑ (`C(14)`): reports ready for accumulation, one entry per epoch slot.
    pub ready_queue: ReadyQueue,
    /// ξ (`C(15)`): work packages accumulated, one entry per epoch slot.
    pub accumulated: AccumulatedQueue,
    /// θ (`C(16)`): the most recent accumulation outputs.
    pub accumulation_outputs: AccumulationOutputs,
    /// δ account info (`C(255, s)`), by service id.
    pub accounts: BTreeMap<ServiceId, ServiceInfo>,
    /// δ storage, preimage and lookup items (`C(s, h)`), raw, by state key (see [`crate::keys`]).
    /// Every key's service (`keys::data_key_service`) has an entry in `accounts`.
    #[serde(with = "hex_map")]
    pub service_data: BTreeMap<StateKey, Vec<u8>>,
}

/// JSON form of `service_data`: an object from `0x` hex keys to `0x` hex values.
mod hex_map {
    use super::StateKey;
    use crate::codec::{from_hex, to_hex};
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<StateKey, Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        m.iter()
            .map(|(k, v)| (to_hex(k), to_hex(v)))
            .collect::<BTreeMap<_, _>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<StateKey, Vec<u8>>, D::Error> {
        let m = BTreeMap::<String, String>::deserialize(d)?;
        m.into_iter()
            .map(|(k, v)| {
                let k = from_hex(&k).map_err(D::Error::custom)?;
                let k = StateKey::try_from(k)
                    .map_err(|k| D::Error::custom(format!("state key of {} bytes", k.len())))?;
                Ok((k, from_hex(&v).map_err(D::Error::custom)?))
            })
            .collect()
    }
}

/// Why a set of key/values is not a serialized state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A key `[i, 0, 0, …]` with an index the GP does not define.
    #[error(
        "unknown state key 0x{}: component index {index} is not defined",
        hex::encode(key)
    )]
    UnknownComponent { index: u8, key: StateKey },
    /// The same key given twice.
    #[error("duplicate state key 0x{}", hex::encode(key))]
    DuplicateKey { key: StateKey },
    /// A component key `C(i)` absent.
    #[error("state component {index} ({name}) is missing")]
    MissingComponent { index: u8, name: &'static str },
    /// A component's value does not decode (exactly) as that component.
    #[error("state component {index} ({name}): {source}")]
    Component {
        index: u8,
        name: &'static str,
        source: CodecError,
    },
    /// A service's account info does not decode (exactly).
    #[error(
        "service {service} account info (key 0x{}): {source}",
        hex::encode(key)
    )]
    ServiceInfo {
        service: ServiceId,
        key: StateKey,
        source: CodecError,
    },
    /// A service-data key of a service with no account info.
    #[error(
        "service data key 0x{} belongs to service {service}, which has no account",
        hex::encode(key)
    )]
    OrphanServiceData { service: ServiceId, key: StateKey },
}

/// Decodes component `index` from `value`.
fn decode_component<T: crate::codec::Decode>(
    index: u8,
    value: Option<&[u8]>,
    params: &Params,
) -> Result<T, StateError> {
    let name = component::name(index);
    let value = value.ok_or(StateError::MissingComponent { index, name })?;
    decode_exact(value, params).map_err(|source| StateError::Component {
        index,
        name,
        source,
    })
}

impl State {
    /// A state with every component empty and every fixed-length sequence at its length under
    /// `params` (all-zero keys, no services). Serialises to a valid (if meaningless) state.
    pub fn empty(params: &Params) -> State {
        let cores = params.cores();
        let epoch = params.epoch_len();
        let vals = ValidatorsData::filled(params, ValidatorData::default());
        State {
            auth_pools: vec![Vec::new(); cores].into(),
            auth_queues: vec![AuthQueue::filled(params, OpaqueHash::ZERO); cores].into(),
            recent_blocks: RecentBlocks::default(),
            safrole: SafroleGamma {
                gamma_k: vals.clone(),
                gamma_z: BandersnatchRingCommitment::ZERO,
                gamma_s: TicketsOrKeys::Keys(EpochKeys::filled(params, BandersnatchPublic::ZERO)),
                gamma_a: Vec::new(),
            },
            disputes: DisputesRecords::default(),
            entropy: EntropyBuffer::default(),
            staging_validators: vals.clone(),
            active_validators: vals.clone(),
            previous_validators: vals,
            availability: vec![None; cores].into(),
            timeslot: 0,
            privileges: Privileges {
                assign: vec![0; cores].into(),
                ..Default::default()
            },
            statistics: Statistics {
                vals_curr: ValidatorsStatistics::filled(params, Default::default()),
                vals_last: ValidatorsStatistics::filled(params, Default::default()),
                cores: CoresStatistics::filled(params, Default::default()),
                services: Vec::new(),
            },
            ready_queue: vec![Vec::new(); epoch].into(),
            accumulated: vec![Vec::new(); epoch].into(),
            accumulation_outputs: Vec::new(),
            accounts: BTreeMap::new(),
            service_data: BTreeMap::new(),
        }
    }

    /// `E(component i)`: the serialized value of component `C(i)` (1..=16); `None` for other `i`.
    pub fn encode_component(&self, index: u8) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_component_to(index, &mut out).then_some(out)
    }

    /// Appends `E(component i)` to `out`; false (nothing written) for an undefined index.
    pub fn encode_component_to(&self, index: u8, out: &mut Vec<u8>) -> bool {
        match index {
            component::AUTH_POOLS => self.auth_pools.encode_to(out),
            component::AUTH_QUEUES => self.auth_queues.encode_to(out),
            component::RECENT_BLOCKS => self.recent_blocks.encode_to(out),
            component::SAFROLE => self.safrole.encode_to(out),
            component::DISPUTES => self.disputes.encode_to(out),
            component::ENTROPY => self.entropy.encode_to(out),
            component::STAGING_VALIDATORS => self.staging_validators.encode_to(out),
            component::ACTIVE_VALIDATORS => self.active_validators.encode_to(out),
            component::PREVIOUS_VALIDATORS => self.previous_validators.encode_to(out),
            component::AVAILABILITY => self.availability.encode_to(out),
            component::TIMESLOT => self.timeslot.encode_to(out),
            component::PRIVILEGES => self.privileges.encode_to(out),
            component::STATISTICS => self.statistics.encode_to(out),
            component::READY_QUEUE => self.ready_queue.encode_to(out),
            component::ACCUMULATED => self.accumulated.encode_to(out),
            component::ACCUMULATION_OUTPUTS => self.accumulation_outputs.encode_to(out),
            _ => return false,
        }
        true
    }

    /// Service `s`'s storage item `key` (raw value under `keys::storage_key(s, key)`).
    pub fn storage(&self, s: ServiceId, key: &[u8]) -> Option<&[u8]> {
        self.service_data
            .get(&keys::storage_key(s, key))
            .map(Vec::as_slice)
    }

    /// Service `s`'s preimage with hash `hash` (under `keys::preimage_key(s, hash)`).
    pub fn preimage(&self, s: ServiceId, hash: &OpaqueHash) -> Option<&[u8]> {
        self.service_data
            .get(&keys::preimage_key(s, hash))
            .map(Vec::as_slice)
    }

    /// Service `s`'s request/lookup slots for `(hash, len)` (under `keys::lookup_key`); `None`
    /// if absent or not a valid lookup value.
    pub fn lookup(&self, s: ServiceId, hash: &OpaqueHash, len: u32) -> Option<Vec<u32>> {
        keys::decode_lookup(self.service_data.get(&keys::lookup_key(s, hash, len))?)
    }

    /// Whether component `C(i)` of `self` and `other` are equal (true for undefined `i`).
    pub fn component_eq(&self, other: &State, index: u8) -> bool {
        match index {
            component::AUTH_POOLS => self.auth_pools == other.auth_pools,
            component::AUTH_QUEUES => self.auth_queues == other.auth_queues,
            component::RECENT_BLOCKS => self.recent_blocks == other.recent_blocks,
            component::SAFROLE => self.safrole == other.safrole,
            component::DISPUTES => self.disputes == other.disputes,
            component::ENTROPY => self.entropy == other.entropy,
            component::STAGING_VALIDATORS => self.staging_validators == other.staging_validators,
            component::ACTIVE_VALIDATORS => self.active_validators == other.active_validators,
            component::PREVIOUS_VALIDATORS => self.previous_validators == other.previous_validators,
            component::AVAILABILITY => self.availability == other.availability,
            component::TIMESLOT => self.timeslot == other.timeslot,
            component::PRIVILEGES => self.privileges == other.privileges,
            component::STATISTICS => self.statistics == other.statistics,
            component::READY_QUEUE => self.ready_queue == other.ready_queue,
            component::ACCUMULATED => self.accumulated == other.accumulated,
            component::ACCUMULATION_OUTPUTS => {
                self.accumulation_outputs == other.accumulation_outputs
            }
            _ => true,
        }
    }

    /// The difference `T(self) − T(prev)`: key/values that are new or changed, and keys that
    /// are gone (e.g. for a store's write batch). Only the changed components are encoded.
    pub fn changes_since(&self, prev: &State) -> StateChanges {
        let mut ch = StateChanges::default();
        for (i, _) in component::ALL {
            if !self.component_eq(prev, i) {
                let mut v = Vec::new();
                self.encode_component_to(i, &mut v);
                ch.set.push((keys::component_key(i), v));
            }
        }
        for (s, info) in &self.accounts {
            if prev.accounts.get(s) != Some(info) {
                ch.set.push((keys::service_info_key(*s), info.encode()));
            }
        }
        for s in prev.accounts.keys() {
            if !self.accounts.contains_key(s) {
                ch.removed.push(keys::service_info_key(*s));
            }
        }
        for (k, v) in &self.service_data {
            if prev.service_data.get(k) != Some(v) {
                ch.set.push((*k, v.clone()));
            }
        }
        for k in prev.service_data.keys() {
            if !self.service_data.contains_key(k) {
                ch.removed.push(*k);
            }
        }
        ch
    }

    /// The number of key/values `T(σ)` has.
    pub fn key_count(&self) -> usize {
        component::ALL.len() + self.accounts.len() + self.service_data.len()
    }

    /// `T(σ)` (GP D.2): every key/value of the state, sorted by key (byte order, as in the
    /// trace vectors).
    pub fn to_key_values(&self) -> Vec<(StateKey, Vec<u8>)> {
        let mut kvs = Vec::with_capacity(self.key_count());
        self.for_each_key_value(|k, v| kvs.push((*k, v.into_owned())));
        kvs.sort_unstable_by_key(|a| a.0);
        kvs
    }

    /// Calls `f` on every key/value of `T(σ)` (components, then account info, then service data;
    /// not sorted). Service-data values are borrowed, the rest encoded on the fly.
    pub fn for_each_key_value<'a>(
        &'a self,
        mut f: impl FnMut(&StateKey, std::borrow::Cow<'a, [u8]>),
    ) {
        use std::borrow::Cow;
        for (i, _) in component::ALL {
            let mut v = Vec::new();
            self.encode_component_to(i, &mut v);
            f(&keys::component_key(i), Cow::Owned(v));
        }
        for (s, info) in &self.accounts {
            f(&keys::service_info_key(*s), Cow::Owned(info.encode()));
        }
        for (k, v) in &self.service_data {
            f(k, Cow::Borrowed(v.as_slice()));
        }
    }

    /// Parses a serialized state (the inverse of [`State::to_key_values`]). Every one of the 16
    /// components must be present and decode exactly; keys `[i, 0, …]` with an undefined `i`,
    /// duplicate keys, and service data of services without account info are rejected.
    pub fn from_key_values<V: AsRef<[u8]>>(
        kvs: &[(StateKey, V)],
        params: &Params,
    ) -> Result<State, StateError> {
        let mut comps: [Option<&[u8]>; 17] = [None; 17];
        let mut accounts = BTreeMap::new();
        let mut service_data = BTreeMap::new();
        for (key, value) in kvs {
            let value = value.as_ref();
            match keys::classify(key) {
                KeyKind::Component(index) => {
                    let slot = comps
                        .get_mut(index as usize)
                        .filter(|_| index >= 1)
                        .ok_or(StateError::UnknownComponent { index, key: *key })?;
                    if slot.replace(value).is_some() {
                        return Err(StateError::DuplicateKey { key: *key });
                    }
                }
                KeyKind::ServiceInfo(service) => {
                    let info: ServiceInfo =
                        decode_exact(value, params).map_err(|source| StateError::ServiceInfo {
                            service,
                            key: *key,
                            source,
                        })?;
                    if accounts.insert(service, info).is_some() {
                        return Err(StateError::DuplicateKey { key: *key });
                    }
                }
                KeyKind::ServiceData(_) => {
                    if service_data.insert(*key, value.to_vec()).is_some() {
                        return Err(StateError::DuplicateKey { key: *key });
                    }
                }
            }
        }
        for key in service_data.keys() {
            let service = keys::data_key_service(key);
            if !accounts.contains_key(&service) {
                return Err(StateError::OrphanServiceData { service, key: *key });
            }
        }
        let c = |i: u8| comps[i as usize];
        Ok(State {
            auth_pools: decode_component(component::AUTH_POOLS, c(1), params)?,
            auth_queues: decode_component(component::AUTH_QUEUES, c(2), params)?,
            recent_blocks: decode_component(component::RECENT_BLOCKS, c(3), params)?,
            safrole: decode_component(component::SAFROLE, c(4), params)?,
            disputes: decode_component(component::DISPUTES, c(5), params)?,
            entropy: decode_component(component::ENTROPY, c(6), params)?,
            staging_validators: decode_component(component::STAGING_VALIDATORS, c(7), params)?,
            active_validators: decode_component(component::ACTIVE_VALIDATORS, c(8), params)?,
            previous_validators: decode_component(component::PREVIOUS_VALIDATORS, c(9), params)?,
            availability: decode_component(component::AVAILABILITY, c(10), params)?,
            timeslot: decode_component(component::TIMESLOT, c(11), params)?,
            privileges: decode_component(component::PRIVILEGES, c(12), params)?,
            statistics: decode_component(component::STATISTICS, c(13), params)?,
            ready_queue: decode_component(component::READY_QUEUE, c(14), params)?,
            accumulated: decode_component(component::ACCUMULATED, c(15), params)?,
            accumulation_outputs: decode_component(component::ACCUMULATION_OUTPUTS, c(16), params)?,
            accounts,
            service_data,
        })
    }

    /// The state root `M_σ(σ)` (GP D.5). Service-data values are hashed in place, not copied.
    pub fn state_root(&self) -> Hash {
        let mut kvs: Vec<(StateKey, std::borrow::Cow<'_, [u8]>)> =
            Vec::with_capacity(self.key_count());
        self.for_each_key_value(|k, v| kvs.push((*k, v)));
        kvs.sort_unstable_by(|a, b| merkle::trie_key_cmp(&a.0, &b.0));
        merkle::state_root_sorted(&kvs).expect("state keys are distinct")
    }

    /// Like [`State::state_root`], reusing the leaf hashes of unchanged values from the previous
    /// call with the same `cache` (see the module's design note).
    pub fn state_root_cached(&self, cache: &mut StateRootCache) -> Hash {
        let mut leaves: Vec<(StateKey, Hash)> = Vec::with_capacity(self.key_count());
        let entries = &mut cache.entries;
        self.for_each_key_value(|k, v| {
            let leaf = match entries.get_mut(k) {
                Some((prev, h)) if prev.as_slice() == v.as_ref() => *h,
                Some((prev, h)) => {
                    *h = merkle::leaf_hash(k, &v);
                    *prev = v.into_owned();
                    *h
                }
                None => {
                    let h = merkle::leaf_hash(k, &v);
                    entries.insert(*k, (v.into_owned(), h));
                    h
                }
            };
            leaves.push((*k, leaf));
        });
        if entries.len() != leaves.len() {
            let live: std::collections::BTreeSet<StateKey> =
                leaves.iter().map(|(k, _)| *k).collect();
            entries.retain(|k, _| live.contains(k));
        }
        leaves.sort_unstable_by(|a, b| merkle::trie_key_cmp(&a.0, &b.0));
        root_of_leaves(&leaves, 0)
    }
}

/// What [`State::changes_since`] found: the new or changed key/values and the removed keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    pub set: Vec<(StateKey, Vec<u8>)>,
    pub removed: Vec<StateKey>,
}

/// Leaf hashes (and the values they hash) of the last state root computed with it; see
/// [`State::state_root_cached`].
#[derive(Clone, Debug, Default)]
pub struct StateRootCache {
    entries: BTreeMap<StateKey, (Vec<u8>, Hash)>,
}

/// `M` over precomputed leaf hashes sorted in trie order (same shape as `merkle::state_root`,
/// with the GP layout `merkle::Gp`).
fn root_of_leaves(leaves: &[(StateKey, Hash)], depth: usize) -> Hash {
    use merkle::TrieLayout;
    match leaves {
        [] => crate::hash::ZERO_HASH,
        [(_, h)] => *h,
        _ => {
            let split = leaves.partition_point(|(k, _)| !merkle::Gp::bit(k, depth));
            let (l, r) = leaves.split_at(split);
            merkle::branch_hash(&root_of_leaves(l, depth + 1), &root_of_leaves(r, depth + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_state_round_trip() {
        let p = Params::tiny();
        let mut s = State::empty(&p);
        s.timeslot = 7;
        s.accounts.insert(3, ServiceInfo::default());
        s.service_data
            .insert(keys::storage_key(3, b"k"), b"value".to_vec());
        s.service_data
            .insert(keys::preimage_key(3, &OpaqueHash([1; 32])), vec![9; 100]);
        let kvs = s.to_key_values();
        assert_eq!(kvs.len(), 16 + 1 + 2);
        assert!(kvs.windows(2).all(|w| w[0].0 < w[1].0));
        let back = State::from_key_values(&kvs, &p).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.to_key_values(), kvs);
        assert_eq!(s.state_root(), merkle::state_root(&kvs));
        assert_eq!(s.storage(3, b"k"), Some(&b"value"[..]));
        assert_eq!(
            s.preimage(3, &OpaqueHash([1; 32])).map(<[u8]>::len),
            Some(100)
        );
        assert_eq!(s.lookup(3, &OpaqueHash([1; 32]), 100), None);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<State>(&json).unwrap(), s);
        let mut cache = StateRootCache::default();
        assert_eq!(s.state_root_cached(&mut cache), s.state_root());
        s.timeslot = 8;
        assert_eq!(s.state_root_cached(&mut cache), s.state_root());
    }

    /// The cached root agrees with `merkle::state_root` on many keys sharing prefixes.
    #[test]
    fn cached_root_matches_merkle() {
        let p = Params::tiny();
        let mut s = State::empty(&p);
        for svc in 0..4u32 {
            s.accounts.insert(svc, ServiceInfo::default());
            for i in 0..50u32 {
                let len = (i as usize * 7) % 70;
                s.service_data
                    .insert(keys::storage_key(svc, &i.to_le_bytes()), vec![i as u8; len]);
            }
        }
        let mut cache = StateRootCache::default();
        let expected = merkle::state_root(&s.to_key_values());
        assert_eq!(s.state_root(), expected);
        assert_eq!(s.state_root_cached(&mut cache), expected);
        s.service_data
            .insert(keys::storage_key(2, b"new"), vec![1, 2, 3]);
        s.timeslot += 1;
        let expected = merkle::state_root(&s.to_key_values());
        assert_eq!(s.state_root_cached(&mut cache), expected);
        assert_eq!(s.state_root(), expected);
        s.service_data
            .remove(&keys::storage_key(1, &7u32.to_le_bytes()));
        s.accounts.remove(&3);
        s.service_data.retain(|k, _| keys::data_key_service(k) != 3);
        let expected = merkle::state_root(&s.to_key_values());
        assert_eq!(s.state_root_cached(&mut cache), expected);
        assert_eq!(cache.entries.len(), s.key_count());
    }

    #[test]
    fn changes_since_gives_the_difference() {
        let p = Params::tiny();
        let mut a = State::empty(&p);
        a.accounts.insert(1, ServiceInfo::default());
        a.accounts.insert(2, ServiceInfo::default());
        a.service_data.insert(keys::storage_key(1, b"x"), vec![1]);
        a.service_data.insert(keys::storage_key(2, b"y"), vec![2]);
        let mut b = a.clone();
        assert_eq!(b.changes_since(&a), StateChanges::default());
        b.timeslot = 9;
        b.accounts.remove(&2);
        b.service_data.remove(&keys::storage_key(2, b"y"));
        b.service_data.insert(keys::storage_key(1, b"x"), vec![3]);
        let ch = b.changes_since(&a);
        // Applying the changes to T(a) gives T(b).
        let mut kvs: BTreeMap<StateKey, Vec<u8>> = a.to_key_values().into_iter().collect();
        for k in &ch.removed {
            assert!(kvs.remove(k).is_some());
        }
        kvs.extend(ch.set.iter().cloned());
        assert_eq!(kvs.into_iter().collect::<Vec<_>>(), b.to_key_values());
        assert_eq!(ch.set.len(), 2);
        assert_eq!(ch.removed.len(), 2);
    }

    /// Mutated values and keys give errors or states, never panics; a state that parses
    /// re-serialises to exactly its input.
    #[test]
    fn mutated_key_values_never_panic() {
        let p = Params::tiny();
        let mut s = State::empty(&p);
        s.accounts.insert(1, ServiceInfo::default());
        s.service_data
            .insert(keys::storage_key(1, b"k"), vec![5; 40]);
        s.recent_blocks.history.push(BlockInfo::default());
        let base = s.to_key_values();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let mut kvs = base.clone();
            let i = rnd() as usize % kvs.len();
            let (k, v) = &mut kvs[i];
            match rnd() % 5 {
                0 => v.truncate(rnd() as usize % (v.len() + 1)),
                1 if !v.is_empty() => {
                    let j = rnd() as usize % v.len();
                    v[j] ^= 1 << (rnd() % 8);
                }
                2 => v.extend((0..rnd() % 9).map(|_| rnd() as u8)),
                3 => k[rnd() as usize % 31] ^= 1 << (rnd() % 8),
                _ if !v.is_empty() => v[0] = rnd() as u8,
                _ => {}
            }
            if let Ok(st) = State::from_key_values(&kvs, &p) {
                let mut sorted = kvs.clone();
                sorted.sort_unstable_by_key(|a| a.0);
                assert_eq!(st.to_key_values(), sorted);
            }
        }
    }

    #[test]
    fn rejects_bad_key_values() {
        let p = Params::tiny();
        let s = State::empty(&p);
        let kvs = s.to_key_values();

        let mut missing = kvs.clone();
        missing.retain(|(k, _)| k[0] != 11);
        assert_eq!(
            State::from_key_values(&missing, &p),
            Err(StateError::MissingComponent {
                index: 11,
                name: component::name(11)
            })
        );

        let mut unknown = kvs.clone();
        unknown.push((keys::component_key(17), vec![]));
        assert!(matches!(
            State::from_key_values(&unknown, &p),
            Err(StateError::UnknownComponent { index: 17, .. })
        ));
        let mut zero = kvs.clone();
        zero.push((keys::component_key(0), vec![]));
        assert!(matches!(
            State::from_key_values(&zero, &p),
            Err(StateError::UnknownComponent { index: 0, .. })
        ));

        let mut dup = kvs.clone();
        dup.push(dup[0].clone());
        assert!(matches!(
            State::from_key_values(&dup, &p),
            Err(StateError::DuplicateKey { .. })
        ));

        let mut bad = kvs.clone();
        bad.iter_mut().find(|(k, _)| k[0] == 11).unwrap().1.push(0);
        let e = State::from_key_values(&bad, &p).unwrap_err();
        assert!(matches!(e, StateError::Component { index: 11, .. }));
        assert!(e.to_string().contains("tau"), "{e}");

        let mut orphan = kvs.clone();
        orphan.push((keys::storage_key(5, b"x"), vec![1]));
        assert!(matches!(
            State::from_key_values(&orphan, &p),
            Err(StateError::OrphanServiceData { service: 5, .. })
        ));

        let mut info = kvs;
        info.push((keys::service_info_key(5), vec![0; 3]));
        assert!(matches!(
            State::from_key_values(&info, &p),
            Err(StateError::ServiceInfo { service: 5, .. })
        ));
    }
}
