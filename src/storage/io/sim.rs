//! [`SimDisk`]: the in-memory disk of crash and fault tests (see the
//! [parent module](super)'s docs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{OpenMode, ReadBuf};
use crate::storage::StorageError;

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
pub(super) struct Inode {
    /// What reads see now.
    pub(super) data: Vec<u8>,
    /// What the last completed fdatasync made durable.
    durable: Vec<u8>,
    /// Writes since then, in order: (offset, bytes).
    pending: Vec<(u64, Vec<u8>)>,
}

/// The shared state of a [`SimDisk`].
#[derive(Debug, Default)]
pub(super) struct SimState {
    /// Inodes by number.
    inodes: HashMap<u64, Inode>,
    /// Names now: path -> inode.
    pub(super) names: HashMap<PathBuf, u64>,
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
    pub(super) generation: u64,
}

impl SimState {
    pub(super) fn inode(&self, inode: u64) -> &Inode {
        &self.inodes[&inode]
    }

    pub(super) fn inode_mut(&mut self, inode: u64) -> &mut Inode {
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
    pub(super) alignment: u64,
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
    pub(super) disk: SimDisk,
    pub(super) inode: u64,
    writable: bool,
    /// The disk's generation when opened.
    pub(super) generation: u64,
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

    pub(super) fn lock(&self) -> MutexGuard<'_, SimState> {
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
    pub(super) fn live_state(&self) -> Result<MutexGuard<'_, SimState>, StorageError> {
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

    pub(super) fn open(&self, path: &Path, mode: OpenMode) -> Result<SimFile, StorageError> {
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

    pub(super) fn list(&self, dir: &Path) -> Result<Vec<String>, StorageError> {
        let state = self.live_state()?;
        Ok(state
            .names
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(str::to_string))
            .collect())
    }

    pub(super) fn sync_dir(&self, dir: &Path) -> Result<(), StorageError> {
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

pub(super) fn stale() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::EIO)
}

impl SimFile {
    pub(super) fn read_at(&self, pos: u64, len: usize) -> std::io::Result<ReadBuf> {
        let state = self.disk.lock();
        if state.generation != self.generation {
            return Err(stale());
        }
        let data = &state.inode(self.inode).data;
        let from = (pos as usize).min(data.len());
        let to = (pos as usize).saturating_add(len).min(data.len());
        Ok(ReadBuf::Mem(data[from..to].to_vec()))
    }

    pub(super) fn write_at(&self, bytes: &[u8], pos: u64) -> std::io::Result<usize> {
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

    pub(super) fn fdatasync(&self) -> std::io::Result<()> {
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
