//! Listening sockets, bound on the main thread before the shards start so
//! that every port is known (and logged) up front.

use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Connections a listener queues before accept.
const BACKLOG: i32 = 1024;

fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Binds the main port once per shard with SO_REUSEPORT. When the port is 0
/// the first bind picks it and the others reuse it.
pub fn bind_main(addr: SocketAddr, shards: usize) -> std::io::Result<Vec<TcpListener>> {
    let first = bind(addr, true)?;
    let actual = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..shards {
        listeners.push(bind(actual, true)?);
    }
    Ok(listeners)
}

/// Binds each shard's own port: `base + i`, or a free port when `base` is 0.
pub fn bind_shard_ports(
    ip: std::net::IpAddr,
    base: u16,
    shards: usize,
) -> std::io::Result<Vec<TcpListener>> {
    (0..shards)
        .map(|i| {
            let port = if base == 0 {
                0
            } else {
                base.checked_add(i as u16).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("broker.shard_port_base {base} + shard {i} exceeds 65535"),
                    )
                })?
            };
            bind(SocketAddr::new(ip, port), false)
        })
        .collect()
}

/// Binds the control-plane HTTP listener.
pub fn bind_http(addr: SocketAddr) -> std::io::Result<TcpListener> {
    bind(addr, false)
}
