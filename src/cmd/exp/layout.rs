//! `wf exp show`'s text table: laid out in one buffer, fitted to the terminal.

use super::render::{created, write_cell};
use crate::exp::show::Sheet;
use crate::table::Table;

/// The terminal's width, if stdout is one (or `COLUMNS` says).
pub(super) fn width() -> Option<usize> {
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(w);
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

/// The text table and a note on what it leaves out, made to fit `width`: first without the columns equal in every row, then with
/// long cells shortened, then without the last columns.
pub(super) fn fitted(sheet: Sheet, width: Option<usize>) -> (Table, String) {
    let full = table(&sheet, None, sheet.columns.len());
    let Some(width) = width.filter(|w| full.width() > *w) else {
        return (full, String::new());
    };
    let mut sheet = sheet;
    let rows = || sheet.groups.iter().flat_map(|g| &g.rows);
    let same: Vec<bool> = (0..sheet.columns.len())
        .map(|i| {
            let mut vals = rows().map(|r| &r.values[i]);
            let first = vals.next();
            vals.all(|v| Some(v) == first)
        })
        .collect();
    let hidden = same.iter().filter(|s| **s).count();
    drop_columns(&mut sheet, |i| same[i]);
    let mut note = String::new();
    if hidden > 0 {
        note.push_str(&format!(
            "({hidden} columns equal in every row are hidden: `--keep` shows them)\n"
        ));
    }
    for cut in [24, 16, 10] {
        let short = table(&sheet, Some(cut), sheet.columns.len());
        if short.width() <= width {
            return (short, note);
        }
    }
    // As many columns as fit, the rest left out.
    let short = table(&sheet, Some(10), sheet.columns.len());
    let widths = short.widths();
    let mut used = 0;
    let mut kept = 0;
    for (i, w) in widths.iter().enumerate() {
        used += w + if i > 0 { 2 } else { 0 };
        if used > width && i >= 3 {
            break;
        }
        kept = i + 1;
    }
    let shown = kept.saturating_sub(3);
    let dropped = sheet.columns.len() - shown;
    if dropped > 0 {
        note.push_str(&format!(
            "({dropped} more columns do not fit: `--keep`, `--drop` or `--json` show them)\n"
        ));
    }
    (table(&sheet, Some(10), shown), note)
}

fn drop_columns(sheet: &mut Sheet, gone: impl Fn(usize) -> bool) {
    let keep: Vec<bool> = (0..sheet.columns.len()).map(|i| !gone(i)).collect();
    let mut i = 0;
    sheet.columns.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    for row in sheet.groups.iter_mut().flat_map(|g| &mut g.rows) {
        let mut i = 0;
        row.values.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
}

/// Shortens what `s` holds from `start` on with `…` to `cut` characters.
fn cap(s: &mut String, start: usize, cut: Option<usize>) {
    let Some(cut) = cut else { return };
    if let Some((end, _)) = s[start..].char_indices().nth(cut) {
        let keep = s[start..start + end]
            .char_indices()
            .nth(cut.saturating_sub(1))
            .map_or(end, |(i, _)| i);
        s.truncate(start + keep);
        s.push('…');
    }
}

/// The table: Experiment, Created, State, then a column per metric and param (the first
/// `columns` of them); with `cut`, every header and value longer than it shortened (a dotted
/// header to its last part first).
pub(super) fn table(sheet: &Sheet, cut: Option<usize>, columns: usize) -> Table {
    let mut header = vec!["Experiment".to_string(), "Created".into(), "State".into()];
    header.extend(sheet.columns.iter().take(columns).map(|c| match cut {
        Some(n) if c.header.chars().count() > n => {
            let mut h = c.header.rsplit('.').next().unwrap_or(&c.header).to_string();
            cap(&mut h, 0, cut);
            h
        }
        _ => c.header.clone(),
    }));
    let mut t = Table::new(header);
    // Most values are numbers of about 8 characters.
    let cells = sheet.groups.iter().map(|g| g.rows.len() + 1).sum::<usize>() * (3 + columns);
    t.reserve(cells, cells * 8);
    for group in &sheet.groups {
        let base = group
            .baseline
            .as_deref()
            .map_or("workspace".to_string(), |b| b.chars().take(7).collect());
        t.cell(&base);
        for _ in 0..3 + columns.min(sheet.columns.len()) - 1 {
            t.cell("");
        }
        t.end_row();
        let n = group.rows.len();
        for (i, row) in group.rows.iter().enumerate() {
            let branch = if i + 1 == n { "└──" } else { "├──" };
            t.cell_with(|s| {
                s.push_str(branch);
                s.push(' ');
                let start = s.len();
                s.push_str(&row.name);
                cap(s, start, cut.map(|c| c.max(12)));
            });
            t.cell(&created(row.created));
            t.cell(&row.state);
            for v in row.values.iter().take(columns) {
                t.cell_with(|s| {
                    let start = s.len();
                    write_cell(s, v);
                    cap(s, start, cut);
                });
            }
            t.end_row();
        }
    }
    t
}
