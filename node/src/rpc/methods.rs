//! The JIP-2 methods and subscriptions: argument parsing, queries and result encodings.

use super::{BlockRef, ChainView, Heads, RpcError, Submission};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use jam_state::codec::{decode_exact, Encode};
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{OpaqueHash, ServiceId, WorkPackage};
use jsonrpsee::types::{ErrorObjectOwned, Params as RpcParams};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Largest request or response: a maximal work package (`W_B` ≈ 13.8 MB) in base64, with
/// room; responses up to a maximal preimage or service code blob.
pub const MAX_MESSAGE_BYTES: u32 = 32 << 20;

/// What every method sees.
pub struct Ctx {
    view: Arc<dyn ChainView>,
    submissions: Option<mpsc::Sender<Submission>>,
}

type Answer = Result<Value, ErrorObjectOwned>;

/// The positional arguments, between `min` and `max` of them (absent params: none).
fn args(p: &RpcParams, min: usize, max: usize) -> Result<Vec<Value>, RpcError> {
    let list = match p.as_str() {
        None => Vec::new(),
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(Value::Array(a)) => a,
            Ok(Value::Null) => Vec::new(),
            Ok(_) => {
                return Err(RpcError::InvalidParams(
                    "arguments are positional: give a JSON array".into(),
                ))
            }
            Err(e) => return Err(RpcError::InvalidParams(e.to_string())),
        },
    };
    if list.len() < min || list.len() > max {
        let want = if min == max {
            min.to_string()
        } else {
            format!("{min} to {max}")
        };
        return Err(RpcError::InvalidParams(format!(
            "expected {want} arguments, got {}",
            list.len()
        )));
    }
    Ok(list)
}

fn blob_arg(v: &Value, what: &str) -> Result<Vec<u8>, RpcError> {
    let s = v
        .as_str()
        .ok_or_else(|| RpcError::InvalidParams(format!("{what}: expected a base64 string")))?;
    B64.decode(s)
        .map_err(|e| RpcError::InvalidParams(format!("{what}: bad base64: {e}")))
}

fn hash_arg(v: &Value, what: &str) -> Result<OpaqueHash, RpcError> {
    let b = blob_arg(v, what)?;
    let n = b.len();
    b.try_into()
        .map(OpaqueHash)
        .map_err(|_| RpcError::InvalidParams(format!("{what}: a hash is 32 octets, got {n}")))
}

fn u32_arg(v: &Value, what: &str) -> Result<u32, RpcError> {
    v.as_u64()
        .and_then(|x| u32::try_from(x).ok())
        .ok_or_else(|| RpcError::InvalidParams(format!("{what}: expected an integer 0..2^32-1")))
}

fn bool_arg(v: &Value, what: &str) -> Result<bool, RpcError> {
    v.as_bool()
        .ok_or_else(|| RpcError::InvalidParams(format!("{what}: expected true or false")))
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(B64.encode(bytes))
}

fn block_ref(b: BlockRef) -> Value {
    json!([b64(&b.hash.0), b.slot])
}

/// The JIP-2 `Parameters` object, version 1.
pub fn parameters_v1(p: &Params) -> Value {
    json!({ "V1": {
        "deposit_per_account": p.deposit_per_account,
        "deposit_per_item": p.deposit_per_item,
        "deposit_per_byte": p.deposit_per_byte,
        "min_turnaround_period": p.preimage_expunge_period,
        "epoch_period": p.epoch_length,
        "max_accumulate_gas": p.max_accumulate_gas,
        "max_is_authorized_gas": p.max_is_authorized_gas,
        "max_refine_gas": p.max_refine_gas,
        "block_gas_limit": p.max_block_gas,
        "recent_block_count": p.recent_history_size,
        "max_work_items": p.max_work_items,
        "max_dependencies": p.max_dependencies,
        "max_tickets_per_block": p.max_tickets_per_extrinsic,
        "max_lookup_anchor_age": p.max_lookup_anchor_age,
        "tickets_attempts_number": p.tickets_per_validator,
        "auth_window": p.auth_pool_max_size,
        "auth_queue_len": p.auth_queue_size,
        "rotation_period": p.rotation_period,
        "max_extrinsics": p.max_package_extrinsics,
        "availability_timeout": p.availability_timeout,
        "val_count": p.validator_count,
        "max_input": p.max_bundle_size,
        "max_refine_code_size": p.max_service_code_size,
        "basic_piece_len": p.ec_piece_size,
        "max_imports": p.max_imports,
        "max_is_authorized_code_size": p.max_authorizer_code_size,
        "max_exports": p.max_exports,
        // Beyond JIP-2's list: parameters of this chain that differ from the canonical ones.
        "core_count": p.core_count,
        "slot_period_sec": p.slot_duration,
        "epoch_tail_start": p.ticket_contest_duration,
        "segment_piece_count": p.ec_pieces_per_segment,
        "max_report_elective_data": p.max_report_output_size,
        "transfer_memo_size": p.transfer_memo_size,
    }})
}

/// A query on a posterior state (the `service*` and `statistics` methods and subscriptions).
#[derive(Clone, Debug, PartialEq, Eq)]
enum StateQuery {
    Statistics,
    ServiceData(ServiceId),
    ServiceValue(ServiceId, Vec<u8>),
    ServicePreimage(ServiceId, OpaqueHash),
    ServiceRequest(ServiceId, OpaqueHash, u32),
}

#[derive(Clone, Copy, Debug)]
enum QueryKind {
    Statistics,
    ServiceData,
    ServiceValue,
    ServicePreimage,
    ServiceRequest,
}

impl QueryKind {
    /// Number of query arguments (after the header hash, before `finalized`).
    fn arity(self) -> usize {
        match self {
            QueryKind::Statistics => 0,
            QueryKind::ServiceData => 1,
            QueryKind::ServiceValue | QueryKind::ServicePreimage => 2,
            QueryKind::ServiceRequest => 3,
        }
    }

    fn parse(self, a: &[Value]) -> Result<StateQuery, RpcError> {
        let service = || u32_arg(&a[0], "service id");
        Ok(match self {
            QueryKind::Statistics => StateQuery::Statistics,
            QueryKind::ServiceData => StateQuery::ServiceData(service()?),
            QueryKind::ServiceValue => {
                StateQuery::ServiceValue(service()?, blob_arg(&a[1], "key")?)
            }
            QueryKind::ServicePreimage => {
                StateQuery::ServicePreimage(service()?, hash_arg(&a[1], "preimage hash")?)
            }
            QueryKind::ServiceRequest => StateQuery::ServiceRequest(
                service()?,
                hash_arg(&a[1], "preimage hash")?,
                u32_arg(&a[2], "preimage length")?,
            ),
        })
    }
}

impl StateQuery {
    /// The encoded answer on `st`: a `Blob`, an array of `Slot`s, or `null` when absent.
    fn eval(&self, st: &State) -> Value {
        match self {
            StateQuery::Statistics => b64(&st.statistics.encode()),
            StateQuery::ServiceData(s) => {
                st.accounts.get(s).map_or(Value::Null, |i| b64(&i.encode()))
            }
            StateQuery::ServiceValue(s, k) => st.storage(*s, k).map_or(Value::Null, b64),
            StateQuery::ServicePreimage(s, h) => st.preimage(*s, h).map_or(Value::Null, b64),
            StateQuery::ServiceRequest(s, h, l) => {
                st.lookup(*s, h, *l).map_or(Value::Null, |v| json!(v))
            }
        }
    }
}

/// `[Hash, query args…]` on the posterior state of the given block. Unknown state: `null`
/// for `statistics` and `serviceData` (as JIP-2 says), an error otherwise.
fn state_method(ctx: &Ctx, p: &RpcParams, kind: QueryKind) -> Result<Value, RpcError> {
    let n = 1 + kind.arity();
    let a = args(p, n, n)?;
    let hash = hash_arg(&a[0], "header hash")?;
    let q = kind.parse(&a[1..])?;
    match ctx.view.state(&hash) {
        Some(st) => Ok(q.eval(&st)),
        None if matches!(kind, QueryKind::Statistics | QueryKind::ServiceData) => Ok(Value::Null),
        None => Err(RpcError::UnknownBlock(B64.encode(hash.0))),
    }
}

fn parent(ctx: &Ctx, p: &RpcParams) -> Result<Value, RpcError> {
    let a = args(p, 1, 1)?;
    let hash = hash_arg(&a[0], "header hash")?;
    let Some(meta) = ctx.view.block(&hash) else {
        return Ok(Value::Null);
    };
    if meta.parent == OpaqueHash::ZERO {
        return Ok(Value::Null); // the genesis
    }
    Ok(ctx.view.block(&meta.parent).map_or(Value::Null, |pm| {
        block_ref(BlockRef {
            hash: meta.parent,
            slot: pm.slot,
        })
    }))
}

fn state_root(ctx: &Ctx, p: &RpcParams) -> Result<Value, RpcError> {
    let a = args(p, 1, 1)?;
    let hash = hash_arg(&a[0], "header hash")?;
    Ok(ctx
        .view
        .block(&hash)
        .map_or(Value::Null, |m| json!([b64(&m.state_root.0)])))
}

fn beefy_root(ctx: &Ctx, p: &RpcParams) -> Result<Value, RpcError> {
    let a = args(p, 1, 1)?;
    let hash = hash_arg(&a[0], "header hash")?;
    let Some(st) = ctx.view.state(&hash) else {
        return Ok(Value::Null);
    };
    Ok(st
        .recent_blocks
        .history
        .iter()
        .rev()
        .find(|b| b.header_hash == hash)
        .map_or(Value::Null, |b| json!([b64(&b.beefy_root.0)])))
}

fn list_services(ctx: &Ctx, p: &RpcParams) -> Result<Value, RpcError> {
    let a = args(p, 1, 1)?;
    let hash = hash_arg(&a[0], "header hash")?;
    let st = ctx
        .view
        .state(&hash)
        .ok_or_else(|| RpcError::UnknownBlock(B64.encode(hash.0)))?;
    Ok(json!(st.accounts.keys().collect::<Vec<_>>()))
}

/// Queues a validated submission.
fn enqueue(ctx: &Ctx, s: Submission) -> Result<Value, RpcError> {
    let tx = ctx.submissions.as_ref().ok_or(RpcError::NoConsumer)?;
    tx.try_send(s).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => RpcError::QueueFull,
        mpsc::error::TrySendError::Closed(_) => RpcError::NoConsumer,
    })?;
    Ok(Value::Null)
}

/// Checks a work package against the chain's limits (GP 14.2–14.6) and its extrinsics
/// against the items' extrinsic specs.
pub fn validate_work_package(
    params: &Params,
    package: &WorkPackage,
    extrinsics: &[Vec<u8>],
) -> Result<(), String> {
    // The limits of Ξ itself (GP 14.2–14.6: items, imports, exports, extrinsics, sizes, gas).
    jam_consensus::refine::check_package(params, package).map_err(|e| e.to_string())?;
    let specs: Vec<_> = package.items.iter().flat_map(|w| &w.extrinsic).collect();
    if specs.len() != extrinsics.len() {
        return Err(format!(
            "the items name {} extrinsics, {} given",
            specs.len(),
            extrinsics.len()
        ));
    }
    for (i, (spec, x)) in specs.iter().zip(extrinsics).enumerate() {
        if x.len() as u64 != u64::from(spec.len) || blake2b_256(x) != spec.hash.0 {
            return Err(format!(
                "extrinsic {i} does not match its spec (hash, length)"
            ));
        }
    }
    Ok(())
}

/// `submitWorkPackage [CoreIndex, Blob, [Blob]]`.
fn submit_work_package(ctx: &Ctx, p: &RpcParams) -> Result<Value, RpcError> {
    let a = args(p, 3, 3)?;
    let params = ctx.view.params();
    let core = u32_arg(&a[0], "core index")?;
    if core >= u32::from(params.core_count) {
        return Err(RpcError::InvalidParams(format!(
            "core index {core} (the chain has {} cores)",
            params.core_count
        )));
    }
    let encoded = blob_arg(&a[1], "work package")?;
    let extrinsics = a[2]
        .as_array()
        .ok_or_else(|| RpcError::InvalidParams("extrinsics: expected an array".into()))?
        .iter()
        .enumerate()
        .map(|(i, x)| blob_arg(x, &format!("extrinsic {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let package: WorkPackage = decode_exact(&encoded, params)
        .map_err(|e| RpcError::InvalidWorkPackage(format!("does not decode: {e}")))?;
    validate_work_package(params, &package, &extrinsics).map_err(RpcError::InvalidWorkPackage)?;
    if ctx.submissions.is_some() {
        ctx.view.note_submitted(package.hash(), core as u16);
    }
    enqueue(
        ctx,
        Submission::WorkPackage {
            core: core as u16,
            package: Box::new(package),
            encoded,
            extrinsics,
        },
    )
}

/// `workPackageStatus [Hash]` (an extension of JIP-2): what the node has seen of a work
/// package — `null` if nothing, else `{"core", "stage", "failed", "results", "stages":
/// [{"stage", "ms", "block"?, "slot"?}]}` (`results`: the work results once refined) with the stages reached in order (`submitted`, `refined`,
/// `guaranteed`, `available`, `accumulated`), `ms` since the node first saw the package, and
/// the best-chain block of the on-chain stages.
fn work_package_status(ctx: &Ctx, p: &RpcParams) -> Result<Value, RpcError> {
    let a = args(p, 1, 1)?;
    let hash = hash_arg(&a[0], "work-package hash")?;
    let Some(progress) = ctx.view.package_progress(&hash) else {
        return Ok(Value::Null);
    };
    let stages: Vec<Value> = progress
        .reached
        .iter()
        .map(|r| {
            let mut o = serde_json::json!({
                "stage": r.stage.name(),
                "ms": r.after.as_secs_f64() * 1e3,
            });
            if let Some((block, slot)) = r.block {
                o["block"] = b64(&block.0);
                o["slot"] = Value::from(slot);
            }
            o
        })
        .collect();
    Ok(serde_json::json!({
        "core": progress.core,
        "stage": progress.stage().map(|s| s.name()),
        "failed": progress.failed,
        "results": progress.results,
        "stages": stages,
    }))
}

/// `submitPreimage [ServiceId, Blob, Hash]`: the preimage must be requested (and not yet
/// provided) by the service in the posterior state of the given best-chain block.
fn submit_preimage(ctx: &Ctx, p: &RpcParams) -> Result<Value, RpcError> {
    let a = args(p, 3, 3)?;
    let service = u32_arg(&a[0], "service id")?;
    let preimage = blob_arg(&a[1], "preimage")?;
    let anchor = hash_arg(&a[2], "header hash")?;
    let name = || B64.encode(anchor.0);
    if ctx.view.block(&anchor).is_none() {
        return Err(RpcError::UnknownBlock(name()));
    }
    if !ctx.view.in_best_chain(&anchor) {
        return Err(RpcError::NotBestChain(name()));
    }
    let st = ctx
        .view
        .state(&anchor)
        .ok_or_else(|| RpcError::UnknownBlock(name()))?;
    if !st.accounts.contains_key(&service) {
        return Err(RpcError::PreimageNotRequested(format!(
            "service {service} does not exist"
        )));
    }
    let len = u32::try_from(preimage.len())
        .map_err(|_| RpcError::InvalidParams("preimage: too long".into()))?;
    let hash = OpaqueHash(blake2b_256(&preimage));
    match st.lookup(service, &hash, len) {
        Some(slots) if slots.is_empty() => {}
        Some(_) => {
            return Err(RpcError::PreimageNotRequested(format!(
                "service {service} already has it"
            )))
        }
        None => {
            return Err(RpcError::PreimageNotRequested(format!(
                "service {service} has no request for it"
            )))
        }
    }
    enqueue(
        ctx,
        Submission::Preimage {
            service,
            preimage,
            anchor,
        },
    )
}

fn sub_message(v: &Value) -> Option<SubscriptionMessage> {
    serde_json::value::to_raw_value(v).ok().map(Into::into)
}

/// Sends `pick(heads)` now and on every change, until the client unsubscribes.
async fn heads_subscription(
    params: RpcParams<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<Ctx>,
    pick: fn(&Heads) -> BlockRef,
) {
    if let Err(e) = args(&params, 0, 0) {
        return pending.reject(e).await;
    }
    let mut rx = ctx.view.heads();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let mut last = None;
    loop {
        let cur = pick(&rx.borrow_and_update());
        if last != Some(cur) {
            let Some(msg) = sub_message(&block_ref(cur)) else {
                return;
            };
            if sink.send(msg).await.is_err() {
                return;
            }
            last = Some(cur);
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = sink.closed() => return,
        }
    }
}

/// Sends the query's answer on the best (or finalized) block's state now and whenever it
/// changes, until the client unsubscribes.
async fn state_subscription(
    params: RpcParams<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<Ctx>,
    kind: QueryKind,
) {
    let parsed = args(&params, kind.arity(), kind.arity() + 1).and_then(|a| {
        let q = kind.parse(&a)?;
        let fin = match a.get(kind.arity()) {
            Some(v) => bool_arg(v, "finalized")?,
            None => false,
        };
        Ok((q, fin))
    });
    let (query, finalized) = match parsed {
        Ok(x) => x,
        Err(e) => return pending.reject(e).await,
    };
    let mut rx = ctx.view.heads();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let (mut last_block, mut last_value) = (None, None);
    loop {
        let h = *rx.borrow_and_update();
        let block = if finalized { h.finalized } else { h.best };
        if last_block != Some(block.hash) {
            let (view, q) = (ctx.view.clone(), query.clone());
            let value =
                tokio::task::spawn_blocking(move || view.state(&block.hash).map(|st| q.eval(&st)))
                    .await
                    .ok()
                    .flatten();
            if let Some(v) = value {
                last_block = Some(block.hash);
                if last_value.as_ref() != Some(&v) {
                    let Some(msg) = sub_message(&v) else { return };
                    if sink.send(msg).await.is_err() {
                        return;
                    }
                    last_value = Some(v);
                }
            }
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = sink.closed() => return,
        }
    }
}

/// The RPC module: every JIP-2 method and subscription.
pub fn module(
    view: Arc<dyn ChainView>,
    submissions: Option<mpsc::Sender<Submission>>,
) -> Result<RpcModule<Ctx>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(Ctx { view, submissions });
    m.register_method("parameters", |p, ctx, _| -> Answer {
        args(&p, 0, 0)?;
        Ok(parameters_v1(ctx.view.params()))
    })?;
    m.register_method("bestBlock", |p, ctx, _| -> Answer {
        args(&p, 0, 0)?;
        Ok(block_ref(ctx.view.heads().borrow().best))
    })?;
    m.register_method("finalizedBlock", |p, ctx, _| -> Answer {
        args(&p, 0, 0)?;
        Ok(block_ref(ctx.view.heads().borrow().finalized))
    })?;
    type Blocking = fn(&Ctx, &RpcParams) -> Result<Value, RpcError>;
    let blocking: [(&'static str, Blocking); 7] = [
        ("workPackageStatus", work_package_status),
        ("parent", parent),
        ("stateRoot", state_root),
        ("beefyRoot", beefy_root),
        ("listServices", list_services),
        ("submitWorkPackage", submit_work_package),
        ("submitPreimage", submit_preimage),
    ];
    for (name, f) in blocking {
        m.register_blocking_method(name, move |p, ctx, _| -> Answer { Ok(f(&ctx, &p)?) })?;
    }
    let queries: [(&'static str, &'static str, &'static str, QueryKind); 5] = [
        (
            "statistics",
            "subscribeStatistics",
            "unsubscribeStatistics",
            QueryKind::Statistics,
        ),
        (
            "serviceData",
            "subscribeServiceData",
            "unsubscribeServiceData",
            QueryKind::ServiceData,
        ),
        (
            "serviceValue",
            "subscribeServiceValue",
            "unsubscribeServiceValue",
            QueryKind::ServiceValue,
        ),
        (
            "servicePreimage",
            "subscribeServicePreimage",
            "unsubscribeServicePreimage",
            QueryKind::ServicePreimage,
        ),
        (
            "serviceRequest",
            "subscribeServiceRequest",
            "unsubscribeServiceRequest",
            QueryKind::ServiceRequest,
        ),
    ];
    for (method, sub, unsub, kind) in queries {
        m.register_blocking_method(method, move |p, ctx, _| -> Answer {
            Ok(state_method(&ctx, &p, kind)?)
        })?;
        m.register_subscription(sub, sub, unsub, move |p, pending, ctx, _| {
            state_subscription(p, pending, ctx, kind)
        })?;
    }
    m.register_subscription(
        "subscribeBestBlock",
        "subscribeBestBlock",
        "unsubscribeBestBlock",
        |p, pending, ctx, _| heads_subscription(p, pending, ctx, |h| h.best),
    )?;
    m.register_subscription(
        "subscribeFinalizedBlock",
        "subscribeFinalizedBlock",
        "unsubscribeFinalizedBlock",
        |p, pending, ctx, _| heads_subscription(p, pending, ctx, |h| h.finalized),
    )?;
    Ok(m)
}
