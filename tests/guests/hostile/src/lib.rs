//! A plugin written to misbehave, against raw bindings rather than the SDK
//! (hostile authors do not use our SDK). The input's `attack` field picks the
//! misbehaviour; the host must classify each one and stay unaffected.

use std::hint::black_box;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "step",
    generate_all,
});

use baton::plugin::types::Capabilities;

struct Hostile;

fn recurse(depth: u64, pad: [u64; 16]) -> u64 {
    // The padding and black_box keep the frames real and non-tail.
    if black_box(depth) == u64::MAX {
        return 0;
    }
    black_box(recurse(depth + 1, black_box(pad))) + pad[0]
}

impl Guest for Hostile {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile".into(),
            version: "0.1.0".into(),
            description: "misbehaves on request".into(),
            input_schema: r#"{"type":"object"}"#.into(),
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
        let input: serde_json::Value = serde_json::from_str(&input).unwrap_or_default();
        match input["attack"].as_str().unwrap_or("") {
            "infinite-loop" => {
                let mut i: u64 = 0;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            "memory-bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "deep-recursion" => Ok(recurse(0, [1; 16]).to_string()),
            "giant-output" => Ok(format!("\"{}\"", "a".repeat(4 << 20))),
            "not-json" => Ok("this is not JSON".into()),
            "panic" => panic!("hostile guest panicked on purpose"),
            "log-flood" => {
                for i in 0..100_000 {
                    baton::plugin::log::log(
                        baton::plugin::log::Level::Info,
                        &format!("flood line {i}"),
                    );
                    eprintln!("stderr flood line {i}");
                }
                Ok(r#"{"flooded":true}"#.into())
            }
            "huge-log-line" => {
                baton::plugin::log::log(baton::plugin::log::Level::Info, &"x".repeat(8 << 20));
                Ok("{}".into())
            }
            "denied-imports" => loop {
                let _ = black_box(baton::plugin::kv::get("k"));
                let _ = black_box(baton::plugin::secrets::get("s"));
                let _ = black_box(baton::plugin::events::emit("e", None, "{}"));
            },
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok("{}".into())
            }
            other => Err(StepError::InvalidInput(format!("unknown attack {other:?}"))),
        }
    }
}

export!(Hostile);
