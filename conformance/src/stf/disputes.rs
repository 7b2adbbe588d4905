//! STF vectors: disputes (`stf/disputes/{tiny,full}/*.bin`, schema `disputes.asn`; GP section 10).

use super::vector::{self, compare, load, ErrorNames};
use crate::{CaseOutcome, CaseResult};
use jam_consensus::disputes;
use jam_state::jam_codec;
use jam_state::params::Params;
use jam_state::types::{
    AvailabilityAssignments, DisputesExtrinsic, DisputesRecords, OffendersMark, TimeSlot,
    ValidatorsData,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

jam_codec! {
    /// The state components the disputes STF reads and writes.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct State {
        pub psi: DisputesRecords,
        pub rho: AvailabilityAssignments,
        pub tau: TimeSlot,
        pub kappa: ValidatorsData,
        pub lambda: ValidatorsData,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Input {
        pub disputes: DisputesExtrinsic,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OutputData {
        pub offenders_mark: OffendersMark,
    }
}

/// `ErrorCode` of `disputes.asn`, in code order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errors;

impl ErrorNames for Errors {
    const NAMES: &'static [&'static str] = &[
        "already_judged",
        "bad_vote_split",
        "verdicts_not_sorted_unique",
        "judgements_not_sorted_unique",
        "culprits_not_sorted_unique",
        "faults_not_sorted_unique",
        "not_enough_culprits",
        "not_enough_faults",
        "culprits_verdict_not_bad",
        "fault_verdict_wrong",
        "offender_already_reported",
        "bad_judgement_age",
        "bad_validator_index",
        "bad_signature",
        "bad_guarantor_key",
        "bad_auditor_key",
    ];
}

/// `Output ::= CHOICE { ok OutputData, err ErrorCode }`.
pub type Output = vector::Output<OutputData, Errors>;

jam_codec! {
    /// One disputes vector.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TestCase {
        pub input: Input,
        pub pre_state: State,
        pub output: Output,
        pub post_state: State,
    }
}

/// Runs the disputes STF on a case: the computed output and posterior state.
pub fn apply(params: &Params, case: &TestCase) -> (Output, State) {
    let pre = &case.pre_state;
    match disputes::transition(
        params,
        &pre.psi,
        &pre.rho,
        pre.tau,
        &pre.kappa,
        &pre.lambda,
        &case.input.disputes,
    ) {
        Ok(post) => (
            Output::Ok(OutputData {
                offenders_mark: post.offenders_mark,
            }),
            State {
                psi: post.psi,
                rho: post.rho,
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
