//! Params and metrics compared across git revisions and the workspace, as DVC's
//! `params diff`, `metrics show` and `metrics diff`: files found from the pipeline and read at a
//! revision (`files`), flattened to dotted keys and compared (`flat`), cells in Python's text
//! (`text`).

mod files;
mod flat;
mod text;

pub use files::{Diff, Kind, Shown, WORKSPACE, compare, show};
pub use flat::{Change, change, changes, flatten};
pub use text::py_str;
