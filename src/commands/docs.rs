//! What `COMMAND DOCS` tells about a command beyond its summary line: its
//! argument tree (which redis-cli's hints and client libraries read), its
//! history and deprecation, and for a container the sub-commands we serve.
//! The values in the spec rows are Redis 7.0.15's (`src/commands/*.json`);
//! this file only gives them a shape and turns them into the reply.

use super::table::Description;
use crate::protocol::Reply;

/// The documentation part of a [`Description`].
#[derive(Debug)]
pub struct Docs {
    /// `deprecated`, `syscmd` (empty: none).
    pub doc_flags: &'static [&'static str],
    /// The version that deprecated the command (empty: not deprecated).
    pub deprecated_since: &'static str,
    /// What to use instead (empty: nothing).
    pub replaced_by: &'static str,
    /// (version, change) pairs, oldest first.
    pub history: &'static [(&'static str, &'static str)],
    /// The argument tree, in order.
    pub arguments: &'static [Arg],
    /// A container's sub-commands that shardcask serves.
    pub subcommands: &'static [Description],
}

impl Docs {
    /// No extra documentation (and the base for struct update syntax).
    pub const NONE: Docs = Docs {
        doc_flags: &[],
        deprecated_since: "",
        replaced_by: "",
        history: &[],
        arguments: &[],
        subcommands: &[],
    };
}

/// What kind of value an argument takes.
#[derive(Debug)]
pub enum ArgKind {
    /// `string`
    String,
    /// `integer`
    Integer,
    /// `double`
    Double,
    /// `key`
    Key,
    /// `pattern`
    Pattern,
    /// `unix-time`
    UnixTime,
    /// `pure-token`: the token alone.
    PureToken,
    /// `oneof`: exactly one of these.
    OneOf(&'static [Arg]),
    /// `block`: these together.
    Block(&'static [Arg]),
}

/// One argument of a command's argument tree.
#[derive(Debug)]
pub struct Arg {
    /// Its name.
    pub name: &'static str,
    /// Its kind.
    pub kind: ArgKind,
    /// The key spec describing it (a key, or a pattern naming keys); -1: none.
    pub key_spec_index: i64,
    /// The keyword before it (empty: none).
    pub token: &'static str,
    /// The version that added it (empty: the command's).
    pub since: &'static str,
    /// The version that deprecated it (empty: not deprecated).
    pub deprecated_since: &'static str,
    /// May be left out.
    pub optional: bool,
    /// May repeat.
    pub multiple: bool,
    /// Repeats with its token each time.
    pub multiple_token: bool,
}

impl Arg {
    const fn new(name: &'static str, kind: ArgKind) -> Arg {
        Arg {
            name,
            kind,
            key_spec_index: -1,
            token: "",
            since: "",
            deprecated_since: "",
            optional: false,
            multiple: false,
            multiple_token: false,
        }
    }

    /// A key, described by key spec `spec`.
    pub const fn key(name: &'static str, spec: i64) -> Arg {
        Arg::new(name, ArgKind::Key).key_spec(spec)
    }

    /// Described by key spec `spec` (a pattern that names keys).
    pub const fn key_spec(mut self, spec: i64) -> Arg {
        self.key_spec_index = spec;
        self
    }

    /// A string.
    pub const fn string(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::String)
    }

    /// An integer.
    pub const fn integer(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::Integer)
    }

    /// A floating-point number.
    pub const fn double(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::Double)
    }

    /// A glob-style pattern.
    pub const fn pattern(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::Pattern)
    }

    /// A Unix time.
    pub const fn unix_time(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::UnixTime)
    }

    /// A keyword alone.
    pub const fn pure_token(name: &'static str, token: &'static str) -> Arg {
        Arg::new(name, ArgKind::PureToken).token(token)
    }

    /// Exactly one of `choices`.
    pub const fn one_of(name: &'static str, choices: &'static [Arg]) -> Arg {
        Arg::new(name, ArgKind::OneOf(choices))
    }

    /// `parts` together.
    pub const fn block(name: &'static str, parts: &'static [Arg]) -> Arg {
        Arg::new(name, ArgKind::Block(parts))
    }

    /// Preceded by `token`.
    pub const fn token(mut self, token: &'static str) -> Arg {
        self.token = token;
        self
    }

    /// Added in `version`.
    pub const fn since(mut self, version: &'static str) -> Arg {
        self.since = version;
        self
    }

    /// Deprecated in `version`.
    pub const fn deprecated_since(mut self, version: &'static str) -> Arg {
        self.deprecated_since = version;
        self
    }

    /// May be left out.
    pub const fn optional(mut self) -> Arg {
        self.optional = true;
        self
    }

    /// May repeat.
    pub const fn multiple(mut self) -> Arg {
        self.multiple = true;
        self
    }

    /// Repeats with its token.
    pub const fn multiple_token(mut self) -> Arg {
        self.multiple_token = true;
        self
    }

    /// The argument's map, fields in Redis's order.
    fn reply(&self) -> Reply {
        let mut fields = vec![
            field("name", bulk(self.name)),
            field("type", bulk(self.kind.name())),
        ];
        if self.key_spec_index >= 0 {
            fields.push(field("key_spec_index", Reply::Integer(self.key_spec_index)));
        }
        // A pure token may be the empty string (MIGRATE's `""` key).
        if !self.token.is_empty() || matches!(self.kind, ArgKind::PureToken) {
            fields.push(field("token", bulk(self.token)));
        }
        if !self.since.is_empty() {
            fields.push(field("since", bulk(self.since)));
        }
        if !self.deprecated_since.is_empty() {
            fields.push(field("deprecated_since", bulk(self.deprecated_since)));
        }
        let flags: Vec<&str> = [
            (self.optional, "optional"),
            (self.multiple, "multiple"),
            (self.multiple_token, "multiple_token"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();
        if !flags.is_empty() {
            fields.push(field("flags", statuses(&flags)));
        }
        if let ArgKind::OneOf(args) | ArgKind::Block(args) = self.kind {
            fields.push(field("arguments", arguments(args)));
        }
        Reply::Map(fields)
    }
}

impl ArgKind {
    /// The `type` COMMAND DOCS gives.
    fn name(&self) -> &'static str {
        match self {
            ArgKind::String => "string",
            ArgKind::Integer => "integer",
            ArgKind::Double => "double",
            ArgKind::Key => "key",
            ArgKind::Pattern => "pattern",
            ArgKind::UnixTime => "unix-time",
            ArgKind::PureToken => "pure-token",
            ArgKind::OneOf(_) => "oneof",
            ArgKind::Block(_) => "block",
        }
    }
}

fn bulk(text: &str) -> Reply {
    Reply::bulk(text.as_bytes())
}

fn field(name: &str, value: Reply) -> (Reply, Reply) {
    (bulk(name), value)
}

fn statuses(items: &[&str]) -> Reply {
    Reply::Set(
        items
            .iter()
            .map(|s| Reply::Status(s.to_string().into()))
            .collect(),
    )
}

fn arguments(args: &[Arg]) -> Reply {
    Reply::Array(args.iter().map(Arg::reply).collect())
}

/// A command's (or sub-command's) `COMMAND DOCS` map, fields in Redis's
/// order: summary, since, group, complexity, then what `docs` holds.
pub fn docs_map(about: &Description) -> Reply {
    let Description {
        summary,
        since,
        group,
        complexity,
        docs,
        ..
    } = about;
    let mut fields = vec![
        field("summary", bulk(summary)),
        field("since", bulk(since)),
        field("group", bulk(group)),
    ];
    // Redis leaves the field out for a command without one (MONITOR).
    if !complexity.is_empty() {
        fields.push(field("complexity", bulk(complexity)));
    }
    if !docs.doc_flags.is_empty() {
        fields.push(field("doc_flags", statuses(docs.doc_flags)));
    }
    if !docs.deprecated_since.is_empty() {
        fields.push(field("deprecated_since", bulk(docs.deprecated_since)));
    }
    if !docs.replaced_by.is_empty() {
        fields.push(field("replaced_by", bulk(docs.replaced_by)));
    }
    if !docs.history.is_empty() {
        fields.push(field(
            "history",
            Reply::Set(
                docs.history
                    .iter()
                    .map(|(version, change)| Reply::Array(vec![bulk(version), bulk(change)]))
                    .collect(),
            ),
        ));
    }
    if !docs.arguments.is_empty() {
        fields.push(field("arguments", arguments(docs.arguments)));
    }
    if !docs.subcommands.is_empty() {
        fields.push(field(
            "subcommands",
            Reply::Map(
                docs.subcommands
                    .iter()
                    .map(|sub| (bulk(sub.name), docs_map(sub)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(fields)
}
