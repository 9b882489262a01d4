//! Conversions between etcd-client's types and the `kv` boundary types.

use bytes::Bytes;

use crate::storage::kv::{KeyValue, Revision, StorageError};

/// An etcd key-value as a boundary [`KeyValue`] (moves the buffers, no copy).
pub(crate) fn key_value(kv: etcd_client::KeyValue) -> KeyValue {
    let create_revision = kv.create_revision();
    let mod_revision = kv.mod_revision();
    let (key, value) = kv.into_key_value();
    KeyValue {
        key: Bytes::from(key),
        value: Bytes::from(value),
        create_revision,
        mod_revision,
    }
}

/// The revision in a response header. etcd always sends one; its absence is a protocol error.
pub(crate) fn header_revision(
    header: Option<&etcd_client::ResponseHeader>,
) -> Result<Revision, StorageError> {
    header
        .map(etcd_client::ResponseHeader::revision)
        .ok_or_else(|| StorageError::Internal("etcd response without a header".to_owned()))
}

/// The smallest key greater than every key starting with `prefix` (etcd's `range_end` for a
/// prefix): drop trailing 0xff bytes, then add one to the last byte. An empty result means
/// "no upper bound" (`\0` as range_end = to the end of the keyspace).
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The first key strictly after `key`: `key` followed by a zero byte.
pub(crate) fn key_after(key: &[u8]) -> Vec<u8> {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end(b"a\xff\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }

    #[test]
    fn key_after_appends_zero() {
        assert_eq!(key_after(b"/a"), b"/a\0".to_vec());
    }
}
