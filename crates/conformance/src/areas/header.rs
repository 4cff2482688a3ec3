//! SPEC.md §3, the JOSE header: ECT-HDR-1 (`typ`), ECT-HDR-2 (`alg` allowlist; `none`,
//! symmetric algorithms and algorithm confusion), ECT-HDR-3 (`crit` refused), ECT-HDR-4
//! (`kid`, resolved through the trusted key set only: ECT-KEY-1) and ECT-HDR-5 (the JOSE
//! key-injection catalogue: `jwk`, `jku`, `x5u`, `x5c`, `x5t` are ignored). Tokens with several
//! defects follow SPEC.md's order: JWS-1..3, header JSON, HDR-1, HDR-2, HDR-3, HDR-4, KEY-1,
//! SIG-1, SIG-2.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::build::*;
use crate::vector::Verdict;
use wimse_ect::SigningKey;
use wimse_ect::base64url::{decode as b64_decode, encode as b64_encode};

/// The valid claims of task [`uuid`]`(1)` (agent A).
fn payload() -> Map<String, Value> {
    claims(&uuid(1))
}

/// Agent A's default header with `name` set to `value`.
fn hdr_with(name: &str, value: Value) -> Map<String, Value> {
    let mut h = header("agent-a");
    h.insert(name.into(), value);
    h
}

/// Agent A's default header without `name`.
fn hdr_without(name: &str) -> Map<String, Value> {
    let mut h = header("agent-a");
    h.remove(name);
    h
}

/// Agent A's valid claims under header `h`, signed by agent A.
fn by_a(h: &Map<String, Value>) -> String {
    sign(h, &payload(), &key_a())
}

/// Agent A's valid claims under header `h`, signed by the untrusted attacker key.
fn by_attacker(h: &Map<String, Value>) -> String {
    sign(h, &payload(), &attacker())
}

/// Agent A's valid claims under the default header with `typ` set to `typ`, signed by agent A.
fn with_typ(typ: Value) -> String {
    by_a(&hdr_with("typ", typ))
}

/// Agent A's valid claims under the default header with `alg` set to `alg`, signed by agent A
/// with ES256 (whatever `alg` says).
fn alg(alg: Value) -> String {
    by_a(&hdr_with("alg", alg))
}

/// Agent A's valid claims under the default header with `kid` set to `kid`, signed by agent A.
fn kid(kid: Value) -> String {
    by_a(&hdr_with("kid", kid))
}

/// Agent A's valid claims under the default header plus `crit` and the extra parameters
/// `extra`, signed by agent A.
fn crit(crit: Value, extra: &[(&str, Value)]) -> String {
    let mut h = hdr_with("crit", crit);
    for (k, v) in extra {
        h.insert((*k).into(), v.clone());
    }
    by_a(&h)
}

/// HMAC (RFC 2104) with hash `D` of block size `block` bytes.
fn hmac<D: Digest>(key: &[u8], msg: &[u8], block: usize) -> Vec<u8> {
    let mut k = if key.len() > block {
        D::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let mut inner = D::new();
    inner.update(pad(0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = D::new();
    outer.update(pad(0x5c));
    outer.update(inner);
    outer.finalize().to_vec()
}

/// The SEC1 uncompressed encoding `04‖x‖y` of `key`'s public key.
fn sec1(key: &SigningKey) -> Vec<u8> {
    let jwk = key.to_public_jwk(None);
    let coord = |n: &str| b64_decode(jwk[n].as_str().expect("a string").as_bytes()).expect("b64");
    [vec![4], coord("x"), coord("y")].concat()
}

/// The DER SubjectPublicKeyInfo of `key`'s public key (id-ecPublicKey, prime256v1).
fn spki(key: &SigningKey) -> Vec<u8> {
    let prefix: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    [prefix.to_vec(), sec1(key)].concat()
}

/// Agent A's valid claims under header `h` (with `alg` as given), "signed" with HMAC hash `D`
/// keyed with `secret`: the algorithm-confusion attack.
fn hmac_token<D: Digest>(h: &Map<String, Value>, secret: &[u8], block: usize) -> String {
    let input = format!(
        "{}.{}",
        b64_encode(&serde_json::to_vec(h).expect("serializes")),
        b64_encode(&serde_json::to_vec(&to_profile(&payload())).expect("serializes"))
    );
    let mac = hmac::<D>(secret, input.as_bytes(), block);
    format!("{input}.{}", b64_encode(&mac))
}

/// The attacker's public JWK relabelled with `kid` `agent-a`.
fn attacker_jwk_as_a() -> Value {
    let mut jwk = attacker().to_public_jwk(None);
    jwk.insert("kid".into(), "agent-a".into());
    Value::Object(jwk)
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let mut v = typ_vectors();
    v.extend(alg_vectors());
    v.extend(crit_vectors());
    v.extend(kid_vectors());
    v.extend(injection_vectors());
    v
}

/// A vector whose `typ` is `draft-01`'s: `acceptable` (`Draft01Typ`, the reference rejects)
/// in `draft-00`, `valid` in `draft-01` (ECT-P01-1), where it is what the builder writes;
/// `description_01` is its description in `draft-01`.
fn draft01_typ(v: V, description_01: &str) -> V {
    if draft01() {
        v.describe(description_01).valid()
    } else {
        v.acceptable("header.typ", Verdict::Invalid, "Draft01Typ")
    }
}

/// ECT-HDR-1 (ECT-P01-1 in `draft-01`).
fn typ_vectors() -> Vec<V> {
    let h1 = ["ECT-HDR-1"];
    let case = |id: &str, desc: &str, t: &str| {
        V::token(id, desc, &h1, with_typ(json!(t))).acceptable(
            "header.typ",
            Verdict::Valid,
            "TypCase",
        )
    };
    let bad =
        |id: &str, desc: &str, t: Value| V::token(id, desc, &h1, with_typ(t)).invalid("header.typ");
    vec![
        V::token(
            "header/typ/wimse-exec-jwt",
            "typ \"wimse-exec+jwt\"",
            &h1,
            with_typ(json!("wimse-exec+jwt")),
        )
        .valid(),
        V::token(
            "header/typ/application-prefix",
            "typ \"application/wimse-exec+jwt\" (RFC 7515 §4.1.9: the same media type)",
            &h1,
            with_typ(json!("application/wimse-exec+jwt")),
        )
        .valid(),
        case(
            "header/typ/case-upper",
            "typ \"WIMSE-EXEC+JWT\"",
            "WIMSE-EXEC+JWT",
        ),
        case(
            "header/typ/case-mixed",
            "typ \"Wimse-Exec+JWT\"",
            "Wimse-Exec+JWT",
        ),
        case(
            "header/typ/case-application",
            "typ \"Application/WIMSE-exec+jwt\"",
            "Application/WIMSE-exec+jwt",
        ),
        draft01_typ(
            V::token(
                "header/typ/draft-01",
                "typ \"exec+jwt\" (the draft-01 value) in profile draft-00",
                &h1,
                with_typ(json!("exec+jwt")),
            ),
            "typ \"exec+jwt\" (the draft-01 value, what the builder writes)",
        ),
        draft01_typ(
            V::token(
                "header/typ/draft-01-application",
                "typ \"application/exec+jwt\" in profile draft-00",
                &h1,
                with_typ(json!("application/exec+jwt")),
            ),
            "typ \"application/exec+jwt\" (the draft-01 value in its application/ form)",
        ),
        V::token(
            "header/typ/missing",
            "no typ",
            &h1,
            by_a(&hdr_without("typ")),
        )
        .invalid("header.typ"),
        bad("header/typ/number", "typ is the number 1", json!(1)),
        bad("header/typ/null", "typ is null", Value::Null),
        bad(
            "header/typ/array",
            "typ is [\"wimse-exec+jwt\"]",
            json!(["wimse-exec+jwt"]),
        ),
        bad("header/typ/bool", "typ is true", json!(true)),
        bad("header/typ/jwt", "typ \"JWT\"", json!("JWT")),
        bad("header/typ/jwt-lower", "typ \"jwt\"", json!("jwt")),
        bad(
            "header/typ/application-jwt",
            "typ \"application/jwt\"",
            json!("application/jwt"),
        ),
        bad(
            "header/typ/access-token",
            "typ \"at+jwt\" (an OAuth access token)",
            json!("at+jwt"),
        ),
        bad(
            "header/typ/workload-identity",
            "typ \"wimse-id+jwt\" (another WIMSE token type)",
            json!("wimse-id+jwt"),
        ),
        bad(
            "header/typ/parameter",
            "typ \"wimse-exec+jwt; charset=utf-8\" (media-type parameter)",
            json!("wimse-exec+jwt; charset=utf-8"),
        ),
        bad(
            "header/typ/leading-space",
            "typ \" wimse-exec+jwt\"",
            json!(" wimse-exec+jwt"),
        ),
        bad(
            "header/typ/trailing-space",
            "typ \"wimse-exec+jwt \"",
            json!("wimse-exec+jwt "),
        ),
        bad("header/typ/empty", "typ \"\"", json!("")),
        bad(
            "header/typ/other-top-level-type",
            "typ \"text/wimse-exec+jwt\"",
            json!("text/wimse-exec+jwt"),
        ),
        bad(
            "header/typ/double-prefix",
            "typ \"application/application/wimse-exec+jwt\"",
            json!("application/application/wimse-exec+jwt"),
        ),
        bad(
            "header/typ/no-suffix",
            "typ \"wimse-exec\"",
            json!("wimse-exec"),
        ),
        bad(
            "header/typ/json-suffix",
            "typ \"wimse-exec+json\"",
            json!("wimse-exec+json"),
        ),
        bad(
            "header/typ/nul-suffix",
            "typ \"wimse-exec+jwt\\u0000\"",
            json!("wimse-exec+jwt\u{0}"),
        ),
    ]
}

/// ECT-HDR-2.
fn alg_vectors() -> Vec<V> {
    let h2 = ["ECT-HDR-2"];
    let bad =
        |id: &str, desc: &str, a: Value| V::token(id, desc, &h2, alg(a)).invalid("header.alg");
    let none = hdr_with("alg", json!("none"));
    let none_input = format!(
        "{}.{}",
        b64_encode(&serde_json::to_vec(&none).expect("serializes")),
        b64_encode(&serde_json::to_vec(&to_profile(&payload())).expect("serializes"))
    );
    let public_jwk_text =
        serde_json::to_vec(&key_a().to_public_jwk(Some(ISS_A))).expect("serializes");
    vec![
        V::token("header/alg/es256", "alg \"ES256\"", &h2, alg(json!("ES256"))).valid(),
        V::token("header/alg/none-empty-signature", "alg \"none\" with an empty signature segment: ECT-JWS-2 (empty segment) comes first", &["ECT-JWS-2", "ECT-HDR-2"], format!("{none_input}."))
            .invalid("jws.malformed"),
        V::token("header/alg/none-with-signature", "alg \"none\" with agent A's valid ES256 signature", &h2, by_a(&none)).invalid("header.alg"),
        V::token("header/alg/none-zero-signature", "alg \"none\" with a signature segment \"AA\" (one zero byte)", &h2, format!("{none_input}.AA")).invalid("header.alg"),
        bad("header/alg/none-capitalized", "alg \"None\"", json!("None")),
        bad("header/alg/none-upper", "alg \"NONE\"", json!("NONE")),
        bad("header/alg/none-mixed", "alg \"nOnE\"", json!("nOnE")),
        V::token("header/alg/hs256-public-key-sec1", "alg HS256, HMAC-SHA256 keyed with agent A's public key (SEC1 uncompressed point): algorithm confusion", &h2, hmac_token::<Sha256>(&hdr_with("alg", json!("HS256")), &sec1(&key_a()), 64))
            .invalid("header.alg"),
        V::token("header/alg/hs256-public-key-jwk", "alg HS256, HMAC-SHA256 keyed with the JSON text of agent A's trusted JWK", &h2, hmac_token::<Sha256>(&hdr_with("alg", json!("HS256")), &public_jwk_text, 64))
            .invalid("header.alg"),
        V::token("header/alg/hs384-public-key", "alg HS384, HMAC-SHA384 keyed with agent A's public key (SEC1)", &h2, hmac_token::<Sha384>(&hdr_with("alg", json!("HS384")), &sec1(&key_a()), 128))
            .invalid("header.alg"),
        V::token("header/alg/hs512-public-key", "alg HS512, HMAC-SHA512 keyed with agent A's public key (SEC1)", &h2, hmac_token::<Sha512>(&hdr_with("alg", json!("HS512")), &sec1(&key_a()), 128))
            .invalid("header.alg"),
        bad("header/alg/hs256-es256-signature", "alg \"HS256\" over a valid ES256 signature", json!("HS256")),
        bad("header/alg/es384", "alg \"ES384\" (ES256 signature)", json!("ES384")),
        bad("header/alg/es512", "alg \"ES512\" (ES256 signature)", json!("ES512")),
        bad("header/alg/es256k", "alg \"ES256K\" (ES256 signature)", json!("ES256K")),
        bad("header/alg/rs256", "alg \"RS256\" (ES256 signature)", json!("RS256")),
        bad("header/alg/ps256", "alg \"PS256\" (ES256 signature)", json!("PS256")),
        bad("header/alg/eddsa", "alg \"EdDSA\" (ES256 signature)", json!("EdDSA")),
        bad("header/alg/lower-case", "alg \"es256\" (compared case-sensitively)", json!("es256")),
        bad("header/alg/trailing-space", "alg \"ES256 \"", json!("ES256 ")),
        bad("header/alg/empty", "alg \"\"", json!("")),
        bad("header/alg/number", "alg is the number 256", json!(256)),
        bad("header/alg/array", "alg is [\"ES256\"]", json!(["ES256"])),
        bad("header/alg/null", "alg is null", Value::Null),
        V::token("header/alg/missing", "no alg", &h2, by_a(&hdr_without("alg"))).invalid("header.alg"),
        V::token("header/alg/after-typ", "alg \"none\" and typ \"JWT\": ECT-HDR-1 is checked first", &["ECT-HDR-1", "ECT-HDR-2"], by_a(&obj(json!({"alg": "none", "typ": "JWT", "kid": "agent-a"}))))
            .invalid("header.typ"),
    ]
}

/// ECT-HDR-3.
fn crit_vectors() -> Vec<V> {
    let h3 = ["ECT-HDR-3"];
    vec![
        V::token(
            "header/crit/absent",
            "no crit (an ignored parameter \"Crit\" of another name)",
            &h3,
            by_a(&hdr_with("Crit", json!(["exp"]))),
        )
        .valid(),
        V::token(
            "header/crit/empty",
            "crit [] (RFC 7515 §4.1.11: must not be empty)",
            &h3,
            crit(json!([]), &[]),
        )
        .invalid("header.crit"),
        V::token(
            "header/crit/b64",
            "crit [\"b64\"] with \"b64\": false (RFC 7797, not supported)",
            &h3,
            crit(json!(["b64"]), &[("b64", json!(false))]),
        )
        .invalid("header.crit"),
        V::token(
            "header/crit/b64-true",
            "crit [\"b64\"] with \"b64\": true (payload encoded as usual)",
            &h3,
            crit(json!(["b64"]), &[("b64", json!(true))]),
        )
        .invalid("header.crit"),
        V::token(
            "header/crit/claim-name",
            "crit [\"exp\"]",
            &h3,
            crit(json!(["exp"]), &[]),
        )
        .invalid("header.crit"),
        V::token(
            "header/crit/itself",
            "crit [\"crit\"]",
            &h3,
            crit(json!(["crit"]), &[]),
        )
        .invalid("header.crit"),
        V::token(
            "header/crit/string",
            "crit \"b64\" (not an array)",
            &h3,
            crit(json!("b64"), &[("b64", json!(false))]),
        )
        .invalid("header.crit"),
        V::token("header/crit/null", "crit null", &h3, crit(Value::Null, &[]))
            .invalid("header.crit"),
        V::token(
            "header/crit/unknown-extension",
            "crit [\"urn:example:ext\"] with that parameter present",
            &h3,
            crit(
                json!(["urn:example:ext"]),
                &[("urn:example:ext", json!(true))],
            ),
        )
        .invalid("header.crit"),
        V::token(
            "header/crit/registered-parameter",
            "crit [\"kid\"] (a registered parameter, forbidden in crit)",
            &h3,
            crit(json!(["kid"]), &[]),
        )
        .invalid("header.crit"),
        V::token(
            "header/crit/after-alg",
            "crit [] and alg \"none\": ECT-HDR-2 is checked first",
            &["ECT-HDR-2", "ECT-HDR-3"],
            by_a(&obj(
                json!({"alg": "none", "typ": typ(), "kid": "agent-a", "crit": []}),
            )),
        )
        .invalid("header.alg"),
        V::token(
            "header/crit/before-kid",
            "crit [] and no kid: ECT-HDR-3 is checked first",
            &["ECT-HDR-3", "ECT-HDR-4"],
            by_a(&obj(json!({"alg": "ES256", "typ": typ(), "crit": []}))),
        )
        .invalid("header.crit"),
    ]
}

/// ECT-HDR-4, with ECT-KEY-1 for kids that are well-formed but not trusted.
fn kid_vectors() -> Vec<V> {
    let h4 = ["ECT-HDR-4"];
    let k1 = ["ECT-HDR-4", "ECT-KEY-1"];
    let bad =
        |id: &str, desc: &str, k: Value| V::token(id, desc, &h4, kid(k)).invalid("header.kid");
    let unknown =
        |id: &str, desc: &str, k: Value| V::token(id, desc, &k1, kid(k)).invalid("key.unknown");
    let mut claims_b = claims(&uuid(1));
    claims_b.insert("iss".into(), ISS_B.into());
    let no_kid_bad_sig = {
        let t = by_a(&hdr_without("kid"));
        let (input, _) = t.rsplit_once('.').expect("three segments");
        format!("{input}.{}", b64_encode(&[0; 64]))
    };
    vec![
        V::token(
            "header/kid/agent-a",
            "kid \"agent-a\", signed by agent A",
            &h4,
            valid_token(),
        )
        .valid(),
        V::token(
            "header/kid/agent-b",
            "kid \"agent-b\", signed by agent B for its own issuer",
            &h4,
            sign(&header("agent-b"), &claims_b, &key_b()),
        )
        .valid(),
        V::token(
            "header/kid/missing",
            "no kid",
            &h4,
            by_a(&hdr_without("kid")),
        )
        .invalid("header.kid"),
        bad("header/kid/empty", "kid \"\"", json!("")),
        bad("header/kid/number", "kid is the number 1", json!(1)),
        bad("header/kid/null", "kid is null", Value::Null),
        bad(
            "header/kid/array",
            "kid is [\"agent-a\"]",
            json!(["agent-a"]),
        ),
        bad(
            "header/kid/object",
            "kid is {\"kid\":\"agent-a\"}",
            json!({"kid": "agent-a"}),
        ),
        bad("header/kid/bool", "kid is true", json!(true)),
        V::token(
            "header/kid/before-signature",
            "no kid and an all-zero signature: ECT-HDR-4 is checked before ECT-SIG-1",
            &["ECT-HDR-4", "ECT-SIG-1"],
            no_kid_bad_sig,
        )
        .invalid("header.kid"),
        unknown(
            "header/kid/unknown",
            "kid \"agent-c\" (not in the trusted key set)",
            json!("agent-c"),
        ),
        unknown(
            "header/kid/path-traversal",
            "kid \"../../../etc/passwd\" (a lookup, never a path)",
            json!("../../../etc/passwd"),
        ),
        unknown(
            "header/kid/sql-injection",
            "kid \"' OR '1'='1\"",
            json!("' OR '1'='1"),
        ),
        unknown(
            "header/kid/url",
            "kid \"https://attacker.example/jwks.json\" (never fetched)",
            json!("https://attacker.example/jwks.json"),
        ),
        unknown(
            "header/kid/long",
            "kid of 10240 characters",
            json!("k".repeat(10_240)),
        ),
        unknown(
            "header/kid/unicode-lookalike",
            "kid \"аgent-a\" with a Cyrillic а (U+0430)",
            json!("\u{430}gent-a"),
        ),
        unknown(
            "header/kid/trailing-space",
            "kid \"agent-a \"",
            json!("agent-a "),
        ),
        unknown(
            "header/kid/case",
            "kid \"Agent-A\" (exact comparison)",
            json!("Agent-A"),
        ),
        unknown(
            "header/kid/nul-suffix",
            "kid \"agent-a\\u0000\"",
            json!("agent-a\u{0}"),
        ),
        unknown(
            "header/kid/jwk-thumbprint-style",
            "kid \"agent-a#0\"",
            json!("agent-a#0"),
        ),
        V::token(
            "header/kid/other-agent",
            "kid \"agent-b\" on a token signed by agent A: B's key does not verify it",
            &["ECT-HDR-4", "ECT-SIG-2"],
            kid(json!("agent-b")),
        )
        .invalid("sig.invalid"),
    ]
}

/// ECT-HDR-5: key-locating parameters are ignored, whoever signed.
fn injection_vectors() -> Vec<V> {
    let h5 = ["ECT-HDR-5"];
    let sig = ["ECT-HDR-5", "ECT-SIG-2"];
    let unk = ["ECT-HDR-5", "ECT-KEY-1"];
    let attacker_jwk = Value::Object(attacker().to_public_jwk(None));
    let jku = json!("https://attacker.example/.well-known/jwks.json");
    let x5u = json!("https://attacker.example/cert.pem");
    let x5c = json!([b64_std(&spki(&attacker()))]);
    let x5t = json!(b64_encode(&Sha256::digest(spki(&attacker()))[..20]));
    let x5t256 = json!(b64_encode(&Sha256::digest(spki(&attacker()))));
    let mut all = header("agent-a");
    for (k, val) in [
        ("jwk", attacker_jwk.clone()),
        ("jku", jku.clone()),
        ("x5u", x5u.clone()),
        ("x5c", x5c.clone()),
        ("x5t", x5t.clone()),
        ("x5t#S256", x5t256.clone()),
    ] {
        all.insert(k.into(), val);
    }
    let attacker_kid = |name: &str, val: &Value| {
        let mut h = header("attacker");
        h.insert(name.into(), val.clone());
        by_attacker(&h)
    };
    vec![
        // Injected keys: the token is signed by the attacker under kid agent-a.
        V::token("header/injection/jwk", "jwk carries the attacker's key (relabelled agent-a); signed by the attacker under kid agent-a", &sig, by_attacker(&hdr_with("jwk", attacker_jwk_as_a())))
            .invalid("sig.invalid"),
        V::token("header/injection/jku", "jku points at the attacker's key set; signed by the attacker under kid agent-a", &sig, by_attacker(&hdr_with("jku", jku.clone())))
            .invalid("sig.invalid"),
        V::token("header/injection/x5u", "x5u points at the attacker's certificate; signed by the attacker under kid agent-a", &sig, by_attacker(&hdr_with("x5u", x5u.clone())))
            .invalid("sig.invalid"),
        V::token("header/injection/x5c", "x5c holds the attacker's SubjectPublicKeyInfo; signed by the attacker under kid agent-a", &sig, by_attacker(&hdr_with("x5c", x5c.clone())))
            .invalid("sig.invalid"),
        V::token("header/injection/x5t", "x5t names a thumbprint of the attacker's key; signed by the attacker under kid agent-a", &sig, by_attacker(&hdr_with("x5t", x5t.clone())))
            .invalid("sig.invalid"),
        V::token("header/injection/x5t-s256", "x5t#S256 names the attacker's key; signed by the attacker under kid agent-a", &sig, by_attacker(&hdr_with("x5t#S256", x5t256.clone())))
            .invalid("sig.invalid"),
        V::token("header/injection/all", "jwk, jku, x5u, x5c, x5t and x5t#S256 together; signed by the attacker under kid agent-a", &sig, by_attacker(&all))
            .invalid("sig.invalid"),
        // Injected keys with the attacker's own kid.
        V::token("header/injection/jwk-attacker-kid", "kid \"attacker\" and jwk carrying that key; signed by the attacker", &unk, attacker_kid("jwk", &attacker_jwk))
            .invalid("key.unknown"),
        V::token("header/injection/jku-attacker-kid", "kid \"attacker\" and jku; signed by the attacker", &unk, attacker_kid("jku", &jku))
            .invalid("key.unknown"),
        V::token("header/injection/x5u-attacker-kid", "kid \"attacker\" and x5u; signed by the attacker", &unk, attacker_kid("x5u", &x5u))
            .invalid("key.unknown"),
        V::token("header/injection/x5c-attacker-kid", "kid \"attacker\" and x5c; signed by the attacker", &unk, attacker_kid("x5c", &x5c))
            .invalid("key.unknown"),
        V::token("header/injection/x5t-attacker-kid", "kid \"attacker\" and x5t; signed by the attacker", &unk, attacker_kid("x5t", &x5t))
            .invalid("key.unknown"),
        V::token("header/injection/jwk-without-kid", "no kid, only a jwk whose kid is agent-a; signed by the attacker", &["ECT-HDR-5", "ECT-HDR-4"], by_attacker(&{
            let mut h = hdr_without("kid");
            h.insert("jwk".into(), attacker_jwk_as_a());
            h
        }))
            .invalid("header.kid"),
        // Present but ignored: agent A signed correctly.
        V::token("header/ignored/jwk", "jwk with the attacker's key, token correctly signed by agent A", &h5, by_a(&hdr_with("jwk", attacker_jwk.clone()))).valid(),
        V::token("header/ignored/jku", "jku present, token correctly signed by agent A", &h5, by_a(&hdr_with("jku", jku.clone()))).valid(),
        V::token("header/ignored/x5u", "x5u present, token correctly signed by agent A", &h5, by_a(&hdr_with("x5u", x5u.clone()))).valid(),
        V::token("header/ignored/x5c", "x5c present, token correctly signed by agent A", &h5, by_a(&hdr_with("x5c", x5c.clone()))).valid(),
        V::token("header/ignored/x5t", "x5t present, token correctly signed by agent A", &h5, by_a(&hdr_with("x5t", x5t.clone()))).valid(),
        V::token("header/ignored/x5t-s256", "x5t#S256 present, token correctly signed by agent A", &h5, by_a(&hdr_with("x5t#S256", x5t256.clone()))).valid(),
        V::token("header/ignored/all", "jwk, jku, x5u, x5c, x5t and x5t#S256 together, token correctly signed by agent A", &h5, by_a(&all)).valid(),
        V::token("header/ignored/unknown-parameter", "an unregistered parameter \"x-trace\": ignored", &h5, by_a(&hdr_with("x-trace", json!({"id": 7, "tags": ["a"]})))).valid(),
        V::token("header/ignored/replicated-iss", "a header iss naming agent B (RFC 7519 §5.3 replicated claim): ignored", &h5, by_a(&hdr_with("iss", json!(ISS_B)))).valid(),
        V::token("header/ignored/nonce", "a nonce parameter: ignored", &h5, by_a(&hdr_with("nonce", json!("n-0S6_WzA2Mj"))))
            .valid(),
        V::token("header/ignored/large-parameter", "an unregistered parameter holding 4000 characters: ignored", &h5, by_a(&hdr_with("x-blob", json!("b".repeat(4000))))).valid(),
    ]
}

/// Standard base64 with padding (RFC 4648 §4), the encoding `x5c` uses.
fn b64_std(bytes: &[u8]) -> String {
    let url = b64_encode(bytes);
    let mut s: String = url
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}
