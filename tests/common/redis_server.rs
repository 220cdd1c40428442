//! A real redis-server to compare with, and a RESP reader that keeps each
//! reply's RESP3 kind (used by the differential tests).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One reply, with its RESP3 kind kept.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    NullBulk,
    Array(Vec<V>),
    NullArray,
    Map(Vec<(V, V)>),
    Set(Vec<V>),
    Double(String),
    Bool(bool),
    Null,
    Verbatim(String, Vec<u8>),
    Big(String),
    Push(Vec<V>),
}

impl V {
    pub fn kind(&self) -> &'static str {
        match self {
            V::Status(_) => "status",
            V::Error(_) => "error",
            V::Int(_) => "integer",
            V::Bulk(_) => "bulk",
            V::NullBulk => "null bulk",
            V::Array(_) => "array",
            V::NullArray => "null array",
            V::Map(_) => "map",
            V::Set(_) => "set",
            V::Double(_) => "double",
            V::Bool(_) => "boolean",
            V::Null => "null",
            V::Verbatim(..) => "verbatim",
            V::Big(_) => "big number",
            V::Push(_) => "push",
        }
    }
}

pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    pub fn send(&mut self, commands: &[Vec<Vec<u8>>]) {
        let mut out = Vec::new();
        for args in commands {
            out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for arg in args {
                out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                out.extend_from_slice(arg);
                out.extend_from_slice(b"\r\n");
            }
        }
        self.writer.write_all(&out).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        assert!(line.ends_with(b"\r\n"), "truncated reply line {line:?}");
        line.truncate(line.len() - 2);
        String::from_utf8_lossy(&line).into_owned()
    }

    fn exact(&mut self, len: usize) -> Vec<u8> {
        let mut data = vec![0u8; len + 2];
        std::io::Read::read_exact(&mut self.reader, &mut data).unwrap();
        data.truncate(len);
        data
    }

    pub fn read(&mut self) -> V {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        let n = || rest.parse::<i64>().unwrap();
        match kind {
            "+" => V::Status(rest.into()),
            "-" => V::Error(rest.into()),
            ":" => V::Int(n()),
            "$" if n() < 0 => V::NullBulk,
            "$" => V::Bulk(self.exact(n() as usize)),
            "*" if n() < 0 => V::NullArray,
            "*" => V::Array((0..n()).map(|_| self.read()).collect()),
            "~" => V::Set((0..n()).map(|_| self.read()).collect()),
            ">" => V::Push((0..n()).map(|_| self.read()).collect()),
            "%" => V::Map((0..n()).map(|_| (self.read(), self.read())).collect()),
            "," => V::Double(rest.into()),
            "#" => V::Bool(rest == "t"),
            "_" => V::Null,
            "(" => V::Big(rest.into()),
            "=" => {
                let data = self.exact(n() as usize);
                V::Verbatim(
                    String::from_utf8_lossy(&data[..3]).into(),
                    data[4..].to_vec(),
                )
            }
            other => panic!("unknown reply type {other:?} in {line:?}"),
        }
    }
}

/// A redis-server on an ephemeral port, stopped on drop.
pub struct Redis {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub fn start() -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "redis-server is required under CI=true (apt-get install redis-server)"
            );
            eprintln!(
                "\n!!!!! SKIPPED: redis-server is not installed (apt-get install redis-server) !!!!!\n"
            );
            return None;
        }
        let dir = super::data_dir();
        for _ in 0..20 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--databases",
                    "1",
                ])
                .args(["--appendonly", "no", "--dir"])
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Redis {
                        child,
                        port,
                        _dir: dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
