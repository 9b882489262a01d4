//! Optimistic writes as etcd transactions: compare, then write, else read the current value,
//! so a failed precondition is answered in the same round trip.

use bytes::Bytes;
use etcd_client::{
    Compare, CompareOp, DeleteOptions, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse,
};

use super::convert::{header_revision, key_value};
use super::error::bounded;
use super::store::EtcdStore;
use crate::storage::kv::{KeyValue, Precondition, StorageError, WriteOutcome};

/// The compare for `precondition`, or none (an unconditional write).
fn compare(key: &[u8], precondition: Precondition) -> Option<Compare> {
    match precondition {
        Precondition::None => None,
        // version == 0 <=> create_revision == 0 <=> the key does not exist.
        Precondition::Absent => Some(Compare::create_revision(key, CompareOp::Equal, 0)),
        Precondition::ModRevision(r) => Some(Compare::mod_revision(key, CompareOp::Equal, r)),
        Precondition::Exists => Some(Compare::version(key, CompareOp::Greater, 0)),
    }
}

impl EtcdStore {
    pub(super) async fn put_inner(
        &self,
        key: Bytes,
        value: Bytes,
        precondition: Precondition,
    ) -> Result<WriteOutcome, StorageError> {
        let key = key.to_vec();
        let put = TxnOp::put(
            key.clone(),
            value.to_vec(),
            Some(PutOptions::new().with_prev_key()),
        );
        let txn = conditional(&key, compare(&key, precondition), put);
        self.run(txn).await
    }

    pub(super) async fn delete_inner(
        &self,
        key: Bytes,
        precondition: Precondition,
    ) -> Result<WriteOutcome, StorageError> {
        let key = key.to_vec();
        // Deleting an absent key is a failed precondition, so "no condition" means "exists".
        let precondition = match precondition {
            Precondition::None => Precondition::Exists,
            other => other,
        };
        let delete = TxnOp::delete(key.clone(), Some(DeleteOptions::new().with_prev_key()));
        let txn = conditional(&key, compare(&key, precondition), delete);
        self.run(txn).await
    }

    async fn run(&self, txn: Txn) -> Result<WriteOutcome, StorageError> {
        let mut kv = self.kv();
        let resp = bounded(self.timeout(), kv.txn(txn))
            .await
            .map_err(|e| e.into_storage(0))?;
        outcome(&resp)
    }
}

/// `if compare then write else get(key)`; without a compare, just the write.
fn conditional(key: &[u8], compare: Option<Compare>, write: TxnOp) -> Txn {
    match compare {
        Some(compare) => Txn::new()
            .when([compare])
            .and_then([write])
            .or_else([TxnOp::get(key, None)]),
        None => Txn::new().and_then([write]),
    }
}

/// Reads a write transaction's answer.
fn outcome(resp: &TxnResponse) -> Result<WriteOutcome, StorageError> {
    let revision = header_revision(resp.header())?;
    let first = resp.op_responses().into_iter().next();
    if resp.succeeded() {
        let previous = match first {
            Some(TxnOpResponse::Put(mut put)) => put.take_prev_key().map(key_value),
            Some(TxnOpResponse::Delete(mut delete)) => {
                let prev: Option<KeyValue> =
                    delete.take_prev_kvs().into_iter().next().map(key_value);
                if prev.is_none() {
                    // The compare guaranteed the key existed; etcd always returns it.
                    return Err(StorageError::Internal(
                        "etcd delete applied without a previous value".to_owned(),
                    ));
                }
                prev
            }
            _ => return Err(unexpected()),
        };
        Ok(WriteOutcome::Applied { revision, previous })
    } else {
        let current = match first {
            Some(TxnOpResponse::Get(mut get)) => get.take_kvs().into_iter().next().map(key_value),
            _ => return Err(unexpected()),
        };
        Ok(WriteOutcome::PreconditionFailed { current, revision })
    }
}

fn unexpected() -> StorageError {
    StorageError::Internal("etcd transaction answered with unexpected operations".to_owned())
}
