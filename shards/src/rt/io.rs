//! hyper's IO traits over a futures-io stream (glommio's TCP stream under rustls).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};

/// The most one read asks of the stream: a few TLS records.
const READ_CHUNK: usize = 64 * 1024;

/// Adapts an `AsyncRead + AsyncWrite` (futures-io) stream to hyper's `rt::Read + rt::Write`.
#[derive(Debug)]
pub struct HyperIo<T>(pub T);

impl<T: AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: we only hand an initialised slice to the reader: every byte of `dst` is
        // written (zeroed) first, and `advance` is called with at most the number of bytes the
        // reader reports it filled, which is <= dst.len().
        #[allow(unsafe_code)]
        let uninit = unsafe { buf.as_mut() };
        // Zeroing costs a pass over the slice: bound it, TLS records are at most 16 KiB anyway.
        let len = uninit.len().min(READ_CHUNK);
        let uninit = &mut uninit[..len];
        for b in uninit.iter_mut() {
            b.write(0);
        }
        // SAFETY: all of `uninit` was just initialised above.
        #[allow(unsafe_code)]
        let dst: &mut [u8] =
            unsafe { &mut *(uninit as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
        match Pin::new(&mut self.0).poll_read(cx, dst) {
            Poll::Ready(Ok(n)) => {
                // SAFETY: the reader initialised (and filled) the first n bytes.
                #[allow(unsafe_code)]
                unsafe {
                    buf.advance(n)
                };
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// An address unique to the calling thread while it lives (a thread-local's), cheap to read.
fn thread_tag() -> usize {
    thread_local!(static TAG: u8 = const { 0 });
    TAG.with(|t| std::ptr::from_ref(t) as usize)
}

/// [`HyperIo`] that hyper may treat as `Send`. hyper's upgrades (`101 Switching Protocols`)
/// box the connection's IO as `dyn Send`, since an `Upgraded` could in general move between
/// threads; a shard's connections (glommio sockets, `Rc`-based) never leave the shard's
/// thread: every task that holds one is spawned locally. This wrapper records the thread it
/// was made on; polled anywhere else it fails with an error instead of touching the socket,
/// and dropped anywhere else it leaks the socket rather than race its reference counts.
pub struct ShardIo<T> {
    io: std::mem::ManuallyDrop<HyperIo<T>>,
    home: usize,
}

impl<T> ShardIo<T> {
    pub fn new(io: T) -> Self {
        ShardIo {
            io: std::mem::ManuallyDrop::new(HyperIo(io)),
            home: thread_tag(),
        }
    }

    fn local(&mut self) -> io::Result<Pin<&mut HyperIo<T>>>
    where
        T: Unpin,
    {
        if self.home != thread_tag() {
            return Err(io::Error::other(
                "a shard's connection was polled off its thread",
            ));
        }
        Ok(Pin::new(&mut *self.io))
    }
}

// SAFETY: the value is only ever touched on the thread that made it: `local` refuses any
// other thread before the inner IO is reached, and `Drop` leaks the inner IO instead of
// dropping it elsewhere. Moving the (inert) wrapper between threads is therefore harmless.
#[allow(unsafe_code)]
unsafe impl<T> Send for ShardIo<T> {}

impl<T> Drop for ShardIo<T> {
    fn drop(&mut self) {
        if self.home == thread_tag() {
            // SAFETY: dropped once, here, on its own thread; never used after.
            #[allow(unsafe_code)]
            unsafe {
                std::mem::ManuallyDrop::drop(&mut self.io)
            };
        }
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for ShardIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.local() {
            Ok(io) => hyper::rt::Read::poll_read(io, cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for ShardIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.local() {
            Ok(io) => hyper::rt::Write::poll_write(io, cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.local() {
            Ok(io) => hyper::rt::Write::poll_write_vectored(io, cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.local() {
            Ok(io) => hyper::rt::Write::poll_flush(io, cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.local() {
            Ok(io) => hyper::rt::Write::poll_shutdown(io, cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
