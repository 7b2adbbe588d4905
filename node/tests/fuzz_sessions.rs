//! `jam fuzz-target` end to end: starts the built binary on a temporary Unix socket and replays
//! the recorded fuzz sessions (`shared/fuzz-proto/examples/{no_forks,forks}`) against it, then
//! checks how it copes with malformed and unexpected messages.
//!
//! Every StateRoot reply must equal the recorded one byte for byte; wherever the recording has
//! an Error the target must answer Error (the text may differ); PeerInfo replies are checked by
//! kind. The session folder can be moved with `JAM_FUZZ_EXAMPLES`.

use jam_state::codec::{decode_exact, decode_prefix, Bytes};
use jam_state::params::Params;
use jam_state::trace::KeyValue;
use jam_state::types::Header;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn examples() -> PathBuf {
    std::env::var_os("JAM_FUZZ_EXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fuzz-proto/examples")
        })
}

/// The target process, killed when dropped.
struct TargetProcess {
    child: Child,
    socket: PathBuf,
}

impl TargetProcess {
    fn start(name: &str) -> TargetProcess {
        let dir = std::env::temp_dir().join(format!("jam-fuzz-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("target.sock");
        let child = Command::new(env!("CARGO_BIN_EXE_jam"))
            .args(["fuzz-target", "--quiet", "--socket"])
            .arg(&socket)
            .stdin(Stdio::null())
            .spawn()
            .expect("start jam fuzz-target");
        TargetProcess { child, socket }
    }

    /// Connects, waiting (without a time limit) until the target listens.
    fn connect(&mut self) -> UnixStream {
        loop {
            if let Ok(s) = UnixStream::connect(&self.socket) {
                return s;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("jam fuzz-target exited early: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for TargetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.socket.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn send(s: &mut UnixStream, msg: &[u8]) {
    let mut frame = (msg.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(msg);
    s.write_all(&frame).unwrap();
}

/// Reads one framed reply; `None` when the target closed the connection.
fn recv(s: &mut UnixStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

fn exchange(s: &mut UnixStream, msg: &[u8]) -> Vec<u8> {
    send(s, msg);
    recv(s).expect("the target closed the connection")
}

/// The session's (request, recorded reply) pairs in index order.
fn load(session: &str) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let dir = examples().join(session);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".bin"))
        .collect();
    names.sort();
    let mut steps = Vec::new();
    for n in names.iter().filter(|n| n.contains("_fuzzer_")) {
        let index = n.split('_').next().unwrap();
        let reply = names
            .iter()
            .find(|r| r.starts_with(&format!("{index}_target_")))
            .unwrap_or_else(|| panic!("no recorded reply for {n}"));
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        steps.push((n.clone(), read(n), read(reply)));
    }
    assert_eq!(
        steps.len(),
        102,
        "{session}: expected 102 recorded requests"
    );
    steps
}

#[derive(Default, Debug)]
struct Tally {
    roots_expected: usize,
    roots_matched: usize,
    errors_expected: usize,
    errors_matched: usize,
    failures: Vec<String>,
}

fn replay(session: &str) {
    let steps = load(session);
    let mut target = TargetProcess::start(session);
    let mut s = target.connect();
    let mut t = Tally::default();
    for (name, request, expected) in &steps {
        let got = exchange(&mut s, request);
        let ok = match expected[0] {
            0 => got[0] == 0,
            255 => {
                t.errors_expected += 1;
                t.errors_matched += (got[0] == 255) as usize;
                got[0] == 255
            }
            _ => {
                t.roots_expected += (expected[0] == 2) as usize;
                t.roots_matched += (expected[0] == 2 && got == *expected) as usize;
                got == *expected
            }
        };
        if !ok {
            let what = match got[0] {
                2 => format!("StateRoot 0x{}", hex::encode(&got[1..])),
                255 => match decode_exact::<Bytes>(&got[1..], &Params::tiny()) {
                    Ok(text) => format!("Error {:?}", String::from_utf8_lossy(&text)),
                    Err(_) => "a malformed Error".into(),
                },
                k => format!("message kind {k}"),
            };
            let want = match expected[0] {
                2 => format!("StateRoot 0x{}", hex::encode(&expected[1..])),
                k => format!("message kind {k}"),
            };
            t.failures
                .push(format!("{name}: got {what}, expected {want}"));
        }
    }
    eprintln!(
        "{session}: StateRoots matched {}/{}, Errors matched {}/{}",
        t.roots_matched, t.roots_expected, t.errors_matched, t.errors_expected
    );
    assert!(
        t.failures.is_empty(),
        "{session}: {} of {} replies differ (StateRoots matched {}/{}, Errors matched {}/{}); \
         first ones:\n{}",
        t.failures.len(),
        steps.len(),
        t.roots_matched,
        t.roots_expected,
        t.errors_matched,
        t.errors_expected,
        t.failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn replay_no_forks_session() {
    replay("no_forks");
}

#[test]
fn replay_forks_session() {
    replay("forks");
}

/// Malformed and unexpected messages end the session (connection closed, no Error reply) and
/// the next connection is served normally; GetState returns the stored key/values; a block on
/// an unknown parent is answered with an Error.
#[test]
fn bad_messages_end_only_their_session() {
    let steps = load("no_forks");
    let (peer_info, init, first_root) = (&steps[0].1, &steps[1].1, &steps[1].2);
    let mut target = TargetProcess::start("bad");

    let closes = |msg: &[u8], target: &mut TargetProcess, handshake: bool| {
        let mut s = target.connect();
        if handshake {
            assert_eq!(exchange(&mut s, peer_info)[0], 0);
        }
        send(&mut s, msg);
        assert_eq!(recv(&mut s), None, "target must close after {msg:02x?}");
    };
    // Unknown discriminant, truncated PeerInfo, trailing bytes, a request before the handshake,
    // a reply-only message, a frame with a bad length.
    closes(&[9, 1, 2], &mut target, false);
    closes(&peer_info[..5], &mut target, false);
    closes(&[peer_info.as_slice(), &[0]].concat(), &mut target, false);
    closes(init, &mut target, false);
    closes(first_root, &mut target, true);
    closes(&[], &mut target, true);
    {
        let mut s = target.connect();
        s.write_all(&u32::MAX.to_le_bytes()).unwrap();
        assert_eq!(recv(&mut s), None);
    }
    {
        // A block before any Initialize.
        let mut s = target.connect();
        exchange(&mut s, peer_info);
        send(&mut s, &steps[2].1);
        assert_eq!(recv(&mut s), None);
    }

    // After all that, a normal session works.
    let params = Params::tiny();
    let mut s = target.connect();
    let reply = exchange(&mut s, peer_info);
    assert_eq!(reply[0], 0);
    assert_eq!(reply[1], 1, "fuzz version");
    assert_eq!(
        u32::from_le_bytes(reply[2..6].try_into().unwrap()),
        3,
        "features ancestry|fork"
    );
    assert_eq!(&reply[6..9], &[0, 7, 2], "JAM version");
    assert_eq!(&exchange(&mut s, init), first_root);

    // GetState of the initial header: the key/values as given, hashing to the root.
    let (header, _) = decode_prefix::<Header>(&init[1..], &params).unwrap();
    let mut get = vec![4];
    get.extend_from_slice(&header.hash().0);
    let state = exchange(&mut s, &get);
    assert_eq!(state[0], 5);
    let kvs: Vec<KeyValue> = decode_exact(&state[1..], &params).unwrap();
    assert_eq!(kvs.len(), 21);
    let pairs: Vec<_> = kvs.iter().map(|kv| (kv.key, kv.value.as_slice())).collect();
    assert_eq!(jam_state::merkle::state_root(&pairs), first_root[1..]);

    // A block whose parent is unknown: Error, and the session goes on.
    let mut orphan = steps[2].1.clone();
    orphan[1] ^= 0xff; // the first byte of the header's parent hash
    assert_eq!(exchange(&mut s, &orphan)[0], 255);
    assert_eq!(exchange(&mut s, &steps[2].1), steps[2].2);

    // GetState of a block whose state is not kept ends the session.
    send(&mut s, &[4; 33]);
    assert_eq!(recv(&mut s), None);
}
