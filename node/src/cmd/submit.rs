//! `jam submit`: builds a work package for a service, submits it over the JIP-2 RPC and
//! follows it (`workPackageStatus`) until it is accumulated, showing each stage and its time.
//! The client side ([`Client`]) is shared with `jam testnet --load`.

use super::CmdResult;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use jam_consensus::genesis::{dev_authorizer_code_hash, DEMO_SERVICE_ID};
use jam_state::codec::{decode_exact, Encode};
use jam_state::params::Params;
use jam_state::types::{
    Bytes, CoreIndex, HeaderHash, OpaqueHash, RefineContext, ServiceId, ServiceInfo, TimeSlot,
    WorkItem, WorkPackage, WorkPackageHash,
};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::rpc_params;
use jsonrpsee_ws_client::{WsClient, WsClientBuilder};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const AFTER_HELP: &str = "\
The package has one work item for SERVICE (its code hash read from the node's best state) with
PAYLOAD_FILE's contents as payload, the dev authorizer (`services/authorizer.s`, hosted by
service 0) as authorization, and the node's best block as anchor and lookup anchor. The node
guarantees it if it is assigned to CORE, else forwards it (JAMNP-S CE 133) to a validator that
is. The command then asks the node (`workPackageStatus`, an extension of JIP-2) every 20 ms
for the stages it has seen and prints each one as it is reached, with the node's time since
it received the package:
  submitted    the node accepted it
  refined      a report exists (refined by this node, or a guarantee for it received: CE 135)
  guaranteed   the guarantee is in E_G of a best-chain block
  available    that block's successors' assurances made the report available (W)
  accumulated  the package is in the accumulation history ξ of a best-chain block
For the demo service (`services/demo.s`), a payload `J`, one octet n, then n octets of key and
the rest value stores the value under the key; the command then reads it back (serviceValue).

Exit status: 0 accumulated, 1 refused by the node or not accumulated within --timeout-s,
2 bad arguments or no connection.

Example, on a `jam testnet` (RPC of node 0 on port 19800):
  printf 'J\\x03keyvalue' > payload.bin
  jam submit --rpc ws://127.0.0.1:19800 --service 0 --core 0 payload.bin";

#[derive(clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The node's JIP-2 RPC address.
    #[arg(long, default_value = "ws://127.0.0.1:19800")]
    rpc: String,
    /// The service the work item is for.
    #[arg(long, default_value_t = DEMO_SERVICE_ID)]
    service: ServiceId,
    /// The core to submit the package to.
    #[arg(long, default_value_t = 0)]
    core: CoreIndex,
    /// Refine gas limit of the work item.
    #[arg(long, default_value_t = 100_000)]
    refine_gas: u64,
    /// Accumulate gas limit of the work item.
    #[arg(long, default_value_t = 20_000)]
    accumulate_gas: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    /// The work item's payload.
    payload_file: PathBuf,
}

/// Why a submission could not be made or followed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("connecting to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("RPC {method}: {reason}")]
    Rpc {
        method: &'static str,
        reason: String,
    },
    #[error("RPC {method}: unexpected answer {answer}")]
    Answer {
        method: &'static str,
        answer: String,
    },
    #[error("service {0} does not exist in the best state")]
    UnknownService(ServiceId),
    #[error("core {core}: the chain has {cores} cores")]
    NoSuchCore { core: CoreIndex, cores: u16 },
}

/// A stage as the node reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct StageReport {
    pub stage: String,
    /// Milliseconds since the node first saw the package.
    pub ms: f64,
    pub block: Option<(HeaderHash, TimeSlot)>,
}

/// `workPackageStatus`'s answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackageStatus {
    pub stages: Vec<StageReport>,
    pub failed: Option<String>,
    /// The work results, once refined.
    pub results: Vec<String>,
}

impl PackageStatus {
    /// The time of `stage`, if reached.
    pub fn ms(&self, stage: &str) -> Option<f64> {
        self.stages.iter().find(|s| s.stage == stage).map(|s| s.ms)
    }
}

/// The refine context of a block, cached per best block.
#[derive(Clone, Copy)]
struct Anchor {
    hash: HeaderHash,
    slot: TimeSlot,
    context: (OpaqueHash, OpaqueHash),
}

/// A JIP-2 client of one node.
pub struct Client {
    rpc: WsClient,
    params: Params,
    anchor: Option<Anchor>,
}

fn hash_of(v: &Value, method: &'static str) -> Result<OpaqueHash, SubmitError> {
    let bad = || SubmitError::Answer {
        method,
        answer: v.to_string(),
    };
    let b = B64.decode(v.as_str().ok_or_else(bad)?).map_err(|_| bad())?;
    Ok(OpaqueHash(b.try_into().map_err(|_| bad())?))
}

impl Client {
    /// Connects, retrying for up to `patience` (a node that is still starting).
    pub async fn connect(url: &str, patience: Duration) -> Result<Client, SubmitError> {
        let t0 = Instant::now();
        let rpc = loop {
            let c = WsClientBuilder::default()
                .request_timeout(Duration::from_secs(10))
                .build(url)
                .await;
            match c {
                Ok(c) => break c,
                Err(e) if t0.elapsed() >= patience => {
                    return Err(SubmitError::Connect {
                        url: url.into(),
                        reason: e.to_string(),
                    })
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        let mut c = Client {
            rpc,
            params: Params::tiny(),
            anchor: None,
        };
        let p: Value = c.call("parameters", rpc_params![]).await?;
        let v1 = &p["V1"];
        let field = |name: &str| v1[name].as_u64();
        if let Some(cores) = field("core_count") {
            c.params.core_count = cores as u16;
        }
        Ok(c)
    }

    async fn call(
        &self,
        method: &'static str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> Result<Value, SubmitError> {
        self.rpc
            .request(method, params)
            .await
            .map_err(|e| SubmitError::Rpc {
                method,
                reason: e.to_string(),
            })
    }

    /// The node's best block, with the state and BEEFY roots a refine context needs.
    async fn anchor(&mut self) -> Result<Anchor, SubmitError> {
        let best = self.call("bestBlock", rpc_params![]).await?;
        let hash = hash_of(&best[0], "bestBlock")?;
        let slot = best[1].as_u64().unwrap_or_default() as TimeSlot;
        if let Some(a) = self.anchor.filter(|a| a.hash == hash) {
            return Ok(a);
        }
        let h = B64.encode(hash.0);
        let root = self.call("stateRoot", rpc_params![h.clone()]).await?;
        let beefy = self.call("beefyRoot", rpc_params![h]).await?;
        let a = Anchor {
            hash,
            slot,
            context: (
                hash_of(&root[0], "stateRoot")?,
                hash_of(&beefy[0], "beefyRoot")?,
            ),
        };
        self.anchor = Some(a);
        Ok(a)
    }

    /// A package with one item for `service` (code hash from the best state) carrying
    /// `payload`, authorized by the dev authorizer, anchored at the best block.
    pub async fn package(
        &mut self,
        service: ServiceId,
        payload: &[u8],
        refine_gas: u64,
        accumulate_gas: u64,
    ) -> Result<WorkPackage, SubmitError> {
        let a = self.anchor().await?;
        let data = self
            .call("serviceData", rpc_params![B64.encode(a.hash.0), service])
            .await?;
        let Some(data) = data.as_str() else {
            return Err(SubmitError::UnknownService(service));
        };
        let info: ServiceInfo = B64
            .decode(data)
            .ok()
            .and_then(|b| decode_exact(&b, &self.params).ok())
            .ok_or_else(|| SubmitError::Answer {
                method: "serviceData",
                answer: data.into(),
            })?;
        Ok(WorkPackage {
            auth_code_host: DEMO_SERVICE_ID,
            auth_code_hash: dev_authorizer_code_hash(),
            context: RefineContext {
                anchor: a.hash,
                state_root: a.context.0,
                beefy_root: a.context.1,
                lookup_anchor: a.hash,
                lookup_anchor_slot: a.slot,
                prerequisites: vec![],
            },
            items: vec![WorkItem {
                service,
                code_hash: info.code_hash,
                refine_gas_limit: refine_gas,
                accumulate_gas_limit: accumulate_gas,
                payload: Bytes(payload.to_vec()),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    /// `submitWorkPackage [core, package, []]`.
    pub async fn submit(
        &self,
        core: CoreIndex,
        package: &WorkPackage,
    ) -> Result<WorkPackageHash, SubmitError> {
        if core >= self.params.core_count {
            return Err(SubmitError::NoSuchCore {
                core,
                cores: self.params.core_count,
            });
        }
        let none: Vec<String> = Vec::new();
        self.call(
            "submitWorkPackage",
            rpc_params![core, B64.encode(package.encode()), none],
        )
        .await?;
        Ok(package.hash())
    }

    /// `workPackageStatus [hash]`.
    pub async fn status(&self, hash: &WorkPackageHash) -> Result<PackageStatus, SubmitError> {
        let v = self
            .call("workPackageStatus", rpc_params![B64.encode(hash.0)])
            .await?;
        let mut s = PackageStatus {
            failed: v["failed"].as_str().map(str::to_string),
            results: v["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect(),
            ..Default::default()
        };
        for st in v["stages"].as_array().into_iter().flatten() {
            let block = match (st.get("block"), st["slot"].as_u64()) {
                (Some(b), Some(slot)) => Some((hash_of(b, "workPackageStatus")?, slot as TimeSlot)),
                _ => None,
            };
            s.stages.push(StageReport {
                stage: st["stage"].as_str().unwrap_or("?").to_string(),
                ms: st["ms"].as_f64().unwrap_or_default(),
                block,
            });
        }
        Ok(s)
    }

    /// `serviceValue [best, service, key]`.
    pub async fn service_value(
        &self,
        service: ServiceId,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, SubmitError> {
        let best = self.call("bestBlock", rpc_params![]).await?;
        let v = self
            .call(
                "serviceValue",
                rpc_params![best[0].clone(), service, B64.encode(key)],
            )
            .await?;
        Ok(v.as_str().and_then(|s| B64.decode(s).ok()))
    }
}

/// The key and value a demo-service payload stores (`J`, n, n octets of key, value).
pub fn demo_key_value(payload: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&magic, rest) = payload.split_first()?;
    let (&n, rest) = rest.split_first()?;
    (magic == b'J' && rest.len() >= n as usize).then(|| rest.split_at(n as usize))
}

fn short(h: &OpaqueHash) -> String {
    format!("0x{}", hex::encode(&h.0[..4]))
}

pub fn run(args: Args) -> CmdResult {
    let payload = std::fs::read(&args.payload_file)
        .map_err(|e| format!("{}: {e}", args.payload_file.display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(follow(args, payload))
}

async fn follow(args: Args, payload: Vec<u8>) -> CmdResult {
    let mut c = Client::connect(&args.rpc, Duration::from_secs(2)).await?;
    let wp = c
        .package(args.service, &payload, args.refine_gas, args.accumulate_gas)
        .await?;
    let t0 = Instant::now();
    let hash = c.submit(args.core, &wp).await?;
    println!(
        "package {} ({} octets, service {}, payload {} octets) submitted to core {} via {}; \
         anchor {} (slot {})",
        short(&hash),
        wp.encode().len(),
        args.service,
        payload.len(),
        args.core,
        args.rpc,
        short(&wp.context.anchor),
        wp.context.lookup_anchor_slot
    );
    println!(
        "{:<12} {:>10} {:>10}  block",
        "stage", "total ms", "step ms"
    );
    let mut shown = 0;
    let mut prev = 0.0;
    let timeout = Duration::from_secs(args.timeout_s);
    loop {
        let s = c.status(&hash).await?;
        for st in &s.stages[shown.min(s.stages.len())..] {
            let block = st
                .block
                .map(|(h, slot)| format!("{} (slot {slot})", short(&h)))
                .unwrap_or_default();
            println!(
                "{:<12} {:>10.1} {:>10.1}  {block}",
                st.stage,
                st.ms,
                st.ms - prev
            );
            prev = st.ms;
        }
        shown = s.stages.len();
        if s.ms("accumulated").is_some() {
            break;
        }
        if let Some(why) = &s.failed {
            println!("failed: {why}");
            return Ok(ExitCode::from(1));
        }
        if t0.elapsed() >= timeout {
            let at = s.stages.last().map_or("nothing seen", |s| s.stage.as_str());
            println!(
                "not accumulated after {} s (last stage: {at})",
                args.timeout_s
            );
            return Ok(ExitCode::from(1));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = c.status(&hash).await?;
    for (i, r) in s.results.iter().enumerate() {
        println!("work item {i}: {r}");
    }
    let ok = s.results.iter().all(|r| r.starts_with("ok"));
    if let Some((key, value)) = demo_key_value(&payload).filter(|_| args.service == 0 && ok) {
        let stored = c.service_value(args.service, key).await?;
        let shown = |b: &[u8]| match std::str::from_utf8(b) {
            Ok(s) => format!("{s:?}"),
            Err(_) => format!("0x{}", hex::encode(b)),
        };
        match stored {
            Some(v) if v == value => println!(
                "service {} storage: {} = {}",
                args.service,
                shown(key),
                shown(&v)
            ),
            Some(v) => println!(
                "service {} storage: {} = {} (expected {})",
                args.service,
                shown(key),
                shown(&v),
                shown(value)
            ),
            None => println!("service {} storage: {} not set", args.service, shown(key)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_payloads_name_their_key_and_value() {
        assert_eq!(
            demo_key_value(b"J\x03keyvalue"),
            Some((&b"key"[..], &b"value"[..]))
        );
        assert_eq!(demo_key_value(b"J\x00"), Some((&b""[..], &b""[..])));
        assert_eq!(demo_key_value(b"X\x03keyvalue"), None);
        assert_eq!(demo_key_value(b"J\x09key"), None);
        assert_eq!(demo_key_value(b""), None);
    }
}
