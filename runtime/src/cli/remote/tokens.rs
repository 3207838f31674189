//! `baton token create|list|revoke` against a server.

use std::process::ExitCode;

use serde_json::json;

use super::super::args::TokenCommand;
use super::{client, finish, print_json, segment, table, text};

pub(crate) async fn run(command: TokenCommand) -> ExitCode {
    finish(async {
        match command {
            TokenCommand::Create(args) => {
                let created = client(&args.remote)?
                    .post(
                        "/v1/tokens",
                        &json!({"name": args.name, "role": args.role}),
                        &[],
                    )
                    .await?;
                if args.remote.json {
                    print_json(&created);
                } else {
                    eprintln!(
                        "created token `{}` ({}); it is shown only this once:",
                        text(&created, "name"),
                        text(&created, "role")
                    );
                    println!("{}", text(&created, "token"));
                }
            }
            TokenCommand::List(args) => {
                let tokens = client(&args.remote)?.get("/v1/tokens").await?;
                if args.remote.json {
                    print_json(&tokens);
                } else {
                    let rows: Vec<Vec<String>> = tokens
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|t| {
                            vec![
                                text(t, "name"),
                                text(t, "role"),
                                text(t, "created_by"),
                                text(t, "created_at"),
                                text(t, "revoked_at"),
                            ]
                        })
                        .collect();
                    table::print(&["NAME", "ROLE", "CREATED BY", "CREATED", "REVOKED"], &rows);
                }
            }
            TokenCommand::Revoke(args) => {
                client(&args.remote)?
                    .delete(&format!("/v1/tokens/{}", segment(&args.name)))
                    .await?;
                if !args.remote.json {
                    eprintln!("revoked token `{}`", args.name);
                }
            }
        }
        Ok(())
    })
    .await
}
