//! Storage tests over real files (O_DIRECT needs a real filesystem, so the
//! directories live under /tmp, which is on disk here), each in its own
//! glommio executor.

mod basic;
mod cache;
mod crash;
mod log_order;
mod merge;
mod model;
mod padding;
mod sim_model;
mod torn_hole;
mod zero_ahead;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::io::{Backend, SimDisk};
use super::{Store, StoreOptions, SyncMode};

/// Runs `make_future()` to completion in a fresh, unpinned executor.
pub(super) fn run<F, Fut>(make_future: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(make_future)
        .expect("executor starts")
        .join()
        .expect("executor finishes without panicking");
}

/// A fresh directory on a real filesystem.
pub(super) fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("shardcask-storage-")
        .tempdir_in("/tmp")
        .expect("temp dir")
}

/// Store options for tests.
pub(super) fn options(dir: &Path, max_file_size: u64, sync: SyncMode) -> StoreOptions {
    StoreOptions {
        dir: dir.to_path_buf(),
        shard_id: 0,
        max_file_size,
        sync,
        merge: super::MergePolicy {
            check_interval: None,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Store options for tests on a simulated disk (`--sync always`).
pub(super) fn sim_options(disk: &SimDisk, max_file_size: u64) -> StoreOptions {
    StoreOptions {
        backend: Backend::Sim(disk.clone()),
        ..options(Path::new("/sim/shard-0"), max_file_size, SyncMode::Always)
    }
}

/// Closes `store` and opens the same directory again.
pub(super) async fn reopen(store: Rc<Store>, opts: &StoreOptions) -> Rc<Store> {
    store.close().await.expect("close");
    drop(store);
    Store::open(opts.clone()).await.expect("reopen")
}

/// A deterministic value of `len` bytes that differs per `seed`.
pub(super) fn value_for(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The `.data` files of a directory, ascending.
pub(super) fn data_files(dir: &Path) -> Vec<PathBuf> {
    super::files::list_data_files(dir)
        .expect("list")
        .into_iter()
        .map(|id| super::files::data_file_path(dir, id))
        .collect()
}

/// The value of `key`, which must be present.
pub(super) async fn must_get(store: &Store, key: &[u8], now_ms: u64) -> Vec<u8> {
    match store.get(key, now_ms).await {
        Ok(Some(value)) => value.data.to_vec(),
        other => panic!(
            "{}: expected a value, got {other:?}",
            String::from_utf8_lossy(key)
        ),
    }
}
