//! The string family: one [`CommandSpec`] per command (arity, flags, key specs and docs as Redis 7 gives them, the parser and the route).

use super::*;

/// APPEND: Append a value to a key
pub static APPEND: CommandSpec = CommandSpec {
    about: Description {
        name: "append",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "insert"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "2.0.0",
        summary: "Append a value to a key",
        complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        docs: Docs {
            arguments: &[Arg::key("key", 0), Arg::string("value")],
            ..Docs::NONE
        },
    },
    parse: |a| string_cmds::key_value(a, Command::Append),
    route: Route::Keyed(Gather::One),
};

/// DECR: Decrement the integer value of a key by one
pub static DECR: CommandSpec = CommandSpec {
    about: Description {
        name: "decr",
        arity: 2,
        flags: &["write", "denyoom", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "access", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Decrement the integer value of a key by one",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::IncrBy(a[1].clone(), -1)),
    route: Route::Keyed(Gather::One),
};

/// DECRBY: Decrement the integer value of a key by the given number
pub static DECRBY: CommandSpec = CommandSpec {
    about: Description {
        name: "decrby",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "access", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Decrement the integer value of a key by the given number",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0), Arg::integer("decrement")],
            ..Docs::NONE
        },
    },
    parse: |a| string_cmds::incrby(a, true),
    route: Route::Keyed(Gather::One),
};

/// GET: Get the value of a key
pub static GET: CommandSpec = CommandSpec {
    about: Description {
        name: "get",
        arity: 2,
        flags: &["readonly", "fast"],
        acl_categories: &["@read", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Get the value of a key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Get(a[1].clone())),
    route: Route::Keyed(Gather::One),
};

/// GETDEL: Get the value of a key and delete the key
pub static GETDEL: CommandSpec = CommandSpec {
    about: Description {
        name: "getdel",
        arity: 2,
        flags: &["write", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "access", "delete"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "6.2.0",
        summary: "Get the value of a key and delete the key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::GetDel(a[1].clone())),
    route: Route::Keyed(Gather::One),
};

/// GETEX: Get the value of a key and optionally set its expiration
pub static GETEX: CommandSpec = CommandSpec {
    about: Description {
        name: "getex",
        arity: -2,
        flags: &["write", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec {
            notes: "RW and UPDATE because it changes the TTL",
            flags: &["RW", "access", "update"],
            index: 1,
            last_key: 0,
            key_step: 1,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "6.2.0",
        summary: "Get the value of a key and optionally set its expiration",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::one_of(
                    "expiration",
                    &[
                        Arg::integer("seconds").token("EX"),
                        Arg::integer("milliseconds").token("PX"),
                        Arg::unix_time("unix-time-seconds").token("EXAT"),
                        Arg::unix_time("unix-time-milliseconds").token("PXAT"),
                        Arg::pure_token("persist", "PERSIST"),
                    ],
                )
                .optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: string_cmds::getex,
    route: Route::Keyed(Gather::One),
};

/// GETRANGE: Get a substring of the string stored at a key
pub static GETRANGE: CommandSpec = CommandSpec {
    about: Description {
        name: "getrange",
        arity: 4,
        flags: &["readonly"],
        acl_categories: &["@read", "@string", "@slow"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "2.4.0",
        summary: "Get a substring of the string stored at a key",
        complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("start"),
                Arg::integer("end"),
            ],
            ..Docs::NONE
        },
    },
    parse: string_cmds::getrange,
    route: Route::Keyed(Gather::One),
};

/// GETSET: Set the string value of a key and return its old value
pub static GETSET: CommandSpec = CommandSpec {
    about: Description {
        name: "getset",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "access", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Set the string value of a key and return its old value",
        complexity: "O(1)",
        docs: Docs {
            doc_flags: &["deprecated"],
            deprecated_since: "6.2.0",
            replaced_by: "`SET` with the `!GET` argument",
            arguments: &[Arg::key("key", 0), Arg::string("value")],
            ..Docs::NONE
        },
    },
    parse: |a| string_cmds::key_value(a, Command::GetSet),
    route: Route::Keyed(Gather::One),
};

/// INCR: Increment the integer value of a key by one
pub static INCR: CommandSpec = CommandSpec {
    about: Description {
        name: "incr",
        arity: 2,
        flags: &["write", "denyoom", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "access", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Increment the integer value of a key by one",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::IncrBy(a[1].clone(), 1)),
    route: Route::Keyed(Gather::One),
};

/// INCRBY: Increment the integer value of a key by the given amount
pub static INCRBY: CommandSpec = CommandSpec {
    about: Description {
        name: "incrby",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "access", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Increment the integer value of a key by the given amount",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0), Arg::integer("increment")],
            ..Docs::NONE
        },
    },
    parse: |a| string_cmds::incrby(a, false),
    route: Route::Keyed(Gather::One),
};

/// MGET: Get the values of all the given keys
pub static MGET: CommandSpec = CommandSpec {
    about: Description {
        name: "mget",
        arity: -2,
        flags: &["readonly", "fast"],
        acl_categories: &["@read", "@string", "@fast"],
        tips: &["request_policy:multi_shard"],
        key_specs: &[KeySpec {
            notes: "",
            flags: &["RO", "access"],
            index: 1,
            last_key: -1,
            key_step: 1,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, -1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Get the values of all the given keys",
        complexity: "O(N) where N is the number of keys to retrieve.",
        docs: Docs {
            arguments: &[Arg::key("key", 0).multiple()],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::MGet(a[1..].to_vec())),
    route: Route::Keyed(Gather::Array),
};

/// MSET: Set multiple keys to multiple values
pub static MSET: CommandSpec = CommandSpec {
    about: Description {
        name: "mset",
        arity: -3,
        flags: &["write", "denyoom"],
        acl_categories: &["@write", "@string", "@slow"],
        tips: &[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ],
        key_specs: &[KeySpec {
            notes: "",
            flags: &["OW", "update"],
            index: 1,
            last_key: -1,
            key_step: 2,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, -1, 2),
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values",
        complexity: "O(N) where N is the number of keys to set.",
        docs: Docs {
            arguments: &[
                Arg::block("key_value", &[Arg::key("key", 0), Arg::string("value")]).multiple(),
            ],
            ..Docs::NONE
        },
    },
    parse: |a| string_cmds::pairs(a, "mset").map(Command::MSet),
    route: Route::Keyed(Gather::AllOk),
};

/// MSETNX: Set multiple keys to multiple values, only if none of the keys exist
pub static MSETNX: CommandSpec = CommandSpec {
    about: Description {
        name: "msetnx",
        arity: -3,
        flags: &["write", "denyoom"],
        acl_categories: &["@write", "@string", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:agg_min"],
        key_specs: &[KeySpec {
            notes: "",
            flags: &["OW", "insert"],
            index: 1,
            last_key: -1,
            key_step: 2,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, -1, 2),
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values, only if none of the keys exist",
        complexity: "O(N) where N is the number of keys to set.",
        docs: Docs {
            arguments: &[
                Arg::block("key_value", &[Arg::key("key", 0), Arg::string("value")]).multiple(),
            ],
            ..Docs::NONE
        },
    },
    parse: |a| string_cmds::pairs(a, "msetnx").map(Command::MSetNx),
    route: Route::Keyed(Gather::Latched),
};

/// SET: Set the string value of a key
pub static SET: CommandSpec = CommandSpec {
    about: Description {
        name: "set",
        arity: -3,
        flags: &["write", "denyoom"],
        acl_categories: &["@write", "@string", "@slow"],
        tips: &[],
        key_specs: &[KeySpec {
            notes: "RW and ACCESS due to the optional `GET` argument",
            flags: &["RW", "access", "update", "variable_flags"],
            index: 1,
            last_key: 0,
            key_step: 1,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Set the string value of a key",
        complexity: "O(1)",
        docs: Docs {
            history: &[
                ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
                ("6.0.0", "Added the `KEEPTTL` option."),
                ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
                (
                    "7.0.0",
                    "Allowed the `NX` and `GET` options to be used together.",
                ),
            ],
            arguments: &[
                Arg::key("key", 0),
                Arg::string("value"),
                Arg::one_of(
                    "condition",
                    &[Arg::pure_token("nx", "NX"), Arg::pure_token("xx", "XX")],
                )
                .since("2.6.12")
                .optional(),
                Arg::pure_token("get", "GET").since("6.2.0").optional(),
                Arg::one_of(
                    "expiration",
                    &[
                        Arg::integer("seconds").token("EX").since("2.6.12"),
                        Arg::integer("milliseconds").token("PX").since("2.6.12"),
                        Arg::unix_time("unix-time-seconds")
                            .token("EXAT")
                            .since("6.2.0"),
                        Arg::unix_time("unix-time-milliseconds")
                            .token("PXAT")
                            .since("6.2.0"),
                        Arg::pure_token("keepttl", "KEEPTTL").since("6.0.0"),
                    ],
                )
                .optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: string_cmds::set,
    route: Route::Keyed(Gather::One),
};

/// SETNX: Set the value of a key, only if the key does not exist
pub static SETNX: CommandSpec = CommandSpec {
    about: Description {
        name: "setnx",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["OW", "insert"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Set the value of a key, only if the key does not exist",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0), Arg::string("value")],
            ..Docs::NONE
        },
    },
    parse: |a| string_cmds::key_value(a, Command::SetNx),
    route: Route::Keyed(Gather::One),
};

/// SETRANGE: Overwrite part of a string at key starting at the specified offset
pub static SETRANGE: CommandSpec = CommandSpec {
    about: Description {
        name: "setrange",
        arity: 4,
        flags: &["write", "denyoom"],
        acl_categories: &["@write", "@string", "@slow"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "2.2.0",
        summary: "Overwrite part of a string at key starting at the specified offset",
        complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("offset"),
                Arg::string("value"),
            ],
            ..Docs::NONE
        },
    },
    parse: string_cmds::setrange,
    route: Route::Keyed(Gather::One),
};

/// STRLEN: Get the length of the value stored in a key
pub static STRLEN: CommandSpec = CommandSpec {
    about: Description {
        name: "strlen",
        arity: 2,
        flags: &["readonly", "fast"],
        acl_categories: &["@read", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "2.2.0",
        summary: "Get the length of the value stored in a key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Strlen(a[1].clone())),
    route: Route::Keyed(Gather::One),
};

/// SETEX: Set the value and expiration of a key
pub static SETEX: CommandSpec = CommandSpec {
    about: Description {
        name: "setex",
        arity: 4,
        flags: &["write", "denyoom"],
        acl_categories: &["@write", "@string", "@slow"],
        tips: &[],
        key_specs: &[KeySpec::single(&["OW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "2.0.0",
        summary: "Set the value and expiration of a key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("seconds"),
                Arg::string("value"),
            ],
            ..Docs::NONE
        },
    },
    parse: |a| string_cmds::setex(a, false),
    route: Route::Keyed(Gather::One),
};

/// PSETEX: Set the value and expiration in milliseconds of a key
pub static PSETEX: CommandSpec = CommandSpec {
    about: Description {
        name: "psetex",
        arity: 4,
        flags: &["write", "denyoom"],
        acl_categories: &["@write", "@string", "@slow"],
        tips: &[],
        key_specs: &[KeySpec::single(&["OW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "2.6.0",
        summary: "Set the value and expiration in milliseconds of a key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("milliseconds"),
                Arg::string("value"),
            ],
            ..Docs::NONE
        },
    },
    parse: |a| string_cmds::setex(a, true),
    route: Route::Keyed(Gather::One),
};

/// SUBSTR: Get a substring of the string stored at a key
pub static SUBSTR: CommandSpec = CommandSpec {
    about: Description {
        name: "substr",
        arity: 4,
        flags: &["readonly"],
        acl_categories: &["@read", "@string", "@slow"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "1.0.0",
        summary: "Get a substring of the string stored at a key",
        complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        docs: Docs {
            doc_flags: &["deprecated"],
            deprecated_since: "2.0.0",
            replaced_by: "`GETRANGE`",
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("start"),
                Arg::integer("end"),
            ],
            ..Docs::NONE
        },
    },
    parse: string_cmds::getrange,
    route: Route::Keyed(Gather::One),
};

/// INCRBYFLOAT: Increment the float value of a key by the given amount
pub static INCRBYFLOAT: CommandSpec = CommandSpec {
    about: Description {
        name: "incrbyfloat",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "access", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "string",
        since: "2.6.0",
        summary: "Increment the float value of a key by the given amount",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0), Arg::double("increment")],
            ..Docs::NONE
        },
    },
    parse: string_cmds::incrbyfloat,
    route: Route::Keyed(Gather::One),
};

/// LCS: Find longest common substring
pub static LCS: CommandSpec = CommandSpec {
    about: Description {
        name: "lcs",
        arity: -3,
        flags: &["readonly"],
        acl_categories: &["@read", "@string", "@slow"],
        tips: &[],
        key_specs: &[KeySpec {
            notes: "",
            flags: &["RO", "access"],
            index: 1,
            last_key: 1,
            key_step: 1,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, 2, 1),
        group: "string",
        since: "7.0.0",
        summary: "Find longest common substring",
        complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        docs: Docs {
            arguments: &[
                Arg::key("key1", 0),
                Arg::key("key2", 0),
                Arg::pure_token("len", "LEN").optional(),
                Arg::pure_token("idx", "IDX").optional(),
                Arg::integer("len").token("MINMATCHLEN").optional(),
                Arg::pure_token("withmatchlen", "WITHMATCHLEN").optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: string_cmds::lcs,
    route: Route::Keyed(Gather::Computed),
};
