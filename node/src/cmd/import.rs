//! `jam import --db PATH [--chain tiny|full|FILE] [--check] DIR_OR_FILES...`: imports blocks from
//! genesis into a RocksDB store, one atomic commit per block, resuming at the store's best block.
//!
//! Shared with `jam bench import`: [`load_chain`], [`trace_inputs`], [`short`].

use super::CmdResult;
use jam_consensus::import::{import_block, ImportContext};
use jam_state::codec::{decode_exact, Encode};
use jam_state::hash::ZERO_HASH;
use jam_state::params::{ChainSpec, Params};
use jam_state::state::{State, StateRootCache};
use jam_state::store::{BestBlock, BlockCommit, RocksStore, StateUpdate, Store};
use jam_state::trace::{Genesis, RawState, TraceStep};
use jam_state::types::{Block, Extrinsic, Header, HeaderHash, OpaqueHash, TimeSlot};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const AFTER_HELP: &str = "\
Inputs:
  A trace folder (traces/<set>/) gives its genesis.bin (genesis header and state) and then its
  NNNNNNNN.bin steps in file-name order; only each step's block is imported (the steps' own
  pre/post states are used by --check alone). Files may also be given one by one: a trace step
  (TraceStep), a bare encoded Block, or a genesis.bin. The genesis comes from --genesis, else a
  genesis.bin among the inputs, else the --chain FILE chainspec; it is not needed when the store
  already holds a chain.

Each block is imported on the current head (the store's best block), then committed in ONE
atomic write (header, block, new state-trie nodes, index entry, best-block pointer), so a crash
or kill leaves the store at the last committed block. Output: one line per block with its slot,
header hash, posterior state root and times (import_block; root + store commit).

Restart: run the same command with the same --db. Blocks already in the store are skipped after
checking that the stored bytes match; import resumes on the stored best block.

Invalid blocks: the command stops at the first invalid block with an error naming the file,
slot, header hash and the import error; nothing of that block is written. Exception: a trace
step whose post_state equals its pre_state marks a block the trace itself rejects (the public
trace sets fallback, safrole, storage(_light), preimages(_light) contain none, but fuzzer
traces do); such a block is reported as `rejected (as the trace expects)` and import continues
on the same head. Such a block being ACCEPTED is an error.

--check: also compares, for every trace step, the head's state root with the step's
pre_state root and the posterior root with its post_state root, stopping at a mismatch
(before the commit).

Exit status: 0 when every block was imported (or skipped/rejected as expected), 2 on an error.";

#[derive(clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The RocksDB store (created if missing; resumed at its best block otherwise).
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// Chain parameters: tiny, full, or a JIP-4 chainspec JSON file (whose genesis is used when
    /// no other is given).
    #[arg(long, default_value = "tiny", value_name = "tiny|full|FILE")]
    chain: String,
    /// The genesis (trace `genesis.bin` encoding: header and state). Defaults to a folder's
    /// genesis.bin.
    #[arg(long, value_name = "FILE")]
    genesis: Option<PathBuf>,
    /// Compare every state root with the trace step's pre_state/post_state roots.
    #[arg(long)]
    check: bool,
    /// Only print the summary (and errors), not one line per block.
    #[arg(long, short)]
    quiet: bool,
    /// Trace folders and/or block files, imported in the order given.
    #[arg(required = true, value_name = "DIR_OR_FILES")]
    inputs: Vec<PathBuf>,
}

/// Parses `--chain`: a preset name or a chainspec file (whose genesis is returned too).
pub fn load_chain(chain: &str) -> Result<(Params, Option<ChainSpec>), String> {
    match Params::from_name(chain) {
        Ok(p) => Ok((p, None)),
        Err(_) if Path::new(chain).is_file() => {
            let spec = ChainSpec::from_file(chain).map_err(|e| format!("--chain {chain}: {e}"))?;
            Ok((spec.params.clone(), Some(spec)))
        }
        Err(e) => Err(format!("--chain {chain}: {e} (nor a chainspec file)")),
    }
}

/// The step files (`*.bin` but `genesis.bin`) of a trace folder in name order, and its
/// genesis.bin if there is one.
pub fn trace_inputs(dir: &Path) -> Result<(Option<PathBuf>, Vec<PathBuf>), String> {
    let mut steps = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let p = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if p.is_file()
            && p.extension().is_some_and(|e| e == "bin")
            && p.file_name().is_some_and(|n| n != "genesis.bin")
        {
            steps.push(p);
        }
    }
    steps.sort();
    let genesis = dir.join("genesis.bin");
    Ok((genesis.is_file().then_some(genesis), steps))
}

/// `0x` and the first 4 octets in hex.
pub fn short(h: &[u8]) -> String {
    format!("0x{}", hex::encode(&h[..4.min(h.len())]))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A block to import and, when it comes from a trace step, the step's roots.
struct Input {
    block: Block,
    /// (pre_state root, post_state root) of the trace step.
    trace_roots: Option<(OpaqueHash, OpaqueHash)>,
}

fn read_input(path: &Path, params: &Params) -> Result<Input, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match decode_exact::<TraceStep>(&bytes, params) {
        Ok(step) => Ok(Input {
            block: step.block,
            trace_roots: Some((step.pre_state.state_root, step.post_state.state_root)),
        }),
        Err(step_err) => match decode_exact::<Block>(&bytes, params) {
            Ok(block) => Ok(Input {
                block,
                trace_roots: None,
            }),
            Err(block_err) => Err(format!(
                "{}: neither a trace step ({step_err}) nor a block ({block_err})",
                path.display()
            )),
        },
    }
}

/// Where the genesis comes from.
enum GenesisSource {
    File(PathBuf),
    Spec(Box<ChainSpec>),
}

fn load_genesis(src: &GenesisSource, params: &Params) -> Result<(Header, RawState), String> {
    match src {
        GenesisSource::File(p) => {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let g: Genesis = decode_exact(&bytes, params)
                .map_err(|e| format!("{}: not a genesis: {e}", p.display()))?;
            Ok((g.header, g.state))
        }
        GenesisSource::Spec(spec) => {
            if spec.genesis_header.is_empty() {
                return Err("the chainspec has no genesis_header".into());
            }
            let header: Header = decode_exact(&spec.genesis_header, params)
                .map_err(|e| format!("chainspec genesis_header: {e}"))?;
            let keyvals = spec
                .genesis_state
                .iter()
                .map(|(k, v)| jam_state::trace::KeyValue {
                    key: *k,
                    value: jam_state::codec::Bytes(v.clone()),
                })
                .collect();
            let mut state = RawState {
                state_root: OpaqueHash::ZERO,
                keyvals,
            };
            state.state_root = state.computed_root();
            Ok((header, state))
        }
    }
}

/// The import head: the best block and its (typed) state.
struct Head {
    hash: HeaderHash,
    slot: TimeSlot,
    root: OpaqueHash,
    state: State,
}

/// A progress counter on stderr, only when stderr is a terminal.
struct Progress {
    on: bool,
    total: usize,
    start: Instant,
}

impl Progress {
    fn clear(&self) {
        if self.on {
            eprint!("\r\x1b[K");
        }
    }
    fn show(&self, done: usize) {
        if self.on {
            let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            eprint!(
                "\r\x1b[K[{done}/{}] {:.0}% {rate:.1} blocks/s",
                self.total,
                100.0 * done as f64 / self.total.max(1) as f64
            );
            let _ = std::io::stderr().flush();
        }
    }
}

pub fn run(args: Args) -> CmdResult {
    let (params, spec) = load_chain(&args.chain)?;

    // Expand the inputs: folders give their genesis and steps.
    let mut files = Vec::new();
    let mut genesis = args.genesis.clone().map(GenesisSource::File);
    for p in &args.inputs {
        if p.is_dir() {
            let (g, steps) = trace_inputs(p)?;
            if genesis.is_none() {
                genesis = g.map(GenesisSource::File);
            }
            files.extend(steps);
        } else if p.file_name().is_some_and(|n| n == "genesis.bin") {
            if genesis.is_none() {
                genesis = Some(GenesisSource::File(p.clone()));
            }
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()).into());
        }
    }
    if genesis.is_none() {
        genesis = spec.map(|s| GenesisSource::Spec(Box::new(s)));
    }

    let store = RocksStore::open(&args.db)
        .map_err(|e| format!("opening the store {}: {e}", args.db.display()))?;
    let out = std::io::stdout();
    let mut out = out.lock();

    // Genesis: committed into an empty store, checked against a non-empty one.
    if let Some(src) = &genesis {
        let (header, raw) = load_genesis(src, &params)?;
        let hash = header.hash();
        let state = raw
            .to_state(&params)
            .map_err(|e| format!("genesis state: {e}"))?;
        let root = OpaqueHash(state.state_root());
        if root != raw.state_root {
            return Err(format!(
                "genesis state root: the file says {}, its key/values give {root}",
                raw.state_root
            )
            .into());
        }
        match store.best_block()? {
            None => {
                store.commit_block(BlockCommit {
                    header_hash: hash.0,
                    header: header.encode(),
                    block: Block {
                        header: header.clone(),
                        extrinsic: Extrinsic::default(),
                    }
                    .encode(),
                    slot: header.slot,
                    parent: ZERO_HASH,
                    state: StateUpdate::Full(state.to_key_values()),
                    state_root: root.0,
                    make_best: true,
                })?;
                if !args.quiet {
                    writeln!(
                        out,
                        "genesis slot {} hash {} root {} ({} keys)",
                        header.slot,
                        short(&hash.0),
                        short(&root.0),
                        raw.keyvals.len()
                    )?;
                }
            }
            Some(_) => match store.block_info(&hash.0)? {
                Some(info) if info.state_root == root.0 => {}
                Some(info) => {
                    return Err(format!(
                        "the store's genesis {hash} has state root {}, the given genesis {root}",
                        OpaqueHash(info.state_root)
                    )
                    .into())
                }
                None => {
                    return Err(format!(
                        "the store {} holds another chain: genesis {hash} is not in it",
                        args.db.display()
                    )
                    .into())
                }
            },
        }
    }

    let Some(best) = store.best_block()? else {
        return Err(
            "empty store and no genesis: give a trace folder, a genesis.bin, --genesis \
                    FILE or a --chain chainspec with a genesis"
                .into(),
        );
    };
    let mut head = load_head(&store, &params, &best)?;
    let mut root_cache = StateRootCache::default();
    let warm_root = OpaqueHash(head.state.state_root_cached(&mut root_cache));
    if warm_root != head.root {
        return Err(format!(
            "store inconsistent: best block {} state root {} but its state gives {warm_root}",
            head.hash, head.root
        )
        .into());
    }
    if best.parent != ZERO_HASH {
        writeln!(
            out,
            "resuming at the store's best block: slot {} hash {} root {}",
            head.slot,
            short(&head.hash.0),
            short(&head.root.0)
        )?;
    }

    let mut ctx = ImportContext::new(&params).map_err(|e| format!("ring context: {e}"))?;
    ctx.ancestry = Some(ancestry(&store, &best, params.max_lookup_anchor_age)?);

    let progress = Progress {
        on: std::io::stderr().is_terminal() && files.len() > 20,
        total: files.len(),
        start: Instant::now(),
    };
    let (mut imported, mut skipped, mut rejected) = (0usize, 0usize, 0usize);
    let (mut import_total, mut commit_total) = (Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    for (i, path) in files.iter().enumerate() {
        let input = read_input(path, &params)?;
        let block = &input.block;
        let hash = block.header.hash();
        let slot = block.header.slot;
        let name = path.display();
        let what = || format!("block {name} (slot {slot}, hash {hash})");

        // Already imported (restart): the stored block must be this one.
        if let Some(stored) = store.block(&hash.0)? {
            if stored != block.encode() {
                return Err(format!("{}: stored with different contents", what()).into());
            }
            if args.check {
                if let (Some((_, post)), Some(root)) =
                    (input.trace_roots, store.state_root(&hash.0)?)
                {
                    if post.0 != root {
                        return Err(format!(
                            "{}: stored state root {} but the trace's post_state root is {post}",
                            what(),
                            OpaqueHash(root)
                        )
                        .into());
                    }
                }
            }
            skipped += 1;
            progress.clear();
            if !args.quiet {
                writeln!(
                    out,
                    "{:>5} slot {slot:>6} hash {} already in the store",
                    i + 1,
                    short(&hash.0)
                )?;
            }
            progress.show(i + 1);
            continue;
        }

        // The trace marks a block invalid by leaving the state as it was.
        let trace_rejects = input.trace_roots.is_some_and(|(pre, post)| pre == post);
        if args.check {
            if let Some((pre, _)) = input.trace_roots {
                if pre != head.root {
                    return Err(format!(
                        "{}: the head's state root is {} but the trace's pre_state root is {pre}",
                        what(),
                        head.root
                    )
                    .into());
                }
            }
        }

        ctx.prior_state_root = Some(head.root);
        ctx.parent_hash = Some(head.hash);
        let t0 = Instant::now();
        let result = import_block(&params, &ctx, &head.state, block);
        let import_time = t0.elapsed();
        let (post, output) = match result {
            Ok(r) => r,
            Err(e) if trace_rejects => {
                rejected += 1;
                progress.clear();
                if !args.quiet {
                    writeln!(
                        out,
                        "{:>5} slot {slot:>6} hash {} rejected (as the trace expects): {e} [{e:?}] {:.2} ms",
                        i + 1,
                        short(&hash.0),
                        ms(import_time)
                    )?;
                }
                progress.show(i + 1);
                continue;
            }
            Err(e) => {
                progress.clear();
                out.flush()?;
                return Err(format!(
                    "{} is invalid: {e} [ImportError::{e:?}]; the store stays at slot {} hash {}",
                    what(),
                    head.slot,
                    head.hash
                )
                .into());
            }
        };
        if trace_rejects {
            return Err(format!(
                "{}: imported, but the trace marks it invalid (post_state = pre_state); not \
                 committed",
                what()
            )
            .into());
        }
        let t1 = Instant::now();
        let root = OpaqueHash(post.state_root_cached(&mut root_cache));
        if args.check {
            if let Some((_, expected)) = input.trace_roots {
                if root != expected {
                    return Err(format!(
                        "{}: posterior state root {root} but the trace's post_state root is \
                         {expected}; not committed",
                        what()
                    )
                    .into());
                }
            }
        }
        store
            .commit_block(BlockCommit::imported(
                block,
                output.header_hash.0,
                &head.state,
                &post,
                root.0,
                true,
            ))
            .map_err(|e| format!("{}: commit failed: {e}", what()))?;
        let commit_time = t1.elapsed();
        import_total += import_time;
        commit_total += commit_time;
        imported += 1;

        if let Some(a) = ctx.ancestry.as_mut() {
            a.insert(hash, slot);
            let oldest = slot.saturating_sub(params.max_lookup_anchor_age);
            if a.len() > 2 * params.max_lookup_anchor_age as usize {
                a.retain(|_, s| *s >= oldest);
            }
        }
        head = Head {
            hash,
            slot,
            root,
            state: post,
        };
        progress.clear();
        if !args.quiet {
            writeln!(
                out,
                "{:>5} slot {slot:>6} hash {} root {} import {:>7.2} ms  root+commit {:>6.2} ms",
                i + 1,
                short(&hash.0),
                short(&root.0),
                ms(import_time),
                ms(commit_time)
            )?;
        }
        progress.show(i + 1);
    }
    progress.clear();
    let mean = |t: Duration| {
        if imported == 0 {
            0.0
        } else {
            ms(t) / imported as f64
        }
    };
    writeln!(
        out,
        "imported {imported} blocks ({skipped} already in the store, {rejected} rejected as the \
         trace expects) in {:.2} s; mean import {:.2} ms, root+commit {:.2} ms; head slot {} \
         hash {} root {}",
        started.elapsed().as_secs_f64(),
        mean(import_total),
        mean(commit_total),
        head.slot,
        head.hash,
        head.root
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Loads the best block's state from the store.
fn load_head(store: &RocksStore, params: &Params, best: &BestBlock) -> Result<Head, String> {
    let kvs = store
        .state_at_root(&best.state_root)
        .map_err(|e| format!("loading the best block's state: {e}"))?;
    let state = State::from_key_values(&kvs, params)
        .map_err(|e| format!("the best block's state does not parse: {e}"))?;
    Ok(Head {
        hash: OpaqueHash(best.hash),
        slot: best.slot,
        root: OpaqueHash(best.state_root),
        state,
    })
}

/// The ancestors of the best block (itself included) no older than `max_age` slots, from the
/// store's index.
fn ancestry(
    store: &RocksStore,
    best: &BestBlock,
    max_age: u32,
) -> Result<HashMap<HeaderHash, TimeSlot>, String> {
    let oldest = best.slot.saturating_sub(max_age);
    let mut map = HashMap::new();
    let mut hash = best.hash;
    while hash != ZERO_HASH {
        let Some(info) = store.block_info(&hash).map_err(|e| e.to_string())? else {
            return Err(format!(
                "store: ancestor {} of the best block missing",
                OpaqueHash(hash)
            ));
        };
        if info.slot < oldest {
            break;
        }
        map.insert(OpaqueHash(hash), info.slot);
        hash = info.parent;
    }
    Ok(map)
}
