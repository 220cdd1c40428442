//! SORT, SORT_RO and MOVE: generic commands whose answers follow from
//! shardcask holding only strings in one database.
//!
//! - SORT sorts lists, sets and sorted sets. A string key gets WRONGTYPE; a
//!   missing key sorts as an empty list, so the reply is empty (`STORE`:
//!   the destination is deleted, as an empty list is no key, and 0 is
//!   answered). The options are still checked in Redis's order with its
//!   errors; `BY` and `GET` patterns are accepted (as a standalone Redis
//!   accepts them) and never read a key, there being no element to look up.
//! - MOVE moves a key to another database. With one database (`databases
//!   1`, as CONFIG GET shows) Redis answers `DB index is out of range` for
//!   any other index and `source and destination objects are the same` for
//!   0, before looking at the key; so does shardcask.

use bytes::Bytes;

use super::{Command, SYNTAX_ERROR, int_arg, is};
use crate::protocol::Reply;

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
/// [ALPHA] [STORE destination]; SORT_RO without STORE. The options are read
/// as Redis's `sortCommandGeneric` reads them: the first bad one decides
/// the error, a LIMIT needs two integers, a later STORE wins.
pub(super) fn sort(args: &[Bytes], read_only: bool) -> Result<Command, Reply> {
    let mut store = None;
    let mut next = 2;
    while next < args.len() {
        let option = &args[next];
        let left = args.len() - next - 1;
        if is(option, "asc") || is(option, "desc") || is(option, "alpha") {
        } else if is(option, "limit") && left >= 2 {
            int_arg(&args[next + 1])?;
            int_arg(&args[next + 2])?;
            next += 2;
        } else if !read_only && is(option, "store") && left >= 1 {
            store = Some(args[next + 1].clone());
            next += 1;
        } else if (is(option, "by") || is(option, "get")) && left >= 1 {
            next += 1;
        } else {
            return Err(SYNTAX_ERROR);
        }
        next += 1;
    }
    Ok(Command::Sort {
        key: args[1].clone(),
        store,
        read_only,
    })
}

/// The key positions COMMAND GETKEYS gives for SORT (Redis's
/// `sortGetKeys`): the sorted key, then the last STORE's destination; the
/// options are skipped by their arity, not checked. SORT_RO: the key alone.
pub fn sort_key_positions(args: &[Bytes]) -> Vec<usize> {
    let mut positions = vec![1];
    if args[0].eq_ignore_ascii_case(b"sort_ro") {
        return positions;
    }
    let mut store = None;
    let mut next = 2;
    while next < args.len() {
        let option = &args[next];
        if is(option, "limit") {
            next += 2;
        } else if is(option, "get") || is(option, "by") {
            next += 1;
        } else if is(option, "store") && next + 1 < args.len() {
            // The destination itself is not skipped (as in Redis).
            store = Some(next + 1);
        }
        next += 1;
    }
    positions.extend(store);
    positions
}

/// MOVE key db, answered as Redis with one database answers it (see the
/// module docs): every outcome is an error, decided by `db` alone.
pub(super) fn move_key(args: &[Bytes]) -> Result<Command, Reply> {
    let db = int_arg(&args[2])?;
    if i32::try_from(db).is_err() {
        return Err(Reply::err(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    Err(if db == 0 {
        Reply::err("ERR source and destination objects are the same")
    } else {
        Reply::err("ERR DB index is out of range")
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn sort_options_in_redis_order() {
        assert_eq!(
            parse("sort k by w* limit 0 10 get # get o* desc alpha store d store e").unwrap(),
            Command::Sort {
                key: b("k"),
                store: Some(b("e")),
                read_only: false
            }
        );
        assert_eq!(parse_err("sort k limit 0"), "ERR syntax error");
        assert_eq!(
            parse_err("sort k limit x 1"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(parse_err("sort k foo"), "ERR syntax error");
        assert_eq!(parse_err("sort_ro k store d"), "ERR syntax error");
        assert_eq!(
            parse("sort_ro k by x get y asc").unwrap(),
            Command::Sort {
                key: b("k"),
                store: None,
                read_only: true
            }
        );
        assert_eq!(
            sort_key_positions(&args("sort a store b by x get y")),
            [1, 3]
        );
        assert_eq!(sort_key_positions(&args("sort a limit 0 1 store")), [1]);
    }

    #[test]
    fn move_with_one_database() {
        assert_eq!(parse_err("move k 1"), "ERR DB index is out of range");
        assert_eq!(parse_err("move k -1"), "ERR DB index is out of range");
        assert_eq!(
            parse_err("move k 0"),
            "ERR source and destination objects are the same"
        );
        assert_eq!(
            parse_err("move k 99999999999"),
            "ERR value is out of range, value must between -2147483648 and 2147483647"
        );
        assert_eq!(
            parse_err("move k x"),
            "ERR value is not an integer or out of range"
        );
    }
}
