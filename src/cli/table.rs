//! Text tables for `list`, `history`, `status` and `agent list`: columns padded to their
//! widest cell, each cell but the last cut to [`MAX_CELL_CHARS`] with `...`.
//!
//! Padding is done by hand, not with `format!("{c:<width$}")`, whose width must fit a `u16`
//! (a 70,000-character cell panicked), and a cell that long would make the table unreadable
//! anyway: the full values are in `--json`.

/// The widest a cell other than a row's last may be, in characters.
pub const MAX_CELL_CHARS: usize = 60;

/// `text` cut to `max` characters, the cut marked with `...`.
pub fn elide(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}

/// Lines of `rows` with each column padded to its widest cell (the last one is not padded,
/// and not cut).
pub fn lines(rows: &[Vec<String>]) -> Vec<String> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, c)| {
                    if i + 1 == row.len() {
                        c.clone()
                    } else {
                        elide(c, MAX_CELL_CHARS)
                    }
                })
                .collect()
        })
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_long_cells_are_cut() {
        let long = "x".repeat(70_000);
        let rows = vec![
            vec!["A".to_string(), "B".to_string(), "C".to_string()],
            vec![long.clone(), "bb".to_string(), long.clone()],
        ];
        let out = lines(&rows);
        let cut = format!("{}...", "x".repeat(MAX_CELL_CHARS - 3));
        assert_eq!(
            out[0],
            format!("A{}  B   C", " ".repeat(MAX_CELL_CHARS - 1))
        );
        assert_eq!(out[1], format!("{cut}  bb  {long}"));
    }
}
