//! JAM data types of `jam-types.asn` (GP v0.7.2 §4–§14; encodings per Appendix C), with the vectors' JSON form.
//!
//! Where things are:
//! - `primitives`: `OpaqueHash` (and aliases `HeaderHash`, `StateRoot`, `Entropy`, ...),
//!   `Ed25519Public`, `Ed25519Signature`, `BandersnatchPublic`, `BandersnatchVrfSignature`,
//!   `BandersnatchRingVrfSignature`, `BandersnatchRingCommitment`, `BlsPublic`, `ValidatorMetadata`,
//!   integer aliases (`TimeSlot`, `ValidatorIndex`, `CoreIndex`, `ServiceId`, `Gas`), `EntropyBuffer`.
//! - `header`: `EpochMarkValidatorKeys`, `EpochMark`, `TicketsMark`, `OffendersMark`, `Header`, `Block`.
//! - `extrinsics`: `Extrinsic`, disputes (`Judgement`, `Verdict`, `Culprit`, `Fault`,
//!   `DisputesExtrinsic`), `Preimage`, `AvailAssurance` (+ `AvailabilityBitfield`),
//!   `ValidatorSignature`, `ReportGuarantee`, and the `*Extrinsic` aliases.
//! - `work`: `RefineContext`, `Authorizer`, `ImportSpec`, `ExtrinsicSpec`, `WorkItem`, `WorkPackage`,
//!   `WorkExecResult`, `RefineLoad`, `WorkResult` (= `WorkDigest`), `WorkPackageSpec`
//!   (= `AvailabilitySpec`), `SegmentRootLookupItem`, `WorkReport`.
//! - `safrole`: `TicketBody`, `TicketEnvelope`, `TicketsOrKeys`, `TicketsAccumulator`, `TicketsExtrinsic`.
//! - `state`: `ValidatorData`/`ValidatorsData`, `ServiceInfo`, `AvailabilityAssignment(s)`,
//!   `AuthPool(s)`, `AuthQueue(s)`, `Mmr`/`MmrPeak`, `ReportedWorkPackage`, `BlockInfo`,
//!   `RecentBlocks`, statistics records and `Statistics`, `DisputesRecords`, `ReadyRecord`/
//!   `ReadyQueue`, `AccumulatedQueue`, `AlwaysAccumulateMapEntry`, `Privileges`.
//!
//! Sequences whose length is a chain parameter are `codec::FixedVec<T, L>` (derefs to `Vec<T>`);
//! blobs are `codec::Bytes`. Everything is re-exported here: `use jam_state::types::*;`.

pub mod extrinsics;
pub mod header;
pub mod primitives;
pub mod safrole;
pub mod state;
pub mod work;

pub use crate::codec::{Bytes, FixedBytes, FixedVec};
pub use extrinsics::*;
pub use header::*;
pub use primitives::*;
pub use safrole::*;
pub use state::*;
pub use work::*;
