//! The socket ring against real sockets on loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::IntoRawFd;

use super::*;
use crate::net::Socket;

/// Runs `test` on a glommio executor with a ring and its driver.
fn with_ring<F, Fut>(test: F)
where
    F: FnOnce(Rc<Ring>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            let ring = Ring::new().expect("a ring");
            glommio::spawn_local(ring.clone().drive()).detach();
            test(ring).await;
        })
        .expect("executor")
        .join()
        .expect("test finishes without panicking");
}

/// A connected pair: the ring's end and a plain blocking peer.
fn pair(ring: &Rc<Ring>) -> (Socket, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    // SAFETY: a descriptor we own, handed over whole.
    let fd = unsafe { OwnedFd::from_raw_fd(ours.into_raw_fd()) };
    (Socket::new(ring.clone(), fd), peer)
}

fn room(len: usize) -> BytesMut {
    BytesMut::with_capacity(len)
}

#[test]
fn bytes_go_both_ways_in_order() {
    with_ring(|ring| async move {
        let (socket, mut peer) = pair(&ring);
        let echo = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = peer.read(&mut buf).unwrap();
                if n == 0 {
                    return;
                }
                peer.write_all(&buf[..n]).unwrap();
            }
        });
        for round in 0..500u32 {
            let message: Vec<u8> = (0..(round % 97 + 1)).map(|i| (i ^ round) as u8).collect();
            let (sent, _) = socket
                .send_all(BytesMut::from(&message[..]), Some(Duration::from_secs(10)))
                .await;
            sent.unwrap();
            let mut got = Vec::new();
            while got.len() < message.len() {
                let (n, buf) = socket.recv(room(4096)).await;
                let n = n.unwrap();
                assert!(n > 0, "the echo closed early");
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, message, "round {round}");
        }
        drop(socket);
        // The socket closes once the driver has ended its receive.
        glommio::timer::sleep(Duration::from_millis(20)).await;
        echo.join().unwrap();
        assert!(ring.enters() > 0);
    });
}

#[test]
fn a_cancelled_receive_gives_its_buffer_back_and_the_next_one_gets_the_data() {
    with_ring(|ring| async move {
        let (socket, mut peer) = pair(&ring);
        let mut recv = socket.recv(room(64));
        let waited = futures_lite::future::or(async { Some((&mut recv).await) }, async {
            glommio::timer::sleep(Duration::from_millis(20)).await;
            None
        })
        .await;
        assert!(waited.is_none(), "nothing was sent");
        recv.cancel();
        let (result, buf) = recv.await;
        assert_eq!(
            result.unwrap_err().raw_os_error(),
            Some(libc::ECANCELED),
            "nothing arrived before the cancellation"
        );
        assert_eq!((buf.len(), buf.capacity()), (0, 64));
        peer.write_all(b"after").unwrap();
        let (n, buf) = socket.recv(buf).await;
        assert_eq!(n.unwrap(), 5);
        assert_eq!(&buf[..], b"after", "the buffer grew by the bytes received");
    });
}

#[test]
fn a_dropped_operation_leaves_the_ring_working() {
    with_ring(|ring| async move {
        let (socket, mut peer) = pair(&ring);
        drop(socket.recv(room(64)));
        // Its cancellation goes out with the next turn (bytes that came
        // before it would have been the dropped receive's: nothing is
        // sent until then); the slot is then reused by later operations
        // without mixing them up.
        glommio::timer::sleep(Duration::from_millis(20)).await;
        for round in 0..20u8 {
            peer.write_all(&[round]).unwrap();
            let (n, buf) = socket.recv(room(64)).await;
            assert_eq!(&buf[..n.unwrap()], &[round]);
        }
    });
}

#[test]
fn shutting_down_fails_pending_and_new_receives() {
    with_ring(|ring| async move {
        let (socket, _peer) = pair(&ring);
        let recv = socket.recv(room(64));
        let stopper = ring.clone();
        glommio::spawn_local(async move { stopper.shut_down() }).detach();
        let (result, _) = recv.await;
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
        assert!(socket.is_shut_down());
        let (result, buf) = socket.recv(room(8)).await;
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
        assert_eq!(buf.capacity(), 8);
    });
}

#[test]
fn a_send_that_must_not_wait_says_so_when_the_socket_is_full() {
    with_ring(|ring| async move {
        let (socket, mut peer) = pair(&ring);
        let chunk = BytesMut::from(&vec![3u8; 1 << 20][..]);
        let mut queued = 0usize;
        let mut buf = chunk;
        loop {
            let (result, back) = socket.try_send(buf, 0).await;
            buf = back;
            match result {
                Ok(n) => queued += n,
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EAGAIN));
                    break;
                }
            }
            assert!(queued < 1 << 30, "the socket never filled up");
        }
        assert!(queued > 0, "an empty socket takes bytes at once");
        // What was queued arrives whole; the waiting send finishes
        // once the peer reads.
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut chunk = vec![0u8; 1 << 16];
            while all.len() < queued + (1 << 20) {
                let n = peer.read(&mut chunk).unwrap();
                assert!(n > 0);
                all.extend_from_slice(&chunk[..n]);
            }
            all.iter().all(|&b| b == 3)
        });
        let (sent, _) = socket.send_all(buf, Some(Duration::from_secs(10))).await;
        sent.unwrap();
        assert!(reader.join().unwrap());
    });
}

/// Receives until `len` bytes came, into rooms of `room` bytes.
async fn receive(socket: &Socket, len: usize, room: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < len {
        let (n, buf) = socket.recv(BytesMut::with_capacity(room)).await;
        assert!(n.unwrap() > 0, "the peer closed early");
        got.extend_from_slice(&buf);
    }
    got
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn bytes_that_come_while_no_receive_waits_are_kept_in_order() {
    with_ring(|ring| async move {
        let (socket, mut peer) = pair(&ring);
        // The first receive starts the connection's receiving.
        peer.write_all(b"x").unwrap();
        assert_eq!(receive(&socket, 1, 64).await, b"x");
        let data = pattern(40_000);
        peer.write_all(&data).unwrap();
        glommio::timer::sleep(Duration::from_millis(20)).await;
        // Small rooms take it piece by piece, big ones straight.
        let mut got = receive(&socket, 10_000, 100).await;
        got.extend(receive(&socket, data.len() - got.len(), 1 << 20).await);
        assert_eq!(got, data);
        drop(peer);
        let (n, _) = socket.recv(room(64)).await;
        assert_eq!(n.unwrap(), 0, "the peer closed");
    });
}

#[test]
fn a_connection_that_takes_nothing_holds_a_bounded_stash() {
    with_ring(|ring| async move {
        let (socket, peer) = pair(&ring);
        let data = pattern(4 << 20);
        let writer = {
            let data = data.clone();
            let mut peer = peer;
            std::thread::spawn(move || peer.write_all(&data).unwrap())
        };
        let mut got = receive(&socket, 1, 64).await;
        glommio::timer::sleep(Duration::from_millis(100)).await;
        if let Some(inbox) = &socket.inbox {
            let held = inbox.borrow().stash.len();
            assert!(
                held <= STASH_MAX + 256 * 1024,
                "{held} bytes stashed for a connection that takes none"
            );
        }
        got.extend(receive(&socket, data.len() - got.len(), 16 * 1024).await);
        assert_eq!(got.len(), data.len());
        assert!(got == data, "every byte, in order");
        writer.join().unwrap();
    });
}

#[test]
fn a_big_room_gets_a_big_request_whole() {
    with_ring(|ring| async move {
        let (socket, mut peer) = pair(&ring);
        peer.write_all(b"hello").unwrap();
        assert_eq!(receive(&socket, 5, 64).await, b"hello");
        let data = pattern(3 << 20);
        let writer = {
            let data = data.clone();
            std::thread::spawn(move || {
                peer.write_all(&data).unwrap();
                peer
            })
        };
        let mut room = BytesMut::with_capacity(data.len());
        while room.len() < data.len() {
            let (n, back) = socket.recv(room).await;
            assert!(n.unwrap() > 0);
            room = back;
        }
        assert!(room[..] == data[..]);
        let mut peer = writer.join().unwrap();
        // Small receives go on after it.
        peer.write_all(b"after").unwrap();
        assert_eq!(receive(&socket, 5, 64).await, b"after");
    });
}

#[test]
fn a_peer_that_reads_nothing_times_the_send_out() {
    with_ring(|ring| async move {
        let (socket, peer) = pair(&ring);
        // Far more than the socket buffers hold; the peer never reads.
        let big = BytesMut::from(&vec![7u8; 64 << 20][..]);
        let (result, _) = socket.send_all(big, Some(Duration::from_millis(200))).await;
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);
        drop(peer);
    });
}

#[test]
fn the_receive_hook_sees_a_turns_receives_together_before_their_connections() {
    with_ring(|ring| async move {
        let seen: Rc<RefCell<Vec<Vec<Vec<u8>>>>> = Rc::default();
        let hook_seen = seen.clone();
        ring.set_receive_hook(Some(Box::new(move |received| {
            hook_seen
                .borrow_mut()
                .push(received.map(<[u8]>::to_vec).collect());
        })));
        let (one, mut peer_one) = pair(&ring);
        let (two, mut peer_two) = pair(&ring);
        let (lone, mut peer_lone) = pair(&ring);
        // Both requests wait in their sockets before either receive is
        // armed: the two multishot receives go out in one enter and take
        // them at once, so one turn reaps both.
        peer_one
            .write_all(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n")
            .unwrap();
        peer_two
            .write_all(b"*2\r\n$3\r\nGET\r\n$1\r\nb\r\n")
            .unwrap();
        for socket in [&one, &two] {
            let mut poll = libc::pollfd {
                fd: socket.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            assert_eq!(
                unsafe { libc::poll(&mut poll, 1, 10_000) },
                1,
                "the request arrived"
            );
        }
        let (first, second) = (one.recv(room(64)), two.recv(room(64)));
        let ((n1, b1), (n2, b2)) = futures_lite::future::zip(first, second).await;
        assert_eq!(&b1[..n1.unwrap()], b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
        assert_eq!(&b2[..n2.unwrap()], b"*2\r\n$3\r\nGET\r\n$1\r\nb\r\n");
        {
            let mut seen = seen.borrow_mut();
            assert_eq!(seen.len(), 1, "one call for the turn");
            seen[0].sort();
            assert_eq!(
                seen[0],
                [
                    b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n".to_vec(),
                    b"*2\r\n$3\r\nGET\r\n$1\r\nb\r\n".to_vec()
                ]
            );
        }
        // A turn that reaps one receive does not call it: nothing would
        // overlap.
        peer_lone.write_all(b"x").unwrap();
        let (n, _) = lone.recv(room(64)).await;
        assert_eq!(n.unwrap(), 1);
        assert_eq!(seen.borrow().len(), 1);
        ring.set_receive_hook(None);
    });
}
