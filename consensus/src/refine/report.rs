//! Computation of the work report Ξ(p, c) (GP v0.7.2 §14.4, eqs. 14.11–14.16): authorization,
//! segment-root lookup `L`, import data `S` / justifications `J` / extrinsics `X`, the item
//! counter `I` with its output-size and export-count checks, and the availability spec.

use super::availability::{availability_spec_split, justification, verify_justification, Chunks};
use super::invocation::{refine, RefineArgs, Refinement};
use super::is_authorized::{authorizer_hash, is_authorized};
use super::lookup::ServiceView;
use super::package::{check_package, ImportRef, PackageError};
use super::{exec_result, RefineConfig, WorkError};
use crate::general::EncodedPackage;
use jam_state::codec::encode_natural;
use jam_state::erasure::ErasureError;
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::types::{
    Bytes, CoreIndex, OpaqueHash, RefineLoad, SegmentRootLookupItem, WorkPackage, WorkPackageHash,
    WorkReport, WorkResult,
};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use thiserror::Error;

/// At most this many segment-root lookups in a report (eq. 14.12 `|l| ≤ 8`).
pub const MAX_SEGMENT_ROOT_LOOKUPS: usize = 8;

/// Why Ξ yields no report for a package.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WorkReportError {
    /// The package breaks a §14.3 limit.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// Ψ_I did not yield an authorizer trace (`BAD`, `BIG`, out of gas or panic).
    #[error("package not authorized: {0}")]
    Unauthorized(WorkError),
    /// Eq. 14.11: `r ∉ B_{:W_R}`.
    #[error("authorizer trace of {len} octets exceeds W_R = {max}")]
    AuthTraceTooLarge { len: usize, max: usize },
    /// Eq. 14.12: `|l| ≤ 8`.
    #[error("{count} segment-root lookups, at most {MAX_SEGMENT_ROOT_LOOKUPS} allowed")]
    TooManySegmentRootLookups { count: usize },
    /// No segments root is known for an imported work-package hash `h⊞`.
    #[error("no segments root known for work package {0}")]
    UnknownSegmentRoot(WorkPackageHash),
    /// An imported segment could not be fetched.
    #[error("import segment {index} of segments root {root} unavailable")]
    MissingImport { root: OpaqueHash, index: u16 },
    /// A fetched segment is not `W_G` octets or its justification does not prove it.
    #[error("import segment {index} of segments root {root} fails its justification")]
    BadImport { root: OpaqueHash, index: u16 },
    /// An extrinsic preimage is unknown or does not match its hash and length.
    #[error("extrinsic {hash} (length {len}) unavailable")]
    MissingExtrinsic { hash: OpaqueHash, len: u32 },
    /// Erasure coding failed (chain parameters unusable).
    #[error(transparent)]
    Erasure(#[from] ErasureError),
}

/// An imported segment with its justification `J_0` against its segments root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedSegment {
    pub segment: Vec<u8>,
    pub justification: Vec<OpaqueHash>,
}

/// What a guarantor fetches besides the state: extrinsic preimages and imported segments
/// (from the D³L) with their justifications, and the segment roots of earlier packages.
pub trait PackageData: Sync {
    /// The preimage of an extrinsic hash.
    fn extrinsic(&self, hash: &OpaqueHash) -> Option<Vec<u8>>;
    /// The segments root exported by the work package with this hash.
    fn segment_root(&self, package: &WorkPackageHash) -> Option<OpaqueHash>;
    /// Segment `index` of the exports under `root`, with its justification.
    fn import(&self, root: &OpaqueHash, index: u16) -> Option<ImportedSegment>;
}

/// A [`PackageData`] held in memory: extrinsics by hash, export sequences by root.
#[derive(Clone, Debug, Default)]
pub struct InMemoryPackageData {
    extrinsics: HashMap<OpaqueHash, Vec<u8>>,
    exports: HashMap<OpaqueHash, Vec<Vec<u8>>>,
    roots: HashMap<WorkPackageHash, OpaqueHash>,
}

impl InMemoryPackageData {
    /// Adds an extrinsic blob; returns its hash.
    pub fn add_extrinsic(&mut self, blob: Vec<u8>) -> OpaqueHash {
        let h = OpaqueHash(blake2b_256(&blob));
        self.extrinsics.insert(h, blob);
        h
    }
    /// Records the exports of a reported package; returns their segments root.
    pub fn add_exports(&mut self, package: WorkPackageHash, segments: Vec<Vec<u8>>) -> OpaqueHash {
        let root = super::availability::segments_root(&segments);
        self.exports.insert(root, segments);
        self.roots.insert(package, root);
        root
    }
}

impl PackageData for InMemoryPackageData {
    fn extrinsic(&self, hash: &OpaqueHash) -> Option<Vec<u8>> {
        self.extrinsics.get(hash).cloned()
    }
    fn segment_root(&self, package: &WorkPackageHash) -> Option<OpaqueHash> {
        self.roots.get(package).copied()
    }
    fn import(&self, root: &OpaqueHash, index: u16) -> Option<ImportedSegment> {
        let s = self.exports.get(root)?;
        let n = index as usize;
        Some(ImportedSegment {
            segment: s.get(n)?.clone(),
            justification: justification(s, n),
        })
    }
}

/// The result of Ξ: the report, the exported segments and what must be distributed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComputedReport {
    pub report: WorkReport,
    /// `ē`: every segment exported by the package, in item order.
    pub exports: Vec<Vec<u8>>,
    /// The audit bundle `E(p, X#, S#, J#)`.
    pub bundle: Vec<u8>,
    /// The erasure-coded chunks committed to by the erasure root.
    pub chunks: Chunks,
}

/// One package to refine, for [`refine_packages`].
#[derive(Clone, Copy, Debug)]
pub struct PackageJob<'a> {
    pub package: &'a WorkPackage,
    pub core: CoreIndex,
}

/// The segments, justifications and extrinsics a package's items read.
struct Gathered {
    lookup: Vec<SegmentRootLookupItem>,
    imports: Vec<Vec<Vec<u8>>>,
    justifications: Vec<Vec<Vec<OpaqueHash>>>,
    extrinsics: Vec<Vec<Vec<u8>>>,
}

/// `L`, `S`, `J` and `X` of eqs. 14.12–14.15 for every item.
fn gather<D: PackageData + ?Sized>(
    params: &Params,
    p: &WorkPackage,
    data: &D,
    min_len: usize,
) -> Result<Gathered, WorkReportError> {
    let refs: Vec<Vec<ImportRef>> = p
        .items
        .iter()
        .map(|w| w.import_segments.iter().map(ImportRef::from_spec).collect())
        .collect();
    let hashes: BTreeSet<OpaqueHash> = refs
        .iter()
        .flatten()
        .filter_map(|r| match r {
            ImportRef::Package(h, _) => Some(*h),
            ImportRef::Root(..) => None,
        })
        .collect();
    if hashes.len() > MAX_SEGMENT_ROOT_LOOKUPS {
        return Err(WorkReportError::TooManySegmentRootLookups {
            count: hashes.len(),
        });
    }
    let mut table = BTreeMap::new();
    for h in hashes {
        let root = data
            .segment_root(&h)
            .ok_or(WorkReportError::UnknownSegmentRoot(h))?;
        table.insert(h, root);
    }
    let segment_size = params.segment_size();
    let mut imports = Vec::with_capacity(refs.len());
    let mut justifications = Vec::with_capacity(refs.len());
    for item in &refs {
        // Fetched concurrently; the first failure in import order is reported.
        let fetched: Vec<Result<ImportedSegment, WorkReportError>> = item
            .par_iter()
            .with_min_len(min_len)
            .map(|r| {
                let (root, index) = match r {
                    ImportRef::Root(root, n) => (*root, *n),
                    ImportRef::Package(h, n) => (table[h], *n),
                };
                let s = data
                    .import(&root, index)
                    .ok_or(WorkReportError::MissingImport { root, index })?;
                let ok = s.segment.len() == segment_size
                    && verify_justification(&root, &s.segment, index as usize, &s.justification);
                if !ok {
                    return Err(WorkReportError::BadImport { root, index });
                }
                Ok(s)
            })
            .collect();
        let (segs, justs) = fetched
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|s| (s.segment, s.justification))
            .unzip();
        imports.push(segs);
        justifications.push(justs);
    }
    let mut extrinsics = Vec::with_capacity(p.items.len());
    for w in &p.items {
        let mut xs = Vec::with_capacity(w.extrinsic.len());
        for x in &w.extrinsic {
            let missing = WorkReportError::MissingExtrinsic {
                hash: x.hash,
                len: x.len,
            };
            let blob = data.extrinsic(&x.hash).ok_or(missing.clone())?;
            if blob.len() != x.len as usize || blake2b_256(&blob) != x.hash.0 {
                return Err(missing);
            }
            xs.push(blob);
        }
        extrinsics.push(xs);
    }
    Ok(Gathered {
        lookup: table
            .into_iter()
            .map(
                |(work_package_hash, segment_tree_root)| SegmentRootLookupItem {
                    work_package_hash,
                    segment_tree_root,
                },
            )
            .collect(),
        imports,
        justifications,
        extrinsics,
    })
}

/// The audit bundle `E(p, X#(p_w), S#(p_w), J#(p_w))` (eq. 14.16): only the justifications
/// carry length prefixes.
fn bundle(enc: &EncodedPackage<'_>, g: &Gathered) -> Vec<u8> {
    let mut b = enc.encoded.clone();
    for x in g.extrinsics.iter().flatten() {
        b.extend_from_slice(x);
    }
    for s in g.imports.iter().flatten() {
        b.extend_from_slice(s);
    }
    for j in g.justifications.iter().flatten() {
        encode_natural(j.len() as u64, &mut b);
        for h in j {
            b.extend_from_slice(h.as_bytes());
        }
    }
    b
}

/// Ξ(p, c) (eq. 14.11): the work report of package `p` on core `c`, against the service
/// accounts `view` (no earlier than the lookup anchor) and the fetched `data`.
///
/// Items are refined in parallel on the current rayon pool; the result does not depend on it.
pub fn compute_work_report<V, D>(
    params: &Params,
    config: &RefineConfig,
    view: &V,
    data: &D,
    p: &WorkPackage,
    core: CoreIndex,
) -> Result<ComputedReport, WorkReportError>
where
    V: ServiceView + ?Sized,
    D: PackageData + ?Sized,
{
    compute_work_report_split(params, config, view, data, p, core, 1)
}

/// [`compute_work_report`], its parallel loops (imports, items, erasure coding) split no
/// finer than `min_len` items: `usize::MAX` runs the whole package on the calling thread.
/// The result does not depend on it.
fn compute_work_report_split<V, D>(
    params: &Params,
    config: &RefineConfig,
    view: &V,
    data: &D,
    p: &WorkPackage,
    core: CoreIndex,
    min_len: usize,
) -> Result<ComputedReport, WorkReportError>
where
    V: ServiceView + ?Sized,
    D: PackageData + ?Sized,
{
    check_package(params, p)?;
    let enc = EncodedPackage::new(p);
    let auth = is_authorized(params, config, view, &enc, core);
    let trace = auth.result.map_err(WorkReportError::Unauthorized)?;
    let max = params.max_report_output_size as usize;
    if trace.len() > max {
        return Err(WorkReportError::AuthTraceTooLarge {
            len: trace.len(),
            max,
        });
    }
    let g = gather(params, p, data, min_len)?;

    // ℓ_j = Σ_{k<j} w_e: each item's export offset is fixed by the package alone, so the
    // items refine independently.
    let offsets: Vec<u64> = p
        .items
        .iter()
        .scan(0u64, |acc, w| {
            let o = *acc;
            *acc += w.export_count as u64;
            Some(o)
        })
        .collect();
    let args = RefineArgs {
        core,
        package: &enc,
        auth_trace: &trace,
        imports: &g.imports,
        extrinsics: &g.extrinsics,
    };
    let refined: Vec<Refinement> = (0..p.items.len())
        .into_par_iter()
        .with_min_len(min_len)
        .map(|j| refine(params, config, view, &args, j, offsets[j]))
        .collect();

    // The counter I (eq. 14.13): output-size and export-count checks in item order.
    let zero_segment = vec![0u8; params.segment_size()];
    let mut z = trace.len();
    let mut results = Vec::with_capacity(p.items.len());
    let mut exports: Vec<Vec<u8>> = Vec::new();
    for (w, r) in p.items.iter().zip(refined) {
        let len = r.result.as_ref().map_or(0, |o| o.len());
        let zeros = || vec![zero_segment.clone(); w.export_count as usize];
        let (result, segs) = if len + z > max {
            (Err(WorkError::Oversize), zeros())
        } else if r.exports.len() != w.export_count as usize {
            (Err(WorkError::BadExports), zeros())
        } else if r.result.is_err() {
            (r.result, zeros())
        } else {
            (r.result, r.exports)
        };
        if let Ok(o) = &result {
            z += o.len();
        }
        exports.extend(segs);
        results.push(WorkResult {
            service_id: w.service,
            code_hash: w.code_hash,
            payload_hash: OpaqueHash(blake2b_256(&w.payload)),
            accumulate_gas: w.accumulate_gas_limit,
            result: exec_result(&result),
            refine_load: RefineLoad {
                gas_used: r.gas_used,
                imports: w.import_segments.len() as u16,
                extrinsic_count: w.extrinsic.len() as u16,
                extrinsic_size: w.extrinsic.iter().map(|x| x.len).sum(),
                exports: w.export_count,
            },
        });
    }

    let b = bundle(&enc, &g);
    let (spec, chunks) = availability_spec_split(params, enc.hash, &b, &exports, min_len)?;
    let report = WorkReport {
        package_spec: spec,
        context: p.context.clone(),
        core_index: core,
        authorizer_hash: authorizer_hash(p),
        auth_gas_used: auth.gas_used,
        auth_output: Bytes(trace),
        segment_root_lookup: g.lookup,
        results,
    };
    Ok(ComputedReport {
        report,
        exports,
        bundle: b,
        chunks,
    })
}

/// Ξ for many packages on `pool`: packages (and, when there are fewer packages than
/// threads, their items and erasure coding) are computed concurrently; the results are in
/// `jobs` order and identical for any number of threads.
pub fn refine_packages<V, D>(
    pool: &rayon::ThreadPool,
    params: &Params,
    config: &RefineConfig,
    view: &V,
    data: &D,
    jobs: &[PackageJob<'_>],
) -> Vec<Result<ComputedReport, WorkReportError>>
where
    V: ServiceView + ?Sized,
    D: PackageData + ?Sized,
{
    // With at least one package per thread the packages alone keep the pool busy: each is
    // then computed on one thread (no nested jobs to steal, so a package's data, its
    // allocations and their frees stay on one core). Fewer packages than threads: their
    // items and erasure coding are split across the pool as well.
    let min_len = if jobs.len() >= pool.current_num_threads() {
        usize::MAX
    } else {
        1
    };
    pool.install(|| {
        jobs.par_iter()
            .map(|j| {
                compute_work_report_split(params, config, view, data, j.package, j.core, min_len)
            })
            .collect()
    })
}
