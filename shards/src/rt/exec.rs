//! hyper's executor on a shard: spawn the task on the current glommio executor.

use std::future::Future;

/// Spawns hyper's background tasks (HTTP/2 streams) on the shard that runs the connection.
/// The futures need not be `Send`: they never leave the shard.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, fut: F) {
        glommio::spawn_local(fut).detach();
    }
}
