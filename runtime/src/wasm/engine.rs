//! Construction of the wasmtime [`Engine`].
//!
//! Two engines exist: the serving engine (pooling allocator, epoch
//! interruption, async stacks) and the compile-only engine used inside the
//! compiler child process. Both start from [`codegen_config`], so an artifact
//! compiled by the child is accepted by the serving engine; wasmtime checks
//! that on load anyway and refuses a mismatch.

use std::hash::{Hash, Hasher};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::config::PoolConfig;
use super::error::ExecutorError;

/// Extra host stack on top of the WebAssembly stack, for host calls made by
/// the guest (wasmtime requires the async stack to be larger).
const HOST_STACK_HEADROOM: usize = 1 << 20;

/// Bytes of each linear memory, table and async stack that the pool resets
/// with a memset instead of returning to the kernel: reusing a slot then
/// costs no page faults for the pages a small plugin touches on every call.
const KEEP_RESIDENT_BYTES: usize = 64 << 10;
/// Slots whose memory is given back to the kernel in one go: fewer
/// `madvise` calls, so fewer TLB shootdowns across the threads of the process.
const DECOMMIT_BATCH: usize = 16;

/// Everything that affects the machine code wasmtime produces.
fn codegen_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Epoch checks are compiled into the code: they measure CPU time and let
    // a running guest yield to the async runtime.
    config.epoch_interruption(true);
    config.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Disable);
    config
}

/// The engine that runs plugins, with the instance pool sized from `pool`.
pub(crate) fn serving_engine(pool: &PoolConfig) -> Result<Engine, ExecutorError> {
    let mut config = codegen_config();
    config.max_wasm_stack(pool.stack_bytes);
    config.async_stack_size(pool.stack_bytes + HOST_STACK_HEADROOM);
    // Components arrive compiled from the sandboxed child; nothing is compiled
    // in this process.
    config.parallel_compilation(false);

    let slots = pool.max_concurrent_invocations;
    let mut pooling = PoolingAllocationConfig::new();
    pooling
        .total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(pool.core_instances_per_component))
        .total_memories(slots.saturating_mul(pool.memories_per_component))
        .total_tables(slots.saturating_mul(pool.tables_per_component))
        .total_stacks(slots)
        .max_core_instances_per_component(pool.core_instances_per_component)
        .max_memories_per_component(pool.memories_per_component)
        .max_tables_per_component(pool.tables_per_component)
        .max_memory_size(usize::try_from(pool.max_memory_bytes).unwrap_or(usize::MAX))
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES)
        .async_stack_keep_resident(KEEP_RESIDENT_BYTES)
        .decommit_batch_size(DECOMMIT_BATCH.min(slots as usize).max(1));
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config).map_err(|e| ExecutorError::Engine(format!("{e:#}")))
}

/// The engine used by the compiler child: same code generation, no pool.
pub(crate) fn compile_engine() -> Result<Engine, ExecutorError> {
    Engine::new(&codegen_config()).map_err(|e| ExecutorError::Engine(format!("{e:#}")))
}

/// A short, stable name for everything that makes compiled artifacts
/// compatible with this engine (wasmtime's version, target, flags and
/// tunables); cached artifacts live under it, so a new wasmtime or different
/// settings never load an old artifact.
pub(crate) fn compatibility_key(engine: &Engine) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("engine-{:016x}", hasher.finish())
}
