//! What `collect` tells the person waiting: on a terminal, one live line
//! (phase, objects listed, logs done of total, bytes written); otherwise
//! plain lines at each phase, for logs of CI jobs and `kubectl exec`;
//! nothing with `--quiet`. Details of each step with `--verbose`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A live line on a terminal.
    Live,
    /// A line per phase.
    Lines,
    Quiet,
}

impl Mode {
    /// Live on a terminal, lines elsewhere, unless `quiet`.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Lines
        }
    }
}

#[derive(Default)]
struct Counters {
    objects: AtomicU64,
    logs_total: AtomicU64,
    logs_done: AtomicU64,
    bytes: AtomicU64,
}

struct Inner {
    mode: Mode,
    verbose: bool,
    bar: Option<ProgressBar>,
    phase: Mutex<String>,
    n: Counters,
}

/// Cheap to clone; every collector and the packager hold one.
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

impl Progress {
    pub fn new(mode: Mode, verbose: bool) -> Progress {
        let bar = (mode == Mode::Live).then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}")
                    .expect("a valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Progress(Arc::new(Inner {
            mode,
            verbose: verbose && mode != Mode::Quiet,
            bar,
            phase: Mutex::new(String::new()),
            n: Counters::default(),
        }))
    }

    /// No output at all (tests, and commands that report by themselves).
    pub fn silent() -> Progress {
        Progress::new(Mode::Quiet, false)
    }

    pub fn phase(&self, text: &str) {
        *self.0.phase.lock().unwrap_or_else(|e| e.into_inner()) = text.to_string();
        match self.0.mode {
            Mode::Lines => say(&format!("sg-debug: {text}")),
            Mode::Live => self.redraw(),
            Mode::Quiet => {}
        }
    }

    /// One step, shown with `--verbose` only.
    pub fn detail(&self, text: &str) {
        if !self.0.verbose {
            return;
        }
        match &self.0.bar {
            Some(b) => b.println(format!("sg-debug:   {text}")),
            None => say(&format!("sg-debug:   {text}")),
        }
    }

    /// A message that must be seen now (a warning), without tearing the
    /// live line.
    pub fn println(&self, text: &str) {
        match &self.0.bar {
            Some(b) => b.println(text),
            None => say(text),
        }
    }

    pub fn objects_listed(&self, n: u64) {
        self.0.n.objects.fetch_add(n, Ordering::Relaxed);
        self.redraw();
    }

    pub fn logs_expected(&self, n: u64) {
        self.0.n.logs_total.fetch_add(n, Ordering::Relaxed);
        self.redraw();
    }

    pub fn log_done(&self) {
        self.0.n.logs_done.fetch_add(1, Ordering::Relaxed);
        self.redraw();
    }

    pub fn bytes_written(&self, n: u64) {
        self.0.n.bytes.fetch_add(n, Ordering::Relaxed);
        self.redraw();
    }

    /// The counters as one line: what the live line shows, and what the
    /// plain mode prints at the end.
    pub fn counts(&self) -> String {
        let n = &self.0.n;
        let mut parts = Vec::new();
        let objects = n.objects.load(Ordering::Relaxed);
        if objects > 0 {
            parts.push(format!("{objects} objects"));
        }
        let total = n.logs_total.load(Ordering::Relaxed);
        if total > 0 {
            parts.push(format!(
                "logs {}/{total}",
                n.logs_done.load(Ordering::Relaxed)
            ));
        }
        parts.push(format!(
            "{} written",
            indicatif::HumanBytes(n.bytes.load(Ordering::Relaxed))
        ));
        parts.join(", ")
    }

    fn redraw(&self) {
        if let Some(b) = &self.0.bar {
            let phase = self.0.phase.lock().unwrap_or_else(|e| e.into_inner());
            b.set_message(format!("{phase}  [{}]", self.counts()));
        }
    }

    /// Clears the live line; plain mode prints the final counts.
    pub fn finish(&self) {
        match (&self.0.bar, self.0.mode) {
            (Some(b), _) => b.finish_and_clear(),
            (None, Mode::Lines) => say(&format!("sg-debug: done: {}", self.counts())),
            _ => {}
        }
    }
}

/// A line on stderr; progress is never worth a panic when stderr is gone
/// (a closed terminal, a closed pipe).
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_like_a_sentence() {
        let p = Progress::silent();
        p.objects_listed(120);
        p.logs_expected(4);
        p.log_done();
        p.bytes_written(3 << 20);
        assert_eq!(p.counts(), "120 objects, logs 1/4, 3.00 MiB written");
    }
}
