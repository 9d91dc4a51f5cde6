//! Pieces every collector uses the same way, written once: bounded log
//! tails spooled to disk, bounded command output, disk usage, image
//! references and safe path segments.

pub mod disk;
pub mod exec;
pub mod tail;

/// Names (containers, pods, files) become path segments: keep them boring.
pub fn path_segment(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.as_str() {
        "" | "." | ".." => "_".into(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_climb() {
        assert_eq!(path_segment("../x y"), ".._x_y");
        assert_eq!(path_segment(".."), "_");
        assert_eq!(path_segment(""), "_");
        assert_eq!(path_segment("frontend-7d9c"), "frontend-7d9c");
    }
}
