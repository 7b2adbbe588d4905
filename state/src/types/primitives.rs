//! Primitive JAM types (GP v0.7.2 §3.7, Appendix C.1): fixed-size hashes, keys and signatures
//! (`0x` hex in JSON, hex in `Debug`), integer aliases, the entropy buffer.

use crate::codec::{to_hex, CodecError, Decode, Encode, Reader};
use std::fmt;

/// Defines a fixed-size byte newtype with hex Debug/Display/serde and the codec.
macro_rules! byte_array {
    ($($(#[$m:meta])* $name:ident($n:expr);)*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            pub const LEN: usize = $n;
            pub const ZERO: Self = $name([0u8; $n]);
            pub fn as_bytes(&self) -> &[u8; $n] { &self.0 }
            pub fn to_vec(&self) -> Vec<u8> { self.0.to_vec() }
            /// From a slice of exactly `LEN` bytes.
            pub fn from_slice(s: &[u8]) -> Option<Self> { s.try_into().ok().map($name) }
        }
        impl Default for $name {
            fn default() -> Self { Self::ZERO }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&to_hex(&self.0)) }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&to_hex(&self.0)) }
        }
        impl std::ops::Deref for $name {
            type Target = [u8; $n];
            fn deref(&self) -> &[u8; $n] { &self.0 }
        }
        impl std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut [u8; $n] { &mut self.0 }
        }
        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] { &self.0 }
        }
        impl From<[u8; $n]> for $name {
            fn from(a: [u8; $n]) -> Self { $name(a) }
        }
        impl From<$name> for [u8; $n] {
            fn from(a: $name) -> Self { a.0 }
        }
        impl TryFrom<Vec<u8>> for $name {
            type Error = Vec<u8>;
            fn try_from(v: Vec<u8>) -> Result<Self, Vec<u8>> { <[u8; $n]>::try_from(v).map($name) }
        }
        impl Encode for $name {
            #[inline]
            fn encode_to(&self, out: &mut Vec<u8>) { out.extend_from_slice(&self.0) }
        }
        impl Decode for $name {
            const MIN_SIZE: usize = $n;
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> { r.read_array().map($name) }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                crate::codec::hex_serde::serialize(&self.0, s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::codec::hex_serde::deserialize::<D, $name>(d)
            }
        }
    )*};
}

byte_array! {
    /// A 32-byte hash or other opaque 32-byte value.
    OpaqueHash(32);
    /// Bandersnatch public key.
    BandersnatchPublic(32);
    /// Ed25519 public key.
    Ed25519Public(32);
    /// BLS12-381 public key.
    BlsPublic(144);
    /// Bandersnatch (IETF) VRF signature.
    BandersnatchVrfSignature(96);
    /// Bandersnatch ring VRF signature (proof).
    BandersnatchRingVrfSignature(784);
    /// Ed25519 signature.
    Ed25519Signature(64);
    /// Bandersnatch ring commitment (γ_z).
    BandersnatchRingCommitment(144);
    /// Validator metadata (128 octets).
    ValidatorMetadata(128);
}

pub type HeaderHash = OpaqueHash;
pub type StateRoot = OpaqueHash;
pub type BeefyRoot = OpaqueHash;
pub type WorkPackageHash = OpaqueHash;
pub type WorkReportHash = OpaqueHash;
pub type ExportsRoot = OpaqueHash;
pub type ErasureRoot = OpaqueHash;
pub type Entropy = OpaqueHash;
pub type AuthorizerHash = OpaqueHash;
pub type TicketId = OpaqueHash;
pub type CodeHash = OpaqueHash;

/// Protocol time unit (slot index).
pub type TimeSlot = u32;
/// Index of a validator in the current set.
pub type ValidatorIndex = u16;
/// Index of a core.
pub type CoreIndex = u16;
/// Service identifier.
pub type ServiceId = u32;
/// Gas amount.
pub type Gas = u64;
/// Ticket attempt counter.
pub type TicketAttempt = u8;

pub use crate::codec::Bytes as ByteSequence;

/// η: the four-entry entropy buffer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct EntropyBuffer(pub [Entropy; 4]);

impl std::ops::Deref for EntropyBuffer {
    type Target = [Entropy; 4];
    fn deref(&self) -> &[Entropy; 4] {
        &self.0
    }
}
impl std::ops::DerefMut for EntropyBuffer {
    fn deref_mut(&mut self) -> &mut [Entropy; 4] {
        &mut self.0
    }
}
impl Encode for EntropyBuffer {
    fn encode_to(&self, out: &mut Vec<u8>) {
        for e in &self.0 {
            e.encode_to(out)
        }
    }
}
impl Decode for EntropyBuffer {
    const MIN_SIZE: usize = 128;
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let mut a = [Entropy::ZERO; 4];
        for (i, e) in a.iter_mut().enumerate() {
            *e = Entropy::decode(r).map_err(|err| err.at_index(i))?;
        }
        Ok(EntropyBuffer(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_json_and_debug() {
        let h = OpaqueHash([0xab; 32]);
        let j = serde_json::to_string(&h).unwrap();
        assert_eq!(j, format!("\"0x{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<OpaqueHash>(&j).unwrap(), h);
        assert_eq!(format!("{h:?}"), format!("0x{}", "ab".repeat(32)));
        assert!(serde_json::from_str::<OpaqueHash>("\"0xabcd\"").is_err());
    }
}
