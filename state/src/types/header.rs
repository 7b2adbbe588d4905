//! Block header and block (GP v0.7.2 §5, C.4/C.22–C.23): epoch/tickets/offenders marks, `Header`, `Block`.

use super::extrinsics::Extrinsic;
use super::primitives::*;
use super::safrole::TicketBody;
use crate::codec::{Encode, EpochLen, FixedVec, ValidatorsLen};
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
}

jam_codec! {
    /// A block: header and extrinsic.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Block {
        pub header: Header,
        pub extrinsic: Extrinsic,
    }
}
