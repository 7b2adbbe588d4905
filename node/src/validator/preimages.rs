//! Preimage distribution (JIP-2 `submitPreimage`, JAMNP-S CE 142/143) into blocks' E_P
//! (GP v0.7.2 §12.4).
//!
//! A preimage submitted over the RPC ([`submit`]) goes into the node's bounded [`Pool`] and is
//! announced (CE 142: `Service ID ++ Hash ++ Length`) to every validator we are connected to.
//! A validator receiving an announcement ([`on_announcement`]) requests the preimage with CE
//! 143 (by hash) from the announcer if the best state still requests it (GP 12.37: a lookup
//! entry `(h, l)` with no slots, `h` not yet provided) and it is not pooled yet, checks hash
//! and length, and pools it; announcements are not forwarded (validators propagate preimages
//! by including them in blocks). CE 143 is answered from the pool ([`serve`]).
//!
//! A block author puts into E_P the pooled preimages its parent state still requests
//! ([`for_block`]), sorted by (service, blob) without duplicates and validated with the
//! STF's own [`jam_consensus::preimages::check`]. After each imported block, pool entries the
//! best state no longer requests (provided, or the request gone) are dropped ([`on_imported`]).

use super::{lock, short, short_key, Shared};
use jam_consensus::preimages::{check, is_needed, PreimageState};
use jam_network::work_messages::PreimageAnnouncement;
use jam_network::Connection;
use jam_state::codec::Bytes;
use jam_state::hash::blake2b_256;
use jam_state::state::State;
use jam_state::types::{OpaqueHash, Preimage, ServiceId, TimeSlot};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The largest preimage we pool (octets): the GP's maximum service code size W_C, rounded up.
pub(super) const MAX_PREIMAGE_LEN: usize = 4 << 20;
/// The most octets of preimages the pool holds.
pub(super) const MAX_POOL_BYTES: usize = 64 << 20;
/// The most distinct preimages the pool holds.
pub(super) const MAX_POOL_COUNT: usize = 512;
/// The most octets of preimage blobs an authored block carries in E_P.
pub(super) const MAX_BLOCK_BYTES: usize = 4 << 20;
/// How long a CE 142 announcement or CE 143 request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a preimage was not pooled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum PoolError {
    #[error("preimage of {len} octets exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("pool full ({count} preimages, {bytes} octets)")]
    Full { count: usize, bytes: usize },
    #[error("the preimage hashes to {got}, {expected} was announced")]
    HashMismatch {
        expected: OpaqueHash,
        got: OpaqueHash,
    },
    #[error("the preimage has {got} octets, {expected} were announced")]
    LengthMismatch { expected: u32, got: usize },
}

/// One pooled blob and the services it is for.
struct Entry {
    blob: Arc<Vec<u8>>,
    services: BTreeSet<ServiceId>,
}

/// A bounded pool of preimages by hash (each blob held once, whatever the number of services
/// it is for), and the hashes being fetched (CE 143).
pub(super) struct Pool {
    entries: HashMap<OpaqueHash, Entry>,
    bytes: usize,
    max_count: usize,
    max_bytes: usize,
    fetching: HashSet<OpaqueHash>,
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new(MAX_POOL_COUNT, MAX_POOL_BYTES)
    }
}

impl Pool {
    pub(super) fn new(max_count: usize, max_bytes: usize) -> Self {
        Pool {
            entries: HashMap::new(),
            bytes: 0,
            max_count,
            max_bytes,
            fetching: HashSet::new(),
        }
    }

    /// Distinct blobs pooled.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Octets pooled.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `hash` is pooled for `service`.
    pub(super) fn contains(&self, service: ServiceId, hash: &OpaqueHash) -> bool {
        self.entries
            .get(hash)
            .is_some_and(|e| e.services.contains(&service))
    }

    /// The blob hashing to `hash`, if pooled.
    pub(super) fn get(&self, hash: &OpaqueHash) -> Option<Arc<Vec<u8>>> {
        self.entries.get(hash).map(|e| e.blob.clone())
    }

    /// Pools `blob` for `service`: its hash, and whether it is new for that service.
    pub(super) fn insert(
        &mut self,
        service: ServiceId,
        blob: Vec<u8>,
    ) -> Result<(OpaqueHash, bool), PoolError> {
        if blob.len() > MAX_PREIMAGE_LEN {
            return Err(PoolError::TooLarge {
                len: blob.len(),
                max: MAX_PREIMAGE_LEN,
            });
        }
        let hash = OpaqueHash(blake2b_256(&blob));
        if let Some(e) = self.entries.get_mut(&hash) {
            return Ok((hash, e.services.insert(service)));
        }
        if self.entries.len() >= self.max_count || self.bytes + blob.len() > self.max_bytes {
            return Err(PoolError::Full {
                count: self.entries.len(),
                bytes: self.bytes,
            });
        }
        self.bytes += blob.len();
        self.entries.insert(
            hash,
            Entry {
                blob: Arc::new(blob),
                services: BTreeSet::from([service]),
            },
        );
        Ok((hash, true))
    }

    /// Pools a blob fetched for announcement `a` (CE 143), checking its hash and length.
    pub(super) fn insert_fetched(
        &mut self,
        a: &PreimageAnnouncement,
        blob: Vec<u8>,
    ) -> Result<bool, PoolError> {
        if blob.len() != a.length as usize {
            return Err(PoolError::LengthMismatch {
                expected: a.length,
                got: blob.len(),
            });
        }
        let got = OpaqueHash(blake2b_256(&blob));
        if got != a.hash {
            return Err(PoolError::HashMismatch {
                expected: a.hash,
                got,
            });
        }
        self.insert(a.service, blob).map(|(_, new)| new)
    }

    /// Marks `hash` as being fetched; `false` if it already is.
    fn start_fetch(&mut self, hash: OpaqueHash) -> bool {
        self.fetching.insert(hash)
    }

    fn end_fetch(&mut self, hash: &OpaqueHash) {
        self.fetching.remove(hash);
    }

    /// E_P for a block on `state`: every pooled (service, blob) that `state` requests and
    /// lacks (GP 12.37), sorted by (service, blob) without duplicates (GP 12.36), at most
    /// `max_bytes` octets of blobs (skipping those that no longer fit), and validated with the
    /// STF's [`check`]; empty if that fails.
    pub(super) fn select(&self, state: &impl PreimageState, max_bytes: usize) -> Vec<Preimage> {
        let mut items: Vec<Preimage> = self
            .entries
            .iter()
            .flat_map(|(hash, e)| {
                let len = e.blob.len() as u32;
                e.services
                    .iter()
                    .filter(move |&&s| is_needed(state, s, hash, len))
                    .map(|&s| Preimage {
                        requester: s,
                        blob: Bytes(e.blob.to_vec()),
                    })
            })
            .collect();
        items.sort();
        items.dedup();
        let mut total = 0usize;
        items.retain(|p| {
            let fits = total + p.blob.0.len() <= max_bytes;
            if fits {
                total += p.blob.0.len();
            }
            fits
        });
        match check(state, &items) {
            Ok(_) => items,
            Err(_) => Vec::new(),
        }
    }

    /// Drops every (service, blob) that `state` no longer requests (provided, or the request
    /// gone), and blobs left for no service. Returns how many blobs were dropped.
    pub(super) fn prune(&mut self, state: &impl PreimageState) -> usize {
        let before = self.entries.len();
        self.entries.retain(|hash, e| {
            let len = e.blob.len() as u32;
            e.services.retain(|&s| is_needed(state, s, hash, len));
            !e.services.is_empty()
        });
        self.bytes = self.entries.values().map(|e| e.blob.len()).sum();
        before - self.entries.len()
    }

    /// Drops `items` (e.g. an E_P the chain refused).
    pub(super) fn remove(&mut self, items: &[Preimage]) {
        for p in items {
            let hash = OpaqueHash(blake2b_256(&p.blob.0));
            if let Some(e) = self.entries.get_mut(&hash) {
                e.services.remove(&p.requester);
                if e.services.is_empty() {
                    self.bytes -= e.blob.len();
                    self.entries.remove(&hash);
                }
            }
        }
    }
}

/// The preimage view of a full state δ for the STF's checks (read-only: `provide` does
/// nothing).
pub(super) struct StateView<'a>(pub &'a State);

impl PreimageState for StateView<'_> {
    fn has_preimage(&self, service: ServiceId, hash: &OpaqueHash) -> bool {
        self.0.accounts.contains_key(&service) && self.0.preimage(service, hash).is_some()
    }

    fn lookup(&self, service: ServiceId, hash: &OpaqueHash, length: u32) -> Option<Vec<TimeSlot>> {
        if !self.0.accounts.contains_key(&service) {
            return None;
        }
        self.0.lookup(service, hash, length)
    }

    fn provide(&mut self, _: ServiceId, _: OpaqueHash, _: &[u8], _: TimeSlot) {}
}

/// The best block's posterior state, if in memory.
fn best_state(sh: &Shared) -> Option<Arc<State>> {
    lock(&sh.chain).best_entry().state.clone()
}

/// A preimage submitted over the RPC (`submitPreimage`): into the pool if the best state
/// still requests it, and announced (CE 142) to every validator we are connected to.
pub(super) async fn submit(sh: &Arc<Shared>, service: ServiceId, preimage: Vec<u8>) {
    let hash = OpaqueHash(blake2b_256(&preimage));
    let length = preimage.len() as u32;
    if let Some(st) = best_state(sh) {
        if !is_needed(&StateView(&st), service, &hash, length) {
            return sh.log(format_args!(
                "preimage {} for service {service}: not requested in the best state, dropped",
                short(&hash)
            ));
        }
    }
    if let Err(e) = lock(&sh.preimages).insert(service, preimage) {
        return sh.log(format_args!(
            "preimage {} for service {service} not pooled: {e}",
            short(&hash)
        ));
    }
    let a = PreimageAnnouncement {
        service,
        hash,
        length,
    };
    let conns: Vec<Connection> = {
        let sets = lock(&sh.sets);
        lock(&sh.peers)
            .iter()
            .filter(|(k, _)| sets.contains(k))
            .map(|(_, p)| p.conn.clone())
            .collect()
    };
    sh.log(format_args!(
        "preimage {} for service {service} ({length} octets) pooled, announced to {} validators (CE 142)",
        short(&hash),
        conns.len()
    ));
    for conn in conns {
        let sh = sh.clone();
        tokio::spawn(async move {
            let r = tokio::time::timeout(REQUEST_TIMEOUT, conn.announce_preimage(&a)).await;
            let e = match r {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_string(),
            };
            sh.log(format_args!(
                "preimage announcement to {} (CE 142): {e}",
                short_key(&conn.peer_key)
            ));
        });
    }
}

/// JAMNP-S CE 142 from `peer`: fetch the preimage (CE 143) if the best state requests it and
/// it is not pooled (nor being fetched). `false` refuses the announcement.
pub(super) fn on_announcement(
    sh: &Arc<Shared>,
    peer: &Connection,
    a: PreimageAnnouncement,
) -> bool {
    if a.length as usize > MAX_PREIMAGE_LEN {
        return false;
    }
    if lock(&sh.preimages).contains(a.service, &a.hash) {
        return true;
    }
    if let Some(st) = best_state(sh) {
        if !is_needed(&StateView(&st), a.service, &a.hash, a.length) {
            return true;
        }
    }
    if !lock(&sh.preimages).start_fetch(a.hash) {
        return true;
    }
    let (sh, conn) = (sh.clone(), peer.clone());
    tokio::spawn(async move {
        let got = match tokio::time::timeout(REQUEST_TIMEOUT, conn.request_preimage(&a.hash)).await
        {
            Ok(Ok(blob)) => lock(&sh.preimages)
                .insert_fetched(&a, blob)
                .map_err(|e| e.to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".to_string()),
        };
        lock(&sh.preimages).end_fetch(&a.hash);
        match got {
            Ok(true) => sh.log(format_args!(
                "preimage {} for service {} ({} octets) from {} pooled (CE 143)",
                short(&a.hash),
                a.service,
                a.length,
                short_key(&conn.peer_key)
            )),
            Ok(false) => {}
            Err(e) => sh.log(format_args!(
                "preimage {} from {} (CE 143): {e}",
                short(&a.hash),
                short_key(&conn.peer_key)
            )),
        }
    });
    true
}

/// JAMNP-S CE 143: the pooled preimage hashing to `hash`.
pub(super) fn serve(sh: &Shared, hash: &OpaqueHash) -> Option<Vec<u8>> {
    lock(&sh.preimages).get(hash).map(|b| b.to_vec())
}

/// E_P for a block on `state` (its parent's posterior state), see [`Pool::select`].
pub(super) fn for_block(sh: &Shared, state: &State) -> Vec<Preimage> {
    lock(&sh.preimages).select(&StateView(state), MAX_BLOCK_BYTES)
}

/// After an imported block: drop the pool entries the best state no longer requests.
pub(super) fn on_imported(sh: &Shared) {
    let Some(st) = best_state(sh) else { return };
    let dropped = lock(&sh.preimages).prune(&StateView(&st));
    if dropped > 0 {
        sh.log(format_args!(
            "{dropped} preimage(s) left the pool (provided or no longer requested)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::keys::{encode_lookup, lookup_key, preimage_key};
    use jam_state::params::Params;
    use jam_state::types::ServiceInfo;

    /// A state where service `s` requests each of `blobs` (lookup entry, no slots).
    fn requesting(s: ServiceId, blobs: &[&[u8]]) -> State {
        let mut st = State::empty(&Params::tiny());
        st.accounts.insert(s, ServiceInfo::default());
        for b in blobs {
            let h = OpaqueHash(blake2b_256(b));
            st.service_data
                .insert(lookup_key(s, &h, b.len() as u32), encode_lookup(&[]));
        }
        st
    }

    #[test]
    fn bounds_by_size_count_and_bytes() {
        let mut p = Pool::new(2, 10);
        assert!(matches!(
            p.insert(0, vec![0; MAX_PREIMAGE_LEN + 1]),
            Err(PoolError::TooLarge { .. })
        ));
        assert!(p.insert(0, vec![1; 6]).unwrap().1);
        assert!(matches!(
            p.insert(0, vec![2; 5]),
            Err(PoolError::Full { count: 1, bytes: 6 })
        ));
        assert!(p.insert(0, vec![3; 4]).unwrap().1);
        assert!(matches!(
            p.insert(0, vec![4; 0]),
            Err(PoolError::Full { .. })
        ));
        assert_eq!((p.len(), p.bytes()), (2, 10));
    }

    #[test]
    fn dedupes_by_hash_across_services() {
        let mut p = Pool::new(4, 100);
        let (h, new) = p.insert(1, b"blob".to_vec()).unwrap();
        assert!(new);
        assert!(!p.insert(1, b"blob".to_vec()).unwrap().1);
        assert!(p.insert(2, b"blob".to_vec()).unwrap().1);
        assert_eq!((p.len(), p.bytes()), (1, 4));
        assert!(p.contains(1, &h) && p.contains(2, &h) && !p.contains(3, &h));
        assert_eq!(p.get(&h).as_deref(), Some(&b"blob".to_vec()));
    }

    #[test]
    fn fetched_preimages_are_checked() {
        let mut p = Pool::default();
        let a = PreimageAnnouncement {
            service: 0,
            hash: OpaqueHash(blake2b_256(b"abc")),
            length: 3,
        };
        assert!(matches!(
            p.insert_fetched(&a, b"abcd".to_vec()),
            Err(PoolError::LengthMismatch { .. })
        ));
        assert!(matches!(
            p.insert_fetched(&a, b"abd".to_vec()),
            Err(PoolError::HashMismatch { .. })
        ));
        assert_eq!(p.insert_fetched(&a, b"abc".to_vec()), Ok(true));
        assert!(p.contains(0, &a.hash));
    }

    #[test]
    fn selects_requested_sorted_and_prunes_provided() {
        let (a, b, c): (&[u8], &[u8], &[u8]) = (b"zz", b"aa", b"not requested");
        let mut st = requesting(7, &[a, b]);
        st.accounts.insert(3, ServiceInfo::default());
        let hb = OpaqueHash(blake2b_256(b));
        st.service_data
            .insert(lookup_key(3, &hb, 2), encode_lookup(&[]));
        let mut p = Pool::default();
        for (s, blob) in [(7, a), (7, b), (7, c), (3, b), (9, a)] {
            p.insert(s, blob.to_vec()).unwrap();
        }
        let view = StateView(&st);
        let ep = p.select(&view, usize::MAX);
        let got: Vec<(ServiceId, &[u8])> =
            ep.iter().map(|p| (p.requester, &p.blob.0[..])).collect();
        assert_eq!(got, vec![(3, b), (7, b), (7, a)]);
        assert!(check(&view, &ep).is_ok());
        // The byte budget skips what no longer fits.
        assert_eq!(p.select(&view, 5).len(), 2);
        // Service 7 got `b` (the lookup entry now has a slot): dropped for 7, kept for 3;
        // `c` and service 9's request never existed.
        let hb7 = lookup_key(7, &hb, 2);
        st.service_data.insert(hb7, encode_lookup(&[5]));
        st.service_data.insert(preimage_key(7, &hb), b.to_vec());
        assert_eq!(p.prune(&StateView(&st)), 1);
        assert_eq!(p.len(), 2);
        let got: Vec<(ServiceId, Vec<u8>)> = p
            .select(&StateView(&st), usize::MAX)
            .into_iter()
            .map(|p| (p.requester, p.blob.0))
            .collect();
        assert_eq!(got, vec![(3, b.to_vec()), (7, a.to_vec())]);
        assert!(!p.contains(9, &OpaqueHash(blake2b_256(a))));
        assert_eq!(p.bytes(), 4);
        p.remove(&[Preimage {
            requester: 3,
            blob: Bytes(b.to_vec()),
        }]);
        assert_eq!((p.len(), p.bytes()), (1, 2));
    }
}
