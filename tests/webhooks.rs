//! Registry webhook receivers added and removed over HTTP on a real broker.

mod common;

use common::{http_request, Broker};

#[test]
fn webhook_added_then_removed() {
    let broker = Broker::start(1);
    let http = broker.addrs.http.clone();
    let hook = r#"{"url":"http://127.0.0.1:9/hook","subject":"orders-value"}"#;
    let (status, _) = http_request(&http, "POST", "/webhooks", Some(hook)).unwrap();
    assert_eq!(status, 200);
    let (_, listed) = http_request(&http, "GET", "/webhooks", None).unwrap();
    assert!(listed.contains("127.0.0.1:9/hook"), "{listed}");
    let (status, body) = http_request(&http, "DELETE", "/webhooks", Some(hook)).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"removed\":1"), "{body}");
    let (_, listed) = http_request(&http, "GET", "/webhooks", None).unwrap();
    assert!(!listed.contains("127.0.0.1:9/hook"), "{listed}");
    let (status, body) = http_request(&http, "DELETE", "/webhooks", Some(hook)).unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("127.0.0.1:9/hook"), "{body}");
}

#[test]
fn added_webhook_survives_restart() {
    let mut broker = Broker::start(1);
    let hook = r#"{"url":"http://127.0.0.1:9/kept","subject":"orders-value"}"#;
    let (status, body) = http_request(&broker.addrs.http, "POST", "/webhooks", Some(hook)).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(broker.terminate().success());
    broker.restart();
    let (_, listed) = http_request(&broker.addrs.http, "GET", "/webhooks", None).unwrap();
    assert!(listed.contains("127.0.0.1:9/kept"), "{listed}");
    assert!(listed.contains("orders-value"), "{listed}");

    let (status, body) =
        http_request(&broker.addrs.http, "DELETE", "/webhooks", Some(hook)).unwrap();
    assert_eq!(status, 200, "{body}");
    broker.kill9();
    broker.restart();
    let (_, listed) = http_request(&broker.addrs.http, "GET", "/webhooks", None).unwrap();
    assert!(!listed.contains("127.0.0.1:9/kept"), "{listed}");
}

#[test]
fn configured_webhook_cannot_be_deleted() {
    let broker = Broker::start_with(
        1,
        "\n[registry]\nwebhook_urls = [\"http://127.0.0.1:9/configured\"]\n",
    );
    let hook = r#"{"url":"http://127.0.0.1:9/configured"}"#;
    let (status, body) =
        http_request(&broker.addrs.http, "DELETE", "/webhooks", Some(hook)).unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("registry.webhook_urls"), "{body}");
    let (_, listed) = http_request(&broker.addrs.http, "GET", "/webhooks", None).unwrap();
    assert!(listed.contains("127.0.0.1:9/configured"), "{listed}");
}

#[test]
fn invalid_stored_webhooks_are_set_aside() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("webhooks.json"), "[{\"url\": 7}]").unwrap();
    let broker = Broker::start_in(root.path().to_path_buf(), 1, "");
    let (status, listed) = http_request(&broker.addrs.http, "GET", "/webhooks", None).unwrap();
    assert_eq!(status, 200, "{listed}");
    let aside: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("webhooks.json.invalid-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(
        broker
            .log()
            .contains("stored webhooks are unreadable or invalid"),
        "{}",
        broker.log()
    );
}

#[test]
fn malformed_webhook_body_gets_json_error() {
    let broker = Broker::start(1);
    let (status, body) =
        http_request(&broker.addrs.http, "POST", "/webhooks", Some("{not json")).unwrap();
    assert_eq!(status, 400, "{body}");
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed["error_code"], 400);
    assert!(
        parsed["message"].as_str().unwrap().contains("JSON"),
        "{body}"
    );
}

#[test]
fn invalid_webhook_urls_rejected() {
    let broker = Broker::start(1);
    let cases = [
        r#"{"url":"http://127.0.0.1:9/a\r\nX-Injected: yes"}"#,
        r#"{"url":"http://127.0.0.1:9/a b"}"#,
        r#"{"url":"http://127.0.0.1:99999/a"}"#,
        r#"{"url":"ftp://127.0.0.1/a"}"#,
        r#"{"url":"http://127.0.0.%31:9/a"}"#,
        r#"{"url":"http://127.0.0.1:9/a","subject":""}"#,
    ];
    for hook in cases {
        let (status, body) =
            http_request(&broker.addrs.http, "POST", "/webhooks", Some(hook)).unwrap();
        assert_eq!(status, 422, "{hook}: {body}");
        assert!(body.contains("error_code"), "{body}");
    }
    let (_, listed) = http_request(&broker.addrs.http, "GET", "/webhooks", None).unwrap();
    assert!(listed.contains("\"webhooks\":[]"), "{listed}");
}
