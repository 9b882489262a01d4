//! The log backend: events handed over by the shards through a bounded channel (never
//! blocking a shard), written in batches by one `audit-log` thread as JSON lines, to a file
//! rotated as upstream's lumberjack rotates it (`--audit-log-maxsize` MB per file; backups
//! named `<name>-<UTC time>.<ext>`, gzipped with `--audit-log-compress`, pruned by
//! `--audit-log-maxbackup` and `--audit-log-maxage`), or to standard out.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crossbeam::channel::{bounded, Receiver, Sender, TrySendError};

use super::policy::Level;

/// Where the log goes and how it is rotated.
#[derive(Clone, Debug)]
pub struct LogSettings {
    /// A file, or `-` for standard out.
    pub path: String,
    /// Rotate a file before it would pass this many bytes (0: never).
    pub max_size: u64,
    /// Backups kept (0: all).
    pub max_backups: usize,
    /// Backups older than this are removed (zero: kept).
    pub max_age: Duration,
    /// Gzip backups.
    pub compress: bool,
    /// Events the channel holds.
    pub buffer: usize,
    /// Events written per flush at most.
    pub batch: usize,
}

/// What the scrape reads of the audit log (`apiserver_audit_*`).
#[derive(Debug, Default)]
pub struct AuditCounters {
    /// Events handed to the backend.
    pub events: AtomicU64,
    /// Events dropped: the buffer was full, or writing failed.
    pub errors: AtomicU64,
    /// Requests audited, by level (None, Metadata, Request, RequestResponse).
    pub levels: [AtomicU64; 4],
}

/// A shard's handle on the backend: cloning it is cheap, sending never blocks.
#[derive(Clone, Debug)]
pub struct Sink {
    tx: Sender<Vec<u8>>,
    counters: Arc<AuditCounters>,
}

impl Sink {
    /// Hands one event line to the writer; false (and counted, and logged) when the buffer is
    /// full.
    pub fn send(&self, line: Vec<u8>) -> bool {
        match self.tx.try_send(line) {
            Ok(()) => {
                self.counters.events.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.counters.errors.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() {
                    log::error!("audit log buffer full: {} events dropped so far", n + 1);
                }
                false
            }
        }
    }

    /// Counts one audited request at `level`.
    pub fn count_level(&self, level: Level) {
        self.counters.levels[level as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters.
    pub fn counters(&self) -> &AuditCounters {
        &self.counters
    }
}

/// The running backend: the shards' sink, and the thread to join at shutdown.
pub struct LogBackend {
    sink: Option<Sink>,
    thread: Option<JoinHandle<()>>,
}

impl LogBackend {
    /// Opens the log (creating its directory) and starts the `audit-log` thread.
    pub fn start(settings: LogSettings) -> Result<Self, String> {
        let out = Output::open(&settings)?;
        let (tx, rx) = bounded(settings.buffer.max(1));
        let thread = std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || write_loop(rx, out, settings))
            .map_err(|e| format!("starting the audit log thread: {e}"))?;
        Ok(Self {
            sink: Some(Sink {
                tx,
                counters: Arc::default(),
            }),
            thread: Some(thread),
        })
    }

    /// A sink for a shard.
    pub fn sink(&self) -> Option<Sink> {
        self.sink.clone()
    }

    /// Waits for the writer to write what it was handed, once every other sink is gone
    /// (bounded: `limit`).
    pub fn close(mut self, limit: Duration) {
        self.sink = None;
        let Some(t) = self.thread.take() else { return };
        let deadline = std::time::Instant::now() + limit;
        while !t.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if t.is_finished() {
            let _ = t.join();
        } else {
            log::warn!("the audit log writer did not finish within {limit:?}");
        }
    }
}

fn write_loop(rx: Receiver<Vec<u8>>, mut out: Output, settings: LogSettings) {
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(settings.batch);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < settings.batch.max(1) {
            match rx.try_recv() {
                Ok(line) => batch.push(line),
                Err(_) => break,
            }
        }
        // Anything queued behind the batch is written in the same pass (a burst costs one
        // flush per drained queue, not per event).
        while let Ok(line) = rx.try_recv() {
            batch.push(line);
        }
        for line in batch.drain(..) {
            if let Err(e) = out.write(&line, &settings) {
                log::error!("writing the audit log: {e}");
            }
        }
        if let Err(e) = out.flush() {
            log::error!("flushing the audit log: {e}");
        }
    }
}

enum Output {
    Stdout,
    File {
        path: PathBuf,
        file: File,
        size: u64,
    },
}

impl Output {
    fn open(settings: &LogSettings) -> Result<Self, String> {
        if settings.path == "-" {
            return Ok(Output::Stdout);
        }
        let path = PathBuf::from(&settings.path);
        let (file, size) =
            open_append(&path).map_err(|e| format!("opening audit log {}: {e}", path.display()))?;
        Ok(Output::File { path, file, size })
    }

    fn write(&mut self, line: &[u8], settings: &LogSettings) -> io::Result<()> {
        match self {
            Output::Stdout => io::stdout().lock().write_all(line),
            Output::File { path, file, size } => {
                let len = line.len() as u64;
                if settings.max_size > 0 && *size > 0 && *size + len > settings.max_size {
                    file.flush()?;
                    let backup = backup_name(path, SystemTime::now());
                    std::fs::rename(&*path, &backup)?;
                    let (f, s) = open_append(path)?;
                    *file = f;
                    *size = s;
                    prune(path, settings);
                }
                file.write_all(line)?;
                *size += len;
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout => io::stdout().lock().flush(),
            Output::File { file, .. } => file.flush(),
        }
    }
}

fn open_append(path: &Path) -> io::Result<(File, u64)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

/// `<dir>/<stem>-<UTC time as 2006-01-02T15-04-05.000><.ext>`, lumberjack's backup name.
fn backup_name(path: &Path, at: SystemTime) -> PathBuf {
    let (stem, ext) = stem_and_ext(path);
    let (stamp, utc) = super::utc_stamp(at, '-');
    let stamp = format!("{stamp}.{:03}", utc.millisecond());
    let mut name = format!("{stem}-{stamp}{ext}");
    let dir = path.parent().unwrap_or(Path::new(""));
    // Two rotations in one millisecond: keep both.
    let mut n = 1;
    while dir.join(&name).exists() || dir.join(format!("{name}.gz")).exists() {
        name = format!("{stem}-{stamp}{n}{ext}");
        n += 1;
    }
    dir.join(name)
}

fn stem_and_ext(path: &Path) -> (String, String) {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match file.rfind('.') {
        Some(i) if i > 0 => (file[..i].to_string(), file[i..].to_string()),
        _ => (file, String::new()),
    }
}

/// The backups of `path`, newest first (their names sort by time).
fn backups(path: &Path) -> Vec<PathBuf> {
    let (stem, ext) = stem_and_ext(path);
    let prefix = format!("{stem}-");
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().map(|f| f.to_string_lossy().into_owned());
                    name.is_some_and(|n| {
                        n.starts_with(&prefix)
                            && (n.ends_with(&ext) || n.ends_with(&format!("{ext}.gz")))
                            && n != format!("{stem}{ext}")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.reverse();
    found
}

/// Compresses, then removes backups beyond the count and age limits.
fn prune(path: &Path, settings: &LogSettings) {
    let mut kept = backups(path);
    if settings.compress {
        for p in kept.iter_mut() {
            if p.extension().is_some_and(|e| e == "gz") {
                continue;
            }
            match gzip(p) {
                Ok(gz) => *p = gz,
                Err(e) => log::error!("compressing {}: {e}", p.display()),
            }
        }
    }
    let now = SystemTime::now();
    for (i, p) in kept.iter().enumerate() {
        let too_many = settings.max_backups > 0 && i >= settings.max_backups;
        let too_old = !settings.max_age.is_zero()
            && std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > settings.max_age);
        if too_many || too_old {
            if let Err(e) = std::fs::remove_file(p) {
                log::error!("removing old audit log {}: {e}", p.display());
            }
        }
    }
}

fn gzip(p: &Path) -> io::Result<PathBuf> {
    let gz = PathBuf::from(format!("{}.gz", p.display()));
    let mut input = File::open(p)?;
    let output = File::create(&gz)?;
    let mut enc = flate2::write::GzEncoder::new(output, flate2::Compression::default());
    io::copy(&mut input, &mut enc)?;
    enc.finish()?.sync_all()?;
    std::fs::remove_file(p)?;
    Ok(gz)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(path: &Path, max_size: u64, max_backups: usize, compress: bool) -> LogSettings {
        LogSettings {
            path: path.display().to_string(),
            max_size,
            max_backups,
            max_age: Duration::ZERO,
            compress,
            buffer: 100,
            batch: 10,
        }
    }

    #[test]
    fn rotates_prunes_and_compresses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/audit.log");
        let s = settings(&path, 100, 2, true);
        let mut out = Output::open(&s).unwrap();
        let line = [b'x'; 39]
            .iter()
            .copied()
            .chain(*b"\n")
            .collect::<Vec<u8>>();
        for _ in 0..12 {
            out.write(&line, &s).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
        out.flush().unwrap();
        // 40-byte lines, 100-byte files: two lines per file; two backups kept, gzipped.
        assert_eq!(std::fs::read(&path).unwrap().len(), 80);
        let b = backups(&path);
        assert_eq!(b.len(), 2, "{b:?}");
        for p in &b {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                name.starts_with("audit-") && name.ends_with(".log.gz"),
                "{name}"
            );
        }
    }

    #[test]
    fn a_full_buffer_drops_and_counts() {
        let (tx, _rx) = bounded(1);
        let sink = Sink {
            tx,
            counters: Arc::default(),
        };
        assert!(sink.send(b"a\n".to_vec()));
        assert!(!sink.send(b"b\n".to_vec()));
        assert_eq!(sink.counters().events.load(Ordering::Relaxed), 1);
        assert_eq!(sink.counters().errors.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_backend_writes_what_it_was_handed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let backend = LogBackend::start(settings(&path, 0, 0, false)).unwrap();
        let sink = backend.sink().unwrap();
        for i in 0..50 {
            assert!(sink.send(format!("{{\"n\":{i}}}\n").into_bytes()));
        }
        drop(sink);
        backend.close(Duration::from_secs(5));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 50);
        assert!(text.ends_with("{\"n\":49}\n"));
    }
}
