//! `baton plugin run` and `baton plugin inspect`: the plugin author's inner
//! loop, running a component locally with the same executor and limits the
//! server uses. The remote plugin commands are dispatched from here to
//! `remote::registry` and `remote::grants`.

use std::path::PathBuf;
use std::process::ExitCode;

use baton::wasm::{
    Executor, ExecutorConfig, Invocation, InvocationLimits, InvocationReport, LogSource, Plugin,
    StepFailure,
};
use serde_json::json;

use super::args::{ComponentArgs, InspectArgs, PluginCommand, RunArgs};
use super::{EXIT_REFUSED, EXIT_STEP_FAILED};

/// Invocations `plugin run` may need at once: the describe call and the run.
const LOCAL_POOL_SLOTS: u32 = 2;

pub(crate) async fn run(command: PluginCommand) -> ExitCode {
    match command {
        PluginCommand::Run(args) => run_plugin(args).await,
        PluginCommand::Inspect(args) => inspect(args).await,
        PluginCommand::Push(args) => super::remote::registry::push(args).await,
        PluginCommand::List(args) => super::remote::registry::list_plugins(args).await,
        PluginCommand::Show(args) => super::remote::registry::show_plugin(args).await,
        PluginCommand::Grant(args) => super::remote::grants::grant(args).await,
        PluginCommand::Revoke(args) => super::remote::grants::revoke(args).await,
        PluginCommand::Grants(args) => super::remote::grants::list(args).await,
    }
}

async fn inspect(args: InspectArgs) -> ExitCode {
    let (_, plugin) = match load(&args.component, InvocationLimits::default(), None).await {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let shown = json!({
        "digest": plugin.digest(),
        "name": plugin.info().name,
        "version": plugin.info().version,
        "description": plugin.info().description,
        "capabilities": plugin.info().capabilities,
        "input_schema": plugin.info().input_schema,
        "output_schema": plugin.info().output_schema,
    });
    print_json(&shown);
    ExitCode::SUCCESS
}

async fn run_plugin(args: RunArgs) -> ExitCode {
    let input = match read_input(&args) {
        Ok(input) => input,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_REFUSED);
        }
    };
    let limits = InvocationLimits {
        memory_bytes: args.memory,
        cpu_budget: args.cpu,
        wall_timeout: args.timeout,
        max_output_bytes: usize::try_from(args.max_output).unwrap_or(usize::MAX),
        ..InvocationLimits::default()
    };
    let stack = usize::try_from(args.stack).unwrap_or(usize::MAX);
    let (executor, plugin) = match load(&args.component, limits.clone(), Some(stack)).await {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let invocation = Invocation {
        run_id: args.run_id.clone(),
        step_id: args.step_id.clone(),
        attempt: args.attempt,
        idempotency_key: format!("{}/{}", args.run_id, args.step_id),
    };
    let report = executor.invoke(&plugin, &invocation, &input).await;
    if args.json {
        print_json(&report_json(&report));
    } else {
        print_logs(&report);
        if let Ok(output) = &report.outcome {
            print_json(output);
        }
    }
    match &report.outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(failure) => {
            print_failure(failure);
            ExitCode::from(EXIT_STEP_FAILED)
        }
    }
}

/// Builds a small executor and loads the component into it; on failure the
/// error is printed and the exit code returned.
async fn load(
    args: &ComponentArgs,
    limits: InvocationLimits,
    stack_bytes: Option<usize>,
) -> Result<(Executor, std::sync::Arc<Plugin>), ExitCode> {
    let refused = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_REFUSED)
    };
    let wasm = std::fs::read(&args.component)
        .map_err(|e| refused(format!("cannot read {}: {e}", args.component.display())))?;
    let program = std::env::current_exe()
        .map_err(|e| refused(format!("cannot find the baton executable: {e}")))?;
    let cache_dir = args.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let mut config = ExecutorConfig::new(cache_dir, program);
    config.pool.max_concurrent_invocations = LOCAL_POOL_SLOTS;
    config.pool.max_memory_bytes = config.pool.max_memory_bytes.max(limits.memory_bytes);
    config.default_limits = limits;
    if let Some(stack_bytes) = stack_bytes {
        config.pool.stack_bytes = stack_bytes;
    }
    let executor = Executor::new(config).map_err(|e| refused(e.to_string()))?;
    let plugin = executor
        .load(&wasm)
        .await
        .map_err(|e| refused(format!("{} was refused: {e}", args.component.display())))?;
    Ok((executor, plugin))
}

fn read_input(args: &RunArgs) -> Result<String, String> {
    let text = super::input::input_text(&args.input, args.input_file.as_deref())?;
    serde_json::from_str::<serde::de::IgnoredAny>(&text)
        .map_err(|e| format!("the input is not valid JSON: {e}"))?;
    Ok(text)
}

pub(crate) fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("baton")
}

fn print_logs(report: &InvocationReport) {
    for line in &report.logs {
        let source = match line.source {
            LogSource::Plugin => "",
            LogSource::Stdout => " stdout",
            LogSource::Stderr => " stderr",
            LogSource::Host => " host",
        };
        eprintln!("[{}{source}] {}", line.level.as_str(), line.message);
    }
    if report.logs_dropped > 0 {
        eprintln!("({} further log lines dropped)", report.logs_dropped);
    }
}

fn print_failure(failure: &StepFailure) {
    eprintln!("error: {failure}");
    if let StepFailure::Trap { backtrace, .. } = failure {
        for frame in backtrace {
            eprintln!("    at {frame}");
        }
    }
}

fn report_json(report: &InvocationReport) -> serde_json::Value {
    json!({
        "output": report.outcome.as_ref().ok(),
        "error": report.outcome.as_ref().err(),
        "logs": report.logs,
        "logs_dropped": report.logs_dropped,
        "duration_ms": report.duration.as_secs_f64() * 1000.0,
    })
}

fn print_json(value: &serde_json::Value) {
    // Serialising a Value cannot fail.
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
