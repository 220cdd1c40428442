//! Rebuilding the keydir from the log files when a shard opens.
//!
//! Files are replayed in id order. A sealed file with a valid hint file is
//! replayed from the hint (keys and locations only); any other file is
//! scanned with large aligned DMA reads ([`SCAN_CHUNK`]), checking every
//! record's CRC. Later records win; a tombstone removes its key; a record
//! already expired at open is treated like a tombstone; a flush-all marker
//! clears the keydir. Leftover merge output (`.merge`, never swapped in) and
//! hint files without a log file are deleted first.
//!
//! Sequence numbers grow strictly along each file (merge output copies
//! records in order too), so a record whose `seq` is not above the last good
//! one *of the same file* is stale (left behind by a rewound flush) and
//! counts as bad, like a failed CRC.
//!
//! When the record at some offset is bad, the scanner searches forward,
//! byte by byte, for the next offset holding a good record:
//! - one is found: the bytes in between are *corruption*. They are reported
//!   loudly (`tracing::error!`, [`RecoveryReport::corruptions`]) and skipped,
//!   so every intact record after them is still served.
//! - none is found and the rest of the file is zeros: clean end of data (the
//!   zero padding of the last flush).
//! - none is found and there are non-zero bytes: a *torn tail*. In the last
//!   file it is truncated away, so old garbage can never reappear behind new
//!   appends, and reported ([`RecoveryReport::torn_tail`], `tracing::warn!`).
//!   In a sealed file, nothing is ever appended again; the bytes are left in
//!   place and reported as corruption.
//!
//! Zeros from the end of a record up to a sector boundary where a record
//! with the next sequence number starts are padding (a big record starts
//! at a block, see "Padding" in `log.rs`), stepped over.
//!
//! One bad region with intact records after it is a torn tail too: the
//! flusher has at most two rounds of writes in flight, starting at the
//! block of the acknowledged end and at most [`IN_FLIGHT_SPAN`] long, and
//! writes are not atomic nor ordered among themselves: a power cut (or a
//! kill mid-write) can land later sectors without earlier ones, leaving
//! zeros before records that were never acknowledged. Serving them would break the prefix property (what
//! survives is a prefix of the log, see the README). So in the last file,
//! when the bad bytes hold a sector of zeros (or its part from the bad
//! offset on) and everything after them, up to the end of the data, lies
//! within [`IN_FLIGHT_SPAN`] of the bad offset's block, the file is
//! truncated at the bad offset. Non-zero garbage with no zero sector,
//! damage further back, or damage in a sealed file stays loud corruption,
//! skipped as above.
//!
//! [`SCAN_CHUNK`]: super::window::SCAN_CHUNK

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use super::files::{
    data_file_path, hint_file_path, list_files, merge_file_path, open_active, open_sealed, os_err,
    probe_device, sync_dir,
};
use super::flusher::IN_FLIGHT_SPAN;
use super::hint;
use super::io::LogFile;
use super::keydir::{Keydir, MAX_OFFSET};
use super::log::{FileStat, Segment};
use super::record::{self, Header};
use super::replay::{Replay, Replayed};
use super::window::Window;
use super::{OpenError, RecoveryReport, StorageError, StoreOptions, SyncMode};

/// Chunks read ahead of a scan at open, so the disk works while the CPU
/// checks and replays the chunk before (nothing else competes at open).
const SCAN_READ_AHEAD: usize = 4;
/// The smallest unit a device writes atomically.
const SECTOR: u64 = 512;

/// Everything `Store::open` needs from recovery.
pub struct Recovered {
    /// The rebuilt keydir.
    pub keydir: Keydir,
    /// Per-file accounting.
    pub stats: BTreeMap<u32, FileStat>,
    /// Sealed files without a valid hint (the maintenance task writes them).
    pub unhinted: Vec<u32>,
    /// Bytes read while scanning.
    pub bytes_read: u64,
    /// DMA reads while scanning.
    pub reads: u64,
    /// Sequence number for the next record.
    pub next_seq: u64,
    /// Open handles: sealed files read-only, the active file read-write.
    pub files: HashMap<u32, Rc<LogFile>>,
    /// The active file's segment: its tail block, ready to be rewritten.
    pub active: Segment,
    /// DMA alignment of the active file.
    pub alignment: u64,
    /// What was found and done.
    pub report: RecoveryReport,
}

/// Queues one scanned record.
fn push_scanned(
    replay: &mut Replay,
    file_id: u32,
    offset: u64,
    header: &Header,
    record_bytes: &[u8],
) {
    replay.file_seq = header.seq;
    replay.push(&Replayed {
        file_id,
        offset,
        flags: header.flags,
        seq: header.seq,
        expire_at_ms: header.expire_at_ms,
        key: record::key_of(header, record_bytes),
        value_len: header.value_len,
    });
}

/// Replays `file_id` from its hint file; `Err(reason)` when the hint is
/// missing or unusable (nothing was applied then).
async fn replay_hint(
    opts: &StoreOptions,
    file_id: u32,
    file_len: u64,
    replay: &mut Replay,
    bytes: &mut Vec<u8>,
) -> Result<u64, String> {
    let path = hint_file_path(&opts.dir, file_id);
    hint::read_file_into(&opts.backend, &path, bytes)
        .await
        .map_err(|error| error.to_string())?;
    let bytes = &bytes[..];
    let header = hint::check(bytes, file_id, file_len).map_err(str::to_string)?;
    // Validate every entry before applying any, so a bad hint changes nothing.
    hint::for_each_entry(bytes, &header, &mut |_| {}).map_err(str::to_string)?;
    if header.flush_all {
        replay.flush_all(file_id);
    }
    hint::for_each_entry(bytes, &header, &mut |entry| {
        replay.push(&Replayed {
            file_id,
            offset: entry.offset,
            flags: entry.flags,
            seq: entry.seq,
            expire_at_ms: entry.expire_at_ms,
            key: entry.key,
            value_len: entry.value_len,
        })
    })
    .map_err(str::to_string)?;
    replay.max_seq = replay.max_seq.max(header.max_seq);
    let stat = replay.stats.entry(file_id).or_default();
    stat.total = header.data_end;
    stat.hinted = true;
    Ok(bytes.len() as u64)
}

/// Truncates the active file at `offset`, a torn tail.
async fn truncate_torn(
    path: &Path,
    window: &mut Window,
    offset: u64,
    report: &mut RecoveryReport,
) -> Result<(), StorageError> {
    let cut = window.file_len - offset;
    tracing::warn!(
        file = %path.display(), offset, bytes = cut,
        "torn tail in the active log file; truncating"
    );
    window.file.truncate(offset).await.map_err(os_err)?;
    window.file.fdatasync().await.map_err(os_err)?;
    window.file_len = offset;
    report.torn_tail = Some((path.to_path_buf(), offset, cut));
    Ok(())
}

/// True when some sector of `bytes` (which start at file offset `from`),
/// or its part from `from` on, is all zeros: what a write that never
/// landed leaves (the space was reserved or zero padding).
fn has_unwritten_sector(bytes: &[u8], from: u64) -> bool {
    let to = from + bytes.len() as u64;
    let mut start = from;
    while start < to {
        let end = start - start % SECTOR + SECTOR;
        if end > to {
            return false;
        }
        let sector = &bytes[(start - from) as usize..(end - from) as usize];
        if sector.iter().all(|&byte| byte == 0) {
            return true;
        }
        start = end;
    }
    false
}

/// For bad bytes `[hole, next)` in the active file, followed by an intact
/// record at `next`: the end of the data after them, when the hole holds
/// an unwritten sector and everything up to that end lies within
/// [`IN_FLIGHT_SPAN`] of the hole's block (the write in flight, none of
/// it acknowledged); `None` otherwise (corruption).
async fn in_flight_tail(
    window: &mut Window,
    hole: u64,
    next: u64,
    mut min_seq: u64,
) -> Result<Option<u64>, StorageError> {
    let limit = hole - hole % window.file.alignment() + IN_FLIGHT_SPAN;
    if next >= limit || !window.ensure(hole, next - hole).await? {
        return Ok(None);
    }
    if !has_unwritten_sector(window.slice(hole, next - hole), hole) {
        return Ok(None);
    }
    let mut offset = next;
    loop {
        if let Some(header) = window.record_at(offset, min_seq).await? {
            min_seq = header.seq;
            offset += header.record_len();
            if offset > limit {
                return Ok(None);
            }
            continue;
        }
        // More damage inside the span is part of the same unacknowledged
        // writes; intact data beyond it is not.
        match window.resync(offset, min_seq).await? {
            (Some(good), _) if good < limit => offset = good,
            (Some(_), _) => return Ok(None),
            (None, _) => return Ok(Some(offset)),
        }
    }
}

/// Scans one file into `replay`; returns the end of its data.
async fn scan_file(
    path: &Path,
    file_id: u32,
    window: &mut Window,
    is_last: bool,
    replay: &mut Replay,
    report: &mut RecoveryReport,
) -> Result<u64, StorageError> {
    let mut offset = 0u64;
    let mut total = 0u64;
    replay.file_seq = 0;
    while offset < window.file_len {
        if let Some(header) = window.record_at(offset, replay.file_seq).await? {
            let len = header.record_len();
            push_scanned(replay, file_id, offset, &header, window.slice(offset, len));
            offset += len;
            total += len;
            continue;
        }
        if let Some(next) = window.after_padding(offset, replay.file_seq).await? {
            offset = next;
            continue;
        }
        let (next_good, all_zero) = window.resync(offset, replay.file_seq).await?;
        if let Some(next) = next_good
            && is_last
            && in_flight_tail(window, offset, next, replay.file_seq)
                .await?
                .is_some()
        {
            truncate_torn(path, window, offset, report).await?;
            break;
        }
        match next_good {
            Some(next) => {
                tracing::error!(
                    file = %path.display(), offset, bytes_skipped = next - offset,
                    "corrupt region in log file; skipped to the next intact record"
                );
                report
                    .corruptions
                    .push((path.to_path_buf(), offset, next - offset));
                offset = next;
            }
            None if all_zero => break,
            None if is_last => {
                truncate_torn(path, window, offset, report).await?;
                break;
            }
            None => {
                let skipped = window.file_len - offset;
                tracing::error!(
                    file = %path.display(), offset, bytes_skipped = skipped,
                    "garbage at the end of a sealed log file; left in place, ignored"
                );
                report
                    .corruptions
                    .push((path.to_path_buf(), offset, skipped));
                break;
            }
        }
    }
    replay.stats.entry(file_id).or_default().total = total;
    Ok(offset)
}

/// Deletes merge output that was never swapped in and hints without a log file.
async fn remove_leftovers(
    opts: &StoreOptions,
    listing: &super::files::Listing,
) -> Result<(), StorageError> {
    let mut removed = false;
    for &id in &listing.merges {
        tracing::warn!(
            shard = opts.shard_id,
            file = id,
            "removing unfinished merge output"
        );
        opts.backend.remove(&merge_file_path(&opts.dir, id)).await?;
        removed = true;
    }
    for &id in &listing.hints {
        if listing.data.binary_search(&id).is_err() {
            opts.backend.remove(&hint_file_path(&opts.dir, id)).await?;
            removed = true;
        }
    }
    if removed {
        sync_dir(&opts.backend, &opts.dir).await?;
    }
    Ok(())
}

/// Opens every log file of `opts.dir`, rebuilds the keydir, and prepares the
/// active file (the last one, or a new file 1).
pub async fn recover(opts: &StoreOptions, now_ms: u64) -> Result<Recovered, OpenError> {
    let started = Instant::now();
    let listing = list_files(&opts.backend, &opts.dir)?;
    remove_leftovers(opts, &listing).await?;
    let ids = listing.data.clone();
    let first_path = ids.first().map(|&id| data_file_path(&opts.dir, id));
    probe_device(&opts.backend, &opts.dir, first_path.as_deref()).await;
    let mut report = RecoveryReport::default();
    let mut replay = Replay::new(now_ms);
    let mut expected = 0;
    for &file_id in &listing.hints {
        if listing.data.binary_search(&file_id).is_ok() {
            let path = hint_file_path(&opts.dir, file_id);
            expected += hint::claimed_entries(&opts.backend, &path)
                .await
                .unwrap_or(0);
        }
    }
    replay.expect(expected);
    let mut hint_bytes = Vec::new();
    let mut files = HashMap::new();
    let mut unhinted = Vec::new();
    let (mut bytes_read, mut reads) = (0u64, 0u64);
    let mut active = None;

    for (index, &file_id) in ids.iter().enumerate() {
        let path = data_file_path(&opts.dir, file_id);
        let is_last = index + 1 == ids.len();
        let file = if is_last {
            open_active(&opts.backend, &path).await?
        } else {
            open_sealed(&opts.backend, &path).await?
        };
        let file_len = file.file_size().await.map_err(os_err)?;
        if is_last && listing.hints.binary_search(&file_id).is_ok() {
            // The last file is appended to from now on (it can be merge
            // output); its hint would go stale without its size changing.
            opts.backend
                .remove(&hint_file_path(&opts.dir, file_id))
                .await?;
            sync_dir(&opts.backend, &opts.dir).await?;
        }
        if !is_last {
            let has_hint = listing.hints.binary_search(&file_id).is_ok();
            let outcome = if has_hint {
                replay_hint(opts, file_id, file_len, &mut replay, &mut hint_bytes).await
            } else {
                Err("no hint file".to_string())
            };
            match outcome {
                Ok(hint_bytes) => {
                    bytes_read += hint_bytes;
                    report.hints_loaded += 1;
                    replay.stats.entry(file_id).or_default().disk = file_len;
                    files.insert(file_id, file);
                    continue;
                }
                Err(reason) => {
                    if has_hint {
                        tracing::warn!(shard = opts.shard_id, file = file_id, %reason, "hint file unusable; scanning the log file");
                        report
                            .bad_hints
                            .push((hint_file_path(&opts.dir, file_id), reason));
                    } else {
                        tracing::info!(
                            shard = opts.shard_id,
                            file = file_id,
                            "no hint file; scanning the log file"
                        );
                    }
                }
            }
        }
        let mut window = Window::new(file.clone(), file_len).with_read_ahead(SCAN_READ_AHEAD);
        let corruptions_before = report.corruptions.len();
        let end = scan_file(
            &path,
            file_id,
            &mut window,
            is_last,
            &mut replay,
            &mut report,
        )
        .await?;
        if end > MAX_OFFSET {
            return Err(OpenError::FileTooLarge {
                path: path.to_path_buf(),
                max: MAX_OFFSET,
            });
        }
        if is_last {
            let tail_start = end - end % file.alignment();
            if !window.ensure(tail_start, end - tail_start).await? {
                return Err(OpenError::FileShrank(path.to_path_buf()));
            }
            let dirty_end = end.next_multiple_of(file.alignment());
            if window.file_len > dirty_end {
                // Zeros written ahead of the data (see `flusher.rs`): give
                // them back; the flusher writes new ones as it appends.
                file.truncate(dirty_end).await.map_err(os_err)?;
                window.file_len = dirty_end;
            }
            active = Some(Segment::reopened(
                file_id,
                tail_start,
                window.slice(tail_start, end - tail_start),
                dirty_end,
                &opts.backend,
            ));
        } else if report.corruptions.len() == corruptions_before {
            unhinted.push(file_id);
        }
        report.files_scanned += 1;
        bytes_read += window.bytes_read;
        reads += window.reads;
        replay.stats.entry(file_id).or_default().disk = window.file_len;
        files.insert(file_id, file);
    }

    let active = match active {
        Some(segment) => segment,
        None => {
            let path = data_file_path(&opts.dir, 1);
            let file = open_active(&opts.backend, &path).await?;
            if opts.sync != SyncMode::Never {
                sync_dir(&opts.backend, &opts.dir).await?;
            }
            files.insert(1, file);
            replay.stats.entry(1).or_default();
            Segment::empty(1, 0)
        }
    };
    let alignment = files[&active.file_id].alignment();

    replay.finish();
    report.records_scanned = replay.records;
    report.keys_loaded = replay.keydir.len() as u64;
    report.duration = started.elapsed();
    tracing::info!(
        shard = opts.shard_id,
        files = ids.len(),
        from_hints = report.hints_loaded,
        scanned = report.files_scanned,
        bad_hints = report.bad_hints.len(),
        records = report.records_scanned,
        keys = report.keys_loaded,
        corruptions = report.corruptions.len(),
        torn_tail = report.torn_tail.is_some(),
        elapsed_ms = report.duration.as_millis() as u64,
        "shard recovered"
    );
    Ok(Recovered {
        keydir: replay.keydir,
        stats: replay.stats,
        unhinted,
        bytes_read,
        reads,
        next_seq: replay.max_seq + 1,
        files,
        active,
        alignment,
        report,
    })
}
