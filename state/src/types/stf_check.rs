#![cfg(test)]
// TEMPORARY: checks state types against STF vectors' pre_state. Not to be committed.
use super::*;
use crate::codec::*;
use crate::jam_codec;
use crate::params::Params;
use serde::Serialize;

jam_codec! { #[derive(Debug, Serialize)] struct SafInput { slot: TimeSlot, entropy: Entropy, extrinsic: TicketsExtrinsic } }
jam_codec! { #[derive(Debug, Serialize)] struct SafState { tau: TimeSlot, eta: EntropyBuffer, lambda: ValidatorsData, kappa: ValidatorsData, gamma_k: ValidatorsData, iota: ValidatorsData, gamma_a: TicketsAccumulator, gamma_s: TicketsOrKeys, gamma_z: BandersnatchRingCommitment, post_offenders: Vec<Ed25519Public> } }
jam_codec! { #[derive(Debug, Serialize)] struct DisInput { disputes: DisputesExtrinsic } }
jam_codec! { #[derive(Debug, Serialize)] struct DisState { psi: DisputesRecords, rho: AvailabilityAssignments, tau: TimeSlot, kappa: ValidatorsData, lambda: ValidatorsData } }
jam_codec! { #[derive(Debug, Serialize)] struct HisInput { header_hash: HeaderHash, parent_state_root: StateRoot, accumulate_root: OpaqueHash, work_packages: Vec<ReportedWorkPackage> } }
jam_codec! { #[derive(Debug, Serialize)] struct HisState { beta: RecentBlocks } }
jam_codec! { #[derive(Debug, Serialize)] struct RepInput { guarantees: GuaranteesExtrinsic, slot: TimeSlot, known_packages: Vec<WorkPackageHash> } }
jam_codec! { #[derive(Debug, Serialize)] struct Account { service: ServiceInfo } }
jam_codec! { #[derive(Debug, Serialize)] struct AccEntry { id: ServiceId, data: Account } }
jam_codec! { #[derive(Debug, Serialize)] struct RepState { avail_assignments: AvailabilityAssignments, curr_validators: ValidatorsData, prev_validators: ValidatorsData, entropy: EntropyBuffer, offenders: Vec<Ed25519Public>, recent_blocks: RecentBlocks, auth_pools: AuthPools, accounts: Vec<AccEntry>, cores_statistics: CoresStatistics, services_statistics: ServicesStatistics } }
jam_codec! { #[derive(Debug, Serialize)] struct AccInput { slot: TimeSlot, reports: Vec<WorkReport> } }
jam_codec! { #[derive(Debug, Serialize)] struct AccStatePart { slot: TimeSlot, entropy: Entropy, ready_queue: ReadyQueue, accumulated: AccumulatedQueue, privileges: Privileges, statistics: ServicesStatistics } }

fn run<I: Decode + Encode + Serialize, S: Decode + Encode + Serialize>(suite: &str, partial: bool) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/jam-test-vectors/stf").join(suite);
    let mut n = 0;
    for cfg in ["tiny", "full"] {
        let p = Params::from_name(cfg).unwrap();
        for e in std::fs::read_dir(dir.join(cfg)).unwrap() {
            let path = e.unwrap().path();
            if path.extension().unwrap() != "bin" { continue; }
            let bytes = std::fs::read(&path).unwrap();
            let mut r = Reader::new(&bytes, &p);
            let i = I::decode(&mut r).unwrap_or_else(|e| panic!("{}: input {e}", path.display()));
            let s = S::decode(&mut r).unwrap_or_else(|e| panic!("{}: state {e}", path.display()));
            let mut re = i.encode(); re.extend(s.encode());
            assert_eq!(&re[..], &bytes[..re.len()], "{}", path.display());
            if cfg == "tiny" {
                let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap()).unwrap();
                assert_eq!(serde_json::to_value(&i).unwrap(), j["input"], "{} input", path.display());
                let mut exp = j["pre_state"].clone();
                let got = serde_json::to_value(&s).unwrap();
                if partial { exp.as_object_mut().unwrap().retain(|k, _| got.get(k).is_some()); }
                assert_eq!(got, exp, "{} state", path.display());
            }
            n += 1;
        }
    }
    eprintln!("{suite}: {n} ok");
}
trait EncCheck { fn encode_check(&self) -> Vec<u8>; }
impl<T: Encode> EncCheck for T { fn encode_check(&self) -> Vec<u8> { self.encode() } }

#[test]
fn stf_states() {
    run::<SafInput, SafState>("safrole", false);
    run::<DisInput, DisState>("disputes", false);
    run::<HisInput, HisState>("history", false);
    run::<RepInput, RepState>("reports", false);
    run::<AccInput, AccStatePart>("accumulate", true);
}
