//! The fuzz target: one [`Session`] per connection, answering the fuzzer's requests.
//!
//! State kept per session (forks of depth one, protocol `feature-fork`): the fuzzer only ever
//! builds on the last imported block or on that block's parent (a sibling of the last imported
//! block, e.g. the original block after its valid mutants). So after importing block `X` on
//! parent `P` only `P`'s and `X`'s states are kept; after `Initialize` only the initial state.
//! Memory stays flat however long the session runs.

use super::protocol::{
    read_frame, write_message, AncestryItem, FrameError, Initialize, Message, PeerInfo, Utf8,
    Version, FEATURE_ANCESTRY, FEATURE_FORK, FUZZ_VERSION,
};
use jam_consensus::bandersnatch::RingContext;
use jam_consensus::import::{import_block, ImportContext};
use jam_state::params::Params;
use jam_state::state::{State, StateRootCache};
use jam_state::trace::KeyValue;
use jam_state::types::{Block, HeaderHash, OpaqueHash, StateRoot};
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Features this target supports.
pub const OUR_FEATURES: u32 = FEATURE_ANCESTRY | FEATURE_FORK;
/// The JAM (Gray Paper) version implemented.
pub const JAM_VERSION: Version = Version {
    major: 0,
    minor: 7,
    patch: 2,
};
/// The application name announced in the handshake.
pub const APP_NAME: &str = "jam-rust";

/// Process-wide target configuration shared by every session.
pub struct Target {
    params: Params,
    /// Cloned for each import: clones share the ring context and the key and program caches.
    import_ctx: ImportContext,
    /// `L`: how many recent headers the lookup-anchor check may use.
    max_ancestry: usize,
    quiet: bool,
}

/// Counters of one session.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionStats {
    /// Blocks imported successfully.
    pub imported: u64,
    /// Blocks rejected (answered with `Error`).
    pub rejected: u64,
    /// Time spent importing (successful or not) and computing posterior roots.
    pub import_time: Duration,
}

/// How a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// The fuzzer closed the connection between two messages.
    Closed,
    /// We ended it: malformed or unexpected message, i/o failure or internal error.
    Aborted(String),
}

impl Target {
    /// A target for chain `params` (builds the ring context once).
    pub fn new(params: Params, quiet: bool) -> Result<Target, String> {
        let ring =
            RingContext::new(params.validators()).map_err(|e| format!("ring context: {e}"))?;
        // Pay for the ring commitment key before serving, not in the first epoch-change reply.
        ring.prepare();
        // The fuzz protocol scales L down for the tiny spec (14400 / 600 = 24).
        let max_ancestry = if params.name == "tiny" {
            24
        } else {
            params.max_lookup_anchor_age as usize
        };
        Ok(Target {
            params,
            import_ctx: ImportContext::with_ring(Arc::new(ring)),
            max_ancestry,
            quiet,
        })
    }

    /// The chain parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Whether per-import logging is off.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Our handshake message.
    pub fn peer_info() -> PeerInfo {
        let v = |s: &str| s.parse::<u8>().unwrap_or(0);
        PeerInfo {
            fuzz_version: FUZZ_VERSION,
            fuzz_features: OUR_FEATURES,
            jam_version: JAM_VERSION,
            app_version: Version {
                major: v(env!("CARGO_PKG_VERSION_MAJOR")),
                minor: v(env!("CARGO_PKG_VERSION_MINOR")),
                patch: v(env!("CARGO_PKG_VERSION_PATCH")),
            },
            app_name: Utf8(APP_NAME.into()),
        }
    }

    /// Serves one connection until the fuzzer closes it or the session must end.
    pub fn serve(&self, stream: &mut (impl Read + Write)) -> (SessionEnd, SessionStats) {
        let mut session = Session::new(self);
        let mut buf = Vec::new();
        let end = loop {
            match read_frame(stream, &mut buf) {
                Ok(()) => {}
                Err(FrameError::Closed) => break SessionEnd::Closed,
                Err(e) => break SessionEnd::Aborted(format!("reading a message: {e}")),
            }
            let msg = match Message::decode_bytes(&buf, &self.params) {
                Ok(m) => m,
                Err(e) => break SessionEnd::Aborted(format!("malformed message: {e}")),
            };
            let reply = match session.handle(msg) {
                Ok(r) => r,
                Err(why) => break SessionEnd::Aborted(why),
            };
            if let Err(e) = write_message(stream, &reply) {
                break SessionEnd::Aborted(format!("writing the reply: {e}"));
            }
        };
        (end, session.stats)
    }

    fn log(&self, line: std::fmt::Arguments<'_>) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}

/// A stored state: the state after block `hash` (or the initial state).
struct Entry {
    hash: HeaderHash,
    root: StateRoot,
    state: State,
    /// The last `L` headers up to and including this one (empty without `feature-ancestry`).
    ancestors: Arc<VecDeque<AncestryItem>>,
}

/// The protocol state of one connection.
pub struct Session<'t> {
    target: &'t Target,
    /// Negotiated features; `None` until the handshake.
    features: Option<u32>,
    /// At most two entries: the last imported block's state and its parent's (or the initial).
    states: Vec<Entry>,
    root_cache: StateRootCache,
    pub stats: SessionStats,
}

impl<'t> Session<'t> {
    pub fn new(target: &'t Target) -> Session<'t> {
        Session {
            target,
            features: None,
            states: Vec::new(),
            root_cache: StateRootCache::default(),
            stats: SessionStats::default(),
        }
    }

    /// Answers one request. `Err` ends the session (never sent as a protocol `Error`).
    pub fn handle(&mut self, msg: Message) -> Result<Message, String> {
        let Some(features) = self.features else {
            return match msg {
                Message::PeerInfo(peer) => self.handshake(peer),
                other => Err(format!("expected PeerInfo first, got {}", other.kind())),
            };
        };
        match msg {
            Message::Initialize(init) => self.initialize(*init, features),
            Message::ImportBlock(block) => self.import(&block, features),
            Message::GetState(hash) => self.get_state(&hash),
            other => Err(format!("unexpected {} message", other.kind())),
        }
    }

    fn handshake(&mut self, peer: PeerInfo) -> Result<Message, String> {
        if peer.fuzz_version != FUZZ_VERSION {
            return Err(format!(
                "fuzzer speaks fuzz protocol v{}, we speak v{FUZZ_VERSION}",
                peer.fuzz_version
            ));
        }
        let features = peer.fuzz_features & OUR_FEATURES;
        self.features = Some(features);
        let j = peer.jam_version;
        self.target.log(format_args!(
            "fuzz: handshake with {:?} (jam {}.{}.{}), features {features:#x}",
            peer.app_name.0, j.major, j.minor, j.patch
        ));
        Ok(Message::PeerInfo(Target::peer_info()))
    }

    fn initialize(&mut self, init: Initialize, features: u32) -> Result<Message, String> {
        let params = &self.target.params;
        let pairs: Vec<(jam_state::keys::StateKey, &[u8])> = init
            .keyvals
            .iter()
            .map(|kv| (kv.key, kv.value.as_slice()))
            .collect();
        let state = State::from_key_values(&pairs, params)
            .map_err(|e| format!("Initialize: cannot parse the state: {e}"))?;
        // The state is taken exactly as given: its root is that of the given key/values.
        let root = OpaqueHash(jam_state::merkle::state_root(&pairs));
        let hash = init.header.hash();
        let mut ancestors = VecDeque::new();
        if features & FEATURE_ANCESTRY != 0 {
            ancestors.extend(init.ancestry.iter().copied());
            if !ancestors.iter().any(|a| a.header_hash == hash) {
                ancestors.push_back(AncestryItem {
                    slot: init.header.slot,
                    header_hash: hash,
                });
            }
            while ancestors.len() > self.target.max_ancestry {
                ancestors.pop_front();
            }
        }
        self.states.clear();
        self.states.push(Entry {
            hash,
            root,
            state,
            ancestors: Arc::new(ancestors),
        });
        self.target.log(format_args!(
            "fuzz: initialize slot={} hash={} root={} keys={}",
            init.header.slot,
            short(&hash),
            short(&root),
            init.keyvals.len()
        ));
        Ok(Message::StateRoot(root))
    }

    fn import(&mut self, block: &Block, features: u32) -> Result<Message, String> {
        let target = self.target;
        let parent_hash = block.header.parent;
        let Some(parent) = self.states.iter().find(|e| e.hash == parent_hash) else {
            if self.states.is_empty() {
                return Err("ImportBlock before Initialize".into());
            }
            self.stats.rejected += 1;
            let msg = format!("unknown parent block {parent_hash}");
            target.log(format_args!(
                "import slot={} rejected: {msg}",
                block.header.slot
            ));
            return Ok(Message::Error(msg));
        };

        // A clone shares the context's key and program caches across blocks.
        let mut ctx = target.import_ctx.clone();
        ctx.prior_state_root = Some(parent.root);
        ctx.parent_hash = Some(parent.hash);
        if features & FEATURE_ANCESTRY != 0 {
            ctx.ancestry = Some(
                parent
                    .ancestors
                    .iter()
                    .map(|a| (a.header_hash, a.slot))
                    .collect::<HashMap<_, _>>(),
            );
        }

        let start = Instant::now();
        let params = &target.params;
        let root_cache = &mut self.root_cache;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            import_block(params, &ctx, &parent.state, block).map(|(post, out)| {
                let root = OpaqueHash(post.state_root_cached(root_cache));
                (post, out.header_hash, root)
            })
        }));
        let elapsed = start.elapsed();
        self.stats.import_time += elapsed;
        let ms = elapsed.as_secs_f64() * 1e3;
        let slot = block.header.slot;
        match outcome {
            Err(panic) => {
                // The root cache may be half-updated: drop it.
                self.root_cache = StateRootCache::default();
                Err(format!(
                    "internal error: import panicked: {}",
                    panic_text(&panic)
                ))
            }
            Ok(Err(e)) => {
                self.stats.rejected += 1;
                target.log(format_args!(
                    "import slot={slot} hash={} rejected: {e} {ms:.2} ms",
                    short(&block.header.hash())
                ));
                Ok(Message::Error(e.to_string()))
            }
            Ok(Ok((post, hash, root))) => {
                self.stats.imported += 1;
                target.log(format_args!(
                    "import slot={slot} hash={} root={} {ms:.2} ms",
                    short(&hash),
                    short(&root)
                ));
                let ancestors = if features & FEATURE_ANCESTRY != 0 {
                    let mut a = VecDeque::clone(&parent.ancestors);
                    a.push_back(AncestryItem {
                        slot,
                        header_hash: hash,
                    });
                    while a.len() > target.max_ancestry {
                        a.pop_front();
                    }
                    Arc::new(a)
                } else {
                    parent.ancestors.clone()
                };
                // Keep the parent (siblings may follow) and the new head; drop the rest.
                self.states.retain(|e| e.hash == parent_hash);
                self.states.push(Entry {
                    hash,
                    root,
                    state: post,
                    ancestors,
                });
                Ok(Message::StateRoot(root))
            }
        }
    }

    fn get_state(&mut self, hash: &HeaderHash) -> Result<Message, String> {
        let entry = self
            .states
            .iter()
            .find(|e| e.hash == *hash)
            .ok_or_else(|| format!("GetState: no state kept for block {hash}"))?;
        let kvs = entry
            .state
            .to_key_values()
            .into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value: value.into(),
            })
            .collect();
        Ok(Message::State(kvs))
    }

    /// How many states are kept (for tests: must stay bounded).
    #[cfg(test)]
    pub fn kept_states(&self) -> usize {
        self.states.len()
    }
}

/// The first 8 bytes of a hash in hex, for logs.
fn short(h: &OpaqueHash) -> String {
    let s = h.to_string();
    let s = s.strip_prefix("0x").unwrap_or(&s);
    format!("0x{}", &s[..16.min(s.len())])
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::{load_session, reply_matches};
    use jam_state::codec::Encode;
    use std::path::{Path, PathBuf};

    fn examples() -> PathBuf {
        std::env::var_os("JAM_FUZZ_EXAMPLES")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fuzz-proto/examples")
            })
    }

    /// The forks session through a `Session` directly, without and with `feature-ancestry`
    /// (then the lookup anchors are checked against the headers seen): every reply as recorded
    /// and never more than two states kept (the head and its parent).
    #[test]
    fn forks_session_keeps_at_most_two_states() {
        let target = Target::new(Params::tiny(), true).unwrap();
        let steps = load_session(&examples().join("forks")).unwrap();
        for features in [FEATURE_FORK, FEATURE_FORK | FEATURE_ANCESTRY] {
            let mut session = Session::new(&target);
            let mut mismatches = Vec::new();
            for step in &steps {
                let mut msg = Message::decode_bytes(&step.request, target.params()).unwrap();
                if let Message::PeerInfo(peer) = &mut msg {
                    peer.fuzz_features = features;
                }
                let reply = session.handle(msg).unwrap().encode();
                if !reply_matches(step.expected.as_ref().unwrap(), &reply) {
                    mismatches.push(step.name.clone());
                }
                let kept = session.kept_states();
                assert!(kept <= 2, "{}: {kept} states", step.name);
            }
            assert_eq!(session.features, Some(features));
            assert_eq!(session.stats.imported + session.stats.rejected, 100);
            assert!(
                mismatches.is_empty(),
                "features {features}: replies differ at {mismatches:?}"
            );
        }
    }

    #[test]
    fn handshake_intersects_features() {
        let target = Target::new(Params::tiny(), true).unwrap();
        for (theirs, shared) in [(0, 0), (1, 1), (2, 2), (3, 3), (0x8000_0003, 3)] {
            let mut session = Session::new(&target);
            let mut peer = Target::peer_info();
            peer.fuzz_features = theirs;
            let reply = session.handle(Message::PeerInfo(peer)).unwrap();
            let Message::PeerInfo(ours) = reply else {
                panic!("not a PeerInfo")
            };
            assert_eq!(ours.fuzz_features, OUR_FEATURES);
            assert_eq!(ours.jam_version, JAM_VERSION);
            assert_eq!(session.features, Some(shared));
        }
        let mut session = Session::new(&target);
        let mut peer = Target::peer_info();
        peer.fuzz_version = 2;
        assert!(session.handle(Message::PeerInfo(peer)).is_err());
    }
}
