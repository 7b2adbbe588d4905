//! CE 129–145 over loopback, concurrency and receive budgets (simple.md § "CE 129" – § "CE 145").

use ed25519_dalek::SigningKey;
use jam_network::messages::{KeyValue, StateRequest, StateResponse, TicketDistribution};
use jam_network::stream::codes;
use jam_network::work_messages::{
    Assurance, AuditAnnouncement, AuditAnnouncementBody, AuditEvidence, AuditedReport, Judgment,
    JudgmentGuarantee, PreimageAnnouncement,
};
use jam_network::{Connection, Endpoint, EndpointConfig, Error, Handler, Role, StreamError};
use jam_state::params::Params;
use jam_state::types::{
    AvailabilityBitfield, BandersnatchRingVrfSignature, BandersnatchVrfSignature, Bytes,
    Ed25519Signature, HeaderHash, OpaqueHash, ReportGuarantee, TicketEnvelope, ValidatorSignature,
    WorkReport,
};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test hung")
}

fn lo() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn endpoint(k: u8, budget: Option<usize>) -> Endpoint {
    let mut cfg = EndpointConfig::new(Params::tiny());
    if let Some(b) = budget {
        cfg.per_peer_receive_budget = b;
    }
    let key = SigningKey::from_bytes(&[k; 32]);
    Endpoint::bind_with(lo(), key, HeaderHash::ZERO, Role::Node, cfg).unwrap()
}

async fn pair(a: &Endpoint, b: &Endpoint) -> (Connection, Connection) {
    let (ca, cb) = tokio::join!(
        a.connect(b.local_addr().unwrap(), b.public_key()),
        b.accept()
    );
    (ca.unwrap(), cb.unwrap().unwrap())
}

fn report(auth_output: usize) -> WorkReport {
    WorkReport {
        auth_output: Bytes(vec![7; auth_output]),
        ..Default::default()
    }
}

/// Accepts everything and reports what it saw.
struct Node(mpsc::UnboundedSender<&'static str>);

impl Handler for Node {
    fn handshake(&self) -> jam_network::messages::Handshake {
        Default::default()
    }
    async fn on_state_request(&self, _: &Connection, r: StateRequest) -> Option<StateResponse> {
        let _ = self.0.send("state");
        Some(StateResponse {
            boundary_nodes: vec![[1; 64], [2; 64]],
            pairs: vec![KeyValue {
                key: r.start,
                value: Bytes(vec![r.max_size as u8]),
            }],
        })
    }
    async fn on_ticket(&self, _: &Connection, to_proxy: bool, t: TicketDistribution) -> bool {
        let _ = self
            .0
            .send(if to_proxy { "ticket131" } else { "ticket132" });
        t.epoch == 5
    }
    async fn on_work_report(&self, _: &Connection, _: ReportGuarantee) -> bool {
        let _ = self.0.send("report");
        true
    }
    async fn on_work_report_request(&self, _: &Connection, _: OpaqueHash) -> Option<WorkReport> {
        Some(report(10))
    }
    async fn on_assurance(&self, _: &Connection, _: Assurance) -> bool {
        let _ = self.0.send("assurance");
        true
    }
    async fn on_preimage_announcement(&self, _: &Connection, _: PreimageAnnouncement) -> bool {
        let _ = self.0.send("preimage-announce");
        true
    }
    async fn on_preimage_request(&self, _: &Connection, h: OpaqueHash) -> Option<Vec<u8>> {
        (h == OpaqueHash([1; 32])).then(|| b"preimage".to_vec())
    }
    async fn on_audit_announcement(
        &self,
        _: &Connection,
        a: AuditAnnouncement,
        e: AuditEvidence,
    ) -> bool {
        let _ = self.0.send("audit");
        a.tranche == 0 && matches!(e, AuditEvidence::First(_))
    }
    async fn on_judgment(&self, _: &Connection, j: Judgment, g: Option<JudgmentGuarantee>) -> bool {
        let _ = self.0.send("judgment");
        j.valid == g.is_none()
    }
}

#[tokio::test]
async fn ce_protocols_round_trip() {
    bounded(async {
        let (a, b) = (endpoint(1, None), endpoint(2, None));
        let (ca, cb) = pair(&a, &b).await;
        let (tx, mut seen) = mpsc::unbounded_channel();
        cb.serve(Arc::new(Node(tx)));

        let st = ca
            .request_state(&StateRequest {
                header_hash: OpaqueHash([3; 32]),
                start: [4; 31],
                end: [5; 31],
                max_size: 9,
            })
            .await
            .unwrap();
        assert_eq!(st.boundary_nodes, vec![[1; 64], [2; 64]]);
        assert_eq!(st.pairs[0].key, [4; 31]);
        assert_eq!(st.pairs[0].value.0, vec![9]);

        let ticket = |epoch| TicketDistribution {
            epoch,
            ticket: TicketEnvelope {
                attempt: 1,
                signature: BandersnatchRingVrfSignature([0; 784]),
            },
        };
        ca.send_ticket(true, &ticket(5)).await.unwrap();
        ca.send_ticket(false, &ticket(5)).await.unwrap();
        // A rejected ticket: the acceptor resets.
        let e = ca.send_ticket(true, &ticket(6)).await.unwrap_err();
        assert!(matches!(e, Error::Stream(StreamError::Reset(c)) if c == codes::REFUSED as u64));

        ca.distribute_work_report(&ReportGuarantee {
            report: report(100),
            slot: 1,
            signatures: vec![],
        })
        .await
        .unwrap();
        assert_eq!(
            ca.request_work_report(&OpaqueHash::ZERO).await.unwrap(),
            report(10)
        );
        let p = Params::tiny();
        ca.distribute_assurance(&Assurance {
            anchor: OpaqueHash::ZERO,
            bitfield: AvailabilityBitfield::new(vec![0; p.bitfield_bytes()]),
            signature: Ed25519Signature([0; 64]),
        })
        .await
        .unwrap();
        ca.announce_preimage(&PreimageAnnouncement {
            service: 1,
            hash: OpaqueHash([1; 32]),
            length: 8,
        })
        .await
        .unwrap();
        assert_eq!(
            ca.request_preimage(&OpaqueHash([1; 32])).await.unwrap(),
            b"preimage".to_vec()
        );
        assert!(ca.request_preimage(&OpaqueHash([2; 32])).await.is_err());
        ca.announce_audit(
            &AuditAnnouncement {
                header_hash: OpaqueHash::ZERO,
                tranche: 0,
                announcement: AuditAnnouncementBody {
                    reports: vec![AuditedReport {
                        core: 0,
                        report_hash: OpaqueHash::ZERO,
                    }],
                    signature: Ed25519Signature([0; 64]),
                },
            },
            &AuditEvidence::First(BandersnatchVrfSignature([0; 96])),
        )
        .await
        .unwrap();
        let j = |valid| Judgment {
            epoch: 0,
            validator: 1,
            valid,
            report_hash: OpaqueHash::ZERO,
            signature: Ed25519Signature([0; 64]),
        };
        let sig = |i| ValidatorSignature {
            validator_index: i,
            signature: Ed25519Signature([0; 64]),
        };
        ca.publish_judgment(&j(true), None).await.unwrap();
        let g = JudgmentGuarantee {
            slot: 1,
            signatures: vec![sig(0), sig(1)],
        };
        ca.publish_judgment(&j(false), Some(&g)).await.unwrap();
        // A positive judgment followed by a guarantee: a message where FIN was due.
        assert!(ca.publish_judgment(&j(true), Some(&g)).await.is_err());

        drop(cb);
        let mut kinds = Vec::new();
        while let Ok(k) = seen.try_recv() {
            kinds.push(k);
        }
        for k in [
            "state",
            "ticket131",
            "ticket132",
            "report",
            "assurance",
            "preimage-announce",
            "audit",
            "judgment",
        ] {
            assert!(kinds.contains(&k), "{k} not seen in {kinds:?}");
        }
    })
    .await
}

#[tokio::test]
async fn many_concurrent_requests_share_the_stream_limit() {
    bounded(async {
        let (a, b) = (endpoint(3, None), endpoint(4, None));
        let (ca, cb) = pair(&a, &b).await;
        let (tx, _seen) = mpsc::unbounded_channel();
        cb.serve(Arc::new(Node(tx)));
        // More requests than the 128 concurrent streams a peer may open: QUIC flow control
        // queues the excess; all complete.
        let mut set = JoinSet::new();
        for _ in 0..300 {
            let c = ca.clone();
            set.spawn(async move { c.request_work_report(&OpaqueHash::ZERO).await });
        }
        let mut done = 0;
        while let Some(r) = set.join_next().await {
            assert_eq!(r.unwrap().unwrap(), report(10));
            done += 1;
        }
        assert_eq!(done, 300);
    })
    .await
}

#[tokio::test]
async fn messages_larger_than_the_receive_budget_still_complete() {
    bounded(async {
        let (a, b) = (endpoint(5, None), endpoint(6, Some(1024)));
        let (ca, cb) = pair(&a, &b).await;
        let (tx, mut seen) = mpsc::unbounded_channel();
        cb.serve(Arc::new(Node(tx)));
        let g = ReportGuarantee {
            report: report(5000),
            slot: 1,
            signatures: vec![],
        };
        let mut set = JoinSet::new();
        for _ in 0..8 {
            let (c, g) = (ca.clone(), g.clone());
            set.spawn(async move { c.distribute_work_report(&g).await });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
        }
        for _ in 0..8 {
            assert_eq!(seen.recv().await, Some("report"));
        }
    })
    .await
}
