//! `Table`: the one renderer of the text tables commands print (`metrics show|diff`,
//! `params diff`, `model list`, `stage list`, `exp show`), as plain columns or a Markdown table.
//! Cells are kept in one buffer and columns measured as rows come: a table of 10 000 rows has
//! half a million cells.

/// Rows of cells, laid out in left-aligned columns two spaces apart, lines without trailing
/// blanks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    header: Option<Vec<String>>,
    /// Every row's cells, one after the other.
    text: String,
    /// Each cell's end in `text` and its width in characters.
    cells: Vec<(usize, usize)>,
    /// Where each row's cells end in `cells`; an unfinished row is after the last.
    rows: Vec<usize>,
    /// The widest cell of each column, rows only.
    widths: Vec<usize>,
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

    /// Makes room for `cells` more cells of `bytes` in all.
    pub fn reserve(&mut self, cells: usize, bytes: usize) {
        self.cells.reserve(cells);
        self.text.reserve(bytes);
    }

    /// Adds a row.
    pub fn push<S: AsRef<str>>(&mut self, row: impl IntoIterator<Item = S>) {
        for cell in row {
            self.cell(cell.as_ref());
        }
        self.end_row();
    }

    /// Adds a cell to the row being made.
    pub fn cell(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.close_cell(self.text.len() - cell.len());
    }

    /// Adds a cell to the row being made, written by `write` into the table's own buffer.
    pub fn cell_with(&mut self, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        self.close_cell(start);
    }

    fn close_cell(&mut self, start: usize) {
        let written = &self.text[start..];
        let width = if written.is_ascii() {
            written.len()
        } else {
            written.chars().count()
        };
        let column = self.cells.len() - self.rows.last().copied().unwrap_or(0);
        match self.widths.get_mut(column) {
            Some(w) => *w = (*w).max(width),
            None => self.widths.push(width),
        }
        self.cells.push((self.text.len(), width));
    }

    /// Ends the row being made.
    pub fn end_row(&mut self) {
        self.rows.push(self.cells.len());
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How wide its longest line is.
    pub fn width(&self) -> usize {
        let widths = self.widths();
        widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1)
    }

    /// Plain columns.
    pub fn text(&self) -> String {
        let widths = self.widths();
        let mut s = String::with_capacity(
            (self.rows.len() + 1) * (widths.iter().sum::<usize>() + 2 * widths.len() + 1),
        );
        self.each_text_line(&widths, |line| {
            s.push_str(line);
            true
        });
        s
    }

    /// Plain columns, written to `w` a line at a time (a table of 10 000 rows is 18 MB of
    /// text: it need not all be in memory).
    pub fn write_text(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut result = Ok(());
        self.each_text_line(&self.widths(), |line| {
            result = w.write_all(line.as_bytes());
            result.is_ok()
        });
        result
    }

    /// Each line of the plain columns, its newline included, until `f` says to stop.
    fn each_text_line(&self, widths: &[usize], mut f: impl FnMut(&str) -> bool) {
        let mut line = String::new();
        let mut going = true;
        self.each_line(|cells| {
            if !going {
                return;
            }
            line.clear();
            for (i, ((cell, n), w)) in cells.zip(widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                pad(&mut line, w.saturating_sub(n));
            }
            line.truncate(line.trim_end().len());
            line.push('\n');
            going = f(&line);
        });
    }

    /// A Markdown table; it ends with a blank line, as DVC's `--md`.
    pub fn markdown(&self) -> String {
        let widths = self.widths();
        let mut s = String::new();
        let line = |s: &mut String, cells: &mut dyn Iterator<Item = (&str, usize)>| {
            s.push('|');
            for ((cell, n), w) in cells.zip(&widths) {
                s.push(' ');
                s.push_str(cell);
                pad(s, w.saturating_sub(n));
                s.push_str(" |");
            }
            s.push('\n');
        };
        let mut header_done = self.header.is_none();
        self.each_line(|mut cells| {
            line(&mut s, &mut cells);
            if !header_done {
                header_done = true;
                s.push('|');
                for w in &widths {
                    s.push_str(&"-".repeat(w + 2));
                    s.push('|');
                }
                s.push('\n');
            }
        });
        s.push('\n');
        s
    }

    /// Each line's cells and their widths in characters: the header, then the rows.
    fn each_line(&self, mut f: impl FnMut(&mut dyn Iterator<Item = (&str, usize)>)) {
        if let Some(header) = &self.header {
            f(&mut header.iter().map(|h| (h.as_str(), h.chars().count())));
        }
        let mut first = 0;
        for &last in &self.rows {
            let start = |c: usize| if c == 0 { 0 } else { self.cells[c - 1].0 };
            f(
                &mut (first..last)
                    .map(|c| (&self.text[start(c)..self.cells[c].0], self.cells[c].1)),
            );
            first = last;
        }
    }

    /// Each column's width: its widest cell, header included.
    pub fn widths(&self) -> Vec<usize> {
        let header = self.header.as_deref().unwrap_or_default();
        let columns = self.widths.len().max(header.len());
        (0..columns)
            .map(|c| {
                let h = header
                    .get(c)
                    .map_or(0, |h| h.chars().count() + self.header_pad);
                self.widths.get(c).copied().unwrap_or(0).max(h)
            })
            .collect()
    }
}

/// Appends `n` blanks.
fn pad(s: &mut String, mut n: usize) {
    const BLANKS: &str = "                                                                ";
    while n > 0 {
        let k = n.min(BLANKS.len());
        s.push_str(&BLANKS[..k]);
        n -= k;
    }
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
