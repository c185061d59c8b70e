//! Exit codes: part of `wf`'s interface, listed in the README.

use std::process::ExitCode;

/// Success (including "nothing to do").
pub const OK: u8 = 0;
/// The pipeline failed, or is stale where a check was asked (`status --check`, `verify`).
pub const FAILED: u8 = 1;
/// Bad input: usage, spec, params, a missing dep, a locked repository.
pub const BAD_INPUT: u8 = 2;
/// Interrupted by Ctrl-C or SIGTERM.
pub const INTERRUPTED: u8 = 130;

/// As a process exit code.
pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
