//! `jam testnet`: a local testnet of dev validators in one process.

use super::load::{LoadPlan, LoadStats};
use super::run::{dial_addr, network_key, start_rpc, status_line, unix_ms, GENESIS_TIME_FIELD};
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
use tokio::sync::watch;

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
Without --slots it runs until interrupted (Ctrl-C).

Load: with --load RATE, from slot 2 on, RATE demo-service work packages per second are
submitted over the nodes' JIP-2 RPC (`submitWorkPackage`, round robin over the cores and the
nodes; a node not assigned to the core forwards the package to one that is, CE 133) and each is
followed (`workPackageStatus`) until accumulated. The slot lines then end with
`pkgs A/S` (accumulated / submitted). With --slots K, submission stops 3 slots before the end
and the run prints the packages accumulated per second and the time from submission to each
stage (refined, guaranteed, available, accumulated: p50, p90, max); it fails if none was
accumulated.

Resilience: with --stop-node I --stop-at-slot S --stop-for K, validator I (and its RPC server)
is shut down just before slot S (connections closed, store closed) and started again just
before slot S+K from the same store (BASE_PATH/node-I), so it is down for slots S..S+K-1. On
restart it resumes at its stored best block, reconnects, and catches up by fetching the blocks
it missed (CE 128) from its peers' handshakes and announcements. While it is down its column
shows `-`. Extra lines: `outage: ...` at the stop and restart (blocks the others authored
meanwhile), and `catch-up: ...` once it has the others' best block of the restart time. With
--slots, the run also fails when the others authored nothing during the outage or the node did
not catch up, and the 90% rule counts only the slots outside the outage.";

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
    /// Stop this validator for a while and restart it from its store (see below).
    #[arg(long, value_name = "I", requires_all = ["stop_at_slot", "stop_for"])]
    stop_node: Option<usize>,
    /// The first slot the stopped validator misses (1 = the first slot after genesis).
    #[arg(long, value_name = "S", requires = "stop_node")]
    stop_at_slot: Option<u32>,
    /// How many slots the stopped validator stays down.
    #[arg(long, value_name = "K", requires = "stop_node")]
    stop_for: Option<u32>,
    /// JIP-2 RPC (WebSocket) port of validator 0 on 127.0.0.1 (validator i: RPC_PORT_BASE+i).
    #[arg(long, default_value_t = crate::rpc::RPC_PORT_BASE, value_name = "RPC_PORT_BASE")]
    rpc_port_base: u16,
    /// Do not start the RPC servers.
    #[arg(long, conflicts_with = "load")]
    no_rpc: bool,
    /// Keep submitting demo-service work packages, RATE per second in all (see below).
    #[arg(long, value_name = "RATE")]
    load: Option<f64>,
}

/// Why a testnet could not run as asked.
#[derive(Debug, thiserror::Error)]
pub enum TestnetError {
    #[error("--stop-node {node}: only validators 0..{n} exist")]
    NoSuchNode { node: usize, n: usize },
    #[error("--stop-at-slot and --stop-for must be at least 1")]
    EmptyOutage,
    #[error("the outage (slots {from}..={to}) must end before the last slot {last}")]
    OutagePastEnd { from: u32, to: u32, last: u32 },
    #[error("restarting node {node}: {reason}")]
    Restart { node: usize, reason: String },
}

/// A planned outage of one validator: down for slots `from..until` (relative to genesis).
#[derive(Clone, Copy, Debug)]
struct Outage {
    node: usize,
    from: u32,
    until: u32,
}

impl Outage {
    /// The outage asked for on the command line, checked against the run's shape.
    fn from_args(args: &Args, n: usize) -> Result<Option<Outage>, TestnetError> {
        let (Some(node), Some(from), Some(k)) = (args.stop_node, args.stop_at_slot, args.stop_for)
        else {
            return Ok(None);
        };
        if node >= n {
            return Err(TestnetError::NoSuchNode { node, n });
        }
        if from == 0 || k == 0 {
            return Err(TestnetError::EmptyOutage);
        }
        let until = from.saturating_add(k);
        if let Some(last) = args.slots.filter(|&l| until > l) {
            return Err(TestnetError::OutagePastEnd {
                from,
                to: until - 1,
                last,
            });
        }
        Ok(Some(Outage { node, from, until }))
    }
}

/// What the run saw of an outage.
#[derive(Debug, Default)]
struct OutageLog {
    /// The stopped node's `authored` counter when it stopped (kept in the slot lines' total).
    stopped_authored: u32,
    /// The others' summed `authored` counters and best height when the node stopped.
    authored_at_stop: u32,
    best_at_stop: u32,
    /// Blocks the others authored while the node was down.
    authored_during: Option<u32>,
    /// When the node restarted, and the others' best height then (the catch-up target).
    restarted: Option<(Instant, u32)>,
    /// How long the restarted node took to reach the target.
    caught_up: Option<Duration>,
}

/// Starts a node, retrying for a few seconds while its previous instance still holds the
/// store lock or the UDP port.
async fn start_node(cfg: impl Fn() -> NodeConfig, node: usize) -> Result<Node, TestnetError> {
    let t0 = Instant::now();
    loop {
        match Node::start(cfg()).await {
            Ok(nd) => return Ok(nd),
            Err(reason) if t0.elapsed() >= Duration::from_secs(5) => {
                return Err(TestnetError::Restart { node, reason })
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
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

/// Each node's (best, finalized) block numbers, space separated (`-` for a stopped node).
fn heights(status: &[Option<NodeStatus>]) -> (String, String) {
    let f = |g: &dyn Fn(&NodeStatus) -> u32| {
        status
            .iter()
            .map(|s| match s {
                Some(s) => format!("{:>3}", g(s)),
                None => format!("{:>3}", "-"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    (f(&|s| s.best.height), f(&|s| s.finalized.height))
}

pub fn run(args: Args) -> CmdResult {
    let n = args.validators;
    let params = params_for(n)?;
    let outage = Outage::from_args(&args, n)?;
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
    // Node i's configuration (also for a restart: same keys, same store).
    let config = |i: usize| NodeConfig {
        name: format!("node {i}"),
        params: params.clone(),
        ring: ring.clone(),
        genesis_header: header.clone(),
        genesis_state: state.clone(),
        keys: keys[i].clone(),
        network_key: network_key(&trivial_seed(i as u32)),
        base_path: base.join(format!("node-{i}")),
        listen: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), args.port_base + i as u16),
        peers: peers.clone(),
        tickets: args.tickets,
        last_slot: args.slots,
        grid: args.grid,
        verbose: args.verbose,
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ok = rt.block_on(async {
        let mut nodes: Vec<Option<Node>> = Vec::with_capacity(n);
        // Node i's RPC server (none with --no-rpc), restarted with the node.
        let rpc_addr = |i: usize| {
            let port = args.rpc_port_base.checked_add(i as u16)?;
            (!args.no_rpc).then(|| SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port))
        };
        if !args.no_rpc && args.rpc_port_base.checked_add(n as u16 - 1).is_none() {
            return Err("--rpc-port-base: the ports run past 65535".into());
        }
        let mut rpcs = Vec::with_capacity(n);
        for i in 0..n {
            let dir = base.join(format!("node-{i}"));
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let mut node = Node::start(config(i)).await?;
            rpcs.push(match rpc_addr(i) {
                Some(addr) => Some(start_rpc(&format!("node {i}"), &mut node, addr).await?),
                None => None,
            });
            nodes.push(Some(node));
        }
        let statuses = |nodes: &[Option<Node>]| -> Vec<Option<NodeStatus>> {
            nodes.iter().map(|nd| nd.as_ref().map(Node::status)).collect()
        };
        // Wait (at most 10 s) for the full mesh before starting the clocks.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10)
            && statuses(&nodes).iter().flatten().any(|s| s.peers + 1 < n)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let connected: usize = statuses(&nodes).iter().flatten().map(|s| s.peers).sum();

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
        if let Some(o) = outage {
            println!(
                "testnet: node {} will be down for slots {}..={} (restarted from its store)",
                o.node,
                o.from,
                o.until - 1
            );
        }
        for nd in nodes.iter_mut().flatten() {
            nd.start_clock(clock);
        }
        let load = args.load.map(|rate| {
            let at = |slot: u32| {
                let wait = clock.slot_start(slot).duration_since(SystemTime::now());
                Instant::now() + wait.unwrap_or_default()
            };
            let plan = LoadPlan {
                urls: (0..n)
                    .map(|i| format!("ws://127.0.0.1:{}", args.rpc_port_base + i as u16))
                    .collect(),
                cores: params.core_count,
                rate,
                submit_until: args.slots.map(|k| at(header.slot + k.saturating_sub(2))),
                drain: args.slots.map(|k| at(header.slot + k + 1)),
            };
            let (tx, rx) = watch::channel(LoadStats::default());
            let start = at(header.slot + 2);
            let task = tokio::spawn({
                let plan = plan.clone();
                async move {
                    tokio::time::sleep_until(start.into()).await;
                    super::load::run(plan, tx).await
                }
            });
            (plan, rx, task, start)
        });

        // The others' (summed authored counters, best height).
        let others = |nodes: &[Option<Node>], me: usize| {
            let s: Vec<NodeStatus> = nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != me)
                .filter_map(|(_, nd)| nd.as_ref().map(Node::status))
                .collect();
            (
                s.iter().map(|x| x.authored).sum::<u32>(),
                s.iter().map(|x| x.best.height).max().unwrap_or_default(),
            )
        };
        let mut log = OutageLog::default();

        // One line per slot, near its end; the outage's stop and restart just after the line
        // of the slot before.
        let mut slot: TimeSlot = header.slot + 1;
        let last = args.slots.map(|k| header.slot + k);
        loop {
            let line_at = clock.slot_start(slot) + slot_duration * 9 / 10;
            // While a restarted node catches up, look every 5 ms for when it is done.
            while let (Some(o), Some((since, target)), None) =
                (outage, log.restarted, log.caught_up)
            {
                let at = nodes[o.node].as_ref().map(|nd| nd.status().best.height);
                if at.is_some_and(|h| h >= target) {
                    log.caught_up = Some(since.elapsed());
                    let imported = nodes[o.node].as_ref().map_or(0, |nd| nd.status().imported);
                    println!(
                        "catch-up: node {} reached #{target} {} ms after its restart ({imported} \
                         blocks imported)",
                        o.node,
                        since.elapsed().as_millis()
                    );
                    break;
                }
                if SystemTime::now() >= line_at {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            SlotClock::sleep_until(line_at).await;
            let status = statuses(&nodes);
            let (best, fin) = heights(&status);
            let up: Vec<&NodeStatus> = status.iter().flatten().collect();
            let peers: usize = up.iter().map(|s| s.peers).sum();
            let up0: usize = up.iter().map(|s| s.up0).sum();
            let authored: u32 = up.iter().map(|s| s.authored).sum::<u32>() + log.stopped_authored;
            let pkgs = load.as_ref().map_or(String::new(), |(_, rx, _, _)| {
                let s = rx.borrow();
                format!(" | pkgs {}/{}", s.accumulated, s.submitted)
            });
            println!(
                "slot {slot:>4} | best {best} | finalized {fin} | blocks authored {authored:>4} | \
                 links {peers} up0 {up0}{pkgs}"
            );
            // The next line's slot (taken before a restart, which may run into it).
            let next = slot.max(clock.now()) + 1;
            if let Some(o) = outage {
                let rel = slot - header.slot;
                if rel + 1 == o.from {
                    if let Some(mut nd) = nodes[o.node].take() {
                        let s = nd.status();
                        nd.shutdown();
                        drop(nd);
                        rpcs[o.node] = None;
                        log.stopped_authored = s.authored;
                        (log.authored_at_stop, log.best_at_stop) = others(&nodes, o.node);
                        println!(
                            "outage: node {} stopped at best #{} (others at #{})",
                            o.node, s.best.height, log.best_at_stop
                        );
                    }
                } else if rel + 1 == o.until && nodes[o.node].is_none() {
                    let (a, b) = others(&nodes, o.node);
                    let during = a - log.authored_at_stop;
                    log.authored_during = Some(during);
                    println!(
                        "outage: the others authored {during} blocks (best #{} -> #{b}) while \
                         node {} was down; restarting it",
                        log.best_at_stop, o.node
                    );
                    let t = Instant::now();
                    let mut nd = start_node(|| config(o.node), o.node).await?;
                    if let Some(addr) = rpc_addr(o.node) {
                        rpcs[o.node] = Some(start_rpc(&format!("node {}", o.node), &mut nd, addr).await?);
                    }
                    nd.start_clock(clock);
                    nodes[o.node] = Some(nd);
                    log.restarted = Some((Instant::now(), b));
                    println!(
                        "outage: node {} restarted in {} ms",
                        o.node,
                        t.elapsed().as_millis()
                    );
                }
            }
            if last.is_some_and(|l| slot >= l) {
                break;
            }
            slot = next;
        }
        let k = args.slots.unwrap_or_default();
        let nodes: Vec<Node> = nodes.into_iter().flatten().collect();
        let mut problems = Vec::new();
        if let Some((plan, rx, task, start)) = load {
            match tokio::time::timeout(slot_duration * 2, task).await {
                Ok(Ok(Ok(()))) | Err(_) => {}
                Ok(Ok(Err(e))) => problems.push(format!("load: {e}")),
                Ok(Err(e)) => problems.push(format!("load: {e}")),
            }
            let s = rx.borrow().clone();
            let window = plan
                .submit_until
                .map_or(start.elapsed(), |t| t.saturating_duration_since(start));
            print!("{}", super::load::report(&plan, &s, window));
            if s.accumulated == 0 {
                problems.push("load: no package was accumulated".to_string());
            }
        }

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
        for (i, s) in status.iter().enumerate() {
            println!("node {i}: {}", status_line(s));
            if let Some(e) = &s.last_error {
                println!("node {i}: last error: {e}");
            }
        }
        let (b, f) = (status[0].best, status[0].finalized);
        if nodes.len() < n {
            problems.push("a stopped node was not restarted".to_string());
        }
        if !agreed(&nodes) {
            problems.push("the nodes' best or finalized blocks differ".to_string());
        }
        let chain0 = nodes[0].canonical_prefix(f.height);
        if nodes.iter().any(|nd| nd.canonical_prefix(f.height) != chain0) {
            problems.push("the nodes' finalized chains differ".to_string());
        }
        // Slots that must have blocks: all but those of the outage.
        let down = outage.map_or(0, |o| o.until - o.from);
        let expected = k.saturating_sub(down);
        let blocks = b.height; // blocks after the genesis on the best chain
        if u64::from(blocks) * 10 < u64::from(expected) * 9 {
            problems.push(format!(
                "blocks in only {blocks} of {k} slots (90% of the {expected} slots outside an \
                 outage required)"
            ));
        }
        if let (Some(o), Some(_)) = (outage, args.slots) {
            if log.authored_during == Some(0) {
                problems.push(format!("no blocks were authored while node {} was down", o.node));
            }
            if log.caught_up.is_none() {
                problems.push(format!("node {} did not catch up after its restart", o.node));
            }
        }
        for mut nd in nodes {
            nd.shutdown();
        }
        if problems.is_empty() {
            println!("best #{} finalized #{} on all {n} nodes", b.height, f.height);
            Ok::<bool, Box<dyn std::error::Error>>(true)
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn outage(cmdline: &str) -> Result<Option<Outage>, TestnetError> {
        let cli = Cli::try_parse_from(std::iter::once("t").chain(cmdline.split_whitespace()))
            .expect("parses");
        Outage::from_args(&cli.args, cli.args.validators)
    }

    #[test]
    fn outage_options() {
        assert!(outage("--slots 10").unwrap().is_none());
        let o = outage("--slots 10 --stop-node 2 --stop-at-slot 3 --stop-for 4")
            .unwrap()
            .unwrap();
        assert_eq!((o.node, o.from, o.until), (2, 3, 7));
        assert!(matches!(
            outage("--stop-node 6 --stop-at-slot 3 --stop-for 4"),
            Err(TestnetError::NoSuchNode { node: 6, n: 6 })
        ));
        assert!(matches!(
            outage("--stop-node 1 --stop-at-slot 0 --stop-for 4"),
            Err(TestnetError::EmptyOutage)
        ));
        assert!(matches!(
            outage("--slots 6 --stop-node 1 --stop-at-slot 3 --stop-for 4"),
            Err(TestnetError::OutagePastEnd { last: 6, .. })
        ));
        assert!(Cli::try_parse_from(["t", "--stop-node", "1"]).is_err());
    }
}
