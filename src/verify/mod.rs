//! Verification: prove the lock reproduces. The targeted stages run again, forced and without
//! the run-cache, through the run API in a scratch copy of the repository, and every out they
//! write is compared with the lock's hash.

mod check;
mod error;

pub use check::{Verdict, verify};
pub use error::VerifyError;
