//! `baton plugin grant|revoke|grants|show` and `baton secret set|list|rm`
//! against a real `baton serve`: grants built from flags and from YAML,
//! per-version grants, what a version requests next to what it is granted,
//! the server's problems on bad grants and refused roles, secret values
//! that go in and never come out, and `baton secret rekey` on a stopped
//! server's data directory.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use baton_test_programs::GUESTS_KITCHEN_SINK;
use serde_json::{Value, json};
use support::BATON;
use support::server::{Server, apply, cli, create_token, err, out, post_hook, signature};

/// The plugin the kitchen-sink guest describes itself as.
const PLUGIN: &str = "kitchen-sink";
/// A secret value that must never be printed by any command.
const VALUE: &str = "s3cr3t-Zq9-never-shown";
/// Exit status of a refused request.
const REFUSED: i32 = 3;
/// Exit status of bad usage.
const USAGE: i32 = 2;

/// Runs a command that must succeed; its stdout.
fn ok(server: &Server, token: &str, args: &[&str]) -> String {
    let output = cli(server, token, args);
    assert!(output.status.success(), "{args:?}: {}", err(&output));
    out(&output)
}

/// Runs a command that must fail with `code`; its stderr.
fn fails(server: &Server, token: &str, args: &[&str], code: i32) -> String {
    let output = cli(server, token, args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?}: {}",
        out(&output)
    );
    err(&output)
}

/// Runs the CLI with `stdin` piped in.
fn with_stdin(server: &Server, token: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BATON)
        .args(args)
        .env("BATON_URL", &server.url)
        .env("BATON_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The line of a `plugin show` table for one capability, its cells
/// separated by single spaces.
fn capability(shown: &str, name: &str) -> String {
    shown
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|line| line.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} row in:\n{shown}"))
}

/// The `granted:` line of `plugin show`.
fn scope(shown: &str) -> String {
    let line = shown
        .lines()
        .find(|line| line.starts_with("granted:"))
        .unwrap_or_else(|| panic!("no granted line in:\n{shown}"));
    line.trim_start_matches("granted:").trim().to_string()
}

#[test]
fn grants_are_saved_shown_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let admin = server.token.clone();
    let pushed: Value = serde_json::from_str(&ok(
        &server,
        &admin,
        &["plugin", "push", GUESTS_KITCHEN_SINK, "--json"],
    ))
    .unwrap();
    let version = pushed["version"].as_str().unwrap().to_string();
    let at = format!("{PLUGIN}@{version}");

    // Before any grant: everything asked for, nothing granted.
    let shown = ok(&server, &admin, &["plugin", "show", PLUGIN, &version]);
    assert!(
        shown.starts_with(&format!("plugin:      {at}\n")),
        "{shown}"
    );
    assert_eq!(scope(&shown), "nothing granted (it may only log)");
    assert_eq!(
        capability(&shown, "outbound"),
        "outbound https://api.example.com -"
    );
    assert_eq!(capability(&shown, "secrets"), "secrets api-token -");
    assert_eq!(capability(&shown, "kv"), "kv yes -");
    assert_eq!(capability(&shown, "events"), "events kitchen.done -");
    assert_eq!(capability(&shown, "limits"), "limits - defaults");

    // A plugin-wide grant by flags.
    let wide = "https://*.example.com:8443";
    let methods = format!("{wide}=get,POST");
    let saved = ok(
        &server,
        &admin,
        &[
            "plugin",
            "grant",
            PLUGIN,
            "--outbound",
            "https://api.example.com",
            "--outbound",
            wide,
            "--methods",
            &methods,
            "--private-network",
            wide,
            "--secret",
            "api-token",
            "--kv",
            "--event",
            "kitchen.*",
            "--memory",
            "32MiB",
            "--timeout-ms",
            "5000",
        ],
    );
    for line in [
        "plugin:     kitchen-sink",
        "applies to: every version without a grant of its own",
        "outbound:   https://api.example.com, https://*.example.com:8443 (GET, POST; private network)",
        "secrets:    api-token",
        "kv:         yes, quota 1.0 MiB",
        "events:     kitchen.*",
        "limits:     memory 32.0 MiB, timeout 5000 ms",
    ] {
        assert!(saved.lines().any(|l| l == line), "{line:?} in:\n{saved}");
    }
    let shown = ok(&server, &admin, &["plugin", "show", &at]);
    assert_eq!(scope(&shown), "the plugin-wide grant");
    assert_eq!(capability(&shown, "secrets"), "secrets api-token api-token");
    assert_eq!(
        capability(&shown, "events"),
        "events kitchen.done kitchen.*"
    );
    let shown: Value =
        serde_json::from_str(&ok(&server, &admin, &["plugin", "show", &at, "--json"])).unwrap();
    assert_eq!(shown["grant_scope"], "plugin");
    assert_eq!(shown["capabilities"]["secrets"], json!(["api-token"]));
    assert_eq!(
        shown["granted"]["outbound"][1],
        json!({"origin": wide, "methods": ["GET", "POST"], "private_network": true})
    );
    assert_eq!(shown["granted"]["limits"]["memory_bytes"], 32 << 20);

    // A grant replaces the one before whole: from YAML on stdin.
    let replaced = with_stdin(
        &server,
        &admin,
        &["plugin", "grant", PLUGIN, "--file", "-", "--json"],
        "secrets: [api-token]\nevents: [kitchen.done]\n",
    );
    assert!(replaced.status.success(), "{}", err(&replaced));
    let replaced: Value = serde_json::from_slice(&replaced.stdout).unwrap();
    assert_eq!(replaced["version"], Value::Null);
    assert_eq!(replaced["grant"]["outbound"], json!([]));
    assert_eq!(replaced["grant"]["kv"], Value::Null);
    assert_eq!(replaced["grant"]["events"], json!(["kitchen.done"]));

    // One version's own grant, from a YAML file; it ignores the plugin-wide
    // one.
    let file = dir.path().join("grant.yaml");
    std::fs::write(
        &file,
        "outbound:\n  - origin: https://api.example.com\n    methods: [GET]\nkv:\n  quota_bytes: 4096\n",
    )
    .unwrap();
    let saved = ok(
        &server,
        &admin,
        &[
            "plugin",
            "grant",
            PLUGIN,
            "--version",
            &version,
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        saved.contains(&format!("applies to: version {version} (its own grant)")),
        "{saved}"
    );
    let shown = ok(&server, &admin, &["plugin", "show", &at]);
    assert_eq!(scope(&shown), "this version's own grant");
    assert_eq!(
        capability(&shown, "outbound"),
        "outbound https://api.example.com https://api.example.com (GET)"
    );
    assert_eq!(capability(&shown, "secrets"), "secrets api-token -");
    assert_eq!(capability(&shown, "kv"), "kv yes yes, quota 4.0 KiB");

    // The listing holds both.
    let listed = ok(&server, &admin, &["plugin", "grants", PLUGIN]);
    let rows: Vec<&str> = listed.lines().collect();
    assert!(rows[0].starts_with("VERSION "), "{listed}");
    assert_eq!(rows.len(), 3, "{listed}");
    assert!(
        rows.iter().any(|r| r.starts_with("all versions ")),
        "{listed}"
    );
    assert!(
        rows.iter().any(|r| r.starts_with(&format!("{version} "))),
        "{listed}"
    );
    let listed: Value = serde_json::from_str(&ok(
        &server,
        &admin,
        &["plugin", "grants", PLUGIN, "--json"],
    ))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // Revoking the version's grant falls back to the plugin-wide one;
    // revoking that leaves nothing.
    let revoked = ok(
        &server,
        &admin,
        &["plugin", "revoke", PLUGIN, "--version", &version],
    );
    assert!(
        revoked.contains("follows the plugin-wide grant"),
        "{revoked}"
    );
    let shown = ok(&server, &admin, &["plugin", "show", &at]);
    assert_eq!(scope(&shown), "the plugin-wide grant");
    ok(&server, &admin, &["plugin", "revoke", PLUGIN]);
    let shown = ok(&server, &admin, &["plugin", "show", &at]);
    assert_eq!(scope(&shown), "nothing granted (it may only log)");
    let again = fails(&server, &admin, &["plugin", "revoke", PLUGIN], REFUSED);
    assert!(again.contains("(404)"), "{again}");
    assert_eq!(
        ok(&server, &admin, &["plugin", "grants", PLUGIN]).trim_end(),
        "VERSION  OUTBOUND  SECRETS  KV  EVENTS  LIMITS  UPDATED  BY"
    );

    // An explicit empty grant for a version: it gets nothing, whatever the
    // plugin-wide grant says.
    ok(&server, &admin, &["plugin", "grant", PLUGIN, "--kv"]);
    ok(
        &server,
        &admin,
        &[
            "plugin",
            "grant",
            PLUGIN,
            "--version",
            &version,
            "--nothing",
        ],
    );
    let shown = ok(&server, &admin, &["plugin", "show", PLUGIN, &version]);
    assert_eq!(scope(&shown), "this version's own grant");
    assert_eq!(capability(&shown, "kv"), "kv yes -");
}

#[test]
fn bad_grants_print_the_servers_problem() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let admin = server.token.clone();

    // The server checks the grant and names every problem; nothing is saved.
    let refused = fails(
        &server,
        &admin,
        &[
            "plugin",
            "grant",
            PLUGIN,
            "--secret",
            "bad name",
            "--kv-quota",
            "2GiB",
            "--cpu-ms",
            "0",
        ],
        REFUSED,
    );
    assert!(
        refused.starts_with("error: Invalid grant (422): nothing was saved"),
        "{refused}"
    );
    for needle in ["secrets[0]", "kv.quota_bytes", "limits.cpu_ms"] {
        assert!(refused.contains(needle), "{needle} in {refused}");
    }
    let refused = fails(
        &server,
        &admin,
        &[
            "plugin",
            "grant",
            PLUGIN,
            "--outbound",
            "ftp://files.example.com",
        ],
        REFUSED,
    );
    assert!(
        refused.contains("the scheme must be http or https"),
        "{refused}"
    );
    let file = dir.path().join("grant.yaml");
    std::fs::write(&file, "secrets: [api-token]\neverything: true\n").unwrap();
    let refused = fails(
        &server,
        &admin,
        &["plugin", "grant", PLUGIN, "--file", file.to_str().unwrap()],
        REFUSED,
    );
    assert!(refused.contains("unknown field `everything`"), "{refused}");
    assert_eq!(
        ok(&server, &admin, &["plugin", "grants", PLUGIN, "--json"]).trim(),
        "[]"
    );

    // Flags that do not fit together never reach the server.
    let usage = fails(&server, &admin, &["plugin", "grant", PLUGIN], USAGE);
    assert!(usage.contains("say what to grant"), "{usage}");
    let usage = fails(
        &server,
        &admin,
        &[
            "plugin",
            "grant",
            PLUGIN,
            "--methods",
            "https://api.example.com=GET",
        ],
        USAGE,
    );
    assert!(usage.contains("no --outbound gives"), "{usage}");
    std::fs::write(&file, "{{{").unwrap();
    let usage = fails(
        &server,
        &admin,
        &["plugin", "grant", PLUGIN, "--file", file.to_str().unwrap()],
        USAGE,
    );
    assert!(usage.contains("not YAML or JSON"), "{usage}");
    let usage = fails(
        &server,
        &admin,
        &["plugin", "show", &format!("{PLUGIN}@1.0.0"), "1.0.0"],
        USAGE,
    );
    assert!(usage.contains("give the version once"), "{usage}");
}

#[tokio::test]
async fn secrets_go_in_and_never_come_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let admin = server.token.clone();
    let http = reqwest::Client::new();
    let operator = create_token(&http, &server, "ops", "operator").await;
    let mut outputs: Vec<Output> = Vec::new();

    // From stdin, as `echo` writes it.
    let created = with_stdin(
        &server,
        &admin,
        &[
            "secret",
            "set",
            "rt-token",
            "--description",
            "Request Tracker",
        ],
        &format!("{VALUE}\n"),
    );
    assert!(created.status.success(), "{}", err(&created));
    let text = out(&created);
    assert!(text.starts_with("created secret rt-token\n"), "{text}");
    assert!(text.contains("description: Request Tracker"), "{text}");
    assert!(text.contains("by token:admin"), "{text}");
    outputs.push(created);

    // From a file, replacing it.
    let file = dir.path().join("value.txt");
    std::fs::write(&file, format!("{VALUE}-2\n")).unwrap();
    let replaced = cli(
        &server,
        &admin,
        &[
            "secret",
            "set",
            "rt-token",
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert!(replaced.status.success(), "{}", err(&replaced));
    assert!(
        out(&replaced).starts_with("replaced secret rt-token\n"),
        "{}",
        out(&replaced)
    );
    outputs.push(replaced);
    let json = cli(
        &server,
        &admin,
        &[
            "secret",
            "set",
            "other",
            "--file",
            file.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(json.status.success(), "{}", err(&json));
    let info: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(info["name"], "other");
    assert!(info.get("value").is_none(), "{info}");
    outputs.push(json);

    // An empty value is refused before anything is sent.
    for stdin in ["", "\n"] {
        let empty = with_stdin(&server, &admin, &["secret", "set", "empty"], stdin);
        assert_eq!(empty.status.code(), Some(USAGE));
        assert!(
            err(&empty).contains("the secret value is empty"),
            "{}",
            err(&empty)
        );
    }

    // Listing shows names and metadata only, to operators too.
    for token in [&admin, &operator] {
        let listed = cli(&server, token, &["secret", "list"]);
        assert!(listed.status.success(), "{}", err(&listed));
        let rows: Vec<String> = out(&listed).lines().map(str::to_string).collect();
        assert!(rows[0].starts_with("NAME "), "{rows:?}");
        assert!(rows.iter().any(|r| r.starts_with("rt-token ")), "{rows:?}");
        outputs.push(listed);
    }
    let listed = cli(&server, &admin, &["secret", "list", "--json"]);
    let secrets: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = secrets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["other", "rt-token"]);
    assert!(
        secrets
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.get("value").is_none())
    );
    outputs.push(listed);

    // Only an admin saves secrets; the server's refusal is printed.
    let refused = with_stdin(&server, &operator, &["secret", "set", "rt-token"], VALUE);
    assert_eq!(refused.status.code(), Some(REFUSED));
    assert!(
        err(&refused).contains("Forbidden (403)"),
        "{}",
        err(&refused)
    );
    outputs.push(refused);
    let refused = cli(&server, &operator, &["secret", "rm", "rt-token"]);
    assert_eq!(refused.status.code(), Some(REFUSED));
    outputs.push(refused);

    // Removing.
    let removed = cli(&server, &admin, &["secret", "rm", "rt-token"]);
    assert!(removed.status.success(), "{}", err(&removed));
    assert_eq!(out(&removed), "removed secret rt-token\n");
    outputs.push(removed);
    let missing = cli(&server, &admin, &["secret", "rm", "rt-token"]);
    assert_eq!(missing.status.code(), Some(REFUSED));
    assert!(
        err(&missing).contains("Not found (404)"),
        "{}",
        err(&missing)
    );
    outputs.push(missing);
    let listed = ok(&server, &admin, &["secret", "list"]);
    assert!(!listed.contains("rt-token"), "{listed}");

    // No command printed the value.
    for output in &outputs {
        for text in [out(output), err(output)] {
            assert!(!text.contains(VALUE), "the value was printed: {text}");
        }
    }
}

/// `baton secret rekey --data-dir DIR EXTRA...` with `env` set.
fn rekey(data: &std::path::Path, extra: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(BATON)
        .args(["secret", "rekey", "--data-dir"])
        .arg(data)
        .args(extra)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("BATON_URL")
        .output()
        .unwrap()
}

/// A key file as `master.key` is written: 32 raw bytes, mode 0600.
fn key_file(path: &std::path::Path, byte: u8) {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap()
        .write_all(&[byte; 32])
        .unwrap();
}

#[tokio::test]
async fn rekey_seals_every_secret_again_under_a_new_key() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    let server = Server::start(&dir);
    for (name, value) in [("hook-key", VALUE), ("other", "another value")] {
        let set = with_stdin(&server, &server.token, &["secret", "set", name], value);
        assert!(set.status.success(), "{}", err(&set));
    }
    // A webhook keyed by a secret: it shows the value still opens after.
    let hook = "kind: Webhook\nname: hook\nauth:\n  hmac: {secret: {secret: hook-key}}\nevent:\n  type: x.y\n";
    assert!(
        apply(&http, &server, &server.token, hook)
            .await
            .status()
            .is_success()
    );

    // A running server holds the data directory.
    let busy = rekey(&data, &[], &[]);
    assert_eq!(busy.status.code(), Some(REFUSED), "{}", out(&busy));
    assert!(
        err(&busy).contains("another baton process is using"),
        "{}",
        err(&busy)
    );
    assert!(server.stop().success());

    let old_key = std::fs::read(data.join("master.key")).unwrap();
    let done = rekey(&data, &[], &[]);
    assert!(done.status.success(), "{}", err(&done));
    assert!(
        out(&done).contains("sealed 2 secret(s) again"),
        "{}",
        out(&done)
    );
    let new_key = std::fs::read(data.join("master.key")).unwrap();
    assert_eq!(new_key.len(), 32);
    assert_ne!(new_key, old_key);
    let mode = std::fs::metadata(data.join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!data.join("master.key.new").exists());
    assert!(!out(&done).contains(VALUE) && !err(&done).contains(VALUE));

    // The old key no longer opens them.
    let wrong = Command::new(BATON)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("BATON_CACHE_DIR", dir.path().join("cache"))
        .env("BATON_MASTER_KEY", hex::encode(&old_key))
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        err(&wrong).contains("master key does not match"),
        "{}",
        err(&wrong)
    );

    // The new one does: the webhook checks a signature made with the value.
    let server = Server::start(&dir);
    let body = br#"{"ok": true}"#;
    let signed = signature(VALUE.as_bytes(), body);
    let answer: Value = post_hook(&http, &server, "hook", &signed, body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["accepted"], 1, "{answer}");
    let audit = ok(&server, &server.token, &["audit", "list", "--json"]);
    assert!(audit.contains("secret.rekey"), "{audit}");
    assert!(server.stop().success());

    // A key from the environment: the new one must be given, and the key
    // file is left alone.
    let env = [("BATON_MASTER_KEY", hex::encode(&new_key))];
    let usage = rekey(&data, &[], &env);
    assert_eq!(usage.status.code(), Some(USAGE), "{}", out(&usage));
    assert!(
        err(&usage).contains("give the new one with --new-key-file"),
        "{}",
        err(&usage)
    );
    let third = dir.path().join("third.key");
    key_file(&third, 3);
    let third_arg = third.to_str().unwrap();
    let done = rekey(&data, &["--new-key-file", third_arg], &env);
    assert!(done.status.success(), "{}", err(&done));
    assert!(
        out(&done).contains("Set BATON_MASTER_KEY to it"),
        "{}",
        out(&done)
    );
    assert_eq!(std::fs::read(data.join("master.key")).unwrap(), new_key);
    // The previous key is now the wrong one, even for rekey.
    let fourth = dir.path().join("fourth.key");
    key_file(&fourth, 4);
    let stale = rekey(&data, &["--new-key-file", fourth.to_str().unwrap()], &env);
    assert_eq!(stale.status.code(), Some(REFUSED), "{}", out(&stale));
    assert!(err(&stale).contains("does not match"), "{}", err(&stale));
    let same = rekey(
        &data,
        &["--new-key-file", third_arg],
        &[("BATON_MASTER_KEY", hex::encode([3_u8; 32]))],
    );
    assert_eq!(same.status.code(), Some(USAGE), "{}", err(&same));
}
