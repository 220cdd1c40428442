//! The bitmap family: one [`CommandSpec`] per command (arity, flags, key specs and docs as Redis 7 gives them, the parser and the route).

use super::*;

/// SETBIT: Sets or clears the bit at offset in the string value stored at key
pub static SETBIT: CommandSpec = CommandSpec {
    about: Description {
        name: "setbit",
        arity: 4,
        flags: &["write", "denyoom"],
        acl_categories: &["@write", "@bitmap", "@slow"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "access", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "bitmap",
        since: "2.2.0",
        summary: "Sets or clears the bit at offset in the string value stored at key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("offset"),
                Arg::integer("value"),
            ],
            ..Docs::NONE
        },
    },
    parse: bit_cmds::setbit,
    route: Route::Keyed(Gather::One),
};

/// GETBIT: Returns the bit value at offset in the string value stored at key
pub static GETBIT: CommandSpec = CommandSpec {
    about: Description {
        name: "getbit",
        arity: 3,
        flags: &["readonly", "fast"],
        acl_categories: &["@read", "@bitmap", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "bitmap",
        since: "2.2.0",
        summary: "Returns the bit value at offset in the string value stored at key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0), Arg::integer("offset")],
            ..Docs::NONE
        },
    },
    parse: bit_cmds::getbit,
    route: Route::Keyed(Gather::One),
};

/// BITCOUNT: Count set bits in a string
pub static BITCOUNT: CommandSpec = CommandSpec {
    about: Description {
        name: "bitcount",
        arity: -2,
        flags: &["readonly"],
        acl_categories: &["@read", "@bitmap", "@slow"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "bitmap",
        since: "2.6.0",
        summary: "Count set bits in a string",
        complexity: "O(N)",
        docs: Docs {
            history: &[("7.0.0", "Added the `BYTE|BIT` option.")],
            arguments: &[
                Arg::key("key", 0),
                Arg::block(
                    "index",
                    &[
                        Arg::integer("start"),
                        Arg::integer("end"),
                        Arg::one_of(
                            "index_unit",
                            &[
                                Arg::pure_token("byte", "BYTE"),
                                Arg::pure_token("bit", "BIT"),
                            ],
                        )
                        .since("7.0.0")
                        .optional(),
                    ],
                )
                .optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: bit_cmds::bitcount,
    route: Route::Keyed(Gather::One),
};

/// BITPOS: Find first bit set or clear in a string
pub static BITPOS: CommandSpec = CommandSpec {
    about: Description {
        name: "bitpos",
        arity: -3,
        flags: &["readonly"],
        acl_categories: &["@read", "@bitmap", "@slow"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "bitmap",
        since: "2.8.7",
        summary: "Find first bit set or clear in a string",
        complexity: "O(N)",
        docs: Docs {
            history: &[("7.0.0", "Added the `BYTE|BIT` option.")],
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("bit"),
                Arg::block(
                    "index",
                    &[
                        Arg::integer("start"),
                        Arg::block(
                            "end_index",
                            &[
                                Arg::integer("end"),
                                Arg::one_of(
                                    "index_unit",
                                    &[
                                        Arg::pure_token("byte", "BYTE"),
                                        Arg::pure_token("bit", "BIT"),
                                    ],
                                )
                                .since("7.0.0")
                                .optional(),
                            ],
                        )
                        .optional(),
                    ],
                )
                .optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: bit_cmds::bitpos,
    route: Route::Keyed(Gather::One),
};

/// BITOP: Perform bitwise operations between strings
pub static BITOP: CommandSpec = CommandSpec {
    about: Description {
        name: "bitop",
        arity: -4,
        flags: &["write", "denyoom"],
        acl_categories: &["@write", "@bitmap", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec::single(&["OW", "update"], 2),
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                index: 3,
                last_key: -1,
                key_step: 1,
                limit: 0,
                keyword: "",
            },
        ],
        legacy_keys: (2, -1, 1),
        group: "bitmap",
        since: "2.6.0",
        summary: "Perform bitwise operations between strings",
        complexity: "O(N)",
        docs: Docs {
            arguments: &[
                Arg::string("operation"),
                Arg::key("destkey", 0),
                Arg::key("key", 1).multiple(),
            ],
            ..Docs::NONE
        },
    },
    parse: bit_cmds::bitop,
    route: Route::Keyed(Gather::Computed),
};

/// BITFIELD: Perform arbitrary bitfield integer operations on strings
pub static BITFIELD: CommandSpec = CommandSpec {
    about: Description {
        name: "bitfield",
        arity: -2,
        flags: &["write", "denyoom"],
        acl_categories: &["@write", "@bitmap", "@slow"],
        tips: &[],
        key_specs: &[KeySpec {
            notes: "This command allows both access and modification of the key",
            flags: &["RW", "access", "update", "variable_flags"],
            index: 1,
            last_key: 0,
            key_step: 1,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, 1, 1),
        group: "bitmap",
        since: "3.2.0",
        summary: "Perform arbitrary bitfield integer operations on strings",
        complexity: "O(1) for each subcommand specified",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::one_of(
                    "operation",
                    &[
                        Arg::block(
                            "encoding_offset",
                            &[Arg::string("encoding"), Arg::integer("offset")],
                        )
                        .token("GET"),
                        Arg::block(
                            "write",
                            &[
                                Arg::one_of(
                                    "wrap_sat_fail",
                                    &[
                                        Arg::pure_token("wrap", "WRAP"),
                                        Arg::pure_token("sat", "SAT"),
                                        Arg::pure_token("fail", "FAIL"),
                                    ],
                                )
                                .token("OVERFLOW")
                                .optional(),
                                Arg::one_of(
                                    "write_operation",
                                    &[
                                        Arg::block(
                                            "encoding_offset_value",
                                            &[
                                                Arg::string("encoding"),
                                                Arg::integer("offset"),
                                                Arg::integer("value"),
                                            ],
                                        )
                                        .token("SET"),
                                        Arg::block(
                                            "encoding_offset_increment",
                                            &[
                                                Arg::string("encoding"),
                                                Arg::integer("offset"),
                                                Arg::integer("increment"),
                                            ],
                                        )
                                        .token("INCRBY"),
                                    ],
                                ),
                            ],
                        ),
                    ],
                )
                .optional()
                .multiple(),
            ],
            ..Docs::NONE
        },
    },
    parse: |a| bit_cmds::bitfield(a, false),
    route: Route::Keyed(Gather::One),
};

/// BITFIELD_RO: Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD
pub static BITFIELD_RO: CommandSpec = CommandSpec {
    about: Description {
        name: "bitfield_ro",
        arity: -2,
        flags: &["readonly", "fast"],
        acl_categories: &["@read", "@bitmap", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "bitmap",
        since: "6.0.0",
        summary: "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        complexity: "O(1) for each subcommand specified",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::block(
                    "encoding_offset",
                    &[Arg::string("encoding"), Arg::integer("offset")],
                )
                .token("GET")
                .optional()
                .multiple()
                .multiple_token(),
            ],
            ..Docs::NONE
        },
    },
    parse: |a| bit_cmds::bitfield(a, true),
    route: Route::Keyed(Gather::One),
};
