//! Services built from the repository's own assembly sources (GP 9.4 service code blobs).

use super::{assemble, Assembly};

/// The source of the demo "counter / key-value" service: `services/demo.s`.
pub const DEMO_SOURCE: &str = include_str!("../../../services/demo.s");

/// The demo service, assembled.
pub fn demo_assembly() -> Assembly {
    assemble(DEMO_SOURCE).expect("services/demo.s assembles (checked by the tests)")
}

/// The demo service's code blob `E(↕m, c)` (GP 9.4): the preimage of its code hash, as a
/// genesis state or a `provide` would hold it.
pub fn demo_service_code() -> Vec<u8> {
    demo_assembly().service_blob()
}

/// The source of the dev-chain authorizer (authorizes any package): `services/authorizer.s`.
pub const AUTHORIZER_SOURCE: &str = include_str!("../../../services/authorizer.s");

/// The dev authorizer, assembled.
pub fn authorizer_assembly() -> Assembly {
    assemble(AUTHORIZER_SOURCE).expect("services/authorizer.s assembles (checked by the tests)")
}

/// The dev authorizer's code blob `E(↕m, c)` (GP 9.4): the preimage of its code hash `p_u`.
pub fn authorizer_code() -> Vec<u8> {
    authorizer_assembly().service_blob()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{invoke, InvocationFailure, NoHostCalls};

    /// E(x) of GP C.1.
    fn nat(x: u64, out: &mut Vec<u8>) {
        super::super::encode_natural(x, out);
    }

    /// Refine's arguments `E(c, i, w_s, ↕w_y, H(p))` (GP B.3).
    fn refine_args(service: u64, payload: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        nat(1, &mut a);
        nat(0, &mut a);
        nat(service, &mut a);
        nat(payload.len() as u64, &mut a);
        a.extend_from_slice(payload);
        a.extend_from_slice(&[0xab; 32]);
        a
    }

    fn refine(payload: &[u8]) -> Result<Vec<u8>, InvocationFailure> {
        let a = demo_assembly();
        invoke(
            &a.standard_blob(),
            0,
            10_000,
            &refine_args(0x1234_5678, payload),
            &mut NoHostCalls,
        )
        .result
    }

    #[test]
    fn demo_layout_follows_the_entry_points() {
        let a = demo_assembly();
        assert_eq!(a.opcode_at(0), Some(crate::Opcode::jump));
        assert_eq!(a.opcode_at(5), Some(crate::Opcode::jump));
        let p = a.program().unwrap();
        assert!(p.is_basic_block_start(5));
        assert_eq!(
            p.instruction_at(0).target,
            Some(a.symbol("refine").unwrap() as i64)
        );
        assert_eq!(
            p.instruction_at(5).target,
            Some(a.symbol("accumulate").unwrap() as i64)
        );
        let blob = demo_service_code();
        assert_eq!(blob[0] as usize, a.metadata.len());
        assert!(crate::StandardProgram::new(&blob[1 + a.metadata.len()..]).is_ok());
    }

    #[test]
    fn demo_refine_transforms_valid_payloads() {
        let payload = b"J\x03keyvalue";
        let sum: u32 = payload[1..].iter().map(|&b| b as u32).sum();
        let mut want = payload[1..].to_vec();
        want.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(refine(payload), Ok(want));
        // Longest payload and key; empty value.
        let mut p = vec![b'J', 32];
        p.extend((0..62).map(|i| i as u8));
        assert_eq!(refine(&p).unwrap().len(), 63 + 4);
        let out = refine(b"J\x01k").unwrap();
        assert_eq!(out, [1, b'k', 1 + b'k', 0, 0, 0]);
    }

    #[test]
    fn demo_refine_gas_is_linear_in_the_payload() {
        let blob = demo_assembly().standard_blob();
        for len in [3usize, 10, 64] {
            let mut p = vec![b'J', 1];
            p.resize(len, 3);
            let r = invoke(&blob, 0, 10_000, &refine_args(7, &p), &mut NoHostCalls);
            assert!(r.result.is_ok());
            assert_eq!(r.gas_used, 111 + 6 * len as u64);
        }
    }

    #[test]
    fn demo_refine_panics_on_invalid_payloads() {
        let mut long = vec![b'J', 1];
        long.resize(65, 7);
        let mut long_key = vec![b'J', 33];
        long_key.resize(40, 7);
        for bad in [
            &b""[..],
            b"J",
            b"X\x01kv",
            b"J\x00v",
            b"J\x05abc",
            &long,
            &long_key,
        ] {
            assert_eq!(refine(bad), Err(InvocationFailure::Panic), "{bad:?}");
        }
    }

    #[test]
    fn authorizer_authorizes_any_core() {
        let blob = authorizer_assembly().standard_blob();
        for core in [0u16, 1, 341] {
            let r = invoke(&blob, 0, 1_000, &core.to_le_bytes(), &mut NoHostCalls);
            assert_eq!(r.result, Ok(core.to_le_bytes().to_vec()));
        }
        let code = authorizer_code();
        assert_eq!(code[0] as usize, authorizer_assembly().metadata.len());
    }
}
