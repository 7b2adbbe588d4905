mod common;
use common::traces::*;
use jam_consensus::import::*;
use jam_consensus::safrole::*;
use jam_consensus::bandersnatch::RingContext;
use jam_state::params::Params;
use jam_state::types::*;
use jam_state::keys::component as c;

#[test]
fn scratch_header() {
    let p = Params::tiny();
    let ring = RingContext::new(p.validators()).unwrap();
    let mut n = 0;
    for f in step_files() {
        let s = f.to_string_lossy();
        if !(s.contains("/safrole/") || s.contains("/fallback/") || s.contains("storage_light/0000000")) { continue; }
        let step = load_step(&f, &p);
        let b = &step.block;
        let xh = extrinsic_hash(&b.extrinsic);
        assert_eq!(xh, b.header.extrinsic_hash, "{s}");
        let pre = &step.pre_state;
        let st = SafroleState {
            tau: pre.component(c::TIMESLOT, &p).unwrap(),
            eta: pre.component(c::ENTROPY, &p).unwrap(),
            lambda: pre.component(c::PREVIOUS_VALIDATORS, &p).unwrap(),
            kappa: pre.component(c::ACTIVE_VALIDATORS, &p).unwrap(),
            iota: pre.component(c::STAGING_VALIDATORS, &p).unwrap(),
            ..Default::default()
        };
        let gamma: ((ValidatorsData, BandersnatchRingCommitment), (TicketsOrKeys, TicketsAccumulator)) = pre.component(c::SAFROLE, &p).unwrap(); let gamma = (gamma.0.0, gamma.0.1, gamma.1.0, gamma.1.1);
        let st = SafroleState { gamma_k: gamma.0, gamma_z: gamma.1, gamma_s: gamma.2, gamma_a: gamma.3, ..st };
        let y = jam_consensus::bandersnatch::vrf_output(&b.header.entropy_source.0).unwrap();
        let (post, out) = transition(&p, &ring, &st, &SafroleInput { slot: b.header.slot, entropy: OpaqueHash(y), extrinsic: &b.extrinsic.tickets, post_offenders: &[] }).unwrap();
        assert_eq!(out.epoch_mark, b.header.epoch_mark, "{s}");
        assert_eq!(out.tickets_mark, b.header.tickets_mark, "{s}");
        let sealer = slot_sealer(&p, &post.gamma_s, b.header.slot).unwrap();
        let ak = post.kappa[b.header.author_index as usize].bandersnatch;
        let r = verify_seal_and_entropy(&b.header, &ak, &sealer, &post.eta[3]);
        assert_eq!(r, Ok(OpaqueHash(y)), "{s}");
        n += 1;
    }
    println!("checked {n}");
}
