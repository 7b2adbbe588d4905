//! The extrinsics of an authored block: E_P (pooled preimages, [`super::preimages`]), E_A
//! (assurances, [`super::availability`]) and E_G (guarantees, [`super::guarantor`]) are
//! filled in together, the header re-hashed and re-sealed, and the block dry-run imported
//! once. If that fails, the failing part is dropped (the one the import error names, else
//! guarantees, then assurances, then preimages) and the rest tried again, so that a bad
//! extrinsic never costs the author its block. Dropped guarantees and preimages leave their
//! pools, except guarantees dropped only because the assurances that freed their core were.

use super::{lock, short, ChainTask};
use jam_consensus::author::{claim_slot, seal_header};
use jam_consensus::import::{check_guarantee, extrinsic_hash, import_block, ImportError};
use jam_state::state::State;
use jam_state::types::{
    Block, Extrinsic, Preimage, ReportGuarantee, WorkExecResult, WorkPackageHash,
};
use std::collections::HashSet;
use std::sync::Arc;

/// An extrinsic part the author may drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Guarantees,
    Assurances,
    Preimages,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Guarantees => "guarantees",
            Part::Assurances => "assurances",
            Part::Preimages => "preimages",
        }
    }
}

/// Which part to drop after error `e`, of those `present`: the one the error is about, else
/// guarantees, then assurances, then preimages; `None` when none is present.
fn to_drop(present: &[Part], e: &ImportError) -> Option<Part> {
    let named = match e {
        ImportError::Reports(_) | ImportError::UnknownLookupAnchor { .. } => Some(Part::Guarantees),
        ImportError::Assurances(_) => Some(Part::Assurances),
        ImportError::Preimages(_) => Some(Part::Preimages),
        _ => None,
    };
    named.filter(|p| present.contains(p)).or_else(|| {
        [Part::Guarantees, Part::Assurances, Part::Preimages]
            .into_iter()
            .find(|p| present.contains(p))
    })
}

/// The parts of `x` that hold something.
fn present(x: &Extrinsic) -> Vec<Part> {
    let mut v = Vec::new();
    if !x.guarantees.is_empty() {
        v.push(Part::Guarantees);
    }
    if !x.assurances.is_empty() {
        v.push(Part::Assurances);
    }
    if !x.preimages.is_empty() {
        v.push(Part::Preimages);
    }
    v
}

impl ChainTask {
    /// `block` (as authored on `state`, its parent's posterior state) with the pooled
    /// preimages in E_P, the assurances in E_A and the pending guarantees in E_G, resealed and
    /// dry-run imported once; on failure with what imports after dropping parts (see the
    /// module docs), at worst `block` as it is.
    pub(super) async fn with_extrinsics(&mut self, block: Block, state: &Arc<State>) -> Block {
        let slot = block.header.slot;
        let preimages = super::preimages::for_block(&self.sh, state);
        let assurances = self
            .sh
            .availability
            .select(&block.header.parent, &state.availability);
        // Guarantees no block could include (GP §11.4) leave the pool here, one by one,
        // rather than failing the whole E_G at the dry run.
        let root = block.header.parent_state_root;
        let params = &self.sh.params;
        let includable = |g: &ReportGuarantee| {
            check_guarantee(params, state, root, g, slot).map_err(|e| e.to_string())
        };
        let (guarantees, refused) =
            lock(&self.sh.guarantees).select(params, state, slot, &assurances, includable);
        for (g, why) in refused {
            self.sh.log(format_args!(
                "slot {slot}: guarantee for package {} dropped: {why}",
                super::short(&g.report.package_spec.hash)
            ));
        }
        if preimages.is_empty() && assurances.is_empty() && guarantees.is_empty() {
            return block;
        }
        // The guarantees still valid without E_A (the others are for cores E_A frees).
        let without_a: HashSet<WorkPackageHash> = lock(&self.sh.guarantees)
            .select(params, state, slot, &[], includable)
            .0
            .iter()
            .map(|g| g.report.package_spec.hash)
            .collect();
        let (params, ring, keys, st) = (
            self.sh.params.clone(),
            self.ring.clone(),
            self.keys.clone(),
            state.clone(),
        );
        let mut ctx = self.import_ctx.clone();
        ctx.parent_hash = Some(block.header.parent);
        ctx.prior_state_root = Some(block.header.parent_state_root);
        let plain = block.clone();
        // (the block, or the plain one if it came to that; the parts dropped, with why)
        let r = tokio::task::spawn_blocking(move || {
            let mut dropped: Vec<Dropped> = Vec::new();
            let claim = match claim_slot(&params, &ring, &st, slot, &keys) {
                Ok(Some(c)) => c,
                Ok(None) => return Err("slot no longer ours".to_string()),
                Err(e) => return Err(e.to_string()),
            };
            let mut b = block;
            b.extrinsic.preimages = preimages;
            b.extrinsic.assurances = assurances;
            b.extrinsic.guarantees = guarantees;
            loop {
                if present(&b.extrinsic).is_empty() {
                    // Nothing of ours left: the block as authored.
                    return Ok((None, dropped));
                }
                b.header.extrinsic_hash = extrinsic_hash(&b.extrinsic);
                let err = match seal_header(&mut b.header, &keys, &claim) {
                    Err(err) => return Err(err.to_string()),
                    Ok(()) => match import_block(&params, &ctx, &st, &b) {
                        Ok(_) => return Ok((Some(b), dropped)),
                        Err(err) => err,
                    },
                };
                let Some(part) = to_drop(&present(&b.extrinsic), &err) else {
                    return Ok((None, dropped));
                };
                let x = &mut b.extrinsic;
                let mut d = Dropped {
                    part,
                    why: err.to_string(),
                    guarantees: Vec::new(),
                    preimages: Vec::new(),
                };
                match part {
                    Part::Guarantees => d.guarantees = std::mem::take(&mut x.guarantees),
                    Part::Assurances => {
                        x.assurances.clear();
                        // Kept in the pool: they may go into a later block.
                        let n = x.guarantees.len();
                        x.guarantees
                            .retain(|g| without_a.contains(&g.report.package_spec.hash));
                        if x.guarantees.len() < n {
                            d.why += &format!(
                                " (and {} guarantee(s) for the cores it freed)",
                                n - x.guarantees.len()
                            );
                        }
                    }
                    Part::Preimages => d.preimages = std::mem::take(&mut x.preimages),
                }
                dropped.push(d);
            }
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        let (b, dropped) = match r {
            Ok(r) => r,
            Err(e) => {
                self.sh
                    .log(format_args!("slot {slot}: extrinsics dropped: {e}"));
                return plain;
            }
        };
        for d in dropped {
            self.sh.log(format_args!(
                "slot {slot}: {} dropped: {}",
                d.part.name(),
                d.why
            ));
            // Not offered again.
            lock(&self.sh.guarantees).prune(&self.sh.params, &d.guarantees, slot);
            lock(&self.sh.preimages).remove(&d.preimages);
        }
        let Some(b) = b else { return plain };
        let x = &b.extrinsic;
        if !x.preimages.is_empty() {
            let octets: usize = x.preimages.iter().map(|p| p.blob.0.len()).sum();
            self.sh.log(format_args!(
                "slot {slot}: {} preimage(s) in E_P ({octets} octets)",
                x.preimages.len()
            ));
        }
        if !x.assurances.is_empty() {
            self.sh.log(format_args!(
                "slot {slot}: {} assurance(s) in E_A",
                x.assurances.len()
            ));
        }
        for g in &x.guarantees {
            let outputs: Vec<String> = g
                .report
                .results
                .iter()
                .map(|r| match &r.result {
                    WorkExecResult::Ok(o) => format!("0x{}", hex::encode(&o.0)),
                    e => format!("{e:?}"),
                })
                .collect();
            self.sh.log(format_args!(
                "slot {slot}: E_G: core {} package {} signatures {} output {}",
                g.report.core_index,
                short(&g.report.package_spec.hash),
                g.signatures.len(),
                outputs.join(",")
            ));
        }
        if !x.guarantees.is_empty() {
            self.sh.log(format_args!(
                "slot {slot}: {} guarantee(s) in E_G",
                x.guarantees.len()
            ));
        }
        b
    }
}

/// A part dropped from an authored block's extrinsic, why, and what to take out of its pool.
struct Dropped {
    part: Part,
    why: String,
    guarantees: Vec<ReportGuarantee>,
    preimages: Vec<Preimage>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_consensus::preimages::PreimagesError;

    #[test]
    fn drops_the_part_the_error_names_else_guarantees_assurances_preimages() {
        use Part::*;
        let bad_p = ImportError::Preimages(PreimagesError::PreimageUnneeded);
        let other = ImportError::BadSeal;
        let all = [Guarantees, Assurances, Preimages];
        assert_eq!(to_drop(&all, &bad_p), Some(Preimages));
        assert_eq!(to_drop(&all, &other), Some(Guarantees));
        assert_eq!(to_drop(&[Assurances, Preimages], &other), Some(Assurances));
        // Named but absent: the default order.
        assert_eq!(to_drop(&[Assurances], &bad_p), Some(Assurances));
        assert_eq!(to_drop(&[], &other), None);
        let mut x = Extrinsic::default();
        assert!(present(&x).is_empty());
        x.preimages.push(Preimage {
            requester: 0,
            blob: jam_state::codec::Bytes(vec![1]),
        });
        assert_eq!(present(&x), vec![Preimages]);
    }
}
