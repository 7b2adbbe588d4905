//! A validator node: slot clock, Safrole block authoring, block import into a RocksDB store,
//! JAMNP-S block announcements (UP 0) and block requests (CE 128), fork choice and an interim
//! finality rule ([`chain`]).
//!
//! One node is a set of tokio tasks around a single **chain task** that owns every change to
//! the chain: it handles, in order, slot ticks (author if we hold the slot), batches of blocks
//! fetched from peers (import), and finished ticket jobs. Crypto and PVM work (authoring,
//! import, ticket proofs) and store writes run in `spawn_blocking`, never on a tokio worker.
//! The network side ([`net`]) reads the chain under a short lock to answer handshakes and
//! block requests, and turns announcements of unknown blocks into fetch tasks whose blocks are
//! queued to the chain task.
//!
//! Announcements: every imported block (own or fetched) is announced on every UP 0 stream, so
//! blocks also spread when UP 0 runs between grid neighbours only ([`NodeConfig::grid`]).
//!
//! Tickets ([`tickets`]): when the best block is in an epoch's contest period (`slot mod E <
//! Y`), the node makes its own `N` ticket proofs for that contest in the background and
//! distributes them over JAMNP-S CE 131 (to each ticket's proxy validator) and CE 132 (the
//! proxy to all current validators). Every node verifies the tickets it receives and keeps
//! them in a bounded pool, from which its blocks take the best ones (GP 6.29–6.34).
//!
//! Validator sets ([`net`]): the node dials every validator of the previous, current and next
//! epochs, applies a new epoch's sets per JAMNP-S § "Epoch transitions", and refuses
//! validator-only streams from peers outside them.

mod author;
pub mod availability;
pub mod chain;
pub mod guarantor;
mod net;
mod preimages;
mod segments;
pub mod tickets;
pub mod tracking;

use chain::{BlockId, Chain};
use jam_consensus::author::{author_block, tickets_for_state};
use jam_consensus::bandersnatch::RingContext;
use jam_consensus::import::{import_block, ImportContext};
use jam_consensus::validator_keys::ValidatorSecrets;
use jam_network::{Endpoint, Role};
use jam_state::codec::Encode;
use jam_state::hash::ZERO_HASH;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::store::{BlockCommit, RocksStore, StateUpdate, Store};
use jam_state::types::{
    Block, CoreIndex, Ed25519Public, Extrinsic, Header, HeaderHash, OpaqueHash, StateRoot,
    TicketEnvelope, TimeSlot,
};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// A peer to connect to: its Ed25519 key and address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr {
    pub key: Ed25519Public,
    pub addr: SocketAddr,
}

/// Everything a node needs to start.
pub struct NodeConfig {
    /// Prefix of the node's log lines.
    pub name: String,
    pub params: Params,
    /// Ring context for rings of `V` keys (shared between in-process nodes).
    pub ring: Arc<RingContext>,
    pub genesis_header: Header,
    pub genesis_state: State,
    /// The validator's keys (the Ed25519 key is also the network identity).
    pub keys: ValidatorSecrets,
    /// The network identity (the validator's Ed25519 secret key).
    pub network_key: ed25519_dalek::SigningKey,
    /// The store lives in `base_path/db`.
    pub base_path: PathBuf,
    pub listen: SocketAddr,
    pub peers: Vec<PeerAddr>,
    /// Make own Safrole tickets and distribute them (CE 131/132); tickets received from
    /// other validators are pooled and included either way.
    pub tickets: bool,
    /// Author no block after this slot (testnets with a slot budget).
    pub last_slot: Option<TimeSlot>,
    /// Open UP 0 only towards grid neighbours (JAMNP-S § "Grid structure"); blocks spread
    /// by re-announcement. Otherwise UP 0 runs on every connection.
    pub grid: bool,
    /// Print a line per authored/imported block.
    pub verbose: bool,
}

/// Wall-clock slots: slot `genesis_slot + k` starts at `genesis_time + k · slot_duration`.
#[derive(Clone, Copy, Debug)]
pub struct SlotClock {
    pub genesis_time: SystemTime,
    pub genesis_slot: TimeSlot,
    pub slot_duration: Duration,
}

impl SlotClock {
    /// The slot at `t` (the genesis slot before the genesis time).
    pub fn slot_at(&self, t: SystemTime) -> TimeSlot {
        let since = t.duration_since(self.genesis_time).unwrap_or_default();
        let k = since.as_nanos() / self.slot_duration.as_nanos().max(1);
        self.genesis_slot
            .saturating_add(u32::try_from(k).unwrap_or(u32::MAX))
    }

    pub fn now(&self) -> TimeSlot {
        self.slot_at(SystemTime::now())
    }

    /// When `slot` starts.
    pub fn slot_start(&self, slot: TimeSlot) -> SystemTime {
        self.genesis_time + self.slot_duration * slot.saturating_sub(self.genesis_slot)
    }

    /// Sleeps until `t` (returns at once if it has passed).
    pub async fn sleep_until(t: SystemTime) {
        if let Ok(d) = t.duration_since(SystemTime::now()) {
            tokio::time::sleep(d).await;
        }
    }
}

/// What a node reports about itself.
#[derive(Clone, Debug, Default)]
pub struct NodeStatus {
    /// The latest slot tick.
    pub slot: TimeSlot,
    pub best: BlockId,
    pub finalized: BlockId,
    /// Connected peers.
    pub peers: usize,
    /// Peers with a UP 0 (block announcement) stream.
    pub up0: usize,
    /// Blocks this node authored.
    pub authored: u32,
    /// Blocks imported from peers.
    pub imported: u32,
    /// Own tickets made for the current contest.
    pub tickets: usize,
    /// Tickets in the pool for the next epoch (own and received over CE 131/132).
    pub ticket_pool: usize,
    /// The last error (import failure, ...), if any.
    pub last_error: Option<String>,
}

/// Work for the chain task.
enum Cmd {
    Slot(TimeSlot),
    /// Blocks from a peer, oldest first.
    Import(Vec<Block>),
    Tickets {
        epoch: u32,
        result: Result<Vec<TicketEnvelope>, String>,
        took: Duration,
    },
}

/// A connected peer.
struct Peer {
    conn: jam_network::Connection,
    /// Distinguishes connections to the same peer (the newest one is registered).
    id: u64,
    /// Our UP 0 direction, once the stream is up.
    announce: Option<mpsc::UnboundedSender<jam_network::messages::Announcement>>,
}

/// State shared by the chain task and the network tasks.
struct Shared {
    name: String,
    params: Arc<Params>,
    store: Arc<RocksStore>,
    chain: Mutex<Chain>,
    peers: Mutex<HashMap<Ed25519Public, Peer>>,
    next_conn_id: AtomicU64,
    fetching: Mutex<HashSet<HeaderHash>>,
    cmd: mpsc::UnboundedSender<Cmd>,
    status: watch::Sender<NodeStatus>,
    clock: OnceLock<SlotClock>,
    /// Our network key.
    me: Ed25519Public,
    /// The validator sets of the applied epoch (JAMNP-S § "Epoch transitions").
    sets: Mutex<jam_network::grid::ValidatorSets>,
    /// UP 0 towards grid neighbours only.
    grid: bool,
    /// Ring context for ticket verification.
    ring: Arc<RingContext>,
    /// The ticket pool and CE 131/132 queues.
    tickets: Mutex<tickets::Tickets>,
    /// Pending guarantees for E_G (GP §11.4, CE 135, [`guarantor`]).
    guarantees: Mutex<guarantor::Guarantees>,
    /// Our keys, for guarantee signatures (CE 134).
    keys: Arc<ValidatorSecrets>,
    /// The work packages this node follows ([`tracking`]).
    packages: Mutex<tracking::PackageTracker>,
    /// The guarantor's queue for packages received over CE 133 ([`guarantor::run`]).
    guarantor: OnceLock<mpsc::Sender<guarantor::Job>>,
    /// Shard store and assurance pool (CE 137–141, [`availability`]).
    availability: Arc<availability::NodeAvailability>,
    /// Preimages for E_P (JIP-2 `submitPreimage`, CE 142/143, [`preimages`]).
    preimages: Mutex<preimages::Pool>,
    /// Export sequences and reports seen, for segment imports ([`segments`]).
    segments: segments::Segments,
    verbose: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `0x` and the first 4 octets of a hash.
pub fn short(h: &HeaderHash) -> String {
    format!("0x{}", hex::encode(&h.0[..4]))
}

/// `0x` and the first 4 octets of a key.
pub fn short_key(k: &Ed25519Public) -> String {
    format!("0x{}", hex::encode(&k.0[..4]))
}

impl Shared {
    fn log(&self, msg: impl std::fmt::Display) {
        if self.verbose {
            println!("{}: {msg}", self.name);
        }
    }

    fn error(&self, msg: String) {
        eprintln!("{}: {msg}", self.name);
        self.status.send_modify(|s| s.last_error = Some(msg));
    }

    /// Republishes the chain and peer parts of the status.
    fn publish(&self) {
        let (best, finalized) = {
            let c = lock(&self.chain);
            (c.best(), c.finalized())
        };
        let (peers, up0) = {
            let p = lock(&self.peers);
            (p.len(), p.values().filter(|p| p.announce.is_some()).count())
        };
        self.status.send_modify(|s| {
            s.best = best;
            s.finalized = finalized;
            s.peers = peers;
            s.up0 = up0;
        });
    }

    fn known(&self, hash: &HeaderHash) -> bool {
        lock(&self.chain).contains(hash)
    }

    /// The slot now: the clock's, else the best block's.
    fn now_slot(&self) -> TimeSlot {
        match self.clock.get() {
            Some(c) => c.now(),
            None => lock(&self.chain).best().slot,
        }
    }

    /// Republishes the ticket pool size for the next epoch.
    fn publish_tickets(&self) {
        let next = self.now_slot() / self.params.epoch_length + 1;
        let n = lock(&self.tickets).pool_len(next);
        self.status.send_if_modified(|s| {
            let changed = s.ticket_pool != n;
            s.ticket_pool = n;
            changed
        });
    }
}

/// A running node.
pub struct Node {
    shared: Arc<Shared>,
    endpoint: Arc<Endpoint>,
    tasks: Vec<JoinHandle<()>>,
    chain_task: Option<JoinHandle<()>>,
}

/// Opens (or creates) the store, commits the genesis into an empty one, and rebuilds the chain
/// from the store's best block otherwise.
fn open_store(
    path: &std::path::Path,
    params: &Params,
    genesis_header: &Header,
    genesis_state: &State,
) -> Result<(RocksStore, Chain, bool), String> {
    let store =
        RocksStore::open(path).map_err(|e| format!("opening the store {}: {e}", path.display()))?;
    let gh = genesis_header.hash();
    let groot = OpaqueHash(genesis_state.state_root());
    let Some(best) = store.best_block().map_err(|e| e.to_string())? else {
        store
            .commit_block(BlockCommit {
                header_hash: gh.0,
                header: genesis_header.encode(),
                block: Block {
                    header: genesis_header.clone(),
                    extrinsic: Extrinsic::default(),
                }
                .encode(),
                slot: genesis_header.slot,
                parent: ZERO_HASH,
                state: StateUpdate::Full(genesis_state.to_key_values()),
                state_root: groot.0,
                make_best: true,
            })
            .map_err(|e| format!("committing the genesis: {e}"))?;
        let chain = Chain::genesis(
            gh,
            genesis_header.slot,
            groot,
            Arc::new(genesis_state.clone()),
        );
        return Ok((store, chain, false));
    };
    match store.block_info(&gh.0).map_err(|e| e.to_string())? {
        Some(info) if info.state_root == groot.0 => {}
        _ => {
            return Err(format!(
                "the store {} holds another chain (genesis {} not in it)",
                path.display(),
                short(&gh)
            ))
        }
    }
    // The canonical chain: the best block's ancestry back to genesis.
    let mut canonical = Vec::new();
    let mut h = best.hash;
    while h != ZERO_HASH {
        let info = store
            .block_info(&h)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("store: block {} missing", short(&OpaqueHash(h))))?;
        canonical.push((OpaqueHash(h), info.slot, OpaqueHash(info.state_root)));
        h = info.parent;
    }
    canonical.reverse();
    let kvs = store
        .state_at_root(&best.state_root)
        .map_err(|e| format!("loading the best block's state: {e}"))?;
    let state = State::from_key_values(&kvs, params)
        .map_err(|e| format!("the best block's state does not parse: {e}"))?;
    Ok((store, Chain::resume(canonical, Arc::new(state)), true))
}

impl Node {
    /// Opens the store, binds the endpoint and starts networking and the chain task. Blocks
    /// are authored only once [`Node::start_clock`] is called.
    pub async fn start(cfg: NodeConfig) -> Result<Node, String> {
        let db = cfg.base_path.join("db");
        std::fs::create_dir_all(&cfg.base_path)
            .map_err(|e| format!("{}: {e}", cfg.base_path.display()))?;
        let (params, gh, gs) = (
            cfg.params.clone(),
            cfg.genesis_header.clone(),
            cfg.genesis_state.clone(),
        );
        let ring = cfg.ring.clone();
        let (store, chain, resumed) = tokio::task::spawn_blocking(move || {
            // Warm the ring context up (its commitment key is built on first use, which takes
            // seconds) before authoring needs it at the first epoch change; and check the
            // genesis ring root on the way.
            let root = jam_consensus::safrole::ring_root(&ring, &gs.safrole.gamma_k);
            if root != gs.safrole.gamma_z {
                return Err("the genesis state's ring root γ_z is not O(γ_k)".to_string());
            }
            open_store(&db, &params, &gh, &gs)
        })
        .await
        .map_err(|e| e.to_string())??;
        let genesis_hash = cfg.genesis_header.hash();
        let endpoint = Endpoint::bind(
            cfg.listen,
            cfg.network_key.clone(),
            genesis_hash,
            Role::Node,
            cfg.params.clone(),
        )
        .map_err(|e| format!("binding {}: {e}", cfg.listen))?;
        let endpoint = Arc::new(endpoint);
        let (cmd, rx) = mpsc::unbounded_channel();
        let status = NodeStatus {
            best: chain.best(),
            finalized: chain.finalized(),
            ..Default::default()
        };
        if resumed {
            let b = chain.best();
            println!(
                "{}: resuming at the store's best block #{} {} (slot {})",
                cfg.name,
                b.height,
                short(&b.hash),
                b.slot
            );
        }
        let shared = Arc::new(Shared {
            name: cfg.name.clone(),
            params: Arc::new(cfg.params.clone()),
            store: Arc::new(store),
            chain: Mutex::new(chain),
            peers: Mutex::default(),
            next_conn_id: AtomicU64::new(0),
            fetching: Mutex::default(),
            cmd,
            status: watch::Sender::new(status),
            clock: OnceLock::new(),
            me: cfg.keys.ed25519_public(),
            sets: Mutex::new(jam_network::grid::ValidatorSets::from_state(
                &cfg.genesis_state,
            )),
            grid: cfg.grid,
            ring: cfg.ring.clone(),
            tickets: Mutex::new(tickets::Tickets::new(
                Arc::new(cfg.params.clone()),
                cfg.keys.ed25519_public(),
            )),
            availability: Arc::new(
                availability::NodeAvailability::new(&cfg.params).map_err(|e| e.to_string())?,
            ),
            guarantees: Mutex::default(),
            keys: Arc::new(cfg.keys.clone()),
            preimages: Mutex::default(),
            packages: Mutex::default(),
            guarantor: OnceLock::new(),
            segments: Default::default(),
            verbose: cfg.verbose,
        });
        let net = Arc::new(net::Net { sh: shared.clone() });
        let tasks = vec![
            tokio::spawn(net::accept_loop(
                shared.clone(),
                net.clone(),
                endpoint.clone(),
            )),
            tokio::spawn(net::connectivity(
                shared.clone(),
                net.clone(),
                endpoint.clone(),
                cfg.peers.clone(),
                Arc::new(cfg.genesis_state),
            )),
        ];
        let actor = ChainTask {
            sh: shared.clone(),
            import_ctx: ImportContext::with_ring(cfg.ring.clone()),
            ring: cfg.ring,
            keys: Arc::new(cfg.keys),
            tickets: cfg.tickets,
            last_slot: cfg.last_slot,
            own_epoch: None,
            ticket_job: None,
        };
        let chain_task = Some(tokio::spawn(actor.run(rx)));
        Ok(Node {
            shared,
            endpoint,
            tasks,
            chain_task,
        })
    }

    /// Starts the slot clock: from the next slot on, the node authors when it holds a slot.
    pub fn start_clock(&mut self, clock: SlotClock) {
        if self.shared.clock.set(clock).is_err() {
            return;
        }
        let sh = self.shared.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut next = clock.now() + 1;
            loop {
                SlotClock::sleep_until(clock.slot_start(next)).await;
                next = next.max(clock.now());
                sh.status.send_modify(|s| s.slot = next);
                if sh.cmd.send(Cmd::Slot(next)).is_err() {
                    return;
                }
                next += 1;
            }
        }));
    }

    /// Starts guaranteeing the work packages of `submissions` (the RPC queue, [`guarantor`]).
    pub fn start_guarantor(&mut self, submissions: mpsc::Receiver<crate::rpc::Submission>) {
        let (sh, keys) = (self.shared.clone(), self.shared.keys.clone());
        let (jobs_tx, jobs) = mpsc::channel(256);
        if sh.guarantor.set(jobs_tx).is_err() {
            return;
        }
        self.tasks
            .push(tokio::spawn(guarantor::run(sh, keys, submissions, jobs)));
    }

    /// The node's status now.
    pub fn status(&self) -> NodeStatus {
        self.shared.status.borrow().clone()
    }

    /// The canonical chain from genesis up to `height`.
    pub fn canonical_prefix(&self, height: u32) -> Vec<HeaderHash> {
        lock(&self.shared.chain).canonical_prefix(height)
    }

    /// Stops authoring and networking.
    pub fn shutdown(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        for p in lock(&self.shared.peers).values() {
            p.conn.close();
        }
        if let Some(t) = self.chain_task.take() {
            t.abort();
        }
        self.endpoint.close();
    }
}

/// A read-only handle on a running node's chain for the RPC server (`crate::rpc`): chain
/// parameters, best/finalized updates, block metadata and posterior states. Additive hook;
/// it never changes the chain, and holds the node weakly (a stopped node's store closes;
/// its reader then knows no blocks).
#[derive(Clone)]
pub struct ChainReader {
    sh: std::sync::Weak<Shared>,
    params: Arc<Params>,
}

impl Node {
    /// A read-only handle on this node's chain (see [`ChainReader`]).
    pub fn chain_reader(&self) -> ChainReader {
        ChainReader {
            sh: Arc::downgrade(&self.shared),
            params: self.shared.params.clone(),
        }
    }
}

impl ChainReader {
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The node's status (best and finalized blocks among it), updated on every change;
    /// closed once the node is gone.
    pub fn status(&self) -> watch::Receiver<NodeStatus> {
        match self.sh.upgrade() {
            Some(sh) => sh.status.subscribe(),
            None => watch::channel(NodeStatus::default()).1,
        }
    }

    /// Parent, slot and posterior state root of an imported block (tree, else store).
    pub fn block(&self, hash: &HeaderHash) -> Option<(HeaderHash, TimeSlot, StateRoot)> {
        let sh = self.sh.upgrade()?;
        if let Some(e) = lock(&sh.chain).importable_parent(hash) {
            return Some((e.parent, e.slot, e.root));
        }
        let info = sh.store.block_info(&hash.0).ok()??;
        Some((
            OpaqueHash(info.parent),
            info.slot,
            OpaqueHash(info.state_root),
        ))
    }

    /// Whether the block is on the best chain.
    pub fn in_best_chain(&self, hash: &HeaderHash) -> bool {
        self.sh
            .upgrade()
            .is_some_and(|sh| lock(&sh.chain).canonical_after(hash, 0).is_some())
    }

    /// What the node knows of a work package's progress ([`tracking`]).
    pub fn package_progress(
        &self,
        hash: &jam_state::types::WorkPackageHash,
    ) -> Option<tracking::PackageProgress> {
        lock(&self.sh.upgrade()?.packages).get(hash)
    }

    /// Notes that a work package for `core` was submitted to this node (JIP-2).
    pub fn note_submitted(&self, hash: jam_state::types::WorkPackageHash, core: CoreIndex) {
        if let Some(sh) = self.sh.upgrade() {
            lock(&sh.packages).reach(hash, Some(core), tracking::Stage::Submitted, None);
        }
    }

    /// The posterior state of an imported block: in memory, else read from the store
    /// (blocking: call it off the async workers).
    pub fn state(&self, hash: &HeaderHash) -> Option<Arc<State>> {
        let sh = self.sh.upgrade()?;
        let in_memory = lock(&sh.chain)
            .importable_parent(hash)
            .and_then(|e| e.state.clone());
        if in_memory.is_some() {
            return in_memory;
        }
        let (_, _, root) = self.block(hash)?;
        let kvs = sh.store.state_at_root(&root.0).ok()?;
        State::from_key_values(&kvs, &sh.params).ok().map(Arc::new)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One thread, shared by the nodes of the process, for ticket proofs: they take seconds each,
/// and on the global rayon pool they would hold up the `rayon::join`s of block import.
fn ticket_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "tickets".into())
            .build()
            .expect("a one-thread pool")
    })
}

/// The chain task: the only writer of the chain and the store.
struct ChainTask {
    sh: Arc<Shared>,
    ring: Arc<RingContext>,
    /// Cloned for each import: clones share the key and program caches.
    import_ctx: ImportContext,
    keys: Arc<ValidatorSecrets>,
    tickets: bool,
    last_slot: Option<TimeSlot>,
    /// The contest (epoch) our own tickets were made for.
    own_epoch: Option<u32>,
    /// The epoch a ticket job runs for.
    ticket_job: Option<u32>,
}

impl ChainTask {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        self.maybe_make_tickets();
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Cmd::Slot(slot) => self.author(slot).await,
                Cmd::Import(blocks) => {
                    for b in blocks {
                        let (slot, hash) = (b.header.slot, b.header.hash());
                        match self.import(b).await {
                            Ok(true) => {
                                self.sh.status.send_modify(|s| s.imported += 1);
                            }
                            Ok(false) => {}
                            Err(e) => {
                                self.sh.error(format!(
                                    "block {} (slot {slot}) not imported: {e}",
                                    short(&hash)
                                ));
                                break;
                            }
                        }
                    }
                }
                Cmd::Tickets {
                    epoch,
                    result,
                    took,
                } => {
                    self.ticket_job = None;
                    match result {
                        Ok(t) => {
                            self.sh.log(format_args!(
                                "{} tickets for the contest of epoch {epoch} ({:.1} s)",
                                t.len(),
                                took.as_secs_f64()
                            ));
                            self.own_epoch = Some(epoch);
                            self.own_tickets(epoch, t).await;
                        }
                        Err(e) => self.sh.error(format!("tickets for epoch {epoch}: {e}")),
                    }
                }
            }
        }
    }

    /// The state of a block in the tree, read from the store if not in memory.
    async fn state_of(&self, hash: HeaderHash) -> Result<Arc<State>, String> {
        let (root, state) = {
            let c = lock(&self.sh.chain);
            let e = c
                .importable_parent(&hash)
                .ok_or_else(|| format!("block {} is not in the tree", short(&hash)))?;
            (e.root, e.state.clone())
        };
        if let Some(s) = state {
            return Ok(s);
        }
        let (store, params) = (self.sh.store.clone(), self.sh.params.clone());
        let state = tokio::task::spawn_blocking(move || {
            let kvs = store.state_at_root(&root.0).map_err(|e| e.to_string())?;
            State::from_key_values(&kvs, &params).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
        let state = Arc::new(state);
        lock(&self.sh.chain).set_state(&hash, state.clone());
        Ok(state)
    }

    /// Imports (and stores) a block whose parent is in the tree. `Ok(false)`: already known.
    async fn import(&mut self, block: Block) -> Result<bool, String> {
        let hash = block.header.hash();
        let parent = block.header.parent;
        let slot = block.header.slot;
        let (parent_root, make_best) = {
            let c = lock(&self.sh.chain);
            if c.contains(&hash) {
                return Ok(false);
            }
            let p = c.importable_parent(&parent).ok_or_else(|| {
                format!(
                    "parent {} unknown or not a descendant of the finalized block",
                    short(&parent)
                )
            })?;
            (p.root, c.would_be_best(&parent, slot, &hash))
        };
        let prior = self.state_of(parent).await?;
        let mut ctx = self.import_ctx.clone();
        ctx.parent_hash = Some(parent);
        ctx.prior_state_root = Some(parent_root);
        ctx.now_slot = self.sh.clock.get().map(SlotClock::now);
        let (store, params) = (self.sh.store.clone(), self.sh.params.clone());
        let header = block.header.clone();
        let guarantees = block.extrinsic.guarantees.clone();
        let (post, root, available) = tokio::task::spawn_blocking(move || {
            let (post, out) =
                import_block(&params, &ctx, &prior, &block).map_err(|e| format!("invalid: {e}"))?;
            let root = OpaqueHash(post.state_root());
            store
                .commit_block(BlockCommit::imported(
                    &block,
                    out.header_hash.0,
                    &prior,
                    &post,
                    root.0,
                    make_best,
                ))
                .map_err(|e| format!("store commit: {e}"))?;
            Ok::<_, String>((post, root, out.available))
        })
        .await
        .map_err(|e| e.to_string())??;
        if make_best {
            self.track(hash, slot, &guarantees, &available, &post);
        }
        let ins = lock(&self.sh.chain).insert(hash, parent, slot, root, Arc::new(post));
        lock(&self.sh.guarantees).prune(&self.sh.params, &guarantees, slot);
        preimages::on_imported(&self.sh);
        self.sh.publish();
        self.announce(&header);
        if ins.best {
            self.maybe_make_tickets();
            let post = lock(&self.sh.chain)
                .importable_parent(&hash)
                .and_then(|e| e.state.clone());
            if let Some(post) = post {
                self.on_new_best(hash, post, &guarantees);
            }
        }
        Ok(true)
    }

    /// Records the on-chain stages of the packages in a best-chain block ([`tracking`]):
    /// guaranteed (E_G), available (W) and accumulated (ξ' newest entry).
    fn track(
        &self,
        hash: HeaderHash,
        slot: TimeSlot,
        guarantees: &[jam_state::types::ReportGuarantee],
        available: &[jam_state::types::WorkPackageHash],
        post: &State,
    ) {
        use tracking::Stage;
        let block = Some((hash, slot));
        let mut t = lock(&self.sh.packages);
        for g in guarantees {
            self.sh.segments.note_report(&g.report);
            let core = Some(g.report.core_index);
            t.reach(g.report.package_spec.hash, core, Stage::Guaranteed, block);
        }
        for p in available {
            t.reach(*p, None, Stage::Available, block);
        }
        for p in post.accumulated.last().into_iter().flatten() {
            t.reach(*p, None, Stage::Accumulated, block);
        }
    }

    /// Announces a block to every peer with a UP 0 stream.
    fn announce(&self, header: &Header) {
        let fin = lock(&self.sh.chain).finalized();
        let a = jam_network::messages::Announcement {
            header: header.clone(),
            finalized: jam_network::messages::BlockRef {
                hash: fin.hash,
                slot: fin.slot,
            },
        };
        for p in lock(&self.sh.peers).values() {
            if let Some(tx) = &p.announce {
                let _ = tx.send(a.clone());
            }
        }
    }

    /// Authors on the best block if we hold `slot`.
    async fn author(&mut self, slot: TimeSlot) {
        if self.last_slot.is_some_and(|l| slot > l) {
            return;
        }
        if self.sh.clock.get().is_some_and(|c| c.now() > slot) {
            self.sh.log(format_args!("slot {slot}: skipped (late)"));
            return;
        }
        let best = lock(&self.sh.chain).best();
        if best.slot >= slot {
            return;
        }
        let state = match self.state_of(best.hash).await {
            Ok(s) => s,
            Err(e) => return self.sh.error(format!("slot {slot}: {e}")),
        };
        let pool = lock(&self.sh.tickets).candidates(&state, slot);
        let (params, ring, keys) = (self.sh.params.clone(), self.ring.clone(), self.keys.clone());
        let prior = state.clone();
        let authored = tokio::task::spawn_blocking(move || {
            author_block(&params, &ring, &prior, best.hash, slot, &keys, &pool)
        })
        .await;
        let block = match authored {
            Ok(Ok(Some(b))) => b,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => return self.sh.error(format!("slot {slot}: authoring failed: {e}")),
            Err(e) => {
                return self
                    .sh
                    .error(format!("slot {slot}: authoring panicked: {e}"))
            }
        };
        let block = self.with_extrinsics(block, &state).await;
        let hash = block.header.hash();
        let tickets: Vec<String> = block
            .extrinsic
            .tickets
            .iter()
            .map(|t| tickets::claimed_id(t).map_or("?".into(), |id| tickets::short_id(&id)))
            .collect();
        match self.import(block).await {
            Ok(_) => {
                self.sh.status.send_modify(|s| s.authored += 1);
                let by_ticket = lock(&self.sh.chain)
                    .importable_parent(&hash)
                    .and_then(|e| e.state.clone())
                    .is_some_and(|st| {
                        matches!(
                            st.safrole.gamma_s,
                            jam_state::types::TicketsOrKeys::Tickets(_)
                        )
                    });
                self.sh.log(format_args!(
                    "slot {slot}: authored #{} {} on {} ({}-sealed, {} tickets{}{})",
                    best.height + 1,
                    short(&hash),
                    short(&best.hash),
                    if by_ticket { "ticket" } else { "fallback" },
                    tickets.len(),
                    if tickets.is_empty() { "" } else { ": " },
                    tickets.join(" ")
                ));
            }
            Err(e) => self
                .sh
                .error(format!("slot {slot}: own block rejected: {e}")),
        }
    }

    /// Our tickets for the contest of `epoch` (used in `epoch + 1`): into the pool and on
    /// their way to their proxies (JAMNP-S § "CE 131/132").
    async fn own_tickets(&mut self, epoch: u32, own: Vec<TicketEnvelope>) {
        self.sh.status.send_modify(|s| s.tickets = own.len());
        let ctx = match net::ticket_context(&self.sh, epoch + 1).await {
            Ok(ctx) => ctx,
            Err(e) => return self.sh.log(format_args!("own tickets dropped: {e}")),
        };
        let queued = lock(&self.sh.tickets).add_own(&ctx, &own);
        for (id, proxy) in queued {
            self.sh.log(format_args!(
                "ticket {} for epoch {}: proxy is validator {proxy}{}",
                tickets::short_id(&id),
                epoch + 1,
                if ctx.next.get(proxy) == Some(&self.sh.me) {
                    " (us: we forward it)"
                } else {
                    ""
                }
            ));
        }
        self.sh.publish_tickets();
    }

    /// Starts making our tickets when the best block is in a contest we have none for.
    fn maybe_make_tickets(&mut self) {
        if !self.tickets {
            return;
        }
        let (best, state) = {
            let c = lock(&self.sh.chain);
            (c.best(), c.best_entry().state.clone())
        };
        let Some(state) = state else { return };
        let p = &self.sh.params;
        let epoch = best.slot / p.epoch_length;
        if best.slot % p.epoch_length >= p.ticket_contest_duration
            || self.own_epoch == Some(epoch)
            || self.ticket_job.is_some()
        {
            return;
        }
        self.ticket_job = Some(epoch);
        let clock = self.sh.clock.get().copied();
        let (params, ring, keys, cmd) = (
            self.sh.params.clone(),
            self.ring.clone(),
            self.keys.clone(),
            self.sh.cmd.clone(),
        );
        tokio::spawn(async move {
            let t0 = std::time::Instant::now();
            let result = tokio::task::spawn_blocking(move || {
                ticket_pool().install(|| {
                    // The job may have waited behind others: skip a contest that is over.
                    let now = clock.map_or(0, |c| c.now());
                    let (e, m) = (now / params.epoch_length, now % params.epoch_length);
                    if e > epoch || (e == epoch && m >= params.ticket_contest_duration) {
                        return Err("the contest ended before the proofs could start".into());
                    }
                    tickets_for_state(&params, &ring, &state, &keys).map_err(|e| e.to_string())
                })
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            let took = t0.elapsed();
            let _ = cmd.send(Cmd::Tickets {
                epoch,
                result,
                took,
            });
        });
    }
}
