//! Codec vectors (GP v0.7.2 Appendix C): `codec/{tiny,full}/<name>.bin` decoded with the
//! parameters named by the path, compared as JSON with `<name>.json` (first difference by field
//! path), parsed back from that JSON, then re-encoded byte for byte.

use crate::{diff, CaseError, CaseOutcome, CaseResult};
use jam_state::codec::{decode_exact, Decode, Encode};
use jam_state::params::Params;
use jam_state::types::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// Runs one codec vector (`.bin`, or its `.json` twin): one outcome.
pub fn run_file(path: &Path) -> Vec<CaseOutcome> {
    let bin = path.with_extension("bin");
    vec![CaseOutcome::of_file(&bin, run_case(&bin))]
}

/// The type a vector's file stem names (`header_0` → `Header`), dispatched to `check::<T>`.
fn run_case(bin: &Path) -> CaseResult {
    let params = Params::from_vector_path(bin)
        .ok_or_else(|| CaseError::failed("path names neither a tiny nor a full configuration"))?;
    let stem = bin
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| CaseError::failed("bad file name"))?;
    // Strip a trailing `_<digits>` case index.
    let kind = match stem.rsplit_once('_') {
        Some((head, tail)) if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => stem,
    };
    match kind {
        "block" => check::<Block>(bin, &params),
        "header" => check::<Header>(bin, &params),
        "extrinsic" => check::<Extrinsic>(bin, &params),
        "tickets_extrinsic" => check::<TicketsExtrinsic>(bin, &params),
        "preimages_extrinsic" => check::<PreimagesExtrinsic>(bin, &params),
        "guarantees_extrinsic" => check::<GuaranteesExtrinsic>(bin, &params),
        "assurances_extrinsic" => check::<AssurancesExtrinsic>(bin, &params),
        "disputes_extrinsic" => check::<DisputesExtrinsic>(bin, &params),
        "refine_context" => check::<RefineContext>(bin, &params),
        "work_item" => check::<WorkItem>(bin, &params),
        "work_package" => check::<WorkPackage>(bin, &params),
        "work_result" => check::<WorkResult>(bin, &params),
        "work_report" => check::<WorkReport>(bin, &params),
        other => Err(CaseError::failed(format!(
            "codec: no type for vector kind {other:?}"
        ))),
    }
}

fn check<T>(bin: &Path, params: &Params) -> CaseResult
where
    T: Decode + Encode + Serialize + DeserializeOwned + PartialEq,
{
    let bytes = std::fs::read(bin)
        .map_err(|e| CaseError::failed(format!("reading {}: {e}", bin.display())))?;
    let json_path = bin.with_extension("json");
    let text = std::fs::read_to_string(&json_path)
        .map_err(|e| CaseError::failed(format!("reading {}: {e}", json_path.display())))?;
    let expected: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CaseError::failed(format!("parsing {}: {e}", json_path.display())))?;

    let value: T =
        decode_exact(&bytes, params).map_err(|e| CaseError::failed(format!("decode: {e}")))?;
    let got =
        serde_json::to_value(&value).map_err(|e| CaseError::failed(format!("to JSON: {e}")))?;
    if let Some(m) = diff::first_diff(&expected, &got) {
        return Err(CaseError::Mismatch(m));
    }
    // The JSON form must also parse back into the same value.
    let parsed: T = serde_json::from_value(expected)
        .map_err(|e| CaseError::failed(format!("from JSON: {e}")))?;
    if parsed != value {
        return Err(CaseError::failed(
            "value parsed from the JSON differs from the decoded value",
        ));
    }
    let re = value.encode();
    if re != bytes {
        let at = re
            .iter()
            .zip(&bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(re.len().min(bytes.len()));
        return Err(CaseError::mismatch(
            format!(
                "<re-encoded bytes>[{at}] (lengths {} vs {})",
                bytes.len(),
                re.len()
            ),
            bytes.get(at),
            re.get(at),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::jam_vectors_dir;

    /// A copy of a vector with a changed JSON field or an extra byte must fail, naming the field.
    #[test]
    fn detects_differences() {
        let src = jam_vectors_dir().join("codec/tiny/work_result_0");
        let dir = std::env::temp_dir()
            .join(format!("jam-codec-neg-{}", std::process::id()))
            .join("tiny");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = std::fs::read(src.with_extension("bin")).unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(src.with_extension("json")).unwrap())
                .unwrap();
        std::fs::write(dir.join("work_result_0.bin"), &bin).unwrap();
        std::fs::write(dir.join("work_result_0.json"), json.to_string()).unwrap();
        assert!(run_file(&dir.join("work_result_0.bin"))[0].result.is_ok());

        let gas = json["accumulate_gas"].as_u64().unwrap();
        json["accumulate_gas"] = (gas + 1).into();
        std::fs::write(dir.join("work_result_0.json"), json.to_string()).unwrap();
        match &run_file(&dir.join("work_result_0.bin"))[0].result {
            Err(CaseError::Mismatch(m)) => assert_eq!(m.field, "accumulate_gas"),
            other => panic!("expected a mismatch, got {other:?}"),
        }

        let mut longer = bin.clone();
        longer.push(0);
        std::fs::write(dir.join("work_result_0.bin"), &longer).unwrap();
        match &run_file(&dir.join("work_result_0.bin"))[0].result {
            Err(CaseError::Failed(msg)) => assert!(msg.contains("trailing"), "{msg}"),
            other => panic!("expected a decode failure, got {other:?}"),
        }
        std::fs::remove_dir_all(dir.parent().unwrap()).ok();
    }
}
