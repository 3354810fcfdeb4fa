//! Frame layout shared by requests and replies.
//!
//! Every frame is a big-endian `u32` length followed by that many bytes.
//!
//! Request, after the length:
//!
//! | offset | size | field                      |
//! |--------|------|----------------------------|
//! | 0      | 2    | API key                    |
//! | 2      | 2    | API version                |
//! | 4      | 4    | correlation id             |
//! | 8      | 2    | client id length `n`       |
//! | 10     | n    | client id (UTF-8)          |
//! | 10+n   | ..   | body                       |
//!
//! Reply, after the length:
//!
//! | offset | size | field                      |
//! |--------|------|----------------------------|
//! | 0      | 4    | correlation id             |
//! | 4      | 2    | error code                 |
//! | 6      | 2    | message length `m`         |
//! | 8      | m    | message (UTF-8)            |
//! | 8+m    | ..   | body, only when the code is `NONE` |

use bytes::{BufMut, BytesMut};

use super::codec::{put_str, Reader};
use super::error::{ErrorCode, WireError};

/// Bytes of the length prefix in front of every frame.
pub const LENGTH_PREFIX_BYTES: usize = 4;
/// The smallest request after the length prefix: a header with an empty
/// client id.
pub const REQUEST_HEADER_MIN_BYTES: usize = 2 + 2 + 4 + 2;
/// The smallest reply after the length prefix.
pub const REPLY_HEADER_MIN_BYTES: usize = 4 + 2 + 2;

/// The fixed part of a request that precedes its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: u16,
    pub api_version: u16,
    pub correlation_id: u32,
    pub client_id: String,
}

impl RequestHeader {
    /// Parses the header at the start of `frame` (the bytes after the length
    /// prefix) and returns it with the offset where the body starts.
    pub fn parse(frame: &[u8]) -> Result<(RequestHeader, usize), WireError> {
        let mut reader = Reader::new(frame);
        let api_key = reader.u16("api_key")?;
        let api_version = reader.u16("api_version")?;
        let correlation_id = reader.u32("correlation_id")?;
        let client_id = reader.string("client_id")?;
        let header = RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        };
        Ok((header, reader.position()))
    }

    /// Reads only the API key and correlation id, for replying to a frame
    /// whose body is never read (one over the size limit).
    pub fn peek_ids(prefix: &[u8]) -> Option<(u16, u32)> {
        if prefix.len() < 8 {
            return None;
        }
        let api_key = u16::from_be_bytes([prefix[0], prefix[1]]);
        let correlation_id = u32::from_be_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
        Some((api_key, correlation_id))
    }
}

/// Starts a request frame in `buf`, returning the position of its length
/// prefix for `finish_frame`.
pub fn begin_request(
    buf: &mut BytesMut,
    api_key: u16,
    api_version: u16,
    correlation_id: u32,
    client_id: &str,
) -> usize {
    let start = buf.len();
    buf.put_u32(0);
    buf.put_u16(api_key);
    buf.put_u16(api_version);
    buf.put_u32(correlation_id);
    put_str(buf, client_id);
    start
}

/// Starts a reply frame in `buf`, returning the position of its length
/// prefix for `finish_frame`.
pub fn begin_reply(
    buf: &mut BytesMut,
    correlation_id: u32,
    code: ErrorCode,
    message: &str,
) -> usize {
    let start = buf.len();
    buf.put_u32(0);
    buf.put_u32(correlation_id);
    buf.put_u16(code as u16);
    put_str(buf, message);
    start
}

/// Fills the length prefix at `start` so that it covers everything written
/// after it plus `trailing_bytes` that the caller sends separately (payload
/// chunks sent with a vectored write).
pub fn finish_frame(buf: &mut BytesMut, start: usize, trailing_bytes: usize) {
    let len = buf.len() - start - LENGTH_PREFIX_BYTES + trailing_bytes;
    let len = u32::try_from(len).expect("frame length fits in u32 because of max_frame_bytes");
    buf[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&len.to_be_bytes());
}

/// The fixed part of a reply that precedes its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyHeader {
    pub correlation_id: u32,
    pub code: ErrorCode,
    pub message: String,
}

impl ReplyHeader {
    /// Parses a reply header at the start of `frame` and returns it with the
    /// offset where the body starts.
    pub fn parse(frame: &[u8]) -> Result<(ReplyHeader, usize), WireError> {
        let mut reader = Reader::new(frame);
        let correlation_id = reader.u32("correlation_id")?;
        let code = ErrorCode::from_u16(reader.u16("error_code")?);
        let message = reader.string("message")?;
        let header = ReplyHeader {
            correlation_id,
            code,
            message,
        };
        Ok((header, reader.position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_round_trip() {
        let mut buf = BytesMut::new();
        let start = begin_request(&mut buf, 4, 0, 77, "cli");
        buf.put_u8(9);
        finish_frame(&mut buf, start, 0);
        let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        assert_eq!(len, buf.len() - 4);
        let (header, body_start) = RequestHeader::parse(&buf[4..]).unwrap();
        assert_eq!(header.api_key, 4);
        assert_eq!(header.correlation_id, 77);
        assert_eq!(header.client_id, "cli");
        assert_eq!(buf[4 + body_start], 9);
    }

    #[test]
    fn reply_header_round_trip() {
        let mut buf = BytesMut::new();
        let start = begin_reply(&mut buf, 5, ErrorCode::UnknownTopic, "topic 'x' not found");
        finish_frame(&mut buf, start, 0);
        let (header, _) = ReplyHeader::parse(&buf[4..]).unwrap();
        assert_eq!(header.correlation_id, 5);
        assert_eq!(header.code, ErrorCode::UnknownTopic);
        assert_eq!(header.message, "topic 'x' not found");
    }

    #[test]
    fn peek_ids_needs_eight_bytes() {
        assert_eq!(RequestHeader::peek_ids(&[0, 4, 0, 0, 0, 0, 0]), None);
        assert_eq!(
            RequestHeader::peek_ids(&[0, 4, 0, 0, 0, 0, 0, 9]),
            Some((4, 9))
        );
    }
}
