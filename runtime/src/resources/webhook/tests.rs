//! Unit tests of webhook documents: signatures, tokens, secret references,
//! redaction and mapping problems.

use super::*;

fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn hmac_signatures_are_checked_against_the_raw_body() {
    let hook = compile(
        &json!({"name": "grafana", "auth": {"hmac": {"secret": "0123456789abcdef"}},
                "event": {"type": "grafana.${{ body.status }}", "subject": "${{ body.rule }}"}}),
        "[0]",
    )
    .expect("compiles");
    let body = br#"{"status": "firing", "rule": "cpu"}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"0123456789abcdef").expect("key");
    mac.update(body);
    let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    hook.check(&headers(&[("x-signature-256", &good)]), body, None)
        .expect("a good signature");
    let event = hook.event(&headers(&[]), body).expect("an event");
    assert_eq!(event.kind, "grafana.firing");
    assert_eq!(event.subject.as_deref(), Some("cpu"));
    for bad in [
        headers(&[]),
        headers(&[("x-signature-256", "sha256=00")]),
        headers(&[("x-signature-256", &good.replace("sha256=", "md5="))]),
    ] {
        assert!(matches!(
            hook.check(&bad, body, None),
            Err(HookError::Unauthorized(_))
        ));
    }
    assert!(
        hook.check(&headers(&[("x-signature-256", &good)]), b"{}", None)
            .is_err()
    );
}

#[test]
fn tokens_and_mapping_problems() {
    let hook = compile(
        &json!({"name": "ci", "auth": {"token": "a-long-ingest-token"},
                "event": {"type": "${{ body.kind }}"}}),
        "[0]",
    )
    .expect("compiles");
    hook.check(
        &headers(&[("authorization", "Bearer a-long-ingest-token")]),
        b"",
        None,
    )
    .expect("the token");
    assert!(
        hook.check(&headers(&[("authorization", "Bearer nope")]), b"", None)
            .is_err()
    );
    assert!(matches!(
        hook.event(&headers(&[]), br#"{"kind": 3}"#),
        Err(HookError::Invalid(_))
    ));
    assert!(matches!(
        hook.event(&headers(&[]), b"not json"),
        Err(HookError::Invalid(_))
    ));

    let problems = compile(
        &json!({"name": "alertmanager", "auth": {"token": "short"}, "event": {"type": "${{ input }}"}}),
        "[1]",
    )
    .expect_err("problems");
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["[1].name", "[1].auth.token", "[1].event.type"]);
}

#[test]
fn keys_can_live_in_secrets() {
    let hook = compile(
        &json!({"name": "grafana", "auth": {"hmac": {"secret": {"secret": "grafana-hmac"}}},
                "event": {"type": "grafana.alert"}}),
        "[0]",
    )
    .expect("compiles");
    assert_eq!(hook.secret(), Some("grafana-hmac"));
    let body = b"{}";
    let mut mac = Hmac::<Sha256>::new_from_slice(b"a key kept sealed").expect("key");
    mac.update(body);
    let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let signed = headers(&[("x-signature-256", &good)]);
    hook.check(&signed, body, Some(b"a key kept sealed"))
        .expect("the stored key");
    assert!(hook.check(&signed, body, Some(b"another key")).is_err());
    match hook.check(&signed, body, None) {
        Err(HookError::Unauthorized(message)) => assert_eq!(
            message,
            "webhook `grafana` cannot check callers: its key is not set"
        ),
        other => panic!("{other:?}"),
    }

    let token = compile(
        &json!({"name": "ci", "auth": {"token": {"secret": "ci-token"}},
                "event": {"type": "ci.done"}}),
        "[0]",
    )
    .expect("compiles");
    assert_eq!(token.secret(), Some("ci-token"));
    let bearer = headers(&[("authorization", "Bearer kept-in-a-secret")]);
    token
        .check(&bearer, b"", Some(b"kept-in-a-secret\n"))
        .expect("the stored token, trimmed");
    assert!(token.check(&bearer, b"", None).is_err());

    let mut shown = json!({"auth": {"hmac": {"secret": {"secret": "grafana-hmac"}}}});
    redact(&mut shown);
    assert_eq!(shown["auth"]["hmac"]["secret"]["secret"], "grafana-hmac");
    let mut shown = json!({"auth": {"token": "an-inline-ingest-token"}});
    redact(&mut shown);
    assert_eq!(shown["auth"]["token"], REDACTED);

    for (auth, path, part) in [
        (
            json!({"token": {"secret": 3}}),
            "[2].auth.token",
            "expected the text itself or `{secret: <name of a Baton secret>}`",
        ),
        (
            json!({"token": {"name": "x"}}),
            "[2].auth.token",
            "expected the text itself",
        ),
        (
            json!({"hmac": {"secret": {"secret": "no spaces"}}}),
            "[2].auth.hmac.secret.secret",
            "",
        ),
        (
            json!({"hmac": {"secret": "short"}}),
            "[2].auth.hmac.secret",
            "or name a Baton secret",
        ),
    ] {
        let problems = compile(
            &json!({"name": "x", "auth": auth, "event": {"type": "x.y"}}),
            "[2]",
        )
        .expect_err("problems");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].path.starts_with(path), "{problems:?}");
        assert!(problems[0].message.contains(part), "{problems:?}");
    }
}
