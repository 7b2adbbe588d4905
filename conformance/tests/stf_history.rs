//! STF vectors: every `stf/history/{tiny,full}/*.bin` case passes.

use jam_conformance::{stf::history, vectors::jam_vectors_dir};

#[test]
fn stf_history_vectors() {
    let root = jam_vectors_dir().join("stf").join("history");
    let mut files = Vec::new();
    for cfg in ["tiny", "full"] {
        for e in std::fs::read_dir(root.join(cfg)).expect("history vectors folder") {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "bin") {
                files.push(p);
            }
        }
    }
    files.sort();
    let outcomes: Vec<_> = files.iter().flat_map(|p| history::run_file(p)).collect();
    let failed: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for f in &failed {
        eprintln!("FAIL {}: {}", f.name, f.result.as_ref().unwrap_err());
    }
    let passed = outcomes.len() - failed.len();
    eprintln!(
        "stf/history vectors: {passed} passed, {} failed",
        failed.len()
    );
    assert_eq!(failed.len(), 0, "stf/history vectors failed");
    assert_eq!(passed, 8, "expected 8 stf/history cases");
}

/// The tiny JSON twins decode (serde) to the same cases as the binary files (codec).
#[test]
fn stf_history_json_twins_match_binaries() {
    let dir = jam_vectors_dir().join("stf").join("history").join("tiny");
    let params = jam_state::params::Params::tiny();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("history tiny vectors folder") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "bin") {
            let bin: history::TestCase =
                jam_state::codec::decode_exact(&std::fs::read(&p).unwrap(), &params)
                    .expect("decode .bin");
            let json: history::TestCase =
                serde_json::from_slice(&std::fs::read(p.with_extension("json")).unwrap())
                    .expect("parse .json");
            assert_eq!(bin, json, "{}", p.display());
            n += 1;
        }
    }
    assert!(n > 0);
}

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
