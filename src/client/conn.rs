//! One blocking connection to a broker: frames requests, pipelines them and
//! reads replies. Used by the client, the CLI, loadgen and tests.

use std::io::{IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::ClientError;
use crate::protocol::api::Body;
use crate::protocol::codec::Reader;
use crate::protocol::frame::{begin_request, finish_frame, ReplyHeader, LENGTH_PREFIX_BYTES};
use crate::protocol::{ApiError, ApiKey, ErrorCode};

/// Largest reply a client accepts, so a corrupt length cannot make it
/// allocate without bound.
pub const REPLY_BYTES_MAX: usize = 256 << 20;

/// A decoded reply: its header and body bytes.
pub struct Reply {
    pub header: ReplyHeader,
    pub body: Bytes,
}

impl Reply {
    /// Turns an error code into `ClientError::Api`.
    pub fn into_result(self) -> Result<Bytes, ClientError> {
        if self.header.code == ErrorCode::None {
            return Ok(self.body);
        }
        Err(ClientError::Api(ApiError::new(
            self.header.code,
            self.header.message,
        )))
    }
}

/// A blocking connection with pipelining: `send` many, then `recv` each.
pub struct Connection {
    stream: TcpStream,
    addr: SocketAddr,
    client_id: String,
    next_correlation_id: u32,
    write_buf: BytesMut,
}

impl Connection {
    pub fn connect(addr: impl AsRef<str>, client_id: &str) -> Result<Connection, ClientError> {
        let text = addr.as_ref();
        let addrs: Vec<SocketAddr> = text
            .to_socket_addrs()
            .map_err(|err| {
                ClientError::Usage(format!(
                    "cannot resolve broker address '{text}': {err}; use HOST:PORT such as 127.0.0.1:9292"
                ))
            })?
            .collect();
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(ClientError::Io)?;
                    return Ok(Connection {
                        stream,
                        addr,
                        client_id: client_id.to_string(),
                        next_correlation_id: 1,
                        write_buf: BytesMut::with_capacity(64 * 1024),
                    });
                }
                Err(err) => last = Some((addr, err)),
            }
        }
        Err(match last {
            Some((addr, err)) => ClientError::Connect {
                addr: addr.to_string(),
                source: err,
            },
            None => ClientError::Connect {
                addr: "(no address)".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "address resolved to nothing",
                ),
            },
        })
    }

    pub fn peer(&self) -> SocketAddr {
        self.addr
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.stream)
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<(), ClientError> {
        self.stream
            .set_read_timeout(timeout)
            .map_err(ClientError::Io)
    }

    /// Sends a request whose body `write` appends; returns its correlation id.
    pub fn send_with(
        &mut self,
        api: ApiKey,
        write: impl FnOnce(&mut BytesMut),
    ) -> Result<u32, ClientError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1).max(1);
        self.write_buf.clear();
        let start = begin_request(
            &mut self.write_buf,
            api as u16,
            0,
            correlation_id,
            &self.client_id,
        );
        write(&mut self.write_buf);
        finish_frame(&mut self.write_buf, start, 0);
        self.stream
            .write_all(&self.write_buf)
            .map_err(ClientError::Io)?;
        Ok(correlation_id)
    }

    /// Sends a request whose body is what `write` appends followed by
    /// `payload`, in one vectored write so that the payload is not copied.
    pub fn send_with_payload(
        &mut self,
        api: ApiKey,
        write: impl FnOnce(&mut BytesMut),
        payload: &[u8],
    ) -> Result<u32, ClientError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1).max(1);
        self.write_buf.clear();
        let start = begin_request(
            &mut self.write_buf,
            api as u16,
            0,
            correlation_id,
            &self.client_id,
        );
        write(&mut self.write_buf);
        finish_frame(&mut self.write_buf, start, payload.len());
        let mut parts = [IoSlice::new(&self.write_buf), IoSlice::new(payload)];
        let mut parts = &mut parts[..];
        while !parts.is_empty() {
            let written = self.stream.write_vectored(parts).map_err(ClientError::Io)?;
            if written == 0 {
                return Err(ClientError::Io(std::io::ErrorKind::WriteZero.into()));
            }
            IoSlice::advance_slices(&mut parts, written);
        }
        Ok(correlation_id)
    }

    pub fn send(&mut self, api: ApiKey, body: &impl Body) -> Result<u32, ClientError> {
        self.send_with(api, |buf| body.encode(buf))
    }

    /// Writes raw bytes, for tests that send malformed frames.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).map_err(ClientError::Io)
    }

    /// Reads the next reply frame, whichever request it answers.
    pub fn recv(&mut self) -> Result<Reply, ClientError> {
        let mut prefix = [0u8; LENGTH_PREFIX_BYTES];
        self.stream
            .read_exact(&mut prefix)
            .map_err(|err| self.read_error(err))?;
        let len = u32::from_be_bytes(prefix) as usize;
        if len > REPLY_BYTES_MAX {
            return Err(ClientError::Protocol(format!(
                "reply of {len} bytes from {} exceeds the client limit of {REPLY_BYTES_MAX}",
                self.addr
            )));
        }
        let mut frame = BytesMut::zeroed(len);
        self.stream
            .read_exact(&mut frame)
            .map_err(|err| self.read_error(err))?;
        let frame = frame.freeze();
        let (header, body_start) =
            ReplyHeader::parse(&frame).map_err(|err| ClientError::Protocol(err.to_string()))?;
        Ok(Reply {
            header,
            body: frame.slice(body_start..),
        })
    }

    fn read_error(&self, err: std::io::Error) -> ClientError {
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            return ClientError::Protocol(format!(
                "the broker at {} closed the connection",
                self.addr
            ));
        }
        ClientError::Io(err)
    }

    /// Sends one request and waits for its reply; no other request may be
    /// in flight on this connection.
    pub fn call(&mut self, api: ApiKey, body: &impl Body) -> Result<Bytes, ClientError> {
        let correlation_id = self.send(api, body)?;
        self.recv_for(correlation_id)
    }

    /// Reads the reply to `correlation_id`, which must be the next one.
    pub fn recv_for(&mut self, correlation_id: u32) -> Result<Bytes, ClientError> {
        let reply = self.recv()?;
        if reply.header.correlation_id != correlation_id {
            return Err(ClientError::Protocol(format!(
                "reply correlation id {} does not match request {correlation_id}",
                reply.header.correlation_id
            )));
        }
        reply.into_result()
    }
}

/// Decodes a reply body of type `T`.
pub fn decode<T: Body>(body: &[u8]) -> Result<T, ClientError> {
    T::decode(&mut Reader::new(body)).map_err(|err| ClientError::Protocol(err.to_string()))
}
