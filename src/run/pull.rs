//! `--pull`: before a run, fetch from the default remote what the stages need (their locked
//! outs, `wf add`ed data, the run-cache) and check out what is missing, so that nothing is re-run
//! that a teammate already ran. Objects the remote lacks are not an error: their stages run.

use crate::checkout;
use crate::error::Error;
use crate::exec::{Event, Events};
use crate::repo::Repo;
use crate::transfer::{self, Objects};

/// Fetches what `targets` track and checks out what is missing from the workspace; what it did
/// goes to `events` as notes.
pub(super) fn pull_first(repo: &Repo, targets: &[String], events: &Events) -> Result<(), Error> {
    let fetch = Objects::open(repo, targets, None)?;
    let runtime = crate::exec::runtime()?;
    let summary = runtime.block_on(fetch.fetch(8, true, None))?;
    let _ = events.send(Event::Note {
        message: transfer::describe("fetched", &fetch.remote, &summary),
    });
    for failed in &summary.failed {
        let _ = events.send(Event::Note {
            message: format!("error: {failed}"),
        });
    }
    let missing: Vec<_> = fetch
        .tracked
        .into_iter()
        .filter(|t| !t.path.to_path(&repo.root).exists() && fetch.cache.contains(&t.info))
        .collect();
    let done = checkout::restore(&repo.root, &fetch.cache, &missing, false, false, None)?;
    for path in done.restored {
        let _ = events.send(Event::Note {
            message: format!("restored {path}"),
        });
    }
    Ok(())
}
