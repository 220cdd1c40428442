//! The one place a failure becomes a Redis error reply: the storage
//! operations' errors (read, write, merge) and execution's own
//! ([`ExecError::Contention`]). Keyed commands reply through [`ExecError`];
//! the shard's FLUSHALL, MERGE, EXEC and raw writes through
//! `shard::storage_error`, which calls [`ErrorReply::reply`] too.

use crate::protocol::Reply;
use crate::storage::{MergeError, ReadError, StorageError, WriteError};

/// Why a keyed command failed once it was running against the store.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A read of the log failed (I/O, a corrupt record).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A write was refused or could not be made durable.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A read-modify-write lost the race to other writes of its key too
    /// many times; nothing was written.
    #[error("too many concurrent writes to the key, try again")]
    Contention,
}

/// An error that has a Redis reply.
pub trait ErrorReply {
    /// The reply a client gets for it.
    fn reply(&self) -> Reply;
}

impl ErrorReply for StorageError {
    fn reply(&self) -> Reply {
        Reply::error(format!("ERR {self}"))
    }
}

impl ErrorReply for ReadError {
    fn reply(&self) -> Reply {
        Reply::error(format!("ERR {self}"))
    }
}

impl ErrorReply for WriteError {
    fn reply(&self) -> Reply {
        match self {
            // Redis's own code for a write refused by a memory limit: the
            // client may retry after a merge or a delete.
            WriteError::DiskFull => Reply::error(self.to_string()),
            WriteError::SlotFull => Reply::error(format!("ERR {self}")),
            WriteError::Storage(error) => error.reply(),
        }
    }
}

impl ErrorReply for MergeError {
    fn reply(&self) -> Reply {
        match self {
            MergeError::Storage(error) => error.reply(),
            MergeError::Abandoned(_) | MergeError::Executor(_) => {
                Reply::error(format!("ERR {self}"))
            }
        }
    }
}

impl ErrorReply for ExecError {
    fn reply(&self) -> Reply {
        match self {
            ExecError::Read(error) => error.reply(),
            ExecError::Write(error) => error.reply(),
            ExecError::Contention => Reply::error(format!("ERR {self}")),
        }
    }
}

/// The reply for `error` (a free function for `map_err`-style callers).
pub fn error_reply(error: &impl ErrorReply) -> Reply {
    error.reply()
}
