//! Paths of the guest components built from source by this crate's build
//! script: the test guests in `tests/guests` (`GUESTS_*`), the built-in
//! plugins in `plugins/` (`PLUGINS_*`) and the example plugins in
//! `examples/` (`EXAMPLES_*`).

include!(concat!(env!("OUT_DIR"), "/components.rs"));
