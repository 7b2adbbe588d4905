//! The history sub-transition checked on every block-import trace step (until full import covers it).

mod common;

/// β' of every block-import trace step equals the transition of its pre-state β with the block's
/// header hash, parent state root, reported packages and the accumulate root of the post-state θ'.
#[test]
fn history_matches_block_import_traces() {
    use jam_consensus::history::{self as h, HistoryInput};
    use jam_state::codec::Encode;
    use jam_state::hash::blake2b_256;
    use jam_state::types::{OpaqueHash, RecentBlocks};
    let params = jam_state::params::Params::tiny();
    let files = common::traces::step_files();
    assert!(!files.is_empty());
    let mut with_outputs = 0;
    for p in &files {
        let step = common::traces::load_step(p, &params);
        let pre: RecentBlocks = step
            .pre_state
            .component(3, &params)
            .expect("β in pre-state");
        let post: RecentBlocks = step
            .post_state
            .component(3, &params)
            .expect("β in post-state");
        let theta: Vec<(u32, OpaqueHash)> = step
            .post_state
            .component::<Vec<ThetaEntry>>(16, &params)
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.service, e.hash))
            .collect();
        with_outputs += usize::from(!theta.is_empty());
        let input = HistoryInput {
            header_hash: OpaqueHash(blake2b_256(&step.block.header.encode())),
            parent_state_root: step.block.header.parent_state_root,
            accumulate_root: h::accumulate_root(&theta),
            work_packages: h::reported_packages(&step.block.extrinsic.guarantees),
        };
        assert_eq!(
            h::transition(&params, &pre, &input),
            post,
            "{}",
            p.display()
        );
    }
    eprintln!(
        "history: {} trace steps match ({with_outputs} with accumulation outputs)",
        files.len()
    );
}

jam_state::jam_codec! {
    /// θ entry: a service and its accumulation output hash.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct ThetaEntry {
        pub service: u32,
        pub hash: jam_state::types::OpaqueHash,
    }
}
