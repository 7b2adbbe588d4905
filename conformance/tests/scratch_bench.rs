use jam_consensus::import::{import_block, ImportContext};
use jam_state::codec::decode_exact;
use jam_state::params::Params;
use jam_state::trace::TraceStep;
#[test]
fn scratch_bench() {
    let p = Params::tiny();
    let set = std::env::var("SET").unwrap_or("fallback/00000005.bin".into());
    let path = jam_conformance::vectors::jam_vectors_dir().join("traces").join(&set);
    let step: TraceStep = decode_exact(&std::fs::read(path).unwrap(), &p).unwrap();
    let pre = step.pre_state.to_state(&p).unwrap();
    let mut ctx = ImportContext::new(&p).unwrap();
    ctx.prior_state_root = Some(step.pre_state.state_root);
    let n = 50;
    let t = std::time::Instant::now();
    for _ in 0..n { import_block(&p, &ctx, &pre, &step.block).unwrap(); }
    println!("{set}: {:.3} ms per import", t.elapsed().as_secs_f64() * 1e3 / n as f64);
}
