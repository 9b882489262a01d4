//! One conformance suite for every `KvStore` implementation.
