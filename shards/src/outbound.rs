//! Outbound HTTP/1.1 from a shard: one request to a backend (a kubelet, a Pod, a Service's
//! endpoint) over TLS or plain TCP on the shard's own io_uring, and the splice that joins an
//! upgraded client connection (WebSocket, SPDY) to the upgraded backend connection byte for
//! byte. It knows nothing of what the bytes mean.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::TlsConnector;
use glommio::net::TcpStream;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use rustls_pki_types::ServerName;

use crate::rt::ShardIo;
use crate::server::Body;

/// Where one outbound request goes: a host (an IP or a DNS name), a port, and the TLS client
/// configuration when the backend speaks HTTPS.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Why an outbound request got no answer, worded as Go's net/http client words it (upstream's
/// proxies return these texts to the client).
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("dial tcp {addr}: {reason}")]
    Dial { addr: String, reason: String },
    #[error("tls: {0}")]
    Tls(String),
    #[error("{0}")]
    Http(#[from] hyper::Error),
}

/// The text Go's dialer gives for an OS error (`connect: connection refused`, `i/o timeout`).
fn dial_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        io::ErrorKind::TimedOut => "i/o timeout".into(),
        io::ErrorKind::HostUnreachable => "connect: no route to host".into(),
        io::ErrorKind::NetworkUnreachable => "connect: network is unreachable".into(),
        _ => e.to_string(),
    }
}

/// The plain or TLS byte stream of one outbound connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<futures_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_close(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}

/// Connects to `target` (within `timeout`), sends `req` as HTTP/1.1 and returns the answer's
/// head with its body still streaming. A `101 Switching Protocols` answer keeps the connection
/// for [`hyper::upgrade::on`]. The request's URI should be origin-form (`/path?query`); its
/// `Host` header is the caller's to set.
pub async fn send(
    target: &Target,
    req: Request<Body>,
    timeout: Duration,
) -> Result<Response<Incoming>, OutboundError> {
    let shown = if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let dial_err = |reason: String| OutboundError::Dial {
        addr: shown.clone(),
        reason,
    };
    let addr: SocketAddr = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| dial_err(e.to_string()))?
        .next()
        .ok_or_else(|| dial_err("no such host".into()))?;
    let tcp = TcpStream::connect_timeout(addr, timeout)
        .await
        .map_err(|e| dial_err(dial_reason(&io::Error::from(e))))?;
    let _ = tcp.set_nodelay(true);
    let stream = match &target.tls {
        None => Stream::Plain(tcp),
        Some(cfg) => {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|e| OutboundError::Tls(e.to_string()))?;
            let tls = TlsConnector::from(Arc::clone(cfg))
                .connect(name, tcp)
                .await
                .map_err(|e| OutboundError::Tls(e.to_string()))?;
            Stream::Tls(Box::new(tls))
        }
    };
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake::<_, Body>(ShardIo::new(stream))
        .await?;
    glommio::spawn_local(async move {
        if let Err(e) = conn.with_upgrades().await {
            log::debug!("outbound connection ended: {e}");
        }
    })
    .detach();
    Ok(sender.send_request(req).await?)
}

/// hyper's IO traits back to futures-io, so upgraded connections can be copied.
struct RtIo(Upgraded);

impl AsyncRead for RtIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = hyper::rt::ReadBuf::new(buf);
        match hyper::rt::Read::poll_read(Pin::new(&mut self.0), cx, rb.unfilled()) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for RtIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_shutdown(Pin::new(&mut self.0), cx)
    }
}

/// Copies one direction, flushing every chunk (interactive streams must not wait in a
/// buffer), and closes the writer when the reader ends.
async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    mut from: R,
    mut to: W,
) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n]).await?;
        to.flush().await?;
        total += n as u64;
    }
    to.close().await?;
    Ok(total)
}

/// Joins two upgraded connections until both directions have ended (each end's EOF closes the
/// other's writing side) or `stop` resolves. Returns the bytes copied each way.
pub async fn splice(
    client: Upgraded,
    backend: Upgraded,
    stop: impl std::future::Future<Output = ()>,
) -> (u64, u64) {
    let (cr, cw) = futures_lite::io::split(RtIo(client));
    let (br, bw) = futures_lite::io::split(RtIo(backend));
    // A direction that fails (a reset) ends both: the other would wait for bytes forever.
    let both = futures_lite::future::try_zip(pump(cr, bw), pump(br, cw));
    let done = futures_lite::future::or(async { Some(both.await) }, async {
        stop.await;
        None
    })
    .await;
    match done {
        Some(Ok(copied)) => copied,
        Some(Err(e)) => {
            log::debug!("spliced connection ended: {e}");
            (0, 0)
        }
        None => (0, 0),
    }
}
