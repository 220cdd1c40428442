//! The value cache on the write path: a write leaves its value in the cache
//! (up to `WRITE_CACHE_MAX`), the keydir leads a GET to it, and a failed
//! flush leaves no value of a rolled-back write behind.

use super::super::{Resident, StorageError, Store, SyncMode, WRITE_CACHE_MAX, WriteError, flusher};
use super::{must_get, options, run, temp_dir, value_for};

const NOW: u64 = 1_000;

/// Writes and syncs enough in a fresh file that `key`'s record is no longer
/// in the write buffer.
async fn push_out_of_the_buffer(store: &Store) {
    store.roll_over().unwrap();
    let ticket = store.put(b"pad", &[1; 5000], 0).unwrap();
    store.wait_durable(ticket).await.unwrap();
}

#[test]
fn a_write_leaves_its_value_in_the_cache() {
    let dir = temp_dir();
    let opts = options(dir.path(), 1 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        let small = value_for(1, 100);
        let page = value_for(2, WRITE_CACHE_MAX);
        let big = value_for(3, WRITE_CACHE_MAX + 1);
        for (key, value) in [(&b"small"[..], &small), (b"page", &page), (b"big", &big)] {
            let ticket = store.put(key, value, 0).unwrap();
            store.wait_durable(ticket).await.unwrap();
        }
        push_out_of_the_buffer(&store).await;
        let before = store.stats();
        // Answered without a read, counted as hits.
        for (key, value) in [(&b"small"[..], &small), (b"page", &page)] {
            match store.get_resident(key, NOW) {
                Resident::Found(Some(found)) => assert_eq!(found.data, value[..]),
                _ => panic!("{} is not resident", String::from_utf8_lossy(key)),
            }
        }
        let stats = store.stats();
        assert_eq!(stats.cache_hits - before.cache_hits, 2, "{stats:?}");
        assert_eq!(stats.reads, before.reads);
        // Past the cutoff: read from disk once, then cached.
        assert!(matches!(
            store.get_resident(b"big", NOW),
            Resident::OnDisk(_)
        ));
        assert_eq!(must_get(&store, b"big", NOW).await, big);
        assert!(matches!(
            store.get_resident(b"big", NOW),
            Resident::Found(Some(_))
        ));
        assert_eq!(store.stats().reads, before.reads + 1);
        // An overwrite replaces the cached value; a delete drops it.
        let ticket = store.put(b"small", b"again", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        assert_eq!(must_get(&store, b"small", NOW).await, b"again");
        let ticket = store.delete(b"small", NOW).unwrap().unwrap();
        store.wait_durable(ticket).await.unwrap();
        assert!(store.get(b"small", NOW).await.unwrap().is_none());
    });
}

#[test]
fn a_value_cached_by_a_failed_write_is_never_served() {
    let dir = temp_dir();
    let opts = options(dir.path(), 1 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        let ticket = store.put(b"a", b"v1", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        push_out_of_the_buffer(&store).await;
        let rewound_to = store.inner.log.borrow().segments[0].written;

        // Cached on write, then rolled back: the flush carrying it fails.
        let failed = store.put(b"a", b"v2", 0).unwrap();
        let lost = store.put(b"b", b"lost", 0).unwrap();
        assert_eq!(must_get(&store, b"a", NOW).await, b"v2");
        flusher::fail_pending(&store.inner, &StorageError::WriteFailed("injected".into()));
        for ticket in [failed, lost] {
            let result = store.wait_durable(ticket).await;
            assert!(
                matches!(
                    result,
                    Err(WriteError::Storage(StorageError::WriteFailed(_)))
                ),
                "{result:?}"
            );
        }
        assert_eq!(must_get(&store, b"a", NOW).await, b"v1");
        assert!(store.get(b"b", NOW).await.unwrap().is_none());

        // The rewound location is written again, by the same key with a
        // value not cached on write, then by another key: each GET gets
        // the record now at that location.
        let big = value_for(9, WRITE_CACHE_MAX + 1);
        let ticket = store.put(b"a", &big, 0).unwrap();
        let location = store.meta(b"a", NOW).unwrap().version.0;
        assert_eq!(location & super::super::keydir::MAX_OFFSET, rewound_to);
        store.wait_durable(ticket).await.unwrap();
        push_out_of_the_buffer(&store).await;
        assert_eq!(must_get(&store, b"a", NOW).await, big);
        assert_eq!(must_get(&store, b"a", NOW).await, big);
        let ticket = store.put(b"c", b"v3", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        assert_eq!(must_get(&store, b"c", NOW).await, b"v3");
        assert_eq!(must_get(&store, b"a", NOW).await, big);
    });
}
