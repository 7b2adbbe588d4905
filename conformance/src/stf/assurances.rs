//! STF vectors: assurances (`stf/assurances/{tiny,full}/*.bin`, schema `assurances.asn`; GP section 11.2).

use super::disputes::{compare, load};
use crate::{CaseOutcome, CaseResult};
use jam_consensus::assurances::{self, AssurancesError};
use jam_state::codec::{CodecError, CodecErrorKind, Decode, Encode, Reader};
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

/// The vectors' `ErrorCode` enumeration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadAttestationParent,
    BadValidatorIndex,
    CoreNotEngaged,
    BadSignature,
    NotSortedOrUniqueAssurers,
}

impl ErrorCode {
    const ALL: [ErrorCode; 5] = [
        ErrorCode::BadAttestationParent,
        ErrorCode::BadValidatorIndex,
        ErrorCode::CoreNotEngaged,
        ErrorCode::BadSignature,
        ErrorCode::NotSortedOrUniqueAssurers,
    ];
}

impl From<AssurancesError> for ErrorCode {
    fn from(e: AssurancesError) -> Self {
        ErrorCode::ALL[e.code() as usize]
    }
}

impl Encode for ErrorCode {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self as u8)
    }
}
impl Decode for ErrorCode {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        let value = r.read_u8()?;
        ErrorCode::ALL.get(value as usize).copied().ok_or_else(|| {
            CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "ErrorCode",
                    value,
                },
                start,
            )
        })
    }
}

/// `Output ::= CHOICE { ok OutputData, err ErrorCode }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Ok(OutputData),
    Err(ErrorCode),
}

impl Encode for Output {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Output::Ok(d) => {
                out.push(0);
                d.encode_to(out)
            }
            Output::Err(e) => {
                out.push(1);
                e.encode_to(out)
            }
        }
    }
}
impl Decode for Output {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        match r.read_u8()? {
            0 => OutputData::decode(r).map(Output::Ok),
            1 => ErrorCode::decode(r).map(Output::Err),
            value => Err(CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "Output",
                    value,
                },
                start,
            )),
        }
    }
}

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
        Err(e) => (Output::Err(e.into()), pre.clone()),
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
