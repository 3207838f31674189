//! Settings of the executor: the per-invocation limits, the size of the
//! instance pool, and how untrusted components are compiled.
//!
//! Every default is a named constant documented here once. Validation of the
//! numbers happens in [`ExecutorConfig::validate`], before any engine exists.

use std::path::PathBuf;
use std::time::Duration;

use super::error::ExecutorError;

/// Default cap on one invocation's linear memory: 64 MiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 64 << 20;
/// Default CPU budget of one invocation: 5 s of guest execution.
pub const DEFAULT_CPU_BUDGET: Duration = Duration::from_secs(5);
/// Default wall-clock timeout of one invocation, host calls included: 30 s.
pub const DEFAULT_WALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Default WebAssembly stack of one invocation: 512 KiB.
pub const DEFAULT_STACK_BYTES: usize = 512 << 10;
/// Default most bytes a guest may pass to the host in one host call: 1 MiB.
pub const DEFAULT_HOSTCALL_FUEL: usize = 1 << 20;
/// Default cap on the JSON output of `run`: 1 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1 << 20;
/// Default number of log lines kept per invocation.
pub const DEFAULT_MAX_LOG_LINES: usize = 1_000;
/// Default number of log bytes kept per invocation: 256 KiB.
pub const DEFAULT_MAX_LOG_BYTES: usize = 256 << 10;
/// Default cap on a single log line: 8 KiB; longer lines are cut.
pub const DEFAULT_MAX_LOG_LINE_BYTES: usize = 8 << 10;
/// Default cap on table elements of one invocation.
pub const DEFAULT_MAX_TABLE_ELEMENTS: usize = 100_000;

/// Default cap on an uploaded component: 64 MiB (a Python component built
/// with componentize-py is about 18 MiB).
pub const DEFAULT_MAX_COMPONENT_BYTES: usize = 64 << 20;
/// Default address-space limit of the compiler child process: 4 GiB.
pub const DEFAULT_COMPILE_MEMORY_LIMIT: u64 = 4 << 30;
/// Default wall-clock limit of the compiler child process: 120 s.
pub const DEFAULT_COMPILE_TIMEOUT: Duration = Duration::from_secs(120);

/// Default number of invocations that may run at the same time.
pub const DEFAULT_MAX_CONCURRENT_INVOCATIONS: u32 = 64;
/// Core instances, memories and tables the pool reserves per component
/// instance. A Python component built with componentize-py uses a handful of
/// each; these leave room for that.
pub const DEFAULT_CORE_INSTANCES_PER_COMPONENT: u32 = 20;
/// Linear memories the pool reserves per component instance.
pub const DEFAULT_MEMORIES_PER_COMPONENT: u32 = 4;
/// Tables the pool reserves per component instance.
pub const DEFAULT_TABLES_PER_COMPONENT: u32 = 8;

/// Interval of the epoch ticker that measures CPU time and lets guests yield.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Limits applied to one invocation of a plugin.
///
/// Every limit turns into its own [`FailureKind`](super::FailureKind) when
/// exceeded, never a panic of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationLimits {
    /// Most bytes of linear memory, summed over the component's memories.
    pub memory_bytes: u64,
    /// Guest execution time before the invocation is interrupted, measured in
    /// epoch ticks of [`EPOCH_TICK`].
    pub cpu_budget: Duration,
    /// Wall-clock time before the invocation is abandoned, including time the
    /// guest spends blocked in host calls.
    pub wall_timeout: Duration,
    /// Most bytes the guest may hand to the host in one host call.
    pub hostcall_fuel: usize,
    /// Most bytes of JSON output.
    pub max_output_bytes: usize,
    /// Most log lines kept; further lines are counted and dropped.
    pub max_log_lines: usize,
    /// Most log bytes kept; further lines are counted and dropped.
    pub max_log_bytes: usize,
    /// Longest log line kept whole; longer lines are cut.
    pub max_log_line_bytes: usize,
    /// Most table elements.
    pub max_table_elements: usize,
}

impl Default for InvocationLimits {
    fn default() -> Self {
        Self {
            memory_bytes: DEFAULT_MEMORY_LIMIT,
            cpu_budget: DEFAULT_CPU_BUDGET,
            wall_timeout: DEFAULT_WALL_TIMEOUT,
            hostcall_fuel: DEFAULT_HOSTCALL_FUEL,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            max_log_lines: DEFAULT_MAX_LOG_LINES,
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
            max_log_line_bytes: DEFAULT_MAX_LOG_LINE_BYTES,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
        }
    }
}

impl InvocationLimits {
    /// The CPU budget in epoch ticks, at least one.
    pub(crate) fn cpu_ticks(&self) -> u64 {
        let ticks = self.cpu_budget.as_nanos() / EPOCH_TICK.as_nanos();
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    fn validate(&self, pool: &PoolConfig) -> Result<(), ExecutorError> {
        let invalid = |what: &str| Err(ExecutorError::InvalidConfig(what.to_owned()));
        if self.memory_bytes == 0 {
            return invalid("the memory limit must be above zero");
        }
        if self.memory_bytes > pool.max_memory_bytes {
            return invalid(&format!(
                "the memory limit ({} bytes) is above the pool's largest memory ({} bytes)",
                self.memory_bytes, pool.max_memory_bytes
            ));
        }
        if self.cpu_budget.is_zero() || self.wall_timeout.is_zero() {
            return invalid("the CPU budget and the wall-clock timeout must be above zero");
        }
        if self.max_output_bytes == 0 || self.hostcall_fuel == 0 {
            return invalid("the output cap and the hostcall fuel must be above zero");
        }
        Ok(())
    }
}

/// Size of the pooling instance allocator, reserved once for the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Invocations that may run at once; further callers wait for a slot.
    pub max_concurrent_invocations: u32,
    /// Largest linear memory any invocation may be granted. Per-invocation
    /// limits are checked against it.
    pub max_memory_bytes: u64,
    /// WebAssembly stack of each invocation.
    pub stack_bytes: usize,
    /// Core instances reserved per component instance.
    pub core_instances_per_component: u32,
    /// Linear memories reserved per component instance.
    pub memories_per_component: u32,
    /// Tables reserved per component instance.
    pub tables_per_component: u32,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_concurrent_invocations: DEFAULT_MAX_CONCURRENT_INVOCATIONS,
            // Leave room for per-plugin overrides above the default limit.
            max_memory_bytes: 4 * DEFAULT_MEMORY_LIMIT,
            stack_bytes: DEFAULT_STACK_BYTES,
            core_instances_per_component: DEFAULT_CORE_INSTANCES_PER_COMPONENT,
            memories_per_component: DEFAULT_MEMORIES_PER_COMPONENT,
            tables_per_component: DEFAULT_TABLES_PER_COMPONENT,
        }
    }
}

/// How untrusted components are compiled: in a child process running the
/// `baton` binary, with an address-space limit and a wall-clock kill, because
/// a hostile module can make the compiler itself blow up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerSandbox {
    /// The `baton` executable re-invoked as the compiler.
    pub program: PathBuf,
    /// Address-space limit of the child (`RLIMIT_AS`).
    pub memory_limit_bytes: u64,
    /// Wall-clock limit; the child is killed after it.
    pub timeout: Duration,
}

impl CompilerSandbox {
    /// A sandbox that runs `program` with the default limits.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            memory_limit_bytes: DEFAULT_COMPILE_MEMORY_LIMIT,
            timeout: DEFAULT_COMPILE_TIMEOUT,
        }
    }
}

/// Everything the executor needs to start.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Directory of compiled artifacts; only Baton writes here and only
    /// artifacts from here are ever loaded as native code.
    pub cache_dir: PathBuf,
    /// How untrusted components are compiled.
    pub compiler: CompilerSandbox,
    /// Largest component accepted, in bytes.
    pub max_component_bytes: usize,
    /// Size of the instance pool.
    pub pool: PoolConfig,
    /// Limits of an invocation that does not bring its own.
    pub default_limits: InvocationLimits,
}

impl ExecutorConfig {
    /// A configuration with default limits, caching under `cache_dir` and
    /// compiling with the `baton` executable at `program`.
    pub fn new(cache_dir: impl Into<PathBuf>, program: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            compiler: CompilerSandbox::new(program),
            max_component_bytes: DEFAULT_MAX_COMPONENT_BYTES,
            pool: PoolConfig::default(),
            default_limits: InvocationLimits::default(),
        }
    }

    /// Checks that the numbers fit together.
    pub fn validate(&self) -> Result<(), ExecutorError> {
        if self.pool.max_concurrent_invocations == 0 {
            return Err(ExecutorError::InvalidConfig(
                "at least one concurrent invocation is needed".into(),
            ));
        }
        if self.max_component_bytes == 0 {
            return Err(ExecutorError::InvalidConfig(
                "the component size cap must be above zero".into(),
            ));
        }
        self.default_limits.validate(&self.pool)
    }

    /// Checks limits given for one invocation against this configuration.
    pub(crate) fn check_limits(&self, limits: &InvocationLimits) -> Result<(), ExecutorError> {
        limits.validate(&self.pool)
    }
}
