//! The statistics sub-transition checked on every block-import trace step (until full import covers it).

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
