//! `EctLayer` and the axum extractor on real servers (axum on 127.0.0.1, ephemeral ports) and a
//! real client (hyper): SPEC.md §9 over sockets.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use wimse_ect::{EctBuilder, EctLayer, Policy, VerifiedRequest, Verifier};

use crate::common::{AUD, ISS_A, NOW, key_a, trusted_keys};

/// A server on 127.0.0.1 that stops when the returned sender is dropped.
async fn serve(router: Router) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop)
}

/// GET `/` with these `Execution-Context` field lines; the status and the JSON body.
async fn send(addr: SocketAddr, lines: &[&str]) -> (u16, Value) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let mut request = http::Request::get("/").header("host", "localhost");
    for line in lines {
        request = request.header("execution-context", *line);
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

async fn claims(ect: VerifiedRequest) -> axum::Json<Value> {
    axum::Json(json!({"jti": ect.claims().jti, "verified": ect.verified_parents()}))
}

#[tokio::test]
async fn smoke() {
    let verifier = Arc::new(Verifier::new(trusted_keys(), Policy::new(AUD)).unwrap());
    let router = Router::new()
        .route("/", get(claims))
        .layer(EctLayer::new(verifier, || NOW));
    let (addr, _stop) = serve(router).await;
    let token = EctBuilder::new(ISS_A, "fetch")
        .audience(AUD)
        .issued_at(NOW)
        .expires_at(NOW + 600)
        .jti("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
        .sign(&key_a())
        .unwrap();
    let (status, body) = send(addr, &[&token]).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"jti": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "verified": []})
        )
    );
    let (status, body) = send(addr, &[&token]).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "replay.jti");
    let (status, body) = send(addr, &[]).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("http.missing"))
    );
}
