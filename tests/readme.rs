//! The README promises two commands; CI must run the test one verbatim, and
//! the demo it names must exist, or the README stops being true.

fn fenced_after(readme: &str, heading: &str) -> String {
    let at = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"));
    let block = readme[at..].split("```sh\n").nth(1).expect("a sh block");
    block.split("\n```").next().unwrap().trim().to_string()
}

#[test]
fn ci_runs_exactly_the_readme_test_command() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let ci = std::fs::read_to_string(format!("{root}/.ci/run")).unwrap();
    let test_cmd = fenced_after(&readme, "Run the tests");
    assert!(
        ci.lines().any(|l| l.trim() == test_cmd),
        ".ci/run must run the README's test command {test_cmd:?} verbatim"
    );
    let main_cmd = fenced_after(&readme, "Build and run the main job");
    let script = main_cmd.split_whitespace().next().unwrap();
    let meta = std::fs::metadata(format!("{root}/{script}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert!(
        meta.permissions().mode() & 0o111 != 0,
        "{script} is executable"
    );
}
