//! `jam run`: one validator node (see [`crate::validator`]).
//!
//! Shared with `jam testnet`: [`chain_from_spec`], [`validator_peers`], [`dial_addr`],
//! [`network_key`], [`JAM_COMMON_ERA_MS`], [`GENESIS_TIME_FIELD`].

use super::CmdResult;
use crate::validator::{short, Node, NodeConfig, NodeStatus, PeerAddr, SlotClock};
use jam_consensus::bandersnatch::RingContext;
use jam_consensus::genesis::read_chainspec;
use jam_consensus::validator_keys::{ed25519_secret_seed, trivial_seed, ValidatorSecrets};
use jam_network::grid::endpoint_from_metadata;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{Ed25519Public, Header};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The JAM Common Era, 2025-01-01 12:00:00 UTC, in Unix milliseconds (GP §4.4).
pub const JAM_COMMON_ERA_MS: u64 = 1_735_732_800_000;

/// The (non-JIP-4) chainspec field with the genesis time in Unix milliseconds, written by
/// `jam testnet`.
pub const GENESIS_TIME_FIELD: &str = "genesis_time_ms";

const AFTER_HELP: &str = "\
Slots: slot genesis+k starts at GENESIS_TIME + k * slot duration. GENESIS_TIME is --genesis-time,
else the chainspec's \"genesis_time_ms\" field (written by `jam testnet`), else the JAM Common Era
(2025-01-01 12:00 UTC). The slot duration is the chain's P unless --slot-duration-ms is given.

Each slot the node authors a block on its best block if its key holds the slot (Safrole:
ticket or fallback key), imports it, stores it and announces it (UP 0). Announced blocks it does
not know are fetched (CE 128) and imported. Fork choice: longest chain, then highest slot.
Finality (interim rule until GRANDPA): the best chain's block 2 below the best block.

Peers: every validator of the genesis whose metadata holds an endpoint, and each --peer
([KEY@]ADDR; without KEY, ADDR must be a validator endpoint of the genesis).

Store: RocksDB under BASE_PATH/db, one atomic commit per block. A restart resumes at the stored
best block and catches up from peers' announcements and handshakes. Ctrl-C (or a kill) at any
time leaves the store at its last committed block.

RPC: JIP-2 JSON-RPC over WebSocket on ws://RPC_IP:PORT, PORT = --rpc-port, else 19800 + the
validator index; --no-rpc to disable. Submitted work packages are validated and queued for the
node's guarantor (refined if it is assigned to the package's core, co-signed over CE 134,
distributed over CE 135); preimage submissions are accepted but not yet distributed.";

#[derive(clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// JIP-4 chainspec (with genesis header and state), e.g. written by `jam testnet`.
    #[arg(long, value_name = "FILE")]
    chain: PathBuf,
    /// Run dev validator I (JIP-5 trivial seed).
    #[arg(
        long,
        value_name = "I",
        required_unless_present = "seed",
        conflicts_with = "seed"
    )]
    dev_validator: Option<u32>,
    /// Run the validator of this 32-byte JIP-5 seed (hex).
    #[arg(long, value_name = "HEX")]
    seed: Option<String>,
    /// Data folder (the store is BASE_PATH/db).
    #[arg(long, value_name = "DIR")]
    base_path: PathBuf,
    /// QUIC port.
    #[arg(long, default_value_t = 40000)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0", value_name = "IP")]
    listen_ip: IpAddr,
    /// A peer to connect to (repeatable).
    #[arg(long = "peer", value_name = "[KEY@]ADDR")]
    peers: Vec<String>,
    /// Slot duration override (testnets).
    #[arg(long, value_name = "MS")]
    slot_duration_ms: Option<u64>,
    /// Genesis time in Unix milliseconds (overrides the chainspec's).
    #[arg(long, value_name = "UNIX_MS")]
    genesis_time: Option<u64>,
    /// Do not make or include tickets (every epoch fallback-sealed).
    #[arg(long)]
    no_tickets: bool,
    /// UP 0 (block announcements) with grid neighbours only (JAMNP-S grid); blocks are
    /// relayed by re-announcement.
    #[arg(long)]
    grid: bool,
    /// Print a line per authored/imported block and per connection.
    #[arg(long, short)]
    verbose: bool,
    /// JIP-2 RPC (WebSocket) port; default 19800 + the validator index (19800 for a
    /// non-validator).
    #[arg(long, value_name = "PORT")]
    rpc_port: Option<u16>,
    /// Address the RPC server listens on.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    rpc_ip: IpAddr,
    /// Do not start the RPC server.
    #[arg(long, conflicts_with = "rpc_port")]
    no_rpc: bool,
}

/// A chain read from a chainspec file: parameters, genesis header and state, and the genesis
/// time if the file has one.
pub fn chain_from_spec(path: &Path) -> Result<(Params, Header, State, Option<u64>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let chain = read_chainspec(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if chain.spec.genesis_header.is_empty() {
        return Err(format!("{}: no genesis_header", path.display()));
    }
    let time = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get(GENESIS_TIME_FIELD).and_then(|t| t.as_u64()));
    Ok((chain.spec.params, chain.header, chain.state, time))
}

/// The address to dial for a metadata endpoint (IPv4-mapped addresses as IPv4).
pub fn dial_addr(e: SocketAddrV6) -> SocketAddr {
    match e.ip().to_ipv4_mapped() {
        Some(v4) => SocketAddr::new(v4.into(), e.port()),
        None => SocketAddr::V6(e),
    }
}

/// The validators of `state` (κ, λ, ι) with an endpoint in their metadata.
pub fn validator_peers(state: &State) -> Vec<PeerAddr> {
    let mut out: Vec<PeerAddr> = Vec::new();
    let sets = [
        &state.active_validators,
        &state.previous_validators,
        &state.staging_validators,
    ];
    for v in sets.into_iter().flat_map(|s| s.iter()) {
        let e = endpoint_from_metadata(&v.metadata);
        if e.port() == 0 || e.ip().is_unspecified() || out.iter().any(|p| p.key == v.ed25519) {
            continue;
        }
        out.push(PeerAddr {
            key: v.ed25519,
            addr: dial_addr(e),
        });
    }
    out
}

/// The network identity of a validator seed: its JIP-5 Ed25519 key.
pub fn network_key(seed: &[u8; 32]) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&ed25519_secret_seed(seed))
}

fn parse_peer(s: &str, known: &[PeerAddr]) -> Result<PeerAddr, String> {
    let (key, addr) = match s.split_once('@') {
        Some((k, a)) => (Some(k), a),
        None => (None, s),
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("--peer {s}: bad address: {e}"))?;
    let key = match key {
        Some(k) => {
            let bytes = hex::decode(k.trim_start_matches("0x"))
                .map_err(|e| format!("--peer {s}: bad key: {e}"))?;
            Ed25519Public(
                bytes
                    .try_into()
                    .map_err(|_| format!("--peer {s}: the key must be 32 octets"))?,
            )
        }
        None => {
            let port_match = |p: &&PeerAddr| p.addr.port() == addr.port();
            known
                .iter()
                .filter(port_match)
                .find(|p| {
                    p.addr.ip() == addr.ip() || p.addr.ip().is_loopback() == addr.ip().is_loopback()
                })
                .map(|p| p.key)
                .ok_or_else(|| {
                    format!("--peer {s}: not a validator endpoint of the genesis; give KEY@ADDR")
                })?
        }
    };
    Ok(PeerAddr { key, addr })
}

fn parse_seed(hex_seed: &str) -> Result<[u8; 32], String> {
    hex::decode(hex_seed.trim_start_matches("0x"))
        .map_err(|e| format!("--seed: {e}"))?
        .try_into()
        .map_err(|_| "--seed: 32 octets expected".to_string())
}

/// One status line.
pub fn status_line(s: &NodeStatus) -> String {
    format!(
        "best #{} {} (slot {}) finalized #{} {} peers {} authored {} imported {}",
        s.best.height,
        short(&s.best.hash),
        s.best.slot,
        s.finalized.height,
        short(&s.finalized.hash),
        s.peers,
        s.authored,
        s.imported
    )
}

pub fn run(args: Args) -> CmdResult {
    let (params, header, state, spec_time) = chain_from_spec(&args.chain)?;
    let seed = match (&args.seed, args.dev_validator) {
        (Some(s), _) => parse_seed(s)?,
        (None, Some(i)) => trivial_seed(i),
        (None, None) => return Err("give --dev-validator I or --seed HEX".into()),
    };
    let keys = ValidatorSecrets::from_seed(&seed);
    let me = keys.ed25519_public();
    let index = state.active_validators.iter().position(|v| v.ed25519 == me);
    let known = validator_peers(&state);
    let mut peers: Vec<PeerAddr> = known.iter().filter(|p| p.key != me).copied().collect();
    for p in &args.peers {
        let p = parse_peer(p, &known)?;
        if !peers.contains(&p) {
            peers.push(p);
        }
    }
    let slot_duration = Duration::from_millis(
        args.slot_duration_ms
            .unwrap_or(u64::from(params.slot_duration) * 1000)
            .max(1),
    );
    let genesis_ms = args.genesis_time.or(spec_time).unwrap_or(JAM_COMMON_ERA_MS);
    let clock = SlotClock {
        genesis_time: UNIX_EPOCH + Duration::from_millis(genesis_ms),
        genesis_slot: header.slot,
        slot_duration,
    };
    let ring = Arc::new(RingContext::new(params.validators()).map_err(|e| e.to_string())?);
    let name = match index {
        Some(i) => format!("validator {i}"),
        None => format!("node {}", crate::validator::short_key(&me)),
    };
    println!(
        "{name}: key {} genesis {} listening on {}:{} with {} peers; slot {} ms, now slot {}",
        hex::encode(me.0),
        short(&header.hash()),
        args.listen_ip,
        args.port,
        peers.len(),
        slot_duration.as_millis(),
        clock.now()
    );
    if index.is_none() {
        println!("{name}: not in the genesis validator set; following the chain only");
    }
    let cfg = NodeConfig {
        name: name.clone(),
        params,
        ring,
        genesis_header: header,
        genesis_state: state,
        keys,
        network_key: network_key(&seed),
        base_path: args.base_path,
        listen: SocketAddr::new(args.listen_ip, args.port),
        peers,
        tickets: !args.no_tickets,
        last_slot: None,
        grid: args.grid,
        verbose: args.verbose,
    };
    let rpc = (!args.no_rpc).then(|| {
        let port = args.rpc_port.unwrap_or_else(|| {
            crate::rpc::RPC_PORT_BASE.saturating_add(index.unwrap_or(0).min(65535) as u16)
        });
        SocketAddr::new(args.rpc_ip, port)
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_node(cfg, clock, rpc))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the node, printing one status line per slot (half way through it), until killed.
async fn run_node(
    cfg: NodeConfig,
    clock: SlotClock,
    rpc: Option<SocketAddr>,
) -> Result<(), String> {
    let name = cfg.name.clone();
    let mut node = Node::start(cfg).await?;
    let _rpc = match rpc {
        Some(addr) => Some(start_rpc(&name, &mut node, addr).await?),
        None => None,
    };
    node.start_clock(clock);
    let mut slot = clock.now() + 1;
    loop {
        SlotClock::sleep_until(clock.slot_start(slot) + clock.slot_duration / 2).await;
        println!("{name}: slot {slot}: {}", status_line(&node.status()));
        slot = slot.max(clock.now()) + 1;
    }
}

/// Capacity of the RPC submission queue (packages waiting for the guarantor).
const SUBMISSION_QUEUE: usize = 64;

/// Starts the JIP-2 RPC server over `node`, its work-package submissions consumed by the
/// node's guarantor (GP §14, `validator::guarantor`).
pub async fn start_rpc(
    name: &str,
    node: &mut Node,
    addr: SocketAddr,
) -> Result<crate::rpc::RpcServer, String> {
    let view = crate::rpc::node_view::NodeView::new(node.chain_reader());
    let (tx, rx) = crate::rpc::submission_queue(SUBMISSION_QUEUE);
    node.start_guarantor(rx);
    let server = crate::rpc::start(addr, view, Some(tx))
        .await
        .map_err(|e| e.to_string())?;
    println!("{name}: JIP-2 RPC on ws://{}", server.local_addr());
    Ok(server)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}
