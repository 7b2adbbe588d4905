//! Native Rust references of the kernels (same algorithms and parameters as the `.asm`).
//! Callers pass the parameters through `std::hint::black_box` (see [`run`]).

use std::hint::black_box;

/// Parameters of the kernels, as in the `.asm` sources.
pub mod params {
    /// alu: iterations.
    pub const ALU_N: u64 = 10_000_000;
    /// sieve: flag bytes.
    pub const SIEVE_M: usize = 1 << 20;
    /// sieve: repetitions.
    pub const SIEVE_R: u32 = 16;
    /// hash: buffer bytes.
    pub const HASH_B: usize = 65_536;
    /// hash: passes.
    pub const HASH_R: u32 = 512;
    /// fib: argument.
    pub const FIB_N: u64 = 34;
}

/// alu: `x = i ^ acc; x ^= x << 13; x ^= x >> 7; x ^= x << 17; x *= K; acc += x` for i in 0..n.
pub fn alu(n: u64) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut acc: u64 = 0;
    let mut i: u64 = 0;
    while i < n {
        let mut x = i ^ acc;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc = acc.wrapping_add(x.wrapping_mul(K));
        i += 1;
    }
    acc
}

/// sieve: Eratosthenes over `m` flag bytes, repeated `reps` times (re-filling each time);
/// returns the number of primes below `m` from the last repetition (0 if `reps` is 0).
pub fn sieve(m: usize, reps: u32) -> u64 {
    let mut flags = vec![0u8; m];
    let mut count = 0u64;
    for _ in 0..reps {
        // Keep the repetitions from being merged.
        let flags = black_box(&mut flags[..]);
        flags.fill(1);
        let mut i = 2usize;
        while i * i < m {
            if flags[i] != 0 {
                let mut j = i * i;
                while j < m {
                    flags[j] = 0;
                    j += i;
                }
            }
            i += 1;
        }
        count = flags
            .get(2..)
            .unwrap_or(&[])
            .iter()
            .map(|&b| u64::from(b))
            .sum();
    }
    count
}

/// hash: FNV-1a-64 over `buf[i] = (7 + 31·i) mod 256` (`len` bytes), `reps` passes, state
/// carried across passes.
pub fn hash(len: usize, reps: u32) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let buf: Vec<u8> = (0..len).map(|i| (7 + 31 * i) as u8).collect();
    let mut h = OFFSET;
    for _ in 0..reps {
        for &b in black_box(&buf[..]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// fib: naive recursion.
pub fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

/// Runs the native reference of kernel `name` with its `.asm` parameters (through
/// `black_box`). `None` for an unknown name.
pub fn run(name: &str) -> Option<u64> {
    use params::*;
    let a0 = match name {
        "alu" => alu(black_box(ALU_N)),
        "sieve" => sieve(black_box(SIEVE_M), black_box(SIEVE_R)),
        "hash" => hash(black_box(HASH_B), black_box(HASH_R)),
        "fib" => fib(black_box(FIB_N)),
        _ => return None,
    };
    Some(black_box(a0))
}

#[cfg(test)]
mod tests {
    use super::params::*;
    use super::*;
    use crate::kernels::{spec, KERNELS};

    fn expected(name: &str) -> u64 {
        spec(name).expect("known kernel").expected_a0
    }

    #[test]
    fn alu_matches_expected() {
        assert_eq!(alu(ALU_N), expected("alu"));
    }

    #[test]
    fn sieve_matches_expected() {
        // Every repetition computes the same count; one is enough here.
        assert_eq!(sieve(SIEVE_M, 1), expected("sieve"));
        assert_eq!(sieve(100, 2), 25);
    }

    #[test]
    fn hash_matches_expected() {
        assert_eq!(hash(HASH_B, HASH_R), expected("hash"));
        assert_eq!(hash(0, 1), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn fib_matches_expected() {
        assert_eq!(fib(FIB_N), expected("fib"));
        assert_eq!(
            (0..8).map(fib).collect::<Vec<_>>(),
            [0, 1, 1, 2, 3, 5, 8, 13]
        );
    }

    #[test]
    fn every_kernel_has_a_reference() {
        for k in &KERNELS {
            assert!(crate::vm::NativeVm::new(k.name).is_ok(), "{}", k.name);
        }
        assert_eq!(run("nope"), None);
    }
}
