//! JAM networking: JAMNP-S over QUIC (JAM Simple Networking Protocol, zdave-parity/jam-np `simple.md`).
//!
//! - [`tls`], [`alt_name`]: certificates, verifiers, ALPN (§ "Encryption and handshake").
//! - [`stream`]: stream kinds, u32-LE message framing, per-kind size limits (§ "Protocols and streams").
//! - [`messages`], [`work_messages`]: UP 0 and CE 128–148 message types with their codecs.
//! - [`grid`]: preferred initiator, grid neighbours, diffusion order (§ "Required connectivity", § "Grid structure").
//! - [`endpoint`]: [`Endpoint`] / [`Connection`] and typed requests; [`handler`]: the
//!   [`Handler`] trait the node implements and the per-connection serve loop.

pub mod alt_name;
pub mod endpoint;
pub mod grid;
pub mod handler;
pub mod messages;
pub mod stream;
pub mod tls;
pub mod work_messages;

pub use endpoint::{
    AnnouncementReceiver, AnnouncementSender, BlockAnnouncements, Connection, Endpoint,
    EndpointConfig, Error, Role,
};
pub use handler::Handler;
pub use stream::{Stream, StreamError, StreamKind};
