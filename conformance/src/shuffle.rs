//! Shuffle vectors (`shuffle/shuffle_tests.json`): Fisher-Yates from entropy (GP Appendix F, F.3).
//!
//! Each entry gives a length `n`, the entropy and the shuffle of `[0, 1, .., n-1]`.

use crate::{CaseError, CaseOutcome, CaseResult};
use jam_state::shuffle::shuffle;
use serde_json::Value;
use std::path::Path;

fn run_case(case: &Value) -> CaseResult {
    let n = case
        .get("input")
        .and_then(Value::as_u64)
        .ok_or_else(|| CaseError::failed("missing integer `input`"))?;
    let n = u32::try_from(n).map_err(|_| CaseError::failed(format!("input {n} too large")))?;
    let entropy = case
        .get("entropy")
        .and_then(Value::as_str)
        .ok_or_else(|| CaseError::failed("missing string `entropy`"))?;
    let entropy = entropy.strip_prefix("0x").unwrap_or(entropy);
    let entropy: [u8; 32] = hex::decode(entropy)
        .ok()
        .and_then(|e| e.try_into().ok())
        .ok_or_else(|| CaseError::failed(format!("entropy {entropy:?} is not 32 hex octets")))?;
    let expected = case
        .get("output")
        .and_then(Value::as_array)
        .ok_or_else(|| CaseError::failed("missing array `output`"))?
        .iter()
        .map(|x| {
            x.as_u64()
                .ok_or_else(|| CaseError::failed(format!("output item {x} not an integer")))
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let got: Vec<u64> = shuffle((0..n).collect::<Vec<u32>>(), &entropy)
        .into_iter()
        .map(u64::from)
        .collect();
    if got.len() != expected.len() {
        return Err(CaseError::mismatch("output.len", expected.len(), got.len()));
    }
    if let Some(i) = (0..got.len()).find(|&i| got[i] != expected[i]) {
        return Err(CaseError::mismatch(
            format!("output[{i}]"),
            expected[i],
            got[i],
        ));
    }
    Ok(())
}

/// Runs every entry of a `shuffle_tests.json` file: one outcome per entry, named `path#index`.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    crate::run_json_array(path, run_case)
}
