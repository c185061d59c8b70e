//! Atomic writes: a temp file in the same folder, then a rename; a reader (or a process killed
//! half-way) never sees half a file. `write` also syncs to disk, for what must survive a power
//! loss; `replace` does not, for what is written often and synced once at the end.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes `bytes` to `path` atomically and durably, creating parent folders.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, bytes, true)
}

/// Writes `bytes` to `path` atomically, without waiting for the disk.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, bytes, false)
}

fn write_with(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    // The temp file must sit in the target's own folder: rename is only atomic within one
    // filesystem.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    // Keep the mode of the file being replaced; a new file gets 0666 less the umask, as any
    // ordinary create would (the temp file alone would be 0600).
    let mode = fs::metadata(path).map_or(0o666, |m| m.permissions().mode() & 0o7777);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    // A dot-prefixed name that says whose it is, should a crash ever leave one behind.
    let prefix = format!(".{}.", name.as_deref().unwrap_or("wf"));
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // Without this the rename can reach the disk before the data, and a crash leaves an empty
    // file under the final name.
    if durable {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    if !durable {
        return Ok(());
    }
    // Makes the rename itself durable. Some filesystems refuse to fsync a folder; the data is
    // already safe then, so that is not worth failing the write for.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn creates_parents_and_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/c.json");
        write(&path, b"hello").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(names(&tmp.path().join("a/b")), ["c.json"]);
    }

    #[test]
    fn replaces_content_and_leaves_no_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lock");
        write(&path, b"first, and rather longer").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(names(tmp.path()), ["lock"]);
    }

    #[test]
    fn new_file_gets_ordinary_permissions_and_old_mode_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        write(&path, b"x").unwrap();
        let plain = tmp.path().join("plain");
        fs::write(&plain, b"x").unwrap();
        let mode_of = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // The same as any ordinary create under the current umask, not a temp file's 0600.
        assert_eq!(mode_of(&path), mode_of(&plain));
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write(&path, b"y").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("target");
        write(&path, b"keep").unwrap();
        // A folder in the way of the rename makes the last step fail.
        let blocked = tmp.path().join("dir");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("inside"), b"").unwrap();
        assert!(write(&blocked, b"nope").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"keep");
        assert_eq!(names(tmp.path()), ["dir", "target"]);
    }
}
