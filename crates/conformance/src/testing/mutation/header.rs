//! SPEC.md §3, the JOSE header: the cases of ECT-HDR-1 (`Mutation::Typ`), ECT-HDR-2 (`Alg`),
//! ECT-HDR-3 (`Crit`), ECT-HDR-4 (`Kid`) and ECT-HDR-5 (`EmbeddedKey`: a key the header embeds
//! or points to, which the verifier ignores, so the signature fails as ECT-SIG-2).

use serde_json::{Value, json};

use super::{Mutation, Mutator};
use crate::testing::{Stage, attacker_key, sign_json};

impl Mutator {
    pub(super) fn header_param(&mut self, m: Mutation) -> Stage {
        let t = self.target();
        let (name, values): (&str, Vec<Option<Value>>) = match m {
            // ECT-P01-1: neither exec+jwt nor the legacy wimse-exec+jwt, in any form.
            Mutation::P01Typ => (
                "typ",
                vec![
                    None,
                    Some(json!("JWT")),
                    Some(json!(42)),
                    Some(json!(["exec+jwt"])),
                    Some(json!("application/jwt")),
                    Some(json!("")),
                    Some(json!("exec+jwt; charset=utf-8")),
                    Some(json!("exec+jwt ")),
                    Some(json!("wimse+jwt")),
                    Some(json!("exec-jwt")),
                    Some(json!("application/application/exec+jwt")),
                    Some(json!("text/exec+jwt")),
                    Some(json!("wimse-exec")),
                ],
            ),
            Mutation::Typ => (
                "typ",
                vec![
                    None,
                    Some(json!("JWT")),
                    Some(json!(42)),
                    Some(json!("exec+jwt")),
                    Some(json!("application/jwt")),
                    Some(json!("")),
                    Some(json!("wimse-exec+jwt; charset=utf-8")),
                    Some(json!("wimse-exec+jwt ")),
                ],
            ),
            Mutation::Alg => (
                "alg",
                vec![
                    None,
                    Some(json!("none")),
                    Some(json!("None")),
                    Some(json!("HS256")),
                    Some(json!("ES384")),
                    Some(json!("RS256")),
                    Some(json!("EdDSA")),
                    Some(json!("es256")),
                    Some(json!(256)),
                ],
            ),
            Mutation::Crit => (
                "crit",
                vec![
                    Some(json!([])),
                    Some(json!(["b64"])),
                    Some(json!(["exp"])),
                    Some(json!("b64")),
                ],
            ),
            _ => (
                "kid",
                vec![
                    None,
                    Some(json!("")),
                    Some(json!(7)),
                    Some(Value::Null),
                    Some(json!(["agent-0"])),
                ],
            ),
        };
        let value = self.rng.pick(&values).clone();
        let mut header = self.wf.steps[t].header.clone();
        match &value {
            Some(v) => header.insert(name.into(), v.clone()),
            None => header.remove(name),
        };
        if name == "crit" && value == Some(json!(["b64"])) {
            header.insert("b64".into(), false.into());
        }
        self.sign_header(t, header);
        self.describe(match value {
            Some(v) => format!("{name} {v}"),
            None => format!("no {name}"),
        });
        Stage::Step(t)
    }

    pub(super) fn embedded_key(&mut self) -> Stage {
        let t = self.target();
        let attacker = attacker_key();
        let mut header = self.wf.steps[t].header.clone();
        let (name, value) = match self.rng.below(4) {
            0 => ("jwk", Value::Object(attacker.to_public_jwk(None))),
            1 => ("jku", json!("https://attacker.example/jwks.json")),
            2 => ("x5u", json!("https://attacker.example/cert.pem")),
            _ => ("x5c", json!(["MIIBattackerCertificate"])),
        };
        header.insert(name.into(), value);
        self.wf.steps[t].header = header;
        let payload = self.payload(t);
        self.wf.steps[t].token = sign_json(&self.wf.steps[t].header, &payload, &attacker);
        self.describe(format!("signed by the attacker's key, named by {name}"));
        Stage::Step(t)
    }
}
