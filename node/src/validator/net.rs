//! The node's JAMNP-S side: connections (dial and accept), UP 0 handshakes and announcements,
//! CE 128 block requests (serving them from the store, and fetching unknown blocks), CE 131/132
//! ticket distribution ([`super::tickets`]) and the per-epoch validator sets.
//!
//! Connectivity (JAMNP-S § "Required connectivity"): a node connects to its configured peers
//! and to every validator of the previous, current and next epochs (λ, κ, γ_k) with an endpoint
//! in its metadata. The preferred initiator P(a, b) dials, and keeps redialling while
//! disconnected; the other side dials too once it has been without a connection for
//! [`FALLBACK_DIAL_AFTER`] (e.g. after a restart, before the peer notices the old connection
//! is gone). The connection's initiator opens UP 0 (with [`super::NodeConfig::grid`], only
//! towards grid neighbours).
//!
//! Epoch transitions (§ "Epoch transitions"): the validator sets of epoch `e` are applied once
//! a block of epoch `e` is finalized and at least max(⌊E/30⌋, 1) slots of it have passed:
//! dialling starts for new validators and stops for those no longer in any set, UP 0 follows
//! the new grid, and CE 131/132 timing counts from that slot.
//!
//! Peers whose key is in none of the three sets are not validators: they keep their
//! connection (nodes and builders may connect, § "Required connectivity") and may use UP 0,
//! CE 128/129 and the builder/node kinds, but validator-only streams (CE 131/132 and the other
//! `Validator`/`Guarantor`/`Assurer`/`Auditor ->` kinds) are reset by the network layer with
//! `NOT_A_VALIDATOR` ([`Handler::is_validator`]).

use super::tickets::{short_id, Accepted, EpochContext, Send, TicketError};
use super::{lock, short, short_key, Cmd, Peer, PeerAddr, Shared};
use jam_network::grid::{
    connectivity_change_delay, endpoint_from_metadata, we_initiate, ValidatorSets,
};
use jam_network::messages::{
    Announcement, BlockRef, BlockRequest, Direction, Handshake, TicketDistribution,
};
use jam_network::{AnnouncementSender, Connection, Endpoint, Handler};
use jam_state::codec::decode_exact;
use jam_state::hash::ZERO_HASH;
use jam_state::state::State;
use jam_state::store::Store;
use jam_state::types::{Block, Ed25519Public, HeaderHash, OpaqueHash, TimeSlot};
use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, SocketAddrV6};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

/// The most blocks we send in one CE 128 response, and ask for in one request.
const MAX_BLOCKS: u32 = 256;

/// How long a CE 141 assurance waits for its anchor block to be imported here.
const ASSURANCE_ANCHOR_WAIT: Duration = Duration::from_secs(2);
/// How long a block request (or a ticket send) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The non-preferred side of a pair dials after this long without a connection.
const FALLBACK_DIAL_AFTER: Duration = Duration::from_secs(3);
/// Pause between dial attempts.
const REDIAL: Duration = Duration::from_millis(500);

/// The [`Handler`] of a node's connections.
pub(super) struct Net {
    pub sh: Arc<Shared>,
}

impl Handler for Net {
    /// JAMNP-S § "UP 0": a validator of the previous, current or next epoch.
    fn is_validator(&self, key: &Ed25519Public) -> bool {
        lock(&self.sh.sets).contains(key)
    }

    /// JAMNP-S § "CE 131/132": verify, deduplicate, pool (and, as proxy, queue forwarding).
    async fn on_ticket(&self, peer: &Connection, to_proxy: bool, t: TicketDistribution) -> bool {
        let (ce, epoch) = (if to_proxy { 131 } else { 132 }, t.epoch);
        match receive_ticket(&self.sh, to_proxy, t).await {
            Ok(Accepted::New(id)) => {
                self.sh.log(format_args!(
                    "ticket {} for epoch {epoch} from {} {} (CE {ce})",
                    short_id(&id),
                    short_key(&peer.peer_key),
                    if to_proxy {
                        "accepted as its proxy"
                    } else {
                        "added to the pool"
                    }
                ));
                self.sh.publish_tickets();
                true
            }
            Ok(Accepted::Known(_)) => true,
            Err(e) => {
                self.sh.log(format_args!(
                    "ticket for epoch {epoch} from {} refused (CE {ce}): {e}",
                    short_key(&peer.peer_key)
                ));
                false
            }
        }
    }

    /// JAMNP-S § "CE 135": a guarantee, checked against the assignment, into the E_G pool.
    async fn on_work_report(
        &self,
        peer: &Connection,
        g: jam_state::types::ReportGuarantee,
    ) -> bool {
        let core = g.report.core_index;
        match super::guarantor::receive(&self.sh, g) {
            Ok(new) => {
                if new {
                    self.sh.log(format_args!(
                        "guarantee for core {core} from {} pooled (CE 135)",
                        short_key(&peer.peer_key)
                    ));
                }
                true
            }
            Err(e) => {
                self.sh.log(format_args!("guarantee refused (CE 135): {e}"));
                false
            }
        }
    }

    /// JAMNP-S § "CE 141": verify against κ of the anchor's posterior state and pool. An
    /// assurance may arrive before its anchor block is imported here (the assurer imported
    /// it first): it waits for the anchor up to [`ASSURANCE_ANCHOR_WAIT`].
    async fn on_assurance(
        &self,
        peer: &Connection,
        a: jam_network::work_messages::Assurance,
    ) -> bool {
        let t0 = std::time::Instant::now();
        let state = loop {
            let state = lock(&self.sh.chain)
                .importable_parent(&a.anchor)
                .and_then(|e| e.state.clone());
            match state {
                Some(s) => break s,
                None if t0.elapsed() >= ASSURANCE_ANCHOR_WAIT => return false,
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        let av = self.sh.availability.clone();
        match av.on_assurance(&self.sh.params, &state, &peer.peer_key, a) {
            Ok(_) => true,
            Err(e) => {
                self.sh.log(format_args!(
                    "assurance from {} refused (CE 141): {e}",
                    short_key(&peer.peer_key)
                ));
                false
            }
        }
    }

    /// JAMNP-S § "CE 142": fetch (CE 143) and pool a preimage the best state requests.
    async fn on_preimage_announcement(
        &self,
        peer: &Connection,
        a: jam_network::work_messages::PreimageAnnouncement,
    ) -> bool {
        super::preimages::on_announcement(&self.sh, peer, a)
    }

    /// JAMNP-S § "CE 143": a pooled preimage by hash.
    async fn on_preimage_request(&self, _peer: &Connection, hash: OpaqueHash) -> Option<Vec<u8>> {
        super::preimages::serve(&self.sh, &hash)
    }

    /// JAMNP-S § "CE 137" – § "CE 140" from the shard store; other kinds are refused.
    async fn on_other_stream(&self, _peer: &Connection, mut stream: jam_network::Stream) {
        use jam_network::StreamKind as K;
        match stream.kind() {
            K::WORK_PACKAGE_SUBMISSION => {
                super::guarantor::serve_submission(&self.sh, stream).await
            }
            K::WORK_PACKAGE_SHARING => {
                let keys = self.sh.keys.clone();
                super::guarantor::serve_share(&self.sh, &keys, stream).await;
            }
            K::SHARD_DISTRIBUTION
            | K::AUDIT_SHARD_REQUEST
            | K::SEGMENT_SHARD_REQUEST
            | K::SEGMENT_SHARD_REQUEST_JUSTIFIED => {
                let _ = self.sh.availability.store.serve(stream).await;
            }
            _ => stream.reset(jam_network::stream::codes::REFUSED),
        }
    }

    fn handshake(&self) -> Handshake {
        let c = lock(&self.sh.chain);
        let f = c.finalized();
        Handshake {
            finalized: BlockRef {
                hash: f.hash,
                slot: f.slot,
            },
            leaves: c
                .leaves()
                .into_iter()
                .map(|l| BlockRef {
                    hash: l.hash,
                    slot: l.slot,
                })
                .collect(),
        }
    }

    fn on_block_announcements(
        &self,
        peer: &Connection,
        their: Handshake,
        sender: AnnouncementSender,
    ) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Announcement>();
        tokio::spawn(async move {
            let mut sender = sender;
            while let Some(a) = rx.recv().await {
                if sender.announce(&a).await.is_err() {
                    break;
                }
            }
        });
        if let Some(p) = lock(&self.sh.peers).get_mut(&peer.peer_key) {
            p.announce = Some(tx);
        }
        self.sh.publish();
        // Catch up on the peer's leaves (e.g. after our restart).
        for leaf in their.leaves {
            if !self.sh.known(&leaf.hash) {
                tokio::spawn(fetch(self.sh.clone(), peer.clone(), leaf.hash, leaf.slot));
            }
        }
    }

    async fn on_announcement(&self, peer: &Connection, a: Announcement) {
        let hash = a.header.hash();
        if !self.sh.known(&hash) {
            tokio::spawn(fetch(self.sh.clone(), peer.clone(), hash, a.header.slot));
        }
    }

    async fn on_block_request(&self, _peer: &Connection, req: BlockRequest) -> Option<Vec<Block>> {
        let sh = self.sh.clone();
        let max = req.max_blocks.min(MAX_BLOCKS) as usize;
        let ascending = match req.direction {
            Direction::AscendingExclusive => Some(lock(&sh.chain).canonical_after(&req.hash, max)?),
            Direction::DescendingInclusive => None,
        };
        tokio::task::spawn_blocking(move || {
            let read = |h: &HeaderHash| -> Option<Block> {
                let bytes = sh.store.block(&h.0).ok()??;
                decode_exact(&bytes, &sh.params).ok()
            };
            let blocks = match ascending {
                Some(hashes) => hashes.iter().map(read).collect::<Option<Vec<_>>>()?,
                None => {
                    let mut out = Vec::new();
                    let mut h = req.hash;
                    while out.len() < max {
                        let Ok(Some(info)) = sh.store.block_info(&h.0) else {
                            break;
                        };
                        if info.parent == ZERO_HASH {
                            break; // the genesis is not sent
                        }
                        out.push(read(&h)?);
                        h = OpaqueHash(info.parent);
                    }
                    out
                }
            };
            (!blocks.is_empty() || ascending_ok(&req)).then_some(blocks)
        })
        .await
        .ok()
        .flatten()
    }
}

/// An ascending request for a canonical block with no children yet is answered (empty).
fn ascending_ok(req: &BlockRequest) -> bool {
    req.direction == Direction::AscendingExclusive
}

/// Fetches the block `hash` (at `slot`) and its unknown ancestors from `peer`, and queues them
/// for import, oldest first.
pub(super) async fn fetch(sh: Arc<Shared>, peer: Connection, hash: HeaderHash, slot: TimeSlot) {
    if !lock(&sh.fetching).insert(hash) {
        return;
    }
    let r = fetch_chain(&sh, &peer, hash, slot).await;
    lock(&sh.fetching).remove(&hash);
    match r {
        Ok(blocks) if !blocks.is_empty() => {
            let _ = sh.cmd.send(Cmd::Import(blocks));
        }
        Ok(_) => {}
        Err(e) => sh.log(format_args!(
            "fetching {} from {}: {e}",
            short(&hash),
            short_key(&peer.peer_key)
        )),
    }
}

async fn fetch_chain(
    sh: &Shared,
    peer: &Connection,
    mut hash: HeaderHash,
    mut slot: TimeSlot,
) -> Result<Vec<Block>, String> {
    let mut out: Vec<Block> = Vec::new(); // newest first
    for _ in 0..64 {
        let fin_slot = lock(&sh.chain).finalized().slot;
        let max = slot.saturating_sub(fin_slot).clamp(1, MAX_BLOCKS);
        let req = BlockRequest {
            hash,
            direction: Direction::DescendingInclusive,
            max_blocks: max,
        };
        let blocks = tokio::time::timeout(REQUEST_TIMEOUT, peer.request_blocks(&req))
            .await
            .map_err(|_| "request timed out".to_string())?
            .map_err(|e| format!("block request: {e}"))?;
        if blocks.is_empty() {
            return Err("the peer returned no blocks".into());
        }
        for b in blocks {
            let h = b.header.hash();
            if h != hash {
                return Err(format!(
                    "response block {} is not the expected {}",
                    short(&h),
                    short(&hash)
                ));
            }
            if sh.known(&h) {
                out.reverse();
                return Ok(out);
            }
            hash = b.header.parent;
            slot = b.header.slot;
            out.push(b);
            if sh.known(&hash) {
                out.reverse();
                return Ok(out);
            }
        }
    }
    Err("no known ancestor within 64 requests".into())
}

/// Registers a new connection, serves its streams and (as initiator) opens UP 0.
pub(super) fn on_connection(sh: &Arc<Shared>, net: &Arc<Net>, conn: Connection) {
    let key = conn.peer_key;
    let id = sh.next_conn_id.fetch_add(1, Ordering::Relaxed);
    lock(&sh.peers).insert(
        key,
        Peer {
            conn: conn.clone(),
            id,
            announce: None,
        },
    );
    sh.log(format_args!(
        "connected to {} at {} ({})",
        short_key(&key),
        conn.remote_address(),
        if conn.is_initiator() { "out" } else { "in" }
    ));
    sh.publish();
    conn.serve(net.clone());
    let up0 = !sh.grid || lock(&sh.sets).wants_block_announcements(&sh.me, &key);
    if conn.is_initiator() && up0 {
        conn.run_block_announcements(net.clone());
    }
    let sh = sh.clone();
    tokio::spawn(async move {
        let why = conn.closed().await;
        let removed = {
            let mut peers = lock(&sh.peers);
            let ours = peers.get(&key).is_some_and(|p| p.id == id);
            if ours {
                peers.remove(&key);
            }
            ours
        };
        if removed {
            sh.log(format_args!("disconnected from {}: {why}", short_key(&key)));
            sh.publish();
        }
    });
}

/// Accepts inbound connections until the endpoint closes.
pub(super) async fn accept_loop(sh: Arc<Shared>, net: Arc<Net>, endpoint: Arc<Endpoint>) {
    while let Some(r) = endpoint.accept().await {
        match r {
            Ok(conn) => on_connection(&sh, &net, conn),
            Err(e) => sh.log(format_args!("inbound connection failed: {e}")),
        }
    }
}

/// Keeps a connection to `peer` up (see the module docs).
async fn dial_loop(
    sh: Arc<Shared>,
    net: Arc<Net>,
    endpoint: Arc<Endpoint>,
    peer: PeerAddr,
    me: Ed25519Public,
) {
    let preferred = we_initiate(&me, &peer.key);
    let mut connected_at = Instant::now();
    loop {
        let alive = lock(&sh.peers).contains_key(&peer.key);
        if alive {
            connected_at = Instant::now();
        } else if preferred || connected_at.elapsed() >= FALLBACK_DIAL_AFTER {
            match tokio::time::timeout(REQUEST_TIMEOUT, endpoint.connect(peer.addr, peer.key)).await
            {
                Ok(Ok(conn)) => {
                    on_connection(&sh, &net, conn);
                    connected_at = Instant::now();
                }
                Ok(Err(e)) => sh.log(format_args!("dialling {}: {e}", peer.addr)),
                Err(_) => sh.log(format_args!("dialling {}: timed out", peer.addr)),
            }
        }
        tokio::time::sleep(REDIAL).await;
    }
}

/// The context for tickets used in `epoch`: cached, else built from the best block's state
/// when that block is in epoch `epoch − 1`.
pub(super) async fn ticket_context(
    sh: &Arc<Shared>,
    epoch: u32,
) -> Result<Arc<EpochContext>, TicketError> {
    if let Some(ctx) = lock(&sh.tickets).context(epoch) {
        return Ok(ctx);
    }
    let no_context = TicketError::NoContext {
        epoch,
        needed: epoch.wrapping_sub(1),
    };
    let state = {
        let c = lock(&sh.chain);
        (c.best().slot / sh.params.epoch_length + 1 == epoch)
            .then(|| c.best_entry().state.clone())
            .flatten()
    };
    let state = state.ok_or(no_context)?;
    let (params, ring) = (sh.params.clone(), sh.ring.clone());
    let ctx = tokio::task::spawn_blocking(move || EpochContext::from_state(&params, &ring, &state))
        .await
        .ok()
        .flatten()
        .ok_or(TicketError::NoContext {
            epoch,
            needed: epoch.wrapping_sub(1),
        })?;
    let ctx = Arc::new(ctx);
    lock(&sh.tickets).set_context(ctx.clone());
    Ok(ctx)
}

/// Checks a received ticket (CE 131 when `to_proxy`) and takes it into the pool.
async fn receive_ticket(
    sh: &Arc<Shared>,
    to_proxy: bool,
    t: TicketDistribution,
) -> Result<Accepted, TicketError> {
    if let Some(id) = lock(&sh.tickets).known(t.epoch, &t.ticket) {
        return Ok(Accepted::Known(id));
    }
    let ctx = ticket_context(sh, t.epoch).await?;
    let (params, c, ticket) = (sh.params.clone(), ctx.clone(), t.ticket.clone());
    let id = tokio::task::spawn_blocking(move || c.verify(&params, &ticket))
        .await
        .map_err(|_| TicketError::BadProof)??;
    let now = sh.now_slot();
    lock(&sh.tickets).accept(&ctx, to_proxy, id, &t.ticket, now)
}

/// Sends the ticket messages due at `slot` (each in its own task).
fn send_tickets(sh: &Arc<Shared>, slot: TimeSlot) {
    let conns: HashMap<Ed25519Public, Connection> = lock(&sh.peers)
        .iter()
        .map(|(k, p)| (*k, p.conn.clone()))
        .collect();
    let due = lock(&sh.tickets).due(slot, |k| conns.contains_key(k));
    for s in due {
        let Some(conn) = conns.get(&s.to).cloned() else {
            lock(&sh.tickets).sent(&s, false);
            continue;
        };
        let sh = sh.clone();
        tokio::spawn(async move {
            let msg = TicketDistribution {
                epoch: s.epoch,
                ticket: s.ticket.clone(),
            };
            let r = tokio::time::timeout(REQUEST_TIMEOUT, conn.send_ticket(s.to_proxy, &msg))
                .await
                .map_err(|_| "timed out".to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            ticket_sent(&sh, &s, r);
        });
    }
}

fn ticket_sent(sh: &Shared, s: &Send, r: Result<(), String>) {
    let done = lock(&sh.tickets).sent(s, r.is_ok());
    let (id, epoch) = (short_id(&s.id), s.epoch);
    match (&r, s.to_proxy) {
        (Ok(()), true) => sh.log(format_args!(
            "ticket {id} for epoch {epoch} sent to its proxy {} (CE 131)",
            short_key(&s.to)
        )),
        (Err(e), true) => sh.log(format_args!(
            "ticket {id} for epoch {epoch} to its proxy {}: {e} (will retry)",
            short_key(&s.to)
        )),
        (Err(e), false) => sh.log(format_args!(
            "ticket {id} for epoch {epoch} to {}: {e} (will retry)",
            short_key(&s.to)
        )),
        (Ok(()), false) => {}
    }
    if let Some(n) = done {
        sh.log(format_args!(
            "ticket {id} for epoch {epoch} forwarded to {n} validators (CE 132)"
        ));
    }
}

/// The address to dial for a metadata endpoint (IPv4-mapped addresses as IPv4); `None` for
/// an unset endpoint.
fn dial_addr(e: SocketAddrV6) -> Option<SocketAddr> {
    if e.port() == 0 || e.ip().is_unspecified() {
        return None;
    }
    Some(match e.ip().to_ipv4_mapped() {
        Some(v4) => SocketAddr::new(v4.into(), e.port()),
        None => SocketAddr::V6(e),
    })
}

/// The validators of λ, κ and γ_k with an endpoint in their metadata.
fn validator_addrs(state: &State) -> Vec<PeerAddr> {
    let sets = [
        &state.previous_validators,
        &state.active_validators,
        &state.safrole.gamma_k,
    ];
    let mut out: Vec<PeerAddr> = Vec::new();
    for v in sets.into_iter().flat_map(|s| s.iter()) {
        if let Some(addr) = dial_addr(endpoint_from_metadata(&v.metadata)) {
            if !out.iter().any(|p| p.key == v.ed25519) {
                out.push(PeerAddr {
                    key: v.ed25519,
                    addr,
                });
            }
        }
    }
    out
}

/// The finalized block's epoch and a state of that epoch (the finalized block's, else the
/// best block's when it is in the same epoch).
fn finalized_epoch_state(sh: &Shared) -> (u32, Option<Arc<State>>) {
    let c = lock(&sh.chain);
    let e = sh.params.epoch_length;
    let fin = c.finalized();
    let state = c
        .importable_parent(&fin.hash)
        .and_then(|x| x.state.clone())
        .or_else(|| {
            (c.best().slot / e == fin.slot / e)
                .then(|| c.best_entry().state.clone())
                .flatten()
        });
    (fin.slot / e, state)
}

/// Keeps the connections of the node: dial loops for its configured peers and the validators
/// of the applied epoch; on each slot, applies a new epoch's validator sets when due (see the
/// module docs) and sends the ticket messages due.
pub(super) async fn connectivity(
    sh: Arc<Shared>,
    net: Arc<Net>,
    endpoint: Arc<Endpoint>,
    configured: Vec<PeerAddr>,
    genesis: Arc<State>,
) {
    // Aborted (with the dial loops) when this task is.
    let mut dialers: JoinSet<()> = JoinSet::new();
    let mut dialling: HashMap<Ed25519Public, AbortHandle> = HashMap::new();
    let mut dial = |targets: Vec<PeerAddr>, dialers: &mut JoinSet<()>| {
        let mut keep: HashSet<Ed25519Public> = HashSet::new();
        for p in configured.iter().chain(targets.iter()) {
            if p.key == sh.me || !keep.insert(p.key) || dialling.contains_key(&p.key) {
                continue;
            }
            let h = dialers.spawn(dial_loop(
                sh.clone(),
                net.clone(),
                endpoint.clone(),
                *p,
                sh.me,
            ));
            dialling.insert(p.key, h);
        }
        dialling.retain(|k, h| {
            let kept = keep.contains(k);
            if !kept {
                h.abort();
            }
            kept
        });
    };
    dial(validator_addrs(&genesis), &mut dialers);
    drop(genesis);
    let mut applied: Option<u32> = None;
    let mut status = sh.status.subscribe();
    let mut last_slot = status.borrow().slot;
    let e = sh.params.epoch_length;
    while status.changed().await.is_ok() {
        let slot = status.borrow_and_update().slot;
        if slot == last_slot {
            continue;
        }
        last_slot = slot;
        // Reap finished (aborted) dial loops.
        while dialers.try_join_next().is_some() {}
        let (epoch, state) = finalized_epoch_state(&sh);
        if applied.is_none_or(|a| epoch > a) && slot >= epoch * e + connectivity_change_delay(e) {
            if let Some(state) = state {
                let sets = ValidatorSets::from_state(&state);
                dial(validator_addrs(&state), &mut dialers);
                apply_sets(&sh, &net, sets);
                lock(&sh.tickets).connectivity_applied(epoch, slot);
                sh.log(format_args!(
                    "epoch {epoch}: validator sets applied at slot {slot}"
                ));
                applied = Some(epoch);
            }
        }
        send_tickets(&sh, slot);
        sh.publish_tickets();
    }
}

/// Switches to new validator sets: UP 0 follows the new grid on connections we initiated.
fn apply_sets(sh: &Arc<Shared>, net: &Arc<Net>, sets: ValidatorSets) {
    let old = std::mem::replace(&mut *lock(&sh.sets), sets.clone());
    if !sh.grid || old == sets {
        return;
    }
    let mut open = Vec::new();
    for (k, p) in lock(&sh.peers).iter_mut() {
        let (was, now) = (
            old.wants_block_announcements(&sh.me, k),
            sets.wants_block_announcements(&sh.me, k),
        );
        if !p.conn.is_initiator() || was == now {
            continue;
        }
        if now {
            open.push(p.conn.clone());
        } else {
            // Dropping our sender finishes our direction of UP 0.
            p.announce = None;
        }
    }
    for conn in open {
        conn.run_block_announcements(net.clone());
    }
    sh.publish();
}
