//! A minimal unixctl endpoint, so `ovs-appctl -t SOCKET COMMAND` works on our server as on
//! ovsdb-server: `exit`, `version`, `list-commands`, `ovsdb-server/list-dbs` and
//! `ovsdb-server/compact [DB]`.
//!
//! The unixctl protocol is JSON-RPC 1.0 over a Unix socket: a request per command whose params are
//! the command's arguments (strings); the reply's `result` is the command's output text, or its
//! `error` a message.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

use super::net::SharedServer;
use crate::jsonrpc::{JsonRpcCodec, Message, Response};

const COMMANDS: &[&str] = &[
    "exit",
    "list-commands",
    "ovsdb-server/compact",
    "ovsdb-server/list-dbs",
    "version",
];

/// A running unixctl endpoint.
#[derive(Debug)]
pub struct Unixctl {
    path: PathBuf,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Unixctl {
    /// Listens on `path`; `exit` sends `true` on `exit_requested`.
    pub fn start(
        path: &Path,
        server: SharedServer,
        exit_requested: watch::Sender<bool>,
    ) -> io::Result<Self> {
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        let (stop, mut stopped) = watch::channel(false);
        let exit = Arc::new(exit_requested);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = listener.accept() => {
                        let Ok((stream, _)) = r else { continue };
                        let (server, exit) = (server.clone(), exit.clone());
                        tokio::spawn(async move {
                            let mut framed = Framed::new(stream, JsonRpcCodec::new());
                            while let Some(Ok(Message::Request(req))) = framed.next().await {
                                let result = run(&server, &exit, &req.method, &req.params);
                                let resp = match result {
                                    Ok(text) => Response::ok(req.id, json!(text)),
                                    Err(text) => Response::error(req.id, json!(text)),
                                };
                                if framed.send(Message::Response(resp)).await.is_err() {
                                    break;
                                }
                            }
                        });
                    }
                    _ = stopped.changed() => return,
                }
            }
        });
        Ok(Self {
            path: path.to_path_buf(),
            task,
            stop,
        })
    }

    /// Stops listening and removes the socket.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let _ = std::fs::remove_file(&self.path);
    }
}

fn run(
    server: &SharedServer,
    exit: &watch::Sender<bool>,
    method: &str,
    params: &[Value],
) -> Result<String, String> {
    let args: Vec<&str> = params.iter().filter_map(Value::as_str).collect();
    let lock = || {
        server
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    match method {
        "exit" => {
            let _ = exit.send(true);
            Ok(String::new())
        }
        "version" => Ok(format!(
            "ovnkit ovsdb-server {}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "list-commands" => Ok(format!(
            "The available commands are:\n{}",
            COMMANDS
                .iter()
                .map(|c| format!("  {c}\n"))
                .collect::<String>()
        )),
        "ovsdb-server/list-dbs" => Ok(lock()
            .database_names()
            .into_iter()
            .map(|n| n + "\n")
            .collect()),
        "ovsdb-server/compact" => lock()
            .compact(args.first().copied())
            .map(|()| String::new())
            .map_err(|e| e.to_string()),
        _ => Err(format!("\"{method}\" is not a valid command")),
    }
}
