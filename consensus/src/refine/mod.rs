//! In-core work: is-authorized Ψ_I and refine Ψ_R (GP v0.7.2 Appendix B.2/B.3, B.8) and the
//! work-report computation Ξ with its availability specification (GP §14).
//!
//! # API
//!
//! - [`compute_work_report`]`(params, config, view, data, package, core)` — Ξ(p, c): checks the
//!   package limits ([`check_package`], §14.3), runs Ψ_I ([`is_authorized`]), resolves the
//!   segment-root lookup and fetches imports / extrinsics through [`PackageData`] (verifying
//!   every import's justification), refines every item ([`refine`], in parallel), applies the
//!   counter `I` (output size against `W_R` → ⊖, export count → ⊚, zero segments for failed
//!   items) and builds the availability spec ([`availability_spec`]: bundle and segment
//!   erasure coding, paged proofs, erasure root, exports root). Returns [`ComputedReport`]
//!   (the report, the exported segments, the bundle, the chunks) or a [`WorkReportError`].
//! - [`refine_packages`]`(pool, ...)` — Ξ for many packages on a rayon pool; results in input
//!   order, byte-identical for any thread count.
//! - [`ServiceView`] — the read-only δ that refinement needs (implemented for
//!   [`jam_state::state::State`] and [`crate::accumulate::PartialState`]);
//!   [`historical_lookup`] is Λ (eq. 9.9).
//! - Host calls: [`host_calls::index`]; inner-machine result codes [`machines::inner`];
//!   general codes in [`crate::general::code`].
//!
//! Chain parameters come from a [`jam_state::params::Params`] value; [`RefineConfig`] holds the non-chain knobs.

pub mod availability;
#[cfg(test)]
mod bad_input_tests;
pub mod host_calls;
pub mod invocation;
pub mod is_authorized;
pub mod lookup;
pub mod machines;
pub mod package;
pub mod report;
#[cfg(test)]
mod segment_tests;
#[cfg(test)]
mod tests;

pub use availability::{
    availability_spec, justification, paged_proofs, segments_root, verify_justification, Chunks,
};
pub use invocation::{refine, RefineArgs, Refinement};
pub use is_authorized::{authorizer_hash, is_authorized, Authorization};
pub use lookup::{historical_lookup, ServiceView};
pub use package::{check_package, ImportRef, PackageError};
pub use report::{
    compute_work_report, refine_packages, ComputedReport, ImportedSegment, InMemoryPackageData,
    PackageData, PackageJob, WorkReportError,
};

use crate::accumulate::programs::ProgramCache;
use jam_state::types::{Bytes, Gas, WorkExecResult};
use std::sync::Arc;
use thiserror::Error;

/// Knobs that are not chain parameters, and the decoded-code cache shared across packages.
#[derive(Clone, Debug)]
pub struct RefineConfig {
    /// Gas charged by the JIP-1 `log` host call.
    pub log_gas: Gas,
    /// Decoded authorizer / service code (keyed by code hash, checked against the blob).
    pub programs: Arc<ProgramCache>,
}

impl Default for RefineConfig {
    fn default() -> Self {
        RefineConfig {
            log_gas: 10,
            programs: Default::default(),
        }
    }
}

/// The work errors `E` (GP eq. 11.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum WorkError {
    /// ∞: out of gas.
    #[error("out of gas")]
    OutOfGas,
    /// ☇: the code panicked.
    #[error("panic")]
    Panic,
    /// ⊚: the number of exports differs from the item's export count.
    #[error("bad export count")]
    BadExports,
    /// ⊖: the output would take the report past `W_R`.
    #[error("report output too large")]
    Oversize,
    /// BAD: the code is not available at the lookup anchor (or the service does not exist).
    #[error("code unavailable (BAD)")]
    Bad,
    /// BIG: the code is larger than allowed.
    #[error("code too large (BIG)")]
    Big,
}

/// A work output `B ∪ E`.
pub type WorkOutput = Result<Vec<u8>, WorkError>;

/// The report encoding of a work output.
///
/// [`WorkExecResult`] follows the test vectors' six variants (`ok`, `out_of_gas`, `panic`,
/// `bad_exports`, `bad_code`, `code_oversize`), which lack GP 0.7.2's ⊖; it is reported as
/// `code_oversize` until the shared type gains the variant (see the module report).
pub fn exec_result(o: &WorkOutput) -> WorkExecResult {
    match o {
        Ok(b) => WorkExecResult::Ok(Bytes(b.clone())),
        Err(WorkError::OutOfGas) => WorkExecResult::OutOfGas,
        Err(WorkError::Panic) => WorkExecResult::Panic,
        Err(WorkError::BadExports) => WorkExecResult::BadExports,
        Err(WorkError::Oversize) => WorkExecResult::CodeOversize,
        Err(WorkError::Bad) => WorkExecResult::BadCode,
        Err(WorkError::Big) => WorkExecResult::CodeOversize,
    }
}
