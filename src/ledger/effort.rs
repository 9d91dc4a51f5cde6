//! `--effort`: how long one debugging session took, as a human duration
//! (`45m`, `1h30m`, `2h 15m`), parsed by humantime. A bare number is
//! refused: `90` could be minutes or hours, and a guess would skew every
//! figure the report shows.

use std::time::Duration;

/// More than this in one record is a typo (or several sessions that
/// should be recorded one by one).
pub const MAX_EFFORT: Duration = Duration::from_secs(1000 * 3600);

/// The effort in whole seconds, or why the text is not one.
pub fn parse(input: &str) -> Result<u64, String> {
    let t = input.trim();
    let example = "write it like 45m, 1h30m or 2h";
    if t.is_empty() {
        return Err(format!("the effort is empty; {example}"));
    }
    if t.starts_with('-') {
        return Err(format!("effort '{input}' is negative; {example}"));
    }
    if t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "effort '{input}' has no unit: minutes or hours? {example}"
        ));
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("effort '{input}' is not a duration ({e}); {example}"))?;
    if d > MAX_EFFORT {
        return Err(format!(
            "effort '{input}' is over 1000 hours for one session: record each session on its own"
        ));
    }
    match d.as_secs() {
        0 => Err(format!(
            "effort '{input}' is zero; record the time the session took, {example}"
        )),
        s => Ok(s),
    }
}

/// Seconds as `1h30m`, `45m`, `2h`: what `parse` reads back.
pub fn format(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(parse("1h30m"), Ok(5400));
        assert_eq!(parse(" 2h 15m "), Ok(8100));
        assert_eq!(parse("45min"), Ok(2700));
        assert_eq!(parse("1000h"), Ok(3_600_000));
        assert_eq!(format(5400), "1h30m");
        assert_eq!(format(7200), "2h");
        assert_eq!(format(2700), "45m");
    }

    #[test]
    fn refused_with_the_reason() {
        for (input, why) in [
            ("90", "no unit"),
            ("1.5", "no unit"),
            ("-1h", "negative"),
            ("0m", "zero"),
            ("0s", "zero"),
            ("500ms", "zero"),
            ("1001h", "over 1000 hours"),
            ("6weeks", "over 1000 hours"),
            ("1x", "not a duration"),
            ("", "empty"),
        ] {
            let e = parse(input).unwrap_err();
            assert!(e.contains(why), "{input:?}: {e}");
        }
    }
}
