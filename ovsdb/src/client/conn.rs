//! One JSON-RPC connection: connecting to a remote, sending requests with numeric ids, answering the
//! server's `echo`, and awaiting one response while keeping notifications for later.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::error::{ClientError, Result};
use crate::jsonrpc::echo::{echo_reply, is_echo_reply, Keepalive};
use crate::jsonrpc::{JsonRpcCodec, Message, Notification, Request};

/// A parsed remote: `unix:PATH` or `tcp:HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// A unix domain socket.
    Unix(String),
    /// A TCP address `HOST:PORT`.
    Tcp(String),
}

impl Remote {
    /// Parses one remote.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(p) = s.strip_prefix("unix:") {
            if !p.is_empty() {
                return Ok(Self::Unix(p.to_owned()));
            }
        } else if let Some(a) = s.strip_prefix("tcp:") {
            if a.rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            {
                return Ok(Self::Tcp(a.to_owned()));
            }
        }
        Err(ClientError::InvalidRemote(s.to_owned()))
    }

    /// Parses a comma-separated list.
    pub fn parse_list(s: &str) -> Result<Vec<Self>> {
        let v = s
            .split(',')
            .filter(|r| !r.trim().is_empty())
            .map(Self::parse)
            .collect::<Result<Vec<_>>>()?;
        if v.is_empty() {
            return Err(ClientError::NoRemotes);
        }
        Ok(v)
    }
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{p}"),
            Self::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection to one server.
///
/// Writing happens in a task of its own fed by a queue, so sending never waits for the socket:
/// a server that stops reading until we read its replies cannot deadlock us.
pub struct Connection {
    remote: String,
    reader: FramedRead<ReadHalf<Box<dyn Io>>, JsonRpcCodec>,
    out: mpsc::UnboundedSender<Message>,
    writer: tokio::task::JoinHandle<()>,
    write_error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    next_id: u64,
    pub(crate) keepalive: Keepalive,
    pub(crate) deferred: VecDeque<Notification>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.writer.abort();
    }
}

impl Connection {
    /// Connects to `remote` within `timeout`, probing inactivity every `probe` (never with `None`).
    pub async fn connect(
        remote: &Remote,
        timeout: Duration,
        probe: Option<Duration>,
    ) -> Result<Self> {
        let name = remote.to_string();
        let io_err = |e: std::io::Error| ClientError::Io {
            remote: name.clone(),
            detail: e.to_string(),
        };
        let fut = async {
            let io: Box<dyn Io> = match remote {
                Remote::Unix(p) => Box::new(UnixStream::connect(p).await.map_err(io_err)?),
                Remote::Tcp(a) => {
                    let s = TcpStream::connect(a).await.map_err(io_err)?;
                    let _ = s.set_nodelay(true);
                    Box::new(s)
                }
            };
            Ok::<_, ClientError>(io)
        };
        let io = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| ClientError::Timeout(format!("connecting to {name}")))??;
        let (rd, wr) = tokio::io::split(io);
        let (out, mut queue) = mpsc::unbounded_channel::<Message>();
        let write_error = std::sync::Arc::new(std::sync::Mutex::new(None));
        let err_slot = write_error.clone();
        let writer = tokio::spawn(async move {
            let mut sink = FramedWrite::new(wr, JsonRpcCodec::new());
            while let Some(first) = queue.recv().await {
                let mut r = sink.feed(first).await;
                while r.is_ok() {
                    match queue.try_recv() {
                        Ok(m) => r = sink.feed(m).await,
                        Err(_) => break,
                    }
                }
                if r.is_ok() {
                    r = SinkExt::<Message>::flush(&mut sink).await;
                }
                if let Err(e) = r {
                    if let Ok(mut slot) = err_slot.lock() {
                        *slot = Some(e.to_string());
                    }
                    return;
                }
            }
        });
        Ok(Self {
            remote: name.clone(),
            reader: FramedRead::new(rd, JsonRpcCodec::new()),
            out,
            writer,
            write_error,
            next_id: 1,
            keepalive: Keepalive::new(probe, Instant::now()),
            deferred: VecDeque::new(),
        })
    }

    /// The remote's name.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Queues `msg` for the writer task; fails once the socket failed.
    pub(crate) async fn send(&mut self, msg: Message) -> Result<()> {
        self.out.send(msg).map_err(|_| {
            let detail = self
                .write_error
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .unwrap_or_else(|| "connection closed".into());
            ClientError::Io {
                remote: self.remote.clone(),
                detail,
            }
        })
    }

    /// Sends a request and returns its id.
    pub(crate) async fn request(&mut self, method: &str, params: Vec<Value>) -> Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(Message::Request(Request {
            method: method.to_owned(),
            params,
            id: json!(id),
        }))
        .await?;
        Ok(id)
    }

    /// The next message, after answering `echo` requests and dropping replies to our probes;
    /// `Ok(None)` never happens: a closed stream is an error.
    pub(crate) async fn next_message(&mut self) -> Result<Message> {
        loop {
            let m = match self.reader.next().await {
                None => {
                    return Err(ClientError::Io {
                        remote: self.remote.clone(),
                        detail: "connection closed by the server".into(),
                    })
                }
                Some(Err(e)) => return Err(ClientError::rpc(&self.remote, &e)),
                Some(Ok(m)) => m,
            };
            self.keepalive.on_receive(Instant::now());
            if let Some(r) = echo_reply(&m) {
                self.send(Message::Response(r)).await?;
                continue;
            }
            if is_echo_reply(&m) {
                continue;
            }
            return Ok(m);
        }
    }

    /// Sends a request and waits (at most `timeout`) for its response, keeping notifications that
    /// arrive meanwhile in order. Returns the `result` (`Ok`) or the server's `error` (`Err`).
    pub async fn call(
        &mut self,
        method: &str,
        params: Vec<Value>,
        timeout: Duration,
    ) -> Result<Result<Value, Value>> {
        let id = self.request(method, params).await?;
        let wait = async {
            loop {
                match self.next_message().await? {
                    Message::Response(r) if r.id == json!(id) => return Ok(r.result),
                    Message::Notification(n) => self.deferred.push_back(n),
                    _ => {}
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| ClientError::Timeout(format!("reply to {method} from {}", self.remote)))?
    }

    /// [`call`](Self::call) that turns an error reply into [`ClientError::Server`].
    pub async fn call_ok(
        &mut self,
        method: &str,
        params: Vec<Value>,
        timeout: Duration,
    ) -> Result<Value> {
        self.call(method, params, timeout)
            .await?
            .map_err(|error| ClientError::Server {
                method: method.to_owned(),
                error,
            })
    }
}
