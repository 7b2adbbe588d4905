//! Conformance fuzz target (JAM fuzz protocol v1, `shared/fuzz-proto`): the protocol messages
//! ([`protocol`]), the per-connection session logic ([`server`]), the Unix-socket listener and
//! the soak check that replays recorded sessions against an in-process target.

pub mod protocol;
pub mod server;

use protocol::{read_frame, write_frame, FrameError};
use server::{SessionEnd, Target};
use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Binds `path` (removing a stale socket file first) and serves connections one at a time,
/// forever. A session that fails never ends the process.
pub fn listen(path: &Path, target: &Target) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a socket",
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    eprintln!(
        "fuzz-target: listening on {} (chain {})",
        path.display(),
        target.params().name
    );
    for conn in listener.incoming() {
        let mut stream = match conn {
            Ok(s) => s,
            Err(e) => {
                eprintln!("fuzz-target: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let start = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| target.serve(&mut stream)));
        drop(stream);
        match outcome {
            Ok((end, stats)) => {
                let how = match end {
                    SessionEnd::Closed if target.quiet() => continue,
                    SessionEnd::Closed => "closed by the fuzzer".to_string(),
                    SessionEnd::Aborted(why) => format!("ended by the target: {why}"),
                };
                eprintln!(
                    "fuzz-target: session {how}; {} imported, {} rejected, import time {:.1} ms, \
                     session {:.1} s",
                    stats.imported,
                    stats.rejected,
                    stats.import_time.as_secs_f64() * 1e3,
                    start.elapsed().as_secs_f64()
                );
            }
            Err(_) => eprintln!("fuzz-target: session ended: internal error (panic)"),
        }
    }
    Ok(())
}

/// One recorded request and the recorded reply (without length prefixes).
pub struct Step {
    pub name: String,
    pub request: Vec<u8>,
    pub expected: Option<Vec<u8>>,
}

/// Reads a recorded session folder: `NNNNNNNN_fuzzer_*.bin` requests in index order, each with
/// its `NNNNNNNN_target_*.bin` reply when there is one.
pub fn load_session(dir: &Path) -> io::Result<Vec<Step>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".bin"))
        .collect();
    names.sort();
    let mut steps = Vec::new();
    for name in &names {
        let Some((index, rest)) = name.split_once('_') else {
            continue;
        };
        if !rest.starts_with("fuzzer_")
            || index.is_empty()
            || !index.bytes().all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let reply = names
            .iter()
            .find(|n| n.starts_with(&format!("{index}_target_")));
        steps.push(Step {
            name: name.clone(),
            request: fs::read(dir.join(name))?,
            expected: reply.map(|r| fs::read(dir.join(r))).transpose()?,
        });
    }
    if steps.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no NNNNNNNN_fuzzer_*.bin files in {}", dir.display()),
        ));
    }
    Ok(steps)
}

/// Whether `got` is an acceptable reply where `expected` was recorded: PeerInfo and Error by
/// kind only (names and error texts are implementation specific), anything else byte for byte.
pub fn reply_matches(expected: &[u8], got: &[u8]) -> bool {
    match expected.first() {
        Some(0) | Some(255) => got.first() == expected.first(),
        _ => got == expected,
    }
}

/// `VmRSS` of this process in KiB (Linux), if readable.
pub fn rss_kib() -> Option<u64> {
    proc_status_kib("VmRSS:")
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let s = fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Sends one framed request and reads the framed reply.
fn exchange(stream: &mut UnixStream, request: &[u8], buf: &mut Vec<u8>) -> Result<(), String> {
    write_frame(stream, request).map_err(|e| format!("send: {e}"))?;
    read_frame(stream, buf).map_err(|e| match e {
        FrameError::Closed => "the target closed the connection".to_string(),
        e => format!("reply: {e}"),
    })
}

/// Result of [`soak_check`].
pub struct SoakReport {
    pub imports: u64,
    pub loops: u64,
    pub mismatches: u64,
    pub rss_start_kib: Option<u64>,
    pub rss_warm_kib: Option<u64>,
    pub rss_end_kib: Option<u64>,
    pub import_time: Duration,
    pub wall: Duration,
}

/// Replays the recorded `sessions` in a loop over ONE connection to an in-process target
/// (a PeerInfo handshake once, then every session from its Initialize on, again and again)
/// until `imports` blocks were sent, checking every reply and sampling the resident memory.
pub fn soak_check(
    target: &Target,
    sessions: &[PathBuf],
    imports: u64,
) -> Result<SoakReport, String> {
    let loaded: Vec<Vec<Step>> = sessions
        .iter()
        .map(|d| load_session(d).map_err(|e| format!("{}: {e}", d.display())))
        .collect::<Result<_, _>>()?;
    let handshake = loaded[0]
        .iter()
        .find(|s| s.request.first() == Some(&0))
        .ok_or("no PeerInfo message in the first session")?
        .request
        .clone();
    let (mut client, mut server) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    std::thread::scope(|scope| {
        let server_thread = scope.spawn(move || target.serve(&mut server));
        let mut buf = Vec::new();
        let mut report = SoakReport {
            imports: 0,
            loops: 0,
            mismatches: 0,
            rss_start_kib: rss_kib(),
            rss_warm_kib: None,
            rss_end_kib: None,
            import_time: Duration::ZERO,
            wall: Duration::ZERO,
        };
        let start = Instant::now();
        let result = (|| -> Result<(), String> {
            exchange(&mut client, &handshake, &mut buf)?;
            if buf.first() != Some(&0) {
                return Err("handshake: the reply is not a PeerInfo".into());
            }
            'outer: loop {
                for (dir, steps) in sessions.iter().zip(&loaded) {
                    for step in steps.iter().filter(|s| s.request.first() != Some(&0)) {
                        if report.imports >= imports {
                            break 'outer;
                        }
                        let t = Instant::now();
                        exchange(&mut client, &step.request, &mut buf)
                            .map_err(|e| format!("{} {}: {e}", dir.display(), step.name))?;
                        if step.request.first() == Some(&3) {
                            report.imports += 1;
                            report.import_time += t.elapsed();
                        }
                        if let Some(expected) = &step.expected {
                            if !reply_matches(expected, &buf) {
                                report.mismatches += 1;
                                if report.mismatches <= 10 {
                                    eprintln!("soak: mismatch at {} {}", dir.display(), step.name);
                                }
                            }
                        }
                    }
                }
                report.loops += 1;
                if report.loops == 1 {
                    report.rss_warm_kib = rss_kib();
                }
            }
            Ok(())
        })();
        report.wall = start.elapsed();
        report.rss_end_kib = rss_kib();
        drop(client);
        let (end, _) = server_thread
            .join()
            .map_err(|_| "the target thread panicked".to_string())?;
        result?;
        if let SessionEnd::Aborted(why) = end {
            return Err(format!("the target ended the session: {why}"));
        }
        Ok(report)
    })
}
