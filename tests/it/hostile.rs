//! Slow and hostile clients: one that never reads its answers gives up its connection
//! slot; refusals say `Connection: close`; oversized heads and unknown transfer
//! codings are refused.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::{self, Broker, Endpoints, Server, consume, credential, post};

const TOPIC: &str = "everbright.production.milestone-status-change";
const PATH: &str = "/everbright/milestone-status-change";

/// Writes `request` on a fresh connection and reads until the server closes it (at
/// most 10 s); returns what came back.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read all of a refused request.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    let _ = read.await.expect("the server did not close the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_gives_up_its_slot() {
    let broker = Broker::start();
    // One connection slot; the test config's read_timeout (2 s) is also the write
    // timeout.
    let toml = support::config(
        &broker,
        "max_connections = 1",
        credential::header("engine", "prod-key"),
    );
    let server = Server::start(&toml).await;
    server.wait_ready().await;

    // A client with a tiny receive window pipelines requests (each answered 401, which
    // keeps the connection) and never reads a byte of the answers.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let hog = socket.connect(server.webhook()).await.unwrap();
    let (_unread, mut writer) = hog.into_split();
    let one = format!(
        "POST {PATH} HTTP/1.1\r\nhost: x\r\nx-api-key: wrong\r\ncontent-length: 2\r\n\r\n{{}}"
    );
    // It never stops sending, so the connection is never idle.
    let flood = tokio::spawn(async move {
        let burst = one.repeat(1000);
        while writer.write_all(burst.as_bytes()).await.is_ok() {}
    });
    // Let the server fill its send buffer and stall on the write.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(15),
        post(
            &server.url(PATH),
            &[("x-api-key", "prod-key")],
            support::payload(support::SITE),
        ),
    )
    .await
    .expect("a legitimate sender stayed locked out by a client that does not read");
    assert_eq!(answer.status, StatusCode::OK);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    let id = answer.json()["id"].as_str().unwrap().to_string();
    let records = consume(&broker, TOPIC, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].json()["id"], id.as_str());
    flood.abort();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_close_the_connection_and_say_so_and_odd_heads_are_refused() {
    let broker = Broker::start();
    let server = Server::start(&support::config(&broker, "", credential::none("open"))).await;
    let addr = server.webhook();

    // Refused by its declared length, before the body is read.
    let too_large = exchange(
        addr,
        format!("POST {PATH} HTTP/1.1\r\nhost: x\r\ncontent-length: 10485760\r\n\r\n{{").as_bytes(),
    )
    .await;
    assert!(too_large.starts_with("HTTP/1.1 413 "), "{too_large}");
    assert!(
        too_large
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{too_large}"
    );

    // A body still gzip-compressed under chunked framing: never taken as the webhook.
    let gzip = exchange(
        addr,
        format!(
            "POST {PATH} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(gzip.starts_with("HTTP/1.1 501 "), "{gzip}");
    assert!(
        gzip.to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{gzip}"
    );

    // A head over 64 KiB, even in one piece.
    let big = format!(
        "POST {PATH} HTTP/1.1\r\nhost: x\r\nx-padding: {}\r\ncontent-length: 2\r\n\r\n{{}}",
        "a".repeat(100 * 1024)
    );
    let answer = exchange(addr, big.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");

    // None of them became a record; a plain request still does.
    let ok = post(&server.url(PATH), &[], support::payload(support::SITE)).await;
    assert_eq!(ok.status, StatusCode::OK);
    let records = consume(&broker, TOPIC, 1).await;
    assert_eq!(records.len(), 1, "only the plain request was published");
    server.stop().await;
}
