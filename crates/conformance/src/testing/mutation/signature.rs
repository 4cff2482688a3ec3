//! SPEC.md §4 for tokens: the cases of ECT-KEY-1 (`Mutation::KeyUnknown`: a `kid` the verifier
//! does not trust), ECT-KEY-2 (`IssuerMismatch`), ECT-SIG-1 (`SignatureEncoding`) and ECT-SIG-2
//! (`SignatureInvalid`). Trusted key sets themselves (ECT-KEY-3) are in `keys`.

use super::Mutator;
use crate::fixtures::{P256_ORDER, der_signature};
use crate::testing::{Stage, attacker_key, to_bytes};
use wimse_ect::base64url::{decode as b64_decode, encode as b64_encode};

impl Mutator {
    pub(super) fn key_unknown(&mut self) -> Stage {
        let t = self.target();
        let own = self.wf.steps[t].header["kid"]
            .as_str()
            .expect("a kid")
            .to_owned();
        let kid = match self.rng.below(6) {
            0 => "unknown".to_owned(),
            1 => format!("../../keys/{own}"),
            2 => own.to_uppercase(),
            3 => format!("{own} "),
            4 => "' OR '1'='1".to_owned(),
            _ => "k".repeat(10_000),
        };
        let mut header = self.wf.steps[t].header.clone();
        header.insert("kid".into(), kid.clone().into());
        self.sign_header(t, header);
        self.describe(format!("kid {:?}", &kid[..kid.len().min(40)]));
        Stage::Step(t)
    }

    pub(super) fn issuer_mismatch(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let own = this.wf.steps[t].claims.iss.clone();
            let others: Vec<String> = this
                .wf
                .agents
                .iter()
                .map(|a| a.iss.clone())
                .filter(|i| *i != own)
                .collect();
            let iss = match this.rng.below(3) {
                0 if !others.is_empty() => this.rng.pick(&others).clone(),
                0 | 1 => format!("{own}/"),
                _ => "spiffe://example.org/impostor".to_owned(),
            };
            this.wf.steps[t].claims.iss = iss.clone();
            format!("iss {iss:?}")
        })
    }

    pub(super) fn signature_encoding(&mut self) -> Stage {
        let t = self.target();
        let token = self.wf.steps[t].token.clone();
        let (head, signature) = token.rsplit_once('.').expect("three segments");
        let sig = b64_decode(signature.as_bytes()).expect("a signature");
        let (variant, bad): (&str, Vec<u8>) = match self.rng.below(9) {
            0 => ("DER", der_signature(&sig)),
            1 => ("63 bytes", sig[1..].to_vec()),
            2 => ("65 bytes", [&sig[..], &[0]].concat()),
            3 => ("r = 0", [&[0; 32][..], &sig[32..]].concat()),
            4 => ("s = 0", [&sig[..32], &[0; 32][..]].concat()),
            5 => ("r = n", [&P256_ORDER[..], &sig[32..]].concat()),
            6 => ("s = n", [&sig[..32], &P256_ORDER[..]].concat()),
            7 => ("all zero", vec![0; 64]),
            _ => ("r = 2^256 - 1", [&[0xff; 32][..], &sig[32..]].concat()),
        };
        self.wf.steps[t].token = format!("{head}.{}", b64_encode(&bad));
        self.describe(variant);
        Stage::Step(t)
    }

    pub(super) fn signature_invalid(&mut self) -> Stage {
        let t = self.target();
        let token = self.wf.steps[t].token.clone();
        let (head, signature) = token.rsplit_once('.').expect("three segments");
        let variant = match self.rng.below(4) {
            0 => {
                // The payload changed after signing.
                let mut payload = self.payload(t);
                let act = format!("{}!", self.wf.steps[t].claims.exec_act);
                payload.insert("exec_act".into(), act.into());
                let (header, _) = head.split_once('.').expect("three segments");
                self.wf.steps[t].token =
                    format!("{header}.{}.{signature}", b64_encode(&to_bytes(&payload)));
                "a tampered payload under the old signature"
            }
            1 => {
                let key = &self.wf.agents[self.wf.steps[t].agent].key;
                let other = key.sign(format!("{head}x").as_bytes());
                self.wf.steps[t].token = format!("{head}.{}", b64_encode(&other));
                "the signature of another message"
            }
            2 if t > 0 => {
                let earlier = &self.wf.steps[self.rng.below(t)].token;
                let (_, theirs) = earlier.rsplit_once('.').expect("three segments");
                self.wf.steps[t].token = format!("{head}.{theirs}");
                "an earlier token's signature"
            }
            _ => {
                let other = attacker_key().sign(head.as_bytes());
                self.wf.steps[t].token = format!("{head}.{}", b64_encode(&other));
                "signed by an untrusted key under the trusted kid"
            }
        };
        self.describe(variant);
        Stage::Step(t)
    }
}
