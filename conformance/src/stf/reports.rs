//! STF vectors: reports (`stf/reports/{tiny,full}/*.bin`, schema `reports.asn`).

use super::vector::{self, compare, load, ErrorNames};
use crate::{CaseError, CaseOutcome, CaseResult};
use jam_consensus::reports::{
    add_core_statistics, add_service_statistics, transition, ReportsError, ReportsInput,
    ReportsState,
};

use jam_state::jam_codec;
use jam_state::params::Params;
use jam_state::types::{
    AuthPools, AvailabilityAssignments, CoresStatistics, Ed25519Public, EntropyBuffer,
    GuaranteesExtrinsic, OpaqueHash, RecentBlocks, ServiceId, ServiceInfo, ServicesStatistics,
    TimeSlot, ValidatorsData, WorkPackageHash,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

jam_codec! {
    /// Service account data relevant to this STF.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Account {
        pub service: ServiceInfo,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct AccountsMapEntry {
        pub id: ServiceId,
        pub data: Account,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct State {
        pub avail_assignments: AvailabilityAssignments,
        pub curr_validators: ValidatorsData,
        pub prev_validators: ValidatorsData,
        pub entropy: EntropyBuffer,
        pub offenders: Vec<Ed25519Public>,
        pub recent_blocks: RecentBlocks,
        pub auth_pools: AuthPools,
        pub accounts: Vec<AccountsMapEntry>,
        pub cores_statistics: CoresStatistics,
        pub services_statistics: ServicesStatistics,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Input {
        pub guarantees: GuaranteesExtrinsic,
        pub slot: TimeSlot,
        pub known_packages: Vec<WorkPackageHash>,
    }
}

jam_codec! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ReportedPackage {
        pub work_package_hash: WorkPackageHash,
        pub segment_tree_root: OpaqueHash,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OutputData {
        pub reported: Vec<ReportedPackage>,
        pub reporters: Vec<Ed25519Public>,
    }
}

/// The `ErrorCode` names of `reports.asn`, by code.
const ERROR_NAMES: [&str; 26] = [
    "bad_core_index",
    "future_report_slot",
    "report_epoch_before_last",
    "insufficient_guarantees",
    "out_of_order_guarantee",
    "not_sorted_or_unique_guarantors",
    "wrong_assignment",
    "core_engaged",
    "anchor_not_recent",
    "bad_service_id",
    "bad_code_hash",
    "dependency_missing",
    "duplicate_package",
    "bad_state_root",
    "bad_beefy_mmr_root",
    "core_unauthorized",
    "bad_validator_index",
    "work_report_gas_too_high",
    "service_item_gas_too_low",
    "too_many_dependencies",
    "segment_root_lookup_invalid",
    "bad_signature",
    "work_report_too_big",
    "banned_validator",
    "lookup_anchor_not_recent",
    "missing_work_results",
];

/// `ErrorCode` of `reports.asn`, in code order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errors;

impl ErrorNames for Errors {
    const NAMES: &'static [&'static str] = &ERROR_NAMES;
}

/// `Output ::= CHOICE { ok OutputData, err ErrorCode }`.
pub type Output = vector::Output<OutputData, Errors>;

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TestCase {
        pub input: Input,
        pub pre_state: State,
        pub output: Output,
        pub post_state: State,
    }
}

/// Runs the reports STF on a case: the computed output and post-state.
pub fn run_case(params: &Params, case: &TestCase) -> (Output, State) {
    let pre = &case.pre_state;
    let services: BTreeMap<ServiceId, ServiceInfo> = pre
        .accounts
        .iter()
        .map(|a| (a.id, a.data.service))
        .collect();
    let state = ReportsState {
        avail_assignments: &pre.avail_assignments,
        curr_validators: &pre.curr_validators,
        prev_validators: &pre.prev_validators,
        entropy: &pre.entropy,
        offenders: &pre.offenders,
        recent_blocks: &pre.recent_blocks,
        auth_pools: &pre.auth_pools,
        services: &services,
    };
    let input = ReportsInput {
        guarantees: &case.input.guarantees,
        slot: case.input.slot,
        known_packages: &case.input.known_packages,
    };
    match transition(params, &state, &input) {
        Ok(post) => {
            let mut state = pre.clone();
            state.avail_assignments = post.avail_assignments;
            add_core_statistics(&mut state.cores_statistics, &post.incoming);
            add_service_statistics(&mut state.services_statistics, &post.incoming);
            let output = OutputData {
                reported: post
                    .output
                    .reported
                    .iter()
                    .map(|p| ReportedPackage {
                        work_package_hash: p.work_package_hash,
                        segment_tree_root: p.segment_tree_root,
                    })
                    .collect(),
                reporters: post.output.reporters,
            };
            (Output::Ok(output), state)
        }
        Err(e) => (Output::err(e.code()), pre.clone()),
    }
}

fn run(path: &Path) -> CaseResult {
    let (params, case) = load::<TestCase>(path)?;
    let (output, post_state) = run_case(&params, &case);
    let name = |o: &Output| match o {
        Output::Ok(_) => "ok".to_string(),
        Output::Err(c) => {
            let what =
                ReportsError::from_code(c.code()).map_or_else(String::new, |e| e.to_string());
            format!("err {} ({what})", c.name())
        }
    };
    let variant_differs = matches!(case.output, Output::Err(_)) != matches!(output, Output::Err(_));
    let code_differs =
        matches!((&case.output, &output), (Output::Err(e), Output::Err(g)) if e != g);
    if variant_differs || code_differs {
        return Err(CaseError::mismatch(
            "output",
            name(&case.output),
            name(&output),
        ));
    }
    compare("output", &case.output, &output)?;
    compare("post_state", &case.post_state, &post_state)
}

pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, run(path))]
}
