//! Scenario 1, forwarding: the same `wrk` load (one thread, the same connections and
//! duration) against (a) the backend direct, (b) `brama-gateway` with a valid session, (c)
//! nginx with `proxy_pass` and keep-alive to the same backend. The proxies get the same
//! workers on the same pinned CPUs; the backend and wrk run on the bench's own CPU.

use std::path::Path;
use std::process::Command;

use crate::gateway::{self, Signer};
use crate::report::{Report, Row};
use crate::tools::{self, Load, Proc};
use crate::Plan;

/// nginx: `workers` processes, keep-alive to the backend, no logs, everything under `dir`.
fn nginx_config(dir: &Path, port: u16, backend: u16, workers: usize) -> String {
    let d = dir.display();
    format!(
        "worker_processes {workers};\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           upstream backend {{ server 127.0.0.1:{backend}; keepalive 64; }}\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://backend;\n\
               proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n"
    )
}

fn start_nginx(dir: &Path, backend: u16, workers: usize, cpus: &str) -> (Proc, u16) {
    let port = tools::free_port();
    std::fs::write(
        dir.join("nginx.conf"),
        nginx_config(dir, port, backend, workers),
    )
    .expect("nginx config");
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("nginx (apt install nginx-light)");
    let mut cmd = tools::pinned(cpus, nginx);
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"]);
    let p = Proc::start("nginx", cmd);
    tools::wait_port(port, "nginx");
    (p, port)
}

fn row(name: &str, l: Load, reference: Option<(&str, Load)>) -> Row {
    Row {
        scenario: format!("forwarding: {name}"),
        figure: format!(
            "{:.0} req/s (p50 {:.2} ms, p99 {:.2} ms)",
            l.rps, l.p50_ms, l.p99_ms
        ),
        ratio: reference
            .map(|(what, r)| format!("{:.2} of {what}", l.rps / r.rps))
            .unwrap_or_default(),
    }
}

/// The backend process on a free port.
pub fn start_backend(plan: &Plan) -> (Proc, u16) {
    let port = tools::free_port();
    let mut c = Command::new(tools::sibling(&plan.bin_dir, "bench-backend"));
    c.arg(port.to_string());
    let p = Proc::start("bench-backend", c);
    tools::wait_port(port, "bench-backend");
    (p, port)
}

/// `--serve-gateway`: the forwarding setup held open for a profiler.
pub async fn serve(plan: &Plan, workers: usize) {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let pki = tmp.path().join("pki");
    let manifest = certs::devpki::init(&certs::devpki::Options::new(&pki)).expect("dev PKI");
    let (_backend, backend_port) = start_backend(plan);
    let (g, port) = gateway::start(&gateway::Setup::new(
        &plan.bin_dir,
        tmp.path(),
        &pki,
        backend_port,
        workers,
        &plan.proxy_cpu,
    ));
    let base = format!("http://127.0.0.1:{port}");
    let signer = Signer::open(&pki, &manifest, "citizen-p256");
    let session = gateway::sign_in(&reqwest::Client::new(), &base, &signer).await;
    println!("{base}/cabinet\n{}\n{session}", g.pid());
    let _ =
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
            .await;
}

pub async fn run(plan: &Plan, report: &mut Report) {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let pki = tmp.path().join("pki");
    let manifest = certs::devpki::init(&certs::devpki::Options::new(&pki)).expect("dev PKI");
    let signer = Signer::open(&pki, &manifest, "citizen-p256");
    let (_backend, backend_port) = start_backend(plan);
    let (secs, conns) = (plan.load_seconds, plan.connections);

    let direct = tools::wrk(
        &format!("http://127.0.0.1:{backend_port}/cabinet"),
        None,
        secs,
        conns,
    );
    report.push(row("backend direct", direct, None));
    report.note(format!(
        "wrk -t1 -c{conns} -d{secs}s (after a 1 s warm-up), 1 KiB answers; the bench, wrk and the backend on CPU {}, each proxy pinned to the CPUs named",
        plan.own_cpu
    ));

    let mut sqlite_one_worker = None;
    for (workers, cpus) in [(1usize, plan.proxy_cpu.as_str()), (2, "0,1")] {
        let dir = tmp.path().join(format!("gateway-{workers}"));
        std::fs::create_dir_all(&dir).expect("folder");
        let (g, port) = gateway::start(&gateway::Setup::new(
            &plan.bin_dir,
            &dir,
            &pki,
            backend_port,
            workers,
            cpus,
        ));
        let base = format!("http://127.0.0.1:{port}");
        let session = gateway::sign_in(&reqwest::Client::new(), &base, &signer).await;
        let through = tools::wrk(&format!("{base}/cabinet"), Some(&session), secs, conns);
        drop(g);

        let dir = tmp.path().join(format!("nginx-{workers}"));
        std::fs::create_dir_all(&dir).expect("folder");
        let (n, port) = start_nginx(&dir, backend_port, workers, cpus);
        let nginx = tools::wrk(
            &format!("http://127.0.0.1:{port}/cabinet"),
            None,
            secs,
            conns,
        );
        drop(n);

        let label = |what: &str| format!("{what}, {workers} worker(s) on CPU {cpus}");
        report.push(row(
            &label("nginx proxy_pass"),
            nginx,
            Some(("direct", direct)),
        ));
        let mut r = row(
            &label("brama-gateway with a session"),
            through,
            Some(("direct", direct)),
        );
        r.ratio = format!(
            "{}; {:.2} of nginx (bar 1.0, goal 1.25)",
            r.ratio,
            through.rps / nginx.rps
        );
        report.push(r);
        report.push(Row {
            scenario: format!(
                "forwarding: p99 latency through the gateway ÷ through nginx, {workers} worker(s), same load"
            ),
            figure: format!("{:.2} ms ÷ {:.2} ms", through.p99_ms, nginx.p99_ms),
            ratio: format!("{:.2} (bar ≤ 1.5, goal ≤ 1.0)", through.p99_ms / nginx.p99_ms),
        });
        if workers == 1 {
            sqlite_one_worker = Some(through);
        }
    }
    postgres(plan, report, &pki, &signer, backend_port, sqlite_one_worker).await;
}

/// The one-worker forwarding figure again with the gateway on PostgreSQL (a database made for
/// this run and dropped after it), against the SQLite figure of the same run.
async fn postgres(
    plan: &Plan,
    report: &mut Report,
    pki: &Path,
    signer: &Signer,
    backend_port: u16,
    sqlite: Option<Load>,
) {
    let scenario = "forwarding: brama-gateway with a session on PostgreSQL, 1 worker".to_string();
    let Some(db) = tools::Postgres::create() else {
        report.push(Row {
            scenario,
            figure: "not run".into(),
            ratio: format!("no PostgreSQL at {}", tools::Postgres::SERVER),
        });
        return;
    };
    let tmp = tempfile::tempdir().expect("temporary folder");
    let (g, port) = gateway::start(&gateway::Setup {
        database: Some(&db.url),
        ..gateway::Setup::new(
            &plan.bin_dir,
            tmp.path(),
            pki,
            backend_port,
            1,
            &plan.proxy_cpu,
        )
    });
    let base = format!("http://127.0.0.1:{port}");
    let session = gateway::sign_in(&reqwest::Client::new(), &base, signer).await;
    let through = tools::wrk(
        &format!("{base}/cabinet"),
        Some(&session),
        plan.load_seconds,
        plan.connections,
    );
    drop(g);
    let mut r = row(
        "brama-gateway with a session on PostgreSQL, 1 worker",
        through,
        None,
    );
    r.scenario = scenario;
    r.ratio = sqlite
        .map(|s| {
            format!(
                "{:.2} of the same on SQLite (goal ≥ 0.8)",
                through.rps / s.rps
            )
        })
        .unwrap_or_default();
    report.push(r);
}
