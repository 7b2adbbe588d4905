//! The node's JAMNP-S side: connections (dial and accept), UP 0 handshakes and announcements,
//! CE 128 block requests (serving them from the store, and fetching unknown blocks).
//!
//! Connectivity (the simplest form of JAMNP-S § "Required connectivity"): a node connects to
//! every validator it knows an endpoint for. The preferred initiator P(a, b) dials, and keeps
//! redialling while disconnected; the other side dials too once it has been without a
//! connection for [`FALLBACK_DIAL_AFTER`] (e.g. after a restart, before the peer notices the
//! old connection is gone). The connection's initiator opens UP 0.

use super::{lock, short, short_key, Cmd, Peer, PeerAddr, Shared};
use jam_network::grid::we_initiate;
use jam_network::messages::{Announcement, BlockRef, BlockRequest, Direction, Handshake};
use jam_network::{AnnouncementSender, Connection, Endpoint, Handler};
use jam_state::codec::decode_exact;
use jam_state::hash::ZERO_HASH;
use jam_state::store::Store;
use jam_state::types::{Block, Ed25519Public, HeaderHash, OpaqueHash, TimeSlot};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The most blocks we send in one CE 128 response, and ask for in one request.
const MAX_BLOCKS: u32 = 256;
/// How long a block request may take.
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
    let up0 = sh
        .grid
        .as_ref()
        .is_none_or(|g| g.wants_block_announcements(&sh.me, &key));
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
pub(super) async fn dial_loop(
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
