//! The node-facing request handler and per-connection stream dispatch (JAMNP-S § "Protocols and streams", § "UP 0" – § "CE 145").
//!
//! [`Connection::serve`] accepts the peer's streams and runs each in its own task (at most
//! `max_concurrent_streams` at once, enforced by QUIC flow control). A handler returning
//! `None`/`false` rejects the request: the stream is reset. Kinds without a handler method
//! (CE 133/134/137–140/146–148) go to [`Handler::on_other_stream`], which by default resets.
//! Validator-only kinds ([`StreamKind::is_validator_only`]) opened by a peer the handler does
//! not consider a validator ([`Handler::is_validator`]) are reset with
//! [`codes::NOT_A_VALIDATOR`] before any message is read.

use crate::endpoint::{AnnouncementSender, BlockAnnouncements, Connection};
use crate::messages::{
    Announcement, BlockRequest, Concat, Handshake, StateRequest, StateResponse, TicketDistribution,
};
use crate::stream::{codes, Stream, StreamError, StreamKind};
use crate::work_messages::{
    Assurance, AuditAnnouncement, AuditEvidence, Judgment, JudgmentGuarantee, PreimageAnnouncement,
};
use jam_state::types::{Block, Ed25519Public, OpaqueHash, ReportGuarantee, WorkReport};
use std::future::Future;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// What the node provides to the network layer. Every method has a refusing/ignoring default.
#[allow(unused_variables)]
pub trait Handler: Send + Sync + 'static {
    /// Our UP 0 handshake: latest finalized block and current leaves.
    fn handshake(&self) -> Handshake;

    /// Whether `key` is a validator of the previous, current or next epoch (JAMNP-S § "UP 0":
    /// "validator"); validator-only streams from other peers are refused. Default: everyone
    /// (nodes that track no validator sets).
    fn is_validator(&self, key: &Ed25519Public) -> bool {
        true
    }

    /// A UP 0 stream with `peer` is up: their handshake, and the sender for our announcements
    /// (dropping it finishes our direction).
    fn on_block_announcements(
        &self,
        peer: &Connection,
        their: Handshake,
        sender: AnnouncementSender,
    ) {
    }

    /// UP 0 announcement from `peer`.
    fn on_announcement(
        &self,
        peer: &Connection,
        a: Announcement,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// CE 128: the blocks to return, or `None` to reset (e.g. unknown / unfinalizable block).
    fn on_block_request(
        &self,
        peer: &Connection,
        req: BlockRequest,
    ) -> impl Future<Output = Option<Vec<Block>>> + Send {
        async { None }
    }

    /// CE 129.
    fn on_state_request(
        &self,
        peer: &Connection,
        req: StateRequest,
    ) -> impl Future<Output = Option<StateResponse>> + Send {
        async { None }
    }

    /// CE 131 (`to_proxy`) / CE 132: `true` accepts the ticket.
    fn on_ticket(
        &self,
        peer: &Connection,
        to_proxy: bool,
        t: TicketDistribution,
    ) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// CE 135.
    fn on_work_report(
        &self,
        peer: &Connection,
        g: ReportGuarantee,
    ) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// CE 136.
    fn on_work_report_request(
        &self,
        peer: &Connection,
        hash: OpaqueHash,
    ) -> impl Future<Output = Option<WorkReport>> + Send {
        async { None }
    }

    /// CE 141.
    fn on_assurance(&self, peer: &Connection, a: Assurance) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// CE 142.
    fn on_preimage_announcement(
        &self,
        peer: &Connection,
        a: PreimageAnnouncement,
    ) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// CE 143.
    fn on_preimage_request(
        &self,
        peer: &Connection,
        hash: OpaqueHash,
    ) -> impl Future<Output = Option<Vec<u8>>> + Send {
        async { None }
    }

    /// CE 144.
    fn on_audit_announcement(
        &self,
        peer: &Connection,
        a: AuditAnnouncement,
        evidence: AuditEvidence,
    ) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// CE 145 (`guarantee` present iff the judgment is negative).
    fn on_judgment(
        &self,
        peer: &Connection,
        j: Judgment,
        guarantee: Option<JudgmentGuarantee>,
    ) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// Any other known kind (CE 133/134/137–140/146–148): the raw stream. Default: reset.
    fn on_other_stream(
        &self,
        peer: &Connection,
        stream: Stream,
    ) -> impl Future<Output = ()> + Send {
        let mut stream = stream;
        stream.reset(codes::REFUSED);
        async {}
    }
}

impl Connection {
    /// Serves the peer's streams with `handler` until the connection closes. Call once per
    /// connection (it consumes every stream the peer opens).
    pub fn serve<H: Handler>(&self, handler: Arc<H>) -> JoinHandle<()> {
        let conn = self.clone();
        tokio::spawn(async move {
            // Each stream's kind byte is read in its own task, so a silent stream delays
            // nothing else.
            while let Ok((send, recv)) = conn.accept_raw().await {
                let (c, h) = (conn.clone(), handler.clone());
                tokio::spawn(async move {
                    if let Some(stream) = c.identify(send, recv).await {
                        let _ = dispatch(&c, &*h, stream).await;
                    }
                });
            }
        })
    }

    /// Initiator side of UP 0: opens the stream, exchanges handshakes, hands the sender to
    /// `handler` and feeds it the peer's announcements until the stream ends.
    pub fn run_block_announcements<H: Handler>(
        &self,
        handler: Arc<H>,
    ) -> JoinHandle<Result<(), crate::Error>> {
        let conn = self.clone();
        tokio::spawn(async move {
            let ba = conn.open_block_announcements(&handler.handshake()).await?;
            Ok(drive_up0(&conn, &*handler, ba).await?)
        })
    }
}

async fn drive_up0<H: Handler>(
    conn: &Connection,
    h: &H,
    ba: BlockAnnouncements,
) -> Result<(), StreamError> {
    let BlockAnnouncements {
        peer_handshake,
        sender,
        mut receiver,
    } = ba;
    h.on_block_announcements(conn, peer_handshake, sender);
    while let Some(a) = receiver.next().await? {
        h.on_announcement(conn, a).await;
    }
    Ok(())
}

/// Ends a CE stream: FIN on acceptance, reset on refusal.
fn conclude(s: &mut Stream, ok: bool) -> Result<(), StreamError> {
    if ok {
        s.finish()
    } else {
        s.reset(codes::REFUSED);
        Ok(())
    }
}

async fn dispatch<H: Handler>(c: &Connection, h: &H, mut s: Stream) -> Result<(), StreamError> {
    use StreamKind as K;
    if s.kind().is_validator_only() && !h.is_validator(&c.peer_key) {
        s.reset(codes::NOT_A_VALIDATOR);
        return Ok(());
    }
    match s.kind() {
        K::BLOCK_ANNOUNCEMENT => {
            let ba = BlockAnnouncements::handshake(s, &h.handshake()).await?;
            drive_up0(c, h, ba).await
        }
        K::BLOCK_REQUEST => {
            let req: BlockRequest = s.recv().await?;
            s.recv_fin().await?;
            match h.on_block_request(c, req).await {
                Some(blocks) => {
                    s.send(&Concat(blocks)).await?;
                    s.finish()
                }
                None => conclude(&mut s, false),
            }
        }
        K::STATE_REQUEST => {
            let req: StateRequest = s.recv().await?;
            s.recv_fin().await?;
            match h.on_state_request(c, req).await {
                Some(r) => {
                    s.send(&Concat(r.boundary_nodes)).await?;
                    s.send(&Concat(r.pairs)).await?;
                    s.finish()
                }
                None => conclude(&mut s, false),
            }
        }
        K::TICKET_TO_PROXY | K::TICKET_FROM_PROXY => {
            let t: TicketDistribution = s.recv().await?;
            s.recv_fin().await?;
            let ok = h.on_ticket(c, s.kind() == K::TICKET_TO_PROXY, t).await;
            conclude(&mut s, ok)
        }
        K::WORK_REPORT_DISTRIBUTION => {
            let g: ReportGuarantee = s.recv().await?;
            s.recv_fin().await?;
            let ok = h.on_work_report(c, g).await;
            conclude(&mut s, ok)
        }
        K::WORK_REPORT_REQUEST => {
            let hash: OpaqueHash = s.recv().await?;
            s.recv_fin().await?;
            match h.on_work_report_request(c, hash).await {
                Some(r) => {
                    s.send(&r).await?;
                    s.finish()
                }
                None => conclude(&mut s, false),
            }
        }
        K::ASSURANCE_DISTRIBUTION => {
            let a: Assurance = s.recv().await?;
            s.recv_fin().await?;
            let ok = h.on_assurance(c, a).await;
            conclude(&mut s, ok)
        }
        K::PREIMAGE_ANNOUNCEMENT => {
            let a: PreimageAnnouncement = s.recv().await?;
            s.recv_fin().await?;
            let ok = h.on_preimage_announcement(c, a).await;
            conclude(&mut s, ok)
        }
        K::PREIMAGE_REQUEST => {
            let hash: OpaqueHash = s.recv().await?;
            s.recv_fin().await?;
            match h.on_preimage_request(c, hash).await {
                Some(p) => {
                    s.send_raw(&p).await?;
                    s.finish()
                }
                None => conclude(&mut s, false),
            }
        }
        K::AUDIT_ANNOUNCEMENT => {
            let a: AuditAnnouncement = s.recv().await?;
            let tranche = a.tranche;
            let e = s
                .recv_with(move |m, p| AuditEvidence::decode_for(tranche, m, p))
                .await?;
            s.recv_fin().await?;
            let ok = h.on_audit_announcement(c, a, e).await;
            conclude(&mut s, ok)
        }
        K::JUDGMENT_PUBLICATION => {
            let j: Judgment = s.recv().await?;
            let g = if j.valid {
                None
            } else {
                Some(s.recv_with(JudgmentGuarantee::decode_checked).await?)
            };
            s.recv_fin().await?;
            let ok = h.on_judgment(c, j, g).await;
            conclude(&mut s, ok)
        }
        _ => {
            h.on_other_stream(c, s).await;
            Ok(())
        }
    }
}
