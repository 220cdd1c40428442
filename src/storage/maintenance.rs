//! The shard's background maintenance task: hint files for sealed log
//! files, and the periodic check that starts an automatic merge.
//!
//! Runs in the store's low-priority task queue, paced like merge (see
//! [`Pacer`]), and shares the one-at-a-time maintenance lock with merge.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::files::{hint_file_path, os_err};
use super::hint::{self, HintEntry, HintHeader, HintWriter};
use super::io::LogFile;
use super::keydir::pack_location;
use super::merge;
use super::pacer::{BACKGROUND_IO, Pacer};
use super::record::{self, is_expired};
use super::state::{Inner, add};
use super::window::Window;
use super::{MergeMode, StorageError, settle};

/// The maintenance task: writes missing hints when files are sealed, and
/// checks the merge thresholds every `check_interval`. Ends with the store.
pub(super) async fn run_maintenance(inner: std::rc::Weak<Inner>) {
    let mut last_check = Instant::now();
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        if strong.stopping.get() {
            return;
        }
        let now = super::system_now_ms();
        if let Err(error) = write_pending_hints(&strong, now).await {
            tracing::warn!(shard = strong.shard_id, %error, "writing hint files failed");
        }
        let interval = strong.merge_policy.get().check_interval;
        if let Some(interval) = interval
            && last_check.elapsed() >= interval
        {
            last_check = Instant::now();
            match merge::merge(&strong, MergeMode::Auto, now).await {
                Ok(report) if !report.files_in.is_empty() => {}
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(shard = strong.shard_id, %error, "merge failed")
                }
            }
        }
        let wait = interval.unwrap_or(Duration::from_secs(3600));
        let notified = {
            let strong = strong.clone();
            async move { strong.maintenance.wait().await }
        };
        drop(strong);
        futures_lite::future::or(notified, glommio::timer::sleep(wait)).await;
    }
}

/// Writes hint files for sealed files without one; returns how many.
pub(super) async fn write_pending_hints(inner: &Inner, now_ms: u64) -> Result<usize, StorageError> {
    let Ok(_permit) = inner.maintenance_lock.acquire_permit(1).await else {
        return Ok(0);
    };
    let mut written = 0;
    loop {
        if inner.stopping.get() {
            break;
        }
        let Some(file_id) = inner.unhinted.borrow_mut().pop() else {
            break;
        };
        let file = {
            let log = inner.log.borrow();
            if log.is_unsealed(file_id) {
                continue;
            }
            log.files.get(&file_id).cloned()
        };
        let Some(file) = file else { continue };
        if build_hint(inner, file_id, file, now_ms).await? {
            written += 1;
        }
    }
    Ok(written)
}

/// Scans sealed file `file_id` and writes its hint; false when the file is
/// damaged (it stays without a hint and is scanned at open) or the hint
/// could not be trusted (a write failed meanwhile; retried later).
async fn build_hint(
    inner: &Inner,
    file_id: u32,
    file: Rc<LogFile>,
    now_ms: u64,
) -> Result<bool, StorageError> {
    let rollbacks_before = inner.counters.rollbacks.get();
    let file_len = file.file_size().await.map_err(os_err)?;
    let mut window = Window::new(file, file_len).with_chunk(BACKGROUND_IO as u64);
    let mut writer = HintWriter::new();
    let (mut flush_all, mut max_seq, mut file_seq, mut offset) = (false, 0u64, 0u64, 0u64);
    let mut pacer = Pacer::new();
    // Large records are looked at by header and key only (their value is
    // not read back); the previous record says whether one is expected.
    let mut large = false;
    while offset < file_len {
        let reads_before = window.reads;
        let head = window.large_record_head(offset, file_seq, large).await?;
        // A big record may follow padding: looked for with short reads.
        if head.is_none()
            && large
            && let Some(next) = window.after_padding(offset, file_seq).await?
        {
            if window.reads != reads_before {
                pacer.io_turn(inner).await;
            }
            offset = next;
            continue;
        }
        large = head.is_some();
        let found = match head {
            Some(header) => Some(header),
            None => window.record_at(offset, file_seq).await?,
        };
        if window.reads != reads_before {
            pacer.io_turn(inner).await;
        }
        let Some(header) = found else {
            if let Some(next) = window.after_padding(offset, file_seq).await? {
                offset = next;
                continue;
            }
            let (next_good, all_zero) = window.resync(offset, file_seq).await?;
            if next_good.is_none() && all_zero {
                break;
            }
            tracing::warn!(
                shard = inner.shard_id,
                file = file_id,
                offset,
                "damaged log file; no hint written"
            );
            return Ok(false);
        };
        let len = header.record_len();
        file_seq = header.seq;
        max_seq = max_seq.max(header.seq);
        if header.is_flush_all() {
            writer.clear();
            flush_all = true;
        } else {
            let head_len = record::HEADER_LEN as u64 + u64::from(header.key_len);
            let key = record::key_of(&header, window.slice(offset, head_len));
            let current = inner.keydir.borrow().get(key).map(|entry| entry.location);
            // A record the keydir does not hold may be all that hides an
            // older record of its key (the expiry reaper writes no
            // tombstone, and its clock need not be this one): keep it, as a
            // scan would see it. Only superseded records are left out.
            let keep = header.is_tombstone()
                || is_expired(&header, now_ms)
                || current.is_none_or(|location| location == pack_location(file_id, offset));
            if keep {
                writer.push(&HintEntry::of_record(&header, key, offset));
            }
        }
        offset += len;
        pacer.tick().await;
    }
    if !settle(inner, rollbacks_before).await? {
        inner.unhinted.borrow_mut().push(file_id);
        return Ok(false);
    }
    if !inner.log.borrow().files.contains_key(&file_id) {
        return Ok(false);
    }
    let nr_entries = writer.len();
    let bytes = writer.finish(HintHeader {
        file_id,
        flush_all,
        file_len,
        data_end: offset,
        max_seq,
        nr_entries,
    });
    hint::write_file(&inner.backend, &hint_file_path(&inner.dir, file_id), &bytes).await?;
    if let Some(stat) = inner.log.borrow_mut().stats.get_mut(&file_id) {
        stat.hinted = true;
    }
    add(&inner.counters.hints_written, 1);
    tracing::debug!(
        shard = inner.shard_id,
        file = file_id,
        entries = nr_entries,
        "hint file written"
    );
    Ok(true)
}
