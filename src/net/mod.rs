//! Client sockets, in batches per shard: the bottom of the request path.
//!
//! glommio stays the runtime (executors, task queues, timers, channels, DMA
//! files), but its `TcpStream` costs a lot per request: it arms a one-shot
//! poll after each drained read on a ring set up without
//! `COOP_TASKRUN`/`DEFER_TASKRUN`, so completions interrupt a busy shard
//! with inter-processor interrupts, and every read or write is a task wake-up
//! through its reactor. Here each shard owns a ring of its own
//! ([`Ring`], the `io-uring` crate) for its client sockets:
//!
//! - each connection keeps one multishot RECV armed, its bytes landing in
//!   the ring's provided buffers and copied out to the connection at once
//!   (`inbox`; a receive with room for a big request receives straight into
//!   it instead), and sends its replies with a SEND that does not wait,
//!   followed by timed ones only while the socket is full ([`Socket`]);
//! - a driver task enters the kernel once per busy turn, submitting every
//!   queued request and reaping every completion, and wakes the connection
//!   tasks whose operations completed; before waking them it shows the
//!   bytes a turn received to a hook the shard sets
//!   ([`Ring::set_receive_hook`]), which starts those requests' lookups at
//!   once (at pipeline 1 a turn's requests are as many connections' and run
//!   one after another);
//! - completions wait for that enter (`DEFER_TASKRUN`) instead of
//!   interrupting the shard; when it has nothing to do the driver parks on an
//!   eventfd registered with the ring, read through glommio, so an idle shard
//!   sleeps in glommio's own wait like any other.
//!
//! The store's GET reads and log writes go on the same ring (`reads`,
//! behind the [`direct::DirectReader`] interface the store uses; their
//! slots in `file_slots`), so one enter carries them too. An operation's
//! state (`state`) sits below the ring, the sockets and the file slots.
//!
//! Bytes go in and out of `BytesMut` buffers the operation owns while the
//! kernel may touch them, so no buffer is freed or reused under the kernel.

mod bufring;
pub mod direct;
mod file_slots;
mod inbox;
mod reads;
mod ring;
mod socket;
mod state;

pub use ring::{ReceiveHook, Ring};
pub use socket::{Op, Socket};
