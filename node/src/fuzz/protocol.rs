//! Messages of the JAM conformance fuzz protocol v1 (`fuzz-v1.asn`) with the GP codec, and the
//! socket framing (a `u32` little-endian length, then one encoded [`Message`]).

use jam_state::codec::{
    decode_exact, encode_natural, CodecError, CodecErrorKind, Decode, Encode, Reader,
};
use jam_state::jam_codec;
use jam_state::params::Params;
use jam_state::trace::KeyValue;
use jam_state::types::{Block, Header, HeaderHash, StateRoot, TimeSlot};
use std::io::{self, Read, Write};

/// Fuzz protocol version spoken here.
pub const FUZZ_VERSION: u8 = 1;
/// `feature-ancestry`: the target knows the last `L` headers (lookup-anchor check).
pub const FEATURE_ANCESTRY: u32 = 1;
/// `feature-fork`: simple forks of depth one.
pub const FEATURE_FORK: u32 = 2;
/// Largest message accepted on the socket (checked before allocating).
pub const MAX_MESSAGE_LEN: u32 = 64 << 20;

jam_codec! {
    /// `Version`: major, minor, patch.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Version {
        pub major: u8,
        pub minor: u8,
        pub patch: u8,
    }
}

/// A UTF-8 string: length-prefixed octets, rejected on decoding when not valid UTF-8.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Utf8(pub String);

impl Encode for Utf8 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_natural(self.0.len() as u64, out);
        out.extend_from_slice(self.0.as_bytes());
    }
}

impl Decode for Utf8 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        let n = r.read_len(1)?;
        let bytes = r.take(n)?;
        std::str::from_utf8(bytes)
            .map(|s| Utf8(s.to_owned()))
            .map_err(|_| CodecError::new(CodecErrorKind::Invalid("invalid UTF-8"), start))
    }
}

jam_codec! {
    /// `PeerInfo`: the handshake message.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct PeerInfo {
        pub fuzz_version: u8,
        pub fuzz_features: u32,
        pub jam_version: Version,
        pub app_version: Version,
        pub app_name: Utf8,
    }
}

jam_codec! {
    /// `AncestryItem`: an ancestor's slot and header hash.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct AncestryItem {
        pub slot: TimeSlot,
        pub header_hash: HeaderHash,
    }
}

jam_codec! {
    /// `Initialize`: a "genesis-like" header, the state to start from and its ancestry.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Initialize {
        pub header: Header,
        pub keyvals: Vec<KeyValue>,
        pub ancestry: Vec<AncestryItem>,
    }
}

/// `Message`: the CHOICE of every protocol message (discriminants 0..=5 and 255).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    PeerInfo(PeerInfo),
    Initialize(Box<Initialize>),
    StateRoot(StateRoot),
    ImportBlock(Box<Block>),
    GetState(HeaderHash),
    State(Vec<KeyValue>),
    Error(String),
}

impl Message {
    /// The message's name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::PeerInfo(_) => "PeerInfo",
            Message::Initialize(_) => "Initialize",
            Message::StateRoot(_) => "StateRoot",
            Message::ImportBlock(_) => "ImportBlock",
            Message::GetState(_) => "GetState",
            Message::State(_) => "State",
            Message::Error(_) => "Error",
        }
    }

    /// Decodes one whole message (trailing bytes are an error).
    pub fn decode_bytes(bytes: &[u8], params: &Params) -> Result<Message, CodecError> {
        decode_exact(bytes, params)
    }
}

impl Encode for Message {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::PeerInfo(m) => {
                out.push(0);
                m.encode_to(out)
            }
            Message::Initialize(m) => {
                out.push(1);
                m.encode_to(out)
            }
            Message::StateRoot(m) => {
                out.push(2);
                m.encode_to(out)
            }
            Message::ImportBlock(m) => {
                out.push(3);
                m.encode_to(out)
            }
            Message::GetState(m) => {
                out.push(4);
                m.encode_to(out)
            }
            Message::State(m) => {
                out.push(5);
                m.encode_to(out)
            }
            Message::Error(m) => {
                out.push(255);
                encode_natural(m.len() as u64, out);
                out.extend_from_slice(m.as_bytes());
            }
        }
    }
}

impl Decode for Message {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let at = r.position();
        let d = r.read_u8()?;
        Ok(match d {
            0 => Message::PeerInfo(PeerInfo::decode(r)?),
            1 => Message::Initialize(Box::decode(r)?),
            2 => Message::StateRoot(StateRoot::decode(r)?),
            3 => Message::ImportBlock(Box::decode(r)?),
            4 => Message::GetState(HeaderHash::decode(r)?),
            5 => Message::State(Vec::decode(r)?),
            255 => Message::Error(Utf8::decode(r)?.0),
            _ => {
                return Err(CodecError::new(
                    CodecErrorKind::InvalidDiscriminant {
                        ty: "Message",
                        value: d,
                    },
                    at,
                ))
            }
        })
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection between two frames.
    #[error("connection closed")]
    Closed,
    /// The length prefix is zero or above [`MAX_MESSAGE_LEN`].
    #[error("bad message length {0} (max {MAX_MESSAGE_LEN})")]
    BadLength(u32),
    /// The connection failed or closed in the middle of a frame.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

/// Reads one frame (`u32` LE length, then that many bytes) into `buf`, reusing its allocation.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<(), FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_le_bytes(len);
    if len == 0 || len > MAX_MESSAGE_LEN {
        return Err(FrameError::BadLength(len));
    }
    buf.clear();
    buf.resize(len as usize, 0);
    r.read_exact(buf)?;
    Ok(())
}

/// Writes one frame holding `payload`.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n <= MAX_MESSAGE_LEN)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "message too long"))?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame)?;
    w.flush()
}

/// Encodes `msg` and writes it as one frame.
pub fn write_message(w: &mut impl Write, msg: &Message) -> io::Result<()> {
    write_frame(w, &msg.encode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::codec::from_hex;
    use jam_state::types::OpaqueHash;

    fn tiny() -> Params {
        Params::tiny()
    }

    #[test]
    fn peer_info_example_from_the_readme() {
        let bytes = from_hex("0x0001020000000007000001190666757a7a6572").unwrap();
        let msg = Message::decode_bytes(&bytes, &tiny()).unwrap();
        let expected = Message::PeerInfo(PeerInfo {
            fuzz_version: 1,
            fuzz_features: 2,
            jam_version: Version {
                major: 0,
                minor: 7,
                patch: 0,
            },
            app_version: Version {
                major: 0,
                minor: 1,
                patch: 25,
            },
            app_name: Utf8("fuzzer".into()),
        });
        assert_eq!(msg, expected);
        assert_eq!(msg.encode(), bytes);
    }

    #[test]
    fn state_root_and_error_examples_from_the_readme() {
        let bytes =
            from_hex("0x024559342d3a32a8cbc3c46399a80753abff8bf785aa9d6f623e0de045ba6701fe")
                .unwrap();
        let msg = Message::decode_bytes(&bytes, &tiny()).unwrap();
        assert!(matches!(msg, Message::StateRoot(_)));
        assert_eq!(msg.encode(), bytes);

        let text = "Chain error: block execution failure: preimages error: preimage not required";
        let msg = Message::Error(text.into());
        let enc = msg.encode();
        assert_eq!(&enc[..2], &[0xff, 0x4c]);
        assert_eq!(Message::decode_bytes(&enc, &tiny()).unwrap(), msg);
    }

    #[test]
    fn get_state_and_state_round_trip() {
        let p = tiny();
        for msg in [
            Message::GetState(OpaqueHash([7; 32])),
            Message::State(vec![KeyValue {
                key: [1; 31],
                value: vec![1, 2, 3].into(),
            }]),
            Message::State(vec![]),
        ] {
            assert_eq!(Message::decode_bytes(&msg.encode(), &p).unwrap(), msg);
        }
    }

    #[test]
    fn malformed_messages_are_rejected() {
        let p = tiny();
        for bad in [
            &[][..],
            &[6],
            &[0x80],
            &[2, 1, 2],
            &[0xff, 2, 0xc3, 0x28],
            &[4; 34],
        ] {
            assert!(Message::decode_bytes(bad, &p).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn framing() {
        let mut out = Vec::new();
        write_frame(&mut out, &[1, 2, 3]).unwrap();
        assert_eq!(out, [3, 0, 0, 0, 1, 2, 3]);
        let mut buf = Vec::new();
        read_frame(&mut &out[..], &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3]);
        assert!(matches!(
            read_frame(&mut &[][..], &mut buf),
            Err(FrameError::Closed)
        ));
        assert!(matches!(
            read_frame(&mut &[3, 0][..], &mut buf),
            Err(FrameError::Io(_))
        ));
        assert!(matches!(
            read_frame(&mut &[3, 0, 0, 0, 1][..], &mut buf),
            Err(FrameError::Io(_))
        ));
        let huge = (MAX_MESSAGE_LEN + 1).to_le_bytes();
        assert!(matches!(
            read_frame(&mut &huge[..], &mut buf),
            Err(FrameError::BadLength(_))
        ));
        assert!(matches!(
            read_frame(&mut &[0u8; 4][..], &mut buf),
            Err(FrameError::BadLength(0))
        ));
    }
}
