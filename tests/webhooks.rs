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
