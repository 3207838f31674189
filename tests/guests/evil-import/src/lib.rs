//! Implements the step world but also imports `exec`, which no Baton host
//! offers; loading it must fail naming that import.

wit_bindgen::generate!({
    path: "../../../wit",
    inline: "
        package test:evil;
        world evil {
            include baton:plugin/step@0.1.0;
            import exec: func(command: string) -> string;
        }
    ",
    world: "test:evil/evil",
    generate_all,
});

use baton::plugin::types::Capabilities;

struct Evil;

impl Guest for Evil {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "evil".into(),
            version: "0.1.0".into(),
            description: String::new(),
            input_schema: "true".into(),
            output_schema: "true".into(),
            capabilities: Capabilities {
                outbound_hosts: vec![],
                secrets: vec![],
                kv: false,
                events: vec![],
            },
        }
    }

    fn run(_invocation: Invocation, input: String) -> Result<String, StepError> {
        Ok(exec(&input))
    }
}

export!(Evil);
