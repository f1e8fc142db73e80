//! The web console (issue 12): a timeline of virtual time with one lane per message, worker
//! instance slot, cron trigger, daemon and command, drawn from the trace; each redelivery
//! carries the engine's `cause` in words. `alien emulate` serves it live at `GET /ui` on the
//! control port ([`router`]); `alien simulate --html` writes the same timeline as one
//! self-contained file ([`report`]). Every asset is embedded in the binary: nothing is
//! fetched from elsewhere, so it works offline.

pub mod report;

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// Lanes from trace events (shared by the console and the report).
const LANES_JS: &str = include_str!("assets/lanes.js");
/// The lanes drawn on a time axis, and the details panel (shared too).
const DRAW_JS: &str = include_str!("assets/draw.js");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_HTML: &str = include_str!("assets/console.html");
const STYLE: &str = include_str!("assets/console.css");

/// Scripts and styles only from the page itself; requests only to the control API.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

/// The console page with its script and style inlined.
static CONSOLE_PAGE: LazyLock<String> = LazyLock::new(|| {
    CONSOLE_HTML
        .replace("/*STYLE*/", STYLE)
        .replace("/*LANES*/", LANES_JS)
        .replace("/*DRAW*/", DRAW_JS)
        .replace("/*CONSOLE*/", CONSOLE_JS)
});

/// `GET /ui` (and `/ui/`): the live console over the control API it is served with.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(console_page))
        .route("/ui/", get(console_page))
}

async fn console_page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        CONSOLE_PAGE.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An inlined script must not end its own `<script>` element early.
    #[test]
    fn inlined_assets_close_no_script_element() {
        for (name, asset) in [
            ("lanes.js", LANES_JS),
            ("draw.js", DRAW_JS),
            ("console.js", CONSOLE_JS),
            ("report.js", report::REPORT_JS),
            ("console.css", STYLE),
        ] {
            assert!(!asset.contains("</"), "{name} contains '</'");
        }
    }

    /// Offline: nothing in the page loads from another origin.
    #[test]
    fn console_page_loads_nothing_from_elsewhere() {
        for needle in ["http://", "https://", "//cdn", "src=\""] {
            assert!(
                !CONSOLE_PAGE.contains(needle),
                "console page contains {needle}"
            );
        }
        assert!(
            !CONSOLE_PAGE.contains("/*"),
            "a placeholder was left unfilled"
        );
    }
}
