//! The JOSE header of an ECT (ECT-HDR-1..5), parsed strictly.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::profile::Profile;

/// A JWS signature algorithm this crate can verify.
///
/// There is deliberately no variant for `none` or any symmetric algorithm: they cannot be
/// configured (ECT-HDR-2).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4).
    Es256,
}

impl Algorithm {
    /// The registered `alg` value, e.g. `"ES256"`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
        }
    }
}

/// A checked ECT JOSE header.
///
/// Parameters other than `typ`, `alg`, `crit` and `kid` (e.g. `jwk`, `jku`, `x5u`, `x5c`,
/// `x5t`) are ignored and never used to find or trust a key (ECT-HDR-5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    alg: Algorithm,
    typ: String,
    kid: String,
}

impl Header {
    /// Applies ECT-HDR-1..4, in that order, to a parsed header object, accepting the
    /// algorithms in `allowed`. A header says nothing until the signature it names verified:
    /// [`crate::Verifier`] checks both.
    pub fn parse(
        map: &Map<String, Value>,
        profile: &Profile,
        allowed: &[Algorithm],
    ) -> Result<Header> {
        // ECT-HDR-1 (ECT-P01-1 in draft-01): `typ` is the profile's media type, or its legacy one.
        let typ = match map.get("typ") {
            Some(Value::String(typ)) => typ,
            Some(_) => return Err(Error::Typ("typ is not a string".into())),
            None => return Err(Error::Typ("typ is missing".into())),
        };
        if !typ_matches(typ, profile.typ)
            && !profile
                .legacy_typ
                .is_some_and(|legacy| typ_matches(typ, legacy))
        {
            return Err(Error::Typ(format!("{typ:?} is not {:?}", profile.typ)));
        }
        // ECT-HDR-2: `alg` in the allowlist, case-sensitive. `none` and `HS*` can never be in
        // it: `Algorithm` has no such variant.
        let alg = match map.get("alg") {
            Some(Value::String(alg)) => alg,
            Some(_) => return Err(Error::Alg("alg is not a string".into())),
            None => return Err(Error::Alg("alg is missing".into())),
        };
        let alg = allowed
            .iter()
            .copied()
            .find(|a| a.name() == alg)
            .ok_or_else(|| Error::Alg(format!("{alg:?} is not allowed")))?;
        // ECT-HDR-3: no `crit` at all, since this profile defines no extension parameters.
        if map.contains_key("crit") {
            return Err(Error::Crit);
        }
        // ECT-HDR-4: `kid` is a non-empty string.
        let kid = match map.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
            _ => return Err(Error::Kid),
        };
        Ok(Header {
            alg,
            typ: typ.clone(),
            kid,
        })
    }

    /// The header [`crate::EctBuilder`] writes, as JSON bytes:
    /// `{"alg":"ES256","kid":...,"typ":...}` with the profile's `typ`.
    pub fn to_json(kid: &str, profile: &Profile) -> Vec<u8> {
        let mut map = Map::new();
        map.insert("alg".into(), Algorithm::Es256.name().into());
        map.insert("kid".into(), kid.into());
        map.insert("typ".into(), profile.typ.into());
        serde_json::to_vec(&map).expect("a map of strings serializes")
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The `typ` value exactly as the token wrote it.
    pub fn typ(&self) -> &str {
        &self.typ
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// ECT-HDR-1 comparison. Media types compare case-insensitively (RFC 2045 §5.1), and per RFC
/// 7515 §4.1.9 a `typ` without `/` means `application/` + value. Nothing else (parameters,
/// whitespace, other types) matches.
fn typ_matches(typ: &str, expected: &str) -> bool {
    let subtype = match typ.split_once('/') {
        Some((top, sub)) if top.eq_ignore_ascii_case("application") => sub,
        Some(_) => return false,
        None => typ,
    };
    subtype.eq_ignore_ascii_case(expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::DRAFT_00;

    fn parse(json: &str) -> Result<Header> {
        let map = crate::json::parse_object(json.as_bytes()).unwrap();
        Header::parse(&map, &DRAFT_00, &[Algorithm::Es256])
    }

    fn code(json: &str) -> &'static str {
        parse(json).map_or_else(|e| e.code(), |_| "ok")
    }

    /// ECT-P01-1: `exec+jwt` (written by the builder) and the legacy `wimse-exec+jwt`, each in
    /// its `application/` form and any case; draft-00 accepts only its own.
    #[test]
    fn draft_01_typ_values() {
        use crate::profile::DRAFT_01;
        let header = |typ: &str| {
            crate::json::parse_object(
                format!(r#"{{"typ":"{typ}","alg":"ES256","kid":"k"}}"#).as_bytes(),
            )
            .unwrap()
        };
        for typ in [
            "exec+jwt",
            "application/exec+jwt",
            "EXEC+JWT",
            "wimse-exec+jwt",
            "Application/WIMSE-exec+jwt",
        ] {
            let parsed = Header::parse(&header(typ), &DRAFT_01, &[Algorithm::Es256]).unwrap();
            assert_eq!(parsed.typ(), typ);
        }
        for typ in [
            "jwt",
            "exec",
            "text/exec+jwt",
            "exec+jwt; x=1",
            "application/",
        ] {
            assert_eq!(
                Header::parse(&header(typ), &DRAFT_01, &[Algorithm::Es256]),
                Err(Error::Typ(format!("{typ:?} is not \"exec+jwt\"")))
            );
        }
        assert_eq!(
            Header::parse(&header("exec+jwt"), &DRAFT_00, &[Algorithm::Es256]),
            Err(Error::Typ(r#""exec+jwt" is not "wimse-exec+jwt""#.into()))
        );
        let written = crate::json::parse_object(&Header::to_json("k", &DRAFT_01)).unwrap();
        assert_eq!(written["typ"], "exec+jwt");
    }

    #[test]
    fn typ_variants() {
        let ok = |typ: &str| format!(r#"{{"typ":"{typ}","alg":"ES256","kid":"k"}}"#);
        assert_eq!(code(&ok("wimse-exec+jwt")), "ok");
        assert_eq!(code(&ok("application/wimse-exec+jwt")), "ok");
        assert_eq!(code(&ok("Application/WIMSE-Exec+JWT")), "ok");
        assert_eq!(code(&ok("exec+jwt")), "header.typ");
        assert_eq!(code(&ok("JWT")), "header.typ");
        assert_eq!(code(&ok("text/wimse-exec+jwt")), "header.typ");
        assert_eq!(
            code(&ok("application/application/wimse-exec+jwt")),
            "header.typ"
        );
        assert_eq!(code(&ok("wimse-exec+jwt; charset=utf-8")), "header.typ");
        assert_eq!(code(&ok(" wimse-exec+jwt")), "header.typ");
        assert_eq!(code(r#"{"alg":"ES256","kid":"k"}"#), "header.typ");
        assert_eq!(code(r#"{"typ":1,"alg":"ES256","kid":"k"}"#), "header.typ");
    }

    #[test]
    fn alg_crit_kid() {
        let h = |rest: &str| format!(r#"{{"typ":"wimse-exec+jwt"{rest}}}"#);
        for alg in [
            "none", "None", "NONE", "HS256", "es256", "ES384", "RS256", "EdDSA", "",
        ] {
            assert_eq!(
                code(&h(&format!(r#","alg":"{alg}","kid":"k""#))),
                "header.alg"
            );
        }
        assert_eq!(code(&h(r#","kid":"k""#)), "header.alg");
        assert_eq!(code(&h(r#","alg":["ES256"],"kid":"k""#)), "header.alg");
        assert_eq!(
            code(&h(r#","alg":"ES256","kid":"k","crit":[]"#)),
            "header.crit"
        );
        assert_eq!(
            code(&h(r#","alg":"ES256","kid":"k","crit":["b64"],"b64":false"#)),
            "header.crit"
        );
        assert_eq!(code(&h(r#","alg":"ES256""#)), "header.kid");
        assert_eq!(code(&h(r#","alg":"ES256","kid":"""#)), "header.kid");
        assert_eq!(code(&h(r#","alg":"ES256","kid":7"#)), "header.kid");
        let parsed = parse(&h(
            r#","alg":"ES256","kid":"k","jku":"https://x","x5u":"y""#,
        ))
        .unwrap();
        assert_eq!(parsed.kid(), "k");
        assert_eq!(parsed.alg(), Algorithm::Es256);
    }

    #[test]
    fn empty_allowlist_refuses_everything() {
        let map = crate::json::parse_object(br#"{"typ":"wimse-exec+jwt","alg":"ES256","kid":"k"}"#)
            .unwrap();
        assert_eq!(
            Header::parse(&map, &DRAFT_00, &[]).unwrap_err().code(),
            "header.alg"
        );
    }
}
