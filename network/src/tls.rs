//! TLS 1.3 identities, certificates, verifiers and ALPN (JAMNP-S § "Encryption and handshake", § "ALPN").
//!
//! Each node presents an X.509 certificate for its Ed25519 key whose single subject alternative
//! name is N(k) ([`alt_name`]). Both sides run the same verifier: the certificate must use
//! Ed25519 (signature and key) and carry exactly one alternative name equal to N(key); the
//! dialling side additionally requires the key it expected. Per the spec the certificate's own
//! signature is not checked (self-signing is a "should"); the TLS handshake signature is.

use crate::alt_name::alt_name;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use jam_state::types::{Ed25519Public, HeaderHash};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::sync::Arc;

/// Why a peer certificate is unacceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("malformed certificate DER")]
    Malformed,
    #[error("certificate signature algorithm is not Ed25519")]
    NotEd25519Signature,
    #[error("certificate key is not an Ed25519 key")]
    NotEd25519Key,
    #[error("certificate must have exactly one subject alternative name")]
    AltNameCount,
    #[error("alternative name {0:?} does not match the certificate key")]
    AltNameMismatch(String),
    #[error("peer key {got} is not the expected {expected}")]
    UnexpectedKey {
        expected: Ed25519Public,
        got: Ed25519Public,
    },
}

// ---------------------------------------------------------------------------------------------
// ALPN
// ---------------------------------------------------------------------------------------------

/// Protocol version `V` of the ALPN identifier.
pub const PROTOCOL_VERSION: u32 = 0;

/// `jamnp-s/0/H` (or `jamnp-s/0/H/builder`), H = first 8 hex nibbles of the genesis header hash.
pub fn alpn(genesis_hash: &HeaderHash, builder: bool) -> Vec<u8> {
    let h: String = genesis_hash.0[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut s = format!("jamnp-s/{PROTOCOL_VERSION}/{h}");
    if builder {
        s.push_str("/builder");
    }
    s.into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Our identity
// ---------------------------------------------------------------------------------------------

/// A node's TLS identity: its certificate and the PKCS#8 form of its Ed25519 key.
#[derive(Debug)]
pub struct Identity {
    pub public: Ed25519Public,
    pub cert: CertificateDer<'static>,
    key_pkcs8: Vec<u8>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            public: self.public,
            cert: self.cert.clone(),
            key_pkcs8: self.key_pkcs8.clone(),
        }
    }
}

/// PKCS#8 v1 (RFC 8410) wrapping of an Ed25519 seed.
fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut v = PREFIX.to_vec();
    v.extend_from_slice(seed);
    v
}

impl Identity {
    /// A self-signed certificate for `key` with alternative name N(public key).
    pub fn new(key: &SigningKey) -> Result<Self, rcgen::Error> {
        let public = Ed25519Public(key.verifying_key().to_bytes());
        Self::with_alt_name(key, alt_name(&public.0))
    }

    /// As [`Identity::new`] but with an arbitrary alternative name (tests of refusal).
    #[doc(hidden)]
    pub fn with_alt_name(key: &SigningKey, name: String) -> Result<Self, rcgen::Error> {
        let public = Ed25519Public(key.verifying_key().to_bytes());
        let key_pkcs8 = ed25519_pkcs8(&key.to_bytes());
        let kp = rcgen::KeyPair::try_from(&PrivatePkcs8KeyDer::from(key_pkcs8.as_slice()))?;
        let mut params = rcgen::CertificateParams::new(vec![name])?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "jamnp-s");
        let cert = params.self_signed(&kp)?;
        Ok(Identity {
            public,
            cert: cert.der().clone(),
            key_pkcs8,
        })
    }

    fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal DER reader for the fields we check
// ---------------------------------------------------------------------------------------------

/// One TLV: (tag, contents, rest). Definite lengths only, up to 4 length octets.
fn tlv(data: &[u8]) -> Result<(u8, &[u8], &[u8]), CertError> {
    let (&tag, rest) = data.split_first().ok_or(CertError::Malformed)?;
    let (&l0, mut rest) = rest.split_first().ok_or(CertError::Malformed)?;
    let len = if l0 < 0x80 {
        l0 as usize
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(CertError::Malformed);
        }
        let len = rest[..n].iter().fold(0usize, |a, b| a << 8 | *b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(CertError::Malformed);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// Expects a TLV with `tag`, returning (contents, rest).
fn expect(data: &[u8], tag: u8) -> Result<(&[u8], &[u8]), CertError> {
    match tlv(data)? {
        (t, c, r) if t == tag => Ok((c, r)),
        _ => Err(CertError::Malformed),
    }
}

const SEQ: u8 = 0x30;
/// AlgorithmIdentifier contents for id-Ed25519 (1.3.101.112, parameters absent).
const ED25519_ALG: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
/// id-ce-subjectAltName (2.5.29.17).
const SAN_OID: [u8; 3] = [0x55, 0x1d, 0x11];

/// Checks a peer certificate against the JAMNP-S rules and returns its Ed25519 key.
pub fn peer_key_from_cert(der: &[u8]) -> Result<Ed25519Public, CertError> {
    let (cert, rest) = expect(der, SEQ)?;
    if !rest.is_empty() {
        return Err(CertError::Malformed);
    }
    let (tbs, rest) = expect(cert, SEQ)?;
    let (sig_alg, rest) = expect(rest, SEQ)?;
    let (_sig, rest) = expect(rest, 0x03)?;
    if !rest.is_empty() {
        return Err(CertError::Malformed);
    }
    if sig_alg != ED25519_ALG {
        return Err(CertError::NotEd25519Signature);
    }
    // TBSCertificate
    let mut r = tbs;
    if r.first() == Some(&0xa0) {
        r = expect(r, 0xa0)?.1; // version
    }
    r = expect(r, 0x02)?.1; // serial
    let (tbs_sig_alg, r2) = expect(r, SEQ)?;
    if tbs_sig_alg != ED25519_ALG {
        return Err(CertError::NotEd25519Signature);
    }
    r = expect(r2, SEQ)?.1; // issuer
    r = expect(r, SEQ)?.1; // validity
    r = expect(r, SEQ)?.1; // subject
    let (spki, mut r) = expect(r, SEQ)?;
    let (alg, spki_rest) = expect(spki, SEQ)?;
    let (bits, spki_rest) = expect(spki_rest, 0x03)?;
    if alg != ED25519_ALG || !spki_rest.is_empty() || bits.len() != 33 || bits[0] != 0 {
        return Err(CertError::NotEd25519Key);
    }
    let key: [u8; 32] = bits[1..].try_into().expect("33 - 1 bytes");
    // issuerUniqueID [1], subjectUniqueID [2], extensions [3]
    let mut names: Option<Vec<&[u8]>> = None;
    while !r.is_empty() {
        let (tag, contents, rest) = tlv(r)?;
        r = rest;
        if tag != 0xa3 {
            continue;
        }
        let (mut exts, tail) = expect(contents, SEQ)?;
        if !tail.is_empty() {
            return Err(CertError::Malformed);
        }
        while !exts.is_empty() {
            let (ext, rest) = expect(exts, SEQ)?;
            exts = rest;
            let (oid, mut e) = expect(ext, 0x06)?;
            if e.first() == Some(&0x01) {
                e = expect(e, 0x01)?.1; // critical
            }
            let (value, tail) = expect(e, 0x04)?;
            if !tail.is_empty() {
                return Err(CertError::Malformed);
            }
            if oid != SAN_OID {
                continue;
            }
            if names.is_some() {
                return Err(CertError::AltNameCount); // two SAN extensions
            }
            let (mut gns, tail) = expect(value, SEQ)?;
            if !tail.is_empty() {
                return Err(CertError::Malformed);
            }
            let mut v = Vec::new();
            while !gns.is_empty() {
                let (tag, name, rest) = tlv(gns)?;
                gns = rest;
                // dNSName [2] IA5String; other forms cannot equal N(k).
                v.push(if tag == 0x82 { name } else { &[][..] });
            }
            names = Some(v);
        }
    }
    let names = names.unwrap_or_default();
    if names.len() != 1 {
        return Err(CertError::AltNameCount);
    }
    if names[0] != alt_name(&key).as_bytes() {
        return Err(CertError::AltNameMismatch(
            String::from_utf8_lossy(names[0]).into_owned(),
        ));
    }
    Ok(Ed25519Public(key))
}

// ---------------------------------------------------------------------------------------------
// Verifiers
// ---------------------------------------------------------------------------------------------

/// Verifier used on both sides of a connection.
#[derive(Debug)]
pub struct PeerVerifier {
    /// The key the dialling side expects; `None` when accepting.
    pub expected: Option<Ed25519Public>,
}

fn to_rustls(e: CertError) -> rustls::Error {
    rustls::Error::InvalidCertificate(match e {
        CertError::Malformed => CertificateError::BadEncoding,
        CertError::UnexpectedKey { .. } => CertificateError::NotValidForName,
        _ => CertificateError::ApplicationVerificationFailure,
    })
}

impl PeerVerifier {
    fn check(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let got = peer_key_from_cert(end_entity).map_err(to_rustls)?;
        match self.expected {
            Some(expected) if expected != got => {
                Err(to_rustls(CertError::UnexpectedKey { expected, got }))
            }
            _ => Ok(()),
        }
    }

    /// The TLS 1.3 CertificateVerify signature, with the certificate's Ed25519 key.
    fn verify_sig(
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme != SignatureScheme::ED25519 {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        let key = peer_key_from_cert(cert).map_err(to_rustls)?;
        let bad = || rustls::Error::InvalidCertificate(CertificateError::BadSignature);
        let vk = VerifyingKey::from_bytes(&key.0).map_err(|_| bad())?;
        let sig = Signature::from_slice(dss.signature()).map_err(|_| bad())?;
        vk.verify_strict(message, &sig).map_err(|_| bad())?;
        Ok(HandshakeSignatureValid::assertion())
    }
}

fn tls12_refused() -> rustls::Error {
    rustls::Error::General("JAMNP-S requires TLS 1.3".into())
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Self::verify_sig(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Self::verify_sig(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

// ---------------------------------------------------------------------------------------------
// rustls configurations
// ---------------------------------------------------------------------------------------------

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Server side: TLS 1.3, mandatory client certificates, both ALPN forms for `genesis_hash`.
pub fn server_config(
    id: &Identity,
    genesis_hash: &HeaderHash,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(PeerVerifier { expected: None }))
        .with_single_cert(vec![id.cert.clone()], id.private_key())?;
    cfg.alpn_protocols = vec![alpn(genesis_hash, false), alpn(genesis_hash, true)];
    Ok(cfg)
}

/// Client side: TLS 1.3, our certificate, the peer must present `expected`'s certificate.
pub fn client_config(
    id: &Identity,
    genesis_hash: &HeaderHash,
    builder: bool,
    expected: Ed25519Public,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerVerifier {
            expected: Some(expected),
        }))
        .with_client_auth_cert(vec![id.cert.clone()], id.private_key())?;
    cfg.alpn_protocols = vec![alpn(genesis_hash, builder)];
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    #[test]
    fn alpn_strings() {
        let mut g = HeaderHash::ZERO;
        g.0[..5].copy_from_slice(&[0xde, 0xad, 0xBE, 0xef, 0x12]);
        assert_eq!(alpn(&g, false), b"jamnp-s/0/deadbeef".to_vec());
        assert_eq!(alpn(&g, true), b"jamnp-s/0/deadbeef/builder".to_vec());
    }

    #[test]
    fn own_certificate_parses_to_own_key() {
        let k = key(7);
        let id = Identity::new(&k).unwrap();
        assert_eq!(peer_key_from_cert(&id.cert).unwrap(), id.public);
        assert_eq!(id.public.0, k.verifying_key().to_bytes());
    }

    #[test]
    fn wrong_alt_name_rejected() {
        let k = key(7);
        let other = Ed25519Public(key(8).verifying_key().to_bytes());
        let id = Identity::with_alt_name(&k, alt_name(&other.0)).unwrap();
        assert!(matches!(
            peer_key_from_cert(&id.cert),
            Err(CertError::AltNameMismatch(_))
        ));
    }

    #[test]
    fn truncated_or_garbage_rejected() {
        let id = Identity::new(&key(1)).unwrap();
        let der = id.cert.as_ref();
        for cut in [0, 1, 10, der.len() / 2, der.len() - 1] {
            assert!(peer_key_from_cert(&der[..cut]).is_err());
        }
        let mut extra = der.to_vec();
        extra.push(0);
        assert_eq!(peer_key_from_cert(&extra), Err(CertError::Malformed));
        assert!(peer_key_from_cert(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn expected_key_enforced() {
        let id = Identity::new(&key(1)).unwrap();
        let v = PeerVerifier {
            expected: Some(Ed25519Public([9; 32])),
        };
        assert!(v.check(&id.cert).is_err());
        let v = PeerVerifier {
            expected: Some(id.public),
        };
        assert!(v.check(&id.cert).is_ok());
    }
}
