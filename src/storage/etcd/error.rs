//! Mapping etcd-client errors onto [`StorageError`].

use std::future::Future;
use std::time::Duration;

use tonic::Code;

use crate::storage::kv::{Revision, StorageError};

/// etcd's message for a read or watch below the compaction point (`mvcc.ErrCompacted`).
const COMPACTED: &str = "required revision has been compacted";
/// etcd's message for a read above the current revision (`mvcc.ErrFutureRev`).
const FUTURE_REVISION: &str = "required revision is a future revision";

/// What went wrong with one etcd call, before the caller adds what it knows (the revision it
/// asked for).
#[derive(Debug)]
pub(crate) enum CallError {
    /// The read revision was compacted.
    Compacted,
    /// The read revision is newer than etcd's.
    FutureRevision,
    /// Any other failure, already mapped.
    Other(StorageError),
}

impl CallError {
    /// The error without revision details (for calls that do not read at a revision).
    pub(crate) fn into_storage(self, requested: Revision) -> StorageError {
        match self {
            CallError::Compacted => StorageError::Compacted {
                requested,
                compacted: 0,
            },
            CallError::FutureRevision => StorageError::FutureRevision {
                requested,
                current: 0,
            },
            CallError::Other(e) => e,
        }
    }
}

impl From<etcd_client::Error> for CallError {
    fn from(e: etcd_client::Error) -> Self {
        use etcd_client::Error as E;
        match e {
            E::GRpcStatus(status) => from_status(&status),
            E::TransportError(e) => CallError::Other(unavailable(&e)),
            E::IoError(e) => CallError::Other(unavailable(&e)),
            E::EndpointError(e) => CallError::Other(unavailable(&e)),
            E::WatchError(e) => CallError::Other(unavailable(&e)),
            other => CallError::Other(StorageError::Internal(format!("etcd: {other}"))),
        }
    }
}

fn from_status(status: &tonic::Status) -> CallError {
    let message = status.message();
    if message.contains(COMPACTED) {
        return CallError::Compacted;
    }
    if message.contains(FUTURE_REVISION) {
        return CallError::FutureRevision;
    }
    match status.code() {
        // Unavailable: no connection, leader lost, "request timed out" on the server;
        // DeadlineExceeded/Cancelled: the call did not finish; Unknown covers broken HTTP/2
        // streams when the server goes away mid-call; ResourceExhausted: etcd is overloaded.
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::Unknown
        | Code::Aborted
        | Code::ResourceExhausted => CallError::Other(StorageError::Unavailable(format!(
            "etcd: {}: {message}",
            status.code()
        ))),
        code => CallError::Other(StorageError::Internal(format!("etcd: {code}: {message}"))),
    }
}

fn unavailable(e: &dyn std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("etcd: {e}"))
}

/// Runs one etcd call bounded by `timeout`; past it the call is dropped and `Unavailable`.
pub(crate) async fn bounded<T, F>(timeout: Duration, call: F) -> Result<T, CallError>
where
    F: Future<Output = Result<T, etcd_client::Error>>,
{
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(CallError::from),
        Err(_) => Err(CallError::Other(StorageError::Unavailable(format!(
            "etcd did not answer within {timeout:?}"
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacted_and_future_are_recognised_whatever_the_code() {
        let compacted =
            tonic::Status::out_of_range("etcdserver: mvcc: required revision has been compacted");
        assert!(matches!(from_status(&compacted), CallError::Compacted));
        let future =
            tonic::Status::out_of_range("etcdserver: mvcc: required revision is a future revision");
        assert!(matches!(from_status(&future), CallError::FutureRevision));
    }

    #[test]
    fn unavailable_codes_map_to_unavailable() {
        let e = from_status(&tonic::Status::unavailable("etcdserver: request timed out"));
        assert!(matches!(e, CallError::Other(StorageError::Unavailable(_))));
        let e = from_status(&tonic::Status::invalid_argument(
            "etcdserver: key is not provided",
        ));
        assert!(matches!(e, CallError::Other(StorageError::Internal(_))));
    }
}
