//! The `wf` binary: everything happens in `wf::run`.

fn main() -> std::process::ExitCode {
    wf::run(std::env::args_os())
}
