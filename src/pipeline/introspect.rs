//! Redis's introspection commands over every shard: SLOWLOG, LATENCY and
//! CLIENT KILL (the per-shard records live in [`crate::metrics::slowlog`]).

use std::rc::Rc;

use bytes::Bytes;

use super::fanout::{all_snapshots, scatter};
use crate::commands::{ClientKillFilter, LatencySub, SlowlogSub, command_name_matches};
use crate::metrics::ShardSnapshot;
use crate::metrics::commands::command_name;
use crate::metrics::slowlog::{LatencyEvent, merge_events};
use crate::protocol::Reply;
use crate::router::{ShardRequest, ShardResponse};
use crate::shard::Shard;

fn help(lines: &[&str]) -> Reply {
    Reply::Array(
        lines
            .iter()
            .map(|line| Reply::Status((*line).to_string().into()))
            .collect(),
    )
}

/// SLOWLOG GET|LEN|RESET|HELP over every shard.
pub async fn slowlog(shard: &Rc<Shard>, sub: SlowlogSub) -> Reply {
    match sub {
        SlowlogSub::Get(count) => {
            let count = usize::try_from(count).ok();
            let mut entries = Vec::new();
            for answer in scatter(shard, || ShardRequest::Slowlog {
                count,
                reset: false,
            })
            .await
            {
                if let Some(ShardResponse::Slowlog(found)) = answer {
                    entries.extend(found);
                }
            }
            entries.sort_by_key(|e| std::cmp::Reverse((e.time, e.id)));
            entries.truncate(count.unwrap_or(usize::MAX));
            Reply::Array(
                entries
                    .into_iter()
                    .map(|e| {
                        Reply::Array(vec![
                            Reply::Integer(e.id as i64),
                            Reply::Integer(e.time as i64),
                            Reply::Integer(e.duration_us as i64),
                            Reply::Array(e.args.into_iter().map(Reply::Bulk).collect()),
                            Reply::Bulk(Bytes::from(e.addr)),
                            Reply::Bulk(e.name),
                        ])
                    })
                    .collect(),
            )
        }
        SlowlogSub::Len => {
            let mut total = 0;
            for answer in scatter(shard, || ShardRequest::Slowlog {
                count: None,
                reset: false,
            })
            .await
            {
                if let Some(ShardResponse::Slowlog(found)) = answer {
                    total += found.len() as i64;
                }
            }
            Reply::Integer(total)
        }
        SlowlogSub::Reset => {
            scatter(shard, || ShardRequest::Slowlog {
                count: None,
                reset: true,
            })
            .await;
            Reply::OK
        }
        SlowlogSub::Help => help(&[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "    (shardcask times a connection's batch of pipelined commands and names them)",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        ]),
    }
}

async fn events(shard: &Rc<Shard>) -> Vec<LatencyEvent> {
    let mut per_shard = Vec::new();
    for answer in scatter(shard, || ShardRequest::LatencyEvents { reset: None }).await {
        if let Some(ShardResponse::LatencyEvents(found)) = answer {
            per_shard.push(found);
        }
    }
    merge_events(per_shard)
}

/// LATENCY LATEST|HISTORY|RESET|HISTOGRAM|HELP over every shard.
pub async fn latency(shard: &Rc<Shard>, sub: LatencySub) -> Reply {
    match sub {
        LatencySub::Latest => Reply::Array(
            events(shard)
                .await
                .into_iter()
                .filter_map(|event| {
                    let &(time, ms) = event.history.back()?;
                    Some(Reply::Array(vec![
                        Reply::Bulk(Bytes::from(event.name)),
                        Reply::Integer(time as i64),
                        Reply::Integer(ms as i64),
                        Reply::Integer(event.max_ms as i64),
                    ]))
                })
                .collect(),
        ),
        LatencySub::History(name) => Reply::Array(
            events(shard)
                .await
                .into_iter()
                .filter(|event| event.name.as_bytes() == &name[..])
                .flat_map(|event| event.history)
                .map(|(time, ms)| {
                    Reply::Array(vec![Reply::Integer(time as i64), Reply::Integer(ms as i64)])
                })
                .collect(),
        ),
        LatencySub::Reset(names) => {
            let mut reset = 0;
            for answer in scatter(shard, || ShardRequest::LatencyEvents {
                reset: Some(names.clone()),
            })
            .await
            {
                if let Some(ShardResponse::Count(n)) = answer {
                    reset = reset.max(n);
                }
            }
            Reply::Integer(reset as i64)
        }
        LatencySub::Histogram(names) => {
            let snapshots = all_snapshots(shard).await;
            match ShardSnapshot::total(&snapshots) {
                Some(total) => histogram(&total, &names),
                None => Reply::Map(Vec::new()),
            }
        }
        LatencySub::Help => help(&[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Print this help.",
        ]),
    }
}

/// LATENCY HISTOGRAM in Redis's shape: per command, `calls` and
/// `histogram_usec` (cumulative counts at power-of-two µs bounds, listed
/// where the count grows).
fn histogram(total: &ShardSnapshot, names: &[Bytes]) -> Reply {
    let mut out = Vec::new();
    for (index, figures) in total.commands.commands.iter().enumerate() {
        let name = command_name(index);
        let Some(histogram) = figures.latency_us.as_ref().filter(|h| !h.is_empty()) else {
            continue;
        };
        if !names.is_empty() && !names.iter().any(|n| command_name_matches(n, name)) {
            continue;
        }
        let mut buckets = Vec::new();
        let mut previous = 0;
        let mut bound = 1u64;
        while previous < histogram.len() {
            let cumulative = histogram.count_between(0, bound);
            if cumulative > previous {
                buckets.push((
                    Reply::Integer(bound as i64),
                    Reply::Integer(cumulative as i64),
                ));
                previous = cumulative;
            }
            if bound > crate::metrics::shard::MAX_LATENCY_US {
                break;
            }
            bound *= 2;
        }
        out.push((
            Reply::Bulk(Bytes::from(name)),
            Reply::Map(vec![
                (Reply::bulk(b"calls"), Reply::Integer(figures.calls as i64)),
                (Reply::bulk(b"histogram_usec"), Reply::Map(buckets)),
            ]),
        ));
    }
    Reply::Map(out)
}

/// CLIENT KILL: closes the matching connections on every shard.
pub async fn client_kill(shard: &Rc<Shard>, requester: u64, filter: ClientKillFilter) -> Reply {
    let old_form = filter.old_form;
    let mut killed = 0;
    for answer in scatter(shard, || ShardRequest::ClientKill {
        filter: filter.clone(),
        requester,
    })
    .await
    {
        if let Some(ShardResponse::Count(n)) = answer {
            killed += n;
        }
    }
    match (old_form, killed) {
        (true, 0) => Reply::err("ERR No such client"),
        (true, _) => Reply::OK,
        (false, n) => Reply::Integer(n as i64),
    }
}
