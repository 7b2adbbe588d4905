use jam_consensus::import::{import_block, ImportContext};
use jam_state::codec::{decode_exact, Decode, Reader};
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::trace::KeyValue;
use jam_state::types::{Block, Header};

#[test]
#[ignore]
fn dbg_no_forks() {
    let p = Params::tiny();
    let dir = std::path::Path::new("/work/shared/fuzz-proto/examples/no_forks");
    let init = std::fs::read(dir.join("00000001_fuzzer_initialize.bin")).unwrap();
    let mut r = Reader::new(&init[1..], &p);
    let _h = Header::decode(&mut r).unwrap();
    let kvs: Vec<KeyValue> = Vec::decode(&mut r).unwrap();
    let pairs: Vec<_> = kvs.iter().map(|kv| (kv.key, kv.value.as_slice())).collect();
    let mut st = State::from_key_values(&pairs, &p).unwrap();
    let ctx = ImportContext::new(&p).unwrap();
    for i in 2..=52 {
        let b = std::fs::read(dir.join(format!("{i:08}_fuzzer_import_block.bin"))).unwrap();
        let block: Block = decode_exact(&b[1..], &p).unwrap();
        let (post, out) = import_block(&p, &ctx, &st, &block).unwrap();
        if i >= 50 {
            let e = &block.extrinsic;
            eprintln!("msg {i} slot {} tickets {} preimages {} guarantees {} assurances {} disputes v{} c{} f{} accumulated {} available {}",
                block.header.slot, e.tickets.len(), e.preimages.len(), e.guarantees.len(), e.assurances.len(),
                e.disputes.verdicts.len(), e.disputes.culprits.len(), e.disputes.faults.len(), out.accumulated_reports, out.available.len());
            let ch = post.changes_since(&st);
            for (k, v) in &ch.set { eprintln!("  set {} ({} bytes)", hex::encode(k), v.len()); }
            for k in &ch.removed { eprintln!("  removed {}", hex::encode(k)); }
        }
        st = post;
    }
}
