//! Imported segments for a guarantor (GP v0.7.2 §14.3 ⊞, §14.4 eqs. 14.12–14.15; JAMNP-S
//! CE 134 segments-root mappings, CE 139).
//!
//! An import spec names its segments either by segments root or by the hash `h⊞` of the work
//! package that exported them. [`resolve`] turns a package's import specs into the data
//! Ξ reads ([`ImportData`]):
//!
//! - **Segments root of `h⊞`** (the lookup `L`): from the recent history β (each recent
//!   block lists its reported packages with their exports roots; only these make a report
//!   valid on chain), else from the reports this node saw in E_G ([`Segments::note_report`]),
//!   else — for a co-guarantor only — from the CE 134 mappings the guarantor sent.
//! - **Segments**: (a) the co-guarantor's bundle, which carries every imported segment with
//!   its justification (Ξ checks each against its root); (b) the plain exports this node
//!   keeps of packages it refined or fetched before ([`Segments::keep`], bounded); (c) else
//!   the exporting package's segment shards are fetched from the validators holding them
//!   (CE 139: the validator with index `v` holds shard `(c·R + v) mod V`; our own store is
//!   asked first) and each exported segment is rebuilt from `R` shards. The rebuilt
//!   sequence must hash to the exports root (`M(ē)`, GP eq. 14.17) before it is used, so
//!   forged shards are detected; justifications are then computed from the whole sequence.
//!   The whole export sequence is fetched (not the paged proofs), which is cheap for the
//!   small export counts of the testnet.

use super::availability::{reconstruct_segments, request_segment_shards};
use super::{lock, Shared};
use jam_consensus::refine::{
    justification, segments_root, ImportRef, ImportedSegment, InMemoryPackageData, PackageData,
};
use jam_network::work_messages::{assigned_shard, SegmentShardRequest, SegmentsRootMapping};
use jam_state::erasure::ErasureParams;
use jam_state::state::State;
use jam_state::types::{
    CoreIndex, OpaqueHash, ValidatorIndex, WorkPackage, WorkPackageHash, WorkPackageSpec,
    WorkReport,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Export sequences kept by segments root.
pub const MAX_EXPORTS_KEPT: usize = 256;
/// Segments kept in all (4096 × W_G = 16 MiB); the oldest sequences go first.
pub const MAX_SEGMENTS_KEPT: usize = 4096;
/// Reports remembered (package hash → availability spec and core).
pub const MAX_REPORTS_KEPT: usize = 4096;
/// How long one CE 139 request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A report seen in E_G (or computed here): where its exports live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reported {
    pub core: CoreIndex,
    pub spec: WorkPackageSpec,
}

#[derive(Default)]
struct Inner {
    exports: HashMap<OpaqueHash, Vec<Vec<u8>>>,
    export_order: VecDeque<OpaqueHash>,
    /// Segments in `exports`.
    kept: usize,
    reports: HashMap<WorkPackageHash, Reported>,
    by_root: HashMap<OpaqueHash, WorkPackageHash>,
    report_order: VecDeque<WorkPackageHash>,
}

/// Bounded memory of export sequences and reported packages.
#[derive(Default)]
pub struct Segments {
    inner: Mutex<Inner>,
}

impl Segments {
    /// Keeps the export sequence `ē` of a package under its segments root (nothing if empty).
    pub fn keep(&self, root: OpaqueHash, segments: Vec<Vec<u8>>) {
        if segments.is_empty() {
            return;
        }
        if segments.len() > MAX_SEGMENTS_KEPT {
            return;
        }
        let mut g = lock(&self.inner);
        let n = segments.len();
        match g.exports.insert(root, segments) {
            None => g.export_order.push_back(root),
            Some(old) => g.kept -= old.len(),
        }
        g.kept += n;
        while g.export_order.len() > MAX_EXPORTS_KEPT || g.kept > MAX_SEGMENTS_KEPT {
            let Some(old) = g.export_order.pop_front() else {
                break;
            };
            if let Some(s) = g.exports.remove(&old) {
                g.kept -= s.len();
            }
        }
    }

    /// The kept export sequence under `root`.
    pub fn exports(&self, root: &OpaqueHash) -> Option<Vec<Vec<u8>>> {
        lock(&self.inner).exports.get(root).cloned()
    }

    /// Remembers a report's availability spec and core.
    pub fn note_report(&self, r: &WorkReport) {
        let spec = r.package_spec;
        let mut g = lock(&self.inner);
        let rec = Reported {
            core: r.core_index,
            spec,
        };
        if g.reports.insert(spec.hash, rec).is_none() {
            g.report_order.push_back(spec.hash);
        }
        g.by_root.insert(spec.exports_root, spec.hash);
        while g.report_order.len() > MAX_REPORTS_KEPT {
            if let Some(old) = g.report_order.pop_front() {
                if let Some(r) = g.reports.remove(&old) {
                    if g.by_root.get(&r.spec.exports_root) == Some(&old) {
                        g.by_root.remove(&r.spec.exports_root);
                    }
                }
            }
        }
    }

    /// The report of package `h`, if seen.
    pub fn reported(&self, h: &WorkPackageHash) -> Option<Reported> {
        lock(&self.inner).reports.get(h).copied()
    }

    /// The report whose exports root is `root`, if seen.
    pub fn reported_by_root(&self, root: &OpaqueHash) -> Option<Reported> {
        let g = lock(&self.inner);
        g.by_root.get(root).and_then(|h| g.reports.get(h)).copied()
    }
}

/// The exports root of package `h` in the recent history β.
pub fn root_in_history(state: &State, h: &WorkPackageHash) -> Option<OpaqueHash> {
    state
        .recent_blocks
        .history
        .iter()
        .rev()
        .flat_map(|b| b.reported.iter())
        .find(|r| r.hash == *h)
        .map(|r| r.exports_root)
}

/// What Ξ reads for a package: extrinsics, the ⊞ lookup and the imported segments.
#[derive(Default)]
pub struct ImportData {
    extrinsics: InMemoryPackageData,
    roots: BTreeMap<WorkPackageHash, OpaqueHash>,
    segments: HashMap<(OpaqueHash, u16), ImportedSegment>,
    /// Export sequences fetched over CE 139 (for the log).
    pub fetched: usize,
}

impl ImportData {
    /// The data of a package without imports.
    pub fn with_extrinsics(extrinsics: Vec<Vec<u8>>) -> Self {
        let mut d = ImportData::default();
        for x in extrinsics {
            d.extrinsics.add_extrinsic(x);
        }
        d
    }

    /// The CE 134 mappings for the ⊞ lookups resolved.
    pub fn mappings(&self) -> Vec<SegmentsRootMapping> {
        self.roots
            .iter()
            .map(|(h, r)| SegmentsRootMapping {
                work_package_hash: *h,
                segments_root: *r,
            })
            .collect()
    }
}

impl PackageData for ImportData {
    fn extrinsic(&self, hash: &OpaqueHash) -> Option<Vec<u8>> {
        self.extrinsics.extrinsic(hash)
    }
    fn segment_root(&self, package: &WorkPackageHash) -> Option<OpaqueHash> {
        self.roots.get(package).copied()
    }
    fn import(&self, root: &OpaqueHash, index: u16) -> Option<ImportedSegment> {
        self.segments.get(&(*root, index)).cloned()
    }
}

/// The import refs of every item, in item and import order.
fn refs(package: &WorkPackage) -> Vec<ImportRef> {
    package
        .items
        .iter()
        .flat_map(|w| w.import_segments.iter().map(ImportRef::from_spec))
        .collect()
}

/// Resolves `package`'s imports (see the module docs). `given` are CE 134 mappings (used only
/// for package hashes not resolvable here); `bundled` the segments of a shared bundle, in
/// import order.
pub(super) async fn resolve(
    sh: &Arc<Shared>,
    state: &State,
    package: &WorkPackage,
    extrinsics: Vec<Vec<u8>>,
    given: &[SegmentsRootMapping],
    bundled: Option<Vec<ImportedSegment>>,
) -> Result<ImportData, String> {
    let mut data = ImportData::with_extrinsics(extrinsics);
    let refs = refs(package);
    if refs.is_empty() {
        return Ok(data);
    }
    for r in &refs {
        if let ImportRef::Package(h, _) = r {
            if data.roots.contains_key(h) {
                continue;
            }
            let root = root_in_history(state, h)
                .or_else(|| sh.segments.reported(h).map(|r| r.spec.exports_root))
                .or_else(|| {
                    given
                        .iter()
                        .find(|m| m.work_package_hash == *h)
                        .map(|m| m.segments_root)
                })
                .ok_or_else(|| format!("no segments root known for work package {h}"))?;
            data.roots.insert(*h, root);
        }
    }
    let at = |r: &ImportRef| match r {
        ImportRef::Root(root, n) => (*root, *n),
        ImportRef::Package(h, n) => (data.roots[h], *n),
    };
    let wanted: Vec<(OpaqueHash, u16)> = refs.iter().map(at).collect();
    if let Some(b) = bundled {
        if b.len() != wanted.len() {
            return Err(format!(
                "bundle has {} imported segments, the package {}",
                b.len(),
                wanted.len()
            ));
        }
        data.segments = wanted.into_iter().zip(b).collect();
        return Ok(data);
    }
    let mut roots: Vec<OpaqueHash> = wanted.iter().map(|(r, _)| *r).collect();
    roots.sort();
    roots.dedup();
    for root in roots {
        let segs = match sh.segments.exports(&root) {
            Some(s) => s,
            None => {
                let rep = sh
                    .segments
                    .reported_by_root(&root)
                    .ok_or_else(|| format!("no report known exporting segments root {root}"))?;
                let s = fetch_exports(sh, state, rep).await?;
                data.fetched += 1;
                sh.segments.keep(root, s.clone());
                s
            }
        };
        for &(r, n) in wanted.iter().filter(|(r, _)| *r == root) {
            let segment = segs
                .get(n as usize)
                .ok_or_else(|| format!("segment {n} of {root}: only {} exported", segs.len()))?;
            data.segments.insert(
                (r, n),
                ImportedSegment {
                    segment: segment.clone(),
                    justification: justification(&segs, n as usize),
                },
            );
        }
    }
    Ok(data)
}

/// Fetches and rebuilds the whole export sequence of `rep` from segment shards (CE 139; our
/// own store first), checked against its exports root.
async fn fetch_exports(
    sh: &Arc<Shared>,
    state: &State,
    rep: Reported,
) -> Result<Vec<Vec<u8>>, String> {
    let e = rep.spec.exports_count as usize;
    let ec = ErasureParams::from_chain(&sh.params).map_err(|e| e.to_string())?;
    let (v, r) = (ec.total_shards(), ec.data_shards());
    let req = |i: u16| SegmentShardRequest {
        erasure_root: rep.spec.erasure_root,
        shard_index: i,
        segment_indices: (0..e as u16).collect(),
    };
    let mut got: Vec<(u16, Vec<Vec<u8>>)> = Vec::new();
    for i in 0..v as u16 {
        if got.len() >= r {
            break;
        }
        if let Ok((s, _)) = sh.availability.store.segment_shards(&[req(i)], false) {
            got.push((i, s));
        }
    }
    let local = got.len();
    if got.len() < r {
        let mut asks = tokio::task::JoinSet::new();
        for (vi, val) in state.active_validators.0.iter().enumerate() {
            let i = assigned_shard(rep.core, vi as ValidatorIndex, r, v);
            if got.iter().any(|(j, _)| *j == i) || val.ed25519 == sh.me {
                continue;
            }
            let conn = lock(&sh.peers).get(&val.ed25519).map(|p| p.conn.clone());
            let Some(conn) = conn else { continue };
            let q = [req(i)];
            asks.spawn(async move {
                let res = tokio::time::timeout(FETCH_TIMEOUT, request_segment_shards(&conn, &q))
                    .await
                    .map_err(|_| "timed out".to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                (i, res)
            });
        }
        while let Some(Ok((i, res))) = asks.join_next().await {
            match res {
                Ok(s) if !got.iter().any(|(j, _)| *j == i) => got.push((i, s)),
                Ok(_) => {}
                Err(e) => sh.log(format_args!("segment shard {i} (CE 139): {e}")),
            }
            if got.len() >= r {
                asks.abort_all();
                break;
            }
        }
    }
    if got.len() < r {
        return Err(format!(
            "only {} of {r} segment shards of {} available",
            got.len(),
            super::short(&rep.spec.erasure_root)
        ));
    }
    let net = got.len() - local;
    got.truncate(r);
    let segs = reconstruct_segments(&sh.params, &got, e).map_err(|e| e.to_string())?;
    if segments_root(&segs) != rep.spec.exports_root {
        return Err(format!(
            "rebuilt segments of {} do not match their exports root",
            super::short(&rep.spec.hash)
        ));
    }
    sh.log(format_args!(
        "fetched {e} exported segment(s) of package {} ({local} shard(s) local, {net} over CE 139)",
        super::short(&rep.spec.hash)
    ));
    Ok(segs)
}

/// Splits the imports section of an audit bundle `E(p, X#, S#, J#)` (GP eq. 14.16) after
/// the package and extrinsics: `count` segments of `segment_size` octets, then one
/// length-prefixed justification per segment.
pub fn split_bundle_imports(
    params: &jam_state::params::Params,
    data: &[u8],
    count: usize,
) -> Result<Vec<ImportedSegment>, String> {
    let size = params.segment_size();
    let seg_bytes = count
        .checked_mul(size)
        .filter(|n| *n <= data.len())
        .ok_or("bundle too short for its imported segments")?;
    let mut r = jam_state::codec::Reader::new(&data[seg_bytes..], params);
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let n = jam_state::codec::decode_natural(&mut r).map_err(|e| e.to_string())? as usize;
        let raw = r
            .take(n.checked_mul(32).ok_or("justification too long")?)
            .map_err(|e| e.to_string())?;
        let justification = raw
            .chunks(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                OpaqueHash(h)
            })
            .collect();
        out.push(ImportedSegment {
            segment: data[k * size..(k + 1) * size].to_vec(),
            justification,
        });
    }
    if r.remaining() != 0 {
        return Err("trailing data after the bundle's justifications".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_consensus::genesis::{demo_work_package, install_dev_services};
    use jam_consensus::refine::{compute_work_report, InMemoryPackageData, RefineConfig};
    use jam_state::codec::decode_prefix;
    use jam_state::params::Params;
    use jam_state::types::{ImportSpec, RefineContext};

    #[test]
    fn bundle_imports_split_back_and_refine_identically() {
        let params = Params::tiny();
        let mut state = State::empty(&params);
        install_dev_services(&mut state);
        let cfg = RefineConfig::default();
        let mut data = InMemoryPackageData::default();
        let mut e = demo_work_package(RefineContext::default(), b"Ehello");
        e.items[0].export_count = 1;
        let out = compute_work_report(&params, &cfg, &state, &data, &e, 0).unwrap();
        let root = data.add_exports(out.report.package_spec.hash, out.exports.clone());
        let mut i = demo_work_package(RefineContext::default(), b"I\x05");
        i.items[0].import_segments = vec![
            ImportSpec {
                tree_root: out.report.package_spec.hash,
                index: 1 << 15,
            },
            ImportSpec {
                tree_root: root,
                index: 0,
            },
        ];
        let r = compute_work_report(&params, &cfg, &state, &data, &i, 0).unwrap();
        // The co-guarantor's view: the bundle's imports plus the ⊞ roots.
        let (p, n): (WorkPackage, usize) = decode_prefix(&r.bundle, &params).unwrap();
        assert_eq!(p, i);
        let segs = split_bundle_imports(&params, &r.bundle[n..], 2).unwrap();
        assert_eq!(segs.len(), 2);
        assert!(segs.iter().all(|s| s.segment == out.exports[0]));
        let mut d = ImportData::default();
        d.roots.insert(out.report.package_spec.hash, root);
        d.segments = [(root, 0)].into_iter().zip(segs.clone()).collect();
        assert_eq!(
            d.mappings(),
            vec![SegmentsRootMapping {
                work_package_hash: out.report.package_spec.hash,
                segments_root: root,
            }]
        );
        let again = compute_work_report(&params, &cfg, &state, &d, &i, 0).unwrap();
        assert_eq!(again, r);
        // Truncated or padded bundles are refused.
        assert!(split_bundle_imports(&params, &r.bundle[n..r.bundle.len() - 1], 2).is_err());
        let mut long = r.bundle[n..].to_vec();
        long.push(0);
        assert!(split_bundle_imports(&params, &long, 2).is_err());
        assert!(split_bundle_imports(&params, &r.bundle[n..], 3).is_err());
    }

    #[test]
    fn store_is_bounded_and_finds_reports_by_root() {
        let s = Segments::default();
        let key = |k: usize| {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(k as u64).to_le_bytes());
            OpaqueHash(h)
        };
        let last = MAX_EXPORTS_KEPT + 2;
        for k in 0..=last {
            s.keep(key(k), vec![vec![k as u8]]);
        }
        assert!(s.exports(&key(0)).is_none());
        assert!(s.exports(&key(2)).is_none());
        assert!(s.exports(&key(3)).is_some());
        assert_eq!(s.exports(&key(last)), Some(vec![vec![last as u8]]));
        // The total is bounded too: a big sequence pushes the oldest out.
        s.keep(key(1000), vec![vec![0]; MAX_SEGMENTS_KEPT - 10]);
        assert!(s.exports(&key(3)).is_none());
        assert!(s.exports(&key(last)).is_some());
        assert!(s.exports(&key(1000)).is_some());
        s.keep(key(1001), vec![vec![0]; MAX_SEGMENTS_KEPT + 1]);
        assert!(s.exports(&key(1001)).is_none());
        s.keep(OpaqueHash([9; 32]), vec![]);
        let mut r = WorkReport::default();
        r.package_spec.hash = OpaqueHash([1; 32]);
        r.package_spec.exports_root = OpaqueHash([2; 32]);
        r.core_index = 1;
        s.note_report(&r);
        assert_eq!(s.reported(&OpaqueHash([1; 32])).unwrap().core, 1);
        assert_eq!(
            s.reported_by_root(&OpaqueHash([2; 32])).unwrap().spec.hash,
            OpaqueHash([1; 32])
        );
        assert!(s.reported(&OpaqueHash([3; 32])).is_none());
    }
}
