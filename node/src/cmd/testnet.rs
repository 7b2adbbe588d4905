//! `jam testnet`: a local testnet of dev validators in one process.

use super::run::{dial_addr, network_key, status_line, unix_ms, GENESIS_TIME_FIELD};
use super::CmdResult;
use crate::validator::{short, Node, NodeConfig, NodeStatus, PeerAddr, SlotClock};
use jam_consensus::bandersnatch::RingContext;
use jam_consensus::genesis::{chainspec_json, genesis_header, genesis_state};
use jam_consensus::validator_keys::{trivial_seed, ValidatorSecrets};
use jam_state::params::Params;
use jam_state::types::{TimeSlot, ValidatorData};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const AFTER_HELP: &str = "\
Writes BASE_PATH/chainspec.json (JIP-4, plus \"genesis_time_ms\") with a fresh genesis for N JIP-5
dev validators on the tiny parameters (V = 6; for another N, tiny with V = N and C = max(1, N/3)
cores), then runs the N validators as tasks of this process, validator i listening on
127.0.0.1:PORT_BASE+i (its endpoint in the genesis metadata) with its store in BASE_PATH/node-i
(recreated on every start). All validators connect to each other (JAMNP-S QUIC), author in their
slots, announce (UP 0; with --grid between grid neighbours only, blocks being re-announced after
import), fetch (CE 128) and import each other's blocks.

Tickets are off by default: ring proofs take seconds each (one proving thread per process) and
would hold up short slots; with --tickets, use slots of a few seconds.

Progress: one line per slot with each node's best and finalized block numbers. Finality is the
interim rule 'best - 2' (see `jam run --help`).

With --slots K the validators author in slots 1..=K only; the command then waits (at most 3
slots) for the nodes to agree, and exits 0 when every node has the same best and finalized
block, the same finalized chain, and the best chain has blocks in at least 90% of the K slots.
Its last line is then `best #B finalized #F on all N nodes`. Otherwise it exits 1.
Without --slots it runs until interrupted (Ctrl-C).";

#[derive(clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Number of validators.
    #[arg(long, default_value_t = 6)]
    validators: usize,
    /// Slot duration (default: the chain's P, 6 s).
    #[arg(long, value_name = "MS")]
    slot_duration_ms: Option<u64>,
    /// Stop after this many slots and check that the nodes agree.
    #[arg(long, value_name = "K")]
    slots: Option<u32>,
    /// Data folder (default: a fresh folder in the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    base_path: Option<PathBuf>,
    /// QUIC port of validator 0 (validator i uses PORT_BASE+i).
    #[arg(long, default_value_t = 40000)]
    port_base: u16,
    /// Make and include Safrole tickets (ticket-sealed epochs after the first).
    #[arg(long)]
    tickets: bool,
    /// UP 0 (block announcements) between grid neighbours only, blocks relayed by
    /// re-announcement; otherwise between every pair.
    #[arg(long)]
    grid: bool,
    /// Print every node's block, connection and error lines.
    #[arg(long, short)]
    verbose: bool,
}

/// The tiny parameters for `n` validators.
fn params_for(n: usize) -> Result<Params, String> {
    let mut p = Params::tiny();
    if n != p.validators() {
        if !(1..=1023).contains(&n) {
            return Err(format!("--validators {n}: 1 to 1023"));
        }
        p.validator_count = n as u16;
        p.core_count = (n / 3).max(1) as u16;
        p.name = format!("tiny-{n}");
    }
    Ok(p)
}

/// Each node's (best, finalized) block numbers, space separated.
fn heights(status: &[NodeStatus]) -> (String, String) {
    let f = |g: &dyn Fn(&NodeStatus) -> u32| {
        status
            .iter()
            .map(|s| format!("{:>3}", g(s)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    (f(&|s| s.best.height), f(&|s| s.finalized.height))
}

pub fn run(args: Args) -> CmdResult {
    let n = args.validators;
    let params = params_for(n)?;
    let slot_duration = Duration::from_millis(
        args.slot_duration_ms
            .unwrap_or(u64::from(params.slot_duration) * 1000)
            .max(1),
    );
    if usize::from(args.port_base) + n > 65536 {
        return Err("--port-base: the ports run past 65535".into());
    }
    let base = args.base_path.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("jam-testnet-{}", std::process::id()))
    });
    std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;

    // Genesis: the dev validators with their endpoints in the metadata.
    let ring = Arc::new(RingContext::new(params.validators()).map_err(|e| e.to_string())?);
    let keys: Vec<ValidatorSecrets> = (0..n as u32).map(ValidatorSecrets::dev).collect();
    let endpoint = |i: usize| {
        SocketAddrV6::new(
            Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
            args.port_base + i as u16,
            0,
            0,
        )
    };
    let vals: Vec<ValidatorData> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| k.validator_data_with_endpoint(endpoint(i)))
        .collect();
    let state = genesis_state(&params, &ring, &vals).map_err(|e| e.to_string())?;
    let header = genesis_header(&state);
    let peers: Vec<PeerAddr> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| PeerAddr {
            key: v.ed25519,
            addr: dial_addr(endpoint(i)),
        })
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ok = rt.block_on(async {
        let mut nodes = Vec::with_capacity(n);
        for (i, k) in keys.into_iter().enumerate() {
            let dir = base.join(format!("node-{i}"));
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let cfg = NodeConfig {
                name: format!("node {i}"),
                params: params.clone(),
                ring: ring.clone(),
                genesis_header: header.clone(),
                genesis_state: state.clone(),
                keys: k,
                network_key: network_key(&trivial_seed(i as u32)),
                base_path: dir,
                listen: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), args.port_base + i as u16),
                peers: peers.clone(),
                tickets: args.tickets,
                last_slot: args.slots,
                grid: args.grid,
                verbose: args.verbose,
            };
            nodes.push(Node::start(cfg).await?);
        }
        // Wait (at most 10 s) for the full mesh before starting the clocks.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10)
            && nodes.iter().any(|nd| nd.status().peers + 1 < n)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let connected: usize = nodes.iter().map(|nd| nd.status().peers).sum();

        // Slot 1 starts shortly.
        let genesis_time = SystemTime::now() + Duration::from_millis(300) - slot_duration;
        let clock = SlotClock {
            genesis_time,
            genesis_slot: header.slot,
            slot_duration,
        };
        let spec = chainspec_json("jam-testnet", &[], &params, &header, &state);
        let spec = spec.replacen(
            "{\n",
            &format!("{{\n  \"{GENESIS_TIME_FIELD}\": {},\n", unix_ms(genesis_time)),
            1,
        );
        let spec_path = base.join("chainspec.json");
        std::fs::write(&spec_path, spec).map_err(|e| format!("{}: {e}", spec_path.display()))?;
        println!(
            "testnet: {n} validators ({}), genesis {}, slot {} ms, tickets {}, {} of {} connections \
             up; chainspec {}; stores in {}",
            params.name,
            short(&header.hash()),
            slot_duration.as_millis(),
            if args.tickets { "on" } else { "off" },
            connected / 2,
            n * (n - 1) / 2,
            spec_path.display(),
            base.display()
        );
        for nd in nodes.iter_mut() {
            nd.start_clock(clock);
        }

        // One line per slot, near its end.
        let mut slot: TimeSlot = header.slot + 1;
        let last = args.slots.map(|k| header.slot + k);
        loop {
            SlotClock::sleep_until(clock.slot_start(slot) + slot_duration * 9 / 10).await;
            let status: Vec<NodeStatus> = nodes.iter().map(Node::status).collect();
            let (best, fin) = heights(&status);
            let peers: usize = status.iter().map(|s| s.peers).sum();
            let up0: usize = status.iter().map(|s| s.up0).sum();
            let authored: u32 = status.iter().map(|s| s.authored).sum();
            println!(
                "slot {slot:>4} | best {best} | finalized {fin} | blocks authored {authored:>4} | \
                 links {peers} up0 {up0}"
            );
            if last.is_some_and(|l| slot >= l) {
                break;
            }
            slot = slot.max(clock.now()) + 1;
        }
        let k = args.slots.unwrap_or_default();

        // Let the last blocks spread (at most 3 slots), then check agreement.
        let t0 = Instant::now();
        let agreed = |nodes: &[Node]| {
            let s: Vec<NodeStatus> = nodes.iter().map(Node::status).collect();
            s.iter()
                .all(|x| x.best.hash == s[0].best.hash && x.finalized.hash == s[0].finalized.hash)
        };
        while !agreed(&nodes) && t0.elapsed() < slot_duration * 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let status: Vec<NodeStatus> = nodes.iter().map(Node::status).collect();
        let mut problems = Vec::new();
        for (i, s) in status.iter().enumerate() {
            println!("node {i}: {}", status_line(s));
            if let Some(e) = &s.last_error {
                println!("node {i}: last error: {e}");
            }
        }
        let (b, f) = (status[0].best, status[0].finalized);
        if !agreed(&nodes) {
            problems.push("the nodes' best or finalized blocks differ".to_string());
        }
        let chain0 = nodes[0].canonical_prefix(f.height);
        if nodes.iter().any(|nd| nd.canonical_prefix(f.height) != chain0) {
            problems.push("the nodes' finalized chains differ".to_string());
        }
        let blocks = b.height; // blocks after the genesis on the best chain
        if u64::from(blocks) * 10 < u64::from(k) * 9 {
            problems.push(format!(
                "blocks in only {blocks} of {k} slots (90% required)"
            ));
        }
        for mut nd in nodes {
            nd.shutdown();
        }
        if problems.is_empty() {
            println!("best #{} finalized #{} on all {n} nodes", b.height, f.height);
            Ok::<bool, String>(true)
        } else {
            for p in problems {
                println!("error: {p}");
            }
            Ok(false)
        }
    })?;
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
