//! The repository stands on its own: nothing it ships — code, tests, scripts, docs — needs a
//! file outside it. A clone with nothing beside it passes `scripts/test`. The one exception is
//! the comparison of the in-repository conformance vectors with the published ones, which is
//! skipped when they are absent.

use std::path::Path;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                files(&p, out);
            }
        } else if ["rs", "md", "toml", "sh", ""].contains(
            &p.extension()
                .map(|e| e.to_string_lossy().to_string())
                .unwrap_or_default()
                .as_str(),
        ) {
            out.push(p);
        }
    }
}

#[test]
fn nothing_in_the_repository_reads_a_path_outside_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for dir in ["src", "tests", "scripts", "docs", "examples", "fuzz", ".ci"] {
        files(&root.join(dir), &mut all);
    }
    all.push(root.join("README.md"));
    let outside = ["../", "shared/"].concat();
    let mut offenders = Vec::new();
    for f in all {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let allowed = f.ends_with("tests/conformance.rs");
        if text.contains(&outside) && !allowed {
            offenders.push(f.strip_prefix(root).unwrap().display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "these refer to files outside the repository: {offenders:?}"
    );
    for needed in [
        "tests/vectors/vectors.json",
        "datasets/telegram/telegram-transparency-2024-2026.json",
        "datasets/telegram/README.md",
        "docs/DESIGN.md",
    ] {
        assert!(root.join(needed).exists(), "{needed} is missing");
    }
}
