//! Rule matching with 1,000 rules in force: for each event, the rules whose
//! type pattern matches (exact types from a map, `*` patterns by a scan),
//! their CEL conditions, and the input of those that hold, exactly as the
//! engine's writer does it for every stored event.
//!
//! The rules: 900 with exact types (`app<i>.alert.firing`) and a condition
//! on the alert's severity and labels, 100 with patterns (`svc<i>.*`).
//! Events: one that matches an exact rule and whose condition holds, one
//! that matches a pattern rule, and one that no rule wants.
//!
//! Run with `cargo bench -p baton --bench rules`.

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use baton::events::event_view;
use baton::resources::{Resource, ResourceSet, rule};
use baton::store::EventRecord;
use baton::workflow::expr::{Converted, Scope};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

fn rules() -> ResourceSet {
    let mut compiled = Vec::new();
    for i in 0..1000 {
        let spec = if i < 900 {
            json!({
                "name": format!("app-{i}"),
                "on": format!("app{i}.alert.firing"),
                "if": "event.data.labels.severity == 'critical' && event.data.labels.team in ['db', 'web']",
                "workflow": "incident",
                "input": {"fingerprint": "${{ event.subject }}", "alert": "${{ event.data }}"},
                "correlate": {"key": "event.subject", "window": "1h"},
            })
        } else {
            json!({
                "name": format!("svc-{i}"),
                "on": format!("svc{i}.*"),
                "if": "event.data.value > 0.9",
                "workflow": "incident",
            })
        };
        let rule = rule::compile(&spec, "").expect("a valid rule");
        compiled.push(Resource::Rule(rule));
    }
    ResourceSet::new(compiled)
}

fn event(kind: &str, data: Value) -> EventRecord {
    EventRecord {
        seq: 1,
        id: "e-1".into(),
        source: "bench".into(),
        kind: kind.into(),
        subject: Some("407897479c00a123".into()),
        time: None,
        datacontenttype: Some("application/json".into()),
        dataschema: None,
        data: Some(data.to_string()),
        data_base64: None,
        extensions: "{}".into(),
        received_at: 0,
        received_by: "bench".into(),
    }
}

/// What the writer does per stored event; returns how many rules fired.
fn match_event(set: &ResourceSet, event: &EventRecord) -> usize {
    let rules = set.rules_for(&event.kind);
    if rules.is_empty() {
        return 0;
    }
    let view = event_view(event);
    let converted = Converted::new(&view);
    let scope = Scope {
        event: Some(&view),
        converted_event: Some(&converted),
        ..Scope::default()
    };
    let mut fired = 0;
    for rule in rules {
        if rule.matches(&scope) == Ok(true) {
            let input = rule.input.render(&scope).expect("input");
            if let Some((key, _)) = &rule.correlate {
                key.evaluate(&scope).expect("key");
            }
            std::hint::black_box(input);
            fired += 1;
        }
    }
    fired
}

fn bench(c: &mut Criterion) {
    let set = rules();
    let alert = json!({"labels": {"alertname": "DiskFull", "severity": "critical", "team": "db",
                                   "instance": "db01:9100"},
                       "annotations": {"summary": "disk almost full"}, "value": 0.95});
    let exact = event("app450.alert.firing", alert.clone());
    let pattern = event("svc950.metric.high", alert.clone());
    let none = event("other.thing.happened", alert);
    assert_eq!(match_event(&set, &exact), 1);
    assert_eq!(match_event(&set, &pattern), 1);
    assert_eq!(match_event(&set, &none), 0);
    let mut group = c.benchmark_group("rule matching, 1000 rules");
    group.bench_function("event matching an exact rule", |b| {
        b.iter(|| match_event(&set, &exact))
    });
    group.bench_function("event matching a pattern rule", |b| {
        b.iter(|| match_event(&set, &pattern))
    });
    group.bench_function("event matching no rule", |b| {
        b.iter(|| match_event(&set, &none))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
