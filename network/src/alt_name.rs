//! Certificate alternative names (JAMNP-S "Encryption and handshake" § "Alternative name").
//!
//! N(k) = "e" ++ B(E₃₂⁻¹(k), 52): the Ed25519 key read as a little-endian 256-bit integer,
//! written as 52 base-32 digits, least significant first, in the alphabet `a–z2–7`.

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Length of an alternative name: `e` plus 52 digits.
pub const ALT_NAME_LEN: usize = 53;

/// N(k): the alternative name for Ed25519 public key `key`.
pub fn alt_name(key: &[u8; 32]) -> String {
    let mut s = String::with_capacity(ALT_NAME_LEN);
    s.push('e');
    for i in 0..52 {
        // Digit i is bits [5i, 5i + 5) of the little-endian integer (n mod 32, then n / 32).
        let mut d = 0u8;
        for b in 0..5 {
            let bit = 5 * i + b;
            if bit < 256 && key[bit / 8] >> (bit % 8) & 1 == 1 {
                d |= 1 << b;
            }
        }
        s.push(ALPHABET[d as usize] as char);
    }
    s
}

/// The key named by an alternative name, if `name` is a well-formed N(k).
pub fn key_from_alt_name(name: &str) -> Option<[u8; 32]> {
    let bytes = name.as_bytes();
    if bytes.len() != ALT_NAME_LEN || bytes[0] != b'e' {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, c) in bytes[1..].iter().enumerate() {
        let d = ALPHABET.iter().position(|a| a == c)? as u8;
        for b in 0..5 {
            let bit = 5 * i + b;
            if d >> b & 1 == 1 {
                if bit >= 256 {
                    return None; // the top 4 bits of the last digit must be zero
                }
                key[bit / 8] |= 1 << (bit % 8);
            }
        }
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_small_keys() {
        assert_eq!(alt_name(&[0; 32]), format!("e{}", "a".repeat(52)));
        let mut k = [0u8; 32];
        k[0] = 1; // n = 1: first digit 'b'
        assert_eq!(&alt_name(&k)[..3], "eba");
        k[0] = 32; // n = 32: second digit 'b'
        assert_eq!(&alt_name(&k)[..3], "eab");
        // all ones: 51 digits of 31 ('7') then the remaining top bit (1 -> 'b')
        assert_eq!(alt_name(&[0xff; 32]), format!("e{}b", "7".repeat(51)));
    }

    #[test]
    fn round_trip() {
        for seed in 0u8..=40 {
            let k: [u8; 32] =
                std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(seed));
            let n = alt_name(&k);
            assert_eq!(n.len(), ALT_NAME_LEN);
            assert_eq!(key_from_alt_name(&n), Some(k));
        }
        assert_eq!(key_from_alt_name("eaaa"), None);
        assert_eq!(key_from_alt_name(&format!("e{}7", "a".repeat(51))), None);
        assert_eq!(key_from_alt_name(&format!("f{}", "a".repeat(52))), None);
    }
}
