//! `alien simulate --html FILE`: the console's timeline for scenario runs, as one
//! self-contained HTML file (the runs' traces embedded as JSON, the scripts and styles
//! inlined), so CI can keep it as an artifact and anyone can open it offline.

use serde::Serialize;

use super::{DRAW_JS, LANES_JS, STYLE};
use crate::engine::TraceEvent;

pub(super) const REPORT_JS: &str = include_str!("assets/report.js");
const REPORT_HTML: &str = include_str!("assets/report.html");

/// One scenario run as the report shows it.
#[derive(Debug, Serialize)]
pub struct ReportRun<'a> {
    pub scenario: &'a str,
    pub platform: String,
    pub seed: u64,
    pub passed: bool,
    /// The expectations that failed, in words.
    pub failures: Vec<String>,
    /// Virtual milliseconds from the start to the end of the run.
    pub end_ms: i64,
    pub events: &'a [TraceEvent],
}

#[derive(Serialize)]
struct Embedded<'a> {
    /// One time axis per scenario across its platforms (`--diff-platforms`).
    shared_axis: bool,
    runs: &'a [ReportRun<'a>],
}

/// The report page for `runs`; with `shared_axis` each scenario's platforms share one axis.
pub fn render_report(
    title: &str,
    subtitle: &str,
    runs: &[ReportRun<'_>],
    shared_axis: bool,
) -> String {
    let data = serde_json::to_string(&Embedded { shared_axis, runs })
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    REPORT_HTML
        .replace("/*STYLE*/", STYLE)
        .replace("/*TITLE*/", &escape_html(title))
        .replace("/*SUBTITLE*/", &escape_html(subtitle))
        .replace("/*LANES*/", LANES_JS)
        .replace("/*DRAW*/", DRAW_JS)
        .replace("/*REPORT*/", REPORT_JS)
        .replace("/*RUNS*/", &script_safe(&data))
}

/// Text for an HTML element's content.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// JSON inside `<script type="application/json">`: no `</script>` or `<!--` can end or
/// confuse the element (`<` is written `\u003c`, which JSON reads back the same).
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Kind;

    fn event(seq: u64, kind: Kind, payload: &str) -> TraceEvent {
        TraceEvent {
            seq,
            at: chrono::DateTime::UNIX_EPOCH,
            t_ms: 0,
            kind,
            resource: "jobs".into(),
            subject: Some("m-1".into()),
            detail: vec![("payload".into(), payload.into())],
        }
    }

    /// A payload holding `</script>` stays inside the data element and reads back whole.
    #[test]
    fn embedded_trace_cannot_close_its_script_element() {
        let events = [event(0, Kind::Sent, "</script><script>alert(1)</script>")];
        let runs = [ReportRun {
            scenario: "s",
            platform: "aws".into(),
            seed: 1,
            passed: true,
            failures: vec![],
            end_ms: 0,
            events: &events,
        }];
        let page = render_report("t <b>", "sub", &runs, false);
        let start = page.find("id=\"runs\">").expect("data element") + "id=\"runs\">".len();
        let end = start + page[start..].find("</script>").expect("its end");
        let data: serde_json::Value = serde_json::from_str(&page[start..end]).expect("JSON");
        assert_eq!(
            data["runs"][0]["events"][0]["detail"][0][1],
            "</script><script>alert(1)</script>"
        );
        assert!(page.contains("<title>t &lt;b&gt;</title>"));
    }
}
