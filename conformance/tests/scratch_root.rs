use jam_state::codec::decode_exact;
use jam_state::params::Params;
use jam_state::trace::{RawState, TraceStep};
#[test]
fn scratch_root() {
    let p = Params::tiny();
    let path = jam_conformance::vectors::jam_vectors_dir().join("traces/fallback/00000001.bin");
    let step: TraceStep = decode_exact(&std::fs::read(path).unwrap(), &p).unwrap();
    println!("given {:?}", step.post_state.state_root);
    println!("computed {:?}", step.post_state.computed_root());
    let st = step.post_state.to_state(&p).unwrap();
    let r = RawState::from_state(&st);
    println!(
        "from_state {:?} same kv {}",
        r.state_root,
        r.keyvals == step.post_state.keyvals
    );
    println!(
        "state.state_root {:?}",
        jam_state::types::OpaqueHash(st.state_root())
    );
}
