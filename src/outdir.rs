//! Where outputs go, safely: a run's directory is built beside its target under a temporary
//! name and swapped in whole when complete, so a reader sees the previous run or the new one,
//! never a mix; single files are written to a temporary name and renamed, or written through
//! when the path is not a regular file (a FIFO, a device, `/dev/stdout`, a symlink's target).
//! Temporary names carry the writer's process id; leftovers of a process that no longer runs
//! (killed, or out of disk) are removed by the next writer.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why an output location cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutError {
    /// The user pointed at something that is not ours to replace (bad input).
    #[error("{path}: {message}")]
    Refused { path: String, message: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

impl OutError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> OutError + '_ {
        move |source| OutError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn refused(path: &Path, message: impl Into<String>) -> OutError {
        OutError::Refused {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// The file a run directory always holds: a directory with it is a previous run's.
pub const RUN_MARKER: &str = "summary.csv";
/// The file a sweep directory always holds.
pub const SWEEP_MARKER: &str = "sweep.json";

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into())
}

/// Whether process `pid` may still be running (where `/proc` cannot tell: assume not).
fn alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

/// The temporary names of `name` in its directory that a dead process left: `.{name}.{kind}-{pid}`.
fn leftovers(dir: &Path, name: &str, kind: &str) -> Vec<PathBuf> {
    let prefix = format!(".{name}.{kind}-");
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !alive(pid))
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

fn remove_any(path: &Path) {
    let _ = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    };
}

/// A run directory being built: `path()` is the temporary directory to write into; `commit`
/// swaps it in for the target. Dropped without a commit, it removes itself.
pub struct Staged {
    target: PathBuf,
    stage: PathBuf,
    committed: bool,
}

impl Staged {
    /// Checks the target before anything runs (not a file; absent, empty or a previous run's
    /// directory; its parent writable), cleans what killed runs left beside it, and creates
    /// the temporary directory. Every failure here is about the location the user chose.
    pub fn begin(target: &Path) -> Result<Staged, OutError> {
        Staged::try_begin(target).map_err(|e| match e {
            OutError::Io { path, source } => OutError::Refused {
                path,
                message: format!("cannot write the run here: {source}"),
            },
            refused => refused,
        })
    }

    fn try_begin(target: &Path) -> Result<Staged, OutError> {
        let parent = parent_of(target);
        let name = file_name(target);
        match fs::metadata(target) {
            Ok(m) if !m.is_dir() => {
                return Err(OutError::refused(
                    target,
                    "exists and is not a directory: the output of a run is a directory",
                ));
            }
            Ok(_) => {
                let mut entries = fs::read_dir(target).map_err(OutError::io(target))?;
                if entries.next().is_some()
                    && !target.join(RUN_MARKER).is_file()
                    && !target.join(SWEEP_MARKER).is_file()
                {
                    return Err(OutError::refused(
                        target,
                        format!(
                            "exists and is not the output of a run (no {RUN_MARKER} or \
                             {SWEEP_MARKER}); a run replaces its output directory whole, so \
                             choose another --out"
                        ),
                    ));
                }
            }
            Err(_) => {}
        }
        if let Some(file) = parent
            .ancestors()
            .find(|a| a.exists())
            .filter(|a| !a.is_dir())
        {
            return Err(OutError::refused(
                file,
                "is a file, so the run cannot be written below it",
            ));
        }
        fs::create_dir_all(parent).map_err(OutError::io(parent))?;
        // A run killed between the two renames of `commit` left the previous run aside.
        let old = leftovers(parent, &name, "old");
        if !target.exists()
            && let Some(last) = old.last()
        {
            fs::rename(last, target).map_err(OutError::io(target))?;
        }
        for p in leftovers(parent, &name, "old")
            .into_iter()
            .chain(leftovers(parent, &name, "tmp"))
        {
            remove_any(&p);
        }
        let stage = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        remove_any(&stage);
        fs::create_dir(&stage).map_err(OutError::io(parent))?;
        Ok(Staged {
            target: target.to_path_buf(),
            stage,
            committed: false,
        })
    }

    /// The temporary directory to write the run into.
    pub fn path(&self) -> &Path {
        &self.stage
    }

    /// Puts the new run in place of the target (and of the previous run, removed after).
    pub fn commit(mut self) -> Result<(), OutError> {
        let parent = parent_of(&self.target);
        let old = parent.join(format!(
            ".{}.old-{}",
            file_name(&self.target),
            std::process::id()
        ));
        let had_old = self.target.exists();
        if had_old {
            fs::rename(&self.target, &old).map_err(OutError::io(&self.target))?;
        }
        if let Err(e) = fs::rename(&self.stage, &self.target) {
            if had_old {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(OutError::io(&self.target)(e));
        }
        self.committed = true;
        if had_old {
            remove_any(&old);
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            remove_any(&self.stage);
        }
    }
}

/// Writes `bytes` to `path`: atomically (a temporary name in the same directory, then a
/// rename) when it is a regular file or absent; through it when it is a FIFO, a device or a
/// socket; at its target when it is a symlink. The temporary file goes on every error.
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory, expected a file",
            ));
        }
        Ok(m) if !m.is_file() => {
            let mut f = fs::OpenOptions::new().write(true).open(path)?;
            return f.write_all(bytes).and_then(|()| f.flush());
        }
        _ => {}
    }
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let real = if is_link {
        fs::canonicalize(path)?
    } else {
        path.to_path_buf()
    };
    let dir = parent_of(&real);
    fs::create_dir_all(dir)?;
    let name = file_name(&real);
    for p in leftovers(dir, &name, "tmp") {
        remove_any(&p);
    }
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, &real));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_run_replaces_the_previous_one_whole() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("run");
        fs::create_dir(&target).unwrap();
        fs::write(target.join(RUN_MARKER), "old").unwrap();
        fs::write(target.join("stale.csv"), "old").unwrap();
        let s = Staged::begin(&target).unwrap();
        fs::write(s.path().join(RUN_MARKER), "new").unwrap();
        // Until the commit, readers see the old run.
        assert_eq!(fs::read_to_string(target.join(RUN_MARKER)).unwrap(), "old");
        s.commit().unwrap();
        assert_eq!(fs::read_to_string(target.join(RUN_MARKER)).unwrap(), "new");
        assert!(!target.join("stale.csv").exists());
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary directory left");
    }

    #[test]
    fn a_dropped_stage_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let s = Staged::begin(&d.path().join("run")).unwrap();
        fs::write(s.path().join("x"), "x").unwrap();
        drop(s);
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn foreign_directories_and_files_are_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("precious.txt"), "keep").unwrap();
        let e = Staged::begin(d.path()).err().unwrap();
        assert!(e.to_string().contains("not the output of a run"), "{e}");
        let e = Staged::begin(&d.path().join("precious.txt")).err().unwrap();
        assert!(e.to_string().contains("not a directory"), "{e}");
        assert_eq!(
            fs::read_to_string(d.path().join("precious.txt")).unwrap(),
            "keep"
        );
    }

    /// A dead writer's leftovers (pid 4,000,000,000 does not run) go; a run killed between
    /// the two renames gets its previous run back.
    #[test]
    fn leftovers_of_killed_runs_are_cleaned() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("run");
        fs::create_dir(d.path().join(".run.tmp-4000000000")).unwrap();
        fs::create_dir(d.path().join(".run.old-4000000000")).unwrap();
        fs::write(d.path().join(".run.old-4000000000").join(RUN_MARKER), "old").unwrap();
        fs::write(d.path().join(".f.csv.tmp-4000000000"), "half").unwrap();
        let s = Staged::begin(&target).unwrap();
        assert_eq!(fs::read_to_string(target.join(RUN_MARKER)).unwrap(), "old");
        drop(s);
        write_file(&d.path().join("f.csv"), b"whole").unwrap();
        let mut names: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["f.csv", "run"]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_and_fifos_are_written_through() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.csv");
        fs::write(&real, "old").unwrap();
        let link = d.path().join("link.csv");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_file(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        // /dev/null is a character device: written through, never replaced.
        write_file(Path::new("/dev/null"), b"x").unwrap();
        assert!(!fs::metadata("/dev/null").unwrap().is_file());
    }
}
