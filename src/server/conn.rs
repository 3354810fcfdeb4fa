//! One client connection: a read loop that splits frames and dispatches
//! them, and a write loop that sends replies with vectored writes.
//!
//! Replies may leave in a different order than their requests (a long poll
//! finishes after a later produce); each carries its correlation id. A frame
//! that cannot be parsed closes only this connection.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::{Buf, Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, warn};

use super::dispatch;
use super::state::ShardCtx;
use crate::protocol::frame::{RequestHeader, LENGTH_PREFIX_BYTES, REQUEST_HEADER_MIN_BYTES};
use crate::protocol::{ApiError, ErrorCode};
use crate::shard::runtime::{self, TcpStream};

/// Bytes reserved for reads when the receive buffer runs low.
const READ_BUFFER_BYTES: usize = 256 * 1024;
/// Most buffers handed to one vectored write; Linux's IOV_MAX is 1024.
const IOVECS_PER_WRITE_MAX: usize = 1024;

/// Largest step by which the receive buffer grows toward an announced frame.
const FRAME_RESERVE_STEP_BYTES: usize = 1 << 20;

/// How long the next read may take: `request_read_timeout_ms` in the middle
/// of a frame, `connection_idle_timeout_ms` between frames while no request
/// is in flight, and no limit otherwise (a client awaiting a long poll is not
/// idle). A setting of 0 disables that limit.
fn read_timeout(ctx: &ShardCtx, partial: bool, inflight: usize) -> Option<std::time::Duration> {
    let broker = &ctx.shared.config.broker;
    let ms = if partial {
        broker.request_read_timeout_ms
    } else if inflight == 0 {
        broker.connection_idle_timeout_ms
    } else {
        0
    };
    (ms > 0).then(|| std::time::Duration::from_millis(ms))
}

/// A reply ready to send: its header and body prefix, then payload chunks
/// that are sent as they are stored.
pub struct Outgoing {
    pub head: Bytes,
    pub chunks: Vec<Bytes>,
    /// Whether this reply holds a slot of the connection's in-flight limit,
    /// released once the reply is written.
    pub counted: bool,
}

/// Reason a connection ends.
enum Close {
    Eof,
    /// No bytes arrived in time: mid-frame (`partial`) or while idle.
    TimedOut {
        partial: bool,
    },
    Io(std::io::Error),
    Malformed(String),
}

/// Serves one connection until the peer closes it or sends a frame that
/// cannot be parsed.
pub async fn serve(ctx: Rc<ShardCtx>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let stream = Rc::new(stream);
    // Replies are bounded by the in-flight limit: a request keeps its slot
    // until its reply is written, so a client that stops reading cannot make
    // replies pile up here.
    let (sender, receiver) = async_channel::unbounded::<Outgoing>();
    let inflight = Rc::new(Cell::new(0));
    let writer = runtime::spawn(write_loop(stream.clone(), receiver, inflight.clone()));
    match read_loop(&ctx, &stream, sender, inflight).await {
        Close::Eof => {
            debug!(target: "ringbus::server", %peer, shard = ctx.id, "connection closed by peer")
        }
        Close::TimedOut { partial } => {
            debug!(target: "ringbus::server", %peer, shard = ctx.id, partial,
                                               "closing connection after a read timeout")
        }
        Close::Io(err) => {
            debug!(target: "ringbus::server", %peer, shard = ctx.id, %err, "connection failed")
        }
        Close::Malformed(reason) => {
            if let Some(suppressed) = ctx.client_warnings.admit() {
                warn!(target: "ringbus::server", %peer, shard = ctx.id, %reason, suppressed,
                      "closing connection after a frame that cannot be parsed");
            }
        }
    }
    let _ = writer.await;
}

async fn write_loop(
    stream: Rc<TcpStream>,
    receiver: async_channel::Receiver<Outgoing>,
    inflight: Rc<Cell<usize>>,
) {
    while let Ok(first) = receiver.recv().await {
        let mut buffers: Vec<Bytes> = Vec::with_capacity(16);
        let mut counted = push_outgoing(&mut buffers, first);
        while buffers.len() < IOVECS_PER_WRITE_MAX {
            let Ok(next) = receiver.try_recv() else { break };
            counted += push_outgoing(&mut buffers, next);
        }
        for group in split_iovecs(buffers) {
            let BufResult(result, _) = (&mut &*stream).write_vectored_all(group).await;
            if result.is_err() {
                return;
            }
        }
        inflight.set(inflight.get() - counted);
    }
}

/// Appends a reply's buffers and returns 1 when it held an in-flight slot.
fn push_outgoing(buffers: &mut Vec<Bytes>, outgoing: Outgoing) -> usize {
    buffers.push(outgoing.head);
    buffers.extend(
        outgoing
            .chunks
            .into_iter()
            .filter(|chunk| !chunk.is_empty()),
    );
    usize::from(outgoing.counted)
}

fn split_iovecs(mut buffers: Vec<Bytes>) -> Vec<Vec<Bytes>> {
    let mut groups = Vec::new();
    while buffers.len() > IOVECS_PER_WRITE_MAX {
        let rest = buffers.split_off(IOVECS_PER_WRITE_MAX);
        groups.push(buffers);
        buffers = rest;
    }
    groups.push(buffers);
    groups
}

/// Per-connection state the dispatcher needs.
pub struct ConnState {
    pub sender: async_channel::Sender<Outgoing>,
    pub inflight: Rc<Cell<usize>>,
}

async fn read_loop(
    ctx: &Rc<ShardCtx>,
    stream: &TcpStream,
    sender: async_channel::Sender<Outgoing>,
    inflight: Rc<Cell<usize>>,
) -> Close {
    let conn = ConnState { sender, inflight };
    let max_frame = ctx.shared.config.broker.max_frame_bytes as usize;
    let mut buf = BytesMut::with_capacity(READ_BUFFER_BYTES);
    // Bytes of an oversized frame still to be read and dropped.
    let mut skip = 0usize;
    loop {
        // Set when the buffer ends inside a frame whose length is known.
        let mut frame_pending = false;
        if skip > 0 {
            let dropped = skip.min(buf.len());
            buf.advance(dropped);
            skip -= dropped;
        }
        while skip == 0 && buf.len() >= LENGTH_PREFIX_BYTES {
            let len = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
            if len < REQUEST_HEADER_MIN_BYTES {
                return Close::Malformed(format!(
                    "frame length {len} is below the {REQUEST_HEADER_MIN_BYTES}-byte request header"
                ));
            }
            if len > max_frame {
                if buf.len() < LENGTH_PREFIX_BYTES + 8 {
                    break;
                }
                reject_oversized(ctx, &conn, &buf[4..12], len, max_frame);
                buf.advance(LENGTH_PREFIX_BYTES);
                skip = len;
                break;
            }
            if buf.len() < LENGTH_PREFIX_BYTES + len {
                // Grow toward the announced length by at most what was
                // already received (and at least one step), so a peer that
                // announces a large frame and stalls ties up little memory,
                // while a large frame that does arrive costs amortized linear
                // copying. Frames handed to storage keep the buffer shared,
                // so each grow copies the partial frame: grow only when the
                // rest does not fit.
                let missing = LENGTH_PREFIX_BYTES + len - buf.len();
                if buf.capacity() - buf.len() < missing {
                    let step = FRAME_RESERVE_STEP_BYTES.max(buf.len());
                    buf.reserve(missing.min(step));
                }
                frame_pending = true;
                break;
            }
            let mut frame = buf.split_to(LENGTH_PREFIX_BYTES + len);
            frame.advance(LENGTH_PREFIX_BYTES);
            if let Err(reason) = dispatch::dispatch(ctx, &conn, frame).await {
                return Close::Malformed(reason);
            }
        }
        if skip > 0 && !buf.is_empty() {
            continue;
        }
        // A pending frame already has room to grow; growing here would copy
        // it once more.
        if !frame_pending && buf.capacity() - buf.len() < READ_BUFFER_BYTES / 4 {
            buf.reserve(READ_BUFFER_BYTES);
        }
        let partial = !buf.is_empty() || skip > 0;
        let Some(limit) = read_timeout(ctx, partial, conn.inflight.get()) else {
            let BufResult(result, returned) = (&mut &*stream).append(buf).await;
            buf = returned;
            match result {
                Ok(0) => return Close::Eof,
                Ok(_) => continue,
                Err(err) => return Close::Io(err),
            }
        };
        // A timed-out read is cancelled and the connection closed, so the
        // bytes it may have read are never needed.
        let Some(BufResult(result, returned)) =
            runtime::timeout(limit, (&mut &*stream).append(buf)).await
        else {
            return Close::TimedOut { partial };
        };
        buf = returned;
        match result {
            Ok(0) => return Close::Eof,
            Ok(_) => {}
            Err(err) => return Close::Io(err),
        }
    }
}

fn reject_oversized(ctx: &ShardCtx, conn: &ConnState, ids: &[u8], len: usize, max_frame: usize) {
    let Some((api_key, correlation_id)) = RequestHeader::peek_ids(ids) else {
        return;
    };
    if let Some(suppressed) = ctx.client_warnings.admit() {
        warn!(target: "ringbus::server", shard = ctx.id, api_key, correlation_id, len, suppressed,
              "rejecting frame above broker.max_frame_bytes");
    }
    let err = ApiError::new(
        ErrorCode::FrameTooLarge,
        format!(
            "frame of {len} bytes exceeds broker.max_frame_bytes = {max_frame}; send smaller batches"
        ),
    );
    dispatch::send_error(conn, correlation_id, &err);
}
