//! One JSON-RPC connection: connecting to a remote, sending requests with numeric ids, answering the
//! server's `echo`, and awaiting one response while keeping notifications for later.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

use super::error::{ClientError, Result};
use crate::jsonrpc::echo::{echo_reply, is_echo_reply, Keepalive, KeepaliveAction};
use crate::jsonrpc::{JsonRpcCodec, JsonRpcError, JsonSplitter, Message, Request, Response};

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

/// What the writer task sends: a message, or the pieces of one already serialized (written to
/// the socket as they are, without a copy into the codec's buffer).
enum Outgoing {
    Message(Message),
    Bytes(Vec<Bytes>),
    /// A request's head, then its params as they come, then `}` once they end; written as
    /// one message (nothing else goes between its pieces).
    Stream(Bytes, mpsc::UnboundedReceiver<super::StreamPart>),
}

/// The successful `result` of a response, as the JSON text the server sent (see
/// [`Connection::call_raw`]): parse it with `serde_json::from_slice` or a streaming
/// deserializer, straight into typed values.
#[derive(Debug, Clone)]
pub struct RawReply {
    frame: Bytes,
    result: Range<usize>,
}

impl RawReply {
    /// A reply holding `result`.
    fn from_value(result: &Value) -> Self {
        let frame = Bytes::from(result.to_string());
        let result = 0..frame.len();
        Self { frame, result }
    }

    /// The JSON text of the `result`.
    pub fn result(&self) -> &[u8] {
        &self.frame[self.result.clone()]
    }

    /// The `result` parsed into a JSON value.
    pub fn to_value(&self) -> std::result::Result<Value, serde_json::Error> {
        serde_json::from_slice(self.result())
    }
}

/// A monitor update notification (`update`, `update2`, `update3`) whose `params` are kept as
/// the JSON text the server sent, to be parsed straight into typed rows (see
/// [`Connection::set_raw_updates`]).
#[derive(Debug, Clone)]
pub(crate) struct RawNotification {
    /// The method.
    pub(crate) method: String,
    frame: Bytes,
    params: Range<usize>,
}

impl RawNotification {
    /// The JSON text of the `params` array.
    pub(crate) fn params(&self) -> &[u8] {
        &self.frame[self.params.clone()]
    }
}

/// What the reader yields: a message, a response kept as raw JSON, or a monitor update kept as
/// raw JSON.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A parsed message.
    Message(Message),
    /// The raw result of the response to the request in flight with [`Connection::call_raw`].
    Raw(u64, RawReply),
    /// A monitor update, when [`Connection::set_raw_updates`] is on.
    Update(RawNotification),
}

/// A read buffer larger than this is not kept once emptied (see [`ClientCodec::decode`]).
const BIG_BUFFER: usize = 1 << 20;

/// Splits the stream into messages; while `raw_id` is set, a successful response with that id
/// is handed back as raw JSON instead of being parsed, as are those to the requests in
/// `raw_replies`.
#[derive(Debug, Default)]
struct ClientCodec {
    splitter: JsonSplitter,
    raw_id: Option<u64>,
    /// Requests whose successful response is handed back as raw JSON
    /// ([`Connection::request_raw_reply`]).
    raw_replies: std::collections::HashSet<u64>,
    /// Monitor update notifications are handed back as raw JSON.
    raw_updates: bool,
    /// Bytes of the frames handed out so far.
    consumed: u64,
    /// Bytes received so far, including those of a message not complete yet.
    received: u64,
}

impl Decoder for ClientCodec {
    type Item = Incoming;
    type Error = JsonRpcError;

    fn decode(
        &mut self,
        src: &mut BytesMut,
    ) -> std::result::Result<Option<Incoming>, JsonRpcError> {
        self.received = self.received.max(self.consumed + src.len() as u64);
        let frame = match self.splitter.next_frame(src) {
            Ok(Some(f)) => {
                self.consumed += f.len() as u64;
                // The buffer grew to hold this message (a whole database, a big update) and
                // would keep that size for good, sharing its storage with the frame: it
                // starts afresh instead, and the storage goes with the frame. Bytes of the
                // next message already read (e.g. a transaction's reply right behind the
                // monitor update it caused) move to the fresh buffer: left where they are,
                // they would keep the whole storage alive while that message is read.
                if f.len() > BIG_BUFFER || (src.is_empty() && src.capacity() > BIG_BUFFER) {
                    *src = BytesMut::from(&src[..]);
                }
                f
            }
            Ok(None) => return Ok(None),
            Err(e) => {
                self.splitter.reset();
                src.clear();
                return Err(e);
            }
        };
        if self.raw_id.is_some() || !self.raw_replies.is_empty() {
            if let Some((id, result)) = raw_result_any(&frame) {
                if self.raw_id == Some(id) || self.raw_replies.remove(&id) {
                    let reply = RawReply {
                        frame: frame.freeze(),
                        result,
                    };
                    return Ok(Some(Incoming::Raw(id, reply)));
                }
            }
        }
        if self.raw_updates {
            if let Some((method, params)) = raw_update(&frame) {
                return Ok(Some(Incoming::Update(RawNotification {
                    method,
                    frame: frame.freeze(),
                    params,
                })));
            }
        }
        let offset = self.splitter.stream_offset() - frame.len() as u64;
        let value = serde_json::from_slice(&frame)
            .map_err(|source| JsonRpcError::Json { offset, source })?;
        Message::from_json(value).map(|m| Some(Incoming::Message(m)))
    }

    fn decode_eof(
        &mut self,
        src: &mut BytesMut,
    ) -> std::result::Result<Option<Incoming>, JsonRpcError> {
        if let Some(m) = self.decode(src)? {
            return Ok(Some(m));
        }
        self.splitter.finish(src)?;
        Ok(None)
    }
}

/// The byte range of `result` when `frame` is a successful response to request `id`: an object
/// with only the members `id` (equal to `id`), `result` (not null) and optionally `error`
/// (null), `method` (null) and `params` (null). Anything else (or a frame that is not valid at
/// this level) is `None`, left to the full parser and its checks.
#[cfg(test)]
fn raw_result(frame: &[u8], id: u64) -> Option<Range<usize>> {
    raw_result_any(frame)
        .filter(|(i, _)| *i == id)
        .map(|(_, r)| r)
}

/// The id and the byte range of `result` when `frame` is a successful response to a request
/// with a numeric id (as [`raw_result`] checks it).
fn raw_result_any(frame: &[u8]) -> Option<(u64, Range<usize>)> {
    let mut result = None;
    let mut id = None;
    for (key, value) in top_level_members(frame)? {
        let v = &frame[value.clone()];
        match &frame[key] {
            b"id" => id = serde_json::from_slice::<u64>(v).ok(),
            b"result" if v != b"null" => result = Some(value),
            b"error" | b"method" | b"params" if v == b"null" => {}
            _ => return None,
        }
    }
    Some((id?, result?))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end (one past the closing quote) of the JSON string starting at `b[i] == '"'`. (A
/// monitor's first reply, tens of MB, is scanned through: eight bytes at a time.)
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        i = crate::jsonrpc::find_quote_or_backslash(b, i);
        match b.get(i)? {
            b'\\' => i += 2,
            _ => return Some(i + 1),
        }
    }
}

/// The end of the JSON value starting at `b[i]` (found by brackets and strings only).
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let n = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - i);
            (n > 0).then_some(i + n)
        }
    }
}

/// The method and the byte range of `params` when `frame` is a monitor update notification:
/// an object with only the members `method` (`"update"`, `"update2"` or `"update3"`), `params`
/// (an array) and optionally `id` (null). Anything else is `None`, left to the full parser.
fn raw_update(frame: &[u8]) -> Option<(String, Range<usize>)> {
    let mut method = None;
    let mut params = None;
    for (key, value) in top_level_members(frame)? {
        let v = &frame[value.clone()];
        match &frame[key] {
            b"method" => {
                method = match v {
                    b"\"update\"" => Some("update"),
                    b"\"update2\"" => Some("update2"),
                    b"\"update3\"" => Some("update3"),
                    _ => return None,
                }
            }
            b"params" if v.first() == Some(&b'[') => params = Some(value),
            b"id" if v == b"null" => {}
            _ => return None,
        }
    }
    Some((method?.to_owned(), params?))
}

/// The members of the JSON object `b` as (key without quotes, value) byte ranges; `None` when
/// `b` is not an object at this level. Keys are compared as written (escapes not decoded).
fn top_level_members(b: &[u8]) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    let mut out = Vec::new();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i)?;
        let key = i + 1..key_end - 1;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let end = value_end(b, i)?;
        out.push((key, i..end));
        i = skip_ws(b, end);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return (skip_ws(b, i + 1) == b.len()).then_some(out),
            _ => return None,
        }
    }
}

/// The writer task's encoder: messages through [`JsonRpcCodec`]; raw bytes are written apart.
struct OutCodec(JsonRpcCodec);

impl Encoder<Message> for OutCodec {
    type Error = JsonRpcError;

    fn encode(
        &mut self,
        item: Message,
        dst: &mut BytesMut,
    ) -> std::result::Result<(), JsonRpcError> {
        self.0.encode(&item, dst)
    }
}

/// A connection to one server.
///
/// Writing happens in a task of its own fed by a queue, so sending never waits for the socket:
/// a server that stops reading until we read its replies cannot deadlock us.
pub struct Connection {
    remote: String,
    reader: FramedRead<ReadHalf<Box<dyn Io>>, ClientCodec>,
    out: mpsc::UnboundedSender<Outgoing>,
    writer: tokio::task::JoinHandle<()>,
    write_error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    next_id: u64,
    /// [`ClientCodec::received`] when last looked at.
    received_seen: u64,
    pub(crate) keepalive: Keepalive,
    pub(crate) deferred: VecDeque<Incoming>,
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
        let (out, mut queue) = mpsc::unbounded_channel::<Outgoing>();
        let write_error = std::sync::Arc::new(std::sync::Mutex::new(None));
        let err_slot = write_error.clone();
        let writer = tokio::spawn(async move {
            let mut sink = FramedWrite::new(wr, OutCodec(JsonRpcCodec::new()));
            while let Some(first) = queue.recv().await {
                let mut next = Some(first);
                let mut r = Ok(());
                while let (Some(item), true) = (next.take(), r.is_ok()) {
                    r = match item {
                        Outgoing::Message(m) => sink.feed(m).await,
                        Outgoing::Bytes(parts) => {
                            // What is buffered goes first, then the pieces as they are.
                            let mut r = SinkExt::<Message>::flush(&mut sink).await;
                            for p in &parts {
                                if r.is_ok() {
                                    r = sink.get_mut().write_all(p).await.map_err(JsonRpcError::Io);
                                }
                            }
                            r
                        }
                        Outgoing::Stream(head, mut parts) => {
                            let mut r = SinkExt::<Message>::flush(&mut sink).await;
                            if r.is_ok() {
                                r = sink
                                    .get_mut()
                                    .write_all(&head)
                                    .await
                                    .map_err(JsonRpcError::Io);
                            }
                            while r.is_ok() {
                                match parts.recv().await {
                                    Some(super::StreamPart::Bytes(b)) => {
                                        r = sink
                                            .get_mut()
                                            .write_all(&b)
                                            .await
                                            .map_err(JsonRpcError::Io);
                                    }
                                    Some(super::StreamPart::End) => {
                                        r = sink
                                            .get_mut()
                                            .write_all(b"}")
                                            .await
                                            .map_err(JsonRpcError::Io);
                                        break;
                                    }
                                    None => {
                                        // Abandoned half-way: the server has a partial
                                        // request, so the connection must end.
                                        let _ = sink.get_mut().shutdown().await;
                                        r = Err(JsonRpcError::Io(std::io::Error::other(
                                            "a streamed request was abandoned",
                                        )));
                                    }
                                }
                            }
                            r
                        }
                    };
                    next = queue.try_recv().ok();
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
            reader: FramedRead::new(rd, ClientCodec::default()),
            out,
            writer,
            write_error,
            next_id: 1,
            received_seen: 0,
            keepalive: Keepalive::new(probe, Instant::now()),
            deferred: VecDeque::new(),
        })
    }

    /// The remote's name.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Records as activity, for the inactivity probe, any bytes received since the last call,
    /// even of a message not complete yet (as OVS's `jsonrpc_session_run` does): a large update
    /// or reply that takes longer than the probe interval to arrive is not silence.
    pub(crate) fn note_received_bytes(&mut self) {
        let received = self.reader.decoder().received;
        if received > self.received_seen {
            self.received_seen = received;
            self.keepalive.on_receive(Instant::now());
        }
    }

    /// What the inactivity probe says now, counting the bytes received so far as activity.
    pub(crate) fn poll_keepalive(&mut self) -> KeepaliveAction {
        self.note_received_bytes();
        self.keepalive.poll(Instant::now())
    }

    /// Queues `msg` for the writer task; fails once the socket failed.
    pub(crate) async fn send(&mut self, msg: Message) -> Result<()> {
        self.queue(Outgoing::Message(msg))
    }

    fn queue(&mut self, item: Outgoing) -> Result<()> {
        self.out.send(item).map_err(|_| {
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

    /// [`request_raw`](Self::request_raw) whose successful response comes back as
    /// [`Incoming::Raw`] (the result's JSON text) instead of a parsed message; an error
    /// response comes as a message (then call [`forget_raw_reply`](Self::forget_raw_reply)).
    pub(crate) fn request_raw_reply(&mut self, method: &str, params: Bytes) -> Result<u64> {
        let id = self.queue_raw(method, params)?;
        self.reader.decoder_mut().raw_replies.insert(id);
        Ok(id)
    }

    /// Sends a request whose params are written as they come from `parts` (see
    /// [`Client::transact_stream`](super::Client::transact_stream)), its successful response
    /// handed back as with [`request_raw_reply`](Self::request_raw_reply); returns its id.
    pub(crate) fn request_stream(
        &mut self,
        method: &str,
        parts: mpsc::UnboundedReceiver<super::StreamPart>,
    ) -> Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let head = format!(
            "{{\"id\":{id},\"method\":{},\"params\":",
            Value::String(method.to_owned())
        );
        self.queue(Outgoing::Stream(Bytes::from(head), parts))?;
        self.reader.decoder_mut().raw_replies.insert(id);
        Ok(id)
    }

    /// No longer expects request `id`'s response as raw JSON.
    pub(crate) fn forget_raw_reply(&mut self, id: u64) {
        self.reader.decoder_mut().raw_replies.remove(&id);
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

    /// Sends a request whose `params` are the JSON text `params` (an array, e.g. from
    /// `serde_json::to_vec`), queued without being parsed or copied, and returns its id.
    pub async fn request_raw(&mut self, method: &str, params: Bytes) -> Result<u64> {
        self.queue_raw(method, params)
    }

    fn queue_raw(&mut self, method: &str, params: Bytes) -> Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let head = format!(
            "{{\"id\":{id},\"method\":{},\"params\":",
            Value::String(method.to_owned())
        );
        self.queue(Outgoing::Bytes(vec![
            Bytes::from(head),
            params,
            Bytes::from_static(b"}"),
        ]))?;
        Ok(id)
    }

    /// The next message, after answering `echo` requests and dropping replies to our probes;
    /// `Ok(None)` never happens: a closed stream is an error.
    #[cfg(test)]
    pub(crate) async fn next_message(&mut self) -> Result<Message> {
        loop {
            if let Incoming::Message(m) = self.next_incoming().await? {
                return Ok(m);
            }
        }
    }

    /// Hands monitor update notifications back as [`Incoming::Update`] (raw JSON) from now on,
    /// instead of parsing them into a JSON tree.
    pub(crate) fn set_raw_updates(&mut self, on: bool) {
        self.reader.decoder_mut().raw_updates = on;
    }

    /// The next message, raw response or raw update, after answering `echo` requests and
    /// dropping replies to our probes.
    pub(crate) async fn next_incoming(&mut self) -> Result<Incoming> {
        loop {
            let m = match self.reader.next().await {
                None => {
                    return Err(ClientError::Io {
                        remote: self.remote.clone(),
                        detail: "connection closed by the server".into(),
                    })
                }
                Some(Err(e)) => return Err(ClientError::rpc(&self.remote, &e)),
                Some(Ok(Incoming::Message(m))) => m,
                Some(Ok(raw @ (Incoming::Raw(..) | Incoming::Update(_)))) => {
                    self.keepalive.on_receive(Instant::now());
                    return Ok(raw);
                }
            };
            self.keepalive.on_receive(Instant::now());
            if let Some(r) = echo_reply(&m) {
                self.send(Message::Response(r)).await?;
                continue;
            }
            if is_echo_reply(&m) {
                continue;
            }
            return Ok(Incoming::Message(m));
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
                match self.next_incoming().await? {
                    Incoming::Message(Message::Response(r)) if r.id == json!(id) => {
                        return Ok(r.result)
                    }
                    n @ (Incoming::Message(Message::Notification(_)) | Incoming::Update(_)) => {
                        self.deferred.push_back(n);
                    }
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

    /// [`call`](Self::call) for big requests and replies: `params` is the request's params as
    /// JSON text (an array), sent as it is; a successful `result` comes back as the JSON text
    /// the server sent ([`RawReply`]), so the caller can parse it straight into typed values
    /// without a JSON tree of the whole reply. An error reply is `Ok(Err(error))`.
    pub async fn call_raw(
        &mut self,
        method: &str,
        params: Bytes,
        timeout: Duration,
    ) -> Result<std::result::Result<RawReply, Value>> {
        let id = self.request_raw(method, params).await?;
        self.reader.decoder_mut().raw_id = Some(id);
        let wait = async {
            loop {
                match self.next_incoming().await? {
                    Incoming::Raw(i, reply) if i == id => return Ok(Ok(reply)),
                    Incoming::Message(Message::Response(Response { result, id: rid }))
                        if rid == json!(id) =>
                    {
                        return Ok(result.map(|v| RawReply::from_value(&v)));
                    }
                    n @ (Incoming::Message(Message::Notification(_)) | Incoming::Update(_)) => {
                        self.deferred.push_back(n);
                    }
                    _ => {}
                }
            }
        };
        let out = tokio::time::timeout(timeout, wait).await;
        self.reader.decoder_mut().raw_id = None;
        out.map_err(|_| ClientError::Timeout(format!("reply to {method} from {}", self.remote)))?
    }

    /// [`call_raw`](Self::call_raw) that turns an error reply into [`ClientError::Server`].
    pub async fn call_raw_ok(
        &mut self,
        method: &str,
        params: Bytes,
        timeout: Duration,
    ) -> Result<RawReply> {
        self.call_raw(method, params, timeout)
            .await?
            .map_err(|error| ClientError::Server {
                method: method.to_owned(),
                error,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_result_takes_only_a_plain_success_for_the_id() {
        let ok = br#"{"id":7,"result":[{"rows":[{"a":"}]\"{"}]}],"error":null}"#;
        let r = raw_result(ok, 7).unwrap();
        assert_eq!(&ok[r], br#"[{"rows":[{"a":"}]\"{"}]}]"#);
        let spaced = b" { \"error\" : null ,\n \"result\" : 5 , \"id\" : 3 } ";
        assert_eq!(&spaced[raw_result(spaced, 3).unwrap()], b"5");
        // Another id, an error, a request, a null result, an extra member, broken text.
        for (frame, id) in [
            (&br#"{"id":8,"result":[],"error":null}"#[..], 7),
            (br#"{"id":7,"result":null,"error":"x"}"#, 7),
            (br#"{"id":7,"method":"echo","params":[]}"#, 7),
            (br#"{"id":7,"result":null,"error":null}"#, 7),
            (br#"{"id":7,"result":[],"extra":1}"#, 7),
            (br#"{"id":7,"result":[}"#, 7),
            (br#"{"id":7,"result":[]"#, 7),
            (br#"[1]"#, 7),
        ] {
            assert_eq!(
                raw_result(frame, id),
                None,
                "{}",
                String::from_utf8_lossy(frame)
            );
        }
    }

    /// A message that takes several probe intervals to arrive, its bytes coming steadily, is
    /// activity: the inactivity probe never asks to disconnect (as in OVS, where any received
    /// byte counts).
    #[test]
    fn a_slowly_arriving_message_is_not_silence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = tokio::net::UnixListener::bind(&path).unwrap();
            let server = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                s.write_all(br#"{"id":null,"method":"update","params":[null,{"#)
                    .await
                    .unwrap();
                for i in 0..10 {
                    tokio::time::sleep(Duration::from_millis(80)).await;
                    let sep = if i == 9 { "}]}" } else { "," };
                    s.write_all(format!("\"a{i}\":{i}{sep}").as_bytes())
                        .await
                        .unwrap();
                }
                s
            });
            let remote = Remote::Unix(path.to_string_lossy().into_owned());
            let probe = Duration::from_millis(200);
            let mut c = Connection::connect(&remote, Duration::from_secs(10), Some(probe))
                .await
                .unwrap();
            let m = loop {
                match tokio::time::timeout(Duration::from_millis(20), c.next_message()).await {
                    Ok(m) => break m.unwrap(),
                    Err(_) => {
                        c.note_received_bytes();
                        let action = c.keepalive.poll(Instant::now());
                        assert_ne!(action, KeepaliveAction::Disconnect);
                    }
                }
            };
            assert!(matches!(m, Message::Notification(n) if n.params[1]["a9"] == 9));
            drop(server.await.unwrap());
        });
    }

    /// A scripted server: answers `echo` probes interleaved, sends a notification before the
    /// reply, and checks the raw request arrived intact.
    #[test]
    fn call_raw_sends_bytes_and_returns_the_result_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = tokio::net::UnixListener::bind(&path).unwrap();
            let server = tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let (mut s, _) = listener.accept().await.unwrap();
                let mut splitter = JsonSplitter::default();
                let mut buf = BytesMut::new();
                let mut seen = Vec::new();
                while seen.len() < 3 {
                    if let Some(v) = splitter.next_value(&mut buf).unwrap() {
                        if v["method"].is_null() {
                            continue; // the client's answer to our probe
                        }
                        let id = v["id"].clone();
                        let reply = match v["method"].as_str() {
                            Some("transact") => {
                                // A notification and a probe of our own first.
                                s.write_all(br#"{"id":null,"method":"update","params":[null,{}]}"#)
                                    .await
                                    .unwrap();
                                s.write_all(br#"{"id":"echo","method":"echo","params":[]}"#)
                                    .await
                                    .unwrap();
                                json!({"id": id, "result": [{"rows": [{"x": "a\"b"}]}], "error": null})
                            }
                            Some("fail") => json!({"id": id, "result": null, "error": "nope"}),
                            _ => json!({"id": id, "result": ["plain"], "error": null}),
                        };
                        seen.push(v);
                        s.write_all(reply.to_string().as_bytes()).await.unwrap();
                        continue;
                    }
                    if s.read_buf(&mut buf).await.unwrap() == 0 {
                        break;
                    }
                }
                seen
            });
            let remote = Remote::Unix(path.to_string_lossy().into_owned());
            let t = Duration::from_secs(10);
            let mut c = Connection::connect(&remote, t, None).await.unwrap();
            let params = Bytes::from_static(br#"["db",{"op":"select","table":"T","where":[]}]"#);
            let r = c.call_raw_ok("transact", params, t).await.unwrap();
            assert_eq!(r.result(), br#"[{"rows":[{"x":"a\"b"}]}]"#);
            assert_eq!(r.to_value().unwrap(), json!([{"rows": [{"x": "a\"b"}]}]));
            assert_eq!(c.deferred.len(), 1, "the notification is kept");
            let e = c.call_raw("fail", Bytes::from_static(b"[]"), t).await.unwrap();
            assert_eq!(e.unwrap_err(), json!("nope"));
            let plain = c.call_ok("list_dbs", vec![], t).await.unwrap();
            assert_eq!(plain, json!(["plain"]));
            let seen = server.await.unwrap();
            assert_eq!(
                seen[0],
                json!({"id": 1, "method": "transact",
                       "params": ["db", {"op": "select", "table": "T", "where": []}]})
            );
            assert_eq!(seen[1]["method"], "fail");
        });
    }
}
