//! QUIC endpoints, authenticated connections and stream opening/acceptance (JAMNP-S § "Encryption and handshake", § "Protocols and streams").

use crate::grid::we_initiate;
use crate::messages::{
    Announcement, BlockRequest, BlockResponse, Concat, Handshake, KeyValue, StateRequest,
    StateResponse, TicketDistribution,
};
use crate::stream::{codes, Budget, RecvHalf, SendHalf, Stream, StreamError, StreamKind, UpGuard};
use crate::tls::{self, alpn, peer_key_from_cert, CertError, Identity};
use crate::work_messages::{
    Assurance, AuditAnnouncement, AuditEvidence, Judgment, JudgmentGuarantee, PreimageAnnouncement,
    WorkPackageSubmission,
};
use ed25519_dalek::SigningKey;
use jam_state::codec::{decode_exact, Encode};
use jam_state::params::Params;
use jam_state::types::{Block, Ed25519Public, HeaderHash, OpaqueHash, ReportGuarantee, WorkReport};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::pki_types::CertificateDer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How we identify when dialling: as a node, or as a work-package builder (`/builder` ALPN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Node,
    Builder,
}

/// Endpoint tuning.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Chain parameters (message decoding depends on V, C, E, ...).
    pub params: Params,
    /// Streams a peer may have open on one connection at once. Together with the per-kind
    /// message limits this bounds the memory one peer can make us hold.
    pub max_concurrent_streams: u32,
    /// Connection idle timeout.
    pub idle_timeout: Duration,
    /// Keep-alive interval (keeps UP streams' connections open).
    pub keep_alive: Option<Duration>,
    /// How long a freshly opened stream may take to send its kind byte.
    pub kind_byte_timeout: Duration,
    /// Bytes of partially received messages one peer may make us hold, over all the streams it
    /// opened (a single larger message waits until it has the whole budget).
    pub per_peer_receive_budget: usize,
    /// Present a certificate with this alternative name instead of N(key) (refusal tests).
    #[doc(hidden)]
    pub alt_name_override: Option<String>,
}

impl EndpointConfig {
    pub fn new(params: Params) -> Self {
        EndpointConfig {
            params,
            max_concurrent_streams: 128,
            idle_timeout: Duration::from_secs(30),
            keep_alive: Some(Duration::from_secs(10)),
            kind_byte_timeout: Duration::from_secs(5),
            per_peer_receive_budget: 64 << 20,
            alt_name_override: None,
        }
    }
}

/// Endpoint and connection errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("tls configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("certificate generation: {0}")]
    CertGen(#[from] rcgen::Error),
    #[error("no TLS 1.3 initial cipher suite")]
    NoInitialCipherSuite,
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("peer negotiated ALPN {0:?}, not ours")]
    Alpn(Option<String>),
    #[error("peer presented no certificate")]
    NoPeerCertificate,
    #[error("peer certificate: {0}")]
    PeerCert(#[from] CertError),
    #[error("UP streams are opened by the connection's initiator only")]
    NotInitiator,
    #[error("stream: {0}")]
    Stream(#[from] StreamError),
    #[error("endpoint closed")]
    EndpointClosed,
}

struct Shared {
    id: Identity,
    genesis: HeaderHash,
    role: Role,
    params: Arc<Params>,
    transport: Arc<quinn::TransportConfig>,
    kind_byte_timeout: Duration,
    budget_bytes: usize,
}

/// A JAMNP-S endpoint: one UDP socket, dialling and accepting.
pub struct Endpoint {
    quic: quinn::Endpoint,
    shared: Arc<Shared>,
    incoming: tokio::sync::Mutex<mpsc::Receiver<Result<Connection, Error>>>,
}

impl Endpoint {
    /// Binds `addr` with identity `keypair` for the chain with genesis header hash `genesis_hash`.
    /// Must be called inside a tokio runtime.
    pub fn bind(
        addr: SocketAddr,
        keypair: SigningKey,
        genesis_hash: HeaderHash,
        role: Role,
        params: Params,
    ) -> Result<Self, Error> {
        Self::bind_with(
            addr,
            keypair,
            genesis_hash,
            role,
            EndpointConfig::new(params),
        )
    }

    /// [`Endpoint::bind`] with explicit tuning.
    pub fn bind_with(
        addr: SocketAddr,
        keypair: SigningKey,
        genesis_hash: HeaderHash,
        role: Role,
        config: EndpointConfig,
    ) -> Result<Self, Error> {
        let id = match &config.alt_name_override {
            Some(n) => Identity::with_alt_name(&keypair, n.clone())?,
            None => Identity::new(&keypair)?,
        };
        let mut transport = quinn::TransportConfig::default();
        transport
            .max_concurrent_bidi_streams(config.max_concurrent_streams.into())
            .max_concurrent_uni_streams(0u32.into())
            .keep_alive_interval(config.keep_alive)
            .max_idle_timeout(Some(
                config
                    .idle_timeout
                    .try_into()
                    .map_err(|_| std::io::Error::other("idle timeout too large"))?,
            ));
        let transport = Arc::new(transport);
        let server = tls::server_config(&id, &genesis_hash)?;
        let server = QuicServerConfig::try_from(server).map_err(|_| Error::NoInitialCipherSuite)?;
        let mut sc = quinn::ServerConfig::with_crypto(Arc::new(server));
        sc.transport_config(transport.clone());
        let quic = quinn::Endpoint::server(sc, addr)?;
        let shared = Arc::new(Shared {
            id,
            genesis: genesis_hash,
            role,
            params: Arc::new(config.params),
            transport,
            kind_byte_timeout: config.kind_byte_timeout,
            budget_bytes: config.per_peer_receive_budget,
        });
        let (tx, rx) = mpsc::channel(64);
        let (q, sh) = (quic.clone(), shared.clone());
        tokio::spawn(async move {
            while let Some(incoming) = q.accept().await {
                let (tx, sh) = (tx.clone(), sh.clone());
                // Handshakes run concurrently; completed ones queue for `accept`.
                tokio::spawn(async move {
                    let r = match incoming.await {
                        Ok(c) => Connection::establish(c, &sh, false, None),
                        Err(e) => Err(e.into()),
                    };
                    let _ = tx.send(r).await;
                });
            }
        });
        Ok(Endpoint {
            quic,
            shared,
            incoming: tokio::sync::Mutex::new(rx),
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        Ok(self.quic.local_addr()?)
    }

    /// Our Ed25519 public key.
    pub fn public_key(&self) -> Ed25519Public {
        self.shared.id.public
    }

    pub fn params(&self) -> &Params {
        &self.shared.params
    }

    /// Dials `addr`, requiring the peer to present `expected_key`'s certificate.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        expected_key: Ed25519Public,
    ) -> Result<Connection, Error> {
        let sh = &self.shared;
        let tls = tls::client_config(&sh.id, &sh.genesis, sh.role == Role::Builder, expected_key)?;
        let tls = QuicClientConfig::try_from(tls).map_err(|_| Error::NoInitialCipherSuite)?;
        let mut cc = quinn::ClientConfig::new(Arc::new(tls));
        cc.transport_config(sh.transport.clone());
        // The server name is not used for verification (the expected key is); send N(key).
        let name = crate::alt_name::alt_name(&expected_key.0);
        let conn = self.quic.connect_with(cc, addr, &name)?.await?;
        Connection::establish(conn, sh, true, Some(expected_key))
    }

    /// The next accepted connection (or the error of a failed inbound handshake); `None` once
    /// the endpoint is closed.
    pub async fn accept(&self) -> Option<Result<Connection, Error>> {
        self.incoming.lock().await.recv().await
    }

    /// Closes every connection and the socket.
    pub fn close(&self) {
        self.quic.close(0u32.into(), b"closing");
    }

    /// Waits until every connection is cleanly shut down.
    pub async fn wait_idle(&self) {
        self.quic.wait_idle().await
    }
}

impl Drop for Endpoint {
    /// Dropping the endpoint closes it (and so its connections and accept task).
    fn drop(&mut self) {
        self.quic.close(0u32.into(), b"endpoint dropped");
    }
}

/// An authenticated connection to a peer.
#[derive(Clone)]
pub struct Connection {
    /// The peer's Ed25519 key, from its certificate.
    pub peer_key: Ed25519Public,
    /// The peer dialled us with the `/builder` ALPN.
    pub peer_is_builder: bool,
    initiator: bool,
    quic: quinn::Connection,
    shared: Arc<Shared>,
    up: Arc<Mutex<HashMap<u8, watch::Sender<u64>>>>,
    budget: Arc<Budget>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer_key", &self.peer_key)
            .field("peer_is_builder", &self.peer_is_builder)
            .field("initiator", &self.initiator)
            .field("remote", &self.quic.remote_address())
            .finish()
    }
}

/// Close codes for connections we refuse after the TLS handshake.
const CLOSE_BAD_ALPN: u32 = 1;
const CLOSE_BAD_PEER: u32 = 2;

impl Connection {
    fn establish(
        quic: quinn::Connection,
        shared: &Arc<Shared>,
        initiator: bool,
        expected: Option<Ed25519Public>,
    ) -> Result<Self, Error> {
        let protocol = quic
            .handshake_data()
            .and_then(|h| h.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
            .and_then(|h| h.protocol);
        let plain = alpn(&shared.genesis, false);
        let builder = alpn(&shared.genesis, true);
        let peer_is_builder = match &protocol {
            Some(p) if initiator && *p == alpn(&shared.genesis, shared.role == Role::Builder) => {
                false
            }
            Some(p) if !initiator && *p == plain => false,
            Some(p) if !initiator && *p == builder => true,
            other => {
                quic.close(CLOSE_BAD_ALPN.into(), b"alpn");
                let s = other
                    .as_ref()
                    .map(|p| String::from_utf8_lossy(p).into_owned());
                return Err(Error::Alpn(s));
            }
        };
        let key = quic
            .peer_identity()
            .and_then(|i| i.downcast::<Vec<CertificateDer<'static>>>().ok())
            .and_then(|certs| certs.first().map(|c| peer_key_from_cert(c)))
            .unwrap_or(Err(CertError::Malformed));
        let peer_key = match (key, expected) {
            (Ok(k), Some(e)) if k != e => Err(CertError::UnexpectedKey {
                expected: e,
                got: k,
            }),
            (k, _) => k,
        };
        let peer_key = match peer_key {
            Ok(k) => k,
            Err(e) => {
                quic.close(CLOSE_BAD_PEER.into(), b"certificate");
                return Err(e.into());
            }
        };
        Ok(Connection {
            peer_key,
            peer_is_builder,
            initiator,
            quic,
            shared: shared.clone(),
            up: Arc::default(),
            budget: Arc::new(Budget::new(shared.budget_bytes)),
        })
    }

    /// Whether we dialled this connection (and so open its UP streams).
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    /// Whether, for a validator pair, we are the spec's preferred initiator.
    pub fn we_are_preferred_initiator(&self) -> bool {
        we_initiate(&self.shared.id.public, &self.peer_key)
    }

    pub fn remote_address(&self) -> SocketAddr {
        self.quic.remote_address()
    }

    pub fn params(&self) -> &Params {
        &self.shared.params
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.quic.close(0u32.into(), b"");
    }

    /// Waits for the connection to close, returning why.
    pub async fn closed(&self) -> quinn::ConnectionError {
        self.quic.closed().await
    }

    /// Registers `id` as the live stream of UP `kind`; the guard notices when superseded.
    fn up_guard(&self, kind: StreamKind, id: u64) -> Option<UpGuard> {
        let mut map = self.up.lock().expect("up map");
        match map.get(&kind.0) {
            Some(tx) if *tx.borrow() > id => None, // an older stream than the live one
            Some(tx) => {
                tx.send_replace(id);
                Some(UpGuard {
                    id,
                    latest: tx.subscribe(),
                })
            }
            None => {
                let (tx, rx) = watch::channel(id);
                map.insert(kind.0, tx);
                Some(UpGuard { id, latest: rx })
            }
        }
    }

    /// Opens a stream of `kind` and sends its kind byte. UP kinds may only be opened by the
    /// connection's initiator; opening one replaces (resets) our previous stream of that kind.
    pub async fn open_stream(&self, kind: StreamKind) -> Result<Stream, Error> {
        if kind.is_unique_persistent() && !self.initiator {
            return Err(Error::NotInitiator);
        }
        let (mut send, recv) = self.quic.open_bi().await?;
        send.write_all(&[kind.0]).await.map_err(StreamError::from)?;
        let up = if kind.is_unique_persistent() {
            self.up_guard(kind, send.id().into())
        } else {
            None
        };
        Ok(Stream::new(
            send,
            recv,
            kind,
            true,
            self.shared.params.clone(),
            up,
            None,
        ))
    }

    /// The next stream the peer opens, with its kind byte read. Streams of unknown kinds, UP
    /// streams opened by the connection's acceptor, UP streams older than the live one, and
    /// streams that do not send their kind byte in time are reset and skipped. Errors only
    /// when the connection is gone.
    pub async fn accept_stream(&self) -> Result<Stream, Error> {
        loop {
            let (send, recv) = self.quic.accept_bi().await?;
            if let Some(s) = self.identify(send, recv).await {
                return Ok(s);
            }
        }
    }

    /// Waits for the next stream the peer opens, without reading from it.
    pub(crate) async fn accept_raw(&self) -> Result<(quinn::SendStream, quinn::RecvStream), Error> {
        Ok(self.quic.accept_bi().await?)
    }

    /// Reads and checks the kind byte of a peer-opened stream (see [`Self::accept_stream`]).
    pub(crate) async fn identify(
        &self,
        mut send: quinn::SendStream,
        mut recv: quinn::RecvStream,
    ) -> Option<Stream> {
        let mut kind = [0u8; 1];
        let read =
            tokio::time::timeout(self.shared.kind_byte_timeout, recv.read_exact(&mut kind)).await;
        let refuse = |send: &mut quinn::SendStream, recv: &mut quinn::RecvStream, c: u32| {
            let _ = send.reset(c.into());
            let _ = recv.stop(c.into());
        };
        if !matches!(read, Ok(Ok(()))) {
            refuse(&mut send, &mut recv, codes::BAD_KIND);
            return None;
        }
        let kind = StreamKind(kind[0]);
        if !kind.is_known() || (kind.is_unique_persistent() && self.initiator) {
            refuse(&mut send, &mut recv, codes::BAD_KIND);
            return None;
        }
        let up = if kind.is_unique_persistent() {
            match self.up_guard(kind, send.id().into()) {
                Some(g) => Some(g),
                None => {
                    refuse(&mut send, &mut recv, codes::SUPERSEDED);
                    return None;
                }
            }
        } else {
            None
        };
        Some(Stream::new(
            send,
            recv,
            kind,
            false,
            self.shared.params.clone(),
            up,
            Some(self.budget.clone()),
        ))
    }

    // ---- typed requests (stream initiator side) ----

    /// Opens UP 0 and exchanges handshakes.
    pub async fn open_block_announcements(
        &self,
        ours: &Handshake,
    ) -> Result<BlockAnnouncements, Error> {
        let s = self.open_stream(StreamKind::BLOCK_ANNOUNCEMENT).await?;
        Ok(BlockAnnouncements::handshake(s, ours).await?)
    }

    /// CE 128.
    pub async fn request_blocks(&self, req: &BlockRequest) -> Result<Vec<Block>, Error> {
        let mut s = self.open_stream(StreamKind::BLOCK_REQUEST).await?;
        s.send(req).await?;
        s.finish()?;
        let blocks: BlockResponse = s.recv().await?;
        s.recv_fin().await?;
        Ok(blocks.0)
    }

    /// CE 129.
    pub async fn request_state(&self, req: &StateRequest) -> Result<StateResponse, Error> {
        let mut s = self.open_stream(StreamKind::STATE_REQUEST).await?;
        s.send(req).await?;
        s.finish()?;
        let nodes: Concat<[u8; 64]> = s.recv().await?;
        let pairs: Concat<KeyValue> = s.recv().await?;
        s.recv_fin().await?;
        Ok(StateResponse {
            boundary_nodes: nodes.0,
            pairs: pairs.0,
        })
    }

    /// CE 131 (`to_proxy`) or CE 132.
    pub async fn send_ticket(&self, to_proxy: bool, t: &TicketDistribution) -> Result<(), Error> {
        let kind = if to_proxy {
            StreamKind::TICKET_TO_PROXY
        } else {
            StreamKind::TICKET_FROM_PROXY
        };
        self.notify(kind, &[t.encode()]).await
    }

    /// CE 133: `Core Index ++ Work-Package`, then the extrinsic blobs back to back.
    pub async fn submit_work_package(
        &self,
        s: &WorkPackageSubmission,
        extrinsics: &[Vec<u8>],
    ) -> Result<(), Error> {
        self.notify(
            StreamKind::WORK_PACKAGE_SUBMISSION,
            &[s.encode(), extrinsics.concat()],
        )
        .await
    }

    /// CE 135.
    pub async fn distribute_work_report(&self, g: &ReportGuarantee) -> Result<(), Error> {
        self.notify(StreamKind::WORK_REPORT_DISTRIBUTION, &[g.encode()])
            .await
    }

    /// CE 136.
    pub async fn request_work_report(&self, hash: &OpaqueHash) -> Result<WorkReport, Error> {
        let mut s = self.open_stream(StreamKind::WORK_REPORT_REQUEST).await?;
        s.send(hash).await?;
        s.finish()?;
        let r: WorkReport = s.recv().await?;
        s.recv_fin().await?;
        Ok(r)
    }

    /// CE 141.
    pub async fn distribute_assurance(&self, a: &Assurance) -> Result<(), Error> {
        self.notify(StreamKind::ASSURANCE_DISTRIBUTION, &[a.encode()])
            .await
    }

    /// CE 142.
    pub async fn announce_preimage(&self, a: &PreimageAnnouncement) -> Result<(), Error> {
        self.notify(StreamKind::PREIMAGE_ANNOUNCEMENT, &[a.encode()])
            .await
    }

    /// CE 143.
    pub async fn request_preimage(&self, hash: &OpaqueHash) -> Result<Vec<u8>, Error> {
        let mut s = self.open_stream(StreamKind::PREIMAGE_REQUEST).await?;
        s.send(hash).await?;
        s.finish()?;
        let p = s.recv_raw().await?;
        s.recv_fin().await?;
        Ok(p)
    }

    /// CE 144.
    pub async fn announce_audit(
        &self,
        a: &AuditAnnouncement,
        evidence: &AuditEvidence,
    ) -> Result<(), Error> {
        self.notify(
            StreamKind::AUDIT_ANNOUNCEMENT,
            &[a.encode(), evidence.encode()],
        )
        .await
    }

    /// CE 145 (`guarantee` must be present iff the judgment is negative).
    pub async fn publish_judgment(
        &self,
        j: &Judgment,
        guarantee: Option<&JudgmentGuarantee>,
    ) -> Result<(), Error> {
        let mut msgs = vec![j.encode()];
        msgs.extend(guarantee.map(Encode::encode));
        self.notify(StreamKind::JUDGMENT_PUBLICATION, &msgs).await
    }

    /// Sends `msgs`, FIN, and waits for the acceptor's FIN (a reset is a refusal).
    pub async fn notify(&self, kind: StreamKind, msgs: &[Vec<u8>]) -> Result<(), Error> {
        let mut s = self.open_stream(kind).await?;
        for m in msgs {
            s.send_raw(m).await?;
        }
        s.finish()?;
        s.recv_fin().await?;
        Ok(())
    }
}

/// An established UP 0 stream after the handshake exchange.
pub struct BlockAnnouncements {
    /// The peer's handshake: its finalized block and leaves.
    pub peer_handshake: Handshake,
    pub sender: AnnouncementSender,
    pub receiver: AnnouncementReceiver,
}

impl BlockAnnouncements {
    /// Sends our handshake and reads the peer's (both directions run in parallel).
    pub async fn handshake(mut s: Stream, ours: &Handshake) -> Result<Self, StreamError> {
        if s.kind() != StreamKind::BLOCK_ANNOUNCEMENT {
            return Err(StreamError::BadKind(s.kind().0));
        }
        s.send(ours).await?;
        let peer_handshake: Handshake = s.recv().await?;
        let (send, recv) = s.split();
        Ok(BlockAnnouncements {
            peer_handshake,
            sender: AnnouncementSender(send),
            receiver: AnnouncementReceiver(recv),
        })
    }
}

/// Our direction of UP 0.
pub struct AnnouncementSender(SendHalf);

impl AnnouncementSender {
    pub async fn announce(&mut self, a: &Announcement) -> Result<(), StreamError> {
        self.0.send(a).await
    }
}

/// The peer's direction of UP 0.
pub struct AnnouncementReceiver(RecvHalf);

impl AnnouncementReceiver {
    /// The next announcement; `None` when the peer cleanly finished the stream.
    pub async fn next(&mut self) -> Result<Option<Announcement>, StreamError> {
        match self.0.recv_raw_opt().await? {
            None => Ok(None),
            Some(m) => match decode_exact(&m, self.0.params()) {
                Ok(a) => Ok(Some(a)),
                Err(e) => {
                    self.0.stop(codes::MALFORMED);
                    Err(e.into())
                }
            },
        }
    }
}
