//! Safrole authoring end to end (GP v0.7.2 §6; JIP-5 dev keys): dev validators author and import a tiny chain across epochs, fallback- and ticket-sealed.

use jam_consensus::author::{
    author_block, claim_slot, find_sealer, seal_header, tickets_for_slot, SlotClaim,
};
use jam_consensus::bandersnatch::RingContext;
use jam_consensus::genesis::{genesis_header, genesis_state, with_validators};
use jam_consensus::import::{import_block, ImportContext, ImportError};
use jam_consensus::validator_keys::{dev_endpoint, dev_validators, ValidatorSecrets};
use jam_state::codec::decode_exact;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::trace::{Genesis, TraceStep};
use jam_state::types::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The public test vectors: `JAM_TEST_VECTORS`, or `../shared/jam-test-vectors` beside the
/// repository root.
fn vectors_dir() -> PathBuf {
    let dir = std::env::var_os("JAM_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/jam-test-vectors")
        });
    assert!(
        dir.is_dir(),
        "test vectors not found at {} (set JAM_TEST_VECTORS)",
        dir.display()
    );
    dir
}

fn read(rel: &str) -> Vec<u8> {
    let p = vectors_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The JIP-5 dev validators are the validators of the tiny vectors, in order.
#[test]
fn dev_keys_are_the_tiny_vector_validators() {
    let params = Params::tiny();
    let keys = dev_validators(params.validators());
    let expected: Vec<(BandersnatchPublic, Ed25519Public)> = keys
        .iter()
        .map(|k| (k.bandersnatch_public(), k.ed25519_public()))
        .collect();
    let pairs = |m: &EpochMark| -> Vec<(BandersnatchPublic, Ed25519Public)> {
        m.validators
            .iter()
            .map(|v| (v.bandersnatch, v.ed25519))
            .collect()
    };

    // codec/tiny/header_0: the epoch marker's validators.
    let header: Header = decode_exact(&read("codec/tiny/header_0.bin"), &params).unwrap();
    assert_eq!(pairs(header.epoch_mark.as_ref().unwrap()), expected);

    // traces/*/genesis.bin: the genesis header's marker and κ, λ, γ_k, ι of the genesis state.
    for set in ["safrole", "fallback", "storage"] {
        let g: Genesis =
            decode_exact(&read(&format!("traces/{set}/genesis.bin")), &params).unwrap();
        assert_eq!(
            pairs(g.header.epoch_mark.as_ref().unwrap()),
            expected,
            "{set}"
        );
        let state = g.state.to_state(&params).unwrap();
        for (name, set_keys) in [
            ("kappa", &state.active_validators),
            ("lambda", &state.previous_validators),
            ("gamma_k", &state.safrole.gamma_k),
            ("iota", &state.staging_validators),
        ] {
            let got: Vec<_> = set_keys
                .iter()
                .map(|v| (v.bandersnatch, v.ed25519))
                .collect();
            assert_eq!(got, expected, "{set} {name}");
        }
    }
}

/// What a run of the dev chain saw.
#[derive(Debug, Default)]
struct RunStats {
    blocks: usize,
    ticket_sealed: usize,
    tickets_included: usize,
    tickets_marks: usize,
    epoch_marks: usize,
    /// Seconds spent making tickets, finding the sealer, authoring and importing.
    secs: [f64; 4],
}

/// Runs the 6 dev validators from `state` (after `parent`) through `slots`: each slot, exactly
/// one validator must hold it; it authors, and the block must import. Ticket envelopes of all
/// validators are offered for the contests of the epochs in `ticket_epochs`.
fn run_chain(
    params: &Params,
    ring: &Arc<RingContext>,
    keys: &[ValidatorSecrets],
    mut state: State,
    mut parent: HeaderHash,
    slots: std::ops::RangeInclusive<TimeSlot>,
    ticket_epochs: &[TimeSlot],
) -> (State, RunStats) {
    let e = params.epoch_length;
    let mut stats = RunStats::default();
    let mut pool: Vec<TicketEnvelope> = Vec::new();
    let mut pool_epoch: Option<TimeSlot> = None;
    for slot in slots {
        let epoch = slot / e;
        // Tickets for the next epoch, made for this epoch's first block (η'_2, γ'_k).
        let t0 = Instant::now();
        if pool_epoch != Some(epoch) {
            pool.clear();
            if ticket_epochs.contains(&epoch) {
                for k in keys {
                    pool.extend(tickets_for_slot(params, ring, &state, slot, k).unwrap());
                }
            }
            pool_epoch = Some(epoch);
        }

        let t1 = Instant::now();
        let claims: Vec<usize> = (0..keys.len())
            .filter(|&i| {
                claim_slot(params, ring, &state, slot, &keys[i])
                    .unwrap()
                    .is_some()
            })
            .collect();
        assert_eq!(claims.len(), 1, "slot {slot}: claimed by {claims:?}");
        let author = claims[0];
        let (found, _) = find_sealer(params, ring, &state, slot, keys)
            .unwrap()
            .expect("a sealer");
        assert_eq!(found, author);
        let t2 = Instant::now();
        let block = author_block(params, ring, &state, parent, slot, &keys[author], &pool)
            .unwrap()
            .expect("the claimant authors");

        let t3 = Instant::now();
        let mut ctx = ImportContext::with_ring(ring.clone());
        ctx.parent_hash = Some(parent);
        let (post, out) = import_block(params, &ctx, &state, &block)
            .unwrap_or_else(|err| panic!("slot {slot} by validator {author}: {err}"));
        assert_eq!(out.header_hash, block.header.hash());
        let t4 = Instant::now();
        for (i, (a, b)) in [(t0, t1), (t1, t2), (t2, t3), (t3, t4)]
            .into_iter()
            .enumerate()
        {
            stats.secs[i] += (b - a).as_secs_f64();
        }

        stats.blocks += 1;
        stats.tickets_included += block.extrinsic.tickets.len();
        stats.tickets_marks += usize::from(block.header.tickets_mark.is_some());
        stats.epoch_marks += usize::from(block.header.epoch_mark.is_some());
        if matches!(post.safrole.gamma_s, TicketsOrKeys::Tickets(_)) {
            stats.ticket_sealed += 1;
        }
        pool.retain(|t| !block.extrinsic.tickets.contains(t));
        parent = out.header_hash;
        state = post;
    }
    (state, stats)
}

/// Three epochs (and the first block of a fourth) of the dev chain: epoch 0 is fallback-sealed
/// from genesis, its contest fills γ_a so epochs 1 and 2 are ticket-sealed; no tickets are
/// offered in epoch 2, so epoch 3 falls back again.
#[test]
fn dev_chain_three_epochs() {
    let params = Params::tiny();
    let e = params.epoch_length;
    let ring = Arc::new(RingContext::new(params.validators()).unwrap());
    let keys = dev_validators(params.validators());
    let vals: Vec<ValidatorData> = keys.iter().map(|k| k.validator_data()).collect();
    let genesis = genesis_state(&params, &ring, &vals).unwrap();
    let parent = genesis_header(&genesis).hash();

    let last = 3 * e;
    let (state, stats) = run_chain(&params, &ring, &keys, genesis, parent, 1..=last, &[0, 1]);
    eprintln!("{stats:?}");
    assert_eq!(state.timeslot, last);
    // A block in every slot (≥ 90% required).
    assert!(stats.blocks * 10 >= last as usize * 9);
    assert_eq!(stats.blocks, last as usize);
    // Epochs 1 and 2 are ticket-sealed; 0 and 3 fall back.
    assert_eq!(stats.ticket_sealed, 2 * e as usize);
    assert!(matches!(state.safrole.gamma_s, TicketsOrKeys::Keys(_)));
    // A full accumulator in the contests of epochs 0 and 1, announced once each.
    assert!(stats.tickets_included >= 2 * e as usize);
    assert_eq!(stats.tickets_marks, 2);
    assert_eq!(stats.epoch_marks, 3);
}

/// Authoring on the public traces' genesis (bootstrap service, auth queues): its validators
/// are the dev validators, so they can extend it (the rebuilt validator components equal the
/// template's up to γ_s, which is recomputed as the fallback keys).
#[test]
fn dev_chain_on_trace_genesis() {
    let params = Params::tiny();
    let ring = Arc::new(RingContext::new(params.validators()).unwrap());
    let keys = dev_validators(params.validators());
    let g: Genesis = decode_exact(&read("traces/fallback/genesis.bin"), &params).unwrap();
    let template = g.state.to_state(&params).unwrap();
    // The traces' validators carry their endpoints in the metadata.
    let vals: Vec<ValidatorData> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| k.validator_data_with_endpoint(dev_endpoint(i as u16)))
        .collect();
    let state = with_validators(&params, &ring, template.clone(), &vals).unwrap();
    for (a, b) in [
        (&state.active_validators, &template.active_validators),
        (&state.previous_validators, &template.previous_validators),
        (&state.staging_validators, &template.staging_validators),
        (&state.safrole.gamma_k, &template.safrole.gamma_k),
    ] {
        assert_eq!(a, b);
    }
    assert_eq!(state.safrole.gamma_z, template.safrole.gamma_z);
    // The traces' genesis γ_s is F(tickets_entropy of its header's marker, κ); ours is
    // F(η_2, κ) of the state (their genesis state's η_2 differs from that marker).
    let mark = g.header.epoch_mark.as_ref().unwrap();
    let f = jam_consensus::safrole::fallback_keys(&params, &mark.tickets_entropy, &vals);
    assert_eq!(TicketsOrKeys::Keys(f.into()), template.safrole.gamma_s);
    let start = state.timeslot;

    // A block sealed by anyone but the slot's holder does not import.
    let slot = start + 1;
    let (holder, claim) = find_sealer(&params, &ring, &state, slot, &keys)
        .unwrap()
        .unwrap();
    let good = author_block(
        &params,
        &ring,
        &state,
        g.header.hash(),
        slot,
        &keys[holder],
        &[],
    )
    .unwrap()
    .unwrap();
    let other = (holder + 1) % keys.len();
    let mut forged = good.clone();
    forged.header.author_index = other as ValidatorIndex;
    let forged_claim = SlotClaim {
        author_index: other as ValidatorIndex,
        ..claim
    };
    seal_header(&mut forged.header, &keys[other], &forged_claim).unwrap();
    let ctx = ImportContext::with_ring(ring.clone());
    assert_eq!(
        import_block(&params, &ctx, &state, &forged).unwrap_err(),
        ImportError::BadSeal
    );
    assert!(import_block(&params, &ctx, &state, &good).is_ok());

    let (end, stats) = run_chain(
        &params,
        &ring,
        &keys,
        state,
        g.header.hash(),
        start + 1..=start + 4,
        &[],
    );
    assert_eq!(stats.blocks, 4);
    assert_eq!(end.timeslot, start + 4);
}

/// The dev validators re-author the public traces' blocks byte for byte: the IETF VRF
/// signatures are deterministic, so a block with the same parent, slot, author and extrinsic
/// must come out identical (the trace's tickets are offered as the pool).
#[test]
fn reauthors_trace_blocks() {
    let params = Params::tiny();
    let ring = Arc::new(RingContext::new(params.validators()).unwrap());
    let keys = dev_validators(params.validators());
    let (mut compared, mut with_tickets, mut ticket_sealed) = (0, 0, 0);
    for (set, steps) in [("fallback", 1..=24), ("safrole", 1..=100)] {
        for n in steps {
            let step: TraceStep =
                decode_exact(&read(&format!("traces/{set}/{n:08}.bin")), &params).unwrap();
            let ext = &step.block.extrinsic;
            if !(ext.guarantees.is_empty()
                && ext.assurances.is_empty()
                && ext.preimages.is_empty()
                && ext.disputes == DisputesExtrinsic::default())
            {
                continue;
            }
            let pre = step.pre_state.to_state(&params).unwrap();
            let h = &step.block.header;
            let author = &keys[h.author_index as usize];
            let block = author_block(&params, &ring, &pre, h.parent, h.slot, author, &ext.tickets)
                .unwrap()
                .unwrap_or_else(|| {
                    panic!("{set}/{n}: validator {} holds the slot", h.author_index)
                });
            assert_eq!(block, step.block, "{set}/{n}");
            compared += 1;
            with_tickets += usize::from(!ext.tickets.is_empty());
            let post = step.post_state.to_state(&params).unwrap();
            ticket_sealed += usize::from(matches!(post.safrole.gamma_s, TicketsOrKeys::Tickets(_)));
        }
    }
    eprintln!(
        "{compared} blocks re-authored, {with_tickets} with tickets, {ticket_sealed} ticket-sealed"
    );
    assert!(compared >= 120, "{compared} blocks compared");
    assert!(with_tickets > 0 && ticket_sealed > 0);
}
