//! A shard's HTTPS server: io_uring TCP listener (SO_REUSEPORT), rustls, hyper HTTP/1.1 + HTTP/2.
//!
//! Every shard binds the same address; the kernel spreads new connections across them. A
//! connection lives and dies on the shard that accepted it. Stopping is three steps, as in every
//! well-behaved server: stop accepting, drain (finish in-flight requests, HTTP/2 GOAWAY,
//! HTTP/1.1 close after the response), and stop (drop whatever is left once told to).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_lite::future;
use futures_rustls::TlsAcceptor;
use glommio::net::{TcpListener, TcpStream};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::{Request, Response};
use rustls_pki_types::CertificateDer;

use crate::gate::Gate;
use crate::rt::{HyperIo, LocalExec, ShardIo, ShardTimer};
use crate::shard::ShardId;
use crate::signal::Signal;

/// Any error a response body may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A response body: shard-local (need not be `Send`: a watch stream holds shard timers),
/// streaming or whole.
pub type Body = Pin<Box<dyn hyper::body::Body<Data = Bytes, Error = BoxError>>>;

/// Boxes any body as a [`Body`].
pub fn body<B>(b: B) -> Body
where
    B: hyper::body::Body<Data = Bytes> + 'static,
    B::Error: Into<BoxError>,
{
    Box::pin(http_body_util::BodyExt::map_err(b, Into::into))
}
/// What a handler returns.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>>>>;
/// The request handler a shard serves: shard-local, called once per request.
pub type Handler = Rc<dyn Fn(Request<Incoming>, Rc<ConnInfo>) -> ResponseFuture>;

/// The HTTP version a connection negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (ALPN `http/1.1`, or no ALPN).
    Http1,
    /// HTTP/2 (ALPN `h2`).
    Http2,
}

/// Facts about a connection that requests on it may need (authentication reads the
/// verified client certificate chain).
#[derive(Debug)]
pub struct ConnInfo {
    /// The shard serving the connection.
    pub shard: ShardId,
    /// The client's address.
    pub peer: SocketAddr,
    /// The negotiated HTTP version.
    pub protocol: Protocol,
    /// The client's certificate chain, leaf first, already verified by rustls against the
    /// client CA; empty when the client sent none.
    pub peer_certificates: Vec<CertificateDer<'static>>,
}

/// Limits and timeouts of the HTTP layer (values come from the tuning profile).
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Time allowed from accept to a finished TLS handshake.
    pub handshake_timeout: Duration,
    /// Time allowed to receive a request's headers (also bounds an idle HTTP/1.1 connection).
    pub header_read_timeout: Duration,
    /// Largest request header block accepted.
    pub max_header_bytes: usize,
    /// HTTP/2 streams one connection may have open at once.
    pub http2_max_concurrent_streams: u32,
    /// HTTP/2 keep-alive ping interval (None: no pings).
    pub http2_keepalive_interval: Option<Duration>,
    /// The chance (0 to 0.02) that an HTTP/2 request ends its connection gracefully (GOAWAY
    /// after its answer), kube-apiserver's `--goaway-chance`: clients behind a load balancer
    /// then spread over the servers instead of staying on the first.
    pub goaway_chance: f64,
}

/// A shard's connections as they happen, readable from any thread (written only by the
/// shard that owns the server, so no cache line is shared on the accept path).
#[derive(Debug, Default)]
pub struct ConnCounts {
    /// Connections accepted.
    pub accepted: std::sync::atomic::AtomicU64,
    /// Connections open now.
    pub open: std::sync::atomic::AtomicI64,
}

/// Counts of what a server did, returned when it stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeSummary {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections still open when the server was told to stop for good (dropped).
    pub forced: usize,
}

/// One shard's listening HTTPS server.
pub struct TlsHttpServer {
    listener: TcpListener,
    tls: TlsAcceptor,
    cfg: Rc<HttpConfig>,
    shard: ShardId,
}

/// ALPN protocols offered, most preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

impl TlsHttpServer {
    /// Binds `addr` (SO_REUSEPORT, so every shard can bind it) with TLS from `tls`; the ALPN
    /// list is set here, since this module decides which HTTP versions it speaks.
    pub fn bind(
        addr: SocketAddr,
        tls: &rustls::ServerConfig,
        cfg: HttpConfig,
        shard: ShardId,
    ) -> io::Result<Self> {
        let listener = listen(addr)?;
        let mut tls = tls.clone();
        tls.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Self {
            listener,
            tls: TlsAcceptor::from(Arc::new(tls)),
            cfg: Rc::new(cfg),
            shard,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Serves until `stop` fires, then closes the listener (and fires `listener_closed`) and
    /// asks every connection to finish its in-flight requests and close. Returns once every
    /// connection has closed, or when `force` fires (the rest are dropped then).
    pub async fn serve(
        self,
        handler: Handler,
        stop: Arc<Signal>,
        force: Arc<Signal>,
        listener_closed: Arc<Signal>,
        counts: Arc<ConnCounts>,
    ) -> ServeSummary {
        use std::sync::atomic::Ordering;
        let conns = Gate::new();
        let mut summary = ServeSummary::default();
        loop {
            let next = future::or(async { Some(self.listener.accept().await) }, async {
                stop.wait().await;
                None
            })
            .await;
            match next {
                None => break,
                Some(Ok(stream)) => {
                    summary.accepted += 1;
                    counts.accepted.fetch_add(1, Ordering::Relaxed);
                    counts.open.fetch_add(1, Ordering::Relaxed);
                    let guard = conns.enter();
                    let conn = serve_connection(
                        stream,
                        self.tls.clone(),
                        Rc::clone(&self.cfg),
                        self.shard,
                        Rc::clone(&handler),
                        Arc::clone(&stop),
                    );
                    let force = Arc::clone(&force);
                    let counts = Arc::clone(&counts);
                    glommio::spawn_local(async move {
                        let _guard = guard;
                        future::or(conn, force.wait()).await;
                        counts.open.fetch_sub(1, Ordering::Relaxed);
                    })
                    .detach();
                }
                Some(Err(e)) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    log::warn!("shard-{}: accept failed: {e}", self.shard.cpu);
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        drop(self.listener);
        listener_closed.fire();
        future::or(conns.idle(), force.wait()).await;
        summary.forced = conns.count();
        summary
    }
}

/// How many connections the kernel queues before `accept` takes them.
const LISTEN_BACKLOG: i32 = 1024;

/// A listening socket on `addr` that every shard can share (SO_REUSEPORT) and that binds at
/// once after a crash or restart (SO_REUSEADDR: the old process's closed connections in
/// TIME_WAIT do not hold the port, as Go's listeners, and so kube-apiserver's, behave). A
/// second live server is still refused: the caller's plain bind first sees its listener.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::os::fd::{FromRawFd, IntoRawFd};
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::STREAM.cloexec(), Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    // SAFETY: the descriptor is a bound, listening TCP socket this function owns; glommio's
    // listener takes it over (and closes it when dropped).
    #[allow(unsafe_code)]
    let listener = unsafe { TcpListener::from_raw_fd(socket.into_raw_fd()) };
    Ok(listener)
}

/// Handshake, then HTTP until the client leaves, an error, or a drain finishes the connection.
async fn serve_connection(
    stream: TcpStream,
    tls: TlsAcceptor,
    cfg: Rc<HttpConfig>,
    shard: ShardId,
    handler: Handler,
    stop: Arc<Signal>,
) {
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(_) => return,
    };
    let _ = stream.set_nodelay(true);
    let handshake = future::or(async { Some(tls.accept(stream).await) }, async {
        glommio::timer::sleep(cfg.handshake_timeout).await;
        None
    })
    .await;
    let tls_stream = match handshake {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            log::debug!("shard-{}: TLS handshake with {peer} failed: {e}", shard.cpu);
            return;
        }
        None => {
            log::debug!("shard-{}: TLS handshake with {peer} timed out", shard.cpu);
            return;
        }
    };
    let (_, session) = tls_stream.get_ref();
    let protocol = match session.alpn_protocol() {
        Some(b"h2") => Protocol::Http2,
        _ => Protocol::Http1,
    };
    let info = Rc::new(ConnInfo {
        shard,
        peer,
        protocol,
        peer_certificates: session
            .peer_certificates()
            .map(<[_]>::to_vec)
            .unwrap_or_default(),
    });
    // HTTP/1.1 has no GOAWAY: once the drain starts, every answer says `Connection: close`,
    // so a client never sends another request on a connection the server is about to close.
    let closing = Rc::new(std::cell::Cell::new(false));
    let closing_in_service = Rc::clone(&closing);
    // upstream's probabilistic GOAWAY: the request is answered, then the connection ends.
    let goaway_chance = match protocol {
        Protocol::Http2 => cfg.goaway_chance,
        Protocol::Http1 => 0.0,
    };
    let goaway = Signal::new("goaway");
    let goaway_in_service = Arc::clone(&goaway);
    let service = hyper::service::service_fn(move |req| {
        let fut = handler(req, Rc::clone(&info));
        let closing = Rc::clone(&closing_in_service);
        if goaway_chance > 0.0 && fastrand::f64() < goaway_chance {
            goaway_in_service.fire();
        }
        async move {
            let mut resp = fut.await;
            if closing.get() {
                resp.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, Infallible>(resp)
        }
    });
    let result = match protocol {
        Protocol::Http2 => {
            let mut b = http2::Builder::new(LocalExec);
            b.timer(ShardTimer)
                .max_header_list_size(u32::try_from(cfg.max_header_bytes).unwrap_or(u32::MAX))
                .max_concurrent_streams(cfg.http2_max_concurrent_streams)
                .keep_alive_interval(cfg.http2_keepalive_interval);
            let conn = b.serve_connection(HyperIo(tls_stream), service);
            drive(conn, &stop, &goaway, |c| c.graceful_shutdown()).await
        }
        Protocol::Http1 => {
            let mut b = http1::Builder::new();
            b.timer(ShardTimer)
                .header_read_timeout(cfg.header_read_timeout)
                .max_header_size(cfg.max_header_bytes)
                .max_buf_size(cfg.max_header_bytes.max(8192) + 64 * 1024)
                .max_headers(1024)
                .keep_alive(true);
            // Upgrades (`101 Switching Protocols`: exec, attach, port-forward, proxied
            // WebSockets) hand the connection to whoever awaits `hyper::upgrade::on`.
            let conn = b
                .serve_connection(ShardIo::new(tls_stream), service)
                .with_upgrades();
            drive_http1(conn, &stop, &closing).await
        }
    };
    if let Err(e) = result {
        log::debug!("shard-{}: connection from {peer} ended: {e}", shard.cpu);
    }
}

/// How long an HTTP/1.1 connection may stay idle once the drain starts before it is closed.
/// Closing an idle keep-alive connection races with a request the client is sending on it
/// (the client sees the connection reset, not an answer); a connection in use gets its next
/// answer with `Connection: close` well within this and ends cleanly.
const HTTP1_DRAIN_IDLE_GRACE: Duration = Duration::from_millis(1000);

/// Runs an HTTP/1.1 connection; when `stop` fires, answers from then on close the connection,
/// and after [`HTTP1_DRAIN_IDLE_GRACE`] a connection still open is shut down gracefully (an
/// idle one at once, a busy one after its answer).
async fn drive_http1<I, S>(
    conn: http1::UpgradeableConnection<I, S>,
    stop: &Arc<Signal>,
    closing: &std::cell::Cell<bool>,
) -> hyper::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Body>,
    S::Error: Into<BoxError>,
{
    let mut conn = pin!(conn);
    let first = future::or(async { Some(conn.as_mut().await) }, async {
        stop.wait().await;
        None
    })
    .await;
    if let Some(r) = first {
        return r;
    }
    closing.set(true);
    let within_grace = future::or(async { Some(conn.as_mut().await) }, async {
        glommio::timer::sleep(HTTP1_DRAIN_IDLE_GRACE).await;
        None
    })
    .await;
    if let Some(r) = within_grace {
        return r;
    }
    conn.as_mut().graceful_shutdown();
    conn.await
}

/// Runs a hyper connection; when `stop` (the drain) or `goaway` (this connection only) fires,
/// asks it to shut down gracefully and keeps driving it until it has finished.
async fn drive<C>(
    conn: C,
    stop: &Arc<Signal>,
    goaway: &Arc<Signal>,
    graceful: impl FnOnce(Pin<&mut C>),
) -> hyper::Result<()>
where
    C: Future<Output = hyper::Result<()>>,
{
    let mut conn = pin!(conn);
    let first = future::or(async { Some(conn.as_mut().await) }, async {
        future::or(stop.wait(), goaway.wait()).await;
        None
    })
    .await;
    match first {
        Some(r) => r,
        None => {
            graceful(conn.as_mut());
            conn.await
        }
    }
}
