//! Chain parameters (GP v0.7.2 Appendix I.4.4 constants; JIP-4 chainspec `protocol_parameters`, encoded as in GP B.6 `fetch`).
//!
//! Every constant that differs between the `tiny` and `full` vector configurations lives here;
//! logic must read them from a `Params` value, never bake them in.

use std::path::{Path, PathBuf};

/// Chain parameters. Field names follow the JIP-4 / JIP-2 names; the GP symbol is in each doc.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Human name of the preset ("tiny", "full") or chainspec id.
    pub name: String,
    /// B_I: additional minimum balance per mapping item.
    pub deposit_per_item: u64,
    /// B_L: additional minimum balance per octet of mapping.
    pub deposit_per_byte: u64,
    /// B_S: basic minimum balance of a service.
    pub deposit_per_account: u64,
    /// C: number of cores.
    pub core_count: u16,
    /// D: preimage expunge period (slots).
    pub preimage_expunge_period: u32,
    /// E: epoch length (slots).
    pub epoch_length: u32,
    /// G_A: gas allocated to invoke a work report's accumulation logic.
    pub max_accumulate_gas: u64,
    /// G_I: gas allocated to is-authorized.
    pub max_is_authorized_gas: u64,
    /// G_R: gas allocated to refine.
    pub max_refine_gas: u64,
    /// G_T: total gas allocated across all accumulation in a block.
    pub max_block_gas: u64,
    /// H: size of recent history (blocks).
    pub recent_history_size: u16,
    /// I: maximum work items in a package.
    pub max_work_items: u16,
    /// J: maximum sum of dependency items in a work report.
    pub max_dependencies: u16,
    /// K: maximum tickets in one extrinsic.
    pub max_tickets_per_extrinsic: u16,
    /// L: maximum age (slots) of a lookup anchor.
    pub max_lookup_anchor_age: u32,
    /// N: ticket entries per validator.
    pub tickets_per_validator: u16,
    /// O: maximum items in an authorizer pool.
    pub auth_pool_max_size: u16,
    /// P: slot duration (seconds).
    pub slot_duration: u16,
    /// Q: items in an authorizer queue.
    pub auth_queue_size: u16,
    /// R: rotation period of validator-core assignments (slots).
    pub rotation_period: u16,
    /// T: maximum extrinsics in a work package.
    pub max_package_extrinsics: u16,
    /// U: availability timeout (slots).
    pub availability_timeout: u16,
    /// V: number of validators.
    pub validator_count: u16,
    /// W_A: maximum is-authorized code size (octets).
    pub max_authorizer_code_size: u32,
    /// W_B: maximum work-package bundle size (octets).
    pub max_bundle_size: u32,
    /// W_C: maximum service code size (octets).
    pub max_service_code_size: u32,
    /// W_E: erasure-coded piece size (octets).
    pub ec_piece_size: u32,
    /// W_M: maximum imports in a work package.
    pub max_imports: u32,
    /// W_P: erasure-coded pieces per segment.
    pub ec_pieces_per_segment: u32,
    /// W_R: maximum total work-report blob size (octets).
    pub max_report_output_size: u32,
    /// W_T: transfer memo size (octets).
    pub transfer_memo_size: u32,
    /// W_X: maximum exports in a work package.
    pub max_exports: u32,
    /// Y: ticket submission ends at this slot of an epoch (contest duration).
    pub ticket_contest_duration: u32,
}

/// Why a chain parameter set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("unknown chain preset {0:?} (expected \"tiny\" or \"full\")")]
    UnknownPreset(String),
    #[error("reading chainspec {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("chainspec is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("chainspec field {0:?} missing or not a string")]
    MissingField(&'static str),
    #[error("chainspec field {field:?} is not valid hex: {reason}")]
    BadHex { field: &'static str, reason: String },
    #[error("protocol_parameters: {0} bytes, expected {PROTOCOL_PARAMS_LEN} (GP B.6) or {PROTOCOL_PARAMS_LEN_WIDE}")]
    BadLength(usize),
    #[error("protocol_parameters: invalid value: {0}")]
    Invalid(&'static str),
}

/// Length of the GP B.6 `fetch` (ω10 = 0) parameter blob.
pub const PROTOCOL_PARAMS_LEN: usize = 134;
/// Length of the blob in the JIP-4 example, where H and R are 4-byte fields.
pub const PROTOCOL_PARAMS_LEN_WIDE: usize = 138;

impl Params {
    /// The `tiny` configuration of the test vectors (jam-test-vectors README).
    pub fn tiny() -> Self {
        Params {
            name: "tiny".into(),
            deposit_per_item: 10,
            deposit_per_byte: 1,
            deposit_per_account: 100,
            core_count: 2,
            preimage_expunge_period: 32,
            epoch_length: 12,
            max_accumulate_gas: 10_000_000,
            max_is_authorized_gas: 50_000_000,
            max_refine_gas: 1_000_000_000,
            max_block_gas: 20_000_000,
            recent_history_size: 8,
            max_work_items: 16,
            max_dependencies: 8,
            max_tickets_per_extrinsic: 3,
            max_lookup_anchor_age: 14_400,
            tickets_per_validator: 3,
            auth_pool_max_size: 8,
            slot_duration: 6,
            auth_queue_size: 80,
            rotation_period: 4,
            max_package_extrinsics: 128,
            availability_timeout: 5,
            validator_count: 6,
            max_authorizer_code_size: 64_000,
            max_bundle_size: 13_794_305,
            max_service_code_size: 4_000_000,
            ec_piece_size: 4,
            max_imports: 3_072,
            ec_pieces_per_segment: 1_026,
            max_report_output_size: 48 * 1024,
            transfer_memo_size: 128,
            max_exports: 3_072,
            ticket_contest_duration: 10,
        }
    }

    /// The `full` configuration (GP v0.7.2 constants).
    pub fn full() -> Self {
        Params {
            name: "full".into(),
            deposit_per_item: 10,
            deposit_per_byte: 1,
            deposit_per_account: 100,
            core_count: 341,
            preimage_expunge_period: 19_200,
            epoch_length: 600,
            max_accumulate_gas: 10_000_000,
            max_is_authorized_gas: 50_000_000,
            max_refine_gas: 5_000_000_000,
            max_block_gas: 3_500_000_000,
            recent_history_size: 8,
            max_work_items: 16,
            max_dependencies: 8,
            max_tickets_per_extrinsic: 16,
            max_lookup_anchor_age: 14_400,
            tickets_per_validator: 2,
            auth_pool_max_size: 8,
            slot_duration: 6,
            auth_queue_size: 80,
            rotation_period: 10,
            max_package_extrinsics: 128,
            availability_timeout: 5,
            validator_count: 1023,
            max_authorizer_code_size: 64_000,
            max_bundle_size: 13_794_305,
            max_service_code_size: 4_000_000,
            ec_piece_size: 684,
            max_imports: 3_072,
            ec_pieces_per_segment: 6,
            max_report_output_size: 48 * 1024,
            transfer_memo_size: 128,
            max_exports: 3_072,
            ticket_contest_duration: 500,
        }
    }

    /// `"tiny"` or `"full"`.
    pub fn from_name(name: &str) -> Result<Self, ParamsError> {
        match name {
            "tiny" => Ok(Self::tiny()),
            "full" => Ok(Self::full()),
            other => Err(ParamsError::UnknownPreset(other.to_string())),
        }
    }

    /// Picks the preset from a vector path: one containing a `tiny` or `full` component.
    pub fn from_vector_path(path: &Path) -> Option<Self> {
        path.components()
            .rev()
            .find_map(|c| Self::from_name(c.as_os_str().to_str()?).ok())
    }

    /// V as usize.
    pub fn validators(&self) -> usize {
        self.validator_count as usize
    }
    /// C as usize.
    pub fn cores(&self) -> usize {
        self.core_count as usize
    }
    /// E as usize.
    pub fn epoch_len(&self) -> usize {
        self.epoch_length as usize
    }
    /// Octets of an availability bitfield: ceil(C / 8).
    pub fn bitfield_bytes(&self) -> usize {
        self.cores().div_ceil(8)
    }
    /// floor(2V/3) + 1: votes needed for a super-majority.
    pub fn super_majority(&self) -> usize {
        self.validators() * 2 / 3 + 1
    }
    /// floor(V/3) + 1: one-third plus one, the "wonky" threshold.
    pub fn one_third(&self) -> usize {
        self.validators() / 3 + 1
    }
    /// W_G = W_P * W_E: segment size in octets.
    pub fn segment_size(&self) -> usize {
        self.ec_pieces_per_segment as usize * self.ec_piece_size as usize
    }
    /// Validators assigned to each core (V / C).
    pub fn validators_per_core(&self) -> usize {
        self.validators() / self.cores()
    }

    /// Decodes a GP B.6 (`fetch` ω10 = 0) parameter blob, as found in a JIP-4
    /// chainspec's `protocol_parameters`.
    ///
    /// Layout: E8(B_I, B_L, B_S) E2(C) E4(D, E) E8(G_A, G_I, G_R, G_T) E2(H, I, J, K) E4(L)
    /// E2(N, O, P, Q, R, T, U, V) E4(W_A, W_B, W_C, W_E, W_M, W_P, W_R, W_T, W_X, Y) — 134 bytes.
    /// The 138-byte form of the JIP-4 example (H and R as E4) is also accepted.
    pub fn from_protocol_parameters(bytes: &[u8], name: &str) -> Result<Self, ParamsError> {
        let wide = match bytes.len() {
            PROTOCOL_PARAMS_LEN => false,
            PROTOCOL_PARAMS_LEN_WIDE => true,
            n => return Err(ParamsError::BadLength(n)),
        };
        let mut pos = 0usize;
        let mut take = |n: usize| -> u64 {
            let mut v = 0u64;
            for (i, b) in bytes[pos..pos + n].iter().enumerate() {
                v |= (*b as u64) << (8 * i);
            }
            pos += n;
            v
        };
        let h_width = if wide { 4 } else { 2 };
        let u16f =
            |v: u64, what: &'static str| u16::try_from(v).map_err(|_| ParamsError::Invalid(what));
        let p = Params {
            name: name.to_string(),
            deposit_per_item: take(8),
            deposit_per_byte: take(8),
            deposit_per_account: take(8),
            core_count: take(2) as u16,
            preimage_expunge_period: take(4) as u32,
            epoch_length: take(4) as u32,
            max_accumulate_gas: take(8),
            max_is_authorized_gas: take(8),
            max_refine_gas: take(8),
            max_block_gas: take(8),
            recent_history_size: u16f(take(h_width), "H")?,
            max_work_items: take(2) as u16,
            max_dependencies: take(2) as u16,
            max_tickets_per_extrinsic: take(2) as u16,
            max_lookup_anchor_age: take(4) as u32,
            tickets_per_validator: take(2) as u16,
            auth_pool_max_size: take(2) as u16,
            slot_duration: take(2) as u16,
            auth_queue_size: take(2) as u16,
            rotation_period: u16f(take(h_width), "R")?,
            max_package_extrinsics: take(2) as u16,
            availability_timeout: take(2) as u16,
            validator_count: take(2) as u16,
            max_authorizer_code_size: take(4) as u32,
            max_bundle_size: take(4) as u32,
            max_service_code_size: take(4) as u32,
            ec_piece_size: take(4) as u32,
            max_imports: take(4) as u32,
            ec_pieces_per_segment: take(4) as u32,
            max_report_output_size: take(4) as u32,
            transfer_memo_size: take(4) as u32,
            max_exports: take(4) as u32,
            ticket_contest_duration: take(4) as u32,
        };
        p.validate()?;
        Ok(p)
    }

    /// Encodes the parameters as the 134-byte GP B.6 blob (inverse of `from_protocol_parameters`).
    pub fn to_protocol_parameters(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(PROTOCOL_PARAMS_LEN);
        for v in [
            self.deposit_per_item,
            self.deposit_per_byte,
            self.deposit_per_account,
        ] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        o.extend_from_slice(&self.core_count.to_le_bytes());
        o.extend_from_slice(&self.preimage_expunge_period.to_le_bytes());
        o.extend_from_slice(&self.epoch_length.to_le_bytes());
        for v in [
            self.max_accumulate_gas,
            self.max_is_authorized_gas,
            self.max_refine_gas,
            self.max_block_gas,
        ] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            self.recent_history_size,
            self.max_work_items,
            self.max_dependencies,
            self.max_tickets_per_extrinsic,
        ] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        o.extend_from_slice(&self.max_lookup_anchor_age.to_le_bytes());
        for v in [
            self.tickets_per_validator,
            self.auth_pool_max_size,
            self.slot_duration,
            self.auth_queue_size,
            self.rotation_period,
            self.max_package_extrinsics,
            self.availability_timeout,
            self.validator_count,
        ] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            self.max_authorizer_code_size,
            self.max_bundle_size,
            self.max_service_code_size,
            self.ec_piece_size,
            self.max_imports,
            self.ec_pieces_per_segment,
            self.max_report_output_size,
            self.transfer_memo_size,
            self.max_exports,
            self.ticket_contest_duration,
        ] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        o
    }

    /// Sanity checks that logic relies on (non-zero sizes, Y <= E, C divides V sensibly).
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.validator_count == 0 {
            return Err(ParamsError::Invalid("V must be > 0"));
        }
        if self.core_count == 0 {
            return Err(ParamsError::Invalid("C must be > 0"));
        }
        if self.epoch_length == 0 {
            return Err(ParamsError::Invalid("E must be > 0"));
        }
        if self.ticket_contest_duration > self.epoch_length {
            return Err(ParamsError::Invalid("Y must be <= E"));
        }
        if self.rotation_period == 0 {
            return Err(ParamsError::Invalid("R must be > 0"));
        }
        Ok(())
    }

    /// Loads a JIP-4 chainspec JSON file and decodes its `protocol_parameters`.
    pub fn from_chainspec_file(path: impl AsRef<Path>) -> Result<Self, ParamsError> {
        Ok(ChainSpec::from_file(path)?.params)
    }
}

/// A JIP-4 chainspec: `id`, `bootnodes`, `genesis_header`, `genesis_state`, `protocol_parameters`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    pub id: String,
    pub bootnodes: Vec<String>,
    /// JAM-serialised genesis header (decode with the codec and `params`).
    pub genesis_header: Vec<u8>,
    /// Genesis state: 31-byte state keys to values, in key order.
    pub genesis_state: Vec<([u8; 31], Vec<u8>)>,
    pub params: Params,
}

fn parse_hex(field: &'static str, s: &str) -> Result<Vec<u8>, ParamsError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|e| ParamsError::BadHex {
        field,
        reason: e.to_string(),
    })
}

impl ChainSpec {
    /// Parses a JIP-4 chainspec JSON text.
    pub fn from_json(text: &str) -> Result<Self, ParamsError> {
        let v: serde_json::Value = serde_json::from_str(text)?;
        let str_field = |k: &'static str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .ok_or(ParamsError::MissingField(k))
        };
        let id = str_field("id")?.to_string();
        let pp = parse_hex("protocol_parameters", str_field("protocol_parameters")?)?;
        let params = Params::from_protocol_parameters(&pp, &id)?;
        let genesis_header = match v.get("genesis_header") {
            Some(h) => parse_hex(
                "genesis_header",
                h.as_str()
                    .ok_or(ParamsError::MissingField("genesis_header"))?,
            )?,
            None => Vec::new(),
        };
        let bootnodes = match v.get("bootnodes") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or(ParamsError::MissingField("bootnodes"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(ParamsError::MissingField("bootnodes")),
        };
        let mut genesis_state = Vec::new();
        if let Some(obj) = v.get("genesis_state") {
            let obj = obj
                .as_object()
                .ok_or(ParamsError::MissingField("genesis_state"))?;
            for (k, val) in obj {
                let key = parse_hex("genesis_state", k)?;
                let key: [u8; 31] = key.try_into().map_err(|k: Vec<u8>| ParamsError::BadHex {
                    field: "genesis_state",
                    reason: format!("state key of {} bytes, expected 31", k.len()),
                })?;
                let val = parse_hex(
                    "genesis_state",
                    val.as_str()
                        .ok_or(ParamsError::MissingField("genesis_state"))?,
                )?;
                genesis_state.push((key, val));
            }
            genesis_state.sort();
        }
        Ok(ChainSpec {
            id,
            bootnodes,
            genesis_header,
            genesis_state,
            params,
        })
    }

    /// Reads and parses a JIP-4 chainspec JSON file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ParamsError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ParamsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `protocol_parameters` of the JIP-4 example chainspec.
    const JIP4_EXAMPLE: &str = "0a00000000000000010000000000000064000000000000000200004b00000c000000809698000000000080f0fa020000000000ca9a3b00000000002d310100000000080000001000080003004038000003000800060050000400000080000500060000fa0000017cd20000093d0004000000000c00000204000000c0000080000000000c00000a000000";

    #[test]
    fn derived_helpers() {
        let t = Params::tiny();
        assert_eq!(t.bitfield_bytes(), 1);
        assert_eq!(t.super_majority(), 5);
        let f = Params::full();
        assert_eq!(f.bitfield_bytes(), 43);
        assert_eq!(f.super_majority(), 683);
        assert_eq!(f.segment_size(), 4104);
        assert_eq!(t.segment_size(), 4104);
    }

    #[test]
    fn protocol_parameters_round_trip() {
        for p in [Params::tiny(), Params::full()] {
            let b = p.to_protocol_parameters();
            assert_eq!(b.len(), PROTOCOL_PARAMS_LEN);
            assert_eq!(Params::from_protocol_parameters(&b, &p.name).unwrap(), p);
        }
    }

    #[test]
    fn jip4_example_chainspec() {
        let json = format!(
            r#"{{"id":"testnet","bootnodes":[],"protocol_parameters":"{JIP4_EXAMPLE}","genesis_header":"00","genesis_state":{{"0a000000000000000000000000000000000000000000000000000000000000":"0000"}}}}"#
        );
        let spec = ChainSpec::from_json(&json).unwrap();
        let p = spec.params;
        assert_eq!(
            (p.validator_count, p.core_count, p.epoch_length),
            (6, 2, 12)
        );
        assert_eq!(p.ticket_contest_duration, 10);
        assert_eq!(p.rotation_period, 4);
        assert_eq!(p.ec_pieces_per_segment, 1026);
        assert_eq!(spec.genesis_state.len(), 1);
        let dir = std::env::temp_dir().join(format!("jam-params-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("spec.json");
        std::fs::write(&f, &json).unwrap();
        assert_eq!(Params::from_chainspec_file(&f).unwrap().validator_count, 6);
        assert!(matches!(
            Params::from_chainspec_file(dir.join("missing.json")),
            Err(ParamsError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn presets_by_name_and_path() {
        assert_eq!(Params::from_name("tiny").unwrap(), Params::tiny());
        assert!(Params::from_name("huge").is_err());
        let p = Params::from_vector_path(Path::new("/x/codec/full/block.bin")).unwrap();
        assert_eq!(p.name, "full");
    }
}
