//! The log backend: events handed over by the shards through a bounded channel (never
//! blocking a shard), written in batches by one `audit-log` thread as JSON lines, to a file
//! rotated as upstream's lumberjack rotates it (`--audit-log-maxsize` MB per file; backups
//! named `<name>-<UTC time>.<ext>`, gzipped with `--audit-log-compress`, pruned by
//! `--audit-log-maxbackup` and `--audit-log-maxage`), or to standard out.

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crossbeam::channel::{bounded, Receiver, Sender};

/// The writer's buffer in front of the file.
const WRITE_BUFFER: usize = 256 * 1024;

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

/// What the scrape reads of the audit backends (`apiserver_audit_*`).
#[derive(Debug, Default)]
pub struct AuditCounters {
    /// Events handed to the backends.
    pub events: AtomicU64,
    /// Events the log backend dropped (its buffer was full).
    pub log_errors: AtomicU64,
    /// Events the webhook backend dropped (its buffer was full, or the endpoint refused).
    pub webhook_errors: AtomicU64,
}

impl AuditCounters {
    fn errors(&self, plugin: Plugin) -> &AtomicU64 {
        match plugin {
            Plugin::Log => &self.log_errors,
            Plugin::Webhook => &self.webhook_errors,
        }
    }
}

/// An audit backend, as `apiserver_audit_error_total` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plugin {
    /// `--audit-log-path`.
    Log,
    /// `--audit-webhook-config-file`.
    Webhook,
}

impl Plugin {
    fn as_str(self) -> &'static str {
        match self {
            Plugin::Log => "log",
            Plugin::Webhook => "webhook",
        }
    }
}

/// The backend's handle: cloning it is cheap, sending never blocks. Shards send batches of
/// lines ([`ShardBuffer`]), so the channel and the counters are touched once per batch.
#[derive(Clone, Debug)]
pub struct Sink {
    targets: Arc<[(Plugin, Sender<Vec<u8>>)]>,
    counters: Arc<AuditCounters>,
}

/// Emptied batch buffers kept for reuse.
const SPARE_BUFFERS: usize = 32;

/// Written batches come back here to be filled again: a shard's buffer is allocated once,
/// not grown from nothing (and freed on another thread) per batch. A pool of buffers for
/// the process, like an allocator's cache.
fn spare() -> &'static crossbeam::queue::ArrayQueue<Vec<u8>> {
    static SPARE: std::sync::OnceLock<crossbeam::queue::ArrayQueue<Vec<u8>>> =
        std::sync::OnceLock::new();
    SPARE.get_or_init(|| crossbeam::queue::ArrayQueue::new(SPARE_BUFFERS))
}

/// An empty buffer for a shard's next batch: a written one given back, else a new one with
/// room for a whole batch.
fn batch_buffer() -> Vec<u8> {
    spare()
        .pop()
        .unwrap_or_else(|| Vec::with_capacity(BATCH_BYTES + BATCH_BYTES / 4))
}

/// Gives a written batch's buffer back for reuse (dropped when enough are kept).
pub(super) fn give_back(mut lines: Vec<u8>) {
    if lines.capacity() >= BATCH_BYTES {
        lines.clear();
        let _ = spare().push(lines);
    }
}

impl Sink {
    /// A sink handing batches to each backend's channel.
    pub fn new(targets: Vec<(Plugin, Sender<Vec<u8>>)>, counters: Arc<AuditCounters>) -> Self {
        Self {
            targets: targets.into(),
            counters,
        }
    }

    /// Hands `lines` (`n` event lines) to every backend; false (and counted, and logged) when
    /// one's buffer is full.
    pub fn send(&self, lines: Vec<u8>, n: u64) -> bool {
        self.counters.events.fetch_add(n, Ordering::Relaxed);
        let mut all = true;
        let last = self.targets.len().saturating_sub(1);
        let mut lines = Some(lines);
        for (i, (plugin, tx)) in self.targets.iter().enumerate() {
            let batch = if i == last {
                lines.take().unwrap_or_default()
            } else {
                lines.clone().unwrap_or_default()
            };
            if tx.try_send(batch).is_err() {
                all = false;
                let before = self
                    .counters
                    .errors(*plugin)
                    .fetch_add(n, Ordering::Relaxed);
                if before == 0 || (before + n).ilog2() != before.max(1).ilog2() {
                    log::error!(
                        "audit {} buffer full: {} events dropped so far",
                        plugin.as_str(),
                        before + n
                    );
                }
            }
        }
        all
    }

    /// Whether a backend's buffer is full now.
    pub fn is_full(&self) -> bool {
        self.targets.iter().any(|(_, tx)| tx.is_full())
    }

    /// The counters.
    pub fn counters(&self) -> &AuditCounters {
        &self.counters
    }
}

/// Lines a shard buffers before handing them over (also handed over every
/// [`FLUSH_INTERVAL`]).
pub const BATCH_LINES: u64 = 64;
/// Bytes a shard buffers before handing them over.
const BATCH_BYTES: usize = 64 * 1024;
/// How often a shard hands over what it buffered.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(20);

/// One shard's event lines on their way to the backend: appended without any shared state,
/// handed over in batches (by size, every [`FLUSH_INTERVAL`] by the shard's flusher task,
/// and when the shard ends).
#[derive(Debug)]
pub struct ShardBuffer {
    sink: Sink,
    lines: RefCell<Vec<u8>>,
    count: Cell<u64>,
}

impl ShardBuffer {
    /// A buffer in front of `sink`.
    pub fn new(sink: Sink) -> Self {
        Self {
            sink,
            lines: RefCell::new(Vec::new()),
            count: Cell::new(0),
        }
    }

    /// Appends one line; a full batch is handed over at once (the sink counts what a full
    /// backend drops).
    pub fn push(&self, line: &[u8]) {
        self.push_with(|out| out.extend_from_slice(line));
    }

    /// Appends one line that `write` renders straight into the buffer.
    pub fn push_with(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let len = {
            let mut lines = self.lines.borrow_mut();
            if lines.capacity() == 0 {
                *lines = batch_buffer();
            }
            write(&mut lines);
            lines.len()
        };
        self.count.set(self.count.get() + 1);
        if len >= BATCH_BYTES || self.count.get() >= BATCH_LINES {
            self.flush();
        }
    }

    /// Hands over what is buffered.
    pub fn flush(&self) -> bool {
        let n = self.count.replace(0);
        if n == 0 {
            return true;
        }
        let lines = std::mem::take(&mut *self.lines.borrow_mut());
        self.sink.send(lines, n)
    }

    /// The backend's sink.
    pub fn sink(&self) -> &Sink {
        &self.sink
    }
}

impl Drop for ShardBuffer {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A running backend's thread and a sender to end it with; the log and webhook backends
/// are one each.
pub struct BackendThread {
    thread: Option<JoinHandle<()>>,
    tx: Sender<Vec<u8>>,
    what: &'static str,
}

impl BackendThread {
    /// Starts thread `name` running `body` over a channel holding `buffer` events in shard
    /// batches; the sender is the sink's way in.
    pub fn spawn(
        name: &'static str,
        buffer: usize,
        body: impl FnOnce(Receiver<Vec<u8>>) + Send + 'static,
    ) -> Result<(Self, Sender<Vec<u8>>), String> {
        let batches = buffer.div_ceil(BATCH_LINES as usize).max(2);
        let (tx, rx) = bounded(batches);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(rx))
            .map_err(|e| format!("starting the {name} thread: {e}"))?;
        let me = Self {
            thread: Some(thread),
            tx: tx.clone(),
            what: name,
        };
        Ok((me, tx))
    }

    /// Ends the thread once nothing sends any more: the empty batch (no shard sends one)
    /// tells it to finish what is queued before it; waits at most `limit`.
    pub fn close(mut self, limit: Duration) {
        let Some(t) = self.thread.take() else { return };
        let what = self.what;
        if self.tx.send_timeout(Vec::new(), limit).is_err() {
            log::warn!("the {what} thread did not take the end of its queue within {limit:?}");
        }
        let deadline = std::time::Instant::now() + limit;
        while !t.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if t.is_finished() {
            let _ = t.join();
        } else {
            log::warn!("the {what} thread did not finish within {limit:?}");
        }
    }
}

/// The log backend: opens the log (creating its directory) and starts the `audit-log`
/// thread.
pub fn start_log(settings: LogSettings) -> Result<(BackendThread, Sender<Vec<u8>>), String> {
    let out = Output::open(&settings)?;
    BackendThread::spawn("audit-log", settings.buffer, move |rx| {
        write_loop(rx, out, settings)
    })
}

fn write_loop(rx: Receiver<Vec<u8>>, mut out: Output, settings: LogSettings) {
    let mut open = true;
    while open {
        let Ok(first) = rx.recv() else { return };
        // What is queued behind the first batch is written in the same pass: a burst costs
        // one flush per drained queue. An empty batch is the end.
        for lines in std::iter::once(first).chain(rx.try_iter()) {
            if lines.is_empty() {
                open = false;
                break;
            }
            for chunk in chunks(&lines, settings.batch.max(1)) {
                if let Err(e) = out.write(chunk, &settings) {
                    log::error!("writing the audit log: {e}");
                }
            }
            give_back(lines);
        }
        if let Err(e) = out.flush() {
            log::error!("flushing the audit log: {e}");
        }
    }
}

/// `lines` in runs of at most `max` whole lines (each run is written, and rotation checked,
/// as one piece).
pub(super) fn chunks(lines: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = lines;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = 0;
        for _ in 0..max {
            match memchr::memchr(b'\n', &rest[end..]) {
                Some(i) => end += i + 1,
                None => {
                    end = rest.len();
                    break;
                }
            }
            if end == rest.len() {
                break;
            }
        }
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

enum Output {
    Stdout,
    /// The file, buffered: a drained batch costs one write, not one per event.
    File {
        path: PathBuf,
        file: BufWriter<File>,
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
        Ok(Output::File {
            path,
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            size,
        })
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
                    *file = BufWriter::with_capacity(WRITE_BUFFER, f);
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
            buffer: 10_000,
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
        let sink = Sink::new(vec![(Plugin::Log, tx)], Arc::default());
        assert!(sink.send(b"a\nb\n".to_vec(), 2));
        assert!(!sink.send(b"c\n".to_vec(), 1));
        assert_eq!(sink.counters().events.load(Ordering::Relaxed), 3);
        assert_eq!(sink.counters().log_errors.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_backend_writes_what_it_was_handed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let (backend, tx) = start_log(settings(&path, 0, 0, false)).unwrap();
        let shard = ShardBuffer::new(Sink::new(vec![(Plugin::Log, tx)], Arc::default()));
        for i in 0..150 {
            shard.push(format!("{{\"n\":{i}}}\n").as_bytes());
        }
        drop(shard);
        backend.close(Duration::from_secs(5));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 150);
        assert!(text.ends_with("{\"n\":149}\n"));
        let runs: Vec<&[u8]> = chunks(b"a\nb\nc\n", 2).collect();
        assert_eq!(runs, [&b"a\nb\n"[..], &b"c\n"[..]]);
    }
}
