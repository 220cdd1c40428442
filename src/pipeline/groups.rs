//! A batch's commands grouped per owning shard, and their replies gathered
//! back in request order: the connection's batches and EXEC's steps both
//! collect keyed commands here, send each shard its group, and hand the
//! groups' replies back to put every command's reply in its place.

use super::plan::{Split, gather, split};
use crate::commands::{Command, Gather};
use crate::protocol::Reply;

/// Where the reply of one command comes from.
pub enum Slot {
    /// Already known.
    Ready(Reply),
    /// Reply `index` of the group sent to `shard`.
    One {
        /// The shard the group went to.
        shard: usize,
        /// The command's position in that group.
        index: usize,
    },
    /// A split command: parts (shard, position in its group, argument
    /// positions) to gather.
    Parts {
        /// How the parts' replies combine.
        gather: Gather,
        /// Keys of the whole command.
        nr_keys: usize,
        /// One per shard involved.
        parts: Vec<(usize, usize, Vec<usize>)>,
    },
}

/// Commands a connection's batch keeps room for between batches: a
/// vector grown past this (a long pipeline) is given back afterwards.
pub const KEEP_AT_MOST: usize = 64;

/// Commands in request order, grouped per owning shard. One lives as long
/// as its connection (or EXEC): its vectors are reused batch after batch.
pub struct Groups {
    /// One per command, in request order.
    slots: Vec<Slot>,
    /// Each shard's commands, in request order.
    per_shard: Vec<Vec<Command>>,
    /// Commands expected: a group's vector is allocated at that size on its
    /// first command instead of growing by doubling.
    cap: usize,
}

impl Groups {
    /// No commands yet, for `nr_shards` shards, expecting about `cap`.
    pub fn new(nr_shards: usize, cap: usize) -> Groups {
        Groups {
            slots: Vec::with_capacity(cap),
            per_shard: (0..nr_shards).map(|_| Vec::new()).collect(),
            cap,
        }
    }

    /// Commands so far.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True before the first command.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds a command whose reply is known already.
    pub fn push_ready(&mut self, reply: Reply) {
        self.slots.push(Slot::Ready(reply));
    }

    /// Adds a keyed command: whole to its owner's group, or split in parts
    /// across groups. A command that must see all its keys at once across
    /// shards is given back (`Err`) to run latched instead.
    pub fn push_keyed(&mut self, command: Command) -> Result<(), Command> {
        match split(command, self.per_shard.len()) {
            Split::One(target, command) => {
                let index = self.push_to(target, command);
                self.slots.push(Slot::One {
                    shard: target,
                    index,
                });
            }
            Split::Parts {
                parts,
                gather,
                nr_keys,
            } => {
                let parts = parts
                    .into_iter()
                    .map(|part| {
                        let index = self.push_to(part.shard, part.command);
                        (part.shard, index, part.positions)
                    })
                    .collect();
                self.slots.push(Slot::Parts {
                    gather,
                    nr_keys,
                    parts,
                });
            }
            Split::Latched(command) => return Err(command),
        }
        Ok(())
    }

    fn push_to(&mut self, shard: usize, command: Command) -> usize {
        let group = &mut self.per_shard[shard];
        if group.capacity() == 0 {
            group.reserve(self.cap);
        }
        group.push(command);
        group.len() - 1
    }

    /// Shard `shard`'s group, to run in place: its vector stays for the
    /// next batch.
    pub fn group_mut(&mut self, shard: usize) -> &mut Vec<Command> {
        &mut self.per_shard[shard]
    }

    /// Shard `shard`'s group, taken out to be sent away.
    pub fn take_group(&mut self, shard: usize) -> Vec<Command> {
        std::mem::take(&mut self.per_shard[shard])
    }

    /// Hands every command's reply to `each` in request order (with its
    /// position), taken from `results`, the replies of each shard's group
    /// (a group that did not answer gives `ERR shard unavailable`); then
    /// starts over empty, keeping the vectors for the next batch unless
    /// one grew past [`KEEP_AT_MOST`] commands.
    pub fn gather(&mut self, results: &mut [Vec<Reply>], mut each: impl FnMut(usize, Reply)) {
        let mut take = |target: usize, index: usize| {
            results[target]
                .get_mut(index)
                .map_or(Reply::err("ERR shard unavailable"), |r| {
                    std::mem::replace(r, Reply::Nil)
                })
        };
        for (position, slot) in self.slots.drain(..).enumerate() {
            let reply = match slot {
                Slot::Ready(reply) => reply,
                Slot::One {
                    shard: target,
                    index,
                } => take(target, index),
                Slot::Parts {
                    gather: how,
                    nr_keys,
                    parts,
                } => {
                    let answered = parts
                        .into_iter()
                        .map(|(target, index, positions)| (positions, take(target, index)))
                        .collect();
                    gather(how, nr_keys, answered)
                }
            };
            each(position, reply);
        }
        self.clear();
        for replies in results.iter_mut() {
            replies.clear();
            if replies.capacity() > KEEP_AT_MOST {
                *replies = Vec::new();
            }
        }
    }

    /// Starts over empty (the vectors' room is kept, up to [`KEEP_AT_MOST`]).
    pub fn clear(&mut self) {
        self.slots.clear();
        if self.slots.capacity() > KEEP_AT_MOST {
            self.slots = Vec::with_capacity(self.cap);
        }
        for group in &mut self.per_shard {
            group.clear();
            if group.capacity() > KEEP_AT_MOST {
                *group = Vec::new();
            }
        }
    }
}
