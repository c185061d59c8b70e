//! How a cached object is put back into the workspace: a reflink where the file system has one,
//! else a copy (both leave a writable file); or a hard or symbolic link, read-only so that an
//! edit cannot corrupt the cache.

use std::fs;
use std::io;
use std::path::Path;

/// The ways of placing an object in the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkType {
    /// A copy-on-write clone, falling back to a copy.
    #[default]
    Reflink,
    /// A plain copy.
    Copy,
    /// A hard link (read-only).
    Hardlink,
    /// A symbolic link to the object (read-only).
    Symlink,
}

impl LinkType {
    /// Parses a config value.
    pub fn parse(s: &str) -> Option<LinkType> {
        match s {
            "reflink" => Some(LinkType::Reflink),
            "copy" => Some(LinkType::Copy),
            "hardlink" => Some(LinkType::Hardlink),
            "symlink" => Some(LinkType::Symlink),
            _ => None,
        }
    }

    /// Places `obj` at `dst` (which does not exist).
    pub fn place(self, obj: &Path, dst: &Path) -> io::Result<()> {
        match self {
            LinkType::Reflink => {
                reflink_copy::reflink_or_copy(obj, dst)?;
                writable(dst)
            }
            LinkType::Copy => {
                fs::copy(obj, dst)?;
                writable(dst)
            }
            LinkType::Hardlink => {
                fs::hard_link(obj, dst).or_else(|_| fs::copy(obj, dst).map(|_| ()))
            }
            LinkType::Symlink => std::os::unix::fs::symlink(obj, dst),
        }
    }
}

/// A copied object inherits the object's read-only mode (a temp file, 0600); a workspace copy
/// is the user's to edit, with an ordinary file's mode.
pub(super) fn writable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = fs::metadata(path)?.permissions();
    perms.set_mode((perms.mode() | 0o644) & 0o7777);
    fs::set_permissions(path, perms)
}
