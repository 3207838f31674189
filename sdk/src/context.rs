//! [`Context`] (which attempt is running) and [`Capabilities`] (what the
//! plugin asks to be granted).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bindings::baton::plugin::types as wit;

/// Which attempt of which step is running.
#[derive(Debug, Clone)]
pub struct Context {
    invocation: wit::Invocation,
}

impl Context {
    pub(crate) fn new(invocation: wit::Invocation) -> Self {
        Self { invocation }
    }

    /// The workflow run.
    pub fn run_id(&self) -> &str {
        &self.invocation.run_id
    }

    /// The step inside the workflow.
    pub fn step_id(&self) -> &str {
        &self.invocation.step_id
    }

    /// Attempt number, from 1.
    pub fn attempt(&self) -> u32 {
        self.invocation.attempt
    }

    /// The same for every attempt of this step in this run: send it to
    /// external systems so a retry does not repeat a side effect.
    pub fn idempotency_key(&self) -> &str {
        &self.invocation.idempotency_key
    }

    /// When the host stops this attempt.
    pub fn deadline(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.invocation.deadline_unix_ms)
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn time_left(&self) -> Duration {
        self.deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}

/// What a plugin asks to be granted, built with chained calls:
///
/// ```
/// # use baton_sdk::Capabilities;
/// let wanted = Capabilities::default()
///     .outbound_host("https://rt.example.com")
///     .secret("rt-token")
///     .kv()
///     .event("ticket.created");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    outbound_hosts: Vec<String>,
    secrets: Vec<String>,
    kv: bool,
    events: Vec<String>,
}

impl Capabilities {
    /// Asks for outbound HTTP to `origin` (such as `https://api.example.com`
    /// or `https://*.example.com:8443`).
    pub fn outbound_host(mut self, origin: &str) -> Self {
        self.outbound_hosts.push(origin.to_owned());
        self
    }

    /// Asks to read the secret `name`.
    pub fn secret(mut self, name: &str) -> Self {
        self.secrets.push(name.to_owned());
        self
    }

    /// Asks for key-value state.
    pub fn kv(mut self) -> Self {
        self.kv = true;
        self
    }

    /// Asks to emit events of `event_type`.
    pub fn event(mut self, event_type: &str) -> Self {
        self.events.push(event_type.to_owned());
        self
    }
}

impl From<Capabilities> for wit::Capabilities {
    fn from(c: Capabilities) -> Self {
        Self {
            outbound_hosts: c.outbound_hosts,
            secrets: c.secrets,
            kv: c.kv,
            events: c.events,
        }
    }
}
