//! Stream kinds, message framing and per-kind size limits (JAMNP-S § "Protocols and streams", § "Messages").
//!
//! A stream starts with one byte naming its kind (UP kinds < 128, CE kinds ≥ 128); each message
//! is a u32 little-endian size followed by that many bytes. Oversized or undecodable messages,
//! and messages where a FIN was due, reset the stream (send reset + receive stop) and surface as
//! a [`StreamError`]; the connection is unaffected.

use jam_state::codec::{decode_exact, CodecError, Decode, Encode};
use jam_state::params::Params;
use quinn::{ReadError, ReadExactError, RecvStream, SendStream, VarInt, WriteError};
use std::sync::Arc;
use tokio::sync::{watch, Semaphore};

/// A stream kind: the first byte on every stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamKind(pub u8);

impl StreamKind {
    /// UP 0: block announcement.
    pub const BLOCK_ANNOUNCEMENT: Self = Self(0);
    /// CE 128: block request.
    pub const BLOCK_REQUEST: Self = Self(128);
    /// CE 129: state request.
    pub const STATE_REQUEST: Self = Self(129);
    /// CE 131: Safrole ticket, generator to proxy.
    pub const TICKET_TO_PROXY: Self = Self(131);
    /// CE 132: Safrole ticket, proxy to all current validators.
    pub const TICKET_FROM_PROXY: Self = Self(132);
    /// CE 133: work-package submission.
    pub const WORK_PACKAGE_SUBMISSION: Self = Self(133);
    /// CE 134: work-package sharing.
    pub const WORK_PACKAGE_SHARING: Self = Self(134);
    /// CE 135: work-report distribution.
    pub const WORK_REPORT_DISTRIBUTION: Self = Self(135);
    /// CE 136: work-report request.
    pub const WORK_REPORT_REQUEST: Self = Self(136);
    /// CE 137: shard distribution.
    pub const SHARD_DISTRIBUTION: Self = Self(137);
    /// CE 138: audit shard request.
    pub const AUDIT_SHARD_REQUEST: Self = Self(138);
    /// CE 139: segment shard request (no justification).
    pub const SEGMENT_SHARD_REQUEST: Self = Self(139);
    /// CE 140: segment shard request with justifications.
    pub const SEGMENT_SHARD_REQUEST_JUSTIFIED: Self = Self(140);
    /// CE 141: assurance distribution.
    pub const ASSURANCE_DISTRIBUTION: Self = Self(141);
    /// CE 142: preimage announcement.
    pub const PREIMAGE_ANNOUNCEMENT: Self = Self(142);
    /// CE 143: preimage request.
    pub const PREIMAGE_REQUEST: Self = Self(143);
    /// CE 144: audit announcement.
    pub const AUDIT_ANNOUNCEMENT: Self = Self(144);
    /// CE 145: judgment publication.
    pub const JUDGMENT_PUBLICATION: Self = Self(145);
    /// CE 146: work-package bundle submission.
    pub const WORK_PACKAGE_BUNDLE_SUBMISSION: Self = Self(146);
    /// CE 147: bundle request.
    pub const BUNDLE_REQUEST: Self = Self(147);
    /// CE 148: segment request.
    pub const SEGMENT_REQUEST: Self = Self(148);

    /// Unique Persistent (kinds 0–127) rather than Common Ephemeral (128–255).
    pub fn is_unique_persistent(self) -> bool {
        self.0 < 128
    }

    /// Whether this implementation knows the kind (others are reset on arrival).
    pub fn is_known(self) -> bool {
        matches!(self.0, 0 | 128 | 129 | 131..=148)
    }

    /// Whether the spec expects the stream's initiator to be a validator (`Validator`,
    /// `Guarantor`, `Assurer` or `Auditor` on the left of `X -> Y`; JAMNP-S § "Notation"):
    /// every CE kind but 128, 129 (`Node ->`), 133, 146 (`Builder ->`) and 142 (`Node ->`).
    pub fn is_validator_only(self) -> bool {
        matches!(self.0, 131 | 132 | 134..=141 | 143..=145 | 147 | 148)
    }
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// A per-peer receive budget in KiB.
#[derive(Debug)]
pub struct Budget {
    permits: Semaphore,
    total_kib: u32,
}

impl Budget {
    pub fn new(bytes: usize) -> Self {
        let total_kib = (bytes.div_ceil(KIB) as u32).max(1);
        Budget {
            permits: Semaphore::new(total_kib as usize),
            total_kib,
        }
    }
}

/// Largest message accepted on a stream of `kind`, sent by the stream's initiator
/// (`from_initiator`) or acceptor. The spec fixes only CE 133/146's work-package bound
/// (200 KiB); the rest are our bounds, sized from the GP limits (W_B ≈ 13.3 MiB bundles,
/// 48 KiB reports, 784-byte ring proofs, headers with a 1023-validator epoch mark).
/// Unknown kinds get 0 (they are refused before any message is read).
pub fn max_message_size(kind: StreamKind, from_initiator: bool) -> usize {
    use StreamKind as K;
    match (kind, from_initiator) {
        // Handshakes (leaves) and announcements (a header): a full epoch + tickets mark is < 100 KiB.
        (K::BLOCK_ANNOUNCEMENT, _) => MIB,
        (K::BLOCK_REQUEST, true) => 32 + 1 + 4,
        (K::BLOCK_REQUEST, false) => 64 * MIB,
        (K::STATE_REQUEST, true) => 32 + 31 + 31 + 4,
        (K::STATE_REQUEST, false) => 16 * MIB,
        (K::TICKET_TO_PROXY | K::TICKET_FROM_PROXY, true) => 4 + 1 + 784,
        (K::WORK_PACKAGE_SUBMISSION, true) => 16 * MIB, // first message further bounded to 2 + 200 KiB
        (K::WORK_PACKAGE_SHARING, true) => 16 * MIB,
        (K::WORK_PACKAGE_SHARING, false) => 32 + 64,
        (K::WORK_REPORT_DISTRIBUTION, true) => MIB,
        (K::WORK_REPORT_REQUEST, true) => 32,
        (K::WORK_REPORT_REQUEST, false) => MIB,
        (K::SHARD_DISTRIBUTION | K::AUDIT_SHARD_REQUEST, true) => 32 + 2,
        (K::SHARD_DISTRIBUTION | K::AUDIT_SHARD_REQUEST, false) => 16 * MIB,
        (K::SEGMENT_SHARD_REQUEST | K::SEGMENT_SHARD_REQUEST_JUSTIFIED, true) => MIB,
        (K::SEGMENT_SHARD_REQUEST | K::SEGMENT_SHARD_REQUEST_JUSTIFIED, false) => 32 * MIB,
        (K::ASSURANCE_DISTRIBUTION, true) => 32 + 128 + 64,
        (K::PREIMAGE_ANNOUNCEMENT, true) => 4 + 32 + 4,
        (K::PREIMAGE_REQUEST, true) => 32,
        (K::PREIMAGE_REQUEST, false) => 16 * MIB,
        (K::AUDIT_ANNOUNCEMENT, true) => MIB,
        (K::JUDGMENT_PUBLICATION, true) => 4 * KIB,
        (K::WORK_PACKAGE_BUNDLE_SUBMISSION, true) => 16 * MIB,
        (K::BUNDLE_REQUEST, true) => 32,
        (K::BUNDLE_REQUEST, false) => 16 * MIB,
        (K::SEGMENT_REQUEST, true) => MIB,
        (K::SEGMENT_REQUEST, false) => 32 * MIB,
        // Acceptor replies of notification kinds carry no message (only FIN).
        _ => 0,
    }
}

/// Application error codes used when we reset/stop a stream (the spec leaves them open).
pub mod codes {
    /// Request refused or could not be served.
    pub const REFUSED: u32 = 1;
    /// Message larger than the kind's limit.
    pub const TOO_LARGE: u32 = 2;
    /// Message could not be decoded, or arrived where a FIN was due.
    pub const MALFORMED: u32 = 3;
    /// Unknown or misplaced stream kind.
    pub const BAD_KIND: u32 = 4;
    /// A newer UP stream of the same kind replaced this one.
    pub const SUPERSEDED: u32 = 5;
    /// A validator-only stream opened by a peer that is not a validator of the previous,
    /// current or next epoch.
    pub const NOT_A_VALIDATOR: u32 = 6;
}

/// Errors on a stream.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("message of {size} bytes exceeds the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("malformed message: {0}")]
    Decode(#[from] CodecError),
    #[error("stream finished in the middle of a message")]
    Truncated,
    #[error("stream finished where a message was expected")]
    UnexpectedFin,
    #[error("message received where the stream should have finished")]
    ExpectedFin,
    #[error("stream reset by peer (code {0})")]
    Reset(u64),
    #[error("UP stream superseded by a newer one")]
    Superseded,
    #[error("read: {0}")]
    Read(ReadError),
    #[error("write: {0}")]
    Write(#[from] WriteError),
    #[error("stream already closed")]
    Closed,
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("unexpected stream kind {0}")]
    BadKind(u8),
}

impl From<ReadError> for StreamError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Reset(code) => StreamError::Reset(code.into_inner()),
            e => StreamError::Read(e),
        }
    }
}

impl From<ReadExactError> for StreamError {
    fn from(e: ReadExactError) -> Self {
        match e {
            ReadExactError::FinishedEarly(_) => StreamError::Truncated,
            ReadExactError::ReadError(e) => e.into(),
        }
    }
}

impl From<quinn::ClosedStream> for StreamError {
    fn from(_: quinn::ClosedStream) -> Self {
        StreamError::Closed
    }
}

/// Reads one message of at most `max` bytes; `Ok(None)` on a clean FIN before the size prefix.
/// The buffer grows only as bytes actually arrive. With a `budget` (KiB permits shared by all
/// of a peer's streams), the body is read only once its size is reserved, so partially received
/// messages of one peer never hold more than the budget.
pub async fn read_message(
    recv: &mut RecvStream,
    max: usize,
    budget: Option<&Budget>,
) -> Result<Option<Vec<u8>>, StreamError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match recv.read(&mut len[got..]).await? {
            None if got == 0 => return Ok(None),
            None => return Err(StreamError::Truncated),
            Some(n) => got += n,
        }
    }
    let size = u32::from_le_bytes(len) as usize;
    if size > max {
        return Err(StreamError::TooLarge { size, max });
    }
    let _reserved = match budget {
        Some(b) if size > 0 => {
            // A message larger than the whole budget waits for all of it.
            let kib = (size.div_ceil(KIB) as u32).min(b.total_kib);
            Some(
                b.permits
                    .acquire_many(kib)
                    .await
                    .map_err(|_| StreamError::Closed)?,
            )
        }
        _ => None,
    };
    let mut buf = Vec::with_capacity(size.min(64 * KIB));
    while buf.len() < size {
        match recv.read_chunk(size - buf.len(), true).await? {
            None => return Err(StreamError::Truncated),
            Some(chunk) => buf.extend_from_slice(&chunk.bytes),
        }
    }
    Ok(Some(buf))
}

/// Writes one message: u32 LE size, then the content.
pub async fn write_message(send: &mut SendStream, msg: &[u8]) -> Result<(), StreamError> {
    let size = u32::try_from(msg.len()).map_err(|_| StreamError::TooLarge {
        size: msg.len(),
        max: u32::MAX as usize,
    })?;
    let mut buf = Vec::with_capacity(4 + msg.len());
    buf.extend_from_slice(&size.to_le_bytes());
    buf.extend_from_slice(msg);
    send.write_all(&buf).await?;
    Ok(())
}

/// Tracks the live stream of a UP kind on a connection: the greatest stream ID wins.
#[derive(Clone, Debug)]
pub(crate) struct UpGuard {
    pub id: u64,
    pub latest: watch::Receiver<u64>,
}

impl UpGuard {
    fn superseded(&self) -> bool {
        *self.latest.borrow() != self.id
    }
}

/// The receiving half of a stream, with the kind's limit for incoming messages.
pub struct RecvHalf {
    recv: RecvStream,
    kind: StreamKind,
    max_in: usize,
    params: Arc<Params>,
    up: Option<UpGuard>,
    budget: Option<Arc<Budget>>,
}

/// The sending half of a stream.
pub struct SendHalf {
    send: SendStream,
    kind: StreamKind,
    up: Option<UpGuard>,
}

/// A bidirectional stream of a known kind (the kind byte already sent/received).
pub struct Stream {
    pub(crate) send: SendHalf,
    pub(crate) recv: RecvHalf,
}

fn violation_code(e: &StreamError) -> Option<u32> {
    match e {
        StreamError::Superseded => Some(codes::SUPERSEDED),
        StreamError::TooLarge { .. } => Some(codes::TOO_LARGE),
        StreamError::Decode(_) | StreamError::ExpectedFin | StreamError::Truncated => {
            Some(codes::MALFORMED)
        }
        _ => None,
    }
}

impl RecvHalf {
    /// The next message, `None` on a clean FIN. Protocol violations stop the receive side.
    pub async fn recv_raw_opt(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        let budget = self.budget.as_deref();
        let r = match &mut self.up {
            None => read_message(&mut self.recv, self.max_in, budget).await,
            Some(up) => {
                let mut latest = up.latest.clone();
                let id = up.id;
                tokio::select! {
                    r = read_message(&mut self.recv, self.max_in, budget) => r,
                    _ = latest.wait_for(|l| *l != id) => Err(StreamError::Superseded),
                }
            }
        };
        if let Err(e) = &r {
            if let Some(code) = violation_code(e) {
                self.stop(code);
            }
        }
        r
    }

    /// The next message; a FIN here is an error.
    pub async fn recv_raw(&mut self) -> Result<Vec<u8>, StreamError> {
        match self.recv_raw_opt().await? {
            Some(m) => Ok(m),
            None => Err(StreamError::UnexpectedFin),
        }
    }

    /// The next message decoded as `T` (the whole message; trailing bytes are an error).
    pub async fn recv<T: Decode>(&mut self) -> Result<T, StreamError> {
        let m = self.recv_raw().await?;
        decode_exact(&m, &self.params).map_err(|e| {
            self.stop(codes::MALFORMED);
            StreamError::Decode(e)
        })
    }

    /// Decodes a message with `f` (for messages whose layout depends on earlier ones).
    pub async fn recv_with<T>(
        &mut self,
        f: impl FnOnce(&[u8], &Params) -> Result<T, CodecError>,
    ) -> Result<T, StreamError> {
        let m = self.recv_raw().await?;
        f(&m, &self.params).map_err(|e| {
            self.stop(codes::MALFORMED);
            StreamError::Decode(e)
        })
    }

    /// Expects the peer's clean FIN.
    pub async fn recv_fin(&mut self) -> Result<(), StreamError> {
        match self.recv_raw_opt().await? {
            None => Ok(()),
            Some(_) => {
                self.stop(codes::MALFORMED);
                Err(StreamError::ExpectedFin)
            }
        }
    }

    /// Stops the receive side with `code`.
    pub fn stop(&mut self, code: u32) {
        let _ = self.recv.stop(VarInt::from_u32(code));
    }

    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    pub fn params(&self) -> &Params {
        &self.params
    }
}

impl SendHalf {
    /// Sends raw message content.
    pub async fn send_raw(&mut self, msg: &[u8]) -> Result<(), StreamError> {
        if let Some(up) = &self.up {
            if up.superseded() {
                self.reset(codes::SUPERSEDED);
                return Err(StreamError::Superseded);
            }
        }
        write_message(&mut self.send, msg).await
    }

    /// Sends an encoded message.
    pub async fn send<T: Encode + ?Sized>(&mut self, msg: &T) -> Result<(), StreamError> {
        self.send_raw(&msg.encode()).await
    }

    /// Cleanly finishes our side (FIN).
    pub fn finish(&mut self) -> Result<(), StreamError> {
        Ok(self.send.finish()?)
    }

    /// Resets our side with `code`.
    pub fn reset(&mut self, code: u32) {
        let _ = self.send.reset(VarInt::from_u32(code));
    }

    pub fn kind(&self) -> StreamKind {
        self.kind
    }
}

impl Stream {
    pub(crate) fn new(
        send: SendStream,
        recv: RecvStream,
        kind: StreamKind,
        we_initiated: bool,
        params: Arc<Params>,
        up: Option<UpGuard>,
        budget: Option<Arc<Budget>>,
    ) -> Self {
        Stream {
            send: SendHalf {
                send,
                kind,
                up: up.clone(),
            },
            recv: RecvHalf {
                recv,
                kind,
                max_in: max_message_size(kind, !we_initiated),
                params,
                up,
                budget,
            },
        }
    }

    pub fn kind(&self) -> StreamKind {
        self.send.kind
    }

    /// QUIC stream ID.
    pub fn id(&self) -> u64 {
        self.send.send.id().into()
    }

    pub async fn send_raw(&mut self, msg: &[u8]) -> Result<(), StreamError> {
        self.send.send_raw(msg).await
    }
    pub async fn send<T: Encode + ?Sized>(&mut self, msg: &T) -> Result<(), StreamError> {
        self.send.send(msg).await
    }
    pub fn finish(&mut self) -> Result<(), StreamError> {
        self.send.finish()
    }
    pub async fn recv_raw_opt(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        let r = self.recv.recv_raw_opt().await;
        self.after(r)
    }
    pub async fn recv_raw(&mut self) -> Result<Vec<u8>, StreamError> {
        let r = self.recv.recv_raw().await;
        self.after(r)
    }
    pub async fn recv<T: Decode>(&mut self) -> Result<T, StreamError> {
        let r = self.recv.recv::<T>().await;
        self.after(r)
    }
    pub async fn recv_with<T>(
        &mut self,
        f: impl FnOnce(&[u8], &Params) -> Result<T, CodecError>,
    ) -> Result<T, StreamError> {
        let r = self.recv.recv_with(f).await;
        self.after(r)
    }
    pub async fn recv_fin(&mut self) -> Result<(), StreamError> {
        let r = self.recv.recv_fin().await;
        self.after(r)
    }

    /// On a protocol violation (already stopped on the receive side) also resets our send side.
    fn after<T>(&mut self, r: Result<T, StreamError>) -> Result<T, StreamError> {
        if let Err(e) = &r {
            if let Some(code) = violation_code(e) {
                self.send.reset(code);
            }
        }
        r
    }

    /// Resets both directions with `code` (refusal, cancellation or a protocol violation).
    pub fn reset(&mut self, code: u32) {
        self.send.reset(code);
        self.recv.stop(code);
    }

    /// Splits into independently usable halves (e.g. UP 0's parallel directions).
    pub fn split(self) -> (SendHalf, RecvHalf) {
        (self.send, self.recv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert!(StreamKind::BLOCK_ANNOUNCEMENT.is_unique_persistent());
        assert!(!StreamKind::BLOCK_REQUEST.is_unique_persistent());
        assert!(!StreamKind(130).is_known() && !StreamKind(1).is_known());
        assert!(StreamKind::SEGMENT_REQUEST.is_known());
        assert_eq!(max_message_size(StreamKind::BLOCK_REQUEST, true), 37);
        assert_eq!(max_message_size(StreamKind(200), true), 0);
    }
}
