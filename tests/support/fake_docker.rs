//! A Docker Engine API on 127.0.0.1 that answers like dockerd 20.10 for
//! one compose project, and whose log endpoint sends one frame and then
//! stalls: for what the real engine cannot be made to do on demand
//! (hang mid-stream), so that timeouts and Ctrl-C are tested on the wire.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

pub const PROJECT: &str = "fake-prod";
pub const CONTAINER: &str = "fake-prod-frontend-1";
pub const SECRET: &str = "fake-engine-pg-secret-8812";
pub const FIRST_LOG_LINE: &str =
    "frontend: first line before the stall; peer 10.20.30.40 via gitlab.acme-corp.internal";
/// Network identifiers the fake's container carries (for --obfuscate-network).
pub const ADDRESSES: &[&str] = &[
    "10.20.30.40",
    "gitlab.acme-corp.internal",
    "ops@acme-corp.com",
];

pub struct FakeDocker {
    pub url: String,
    /// Receives one message each time a log stream starts stalling.
    pub logs_requested: mpsc::Receiver<()>,
}

pub fn start() -> FakeDocker {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let tx = tx.clone();
            std::thread::spawn(move || serve(conn, tx));
        }
    });
    FakeDocker {
        url,
        logs_requested: rx,
    }
}

fn serve(conn: TcpStream, tx: mpsc::Sender<()>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        // Headers; the engine API's GETs carry no body.
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
        }
        let target = request_line.split_whitespace().nth(1).unwrap_or("/");
        let path = target.split('?').next().unwrap_or("/");
        // Strip the negotiated version prefix: /v1.41/containers/json.
        let path = match path.strip_prefix("/v1.") {
            Some(rest) => &rest[rest.find('/').unwrap_or(rest.len())..],
            None => path,
        };
        if path.ends_with("/logs") {
            stall_logs(&mut conn, &tx);
            return;
        }
        let (status, body) = route(path);
        let body = body.to_string();
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

fn route(path: &str) -> (&'static str, serde_json::Value) {
    let labels = json!({
        "com.docker.compose.project": PROJECT,
        "com.docker.compose.service": "sourcegraph-frontend-0",
    });
    let image = "sourcegraph/frontend:6.12.5040";
    match path {
        "/_ping" => ("200 OK", json!("OK")),
        "/version" => (
            "200 OK",
            json!({"Version": "20.10.24", "ApiVersion": "1.41", "MinAPIVersion": "1.12",
                   "Os": "linux", "Arch": "amd64", "KernelVersion": "6.1.0"}),
        ),
        "/info" => (
            "200 OK",
            json!({"ID": "FAKE", "Containers": 1, "NCPU": 2, "MemTotal": 25769803776u64,
                   "OperatingSystem": "Debian GNU/Linux 12", "KernelVersion": "6.1.0",
                   "Driver": "overlay2", "DockerRootDir": "/nonexistent/fake-docker-root"}),
        ),
        "/containers/json" => (
            "200 OK",
            json!([{"Id": "f00d", "Names": [format!("/{CONTAINER}")], "Image": image,
                    "ImageID": "sha256:0123", "Command": "/sbin/tini", "Created": 1764000000,
                    "State": "running", "Status": "Up 2 hours", "Labels": labels, "Mounts": []}]),
        ),
        "/containers/f00d/json" => (
            "200 OK",
            json!({"Id": "f00d", "Name": format!("/{CONTAINER}"), "RestartCount": 0,
                   "State": {"Status": "running", "Running": true, "ExitCode": 0, "OOMKilled": false},
                   "Config": {"Image": image, "Labels": labels,
                              "Env": [format!("PGPASSWORD={SECRET}"), "PATH=/bin",
                              "SRC_GIT_SERVERS=10.20.30.40:3178", "SITE_ADMIN=ops@acme-corp.com"]},
                   "HostConfig": {"Memory": 0}, "Mounts": []}),
        ),
        "/containers/f00d/stats" => ("200 OK", json!({"memory_stats": {"usage": 1048576u64}})),
        _ => (
            "404 Not Found",
            json!({"message": format!("no such object: {path}")}),
        ),
    }
}

/// Headers and one multiplexed stdout frame, then silence until the
/// client goes away.
fn stall_logs(conn: &mut TcpStream, tx: &mpsc::Sender<()>) {
    let line = format!("2026-11-26T10:00:00.000000000Z {FIRST_LOG_LINE}\n");
    let mut frame = vec![1u8, 0, 0, 0];
    frame.extend_from_slice(&(line.len() as u32).to_be_bytes());
    frame.extend_from_slice(line.as_bytes());
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunk = format!("{:x}\r\n", frame.len());
    let ok = conn.write_all(head.as_bytes()).is_ok()
        && conn.write_all(chunk.as_bytes()).is_ok()
        && conn.write_all(&frame).is_ok()
        && conn.write_all(b"\r\n").is_ok()
        && conn.flush().is_ok();
    let _ = tx.send(());
    if !ok {
        return;
    }
    // Hold the connection open; a closed peer ends the thread.
    let mut probe = [0u8; 1];
    let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
    let _ = std::io::Read::read(conn, &mut probe);
}
