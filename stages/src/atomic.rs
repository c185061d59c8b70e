//! Atomic file writes and the one JSON layout every output uses (sorted keys, two-space indent,
//! final newline), so equal content always gives equal bytes.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// Writes `bytes` to `path` through a temp file in the same folder and a rename, so a reader (or a
/// crash) never sees half a file. Creates the parent folders.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
    let mut tmp = builder(0o666)
        .tempfile_in(parent)
        .map_err(|e| Error::write(path, e))?;
    tmp.write_all(bytes).map_err(|e| Error::write(path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::write(path, e))?;
    tmp.persist(path).map_err(|e| Error::write(path, e.error))?;
    Ok(())
}

/// A temporary folder in `parent`, to fill and then rename into place.
pub(crate) fn temp_dir_in(parent: &Path) -> Result<tempfile::TempDir, Error> {
    builder(0o777)
        .prefix(".new-")
        .tempdir_in(parent)
        .map_err(|e| Error::write(parent, e))
}

/// tempfile creates owner-only files and folders (0600/0700); outputs are ordinary files, so ask
/// for the usual mode and let the umask narrow it.
fn builder(mode: u32) -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    builder
}

/// Serialises `value` with every object's keys sorted (independent of struct field order and of
/// `serde_json`'s `preserve_order`), pretty-printed, with a final newline.
pub(crate) fn json_bytes<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, Error> {
    let value = serde_json::to_value(value).map_err(|e| Error::json(path, e))?;
    let mut bytes = serde_json::to_vec_pretty(&sorted(value)).map_err(|e| Error::json(path, e))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes `value` as sorted JSON, atomically.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    write(path, &json_bytes(path, value)?)
}

/// Reads and parses a JSON file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::json(path, e))
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Rounds a metric to 6 decimals, so outputs do not carry the last bits of a float sum.
pub(crate) fn round6(x: f64) -> f64 {
    let r = (x * 1e6).round() / 1e6;
    // Avoid writing `-0.0`.
    if r == 0.0 { 0.0 } else { r }
}

/// The current UTC time as RFC 3339 to the second (`2026-11-22T18:04:05Z`), as the registry
/// records it.
pub fn now_utc() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_to_the_second() {
        let at = |secs| rfc3339(time::OffsetDateTime::from_unix_timestamp(secs).unwrap());
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(19_782 * 86_400 + 3_723), "2024-02-29T01:02:03Z");
        assert_eq!(now_utc().len(), "2026-11-22T18:04:05Z".len());
    }

    #[test]
    fn keys_are_sorted_at_every_level() {
        let v = serde_json::json!({"b": 1, "a": {"d": 2, "c": [{"f": 1, "e": 2}]}});
        let bytes = json_bytes(Path::new("x.json"), &v).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.find("\"a\"") < text.find("\"b\""));
        assert!(text.find("\"e\"") < text.find("\"f\""));
        assert!(text.ends_with("}\n"));
    }

    #[cfg(unix)]
    #[test]
    fn written_files_get_the_usual_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a"), b"x").unwrap();
        std::fs::write(dir.path().join("b"), b"x").unwrap();
        let mode = |n: &str| dir.path().join(n).metadata().unwrap().permissions().mode();
        assert_eq!(mode("a"), mode("b"));
    }

    #[test]
    fn rounding() {
        assert_eq!(round6(2.0 / 3.0), 0.666667);
        assert_eq!(round6(-1e-9).to_string(), "0");
    }
}
