//! `baton secret set|list|rm` against a server (`rekey` works on a data
//! directory: `cli/rekey.rs`). A value is read from stdin
//! or a file, never from the command line, and is never printed: what
//! comes back and what is shown is the secret's metadata.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use super::super::args::{SecretCommand, SecretRmArgs, SecretSetArgs};
use super::table::print_fields;
use super::{Failed, client, finish, print_json, table, text};

pub(crate) async fn run(command: SecretCommand) -> ExitCode {
    match command {
        SecretCommand::Set(args) => finish(set(args)).await,
        SecretCommand::List(args) => {
            finish(async {
                let secrets = client(&args.remote)?.secrets().await?;
                if args.remote.json {
                    print_json(&secrets);
                } else {
                    print_list(&secrets);
                }
                Ok(())
            })
            .await
        }
        SecretCommand::Rm(args) => finish(rm(args)).await,
        // Local, on a data directory: no server involved.
        SecretCommand::Rekey(args) => super::super::rekey::run(args).await,
    }
}

async fn set(args: SecretSetArgs) -> Result<(), Failed> {
    let client = client(&args.remote)?;
    let value = read_value(args.file.as_deref())?;
    let (info, created) = client
        .put_secret(&args.name, &value, args.description.as_deref())
        .await?;
    if args.remote.json {
        print_json(&info);
        return Ok(());
    }
    let action = if created { "created" } else { "replaced" };
    println!("{action} secret {}", text(&info, "name"));
    let mut fields = Vec::new();
    let description = text(&info, "description");
    if !description.is_empty() {
        fields.push(("description", description));
    }
    fields.push(("created", text(&info, "created_at")));
    fields.push((
        "updated",
        format!(
            "{} by {}",
            text(&info, "updated_at"),
            text(&info, "updated_by")
        ),
    ));
    print_fields(&fields);
    Ok(())
}

async fn rm(args: SecretRmArgs) -> Result<(), Failed> {
    client(&args.remote)?.delete_secret(&args.name).await?;
    if !args.remote.json {
        println!("removed secret {}", args.name);
    }
    Ok(())
}

fn print_list(secrets: &Value) {
    let rows: Vec<Vec<String>> = secrets
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            vec![
                text(s, "name"),
                text(s, "updated_at"),
                text(s, "updated_by"),
                text(s, "description"),
            ]
        })
        .collect();
    table::print(&["NAME", "UPDATED", "BY", "DESCRIPTION"], &rows);
}

/// The value: a file's text, or stdin's, less one trailing newline.
fn read_value(file: Option<&Path>) -> Result<String, Failed> {
    let bytes = match file {
        Some(path) => std::fs::read(path)
            .map_err(|e| Failed::usage(format!("cannot read {}: {e}", path.display())))?,
        None => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("reading the value from stdin; end it with Ctrl-D");
            }
            let mut bytes = Vec::new();
            stdin
                .read_to_end(&mut bytes)
                .map_err(|e| Failed::usage(format!("cannot read stdin: {e}")))?;
            bytes
        }
    };
    let value = String::from_utf8(bytes)
        .map_err(|_| Failed::usage("the secret value is not UTF-8 text"))?;
    let value = strip_newline(value);
    if value.is_empty() {
        return Err(Failed::usage(
            "the secret value is empty: pipe it on stdin (`echo \"$VALUE\" | baton secret set \
             NAME`) or give --file",
        ));
    }
    Ok(value)
}

/// Removes one trailing newline (`\n` or `\r\n`), as `echo` and editors add.
fn strip_newline(mut value: String) -> String {
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::strip_newline;

    #[test]
    fn one_trailing_newline_is_removed() {
        for (given, kept) in [
            ("token\n", "token"),
            ("token\r\n", "token"),
            ("token\n\n", "token\n"),
            ("token", "token"),
            (" token \n", " token "),
            ("\n", ""),
        ] {
            assert_eq!(strip_newline(given.to_string()), kept, "{given:?}");
        }
    }
}
