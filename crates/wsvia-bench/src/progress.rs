//! Progress bars on stderr (hidden when stderr is not a terminal, so logs stay clean).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `total` items (connections opened, runs done).
pub fn counter(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A bar over `secs` seconds of a run, with a live message (e.g. msg/s).
pub fn timed(secs: f64, what: &str) -> ProgressBar {
    let tenths = (secs * 10.0).round().max(1.0) as u64;
    let bar = ProgressBar::new(tenths);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar
}
