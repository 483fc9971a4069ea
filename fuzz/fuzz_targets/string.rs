#![no_main]
//! `decode_strings` over arbitrary bytes: never panics, respects both caps.
use libfuzzer_sys::fuzz_target;
use influx_tsm_shard::Strings;

const MAX_VALUES: usize = 4096;
const MAX_BYTES: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut dst = Strings::new();
    if influx_tsm_shard::encoding::decode_strings(data, MAX_VALUES, MAX_BYTES, &mut dst).is_ok() {
        assert!(dst.len() <= MAX_VALUES);
        assert!(dst.byte_len() <= MAX_BYTES);
        assert_eq!(dst.iter().count(), dst.len());
    }
});
