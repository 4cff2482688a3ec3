//! Differential tests against jsonwebtoken 11 (RustCrypto backend, Algorithm::ES256):
//! tokens this crate signs verify in jsonwebtoken with the same claims, and tokens jsonwebtoken
//! signs (with ECT header and claims) verify here with exactly those claims.
//!
//! Time: this crate never reads a clock (`now` is a parameter); jsonwebtoken always reads the
//! system clock when it validates `exp`. For fixed-time tokens (iat/exp around 2026-02-25) the
//! jsonwebtoken side therefore runs with `validate_exp = false` (with `exp` still a required
//! claim), and one token in direction (a) is instead built around the real current time so that
//! jsonwebtoken's own `exp` check runs too.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{DecodingKey, EncodingKey, TokenData, Validation, decode};
use serde_json::{Map, Value, json};
use wimse_ect::base64url::{decode as b64_decode, encode as b64_encode};
use wimse_ect::{
    Audience, Claims, DRAFT_00, EctBuilder, KeySet, Policy, PolicyClaims, PolicyDecision,
    SigningKey, Verifier, sha256_b64url,
};

const NOW: u64 = 1_772_000_000;
const AUD: &str = "spiffe://example.org/verifier";
const OTHER_AUD: &str = "spiffe://example.org/someone-else";
const ISS: &str = "spiffe://example.org/agent-a";
const KID: &str = "agent-a-key-1";
/// A fixed private scalar (any value in 1..n-1 works).
const D: [u8; 32] = [
    0x1f, 0x3a, 0x5c, 0x77, 0x90, 0xa2, 0xb4, 0xc6, 0xd8, 0xea, 0xfc, 0x0e, 0x20, 0x32, 0x44, 0x56,
    0x68, 0x7a, 0x8c, 0x9e, 0xb0, 0xc2, 0xd4, 0xe6, 0xf8, 0x0a, 0x1c, 0x2e, 0x40, 0x52, 0x64, 0x76,
];

fn key() -> SigningKey {
    SigningKey::from_scalar_bytes(KID, &D).unwrap()
}

fn public_xy(key: &SigningKey) -> (String, String) {
    let jwk = key.to_public_jwk(None);
    (
        jwk["x"].as_str().unwrap().to_owned(),
        jwk["y"].as_str().unwrap().to_owned(),
    )
}

/// PKCS#8 (RFC 5208) `PrivateKeyInfo` wrapping an RFC 5915 `ECPrivateKey` for P-256, DER, as
/// jsonwebtoken's `EncodingKey::from_ec_der` expects. Built by hand (fixed-length structure) so
/// that no extra dependency is needed.
fn pkcs8_der(key: &SigningKey) -> Vec<u8> {
    let (x, y) = public_xy(key);
    let (x, y) = (
        b64_decode(x.as_bytes()).unwrap(),
        b64_decode(y.as_bytes()).unwrap(),
    );
    let mut der = vec![
        0x30, 0x81, 0x87, // SEQUENCE, 135 bytes
        0x02, 0x01, 0x00, // INTEGER 0 (version)
        0x30, 0x13, // SEQUENCE AlgorithmIdentifier
        0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
        0x01, // OID 1.2.840.10045.2.1 ecPublicKey
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, // OID prime256v1
        0x04, 0x6d, // OCTET STRING, 109 bytes: ECPrivateKey
        0x30, 0x6b, // SEQUENCE, 107 bytes
        0x02, 0x01, 0x01, // INTEGER 1 (version)
        0x04, 0x20, // OCTET STRING, 32 bytes: d
    ];
    der.extend_from_slice(&D);
    der.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00, 0x04]); // [1] BIT STRING 04||x||y
    der.extend_from_slice(&x);
    der.extend_from_slice(&y);
    assert_eq!(der.len(), 3 + 0x87);
    der
}

fn encoding_key() -> EncodingKey {
    EncodingKey::from_ec_der(&pkcs8_der(&key()))
}

fn decoding_key() -> DecodingKey {
    let (x, y) = public_xy(&key());
    DecodingKey::from_ec_components(&x, &y).unwrap()
}

/// jsonwebtoken validation for a fixed-time token: ES256 only, our audience, `exp`, `iss` and
/// `aud` required, no clock-based `exp` check (see the module comment).
fn fixed_time_validation(audience: &str) -> Validation {
    let mut v = Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[audience]);
    v.set_issuer(&[ISS]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v.validate_exp = false;
    v.validate_nbf = false;
    v
}

fn verifier() -> Verifier {
    let keys = KeySet::from_keys([key().trusted(Some(ISS))]).unwrap();
    Verifier::new(keys, Policy::new(AUD)).unwrap()
}

fn uuid(n: u32) -> String {
    format!("{n:08x}-9dad-41d1-80b4-00c04fd430c8")
}

/// The builders of direction (a): with and without optional claims, string and array `aud`.
fn builders() -> Vec<(&'static str, EctBuilder)> {
    let base = |act: &str| {
        EctBuilder::new(ISS, act)
            .issued_at(NOW)
            .expires_at(NOW + 600)
    };
    let mut ext = Map::new();
    ext.insert("model".into(), json!("gpt-x"));
    ext.insert(
        "nested".into(),
        json!({"a": [1, 2, {"b": null}], "t": true}),
    );
    ext.insert("text".into(), json!("ünïcödé \"quoted\" / \\ \u{1F600}"));
    vec![
        ("minimal", base("fetch_data").audience(AUD).jti(uuid(1))),
        (
            "array aud, parents, wid",
            base("summarize")
                .audiences([OTHER_AUD, AUD])
                .jti(uuid(2))
                .parent(uuid(100))
                .parent(uuid(101))
                .wid(uuid(200)),
        ),
        (
            "every optional claim",
            base("approve_payment")
                .audiences([AUD])
                .jti(uuid(3))
                .parent(uuid(102))
                .wid(uuid(201))
                .inp_hash(sha256_b64url(b"test"))
                .out_hash(sha256_b64url(b"foo"))
                .ext(ext)
                .policy("policy://payments/v2", PolicyDecision::Approved),
        ),
        (
            "pending review, long exp",
            base("human_gate")
                .expires_at(NOW + 86_400)
                .audience(AUD)
                .jti(uuid(4))
                .policy("p", PolicyDecision::PendingHumanReview),
        ),
    ]
}

fn jwt_decode(
    token: &str,
    key: &DecodingKey,
    v: &Validation,
) -> jsonwebtoken::errors::Result<TokenData<Value>> {
    decode::<Value>(token, key, v)
}

#[test]
fn crate_tokens_verify_in_jsonwebtoken() {
    let (x, y) = public_xy(&key());
    // The same key two ways: raw EC components and the crate's own public JWK.
    let from_components = decoding_key();
    let jwk: Jwk = serde_json::from_value(Value::Object(key().to_public_jwk(Some(ISS)))).unwrap();
    let from_jwk = DecodingKey::from_jwk(&jwk).unwrap();
    let validation = fixed_time_validation(AUD);

    for (name, builder) in builders() {
        let token = builder.sign(&key()).unwrap();
        let expected = Value::Object(builder.build().unwrap().to_json(&DRAFT_00));
        for dk in [&from_components, &from_jwk] {
            let data = jwt_decode(&token, dk, &validation)
                .unwrap_or_else(|e| panic!("{name}: jsonwebtoken rejected: {e:?}"));
            assert_eq!(data.claims, expected, "{name}");
            assert_eq!(data.header.alg, jsonwebtoken::Algorithm::ES256);
            assert_eq!(data.header.typ.as_deref(), Some("wimse-exec+jwt"));
            assert_eq!(data.header.kid.as_deref(), Some(KID));
        }
        // And the crate agrees with itself on the same claims.
        let verified = verifier().verify(&token, NOW + 5).unwrap();
        assert_eq!(
            Value::Object(verified.claims().to_json(&DRAFT_00)),
            expected
        );
    }
    // Sanity: the components we handed jsonwebtoken are the crate's.
    assert_eq!(jwk.common.key_id.as_deref(), Some(KID));
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => assert_eq!((&p.x, &p.y), (&x, &y)),
        other => panic!("not an EC JWK: {other:?}"),
    }
}

#[test]
fn crate_token_around_real_time_passes_jsonwebtoken_exp_check() {
    // The only place that reads the clock: jsonwebtoken validates exp against it.
    let now = jsonwebtoken::get_current_timestamp();
    let builder = EctBuilder::new(ISS, "live_task")
        .audience(AUD)
        .jti(uuid(10))
        .issued_at(now)
        .expires_at(now + 300);
    let token = builder.sign(&key()).unwrap();
    let mut v = fixed_time_validation(AUD);
    v.validate_exp = true;
    v.leeway = 0;
    let data = jwt_decode(&token, &decoding_key(), &v).unwrap();
    assert_eq!(
        data.claims,
        Value::Object(builder.build().unwrap().to_json(&DRAFT_00))
    );
    // The crate, given that same `now`, agrees.
    verifier().verify(&token, now).unwrap();
}

#[test]
fn both_reject_the_same_defects() {
    let builder = EctBuilder::new(ISS, "task")
        .audience(AUD)
        .jti(uuid(20))
        .issued_at(1_000_000)
        .expires_at(1_000_600);
    let token = builder.sign(&key()).unwrap();
    let dk = decoding_key();

    // Expired by the real clock: jsonwebtoken (clock) refuses; the crate with an old `now`
    // accepts, with the current time refuses.
    let mut v = fixed_time_validation(AUD);
    v.validate_exp = true;
    assert_eq!(
        jwt_decode(&token, &dk, &v).unwrap_err().kind(),
        &ErrorKind::ExpiredSignature
    );
    verifier().verify(&token, 1_000_010).unwrap();
    let real_now = jsonwebtoken::get_current_timestamp();
    assert_eq!(
        verifier().verify(&token, real_now).unwrap_err().code(),
        "time.expired"
    );

    // Wrong audience.
    assert_eq!(
        jwt_decode(&token, &dk, &fixed_time_validation(OTHER_AUD))
            .unwrap_err()
            .kind(),
        &ErrorKind::InvalidAudience
    );
    let keys = KeySet::from_keys([key().trusted(None)]).unwrap();
    let other = Verifier::new(keys, Policy::new(OTHER_AUD)).unwrap();
    assert_eq!(
        other.verify(&token, 1_000_010).unwrap_err().code(),
        "aud.mismatch"
    );

    // A payload re-encoded with one claim changed, signature kept: both see a bad signature.
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&b64_decode(parts[1].as_bytes()).unwrap()).unwrap();
    claims["exec_act"] = json!("tampered");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64_encode(&serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    assert_eq!(
        jwt_decode(&forged, &dk, &fixed_time_validation(AUD))
            .unwrap_err()
            .kind(),
        &ErrorKind::InvalidSignature
    );
    assert_eq!(
        verifier().verify(&forged, 1_000_010).unwrap_err().code(),
        "sig.invalid"
    );
}

/// Direction (b): claims as jsonwebtoken serializes them, and the crate's view of them.
fn jwt_cases() -> Vec<(&'static str, Value, Claims)> {
    let mk = |aud: Audience, jti: String, act: &str| Claims {
        iss: ISS.into(),
        aud,
        iat: NOW,
        exp: NOW + 600,
        nbf: None,
        jti,
        exec_act: act.into(),
        par: vec![],
        wid: None,
        inp_hash: None,
        out_hash: None,
        ext: None,
        pol: None,
    };
    let ext = json!({"tool": "search", "depth2": {"depth3": {"depth4": {"depth5": "ok"}}}});
    vec![
        (
            "minimal",
            json!({
                "iss": ISS, "aud": AUD, "iat": NOW, "exp": NOW + 600,
                "jti": uuid(30), "exec_act": "fetch_data", "par": []
            }),
            mk(Audience::One(AUD.into()), uuid(30), "fetch_data"),
        ),
        (
            "array aud with parents and wid",
            json!({
                "iss": ISS, "aud": [OTHER_AUD, AUD], "iat": NOW, "exp": NOW + 600,
                "jti": uuid(31), "exec_act": "merge", "par": [uuid(110), uuid(111), uuid(112)],
                "wid": uuid(210)
            }),
            Claims {
                par: vec![uuid(110), uuid(111), uuid(112)],
                wid: Some(uuid(210)),
                ..mk(
                    Audience::Many(vec![OTHER_AUD.into(), AUD.into()]),
                    uuid(31),
                    "merge",
                )
            },
        ),
        (
            "every optional claim, nbf, and ignored sub/custom",
            json!({
                "iss": ISS, "aud": [AUD], "iat": NOW, "exp": NOW + 600,
                "jti": uuid(32), "exec_act": "pay", "par": [uuid(113)],
                "wid": uuid(211),
                "inp_hash": "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg",
                "out_hash": "LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
                "ext": ext,
                "pol": "policy://payments/v2", "pol_decision": "rejected",
                "sub": "ignored", "nbf": NOW, "custom": {"x": [1, 2, 3]}
            }),
            Claims {
                par: vec![uuid(113)],
                wid: Some(uuid(211)),
                inp_hash: Some(sha256_b64url(b"test")),
                out_hash: Some(sha256_b64url(b"foo")),
                ext: Some(ext.as_object().unwrap().clone()),
                pol: Some(PolicyClaims {
                    pol: "policy://payments/v2".into(),
                    decision: PolicyDecision::Rejected,
                }),
                nbf: Some(NOW),
                ..mk(Audience::Many(vec![AUD.into()]), uuid(32), "pay")
            },
        ),
    ]
}

fn jwt_header(typ: Option<&str>) -> jsonwebtoken::Header {
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.typ = typ.map(str::to_owned);
    h.kid = Some(KID.into());
    h
}

#[test]
fn jsonwebtoken_tokens_verify_in_the_crate() {
    let ek = encoding_key();
    for (name, claims, expected) in jwt_cases() {
        for typ in ["wimse-exec+jwt", "application/wimse-exec+jwt"] {
            let token = jsonwebtoken::encode(&jwt_header(Some(typ)), &claims, &ek).unwrap();
            // jsonwebtoken signs r||s (64 bytes), the JWS form.
            let sig = b64_decode(token.rsplit('.').next().unwrap().as_bytes()).unwrap();
            assert_eq!(sig.len(), 64, "{name}");
            // jsonwebtoken accepts its own token (the hand-built PKCS#8 key is right).
            jwt_decode(&token, &decoding_key(), &fixed_time_validation(AUD)).unwrap();

            let verified = verifier()
                .verify(&token, NOW + 5)
                .unwrap_or_else(|e| panic!("{name} / {typ}: {e}"));
            assert_eq!(verified.claims(), &expected, "{name}");
            assert_eq!(verified.header().kid(), KID);
            assert_eq!(verified.header().typ(), typ);
            assert_eq!(verified.token(), token);
        }
    }
}

#[test]
fn jsonwebtoken_key_and_header_edge_cases() {
    let ek = encoding_key();
    // The public JWK jsonwebtoken derives from the private key, given a kid, loads as a trusted
    // key here and is the crate's key.
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&ek, jsonwebtoken::Algorithm::ES256).unwrap())
            .unwrap();
    jwk["kid"] = json!(KID);
    let set = KeySet::from_jwks_json(&serde_json::to_vec(&json!({ "keys": [jwk] })).unwrap())
        .unwrap_or_else(|e| panic!("jsonwebtoken's JWK {jwk} refused: {e}"));
    assert_eq!(set, KeySet::from_keys([key().trusted(None)]).unwrap());

    let (_, claims, _) = jwt_cases().remove(0);
    let code = |header: &jsonwebtoken::Header| {
        let token = jsonwebtoken::encode(header, &claims, &ek).unwrap();
        verifier().verify(&token, NOW + 5).err().map(|e| e.code())
    };
    // jsonwebtoken's default typ "JWT", and no typ at all: ECT-HDR-1.
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some(KID.into());
    assert_eq!(code(&h), Some("header.typ"));
    assert_eq!(code(&jwt_header(None)), Some("header.typ"));
    // No kid: ECT-HDR-4; unknown kid: ECT-KEY-1.
    let mut h = jwt_header(Some("wimse-exec+jwt"));
    h.kid = None;
    assert_eq!(code(&h), Some("header.kid"));
    h.kid = Some("someone-else".into());
    assert_eq!(code(&h), Some("key.unknown"));
    // An embedded jwk (even the right one) is ignored, never trusted: ECT-HDR-5.
    let mut h = jwt_header(Some("wimse-exec+jwt"));
    h.jwk = Some(Jwk::from_encoding_key(&ek, jsonwebtoken::Algorithm::ES256).unwrap());
    assert_eq!(code(&h), None);
    h.kid = Some("someone-else".into());
    assert_eq!(code(&h), Some("key.unknown"));
}
