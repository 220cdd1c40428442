//! CONFIG SET: the settings that can change while the server runs, shared
//! by every shard. Each is read where it takes effect (a new connection
//! reads the output limit and timeout, the accept loop the connection
//! limit); a setting never set keeps the command line's value. Any other
//! setting is refused with the flag to restart with.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::config::{Config, parse_size};
use crate::protocol::Reply;

/// Not set at run time: the command line's value holds.
const UNSET: u64 = u64::MAX;

/// The run-time values of the settings CONFIG SET changes.
#[derive(Debug)]
pub struct RuntimeSettings {
    /// `maxclients` / `max-connections`.
    max_connections: AtomicU64,
    /// `client-output-limit` (bytes), for connections accepted after the change.
    client_output_limit: AtomicU64,
    /// `client-output-timeout` (seconds), for connections accepted after the change.
    client_output_timeout: AtomicU64,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            max_connections: AtomicU64::new(UNSET),
            client_output_limit: AtomicU64::new(UNSET),
            client_output_timeout: AtomicU64::new(UNSET),
        }
    }
}

fn value_or(setting: &AtomicU64, configured: u64) -> u64 {
    match setting.load(Ordering::Relaxed) {
        UNSET => configured,
        value => value,
    }
}

/// Which flag a CONFIG name stands for (Redis's names map to ours).
fn flag_of(name: &str) -> &str {
    match name {
        "maxclients" => "max-connections",
        "proto-max-bulk-len" => "max-value-size",
        "appendfsync" => "sync",
        "bind" | "port" => "listen",
        other => other,
    }
}

impl RuntimeSettings {
    /// The connection limit now.
    pub fn max_connections(&self, config: &Config) -> usize {
        value_or(&self.max_connections, config.max_connections as u64) as usize
    }

    /// The output limit a new connection gets.
    pub fn client_output_limit(&self, config: &Config) -> u64 {
        value_or(&self.client_output_limit, config.client_output_limit)
    }

    /// The output timeout (seconds, 0: none) a new connection gets.
    pub fn client_output_timeout(&self, config: &Config) -> u64 {
        value_or(&self.client_output_timeout, config.client_output_timeout)
    }

    /// CONFIG GET's pairs with the run-time values in place.
    pub fn pairs(&self, config: &Config) -> Vec<(&'static str, String)> {
        let mut pairs = config.config_pairs();
        for (name, value) in &mut pairs {
            match *name {
                "maxclients" | "max-connections" => {
                    *value = self.max_connections(config).to_string()
                }
                "client-output-limit" => *value = self.client_output_limit(config).to_string(),
                "client-output-timeout" => *value = self.client_output_timeout(config).to_string(),
                _ => {}
            }
        }
        pairs
    }

    /// CONFIG SET name value [name value ...]: every name is checked and
    /// every value parsed before any is applied, so a failure changes nothing.
    pub fn set(&self, config: &Config, pairs: &[(Bytes, Bytes)]) -> Reply {
        let known = config.config_pairs();
        let mut changes = Vec::new();
        for (name, value) in pairs {
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            let failed = |reason: &str| {
                Reply::error(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                ))
            };
            if !known.iter().any(|(known, _)| *known == name) {
                return Reply::error(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            }
            let text = String::from_utf8_lossy(value);
            let setting = match name.as_str() {
                "maxclients" | "max-connections" => &self.max_connections,
                "client-output-limit" => &self.client_output_limit,
                "client-output-timeout" => &self.client_output_timeout,
                other => {
                    return failed(&format!(
                        "can't set immutable config: shardcask reads it at start; restart with --{}",
                        flag_of(other)
                    ));
                }
            };
            let parsed = if name == "client-output-limit" {
                parse_size(&text).ok()
            } else {
                text.parse::<u64>().ok()
            };
            match parsed {
                Some(parsed)
                    if parsed != UNSET && (parsed > 0 || name == "client-output-timeout") =>
                {
                    changes.push((setting, parsed))
                }
                _ => return failed("argument must be a positive number"),
            }
        }
        for (setting, value) in changes {
            setting.store(value, Ordering::Relaxed);
        }
        Reply::OK
    }
}
