//! Approvals: the request 3ox writes to the Commander, the file the Commander writes back,
//! and who may write it.
//!
//! - [`ApprovalRequest`]: the file
//!   `agents/<approver>/1N.3OX/<request_id>.approval-request.yaml`,
//!   written by 3ox when a HUMAN task is reached. It says what is asked and, in `reply`, the
//!   exact approval file to write.
//! - [`Approval`]: the file with `kind: approval` in `agents/<approver>/0UT.3OX/`. The outbox
//!   scan tells it from a task reply by that `kind` ([`read_mail`]).
//! - [`StationConfig`]: the file `station.yaml` at the station root, which lists the uids allowed to
//!   decide for each approver; [`check_file`] refuses an approval file that is a symlink,
//!   writable by group or others, or owned by a uid not allowed.
//!
//! Whether a decision fits its request (token, place, already decided, deadline) is the
//! engine's to judge (`engine::tasks::human`). Formats: `docs/human-tasks.md`; the threat
//! model: `docs/security.md`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::reply::{Reply, read_limited};
use super::signing;
use crate::definition::DeadlinePolicy;
use ed25519_dalek::VerifyingKey;

/// Version of the approval request and approval formats.
pub const APPROVAL_VERSION: u32 = 1;
/// The `kind` that marks an approval file in an outbox.
pub const APPROVAL_KIND: &str = "approval";
/// The `kind` of an approval request file.
pub const REQUEST_KIND: &str = "approval_request";
/// The station config file, at the station root.
pub const STATION_CONFIG: &str = "station.yaml";

/// What the Commander decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// The word in the task's output: `approved` or `rejected`.
    pub fn outcome(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        }
    }
}

/// The file the Commander writes into the approver's outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub version: u32,
    /// Always `approval`.
    pub kind: String,
    pub request_id: String,
    /// The request's token, copied from the request file (`reply.form.token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub decision: Decision,
    /// Who decided (a name for the record; who may decide is checked by the file's owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Why it was rejected (required with `decision: reject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Optional: the run, copied from the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The Ed25519 signature (base64) of the other fields (see [`super::signing`]); required
    /// when `station.yaml` gives the approver a `key`, ignored otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Approval {
    /// Parses approval text; the error is the reason given to the sender.
    pub fn parse(text: &str) -> Result<Approval, String> {
        super::yaml::check(text)?;
        let approval: Approval = serde_yaml::from_str(text).map_err(|e| {
            let text = e.to_string();
            if text.contains("unknown variant") {
                format!("{text}; decision must be `approve` or `reject`")
            } else {
                format!(
                    "not an approval: {text}; copy the `reply.form` section of the approval request"
                )
            }
        })?;
        if approval.version != APPROVAL_VERSION {
            return Err(format!(
                "approval version {} is not supported; write version: {APPROVAL_VERSION}",
                approval.version
            ));
        }
        if let Some(problem) = super::name_problem(&approval.request_id) {
            return Err(format!(
                "`request_id` is not a request id: {problem}; copy it from the approval request"
            ));
        }
        Ok(approval)
    }

    pub fn to_yaml(&self) -> String {
        super::yaml::to_string(self).expect("an approval always serialises")
    }
}

/// A file found in an outbox: a task reply or an approval.
#[derive(Debug, Clone)]
pub enum Mail {
    Reply(Reply),
    Approval(Approval),
}

/// Reads an outbox file: an approval when it says `kind: approval`, else a task reply
/// (parsed exactly as before approvals existed).
pub fn read_mail(path: &Path) -> Result<Mail, String> {
    read_mail_opened(path).map(|(mail, _)| mail)
}

/// [`read_mail`], with the metadata of the file it read: the file is opened once (no symlink
/// followed) and an approval's owner and mode are judged on that open file ([`check_meta`]),
/// so a name swapped after the read cannot lend its owner to other text.
pub fn read_mail_opened(path: &Path) -> Result<(Mail, std::fs::Metadata), String> {
    let (text, meta) = super::reply::read_opened(path)?;
    let kind = super::yaml::check(&text)
        .ok()
        .and_then(|()| serde_yaml::from_str::<Value>(&text).ok())
        .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_owned));
    let mail = if kind.as_deref() == Some(APPROVAL_KIND) {
        Approval::parse(&text).map(Mail::Approval)
    } else {
        Reply::check_name(path).and_then(|()| Reply::parse(&text).map(Mail::Reply))
    }?;
    Ok((mail, meta))
}

/// The approval request: what the Commander reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub version: u32,
    /// Always `approval_request`.
    pub kind: String,
    pub request_id: String,
    pub run_id: String,
    pub workflow: String,
    /// The HUMAN task's `taskReferenceName` and `name`.
    pub task_ref: String,
    pub task: String,
    /// `question` from the task's input, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// `why` from the task's input, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The task's whole input, after `${...}` mapping (the context of the question).
    pub input: Value,
    /// The approver whose outbox must hold the decision.
    pub approver: String,
    pub requested_at: DateTime<Utc>,
    /// Until when a decision is taken; none: no deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// What happens at the deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_deadline: Option<DeadlinePolicy>,
    /// How to answer.
    pub reply: RequestReply,
}

/// The section of a request that says how to answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestReply {
    /// The outbox to write the approval into, relative to the station root.
    pub folder: String,
    /// A good name for the approval file.
    pub file: String,
    pub how: String,
    /// `3ox approve` and `3ox reject` command lines that write the file for you.
    pub commands: Vec<String>,
    /// The approval to write (to reject: `decision: reject` and a `reason`).
    pub form: Approval,
}

impl ApprovalRequest {
    /// The file name a request is delivered under.
    pub fn file_name(request_id: &str) -> String {
        format!("{request_id}.approval-request.yaml")
    }

    /// The `reply` section for request `request_id` of run `run_id`.
    pub fn reply_section(
        request_id: &str,
        run_id: &str,
        task_ref: &str,
        token: &str,
        approver: &str,
        outbox_rel: &str,
    ) -> RequestReply {
        RequestReply {
            folder: outbox_rel.to_string(),
            file: format!("{request_id}.approval.yaml"),
            how:
                "Write a YAML file of this form under a name starting with '.', then rename it to \
                  the name in `file` in `folder`. decision is `approve` or `reject` (a rejection \
                  needs a `reason`). The file must be yours (see station.yaml) and not writable by \
                  group or others. When station.yaml gives the approver a `key`, the approval \
                  must be signed: run the commands with `--key FILE`. Or run one of `commands`."
                    .to_string(),
            commands: vec![
                format!("3ox approve {run_id} {task_ref} --comment '...'"),
                format!("3ox reject {run_id} {task_ref} --reason '...'"),
            ],
            form: Approval {
                version: APPROVAL_VERSION,
                kind: APPROVAL_KIND.to_string(),
                request_id: request_id.to_string(),
                token: Some(token.to_string()),
                decision: Decision::Approve,
                by: Some(approver.to_string()),
                comment: Some(String::new()),
                reason: None,
                run_id: Some(run_id.to_string()),
                signature: None,
            },
        }
    }

    pub fn to_yaml(&self) -> String {
        super::yaml::to_string(self).expect("a request always serialises")
    }

    /// Reads a request file.
    pub fn read(path: &Path) -> Result<ApprovalRequest, String> {
        let text = read_limited(path)?;
        super::yaml::check(&text)?;
        serde_yaml::from_str(&text).map_err(|e| format!("not an approval request: {e}"))
    }
}

/// `station.yaml`: station-wide settings (today: who may approve).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationConfig {
    #[serde(default = "one")]
    pub version: u32,
    /// Per approver (agent name): the uids whose approval files count.
    #[serde(default)]
    pub approvers: BTreeMap<String, ApproverEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproverEntry {
    #[serde(default)]
    pub users: Vec<u32>,
    /// The approver's Ed25519 public key (base64, from `3ox keygen`): when set, only
    /// approvals signed with its private key count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn one() -> u32 {
    1
}

impl StationConfig {
    /// Reads `station.yaml` at `root`; an absent file is the default (no entries).
    pub fn load(root: &Path) -> Result<StationConfig, String> {
        let path = root.join(STATION_CONFIG);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(StationConfig::default());
        }
        let text = read_limited(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        super::yaml::check(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let config: StationConfig =
            serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if config.version != 1 {
            return Err(format!(
                "{}: version {} is not supported; write version: 1",
                path.display(),
                config.version
            ));
        }
        for (approver, entry) in &config.approvers {
            if let Some(key) = &entry.key {
                signing::parse_public_key(key)
                    .map_err(|e| format!("{}: approvers.{approver}.key: {e}", path.display()))?;
            }
        }
        Ok(config)
    }

    /// The public key `approver`'s approvals must be signed with, if any. `load` has
    /// checked every key, so a key that does not parse here counts as a key nothing matches.
    pub fn approver_key(&self, approver: &str) -> Option<Result<VerifyingKey, String>> {
        self.approvers
            .get(approver)
            .and_then(|entry| entry.key.as_deref())
            .map(signing::parse_public_key)
    }

    /// Refuses an approval for `approver` that is not signed with the approver's key, when
    /// `station.yaml` gives one; without a key, signatures are not looked at.
    pub fn check_signature(&self, approver: &str, approval: &Approval) -> Result<(), String> {
        let Some(key) = self.approver_key(approver) else {
            return Ok(());
        };
        let key = key.map_err(|e| format!("station.yaml: approvers.{approver}.key: {e}"))?;
        signing::verify(approval, &key).map_err(|e| {
            format!(
                "{e}; station.yaml requires approvals for `{approver}` signed with its key: use `3ox approve`/`3ox reject` with `--key FILE`"
            )
        })
    }

    /// The uids allowed to decide for `approver`: its `users`, or else the owner of the
    /// station root. `None` where uids do not exist (not Unix).
    pub fn allowed_uids(&self, approver: &str, root: &Path) -> Option<Vec<u32>> {
        if let Some(entry) = self.approvers.get(approver)
            && !entry.users.is_empty()
        {
            return Some(entry.users.clone());
        }
        owner_uid(root).map(|uid| vec![uid])
    }
}

/// The uid owning `path` (Unix).
#[cfg(unix)]
pub fn owner_uid(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

#[cfg(not(unix))]
pub fn owner_uid(_path: &Path) -> Option<u32> {
    None
}

/// Refuses an approval file that anyone but an allowed user could have written: a symlink,
/// a file writable by group or others, a file owned by a uid not in `allowed`. On other
/// platforms than Unix only the symlink check is made (see `docs/security.md`).
pub fn check_file(path: &Path, allowed: Option<&[u32]>) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    check_meta(&meta, allowed)
}

/// [`check_file`] on metadata already taken: that of the open file that was read (see
/// [`read_mail_opened`]), so the check and the read are about the same file.
pub fn check_meta(meta: &std::fs::Metadata, allowed: Option<&[u32]>) -> Result<(), String> {
    if meta.file_type().is_symlink() {
        return Err("the approval file is a symlink; write the file itself".to_string());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let mode = meta.mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(format!(
                "the approval file is writable by group or others (mode {mode:o}); anyone could have written it: `chmod 644` it before moving it into the outbox"
            ));
        }
        if let Some(allowed) = allowed
            && !allowed.contains(&meta.uid())
        {
            return Err(format!(
                "the approval file is owned by uid {}, which may not approve here (allowed: {}; see station.yaml `approvers`)",
                meta.uid(),
                allowed
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = allowed;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_are_told_from_replies_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let approval = dir.path().join("a.yaml");
        std::fs::write(
            &approval,
            "version: 1\nkind: approval\nrequest_id: R1\ntoken: t\ndecision: approve\nby: me\n",
        )
        .unwrap();
        assert!(
            matches!(read_mail(&approval), Ok(Mail::Approval(a)) if a.decision == Decision::Approve)
        );
        let reply = dir.path().join("r.yaml");
        std::fs::write(&reply, "task_id: T1\nstatus: COMPLETED\n").unwrap();
        assert!(matches!(read_mail(&reply), Ok(Mail::Reply(_))));
        let bad = dir.path().join("b.yaml");
        std::fs::write(
            &bad,
            "version: 1\nkind: approval\nrequest_id: R1\ndecision: maybe\n",
        )
        .unwrap();
        let error = read_mail(&bad).unwrap_err();
        assert!(error.contains("`approve` or `reject`"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn files_others_could_write_are_refused() {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let me = std::fs::metadata(&file).unwrap().uid();
        assert_eq!(check_file(&file, Some(&[me])), Ok(()));
        let other = check_file(&file, Some(&[me + 1])).unwrap_err();
        assert!(other.contains("may not approve"), "{other}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(
            check_file(&file, Some(&[me]))
                .unwrap_err()
                .contains("writable by group or others")
        );
        let link = dir.path().join("l.yaml");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(
            check_file(&link, Some(&[me]))
                .unwrap_err()
                .contains("symlink")
        );
        let config: StationConfig =
            serde_yaml::from_str("version: 1\napprovers: {commander: {users: [7, 8]}}\n").unwrap();
        assert_eq!(
            config.allowed_uids("commander", dir.path()),
            Some(vec![7, 8])
        );
        assert_eq!(config.allowed_uids("other", dir.path()), Some(vec![me]));
    }

    #[test]
    fn an_approver_with_a_key_takes_only_approvals_signed_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = signing::generate().unwrap();
        let public = signing::public_key_text(&key.verifying_key());
        std::fs::write(
            dir.path().join(STATION_CONFIG),
            format!("version: 1\napprovers: {{commander: {{key: '{public}'}}}}\n"),
        )
        .unwrap();
        let config = StationConfig::load(dir.path()).unwrap();
        let mut approval = Approval::parse(
            "version: 1\nkind: approval\nrequest_id: R1\ntoken: t\ndecision: approve\nby: me\n",
        )
        .unwrap();
        let unsigned = config.check_signature("commander", &approval).unwrap_err();
        assert!(
            unsigned.contains("not signed") && unsigned.contains("--key"),
            "{unsigned}"
        );
        // Another approver without a key: signatures are not looked at.
        assert_eq!(config.check_signature("chief", &approval), Ok(()));
        approval.signature = Some(signing::sign(&approval, &signing::generate().unwrap()));
        assert!(
            config
                .check_signature("commander", &approval)
                .unwrap_err()
                .contains("does not verify")
        );
        approval.signature = Some(signing::sign(&approval, &key));
        assert_eq!(config.check_signature("commander", &approval), Ok(()));
        // A signed file reads back with its signature.
        assert_eq!(Approval::parse(&approval.to_yaml()), Ok(approval));
        // A key that is not one makes the whole file unreadable (no approval counts).
        std::fs::write(
            dir.path().join(STATION_CONFIG),
            "version: 1\napprovers: {commander: {key: 'not a key'}}\n",
        )
        .unwrap();
        let error = StationConfig::load(dir.path()).unwrap_err();
        assert!(error.contains("approvers.commander.key"), "{error}");
    }
}
