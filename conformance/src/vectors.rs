//! Where the test vectors live: `JAM_TEST_VECTORS` / `JAM_PVM_VECTORS`, defaulting to
//! `../shared/...` beside the repository root.

use std::path::PathBuf;

const SOURCE_HINT: &str = "get them from the public repository davxy/jam-test-vectors \
(commit 7037a037aa08c43ae98f758ad2e737c530446a02) and the PVM vectors named in \
../shared/pvm-test-vectors/SOURCE.md, then point JAM_TEST_VECTORS / JAM_PVM_VECTORS at them";

fn resolve(var: &str, default_rel: &str) -> PathBuf {
    let dir = match std::env::var_os(var) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(default_rel),
    };
    if !dir.is_dir() {
        panic!(
            "test vectors not found at {} ({var}): {SOURCE_HINT}",
            dir.display()
        );
    }
    dir
}

/// The JAM test vectors folder (codec, erasure, shuffle, trie, stf, traces).
/// Panics with a message saying where to get them when the folder is missing.
pub fn jam_vectors_dir() -> PathBuf {
    resolve("JAM_TEST_VECTORS", "../shared/jam-test-vectors")
}

/// The PVM test vectors folder. Panics with a message when missing.
pub fn pvm_vectors_dir() -> PathBuf {
    resolve("JAM_PVM_VECTORS", "../shared/pvm-test-vectors")
}
