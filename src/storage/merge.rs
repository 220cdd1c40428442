//! Merge (compaction) and the low-priority maintenance task.
//!
//! Everything here runs in the store's maintenance task queue
//! (`Shares::Static(10)`, `Latency::NotImportant`) and yields every few
//! hundred records (`glommio::yield_if_needed`), so foreground requests keep
//! their latency. One merge or hint build runs at a time.
//!
//! # Where merge output goes in the log order
//!
//! Recovery replays files in id order and later records win. A merge copies
//! records that were *current* (the keydir pointed at them) when copied, so
//! they must replay after every file that existed when the merge started and
//! before every record written after it. So a merge first rolls the log over
//! to a new file id `R + K`, reserving the `K` ids `R..R+K` below it for its
//! output (`LogState::roll_over`); `K` is an upper bound on the output files.
//!
//! # Steps, and what a crash at each leaves
//!
//! 1. Pick the inputs (sealed files), reserve ids, wait until every file
//!    below the reserved range is written and sealed.
//! 2. Copy: scan each input; keep a record if it is what the keydir points
//!    at, or a tombstone/expired record that still has work to do (below).
//!    Output goes to `NNNNNNNN.merge` with DMA, then is fdatasync'ed.
//!    *Crash*: `.merge` files are deleted at open; the inputs are untouched.
//! 3. Settle: wait until every write appended so far is resolved (and, under
//!    the batch/never sync modes, fdatasync the log), and give up if any
//!    flush failed since step 1 — a rollback could have made a record we
//!    dropped current again.
//! 4. Write the hints, rename `.merge` to `.data`, sync the directory.
//!    *Crash*: output and inputs both present; the output replays after the
//!    inputs and holds the same current records, so every key has its value.
//! 5. Swap: open the output, point keydir entries (and the previous entries
//!    of pending undo records, and cached values) that still point into the
//!    inputs at their copies, drop the inputs from the open-file map.
//!    A read in flight holds an `Rc` of its file, so it still completes.
//! 6. Delete the inputs, oldest first, syncing the directory after each,
//!    so a crash never leaves a newer input without the older ones.
//!
//! # Tombstones and expired records (basho/bitcask#82)
//!
//! A tombstone, or a record already expired (the expiry reaper writes no
//! tombstone, so an expired record is the only thing hiding older versions
//! of its key), is dropped only when no file outside the merge is older than
//! the file holding it: otherwise an older record of the key in that file
//! would come back at the next open. A flush-all marker cannot move at all
//! (copied later in the order it would clear newer records), so a file with
//! one is merged only together with every older file, and then dropped.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::files::{data_file_path, hint_file_path, merge_file_path, open_sealed, os_err};
use super::hint::{self, HintEntry, HintHeader, HintWriter};
use super::io::{LogFile, OpenMode};
use super::keydir::{pack_location, unpack_file_id};
use super::log::UndoOp;
use super::record::{self, Header};
use super::recovery::Window;
use super::state::{Inner, add};
use super::{MergeMode, MergeReport, StorageError, SyncMode, flusher, wait_ticket};

/// Records handled between yield checks.
const YIELD_EVERY: u64 = 128;
/// Output bytes gathered before one DMA write.
const WRITE_CHUNK: usize = 4 << 20;

fn abandoned(reason: &str) -> StorageError {
    StorageError::MergeAbandoned(reason.to_string())
}

fn is_expired(header: &Header, now_ms: u64) -> bool {
    header.expire_at_ms != 0 && header.expire_at_ms <= now_ms
}

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
        let interval = strong.merge_policy.check_interval;
        if let Some(interval) = interval
            && last_check.elapsed() >= interval
        {
            last_check = Instant::now();
            match merge(&strong, MergeMode::Auto, now).await {
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

/// Waits until every write appended so far is resolved (synced under the
/// non-`Always` modes too); true if no flush failed since `rollbacks_before`.
async fn settle(inner: &Inner, rollbacks_before: u64) -> Result<bool, StorageError> {
    let target = inner.log.borrow().next_ticket;
    inner.flusher.notify();
    let _ = wait_ticket(inner, target).await;
    if inner.sync != SyncMode::Always {
        flusher::sync_all(inner).await?;
    }
    Ok(inner.counters.rollbacks.get() == rollbacks_before)
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
    let mut window = Window::new(file, file_len);
    let mut writer = HintWriter::new();
    let (mut flush_all, mut max_seq, mut file_seq, mut offset) = (false, 0u64, 0u64, 0u64);
    let mut handled = 0u64;
    while offset < file_len {
        let Some(header) = window.record_at(offset, file_seq).await? else {
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
            let bytes = window.slice(offset, len);
            let key = record::key_of(&header, bytes);
            let current = inner.keydir.borrow().get(key).map(|entry| entry.location);
            let keep = header.is_tombstone()
                || is_expired(&header, now_ms)
                || current == Some(pack_location(file_id, offset));
            if keep {
                writer.push(&HintEntry {
                    flags: header.flags,
                    key,
                    value_len: header.value_len,
                    offset,
                    expire_at_ms: header.expire_at_ms,
                    seq: header.seq,
                });
            }
        }
        offset += len;
        handled += 1;
        if handled.is_multiple_of(YIELD_EVERY) {
            glommio::yield_if_needed().await;
        }
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

/// The sealed files an automatic merge should read, or none.
fn select_auto(inner: &Inner) -> Vec<u32> {
    let policy = &inner.merge_policy;
    let log = inner.log.borrow();
    let sealed: Vec<(u32, super::log::FileStat)> = log
        .stats
        .iter()
        .filter(|(id, _)| log.files.contains_key(id) && !log.is_unsealed(**id))
        .map(|(id, stat)| (*id, *stat))
        .collect();
    let frag =
        |stat: &super::log::FileStat| (stat.dead() * 100).checked_div(stat.total).unwrap_or(100);
    let triggered = sealed.iter().any(|(_, stat)| {
        (stat.total > 0 && frag(stat) >= policy.frag_trigger_percent)
            || stat.dead() >= policy.dead_bytes_trigger
    });
    if !triggered {
        return Vec::new();
    }
    sealed
        .iter()
        .filter(|(_, stat)| {
            frag(stat) >= policy.frag_threshold_percent
                || stat.dead() >= policy.dead_bytes_threshold
                || stat.disk < policy.small_file_threshold
        })
        .map(|(id, _)| *id)
        .collect()
}

/// One output file being written.
struct Output {
    file_id: u32,
    file: LogFile,
    /// Bytes not yet written, starting at file offset `written`.
    pending: Vec<u8>,
    written: u64,
    /// Offset just past the last record.
    end: u64,
    hint: HintWriter,
    max_seq: u64,
}

impl Output {
    async fn write_pending(&mut self, finish: bool) -> Result<(), StorageError> {
        let alignment = self.file.alignment() as usize;
        let len = if finish {
            self.pending.len().next_multiple_of(alignment)
        } else {
            self.pending.len() - self.pending.len() % alignment
        };
        if len == 0 {
            return Ok(());
        }
        let mut buffer = self.file.alloc_buffer(len);
        let target = buffer.as_bytes_mut();
        let data = len.min(self.pending.len());
        target[..data].copy_from_slice(&self.pending[..data]);
        target[data..].fill(0);
        let written = self
            .file
            .write_at(buffer, self.written)
            .await
            .map_err(os_err)?;
        if written < len {
            return Err(StorageError::WriteFailed(
                "short write of merge output".into(),
            ));
        }
        self.pending.drain(..data);
        self.written += len as u64;
        Ok(())
    }
}

/// Everything a merge run carries between its steps.
struct Run<'a> {
    inner: &'a Inner,
    /// Smallest id of a file outside the merge (tombstones older than it stay).
    oldest_outside: u32,
    next_id: u32,
    last_id: u32,
    outputs: Vec<Output>,
    finished: Vec<(u32, u64, Vec<u8>)>,
    /// Keys whose current record was expired and dropped.
    dropped_current: Vec<Box<[u8]>>,
    report: MergeReport,
}

impl Run<'_> {
    async fn output(&mut self, record_len: u64) -> Result<&mut Output, StorageError> {
        let max = self.inner.log.borrow().max_file_size;
        let full = self
            .outputs
            .last()
            .is_some_and(|out| out.end > 0 && out.end + record_len > max);
        if full {
            self.finish_output().await?;
        }
        if self.outputs.is_empty() {
            if self.next_id > self.last_id {
                return Err(abandoned("merge output outgrew its reserved file ids"));
            }
            let file_id = self.next_id;
            self.next_id += 1;
            let path = merge_file_path(&self.inner.dir, file_id);
            let file = self
                .inner
                .backend
                .open(&path, OpenMode::ReadWriteCreate)
                .await?;
            self.outputs.push(Output {
                file_id,
                file,
                pending: Vec::new(),
                written: 0,
                end: 0,
                hint: HintWriter::new(),
                max_seq: 0,
            });
        }
        Ok(self.outputs.last_mut().expect("an output is open"))
    }

    async fn finish_output(&mut self) -> Result<(), StorageError> {
        let Some(mut out) = self.outputs.pop() else {
            return Ok(());
        };
        out.write_pending(true).await?;
        out.file.fdatasync().await.map_err(os_err)?;
        let file_len = out.file.file_size().await.map_err(os_err)?;
        let nr_entries = out.hint.len();
        let hint = std::mem::take(&mut out.hint).finish(HintHeader {
            file_id: out.file_id,
            flush_all: false,
            file_len,
            data_end: out.end,
            max_seq: out.max_seq,
            nr_entries,
        });
        self.report.bytes_out += file_len;
        self.finished.push((out.file_id, file_len, hint));
        Ok(())
    }

    async fn copy(&mut self, header: &Header, bytes: &[u8]) -> Result<(), StorageError> {
        let out = self.output(header.record_len()).await?;
        let offset = out.end;
        out.pending.extend_from_slice(bytes);
        out.end += bytes.len() as u64;
        out.max_seq = out.max_seq.max(header.seq);
        out.hint.push(&HintEntry {
            flags: header.flags,
            key: record::key_of(header, bytes),
            value_len: header.value_len,
            offset,
            expire_at_ms: header.expire_at_ms,
            seq: header.seq,
        });
        if out.pending.len() >= WRITE_CHUNK {
            out.write_pending(false).await?;
        }
        self.report.records_copied += 1;
        Ok(())
    }

    /// Copies what must survive of input `file_id`.
    async fn copy_file(&mut self, file_id: u32, now_ms: u64) -> Result<(), StorageError> {
        let file = self.inner.log.borrow().files.get(&file_id).cloned();
        let Some(file) = file else {
            return Err(abandoned("an input file vanished"));
        };
        let file_len = file.file_size().await.map_err(os_err)?;
        self.report.bytes_in += file_len;
        let mut window = Window::new(file, file_len);
        let (mut offset, mut file_seq, mut handled) = (0u64, 0u64, 0u64);
        let older_outside = self.oldest_outside < file_id;
        while offset < file_len {
            let Some(header) = window.record_at(offset, file_seq).await? else {
                let (next_good, all_zero) = window.resync(offset, file_seq).await?;
                match next_good {
                    None if all_zero => break,
                    // Damage is reported by recovery; merge copies what it can
                    // read only when every byte is accounted for.
                    _ => return Err(abandoned("an input file is damaged")),
                }
            };
            let len = header.record_len();
            file_seq = header.seq;
            let bytes = window.slice(offset, len).to_vec();
            let location = pack_location(file_id, offset);
            let keep = if header.is_flush_all() {
                false
            } else {
                let key = record::key_of(&header, &bytes);
                let current = self.inner.keydir.borrow().get(key);
                let expired = is_expired(&header, now_ms);
                match current {
                    Some(entry) if entry.location == location => {
                        if !expired || older_outside {
                            true
                        } else {
                            self.dropped_current.push(key.into());
                            false
                        }
                    }
                    // A newer record of the key exists.
                    Some(_) => false,
                    // Deleted, expired or flushed: only tombstones and
                    // expired records hide older records.
                    None => (header.is_tombstone() || expired) && older_outside,
                }
            };
            if keep {
                self.copy(&header, &bytes).await?;
            } else {
                self.report.records_dropped += 1;
            }
            offset += len;
            handled += 1;
            if handled % YIELD_EVERY == 0 {
                glommio::yield_if_needed().await;
                if self.inner.stopping.get() {
                    return Err(abandoned("the store is closing"));
                }
            }
        }
        Ok(())
    }

    /// Removes every output file (the merge is abandoned).
    async fn discard(&mut self) {
        let ids: Vec<u32> = self
            .outputs
            .drain(..)
            .map(|out| out.file_id)
            .chain(self.finished.drain(..).map(|(id, _, _)| id))
            .collect();
        for id in ids {
            let _ = self
                .inner
                .backend
                .remove(&merge_file_path(&self.inner.dir, id))
                .await;
            let _ = self
                .inner
                .backend
                .remove(&hint_file_path(&self.inner.dir, id))
                .await;
        }
    }
}

/// Runs one merge (see the module docs).
pub(super) async fn merge(
    inner: &Inner,
    mode: MergeMode,
    now_ms: u64,
) -> Result<MergeReport, StorageError> {
    let Ok(_permit) = inner.maintenance_lock.acquire_permit(1).await else {
        return Err(abandoned("the store is closing"));
    };
    if inner.stopping.get() {
        return Err(abandoned("the store is closing"));
    }
    let started = Instant::now();
    let mut inputs: BTreeSet<u32> = match &mode {
        MergeMode::Auto => select_auto(inner).into_iter().collect(),
        MergeMode::Files(ids) => {
            let log = inner.log.borrow();
            ids.iter()
                .copied()
                .filter(|id| log.files.contains_key(id) && !log.is_unsealed(*id))
                .collect()
        }
        MergeMode::Full => BTreeSet::new(),
    };
    if inputs.is_empty() && mode != MergeMode::Full {
        return Ok(MergeReport::default());
    }

    // Step 1: reserve output ids above everything that exists now.
    let rollbacks_before = inner.counters.rollbacks.get();
    let (first_reserved, active_id) = {
        let mut log = inner.log.borrow_mut();
        let bound: u64 = if mode == MergeMode::Full {
            log.stats.values().map(|stat| stat.total).sum()
        } else {
            inputs
                .iter()
                .map(|id| log.stats.get(id).map_or(0, |s| s.total))
                .sum()
        };
        let max = log.max_file_size.max(1);
        let reserve = (2 * bound / max + 3).min(u32::MAX as u64 / 2) as u32;
        let first = log.roll_over(reserve)?;
        (first, first + reserve)
    };
    inner.flusher.notify();
    // A failed flush drops the new segment; then the wait would never end.
    let sealed = futures_lite::future::poll_fn(|cx| {
        let log = inner.log.borrow();
        if log.segments[0].file_id >= active_id {
            std::task::Poll::Ready(true)
        } else if inner.counters.rollbacks.get() != rollbacks_before || inner.stopping.get() {
            std::task::Poll::Ready(false)
        } else {
            inner.waiters.register(log.resolved_ticket, cx);
            std::task::Poll::Pending
        }
    })
    .await;
    if !sealed {
        return Err(abandoned("a log write failed before the merge could start"));
    }
    {
        let log = inner.log.borrow();
        if mode == MergeMode::Full {
            inputs = log
                .files
                .keys()
                .copied()
                .filter(|id| *id < first_reserved)
                .collect();
        }
        // A flush-all marker may only be dropped, never moved.
        if let Some(&last_marker) = inputs
            .iter()
            .rev()
            .find(|id| log.stats.get(id).is_some_and(|s| s.has_flush_all))
        {
            inputs.extend(log.files.keys().copied().filter(|id| *id < last_marker));
        }
    }
    let oldest_outside = {
        let log = inner.log.borrow();
        log.files
            .keys()
            .copied()
            .filter(|id| !inputs.contains(id))
            .min()
            .unwrap_or(u32::MAX)
    };
    let mut run = Run {
        inner,
        oldest_outside,
        next_id: first_reserved,
        last_id: active_id - 1,
        outputs: Vec::new(),
        finished: Vec::new(),
        dropped_current: Vec::new(),
        report: MergeReport {
            files_in: inputs.iter().copied().collect(),
            ..MergeReport::default()
        },
    };
    tracing::info!(shard = inner.shard_id, inputs = ?run.report.files_in, "merge started");

    // Step 2: copy.
    let copied: Result<(), StorageError> = async {
        for &file_id in &inputs {
            run.copy_file(file_id, now_ms).await?;
        }
        run.finish_output().await?;
        // Step 3: settle.
        if !settle(inner, rollbacks_before).await? {
            return Err(abandoned("a log write failed during the merge"));
        }
        if inner.stopping.get() {
            return Err(abandoned("the store is closing"));
        }
        // Step 4: hints, rename, directory sync.
        for (file_id, _, hint_bytes) in &run.finished {
            let path = hint_file_path(&inner.dir, *file_id);
            hint::write_file(&inner.backend, &path, hint_bytes).await?;
        }
        for (file_id, _, _) in &run.finished {
            inner
                .backend
                .rename(
                    &merge_file_path(&inner.dir, *file_id),
                    &data_file_path(&inner.dir, *file_id),
                )
                .await?;
        }
        inner.backend.sync_dir(&inner.dir).await?;
        Ok(())
    }
    .await;
    if let Err(error) = copied {
        run.discard().await;
        tracing::warn!(shard = inner.shard_id, %error, "merge abandoned; nothing changed");
        return Err(error);
    }

    // Step 5: swap.
    let finished = std::mem::take(&mut run.finished);
    for (file_id, file_len, hint_bytes) in &finished {
        let file = open_sealed(&inner.backend, &data_file_path(&inner.dir, *file_id)).await?;
        let header = hint::check(hint_bytes, *file_id, *file_len)
            .map_err(|reason| StorageError::Other(format!("merge hint: {reason}")))?;
        {
            let mut log = inner.log.borrow_mut();
            log.files.insert(*file_id, file);
            let stat = log.stat(*file_id);
            stat.total = header.data_end;
            stat.disk = *file_len;
            stat.hinted = true;
        }
        swap_file(inner, &inputs, *file_id, hint_bytes, &header).await;
        run.report.files_out.push(*file_id);
    }
    finish_swap(inner, &inputs, &run.dropped_current);

    // Step 6: delete the inputs, oldest first.
    for &file_id in &inputs {
        inner
            .backend
            .remove(&hint_file_path(&inner.dir, file_id))
            .await?;
        inner
            .backend
            .remove(&data_file_path(&inner.dir, file_id))
            .await?;
        inner.backend.sync_dir(&inner.dir).await?;
    }
    let mut report = run.report;
    report.duration = started.elapsed();
    let elapsed_ms = report.duration.as_millis() as u64;
    add(&inner.counters.merges, 1);
    add(
        &inner.counters.merge_reclaimed,
        report.bytes_in.saturating_sub(report.bytes_out),
    );
    add(&inner.counters.merge_ms, elapsed_ms);
    inner.counters.last_merge_ms.set(elapsed_ms);
    tracing::info!(
        shard = inner.shard_id,
        files_in = ?report.files_in,
        files_out = ?report.files_out,
        copied = report.records_copied,
        dropped = report.records_dropped,
        bytes_in = report.bytes_in,
        bytes_out = report.bytes_out,
        elapsed_ms,
        "merge finished"
    );
    Ok(report)
}

/// Points everything that still points into the inputs at the copies in
/// output file `file_id`, a chunk of entries at a time (each chunk runs
/// without yielding, so it sees a consistent keydir and undo log).
async fn swap_file(
    inner: &Inner,
    inputs: &BTreeSet<u32>,
    file_id: u32,
    hint_bytes: &[u8],
    header: &HintHeader,
) {
    let mut entries: Vec<(Box<[u8]>, u64, bool)> = Vec::new();
    let _ = hint::for_each_entry(hint_bytes, header, &mut |entry| {
        entries.push((
            entry.key.into(),
            entry.offset,
            entry.flags & record::FLAG_TOMBSTONE != 0,
        ))
    });
    let in_inputs = |location: u64| inputs.contains(&unpack_file_id(location));
    for chunk in entries.chunks(1024) {
        {
            let mut log = inner.log.borrow_mut();
            let mut keydir = inner.keydir.borrow_mut();
            let mut cache = inner.cache.borrow_mut();
            // Pending writes whose previous entry points into the inputs.
            let mut undo_index: HashMap<Box<[u8]>, Vec<usize>> = HashMap::new();
            for (index, undo) in log.undo.iter().enumerate() {
                match &undo.op {
                    UndoOp::Key {
                        key,
                        previous: Some(previous),
                        ..
                    } if in_inputs(previous.location) => {
                        undo_index.entry(key.clone()).or_default().push(index)
                    }
                    UndoOp::FlushAll(_) => undo_index
                        .entry(Box::from(&[][..]))
                        .or_default()
                        .push(index),
                    _ => {}
                }
            }
            let flush_alls = undo_index
                .remove(&Box::<[u8]>::from(&[][..]))
                .unwrap_or_default();
            for (key, offset, tombstone) in chunk {
                if *tombstone {
                    continue;
                }
                let location = pack_location(file_id, *offset);
                if let Some(entry) = keydir.get(key)
                    && in_inputs(entry.location)
                {
                    keydir.relocate(key, entry.location, location);
                    cache.relocate(key, entry.location, location);
                    log.stat(file_id).live += entry.record_len as u64;
                }
                if let Some(indexes) = undo_index.get(key) {
                    for &index in indexes {
                        if let UndoOp::Key {
                            previous: Some(previous),
                            ..
                        } = &mut log.undo[index].op
                            && in_inputs(previous.location)
                        {
                            previous.location = location;
                        }
                    }
                }
                for &index in &flush_alls {
                    if let UndoOp::FlushAll(previous) = &mut log.undo[index].op
                        && let Some(entry) = previous.get(key)
                        && in_inputs(entry.location)
                    {
                        previous.relocate(key, entry.location, location);
                    }
                }
            }
        }
        glommio::yield_if_needed().await;
    }
}

/// Drops what is left pointing into the inputs (current records that had
/// expired and were not copied) and forgets the input files.
fn finish_swap(inner: &Inner, inputs: &BTreeSet<u32>, dropped_current: &[Box<[u8]>]) {
    let in_inputs = |location: u64| inputs.contains(&unpack_file_id(location));
    let mut log = inner.log.borrow_mut();
    let mut keydir = inner.keydir.borrow_mut();
    for key in dropped_current {
        if keydir
            .get(key)
            .is_some_and(|entry| in_inputs(entry.location))
        {
            keydir.remove(key);
            inner.cache.borrow_mut().remove(key);
        }
    }
    for undo in log.undo.iter_mut() {
        match &mut undo.op {
            UndoOp::Key { previous, .. } => {
                if previous.is_some_and(|entry| in_inputs(entry.location)) {
                    *previous = None;
                }
            }
            UndoOp::FlushAll(previous) => {
                for key in dropped_current {
                    if previous
                        .get(key)
                        .is_some_and(|entry| in_inputs(entry.location))
                    {
                        previous.remove(key);
                    }
                }
            }
        }
    }
    for id in inputs {
        log.files.remove(id);
        log.stats.remove(id);
    }
    inner
        .unhinted
        .borrow_mut()
        .retain(|id| !inputs.contains(id));
}
