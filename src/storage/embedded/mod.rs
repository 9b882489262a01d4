//! The embedded durable MVCC store (default backend). See DESIGN.md in this folder.
