//! Work-report guarantees: guarantor assignments and the guarantees extrinsic (GP section 11.3-11.5, eqs. 11.18-11.43).

use crate::crypto::{ed25519_first_invalid, Ed25519Item, JAM_GUARANTEE};
use jam_state::codec::Encode;
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::shuffle::shuffle;
use jam_state::types::{
    AuthPool, AvailabilityAssignment, AvailabilityAssignments, CoreActivityRecord, CoreIndex,
    Ed25519Public, EntropyBuffer, OpaqueHash, RecentBlocks, ReportGuarantee, ServiceActivityRecord,
    ServiceId, ServiceInfo, ServicesStatistics, ServicesStatisticsMapEntry, TimeSlot,
    ValidatorData, WorkPackageHash, WorkReport,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Why a guarantees extrinsic is invalid. Variants map one-to-one to the vector error codes
/// (`ErrorCode` of `reports.asn`, in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportsError {
    #[error("work report core index out of range")]
    BadCoreIndex,
    #[error("guarantee slot is after the block's slot")]
    FutureReportSlot,
    #[error("guarantee slot is before the last rotation")]
    ReportEpochBeforeLast,
    #[error("credential does not hold two or three signatures")]
    InsufficientGuarantees,
    #[error("guarantees not sorted by core index or not unique")]
    OutOfOrderGuarantee,
    #[error("credential validator indices not sorted or not unique")]
    NotSortedOrUniqueGuarantors,
    #[error("guarantor is not assigned to the report's core")]
    WrongAssignment,
    #[error("core has a report pending availability")]
    CoreEngaged,
    #[error("refinement context anchor is not in recent history")]
    AnchorNotRecent,
    #[error("work digest names a service without an account")]
    BadServiceId,
    #[error("work digest code hash differs from the service's code hash")]
    BadCodeHash,
    #[error("prerequisite work package neither in the extrinsic nor in recent history")]
    DependencyMissing,
    #[error("work package already reported (in this extrinsic or in the pipeline)")]
    DuplicatePackage,
    #[error("refinement context state root differs from the anchor's")]
    BadStateRoot,
    #[error("refinement context beefy root differs from the anchor's")]
    BadBeefyMmrRoot,
    #[error("authorizer hash not in the core's authorizer pool")]
    CoreUnauthorized,
    #[error("guarantor validator index out of range")]
    BadValidatorIndex,
    #[error("total accumulate gas of a work report exceeds G_A")]
    WorkReportGasTooHigh,
    #[error("work digest accumulate gas below the service's minimum")]
    ServiceItemGasTooLow,
    #[error("prerequisites plus segment-root lookups exceed J")]
    TooManyDependencies,
    #[error("segment-root lookup entry unknown or with a different root")]
    SegmentRootLookupInvalid,
    #[error("invalid guarantor signature")]
    BadSignature,
    #[error("work report output and authorizer trace exceed W_R, or too many digests")]
    WorkReportTooBig,
    #[error("guarantor is an offender")]
    BannedValidator,
    #[error("lookup anchor older than L slots")]
    LookupAnchorNotRecent,
    #[error("work report without work digests")]
    MissingWorkResults,
}

impl ReportsError {
    const ALL: [ReportsError; 26] = [
        ReportsError::BadCoreIndex,
        ReportsError::FutureReportSlot,
        ReportsError::ReportEpochBeforeLast,
        ReportsError::InsufficientGuarantees,
        ReportsError::OutOfOrderGuarantee,
        ReportsError::NotSortedOrUniqueGuarantors,
        ReportsError::WrongAssignment,
        ReportsError::CoreEngaged,
        ReportsError::AnchorNotRecent,
        ReportsError::BadServiceId,
        ReportsError::BadCodeHash,
        ReportsError::DependencyMissing,
        ReportsError::DuplicatePackage,
        ReportsError::BadStateRoot,
        ReportsError::BadBeefyMmrRoot,
        ReportsError::CoreUnauthorized,
        ReportsError::BadValidatorIndex,
        ReportsError::WorkReportGasTooHigh,
        ReportsError::ServiceItemGasTooLow,
        ReportsError::TooManyDependencies,
        ReportsError::SegmentRootLookupInvalid,
        ReportsError::BadSignature,
        ReportsError::WorkReportTooBig,
        ReportsError::BannedValidator,
        ReportsError::LookupAnchorNotRecent,
        ReportsError::MissingWorkResults,
    ];

    /// The error code of the test vectors' `ErrorCode` enumeration.
    pub fn code(&self) -> u8 {
        Self::ALL
            .iter()
            .position(|e| e == self)
            .expect("every variant is listed") as u8
    }

    /// The error from its vector code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }
}

/// Read access to the service accounts' info `δ[s]` (a_c, a_g, ...) needed to check digests.
pub trait ServiceInfoLookup {
    fn service_info(&self, id: ServiceId) -> Option<&ServiceInfo>;
}

impl ServiceInfoLookup for BTreeMap<ServiceId, ServiceInfo> {
    fn service_info(&self, id: ServiceId) -> Option<&ServiceInfo> {
        self.get(&id)
    }
}

impl ServiceInfoLookup for HashMap<ServiceId, ServiceInfo> {
    fn service_info(&self, id: ServiceId) -> Option<&ServiceInfo> {
        self.get(&id)
    }
}

/// The state components the guarantees extrinsic is checked against (all read-only).
pub struct ReportsState<'a, S: ServiceInfoLookup + ?Sized> {
    /// ρ‡: pending reports after disputes and assurances.
    pub avail_assignments: &'a AvailabilityAssignments,
    /// κ': posterior active validators.
    pub curr_validators: &'a [ValidatorData],
    /// λ': posterior previous validators.
    pub prev_validators: &'a [ValidatorData],
    /// η': posterior entropy buffer.
    pub entropy: &'a EntropyBuffer,
    /// ψ'_O: offenders' Ed25519 keys.
    pub offenders: &'a [Ed25519Public],
    /// β†: recent blocks (after the parent state-root update).
    pub recent_blocks: &'a RecentBlocks,
    /// α: authorizer pools, one per core.
    pub auth_pools: &'a [AuthPool],
    /// δ: service accounts.
    pub services: &'a S,
}

/// The block data the guarantees extrinsic comes with.
#[derive(Clone, Copy, Debug)]
pub struct ReportsInput<'a> {
    /// E_G.
    pub guarantees: &'a [ReportGuarantee],
    /// H_t (= τ').
    pub slot: TimeSlot,
    /// Package hashes already in the pipeline: recent history β, accumulated ξ, pending ρ and
    /// ready queue ω (eqs. 11.36-11.38).
    pub known_packages: &'a [WorkPackageHash],
}

/// A work package reported by this block: hash and segment-tree (exports) root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReportedPackage {
    pub work_package_hash: WorkPackageHash,
    pub segment_tree_root: OpaqueHash,
}

/// The output of a successful guarantees transition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportsOutput {
    /// The reported packages, sorted by package hash.
    pub reported: Vec<ReportedPackage>,
    /// 𝐑 (eq. 11.26): Ed25519 keys of all guarantors who signed, sorted and unique.
    pub reporters: Vec<Ed25519Public>,
}

/// The posterior components of a successful guarantees transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportsPosterior {
    /// ρ' (eq. 11.43): ρ‡ with each guaranteed report placed on its core at time τ'.
    pub avail_assignments: AvailabilityAssignments,
    /// The reports of E_G, in extrinsic (core) order — 𝐈 of eq. 11.28.
    pub incoming: Vec<WorkReport>,
    pub output: ReportsOutput,
}

/// P(e, t) (eqs. 11.19-11.20): the core of each validator, by Fisher-Yates shuffle of
/// `floor(C·i/V)` with entropy `e`, rotated by `floor((t mod E)/R)`.
pub fn core_assignments(params: &Params, entropy: &OpaqueHash, slot: TimeSlot) -> Vec<CoreIndex> {
    let v = params.validators();
    let c = params.cores();
    let base: Vec<usize> = (0..v).map(|i| c * i / v).collect();
    let shuffled = shuffle(base, entropy.as_bytes());
    let n = ((slot % params.epoch_length) / params.rotation_period as u32) as usize;
    shuffled
        .into_iter()
        .map(|x| ((x + n) % c) as CoreIndex)
        .collect()
}

/// G (eq. 11.21): the assignment of this rotation (η'_2, τ'), with keys κ'.
pub fn current_assignments<'a>(
    params: &Params,
    entropy: &EntropyBuffer,
    curr_validators: &'a [ValidatorData],
    slot: TimeSlot,
) -> (Vec<CoreIndex>, &'a [ValidatorData]) {
    (core_assignments(params, &entropy[2], slot), curr_validators)
}

/// G* (eq. 11.22): the assignment under the previous rotation (τ' − R), taken from the
/// previous epoch's entropy η'_3 and keys λ' when that rotation was in the previous epoch.
/// `slot` must be at least R.
pub fn previous_assignments<'a>(
    params: &Params,
    entropy: &EntropyBuffer,
    curr_validators: &'a [ValidatorData],
    prev_validators: &'a [ValidatorData],
    slot: TimeSlot,
) -> (Vec<CoreIndex>, &'a [ValidatorData]) {
    let prev = slot.saturating_sub(params.rotation_period as u32);
    if prev / params.epoch_length == slot / params.epoch_length {
        (core_assignments(params, &entropy[2], prev), curr_validators)
    } else {
        (core_assignments(params, &entropy[3], prev), prev_validators)
    }
}

/// The message a guarantor signs: `X_G ‖ blake2b(E(report))` (eqs. 11.26-11.27).
pub fn guarantee_message(report: &WorkReport) -> Vec<u8> {
    [JAM_GUARANTEE, &blake2b_256(&report.encode())[..]].concat()
}

/// Size checks on a report alone (eqs. 11.2-11.3, 11.8-11.9).
fn check_report_shape(params: &Params, report: &WorkReport) -> Result<(), ReportsError> {
    if report.results.is_empty() {
        return Err(ReportsError::MissingWorkResults);
    }
    if report.results.len() > params.max_work_items as usize {
        return Err(ReportsError::WorkReportTooBig);
    }
    let deps = report.context.prerequisites.len() + report.segment_root_lookup.len();
    if deps > params.max_dependencies as usize {
        return Err(ReportsError::TooManyDependencies);
    }
    let output: usize = report.auth_output.len()
        + report
            .results
            .iter()
            .map(|r| match &r.result {
                jam_state::types::WorkExecResult::Ok(b) => b.len(),
                _ => 0,
            })
            .sum::<usize>();
    if output > params.max_report_output_size as usize {
        return Err(ReportsError::WorkReportTooBig);
    }
    Ok(())
}

/// Applies the guarantees extrinsic (GP section 11.4-11.5): validates every guarantee and
/// places the reports on their cores. On error nothing is changed.
///
/// The checks, per guarantee in extrinsic order: core index and ordering, report shape,
/// credential shape, guarantee slot, assignment / offenders / signatures, core availability
/// and authorization, service gas and code hashes; then, over the whole extrinsic: duplicate
/// packages, anchors, lookup-anchor age, pipeline duplicates, prerequisites and segment-root
/// lookups.
///
/// The existence of the lookup-anchor block in the ancestor set (eq. 11.35) needs the header
/// chain and is left to the caller.
pub fn transition<S: ServiceInfoLookup + ?Sized>(
    params: &Params,
    state: &ReportsState<'_, S>,
    input: &ReportsInput<'_>,
) -> Result<ReportsPosterior, ReportsError> {
    let slot = input.slot;
    let rotation = params.rotation_period as u32;
    let cores = params.cores();
    let validators = params.validators();

    let mut current: Option<(Vec<CoreIndex>, &[ValidatorData])> = None;
    let mut previous: Option<(Vec<CoreIndex>, &[ValidatorData])> = None;
    let offenders: HashSet<&Ed25519Public> = state.offenders.iter().collect();

    let mut reporters = BTreeSet::new();
    let mut messages = Vec::with_capacity(input.guarantees.len());
    let mut sig_checks: Vec<(usize, usize, Ed25519Public)> = Vec::new();
    let mut last_core: Option<CoreIndex> = None;

    for (gi, g) in input.guarantees.iter().enumerate() {
        let report = &g.report;
        let core = report.core_index;
        if core as usize >= cores {
            return Err(ReportsError::BadCoreIndex);
        }
        if last_core.is_some_and(|c| c >= core) {
            return Err(ReportsError::OutOfOrderGuarantee);
        }
        last_core = Some(core);

        check_report_shape(params, report)?;

        // Credential (eqs. 11.23, 11.25).
        if !(2..=3).contains(&g.signatures.len()) {
            return Err(ReportsError::InsufficientGuarantees);
        }
        if g.signatures
            .windows(2)
            .any(|w| w[0].validator_index >= w[1].validator_index)
        {
            return Err(ReportsError::NotSortedOrUniqueGuarantors);
        }
        if g.signatures
            .iter()
            .any(|s| s.validator_index as usize >= validators)
        {
            return Err(ReportsError::BadValidatorIndex);
        }

        // Guarantee slot within this or the previous rotation (eq. 11.26:
        // R(⌊τ'/R⌋ − 1) ≤ t ≤ τ'; the first slot of the previous rotation is allowed).
        if g.slot > slot {
            return Err(ReportsError::FutureReportSlot);
        }
        if (g.slot as u64) + (rotation as u64) < (slot / rotation) as u64 * rotation as u64 {
            return Err(ReportsError::ReportEpochBeforeLast);
        }
        let (assigned, keys) = if slot / rotation == g.slot / rotation {
            current.get_or_insert_with(|| {
                current_assignments(params, state.entropy, state.curr_validators, slot)
            })
        } else {
            previous.get_or_insert_with(|| {
                previous_assignments(
                    params,
                    state.entropy,
                    state.curr_validators,
                    state.prev_validators,
                    slot,
                )
            })
        };
        for s in &g.signatures {
            let v = s.validator_index as usize;
            if assigned.get(v) != Some(&core) {
                return Err(ReportsError::WrongAssignment);
            }
            let key = keys.get(v).ok_or(ReportsError::BadValidatorIndex)?.ed25519;
            if offenders.contains(&key) {
                return Err(ReportsError::BannedValidator);
            }
        }
        messages.push(guarantee_message(report));
        for (si, s) in g.signatures.iter().enumerate() {
            let key = keys[s.validator_index as usize].ed25519;
            sig_checks.push((gi, si, key));
            reporters.insert(key);
        }

        // Core free and authorized (eq. 11.29).
        if state
            .avail_assignments
            .get(core as usize)
            .is_some_and(|a| a.is_some())
        {
            return Err(ReportsError::CoreEngaged);
        }
        let pool = state
            .auth_pools
            .get(core as usize)
            .ok_or(ReportsError::CoreUnauthorized)?;
        if !pool.contains(&report.authorizer_hash) {
            return Err(ReportsError::CoreUnauthorized);
        }

        // Services, gas and code hashes (eqs. 11.30, 11.42).
        let mut total_gas: u128 = 0;
        for r in &report.results {
            let info = state
                .services
                .service_info(r.service_id)
                .ok_or(ReportsError::BadServiceId)?;
            if r.accumulate_gas < info.min_item_gas {
                return Err(ReportsError::ServiceItemGasTooLow);
            }
            total_gas += r.accumulate_gas as u128;
        }
        if total_gas > params.max_accumulate_gas as u128 {
            return Err(ReportsError::WorkReportGasTooHigh);
        }
        for r in &report.results {
            let info = state
                .services
                .service_info(r.service_id)
                .ok_or(ReportsError::BadServiceId)?;
            if r.code_hash != info.code_hash {
                return Err(ReportsError::BadCodeHash);
            }
        }
    }

    // Signatures (eq. 11.26), verified together once everything cheap has passed.
    let items: Vec<Ed25519Item<'_>> = sig_checks
        .iter()
        .map(|(gi, si, key)| Ed25519Item {
            public: key.as_bytes(),
            message: &messages[*gi],
            signature: input.guarantees[*gi].signatures[*si].signature.as_bytes(),
        })
        .collect();
    if ed25519_first_invalid(&items).is_some() {
        return Err(ReportsError::BadSignature);
    }

    // No two reports of the same package (eq. 11.32).
    let mut incoming_packages: HashMap<WorkPackageHash, OpaqueHash> = HashMap::new();
    for g in input.guarantees {
        let spec = &g.report.package_spec;
        if incoming_packages
            .insert(spec.hash, spec.exports_root)
            .is_some()
        {
            return Err(ReportsError::DuplicatePackage);
        }
    }

    // Anchors (eq. 11.33) and lookup anchors (eq. 11.34).
    let history = &state.recent_blocks.history;
    for g in input.guarantees {
        let ctx = &g.report.context;
        let block = history
            .iter()
            .find(|b| b.header_hash == ctx.anchor)
            .ok_or(ReportsError::AnchorNotRecent)?;
        if block.state_root != ctx.state_root {
            return Err(ReportsError::BadStateRoot);
        }
        if block.beefy_root != ctx.beefy_root {
            return Err(ReportsError::BadBeefyMmrRoot);
        }
        if (ctx.lookup_anchor_slot as u64) + (params.max_lookup_anchor_age as u64) < slot as u64 {
            return Err(ReportsError::LookupAnchorNotRecent);
        }
    }

    // Not already in the pipeline (eqs. 11.36-11.38).
    let recent: HashMap<WorkPackageHash, OpaqueHash> = history
        .iter()
        .flat_map(|b| b.reported.iter().map(|p| (p.hash, p.exports_root)))
        .collect();
    let known: HashSet<&WorkPackageHash> = input.known_packages.iter().collect();
    for g in input.guarantees {
        let h = &g.report.package_spec.hash;
        if known.contains(h) || recent.contains_key(h) {
            return Err(ReportsError::DuplicatePackage);
        }
    }

    // Prerequisites and segment-root lookups (eqs. 11.39-11.41).
    for g in input.guarantees {
        let report = &g.report;
        for p in &report.context.prerequisites {
            if !incoming_packages.contains_key(p) && !recent.contains_key(p) {
                return Err(ReportsError::DependencyMissing);
            }
        }
        for item in &report.segment_root_lookup {
            let root = incoming_packages
                .get(&item.work_package_hash)
                .or_else(|| recent.get(&item.work_package_hash));
            if root != Some(&item.segment_tree_root) {
                return Err(ReportsError::SegmentRootLookupInvalid);
            }
        }
    }

    // ρ' (eq. 11.43).
    let mut avail_assignments = state.avail_assignments.clone();
    for g in input.guarantees {
        avail_assignments[g.report.core_index as usize] = Some(AvailabilityAssignment {
            report: g.report.clone(),
            timeout: slot,
        });
    }

    let mut reported: Vec<ReportedPackage> = input
        .guarantees
        .iter()
        .map(|g| ReportedPackage {
            work_package_hash: g.report.package_spec.hash,
            segment_tree_root: g.report.package_spec.exports_root,
        })
        .collect();
    reported.sort();

    Ok(ReportsPosterior {
        avail_assignments,
        incoming: input.guarantees.iter().map(|g| g.report.clone()).collect(),
        output: ReportsOutput {
            reported,
            reporters: reporters.into_iter().collect(),
        },
    })
}

fn add_u16(a: u16, b: u64) -> u16 {
    u16::try_from(a as u64 + b).unwrap_or(u16::MAX)
}

fn add_u32(a: u32, b: u64) -> u32 {
    u32::try_from(a as u64 + b).unwrap_or(u32::MAX)
}

/// Adds the incoming reports' refinement load to the core statistics π_C (GP section 13,
/// cores and services: imports, extrinsic count and size, exports and gas used from R(c);
/// bundle length from L(c)). The vectors give π_C with these fields zero, so adding equals the
/// GP's per-block value.
pub fn add_core_statistics(cores: &mut [CoreActivityRecord], incoming: &[WorkReport]) {
    for report in incoming {
        let Some(rec) = cores.get_mut(report.core_index as usize) else {
            continue;
        };
        for d in &report.results {
            let l = &d.refine_load;
            rec.imports = add_u16(rec.imports, l.imports as u64);
            rec.extrinsic_count = add_u16(rec.extrinsic_count, l.extrinsic_count as u64);
            rec.extrinsic_size = add_u32(rec.extrinsic_size, l.extrinsic_size as u64);
            rec.exports = add_u16(rec.exports, l.exports as u64);
            rec.gas_used = rec.gas_used.saturating_add(l.gas_used);
        }
        rec.bundle_size = add_u32(rec.bundle_size, report.package_spec.length as u64);
    }
}

/// Adds the incoming reports' digests to the service statistics π_S (GP section 13, cores and
/// services: refinement count and gas, imports, extrinsic count and size, exports from R(s)),
/// creating entries for newly active services and keeping the map sorted by service id.
pub fn add_service_statistics(services: &mut ServicesStatistics, incoming: &[WorkReport]) {
    let mut map: BTreeMap<ServiceId, ServiceActivityRecord> =
        services.iter().map(|e| (e.id, e.record)).collect();
    for d in incoming.iter().flat_map(|r| r.results.iter()) {
        let rec = map.entry(d.service_id).or_default();
        let l = &d.refine_load;
        rec.refinement_count = add_u32(rec.refinement_count, 1);
        rec.refinement_gas_used = rec.refinement_gas_used.saturating_add(l.gas_used);
        rec.imports = add_u32(rec.imports, l.imports as u64);
        rec.extrinsic_count = add_u32(rec.extrinsic_count, l.extrinsic_count as u64);
        rec.extrinsic_size = add_u32(rec.extrinsic_size, l.extrinsic_size as u64);
        rec.exports = add_u32(rec.exports, l.exports as u64);
    }
    *services = map
        .into_iter()
        .map(|(id, record)| ServicesStatisticsMapEntry { id, record })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use jam_state::types::{
        BlockInfo, Ed25519Signature, ValidatorSignature, WorkExecResult, WorkResult,
    };

    #[test]
    fn error_codes_round_trip() {
        for c in 0..26u8 {
            assert_eq!(ReportsError::from_code(c).unwrap().code(), c);
        }
        assert_eq!(ReportsError::from_code(26), None);
        assert_eq!(ReportsError::MissingWorkResults.code(), 25);
    }

    #[test]
    fn every_core_gets_its_share_and_rotates() {
        for params in [Params::tiny(), Params::full()] {
            let e = OpaqueHash([7; 32]);
            let a = core_assignments(&params, &e, 0);
            let per_core = params.validators() / params.cores();
            for c in 0..params.cores() {
                let n = a.iter().filter(|&&x| x as usize == c).count();
                assert!(n == per_core || n == per_core + 1, "core {c}: {n}");
            }
            let b = core_assignments(&params, &e, params.rotation_period as u32);
            for (x, y) in a.iter().zip(&b) {
                assert_eq!((*x as usize + 1) % params.cores(), *y as usize);
            }
        }
    }

    struct Fixture {
        params: Params,
        keys: Vec<SigningKey>,
        validators: Vec<ValidatorData>,
        entropy: EntropyBuffer,
        rho: AvailabilityAssignments,
        recent: RecentBlocks,
        pools: Vec<AuthPool>,
        services: BTreeMap<ServiceId, ServiceInfo>,
    }

    fn fixture() -> Fixture {
        let params = Params::tiny();
        let keys: Vec<SigningKey> = (0..params.validators())
            .map(|i| SigningKey::from_bytes(&[i as u8 + 1; 32]))
            .collect();
        let validators = keys
            .iter()
            .map(|k| ValidatorData {
                ed25519: Ed25519Public(k.verifying_key().to_bytes()),
                ..Default::default()
            })
            .collect();
        let recent = RecentBlocks {
            history: vec![BlockInfo {
                header_hash: OpaqueHash([1; 32]),
                beefy_root: OpaqueHash([2; 32]),
                state_root: OpaqueHash([3; 32]),
                reported: vec![],
            }],
            ..Default::default()
        };
        let services = BTreeMap::from([(
            9,
            ServiceInfo {
                code_hash: OpaqueHash([4; 32]),
                min_item_gas: 10,
                ..Default::default()
            },
        )]);
        Fixture {
            rho: AvailabilityAssignments::filled(&params, None),
            pools: vec![vec![OpaqueHash([5; 32])]; params.cores()],
            entropy: EntropyBuffer([OpaqueHash([6; 32]); 4]),
            params,
            keys,
            validators,
            recent,
            services,
        }
    }

    fn report(core: CoreIndex) -> WorkReport {
        let mut r = WorkReport {
            core_index: core,
            authorizer_hash: OpaqueHash([5; 32]),
            ..Default::default()
        };
        r.package_spec.hash = OpaqueHash([core as u8 + 100; 32]);
        r.context.anchor = OpaqueHash([1; 32]);
        r.context.beefy_root = OpaqueHash([2; 32]);
        r.context.state_root = OpaqueHash([3; 32]);
        r.results = vec![WorkResult {
            service_id: 9,
            code_hash: OpaqueHash([4; 32]),
            accumulate_gas: 100,
            result: WorkExecResult::Ok(vec![1, 2, 3].into()),
            ..Default::default()
        }];
        r
    }

    /// A guarantee of `report` at `slot`, signed by the validators assigned to its core.
    fn guarantee(f: &Fixture, report: WorkReport, slot: TimeSlot) -> ReportGuarantee {
        let (assigned, _) = current_assignments(&f.params, &f.entropy, &f.validators, slot);
        let msg = guarantee_message(&report);
        let signatures = (0..f.params.validators())
            .filter(|&v| assigned[v] == report.core_index)
            .map(|v| ValidatorSignature {
                validator_index: v as u16,
                signature: Ed25519Signature(f.keys[v].sign(&msg).to_bytes()),
            })
            .collect();
        ReportGuarantee {
            report,
            slot,
            signatures,
        }
    }

    fn run(
        f: &Fixture,
        guarantees: &[ReportGuarantee],
        slot: TimeSlot,
    ) -> Result<ReportsPosterior, ReportsError> {
        let state = ReportsState {
            avail_assignments: &f.rho,
            curr_validators: &f.validators,
            prev_validators: &f.validators,
            entropy: &f.entropy,
            offenders: &[],
            recent_blocks: &f.recent,
            auth_pools: &f.pools,
            services: &f.services,
        };
        transition(
            &f.params,
            &state,
            &ReportsInput {
                guarantees,
                slot,
                known_packages: &[],
            },
        )
    }

    #[test]
    fn accepts_valid_guarantees_and_places_reports() {
        let f = fixture();
        let gs = [guarantee(&f, report(0), 5), guarantee(&f, report(1), 5)];
        let post = run(&f, &gs, 6).expect("valid");
        assert_eq!(post.avail_assignments[0].as_ref().unwrap().timeout, 6);
        assert_eq!(
            post.avail_assignments[1].as_ref().unwrap().report,
            gs[1].report
        );
        assert_eq!(post.output.reported.len(), 2);
        assert_eq!(post.output.reporters.len(), 6);
        assert!(post.output.reporters.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn rejects_invalid_guarantees() {
        let f = fixture();
        let good = guarantee(&f, report(0), 5);

        let mut g = good.clone();
        g.signatures[0].signature.0[0] ^= 1;
        assert_eq!(run(&f, &[g], 6).unwrap_err(), ReportsError::BadSignature);

        assert_eq!(
            run(&f, std::slice::from_ref(&good), 4).unwrap_err(),
            ReportsError::FutureReportSlot
        );
        assert_eq!(
            run(&f, std::slice::from_ref(&good), 12).unwrap_err(),
            ReportsError::ReportEpochBeforeLast
        );

        let mut g = good.clone();
        g.signatures.truncate(1);
        assert_eq!(
            run(&f, &[g], 6).unwrap_err(),
            ReportsError::InsufficientGuarantees
        );

        let mut g = good.clone();
        g.signatures.swap(0, 1);
        assert_eq!(
            run(&f, &[g], 6).unwrap_err(),
            ReportsError::NotSortedOrUniqueGuarantors
        );

        let mut r = report(0);
        r.results[0].accumulate_gas = 1;
        assert_eq!(
            run(&f, &[guarantee(&f, r, 5)], 6).unwrap_err(),
            ReportsError::ServiceItemGasTooLow
        );

        let mut r = report(0);
        r.context.prerequisites.push(OpaqueHash([42; 32]));
        assert_eq!(
            run(&f, &[guarantee(&f, r, 5)], 6).unwrap_err(),
            ReportsError::DependencyMissing
        );

        let mut engaged = fixture();
        engaged.rho[0] = Some(AvailabilityAssignment {
            report: report(0),
            timeout: 1,
        });
        assert_eq!(
            run(&engaged, &[good], 6).unwrap_err(),
            ReportsError::CoreEngaged
        );
    }
}
