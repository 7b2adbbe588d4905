//! Shared driver of the `jam testnet` integration tests and their JIP-2 client helpers.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::Command;

/// What a finished `jam testnet` run printed.
pub struct TestnetRun {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `jam testnet ARGS --base-path <fresh dir>` to completion, removes the directory and
/// requires exit status 0 (the message carries both outputs).
pub fn run_testnet(name: &str, args: &[&str]) -> TestnetRun {
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_jam"))
        .arg("testnet")
        .args(args)
        .arg("--base-path")
        .arg(&base)
        .output()
        .expect("running jam testnet");
    let _ = std::fs::remove_dir_all(&base);
    let run = TestnetRun {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        out.status.success(),
        "jam testnet failed ({}):\n{}\n{}",
        out.status,
        run.stdout,
        run.stderr
    );
    run
}

/// A `jam testnet -v` running in the background with its RPC servers, for tests that talk to
/// it while it runs. Its stdout goes to a file read back by [`LiveTestnet::finish`].
pub struct LiveTestnet {
    child: std::process::Child,
    base: std::path::PathBuf,
    log: std::path::PathBuf,
    /// The RPC port of validator 0 (validator i: `rpc_port_base + i`).
    pub rpc_port_base: u16,
}

impl LiveTestnet {
    /// Starts `jam testnet --validators 6 --slot-duration-ms 1000 --slots SLOTS -v` on QUIC
    /// ports `port_base + i` and RPC ports `rpc_port_base + i`.
    pub fn start(name: &str, slots: u32, port_base: u16, rpc_port_base: u16) -> LiveTestnet {
        let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let log = base.join("stdout.txt");
        let child = Command::new(env!("CARGO_BIN_EXE_jam"))
            .args([
                "testnet",
                "--validators",
                "6",
                "--slot-duration-ms",
                "1000",
                "-v",
            ])
            .args(["--slots", &slots.to_string()])
            .args(["--port-base", &port_base.to_string()])
            .args(["--rpc-port-base", &rpc_port_base.to_string()])
            .arg("--base-path")
            .arg(base.join("net"))
            .stdout(std::process::Stdio::from(
                std::fs::File::create(&log).unwrap(),
            ))
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("running jam testnet");
        LiveTestnet {
            child,
            base,
            log,
            rpc_port_base,
        }
    }

    /// The RPC client of validator `i` (retried while the node starts, at most 30 s).
    pub async fn rpc(&self, i: u16) -> rpc::WsClient {
        rpc::connect(self.rpc_port_base + i).await
    }

    /// Waits for the run to end; requires exit status 0; its stdout.
    pub fn finish(mut self) -> String {
        let status = self.child.wait().unwrap();
        let stdout = std::fs::read_to_string(&self.log).unwrap();
        let _ = std::fs::remove_dir_all(&self.base);
        assert!(status.success(), "jam testnet failed ({status}):\n{stdout}");
        stdout
    }
}

/// JIP-2 client helpers.
pub mod rpc {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    use jam_state::types::{OpaqueHash, RefineContext};
    use jsonrpsee::core::client::ClientT;
    use jsonrpsee::core::rpc_params;
    pub use jsonrpsee_ws_client::WsClient;
    use jsonrpsee_ws_client::WsClientBuilder;
    use serde_json::Value;
    use std::time::{Duration, Instant};

    /// A base64 hash in an RPC answer.
    pub fn hash_of(v: &Value) -> OpaqueHash {
        let b = B64.decode(v.as_str().expect("a base64 hash")).unwrap();
        OpaqueHash(b.try_into().expect("32 octets"))
    }

    /// Connects to `ws://127.0.0.1:PORT`, retrying for at most 30 s.
    pub async fn connect(port: u16) -> WsClient {
        let t0 = Instant::now();
        loop {
            let c = WsClientBuilder::default()
                .request_timeout(Duration::from_secs(10))
                .build(format!("ws://127.0.0.1:{port}"))
                .await;
            match c {
                Ok(c) => return c,
                Err(e) if t0.elapsed() > Duration::from_secs(30) => panic!("RPC on {port}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Waits for a best block at slot `min_slot` or later; its hash and slot.
    pub async fn best_from(c: &WsClient, min_slot: u32) -> (OpaqueHash, u32) {
        loop {
            let best: Value = c.request("bestBlock", rpc_params![]).await.unwrap();
            let slot = best[1].as_u64().unwrap() as u32;
            if slot >= min_slot {
                return (hash_of(&best[0]), slot);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A refine context anchored on the best block once the chain is at `min_slot` or later.
    pub async fn context(c: &WsClient, min_slot: u32) -> RefineContext {
        let (hash, slot) = best_from(c, min_slot).await;
        let h = B64.encode(hash.0);
        let root: Value = c
            .request("stateRoot", rpc_params![h.clone()])
            .await
            .unwrap();
        let beefy: Value = c.request("beefyRoot", rpc_params![h]).await.unwrap();
        RefineContext {
            anchor: hash,
            state_root: hash_of(&root[0]),
            beefy_root: hash_of(&beefy[0]),
            lookup_anchor: hash,
            lookup_anchor_slot: slot,
            prerequisites: vec![],
        }
    }
}
