//! The command line: the clap definitions of `ect`, its commands and their arguments.
//!
//! The doc comments here are the `--help` texts; the commands themselves are in
//! [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "ect",
    version,
    about = "Create and verify WIMSE Execution Context Tokens (profiles draft-00 and draft-01)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate a P-256 key: private JWK to --private (or stdout), public key added to --jwks.
    Keygen {
        /// Key id written into tokens (`kid`).
        #[arg(long)]
        kid: String,
        /// Bind the public key to this issuer in the JWKS (`iss` member, ECT-KEY-2).
        #[arg(long)]
        iss: Option<String>,
        /// Write the private JWK here (created with mode 0600) instead of stdout.
        #[arg(long)]
        private: Option<PathBuf>,
        /// Add the public JWK to this JWK Set file, creating it if absent.
        #[arg(long)]
        jwks: Option<PathBuf>,
    },
    /// Create and sign an ECT; prints the compact token.
    Create(CreateArgs),
    /// Verify one ECT; exit 0 valid, 1 invalid, 2 usage/configuration error.
    Verify {
        /// Trusted keys, RFC 7517 JWK Set (optional `iss` per key binds it to an issuer).
        #[arg(long)]
        jwks: PathBuf,
        /// This verifier's identifier (must be in `aud`); default $ECT_AUDIENCE.
        #[arg(long)]
        audience: Option<String>,
        /// Current time, Unix seconds.
        #[arg(long)]
        now: u64,
        /// Clock leeway in seconds; default $ECT_LEEWAY_SECONDS or 30.
        #[arg(long)]
        leeway: Option<u64>,
        /// Maximum iat age in seconds; default $ECT_MAX_IAT_AGE_SECONDS or 900.
        #[arg(long)]
        max_iat_age: Option<u64>,
        /// Maximum `par` length; default $ECT_MAX_PAR or 100.
        #[arg(long)]
        max_par: Option<usize>,
        /// The draft revision the token is checked under (SPEC.md §10): draft-00 or draft-01;
        /// default $ECT_PROFILE or draft-00.
        #[arg(long)]
        profile: Option<String>,
        /// Shared replay cache (ECT-RPL-1), a redis:// URL; default $ECT_REPLAY. Without it a
        /// single verification keeps no replay record, and --stream keeps one in memory.
        #[arg(long)]
        replay: Option<String>,
        /// Verify many tokens: read one per line from stdin (TOKEN must be `-`), print one JSON
        /// verdict per line as each is decided; exit 0 when every token was valid, else 1.
        #[arg(long)]
        stream: bool,
        /// The compact token, or `-` to read it from stdin (one trailing newline is dropped).
        token: String,
    },
    /// Accept a file of tokens, one per line, in order into a fresh in-memory ledger (SPEC.md
    /// §7); exit 0 all accepted, 1 any rejected, 2 usage/configuration error.
    Dag {
        #[command(flatten)]
        accept: AcceptArgs,
        /// Output: one JSON object per token line, or a Graphviz digraph.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// File with one compact token per line, or `-` for stdin (empty lines are skipped,
        /// a trailing CR is dropped).
        tokens: String,
    },
    /// Work with a hash-chained audit ledger (SPEC.md §8): a file, an SQLite database or a
    /// PostgreSQL database.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Run a two-agent workflow step by step with fixed keys and times; with --http, three
    /// agents over loopback HTTP instead.
    Demo {
        /// Three agents over loopback HTTP (examples/three_agents): agent A calls agent B with
        /// its root ECT, B verifies it (EctLayer), does its task and calls agent C with its child
        /// ECT and A's inline; C accepts both into its ledger. Prints each hop (request,
        /// verdict, new token), C's ledger audit and one refused replay (403).
        #[arg(long)]
        http: bool,
    },
    /// Print the table of rule ids and error codes (the content of CODES.md).
    Codes,
    /// Generate the spec vectors, or check the committed ones.
    Vectors {
        #[command(subcommand)]
        command: VectorsCommand,
    },
    /// Run every vector against the reference implementation or, with --impl, against an
    /// external one speaking the JSON-lines protocol (README, "Test your implementation");
    /// exit 0 when nothing failed and at least one case passed, 1 otherwise.
    Conformance(ConformanceArgs),
}

/// The arguments of `ect create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Private JWK file (from `ect keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// The draft revision to write (SPEC.md §10): draft-00 (`typ` wimse-exec+jwt, `par`,
    /// `ext`, top-level `pol`) or draft-01 (`typ` exec+jwt, `pred`, `ect_ext` holding the
    /// policy members); default $ECT_PROFILE or draft-00.
    #[arg(long)]
    pub profile: Option<String>,
    /// Issuer (`iss`).
    #[arg(long)]
    pub iss: String,
    /// Audience (`aud`); repeat for an array.
    #[arg(long, required = true)]
    pub aud: Vec<String>,
    /// Action performed (`exec_act`).
    #[arg(long)]
    pub exec_act: String,
    /// Parent task id (`par`, `pred` in draft-01); repeat for several.
    #[arg(long, visible_alias = "pred")]
    pub par: Vec<String>,
    /// Token/task id (`jti`); default a random UUID v4.
    #[arg(long)]
    pub jti: Option<String>,
    /// Workflow id (`wid`).
    #[arg(long)]
    pub wid: Option<String>,
    /// Issued-at, Unix seconds; default the system clock.
    #[arg(long)]
    pub iat: Option<u64>,
    /// Lifetime in seconds (`exp = iat + ttl`).
    #[arg(long, default_value_t = 300, conflicts_with = "exp")]
    pub ttl: u64,
    /// Expiration, Unix seconds (instead of --ttl).
    #[arg(long)]
    pub exp: Option<u64>,
    /// `inp_hash` (base64url SHA-256).
    #[arg(long)]
    pub inp_hash: Option<String>,
    /// `out_hash` (base64url SHA-256).
    #[arg(long)]
    pub out_hash: Option<String>,
    /// `ext` (`ect_ext` in draft-01) as a JSON object.
    #[arg(long, visible_alias = "ect-ext")]
    pub ext: Option<String>,
    /// Policy id (`pol`; in draft-01 a member of `ect_ext`); requires --pol-decision.
    #[arg(long, requires = "pol_decision")]
    pub pol: Option<String>,
    /// `pol_decision`: approved, rejected or pending_human_review.
    #[arg(long, requires = "pol")]
    pub pol_decision: Option<String>,
}

/// The arguments of `ect conformance`.
#[derive(Args, Debug)]
pub struct ConformanceArgs {
    /// The vectors directory: draft-00's files in it, draft-01's in its `draft-01/`.
    #[arg(long, default_value = "vectors")]
    pub vectors: PathBuf,
    /// Run one profile's vectors only (draft-00 or draft-01); default every profile, each
    /// reported on its own, then the total. $ECT_PROFILE is not read here.
    #[arg(long)]
    pub profile: Option<String>,
    /// The implementation's command, run with `sh -c` (started afresh for each profile);
    /// without it, the reference.
    #[arg(long = "impl")]
    pub implementation: Option<String>,
    /// Expected failures: `{"xfails": {"<id>": "<reason>"}}` (draft-00's) and/or
    /// `{"profiles": {"draft-01": {"<id>": "<reason>"}}}`; strict: a listed vector that passes
    /// fails the run.
    #[arg(long)]
    pub xfails: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Seconds to wait for each answer of an external implementation.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Score verdicts only: a rejection passes whatever its error code (for an
    /// implementation that has not mapped its errors to SPEC.md's codes yet). Every
    /// output states it.
    #[arg(long)]
    pub verdict_only: bool,
}

#[derive(Subcommand, Debug)]
pub enum VectorsCommand {
    /// Write the vector files, their schema and README into DIR (exit 0).
    Export {
        /// The directory.
        #[arg(long, default_value = "vectors")]
        out: PathBuf,
    },
    /// Compare DIR with a fresh generation; exit 1 listing the differences, 0 when identical.
    Check {
        /// The directory.
        #[arg(long, default_value = "vectors")]
        dir: PathBuf,
    },
}

/// Output format of `ect conformance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A per-rule table, the failures, and the summary line `N passed, N failed`.
    Table,
    /// One JSON document.
    Json,
    /// A Markdown results matrix by rule.
    Markdown,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Verify one token and append it to the ledger (a file or SQLite database is created by
    /// the first accepted token; a rejected token changes nothing); exit 0 appended, 1 rejected, 2
    /// usage/configuration error or a broken ledger file. An accepted token first repairs the
    /// file's end (cuts a torn final line off, adds a missing final newline); what was found
    /// is said on stderr.
    Append {
        /// The ledger: a file path, sqlite:PATH or a postgres:// URL; default $ECT_LEDGER.
        #[arg(long)]
        ledger: Option<String>,
        #[command(flatten)]
        accept: AcceptArgs,
        /// Append many tokens: read one per line from stdin (TOKEN must be `-`), print one JSON
        /// result per line once its entry is durable; exit 0 when every token was appended,
        /// else 1 (a storage failure stops the run: exit 2).
        #[arg(long)]
        stream: bool,
        /// The compact token, or `-` to read it from stdin (one trailing newline is dropped).
        token: String,
    },
    /// Audit the ledger without changing it (streamed entry by entry); exit 0 clean, 1 findings or head mismatch,
    /// 2 usage/configuration error or unreadable file.
    Verify {
        /// The ledger: a file path, sqlite:PATH or a postgres:// URL; default $ECT_LEDGER.
        #[arg(long)]
        ledger: Option<String>,
        /// Trusted keys: when given, every entry's signature is checked too.
        #[arg(long)]
        jwks: Option<PathBuf>,
        #[command(flatten)]
        token_policy: TokenPolicyArgs,
        #[command(flatten)]
        dag: DagArgs,
        /// The expected head (the newest entry's hash, unpadded base64url), kept elsewhere: a
        /// mismatch reveals a ledger whose newest entries were cut off.
        #[arg(long)]
        head: Option<String>,
    },
    /// Print the ledger's entries (they must verify); exit 0, or 2 if they do not.
    Show {
        /// The ledger: a file path, sqlite:PATH or a postgres:// URL; default $ECT_LEDGER.
        #[arg(long)]
        ledger: Option<String>,
        /// The profile the ledger's tokens are read under (SPEC.md §10): draft-00 or draft-01;
        /// default $ECT_PROFILE or draft-00.
        #[arg(long)]
        profile: Option<String>,
        /// Output: one JSON object per entry, or a Graphviz digraph.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
}

/// Output format of `ect dag` and `ect ledger show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// A Graphviz digraph (render with `dot -Tsvg`).
    Dot,
}

/// The token rule settings (flags win over `ECT_*` variables, which win over the defaults).
#[derive(Args, Debug)]
pub struct TokenPolicyArgs {
    /// This verifier's identifier (must be in `aud`); default $ECT_AUDIENCE.
    #[arg(long)]
    pub audience: Option<String>,
    /// Clock leeway in seconds; default $ECT_LEEWAY_SECONDS or 30.
    #[arg(long)]
    pub leeway: Option<u64>,
    /// Maximum iat age in seconds; default $ECT_MAX_IAT_AGE_SECONDS or 900.
    #[arg(long)]
    pub max_iat_age: Option<u64>,
    /// Maximum `par` length; default $ECT_MAX_PAR or 100.
    #[arg(long)]
    pub max_par: Option<usize>,
    /// The draft revision tokens (and ledgers) are read under (SPEC.md §10): draft-00 or
    /// draft-01; default $ECT_PROFILE or draft-00.
    #[arg(long)]
    pub profile: Option<String>,
}

/// The DAG settings common to accepting and auditing.
#[derive(Args, Debug)]
pub struct DagArgs {
    /// Partial DAG mode: a parent the ledger does not hold is listed as missing instead of
    /// rejected (ECT-DAG-2).
    #[arg(long)]
    pub partial: bool,
    /// Allowed clock skew between parent and child iat (ECT-DAG-3); default
    /// $ECT_SKEW_SECONDS or 30.
    #[arg(long)]
    pub skew: Option<u64>,
}

/// What accepting tokens into a ledger needs: keys, time, token and DAG settings.
#[derive(Args, Debug)]
pub struct AcceptArgs {
    /// Trusted keys, RFC 7517 JWK Set (optional `iss` per key binds it to an issuer).
    #[arg(long)]
    pub jwks: PathBuf,
    /// Current time, Unix seconds (also the acceptance time recorded in the ledger).
    #[arg(long)]
    pub now: u64,
    #[command(flatten)]
    pub token_policy: TokenPolicyArgs,
    #[command(flatten)]
    pub dag: DagArgs,
    /// Maximum number of lookups the late-parent checks and the acyclicity walk may make
    /// (ECT-DAG-5: each stored child and each par element examined); default
    /// $ECT_ANCESTOR_BUDGET or 10000.
    #[arg(long)]
    pub ancestor_budget: Option<usize>,
    /// Shared replay cache (ECT-RPL-1), a redis:// URL; default $ECT_REPLAY, else one in
    /// memory for this process.
    #[arg(long)]
    pub replay: Option<String>,
}
