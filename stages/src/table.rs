//! `Table`: a CSV file read through polars with every cell kept as the string it was written as,
//! and the conversions the stages need (labels, a numeric matrix for linfa, rows written back).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use polars::prelude::*;

use crate::Error;

/// A CSV file in memory, with the path it came from for error messages.
#[derive(Debug, Clone)]
pub struct Table {
    path: PathBuf,
    frame: DataFrame,
}

impl Table {
    /// Reads a CSV with a header row. Every column is read as text, so cells written back by
    /// `prepare` keep their exact spelling (`5.10` stays `5.10`) and the output is byte-stable.
    pub fn read(path: &Path) -> Result<Table, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::Empty { path: path.into() });
        }
        let frame = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
            .map_err(|e| Error::Csv {
                action: "read",
                path: path.into(),
                message: e.to_string(),
            })?;
        if frame.height() == 0 {
            return Err(Error::Empty { path: path.into() });
        }
        Ok(Table {
            path: path.into(),
            frame,
        })
    }

    /// Wraps a frame built elsewhere; `path` only names it in errors. Columns may be text or
    /// numbers.
    pub fn from_frame(path: impl Into<PathBuf>, frame: DataFrame) -> Table {
        Table {
            path: path.into(),
            frame,
        }
    }

    /// The file the table came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The polars frame.
    pub fn frame(&self) -> &DataFrame {
        &self.frame
    }

    /// The number of data rows.
    pub fn height(&self) -> usize {
        self.frame.height()
    }

    /// The header, in file order.
    pub fn columns(&self) -> Vec<String> {
        self.frame
            .get_column_names()
            .into_iter()
            .map(|n| n.to_string())
            .collect()
    }

    fn column(&self, name: &str) -> Result<&Column, Error> {
        self.frame.column(name).map_err(|_| Error::MissingColumn {
            path: self.path.clone(),
            column: name.into(),
            available: self.columns().join(", "),
        })
    }

    /// Checks that every column in `names` exists.
    pub(crate) fn require(&self, names: &[String]) -> Result<(), Error> {
        names.iter().try_for_each(|n| self.column(n).map(|_| ()))
    }

    /// The cells of a column as text (`None` for an empty cell).
    pub(crate) fn cells(&self, name: &str) -> Result<Vec<Option<String>>, Error> {
        let column = self.column(name)?;
        let text = column
            .cast(&DataType::String)
            .map_err(|e| self.csv_error(e))?;
        let text = text.str().map_err(|e| self.csv_error(e))?;
        Ok(text.iter().map(|c| c.map(str::to_owned)).collect())
    }

    /// The labels of the target column; an empty label is an error naming its line.
    pub(crate) fn labels(&self, name: &str) -> Result<Vec<String>, Error> {
        self.cells(name)?
            .into_iter()
            .enumerate()
            .map(|(row, cell)| {
                cell.ok_or_else(|| Error::EmptyCell {
                    path: self.path.clone(),
                    line: line_of(row),
                    column: name.into(),
                })
            })
            .collect()
    }

    /// The named columns as an `n_rows × n_columns` matrix of `f64`.
    ///
    /// Copied cell by cell because polars' own `ndarray` export is built on ndarray 0.17 and
    /// linfa 0.8 on 0.16; this also gives an error naming the line of a bad cell.
    pub(crate) fn matrix(&self, names: &[String]) -> Result<Array2<f64>, Error> {
        let mut out = Array2::<f64>::zeros((self.height(), names.len()));
        for (j, name) in names.iter().enumerate() {
            for (i, cell) in self.cells(name)?.into_iter().enumerate() {
                out[[i, j]] = self.number(i, name, cell.as_deref())?;
            }
        }
        Ok(out)
    }

    /// Parses one cell as a finite number.
    pub(crate) fn number(
        &self,
        row: usize,
        column: &str,
        cell: Option<&str>,
    ) -> Result<f64, Error> {
        let Some(cell) = cell else {
            return Err(Error::EmptyCell {
                path: self.path.clone(),
                line: line_of(row),
                column: column.into(),
            });
        };
        match cell.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(Error::NotNumeric {
                path: self.path.clone(),
                line: line_of(row),
                column: column.into(),
                value: cell.into(),
            }),
        }
    }

    /// The rows at `indices`, in that order.
    pub(crate) fn take(&self, indices: &[usize]) -> Result<DataFrame, Error> {
        let idx: Vec<IdxSize> = indices.iter().map(|&i| i as IdxSize).collect();
        self.frame
            .take(&IdxCa::from_vec("idx".into(), idx))
            .map_err(|e| self.csv_error(e))
    }

    fn csv_error(&self, e: PolarsError) -> Error {
        Error::Csv {
            action: "read",
            path: self.path.clone(),
            message: e.to_string(),
        }
    }
}

/// The 1-based line of a 0-based data row, counting the header as line 1.
pub(crate) fn line_of(row: usize) -> usize {
    row + 2
}

/// Writes a frame as CSV (header, `,`, `\n`, quotes only where needed), atomically.
pub(crate) fn write_csv(path: &Path, frame: &mut DataFrame) -> Result<(), Error> {
    let mut bytes = Vec::new();
    CsvWriter::new(&mut bytes)
        .include_header(true)
        .finish(frame)
        .map_err(|e| Error::Csv {
            action: "write",
            path: path.into(),
            message: e.to_string(),
        })?;
    crate::atomic::write(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> (tempfile::TempDir, Result<Table, Error>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let t = Table::read(&path);
        (dir, t)
    }

    #[test]
    fn cells_are_kept_as_written() {
        let (_d, t) = table("a,b\n5.10,x\n,\"y,z\"\n");
        let t = t.unwrap();
        assert_eq!(t.cells("a").unwrap(), [Some("5.10".into()), None]);
        assert_eq!(
            t.cells("b").unwrap(),
            [Some("x".into()), Some("y,z".into())]
        );
    }

    #[test]
    fn windows_line_ends_and_a_bom_are_not_part_of_cells() {
        let (_d, t) = table("\u{feff}a,b\r\n1,x\r\n2,y\r\n");
        let t = t.unwrap();
        assert_eq!(t.columns(), ["a", "b"]);
        assert_eq!(t.cells("b").unwrap(), [Some("x".into()), Some("y".into())]);
    }

    #[test]
    fn header_only_is_empty() {
        let (_d, t) = table("a,b\n");
        assert!(matches!(t, Err(Error::Empty { .. })), "{t:?}");
        let (_d, t) = table("");
        assert!(matches!(t, Err(Error::Empty { .. })), "{t:?}");
    }

    #[test]
    fn bad_number_names_line_and_column() {
        let (_d, t) = table("a,b\n1,2\n3,abc\n");
        let err = t.unwrap().matrix(&["a".into(), "b".into()]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("line 3, column `b`: `abc` is not a number"),
            "{text}"
        );
    }

    #[test]
    fn missing_column_lists_the_header() {
        let (_d, t) = table("a,b\n1,2\n");
        let err = t.unwrap().labels("c").unwrap_err().to_string();
        assert!(err.contains("has no column `c` (columns: a, b)"), "{err}");
    }
}
