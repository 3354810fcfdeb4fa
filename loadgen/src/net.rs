//! Shard-aware connections: one blocking connection per shard that owns a
//! partition the thread works on, and a `poll(2)` wait over them.

use std::time::{Duration, Instant};

use ringbus::client::{ClientError, Connection};

/// The owning shard of each partition, and each shard's port.
#[derive(Clone, Debug)]
pub struct Topology {
    pub host: String,
    /// Each shard's own port, indexed by shard number.
    pub shard_ports: Vec<u16>,
    /// Owning shard of each partition, indexed by partition number.
    pub partition_shards: Vec<u16>,
}

impl Topology {
    pub fn partitions(&self) -> u32 {
        self.partition_shards.len() as u32
    }

    /// Opens one connection per shard owning one of `partitions`, returned
    /// indexed by shard (`None` for shards not needed).
    pub fn connect(
        &self,
        partitions: &[u32],
        client_id: &str,
    ) -> Result<Vec<Option<Connection>>, ClientError> {
        let mut conns: Vec<Option<Connection>> =
            (0..self.shard_ports.len()).map(|_| None).collect();
        for &partition in partitions {
            let shard = self.partition_shards[partition as usize] as usize;
            if conns[shard].is_none() {
                let addr = format!("{}:{}", self.host, self.shard_ports[shard]);
                conns[shard] = Some(Connection::connect(addr, client_id)?);
            }
        }
        Ok(conns)
    }

    pub fn shard_of(&self, partition: u32) -> usize {
        self.partition_shards[partition as usize] as usize
    }
}

/// Waits until one of `conns` is readable or `deadline` passes; returns the
/// indexes of the readable ones. `EINTR` counts as a timeout.
pub fn wait_readable(
    conns: &[(usize, &Connection)],
    deadline: Instant,
) -> Result<Vec<usize>, ClientError> {
    if conns.is_empty() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return Ok(Vec::new());
    }
    let mut fds: Vec<libc::pollfd> = conns
        .iter()
        .map(|(_, conn)| libc::pollfd {
            fd: conn.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // ppoll takes a nanosecond timeout: an open-loop producer waits for the
    // next event's send time, often microseconds away, and poll's whole
    // milliseconds would delay it.
    let timeout = timespec(deadline.saturating_duration_since(Instant::now()));
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd and
    // `timeout` a valid timespec for the whole call. No signal mask is passed.
    let rc = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &timeout,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::Interrupted {
            return Ok(Vec::new());
        }
        return Err(ClientError::Io(err));
    }
    Ok(conns
        .iter()
        .zip(fds)
        .filter(|(_, fd)| fd.revents != 0)
        .map(|((index, _), _)| *index)
        .collect())
}

fn timespec(timeout: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    }
}
