//! JIP-2 node RPC: JSON-RPC 2.0 over WebSocket (`jsonrpsee`), read-only chain queries plus
//! work-package and preimage submission.
//!
//! # Encodings (JIP-2)
//!
//! - `Hash`: padded base64 (RFC 4648) of exactly 32 octets; `Blob`: padded base64 of any
//!   length; `Slot`, `ServiceId`, `CoreIndex`, `u32`: JSON numbers in range.
//! - Arguments are positional (a JSON array). Results listed in JIP-2 as several items, or as a
//!   bulleted item, are JSON arrays: `bestBlock`/`finalizedBlock`/`parent` give
//!   `[Hash, Slot]`, `stateRoot`/`beefyRoot` give `[Hash]`. Results given as one type are that
//!   value: `statistics`, `serviceData`, `serviceValue`, `servicePreimage` give a `Blob`,
//!   `serviceRequest` an array of `Slot`, `listServices` an array of `ServiceId`.
//!   `null` where JIP-2 allows it (unknown block or state, absent item).
//! - `parameters` gives `{"V1": {...}}` with the JIP-2 field names.
//! - GP encodings: `statistics` is `E(π)` (state component 13), `serviceData` is the service
//!   account info as in state key `C(255, s)`, `serviceRequest` the request's slots.
//!
//! Subscriptions (`subscribeX` / `unsubscribeX`, notifications under the `subscribeX` method
//! name) send the current value at once and then every change: best and finalized block, and
//! the state queries `subscribeStatistics` / `subscribeServiceData` / `subscribeServiceValue` /
//! `subscribeServicePreimage` / `subscribeServiceRequest`, whose last argument `finalized`
//! picks the block they track.
//!
//! Extension (not in JIP-2): `workPackageStatus [Hash]` gives the stages the node has seen of
//! a work package, with their times (what `jam submit` follows).
//!
//! `submitWorkPackage` and `submitPreimage` validate and queue into a bounded channel
//! ([`submission_queue`]); without a consumer they answer error [`RpcError::NoConsumer`].
//!
//! Errors: malformed arguments are `-32602` (invalid params); the node's own errors use
//! codes `-32001..` ([`RpcError::code`]).

mod methods;
pub use methods::validate_work_package;
pub mod node_view;
#[cfg(test)]
mod tests;

use crate::validator::tracking::PackageProgress;
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::types::{
    CoreIndex, HeaderHash, ServiceId, StateRoot, TimeSlot, WorkPackage, WorkPackageHash,
};
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The RPC port of validator 0 by convention (validator `i`: `RPC_PORT_BASE + i`).
pub const RPC_PORT_BASE: u16 = 19800;

/// A block: header hash and slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockRef {
    pub hash: HeaderHash,
    pub slot: TimeSlot,
}

/// The heads the node tracks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Heads {
    pub best: BlockRef,
    pub finalized: BlockRef,
}

/// What the node knows of an imported block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockMeta {
    /// The parent's header hash (zero for the genesis).
    pub parent: HeaderHash,
    pub slot: TimeSlot,
    /// The posterior state root.
    pub state_root: StateRoot,
}

/// The read-only chain view the RPC serves. Methods may block (store reads); the server calls
/// them off the async workers.
pub trait ChainView: Send + Sync + 'static {
    fn params(&self) -> &Params;
    /// The best and finalized heads, updated on every change.
    fn heads(&self) -> watch::Receiver<Heads>;
    /// An imported block's parent, slot and state root; `None` if unknown.
    fn block(&self, hash: &HeaderHash) -> Option<BlockMeta>;
    /// An imported block's posterior state; `None` if unknown or unavailable.
    fn state(&self, hash: &HeaderHash) -> Option<Arc<State>>;
    /// Whether the block is on the best chain.
    fn in_best_chain(&self, hash: &HeaderHash) -> bool;
    /// What the node has seen of a work package (`workPackageStatus`). Default: nothing.
    fn package_progress(&self, _hash: &WorkPackageHash) -> Option<PackageProgress> {
        None
    }
    /// Notes a work package submitted through the RPC. Default: ignored.
    fn note_submitted(&self, _hash: WorkPackageHash, _core: CoreIndex) {}
}

/// A validated submission for the node's consumer (guaranteeing / preimage distribution).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submission {
    WorkPackage {
        core: CoreIndex,
        package: Box<WorkPackage>,
        /// The package as submitted (its encoding).
        encoded: Vec<u8>,
        /// The extrinsic blobs, in the order of the items' extrinsic specs.
        extrinsics: Vec<Vec<u8>>,
    },
    Preimage {
        service: ServiceId,
        preimage: Vec<u8>,
        /// The block in whose posterior state the request was found.
        anchor: HeaderHash,
    },
}

/// A bounded submission queue: the RPC server gets the sender, the consumer the receiver.
pub fn submission_queue(capacity: usize) -> (mpsc::Sender<Submission>, mpsc::Receiver<Submission>) {
    mpsc::channel(capacity.max(1))
}

/// Errors the RPC methods answer with (beyond malformed arguments).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// Malformed or out-of-range arguments (`-32602`).
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The block is not known, or its state is not available.
    #[error("block {0} is not known or its state is not available")]
    UnknownBlock(String),
    /// The anchor block of a preimage is not on the best chain.
    #[error("block {0} is not on the best chain")]
    NotBestChain(String),
    /// The work package does not decode or breaks a limit.
    #[error("invalid work package: {0}")]
    InvalidWorkPackage(String),
    /// The preimage is not requested (or already provided) by the service.
    #[error("preimage not requested: {0}")]
    PreimageNotRequested(String),
    /// No consumer of submissions is wired into this node.
    #[error(
        "submissions are not accepted: no work-package/preimage consumer is wired into this node"
    )]
    NoConsumer,
    /// The submission queue is full; retry later.
    #[error("the submission queue is full")]
    QueueFull,
}

impl RpcError {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i32 {
        match self {
            RpcError::InvalidParams(_) => jsonrpsee::types::error::INVALID_PARAMS_CODE,
            RpcError::UnknownBlock(_) => -32001,
            RpcError::NotBestChain(_) => -32002,
            RpcError::InvalidWorkPackage(_) => -32003,
            RpcError::PreimageNotRequested(_) => -32004,
            RpcError::NoConsumer => -32005,
            RpcError::QueueFull => -32006,
        }
    }
}

impl From<RpcError> for jsonrpsee::types::ErrorObjectOwned {
    fn from(e: RpcError) -> Self {
        jsonrpsee::types::ErrorObject::owned(e.code(), e.to_string(), None::<()>)
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("binding the RPC server to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("registering the RPC methods: {0}")]
    Register(#[from] jsonrpsee::core::RegisterMethodError),
}

/// A running RPC server; stops when dropped.
pub struct RpcServer {
    handle: ServerHandle,
    addr: SocketAddr,
}

impl RpcServer {
    /// The bound address (the actual port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server.
    pub fn stop(&self) {
        let _ = self.handle.stop();
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the JIP-2 server on `addr` (WebSocket only) over `view`. Submissions go to
/// `submissions` when given. Must run inside a tokio runtime.
pub async fn start(
    addr: SocketAddr,
    view: Arc<dyn ChainView>,
    submissions: Option<mpsc::Sender<Submission>>,
) -> Result<RpcServer, StartError> {
    let module = methods::module(view, submissions)?;
    let config = ServerConfig::builder()
        .ws_only()
        .max_request_body_size(methods::MAX_MESSAGE_BYTES)
        .max_response_body_size(methods::MAX_MESSAGE_BYTES)
        .build();
    let server = Server::builder()
        .set_config(config)
        .build(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let addr = server
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    Ok(RpcServer {
        handle: server.start(module),
        addr,
    })
}
