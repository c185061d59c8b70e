//! `wf watch`'s engine: run the pipeline, then run it again whenever a dependency, a params file
//! or a spec changes. Files are watched through notify and a debouncer; the folders holding the
//! watched paths are watched (an editor's atomic save replaces the file's inode), and events are
//! filtered by path: `.wf/`, `.git/`, lock files and every stage's outs never start a cycle, so a
//! stage writing its outs does not re-trigger itself.

mod changes;
mod cycle;
mod error;
mod paths;

pub use cycle::{Ended, Notice, watch};
pub use error::WatchError;
