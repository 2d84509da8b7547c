//! The run's *own files*: the alerts and records it writes, its state database (with SQLite's
//! side files) and its GeoIP database. None of them may be an input or stand for another:
//! opening an output truncates it, so an output that is also an input, the state or the GeoIP
//! database would erase it. Files are compared by identity ([`FileId`]), so a symbolic or
//! hard link to a file is that file.

use super::{DetectOptions, Sink};
use std::path::{Path, PathBuf};

/// A file's identity: its device and inode, which every name of it shares (links included).
/// Taken from the file's metadata, so that no file is held open for it: a run may have
/// thousands of inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    /// The identity of an existing file; `None` when it does not exist or the platform has
    /// no inodes (then paths are compared).
    pub fn of(path: &Path) -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let metadata = std::fs::metadata(path).ok()?;
            Some(FileId { device: metadata.dev(), inode: metadata.ino() })
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }
}

/// One file the run writes or reads besides its inputs.
pub struct OwnFile {
    /// The option that names it, as the user wrote it: `--alerts`, `--state`, ...
    pub option: &'static str,
    pub path: PathBuf,
    /// True for outputs, which the run truncates.
    pub written: bool,
    /// The file's identity, when it exists.
    id: Option<FileId>,
    /// Its absolute path, for a file that does not exist yet.
    key: PathBuf,
}

impl OwnFile {
    fn new(option: &'static str, path: &Path, written: bool) -> OwnFile {
        OwnFile {
            option,
            path: path.to_path_buf(),
            written,
            id: FileId::of(path),
            key: absolute(path),
        }
    }

    fn is(&self, id: Option<FileId>, key: &Path) -> bool {
        match (self.id, id) {
            (Some(mine), Some(other)) => mine == other,
            _ => self.key == key,
        }
    }
}

/// Every own file of a run.
pub struct OwnFiles {
    files: Vec<OwnFile>,
}

impl OwnFiles {
    pub fn of(options: &DetectOptions) -> OwnFiles {
        let mut files = Vec::new();
        for (option, sink) in [("--alerts", &options.alerts), ("--records", &options.records)] {
            let Some(Sink::File(path)) = sink else { continue };
            // Devices and pipes (/dev/null, a FIFO) are not truncated by being opened.
            if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
                continue;
            }
            files.push(OwnFile::new(option, path, true));
        }
        if let Some(state) = &options.state {
            files.push(OwnFile::new("--state", state, false));
            for side in ["-wal", "-shm", "-journal"] {
                let mut name = state.clone().into_os_string();
                name.push(side);
                files.push(OwnFile::new("--state", Path::new(&name), false));
            }
        }
        if let Some(geoip) = &options.geoip {
            files.push(OwnFile::new("--geoip", geoip, false));
        }
        OwnFiles { files }
    }

    /// Refuses an output that is another own file: two outputs in one file overwrite each
    /// other's lines, and an output on the state or GeoIP database erases it.
    pub fn check_outputs(&self) -> anyhow::Result<()> {
        for (index, output) in self.files.iter().enumerate().filter(|(_, f)| f.written) {
            let other = self.files[..index]
                .iter()
                .chain(self.files[index + 1..].iter().filter(|f| !f.written))
                .find(|f| f.is(output.id, &output.key));
            if let Some(other) = other {
                anyhow::bail!(
                    "{} and {} name the same file {}; give each its own",
                    other.option,
                    output.option,
                    output.path.display()
                );
            }
        }
        Ok(())
    }

    /// The own file that `input` is, if it is one.
    pub fn find(&self, input: &Path) -> Option<&OwnFile> {
        let (id, key) = (FileId::of(input), absolute(input));
        self.files.iter().find(|f| f.is(id, &key))
    }
}

/// A path that names one file whichever way it is written, even before the file exists.
fn absolute(path: &Path) -> PathBuf {
    if let Ok(full) = std::fs::canonicalize(path) {
        return full;
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    match (parent.map_or_else(std::env::current_dir, std::fs::canonicalize), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}
