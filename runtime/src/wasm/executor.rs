//! The [`Executor`]: loads components into ready-to-instantiate plugins and
//! runs invocations of them, at most a configured number at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::access::Access;
use super::artifact::{self, ArtifactCache};
use super::bindings::StepPre;
use super::compile;
use super::config::{ExecutorConfig, InvocationLimits};
use super::engine;
use super::epoch::EpochTicker;
use super::error::{ExecutorError, LoadError};
use super::host;
use super::info::PluginInfo;
use super::invoke::{self, Invocation, InvocationReport};
use super::state::StepState;

/// A loaded plugin: its identity, what it says about itself, and the linked,
/// type-checked component ready to instantiate. Cheap to share.
pub struct Plugin {
    digest: String,
    info: PluginInfo,
    pre: StepPre<StepState>,
}

impl Plugin {
    /// sha256 of the component bytes, lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// What `describe` returned.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("digest", &self.digest)
            .field("name", &self.info.name)
            .field("version", &self.info.version)
            .finish_non_exhaustive()
    }
}

struct Inner {
    engine: Engine,
    linker: Linker<StepState>,
    cache: ArtifactCache,
    config: ExecutorConfig,
    slots: Semaphore,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    _ticker: EpochTicker,
}

/// Runs plugins. One per process; cheap to clone.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// Builds the engine, links the host, opens the artifact cache and starts
    /// the epoch ticker.
    pub fn new(config: ExecutorConfig) -> Result<Self, ExecutorError> {
        config.validate()?;
        let engine = engine::serving_engine(&config.pool)?;
        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker)?;
        let cache = ArtifactCache::open(&config.cache_dir, &engine::compatibility_key(&engine))?;
        let ticker = EpochTicker::start(engine.clone())?;
        let slots = usize::try_from(config.pool.max_concurrent_invocations).unwrap_or(usize::MAX);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                slots: Semaphore::new(slots),
                config,
                loaded: Mutex::new(HashMap::new()),
                _ticker: ticker,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ExecutorConfig {
        &self.inner.config
    }

    /// Checks, compiles (in the sandboxed child, once per digest and engine),
    /// links and describes a component.
    ///
    /// Loading the same bytes again returns the same [`Plugin`] without any
    /// work.
    pub async fn load(&self, wasm: &[u8]) -> Result<Arc<Plugin>, LoadError> {
        let inner = &self.inner;
        let limit = inner.config.max_component_bytes;
        if wasm.len() > limit {
            return Err(LoadError::TooLarge {
                size: wasm.len(),
                limit,
            });
        }
        artifact::check_header(wasm)?;
        let digest = artifact::digest(wasm);
        if let Some(plugin) = self.loaded(&digest) {
            return Ok(plugin);
        }
        let component = self.compiled(wasm, &digest).await?;
        let instance_pre = inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| link_error(&e))?;
        let pre =
            StepPre::new(instance_pre).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        let _slot = self.slot().await?;
        let info = invoke::describe(&inner.engine, &pre, &inner.config.default_limits)
            .await
            .map_err(LoadError::Describe)?;
        let plugin = Arc::new(Plugin {
            digest: digest.clone(),
            info: PluginInfo::try_from(info)?,
            pre,
        });
        let mut loaded = inner.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(loaded.entry(digest).or_insert(plugin).clone())
    }

    /// Runs one attempt with the default limits.
    pub async fn invoke(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        input: &str,
    ) -> InvocationReport {
        let limits = &self.inner.config.default_limits;
        self.run_checked(plugin, invocation, input, limits, Access::default())
            .await
    }

    /// Runs one attempt with its own limits, which must fit the pool.
    pub async fn invoke_with_limits(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        input: &str,
        limits: &InvocationLimits,
    ) -> Result<InvocationReport, ExecutorError> {
        self.invoke_with_access(plugin, invocation, input, limits, Access::default())
            .await
    }

    /// Runs one attempt with its own limits and what it may reach outside
    /// its sandbox.
    pub async fn invoke_with_access(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        input: &str,
        limits: &InvocationLimits,
        access: Access,
    ) -> Result<InvocationReport, ExecutorError> {
        self.inner.config.check_limits(limits)?;
        Ok(self
            .run_checked(plugin, invocation, input, limits, access)
            .await)
    }

    async fn run_checked(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        input: &str,
        limits: &InvocationLimits,
        access: Access,
    ) -> InvocationReport {
        // The semaphore is never closed, so acquiring only waits.
        let _slot = self.inner.slots.acquire().await;
        invoke::run(
            &self.inner.engine,
            &plugin.pre,
            invocation,
            input,
            limits,
            access,
        )
        .await
    }

    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, LoadError> {
        self.inner
            .slots
            .acquire()
            .await
            .map_err(|_| LoadError::Host("the executor is shutting down".into()))
    }

    /// The plugin already loaded with this digest, if any.
    pub fn loaded(&self, digest: &str) -> Option<Arc<Plugin>> {
        let loaded = self
            .inner
            .loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loaded.get(digest).cloned()
    }

    /// The compiled component: from the artifact cache, or compiled now in
    /// the sandbox and cached.
    async fn compiled(&self, wasm: &[u8], digest: &str) -> Result<Component, LoadError> {
        let inner = &self.inner;
        let path = inner.cache.artifact_path(digest);
        if path.exists() {
            // SAFETY: files in the artifact cache are written only by our own
            // compiler child and renamed into place after it succeeded (see
            // `artifact`); wasmtime still checks the engine compatibility.
            match unsafe { Component::deserialize_file(&inner.engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(digest, error = %format!("{e:#}"), "discarding an unusable cached artifact");
                    inner.cache.discard(digest);
                }
            }
        }
        let input = inner.cache.scratch_file(wasm)?;
        let output = inner.cache.scratch_output()?;
        compile::compile_in_child(&inner.config.compiler, &input, &output).await?;
        let path = inner.cache.publish(output, digest)?;
        // SAFETY: as above; this file was just written by our compiler child.
        unsafe { Component::deserialize_file(&inner.engine, &path) }
            .map_err(|e| LoadError::Host(format!("cannot load the compiled artifact: {e:#}")))
    }
}

/// Turns a linker refusal into the name of the import that is not offered.
fn link_error(error: &wasmtime::Error) -> LoadError {
    let text = format!("{error:#}");
    match text.split('`').nth(1) {
        Some(import) if text.contains("matching implementation was not found") => {
            LoadError::UnsupportedImport(format!("`{import}`"))
        }
        _ => LoadError::UnsupportedImport(text),
    }
}
