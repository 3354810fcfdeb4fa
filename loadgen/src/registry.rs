//! Registers a schema through the registry REST API on the broker's
//! control-plane listener (`POST /subjects/{subject}/versions`, the
//! Confluent Schema Registry call), over a minimal blocking HTTP/1.1 client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A registration that returned no schema id.
#[derive(Debug)]
pub enum RegisterError {
    /// The control plane returned 404 because it has no registry API.
    NotAvailable,
    Failed(String),
}

/// How long one registration may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Registers Avro `schema_text` under `subject`; returns the schema id.
pub fn register(http_addr: &str, subject: &str, schema_text: &str) -> Result<u32, RegisterError> {
    let body = serde_json::json!({ "schema": schema_text }).to_string();
    let path = format!("/subjects/{subject}/versions");
    let (status, reply) = post(http_addr, &path, &body).map_err(|err| {
        RegisterError::Failed(format!("POST http://{http_addr}{path} failed: {err}"))
    })?;
    if status == 404 {
        return Err(RegisterError::NotAvailable);
    }
    if status != 200 {
        return Err(RegisterError::Failed(format!(
            "POST http://{http_addr}{path} returned {status}: {}",
            reply.trim()
        )));
    }
    let value: serde_json::Value = serde_json::from_str(&reply).map_err(|err| {
        RegisterError::Failed(format!("registry reply is not JSON ({err}): {reply}"))
    })?;
    value
        .get("id")
        .and_then(serde_json::Value::as_u64)
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| RegisterError::Failed(format!("registry reply has no schema id: {reply}")))
}

/// Sends one POST with a JSON body; returns the status and body.
fn post(addr: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "response has no HTTP status",
            )
        })?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.to_string()))
}
