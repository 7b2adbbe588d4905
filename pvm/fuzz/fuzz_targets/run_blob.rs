//! `run_blob`: arbitrary bytes → `Program::from_code_blob` → if it decodes, run with
//! 100 000 gas on a fixed memory (RO/RW pages, ra = halt); must never panic or hang.
//!
//! ```text
//! cd pvm/fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none run_blob -- -max_total_time=300
//! RUSTC_BOOTSTRAP=1 cargo fuzz run run_blob -- -max_total_time=300   # with AddressSanitizer
//! # no libFuzzer (plain seeded loop): cargo run --release --example soak -- run_blob 300 [seed]
//! ```
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jam_pvm_fuzz::run_blob(data));
