//! Plain (no libFuzzer) driver: a seeded random loop over the fuzz entry points.
//!
//! ```text
//! cargo run --release --example soak -- differential 300 [seed]   # seconds, optional u64 seed
//! cargo run --release --example soak -- run_blob 300 [seed]
//! cargo run --release --example soak -- replay differential <file>...
//! ```
//! A failing input is written to `artifacts/soak/<target>-<seed>-<n>` before the panic
//! report is printed; replay it with `replay` or with `cargo fuzz run <target> <file>`.

use std::time::{Duration, Instant};

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn target(name: &str) -> fn(&[u8]) {
    match name {
        "differential" => jam_pvm_fuzz::differential,
        "run_blob" => jam_pvm_fuzz::run_blob,
        _ => panic!("unknown target {name} (differential | run_blob)"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("replay") {
        let f = target(&args[1]);
        for path in &args[2..] {
            let data = std::fs::read(path).expect("read input");
            f(&data);
            println!("{path}: ok");
        }
        println!("{}", jam_pvm_fuzz::STATS.summary());
        return;
    }
    let name = args.first().cloned().unwrap_or_else(|| "differential".into());
    let f = target(&name);
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = seed;
    let start = Instant::now();
    let mut n: u64 = 0;
    let mut buf = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        for _ in 0..256 {
            let len = (splitmix(&mut rng) % 600) as usize;
            buf.clear();
            while buf.len() < len {
                buf.extend_from_slice(&splitmix(&mut rng).to_le_bytes());
            }
            buf.truncate(len);
            if name == "run_blob" && n % 2 == 0 && len > 4 {
                // Half the run_blob inputs get a well-formed header so decoding goes deeper.
                let code_len = (len / 2) as u64;
                let jt = (buf[0] % 4) as usize;
                let z = 1 + buf[1] % 4;
                let mut blob = Vec::new();
                blob.push(jt as u8);
                blob.push(z);
                jam_pvm_fuzz::gen::encode_natural(&mut blob, code_len);
                blob.extend((0..jt * z as usize).map(|i| buf[i % len]));
                blob.extend(buf.iter().take(code_len as usize));
                blob.resize(blob.len() + (code_len as usize).div_ceil(8), 0);
                let m = blob.len() - (code_len as usize).div_ceil(8);
                for i in 0..code_len as usize {
                    if buf[i % len] & 3 == 0 || i == 0 {
                        blob[m + i / 8] |= 1 << (i % 8);
                    }
                }
                buf = blob;
            }
            if name == "run_blob" && n % 2 == 0 && len > 4 && n < 1000 {
                assert!(jam_pvm::Program::from_code_blob(&buf).is_ok(), "soak header builder");
            }
            let input = buf.clone();
            let r = std::panic::catch_unwind(|| f(&input));
            if let Err(e) = r {
                let dir = std::path::Path::new("artifacts/soak");
                std::fs::create_dir_all(dir).ok();
                let path = dir.join(format!("{name}-{seed}-{n}"));
                std::fs::write(&path, &input).ok();
                eprintln!("FAILED after {n} inputs; input saved to {}", path.display());
                std::panic::resume_unwind(e);
            }
            n += 1;
        }
    }
    println!("{name}: {n} inputs in {:.1}s, no failure (seed {seed})", start.elapsed().as_secs_f64());
    if name == "differential" {
        println!("{}", jam_pvm_fuzz::STATS.summary());
    }
}
