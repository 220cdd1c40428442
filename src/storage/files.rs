//! Log file naming, listing and opening.
//!
//! A shard directory holds `NNNNNNNN.data` files: an 8-digit, zero-padded,
//! ascending file id. Ids start at 1; recovery replays files in id order, so
//! a higher id holds newer records (merge output takes ids reserved for it
//! just above the files it read; see `merge.rs`). Beside a sealed file may
//! be its hint file `NNNNNNNN.hint` (see `hint.rs`); a merge writes its
//! output as `NNNNNNNN.merge` and renames it to `.data` once it is complete
//! and synced. Other files in the directory are ignored.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::StorageError;
use super::io::{Backend, LogFile, OpenMode};

/// Suffix of log files.
pub const DATA_SUFFIX: &str = ".data";
/// Suffix of hint files.
pub const HINT_SUFFIX: &str = ".hint";
/// Suffix of merge output not yet swapped in (deleted at open).
pub const MERGE_SUFFIX: &str = ".merge";
/// Digits in a file id.
const ID_DIGITS: usize = 8;
/// Largest file id: the keydir packs file ids into 24 bits.
pub const MAX_FILE_ID: u32 = (1 << 24) - 1;

fn file_path(dir: &Path, file_id: u32, suffix: &str) -> PathBuf {
    dir.join(format!("{file_id:0width$}{suffix}", width = ID_DIGITS))
}

/// The path of log file `file_id` in `dir`.
pub fn data_file_path(dir: &Path, file_id: u32) -> PathBuf {
    file_path(dir, file_id, DATA_SUFFIX)
}

/// The path of the hint file of log file `file_id`.
pub fn hint_file_path(dir: &Path, file_id: u32) -> PathBuf {
    file_path(dir, file_id, HINT_SUFFIX)
}

/// The path merge output for `file_id` has until it is swapped in.
pub fn merge_file_path(dir: &Path, file_id: u32) -> PathBuf {
    file_path(dir, file_id, MERGE_SUFFIX)
}

/// Parses `NNNNNNNN<suffix>` into its id.
pub fn parse_name(name: &str, suffix: &str) -> Option<u32> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != ID_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Parses `NNNNNNNN.data` into its id.
pub fn parse_file_name(name: &str) -> Option<u32> {
    parse_name(name, DATA_SUFFIX)
}

/// The files of a shard directory, by kind; ids ascending.
#[derive(Debug, Default)]
pub struct Listing {
    /// Log files.
    pub data: Vec<u32>,
    /// Hint files.
    pub hints: Vec<u32>,
    /// Unfinished merge output.
    pub merges: Vec<u32>,
}

/// Creates `dir` if needed and lists its log, hint and merge files.
///
/// The real backend uses blocking `std::fs`; it runs once, at open.
pub fn list_files(backend: &Backend, dir: &Path) -> Result<Listing, StorageError> {
    let mut listing = Listing::default();
    for name in backend.list(dir)? {
        if let Some(id) = parse_name(&name, DATA_SUFFIX) {
            listing.data.push(id);
        } else if let Some(id) = parse_name(&name, HINT_SUFFIX) {
            listing.hints.push(id);
        } else if let Some(id) = parse_name(&name, MERGE_SUFFIX) {
            listing.merges.push(id);
        }
    }
    listing.data.sort_unstable();
    listing.hints.sort_unstable();
    listing.merges.sort_unstable();
    Ok(listing)
}

/// Creates `dir` if needed and lists the ids of its log files, ascending.
pub fn list_data_files(dir: &Path) -> Result<Vec<u32>, StorageError> {
    Ok(list_files(&Backend::Dma, dir)?.data)
}

/// Converts a glommio error into a storage I/O error.
pub fn io_err<T>(err: glommio::GlommioError<T>) -> StorageError {
    StorageError::Io(err.into())
}

/// Converts a plain I/O error into a storage I/O error.
pub fn os_err(err: std::io::Error) -> StorageError {
    StorageError::Io(err)
}

/// Opens an existing log file read-only (a sealed file).
pub async fn open_sealed(backend: &Backend, path: &Path) -> Result<Rc<LogFile>, StorageError> {
    Ok(Rc::new(backend.open(path, OpenMode::Read).await?))
}

/// Opens (creating if missing) a log file for reading and appending.
pub async fn open_active(backend: &Backend, path: &Path) -> Result<Rc<LogFile>, StorageError> {
    Ok(Rc::new(
        backend.open(path, OpenMode::ReadWriteCreate).await?,
    ))
}

/// Name of the scratch file [`probe_device`] uses.
const PROBE_FILE: &str = ".dma-probe";

/// Makes glommio decide correctly whether the device supports polled I/O.
///
/// glommio decides this once per thread and device, when the first DMA file
/// on that device is opened, by reading the file's first block through the
/// poll ring. On an *empty* file (or one whose first block was allocated
/// and never written) that read ends without reaching the device, the probe
/// wrongly concludes that polling works, and every later read on a device
/// without poll queues fails with `EOPNOTSUPP`. A new shard starts with an
/// empty log file, and recovery opens the hint files (which a kill can
/// leave empty) before any log file, so before opening anything we open a
/// scratch file holding one real block. Only if that cannot be written (say,
/// a full disk) does the first log file stand in, when it holds a block. A
/// failure here is logged, never fatal: a full disk must not stop a shard
/// from starting.
pub async fn probe_device(backend: &Backend, dir: &Path, first_file: Option<&Path>) {
    if !backend.is_dma() {
        return;
    }
    let path = dir.join(PROBE_FILE);
    let probe = |path: PathBuf| async move {
        match glommio::io::DmaFile::open(&path).await {
            Ok(file) => file.close().await.map_err(io_err),
            Err(error) => Err(io_err(error)),
        }
    };
    let result = match std::fs::write(&path, [0xA5u8; 4096]) {
        Ok(()) => probe(path.clone()).await,
        Err(error) => match first_file
            .filter(|first| std::fs::metadata(first).is_ok_and(|meta| meta.len() >= 4096))
        {
            Some(first) => probe(first.to_path_buf()).await,
            None => Err(error.into()),
        },
    };
    let _ = std::fs::remove_file(&path);
    if let Err(error) = result {
        tracing::warn!(dir = %dir.display(), %error, "DMA device probe failed");
    }
}

/// Makes the directory entries of newly created files durable.
pub async fn sync_dir(backend: &Backend, dir: &Path) -> Result<(), StorageError> {
    backend.sync_dir(dir).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        let path = data_file_path(Path::new("/x"), 42);
        assert_eq!(path, Path::new("/x/00000042.data"));
        assert_eq!(parse_file_name("00000042.data"), Some(42));
        assert_eq!(parse_file_name("42.data"), None);
        assert_eq!(parse_file_name("00000042.hint"), None);
        assert_eq!(parse_file_name("0000004x.data"), None);
    }
}
