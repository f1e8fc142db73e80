//! Reading the web console's DOM contract through WebDriver: wait on the page's own markers
//! (`body[data-ready]`, `body[data-seq]`) instead of sleeping, and read attributes and text.
//! Every wait is bounded in real time and panics naming what it waited for.

use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

/// How long a page may take to show what the test waits for.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until the page has applied its first trace page (`body[data-ready="1"]`).
pub async fn wait_ready(c: &Client) {
    wait_for(c, r#"body[data-ready="1"]"#).await;
}

/// Waits until an element matches `css`; returns it.
pub async fn wait_for(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(PAGE_TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for `{css}`: {e}"))
}

/// Waits until the live console has applied trace event `seq` (`body[data-seq]` ≥ `seq`).
pub async fn wait_seq(c: &Client, seq: u64) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let applied = c
            .execute("return Number(document.body.dataset.seq ?? -1);", vec![])
            .await
            .expect("read body[data-seq]");
        if applied.as_f64().is_some_and(|s| s >= seq as f64) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the console applied trace seq {applied} after {PAGE_TIMEOUT:?}, want ≥ {seq}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for the lane matching `lane_css`; returns its attempts' `data-outcome`s in order.
pub async fn attempt_outcomes(c: &Client, lane_css: &str) -> Vec<String> {
    let lane = wait_for(c, lane_css).await;
    attrs(&all(c, Some(&lane), ".attempt").await, "data-outcome").await
}

/// Elements matching `css` under `root` (the whole page when `None`).
pub async fn all(c: &Client, root: Option<&Element>, css: &str) -> Vec<Element> {
    match root {
        Some(root) => root.find_all(Locator::Css(css)).await,
        None => c.find_all(Locator::Css(css)).await,
    }
    .unwrap_or_else(|e| panic!("find `{css}`: {e}"))
}

/// Attribute `name` of each element ("" where absent).
pub async fn attrs(elements: &[Element], name: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(elements.len());
    for e in elements {
        let value = e.attr(name).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push(value.unwrap_or_default());
    }
    out
}

/// The visible text of each element.
pub async fn texts(elements: &[Element]) -> Vec<String> {
    let mut out = Vec::with_capacity(elements.len());
    for e in elements {
        out.push(e.text().await.expect("an element's text"));
    }
    out
}
