//! The lock parser: conflict markers, YAML into `Lock`, the version check, the rendering of
//! any error with its source line, and writing a parsed lock back out.
//!
//! Input: the text of `pipeline.lock`. Errors are expected; a panic, a hang or unbounded
//! memory is a bug.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use wf::lock::Lock;
use wf::spec::Source;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let src = Arc::new(Source {
        name: "pipeline.lock".into(),
        path: "pipeline.lock".into(),
        text: text.to_string(),
    });
    match Lock::parse(&src) {
        Ok(lock) => {
            let _ = lock.to_yaml();
        }
        Err(e) => {
            let _ = wf::error::Error::from(e).render(false);
        }
    }
});
