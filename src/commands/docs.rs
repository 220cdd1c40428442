//! What `COMMAND INFO` and `COMMAND DOCS` tell about a command: arity,
//! flags, key specs (which cluster clients route by), its argument tree
//! (which redis-cli's hints and client libraries read), its history and
//! deprecation, and for a container the sub-commands we serve. The values in
//! the spec rows are Redis 7.0.15's (`src/commands/*.json`); this file only
//! gives them a shape and turns them into the replies.

use crate::protocol::Reply;

/// A command or served sub-command (`config|get`, ...) as Redis 7's command
/// table describes it: the fields of its `COMMAND INFO` and `COMMAND DOCS`
/// entries (cluster clients route `OBJECT ENCODING key` by a sub-command's
/// key spec).
#[derive(Debug)]
pub struct Description {
    /// Lower-case name (`container|sub` for a sub-command).
    pub name: &'static str,
    /// Redis arity: `n > 0` exactly n arguments (name included), `n < 0` at
    /// least -n; a sub-command counts the container's name too.
    pub arity: i32,
    /// Command flags (`write`, `readonly`, `fast`, `denyoom`, ...).
    pub flags: &'static [&'static str],
    /// ACL categories (`@read`, `@string`, ...).
    pub acl_categories: &'static [&'static str],
    /// Command tips (`request_policy:multi_shard`, ...): cluster clients read them.
    pub tips: &'static [&'static str],
    /// Key specifications: where the keys are and what is done to them.
    pub key_specs: &'static [KeySpec],
    /// The legacy (first key, last key, step) triple of `COMMAND INFO`.
    pub legacy_keys: (i32, i32, i32),
    /// The group `COMMAND DOCS` reports (`string`, `generic`, `server`, ...).
    pub group: &'static str,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Time complexity, as Redis documents it.
    pub complexity: &'static str,
    /// The rest of `COMMAND DOCS`: arguments, history, deprecation,
    /// served sub-commands (Redis 7.0.15's).
    pub docs: Docs,
}

/// One key specification: of the `index` + `range` kind, or with `index`
/// 0 of the `unknown` kind (SORT's BY/GET/STORE keys, which only the
/// command itself can find: see [`crate::commands::sort_key_positions`]).
#[derive(Debug)]
pub struct KeySpec {
    /// Redis's note on the spec (empty: none).
    pub notes: &'static str,
    /// Key spec flags (`RO`, `RW`, `OW`, `RM`, `access`, `update`, `insert`, `delete`).
    pub flags: &'static [&'static str],
    /// Argument index of the first key; 0: an `unknown` spec.
    pub index: i32,
    /// Last key relative to `index` (0: just it), or from the end when negative (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub key_step: i32,
    /// With `last_key` -1: 0 all keys, n a 1/n share of the arguments.
    pub limit: i32,
    /// Non-empty: a `keyword` begin search (MIGRATE's `KEYS`) that starts
    /// at `index` (negative: from the end, searching backwards).
    pub keyword: &'static str,
}

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

impl Description {
    /// True when the command has `flag` (`write`, `readonly`, ...).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// True when the arguments' count fits the arity.
    pub fn arity_fits(&self, nr_args: usize) -> bool {
        let arity = self.arity as i64;
        let nr_args = nr_args as i64;
        if arity > 0 {
            nr_args == arity
        } else {
            nr_args >= -arity
        }
    }

    /// Its `COMMAND INFO` entry, as Redis 7 shapes it (a container lists
    /// its served sub-commands' entries).
    pub fn info_reply(&self) -> Reply {
        let subcommands = &self.docs.subcommands;
        info_array(
            self.name,
            self.arity,
            self.flags,
            self.legacy_keys,
            self.acl_categories,
            self.tips,
            self.key_specs,
            (!subcommands.is_empty())
                .then(|| Reply::Array(subcommands.iter().map(|sub| sub.info_reply()).collect())),
        )
    }

    /// Its `COMMAND DOCS` entry, as Redis 7 shapes it.
    pub fn docs_reply(&self) -> Reply {
        docs_map(self)
    }

    /// The argument positions of the keys in `args` (name at 0), as
    /// `COMMAND GETKEYS` finds them from the key specs.
    pub fn key_positions(&self, nr_args: usize) -> Vec<usize> {
        let mut positions = Vec::new();
        for spec in self.key_specs {
            let first = spec.index as usize;
            if first == 0 || first >= nr_args {
                continue;
            }
            let last = if spec.last_key >= 0 {
                first + spec.last_key as usize
            } else if spec.limit > 1 {
                let available = nr_args - first;
                first + available / spec.limit as usize - 1
            } else {
                (nr_args as i64 + i64::from(spec.last_key)) as usize
            };
            let step = spec.key_step.max(1) as usize;
            let mut position = first;
            while position <= last.min(nr_args - 1) {
                positions.push(position);
                position += step;
            }
        }
        positions
    }
}

/// A `COMMAND INFO` entry: name, arity, flags, the legacy key triple, ACL
/// categories, tips, key specs, sub-commands (`None`: an empty set).
#[allow(clippy::too_many_arguments)]
pub(crate) fn info_array(
    name: &str,
    arity: i32,
    flags: &[&str],
    (first, last, step): (i32, i32, i32),
    acl_categories: &[&str],
    tips: &[&str],
    key_specs: &[KeySpec],
    subcommands: Option<Reply>,
) -> Reply {
    Reply::Array(vec![
        Reply::bulk(name.as_bytes()),
        Reply::Integer(i64::from(arity)),
        statuses_of(flags),
        Reply::Integer(i64::from(first)),
        Reply::Integer(i64::from(last)),
        Reply::Integer(i64::from(step)),
        statuses_of(acl_categories),
        Reply::Set(tips.iter().map(|t| Reply::bulk(t.as_bytes())).collect()),
        Reply::Set(key_specs.iter().map(|k| k.reply()).collect()),
        subcommands.unwrap_or_else(|| Reply::Set(Vec::new())),
    ])
}

fn statuses_of(items: &[&str]) -> Reply {
    Reply::Set(
        items
            .iter()
            .map(|s| Reply::Status(s.to_string().into()))
            .collect(),
    )
}

impl KeySpec {
    /// The common spec: one key at argument `index`, no notes.
    pub const fn single(flags: &'static [&'static str], index: i32) -> KeySpec {
        KeySpec {
            notes: "",
            flags,
            index,
            last_key: 0,
            key_step: 1,
            limit: 0,
            keyword: "",
        }
    }

    /// An `unknown` spec of read-only keys (set `notes`, and `flags` for others).
    pub const UNKNOWN_RO: KeySpec = KeySpec {
        notes: "",
        flags: &["RO", "access"],
        index: 0,
        last_key: 0,
        key_step: 0,
        limit: 0,
        keyword: "",
    };

    fn reply(&self) -> Reply {
        let key = |name: &str| Reply::bulk(name.as_bytes());
        let unknown = || {
            Reply::Map(vec![
                (key("type"), key("unknown")),
                (key("spec"), Reply::Map(Vec::new())),
            ])
        };
        if self.index == 0 {
            let notes = (!self.notes.is_empty()).then(|| (key("notes"), key(self.notes)));
            return Reply::Map(
                notes
                    .into_iter()
                    .chain([
                        (key("flags"), statuses_of(self.flags)),
                        (key("begin_search"), unknown()),
                        (key("find_keys"), unknown()),
                    ])
                    .collect(),
            );
        }
        let notes = (!self.notes.is_empty()).then(|| (key("notes"), key(self.notes)));
        Reply::Map(
            notes
                .into_iter()
                .chain([
                    (
                        key("flags"),
                        Reply::Set(
                            self.flags
                                .iter()
                                .map(|f| Reply::Status(f.to_string().into()))
                                .collect(),
                        ),
                    ),
                    (key("begin_search"), self.begin_search()),
                    (
                        key("find_keys"),
                        Reply::Map(vec![
                            (key("type"), key("range")),
                            (
                                key("spec"),
                                Reply::Map(vec![
                                    (key("lastkey"), Reply::Integer(i64::from(self.last_key))),
                                    (key("keystep"), Reply::Integer(i64::from(self.key_step))),
                                    (key("limit"), Reply::Integer(i64::from(self.limit))),
                                ]),
                            ),
                        ]),
                    ),
                ])
                .collect(),
        )
    }
}

impl KeySpec {
    fn begin_search(&self) -> Reply {
        let key = |name: &str| Reply::bulk(name.as_bytes());
        let (kind, spec) = if self.keyword.is_empty() {
            (
                "index",
                vec![(key("index"), Reply::Integer(i64::from(self.index)))],
            )
        } else {
            (
                "keyword",
                vec![
                    (key("keyword"), key(self.keyword)),
                    (key("startfrom"), Reply::Integer(i64::from(self.index))),
                ],
            )
        };
        Reply::Map(vec![
            (key("type"), key(kind)),
            (key("spec"), Reply::Map(spec)),
        ])
    }
}
