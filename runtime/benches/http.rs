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
//! - `events`: `POST /v1/events` of one structured CloudEvent each, with
//!   unique ids: durable event ingestion;
//! - `events-rules`: the same with 1,000 rules in force (900 on other
//!   exact types, 99 on `*` patterns, and one on the events' own type whose
//!   condition every event is evaluated against and fails, so no run
//!   starts): what rule matching adds per event.
//!
//! Each measured run follows a warm-up of the same load on the same server
//! (`BENCH_WARMUP` seconds, default 3), which is not counted: the first
//! seconds after a start (and after a build, on a small VM) are not the
//! steady state the figures are about.
//!
//! `cargo bench -p baton --bench http [-- parked|trivial|events|events-rules]`; set
//! `BENCH_SECONDS` (default 10), `BENCH_WARMUP` (default 3),
//! `BENCH_CONNECTIONS` (default 32) and `BENCH_THREADS` (wrk's threads,
//! default 2).

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

/// Events with ids unique per wrk thread and request.
const EVENT_SCRIPT: &str = r#"
local counter = 0
-- `thread_id` is a global that setup() gives each thread's own state.
thread_id = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
function request()
  counter = counter + 1
  local body = string.format('{"specversion":"1.0","id":"%s-%d-%d","source":"/bench","type":"alertmanager.alert.firing","subject":"fp%d","data":{"labels":{"severity":"critical","alertname":"DiskFull"}}}', os.getenv("BENCH_PHASE"), thread_id, counter, counter % 100)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/cloudevents+json",
    ["Authorization"] = "Bearer " .. os.getenv("BATON_TOKEN"),
  }, body)
end
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

/// One wrk run: its report and the counts of requests and failures.
struct Load {
    report: String,
    requests: usize,
    failed: usize,
}

/// Runs wrk with a script against a path: first the warm-up, then the
/// measured run, whose report is returned; the counts cover both, since
/// the server stored both.
fn drive(server: &Server, dir: &std::path::Path, script: &str, path: &str) -> Load {
    let warmup = std::env::var("BENCH_WARMUP").unwrap_or_else(|_| "3".into());
    let seconds = std::env::var("BENCH_SECONDS").unwrap_or_else(|_| "10".into());
    let first = (warmup.trim() != "0").then(|| wrk(server, dir, script, path, "warmup", &warmup));
    let mut load = wrk(server, dir, script, path, "measured", &seconds);
    if let Some(first) = first {
        load.requests += first.requests;
        load.failed += first.failed;
    }
    load
}

/// One wrk run of `seconds`; `phase` keeps event ids apart between runs.
fn wrk(
    server: &Server,
    dir: &std::path::Path,
    script: &str,
    path: &str,
    phase: &str,
    seconds: &str,
) -> Load {
    let connections = std::env::var("BENCH_CONNECTIONS").unwrap_or_else(|_| "32".into());
    let threads = std::env::var("BENCH_THREADS").unwrap_or_else(|_| "2".into());
    let file = dir.join("script.lua");
    std::fs::write(&file, script).unwrap();
    let out = Command::new("wrk")
        .args([
            "-t",
            &threads,
            "-c",
            &connections,
            "-d",
            &format!("{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&file)
        .arg(format!("{}{path}", server.url))
        .env("BATON_TOKEN", &server.token)
        .env("BENCH_PHASE", phase)
        .output()
        .expect("wrk (apt install wrk)");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
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
    Load {
        report,
        requests,
        failed,
    }
}

fn summary(report: &str) -> String {
    let line = |p: &str| {
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix(p).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    format!(
        "{}/s; latency p50 {} p90 {} p99 {}",
        line("Requests/sec:"),
        line("50%"),
        line("90%"),
        line("99%")
    )
}

/// Counts the server's events through the paged listing.
fn count_events(server: &Server) -> usize {
    let mut count = 0;
    let mut cursor = String::new();
    loop {
        let page = curl(
            server,
            &[&format!("{}/v1/events?limit=500{cursor}", server.url)],
        );
        count += page["events"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return count,
        }
    }
}

/// 1,000 rules: 900 on other exact types, 99 on patterns, one on the
/// bench events' type whose condition fails for them.
fn rules_file() -> String {
    let mut text = String::new();
    for i in 0..1000 {
        let (on, condition) = match i {
            0 => (
                "alertmanager.alert.firing".to_string(),
                "event.data.labels.severity == 'info'",
            ),
            1..900 => (
                format!("app{i}.alert.firing"),
                "event.data.labels.severity == 'critical'",
            ),
            _ => (format!("svc{i}.*"), "event.data.value > 0.9"),
        };
        text.push_str(&format!(
            "---\nkind: Rule\nname: r{i}\non: {on}\nif: \"{condition}\"\nworkflow: parked\n\
             correlate: {{key: event.subject, window: 1h}}\n"
        ));
    }
    text
}

fn bench_events(with_rules: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let name = if with_rules {
        curl(
            &server,
            &[
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/yaml",
                "--data-binary",
                "name: parked\nsteps:\n  - id: wait\n    sleep: 1h\n",
                &format!("{}/v1/workflows/parked", server.url),
            ],
        );
        let file = dir.path().join("rules.yaml");
        std::fs::write(&file, rules_file()).unwrap();
        let applied = curl(
            &server,
            &[
                "-H",
                "Content-Type: application/yaml",
                "--data-binary",
                &format!("@{}", file.display()),
                &format!("{}/v1/apply", server.url),
            ],
        );
        assert_eq!(
            applied["resources"].as_array().unwrap().len(),
            1000,
            "{applied}"
        );
        "events with 1000 rules"
    } else {
        "events"
    };
    let Load {
        report,
        requests,
        failed,
    } = drive(&server, dir.path(), EVENT_SCRIPT, "/v1/events");
    let stored = count_events(&server);
    println!(
        "http {name}: {}; {requests} requests with the warm-up, {failed} not 2xx, {stored} events stored \
         (target >= 10000/s, p99 <= 20 ms)",
        summary(&report)
    );
    assert!(stored >= requests - failed, "accepted events are missing");
    if failed > 0 {
        println!("{report}");
    }
}

fn bench(name: &str, workflow: &str) {
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
    let Load {
        report,
        requests,
        failed,
    } = drive(
        &server,
        dir.path(),
        SCRIPT,
        &format!("/v1/workflows/{name}/runs"),
    );
    let stored = count_runs(&server, name);
    println!(
        "http {name}: {} starts; {requests} requests with the warm-up, {failed} not 2xx, {stored} runs stored \
         (target >= 5000/s, p99 <= 20 ms)",
        summary(&report)
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
    if wanted("events") {
        bench_events(false);
    }
    if wanted("events-rules") {
        bench_events(true);
    }
    if wanted("trivial") {
        bench(
            "trivial",
            "name: trivial\nsteps:\n  - id: one\n    uses: toolbox\n",
        );
    }
}
