//! `baton audit list|verify` against a server. `verify` pages through the
//! whole trail, oldest first, and checks the hash chain here, on the
//! client: it trusts the server to hand over what is stored, not to say
//! whether it is intact.

use std::process::ExitCode;

use baton::engine::clock::rfc3339;
use baton::server::views::AuditParams;
use baton::store::{AuditRecord, ChainHead, verify_chain};
use serde_json::json;

use super::super::args::{AuditCommand, AuditListArgs, RemoteOnly};
use super::{Failed, client, finish, print_json, table};

/// Entries asked for per request while verifying: the server's largest page.
const VERIFY_PAGE: u32 = 500;

pub(crate) async fn run(command: AuditCommand) -> ExitCode {
    finish(async {
        match command {
            AuditCommand::List(args) => list(args).await,
            AuditCommand::Verify(args) => verify(args).await,
        }
    })
    .await
}

fn entry_row(entry: &AuditRecord) -> Vec<String> {
    vec![
        entry.seq.to_string(),
        rfc3339(entry.at),
        entry.actor.clone(),
        entry.action.clone(),
        entry.target.clone(),
        entry.detail.to_string(),
    ]
}

async fn list(args: AuditListArgs) -> Result<(), Failed> {
    let page = client(&args.remote)?
        .audit(&AuditParams {
            actor: args.actor,
            action: args.action,
            target: args.target,
            since: args.since,
            until: args.until,
            limit: Some(args.limit),
            cursor: args.cursor,
        })
        .await?;
    if args.remote.json {
        print_json(&json!(page));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page.entries.iter().map(entry_row).collect();
    table::print(&["SEQ", "AT", "ACTOR", "ACTION", "TARGET", "DETAIL"], &rows);
    if let Some(next) = page.next_cursor {
        eprintln!("more: --cursor {next}");
    }
    Ok(())
}

async fn verify(args: RemoteOnly) -> Result<(), Failed> {
    let client = client(&args.remote)?;
    let mut params = AuditParams {
        limit: Some(VERIFY_PAGE),
        ..AuditParams::default()
    };
    let mut head = ChainHead::default();
    let mut checked = 0;
    loop {
        let page = client.audit(&params).await?;
        match verify_chain(&page.entries, &mut head) {
            Ok(count) => checked += count,
            Err(broken) => {
                if args.remote.json {
                    print_json(&json!({
                        "intact": false,
                        "entries": checked,
                        "broken": {"seq": broken.seq, "reason": broken.reason},
                    }));
                }
                return Err(Failed::check_failed(format!(
                    "audit trail broken at entry {}: {}",
                    broken.seq, broken.reason
                )));
            }
        }
        match page.next_cursor {
            Some(cursor) => params.cursor = Some(cursor),
            None => break,
        }
    }
    if args.remote.json {
        print_json(&json!({
            "intact": true,
            "entries": checked,
            "last": {"seq": head.seq, "hash": head.hash},
        }));
    } else {
        println!("audit trail intact: {checked} entries");
    }
    Ok(())
}
