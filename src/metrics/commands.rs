//! Per-command figures (Redis's `INFO commandstats`, `errorstats` and
//! `latencystats`): calls, failures, time and a latency histogram per
//! command, counted by a dense command index so the hot path bumps a `Cell`
//! in a `Vec` instead of hashing a name.

use std::cell::{Cell, RefCell};

use hdrhistogram::Histogram;

use super::histogram::LatencyHistogram;

use crate::commands::{COMMANDS, Command, CommandSpec};
use crate::protocol::Reply;
use bytes::Bytes;

/// The name of the command at `index` (its row in the command table).
pub fn command_name(index: usize) -> &'static str {
    COMMANDS
        .get(index)
        .map_or("unknown", |spec| spec.about.name)
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
        self.of_spec(command.spec())
    }

    /// The row index of `spec` in the command table.
    #[inline]
    pub fn of_spec(&self, spec: &CommandSpec) -> usize {
        let row = usize::from(self.table[slot_of(address_of(spec), self.multiplier)]);
        match COMMANDS.get(row) {
            Some(found) if std::ptr::eq(*found, spec) => row,
            // A row that lost its slot to another (not the case when a
            // collision-free multiplier was found): by name.
            _ => COMMANDS
                .binary_search_by(|row| row.about.name.cmp(spec.about.name))
                .unwrap_or(0),
        }
    }
}

/// Highest latency the per-command histograms track, µs (60 s).
const MAX_US: u64 = 60_000_000;

/// A per-command latency histogram: two significant digits (about 20 KiB
/// each, made on a command's first use), enough for p50/p99/p99.9.
fn command_histogram() -> LatencyHistogram {
    LatencyHistogram::new(Histogram::new_with_bounds(1, MAX_US, 2).expect("valid histogram bounds"))
}

/// The live per-command counters of one shard (its connections' commands).
pub struct CommandStats {
    /// Command -> index.
    pub index: CommandIndex,
    /// Calls by command index.
    calls: Vec<Cell<u64>>,
    /// Calls that replied with an error.
    failed: Vec<Cell<u64>>,
    /// Requests for the command refused before it ran (Redis's
    /// `rejected_calls`): wrong number of arguments, a cluster redirect,
    /// an OOM refusal, a monitor touching the keyspace. Not calls.
    rejected_calls: Vec<Cell<u64>>,
    /// Sum of latencies, µs.
    usec: Vec<Cell<u64>>,
    /// Latency histograms, µs; `None` until the command is first used.
    latency: RefCell<Vec<Option<LatencyHistogram>>>,
    /// Error replies by their first word (`ERR`, `WRONGTYPE`, ...); few
    /// distinct ones, so a short list.
    errors: RefCell<Vec<(String, u64)>>,
    /// Requests refused before they ran: the commands' rejected calls and
    /// requests that are no command (unknown command or sub-command).
    rejected: Cell<u64>,
}

impl Default for CommandStats {
    fn default() -> Self {
        let nr_commands = nr_commands();
        CommandStats {
            index: CommandIndex::default(),
            calls: (0..nr_commands).map(|_| Cell::new(0)).collect(),
            failed: (0..nr_commands).map(|_| Cell::new(0)).collect(),
            rejected_calls: (0..nr_commands).map(|_| Cell::new(0)).collect(),
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
        latency[index]
            .get_or_insert_with(command_histogram)
            .record_n(us, count);
    }

    /// Records an error reply (`message` without the leading `-`) of a
    /// request counted as `slot` says.
    pub fn record_error(&self, slot: Counted, message: &[u8]) {
        match slot {
            Counted::Call(index) => add(&self.failed[index], 1),
            Counted::Rejected(index) => {
                add(&self.rejected_calls[index], 1);
                add(&self.rejected, 1);
            }
            Counted::Unknown => add(&self.rejected, 1),
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
        for counters in [&self.calls, &self.failed, &self.rejected_calls, &self.usec] {
            counters.iter().for_each(|cell| cell.set(0));
        }
        self.latency.borrow_mut().iter_mut().for_each(|h| *h = None);
        self.errors.borrow_mut().clear();
        self.rejected.set(0);
    }

    /// A `Send` copy.
    pub fn snapshot(&self) -> CommandSnapshot {
        let mut latency = self.latency.borrow_mut();
        CommandSnapshot {
            commands: (0..self.calls.len())
                .map(|i| CommandFigures {
                    calls: self.calls[i].get(),
                    failed: self.failed[i].get(),
                    rejected: self.rejected_calls[i].get(),
                    usec: self.usec[i].get(),
                    latency_us: latency[i].as_mut().map(|h| h.histogram().clone()),
                })
                .collect(),
            errors: self.errors.borrow().clone(),
            rejected: self.rejected.get(),
        }
    }
}

/// How one request counts in INFO commandstats, as Redis counts it
/// (`call()` against `rejectCommand()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Command `index` ran: a call, and a failed call if it replied an error.
    Call(usize),
    /// Command `index` was refused before it ran (wrong number of
    /// arguments, a cluster redirect, an OOM refusal, a monitor touching the
    /// keyspace): a rejected call, not a call.
    Rejected(usize),
    /// No command Redis knows (unknown command or sub-command): only its
    /// error is counted (errorstats).
    Unknown,
}

impl Counted {
    /// How a request whose arguments made no command counts, by the error
    /// it got: an unknown command or sub-command is no command's; a wrong
    /// number of arguments is its command's rejected call; any other
    /// argument error (syntax, not an integer, ...) a failed call, since
    /// Redis's command itself finds it while running.
    pub fn of_refusal(stats: &CommandStats, args: &[Bytes], reply: &Reply) -> Counted {
        let Counted::Rejected(index) = Counted::rejected(stats, args) else {
            return Counted::Unknown;
        };
        match reply {
            Reply::Error(text) if text.starts_with("ERR unknown subcommand") => Counted::Unknown,
            Reply::Error(text) if text.starts_with("ERR wrong number of arguments") => {
                Counted::Rejected(index)
            }
            _ => Counted::Call(index),
        }
    }
}

impl Counted {
    /// A request for a command Redis knows refused before it ran (its
    /// name looked up again: refusals are rare).
    pub fn rejected(stats: &CommandStats, args: &[Bytes]) -> Counted {
        args.first()
            .and_then(|name| crate::commands::lookup(name))
            .map_or(Counted::Unknown, |spec| {
                Counted::Rejected(stats.index.of_spec(spec))
            })
    }
}

/// The command index of each reply slot of one connection batch, so the
/// batch's calls, errors and latency are recorded when its replies are
/// written (one pass, no lookup by name).
#[derive(Debug, Default)]
pub struct BatchCommands {
    /// Command index per slot, [`REJECTED`] set for a rejected request;
    /// [`NOT_A_COMMAND`] for a request that is no command. A `Cell`, so a
    /// reply can turn its call into a rejected one (OOM) while replies are
    /// gathered.
    indices: Vec<Cell<u8>>,
}

/// The index of a slot whose request never became a command.
const NOT_A_COMMAND: u8 = u8::MAX;
/// The flag of a slot whose command was refused before it ran (indices stay
/// below it: see `every_command_has_its_own_index`).
const REJECTED: u8 = 0x80;

/// What a slot's byte says.
fn counted(raw: u8) -> Counted {
    if raw == NOT_A_COMMAND {
        Counted::Unknown
    } else if raw & REJECTED != 0 {
        Counted::Rejected(usize::from(raw & !REJECTED))
    } else {
        Counted::Call(usize::from(raw))
    }
}

impl BatchCommands {
    /// Room for `nr_commands` slots (one allocation per batch instead of a
    /// growing vector).
    #[inline]
    pub fn with_capacity(nr_commands: usize) -> BatchCommands {
        BatchCommands {
            indices: Vec::with_capacity(nr_commands),
        }
    }

    /// Notes the next slot's command (`None`: the request did not parse).
    #[inline]
    pub fn push(&mut self, index: Option<usize>) {
        self.indices
            .push(Cell::new(index.map_or(NOT_A_COMMAND, |index| index as u8)));
    }

    /// Notes the next slot as `slot` says.
    pub fn push_counted(&mut self, slot: Counted) {
        self.indices.push(Cell::new(match slot {
            Counted::Call(index) => index as u8,
            Counted::Rejected(index) => index as u8 | REJECTED,
            Counted::Unknown => NOT_A_COMMAND,
        }));
    }

    /// Forgets every slot, keeping the allocation (the batch is reused).
    #[inline]
    pub fn clear(&mut self) {
        self.indices.clear();
    }

    /// Records the reply of slot `position`: only errors cost anything. A
    /// call refused with `-OOM` (over `--max-disk`) counts as rejected, as
    /// Redis refuses a write over `maxmemory` before it runs.
    #[inline]
    pub fn replied(&self, stats: &CommandStats, position: usize, reply: &Reply) {
        if let Reply::Error(message) = reply {
            let Some(cell) = self.indices.get(position) else {
                return stats.record_error(Counted::Unknown, message.as_bytes());
            };
            let mut slot = counted(cell.get());
            if let Counted::Call(index) = slot
                && message.starts_with("OOM ")
            {
                cell.set(cell.get() | REJECTED);
                slot = Counted::Rejected(index);
            }
            stats.record_error(slot, message.as_bytes());
        }
    }

    /// A slow-log entry's arguments: the first command's name, and for a
    /// batch of several a summary such as `(pipeline batch of 512: get x500,
    /// set x12)` (the arguments themselves are not kept on the hot path).
    pub fn describe(&self) -> Vec<Bytes> {
        let name = |raw: u8| match counted(raw) {
            Counted::Unknown => "(unparsed)",
            Counted::Call(index) | Counted::Rejected(index) => command_name(index),
        };
        let mut args: Vec<Bytes> = self
            .indices
            .first()
            .map(|first| Bytes::from(name(first.get()).to_ascii_uppercase()))
            .into_iter()
            .collect();
        if self.indices.len() > 1 {
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for cell in &self.indices {
                let command = name(cell.get());
                match counts.iter_mut().find(|(c, _)| *c == command) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((command, 1)),
                }
            }
            let parts: Vec<String> = counts
                .iter()
                .map(|&(command, n)| format!("{command} x{n}"))
                .collect();
            args.push(Bytes::from(format!(
                "(pipeline batch of {}: {})",
                self.indices.len(),
                parts.join(", ")
            )));
        }
        args
    }

    /// Records every call of the batch as taking `latency_us` (rejected
    /// requests and those that are no command are not calls): calls counted
    /// per distinct command first (a pipeline holds a few kinds), then one
    /// histogram update per kind.
    pub fn finish(&self, stats: &CommandStats, latency_us: u64) {
        // The common pipeline: one kind of command.
        if let Some(first) = self.indices.first().map(Cell::get)
            && self.indices.iter().all(|cell| cell.get() == first)
        {
            if let Counted::Call(index) = counted(first) {
                stats.record(index, self.indices.len() as u64, latency_us);
            }
            return;
        }
        const KINDS: usize = 8;
        let mut kinds = [(NOT_A_COMMAND, 0u64); KINDS];
        let mut nr_kinds = 0;
        for raw in self.indices.iter().map(Cell::get) {
            let Counted::Call(index) = counted(raw) else {
                continue;
            };
            if let Some(kind) = kinds[..nr_kinds].iter_mut().find(|(i, _)| *i == raw) {
                kind.1 += 1;
            } else if nr_kinds < KINDS {
                kinds[nr_kinds] = (raw, 1);
                nr_kinds += 1;
            } else {
                stats.record(index, 1, latency_us);
            }
        }
        for &(raw, count) in &kinds[..nr_kinds] {
            stats.record(usize::from(raw), count, latency_us);
        }
    }
}

/// The commands a transaction queued, counted as Redis counts them: not
/// when queued, but as calls when EXEC runs them (failed when their reply
/// is an error), and not at all when it does not (DISCARD, EXECABORT, a
/// WATCHed key changed, RESET).
#[derive(Debug, Default)]
pub struct QueuedCalls(Vec<usize>);

impl QueuedCalls {
    /// A command of index `index` was queued (its QUEUED reply is no call).
    pub fn queued(&mut self, index: usize) {
        self.0.push(index);
    }

    /// Notes a command the session answered; `true` when it was queued
    /// (not a call yet). A transaction that ended (`was_queuing`, and no
    /// longer) counts its commands if `reply` is EXEC's array of their
    /// replies, each as taking an equal share of `latency_us`.
    pub fn answered(
        &mut self,
        stats: &CommandStats,
        index: Option<usize>,
        (was_queuing, queuing): (bool, bool),
        reply: &Reply,
        latency_us: u64,
    ) -> bool {
        if was_queuing && queuing {
            if let (Reply::Status(status), Some(index)) = (reply, index)
                && status == "QUEUED"
            {
                self.queued(index);
                return true;
            }
            return false;
        }
        if was_queuing {
            if let Reply::Array(replies) = reply
                && replies.len() == self.0.len()
            {
                let share = latency_us / (replies.len() as u64).max(1);
                for (&index, reply) in self.0.iter().zip(replies) {
                    stats.record(index, 1, share);
                    if let Reply::Error(message) = reply {
                        stats.record_error(Counted::Call(index), message.as_bytes());
                    }
                }
            }
            self.0.clear();
        }
        false
    }
}

/// One command's figures.
#[derive(Debug, Clone, Default)]
pub struct CommandFigures {
    /// Calls.
    pub calls: u64,
    /// Calls that replied with an error.
    pub failed: u64,
    /// Requests refused before they ran (Redis's `rejected_calls`).
    pub rejected: u64,
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
    /// Requests refused before they ran (every command's rejected calls,
    /// and requests that are no command).
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
            mine.rejected += theirs.rejected;
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
        assert!(nr_commands() < usize::from(REJECTED));
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
    fn refused_requests_count_as_redis_counts_them() {
        let stats = CommandStats::default();
        let words = |words: &[&str]| -> Vec<Bytes> {
            words.iter().map(|w| Bytes::from(w.to_string())).collect()
        };
        let get = stats.index.of(&parse(&["GET", "k"]));
        let set = stats.index.of(&parse(&["SET", "k", "v"]));
        let err = |text: &'static str| Reply::err(text);
        // Unknown command or sub-command: no command's.
        let unknown = err("ERR unknown command 'nosuch'");
        assert_eq!(
            Counted::of_refusal(&stats, &words(&["nosuch"]), &unknown),
            Counted::Unknown
        );
        let sub = err("ERR unknown subcommand 'x'. Try CLIENT HELP.");
        assert_eq!(
            Counted::of_refusal(&stats, &words(&["CLIENT", "x"]), &sub),
            Counted::Unknown
        );
        // Arity: GET's rejected call. Syntax: SET's failed call.
        let arity = err("ERR wrong number of arguments for 'get' command");
        assert_eq!(
            Counted::of_refusal(&stats, &words(&["get", "a", "b"]), &arity),
            Counted::Rejected(get)
        );
        let syntax = err("ERR syntax error");
        assert_eq!(
            Counted::of_refusal(&stats, &words(&["SET", "k", "v", "XX", "NX"]), &syntax),
            Counted::Call(set)
        );

        let mut batch = BatchCommands::with_capacity(8);
        batch.push(Some(set)); // OK
        batch.push_counted(Counted::Rejected(get)); // arity
        batch.push(Some(set)); // OOM: rejected, not a call
        batch.push(Some(set)); // syntax: a failed call
        batch.push_counted(Counted::Unknown);
        let replies = [
            Reply::OK,
            arity,
            Reply::err("OOM command not allowed"),
            syntax,
            unknown,
        ];
        for (position, reply) in replies.iter().enumerate() {
            batch.replied(&stats, position, reply);
        }
        batch.finish(&stats, 10);
        let snapshot = stats.snapshot();
        let (set, get) = (&snapshot.commands[set], &snapshot.commands[get]);
        assert_eq!((set.calls, set.failed, set.rejected), (2, 1, 1));
        assert_eq!((get.calls, get.failed, get.rejected), (0, 0, 1));
        assert_eq!(snapshot.rejected, 3);
        assert_eq!(snapshot.total_errors(), 4);
        assert_eq!(
            batch.describe()[1],
            "(pipeline batch of 5: set x3, get x1, (unparsed) x1)"
        );
    }

    #[test]
    fn records_calls_errors_and_latency() {
        let stats = CommandStats::default();
        let get = stats.index.of(&parse(&["GET", "k"]));
        stats.record(get, 3, 100);
        stats.record(get, 1, 1000);
        stats.record_error(Counted::Call(get), b"WRONGTYPE Operation against a key");
        stats.record_error(Counted::Unknown, b"ERR unknown command 'x'");
        stats.record_error(Counted::Rejected(get), b"ERR wrong number of arguments");
        let snapshot = stats.snapshot();
        let figures = &snapshot.commands[get];
        assert_eq!(figures.calls, 4);
        assert_eq!(figures.usec, 1300);
        assert_eq!(figures.failed, 1);
        assert_eq!(figures.rejected, 1);
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
