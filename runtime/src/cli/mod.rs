//! The command line: argument parsing and dispatch to one module per command
//! group. Each command returns an [`ExitCode`]; errors are printed here, once.

mod args;
mod embedded;
mod input;
mod plugin;
mod progress;
mod rekey;
mod remote;
mod serve;
mod workflow;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Exit code when a step ran and failed.
pub(crate) const EXIT_STEP_FAILED: u8 = 1;
/// Exit code when the component was refused or the host failed.
pub(crate) const EXIT_REFUSED: u8 = 3;

/// Entry point of the binary.
pub(crate) fn main() -> ExitCode {
    // The hidden compiler subcommand runs in a sandboxed child: keep it free
    // of argument parsing, logging and runtimes.
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw
        .get(1)
        .is_some_and(|a| a == baton::wasm::COMPILE_SUBCOMMAND)
        && raw.len() == 4
    {
        let request = baton::wasm::CompileRequest {
            input: raw[2].clone().into(),
            output: raw[3].clone().into(),
        };
        let code = baton::wasm::run_compile_child(&request);
        return ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX));
    }

    let cli = Cli::parse();
    // A server reports what it does; one-shot commands only what goes wrong.
    let level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    init_tracing(cli.log_json, level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_REFUSED);
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Plugin(command) => plugin::run(command).await,
            Command::Workflow(command) => workflow::run(command).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Run(command) => remote::runs::run(command).await,
            Command::Token(command) => remote::tokens::run(command).await,
            Command::Audit(command) => remote::audit::run(command).await,
            Command::Apply(args) => remote::resources::apply(args).await,
            Command::Get(args) => remote::resources::get(args).await,
            Command::Delete(args) => remote::resources::delete(args).await,
            Command::Approval(command) => remote::approvals::run(command).await,
            Command::Secret(command) => remote::secrets::run(command).await,
        }
    })
}

fn init_tracing(json: bool, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colours only on a terminal: a log file or journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
