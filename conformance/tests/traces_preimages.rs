//! The preimages sub-transition checked on every block-import trace step (until full import covers it).

mod common;

/// A raw trace state seen as a [`PreimageState`] (GP D.2 service keys `C(s, h)`).
struct RawAccounts<'a> {
    state: &'a common::traces::RawState,
    params: &'a jam_state::params::Params,
}

fn service_key(s: u32, h: &[u8]) -> [u8; 31] {
    let n = s.to_le_bytes();
    let a = jam_state::hash::blake2b_256(h);
    let mut k = [0u8; 31];
    for i in 0..4 {
        k[2 * i] = n[i];
        k[2 * i + 1] = a[i];
    }
    k[8..].copy_from_slice(&a[4..27]);
    k
}

fn blob_key(s: u32, hash: &jam_state::types::OpaqueHash) -> [u8; 31] {
    let mut h = (u32::MAX - 1).to_le_bytes().to_vec();
    h.extend_from_slice(hash.as_bytes());
    service_key(s, &h)
}

fn lookup_key(s: u32, hash: &jam_state::types::OpaqueHash, len: u32) -> [u8; 31] {
    let mut h = len.to_le_bytes().to_vec();
    h.extend_from_slice(hash.as_bytes());
    service_key(s, &h)
}

fn raw<'s>(state: &'s common::traces::RawState, key: &[u8; 31]) -> Option<&'s [u8]> {
    state
        .keyvals
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

impl jam_consensus::preimages::PreimageState for RawAccounts<'_> {
    fn has_preimage(&self, s: u32, hash: &jam_state::types::OpaqueHash) -> bool {
        raw(self.state, &blob_key(s, hash)).is_some()
    }
    fn lookup(&self, s: u32, hash: &jam_state::types::OpaqueHash, len: u32) -> Option<Vec<u32>> {
        let v = raw(self.state, &lookup_key(s, hash, len))?;
        Some(jam_state::codec::decode_exact(v, self.params).expect("lookup value"))
    }
    fn provide(&mut self, _: u32, _: jam_state::types::OpaqueHash, _: &[u8], _: u32) {
        unreachable!("read-only view")
    }
}

/// On every block-import trace step with preimages, E_P passes the check against the pre-state δ,
/// and the post-state holds each blob and the lookup entry `[τ']`.
#[test]
fn preimages_match_block_import_traces() {
    use jam_state::types::OpaqueHash;
    let params = jam_state::params::Params::tiny();
    let mut items = 0;
    for p in common::traces::step_files() {
        let step = common::traces::load_step(&p, &params);
        let ep = &step.block.extrinsic.preimages;
        if ep.is_empty() {
            continue;
        }
        let view = RawAccounts {
            state: &step.pre_state,
            params: &params,
        };
        let hashes = jam_consensus::preimages::check(&view, ep)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        for (item, hash) in ep.iter().zip(&hashes) {
            assert_eq!(*hash, OpaqueHash(jam_state::hash::blake2b_256(&item.blob)));
            assert_eq!(
                raw(&step.post_state, &blob_key(item.requester, hash)),
                Some(item.blob.as_slice())
            );
            let lookup = raw(
                &step.post_state,
                &lookup_key(item.requester, hash, item.blob.len() as u32),
            )
            .expect("lookup entry");
            let slots: Vec<u32> = jam_state::codec::decode_exact(lookup, &params).unwrap();
            assert_eq!(slots, vec![step.block.header.slot], "{}", p.display());
            items += 1;
        }
    }
    assert!(items > 0, "no trace step carries preimages");
    eprintln!("preimages: {items} trace preimages integrated as expected");
}
