//! Hash functions of the GP (§3.8 "Cryptography"): `H` = Blake2b-256 and `H_K` = Keccak-256.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use tiny_keccak::{Hasher, Keccak};

/// A 32-octet hash, the GP's `H`.
pub type Hash = [u8; 32];

/// The zero hash `H_0`: 32 zero octets.
pub const ZERO_HASH: Hash = [0u8; 32];

type Blake2b256 = Blake2b<U32>;

/// Blake2b with a 256-bit output (GP `H`).
#[inline]
pub fn blake2b_256(data: &[u8]) -> Hash {
    let mut h = Blake2b256::new();
    h.update(data);
    h.finalize().into()
}

/// Blake2b-256 of the concatenation of `parts`, without building the concatenation.
#[inline]
pub fn blake2b_256_concat(parts: &[&[u8]]) -> Hash {
    let mut h = Blake2b256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Keccak-256 (the pre-standard SHA-3 used by Ethereum; GP `H_K`).
#[inline]
pub fn keccak_256(data: &[u8]) -> Hash {
    let mut k = Keccak::v256();
    k.update(data);
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> Hash {
        let v = hex::decode(s).unwrap();
        v.try_into().unwrap()
    }

    #[test]
    fn blake2b_256_known_answers() {
        // RFC 7693-style known answers for Blake2b-256.
        assert_eq!(
            blake2b_256(b""),
            hex32("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
        );
        assert_eq!(
            blake2b_256(b"abc"),
            hex32("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        );
    }

    #[test]
    fn blake2b_concat_matches_single() {
        assert_eq!(blake2b_256_concat(&[b"ab", b"", b"c"]), blake2b_256(b"abc"));
    }

    #[test]
    fn keccak_256_known_answers() {
        assert_eq!(
            keccak_256(b""),
            hex32("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        );
        assert_eq!(
            keccak_256(b"abc"),
            hex32("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
        );
    }
}
