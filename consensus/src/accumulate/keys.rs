//! Service-item state keys (GP v0.7.2 D.1, the constructor `C(s, h)`), and the encodings of
//! preimage-request (lookup) values.
//!
//! These mirror the planned `jam_state::keys` constructors (same names and meaning); they are
//! local so accumulation builds before that module lands.

use jam_state::codec::{decode_natural, Reader};
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::types::{OpaqueHash, ServiceId, TimeSlot};

/// A 31-octet state key.
pub type StateKey = [u8; 31];

/// `C(s, h)`: service id octets interleaved with the first octets of `H(h)`.
pub fn service_item_key(s: ServiceId, h: &[u8]) -> StateKey {
    let n = s.to_le_bytes();
    let a = blake2b_256(h);
    let mut k = [0u8; 31];
    for i in 0..4 {
        k[2 * i] = n[i];
        k[2 * i + 1] = a[i];
    }
    k[8..].copy_from_slice(&a[4..27]);
    k
}

/// Storage item `k` of service `s`: `C(s, E4(2^32 - 1) ++ k)`.
pub fn storage_key(s: ServiceId, key: &[u8]) -> StateKey {
    let mut h = Vec::with_capacity(4 + key.len());
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(key);
    service_item_key(s, &h)
}

/// Preimage blob of hash `hash` of service `s`: `C(s, E4(2^32 - 2) ++ h)`.
pub fn preimage_key(s: ServiceId, hash: &OpaqueHash) -> StateKey {
    let mut h = Vec::with_capacity(36);
    h.extend_from_slice(&(u32::MAX - 1).to_le_bytes());
    h.extend_from_slice(hash.as_bytes());
    service_item_key(s, &h)
}

/// Preimage request `(hash, len)` of service `s`: `C(s, E4(len) ++ h)`.
pub fn lookup_key(s: ServiceId, hash: &OpaqueHash, len: u32) -> StateKey {
    let mut h = Vec::with_capacity(36);
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(hash.as_bytes());
    service_item_key(s, &h)
}

/// `E(↕[E4(x) | x <- t])`: the stored value of a preimage request.
pub fn encode_slots(t: &[TimeSlot]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 4 * t.len());
    jam_state::codec::encode_natural(t.len() as u64, &mut out);
    for x in t {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// Inverse of [`encode_slots`]; `None` for a malformed value.
pub fn decode_slots(v: &[u8], params: &Params) -> Option<Vec<TimeSlot>> {
    let mut r = Reader::new(v, params);
    let n = decode_natural(&mut r).ok()? as usize;
    if n > 3 || r.remaining() != 4 * n {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(u32::from_le_bytes(r.read_array().ok()?));
    }
    Some(out)
}
