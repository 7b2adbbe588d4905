//! Block and ticket messages: UP 0, CE 128, CE 129, CE 131/132 (JAMNP-S § "Common types", § "UP 0" – § "CE 131/132").

use jam_state::codec::{CodecError, CodecErrorKind, Decode, Encode, Reader};
use jam_state::jam_codec;
use jam_state::types::{Block, Bytes, Header, HeaderHash, TicketEnvelope, TimeSlot};

/// A sequence whose length is implied by the message size: items back to back, no prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Concat<T>(pub Vec<T>);

impl<T: Encode> Encode for Concat<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        for it in &self.0 {
            it.encode_to(out)
        }
    }
}

impl<T: Decode> Decode for Concat<T> {
    const MIN_SIZE: usize = 0;
    /// Decodes items until the input is exhausted (use as the whole message).
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let mut v = Vec::new();
        while !r.is_empty() {
            let before = r.position();
            v.push(T::decode(r).map_err(|e| e.at_index(v.len()))?);
            if r.position() == before {
                return Err(r.error(CodecErrorKind::Invalid("empty item in sequence")));
            }
        }
        Ok(Concat(v))
    }
}

// ---- UP 0: block announcement ----

jam_codec! {
    /// `Final` / `Leaf`: header hash and slot.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct BlockRef {
        pub hash: HeaderHash,
        pub slot: TimeSlot,
    }
}

jam_codec! {
    /// `Handshake = Final ++ len++[Leaf]`: the latest finalized block and all known leaves.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Handshake {
        pub finalized: BlockRef,
        pub leaves: Vec<BlockRef>,
    }
}

jam_codec! {
    /// `Announcement = Header ++ Final`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Announcement {
        pub header: Header,
        pub finalized: BlockRef,
    }
}

// ---- CE 128: block request ----

/// Direction of a block request (a single byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Children of the given block, then grandchildren, ...
    AscendingExclusive = 0,
    /// The given block, then its parent, grandparent, ...
    DescendingInclusive = 1,
}

impl Encode for Direction {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self as u8)
    }
}

impl Decode for Direction {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let at = r.position();
        match r.read_u8()? {
            0 => Ok(Direction::AscendingExclusive),
            1 => Ok(Direction::DescendingInclusive),
            value => Err(CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "Direction",
                    value,
                },
                at,
            )),
        }
    }
}

jam_codec! {
    /// `Header Hash ++ Direction ++ Maximum Blocks`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct BlockRequest {
        pub hash: HeaderHash,
        pub direction: Direction,
        pub max_blocks: u32,
    }
}

/// `[Block]`: the response, blocks back to back.
pub type BlockResponse = Concat<Block>;

// ---- CE 129: state request ----

/// A state key as sent on the wire: its first 31 bytes.
pub type StateKey = [u8; 31];
/// A trie node as returned by B/L (GP Appendix D): 64 bytes.
pub type BoundaryNode = [u8; 64];

jam_codec! {
    /// `Header Hash ++ Key (Start) ++ Key (End) ++ Maximum Size`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct StateRequest {
        pub header_hash: HeaderHash,
        pub start: StateKey,
        pub end: StateKey,
        pub max_size: u32,
    }
}

jam_codec! {
    /// `Key ++ Value`, `Value = len++[u8]`.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct KeyValue {
        pub key: StateKey,
        pub value: Bytes,
    }
}

/// The two response messages: `[Boundary Node]`, then `[Key ++ Value]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateResponse {
    pub boundary_nodes: Vec<BoundaryNode>,
    pub pairs: Vec<KeyValue>,
}

// ---- CE 131/132: Safrole ticket distribution ----

jam_codec! {
    /// `Epoch Index ++ Ticket` (the epoch in which the ticket will be used).
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct TicketDistribution {
        pub epoch: u32,
        pub ticket: TicketEnvelope,
    }
}

/// Proxy validator index for a ticket: last 4 bytes of its VRF output (ticket id), big-endian,
/// modulo the number of validators (of the next epoch).
pub fn ticket_proxy_index(ticket_id: &[u8; 32], validators: usize) -> usize {
    let n = u32::from_be_bytes(ticket_id[28..].try_into().expect("4 bytes"));
    n as usize % validators.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::codec::decode_exact;
    use jam_state::params::Params;
    use jam_state::types::{BandersnatchRingVrfSignature, OpaqueHash};

    fn rt<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: &T, p: &Params) -> Vec<u8> {
        let b = v.encode();
        assert_eq!(&decode_exact::<T>(&b, p).unwrap(), v);
        b
    }

    #[test]
    fn handshake_layout() {
        let p = Params::tiny();
        let h = Handshake {
            finalized: BlockRef {
                hash: OpaqueHash([1; 32]),
                slot: 5,
            },
            leaves: vec![BlockRef {
                hash: OpaqueHash([2; 32]),
                slot: 6,
            }],
        };
        let b = rt(&h, &p);
        assert_eq!(b.len(), 36 + 1 + 36);
        assert_eq!(&b[32..36], &5u32.to_le_bytes());
        assert_eq!(b[36], 1);
    }

    #[test]
    fn block_request_layout() {
        let p = Params::tiny();
        let r = BlockRequest {
            hash: OpaqueHash([3; 32]),
            direction: Direction::DescendingInclusive,
            max_blocks: 9,
        };
        let b = rt(&r, &p);
        assert_eq!(b.len(), 37);
        assert_eq!(b[32], 1);
        let mut bad = b.clone();
        bad[32] = 2;
        assert!(decode_exact::<BlockRequest>(&bad, &p).is_err());
    }

    #[test]
    fn concat_blocks_and_tickets() {
        let p = Params::tiny();
        let blocks = Concat(vec![Block::default(), Block::default()]);
        let b = blocks.encode();
        assert_eq!(b.len(), 2 * Block::default().encode().len());
        let back = decode_exact::<BlockResponse>(&b, &p).unwrap();
        assert_eq!(back.0.len(), 2);
        assert!(decode_exact::<BlockResponse>(&b[..b.len() - 1], &p).is_err());
        assert_eq!(
            decode_exact::<BlockResponse>(&[], &p).unwrap(),
            Concat(vec![])
        );
        let t = TicketDistribution {
            epoch: 3,
            ticket: TicketEnvelope {
                attempt: 1,
                signature: BandersnatchRingVrfSignature([7; 784]),
            },
        };
        assert_eq!(rt(&t, &p).len(), 4 + 1 + 784);
        let s = StateRequest {
            header_hash: OpaqueHash([1; 32]),
            start: [0; 31],
            end: [0xff; 31],
            max_size: 1000,
        };
        assert_eq!(rt(&s, &p).len(), 98);
        let kv = Concat(vec![KeyValue {
            key: [4; 31],
            value: Bytes(vec![1, 2, 3]),
        }]);
        assert_eq!(rt(&kv, &p).len(), 31 + 1 + 3);
    }

    #[test]
    fn proxy_index() {
        let mut id = [0u8; 32];
        id[28..].copy_from_slice(&[0, 0, 1, 2]);
        assert_eq!(ticket_proxy_index(&id, 6), 258 % 6);
    }
}
