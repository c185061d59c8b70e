//! `Table`: the one renderer of the text tables commands print (`metrics show|diff`,
//! `params diff`, `model list`, `stage list`), as plain columns or a Markdown table.

/// Rows of cells, laid out in left-aligned columns two spaces apart, lines without trailing
/// blanks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
    /// How much wider than its header every column is at least.
    header_pad: usize,
}

impl Table {
    /// A table whose columns are as wide as their widest cell, header included.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: Some(header.into_iter().map(Into::into).collect()),
            ..Table::default()
        }
    }

    /// A table as DVC prints it (tabulate's `plain`, or `github` for Markdown): every column
    /// at least two wider than its header.
    pub fn dvc<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header_pad: 2,
            ..Table::new(header)
        }
    }

    /// A table without a header row.
    pub fn headless() -> Table {
        Table::default()
    }

    /// Adds a row.
    pub fn push<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        self.rows.push(row.into_iter().map(Into::into).collect());
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Plain columns.
    pub fn text(&self) -> String {
        let widths = self.widths();
        // One buffer for the whole table: a table of 10 000 rows has half a million cells.
        let mut s = String::with_capacity(
            self.lines().count() * (widths.iter().sum::<usize>() + 2 * widths.len() + 1),
        );
        for cells in self.lines() {
            let start = s.len();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                s.push_str(cell);
                let n = cell.chars().count();
                s.extend(std::iter::repeat_n(' ', w.saturating_sub(n)));
            }
            let kept = s[start..].trim_end().len();
            s.truncate(start + kept);
            s.push('\n');
        }
        s
    }

    /// A Markdown table; it ends with a blank line, as DVC's `--md`.
    pub fn markdown(&self) -> String {
        let widths = self.widths();
        let line = |cells: &[String]| format!("| {} |\n", pad(cells, &widths).join(" | "));
        let mut s = String::new();
        if let Some(header) = &self.header {
            s.push_str(&line(header));
            let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            s.push_str(&format!("|{}|\n", dashes.join("|")));
        }
        for row in &self.rows {
            s.push_str(&line(row));
        }
        s.push('\n');
        s
    }

    fn lines(&self) -> impl Iterator<Item = &[String]> {
        self.header.iter().chain(&self.rows).map(Vec::as_slice)
    }

    fn widths(&self) -> Vec<usize> {
        let columns = self.lines().map(<[String]>::len).max().unwrap_or(0);
        (0..columns)
            .map(|c| {
                let header = self
                    .header
                    .as_ref()
                    .and_then(|h| h.get(c))
                    .map_or(0, |h| h.chars().count() + self.header_pad);
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .fold(header, usize::max)
            })
            .collect()
    }
}

fn pad(cells: &[String], widths: &[usize]) -> Vec<String> {
    cells
        .iter()
        .zip(widths)
        .map(|(cell, w)| format!("{cell:<w$}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Table {
        let mut t = Table::dvc(["Path", "Param", "HEAD", "workspace"]);
        t.push(["params.yaml", "lr", "0.1", "0.2"]);
        t
    }

    #[test]
    fn dvc_tables_are_laid_out_as_tabulate_does() {
        assert_eq!(
            params().text(),
            "Path         Param    HEAD    workspace\nparams.yaml  lr       0.1     0.2\n"
        );
        assert_eq!(
            params().markdown(),
            "| Path        | Param   | HEAD   | workspace   |\n\
             |-------------|---------|--------|-------------|\n\
             | params.yaml | lr      | 0.1    | 0.2         |\n\n"
        );
    }

    #[test]
    fn plain_columns_fit_their_widest_cell_and_drop_trailing_blanks() {
        let mut t = Table::new(["version", "aliases"]);
        t.push(["1", "champion"]);
        t.push(["2", ""]);
        assert_eq!(t.text(), "version  aliases\n1        champion\n2\n");
        let mut t = Table::headless();
        t.push(["prepare", "Split"]);
        t.push(["train", ""]);
        t.push(["report", "No outputs"]);
        assert_eq!(t.text(), "prepare  Split\ntrain\nreport   No outputs\n");
        assert!(Table::headless().is_empty());
        assert_eq!(Table::headless().text(), "");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut t = Table::new(["a", "b"]);
        t.push(["é×", "x"]);
        assert_eq!(t.text(), "a   b\né×  x\n");
    }
}
