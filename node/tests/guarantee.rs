//! Guaranteeing end to end (GP §11.4, §14; JAMNP-S CE 134/135): a six-validator tiny testnet
//! with the dev genesis (demo service + dev authorizer) takes a demo-service package through
//! the JIP-2 RPC `submitWorkPackage`; the validators assigned to its core refine it, co-sign
//! it (CE 134), distribute the guarantee (CE 135), and a block author puts it into E_G; the
//! validators fetch their shards from the guarantors (CE 137), assure them (CE 141, E_A), the
//! report becomes available and is accumulated: the demo service's storage holds the value,
//! read back through the RPC `serviceValue`.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::rpc::{self, WsClient};
use common::LiveTestnet;
use jam_consensus::genesis::demo_work_package;
use jam_state::codec::Encode;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::rpc_params;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const RPC_PORT_BASE: u16 = 19700;
const VALIDATORS: u16 = 6;

async fn connect(i: u16) -> WsClient {
    rpc::connect(RPC_PORT_BASE + i).await
}

/// Submits the demo package to every node (those not assigned to core 0 forward it: CE 133)
/// once the chain has a block past genesis, then waits (at most 10 s) for the accumulated
/// value of `key` in the demo service's storage on node 0's best block; returns it (base64).
async fn submit_and_follow(payload: &[u8], key: &[u8]) -> Option<String> {
    let c0 = connect(0).await;
    let context = rpc::context(&c0, 2).await;
    let wp = demo_work_package(context, payload).encode();
    let none: Vec<String> = vec![];
    for i in 0..VALIDATORS {
        let c = connect(i).await;
        let r: Result<Value, _> = c
            .request(
                "submitWorkPackage",
                rpc_params![0, B64.encode(&wp), none.clone()],
            )
            .await;
        r.unwrap_or_else(|e| panic!("submitWorkPackage to node {i}: {e}"));
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let best: Value = c0.request("bestBlock", rpc_params![]).await.unwrap();
        let v: Value = c0
            .request(
                "serviceValue",
                rpc_params![best[0].clone(), 0, B64.encode(key)],
            )
            .await
            .unwrap();
        if let Some(v) = v.as_str() {
            return Some(v.to_string());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[test]
fn demo_package_is_guaranteed_made_available_and_accumulated() {
    let net = LiveTestnet::start("guarantee", 14, 40500, RPC_PORT_BASE);
    let payload = b"J\x03keyvalue";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stored = rt.block_on(submit_and_follow(payload, b"key"));
    // `jam submit` to a node that may not be assigned to core 1 (it forwards: CE 133).
    let file = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("guarantee-payload-{}", std::process::id()));
    std::fs::write(&file, b"J\x04key2value2").unwrap();
    let submit = Command::new(env!("CARGO_BIN_EXE_jam"))
        .args(["submit", "--core", "1", "--timeout-s", "20", "--rpc"])
        .arg(format!("ws://127.0.0.1:{}", RPC_PORT_BASE + 3))
        .arg(&file)
        .output()
        .expect("running jam submit");
    let submit_out = String::from_utf8_lossy(&submit.stdout).to_string();
    let _ = std::fs::remove_file(&file);
    let stdout = net.finish();
    // The demo refine output: the payload without its magic octet, then E4(Σ octets).
    let sum: u32 = payload[1..].iter().map(|&b| b as u32).sum();
    let mut want = payload[1..].to_vec();
    want.extend_from_slice(&sum.to_le_bytes());
    let want = format!("output 0x{}", hex::encode(&want));
    let included = stdout
        .lines()
        .find(|l| l.contains(": E_G: core 0 ") && l.ends_with(&want));
    assert!(
        included.is_some(),
        "no block with the guarantee ({want}):\n{stdout}"
    );
    let line = included.unwrap();
    let sigs: usize = line
        .split(" signatures ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(sigs >= 2, "{line}");
    // Available (assurances in E_A) and accumulated: `write(key, value)` by the demo service.
    assert!(
        stdout.contains(" assurance(s) in E_A"),
        "no assurances in blocks:\n{stdout}"
    );
    assert_eq!(
        stored.as_deref(),
        Some(B64.encode(b"value").as_str()),
        "the demo service's storage after accumulation:\n{stdout}"
    );
    // `jam submit` showed every stage, in order, with its time and block, then the value.
    assert!(
        submit.status.success(),
        "jam submit: {submit:?}\n{submit_out}"
    );
    let stages: Vec<&str> = submit_out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| {
            [
                "submitted",
                "refined",
                "guaranteed",
                "available",
                "accumulated",
            ]
            .contains(w)
        })
        .collect();
    assert_eq!(
        stages,
        [
            "submitted",
            "refined",
            "guaranteed",
            "available",
            "accumulated"
        ],
        "{submit_out}"
    );
    let accumulated = submit_out
        .lines()
        .find(|l| l.starts_with("accumulated"))
        .unwrap();
    let ms: f64 = accumulated
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 0.0 && accumulated.contains("(slot "), "{accumulated}");
    assert!(
        submit_out.contains("work item 0: ok 0x")
            && submit_out.contains("service 0 storage: \"key2\" = \"value2\""),
        "{submit_out}"
    );
}
