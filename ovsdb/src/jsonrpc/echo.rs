//! `echo` in both directions, without I/O: answering the peer's probes and probing an idle peer.
//!
//! OVSDB peers (ovsdb-server, ovn-northd, ovn-controller, ovs-vsctl, python-ovs) send
//! `{"method":"echo","params":[],"id":"echo"}` after a period without traffic and disconnect if nothing
//! at all arrives within another period. The answer to `echo` is a response whose `result` is the
//! request's `params`. A response with `"id":"echo"` answers our own probe and is swallowed.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Message, Request, Response};

/// The id OVS uses for its inactivity probes.
pub const ECHO_ID: &str = "echo";

/// ovsdb-server's and the OVS IDL's default inactivity probe interval (5 s).
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// The probe OVS sends: `{"id":"echo","method":"echo","params":[]}`.
pub fn echo_request() -> Request {
    Request {
        method: "echo".into(),
        params: Vec::new(),
        id: Value::String(ECHO_ID.into()),
    }
}

/// The reply to `msg` if it is an `echo` request (result = the request's params), else `None`.
pub fn echo_reply(msg: &Message) -> Option<Response> {
    match msg {
        Message::Request(r) if r.method == "echo" => {
            Some(Response::ok(r.id.clone(), Value::Array(r.params.clone())))
        }
        _ => None,
    }
}

/// Whether `msg` is a response to one of our probes (id `"echo"`), to be dropped by the session.
pub fn is_echo_reply(msg: &Message) -> bool {
    matches!(msg, Message::Response(r) if r.id.as_str() == Some(ECHO_ID))
}

/// What the connection should do next, as decided by [`Keepalive::poll`].
#[derive(Debug, Clone, PartialEq)]
pub enum KeepaliveAction {
    /// Nothing to do before [`Keepalive::next_deadline`].
    Wait,
    /// Send this probe (an `echo` request).
    SendProbe(Request),
    /// The peer stayed silent for two intervals: close the connection.
    Disconnect,
}

/// Inactivity probing as OVS's `reconnect` module does it: after `interval` without receiving anything,
/// send an `echo`; after another `interval` still without receiving anything, disconnect. Any received
/// message counts as activity. Time is passed in; this type reads no clock.
#[derive(Debug, Clone)]
pub struct Keepalive {
    interval: Option<Duration>,
    last_activity: Instant,
    probe_sent_at: Option<Instant>,
}

impl Keepalive {
    /// Probing every `interval`, or never with `None` (OVS's `inactivity_probe=0`).
    pub fn new(interval: Option<Duration>, now: Instant) -> Self {
        Self {
            interval: interval.filter(|d| !d.is_zero()),
            last_activity: now,
            probe_sent_at: None,
        }
    }

    /// Records that a message arrived at `now`.
    pub fn on_receive(&mut self, now: Instant) {
        self.last_activity = now;
        self.probe_sent_at = None;
    }

    /// When [`poll`](Self::poll) should be called next, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        let interval = self.interval?;
        Some(match self.probe_sent_at {
            None => self.last_activity + interval,
            Some(sent) => sent + interval,
        })
    }

    /// Decides what to do at `now`.
    pub fn poll(&mut self, now: Instant) -> KeepaliveAction {
        let Some(deadline) = self.next_deadline() else {
            return KeepaliveAction::Wait;
        };
        if now < deadline {
            return KeepaliveAction::Wait;
        }
        if self.probe_sent_at.is_some() {
            KeepaliveAction::Disconnect
        } else {
            self.probe_sent_at = Some(now);
            KeepaliveAction::SendProbe(echo_request())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jsonrpc::Notification;

    #[test]
    fn answers_echo_with_params() {
        let req = Message::Request(Request {
            method: "echo".into(),
            params: vec![json!("x"), json!(1)],
            id: json!(5),
        });
        assert_eq!(
            echo_reply(&req),
            Some(Response::ok(json!(5), json!(["x", 1])))
        );
        let not_echo = Message::Notification(Notification {
            method: "echo".into(),
            params: vec![],
        });
        assert_eq!(echo_reply(&not_echo), None);
        assert!(is_echo_reply(&Message::Response(Response::ok(
            json!("echo"),
            json!([])
        ))));
        assert!(!is_echo_reply(&Message::Response(Response::ok(
            json!(1),
            json!([])
        ))));
    }

    #[test]
    fn probes_then_disconnects_an_idle_peer() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut k = Keepalive::new(Some(5 * s), t0);
        assert_eq!(k.poll(t0 + 4 * s), KeepaliveAction::Wait);
        k.on_receive(t0 + 4 * s);
        assert_eq!(k.next_deadline(), Some(t0 + 9 * s));
        assert_eq!(
            k.poll(t0 + 9 * s),
            KeepaliveAction::SendProbe(echo_request())
        );
        assert_eq!(k.poll(t0 + 10 * s), KeepaliveAction::Wait);
        assert_eq!(k.poll(t0 + 14 * s), KeepaliveAction::Disconnect);
        // A reply in time resets the cycle.
        let mut k = Keepalive::new(Some(5 * s), t0);
        assert!(matches!(k.poll(t0 + 5 * s), KeepaliveAction::SendProbe(_)));
        k.on_receive(t0 + 6 * s);
        assert_eq!(k.poll(t0 + 10 * s), KeepaliveAction::Wait);
        // Disabled.
        let mut k = Keepalive::new(Some(Duration::ZERO), t0);
        assert_eq!(k.next_deadline(), None);
        assert_eq!(k.poll(t0 + 1000 * s), KeepaliveAction::Wait);
    }
}
