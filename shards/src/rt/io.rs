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
