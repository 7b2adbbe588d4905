//! Disputes: verdicts, culprits and faults, and the judgment records ψ (GP section 10, eqs. 10.1-10.20).

use crate::crypto::{ed25519_first_invalid, Ed25519Item, JAM_GUARANTEE, JAM_INVALID, JAM_VALID};
use jam_state::codec::Encode;
use jam_state::hash::blake2b_256;
use jam_state::params::Params;
use jam_state::types::{
    AvailabilityAssignments, DisputesExtrinsic, DisputesRecords, Ed25519Public, TimeSlot,
    ValidatorData, WorkReportHash,
};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Why a disputes extrinsic is invalid. Variants map one-to-one to the vector error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DisputesError {
    #[error("verdict target already judged")]
    AlreadyJudged,
    #[error("verdict positive vote count is not 0, V/3 or 2V/3+1")]
    BadVoteSplit,
    #[error("verdicts not sorted by report hash or not unique")]
    VerdictsNotSortedUnique,
    #[error("judgements not sorted by validator index or not unique")]
    JudgementsNotSortedUnique,
    #[error("culprits not sorted by key or not unique")]
    CulpritsNotSortedUnique,
    #[error("faults not sorted by key or not unique")]
    FaultsNotSortedUnique,
    #[error("bad verdict without at least two culprits")]
    NotEnoughCulprits,
    #[error("good verdict without any fault")]
    NotEnoughFaults,
    #[error("culprit for a report that is not judged bad")]
    CulpritsVerdictNotBad,
    #[error("fault vote does not contradict the verdict")]
    FaultVerdictWrong,
    #[error("offender already in the punish-set")]
    OffenderAlreadyReported,
    #[error("verdict epoch is neither the current nor the previous one")]
    BadJudgementAge,
    #[error("judgement validator index out of range")]
    BadValidatorIndex,
    #[error("invalid Ed25519 signature")]
    BadSignature,
    #[error("culprit key is not a known validator key")]
    BadGuarantorKey,
    #[error("fault key is not a known validator key")]
    BadAuditorKey,
}

impl DisputesError {
    /// The error code of the test vectors' `ErrorCode` enumeration.
    pub fn code(&self) -> u8 {
        match self {
            DisputesError::AlreadyJudged => 0,
            DisputesError::BadVoteSplit => 1,
            DisputesError::VerdictsNotSortedUnique => 2,
            DisputesError::JudgementsNotSortedUnique => 3,
            DisputesError::CulpritsNotSortedUnique => 4,
            DisputesError::FaultsNotSortedUnique => 5,
            DisputesError::NotEnoughCulprits => 6,
            DisputesError::NotEnoughFaults => 7,
            DisputesError::CulpritsVerdictNotBad => 8,
            DisputesError::FaultVerdictWrong => 9,
            DisputesError::OffenderAlreadyReported => 10,
            DisputesError::BadJudgementAge => 11,
            DisputesError::BadValidatorIndex => 12,
            DisputesError::BadSignature => 13,
            DisputesError::BadGuarantorKey => 14,
            DisputesError::BadAuditorKey => 15,
        }
    }

    /// The error from its vector code.
    pub fn from_code(code: u8) -> Option<Self> {
        use DisputesError::*;
        const ALL: [DisputesError; 16] = [
            AlreadyJudged,
            BadVoteSplit,
            VerdictsNotSortedUnique,
            JudgementsNotSortedUnique,
            CulpritsNotSortedUnique,
            FaultsNotSortedUnique,
            NotEnoughCulprits,
            NotEnoughFaults,
            CulpritsVerdictNotBad,
            FaultVerdictWrong,
            OffenderAlreadyReported,
            BadJudgementAge,
            BadValidatorIndex,
            BadSignature,
            BadGuarantorKey,
            BadAuditorKey,
        ];
        ALL.get(code as usize).copied()
    }
}

/// The outcome of a verdict: its report hash was judged good, bad or wonky (eq. 10.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerdictKind {
    /// floor(2V/3) + 1 positive judgments.
    Good,
    /// Zero positive judgments.
    Bad,
    /// floor(V/3) positive judgments.
    Wonky,
}

/// The posterior components of a successful disputes transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputesPosterior {
    /// ψ': the judgment records.
    pub psi: DisputesRecords,
    /// ρ†: pending reports with those judged bad or wonky removed (eq. 10.15).
    pub rho: AvailabilityAssignments,
    /// H_o: the offenders marker, culprit keys then fault keys in extrinsic order (eq. 10.20).
    pub offenders_mark: Vec<Ed25519Public>,
}

/// `true` when `items` are strictly increasing by `key` (sorted and unique).
fn strictly_ascending<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> bool {
    items.windows(2).all(|w| key(&w[0]) < key(&w[1]))
}

/// Applies the disputes extrinsic `ext` to ψ and ρ (GP section 10).
///
/// `tau` is the prior timeslot τ, `kappa` and `lambda` the current (κ) and previous (λ)
/// validator sets. On error nothing is changed (the inputs are only borrowed).
pub fn transition(
    params: &Params,
    psi: &DisputesRecords,
    rho: &AvailabilityAssignments,
    tau: TimeSlot,
    kappa: &[ValidatorData],
    lambda: &[ValidatorData],
    ext: &DisputesExtrinsic,
) -> Result<DisputesPosterior, DisputesError> {
    let v_count = params.validators();
    let super_majority = v_count * 2 / 3 + 1;
    let wonky_votes = v_count / 3;
    let current_epoch = tau / params.epoch_length;

    // Verdicts: ordered by report hash, unique, and not amongst past judged reports (eq. 10.7, 10.8).
    if !strictly_ascending(&ext.verdicts, |v| v.target) {
        return Err(DisputesError::VerdictsNotSortedUnique);
    }
    // Past verdicts, by report hash (the records may be long; build the index once).
    let past: HashMap<&WorkReportHash, VerdictKind> =
        if ext.verdicts.is_empty() && ext.culprits.is_empty() && ext.faults.is_empty() {
            HashMap::new()
        } else {
            let good = psi.good.iter().map(|h| (h, VerdictKind::Good));
            let bad = psi.bad.iter().map(|h| (h, VerdictKind::Bad));
            let wonky = psi.wonky.iter().map(|h| (h, VerdictKind::Wonky));
            good.chain(bad).chain(wonky).collect()
        };

    let mut signatures: Vec<(&[u8; 32], Vec<u8>, &[u8; 64])> = Vec::new();
    let mut outcomes: Vec<(WorkReportHash, VerdictKind)> = Vec::with_capacity(ext.verdicts.len());
    for verdict in &ext.verdicts {
        if past.contains_key(&verdict.target) {
            return Err(DisputesError::AlreadyJudged);
        }
        // Eq. 10.3: the key set is κ for the current epoch, λ for the previous one.
        let keys = if verdict.age == current_epoch {
            kappa
        } else if current_epoch.checked_sub(1) == Some(verdict.age) {
            lambda
        } else {
            return Err(DisputesError::BadJudgementAge);
        };
        // Eq. 10.2: exactly floor(2V/3) + 1 judgments (the codec guarantees it for decoded
        // extrinsics; any other count cannot be a valid split).
        if verdict.votes.len() != super_majority {
            return Err(DisputesError::BadVoteSplit);
        }
        // Eq. 10.9: judgments ordered by validator index, no duplicates.
        if !strictly_ascending(&verdict.votes, |j| j.index) {
            return Err(DisputesError::JudgementsNotSortedUnique);
        }
        let mut positive = 0usize;
        for j in &verdict.votes {
            let idx = j.index as usize;
            if idx >= v_count || idx >= keys.len() {
                return Err(DisputesError::BadValidatorIndex);
            }
            positive += usize::from(j.vote);
            let context = if j.vote { JAM_VALID } else { JAM_INVALID };
            signatures.push((
                &keys[idx].ed25519.0,
                [context, &verdict.target[..]].concat(),
                &j.signature.0,
            ));
        }
        // Eq. 10.10-10.11: the positive count decides good, bad or wonky.
        let kind = if positive == super_majority {
            VerdictKind::Good
        } else if positive == 0 {
            VerdictKind::Bad
        } else if positive == wonky_votes {
            VerdictKind::Wonky
        } else {
            return Err(DisputesError::BadVoteSplit);
        };
        outcomes.push((verdict.target, kind));
    }

    let new_kind: HashMap<WorkReportHash, VerdictKind> = outcomes.iter().copied().collect();
    let in_bad = |h: &WorkReportHash| {
        past.get(h) == Some(&VerdictKind::Bad) || new_kind.get(h) == Some(&VerdictKind::Bad)
    };
    let in_good = |h: &WorkReportHash| {
        past.get(h) == Some(&VerdictKind::Good) || new_kind.get(h) == Some(&VerdictKind::Good)
    };

    // Eq. 10.6: offender keys must be keys of κ or λ, and not already punished.
    let known: HashSet<&Ed25519Public> = kappa
        .iter()
        .chain(lambda.iter())
        .map(|v| &v.ed25519)
        .collect();
    let punished: HashSet<&Ed25519Public> = psi.offenders.iter().collect();

    // Culprits: ordered by key, unique (eq. 10.8); each guaranteed a report judged bad (eq. 10.5).
    if !strictly_ascending(&ext.culprits, |c| c.key) {
        return Err(DisputesError::CulpritsNotSortedUnique);
    }
    for c in &ext.culprits {
        if !known.contains(&c.key) {
            return Err(DisputesError::BadGuarantorKey);
        }
        if punished.contains(&c.key) {
            return Err(DisputesError::OffenderAlreadyReported);
        }
        if !in_bad(&c.target) {
            return Err(DisputesError::CulpritsVerdictNotBad);
        }
        signatures.push((
            &c.key.0,
            [JAM_GUARANTEE, &c.target[..]].concat(),
            &c.signature.0,
        ));
    }

    // Faults: ordered by key, unique; the vote contradicts the verdict (eq. 10.6).
    if !strictly_ascending(&ext.faults, |f| f.key) {
        return Err(DisputesError::FaultsNotSortedUnique);
    }
    for f in &ext.faults {
        if !known.contains(&f.key) {
            return Err(DisputesError::BadAuditorKey);
        }
        if punished.contains(&f.key) {
            return Err(DisputesError::OffenderAlreadyReported);
        }
        // r ∈ ψ_b' ⇔ r ∉ ψ_g' ⇔ v.
        let bad = in_bad(&f.target);
        let not_good = !in_good(&f.target);
        if bad != not_good || not_good != f.vote {
            return Err(DisputesError::FaultVerdictWrong);
        }
        let context = if f.vote { JAM_VALID } else { JAM_INVALID };
        signatures.push((&f.key.0, [context, &f.target[..]].concat(), &f.signature.0));
    }

    // Eq. 10.13-10.14: a good verdict needs a fault, a bad one at least two culprits.
    for (target, kind) in &outcomes {
        match kind {
            VerdictKind::Good => {
                if !ext.faults.iter().any(|f| f.target == *target) {
                    return Err(DisputesError::NotEnoughFaults);
                }
            }
            VerdictKind::Bad => {
                if ext.culprits.iter().filter(|c| c.target == *target).count() < 2 {
                    return Err(DisputesError::NotEnoughCulprits);
                }
            }
            VerdictKind::Wonky => {}
        }
    }

    // All signatures, verified in parallel (eqs. 10.3, 10.5, 10.6).
    let items: Vec<Ed25519Item<'_>> = signatures
        .iter()
        .map(|(public, message, signature)| Ed25519Item {
            public,
            message,
            signature,
        })
        .collect();
    if ed25519_first_invalid(&items).is_some() {
        return Err(DisputesError::BadSignature);
    }

    // Eq. 10.15: clear pending reports judged bad or wonky.
    let mut rho_post = rho.clone();
    for slot in rho_post.iter_mut() {
        let clear = match slot {
            Some(assignment) => {
                let hash = WorkReportHash::from(blake2b_256(&assignment.report.encode()));
                matches!(
                    new_kind.get(&hash),
                    Some(VerdictKind::Bad | VerdictKind::Wonky)
                )
            }
            None => false,
        };
        if clear {
            *slot = None;
        }
    }

    // Eqs. 10.16-10.19: the records assimilate the new verdicts and offenders.
    let merge = |old: &[WorkReportHash], kind: VerdictKind| -> Vec<WorkReportHash> {
        let mut set: BTreeSet<WorkReportHash> = old.iter().copied().collect();
        set.extend(outcomes.iter().filter(|(_, k)| *k == kind).map(|(h, _)| *h));
        set.into_iter().collect()
    };
    let offenders_mark: Vec<Ed25519Public> = ext
        .culprits
        .iter()
        .map(|c| c.key)
        .chain(ext.faults.iter().map(|f| f.key))
        .collect();
    let mut offenders: BTreeSet<Ed25519Public> = psi.offenders.iter().copied().collect();
    offenders.extend(offenders_mark.iter().copied());

    Ok(DisputesPosterior {
        psi: DisputesRecords {
            good: merge(&psi.good, VerdictKind::Good),
            bad: merge(&psi.bad, VerdictKind::Bad),
            wonky: merge(&psi.wonky, VerdictKind::Wonky),
            offenders: offenders.into_iter().collect(),
        },
        rho: rho_post,
        offenders_mark,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jam_state::types::{
        AvailabilityAssignment, Culprit, Ed25519Signature, Fault, Judgement, OpaqueHash, Verdict,
        WorkReport,
    };

    fn key(seed: u8) -> ed25519_zebra::SigningKey {
        ed25519_zebra::SigningKey::from([seed; 32])
    }
    fn public(seed: u8) -> Ed25519Public {
        Ed25519Public(<[u8; 32]>::from(ed25519_zebra::VerificationKey::from(
            &key(seed),
        )))
    }
    fn sign(seed: u8, context: &[u8], target: &WorkReportHash) -> Ed25519Signature {
        Ed25519Signature(key(seed).sign(&[context, &target[..]].concat()).to_bytes())
    }
    /// Six validators with keys seeded `base + i`.
    fn validators(base: u8) -> Vec<ValidatorData> {
        (0..6)
            .map(|i| ValidatorData {
                ed25519: public(base + i),
                ..Default::default()
            })
            .collect()
    }
    fn verdict(
        target: WorkReportHash,
        age: u32,
        base: u8,
        positive: usize,
        params: &Params,
    ) -> Verdict {
        let votes = (0..params.super_majority())
            .map(|i| {
                let vote = i < positive;
                let ctx = if vote { JAM_VALID } else { JAM_INVALID };
                Judgement {
                    vote,
                    index: i as u16,
                    signature: sign(base + i as u8, ctx, &target),
                }
            })
            .collect();
        Verdict { target, age, votes }
    }
    fn culprit(target: WorkReportHash, seed: u8) -> Culprit {
        Culprit {
            target,
            key: public(seed),
            signature: sign(seed, JAM_GUARANTEE, &target),
        }
    }
    fn fault(target: WorkReportHash, vote: bool, seed: u8) -> Fault {
        let ctx = if vote { JAM_VALID } else { JAM_INVALID };
        Fault {
            target,
            vote,
            key: public(seed),
            signature: sign(seed, ctx, &target),
        }
    }
    fn sorted_culprits(mut c: Vec<Culprit>) -> Vec<Culprit> {
        c.sort_by_key(|c| c.key);
        c
    }

    struct Setup {
        params: Params,
        kappa: Vec<ValidatorData>,
        lambda: Vec<ValidatorData>,
        rho: AvailabilityAssignments,
    }
    fn setup() -> Setup {
        let params = Params::tiny();
        let rho = AvailabilityAssignments::filled(&params, None);
        Setup {
            params,
            kappa: validators(1),
            lambda: validators(11),
            rho,
        }
    }
    fn run(
        s: &Setup,
        psi: &DisputesRecords,
        tau: TimeSlot,
        ext: &DisputesExtrinsic,
    ) -> Result<DisputesPosterior, DisputesError> {
        transition(&s.params, psi, &s.rho, tau, &s.kappa, &s.lambda, ext)
    }

    #[test]
    fn error_codes_round_trip() {
        for code in 0..16u8 {
            assert_eq!(DisputesError::from_code(code).unwrap().code(), code);
        }
        assert_eq!(DisputesError::from_code(16), None);
    }

    #[test]
    fn good_verdict_needs_a_fault_and_records_it() {
        let s = setup();
        let target = OpaqueHash([7; 32]);
        let mut ext = DisputesExtrinsic {
            verdicts: vec![verdict(target, 0, 1, 5, &s.params)],
            ..Default::default()
        };
        assert_eq!(
            run(&s, &DisputesRecords::default(), 3, &ext),
            Err(DisputesError::NotEnoughFaults)
        );
        // A fault must contradict the verdict: a `true` vote on a good report is no fault.
        ext.faults = vec![fault(target, true, 6)];
        assert_eq!(
            run(&s, &DisputesRecords::default(), 3, &ext),
            Err(DisputesError::FaultVerdictWrong)
        );
        ext.faults = vec![fault(target, false, 6)];
        let post = run(&s, &DisputesRecords::default(), 3, &ext).unwrap();
        assert_eq!(post.psi.good, vec![target]);
        assert_eq!(post.psi.offenders, vec![public(6)]);
        assert_eq!(post.offenders_mark, vec![public(6)]);
        // The same verdict again is already judged.
        assert_eq!(
            run(&s, &post.psi, 3, &ext),
            Err(DisputesError::AlreadyJudged)
        );
    }

    #[test]
    fn verdict_age_selects_the_key_set() {
        let s = setup();
        let target = OpaqueHash([9; 32]);
        let e = s.params.epoch_length;
        // Signed by λ (seeds 11..): valid with age = current epoch - 1.
        let ext = DisputesExtrinsic {
            verdicts: vec![verdict(target, 1, 11, 2, &s.params)],
            ..Default::default()
        };
        let post = run(&s, &DisputesRecords::default(), 2 * e, &ext).unwrap();
        assert_eq!(post.psi.wonky, vec![target]);
        // The same signatures checked against κ fail.
        let ext_now = DisputesExtrinsic {
            verdicts: vec![verdict(target, 2, 11, 2, &s.params)],
            ..Default::default()
        };
        assert_eq!(
            run(&s, &DisputesRecords::default(), 2 * e, &ext_now),
            Err(DisputesError::BadSignature)
        );
        // Two epochs back, a future epoch, or a previous epoch before epoch 0.
        for (tau, age) in [(3 * e, 1), (2 * e, 3), (0, u32::MAX)] {
            let ext = DisputesExtrinsic {
                verdicts: vec![verdict(target, age, 11, 2, &s.params)],
                ..Default::default()
            };
            assert_eq!(
                run(&s, &DisputesRecords::default(), tau, &ext),
                Err(DisputesError::BadJudgementAge)
            );
        }
    }

    #[test]
    fn vote_split_and_judgement_order() {
        let s = setup();
        let target = OpaqueHash([3; 32]);
        for positive in [1, 3, 4] {
            let ext = DisputesExtrinsic {
                verdicts: vec![verdict(target, 0, 1, positive, &s.params)],
                ..Default::default()
            };
            assert_eq!(
                run(&s, &DisputesRecords::default(), 0, &ext),
                Err(DisputesError::BadVoteSplit)
            );
        }
        // Too few judgements.
        let mut v = verdict(target, 0, 1, 0, &s.params);
        v.votes.pop();
        let ext = DisputesExtrinsic {
            verdicts: vec![v],
            ..Default::default()
        };
        assert_eq!(
            run(&s, &DisputesRecords::default(), 0, &ext),
            Err(DisputesError::BadVoteSplit)
        );
        // Duplicate judge.
        let mut v = verdict(target, 0, 1, 0, &s.params);
        v.votes[1] = v.votes[0].clone();
        let ext = DisputesExtrinsic {
            verdicts: vec![v],
            ..Default::default()
        };
        assert_eq!(
            run(&s, &DisputesRecords::default(), 0, &ext),
            Err(DisputesError::JudgementsNotSortedUnique)
        );
        // Judge index out of range.
        let mut v = verdict(target, 0, 1, 0, &s.params);
        v.votes[4].index = 6;
        let ext = DisputesExtrinsic {
            verdicts: vec![v],
            ..Default::default()
        };
        assert_eq!(
            run(&s, &DisputesRecords::default(), 0, &ext),
            Err(DisputesError::BadValidatorIndex)
        );
    }

    #[test]
    fn bad_verdict_clears_rho_and_culprits_may_follow_later() {
        let mut s = setup();
        let report = WorkReport {
            core_index: 1,
            ..Default::default()
        };
        let target = WorkReportHash::from(blake2b_256(&report.encode()));
        s.rho[1] = Some(AvailabilityAssignment { report, timeout: 0 });
        let ext = DisputesExtrinsic {
            verdicts: vec![verdict(target, 0, 1, 0, &s.params)],
            culprits: sorted_culprits(vec![culprit(target, 2)]),
            faults: vec![],
        };
        assert_eq!(
            run(&s, &DisputesRecords::default(), 0, &ext),
            Err(DisputesError::NotEnoughCulprits)
        );
        let ext = DisputesExtrinsic {
            culprits: sorted_culprits(vec![culprit(target, 2), culprit(target, 12)]),
            ..ext
        };
        let post = run(&s, &DisputesRecords::default(), 0, &ext).unwrap();
        assert_eq!(post.psi.bad, vec![target]);
        assert!(post.rho.iter().all(Option::is_none));
        let mut expected: Vec<_> = ext.culprits.iter().map(|c| c.key).collect();
        assert_eq!(post.offenders_mark, expected);
        expected.sort();
        assert_eq!(post.psi.offenders, expected);

        // A later block may report another guarantor of the recorded bad report.
        let later = DisputesExtrinsic {
            culprits: vec![culprit(target, 3)],
            ..Default::default()
        };
        let post2 = run(&s, &post.psi, 0, &later).unwrap();
        assert_eq!(post2.offenders_mark, vec![public(3)]);
        // ...but not one already punished, nor an unknown key.
        let again = DisputesExtrinsic {
            culprits: vec![culprit(target, 2)],
            ..Default::default()
        };
        assert_eq!(
            run(&s, &post.psi, 0, &again),
            Err(DisputesError::OffenderAlreadyReported)
        );
        let stranger = DisputesExtrinsic {
            culprits: vec![culprit(target, 40)],
            ..Default::default()
        };
        assert_eq!(
            run(&s, &post.psi, 0, &stranger),
            Err(DisputesError::BadGuarantorKey)
        );
    }

    #[test]
    fn good_verdict_keeps_rho() {
        let mut s = setup();
        let report = WorkReport {
            core_index: 0,
            ..Default::default()
        };
        let target = WorkReportHash::from(blake2b_256(&report.encode()));
        s.rho[0] = Some(AvailabilityAssignment { report, timeout: 0 });
        let ext = DisputesExtrinsic {
            verdicts: vec![verdict(target, 0, 1, 5, &s.params)],
            culprits: vec![],
            faults: vec![fault(target, false, 12)],
        };
        let post = run(&s, &DisputesRecords::default(), 0, &ext).unwrap();
        assert_eq!(post.rho, s.rho);
    }
}
