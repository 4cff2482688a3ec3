//! ECT-KEY-3, loading the verifier's trusted key set: the cases of `Mutation::KeySetInvalid` (a
//! private part, an off-curve point, another curve, `kty` `oct`, a short coordinate, a duplicate
//! `kid`), refused at [`Stage::KeySet`] with `key.invalid`.

use super::Mutator;
use crate::testing::{Stage, agent_key};
use wimse_ect::base64url::{decode as b64_decode, encode as b64_encode};

impl Mutator {
    pub(super) fn key_set_invalid(&mut self) -> Stage {
        let keys = self.wf.jwks["keys"].as_array_mut().expect("keys");
        let k = self.rng.below(keys.len());
        let key = keys[k].as_object_mut().expect("a JWK");
        let variant = match self.rng.below(6) {
            0 => {
                let d = agent_key(k).to_private_jwk()["d"].clone();
                key.insert("d".into(), d);
                "a private part"
            }
            1 => {
                let mut x = b64_decode(key["x"].as_str().expect("x").as_bytes()).expect("b64");
                x[31] ^= 1;
                key.insert("x".into(), b64_encode(&x).into());
                "a point off the curve"
            }
            2 => {
                key.insert("crv".into(), "P-384".into());
                "crv P-384"
            }
            3 => {
                key.insert("kty".into(), "oct".into());
                "kty oct"
            }
            4 => {
                let x = b64_decode(key["x"].as_str().expect("x").as_bytes()).expect("b64");
                key.insert("x".into(), b64_encode(&x[1..]).into());
                "a 31-byte x"
            }
            _ => {
                let copy = keys[k].clone();
                keys.push(copy);
                "a duplicate kid"
            }
        };
        self.describe(format!("key {k}: {variant}"));
        Stage::KeySet
    }
}
