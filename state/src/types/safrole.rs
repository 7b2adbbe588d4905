//! Safrole ticket types (GP v0.7.2 §6.2–6.7): ticket bodies and envelopes, the sealing-key series γ_s.

use super::primitives::*;
use crate::codec::{CodecError, CodecErrorKind, Decode, Encode, EpochLen, FixedVec, Reader};
use crate::jam_codec;
use serde::{Deserialize, Serialize};

jam_codec! {
    /// A ticket: its identifier (VRF output) and attempt index (GP 6.6, `T`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub struct TicketBody {
        pub id: TicketId,
        pub attempt: TicketAttempt,
    }
}

jam_codec! {
    /// A ticket submission in the tickets extrinsic: attempt plus ring-VRF proof (GP 6.29).
    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct TicketEnvelope {
        pub attempt: TicketAttempt,
        pub signature: BandersnatchRingVrfSignature,
    }
}

/// γ_a: ticket accumulator (up to E entries, length-prefixed).
pub type TicketsAccumulator = Vec<TicketBody>;
/// E_T: tickets extrinsic (up to K entries, length-prefixed).
pub type TicketsExtrinsic = Vec<TicketEnvelope>;
/// Exactly E tickets (epoch's sealing tickets, header tickets mark).
pub type EpochTickets = FixedVec<TicketBody, EpochLen>;
/// Exactly E Bandersnatch keys (fallback sealing keys).
pub type EpochKeys = FixedVec<BandersnatchPublic, EpochLen>;

/// γ_s: sealing-key series, tickets (tag 0) or fallback keys (tag 1); JSON `{"tickets": [...]}` / `{"keys": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketsOrKeys {
    Tickets(EpochTickets),
    Keys(EpochKeys),
}

impl Default for TicketsOrKeys {
    fn default() -> Self {
        TicketsOrKeys::Keys(FixedVec::default())
    }
}

impl Encode for TicketsOrKeys {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            TicketsOrKeys::Tickets(t) => {
                out.push(0);
                t.encode_to(out)
            }
            TicketsOrKeys::Keys(k) => {
                out.push(1);
                k.encode_to(out)
            }
        }
    }
}

impl Decode for TicketsOrKeys {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        match r.read_u8()? {
            0 => Ok(TicketsOrKeys::Tickets(
                Decode::decode(r).map_err(|e| e.at_field("tickets"))?,
            )),
            1 => Ok(TicketsOrKeys::Keys(
                Decode::decode(r).map_err(|e| e.at_field("keys"))?,
            )),
            value => Err(CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "TicketsOrKeys",
                    value,
                },
                start,
            )),
        }
    }
}
