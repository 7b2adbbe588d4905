//! State components (GP v0.7.2 §4.2, serialisation D.2/C): validator keys, service info,
//! availability assignments ρ, authorizer pools α / queues φ, recent blocks β (with MMR),
//! statistics π, judgements ψ, ready queue ω / accumulated ξ, privileges χ.

use super::primitives::*;
use super::work::WorkReport;
use crate::codec::{AuthQueueLen, CoresLen, EpochLen, FixedVec, ValidatorsLen};
use crate::jam_codec;
use serde::{Deserialize, Serialize};

// ---- Validators (κ, λ, ι, γ_k) ----

jam_codec! {
    /// Keys and metadata of one validator (GP 6.8, `K`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ValidatorData {
        pub bandersnatch: BandersnatchPublic,
        pub ed25519: Ed25519Public,
        pub bls: BlsPublic,
        pub metadata: ValidatorMetadata,
    }
}

/// Exactly V validators.
pub type ValidatorsData = FixedVec<ValidatorData, ValidatorsLen>;

// ---- Services (δ) ----

jam_codec! {
    /// Service account information (state key 255; GP D.2).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ServiceInfo {
        pub version: u8,
        pub code_hash: OpaqueHash,
        pub balance: u64,
        pub min_item_gas: Gas,
        pub min_memo_gas: Gas,
        pub bytes: u64,
        pub deposit_offset: u64,
        pub items: u32,
        pub creation_slot: TimeSlot,
        pub last_accumulation_slot: TimeSlot,
        pub parent_service: ServiceId,
    }
}

// ---- Availability (ρ) ----

jam_codec! {
    /// A work report pending availability, with the slot it was reported (GP 11.1).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct AvailabilityAssignment {
        pub report: WorkReport,
        pub timeout: TimeSlot,
    }
}

/// ρ: one optional assignment per core (JSON `null` for none).
pub type AvailabilityAssignments = FixedVec<Option<AvailabilityAssignment>, CoresLen>;

// ---- Authorization (α, φ) ----

/// One core's authorizer pool (up to O entries, length-prefixed).
pub type AuthPool = Vec<AuthorizerHash>;
/// α: a pool per core.
pub type AuthPools = FixedVec<AuthPool, CoresLen>;
/// One core's authorizer queue (exactly Q entries).
pub type AuthQueue = FixedVec<AuthorizerHash, AuthQueueLen>;
/// φ: a queue per core.
pub type AuthQueues = FixedVec<AuthQueue, CoresLen>;

// ---- Recent history (β) ----

/// An MMR peak: `None` (JSON `null`) or a hash.
pub type MmrPeak = Option<OpaqueHash>;

jam_codec! {
    /// Merkle mountain range (GP E.2): peaks, lowest first.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Mmr {
        pub peaks: Vec<MmrPeak>,
    }
}

jam_codec! {
    /// A work package reported in a block: package hash and exports root.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub struct ReportedWorkPackage {
        pub hash: WorkReportHash,
        pub exports_root: ExportsRoot,
    }
}

jam_codec! {
    /// β_H entry: one recent block.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct BlockInfo {
        pub header_hash: HeaderHash,
        pub beefy_root: OpaqueHash,
        pub state_root: StateRoot,
        pub reported: Vec<ReportedWorkPackage>,
    }
}

/// β_H: up to H recent blocks.
pub type BlocksHistory = Vec<BlockInfo>;

jam_codec! {
    /// β: recent blocks and the accumulation-output MMR (β_B).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct RecentBlocks {
        pub history: BlocksHistory,
        pub mmr: Mmr,
    }
}

// ---- Statistics (π) ----

jam_codec! {
    /// π_V / π_L entry: per-validator counters (fixed 4-byte fields).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ValidatorActivityRecord {
        pub blocks: u32,
        pub tickets: u32,
        pub pre_images: u32,
        pub pre_images_size: u32,
        pub guarantees: u32,
        pub assurances: u32,
    }
}

/// Exactly V records.
pub type ValidatorsStatistics = FixedVec<ValidatorActivityRecord, ValidatorsLen>;

jam_codec! {
    /// π_C entry: per-core counters for this block (natural-encoded fields).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct CoreActivityRecord {
        pub da_load: u32 => compact,
        pub popularity: u16 => compact,
        pub imports: u16 => compact,
        pub extrinsic_count: u16 => compact,
        pub extrinsic_size: u32 => compact,
        pub exports: u16 => compact,
        pub bundle_size: u32 => compact,
        pub gas_used: Gas => compact,
    }
}

/// Exactly C records.
pub type CoresStatistics = FixedVec<CoreActivityRecord, CoresLen>;

jam_codec! {
    /// π_S value: per-service counters for this block (natural-encoded fields).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ServiceActivityRecord {
        pub provided_count: u16 => compact,
        pub provided_size: u32 => compact,
        pub refinement_count: u32 => compact,
        pub refinement_gas_used: Gas => compact,
        pub imports: u32 => compact,
        pub extrinsic_count: u32 => compact,
        pub extrinsic_size: u32 => compact,
        pub exports: u32 => compact,
        pub accumulate_count: u32 => compact,
        pub accumulate_gas_used: Gas => compact,
    }
}

jam_codec! {
    /// π_S entry (dictionary pair, ordered by id).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ServicesStatisticsMapEntry {
        pub id: ServiceId,
        pub record: ServiceActivityRecord,
    }
}

/// π_S: sorted by service id.
pub type ServicesStatistics = Vec<ServicesStatisticsMapEntry>;

jam_codec! {
    /// π: all activity statistics.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Statistics {
        pub vals_curr: ValidatorsStatistics,
        pub vals_last: ValidatorsStatistics,
        pub cores: CoresStatistics,
        pub services: ServicesStatistics,
    }
}

// ---- Judgements (ψ) ----

jam_codec! {
    /// ψ: good, bad and wonky report hashes and offender keys (each sorted).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct DisputesRecords {
        pub good: Vec<WorkReportHash>,
        pub bad: Vec<WorkReportHash>,
        pub wonky: Vec<WorkReportHash>,
        pub offenders: Vec<Ed25519Public>,
    }
}

// ---- Accumulation (ω, ξ, χ) ----

jam_codec! {
    /// ω entry: a report waiting on dependencies.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct ReadyRecord {
        pub report: WorkReport,
        pub dependencies: Vec<WorkPackageHash>,
    }
}

/// Reports that became ready in one slot.
pub type ReadyQueueItem = Vec<ReadyRecord>;
/// ω: exactly E slots.
pub type ReadyQueue = FixedVec<ReadyQueueItem, EpochLen>;
/// Packages accumulated in one slot.
pub type AccumulatedQueueItem = Vec<WorkPackageHash>;
/// ξ: exactly E slots.
pub type AccumulatedQueue = FixedVec<AccumulatedQueueItem, EpochLen>;

jam_codec! {
    /// χ_Z entry: a service always accumulated with the given gas.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub struct AlwaysAccumulateMapEntry {
        pub id: ServiceId,
        pub gas: Gas,
    }
}

jam_codec! {
    /// χ: privileged services (manager, per-core assigners, designator, registrar, always-accumulate).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Privileges {
        pub bless: ServiceId,
        pub assign: FixedVec<ServiceId, CoresLen>,
        pub designate: ServiceId,
        pub register: ServiceId,
        pub always_acc: Vec<AlwaysAccumulateMapEntry>,
    }
}
