//! The broker process: binds the listeners, starts one pinned shard thread
//! per core, the control plane and the disk monitor, and shuts down cleanly
//! on SIGTERM or SIGINT.

pub mod admin;
pub mod catalog;
pub mod conn;
pub mod disk;
pub mod dispatch;
pub mod listen;
pub mod log_limit;
pub mod offsets;
pub mod ops;
pub mod route;
pub mod schema_calls;
pub mod shard_main;
pub mod snapshot;
pub mod state;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use arc_swap::ArcSwap;
use serde::Serialize;
use tracing::{error, info};

use crate::config::Config;
use crate::shard::mesh;
use catalog::Catalog;
use shard_main::ShardStart;
use state::BrokerShared;

/// File in the data directory that lists the bound addresses, so scripts and
/// tests that asked for port 0 can find the broker.
pub const ADDR_FILE: &str = "ringbus.addr";
/// Control-plane requests queued per shard before the control plane waits.
const CONTROL_CHANNEL_CAPACITY: usize = 64;

/// The bound addresses, as written to [`ADDR_FILE`].
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct BoundAddrs {
    pub main: String,
    pub shards: Vec<String>,
    pub http: String,
}

/// Failure that stopped the broker other than a signal.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServeError(pub String);

enum Event {
    Signal(i32),
    ShardStopped(usize, Result<(), String>),
}

/// Runs the broker until SIGTERM or SIGINT, or until a shard fails.
pub fn run(config: Config) -> Result<(), ServeError> {
    let fail = |what: &str, err: &dyn std::fmt::Display| ServeError(format!("{what}: {err}"));
    let shard_count = config.shard_count();
    let data_dir = config.broker.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|err| {
        fail(
            &format!("cannot create data directory {}", data_dir.display()),
            &err,
        )
    })?;
    admin::remove_interrupted_deletes(&data_dir);
    let catalog = Catalog::load(&data_dir, shard_count).map_err(|err| {
        fail(
            &format!("cannot load topics from {}", data_dir.display()),
            &err,
        )
    })?;
    let main = listen::bind_main(config.broker.listen, shard_count).map_err(|err| {
        fail(
            &format!("cannot listen on broker.listen {}", config.broker.listen),
            &err,
        )
    })?;
    let own = listen::bind_shard_ports(
        config.broker.listen.ip(),
        config.broker.shard_port_base,
        shard_count,
    )
    .map_err(|err| {
        fail(
            "cannot listen on the shard ports (broker.shard_port_base)",
            &err,
        )
    })?;
    let http = listen::bind_http(config.http.listen).map_err(|err| {
        fail(
            &format!("cannot listen on http.listen {}", config.http.listen),
            &err,
        )
    })?;
    let port = |l: &std::net::TcpListener| l.local_addr().map(|a| a.port()).unwrap_or(0);
    let (control_requests, control_inbox) =
        async_channel::bounded(state::CONTROL_REQUESTS_QUEUED_MAX);
    let (control, control_inboxes): (Vec<_>, Vec<_>) = (0..shard_count)
        .map(|_| async_channel::bounded(CONTROL_CHANNEL_CAPACITY))
        .unzip();
    let shared = Arc::new(BrokerShared {
        shard_count,
        catalog: ArcSwap::from_pointee(catalog),
        main_port: port(&main[0]),
        shard_ports: own.iter().map(port).collect(),
        http_port: port(&http),
        disk_full: AtomicBool::new(false),
        free_bytes: AtomicU64::new(0),
        shards_ready: AtomicUsize::new(0),
        shutting_down: AtomicBool::new(false),
        registry: crate::registry::shared::RegistryShared::new(),
        control_requests,
        control_inbox,
        control,
        config,
    });
    write_addr_file(&shared).map_err(|err| fail("cannot write the address file", &err))?;
    disk::check(&shared);
    disk::spawn_monitor(shared.clone())
        .map_err(|err| fail("cannot start the disk monitor", &err))?;
    crate::control::spawn(shared.clone(), http)
        .map_err(|err| fail("cannot start the control plane", &err))?;
    crate::retry::alerts::start(&shared.config.alerts)
        .map_err(|err| fail("cannot start the alert webhooks", &err))?;
    let (events, inbox) = mpsc::channel();
    let stops = start_shards(&shared, main, own, control_inboxes, &events)?;
    watch_signals(events)?;
    wait_and_stop(&shared, inbox, stops)
}

fn write_addr_file(shared: &BrokerShared) -> std::io::Result<()> {
    let ip = shared.config.broker.listen.ip();
    let addrs = BoundAddrs {
        main: format!("{ip}:{}", shared.main_port),
        shards: shared
            .shard_ports
            .iter()
            .map(|p| format!("{ip}:{p}"))
            .collect(),
        http: format!("{}:{}", shared.config.http.listen.ip(), shared.http_port),
    };
    info!(target: "ringbus", main = %addrs.main, shards = ?addrs.shards, http = %addrs.http,
          shard_count = shared.shard_count, data_dir = %shared.config.broker.data_dir.display(),
          "ringbus listening");
    let path = shared.config.broker.data_dir.join(ADDR_FILE);
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(&addrs).expect("addresses serialize"),
    )?;
    std::fs::rename(tmp, path)
}

fn start_shards(
    shared: &Arc<BrokerShared>,
    main: Vec<std::net::TcpListener>,
    own: Vec<std::net::TcpListener>,
    control_inboxes: Vec<async_channel::Receiver<state::MeshMessage>>,
    events: &mpsc::Sender<Event>,
) -> Result<Vec<async_channel::Sender<()>>, ServeError> {
    let meshes = mesh::build(
        shared.shard_count,
        shared.config.broker.mesh_channel_capacity,
    );
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut stops = Vec::new();
    for (((mesh, main_listener), own_listener), control) in
        meshes.into_iter().zip(main).zip(own).zip(control_inboxes)
    {
        let id = mesh.shard();
        let (stop, shutdown) = async_channel::bounded(1);
        stops.push(stop);
        let start = ShardStart {
            id,
            shared: shared.clone(),
            mesh,
            listeners: vec![main_listener, own_listener],
            shutdown,
            cpu: (!cores.is_empty()).then(|| cores[id % cores.len()].id),
            control,
        };
        let events = events.clone();
        std::thread::Builder::new()
            .name(format!("ringbus-shard-{id}"))
            .spawn(move || {
                let result = shard_main::run(start);
                let _ = events.send(Event::ShardStopped(id, result));
            })
            .map_err(|err| ServeError(format!("cannot start shard thread {id}: {err}")))?;
    }
    Ok(stops)
}

fn watch_signals(events: mpsc::Sender<Event>) -> Result<(), ServeError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|err| ServeError(format!("cannot install signal handlers: {err}")))?;
    std::thread::Builder::new()
        .name("ringbus-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if events.send(Event::Signal(signal)).is_err() {
                    return;
                }
            }
        })
        .map_err(|err| ServeError(format!("cannot start the signal thread: {err}")))?;
    Ok(())
}

fn wait_and_stop(
    shared: &Arc<BrokerShared>,
    inbox: mpsc::Receiver<Event>,
    stops: Vec<async_channel::Sender<()>>,
) -> Result<(), ServeError> {
    let mut failure = None;
    let mut running = stops.len();
    match inbox.recv() {
        Ok(Event::Signal(signal)) => info!(target: "ringbus", signal, "shutting down"),
        Ok(Event::ShardStopped(id, result)) => {
            running -= 1;
            let reason = result
                .err()
                .unwrap_or_else(|| format!("shard {id} stopped unexpectedly"));
            error!(target: "ringbus", shard = id, %reason, "shard failed; shutting down");
            failure = Some(reason);
        }
        Err(_) => {}
    }
    shared.shutting_down.store(true, Ordering::Release);
    for stop in &stops {
        let _ = stop.try_send(());
    }
    while running > 0 {
        match inbox.recv() {
            Ok(Event::ShardStopped(id, Err(reason))) => {
                running -= 1;
                error!(target: "ringbus", shard = id, %reason, "shard failed during shutdown");
                failure.get_or_insert(reason);
            }
            Ok(Event::ShardStopped(..)) => running -= 1,
            Ok(Event::Signal(_)) => {}
            Err(_) => break,
        }
    }
    info!(target: "ringbus", "ringbus stopped");
    failure.map_or(Ok(()), |reason| Err(ServeError(reason)))
}
