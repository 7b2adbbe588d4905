//! Fisher-Yates shuffle (GP v0.7.2 Appendix F: F.1 `F(s, r)`, F.2 `Q_l(h)`, F.3 `F(s, h)`).

use crate::hash::{blake2b_256, Hash};
use thiserror::Error;

/// Errors of [`shuffle_with_sequence`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ShuffleError {
    /// The random sequence must hold at least one number per element.
    #[error("random sequence too short: {got} numbers for {needed} elements")]
    SequenceTooShort { needed: usize, got: usize },
}

/// The numeric-sequence-from-hash function `Q_l(h)` (GP F.2): item `i` is the
/// little-endian `u32` at octet `4i mod 32` of `H(h ++ E_4(floor(i / 8)))`.
pub fn sequence_from_hash(entropy: &Hash, len: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(len);
    let mut preimage = [0u8; 36];
    preimage[..32].copy_from_slice(entropy);
    let mut block: u32 = 0;
    while out.len() < len {
        preimage[32..].copy_from_slice(&block.to_le_bytes());
        let h = blake2b_256(&preimage);
        let take = (len - out.len()).min(8);
        out.extend(
            h.chunks_exact(4)
                .take(take)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        block = block.wrapping_add(1);
    }
    out
}

/// The Fisher-Yates shuffle `F(s, r)` (GP F.1): repeatedly takes the element at
/// `r_0 mod l`, moving the last element into its place. Uses the first `|s|` numbers of
/// `r`; errors if `r` is shorter than `s`.
pub fn shuffle_with_sequence<T>(s: Vec<T>, r: &[u32]) -> Result<Vec<T>, ShuffleError> {
    if r.len() < s.len() {
        return Err(ShuffleError::SequenceTooShort {
            needed: s.len(),
            got: r.len(),
        });
    }
    let mut work = s;
    let mut out = Vec::with_capacity(work.len());
    for &x in r {
        if work.is_empty() {
            break;
        }
        let idx = x as usize % work.len();
        out.push(work.swap_remove(idx));
    }
    Ok(out)
}

/// The shuffle from a 32-octet entropy `F(s, h) = F(s, Q_{|s|}(h))` (GP F.3).
pub fn shuffle<T>(s: Vec<T>, entropy: &Hash) -> Vec<T> {
    let r = sequence_from_hash(entropy, s.len());
    let mut work = s;
    let mut out = Vec::with_capacity(work.len());
    for x in r {
        let idx = x as usize % work.len();
        out.push(work.swap_remove(idx));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_shuffle() {
        let v: Vec<u32> = Vec::new();
        assert!(shuffle(v.clone(), &[7u8; 32]).is_empty());
        assert_eq!(shuffle_with_sequence(v, &[]), Ok(Vec::new()));
        assert!(sequence_from_hash(&[0u8; 32], 0).is_empty());
    }

    #[test]
    fn sequence_short_errors() {
        assert_eq!(
            shuffle_with_sequence(vec![1, 2, 3], &[0, 1]),
            Err(ShuffleError::SequenceTooShort { needed: 3, got: 2 })
        );
    }

    #[test]
    fn sequence_form_matches_definition() {
        let h = [3u8; 32];
        let r = sequence_from_hash(&h, 20);
        for (i, &x) in r.iter().enumerate() {
            let mut pre = h.to_vec();
            pre.extend_from_slice(&((i / 8) as u32).to_le_bytes());
            let d = blake2b_256(&pre);
            let o = (4 * i) % 32;
            assert_eq!(x, u32::from_le_bytes(d[o..o + 4].try_into().unwrap()));
        }
    }

    #[test]
    fn shuffle_is_a_permutation_and_matches_sequence_form() {
        let h = [0x5au8; 32];
        for n in [1usize, 2, 7, 8, 9, 100, 341] {
            let s: Vec<usize> = (0..n).collect();
            let out = shuffle(s.clone(), &h);
            let mut sorted = out.clone();
            sorted.sort();
            assert_eq!(sorted, s);
            let r = sequence_from_hash(&h, n);
            assert_eq!(shuffle_with_sequence(s, &r).unwrap(), out);
        }
    }

    #[test]
    fn recursive_definition() {
        // F(s, r) = [s_{r0 mod l}] ++ F(s', r_1..), s' = s with s'_{r0 mod l} = s_{l-1}, minus last.
        fn reference(s: &[u8], r: &[u32]) -> Vec<u8> {
            if s.is_empty() {
                return Vec::new();
            }
            let l = s.len();
            let idx = r[0] as usize % l;
            let mut rest = s.to_vec();
            rest[idx] = s[l - 1];
            rest.truncate(l - 1);
            let mut out = vec![s[idx]];
            out.extend(reference(&rest, &r[1..]));
            out
        }
        let s: Vec<u8> = (0..10).collect();
        let r = [5u32, 100, 3, 0, 7, 2, 9, 1, 1, 4, 8];
        assert_eq!(
            shuffle_with_sequence(s.clone(), &r).unwrap(),
            reference(&s, &r)
        );
    }
}
