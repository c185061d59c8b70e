//! The shape of `src/` that STYLE.md asks for, kept true by a test: nothing below the command
//! line knows it (`Context`, `Error::Usage`), no two files import each other (directly or round
//! a loop), no file grows past 600 lines and no command past 250 (tests apart).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The files that may know the command line.
const COMMAND_LINE: &[&str] = &["cli", "context", "lib", "main"];

struct File {
    path: PathBuf,
    /// Its text without its `#[cfg(test)]` module.
    code: String,
}

/// Every source file of the crate, by module path (`exec::scheduler`; `mod.rs` is its folder).
fn files() -> BTreeMap<String, File> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(&src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.len() > 1 && parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        let text = std::fs::read_to_string(path).unwrap();
        let code = match text.find("#[cfg(test)]") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        out.insert(
            parts.join("::"),
            File {
                path: path.to_path_buf(),
                code,
            },
        );
    }
    out
}

/// The code without comments, so that a word in a doc comment is no use of it.
fn without_comments(code: &str) -> String {
    code.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file names through `crate::` and `super::`, as module paths (`exec::Event`);
/// `use` groups are spread out, and a module brought in by `use` is followed through its name.
fn references(module: &str, code: &str) -> BTreeSet<String> {
    let parent: Vec<&str> = module.split("::").collect();
    let absolute = |head: &str, rest: &str| -> String {
        let rest = rest.trim_end_matches(':');
        if head == "crate" {
            rest.to_string()
        } else {
            let mut p: Vec<&str> = parent[..parent.len().saturating_sub(1)].to_vec();
            if !rest.is_empty() {
                p.push(rest);
            }
            p.join("::")
        }
    };
    let mut refs = BTreeSet::new();
    let mut aliases: Vec<(String, String)> = Vec::new();
    for head in ["crate", "super"] {
        let needle = format!("{head}::");
        let mut from = 0;
        while let Some(i) = code[from..].find(&needle) {
            let start = from + i;
            from = start + needle.len();
            if start > 0 && code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[from..];
            let path_len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let path = &rest[..path_len];
            let base = absolute(head, path);
            refs.insert(base.clone());
            let after = &rest[path_len..];
            if path.ends_with("::") && after.starts_with('{') {
                let group = &after[1..after.find('}').unwrap_or(after.len())];
                for item in group.split(',') {
                    let item = item.split_whitespace().next().unwrap_or("");
                    if !item.is_empty() && item != "self" {
                        refs.insert(format!("{}::{item}", base.trim_end_matches(':')));
                        aliases.push((
                            item.rsplit("::").next().unwrap_or(item).to_string(),
                            format!("{}::{item}", base.trim_end_matches(':')),
                        ));
                    }
                }
            } else if after.trim_start().starts_with(';') {
                let name = path.rsplit("::").next().unwrap_or(path).to_string();
                aliases.push((name, base));
            }
        }
    }
    // `use crate::cmd;` then `cmd::repro::Args`.
    for (name, full) in aliases {
        let needle = format!("{name}::");
        let mut from = 0;
        while let Some(i) = code[from..].find(&needle) {
            let start = from + i;
            from = start + needle.len();
            if start > 0
                && code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            let rest = &code[from..];
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            refs.insert(format!("{full}::{}", &rest[..len]));
        }
    }
    refs
}

/// For each module, the other modules (files) it uses.
fn imports(files: &BTreeMap<String, File>) -> BTreeMap<String, BTreeSet<String>> {
    files
        .iter()
        .map(|(module, file)| {
            let code = without_comments(&file.code);
            let used = references(module, &code)
                .into_iter()
                .filter_map(|r| {
                    let parts: Vec<&str> = r.split("::").collect();
                    (1..=parts.len())
                        .rev()
                        .map(|k| parts[..k].join("::"))
                        .find(|m| files.contains_key(m))
                })
                // A folder's `mod.rs` only re-exports: a use of it is no import cycle.
                .filter(|m| m != module && !module.starts_with(&format!("{m}::")))
                .collect();
            (module.clone(), used)
        })
        .collect()
}

/// Whether `word` appears as a whole name (`RunContext` is not `Context`).
fn uses_word(code: &str, word: &str) -> bool {
    let name = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(word)
        .any(|(i, _)| !code[..i].ends_with(name) && !code[i + word.len()..].starts_with(name))
}

#[test]
fn nothing_below_the_command_line_knows_it() {
    let mut wrong = Vec::new();
    for (module, file) in files() {
        let first = module.split("::").next().unwrap_or("");
        if first == "cmd" || COMMAND_LINE.contains(&module.as_str()) || module == "error" {
            continue;
        }
        let code = without_comments(&file.code);
        for word in ["Context", "Error::Usage"] {
            if uses_word(&code, word) {
                wrong.push(format!("{} uses `{word}`", file.path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_two_files_import_each_other() {
    let files = files();
    let graph = imports(&files);
    // A file is in a cycle if it can reach itself.
    let mut cycles = Vec::new();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((m, path)) = stack.pop() {
            for next in &graph[&m] {
                if next == start {
                    cycles.push(format!("{} -> {start}", path.join(" -> ")));
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_import_finder_sees_uses_through_groups_and_names() {
    let refs = references(
        "cmd::watch",
        "use crate::cmd;\nuse crate::exec::{Event, signals::Signals};\nuse super::repro;\nfn f() { cmd::repro::run(); repro::Args::x(); crate::lock::Lock::read(); }",
    );
    for want in [
        "cmd::repro",
        "exec::Event",
        "exec::signals::Signals",
        "cmd::repro::Args",
        "lock::Lock::read",
    ] {
        assert!(refs.contains(want), "{want} in {refs:?}");
    }
}

#[test]
fn only_whole_names_count() {
    assert!(uses_word("fn f(ctx: &Context)", "Context"));
    assert!(!uses_word("wf_stages::RunContext { dir }", "Context"));
    assert!(uses_word("Err(Error::Usage { message })", "Error::Usage"));
}

#[test]
fn files_stay_small() {
    let mut big = Vec::new();
    for (module, file) in files() {
        let lines = file.code.lines().count();
        let limit = if module.starts_with("cmd::") {
            250
        } else {
            600
        };
        if lines > limit {
            big.push(format!(
                "{}: {lines} lines, more than {limit}",
                file.path.display()
            ));
        }
    }
    assert!(big.is_empty(), "{}", big.join("\n"));
}
