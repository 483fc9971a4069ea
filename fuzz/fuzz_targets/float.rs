#![no_main]
//! `decode_floats` over arbitrary bytes: never panics, never appends more than the cap.
use libfuzzer_sys::fuzz_target;

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let mut dst = Vec::new();
    let _ = influx_tsm_shard::encoding::decode_floats(data, MAX, &mut dst);
    assert!(dst.len() <= MAX);
});
