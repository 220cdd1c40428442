//! The merge's swap step: point the keydir, the value cache and pending
//! undo records at the merge output, then forget the input files.

use std::collections::{BTreeSet, HashMap};

use super::keydir::{pack_location, unpack_file_id};
use super::log::UndoOp;
use super::pacer::Pacer;
use super::state::Inner;

/// The live (non-tombstone) records copied into one output file, kept so
/// the swap can walk them a few at a time without parsing the hint.
#[derive(Default)]
pub(super) struct Moved {
    /// The keys, back to back.
    pub(super) keys: Vec<u8>,
    /// Per record: where its key ends in `keys` (it starts where the
    /// previous one ends) and the record's offset in the output file.
    pub(super) records: Vec<(usize, u64)>,
}

impl Moved {
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> + '_ {
        let mut start = 0;
        self.records.iter().map(move |&(end, offset)| {
            let key = &self.keys[start..end];
            start = end;
            (key, offset)
        })
    }
}

/// An output file written, synced and hinted, waiting for the swap.
pub(super) struct Finished {
    pub(super) file_id: u32,
    /// Size on disk.
    pub(super) file_len: u64,
    /// Offset just past the last record.
    pub(super) data_end: u64,
    pub(super) hint: Vec<u8>,
    pub(super) moved: Moved,
}

/// Entries the swap relocates per step; each step runs without yielding,
/// so it sees a consistent keydir and undo log.
const SWAP_STEP: usize = 256;

/// Points everything that still points into the inputs at the copies in
/// `output`: keydir entries, cached values, and the previous entries of
/// pending undo records (a write that fails rolls its key back to them).
///
/// Runs [`SWAP_STEP`] records at a time and pauses between steps when the
/// slice is used up. That is safe because every step re-reads the state:
/// a write between steps moves its key's entry out of the inputs (the step
/// then leaves the entry alone, and fixes the new undo record's previous
/// entry instead), a rollback between steps restores an entry the step
/// relocates when it gets there or already relocated, and reads of a key
/// not relocated yet still find its input file open (inputs are forgotten
/// only by [`finish_swap`], after the last step).
pub(super) async fn swap_file(
    inner: &Inner,
    inputs: &BTreeSet<u32>,
    output: &Finished,
    pacer: &mut Pacer,
) {
    let file_id = output.file_id;
    let in_inputs = |location: u64| inputs.contains(&unpack_file_id(location));
    let mut records = output.moved.iter().peekable();
    let mut step: HashMap<&[u8], u64> = HashMap::with_capacity(SWAP_STEP);
    while records.peek().is_some() {
        step.clear();
        step.extend(
            records
                .by_ref()
                .take(SWAP_STEP)
                .map(|(key, offset)| (key, pack_location(file_id, offset))),
        );
        {
            let mut log = inner.log.borrow_mut();
            let mut keydir = inner.keydir.borrow_mut();
            let mut cache = inner.cache.borrow_mut();
            for (&key, &location) in &step {
                if let Some((entry, slot)) = keydir.get_cached(key)
                    && in_inputs(entry.location)
                {
                    keydir.relocate(key, entry.location, location);
                    cache.relocate_at(slot, entry.location, location);
                    log.stat(file_id).live += entry.record_len as u64;
                }
            }
            // Pending writes whose previous entry points into the inputs.
            for undo in log.undo.iter_mut() {
                match &mut undo.op {
                    UndoOp::Key {
                        key,
                        previous: Some(previous),
                        ..
                    } if in_inputs(previous.location) => {
                        if let Some(&location) = step.get(&key[..]) {
                            previous.location = location;
                        }
                    }
                    UndoOp::FlushAll(previous) => {
                        for (&key, &location) in &step {
                            if let Some(entry) = previous.get(key)
                                && in_inputs(entry.location)
                            {
                                previous.relocate(key, entry.location, location);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        pacer.tick().await;
    }
}

/// Drops what is left pointing into the inputs (current records that had
/// expired and were not copied) and forgets the input files.
pub(super) fn finish_swap(inner: &Inner, inputs: &BTreeSet<u32>, dropped_current: &[Box<[u8]>]) {
    let in_inputs = |location: u64| inputs.contains(&unpack_file_id(location));
    let mut log = inner.log.borrow_mut();
    let mut keydir = inner.keydir.borrow_mut();
    for key in dropped_current {
        if let Some((entry, slot)) = keydir.get_cached(key)
            && in_inputs(entry.location)
        {
            keydir.remove(key);
            inner.cache.borrow_mut().remove_at(slot, entry.location);
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
