//! `jam bench net`: JAMNP-S block announcement latency (UP 0) and block-request throughput
//! (CE 128) between two `jam_network` endpoints on loopback.

use super::Stats;
use crate::cmd::run::network_key;
use crate::cmd::CmdResult;
use jam_consensus::author::{author_block, find_sealer};
use jam_consensus::bandersnatch::RingContext;
use jam_consensus::genesis::{genesis_header, genesis_state};
use jam_consensus::import::{import_block, ImportContext};
use jam_consensus::validator_keys::{dev_endpoint, dev_validators, trivial_seed};
use jam_network::messages::{Announcement, BlockRef, BlockRequest, Direction, Handshake};
use jam_network::{AnnouncementSender, Connection, Endpoint, Handler, Role};
use jam_state::codec::{Bytes, Encode};
use jam_state::hash::ZERO_HASH;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::store::{BlockCommit, RocksStore, StateUpdate, Store};
use jam_state::types::{Block, HeaderHash, Preimage};
use serde_json::json;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

pub const NET_HELP: &str = "\
Makes a chain of N blocks of the tiny dev chain (6 dev validators, fallback-sealed, empty
extrinsics) and runs two JAMNP-S endpoints (QUIC) on 127.0.0.1 in this process: a sender,
which holds the chain and serves CE 128 block requests from memory, and a receiver, which
imports like a validator (import_block, posterior state root, RocksDB commit in a temporary
folder).

Announcement latency: the sender announces the blocks one by one on UP 0 (10 ms apart, each
once the previous one is imported). For each announcement: announced -> received (the
receiver's handler has the decoded announcement), -> fetched (the receiver asked for the block
with CE 128 and has it), -> imported (imported and committed). In milliseconds: p50 / p90 /
mean / max over the N announcements. Blocks that begin an epoch import slower (ring root).

Throughput: the receiver fetches the whole chain from the genesis with CE 128 (ascending
requests of up to 256 blocks, as a catching-up node asks), --runs times; the figures are of the
median run: blocks/s, and MB/s of encoded blocks (10^6 bytes). Then the same with every block
padded with a preimage of --pad-bytes bytes (for bandwidth; these blocks are not importable).

Both endpoints share this process's tokio runtime (one worker thread per core), so the figures
include scheduling on a loaded machine; they are not comparable across machines.";

/// `jam bench net` options.
#[derive(clap::Args)]
pub struct NetArgs {
    /// Blocks in the chain (each announced once, then the chain fetched).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    blocks: u32,
    /// Times the chain is fetched; the throughput figures are of the median run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Also fetch the chain with each block padded by a preimage of this many bytes (0: no).
    #[arg(long, default_value_t = 65536, value_name = "BYTES")]
    pad_bytes: usize,
    /// Write the figures (and every sample) as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Why the network bench failed.
#[derive(Debug, thiserror::Error)]
pub enum NetBenchError {
    #[error("genesis: {0}")]
    Genesis(String),
    #[error("making block {slot}: {reason}")]
    Author { slot: u32, reason: String },
    #[error("network: {0}")]
    Network(#[from] jam_network::Error),
    #[error("UP 0: {0}")]
    Stream(#[from] jam_network::StreamError),
    #[error("store: {0}")]
    Store(String),
    #[error("the receiver did not import block {index} in time")]
    NoImport { index: usize },
    #[error("the receiver failed on block {index}: {reason}")]
    Receiver { index: usize, reason: String },
    #[error("the UP 0 stream did not come up")]
    NoStream,
    #[error("CE 128: {0}")]
    BadResponse(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A UP 0 handshake with the genesis as the finalized block and only leaf.
fn genesis_handshake(genesis: HeaderHash) -> Handshake {
    let g = BlockRef {
        hash: genesis,
        slot: 0,
    };
    Handshake {
        finalized: g,
        leaves: vec![g],
    }
}

/// The sender's side: the chain it serves and its UP 0 direction once the stream is up.
struct Sender {
    genesis: HeaderHash,
    /// The chain served by CE 128 (swapped for the padded one).
    chain: Mutex<Arc<Vec<Block>>>,
    /// Block index by header hash (the padded chain has the same headers).
    index: HashMap<HeaderHash, usize>,
    up0: Mutex<Option<AnnouncementSender>>,
    up0_ready: Notify,
}

impl Handler for Sender {
    fn handshake(&self) -> Handshake {
        genesis_handshake(self.genesis)
    }

    fn on_block_announcements(&self, _: &Connection, _: Handshake, sender: AnnouncementSender) {
        *self.up0.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender);
        self.up0_ready.notify_one();
    }

    async fn on_block_request(&self, _: &Connection, req: BlockRequest) -> Option<Vec<Block>> {
        let chain = self.chain.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let max = req.max_blocks.min(256) as usize;
        let at = if req.hash == self.genesis {
            None
        } else {
            Some(*self.index.get(&req.hash)?)
        };
        let range = served(chain.len(), at, req.direction, max);
        Some(match req.direction {
            Direction::AscendingExclusive => chain[range].to_vec(),
            Direction::DescendingInclusive => chain[range].iter().rev().cloned().collect(),
        })
    }
}

/// The indices of a chain of `len` blocks that answer a CE 128 request from block `at` (`None`:
/// the genesis) for at most `max` blocks, in ascending order (descending requests are sent in
/// reverse).
fn served(len: usize, at: Option<usize>, direction: Direction, max: usize) -> Range<usize> {
    match direction {
        Direction::AscendingExclusive => {
            let from = at.map_or(0, |i| i + 1).min(len);
            from..(from + max).min(len)
        }
        Direction::DescendingInclusive => {
            let to = at.map_or(0, |i| i + 1).min(len);
            to.saturating_sub(max)..to
        }
    }
}

/// The receiver's side: announcements go to its import task, stamped on arrival.
struct Receiver {
    genesis: HeaderHash,
    arrivals: mpsc::UnboundedSender<(Announcement, Instant, Connection)>,
    /// Our UP 0 direction (kept open, unused).
    up0: Mutex<Option<AnnouncementSender>>,
}

impl Handler for Receiver {
    fn handshake(&self) -> Handshake {
        genesis_handshake(self.genesis)
    }

    fn on_block_announcements(&self, _: &Connection, _: Handshake, sender: AnnouncementSender) {
        *self.up0.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender);
    }

    async fn on_announcement(&self, peer: &Connection, a: Announcement) {
        let _ = self.arrivals.send((a, Instant::now(), peer.clone()));
    }
}

/// When the receiver had an announced block: received, fetched, imported.
type Arrival = Result<(HeaderHash, Instant, Instant, Instant), String>;

/// The receiver's import task: fetches each announced block (CE 128) and imports and commits
/// it on its best state.
async fn receive(
    params: Arc<Params>,
    ring: Arc<RingContext>,
    store: Arc<RocksStore>,
    mut state: State,
    mut arrivals: mpsc::UnboundedReceiver<(Announcement, Instant, Connection)>,
    done: mpsc::UnboundedSender<Arrival>,
) {
    while let Some((a, received, conn)) = arrivals.recv().await {
        let hash = a.header.hash();
        let req = BlockRequest {
            hash,
            direction: Direction::DescendingInclusive,
            max_blocks: 1,
        };
        let block = match conn.request_blocks(&req).await {
            Ok(mut b) if b.len() == 1 => b.remove(0),
            Ok(b) => {
                let _ = done.send(Err(format!("{} blocks for a request of one", b.len())));
                continue;
            }
            Err(e) => {
                let _ = done.send(Err(format!("block request: {e}")));
                continue;
            }
        };
        let fetched = Instant::now();
        let (p, r, s) = (params.clone(), ring.clone(), store.clone());
        let prior = state;
        let joined = tokio::task::spawn_blocking(move || {
            let r = import_and_commit(&p, r, &s, &prior, &block);
            (prior, r)
        })
        .await;
        let Ok((prior, result)) = joined else {
            let _ = done.send(Err("the import task panicked".into()));
            return;
        };
        state = match result {
            Ok(post) => {
                let _ = done.send(Ok((hash, received, fetched, Instant::now())));
                post
            }
            Err(e) => {
                let _ = done.send(Err(e));
                prior
            }
        };
    }
}

/// Imports `block` on `prior` and commits it to `store` as the best block, as a node does.
fn import_and_commit(
    params: &Params,
    ring: Arc<RingContext>,
    store: &RocksStore,
    prior: &State,
    block: &Block,
) -> Result<State, String> {
    let mut ctx = ImportContext::with_ring(ring);
    ctx.parent_hash = Some(block.header.parent);
    let (post, out) = import_block(params, &ctx, prior, block).map_err(|e| e.to_string())?;
    let root = post.state_root();
    store
        .commit_block(BlockCommit::imported(
            block,
            out.header_hash.0,
            prior,
            &post,
            root,
            true,
        ))
        .map_err(|e| format!("store commit: {e}"))?;
    Ok(post)
}

/// The dev chain's genesis and `n` blocks on it, each authored by the validator holding its
/// slot.
fn make_chain(
    params: &Params,
    ring: &Arc<RingContext>,
    n: u32,
) -> Result<(State, HeaderHash, Vec<Block>), NetBenchError> {
    let keys = dev_validators(params.validators());
    let vals: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| k.validator_data_with_endpoint(dev_endpoint(i as u16)))
        .collect();
    let genesis =
        genesis_state(params, ring, &vals).map_err(|e| NetBenchError::Genesis(e.to_string()))?;
    let gh = genesis_header(&genesis).hash();
    let (mut state, mut parent) = (genesis.clone(), gh);
    let mut blocks = Vec::with_capacity(n as usize);
    for slot in 1..=n {
        let fail = |reason: String| NetBenchError::Author { slot, reason };
        let (who, _) = find_sealer(params, ring, &state, slot, &keys)
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| fail("no dev validator holds the slot".into()))?;
        let block = author_block(params, ring, &state, parent, slot, &keys[who], &[])
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| fail("the sealer did not author".into()))?;
        let mut ctx = ImportContext::with_ring(ring.clone());
        ctx.parent_hash = Some(parent);
        let (post, out) =
            import_block(params, &ctx, &state, &block).map_err(|e| fail(e.to_string()))?;
        (state, parent) = (post, out.header_hash);
        blocks.push(block);
    }
    Ok((genesis, gh, blocks))
}

/// One CE 128 throughput measurement: the chain fetched `runs` times.
struct Throughput {
    label: String,
    blocks: usize,
    bytes: usize,
    /// Seconds per run.
    runs: Vec<f64>,
}

impl Throughput {
    fn median(&self) -> f64 {
        let mut r = self.runs.clone();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    }
}

/// Fetches the whole chain from the genesis over `conn`, `runs` times.
async fn fetch_chain(
    conn: &Connection,
    genesis: HeaderHash,
    n: usize,
    runs: u32,
) -> Result<Vec<f64>, NetBenchError> {
    let mut out = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let (mut hash, mut got) = (genesis, 0usize);
        while got < n {
            let req = BlockRequest {
                hash,
                direction: Direction::AscendingExclusive,
                max_blocks: (n - got).min(256) as u32,
            };
            let blocks = conn.request_blocks(&req).await?;
            let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
                return Err(NetBenchError::BadResponse(format!(
                    "no blocks after #{got}"
                )));
            };
            if first.header.parent != hash {
                return Err(NetBenchError::BadResponse(format!(
                    "#{} is not a child of #{got}",
                    got + 1
                )));
            }
            hash = last.header.hash();
            got += blocks.len();
        }
        out.push(t0.elapsed().as_secs_f64());
    }
    Ok(out)
}

/// The latency samples of the announcements, in ms: received, fetched, imported.
#[derive(Default)]
struct Latencies {
    received: Vec<f64>,
    fetched: Vec<f64>,
    imported: Vec<f64>,
}

pub fn run(args: NetArgs) -> CmdResult {
    let params = Params::tiny();
    let ring = Arc::new(RingContext::new(params.validators()).map_err(|e| e.to_string())?);
    let t0 = Instant::now();
    let (genesis, gh, chain) = make_chain(&params, &ring, args.blocks)?;
    let bytes: usize = chain.iter().map(|b| b.encode().len()).sum();
    println!(
        "chain: {} tiny dev blocks, {:.0} bytes each on average (made in {:.1} s)",
        chain.len(),
        bytes as f64 / chain.len() as f64,
        t0.elapsed().as_secs_f64()
    );
    let dir = std::env::temp_dir().join(format!("jam-bench-net-{}", std::process::id()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(bench(&args, params, ring, genesis, gh, chain, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    rt.shutdown_timeout(Duration::from_secs(1));
    let (lat, thr) = result?;

    let s = [
        ("announced -> received", Stats::of(&lat.received)),
        (
            "announced -> fetched (CE 128, 1 block)",
            Stats::of(&lat.fetched),
        ),
        (
            "announced -> imported (+ import, commit)",
            Stats::of(&lat.imported),
        ),
    ];
    println!(
        "\nUP 0 block announcement latency, {} announcements (ms):",
        lat.received.len()
    );
    println!(
        "{:<42} {:>8} {:>8} {:>8} {:>8}",
        "", "p50", "p90", "mean", "max"
    );
    for (name, st) in &s {
        println!(
            "{name:<42} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            st.p50, st.p90, st.mean, st.max
        );
    }
    println!(
        "\nCE 128 block-request throughput (chain of {} blocks from the genesis, requests of up \
         to 256; median of {} runs):",
        args.blocks, args.runs
    );
    println!(
        "{:<30} {:>10} {:>10} {:>10} {:>10}",
        "", "bytes", "ms", "blocks/s", "MB/s"
    );
    for t in &thr {
        let m = t.median();
        println!(
            "{:<30} {:>10} {:>10.2} {:>10.0} {:>10.1}",
            t.label,
            t.bytes,
            m * 1e3,
            t.blocks as f64 / m,
            t.bytes as f64 / m / 1e6
        );
    }
    if let Some(path) = &args.json {
        let lat_json: serde_json::Map<String, serde_json::Value> = [
            ("received", &lat.received),
            ("fetched", &lat.fetched),
            ("imported", &lat.imported),
        ]
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                json!({ "stats": Stats::of(v).to_json(), "samples_ms": v }),
            )
        })
        .collect();
        let thr_json: Vec<_> = thr
            .iter()
            .map(|t| {
                let m = t.median();
                json!({
                    "chain": t.label, "blocks": t.blocks, "bytes": t.bytes,
                    "median_s": m, "blocks_per_s": t.blocks as f64 / m,
                    "mb_per_s": t.bytes as f64 / m / 1e6, "runs_s": t.runs,
                })
            })
            .collect();
        let doc = json!({
            "bench": "net", "chain": "tiny", "blocks": args.blocks, "runs": args.runs,
            "latency_ms": lat_json, "throughput": thr_json,
        });
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, text).map_err(|source| NetBenchError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs both measurements; the receiver's store lives in `dir`.
async fn bench(
    args: &NetArgs,
    params: Params,
    ring: Arc<RingContext>,
    genesis: State,
    gh: HeaderHash,
    chain: Vec<Block>,
    dir: &std::path::Path,
) -> Result<(Latencies, Vec<Throughput>), NetBenchError> {
    let n = chain.len();
    let local = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0);
    let (ka, kb) = (network_key(&trivial_seed(0)), network_key(&trivial_seed(1)));
    let a_key = jam_state::types::Ed25519Public(ka.verifying_key().to_bytes());
    let a = Endpoint::bind(local, ka, gh, Role::Node, params.clone())?;
    let b = Endpoint::bind(local, kb, gh, Role::Node, params.clone())?;
    let index = chain
        .iter()
        .enumerate()
        .map(|(i, b)| (b.header.hash(), i))
        .collect();
    let chain = Arc::new(chain);
    let sender = Arc::new(Sender {
        genesis: gh,
        chain: Mutex::new(chain.clone()),
        index,
        up0: Mutex::new(None),
        up0_ready: Notify::new(),
    });

    // The receiver's store, with the genesis.
    std::fs::create_dir_all(dir).map_err(|source| NetBenchError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let store =
        RocksStore::open(dir.join("db")).map_err(|e| NetBenchError::Store(e.to_string()))?;
    let gheader = genesis_header(&genesis);
    store
        .commit_block(BlockCommit {
            header_hash: gh.0,
            header: gheader.encode(),
            block: Block {
                header: gheader,
                extrinsic: Default::default(),
            }
            .encode(),
            slot: 0,
            parent: ZERO_HASH,
            state: StateUpdate::Full(genesis.to_key_values()),
            state_root: genesis.state_root(),
            make_best: true,
        })
        .map_err(|e| NetBenchError::Store(e.to_string()))?;

    // Connect: the receiver dials and opens UP 0; the sender serves.
    let a_addr = a.local_addr()?;
    let a = Arc::new(a);
    let (acc, srv) = (a.clone(), sender.clone());
    tokio::spawn(async move {
        while let Some(Ok(conn)) = acc.accept().await {
            conn.serve(srv.clone());
        }
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let receiver = Arc::new(Receiver {
        genesis: gh,
        arrivals: tx,
        up0: Mutex::new(None),
    });
    let conn = b.connect(a_addr, a_key).await?;
    conn.serve(receiver.clone());
    conn.run_block_announcements(receiver.clone());
    tokio::time::timeout(Duration::from_secs(10), sender.up0_ready.notified())
        .await
        .map_err(|_| NetBenchError::NoStream)?;
    let mut up0 = sender
        .up0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or(NetBenchError::NoStream)?;
    let (done_tx, mut done) = mpsc::unbounded_channel();
    tokio::spawn(receive(
        Arc::new(params),
        ring,
        Arc::new(store),
        genesis,
        rx,
        done_tx,
    ));

    // Announcement latency, one block at a time.
    let mut lat = Latencies::default();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    for (i, block) in chain.iter().enumerate() {
        let a = Announcement {
            header: block.header.clone(),
            finalized: BlockRef { hash: gh, slot: 0 },
        };
        let t0 = Instant::now();
        up0.announce(&a).await?;
        let got = tokio::time::timeout(Duration::from_secs(30), done.recv())
            .await
            .ok()
            .flatten()
            .ok_or(NetBenchError::NoImport { index: i })?;
        let (hash, received, fetched, imported) =
            got.map_err(|reason| NetBenchError::Receiver { index: i, reason })?;
        if hash != block.header.hash() {
            return Err(NetBenchError::Receiver {
                index: i,
                reason: "imported another block".into(),
            });
        }
        lat.received.push(ms(t0, received));
        lat.fetched.push(ms(t0, fetched));
        lat.imported.push(ms(t0, imported));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Throughput: the real chain, then the padded one.
    let size = |c: &[Block]| c.iter().map(|b| b.encode().len()).sum::<usize>();
    let mut thr = vec![Throughput {
        label: "tiny dev blocks".into(),
        blocks: n,
        bytes: size(&chain),
        runs: fetch_chain(&conn, gh, n, args.runs).await?,
    }];
    if args.pad_bytes > 0 {
        let padded: Vec<Block> = chain
            .iter()
            .map(|b| {
                let mut b = b.clone();
                b.extrinsic.preimages = vec![Preimage {
                    requester: 0,
                    blob: Bytes(vec![0x5a; args.pad_bytes]),
                }];
                b
            })
            .collect();
        let bytes = size(&padded);
        *sender.chain.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(padded);
        thr.push(Throughput {
            label: format!("padded (+{} B preimage)", args.pad_bytes),
            blocks: n,
            bytes,
            runs: fetch_chain(&conn, gh, n, args.runs).await?,
        });
    }
    conn.close();
    a.close();
    b.close();
    Ok((lat, thr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_ranges() {
        use Direction::{AscendingExclusive as Up, DescendingInclusive as Down};
        assert_eq!(served(10, None, Up, 4), 0..4);
        assert_eq!(served(10, Some(7), Up, 4), 8..10);
        assert_eq!(served(10, Some(9), Up, 4), 10..10);
        assert_eq!(served(10, Some(5), Down, 3), 3..6);
        assert_eq!(served(10, Some(1), Down, 5), 0..2);
        assert_eq!(served(10, None, Down, 5), 0..0);
    }
}
