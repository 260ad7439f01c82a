//! Query strings as Docker reads them: repeated keys, and booleans where
//! "1", "true" and "True" are true (Go's strconv.ParseBool plus Docker's habits).

use crate::errdefs::EngineError;

#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Self {
        Query {
            pairs: form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's boolean query values (moby's httputils.BoolValue): absent,
    /// and, trimmed and in any case, "", "0", "false", "no" and "none" are
    /// false; anything else ("off" and "x" too) is true.
    pub fn flag(&self, key: &str) -> bool {
        match self.get(key) {
            None => false,
            Some(v) => !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "none"
            ),
        }
    }

    /// A JSON-valued parameter, read as `crate::gojson::from_param` reads
    /// them all (`null` is empty); the error is Go's decoder's message,
    /// which each caller words and categorises as dockerd does.
    pub fn json<T: serde::de::DeserializeOwned + Default>(&self, key: &str) -> Result<T, String> {
        crate::gojson::from_param(self.get(key))
    }

    /// An integer parameter; a malformed value is Docker's 400 with Go's
    /// `strconv.Atoi` message, as dockerd answers for `h` and `w` (resize).
    pub fn int(&self, key: &str) -> Result<Option<i64>, EngineError> {
        self.atoi(key).map_err(EngineError::InvalidParameter)
    }

    /// An integer parameter dockerd parses without categorising the error:
    /// a malformed value is 500 with Go's `strconv.Atoi` message
    /// (`containers/json?limit=x`, `stop?t=x`, `restart?t=x` in 20.10.24).
    pub fn int_uncategorised(&self, key: &str) -> Result<Option<i64>, EngineError> {
        self.atoi(key).map_err(EngineError::System)
    }

    fn atoi(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => crate::filters::go_parse("Atoi", v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_repeats() {
        let q = Query::parse("all=1&force=false&names=a&names=b%2Fc&v=True&n=5");
        assert!(q.flag("all"));
        assert!(!q.flag("force"));
        assert!(q.flag("v"));
        assert!(!q.flag("missing"));
        // dockerd 20.10.24's container list: all=off and all=x list all,
        // all=none and all=%200 do not.
        let b = Query::parse("a=off&b=x&c=none&d=%200&e=NO");
        assert!(b.flag("a") && b.flag("b"));
        assert!(!b.flag("c") && !b.flag("d") && !b.flag("e"));
        assert_eq!(q.all("names"), vec!["a", "b/c"]);
        assert_eq!(q.int("n").unwrap(), Some(5));
        // dockerd 20.10.24: 400 {"message":"strconv.Atoi: parsing \"x\": invalid syntax"}
        assert_eq!(
            Query::parse("n=x").int("n").unwrap_err().to_string(),
            "strconv.Atoi: parsing \"x\": invalid syntax"
        );
        // dockerd 20.10.24: containers/json?limit=x is 500 with the same message.
        assert!(matches!(
            Query::parse("limit=x").int_uncategorised("limit"),
            Err(EngineError::System(m)) if m == "strconv.Atoi: parsing \"x\": invalid syntax"
        ));
    }
}
