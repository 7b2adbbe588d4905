//! STF vectors: validator statistics (`stf/statistics/{tiny,full}/*.bin`, schema `statistics.asn`;
//! GP section 13).

use super::vector::{compare, load};
use crate::{CaseOutcome, CaseResult};
use jam_consensus::statistics::{self, BlockActivity};
use jam_state::jam_codec;
use jam_state::types::{Extrinsic, TimeSlot, ValidatorIndex, ValidatorsData, ValidatorsStatistics};
use serde::{Deserialize, Serialize};
use std::path::Path;

jam_codec! {
    /// The state components the statistics STF reads and writes.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct State {
        pub vals_curr_stats: ValidatorsStatistics,
        pub vals_last_stats: ValidatorsStatistics,
        pub slot: TimeSlot,
        pub curr_validators: ValidatorsData,
    }
}

jam_codec! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Input {
        pub slot: TimeSlot,
        pub author_index: ValidatorIndex,
        pub extrinsic: Extrinsic,
    }
}

jam_codec! {
    /// One statistics case. The output is `NULL`: nothing in the binary form, `null` in JSON.
    /// The `NULL` output encodes to nothing and shows as `null` in JSON.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TestCase {
        pub input: Input,
        pub pre_state: State,
        pub output: (),
        pub post_state: State,
    }
}

/// Runs one `.bin` case file.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    vec![CaseOutcome::of_file(path, run_case(path))]
}

fn run_case(path: &Path) -> CaseResult {
    let (params, case) = load::<TestCase>(path)?;
    let pre = &case.pre_state;
    let reporters = statistics::reporters_from_guarantees(
        &case.input.extrinsic.guarantees,
        &pre.curr_validators,
    );
    let block = BlockActivity {
        slot: case.input.slot,
        author_index: case.input.author_index,
        extrinsic: &case.input.extrinsic,
        reporters: &reporters,
    };
    let (curr, last) = statistics::update_validator_stats(
        &params,
        pre.slot,
        &pre.vals_curr_stats,
        &pre.vals_last_stats,
        &block,
        &pre.curr_validators,
    );
    // The vectors' τ and κ' are context only: this STF leaves them as they were.
    let got = State {
        vals_curr_stats: curr,
        vals_last_stats: last,
        ..pre.clone()
    };
    compare("post_state", &case.post_state, &got)
}
