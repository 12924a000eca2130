//! `--diff-base REF`: the files a change touched since its merge base with REF, read with the
//! `git` command (what CI checkouts have), so a pull request is judged on what it introduces.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What changed since the merge base.
#[derive(Debug, Default)]
pub struct Changed {
    /// Added, modified, renamed (new name) and untracked files, absolute.
    pub files: BTreeSet<PathBuf>,
    /// A Python file was deleted or renamed away: references into it may now dangle from
    /// files the change did not touch.
    pub python_removed: bool,
    pub merge_base: String,
    /// Files added since the merge base (not renamed), and untracked files, absolute: the
    /// revisions a change adds.
    pub added: BTreeSet<PathBuf>,
}

fn git(cwd: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .current_dir(cwd)
        .args(args)
        .output()
        .map_err(|e| format!("--diff-base needs the `git` command: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

pub fn changed_since(cwd: &Path, base: &str) -> Result<Changed, String> {
    let top = git(cwd, &["rev-parse", "--show-toplevel"])
        .map_err(|e| format!("--diff-base needs a git repository: {e}"))?;
    let top = PathBuf::from(top.trim());
    let merge_base = match git(&top, &["merge-base", base, "HEAD"]) {
        Ok(s) => s.trim().to_string(),
        Err(e) => {
            let shallow = git(&top, &["rev-parse", "--is-shallow-repository"])
                .is_ok_and(|s| s.trim() == "true");
            // `^{commit}`: a full hex id verifies without the object otherwise.
            let known = git(
                &top,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{base}^{{commit}}"),
                ],
            )
            .is_ok();
            let is_id = base.len() >= 7 && base.chars().all(|c| c.is_ascii_hexdigit());
            return Err(if shallow {
                format!(
                    "--diff-base {base}: this clone is shallow and has no commit in common with `{base}`; fetch the history (in GitHub Actions: `actions/checkout` with `fetch-depth: 0`)"
                )
            } else if !known && is_id {
                format!(
                    "--diff-base {base}: this clone does not have that commit; fetch the history (in GitHub Actions: `actions/checkout` with `fetch-depth: 0`)"
                )
            } else if !known {
                format!(
                    "--diff-base {base}: no such branch, tag or commit here (fetch it first, e.g. `git fetch origin {base}`, and use `origin/{base}`)"
                )
            } else {
                format!("--diff-base {base}: no merge base with HEAD: {e}")
            });
        }
    };
    let mut changed = Changed {
        merge_base: merge_base.clone(),
        ..Changed::default()
    };
    // Committed and uncommitted changes against the merge base.
    let diff = git(&top, &["diff", "--name-status", "-z", "-M", &merge_base])?;
    let mut fields = diff.split('\0').filter(|s| !s.is_empty());
    while let Some(status) = fields.next() {
        let kind = status.chars().next().unwrap_or('M');
        let renamed = kind == 'R' || kind == 'C';
        let Some(path) = fields.next() else { break };
        let new = if renamed { fields.next() } else { None };
        let removed_py = path.ends_with(".py") && (kind == 'D' || kind == 'R');
        changed.python_removed |= removed_py;
        match (kind, new) {
            ('D', _) => {}
            ('A', _) => {
                changed.files.insert(top.join(path));
                changed.added.insert(top.join(path));
            }
            (_, Some(n)) => {
                changed.files.insert(top.join(n));
            }
            _ => {
                changed.files.insert(top.join(path));
            }
        }
    }
    let untracked = git(&top, &["ls-files", "--others", "--exclude-standard", "-z"])?;
    for p in untracked.split('\0').filter(|s| !s.is_empty()) {
        changed.files.insert(top.join(p));
        changed.added.insert(top.join(p));
    }
    Ok(changed)
}

/// The files a branch adds: on a branch other than the repository's default branch
/// (`origin/HEAD`, else `main`, else `master`), the files added since their merge base.
/// `None` outside git, on the default branch (or behind it), without a default branch, or
/// in a shallow clone that lacks the merge base: then nothing says which revisions are new.
pub fn branch_added(dir: &Path) -> Option<BTreeSet<PathBuf>> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"]).ok()?.trim());
    let default = git(
        &top,
        &["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"],
    )
    .ok()
    .map(|s| s.trim().to_string())
    .or_else(|| {
        ["refs/heads/main", "refs/heads/master"]
            .into_iter()
            .find_map(|r| {
                git(&top, &["rev-parse", "--verify", "--quiet", r])
                    .ok()
                    .map(|_| r.to_string())
            })
    })?;
    let head = git(&top, &["rev-parse", "HEAD"]).ok()?;
    let base = git(&top, &["merge-base", &default, "HEAD"]).ok()?;
    if base.trim() == head.trim() {
        return None;
    }
    changed_since(&top, base.trim()).ok().map(|c| c.added)
}
