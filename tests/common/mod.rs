//! Test support: start real `ringbus serve` processes on 127.0.0.1 with
//! their data in a temporary directory, and talk HTTP to the control plane.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringbus::server::{BoundAddrs, ADDR_FILE};

/// A broker child process and the directory it owns.
pub struct Broker {
    child: Option<Child>,
    pub root: PathBuf,
    pub data_dir: PathBuf,
    pub addrs: BoundAddrs,
    pub shards: usize,
    extra_config: String,
    log_path: PathBuf,
    starts: usize,
}

impl Broker {
    /// Starts a broker with `shards` shards in a fresh temporary directory.
    pub fn start(shards: usize) -> Broker {
        Broker::start_with(shards, "")
    }

    /// Starts a broker with extra TOML appended after the test defaults;
    /// `[broker]` keys go in `extra_config` without a table header.
    pub fn start_with(shards: usize, extra_config: &str) -> Broker {
        let root = tempfile::Builder::new()
            .prefix("ringbus-test-")
            .tempdir()
            .expect("temp dir")
            .keep();
        Broker::start_in(root, shards, extra_config)
    }

    /// Starts a broker whose data lives under `root`.
    pub fn start_in(root: PathBuf, shards: usize, extra_config: &str) -> Broker {
        let data_dir = root.join("data");
        let mut broker = Broker {
            child: None,
            log_path: root.join("broker-0.log"),
            root,
            data_dir,
            addrs: BoundAddrs {
                main: String::new(),
                shards: Vec::new(),
                http: String::new(),
            },
            shards,
            extra_config: extra_config.to_string(),
            starts: 0,
        };
        broker.spawn();
        broker
    }

    fn config_text(&self) -> String {
        // Tests run on shared machines whose disks may be nearly full, so
        // the free-space floor is off unless a test sets it.
        let min_free = if self.extra_config.contains("min_free_bytes") {
            ""
        } else {
            "min_free_bytes = 0\n"
        };
        format!(
            "[broker]\ndata_dir = {:?}\nlisten = \"127.0.0.1:0\"\nshard_port_base = 0\nshards = {}\n{min_free}{}\n[http]\nlisten = \"127.0.0.1:0\"\n",
            self.data_dir.display().to_string(),
            self.shards,
            self.extra_config
        )
    }

    fn spawn(&mut self) {
        let config_path = self.root.join("ringbus.toml");
        std::fs::write(&config_path, self.config_text()).expect("write config");
        let _ = std::fs::remove_file(self.data_dir.join(ADDR_FILE));
        self.log_path = self.root.join(format!("broker-{}.log", self.starts));
        self.starts += 1;
        let log = std::fs::File::create(&self.log_path).expect("log file");
        let child = Command::new(ringbus_binary())
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn ringbus");
        self.child = Some(child);
        self.addrs = self.wait_ready();
    }

    fn wait_ready(&mut self) -> BoundAddrs {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "broker exited with {status} during start; log:\n{}",
                    self.log()
                );
            }
            if let Ok(text) = std::fs::read_to_string(self.data_dir.join(ADDR_FILE)) {
                let addrs: BoundAddrs = serde_json::from_str(&text).expect("address file");
                if http_get(&addrs.http, "/ready").map(|(status, _)| status) == Some(200) {
                    return addrs;
                }
            }
            assert!(
                Instant::now() < deadline,
                "broker not ready in 60 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn main_addr(&self) -> String {
        self.addrs.main.clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running broker").id()
    }

    /// The current run's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Every run's log, oldest first.
    pub fn all_logs(&self) -> String {
        (0..self.starts)
            .map(|i| {
                std::fs::read_to_string(self.root.join(format!("broker-{i}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Kills the broker with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running broker");
        // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "broker did not exit within 30 s of SIGTERM; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the broker again on the same data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the broker before restarting it");
        self.spawn();
    }

    pub fn partition_dir(&self, topic: &str, partition: u32) -> PathBuf {
        self.data_dir.join(topic).join(partition.to_string())
    }
}

/// The broker binary: Cargo's path in this package's tests, else the one
/// beside the test executable's `deps/` folder (tests of other workspace
/// members, such as loadgen's).
pub fn ringbus_binary() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_ringbus") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable inside target/PROFILE/deps")
        .join("ringbus");
    assert!(
        path.exists(),
        "{} is missing; build it first with `cargo build --bin ringbus`",
        path.display()
    );
    path
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Log segment files of a partition directory, sorted by base offset.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("partition dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

/// A minimal HTTP/1.1 GET; returns the status and body.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    http_request(addr, "GET", path, None)
}

/// A minimal HTTP/1.1 request with an optional JSON body.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}
