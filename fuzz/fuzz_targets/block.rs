#![no_main]
//! A whole block (type byte onwards): decodes to equal-length, non-empty columns or
//! fails; block_info agrees with the decoder on the count.
use libfuzzer_sys::fuzz_target;
use influx_tsm_shard::{FieldType, Limits, Values};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default()
        .max_block_values(4096)
        .max_decompressed_bytes(1 << 20);
    let mut ts = Vec::new();
    let mut values = Values::new(FieldType::Float);
    if influx_tsm_shard::block::decode_block(data, 0, &limits, &mut ts, &mut values).is_ok() {
        assert_eq!(ts.len(), values.len());
        assert!(!ts.is_empty() && ts.len() <= 4096);
        if let Ok(n) = influx_tsm_shard::block_info::count_values(data) {
            assert_eq!(n, ts.len());
        }
    }
    let _ = influx_tsm_shard::block_info::BlockInfo::read(data, 0);
});
