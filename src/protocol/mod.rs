//! The Redis protocol: request parsing and reply encoding.

pub mod input;
pub mod parse;
pub mod reply;

pub use input::InputBuffer;
pub use parse::{
    ParseLimits, Parsed, ProtocolError, leading_key, parse_request, parse_request_into,
    pending_request_len,
};
pub use reply::{Protocol, Reply};
