//! `wf completions SHELL`: a completion script for each shell, naming the commands.

use crate::test::Test;

#[test]
fn completions_print_a_script_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _wf"),
        ("zsh", "#compdef wf"),
        ("fish", "complete -c wf"),
        (
            "powershell",
            "Register-ArgumentCompleter -Native -CommandName 'wf'",
        ),
    ] {
        let out = Test::new().args(["completions", shell]).success();
        assert!(out.stdout.contains(marker), "{shell} lacks {marker:?}");
        for command in ["repro", "metrics", "completions"] {
            assert!(out.stdout.contains(command), "{shell} lacks `{command}`");
        }
    }
    Test::new()
        .args(["completions", "tcsh"])
        .status(2)
        .stderr_contains("invalid value 'tcsh'")
        .run();
}
