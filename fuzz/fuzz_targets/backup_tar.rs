#![no_main]
//! A backup archive (tar): members read from the mapped bytes and from a stream are the
//! same, with the same data, or both readers fail; never a panic or a large allocation.
use libfuzzer_sys::fuzz_target;
use influx_tsm_backup::tar::{Input, Member, Stream, TarReader};

fn read<I: Input>(mut reader: TarReader<I>) -> influx_tsm_backup::Result<Vec<(Member, Vec<u8>)>> {
    let mut out = Vec::new();
    while let Some(member) = reader.next_member()? {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        // The claimed size is not trusted: read while data comes, at most 1 MiB.
        while data.len() < 1 << 20 {
            let n = reader.read_data(&mut buf)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        out.push((member, data));
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let mapped = read(TarReader::new(data));
    let streamed = read(TarReader::new(Stream(data)));
    match (mapped, streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("slice {:?} and stream {:?} disagree", a.is_ok(), b.is_ok()),
    }
});
