//! STF vectors: disputes (`stf/disputes/{tiny,full}/*.bin`, schema `disputes.asn`; GP section 10).

use crate::diff::first_diff;
use crate::{CaseError, CaseOutcome, CaseResult};
use jam_consensus::disputes::{self, DisputesError};
use jam_state::codec::{decode_exact, CodecError, CodecErrorKind, Decode, Encode, Reader};
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

/// The vectors' `ErrorCode` enumeration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    AlreadyJudged,
    BadVoteSplit,
    VerdictsNotSortedUnique,
    JudgementsNotSortedUnique,
    CulpritsNotSortedUnique,
    FaultsNotSortedUnique,
    NotEnoughCulprits,
    NotEnoughFaults,
    CulpritsVerdictNotBad,
    FaultVerdictWrong,
    OffenderAlreadyReported,
    BadJudgementAge,
    BadValidatorIndex,
    BadSignature,
    BadGuarantorKey,
    BadAuditorKey,
}

impl ErrorCode {
    const ALL: [ErrorCode; 16] = [
        ErrorCode::AlreadyJudged,
        ErrorCode::BadVoteSplit,
        ErrorCode::VerdictsNotSortedUnique,
        ErrorCode::JudgementsNotSortedUnique,
        ErrorCode::CulpritsNotSortedUnique,
        ErrorCode::FaultsNotSortedUnique,
        ErrorCode::NotEnoughCulprits,
        ErrorCode::NotEnoughFaults,
        ErrorCode::CulpritsVerdictNotBad,
        ErrorCode::FaultVerdictWrong,
        ErrorCode::OffenderAlreadyReported,
        ErrorCode::BadJudgementAge,
        ErrorCode::BadValidatorIndex,
        ErrorCode::BadSignature,
        ErrorCode::BadGuarantorKey,
        ErrorCode::BadAuditorKey,
    ];
}

impl From<DisputesError> for ErrorCode {
    fn from(e: DisputesError) -> Self {
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

/// Decodes a case file with the parameters named by its path (`tiny`/`full`); checks that it
/// re-encodes to the same bytes and, where a `.json` twin exists, that it reads the same.
pub(crate) fn load<T>(path: &Path) -> Result<(Params, T), CaseError>
where
    T: Decode + Encode + Serialize + serde::de::DeserializeOwned,
{
    let params = Params::from_vector_path(path)
        .ok_or_else(|| CaseError::failed("no `tiny` or `full` in the path"))?;
    let bytes = std::fs::read(path).map_err(|e| CaseError::failed(format!("read: {e}")))?;
    let case: T =
        decode_exact(&bytes, &params).map_err(|e| CaseError::failed(format!("decode: {e}")))?;
    if case.encode() != bytes {
        return Err(CaseError::failed(
            "the decoded case does not re-encode to the same bytes",
        ));
    }
    let json_path = path.with_extension("json");
    if json_path.is_file() {
        let text = std::fs::read_to_string(&json_path)
            .map_err(|e| CaseError::failed(format!("read json twin: {e}")))?;
        let from_json: T = serde_json::from_str(&text)
            .map_err(|e| CaseError::failed(format!("json twin: {e}")))?;
        compare("json_twin", &from_json, &case)?;
    }
    Ok((params, case))
}

/// Compares two values through their JSON form, reporting the first differing field under `root`.
pub(crate) fn compare<T: Serialize>(root: &str, expected: &T, got: &T) -> CaseResult {
    let to_json = |v: &T| {
        serde_json::to_value(v).map_err(|e| CaseError::failed(format!("{root}: to json: {e}")))
    };
    let (e, g) = (to_json(expected)?, to_json(got)?);
    match first_diff(&e, &g) {
        None => Ok(()),
        Some(mut m) => {
            m.field = if m.field == "<root>" {
                root.to_string()
            } else {
                format!("{root}.{}", m.field)
            };
            Err(CaseError::Mismatch(m))
        }
    }
}
