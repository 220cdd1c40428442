//! The Redis protocol: request parsing and reply encoding.

pub mod parse;
pub mod reply;
pub mod selfcheck;

pub use parse::{ParseLimits, Parsed, ProtocolError, parse_request};
pub use reply::Reply;
