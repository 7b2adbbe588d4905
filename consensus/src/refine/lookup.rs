//! The historical lookup Λ (GP v0.7.2 9.7, eq. 9.9) over a read-only view of the service accounts δ.

use crate::accumulate::PartialState;
use jam_state::codec::{decode_natural, Reader};
use jam_state::keys::{decode_lookup, lookup_key, preimage_key};
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{OpaqueHash, ServiceId, TimeSlot};

/// The parts of δ that refinement reads: which services exist, their preimages `a_p` and the
/// preimage request histories `a_l`.
pub trait ServiceView: Sync {
    /// `s ∈ K(δ)`.
    fn has_service(&self, s: ServiceId) -> bool;
    /// `δ[s]_p[h]`.
    fn preimage(&self, s: ServiceId, h: &OpaqueHash) -> Option<&[u8]>;
    /// `δ[s]_l[(h, len)]`.
    fn request(&self, s: ServiceId, h: &OpaqueHash, len: u32) -> Option<Vec<TimeSlot>>;
}

/// δ as the block state and as the accumulation's partial state: both keep the accounts and
/// the service data under their state keys (GP D.1).
macro_rules! service_view_over_state_keys {
    ($($t:ty),*) => {$(
        impl ServiceView for $t {
            fn has_service(&self, s: ServiceId) -> bool {
                self.accounts.contains_key(&s)
            }
            fn preimage(&self, s: ServiceId, h: &OpaqueHash) -> Option<&[u8]> {
                self.service_data
                    .get(&preimage_key(s, h))
                    .map(|v| v.as_slice())
            }
            fn request(&self, s: ServiceId, h: &OpaqueHash, len: u32) -> Option<Vec<TimeSlot>> {
                decode_lookup(self.service_data.get(&lookup_key(s, h, len))?)
            }
        }
    )*};
}
service_view_over_state_keys!(State, PartialState);

/// `I(l, t)` of eq. 9.9: whether a preimage with request history `l` was available at `t`.
pub fn available_at(l: &[TimeSlot], t: TimeSlot) -> bool {
    match *l {
        [x] => x <= t,
        [x, y] => x <= t && t < y,
        [x, y, z] => (x <= t && t < y) || z <= t,
        _ => false,
    }
}

/// Λ(δ[s], t, h) (eq. 9.9): the preimage of `h` held by service `s` if it was available at `t`.
/// `None` also when `s` is not a service.
pub fn historical_lookup<'v, V: ServiceView + ?Sized>(
    view: &'v V,
    s: ServiceId,
    t: TimeSlot,
    h: &OpaqueHash,
) -> Option<&'v [u8]> {
    if !view.has_service(s) {
        return None;
    }
    let p = view.preimage(s, h)?;
    let len = u32::try_from(p.len()).ok()?;
    let l = view.request(s, h, len)?;
    available_at(&l, t).then_some(p)
}

/// Splits a code preimage `E(↕m, c)` (GP 9.4) into metadata and code; `None` when malformed.
pub fn split_code<'b>(params: &Params, blob: &'b [u8]) -> Option<(&'b [u8], &'b [u8])> {
    let mut r = Reader::new(blob, params);
    let m = usize::try_from(decode_natural(&mut r).ok()?).ok()?;
    let start = r.position();
    let end = start.checked_add(m)?;
    Some((blob.get(start..end)?, blob.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::hash::blake2b_256;
    use jam_state::keys::encode_lookup;

    #[test]
    fn availability_modes() {
        assert!(!available_at(&[], 5));
        assert!(available_at(&[5], 5) && !available_at(&[5], 4));
        assert!(available_at(&[2, 6], 5) && !available_at(&[2, 6], 6) && !available_at(&[2, 6], 1));
        assert!(available_at(&[2, 4, 8], 3) && !available_at(&[2, 4, 8], 5));
        assert!(available_at(&[2, 4, 8], 8) && available_at(&[2, 4, 8], 100));
        assert!(!available_at(&[1, 2, 3, 4], 5));
    }

    #[test]
    fn lookup_against_state() {
        let mut st = PartialState::default();
        let blob = b"hello world".to_vec();
        let h = OpaqueHash(blake2b_256(&blob));
        st.accounts.insert(7, Default::default());
        st.service_data.insert(preimage_key(7, &h), blob.clone());
        // No request entry: not available.
        assert_eq!(historical_lookup(&st, 7, 10, &h), None);
        st.service_data
            .insert(lookup_key(7, &h, blob.len() as u32), encode_lookup(&[5, 9]));
        assert_eq!(historical_lookup(&st, 7, 4, &h), None);
        assert_eq!(historical_lookup(&st, 7, 5, &h), Some(blob.as_slice()));
        assert_eq!(historical_lookup(&st, 7, 8, &h), Some(blob.as_slice()));
        assert_eq!(historical_lookup(&st, 7, 9, &h), None);
        // Unknown service, unknown hash.
        assert_eq!(historical_lookup(&st, 8, 5, &h), None);
        assert_eq!(historical_lookup(&st, 7, 5, &OpaqueHash([1; 32])), None);
    }

    #[test]
    fn code_preimage_split() {
        let p = Params::tiny();
        assert_eq!(
            split_code(&p, &[2, 0xaa, 0xbb, 1, 2, 3]),
            Some((&[0xaa, 0xbb][..], &[1, 2, 3][..]))
        );
        assert_eq!(split_code(&p, &[5, 1]), None);
        assert_eq!(split_code(&p, &[]), None);
    }
}
