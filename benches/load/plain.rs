//! The HTTP ceiling of `scripts/bench-load.sh`: a plain hyper server that reads each
//! request's body and answers 200, with the same runtime and HTTP/1 stack as
//! hookbridge and nothing else (no routing, authentication, parsing or Kafka).
//!
//! It binds `127.0.0.1:0` and prints `listening ADDR` once ready.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = service_fn(answer);
            // A client closing its connection mid-request is not this server's concern.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Reads the whole body, as hookbridge does before authenticating, then answers 200.
async fn answer(request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    let status = match request.into_body().collect().await {
        Ok(_) => hyper::StatusCode::OK,
        Err(_) => hyper::StatusCode::BAD_REQUEST,
    };
    let mut response = Response::new(Empty::new());
    *response.status_mut() = status;
    Ok(response)
}
