//! State-key constructors `C` of GP v0.7.2 Appendix D.1 and a classifier for 31-octet state keys.
//!
//! * `C(i)` = `[i, 0, 0, …]` — [`component_key`] (indices in [`component`]).
//! * `C(255, s)` = `[255, n0, 0, n1, 0, n2, 0, n3, 0, 0, …]` with `n = E4(s)` — [`service_info_key`].
//! * `C(s, h)` = `[n0, a0, n1, a1, n2, a2, n3, a3, a4, …, a26]` with `n = E4(s)` and
//!   `a = H(h)[..27]` (Blake2b-256 of the whole of `h`) — [`service_data_key`]. The three kinds of
//!   service data use `h = E4(2^32−1) ⌢ k` (storage, [`storage_key`]), `h = E4(2^32−2) ⌢ H(p)`
//!   (preimage, [`preimage_key`]) and `h = E4(l) ⌢ H(p)` (lookup/request, [`lookup_key`]).
//!
//! The kind of a service-data key (storage, preimage or lookup) cannot be recovered from the key:
//! the hash hides it. [`classify`] therefore only tells component, service-info and service-data
//! keys apart (and the service a data key belongs to).

use crate::hash::blake2b_256_concat;
pub use crate::merkle::StateKey;
use crate::types::{OpaqueHash, ServiceId};

/// The state component indices `i` of `C(i)` (GP v0.7.2 D.2).
pub mod component {
    /// α: authorizer pools.
    pub const AUTH_POOLS: u8 = 1;
    /// φ: authorizer queues.
    pub const AUTH_QUEUES: u8 = 2;
    /// β: recent history (blocks and the accumulation-output MMR belt).
    pub const RECENT_BLOCKS: u8 = 3;
    /// γ: Safrole state (γ_k, γ_z, γ_s, γ_a).
    pub const SAFROLE: u8 = 4;
    /// ψ: disputes records.
    pub const DISPUTES: u8 = 5;
    /// η: entropy buffer.
    pub const ENTROPY: u8 = 6;
    /// ι: staging (next) validator keys.
    pub const STAGING_VALIDATORS: u8 = 7;
    /// κ: active validator keys.
    pub const ACTIVE_VALIDATORS: u8 = 8;
    /// λ: previous validator keys.
    pub const PREVIOUS_VALIDATORS: u8 = 9;
    /// ρ: availability assignments (pending reports).
    pub const AVAILABILITY: u8 = 10;
    /// τ: the most recent block's slot.
    pub const TIMESLOT: u8 = 11;
    /// χ: privileged services.
    pub const PRIVILEGES: u8 = 12;
    /// π: activity statistics.
    pub const STATISTICS: u8 = 13;
    /// ϑ: accumulation ready queue.
    pub const READY_QUEUE: u8 = 14;
    /// ξ: accumulated work-package history.
    pub const ACCUMULATED: u8 = 15;
    /// θ: the most recent accumulation outputs.
    pub const ACCUMULATION_OUTPUTS: u8 = 16;
    /// The chapter of service account info keys `C(255, s)`.
    pub const SERVICE_INFO: u8 = 255;
    /// All component indices 1..=16 with their GP names.
    pub const ALL: [(u8, &str); 16] = [
        (AUTH_POOLS, "alpha (auth pools)"),
        (AUTH_QUEUES, "phi (auth queues)"),
        (RECENT_BLOCKS, "beta (recent blocks)"),
        (SAFROLE, "gamma (safrole)"),
        (DISPUTES, "psi (disputes)"),
        (ENTROPY, "eta (entropy)"),
        (STAGING_VALIDATORS, "iota (staging validators)"),
        (ACTIVE_VALIDATORS, "kappa (active validators)"),
        (PREVIOUS_VALIDATORS, "lambda (previous validators)"),
        (AVAILABILITY, "rho (availability)"),
        (TIMESLOT, "tau (timeslot)"),
        (PRIVILEGES, "chi (privileges)"),
        (STATISTICS, "pi (statistics)"),
        (READY_QUEUE, "vartheta (ready queue)"),
        (ACCUMULATED, "xi (accumulated)"),
        (ACCUMULATION_OUTPUTS, "theta (accumulation outputs)"),
    ];
    /// The GP name of component `i` ("unknown" if none).
    pub fn name(i: u8) -> &'static str {
        if i == SERVICE_INFO {
            return "delta (service info)";
        }
        ALL.iter()
            .find(|(j, _)| *j == i)
            .map_or("unknown", |(_, n)| n)
    }
}

/// The marker `2^32 − 1` prefixed (as `E4`) to storage keys.
pub const STORAGE_MARKER: u32 = u32::MAX;
/// The marker `2^32 − 2` prefixed (as `E4`) to preimage hashes.
pub const PREIMAGE_MARKER: u32 = u32::MAX - 1;

/// `C(i)`: the key of state component `i`.
#[inline]
pub fn component_key(i: u8) -> StateKey {
    let mut k = [0u8; 31];
    k[0] = i;
    k
}

/// `C(i, s)`: `[i, n0, 0, n1, 0, n2, 0, n3, 0, …]` with `n = E4(s)`.
#[inline]
pub fn chapter_service_key(i: u8, s: ServiceId) -> StateKey {
    let n = s.to_le_bytes();
    let mut k = [0u8; 31];
    k[0] = i;
    k[1] = n[0];
    k[3] = n[1];
    k[5] = n[2];
    k[7] = n[3];
    k
}

/// `C(255, s)`: the key of service `s`'s account info.
#[inline]
pub fn service_info_key(s: ServiceId) -> StateKey {
    chapter_service_key(component::SERVICE_INFO, s)
}

/// Interleaves `E4(s)` with the first 27 octets `a` of a hash: `[n0, a0, n1, a1, n2, a2, n3, a3, a4, …, a26]`.
#[inline]
fn interleave(s: ServiceId, a: &[u8; 32]) -> StateKey {
    let n = s.to_le_bytes();
    let mut k = [0u8; 31];
    k[0] = n[0];
    k[1] = a[0];
    k[2] = n[1];
    k[3] = a[1];
    k[4] = n[2];
    k[5] = a[2];
    k[6] = n[3];
    k[7] = a[3];
    k[8..31].copy_from_slice(&a[4..27]);
    k
}

/// `C(s, h)` for `h` given as the concatenation of `parts`: `a = H(h)[..27]` interleaved with `E4(s)`.
#[inline]
pub fn service_data_key_parts(s: ServiceId, parts: &[&[u8]]) -> StateKey {
    interleave(s, &blake2b_256_concat(parts))
}

/// `C(s, h)`: the key of a service-data item (`a = H(h)[..27]` interleaved with `E4(s)`).
#[inline]
pub fn service_data_key(s: ServiceId, h: &[u8]) -> StateKey {
    service_data_key_parts(s, &[h])
}

/// `C(s, E4(2^32−1) ⌢ k)`: the key of storage item `k` of service `s` (value: the raw item).
#[inline]
pub fn storage_key(s: ServiceId, key: &[u8]) -> StateKey {
    service_data_key_parts(s, &[&STORAGE_MARKER.to_le_bytes(), key])
}

/// `C(s, E4(2^32−2) ⌢ h)`: the key of the preimage with hash `h` of service `s` (value: the preimage).
#[inline]
pub fn preimage_key(s: ServiceId, hash: &OpaqueHash) -> StateKey {
    service_data_key_parts(s, &[&PREIMAGE_MARKER.to_le_bytes(), &hash.0])
}

/// `C(s, E4(l) ⌢ h)`: the key of the preimage request/lookup `(h, l)` of service `s`
/// (value: `E(↕[E4(x) | x ← t])`, see [`encode_lookup`]).
#[inline]
pub fn lookup_key(s: ServiceId, hash: &OpaqueHash, len: u32) -> StateKey {
    service_data_key_parts(s, &[&len.to_le_bytes(), &hash.0])
}

/// The value of a lookup item: `E(↕[E4(x) | x ← t])` (up to 3 slots).
pub fn encode_lookup(slots: &[u32]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + 4 * slots.len());
    crate::codec::encode_natural(slots.len() as u64, &mut v);
    for x in slots {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// Decodes a lookup item's value into its slots; `None` if it is not `E(↕[E4(x)])` with at most 3 slots.
pub fn decode_lookup(value: &[u8]) -> Option<Vec<u32>> {
    let (&n, rest) = value.split_first()?;
    let n = n as usize;
    if n > 3 || rest.len() != 4 * n {
        return None;
    }
    Some(
        rest.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// What a state key addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// `C(i)`: `[i, 0, 0, …]` (any `i`, including ones the GP does not define; `i ≠ 255`).
    Component(u8),
    /// `C(255, s)`: service account info.
    ServiceInfo(ServiceId),
    /// `C(s, h)`: a storage, preimage or lookup item of service `s`.
    ServiceData(ServiceId),
}

/// Classifies a state key. Keys of the form `[255, n0, 0, n1, 0, n2, 0, n3, 0, …]` are service info,
/// other keys `[i, 0, …]` are components, everything else is service data (a service-data key
/// collides with those forms only if 23+ octets of its hash are zero).
#[inline]
pub fn classify(key: &StateKey) -> KeyKind {
    if key[8..].iter().all(|&b| b == 0) {
        if key[0] == component::SERVICE_INFO && key[2] == 0 && key[4] == 0 && key[6] == 0 {
            return KeyKind::ServiceInfo(u32::from_le_bytes([key[1], key[3], key[5], key[7]]));
        }
        if key[1..8].iter().all(|&b| b == 0) {
            return KeyKind::Component(key[0]);
        }
    }
    KeyKind::ServiceData(data_key_service(key))
}

/// The service id `s` interleaved into a service-data key `C(s, h)` (octets 0, 2, 4, 6).
#[inline]
pub fn data_key_service(key: &StateKey) -> ServiceId {
    u32::from_le_bytes([key[0], key[2], key[4], key[6]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::blake2b_256;

    #[test]
    fn constructors() {
        assert_eq!(component_key(11)[0], 11);
        assert!(component_key(11)[1..].iter().all(|&b| b == 0));
        let k = service_info_key(0x04030201);
        assert_eq!(&k[..9], &[255, 1, 0, 2, 0, 3, 0, 4, 0]);
        assert_eq!(classify(&k), KeyKind::ServiceInfo(0x04030201));
        assert_eq!(classify(&service_info_key(0)), KeyKind::ServiceInfo(0));
        assert_eq!(classify(&component_key(16)), KeyKind::Component(16));

        let h = OpaqueHash(blake2b_256(b"preimage"));
        let k = preimage_key(0x0a0b0c0d, &h);
        let mut h_full = PREIMAGE_MARKER.to_le_bytes().to_vec();
        h_full.extend_from_slice(&h.0);
        let a = blake2b_256(&h_full);
        assert_eq!(&k[..8], &[0x0d, a[0], 0x0c, a[1], 0x0b, a[2], 0x0a, a[3]]);
        assert_eq!(&k[8..], &a[4..27]);
        assert_eq!(k, service_data_key(0x0a0b0c0d, &h_full));
        assert_eq!(classify(&k), KeyKind::ServiceData(0x0a0b0c0d));

        let mut st = u32::MAX.to_le_bytes().to_vec();
        st.extend_from_slice(b"key");
        assert_eq!(storage_key(7, b"key"), service_data_key(7, &st));
        let mut lk = 8u32.to_le_bytes().to_vec();
        lk.extend_from_slice(&h.0);
        assert_eq!(lookup_key(7, &h, 8), service_data_key(7, &lk));
    }

    #[test]
    fn lookup_values() {
        assert_eq!(encode_lookup(&[]), vec![0]);
        assert_eq!(encode_lookup(&[1, 2]), vec![2, 1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(
            decode_lookup(&[2, 1, 0, 0, 0, 2, 0, 0, 0]),
            Some(vec![1, 2])
        );
        assert_eq!(decode_lookup(&[1, 1, 0, 0]), None);
        assert_eq!(decode_lookup(&[]), None);
    }
}
