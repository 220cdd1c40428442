//! `--metrics-listen`: a small HTTP/1.1 endpoint serving `GET /metrics` in
//! the Prometheus text format. It runs as a low-priority task on shard 0,
//! gathers every shard's snapshot over the mesh per scrape (as INFO does),
//! and answers one request per connection.

use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use crate::metrics::prometheus;
use crate::pipeline::fanout::all_snapshots;
use crate::shard::Shard;

/// Longest request head accepted (a scrape's is a few hundred bytes).
const MAX_REQUEST: usize = 8 * 1024;
/// A client that sends nothing for this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts scrapes until the shard shuts down.
pub async fn serve(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            shard.shutdown.wait().await;
            None
        })
        .await;
        match accepted {
            None => return,
            Some(Ok(stream)) => {
                let shard = shard.clone();
                glommio::spawn_local(async move { answer(&shard, stream).await }).detach();
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "metrics endpoint: accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

/// Reads one request head; `None` when the client left or timed out.
async fn read_route(stream: &mut TcpStream) -> Option<Route> {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).await.ok()?;
        if n == 0 {
            return None;
        }
        filled += n;
        match route_of(&buf[..filled]) {
            Some(route) => return Some(route),
            None if filled == buf.len() => return Some(Route::BadRequest),
            None => continue,
        }
    }
}

/// The route of a request head, `None` while it is incomplete.
fn route_of(head: &[u8]) -> Option<Route> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Partial) => None,
        Err(_) => Some(Route::BadRequest),
        Ok(httparse::Status::Complete(_)) => {
            let path = request.path.unwrap_or("");
            let path = path.split('?').next().unwrap_or("");
            Some(match (request.method, path) {
                (Some("GET"), "/metrics") => Route::Metrics,
                (Some("GET"), _) => Route::NotFound,
                _ => Route::MethodNotAllowed,
            })
        }
    }
}

async fn answer(shard: &Rc<Shard>, mut stream: TcpStream) {
    let Some(route) = read_route(&mut stream).await else {
        return;
    };
    let (status, content_type, body) = match route {
        Route::Metrics => (
            "200 OK",
            prometheus::CONTENT_TYPE,
            prometheus::encode(all_snapshots(shard).await),
        ),
        Route::NotFound => ("404 Not Found", "text/plain", "try /metrics\n".into()),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET /metrics\n".into(),
        ),
        Route::BadRequest => ("400 Bad Request", "text/plain", "bad request\n".into()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route_of(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Route::Metrics)
        );
        assert_eq!(
            route_of(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Some(Route::Metrics)
        );
        assert_eq!(route_of(b"GET / HTTP/1.1\r\n\r\n"), Some(Route::NotFound));
        assert_eq!(
            route_of(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Some(Route::MethodNotAllowed)
        );
        assert_eq!(route_of(b"GET /metrics HTTP/1.1\r\nHost"), None);
        assert_eq!(
            route_of(b"\x00\x01garbage\r\n\r\n"),
            Some(Route::BadRequest)
        );
    }
}
