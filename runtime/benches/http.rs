//! HTTP benchmark (a bench binary): run starts over HTTP against a real
//! `baton serve` (release build, `synchronous=FULL`) on loopback, with `wrk`
//! (Debian package `wrk`) as the load generator.
//!
//! For each workflow it starts a fresh server on a temporary data
//! directory, uploads the toolbox plugin, saves the workflow, drives
//! `POST /v1/workflows/{name}/runs` with `wrk` and reports accepted starts
//! per second and latency percentiles; then it counts the runs the server
//! holds to check that every accepted start is there.
//!
//! - `parked`: one `sleep: 1h` step (runs park, as incident workflows that
//!   wait do): the cost of accepting starts alone;
//! - `trivial`: one trivial plugin step (each start also runs a step).
//!
//! `cargo bench -p baton --bench http [-- parked|trivial]`; set
//! `BENCH_SECONDS` (default 10) and `BENCH_CONNECTIONS` (default 32).

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark binary"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BATON: &str = env!("CARGO_BIN_EXE_baton");

const SCRIPT: &str = r#"
wrk.method = "POST"
wrk.body = '{"input":{"n":1}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BATON_TOKEN")
"#;

struct Server {
    child: Child,
    url: String,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Server {
    let mut child = Command::new(BATON)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("baton listening on ")
        .unwrap()
        .to_string();
    let token = std::fs::read_to_string(dir.join("data/admin-token"))
        .unwrap()
        .trim()
        .to_string();
    Server { child, url, token }
}

fn curl(server: &Server, args: &[&str]) -> Value {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-H",
            &format!("Authorization: Bearer {}", server.token),
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Counts the server's runs of `workflow` through the paged listing.
fn count_runs(server: &Server, workflow: &str) -> usize {
    let mut count = 0;
    let mut cursor = String::new();
    loop {
        let page = curl(
            server,
            &[&format!(
                "{}/v1/runs?workflow={workflow}&limit=500{cursor}",
                server.url
            )],
        );
        count += page["runs"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return count,
        }
    }
}

fn bench(name: &str, workflow: &str) {
    let seconds = std::env::var("BENCH_SECONDS").unwrap_or_else(|_| "10".into());
    let connections = std::env::var("BENCH_CONNECTIONS").unwrap_or_else(|_| "32".into());
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let plugin = format!("@{}", baton_test_programs::GUESTS_TOOLBOX);
    curl(
        &server,
        &[
            "-H",
            "Content-Type: application/wasm",
            "--data-binary",
            &plugin,
            &format!("{}/v1/plugins", server.url),
        ],
    );
    curl(
        &server,
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/yaml",
            "--data-binary",
            workflow,
            &format!("{}/v1/workflows/{name}", server.url),
        ],
    );
    let script = dir.path().join("start.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = Command::new("wrk")
        .args([
            "-t2",
            "-c",
            &connections,
            "-d",
            &format!("{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(format!("{}/v1/workflows/{name}/runs", server.url))
        .env("BATON_TOKEN", &server.token)
        .output()
        .expect("wrk (apt install wrk)");
    let report = String::from_utf8_lossy(&out.stdout);
    let requests: usize = report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap();
    let failed: usize = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let rate = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .unwrap()
        .trim()
        .to_string();
    let percentile = |p: &str| {
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix(p).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    let stored = count_runs(&server, name);
    println!(
        "http {name}: {rate} starts/s over {seconds}s, {connections} connections; \
         latency p50 {} p90 {} p99 {}; {requests} requests, {failed} not 2xx, \
         {stored} runs stored (target >= 5000/s, p99 <= 20 ms)",
        percentile("50%"),
        percentile("90%"),
        percentile("99%"),
    );
    // A request wrk cut off at the end may have been committed without
    // its answer being counted, never the other way round.
    assert!(
        stored >= requests - failed,
        "accepted starts are missing: {stored} stored, {} accepted",
        requests - failed
    );
    if failed > 0 {
        println!("{report}");
    }
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if wanted("parked") {
        bench(
            "parked",
            "name: parked\nsteps:\n  - id: wait\n    sleep: 1h\n",
        );
    }
    if wanted("trivial") {
        bench(
            "trivial",
            "name: trivial\nsteps:\n  - id: one\n    uses: toolbox\n",
        );
    }
}
