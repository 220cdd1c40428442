//! CONFIG SET: the settings that change at run time take effect (the
//! connection limit on the next accept), CONFIG GET shows them, and the
//! others are refused with the flag to restart with.

mod common;

use common::{Server, read_to_close};
use redis::Value;

fn config(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut command = redis::cmd("CONFIG");
    for arg in args {
        command.arg(*arg);
    }
    command.query(con)
}

#[test]
fn run_time_settings_change_and_the_others_name_their_flag() {
    let server = Server::start(2, &[]);
    let mut con = server.client();
    assert_eq!(
        config(&mut con, &["SET", "maxclients", "2"]).unwrap(),
        Value::Okay
    );
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, ["maxclients", "2"]);
    let _second = server.client();
    let mut third = server.raw();
    let refused = String::from_utf8_lossy(&read_to_close(&mut third)).to_string();
    assert_eq!(refused, "-ERR max number of clients reached\r\n");
    assert_eq!(
        config(
            &mut con,
            &[
                "SET",
                "max-connections",
                "100",
                "client-output-limit",
                "1MiB"
            ]
        )
        .unwrap(),
        Value::Okay
    );
    let _fourth = server.client();

    let error = config(&mut con, &["SET", "cache-size", "1GiB"]).unwrap_err();
    assert!(
        error.to_string().contains("cache-size") && error.to_string().contains("--cache-size"),
        "{error}"
    );
    let error = config(&mut con, &["SET", "maxclients", "-5"]).unwrap_err();
    assert!(error.to_string().contains("maxclients"), "{error}");
    let error = config(&mut con, &["SET", "nosuch", "1"]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Unknown option or number of arguments for CONFIG SET - 'nosuch'"),
        "{error}"
    );
    // A failed CONFIG SET changes nothing, even its valid pairs.
    let _ = config(&mut con, &["SET", "maxclients", "7", "port", "1"]).unwrap_err();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, ["maxclients", "100"]);
}
