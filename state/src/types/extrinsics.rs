//! Block extrinsics (GP v0.7.2 §10–12, C.16–C.21): tickets, preimages, guarantees, assurances, disputes.

use super::primitives::*;
use super::safrole::TicketsExtrinsic;
use super::work::WorkReport;
use crate::codec::{BitfieldBytesLen, Bytes, FixedBytes, FixedVec, SuperMajorityLen};
use crate::jam_codec;
use serde::{Deserialize, Serialize};

// ---- Disputes (E_D, §10) ----

jam_codec! {
    /// One validator's judgement in a verdict.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Judgement {
        pub vote: bool,
        pub index: ValidatorIndex,
        pub signature: Ed25519Signature,
    }
}

jam_codec! {
    /// A verdict on a work report: exactly floor(2V/3)+1 judgements.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Verdict {
        pub target: WorkReportHash,
        pub age: u32,
        pub votes: FixedVec<Judgement, SuperMajorityLen>,
    }
}

jam_codec! {
    /// A guarantor who signed an invalid report.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Culprit {
        pub target: WorkReportHash,
        pub key: Ed25519Public,
        pub signature: Ed25519Signature,
    }
}

jam_codec! {
    /// An auditor whose judgement contradicts the verdict.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Fault {
        pub target: WorkReportHash,
        pub vote: bool,
        pub key: Ed25519Public,
        pub signature: Ed25519Signature,
    }
}

jam_codec! {
    /// E_D: verdicts, culprits, faults.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct DisputesExtrinsic {
        pub verdicts: Vec<Verdict>,
        pub culprits: Vec<Culprit>,
        pub faults: Vec<Fault>,
    }
}

// ---- Preimages (E_P, §12.4) ----

jam_codec! {
    /// A preimage blob provided for a service.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub struct Preimage {
        pub requester: ServiceId,
        pub blob: Bytes,
    }
}

/// E_P.
pub type PreimagesExtrinsic = Vec<Preimage>;

// ---- Assurances (E_A, §11.2) ----

/// Availability bitfield: ceil(C/8) octets, bit i (LSB first) for core i.
pub type AvailabilityBitfield = FixedBytes<BitfieldBytesLen>;

jam_codec! {
    /// A validator's availability assurance for the parent block.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct AvailAssurance {
        pub anchor: HeaderHash,
        pub bitfield: AvailabilityBitfield,
        pub validator_index: ValidatorIndex,
        pub signature: Ed25519Signature,
    }
}

/// E_A (up to V entries).
pub type AssurancesExtrinsic = Vec<AvailAssurance>;

// ---- Guarantees (E_G, §11.4) ----

jam_codec! {
    /// A guarantor's signature credential.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ValidatorSignature {
        pub validator_index: ValidatorIndex,
        pub signature: Ed25519Signature,
    }
}

jam_codec! {
    /// A guaranteed work report with its slot and credentials.
    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ReportGuarantee {
        pub report: WorkReport,
        pub slot: TimeSlot,
        pub signatures: Vec<ValidatorSignature>,
    }
}

/// E_G (up to C entries).
pub type GuaranteesExtrinsic = Vec<ReportGuarantee>;

// ---- The extrinsic ----

jam_codec! {
    /// E = (E_T, E_P, E_G, E_A, E_D).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Extrinsic {
        pub tickets: TicketsExtrinsic,
        pub preimages: PreimagesExtrinsic,
        pub guarantees: GuaranteesExtrinsic,
        pub assurances: AssurancesExtrinsic,
        pub disputes: DisputesExtrinsic,
    }
}
