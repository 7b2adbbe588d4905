//! Activity statistics π (GP v0.7.2 §13): validator records π_V / π_L with the epoch rollover,
//! and the per-block core (π_C) and service (π_S) records.
//!
//! - [`update_validator_stats`] (GP 13.3–13.5): on a new epoch π_L' = π_V and the accumulator
//!   restarts from zero; the author counts a block, its tickets and preimages; every current
//!   validator whose Ed25519 key is among the reporters (GP 11.26) counts a guarantee, every
//!   validator with an assurance in E_A counts an assurance.
//! - [`core_stats`] (GP 13.8–13.10): per core, the refine load of the reports guaranteed in
//!   this block (I), the DA load of the reports that became available (R) and the popularity
//!   (assurances with the core's bit set).
//! - [`service_stats`] (GP 13.11–13.15): per service, preimages provided, refine load of the
//!   work digests of I, and accumulation counts and gas.
//!
//! [`transition`] computes all of π' for a block.

use jam_state::params::Params;
use jam_state::types::{
    AssurancesExtrinsic, CoreActivityRecord, CoresStatistics, Ed25519Public, Extrinsic, FixedVec,
    Gas, GuaranteesExtrinsic, PreimagesExtrinsic, ServiceId, ServicesStatistics, Statistics,
    TimeSlot, ValidatorActivityRecord, ValidatorIndex, ValidatorsData, ValidatorsStatistics,
    WorkReport,
};
use std::collections::BTreeMap;

/// What a block contributes to the validator statistics.
#[derive(Clone, Copy, Debug)]
pub struct BlockActivity<'a> {
    /// H_t: the block's slot (τ').
    pub slot: TimeSlot,
    /// H_i: the block author's validator index.
    pub author_index: ValidatorIndex,
    /// E: the block's extrinsic.
    pub extrinsic: &'a Extrinsic,
    /// G (GP 11.26): the Ed25519 keys of the guarantors of E_G's reports.
    pub reporters: &'a [Ed25519Public],
}

fn add(x: &mut u32, n: usize) {
    *x = x.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
}

/// (π_V', π_L') from (π_V, π_L) (GP 13.3–13.5). `prior_slot` is τ; `curr_validators` is κ'.
pub fn update_validator_stats(
    params: &Params,
    prior_slot: TimeSlot,
    curr: &ValidatorsStatistics,
    last: &ValidatorsStatistics,
    block: &BlockActivity<'_>,
    curr_validators: &ValidatorsData,
) -> (ValidatorsStatistics, ValidatorsStatistics) {
    let epoch = |t: TimeSlot| t / params.epoch_length.max(1);
    let (mut acc, last) = if epoch(block.slot) == epoch(prior_slot) {
        (curr.clone(), last.clone())
    } else {
        (
            FixedVec::filled(params, ValidatorActivityRecord::default()),
            curr.clone(),
        )
    };
    let e = block.extrinsic;
    if let Some(a) = acc.get_mut(block.author_index as usize) {
        add(&mut a.blocks, 1);
        add(&mut a.tickets, e.tickets.len());
        add(&mut a.pre_images, e.preimages.len());
        add(
            &mut a.pre_images_size,
            e.preimages.iter().map(|p| p.blob.len()).sum(),
        );
    }
    for (record, key) in acc.iter_mut().zip(curr_validators.iter()) {
        if block.reporters.contains(&key.ed25519) {
            add(&mut record.guarantees, 1);
        }
    }
    let mut assured = vec![false; acc.len()];
    for a in &e.assurances {
        if let Some(x) = assured.get_mut(a.validator_index as usize) {
            *x = true;
        }
    }
    for (record, assured) in acc.iter_mut().zip(assured) {
        if assured {
            add(&mut record.assurances, 1);
        }
    }
    (acc, last)
}

/// The reporters of E_G when every credential's index refers to `validators`: their Ed25519
/// keys, sorted and without duplicates. (The reports transition gives the exact set G, whose
/// keys come from the guarantor assignment of each guarantee's rotation.)
pub fn reporters_from_guarantees(
    guarantees: &GuaranteesExtrinsic,
    validators: &ValidatorsData,
) -> Vec<Ed25519Public> {
    let mut keys: Vec<Ed25519Public> = guarantees
        .iter()
        .flat_map(|g| &g.signatures)
        .filter_map(|s| {
            validators
                .get(s.validator_index as usize)
                .map(|v| v.ed25519)
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn add16(x: &mut u16, n: u64) {
    *x = x.saturating_add(u16::try_from(n).unwrap_or(u16::MAX));
}
fn add32(x: &mut u32, n: u64) {
    *x = x.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
}

/// Adds the refine load of the reports guaranteed in a block (I) to their cores' records
/// (GP 13.9): imports, extrinsic count and size, exports and gas of every digest, and the
/// bundle size of every report.
pub fn add_incoming_core_stats(cores: &mut CoresStatistics, incoming: &[&WorkReport]) {
    for r in incoming {
        let Some(c) = cores.get_mut(r.core_index as usize) else {
            continue;
        };
        for d in &r.results {
            let l = &d.refine_load;
            add16(&mut c.imports, l.imports.into());
            add16(&mut c.extrinsic_count, l.extrinsic_count.into());
            add32(&mut c.extrinsic_size, l.extrinsic_size.into());
            add16(&mut c.exports, l.exports.into());
            c.gas_used = c.gas_used.saturating_add(l.gas_used);
        }
        add32(&mut c.bundle_size, r.package_spec.length.into());
    }
}

/// π_C' (GP 13.8–13.10): the refine load of `incoming` (I, the reports of E_G), the DA load
/// `(r_s)_l + W_G·⌈(r_s)_n·65/64⌉` of `available` (R, the reports made available by E_A) and
/// the popularity (number of assurances with the core's bit set).
pub fn core_stats(
    params: &Params,
    incoming: &[&WorkReport],
    available: &[&WorkReport],
    assurances: &AssurancesExtrinsic,
) -> CoresStatistics {
    let mut cores: CoresStatistics = FixedVec::filled(params, CoreActivityRecord::default());
    add_incoming_core_stats(&mut cores, incoming);
    let segment = params.segment_size() as u64;
    for r in available {
        let Some(c) = cores.get_mut(r.core_index as usize) else {
            continue;
        };
        let n = u64::from(r.package_spec.exports_count);
        let load = u64::from(r.package_spec.length) + segment * (n * 65).div_ceil(64);
        add32(&mut c.da_load, load);
    }
    for (i, c) in cores.iter_mut().enumerate() {
        let n = assurances
            .iter()
            .filter(|a| i < a.bitfield.len() * 8 && a.bitfield.bit(i))
            .count();
        add16(&mut c.popularity, n as u64);
    }
    cores
}

/// Adds the refine load of the digests of `incoming` (I) to their services' records
/// (GP 13.12): refinement count and gas, imports, extrinsic count and size, exports.
pub fn add_incoming_service_stats(services: &mut ServicesStatistics, incoming: &[&WorkReport]) {
    for r in incoming {
        for d in &r.results {
            let s = crate::preimages::service_record(services, d.service_id);
            let l = &d.refine_load;
            add32(&mut s.refinement_count, 1);
            s.refinement_gas_used = s.refinement_gas_used.saturating_add(l.gas_used);
            add32(&mut s.imports, l.imports.into());
            add32(&mut s.extrinsic_count, l.extrinsic_count.into());
            add32(&mut s.extrinsic_size, l.extrinsic_size.into());
            add32(&mut s.exports, l.exports.into());
        }
    }
}

/// Adds accumulation statistics (service ↦ (work items accumulated, gas used), GP 12.x `S`)
/// to their services' records.
pub fn add_accumulation_service_stats(
    services: &mut ServicesStatistics,
    accumulated: &BTreeMap<ServiceId, (u32, Gas)>,
) {
    for (&id, &(count, gas)) in accumulated {
        let s = crate::preimages::service_record(services, id);
        add32(&mut s.accumulate_count, count.into());
        s.accumulate_gas_used = s.accumulate_gas_used.saturating_add(gas);
    }
}

/// π_S' (GP 13.11–13.15), fresh for a block: the preimages of E_P, the digests of `incoming`
/// (I) and the accumulation statistics, for exactly the services they mention, by id.
pub fn service_stats(
    preimages: &PreimagesExtrinsic,
    incoming: &[&WorkReport],
    accumulated: &BTreeMap<ServiceId, (u32, Gas)>,
) -> ServicesStatistics {
    let mut services = ServicesStatistics::new();
    crate::preimages::add_service_stats(&mut services, preimages);
    add_incoming_service_stats(&mut services, incoming);
    add_accumulation_service_stats(&mut services, accumulated);
    services
}

/// π' for a block (GP 13): `prior` is π, `prior_slot` τ, `curr_validators` κ'; `available`
/// are the reports made available (R) and `accumulated` the accumulation statistics.
pub fn transition(
    params: &Params,
    prior: &Statistics,
    prior_slot: TimeSlot,
    block: &BlockActivity<'_>,
    curr_validators: &ValidatorsData,
    available: &[&WorkReport],
    accumulated: &BTreeMap<ServiceId, (u32, Gas)>,
) -> Statistics {
    let (vals_curr, vals_last) = update_validator_stats(
        params,
        prior_slot,
        &prior.vals_curr,
        &prior.vals_last,
        block,
        curr_validators,
    );
    let incoming: Vec<&WorkReport> = block
        .extrinsic
        .guarantees
        .iter()
        .map(|g| &g.report)
        .collect();
    Statistics {
        vals_curr,
        vals_last,
        cores: core_stats(params, &incoming, available, &block.extrinsic.assurances),
        services: service_stats(&block.extrinsic.preimages, &incoming, accumulated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::types::{Preimage, ValidatorData};

    fn keys(p: &Params) -> ValidatorsData {
        FixedVec::new(
            (0..p.validators())
                .map(|i| {
                    let mut v = ValidatorData::default();
                    v.ed25519.0[0] = i as u8 + 1;
                    v
                })
                .collect(),
        )
    }

    #[test]
    fn author_and_epoch_rollover() {
        let p = Params::tiny();
        let v = keys(&p);
        let one = ValidatorActivityRecord {
            blocks: 5,
            ..Default::default()
        };
        let curr: ValidatorsStatistics = FixedVec::filled(&p, one);
        let last: ValidatorsStatistics = FixedVec::filled(&p, ValidatorActivityRecord::default());
        let ext = Extrinsic {
            preimages: vec![Preimage {
                requester: 1,
                blob: vec![0; 7].into(),
            }],
            ..Default::default()
        };
        let reporters = [v[2].ed25519];
        let block = BlockActivity {
            slot: 13,
            author_index: 1,
            extrinsic: &ext,
            reporters: &reporters,
        };
        // Same epoch (slot 12 -> 13 with E = 12).
        let (c, l) = update_validator_stats(&p, 12, &curr, &last, &block, &v);
        assert_eq!(c[1].blocks, 6);
        assert_eq!((c[1].pre_images, c[1].pre_images_size), (1, 7));
        assert_eq!(c[2].guarantees, 1);
        assert_eq!(l, last);
        // New epoch (slot 11 -> 13).
        let (c, l) = update_validator_stats(&p, 11, &curr, &last, &block, &v);
        assert_eq!(l, curr);
        assert_eq!(c[1].blocks, 1);
        assert_eq!(c[0], ValidatorActivityRecord::default());
    }
}
