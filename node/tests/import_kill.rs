//! `jam import` end to end with the built binary:
//!
//! * `kill_and_resume`: imports a trace folder (`fallback` by default, 100 blocks without work
//!   reports; `JAM_IMPORT_KILL_SET` picks another) into a fresh RocksDB store, SIGKILLs the
//!   process twice part-way (after some output lines), resumes each time with the same store,
//!   and requires the last run to finish and the store to be consistent: the best block is the
//!   trace's last block, its state loads, its root is the stored root and the trace's post_state
//!   root, and every block of the trace is stored with its step's post_state root.
//! * `invalid_block_stops_import`: a tampered block after four good ones stops the import with an
//!   error naming the file and the import error, and the store stays at the last good block.
//!
//! The trace folder is found through `jam_conformance::vectors::jam_vectors_dir`
//! (`JAM_TEST_VECTORS` or `../shared/jam-test-vectors`).

use jam_state::codec::{decode_exact, Encode};
use jam_state::params::Params;
use jam_state::state::State;
use jam_state::store::{RocksStore, Store};
use jam_state::trace::TraceStep;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn trace_dir(set: &str) -> PathBuf {
    jam_conformance::vectors::jam_vectors_dir()
        .join("traces")
        .join(set)
}

/// A fresh (removed) folder for a store under the test target's tmp dir.
fn fresh_db(name: &str) -> PathBuf {
    let db = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("import-kill-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&db);
    db
}

fn jam() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jam"))
}

fn steps(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "bin")
                && p.file_name().is_some_and(|n| n != "genesis.bin")
        })
        .collect();
    v.sort();
    v
}

/// Starts `jam import --db DB DIR`, reads `lines` lines of its output, then SIGKILLs it.
/// Returns the lines read.
fn import_then_kill(db: &Path, dir: &Path, lines: usize) -> Vec<String> {
    let mut child = jam()
        .arg("import")
        .arg("--db")
        .arg(db)
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .spawn()
        .expect("start jam import");
    let stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        seen.push(line);
        if seen.len() >= lines {
            break;
        }
    }
    // Child::kill is SIGKILL on Unix: no destructors, no flushing, no RocksDB close.
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert!(
        seen.len() >= lines && !status.success(),
        "jam import ended on its own before being killed ({status}); output:\n{}",
        seen.join("\n")
    );
    seen
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn kill_and_resume() {
    let set = std::env::var("JAM_IMPORT_KILL_SET").unwrap_or_else(|_| "fallback".into());
    let dir = trace_dir(&set);
    let files = steps(&dir);
    assert!(files.len() >= 40, "{}: too few steps", dir.display());
    let db = fresh_db(&set);

    // First run: genesis line plus 20 blocks, then kill. Second run: resume line plus the
    // skipped blocks and 15 new ones, then kill again.
    let first = import_then_kill(&db, &dir, 21);
    assert!(first[0].starts_with("genesis "), "{}", first[0]);
    let second = import_then_kill(&db, &dir, 1 + 20 + 15);
    assert!(
        second[0].starts_with("resuming at the store's best block"),
        "second run did not resume: {}",
        second[0]
    );

    // Third run, with --check: must finish.
    let out = jam()
        .arg("import")
        .arg("--check")
        .arg("--db")
        .arg(&db)
        .arg(&dir)
        .output()
        .expect("run jam import");
    let log = text(&out);
    assert!(out.status.success(), "resumed import failed:\n{log}");
    assert!(log.contains("already in the store"), "{log}");
    let summary = log.lines().rfind(|l| l.starts_with("imported ")).unwrap();
    let skipped: usize = summary
        .split('(')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("summary: {summary}"));
    assert!(
        skipped >= 35,
        "the third run should skip what the first two imported: {summary}"
    );

    // The store, opened after the process is gone.
    let params = Params::tiny();
    let store = RocksStore::open(&db).unwrap();
    let best = store.best_block().unwrap().expect("a best block");
    let last: TraceStep =
        decode_exact(&std::fs::read(files.last().unwrap()).unwrap(), &params).unwrap();
    assert_eq!(
        best.hash,
        last.block.header.hash().0,
        "best block is the trace's last"
    );
    let kvs = store
        .state(&best.hash)
        .unwrap()
        .expect("best block's state");
    let state = State::from_key_values(&kvs, &params).expect("best state parses");
    assert_eq!(
        state.state_root(),
        best.state_root,
        "loaded state's root = stored root"
    );
    assert_eq!(
        best.state_root, last.post_state.state_root.0,
        "stored root = trace post_state root"
    );
    for f in &files {
        let step: TraceStep = decode_exact(&std::fs::read(f).unwrap(), &params).unwrap();
        let hash = step.block.header.hash().0;
        assert_eq!(
            store.state_root(&hash).unwrap(),
            Some(step.post_state.state_root.0),
            "{}: stored root",
            f.display()
        );
        assert_eq!(
            store.block(&hash).unwrap(),
            Some(step.block.encode()),
            "{}",
            f.display()
        );
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&db);
}

#[test]
fn invalid_block_stops_import() {
    let dir = trace_dir("fallback");
    let files = steps(&dir);
    let params = Params::tiny();
    let db = fresh_db("invalid");
    let mut bad: TraceStep = decode_exact(&std::fs::read(&files[4]).unwrap(), &params).unwrap();
    bad.block.header.parent_state_root.0[0] ^= 1;
    let bad_file = db.with_extension("tampered-block.bin");
    std::fs::write(&bad_file, bad.block.encode()).unwrap();

    let out = jam()
        .arg("import")
        .arg("--db")
        .arg(&db)
        .arg(dir.join("genesis.bin"))
        .args(&files[..4])
        .arg(&bad_file)
        .args(&files[5..7])
        .output()
        .unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(2), "{log}");
    let err = log
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line:\n{log}"));
    assert!(
        err.contains("tampered-block.bin")
            && err.contains(&format!("slot {}", bad.block.header.slot))
            && err.contains(&bad.block.header.hash().to_string())
            && err.contains("BadParentStateRoot"),
        "{err}"
    );

    let store = RocksStore::open(&db).unwrap();
    let best = store.best_block().unwrap().unwrap();
    let fourth: TraceStep = decode_exact(&std::fs::read(&files[3]).unwrap(), &params).unwrap();
    assert_eq!(best.hash, fourth.block.header.hash().0);
    assert_eq!(best.state_root, fourth.post_state.state_root.0);
    assert!(store.block(&bad.block.header.hash().0).unwrap().is_none());
    drop(store);
    let _ = std::fs::remove_dir_all(&db);
    let _ = std::fs::remove_file(&bad_file);
}
