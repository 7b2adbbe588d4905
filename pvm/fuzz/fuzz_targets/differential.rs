//! `differential`: jam-pvm vs PolkaVM 0.37's interpreter on generated programs.
//!
//! ```text
//! cd pvm/fuzz
//! cargo install cargo-fuzz            # once; 0.13.x works on the stable toolchain with:
//! python3 seed_corpus.py              # optional: PVM vector programs + bench kernels as seeds
//! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none differential -- -max_total_time=300
//! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none differential artifacts/differential/crash-<id>  # replay
//! # no libFuzzer (plain seeded loop): cargo run --release --example soak -- differential 300 [seed]
//! ```
//! `-s none` drops AddressSanitizer (about 10x faster; the code under test is safe Rust
//! apart from pvm/src/memory.rs, which a run with the default `-s address` also covers).
//! The input drives `jam_pvm_fuzz::gen::case` (1 in 8 inputs: the raw bytes are the GP code
//! blob; otherwise a structured program with bitmask, jump table, hostile operands, ≤ 10 000
//! gas, mapped RO/RW pages, input registers). Both machines must agree on exit reason, pc,
//! registers, gas and memory up to the conventions documented in `src/lib.rs`; a
//! divergence panics with the program hex, set-up, disassembly and both results.
//! Progress lines `jam-pvm-fuzz stats: …` (at 2^14, 2^15, … cases) count how many cases
//! were actually compared with PolkaVM and how they ended.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jam_pvm_fuzz::differential(data));
