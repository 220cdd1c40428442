//! The cluster configuration file (`--cluster-config`): TOML, the same file
//! on every node.
//!
//! ```toml
//! [[node]]
//! id = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"   # 40 hex, unique
//! addr = "10.0.0.1:6379"      # the node's --listen address
//! slots = ["0-8191", 9000]     # ranges "A-B" (inclusive) or single slots
//! shard_ports = 7100           # optional: the node's --shard-ports
//! shards = 2                   # with shard_ports: the node's --shards
//! ```

use std::net::SocketAddr;

use super::topology::{NodeSpec, ShardPorts};

/// Why a configuration file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// Reading the file failed.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// The file is not valid TOML.
    #[error("{0} is not valid TOML: {1}")]
    Syntax(String, String),
    /// A field is missing or has the wrong type.
    #[error("{0}: node #{1}: {2}")]
    Field(String, usize, String),
    /// No `[[node]]` tables.
    #[error("{0} lists no [[node]]")]
    Empty(String),
}

/// Reads and parses the file at `path`.
pub fn load(path: &std::path::Path) -> Result<Vec<NodeSpec>, ConfigFileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigFileError::Read(name.clone(), e))?;
    parse(&name, &text)
}

/// Parses the text of a configuration file (`name` is for error messages).
pub fn parse(name: &str, text: &str) -> Result<Vec<NodeSpec>, ConfigFileError> {
    let document: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| ConfigFileError::Syntax(name.into(), e.to_string()))?;
    let Some(tables) = document
        .get("node")
        .and_then(|item| item.as_array_of_tables())
    else {
        return Err(ConfigFileError::Empty(name.into()));
    };
    let mut nodes = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let field = |what: String| ConfigFileError::Field(name.into(), index, what);
        let id = table
            .get("id")
            .and_then(|item| item.as_str())
            .ok_or_else(|| field("`id` (a string of 40 hex characters) is missing".into()))?
            .to_ascii_lowercase();
        let addr: SocketAddr = table
            .get("addr")
            .and_then(|item| item.as_str())
            .ok_or_else(|| field("`addr` (\"IP:PORT\") is missing".into()))?
            .parse()
            .map_err(|e| field(format!("`addr`: {e}")))?;
        let mut slots = Vec::new();
        if let Some(item) = table.get("slots") {
            let array = item
                .as_array()
                .ok_or_else(|| field("`slots` must be an array".into()))?;
            for value in array.iter() {
                let range = if let Some(slot) = value.as_integer() {
                    let slot =
                        slot_number(slot).ok_or_else(|| field(format!("bad slot {slot}")))?;
                    (slot, slot)
                } else if let Some(text) = value.as_str() {
                    parse_range(text).ok_or_else(|| field(format!("bad slot range '{text}'")))?
                } else {
                    return Err(field(
                        "`slots` holds integers or \"START-END\" strings".into(),
                    ));
                };
                slots.push(range);
            }
        }
        let integer = |key: &str| table.get(key).and_then(|item| item.as_integer());
        let shard_ports = match (integer("shard_ports"), integer("shards")) {
            (None, None) => None,
            (Some(base), Some(nr_shards)) => {
                let base = u16::try_from(base)
                    .ok()
                    .filter(|&b| b > 0)
                    .ok_or_else(|| field(format!("bad shard_ports {base}")))?;
                let nr_shards = usize::try_from(nr_shards)
                    .ok()
                    .filter(|&n| (1..=1024).contains(&n))
                    .ok_or_else(|| field(format!("bad shards {nr_shards}")))?;
                Some(ShardPorts { base, nr_shards })
            }
            _ => return Err(field("`shard_ports` and `shards` go together".into())),
        };
        nodes.push(NodeSpec {
            id,
            addr,
            slots,
            shard_ports,
        });
    }
    if nodes.is_empty() {
        return Err(ConfigFileError::Empty(name.into()));
    }
    Ok(nodes)
}

fn slot_number(value: i64) -> Option<u16> {
    u16::try_from(value)
        .ok()
        .filter(|&s| s < crate::keyspace::NR_SLOTS)
}

/// `"A-B"` or `"A"`.
fn parse_range(text: &str) -> Option<(u16, u16)> {
    let text = text.trim();
    let (start, end) = text.split_once('-').unwrap_or((text, text));
    let start = slot_number(start.trim().parse().ok()?)?;
    let end = slot_number(end.trim().parse().ok()?)?;
    (start <= end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nodes_ranges_and_shard_ports() {
        let text = r#"
            [[node]]
            id = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            addr = "127.0.0.1:7000"
            slots = ["0-100", 200, " 300 - 400 "]
            shard_ports = 7100
            shards = 2

            [[node]]
            id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
            addr = "127.0.0.1:7001"
            slots = ["101-199"]
        "#;
        let nodes = parse("t", text).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].id, "a".repeat(40));
        assert_eq!(nodes[0].slots, vec![(0, 100), (200, 200), (300, 400)]);
        assert_eq!(
            nodes[0].shard_ports,
            Some(ShardPorts {
                base: 7100,
                nr_shards: 2
            })
        );
        assert_eq!(nodes[1].addr.port(), 7001);
        assert_eq!(nodes[1].shard_ports, None);
    }

    #[test]
    fn reports_what_is_wrong() {
        let missing_addr = "[[node]]\nid = \"aa\"\n";
        assert!(
            parse("t", missing_addr)
                .unwrap_err()
                .to_string()
                .contains("addr")
        );
        let bad_range = "[[node]]\nid = \"aa\"\naddr = \"127.0.0.1:1\"\nslots = [\"5-2\"]\n";
        assert!(
            parse("t", bad_range)
                .unwrap_err()
                .to_string()
                .contains("5-2")
        );
        let big_slot = "[[node]]\nid = \"aa\"\naddr = \"127.0.0.1:1\"\nslots = [16384]\n";
        assert!(parse("t", big_slot).is_err());
        assert!(matches!(
            parse("t", "x = 1"),
            Err(ConfigFileError::Empty(_))
        ));
        assert!(matches!(
            parse("t", "[[node]\n"),
            Err(ConfigFileError::Syntax(..))
        ));
        let half = "[[node]]\nid = \"aa\"\naddr = \"127.0.0.1:1\"\nshard_ports = 5\n";
        assert!(parse("t", half).is_err());
    }
}
