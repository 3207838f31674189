//! Paths of the guest components built from source by this crate's build
//! script: the test guests in `tests/guests` (`GUESTS_*`) and the built-in
//! plugins in `plugins/` (`PLUGINS_*`).

include!(concat!(env!("OUT_DIR"), "/components.rs"));
