//! The log as a replication stream: sequence numbers follow the order of
//! the log files and of the records in them, with no gap, so "acknowledged
//! up to sequence S" is one position in the log (the flusher acknowledges
//! writes strictly in log order).

use super::super::SyncMode;
use super::super::record::{HEADER_LEN, decode_header};
use super::{Store, data_files, options, run, temp_dir, value_for};

#[test]
fn sequence_numbers_follow_file_and_offset_order_without_gaps() {
    let dir = temp_dir();
    // Small files: the writes roll over to new files many times.
    let opts = options(dir.path(), 16 << 10, SyncMode::Always);
    let (sender, receiver) = std::sync::mpsc::channel();
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        let mut writes = 0u64;
        for round in 0..40u64 {
            // Several appends per group commit, then wait for all of them.
            let mut tickets = Vec::new();
            for i in 0..10u64 {
                let key = format!("key{}", (round * 10 + i) % 53);
                let value = value_for(round * 10 + i, ((round * 131 + i * 17) % 900) as usize);
                tickets.push(store.put(key.as_bytes(), &value, 0).unwrap());
                writes += 1;
            }
            if round % 7 == 3
                && let Some(ticket) = store.delete(b"key3", 0).unwrap()
            {
                tickets.push(ticket);
                writes += 1;
            }
            for ticket in tickets {
                store.wait_durable(ticket).await.unwrap();
            }
        }
        store.close().await.unwrap();
        sender.send(writes).unwrap();
    });
    let writes = receiver.recv().unwrap();
    let files = data_files(dir.path());
    assert!(
        files.len() > 5,
        "expected rollovers, got {} files",
        files.len()
    );
    let mut seqs = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let mut offset = 0usize;
        while offset + HEADER_LEN <= bytes.len()
            && bytes[offset..offset + HEADER_LEN].iter().any(|&b| b != 0)
        {
            let header = decode_header(&bytes[offset..], (bytes.len() - offset) as u64).unwrap();
            seqs.push(header.seq);
            offset += header.record_len() as usize;
        }
    }
    assert_eq!(seqs.len() as u64, writes);
    let expected: Vec<u64> = (seqs[0]..seqs[0] + writes).collect();
    assert_eq!(
        seqs, expected,
        "sequence numbers out of log order or with gaps"
    );
}
