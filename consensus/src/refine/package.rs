//! Work-package limits (GP v0.7.2 §14.3, eqs. 14.2–14.6): items, exports, imports, extrinsics,
//! bundle size and gas; and the import-reference tag `h⊞` (C.34).

use jam_state::params::Params;
use jam_state::types::{ImportSpec, OpaqueHash, WorkItem, WorkPackage};
use thiserror::Error;

/// Why a work package is not acceptable (GP §14.3).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PackageError {
    /// `p_w ∈ ⟦W⟧_{1:I}`: no work items.
    #[error("work package has no work items")]
    NoItems,
    /// `p_w ∈ ⟦W⟧_{1:I}`: more than `I` work items.
    #[error("work package has {count} work items, at most {max} allowed")]
    TooManyItems { count: usize, max: usize },
    /// Eq. 14.4: `Σ w_e ≤ W_X`.
    #[error("work package exports {total} segments, at most {max} allowed")]
    TooManyExports { total: u64, max: u64 },
    /// Eq. 14.4: `Σ |w_i| ≤ W_M`.
    #[error("work package imports {total} segments, at most {max} allowed")]
    TooManyImports { total: u64, max: u64 },
    /// Eq. 14.4: `Σ |w_x| ≤ T`.
    #[error("work package has {total} extrinsics, at most {max} allowed")]
    TooManyExtrinsics { total: u64, max: u64 },
    /// Eq. 14.5: `|p_j| + |p_f| + Σ S(w) ≤ W_B`.
    #[error("work bundle would be {size} octets, at most {max} allowed")]
    BundleTooLarge { size: u64, max: u64 },
    /// Eq. 14.6: `Σ w_a < G_A`.
    #[error("total accumulate gas {total} is not below G_A = {max}")]
    AccumulateGasTooHigh { total: u128, max: u64 },
    /// Eq. 14.6: `Σ w_g < G_R`.
    #[error("total refine gas {total} is not below G_R = {max}")]
    RefineGasTooHigh { total: u128, max: u64 },
}

/// The tag bit of an encoded import index marking `h⊞` (a work-package hash, not a root).
pub const PACKAGE_HASH_TAG: u16 = 1 << 15;

/// An import reference `(r ∈ H ∪ H⊞, n)` (eq. 14.3) decoded from its [`ImportSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImportRef {
    /// A segments root `r ∈ H`.
    Root(OpaqueHash, u16),
    /// `h⊞`: the hash of the exporting work package, resolved through the segment-root lookup.
    Package(OpaqueHash, u16),
}

impl ImportRef {
    /// Reads the tag out of the index (C.34: `h⊞` is encoded with `n + 2^15`).
    pub fn from_spec(spec: &ImportSpec) -> Self {
        if spec.index & PACKAGE_HASH_TAG != 0 {
            ImportRef::Package(spec.tree_root, spec.index & !PACKAGE_HASH_TAG)
        } else {
            ImportRef::Root(spec.tree_root, spec.index)
        }
    }
    /// The segment index `n`.
    pub fn index(&self) -> u16 {
        match self {
            ImportRef::Root(_, n) | ImportRef::Package(_, n) => *n,
        }
    }
}

/// `W_G + 32⌈log2(W_M)⌉` (eq. 14.5): the bundle footprint of one import.
pub fn segment_footprint(params: &Params) -> u64 {
    let m = (params.max_imports as u64).max(1);
    let log = 64 - (m - 1).leading_zeros() as u64;
    params.segment_size() as u64 + 32 * log
}

/// `S(w)` of eq. 14.5: payload, imports (with proofs) and extrinsic octets of an item.
fn item_footprint(params: &Params, w: &WorkItem) -> u64 {
    let x: u64 = w.extrinsic.iter().map(|e| e.len as u64).sum();
    w.payload.len() as u64 + w.import_segments.len() as u64 * segment_footprint(params) + x
}

/// Checks the limits of GP §14.3 on `p`.
pub fn check_package(params: &Params, p: &WorkPackage) -> Result<(), PackageError> {
    let items = &p.items;
    if items.is_empty() {
        return Err(PackageError::NoItems);
    }
    if items.len() > params.max_work_items as usize {
        return Err(PackageError::TooManyItems {
            count: items.len(),
            max: params.max_work_items as usize,
        });
    }
    let exports: u64 = items.iter().map(|w| w.export_count as u64).sum();
    if exports > params.max_exports as u64 {
        return Err(PackageError::TooManyExports {
            total: exports,
            max: params.max_exports as u64,
        });
    }
    let imports: u64 = items.iter().map(|w| w.import_segments.len() as u64).sum();
    if imports > params.max_imports as u64 {
        return Err(PackageError::TooManyImports {
            total: imports,
            max: params.max_imports as u64,
        });
    }
    let xts: u64 = items.iter().map(|w| w.extrinsic.len() as u64).sum();
    if xts > params.max_package_extrinsics as u64 {
        return Err(PackageError::TooManyExtrinsics {
            total: xts,
            max: params.max_package_extrinsics as u64,
        });
    }
    let size = p.authorization.len() as u64
        + p.authorizer_config.len() as u64
        + items.iter().map(|w| item_footprint(params, w)).sum::<u64>();
    if size > params.max_bundle_size as u64 {
        return Err(PackageError::BundleTooLarge {
            size,
            max: params.max_bundle_size as u64,
        });
    }
    let acc: u128 = items.iter().map(|w| w.accumulate_gas_limit as u128).sum();
    if acc >= params.max_accumulate_gas as u128 {
        return Err(PackageError::AccumulateGasTooHigh {
            total: acc,
            max: params.max_accumulate_gas,
        });
    }
    let refine: u128 = items.iter().map(|w| w.refine_gas_limit as u128).sum();
    if refine >= params.max_refine_gas as u128 {
        return Err(PackageError::RefineGasTooHigh {
            total: refine,
            max: params.max_refine_gas,
        });
    }
    Ok(())
}
