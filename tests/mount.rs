//! File systems mounted for a test: a small tmpfs (a disk that fills up, a folder made
//! read-only), an XFS image on a loop device (reflinks). Mounting needs root: without it the
//! tests that need one say so and pass, unless `WF_MOUNT_REQUIRED=1` (as `.ci/run` sets), where
//! they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A file system mounted over a folder; unmounted when dropped.
pub(crate) struct Mount {
    dir: PathBuf,
}

fn run(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `None` after saying why, unless mounts are required.
fn cannot(what: &str) -> Option<Mount> {
    assert!(
        std::env::var_os("WF_MOUNT_REQUIRED").is_none(),
        "cannot {what} (this test needs root)"
    );
    eprintln!("skipped: cannot {what} (this test needs root)");
    None
}

impl Mount {
    /// A tmpfs of `size` (`4m`) over `dir`.
    pub(crate) fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let size = format!("size={size}");
        if !run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(dir))
        {
            return cannot("mount a tmpfs");
        }
        Some(Mount {
            dir: dir.to_path_buf(),
        })
    }

    /// An XFS file system (reflinks on, as `mkfs.xfs` makes it) of `size` (`512M`) in the image
    /// file `image`, mounted over `dir`.
    pub(crate) fn xfs(image: &Path, dir: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        if !run(Command::new("truncate").args(["-s", size]).arg(image)) {
            return cannot("make an image file");
        }
        if !run(Command::new("mkfs.xfs").arg("-q").arg(image)) {
            return cannot("make an XFS file system (`mkfs.xfs`, Debian's xfsprogs)");
        }
        if !run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(image)
            .arg(dir))
        {
            return cannot("mount a loop device");
        }
        Some(Mount {
            dir: dir.to_path_buf(),
        })
    }

    /// Remounts with other options (`size=16m`, `ro`, `rw`).
    pub(crate) fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.dir)
            .status()
            .unwrap();
        assert!(ok.success(), "remount {options}");
    }

    /// The bytes free on it, once what was written is on disk.
    pub(crate) fn free(&self) -> u64 {
        run(Command::new("sync").arg("-f").arg(&self.dir));
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().nth(1).unwrap().trim().parse().unwrap()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
