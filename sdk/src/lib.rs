//! Write [Baton](https://github.com/baton-run/baton) plugins in Rust.
//!
//! A plugin is one WebAssembly component that Baton runs as a workflow step.
//! With this crate you write an ordinary function over serde types; the SDK
//! handles the bindings, JSON, error mapping and logging.
//!
//! # A complete plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "greet"            # the plugin name: lowercase, digits and '-'
//! version = "0.1.0"         # the plugin version
//! description = "Greets someone"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! baton-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! schemars = "1"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use baton_sdk::{Context, Step, StepError, log};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Input {
//!     name: String,
//! }
//!
//! #[derive(Serialize, JsonSchema)]
//! struct Output {
//!     greeting: String,
//! }
//!
//! struct Greet;
//!
//! impl Step for Greet {
//!     type Input = Input;
//!     type Output = Output;
//!
//!     fn run(ctx: &Context, input: Input) -> Result<Output, StepError> {
//!         if input.name.is_empty() {
//!             return Err(StepError::invalid_input("name must not be empty"));
//!         }
//!         log::info(&format!("attempt {} of step {}", ctx.attempt(), ctx.step_id()));
//!         Ok(Output { greeting: format!("Hello, {}!", input.name) })
//!     }
//! }
//!
//! baton_sdk::export_step!(Greet);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`, then try it:
//!
//! ```text
//! baton plugin run target/wasm32-wasip2/release/greet.wasm --input '{"name":"Ada"}'
//! ```
//!
//! # What the SDK does for you
//!
//! - `describe` is generated: name, version and description come from the
//!   crate's `Cargo.toml`, the input and output JSON Schemas from your types
//!   (derive [`schemars::JsonSchema`]), and the capabilities from
//!   [`Step::capabilities`].
//! - Input that does not deserialise into [`Step::Input`] fails the step as
//!   invalid input (never retried); the output is serialised for you.
//! - Host capabilities are plain functions: [`log`], [`kv`], [`secrets`],
//!   [`events`] and the [`http`] client. The host refuses anything not
//!   granted to the plugin; a refusal is an error value you can handle, and
//!   `?` turns it into a [`StepError`].

mod capabilities;
mod context;
mod error;
pub mod http;

#[doc(hidden)]
pub mod bindings;

pub use capabilities::{events, kv, log, secrets};
pub use context::{Capabilities, Context};
pub use error::{Denied, StepError};
pub use schemars;
pub use serde;
pub use serde_json;

/// A workflow step implemented by a plugin.
pub trait Step {
    /// The input document, deserialised from the step's JSON input.
    type Input: serde::de::DeserializeOwned + schemars::JsonSchema;
    /// The output document, serialised to the step's JSON output.
    type Output: serde::Serialize + schemars::JsonSchema;

    /// What the plugin asks to be granted. Nothing by default; asking grants
    /// nothing by itself, an administrator decides.
    fn capabilities() -> Capabilities {
        Capabilities::default()
    }

    /// Runs one attempt of the step.
    fn run(ctx: &Context, input: Self::Input) -> Result<Self::Output, StepError>;
}

/// Exports a [`Step`] implementation as the plugin's `describe` and `run`.
/// Use it once per plugin crate, at the top level.
#[macro_export]
macro_rules! export_step {
    ($step:ty) => {
        const _: () = {
            struct BatonStepExport;

            impl $crate::bindings::Guest for BatonStepExport {
                fn describe() -> $crate::bindings::baton::plugin::types::PluginInfo {
                    $crate::__private::describe::<$step>($crate::__private::PackageInfo {
                        name: env!("CARGO_PKG_NAME"),
                        version: env!("CARGO_PKG_VERSION"),
                        description: env!("CARGO_PKG_DESCRIPTION"),
                    })
                }

                fn run(
                    invocation: $crate::bindings::baton::plugin::types::Invocation,
                    input: ::std::string::String,
                ) -> ::std::result::Result<
                    ::std::string::String,
                    $crate::bindings::baton::plugin::types::StepError,
                > {
                    $crate::__private::run::<$step>(invocation, input)
                }
            }

    $crate::bindings::__export_step_world!(BatonStepExport with_types_in $crate::bindings);
        };
    };
}

#[doc(hidden)]
pub mod __private {
    //! Support for [`export_step!`](crate::export_step); not a public API.

    pub use crate::bindings;
    use crate::bindings::baton::plugin::types as wit;
    use crate::{Context, Step};

    /// The plugin crate's own metadata, captured where the macro expands.
    pub struct PackageInfo {
        pub name: &'static str,
        pub version: &'static str,
        pub description: &'static str,
    }

    fn schema_of<T: schemars::JsonSchema>() -> String {
        serde_json::to_string(&schemars::schema_for!(T)).unwrap_or_else(|_| "true".into())
    }

    pub fn describe<S: Step>(package: PackageInfo) -> wit::PluginInfo {
        wit::PluginInfo {
            name: package.name.to_owned(),
            version: package.version.to_owned(),
            description: package.description.to_owned(),
            input_schema: schema_of::<S::Input>(),
            output_schema: schema_of::<S::Output>(),
            capabilities: S::capabilities().into(),
        }
    }

    pub fn run<S: Step>(
        invocation: wit::Invocation,
        input: String,
    ) -> Result<String, wit::StepError> {
        let input: S::Input = serde_json::from_str(&input).map_err(|e| {
            wit::StepError::InvalidInput(format!(
                "the input does not match the plugin's input schema: {e}"
            ))
        })?;
        let ctx = Context::new(invocation);
        let output = S::run(&ctx, input).map_err(wit::StepError::from)?;
        serde_json::to_string(&output)
            .map_err(|e| wit::StepError::Permanent(format!("the output cannot be serialised: {e}")))
    }
}
