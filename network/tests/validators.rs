//! Validator-only streams from peers outside the validator sets are refused, the rest of the
//! connection keeps working (simple.md § "Notation", § "UP 0", § "CE 131/132").

use ed25519_dalek::SigningKey;
use jam_network::messages::{BlockRequest, Direction, Handshake, TicketDistribution};
use jam_network::stream::codes;
use jam_network::work_messages::Assurance;
use jam_network::{Connection, Endpoint, Error, Handler, Role, StreamError, StreamKind};
use jam_state::params::Params;
use jam_state::types::{
    AvailabilityBitfield, BandersnatchRingVrfSignature, Block, Ed25519Public, Ed25519Signature,
    HeaderHash, OpaqueHash, TicketEnvelope,
};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Guards against hangs only; no test asserts on timing.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test hung")
}

fn key(b: u8) -> SigningKey {
    SigningKey::from_bytes(&[b; 32])
}

fn pk(b: u8) -> Ed25519Public {
    Ed25519Public(key(b).verifying_key().to_bytes())
}

fn bind(k: u8) -> Endpoint {
    let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Endpoint::bind(lo, key(k), HeaderHash::ZERO, Role::Node, Params::tiny()).unwrap()
}

async fn pair(a: &Endpoint, b: &Endpoint) -> (Connection, Connection) {
    let addr = b.local_addr().unwrap();
    let (ca, cb) = tokio::join!(a.connect(addr, b.public_key()), b.accept());
    (ca.unwrap(), cb.unwrap().unwrap())
}

/// A validator that knows the validator keys `validators`; reports the tickets and
/// assurances its handler sees, with the sender's key.
struct Validator {
    validators: Vec<Ed25519Public>,
    seen: mpsc::UnboundedSender<(Ed25519Public, u8)>,
}

impl Handler for Validator {
    fn handshake(&self) -> Handshake {
        Handshake::default()
    }

    fn is_validator(&self, key: &Ed25519Public) -> bool {
        self.validators.contains(key)
    }

    async fn on_ticket(&self, peer: &Connection, to_proxy: bool, _t: TicketDistribution) -> bool {
        let _ = self
            .seen
            .send((peer.peer_key, if to_proxy { 131 } else { 132 }));
        true
    }

    async fn on_assurance(&self, peer: &Connection, _a: Assurance) -> bool {
        let _ = self.seen.send((peer.peer_key, 141));
        true
    }

    async fn on_block_request(&self, _peer: &Connection, _req: BlockRequest) -> Option<Vec<Block>> {
        Some(vec![Block::default()])
    }
}

fn ticket() -> TicketDistribution {
    TicketDistribution {
        epoch: 1,
        ticket: TicketEnvelope {
            attempt: 0,
            signature: BandersnatchRingVrfSignature([5; 784]),
        },
    }
}

/// The stream was reset (or stopped before our message went out) with `NOT_A_VALIDATOR`.
fn refused_as_non_validator(r: Result<(), Error>) -> bool {
    let code = u64::from(codes::NOT_A_VALIDATOR);
    match r {
        Err(Error::Stream(StreamError::Reset(c))) => c == code,
        Err(Error::Stream(StreamError::Write(quinn::WriteError::Stopped(c)))) => {
            c.into_inner() == code
        }
        _ => false,
    }
}

#[test]
fn validator_only_kinds_follow_the_spec_notation() {
    for k in [0u8, 128, 129, 133, 142, 146] {
        assert!(!StreamKind(k).is_validator_only(), "kind {k}");
    }
    for k in [
        131u8, 132, 134, 135, 136, 137, 138, 139, 140, 141, 143, 144, 145, 147, 148,
    ] {
        assert!(StreamKind(k).is_validator_only(), "kind {k}");
    }
}

#[tokio::test]
async fn non_validator_is_refused_validator_only_streams() {
    bounded(async {
        // Validator 1 knows validators {1, 2}; 3 is a node outside every set.
        let (v1, v2, outsider) = (bind(1), bind(2), bind(3));
        let (tx, mut seen) = mpsc::unbounded_channel();
        let handler = Arc::new(Validator {
            validators: vec![pk(1), pk(2)],
            seen: tx,
        });

        let (from_outsider, at_v1) = pair(&outsider, &v1).await;
        at_v1.serve(handler.clone());
        // CE 131, CE 132 and CE 141 are refused before the handler sees them...
        assert!(refused_as_non_validator(
            from_outsider.send_ticket(true, &ticket()).await
        ));
        assert!(refused_as_non_validator(
            from_outsider.send_ticket(false, &ticket()).await
        ));
        assert!(refused_as_non_validator(
            from_outsider
                .distribute_assurance(&Assurance {
                    anchor: OpaqueHash::ZERO,
                    bitfield: AvailabilityBitfield::new(vec![0; Params::tiny().bitfield_bytes()]),
                    signature: Ed25519Signature([0; 64]),
                })
                .await
        ));
        // ... while block requests (Node -> Node) are still served on the same connection.
        let req = BlockRequest {
            hash: OpaqueHash([1; 32]),
            direction: Direction::DescendingInclusive,
            max_blocks: 1,
        };
        assert_eq!(from_outsider.request_blocks(&req).await.unwrap().len(), 1);

        // A validator's tickets reach the handler.
        let (from_v2, at_v1) = pair(&v2, &v1).await;
        at_v1.serve(handler.clone());
        from_v2.send_ticket(true, &ticket()).await.unwrap();
        from_v2.send_ticket(false, &ticket()).await.unwrap();
        assert_eq!(seen.recv().await, Some((pk(2), 131)));
        assert_eq!(seen.recv().await, Some((pk(2), 132)));
        // The outsider's streams never got to the handler.
        drop(handler);
        assert!(seen.try_recv().is_err());
    })
    .await
}
