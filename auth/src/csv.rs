//! CSV for exports and reports that people open in spreadsheets.
//!
//! Cells are quoted as RFC 4180 says (a cell holding a comma, a double quote, CR or LF
//! is enclosed in double quotes, with inner double quotes doubled). Rows end in `\n`,
//! which every spreadsheet and CSV reader accepts.
//!
//! Spreadsheets run a cell that begins with `=`, `+`, `-` or `@` as a formula (and
//! some strip a leading tab or CR first), so a value such as an e-mail address or a
//! user agent chosen by an attacker could execute in an auditor's spreadsheet. Such
//! cells get a leading `'`, which spreadsheets show as text; anyone processing the
//! file by program should strip it from cells that begin with `'=`, `'+`, `'-`, `'@`,
//! `'\t` or `'\r`.

/// A table with a header row; every row should have as many cells as `headers`.
pub fn csv_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    push_row(&mut out, headers.iter().copied());
    for row in rows {
        push_row(&mut out, row.iter().map(String::as_str));
    }
    out
}

fn push_row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(out, cell);
    }
    out.push('\n');
}

fn push_cell(out: &mut String, cell: &str) {
    let neutralise = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = cell.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if neutralise {
        out.push('\'');
    }
    if quote {
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_neutralises_cells() {
        let rows = vec![
            vec!["plain".into(), "a,b".into(), "say \"hi\"".into()],
            vec!["line\nbreak".into(), "=1+1".into(), "-2".into()],
            vec![
                "@SUM(A1)".into(),
                "\tx".into(),
                "\r=cmd|' /c calc'!A0".into(),
            ],
            vec!["+x".into(), String::new(), "a=b".into()],
        ];
        assert_eq!(
            csv_table(&["one", "two", "th,ree"], &rows),
            "one,two,\"th,ree\"\n\
             plain,\"a,b\",\"say \"\"hi\"\"\"\n\
             \"line\nbreak\",'=1+1,'-2\n\
             '@SUM(A1),'\tx,\"'\r=cmd|' /c calc'!A0\"\n\
             '+x,,a=b\n"
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(csv_table(&["a", "b"], &[]), "a,b\n");
    }
}
