//! Per-command figures (Redis's `INFO commandstats`, `errorstats` and
//! `latencystats`): calls, failures, time and a latency histogram per
//! command, counted by a dense command index so the hot path bumps a `Cell`
//! in a `Vec` instead of hashing a name.

use std::cell::{Cell, RefCell};

use hdrhistogram::Histogram;

use crate::commands::{COMMANDS, Command, CommandSpec};
use crate::protocol::Reply;
use bytes::Bytes;

/// The name of the command at `index` (its row in the command table).
pub fn command_name(index: usize) -> &'static str {
    COMMANDS.get(index).map_or("unknown", |spec| spec.name)
}

/// Number of commands counted: one per row of the command table.
pub fn nr_commands() -> usize {
    COMMANDS.len()
}

/// Finds a command's row index from its spec's address: the rows are
/// statics, so the address identifies the row. A multiplicative hash of the
/// address picks a byte of a 1 KiB table holding the row index; the
/// multiplier is chosen at start-up so that no two rows share a byte, and
/// the row found is checked (a handful of instructions per command, no
/// name hashing or string compares on the hot path).
#[derive(Debug)]
pub struct CommandIndex {
    /// Odd multiplier of the address hash.
    multiplier: u64,
    /// Row index by hash; [`NO_ROW`] where no row hashes.
    table: Box<[u8; INDEX_SLOTS]>,
}

/// Slots of the index table (a power of two).
const INDEX_SLOTS: usize = 1024;
/// A table slot no row hashes to.
const NO_ROW: u8 = u8::MAX;

fn address_of(spec: &CommandSpec) -> u64 {
    spec as *const CommandSpec as usize as u64
}

fn slot_of(address: u64, multiplier: u64) -> usize {
    (address.wrapping_mul(multiplier) >> (64 - INDEX_SLOTS.trailing_zeros())) as usize
}

impl Default for CommandIndex {
    fn default() -> Self {
        let addresses: Vec<u64> = COMMANDS.iter().map(|spec| address_of(spec)).collect();
        let mut multiplier = 0x9E37_79B9_7F4A_7C15_u64;
        let mut best: Option<(usize, u64)> = None;
        // About one multiplier in a hundred places ~100 rows in 1024 slots
        // without a collision; keep the best seen if none does.
        for _ in 0..100_000 {
            let mut used = [false; INDEX_SLOTS];
            let collisions = addresses
                .iter()
                .filter(|&&address| {
                    std::mem::replace(&mut used[slot_of(address, multiplier)], true)
                })
                .count();
            if best.is_none_or(|(fewest, _)| collisions < fewest) {
                best = Some((collisions, multiplier));
            }
            if collisions == 0 {
                break;
            }
            multiplier = multiplier
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                | 1;
        }
        let multiplier = best.map_or(multiplier, |(_, m)| m);
        let mut table = Box::new([NO_ROW; INDEX_SLOTS]);
        for (row, &address) in addresses.iter().enumerate() {
            let slot = &mut table[slot_of(address, multiplier)];
            if *slot == NO_ROW {
                *slot = row as u8;
            }
        }
        CommandIndex { multiplier, table }
    }
}

impl CommandIndex {
    /// The row index of `command` in the command table.
    #[inline]
    pub fn of(&self, command: &Command) -> usize {
        let spec = command.spec();
        let row = usize::from(self.table[slot_of(address_of(spec), self.multiplier)]);
        match COMMANDS.get(row) {
            Some(found) if std::ptr::eq(*found, spec) => row,
            // A row that lost its slot to another (not the case when a
            // collision-free multiplier was found): by name.
            _ => COMMANDS
                .binary_search_by(|spec| spec.name.cmp(command.name()))
                .unwrap_or(0),
        }
    }
}

/// Highest latency the per-command histograms track, µs (60 s).
const MAX_US: u64 = 60_000_000;

/// A per-command latency histogram: two significant digits (about 20 KiB
/// each, made on a command's first use), enough for p50/p99/p99.9.
fn command_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("valid histogram bounds")
}

/// The live per-command counters of one shard (its connections' commands).
pub struct CommandStats {
    /// Command -> index.
    pub index: CommandIndex,
    /// Calls by command index.
    calls: Vec<Cell<u64>>,
    /// Calls that replied with an error.
    failed: Vec<Cell<u64>>,
    /// Sum of latencies, µs.
    usec: Vec<Cell<u64>>,
    /// Latency histograms, µs; `None` until the command is first used.
    latency: RefCell<Vec<Option<Histogram<u64>>>>,
    /// Error replies by their first word (`ERR`, `WRONGTYPE`, ...); few
    /// distinct ones, so a short list.
    errors: RefCell<Vec<(String, u64)>>,
    /// Requests refused before they were a command (unknown command, wrong
    /// number of arguments, syntax).
    rejected: Cell<u64>,
}

impl Default for CommandStats {
    fn default() -> Self {
        let nr_commands = nr_commands();
        CommandStats {
            index: CommandIndex::default(),
            calls: (0..nr_commands).map(|_| Cell::new(0)).collect(),
            failed: (0..nr_commands).map(|_| Cell::new(0)).collect(),
            usec: (0..nr_commands).map(|_| Cell::new(0)).collect(),
            latency: RefCell::new((0..nr_commands).map(|_| None).collect()),
            errors: RefCell::new(Vec::new()),
            rejected: Cell::new(0),
        }
    }
}

fn add(cell: &Cell<u64>, n: u64) {
    cell.set(cell.get().wrapping_add(n));
}

impl CommandStats {
    /// Records `count` calls of command `index` that each took `latency_us`.
    pub fn record(&self, index: usize, count: u64, latency_us: u64) {
        let us = latency_us.clamp(1, MAX_US);
        add(&self.calls[index], count);
        add(&self.usec[index], us.saturating_mul(count));
        let mut latency = self.latency.borrow_mut();
        let _ = latency[index]
            .get_or_insert_with(command_histogram)
            .record_n(us, count);
    }

    /// Records an error reply (`message` without the leading `-`) of
    /// command `index`, or of a request that never became a command.
    pub fn record_error(&self, index: Option<usize>, message: &[u8]) {
        match index {
            Some(index) => add(&self.failed[index], 1),
            None => add(&self.rejected, 1),
        }
        let prefix = message.split(|&b| b == b' ').next().unwrap_or_default();
        let prefix = String::from_utf8_lossy(&prefix[..prefix.len().min(64)]);
        let mut errors = self.errors.borrow_mut();
        if let Some((_, count)) = errors.iter_mut().find(|(name, _)| *name == prefix) {
            *count += 1;
        } else if errors.len() < 128 {
            // Our replies' first words are a handful; the cap keeps a bug
            // from growing this list without bound anyway.
            errors.push((prefix.into_owned(), 1));
        }
    }

    /// Forgets every call, error and latency (CONFIG RESETSTAT: Redis's
    /// `resetCommandTableStats` and `resetErrorTableStats`).
    pub fn reset(&self) {
        for counters in [&self.calls, &self.failed, &self.usec] {
            counters.iter().for_each(|cell| cell.set(0));
        }
        self.latency.borrow_mut().iter_mut().for_each(|h| *h = None);
        self.errors.borrow_mut().clear();
        self.rejected.set(0);
    }

    /// A `Send` copy.
    pub fn snapshot(&self) -> CommandSnapshot {
        let latency = self.latency.borrow();
        CommandSnapshot {
            commands: (0..self.calls.len())
                .map(|i| CommandFigures {
                    calls: self.calls[i].get(),
                    failed: self.failed[i].get(),
                    usec: self.usec[i].get(),
                    latency_us: latency[i].clone(),
                })
                .collect(),
            errors: self.errors.borrow().clone(),
            rejected: self.rejected.get(),
        }
    }
}

/// The command index of each reply slot of one connection batch, so the
/// batch's calls, errors and latency are recorded when its replies are
/// written (one pass, no lookup by name).
#[derive(Debug, Default)]
pub struct BatchCommands {
    /// Command index per slot; [`NOT_A_COMMAND`] for a request that did not
    /// parse.
    indices: Vec<u8>,
}

/// The index of a slot whose request never became a command.
const NOT_A_COMMAND: u8 = u8::MAX;

impl BatchCommands {
    /// Room for `nr_commands` slots (one allocation per batch instead of a
    /// growing vector).
    #[inline]
    pub fn with_capacity(nr_commands: usize) -> BatchCommands {
        BatchCommands {
            indices: Vec::with_capacity(nr_commands),
        }
    }

    /// Forgets every slot, keeping the room (a connection reuses one per
    /// batch).
    #[inline]
    pub fn clear(&mut self) {
        self.indices.clear();
    }

    /// Notes the next slot's command (`None`: the request did not parse).
    #[inline]
    pub fn push(&mut self, index: Option<usize>) {
        self.indices
            .push(index.map_or(NOT_A_COMMAND, |index| index as u8));
    }

    /// Records the reply of slot `position`: only errors cost anything.
    #[inline]
    pub fn replied(&self, stats: &CommandStats, position: usize, reply: &Reply) {
        if let Reply::Error(message) = reply {
            let index = self
                .indices
                .get(position)
                .copied()
                .filter(|&index| index != NOT_A_COMMAND)
                .map(usize::from);
            stats.record_error(index, message.as_bytes());
        }
    }

    /// A slow-log entry's arguments: the first command's name, and for a
    /// batch of several a summary such as `(pipeline batch of 512: get x500,
    /// set x12)` (the arguments themselves are not kept on the hot path).
    pub fn describe(&self) -> Vec<Bytes> {
        let name = |index: u8| {
            if index == NOT_A_COMMAND {
                "(unparsed)"
            } else {
                command_name(usize::from(index))
            }
        };
        let mut args: Vec<Bytes> = self
            .indices
            .first()
            .map(|&first| Bytes::from(name(first).to_ascii_uppercase()))
            .into_iter()
            .collect();
        if self.indices.len() > 1 {
            let mut counts: Vec<(u8, usize)> = Vec::new();
            for &index in &self.indices {
                match counts.iter_mut().find(|(i, _)| *i == index) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((index, 1)),
                }
            }
            let parts: Vec<String> = counts
                .iter()
                .map(|&(index, n)| format!("{} x{n}", name(index)))
                .collect();
            args.push(Bytes::from(format!(
                "(pipeline batch of {}: {})",
                self.indices.len(),
                parts.join(", ")
            )));
        }
        args
    }

    /// Records every command of the batch as taking `latency_us`: calls
    /// counted per distinct command first (a pipeline holds a few kinds),
    /// then one histogram update per kind.
    pub fn finish(&self, stats: &CommandStats, latency_us: u64) {
        // The common pipeline: one kind of command.
        if let Some(&first) = self.indices.first()
            && self.indices.iter().all(|&index| index == first)
        {
            if first != NOT_A_COMMAND {
                stats.record(usize::from(first), self.indices.len() as u64, latency_us);
            }
            return;
        }
        const KINDS: usize = 8;
        let mut kinds = [(NOT_A_COMMAND, 0u64); KINDS];
        let mut nr_kinds = 0;
        for &index in &self.indices {
            if let Some(kind) = kinds[..nr_kinds].iter_mut().find(|(i, _)| *i == index) {
                kind.1 += 1;
            } else if nr_kinds < KINDS {
                kinds[nr_kinds] = (index, 1);
                nr_kinds += 1;
            } else if index != NOT_A_COMMAND {
                stats.record(usize::from(index), 1, latency_us);
            }
        }
        for &(index, count) in &kinds[..nr_kinds] {
            if index != NOT_A_COMMAND {
                stats.record(usize::from(index), count, latency_us);
            }
        }
    }
}

/// One command's figures.
#[derive(Debug, Clone, Default)]
pub struct CommandFigures {
    /// Calls.
    pub calls: u64,
    /// Calls that replied with an error.
    pub failed: u64,
    /// Sum of latencies, µs.
    pub usec: u64,
    /// Latency histogram, µs (`None`: never called).
    pub latency_us: Option<Histogram<u64>>,
}

/// A point-in-time copy of a shard's per-command figures (or a sum).
#[derive(Debug, Clone, Default)]
pub struct CommandSnapshot {
    /// By command index.
    pub commands: Vec<CommandFigures>,
    /// Error replies by first word.
    pub errors: Vec<(String, u64)>,
    /// Requests refused before they were a command.
    pub rejected: u64,
}

impl CommandSnapshot {
    /// Adds `other` into `self`.
    pub fn combine(&mut self, other: &CommandSnapshot) {
        if self.commands.len() < other.commands.len() {
            self.commands
                .resize_with(other.commands.len(), CommandFigures::default);
        }
        for (mine, theirs) in self.commands.iter_mut().zip(&other.commands) {
            mine.calls += theirs.calls;
            mine.failed += theirs.failed;
            mine.usec += theirs.usec;
            if let Some(histogram) = &theirs.latency_us {
                match &mut mine.latency_us {
                    Some(own) => {
                        let _ = own.add(histogram);
                    }
                    None => mine.latency_us = Some(histogram.clone()),
                }
            }
        }
        for (name, count) in &other.errors {
            match self.errors.iter_mut().find(|(n, _)| n == name) {
                Some((_, own)) => *own += count,
                None => self.errors.push((name.clone(), *count)),
            }
        }
        self.rejected += other.rejected;
    }

    /// Total error replies.
    pub fn total_errors(&self) -> u64 {
        self.errors.iter().map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn parse(words: &[&str]) -> Command {
        Command::parse(words.iter().map(|w| Bytes::from(w.to_string())).collect())
            .unwrap_or_else(|_| panic!("{words:?} parses"))
    }

    #[test]
    fn every_command_has_its_own_index() {
        assert!(nr_commands() < usize::from(NOT_A_COMMAND));
        let index = CommandIndex::default();
        // Every row has its own slot.
        let mut rows: Vec<u8> = index
            .table
            .iter()
            .copied()
            .filter(|&r| r != NO_ROW)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        assert_eq!(
            rows.len(),
            nr_commands(),
            "a collision-free multiplier was found"
        );
        for words in [
            &["GET", "k"][..],
            &["SET", "k", "v"],
            &["MGET", "a", "b"],
            &["TTL", "k"],
            &["PTTL", "k"],
            &["CLIENT", "LIST"],
            &["CONFIG", "GET", "x"],
            &["BGREWRITEAOF"],
            &["INCR", "k"],
            &["INCRBY", "k", "2"],
        ] {
            let command = parse(words);
            assert_eq!(
                command_name(index.of(&command)),
                command.name(),
                "{words:?}"
            );
        }
    }

    #[test]
    fn a_batch_records_every_command_once() {
        let stats = CommandStats::default();
        let mut batch = BatchCommands::with_capacity(64);
        // Ten kinds (more than finish tallies at once), GET and SET mixed,
        // and a request that did not parse.
        for round in 0..3 {
            for index in 0..10 {
                batch.push(Some(index));
            }
            batch.push(if round == 1 { None } else { Some(0) });
        }
        batch.finish(&stats, 100);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.commands[0].calls, 5);
        for index in 1..10 {
            assert_eq!(snapshot.commands[index].calls, 3, "index {index}");
            assert_eq!(snapshot.commands[index].usec, 300);
            assert_eq!(
                snapshot.commands[index].latency_us.as_ref().unwrap().len(),
                3
            );
        }
        let total: u64 = snapshot.commands.iter().map(|c| c.calls).sum();
        assert_eq!(total, 32, "the unparsed request is not a call");
    }

    #[test]
    fn records_calls_errors_and_latency() {
        let stats = CommandStats::default();
        let get = stats.index.of(&parse(&["GET", "k"]));
        stats.record(get, 3, 100);
        stats.record(get, 1, 1000);
        stats.record_error(Some(get), b"WRONGTYPE Operation against a key");
        stats.record_error(None, b"ERR unknown command 'x'");
        stats.record_error(None, b"ERR syntax error");
        let snapshot = stats.snapshot();
        let figures = &snapshot.commands[get];
        assert_eq!(figures.calls, 4);
        assert_eq!(figures.usec, 1300);
        assert_eq!(figures.failed, 1);
        assert_eq!(figures.latency_us.as_ref().unwrap().len(), 4);
        assert_eq!(snapshot.rejected, 2);
        assert_eq!(
            snapshot.errors,
            vec![("WRONGTYPE".to_string(), 1), ("ERR".to_string(), 2)]
        );
        let mut total = snapshot.clone();
        total.combine(&snapshot);
        assert_eq!(total.commands[get].calls, 8);
        assert_eq!(total.total_errors(), 6);
    }
}
