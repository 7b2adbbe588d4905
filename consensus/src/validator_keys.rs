//! Validator secret keys from a 32-byte seed, and the dev validators' "trivial seeds" (JIP-5: secret key derivation).
//!
//! JIP-5:
//!
//! ```text
//! ed25519_secret_seed      = blake2b("jam_val_key_ed25519"      ++ seed)   (32-byte output)
//! bandersnatch_secret_seed = blake2b("jam_val_key_bandersnatch" ++ seed)
//! trivial_seed(i)          = repeat_8_times(encode_as_32bit_le(i))
//! ```
//!
//! The Ed25519 secret seed is an RFC 8032 / "ed25519-20110926" secret key; the Bandersnatch one
//! is turned into a scalar as in appendix A.1 of the Bandersnatch VRF specification
//! (`ark-vrf`'s `Secret::from_seed`). JIP-5 defines no BLS key; [`ValidatorSecrets::validator_data`]
//! leaves the BLS key and the metadata zero, as the public tiny test vectors do.

use crate::bandersnatch_prover::BandersnatchSecret;
use crate::crypto::signing_message;
use ed25519_dalek::Signer;
use jam_state::hash::blake2b_256_concat;
use jam_state::types::{BandersnatchPublic, Ed25519Public, Ed25519Signature, ValidatorData};
use std::net::SocketAddrV6;

/// JIP-5 context of the Ed25519 secret seed.
pub const ED25519_SEED_CONTEXT: &[u8] = b"jam_val_key_ed25519";
/// JIP-5 context of the Bandersnatch secret seed.
pub const BANDERSNATCH_SEED_CONTEXT: &[u8] = b"jam_val_key_bandersnatch";

/// JIP-5 `trivial_seed(i)`: `E4(i)` repeated 8 times. For testing only.
pub fn trivial_seed(i: u32) -> [u8; 32] {
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_exact_mut(4) {
        chunk.copy_from_slice(&i.to_le_bytes());
    }
    seed
}

/// JIP-5 `ed25519_secret_seed = blake2b("jam_val_key_ed25519" ++ seed)`.
pub fn ed25519_secret_seed(seed: &[u8; 32]) -> [u8; 32] {
    blake2b_256_concat(&[ED25519_SEED_CONTEXT, seed])
}

/// JIP-5 `bandersnatch_secret_seed = blake2b("jam_val_key_bandersnatch" ++ seed)`.
pub fn bandersnatch_secret_seed(seed: &[u8; 32]) -> [u8; 32] {
    blake2b_256_concat(&[BANDERSNATCH_SEED_CONTEXT, seed])
}

/// A validator's secret keys, derived from one 32-byte seed by JIP-5.
#[derive(Clone)]
pub struct ValidatorSecrets {
    ed25519: ed25519_dalek::SigningKey,
    bandersnatch: BandersnatchSecret,
}

impl std::fmt::Debug for ValidatorSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Public keys only.
        f.debug_struct("ValidatorSecrets")
            .field("ed25519", &self.ed25519_public())
            .field("bandersnatch", &self.bandersnatch_public())
            .finish()
    }
}

impl ValidatorSecrets {
    /// The keys of `seed` (JIP-5 derivation).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        ValidatorSecrets {
            ed25519: ed25519_dalek::SigningKey::from_bytes(&ed25519_secret_seed(seed)),
            bandersnatch: BandersnatchSecret::from_seed(&bandersnatch_secret_seed(seed)),
        }
    }

    /// The keys of dev validator `i`: `from_seed(trivial_seed(i))`.
    pub fn dev(i: u32) -> Self {
        Self::from_seed(&trivial_seed(i))
    }

    /// The Ed25519 public key.
    pub fn ed25519_public(&self) -> Ed25519Public {
        Ed25519Public(self.ed25519.verifying_key().to_bytes())
    }

    /// The Bandersnatch public key.
    pub fn bandersnatch_public(&self) -> BandersnatchPublic {
        BandersnatchPublic(self.bandersnatch.public())
    }

    /// The Bandersnatch secret (block seals, entropy, tickets).
    pub fn bandersnatch(&self) -> &BandersnatchSecret {
        &self.bandersnatch
    }

    /// An Ed25519 signature over `context ‖ payload` (GP I.4.5 signing contexts).
    pub fn ed25519_sign(&self, context: &[u8], payload: &[u8]) -> Ed25519Signature {
        Ed25519Signature(
            self.ed25519
                .sign(&signing_message(context, payload))
                .to_bytes(),
        )
    }

    /// The validator's key set as it appears in state (`K`, GP 6.8): Bandersnatch and Ed25519
    /// keys; BLS key and metadata zero (JIP-5 defines no BLS derivation).
    pub fn validator_data(&self) -> ValidatorData {
        ValidatorData {
            bandersnatch: self.bandersnatch_public(),
            ed25519: self.ed25519_public(),
            ..Default::default()
        }
    }

    /// [`Self::validator_data`] with the network endpoint in the metadata: the 16-octet IPv6
    /// address, then the port as `E2` (JAMNP-S; what `jam_network::grid` reads back), the
    /// remaining octets zero.
    pub fn validator_data_with_endpoint(&self, endpoint: SocketAddrV6) -> ValidatorData {
        let mut data = self.validator_data();
        data.metadata.0[..16].copy_from_slice(&endpoint.ip().octets());
        data.metadata.0[16..18].copy_from_slice(&endpoint.port().to_le_bytes());
        data
    }
}

/// The endpoint of dev validator `i` in the public traces' genesis: `[::ffff:127.0.0.1]:40000+i`.
pub fn dev_endpoint(i: u16) -> SocketAddrV6 {
    SocketAddrV6::new(
        std::net::Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
        40_000 + i,
        0,
        0,
    )
}

/// The first `count` dev validators (`trivial_seed(0..count)`).
pub fn dev_validators(count: usize) -> Vec<ValidatorSecrets> {
    (0..count as u32).map(ValidatorSecrets::dev).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{ed25519_verify, JAM_GUARANTEE};

    fn h(s: &str) -> [u8; 32] {
        hex_array(s)
    }

    fn hex_array(s: &str) -> [u8; 32] {
        let v = jam_state::codec::from_hex(s).unwrap();
        v.try_into().unwrap()
    }

    /// The JIP-5 test vectors (seed, ed25519 secret seed, ed25519 public, bandersnatch secret
    /// seed, bandersnatch public).
    const JIP5: [[&str; 5]; 7] = [
        [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "996542becdf1e78278dc795679c825faca2e9ed2bf101bf3c4a236d3ed79cf59",
            "4418fb8c85bb3985394a8c2756d3643457ce614546202a2f50b093d762499ace",
            "007596986419e027e65499cc87027a236bf4a78b5e8bd7f675759d73e7a9c799",
            "ff71c6c03ff88adb5ed52c9681de1629a54e702fc14729f6b50d2f0a76f185b3",
        ],
        [
            "0100000001000000010000000100000001000000010000000100000001000000",
            "b81e308145d97464d2bc92d35d227a9e62241a16451af6da5053e309be4f91d7",
            "ad93247bd01307550ec7acd757ce6fb805fcf73db364063265b30a949e90d933",
            "12ca375c9242101c99ad5fafe8997411f112ae10e0e5b7c4589e107c433700ac",
            "dee6d555b82024f1ccf8a1e37e60fa60fd40b1958c4bb3006af78647950e1b91",
        ],
        [
            "0200000002000000020000000200000002000000020000000200000002000000",
            "0093c8c10a88ebbc99b35b72897a26d259313ee9bad97436a437d2e43aaafa0f",
            "cab2b9ff25c2410fbe9b8a717abb298c716a03983c98ceb4def2087500b8e341",
            "3d71dc0ffd02d90524fda3e4a220e7ec514a258c59457d3077ce4d4f003fd98a",
            "9326edb21e5541717fde24ec085000b28709847b8aab1ac51f84e94b37ca1b66",
        ],
        [
            "0300000003000000030000000300000003000000030000000300000003000000",
            "69b3a7031787e12bfbdcac1b7a737b3e5a9f9450c37e215f6d3b57730e21001a",
            "f30aa5444688b3cab47697b37d5cac5707bb3289e986b19b17db437206931a8d",
            "107a9148b39a1099eeaee13ac0e3c6b9c256258b51c967747af0f8749398a276",
            "0746846d17469fb2f95ef365efcab9f4e22fa1feb53111c995376be8019981cc",
        ],
        [
            "0400000004000000040000000400000004000000040000000400000004000000",
            "b4de9ebf8db5428930baa5a98d26679ab2a03eae7c791d582e6b75b7f018d0d4",
            "8b8c5d436f92ecf605421e873a99ec528761eb52a88a2f9a057b3b3003e6f32a",
            "0bb36f5ba8e3ba602781bb714e67182410440ce18aa800c4cb4dd22525b70409",
            "151e5c8fe2b9d8a606966a79edd2f9e5db47e83947ce368ccba53bf6ba20a40b",
        ],
        [
            "0500000005000000050000000500000005000000050000000500000005000000",
            "4a6482f8f479e3ba2b845f8cef284f4b3208ba3241ed82caa1b5ce9fc6281730",
            "ab0084d01534b31c1dd87c81645fd762482a90027754041ca1b56133d0466c06",
            "75e73b8364bf4753c5802021c6aa6548cddb63fe668e3cacf7b48cdb6824bb09",
            "2105650944fcd101621fd5bb3124c9fd191d114b7ad936c1d79d734f9f21392e",
        ],
        [
            "f92d680ea3f0ac06307795490d8a03c5c0d4572b5e0a8cffec87e1294855d9d1",
            "f21e2d96a51387f9a7e5b90203654913dde7fa1044e3eba5631ed19f327d6126",
            "11a695f674de95ff3daaff9a5b88c18448b10156bf88bc04200e48d5155c7243",
            "06154d857537a9b622a9a94b1aeee7d588db912bfc914a8a9707148bfba3b9d1",
            "299bdfd8d615aadd9e6c58718f9893a5144d60e897bc9da1f3d73c935715c650",
        ],
    ];

    #[test]
    fn jip5_vectors() {
        for (n, [seed, ed_seed, ed_pub, bs_seed, bs_pub]) in JIP5.iter().enumerate() {
            let seed = h(seed);
            if n < 6 {
                assert_eq!(seed, trivial_seed(n as u32));
            }
            assert_eq!(ed25519_secret_seed(&seed), h(ed_seed), "vector {n}");
            assert_eq!(bandersnatch_secret_seed(&seed), h(bs_seed), "vector {n}");
            let keys = ValidatorSecrets::from_seed(&seed);
            assert_eq!(keys.ed25519_public().0, h(ed_pub), "vector {n}");
            assert_eq!(keys.bandersnatch_public().0, h(bs_pub), "vector {n}");
        }
    }

    #[test]
    fn ed25519_signatures_verify() {
        let keys = ValidatorSecrets::dev(3);
        let sig = keys.ed25519_sign(JAM_GUARANTEE, b"payload");
        let msg = signing_message(JAM_GUARANTEE, b"payload");
        assert!(ed25519_verify(&keys.ed25519_public().0, &msg, &sig.0));
        assert!(!ed25519_verify(&keys.ed25519_public().0, b"other", &sig.0));
    }
}
