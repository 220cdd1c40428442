//! Log file naming, listing and opening.
//!
//! A shard directory holds `NNNNNNNN.data` files: an 8-digit, zero-padded,
//! ascending file id. Ids start at 1; a higher id always holds newer records.
//! Other files in the directory are ignored.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use glommio::io::{DmaFile, OpenOptions};

use super::StorageError;

/// Suffix of log files.
pub const DATA_SUFFIX: &str = ".data";
/// Digits in a file id.
const ID_DIGITS: usize = 8;
/// Largest file id that still fits in 8 digits.
pub const MAX_FILE_ID: u32 = 99_999_999;

/// The path of log file `file_id` in `dir`.
pub fn data_file_path(dir: &Path, file_id: u32) -> PathBuf {
    dir.join(format!("{file_id:0width$}{DATA_SUFFIX}", width = ID_DIGITS))
}

/// Parses `NNNNNNNN.data` into its id.
pub fn parse_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(DATA_SUFFIX)?;
    if digits.len() != ID_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Creates `dir` if needed and lists the ids of its log files, ascending.
///
/// Uses blocking `std::fs`; it runs once, at open.
pub fn list_data_files(dir: &Path) -> Result<Vec<u32>, StorageError> {
    std::fs::create_dir_all(dir)?;
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        if let Some(id) = entry.file_name().to_str().and_then(parse_file_name) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Converts a glommio error into a storage I/O error.
pub fn io_err<T>(err: glommio::GlommioError<T>) -> StorageError {
    StorageError::Io(err.into())
}

/// Opens an existing log file read-only (a sealed file).
pub async fn open_sealed(path: &Path) -> Result<Rc<DmaFile>, StorageError> {
    let file = OpenOptions::new()
        .read(true)
        .dma_open(path)
        .await
        .map_err(io_err)?;
    Ok(Rc::new(file))
}

/// Opens (creating if missing) a log file for reading and appending.
pub async fn open_active(path: &Path) -> Result<Rc<DmaFile>, StorageError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .dma_open(path)
        .await
        .map_err(io_err)?;
    Ok(Rc::new(file))
}

/// Name of the scratch file [`probe_device`] uses.
const PROBE_FILE: &str = ".dma-probe";

/// Makes glommio decide correctly whether the device supports polled I/O.
///
/// glommio decides this once per thread and device, when the first DMA file
/// on that device is opened, by reading the file's first block through the
/// poll ring. On an *empty* file that read ends at EOF without reaching the
/// device, the probe wrongly concludes that polling works, and every later
/// read on a device without poll queues fails with `EOPNOTSUPP`. A new shard
/// starts with an empty log file, so before opening any log file we open a
/// scratch file holding one real block — unless the first log file, which
/// recovery opens first, already has data. A failure here (say, a full disk)
/// is logged, never fatal: a full disk must not stop a shard from starting.
pub async fn probe_device(dir: &Path, first_file: Option<&Path>) {
    if first_file.is_some_and(|first| std::fs::metadata(first).is_ok_and(|meta| meta.len() >= 4096))
    {
        return;
    }
    let path = dir.join(PROBE_FILE);
    let result = match std::fs::write(&path, [0xA5u8; 4096]) {
        Ok(()) => match DmaFile::open(&path).await {
            Ok(file) => file.close().await.map_err(io_err),
            Err(error) => Err(io_err(error)),
        },
        Err(error) => Err(error.into()),
    };
    let _ = std::fs::remove_file(&path);
    if let Err(error) = result {
        tracing::warn!(dir = %dir.display(), %error, "DMA device probe failed");
    }
}

/// Makes the directory entries of newly created files durable.
pub async fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    let handle = glommio::io::Directory::open(dir).await.map_err(io_err)?;
    let result = handle.sync().await.map_err(io_err);
    let _ = handle.close().await;
    result
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
