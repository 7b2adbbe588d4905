//! STF vectors: every `stf/statistics/{tiny,full}/*.bin` case passes.

use jam_conformance::{stf::statistics, vectors::jam_vectors_dir};

#[test]
fn stf_statistics_vectors() {
    let root = jam_vectors_dir().join("stf").join("statistics");
    let mut files = Vec::new();
    for cfg in ["tiny", "full"] {
        for e in std::fs::read_dir(root.join(cfg)).expect("statistics vectors folder") {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "bin") {
                files.push(p);
            }
        }
    }
    files.sort();
    let outcomes: Vec<_> = files.iter().flat_map(|p| statistics::run_file(p)).collect();
    let failed: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for f in &failed {
        eprintln!("FAIL {}: {}", f.name, f.result.as_ref().unwrap_err());
    }
    let passed = outcomes.len() - failed.len();
    eprintln!(
        "stf/statistics vectors: {passed} passed, {} failed",
        failed.len()
    );
    assert_eq!(failed.len(), 0, "stf/statistics vectors failed");
    assert_eq!(passed, 6, "expected 6 stf/statistics cases");
}

/// The tiny JSON twins decode (serde) to the same cases as the binary files (codec).
#[test]
fn stf_statistics_json_twins_match_binaries() {
    let dir = jam_vectors_dir()
        .join("stf")
        .join("statistics")
        .join("tiny");
    let params = jam_state::params::Params::tiny();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("statistics tiny vectors folder") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "bin") {
            let bin: statistics::TestCase =
                jam_state::codec::decode_exact(&std::fs::read(&p).unwrap(), &params)
                    .expect("decode .bin");
            let json: statistics::TestCase =
                serde_json::from_slice(&std::fs::read(p.with_extension("json")).unwrap())
                    .expect("parse .json");
            assert_eq!(bin, json, "{}", p.display());
            n += 1;
        }
    }
    assert!(n > 0);
}

mod common;

/// π' of every block-import trace step equals the statistics transition of its pre-state π,
/// with the block, κ' and λ' of the post-state, the reports made available by E_A (from ρ and
/// the bitfields) and the accumulation counters (count, gas) taken from the expected π_S'
/// (accumulation is not part of this suite).
#[test]
fn statistics_match_block_import_traces() {
    use jam_consensus::statistics::{self as st, BlockActivity};
    use jam_state::types::{
        AvailabilityAssignments, Ed25519Public, Statistics, TimeSlot, ValidatorsData,
    };
    use std::collections::BTreeMap;
    let params = jam_state::params::Params::tiny();
    let files = common::traces::step_files();
    assert!(!files.is_empty());
    let (mut guaranteed, mut available_n) = (0, 0);
    for p in &files {
        let step = common::traces::load_step(p, &params);
        let pre: Statistics = step
            .pre_state
            .component(13, &params)
            .expect("π in pre-state");
        let expected: Statistics = step
            .post_state
            .component(13, &params)
            .expect("π in post-state");
        let tau: TimeSlot = step.pre_state.component(11, &params).expect("τ");
        let kappa: ValidatorsData = step.post_state.component(8, &params).expect("κ'");
        let lambda: ValidatorsData = step.post_state.component(9, &params).expect("λ'");
        let rho: AvailabilityAssignments = step.pre_state.component(10, &params).expect("ρ");
        let b = &step.block;
        let slot = b.header.slot;
        // G (GP 11.26): keys of the guarantor assignment of each guarantee's rotation.
        let r = u32::from(params.rotation_period);
        let e = params.epoch_length;
        let mut reporters: Vec<Ed25519Public> = Vec::new();
        for g in &b.extrinsic.guarantees {
            let keys = if g.slot / r == slot / r || slot.saturating_sub(r) / e == slot / e {
                &kappa
            } else {
                &lambda
            };
            reporters.extend(
                g.signatures
                    .iter()
                    .map(|s| keys[s.validator_index as usize].ed25519),
            );
        }
        guaranteed += b.extrinsic.guarantees.len();
        let available: Vec<_> = rho
            .iter()
            .enumerate()
            .filter_map(|(c, a)| {
                let n = b
                    .extrinsic
                    .assurances
                    .iter()
                    .filter(|x| x.bitfield.bit(c))
                    .count();
                a.as_ref()
                    .filter(|_| n >= params.super_majority())
                    .map(|a| &a.report)
            })
            .collect();
        available_n += available.len();
        let accumulated: BTreeMap<_, _> = expected
            .services
            .iter()
            .filter(|s| s.record.accumulate_count > 0 || s.record.accumulate_gas_used > 0)
            .map(|s| {
                (
                    s.id,
                    (s.record.accumulate_count, s.record.accumulate_gas_used),
                )
            })
            .collect();
        let block = BlockActivity {
            slot,
            author_index: b.header.author_index,
            extrinsic: &b.extrinsic,
            reporters: &reporters,
        };
        let got = st::transition(&params, &pre, tau, &block, &kappa, &available, &accumulated);
        if got != expected {
            let e = serde_json::to_value(&expected).unwrap();
            let g = serde_json::to_value(&got).unwrap();
            panic!(
                "{}: {}",
                p.display(),
                jam_conformance::diff::first_diff(&e, &g).unwrap()
            );
        }
    }
    eprintln!(
        "statistics: {} trace steps match ({guaranteed} guarantees, {available_n} reports made available)",
        files.len()
    );
}
