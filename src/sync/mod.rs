//! The sync stage: compare rendered outputs with the disk and the lock, then write
//! what changed atomically.

pub mod apply;
pub mod lock;
