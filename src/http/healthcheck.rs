//! `healthcheck`: the container health check made by the binary itself, so the image needs no
//! curl: `GET /healthz` (or `/readyz` with `--ready`) on `daemon.listen`, exit 0 on a 200.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The address to call for a daemon listening on `listen`: loopback for an unspecified address
/// (`0.0.0.0:9464` in a container).
pub fn target(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, listen.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, listen.port()).into(),
        _ => listen,
    }
}

/// The HTTP status of `GET path` at `addr`, within `timeout`.
///
/// # Errors
///
/// When nothing answers in time: the text says what failed.
pub async fn status(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, String> {
    let call = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
        tokio::spawn(connection);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, addr.to_string())
            .body(String::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("GET {path} at {addr}: {e}"))?;
        Ok(response.status().as_u16())
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| format!("no answer from {addr} within {} s", timeout.as_secs()))?
}
