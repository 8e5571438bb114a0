//! How 3ox authenticates to a Conductor server.
//!
//! Conductor OSS without security needs nothing. Orkes-style servers take an application's
//! key id and secret at `POST /api/token` (`{"keyId", "keySecret"}`) and answer
//! `{"token": ...}`; every call then carries the token in the `X-Authorization` header. A
//! token given as is (`--token`) is sent the same way.

/// What the caller gave to prove who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No authentication (Conductor OSS without security).
    None,
    /// A token sent as `X-Authorization`.
    Token(String),
    /// A key id and secret, exchanged for a token at `/api/token`.
    KeySecret { key: String, secret: String },
}

impl Auth {
    /// The auth the command line asked for; a key without its secret (or the other way round)
    /// is refused.
    pub fn from_flags(
        key: Option<String>,
        secret: Option<String>,
        token: Option<String>,
    ) -> Result<Auth, String> {
        match (key, secret, token) {
            (None, None, None) => Ok(Auth::None),
            (None, None, Some(token)) => Ok(Auth::Token(token)),
            (Some(key), Some(secret), None) => Ok(Auth::KeySecret { key, secret }),
            (Some(_), None, _) => Err("--key needs --secret".into()),
            (None, Some(_), _) => Err("--secret needs --key".into()),
            (Some(_), Some(_), Some(_)) => Err("give --token or --key/--secret, not both".into()),
        }
    }

    /// The body of the token request, for [`Auth::KeySecret`].
    pub fn token_request(&self) -> Option<serde_json::Value> {
        match self {
            Auth::KeySecret { key, secret } => {
                Some(serde_json::json!({"keyId": key, "keySecret": secret}))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_make_one_kind_of_auth() {
        assert_eq!(Auth::from_flags(None, None, None), Ok(Auth::None));
        assert_eq!(
            Auth::from_flags(None, None, Some("t".into())),
            Ok(Auth::Token("t".into()))
        );
        assert!(Auth::from_flags(Some("k".into()), None, None).is_err());
        assert!(Auth::from_flags(Some("k".into()), Some("s".into()), Some("t".into())).is_err());
        let auth = Auth::from_flags(Some("k".into()), Some("s".into()), None).unwrap();
        assert_eq!(auth.token_request().unwrap()["keyId"], "k");
    }
}
