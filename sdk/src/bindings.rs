//! The guest bindings of the `baton:plugin` step world, generated once here
//! and used by the rest of the SDK. Plugin authors do not touch them.

wit_bindgen::generate!({
    path: "../wit",
    world: "step",
    generate_all,
    pub_export_macro: true,
    export_macro_name: "__export_step_world",
    default_bindings_module: "baton_sdk::bindings",
});
