//! The data of one invocation's [`Store`](wasmtime::Store): WASI context,
//! resource table, outbound HTTP, the capability provider, the memory
//! guard, the CPU meter and the log book.
//!
//! Each capability's host code borrows only its own part through the view
//! traits (`WasiView`, `WasiHttpView`) or a field getter given to the linker;
//! nothing reaches into the whole struct.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::access::Access;
use super::config::InvocationLimits;
use super::host::Provided;
use super::host::http::OutboundHttp;
use super::logbook::{LogBook, LogBookLimits, LogSource};
use super::stdio::StdioCapture;

/// Component instances, core instances, memories and tables one store may
/// create. A component needs few; the pool bounds them again.
const MAX_INSTANCES_PER_STORE: usize = 64;

/// Everything one invocation owns. Dropped with its store after the call.
pub(crate) struct StepState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_hooks: OutboundHttp,
    pub(crate) provided: Provided,
    table: ResourceTable,
    pub(crate) memory: MemoryGuard,
    pub(crate) cpu: CpuMeter,
    pub(crate) log: LogBook,
    stdout: StdioCapture,
    stderr: StdioCapture,
}

impl StepState {
    /// The state of an invocation that must end by `deadline`.
    pub(crate) fn new(
        limits: &InvocationLimits,
        access: Access,
        deadline: std::time::Instant,
    ) -> Self {
        let log = LogBook::new(LogBookLimits {
            lines: limits.max_log_lines,
            bytes: limits.max_log_bytes,
            line_bytes: limits.max_log_line_bytes,
        });
        let stdout = StdioCapture::new(log.clone(), LogSource::Stdout, limits.max_log_line_bytes);
        let stderr = StdioCapture::new(log.clone(), LogSource::Stderr, limits.max_log_line_bytes);
        // Nothing is granted: no preopened directories, no environment, no
        // arguments, stdin closed, sockets and name lookups off.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            http_hooks: OutboundHttp::new(log.clone(), access.egress, deadline),
            provided: Provided(access.provider),
            table: ResourceTable::new(),
            memory: MemoryGuard::new(limits.memory_bytes, limits.max_table_elements),
            cpu: CpuMeter::new(limits.cpu_ticks()),
            log,
            stdout,
            stderr,
        }
    }

    /// Ends the invocation: its resources go first (an open outbound
    /// response body writes its log line when dropped), then the log book
    /// is all that is left.
    pub(crate) fn into_log(self) -> LogBook {
        self.finish_output();
        let StepState {
            log,
            table,
            wasi,
            http,
            http_hooks,
            provided,
            ..
        } = self;
        drop(table);
        drop((wasi, http, http_hooks, provided));
        log
    }

    /// Moves partial stdout and stderr lines into the log book.
    pub(crate) fn finish_output(&self) {
        self.stdout.finish();
        self.stderr.finish();
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StepState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// Caps the linear memory and tables of one invocation.
///
/// A refused growth is reported to the guest as WebAssembly specifies
/// (`memory.grow` returns -1), and remembered: if the guest then traps, as a
/// Rust guest does on allocation failure, the failure is classified as
/// `memory-limit-exceeded` rather than a plain trap.
#[derive(Debug)]
pub(crate) struct MemoryGuard {
    limit: u64,
    in_use: u64,
    max_table_elements: usize,
    pub(crate) refused: bool,
}

impl MemoryGuard {
    fn new(limit: u64, max_table_elements: usize) -> Self {
        Self {
            limit,
            in_use: 0,
            max_table_elements,
            refused: false,
        }
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

impl ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current) as u64;
        let total = self.in_use.saturating_add(growth);
        if total > self.limit {
            self.refused = true;
            return Ok(false);
        }
        self.in_use = total;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES_PER_STORE
    }

    fn tables(&self) -> usize {
        MAX_INSTANCES_PER_STORE
    }

    fn memories(&self) -> usize {
        MAX_INSTANCES_PER_STORE
    }
}

/// Counts the epoch ticks a guest runs through; each tick is one
/// [`EPOCH_TICK`](super::config::EPOCH_TICK) of execution.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    budget: u64,
    used: u64,
    pub(crate) exhausted: bool,
}

impl CpuMeter {
    fn new(budget: u64) -> Self {
        Self {
            budget,
            used: 0,
            exhausted: false,
        }
    }

    /// Charges one tick; false once the budget is spent.
    pub(crate) fn charge_tick(&mut self) -> bool {
        self.used += 1;
        if self.used >= self.budget {
            self.exhausted = true;
        }
        !self.exhausted
    }
}
