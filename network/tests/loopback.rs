//! Loopback tests of JAMNP-S endpoints (simple.md § "Encryption and handshake", § "UP 0", § "CE 128").

use ed25519_dalek::SigningKey;
use jam_network::alt_name::alt_name;
use jam_network::messages::{Announcement, BlockRef, BlockRequest, Direction, Handshake};
use jam_network::stream::codes;
use jam_network::{
    AnnouncementSender, Connection, Endpoint, EndpointConfig, Error, Handler, Role, StreamError,
    StreamKind,
};
use jam_state::codec::Encode;
use jam_state::params::Params;
use jam_state::types::{Block, Ed25519Public, HeaderHash, OpaqueHash};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

fn key(b: u8) -> SigningKey {
    SigningKey::from_bytes(&[b; 32])
}
fn pk(k: &SigningKey) -> Ed25519Public {
    Ed25519Public(k.verifying_key().to_bytes())
}
fn genesis() -> HeaderHash {
    OpaqueHash([0xab; 32])
}
fn lo() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}
fn bind(k: u8, role: Role) -> Endpoint {
    Endpoint::bind(lo(), key(k), genesis(), role, Params::tiny()).unwrap()
}

/// Guards against hangs only; no test asserts on timing.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test hung")
}

/// A chain of `n` blocks, block i at slot i with block i-1 as parent.
fn chain(n: u32) -> Vec<Block> {
    let mut v: Vec<Block> = Vec::new();
    for i in 0..n {
        let mut b = Block::default();
        b.header.slot = i;
        b.header.parent = v.last().map(|p| p.header.hash()).unwrap_or_default();
        v.push(b);
    }
    v
}

enum Event {
    Up0(Ed25519Public, Handshake, AnnouncementSender),
    Announced(Ed25519Public, Box<Announcement>),
}

struct TestNode {
    chain: Vec<Block>,
    events: mpsc::UnboundedSender<Event>,
}

impl Handler for TestNode {
    fn handshake(&self) -> Handshake {
        let last = self.chain.last().unwrap();
        Handshake {
            finalized: BlockRef {
                hash: self.chain[0].header.hash(),
                slot: 0,
            },
            leaves: vec![BlockRef {
                hash: last.header.hash(),
                slot: last.header.slot,
            }],
        }
    }

    fn on_block_announcements(&self, peer: &Connection, their: Handshake, tx: AnnouncementSender) {
        let _ = self.events.send(Event::Up0(peer.peer_key, their, tx));
    }

    async fn on_announcement(&self, peer: &Connection, a: Announcement) {
        let _ = self
            .events
            .send(Event::Announced(peer.peer_key, Box::new(a)));
    }

    async fn on_block_request(&self, _peer: &Connection, req: BlockRequest) -> Option<Vec<Block>> {
        let i = self
            .chain
            .iter()
            .position(|b| b.header.hash() == req.hash)?;
        let n = req.max_blocks as usize;
        Some(match req.direction {
            Direction::AscendingExclusive => self.chain[i + 1..].iter().take(n).cloned().collect(),
            Direction::DescendingInclusive => {
                self.chain[..=i].iter().rev().take(n).cloned().collect()
            }
        })
    }
}

fn node(n: u32) -> (Arc<TestNode>, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Arc::new(TestNode {
            chain: chain(n),
            events: tx,
        }),
        rx,
    )
}

/// Dials `b` from `a`, returning (a's connection, b's connection).
async fn pair(a: &Endpoint, b: &Endpoint) -> (Connection, Connection) {
    let addr = b.local_addr().unwrap();
    let (ca, cb) = tokio::join!(a.connect(addr, b.public_key()), b.accept());
    (ca.unwrap(), cb.unwrap().unwrap())
}

#[tokio::test]
async fn handshake_announcement_and_block_request() {
    bounded(async {
        let (a, b) = (bind(1, Role::Node), bind(2, Role::Node));
        let (ca, cb) = pair(&a, &b).await;
        assert_eq!(ca.peer_key, pk(&key(2)));
        assert_eq!(cb.peer_key, pk(&key(1)));
        assert!(ca.is_initiator() && !cb.is_initiator());
        assert!(!cb.peer_is_builder);

        let (ha, mut ea) = node(5);
        let (hb, mut eb) = node(8);
        cb.serve(hb.clone());
        ca.serve(ha.clone());
        // Acceptors never open UP streams.
        assert!(matches!(
            cb.open_stream(StreamKind::BLOCK_ANNOUNCEMENT).await,
            Err(Error::NotInitiator)
        ));
        let up0 = ca.run_block_announcements(ha.clone());

        // Both sides see the other's handshake and get a sender.
        let Some(Event::Up0(peer, their, mut a_tx)) = ea.recv().await else {
            panic!("no UP 0 on a")
        };
        assert_eq!(peer, pk(&key(2)));
        assert_eq!(their, hb.handshake());
        let Some(Event::Up0(peer, their, mut b_tx)) = eb.recv().await else {
            panic!("no UP 0 on b")
        };
        assert_eq!(peer, pk(&key(1)));
        assert_eq!(their, ha.handshake());

        // Announcements both ways.
        let ann_b = Announcement {
            header: hb.chain[7].header.clone(),
            finalized: hb.handshake().finalized,
        };
        b_tx.announce(&ann_b).await.unwrap();
        let Some(Event::Announced(from, got)) = ea.recv().await else {
            panic!("no announcement on a")
        };
        assert_eq!((from, *got), (pk(&key(2)), ann_b));
        let ann_a = Announcement {
            header: ha.chain[4].header.clone(),
            finalized: ha.handshake().finalized,
        };
        a_tx.announce(&ann_a).await.unwrap();
        let Some(Event::Announced(from, got)) = eb.recv().await else {
            panic!("no announcement on b")
        };
        assert_eq!((from, *got), (pk(&key(1)), ann_a));

        // CE 128 both directions and both orders.
        let desc = ca
            .request_blocks(&BlockRequest {
                hash: hb.chain[6].header.hash(),
                direction: Direction::DescendingInclusive,
                max_blocks: 3,
            })
            .await
            .unwrap();
        assert_eq!(
            desc,
            vec![
                hb.chain[6].clone(),
                hb.chain[5].clone(),
                hb.chain[4].clone()
            ]
        );
        let asc = cb
            .request_blocks(&BlockRequest {
                hash: ha.chain[1].header.hash(),
                direction: Direction::AscendingExclusive,
                max_blocks: 100,
            })
            .await
            .unwrap();
        assert_eq!(asc, ha.chain[2..].to_vec());
        // Unknown block: the handler refuses and the stream is reset.
        let e = ca
            .request_blocks(&BlockRequest {
                hash: OpaqueHash([9; 32]),
                direction: Direction::AscendingExclusive,
                max_blocks: 1,
            })
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Stream(StreamError::Reset(c)) if c == codes::REFUSED as u64),
            "{e}"
        );

        // A peer finishing its UP 0 direction ends our receive loop cleanly.
        drop(b_tx);
        assert!(up0.await.unwrap().is_ok());
        drop(a_tx);
    })
    .await
}

#[tokio::test]
async fn builder_alpn_is_accepted_and_flagged() {
    bounded(async {
        let (a, b) = (bind(3, Role::Builder), bind(4, Role::Node));
        let (ca, cb) = pair(&a, &b).await;
        assert!(cb.peer_is_builder);
        assert!(!ca.peer_is_builder);
    })
    .await
}

#[tokio::test]
async fn wrong_alpn_refused() {
    bounded(async {
        let a = bind(5, Role::Node);
        let other_chain = OpaqueHash([0xcd; 32]);
        let b = Endpoint::bind(lo(), key(6), other_chain, Role::Node, Params::tiny()).unwrap();
        let (ca, cb) = tokio::join!(
            a.connect(b.local_addr().unwrap(), b.public_key()),
            b.accept()
        );
        let (ea, eb) = (ca.unwrap_err(), cb.unwrap().unwrap_err());
        eprintln!("wrong ALPN: dialler: {ea}; acceptor: {eb}");
        // TLS alert 120 (no_application_protocol) = QUIC crypto error 0x178.
        assert!(ea.to_string().contains("error 120"), "{ea}");
        assert!(eb.to_string().contains("error 120"), "{eb}");
    })
    .await
}

#[tokio::test]
async fn unexpected_key_refused() {
    bounded(async {
        let (a, b) = (bind(7, Role::Node), bind(8, Role::Node));
        // b presents its own (valid) certificate, but a expected someone else.
        let (ca, cb) = tokio::join!(a.connect(b.local_addr().unwrap(), pk(&key(99))), b.accept());
        let (ea, eb) = (ca.unwrap_err(), cb.unwrap().unwrap_err());
        eprintln!("unexpected key: dialler: {ea}; acceptor: {eb}");
        assert!(ea.to_string().contains("NotValidForName"), "{ea}");
        assert!(matches!(eb, Error::Connection(_)), "{eb}");
        // The same endpoints still connect when the expectation is right.
        let (ca, _cb) = pair(&a, &b).await;
        assert_eq!(ca.peer_key, b.public_key());
    })
    .await
}

#[tokio::test]
async fn certificate_with_mismatched_alt_name_refused() {
    bounded(async {
        let mut cfg = EndpointConfig::new(Params::tiny());
        cfg.alt_name_override = Some(alt_name(&pk(&key(77)).0));
        let bad = Endpoint::bind_with(lo(), key(9), genesis(), Role::Node, cfg).unwrap();
        let good = bind(10, Role::Node);
        // As acceptor: the dialler refuses its certificate even though the key is as expected.
        let (r, acc) = tokio::join!(
            good.connect(bad.local_addr().unwrap(), bad.public_key()),
            bad.accept()
        );
        let (ea, eb) = (r.unwrap_err(), acc.unwrap().unwrap_err());
        eprintln!("bad cert (acceptor): dialler: {ea}; acceptor: {eb}");
        assert!(
            ea.to_string().contains("ApplicationVerificationFailure"),
            "{ea}"
        );
        // As dialler: the acceptor refuses its client certificate.
        let (r, acc) = tokio::join!(
            bad.connect(good.local_addr().unwrap(), good.public_key()),
            good.accept()
        );
        let eb = acc.unwrap().unwrap_err();
        eprintln!(
            "bad cert (dialler): acceptor: {eb}; dialler ok: {}",
            r.is_ok()
        );
        assert!(
            eb.to_string().contains("ApplicationVerificationFailure"),
            "{eb}"
        );
        // TLS 1.3 client auth failures can surface on the dialler after it considers the
        // handshake complete: the connection is then closed by the acceptor.
        if let Ok(c) = r {
            let why = c.closed().await;
            assert!(
                why.to_string().contains("ApplicationVerificationFailure"),
                "{why}"
            );
        }
    })
    .await
}

#[tokio::test]
async fn oversized_and_malformed_messages_reset_only_the_stream() {
    bounded(async {
        let (a, b) = (bind(11, Role::Node), bind(12, Role::Node));
        let (ca, cb) = pair(&a, &b).await;
        let (hb, _eb) = node(4);
        cb.serve(hb.clone());

        // 1000-byte CE 128 request: over the 37-byte limit.
        let mut s = ca.open_stream(StreamKind::BLOCK_REQUEST).await.unwrap();
        let _ = s.send_raw(&[0u8; 1000]).await;
        let _ = s.finish();
        let e = s.recv_raw().await.unwrap_err();
        assert!(
            matches!(e, StreamError::Reset(c) if c == codes::TOO_LARGE as u64),
            "{e}"
        );

        // An empty message where a request was due: malformed.
        let mut s = ca.open_stream(StreamKind::BLOCK_REQUEST).await.unwrap();
        s.send_raw(&[]).await.unwrap();
        s.finish().unwrap();
        let e = s.recv_raw().await.unwrap_err();
        assert!(
            matches!(e, StreamError::Reset(c) if c == codes::MALFORMED as u64),
            "{e}"
        );

        // Bad direction byte: malformed.
        let mut req = BlockRequest {
            hash: OpaqueHash::ZERO,
            direction: Direction::AscendingExclusive,
            max_blocks: 1,
        }
        .encode();
        req[32] = 7;
        let mut s = ca.open_stream(StreamKind::BLOCK_REQUEST).await.unwrap();
        s.send_raw(&req).await.unwrap();
        s.finish().unwrap();
        let e = s.recv_raw().await.unwrap_err();
        assert!(
            matches!(e, StreamError::Reset(c) if c == codes::MALFORMED as u64),
            "{e}"
        );

        // A second message where FIN was due: malformed.
        req[32] = 0;
        let mut s = ca.open_stream(StreamKind::BLOCK_REQUEST).await.unwrap();
        s.send_raw(&req).await.unwrap();
        let _ = s.send_raw(&req).await;
        let _ = s.finish();
        let e = s.recv_raw().await.unwrap_err();
        assert!(
            matches!(e, StreamError::Reset(c) if c == codes::MALFORMED as u64),
            "{e}"
        );

        // Unknown stream kind: reset.
        let mut s = ca.open_stream(StreamKind(200)).await.unwrap();
        let _ = s.finish();
        let e = s.recv_raw().await.unwrap_err();
        assert!(
            matches!(e, StreamError::Reset(c) if c == codes::BAD_KIND as u64),
            "{e}"
        );

        // The connection survives: a proper request is served.
        let blocks = ca
            .request_blocks(&BlockRequest {
                hash: hb.chain[3].header.hash(),
                direction: Direction::DescendingInclusive,
                max_blocks: 10,
            })
            .await
            .unwrap();
        assert_eq!(blocks.len(), 4);
    })
    .await
}

#[tokio::test]
async fn newer_up_stream_supersedes_older() {
    bounded(async {
        let (a, b) = (bind(13, Role::Node), bind(14, Role::Node));
        let (ca, cb) = pair(&a, &b).await;
        let hs = Handshake::default();
        let mut s1 = ca
            .open_stream(StreamKind::BLOCK_ANNOUNCEMENT)
            .await
            .unwrap();
        s1.send(&hs).await.unwrap();
        let mut t1 = cb.accept_stream().await.unwrap();
        let mut s2 = ca
            .open_stream(StreamKind::BLOCK_ANNOUNCEMENT)
            .await
            .unwrap();
        s2.send(&hs).await.unwrap();
        let mut t2 = cb.accept_stream().await.unwrap();
        assert!(t2.id() > t1.id());
        // The acceptor's older stream ends as superseded (after any message already queued).
        let err = loop {
            match t1.recv_raw().await {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert!(matches!(err, StreamError::Superseded), "{err}");
        assert_eq!(t2.recv::<Handshake>().await.unwrap(), hs);
        // The initiator's older stream refuses to send.
        assert!(matches!(s1.send(&hs).await, Err(StreamError::Superseded)));
        s2.send(&hs).await.unwrap();
        assert_eq!(t2.recv::<Handshake>().await.unwrap(), hs);
    })
    .await
}
