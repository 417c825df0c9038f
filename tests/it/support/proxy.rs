//! A TCP proxy in front of a broker that can swallow Produce requests: the broker keeps
//! answering metadata while no record is ever acknowledged, as when it refuses a
//! producer id without saying so.
//!
//! Kafka requests are frames of a 4-byte big-endian size and then the request, which
//! begins with its 16-bit API key (Produce is 0). Answers pass through untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const PRODUCE: i16 = 0;

/// A running proxy; stops accepting when dropped.
pub struct KafkaProxy {
    port: u16,
    swallow: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl KafkaProxy {
    /// A listener for the proxy, bound first so the broker can advertise its port.
    pub async fn bind() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").await.expect("proxy port")
    }

    /// Proxies connections on `listener` to `127.0.0.1:upstream`.
    pub fn start(listener: TcpListener, upstream: u16) -> KafkaProxy {
        let port = listener.local_addr().expect("proxy address").port();
        let swallow = Arc::new(AtomicBool::new(false));
        let flag = swallow.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let flag = flag.clone();
                tokio::spawn(async move {
                    if let Ok(broker) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        relay(client, broker, flag).await;
                    }
                });
            }
        });
        KafkaProxy {
            port,
            swallow,
            task,
        }
    }

    /// `host:port` of the proxy, for `kafka.brokers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// From now on, drop (`true`) or forward (`false`) Produce requests.
    pub fn swallow_produce(&self, swallow: bool) {
        self.swallow.store(swallow, Ordering::SeqCst);
    }
}

impl Drop for KafkaProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, broker: TcpStream, swallow: Arc<AtomicBool>) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_broker, mut to_broker) = broker.into_split();
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_broker, &mut to_client).await;
    });
    let mut frame = Vec::new();
    loop {
        let mut size = [0u8; 4];
        if from_client.read_exact(&mut size).await.is_err() {
            break;
        }
        let len = u32::from_be_bytes(size) as usize;
        frame.resize(len, 0);
        if from_client.read_exact(&mut frame).await.is_err() {
            break;
        }
        let api_key = frame
            .get(..2)
            .map(|k| i16::from_be_bytes([k[0], k[1]]))
            .unwrap_or(-1);
        if api_key == PRODUCE && swallow.load(Ordering::SeqCst) {
            continue;
        }
        if to_broker.write_all(&size).await.is_err() || to_broker.write_all(&frame).await.is_err() {
            break;
        }
    }
    answers.abort();
}
