//! Tables of the CLI's reports (issue 12 item 4), one helper over comfy-table so every table
//! looks alike. [`Look::Plain`] is what pipes, files, tests and scripts see: aligned columns
//! two spaces apart, no borders, no trailing spaces. [`Look::Boxed`] draws UTF-8 borders for
//! a person at a terminal. The caller picks the look ([`Look::for_stdout`]); a table never
//! wraps its cells (a URL or a path stays whole, to copy).

use std::io::IsTerminal;

use comfy_table::presets::{NOTHING, UTF8_FULL_CONDENSED};
use comfy_table::{ContentArrangement, Table};

/// How a table is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Aligned columns separated by two spaces: stable text for pipes, files and snapshots.
    Plain,
    /// UTF-8 borders, for a terminal.
    Boxed,
}

impl Look {
    /// Boxed when stdout is a terminal and the output is not JSON, else plain.
    pub fn for_stdout(json: bool) -> Look {
        Look::for_terminal(!json && std::io::stdout().is_terminal())
    }

    /// Boxed for a terminal, plain otherwise.
    pub fn for_terminal(is_terminal: bool) -> Look {
        if is_terminal {
            Look::Boxed
        } else {
            Look::Plain
        }
    }
}

/// Renders `header` and `rows` (each as long as `header`), ending with a newline.
pub fn render<R, C>(look: Look, header: &[&str], rows: R) -> String
where
    R: IntoIterator,
    R::Item: IntoIterator<Item = C>,
    C: Into<String>,
{
    let mut table = Table::new();
    table
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row.into_iter().map(Into::into).collect::<Vec<String>>());
    }
    match look {
        Look::Plain => {
            table.load_style(NOTHING);
            for column in table.column_iter_mut() {
                column.set_padding((0, 2));
            }
        }
        Look::Boxed => {
            table.load_style(UTF8_FULL_CONDENSED.with_rounded_corners());
        }
    }
    format!("{}\n", table.trim_fmt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Vec<&'static str>> {
        vec![
            vec!["jobs", "queue", "ready"],
            vec!["app", "worker", "ready (GET /health → 200)"],
        ]
    }

    #[test]
    fn plain_aligns_columns_two_spaces_apart_without_trailing_spaces() {
        assert_eq!(
            render(Look::Plain, &["RESOURCE", "TYPE", "STATE"], rows()),
            "RESOURCE  TYPE    STATE\n\
             jobs      queue   ready\n\
             app       worker  ready (GET /health → 200)\n"
        );
    }

    #[test]
    fn boxed_draws_utf8_borders_around_the_same_cells() {
        assert_eq!(
            render(Look::Boxed, &["RESOURCE", "TYPE", "STATE"], rows()),
            "╭──────────┬────────┬───────────────────────────╮\n\
             │ RESOURCE ┆ TYPE   ┆ STATE                     │\n\
             ╞══════════╪════════╪═══════════════════════════╡\n\
             │ jobs     ┆ queue  ┆ ready                     │\n\
             │ app      ┆ worker ┆ ready (GET /health → 200) │\n\
             ╰──────────┴────────┴───────────────────────────╯\n"
        );
    }

    #[test]
    fn long_cells_are_never_wrapped() {
        let path = "/a/very/long/state/directory/".repeat(8);
        let text = render(
            Look::Boxed,
            &["RESOURCE", "PATH"],
            [["uploads", path.as_str()]],
        );
        assert!(text.lines().any(|l| l.contains(&path)), "{text}");
    }

    #[test]
    fn json_or_a_pipe_gets_the_plain_look() {
        assert_eq!(Look::for_terminal(false), Look::Plain);
        assert_eq!(Look::for_terminal(true), Look::Boxed);
        assert_eq!(Look::for_stdout(true), Look::Plain);
    }
}
