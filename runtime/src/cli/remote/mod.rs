//! The CLI as a client of a server (`BATON_URL`, `BATON_TOKEN`): plugin
//! and grant, workflow, run, token, secret and audit commands,
//! `apply|get|delete` of resources, and approvals. Output is a table for
//! people or the server's JSON with `--json`; errors print the server's
//! problem.
//!
//! Exit status: 0 done, 1 a watched run failed or was cancelled, or the
//! audit trail is broken, 2 bad usage, 3 the server refused the request, 4
//! the server could not be reached.

pub(crate) mod approvals;
pub(crate) mod audit;
mod capabilities;
pub(crate) mod grants;
pub(crate) mod registry;
pub(crate) mod resources;
pub(crate) mod runs;
pub(crate) mod secrets;
mod table;
pub(crate) mod tokens;

use std::process::ExitCode;

use baton::client::{Client, ClientError};
use serde_json::Value;

use super::args::Remote;
use super::{EXIT_REFUSED, EXIT_STEP_FAILED};

/// Exit code for bad usage.
const EXIT_USAGE: u8 = 2;
/// Exit code when the server cannot be reached.
const EXIT_UNREACHABLE: u8 = 4;

/// A failed command: exit code and message.
pub(crate) struct Failed(u8, String);

impl From<ClientError> for Failed {
    fn from(error: ClientError) -> Failed {
        let code = match &error {
            ClientError::Problem { .. } | ClientError::Unexpected(_) => EXIT_REFUSED,
            ClientError::Unreachable { .. } => EXIT_UNREACHABLE,
            ClientError::Usage(_) => EXIT_USAGE,
        };
        Failed(code, error.to_string())
    }
}

impl Failed {
    pub(crate) fn usage(message: impl Into<String>) -> Failed {
        Failed(EXIT_USAGE, message.into())
    }

    /// A watched run that did not succeed.
    pub(crate) fn run_failed(message: impl Into<String>) -> Failed {
        Failed(EXIT_STEP_FAILED, message.into())
    }

    /// A check that found a fault (the audit trail is broken); the same
    /// status as a failed run.
    pub(crate) fn check_failed(message: impl Into<String>) -> Failed {
        Failed(EXIT_STEP_FAILED, message.into())
    }
}

/// Runs a command body and turns its result into an exit code.
pub(crate) async fn finish(result: impl Future<Output = Result<(), Failed>>) -> ExitCode {
    match result.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed(code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

pub(crate) fn client(remote: &Remote) -> Result<Client, Failed> {
    Ok(Client::new(&remote.url, remote.token.clone())?)
}

/// Prints a JSON value, pretty.
pub(crate) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// A string field, or empty.
pub(crate) fn text(value: &Value, field: &str) -> String {
    match &value[field] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Path segment escaping for names and ids taken from the command line.
pub(crate) use baton::client::segment;
