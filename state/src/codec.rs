//! The JAM codec (GP v0.7.2 Appendix C): fixed-width little-endian integers, the natural-number
//! encoding E (C.6), length-prefixed sequences, options, dictionaries, bit-strings and
//! sequences whose length is fixed by the chain parameters.
//!
//! * [`Encode`] writes into a `Vec<u8>`; [`Decode`] reads from a [`Reader`] that carries the
//!   [`Params`] (for sequences of V, C, E... items, encoded without a length prefix).
//! * [`decode_exact`] rejects trailing bytes.
//! * Errors are [`CodecError`]: a [`CodecErrorKind`] plus the field path where decoding
//!   failed, e.g. `header.epoch_mark.validators[3].ed25519: unexpected end of input (at byte 612)`.
//! * [`jam_codec!`](crate::jam_codec) defines a struct and derives `Encode`/`Decode` field by
//!   field; `field: u32 => compact` encodes that field with the natural-number encoding.

use crate::params::Params;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// What went wrong while decoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecErrorKind {
    #[error("unexpected end of input")]
    UnexpectedEnd,
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    #[error("invalid discriminant {value} for {ty}")]
    InvalidDiscriminant { ty: &'static str, value: u8 },
    #[error("non-canonical natural number encoding")]
    NonCanonical,
    #[error("value {value} out of range for {ty}")]
    OutOfRange { ty: &'static str, value: u64 },
    #[error("dictionary keys not strictly increasing (unsorted or duplicate)")]
    Unsorted,
    #[error("length prefix {len} exceeds the {remaining} bytes remaining")]
    LengthTooLarge { len: u64, remaining: usize },
    #[error("{0}")]
    Invalid(&'static str),
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSeg {
    Field(&'static str),
    Index(usize),
}

/// Field path of an error, outermost first when displayed (`a.b[3].c`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(Vec<PathSeg>); // stored innermost first (pushed while bubbling up)

impl FieldPath {
    /// Segments, outermost first.
    pub fn segments(&self) -> impl Iterator<Item = &PathSeg> {
        self.0.iter().rev()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<root>");
        }
        for (i, seg) in self.segments().enumerate() {
            match seg {
                PathSeg::Field(n) if i == 0 => f.write_str(n)?,
                PathSeg::Field(n) => write!(f, ".{n}")?,
                PathSeg::Index(k) => write!(f, "[{k}]")?,
            }
        }
        Ok(())
    }
}

/// A decoding failure: what, where in the value (field path) and where in the input (byte offset).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind} (at byte {offset})")]
pub struct CodecError {
    pub kind: CodecErrorKind,
    pub path: FieldPath,
    pub offset: usize,
}

impl CodecError {
    pub fn new(kind: CodecErrorKind, offset: usize) -> Self {
        CodecError {
            kind,
            path: FieldPath::default(),
            offset,
        }
    }
    /// Prefixes the path with a field name (used while the error bubbles up).
    #[cold]
    pub fn at_field(mut self, name: &'static str) -> Self {
        self.path.0.push(PathSeg::Field(name));
        self
    }
    /// Prefixes the path with a sequence index.
    #[cold]
    pub fn at_index(mut self, i: usize) -> Self {
        self.path.0.push(PathSeg::Index(i));
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// Input cursor: the bytes, the position, and the chain parameters.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    params: &'a Params,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], params: &'a Params) -> Self {
        Reader {
            data,
            pos: 0,
            params,
        }
    }
    pub fn params(&self) -> &'a Params {
        self.params
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }
    /// An error of `kind` at the current position.
    #[cold]
    pub fn error(&self, kind: CodecErrorKind) -> CodecError {
        CodecError::new(kind, self.pos)
    }
    /// The next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.remaining() < n {
            return Err(self.error(CodecErrorKind::UnexpectedEnd));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    #[inline]
    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    #[inline]
    pub fn read_u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    /// GP C.6 natural number; rejects non-canonical forms.
    pub fn read_natural(&mut self) -> Result<u64, CodecError> {
        let start = self.pos;
        let b = self.read_u8()?;
        let l = b.leading_ones() as usize;
        let v = if l == 8 {
            let v = u64::from_le_bytes(self.read_array::<8>()?);
            if v < 1 << 56 {
                return Err(CodecError::new(CodecErrorKind::NonCanonical, start));
            }
            v
        } else {
            let high = (b & (0x7f >> l)) as u64;
            let mut low = 0u64;
            for (i, byte) in self.take(l)?.iter().enumerate() {
                low |= (*byte as u64) << (8 * i);
            }
            let v = (high << (8 * l)) | low;
            if l > 0 && v < 1 << (7 * l) {
                return Err(CodecError::new(CodecErrorKind::NonCanonical, start));
            }
            v
        };
        Ok(v)
    }
    /// A length prefix for a sequence whose items each take at least `min_item_size` bytes
    /// (treated as 1 when 0); rejected before any allocation if the input cannot hold it.
    pub fn read_len(&mut self, min_item_size: usize) -> Result<usize, CodecError> {
        let start = self.pos;
        let len = self.read_natural()?;
        let remaining = self.remaining();
        let need = (len as u128) * (min_item_size.max(1) as u128);
        if need > remaining as u128 {
            return Err(CodecError::new(
                CodecErrorKind::LengthTooLarge { len, remaining },
                start,
            ));
        }
        Ok(len as usize)
    }
}

// ---------------------------------------------------------------------------------------------
// Traits and entry points
// ---------------------------------------------------------------------------------------------

/// GP Appendix C serialisation.
pub trait Encode {
    fn encode_to(&self, out: &mut Vec<u8>);
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_to(&mut v);
        v
    }
}

/// GP Appendix C deserialisation.
pub trait Decode: Sized {
    /// A lower bound on the encoded size, used to bound allocations before decoding sequences.
    const MIN_SIZE: usize = 1;
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError>;
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode_to(&self, out: &mut Vec<u8>) {
        (**self).encode_to(out)
    }
}

impl<T: Encode + ?Sized> Encode for Box<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        (**self).encode_to(out)
    }
}

impl<T: Decode> Decode for Box<T> {
    const MIN_SIZE: usize = T::MIN_SIZE;
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        T::decode(r).map(Box::new)
    }
}

/// Decodes a whole value, rejecting trailing bytes.
pub fn decode_exact<T: Decode>(bytes: &[u8], params: &Params) -> Result<T, CodecError> {
    let mut r = Reader::new(bytes, params);
    let v = T::decode(&mut r)?;
    if !r.is_empty() {
        return Err(r.error(CodecErrorKind::TrailingBytes(r.remaining())));
    }
    Ok(v)
}

/// Decodes a value from the front of `bytes`, returning it and the number of bytes consumed.
pub fn decode_prefix<T: Decode>(bytes: &[u8], params: &Params) -> Result<(T, usize), CodecError> {
    let mut r = Reader::new(bytes, params);
    let v = T::decode(&mut r)?;
    Ok((v, r.position()))
}

// ---------------------------------------------------------------------------------------------
// Natural numbers (GP C.6)
// ---------------------------------------------------------------------------------------------

/// Appends the GP C.6 encoding of `x`.
pub fn encode_natural(x: u64, out: &mut Vec<u8>) {
    if x < 0x80 {
        out.push(x as u8);
        return;
    }
    for l in 1..8usize {
        if x < 1u64 << (7 * (l + 1)) {
            out.push((0xffu16 << (8 - l)) as u8 | (x >> (8 * l)) as u8);
            out.extend_from_slice(&x.to_le_bytes()[..l]);
            return;
        }
    }
    out.push(0xff);
    out.extend_from_slice(&x.to_le_bytes());
}

/// Encoded length of `x` under GP C.6.
pub fn natural_len(x: u64) -> usize {
    if x < 0x80 {
        return 1;
    }
    for l in 1..8usize {
        if x < 1u64 << (7 * (l + 1)) {
            return l + 1;
        }
    }
    9
}

/// Decodes a GP C.6 natural, rejecting non-canonical forms.
pub fn decode_natural(r: &mut Reader<'_>) -> Result<u64, CodecError> {
    r.read_natural()
}

/// Integers that may be encoded with the natural-number encoding.
pub trait Natural: Copy {
    const TYPE_NAME: &'static str;
    fn to_u64(self) -> u64;
    fn from_u64(v: u64) -> Option<Self>;
}

macro_rules! natural_int {
    ($($t:ty),*) => {$(
        impl Natural for $t {
            const TYPE_NAME: &'static str = stringify!($t);
            fn to_u64(self) -> u64 { self as u64 }
            fn from_u64(v: u64) -> Option<Self> { <$t>::try_from(v).ok() }
        }
    )*};
}
natural_int!(u8, u16, u32, u64, usize);

/// Field mode for [`jam_codec!`](crate::jam_codec): `field: u32 => compact`.
pub mod compact {
    use super::*;
    #[inline]
    pub fn encode<T: Natural>(v: &T, out: &mut Vec<u8>) {
        encode_natural(v.to_u64(), out)
    }
    #[inline]
    pub fn decode<T: Natural>(r: &mut Reader<'_>) -> Result<T, CodecError> {
        let start = r.position();
        let v = r.read_natural()?;
        T::from_u64(v).ok_or_else(|| {
            CodecError::new(
                CodecErrorKind::OutOfRange {
                    ty: T::TYPE_NAME,
                    value: v,
                },
                start,
            )
        })
    }
    pub const MIN_SIZE: usize = 1;
}

/// An integer encoded with the natural-number encoding (for use inside sequences;
/// struct fields use `=> compact` in [`jam_codec!`](crate::jam_codec) instead).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Compact<T>(pub T);

impl<T: Natural> Encode for Compact<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        compact::encode(&self.0, out)
    }
}
impl<T: Natural> Decode for Compact<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        compact::decode(r).map(Compact)
    }
}

// ---------------------------------------------------------------------------------------------
// Primitive impls
// ---------------------------------------------------------------------------------------------

macro_rules! fixed_int {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            #[inline]
            fn encode_to(&self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_le_bytes()) }
        }
        impl Decode for $t {
            const MIN_SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
                Ok(<$t>::from_le_bytes(r.read_array()?))
            }
        }
    )*};
}
fixed_int!(u8, u16, u32, u64);

impl Encode for bool {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self as u8)
    }
}
impl Decode for bool {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        match r.read_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(CodecError::new(
                CodecErrorKind::InvalidDiscriminant { ty: "bool", value },
                start,
            )),
        }
    }
}

impl Encode for () {
    fn encode_to(&self, _: &mut Vec<u8>) {}
}
impl Decode for () {
    const MIN_SIZE: usize = 0;
    fn decode(_: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(())
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self)
    }
}
impl<const N: usize> Decode for [u8; N] {
    const MIN_SIZE: usize = N;
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        r.read_array()
    }
}

/// Option: tag 0 (none) or 1 followed by the value; other tags rejected.
impl<T: Encode> Encode for Option<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode_to(out)
            }
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        match r.read_u8()? {
            0 => Ok(None),
            1 => T::decode(r).map(Some),
            value => Err(CodecError::new(
                CodecErrorKind::InvalidDiscriminant {
                    ty: "Option",
                    value,
                },
                start,
            )),
        }
    }
}

/// Encodes items one after another, without a length prefix.
pub fn encode_items<T: Encode>(items: &[T], out: &mut Vec<u8>) {
    for it in items {
        it.encode_to(out)
    }
}

/// Decodes exactly `n` items (no prefix), adding `[i]` to the error path. The caller bounds `n`.
pub fn decode_items<T: Decode>(r: &mut Reader<'_>, n: usize) -> Result<Vec<T>, CodecError> {
    // Bound the allocation by what the input can hold.
    let cap = n.min(r.remaining() / T::MIN_SIZE.max(1));
    let mut v = Vec::with_capacity(cap);
    for i in 0..n {
        v.push(T::decode(r).map_err(|e| e.at_index(i))?);
    }
    Ok(v)
}

/// Length-prefixed sequence.
impl<T: Encode> Encode for Vec<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_natural(self.len() as u64, out);
        encode_items(self, out);
    }
}
impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let n = r.read_len(T::MIN_SIZE)?;
        decode_items(r, n)
    }
}

impl<A: Encode, B: Encode> Encode for (A, B) {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.0.encode_to(out);
        self.1.encode_to(out);
    }
}
impl<A: Decode, B: Decode> Decode for (A, B) {
    const MIN_SIZE: usize = A::MIN_SIZE + B::MIN_SIZE;
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok((A::decode(r)?, B::decode(r)?))
    }
}

/// Dictionary: length-prefixed sequence of (key, value) in increasing key order.
impl<K: Encode, V: Encode> Encode for BTreeMap<K, V> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_natural(self.len() as u64, out);
        for (k, v) in self {
            k.encode_to(out);
            v.encode_to(out);
        }
    }
}
impl<K: Decode + Ord, V: Decode> Decode for BTreeMap<K, V> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let n = r.read_len(K::MIN_SIZE + V::MIN_SIZE)?;
        let mut m = BTreeMap::new();
        for i in 0..n {
            let start = r.position();
            let k = K::decode(r).map_err(|e| e.at_index(i))?;
            if m.last_key_value().is_some_and(|(last, _)| *last >= k) {
                return Err(CodecError::new(CodecErrorKind::Unsorted, start).at_index(i));
            }
            let v = V::decode(r).map_err(|e| e.at_index(i))?;
            m.insert(k, v);
        }
        Ok(m)
    }
}

/// Set: length-prefixed sequence in increasing order.
impl<K: Encode> Encode for BTreeSet<K> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_natural(self.len() as u64, out);
        for k in self {
            k.encode_to(out);
        }
    }
}
impl<K: Decode + Ord> Decode for BTreeSet<K> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let n = r.read_len(K::MIN_SIZE)?;
        let mut s = BTreeSet::new();
        for i in 0..n {
            let start = r.position();
            let k = K::decode(r).map_err(|e| e.at_index(i))?;
            if s.last().is_some_and(|last| *last >= k) {
                return Err(CodecError::new(CodecErrorKind::Unsorted, start).at_index(i));
            }
            s.insert(k);
        }
        Ok(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Byte strings and bit strings
// ---------------------------------------------------------------------------------------------

/// Writes `bytes` as `0x`-prefixed lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("0x");
    s.push_str(&hex::encode(bytes));
    s
}

/// Parses optional-`0x` hex.
pub fn from_hex(s: &str) -> Result<Vec<u8>, hex::FromHexError> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
}

/// Serde helpers for byte strings as `0x` hex: `#[serde(with = "jam_state::codec::hex_serde")]`.
pub mod hex_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer, T: AsRef<[u8]>>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(v.as_ref()))
    }
    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<Vec<u8>>>(
        d: D,
    ) -> Result<T, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let b = super::from_hex(&s).map_err(serde::de::Error::custom)?;
        let n = b.len();
        T::try_from(b).map_err(|_| serde::de::Error::custom(format!("unexpected byte length {n}")))
    }
}

/// A length-prefixed octet string (GP "blob"), `0x` hex in JSON.
#[derive(
    Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Bytes(#[serde(with = "hex_serde")] pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}
impl std::ops::Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}
impl std::ops::DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}
impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}
impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}
impl Encode for Bytes {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_natural(self.0.len() as u64, out);
        out.extend_from_slice(&self.0);
    }
}
impl Decode for Bytes {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let n = r.read_len(1)?;
        Ok(Bytes(r.take(n)?.to_vec()))
    }
}

/// A length-prefixed bit-string (GP C.9/C.10: bit count, then octets packed least significant
/// bit first). Unused high bits of the last octet must be zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct BitString(pub Vec<bool>);

/// Packs bits into octets, least significant bit first.
pub fn pack_bits(bits: &[bool], out: &mut Vec<u8>) {
    for chunk in bits.chunks(8) {
        let mut b = 0u8;
        for (i, bit) in chunk.iter().enumerate() {
            b |= (*bit as u8) << i;
        }
        out.push(b);
    }
}

/// Unpacks `n` bits from `ceil(n/8)` octets; rejects set padding bits.
pub fn unpack_bits(r: &mut Reader<'_>, n: usize) -> Result<Vec<bool>, CodecError> {
    let start = r.position();
    let bytes = r.take(n.div_ceil(8))?;
    let bits: Vec<bool> = (0..n).map(|i| bytes[i / 8] >> (i % 8) & 1 == 1).collect();
    if !n.is_multiple_of(8) && bytes[n / 8] >> (n % 8) != 0 {
        return Err(CodecError::new(
            CodecErrorKind::Invalid("non-zero padding bits in bit-string"),
            start,
        ));
    }
    Ok(bits)
}

impl Encode for BitString {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_natural(self.0.len() as u64, out);
        pack_bits(&self.0, out);
    }
}
impl Decode for BitString {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let start = r.position();
        let n = r.read_natural()?;
        if n.div_ceil(8) > r.remaining() as u64 {
            return Err(CodecError::new(
                CodecErrorKind::LengthTooLarge {
                    len: n,
                    remaining: r.remaining(),
                },
                start,
            ));
        }
        unpack_bits(r, n as usize).map(BitString)
    }
}

// ---------------------------------------------------------------------------------------------
// Sequences whose length is fixed by the chain parameters
// ---------------------------------------------------------------------------------------------

/// A sequence length taken from the chain parameters.
pub trait FixedLen {
    fn len(p: &Params) -> usize;
}

macro_rules! fixed_len {
    ($($(#[$m:meta])* $name:ident => |$p:ident| $e:expr;)*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name;
        impl FixedLen for $name {
            fn len($p: &Params) -> usize { $e }
        }
    )*};
}

fixed_len! {
    /// V: one item per validator.
    ValidatorsLen => |p| p.validators();
    /// C: one item per core.
    CoresLen => |p| p.cores();
    /// E: one item per slot of an epoch.
    EpochLen => |p| p.epoch_len();
    /// floor(2V/3)+1: votes in a verdict.
    SuperMajorityLen => |p| p.super_majority();
    /// Q: authorizer queue length.
    AuthQueueLen => |p| p.auth_queue_size as usize;
    /// ceil(C/8): octets of an availability bitfield.
    BitfieldBytesLen => |p| p.bitfield_bytes();
}

/// A sequence of exactly `L::len(params)` items, encoded without a length prefix.
/// Derefs to `Vec<T>`; JSON is a plain array.
pub struct FixedVec<T, L>(pub Vec<T>, PhantomData<L>);

impl<T, L> FixedVec<T, L> {
    pub fn new(v: Vec<T>) -> Self {
        FixedVec(v, PhantomData)
    }
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}
impl<T: Clone, L> FixedVec<T, L> {
    /// `L::len(params)` copies of `item`.
    pub fn filled(params: &Params, item: T) -> Self
    where
        L: FixedLen,
    {
        FixedVec::new(vec![item; L::len(params)])
    }
}
impl<T: Clone, L> Clone for FixedVec<T, L> {
    fn clone(&self) -> Self {
        FixedVec::new(self.0.clone())
    }
}
impl<T: fmt::Debug, L> fmt::Debug for FixedVec<T, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl<T: PartialEq, L> PartialEq for FixedVec<T, L> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl<T: Eq, L> Eq for FixedVec<T, L> {}
impl<T: std::hash::Hash, L> std::hash::Hash for FixedVec<T, L> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h)
    }
}
impl<T, L> Default for FixedVec<T, L> {
    fn default() -> Self {
        FixedVec::new(Vec::new())
    }
}
impl<T, L> std::ops::Deref for FixedVec<T, L> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}
impl<T, L> std::ops::DerefMut for FixedVec<T, L> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}
impl<T, L> From<Vec<T>> for FixedVec<T, L> {
    fn from(v: Vec<T>) -> Self {
        FixedVec::new(v)
    }
}
impl<T, L> FromIterator<T> for FixedVec<T, L> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        FixedVec::new(it.into_iter().collect())
    }
}
impl<T, L> IntoIterator for FixedVec<T, L> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
impl<'a, T, L> IntoIterator for &'a FixedVec<T, L> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
impl<T: serde::Serialize, L> serde::Serialize for FixedVec<T, L> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
impl<'de, T: serde::Deserialize<'de>, L> serde::Deserialize<'de> for FixedVec<T, L> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(FixedVec::new)
    }
}
/// Encodes the items only (the length is implied by the parameters).
impl<T: Encode, L> Encode for FixedVec<T, L> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_items(&self.0, out)
    }
}
impl<T: Decode, L: FixedLen> Decode for FixedVec<T, L> {
    const MIN_SIZE: usize = 0;
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        // `n` comes from the parameters, and `decode_items` bounds the allocation by the input.
        decode_items(r, L::len(r.params())).map(FixedVec::new)
    }
}

/// An octet string of exactly `L::len(params)` bytes (e.g. the availability bitfield), `0x` hex in JSON.
pub struct FixedBytes<L>(pub Vec<u8>, PhantomData<L>);

impl<L> FixedBytes<L> {
    pub fn new(v: Vec<u8>) -> Self {
        FixedBytes(v, PhantomData)
    }
    /// Bit `i`, least significant bit of each octet first (GP bit-string order).
    pub fn bit(&self, i: usize) -> bool {
        self.0.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1)
    }
    /// Sets bit `i` (grows nothing: out-of-range indices are ignored).
    pub fn set_bit(&mut self, i: usize, v: bool) {
        if let Some(b) = self.0.get_mut(i / 8) {
            if v {
                *b |= 1 << (i % 8)
            } else {
                *b &= !(1 << (i % 8))
            }
        }
    }
    /// All-zero value of the parameterised length.
    pub fn zeroed(params: &Params) -> Self
    where
        L: FixedLen,
    {
        FixedBytes::new(vec![0; L::len(params)])
    }
}
impl<L> Clone for FixedBytes<L> {
    fn clone(&self) -> Self {
        FixedBytes::new(self.0.clone())
    }
}
impl<L> fmt::Debug for FixedBytes<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}
impl<L> PartialEq for FixedBytes<L> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl<L> Eq for FixedBytes<L> {}
impl<L> std::hash::Hash for FixedBytes<L> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h)
    }
}
impl<L> Default for FixedBytes<L> {
    fn default() -> Self {
        FixedBytes::new(Vec::new())
    }
}
impl<L> std::ops::Deref for FixedBytes<L> {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}
impl<L> std::ops::DerefMut for FixedBytes<L> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}
impl<L> AsRef<[u8]> for FixedBytes<L> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
impl<L> From<Vec<u8>> for FixedBytes<L> {
    fn from(v: Vec<u8>) -> Self {
        FixedBytes::new(v)
    }
}
impl<L> serde::Serialize for FixedBytes<L> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        hex_serde::serialize(&self.0, s)
    }
}
impl<'de, L> serde::Deserialize<'de> for FixedBytes<L> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        hex_serde::deserialize::<D, Vec<u8>>(d).map(FixedBytes::new)
    }
}
impl<L> Encode for FixedBytes<L> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0)
    }
}
impl<L: FixedLen> Decode for FixedBytes<L> {
    const MIN_SIZE: usize = 0;
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let n = L::len(r.params());
        Ok(FixedBytes::new(r.take(n)?.to_vec()))
    }
}

// ---------------------------------------------------------------------------------------------
// Struct derive
// ---------------------------------------------------------------------------------------------

/// Defines a struct and implements [`Encode`]/[`Decode`] for it, field by field in declaration
/// order, adding the field name to decoding errors. A field written `name: Ty => compact` is
/// encoded with the natural-number encoding (any `codec::$mode` module with
/// `encode`/`decode`/`MIN_SIZE` works).
///
/// ```ignore
/// jam_codec! {
///     #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
///     pub struct RefineLoad {
///         pub gas_used: Gas => compact,
///         pub imports: u16 => compact,
///     }
/// }
/// ```
#[macro_export]
macro_rules! jam_codec {
    (
        $(#[$m:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fm:meta])* $fvis:vis $f:ident : $ty:ty $(=> $mode:ident)? ),* $(,)?
        }
    ) => {
        $(#[$m])*
        $vis struct $name {
            $( $(#[$fm])* $fvis $f : $ty, )*
        }
        impl $crate::codec::Encode for $name {
            #[inline]
            fn encode_to(&self, out: &mut ::std::vec::Vec<u8>) {
                $( $crate::jam_codec!(@enc [$($mode)?] &self.$f, out); )*
            }
        }
        impl $crate::codec::Decode for $name {
            const MIN_SIZE: usize = 0 $( + $crate::jam_codec!(@min [$($mode)?] $ty) )*;
            fn decode(r: &mut $crate::codec::Reader<'_>) -> ::std::result::Result<Self, $crate::codec::CodecError> {
                Ok(Self {
                    $( $f: $crate::jam_codec!(@dec [$($mode)?] $ty, r)
                        .map_err(|e| e.at_field(stringify!($f)))?, )*
                })
            }
        }
    };
    (@enc [] $v:expr, $out:ident) => { $crate::codec::Encode::encode_to($v, $out) };
    (@enc [$mode:ident] $v:expr, $out:ident) => { $crate::codec::$mode::encode($v, $out) };
    (@dec [] $ty:ty, $r:ident) => { <$ty as $crate::codec::Decode>::decode($r) };
    (@dec [$mode:ident] $ty:ty, $r:ident) => { $crate::codec::$mode::decode::<$ty>($r) };
    (@min [] $ty:ty) => { <$ty as $crate::codec::Decode>::MIN_SIZE };
    (@min [$mode:ident] $ty:ty) => { $crate::codec::$mode::MIN_SIZE };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Params {
        Params::tiny()
    }

    fn nat(bytes: &[u8]) -> Result<u64, CodecError> {
        let p = tiny();
        let mut r = Reader::new(bytes, &p);
        let v = r.read_natural()?;
        if !r.is_empty() {
            return Err(r.error(CodecErrorKind::TrailingBytes(r.remaining())));
        }
        Ok(v)
    }

    #[test]
    fn natural_round_trip_at_every_boundary() {
        let mut values = vec![0u64, 1, u64::MAX, u64::MAX - 1];
        for l in 1..=9u32 {
            let b = 7 * l;
            if b < 64 {
                values.extend([(1u64 << b) - 1, 1u64 << b, (1u64 << b) + 1]);
            }
        }
        for k in 0..64 {
            values.push(1u64 << k);
        }
        for x in values {
            let mut out = Vec::new();
            encode_natural(x, &mut out);
            assert_eq!(out.len(), natural_len(x), "length of {x}");
            // Lengths step exactly at 2^(7l): l+1 bytes for x < 2^(7(l+1)), l < 8; else 9.
            let expect_len = (0..8u32)
                .find(|l| x < 1u64 << (7 * (l + 1)))
                .map_or(9, |l| l as usize + 1);
            assert_eq!(out.len(), expect_len, "encoded length of {x}");
            assert_eq!(nat(&out).unwrap(), x, "round trip of {x}");
        }
    }

    #[test]
    fn natural_rejects_non_canonical() {
        // Every value encodable in l bytes, re-encoded in more bytes, must be rejected.
        for x in [0u64, 1, 127, 128, 16383, 16384, (1 << 56) - 1] {
            let short = natural_len(x);
            for l in short..8usize {
                // Force the l-byte prefix form (l >= 1 continuation bytes).
                if l == 0 || x >= 1u64 << (8 * l + 7 - l) {
                    continue;
                }
                let mut out = vec![(0xffu16 << (8 - l)) as u8 | (x >> (8 * l)) as u8];
                out.extend_from_slice(&x.to_le_bytes()[..l]);
                assert_eq!(
                    nat(&out).unwrap_err().kind,
                    CodecErrorKind::NonCanonical,
                    "{x} in {l}+1 bytes"
                );
            }
            if x < 1 << 56 {
                let mut out = vec![0xff];
                out.extend_from_slice(&x.to_le_bytes());
                assert_eq!(nat(&out).unwrap_err().kind, CodecErrorKind::NonCanonical);
            }
        }
    }

    #[test]
    fn compact_out_of_range() {
        let p = tiny();
        let mut out = Vec::new();
        encode_natural(70_000, &mut out);
        let mut r = Reader::new(&out, &p);
        let e = compact::decode::<u16>(&mut r).unwrap_err();
        assert!(matches!(
            e.kind,
            CodecErrorKind::OutOfRange {
                ty: "u16",
                value: 70_000
            }
        ));
    }

    #[test]
    fn truncated_input() {
        let p = tiny();
        assert_eq!(
            decode_exact::<u32>(&[1, 2, 3], &p).unwrap_err().kind,
            CodecErrorKind::UnexpectedEnd
        );
        assert_eq!(
            nat(&[0x80]).unwrap_err().kind,
            CodecErrorKind::UnexpectedEnd
        );
        assert_eq!(nat(&[]).unwrap_err().kind, CodecErrorKind::UnexpectedEnd);
        let e = decode_exact::<Bytes>(&[3, 1, 2], &p).unwrap_err();
        assert!(matches!(
            e.kind,
            CodecErrorKind::LengthTooLarge {
                len: 3,
                remaining: 2
            }
        ));
    }

    #[test]
    fn huge_length_rejected_before_allocating() {
        let p = tiny();
        let mut b = vec![0xff];
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        let e = decode_exact::<Vec<u64>>(&b, &p).unwrap_err();
        assert!(matches!(e.kind, CodecErrorKind::LengthTooLarge { .. }));
        // 5 u32 items need 20 bytes.
        let e = decode_exact::<Vec<u32>>(&[5, 0, 0, 0, 0, 0, 0, 0, 0], &p).unwrap_err();
        assert!(matches!(
            e.kind,
            CodecErrorKind::LengthTooLarge {
                len: 5,
                remaining: 8
            }
        ));
    }

    #[test]
    fn trailing_bytes() {
        let p = tiny();
        let e = decode_exact::<u16>(&[1, 0, 9], &p).unwrap_err();
        assert_eq!(e.kind, CodecErrorKind::TrailingBytes(1));
        assert_eq!(e.offset, 2);
    }

    #[test]
    fn option_and_bool_tags() {
        let p = tiny();
        assert_eq!(decode_exact::<Option<u8>>(&[0], &p).unwrap(), None);
        assert_eq!(decode_exact::<Option<u8>>(&[1, 7], &p).unwrap(), Some(7));
        let e = decode_exact::<Option<u8>>(&[2, 7], &p).unwrap_err();
        assert!(matches!(
            e.kind,
            CodecErrorKind::InvalidDiscriminant { value: 2, .. }
        ));
        assert!(decode_exact::<bool>(&[2], &p).is_err());
        assert!(decode_exact::<bool>(&[1], &p).unwrap());
    }

    #[test]
    fn dictionary_sorted_and_unique() {
        let p = tiny();
        let m: BTreeMap<u8, u8> = [(1, 10), (2, 20)].into_iter().collect();
        let b = m.encode();
        assert_eq!(b, vec![2, 1, 10, 2, 20]);
        assert_eq!(decode_exact::<BTreeMap<u8, u8>>(&b, &p).unwrap(), m);
        let e = decode_exact::<BTreeMap<u8, u8>>(&[2, 2, 20, 1, 10], &p).unwrap_err();
        assert_eq!(e.kind, CodecErrorKind::Unsorted);
        let e = decode_exact::<BTreeMap<u8, u8>>(&[2, 1, 20, 1, 10], &p).unwrap_err();
        assert_eq!(e.kind, CodecErrorKind::Unsorted);
        assert_eq!(e.path.to_string(), "[1]");
    }

    #[test]
    fn bit_strings() {
        let p = tiny();
        let bits = BitString(vec![
            true, false, true, true, false, false, false, false, true,
        ]);
        let b = bits.encode();
        assert_eq!(b, vec![9, 0b0000_1101, 1]);
        assert_eq!(decode_exact::<BitString>(&b, &p).unwrap(), bits);
        assert!(decode_exact::<BitString>(&[9, 0, 2], &p).is_err());
    }

    jam_codec! {
        #[derive(Debug, PartialEq)]
        struct Inner { a: u16, b: u32 => compact }
    }
    jam_codec! {
        #[derive(Debug, PartialEq)]
        struct Outer { x: u8, items: Vec<Inner>, fixed: FixedVec<u8, CoresLen> }
    }

    #[test]
    fn macro_struct_and_error_path() {
        let p = tiny();
        let v = Outer {
            x: 1,
            items: vec![Inner { a: 2, b: 300 }],
            fixed: vec![7, 8].into(),
        };
        let b = v.encode();
        assert_eq!(b, vec![1, 1, 2, 0, 0x81, 0x2c, 7, 8]);
        assert_eq!(decode_exact::<Outer>(&b, &p).unwrap(), v);
        let e = decode_exact::<Outer>(&b[..5], &p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "items[0].b: unexpected end of input (at byte 5)"
        );
        assert_eq!(e.path.to_string(), "items[0].b");
    }
}
