//! `baton approval list|show|approve|reject` against a server: the human
//! decisions runs wait for (approval steps, and the gates policies put
//! before steps and runs). Who may decide, and separation of duties, are
//! the server's to enforce; a refusal prints its problem.

use std::process::ExitCode;

use serde_json::Value;

use super::super::args::{ApprovalCommand, ApprovalIdArgs, ApprovalListArgs, DecisionArgs};
use super::{Failed, client, finish, print_json, table, text};

/// Longest message shown in a table cell; `approval show` prints it whole.
const MESSAGE_WIDTH: usize = 60;

const HEADER: &[&str] = &["ID", "RUN", "STEP", "GATE", "STATUS", "MESSAGE", "DEADLINE"];

pub(crate) async fn run(command: ApprovalCommand) -> ExitCode {
    finish(async {
        match command {
            ApprovalCommand::List(args) => list(args).await,
            ApprovalCommand::Show(args) => show(args).await,
            ApprovalCommand::Approve(args) => decide(args, "approve").await,
            ApprovalCommand::Reject(args) => decide(args, "reject").await,
        }
    })
    .await
}

/// `deploy`, or `deploy[2]` for a for_each element.
fn step(approval: &Value) -> String {
    match approval["item"].as_i64() {
        Some(item) => format!("{}[{item}]", text(approval, "step_id")),
        None => text(approval, "step_id"),
    }
}

/// `step`, or `policy (freeze)` for a gate a policy asked for.
fn gate(approval: &Value) -> String {
    let policy = text(approval, "policy");
    if policy.is_empty() {
        text(approval, "gate")
    } else {
        format!("{} ({policy})", text(approval, "gate"))
    }
}

/// A message on one line, cut to `width` characters.
fn one_line(message: &str, width: usize) -> String {
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= width {
        return line;
    }
    let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn row(approval: &Value) -> Vec<String> {
    vec![
        text(approval, "id"),
        text(approval, "run_id"),
        step(approval),
        gate(approval),
        text(approval, "status"),
        one_line(&text(approval, "message"), MESSAGE_WIDTH),
        text(approval, "deadline"),
    ]
}

/// `roles admin; tokens alice`, or who may decide when nobody is named.
fn approvers(approval: &Value) -> String {
    let names = |field: &str| -> Vec<String> {
        approval["approvers"][field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let parts: Vec<String> = [("roles", names("roles")), ("tokens", names("tokens"))]
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(field, names)| format!("{field} {}", names.join(", ")))
        .collect();
    if parts.is_empty() {
        "any operator or admin".into()
    } else {
        parts.join("; ")
    }
}

async fn list(args: ApprovalListArgs) -> Result<(), Failed> {
    let page = client(&args.remote)?
        .approvals(
            args.status.as_deref(),
            args.run.as_deref(),
            args.cursor.as_deref(),
        )
        .await?;
    if args.remote.json {
        print_json(&page);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page["approvals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(row)
        .collect();
    table::print(HEADER, &rows);
    if let Some(next) = page["next_cursor"].as_str() {
        eprintln!("more: --cursor {next}");
    }
    Ok(())
}

/// An approval as `field: value` lines.
fn print_approval(approval: &Value) {
    let mut lines = vec![
        ("approval", text(approval, "id")),
        ("status", text(approval, "status")),
        ("run", text(approval, "run_id")),
        ("step", step(approval)),
        ("gate", gate(approval)),
        ("approvers", approvers(approval)),
        ("message", text(approval, "message")),
        ("requested by", text(approval, "requested_by")),
        ("asked at", text(approval, "created_at")),
        (
            "deadline",
            format!(
                "{} (then: {})",
                text(approval, "deadline"),
                text(approval, "on_timeout")
            ),
        ),
    ];
    for (label, field) in [
        ("decided by", "decided_by"),
        ("decided at", "decided_at"),
        ("comment", "comment"),
    ] {
        let value = text(approval, field);
        if !value.is_empty() {
            lines.push((label, value));
        }
    }
    super::table::print_fields(&lines);
}

async fn show(args: ApprovalIdArgs) -> Result<(), Failed> {
    let approval = client(&args.remote)?.approval(&args.id).await?;
    if args.remote.json {
        print_json(&approval);
    } else {
        print_approval(&approval);
    }
    Ok(())
}

async fn decide(args: DecisionArgs, decision: &str) -> Result<(), Failed> {
    let approval = client(&args.remote)?
        .decide(&args.id, decision, args.comment.as_deref())
        .await?;
    if args.remote.json {
        print_json(&approval);
    } else {
        println!(
            "approval {} {} by {} (run {}, step {})",
            text(&approval, "id"),
            text(&approval, "status"),
            text(&approval, "decided_by"),
            text(&approval, "run_id"),
            step(&approval)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn rows_fit_on_one_line() {
        let approval = json!({"id": "a1", "run_id": "r1", "step_id": "deploy", "item": 2,
            "gate": "policy", "policy": "freeze", "status": "pending",
            "message": "Deploy\nnow?", "deadline": "2026-01-01T00:00:00Z",
            "approvers": {"roles": ["admin"]}});
        let row = super::row(&approval);
        assert_eq!(row[2], "deploy[2]");
        assert_eq!(row[3], "policy (freeze)");
        assert_eq!(row[5], "Deploy now?");
        assert_eq!(super::approvers(&approval), "roles admin");
        assert_eq!(super::approvers(&json!({})), "any operator or admin");
        assert_eq!(super::one_line("abcdef", 4), "abc…");
    }
}
