//! The outside programs a benchmark drives: processes it starts (and always stops), `wrk`,
//! `openssl speed`, CPU pinning and resident memory.
#![allow(unsafe_code)] // libc::kill: nginx is stopped with SIGTERM so its workers go too

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A process the bench started; killed when dropped, so an aborted run leaves nothing behind.
pub struct Proc {
    child: std::process::Child,
}

impl Proc {
    pub fn start(name: &str, mut cmd: Command) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child }
    }

    /// Start and wait for a line of its standard output that starts with `ready` (for
    /// servers a probe connection would upset, like `openssl ocsp`, which serves one
    /// connection at a time and waits on an empty one).
    pub fn start_until(name: &str, mut cmd: Command, ready: &str) -> Proc {
        use std::io::BufRead;
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let started = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.starts_with(ready));
        assert!(started, "{name} ended before saying {ready}");
        // Keep reading so a chatty server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Proc { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process, MiB (VmRSS).
    pub fn rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Proc {
    /// SIGTERM first, so a server with worker processes (nginx) takes them down with it;
    /// SIGKILL if it has not ended within five seconds.
    fn drop(&mut self) {
        // SAFETY: a signal to our own child, whose pid we have not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `program args…` pinned to `cpus` (a `taskset -c` list such as `0` or `0,1`).
pub fn pinned(cpus: &str, program: &Path) -> Command {
    let mut c = Command::new("taskset");
    c.args(["-c", cpus]).arg(program);
    c
}

/// Pin this process (and so everything it starts unpinned) to `cpu`.
pub fn pin_self(cpu: &str) {
    let ok = Command::new("taskset")
        .args(["-a", "-p", "-c", cpu, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "taskset (util-linux) could not pin the bench");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Wait until something accepts on `port`.
pub fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One `wrk` run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Load {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// wrk's "1.23ms", "456.00us", "1.01s" in milliseconds.
fn millis(v: &str) -> Option<f64> {
    let (num, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * factor)
}

/// Parse `wrk --latency` output; an answer other than 2xx/3xx or a socket error fails the run.
pub fn parse_wrk(text: &str) -> Result<Load, String> {
    if let Some(l) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        return Err(format!("errors under load: {}", l.trim()));
    }
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk output:\n{text}"))?;
    let pct = |p: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(p))
            .and_then(|v| millis(v.trim()))
            .ok_or_else(|| format!("no {p} latency in wrk output:\n{text}"))
    };
    Ok(Load {
        rps,
        p50_ms: pct("50%")?,
        p99_ms: pct("99%")?,
    })
}

/// `wrk -t1 -cC -dSs --latency url`, after a one-second warm-up run (none for runs of a
/// second: smoke runs).
pub fn wrk(url: &str, cookie: Option<&str>, seconds: u32, connections: u32) -> Load {
    let run = |secs: u32| {
        let mut c = Command::new("wrk");
        c.args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            "--latency",
        ]);
        if let Some(cookie) = cookie {
            c.args(["-H", &format!("Cookie: {cookie}")]);
        }
        let out = c.arg(url).output().expect("wrk (apt install wrk)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    if seconds > 1 {
        run(1);
    }
    parse_wrk(&run(seconds)).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// ECDSA P-256 verifications per second of one core: `openssl speed -seconds S ecdsap256`
/// pinned to `cpu`.
pub fn openssl_verify_per_sec(cpu: &str, seconds: u32) -> f64 {
    let out = Command::new("taskset")
        .args([
            "-c",
            cpu,
            "openssl",
            "speed",
            "-seconds",
            &seconds.to_string(),
            "ecdsap256",
        ])
        .stderr(Stdio::null())
        .output()
        .expect("openssl speed");
    parse_openssl_speed(&String::from_utf8_lossy(&out.stdout))
        .expect("openssl speed printed its ecdsa (nistp256) line")
}

/// The verify/s column of the `256 bits ecdsa (nistp256)` line.
pub fn parse_openssl_speed(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.contains("ecdsa (nistp256)"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

/// `name` beside this program (`target/release/brama-gateway` next to `brama-bench`).
pub fn sibling(bin_dir: &Path, name: &str) -> PathBuf {
    let p = bin_dir.join(name);
    assert!(p.exists(), "{} is missing: build it first", p.display());
    p
}

/// A PostgreSQL database made for one run on the local server (`psql` as the superuser,
/// trust authentication as on the development machines and CI), dropped when this is dropped.
pub struct Postgres {
    pub url: String,
    name: String,
}

impl Postgres {
    pub const SERVER: &'static str = "127.0.0.1:5432";

    fn psql(sql: &str) -> bool {
        Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-qc",
                sql,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `None` when no server answers there.
    pub fn create() -> Option<Postgres> {
        let name = format!("brama_bench_{}", std::process::id());
        Postgres::psql(&format!("CREATE DATABASE {name}")).then(|| Postgres {
            url: format!("postgres://postgres@{}/{name}", Postgres::SERVER),
            name,
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        Postgres::psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read_with_its_units() {
        let text = "Running 5s test @ http://127.0.0.1:1/\n  1 threads and 32 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   658.10us  301.05us   9.09ms   88.53%\n  Latency Distribution\n     50%  598.00us\n     75%  712.00us\n     90%  0.92ms\n     99%    1.81ms\n  245062 requests in 5.00s, 279.02MB read\nRequests/sec:  49010.43\nTransfer/sec:     55.80MB\n";
        let l = parse_wrk(text).unwrap();
        assert_eq!(l.rps, 49010.43);
        assert!((l.p50_ms - 0.598).abs() < 1e-9);
        assert!((l.p99_ms - 1.81).abs() < 1e-9);
        let bad = format!("{text}  Non-2xx or 3xx responses: 12\n");
        assert!(parse_wrk(&bad).unwrap_err().contains("Non-2xx"));
    }

    #[test]
    fn openssl_speed_gives_the_verify_column() {
        let text = "                              sign    verify    sign/s verify/s\n 256 bits ecdsa (nistp256)   0.0000s   0.0001s  41234.5  13456.7\n";
        assert_eq!(parse_openssl_speed(text), Some(13456.7));
        assert_eq!(parse_openssl_speed("nothing"), None);
    }
}
