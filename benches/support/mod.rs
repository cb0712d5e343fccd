//! What the benches share: the simulator as a process, its admin API, and memory figures
//! from `/proc`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use sagemaker_remediator::sim::CallCounts;

/// Starts `sagemaker-remediator simulator ARGS` as a process: it and its endpoint.
pub fn start_simulator(args: &[&str]) -> (Child, String) {
    let mut process = Command::new(env!("CARGO_BIN_EXE_sagemaker-remediator"))
        .arg("simulator")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(process.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (process, line.trim().to_string())
}

/// A minimal HTTP/1.1 request to the simulator's admin API; the response body.
pub fn admin(endpoint: &str, method: &str, path: &str, body: &str) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The simulator's call counters.
pub fn calls(endpoint: &str) -> CallCounts {
    let body = admin(endpoint, "GET", "/_sim/calls", "");
    // The body may be chunked; take the JSON object inside.
    let start = body.find('{').unwrap();
    let end = body.rfind('}').unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

/// A KiB field (`VmHWM:`, `VmRSS:`) of `/proc/PID/status`, `pid` "self" for this process; 0
/// when absent.
pub fn status_kib(pid: &str, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Peak resident set size of this process (VmHWM) in MiB.
pub fn peak_rss_mib() -> f64 {
    status_kib("self", "VmHWM:") / 1024.0
}

/// Resets this process's peak RSS to its current RSS.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
