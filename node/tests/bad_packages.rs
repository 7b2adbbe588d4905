//! Bad work packages end to end (GP §11.4, §14): a six-validator tiny testnet with the dev
//! genesis gets, through the JIP-2 RPC `submitWorkPackage` on every node,
//!
//! - (a) a package whose authorizer code hash `p_u` is no code (Ψ_I: BAD): accepted by the
//!   RPC (which cannot run Ψ_I), never guaranteed, never in a block;
//! - (b) oversize packages (17 items; 3073 exports): a JSON-RPC error from every node;
//! - (c) a package whose item names a service that does not exist: Ξ reports BAD for it, but
//!   no block may carry such a report (GP 11.42, `BadServiceId`), so it must never reach E_G
//!   and the guarantor must decline it with a logged reason;
//! - (d) a demo-service package with `refine_gas_limit` 1: guaranteed with the out-of-gas
//!   result in its report and put into E_G;
//!
//! all on core 1, and then a good demo package on core 0, which must still be guaranteed,
//! made available and accumulated (the demo service's storage holds its value, read back
//! through the RPC `serviceValue`); and the chain must reach its last slot on every node.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::rpc::{self, WsClient};
use common::LiveTestnet;
use jam_consensus::genesis::demo_work_package;
use jam_state::codec::Encode;
use jam_state::types::{OpaqueHash, WorkPackage};
use jsonrpsee::core::client::{ClientT, Error as ClientError};
use jsonrpsee::core::rpc_params;
use serde_json::Value;
use std::time::{Duration, Instant};

const RPC_PORT_BASE: u16 = 19600;
const VALIDATORS: u16 = 6;

fn short(p: &WorkPackage) -> String {
    format!("0x{}", hex::encode(&p.hash().0[..4]))
}

async fn connect(i: u16) -> WsClient {
    rpc::connect(RPC_PORT_BASE + i).await
}

/// `submitWorkPackage [core, package, []]` on every node; each node's answer.
async fn submit_everywhere(core: u16, p: &WorkPackage) -> Vec<Result<Value, ClientError>> {
    let wp = B64.encode(p.encode());
    let none: Vec<String> = vec![];
    let mut answers = Vec::new();
    for i in 0..VALIDATORS {
        let c = connect(i).await;
        answers.push(
            c.request(
                "submitWorkPackage",
                rpc_params![core, wp.clone(), none.clone()],
            )
            .await,
        );
    }
    answers
}

/// The packages of the test, built on the chain's context once it has a block past genesis.
struct Packages {
    wrong_authorizer: WorkPackage,
    unknown_service: WorkPackage,
    out_of_gas: WorkPackage,
    good: WorkPackage,
}

const GOOD_PAYLOAD: &[u8] = b"J\x03keyvalue";

/// Submits the bad packages (core 1), then the good one (core 0); waits (at most 12 s) for
/// the accumulated value of the good package's key in the demo service's storage on node 0's
/// best block; returns the packages and that value (base64).
async fn submit_and_follow() -> (Packages, Option<String>) {
    let c0 = connect(0).await;
    let context = rpc::context(&c0, 2).await;
    let demo = |payload: &[u8]| demo_work_package(context.clone(), payload);

    // (b) Oversize: more than I = 16 items; more than W_X = 3072 exports.
    let mut many_items = demo(b"J\x01bitems");
    many_items.items = vec![many_items.items[0].clone(); 17];
    let mut many_exports = demo(b"J\x01bexports");
    many_exports.items[0].export_count = 3073;
    for (what, p) in [("17 items", &many_items), ("3073 exports", &many_exports)] {
        for (i, r) in submit_everywhere(1, p).await.into_iter().enumerate() {
            match r {
                Err(ClientError::Call(e)) => assert_eq!(e.code(), -32003, "{what}: {e}"),
                other => panic!("{what} on node {i}: expected a JSON-RPC error, got {other:?}"),
            }
        }
    }

    // (a) A wrong authorizer code hash.
    let mut wrong_authorizer = demo(b"J\x01aauth");
    wrong_authorizer.auth_code_hash = OpaqueHash([0xab; 32]);
    // (c) An item for a service that does not exist.
    let mut unknown_service = demo(b"J\x01cunknown");
    unknown_service.items[0].service = 4242;
    // (d) Refine out of gas.
    let mut out_of_gas = demo(b"J\x01dgas");
    out_of_gas.items[0].refine_gas_limit = 1;
    for p in [&wrong_authorizer, &unknown_service, &out_of_gas] {
        // The RPC cannot tell these from good packages: each node queues them (or, if its
        // queue is full, says so).
        for r in submit_everywhere(1, p).await {
            if let Err(e) = r {
                assert!(
                    matches!(&e, ClientError::Call(c) if c.code() == -32006),
                    "{e}"
                );
            }
        }
    }

    // The good package, on the other core.
    let good = demo(GOOD_PAYLOAD);
    for (i, r) in submit_everywhere(0, &good).await.into_iter().enumerate() {
        r.unwrap_or_else(|e| panic!("submitWorkPackage of the good package to node {i}: {e}"));
    }
    let packages = Packages {
        wrong_authorizer,
        unknown_service,
        out_of_gas,
        good,
    };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(12) {
        let best: Value = c0.request("bestBlock", rpc_params![]).await.unwrap();
        let v: Value = c0
            .request(
                "serviceValue",
                rpc_params![best[0].clone(), 0, B64.encode(b"key")],
            )
            .await
            .unwrap();
        if let Some(v) = v.as_str() {
            return (packages, Some(v.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (packages, None)
}

#[test]
fn bad_packages_are_refused_or_reported_and_the_good_one_still_lands() {
    let net = LiveTestnet::start("bad-packages", 14, 40900, RPC_PORT_BASE);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (p, stored) = rt.block_on(submit_and_follow());
    let stdout = net.finish();

    let in_e_g = |p: &WorkPackage| -> Vec<&str> {
        let needle = format!(" package {} ", short(p));
        stdout
            .lines()
            .filter(|l| l.contains(": E_G: ") && l.contains(&needle))
            .collect()
    };
    let about = |p: &WorkPackage, what: &str| -> Vec<&str> {
        let needle = format!("package {} ", short(p));
        stdout
            .lines()
            .filter(|l| l.contains(&needle) && l.contains(what))
            .collect()
    };
    // Declined for a reason of its own (not merely "not assigned to this core").
    let declined = |p: &WorkPackage| -> Vec<&str> {
        about(p, "not guaranteed: ")
            .into_iter()
            .filter(|l| !l.contains("not guaranteed: not assigned"))
            .collect()
    };
    // Every expectation is checked; the failures are reported together.
    let mut failures: Vec<String> = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            failures.push(what.to_string());
        }
    };

    // (a) Never guaranteed: Ψ_I finds no code (BAD).
    let a = &p.wrong_authorizer;
    check(in_e_g(a).is_empty(), "(a) wrong authorizer: in a block");
    check(
        about(a, "guaranteed with").is_empty(),
        "(a) wrong authorizer: guaranteed",
    );
    check(
        declined(a).iter().any(|l| l.contains("not authorized")),
        "(a) wrong authorizer: not declined as unauthorized",
    );

    // (c) No block may carry a report for a service that does not exist (GP 11.42): never in
    // E_G, and its guarantors decline it with a reason rather than sign it.
    let c = &p.unknown_service;
    check(in_e_g(c).is_empty(), "(c) unknown service: in a block");
    check(
        about(c, "guaranteed with").is_empty(),
        "(c) unknown service: signed and distributed by its guarantors, though no block may \
         include its report (GP 11.42 BadServiceId)",
    );
    check(
        !declined(c).is_empty(),
        "(c) unknown service: not declined with a logged reason",
    );

    // (d) Guaranteed with the out-of-gas result in its report.
    check(
        in_e_g(&p.out_of_gas)
            .iter()
            .any(|l| l.contains(": E_G: core 1 ") && l.ends_with("output OutOfGas")),
        "(d) out of gas: not in a block with its out-of-gas result",
    );

    // The good package: in E_G on core 0 with its output, and accumulated.
    let sum: u32 = GOOD_PAYLOAD[1..].iter().map(|&b| b as u32).sum();
    let mut want = GOOD_PAYLOAD[1..].to_vec();
    want.extend_from_slice(&sum.to_le_bytes());
    let want = format!("output 0x{}", hex::encode(&want));
    check(
        in_e_g(&p.good)
            .iter()
            .any(|l| l.contains(": E_G: core 0 ") && l.ends_with(&want)),
        "the good package: in no block with its output",
    );
    check(
        stored.as_deref() == Some(B64.encode(b"value").as_str()),
        &format!("the good package: not accumulated (serviceValue: {stored:?})"),
    );
    // Nothing failed on the way: no authoring error, no panic.
    for bad in ["panicked", "authoring failed", "own block rejected"] {
        check(!stdout.contains(bad), &format!("the log shows {bad:?}"));
    }
    assert!(
        failures.is_empty(),
        "{}\n\npackages: (a) {} (c) {} (d) {} good {}\n{stdout}",
        failures.join("\n"),
        short(a),
        short(c),
        short(&p.out_of_gas),
        short(&p.good)
    );
}
