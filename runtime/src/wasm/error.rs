//! Errors of the executor layer.
//!
//! Three families, kept apart on purpose:
//! - [`ExecutorError`]: the host itself could not start (bad configuration,
//!   engine or linker failure); an operator problem.
//! - [`LoadError`]: a component was refused (too big, not a component, wrong
//!   world, compiler blew up, ...); the uploader's problem except where
//!   [`LoadError::is_host_fault`] says otherwise.
//! - [`StepFailure`]: one invocation failed, classified so that the engine
//!   can decide about retries and people can see why.

use serde::{Deserialize, Serialize};

/// The executor could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The configuration does not hold together.
    #[error("invalid executor configuration: {0}")]
    InvalidConfig(String),
    /// wasmtime refused the engine configuration.
    #[error("could not create the WebAssembly engine: {0}")]
    Engine(String),
    /// The host functions could not be linked.
    #[error("could not link the host functions: {0}")]
    Link(String),
    /// The artifact cache directory could not be prepared.
    #[error("artifact cache {path}: {source}")]
    Cache {
        /// The directory.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
}

/// A component was refused, with the reason in words its author can act on.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Over the configured size cap.
    #[error("the component is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Not WebAssembly at all.
    #[error("not a WebAssembly file (no `\\0asm` header)")]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component; build the plugin for the \
         wasm32-wasip2 target (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The bytes do not form a valid component (corrupt, truncated, or using
    /// unsupported features).
    #[error("invalid component: {0}")]
    Invalid(String),
    /// The compiler child ran out of memory or time on this component.
    #[error("compiling the component exceeded the compiler's {0}")]
    CompilerLimit(&'static str),
    /// The component imports something the `baton:plugin` world does not
    /// offer.
    #[error("the component imports {0}, which the baton:plugin step world does not offer")]
    UnsupportedImport(String),
    /// The component does not export the `baton:plugin` step world.
    #[error("the component does not implement the baton:plugin step world: {0}")]
    WrongWorld(String),
    /// `describe` failed.
    #[error("calling describe failed: {0}")]
    Describe(StepFailure),
    /// `describe` returned something unusable.
    #[error("describe returned invalid plugin information: {0}")]
    InvalidInfo(String),
    /// The compiler could not be run, or the cache could not be written: a
    /// fault of this host, not of the component.
    #[error("host failure while loading the component: {0}")]
    Host(String),
}

impl LoadError {
    /// True when the failure is the host's (the component may be fine).
    pub fn is_host_fault(&self) -> bool {
        matches!(self, Self::Host(_))
    }
}

/// The kind of a [`StepFailure`], as a stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The wall-clock timeout passed.
    Timeout,
    /// The guest used up its CPU budget.
    CpuBudgetExceeded,
    /// The guest hit its memory limit.
    MemoryLimitExceeded,
    /// The guest exhausted its WebAssembly stack.
    StackOverflow,
    /// The guest trapped (a panic, `unreachable`, out-of-bounds access, ...).
    Trap,
    /// The output is not JSON or is too large.
    InvalidOutput,
    /// The guest said its input is invalid.
    InvalidInput,
    /// The guest said the failure is permanent.
    Permanent,
    /// The guest said the failure may pass.
    Retryable,
}

impl FailureKind {
    /// The kebab-case name, such as `cpu-budget-exceeded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::CpuBudgetExceeded => "cpu-budget-exceeded",
            Self::MemoryLimitExceeded => "memory-limit-exceeded",
            Self::StackOverflow => "stack-overflow",
            Self::Trap => "trap",
            Self::InvalidOutput => "invalid-output",
            Self::InvalidInput => "invalid-input",
            Self::Permanent => "permanent",
            Self::Retryable => "retryable",
        }
    }

    /// Whether a retry policy may try the step again: only failures that can
    /// pass (the guest's own `retryable`, and timeouts).
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Retryable | Self::Timeout)
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one invocation failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StepFailure {
    /// Stopped after the wall-clock timeout.
    #[error("timeout: the step did not finish within {after_ms} ms")]
    Timeout {
        /// The timeout, in milliseconds.
        after_ms: u64,
    },
    /// Interrupted after using its CPU budget.
    #[error("cpu-budget-exceeded: the step used its CPU budget of {budget_ms} ms")]
    CpuBudgetExceeded {
        /// The budget, in milliseconds.
        budget_ms: u64,
    },
    /// Ran out of its memory limit.
    #[error("memory-limit-exceeded: the step needed more than its {limit_bytes}-byte memory limit")]
    MemoryLimitExceeded {
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// Exhausted its stack (usually unbounded recursion).
    #[error("stack-overflow: the step exhausted its WebAssembly stack")]
    StackOverflow,
    /// Trapped.
    #[error("trap: {message}")]
    Trap {
        /// What happened (with the panic message when the guest printed one).
        message: String,
        /// The WebAssembly backtrace, innermost frame first.
        backtrace: Vec<String>,
    },
    /// Returned output that is not acceptable.
    #[error("invalid-output: {reason}")]
    InvalidOutput {
        /// What is wrong with it.
        reason: String,
    },
    /// The guest refused its input.
    #[error("invalid-input: {message}")]
    InvalidInput {
        /// The guest's message.
        message: String,
    },
    /// The guest reported a permanent failure.
    #[error("permanent: {message}")]
    Permanent {
        /// The guest's message.
        message: String,
    },
    /// The guest reported a failure worth retrying.
    #[error("retryable: {message}")]
    Retryable {
        /// The guest's message.
        message: String,
        /// When the guest suggests retrying, in milliseconds from now.
        retry_after_ms: Option<u64>,
    },
}

impl StepFailure {
    /// The stable kind of this failure.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Timeout { .. } => FailureKind::Timeout,
            Self::CpuBudgetExceeded { .. } => FailureKind::CpuBudgetExceeded,
            Self::MemoryLimitExceeded { .. } => FailureKind::MemoryLimitExceeded,
            Self::StackOverflow => FailureKind::StackOverflow,
            Self::Trap { .. } => FailureKind::Trap,
            Self::InvalidOutput { .. } => FailureKind::InvalidOutput,
            Self::InvalidInput { .. } => FailureKind::InvalidInput,
            Self::Permanent { .. } => FailureKind::Permanent,
            Self::Retryable { .. } => FailureKind::Retryable,
        }
    }
}
