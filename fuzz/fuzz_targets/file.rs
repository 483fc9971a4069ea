#![no_main]
//! A whole TSM file: parse, walk the index, fetch and decode every block (CRC on and
//! off), run verify. Nothing panics; a block of another type than its index entry says
//! is an error for verify.
use libfuzzer_sys::fuzz_target;
use influx_tsm_shard::file::TsmFile;
use influx_tsm_shard::verify::{VerifyOptions, verify_tsm};
use influx_tsm_shard::{FieldType, Limits, Values};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default()
        .max_block_values(4096)
        .max_decompressed_bytes(1 << 20);
    let report = verify_tsm(data, &VerifyOptions::default().limits(limits), &mut |_| {});
    let Ok(file) = TsmFile::parse(data) else {
        return;
    };
    let (mut ts, mut values) = (Vec::new(), Values::new(FieldType::Float));
    for entry in file.index().take(10_000) {
        let Ok(entry) = entry else { break };
        let _ = file.index_entry_at(entry.offset);
        for (verify_crc, block) in [true, false]
            .into_iter()
            .flat_map(|v| entry.blocks().map(move |b| (v, b)))
        {
            let Ok(bytes) = file.block(&block, verify_crc) else {
                continue;
            };
            if influx_tsm_shard::block::decode_block(bytes, block.offset + 4, &limits, &mut ts, &mut values)
                .is_ok()
            {
                assert!(values.field_type() == entry.field_type || report.has_errors());
                assert_eq!(ts.len(), values.len());
            }
        }
    }
});
