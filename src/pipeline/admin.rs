//! Server-level commands: answered by the connection's own shard, some by
//! asking every shard (INFO, DBSIZE, KEYS, SCAN, FLUSHALL, CLIENT LIST).

use std::fmt::Write as _;
use std::ops::Range;
use std::rc::Rc;

use bytes::Bytes;

use super::fanout::{all_snapshots, call_shard, scatter};
use crate::commands::{
    COMMANDS, ClientSub, Command, CommandSpec, CommandSub, glob_match, keyed_command, lookup,
    migrate_key_positions, sort_key_positions,
};
use crate::keyspace::{NR_SLOTS, shard_for, shard_for_slot};
use crate::metrics::render::{
    info_commandstats, info_cores, info_errorstats, info_latencystats, info_section_lines,
};
use crate::metrics::{MetricId, Section, ShardSnapshot, bump};
use crate::protocol::Reply;
use crate::router::{ShardRequest, ShardResponse};
use crate::shard::Shard;

/// The Redis version we answer as (clients gate features on it).
pub const REDIS_COMPAT_VERSION: &str = "7.2.0";

/// Answers a server-level command that needs no other shard, or `None` when
/// the command needs the others.
pub fn immediate(shard: &Shard, client_id: u64, command: &Command) -> Option<Reply> {
    let reply = match command {
        Command::Ping(None) => Reply::Status("PONG".into()),
        Command::Ping(Some(message)) | Command::Echo(message) => Reply::Bulk(message.clone()),
        Command::Quit => Reply::OK,
        Command::Select(0) => Reply::OK,
        Command::Select(_) => Reply::err("ERR DB index is out of range"),
        Command::Command(sub) => command_command(sub),
        Command::Client(sub) => return client_command(shard, client_id, sub),
        Command::ConfigGet(patterns) => {
            let mut out = Vec::new();
            for (name, value) in shard.shared.settings.pairs(&shard.config) {
                if patterns
                    .iter()
                    .any(|p| glob_match(&p.to_ascii_lowercase(), name.as_bytes()))
                {
                    out.push((
                        Reply::bulk(name.as_bytes()),
                        Reply::Bulk(Bytes::from(value)),
                    ));
                }
            }
            Reply::Map(out)
        }
        Command::ConfigOther(sub) => {
            if sub.eq_ignore_ascii_case(b"resetstat") {
                return None;
            } else {
                Reply::error(format!(
                    "ERR CONFIG {} is not supported by shardcask; settings are command-line flags",
                    String::from_utf8_lossy(sub).to_uppercase()
                ))
            }
        }
        Command::Time => {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            Reply::Array(vec![
                Reply::Bulk(Bytes::from((micros / 1_000_000).to_string())),
                Reply::Bulk(Bytes::from((micros % 1_000_000).to_string())),
            ])
        }
        // Answered by the session, by every shard, or by the keys' owners.
        // No replica acknowledges anything: 0 replicas are there at once,
        // more are waited for until the timeout (by `with_shards`).
        Command::Wait { numreplicas, .. } if *numreplicas <= 0 => Reply::Integer(0),
        Command::Wait { .. } => return None,
        Command::ConfigSet(_)
        | Command::Hello { .. }
        | Command::Monitor
        | Command::Reset
        | Command::RandomKey
        | Command::Rename { .. }
        | Command::Copy { .. }
        | Command::Migrate(_)
        | Command::BitOp { .. }
        | Command::Lcs { .. }
        | Command::Sort { .. }
        | Command::Multi
        | Command::Exec
        | Command::Discard
        | Command::Watch(_)
        | Command::Unwatch
        | Command::Info(_)
        | Command::Slowlog(_)
        | Command::Latency(_)
        | Command::DbSize
        | Command::FlushAll
        | Command::Shutdown
        | Command::Merge { .. }
        | Command::Keys(_)
        | Command::Scan { .. }
        | Command::Cluster(_)
        | keyed_command!() => return None,
    };
    Some(reply)
}

fn command_command(sub: &CommandSub) -> Reply {
    let all_info = || {
        Reply::Array(
            COMMANDS
                .iter()
                .map(|spec| spec.about.info_reply())
                .collect(),
        )
    };
    match sub {
        CommandSub::All => all_info(),
        CommandSub::Count => Reply::Integer(COMMANDS.len() as i64),
        CommandSub::List => Reply::Array(
            COMMANDS
                .iter()
                .map(|spec| Reply::bulk(spec.about.name.as_bytes()))
                .collect(),
        ),
        CommandSub::Info(names) if names.is_empty() => all_info(),
        CommandSub::Info(names) => Reply::Array(
            names
                .iter()
                .map(|name| lookup(name).map_or(Reply::NilArray, |spec| spec.about.info_reply()))
                .collect(),
        ),
        CommandSub::Docs(names) => {
            let specs: Vec<&CommandSpec> = if names.is_empty() {
                COMMANDS.to_vec()
            } else {
                names.iter().filter_map(|name| lookup(name)).collect()
            };
            Reply::Map(
                specs
                    .into_iter()
                    .map(|spec| {
                        (
                            Reply::bulk(spec.about.name.as_bytes()),
                            spec.about.docs_reply(),
                        )
                    })
                    .collect(),
            )
        }
        CommandSub::GetKeys(args) => {
            let Some(spec) = lookup(&args[0]) else {
                return Reply::err("ERR Invalid command specified");
            };
            if !spec.about.arity_fits(args.len()) {
                return Reply::err("ERR Invalid number of arguments specified for command");
            }
            // SORT's STORE key can be anywhere: its spec is `unknown`;
            // MIGRATE's keys follow KEYS, after options of varying length.
            let positions = if spec.about.name == "migrate" {
                migrate_key_positions(args)
            } else if spec.about.has_flag("movablekeys") {
                sort_key_positions(args)
            } else {
                spec.about.key_positions(args.len())
            };
            if positions.is_empty() {
                return Reply::err("ERR The command has no key arguments");
            }
            Reply::Array(
                positions
                    .into_iter()
                    .map(|position| Reply::Bulk(args[position].clone()))
                    .collect(),
            )
        }
    }
}

fn client_command(shard: &Shard, client_id: u64, sub: &ClientSub) -> Option<Reply> {
    let mut clients = shard.clients.borrow_mut();
    let client = clients.get_mut(&client_id)?;
    Some(match sub {
        ClientSub::SetName(name) => {
            client.name = name.clone();
            Reply::OK
        }
        ClientSub::GetName => {
            if client.name.is_empty() {
                Reply::Nil
            } else {
                Reply::Bulk(client.name.clone())
            }
        }
        ClientSub::Id => Reply::Integer(client_id as i64),
        ClientSub::SetInfo(attr, value) => {
            if attr.eq_ignore_ascii_case(b"lib-name") {
                client.lib_name = value.clone();
            } else {
                client.lib_ver = value.clone();
            }
            Reply::OK
        }
        ClientSub::Info => {
            drop(clients);
            let line = shard_client_line(shard, client_id);
            Reply::verbatim(line + "\n")
        }
        ClientSub::List | ClientSub::Kill(_) => return None,
    })
}

fn shard_client_line(shard: &Shard, client_id: u64) -> String {
    let clients = shard.clients.borrow();
    let Some(c) = clients.get(&client_id) else {
        return String::new();
    };
    format!(
        "id={client_id} addr={} laddr={} name={} age={} db=0 resp={} lib-name={} lib-ver={} shard={}",
        c.addr,
        c.laddr,
        String::from_utf8_lossy(&c.name),
        c.since.elapsed().as_secs(),
        c.protocol.version(),
        String::from_utf8_lossy(&c.lib_name),
        String::from_utf8_lossy(&c.lib_ver),
        shard.id
    )
}

/// Answers a server-level command that involves other shards. Returns the
/// reply, or `None` when the connection must close without one (SHUTDOWN).
pub async fn with_shards(shard: &Rc<Shard>, client_id: u64, command: Command) -> Option<Reply> {
    let reply = match command {
        Command::DbSize => Reply::Integer(
            scatter(shard, || ShardRequest::DbSize)
                .await
                .into_iter()
                .map(|a| {
                    if let Some(ShardResponse::Count(n)) = a {
                        n as i64
                    } else {
                        0
                    }
                })
                .sum(),
        ),
        Command::FlushAll => {
            let answers = scatter(shard, || ShardRequest::FlushAll).await;
            first_error(answers).unwrap_or(Reply::OK)
        }
        Command::Merge { background } => {
            let answers = scatter(shard, || ShardRequest::Merge { background }).await;
            let mut reclaimed = 0u64;
            for answer in answers {
                match answer {
                    Some(ShardResponse::Count(bytes)) => reclaimed += bytes,
                    Some(ShardResponse::Replies(replies)) => {
                        if let Some(error) = replies.into_iter().find(Reply::is_error) {
                            return Some(error);
                        }
                    }
                    _ => return Some(Reply::err("ERR a shard did not answer")),
                }
            }
            if background {
                Reply::Status("Background append only file rewriting started".into())
            } else {
                Reply::Integer(reclaimed as i64)
            }
        }
        Command::Keys(pattern) => {
            let mut keys = Vec::new();
            for answer in scatter(shard, || ShardRequest::Keys(pattern.clone())).await {
                if let Some(ShardResponse::Keys(found)) = answer {
                    keys.extend(found.into_iter().map(Reply::Bulk));
                }
            }
            Reply::Array(keys)
        }
        Command::Scan {
            cursor,
            pattern,
            count,
            type_filter,
        } => scan(shard, 0..NR_SLOTS, cursor, pattern, count, type_filter).await,
        Command::Client(ClientSub::List) => {
            let mut text = String::new();
            for answer in scatter(shard, || ShardRequest::ClientList).await {
                if let Some(ShardResponse::Lines(lines)) = answer {
                    for line in lines {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
            }
            Reply::verbatim(text)
        }
        Command::Info(sections) => Reply::verbatim(info(shard, &sections).await),
        Command::Slowlog(sub) => super::introspect::slowlog(shard, sub).await,
        Command::Latency(sub) => super::introspect::latency(shard, sub).await,
        Command::Client(ClientSub::Kill(filter)) => {
            super::introspect::client_kill(shard, client_id, filter).await
        }
        Command::ConfigSet(pairs) => config_set(shard, &pairs).await,
        Command::Wait {
            numreplicas: 1..,
            timeout_ms,
        } => wait_for_replicas(shard, client_id, timeout_ms).await,
        Command::ConfigOther(sub) if sub.eq_ignore_ascii_case(b"resetstat") => {
            // Redis's resetServerStats, resetCommandTableStats and
            // resetErrorTableStats; the slow log and latency events stay.
            let answers = scatter(shard, || ShardRequest::ResetStats).await;
            if answers
                .iter()
                .all(|answer| matches!(answer, Some(ShardResponse::Count(_))))
            {
                Reply::OK
            } else {
                Reply::err("ERR a shard did not answer")
            }
        }
        Command::Shutdown => {
            tracing::info!(shard = shard.id, "SHUTDOWN requested by a client");
            shard.shared.request();
            return None;
        }
        Command::MSetNx(pairs) => msetnx_across_shards(shard, pairs).await,
        Command::RandomKey => random_key(shard).await,
        command @ (Command::Rename { .. }
        | Command::Copy { .. }
        | Command::Migrate(_)
        | Command::BitOp { .. }
        | Command::Lcs { .. }
        | Command::Sort { .. }) => super::computed::run(shard, command, false).await,
        Command::Ping(_)
        | Command::Echo(_)
        | Command::Quit
        | Command::Monitor
        | Command::Reset
        | Command::Select(_)
        | Command::Hello { .. }
        | Command::Multi
        | Command::Exec
        | Command::Discard
        | Command::Watch(_)
        | Command::Unwatch
        | Command::Command(_)
        | Command::Client(_)
        | Command::ConfigGet(_)
        | Command::ConfigOther(_)
        | Command::Cluster(_)
        | Command::Time
        | Command::Wait {
            numreplicas: ..=0, ..
        } => Reply::error(format!(
            "ERR internal error: '{}' is not answered by every shard",
            command.name()
        )),
        // MSETNX above is the one keyed command that comes here.
        #[allow(unreachable_patterns)]
        keyed_command!() => Reply::error(format!(
            "ERR internal error: '{}' is not answered by every shard",
            command.name()
        )),
    };
    Some(reply)
}

/// WAIT for replicas that do not exist: blocks this client (as Redis
/// does) until the timeout, or for ever when it is 0 (until shutdown),
/// then answers that 0 replicas acknowledged. A client that disconnects or
/// is killed meanwhile ends it at once (`blocked::client_gone`).
async fn wait_for_replicas(shard: &Rc<Shard>, client_id: u64, timeout_ms: u64) -> Reply {
    let shutdown = shard.shutdown.wait();
    let gone = super::blocked::client_gone(shard, client_id);
    if timeout_ms == 0 {
        futures_lite::future::or(shutdown, gone).await;
    } else {
        futures_lite::future::or(
            glommio::timer::sleep(std::time::Duration::from_millis(timeout_ms)),
            futures_lite::future::or(shutdown, gone),
        )
        .await;
    }
    Reply::Integer(0)
}

/// The answer to a server-level command queued in MULTI, where nothing
/// blocks (Redis's CLIENT_DENY_BLOCKING): WAIT answers the replicas that
/// acknowledged, 0, at once. `None` as for [`immediate`].
pub fn immediate_in_transaction(shard: &Shard, client_id: u64, command: &Command) -> Option<Reply> {
    match command {
        Command::Wait { .. } => Some(Reply::Integer(0)),
        other => immediate(shard, client_id, other),
    }
}

/// CONFIG SET: stores the new values (all or none), then has every shard
/// apply them before answering, so a command sent after the OK sees them
/// on every core.
async fn config_set(shard: &Rc<Shard>, pairs: &[(Bytes, Bytes)]) -> Reply {
    if let Err(error) = shard.shared.settings.set(&shard.config, pairs) {
        return error;
    }
    for answer in scatter(shard, || ShardRequest::ApplySettings).await {
        if !matches!(answer, Some(ShardResponse::Count(_))) {
            return Reply::err("ERR a shard did not answer");
        }
    }
    Reply::OK
}

fn first_error(answers: Vec<Option<ShardResponse>>) -> Option<Reply> {
    for answer in answers {
        match answer {
            Some(ShardResponse::Replies(replies)) => {
                if let Some(error) = replies.into_iter().find(Reply::is_error) {
                    return Some(error);
                }
            }
            _ => return Some(Reply::err("ERR a shard did not answer")),
        }
    }
    None
}

/// RANDOMKEY: shards are asked in an order starting at a random one (each
/// picks a random slot and answers its first key at or after it), so every
/// shard with keys can answer; nil when no shard has any.
async fn random_key(shard: &Rc<Shard>) -> Reply {
    let seed = ahash::RandomState::new().hash_one(crate::shard::now_ms());
    let first = (seed % shard.nr_shards as u64) as usize;
    for step in 0..shard.nr_shards {
        let target = (first + step) % shard.nr_shards;
        let request = ShardRequest::RandomKey(seed.rotate_left(17));
        if let Some(ShardResponse::Keys(mut keys)) = call_shard(shard, target, request).await
            && let Some(key) = keys.pop()
        {
            return Reply::Bulk(key);
        }
    }
    Reply::Nil
}

/// SCAN over the hash slots `slots` (all of them on the shared port, one
/// shard's range on its own port): the cursor is the next hash slot to
/// visit. Slots are visited in order and each slot's keys are returned
/// together, so every key that exists for the whole scan is returned
/// exactly once, however the keydir changes in between.
pub(super) async fn scan(
    shard: &Rc<Shard>,
    slots: Range<u16>,
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
    type_filter: Option<Bytes>,
) -> Reply {
    let mut keys = Vec::new();
    let mut slot = (cursor.min(u64::from(slots.end)) as u16).max(slots.start);
    while slot < slots.end && keys.len() < count {
        let owner = shard_for_slot(slot, shard.nr_shards);
        let request = ShardRequest::Scan {
            start_slot: slot,
            count: count - keys.len(),
            pattern: pattern.clone(),
        };
        match call_shard(shard, owner, request).await {
            Some(ShardResponse::ScanPage {
                keys: found,
                next_slot,
            }) => {
                keys.extend(found);
                slot = next_slot.max(slot + 1);
            }
            _ => return Reply::err("ERR a shard did not answer"),
        }
    }
    let next_cursor = if slot >= slots.end { 0 } else { slot as u64 };
    let only_strings = type_filter.is_none_or(|t| t.eq_ignore_ascii_case(b"string"));
    if !only_strings {
        keys.clear();
    }
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next_cursor.to_string())),
        Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
    ])
}

/// MSETNX whose keys live on several shards: latch the keys on every shard
/// in ascending shard order (so two of these cannot deadlock), then write
/// all of them or none.
async fn msetnx_across_shards(shard: &Rc<Shard>, pairs: Vec<(Bytes, Bytes)>) -> Reply {
    let mut by_shard: Vec<Vec<(Bytes, Bytes)>> = vec![Vec::new(); shard.nr_shards];
    for (key, value) in pairs {
        by_shard[shard_for(&key, shard.nr_shards)].push((key, value));
    }
    let involved: Vec<usize> = (0..shard.nr_shards)
        .filter(|&s| !by_shard[s].is_empty())
        .collect();
    let mut existing = 0;
    for &target in &involved {
        let keys = by_shard[target].iter().map(|(k, _)| k.clone()).collect();
        match call_shard(shard, target, ShardRequest::Latch(keys)).await {
            Some(ShardResponse::Count(n)) => existing += n,
            _ => existing += 1,
        }
    }
    let commit = existing == 0;
    let mut error = None;
    for &target in &involved {
        let pairs = std::mem::take(&mut by_shard[target]);
        let keys = pairs.iter().map(|(k, _)| k.clone()).collect();
        let request = ShardRequest::Unlatch {
            keys,
            pairs: commit.then_some(pairs),
        };
        if let Some(e) = first_error(vec![call_shard(shard, target, request).await]) {
            error.get_or_insert(e);
        }
    }
    error.unwrap_or(Reply::Integer(i64::from(commit)))
}

/// INFO's sections in order; `true` for those `INFO` with no argument
/// shows (Redis leaves commandstats and latencystats to `all`).
const INFO_SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("cpu", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
    ("cores", true),
];

/// INFO text for the requested sections (Redis's rules: none or `default`
/// = the default set, `all`/`everything` = every section, else the named
/// ones).
async fn info(shard: &Rc<Shard>, sections: &[Bytes]) -> String {
    let named = |name: &str| {
        sections
            .iter()
            .any(|s| s.eq_ignore_ascii_case(name.as_bytes()))
    };
    let wanted = |name: &str| {
        let default = INFO_SECTIONS
            .iter()
            .any(|(section, by_default)| *section == name && *by_default);
        named(name)
            || named("all")
            || named("everything")
            || (default && (sections.is_empty() || named("default")))
    };
    let snapshots = all_snapshots(shard).await;
    let total = ShardSnapshot::total(&snapshots).unwrap_or_else(|| shard.snapshot());
    let config = &shard.config;
    let mut out = String::new();
    if wanted("server") {
        let uptime = shard.started.elapsed().as_secs();
        let _ = write!(
            out,
            "# Server\r\nredis_version:{REDIS_COMPAT_VERSION}\r\nshardcask_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nshards:{}\r\nsync:{}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            config.listen.port(),
            uptime / 86400,
            shard.nr_shards,
            config.sync,
        );
    }
    let (rss, cpu_percent) = process_usage();
    if wanted("clients") {
        out.push_str("# Clients\r\n");
        info_section_lines(Section::Clients, &total, &mut out);
        let _ = write!(
            out,
            "maxclients:{}\r\n\r\n",
            shard.shared.settings.max_connections(config)
        );
    }
    if wanted("memory") {
        let _ = write!(
            out,
            "# Memory\r\nused_memory:{rss}\r\nused_memory_rss:{rss}\r\nmaxmemory:0\r\n\r\n"
        );
    }
    if wanted("persistence") {
        let _ = write!(
            out,
            "# Persistence\r\nloading:0\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_last_write_status:ok\r\nrdb_changes_since_last_save:0\r\nsync_policy:{}\r\n",
            config.sync,
        );
        info_section_lines(Section::Persistence, &total, &mut out);
        out.push_str("\r\n");
    }
    if wanted("cluster") {
        out.push_str("# Cluster\r\ncluster_enabled:1\r\n\r\n");
    }
    if wanted("stats") {
        let _ = write!(
            out,
            "# Stats\r\ntotal_commands_processed:{}\r\n",
            total.ops()
        );
        info_section_lines(Section::Stats, &total, &mut out);
        let _ = write!(
            out,
            "total_error_replies:{}\r\nlatency_p50_us:{}\r\nlatency_p99_us:{}\r\nprocess_cpu_percent:{cpu_percent:.1}\r\n\r\n",
            total.commands.total_errors(),
            total.latency_quantile(0.5),
            total.latency_quantile(0.99),
        );
    }
    if wanted("cpu") {
        let (user, system) = rusage_seconds();
        let _ = write!(
            out,
            "# CPU\r\nused_cpu_sys:{system:.6}\r\nused_cpu_user:{user:.6}\r\n\r\n"
        );
    }
    if wanted("commandstats") {
        info_commandstats(&total, &mut out);
    }
    if wanted("errorstats") {
        info_errorstats(&total, &mut out);
    }
    if wanted("latencystats") {
        info_latencystats(&total, &mut out);
    }
    if wanted("keyspace") {
        out.push_str("# Keyspace\r\n");
        let keys = total.get(MetricId::Keys);
        if keys > 0 {
            let _ = write!(out, "db0:keys={keys},expires=0,avg_ttl=0\r\n");
        }
        out.push_str("\r\n");
    }
    if wanted("cores") {
        info_cores(&snapshots, &mut out);
    }
    bump(&shard.stats.others, 1);
    while out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// Process resident memory (bytes) and CPU use (% since the last call), from sysinfo.
fn process_usage() -> (u64, f32) {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
    thread_local! {
        static SYSTEM: std::cell::RefCell<Option<System>> = std::cell::RefCell::new(System::new().ok());
    }
    SYSTEM.with(|cell| {
        let mut system = cell.borrow_mut();
        let Some(system) = system.as_mut() else {
            return (0, 0.0);
        };
        let pid = Pid::from_u32(std::process::id());
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            true,
            ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
        system
            .process(pid)
            .map_or((0, 0.0), |p| (p.memory(), p.cpu_usage()))
    })
}

/// User and system CPU seconds of the whole process.
pub fn rusage_seconds() -> (f64, f64) {
    // SAFETY: getrusage fills a plain struct for this process.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}
