//! Preimage integration (GP v0.7.2 §12.4): the preimage extrinsic E_P, its effect on the
//! services' preimage blobs a_p and lookup metadata a_l, and its service statistics (§13.4).
//!
//! E_P must be sorted by (requester, blob) without duplicates (GP 12.36) and every item must
//! be solicited and not yet provided in the prior δ: `h ∉ a_p` and `a_l[(h, |p|)] = []`
//! (GP 12.37). Each item then sets `a_p[h] = p` and `a_l[(h, |p|)] = [τ']` (GP 12.38) on the
//! post-accumulation δ‡, where it is still solicited there.
//!
//! The service accounts are reached through [`PreimageState`], so the same logic serves the
//! node's full state and the vectors' partial one. A block's import calls [`check`] on δ, then
//! [`integrate`] on δ‡ and [`add_service_stats`]; [`transition`] does all three on one state.

use jam_state::hash::blake2b_256;
use jam_state::types::{
    OpaqueHash, Preimage, ServiceActivityRecord, ServiceId, ServicesStatistics,
    ServicesStatisticsMapEntry, TimeSlot,
};

/// Why a preimage extrinsic is invalid (codes of the preimages vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PreimagesError {
    /// An item was not solicited by its service, or was already provided.
    #[error("preimage not solicited or already provided")]
    PreimageUnneeded,
    /// The items are not sorted by (requester, blob) or hold a duplicate.
    #[error("preimages not sorted or not unique")]
    PreimagesNotSortedUnique,
}

impl PreimagesError {
    /// The vector error code (`ErrorCode` of `preimages.asn`).
    pub fn code(self) -> u8 {
        match self {
            PreimagesError::PreimageUnneeded => 0,
            PreimagesError::PreimagesNotSortedUnique => 1,
        }
    }

    /// The vector error name (JSON form).
    pub fn name(self) -> &'static str {
        match self {
            PreimagesError::PreimageUnneeded => "preimage_unneeded",
            PreimagesError::PreimagesNotSortedUnique => "preimages_not_sorted_unique",
        }
    }
}

/// Access to the preimage parts of the service accounts δ.
pub trait PreimageState {
    /// Whether service `service` exists and holds the blob hashing to `hash` (`hash ∈ K(a_p)`).
    fn has_preimage(&self, service: ServiceId, hash: &OpaqueHash) -> bool;

    /// `a_l[(hash, length)]` of service `service`: `None` when the service or the entry is absent.
    fn lookup(&self, service: ServiceId, hash: &OpaqueHash, length: u32) -> Option<Vec<TimeSlot>>;

    /// Sets `a_p[hash] = blob` and `a_l[(hash, |blob|)] = [slot]` for service `service`.
    fn provide(&mut self, service: ServiceId, hash: OpaqueHash, blob: &[u8], slot: TimeSlot);
}

/// `Y(δ, s, h, l)` (GP 12.37): the blob is solicited by `service` and not yet provided.
pub fn is_needed(
    state: &impl PreimageState,
    service: ServiceId,
    hash: &OpaqueHash,
    length: u32,
) -> bool {
    !state.has_preimage(service, hash)
        && state
            .lookup(service, hash, length)
            .is_some_and(|slots| slots.is_empty())
}

/// The blob length as it keys a_l (blobs are bounded far below 2^32 octets by the block size).
fn blob_len(blob: &[u8]) -> u32 {
    u32::try_from(blob.len()).unwrap_or(u32::MAX)
}

/// Validates E_P against the prior state (GP 12.36–12.37) and returns the blob hashes, in order.
pub fn check(
    state: &impl PreimageState,
    extrinsic: &[Preimage],
) -> Result<Vec<OpaqueHash>, PreimagesError> {
    if extrinsic.windows(2).any(|w| w[0] >= w[1]) {
        return Err(PreimagesError::PreimagesNotSortedUnique);
    }
    extrinsic
        .iter()
        .map(|p| {
            let hash = OpaqueHash(blake2b_256(&p.blob));
            if is_needed(state, p.requester, &hash, blob_len(&p.blob)) {
                Ok(hash)
            } else {
                Err(PreimagesError::PreimageUnneeded)
            }
        })
        .collect()
}

/// Integrates a checked E_P into `state` (δ‡ ↦ δ', GP 12.38): every item still solicited there
/// gets its blob and the lookup entry `[slot]`. `hashes` are those [`check`] returned.
pub fn integrate(
    state: &mut impl PreimageState,
    extrinsic: &[Preimage],
    hashes: &[OpaqueHash],
    slot: TimeSlot,
) {
    for (p, hash) in extrinsic.iter().zip(hashes) {
        if is_needed(state, p.requester, hash, blob_len(&p.blob)) {
            state.provide(p.requester, *hash, &p.blob, slot);
        }
    }
}

/// Adds the preimage counters of π_S (GP 13.4, `p`: count and total size of the blobs provided
/// for each service) to `stats`, creating entries as needed and keeping them sorted by id.
pub fn add_service_stats(stats: &mut ServicesStatistics, extrinsic: &[Preimage]) {
    for p in extrinsic {
        let record = service_record(stats, p.requester);
        record.provided_count = record.provided_count.saturating_add(1);
        record.provided_size = record.provided_size.saturating_add(blob_len(&p.blob));
    }
}

/// The π_S record of `service`, inserted (zeroed, in id order) when absent.
pub fn service_record(
    stats: &mut ServicesStatistics,
    service: ServiceId,
) -> &mut ServiceActivityRecord {
    let i = match stats.binary_search_by_key(&service, |e| e.id) {
        Ok(i) => i,
        Err(i) => {
            stats.insert(
                i,
                ServicesStatisticsMapEntry {
                    id: service,
                    record: ServiceActivityRecord::default(),
                },
            );
            i
        }
    };
    &mut stats[i].record
}

/// The whole preimage transition on one state (δ taken as δ‡): checks E_P, then returns the
/// posterior accounts and service statistics. On error nothing changes.
pub fn transition<S: PreimageState + Clone>(
    accounts: &S,
    stats: &ServicesStatistics,
    extrinsic: &[Preimage],
    slot: TimeSlot,
) -> Result<(S, ServicesStatistics), PreimagesError> {
    let hashes = check(accounts, extrinsic)?;
    let mut accounts = accounts.clone();
    integrate(&mut accounts, extrinsic, &hashes, slot);
    let mut stats = stats.clone();
    add_service_stats(&mut stats, extrinsic);
    Ok((accounts, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Clone, Default)]
    struct Mem {
        blobs: BTreeMap<(ServiceId, OpaqueHash), Vec<u8>>,
        lookups: BTreeMap<(ServiceId, OpaqueHash, u32), Vec<TimeSlot>>,
    }

    impl PreimageState for Mem {
        fn has_preimage(&self, s: ServiceId, h: &OpaqueHash) -> bool {
            self.blobs.contains_key(&(s, *h))
        }
        fn lookup(&self, s: ServiceId, h: &OpaqueHash, l: u32) -> Option<Vec<TimeSlot>> {
            self.lookups.get(&(s, *h, l)).cloned()
        }
        fn provide(&mut self, s: ServiceId, h: OpaqueHash, blob: &[u8], slot: TimeSlot) {
            self.blobs.insert((s, h), blob.to_vec());
            self.lookups.insert((s, h, blob.len() as u32), vec![slot]);
        }
    }

    fn item(s: ServiceId, blob: &[u8]) -> Preimage {
        Preimage {
            requester: s,
            blob: blob.to_vec().into(),
        }
    }

    fn solicit(m: &mut Mem, s: ServiceId, blob: &[u8]) {
        m.lookups.insert(
            (s, OpaqueHash(blake2b_256(blob)), blob.len() as u32),
            vec![],
        );
    }

    #[test]
    fn provides_solicited_blobs_and_counts_them() {
        let mut m = Mem::default();
        solicit(&mut m, 1, b"abc");
        solicit(&mut m, 2, b"de");
        let ep = vec![item(1, b"abc"), item(2, b"de")];
        let (post, stats) = transition(&m, &vec![], &ep, 9).unwrap();
        assert!(post.has_preimage(1, &OpaqueHash(blake2b_256(b"abc"))));
        assert_eq!(
            post.lookup(2, &OpaqueHash(blake2b_256(b"de")), 2),
            Some(vec![9])
        );
        assert_eq!(
            stats
                .iter()
                .map(|e| (e.id, e.record.provided_count, e.record.provided_size))
                .collect::<Vec<_>>(),
            vec![(1, 1, 3), (2, 1, 2)]
        );
    }

    #[test]
    fn rejects_unsorted_duplicate_and_unneeded() {
        let mut m = Mem::default();
        solicit(&mut m, 1, b"a");
        solicit(&mut m, 1, b"b");
        let e = |ep: Vec<Preimage>| transition(&m, &vec![], &ep, 1).err();
        assert_eq!(
            e(vec![item(1, b"b"), item(1, b"a")]),
            Some(PreimagesError::PreimagesNotSortedUnique)
        );
        assert_eq!(
            e(vec![item(1, b"a"), item(1, b"a")]),
            Some(PreimagesError::PreimagesNotSortedUnique)
        );
        assert_eq!(
            e(vec![item(1, b"a"), item(1, b"c")]),
            Some(PreimagesError::PreimageUnneeded)
        );
        assert_eq!(e(vec![item(1, b"a"), item(1, b"b")]), None);
    }
}
