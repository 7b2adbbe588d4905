//! Preimage distribution end to end (JIP-2 `submitPreimage`, JAMNP-S CE 142/143, GP §12.4
//! E_P): the dev genesis has the demo service soliciting `dev_requested_preimage()`. The
//! preimage goes to ONE node over the RPC; that node pools it and announces it (CE 142), the
//! others fetch it (CE 143), and a block author puts it into E_P. Another node's RPC
//! `servicePreimage` then reads it from its best state, and the chain keeps going.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::rpc::{self, WsClient};
use common::LiveTestnet;
use jam_consensus::genesis::{dev_requested_preimage, DEMO_SERVICE_ID};
use jam_state::hash::blake2b_256;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::rpc_params;
use serde_json::Value;
use std::time::{Duration, Instant};

const RPC_PORT_BASE: u16 = 19650;

async fn connect(i: u16) -> WsClient {
    rpc::connect(RPC_PORT_BASE + i).await
}

/// Submits the dev preimage to node 0 once the chain has a block past genesis, then waits
/// (at most 10 s) for node 3's best state to hold it; returns the slot of that best block.
async fn submit_and_follow() -> Result<u64, String> {
    let blob = dev_requested_preimage();
    let hash = B64.encode(blake2b_256(blob));
    let c0 = connect(0).await;
    let best = loop {
        let best: Value = c0.request("bestBlock", rpc_params![]).await.unwrap();
        if best[1].as_u64().unwrap() >= 1 {
            break best;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Not in the state yet: requested, not provided.
    let c3 = connect(3).await;
    let none: Value = c3
        .request(
            "servicePreimage",
            rpc_params![best[0].clone(), DEMO_SERVICE_ID, hash.clone()],
        )
        .await
        .unwrap();
    assert!(none.is_null(), "provided before it was submitted: {none}");
    let _: Value = c0
        .request(
            "submitPreimage",
            rpc_params![DEMO_SERVICE_ID, B64.encode(blob), best[0].clone()],
        )
        .await
        .map_err(|e| format!("submitPreimage to node 0: {e}"))?;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let best: Value = c3.request("bestBlock", rpc_params![]).await.unwrap();
        let got: Value = c3
            .request(
                "servicePreimage",
                rpc_params![best[0].clone(), DEMO_SERVICE_ID, hash.clone()],
            )
            .await
            .unwrap();
        if let Some(got) = got.as_str() {
            assert_eq!(got, B64.encode(blob));
            return Ok(best[1].as_u64().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err("node 3's best state never held the preimage".into())
}

#[test]
fn submitted_preimage_is_distributed_and_put_into_e_p() {
    let net = LiveTestnet::start("preimages", 12, 40800, RPC_PORT_BASE);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let provided = rt.block_on(submit_and_follow());
    // `--slots`: exits 0 only if all nodes agree and the chain has blocks in ≥ 90% of slots.
    let stdout = net.finish();
    let slot = provided.unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    assert!(
        stdout.contains("validators (CE 142)"),
        "no CE 142 announcement:\n{stdout}"
    );
    assert!(
        stdout.contains("pooled (CE 143)"),
        "no CE 143 fetch:\n{stdout}"
    );
    assert!(
        stdout.contains(": 1 preimage(s) in E_P"),
        "no block with the preimage in E_P (node 3 had it at slot {slot}):\n{stdout}"
    );
    assert!(
        stdout.contains("preimage(s) left the pool"),
        "the pool kept the provided preimage:\n{stdout}"
    );
}
