//! What the load is sent to: webhooks over HTTP, or records straight to Kafka.

use std::time::SystemTime;

use bytes::Bytes;
use hookbridge::config::Config;
use hookbridge::everbright::Event;
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::net::TcpStream;

use crate::webhook;

/// How one request ended.
pub enum Outcome {
    /// An HTTP status (200 for a Kafka ack).
    Status(u16),
    /// No answer: the connection or the producer failed.
    Error(String),
}

/// Where the load goes.
pub enum Target {
    /// A webhook server.
    Http(Box<Http>),
    /// A Kafka broker, through an rdkafka producer.
    Kafka(Kafka),
}

/// Webhooks signed by `hookbridge::sender`.
pub struct Http {
    config: Config,
    url: String,
    /// `host:port` to connect to.
    address: String,
    credential: String,
    event: Event,
    body: Bytes,
    /// Tells this run's events from an earlier run's with the same sequence numbers
    /// (scripts/soak.sh runs the generator again and again against one hookbridge).
    run: u128,
}

/// Records produced with hookbridge's producer settings.
pub struct Kafka {
    producer: FutureProducer,
    topic: String,
    key: Option<String>,
    body: Bytes,
}

impl Target {
    /// Webhooks to `url`, signed as `credential` for `event`; fails when the request
    /// cannot be built (unknown credential or event, bad URL).
    pub fn http(
        config: Config,
        url: &str,
        credential: &str,
        event: &str,
        body: Bytes,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let event = Event::from_slug(event).ok_or_else(|| format!("unknown event {event:?}"))?;
        let uri: Uri = url.parse()?;
        let address = uri
            .authority()
            .ok_or_else(|| format!("{url}: no host"))?
            .to_string();
        let http = Http {
            config,
            url: url.to_string(),
            address,
            credential: credential.to_string(),
            event,
            body,
            run: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        };
        http.request(0)?;
        Ok(Target::Http(Box::new(http)))
    }

    /// Records of `body` to `topic`, keyed like hookbridge's (by the body's `/site`).
    pub fn kafka(
        config: &Config,
        topic: &str,
        body: Bytes,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let producer = hookbridge::publish::kafka::client_config(&config.kafka).create()?;
        let key = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.pointer("/site")?.as_str().map(str::to_string));
        Ok(Target::Kafka(Kafka {
            producer,
            topic: topic.to_string(),
            key,
            body,
        }))
    }

    /// A client for one worker (for HTTP, its own connection).
    pub fn client(&self) -> Client<'_> {
        match self {
            Target::Http(http) => Client::Http { http, conn: None },
            Target::Kafka(kafka) => Client::Kafka(kafka),
        }
    }
}

impl Http {
    /// Request `seq`, signed now (see [`webhook::numbered`]).
    fn request(&self, seq: u64) -> Result<Request<Full<Bytes>>, String> {
        webhook::numbered(
            &self.config,
            &self.credential,
            self.event,
            &self.url,
            &self.body,
            &self.run,
            seq,
        )
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Box<dyn std::error::Error>> {
        let stream = TcpStream::connect(&self.address).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(sender)
    }
}

/// One worker's handle on the target.
pub enum Client<'a> {
    /// A keep-alive connection, opened on first use and again after an error.
    Http {
        http: &'a Http,
        conn: Option<SendRequest<Full<Bytes>>>,
    },
    /// The shared producer.
    Kafka(&'a Kafka),
}

impl Client<'_> {
    /// Sends request `seq` and waits for its answer.
    pub async fn call(&mut self, seq: u64) -> Outcome {
        let result = match self {
            Client::Http { http, conn } => post(http, conn, seq).await,
            Client::Kafka(kafka) => produce(kafka).await,
        };
        result.unwrap_or_else(|e| Outcome::Error(e.to_string()))
    }
}

async fn post(
    http: &Http,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    seq: u64,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let request = http.request(seq)?;
    let mut sender = match conn.take() {
        Some(s) if !s.is_closed() => s,
        _ => http.connect().await?,
    };
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    *conn = Some(sender);
    Ok(Outcome::Status(status))
}

async fn produce(kafka: &Kafka) -> Result<Outcome, Box<dyn std::error::Error>> {
    let mut record = FutureRecord::to(&kafka.topic).payload(&kafka.body[..]);
    if let Some(key) = &kafka.key {
        record = record.key(key);
    }
    let delivery = kafka.producer.send_result(record).map_err(|(e, _)| e)?;
    match delivery.await {
        Ok(Ok(_)) => Ok(Outcome::Status(200)),
        Ok(Err((e, _))) => Err(e.into()),
        Err(_) => Err("the producer dropped the record".into()),
    }
}
