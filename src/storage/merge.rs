//! Merge (compaction): copying the live records of sealed files into new ones.
//!
//! Everything here runs in the store's maintenance task queue
//! (`Shares::Static(10)`, `Latency::NotImportant`) and hands the CPU back
//! every slice of work (see [`Pacer`]), so foreground requests keep their
//! latency. One merge or hint build runs at a time.
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
//! A tombstone, or a record with an expiry whose key the keydir no longer
//! holds (the expiry reaper writes no tombstone, so such a record is the
//! only thing hiding older versions of its key, whether or not the merge's
//! clock has reached its expiry), is dropped only when no file outside the merge is older than
//! the file holding it: otherwise an older record of the key in that file
//! would come back at the next open. A flush-all marker cannot move at all
//! (copied later in the order it would clear newer records), so a file with
//! one is merged only together with every older file, and then dropped.

use std::collections::BTreeSet;
use std::time::Instant;

use super::files::{data_file_path, hint_file_path, merge_file_path, open_sealed, os_err};
use super::hint::{self, HintEntry, HintHeader, HintWriter};
use super::io::{LogFile, OpenMode};
use super::keydir::pack_location;
use super::pacer::{BACKGROUND_IO, Pacer};
use super::record::{self, Header, is_expired};
use super::state::{Inner, add};
use super::swap::{Finished, Moved, finish_swap, swap_file};
use super::window::Window;
use super::{MergeError, MergeMode, MergeReport, StorageError, settle};

pub(super) fn abandoned(reason: &'static str) -> MergeError {
    MergeError::Abandoned(reason)
}

/// The sealed files an automatic merge should read, or none.
fn select_auto(inner: &Inner) -> Vec<u32> {
    let policy = &inner.merge_policy.get();
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
    /// The live records copied, for the swap.
    moved: Moved,
}

impl Output {
    async fn write_pending(&mut self, finish: bool) -> Result<(), MergeError> {
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
            return Err(StorageError::WriteFailed("short write of merge output".into()).into());
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
    finished: Vec<Finished>,
    /// Keys whose current record was expired and dropped.
    dropped_current: Vec<Box<[u8]>>,
    report: MergeReport,
    pacer: Pacer,
}

impl Run<'_> {
    async fn output(&mut self, record_len: u64) -> Result<&mut Output, MergeError> {
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
                moved: Moved::default(),
            });
        }
        Ok(self.outputs.last_mut().expect("an output is open"))
    }

    async fn finish_output(&mut self) -> Result<(), MergeError> {
        let Some(mut out) = self.outputs.pop() else {
            return Ok(());
        };
        out.write_pending(true).await?;
        self.pacer.io_turn(self.inner).await;
        out.file.fdatasync().await.map_err(os_err)?;
        self.pacer.io_turn(self.inner).await;
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
        self.finished.push(Finished {
            file_id: out.file_id,
            file_len,
            data_end: out.end,
            hint,
            moved: out.moved,
        });
        Ok(())
    }

    async fn copy(&mut self, header: &Header, bytes: &[u8]) -> Result<(), MergeError> {
        let out = self.output(header.record_len()).await?;
        let offset = out.end;
        out.pending.extend_from_slice(bytes);
        out.end += bytes.len() as u64;
        out.max_seq = out.max_seq.max(header.seq);
        let key = record::key_of(header, bytes);
        if !header.is_tombstone() {
            out.moved.keys.extend_from_slice(key);
            out.moved.records.push((out.moved.keys.len(), offset));
        }
        out.hint.push(&HintEntry::of_record(header, key, offset));
        if out.pending.len() >= BACKGROUND_IO {
            out.write_pending(false).await?;
            self.pacer.io_turn(self.inner).await;
        }
        self.report.records_copied += 1;
        Ok(())
    }

    /// Copies what must survive of input `file_id`.
    async fn copy_file(&mut self, file_id: u32, now_ms: u64) -> Result<(), MergeError> {
        let file = self.inner.log.borrow().files.get(&file_id).cloned();
        let Some(file) = file else {
            return Err(abandoned("an input file vanished"));
        };
        let file_len = file.file_size().await.map_err(os_err)?;
        self.report.bytes_in += file_len;
        let mut window = Window::new(file, file_len).with_chunk(BACKGROUND_IO as u64);
        let (mut offset, mut file_seq) = (0u64, 0u64);
        let older_outside = self.oldest_outside < file_id;
        while offset < file_len {
            let reads_before = window.reads;
            let found = window.record_at(offset, file_seq).await?;
            if window.reads != reads_before {
                self.pacer.io_turn(self.inner).await;
            }
            let Some(header) = found else {
                if let Some(next) = window.after_padding(offset, file_seq).await? {
                    offset = next;
                    continue;
                }
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
            let bytes = window.slice(offset, len);
            let location = pack_location(file_id, offset);
            let keep = if header.is_flush_all() {
                false
            } else {
                let key = record::key_of(&header, bytes);
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
                    // records with an expiry hide older records. An
                    // expiring record counts even if not expired by this
                    // clock: the reaper may have removed its key by its own.
                    None => (header.is_tombstone() || header.expire_at_ms != 0) && older_outside,
                }
            };
            if keep {
                self.copy(&header, bytes).await?;
            } else {
                self.report.records_dropped += 1;
            }
            offset += len;
            if self.pacer.used_up() {
                self.pacer.pause().await;
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
            .chain(self.finished.drain(..).map(|finished| finished.file_id))
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
) -> Result<MergeReport, MergeError> {
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
        pacer: Pacer::new(),
    };
    tracing::info!(shard = inner.shard_id, inputs = ?run.report.files_in, "merge started");

    // Step 2: copy.
    let copied: Result<(), MergeError> = async {
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
        for finished in &run.finished {
            let path = hint_file_path(&inner.dir, finished.file_id);
            hint::write_file(&inner.backend, &path, &finished.hint).await?;
        }
        for finished in &run.finished {
            inner
                .backend
                .rename(
                    &merge_file_path(&inner.dir, finished.file_id),
                    &data_file_path(&inner.dir, finished.file_id),
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
    for output in &finished {
        let path = data_file_path(&inner.dir, output.file_id);
        let file = open_sealed(&inner.backend, &path).await?;
        {
            let mut log = inner.log.borrow_mut();
            log.files.insert(output.file_id, file);
            let stat = log.stat(output.file_id);
            stat.total = output.data_end;
            stat.disk = output.file_len;
            stat.hinted = true;
        }
        run.pacer.resumed();
        swap_file(inner, &inputs, output, &mut run.pacer).await;
        run.report.files_out.push(output.file_id);
    }
    finish_swap(inner, &inputs, &run.dropped_current);

    // Step 6: delete the inputs, oldest first, one at a time with a rest
    // after each (see `Pacer::rest_after`): deleted back to back, the
    // journal commits that free their blocks held up the foreground's
    // fdatasyncs for a few milliseconds each, long enough for requests to
    // queue up for a quarter of a second at the end of every merge.
    for &file_id in &inputs {
        run.pacer.io_turn(inner).await;
        let step = Instant::now();
        inner
            .backend
            .remove(&hint_file_path(&inner.dir, file_id))
            .await?;
        inner
            .backend
            .remove(&data_file_path(&inner.dir, file_id))
            .await?;
        inner.backend.sync_dir(&inner.dir).await?;
        run.pacer.rest_after(step.elapsed()).await;
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
