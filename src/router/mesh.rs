//! The cross-shard mesh: every shard can send a [`ShardRequest`] to every
//! other shard and await its [`ShardResponse`].
//!
//! glommio's channel mesh is one-way, so each message carries a request id;
//! the caller parks a [`oneshot`](super::oneshot) under that id and the
//! receiver task completes it when the response comes back.
//!
//! Receiver tasks run in their own task queue with a large share but *no*
//! latency requirement. `Latency::Matters` was the plan (a foreign wake into
//! a busy executor can otherwise wait for the time slice), but with glommio
//! 0.9 it loses wake-ups: when the preempt timer of a latency-sensitive queue
//! has fired, `run_task_queues` returns "nothing ran" without running the
//! woken queue and the executor parks with runnable work; an otherwise idle
//! peer then never answers. `cargo bench --bench mesh` hangs in its first
//! forwarded round trip with `Latency::Matters` (100 µs or 1 ms) and runs
//! with this queue; see bench-client/RESULTS.md.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use ahash::AHashMap;
use glommio::channels::channel_mesh::{MeshBuilder, Receivers, Senders};
use glommio::{Latency, Shares};

use super::oneshot::{Sender, oneshot};
use super::{ShardRequest, ShardResponse};

/// Latency class of the receivers' task queue (see the module docs for why
/// it is not `Latency::Matters`).
const RECEIVER_LATENCY: Latency = Latency::NotImportant;

/// What travels between shards.
pub enum MeshMsg {
    /// Work for the receiving shard.
    Request {
        /// Matches the response to its caller on the sending shard.
        req_id: u64,
        /// The work.
        body: ShardRequest,
    },
    /// The answer to an earlier request.
    Response {
        /// The id the request carried.
        req_id: u64,
        /// The answer.
        body: ShardResponse,
    },
}

/// A shard's handler for requests from peers.
pub type RequestHandler = Rc<dyn Fn(ShardRequest) -> Pin<Box<dyn Future<Output = ShardResponse>>>>;

/// Builds a full mesh of `nr_shards` peers; clone it into every executor.
pub fn builder(nr_shards: usize) -> MeshBuilder<MeshMsg, glommio::channels::channel_mesh::Full> {
    MeshBuilder::full(nr_shards, 1024)
}

/// One shard's end of the mesh.
pub struct Mesh {
    /// This shard's id (its position in the mesh).
    shard_id: usize,
    /// Number of shards in the mesh.
    nr_shards: usize,
    /// Channels to every peer.
    senders: Senders<MeshMsg>,
    /// Callers waiting for responses, by request id.
    pending: RefCell<AHashMap<u64, Sender<ShardResponse>>>,
    /// The next request id.
    next_req_id: Cell<u64>,
}

impl Mesh {
    /// Joins the mesh. The shard id is the position glommio gives this
    /// executor in the mesh, so ids are dense and agreed by all peers.
    pub async fn join(
        builder: MeshBuilder<MeshMsg, glommio::channels::channel_mesh::Full>,
    ) -> std::io::Result<(Rc<Mesh>, Receivers<MeshMsg>)> {
        let nr_shards = builder.nr_peers();
        let (senders, receivers) = builder
            .join()
            .await
            .map_err(|_| std::io::Error::other("could not join the shard mesh"))?;
        let mesh = Mesh {
            shard_id: senders.peer_id(),
            nr_shards,
            senders,
            pending: RefCell::new(AHashMap::new()),
            next_req_id: Cell::new(1),
        };
        Ok((Rc::new(mesh), receivers))
    }

    /// This shard's id.
    pub fn shard_id(&self) -> usize {
        self.shard_id
    }

    /// Number of shards.
    pub fn nr_shards(&self) -> usize {
        self.nr_shards
    }

    /// Sends `body` to `peer` and awaits the response; `None` if the peer is
    /// gone (only during shutdown).
    pub async fn call(&self, peer: usize, body: ShardRequest) -> Option<ShardResponse> {
        debug_assert_ne!(peer, self.shard_id, "local requests do not use the mesh");
        let req_id = self.next_req_id.get();
        self.next_req_id.set(req_id + 1);
        let (tx, rx) = oneshot();
        self.pending.borrow_mut().insert(req_id, tx);
        if self
            .senders
            .send_to(peer, MeshMsg::Request { req_id, body })
            .await
            .is_err()
        {
            self.pending.borrow_mut().remove(&req_id);
            return None;
        }
        rx.await
    }

    /// Starts one receiver task per peer in the mesh task queue.
    /// Requests are served concurrently, each in its own task, by `handler`.
    pub fn start_receivers(
        self: &Rc<Self>,
        mut receivers: Receivers<MeshMsg>,
        handler: RequestHandler,
    ) {
        let queue =
            glommio::executor().create_task_queue(Shares::Static(1000), RECEIVER_LATENCY, "mesh");
        for (peer, receiver) in receivers.streams() {
            let mesh = self.clone();
            let handler = handler.clone();
            glommio::spawn_local_into(
                async move {
                    while let Some(msg) = receiver.recv().await {
                        match msg {
                            MeshMsg::Request { req_id, body } => {
                                let mesh = mesh.clone();
                                let reply = handler(body);
                                glommio::spawn_local(async move {
                                    let body = reply.await;
                                    // A failed send means the peer is gone (shutdown).
                                    let _ = mesh
                                        .senders
                                        .send_to(peer, MeshMsg::Response { req_id, body })
                                        .await;
                                })
                                .detach();
                            }
                            MeshMsg::Response { req_id, body } => {
                                if let Some(tx) = mesh.pending.borrow_mut().remove(&req_id) {
                                    tx.send(body);
                                }
                            }
                        }
                    }
                },
                queue,
            )
            .expect("the mesh task queue exists")
            .detach();
        }
    }

    /// Closes this shard's outgoing channels (at shutdown).
    pub fn close(&self) {
        self.senders.close();
    }
}
