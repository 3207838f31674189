//! `baton workflow run|resume|validate`: the engine embedded in the CLI,
//! on a SQLite database in a data directory (or a temporary one; see
//! [`super::embedded`]).

use std::path::Path;
use std::process::ExitCode;

use baton::engine::{Engine, StartRun, SystemClock};
use baton::store::{RunRecord, RunStatus, SqliteStore, Store};

use super::args::{
    EngineArgs, PluginFiles, ResumeArgs, ValidateArgs, WorkflowCommand, WorkflowRunArgs,
};
use super::embedded::{EXIT_USAGE, Failed, open, refused};
use super::{EXIT_STEP_FAILED, progress};

/// Run starts in flight at once with `--inputs`.
const STARTS_AT_ONCE: usize = 256;

pub(crate) async fn run(command: WorkflowCommand) -> ExitCode {
    let result = match command {
        WorkflowCommand::Run(args) => run_workflow(args).await,
        WorkflowCommand::Resume(args) => resume(args).await,
        WorkflowCommand::Validate(args) => validate(args).await,
        WorkflowCommand::Apply(args) => return super::remote::registry::apply(args).await,
        WorkflowCommand::List(args) => return super::remote::registry::list_workflows(args).await,
        WorkflowCommand::Show(args) => return super::remote::registry::show_workflow(args).await,
    };
    result.unwrap_or_else(|(code, message)| {
        eprintln!("error: {message}");
        ExitCode::from(code)
    })
}

/// The progress display, when shown.
struct Display(
    Option<(
        tokio::sync::oneshot::Sender<Vec<String>>,
        tokio::task::JoinHandle<()>,
    )>,
);

impl Display {
    fn start(engine: &Engine<SqliteStore>, quiet: bool) -> Display {
        Display((!quiet).then(|| {
            let (stop, stopped) = tokio::sync::oneshot::channel();
            let clock = SystemClock;
            let task = tokio::spawn(progress::print(engine.subscribe(), stopped, move || {
                baton::engine::Clock::now(&clock)
            }));
            (stop, task)
        }))
    }

    /// Shows the rest, up to the final status of each of `runs`, then
    /// stops.
    async fn finish(self, runs: &[RunRecord]) {
        if let Some((stop, task)) = self.0 {
            let _ = stop.send(runs.iter().map(|run| run.id.clone()).collect());
            let _ = task.await;
        }
    }
}

async fn add_plugins(engine: &Engine<SqliteStore>, files: &PluginFiles) -> Result<(), Failed> {
    for spec in &files.plugins {
        let (name, path) = match spec.split_once('=') {
            Some((name, path)) => (Some(name), Path::new(path)),
            None => (None, Path::new(spec.as_str())),
        };
        let bytes = std::fs::read(path)
            .map_err(|e| (EXIT_USAGE, format!("cannot read {}: {e}", path.display())))?;
        let record = engine
            .add_plugin(&bytes)
            .await
            .map_err(|e| refused(format!("{}: {e}", path.display())))?;
        if let Some(name) = name
            && name != record.name
        {
            return Err(refused(format!(
                "{} describes itself as plugin `{}`, not `{name}`",
                path.display(),
                record.name
            )));
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, Failed> {
    super::input::read_text(path).map_err(|e| (EXIT_USAGE, e))
}

fn inputs(args: &WorkflowRunArgs) -> Result<Vec<serde_json::Value>, Failed> {
    let parse = |text: &str, what: &str| {
        serde_json::from_str(text)
            .map_err(|e| (EXIT_USAGE, format!("{what} is not valid JSON: {e}")))
    };
    if let Some(path) = &args.inputs {
        let text = read(path)?;
        return text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| parse(line, &format!("line {} of {}", n + 1, path.display())))
            .collect();
    }
    match &args.input_file {
        Some(path) => Ok(vec![parse(&read(path)?, &path.display().to_string())?]),
        None => Ok(vec![parse(&args.input, "--input")?]),
    }
}

async fn run_workflow(args: WorkflowRunArgs) -> Result<ExitCode, Failed> {
    let source = read(&args.file)?;
    let inputs = inputs(&args)?;
    let embedded = open(&args.engine, false).await?;
    let engine = &embedded.engine;
    add_plugins(engine, &args.plugins).await?;
    let saved = engine
        .save_workflow(&source)
        .await
        .map_err(|e| refused(format!("{}: {e}", args.file.display())))?;
    let display = Display::start(engine, args.engine.quiet);
    let many = args.inputs.is_some();
    let runs = start_all(engine, &saved.name, inputs, many).await?;
    let finished = wait_all(engine, &runs).await?;
    display.finish(&finished).await;
    let code = report(engine, &finished, args.engine.json, many).await?;
    engine.shutdown().await;
    engine.store().close().await;
    Ok(code)
}

/// Starts one run per input, many at once so that their starts share
/// commits; with `print`, each run id goes to stdout as soon as its start is
/// durable.
async fn start_all(
    engine: &Engine<SqliteStore>,
    workflow: &str,
    inputs: Vec<serde_json::Value>,
    print: bool,
) -> Result<Vec<String>, Failed> {
    let mut pending = tokio::task::JoinSet::new();
    let mut runs = Vec::with_capacity(inputs.len());
    let mut inputs = inputs.into_iter();
    loop {
        while pending.len() < STARTS_AT_ONCE {
            let Some(input) = inputs.next() else { break };
            let engine = engine.clone();
            let request = StartRun::new(workflow, input);
            pending.spawn(async move { engine.start_run(request).await });
        }
        let Some(joined) = pending.join_next().await else {
            break;
        };
        let run = joined
            .map_err(|e| refused(format!("starting a run: {e}")))?
            .map_err(refused)?;
        if print {
            println!("{}", run.id);
        }
        runs.push(run.id);
    }
    Ok(runs)
}

async fn wait_all(engine: &Engine<SqliteStore>, runs: &[String]) -> Result<Vec<RunRecord>, Failed> {
    let mut finished = Vec::with_capacity(runs.len());
    for id in runs {
        finished.push(engine.wait_for_run(id).await.map_err(refused)?);
    }
    Ok(finished)
}

/// Prints the final state and chooses the exit code.
async fn report(
    engine: &Engine<SqliteStore>,
    runs: &[RunRecord],
    json: bool,
    many: bool,
) -> Result<ExitCode, Failed> {
    let all_succeeded = runs.iter().all(|r| r.status == RunStatus::Succeeded);
    if many {
        let succeeded = runs
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .count();
        eprintln!(
            "{} runs: {succeeded} succeeded, {} did not",
            runs.len(),
            runs.len() - succeeded
        );
    } else if let Some(run) = runs.first() {
        if json {
            let state = engine.run_state(&run.id).await.map_err(refused)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&state).unwrap_or_default()
            );
        } else {
            match run.status {
                RunStatus::Succeeded => println!("{}", pretty(run.output.as_deref())),
                status => eprintln!(
                    "run {} {status}: {}",
                    run.id,
                    run.error.as_deref().unwrap_or("")
                ),
            }
        }
    }
    Ok(if all_succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_STEP_FAILED)
    })
}

fn pretty(text: Option<&str>) -> String {
    text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| "null".into())
}

async fn resume(args: ResumeArgs) -> Result<ExitCode, Failed> {
    if args.engine.data_dir.is_none() {
        return Err((
            EXIT_USAGE,
            "resume needs --data-dir (or BATON_DATA_DIR)".into(),
        ));
    }
    let embedded = open(&args.engine, true).await?;
    let engine = &embedded.engine;
    let display = Display::start(engine, args.engine.quiet);
    let mut ids = Vec::new();
    for status in [RunStatus::Running, RunStatus::Compensating] {
        let runs = engine
            .store()
            .runs(Some(status), u32::MAX)
            .await
            .map_err(refused)?;
        ids.extend(
            runs.into_iter()
                .filter(|r| r.parent_run.is_none())
                .map(|r| r.id),
        );
    }
    let finished = wait_all(engine, &ids).await?;
    display.finish(&finished).await;
    let code = report(engine, &finished, args.engine.json, true).await?;
    engine.shutdown().await;
    engine.store().close().await;
    Ok(code)
}

async fn validate(args: ValidateArgs) -> Result<ExitCode, Failed> {
    let engine_args = EngineArgs {
        data_dir: None,
        cache_dir: args.cache_dir.clone(),
        concurrency: 1,
        lease: baton::engine::DEFAULT_LEASE,
        max_payload: baton::engine::DEFAULT_MAX_PAYLOAD_BYTES as u64,
        ca_file: None,
        quiet: true,
        json: false,
    };
    let source = read(&args.file)?;
    let embedded = open(&engine_args, false).await?;
    add_plugins(&embedded.engine, &args.plugins).await?;
    let saved = embedded
        .engine
        .save_workflow(&source)
        .await
        .map_err(|e| refused(format!("{}: {e}", args.file.display())))?;
    println!(
        "{}: workflow `{}` is valid ({} steps, {} compensation steps)",
        args.file.display(),
        saved.name,
        saved.plan.steps.len(),
        saved.plan.on_failure.len()
    );
    embedded.engine.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
