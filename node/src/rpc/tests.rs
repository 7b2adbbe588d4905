//! RPC tests: the server on an ephemeral port over an in-memory chain, called with a client.

use super::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use jam_state::codec::{Bytes, Encode};
use jam_state::hash::blake2b_256;
use jam_state::keys;
use jam_state::types::{ExtrinsicSpec, OpaqueHash, ServiceInfo, WorkItem};
use jsonrpsee::core::client::{ClientT, Error as ClientError, SubscriptionClientT};
use jsonrpsee::core::params::{ArrayParams, ObjectParams};
use jsonrpsee::core::rpc_params;
use jsonrpsee_ws_client::{WsClient, WsClientBuilder};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

const SERVICE: ServiceId = 7;

fn h(n: u8) -> HeaderHash {
    OpaqueHash([n; 32])
}

fn b64(b: &[u8]) -> String {
    B64.encode(b)
}

/// An in-memory chain: blocks with states, heads, the best chain.
struct MemView {
    params: Params,
    heads: watch::Sender<Heads>,
    blocks: Mutex<HashMap<HeaderHash, (BlockMeta, Arc<State>)>>,
    best_chain: Mutex<HashSet<HeaderHash>>,
}

impl MemView {
    fn add(&self, hash: HeaderHash, parent: HeaderHash, slot: TimeSlot, state: State) {
        let meta = BlockMeta {
            parent,
            slot,
            state_root: OpaqueHash(state.state_root()),
        };
        self.blocks
            .lock()
            .unwrap()
            .insert(hash, (meta, Arc::new(state)));
    }

    fn set_heads(&self, best: (HeaderHash, TimeSlot), fin: (HeaderHash, TimeSlot)) {
        self.heads.send_replace(Heads {
            best: BlockRef {
                hash: best.0,
                slot: best.1,
            },
            finalized: BlockRef {
                hash: fin.0,
                slot: fin.1,
            },
        });
    }
}

impl ChainView for MemView {
    fn params(&self) -> &Params {
        &self.params
    }
    fn heads(&self) -> watch::Receiver<Heads> {
        self.heads.subscribe()
    }
    fn block(&self, hash: &HeaderHash) -> Option<BlockMeta> {
        self.blocks.lock().unwrap().get(hash).map(|b| b.0)
    }
    fn state(&self, hash: &HeaderHash) -> Option<Arc<State>> {
        self.blocks.lock().unwrap().get(hash).map(|b| b.1.clone())
    }
    fn in_best_chain(&self, hash: &HeaderHash) -> bool {
        self.best_chain.lock().unwrap().contains(hash)
    }
}

/// Service 7 with storage `key` = `value`, preimage `hello` (provided at slot 3) and a
/// request for `wanted` (not yet provided).
fn state_with(value: &[u8]) -> State {
    let mut st = State {
        timeslot: 2,
        ..Default::default()
    };
    st.accounts.insert(
        SERVICE,
        ServiceInfo {
            balance: 1000,
            items: 3,
            ..Default::default()
        },
    );
    st.accounts.insert(9, ServiceInfo::default());
    let hello = OpaqueHash(blake2b_256(b"hello"));
    let wanted = OpaqueHash(blake2b_256(b"wanted"));
    let d = &mut st.service_data;
    d.insert(keys::storage_key(SERVICE, b"key"), value.to_vec());
    d.insert(keys::preimage_key(SERVICE, &hello), b"hello".to_vec());
    d.insert(
        keys::lookup_key(SERVICE, &hello, 5),
        keys::encode_lookup(&[3]),
    );
    d.insert(
        keys::lookup_key(SERVICE, &wanted, 6),
        keys::encode_lookup(&[]),
    );
    st.recent_blocks.history.push(jam_state::types::BlockInfo {
        header_hash: h(2),
        beefy_root: h(0xbe),
        ..Default::default()
    });
    st
}

/// Genesis h(0) ← h(1) ← h(2) (best), h(1) finalized, a fork h(12) on h(1).
fn chain() -> Arc<MemView> {
    let view = Arc::new(MemView {
        params: Params::tiny(),
        heads: watch::Sender::new(Heads::default()),
        blocks: Mutex::default(),
        best_chain: Mutex::new([h(0), h(1), h(2)].into_iter().collect()),
    });
    view.add(h(0), HeaderHash::ZERO, 0, State::default());
    view.add(h(1), h(0), 1, State::default());
    view.add(h(2), h(1), 2, state_with(b"value"));
    view.add(h(12), h(1), 3, State::default());
    view.set_heads((h(2), 2), (h(1), 1));
    view
}

async fn serve(
    view: Arc<MemView>,
    submissions: Option<mpsc::Sender<Submission>>,
) -> (RpcServer, WsClient) {
    let server = start("127.0.0.1:0".parse().unwrap(), view, submissions)
        .await
        .unwrap();
    let client = WsClientBuilder::default()
        .request_timeout(Duration::from_secs(20))
        .build(format!("ws://{}", server.local_addr()))
        .await
        .unwrap();
    (server, client)
}

async fn call(c: &WsClient, method: &str, params: ArrayParams) -> Value {
    c.request(method, params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// The JSON-RPC error code of a failing call.
async fn code(c: &WsClient, method: &str, params: ArrayParams) -> i32 {
    match c.request::<Value, _>(method, params).await {
        Err(ClientError::Call(e)) => e.code(),
        other => panic!("{method}: expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_queries() {
    let view = chain();
    let (_server, c) = serve(view.clone(), None).await;
    let st = view.state(&h(2)).unwrap();

    let p = call(&c, "parameters", rpc_params![]).await;
    assert_eq!(p["V1"]["val_count"], json!(6));
    assert_eq!(p["V1"]["epoch_period"], json!(12));
    assert_eq!(p["V1"]["basic_piece_len"], json!(4));
    assert_eq!(p["V1"]["core_count"], json!(2));
    assert_eq!(p["V1"].as_object().unwrap().len(), 33);

    assert_eq!(
        call(&c, "bestBlock", rpc_params![]).await,
        json!([b64(&[2; 32]), 2])
    );
    assert_eq!(
        call(&c, "finalizedBlock", rpc_params![]).await,
        json!([b64(&[1; 32]), 1])
    );
    assert_eq!(
        call(&c, "parent", rpc_params![b64(&[2; 32])]).await,
        json!([b64(&[1; 32]), 1])
    );
    assert_eq!(
        call(&c, "parent", rpc_params![b64(&[0; 32])]).await,
        Value::Null
    );
    assert_eq!(
        call(&c, "parent", rpc_params![b64(&[99; 32])]).await,
        Value::Null
    );
    assert_eq!(
        call(&c, "stateRoot", rpc_params![b64(&[2; 32])]).await,
        json!([b64(&st.state_root())])
    );
    assert_eq!(
        call(&c, "stateRoot", rpc_params![b64(&[99; 32])]).await,
        Value::Null
    );
    assert_eq!(
        call(&c, "beefyRoot", rpc_params![b64(&[2; 32])]).await,
        json!([b64(&[0xbe; 32])])
    );
    assert_eq!(
        call(&c, "beefyRoot", rpc_params![b64(&[1; 32])]).await,
        Value::Null
    );

    let best = b64(&[2; 32]);
    assert_eq!(
        call(&c, "statistics", rpc_params![best.clone()]).await,
        json!(b64(&st.statistics.encode()))
    );
    assert_eq!(
        call(&c, "statistics", rpc_params![b64(&[99; 32])]).await,
        Value::Null
    );
    assert_eq!(
        call(&c, "serviceData", rpc_params![best.clone(), SERVICE]).await,
        json!(b64(&st.accounts[&SERVICE].encode()))
    );
    assert_eq!(
        call(&c, "serviceData", rpc_params![best.clone(), 8]).await,
        Value::Null
    );
    assert_eq!(
        call(
            &c,
            "serviceValue",
            rpc_params![best.clone(), SERVICE, b64(b"key")]
        )
        .await,
        json!(b64(b"value"))
    );
    assert_eq!(
        call(
            &c,
            "serviceValue",
            rpc_params![best.clone(), SERVICE, b64(b"nokey")]
        )
        .await,
        Value::Null
    );
    let hello = b64(&blake2b_256(b"hello"));
    assert_eq!(
        call(
            &c,
            "servicePreimage",
            rpc_params![best.clone(), SERVICE, hello.clone()]
        )
        .await,
        json!(b64(b"hello"))
    );
    assert_eq!(
        call(
            &c,
            "servicePreimage",
            rpc_params![best.clone(), SERVICE, b64(&[5; 32])]
        )
        .await,
        Value::Null
    );
    assert_eq!(
        call(
            &c,
            "serviceRequest",
            rpc_params![best.clone(), SERVICE, hello.clone(), 5]
        )
        .await,
        json!([3])
    );
    assert_eq!(
        call(
            &c,
            "serviceRequest",
            rpc_params![best.clone(), SERVICE, hello, 4]
        )
        .await,
        Value::Null
    );
    assert_eq!(
        call(&c, "listServices", rpc_params![best.clone()]).await,
        json!([7, 9])
    );
    // A query on an unknown block's state.
    assert_eq!(
        code(
            &c,
            "serviceValue",
            rpc_params![b64(&[99; 32]), SERVICE, b64(b"key")]
        )
        .await,
        -32001
    );
    assert_eq!(
        code(&c, "listServices", rpc_params![b64(&[99; 32])]).await,
        -32001
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests() {
    let (_server, c) = serve(chain(), None).await;
    const INVALID: i32 = -32602;
    let best = b64(&[2; 32]);
    // Arity.
    assert_eq!(code(&c, "bestBlock", rpc_params![1]).await, INVALID);
    assert_eq!(code(&c, "parameters", rpc_params![true]).await, INVALID);
    assert_eq!(code(&c, "parent", rpc_params![]).await, INVALID);
    assert_eq!(
        code(&c, "stateRoot", rpc_params![best.clone(), 1]).await,
        INVALID
    );
    assert_eq!(
        code(&c, "serviceData", rpc_params![best.clone()]).await,
        INVALID
    );
    // Hashes: not a string, not base64, unpadded, not 32 octets.
    assert_eq!(code(&c, "parent", rpc_params![42]).await, INVALID);
    assert_eq!(
        code(&c, "parent", rpc_params!["not base64!"]).await,
        INVALID
    );
    let unpadded = best.trim_end_matches('=').to_string();
    assert_eq!(code(&c, "stateRoot", rpc_params![unpadded]).await, INVALID);
    assert_eq!(
        code(&c, "stateRoot", rpc_params![b64(&[1; 31])]).await,
        INVALID
    );
    assert_eq!(
        code(&c, "statistics", rpc_params![b64(&[1; 33])]).await,
        INVALID
    );
    // Service ids and lengths out of range or of the wrong type.
    assert_eq!(
        code(&c, "serviceData", rpc_params![best.clone(), -1]).await,
        INVALID
    );
    assert_eq!(
        code(&c, "serviceData", rpc_params![best.clone(), 1u64 << 32]).await,
        INVALID
    );
    assert_eq!(
        code(&c, "serviceData", rpc_params![best.clone(), 1.5]).await,
        INVALID
    );
    assert_eq!(
        code(&c, "serviceData", rpc_params![best.clone(), "7"]).await,
        INVALID
    );
    assert_eq!(
        code(&c, "serviceValue", rpc_params![best.clone(), 7, 7]).await,
        INVALID
    );
    assert_eq!(
        code(
            &c,
            "serviceRequest",
            rpc_params![best.clone(), 7, best.clone(), -5]
        )
        .await,
        INVALID
    );
    // Named (object) arguments.
    let mut obj = ObjectParams::new();
    obj.insert("hash", best.clone()).unwrap();
    match c.request::<Value, _>("parent", obj).await {
        Err(ClientError::Call(e)) => assert_eq!(e.code(), INVALID),
        other => panic!("expected an error, got {other:?}"),
    }
    // Unknown method.
    assert_eq!(code(&c, "noSuchMethod", rpc_params![]).await, -32601);
    // Submissions with malformed arguments.
    assert_eq!(
        code(&c, "submitWorkPackage", rpc_params![0, b64(b"x")]).await,
        INVALID
    );
    assert_eq!(
        code(&c, "submitWorkPackage", rpc_params![0, b64(b"x"), "x"]).await,
        INVALID
    );
    assert_eq!(
        code(&c, "submitWorkPackage", rpc_params![0, b64(b"x"), [1]]).await,
        INVALID
    );
    assert_eq!(
        code(&c, "submitPreimage", rpc_params![7, "??", best.clone()]).await,
        INVALID
    );
    // Subscriptions with malformed arguments are rejected.
    let sub = c
        .subscribe::<Value, _>(
            "subscribeServiceData",
            rpc_params!["x"],
            "unsubscribeServiceData",
        )
        .await;
    assert!(matches!(sub, Err(ClientError::Call(e)) if e.code() == INVALID));
    let sub = c
        .subscribe::<Value, _>("subscribeBestBlock", rpc_params![1], "unsubscribeBestBlock")
        .await;
    assert!(matches!(sub, Err(ClientError::Call(e)) if e.code() == INVALID));
    // The connection still serves well-formed calls.
    assert_eq!(call(&c, "bestBlock", rpc_params![]).await, json!([best, 2]));
}

/// The next notification, within a few seconds.
async fn next(sub: &mut jsonrpsee::core::client::Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("a notification")
        .expect("an open subscription")
        .expect("a JSON notification")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions() {
    let view = chain();
    let (_server, c) = serve(view.clone(), None).await;
    let mut best = c
        .subscribe::<Value, _>("subscribeBestBlock", rpc_params![], "unsubscribeBestBlock")
        .await
        .unwrap();
    let mut fin = c
        .subscribe::<Value, _>(
            "subscribeFinalizedBlock",
            rpc_params![],
            "unsubscribeFinalizedBlock",
        )
        .await
        .unwrap();
    let mut value = c
        .subscribe::<Value, _>(
            "subscribeServiceValue",
            rpc_params![SERVICE, b64(b"key"), false],
            "unsubscribeServiceValue",
        )
        .await
        .unwrap();
    let mut fin_data = c
        .subscribe::<Value, _>(
            "subscribeServiceData",
            rpc_params![SERVICE, true],
            "unsubscribeServiceData",
        )
        .await
        .unwrap();
    assert_eq!(next(&mut best).await, json!([b64(&[2; 32]), 2]));
    assert_eq!(next(&mut fin).await, json!([b64(&[1; 32]), 1]));
    assert_eq!(next(&mut value).await, json!(b64(b"value")));
    // The finalized block's state has no service 7.
    assert_eq!(next(&mut fin_data).await, Value::Null);

    // A new best block h(3) changing the value; then h(4) finalizing h(2).
    view.add(h(3), h(2), 3, state_with(b"new value"));
    view.set_heads((h(3), 3), (h(1), 1));
    assert_eq!(next(&mut best).await, json!([b64(&[3; 32]), 3]));
    assert_eq!(next(&mut value).await, json!(b64(b"new value")));
    view.add(h(4), h(3), 4, state_with(b"new value"));
    view.set_heads((h(4), 4), (h(2), 2));
    assert_eq!(next(&mut best).await, json!([b64(&[4; 32]), 4]));
    assert_eq!(next(&mut fin).await, json!([b64(&[2; 32]), 2]));
    let info = view.state(&h(2)).unwrap().accounts[&SERVICE];
    assert_eq!(next(&mut fin_data).await, json!(b64(&info.encode())));
    // The value did not change at h(4): no notification.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), value.next())
            .await
            .is_err()
    );
    best.unsubscribe().await.unwrap();
    value.unsubscribe().await.unwrap();
}

/// A valid work package for service 7 with one extrinsic, and that extrinsic.
fn work_package() -> (Vec<u8>, Vec<u8>) {
    let x = b"an extrinsic".to_vec();
    let wp = WorkPackage {
        auth_code_host: SERVICE,
        items: vec![WorkItem {
            service: SERVICE,
            payload: Bytes(vec![1, 2, 3]),
            export_count: 1,
            extrinsic: vec![ExtrinsicSpec {
                hash: OpaqueHash(blake2b_256(&x)),
                len: x.len() as u32,
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    (wp.encode(), x)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_without_consumer() {
    let (_server, c) = serve(chain(), None).await;
    let (wp, x) = work_package();
    // Valid, but nothing consumes it.
    assert_eq!(
        code(&c, "submitWorkPackage", rpc_params![0, b64(&wp), [b64(&x)]]).await,
        -32005
    );
    assert_eq!(
        code(
            &c,
            "submitPreimage",
            rpc_params![SERVICE, b64(b"wanted"), b64(&[2; 32])]
        )
        .await,
        -32005
    );
    // Validation comes first.
    assert_eq!(
        code(
            &c,
            "submitWorkPackage",
            rpc_params![0, b64(b"junk"), [b64(&x)]]
        )
        .await,
        -32003
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_validated_and_queued() {
    let (tx, mut rx) = submission_queue(1);
    let (_server, c) = serve(chain(), Some(tx)).await;
    let (wp, x) = work_package();
    let best = b64(&[2; 32]);

    assert_eq!(
        call(&c, "submitWorkPackage", rpc_params![1, b64(&wp), [b64(&x)]]).await,
        Value::Null
    );
    match rx.try_recv().unwrap() {
        Submission::WorkPackage {
            core,
            package,
            encoded,
            extrinsics,
        } => {
            assert_eq!((core, encoded.as_slice()), (1, wp.as_slice()));
            assert_eq!(package.encode(), wp);
            assert_eq!(extrinsics, vec![x.clone()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Core out of range; junk; trailing octets; extrinsics missing or not matching.
    assert_eq!(
        code(&c, "submitWorkPackage", rpc_params![2, b64(&wp), [b64(&x)]]).await,
        -32602
    );
    assert_eq!(
        code(
            &c,
            "submitWorkPackage",
            rpc_params![0, b64(&[0xff; 7]), [b64(&x)]]
        )
        .await,
        -32003
    );
    let mut trailing = wp.clone();
    trailing.push(0);
    assert_eq!(
        code(
            &c,
            "submitWorkPackage",
            rpc_params![0, b64(&trailing), [b64(&x)]]
        )
        .await,
        -32003
    );
    let none: [String; 0] = [];
    assert_eq!(
        code(&c, "submitWorkPackage", rpc_params![0, b64(&wp), none]).await,
        -32003
    );
    assert_eq!(
        code(
            &c,
            "submitWorkPackage",
            rpc_params![0, b64(&wp), [b64(b"other")]]
        )
        .await,
        -32003
    );

    // Preimages: requested → queued; already provided, unrequested, unknown service,
    // unknown block, off the best chain → errors.
    assert_eq!(
        call(
            &c,
            "submitPreimage",
            rpc_params![SERVICE, b64(b"wanted"), best.clone()]
        )
        .await,
        Value::Null
    );
    assert_eq!(
        rx.try_recv().unwrap(),
        Submission::Preimage {
            service: SERVICE,
            preimage: b"wanted".to_vec(),
            anchor: h(2)
        }
    );
    assert_eq!(
        code(
            &c,
            "submitPreimage",
            rpc_params![SERVICE, b64(b"hello"), best.clone()]
        )
        .await,
        -32004
    );
    assert_eq!(
        code(
            &c,
            "submitPreimage",
            rpc_params![SERVICE, b64(b"nope"), best.clone()]
        )
        .await,
        -32004
    );
    assert_eq!(
        code(
            &c,
            "submitPreimage",
            rpc_params![8, b64(b"wanted"), best.clone()]
        )
        .await,
        -32004
    );
    assert_eq!(
        code(
            &c,
            "submitPreimage",
            rpc_params![SERVICE, b64(b"wanted"), b64(&[99; 32])]
        )
        .await,
        -32001
    );
    assert_eq!(
        code(
            &c,
            "submitPreimage",
            rpc_params![SERVICE, b64(b"wanted"), b64(&[12; 32])]
        )
        .await,
        -32002
    );

    // A full queue, then a gone consumer.
    call(&c, "submitWorkPackage", rpc_params![0, b64(&wp), [b64(&x)]]).await;
    assert_eq!(
        code(&c, "submitWorkPackage", rpc_params![0, b64(&wp), [b64(&x)]]).await,
        -32006
    );
    drop(rx);
    assert_eq!(
        code(&c, "submitWorkPackage", rpc_params![0, b64(&wp), [b64(&x)]]).await,
        -32005
    );
}

#[test]
fn work_package_limits() {
    let p = Params::tiny();
    let (wp, x) = work_package();
    let wp: WorkPackage = jam_state::codec::decode_exact(&wp, &p).unwrap();
    assert!(methods::validate_work_package(&p, &wp, std::slice::from_ref(&x)).is_ok());
    let mut empty = wp.clone();
    empty.items.clear();
    assert!(methods::validate_work_package(&p, &empty, &[]).is_err());
    let mut big = wp.clone();
    big.items[0].payload = Bytes(vec![0; p.max_bundle_size as usize]);
    assert!(methods::validate_work_package(&p, &big, std::slice::from_ref(&x)).is_err());
    let mut exports = wp.clone();
    exports.items[0].export_count = (p.max_exports + 1) as u16;
    assert!(methods::validate_work_package(&p, &exports, &[x]).is_err());
}

/// A package over a GP §14.3 limit is answered with a JSON-RPC error (`-32003`) and never
/// queued: more than `I` items, more than `T` extrinsics, more than `W_M` imports, a bundle
/// over `W_B`; a request over the server's message limit is refused and the server keeps
/// serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_work_packages_are_refused_and_not_queued() {
    let p = Params::tiny();
    let (tx, mut rx) = submission_queue(8);
    let (server, c) = serve(chain(), Some(tx)).await;
    let (wp, x) = work_package();
    let wp: WorkPackage = jam_state::codec::decode_exact(&wp, &p).unwrap();
    let none: [String; 0] = [];

    let mut items = wp.clone();
    items.items = vec![items.items[0].clone(); 17];
    let xs = vec![b64(&x); 17];
    assert_eq!(
        code(
            &c,
            "submitWorkPackage",
            rpc_params![0, b64(&items.encode()), xs]
        )
        .await,
        -32003
    );
    let mut extrinsics = wp.clone();
    extrinsics.items[0].extrinsic = vec![extrinsics.items[0].extrinsic[0]; 129];
    let xs = vec![b64(&x); 129];
    assert_eq!(
        code(
            &c,
            "submitWorkPackage",
            rpc_params![0, b64(&extrinsics.encode()), xs]
        )
        .await,
        -32003
    );
    let mut imports = wp.clone();
    imports.items[0].extrinsic.clear();
    imports.items[0].import_segments = vec![Default::default(); p.max_imports as usize + 1];
    assert_eq!(
        code(
            &c,
            "submitWorkPackage",
            rpc_params![0, b64(&imports.encode()), none.clone()]
        )
        .await,
        -32003
    );
    assert!(rx.try_recv().is_err(), "an oversize package was queued");

    // W_B through the payload: |j| + |f| + |y| + Σ x_len ≤ W_B (a ~18 MB request).
    let big_client = WsClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .max_request_size(64 << 20)
        .max_response_size(64 << 20)
        .build(format!("ws://{}", server.local_addr()))
        .await
        .unwrap();
    let mut big = wp.clone();
    let room = p.max_bundle_size as usize - x.len();
    big.items[0].payload = Bytes(vec![0x5a; room + 1]);
    assert_eq!(
        code(
            &big_client,
            "submitWorkPackage",
            rpc_params![0, b64(&big.encode()), [b64(&x)]]
        )
        .await,
        -32003
    );
    assert!(rx.try_recv().is_err(), "an oversize package was queued");
    // At exactly W_B it is accepted.
    big.items[0].payload.0.pop();
    assert_eq!(
        big_client
            .request::<Value, _>(
                "submitWorkPackage",
                rpc_params![0, b64(&big.encode()), [b64(&x)]]
            )
            .await
            .unwrap(),
        Value::Null
    );
    assert!(matches!(
        rx.try_recv(),
        Ok(Submission::WorkPackage { package, .. }) if package.items[0].payload.0.len() == room
    ));

    // Past the server's message limit: refused (the connection may be closed), and the
    // server still answers.
    let huge = vec![0u8; methods::MAX_MESSAGE_BYTES as usize];
    let r = big_client
        .request::<Value, _>("submitWorkPackage", rpc_params![0, b64(&huge), none])
        .await;
    assert!(r.is_err(), "{r:?}");
    assert!(rx.try_recv().is_err());
    let fresh = WsClientBuilder::default()
        .build(format!("ws://{}", server.local_addr()))
        .await
        .unwrap();
    assert_eq!(
        call(
            &fresh,
            "submitWorkPackage",
            rpc_params![0, b64(&wp.encode()), [b64(&x)]]
        )
        .await,
        Value::Null
    );
    assert!(rx.try_recv().is_ok());
}

/// The RPC should refuse what Ξ would refuse for the package alone (GP §14.3, `check_package`):
/// Σ w_g < G_R and Σ w_a < G_A (eq. 14.6), and the bundle size with each import counted as
/// `W_G + 32⌈log2 W_M⌉` (eq. 14.5).
#[test]
fn rpc_limits_match_check_package() {
    use jam_consensus::refine::check_package;
    let p = Params::tiny();
    let (wp, x) = work_package();
    let wp: WorkPackage = jam_state::codec::decode_exact(&wp, &p).unwrap();
    let mut cases = Vec::new();
    let mut refine_gas = wp.clone();
    refine_gas.items[0].refine_gas_limit = p.max_refine_gas;
    cases.push(("refine gas", refine_gas, vec![x.clone()]));
    let mut acc_gas = wp.clone();
    acc_gas.items[0].accumulate_gas_limit = p.max_accumulate_gas;
    cases.push(("accumulate gas", acc_gas, vec![x.clone()]));
    let mut footprint = wp.clone();
    footprint.items[0].extrinsic.clear();
    footprint.items[0].import_segments = vec![Default::default(); 3000];
    let segment = p.segment_size();
    let used = 3000 * segment + footprint.items[0].payload.len();
    footprint.items[0].payload = Bytes(vec![1; 3 + p.max_bundle_size as usize - used]);
    cases.push(("import footprint", footprint, vec![]));
    let mut accepted = Vec::new();
    for (what, pk, xs) in cases {
        assert!(check_package(&p, &pk).is_err(), "{what}: Ξ accepts it");
        if methods::validate_work_package(&p, &pk, &xs).is_ok() {
            accepted.push(what);
        }
    }
    assert!(
        accepted.is_empty(),
        "the RPC accepts packages Ξ refuses: {accepted:?}"
    );
}
