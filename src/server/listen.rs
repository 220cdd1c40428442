//! The listening side of a shard: the shared port's socket (SO_REUSEPORT
//! across shards), the accept loop that admits connections (or refuses them
//! past `--max-connections`), and the hand-over of each accepted socket from
//! glommio to the shard's own ring.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use glommio::net::{TcpListener, TcpStream};

use crate::metrics::bump;
use crate::net::{Ring, Socket};
use crate::pipeline::connection;
use crate::shard::Shard;

/// Binds a listening socket shared by every shard: SO_REUSEPORT so the
/// kernel spreads connections across shards, and SO_REUSEADDR so a restarted
/// server can bind while the last run's connections sit in TIME_WAIT
/// (glommio's own `TcpListener::bind` sets only the first).
pub(super) fn bind_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
    let domain = if addr.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    // SAFETY: socket() returns a new descriptor or -1; OwnedFd closes it on
    // every early return below.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    for option in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
        // SAFETY: setsockopt with a pointer to a live c_int and its size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    let (storage, len) = socket_address(addr);
    // SAFETY: storage holds a sockaddr of `len` bytes for this family.
    if unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    } != 0
    {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: listen on the bound socket we own.
    if unsafe { libc::listen(socket.as_raw_fd(), 1024) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a bound, listening socket whose ownership passes to glommio.
    Ok(unsafe { TcpListener::from_raw_fd(socket.into_raw_fd()) })
}

/// `addr` as a C socket address.
fn socket_address(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid; the family-specific
    // struct written into it fits (sockaddr_storage is large enough for all).
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        match addr {
            SocketAddr::V4(v4) => {
                let sin =
                    &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = v4.port().to_be();
                sin.sin_addr = libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                };
                (
                    storage,
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
            SocketAddr::V6(v6) => {
                let sin6 = &mut *(&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in6>();
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = v6.port().to_be();
                sin6.sin6_flowinfo = v6.flowinfo();
                sin6.sin6_addr = libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                };
                sin6.sin6_scope_id = v6.scope_id();
                (
                    storage,
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    }
}

/// Accepts connections until shutdown; `shard_port` is `Some(id)` for the
/// shard's own port (cluster-aware clients), `None` for the shared one.
pub(super) async fn accept_loop(
    shard: &Rc<Shard>,
    ring: &Rc<Ring>,
    listener: &TcpListener,
    shard_port: Option<usize>,
) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            shard.shutdown.wait().await;
            None
        })
        .await;
        let stream = match accepted {
            None => return,
            Some(Ok(stream)) => stream,
            Some(Err(e)) => {
                tracing::warn!(shard = shard.id, error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if !shard
            .shared
            .admit_connection(shard.shared.settings.max_connections(&shard.config))
        {
            bump(&shard.stats.connections_rejected, 1);
            glommio::spawn_local(connection::refuse(stream)).detach();
            continue;
        }
        let (socket, addr, laddr) = match hand_over(ring, stream) {
            Ok(handed) => handed,
            Err(e) => {
                shard.shared.release_connection();
                tracing::warn!(shard = shard.id, error = %e, "cannot take over an accepted socket");
                continue;
            }
        };
        bump(&shard.stats.connections_total, 1);
        bump(&shard.stats.connections, 1);
        let client_id = shard.shared.next_client_id();
        let conn_shard = shard.clone();
        glommio::spawn_local(async move {
            connection::serve(
                conn_shard.clone(),
                socket,
                client_id,
                addr,
                laddr,
                shard_port,
            )
            .await;
            conn_shard
                .stats
                .connections
                .set(conn_shard.stats.connections.get() - 1);
            conn_shard.shared.release_connection();
        })
        .detach();
    }
}

/// Moves an accepted connection from glommio to the shard's ring (a
/// duplicate of its descriptor: glommio's stream closes its own), with
/// TCP_NODELAY set; also returns its peer and local addresses.
fn hand_over(ring: &Rc<Ring>, stream: TcpStream) -> std::io::Result<(Socket, String, String)> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let _ = stream.set_nodelay(true);
    let addr = stream
        .peer_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    let laddr = stream
        .local_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    // SAFETY: fcntl duplicates a descriptor the stream owns into a new one.
    let fd = unsafe { libc::fcntl(stream.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    drop(stream);
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok((Socket::new(ring.clone(), fd), addr, laddr))
}
