//! STF vectors: assurances (`stf/assurances/{tiny,full}/*.bin`, schema `assurances.asn`; GP section 11.2).

use super::vector::{self, compare, load, ErrorNames};
use crate::{CaseOutcome, CaseResult};
use jam_consensus::assurances;
use jam_state::jam_codec;
use jam_state::params::Params;
use jam_state::types::{
    AssurancesExtrinsic, AvailabilityAssignments, HeaderHash, TimeSlot, ValidatorsData, WorkReport,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

jam_codec! {
    /// The state components the assurances STF reads and writes.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct State {
        pub avail_assignments: AvailabilityAssignments,
        pub curr_validators: ValidatorsData,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Input {
        pub assurances: AssurancesExtrinsic,
        pub slot: TimeSlot,
        pub parent: HeaderHash,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OutputData {
        pub reported: Vec<WorkReport>,
    }
}

/// `ErrorCode` of `assurances.asn`, in code order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errors;

impl ErrorNames for Errors {
    const NAMES: &'static [&'static str] = &[
        "bad_attestation_parent",
        "bad_validator_index",
        "core_not_engaged",
        "bad_signature",
        "not_sorted_or_unique_assurers",
    ];
}

/// `Output ::= CHOICE { ok OutputData, err ErrorCode }`.
pub type Output = vector::Output<OutputData, Errors>;

jam_codec! {
    /// One assurances vector.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TestCase {
        pub input: Input,
        pub pre_state: State,
        pub output: Output,
        pub post_state: State,
    }
}

/// Runs the assurances STF on a case: the computed output and posterior state.
pub fn apply(params: &Params, case: &TestCase) -> (Output, State) {
    let pre = &case.pre_state;
    let input = &case.input;
    match assurances::transition(
        params,
        &pre.avail_assignments,
        &pre.curr_validators,
        &input.assurances,
        input.slot,
        &input.parent,
    ) {
        Ok(post) => (
            Output::Ok(OutputData {
                reported: post.available,
            }),
            State {
                avail_assignments: post.rho,
                ..pre.clone()
            },
        ),
        Err(e) => (Output::err(e.code()), pre.clone()),
    }
}

/// Runs one `.bin` case file.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, run_case(path))]
}

fn run_case(path: &Path) -> CaseResult {
    let (params, case) = load::<TestCase>(path)?;
    let (output, post_state) = apply(&params, &case);
    compare("output", &case.output, &output)?;
    compare("post_state", &case.post_state, &post_state)
}
