//! The public types of the storage layer: options, errors, reports, stats.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use super::io::Backend;

/// How hard a write is pushed to stable storage before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Acknowledge after write + fdatasync (group-committed).
    Always,
    /// Acknowledge after the write reaches the device; fdatasync every `interval`.
    Batch {
        /// Time between fdatasyncs.
        interval: Duration,
    },
    /// Acknowledge after the write reaches the device; never fdatasync explicitly.
    Never,
}

/// Settings of one shard's store.
///
/// `StoreOptions { dir, ..Default::default() }` gives the defaults.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The shard's own directory, `<data dir>/shard-<id>`; created if missing.
    pub dir: PathBuf,
    /// Which shard this is (for log messages and stats).
    pub shard_id: usize,
    /// Roll the active log file over once it would grow past this many bytes.
    pub max_file_size: u64,
    /// Durability policy.
    pub sync: SyncMode,
    /// Byte budget of the value cache (0 disables it).
    pub cache_bytes: u64,
    /// Refuse writes once the log files would hold more than this many
    /// bytes (`None` = no limit). Deletes are always allowed.
    pub max_disk: Option<u64>,
    /// When merges run by themselves.
    pub merge: MergePolicy,
    /// Real DMA files, or a simulated disk for crash tests.
    pub backend: Backend,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            dir: PathBuf::new(),
            shard_id: 0,
            max_file_size: 256 << 20,
            sync: SyncMode::Always,
            cache_bytes: 64 << 20,
            max_disk: None,
            merge: MergePolicy::default(),
            backend: Backend::Dma,
        }
    }
}

/// When a shard merges its log files by itself (Bitcask's defaults).
///
/// A merge *starts* when some sealed file reaches a trigger; it then
/// *includes* every sealed file past a threshold, and the small ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergePolicy {
    /// How often the thresholds are checked; `None` = only on request.
    pub check_interval: Option<Duration>,
    /// Start when a file is at least this % dead.
    pub frag_trigger_percent: u64,
    /// Start when a file holds at least this many dead bytes.
    pub dead_bytes_trigger: u64,
    /// Include files at least this % dead.
    pub frag_threshold_percent: u64,
    /// Include files with at least this many dead bytes.
    pub dead_bytes_threshold: u64,
    /// Include files smaller than this.
    pub small_file_threshold: u64,
}

impl Default for MergePolicy {
    fn default() -> Self {
        MergePolicy {
            check_interval: Some(Duration::from_secs(60)),
            frag_trigger_percent: 60,
            dead_bytes_trigger: 512 << 20,
            frag_threshold_percent: 40,
            dead_bytes_threshold: 128 << 20,
            small_file_threshold: 10 << 20,
        }
    }
}

/// Which files a merge reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeMode {
    /// Per the [`MergePolicy`] thresholds; nothing when no trigger is reached.
    Auto,
    /// Every file, the active one included (it is sealed first): a full
    /// rewrite (MERGE, BGREWRITEAOF).
    Full,
    /// Exactly these sealed files (tests).
    Files(Vec<u32>),
}

/// What one merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Files read (and deleted).
    pub files_in: Vec<u32>,
    /// Files written.
    pub files_out: Vec<u32>,
    /// Records copied.
    pub records_copied: u64,
    /// Records dropped (superseded, deleted, expired, tombstones no longer needed).
    pub records_dropped: u64,
    /// Bytes of the files read.
    pub bytes_in: u64,
    /// Bytes of the files written.
    pub bytes_out: u64,
    /// Wall time.
    pub duration: Duration,
}

/// Identifies one record of one key: changes whenever the key is rewritten.
/// Used for optimistic read-modify-write (see [`Store::put_if`](super::Store::put_if)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(pub u64);

/// A position in the shard's log; a write is durable once the log is durable
/// up to its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ticket(pub u64);

/// What the keydir knows about a live key, without reading its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryMeta {
    /// Length of the value in bytes.
    pub value_len: u32,
    /// Absolute expiry in ms since the Unix epoch; 0 means no expiry.
    pub expire_at_ms: u64,
    /// The record currently holding the key.
    pub version: Version,
}

/// A value read from the store.
#[derive(Debug, Clone)]
pub struct Value {
    /// The value bytes.
    pub data: Bytes,
    /// Keydir metadata at the time of the read.
    pub meta: EntryMeta,
}

/// What [`Store::get_resident`](super::Store::get_resident) found.
#[derive(Debug)]
pub enum Resident {
    /// The answer, from memory: the value, or `None` (absent or expired).
    Found(Option<Value>),
    /// The key's record must be read from disk: [`Store::get`](super::Store::get).
    OnDisk(super::keydir::Entry),
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutIf {
    /// The record was appended.
    Written(Ticket),
    /// The key's current version was not the expected one; nothing was written.
    Conflict,
}

/// What the log files themselves can report: the shared cause inside the
/// errors of the operations that write ([`OpenError`], [`WriteError`],
/// [`MergeError`]). A read has its own, [`ReadError`].
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O error from the device or the filesystem.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The write could not be made durable (disk full, EIO); nothing acknowledged is lost.
    #[error("write failed: {0}")]
    WriteFailed(String),
    /// A record (key + value + header) larger than the format allows.
    #[error("record of {len} bytes is larger than the limit of {max}")]
    RecordTooLarge {
        /// The record's size.
        len: u64,
        /// The format's limit.
        max: u64,
    },
    /// Every log file id is used.
    #[error("out of log file ids")]
    OutOfFileIds,
}

/// Why [`Store::get`](super::Store::get) failed: the key's record could not
/// be read, or is not what was written. Nothing changed; other keys are
/// served as before.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The read failed on the device or in the filesystem.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes read fail their checksum, or hold another key.
    #[error("corrupt record in {file} at offset {offset}: {reason}")]
    Corrupt {
        /// The log file.
        file: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

/// Why [`Store::open`](super::Store::open) failed: the server does not start
/// the shard, and says which file is at fault.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Listing, reading or creating the shard's files failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A log file is larger than offsets can address.
    #[error("{path} is larger than the supported {max} bytes")]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The largest supported size.
        max: u64,
    },
    /// A log file got shorter while it was being read at open.
    #[error("{0} shrank during recovery")]
    FileShrank(PathBuf),
    /// The executor refused the store's background tasks.
    #[error("the shard's executor refused a task: {0}")]
    Executor(String),
}

/// Why a write (`put`, `put_if`, `delete`, `flush_all`, `wait_durable`,
/// `roll_over`) failed. Nothing was acknowledged; reads go on.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The log refused the record or could not make it durable.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The write would take the log files past `--max-disk`; nothing was
    /// written. Deletes never get it. (Redis's refusal of a write over
    /// `maxmemory`: the client may retry after a merge or a delete.)
    #[error("OOM command not allowed when used disk space > 'max-disk'")]
    DiskFull,
    /// The key's hash slot holds the most keydir bytes one slot can.
    #[error(
        "the key's hash slot holds 4 GiB of keys on this shard; spread the keys over more hashtags"
    )]
    SlotFull,
}

/// Why a merge did not complete. The store is unchanged either way: the
/// old files stay in use.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Reading the input or writing the output failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The merge stopped on purpose (another merge runs, a log write failed
    /// meanwhile, the store is closing, an input file vanished or is
    /// damaged); the reason says which.
    #[error("merge abandoned: {0}")]
    Abandoned(&'static str),
    /// The executor refused the merge's task (shutting down).
    #[error("the shard's executor refused a task: {0}")]
    Executor(String),
}

/// What recovery found and did when the shard was opened.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// Log files scanned record by record.
    pub files_scanned: usize,
    /// Log files replayed from their hint file.
    pub hints_loaded: usize,
    /// Hint files found unusable (the log file was scanned): path, reason.
    pub bad_hints: Vec<(PathBuf, String)>,
    /// Records loaded (including superseded ones).
    pub records_scanned: u64,
    /// Live keys after recovery.
    pub keys_loaded: u64,
    /// Bytes cut off a torn tail, if any (file, offset, bytes).
    pub torn_tail: Option<(PathBuf, u64, u64)>,
    /// Corrupt regions skipped before the tail: (file, offset, bytes skipped).
    pub corruptions: Vec<(PathBuf, u64, u64)>,
    /// Wall time of recovery.
    pub duration: Duration,
}

/// Counters of one store, for the per-core stats.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    /// Live keys in the keydir (may include expired keys not yet reaped).
    pub keys: u64,
    /// Bytes of live records.
    pub live_bytes: u64,
    /// Bytes of superseded or deleted records still on disk.
    pub dead_bytes: u64,
    /// Bytes written to log files.
    pub bytes_written: u64,
    /// Bytes read from log files.
    pub bytes_read: u64,
    /// DMA reads submitted.
    pub reads: u64,
    /// DMA writes submitted (one per flush).
    pub writes: u64,
    /// fdatasyncs submitted.
    pub syncs: u64,
    /// Records written by all flushes (records / writes = group-commit batch size).
    pub records_flushed: u64,
    /// Log files on disk.
    pub files: u64,
    /// Bytes of all log files on disk.
    pub disk_bytes: u64,
    /// Bytes counted against `max_disk` (records on disk or buffered).
    pub used_disk: u64,
    /// The disk limit; 0 = none.
    pub max_disk: u64,
    /// Writes refused by the disk limit.
    pub disk_full_refusals: u64,
    /// `get`s served by the value cache.
    pub cache_hits: u64,
    /// `get`s that read the disk.
    pub cache_misses: u64,
    /// Bytes held by the value cache.
    pub cache_bytes: u64,
    /// Merges completed.
    pub merges: u64,
    /// Bytes merges gave back.
    pub merge_reclaimed: u64,
    /// Wall time of all merges, ms.
    pub merge_ms: u64,
    /// Wall time of the last merge, ms.
    pub last_merge_ms: u64,
    /// Hint files written.
    pub hints_written: u64,
    /// Highest fragmentation (dead %) of any sealed file.
    pub max_file_frag_percent: u64,
}
