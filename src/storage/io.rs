//! The I/O seam under the log layer: every byte the store reads or writes,
//! and every file it creates, renames, removes or syncs, goes through here.
//!
//! Two backends, chosen per store by [`StoreOptions::backend`](super::StoreOptions):
//! - [`Backend::Dma`]: the real thing, glommio `DmaFile`s (O_DIRECT over
//!   io_uring). Dispatch is a `match` on a two-variant enum, so the real path
//!   pays one predictable branch, no `dyn` call and no allocation.
//! - [`Backend::Sim`]: a [`SimDisk`] in memory for crash tests. It remembers,
//!   per file, what a completed fdatasync made durable and, per directory,
//!   which names a directory sync made durable. [`SimDisk::dirty_reboot`]
//!   throws away everything else (optionally keeping a torn prefix of the
//!   unsynced writes, cut at a sector boundary), and [`SimDisk::fail_next`]
//!   makes a chosen write or sync fail with EIO or ENOSPC.

use std::collections::HashMap;
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};

use glommio::io::{DmaBuffer, DmaFile, OpenOptions, ReadResult};

use super::StorageError;
use crate::net::direct::{AlignedBuf, DirectReader};

/// Which I/O backend a store runs on.
#[derive(Debug, Clone, Default)]
pub enum Backend {
    /// Real files with O_DIRECT over io_uring.
    #[default]
    Dma,
    /// An in-memory disk that can lose unsynced bytes and inject errors.
    Sim(SimDisk),
}

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read-only; the file must exist.
    Read,
    /// Read and write; created if missing.
    ReadWriteCreate,
}

/// An open file of either backend.
pub enum LogFile {
    /// A real DMA file.
    Dma(DmaFile),
    /// A file of a [`SimDisk`].
    Sim(SimFile),
}

/// Bytes read from a file.
pub enum ReadBuf {
    /// A DMA read result.
    Dma(ReadResult),
    /// A copy out of a simulated file.
    Mem(Vec<u8>),
    /// A read through a [`DirectReader`]: `len` bytes from `from` of `buf`.
    Direct {
        /// The buffer the read filled from an aligned position.
        buf: AlignedBuf,
        /// Where the bytes asked for start in it.
        from: usize,
        /// How many of them were read.
        len: usize,
    },
}

impl Deref for ReadBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ReadBuf::Dma(result) => result,
            ReadBuf::Mem(bytes) => bytes,
            // SAFETY: the read wrote `from + len` bytes (see `read_direct`).
            ReadBuf::Direct { buf, from, len } => unsafe { &buf.filled(from + len)[*from..] },
        }
    }
}

/// An aligned buffer to write from.
pub enum WriteBuf {
    /// A DMA buffer.
    Dma(DmaBuffer),
    /// A plain buffer for a simulated file.
    Mem(Vec<u8>),
}

impl WriteBuf {
    /// The bytes to fill.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        match self {
            WriteBuf::Dma(buffer) => buffer.as_bytes_mut(),
            WriteBuf::Mem(bytes) => bytes,
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            WriteBuf::Dma(buffer) => buffer.as_bytes(),
            WriteBuf::Mem(bytes) => bytes,
        }
    }

    /// Cuts the buffer to its first `len` bytes (a write writes it whole).
    pub fn trim(&mut self, len: usize) {
        match self {
            WriteBuf::Dma(buffer) => buffer.trim_to_size(len),
            WriteBuf::Mem(bytes) => bytes.truncate(len),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            WriteBuf::Dma(buffer) => buffer.len(),
            WriteBuf::Mem(bytes) => bytes.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A filled buffer that is written many times (the flusher's zeros ahead
/// of the log's tail): filled once, not once per write.
#[derive(Clone)]
pub enum SharedBuf {
    /// A DMA buffer.
    Dma(Rc<DmaBuffer>),
    /// A plain buffer for a simulated file.
    Mem(Rc<Vec<u8>>),
}

impl WriteBuf {
    /// Freezes the buffer for [`LogFile::write_shared_at`].
    pub fn share(self) -> SharedBuf {
        match self {
            WriteBuf::Dma(buffer) => SharedBuf::Dma(Rc::new(buffer)),
            WriteBuf::Mem(bytes) => SharedBuf::Mem(Rc::new(bytes)),
        }
    }
}

impl SharedBuf {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SharedBuf::Dma(buffer) => buffer.as_bytes(),
            SharedBuf::Mem(bytes) => bytes,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            SharedBuf::Dma(buffer) => buffer.len(),
            SharedBuf::Mem(bytes) => bytes.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Smallest write unit on a DMA file: a filesystem block. A device may
/// accept 512-byte aligned direct I/O, but ext4 (4 KiB blocks) serializes a
/// direct write that starts or ends inside a block and zeroes around it:
/// fio appending 1 MiB + 512 B writes at QD1 reaches 620 MB/s against
/// 1,287 MB/s for 1 MiB writes on this machine's ext4.
pub const FS_BLOCK: u64 = 4096;

fn glommio_err<T>(error: glommio::GlommioError<T>) -> std::io::Error {
    error.into()
}

impl LogFile {
    /// The alignment of every write and aligned read: the device's DMA
    /// alignment, but at least a filesystem block ([`FS_BLOCK`]).
    pub fn alignment(&self) -> u64 {
        match self {
            LogFile::Dma(file) => file.alignment().max(FS_BLOCK),
            LogFile::Sim(file) => file.disk.alignment,
        }
    }

    /// Reads up to `len` bytes at `pos` (fewer at end of file).
    pub async fn read_at(&self, pos: u64, len: usize) -> std::io::Result<ReadBuf> {
        match self {
            LogFile::Dma(file) => file
                .read_at(pos, len)
                .await
                .map(ReadBuf::Dma)
                .map_err(glommio_err),
            LogFile::Sim(file) => file.read_at(pos, len),
        }
    }

    /// [`LogFile::read_at`] through `reader` (see [`crate::net::direct`]) for a
    /// real file; a simulated one reads as ever.
    pub async fn read_direct(
        self: &Rc<Self>,
        reader: &dyn DirectReader,
        pos: u64,
        len: usize,
    ) -> std::io::Result<ReadBuf> {
        let file = match &**self {
            LogFile::Dma(file) => file,
            LogFile::Sim(file) => return file.read_at(pos, len),
        };
        // O_DIRECT: position, length and memory aligned to the device.
        let align = file.alignment().max(512);
        let start = pos - pos % align;
        let from = (pos - start) as usize;
        let span = (from + len).next_multiple_of(align as usize);
        let buf = AlignedBuf::with_capacity(span);
        let keep: Rc<dyn std::any::Any> = self.clone();
        let (result, buf) = reader.read(file.as_raw_fd(), keep, buf, span, start).await;
        let read = result?;
        Ok(ReadBuf::Direct {
            buf,
            from,
            len: read.saturating_sub(from).min(len),
        })
    }

    /// Like [`LogFile::read_at`] for an aligned `pos` and `len`.
    pub async fn read_at_aligned(&self, pos: u64, len: usize) -> std::io::Result<ReadBuf> {
        match self {
            LogFile::Dma(file) => file
                .read_at_aligned(pos, len)
                .await
                .map(ReadBuf::Dma)
                .map_err(glommio_err),
            LogFile::Sim(file) => file.read_at(pos, len),
        }
    }

    /// An uninitialised-or-zeroed buffer of `len` bytes suitable for `write_at`.
    pub fn alloc_buffer(&self, len: usize) -> WriteBuf {
        match self {
            LogFile::Dma(file) => WriteBuf::Dma(file.alloc_dma_buffer(len)),
            LogFile::Sim(_) => WriteBuf::Mem(vec![0; len]),
        }
    }

    /// Writes the whole buffer at `pos`; returns the bytes written.
    pub async fn write_at(&self, buffer: WriteBuf, pos: u64) -> std::io::Result<usize> {
        match (self, buffer) {
            (LogFile::Dma(file), WriteBuf::Dma(buffer)) => {
                file.write_at(buffer, pos).await.map_err(glommio_err)
            }
            (LogFile::Sim(file), WriteBuf::Mem(bytes)) => file.write_at(&bytes, pos),
            _ => Err(std::io::Error::other("buffer of another backend")),
        }
    }

    /// Writes the whole of a shared buffer at `pos`; returns the bytes written.
    pub async fn write_shared_at(&self, buffer: &SharedBuf, pos: u64) -> std::io::Result<usize> {
        match (self, buffer) {
            (LogFile::Dma(file), SharedBuf::Dma(buffer)) => file
                .write_rc_at(buffer.clone(), pos)
                .await
                .map_err(glommio_err),
            (LogFile::Sim(file), SharedBuf::Mem(bytes)) => file.write_at(bytes, pos),
            _ => Err(std::io::Error::other("buffer of another backend")),
        }
    }

    /// Makes every completed write durable.
    pub async fn fdatasync(&self) -> std::io::Result<()> {
        match self {
            LogFile::Dma(file) => file.fdatasync().await.map_err(glommio_err),
            LogFile::Sim(file) => file.fdatasync(),
        }
    }

    /// Allocates the file's blocks up to `len` bytes (fallocate, mode 0:
    /// the file grows to `len` if shorter; the new blocks read as zeros).
    /// Writes into them then neither allocate blocks nor change the size,
    /// so the kernel completes them without a worker thread. A simulated
    /// file has no blocks: nothing happens there.
    pub async fn allocate(&self, len: u64) -> std::io::Result<()> {
        match self {
            LogFile::Dma(file) => file.pre_allocate(len, false).await.map_err(glommio_err),
            LogFile::Sim(_) => Ok(()),
        }
    }

    /// Cuts the file to `len` bytes.
    pub async fn truncate(&self, len: u64) -> std::io::Result<()> {
        match self {
            LogFile::Dma(file) => file.truncate(len).await.map_err(glommio_err),
            LogFile::Sim(file) => {
                let mut state = file.disk.lock();
                // A handle from before a reboot: its inode may be gone.
                if state.generation != file.generation {
                    return Err(stale());
                }
                state.inode_mut(file.inode).data.truncate(len as usize);
                Ok(())
            }
        }
    }

    /// The size of the file in bytes.
    pub async fn file_size(&self) -> std::io::Result<u64> {
        match self {
            LogFile::Dma(file) => file.file_size().await.map_err(glommio_err),
            LogFile::Sim(file) => {
                let state = file.disk.lock();
                if state.generation != file.generation {
                    return Err(stale());
                }
                Ok(state.inode(file.inode).data.len() as u64)
            }
        }
    }
}

impl Backend {
    /// Opens `path`.
    pub async fn open(&self, path: &Path, mode: OpenMode) -> Result<LogFile, StorageError> {
        match self {
            Backend::Dma => {
                let mut options = OpenOptions::new();
                options.read(true);
                if mode == OpenMode::ReadWriteCreate {
                    options.write(true).create(true);
                }
                let file = options
                    .dma_open(path)
                    .await
                    .map_err(|e| StorageError::Io(glommio_err(e)))?;
                Ok(LogFile::Dma(file))
            }
            Backend::Sim(disk) => disk.open(path, mode).map(LogFile::Sim),
        }
    }

    /// Creates `dir` if needed and lists the names of its regular files.
    pub fn list(&self, dir: &Path) -> Result<Vec<String>, StorageError> {
        match self {
            Backend::Dma => {
                std::fs::create_dir_all(dir)?;
                let mut names = Vec::new();
                for entry in std::fs::read_dir(dir)? {
                    let entry = entry?;
                    if entry.file_type()?.is_file()
                        && let Some(name) = entry.file_name().to_str()
                    {
                        names.push(name.to_string());
                    }
                }
                Ok(names)
            }
            Backend::Sim(disk) => disk.list(dir),
        }
    }

    /// Removes a file (absent is not an error).
    pub async fn remove(&self, path: &Path) -> Result<(), StorageError> {
        match self {
            Backend::Dma => match glommio::io::remove(path).await {
                Ok(()) => Ok(()),
                Err(error) => {
                    let error = glommio_err(error);
                    if error.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(error.into())
                    }
                }
            },
            Backend::Sim(disk) => {
                disk.live_state()?.names.remove(path);
                Ok(())
            }
        }
    }

    /// Renames `from` to `to` (replacing `to`).
    pub async fn rename(&self, from: &Path, to: &Path) -> Result<(), StorageError> {
        match self {
            Backend::Dma => glommio::io::rename(from, to)
                .await
                .map_err(|e| StorageError::Io(glommio_err(e))),
            Backend::Sim(disk) => {
                let mut state = disk.live_state()?;
                let inode = state.names.remove(from).ok_or_else(|| {
                    StorageError::Io(std::io::Error::from(std::io::ErrorKind::NotFound))
                })?;
                state.names.insert(to.to_path_buf(), inode);
                Ok(())
            }
        }
    }

    /// Makes the directory entries of `dir` (creations, renames, removals) durable.
    pub async fn sync_dir(&self, dir: &Path) -> Result<(), StorageError> {
        match self {
            Backend::Dma => {
                // glommio opens a directory relative to no directory at all
                // (EBADF for a relative path), so resolve it here.
                let dir = std::path::absolute(dir)?;
                let handle = glommio::io::Directory::open(&dir)
                    .await
                    .map_err(|e| StorageError::Io(glommio_err(e)))?;
                let result = handle
                    .sync()
                    .await
                    .map_err(|e| StorageError::Io(glommio_err(e)));
                let _ = handle.close().await;
                result
            }
            Backend::Sim(disk) => disk.sync_dir(dir),
        }
    }

    /// The backend a store keeps: a simulated disk is bound to the current
    /// reboot generation.
    pub fn bind(&self) -> Backend {
        match self {
            Backend::Dma => Backend::Dma,
            Backend::Sim(disk) => Backend::Sim(disk.bind()),
        }
    }

    /// A buffer of `len` bytes to write to this backend's files
    /// (uninitialised for DMA: the caller fills what it writes).
    pub fn alloc_buffer(&self, len: usize) -> WriteBuf {
        match self {
            Backend::Dma => WriteBuf::Dma(glommio::allocate_dma_buffer(len)),
            Backend::Sim(_) => WriteBuf::Mem(vec![0; len]),
        }
    }

    /// True for the real backend.
    pub fn is_dma(&self) -> bool {
        matches!(self, Backend::Dma)
    }
}

/// Which operation [`SimDisk::fail_next`] makes fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimOp {
    /// The next `write_at` on any file.
    Write,
    /// The next `fdatasync` on any file.
    Sync,
}

/// How the unsynced writes are treated by [`SimDisk::dirty_reboot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tear {
    /// Every byte not covered by a completed fdatasync is lost.
    Forget,
    /// Per file, the first `writes` unsynced writes reached the media, the
    /// last of them only up to `sectors` sectors of `sector` bytes.
    Torn {
        /// How many unsynced writes (in order) reached the media.
        writes: usize,
        /// Sectors of the last of them that did.
        sectors: usize,
        /// Sector size (512 or 4096).
        sector: usize,
    },
}

/// One file's content in a [`SimDisk`].
#[derive(Debug, Default, Clone)]
struct Inode {
    /// What reads see now.
    data: Vec<u8>,
    /// What the last completed fdatasync made durable.
    durable: Vec<u8>,
    /// Writes since then, in order: (offset, bytes).
    pending: Vec<(u64, Vec<u8>)>,
}

/// The shared state of a [`SimDisk`].
#[derive(Debug, Default)]
struct SimState {
    /// Inodes by number.
    inodes: HashMap<u64, Inode>,
    /// Names now: path -> inode.
    names: HashMap<PathBuf, u64>,
    /// Names as the last directory syncs left them.
    durable_names: HashMap<PathBuf, u64>,
    /// Next inode number.
    next_inode: u64,
    /// Fail the next operation of this kind with this errno.
    fail: Vec<(SimOp, i32)>,
    /// Bytes all files together may hold; writes past it fail with ENOSPC.
    capacity: Option<u64>,
    /// Writes and syncs so far (for tests that count).
    ops: u64,
    /// Bumped by every reboot; handles opened before it fail with EIO.
    generation: u64,
}

impl SimState {
    fn inode(&self, inode: u64) -> &Inode {
        &self.inodes[&inode]
    }

    fn inode_mut(&mut self, inode: u64) -> &mut Inode {
        self.inodes.get_mut(&inode).expect("open inode exists")
    }

    fn take_failure(&mut self, op: SimOp) -> Option<std::io::Error> {
        let index = self.fail.iter().position(|(kind, _)| *kind == op)?;
        let (_, errno) = self.fail.remove(index);
        Some(std::io::Error::from_raw_os_error(errno))
    }
}

/// An in-memory disk for crash and fault tests (see the module docs).
///
/// Cheap to clone (shared state); `Send`, so it can be made outside the
/// executor that uses it.
#[derive(Clone)]
pub struct SimDisk {
    state: Arc<Mutex<SimState>>,
    /// The block size files report as their DMA alignment.
    alignment: u64,
    /// Set on the copy a store holds: the reboot generation it was opened
    /// in. Every operation through it fails once the disk was rebooted, as
    /// if the process that held it had died with the machine.
    bound: Option<u64>,
}

impl std::fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDisk")
            .field("alignment", &self.alignment)
            .field("bound", &self.bound)
            .finish()
    }
}

impl Default for SimDisk {
    fn default() -> Self {
        SimDisk::new(512)
    }
}

/// A file of a [`SimDisk`].
pub struct SimFile {
    disk: SimDisk,
    inode: u64,
    writable: bool,
    /// The disk's generation when opened.
    generation: u64,
}

impl SimDisk {
    /// An empty disk whose files report `alignment` as their block size.
    pub fn new(alignment: u64) -> SimDisk {
        SimDisk {
            state: Arc::new(Mutex::new(SimState::default())),
            alignment,
            bound: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy bound to the current reboot generation (what a store holds).
    pub fn bind(&self) -> SimDisk {
        let generation = self.lock().generation;
        SimDisk {
            bound: Some(generation),
            ..self.clone()
        }
    }

    /// The state, unless this copy belongs to an earlier generation.
    fn live_state(&self) -> Result<MutexGuard<'_, SimState>, StorageError> {
        let state = self.lock();
        match self.bound {
            Some(generation) if generation != state.generation => Err(stale().into()),
            _ => Ok(state),
        }
    }

    /// Limits the bytes all files may hold together (`None` = unlimited).
    pub fn set_capacity(&self, capacity: Option<u64>) {
        self.lock().capacity = capacity;
    }

    /// Makes the next `op` fail with `errno` (e.g. `libc::EIO`, `libc::ENOSPC`).
    pub fn fail_next(&self, op: SimOp, errno: i32) {
        self.lock().fail.push((op, errno));
    }

    /// Drops pending injected failures.
    pub fn clear_failures(&self) {
        self.lock().fail.clear();
    }

    /// Writes and syncs performed so far.
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// Bytes held by all named files now.
    pub fn used_bytes(&self) -> u64 {
        let state = self.lock();
        state
            .names
            .values()
            .map(|inode| state.inodes[inode].data.len() as u64)
            .sum()
    }

    /// The current content of `path`, if it exists.
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.lock();
        state
            .names
            .get(path)
            .map(|inode| state.inodes[inode].data.clone())
    }

    /// Replaces the content of `path` (creating it), durably. For tests that
    /// damage files.
    pub fn write_file(&self, path: &Path, bytes: &[u8]) {
        let mut state = self.lock();
        let inode = match state.names.get(path) {
            Some(&inode) => inode,
            None => {
                let inode = state.next_inode;
                state.next_inode += 1;
                state.names.insert(path.to_path_buf(), inode);
                state.durable_names.insert(path.to_path_buf(), inode);
                inode
            }
        };
        let file = state.inodes.entry(inode).or_default();
        file.data = bytes.to_vec();
        file.durable = bytes.to_vec();
        file.pending.clear();
    }

    /// A crash: every name not made durable by a directory sync and every
    /// byte not made durable by an fdatasync is lost, except what `tear`
    /// lets through. Files must not be used across this call (reopen the store).
    pub fn dirty_reboot(&self, tear: Tear) {
        let mut state = self.lock();
        state.generation += 1;
        state.names = state.durable_names.clone();
        state.fail.clear();
        let live: std::collections::HashSet<u64> = state.names.values().copied().collect();
        state.inodes.retain(|inode, _| live.contains(inode));
        for inode in state.inodes.values_mut() {
            let mut data = std::mem::take(&mut inode.durable);
            if let Tear::Torn {
                writes,
                sectors,
                sector,
            } = tear
            {
                let kept = writes.min(inode.pending.len());
                for (index, (offset, bytes)) in inode.pending.iter().take(kept).enumerate() {
                    let len = if index + 1 == kept {
                        (sectors * sector).min(bytes.len())
                    } else {
                        bytes.len()
                    };
                    apply_write(&mut data, *offset, &bytes[..len]);
                }
            }
            inode.pending.clear();
            inode.durable = data.clone();
            inode.data = data;
        }
    }

    /// A clean shutdown of the machine: everything written survives.
    pub fn clean_reboot(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.durable_names = state.names.clone();
        state.fail.clear();
        for inode in state.inodes.values_mut() {
            inode.durable = inode.data.clone();
            inode.pending.clear();
        }
    }

    fn open(&self, path: &Path, mode: OpenMode) -> Result<SimFile, StorageError> {
        let mut state = self.live_state()?;
        let inode = match (state.names.get(path), mode) {
            (Some(&inode), _) => inode,
            (None, OpenMode::Read) => {
                return Err(StorageError::Io(std::io::Error::from(
                    std::io::ErrorKind::NotFound,
                )));
            }
            (None, OpenMode::ReadWriteCreate) => {
                let inode = state.next_inode;
                state.next_inode += 1;
                state.inodes.insert(inode, Inode::default());
                state.names.insert(path.to_path_buf(), inode);
                inode
            }
        };
        let generation = state.generation;
        Ok(SimFile {
            disk: self.clone(),
            inode,
            writable: mode == OpenMode::ReadWriteCreate,
            generation,
        })
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>, StorageError> {
        let state = self.live_state()?;
        Ok(state
            .names
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(str::to_string))
            .collect())
    }

    fn sync_dir(&self, dir: &Path) -> Result<(), StorageError> {
        let mut state = self.live_state()?;
        state.ops += 1;
        if let Some(error) = state.take_failure(SimOp::Sync) {
            return Err(error.into());
        }
        let in_dir = |path: &PathBuf| path.parent() == Some(dir);
        state.durable_names.retain(|path, _| !in_dir(path));
        let current: Vec<(PathBuf, u64)> = state
            .names
            .iter()
            .filter(|(path, _)| in_dir(path))
            .map(|(path, inode)| (path.clone(), *inode))
            .collect();
        state.durable_names.extend(current);
        Ok(())
    }
}

fn apply_write(data: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let offset = offset as usize;
    if data.len() < offset + bytes.len() {
        data.resize(offset + bytes.len(), 0);
    }
    data[offset..offset + bytes.len()].copy_from_slice(bytes);
}

fn stale() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::EIO)
}

impl SimFile {
    fn read_at(&self, pos: u64, len: usize) -> std::io::Result<ReadBuf> {
        let state = self.disk.lock();
        if state.generation != self.generation {
            return Err(stale());
        }
        let data = &state.inode(self.inode).data;
        let from = (pos as usize).min(data.len());
        let to = (pos as usize).saturating_add(len).min(data.len());
        Ok(ReadBuf::Mem(data[from..to].to_vec()))
    }

    fn write_at(&self, bytes: &[u8], pos: u64) -> std::io::Result<usize> {
        let mut state = self.disk.lock();
        state.ops += 1;
        if state.generation != self.generation {
            return Err(stale());
        }
        if !self.writable {
            return Err(std::io::Error::from_raw_os_error(libc::EBADF));
        }
        if let Some(error) = state.take_failure(SimOp::Write) {
            return Err(error);
        }
        if let Some(capacity) = state.capacity {
            let current = state.inode(self.inode).data.len() as u64;
            let grows_by = (pos + bytes.len() as u64).saturating_sub(current);
            let used: u64 = state
                .names
                .values()
                .map(|inode| state.inodes[inode].data.len() as u64)
                .sum();
            if grows_by > 0 && used + grows_by > capacity {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        let inode = state.inode_mut(self.inode);
        apply_write(&mut inode.data, pos, bytes);
        inode.pending.push((pos, bytes.to_vec()));
        Ok(bytes.len())
    }

    fn fdatasync(&self) -> std::io::Result<()> {
        let mut state = self.disk.lock();
        state.ops += 1;
        if state.generation != self.generation {
            return Err(stale());
        }
        if let Some(error) = state.take_failure(SimOp::Sync) {
            // The device lost the unsynced writes: reads see the durable state.
            let inode = state.inode_mut(self.inode);
            inode.data = inode.durable.clone();
            inode.pending.clear();
            return Err(error);
        }
        let inode = state.inode_mut(self.inode);
        inode.durable = inode.data.clone();
        inode.pending.clear();
        Ok(())
    }
}
