//! Block-import trace vectors (`traces/schema.asn`): [`KeyValue`], [`RawState`], [`TraceStep`] and
//! [`Genesis`], with the GP codec, and the bridge from a raw state to a typed [`State`].

use crate::codec::Bytes;
use crate::jam_codec;
use crate::keys::StateKey;
use crate::params::Params;
use crate::state::{State, StateError};
use crate::types::{Block, Header, StateRoot};
use serde::{Deserialize, Serialize};

jam_codec! {
    /// One state entry: a 31-octet state key and its value.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct KeyValue {
        #[serde(with = "crate::codec::hex_serde")]
        pub key: StateKey,
        pub value: Bytes,
    }
}

jam_codec! {
    /// A serialized state: its root and its key/values.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct RawState {
        pub state_root: StateRoot,
        pub keyvals: Vec<KeyValue>,
    }
}

jam_codec! {
    /// One step of a trace: the state before, the block, the state after.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct TraceStep {
        pub pre_state: RawState,
        pub block: Block,
        pub post_state: RawState,
    }
}

jam_codec! {
    /// A trace's genesis: the genesis header and state.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct Genesis {
        pub header: Header,
        pub state: RawState,
    }
}

impl RawState {
    /// The key/values as pairs, in the stored order.
    pub fn pairs(&self) -> Vec<(StateKey, Vec<u8>)> {
        self.keyvals
            .iter()
            .map(|kv| (kv.key, kv.value.0.clone()))
            .collect()
    }

    /// A raw state of `state` (key/values sorted by key, root computed).
    pub fn from_state(state: &State) -> RawState {
        let keyvals: Vec<KeyValue> = state
            .to_key_values()
            .into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value: Bytes(value),
            })
            .collect();
        let state_root = StateRoot::from(crate::merkle::state_root(
            &keyvals
                .iter()
                .map(|kv| (kv.key, kv.value.as_slice()))
                .collect::<Vec<_>>(),
        ));
        RawState {
            state_root,
            keyvals,
        }
    }

    /// Parses the key/values into a typed [`State`].
    pub fn to_state(&self, params: &Params) -> Result<State, StateError> {
        let pairs: Vec<(StateKey, &[u8])> = self
            .keyvals
            .iter()
            .map(|kv| (kv.key, kv.value.as_slice()))
            .collect();
        State::from_key_values(&pairs, params)
    }

    /// `M_σ` of the key/values (to compare with `state_root`).
    pub fn computed_root(&self) -> StateRoot {
        let pairs: Vec<(StateKey, &[u8])> = self
            .keyvals
            .iter()
            .map(|kv| (kv.key, kv.value.as_slice()))
            .collect();
        StateRoot::from(crate::merkle::state_root(&pairs))
    }
}
