//! Signed approvals: a Commander's Ed25519 key, the signature an approval file carries, and
//! its check against the public key `station.yaml` names for the approver.
//!
//! The cryptography is `ed25519-dalek`'s; this module only says *what* is signed
//! ([`canonical_bytes`]), how keys and signatures are written down (standard base64, with
//! padding) and the private key file's format:
//!
//! ```yaml
//! version: 1
//! kind: signing-key
//! private_key: <base64 of the 32-byte Ed25519 secret key (seed)>
//! ```
//!
//! The signed text, the format and what a signature proves: `docs/human-tasks.md` ("Signed
//! approvals") and `docs/security.md`.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{SECRET_KEY_LENGTH, Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::approval::{Approval, Decision};
use super::reply::read_limited;

/// Version of the private key file format.
pub const KEY_VERSION: u32 = 1;
/// The `kind` of a private key file.
pub const KEY_KIND: &str = "signing-key";

/// The private key file `3ox keygen` writes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    kind: String,
    private_key: String,
}

/// A new signing key from the operating system's random source.
pub fn generate() -> Result<SigningKey, String> {
    let mut secret = [0u8; SECRET_KEY_LENGTH];
    getrandom::fill(&mut secret).map_err(|e| format!("no random numbers: {e}"))?;
    Ok(SigningKey::from_bytes(&secret))
}

/// The text of a private key file for `key`.
pub fn key_file_text(key: &SigningKey) -> String {
    let file = KeyFile {
        version: KEY_VERSION,
        kind: KEY_KIND.to_string(),
        private_key: BASE64.encode(key.to_bytes()),
    };
    format!(
        "# A 3ox signing key (Ed25519): keep it secret, mode 600.\n# public key: {}\n{}",
        public_key_text(&key.verifying_key()),
        serde_yaml::to_string(&file).expect("a key file always serialises")
    )
}

/// Reads a private key file. Refused when others than its owner could read or change it
/// (Unix mode `& 0o077 != 0`), like ssh does.
pub fn read_key_file(path: &Path) -> Result<SigningKey, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "the key file {shown} may be read or changed by others (mode {mode:o}): `chmod 600 {shown}`"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = read_limited(path).map_err(|e| format!("{shown}: {e}"))?;
    super::yaml::check(&text).map_err(|e| format!("{shown}: {e}"))?;
    let file: KeyFile = serde_yaml::from_str(&text)
        .map_err(|e| format!("{shown} is not a 3ox signing key: {e}"))?;
    if file.version != KEY_VERSION || file.kind != KEY_KIND {
        return Err(format!(
            "{shown} is not a 3ox signing key (version: {KEY_VERSION}, kind: {KEY_KIND})"
        ));
    }
    let bytes = BASE64
        .decode(file.private_key.trim())
        .map_err(|e| format!("{shown}: `private_key` is not base64: {e}"))?;
    let secret: [u8; SECRET_KEY_LENGTH] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "{shown}: `private_key` holds {} bytes, not {SECRET_KEY_LENGTH}",
            bytes.len()
        )
    })?;
    Ok(SigningKey::from_bytes(&secret))
}

/// A public key as written in `station.yaml`: base64 of its 32 bytes.
pub fn public_key_text(key: &VerifyingKey) -> String {
    BASE64.encode(key.as_bytes())
}

/// Reads a public key written by [`public_key_text`]; weak keys (small-order points, which
/// would verify forged signatures) are refused.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|e| format!("the key is not base64: {e}"))?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("the key holds {} bytes, not 32", bytes.len()))?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|e| format!("the key is not an Ed25519 public key: {e}"))?;
    if key.is_weak() {
        return Err("the key is a weak Ed25519 key; make one with `3ox keygen`".to_string());
    }
    Ok(key)
}

/// The bytes an approval's signature is over: one line per field, in this order, each
/// `name=LENGTH:VALUE\n` where LENGTH is the value's length in bytes (UTF-8, decimal) and
/// VALUE the value exactly as parsed (so a value may hold newlines):
/// `version`, `kind`, `run_id`, `request_id`, `token`, `decision`, `by`, `comment`,
/// `reason`. An absent optional field (`run_id`, `token`, `by`, `comment`, `reason`) has no
/// line; an empty one has `name=0:`. `signature` itself is not signed.
pub fn canonical_bytes(approval: &Approval) -> Vec<u8> {
    let version = approval.version.to_string();
    let decision = match approval.decision {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
    };
    let fields: [(&str, Option<&str>); 9] = [
        ("version", Some(&version)),
        ("kind", Some(&approval.kind)),
        ("run_id", approval.run_id.as_deref()),
        ("request_id", Some(&approval.request_id)),
        ("token", approval.token.as_deref()),
        ("decision", Some(decision)),
        ("by", approval.by.as_deref()),
        ("comment", approval.comment.as_deref()),
        ("reason", approval.reason.as_deref()),
    ];
    let mut out = Vec::new();
    for (name, value) in fields {
        if let Some(value) = value {
            out.extend_from_slice(format!("{name}={}:", value.len()).as_bytes());
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// The signature of `approval` by `key`, as written in the file's `signature` field.
pub fn sign(approval: &Approval, key: &SigningKey) -> String {
    BASE64.encode(key.sign(&canonical_bytes(approval)).to_bytes())
}

/// Checks `approval`'s `signature` against `key`; the error is the reason given to the
/// sender.
pub fn verify(approval: &Approval, key: &VerifyingKey) -> Result<(), String> {
    let Some(text) = approval.signature.as_deref() else {
        return Err("the approval is not signed".to_string());
    };
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|e| format!("the approval's `signature` is not base64: {e}"))?;
    let signature = Signature::from_slice(&bytes).map_err(|_| {
        format!(
            "the approval's `signature` holds {} bytes, not 64",
            bytes.len()
        )
    })?;
    key.verify_strict(&canonical_bytes(approval), &signature)
        .map_err(|_| {
            "the approval's signature does not verify: it was made with another key, or a field was changed after signing".to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval() -> Approval {
        Approval {
            version: 1,
            kind: "approval".into(),
            request_id: "01REQ".into(),
            token: Some("ap-123".into()),
            decision: Decision::Approve,
            by: Some("Ada".into()),
            comment: Some("looks good\nreally".into()),
            reason: None,
            run_id: Some("01RUN".into()),
            signature: None,
        }
    }

    #[test]
    fn the_canonical_form_is_exactly_as_documented() {
        let text = String::from_utf8(canonical_bytes(&approval())).unwrap();
        assert_eq!(
            text,
            "version=1:1\nkind=8:approval\nrun_id=5:01RUN\nrequest_id=5:01REQ\ntoken=6:ap-123\n\
             decision=7:approve\nby=3:Ada\ncomment=17:looks good\nreally\n"
        );
        let mut empty = approval();
        empty.comment = Some(String::new());
        empty.run_id = None;
        empty.decision = Decision::Reject;
        empty.reason = Some("é".into());
        let text = String::from_utf8(canonical_bytes(&empty)).unwrap();
        assert!(
            text.ends_with("decision=6:reject\nby=3:Ada\ncomment=0:\nreason=2:é\n"),
            "{text}"
        );
        assert!(!text.contains("run_id"), "{text}");
        // A field moved into another by a newline does not give the same bytes.
        let mut moved = approval();
        moved.comment = Some("x\nreason=1:y".into());
        let mut split = approval();
        split.comment = Some("x".into());
        split.reason = Some("y".into());
        assert_ne!(canonical_bytes(&moved), canonical_bytes(&split));
    }

    #[test]
    fn a_signature_verifies_with_its_key_only_and_breaks_when_any_field_changes() {
        let key = generate().unwrap();
        let other = generate().unwrap();
        let mut signed = approval();
        signed.signature = Some(sign(&signed, &key));
        assert_eq!(verify(&signed, &key.verifying_key()), Ok(()));
        assert!(
            verify(&signed, &other.verifying_key())
                .unwrap_err()
                .contains("does not verify")
        );
        let changes: Vec<fn(&mut Approval)> = vec![
            |a| a.version = 2,
            |a| a.kind = "approvals".into(),
            |a| a.run_id = None,
            |a| a.request_id = "01REQ2".into(),
            |a| a.token = Some("ap-124".into()),
            |a| a.decision = Decision::Reject,
            |a| a.by = Some("Eve".into()),
            |a| a.comment = Some("looks good".into()),
            |a| a.reason = Some(String::new()),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = signed.clone();
            change(&mut changed);
            assert!(
                verify(&changed, &key.verifying_key()).is_err(),
                "change {i}"
            );
        }
        let mut unsigned = signed.clone();
        unsigned.signature = None;
        assert!(
            verify(&unsigned, &key.verifying_key())
                .unwrap_err()
                .contains("not signed")
        );
        let mut garbage = signed.clone();
        garbage.signature = Some("!!".into());
        assert!(
            verify(&garbage, &key.verifying_key())
                .unwrap_err()
                .contains("not base64")
        );
        garbage.signature = Some(BASE64.encode([0u8; 10]));
        assert!(
            verify(&garbage, &key.verifying_key())
                .unwrap_err()
                .contains("10 bytes")
        );
    }

    #[test]
    fn key_files_and_public_keys_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = generate().unwrap();
        std::fs::write(&path, key_file_text(&key)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(read_key_file(&path).unwrap_err().contains("chmod 600"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let read = read_key_file(&path).unwrap();
        assert_eq!(read.to_bytes(), key.to_bytes());
        let public = public_key_text(&key.verifying_key());
        assert_eq!(parse_public_key(&public), Ok(key.verifying_key()));
        assert!(parse_public_key("abc").is_err());
        assert!(parse_public_key(&BASE64.encode([0u8; 31])).is_err());
        // The identity point: a weak key.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        assert!(parse_public_key(&BASE64.encode(weak)).is_err());
        std::fs::write(
            &path,
            "version: 1\nkind: something-else\nprivate_key: AAAA\n",
        )
        .unwrap();
        assert!(
            read_key_file(&path)
                .unwrap_err()
                .contains("not a 3ox signing key")
        );
    }
}
