//! The 196 consensus-critical Ed25519 vectors (`shared/crypto/ed25519/vectors.json`): every
//! combination of small-order `A` and `R` (canonical and non-canonical encodings) with `s = 0`.
//! Under ZIP-215 (which the GP's Ed25519 verification follows) all of them are valid: the points
//! decode, `s` is canonical and the cofactored equation `[8][s]B = [8]R + [8][k]A` holds.

use jam_consensus::crypto::ed25519_verify;
use serde_json::Value;
use std::path::PathBuf;

fn vectors_file() -> PathBuf {
    let dir = match std::env::var_os("JAM_CRYPTO_VECTORS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/crypto"),
    };
    let file = dir.join("ed25519/vectors.json");
    assert!(
        file.is_file(),
        "ed25519 vectors not found at {} (JAM_CRYPTO_VECTORS): they come from the public \
         repository davxy/jam-conformance, folder crypto/ed25519",
        file.display()
    );
    file
}

fn hex_array<const N: usize>(v: &Value, field: &str) -> [u8; N] {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} missing"));
    let bytes = hex::decode(s.trim_start_matches("0x")).expect("hex");
    bytes
        .try_into()
        .unwrap_or_else(|_| panic!("field {field}: expected {N} bytes"))
}

#[test]
fn ed25519_zip215_vectors() {
    let text = std::fs::read_to_string(vectors_file()).expect("read vectors");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("parse vectors");
    assert_eq!(cases.len(), 196, "vector count");
    let mut failures = Vec::new();
    let (mut canon, mut non_canon) = (0, 0);
    for case in &cases {
        let pk: [u8; 32] = hex_array(case, "pk");
        let r: [u8; 32] = hex_array(case, "r");
        let s: [u8; 32] = hex_array(case, "s");
        let msg = hex::decode(case["msg"].as_str().expect("msg")).expect("hex");
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r);
        sig[32..].copy_from_slice(&s);
        let both_canonical = case["pk_canonical"].as_bool() == Some(true)
            && case["r_canonical"].as_bool() == Some(true);
        if both_canonical {
            canon += 1;
        } else {
            non_canon += 1;
        }
        if !ed25519_verify(&pk, &msg, &sig) {
            failures.push(format!("#{} {}", case["number"], case["desc"]));
        }
    }
    println!(
        "ed25519: {} cases ({canon} canonical, {non_canon} non-canonical encodings)",
        cases.len()
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} ed25519 vectors rejected",
        failures.len(),
        cases.len()
    );
}

#[test]
fn ed25519_tampered_vectors_rejected() {
    // The same vectors with s = 1 instead of 0: [8][1]B is not the identity, so every one
    // must fail (guards against a verifier that accepts everything).
    let text = std::fs::read_to_string(vectors_file()).expect("read vectors");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("parse vectors");
    for case in &cases {
        let pk: [u8; 32] = hex_array(case, "pk");
        let r: [u8; 32] = hex_array(case, "r");
        let msg = hex::decode(case["msg"].as_str().expect("msg")).expect("hex");
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r);
        sig[32] = 1;
        assert!(
            !ed25519_verify(&pk, &msg, &sig),
            "tampered #{} accepted",
            case["number"]
        );
    }
}
