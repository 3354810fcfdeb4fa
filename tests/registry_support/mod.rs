//! A registry REST server on 127.0.0.1 for tests, and a small blocking
//! HTTP/1.1 client that speaks to it.

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;

use ringbus::registry::rest::{router, MemoryBackend, RestState};
use serde_json::Value;

/// A running server; dropping it shuts the server down and joins its thread.
pub struct Server {
    pub addr: SocketAddr,
    pub backend: Arc<MemoryBackend>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server over an empty in-memory registry on an ephemeral port.
    pub fn start() -> Server {
        let backend = Arc::new(MemoryBackend::new());
        let app = router(RestState::new(backend.clone()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("server runs");
            });
        });
        Server {
            addr,
            backend,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Wraps a server that runs elsewhere, such as a broker's control plane;
    /// `backend` is then an unused empty registry.
    pub fn remote(addr: SocketAddr) -> Server {
        Server {
            addr,
            backend: Arc::new(MemoryBackend::new()),
            shutdown: None,
            thread: None,
        }
    }

    /// Sends one request and returns the status, content type and body.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let mut stream = TcpStream::connect(self.addr).expect("connect to the server");
        let body = body.unwrap_or("");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n\
             Content-Type: application/vnd.schemaregistry.v1+json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        Reply::parse(&raw)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(&body.to_string()))
    }

    pub fn put(&self, path: &str, body: &Value) -> Reply {
        self.call("PUT", path, Some(&body.to_string()))
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One HTTP reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .expect("reply has a header block");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("reply has a status line");
        let content_type = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default();
        Reply {
            status,
            content_type,
            body: body.to_owned(),
        }
    }

    /// Parses the body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// Returns the Confluent `error_code` of an error reply.
    pub fn error_code(&self) -> u64 {
        self.json()["error_code"]
            .as_u64()
            .unwrap_or_else(|| panic!("no error_code in {}", self.body))
    }
}

/// Builds a register or compatibility body for an Avro schema value.
pub fn avro_body(schema: &Value) -> Value {
    serde_json::json!({ "schema": schema.to_string() })
}
