//! How to run it (only a stable toolchain is installed, so RUSTC_BOOTSTRAP enables sanitizer flags):
//!   cargo install cargo-fuzz
//!   cd state/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build decode_block
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run decode_block -- -max_total_time=60
//!   Seed corpus: cp ../../../shared/jam-test-vectors/codec/*/{block,header_*}.bin corpus/decode_block/
//!
//! Fuzz target for the GP v0.7.2 Appendix C decoder: `Block` and `Header` under the tiny and full
//! parameters. Decoding must never panic, and whatever decodes must re-encode to the same bytes.
#![no_main]

use jam_state::codec::{decode_exact, Decode, Encode};
use jam_state::params::Params;
use jam_state::types::{Block, Header};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn params() -> &'static [Params; 2] {
    static P: OnceLock<[Params; 2]> = OnceLock::new();
    P.get_or_init(|| [Params::tiny(), Params::full()])
}

fn round_trip<T: Decode + Encode>(data: &[u8], p: &Params) {
    if let Ok(v) = decode_exact::<T>(data, p) {
        assert_eq!(v.encode(), data, "re-encoding differs ({} params)", p.name);
    }
}

fuzz_target!(|data: &[u8]| {
    for p in params() {
        round_trip::<Block>(data, p);
        round_trip::<Header>(data, p);
    }
});
