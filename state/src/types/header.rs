//! Block header and block (GP v0.7.2 §5, C.4/C.22–C.23): epoch/tickets/offenders marks, `Header`, `Block`.

use super::extrinsics::Extrinsic;
use super::primitives::*;
use super::safrole::TicketBody;
use crate::codec::{Encode, EpochLen, FixedVec, ValidatorsLen};
use crate::hash::blake2b_256;
use crate::jam_codec;
use serde::{Deserialize, Serialize};

jam_codec! {
    /// Keys of one validator announced in an epoch mark.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct EpochMarkValidatorKeys {
        pub bandersnatch: BandersnatchPublic,
        pub ed25519: Ed25519Public,
    }
}

jam_codec! {
    /// H_e: next epoch's entropy, tickets entropy and validator keys (exactly V entries).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct EpochMark {
        pub entropy: Entropy,
        pub tickets_entropy: Entropy,
        pub validators: FixedVec<EpochMarkValidatorKeys, ValidatorsLen>,
    }
}

/// H_w: the next epoch's ticket sequence (exactly E entries).
pub type TicketsMark = FixedVec<TicketBody, EpochLen>;
/// H_o: offenders mark (length-prefixed).
pub type OffendersMark = Vec<Ed25519Public>;

jam_codec! {
    /// Block header (GP 5.1). `encode()` gives E(H); `encode_unsigned()` gives E_U(H) (without the seal).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Header {
        pub parent: HeaderHash,
        pub parent_state_root: StateRoot,
        pub extrinsic_hash: OpaqueHash,
        pub slot: TimeSlot,
        pub epoch_mark: Option<EpochMark>,
        pub tickets_mark: Option<TicketsMark>,
        pub author_index: ValidatorIndex,
        pub entropy_source: BandersnatchVrfSignature,
        pub offenders_mark: OffendersMark,
        pub seal: BandersnatchVrfSignature,
    }
}

impl Header {
    /// E_U(H): the encoding without the seal (the message the seal signs over).
    pub fn encode_unsigned(&self) -> Vec<u8> {
        let mut v = self.encode();
        v.truncate(v.len() - BandersnatchVrfSignature::LEN);
        v
    }

    /// H(E(header)): the header hash.
    pub fn hash(&self) -> HeaderHash {
        OpaqueHash(blake2b_256(&self.encode()))
    }
}

jam_codec! {
    /// A block: header and extrinsic.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Block {
        pub header: Header,
        pub extrinsic: Extrinsic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_exact, CodecErrorKind};
    use crate::params::Params;

    fn sample(p: &Params) -> Block {
        let keys = (0..p.validators())
            .map(|i| EpochMarkValidatorKeys {
                bandersnatch: BandersnatchPublic([i as u8; 32]),
                ed25519: Ed25519Public([0x80 | i as u8; 32]),
            })
            .collect();
        Block {
            header: Header {
                slot: 42,
                epoch_mark: Some(EpochMark {
                    validators: keys,
                    ..Default::default()
                }),
                author_index: 1,
                offenders_mark: vec![Ed25519Public([7; 32])],
                ..Default::default()
            },
            extrinsic: Extrinsic::default(),
        }
    }

    #[test]
    fn round_trip_and_error_path() {
        let p = Params::tiny();
        let b = sample(&p);
        let bytes = b.encode();
        assert_eq!(decode_exact::<Block>(&bytes, &p).unwrap(), b);
        assert_eq!(
            b.header.encode_unsigned().len() + 96,
            b.header.encode().len()
        );
        // Cut inside validators[3].ed25519: parent, state root, extrinsic hash, slot, option tag,
        // two entropies, three validators and the fourth's bandersnatch key, then 10 bytes.
        let cut = 32 * 3 + 4 + 1 + 64 + 3 * 64 + 32 + 10;
        let e = decode_exact::<Block>(&bytes[..cut], &p).unwrap_err();
        assert_eq!(e.kind, CodecErrorKind::UnexpectedEnd);
        assert_eq!(
            e.path.to_string(),
            "header.epoch_mark.validators[3].ed25519"
        );
        // The same bytes do not decode under the full parameters (1023 validators).
        assert!(decode_exact::<Block>(&bytes, &Params::full()).is_err());
    }

    #[test]
    fn json_round_trip() {
        let p = Params::tiny();
        let b = sample(&p);
        let j = serde_json::to_value(&b).unwrap();
        assert_eq!(j["header"]["tickets_mark"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Block>(j).unwrap(), b);
    }
}
