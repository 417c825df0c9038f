//! Accepting and serving HTTP/1.1 connections within limits, for the webhook and the
//! admin listeners alike.
//!
//! At most `max_connections` connections are open at once; further ones wait in the
//! kernel's listen backlog. A connection whose client stops reading its answers is
//! closed once a write has made no progress for `write_timeout` ([`WriteDeadline`]),
//! so it cannot hold its slot for ever. Accept errors (typically: out of file descriptors) back off
//! from 10 ms, doubling up to a second, and are logged once per run of failures, not
//! once per attempt. On shutdown the listener closes, idle keep-alive connections
//! are closed, and open ones get the grace period to finish.
//!
//! This module knows nothing about webhooks: what a connection serves is the caller's.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

use crate::backoff::Backoff;

/// The pause after the first accept failure.
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(10);
/// The longest pause between accept attempts.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How one connection is read, decided when it is accepted.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    /// Time to receive a request's headers.
    pub header_read_timeout: Duration,
    /// The largest request head (request line and headers), in bytes: larger ones
    /// get 431.
    pub max_head_bytes: usize,
    /// How long a write of the answer may make no progress (the client does not read)
    /// before the connection is closed.
    pub write_timeout: Duration,
}

/// The address a request's connection came from, in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub std::net::SocketAddr);

/// How a listener serves.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at once.
    pub max_connections: usize,
    /// After shutdown, how long open connections may take to finish.
    pub grace: Duration,
}

/// Serves connections on `listener` until `shutdown` resolves, then drains: returns
/// once every connection is closed or the grace period is over. `accept` is called per
/// connection, with its peer's address, and returns how to read it and the service that
/// answers its requests.
pub async fn serve<A, S>(
    listener: TcpListener,
    limits: Limits,
    mut accept: A,
    shutdown: impl Future<Output = ()>,
) where
    A: FnMut(Peer) -> (Connection, S),
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = Backoff::new(ACCEPT_BACKOFF_FIRST, ACCEPT_BACKOFF_MAX);
    loop {
        let stream = tokio::select! {
            stream = next(&listener, &slots, &mut backoff) => stream,
            () = &mut shutdown => break,
        };
        // Invariant: the semaphore is never closed, so a slot always comes.
        let Some((stream, peer, slot)) = stream else {
            break;
        };
        let _ = stream.set_nodelay(true);
        let (settings, service) = accept(Peer(peer));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .max_buf_size(settings.max_head_bytes)
            // The buffer limit alone lets a head through that arrives in one read.
            .max_header_size(settings.max_head_bytes)
            .serve_connection(
                TokioIo::new(WriteDeadline::new(stream, settings.write_timeout)),
                service,
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?limits.grace, "shutdown grace elapsed with connections still open");
    }
}

/// A free connection slot, then the next connection.
async fn next(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    backoff: &mut Backoff,
) -> Option<(
    TcpStream,
    std::net::SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let slot = slots.clone().acquire_owned().await.ok()?;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if let Some(failures) = backoff.succeeded() {
                    tracing::info!(failures, "accepting connections again");
                }
                return Some((stream, peer, slot));
            }
            Err(e) => {
                let (delay, first) = backoff.failed();
                if first {
                    tracing::warn!(error = %e, "accept failed; backing off until it works again");
                }
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// A stream whose writes fail with `TimedOut` once one has been pending (the peer's
/// receive window full) for `timeout`. Any progress starts the clock again, so a slow
/// reader is served; one that stopped reading is not.
pub struct WriteDeadline<S> {
    inner: S,
    timeout: Duration,
    stalled: Pin<Box<Sleep>>,
    waiting: bool,
}

impl<S> WriteDeadline<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, timeout: Duration) -> Self {
        WriteDeadline {
            inner,
            timeout,
            stalled: Box::pin(tokio::time::sleep(timeout)),
            waiting: false,
        }
    }

    /// Passes on what `write` made of a write, flush or shutdown; a pending one arms
    /// the deadline, and the deadline's end turns it into an error.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if write.is_ready() {
            self.waiting = false;
            return write;
        }
        if !self.waiting {
            self.waiting = true;
            let deadline = Instant::now() + self.timeout;
            self.stalled.as_mut().reset(deadline);
        }
        ready!(self.stalled.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client did not read the answer in time",
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let write = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, write)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let write = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, write)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flush = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, flush)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let shutdown = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, shutdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_the_peer_never_reads_fails_after_the_timeout_and_progress_resets_it() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let (near, mut far) = tokio::io::duplex(1024);
        let mut stream = WriteDeadline::new(near, Duration::from_millis(200));
        // Fill the pipe, read a little (progress), then stop reading.
        stream.write_all(&[0; 1024]).await.unwrap();
        let mut some = [0; 512];
        far.read_exact(&mut some).await.unwrap();
        let started = std::time::Instant::now();
        let error = stream.write_all(&[0; 4096]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }
}
