//! Garbage, oversize and too-deep input closes only the offending connection.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ovsdb::jsonrpc::Limits;
use ovsdb::server::net::{self, NetOptions, Remote};
use ovsdb::server::{Server, ServerConfig};

fn roundtrip(s: &mut UnixStream, req: &str) -> String {
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn closed(s: &mut UnixStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn bad_input_closes_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = Arc::new(Mutex::new(Server::new(ServerConfig::default()).unwrap()));
    let options = NetOptions {
        limits: Limits {
            max_message_size: 64 << 10,
            max_depth: 32,
        },
        ..NetOptions::default()
    };
    let remotes = [
        Remote::Punix(sock.clone()),
        "ptcp:0:127.0.0.1".parse::<Remote>().unwrap(),
    ];
    let running = rt.block_on(net::serve(server, &remotes, options)).unwrap();
    // The TCP remote serves the same server.
    let Remote::Ptcp { port, .. } = running.local_remotes()[1] else {
        panic!("no TCP listener");
    };
    assert_ne!(port, 0);
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(br#"{"id":"t","method":"list_dbs","params":[]}"#)
        .unwrap();
    let mut buf = [0u8; 256];
    let n = tcp.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("_Server"));

    let mut good = UnixStream::connect(&sock).unwrap();
    good.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(
        roundtrip(&mut good, r#"{"id":1,"method":"list_dbs","params":[]}"#).contains("_Server")
    );

    let bad_inputs: Vec<Vec<u8>> = vec![
        b"hello world".to_vec(),
        b"{\"id\":1,\"method\":\"echo\",\"params\":[]} garbage".to_vec(),
        b"{\"id\":1,\"method\":tru}".to_vec(),
        b"{\"id\":1,\"what\":2}".to_vec(),
        b"\xff\xfe{{{{".to_vec(),
        format!(
            "{{\"id\":1,\"method\":\"echo\",\"params\":[\"{}\"]}}",
            "x".repeat(100 << 10)
        )
        .into_bytes(),
        format!("{}{}", "[".repeat(40), "]".repeat(40)).into_bytes(),
    ];
    for input in bad_inputs {
        let mut bad = UnixStream::connect(&sock).unwrap();
        bad.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = bad.write_all(&input);
        assert!(
            closed(&mut bad),
            "connection stayed open after {:?}",
            String::from_utf8_lossy(&input[..input.len().min(40)])
        );
        // Everyone else is still served.
        let r = roundtrip(
            &mut good,
            r#"{"id":2,"method":"echo","params":["still here"]}"#,
        );
        assert!(r.contains("still here"), "{r}");
    }
    drop(good);
    rt.block_on(running.shutdown());
}

/// With the busy-poll (on by default), back-to-back requests of several clients are answered, a client
/// that pauses longer than the budget is still served, and the server stops cleanly.
#[test]
fn busy_poll_serves_back_to_back_and_paused_clients() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Arc::new(Mutex::new(Server::new(ServerConfig::default()).unwrap()));
    let options = NetOptions {
        busy_poll: Some(net::DEFAULT_BUSY_POLL),
        ..NetOptions::default()
    };
    let running = rt
        .block_on(net::serve(server, &[Remote::Punix(sock.clone())], options))
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = stop_rx.await;
            running.shutdown().await;
        });
    });
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(&sock).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                for i in 0..200 {
                    if i % 50 == 49 {
                        // Longer than the budget: spinning stops, the next request wakes it.
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    let r = roundtrip(
                        &mut s,
                        &format!(r#"{{"id":{i},"method":"echo","params":["c{c}-{i}"]}}"#),
                    );
                    assert!(r.contains(&format!("\"c{c}-{i}\"")), "{r}");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let _ = stop_tx.send(());
    serving.join().unwrap();
}

/// Messages much bigger than the socket buffers go through both ways: a 4 MB request is read in
/// many pieces, and its reply, to a client that does not read for a while, waits for room in the
/// socket (the server watches a socket for output only then) without holding up another client.
#[test]
fn big_messages_to_a_client_that_reads_late() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Arc::new(Mutex::new(Server::new(ServerConfig::default()).unwrap()));
    let running = rt
        .block_on(net::serve(
            server,
            &[Remote::Punix(sock.clone())],
            NetOptions::default(),
        ))
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = stop_rx.await;
            running.shutdown().await;
        });
    });
    let big = |i: usize| format!("{i}-{}", "x".repeat(4 << 20));
    let slow = UnixStream::connect(&sock).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = slow.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        for i in 0..3 {
            let req = serde_json::json!({"id": i, "method": "echo", "params": [big(i)]});
            writer.write_all(req.to_string().as_bytes()).unwrap();
        }
    });
    // Meanwhile the server's first reply fills the socket: another client is still served.
    std::thread::sleep(Duration::from_millis(300));
    let mut other = UnixStream::connect(&sock).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for i in 0..20 {
        let r = roundtrip(
            &mut other,
            &format!(r#"{{"id":{i},"method":"echo","params":["o{i}"]}}"#),
        );
        assert!(r.contains(&format!("\"o{i}\"")), "{r}");
    }
    let replies: Vec<serde_json::Value> =
        serde_json::Deserializer::from_reader(std::io::BufReader::new(slow))
            .into_iter()
            .take(3)
            .map(Result::unwrap)
            .collect();
    sending.join().unwrap();
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r["id"], serde_json::json!(i));
        assert_eq!(r["result"], serde_json::json!([big(i)]));
    }
    drop(other);
    let _ = stop_tx.send(());
    serving.join().unwrap();
}
