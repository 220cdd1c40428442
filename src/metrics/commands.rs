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
/// statics, so the address identifies the row; a sorted list of addresses
/// turns that into a handful of integer compares (no name hashing or string
/// compares on the hot path).
#[derive(Debug)]
pub struct CommandIndex {
    by_address: Vec<(usize, u8)>,
}

impl Default for CommandIndex {
    fn default() -> Self {
        let mut by_address: Vec<(usize, u8)> = COMMANDS
            .iter()
            .enumerate()
            .map(|(index, spec)| (*spec as *const CommandSpec as usize, index as u8))
            .collect();
        by_address.sort_unstable();
        CommandIndex { by_address }
    }
}

impl CommandIndex {
    /// The row index of `command` in the command table.
    pub fn of(&self, command: &Command) -> usize {
        let address = command.spec() as *const CommandSpec as usize;
        match self
            .by_address
            .binary_search_by_key(&address, |&(address, _)| address)
        {
            Ok(position) => usize::from(self.by_address[position].1),
            // A spec that is not a row itself (not the case today): by name.
            Err(_) => COMMANDS
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
    /// Notes the next slot's command (`None`: the request did not parse).
    pub fn push(&mut self, index: Option<usize>) {
        self.indices
            .push(index.map_or(NOT_A_COMMAND, |index| index as u8));
    }

    /// Records the reply of slot `position`: only errors cost anything.
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

    /// Records every command of the batch as taking `latency_us`, one
    /// histogram update per run of equal commands.
    pub fn finish(&self, stats: &CommandStats, latency_us: u64) {
        let mut rest = &self.indices[..];
        while let Some(&first) = rest.first() {
            let run = rest.iter().take_while(|&&index| index == first).count();
            if first != NOT_A_COMMAND {
                stats.record(usize::from(first), run as u64, latency_us);
            }
            rest = &rest[run..];
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
