//! MIGRATE, of the generic family, and RESTORE-ASKING, what a cluster-mode
//! Redis's MIGRATE sends (in a file of their own: generic.rs is full).

use super::*;

/// MIGRATE: Atomically transfer a key from a Redis instance to another one.
pub static MIGRATE: CommandSpec = CommandSpec {
    about: Description {
        name: "migrate",
        arity: -6,
        flags: &["write", "movablekeys"],
        acl_categories: &["@keyspace", "@write", "@slow", "@dangerous"],
        tips: &["nondeterministic_output"],
        key_specs: &[
            KeySpec::single(&["RW", "access", "delete"], 3),
            KeySpec {
                notes: "",
                flags: &["RW", "access", "delete", "incomplete"],
                index: -2,
                last_key: -1,
                key_step: 1,
                limit: 0,
                keyword: "KEYS",
            },
        ],
        legacy_keys: (3, 3, 1),
        group: "generic",
        since: "2.6.0",
        summary: "Atomically transfer a key from a Redis instance to another one.",
        complexity: "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
        docs: Docs {
            history: &[
                ("3.0.0", "Added the `COPY` and `REPLACE` options."),
                ("3.0.6", "Added the `KEYS` option."),
                ("4.0.7", "Added the `AUTH` option."),
                ("6.0.0", "Added the `AUTH2` option."),
            ],
            arguments: &[
                Arg::string("host"),
                Arg::integer("port"),
                Arg::one_of(
                    "key_or_empty_string",
                    &[Arg::key("key", 0), Arg::pure_token("empty_string", "")],
                ),
                Arg::integer("destination-db"),
                Arg::integer("timeout"),
                Arg::pure_token("copy", "COPY").since("3.0.0").optional(),
                Arg::pure_token("replace", "REPLACE")
                    .since("3.0.0")
                    .optional(),
                Arg::one_of(
                    "authentication",
                    &[
                        Arg::string("password")
                            .token("AUTH")
                            .since("4.0.7")
                            .optional(),
                        Arg::block(
                            "username_password",
                            &[Arg::string("username"), Arg::string("password")],
                        )
                        .token("AUTH2")
                        .since("6.0.0")
                        .optional(),
                    ],
                )
                .optional(),
                Arg::key("key", 1)
                    .token("KEYS")
                    .since("3.0.6")
                    .optional()
                    .multiple(),
            ],
            ..Docs::NONE
        },
    },
    parse: migrate_cmds::migrate,
    route: Route::Keyed(Gather::Computed),
};

/// RESTORE-ASKING: An internal command for migrating keys in a cluster.
/// What a cluster-mode Redis's MIGRATE sends instead of RESTORE; restores
/// as RESTORE does.
pub static RESTORE_ASKING: CommandSpec = CommandSpec {
    about: Description {
        name: "restore-asking",
        arity: -4,
        flags: &["write", "denyoom", "asking"],
        acl_categories: &["@keyspace", "@write", "@slow", "@dangerous"],
        tips: &[],
        key_specs: &[KeySpec::single(&["OW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "server",
        since: "3.0.0",
        summary: "An internal command for migrating keys in a cluster",
        complexity: RESTORE.about.complexity,
        docs: Docs {
            doc_flags: &["syscmd"],
            history: RESTORE.about.docs.history,
            arguments: RESTORE.about.docs.arguments,
            ..Docs::NONE
        },
    },
    parse: key_cmds::restore,
    route: Route::Keyed(Gather::One),
};
