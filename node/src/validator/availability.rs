//! Availability: the erasure-coded shard store and assurances (GP v0.7.2 §14.4.1 eq. 14.17,
//! §11.2.1, App. H; JAMNP-S CE 137–141).
//!
//! A guarantor [`Availability::hold`]s each report it guarantees: the audit bundle's and the
//! export segments' chunks, keyed by the erasure root of the report's availability spec. Each
//! assurer asks for its own shard index (CE 137), verifies the justification against the
//! erasure root and [`Availability::receive`]s it. Auditors fetch bundle shards (CE 138) and
//! rebuild the bundle from any `R` of them ([`reconstruct_bundle`]); guarantors of dependent
//! packages fetch segment shards (CE 139/140).
//!
//! Justifications are co-paths in the erasure-root tree `M_B([H(b_i) ⌢ M_B(s_i)])`, top
//! down: an inner node is `0 ++ Hash`, a sibling leaf (64 octets) `1 ++ Hash ++ Hash`. CE 138
//! appends the shard's segment root (`0 ++ Hash`); CE 140 appends the bundle-shard hash and
//! then the segment shard's co-path in `M_B(s_i)` (leaves as `2 ++ Segment Shard`).
//!
//! Assurances ([`sign_assurance`], [`AssurancePool`]): a validator signs a bitfield over the
//! cores whose pending report (ρ) it holds its shards of, anchored on the parent; an author
//! includes one valid assurance per validator, sorted by validator index (GP eqs. 11.10–11.14).
//!
//! In the running node ([`NodeAvailability`], hooks on the chain task): every new best block's
//! E_G triggers CE 137 requests to the reports' guarantors for our assigned shard (JAMNP-S §
//! "Shard assignment"); then, if we hold shards of any report in ρ, we sign an assurance
//! anchored on that block and send it over CE 141 to the connected active validators. When
//! authoring, the pooled assurances for the parent go into E_A before E_G is added.

// The auditor side (CE 138–140 fetching and verification, bundle reconstruction) is tested
// here but not yet called by the node (auditing is not implemented).
#![allow(dead_code)]

use jam_consensus::assurances::assurance_message;
use jam_consensus::crypto::{ed25519_verify, JAM_AVAILABLE};
use jam_consensus::refine::availability::Chunks;
use jam_consensus::refine::ComputedReport;
use jam_consensus::validator_keys::ValidatorSecrets;
use jam_network::messages::Concat;
use jam_network::stream::codes;
use jam_network::work_messages::{
    segment_shard_request_count, segment_shard_size, split_fixed, Assurance, AuditShard,
    Justification, JustificationStep, SegmentShardRequest, ShardDistribution, ShardIndex,
    ShardRequest, MAX_IMPORTS,
};
use jam_network::{Connection, Stream, StreamError, StreamKind};
use jam_state::erasure::{self, ErasureError, ErasureParams};
use jam_state::hash::{blake2b_256, Hash};
use jam_state::merkle::{merkle_trace, merkle_wb};
use jam_state::params::Params;
use jam_state::types::{
    AvailAssurance, AvailabilityAssignments, AvailabilityBitfield, CoreIndex, ErasureRoot,
    HeaderHash, OpaqueHash, TimeSlot, ValidatorData, ValidatorIndex, WorkPackageSpec,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

/// Segments per paged-proof page (GP eq. 14.10).
const PAGE: usize = 64;

/// Why a shard could not be stored, served, verified or used.
#[derive(Debug, thiserror::Error)]
pub enum AvailabilityError {
    #[error("no shards held for erasure root {0}")]
    UnknownErasureRoot(ErasureRoot),
    #[error("shard index {index} out of range ({validators} validators)")]
    ShardIndexOutOfRange {
        index: ShardIndex,
        validators: usize,
    },
    #[error("shard {0} is not held (only our own shard is)")]
    ShardNotHeld(ShardIndex),
    #[error("segment index {index} out of range ({count} segments)")]
    SegmentIndexOutOfRange { index: u16, count: usize },
    #[error("request for {0} segment shards exceeds 2·W_M")]
    TooManySegments(usize),
    #[error("the chunks do not match the report's erasure root")]
    ErasureRootMismatch,
    #[error("{got} segment shards, expected {expected}")]
    SegmentCount { got: usize, expected: usize },
    #[error("shard of {got} octets, expected {expected}")]
    ShardSize { got: usize, expected: usize },
    #[error("justification does not prove the shard under the erasure root")]
    BadJustification,
    #[error("erasure coding: {0}")]
    Erasure(#[from] ErasureError),
    #[error("stream: {0}")]
    Stream(#[from] StreamError),
    #[error("network: {0}")]
    Network(#[from] jam_network::Error),
}

/// Bounds of the store.
#[derive(Clone, Copy, Debug)]
pub struct AvailabilityConfig {
    /// Most reports held at once (guaranteed or assured); the oldest is evicted first.
    pub max_reports: usize,
    /// Slots a report is kept after it was stored; GP §14.3.1 asks for the export segments
    /// to stay available for `D` (28 days), which [`Self::max_reports`] caps in practice.
    pub retention: TimeSlot,
}

impl Default for AvailabilityConfig {
    fn default() -> Self {
        AvailabilityConfig {
            max_reports: 1024,
            retention: 28 * 24 * 600,
        }
    }
}

/// What is held for one erasure root.
enum Data {
    /// A guarantor's: every validator's chunks and the erasure-root tree leaves.
    Full {
        chunks: Chunks,
        leaves: Vec<Vec<u8>>,
    },
    /// An assurer's: its own shard and that shard's co-path (erasure-root tree, top down).
    Own {
        index: ShardIndex,
        bundle: Vec<u8>,
        segments: Vec<Vec<u8>>,
        path: Vec<Vec<u8>>,
    },
}

/// A held shard: bundle shard, segment shards, erasure-root co-path (top down).
type ShardView<'a> = (&'a [u8], &'a [Vec<u8>], Vec<Vec<u8>>);

/// CE 139/140 answer: segment shards, and (CE 140) one justification per shard.
pub type SegmentShards = (Vec<Vec<u8>>, Vec<Vec<JustificationStep>>);

struct Entry {
    spec: WorkPackageSpec,
    core: CoreIndex,
    slot: TimeSlot,
    data: Data,
}

impl Entry {
    /// Bundle shard, segment shards and erasure-root co-path of shard `i`.
    fn shard(&self, i: ShardIndex) -> Result<ShardView<'_>, AvailabilityError> {
        match &self.data {
            Data::Full { chunks, leaves } => {
                let n = i as usize;
                if n >= leaves.len() {
                    return Err(AvailabilityError::ShardIndexOutOfRange {
                        index: i,
                        validators: leaves.len(),
                    });
                }
                Ok((
                    &chunks.bundle[n],
                    &chunks.segments[n],
                    merkle_trace(leaves, n, blake2b_256),
                ))
            }
            Data::Own {
                index,
                bundle,
                segments,
                path,
            } if *index == i => Ok((bundle, segments, path.clone())),
            Data::Own { .. } => Err(AvailabilityError::ShardNotHeld(i)),
        }
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<ErasureRoot, Entry>,
    /// Erasure roots in insertion order (eviction).
    order: VecDeque<ErasureRoot>,
}

/// The availability store (GP §14.4.1, App. H): shards by erasure root, bounded.
pub struct Availability {
    params: Params,
    ec: ErasureParams,
    config: AvailabilityConfig,
    inner: Mutex<Inner>,
}

/// `H(b) ⌢ M_B(s)`: the erasure-root tree leaf of a bundle shard and its segment shards.
fn leaf(bundle_shard: &[u8], segment_shards: &[Vec<u8>]) -> Vec<u8> {
    let mut l = blake2b_256(bundle_shard).to_vec();
    l.extend_from_slice(&merkle_wb(segment_shards, blake2b_256));
    l
}

/// Exported plus paged-proof segments of a spec: `e + ⌈e / 64⌉` (GP eq. 14.17).
pub fn segment_count(spec: &WorkPackageSpec) -> usize {
    let e = spec.exports_count as usize;
    e + e.div_ceil(PAGE)
}

/// Top-down sides (`true`: right half) on the path to item `i` of `n` in a well-balanced tree.
fn sides(n: usize, i: usize) -> Vec<bool> {
    let (mut len, mut i, mut out) = (n, i, Vec::new());
    while len > 1 {
        let mid = len.div_ceil(2);
        if i < mid {
            out.push(false);
            len = mid;
        } else {
            out.push(true);
            i -= mid;
            len -= mid;
        }
    }
    out
}

/// `M_B` of `n` items from item `i`'s node value and its co-path (top down; GP E.1).
fn wb_root_from_path(n: usize, i: usize, item: &[u8], path: &[Vec<u8>]) -> Option<Hash> {
    let s = sides(n, i);
    if i >= n || s.len() != path.len() {
        return None;
    }
    if n == 1 {
        return Some(blake2b_256(item));
    }
    let mut node = item.to_vec();
    for (right, sib) in s.iter().zip(path).rev() {
        let (l, r) = if *right {
            (sib.as_slice(), node.as_slice())
        } else {
            (node.as_slice(), sib.as_slice())
        };
        node = blake2b_256(&[b"node", l, r].concat()).to_vec();
    }
    node.try_into().ok()
}

/// A co-path's nodes as justification steps: 64-octet leaves as pairs, hashes as hashes,
/// anything else (segment-shard leaves) as segment shards.
fn to_steps(path: Vec<Vec<u8>>) -> Vec<JustificationStep> {
    path.into_iter()
        .map(|n| match n.len() {
            32 => JustificationStep::Hash(OpaqueHash::from_slice(&n).unwrap_or_default()),
            64 => JustificationStep::Pair(
                OpaqueHash::from_slice(&n[..32]).unwrap_or_default(),
                OpaqueHash::from_slice(&n[32..]).unwrap_or_default(),
            ),
            _ => JustificationStep::SegmentShard(n),
        })
        .collect()
}

/// A justification step's node value.
fn step_bytes(s: &JustificationStep) -> Vec<u8> {
    match s {
        JustificationStep::Hash(h) => h.to_vec(),
        JustificationStep::Pair(a, b) => [&a[..], &b[..]].concat(),
        JustificationStep::SegmentShard(s) => s.clone(),
    }
}

fn check_index(i: ShardIndex, validators: usize) -> Result<(), AvailabilityError> {
    if i as usize >= validators {
        return Err(AvailabilityError::ShardIndexOutOfRange {
            index: i,
            validators,
        });
    }
    Ok(())
}

/// Verifies a CE 137 response for shard `i` of `validators` against `erasure_root`.
pub fn verify_shard(
    erasure_root: &ErasureRoot,
    validators: usize,
    i: ShardIndex,
    d: &ShardDistribution,
) -> Result<(), AvailabilityError> {
    check_index(i, validators)?;
    let l = leaf(&d.bundle_shard, &d.segment_shards);
    check_erasure_path(erasure_root, validators, i, &l, &d.justification)
}

/// Whether `leaf` at index `i` of the erasure-root tree over `validators` shards, with the
/// co-path `path` (top down), gives `erasure_root`.
fn check_erasure_path(
    erasure_root: &ErasureRoot,
    validators: usize,
    i: ShardIndex,
    leaf: &[u8],
    path: &[JustificationStep],
) -> Result<(), AvailabilityError> {
    let path: Vec<Vec<u8>> = path.iter().map(step_bytes).collect();
    match wb_root_from_path(validators, i as usize, leaf, &path) {
        Some(r) if r == erasure_root.0 => Ok(()),
        _ => Err(AvailabilityError::BadJustification),
    }
}

/// Verifies a CE 138 response (co-path followed by the segment root) for shard `i`.
pub fn verify_audit_shard(
    erasure_root: &ErasureRoot,
    validators: usize,
    i: ShardIndex,
    a: &AuditShard,
) -> Result<(), AvailabilityError> {
    check_index(i, validators)?;
    let Some((JustificationStep::Hash(seg_root), path)) = a.justification.split_last() else {
        return Err(AvailabilityError::BadJustification);
    };
    let l = [&blake2b_256(&a.bundle_shard)[..], &seg_root[..]].concat();
    check_erasure_path(erasure_root, validators, i, &l, path)
}

/// Verifies a CE 140 segment shard `j` (of `segments`) of shard `i` with its justification.
pub fn verify_segment_shard(
    erasure_root: &ErasureRoot,
    validators: usize,
    i: ShardIndex,
    segments: usize,
    j: u16,
    shard: &[u8],
    justification: &[JustificationStep],
) -> Result<(), AvailabilityError> {
    check_index(i, validators)?;
    let depth = sides(validators, i as usize).len();
    let (Some(top), Some(JustificationStep::Hash(bundle_hash))) =
        (justification.get(..depth), justification.get(depth))
    else {
        return Err(AvailabilityError::BadJustification);
    };
    let below: Vec<Vec<u8>> = justification[depth + 1..].iter().map(step_bytes).collect();
    let seg_root = wb_root_from_path(segments, j as usize, shard, &below)
        .ok_or(AvailabilityError::BadJustification)?;
    let l = [&bundle_hash[..], &seg_root[..]].concat();
    check_erasure_path(erasure_root, validators, i, &l, top)
}

/// Rebuilds an audit bundle from CE 138 responses of any `R` validators (GP App. H), checking
/// each justification first; shards that fail are skipped.
pub fn reconstruct_bundle(
    params: &Params,
    spec: &WorkPackageSpec,
    shards: impl IntoIterator<Item = (ShardIndex, AuditShard)>,
) -> Result<Vec<u8>, AvailabilityError> {
    let ec = ErasureParams::from_chain(params)?;
    let v = ec.total_shards();
    let good: Vec<(usize, Vec<u8>)> = shards
        .into_iter()
        .filter(|(i, a)| verify_audit_shard(&spec.erasure_root, v, *i, a).is_ok())
        .map(|(i, a)| (i as usize, a.bundle_shard))
        .collect();
    Ok(erasure::reconstruct(&ec, good, spec.length as usize)?)
}

impl Availability {
    /// An empty store for the chain `params`.
    pub fn new(params: Params, config: AvailabilityConfig) -> Result<Self, AvailabilityError> {
        Ok(Availability {
            ec: ErasureParams::from_chain(&params)?,
            params,
            config,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Validators (= shards per chunk set).
    pub fn validators(&self) -> usize {
        self.ec.total_shards()
    }

    fn insert(&self, root: ErasureRoot, entry: Entry) {
        let mut g = self.lock();
        if g.entries.insert(root, entry).is_none() {
            g.order.push_back(root);
        }
        while g.entries.len() > self.config.max_reports.max(1) {
            let Some(old) = g.order.pop_front() else {
                break;
            };
            g.entries.remove(&old);
        }
    }

    /// Guarantor side (GP §14.4.1): holds a report's chunks for distribution, keyed by its
    /// erasure root, after checking they commit to it. Call when a guarantee is made.
    pub fn hold(
        &self,
        computed: &ComputedReport,
        slot: TimeSlot,
    ) -> Result<ErasureRoot, AvailabilityError> {
        let spec = &computed.report.package_spec;
        let chunks = &computed.chunks;
        let v = self.validators();
        if chunks.bundle.len() != v || chunks.segments.len() != v {
            return Err(AvailabilityError::ErasureRootMismatch);
        }
        let leaves: Vec<Vec<u8>> = chunks
            .bundle
            .iter()
            .zip(&chunks.segments)
            .map(|(b, s)| leaf(b, s))
            .collect();
        if merkle_wb(&leaves, blake2b_256) != spec.erasure_root.0 {
            return Err(AvailabilityError::ErasureRootMismatch);
        }
        let root = spec.erasure_root;
        self.insert(
            root,
            Entry {
                spec: *spec,
                core: computed.report.core_index,
                slot,
                data: Data::Full {
                    chunks: chunks.clone(),
                    leaves,
                },
            },
        );
        Ok(root)
    }

    /// Assurer side (CE 137 response): verifies and stores our shard `i` of the report with
    /// `spec` pending on `core`.
    pub fn receive(
        &self,
        spec: &WorkPackageSpec,
        core: CoreIndex,
        slot: TimeSlot,
        i: ShardIndex,
        d: ShardDistribution,
    ) -> Result<(), AvailabilityError> {
        let expected = segment_count(spec);
        if d.segment_shards.len() != expected {
            return Err(AvailabilityError::SegmentCount {
                got: d.segment_shards.len(),
                expected,
            });
        }
        let seg_size = segment_shard_size(&self.params);
        if let Some(s) = d.segment_shards.iter().find(|s| s.len() != seg_size) {
            return Err(AvailabilityError::ShardSize {
                got: s.len(),
                expected: seg_size,
            });
        }
        let bundle_size = self.ec.shard_size(spec.length as usize);
        if d.bundle_shard.len() != bundle_size {
            return Err(AvailabilityError::ShardSize {
                got: d.bundle_shard.len(),
                expected: bundle_size,
            });
        }
        verify_shard(&spec.erasure_root, self.validators(), i, &d)?;
        let path = d.justification.iter().map(step_bytes).collect();
        self.insert(
            spec.erasure_root,
            Entry {
                spec: *spec,
                core,
                slot,
                data: Data::Own {
                    index: i,
                    bundle: d.bundle_shard,
                    segments: d.segment_shards,
                    path,
                },
            },
        );
        Ok(())
    }

    /// Whether shards are held for `root` (the assurance bit for its core).
    pub fn has(&self, root: &ErasureRoot) -> bool {
        self.lock().entries.contains_key(root)
    }

    /// Reports held: `(erasure root, core, spec)`.
    pub fn held(&self) -> Vec<(ErasureRoot, CoreIndex, WorkPackageSpec)> {
        self.lock()
            .entries
            .iter()
            .map(|(r, e)| (*r, e.core, e.spec))
            .collect()
    }

    /// Drops reports stored more than the retention period before `now`.
    pub fn prune(&self, now: TimeSlot) {
        let retention = self.config.retention;
        let mut g = self.lock();
        g.entries
            .retain(|_, e| e.slot.saturating_add(retention) >= now);
        let Inner { entries, order } = &mut *g;
        order.retain(|r| entries.contains_key(r));
    }

    /// CE 137 response: shard `req.shard_index`'s bundle shard, segment shards and co-path.
    pub fn shard(&self, req: &ShardRequest) -> Result<ShardDistribution, AvailabilityError> {
        let g = self.lock();
        let e = g
            .entries
            .get(&req.erasure_root)
            .ok_or(AvailabilityError::UnknownErasureRoot(req.erasure_root))?;
        let (b, s, path) = e.shard(req.shard_index)?;
        Ok(ShardDistribution {
            bundle_shard: b.to_vec(),
            segment_shards: s.to_vec(),
            justification: to_steps(path),
        })
    }

    /// CE 138 response: the bundle shard, its co-path and (last) the shard's segment root.
    pub fn audit_shard(&self, req: &ShardRequest) -> Result<AuditShard, AvailabilityError> {
        let g = self.lock();
        let e = g
            .entries
            .get(&req.erasure_root)
            .ok_or(AvailabilityError::UnknownErasureRoot(req.erasure_root))?;
        let (b, s, path) = e.shard(req.shard_index)?;
        let mut justification = to_steps(path);
        justification.push(JustificationStep::Hash(OpaqueHash(merkle_wb(
            s,
            blake2b_256,
        ))));
        Ok(AuditShard {
            bundle_shard: b.to_vec(),
            justification,
        })
    }

    /// CE 139 (`justified` false) / CE 140 response: the requested segment shards in order,
    /// with one justification per shard for CE 140.
    pub fn segment_shards(
        &self,
        reqs: &[SegmentShardRequest],
        justified: bool,
    ) -> Result<SegmentShards, AvailabilityError> {
        let n = segment_shard_request_count(reqs);
        if n > 2 * MAX_IMPORTS {
            return Err(AvailabilityError::TooManySegments(n));
        }
        let g = self.lock();
        let (mut shards, mut justs) = (Vec::with_capacity(n), Vec::new());
        for r in reqs {
            let e = g
                .entries
                .get(&r.erasure_root)
                .ok_or(AvailabilityError::UnknownErasureRoot(r.erasure_root))?;
            let (b, s, path) = e.shard(r.shard_index)?;
            let top = justified.then(|| to_steps(path));
            for &j in &r.segment_indices {
                let shard = s
                    .get(j as usize)
                    .ok_or(AvailabilityError::SegmentIndexOutOfRange {
                        index: j,
                        count: s.len(),
                    })?;
                shards.push(shard.clone());
                if let Some(top) = &top {
                    let mut just = top.clone();
                    just.push(JustificationStep::Hash(OpaqueHash(blake2b_256(b))));
                    just.extend(to_steps(merkle_trace(s, j as usize, blake2b_256)));
                    justs.push(just);
                }
            }
        }
        Ok((shards, justs))
    }

    /// Serves a CE 137–140 stream from the store; unknown roots, malformed or out-of-range
    /// requests reset the stream (JAMNP-S § "CE 137" – § "CE 140").
    pub async fn serve(&self, mut s: Stream) -> Result<(), AvailabilityError> {
        let kind = s.kind();
        let result = match kind {
            StreamKind::SHARD_DISTRIBUTION | StreamKind::AUDIT_SHARD_REQUEST => {
                let req: ShardRequest = s.recv().await?;
                s.recv_fin().await?;
                if kind == StreamKind::SHARD_DISTRIBUTION {
                    match self.shard(&req) {
                        Ok(d) => {
                            s.send_raw(&d.bundle_shard).await?;
                            s.send_raw(&d.segment_shards.concat()).await?;
                            s.send(&Concat(d.justification)).await?;
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                } else {
                    match self.audit_shard(&req) {
                        Ok(a) => {
                            s.send_raw(&a.bundle_shard).await?;
                            s.send(&Concat(a.justification)).await?;
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
            }
            StreamKind::SEGMENT_SHARD_REQUEST | StreamKind::SEGMENT_SHARD_REQUEST_JUSTIFIED => {
                let reqs: Concat<SegmentShardRequest> = s.recv().await?;
                s.recv_fin().await?;
                let justified = kind == StreamKind::SEGMENT_SHARD_REQUEST_JUSTIFIED;
                match self.segment_shards(&reqs.0, justified) {
                    Ok((shards, justs)) => {
                        s.send_raw(&shards.concat()).await?;
                        for j in justs {
                            s.send(&Concat(j)).await?;
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            k => Err(AvailabilityError::Stream(StreamError::BadKind(k.0))),
        };
        match result {
            Ok(()) => Ok(s.finish()?),
            Err(e) => {
                s.reset(codes::REFUSED);
                Err(e)
            }
        }
    }
}

/// CE 137 request (assurer side): asks `guarantor` for shard `req.shard_index`; the answer
/// is unverified (see [`Availability::receive`]).
pub async fn request_shard(
    guarantor: &Connection,
    req: &ShardRequest,
) -> Result<ShardDistribution, AvailabilityError> {
    let mut s = guarantor
        .open_stream(StreamKind::SHARD_DISTRIBUTION)
        .await?;
    s.send(req).await?;
    s.finish()?;
    let bundle_shard = s.recv_raw().await?;
    let size = segment_shard_size(guarantor.params());
    let segs = s.recv_raw().await?;
    let segment_shards = split_fixed(&segs, size).map_err(StreamError::from)?;
    let justification: Justification = s.recv().await?;
    s.recv_fin().await?;
    Ok(ShardDistribution {
        bundle_shard,
        segment_shards,
        justification: justification.0,
    })
}

/// CE 138 request (auditor side): shard `req.shard_index`'s bundle shard; unverified (see
/// [`verify_audit_shard`]).
pub async fn request_audit_shard(
    assurer: &Connection,
    req: &ShardRequest,
) -> Result<AuditShard, AvailabilityError> {
    let mut s = assurer.open_stream(StreamKind::AUDIT_SHARD_REQUEST).await?;
    s.send(req).await?;
    s.finish()?;
    let bundle_shard = s.recv_raw().await?;
    let justification: Justification = s.recv().await?;
    s.recv_fin().await?;
    Ok(AuditShard {
        bundle_shard,
        justification: justification.0,
    })
}

/// CE 139 request (guarantor of a dependent package): the segment shards `reqs` ask for, in
/// order; unverified (reconstruct them with [`reconstruct_segments`] and check the result
/// against the segments root).
pub async fn request_segment_shards(
    holder: &Connection,
    reqs: &[SegmentShardRequest],
) -> Result<Vec<Vec<u8>>, AvailabilityError> {
    let n = segment_shard_request_count(reqs);
    if n > 2 * MAX_IMPORTS {
        return Err(AvailabilityError::TooManySegments(n));
    }
    let mut s = holder
        .open_stream(StreamKind::SEGMENT_SHARD_REQUEST)
        .await?;
    s.send(&Concat(reqs.to_vec())).await?;
    s.finish()?;
    let raw = s.recv_raw().await?;
    s.recv_fin().await?;
    let shards =
        split_fixed(&raw, segment_shard_size(holder.params())).map_err(StreamError::from)?;
    if shards.len() != n {
        return Err(AvailabilityError::SegmentCount {
            got: shards.len(),
            expected: n,
        });
    }
    Ok(shards)
}

/// Rebuilds segments from their shards (GP App. H): `shards[k]` is `(shard index, the
/// segment shards of that index, one per segment)`; needs `R` distinct shard indices.
pub fn reconstruct_segments(
    params: &Params,
    shards: &[(ShardIndex, Vec<Vec<u8>>)],
    segments: usize,
) -> Result<Vec<Vec<u8>>, AvailabilityError> {
    let ec = ErasureParams::from_chain(params)?;
    (0..segments)
        .map(|j| {
            let pieces = shards
                .iter()
                .filter_map(|(i, s)| s.get(j).map(|x| (*i as usize, x.as_slice())));
            Ok(erasure::reconstruct(&ec, pieces, params.segment_size())?)
        })
        .collect()
}

// ---- Assurances (GP §11.2.1, JAMNP-S CE 141) ----

/// Why an assurance was not pooled.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssuranceError {
    #[error("validator index {0} out of range")]
    BadValidatorIndex(ValidatorIndex),
    #[error("invalid assurance signature")]
    BadSignature,
    #[error("assurer is not an active validator")]
    NotAValidator,
    #[error("bitfield of {got} octets, expected {expected}")]
    BadBitfieldLength { got: usize, expected: usize },
}

/// The bitfield over cores (GP eq. 11.10): bit `c` set iff core `c` has a pending report in
/// `rho` whose erasure root `held` says we have our shards of.
pub fn bitfield_for(
    params: &Params,
    rho: &AvailabilityAssignments,
    held: impl Fn(&ErasureRoot) -> bool,
) -> AvailabilityBitfield {
    let mut bits = AvailabilityBitfield::zeroed(params);
    for (c, a) in rho.iter().enumerate().take(params.cores()) {
        if a.as_ref()
            .is_some_and(|a| held(&a.report.package_spec.erasure_root))
        {
            bits.set_bit(c, true);
        }
    }
    bits
}

/// Signs an assurance anchored on `parent` (GP eq. 11.13: `X_A ⌢ H(E(parent, bitfield))`).
pub fn sign_assurance(
    keys: &ValidatorSecrets,
    parent: &HeaderHash,
    bitfield: AvailabilityBitfield,
) -> Assurance {
    let payload = [&parent[..], &bitfield[..]].concat();
    Assurance {
        anchor: *parent,
        signature: keys.ed25519_sign(JAM_AVAILABLE, &blake2b_256(&payload)),
        bitfield,
    }
}

/// Assurances received over CE 141 (and our own), by anchor, bounded to the latest anchors.
#[derive(Default)]
pub struct AssurancePool {
    by_anchor: HashMap<HeaderHash, BTreeMap<ValidatorIndex, AvailAssurance>>,
    anchors: VecDeque<HeaderHash>,
}

impl AssurancePool {
    /// Anchors kept (assurances are only ever valid for a child of their anchor).
    const MAX_ANCHORS: usize = 8;

    /// Verifies `a` from validator `index` of `kappa` (κ of the anchor's child, i.e. the
    /// anchor state's κ barring an epoch change) and pools it; `true` if new.
    pub fn insert(
        &mut self,
        params: &Params,
        a: Assurance,
        index: ValidatorIndex,
        kappa: &[ValidatorData],
    ) -> Result<bool, AssuranceError> {
        let key = kappa
            .get(index as usize)
            .ok_or(AssuranceError::BadValidatorIndex(index))?;
        let expected = AvailabilityBitfield::zeroed(params).len();
        if a.bitfield.len() != expected {
            return Err(AssuranceError::BadBitfieldLength {
                got: a.bitfield.len(),
                expected,
            });
        }
        let msg = assurance_message(&a.anchor, &a.bitfield);
        if !ed25519_verify(&key.ed25519.0, &msg, &a.signature.0) {
            return Err(AssuranceError::BadSignature);
        }
        if !self.by_anchor.contains_key(&a.anchor) {
            self.anchors.push_back(a.anchor);
            while self.anchors.len() > Self::MAX_ANCHORS {
                if let Some(old) = self.anchors.pop_front() {
                    self.by_anchor.remove(&old);
                }
            }
        }
        let slot = self.by_anchor.entry(a.anchor).or_default();
        let new = !slot.contains_key(&index);
        slot.insert(
            index,
            AvailAssurance {
                anchor: a.anchor,
                bitfield: a.bitfield,
                validator_index: index,
                signature: a.signature,
            },
        );
        Ok(new)
    }

    /// E_A for a block on `parent` (GP eqs. 11.11–11.14): the pooled assurances anchored on
    /// `parent`, one per validator in index order, leaving out any with a bit for a core
    /// that has no pending report in `rho` (ρ after disputes).
    pub fn select(
        &self,
        parent: &HeaderHash,
        rho: &AvailabilityAssignments,
    ) -> Vec<AvailAssurance> {
        let Some(m) = self.by_anchor.get(parent) else {
            return Vec::new();
        };
        m.values()
            .filter(|a| {
                (0..a.bitfield.len() * 8)
                    .filter(|&c| a.bitfield.bit(c))
                    .all(|c| rho.get(c).is_some_and(|r| r.is_some()))
            })
            .cloned()
            .collect()
    }

    /// Assurances pooled for `anchor`.
    pub fn count(&self, anchor: &HeaderHash) -> usize {
        self.by_anchor.get(anchor).map_or(0, BTreeMap::len)
    }
}

/// The validator's availability side: the shard store and the assurance pool.
pub struct NodeAvailability {
    pub store: Availability,
    pub assurances: Mutex<AssurancePool>,
}

impl NodeAvailability {
    /// An empty store and pool for the chain `params`.
    pub fn new(params: &Params) -> Result<Self, AvailabilityError> {
        Ok(NodeAvailability {
            store: Availability::new(params.clone(), AvailabilityConfig::default())?,
            assurances: Mutex::default(),
        })
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, AssurancePool> {
        self.assurances.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// CE 141 (JAMNP-S § "CE 141"): pools an assurance from the validator with Ed25519 key
    /// `peer`, anchored on a block whose posterior `state` we have (κ of that state).
    pub fn on_assurance(
        &self,
        params: &Params,
        state: &jam_state::state::State,
        peer: &jam_state::types::Ed25519Public,
        a: Assurance,
    ) -> Result<bool, AssuranceError> {
        let kappa = &state.active_validators.0;
        let index = kappa
            .iter()
            .position(|v| v.ed25519 == *peer)
            .ok_or(AssuranceError::NotAValidator)? as ValidatorIndex;
        self.pool().insert(params, a, index, kappa)
    }

    /// Our assurance for a child of `parent` (posterior `state`), pooled, if we hold shards of
    /// any report pending in its ρ (GP §11.2.1); to be distributed over CE 141.
    pub fn own_assurance(
        &self,
        params: &Params,
        keys: &ValidatorSecrets,
        parent: &HeaderHash,
        state: &jam_state::state::State,
    ) -> Option<Assurance> {
        let kappa = &state.active_validators.0;
        let me = keys.ed25519_public();
        let index = kappa.iter().position(|v| v.ed25519 == me)? as ValidatorIndex;
        let bits = bitfield_for(params, &state.availability, |r| self.store.has(r));
        if bits.iter().all(|b| *b == 0) {
            return None;
        }
        let a = sign_assurance(keys, parent, bits);
        self.pool().insert(params, a.clone(), index, kappa).ok()?;
        Some(a)
    }

    /// E_A for a block on `parent` with parent posterior ρ `rho` ([`AssurancePool::select`]).
    pub fn select(
        &self,
        parent: &HeaderHash,
        rho: &AvailabilityAssignments,
    ) -> Vec<AvailAssurance> {
        self.pool().select(parent, rho)
    }
}

// ---- The running validator's hooks (chain task and network) ----

impl super::ChainTask {
    /// After a new best block `hash` (posterior `state`, its E_G `guarantees`): fetch our
    /// shards of newly reported work (CE 137, from its guarantors) and assure what we hold
    /// (CE 141 to every connected validator).
    pub(super) fn on_new_best(
        &self,
        hash: HeaderHash,
        state: std::sync::Arc<jam_state::state::State>,
        guarantees: &[jam_state::types::ReportGuarantee],
    ) {
        let sh = self.sh.clone();
        let keys = self.keys.clone();
        let kappa = &state.active_validators.0;
        let me = keys.ed25519_public();
        let Some(my_index) = kappa.iter().position(|v| v.ed25519 == me) else {
            return;
        };
        let v = sh.availability.store.validators();
        let recovery = sh.availability.store.ec.data_shards();
        // Requests: (spec, core, shard index, guarantor keys), for reports still pending.
        let wanted: Vec<_> = guarantees
            .iter()
            .filter(|g| {
                !sh.availability
                    .store
                    .has(&g.report.package_spec.erasure_root)
            })
            .map(|g| {
                let core = g.report.core_index;
                let i = jam_network::work_messages::assigned_shard(
                    core,
                    my_index as ValidatorIndex,
                    recovery,
                    v,
                );
                let from: Vec<_> = g
                    .signatures
                    .iter()
                    .filter_map(|s| kappa.get(s.validator_index as usize).map(|k| k.ed25519))
                    .collect();
                (g.report.package_spec, core, i, from)
            })
            .collect();
        tokio::spawn(async move {
            for (spec, core, i, from) in wanted {
                for key in from {
                    let conn = super::lock(&sh.peers).get(&key).map(|p| p.conn.clone());
                    let Some(conn) = conn else { continue };
                    let req = ShardRequest {
                        erasure_root: spec.erasure_root,
                        shard_index: i,
                    };
                    let got = request_shard(&conn, &req).await.and_then(|d| {
                        sh.availability
                            .store
                            .receive(&spec, core, state.timeslot, i, d)
                    });
                    match got {
                        Ok(()) => break,
                        Err(e) => sh.log(format_args!(
                            "shard {i} of {} from {} (CE 137): {e}",
                            super::short(&spec.erasure_root),
                            super::short_key(&key)
                        )),
                    }
                }
            }
            sh.availability.store.prune(state.timeslot);
            let Some(a) = sh
                .availability
                .own_assurance(&sh.params, &keys, &hash, &state)
            else {
                return;
            };
            let conns: Vec<_> = super::lock(&sh.peers)
                .iter()
                .filter(|(k, _)| state.active_validators.0.iter().any(|v| v.ed25519 == **k))
                .map(|(_, p)| p.conn.clone())
                .collect();
            for c in conns {
                let a = a.clone();
                tokio::spawn(async move {
                    let _ = c.distribute_assurance(&a).await;
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_consensus::refine::availability::availability_spec;
    use jam_state::types::{AvailabilityAssignment, WorkReport};

    fn params() -> Params {
        Params::tiny()
    }

    fn segments(p: &Params, n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let mut s = vec![0u8; p.segment_size()];
                s[0] = i as u8;
                s[17] = 0xA5 ^ i as u8;
                // Differ in every shard, so that swapped segment indices change the root.
                let last = s.len() - 1;
                s[last] = 0x5A ^ i as u8;
                s
            })
            .collect()
    }

    /// A ComputedReport for `bundle`/`exports` on `core`, via consensus::refine's spec.
    fn computed(
        p: &Params,
        bundle: Vec<u8>,
        exports: Vec<Vec<u8>>,
        core: CoreIndex,
    ) -> ComputedReport {
        let (spec, chunks) =
            availability_spec(p, OpaqueHash([core as u8 + 1; 32]), &bundle, &exports).unwrap();
        let report = WorkReport {
            package_spec: spec,
            core_index: core,
            ..Default::default()
        };
        ComputedReport {
            report,
            exports,
            bundle,
            chunks,
        }
    }

    fn store(p: &Params) -> Availability {
        Availability::new(p.clone(), AvailabilityConfig::default()).unwrap()
    }

    #[test]
    fn hold_serves_verifiable_shards() {
        let p = params();
        let c = computed(
            &p,
            (0..1000u32).map(|i| i as u8).collect(),
            segments(&p, 3),
            0,
        );
        let g = store(&p);
        let root = g.hold(&c, 1).unwrap();
        let spec = &c.report.package_spec;
        assert_eq!(root, spec.erasure_root);
        let v = g.validators();
        for i in 0..v as u16 {
            let req = ShardRequest {
                erasure_root: root,
                shard_index: i,
            };
            let d = g.shard(&req).unwrap();
            assert_eq!(d.segment_shards.len(), segment_count(spec));
            verify_shard(&root, v, i, &d).unwrap();
            // A different index, or a tampered shard, does not verify.
            assert!(verify_shard(&root, v, (i + 1) % v as u16, &d).is_err());
            let mut bad = d.clone();
            bad.bundle_shard[0] ^= 1;
            assert!(matches!(
                verify_shard(&root, v, i, &bad),
                Err(AvailabilityError::BadJustification)
            ));
            let mut bad = d.clone();
            bad.segment_shards[1][0] ^= 1;
            assert!(verify_shard(&root, v, i, &bad).is_err());
            // CE 138 and CE 140 justifications verify too.
            verify_audit_shard(&root, v, i, &g.audit_shard(&req).unwrap()).unwrap();
            let n = segment_count(spec);
            let reqs = [SegmentShardRequest {
                erasure_root: root,
                shard_index: i,
                segment_indices: (0..n as u16).collect(),
            }];
            let (shards, justs) = g.segment_shards(&reqs, true).unwrap();
            assert_eq!(shards, d.segment_shards);
            for (j, (s, just)) in shards.iter().zip(&justs).enumerate() {
                verify_segment_shard(&root, v, i, n, j as u16, s, just).unwrap();
                assert!(
                    verify_segment_shard(&root, v, i, n, (j as u16 + 1) % n as u16, s, just)
                        .is_err()
                );
            }
            let (plain, none) = g.segment_shards(&reqs, false).unwrap();
            assert_eq!((plain, none.len()), (shards, 0));
        }
        // Justifications survive the wire codec.
        let d = g
            .shard(&ShardRequest {
                erasure_root: root,
                shard_index: 2,
            })
            .unwrap();
        let bytes = jam_state::codec::Encode::encode(&Concat(d.justification.clone()));
        let back: Justification = jam_state::codec::decode_exact(&bytes, &p).unwrap();
        assert_eq!(back.0, d.justification);
    }

    #[test]
    fn malformed_requests_are_errors() {
        let p = params();
        let c = computed(&p, vec![7; 300], segments(&p, 1), 1);
        let g = store(&p);
        let root = g.hold(&c, 1).unwrap();
        let v = g.validators() as u16;
        assert!(matches!(
            g.shard(&ShardRequest {
                erasure_root: OpaqueHash([1; 32]),
                shard_index: 0
            }),
            Err(AvailabilityError::UnknownErasureRoot(_))
        ));
        assert!(matches!(
            g.shard(&ShardRequest {
                erasure_root: root,
                shard_index: v
            }),
            Err(AvailabilityError::ShardIndexOutOfRange { .. })
        ));
        let reqs = [SegmentShardRequest {
            erasure_root: root,
            shard_index: 0,
            segment_indices: vec![2],
        }];
        assert!(matches!(
            g.segment_shards(&reqs, true),
            Err(AvailabilityError::SegmentIndexOutOfRange { index: 2, count: 2 })
        ));
        let many = [SegmentShardRequest {
            erasure_root: root,
            shard_index: 0,
            segment_indices: vec![0; 2 * MAX_IMPORTS + 1],
        }];
        assert!(matches!(
            g.segment_shards(&many, false),
            Err(AvailabilityError::TooManySegments(_))
        ));
        // Chunks that do not match the spec are refused.
        let mut bad = c.clone();
        bad.chunks.bundle[0][0] ^= 1;
        assert!(matches!(
            g.hold(&bad, 1),
            Err(AvailabilityError::ErasureRootMismatch)
        ));
    }

    #[test]
    fn assurers_receive_and_bundle_reconstructs_from_a_subset() {
        let p = params();
        let bundle: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
        let c = computed(&p, bundle.clone(), segments(&p, 2), 0);
        let spec = c.report.package_spec;
        let guarantor = store(&p);
        let root = guarantor.hold(&c, 10).unwrap();
        let v = guarantor.validators();
        // Every validator fetches and stores its own shard (CE 137).
        let assurers: Vec<Availability> = (0..v as u16)
            .map(|i| {
                let a = store(&p);
                let d = guarantor
                    .shard(&ShardRequest {
                        erasure_root: root,
                        shard_index: i,
                    })
                    .unwrap();
                // Another validator's shard is refused.
                assert!(a
                    .receive(&spec, 0, 10, (i + 1) % v as u16, d.clone())
                    .is_err());
                a.receive(&spec, 0, 10, i, d).unwrap();
                assert!(a.has(&root));
                a
            })
            .collect();
        drop(guarantor);
        // An assurer serves only its own shard.
        assert!(matches!(
            assurers[0].audit_shard(&ShardRequest {
                erasure_root: root,
                shard_index: 1
            }),
            Err(AvailabilityError::ShardNotHeld(1))
        ));
        // Drop all but R validators (the last ones: no systematic shortcut), fetch CE 138.
        let r = ErasureParams::from_chain(&p).unwrap().data_shards();
        let kept: Vec<(ShardIndex, AuditShard)> = (v - r..v)
            .map(|i| {
                let req = ShardRequest {
                    erasure_root: root,
                    shard_index: i as u16,
                };
                (i as u16, assurers[i].audit_shard(&req).unwrap())
            })
            .collect();
        assert_eq!(reconstruct_bundle(&p, &spec, kept.clone()).unwrap(), bundle);
        // One shard fewer is not enough; a forged shard is skipped, not used.
        assert!(reconstruct_bundle(&p, &spec, kept[1..].to_vec()).is_err());
        let mut forged = kept.clone();
        forged[0].1.bundle_shard[0] ^= 1;
        assert!(reconstruct_bundle(&p, &spec, forged).is_err());
        // Segments reconstruct from the assurers' segment shards (CE 139) too.
        let seg = erasure::reconstruct(
            &ErasureParams::from_chain(&p).unwrap(),
            (0..r).map(|i| {
                let reqs = [SegmentShardRequest {
                    erasure_root: root,
                    shard_index: i as u16,
                    segment_indices: vec![1],
                }];
                (
                    i,
                    assurers[i]
                        .segment_shards(&reqs, false)
                        .unwrap()
                        .0
                        .remove(0),
                )
            }),
            p.segment_size(),
        )
        .unwrap();
        assert_eq!(seg, c.exports[1]);
    }

    #[test]
    fn store_is_bounded() {
        let p = params();
        let g = Availability::new(
            p.clone(),
            AvailabilityConfig {
                max_reports: 2,
                retention: 5,
            },
        )
        .unwrap();
        let roots: Vec<ErasureRoot> = (0..3u8)
            .map(|k| {
                g.hold(&computed(&p, vec![k; 64], vec![], 0), k as u32)
                    .unwrap()
            })
            .collect();
        assert!(!g.has(&roots[0]) && g.has(&roots[1]) && g.has(&roots[2]));
        g.prune(7);
        assert!(!g.has(&roots[1]) && g.has(&roots[2]));
        g.prune(8);
        assert!(g.held().is_empty());
    }

    fn rho_with(p: &Params, reports: &[(usize, &ComputedReport)]) -> AvailabilityAssignments {
        let mut rho = AvailabilityAssignments::filled(p, None);
        for (c, r) in reports {
            rho.0[*c] = Some(AvailabilityAssignment {
                report: r.report.clone(),
                timeout: 1,
            });
        }
        rho
    }

    #[test]
    fn assurances_sign_pool_and_select() {
        let p = params();
        let keys: Vec<ValidatorSecrets> = (0..p.validators() as u32)
            .map(ValidatorSecrets::dev)
            .collect();
        let kappa: Vec<ValidatorData> = keys.iter().map(|k| k.validator_data()).collect();
        let c0 = computed(&p, vec![1; 100], vec![], 0);
        let c1 = computed(&p, vec![2; 100], vec![], 1);
        let rho = rho_with(&p, &[(0, &c0), (1, &c1)]);
        let held = store(&p);
        held.hold(&c1, 1).unwrap();
        let bits = bitfield_for(&p, &rho, |r| held.has(r));
        assert!(!bits.bit(0) && bits.bit(1));
        let parent = OpaqueHash([3; 32]);
        let mut pool = AssurancePool::default();
        // Insert out of order; validator 2 twice.
        for i in [3u16, 0, 2, 2] {
            let a = sign_assurance(&keys[i as usize], &parent, bits.clone());
            pool.insert(&p, a, i, &kappa).unwrap();
        }
        // A signature by another validator, or for another index, is refused.
        let a = sign_assurance(&keys[0], &parent, bits.clone());
        assert_eq!(
            pool.insert(&p, a.clone(), 1, &kappa),
            Err(AssuranceError::BadSignature)
        );
        assert_eq!(
            pool.insert(&p, a, 99, &kappa),
            Err(AssuranceError::BadValidatorIndex(99))
        );
        // Another anchor is kept apart.
        let other = sign_assurance(&keys[1], &OpaqueHash([4; 32]), bits.clone());
        assert!(pool.insert(&p, other, 1, &kappa).unwrap());
        let sel = pool.select(&parent, &rho);
        let idx: Vec<u16> = sel.iter().map(|a| a.validator_index).collect();
        assert_eq!(idx, vec![0, 2, 3]);
        // The selection passes the assurances STF; with ρ lacking core 1 it is filtered out.
        let post =
            jam_consensus::assurances::transition(&p, &rho, &kappa, &sel, 2, &parent).unwrap();
        assert!(post.available.is_empty()); // 3 of 6 < 2/3 supermajority
        let rho0 = rho_with(&p, &[(0, &c0)]);
        assert!(pool.select(&parent, &rho0).is_empty());
        // With a supermajority the report on core 1 becomes available.
        for i in [1u16, 4] {
            let a = sign_assurance(&keys[i as usize], &parent, bits.clone());
            pool.insert(&p, a, i, &kappa).unwrap();
        }
        let sel = pool.select(&parent, &rho);
        let post =
            jam_consensus::assurances::transition(&p, &rho, &kappa, &sel, 2, &parent).unwrap();
        assert_eq!(post.available, vec![c1.report.clone()]);
    }

    /// Serves the store on every CE 137–140 stream.
    struct Serve(std::sync::Arc<Availability>);

    impl jam_network::Handler for Serve {
        fn handshake(&self) -> jam_network::messages::Handshake {
            Default::default()
        }
        async fn on_other_stream(&self, _: &Connection, s: Stream) {
            let _ = self.0.serve(s).await;
        }
    }

    fn endpoint(k: u8) -> jam_network::Endpoint {
        let key = ed25519_dalek::SigningKey::from_bytes(&[k; 32]);
        let lo = "127.0.0.1:0".parse().unwrap();
        jam_network::Endpoint::bind(lo, key, HeaderHash::ZERO, jam_network::Role::Node, params())
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shards_over_loopback_and_bad_requests_reset() {
        let p = params();
        let c = computed(&p, vec![9; 2000], segments(&p, 2), 1);
        let spec = c.report.package_spec;
        let guarantor = std::sync::Arc::new(store(&p));
        let root = guarantor.hold(&c, 1).unwrap();
        let (g, a) = (endpoint(1), endpoint(2));
        let (ca, cg) = tokio::join!(
            g.accept(),
            a.connect(g.local_addr().unwrap(), g.public_key())
        );
        let (ca, cg) = (ca.unwrap().unwrap(), cg.unwrap());
        let _serve = ca.serve(std::sync::Arc::new(Serve(guarantor.clone())));
        let assurer = store(&p);
        let req = ShardRequest {
            erasure_root: root,
            shard_index: 4,
        };
        // CE 137: fetched, verified and stored.
        let d = request_shard(&cg, &req).await.unwrap();
        assert_eq!(d, guarantor.shard(&req).unwrap());
        assurer.receive(&spec, 1, 1, 4, d).unwrap();
        // CE 138 from the guarantor verifies.
        let au = request_audit_shard(&cg, &req).await.unwrap();
        verify_audit_shard(&root, assurer.validators(), 4, &au).unwrap();
        // Unknown root and out-of-range index: the stream is reset.
        for bad in [
            ShardRequest {
                erasure_root: OpaqueHash([5; 32]),
                shard_index: 0,
            },
            ShardRequest {
                erasure_root: root,
                shard_index: 999,
            },
        ] {
            assert!(matches!(
                request_shard(&cg, &bad).await,
                Err(AvailabilityError::Stream(StreamError::Reset(_)))
            ));
        }
        // A malformed request (short message) is reset too.
        let mut s = cg
            .open_stream(StreamKind::SHARD_DISTRIBUTION)
            .await
            .unwrap();
        s.send_raw(&[1, 2, 3]).await.unwrap();
        s.finish().unwrap();
        assert!(s.recv_raw().await.is_err());
        // The connection still serves.
        assert!(request_shard(&cg, &req).await.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn segments_fetch_over_ce139_and_reconstruct() {
        let p = params();
        let exports = segments(&p, 3);
        let c = computed(&p, vec![3; 700], exports.clone(), 0);
        let guarantor = std::sync::Arc::new(store(&p));
        let root = guarantor.hold(&c, 1).unwrap();
        let (g, a) = (endpoint(3), endpoint(4));
        let (ca, cg) = tokio::join!(
            g.accept(),
            a.connect(g.local_addr().unwrap(), g.public_key())
        );
        let (ca, cg) = (ca.unwrap().unwrap(), cg.unwrap());
        let _serve = ca.serve(std::sync::Arc::new(Serve(guarantor.clone())));
        let r = ErasureParams::from_chain(&p).unwrap().data_shards();
        let v = guarantor.validators();
        // Any R shard indices rebuild every exported segment.
        let mut got = Vec::new();
        for i in (0..v as u16).rev().take(r) {
            let req = SegmentShardRequest {
                erasure_root: root,
                shard_index: i,
                segment_indices: vec![0, 1, 2],
            };
            let s = request_segment_shards(&cg, std::slice::from_ref(&req))
                .await
                .unwrap();
            assert_eq!(s, guarantor.segment_shards(&[req], false).unwrap().0);
            got.push((i, s));
        }
        let segs = reconstruct_segments(&p, &got, 3).unwrap();
        assert_eq!(segs, exports);
        assert_eq!(
            jam_consensus::refine::segments_root(&segs),
            c.report.package_spec.exports_root
        );
        // Too few shards fail; an unknown root resets the stream.
        assert!(reconstruct_segments(&p, &got[1..], 3).is_err());
        let bad = SegmentShardRequest {
            erasure_root: OpaqueHash([5; 32]),
            shard_index: 0,
            segment_indices: vec![0],
        };
        assert!(request_segment_shards(&cg, &[bad]).await.is_err());
    }
}
