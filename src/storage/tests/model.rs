//! A model-based property test: random put/delete/flush-all/reopen sequences
//! against a `HashMap`.

use std::collections::HashMap;

use proptest::prelude::*;

use super::super::{Store, SyncMode};
use super::{options, reopen, run, temp_dir, value_for};

const NOW: u64 = 1_000;
const NR_KEYS: u8 = 10;

#[derive(Debug, Clone)]
enum Op {
    Put { key: u8, len: usize },
    Delete { key: u8 },
    FlushAll,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..NR_KEYS, prop_oneof![0usize..64, 0usize..6000])
            .prop_map(|(key, len)| Op::Put { key, len }),
        3 => (0..NR_KEYS).prop_map(|key| Op::Delete { key }),
        1 => Just(Op::FlushAll),
        2 => Just(Op::Reopen),
    ]
}

fn sync_mode() -> impl Strategy<Value = SyncMode> {
    prop_oneof![
        Just(SyncMode::Always),
        Just(SyncMode::Never),
        Just(SyncMode::Batch {
            interval: std::time::Duration::from_millis(1)
        }),
    ]
}

fn key_name(key: u8) -> Vec<u8> {
    format!("key-{key}").into_bytes()
}

async fn check_all(store: &Store, model: &HashMap<u8, Vec<u8>>, step: usize) {
    for key in 0..NR_KEYS {
        let got = store
            .get(&key_name(key), NOW)
            .await
            .unwrap()
            .map(|value| value.data.to_vec());
        assert_eq!(got.as_ref(), model.get(&key), "key {key} after step {step}");
    }
    assert_eq!(store.len(), model.len(), "len after step {step}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_operations_match_a_hashmap(
        ops in proptest::collection::vec(op(), 1..60),
        sync in sync_mode(),
        max_file_size in prop_oneof![Just(2048u64), Just(64 << 10)],
    ) {
        let dir = temp_dir();
        let opts = options(dir.path(), max_file_size, sync);
        run(move || async move {
            let mut store = Store::open(opts.clone()).await.unwrap();
            let mut model: HashMap<u8, Vec<u8>> = HashMap::new();
            for (step, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Put { key, len } => {
                        let value = value_for(step as u64, len);
                        store.put(&key_name(key), &value, 0).unwrap();
                        model.insert(key, value);
                    }
                    Op::Delete { key } => {
                        let deleted = store.delete(&key_name(key), NOW).unwrap();
                        assert_eq!(deleted.is_some(), model.remove(&key).is_some());
                    }
                    Op::FlushAll => {
                        store.flush_all().unwrap();
                        model.clear();
                    }
                    Op::Reopen => {
                        store = reopen(store, &opts).await;
                        let report = store.recovery_report();
                        assert!(report.torn_tail.is_none(), "{report:?}");
                        assert!(report.corruptions.is_empty(), "{report:?}");
                    }
                }
                check_all(&store, &model, step).await;
            }
            store = reopen(store, &opts).await;
            check_all(&store, &model, usize::MAX).await;
        });
    }
}
