#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jam_pvm_fuzz::differential(data));
