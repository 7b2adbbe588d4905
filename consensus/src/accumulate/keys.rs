//! Service-item state keys (GP v0.7.2 D.1, `C(s, h)`) and preimage-request values, as used by
//! accumulation: thin names over [`jam_state::keys`].

pub use jam_state::keys::{lookup_key, preimage_key, storage_key, StateKey};
use jam_state::types::TimeSlot;

/// `E(↕[E4(x) | x <- t])`: the stored value of a preimage request.
pub fn encode_slots(t: &[TimeSlot]) -> Vec<u8> {
    jam_state::keys::encode_lookup(t)
}

/// Inverse of [`encode_slots`]; `None` for a malformed value.
pub fn decode_slots(v: &[u8]) -> Option<Vec<TimeSlot>> {
    jam_state::keys::decode_lookup(v)
}
