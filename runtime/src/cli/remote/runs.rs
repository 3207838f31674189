//! `baton run start|list|show|logs|cancel|retry|watch` against a server.

use std::process::ExitCode;

use baton::client::Client;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::super::args::{RunCommand, RunIdArgs, RunListArgs, RunLogsArgs, RunStartArgs};
use super::{Failed, client, finish, print_json, segment, table, text};

pub(crate) async fn run(command: RunCommand) -> ExitCode {
    finish(async {
        match command {
            RunCommand::Start(args) => start(args).await,
            RunCommand::List(args) => list(args).await,
            RunCommand::Show(args) => show(args).await,
            RunCommand::Logs(args) => logs(args).await,
            RunCommand::Cancel(args) => act(args, "cancel").await,
            RunCommand::Retry(args) => act(args, "retry").await,
            RunCommand::Watch(args) => {
                let client = client(&args.remote)?;
                watch(&client, &args.id, args.remote.json).await
            }
        }
    })
    .await
}

fn input(args: &RunStartArgs) -> Result<Value, Failed> {
    let text = crate::cli::input::input_text(&args.input, args.input_file.as_deref())
        .map_err(Failed::usage)?;
    serde_json::from_str(&text).map_err(|e| Failed::usage(format!("the input is not JSON: {e}")))
}

fn run_row(run: &Value) -> Vec<String> {
    vec![
        text(run, "id"),
        format!("{}@{}", text(run, "workflow"), text(run, "version")),
        text(run, "status"),
        text(run, "created_at"),
        text(run, "finished_at"),
    ]
}

const RUN_HEADER: &[&str] = &["ID", "WORKFLOW", "STATUS", "STARTED", "ENDED"];

async fn start(args: RunStartArgs) -> Result<(), Failed> {
    let client = client(&args.remote)?;
    let mut body = json!({"input": input(&args)?});
    if let Some(version) = args.workflow_version {
        body["version"] = json!(version);
    }
    let mut headers = Vec::new();
    if let Some(key) = &args.idempotency_key {
        headers.push(("Idempotency-Key", key.as_str()));
    }
    let run = client
        .post(
            &format!("/v1/workflows/{}/runs", segment(&args.workflow)),
            &body,
            &headers,
        )
        .await?;
    let id = text(&run, "id");
    if args.watch {
        if !args.remote.json {
            eprintln!("started run {id}");
        }
        return watch(&client, &id, args.remote.json).await;
    }
    if args.remote.json {
        print_json(&run);
    } else {
        println!("{id}");
    }
    Ok(())
}

async fn list(args: RunListArgs) -> Result<(), Failed> {
    let mut query = vec![format!("limit={}", args.limit)];
    if let Some(workflow) = &args.workflow {
        query.push(format!("workflow={}", segment(workflow)));
    }
    if let Some(status) = &args.status {
        query.push(format!("status={}", segment(status)));
    }
    if let Some(cursor) = &args.cursor {
        query.push(format!("cursor={}", segment(cursor)));
    }
    let page = client(&args.remote)?
        .get(&format!("/v1/runs?{}", query.join("&")))
        .await?;
    if args.remote.json {
        print_json(&page);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(run_row)
        .collect();
    table::print(RUN_HEADER, &rows);
    if let Some(next) = page["next_cursor"].as_str() {
        eprintln!("more: --cursor {next}");
    }
    Ok(())
}

fn step_rows(steps: &Value, rows: &mut Vec<Vec<String>>) {
    for step in steps.as_array().into_iter().flatten() {
        let id = match step["item"].as_i64() {
            Some(item) => format!("  {}[{item}]", text(step, "id")),
            None => text(step, "id"),
        };
        let attempts = step["attempts"].as_array().map_or(0, Vec::len);
        let error = step["error"]
            .get("message")
            .map(|m| m.as_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        rows.push(vec![
            id,
            text(step, "kind"),
            text(step, "status"),
            attempts.to_string(),
            error,
        ]);
        step_rows(&step["items"], rows);
    }
}

fn print_state(run: &Value) {
    println!(
        "run {}  {}@{}  {}",
        text(run, "id"),
        text(run, "workflow"),
        text(run, "version"),
        text(run, "status")
    );
    let mut rows = Vec::new();
    step_rows(&run["steps"], &mut rows);
    table::print(&["STEP", "KIND", "STATUS", "ATTEMPTS", "ERROR"], &rows);
    if !run["output"].is_null() {
        println!("output: {}", run["output"]);
    }
    if !run["error"].is_null() {
        println!("error: {}", run["error"]);
    }
}

async fn show(args: RunIdArgs) -> Result<(), Failed> {
    let run = client(&args.remote)?
        .get(&format!("/v1/runs/{}", segment(&args.id)))
        .await?;
    if args.remote.json {
        print_json(&run);
    } else {
        print_state(&run);
    }
    Ok(())
}

async fn logs(args: RunLogsArgs) -> Result<(), Failed> {
    let mut path = format!("/v1/runs/{}/logs", segment(&args.id));
    if let Some(step) = &args.step {
        path.push_str(&format!("?step={}", segment(step)));
    }
    let logs = client(&args.remote)?.get(&path).await?;
    if args.remote.json {
        print_json(&logs);
        return Ok(());
    }
    for line in logs["lines"].as_array().into_iter().flatten() {
        let item = line["item"]
            .as_i64()
            .map(|i| format!("[{i}]"))
            .unwrap_or_default();
        println!(
            "{}{item} #{} {:>5} {}",
            text(line, "step"),
            text(line, "attempt"),
            text(line, "level"),
            text(line, "message")
        );
    }
    if logs["dropped"].as_i64().unwrap_or(0) > 0 {
        eprintln!(
            "({} lines dropped over the per-attempt cap)",
            logs["dropped"]
        );
    }
    Ok(())
}

async fn act(args: RunIdArgs, action: &str) -> Result<(), Failed> {
    let run = client(&args.remote)?
        .post(
            &format!("/v1/runs/{}/{action}", segment(&args.id)),
            &json!({}),
            &[],
        )
        .await?;
    if args.remote.json {
        print_json(&run);
    } else {
        table::print(RUN_HEADER, &[run_row(&run)]);
    }
    Ok(())
}

/// Follows a run until it ends; the exit status follows its end.
async fn watch(client: &Client, id: &str, json: bool) -> Result<(), Failed> {
    let mut events = Box::pin(client.follow(&segment(id)).await?);
    let mut status = String::new();
    let mut last_state = Value::Null;
    while let Some(event) = events.next().await {
        let event = event?;
        if json {
            println!("{}", json!({"event": event.name, "data": event.data}));
        }
        match event.name.as_str() {
            "state" => {
                status = text(&event.data, "status");
                if !json {
                    eprintln!("run {}: {status}", text(&event.data, "id"));
                }
                last_state = event.data;
            }
            "run" => {
                status = text(&event.data, "status");
                if !json {
                    let error = text(&event.data, "error");
                    eprintln!(
                        "run: {status}{}",
                        if error.is_empty() {
                            String::new()
                        } else {
                            format!("  {error}")
                        }
                    );
                }
            }
            "step" if !json => {
                let item = event.data["item"]
                    .as_i64()
                    .map(|i| format!("[{i}]"))
                    .unwrap_or_default();
                let error = text(&event.data, "error");
                eprintln!(
                    "  {}{item}: {}{}",
                    text(&event.data, "step_id"),
                    text(&event.data, "status"),
                    if error.is_empty() {
                        String::new()
                    } else {
                        format!("  {error}")
                    }
                );
            }
            "error" => return Err(Failed::usage(text(&event.data, "detail"))),
            _ => {}
        }
    }
    let ended = if status == "succeeded" || status == "failed" || status == "cancelled" {
        status
    } else {
        return Err(Failed::usage(format!(
            "the event stream of run {id} ended before the run did (server stopping?)"
        )));
    };
    if !json {
        // The final state, with outputs.
        let run = client.get(&format!("/v1/runs/{}", segment(id))).await?;
        if run.is_object() {
            last_state = run;
        }
        if let Some(output) = last_state.get("output").filter(|o| !o.is_null()) {
            println!(
                "{}",
                serde_json::to_string_pretty(output).unwrap_or_default()
            );
        }
    }
    if ended == "succeeded" {
        Ok(())
    } else {
        Err(Failed::run_failed(format!("run {id} {ended}")))
    }
}
